//! A tar reader that writes regular files and directories, and nothing else, under one root.
//!
//! The tar crate costs ~50 KB; this costs ~10 KB. It reads what real packers write: ustar,
//! GNU (long names `L`, base-256 sizes) and PAX (`x` records for `path` and `size`; `g` global
//! headers are skipped). The archive is hostile until its checksum is verified, so:
//! absolute paths, `..`, links, devices, FIFOs and unknown entry types make the whole payload
//! invalid; set-id and sticky bits are dropped; files are opened with `O_NOFOLLOW` inside a
//! staging directory that the injector itself created. Every size is checked before use.

use crate::error::{Error, Failure};
use crate::sys;
use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

const BLOCK: usize = 512;
/// The longest entry name accepted (Linux's PATH_MAX).
const MAX_NAME: u64 = 4096;
/// The largest PAX or GNU long-name record accepted.
const MAX_META: u64 = 1 << 20;
/// The most components an entry path may have. An OCI layout needs three
/// (`blobs/<algorithm>/<hex>`); 32 leaves room for anything else a payload may carry, while a
/// path of thousands of levels (a 210-byte payload can hold one) is refused before a
/// directory of it is made: removing such a tree takes care, and nothing needs one (issue 12).
pub const MAX_DEPTH: usize = 32;

/// What an extraction wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Regular files written.
    pub files: u64,
    /// Bytes written to them.
    pub bytes: u64,
}

/// Turns an error from the input stream into a failure without a path: the caller knows
/// which file the stream came from.
pub fn read_failure(error: io::Error) -> Failure {
    match Error::inside(&error) {
        Some(inner) => Failure::new(inner),
        None => {
            let mut failure = Failure::new(Error::ChunkRead);
            failure.os = Some(error);
            failure
        }
    }
}

/// Reads exactly `buf.len()` bytes; `Ok(false)` if the input ended before the first byte.
fn read_full(input: &mut dyn Read, buf: &mut [u8]) -> Result<bool, Failure> {
    let mut filled = 0;
    while filled < buf.len() {
        let rest = buf.get_mut(filled..).unwrap_or_default();
        match input.read(rest) {
            Ok(0) if filled == 0 => return Ok(false),
            Ok(0) => return Err(Failure::new(Error::TarTruncated)),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(read_failure(e)),
        }
    }
    Ok(true)
}

/// The size of `len` bytes rounded up to whole blocks.
fn padded(len: u64) -> Option<u64> {
    len.checked_add(BLOCK as u64 - 1)
        .map(|n| n & !(BLOCK as u64 - 1))
}

