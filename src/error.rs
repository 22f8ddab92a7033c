//! Errors: the ones sent to registry clients ([`ErrorCode`]) and the injector's own ([`Error`],
//! [`Failure`]).
//!
//! A registry client sees one wire vocabulary: the distribution spec's error codes (code-1 to
//! code-14, plus distribution's `TAG_INVALID` and `RANGE_INVALID`), each with its HTTP status and
//! message from a single `match`, written as the spec's `{"errors":[...]}` body by one writer,
//! [`push_error_body`]. Nothing else invents codes or spells them inline.
//!
//! A failure of the injector itself must end in exactly one clear line on stderr that names the
//! file and the reason, so an [`Error`] is a fixed reason (`Copy`, static text: no formatting
//! machinery in the binary) and a [`Failure`] adds the file it concerns and the OS error, if any.

use crate::line::Line;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// An error code of the distribution spec, as sent to registry clients.
///
/// The variants mirror the spec's table (code-1 to code-14, in its order) and add the two codes
/// of distribution/distribution that the spec lacks but clients know: `TAG_INVALID` and
/// `RANGE_INVALID`. Status, code text and message all come from [`ErrorCode::describe`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// code-1 `BLOB_UNKNOWN`, 404: the blob is not in this repository.
    BlobUnknown,
    /// code-2 `BLOB_UPLOAD_INVALID`, 404 (as distribution sends it): never sent, since this
    /// registry has no uploads; kept so the vocabulary is the spec's.
    BlobUploadInvalid,
    /// code-3 `BLOB_UPLOAD_UNKNOWN`, 404: a GET of an upload session (end-13); there are none.
    BlobUploadUnknown,
    /// code-4 `DIGEST_INVALID`, 400: a blob or referrers digest that is not a valid digest.
    DigestInvalid,
    /// code-5 `MANIFEST_BLOB_UNKNOWN`, 400: push only.
    ManifestBlobUnknown,
    /// code-6 `MANIFEST_INVALID`, 400: push only.
    ManifestInvalid,
    /// code-7 `MANIFEST_UNKNOWN`, 404: no such manifest, including references that are neither a
    /// tag nor a digest.
    ManifestUnknown,
    /// code-8 `NAME_INVALID`, 400: the repository name breaks the spec's grammar.
    NameInvalid,
    /// code-9 `NAME_UNKNOWN`, 404: no such repository, or no such endpoint.
    NameUnknown,
    /// code-10 `SIZE_INVALID`, 400: push only.
    SizeInvalid,
    /// code-11 `UNAUTHORIZED`, 401: never sent (no authentication).
    Unauthorized,
    /// code-12 `DENIED`, 403: never sent (no authorization).
    Denied,
    /// code-13 `UNSUPPORTED`, 405: any write (PUT, POST, PATCH, DELETE).
    Unsupported,
    /// code-14 `TOOMANYREQUESTS`, 429.
    TooManyRequests,
    /// distribution's `TAG_INVALID`, 400: a `last` parameter of a tag list that is not a tag.
    TagInvalid,
    /// distribution's `RANGE_INVALID`, 416: a `Range` no byte of the blob satisfies.
    RangeInvalid,
}

impl ErrorCode {
    /// The HTTP status, the code as sent on the wire, and the message, from one table (as
    /// distribution's `register.go` keeps them together). Messages are the spec's descriptions.
    pub fn describe(self) -> (u16, &'static str, &'static str) {
        match self {
            ErrorCode::BlobUnknown => (404, "BLOB_UNKNOWN", "blob unknown to registry"),
            ErrorCode::BlobUploadInvalid => (404, "BLOB_UPLOAD_INVALID", "blob upload invalid"),
            ErrorCode::BlobUploadUnknown => (
                404,
                "BLOB_UPLOAD_UNKNOWN",
                "blob upload unknown to registry",
            ),
            ErrorCode::DigestInvalid => (
                400,
                "DIGEST_INVALID",
                "provided digest did not match uploaded content",
            ),
            ErrorCode::ManifestBlobUnknown => (
                400,
                "MANIFEST_BLOB_UNKNOWN",
                "manifest references a manifest or blob unknown to registry",
            ),
            ErrorCode::ManifestInvalid => (400, "MANIFEST_INVALID", "manifest invalid"),
            ErrorCode::ManifestUnknown => (404, "MANIFEST_UNKNOWN", "manifest unknown to registry"),
            ErrorCode::NameInvalid => (400, "NAME_INVALID", "invalid repository name"),
            ErrorCode::NameUnknown => {
                (404, "NAME_UNKNOWN", "repository name not known to registry")
            }
            ErrorCode::SizeInvalid => (
                400,
                "SIZE_INVALID",
                "provided length did not match content length",
            ),
            ErrorCode::Unauthorized => (401, "UNAUTHORIZED", "authentication required"),
            ErrorCode::Denied => (403, "DENIED", "requested access to the resource is denied"),
            ErrorCode::Unsupported => (405, "UNSUPPORTED", "the operation is unsupported"),
            ErrorCode::TooManyRequests => (429, "TOOMANYREQUESTS", "too many requests"),
            ErrorCode::TagInvalid => (400, "TAG_INVALID", "invalid tag"),
            ErrorCode::RangeInvalid => (416, "RANGE_INVALID", "requested range not satisfiable"),
        }
    }

