//! Removing whatever is at a path, a directory tree whatever its depth included, with at most
//! two directory descriptors open and paths at most two names below the root.
//!
//! std's `remove_dir_all` opens one descriptor per level: a tree deeper than the descriptor
//! limit (1,024 in many pods) cannot be removed with it, and a 210-byte payload of one tar
//! entry 1,500 levels deep made one in the staging directory of older versions, which then
//! failed every later run (issue 12). Here the tree is flattened instead: each directory two
//! levels below the root is renamed up to the root under a fresh name, so the depth never
//! matters, and every entry is removed by a short path.
//!
//! The paths are only written by the injector itself (the seed directory is the pod's own),
//! so no one swaps a directory for a symbolic link while it is removed; symbolic links met in
//! the tree are removed, never followed.

use crate::sys;
use std::fs;
use std::io;
use std::path::Path;

/// The prefix of the names [`remove_all`] and [`move_aside`] give directories they move.
pub const MOVED: &str = ".zarf-injector-removed-";

/// Removes what is at `path`: a file, FIFO, socket or symbolic link (not followed), or a
/// directory with everything in it. Nothing there is not an error.
pub fn remove_all(path: &Path) -> io::Result<()> {
    // `unlink` removes anything but a directory, and never follows a link: only what it
    // refuses is listed.
    if unlinked(path)? {
        return Ok(());
    }
    let mut spare = 0;
    // Each pass empties every directory of `path` by moving its entries up into `path`, and
    // removes the rest: each pass takes one level off every branch, so the passes end.
    loop {
        let mut found = false;
        sys::each_name(path, &mut |name| {
            let top = path.join(name);
            found = true;
            if unlinked(&top)? {
                return Ok(());
            }
            sys::each_name(&top, &mut |inner| {
                spare = move_to_fresh_name(&top.join(inner), path, spare)?;
                Ok(())
            })?;
            missing_ok(fs::remove_dir(&top))
        })?;
        if !found {
            return missing_ok(fs::remove_dir(path));
        }
    }
}

/// Whether `path` is gone after an `unlink`: it was not there, or it was no directory.
fn unlinked(path: &Path) -> io::Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) => match e.raw_os_error() {
            Some(libc::ENOENT) => Ok(true),
            Some(libc::EISDIR | libc::EPERM) => Ok(false),
            _ => Err(e),
        },
    }
}

/// Renames `path` into `dir` as `.zarf-injector-removed-<n>`, for something that cannot be
/// removed but must not stay where it is.
pub fn move_aside(path: &Path, dir: &Path) -> io::Result<()> {
    move_to_fresh_name(path, dir, 0).map(|_| ())
}

/// Renames `from` to `dir/.zarf-injector-removed-<n>` for the first `n` above `spare` whose
/// name is free (a file may replace a file of that name: both are being removed); returns
/// that `n`.
fn move_to_fresh_name(from: &Path, dir: &Path, mut spare: u64) -> io::Result<u64> {
    loop {
        spare += 1;
        let mut name = String::from(MOVED);
        crate::digest::push_hex(&mut name, &spare.to_be_bytes());
        match fs::rename(from, dir.join(name)) {
            Ok(()) => return Ok(spare),
            Err(e) => match e.raw_os_error() {
                Some(libc::EEXIST | libc::ENOTEMPTY | libc::ENOTDIR | libc::EISDIR) => {}
                _ => return Err(e),
            },
        }
    }
}

fn missing_ok(result: io::Result<()>) -> io::Result<()> {
    match result {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        other => other,
    }
}
