//! Kubernetes manifests that run the injector on the chunks: one ConfigMap per chunk, one with
//! the injector binary, and either a Pod with a NodePort Service or a DaemonSet.
//!
//! The objects follow Zarf's injector (`src/pkg/cluster/injector.go`): the binary ConfigMap
//! `rust-binary` mounted with mode 0777 at `/zarf-init/zarf-injector` (subPath), each chunk
//! ConfigMap `zarf-payload-NNN` (label `zarf-injector: payload`) mounted at
//! `/zarf-init/zarf-payload-NNN` (subPath), an emptyDir at `/zarf-seed`, uid 1000 / gid 2000,
//! read-only root filesystem, no privilege escalation, all capabilities dropped, seccomp
//! RuntimeDefault, a readiness probe on `GET /v2/`, and Zarf's requests and limits. The
//! DaemonSet is Zarf's per-node variant: the container port is also a `hostPort` bound to
//! `127.0.0.1`, so each node's runtime pulls from its own injector, and it tolerates every
//! taint so that it runs on every node.

use super::failure::Failure;
use super::payload::{read_chunk, Payload};
use super::yaml;
use base64::Engine as _;
use serde_json::{json, Value};
use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// The ConfigMap holding the injector binary (Zarf's name).
pub const BINARY_CONFIGMAP: &str = "rust-binary";
/// The binary's key in it, and its file name in `/zarf-init`.
pub const BINARY_KEY: &str = "zarf-injector";
/// Where the chunks and the binary are mounted.
pub const INIT_ROOT: &str = "/zarf-init";
/// Where the payload is unpacked (an emptyDir).
pub const SEED_ROOT: &str = "/zarf-seed";
/// The label every object carries, for `kubectl delete -l`.
pub const PART_OF: (&str, &str) = ("app.kubernetes.io/part-of", "zarf-injector");
/// The label of the chunk ConfigMaps (Zarf's).
pub const PAYLOAD_LABEL: (&str, &str) = ("zarf-injector", "payload");
/// The label selecting the injector pods.
pub const APP_LABEL: (&str, &str) = ("app", "zarf-injector");

/// What `--k8s` and its options ask for.
#[derive(Clone, Debug)]
pub struct Options {
    /// The YAML file to write.
    pub file: PathBuf,
    /// The namespace of every object.
    pub namespace: String,
    /// The injector binary to ship.
    pub injector: PathBuf,
    /// The image the pod borrows (already on the nodes).
    pub pod_image: String,
    /// The registry port.
    pub port: u16,
    /// A DaemonSet with a hostPort on 127.0.0.1 instead of a Pod and a NodePort Service.
    pub daemonset: bool,
    /// Pod mode: the node to run on.
    pub node: Option<String>,
    /// Pod mode: a fixed NodePort.
    pub node_port: Option<u16>,
}

/// What was written.
#[derive(Debug)]
pub struct Written {
    /// How many objects.
    pub objects: usize,
    /// The file's size.
    pub bytes: u64,
    /// Warnings about the injector binary.
    pub warnings: Vec<String>,
}

