//! Unpacking the seed payload: chunks → SHA-256 → gunzip → untar → OCI layout check, in one
//! streaming pass with constant memory.
//!
//! The payload is untrusted until its checksum matches, and the checksum is only known at the
//! end of the stream, so entries are written into a staging directory inside the seed root and
//! moved into place only once the checksum and the layout are verified. Any failure removes
//! the staging directory, so the seed root is left as it was. Whatever is found at the
//! staging path (a directory of any depth, a file, a FIFO, a symbolic link) is removed first
//! ([`remove::remove_all`]), or, if it cannot be, reported and set aside: it never blocks a run
//! (issue 12). A staging directory that cannot be removed at the end is reported too.
//!
//! When decoding fails part-way, the rest of the chunks is still read and hashed: if the
//! checksum does not match either, the message says so, because a damaged transfer, not a
//! damaged payload, is then the likely cause.

pub mod chunks;
pub mod gzip;
pub mod remove;
pub mod untar;

use crate::error::{Error, Failure};
use crate::layout;
use crate::line::Line;
use crate::sys;
use chunks::ChunkReader;
use gzip::GzipReader;
use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The staging directory's name inside the seed root.
pub const STAGING: &str = ".zarf-injector-staging";

/// What an unpack did, for the progress lines.
#[derive(Debug)]
pub struct Summary {
    /// Files written.
    pub files: u64,
    /// Bytes written to them.
    pub bytes: u64,
    /// Wall time of the unpack, in milliseconds.
    pub millis: u64,
}

