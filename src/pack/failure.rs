//! What can go wrong while packing: one variant per thing a user can fix, each naming the file,
//! blob or image it concerns, printed as one line.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// A packing failure.
#[derive(Debug)]
pub enum Failure {
    /// A command-line mistake (the text says which).
    Usage(String),
    /// A source that is neither an OCI image layout (directory or tar) nor a docker-archive.
    NotSource {
        /// The source as given.
        path: PathBuf,
        /// Why it was not recognised.
        reason: &'static str,
    },
    /// A file that could not be read, created or written.
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done: "read", "create", "write", ...
        action: &'static str,
        /// The system's reason.
        error: io::Error,
    },
    /// A JSON document (`index.json`, a manifest, a config, `manifest.json`) that is not what
    /// its format says.
    Document {
        /// Where the document is (`SOURCE:PATH`).
        location: String,
        /// What is wrong.
        reason: String,
    },
    /// A blob named by a manifest or an index that the source does not hold.
    BlobMissing {
        /// Where it should be (`SOURCE:blobs/sha256/...`).
        location: String,
    },
    /// A blob whose content does not match its digest or its declared size.
    BlobCorrupt {
        /// Where it is.
        location: String,
        /// What does not match.
        reason: String,
    },
    /// An `--image` that names no image of the sources.
    ImageUnknown {
        /// The `--image` argument.
        reference: String,
        /// The names the sources do have.
        available: Vec<String>,
    },
    /// One name given to two different images.
    NameConflict {
        /// The name.
        name: String,
        /// The first image's digest and source.
        first: String,
        /// The second image's digest and source.
        second: String,
    },
}

impl Failure {
    /// An I/O failure on `path`.
    pub fn io(path: &Path, action: &'static str, error: io::Error) -> Failure {
        Failure::Io {
            path: path.to_path_buf(),
            action,
            error,
        }
    }

    /// A document failure at `location`.
    pub fn document(location: impl Into<String>, reason: impl Into<String>) -> Failure {
        Failure::Document {
            location: location.into(),
            reason: reason.into(),
        }
    }

    /// A usage failure.
    pub fn usage(text: impl Into<String>) -> Failure {
        Failure::Usage(text.into())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Usage(text) => write!(f, "{text} (see --help)"),
            Failure::NotSource { path, reason } => {
                write!(f, "{}: not an image source: {reason}", path.display())
            }
            Failure::Io {
                path,
                action,
                error,
            } => write!(f, "{}: cannot {action}: {error}", path.display()),
            Failure::Document { location, reason } => write!(f, "{location}: {reason}"),
            Failure::BlobMissing { location } => write!(f, "{location}: blob is missing"),
            Failure::BlobCorrupt { location, reason } => {
                write!(f, "{location}: blob is corrupt: {reason}")
            }
            Failure::ImageUnknown {
                reference,
                available,
            } => {
                write!(f, "--image {reference}: no such image in the sources")?;
                if available.is_empty() {
                    write!(f, " (they hold no named image)")
                } else {
                    write!(f, " (they hold: {})", available.join(", "))
                }
            }
            Failure::NameConflict {
                name,
                first,
                second,
            } => write!(
                f,
                "{name}: names two different images: {first} and {second}"
            ),
        }
    }
}

impl std::error::Error for Failure {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_each() {
        let cases = [
            Failure::usage("--out is required"),
            Failure::NotSource {
                path: "x".into(),
                reason: "no oci-layout file",
            },
            Failure::io(Path::new("out"), "create", io::ErrorKind::NotFound.into()),
            Failure::document("a:index.json", "not JSON"),
            Failure::BlobMissing {
                location: "a:blobs/sha256/00".into(),
            },
            Failure::BlobCorrupt {
                location: "a:blobs/sha256/00".into(),
                reason: "digest".into(),
            },
            Failure::ImageUnknown {
                reference: "x".into(),
                available: vec!["a".into(), "b".into()],
            },
            Failure::NameConflict {
                name: "n".into(),
                first: "1".into(),
                second: "2".into(),
            },
        ];
        for case in cases {
            let text = case.to_string();
            assert!(!text.contains('\n'), "{text:?}");
            assert!(!text.is_empty());
        }
    }
}
