//! A source's files, whether a directory or a tar: sizes, readers and small documents by
//! their path inside the source.
//!
//! A tar is indexed once (each regular file's data offset and size), then read at random:
//! `docker save` writes `manifest.json` last, and the payload wants blobs in digest order.
//! Symbolic and hard links inside the tar (old `docker save` links shared `layer.tar` files)
//! are followed, but never out of the archive.

use super::failure::Failure;
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// The largest JSON document read into memory (manifests and configs are kilobytes).
pub const MAX_DOCUMENT: u64 = 64 << 20;

/// A source's files.
#[derive(Debug)]
pub enum Tree {
    /// A directory.
    Dir(PathBuf),
    /// A tar file on disk (uncompressed), indexed.
    Tar {
        /// What the user named (for messages).
        shown: PathBuf,
        /// The uncompressed tar (the source itself, or a decompressed copy).
        file: PathBuf,
        /// Regular files: path → (data offset, size).
        members: HashMap<String, (u64, u64)>,
    },
}

impl Tree {
    /// Indexes the tar `file`; `shown` names it in messages.
    pub fn index_tar(shown: &Path, file: &Path) -> Result<Tree, Failure> {
        let read_failure = |e| Failure::io(shown, "read tar", e);
        let handle = File::open(file).map_err(read_failure)?;
        let mut archive = tar::Archive::new(BufReader::with_capacity(1 << 16, handle));
        let mut members = HashMap::new();
        let mut links = Vec::new();
        for entry in archive.entries().map_err(read_failure)? {
            let entry = entry.map_err(read_failure)?;
            let Some(path) = entry.path().ok().and_then(|p| normalise(&p)) else {
                continue;
            };
            let kind = entry.header().entry_type();
            if kind.is_file() {
                members.insert(path, (entry.raw_file_position(), entry.size()));
            } else if kind.is_symlink() || kind.is_hard_link() {
                if let Ok(Some(target)) = entry.link_name() {
                    links.push((path, target.into_owned(), kind.is_symlink()));
                }
            }
        }
        resolve_links(&mut members, &links);
        Ok(Tree::Tar {
            shown: shown.to_path_buf(),
            file: file.to_path_buf(),
            members,
        })
    }

    /// The source as the user named it.
    pub fn shown(&self) -> &Path {
        match self {
            Tree::Dir(path) => path,
            Tree::Tar { shown, .. } => shown,
        }
    }

    /// `SOURCE/PATH` (directory) or `SOURCE:PATH` (tar), for messages.
    pub fn location(&self, path: &str) -> String {
        match self {
            Tree::Dir(dir) => dir.join(path).display().to_string(),
            Tree::Tar { shown, .. } => format!("{}:{path}", shown.display()),
        }
    }

    /// The size of the regular file `path`, or `None` if there is none.
    pub fn size(&self, path: &str) -> Option<u64> {
        match self {
            Tree::Dir(dir) => {
                let meta = fs::metadata(dir.join(path)).ok()?;
                meta.is_file().then_some(meta.len())
            }
            Tree::Tar { members, .. } => members.get(path).map(|&(_, size)| size),
        }
    }

    /// Opens the regular file `path`: a reader of exactly its bytes, and its size.
    pub fn open(&self, path: &str) -> io::Result<(Box<dyn Read>, u64)> {
        match self {
            Tree::Dir(dir) => {
                let file = File::open(dir.join(path))?;
                let size = file.metadata()?.len();
                Ok((Box::new(file.take(size)), size))
            }
            Tree::Tar { file, members, .. } => {
                let &(offset, size) = members
                    .get(path)
                    .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
                let mut handle = File::open(file)?;
                handle.seek(SeekFrom::Start(offset))?;
                Ok((Box::new(handle.take(size)), size))
            }
        }
    }

    /// Reads the small file `path` whole; missing files are [`Failure::Document`] errors.
    pub fn read_document(&self, path: &str) -> Result<Vec<u8>, Failure> {
        let location = self.location(path);
        let (reader, size) = match self.open(path) {
            Ok(opened) => opened,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Failure::document(location, "file is missing"))
            }
            Err(e) => return Err(Failure::document(location, e.to_string())),
        };
        if size > MAX_DOCUMENT {
            return Err(Failure::document(location, "too large for a JSON document"));
        }
        let mut bytes = Vec::new();
        reader
            .take(MAX_DOCUMENT)
            .read_to_end(&mut bytes)
            .map_err(|e| Failure::document(location, e.to_string()))?;
        Ok(bytes)
    }
}

/// `./a/b` → `a/b`; `None` for empty paths and paths with `..` or a root.
fn normalise(path: &Path) -> Option<String> {
    let mut parts = Vec::new();
    for component in path.components() {
        match component {
            std::path::Component::Normal(part) => parts.push(part.to_str()?),
            std::path::Component::CurDir => {}
            _ => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// Resolves `target` of a link at `path`: relative to the link's directory for a symlink, to
/// the archive root for a hard link. `None` if it would leave the archive.
fn link_target(path: &str, target: &Path, symlink: bool) -> Option<String> {
    let mut parts: Vec<&str> = if symlink {
        path.split('/').collect()
    } else {
        Vec::new()
    };
    parts.pop();
    for component in target.components() {
        match component {
            std::path::Component::Normal(part) => parts.push(part.to_str()?),
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                parts.pop()?;
            }
            _ => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// Gives each link the data of the regular file it points at (through up to 8 links).
fn resolve_links(members: &mut HashMap<String, (u64, u64)>, links: &[(String, PathBuf, bool)]) {
    let targets: HashMap<&str, Option<String>> = links
        .iter()
        .map(|(path, target, symlink)| (path.as_str(), link_target(path, target, *symlink)))
        .collect();
    for (path, _, _) in links {
        let mut at = Some(path.clone());
        for _ in 0..8 {
            let Some(current) = at.take() else { break };
            if let Some(&data) = members.get(&current) {
                members.insert(path.clone(), data);
                break;
            }
            at = targets.get(current.as_str()).cloned().flatten();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(normalise(Path::new("./a/b")).as_deref(), Some("a/b"));
        assert_eq!(normalise(Path::new("a/../b")), None);
        assert_eq!(normalise(Path::new("/etc")), None);
        assert_eq!(normalise(Path::new("./")), None);
        let up = Path::new("../abc/layer.tar");
        assert_eq!(
            link_target("def/layer.tar", up, true).as_deref(),
            Some("abc/layer.tar")
        );
        assert_eq!(
            link_target("def/layer.tar", Path::new("abc/layer.tar"), false).as_deref(),
            Some("abc/layer.tar")
        );
        assert_eq!(link_target("a", Path::new("../../x"), true), None);
    }
}