/// Unpacks the chunks in `init_root` into `seed_root`, checking them against `checksum`.
/// Prints one progress line per phase on stdout.
pub fn unpack(init_root: &Path, seed_root: &Path, checksum: &[u8; 32]) -> Result<Summary, Failure> {
    let started = Instant::now();
    let found = chunks::find(init_root)?;
    Line::new("found ")
        .number(found.paths.len() as u64)
        .text(" chunks, ")
        .number(found.total_bytes)
        .text(" bytes in ")
        .path(init_root)
        .to_stdout();
    let staging = prepare_staging(seed_root)?;
    let result = unpack_into(found.paths, init_root, &staging, checksum);
    let result = result.and_then(|stats| {
        layout::verify(&staging).map_err(|f| relative_to(f, &staging))?;
        move_into_place(&staging, seed_root)?;
        Ok(stats)
    });
    if let Err(e) = remove::remove_all(&staging) {
        report_left(&staging, e);
    }
    let stats = result?;
    Ok(Summary {
        files: stats.files,
        bytes: stats.bytes,
        millis: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

/// Creates the directory `path` and any missing parents, as `fs::create_dir_all` does, but
/// with [`parent`] taking the parent by bytes and `mkdir(2)` called directly: std's version
/// and `Path::parent` parse paths into components, 1.5 KB of the nightly binary
/// (docs/SIZE.md), for paths this program builds.
pub fn create_dirs(path: &Path) -> io::Result<()> {
    if path.as_os_str().is_empty() {
        return Ok(());
    }
    match sys::create_dir(path) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(parent) = parent(path) {
                create_dirs(parent)?;
            }
        }
        Err(_) if is_dir(path) => return Ok(()),
        Err(e) => return Err(e),
    }
    match sys::create_dir(path) {
        Err(_) if is_dir(path) => Ok(()),
        done => done,
    }
}

/// Whether `path` names a directory (following links, as `Path::is_dir`).
fn is_dir(path: &Path) -> bool {
    sys::path_status(path).is_ok_and(|status| status.is_dir())
}

/// `path` without its last name and the slashes around it (`/` for `/name`); `None` for a
/// single name or the root. `.` and `..` are names like any other here (the directories
/// exist, so creating them is skipped).
pub fn parent(path: &Path) -> Option<&Path> {
    let bytes = path.as_os_str().as_bytes();
    let end = bytes.iter().rposition(|&b| b != b'/')?;
    let slash = bytes.get(..end)?.iter().rposition(|&b| b == b'/')?;
    let before = bytes.get(..slash)?;
    let keep = before
        .iter()
        .rposition(|&b| b != b'/')
        .map_or(1, |last| last + 1);
    Some(Path::new(OsStr::from_bytes(bytes.get(..keep)?)))
}

/// Creates an empty staging directory in the seed root (which may or may not exist yet).
/// What is left at its path is removed; if it cannot be, it is reported and renamed aside.
fn prepare_staging(seed_root: &Path) -> Result<PathBuf, Failure> {
    create_dirs(seed_root).map_err(|e| Failure::io(Error::SeedDirectory, seed_root, e))?;
    let staging = seed_root.join(STAGING);
    if let Err(e) = remove::remove_all(&staging) {
        report_left(&staging, e);
        remove::move_aside(&staging, seed_root)
            .map_err(|e| Failure::io(Error::SeedDirectory, &staging, e))?;
    }
    sys::create_dir(&staging).map_err(|e| Failure::io(Error::SeedDirectory, &staging, e))?;
    Ok(staging)
}

/// One line on stderr: the staging directory could not be removed, and why.
fn report_left(staging: &Path, error: io::Error) {
    Line::new("zarf-injector: ")
        .path(staging)
        .text(": ")
        .text(Error::StagingLeft.message())
        .text(": ")
        .io_error(&error)
        .to_stderr();
}

/// Streams the chunks through the decoder into `staging`, then checks the checksum.
fn unpack_into(
    paths: Vec<PathBuf>,
    init_root: &Path,
    staging: &Path,
    checksum: &[u8; 32],
) -> Result<untar::Stats, Failure> {
    let mut reader = ChunkReader::new(paths);
    let extracted = extract(&mut reader, staging);
    let drained = reader.drain();
    let failed_chunk = reader.failed_chunk().map(Path::to_path_buf);
    let (digest, _) = reader.finish();
    if let Err(e) = drained {
        return Err(name_chunk(untar::read_failure(e), failed_chunk, init_root));
    }
    let mut hex = String::from("sha256:");
    crate::digest::push_hex(&mut hex, &digest);
    if digest != *checksum {
        let mut failure = Failure::at(Error::ChecksumMismatch, init_root);
        let mut detail = String::from("computed ");
        detail.push_str(&hex);
        failure.detail = Some(detail);
        return Err(failure);
    }
    let stats = extracted.map_err(|f| name_chunk(f, failed_chunk, init_root))?;
    Line::new("verified ").text(&hex).to_stdout();
    Ok(stats)
}

/// Gives a failure without a path the chunk that failed, or else the payload as a whole.
fn name_chunk(mut failure: Failure, failed_chunk: Option<PathBuf>, init_root: &Path) -> Failure {
    if failure.path.is_none() {
        failure.path = Some(match failed_chunk {
            Some(chunk) if failure.error == Error::ChunkRead => chunk,
            _ => init_root.join("zarf-payload-*"),
        });
    }
    failure
}

/// Detects gzip or plain tar from the first bytes, then extracts and reads to the end.
fn extract(reader: &mut ChunkReader, staging: &Path) -> Result<untar::Stats, Failure> {
    let mut head = [0u8; 512];
    let mut filled = 0;
    while filled < head.len() {
        match reader.read(head.get_mut(filled..).unwrap_or_default()) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(untar::read_failure(e)),
        }
    }
    let head = head.get(..filled).unwrap_or_default();
    let stream = head.chain(reader);
    if head.starts_with(&gzip::MAGIC) {
        extract_to_end(&mut GzipReader::new(stream), staging)
    } else if looks_like_tar(head) {
        extract_to_end(&mut { stream }, staging)
    } else {
        Err(Failure::new(Error::NotTarOrGzip))
    }
}

/// A tar header carries `ustar` at offset 257 (POSIX and GNU formats).
fn looks_like_tar(head: &[u8]) -> bool {
    head.get(257..262) == Some(b"ustar")
}

/// Extracts, then reads the stream to its end so that the decoder checks its trailer. One
/// copy of the tar reader serves both streams (`dyn`: ~4 KB less than one per stream type).
fn extract_to_end(stream: &mut dyn Read, staging: &Path) -> Result<untar::Stats, Failure> {
    let stats = untar::extract(stream, staging)?;
    untar::discard(stream, u64::MAX).map_err(untar::read_failure)?;
    Ok(stats)
}

