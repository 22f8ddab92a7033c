//! The registry: one request in, one response out, over the seed layout.
//!
//! Implements the distribution spec's Pull and Content Discovery categories (end-1, end-2,
//! end-3, end-8a/8b, end-12a/12b, and the catalog), read-only: every write is answered 405
//! `UNSUPPORTED`. Names, tags and digests are checked by [`Route::parse`] before any file is
//! touched, and blobs are only opened under `blobs/<algorithm>/<hex>` for a digest the
//! repository map says the repository serves.

use crate::digest::Digest;
use crate::error::{push_error_body, ErrorCode};
use crate::http::{trim_ows, Body, Request, Response};
use crate::json;
use crate::layout::INDEX_TYPES;
use crate::line::Line;
use crate::range::{self, Selection};
use crate::repository::{ManifestInfo, Referrer, Repositories};
use crate::route::{Page, Reference, Route};
use crate::{log, sys};
use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

/// The header every response carries (end-1).
const API_VERSION: &str = "registry/2.0";
/// Manifest media types a client may ask for instead of an index.
const MANIFEST_TYPES: [&str; 2] = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// The platform whose manifest a client that cannot take an index gets first: the injector's
/// own (the node it runs on), then linux/amd64 as the reference registry answers.
const OWN_ARCHITECTURE: &str = if cfg!(target_arch = "aarch64") {
    "arm64"
} else if cfg!(target_arch = "arm") {
    "arm"
} else if cfg!(target_arch = "s390x") {
    "s390x"
} else if cfg!(target_arch = "powerpc64") {
    "ppc64le"
} else if cfg!(target_arch = "riscv64") {
    "riscv64"
} else {
    "amd64"
};
/// The most manifest bytes held in memory, read at their first request and answered from
/// memory after it (no `open`, `fstat`, `close` per request); manifests past this are read
/// from their files each time.
const MANIFEST_MEMORY: usize = 16 << 20;

