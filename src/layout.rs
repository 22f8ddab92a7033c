//! The OCI layout on disk: `oci-layout`, `index.json`, `blobs/<algorithm>/<hex>`.
//!
//! After unpacking, [`verify`] proves the payload is a layout a registry can serve: the marker
//! file and index parse, and every manifest reachable from `index.json` (through nested image
//! indexes) exists with its declared size and digest. Layers and configs are not hashed here:
//! they can be large, and the payload checksum already vouches for them.
//!
//! The walk is the repository map's ([`crate::repository::check`]: the same reader, strict), so
//! memory is bounded by the largest document whatever the nesting (issue 12): manifests are
//! checked breadth first from a queue, each document is dropped before the next is read, and
//! a manifest named twice is checked once. A layout past a limit ([`json::MAX_INDEX`],
//! [`json::MAX_DOCUMENT`], [`MAX_DEPTH`], [`MAX_MANIFESTS`]) is refused with a message naming
//! the limit, so that nothing it lists goes unserved.

use crate::error::{Error, Failure};
use crate::json::{self, Value};
use crate::sys;
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
    crate::repository::check(root)
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

/// Reads a whole file of at most `limit` bytes (else `too_large`); `missing` is the error if it
/// cannot be read or is not a regular file (a symbolic link is not followed, a FIFO not waited
/// on: issue 12). The buffer is sized from the file's length, so a document costs its size
/// once. (A plain loop: `Read::take` + `read_to_end` cost ~0.8 KB more.)
pub fn read_limited(
    path: &Path,
    limit: usize,
    missing: Error,
    too_large: Error,
) -> Result<Vec<u8>, Failure> {
    let too_large = || Failure::at(too_large, path);
    let not_a_file = || {
        let mut failure = Failure::at(missing, path);
        failure.detail = Some("not a regular file".into());
        failure
    };
    let mut file = match sys::open_served(path) {
        Ok(file) => file,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Err(not_a_file()),
        Err(e) => return Err(Failure::io(missing, path, e)),
    };
    let meta = sys::file_status(&file).map_err(|e| Failure::io(missing, path, e))?;
    if !meta.is_file() {
        return Err(not_a_file());
    }
    let length = meta.size();
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
