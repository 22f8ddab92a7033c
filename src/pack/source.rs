//! Recognising a source: an OCI image layout directory, an OCI layout tar, or a docker-archive
//! (`docker save`, `skopeo copy ... docker-archive:`), each tar optionally gzip'd.
//!
//! A directory is a layout if it has `oci-layout` (an unpacked `docker save` directory with
//! only `manifest.json` is read as a docker-archive). A tar is a layout if it has `oci-layout`
//! at its root (`docker save` since Docker 25 writes both: the layout is preferred), else a
//! docker-archive if it has `manifest.json`. A gzip'd tar is first decompressed into the work
//! directory, since both formats need random access.

use super::docker_archive::{self, MANIFEST_JSON};
use super::failure::Failure;
use super::oci;
use super::progress::{Counting, Progress};
use super::tree::Tree;
use flate2::read::MultiGzDecoder;
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::rc::Rc;

/// The images a source offers.
#[derive(Debug)]
pub enum Images {
    /// The entries of a layout's `index.json`.
    Layout(Vec<oci::Entry>),
    /// The images of a docker-archive's `manifest.json`.
    Docker(Vec<docker_archive::Image>),
}

/// An opened source.
#[derive(Debug)]
pub struct Source {
    /// Its files.
    pub tree: Rc<Tree>,
    /// Its images.
    pub images: Images,
}

/// Opens the source at `path`; a gzip'd tar is decompressed to `work/<scratch>`.
pub fn open(
    path: &Path,
    work: &Path,
    scratch: &str,
    progress: &mut Progress,
) -> Result<Source, Failure> {
    let meta = fs::metadata(path).map_err(|e| Failure::io(path, "open source", e))?;
    let tree = if meta.is_dir() {
        Tree::Dir(path.to_path_buf())
    } else {
        open_file(path, meta.len(), &work.join(scratch), progress)?
    };
    let images = if tree.size("oci-layout").is_some() {
        Images::Layout(oci::read_index(&tree)?)
    } else if tree.size(MANIFEST_JSON).is_some() {
        Images::Docker(docker_archive::read_manifest(&tree)?)
    } else {
        let reason = match tree {
            Tree::Dir(_) => "a directory without oci-layout: not an OCI image layout",
            Tree::Tar { .. } => {
                "a tar without oci-layout or manifest.json: neither an OCI layout nor a docker-archive"
            }
        };
        return Err(Failure::NotSource {
            path: path.to_path_buf(),
            reason,
        });
    };
    Ok(Source {
        tree: Rc::new(tree),
        images,
    })
}

/// Indexes a tar file, decompressing it to `scratch` first if it is gzip'd.
fn open_file(
    path: &Path,
    size: u64,
    scratch: &Path,
    progress: &mut Progress,
) -> Result<Tree, Failure> {
    let mut head = [0u8; 512];
    let filled = read_head(path, &mut head).map_err(|e| Failure::io(path, "read", e))?;
    let head = head.get(..filled).unwrap_or_default();
    if head.starts_with(&[0x1f, 0x8b]) {
        progress.start(&format!("decompressing {}", path.display()), size);
        gunzip(path, scratch, progress).map_err(|e| Failure::io(path, "decompress", e))?;
        progress.finish();
        if !is_tar(scratch) {
            return Err(not_tar(path));
        }
        Tree::index_tar(path, scratch)
    } else if head.get(257..262) == Some(b"ustar") {
        Tree::index_tar(path, path)
    } else {
        Err(not_tar(path))
    }
}

fn not_tar(path: &Path) -> Failure {
    Failure::NotSource {
        path: path.to_path_buf(),
        reason: "neither a directory, a tar nor a gzip'd tar",
    }
}

fn read_head(path: &Path, head: &mut [u8]) -> io::Result<usize> {
    let mut file = File::open(path)?;
    let mut filled = 0;
    while filled < head.len() {
        match file.read(head.get_mut(filled..).unwrap_or_default())? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

fn is_tar(path: &Path) -> bool {
    let mut head = [0u8; 512];
    read_head(path, &mut head).is_ok_and(|n| n == 512 && head.get(257..262) == Some(b"ustar"))
}

fn gunzip(path: &Path, out: &Path, progress: &mut Progress) -> io::Result<()> {
    let input = BufReader::with_capacity(1 << 16, File::open(path)?);
    let counted = Counting {
        inner: input,
        progress,
    };
    let mut decoder = MultiGzDecoder::new(counted);
    let mut output = BufWriter::with_capacity(1 << 16, File::create(out)?);
    io::copy(&mut decoder, &mut output)?;
    output.flush()
}
