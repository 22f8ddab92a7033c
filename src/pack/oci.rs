//! OCI image layouts as sources: `oci-layout` and `index.json`, and every blob an image
//! reaches (an index's manifests, a manifest's config and layers), checked on the way.

use super::blobs::{Blob, Content, Store};
use super::failure::Failure;
use super::names::{labels_of, Label};
use super::tree::Tree;
use crate::digest::{Digest, Hasher};
use serde_json::{json, Map, Value};
use std::rc::Rc;

/// `application/vnd.oci.image.index.v1+json`.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// `application/vnd.oci.image.manifest.v1+json`.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// `application/vnd.oci.image.config.v1+json`.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// `application/vnd.oci.image.layer.v1.tar+gzip`.
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// Docker's manifest list.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker's schema 2 manifest.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// The content of `oci-layout`.
pub const OCI_LAYOUT: &str = "{\"imageLayoutVersion\":\"1.0.0\"}";

/// How deep indexes may nest.
const MAX_DEPTH: usize = 8;

/// A content descriptor.
#[derive(Clone, Debug, PartialEq)]
pub struct Descriptor {
    /// `mediaType`.
    pub media_type: String,
    /// `digest`, validated.
    pub digest: String,
    /// `size`.
    pub size: u64,
    /// `platform`, kept as it is.
    pub platform: Option<Value>,
    /// `artifactType`, kept as it is.
    pub artifact_type: Option<String>,
}

impl Descriptor {
    /// Reads a descriptor object; `location` names the document for messages.
    pub fn parse(value: &Value, location: &str) -> Result<Descriptor, Failure> {
        let digest = value.get("digest").and_then(Value::as_str);
        let digest = digest.filter(|d| Digest::parse(d).is_ok()).ok_or_else(|| {
            Failure::document(
                location,
                "a descriptor without a valid sha256/sha512 digest",
            )
        })?;
        let size = value.get("size").and_then(Value::as_u64).ok_or_else(|| {
            Failure::document(location, format!("descriptor {digest} has no valid size"))
        })?;
        Ok(Descriptor {
            media_type: value
                .get("mediaType")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            digest: digest.to_string(),
            size,
            platform: value.get("platform").cloned(),
            artifact_type: value
                .get("artifactType")
                .and_then(Value::as_str)
                .map(str::to_string),
        })
    }

    /// The descriptor as an `index.json` entry with these annotations.
    pub fn to_entry(&self, annotations: Map<String, Value>) -> Value {
        let mut entry = json!({
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        });
        if let (Some(platform), Some(map)) = (&self.platform, entry.as_object_mut()) {
            map.insert("platform".into(), platform.clone());
        }
        if let (Some(kind), Some(map)) = (&self.artifact_type, entry.as_object_mut()) {
            map.insert("artifactType".into(), Value::String(kind.clone()));
        }
        if let (false, Some(map)) = (annotations.is_empty(), entry.as_object_mut()) {
            map.insert("annotations".into(), Value::Object(annotations));
        }
        entry
    }

    /// `blobs/<algorithm>/<hex>`.
    pub fn path(&self) -> String {
        Digest::parse(&self.digest)
            .map(|d| d.blob_path())
            .unwrap_or_default()
    }
}

/// An image named in a layout's `index.json`.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Its manifest or index.
    pub descriptor: Descriptor,
    /// Its names.
    pub labels: Vec<Label>,
}

/// Reads `oci-layout` and `index.json` of the layout `tree`.
pub fn read_index(tree: &Tree) -> Result<Vec<Entry>, Failure> {
    let layout = parse_json(tree, "oci-layout", &tree.read_document("oci-layout")?)?;
    if layout
        .get("imageLayoutVersion")
        .and_then(Value::as_str)
        .is_none()
    {
        let location = tree.location("oci-layout");
        return Err(Failure::document(location, "no imageLayoutVersion"));
    }
    let index = parse_json(tree, "index.json", &tree.read_document("index.json")?)?;
    let location = tree.location("index.json");
    let manifests = index
        .get("manifests")
        .and_then(Value::as_array)
        .ok_or_else(|| Failure::document(&location, "no manifests array"))?;
    let mut entries = Vec::new();
    for item in manifests {
        let descriptor = Descriptor::parse(item, &location)?;
        let annotations = item.get("annotations").and_then(Value::as_object);
        entries.push(Entry {
            descriptor,
            labels: labels_of(annotations),
        });
    }
    Ok(entries)
}

fn parse_json(tree: &Tree, path: &str, bytes: &[u8]) -> Result<Value, Failure> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| Failure::document(tree.location(path), format!("not JSON: {e}")))?;
    if value.is_object() {
        Ok(value)
    } else {
        Err(Failure::document(tree.location(path), "not a JSON object"))
    }
}

/// Adds the image `descriptor` of `tree` and everything it reaches to `store`. Manifests and
/// indexes are read and checked now; configs and layers must exist with their declared size
/// now and are hashed when the payload is written.
pub fn add_image(
    tree: &Rc<Tree>,
    descriptor: &Descriptor,
    store: &mut Store,
) -> Result<(), Failure> {
    add_node(tree, descriptor, store, 0)
}

