//! `injector-pack` end to end (issue 5): what a user sees of the real binary.
//!
//! - the same input packed twice gives the same chunks and digest;
//! - the payload is the merged layout, deterministic, with names the injector serves;
//! - the Kubernetes YAML parses and holds every chunk byte for byte;
//! - a round trip: layouts and docker-archives packed, unpacked and served by the real
//!   `zarf-injector`, every image pulled back (skopeo when installed) with its digest;
//! - each bad input fails with one clear line and leaves no chunk behind.

mod common;
mod pack_support;
#[allow(dead_code)] // shared with tests/registry.rs, which uses all of it
#[path = "common/registry_layout.rs"]
mod registry_layout;

use common::*;
use pack_support::*;
use registry_layout::build_registry_layout;
use serde::Deserialize;
use std::fs;
use std::path::Path;

fn s(path: &Path) -> &str {
    path.to_str().expect("UTF-8 temp path")
}

// ----------------------------------------------------------------------------------------------
// Determinism

#[test]
fn same_input_packed_twice_gives_identical_chunks_and_digest() {
    let tmp = TempDir::new("pack-twice");
    build_layout(&tmp.join("layout"), &LayoutOptions::DEFAULT);
    build_docker_archive(&tmp.join("docker.tar"), 7, Damage::None);
    let chunk = "300000";
    let (first, digest) = pack_ok(&[
        s(&tmp.join("layout")),
        s(&tmp.join("docker.tar")),
        "--out",
        s(&tmp.join("out1")),
        "--chunk-size",
        chunk,
    ]);
    // A copy elsewhere, with other mtimes and permissions, packs to the same bytes.
    let copy = tmp.join("copy");
    copy_tree(&tmp.join("layout"), &copy);
    fs::copy(tmp.join("docker.tar"), tmp.join("docker-copy.tar")).expect("copy archive");
    let (_, again) = pack_ok(&[
        s(&copy),
        s(&tmp.join("docker-copy.tar")),
        "--out",
        s(&tmp.join("out2")),
        "--chunk-size",
        chunk,
        "--quiet",
    ]);
    assert_eq!(digest, again, "same input, different digest");
    let (one, two) = (chunks(&tmp.join("out1")), chunks(&tmp.join("out2")));
    assert!(one.len() >= 3, "expected several chunks: {}", one.len());
    assert_eq!(one, two, "same input, different chunks");

    // Chunk sizes, names, the checksum file and the digest all agree.
    let names: Vec<&str> = one.iter().map(|(n, _)| n.as_str()).collect();
    let want: Vec<String> = (0..one.len())
        .map(|i| format!("zarf-payload-{i:03}"))
        .collect();
    assert_eq!(names, want);
    let (last, full) = one.split_last().expect("chunks");
    assert!(
        full.iter().all(|(_, b)| b.len() == 300_000),
        "a middle chunk is short"
    );
    assert!(!last.1.is_empty() && last.1.len() <= 300_000);
    assert_eq!(sha256_hex(&payload(&tmp.join("out1"))), digest);
    let file = fs::read_to_string(tmp.join("out1/payload.sha256")).expect("payload.sha256");
    assert_eq!(file.trim(), digest);
    assert!(first.stdout.contains("images: 4"), "{}", first.stdout);
}

fn copy_tree(from: &Path, to: &Path) {
    for (path, bytes) in files(from) {
        let target = to.join(path);
        fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        fs::write(&target, bytes).expect("write copy");
    }
}

