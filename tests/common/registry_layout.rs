//! The multi-image OCI layout the registry tests serve: what issue 3's "Done when" asks for,
//! generated in Rust (deterministic, offline).
//!
//! | key        | what                                                            | named in `index.json`                                            |
//! |------------|-----------------------------------------------------------------|------------------------------------------------------------------|
//! | `hello`    | OCI manifest: a small gzip'd layer and a ~3 MB tar layer (`big`) | `ref.name` `docker.io/library/hello:1.0` and `...hello:latest`   |
//! | `multi`    | OCI index of `amd64` (linux/amd64) and `arm64` (linux/arm64/v8) | `ref.name` `ghcr.io/team/multi:v1`                               |
//! | `app`      | Docker schema2 manifest (Docker config and layer types)         | only `io.containerd.image.name` `registry.example.com:5000/team/nested/app:2.0` |
//! | `registry` | OCI manifest                                                    | only Zarf's `base.name` `library/registry:2.8.2`                 |
//! | `sbom`     | OCI 1.1 artifact, empty config, one layer, `subject` = `hello`  | no name: reachable by digest only                                |
//!
//! Every object is kept (bytes, digest, media type) under a short key so tests can compare
//! what the registry sends with what is stored; [`RegistryLayout::expand`] puts digests and
//! sizes into request targets and expected bodies. The key `unknown` is a well-formed digest
//! that is not in the layout.

use crate::common::{
    append_entry, gzip, sha256_hex, Rng, CONFIG, INDEX, LAYER_GZIP, LAYER_TAR, MANIFEST,
    OCI_LAYOUT, REF_NAME,
};
use std::fs;
use std::path::Path;

/// A Docker schema2 image manifest.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// A Docker image config.
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// A Docker gzip'd layer.
const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/// The OCI 1.1 empty descriptor's media type (content `{}`).
const EMPTY: &str = "application/vnd.oci.empty.v1+json";
/// The artifact's `artifactType`.
pub const SBOM_TYPE: &str = "application/vnd.example.sbom.v1";
/// The artifact's layer.
const SPDX: &str = "application/spdx+json";
/// Zarf's annotation.
const BASE_NAME: &str = "org.opencontainers.image.base.name";
/// containerd's and `docker save`'s annotation.
const CONTAINERD_NAME: &str = "io.containerd.image.name";
/// The size of the file in hello's big layer (the layer is a tar of it, a little larger).
const BIG_FILE: usize = 3_000_000;

/// One stored object: a manifest, index, config or layer.
#[derive(Clone, Debug)]
pub struct Stored {
    /// The media type its descriptors give.
    pub media_type: &'static str,
    /// `sha256:<hex>`.
    pub digest: String,
    /// Its content.
    pub bytes: Vec<u8>,
}

impl Stored {
    fn new(media_type: &'static str, bytes: Vec<u8>) -> Stored {
        Stored {
            media_type,
            digest: format!("sha256:{}", sha256_hex(&bytes)),
            bytes,
        }
    }

    /// Its size in bytes.
    pub fn size(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// The hex part of the digest.
    pub fn hex(&self) -> &str {
        self.digest.trim_start_matches("sha256:")
    }

    /// The descriptor as JSON; `extra` (starting with `,`) goes inside the object.
    fn descriptor(&self, extra: &str) -> String {
        format!(
            "{{\"mediaType\":\"{}\",\"digest\":\"{}\",\"size\":{}{extra}}}",
            self.media_type,
            self.digest,
            self.size()
        )
    }
}

/// What [`build_registry_layout`] wrote, by key.
pub struct RegistryLayout {
    objects: Vec<(&'static str, Stored)>,
}

impl RegistryLayout {
    /// The object stored under `key`; panics on a key the layout does not have.
    pub fn get(&self, key: &str) -> &Stored {
        self.objects
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, stored)| stored)
            .unwrap_or_else(|| panic!("no object {key:?} in the test layout"))
    }

