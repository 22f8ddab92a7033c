//! Kubernetes manifests that run the injector on the chunks: one ConfigMap per chunk, one with
//! the injector binary, and either a Pod with a NodePort Service or a DaemonSet.
//!
//! Content-addressed (issue 13): every object that depends on the payload carries the payload's
//! short digest ([`short_digest`]) in its name and in the label [`PAYLOAD_KEY`], so that the
//! YAML of a new payload applied next to an old one never touches the old objects; only the
//! Service `zarf-injector` is shared, and it selects the current payload's pods.
//! [`cleanup_selector`] picks every other payload's objects.
//!
//! The objects follow Zarf's injector (`src/pkg/cluster/injector.go`): the binary ConfigMap
//! `rust-binary-<short>` mounted with mode 0777 at `/zarf-init/zarf-injector` (subPath), each
//! chunk ConfigMap `zarf-payload-<short>-NNN` (label `zarf-injector: payload`) holding the key
//! `zarf-payload-NNN`, mounted at `/zarf-init/zarf-payload-NNN` (subPath: the file names, and
//! so the injector's command line, are Zarf's), an emptyDir at `/zarf-seed`, uid 1000 / gid 2000,
//! read-only root filesystem, no privilege escalation, all capabilities dropped, seccomp
//! RuntimeDefault, a readiness probe on `GET /v2/`, Zarf's requests and limits, and
//! `terminationMessagePolicy: FallbackToLogsOnError` (a failure's one line shows in
//! `kubectl describe`). The
//! DaemonSet is Zarf's per-node variant: the container port is also a `hostPort` bound to
//! `127.0.0.1`, so each node's runtime pulls from its own injector, and it tolerates every
//! taint so that it runs on every node.

use super::failure::Failure;
use super::payload::{read_chunk, Payload, CHUNK_PREFIX};
use super::yaml;
use base64::Engine as _;
use serde_json::{json, Value};
use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// The ConfigMap holding the injector binary (Zarf's name), before `-<short digest>`.
pub const BINARY_CONFIGMAP: &str = "rust-binary";
/// The Pod's name, before `-<short digest>`.
pub const POD_NAME: &str = "injector";
/// The Service's name (shared by every payload), and the DaemonSet's before `-<short digest>`.
pub const SERVICE_NAME: &str = "zarf-injector";
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
/// The label whose value is the payload's short digest, on every object but the Service.
pub const PAYLOAD_KEY: &str = "zarf-injector/payload";
/// How many hex digits of the payload's SHA-256 name its objects (48 bits).
pub const SHORT_DIGEST_LEN: usize = 12;
/// The API server's limit on a ConfigMap: the sum of the sizes of its `data` and `binaryData`
/// values, decoded (`MaxSecretSize` in Kubernetes' `ValidateConfigMap`, which counts values
/// only: key names, metadata and base64 do not count). One chunk is one ConfigMap's only value.
pub const CONFIGMAP_LIMIT: u64 = 1 << 20;
/// Above this many chunks the kubelet's API rate limit makes the pod wait: warn.
pub const MANY_CHUNKS: usize = 100;

/// The payload's short digest: the first [`SHORT_DIGEST_LEN`] hex digits of its SHA-256.
pub fn short_digest(sha256: &str) -> &str {
    sha256.get(..SHORT_DIGEST_LEN).unwrap_or(sha256)
}

/// The label selector of every injector object that belongs to another payload than `sha256`'s:
/// it needs the payload label, so the Service (which has none) is never picked.
pub fn cleanup_selector(sha256: &str) -> String {
    let (part_of, value) = PART_OF;
    let short = short_digest(sha256);
    format!("{part_of}={value},{PAYLOAD_KEY},{PAYLOAD_KEY}!={short}")
}

/// The command that deletes every other payload's objects in `namespace`.
pub fn cleanup_command(namespace: &str, sha256: &str) -> String {
    format!(
        "kubectl -n {namespace} delete configmaps,pods,daemonsets -l '{}'",
        cleanup_selector(sha256)
    )
}

/// The warning for a payload of `chunks` chunks, if there are so many that the kubelet's
/// default API rate limit makes the pod wait minutes in ContainerCreating.
pub fn many_chunks_warning(chunks: usize) -> Option<String> {
    (chunks > MANY_CHUNKS).then(|| {
        format!(
            "warning: {chunks} chunks: the kubelet fetches each chunk's ConfigMap volume from the API server on its own, and before Kubernetes 1.27 its default rate limit is 5 requests/s (--kube-api-qps 5, --kube-api-burst 10): measured on k3s 1.21, a 394-chunk 309 MB payload sat 13 minutes in ContainerCreating (about 30 s with qps 50, burst 100). Use a bigger --chunk-size (up to {CONFIGMAP_LIMIT}), fewer images, or raise the kubelet's --kube-api-qps and --kube-api-burst"
        )
    })
}

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
    check_binary_size(&options.injector, binary.len() as u64)?;
    let warnings = binary_warnings(&options.injector, &binary);
    let short = short_digest(&payload.sha256);
    let file = &options.file;
    let out = File::create(file).map_err(|e| Failure::io(file, "create", e))?;
    let mut out = BufWriter::with_capacity(1 << 20, out);
    let write_failure = |e| Failure::io(file, "write", e);
    let mut objects = 0;
    let names: Vec<String> = payload.chunks.iter().map(|p| file_name(p)).collect();
    for (path, name) in payload.chunks.iter().zip(&names) {
        let configmap = chunk_configmap(options, short, name, &read_chunk(path)?);
        yaml::write_document(&mut out, &configmap).map_err(write_failure)?;
        objects += 1;
    }
    let mut rest = vec![binary_configmap(options, short, &binary)];
    let spec = pod_spec(options, &payload.sha256, &names);
    if options.daemonset {
        rest.push(daemonset(options, short, spec));
    } else {
        rest.push(pod(options, short, spec));
        rest.push(service(options, short));
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

/// `zarf-payload-NNN` (the key, and the file name in the pod) becomes the ConfigMap
/// `zarf-payload-<short>-NNN`.
fn chunk_configmap_name(short: &str, file: &str) -> String {
    let number = file.strip_prefix(CHUNK_PREFIX).unwrap_or(file);
    format!("{CHUNK_PREFIX}{short}-{number}")
}

fn binary_configmap_name(short: &str) -> String {
    format!("{BINARY_CONFIGMAP}-{short}")
}

fn chunk_configmap(options: &Options, short: &str, file: &str, chunk: &[u8]) -> Value {
    let name = chunk_configmap_name(short, file);
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(options, &name, &[PAYLOAD_LABEL, (PAYLOAD_KEY, short)]),
        "binaryData": {file: base64(chunk)},
    })
}