#[test]
fn payload_is_the_merged_layout_with_fixed_metadata() {
    let tmp = TempDir::new("pack-payload");
    let layout = build_layout(&tmp.join("layout"), &LayoutOptions::TINY);
    // The same layout again as a gzip'd tar: every blob is shared, nothing is doubled.
    tar_gz_dir(
        &tmp.join("layout"),
        &tmp.join("layout.tar.gz"),
        6,
        &TarOptions::PLAIN,
    );
    let docker = build_docker_archive(&tmp.join("docker.tar"), 3, Damage::None);
    let out = tmp.join("out");
    let (exit, _) = pack_ok(&[
        s(&tmp.join("layout")),
        s(&tmp.join("layout.tar.gz")),
        s(&tmp.join("docker.tar")),
        "--out",
        s(&out),
    ]);
    let entries = payload_entries(&out);
    let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted, "entries are not in sorted order");
    assert_eq!(paths.first(), Some(&"blobs/"));
    assert_eq!(paths.last(), Some(&"oci-layout"));
    for entry in &entries {
        let mode = if entry.kind.is_dir() { 0o755 } else { 0o644 };
        let fixed = (entry.mode, entry.uid, entry.gid, entry.mtime);
        assert_eq!(fixed, (mode, 0, 0, 0), "{}", entry.path);
        if let Some(hex) = entry.path.strip_prefix("blobs/sha256/") {
            if !hex.is_empty() {
                assert_eq!(sha256_hex(&entry.data), hex, "blob content ≠ its name");
            }
        }
    }
    // Every source blob once; the docker-archive's configs kept byte for byte.
    for blob in &layout.blobs {
        let count = paths.iter().filter(|p| p.ends_with(blob.hex())).count();
        assert_eq!(count, 1, "{} stored {count} times", blob.digest);
    }
    for image in &docker {
        let hex = image.config_digest.trim_start_matches("sha256:");
        assert!(paths.contains(&format!("blobs/sha256/{hex}").as_str()));
    }
    // One index.json: full reference and Zarf's base name for every name, no duplicates.
    let names = index_names(&payload_index(&out));
    let app = &layout.images[0].manifest.digest;
    let multi = &layout.images[1].manifest.digest;
    let want = [
        ("library/app:1.0", "docker.io/library/app:1.0", app),
        (
            "example/multi:latest",
            "ghcr.io/example/multi:latest",
            multi,
        ),
    ];
    for (base, full, digest) in want {
        let found = names.iter().filter(|n| n.0 == base).collect::<Vec<_>>();
        assert_eq!(
            found,
            [&(base.into(), full.into(), digest.clone())],
            "{names:?}"
        );
    }
    for base in [
        "library/handmade:1.0",
        "library/handmade:2.0",
        "team/handmade:2",
    ] {
        assert!(
            names.iter().any(|n| n.0 == base),
            "{base} missing: {names:?}"
        );
    }
    assert_eq!(names.len(), 5, "{names:?}");
    assert!(exit.stdout.contains("shared"), "{}", exit.stdout);
}

// ----------------------------------------------------------------------------------------------
// Kubernetes manifests

/// Every document of a YAML stream, as JSON values.
fn yaml_documents(text: &str) -> Vec<serde_json::Value> {
    serde_norway::Deserializer::from_str(text)
        .map(|doc| serde_json::Value::deserialize(doc).expect("YAML document parses"))
        .collect()
}

fn b64(text: &serde_json::Value) -> Vec<u8> {
    use base64::Engine as _;
    let text = text.as_str().expect("base64 string");
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("valid base64")
}