/// Reads and discards up to `len` bytes (all of them, for `u64::MAX`); returns how many there
/// were. (A plain loop: `io::copy` brings std's zero-copy machinery into the binary.)
pub fn discard(input: &mut dyn Read, len: u64) -> io::Result<u64> {
    let mut buffer = [0u8; 8192];
    let mut done = 0;
    while done < len {
        let want = usize::try_from(len - done)
            .unwrap_or(usize::MAX)
            .min(buffer.len());
        match input.read(buffer.get_mut(..want).unwrap_or_default()) {
            Ok(0) => break,
            Ok(n) => done += n as u64,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Reads and discards exactly `len` bytes.
fn skip(input: &mut dyn Read, len: u64) -> Result<(), Failure> {
    let copied = discard(input, len).map_err(read_failure)?;
    if copied == len {
        Ok(())
    } else {
        Err(Failure::new(Error::TarTruncated))
    }
}

/// Reads a metadata record (PAX or GNU long name) of `len` bytes plus padding.
fn read_meta(input: &mut dyn Read, len: u64, limit: u64, error: Error) -> Result<Vec<u8>, Failure> {
    if len > limit {
        return Err(Failure::new(error));
    }
    let mut data = vec![0u8; len as usize];
    if !read_full(input, &mut data)? && len > 0 {
        return Err(Failure::new(Error::TarTruncated));
    }
    skip(input, padded(len).ok_or(error)? - len)?;
    Ok(data)
}

/// A parsed 512-byte header block.
struct Header<'a> {
    block: &'a [u8; BLOCK],
}

impl<'a> Header<'a> {
    fn field(&self, start: usize, len: usize) -> &'a [u8] {
        self.block.get(start..start + len).unwrap_or_default()
    }

    fn is_zero(&self) -> bool {
        self.block.iter().all(|&b| b == 0)
    }

    /// The header checksum must match the stored one (unsigned, or signed as old tars did).
    fn checksum_ok(&self) -> bool {
        let Some(stored) = parse_octal(self.field(148, 8)) else {
            return false;
        };
        let (mut unsigned, mut signed) = (0u64, 0i64);
        for (i, &b) in self.block.iter().enumerate() {
            let b = if (148..156).contains(&i) { b' ' } else { b };
            unsigned += u64::from(b);
            signed += i64::from(b as i8);
        }
        stored == unsigned || i64::try_from(stored).ok() == Some(signed)
    }

    fn type_flag(&self) -> u8 {
        self.block.get(156).copied().unwrap_or(0)
    }

    fn size(&self) -> Option<u64> {
        parse_number(self.field(124, 12))
    }

    fn mode(&self) -> u32 {
        parse_octal(self.field(100, 8)).unwrap_or(0o644) as u32
    }

    /// `prefix/name` for POSIX ustar headers, `name` otherwise (GNU reuses the prefix bytes).
    fn name(&self) -> Vec<u8> {
        let name = until_nul(self.field(0, 100));
        let prefix = until_nul(self.field(345, 155));
        let posix = self.field(257, 6) == b"ustar\0";
        let mut full = Vec::with_capacity(256);
        if posix && !prefix.is_empty() {
            full.extend_from_slice(prefix);
            full.push(b'/');
        }
        full.extend_from_slice(name);
        full
    }
}

fn until_nul(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    field.get(..end).unwrap_or_default()
}

/// An octal field, padded with spaces or NULs.
fn parse_octal(field: &[u8]) -> Option<u64> {
    let text = until_nul(field);
    let digits = text.iter().skip_while(|&&b| b == b' ');
    let mut value = 0u64;
    let mut seen = false;
    for &b in digits {
        match b {
            b'0'..=b'7' => {
                value = value.checked_mul(8)?.checked_add(u64::from(b - b'0'))?;
                seen = true;
            }
            b' ' => break,
            _ => return None,
        }
    }
    seen.then_some(value)
}

/// A numeric field: octal, or GNU base-256 (first byte 0x80) for large values.
fn parse_number(field: &[u8]) -> Option<u64> {
    match field.split_first() {
        Some((&0x80, rest)) => rest.iter().try_fold(0u64, |acc, &b| {
            acc.checked_mul(256)?.checked_add(u64::from(b))
        }),
        Some((&first, _)) if first & 0x80 != 0 => None,
        _ => parse_octal(field),
    }
}

/// What a PAX extended header says about the next entry.
#[derive(Default)]
struct PaxOverrides {
    path: Option<Vec<u8>>,
    size: Option<u64>,
}

/// Parses PAX records `"<len> <key>=<value>\n"`; `path` and `size` are used, others ignored.
fn parse_pax(mut data: &[u8]) -> Result<PaxOverrides, Error> {
    let mut overrides = PaxOverrides::default();
    while !data.is_empty() {
        let space = data
            .iter()
            .position(|&b| b == b' ')
            .ok_or(Error::TarPaxInvalid)?;
        let len_text = std::str::from_utf8(data.get(..space).unwrap_or_default())
            .map_err(|_| Error::TarPaxInvalid)?;
        let len: usize = len_text.parse().map_err(|_| Error::TarPaxInvalid)?;
        let record = data.get(space + 1..len).ok_or(Error::TarPaxInvalid)?;
        data = data.get(len..).unwrap_or_default();
        let record = record.strip_suffix(b"\n").ok_or(Error::TarPaxInvalid)?;
        let eq = record
            .iter()
            .position(|&b| b == b'=')
            .ok_or(Error::TarPaxInvalid)?;
        let (key, value) = (
            record.get(..eq).unwrap_or_default(),
            record.get(eq + 1..).unwrap_or_default(),
        );
        match key {
            b"path" => overrides.path = Some(value.to_vec()),
            b"size" => {
                let text = std::str::from_utf8(value).map_err(|_| Error::TarPaxInvalid)?;
                overrides.size = Some(text.parse().map_err(|_| Error::TarPaxInvalid)?);
            }
            _ => {}
        }
    }
    Ok(overrides)
}

/// Turns an archive name into a relative path made of normal components only, at most
/// [`MAX_DEPTH`] of them. `Ok(None)` means the entry is the root itself (`./`).
pub fn safe_relative_path(name: &[u8]) -> Result<Option<PathBuf>, Error> {
    if name.is_empty() {
        return Err(Error::PathInvalid);
    }
    if name.first() == Some(&b'/') {
        return Err(Error::PathAbsolute);
    }
    let mut path = PathBuf::new();
    let mut depth = 0;
    for part in name.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => return Err(Error::PathTraversal),
            _ if depth == MAX_DEPTH => return Err(Error::PathTooDeep),
            _ => {
                depth += 1;
                path.push(OsStr::from_bytes(part));
            }
        }
    }
    Ok((!path.as_os_str().is_empty()).then_some(path))
}

