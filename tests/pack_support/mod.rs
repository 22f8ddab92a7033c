//! Helpers of the packer tests: running `injector-pack`, reading its chunks and payload back,
//! a hand-made `docker save` tarball, and the skopeo client.
#![allow(dead_code)]

use crate::common::{append_entry, gzip, run_to_exit, sha256_hex, Exit, Rng};
use flate2::read::GzDecoder;
use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// How long one packer run may take.
pub const PACK_TIMEOUT: Duration = Duration::from_secs(120);

/// `injector-pack ARGS...`, run to its exit.
pub fn pack(args: &[&str]) -> Exit {
    let mut command = Command::new(env!("CARGO_BIN_EXE_injector-pack"));
    command.args(args);
    run_to_exit(command, PACK_TIMEOUT)
}

/// `injector-pack ARGS...`, which must succeed; returns its stdout's last line (the digest).
pub fn pack_ok(args: &[&str]) -> (Exit, String) {
    let exit = pack(args);
    assert!(
        exit.status.success(),
        "injector-pack {args:?} failed: {exit:#?}"
    );
    let digest = exit.stdout.lines().last().unwrap_or_default().to_string();
    assert_eq!(
        digest.len(),
        64,
        "last stdout line is not a digest: {exit:#?}"
    );
    (exit, digest)
}

/// The `zarf-payload-N` files of `dir`, in numeric order, with their bytes.
pub fn chunks(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut numbered: Vec<(u64, String)> = fs::read_dir(dir)
        .expect("read out dir")
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            let number = name.strip_prefix("zarf-payload-")?.parse().ok()?;
            Some((number, name))
        })
        .collect();
    numbered.sort();
    numbered
        .into_iter()
        .map(|(_, name)| {
            let bytes = fs::read(dir.join(&name)).expect("read chunk");
            (name, bytes)
        })
        .collect()
}

/// The concatenated chunks.
pub fn payload(dir: &Path) -> Vec<u8> {
    chunks(dir)
        .into_iter()
        .flat_map(|(_, bytes)| bytes)
        .collect()
}

/// One entry of the payload tar.
#[derive(Debug)]
pub struct Entry {
    pub path: String,
    pub kind: tar::EntryType,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
    pub data: Vec<u8>,
}

/// Gunzips and untars the payload in `dir`.
pub fn payload_entries(dir: &Path) -> Vec<Entry> {
    let bytes = payload(dir);
    let mut archive = tar::Archive::new(GzDecoder::new(bytes.as_slice()));
    let mut out = Vec::new();
    for entry in archive.entries().expect("payload is a tar") {
        let mut entry = entry.expect("tar entry");
        let header = entry.header().clone();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).expect("read entry");
        out.push(Entry {
            path: entry.path().expect("path").to_string_lossy().into_owned(),
            kind: header.entry_type(),
            mode: header.mode().expect("mode"),
            uid: header.uid().expect("uid"),
            gid: header.gid().expect("gid"),
            mtime: header.mtime().expect("mtime"),
            data,
        });
    }
    out
}

/// `index.json` of the payload in `dir`.
pub fn payload_index(dir: &Path) -> serde_json::Value {
    let entries = payload_entries(dir);
    let index = entries
        .iter()
        .find(|e| e.path == "index.json")
        .expect("payload has index.json");
    serde_json::from_slice(&index.data).expect("index.json is JSON")
}

/// The (base.name, ref.name, digest) of every `index.json` entry.
pub fn index_names(index: &serde_json::Value) -> Vec<(String, String, String)> {
    let text = |v: &serde_json::Value, key: &str| v[key].as_str().unwrap_or_default().to_string();
    index["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .map(|entry| {
            let notes = &entry["annotations"];
            (
                text(notes, "org.opencontainers.image.base.name"),
                text(notes, "org.opencontainers.image.ref.name"),
                text(entry, "digest"),
            )
        })
        .collect()
}

// ----------------------------------------------------------------------------------------------
// A hand-made `docker save` tarball

/// An image of [`build_docker_archive`].
#[derive(Clone, Debug)]
pub struct DockerImage {
    /// Its `RepoTags`.
    pub tags: Vec<&'static str>,
    /// `sha256:<hex>` of its config file (the image ID).
    pub config_digest: String,
    /// The uncompressed layers' digests, bottom first.
    pub diff_ids: Vec<String>,
}

/// What is wrong in a [`build_docker_archive`] tarball, for failure tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Damage {
    /// Nothing.
    None,
    /// The second layer's `diff_id` in the first config is wrong.
    DiffId,
}