#[test]
fn k8s_yaml_parses_and_holds_every_chunk_byte_for_byte() {
    let tmp = TempDir::new("pack-k8s");
    build_layout(&tmp.join("layout"), &LayoutOptions::DEFAULT);
    // The debug build is bigger than a ConfigMap holds: ship its first 256 KiB (the ELF headers
    // that the packer's warnings read are at the start).
    let real = fs::read(env!("CARGO_BIN_EXE_zarf-injector")).expect("read injector");
    let injector_path = tmp.join("zarf-injector");
    fs::write(&injector_path, &real[..real.len().min(256 << 10)]).expect("write");
    let injector = s(&injector_path);
    let source = tmp.join("layout");
    for daemonset in [false, true] {
        let out = tmp.join(if daemonset { "ds" } else { "pod" });
        let yaml = out.join("injector.yaml");
        let mut args = vec![
            s(&source),
            "--out",
            s(&out),
            "--chunk-size",
            "400000",
            "--k8s",
            s(&yaml),
            "--injector",
            injector,
            "--pod-image",
            "registry.k8s.io/pause:3.10",
            "--namespace",
            "seed",
            "--port",
            "5001",
        ];
        if daemonset {
            args.push("--daemonset");
        }
        let (exit, digest) = pack_ok(&args);
        // The test build of the injector is dynamically linked: the user is warned.
        assert!(
            exit.stderr.contains("dynamically linked"),
            "{}",
            exit.stderr
        );
        let docs = yaml_documents(&fs::read_to_string(&yaml).expect("read YAML"));
        let chunks = chunks(&out);
        check_configmaps(&docs, &chunks, injector, &digest[..12]);
        let workload = docs.last().expect("documents");
        let spec = if daemonset {
            check_daemonset(workload, &digest[..12]);
            &workload["spec"]["template"]["spec"]
        } else {
            let (pod, service) = (&docs[docs.len() - 2], workload);
            assert_eq!(pod["kind"], "Pod");
            assert_eq!(
                pod["metadata"]["name"],
                format!("injector-{}", &digest[..12])
            );
            assert_eq!(pod["spec"]["restartPolicy"], "Never");
            check_service(service, &digest[..12]);
            &pod["spec"]
        };
        check_pod_spec(spec, &digest, &chunks);
        let kinds = docs.len() - chunks.len();
        assert_eq!(kinds, if daemonset { 2 } else { 3 }, "extra objects");
        for doc in &docs {
            assert_eq!(doc["metadata"]["namespace"], "seed");
            assert_eq!(
                doc["metadata"]["labels"]["app.kubernetes.io/part-of"],
                "zarf-injector"
            );
        }
    }
}

/// Chunk `zarf-payload-NNN` is the key `zarf-payload-NNN` of the ConfigMap
/// `zarf-payload-<short>-NNN` (issue 13: names carry the payload's short digest).
fn check_configmaps(
    docs: &[serde_json::Value],
    chunks: &[(String, Vec<u8>)],
    injector: &str,
    short: &str,
) {
    assert!(chunks.len() >= 3, "{} chunks", chunks.len());
    for (doc, (name, bytes)) in docs.iter().zip(chunks) {
        assert_eq!(
            (doc["kind"].as_str(), doc["apiVersion"].as_str()),
            (Some("ConfigMap"), Some("v1"))
        );
        let number = name.trim_start_matches("zarf-payload-");
        assert_eq!(
            doc["metadata"]["name"],
            format!("zarf-payload-{short}-{number}")
        );
        assert_eq!(doc["metadata"]["labels"]["zarf-injector"], "payload");
        assert_eq!(doc["metadata"]["labels"]["zarf-injector/payload"], short);
        assert!(b64(&doc["binaryData"][name]) == *bytes, "{name} differs");
    }
    let binary = &docs[chunks.len()];
    assert_eq!(binary["metadata"]["name"], format!("rust-binary-{short}"));
    let shipped = b64(&binary["binaryData"]["zarf-injector"]);
    assert!(
        shipped == fs::read(injector).expect("read injector"),
        "binary differs"
    );
}