    /// `text` with every `${key}` replaced by that object's digest, `${key.size}` by its size
    /// and `${key.hex}` by the hex part of its digest.
    pub fn expand(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find("${") {
            out.push_str(&rest[..at]);
            let after = &rest[at + 2..];
            let end = after
                .find('}')
                .unwrap_or_else(|| panic!("unclosed ${{ in {text:?}"));
            let (key, field) = after[..end].split_once('.').unwrap_or((&after[..end], ""));
            let stored = self.get(key);
            match field {
                "" => out.push_str(&stored.digest),
                "size" => out.push_str(&stored.size().to_string()),
                "hex" => out.push_str(stored.hex()),
                _ => panic!("unknown field {field:?} in {text:?}"),
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }
}

struct Writer<'a> {
    dir: &'a Path,
    rng: Rng,
    objects: Vec<(&'static str, Stored)>,
}

impl Writer<'_> {
    /// Writes `bytes` as the blob `key`.
    fn put(&mut self, key: &'static str, media_type: &'static str, bytes: Vec<u8>) -> Stored {
        let stored = Stored::new(media_type, bytes);
        let path = self.dir.join("blobs/sha256").join(stored.hex());
        fs::write(&path, &stored.bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        self.objects.push((key, stored.clone()));
        stored
    }

    /// A tar holding one file `name` of `len` random bytes, and its diff id.
    fn tar(&mut self, name: &str, len: usize) -> (Vec<u8>, String) {
        let content = self.rng.bytes(len);
        let mut builder = tar::Builder::new(Vec::new());
        append_entry(&mut builder, name, tar::EntryType::Regular, &content);
        let tar = builder.into_inner().expect("finish layer tar");
        let diff_id = format!("sha256:{}", sha256_hex(&tar));
        (tar, diff_id)
    }

    /// A gzip'd one-file layer and its diff id.
    fn gzip_layer(
        &mut self,
        key: &'static str,
        media_type: &'static str,
        name: &str,
    ) -> (Stored, String) {
        let (tar, diff_id) = self.tar(name, 1500);
        (self.put(key, media_type, gzip(&tar)), diff_id)
    }

    /// An image config for linux/`arch`.
    fn config(
        &mut self,
        key: &'static str,
        media_type: &'static str,
        arch: &str,
        diff_ids: &[&str],
    ) -> Stored {
        let ids: Vec<String> = diff_ids.iter().map(|d| format!("\"{d}\"")).collect();
        let json = format!(
            "{{\"architecture\":\"{arch}\",\"os\":\"linux\",\"config\":{{\"Cmd\":[\"/{key}\"]}},\
             \"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[{}]}}}}",
            ids.join(",")
        );
        self.put(key, media_type, json.into_bytes())
    }

    /// An image manifest of `media_type` for `config` and `layers`.
    fn manifest(
        &mut self,
        key: &'static str,
        media_type: &'static str,
        config: &Stored,
        layers: &[&Stored],
    ) -> Stored {
        let layers: Vec<String> = layers.iter().map(|l| l.descriptor("")).collect();
        let json = format!(
            "{{\"schemaVersion\":2,\"mediaType\":\"{media_type}\",\"config\":{},\"layers\":[{}]}}",
            config.descriptor(""),
            layers.join(",")
        );
        self.put(key, media_type, json.into_bytes())
    }

    /// A one-layer OCI image for linux/`arch`: `<key>_layer`, `<key>_config`, `<key>`.
    fn small_image(&mut self, keys: [&'static str; 3], arch: &str) -> Stored {
        let [key, config_key, layer_key] = keys;
        let (layer, diff_id) = self.gzip_layer(layer_key, LAYER_GZIP, &format!("{key}.txt"));
        let config = self.config(config_key, CONFIG, arch, &[&diff_id]);
        self.manifest(key, MANIFEST, &config, &[&layer])
    }
}

/// `,"annotations":{"KEY":"VALUE"}`.
fn annotation(key: &str, value: &str) -> String {
    format!(",\"annotations\":{{\"{key}\":\"{value}\"}}")
}

/// Writes the layout into `dir` (created if needed) and returns what it holds.
pub fn build_registry_layout(dir: &Path) -> RegistryLayout {
    fs::create_dir_all(dir.join("blobs/sha256")).expect("create blobs/sha256");
    fs::write(dir.join("oci-layout"), OCI_LAYOUT).expect("write oci-layout");
    let mut w = Writer {
        dir,
        rng: Rng::new(3),
        objects: Vec::new(),
    };

    // hello: two layers, one of them big enough for range requests and aborted downloads.
    let (hello_layer, small_id) = w.gzip_layer("hello_layer", LAYER_GZIP, "hello.txt");
    let (big_tar, big_id) = w.tar("big.bin", BIG_FILE);
    let big = w.put("big", LAYER_TAR, big_tar);
    let hello_config = w.config("hello_config", CONFIG, "amd64", &[&small_id, &big_id]);
    let hello = w.manifest("hello", MANIFEST, &hello_config, &[&hello_layer, &big]);

    // multi: an index of two platform images.
    let amd64 = w.small_image(["amd64", "amd64_config", "amd64_layer"], "amd64");
    let arm64 = w.small_image(["arm64", "arm64_config", "arm64_layer"], "arm64");
    let index = format!(
        "{{\"schemaVersion\":2,\"mediaType\":\"{INDEX}\",\"manifests\":[{},{}]}}",
        amd64.descriptor(",\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}"),
        arm64.descriptor(
            ",\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"}"
        ),
    );
    let multi = w.put("multi", INDEX, index.into_bytes());

    // app: Docker schema2 media types throughout.
    let (app_layer, app_id) = w.gzip_layer("app_layer", DOCKER_LAYER, "app.txt");
    let app_config = w.config("app_config", DOCKER_CONFIG, "amd64", &[&app_id]);
    let app = w.manifest("app", DOCKER_MANIFEST, &app_config, &[&app_layer]);

    // registry: named by Zarf's annotation only.
    let registry = w.small_image(["registry", "registry_config", "registry_layer"], "amd64");

    // sbom: an OCI 1.1 artifact whose subject is hello.
    let empty = w.put("empty", EMPTY, b"{}".to_vec());
    let sbom_layer = w.put(
        "sbom_layer",
        SPDX,
        br#"{"spdxVersion":"SPDX-2.3","name":"hello"}"#.to_vec(),
    );
    let sbom_json = format!(
        "{{\"schemaVersion\":2,\"mediaType\":\"{MANIFEST}\",\"artifactType\":\"{SBOM_TYPE}\",\
         \"config\":{},\"layers\":[{}],\"subject\":{},\
         \"annotations\":{{\"org.example.kind\":\"sbom\"}}}}",
        empty.descriptor(",\"data\":\"e30=\""),
        sbom_layer.descriptor(""),
        hello.descriptor(""),
    );
    let sbom = w.put("sbom", MANIFEST, sbom_json.into_bytes());

    let entries = [
        hello.descriptor(&annotation(REF_NAME, "docker.io/library/hello:1.0")),
        hello.descriptor(&annotation(REF_NAME, "docker.io/library/hello:latest")),
        multi.descriptor(&annotation(REF_NAME, "ghcr.io/team/multi:v1")),
        app.descriptor(&annotation(
            CONTAINERD_NAME,
            "registry.example.com:5000/team/nested/app:2.0",
        )),
        registry.descriptor(&annotation(BASE_NAME, "library/registry:2.8.2")),
        sbom.descriptor(&format!(",\"artifactType\":\"{SBOM_TYPE}\"")),
    ];
    let index_json = format!(
        "{{\"schemaVersion\":2,\"mediaType\":\"{INDEX}\",\"manifests\":[{}]}}",
        entries.join(",")
    );
    fs::write(dir.join("index.json"), index_json).expect("write index.json");

    let mut objects = w.objects;
    objects.push((
        "unknown",
        Stored::new(LAYER_TAR, b"a blob the layout does not hold".to_vec()),
    ));
    RegistryLayout { objects }
}
