//! `docker save` and `skopeo copy ... docker-archive:` tarballs, converted to OCI images.
//!
//! The legacy format has a `manifest.json` listing, per image, its config file, its tags
//! (`RepoTags`) and its layer tars, uncompressed. Each image becomes an OCI manifest: the config
//! is kept byte for byte (so the image ID stays the same), each layer is gzip'd
//! deterministically, and each layer's uncompressed digest is checked against the config's
//! `rootfs.diff_ids`. A layer that is gzip'd already is kept as it is.

use super::blobs::{Blob, Content, Store};
use super::failure::Failure;
use super::hashing::{deterministic_gzip, sha256_digest, HashingReader, HashingWriter, GZIP_LEVEL};
use super::names::{Label, Name};
use super::oci::{Descriptor, OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST};
use super::progress::{Counting, Progress};
use super::tree::Tree;
use flate2::read::MultiGzDecoder;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// `docker-archive`'s image list.
pub const MANIFEST_JSON: &str = "manifest.json";

/// An image of a docker-archive, not converted yet.
#[derive(Clone, Debug)]
pub struct Image {
    /// The config file's path in the archive.
    pub config: String,
    /// The layer tars' paths, bottom first.
    pub layers: Vec<String>,
    /// Its `RepoTags`.
    pub labels: Vec<Label>,
}

/// Reads `manifest.json`.
pub fn read_manifest(tree: &Tree) -> Result<Vec<Image>, Failure> {
    let location = tree.location(MANIFEST_JSON);
    let bytes = tree.read_document(MANIFEST_JSON)?;
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| Failure::document(&location, format!("not JSON: {e}")))?;
    let items = value
        .as_array()
        .ok_or_else(|| Failure::document(&location, "not a JSON array"))?;
    items.iter().map(|item| image(item, &location)).collect()
}

fn image(item: &Value, location: &str) -> Result<Image, Failure> {
    let config = item.get("Config").and_then(Value::as_str);
    let config = config.ok_or_else(|| Failure::document(location, "an image without Config"))?;
    let mut layers = Vec::new();
    for layer in item
        .get("Layers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let path = layer.as_str();
        layers.push(path.ok_or_else(|| Failure::document(location, "a layer is not a path"))?);
    }
    let mut labels = Vec::new();
    for tag in item
        .get("RepoTags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let text = tag.as_str().unwrap_or_default();
        let name = Name::parse(text).ok_or_else(|| {
            Failure::document(
                location,
                format!("RepoTags: {text:?} is not an image reference"),
            )
        })?;
        labels.push(Label::Named(name));
    }
    Ok(Image {
        config: config.to_string(),
        layers: layers.into_iter().map(str::to_string).collect(),
        labels,
    })
}

/// A converted layer.
#[derive(Clone, Debug)]
struct Layer {
    descriptor: Descriptor,
    diff_id: String,
    blob: Blob,
}

/// Converts docker-archive images, sharing converted layers between images of one archive.
pub struct Converter<'a> {
    /// Where gzip'd layers are written.
    work: &'a Path,
    /// Converted layers by their location (`SOURCE:PATH`).
    layers: HashMap<String, Layer>,
    /// Files written so far (names the next one).
    written: usize,
}

impl<'a> Converter<'a> {
    /// A converter writing into `work`.
    pub fn new(work: &'a Path) -> Converter<'a> {
        Converter {
            work,
            layers: HashMap::new(),
            written: 0,
        }
    }

    /// Converts `image` of `tree`, adds its blobs to `store`, and returns its manifest.
    pub fn convert(
        &mut self,
        tree: &Rc<Tree>,
        image: &Image,
        store: &mut Store,
        progress: &mut Progress,
    ) -> Result<Descriptor, Failure> {
        let location = tree.location(&image.config);
        let config = tree.read_document(&image.config)?;
        let config_digest = sha256_digest(&config);
        check_named_digest(&image.config, &config_digest, &location)?;
        let value: Value = serde_json::from_slice(&config)
            .map_err(|e| Failure::document(&location, format!("not JSON: {e}")))?;
        let diff_ids = diff_ids(&value, image.layers.len(), &location)?;
        let total = image.layers.iter().filter_map(|p| tree.size(p)).sum();
        let shown = image
            .labels
            .first()
            .map_or_else(|| location.clone(), Label::display);
        progress.start(&format!("converting {shown}"), total);
        let mut layers = Vec::new();
        for (path, diff_id) in image.layers.iter().zip(diff_ids) {
            let layer = self.layer(tree, path, progress)?;
            if layer.diff_id != diff_id {
                return Err(Failure::BlobCorrupt {
                    location: tree.location(path),
                    reason: format!(
                        "its content hashes to {}, but the config's diff_ids say {diff_id}",
                        layer.diff_id
                    ),
                });
            }
            store.add(&layer.descriptor.digest, layer.blob.clone())?;
            layers.push(layer.descriptor);
        }
        progress.finish();
        let config_descriptor = Descriptor {
            media_type: OCI_CONFIG.into(),
            digest: config_digest,
            size: config.len() as u64,
            platform: None,
            artifact_type: None,
        };
        store.add(&config_descriptor.digest, in_memory(config))?;
        let manifest = manifest_json(&config_descriptor, &layers);
        let descriptor = Descriptor {
            media_type: OCI_MANIFEST.into(),
            digest: sha256_digest(&manifest),
            size: manifest.len() as u64,
            platform: platform(&value),
            artifact_type: None,
        };
        store.add(&descriptor.digest, in_memory(manifest))?;
        Ok(descriptor)
    }

    /// The converted layer at `path`, converting it on first use.
    fn layer(
        &mut self,
        tree: &Rc<Tree>,
        path: &str,
        progress: &mut Progress,
    ) -> Result<Layer, Failure> {
        let location = tree.location(path);
        if let Some(layer) = self.layers.get(&location) {
            progress.advance(layer.blob.size);
            return Ok(layer.clone());
        }
        let (reader, _) = tree.open(path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Failure::BlobMissing {
                location: location.clone(),
            },
            _ => Failure::io(location.as_ref(), "read", e),
        })?;
        let counted = Counting {
            inner: reader,
            progress: &mut *progress,
        };
        let mut input = BufReader::with_capacity(1 << 16, counted);
        let gzip = input
            .fill_buf()
            .is_ok_and(|head| head.starts_with(&[0x1f, 0x8b]));
        let converted = if gzip {
            keep_gzip(tree, path, input)
        } else {
            self.written += 1;
            let out = self.work.join(format!("layer-{}.tar.gz", self.written));
            gzip_layer(input, &out)
        };
        let layer = converted.map_err(|e| Failure::io(location.as_ref(), "convert layer", e))?;
        self.layers.insert(location, layer.clone());
        Ok(layer)
    }
}