/// Manifests held in memory: (digest, bytes) sorted by digest, and their bytes in all.
type HeldManifests = (Vec<(String, &'static [u8])>, usize);

/// A read-only registry over one OCI layout.
pub struct Registry {
    root: PathBuf,
    repositories: Repositories,
    /// Manifests held in memory, by digest (sorted), and their bytes in all.
    manifests: Mutex<HeldManifests>,
}

type Answer = Result<Response, ErrorCode>;

impl Registry {
    /// A registry serving the layout at `root`, described by `repositories`.
    pub fn new(root: PathBuf, repositories: Repositories) -> Registry {
        Registry {
            root,
            repositories,
            manifests: Mutex::new((Vec::new(), 0)),
        }
    }

    /// Answers one request.
    pub fn handle(&self, request: &Request) -> Response {
        let answer = if request.method == "GET" || request.method == "HEAD" {
            Route::parse(&request.target).and_then(|route| self.route(request, route))
        } else {
            Err(ErrorCode::Unsupported)
        };
        let mut response = answer.unwrap_or_else(error_response);
        response
            .headers
            .push(("Docker-Distribution-API-Version", API_VERSION.into()));
        response
    }

    fn route(&self, request: &Request, route: Route<'_>) -> Answer {
        match route {
            Route::Base => Ok(json_response(200, "application/json", b"{}".to_vec())),
            Route::Catalog(page) => Ok(self.catalog(&page)),
            Route::Tags { name, page } => self.tags(name, &page),
            Route::Manifest { name, reference } => self.manifest(request, name, reference),
            Route::Blob { name, digest } => self.blob(request, name, &digest),
            Route::Referrers {
                name,
                digest,
                artifact_type,
            } => Ok(self.referrers(name, &digest, artifact_type.as_deref())),
        }
    }

    fn known(&self, name: &str) -> Result<(), ErrorCode> {
        if self.repositories.exists(name) {
            Ok(())
        } else {
            Err(ErrorCode::NameUnknown)
        }
    }

    /// end-3: the stored manifest bytes, or a platform manifest when the client cannot take
    /// an index.
    fn manifest(&self, request: &Request, name: &str, reference: Reference<'_>) -> Answer {
        self.known(name)?;
        let info = match reference {
            // Only a tag may be answered with another manifest: a digest names exact bytes.
            Reference::Tag(tag) => self
                .repositories
                .resolve(name, tag)
                .map(|info| self.negotiate(request, name, info).unwrap_or(info)),
            Reference::Digest(digest) => self.repositories.manifest(name, digest.text),
        };
        let info = info.ok_or(ErrorCode::ManifestUnknown)?;
        let digest = Digest::parse(&info.digest).map_err(|_| ErrorCode::ManifestUnknown)?;
        let mut headers = vec![
            ("Docker-Content-Digest", info.digest.clone().into()),
            ("ETag", quoted(&info.digest).into()),
        ];
        // A 304 has no Content-Type; a 200 has it first.
        if is_not_modified(request, &info.digest) {
            return Ok(Response {
                status: 304,
                headers,
                body: Body::Bytes(Vec::new()),
            });
        }
        let body = self.manifest_body(&digest, ErrorCode::ManifestUnknown)?;
        headers.insert(0, ("Content-Type", info.media_type.clone().into()));
        Ok(Response {
            status: 200,
            headers,
            body,
        })
    }

    /// A manifest's bytes: from memory, or read into memory now if they fit, or else its file.
    fn manifest_body(&self, digest: &Digest<'_>, unknown: ErrorCode) -> Result<Body, ErrorCode> {
        let text = digest.text;
        let mut held = self.held_manifests();
        let (manifests, total) = &mut *held;
        let at = match manifests.binary_search_by(|(d, _)| d.as_str().cmp(text)) {
            Ok(at) => {
                return Ok(manifests
                    .get(at)
                    .map_or(Body::Static(b""), |m| Body::Static(m.1)))
            }
            Err(at) => at,
        };
        let (mut file, path, size) = self.open_blob(digest, unknown)?;
        let fits = usize::try_from(size)
            .ok()
            .filter(|size| *total + size <= MANIFEST_MEMORY);
        let Some(size) = fits else {
            return Ok(Body::File {
                file,
                path,
                offset: 0,
                len: size,
            });
        };
        let mut bytes = vec![0u8; size];
        file.read_exact(&mut bytes)
            .map_err(|e| unavailable(&path, &e))?;
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        manifests.insert(at, (text.to_string(), bytes));
        *total += size;
        Ok(Body::Static(bytes))
    }

    /// The manifests held in memory; poisoning is ignored (panics abort).
    fn held_manifests(&self) -> MutexGuard<'_, HeldManifests> {
        self.manifests.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// For an index requested by tag by a client whose `Accept` takes no index type but takes
    /// a manifest type: the manifest for linux on the injector's own architecture, else for
    /// linux/amd64, as the reference registry answers.
    fn negotiate(
        &self,
        request: &Request,
        name: &str,
        info: &ManifestInfo,
    ) -> Option<&ManifestInfo> {
        if !INDEX_TYPES.contains(&info.media_type.as_str()) {
            return None;
        }
        let accepted = accepted_types(request);
        let admits = |wanted: &str| {
            accepted.is_empty() || accepted.iter().any(|t| t == wanted || t == "*/*")
        };
        if INDEX_TYPES.iter().any(|t| admits(t)) || !MANIFEST_TYPES.iter().any(|t| admits(t)) {
            return None;
        }
        let linux = |architecture: &str| {
            info.platforms
                .iter()
                .find(|p| p.os == "linux" && p.architecture == architecture)
        };
        let child = linux(OWN_ARCHITECTURE).or_else(|| linux("amd64"))?;
        self.repositories.manifest(name, &child.digest)
    }

    /// end-2: the blob, whole or one range of it.
    fn blob(&self, request: &Request, name: &str, digest: &Digest<'_>) -> Answer {
        self.known(name)?;
        let text = digest.text;
        let served = self.repositories.serves_blob(name, text)
            || self.repositories.manifest(name, text).is_some();
        if !served {
            return Err(ErrorCode::BlobUnknown);
        }
        let (file, path, size) = self.open_blob(digest, ErrorCode::BlobUnknown)?;
        let mut headers = vec![
            ("Content-Type", "application/octet-stream".into()),
            ("Docker-Content-Digest", text.to_string().into()),
            ("ETag", quoted(text).into()),
            ("Accept-Ranges", "bytes".into()),
        ];
        // Range applies to GET only, and If-Range with another validator voids it (RFC 9110
        // §13.1.5, §14.2).
        let if_range_ok = request.header("if-range").is_none_or(|v| v == quoted(text));
        let selection = match request.header("range") {
            Some(value) if request.method == "GET" && if_range_ok => {
                range::select(value.as_bytes(), size)
            }
            _ => Selection::Whole,
        };
        let (status, offset, len) = match selection {
            Selection::Whole => (200, 0, size),
            Selection::Part(part) => {
                let mut value = String::new();
                range::push_content_range(&mut value, Some(part), size);
                headers.push(("Content-Range", value.into()));
                (206, part.start, part.length())
            }
            Selection::Unsatisfiable => {
                let mut value = String::new();
                range::push_content_range(&mut value, None, size);
                let mut response = error_response(ErrorCode::RangeInvalid);
                response.headers.push(("Content-Range", value.into()));
                return Ok(response);
            }
        };
        Ok(Response {
            status,
            headers,
            body: Body::File {
                file,
                path,
                offset,
                len,
            },
        })
    }

    /// end-8a/8b: the repository's tags, sorted, paginated.
    fn tags(&self, name: &str, page: &Page<'_>) -> Answer {
        let tags = self.repositories.tags(name).ok_or(ErrorCode::NameUnknown)?;
        let (shown, next) = paginate(&tags, page);
        let mut body = String::from("{\"name\":");
        json::push_string(&mut body, name);
        body.push_str(",\"tags\":");
        push_string_array(&mut body, shown);
        body.push('}');
        let mut response = json_response(200, "application/json", body.into_bytes());
        if let Some(last) = next {
            let mut path = String::from("/v2/");
            path.push_str(name);
            path.push_str("/tags/list");
            response
                .headers
                .push(("Link", next_link(&path, shown.len(), last).into()));
        }
        Ok(response)
    }

    /// The catalog: every repository name, sorted, paginated.
    fn catalog(&self, page: &Page<'_>) -> Response {
        let names: Vec<&str> = self.repositories.names().collect();
        let (shown, next) = paginate(&names, page);
        let mut body = String::from("{\"repositories\":");
        push_string_array(&mut body, shown);
        body.push('}');
        let mut response = json_response(200, "application/json", body.into_bytes());
        if let Some(last) = next {
            response
                .headers
                .push(("Link", next_link("/v2/_catalog", shown.len(), last).into()));
        }
        response
    }

    /// end-12a/12b: an image index of the manifests whose `subject` is `digest`; never 404.
    fn referrers(&self, name: &str, digest: &Digest<'_>, artifact_type: Option<&str>) -> Response {
        let all = self.repositories.referrers(name, digest.text);
        let chosen = all
            .into_iter()
            .filter(|r| artifact_type.is_none_or(|t| r.artifact_type.as_deref() == Some(t)));
        let mut body = String::from("{\"schemaVersion\":2,\"mediaType\":\"");
        body.push_str(OCI_INDEX);
        body.push_str("\",\"manifests\":[");
        for (i, referrer) in chosen.enumerate() {
            if i > 0 {
                body.push(',');
            }
            push_descriptor(&mut body, referrer);
        }
        body.push_str("]}");
        let mut response = json_response(200, OCI_INDEX, body.into_bytes());
        if artifact_type.is_some() {
            response
                .headers
                .push(("OCI-Filters-Applied", "artifactType".into()));
        }
        response
    }

    /// Opens `blobs/<algorithm>/<hex>` (the digest was validated, so the path stays inside)
    /// if it is a regular file: its file, path and size. A missing file is `unknown`; a link,
    /// FIFO or other non-file is `unknown` with a log line naming it; any other failure (no
    /// descriptor or memory left) is 503 `UNAVAILABLE` with a log line: never a false 404.
    fn open_blob(
        &self,
        digest: &Digest<'_>,
        unknown: ErrorCode,
    ) -> Result<(File, PathBuf, u64), ErrorCode> {
        let path = self.root.join(digest.blob_path());
        let opened = sys::open_served(&path).and_then(|file| Ok((sys::file_status(&file)?, file)));
        match opened {
            Ok((meta, file)) if meta.is_file() => Ok((file, path, meta.size())),
            Ok(_) => Err(not_a_file(&path, unknown)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(unknown),
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => Err(not_a_file(&path, unknown)),
            Err(e) => Err(unavailable(&path, &e)),
        }
    }
}

/// Logs that `path` is not a regular file (a link, a FIFO, a device, a directory) and answers
/// `unknown`: the layout is damaged, the registry goes on.
fn not_a_file(path: &std::path::Path, unknown: ErrorCode) -> ErrorCode {
    let mut line = Line::new("zarf-injector: ");
    line.path(path).text(": not a regular file, not served");
    log::write(&mut line);
    unknown
}

/// Logs why `path` could not be read and answers 503.
fn unavailable(path: &std::path::Path, error: &io::Error) -> ErrorCode {
    let mut line = Line::new("zarf-injector: ");
    line.path(path).text(": ").io_error(error);
    log::write(&mut line);
    ErrorCode::Unavailable
}

fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    out.push_str(text);
    out.push('"');
    out
}

/// Whether `If-None-Match` names this digest's ETag (or `*`).
fn is_not_modified(request: &Request, digest: &str) -> bool {
    request
        .header_list("if-none-match")
        .iter()
        .map(|t| opaque_tag(t))
        .any(|t| t == digest || t == "*")
}

/// The opaque tag of an entity tag: `tag` without its leading `W/` prefixes and the `"`s
/// around it. That is `trim_start_matches("W/")` then `trim_matches('"')`, without the
/// substring and character searchers those bring into the binary (~1 KB).
fn opaque_tag(mut tag: &str) -> &str {
    while let Some(rest) = tag.strip_prefix("W/") {
        tag = rest;
    }
    while let Some(rest) = tag.strip_prefix('"') {
        tag = rest;
    }
    while let Some(rest) = tag.strip_suffix('"') {
        tag = rest;
    }
    tag
}

/// Every media type named by the `Accept` header lines (several lines are one list).
fn accepted_types(request: &Request) -> Vec<String> {
    let mut types = Vec::new();
    for item in request.header_list("accept") {
        let media_type = trim_ows(item.split(';').next().unwrap_or_default());
        if !media_type.is_empty() {
            types.push(media_type.to_ascii_lowercase());
        }
    }
    types
}

/// The page of `items` (sorted) after `last`, at most `n`; and the last item shown when more
/// remain.
fn paginate<'a, 'b>(items: &'a [&'b str], page: &Page<'_>) -> (&'a [&'b str], Option<&'b str>) {
    let start = match page.last.as_deref() {
        Some(last) => items.partition_point(|item| *item <= last),
        None => 0,
    };
    let rest = items.get(start..).unwrap_or_default();
    let count = page.n.unwrap_or(usize::MAX).min(rest.len());
    let shown = rest.get(..count).unwrap_or_default();
    let next = if count < rest.len() {
        shown.last().copied()
    } else {
        None
    };
    (shown, next)
}

/// `<path?n=N&last=LAST>; rel="next"`, the spec's pagination link.
fn next_link(path: &str, n: usize, last: &str) -> String {
    let mut link = String::from("<");
    link.push_str(path);
    link.push_str("?n=");
    range::push_decimal(&mut link, n as u64);
    link.push_str("&last=");
    link.push_str(last);
    link.push_str(">; rel=\"next\"");
    link
}

fn push_string_array(out: &mut String, items: &[&str]) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json::push_string(out, item);
    }
    out.push(']');
}

