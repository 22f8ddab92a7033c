//! The registry end to end (issue 3): `zarf-injector serve <layout> 127.0.0.1:0` on the
//! multi-image layout of `tests/common/registry_layout.rs`, asked for every endpoint of the
//! distribution spec's Pull and Content Discovery categories, every error, and the HTTP/1.1
//! behaviour real clients rely on.
//!
//! Case names start with the spec's endpoint ids: end-1 (`/v2/`), end-2 (blobs), end-3
//! (manifests), end-8a/8b (tags), end-12a/12b (referrers), end-13 (upload sessions). Which
//! error code a bad path gets follows `src/route.rs`; range decisions follow `src/range.rs`.
//! Targets, request headers and expected values name layout objects as `${key}` (digest),
//! `${key.size}` and `${key.hex}` (see [`RegistryLayout::expand`]).

mod common;
#[path = "common/registry_layout.rs"]
mod registry_layout;

use common::*;
use registry_layout::{build_registry_layout, RegistryLayout, Stored, DOCKER_MANIFEST, SBOM_TYPE};
use std::cell::RefCell;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::thread;
use std::time::Duration;
use zarf_injector::json::{self, Json};

// ----------------------------------------------------------------------------------------------
// One server per test function

/// A served layout; the process is killed before the directory is removed.
struct Server {
    running: Running,
    layout: RegistryLayout,
    _dir: TempDir,
}

impl Server {
    fn addr(&self) -> SocketAddr {
        self.running.addr
    }
}

thread_local! {
    /// The server of the test function running on this thread ([`run_cases`] takes plain
    /// `fn`s, which cannot capture it).
    static SERVER: RefCell<Option<Rc<Server>>> = const { RefCell::new(None) };
}

fn server() -> Rc<Server> {
    SERVER.with(|s| {
        s.borrow()
            .clone()
            .expect("no server started on this thread")
    })
}

/// Builds the layout, serves it, and runs `check` on every case; prints the server's stderr
/// and access log if a case failed.
fn run_with_server<C>(label: &str, cases: &[C], name: fn(&C) -> &str, check: fn(&C)) {
    let dir = TempDir::new(label);
    let layout = build_registry_layout(dir.path());
    let running = run_serve(dir.path());
    let server = Rc::new(Server {
        running,
        layout,
        _dir: dir,
    });
    SERVER.with(|s| *s.borrow_mut() = Some(Rc::clone(&server)));
    let result = catch_unwind(AssertUnwindSafe(|| run_cases(cases, name, check)));
    SERVER.with(|s| s.borrow_mut().take());
    if let Err(panic) = result {
        thread::sleep(Duration::from_millis(100)); // let the log reader catch up
        eprintln!(
            "server access log:\n{}\nserver stderr:\n{}",
            server.running.more_stdout().join("\n"),
            server.running.stderr()
        );
        resume_unwind(panic);
    }
}

// ----------------------------------------------------------------------------------------------
// A raw HTTP/1.1 connection

