//! Request target → [`Route`]: which endpoint of the distribution spec a request names, with its
//! name, reference or digest checked against the spec's grammar before anything is looked up.
//!
//! Why a hand-written, pure parser: names contain `/`, so the endpoint is found from the right
//! (`.../manifests/<reference>`, `.../blobs/<digest>`, `.../tags/list`, ...), which a router for
//! fixed segment counts cannot do, and a regex engine costs more than the whole parser. Whatever
//! [`Route::parse`] returns is safe to use: a name matches the spec's grammar (no empty, `.` or
//! `..` component can), a digest passed [`Digest::parse`] (so `blobs/<algorithm>/<hex>` stays
//! inside `blobs/`), and a tag is only ever a key to look up, never a path.
//!
//! # Decisions where the spec leaves room
//!
//! - **No percent-decoding in the path.** Valid names, tags and digests consist only of
//!   characters that never need encoding in a path (`:` and `/` are legal there, RFC 3986 §3.3),
//!   and the clients this registry serves (containerd, containers/image, go-containerregistry,
//!   docker, oras) send them raw. An encoded `/` or `:` is, by RFC 3986 §2.2, not the same URI
//!   as the raw one, and a `%` is simply a character the grammars refuse: a name with one is
//!   `NAME_INVALID`, a manifest reference `MANIFEST_UNKNOWN`, a blob digest `DIGEST_INVALID`.
//!   (Go servers such as distribution decode the path first; a client that encodes
//!   `sha256%3A...` is the one case they accept and we do not.)
//! - **Query values are percent-decoded** (`last` of a catalog is a name with `/`, and Go's
//!   `url.Values` encodes `/` and `+`); `+` stays a plus (RFC 3986, not HTML forms), since media
//!   types such as `application/spdx+json` contain it and never a space. The first occurrence of
//!   a parameter counts; unknown parameters (such as a proxy's `ns`) are ignored.
//! - **`n`**: decimal digits; larger than `usize` means "all". Anything else (`-1`, `x`, empty)
//!   is ignored as if absent: the spec has no code for it (distribution's
//!   `PAGINATION_NUMBER_INVALID` is not one), and the full answer is a correct one.
//! - **`last`**: empty means absent (distribution does the same); otherwise it must be a tag
//!   (`TAG_INVALID`) for a tag list and a name (`NAME_INVALID`) for the catalog. A client only
//!   sends back what a previous page gave it, so anything else is a broken client.
//! - **`artifactType`** must be a media type (RFC 6838 §4.2, no parameters), or it is dropped:
//!   the registry then answers unfiltered and without `OCI-Filters-Applied`, which the spec
//!   allows (filtering is a SHOULD, and the header tells the client to filter itself).
//! - **Unknown paths** (anything that is no endpoint, `/v2/<name>` alone, paths outside
//!   `/v2/`) are `NAME_UNKNOWN`, 404: the spec has no "no such endpoint" code, 404 is what
//!   clients probing for API support expect, and every 404 of this registry then has a spec code.
//! - **Upload paths** (`/v2/<name>/blobs/uploads/[<id>]`, end-4a to end-6, end-11, end-13,
//!   end-14) are `BLOB_UPLOAD_UNKNOWN`, 404: there are no upload sessions. Writes never get here:
//!   the registry answers every PUT, POST, PATCH and DELETE with 405 `UNSUPPORTED` first.
//! - The name is checked before the reference or digest, so `/v2/Bad/blobs/x` is `NAME_INVALID`.
//! - `/v2` without the slash is the base endpoint too. A request target in absolute-form
//!   (`http://host/v2/`, RFC 9112 §3.2.2: a server MUST accept it) is reduced to its path.

use crate::digest::{hex_value, Digest};
use crate::error::ErrorCode;
use std::borrow::Cow;

/// The longest repository name, slashes included: distribution's `NameTotalLengthMax`, and the
/// spec's "less than 256 characters".
pub const NAME_MAX: usize = 255;

/// The longest tag: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
pub const TAG_MAX: usize = 128;

/// The `<reference>` of a manifest request (end-3): a tag or a digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reference<'a> {
    /// A tag, matching `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
    Tag(&'a str),
    /// A digest.
    Digest(Digest<'a>),
}

/// The pagination parameters of a list (end-8b, catalog).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Page<'a> {
    /// `n`: at most this many entries; `None` for no limit.
    pub n: Option<usize>,
    /// `last`: only entries after this one; percent-decoded and validated.
    pub last: Option<Cow<'a, str>>,
}

/// A read endpoint of the distribution spec, with validated parts borrowed from the target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route<'a> {
    /// end-1 `/v2/`: API version check.
    Base,
    /// `/v2/_catalog`: the repository list (Content Discovery).
    Catalog(Page<'a>),
    /// end-8a/8b `/v2/<name>/tags/list`.
    Tags {
        /// The repository.
        name: &'a str,
        /// `n` and `last`.
        page: Page<'a>,
    },
    /// end-3 `/v2/<name>/manifests/<reference>`.
    Manifest {
        /// The repository.
        name: &'a str,
        /// The tag or digest.
        reference: Reference<'a>,
    },
    /// end-2 `/v2/<name>/blobs/<digest>`.
    Blob {
        /// The repository.
        name: &'a str,
        /// The blob's digest.
        digest: Digest<'a>,
    },
    /// end-12a/12b `/v2/<name>/referrers/<digest>`.
    Referrers {
        /// The repository.
        name: &'a str,
        /// The digest of the subject manifest.
        digest: Digest<'a>,
        /// The `artifactType` filter, percent-decoded; `None` if absent or not a media type.
        artifact_type: Option<Cow<'a, str>>,
    },
}

/// The endpoint found before its parts are checked.
enum Endpoint {
    Tags,
    Manifest,
    Blob,
    Referrers,
    Upload,
}