/// Extracts the tar stream `input` into the existing directory `root`, up to the end marker.
pub fn extract(input: &mut dyn Read, root: &Path) -> Result<Stats, Failure> {
    let mut stats = Stats::default();
    let mut block = [0u8; BLOCK];
    let mut long_name: Option<Vec<u8>> = None;
    let mut pax = PaxOverrides::default();
    let mut buffer = vec![0u8; 64 << 10];
    loop {
        if !read_full(input, &mut block)? {
            return Err(Failure::new(Error::TarEndMissing));
        }
        let header = Header { block: &block };
        if header.is_zero() {
            return Ok(stats);
        }
        if !header.checksum_ok() {
            return Err(Failure::new(Error::TarHeader));
        }
        let size = match pax.size.take() {
            Some(size) => size,
            None => header.size().ok_or(Error::TarSizeInvalid)?,
        };
        let data_len = padded(size).ok_or(Error::TarSizeInvalid)?;
        match header.type_flag() {
            b'x' => pax = parse_pax(&read_meta(input, size, MAX_META, Error::TarPaxInvalid)?)?,
            b'g' => skip(input, data_len)?,
            b'L' => {
                let name = read_meta(input, size, MAX_NAME, Error::TarNameTooLong)?;
                long_name = Some(until_nul(&name).to_vec());
            }
            b'K' => skip(input, data_len)?,
            kind => {
                let name = pax
                    .path
                    .take()
                    .or(long_name.take())
                    .unwrap_or_else(|| header.name());
                pax = PaxOverrides::default();
                let entry = Entry {
                    name: &name,
                    kind,
                    size,
                    mode: header.mode(),
                };
                let written = entry.write(input, root, &mut buffer)?;
                stats.files += u64::from(written.is_some());
                stats.bytes += written.unwrap_or(0);
                skip(input, data_len - if written.is_some() { size } else { 0 })
                    .map_err(|f| name_failure(f.error, &name))?;
            }
        }
    }
}

fn name_failure(error: Error, name: &[u8]) -> Failure {
    Failure::at(error, Path::new(OsStr::from_bytes(name)))
}

/// One file or directory entry.
struct Entry<'a> {
    name: &'a [u8],
    kind: u8,
    size: u64,
    mode: u32,
}