fn add_node(
    tree: &Rc<Tree>,
    descriptor: &Descriptor,
    store: &mut Store,
    depth: usize,
) -> Result<(), Failure> {
    let path = descriptor.path();
    let location = tree.location(&path);
    if depth > MAX_DEPTH {
        return Err(Failure::document(location, "indexes nest too deep"));
    }
    let kind = match DocumentKind::of(&descriptor.media_type) {
        None if descriptor.media_type.is_empty() => infer_kind(tree, descriptor),
        kind => kind,
    };
    let Some(document) = kind else {
        return add_leaf(tree, descriptor, store);
    };
    let blob = read_checked(tree, descriptor)?;
    let Content::Memory(bytes) = &blob.content else {
        return Ok(());
    };
    let value = parse_json(tree, &path, bytes)?;
    let children = children(&value, document, &location)?;
    store.add(&descriptor.digest, blob)?;
    for child in children {
        add_node(tree, &child, store, depth + 1)?;
    }
    Ok(())
}

/// The kinds of JSON documents that name other blobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DocumentKind {
    Index,
    Manifest,
}

impl DocumentKind {
    fn of(media_type: &str) -> Option<DocumentKind> {
        match media_type {
            OCI_INDEX | DOCKER_LIST => Some(DocumentKind::Index),
            OCI_MANIFEST | DOCKER_MANIFEST => Some(DocumentKind::Manifest),
            _ => None,
        }
    }
}

/// For a descriptor without a media type (older writers): the kind its document says, from its
/// `mediaType` or its members.
fn infer_kind(tree: &Tree, descriptor: &Descriptor) -> Option<DocumentKind> {
    let path = descriptor.path();
    if tree.size(&path)? > super::tree::MAX_DOCUMENT {
        return None;
    }
    let value: Value = serde_json::from_slice(&tree.read_document(&path).ok()?).ok()?;
    let declared = value
        .get("mediaType")
        .and_then(Value::as_str)
        .unwrap_or_default();
    DocumentKind::of(declared).or_else(|| {
        if value.get("manifests").is_some() {
            Some(DocumentKind::Index)
        } else if value.get("config").is_some() && value.get("layers").is_some() {
            Some(DocumentKind::Manifest)
        } else {
            None
        }
    })
}

/// The descriptors an index (`manifests`) or a manifest (`config`, `layers`) names.
fn children(value: &Value, kind: DocumentKind, location: &str) -> Result<Vec<Descriptor>, Failure> {
    let mut out = Vec::new();
    match kind {
        DocumentKind::Index => {
            let manifests = value.get("manifests").and_then(Value::as_array);
            let manifests =
                manifests.ok_or_else(|| Failure::document(location, "index without manifests"))?;
            for item in manifests {
                out.push(Descriptor::parse(item, location)?);
            }
        }
        DocumentKind::Manifest => {
            let config = value.get("config");
            let config =
                config.ok_or_else(|| Failure::document(location, "manifest without config"))?;
            out.push(Descriptor::parse(config, location)?);
            for layer in value
                .get("layers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                out.push(Descriptor::parse(layer, location)?);
            }
        }
    }
    Ok(out)
}

/// Reads a manifest or index blob and checks its size and digest.
fn read_checked(tree: &Rc<Tree>, descriptor: &Descriptor) -> Result<Blob, Failure> {
    let path = descriptor.path();
    let location = tree.location(&path);
    if tree.size(&path).is_none() {
        return Err(Failure::BlobMissing { location });
    }
    let bytes = tree.read_document(&path)?;
    check_bytes(&bytes, descriptor, &location)?;
    Ok(Blob {
        size: descriptor.size,
        content: Content::Memory(Rc::new(bytes)),
    })
}

/// Checks `bytes` against the descriptor's size and digest.
pub fn check_bytes(bytes: &[u8], descriptor: &Descriptor, location: &str) -> Result<(), Failure> {
    if bytes.len() as u64 != descriptor.size {
        return Err(Failure::BlobCorrupt {
            location: location.to_string(),
            reason: format!(
                "{} bytes, but its descriptor says {}",
                bytes.len(),
                descriptor.size
            ),
        });
    }
    let matches = Digest::parse(&descriptor.digest).is_ok_and(|digest| {
        let mut hasher = Hasher::new(digest.algorithm);
        hasher.update(bytes);
        hasher.matches(&digest)
    });
    if matches {
        Ok(())
    } else {
        Err(Failure::BlobCorrupt {
            location: location.to_string(),
            reason: format!("its content does not hash to {}", descriptor.digest),
        })
    }
}

/// A config or layer: it must exist with its declared size.
fn add_leaf(tree: &Rc<Tree>, descriptor: &Descriptor, store: &mut Store) -> Result<(), Failure> {
    let path = descriptor.path();
    let location = tree.location(&path);
    match tree.size(&path) {
        None => Err(Failure::BlobMissing { location }),
        Some(size) if size != descriptor.size => Err(Failure::BlobCorrupt {
            location,
            reason: format!("{size} bytes, but its descriptor says {}", descriptor.size),
        }),
        Some(size) => {
            let blob = Blob {
                size,
                content: Content::Member(Rc::clone(tree), path),
            };
            store.add(&descriptor.digest, blob).map(drop)
        }
    }
}
