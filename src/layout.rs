//! The OCI image layout on disk: `oci-layout`, `index.json`, `blobs/<algorithm>/<hex>`.
//!
//! After unpacking, [`verify`] proves the payload is a layout a registry can serve: the marker
//! file and index parse, and every manifest reachable from `index.json` (through nested image
//! indexes) exists with its declared size and digest. Layers and configs are not hashed here:
//! they can be large, and the payload checksum already vouches for them.

use crate::digest::{Digest, Hasher};
use crate::error::{Error, Failure};
use crate::json::{self, Json};
use crate::sys;
use std::io::{self, Read};
use std::path::Path;

/// How deeply image indexes may nest below `index.json`.
const MAX_DEPTH: usize = 8;

/// Media types of an image index (OCI) or manifest list (Docker).
pub const INDEX_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// Checks that `root` holds an OCI image layout whose manifests are all present and intact.
pub fn verify(root: &Path) -> Result<(), Failure> {
    let marker_path = root.join("oci-layout");
    let marker = read_json(&marker_path, json::MAX_DOCUMENT, Error::LayoutMarker)?;
    if marker.get_str("imageLayoutVersion").is_none() {
        return Err(Failure::at(Error::LayoutMarker, &marker_path));
    }
    let index_path = root.join("index.json");
    let index = read_json(&index_path, json::MAX_DOCUMENT, Error::LayoutIndex)?;
    if index.get("manifests").and_then(Json::as_array).is_none() {
        return Err(Failure::at(Error::LayoutIndex, &index_path));
    }
    check_index(root, &index, &index_path, 0)
}

/// Reads and parses a JSON file of at most `limit` bytes; `missing` is the error if it
/// cannot be read or parsed.
pub fn read_json(path: &Path, limit: usize, missing: Error) -> Result<Json, Failure> {
    let bytes = read_limited(path, limit, missing)?;
    json::parse(&bytes)
        .map_err(|e| Failure::at(if e == Error::JsonInvalid { missing } else { e }, path))
}

/// Reads a whole file of at most `limit` bytes (else [`Error::JsonTooLarge`]); `missing` is
/// the error if it cannot be read. (A plain loop: `Read::take` + `read_to_end` cost ~0.8 KB
/// more in the binary.)
pub fn read_limited(path: &Path, limit: usize, missing: Error) -> Result<Vec<u8>, Failure> {
    let mut file = sys::open_read(path).map_err(|e| Failure::io(missing, path, e))?;
    let mut bytes = Vec::new();
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
            return Err(Failure::at(Error::JsonTooLarge, path));
        }
    }
}

fn check_index(root: &Path, index: &Json, at: &Path, depth: usize) -> Result<(), Failure> {
    if depth > MAX_DEPTH {
        return Err(Failure::at(Error::NestingTooDeep, at));
    }
    let manifests = index
        .get("manifests")
        .and_then(Json::as_array)
        .unwrap_or_default();
    for descriptor in manifests {
        check_manifest(root, descriptor, at, depth)?;
    }
    Ok(())
}

/// Checks one manifest descriptor found in the index at `at`, and recurses into indexes.
fn check_manifest(root: &Path, descriptor: &Json, at: &Path, depth: usize) -> Result<(), Failure> {
    let digest_text = descriptor.get_str("digest").unwrap_or_default();
    let digest =
        Digest::parse(digest_text).map_err(|_| Failure::at(Error::DescriptorInvalid, at))?;
    let size = descriptor.get("size").and_then(Json::as_u64);
    let size = size.ok_or_else(|| Failure::at(Error::DescriptorInvalid, at))?;
    let path = root.join(digest.blob_path());
    verify_blob(&path, &digest, size)?;
    let declared = descriptor.get_str("mediaType");
    let maybe_index = declared.is_none_or(|t| INDEX_TYPES.contains(&t));
    if maybe_index && size <= json::MAX_DOCUMENT as u64 {
        let document = read_json(&path, json::MAX_DOCUMENT, Error::JsonInvalid)?;
        let own_type = document.get_str("mediaType");
        let is_index = declared
            .or(own_type)
            .map_or(document.get("manifests").is_some(), |t| {
                INDEX_TYPES.contains(&t)
            });
        if is_index {
            return check_index(root, &document, &path, depth + 1);
        }
    }
    Ok(())
}

/// Checks that the blob at `path` has `size` bytes and hashes to `digest`, streaming it.
pub fn verify_blob(path: &Path, digest: &Digest<'_>, size: u64) -> Result<(), Failure> {
    let mut file = sys::open_read(path).map_err(|e| Failure::io(Error::BlobMissing, path, e))?;
    let actual = file
        .metadata()
        .map_err(|e| Failure::io(Error::BlobMissing, path, e))?
        .len();
    if actual != size {
        return Err(Failure::at(Error::BlobSize, path));
    }
    let mut hasher = Hasher::new(digest.algorithm);
    let mut buffer = vec![0u8; 64 << 10];
    loop {
        let n = match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Failure::io(Error::BlobMissing, path, e)),
        };
        hasher.update(buffer.get(..n).unwrap_or_default());
    }
    if hasher.matches(digest) {
        Ok(())
    } else {
        Err(Failure::at(Error::BlobDigest, path))
    }
}