/// Writes the manifests for `payload` to `options.file`.
pub fn write(options: &Options, payload: &Payload) -> Result<Written, Failure> {
    let binary =
        fs::read(&options.injector).map_err(|e| Failure::io(&options.injector, "read", e))?;
    let warnings = binary_warnings(&options.injector, &binary);
    let file = &options.file;
    let out = File::create(file).map_err(|e| Failure::io(file, "create", e))?;
    let mut out = BufWriter::with_capacity(1 << 20, out);
    let write_failure = |e| Failure::io(file, "write", e);
    let mut objects = 0;
    let names: Vec<String> = payload.chunks.iter().map(|p| file_name(p)).collect();
    for (path, name) in payload.chunks.iter().zip(&names) {
        let configmap = chunk_configmap(options, name, &read_chunk(path)?);
        yaml::write_document(&mut out, &configmap).map_err(write_failure)?;
        objects += 1;
    }
    let mut rest = vec![binary_configmap(options, &binary)];
    let spec = pod_spec(options, &payload.sha256, &names);
    if options.daemonset {
        rest.push(daemonset(options, spec));
    } else {
        rest.push(pod(options, spec));
        rest.push(service(options));
    }
    for object in &rest {
        yaml::write_document(&mut out, object).map_err(write_failure)?;
        objects += 1;
    }
    let out = out
        .into_inner()
        .map_err(|e| write_failure(e.into_error()))?;
    let bytes = out.metadata().map(|m| m.len()).unwrap_or_default();
    Ok(Written {
        objects,
        bytes,
        warnings,
    })
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn metadata(options: &Options, name: &str, labels: &[(&str, &str)]) -> Value {
    let mut map = serde_json::Map::new();
    for (key, value) in labels.iter().chain([&PART_OF]) {
        map.insert((*key).into(), Value::String((*value).into()));
    }
    json!({"name": name, "namespace": options.namespace, "labels": map})
}

fn chunk_configmap(options: &Options, name: &str, chunk: &[u8]) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(options, name, &[PAYLOAD_LABEL]),
        "binaryData": {name: base64(chunk)},
    })
}

fn binary_configmap(options: &Options, binary: &[u8]) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(options, BINARY_CONFIGMAP, &[]),
        "binaryData": {BINARY_KEY: base64(binary)},
    })
}

/// The pod's labels: selected by the Service and DaemonSet; `zarf.dev/agent: ignore` keeps
/// Zarf's mutating webhook from rewriting the borrowed image.
const POD_LABELS: &[(&str, &str)] = &[APP_LABEL, ("zarf.dev/agent", "ignore")];

fn pod(options: &Options, mut spec: Value) -> Value {
    if let Some(map) = spec.as_object_mut() {
        map.insert("restartPolicy".into(), json!("Never"));
        if let Some(node) = &options.node {
            map.insert("nodeName".into(), json!(node));
        }
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata(options, "injector", POD_LABELS),
        "spec": spec,
    })
}

fn service(options: &Options) -> Value {
    let mut port = json!({
        "name": "registry",
        "protocol": "TCP",
        "port": options.port,
        "targetPort": options.port,
    });
    if let (Some(node_port), Some(map)) = (options.node_port, port.as_object_mut()) {
        map.insert("nodePort".into(), json!(node_port));
    }
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(options, "zarf-injector", &[]),
        "spec": {
            "type": "NodePort",
            "selector": {APP_LABEL.0: APP_LABEL.1},
            "ports": [port],
        },
    })
}

fn daemonset(options: &Options, mut spec: Value) -> Value {
    if let Some(map) = spec.as_object_mut() {
        map.insert("tolerations".into(), json!([{"operator": "Exists"}]));
    }
    let port = spec.pointer_mut("/containers/0/ports/0");
    if let Some(Value::Object(port)) = port {
        port.insert("hostIP".into(), json!("127.0.0.1"));
        port.insert("hostPort".into(), json!(options.port));
    }
    let mut template_meta = metadata(options, "", POD_LABELS);
    if let Some(map) = template_meta.as_object_mut() {
        map.remove("name");
        map.remove("namespace");
    }
    json!({
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": metadata(options, "zarf-injector", &[]),
        "spec": {
            "selector": {"matchLabels": {APP_LABEL.0: APP_LABEL.1}},
            "template": {"metadata": template_meta, "spec": spec},
        },
    })
}