/// A layer that is gzip'd already: its digest is the file's, its diff_id the content's.
fn keep_gzip(tree: &Rc<Tree>, path: &str, input: impl Read) -> io::Result<Layer> {
    let mut raw = HashingReader::new(input);
    let mut content = HashingWriter::new(io::sink());
    io::copy(&mut MultiGzDecoder::new(&mut raw), &mut content)?;
    let (digest, size) = raw.finish()?;
    let (_, diff_id, _) = content.finish();
    let blob = Blob {
        size,
        content: Content::Member(Rc::clone(tree), path.to_string()),
    };
    Ok(layer(digest, diff_id, blob))
}

/// Gzips an uncompressed layer into `out`.
fn gzip_layer(input: impl Read, out: &Path) -> io::Result<Layer> {
    let file = BufWriter::with_capacity(1 << 16, File::create(out)?);
    let mut raw = HashingReader::new(input);
    let mut gz = deterministic_gzip(HashingWriter::new(file), GZIP_LEVEL);
    io::copy(&mut raw, &mut gz)?;
    let (mut file, digest, size) = gz.finish()?.finish();
    file.flush()?;
    let (diff_id, _) = raw.finish()?;
    let blob = Blob {
        size,
        content: Content::File(PathBuf::from(out)),
    };
    Ok(layer(digest, diff_id, blob))
}

fn layer(digest: String, diff_id: String, blob: Blob) -> Layer {
    Layer {
        descriptor: Descriptor {
            media_type: OCI_LAYER_GZIP.into(),
            digest,
            size: blob.size,
            platform: None,
            artifact_type: None,
        },
        diff_id,
        blob,
    }
}

fn in_memory(bytes: Vec<u8>) -> Blob {
    Blob {
        size: bytes.len() as u64,
        content: Content::Memory(Rc::new(bytes)),
    }
}

/// A config stored as `<hex>.json` or `blobs/sha256/<hex>` is named by its digest: check it.
fn check_named_digest(path: &str, digest: &str, location: &str) -> Result<(), Failure> {
    let file = path.rsplit('/').next().unwrap_or(path);
    let stem = file.strip_suffix(".json").unwrap_or(file);
    let named = stem.len() == 64 && stem.bytes().all(|b| b.is_ascii_hexdigit());
    if named && digest.strip_prefix("sha256:") != Some(stem) {
        return Err(Failure::BlobCorrupt {
            location: location.to_string(),
            reason: format!("its content hashes to {digest}, not to its name"),
        });
    }
    Ok(())
}

/// The config's `rootfs.diff_ids`, one per layer.
fn diff_ids(config: &Value, layers: usize, location: &str) -> Result<Vec<String>, Failure> {
    let ids = config.pointer("/rootfs/diff_ids").and_then(Value::as_array);
    let ids: Vec<String> = ids
        .into_iter()
        .flatten()
        .filter_map(|id| id.as_str().map(str::to_string))
        .collect();
    if ids.len() != layers {
        return Err(Failure::document(
            location,
            format!(
                "the config has {} rootfs.diff_ids for {layers} layers",
                ids.len()
            ),
        ));
    }
    Ok(ids)
}

/// The OCI manifest, compact JSON with a fixed member order.
fn manifest_json(config: &Descriptor, layers: &[Descriptor]) -> Vec<u8> {
    let descriptor =
        |d: &Descriptor| json!({"mediaType": d.media_type, "digest": d.digest, "size": d.size});
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(config),
        "layers": layers.iter().map(descriptor).collect::<Vec<_>>(),
    });
    serde_json::to_vec(&manifest).unwrap_or_default()
}

/// `{"architecture", "os"[, "variant"]}` from the config, for the `index.json` entry.
fn platform(config: &Value) -> Option<Value> {
    let architecture = config.get("architecture").and_then(Value::as_str)?;
    let os = config.get("os").and_then(Value::as_str)?;
    let mut platform = json!({"architecture": architecture, "os": os});
    let variant = config.get("variant").and_then(Value::as_str);
    if let (Some(variant), Some(map)) = (variant, platform.as_object_mut()) {
        map.insert("variant".into(), Value::String(variant.into()));
    }
    Some(platform)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_names() {
        let digest = sha256_digest(b"{}");
        let hex = digest.trim_start_matches("sha256:");
        assert!(check_named_digest(&format!("{hex}.json"), &digest, "x").is_ok());
        assert!(check_named_digest(&format!("blobs/sha256/{hex}"), &digest, "x").is_ok());
        assert!(check_named_digest("config.json", &digest, "x").is_ok());
        let other = sha256_digest(b"[]");
        assert!(check_named_digest(&format!("{hex}.json"), &other, "x").is_err());
    }
}
