//! The payload: a gzip'd tar of the merged OCI layout, split into `zarf-payload-NNN` chunks
//! while it is written, and hashed on the way (the injector's checksum argument).
//!
//! Deterministic: entries in a fixed order (`blobs/`, each algorithm's directory, its blobs by
//! digest, `index.json`, `oci-layout`), every header with mtime 0, uid/gid 0, no user or group
//! names, mode 0644 (files) or 0755 (directories), and a gzip header without name or time. The
//! same blobs and `index.json` always give the same bytes.

use super::blobs::{open_verified, Store};
use super::failure::Failure;
use super::hashing::{deterministic_gzip, GZIP_LEVEL};
use super::oci::OCI_LAYOUT;
use super::progress::{Counting, Progress};
use sha2::{Digest as _, Sha256};
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// The file name prefix of a chunk (as the injector and Zarf expect).
pub const CHUNK_PREFIX: &str = "zarf-payload-";
/// The file holding the payload's hex SHA-256.
pub const CHECKSUM_FILE: &str = "payload.sha256";
/// The default chunk size: 768 KiB, Zarf's (`payloadChunkSize` in its `injector.go`), a
/// conservative margin under the API server's limit of 1 MiB of decoded ConfigMap values
/// ([`super::k8s::CONFIGMAP_LIMIT`]).
pub const DEFAULT_CHUNK_SIZE: u64 = 786_432;

/// What was written.
#[derive(Debug)]
pub struct Payload {
    /// The chunk files, in order.
    pub chunks: Vec<PathBuf>,
    /// The SHA-256 of their concatenation, hex.
    pub sha256: String,
    /// Their total size.
    pub bytes: u64,
}

/// The name of chunk `index`: `zarf-payload-000` ... `-999`, `-1000`, ...
pub fn chunk_name(index: usize) -> String {
    format!("{CHUNK_PREFIX}{index:03}")
}

/// Writes the layout of `store` and `index_json` as chunks of at most `chunk_size` bytes in
/// `out`, then `payload.sha256`.
pub fn write(
    store: &Store,
    index_json: &[u8],
    out: &Path,
    chunk_size: u64,
    progress: &mut Progress,
) -> Result<Payload, Failure> {
    let chunks = ChunkWriter::new(out, chunk_size);
    let mut tar = tar::Builder::new(deterministic_gzip(chunks, GZIP_LEVEL));
    let write_failure = |e| Failure::io(out, "write payload", e);
    append_dirs(&mut tar, store).map_err(write_failure)?;
    let (_, total) = store.totals();
    progress.start("writing payload", total);
    for (digest, blob) in store.iter() {
        let mut reader = open_verified(digest, blob)?;
        let path = reader_path(digest);
        let mut header = header(tar::EntryType::Regular, blob.size);
        let counted = Counting {
            inner: &mut reader,
            progress: &mut *progress,
        };
        if let Err(e) = tar.append_data(&mut header, &path, counted) {
            let location = reader.location().to_string();
            return Err(Failure::io(location.as_ref(), "copy into the payload", e));
        }
        reader.finish()?;
    }
    progress.finish();
    append_file(&mut tar, "index.json", index_json).map_err(write_failure)?;
    append_file(&mut tar, "oci-layout", OCI_LAYOUT.as_bytes()).map_err(write_failure)?;
    let gz = tar.into_inner().map_err(write_failure)?;
    let chunks = gz.finish().map_err(write_failure)?;
    let payload = chunks.finish().map_err(write_failure)?;
    let checksum = out.join(CHECKSUM_FILE);
    fs::write(&checksum, format!("{}\n", payload.sha256))
        .map_err(|e| Failure::io(&checksum, "write", e))?;
    Ok(payload)
}

/// `blobs/<algorithm>/<hex>` of a digest text.
fn reader_path(digest: &str) -> String {
    crate::digest::Digest::parse(digest)
        .map(|d| d.blob_path())
        .unwrap_or_default()
}