impl<'a> Route<'a> {
    /// Parses a request target (origin-form `/v2/...?query`, or absolute-form). The error is the
    /// code to answer with; see the module documentation for which one and why.
    pub fn parse(target: &'a str) -> Result<Route<'a>, ErrorCode> {
        let target = origin_form(target);
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let rest = match path.strip_prefix("/v2") {
            Some("" | "/") => return Ok(Route::Base),
            Some(rest) => rest.strip_prefix('/').ok_or(ErrorCode::NameUnknown)?,
            None => return Err(ErrorCode::NameUnknown),
        };
        if rest == "_catalog" {
            return Ok(Route::Catalog(page(
                query,
                valid_name,
                ErrorCode::NameInvalid,
            )?));
        }
        let (head, last) = rsplit_byte(rest, b'/').ok_or(ErrorCode::NameUnknown)?;
        let (mut name, keyword) = rsplit_byte(head, b'/').ok_or(ErrorCode::NameUnknown)?;
        let endpoint = match keyword {
            "manifests" => Endpoint::Manifest,
            "blobs" => Endpoint::Blob,
            "referrers" => Endpoint::Referrers,
            "tags" if last == "list" => Endpoint::Tags,
            "uploads" => match rsplit_byte(name, b'/') {
                Some((upload_name, "blobs")) => {
                    name = upload_name;
                    Endpoint::Upload
                }
                _ => return Err(ErrorCode::NameUnknown),
            },
            _ => return Err(ErrorCode::NameUnknown),
        };
        if !valid_name(name) {
            return Err(ErrorCode::NameInvalid);
        }
        match endpoint {
            Endpoint::Tags => Ok(Route::Tags {
                name,
                page: page(query, valid_tag, ErrorCode::TagInvalid)?,
            }),
            Endpoint::Manifest => Ok(Route::Manifest {
                name,
                reference: parse_reference(last).ok_or(ErrorCode::ManifestUnknown)?,
            }),
            Endpoint::Blob => Ok(Route::Blob {
                name,
                digest: Digest::parse(last).map_err(|_| unsupported_or_invalid(last))?,
            }),
            Endpoint::Referrers => Ok(Route::Referrers {
                name,
                digest: Digest::parse(last).map_err(|_| ErrorCode::DigestInvalid)?,
                artifact_type: param(query, "artifactType")
                    .and_then(percent_decode)
                    .filter(|t| valid_media_type(t)),
            }),
            Endpoint::Upload => Err(ErrorCode::BlobUploadUnknown),
        }
    }
}

/// A well-formed digest of an algorithm we do not store names no blob we have (404); anything
/// else is malformed (400).
fn unsupported_or_invalid(text: &str) -> ErrorCode {
    if Digest::well_formed(text) {
        ErrorCode::BlobUnknown
    } else {
        ErrorCode::DigestInvalid
    }
}

/// A tag if it is one, else a digest if it is one (a tag never contains `:`).
fn parse_reference(text: &str) -> Option<Reference<'_>> {
    if valid_tag(text) {
        Some(Reference::Tag(text))
    } else {
        Digest::parse(text).ok().map(Reference::Digest)
    }
}

/// The path and query of a target in absolute-form (`http://host/path?query`); other targets
/// unchanged.
fn origin_form(target: &str) -> &str {
    let after_scheme = ["http://", "https://"].iter().find_map(|scheme| {
        let prefix = target.get(..scheme.len())?;
        prefix
            .eq_ignore_ascii_case(scheme)
            .then(|| target.get(scheme.len()..))
            .flatten()
    });
    let Some(rest) = after_scheme else {
        return target;
    };
    let end = rest.bytes().position(|b| matches!(b, b'/' | b'?' | b'#'));
    match end.and_then(|at| rest.get(at..)) {
        Some(path) if path.starts_with('/') => path,
        _ => "/",
    }
}

/// `n` and `last`; `valid` checks a decoded `last`, else the answer is `invalid`.
fn page<'a>(
    query: &'a str,
    valid: fn(&str) -> bool,
    invalid: ErrorCode,
) -> Result<Page<'a>, ErrorCode> {
    let n = param(query, "n").and_then(parse_count);
    let last = match param(query, "last") {
        None | Some("") => None,
        Some(raw) => match percent_decode(raw) {
            Some(last) if valid(&last) => Some(last),
            _ => return Err(invalid),
        },
    };
    Ok(Page { n, last })
}

/// The raw value of the first `key=value` pair of `query` named `key` (a bare `key` has the
/// value "").
fn param<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == key).then_some(v)
    })
}

/// A non-empty run of decimal digits, saturating at `usize::MAX`.
fn parse_count(text: &str) -> Option<usize> {
    if text.is_empty() {
        return None;
    }
    text.bytes().try_fold(0usize, |n, b| {
        b.is_ascii_digit()
            .then(|| n.saturating_mul(10).saturating_add(usize::from(b - b'0')))
    })
}

/// Decodes `%XX` escapes (either case); `None` if an escape is malformed or the result is not
/// UTF-8. Borrows when there is nothing to decode.
pub fn percent_decode(text: &str) -> Option<Cow<'_, str>> {
    if !text.contains('%') {
        return Some(Cow::Borrowed(text));
    }
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            let [hi, lo, tail @ ..] = tail else {
                return None;
            };
            out.push(hex_value(*hi)? << 4 | hex_value(*lo)?);
            rest = tail;
        } else {
            out.push(b);
            rest = tail;
        }
    }
    String::from_utf8(out).ok().map(Cow::Owned)
}

/// `text` split at its last `separator`, an ASCII byte (so both sides are whole UTF-8), which
/// neither side keeps. `str::rsplit_once` with a `char` does the same with a searcher that
/// cost ~0.5 KB of the nightly binary (docs/SIZE.md).
pub fn rsplit_byte(text: &str, separator: u8) -> Option<(&str, &str)> {
    let at = text.bytes().rposition(|b| b == separator)?;
    Some((text.get(..at)?, text.get(at + 1..)?))
}

