//! Seeding a live cluster with `injector-pack`'s manifests (issue 13): what a user sees when a
//! second payload is applied next to a first one, when a payload has many chunks, and where the
//! ConfigMap size limit is. No cluster here: the objects are compared as the API server would
//! store them (by kind and name), and the cleanup selector is evaluated as Kubernetes does.
//!
//! - two payloads' manifests share no object name except the Service (issue13_r1);
//! - the printed `kubectl delete -l` picks exactly the other payload's objects, never the
//!   Service or the current objects (issue13_r1);
//! - more than 100 chunks warn with the count, the kubelet's rate limit and what to do (r2);
//! - `--chunk-size` goes up to the API server's real limit, 1048576, and says what counts (r2);
//! - an injector binary too big for a ConfigMap is refused before anything is written (r2).

mod common;
mod pack_support;

use common::*;
use pack_support::*;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

fn s(path: &Path) -> &str {
    path.to_str().expect("UTF-8 temp path")
}

fn yaml_documents(text: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(text)
        .map(|doc| Value::deserialize(doc).expect("YAML document parses"))
        .collect()
}

/// An object's identity in the API server: (kind, name); the namespace is the same for all.
fn key(object: &Value) -> (String, String) {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    (text(&object["kind"]), text(&object["metadata"]["name"]))
}

