//! The blobs of the merged layout: one per digest, whichever source had it first, each read
//! back through a check of its size and digest while it is copied into the payload.

use super::failure::Failure;
use super::tree::Tree;
use crate::digest::{Digest, Hasher};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;
use std::rc::Rc;

/// Where a blob's bytes are.
#[derive(Clone, Debug)]
pub enum Content {
    /// In memory (manifests, indexes and configs, already checked when read).
    Memory(Rc<Vec<u8>>),
    /// A file of a source.
    Member(Rc<Tree>, String),
    /// A file the packer wrote (a layer it gzip'd).
    File(PathBuf),
}

/// A blob of the merged layout.
#[derive(Clone, Debug)]
pub struct Blob {
    /// Its size in bytes.
    pub size: u64,
    /// Its bytes.
    pub content: Content,
}

impl Blob {
    /// Where the blob comes from, for messages.
    pub fn location(&self, digest: &str) -> String {
        match &self.content {
            Content::Memory(_) => format!("(generated) {digest}"),
            Content::Member(tree, path) => tree.location(path),
            Content::File(path) => path.display().to_string(),
        }
    }

    fn open(&self) -> io::Result<Box<dyn Read + '_>> {
        Ok(match &self.content {
            Content::Memory(bytes) => Box::new(bytes.as_slice()),
            Content::Member(tree, path) => tree.open(path)?.0,
            Content::File(path) => Box::new(File::open(path)?),
        })
    }
}

/// The blobs by digest text (`sha256:<hex>`), in digest order.
#[derive(Debug, Default)]
pub struct Store {
    blobs: BTreeMap<String, Blob>,
    /// How many blobs were offered again by another image or source.
    pub shared: u64,
    /// Their bytes, counted once per extra offer.
    pub shared_bytes: u64,
}

impl Store {
    /// Adds `blob` unless the digest is there already (then the sizes must agree). Returns
    /// whether it was new.
    pub fn add(&mut self, digest: &str, blob: Blob) -> Result<bool, Failure> {
        if let Some(have) = self.blobs.get(digest) {
            if have.size != blob.size {
                return Err(Failure::BlobCorrupt {
                    location: blob.location(digest),
                    reason: format!(
                        "{} bytes, but {} has {} bytes under the same digest",
                        blob.size,
                        have.location(digest),
                        have.size
                    ),
                });
            }
            self.shared += 1;
            self.shared_bytes += blob.size;
            return Ok(false);
        }
        self.blobs.insert(digest.to_string(), blob);
        Ok(true)
    }

    /// The blobs in digest order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Blob)> {
        self.blobs
            .iter()
            .map(|(digest, blob)| (digest.as_str(), blob))
    }

    /// How many blobs, and their total size.
    pub fn totals(&self) -> (u64, u64) {
        let bytes = self.blobs.values().map(|b| b.size).sum();
        (self.blobs.len() as u64, bytes)
    }
}

/// Opens the blob for reading through a check of its size and digest: read it to the end,
/// then call [`Verified::finish`]. It yields at most `blob.size` bytes.
pub fn open_verified<'a>(digest: &str, blob: &'a Blob) -> Result<Verified<'a>, Failure> {
    let location = blob.location(digest);
    let Ok(parsed) = Digest::parse(digest) else {
        return Err(Failure::BlobCorrupt {
            location,
            reason: "unsupported digest".into(),
        });
    };
    let reader = blob.open().map_err(|e| open_failure(&location, e))?;
    Ok(Verified {
        inner: reader.take(blob.size),
        hasher: Hasher::new(parsed.algorithm),
        digest: digest.to_string(),
        size: blob.size,
        count: 0,
        location,
    })
}

/// A blob being read and checked (see [`open_verified`]).
pub struct Verified<'a> {
    inner: io::Take<Box<dyn Read + 'a>>,
    hasher: Hasher,
    digest: String,
    size: u64,
    count: u64,
    location: String,
}

impl Verified<'_> {
    /// Where the blob comes from.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Checks the bytes read so far against the blob's size and digest.
    pub fn finish(self) -> Result<(), Failure> {
        if self.count != self.size {
            return Err(Failure::BlobCorrupt {
                location: self.location,
                reason: format!(
                    "{} bytes, but its descriptor says {}",
                    self.count, self.size
                ),
            });
        }
        let matches = Digest::parse(&self.digest).is_ok_and(|d| self.hasher.matches(&d));
        if !matches {
            return Err(Failure::BlobCorrupt {
                location: self.location,
                reason: format!("its content does not hash to {}", self.digest),
            });
        }
        Ok(())
    }
}

impl Read for Verified<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(buf.get(..n).unwrap_or_default());
        self.count += n as u64;
        Ok(n)
    }
}

fn open_failure(location: &str, error: io::Error) -> Failure {
    if error.kind() == io::ErrorKind::NotFound {
        Failure::BlobMissing {
            location: location.to_string(),
        }
    } else {
        Failure::io(location.as_ref(), "read", error)
    }
}
