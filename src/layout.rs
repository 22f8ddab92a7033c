//! The OCI layout on disk: `oci-layout`, `index.json`, `blobs/<algorithm>/<hex>`.
//!
//! After unpacking, [`verify`] proves the payload is a layout a registry can serve: the marker
//! file and index parse, and every manifest reachable from `index.json` (through nested image
//! indexes) exists with its declared size and digest. Layers and configs are not hashed here:
//! they can be large, and the payload checksum already vouches for them.
//!
//! Memory is bounded by the largest document, whatever the nesting (issue 12): manifests are
//! checked breadth first from a queue of descriptors, each document is dropped before the
//! next is read, and a manifest named twice is checked once. A layout past a limit
//! ([`json::MAX_INDEX`], [`json::MAX_DOCUMENT`], [`MAX_DEPTH`], [`MAX_MANIFESTS`]) is refused
//! with a message naming the limit, so that nothing it lists goes unserved.

use crate::digest::{Digest, Hasher};
use crate::error::{Error, Failure};
use crate::json::{self, Value};
use crate::sys;
use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::Path;

/// How many links (index → manifest, manifest → subject) are followed below `index.json`:
/// image indexes nest at most this deep.
pub const MAX_DEPTH: usize = 8;
/// How many distinct manifests a layout may have (image manifests, indexes, artifacts).
pub const MAX_MANIFESTS: usize = 100_000;

/// Media types of an image index (OCI) or manifest list (Docker).
pub const INDEX_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// A manifest descriptor waiting to be checked.
#[derive(Default)]
struct Pending {
    digest: String,
    size: u64,
    /// Its `mediaType` is an index type (`Some(true)`), another (`Some(false)`) or absent.
    declared_index: Option<bool>,
    /// The depth of the document it names: 1 for an entry of `index.json`.
    depth: usize,
}

/// Checks that `root` holds an OCI image layout whose manifests are all present and intact.
pub fn verify(root: &Path) -> Result<(), Failure> {
    let marker_path = root.join("oci-layout");
    let bytes = read_limited(
        &marker_path,
        json::MAX_DOCUMENT,
        Error::LayoutMarker,
        Error::JsonTooLarge,
    )?;
    let marker = document(&bytes, &marker_path, Error::LayoutMarker)?;
    if marker.get_str("imageLayoutVersion").is_none() {
        return Err(Failure::at(Error::LayoutMarker, &marker_path));
    }
    let index_path = root.join("index.json");
    let mut queue = Vec::new();
    let mut seen = BTreeMap::new();
    {
        let bytes = read_index(&index_path)?;
        let manifests = index_manifests(&bytes, &index_path)?;
        queue_children(manifests, &index_path, 1, &mut queue, &mut seen)?;
    }
    let mut next = 0;
    while let Some(pending) = queue.get_mut(next) {
        let pending = std::mem::take(pending);
        next += 1;
        check_manifest(root, &pending, &mut queue, &mut seen)?;
    }
    Ok(())
}

/// The `manifests` array of `index.json`, whose bytes are `bytes`.
pub fn index_manifests<'a>(bytes: &'a [u8], path: &Path) -> Result<Value<'a>, Failure> {
    let index = document(bytes, path, Error::LayoutIndex)?;
    match index.get("manifests") {
        Some(manifests) if manifests.is_array() => Ok(manifests),
        _ => Err(Failure::at(Error::LayoutIndex, path)),
    }
}

/// Reads `index.json` (at most [`json::MAX_INDEX`] bytes).
pub fn read_index(path: &Path) -> Result<Vec<u8>, Failure> {
    read_limited(
        path,
        json::MAX_INDEX,
        Error::LayoutIndex,
        Error::IndexTooLarge,
    )
}

/// Checks that `bytes`, read from `path`, are one JSON document; `invalid` is the error if not.
pub fn document<'a>(bytes: &'a [u8], path: &Path, invalid: Error) -> Result<Value<'a>, Failure> {
    json::read(bytes).map_err(|_| Failure::at(invalid, path))
}

