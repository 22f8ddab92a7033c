//! Shared by the fuzz targets: a small OCI layout on disk (built once per process), scratch
//! directories, and the checks every target makes on what it touched.

use sha2::{Digest as _, Sha256};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The digests of the template layout, for the handler target's `$X` placeholders.
pub struct Template {
    /// The layout directory.
    pub root: PathBuf,
    /// `(placeholder, digest)`: `$C` config, `$L` layer, `$M` manifest, `$I` index,
    /// `$R` a referrer of `$M`.
    pub digests: Vec<(&'static [u8], String)>,
}

/// A directory of this process under the temp dir, removed by nobody: the fuzzer is killed,
/// not dropped. Its name carries the pid so parallel jobs do not meet.
pub fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("zarf-fuzz-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create scratch dir");
        dir
    })
}

/// A fresh, empty directory `scratch/<n>/root`; its parent holds nothing else, so anything
/// next to `root` afterwards escaped.
pub fn fresh_root() -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let root = scratch().join(format!("run-{n}")).join("root");
    fs::create_dir_all(&root).expect("create fresh root");
    root
}

/// `sha256:<hex>` of `data`.
pub fn digest_of(data: &[u8]) -> String {
    let mut text = String::from("sha256:");
    for byte in Sha256::digest(data) {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

/// Writes `data` as a blob of the layout at `root`; returns its digest.
pub fn put_blob(root: &Path, data: &[u8]) -> String {
    let digest = digest_of(data);
    let path = root.join("blobs/sha256").join(&digest["sha256:".len()..]);
    fs::write(path, data).expect("write blob");
    digest
}

const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// The template layout: `library/app:1.0` (a manifest with a config and a layer, a referrer
/// naming it as subject) and `library/multi:latest` (an index of that manifest for
/// linux/amd64). Built once per process.
pub fn template() -> &'static Template {
    static TEMPLATE: OnceLock<Template> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let root = scratch().join("template");
        fs::create_dir_all(root.join("blobs/sha256")).expect("create template");
        fs::write(root.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).expect("marker");
        let config = br#"{"architecture":"amd64","os":"linux"}"#;
        let layer = b"layer bytes: not a real tar, served as they are".repeat(40);
        let c = put_blob(&root, config);
        let l = put_blob(&root, &layer);
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"{MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{c}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{l}","size":{}}}]}}"#,
            config.len(),
            layer.len()
        );
        let m = put_blob(&root, manifest.as_bytes());
        let index = format!(
            r#"{{"schemaVersion":2,"mediaType":"{INDEX}","manifests":[{{"mediaType":"{MANIFEST}","digest":"{m}","size":{},"platform":{{"os":"linux","architecture":"amd64"}}}}]}}"#,
            manifest.len()
        );
        let i = put_blob(&root, index.as_bytes());
        let referrer = format!(
            r#"{{"schemaVersion":2,"mediaType":"{MANIFEST}","artifactType":"application/vnd.example.sbom","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{c}","size":{}}},"layers":[],"subject":{{"mediaType":"{MANIFEST}","digest":"{m}","size":{}}},"annotations":{{"k":"v"}}}}"#,
            config.len(),
            manifest.len()
        );
        let r = put_blob(&root, referrer.as_bytes());
        let index_json = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{MANIFEST}","digest":"{m}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"docker.io/library/app:1.0"}}}},{{"mediaType":"{INDEX}","digest":"{i}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"library/multi:latest"}}}},{{"mediaType":"{MANIFEST}","digest":"{r}","size":{}}}]}}"#,
            manifest.len(),
            index.len(),
            referrer.len()
        );
        fs::write(root.join("index.json"), index_json).expect("index.json");
        Template {
            root,
            digests: vec![
                (b"$C", c),
                (b"$L", l),
                (b"$M", m),
                (b"$I", i),
                (b"$R", r),
            ],
        }
    })
}

/// Replaces every `$C`, `$L`, `$M`, `$I`, `$R` in `data` by the template's digest.
pub fn expand(data: &[u8]) -> Vec<u8> {
    let digests = &template().digests;
    let mut out = Vec::with_capacity(data.len() + 64);
    let mut rest = data;
    'outer: while let Some((&first, tail)) = rest.split_first() {
        if first == b'$' {
            for (key, digest) in digests {
                if rest.starts_with(key) {
                    out.extend_from_slice(digest.as_bytes());
                    rest = &rest[key.len()..];
                    continue 'outer;
                }
            }
        }
        out.push(first);
        rest = tail;
    }
    out
}

/// Panics unless `root`'s parent holds only `root`, and `root` holds only regular files
/// without set-id or sticky bits and directories (no links, devices, FIFOs), none deeper than
/// the 32 components a tar entry path may have (issue 12).
pub fn assert_contained(root: &Path) {
    let parent = root.parent().expect("root has a parent");
    let names: Vec<_> = fs::read_dir(parent)
        .expect("read parent")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(
        names,
        [root.file_name().expect("name")],
        "wrote next to the root"
    );
    walk(root, 0);
}

fn walk(dir: &Path, depth: usize) {
    let depth = depth + 1;
    assert!(
        depth <= zarf_injector::inject::untar::MAX_DEPTH,
        "{}: deeper than the limit",
        dir.display()
    );
    use std::os::unix::fs::PermissionsExt;
    for entry in fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        let meta = fs::symlink_metadata(&path).expect("lstat");
        let kind = meta.file_type();
        if kind.is_dir() {
            walk(&path, depth);
        } else {
            assert!(
                kind.is_file(),
                "{}: neither file nor directory",
                path.display()
            );
            let mode = meta.permissions().mode();
            assert_eq!(mode & 0o7000, 0, "{}: mode {mode:o}", path.display());
        }
    }
}

/// Removes `root` and its parent.
pub fn remove_root(root: &Path) {
    let parent = root.parent().expect("root has a parent");
    fs::remove_dir_all(parent).expect("remove fresh root");
}