    /// The HTTP status code.
    pub fn status(self) -> u16 {
        self.describe().0
    }

    /// The code as sent in the `code` field, like `BLOB_UNKNOWN`.
    pub fn code(self) -> &'static str {
        self.describe().1
    }

    /// The human message sent in the `message` field.
    pub fn message(self) -> &'static str {
        self.describe().2
    }
}

/// Appends the spec's error body for `code`: `{"errors":[{"code":..,"message":..}]}`, with a
/// `"detail"` string when `detail` is given. Every text is JSON-escaped.
pub fn push_error_body(out: &mut String, code: ErrorCode, detail: Option<&str>) {
    let (_, code, message) = code.describe();
    out.push_str("{\"errors\":[{\"code\":");
    crate::json::push_string(out, code);
    out.push_str(",\"message\":");
    crate::json::push_string(out, message);
    if let Some(detail) = detail {
        out.push_str(",\"detail\":");
        crate::json::push_string(out, detail);
    }
    out.push_str("}]}");
}

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
    IndexTooLarge,
    TooManyManifests,
    TooManyLinks,
    PathTooDeep,
    StagingLeft,
    Terminated,
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
            Error::JsonTooLarge => "manifest larger than 4 MiB (the limit)",
            Error::DescriptorInvalid => "invalid descriptor",
            Error::BlobMissing => "blob referenced by a descriptor is missing",
            Error::BlobSize => "blob size differs from its descriptor",
            Error::BlobDigest => "blob content does not match its digest",
            Error::DigestUnsupported => "unsupported or malformed digest",
            Error::NestingTooDeep => "manifests nest over 8 levels below index.json (the limit)",
            Error::IndexTooLarge => "index.json larger than 64 MiB (the limit)",
            Error::TooManyManifests => "more than 100000 manifests (the limit)",
            Error::TooManyLinks => "more than 4194304 links to follow (the limit)",
            Error::PathTooDeep => "tar entry path deeper than 32 components (the limit)",
            Error::StagingLeft => "cannot remove the staging directory",
            Error::Terminated => "stopped by SIGTERM or SIGINT",
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

/// An [`Error`] with the file it concerns and the underlying OS error, if any ([`Report`]).
///
/// Boxed, so that a `Result<_, Failure>` is one pointer wide: every `?` of the injector then
/// moves a pointer, not 64 bytes, which keeps kilobytes of copies out of the binary. Its fields
/// are read and set through the box (`failure.error`, `failure.path = ...`).
#[derive(Debug)]
pub struct Failure(Box<Report>);

/// What a [`Failure`] says.
#[derive(Debug)]
pub struct Report {
    /// The reason.
    pub error: Error,
    /// The file or directory concerned, if one is.
    pub path: Option<PathBuf>,
    /// The OS error that caused it, if one did.
    pub os: Option<io::Error>,
    /// A fact that helps the reader, e.g. the checksum actually computed.
    pub detail: Option<String>,
}

impl Failure {
    /// A failure with no file attached.
    pub fn new(error: Error) -> Failure {
        Failure::with(error, None, None)
    }

    /// A failure concerning `path`.
    pub fn at(error: Error, path: &Path) -> Failure {
        Failure::with(error, Some(path.to_path_buf()), None)
    }