/// Queues each descriptor of `manifests` (found in the document at `at`) not seen before.
fn queue_children(
    manifests: Value<'_>,
    at: &Path,
    depth: usize,
    queue: &mut Vec<Pending>,
    seen: &mut BTreeMap<String, usize>,
) -> Result<(), Failure> {
    for descriptor in manifests.items() {
        let invalid = || Failure::at(Error::DescriptorInvalid, at);
        let digest = descriptor.get_str("digest").ok_or_else(invalid)?;
        Digest::parse(&digest).map_err(|_| invalid())?;
        let size = descriptor.get("size").and_then(Value::as_u64);
        let size = size.ok_or_else(invalid)?;
        let declared = descriptor.get_str("mediaType");
        let declared_index = declared.map(|t| INDEX_TYPES.contains(&&*t));
        // A manifest named twice is checked once, unless the sizes differ (one is wrong).
        let known = seen.get(&*digest).copied();
        if known == Some(size as usize) {
            continue;
        }
        if known.is_none() {
            if seen.len() == MAX_MANIFESTS {
                return Err(Failure::at(Error::TooManyManifests, at));
            }
            seen.insert(digest.to_string(), size as usize);
        }
        queue.push(Pending {
            digest: digest.into_owned(),
            size,
            declared_index,
            depth,
        });
    }
    Ok(())
}

/// Checks one manifest: its size, its digest and, for an image index, queues its children.
fn check_manifest(
    root: &Path,
    pending: &Pending,
    queue: &mut Vec<Pending>,
    seen: &mut BTreeMap<String, usize>,
) -> Result<(), Failure> {
    let digest = Digest::parse(&pending.digest).map_err(|_| Error::DescriptorInvalid)?;
    let path = root.join(digest.blob_path());
    if pending.size > json::MAX_DOCUMENT as u64 {
        return Err(Failure::at(Error::JsonTooLarge, &path));
    }
    let bytes = read_manifest(&path, &digest, pending.size as usize)?;
    if pending.declared_index == Some(false) {
        return Ok(());
    }
    let document = document(&bytes, &path, Error::JsonInvalid)?;
    let is_index = match (pending.declared_index, document.get_str("mediaType")) {
        (Some(declared), _) => declared,
        (None, Some(own)) => INDEX_TYPES.contains(&&*own),
        (None, None) => document.get("manifests").is_some(),
    };
    if !is_index {
        return Ok(());
    }
    if pending.depth > MAX_DEPTH {
        return Err(Failure::at(Error::NestingTooDeep, &path));
    }
    if let Some(children) = document.get("manifests") {
        queue_children(children, &path, pending.depth + 1, queue, seen)?;
    }
    Ok(())
}

/// Reads the manifest at `path`, which must have `size` bytes and hash to `digest`.
fn read_manifest(path: &Path, digest: &Digest<'_>, size: usize) -> Result<Vec<u8>, Failure> {
    let bytes = read_limited(path, size, Error::BlobMissing, Error::BlobSize)?;
    if bytes.len() != size {
        return Err(Failure::at(Error::BlobSize, path));
    }
    let mut hasher = Hasher::new(digest.algorithm);
    hasher.update(&bytes);
    if !hasher.matches(digest) {
        return Err(Failure::at(Error::BlobDigest, path));
    }
    Ok(bytes)
}

/// Reads a whole file of at most `limit` bytes (else `too_large`); `missing` is the error if it
/// cannot be read. The buffer is sized from the file's length, so a document costs its size
/// once. (A plain loop: `Read::take` + `read_to_end` cost ~0.8 KB more.)
pub fn read_limited(
    path: &Path,
    limit: usize,
    missing: Error,
    too_large: Error,
) -> Result<Vec<u8>, Failure> {
    let too_large = || Failure::at(too_large, path);
    let mut file = sys::open_read(path).map_err(|e| Failure::io(missing, path, e))?;
    let length = file.metadata().map_or(0, |m| m.len());
    if length > limit as u64 {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(length as usize);
    let mut buffer = [0u8; 8192];
    loop {
        let n = match file.read(&mut buffer) {
            Ok(0) => return Ok(bytes),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Failure::io(missing, path, e)),
        };
        bytes.extend_from_slice(buffer.get(..n).unwrap_or_default());
        if bytes.len() > limit {
            return Err(too_large());
        }
    }
}