/// A connection that reads responses one after the other (keep-alive, pipelining).
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    fn open(addr: SocketAddr) -> Conn {
        Conn {
            stream: connect(addr),
            buf: Vec::new(),
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send request");
    }

    /// Reads more into the buffer; 0 at EOF.
    fn fill(&mut self) -> usize {
        let mut piece = [0u8; 64 << 10];
        loop {
            match self.stream.read(&mut piece) {
                Ok(n) => {
                    self.buf.extend_from_slice(&piece[..n]);
                    return n;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => panic!("read from the server: {e}"),
            }
        }
    }

    /// Reads one response: its head, then `Content-Length` body bytes unless it answers a
    /// HEAD (or is a 304), which have none.
    fn response(&mut self, to_head: bool) -> Response {
        let end = loop {
            if let Some(at) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            assert!(self.buf.len() < 64 << 10, "response head over 64 KiB");
            let n = self.fill();
            assert!(
                n > 0,
                "closed before a whole response head: {:?}",
                String::from_utf8_lossy(&self.buf)
            );
        };
        let head: Vec<u8> = self.buf.drain(..end).collect();
        let (status, headers) = parse_head(&head);
        let mut response = Response {
            status,
            headers,
            body: Vec::new(),
        };
        if !to_head && status != 304 {
            let length: usize = response
                .header("content-length")
                .expect("a response without Content-Length")
                .parse()
                .expect("Content-Length is not a number");
            while self.buf.len() < length {
                let n = self.fill();
                assert!(
                    n > 0,
                    "closed after {} of {length} body bytes",
                    self.buf.len()
                );
            }
            response.body = self.buf.drain(..length).collect();
        }
        response
    }

    /// Everything the server sends until it closes (a reset counts as a close).
    fn rest(&mut self) -> Vec<u8> {
        let mut piece = [0u8; 64 << 10];
        loop {
            match self.stream.read(&mut piece) {
                Ok(0) => break,
                Ok(n) => self.buf.extend_from_slice(&piece[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
                Err(e) => panic!("waiting for the server to close: {e}"),
            }
        }
        std::mem::take(&mut self.buf)
    }
}

/// Sends `bytes` on a new connection and returns all the server answers before closing.
fn raw_exchange(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut conn = Conn::open(addr);
    // The server may answer and close before it has read everything (431).
    let _ = conn.stream.write_all(bytes);
    conn.rest()
}

// ----------------------------------------------------------------------------------------------
// JSON

/// `bytes` parsed, with object members sorted by key at every level, so documents compare
/// regardless of member order.
fn json_of(what: &str, bytes: &[u8]) -> Json {
    let parsed = json::parse(bytes).unwrap_or_else(|e| {
        panic!(
            "{what}: not JSON ({e:?}): {:?}",
            String::from_utf8_lossy(bytes)
        )
    });
    canonical(parsed)
}

fn canonical(value: Json) -> Json {
    match value {
        Json::Array(items) => Json::Array(items.into_iter().map(canonical).collect()),
        Json::Object(mut members) => {
            members.sort_by(|a, b| a.0.cmp(&b.0));
            Json::Object(
                members
                    .into_iter()
                    .map(|(k, v)| (k, canonical(v)))
                    .collect(),
            )
        }
        other => other,
    }
}

/// Asserts that `body` is the spec's error body with exactly one error of `code`.
fn assert_error_body(name: &str, body: &[u8], code: &str) {
    let json = json_of(&format!("{name}: error body"), body);
    let errors = json
        .get("errors")
        .and_then(Json::as_array)
        .unwrap_or_else(|| panic!("{name}: no \"errors\" array in {json:?}"));
    assert_eq!(errors.len(), 1, "{name}: {json:?}");
    assert_eq!(errors[0].get_str("code"), Some(code), "{name}: error code");
    assert!(
        errors[0].get_str("message").is_some_and(|m| !m.is_empty()),
        "{name}: error without a message: {json:?}"
    );
}

// ----------------------------------------------------------------------------------------------
// Request/response cases

const GET: &str = "GET";
const HEAD: &str = "HEAD";
const JSON: &str = "application/json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCTET: &str = "application/octet-stream";

/// Which bytes of a blob a 206 must hold.
#[derive(Clone, Copy, Debug)]
enum Slice {
    /// `start..=end`, `end` clamped to the last byte.
    Span(u64, u64),
    /// From `start` to the end.
    From(u64),
    /// The last `n` bytes.
    Suffix(u64),
}

/// What a response must hold besides its status.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// The stored manifest or index `key`: its bytes, its media type as `Content-Type`,
    /// `Docker-Content-Digest`, quoted-digest `ETag`, `Content-Length` = its size.
    Manifest(&'static str),
    /// The stored blob `key` whole: as [`Expect::Manifest`] but `application/octet-stream`,
    /// `Accept-Ranges: bytes` and no `Content-Range`.
    Blob(&'static str),
    /// Part of the blob `key`, with `Content-Range: bytes a-b/size`.
    Part(&'static str, Slice),
    /// 304 for `key`: no body, its `Docker-Content-Digest` and `ETag`.
    NotModified(&'static str),
    /// `application/json`, this JSON document (expanded, member order free).
    Json(&'static str),
    /// An OCI image index (the referrers answer), this JSON document (expanded).
    Index(&'static str),
    /// The spec's error body with this code.
    Error(&'static str),
}

use Expect::{Blob, Error, Index, Manifest, NotModified, Part};

#[derive(Clone, Copy, Debug)]
struct Case {
    name: &'static str,
    method: &'static str,
    /// The request target (expanded).
    target: &'static str,
    /// Extra request header lines (expanded), e.g. `Accept: ...`.
    send: &'static [&'static str],
    /// A request body (sent with `Content-Length`).
    body: &'static str,
    status: u16,
    expect: Expect,
    /// Response headers that must have this value (expanded), or be absent (`None`).
    headers: &'static [(&'static str, Option<&'static str>)],
}

const fn case(
    name: &'static str,
    method: &'static str,
    target: &'static str,
    status: u16,
    expect: Expect,
) -> Case {
    Case {
        name,
        method,
        target,
        send: &[],
        body: "",
        status,
        expect,
        headers: &[],
    }
}

const fn get(name: &'static str, target: &'static str, status: u16, expect: Expect) -> Case {
    case(name, GET, target, status, expect)
}

const fn head(name: &'static str, target: &'static str, status: u16, expect: Expect) -> Case {
    case(name, HEAD, target, status, expect)
}

impl Case {
    const fn send(self, send: &'static [&'static str]) -> Case {
        Case { send, ..self }
    }

    const fn body(self, body: &'static str) -> Case {
        Case { body, ..self }
    }

    const fn headers(self, headers: &'static [(&'static str, Option<&'static str>)]) -> Case {
        Case { headers, ..self }
    }
}

fn check_case(case: &Case) {
    let server = server();
    let layout = &server.layout;
    let name = case.name;
    let to_head = case.method == HEAD;

    let mut request = format!(
        "{} {} HTTP/1.1\r\nHost: {}\r\n",
        case.method,
        layout.expand(case.target),
        server.addr()
    );
    for line in case.send {
        request.push_str(&layout.expand(line));
        request.push_str("\r\n");
    }
    if !case.body.is_empty() {
        request.push_str(&format!("Content-Length: {}\r\n", case.body.len()));
    }
    request.push_str("Connection: close\r\n\r\n");
    request.push_str(case.body);
    let mut conn = Conn::open(server.addr());
    conn.send(request.as_bytes());
    let response = conn.response(to_head);
    let trailing = conn.rest();
    let body = &response.body;

    assert_eq!(
        response.status,
        case.status,
        "{name}: status (body {:?})",
        String::from_utf8_lossy(&body[..body.len().min(300)])
    );
    assert!(
        trailing.is_empty(),
        "{name}: {} bytes after the response (HEAD with a body, or a wrong Content-Length)",
        trailing.len()
    );
    assert_eq!(
        response.header("Docker-Distribution-API-Version"),
        Some("registry/2.0"),
        "{name}: API version header"
    );
    if response.status != 304 {
        let length = response
            .header("Content-Length")
            .unwrap_or_else(|| panic!("{name}: no Content-Length"));
        if !to_head {
            assert_eq!(length, body.len().to_string(), "{name}: Content-Length");
        }
    }
    assert_eq!(
        response.header("Connection"),
        Some("close"),
        "{name}: Connection: close not echoed"
    );
    for (header, want) in case.headers {
        let want = want.map(|w| layout.expand(w));
        assert_eq!(
            response.header(header),
            want.as_deref(),
            "{name}: header {header}"
        );
    }

    match case.expect {
        Manifest(key) => {
            let stored = layout.get(key);
            assert_object(name, &response, to_head, stored, stored.media_type);
        }
        Blob(key) => {
            assert_object(name, &response, to_head, layout.get(key), OCTET);
            assert_eq!(
                response.header("Accept-Ranges"),
                Some("bytes"),
                "{name}: Accept-Ranges"
            );
            assert_eq!(
                response.header("Content-Range"),
                None,
                "{name}: Content-Range on a whole blob"
            );
        }
        Part(key, slice) => {
            let stored = layout.get(key);
            let size = stored.size();
            let (start, end) = match slice {
                Slice::Span(start, end) => (start, end.min(size - 1)),
                Slice::From(start) => (start, size - 1),
                Slice::Suffix(n) => (size.saturating_sub(n), size - 1),
            };
            assert_eq!(
                response.header("Content-Range"),
                Some(format!("bytes {start}-{end}/{size}").as_str()),
                "{name}: Content-Range"
            );
            assert_eq!(response.header("Content-Type"), Some(OCTET), "{name}");
            assert_eq!(
                response.header("Docker-Content-Digest"),
                Some(stored.digest.as_str()),
                "{name}: Docker-Content-Digest"
            );
            assert_eq!(
                response.header("Accept-Ranges"),
                Some("bytes"),
                "{name}: Accept-Ranges"
            );
            let want = &stored.bytes[start as usize..=end as usize];
            assert!(
                body.as_slice() == want,
                "{name}: {} bytes that are not bytes {start}-{end} of {key}",
                body.len()
            );
        }
        NotModified(key) => {
            let stored = layout.get(key);
            assert!(body.is_empty(), "{name}: a 304 with a body");
            // RFC 9110 §8.6: a 304 has no Content-Length, or the length a 200 would have.
            let size = stored.size().to_string();
            let length = response.header("Content-Length");
            assert!(
                length.is_none_or(|l| l == size),
                "{name}: Content-Length {length:?} on a 304 (a 200 has {size})"
            );
            assert_eq!(
                response.header("Docker-Content-Digest"),
                Some(stored.digest.as_str()),
                "{name}: Docker-Content-Digest"
            );
            assert_eq!(
                response.header("ETag"),
                Some(format!("\"{}\"", stored.digest).as_str()),
                "{name}: ETag"
            );
        }
        Expect::Json(text) | Index(text) => {
            let content_type = if matches!(case.expect, Index(_)) {
                OCI_INDEX
            } else {
                JSON
            };
            assert_eq!(
                response.header("Content-Type"),
                Some(content_type),
                "{name}: Content-Type"
            );
            if !to_head {
                let want = json_of(&format!("{name}: expected"), layout.expand(text).as_bytes());
                let got = json_of(name, body);
                assert_eq!(
                    got,
                    want,
                    "{name}: body {:?}",
                    String::from_utf8_lossy(body)
                );
            }
        }
        Error(code) => {
            assert_eq!(
                response.header("Content-Type"),
                Some(JSON),
                "{name}: Content-Type of an error"
            );
            if !to_head {
                assert_error_body(name, body, code);
            }
        }
    }
}

/// The whole stored object, with its digest, ETag and length.
fn assert_object(name: &str, response: &Response, to_head: bool, stored: &Stored, ctype: &str) {
    assert_eq!(
        response.header("Content-Type"),
        Some(ctype),
        "{name}: Content-Type"
    );
    assert_eq!(
        response.header("Docker-Content-Digest"),
        Some(stored.digest.as_str()),
        "{name}: Docker-Content-Digest"
    );
    assert_eq!(
        response.header("ETag"),
        Some(format!("\"{}\"", stored.digest).as_str()),
        "{name}: ETag"
    );
    assert_eq!(
        response.header("Content-Length"),
        Some(stored.size().to_string().as_str()),
        "{name}: Content-Length"
    );
    if !to_head {
        assert!(
            response.body == stored.bytes,
            "{name}: body of {} bytes is not the stored {} bytes ({:?}...)",
            response.body.len(),
            stored.bytes.len(),
            String::from_utf8_lossy(&response.body[..response.body.len().min(200)])
        );
    }
}

// ----------------------------------------------------------------------------------------------
// end-1, end-3: base and manifests

const ACCEPT_MANIFESTS: &str = "Accept: application/vnd.docker.distribution.manifest.v2+json, \
                                application/vnd.oci.image.manifest.v1+json";

const MANIFEST_CASES: &[Case] = &[
    get("end-1 GET /v2/", "/v2/", 200, Expect::Json("{}")),
    get("end-1 GET /v2 without the slash", "/v2", 200, Expect::Json("{}")),
    head("end-1 HEAD /v2/", "/v2/", 200, Expect::Json("{}")),
    get("end-1 absolute-form target", "http://127.0.0.1/v2/", 200, Expect::Json("{}")),
    // hello: one manifest, two tags
    get("end-3 hello:1.0", "/v2/library/hello/manifests/1.0", 200, Manifest("hello")),
    get("end-3 hello:latest, its second tag", "/v2/library/hello/manifests/latest", 200, Manifest("hello")),
    get("end-3 hello by digest", "/v2/library/hello/manifests/${hello}", 200, Manifest("hello")),
    head("end-3 HEAD hello:1.0", "/v2/library/hello/manifests/1.0", 200, Manifest("hello")),
    head("end-3 HEAD hello:latest", "/v2/library/hello/manifests/latest", 200, Manifest("hello")),
    head("end-3 HEAD hello by digest", "/v2/library/hello/manifests/${hello}", 200, Manifest("hello")),
    get("end-3 docker.io/library/hello is served as library/hello, not under its host", "/v2/docker.io/library/hello/manifests/1.0", 404, Error("NAME_UNKNOWN")),
    get("end-3 short name hello is library/hello only", "/v2/hello/manifests/1.0", 404, Error("NAME_UNKNOWN")),
    // app: Docker schema2 under a nested name whose reference had a registry host and port
    get("end-3 team/nested/app:2.0 (Docker schema2, containerd name)", "/v2/team/nested/app/manifests/2.0", 200, Manifest("app")),
    get("end-3 team/nested/app by digest", "/v2/team/nested/app/manifests/${app}", 200, Manifest("app")),
    head("end-3 HEAD team/nested/app:2.0", "/v2/team/nested/app/manifests/2.0", 200, Manifest("app")),
    get("end-3 Docker schema2 to a client asking for OCI only: stored bytes", "/v2/team/nested/app/manifests/2.0", 200, Manifest("app"))
        .send(&["Accept: application/vnd.oci.image.manifest.v1+json"])
        .headers(&[("Content-Type", Some(DOCKER_MANIFEST))]),
    // registry: Zarf's base.name
    get("end-3 library/registry:2.8.2 (Zarf base.name)", "/v2/library/registry/manifests/2.8.2", 200, Manifest("registry")),
    head("end-3 HEAD library/registry:2.8.2", "/v2/library/registry/manifests/2.8.2", 200, Manifest("registry")),
    // multi: the index and negotiation
    get("end-3 index by tag, Accept index and */*", "/v2/team/multi/manifests/v1", 200, Manifest("multi"))
        .send(&["Accept: application/vnd.oci.image.index.v1+json, */*"]),
    get("end-3 index by tag without Accept", "/v2/team/multi/manifests/v1", 200, Manifest("multi")),
    get("end-3 index by digest", "/v2/team/multi/manifests/${multi}", 200, Manifest("multi")),
    head("end-3 HEAD index by tag", "/v2/team/multi/manifests/v1", 200, Manifest("multi"))
        .send(&["Accept: application/vnd.oci.image.index.v1+json"]),
    get("end-3 linux/amd64 child by digest", "/v2/team/multi/manifests/${amd64}", 200, Manifest("amd64")),
    get("end-3 linux/arm64 child by digest", "/v2/team/multi/manifests/${arm64}", 200, Manifest("arm64")),
    get("end-3 negotiation: manifest types only give the linux/amd64 child", "/v2/team/multi/manifests/v1", 200, Manifest("amd64"))
        .send(&[ACCEPT_MANIFESTS]),
    head("end-3 negotiation on HEAD", "/v2/team/multi/manifests/v1", 200, Manifest("amd64"))
        .send(&[ACCEPT_MANIFESTS]),
    get("end-3 negotiation: manifest types on separate Accept lines", "/v2/team/multi/manifests/v1", 200, Manifest("amd64"))
        .send(&[
            "Accept: application/vnd.docker.distribution.manifest.v2+json",
            "Accept: application/vnd.oci.image.manifest.v1+json",
        ]),
    get("end-3 separate Accept lines are one list: the index type on the second line", "/v2/team/multi/manifests/v1", 200, Manifest("multi"))
        .send(&[
            "Accept: application/vnd.oci.image.manifest.v1+json",
            "Accept: application/vnd.oci.image.index.v1+json",
        ]),
    get("end-3 no negotiation by digest: the stored index (distribution rewrites for tags only)", "/v2/team/multi/manifests/${multi}", 200, Manifest("multi"))
        .send(&[ACCEPT_MANIFESTS]),
    get("end-3 negotiation: a manifest type with parameters", "/v2/team/multi/manifests/v1", 200, Manifest("amd64"))
        .send(&["Accept: application/vnd.oci.image.manifest.v1+json; q=0.5"]),
    get("end-3 manifest types and */*: the stored index", "/v2/team/multi/manifests/v1", 200, Manifest("multi"))
        .send(&["Accept: application/vnd.oci.image.manifest.v1+json, */*"]),
    get("end-3 the Docker manifest list type admits the stored index", "/v2/team/multi/manifests/v1", 200, Manifest("multi"))
        .send(&["Accept: application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json"]),
    get("end-3 Accept with no known type: the stored index", "/v2/team/multi/manifests/v1", 200, Manifest("multi"))
        .send(&["Accept: application/json"]),
    get("end-3 a manifest to a client asking for an index only: stored manifest", "/v2/library/hello/manifests/1.0", 200, Manifest("hello"))
        .send(&["Accept: application/vnd.oci.image.index.v1+json"]),
    // the untagged artifact is reachable by digest in every repository
    get("end-3 untagged artifact by digest under library/hello", "/v2/library/hello/manifests/${sbom}", 200, Manifest("sbom")),
    get("end-3 untagged artifact by digest under team/nested/app", "/v2/team/nested/app/manifests/${sbom}", 200, Manifest("sbom")),
    get("end-3 hello by digest under team/nested/app, through the artifact's subject", "/v2/team/nested/app/manifests/${hello}", 200, Manifest("hello")),
    get("end-3 but hello's tags stay in library/hello", "/v2/team/nested/app/manifests/1.0", 404, Error("MANIFEST_UNKNOWN")),
    get("end-3 the amd64 child is not served under library/hello", "/v2/library/hello/manifests/${amd64}", 404, Error("MANIFEST_UNKNOWN")),
    // conditional requests
    get("end-3 If-None-Match with the ETag: 304", "/v2/library/hello/manifests/1.0", 304, NotModified("hello"))
        .send(&["If-None-Match: \"${hello}\""]),
    head("end-3 HEAD If-None-Match with the ETag: 304", "/v2/library/hello/manifests/${hello}", 304, NotModified("hello"))
        .send(&["If-None-Match: \"${hello}\""]),
    get("end-3 If-None-Match listing the ETag among others: 304", "/v2/team/multi/manifests/v1", 304, NotModified("multi"))
        .send(&["If-None-Match: \"${app}\", \"${multi}\""]),
    get("end-3 If-None-Match of another digest: 200", "/v2/library/hello/manifests/1.0", 200, Manifest("hello"))
        .send(&["If-None-Match: \"${app}\""]),
];

#[test]
fn end1_end3_base_and_manifests() {
    run_with_server("reg-manifests", MANIFEST_CASES, |c| c.name, check_case);
}

// ----------------------------------------------------------------------------------------------
// end-2: blobs and ranges

const BLOB_CASES: &[Case] = &[
    get("end-2 hello's config", "/v2/library/hello/blobs/${hello_config}", 200, Blob("hello_config")),
    get("end-2 hello's gzip'd layer", "/v2/library/hello/blobs/${hello_layer}", 200, Blob("hello_layer")),
    get("end-2 hello's 3 MB layer", "/v2/library/hello/blobs/${big}", 200, Blob("big")),
    head("end-2 HEAD 3 MB layer: real Content-Length, no body", "/v2/library/hello/blobs/${big}", 200, Blob("big")),
    get("end-2 hello's layer under its other tag's repository", "/v2/library/hello/blobs/${hello_layer}", 200, Blob("hello_layer")),
    get("end-2 Docker layer under team/nested/app", "/v2/team/nested/app/blobs/${app_layer}", 200, Blob("app_layer")),
    get("end-2 Docker config under team/nested/app", "/v2/team/nested/app/blobs/${app_config}", 200, Blob("app_config")),
    get("end-2 arm64 layer under team/multi", "/v2/team/multi/blobs/${arm64_layer}", 200, Blob("arm64_layer")),
    get("end-2 amd64 config under team/multi", "/v2/team/multi/blobs/${amd64_config}", 200, Blob("amd64_config")),
    get("end-2 library/registry's layer", "/v2/library/registry/blobs/${registry_layer}", 200, Blob("registry_layer")),
    get("end-2 a manifest through the blob endpoint", "/v2/library/hello/blobs/${hello}", 200, Blob("hello")),
    get("end-2 untagged artifact's layer in any repository", "/v2/team/multi/blobs/${sbom_layer}", 200, Blob("sbom_layer")),
    get("end-2 untagged artifact's empty config", "/v2/library/registry/blobs/${empty}", 200, Blob("empty")),
    // Repository scoping. The untagged artifact counts for every repository and its `subject`
    // is followed like any other link (issue 3; src/repository.rs), so hello and its blobs
    // are served everywhere; the other images stay in their own repositories.
    get("end-2 hello's layer under team/nested/app, through the untagged artifact's subject", "/v2/team/nested/app/blobs/${hello_layer}", 200, Blob("hello_layer")),
    get("end-2 hello's 3 MB layer under library/registry, through the artifact's subject", "/v2/library/registry/blobs/${big}", 200, Blob("big")),
    get("end-2 the amd64 manifest as a blob under library/registry", "/v2/library/registry/blobs/${amd64}", 404, Error("BLOB_UNKNOWN")),
    get("end-2 library/registry's layer under team/nested/app", "/v2/team/nested/app/blobs/${registry_layer}", 404, Error("BLOB_UNKNOWN")),
    get("end-2 arm64 layer under library/hello", "/v2/library/hello/blobs/${arm64_layer}", 404, Error("BLOB_UNKNOWN")),
    get("end-2 Docker layer under team/multi", "/v2/team/multi/blobs/${app_layer}", 404, Error("BLOB_UNKNOWN")),
    get("end-2 unknown digest", "/v2/library/hello/blobs/${unknown}", 404, Error("BLOB_UNKNOWN")),
    head("end-2 HEAD unknown digest", "/v2/library/hello/blobs/${unknown}", 404, Error("BLOB_UNKNOWN")),
    get("end-2 well-formed sha512 digest, unknown", "/v2/library/hello/blobs/sha512:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", 404, Error("BLOB_UNKNOWN")),
    get("end-2 unknown repository", "/v2/library/nope/blobs/${hello_layer}", 404, Error("NAME_UNKNOWN")),
    get("end-2 uppercase name", "/v2/Library/hello/blobs/${hello_layer}", 400, Error("NAME_INVALID")),
    get("end-2 malformed digest sha256:xyz", "/v2/library/hello/blobs/sha256:xyz", 400, Error("DIGEST_INVALID")),
    get("end-2 digest with uppercase hex", "/v2/library/hello/blobs/sha256:ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789", 400, Error("DIGEST_INVALID")),
    get("end-2 well-formed digest of an algorithm not stored", "/v2/library/hello/blobs/md5:d41d8cd98f00b204e9800998ecf8427e", 404, Error("BLOB_UNKNOWN")),
    get("end-2 malformed sha256 digest", "/v2/library/hello/blobs/sha256:abc", 400, Error("DIGEST_INVALID")),
    get("end-2 digest without algorithm", "/v2/library/hello/blobs/${hello_layer.hex}", 400, Error("DIGEST_INVALID")),
    // ranges (RFC 9110 §14, decisions in src/range.rs)
    get("end-2 range bytes=0-99", "/v2/library/hello/blobs/${big}", 206, Part("big", Slice::Span(0, 99)))
        .send(&["Range: bytes=0-99"]),
    get("end-2 range bytes=100-", "/v2/library/hello/blobs/${big}", 206, Part("big", Slice::From(100)))
        .send(&["Range: bytes=100-"]),
    get("end-2 range bytes=-100", "/v2/library/hello/blobs/${big}", 206, Part("big", Slice::Suffix(100)))
        .send(&["Range: bytes=-100"]),
    get("end-2 range bytes=0- (resume from the start)", "/v2/library/hello/blobs/${big}", 206, Part("big", Slice::From(0)))
        .send(&["Range: bytes=0-"]),
    get("end-2 range last byte only", "/v2/library/hello/blobs/${big}", 206, Part("big", Slice::Suffix(1)))
        .send(&["Range: bytes=-1"]),
    get("end-2 range past the end is clamped", "/v2/library/hello/blobs/${big}", 206, Part("big", Slice::Span(5, u64::MAX)))
        .send(&["Range: bytes=5-99999999999"]),
    get("end-2 range on a small layer", "/v2/library/hello/blobs/${hello_layer}", 206, Part("hello_layer", Slice::Span(0, 9)))
        .send(&["Range: bytes=0-9"]),
    get("end-2 range bytes=SIZE- is unsatisfiable: 416 RANGE_INVALID", "/v2/library/hello/blobs/${big}", 416, Error("RANGE_INVALID"))
        .send(&["Range: bytes=${big.size}-"])
        .headers(&[("Content-Range", Some("bytes */${big.size}"))]),
    get("end-2 range bytes=-0 is unsatisfiable", "/v2/library/hello/blobs/${big}", 416, Error("RANGE_INVALID"))
        .send(&["Range: bytes=-0"])
        .headers(&[("Content-Range", Some("bytes */${big.size}"))]),
    get("end-2 multi-range bytes=0-1,5-6: whole blob", "/v2/library/hello/blobs/${big}", 200, Blob("big"))
        .send(&["Range: bytes=0-1,5-6"]),
    get("end-2 garbage bytes=x: whole blob", "/v2/library/hello/blobs/${big}", 200, Blob("big"))
        .send(&["Range: bytes=x"]),
    get("end-2 If-Range with the ETag keeps the range", "/v2/library/hello/blobs/${big}", 206, Part("big", Slice::Span(0, 99)))
        .send(&["Range: bytes=0-99", "If-Range: \"${big}\""]),
    get("end-2 If-Range with another validator: whole blob", "/v2/library/hello/blobs/${big}", 200, Blob("big"))
        .send(&["Range: bytes=0-99", "If-Range: \"sha256:0000\""]),
    get("end-2 unknown unit: whole blob", "/v2/library/hello/blobs/${big}", 200, Blob("big"))
        .send(&["Range: items=0-9"]),
    get("end-2 backwards bytes=9-0: whole blob", "/v2/library/hello/blobs/${hello_layer}", 200, Blob("hello_layer"))
        .send(&["Range: bytes=9-0"]),
    head("end-2 HEAD with Range: 200, whole length", "/v2/library/hello/blobs/${big}", 200, Blob("big"))
        .send(&["Range: bytes=0-99"]),
];

#[test]
fn end2_blobs_and_ranges() {
    run_with_server("reg-blobs", BLOB_CASES, |c| c.name, check_case);
}

// ----------------------------------------------------------------------------------------------
// end-8a/8b: tags; the catalog

const TAG_CASES: &[Case] = &[
    get("end-8a tags of library/hello, sorted", "/v2/library/hello/tags/list", 200,
        Expect::Json(r#"{"name":"library/hello","tags":["1.0","latest"]}"#))
        .headers(&[("Link", None)]),
    head("end-8a HEAD tags", "/v2/library/hello/tags/list", 200,
        Expect::Json(r#"{"name":"library/hello","tags":["1.0","latest"]}"#)),
    get("end-8b n=1: first tag and a Link", "/v2/library/hello/tags/list?n=1", 200,
        Expect::Json(r#"{"name":"library/hello","tags":["1.0"]}"#))
        .headers(&[("Link", Some(r#"</v2/library/hello/tags/list?n=1&last=1.0>; rel="next""#))]),
    get("end-8b n=1&last=1.0: the last page, no Link", "/v2/library/hello/tags/list?n=1&last=1.0", 200,
        Expect::Json(r#"{"name":"library/hello","tags":["latest"]}"#))
        .headers(&[("Link", None)]),
    get("end-8b last=1.0 without n", "/v2/library/hello/tags/list?last=1.0", 200,
        Expect::Json(r#"{"name":"library/hello","tags":["latest"]}"#))
        .headers(&[("Link", None)]),
    get("end-8b last=latest: nothing after it", "/v2/library/hello/tags/list?last=latest", 200,
        Expect::Json(r#"{"name":"library/hello","tags":[]}"#))
        .headers(&[("Link", None)]),
    get("end-8b n=0: no tags", "/v2/library/hello/tags/list?n=0", 200,
        Expect::Json(r#"{"name":"library/hello","tags":[]}"#))
        .headers(&[("Link", None)]),
    get("end-8b n=5, more than there are: all, no Link", "/v2/library/hello/tags/list?n=5", 200,
        Expect::Json(r#"{"name":"library/hello","tags":["1.0","latest"]}"#))
        .headers(&[("Link", None)]),
    get("end-8b n=x is ignored", "/v2/library/hello/tags/list?n=x", 200,
        Expect::Json(r#"{"name":"library/hello","tags":["1.0","latest"]}"#))
        .headers(&[("Link", None)]),
    get("end-8a tags of team/multi", "/v2/team/multi/tags/list", 200,
        Expect::Json(r#"{"name":"team/multi","tags":["v1"]}"#)),
    get("end-8a tags of team/nested/app", "/v2/team/nested/app/tags/list", 200,
        Expect::Json(r#"{"name":"team/nested/app","tags":["2.0"]}"#)),
    get("end-8a tags of library/registry", "/v2/library/registry/tags/list", 200,
        Expect::Json(r#"{"name":"library/registry","tags":["2.8.2"]}"#)),
    get("end-8a unknown repository", "/v2/library/nope/tags/list", 404, Error("NAME_UNKNOWN")),
    get("end-8a uppercase name", "/v2/Library/hello/tags/list", 400, Error("NAME_INVALID")),
    get("end-8b last that is not a tag", "/v2/library/hello/tags/list?last=..%2Fx", 400, Error("TAG_INVALID")),
    // catalog
    get("catalog: every repository, sorted", "/v2/_catalog", 200,
        Expect::Json(r#"{"repositories":["library/hello","library/registry","team/multi","team/nested/app"]}"#))
        .headers(&[("Link", None)]),
    head("catalog HEAD", "/v2/_catalog", 200,
        Expect::Json(r#"{"repositories":["library/hello","library/registry","team/multi","team/nested/app"]}"#)),
    get("catalog n=2: first page and a Link", "/v2/_catalog?n=2", 200,
        Expect::Json(r#"{"repositories":["library/hello","library/registry"]}"#))
        .headers(&[("Link", Some(r#"</v2/_catalog?n=2&last=library/registry>; rel="next""#))]),
    get("catalog n=2&last=library/registry: the last page", "/v2/_catalog?n=2&last=library/registry", 200,
        Expect::Json(r#"{"repositories":["team/multi","team/nested/app"]}"#))
        .headers(&[("Link", None)]),
    get("catalog last percent-encoded", "/v2/_catalog?n=1&last=library%2Fhello", 200,
        Expect::Json(r#"{"repositories":["library/registry"]}"#))
        .headers(&[("Link", Some(r#"</v2/_catalog?n=1&last=library/registry>; rel="next""#))]),
    get("catalog n=0", "/v2/_catalog?n=0", 200, Expect::Json(r#"{"repositories":[]}"#))
        .headers(&[("Link", None)]),
    get("catalog last that is not a name", "/v2/_catalog?last=Bad", 400, Error("NAME_INVALID")),
];

#[test]
fn end8_tags_and_catalog() {
    run_with_server("reg-tags", TAG_CASES, |c| c.name, check_case);
}

// ----------------------------------------------------------------------------------------------
// end-12a/12b: referrers

const SBOM_REFERRERS: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
    {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"${sbom}","size":${sbom.size},
     "artifactType":"application/vnd.example.sbom.v1","annotations":{"org.example.kind":"sbom"}}]}"#;
const NO_REFERRERS: &str =
    r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;

const REFERRER_CASES: &[Case] = &[
    get(
        "end-12a referrers of hello: the artifact",
        "/v2/library/hello/referrers/${hello}",
        200,
        Index(SBOM_REFERRERS),
    )
    .headers(&[("OCI-Filters-Applied", None)]),
    head(
        "end-12a HEAD referrers",
        "/v2/library/hello/referrers/${hello}",
        200,
        Index(SBOM_REFERRERS),
    ),
    get(
        "end-12b artifactType filter that matches",
        "/v2/library/hello/referrers/${hello}?artifactType=application/vnd.example.sbom.v1",
        200,
        Index(SBOM_REFERRERS),
    )
    .headers(&[("OCI-Filters-Applied", Some("artifactType"))]),
    get(
        "end-12b artifactType percent-encoded",
        "/v2/library/hello/referrers/${hello}?artifactType=application%2Fvnd.example.sbom.v1",
        200,
        Index(SBOM_REFERRERS),
    )
    .headers(&[("OCI-Filters-Applied", Some("artifactType"))]),
    get(
        "end-12b artifactType other/type: empty, filter applied",
        "/v2/library/hello/referrers/${hello}?artifactType=other/type",
        200,
        Index(NO_REFERRERS),
    )
    .headers(&[("OCI-Filters-Applied", Some("artifactType"))]),
    get(
        "end-12a unknown digest: 200 and an empty index",
        "/v2/library/hello/referrers/${unknown}",
        200,
        Index(NO_REFERRERS),
    ),
    get(
        "end-12a a manifest nothing refers to",
        "/v2/team/multi/referrers/${multi}",
        200,
        Index(NO_REFERRERS),
    ),
    get(
        "end-12a the artifact itself has no referrers",
        "/v2/library/hello/referrers/${sbom}",
        200,
        Index(NO_REFERRERS),
    ),
    get(
        "end-12a malformed digest",
        "/v2/library/hello/referrers/sha256:xyz",
        400,
        Error("DIGEST_INVALID"),
    ),
    get(
        "end-12a uppercase name",
        "/v2/Library/hello/referrers/${hello}",
        400,
        Error("NAME_INVALID"),
    ),
];

#[test]
fn end12_referrers() {
    // SBOM_TYPE is what the artifact's layout entry and manifest say.
    assert!(SBOM_REFERRERS.contains(SBOM_TYPE));
    run_with_server("reg-referrers", REFERRER_CASES, |c| c.name, check_case);
}

// ----------------------------------------------------------------------------------------------
// Errors: names, references, traversal, writes, uploads, unknown paths

const ERROR_CASES: &[Case] = &[
    get("end-3 unknown repository", "/v2/library/nope/manifests/1.0", 404, Error("NAME_UNKNOWN")),
    head("end-3 HEAD unknown repository", "/v2/library/nope/manifests/1.0", 404, Error("NAME_UNKNOWN")),
    get("end-3 uppercase name", "/v2/Library/hello/manifests/1.0", 400, Error("NAME_INVALID")),
    get("end-3 name with an empty component", "/v2/library//hello/manifests/1.0", 400, Error("NAME_INVALID")),
    get("end-3 unknown tag", "/v2/library/hello/manifests/2.0", 404, Error("MANIFEST_UNKNOWN")),
    head("end-3 HEAD unknown tag", "/v2/library/hello/manifests/2.0", 404, Error("MANIFEST_UNKNOWN")),
    get("end-3 another repository's tag", "/v2/library/hello/manifests/v1", 404, Error("MANIFEST_UNKNOWN")),
    get("end-3 another repository's manifest by digest", "/v2/library/hello/manifests/${app}", 404, Error("MANIFEST_UNKNOWN")),
    get("end-3 unknown digest", "/v2/library/hello/manifests/${unknown}", 404, Error("MANIFEST_UNKNOWN")),
    get("end-3 a layer digest is no manifest", "/v2/library/hello/manifests/${hello_layer}", 404, Error("MANIFEST_UNKNOWN")),
    get("end-3 reference neither tag nor digest: a:b", "/v2/library/hello/manifests/a:b", 404, Error("MANIFEST_UNKNOWN")),
    get("end-3 reference %2e%2e", "/v2/library/hello/manifests/%2e%2e", 404, Error("MANIFEST_UNKNOWN")),
    get("end-3 reference ..", "/v2/library/hello/manifests/..", 404, Error("MANIFEST_UNKNOWN")),
    get("end-3 malformed digest as reference", "/v2/library/hello/manifests/sha256:xyz", 404, Error("MANIFEST_UNKNOWN")),
    get("end-3 tag of 129 characters", "/v2/library/hello/manifests/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 404, Error("MANIFEST_UNKNOWN")),
    // traversal: never a file's content, always a spec error
    get("traversal /v2/../etc/passwd", "/v2/../etc/passwd", 404, Error("NAME_UNKNOWN")),
    get("traversal /v2/x/blobs/sha256:../../oci-layout", "/v2/x/blobs/sha256:../../oci-layout", 404, Error("NAME_UNKNOWN")),
    get("traversal dot segments after blobs/", "/v2/library/hello/blobs/../../../oci-layout", 404, Error("NAME_UNKNOWN")),
    get("traversal encoded %2F.. in a blob digest", "/v2/library/hello/blobs/sha256:..%2F..%2Foci-layout", 400, Error("DIGEST_INVALID")),
    get("traversal encoded %2F.. in a manifest reference", "/v2/library/hello/manifests/..%2F..%2Findex.json", 404, Error("MANIFEST_UNKNOWN")),
    get("traversal encoded %2F.. in a name", "/v2/..%2F..%2Foci-layout/tags/list", 400, Error("NAME_INVALID")),
    get("traversal layout path blobs/sha256/<hex>", "/v2/library/hello/blobs/sha256/${hello_layer.hex}", 404, Error("NAME_UNKNOWN")),
    get("traversal absolute-form", "http://127.0.0.1/v2/../oci-layout", 404, Error("NAME_UNKNOWN")),
    get("outside /v2/: /oci-layout", "/oci-layout", 404, Error("NAME_UNKNOWN")),
    get("outside /v2/: /index.json", "/index.json", 404, Error("NAME_UNKNOWN")),
    get("outside /v2/: /", "/", 404, Error("NAME_UNKNOWN")),
    get("outside /v2/: /v1/", "/v1/", 404, Error("NAME_UNKNOWN")),
    get("no endpoint: /v2/<name>", "/v2/library/hello", 404, Error("NAME_UNKNOWN")),
    get("no endpoint: /v2/<name>/tags", "/v2/library/hello/tags", 404, Error("NAME_UNKNOWN")),
    // writes
    case("end-7 PUT manifest: 405 UNSUPPORTED", "PUT", "/v2/library/hello/manifests/1.0", 405, Error("UNSUPPORTED"))
        .send(&["Content-Type: application/vnd.oci.image.manifest.v1+json"])
        .body("{}")
        .headers(&[("Allow", Some("GET, HEAD"))]),
    case("end-4a POST upload: 405", "POST", "/v2/library/hello/blobs/uploads/", 405, Error("UNSUPPORTED"))
        .headers(&[("Allow", Some("GET, HEAD"))]),
    case("end-4b POST monolithic upload: 405", "POST", "/v2/library/hello/blobs/uploads/?digest=${unknown}", 405, Error("UNSUPPORTED"))
        .send(&["Content-Type: application/octet-stream"])
        .body("data")
        .headers(&[("Allow", Some("GET, HEAD"))]),
    case("end-5 PATCH upload chunk: 405", "PATCH", "/v2/library/hello/blobs/uploads/abc", 405, Error("UNSUPPORTED"))
        .headers(&[("Allow", Some("GET, HEAD"))]),
    case("end-6 PUT upload end: 405", "PUT", "/v2/library/hello/blobs/uploads/abc?digest=${hello_layer}", 405, Error("UNSUPPORTED"))
        .headers(&[("Allow", Some("GET, HEAD"))]),
    case("end-9 DELETE manifest by digest: 405", "DELETE", "/v2/library/hello/manifests/${hello}", 405, Error("UNSUPPORTED"))
        .headers(&[("Allow", Some("GET, HEAD"))]),
    case("end-9 DELETE tag: 405", "DELETE", "/v2/library/hello/manifests/latest", 405, Error("UNSUPPORTED"))
        .headers(&[("Allow", Some("GET, HEAD"))]),
    case("end-10 DELETE blob: 405", "DELETE", "/v2/library/hello/blobs/${hello_layer}", 405, Error("UNSUPPORTED"))
        .headers(&[("Allow", Some("GET, HEAD"))]),
    case("PUT /v2/: 405", "PUT", "/v2/", 405, Error("UNSUPPORTED"))
        .headers(&[("Allow", Some("GET, HEAD"))]),
    // upload sessions do not exist
    get("end-13 GET upload session", "/v2/library/hello/blobs/uploads/abc", 404, Error("BLOB_UPLOAD_UNKNOWN")),
    get("end-13 GET upload path without an id", "/v2/library/hello/blobs/uploads/", 404, Error("BLOB_UPLOAD_UNKNOWN")),
    head("end-13 HEAD upload session", "/v2/library/hello/blobs/uploads/abc", 404, Error("BLOB_UPLOAD_UNKNOWN")),
];

#[test]
fn errors_traversal_and_writes() {
    run_with_server("reg-errors", ERROR_CASES, |c| c.name, check_case);
}

// ----------------------------------------------------------------------------------------------
// HTTP/1.1 behaviour

struct HttpCase {
    name: &'static str,
    run: fn(&Server, &str),
}

const HTTP_CASES: &[HttpCase] = &[
    HttpCase {
        name: "keep-alive: six requests on one connection",
        run: keep_alive,
    },
    HttpCase {
        name: "pipelining: four requests in one write, answered in order",
        run: pipelining,
    },
    HttpCase {
        name: "a request head split over two writes",
        run: split_head,
    },
    HttpCase {
        name: "Connection: close is honoured",
        run: connection_close,
    },
    HttpCase {
        name: "HTTP/1.0 without keep-alive closes",
        run: http10_closes,
    },
    HttpCase {
        name: "HTTP/1.0 with keep-alive is told so and kept",
        run: http10_keep_alive,
    },
    HttpCase {
        name: "TLS ClientHello: HTTP/1.1 400 before the close",
        run: tls_client_hello,
    },
    HttpCase {
        name: "binary garbage: HTTP/1.1 400",
        run: binary_garbage,
    },
    HttpCase {
        name: "a 20 KiB header: 431",
        run: huge_header,
    },
    HttpCase {
        name: "a 20 KiB request target: 431",
        run: huge_target,
    },
    HttpCase {
        name: "70 headers: 431",
        run: many_headers,
    },
    HttpCase {
        name: "clients hanging up mid-blob do not stop the server",
        run: disconnect_mid_blob,
    },
];

#[test]
fn http_behaviour() {
    run_with_server(
        "reg-http",
        HTTP_CASES,
        |c| c.name,
        |c| (c.run)(&server(), c.name),
    );
}

/// `METHOD target HTTP/1.1` with Host and `extra` header lines (each ending in CRLF).
fn request(server: &Server, method: &str, target: &str, extra: &str) -> String {
    format!(
        "{method} {} HTTP/1.1\r\nHost: {}\r\n{extra}\r\n",
        server.layout.expand(target),
        server.addr()
    )
}

/// Checks status, the API version header, and (for a GET) the body.
fn assert_answer(name: &str, response: &Response, status: u16, body: Option<&[u8]>) {
    assert_eq!(response.status, status, "{name}: status");
    assert_eq!(
        response.header("Docker-Distribution-API-Version"),
        Some("registry/2.0"),
        "{name}: API version header"
    );
    if let Some(body) = body {
        assert!(
            response.body == body,
            "{name}: body of {} bytes, want {}",
            response.body.len(),
            body.len()
        );
    }
}

/// Method, target, extra header lines, status, and the body if it is checked.
type Step<'a> = (&'a str, &'a str, &'a str, u16, Option<&'a [u8]>);

fn keep_alive(server: &Server, name: &str) {
    let layout = &server.layout;
    let big = layout.get("big");
    let mut conn = Conn::open(server.addr());
    let steps: [Step; 6] = [
        (GET, "/v2/", "", 200, Some(b"{}")),
        (HEAD, "/v2/library/hello/blobs/${big}", "", 200, None),
        (
            GET,
            "/v2/library/hello/manifests/1.0",
            "",
            200,
            Some(&layout.get("hello").bytes),
        ),
        (
            GET,
            "/v2/library/hello/blobs/${big}",
            "Range: bytes=0-99\r\n",
            206,
            Some(&big.bytes[..100]),
        ),
        (GET, "/v2/library/hello/manifests/nope", "", 404, None),
        (
            GET,
            "/v2/library/hello/blobs/${big}",
            "",
            200,
            Some(&big.bytes),
        ),
    ];
    for (i, (method, target, extra, status, body)) in steps.into_iter().enumerate() {
        let step = format!("{name}: request {} ({method} {target})", i + 1);
        conn.send(request(server, method, target, extra).as_bytes());
        let response = conn.response(method == HEAD);
        assert_answer(&step, &response, status, body);
        assert_eq!(response.header("Connection"), None, "{step}: closes");
        if method == HEAD {
            assert_eq!(
                response.header("Content-Length"),
                Some(big.size().to_string().as_str()),
                "{step}: Content-Length"
            );
        }
    }
}

fn pipelining(server: &Server, name: &str) {
    let layout = &server.layout;
    let mut all = String::new();
    all.push_str(&request(server, GET, "/v2/library/hello/manifests/1.0", ""));
    all.push_str(&request(server, HEAD, "/v2/library/hello/blobs/${big}", ""));
    all.push_str(&request(
        server,
        GET,
        "/v2/team/nested/app/manifests/2.0",
        "",
    ));
    all.push_str(&request(server, GET, "/v2/", "Connection: close\r\n"));
    let mut conn = Conn::open(server.addr());
    conn.send(all.as_bytes());
    let first = conn.response(false);
    assert_answer(
        &format!("{name}: 1st"),
        &first,
        200,
        Some(&layout.get("hello").bytes),
    );
    let second = conn.response(true);
    assert_answer(&format!("{name}: 2nd (HEAD)"), &second, 200, None);
    assert_eq!(
        second.header("Docker-Content-Digest"),
        Some(layout.get("big").digest.as_str()),
        "{name}: 2nd is the HEAD of the blob"
    );
    let third = conn.response(false);
    assert_answer(
        &format!("{name}: 3rd"),
        &third,
        200,
        Some(&layout.get("app").bytes),
    );
    let fourth = conn.response(false);
    assert_answer(&format!("{name}: 4th"), &fourth, 200, Some(b"{}"));
    assert_eq!(fourth.header("Connection"), Some("close"), "{name}: 4th");
    assert_eq!(conn.rest(), b"", "{name}: bytes after the last response");
}

fn split_head(server: &Server, name: &str) {
    let text = request(server, GET, "/v2/library/registry/manifests/2.8.2", "");
    let (a, b) = text.split_at(text.len() / 2);
    let mut conn = Conn::open(server.addr());
    conn.send(a.as_bytes());
    thread::sleep(Duration::from_millis(100));
    conn.send(b.as_bytes());
    let response = conn.response(false);
    assert_answer(
        name,
        &response,
        200,
        Some(&server.layout.get("registry").bytes),
    );
}

fn connection_close(server: &Server, name: &str) {
    let mut conn = Conn::open(server.addr());
    conn.send(request(server, GET, "/v2/", "Connection: close\r\n").as_bytes());
    let response = conn.response(false);
    assert_answer(name, &response, 200, Some(b"{}"));
    assert_eq!(response.header("Connection"), Some("close"), "{name}");
    assert_eq!(conn.rest(), b"", "{name}: the server did not close");
}

fn http10_closes(server: &Server, name: &str) {
    let mut conn = Conn::open(server.addr());
    conn.send(b"GET /v2/ HTTP/1.0\r\n\r\n");
    let response = conn.response(false);
    assert_answer(name, &response, 200, Some(b"{}"));
    assert_eq!(conn.rest(), b"", "{name}: the server did not close");
}

fn http10_keep_alive(server: &Server, name: &str) {
    let mut conn = Conn::open(server.addr());
    for round in 0..2 {
        conn.send(b"GET /v2/ HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        let response = conn.response(false);
        assert_answer(name, &response, 200, Some(b"{}"));
        assert_eq!(
            response.header("Connection"),
            Some("keep-alive"),
            "{name}: round {round}"
        );
    }
}

/// Asserts that `answer` is a whole response with `status` and nothing after it.
fn assert_bare_status(name: &str, answer: &[u8], status: u16) {
    let text = String::from_utf8_lossy(answer);
    assert!(
        text.starts_with(&format!("HTTP/1.1 {status} ")),
        "{name}: answer {text:?}"
    );
}

fn tls_client_hello(server: &Server, name: &str) {
    // A TLS 1.2 record header and the start of a ClientHello, as docker and containerd send
    // when they try https first.
    let mut hello = vec![
        0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00, 0x00, 0xc4, 0x03, 0x03,
    ];
    hello.extend_from_slice(&Rng::new(7).bytes(32));
    hello.extend_from_slice(&[0x00, 0x00, 0x04, 0x13, 0x01, 0x13, 0x02, 0x01, 0x00]);
    let answer = raw_exchange(server.addr(), &hello);
    assert_bare_status(name, &answer, 400);
}

fn binary_garbage(server: &Server, name: &str) {
    let answer = raw_exchange(server.addr(), b"\x00\x01\x02\xff garbage\r\n\r\n");
    assert_bare_status(name, &answer, 400);
}

fn huge_header(server: &Server, name: &str) {
    let extra = format!("X-Big: {}\r\n", "a".repeat(20 << 10));
    let answer = raw_exchange(
        server.addr(),
        request(server, GET, "/v2/", &extra).as_bytes(),
    );
    assert_bare_status(name, &answer, 431);
}

fn huge_target(server: &Server, name: &str) {
    let target = format!("/v2/{}/tags/list", "a/".repeat(10 << 10));
    let answer = raw_exchange(server.addr(), request(server, GET, &target, "").as_bytes());
    assert_bare_status(name, &answer, 431);
}

fn many_headers(server: &Server, name: &str) {
    let extra: String = (0..70).map(|i| format!("X-Header-{i}: {i}\r\n")).collect();
    let answer = raw_exchange(
        server.addr(),
        request(server, GET, "/v2/", &extra).as_bytes(),
    );
    assert_bare_status(name, &answer, 431);
}

fn disconnect_mid_blob(server: &Server, name: &str) {
    let big = server.layout.get("big");
    let text = request(server, GET, "/v2/library/hello/blobs/${big}", "");
    for read_first in [0usize, 1, 64 << 10, 1 << 20] {
        let mut conn = Conn::open(server.addr());
        conn.send(text.as_bytes());
        while conn.buf.len() < read_first {
            assert!(conn.fill() > 0, "{name}: closed early");
        }
        drop(conn); // unread bytes: the kernel resets the connection
    }
    thread::sleep(Duration::from_millis(100));
    let mut conn = Conn::open(server.addr());
    conn.send(text.as_bytes());
    let response = conn.response(false);
    assert_answer(
        &format!("{name}: the next download"),
        &response,
        200,
        Some(&big.bytes),
    );
    conn.send(request(server, GET, "/v2/", "").as_bytes());
    let response = conn.response(false);
    assert_answer(&format!("{name}: then /v2/"), &response, 200, Some(b"{}"));
}