impl Entry<'_> {
    /// Creates the entry under `root`; returns the bytes written for a regular file, `None`
    /// for a directory (whose data, if any, the caller skips).
    fn write(
        &self,
        input: &mut dyn Read,
        root: &Path,
        buffer: &mut [u8],
    ) -> Result<Option<u64>, Failure> {
        match self.kind {
            b'0' | 0 | b'7' | b'5' => {}
            b'1' | b'2' => return Err(name_failure(Error::Link, self.name)),
            b'3' | b'4' | b'6' => return Err(name_failure(Error::SpecialFile, self.name)),
            _ => return Err(name_failure(Error::TarTypeUnsupported, self.name)),
        }
        if self.name.len() as u64 > MAX_NAME {
            return Err(name_failure(Error::TarNameTooLong, self.name));
        }
        let relative = safe_relative_path(self.name).map_err(|e| name_failure(e, self.name))?;
        let is_dir = self.kind == b'5' || self.name.last() == Some(&b'/');
        let Some(relative) = relative else {
            return if is_dir {
                Ok(None)
            } else {
                Err(name_failure(Error::PathInvalid, self.name))
            };
        };
        let path = root.join(relative);
        if is_dir {
            super::create_dirs(&path).map_err(|e| Failure::io(Error::Write, &path, e))?;
            return Ok(None);
        }
        if let Some(parent) = super::parent(&path) {
            super::create_dirs(parent).map_err(|e| Failure::io(Error::Write, parent, e))?;
        }
        self.write_file(input, &path, buffer).map(Some)
    }

    fn write_file(
        &self,
        input: &mut dyn Read,
        path: &Path,
        buffer: &mut [u8],
    ) -> Result<u64, Failure> {
        let mut file = sys::create_no_follow(path, self.mode & 0o777 | 0o600)
            .map_err(|e| Failure::io(Error::Write, path, e))?;
        let mut left = self.size;
        while left > 0 {
            let want = usize::try_from(left)
                .unwrap_or(usize::MAX)
                .min(buffer.len());
            let chunk = buffer.get_mut(..want).unwrap_or_default();
            let n = match input.read(chunk) {
                Ok(0) => return Err(name_failure(Error::TarTruncated, self.name)),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(read_failure(e)),
            };
            let data = chunk.get(..n).unwrap_or_default();
            file.write_all(data)
                .map_err(|e| Failure::io(Error::Write, path, e))?;
            left -= n as u64;
        }
        Ok(self.size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_paths() {
        let cases: &[(&str, Result<Option<&str>, Error>)] = &[
            ("index.json", Ok(Some("index.json"))),
            ("./blobs/sha256/ab", Ok(Some("blobs/sha256/ab"))),
            ("blobs//sha256/", Ok(Some("blobs/sha256"))),
            ("./", Ok(None)),
            (".", Ok(None)),
            ("", Err(Error::PathInvalid)),
            ("/etc/passwd", Err(Error::PathAbsolute)),
            ("../x", Err(Error::PathTraversal)),
            ("a/../../x", Err(Error::PathTraversal)),
            ("a/..", Err(Error::PathTraversal)),
            ("..", Err(Error::PathTraversal)),
            ("...", Ok(Some("..."))),
            (
                &"a/".repeat(MAX_DEPTH),
                Ok(Some(&"a/".repeat(MAX_DEPTH)[..2 * MAX_DEPTH - 1])),
            ),
            (&"a/".repeat(MAX_DEPTH + 1), Err(Error::PathTooDeep)),
            (&"./".repeat(100), Ok(None)),
            (
                &format!("{}../x", "a/".repeat(MAX_DEPTH + 1)),
                Err(Error::PathTooDeep),
            ),
        ];
        for (name, want) in cases {
            let got = safe_relative_path(name.as_bytes());
            let want = want.map(|p| p.map(PathBuf::from));
            assert_eq!(got, want, "{name:?}");
        }
    }

    #[test]
    fn numbers() {
        let cases: &[(&[u8], Option<u64>)] = &[
            (b"0000644\0", Some(0o644)),
            (b"  755 \0\0", Some(0o755)),
            (b"00000001750 ", Some(1000)),
            (b"\0\0\0\0", None),
            (b"0009", None),
            (&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0], Some(256)),
            (
                &[
                    0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                ],
                None,
            ),
            (&[0xff, 0xff, 0xff, 0xff], None),
        ];
        for (field, want) in cases {
            assert_eq!(parse_number(field), *want, "{field:?}");
        }
    }

    #[test]
    fn pax_records() {
        let data = b"30 path=a/very/long/name/here\n20 size=12345678901\n13 mtime=1.5\n";
        let pax = parse_pax(data).unwrap();
        assert_eq!(pax.path.as_deref(), Some(&b"a/very/long/name/here"[..]));
        assert_eq!(pax.size, Some(12_345_678_901));
        for bad in [
            &b"99 path=x\n"[..],
            b"x path=y\n",
            b"9 pathy\n",
            b"10 size=-1\n",
        ] {
            assert!(parse_pax(bad).is_err(), "{bad:?}");
        }
    }
}
