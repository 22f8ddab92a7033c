//! Errors of the injector itself (as opposed to errors sent to registry clients).
//!
//! A failure must end in exactly one clear line on stderr that names the file and the reason,
//! so an [`Error`] is a fixed reason ([`Error`], `Copy`, static text: no formatting machinery
//! in the binary) and a [`Failure`] adds the file it concerns and the OS error, if any.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Why an unpack or start-up step failed. Each variant has one static message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // the message of each variant is its documentation
pub enum Error {
    Usage,
    BadChecksumArgument,
    BadAddress,
    Bind,
    NoChunks,
    ChunkName,
    ChunkMissing,
    ChunkDuplicate,
    ChunkRead,
    ChecksumMismatch,
    NotTarOrGzip,
    GzipHeader,
    GzipCorrupt,
    GzipTruncated,
    GzipCrc,
    GzipLength,
    TrailingData,
    TarHeader,
    TarTruncated,
    TarEndMissing,
    TarPaxInvalid,
    TarNameTooLong,
    TarSizeInvalid,
    TarTypeUnsupported,
    PathAbsolute,
    PathTraversal,
    PathInvalid,
    Link,
    SpecialFile,
    Write,
    SeedDirectory,
    LayoutMarker,
    LayoutIndex,
    JsonInvalid,
    JsonTooLarge,
    DescriptorInvalid,
    BlobMissing,
    BlobSize,
    BlobDigest,
    DigestUnsupported,
    NestingTooDeep,
}

impl Error {
    /// The one-line human message of this error.
    pub fn message(self) -> &'static str {
        match self {
            Error::Usage => "usage: zarf-injector <sha256-hex> [bind-address] | serve <layout-dir> [bind-address] (see --help)",
            Error::BadChecksumArgument => "the checksum argument is not 64 hexadecimal digits",
            Error::BadAddress => "not a socket address (like 0.0.0.0:5000 or [::]:5000)",
            Error::Bind => "cannot listen on this address",
            Error::NoChunks => "no zarf-payload-* chunk files in this directory",
            Error::ChunkName => "chunk file name does not end in a decimal number",
            Error::ChunkMissing => "chunk is missing: the chunk numbers have a gap",
            Error::ChunkDuplicate => "two chunk files have the same number",
            Error::ChunkRead => "cannot read chunk",
            Error::ChecksumMismatch => "payload SHA-256 does not match the checksum argument",
            Error::NotTarOrGzip => "payload is neither gzip nor tar",
            Error::GzipHeader => "invalid gzip header",
            Error::GzipCorrupt => "corrupt gzip data",
            Error::GzipTruncated => "gzip stream is truncated",
            Error::GzipCrc => "gzip CRC-32 mismatch",
            Error::GzipLength => "gzip length mismatch",
            Error::TrailingData => "unexpected data after the end of the gzip stream",
            Error::TarHeader => "not a tar archive (bad header checksum)",
            Error::TarTruncated => "tar archive is truncated",
            Error::TarEndMissing => "tar archive has no end marker",
            Error::TarPaxInvalid => "invalid PAX extended header",
            Error::TarNameTooLong => "tar entry name too long",
            Error::TarSizeInvalid => "invalid tar entry size",
            Error::TarTypeUnsupported => "unsupported tar entry type",
            Error::PathAbsolute => "tar entry has an absolute path",
            Error::PathTraversal => "tar entry path leaves the seed directory (..)",
            Error::PathInvalid => "tar entry path is empty or invalid",
            Error::Link => "tar entry is a link (links are not allowed)",
            Error::SpecialFile => "tar entry is a device, FIFO or socket (not allowed)",
            Error::Write => "cannot write",
            Error::SeedDirectory => "cannot prepare the seed directory",
            Error::LayoutMarker => "not an OCI image layout (missing or invalid oci-layout)",
            Error::LayoutIndex => "not an OCI image layout (missing or invalid index.json)",
            Error::JsonInvalid => "invalid JSON",
            Error::JsonTooLarge => "JSON document too large",
            Error::DescriptorInvalid => "invalid descriptor",
            Error::BlobMissing => "blob referenced by a descriptor is missing",
            Error::BlobSize => "blob size differs from its descriptor",
            Error::BlobDigest => "blob content does not match its digest",
            Error::DigestUnsupported => "unsupported or malformed digest",
            Error::NestingTooDeep => "image indexes nest too deeply",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for Error {}

impl Error {
    /// The [`Error`] carried inside an `io::Error` by a decoding layer, if there is one.
    pub fn inside(error: &io::Error) -> Option<Error> {
        error
            .get_ref()
            .and_then(|e| e.downcast_ref::<Error>())
            .copied()
    }
}

/// An [`Error`] with the file it concerns and the underlying OS error, if any.
#[derive(Debug)]
pub struct Failure {
    /// The reason.
    pub error: Error,
    /// The file or directory concerned, if one is.
    pub path: Option<PathBuf>,
    /// The OS error that caused it, if one did.
    pub os: Option<io::Error>,
}

impl Failure {
    /// A failure with no file attached.
    pub fn new(error: Error) -> Failure {
        Failure {
            error,
            path: None,
            os: None,
        }
    }

    /// A failure concerning `path`.
    pub fn at(error: Error, path: &Path) -> Failure {
        Failure {
            error,
            path: Some(path.to_path_buf()),
            os: None,
        }
    }

    /// A failure concerning `path`, caused by the OS error `os`.
    pub fn io(error: Error, path: &Path, os: io::Error) -> Failure {
        Failure {
            error,
            path: Some(path.to_path_buf()),
            os: Some(os),
        }
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        Failure::new(error)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(path) = &self.path {
            f.write_str(&path.to_string_lossy())?;
            f.write_str(": ")?;
        }
        f.write_str(self.error.message())?;
        if let Some(os) = &self.os {
            f.write_str(": ")?;
            fmt::Display::fmt(os, f)?;
        }
        Ok(())
    }
}