fn push_descriptor(out: &mut String, referrer: &Referrer) {
    out.push_str("{\"mediaType\":");
    json::push_string(out, &referrer.media_type);
    out.push_str(",\"digest\":");
    json::push_string(out, &referrer.digest);
    out.push_str(",\"size\":");
    range::push_decimal(out, referrer.size);
    if let Some(artifact_type) = &referrer.artifact_type {
        out.push_str(",\"artifactType\":");
        json::push_string(out, artifact_type);
    }
    if !referrer.annotations.is_empty() {
        out.push_str(",\"annotations\":{");
        for (i, (key, value)) in referrer.annotations.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            json::push_string(out, key);
            out.push(':');
            json::push_string(out, value);
        }
        out.push('}');
    }
    out.push('}');
}

fn json_response(status: u16, content_type: &'static str, body: Vec<u8>) -> Response {
    Response {
        status,
        headers: vec![("Content-Type", content_type.into())],
        body: Body::Bytes(body),
    }
}

/// The spec's error body for `code`, with its status; 405 also says what is allowed.
fn error_response(code: ErrorCode) -> Response {
    let mut body = String::new();
    push_error_body(&mut body, code, None);
    let mut response = json_response(code.status(), "application/json", body.into_bytes());
    if code == ErrorCode::Unsupported {
        response.headers.push(("Allow", "GET, HEAD".into()));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opaque_tags_are_what_trim_matches_gives() {
        let tags = [
            "W/\"a\"",
            "W/W/\"a\"",
            "\"a\"",
            "w/\"a\"",
            "W/",
            "",
            "WW/\"a\"",
            "\"\"a\"\"",
            "\"",
            "\"\"\"",
            "a\"b",
            "*",
        ];
        for tag in tags {
            let want = tag.trim_start_matches("W/").trim_matches('"');
            assert_eq!(opaque_tag(tag), want, "{tag}");
        }
    }
}
