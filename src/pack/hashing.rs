//! SHA-256 while reading or writing, and deterministic gzip.

use flate2::write::GzEncoder;
use flate2::{Compression, GzBuilder};
use sha2::{Digest as _, Sha256};
use std::io::{self, Read, Write};

/// The gzip level of converted layers and of the payload (gzip's own default).
pub const GZIP_LEVEL: u32 = 6;

/// A gzip encoder whose header never varies: no name, no comment, mtime 0, OS "unknown".
pub fn deterministic_gzip<W: Write>(out: W, level: u32) -> GzEncoder<W> {
    GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(out, Compression::new(level))
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    finish(Sha256::new_with_prefix(bytes))
}

fn finish(hasher: Sha256) -> String {
    let mut text = String::from("sha256:");
    crate::digest::push_hex(&mut text, &hasher.finalize());
    text
}

/// Hashes what is read through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    /// Bytes read so far.
    pub count: u64,
}

impl<R: Read> HashingReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// Reads what is left (so that the hash covers it), then returns `sha256:<hex>` and the
    /// byte count.
    pub fn finish(mut self) -> io::Result<(String, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((finish(self.hasher), self.count))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(buf.get(..n).unwrap_or_default());
        self.count += n as u64;
        Ok(n)
    }
}

/// Hashes what is written through it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    /// Bytes written so far.
    pub count: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// The inner writer, `sha256:<hex>` and the byte count.
    pub fn finish(self) -> (W, String, u64) {
        (self.inner, finish(self.hasher), self.count)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(buf.get(..n).unwrap_or_default());
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_deterministic_and_fixed_header() {
        let data = b"hello hello hello";
        let make = || {
            let mut gz = deterministic_gzip(Vec::new(), GZIP_LEVEL);
            gz.write_all(data)
                .and_then(|_| gz.finish())
                .unwrap_or_default()
        };
        let (a, b) = (make(), make());
        assert_eq!(a, b);
        // magic, deflate, no flags, mtime 0, XFL 0 (level 6), OS unknown
        assert_eq!(
            a.get(..10),
            Some(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255][..])
        );
    }

    #[test]
    fn hashes() {
        let empty = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(sha256_digest(b""), empty);
        let reader = HashingReader::new(&b"abc"[..]);
        let (digest, count) = reader.finish().unwrap_or_default();
        assert_eq!((digest, count), (sha256_digest(b"abc"), 3));
    }
}