/// A header with the fixed metadata; the path and checksum are set when appended.
fn header(kind: tar::EntryType, size: u64) -> tar::Header {
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(kind);
    header.set_size(size);
    header.set_mode(if kind.is_dir() { 0o755 } else { 0o644 });
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header
}

/// `blobs/` and `blobs/<algorithm>/` for each algorithm the store uses.
fn append_dirs<W: Write>(tar: &mut tar::Builder<W>, store: &Store) -> io::Result<()> {
    tar.append_data(
        &mut header(tar::EntryType::Directory, 0),
        "blobs/",
        io::empty(),
    )?;
    let mut algorithms: Vec<&str> = store
        .iter()
        .filter_map(|(digest, _)| digest.split_once(':').map(|(a, _)| a))
        .collect();
    algorithms.dedup();
    for algorithm in algorithms {
        let path = format!("blobs/{algorithm}/");
        tar.append_data(&mut header(tar::EntryType::Directory, 0), path, io::empty())?;
    }
    Ok(())
}

fn append_file<W: Write>(tar: &mut tar::Builder<W>, path: &str, data: &[u8]) -> io::Result<()> {
    let mut header = header(tar::EntryType::Regular, data.len() as u64);
    tar.append_data(&mut header, path, data)
}

/// Removes the chunks and checksum file of an earlier run from `dir`.
pub fn remove_old(dir: &Path) -> Result<(), Failure> {
    let entries = fs::read_dir(dir).map_err(|e| Failure::io(dir, "read", e))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(CHUNK_PREFIX) || name == CHECKSUM_FILE {
            let path = entry.path();
            fs::remove_file(&path).map_err(|e| Failure::io(&path, "remove", e))?;
        }
    }
    Ok(())
}

/// Splits what is written into numbered chunk files, hashing it all.
struct ChunkWriter {
    dir: PathBuf,
    size: u64,
    current: Option<(BufWriter<File>, u64)>,
    chunks: Vec<PathBuf>,
    hasher: Sha256,
    bytes: u64,
}

impl ChunkWriter {
    fn new(dir: &Path, size: u64) -> ChunkWriter {
        ChunkWriter {
            dir: dir.to_path_buf(),
            size: size.max(1),
            current: None,
            chunks: Vec::new(),
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    fn finish(mut self) -> io::Result<Payload> {
        if let Some((mut file, _)) = self.current.take() {
            file.flush()?;
        }
        let mut sha256 = String::new();
        crate::digest::push_hex(&mut sha256, &self.hasher.finalize());
        Ok(Payload {
            chunks: self.chunks,
            sha256,
            bytes: self.bytes,
        })
    }

    /// The open chunk with room left, opening the next one if needed.
    fn chunk(&mut self) -> io::Result<&mut (BufWriter<File>, u64)> {
        let full = self.current.as_ref().is_none_or(|(_, n)| *n >= self.size);
        if full {
            if let Some((mut file, _)) = self.current.take() {
                file.flush()?;
            }
            let path = self.dir.join(chunk_name(self.chunks.len()));
            let file = File::create(&path)?;
            self.chunks.push(path);
            self.current = Some((BufWriter::with_capacity(1 << 16, file), 0));
        }
        self.current
            .as_mut()
            .ok_or_else(|| io::Error::other("no chunk"))
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let size = self.size;
        let (file, written) = self.chunk()?;
        let room = usize::try_from(size - *written).unwrap_or(usize::MAX);
        let part = buf.get(..room.min(buf.len())).unwrap_or_default();
        let n = file.write(part)?;
        *written += n as u64;
        self.hasher.update(part.get(..n).unwrap_or_default());
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.current {
            Some((file, _)) => file.flush(),
            None => Ok(()),
        }
    }
}

/// Reads the chunks back in order (for tests and the Kubernetes writer).
pub fn read_chunk(path: &Path) -> Result<Vec<u8>, Failure> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut file| file.read_to_end(&mut bytes))
        .map_err(|e| Failure::io(path, "read", e))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(chunk_name(0), "zarf-payload-000");
        assert_eq!(chunk_name(999), "zarf-payload-999");
        assert_eq!(chunk_name(1000), "zarf-payload-1000");
    }
}