fn check_pod_spec(spec: &serde_json::Value, digest: &str, chunks: &[(String, Vec<u8>)]) {
    let container = &spec["containers"][0];
    let command = serde_json::json!(["/zarf-init/zarf-injector", digest, "0.0.0.0:5001"]);
    assert_eq!(container["command"], command);
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/v2/");
    assert_eq!(container["readinessProbe"]["httpGet"]["port"], 5001);
    let security = &container["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert_eq!(spec["securityContext"]["runAsUser"], 1000);
    assert_eq!(
        spec["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    assert!(container["resources"]["limits"]["memory"].is_string());
    // Issue 13: a failed injector's one line shows in `kubectl describe`, not only in the logs.
    assert_eq!(
        container["terminationMessagePolicy"],
        "FallbackToLogsOnError"
    );
    assert!(spec["terminationGracePeriodSeconds"].as_u64() <= Some(10));
    let env = serde_json::json!([
        {"name": "ZARF_INJECTOR_INIT_ROOT", "value": "/zarf-init"},
        {"name": "ZARF_INJECTOR_SEED_ROOT", "value": "/zarf-seed"},
    ]);
    assert_eq!(container["env"], env);
    let volumes = spec["volumes"].as_array().expect("volumes");
    let mounts = container["volumeMounts"].as_array().expect("mounts");
    assert_eq!(volumes[0]["configMap"]["defaultMode"], 0o777);
    assert_eq!(mounts[0]["mountPath"], "/zarf-init/zarf-injector");
    assert_eq!(volumes[1]["emptyDir"], serde_json::json!({}));
    assert_eq!(mounts[1]["mountPath"], "/zarf-seed");
    let short = &digest[..12];
    assert_eq!(
        volumes[0]["configMap"]["name"],
        format!("rust-binary-{short}")
    );
    for (name, _) in chunks {
        let volume = volumes.iter().find(|v| v["name"] == name.as_str());
        let volume = volume.unwrap_or_else(|| panic!("no volume for {name}"));
        let number = name.trim_start_matches("zarf-payload-");
        let configmap = format!("zarf-payload-{short}-{number}");
        assert_eq!(volume["configMap"]["name"], configmap);
        let mount = mounts.iter().find(|m| m["name"] == name.as_str());
        let mount = mount.unwrap_or_else(|| panic!("no mount for {name}"));
        assert_eq!(mount["mountPath"], format!("/zarf-init/{name}"));
        assert_eq!(mount["subPath"], name.as_str());
    }
}

fn check_service(service: &serde_json::Value, short: &str) {
    assert_eq!(service["kind"], "Service");
    assert_eq!(service["metadata"]["name"], "zarf-injector");
    assert_eq!(service["spec"]["type"], "NodePort");
    assert_eq!(service["spec"]["selector"]["app"], "zarf-injector");
    assert_eq!(service["spec"]["selector"]["zarf-injector/payload"], short);
    assert_eq!(service["spec"]["ports"][0]["targetPort"], 5001);
}

fn check_daemonset(daemonset: &serde_json::Value, short: &str) {
    assert_eq!(daemonset["kind"], "DaemonSet");
    assert_eq!(daemonset["apiVersion"], "apps/v1");
    assert_eq!(
        daemonset["metadata"]["name"],
        format!("zarf-injector-{short}")
    );
    let template = &daemonset["spec"]["template"];
    assert_eq!(template["metadata"]["labels"]["app"], "zarf-injector");
    assert_eq!(
        daemonset["spec"]["selector"]["matchLabels"]["zarf-injector/payload"],
        short
    );
    assert_eq!(
        daemonset["spec"]["selector"]["matchLabels"]["app"],
        "zarf-injector"
    );
    let port = &template["spec"]["containers"][0]["ports"][0];
    assert_eq!(
        (port["hostIP"].as_str(), port["hostPort"].as_u64()),
        (Some("127.0.0.1"), Some(5001))
    );
    assert_eq!(template["spec"]["tolerations"][0]["operator"], "Exists");
}

// ----------------------------------------------------------------------------------------------
// Round trip: pack, unpack and serve with the real injector, pull every image back

/// `GET /v2/NAME/manifests/REF` accepting every manifest type: (status, digest header, body).
fn get_manifest(addr: std::net::SocketAddr, name: &str) -> (u16, String, Vec<u8>) {
    let (repository, reference) = name.rsplit_once(':').expect("name:tag");
    let request = format!(
        "GET /v2/{repository}/manifests/{reference} HTTP/1.1\r\nHost: {addr}\r\n\
         Accept: {MANIFEST}, {INDEX}, application/vnd.docker.distribution.manifest.v2+json, \
         application/vnd.docker.distribution.manifest.list.v2+json\r\nConnection: close\r\n\r\n"
    );
    let response = http_exchange(addr, request.as_bytes(), true);
    let digest = response
        .header("Docker-Content-Digest")
        .unwrap_or_default()
        .to_string();
    (response.status, digest, response.body)
}

#[test]
fn round_trip_layouts_and_docker_archives_through_the_injector() {
    let tmp = TempDir::new("pack-round-trip");
    // An OCI layout directory: a single-platform image and a multi-arch index.
    let layout = build_layout(&tmp.join("layout"), &LayoutOptions::TINY);
    // An OCI layout tar: Docker schema2, an artifact with a subject, Zarf's base.name only,
    // containerd's name only, and an image with two tags.
    let registry = build_registry_layout(&tmp.join("registry"));
    tar_dir(
        &tmp.join("registry"),
        &tmp.join("registry.tar"),
        &TarOptions::PLAIN,
    );
    // docker-archives: a hand-made legacy `docker save`, and skopeo's when it is installed.
    let handmade = build_docker_archive(&tmp.join("handmade.tar"), 11, Damage::None);
    let skopeo_archive = tmp.join("skopeo.tar");
    let with_skopeo = skopeo_available();
    if with_skopeo {
        let from = format!("oci:{}:docker.io/library/app:1.0", s(&tmp.join("layout")));
        let to = format!("docker-archive:{}:skopeo/app:1.0", s(&skopeo_archive));
        skopeo(tmp.path(), &["copy", &from, &to]);
    } else {
        eprintln!("skopeo not installed: docker-archive from skopeo and skopeo pulls skipped");
    }
    let out = tmp.join("out");
    let sources = [
        tmp.join("layout"),
        tmp.join("registry.tar"),
        tmp.join("handmade.tar"),
    ];
    let mut args: Vec<&str> = sources.iter().map(|p| s(p)).collect();
    if with_skopeo {
        args.push(s(&skopeo_archive));
    }
    args.extend(["--out", s(&out)]);
    let (exit, digest) = pack_ok(&args);

    // The packer's own summary names every image with its manifest digest.
    let packed_digest = |name: &str| -> String {
        let line = exit.stdout.lines().find(|l| {
            l.split_whitespace()
                .any(|w| w.trim_end_matches(',') == name)
        });
        let line = line.unwrap_or_else(|| panic!("{name} not in summary:\n{}", exit.stdout));
        line.split_whitespace().last().expect("digest").to_string()
    };
    let mut expected: Vec<(String, String)> = vec![
        (
            "library/app:1.0".into(),
            layout.images[0].manifest.digest.clone(),
        ),
        (
            "example/multi:latest".into(),
            layout.images[1].manifest.digest.clone(),
        ),
        (
            "library/hello:1.0".into(),
            registry.get("hello").digest.clone(),
        ),
        (
            "library/hello:latest".into(),
            registry.get("hello").digest.clone(),
        ),
        ("team/multi:v1".into(), registry.get("multi").digest.clone()),
        (
            "team/nested/app:2.0".into(),
            registry.get("app").digest.clone(),
        ),
        (
            "library/registry:2.8.2".into(),
            registry.get("registry").digest.clone(),
        ),
    ];
    let converted = [
        "library/handmade:1.0",
        "library/handmade:2.0",
        "team/handmade:2",
    ];
    expected.extend(converted.iter().map(|n| (n.to_string(), packed_digest(n))));
    if with_skopeo {
        expected.push(("skopeo/app:1.0".into(), packed_digest("skopeo/app:1.0")));
    }

    let seed = tmp.join("seed");
    let running = run_injector(&digest, &out, &seed);
    for (name, want) in &expected {
        let (status, got, _) = get_manifest(running.addr, name);
        assert_eq!(
            (status, got.as_str()),
            (200, want.as_str()),
            "GET manifest {name}"
        );
    }
    if !with_skopeo {
        return;
    }
    for (i, (name, want)) in expected.iter().enumerate() {
        let dest = tmp.join(format!("pulled-{i}"));
        let from = format!("docker://{}/{name}", running.addr);
        let to = format!("oci:{}:pulled", s(&dest));
        skopeo(
            tmp.path(),
            &[
                "copy",
                "--all",
                "--preserve-digests",
                "--src-tls-verify=false",
                &from,
                &to,
            ],
        );
        assert_eq!(&layout_digest(&dest), want, "pulled {name}");
    }
    // A converted image keeps its config (image ID) and layer contents (diff_ids).
    let pulled_handmade = tmp.join(format!("pulled-{}", expected.len() - converted.len() - 1));
    let manifest: serde_json::Value = serde_json::from_slice(&layout_blob(
        &pulled_handmade,
        &layout_digest(&pulled_handmade),
    ))
    .expect("manifest JSON");
    assert_eq!(
        manifest["config"]["digest"],
        handmade[0].config_digest.as_str()
    );
    for (layer, diff_id) in manifest["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .zip(&handmade[0].diff_ids)
    {
        let gz = layout_blob(&pulled_handmade, layer["digest"].as_str().expect("digest"));
        let mut tar = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz.as_slice()), &mut tar)
            .expect("gunzip layer");
        assert_eq!(format!("sha256:{}", sha256_hex(&tar)), *diff_id);
    }
}

// ----------------------------------------------------------------------------------------------
// Bad input

struct Case {
    name: &'static str,
    /// Prepares the inputs in the temp dir; returns the arguments after the program name.
    setup: fn(&Path) -> Vec<String>,
    /// What the one stderr line must contain.
    want: &'static str,
}

fn layout_args(dir: &Path) -> Vec<String> {
    vec![
        s(&dir.join("layout")).into(),
        "--out".into(),
        s(&dir.join("out")).into(),
    ]
}

fn with_layout(dir: &Path) -> Layout {
    build_layout(&dir.join("layout"), &LayoutOptions::TINY)
}

const CASES: &[Case] = &[
    Case {
        name: "a directory that is not a layout",
        setup: |dir| {
            fs::create_dir_all(dir.join("layout")).expect("mkdir");
            layout_args(dir)
        },
        want: "layout: not an image source: a directory without oci-layout",
    },
    Case {
        name: "a file that is not a tar",
        setup: |dir| {
            fs::write(dir.join("layout"), "hello").expect("write");
            layout_args(dir)
        },
        want: "not an image source: neither a directory, a tar nor a gzip'd tar",
    },
    Case {
        name: "a tar that is neither a layout nor a docker-archive",
        setup: |dir| {
            fs::create_dir_all(dir.join("files")).expect("mkdir");
            fs::write(dir.join("files/readme"), "hello").expect("write");
            tar_dir(&dir.join("files"), &dir.join("layout"), &TarOptions::PLAIN);
            layout_args(dir)
        },
        want: "neither an OCI layout nor a docker-archive",
    },
    Case {
        name: "a missing source",
        setup: layout_args,
        want: "layout: cannot open source",
    },
    Case {
        name: "index.json is not JSON",
        setup: |dir| {
            with_layout(dir);
            fs::write(dir.join("layout/index.json"), "{").expect("write");
            layout_args(dir)
        },
        want: "index.json: not JSON",
    },
    Case {
        name: "a missing layer",
        setup: |dir| {
            let layout = with_layout(dir);
            let layer = &layout.images[1].layers[0];
            fs::remove_file(layer.path(&dir.join("layout"))).expect("remove");
            layout_args(dir)
        },
        want: "blob is missing",
    },
    Case {
        name: "a corrupt layer (same size)",
        setup: |dir| {
            let layout = with_layout(dir);
            let path = layout.images[0].layers[0].path(&dir.join("layout"));
            let mut bytes = fs::read(&path).expect("read");
            bytes[100] ^= 1;
            fs::write(&path, bytes).expect("write");
            layout_args(dir)
        },
        want: "blob is corrupt: its content does not hash to sha256:",
    },
    Case {
        name: "a truncated layer",
        setup: |dir| {
            let layout = with_layout(dir);
            let path = layout.images[0].layers[0].path(&dir.join("layout"));
            let bytes = fs::read(&path).expect("read");
            fs::write(&path, &bytes[..bytes.len() - 1]).expect("write");
            layout_args(dir)
        },
        want: "blob is corrupt: ",
    },
    Case {
        name: "a corrupt manifest",
        setup: |dir| {
            let layout = with_layout(dir);
            let path = layout.images[1].children[1].path(&dir.join("layout"));
            let text = fs::read_to_string(&path).expect("read");
            fs::write(&path, text.replacen('2', "3", 1)).expect("write");
            layout_args(dir)
        },
        want: "blob is corrupt: its content does not hash to",
    },
    Case {
        name: "a docker-archive layer that does not match its diff_id",
        setup: |dir| {
            build_docker_archive(&dir.join("layout"), 5, Damage::DiffId);
            layout_args(dir)
        },
        want: "but the config's diff_ids say sha256:",
    },
    Case {
        name: "an unknown --image",
        setup: |dir| {
            with_layout(dir);
            let mut args = layout_args(dir);
            args.extend(["--image".into(), "app:2.0".into()]);
            args
        },
        want: "--image app:2.0: no such image in the sources (they hold: library/app:1.0, example/multi:latest)",
    },
    Case {
        name: "one name for two images",
        setup: |dir| {
            with_layout(dir);
            build_layout(&dir.join("other"), &LayoutOptions { seed: 9, ..LayoutOptions::TINY });
            let mut args = layout_args(dir);
            args.push(s(&dir.join("other")).into());
            args
        },
        want: "library/app:1.0: names two different images: sha256:",
    },
    Case {
        name: "--out is a file",
        setup: |dir| {
            with_layout(dir);
            fs::write(dir.join("out"), "a file").expect("write");
            layout_args(dir)
        },
        want: "out: cannot create the output directory",
    },
    Case {
        name: "--out under a file",
        setup: |dir| {
            with_layout(dir);
            fs::write(dir.join("file"), "a file").expect("write");
            vec![s(&dir.join("layout")).into(), "--out".into(), s(&dir.join("file/out")).into()]
        },
        want: "file/out: cannot create the output directory",
    },
    Case {
        name: "a missing --injector",
        setup: |dir| {
            with_layout(dir);
            let mut args = layout_args(dir);
            let rest = ["--k8s", "k.yaml", "--injector", "/nonexistent/zarf-injector", "--pod-image", "pause"];
            args.extend(rest.map(String::from));
            args
        },
        want: "/nonexistent/zarf-injector: cannot read",
    },
];

#[test]
fn bad_input_fails_with_one_clear_line_and_no_chunks() {
    run_cases(
        CASES,
        |c| c.name,
        |case| {
            let tmp = TempDir::new("pack-bad");
            let mut args = (case.setup)(tmp.path());
            args.push("--quiet".into());
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let exit = pack(&args);
            let name = case.name;
            assert_eq!(exit.status.code(), Some(1), "{name}: {exit:#?}");
            let lines: Vec<&str> = exit.stderr.lines().collect();
            assert_eq!(lines.len(), 1, "{name}: not one line: {}", exit.stderr);
            assert!(
                lines[0].starts_with("injector-pack: "),
                "{name}: {}",
                lines[0]
            );
            assert!(
                lines[0].contains(case.want),
                "{name}: {:?} lacks {:?}",
                lines[0],
                case.want
            );
            assert!(!exit.stderr.contains("panicked"), "{name}");
            assert!(exit.stdout.is_empty(), "{name}: {}", exit.stdout);
            let out = tmp.join("out");
            if out.is_dir() {
                let left: Vec<_> = fs::read_dir(&out)
                    .expect("read out")
                    .flatten()
                    .map(|e| e.file_name())
                    .collect();
                assert!(left.is_empty(), "{name}: left behind {left:?}");
            }
        },
    );
}

#[test]
fn a_failure_while_writing_removes_the_chunks_already_written() {
    let tmp = TempDir::new("pack-partial");
    let layout = build_layout(&tmp.join("layout"), &LayoutOptions::DEFAULT);
    let out = tmp.join("out");
    pack_ok(&[
        s(&tmp.join("layout")),
        "--out",
        s(&out),
        "--chunk-size",
        "100000",
    ]);
    assert!(chunks(&out).len() > 5);
    // The last blob in digest order is copied last: corrupt it, so chunks exist when it fails.
    let last = layout
        .blobs
        .iter()
        .map(|b| b.digest.clone())
        .max()
        .expect("blobs");
    let blob = layout
        .blobs
        .iter()
        .find(|b| b.digest == last)
        .expect("blob");
    let path = blob.path(&tmp.join("layout"));
    let mut bytes = fs::read(&path).expect("read");
    let end = bytes.len() - 1;
    bytes[end] ^= 0xff;
    fs::write(&path, bytes).expect("write");
    let exit = pack(&[
        s(&tmp.join("layout")),
        "--out",
        s(&out),
        "--chunk-size",
        "100000",
    ]);
    assert_eq!(exit.status.code(), Some(1), "{exit:#?}");
    assert!(exit.stderr.contains(blob.hex()), "{}", exit.stderr);
    assert!(chunks(&out).is_empty(), "chunks left behind");
    assert!(!out.join("payload.sha256").exists());
}

// ----------------------------------------------------------------------------------------------
// Selection, progress, help

#[test]
fn image_selects_only_the_named_images_and_their_blobs() {
    let tmp = TempDir::new("pack-select");
    let layout = with_layout(tmp.path());
    let out = tmp.join("out");
    let (exit, _) = pack_ok(&[
        s(&tmp.join("layout")),
        "--out",
        s(&out),
        "--image",
        "ghcr.io/example/multi",
    ]);
    assert!(exit.stdout.contains("images: 1"), "{}", exit.stdout);
    let names = index_names(&payload_index(&out));
    assert_eq!(names.len(), 1);
    assert_eq!(names[0].0, "example/multi:latest");
    let paths: Vec<String> = payload_entries(&out).into_iter().map(|e| e.path).collect();
    for layer in &layout.images[0].layers {
        assert!(
            !paths.iter().any(|p| p.ends_with(layer.hex())),
            "app's layer packed"
        );
    }
    for layer in &layout.images[1].layers {
        assert!(
            paths.iter().any(|p| p.ends_with(layer.hex())),
            "multi's layer missing"
        );
    }
}

#[test]
fn progress_is_plain_lines_without_a_terminal_and_silent_with_quiet() {
    let tmp = TempDir::new("pack-progress");
    let options = LayoutOptions {
        big_layer: 40 << 20,
        ..LayoutOptions::TINY
    };
    build_layout(&tmp.join("layout"), &options);
    let (exit, _) = pack_ok(&[s(&tmp.join("layout")), "--out", s(&tmp.join("out"))]);
    assert!(
        !exit.stderr.contains('\r') && !exit.stderr.contains('\x1b'),
        "{:?}",
        exit.stderr
    );
    for want in [
        "reading ",
        "writing payload: 4",
        "writing payload: 50% (",
        "writing payload: done in",
    ] {
        assert!(
            exit.stderr.contains(want),
            "{want:?} missing in:\n{}",
            exit.stderr
        );
    }
    let summary: Vec<&str> = exit.stdout.lines().collect();
    assert!(summary[0].starts_with("images: 2"), "{}", exit.stdout);
    assert!(
        summary.iter().any(|l| l.starts_with("payload: ")),
        "{}",
        exit.stdout
    );
    let (quiet, _) = pack_ok(&[s(&tmp.join("layout")), "--out", s(&tmp.join("out")), "-q"]);
    assert!(quiet.stderr.is_empty(), "{}", quiet.stderr);
}

#[test]
fn help_and_usage_errors() {
    let help = pack(&["--help"]);
    assert!(
        help.status.success() && help.stdout.contains("--chunk-size"),
        "{help:#?}"
    );
    let usage = pack(&["layout"]);
    assert_eq!(usage.status.code(), Some(2), "{usage:#?}");
    assert!(
        usage.stderr.contains("--out DIR is required"),
        "{}",
        usage.stderr
    );
}