/// Whether `name` is a repository name:
/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`, at most
/// [`NAME_MAX`] bytes.
pub fn valid_name(name: &str) -> bool {
    name.len() <= NAME_MAX && name.split('/').all(valid_component)
}

/// One path component: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
fn valid_component(component: &str) -> bool {
    let mut started = false;
    let mut separator = 0u8;
    let mut run = 0usize;
    for b in component.bytes() {
        if b.is_ascii_lowercase() || b.is_ascii_digit() {
            // A run ends: ".", "_", "__" or any number of "-".
            if run > 1 && separator != b'-' && !(separator == b'_' && run == 2) {
                return false;
            }
            started = true;
            run = 0;
        } else if matches!(b, b'.' | b'_' | b'-') && started && (run == 0 || b == separator) {
            separator = b;
            run += 1;
        } else {
            return false;
        }
    }
    started && run == 0
}

/// Whether `tag` is a tag: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
pub fn valid_tag(tag: &str) -> bool {
    let mut bytes = tag.bytes();
    tag.len() <= TAG_MAX
        && bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Whether `text` is a media type without parameters, `type/subtype` (RFC 6838 §4.2: each a
/// restricted-name, an alphanumeric then up to 126 of `A-Za-z0-9!#$&-^_.+`).
pub fn valid_media_type(text: &str) -> bool {
    fn restricted_name(name: &str) -> bool {
        let mut bytes = name.bytes();
        name.len() <= 127
            && bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
            && bytes.all(|b| {
                b.is_ascii_alphanumeric()
                    || matches!(
                        b,
                        b'!' | b'#' | b'$' | b'&' | b'-' | b'^' | b'_' | b'.' | b'+'
                    )
            })
    }
    text.split_once('/')
        .is_some_and(|(kind, sub)| restricted_name(kind) && restricted_name(sub))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Algorithm;
    use crate::test_rng::Rng;

    /// `rsplit_byte` agrees with `str::rsplit_once` on ASCII separators, whatever surrounds them.
    #[test]
    fn rsplit_byte_is_rsplit_once() {
        for text in [
            "",
            "/",
            "a/b",
            "a/b/c",
            "/a",
            "a/",
            "é/ü/",
            "x:y/z:1",
            "no separator",
        ] {
            for (byte, char) in [(b'/', '/'), (b':', ':')] {
                assert_eq!(
                    rsplit_byte(text, byte),
                    text.rsplit_once(char),
                    "{text:?} {char}"
                );
            }
        }
    }

    macro_rules! h64 {
        () => {
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        };
    }

    const D256: Digest<'static> = Digest {
        algorithm: Algorithm::Sha256,
        hex: h64!(),
        text: concat!("sha256:", h64!()),
    };
    const D512: Digest<'static> = Digest {
        algorithm: Algorithm::Sha512,
        hex: concat!(h64!(), h64!()),
        text: concat!("sha512:", h64!(), h64!()),
    };

    struct Case {
        name: &'static str,
        target: &'static str,
        want: Result<Route<'static>, ErrorCode>,
    }

    const fn page(n: Option<usize>, last: Option<&'static str>) -> Page<'static> {
        Page {
            n,
            last: match last {
                Some(last) => Some(Cow::Borrowed(last)),
                None => None,
            },
        }
    }

    const fn manifest(name: &'static str, reference: Reference<'static>) -> Route<'static> {
        Route::Manifest { name, reference }
    }

    const fn tags(name: &'static str, page: Page<'static>) -> Route<'static> {
        Route::Tags { name, page }
    }

    const fn referrers(artifact_type: Option<&'static str>) -> Route<'static> {
        Route::Referrers {
            name: "a/b",
            digest: D256,
            artifact_type: match artifact_type {
                Some(t) => Some(Cow::Borrowed(t)),
                None => None,
            },
        }
    }

    const TAG: Reference<'static> = Reference::Tag("latest");
    const NO_PAGE: Page<'static> = page(None, None);
    use ErrorCode::{
        BlobUnknown, BlobUploadUnknown, DigestInvalid, ManifestUnknown, NameInvalid, NameUnknown,
        TagInvalid,
    };

    const CASES: &[Case] = &[
        // end-1
        Case { name: "end-1 base", target: "/v2/", want: Ok(Route::Base) },
        Case { name: "end-1 without slash", target: "/v2", want: Ok(Route::Base) },
        Case { name: "end-1 with query", target: "/v2/?x=1", want: Ok(Route::Base) },
        Case { name: "absolute-form", target: "http://127.0.0.1:5000/v2/", want: Ok(Route::Base) },
        Case { name: "absolute-form https", target: "https://h/v2/a/manifests/latest", want: Ok(manifest("a", TAG)) },
        Case { name: "absolute-form scheme case", target: "HTTP://h/v2/", want: Ok(Route::Base) },
        Case { name: "absolute-form without path", target: "http://h", want: Err(NameUnknown) },
        Case { name: "absolute-form path in query", target: "http://h?/v2/", want: Err(NameUnknown) },
        Case { name: "absolute-form path in fragment", target: "http://h#/v2/", want: Err(NameUnknown) },
        Case { name: "scheme only", target: "http://", want: Err(NameUnknown) },
        Case { name: "root", target: "/", want: Err(NameUnknown) },
        Case { name: "empty target", target: "", want: Err(NameUnknown) },
        Case { name: "asterisk-form", target: "*", want: Err(NameUnknown) },
        Case { name: "v1", target: "/v1/", want: Err(NameUnknown) },
        Case { name: "v20", target: "/v20/", want: Err(NameUnknown) },
        Case { name: "relative", target: "v2/", want: Err(NameUnknown) },
        Case { name: "name alone", target: "/v2/library", want: Err(NameUnknown) },
        Case { name: "name and slash", target: "/v2/library/", want: Err(NameUnknown) },
        Case { name: "unknown endpoint", target: "/v2/a/foo/bar", want: Err(NameUnknown) },
        Case { name: "keyword then query", target: "/v2/a/manifests?x=/latest", want: Err(NameUnknown) },
        // catalog
        Case { name: "catalog", target: "/v2/_catalog", want: Ok(Route::Catalog(NO_PAGE)) },
        Case { name: "catalog n last", target: "/v2/_catalog?n=10&last=library%2Fregistry", want: Ok(Route::Catalog(page(Some(10), Some("library/registry")))) },
        Case { name: "catalog last raw slash", target: "/v2/_catalog?last=library/registry", want: Ok(Route::Catalog(page(None, Some("library/registry")))) },
        Case { name: "catalog last not a name", target: "/v2/_catalog?last=Library", want: Err(NameInvalid) },
        Case { name: "catalog last is a tag, not a name", target: "/v2/_catalog?last=v1.0_", want: Err(NameInvalid) },
        Case { name: "catalog trailing slash", target: "/v2/_catalog/", want: Err(NameUnknown) },
        Case { name: "catalog below", target: "/v2/_catalog/x", want: Err(NameUnknown) },
        // end-8a, end-8b
        Case { name: "end-8a tags", target: "/v2/library/registry/tags/list", want: Ok(tags("library/registry", NO_PAGE)) },
        Case { name: "end-8b n and last", target: "/v2/a/tags/list?n=2&last=v1.0", want: Ok(tags("a", page(Some(2), Some("v1.0")))) },
        Case { name: "end-8b last then n", target: "/v2/a/tags/list?last=v1.0&n=2", want: Ok(tags("a", page(Some(2), Some("v1.0")))) },
        Case { name: "n zero", target: "/v2/a/tags/list?n=0", want: Ok(tags("a", page(Some(0), None))) },
        Case { name: "n leading zeros", target: "/v2/a/tags/list?n=007", want: Ok(tags("a", page(Some(7), None))) },
        Case { name: "n huge saturates", target: "/v2/a/tags/list?n=99999999999999999999999999", want: Ok(tags("a", page(Some(usize::MAX), None))) },
        Case { name: "n negative ignored", target: "/v2/a/tags/list?n=-1", want: Ok(tags("a", NO_PAGE)) },
        Case { name: "n empty ignored", target: "/v2/a/tags/list?n=", want: Ok(tags("a", NO_PAGE)) },
        Case { name: "n bare ignored", target: "/v2/a/tags/list?n", want: Ok(tags("a", NO_PAGE)) },
        Case { name: "n exponent ignored", target: "/v2/a/tags/list?n=1e3", want: Ok(tags("a", NO_PAGE)) },
        Case { name: "n plus ignored", target: "/v2/a/tags/list?n=+1", want: Ok(tags("a", NO_PAGE)) },
        Case { name: "n encoded ignored", target: "/v2/a/tags/list?n=%31", want: Ok(tags("a", NO_PAGE)) },
        Case { name: "first n counts", target: "/v2/a/tags/list?n=1&n=2", want: Ok(tags("a", page(Some(1), None))) },
        Case { name: "keys are case-sensitive", target: "/v2/a/tags/list?N=1&Last=x", want: Ok(tags("a", NO_PAGE)) },
        Case { name: "unknown parameters ignored", target: "/v2/a/tags/list?ns=docker.io&n=1&", want: Ok(tags("a", page(Some(1), None))) },
        Case { name: "last empty is absent", target: "/v2/a/tags/list?last=", want: Ok(tags("a", NO_PAGE)) },
        Case { name: "last bare is absent", target: "/v2/a/tags/list?last", want: Ok(tags("a", NO_PAGE)) },
        Case { name: "last decoded", target: "/v2/a/tags/list?last=v%31%2e0", want: Ok(tags("a", page(None, Some("v1.0")))) },
        Case { name: "last not a tag", target: "/v2/a/tags/list?last=-x", want: Err(TagInvalid) },
        Case { name: "last with slash", target: "/v2/a/tags/list?last=a%2Fb", want: Err(TagInvalid) },
        Case { name: "last plus is not space", target: "/v2/a/tags/list?last=a+b", want: Err(TagInvalid) },
        Case { name: "last bad escape", target: "/v2/a/tags/list?last=%zz", want: Err(TagInvalid) },
        Case { name: "last truncated escape", target: "/v2/a/tags/list?last=a%2", want: Err(TagInvalid) },
        Case { name: "last lone percent", target: "/v2/a/tags/list?last=a%", want: Err(TagInvalid) },
        Case { name: "last not UTF-8", target: "/v2/a/tags/list?last=%ff", want: Err(TagInvalid) },
        Case { name: "tags without list", target: "/v2/a/tags/", want: Err(NameUnknown) },
        Case { name: "tags other", target: "/v2/a/tags/all", want: Err(NameUnknown) },
        Case { name: "tags list slash", target: "/v2/a/tags/list/", want: Err(NameUnknown) },
        Case { name: "tags without name", target: "/v2/tags/list", want: Err(NameUnknown) },
        Case { name: "tags empty name", target: "/v2//tags/list", want: Err(NameInvalid) },
        Case { name: "repository named tags", target: "/v2/tags/tags/list", want: Ok(tags("tags", NO_PAGE)) },
        Case { name: "tags bad name before bad last", target: "/v2/A/tags/list?last=-", want: Err(NameInvalid) },
        // end-3
        Case { name: "end-3 tag", target: "/v2/library/registry/manifests/2.8.2", want: Ok(manifest("library/registry", Reference::Tag("2.8.2"))) },
        Case { name: "end-3 sha256", target: concat!("/v2/a/manifests/sha256:", h64!()), want: Ok(manifest("a", Reference::Digest(D256))) },
        Case { name: "end-3 sha512", target: concat!("/v2/a/manifests/sha512:", h64!(), h64!()), want: Ok(manifest("a", Reference::Digest(D512))) },
        Case { name: "end-3 query ignored", target: "/v2/a/manifests/latest?ns=docker.io", want: Ok(manifest("a", TAG)) },
        Case { name: "tag of 128", target: concat!("/v2/a/manifests/", h64!(), h64!()), want: Ok(manifest("a", Reference::Tag(concat!(h64!(), h64!())))) },
        Case { name: "tag of 129", target: concat!("/v2/a/manifests/x", h64!(), h64!()), want: Err(ManifestUnknown) },
        Case { name: "tag underscore first", target: "/v2/a/manifests/_x", want: Ok(manifest("a", Reference::Tag("_x"))) },
        Case { name: "tag upper case", target: "/v2/a/manifests/V1.0-RC_2", want: Ok(manifest("a", Reference::Tag("V1.0-RC_2"))) },
        Case { name: "tag dot first", target: "/v2/a/manifests/.x", want: Err(ManifestUnknown) },
        Case { name: "tag dash first", target: "/v2/a/manifests/-x", want: Err(ManifestUnknown) },
        Case { name: "tag dotdot", target: "/v2/a/manifests/..", want: Err(ManifestUnknown) },
        Case { name: "reference empty", target: "/v2/a/manifests/", want: Err(ManifestUnknown) },
        Case { name: "reference with plus", target: "/v2/a/manifests/1.0+build", want: Err(ManifestUnknown) },
        Case { name: "reference fragment", target: "/v2/a/manifests/x#y", want: Err(ManifestUnknown) },
        Case { name: "reference unsupported algorithm", target: concat!("/v2/a/manifests/sha384:", h64!()), want: Err(ManifestUnknown) },
        Case { name: "reference upper-case hex", target: "/v2/a/manifests/sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", want: Err(ManifestUnknown) },
        Case { name: "reference short hex", target: "/v2/a/manifests/sha256:0123", want: Err(ManifestUnknown) },
        Case { name: "reference encoded colon", target: concat!("/v2/a/manifests/sha256%3A", h64!()), want: Err(ManifestUnknown) },
        Case { name: "reference with slash is another name", target: "/v2/a/manifests/b/c", want: Err(NameUnknown) },
        Case { name: "name containing manifests", target: "/v2/a/manifests/b/manifests/latest", want: Ok(manifest("a/manifests/b", TAG)) },
        // end-2
        Case { name: "end-2 blob", target: concat!("/v2/a/b/c/blobs/sha256:", h64!()), want: Ok(Route::Blob { name: "a/b/c", digest: D256 }) },
        Case { name: "end-2 sha512", target: concat!("/v2/a/blobs/sha512:", h64!(), h64!()), want: Ok(Route::Blob { name: "a", digest: D512 }) },
        Case { name: "repository named blobs", target: concat!("/v2/blobs/blobs/sha256:", h64!()), want: Ok(Route::Blob { name: "blobs", digest: D256 }) },
        Case { name: "blob by tag", target: "/v2/a/blobs/latest", want: Err(DigestInvalid) },
        Case { name: "blob digest traversal", target: "/v2/a/blobs/sha256:..", want: Err(DigestInvalid) },
        Case { name: "blob digest encoded colon", target: concat!("/v2/a/blobs/sha256%3a", h64!()), want: Err(DigestInvalid) },
        Case { name: "blob unsupported algorithm", target: concat!("/v2/a/blobs/md5:", h64!()), want: Err(BlobUnknown) },
        Case { name: "blob malformed sha256", target: "/v2/a/blobs/sha256:abc", want: Err(DigestInvalid) },
        Case { name: "blob malformed algorithm", target: "/v2/a/blobs/MD5:abc", want: Err(DigestInvalid) },
        Case { name: "blob digest empty", target: "/v2/a/blobs/", want: Err(DigestInvalid) },
        Case { name: "blob uploads without slash", target: "/v2/a/blobs/uploads", want: Err(DigestInvalid) },
        Case { name: "blob bad name first", target: "/v2/A/blobs/x", want: Err(NameInvalid) },
        // end-4a..6, 11, 13, 14
        Case { name: "end-4a uploads", target: "/v2/a/blobs/uploads/", want: Err(BlobUploadUnknown) },
        Case { name: "end-13 upload session", target: "/v2/a/b/blobs/uploads/0b5b1e5a-4c1b", want: Err(BlobUploadUnknown) },
        Case { name: "end-6 upload with digest", target: concat!("/v2/a/blobs/uploads/x?digest=sha256:", h64!()), want: Err(BlobUploadUnknown) },
        Case { name: "end-11 mount", target: "/v2/a/blobs/uploads/?mount=sha256:x&from=b", want: Err(BlobUploadUnknown) },
        Case { name: "uploads without blobs", target: "/v2/a/uploads/x", want: Err(NameUnknown) },
        Case { name: "uploads without name", target: "/v2/blobs/uploads/", want: Err(NameUnknown) },
        Case { name: "uploads bad name", target: "/v2/A/blobs/uploads/", want: Err(NameInvalid) },
        // end-12a, end-12b
        Case { name: "end-12a referrers", target: concat!("/v2/a/b/referrers/sha256:", h64!()), want: Ok(referrers(None)) },
        Case { name: "end-12b filter", target: concat!("/v2/a/b/referrers/sha256:", h64!(), "?artifactType=application/vnd.example.sbom.v1"), want: Ok(referrers(Some("application/vnd.example.sbom.v1"))) },
        Case { name: "filter encoded", target: concat!("/v2/a/b/referrers/sha256:", h64!(), "?artifactType=application%2Fspdx%2Bjson"), want: Ok(referrers(Some("application/spdx+json"))) },
        Case { name: "filter raw plus", target: concat!("/v2/a/b/referrers/sha256:", h64!(), "?artifactType=application/spdx+json"), want: Ok(referrers(Some("application/spdx+json"))) },
        Case { name: "filter with parameter dropped", target: concat!("/v2/a/b/referrers/sha256:", h64!(), "?artifactType=text/plain;charset=utf-8"), want: Ok(referrers(None)) },
        Case { name: "filter without subtype dropped", target: concat!("/v2/a/b/referrers/sha256:", h64!(), "?artifactType=application"), want: Ok(referrers(None)) },
        Case { name: "filter empty dropped", target: concat!("/v2/a/b/referrers/sha256:", h64!(), "?artifactType="), want: Ok(referrers(None)) },
        Case { name: "filter bad escape dropped", target: concat!("/v2/a/b/referrers/sha256:", h64!(), "?artifactType=a/%zz"), want: Ok(referrers(None)) },
        Case { name: "filter space dropped", target: concat!("/v2/a/b/referrers/sha256:", h64!(), "?artifactType=a/b%20c"), want: Ok(referrers(None)) },
        Case { name: "referrers by tag", target: "/v2/a/referrers/latest", want: Err(DigestInvalid) },
        Case { name: "referrers digest empty", target: "/v2/a/referrers/", want: Err(DigestInvalid) },
        // names
        Case { name: "name separators", target: "/v2/a.b_c__d-e---f/x9/manifests/latest", want: Ok(manifest("a.b_c__d-e---f/x9", TAG)) },
        Case { name: "name digits", target: "/v2/0/1-2/manifests/latest", want: Ok(manifest("0/1-2", TAG)) },
        Case { name: "name upper case", target: "/v2/Library/manifests/latest", want: Err(NameInvalid) },
        Case { name: "name double slash", target: "/v2/a//b/manifests/latest", want: Err(NameInvalid) },
        Case { name: "name leading slash", target: "/v2//a/manifests/latest", want: Err(NameInvalid) },
        Case { name: "name dot", target: "/v2/./manifests/latest", want: Err(NameInvalid) },
        Case { name: "name dotdot", target: "/v2/../manifests/latest", want: Err(NameInvalid) },
        Case { name: "name dotdot inside", target: "/v2/a/../b/manifests/latest", want: Err(NameInvalid) },
        Case { name: "name dotdot in component", target: "/v2/a..b/manifests/latest", want: Err(NameInvalid) },
        Case { name: "name triple underscore", target: "/v2/a___b/manifests/latest", want: Err(NameInvalid) },
        Case { name: "name dot dash", target: "/v2/a.-b/manifests/latest", want: Err(NameInvalid) },
        Case { name: "name dash dot", target: "/v2/a-.b/manifests/latest", want: Err(NameInvalid) },
        Case { name: "name underscore dash", target: "/v2/a_-b/manifests/latest", want: Err(NameInvalid) },
        Case { name: "name trailing dash", target: "/v2/a-/manifests/latest", want: Err(NameInvalid) },
        Case { name: "name leading underscore", target: "/v2/_a/manifests/latest", want: Err(NameInvalid) },
        Case { name: "name encoded slash", target: "/v2/a%2Fb/manifests/latest", want: Err(NameInvalid) },
        Case { name: "name encoded letter", target: "/v2/%61/manifests/latest", want: Err(NameInvalid) },
        Case { name: "name space", target: "/v2/a b/manifests/latest", want: Err(NameInvalid) },
        Case { name: "name backslash", target: "/v2/a\\b/manifests/latest", want: Err(NameInvalid) },
        Case { name: "name NUL", target: "/v2/a\0b/manifests/latest", want: Err(NameInvalid) },
        Case { name: "name non-ASCII", target: "/v2/caf\u{e9}/manifests/latest", want: Err(NameInvalid) },
        Case { name: "name colon", target: "/v2/localhost:5000/a/manifests/latest", want: Err(NameInvalid) },
    ];

    #[test]
    fn routes() {
        for case in CASES {
            assert_eq!(Route::parse(case.target), case.want, "{}", case.name);
        }
    }

    #[test]
    fn name_length_limit() {
        let component = "a".repeat(127);
        let name = format!("{component}/{component}"); // 255
        assert!(valid_name(&name));
        let target = format!("/v2/{name}/manifests/latest");
        assert!(Route::parse(&target).is_ok());
        let long = format!("{name}b");
        assert!(!valid_name(&long));
        let target = format!("/v2/{long}/manifests/latest");
        assert_eq!(Route::parse(&target), Err(NameInvalid));
    }

    struct Grammar {
        name: &'static str,
        text: &'static str,
        valid: bool,
    }

    const fn g(name: &'static str, text: &'static str, valid: bool) -> Grammar {
        Grammar { name, text, valid }
    }

    const TAGS: &[Grammar] = &[
        g("word", "latest", true),
        g("one char", "a", true),
        g("underscore", "_", true),
        g("digit", "1", true),
        g("version", "v1.2.3-rc.1_b", true),
        g("empty", "", false),
        g("dot first", ".a", false),
        g("dash first", "-a", false),
        g("colon", "a:b", false),
        g("slash", "a/b", false),
        g("plus", "1+b", false),
        g("at", "a@b", false),
        g("non-ASCII", "\u{e9}", false),
    ];

    #[test]
    fn tag_grammar() {
        for case in TAGS {
            assert_eq!(valid_tag(case.text), case.valid, "{}", case.name);
        }
        assert!(valid_tag(&"a".repeat(128)));
        assert!(!valid_tag(&"a".repeat(129)));
    }

    const MEDIA_TYPES: &[Grammar] = &[
        g("oci", "application/vnd.oci.image.manifest.v1+json", true),
        g("all restricted chars", "a/b!#$&-^_.+9", true),
        g("no slash", "application", false),
        g("two slashes", "a/b/c", false),
        g("empty type", "/b", false),
        g("empty subtype", "a/", false),
        g("parameter", "a/b;c=d", false),
        g("space", "a/b c", false),
        g("subtype starts with dot", "a/.b", false),
        g("wildcard", "*/*", false),
    ];

    #[test]
    fn media_type_grammar() {
        for case in MEDIA_TYPES {
            assert_eq!(valid_media_type(case.text), case.valid, "{}", case.name);
        }
        let long = format!("a/{}", "b".repeat(127));
        assert!(valid_media_type(&long));
        assert!(!valid_media_type(&format!("{long}b")));
    }

    // ---- Oracles (memchr `naive.rs`): naive versions, compared on many inputs. ----

    /// The name grammar as a backtracking matcher of the regex, per component.
    fn naive_component(s: &[u8]) -> bool {
        let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        for k in 1..=s.len() {
            if !s[..k].iter().all(alnum) {
                break;
            }
            let rest = &s[k..];
            if rest.is_empty() {
                return true;
            }
            let mut separators = vec![b".".to_vec(), b"_".to_vec(), b"__".to_vec()];
            separators.extend((1..=rest.len()).map(|m| vec![b'-'; m]));
            for sep in separators {
                if rest.starts_with(&sep) && naive_component(&rest[sep.len()..]) {
                    return true;
                }
            }
        }
        false
    }

    fn naive_name(name: &str) -> bool {
        name.len() <= 255 && name.split('/').all(|c| naive_component(c.as_bytes()))
    }

    fn naive_tag(tag: &str) -> bool {
        let chars: Vec<char> = tag.chars().collect();
        !chars.is_empty()
            && chars.len() <= 128
            && (chars[0].is_ascii_alphanumeric() || chars[0] == '_')
            && chars[1..]
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(*c))
    }

    fn naive_digest(text: &str) -> Option<String> {
        let (algorithm, hex) = text.split_once(':')?;
        let len = match algorithm {
            "sha256" => 64,
            "sha512" => 128,
            _ => return None,
        };
        let ok = hex.len() == len && hex.chars().all(|c| "0123456789abcdef".contains(c));
        ok.then(|| text.to_string())
    }

    /// Unknown but well-formed algorithms are 404, everything else 400.
    fn naive_blob_error(text: &str) -> ErrorCode {
        let Some((algorithm, encoded)) = text.split_once(':') else {
            return DigestInvalid;
        };
        let known = algorithm == "sha256" || algorithm == "sha512";
        let mut previous_separator = true;
        let mut algorithm_ok = !algorithm.is_empty();
        for c in algorithm.chars() {
            let separator = "+._-".contains(c);
            if separator && previous_separator {
                algorithm_ok = false;
            }
            if !(separator || c.is_ascii_lowercase() || c.is_ascii_digit()) {
                algorithm_ok = false;
            }
            previous_separator = separator;
        }
        algorithm_ok &= !previous_separator;
        let encoded_ok = !encoded.is_empty()
            && encoded
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "=_-".contains(c));
        if !known && algorithm_ok && encoded_ok {
            BlobUnknown
        } else {
            DigestInvalid
        }
    }

    fn naive_decode(text: &str) -> Option<String> {
        let bytes = text.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                let hex = text.get(i + 1..i + 3)?;
                if !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                    return None;
                }
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).ok()
    }

    fn naive_media_type(text: &str) -> bool {
        let parts: Vec<&str> = text.split('/').collect();
        parts.len() == 2
            && parts.iter().all(|p| {
                let c: Vec<char> = p.chars().collect();
                !c.is_empty()
                    && c.len() <= 127
                    && c[0].is_ascii_alphanumeric()
                    && c.iter()
                        .all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(*c))
            })
    }

    fn naive_query(query: &str, key: &str) -> Option<String> {
        for pair in query.split('&') {
            let mut kv = pair.splitn(2, '=');
            if kv.next() == Some(key) {
                return Some(kv.next().unwrap_or("").to_string());
            }
        }
        None
    }

    fn naive_page(
        query: &str,
        last_ok: fn(&str) -> bool,
        bad: ErrorCode,
    ) -> Result<String, ErrorCode> {
        let n = naive_query(query, "n").and_then(|n| {
            if n.is_empty() || !n.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let mut value: u128 = 0;
            for c in n.chars() {
                value =
                    (value * 10 + c.to_digit(10).unwrap() as u128).min(u128::from(u64::MAX) + 1);
            }
            Some(value.min(usize::MAX as u128) as usize)
        });
        let last = match naive_query(query, "last") {
            None => None,
            Some(l) if l.is_empty() => None,
            Some(l) => match naive_decode(&l) {
                Some(d) if last_ok(&d) => Some(d),
                _ => return Err(bad),
            },
        };
        Ok(format!("n={n:?} last={last:?}"))
    }

    /// The router as a slice pattern over all segments.
    fn naive_route(target: &str) -> Result<String, ErrorCode> {
        let lower = target.to_ascii_lowercase();
        let target = if lower.starts_with("http://") || lower.starts_with("https://") {
            let rest = &target[target.find("://").unwrap() + 3..];
            match rest.char_indices().find(|(_, c)| "/?#".contains(*c)) {
                Some((i, '/')) => &rest[i..],
                _ => "/",
            }
        } else {
            target
        };
        let (path, query) = match target.find('?') {
            Some(i) => (&target[..i], &target[i + 1..]),
            None => (target, ""),
        };
        let segments: Vec<&str> = path.split('/').collect();
        if segments.len() < 2 || !segments[0].is_empty() || segments[1] != "v2" {
            return Err(NameUnknown);
        }
        let name_of = |parts: &[&str]| -> Result<String, ErrorCode> {
            let name = parts.join("/");
            if naive_name(&name) {
                Ok(name)
            } else {
                Err(NameInvalid)
            }
        };
        match &segments[2..] {
            [] | [""] => Ok("Base".into()),
            ["_catalog"] => Ok(format!(
                "Catalog {}",
                naive_page(query, naive_name, NameInvalid)?
            )),
            [name @ .., "tags", "list"] if !name.is_empty() => {
                let name = name_of(name)?;
                Ok(format!(
                    "Tags {name} {}",
                    naive_page(query, naive_tag, TagInvalid)?
                ))
            }
            [name @ .., "blobs", "uploads", _] if !name.is_empty() => {
                name_of(name)?;
                Err(BlobUploadUnknown)
            }
            [name @ .., "manifests", reference] if !name.is_empty() => {
                let name = name_of(name)?;
                if naive_tag(reference) {
                    Ok(format!("Manifest {name} tag {reference}"))
                } else {
                    let digest = naive_digest(reference).ok_or(ManifestUnknown)?;
                    Ok(format!("Manifest {name} digest {digest}"))
                }
            }
            [name @ .., "blobs", digest] if !name.is_empty() => {
                let name = name_of(name)?;
                let digest = naive_digest(digest).ok_or_else(|| naive_blob_error(digest))?;
                Ok(format!("Blob {name} {digest}"))
            }
            [name @ .., "referrers", digest] if !name.is_empty() => {
                let name = name_of(name)?;
                let digest = naive_digest(digest).ok_or(DigestInvalid)?;
                let filter = naive_query(query, "artifactType")
                    .and_then(|t| naive_decode(&t))
                    .filter(|t| naive_media_type(t));
                Ok(format!("Referrers {name} {digest} {filter:?}"))
            }
            _ => Err(NameUnknown),
        }
    }

    fn describe(route: Result<Route<'_>, ErrorCode>) -> Result<String, ErrorCode> {
        let digest = |d: Digest<'_>| format!("{}:{}", d.algorithm.name(), d.hex);
        let page = |p: Page<'_>| format!("n={:?} last={:?}", p.n, p.last.map(|l| l.into_owned()));
        Ok(match route? {
            Route::Base => "Base".into(),
            Route::Catalog(p) => format!("Catalog {}", page(p)),
            Route::Tags { name, page: p } => format!("Tags {name} {}", page(p)),
            Route::Manifest {
                name,
                reference: Reference::Tag(t),
            } => format!("Manifest {name} tag {t}"),
            Route::Manifest {
                name,
                reference: Reference::Digest(d),
            } => {
                format!("Manifest {name} digest {}", digest(d))
            }
            Route::Blob { name, digest: d } => format!("Blob {name} {}", digest(d)),
            Route::Referrers {
                name,
                digest: d,
                artifact_type,
            } => format!(
                "Referrers {name} {} {:?}",
                digest(d),
                artifact_type.map(|t| t.into_owned())
            ),
        })
    }

    const SEGMENTS: &[&str] = &[
        "",
        "v2",
        "_catalog",
        "manifests",
        "blobs",
        "tags",
        "list",
        "referrers",
        "uploads",
        "a",
        "b",
        "z9",
        "a.b",
        "a..b",
        "a_b",
        "a__b",
        "a___b",
        "a-b",
        "a---b",
        "a-",
        "-a",
        "_a",
        "A",
        ".",
        "..",
        "%2F",
        "%61",
        "a%2Fb",
        "latest",
        "v1.0",
        "_x",
        ".x",
        "x:y",
        "\u{e9}",
        " ",
        "localhost:5000",
        "a+b",
        "x#y",
        concat!("sha256:", h64!()),
        concat!("sha512:", h64!(), h64!()),
        concat!("sha256:", h64!(), "0"),
        "sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
        concat!("sha256%3A", h64!()),
        concat!("sha384:", h64!()),
    ];

    const PREFIXES: &[&str] = &[
        "/",
        "/v2/",
        "/v2/",
        "/v2/",
        "",
        "http://h/v2/",
        "HTTPS://h:1/v2/",
        "http://h",
        "/v2",
    ];

    const QUERIES: &[&str] = &[
        "",
        "",
        "?",
        "?n=2",
        "?n=0",
        "?n=x",
        "?n=-1",
        "?n=99999999999999999999",
        "?n=1&n=2",
        "?last=a",
        "?last=",
        "?last=a%2Fb",
        "?last=v1.0&n=3",
        "?last=%zz",
        "?last=%e9",
        "?last=-",
        "?artifactType=application/vnd.x+json",
        "?artifactType=application%2Fvnd.x%2Bjson",
        "?artifactType=a",
        "?artifactType=a/b;c",
        "?ns=docker.io&last=b",
        "?last",
    ];

    fn random_target(rng: &mut Rng) -> String {
        let mut target = rng.pick(PREFIXES).to_string();
        let segments = rng.below(6);
        for i in 0..segments {
            if i > 0 {
                target.push('/');
            }
            target.push_str(rng.pick(SEGMENTS));
        }
        target.push_str(rng.pick(QUERIES));
        target
    }

    #[test]
    fn oracle_routes() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut ok = 0;
        for _ in 0..200_000 {
            let target = random_target(&mut rng);
            let got = describe(Route::parse(&target));
            assert_eq!(got, naive_route(&target), "{target:?}");
            ok += usize::from(got.is_ok());
        }
        assert!(ok > 10_000, "too few valid routes generated: {ok}");
        for case in CASES {
            assert_eq!(
                describe(Route::parse(case.target)),
                naive_route(case.target),
                "{}",
                case.name
            );
        }
    }

    #[test]
    fn oracle_name_grammar_exhaustive() {
        // Every string of up to 7 bytes over the alphabet that matters.
        let alphabet = [b'a', b'0', b'.', b'_', b'-', b'/', b'A'];
        let mut count = 0;
        for len in 0..=7u32 {
            for mut index in 0..alphabet.len().pow(len) {
                let mut name = String::new();
                for _ in 0..len {
                    name.push(char::from(alphabet[index % alphabet.len()]));
                    index /= alphabet.len();
                }
                assert_eq!(valid_name(&name), naive_name(&name), "{name:?}");
                count += usize::from(valid_name(&name));
            }
        }
        assert!(count > 1000, "{count}");
    }

    #[test]
    fn oracle_tag_grammar_exhaustive() {
        let alphabet = ['a', 'Z', '0', '_', '.', '-', ':', '/'];
        for len in 0..=5u32 {
            for mut index in 0..alphabet.len().pow(len) {
                let mut tag = String::new();
                for _ in 0..len {
                    tag.push(alphabet[index % alphabet.len()]);
                    index /= alphabet.len();
                }
                assert_eq!(valid_tag(&tag), naive_tag(&tag), "{tag:?}");
            }
        }
    }

    #[test]
    fn oracle_percent_decode() {
        let pieces = [
            "a", "%", "%2", "%2f", "%2F", "%zz", "%e9", "%c3%a9", "%00", "+", "/", "\u{e9}",
        ];
        let mut rng = Rng(7);
        for _ in 0..20_000 {
            let mut text = String::new();
            for _ in 0..rng.below(5) {
                text.push_str(rng.pick(&pieces));
            }
            let got = percent_decode(&text).map(Cow::into_owned);
            assert_eq!(got, naive_decode(&text), "{text:?}");
        }
    }

    /// Whatever parses is safe to join to a path: a valid name without `.`/`..` components, and
    /// a digest whose blob path stays in `blobs/`.
    #[test]
    fn parsed_routes_never_escape() {
        let mut rng = Rng(42);
        for _ in 0..100_000 {
            let target = random_target(&mut rng);
            let (name, digest) = match Route::parse(&target) {
                Ok(Route::Manifest {
                    name,
                    reference: Reference::Digest(d),
                }) => (name, Some(d)),
                Ok(Route::Manifest { name, .. } | Route::Tags { name, .. }) => (name, None),
                Ok(Route::Blob { name, digest } | Route::Referrers { name, digest, .. }) => {
                    (name, Some(digest))
                }
                _ => continue,
            };
            assert!(valid_name(name), "{target}");
            assert!(
                name.split('/')
                    .all(|c| !c.is_empty() && c != "." && c != ".."),
                "{target}"
            );
            if let Some(digest) = digest {
                let path = digest.blob_path();
                assert!(
                    path.starts_with("blobs/sha") && !path.contains(".."),
                    "{target}"
                );
                assert_eq!(path.matches('/').count(), 2, "{target}");
            }
        }
    }
}