/// Writes a `docker save` (legacy format) tarball to `out`: `handmade:1.0` with two layers and
/// `handmade:2.0` sharing the first through a symbolic link (as old Docker wrote shared
/// layers) plus a layer stored gzip'd. `manifest.json` comes last, as `docker save` writes it.
pub fn build_docker_archive(out: &Path, seed: u64, damage: Damage) -> Vec<DockerImage> {
    let mut rng = Rng::new(seed);
    let layer = |rng: &mut Rng, name: &str| {
        let mut builder = tar::Builder::new(Vec::new());
        let content = rng.bytes(20_000);
        append_entry(&mut builder, name, tar::EntryType::Regular, &content);
        builder.into_inner().expect("layer tar")
    };
    let (one, two, three) = (
        layer(&mut rng, "etc/one"),
        layer(&mut rng, "etc/two"),
        layer(&mut rng, "etc/three"),
    );
    let three_gz = gzip(&three);
    let id = |n: u8| format!("{:064x}", u64::from(n) + seed * 1000);
    let diff = |bytes: &[u8]| format!("sha256:{}", sha256_hex(bytes));
    let mut first_ids = vec![diff(&one), diff(&two)];
    if damage == Damage::DiffId {
        first_ids[1] = diff(b"not the layer");
    }
    let second_ids = vec![diff(&one), diff(&three)];
    let config = |ids: &[String], cmd: &str| {
        let ids: Vec<String> = ids.iter().map(|d| format!("\"{d}\"")).collect();
        format!(
            "{{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{{\"Cmd\":[\"{cmd}\"]}},\
             \"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[{}]}}}}",
            ids.join(",")
        )
    };
    let (config1, config2) = (config(&first_ids, "/one"), config(&second_ids, "/two"));
    let (hex1, hex2) = (
        sha256_hex(config1.as_bytes()),
        sha256_hex(config2.as_bytes()),
    );
    let manifest = format!(
        "[{{\"Config\":\"{hex1}.json\",\"RepoTags\":[\"handmade:1.0\"],\"Layers\":[\"{a}/layer.tar\",\"{b}/layer.tar\"]}},\
          {{\"Config\":\"{hex2}.json\",\"RepoTags\":[\"handmade:2.0\",\"ghcr.io/team/handmade:2\"],\"Layers\":[\"{c}/layer.tar\",\"{d}/layer.tar\"]}}]",
        a = id(1),
        b = id(2),
        c = id(3),
        d = id(4),
    );
    let mut builder = tar::Builder::new(Vec::new());
    let files: Vec<(String, Vec<u8>)> = vec![
        (format!("{}/layer.tar", id(1)), one),
        (format!("{}/VERSION", id(1)), b"1.0".to_vec()),
        (format!("{}/layer.tar", id(2)), two),
        (format!("{}/layer.tar", id(4)), three_gz),
        (format!("{hex1}.json"), config1.into_bytes()),
        (format!("{hex2}.json"), config2.into_bytes()),
        ("repositories".into(), b"{}".to_vec()),
    ];
    for (name, data) in &files {
        append_entry(&mut builder, name, tar::EntryType::Regular, data);
    }
    let mut link = tar::Header::new_gnu();
    link.set_entry_type(tar::EntryType::Symlink);
    link.set_size(0);
    link.set_mode(0o777);
    builder
        .append_link(
            &mut link,
            format!("{}/layer.tar", id(3)),
            format!("../{}/layer.tar", id(1)),
        )
        .expect("symlink entry");
    append_entry(
        &mut builder,
        "manifest.json",
        tar::EntryType::Regular,
        manifest.as_bytes(),
    );
    fs::write(out, builder.into_inner().expect("finish archive")).expect("write archive");
    vec![
        DockerImage {
            tags: vec!["handmade:1.0"],
            config_digest: format!("sha256:{hex1}"),
            diff_ids: first_ids,
        },
        DockerImage {
            tags: vec!["handmade:2.0", "ghcr.io/team/handmade:2"],
            config_digest: format!("sha256:{hex2}"),
            diff_ids: second_ids,
        },
    ]
}

// ----------------------------------------------------------------------------------------------
// skopeo

/// Whether `skopeo` is installed.
pub fn skopeo_available() -> bool {
    Command::new("skopeo")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs skopeo with a policy that accepts anything (written to `dir`), panicking on failure.
pub fn skopeo(dir: &Path, args: &[&str]) -> String {
    let policy = dir.join("policy.json");
    if !policy.exists() {
        fs::write(
            &policy,
            r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
        )
        .expect("write policy");
    }
    let output = Command::new("skopeo")
        .arg("--policy")
        .arg(&policy)
        .args(args)
        .env("REGISTRY_AUTH_FILE", dir.join("auth.json"))
        .output()
        .expect("run skopeo");
    assert!(
        output.status.success(),
        "skopeo {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The digest of the only (or the `name`d) entry of the layout at `dir`.
pub fn layout_digest(dir: &Path) -> String {
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("index.json")).expect("read index.json"))
            .expect("index.json is JSON");
    let entries = index["manifests"].as_array().expect("manifests");
    assert_eq!(entries.len(), 1, "{index}");
    entries[0]["digest"].as_str().expect("digest").to_string()
}

/// A blob of the layout at `dir`, by digest.
pub fn layout_blob(dir: &Path, digest: &str) -> Vec<u8> {
    let hex = digest.trim_start_matches("sha256:");
    fs::read(dir.join("blobs/sha256").join(hex)).expect("read blob")
}

/// Every file of `dir`, relative path → bytes.
pub fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        for entry in fs::read_dir(&at).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = fs::read(&path).expect("read");
                out.insert(path.strip_prefix(dir).expect("inside").to_path_buf(), bytes);
            }
        }
    }
    out
}
