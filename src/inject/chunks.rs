//! Finding the `zarf-payload-*` chunk files and reading them back as one hashed stream.
//!
//! Zarf names chunks `zarf-payload-000`, `-001`, ... and past 999 the names grow (`-1000`), so
//! they are ordered by their number, not by string. A gap or a duplicate number means the
//! payload is incomplete, which is reported before any byte is read.

use crate::error::{Error, Failure};
use crate::sys;
use sha2::{Digest as _, Sha256};
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// The file name prefix of a chunk.
pub const PREFIX: &str = "zarf-payload-";

/// The chunk files of a payload, in order, and their total size.
#[derive(Debug)]
pub struct Chunks {
    /// The chunk files, in payload order.
    pub paths: Vec<PathBuf>,
    /// Their total size in bytes.
    pub total_bytes: u64,
}

/// Lists the chunks in `dir`, ordered by number; refuses gaps, duplicates and bad names.
pub fn find(dir: &Path) -> Result<Chunks, Failure> {
    let mut names = Vec::new();
    sys::each_name(dir, &mut |name| {
        names.push(name.to_os_string());
        Ok(())
    })
    .map_err(|e| Failure::io(Error::NoChunks, dir, e))?;
    let mut listed = Vec::new();
    // Ordered by number, then by name: the key is the number's digits, zero-padded to nine
    // (at most nine, see `chunk_number`), then the name, sorted with the one sort of the
    // binary (`table::sorted`) with the position in `listed`.
    let mut order = Vec::new();
    for name in &names {
        let Some(name) = name.to_str() else { continue };
        let Some(suffix) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let path = dir.join(name);
        let number = chunk_number(suffix).ok_or_else(|| Failure::at(Error::ChunkName, &path))?;
        let mut key = String::with_capacity(9 + name.len());
        while key.len() + suffix.len() < 9 {
            key.push('0');
        }
        key.push_str(suffix);
        key.push_str(name);
        order.push((key, listed.len()));
        listed.push((number, path));
    }
    if order.is_empty() {
        return Err(Failure::at(Error::NoChunks, dir));
    }
    let mut paths = Vec::with_capacity(order.len());
    let mut total_bytes = 0u64;
    for (expected, (_, at)) in (0u64..).zip(crate::table::sorted(order)) {
        let Some((number, path)) = listed.get_mut(at).map(std::mem::take) else {
            continue;
        };
        if number != expected {
            let error = if number < expected {
                Error::ChunkDuplicate
            } else {
                Error::ChunkMissing
            };
            return Err(Failure::at(error, &missing_or(&path, dir, expected, error)));
        }
        let meta = sys::path_status(&path).map_err(|e| Failure::io(Error::ChunkRead, &path, e))?;
        if !meta.is_file() {
            return Err(Failure::at(Error::ChunkRead, &path));
        }
        total_bytes += meta.size();
        paths.push(path);
    }
    Ok(Chunks { paths, total_bytes })
}

/// For a gap, names the chunk that is missing; for a duplicate, the second file.
fn missing_or(path: &Path, dir: &Path, expected: u64, error: Error) -> PathBuf {
    if error == Error::ChunkMissing {
        // `{PREFIX}{expected:03}`, without `format!`.
        let mut name = String::from(PREFIX);
        for width in [100, 10] {
            if expected < width {
                name.push('0');
            }
        }
        crate::range::push_decimal(&mut name, expected);
        dir.join(name)
    } else {
        path.to_path_buf()
    }
}

/// The number in a chunk name's suffix: decimal digits only, at most 9 of them.
fn chunk_number(suffix: &str) -> Option<u64> {
    let digits_only =
        !suffix.is_empty() && suffix.len() <= 9 && suffix.bytes().all(|b| b.is_ascii_digit());
    if digits_only {
        suffix.parse().ok()
    } else {
        None
    }
}

/// Reads the chunks one after the other as one stream, hashing every byte with SHA-256.
///
/// When a chunk cannot be read, the `io::Error` goes up the reader chain and
/// [`ChunkReader::failed_chunk`] names the file, so the final message can say which one. The
/// failure is sticky: every later read repeats it, so [`ChunkReader::drain`] cannot skip the
/// chunk and hash the rest into a misleading checksum mismatch (issue 7).
pub struct ChunkReader {
    paths: std::vec::IntoIter<PathBuf>,
    current: Option<(File, PathBuf)>,
    failed: Option<PathBuf>,
    /// The OS error code of the failed chunk, if it had one.
    failed_os: Option<i32>,
    hasher: Sha256,
    bytes: u64,
}

impl ChunkReader {
    /// A reader over `chunks`, in order.
    pub fn new(chunks: Vec<PathBuf>) -> ChunkReader {
        ChunkReader {
            paths: chunks.into_iter(),
            current: None,
            failed: None,
            failed_os: None,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// The chunk whose open or read failed, if one did.
    pub fn failed_chunk(&self) -> Option<&Path> {
        self.failed.as_deref()
    }

    /// Reads and hashes whatever is left, so that the digest covers every chunk.
    pub fn drain(&mut self) -> io::Result<()> {
        let mut buf = vec![0u8; 64 << 10];
        while self.read(&mut buf)? > 0 {}
        Ok(())
    }

    /// The SHA-256 of all bytes read so far, and their count.
    pub fn finish(self) -> ([u8; 32], u64) {
        (self.hasher.finalize().into(), self.bytes)
    }

    fn read_current(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.failed.is_some() {
            return Err(self.failed_os.map_or_else(
                || io::Error::other(Error::ChunkRead),
                io::Error::from_raw_os_error,
            ));
        }
        loop {
            if self.current.is_none() {
                let Some(path) = self.paths.next() else {
                    return Ok(0);
                };
                match sys::open_read(&path) {
                    Ok(file) => self.current = Some((file, path)),
                    Err(e) => {
                        self.failed = Some(path);
                        self.failed_os = e.raw_os_error();
                        return Err(e);
                    }
                }
            }
            let Some((file, path)) = self.current.as_mut() else {
                return Ok(0);
            };
            match file.read(buf) {
                Ok(0) => self.current = None,
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.failed = Some(path.clone());
                    self.failed_os = e.raw_os_error();
                    return Err(e);
                }
            }
        }
    }
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if sys::terminating() {
            return Err(io::Error::other(Error::Terminated));
        }
        let n = self.read_current(buf)?;
        let read = buf.get(..n).unwrap_or_default();
        self.hasher.update(read);
        self.bytes += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_chunk_is_named_with_three_digits_at_least() {
        for n in [0u64, 7, 42, 999, 1000, 123_456_789] {
            let path = missing_or(Path::new("x"), Path::new("/init"), n, Error::ChunkMissing);
            let want = format!("/init/{PREFIX}{n:03}");
            assert_eq!(path, PathBuf::from(want), "{n}");
        }
    }

    #[test]
    fn chunk_numbers() {
        let cases: &[(&str, Option<u64>)] = &[
            ("000", Some(0)),
            ("999", Some(999)),
            ("1000", Some(1000)),
            ("7", Some(7)),
            ("", None),
            ("1a", None),
            ("-1", None),
            ("+1", None),
            ("0001234567890", None),
        ];
        for (suffix, want) in cases {
            assert_eq!(chunk_number(suffix), *want, "{suffix:?}");
        }
    }
}