    /// A failure concerning `path`, caused by the OS error `os`.
    pub fn io(error: Error, path: &Path, os: io::Error) -> Failure {
        Failure::with(error, Some(path.to_path_buf()), Some(os))
    }

    fn with(error: Error, path: Option<PathBuf>, os: Option<io::Error>) -> Failure {
        Failure(Box::new(Report {
            error,
            path,
            os,
            detail: None,
        }))
    }
}

impl std::ops::Deref for Failure {
    type Target = Report;
    fn deref(&self) -> &Report {
        &self.0
    }
}

impl std::ops::DerefMut for Failure {
    fn deref_mut(&mut self) -> &mut Report {
        &mut self.0
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        Failure::new(error)
    }
}

impl Failure {
    /// The failure in words: `path: reason: OS error (detail)`, each part when present.
    pub fn line(&self) -> Line {
        let mut line = Line::default();
        if let Some(path) = &self.path {
            line.path(path).text(": ");
        }
        line.text(self.error.message());
        if let Some(os) = &self.os {
            line.text(": ").io_error(os);
        }
        if let Some(detail) = &self.detail {
            line.text(" (").text(detail).text(")");
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variant with its status and wire code (dist `errors_test.go`). The `match` in
    /// `listed` makes a new variant fail to compile until it is added here.
    const CODES: &[(ErrorCode, u16, &str)] = &[
        (ErrorCode::BlobUnknown, 404, "BLOB_UNKNOWN"),
        (ErrorCode::BlobUploadInvalid, 404, "BLOB_UPLOAD_INVALID"),
        (ErrorCode::BlobUploadUnknown, 404, "BLOB_UPLOAD_UNKNOWN"),
        (ErrorCode::DigestInvalid, 400, "DIGEST_INVALID"),
        (ErrorCode::ManifestBlobUnknown, 400, "MANIFEST_BLOB_UNKNOWN"),
        (ErrorCode::ManifestInvalid, 400, "MANIFEST_INVALID"),
        (ErrorCode::ManifestUnknown, 404, "MANIFEST_UNKNOWN"),
        (ErrorCode::NameInvalid, 400, "NAME_INVALID"),
        (ErrorCode::NameUnknown, 404, "NAME_UNKNOWN"),
        (ErrorCode::SizeInvalid, 400, "SIZE_INVALID"),
        (ErrorCode::Unauthorized, 401, "UNAUTHORIZED"),
        (ErrorCode::Denied, 403, "DENIED"),
        (ErrorCode::Unsupported, 405, "UNSUPPORTED"),
        (ErrorCode::TooManyRequests, 429, "TOOMANYREQUESTS"),
        (ErrorCode::TagInvalid, 400, "TAG_INVALID"),
        (ErrorCode::RangeInvalid, 416, "RANGE_INVALID"),
    ];

    fn listed(code: ErrorCode) -> usize {
        match code {
            ErrorCode::BlobUnknown => 0,
            ErrorCode::BlobUploadInvalid => 1,
            ErrorCode::BlobUploadUnknown => 2,
            ErrorCode::DigestInvalid => 3,
            ErrorCode::ManifestBlobUnknown => 4,
            ErrorCode::ManifestInvalid => 5,
            ErrorCode::ManifestUnknown => 6,
            ErrorCode::NameInvalid => 7,
            ErrorCode::NameUnknown => 8,
            ErrorCode::SizeInvalid => 9,
            ErrorCode::Unauthorized => 10,
            ErrorCode::Denied => 11,
            ErrorCode::Unsupported => 12,
            ErrorCode::TooManyRequests => 13,
            ErrorCode::TagInvalid => 14,
            ErrorCode::RangeInvalid => 15,
        }
    }

    #[test]
    fn every_code_has_its_status_and_wire_text() {
        for (i, &(code, status, text)) in CODES.iter().enumerate() {
            assert_eq!(listed(code), i, "{text}: table out of order");
            assert_eq!(code.status(), status, "{text}");
            assert_eq!(code.code(), text);
            assert!(!code.message().is_empty(), "{text}");
            // code-1..14: "only uppercase alphabetic characters and underscores"
            assert!(
                text.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'),
                "{text}"
            );
            assert!(
                (400..500).contains(&status),
                "{text}: the spec's errors are 4XX"
            );
        }
        for (i, a) in CODES.iter().enumerate() {
            for b in CODES.iter().skip(i + 1) {
                assert_ne!(a.2, b.2, "duplicate code");
            }
        }
    }

    #[test]
    fn error_body_for_every_code() {
        for &(code, _, text) in CODES {
            let mut body = String::new();
            push_error_body(&mut body, code, None);
            let want = format!(
                "{{\"errors\":[{{\"code\":\"{text}\",\"message\":\"{}\"}}]}}",
                code.message()
            );
            assert_eq!(body, want);
        }
    }

    struct Case {
        name: &'static str,
        detail: &'static str,
        json: &'static str,
    }

    const DETAILS: &[Case] = &[
        Case {
            name: "plain",
            detail: "library/registry",
            json: r#""library/registry""#,
        },
        Case {
            name: "empty",
            detail: "",
            json: r#""""#,
        },
        Case {
            name: "quote",
            detail: "a\"b",
            json: r#""a\"b""#,
        },
        Case {
            name: "backslash",
            detail: "a\\b",
            json: r#""a\\b""#,
        },
        Case {
            name: "newline and tab",
            detail: "a\n\tb\r",
            json: r#""a\n\tb\r""#,
        },
        Case {
            name: "nul",
            detail: "\u{0}",
            json: r#""\u0000""#,
        },
        Case {
            name: "unit separator",
            detail: "\u{1f}",
            json: r#""\u001f""#,
        },
        Case {
            name: "backspace and form feed",
            detail: "\u{8}\u{c}",
            json: r#""\u0008\u000c""#,
        },
        Case {
            name: "delete is not a control in JSON",
            detail: "\u{7f}",
            json: "\"\u{7f}\"",
        },
        Case {
            name: "non-ASCII copied",
            detail: "é\u{2028}😀",
            json: "\"é\u{2028}😀\"",
        },
        Case {
            name: "slash not escaped",
            detail: "</script>",
            json: r#""</script>""#,
        },
        Case {
            name: "injection attempt",
            detail: "\"}]}",
            json: r#""\"}]}""#,
        },
    ];

    #[test]
    fn detail_is_json_escaped() {
        for case in DETAILS {
            let mut body = String::new();
            push_error_body(&mut body, ErrorCode::NameInvalid, Some(case.detail));
            let want = format!(
                "{{\"errors\":[{{\"code\":\"NAME_INVALID\",\"message\":\"invalid repository name\",\"detail\":{}}}]}}",
                case.json
            );
            assert_eq!(body, want, "{}", case.name);
        }
    }

    #[test]
    fn every_control_character_is_escaped() {
        for b in 0u8..0x20 {
            let mut out = String::new();
            crate::json::push_string(&mut out, &char::from(b).to_string());
            assert!(
                out.bytes().skip(1).take(out.len() - 2).all(|c| c >= 0x20),
                "{b:#x}: {out}"
            );
        }
    }

    /// Each message that names a limit names the constant's value (they are static strings).
    #[test]
    fn limits_are_named_with_their_values() {
        let mib = |bytes: usize| format!("{} MiB", bytes >> 20);
        let cases = [
            (Error::JsonTooLarge, mib(crate::json::MAX_DOCUMENT)),
            (Error::IndexTooLarge, mib(crate::json::MAX_INDEX)),
            (
                Error::NestingTooDeep,
                format!("over {} levels", crate::layout::MAX_DEPTH),
            ),
            (
                Error::TooManyManifests,
                format!("{} manifests", crate::layout::MAX_MANIFESTS),
            ),
            (
                Error::TooManyLinks,
                format!("{} links", crate::repository::MAX_STEPS),
            ),
            (
                Error::PathTooDeep,
                format!("{} components", crate::inject::untar::MAX_DEPTH),
            ),
        ];
        for (error, limit) in cases {
            assert!(error.message().contains(&limit), "{error:?}: {limit}");
            assert!(error.message().ends_with("(the limit)"), "{error:?}");
        }
    }

    #[test]
    fn injector_errors_keep_their_messages() {
        assert_eq!(Error::Usage.to_string(), Error::Usage.message());
        let failure = Failure::at(Error::Write, Path::new("/x"));
        assert_eq!(failure.line().as_str(), "/x: cannot write");
    }
}