/// Names a file of the staging directory, which is gone by the time the message is read, by
/// its path inside the layout (`blobs/sha256/...`). Every path in a failure of
/// [`layout::verify`] was made by joining to `staging`, so its bytes start with those of
/// `staging` and a `/` (a byte prefix: `Path::strip_prefix` compares components, ~0.7 KB more).
fn relative_to(mut failure: Failure, staging: &Path) -> Failure {
    let inside = failure.path.as_ref().and_then(|path| {
        let rest = path.as_os_str().as_bytes();
        let rest = rest.strip_prefix(staging.as_os_str().as_bytes())?;
        match rest.split_first() {
            None => Some(PathBuf::new()),
            Some((b'/', inside)) => Some(PathBuf::from(OsStr::from_bytes(inside))),
            Some(_) => None,
        }
    });
    if inside.is_some() {
        failure.path = inside;
    }
    failure
}

/// Moves every top-level entry of `staging` into `seed_root`, replacing what is there. All
/// names are read and checked before the first move, so a refusal changes nothing.
fn move_into_place(staging: &Path, seed_root: &Path) -> Result<(), Failure> {
    let mut names = Vec::new();
    sys::each_name(staging, &mut |name| {
        names.push(name.to_os_string());
        Ok(())
    })
    .map_err(|e| Failure::io(Error::Write, staging, e))?;
    if let Some(name) = names.iter().find(|name| *name == STAGING) {
        return Err(Failure::at(Error::PathInvalid, Path::new(name)));
    }
    for name in names {
        let target = seed_root.join(&name);
        remove::remove_all(&target).map_err(|e| Failure::io(Error::Write, &target, e))?;
        fs::rename(staging.join(&name), &target)
            .map_err(|e| Failure::io(Error::Write, &target, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `parent` agrees with `Path::parent` wherever std's answer is not the empty path (which
    /// `create_dirs` treats as nothing to create, as `None` is here).
    #[test]
    fn parent_is_path_parent() {
        let cases = [
            "/",
            "/a",
            "/a/",
            "a",
            "a/",
            "a/b",
            "a/b/",
            "a//b",
            "a//b//",
            "//a",
            "/a/b/c.json",
            "./a",
            "a/./b",
            "../a/b",
            "seed/.zarf-injector-staging/blobs/sha256",
        ];
        for case in cases {
            let std = Path::new(case)
                .parent()
                .filter(|p| !p.as_os_str().is_empty());
            assert_eq!(parent(Path::new(case)), std, "{case}");
        }
    }

    /// `create_dirs` makes every missing level, accepts what exists, and refuses a file.
    #[test]
    fn create_dirs_is_create_dir_all() {
        let root = std::env::temp_dir().join(format!("zit-create-dirs-{}", std::process::id()));
        let deep = root.join("a/b//c/");
        create_dirs(&deep).unwrap();
        assert!(deep.is_dir());
        create_dirs(&deep).unwrap();
        create_dirs(&root.join("a/./b/../b")).unwrap();
        fs::write(root.join("file"), b"x").unwrap();
        assert!(create_dirs(&root.join("file")).is_err());
        assert!(create_dirs(&root.join("file/d")).is_err());
        create_dirs(Path::new("")).unwrap();
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn failures_in_staging_are_named_inside_the_layout() {
        let staging = Path::new("/seed/.zarf-injector-staging");
        let cases: &[(&str, &str)] = &[
            (
                "/seed/.zarf-injector-staging/blobs/sha256/ab",
                "blobs/sha256/ab",
            ),
            ("/seed/.zarf-injector-staging/index.json", "index.json"),
            ("/seed/.zarf-injector-staging", ""),
            (
                "/seed/.zarf-injector-staging2/x",
                "/seed/.zarf-injector-staging2/x",
            ),
            ("/elsewhere/x", "/elsewhere/x"),
        ];
        for (path, want) in cases {
            let failure = relative_to(Failure::at(Error::BlobDigest, Path::new(path)), staging);
            assert_eq!(failure.path.as_deref(), Some(Path::new(want)), "{path}");
            let by_components = Path::new(path)
                .strip_prefix(staging)
                .unwrap_or(Path::new(path));
            assert_eq!(Path::new(want), by_components, "{path}");
        }
        let failure = relative_to(Failure::new(Error::TarHeader), staging);
        assert_eq!(failure.path, None);
    }
}