/// The pod spec both modes share.
fn pod_spec(options: &Options, sha256: &str, chunks: &[String]) -> Value {
    let (mut volumes, mut mounts) = (Vec::new(), Vec::new());
    volumes.push(
        json!({"name": "init", "configMap": {"name": BINARY_CONFIGMAP, "defaultMode": 0o777}}),
    );
    mounts.push(json!({"name": "init", "mountPath": format!("{INIT_ROOT}/{BINARY_KEY}"), "subPath": BINARY_KEY}));
    volumes.push(json!({"name": "seed", "emptyDir": {}}));
    mounts.push(json!({"name": "seed", "mountPath": SEED_ROOT}));
    for name in chunks {
        volumes.push(json!({"name": name, "configMap": {"name": name}}));
        mounts.push(
            json!({"name": name, "mountPath": format!("{INIT_ROOT}/{name}"), "subPath": name}),
        );
    }
    let port = options.port;
    json!({
        "terminationGracePeriodSeconds": 5,
        "automountServiceAccountToken": false,
        "enableServiceLinks": false,
        "securityContext": {
            "runAsUser": 1000,
            "runAsGroup": 2000,
            "fsGroup": 2000,
            "runAsNonRoot": true,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [{
            "name": "injector",
            "image": options.pod_image,
            "imagePullPolicy": "IfNotPresent",
            "command": [format!("{INIT_ROOT}/{BINARY_KEY}"), sha256, format!("0.0.0.0:{port}")],
            "workingDir": INIT_ROOT,
            "env": [
                {"name": "ZARF_INJECTOR_INIT_ROOT", "value": INIT_ROOT},
                {"name": "ZARF_INJECTOR_SEED_ROOT", "value": SEED_ROOT},
            ],
            "ports": [{"name": "registry", "containerPort": port, "protocol": "TCP"}],
            "readinessProbe": {
                "httpGet": {"path": "/v2/", "port": port},
                "periodSeconds": 2,
                "successThreshold": 1,
                "failureThreshold": 10,
            },
            "resources": {
                "requests": {"cpu": "500m", "memory": "64Mi"},
                "limits": {"cpu": "1", "memory": "256Mi"},
            },
            "securityContext": {
                "readOnlyRootFilesystem": true,
                "allowPrivilegeEscalation": false,
                "runAsNonRoot": true,
                "capabilities": {"drop": ["ALL"]},
            },
            "volumeMounts": mounts,
        }],
        "volumes": volumes,
    })
}

/// Warnings for an injector that cannot run in a pod that borrows a libc-less image.
fn binary_warnings(path: &Path, binary: &[u8]) -> Vec<String> {
    let shown = path.display();
    match elf_interpreter(binary) {
        None => vec![format!("warning: {shown} is not a 64-bit ELF executable")],
        Some(true) => vec![format!(
            "warning: {shown} is dynamically linked: it will not start in an image without its libc (build the static musl binary, see release.sh)"
        )],
        Some(false) => Vec::new(),
    }
}

/// For a 64-bit little-endian ELF: whether it names a program interpreter (is dynamically
/// linked). `None` if it is not such an ELF.
fn elf_interpreter(binary: &[u8]) -> Option<bool> {
    const PT_INTERP: u32 = 3;
    if binary.get(..6)? != b"\x7fELF\x02\x01" {
        return None;
    }
    let u16_at = |at: usize| Some(u16::from_le_bytes(binary.get(at..at + 2)?.try_into().ok()?));
    let phoff =
        usize::try_from(u64::from_le_bytes(binary.get(0x20..0x28)?.try_into().ok()?)).ok()?;
    let (size, count) = (usize::from(u16_at(0x36)?), usize::from(u16_at(0x38)?));
    for i in 0..count {
        let at = phoff.checked_add(i.checked_mul(size)?)?;
        let kind = u32::from_le_bytes(binary.get(at..at + 4)?.try_into().ok()?);
        if kind == PT_INTERP {
            return Some(true);
        }
    }
    Some(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elf_checks() {
        assert_eq!(elf_interpreter(b"#!/bin/sh\n"), None);
        let this = std::env::current_exe()
            .and_then(fs::read)
            .unwrap_or_default();
        // The test binary is an ELF (dynamically linked on glibc, static on musl).
        assert!(elf_interpreter(&this).is_some());
    }
}