fn labels(object: &Value) -> BTreeMap<String, String> {
    object["metadata"]["labels"]
        .as_object()
        .map(|map| {
            map.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// One requirement of a Kubernetes equality-based label selector.
#[derive(Debug)]
enum Requirement {
    Exists(String),
    NotExists(String),
    Equals(String, String),
    NotEquals(String, String),
}

/// Parses `a=b,c!=d,e,!f` (Kubernetes' `labels.Parse` for the equality-based forms).
fn parse_selector(text: &str) -> Vec<Requirement> {
    text.split(',')
        .map(|part| {
            let part = part.trim();
            if let Some((k, v)) = part.split_once("!=") {
                Requirement::NotEquals(k.into(), v.into())
            } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                Requirement::Equals(k.into(), v.into())
            } else if let Some(k) = part.strip_prefix('!') {
                Requirement::NotExists(k.into())
            } else {
                assert!(!part.is_empty(), "empty requirement in {text:?}");
                Requirement::Exists(part.into())
            }
        })
        .collect()
}

/// Kubernetes' semantics: `k!=v` also matches objects without the label `k`.
fn matches(selector: &[Requirement], labels: &BTreeMap<String, String>) -> bool {
    selector.iter().all(|r| match r {
        Requirement::Exists(k) => labels.contains_key(k),
        Requirement::NotExists(k) => !labels.contains_key(k),
        Requirement::Equals(k, v) => labels.get(k) == Some(v),
        Requirement::NotEquals(k, v) => labels.get(k) != Some(v),
    })
}

#[test]
fn selector_evaluator_follows_kubernetes() {
    let l: BTreeMap<String, String> = [("a".into(), "1".into())].into();
    let yes = ["a", "a=1", "a==1", "b!=2", "a!=2", "!b", "a,a!=2"];
    let no = ["b", "a=2", "a!=1", "!a", "a,b"];
    for text in yes {
        assert!(matches(&parse_selector(text), &l), "{text}");
    }
    for text in no {
        assert!(!matches(&parse_selector(text), &l), "{text}");
    }
}

struct Packed {
    docs: Vec<Value>,
    digest: String,
    /// The resource types and the selector of the printed cleanup command.
    cleanup: (Vec<String>, String),
}

/// Packs `layout` with `--k8s` and returns the objects, the digest and the cleanup command.
fn pack_k8s(layout: &Path, out: &Path, daemonset: bool) -> Packed {
    let yaml = out.with_extension("yaml");
    let injector = out.with_extension("injector");
    fs::write(&injector, b"\x7fELF stand-in for the injector").expect("write");
    let mut args = vec![
        s(layout),
        "--out",
        s(out),
        "--chunk-size",
        "300000",
        "--k8s",
        s(&yaml),
        "--injector",
        s(&injector),
        "--pod-image",
        "registry.k8s.io/pause:3.10",
    ];
    if daemonset {
        args.push("--daemonset");
    }
    let (exit, digest) = pack_ok(&args);
    let line = exit
        .stdout
        .lines()
        .find(|l| l.contains("kubectl") && l.contains(" delete "))
        .unwrap_or_else(|| panic!("no cleanup command printed: {}", exit.stdout));
    let command = line
        .split_once("kubectl")
        .map(|(_, c)| c)
        .unwrap_or_default();
    let words: Vec<&str> = command.split_whitespace().collect();
    let types = words
        .iter()
        .skip_while(|w| **w != "delete")
        .nth(1)
        .unwrap_or_else(|| panic!("no resource types in {line}"));
    let selector = line
        .split_once("-l '")
        .and_then(|(_, rest)| rest.split_once('\''))
        .map(|(selector, _)| selector.to_string())
        .unwrap_or_else(|| panic!("no -l '...' in {line}"));
    let docs = yaml_documents(&fs::read_to_string(&yaml).expect("read YAML"));
    Packed {
        docs,
        digest,
        cleanup: (types.split(',').map(String::from).collect(), selector),
    }
}

/// `kubectl delete TYPES` names kinds in the plural, lower case.
fn kind_of(resource: &str) -> &'static str {
    match resource {
        "configmaps" | "configmap" | "cm" => "ConfigMap",
        "pods" | "pod" | "po" => "Pod",
        "daemonsets" | "daemonset" | "ds" => "DaemonSet",
        "services" | "service" | "svc" => "Service",
        other => panic!("unexpected resource type {other}"),
    }
}

/// Issue 13: re-applying a new payload mixed chunks of two payloads in the same ConfigMaps.
#[test]
fn issue13_r1_a_new_payload_applies_next_to_the_old_one_and_one_selector_removes_the_old() {
    let tmp = TempDir::new("seeding-two-payloads");
    build_layout(&tmp.join("old"), &LayoutOptions::DEFAULT);
    let other = LayoutOptions {
        seed: 2,
        ..LayoutOptions::DEFAULT
    };
    build_layout(&tmp.join("new"), &other);
    for daemonset in [false, true] {
        let mode = if daemonset { "daemonset" } else { "pod" };
        let old = pack_k8s(
            &tmp.join("old"),
            &tmp.join(format!("old-{mode}")),
            daemonset,
        );
        let new = pack_k8s(
            &tmp.join("new"),
            &tmp.join(format!("new-{mode}")),
            daemonset,
        );
        assert_ne!(old.digest, new.digest);
        assert!(old.docs.len() > 4, "{mode}: {} objects", old.docs.len());
        check_names_and_labels(&new, mode);

        // 1. Shared names: only the Service, or an object of identical content.
        let old_by_key: BTreeMap<_, _> = old.docs.iter().map(|d| (key(d), d)).collect();
        let new_by_key: BTreeMap<_, _> = new.docs.iter().map(|d| (key(d), d)).collect();
        for (k, new_doc) in &new_by_key {
            if let Some(old_doc) = old_by_key.get(k) {
                assert!(
                    k.0 == "Service" || *old_doc == *new_doc,
                    "{mode}: applying the new payload would change the old payload's {k:?}"
                );
            }
        }

        // 2. The cluster after `kubectl apply` of the old YAML, then of the new one.
        let mut cluster: BTreeMap<(String, String), &Value> = old_by_key.clone();
        cluster.extend(new_by_key.iter().map(|(k, v)| (k.clone(), *v)));

        // 3. The printed cleanup: its types and selector pick exactly the old payload's objects.
        let (types, selector_text) = &new.cleanup;
        let kinds: Vec<&str> = types.iter().map(|t| kind_of(t)).collect();
        let selector = parse_selector(selector_text);
        let picked: Vec<&(String, String)> = cluster
            .iter()
            .filter(|(k, v)| kinds.contains(&k.0.as_str()) && matches(&selector, &labels(v)))
            .map(|(k, _)| k)
            .collect();
        let old_only: Vec<&(String, String)> = old_by_key
            .keys()
            .filter(|k| !new_by_key.contains_key(*k))
            .collect();
        assert_eq!(picked, old_only, "{mode}: {selector_text}");
        let old_except_service = old.docs.iter().filter(|d| d["kind"] != "Service").count();
        assert_eq!(picked.len(), old_except_service, "{mode}");

        // 4. What is left is exactly the new payload's objects, and the Service selects only
        //    the new payload's pods.
        let left: Vec<_> = cluster.keys().filter(|k| !picked.contains(k)).collect();
        let new_keys: Vec<_> = new_by_key.keys().collect();
        assert_eq!(left, new_keys, "{mode}");
        if !daemonset {
            let service = new_by_key
                .values()
                .find(|d| d["kind"] == "Service")
                .expect("Service");
            let selects = |pod: &Value| {
                let wanted = service["spec"]["selector"].as_object().expect("selector");
                let have = labels(pod);
                wanted
                    .iter()
                    .all(|(k, v)| have.get(k).map(String::as_str) == v.as_str())
            };
            let pod_of = |docs: &[Value]| -> Value {
                docs.iter()
                    .find(|d| d["kind"] == "Pod")
                    .cloned()
                    .expect("Pod")
            };
            assert!(selects(&pod_of(&new.docs)), "Service misses the new pod");
            assert!(!selects(&pod_of(&old.docs)), "Service selects the old pod");
        }

        // 5. The same payload packed again gives the same objects: re-applying is a no-op.
        let again = pack_k8s(
            &tmp.join("new"),
            &tmp.join(format!("again-{mode}")),
            daemonset,
        );
        assert!(
            again.docs == new.docs,
            "{mode}: same payload, other objects"
        );
    }
}

/// Every object but the Service carries the payload's short digest in its name and label.
fn check_names_and_labels(packed: &Packed, mode: &str) {
    let short = &packed.digest[..12];
    for doc in &packed.docs {
        let (kind, name) = key(doc);
        if kind == "Service" {
            assert_eq!(name, "zarf-injector");
            assert!(!labels(doc).contains_key("zarf-injector/payload"));
            continue;
        }
        assert!(name.contains(short), "{mode}: {kind} {name} lacks {short}");
        assert_eq!(
            labels(doc).get("zarf-injector/payload").map(String::as_str),
            Some(short),
            "{mode}: {kind} {name}"
        );
    }
}

/// Issue 13: a 394-chunk payload waited 13 minutes on the kubelet, and nothing warned.
#[test]
fn issue13_r2_more_than_100_chunks_warn_with_the_reason_and_the_remedy() {
    let tmp = TempDir::new("seeding-many-chunks");
    let layout = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/hello-layout");
    let mut seen = (false, false);
    // The example's payload is about 900 bytes: 10-byte chunks make about 90, 8-byte ones 113.
    for size in ["10", "8"] {
        let out = tmp.join(format!("out-{size}"));
        let (exit, _) = pack_ok(&[s(&layout), "--out", s(&out), "--chunk-size", size]);
        let count = chunks(&out).len();
        let warned = exit.stderr.contains("warning: ") && exit.stderr.contains("kube-api-qps");
        assert_eq!(warned, count > 100, "{count} chunks: {}", exit.stderr);
        if count > 100 {
            seen.1 = true;
            for want in [
                &format!("{count} chunks"),
                "Kubernetes 1.27",
                "--kube-api-qps 5",
                "--kube-api-burst 10",
                "13 minutes",
                "--chunk-size",
                "fewer images",
            ] {
                assert!(exit.stderr.contains(want), "{want:?}: {}", exit.stderr);
            }
        } else {
            seen.0 = true;
        }
    }
    assert_eq!(seen, (true, true), "both sides of 100 chunks");
}

/// Issue 13: the help text said 1 MiB in base64; the limit counts decoded value bytes only.
#[test]
fn issue13_r2_chunk_size_goes_up_to_the_configmap_limit_and_help_says_what_counts() {
    let tmp = TempDir::new("seeding-limit");
    let layout = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/hello-layout");
    let small = tmp.join("injector");
    fs::write(&small, b"stand-in").expect("write");
    let injector = s(&small);
    let run = |size: &str, injector: &str| {
        let out = tmp.join(format!("out-{size}"));
        let yaml = tmp.join(format!("k-{size}.yaml"));
        pack(&[
            s(&layout),
            "--out",
            s(&out),
            "--chunk-size",
            size,
            "--k8s",
            s(&yaml),
            "--injector",
            injector,
            "--pod-image",
            "pause",
        ])
    };
    let at_limit = run("1048576", injector);
    assert!(at_limit.status.success(), "{at_limit:#?}");
    let over = run("1048577", injector);
    assert_eq!(over.status.code(), Some(2), "{over:#?}");
    assert!(over.stderr.contains("1048576"), "{}", over.stderr);

    // The binary's ConfigMap has the same limit: a too big injector fails before any output.
    let big = tmp.join("big-injector");
    fs::write(&big, vec![0u8; (1 << 20) + 1]).expect("write");
    let refused = run("786432", s(&big));
    assert_eq!(refused.status.code(), Some(1), "{refused:#?}");
    assert!(
        refused.stderr.contains("big-injector") && refused.stderr.contains("ConfigMap"),
        "{}",
        refused.stderr
    );
    assert!(!tmp.join("k-786432.yaml").exists(), "YAML written anyway");

    let help = pack(&["--help"]);
    assert!(help.status.success());
    assert!(!help.stdout.contains("in base64, what"), "{}", help.stdout);
    for want in ["1048576", "key names", "decoded", "786432"] {
        assert!(help.stdout.contains(want), "{want:?}: {}", help.stdout);
    }
}