fn binary_configmap(options: &Options, short: &str, binary: &[u8]) -> Value {
    let name = binary_configmap_name(short);
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(options, &name, &[(PAYLOAD_KEY, short)]),
        "binaryData": {BINARY_KEY: base64(binary)},
    })
}

/// The pod's labels: the app and payload labels are selected by the Service and DaemonSet;
/// `zarf.dev/agent: ignore` keeps Zarf's mutating webhook from rewriting the borrowed image.
fn pod_labels(short: &str) -> [(&str, &str); 3] {
    [
        APP_LABEL,
        ("zarf.dev/agent", "ignore"),
        (PAYLOAD_KEY, short),
    ]
}

/// What the Service and the DaemonSet select: this payload's injector pods.
fn pod_selector(short: &str) -> Value {
    json!({APP_LABEL.0: APP_LABEL.1, PAYLOAD_KEY: short})
}

fn pod(options: &Options, short: &str, mut spec: Value) -> Value {
    if let Some(map) = spec.as_object_mut() {
        map.insert("restartPolicy".into(), json!("Never"));
        if let Some(node) = &options.node {
            map.insert("nodeName".into(), json!(node));
        }
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata(options, &format!("{POD_NAME}-{short}"), &pod_labels(short)),
        "spec": spec,
    })
}

fn service(options: &Options, short: &str) -> Value {
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
        "metadata": metadata(options, SERVICE_NAME, &[]),
        "spec": {
            "type": "NodePort",
            "selector": pod_selector(short),
            "ports": [port],
        },
    })
}

fn daemonset(options: &Options, short: &str, mut spec: Value) -> Value {
    if let Some(map) = spec.as_object_mut() {
        map.insert("tolerations".into(), json!([{"operator": "Exists"}]));
    }
    let port = spec.pointer_mut("/containers/0/ports/0");
    if let Some(Value::Object(port)) = port {
        port.insert("hostIP".into(), json!("127.0.0.1"));
        port.insert("hostPort".into(), json!(options.port));
    }
    let mut template_meta = metadata(options, "", &pod_labels(short));
    if let Some(map) = template_meta.as_object_mut() {
        map.remove("name");
        map.remove("namespace");
    }
    let name = format!("{SERVICE_NAME}-{short}");
    json!({
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": metadata(options, &name, &[(PAYLOAD_KEY, short)]),
        "spec": {
            "selector": {"matchLabels": pod_selector(short)},
            "template": {"metadata": template_meta, "spec": spec},
        },
    })
}

/// The pod spec both modes share: each chunk's ConfigMap is a volume whose only key is the
/// chunk's file name, mounted under that name.
fn pod_spec(options: &Options, sha256: &str, chunks: &[String]) -> Value {
    let short = short_digest(sha256);
    let (mut volumes, mut mounts) = (Vec::new(), Vec::new());
    let binary = binary_configmap_name(short);
    volumes.push(json!({"name": "init", "configMap": {"name": binary, "defaultMode": 0o777}}));
    mounts.push(json!({"name": "init", "mountPath": format!("{INIT_ROOT}/{BINARY_KEY}"), "subPath": BINARY_KEY}));
    volumes.push(json!({"name": "seed", "emptyDir": {}}));
    mounts.push(json!({"name": "seed", "mountPath": SEED_ROOT}));
    for name in chunks {
        let configmap = chunk_configmap_name(short, name);
        volumes.push(json!({"name": name, "configMap": {"name": configmap}}));
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
            "terminationMessagePolicy": "FallbackToLogsOnError",
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

/// The injector binary is one ConfigMap's value: refuses one over [`CONFIGMAP_LIMIT`].
pub fn check_binary_size(path: &Path, bytes: u64) -> Result<(), Failure> {
    if bytes <= CONFIGMAP_LIMIT {
        return Ok(());
    }
    let error = std::io::Error::other(format!(
        "{bytes} bytes do not fit a ConfigMap (at most {CONFIGMAP_LIMIT}): ship the static release build (release.sh)"
    ));
    Err(Failure::io(path, "ship", error))
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
