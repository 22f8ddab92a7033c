//! Hostile clients against the running binary (issue 7): slowloris connections, clients that
//! hang up mid-blob, heads far over the limits, invalid methods, bad percent-encoding, NUL
//! bytes, traversal, absurd ranges and pipelined bursts. After each, the server must still
//! answer `GET /v2/` within a second and serve a manifest and a blob byte for byte.
//!
//! The cases `tests/registry.rs` already has (20 KiB header and target, 70 headers, a TLS
//! ClientHello, four pipelined requests, four hang-ups mid-blob, the traversal cases of its
//! error table) are not repeated; these go further. `docs/HARDENING.md` maps all of them.

mod common;

use common::*;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

/// The readiness probe's budget.
const PROBE_LIMIT: Duration = Duration::from_secs(1);
/// The cap on connections of the servers started with [`Server::start_capped`] (the cap
/// follows the descriptor limit, `src/connections.rs`), the head timeout.
const MAX_CONNECTIONS: usize = 512;
const EVICTABLE_AFTER: Duration = zarf_injector::connections::EVICTABLE_AFTER;
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_HEAD: usize = zarf_injector::http::MAX_HEAD;

// ----------------------------------------------------------------------------------------------
// The server under attack

/// A served layout with a 4 MiB layer; the process is killed before the directory is removed.
/// The tests of this file each hold hundreds of connections and threads; run in parallel on a
/// two-core machine they measure each other, not the server. One server at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

struct Server {
    running: Running,
    /// `library/app`'s manifest digest and bytes.
    manifest: (String, Vec<u8>),
    /// The largest blob's digest and bytes.
    big: (String, Vec<u8>),
    _dir: TempDir,
    _turn: std::sync::MutexGuard<'static, ()>,
}

impl Server {
    fn start(label: &str) -> Server {
        Server::start_with(label, serve_command)
    }

    /// A server whose descriptor limit makes its connection cap [`MAX_CONNECTIONS`].
    fn start_capped(label: &str) -> Server {
        Server::start_with(label, |dir| {
            serve_command_with_descriptors(dir, descriptors_for_cap(MAX_CONNECTIONS))
        })
    }

    fn start_with(label: &str, command: impl Fn(&Path) -> std::process::Command) -> Server {
        let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let dir = TempDir::new(label);
        let options = LayoutOptions {
            big_layer: 4 << 20,
            ..LayoutOptions::TINY
        };
        let layout = build_layout(dir.path(), &options);
        let read = |blob: &Blob| (blob.digest.clone(), read_file(&blob.path(dir.path())));
        let manifest = read(&layout.images[0].manifest);
        let big = read(layout.blobs.iter().max_by_key(|b| b.size).expect("a blob"));
        let running = start(command(dir.path()), START_TIMEOUT);
        Server {
            running,
            manifest,
            big,
            _dir: dir,
            _turn: turn,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.running.addr
    }

    fn blob_target(&self) -> String {
        format!("/v2/library/app/blobs/{}", self.big.0)
    }
}

fn read_file(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// `GET /v2/` on a new connection, answered 200 within [`PROBE_LIMIT`]; returns the time.
fn probe(server: &Server, what: &str) -> Duration {
    let started = Instant::now();
    let mut stream = TcpStream::connect_timeout(&server.addr(), PROBE_LIMIT)
        .unwrap_or_else(|e| panic!("{what}: connect for the probe: {e}"));
    stream.set_read_timeout(Some(PROBE_LIMIT)).expect("timeout");
    stream
        .write_all(b"GET /v2/ HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n")
        .unwrap_or_else(|e| panic!("{what}: send the probe: {e}"));
    let mut answer = Vec::new();
    let read = stream.read_to_end(&mut answer);
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&answer);
    assert!(
        read.is_ok() && text.starts_with("HTTP/1.1 200 ") && text.ends_with("{}"),
        "{what}: GET /v2/ after {took:?}: {read:?} {text:?}"
    );
    assert!(took < PROBE_LIMIT, "{what}: GET /v2/ took {took:?}");
    took
}

/// The server answers the probe in time and serves a manifest and the big blob intact.
fn assert_healthy(server: &Server, what: &str) {
    probe(server, what);
    let manifest = format!("/v2/library/app/manifests/{}", server.manifest.0);
    let response = http_get(server.addr(), &manifest);
    assert_eq!(response.status, 200, "{what}: manifest {response:?}");
    assert!(response.body == server.manifest.1, "{what}: manifest bytes");
    let response = http_get(server.addr(), &server.blob_target());
    assert_eq!(response.status, 200, "{what}: blob status");
    assert!(response.body == server.big.1, "{what}: blob bytes differ");
}

/// Runs every case against one server, each followed by [`assert_healthy`]; fails naming
/// every failed case and prints the server's stderr.
fn run_against<C>(server: &Server, cases: &[C], name: fn(&C) -> &str, check: fn(&Server, &C)) {
    let failed: Vec<&str> = cases
        .iter()
        .filter(|case| {
            catch_unwind(AssertUnwindSafe(|| {
                check(server, case);
                assert_healthy(server, &format!("after {}", name(case)));
            }))
            .is_err()
        })
        .map(name)
        .collect();
    if !failed.is_empty() {
        eprintln!("server stderr:\n{}", server.running.stderr());
    }
    assert!(failed.is_empty(), "failed cases: {failed:#?}");
}

/// Sends `bytes` (ignoring a write refused because the server already answered and closed),
/// then reads until the server closes (a reset counts as a close).
fn exchange(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut stream = connect(addr);
    let _ = stream.write_all(bytes);
    read_to_close(&mut stream)
}

fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut piece = [0u8; 64 << 10];
    loop {
        match stream.read(&mut piece) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&piece[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return out,
            Err(e) => panic!("waiting for the server to close: {e} (after {out:?})"),
        }
    }
}

/// One parsed response of a stream of them.
struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

/// Splits `bytes` into responses; `heads[i]` says whether response `i` answers a HEAD. Panics
/// if the bytes do not hold exactly `heads.len()` whole responses.
fn split_answers(mut bytes: &[u8], heads: &[bool]) -> Vec<Answer> {
    let mut answers = Vec::new();
    for (i, &to_head) in heads.iter().enumerate() {
        let end = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("response {i}: no whole head in {} bytes", bytes.len()))
            + 4;
        let head = String::from_utf8(bytes[..end].to_vec()).expect("UTF-8 head");
        let status = head
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("response {i}: status line {head:?}"));
        let length = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse::<usize>().expect("length"))
            })
            .unwrap_or(0);
        let length = if to_head || status == 304 { 0 } else { length };
        assert!(bytes.len() >= end + length, "response {i}: body cut short");
        answers.push(Answer {
            status,
            head,
            body: bytes[end..end + length].to_vec(),
        });
        bytes = &bytes[end + length..];
    }
    assert!(
        bytes.is_empty(),
        "{} bytes after {} responses: {:?}",
        bytes.len(),
        heads.len(),
        String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
    );
    answers
}

// ----------------------------------------------------------------------------------------------
// Slowloris

/// How a slow client stalls.
#[derive(Clone, Copy, Debug)]
enum Stall {
    /// Connects and sends nothing (held by the 30 s idle timeout).
    Silent,
    /// Sends one byte of a request line.
    OneByte,
    /// Sends a request line without its end.
    RequestLine,
    /// Sends a request line and a header without the blank line.
    Headers,
}

const STALLS: [Stall; 4] = [
    Stall::Silent,
    Stall::OneByte,
    Stall::RequestLine,
    Stall::Headers,
];

fn stall(addr: SocketAddr, how: Stall) -> TcpStream {
    let mut stream = connect(addr);
    let bytes: &[u8] = match how {
        Stall::Silent => b"",
        Stall::OneByte => b"G",
        Stall::RequestLine => b"GET /v2/library/app/manifests/1.0 HTT",
        Stall::Headers => b"GET /v2/ HTTP/1.1\r\nHost: slow\r\nX-Slow: aaaa",
    };
    stream.write_all(bytes).expect("send the stalled part");
    stream
}

/// 400 connections (under the cap of 512) that never finish their request: the probe still
/// answers within a second, every time, and the server serves whole blobs meanwhile.
#[test]
fn slowloris_hundreds_of_unfinished_requests_do_not_starve_v2() {
    let server = Server::start("slowloris");
    let stalled: Vec<TcpStream> = (0..400)
        .map(|i| stall(server.addr(), STALLS[i % STALLS.len()]))
        .collect();
    thread::sleep(Duration::from_millis(300));
    let mut slowest = Duration::ZERO;
    for i in 0..10 {
        slowest = slowest.max(probe(&server, &format!("probe {i} with 400 stalled")));
    }
    assert_healthy(&server, "with 400 stalled connections");
    eprintln!("slowest probe with 400 stalled connections: {slowest:?}");
    drop(stalled);
    assert_healthy(&server, "after the stalled clients left");
}

/// A client that trickles its head one byte at a time cannot hold its connection past the
/// head timeout (10 s from the first byte, not from the last): the server closes it without
/// an answer, and the probe answers meanwhile.
#[test]
fn trickled_head_is_cut_at_the_head_timeout() {
    let server = Server::start("trickle");
    let mut streams: Vec<TcpStream> = (0..20)
        .map(|_| stall(server.addr(), Stall::Headers))
        .collect();
    let started = Instant::now();
    let mut closed = vec![None; streams.len()];
    while closed.iter().any(Option::is_none) {
        assert!(
            started.elapsed() < HEAD_TIMEOUT + Duration::from_secs(5),
            "still open {:?} after the first byte",
            started.elapsed()
        );
        for (stream, closed) in streams.iter_mut().zip(&mut closed) {
            if closed.is_none() && stream.write_all(b"a").is_err() {
                *closed = Some(started.elapsed());
            }
        }
        probe(&server, "while trickling");
        thread::sleep(Duration::from_millis(250));
    }
    for (stream, when) in streams.iter_mut().zip(&closed) {
        let when = when.expect("closed");
        assert!(
            when >= HEAD_TIMEOUT - Duration::from_secs(1),
            "closed after only {when:?}"
        );
        stream
            .set_read_timeout(Some(Duration::from_secs(1)))
            .expect("timeout");
        let answer = read_to_close(stream);
        assert!(answer.is_empty(), "answered a half head: {answer:?}");
    }
    assert_healthy(&server, "after the tricklers were cut");
}

/// The cap: 512 slow clients fill every slot. While each of them has waited less than
/// `EVICTABLE_AFTER`, a new connection is refused at once with 503 (never left hanging). After
/// that, every new connection is admitted by closing the slow client that has waited longest:
/// ten more slow clients, then the probe, all get in at once, and exactly as many of the first
/// ones are closed. So renewing 512 connections no longer holds the registry off
/// (docs/HARDENING.md, finding 3).
#[test]
fn slowloris_at_the_cap_is_refused_then_the_longest_waiting_clients_make_room() {
    let server = Server::start_capped("slowloris-cap");
    let stalled: Vec<TcpStream> = (0..MAX_CONNECTIONS)
        .map(|i| stall(server.addr(), STALLS[1 + i % 3]))
        .collect();
    thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let over = http_get(server.addr(), "/v2/");
    assert_eq!(
        over.status, 503,
        "the probe over the cap, all slow clients young"
    );
    assert!(
        started.elapsed() < PROBE_LIMIT,
        "503 took {:?}",
        started.elapsed()
    );

    thread::sleep(EVICTABLE_AFTER);
    let newcomers: Vec<TcpStream> = (0..10)
        .map(|i| {
            let mut stream = stall(server.addr(), STALLS[1 + i % 3]);
            assert!(still_open(&mut stream), "newcomer {i} was refused");
            stream
        })
        .collect();
    probe(&server, "at the cap, after the slow clients aged");
    let closed = stalled.iter().filter(|s| closed_by_server(s)).count();
    assert_eq!(
        closed, 11,
        "one first slow client closed per newcomer and the probe"
    );
    assert_healthy(&server, "at the cap");
    drop((stalled, newcomers));
}

/// Whether the server keeps `stream` open: nothing to read within 200 ms.
fn still_open(stream: &mut TcpStream) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let mut byte = [0u8; 1];
    let open = matches!(stream.read(&mut byte), Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut));
    stream
        .set_read_timeout(Some(HTTP_TIMEOUT))
        .expect("timeout");
    open
}

/// Whether the server has closed `stream` (end of stream, nothing sent before it).
fn closed_by_server(stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).expect("nonblocking");
    let mut byte = [0u8; 1];
    let closed = matches!((&*stream).read(&mut byte), Ok(0));
    stream.set_nonblocking(false).expect("blocking");
    closed
}

// ----------------------------------------------------------------------------------------------
// Hang-ups mid-blob

/// 300 clients hang up during a 4 MiB blob transfer, at every stage and from four threads at
/// once: the server keeps serving, and no connection slot leaks (500 idle connections
/// afterwards still leave room for the probe).
#[test]
fn hangups_mid_blob_hundreds_of_times() {
    let server = Server::start_capped("hangups");
    let addr = server.addr();
    let target = server.blob_target();
    let workers: Vec<_> = (0..4u64)
        .map(|worker| {
            let target = target.clone();
            thread::spawn(move || {
                let mut rng = Rng::new(worker);
                for i in 0..75 {
                    hang_up(addr, &target, &mut rng, i);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("hang-up worker");
    }
    assert_healthy(&server, "after 300 hang-ups");
    // Every slot was given back: 500 idle connections and the probe fit under 512.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let idle: Vec<TcpStream> = (0..500).map(|_| connect(addr)).collect();
        thread::sleep(Duration::from_millis(200));
        let status = http_get(addr, "/v2/").status;
        drop(idle);
        if status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{status}: connection slots leaked"
        );
        thread::sleep(Duration::from_millis(500));
    }
    assert_healthy(&server, "after the slot check");
}

/// 100 clients ask for the 4 MiB blob and never read it (their receive windows fill and the
/// server's `sendfile` blocks): each holds one connection thread, nobody else waits. The
/// probe answers within a second and the blob is served whole to a reading client.
#[test]
fn clients_that_stop_reading_do_not_block_others() {
    let server = Server::start("slow-readers");
    let request = format!("GET {} HTTP/1.1\r\nHost: x\r\n\r\n", server.blob_target());
    let stuck: Vec<TcpStream> = (0..100)
        .map(|_| {
            let mut stream = connect(server.addr());
            stream.write_all(request.as_bytes()).expect("send");
            stream
        })
        .collect();
    thread::sleep(Duration::from_millis(500));
    for i in 0..5 {
        probe(&server, &format!("probe {i} with 100 stuck readers"));
    }
    assert_healthy(&server, "with 100 stuck readers");
    drop(stuck);
    assert_healthy(&server, "after the stuck readers left");
}

/// One client that gives up: after part of the request, after the head, after some of the
/// body, or with a half-close; GET or ranged GET.
fn hang_up(addr: SocketAddr, target: &str, rng: &mut Rng, i: u64) {
    let mut stream = connect(addr);
    let range = if i % 3 == 0 {
        format!("Range: bytes={}-\r\n", rng.below(4 << 20))
    } else {
        String::new()
    };
    let request = format!("GET {target} HTTP/1.1\r\nHost: x\r\n{range}\r\n");
    let stage = rng.below(5);
    if stage == 0 {
        let cut = 1 + rng.below(request.len() as u64 - 1) as usize;
        let _ = stream.write_all(&request.as_bytes()[..cut]);
        return; // dropped: the server sees EOF inside the head
    }
    stream.write_all(request.as_bytes()).expect("send");
    let want = match stage {
        1 => 0,
        2 => 1,
        3 => rng.below(1 << 20) as usize,
        _ => {
            let _ = stream.shutdown(Shutdown::Write);
            rng.below(64 << 10) as usize
        }
    };
    let mut got = 0;
    let mut piece = [0u8; 16 << 10];
    while got < want {
        match stream.read(&mut piece[..(want - got).min(16 << 10)]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    // Dropped with unread bytes: the kernel resets the connection mid-transfer.
}

// ----------------------------------------------------------------------------------------------
// Heads far over the limits

struct Oversize {
    name: &'static str,
    /// The request, built from the server.
    make: fn(&Server) -> Vec<u8>,
    status: u16,
}

/// `GET /v2/` with `count` header lines (`Connection: close` among them).
fn headers(count: usize) -> Vec<u8> {
    let headers: String = (2..count).map(|i| format!("X-{i}: {i}\r\n")).collect();
    format!("GET /v2/ HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n").into_bytes()
}

/// `GET /v2/` whose head is `total` bytes long.
fn padded_head(total: usize) -> Vec<u8> {
    let start = b"GET /v2/ HTTP/1.1\r\nConnection: close\r\nX-Pad: ";
    let end = b"\r\n\r\n";
    let pad = total - start.len() - end.len();
    [&start[..], &vec![b'p'; pad], &end[..]].concat()
}

const OVERSIZE: &[Oversize] = &[
    Oversize {
        name: "a 1 MiB request target",
        make: |_| format!("GET /v2/{} HTTP/1.1\r\n\r\n", "a".repeat(1 << 20)).into_bytes(),
        status: 431,
    },
    Oversize {
        name: "a 1 MiB method",
        make: |_| format!("{} /v2/ HTTP/1.1\r\n\r\n", "G".repeat(1 << 20)).into_bytes(),
        status: 431,
    },
    Oversize {
        name: "one 4 MiB header",
        make: |_| format!("GET /v2/ HTTP/1.1\r\nX: {}\r\n\r\n", "v".repeat(4 << 20)).into_bytes(),
        status: 431,
    },
    Oversize {
        name: "10000 headers",
        make: |_| {
            let headers: String = (0..10_000).map(|i| format!("X-{i}: {i}\r\n")).collect();
            format!("GET /v2/ HTTP/1.1\r\n{headers}\r\n").into_bytes()
        },
        status: 431,
    },
    Oversize {
        name: "64 headers (the limit) are served",
        make: |_| headers(64),
        status: 200,
    },
    Oversize {
        name: "65 headers: 431",
        make: |_| headers(65),
        status: 431,
    },
    Oversize {
        name: "a head of exactly 16 KiB is served",
        make: |_| padded_head(MAX_HEAD),
        status: 200,
    },
    Oversize {
        name: "a head of 16 KiB + 1 byte: 431",
        make: |_| padded_head(MAX_HEAD + 1),
        status: 431,
    },
];

fn check_oversize(server: &Server, case: &Oversize) {
    let request = (case.make)(server);
    let answer = exchange(server.addr(), &request);
    let text = String::from_utf8_lossy(&answer);
    let want = format!("HTTP/1.1 {} ", case.status);
    assert!(
        text.starts_with(&want),
        "{}: {:?}",
        case.name,
        &text[..text.len().min(300)]
    );
}

#[test]
fn heads_far_over_the_limits_get_431() {
    let server = Server::start("oversize");
    run_against(&server, OVERSIZE, |c| c.name, check_oversize);
}

/// A client that sends header lines forever gets 431 and is cut off after at most the head
/// limit plus what the socket buffers hold, not after whatever it sends.
#[test]
fn endless_header_stream_is_cut_off() {
    let server = Server::start("endless");
    let mut stream = connect(server.addr());
    stream.write_all(b"GET /v2/ HTTP/1.1\r\n").expect("send");
    let reader = stream.try_clone().expect("clone");
    let answer = thread::spawn(move || {
        let mut reader = reader;
        read_to_close(&mut reader)
    });
    let line = b"X-Endless: 0123456789abcdef0123456789abcdef\r\n";
    let mut sent = 0usize;
    let limit = 256 << 20;
    while sent < limit {
        match stream.write(line) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    assert!(sent < limit, "the server read {limit} bytes of headers");
    let answer = answer.join().expect("reader");
    assert!(
        answer.starts_with(b"HTTP/1.1 431 "),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
    eprintln!("endless headers: cut off after {sent} bytes");
    assert_healthy(&server, "after the endless header stream");
}

// ----------------------------------------------------------------------------------------------
// Malformed requests: methods, versions, percent-encoding, NUL bytes, traversal, smuggling

struct Malformed {
    name: &'static str,
    /// The raw request; `{blob}` is the big blob's digest.
    request: &'static str,
    /// The status of the one answer, then the server closes (`close`) or keeps the
    /// connection (a `GET /v2/` sent after it is answered too).
    status: u16,
    /// The error code in the JSON body, if the answer has one.
    code: Option<&'static str>,
    close: bool,
}

const fn kept(
    name: &'static str,
    request: &'static str,
    status: u16,
    code: &'static str,
) -> Malformed {
    Malformed {
        name,
        request,
        status,
        code: if code.is_empty() { None } else { Some(code) },
        close: false,
    }
}

const fn closed(name: &'static str, request: &'static str, status: u16) -> Malformed {
    Malformed {
        name,
        request,
        status,
        code: None,
        close: true,
    }
}

const MALFORMED: &[Malformed] = &[
    // methods
    kept("method FOO", "FOO /v2/ HTTP/1.1\r\n\r\n", 405, "UNSUPPORTED"),
    kept("lowercase get is another method", "get /v2/ HTTP/1.1\r\n\r\n", 405, "UNSUPPORTED"),
    kept("OPTIONS", "OPTIONS * HTTP/1.1\r\n\r\n", 405, "UNSUPPORTED"),
    kept("TRACE", "TRACE /v2/ HTTP/1.1\r\n\r\n", 405, "UNSUPPORTED"),
    kept("CONNECT authority-form", "CONNECT 127.0.0.1:22 HTTP/1.1\r\n\r\n", 405, "UNSUPPORTED"),
    closed("method with a NUL byte", "G\0T /v2/ HTTP/1.1\r\n\r\n", 400),
    closed("method with a slash", "GE/T /v2/ HTTP/1.1\r\n\r\n", 400),
    closed("no method", " /v2/ HTTP/1.1\r\n\r\n", 400),
    closed("two spaces before the target", "GET  /v2/ HTTP/1.1\r\n\r\n", 400),
    // versions and framing
    closed("HTTP/2.0 request line", "GET /v2/ HTTP/2.0\r\n\r\n", 400),
    closed("HTTP/2 connection preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400),
    closed("HTTP/0.9 request without a version", "GET /v2/\r\n\r\n", 400),
    closed("HTTP/1.12", "GET /v2/ HTTP/1.12\r\n\r\n", 400),
    closed("a bare CR inside a header value", "GET /v2/ HTTP/1.1\r\nX: a\rb\r\n\r\n", 400),
    closed("obsolete line folding", "GET /v2/ HTTP/1.1\r\nX: a\r\n  b\r\n\r\n", 400),
    closed("header without a colon", "GET /v2/ HTTP/1.1\r\nNoColon\r\n\r\n", 400),
    closed("space before the colon", "GET /v2/ HTTP/1.1\r\nHost : x\r\n\r\n", 400),
    kept("LF-only line ends are tolerated", "GET /v2/ HTTP/1.1\nHost: x\n\n", 200, ""),
    // NUL bytes
    closed("NUL in the target", "GET /v2/\0 HTTP/1.1\r\n\r\n", 400),
    closed("NUL in a header name", "GET /v2/ HTTP/1.1\r\nX\0: y\r\n\r\n", 400),
    closed("NUL in a header value", "GET /v2/ HTTP/1.1\r\nX: a\0b\r\n\r\n", 400),
    closed("NUL as the whole request", "\0\0\0\0\r\n\r\n", 400),
    kept("%00 in a tag", "GET /v2/library/app/manifests/1.0%00 HTTP/1.1\r\n\r\n", 404, "MANIFEST_UNKNOWN"),
    kept("%00 in a digest", "GET /v2/library/app/blobs/sha256:%00 HTTP/1.1\r\n\r\n", 400, "DIGEST_INVALID"),
    kept("%00 in last", "GET /v2/library/app/tags/list?last=a%00 HTTP/1.1\r\n\r\n", 400, "TAG_INVALID"),
    // bad percent-encoding
    kept("catalog last=% (truncated escape)", "GET /v2/_catalog?last=% HTTP/1.1\r\n\r\n", 400, "NAME_INVALID"),
    kept("catalog last=%4 (one hex digit)", "GET /v2/_catalog?last=%4 HTTP/1.1\r\n\r\n", 400, "NAME_INVALID"),
    kept("catalog last=%zz", "GET /v2/_catalog?last=%zz HTTP/1.1\r\n\r\n", 400, "NAME_INVALID"),
    kept("tags last=%c3%28 (not UTF-8)", "GET /v2/library/app/tags/list?last=%c3%28 HTTP/1.1\r\n\r\n", 400, "TAG_INVALID"),
    kept("tags last=%ff", "GET /v2/library/app/tags/list?last=%ff HTTP/1.1\r\n\r\n", 400, "TAG_INVALID"),
    kept("artifactType=%zz is not applied", "GET /v2/library/app/referrers/{manifest}?artifactType=%zz HTTP/1.1\r\n\r\n", 200, ""),
    kept("name percent-encoded (%61pp) is not decoded", "GET /v2/library/%61pp/tags/list HTTP/1.1\r\n\r\n", 400, "NAME_INVALID"),
    kept("n=99999999999999999999999 saturates", "GET /v2/_catalog?n=99999999999999999999999 HTTP/1.1\r\n\r\n", 200, ""),
    kept("n=-1 is ignored", "GET /v2/library/app/tags/list?n=-1 HTTP/1.1\r\n\r\n", 200, ""),
    // traversal, encoded and not, in names and digests
    kept("name ../..", "GET /v2/../../etc/passwd/manifests/x HTTP/1.1\r\n\r\n", 400, "NAME_INVALID"),
    kept("name %2e%2e%2f", "GET /v2/%2e%2e%2f%2e%2e%2fetc/tags/list HTTP/1.1\r\n\r\n", 400, "NAME_INVALID"),
    kept("name double-encoded %252e", "GET /v2/%252e%252e/tags/list HTTP/1.1\r\n\r\n", 400, "NAME_INVALID"),
    kept("name with backslashes", "GET /v2/..\\..\\etc/tags/list HTTP/1.1\r\n\r\n", 400, "NAME_INVALID"),
    kept("name overlong UTF-8 dot %c0%ae", "GET /v2/%c0%ae%c0%ae/tags/list HTTP/1.1\r\n\r\n", 400, "NAME_INVALID"),
    kept("name ./library/app", "GET /v2/./library/app/manifests/1.0 HTTP/1.1\r\n\r\n", 400, "NAME_INVALID"),
    kept("digest sha256:../../../../etc/passwd", "GET /v2/library/app/blobs/sha256:../../../../etc/passwd HTTP/1.1\r\n\r\n", 404, "NAME_UNKNOWN"),
    kept("digest sha256:%2e%2e%2f%2e%2e%2findex.json", "GET /v2/library/app/blobs/sha256:%2e%2e%2f%2e%2e%2findex.json HTTP/1.1\r\n\r\n", 400, "DIGEST_INVALID"),
    kept("digest with a hex of 64 dots", "GET /v2/library/app/blobs/sha256:................................................................ HTTP/1.1\r\n\r\n", 400, "DIGEST_INVALID"),
    kept("digest /etc/passwd as algorithm", "GET /v2/library/app/blobs/%2fetc%2fpasswd:x HTTP/1.1\r\n\r\n", 400, "DIGEST_INVALID"),
    kept("digest with a trailing slash", "GET /v2/library/app/blobs/{blob}/ HTTP/1.1\r\n\r\n", 404, "NAME_UNKNOWN"),
    kept("reference ../../index.json", "GET /v2/library/app/manifests/..%2f..%2findex.json HTTP/1.1\r\n\r\n", 404, "MANIFEST_UNKNOWN"),
    kept("referrers digest ..", "GET /v2/library/app/referrers/sha256:.. HTTP/1.1\r\n\r\n", 400, "DIGEST_INVALID"),
    kept("absolute-form to another host", "GET http://169.254.169.254/latest/meta-data HTTP/1.1\r\n\r\n", 404, "NAME_UNKNOWN"),
    kept("absolute-form file://", "GET file:///etc/passwd HTTP/1.1\r\n\r\n", 404, "NAME_UNKNOWN"),
    kept("target without a leading slash", "GET v2/ HTTP/1.1\r\n\r\n", 404, "NAME_UNKNOWN"),
    kept("target //v2/", "GET //v2/ HTTP/1.1\r\n\r\n", 404, "NAME_UNKNOWN"),
    kept("fragment in the target", "GET /v2/#x HTTP/1.1\r\n\r\n", 404, "NAME_UNKNOWN"),
    // request bodies and smuggling: answered, then closed; nothing after the head is a request
    closed("Transfer-Encoding: chunked with a smuggled request", "GET /v2/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /v2/_catalog HTTP/1.1\r\n\r\n", 200),
    closed("Content-Length with a smuggled request", "GET /v2/ HTTP/1.1\r\nContent-Length: 30\r\n\r\nGET /v2/_catalog HTTP/1.1\r\n\r\n", 200),
    // Issue 11: ambiguous framing is refused (RFC 9112 §6.3), no longer answered.
    closed("two different Content-Lengths", "GET /v2/ HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx", 400),
    closed("Content-Length of 30 digits", "GET /v2/ HTTP/1.1\r\nContent-Length: 999999999999999999999999999999\r\n\r\n", 200),
];

fn fill(server: &Server, text: &str) -> String {
    text.replace("{blob}", &server.big.0)
        .replace("{manifest}", &server.manifest.0)
}

fn check_malformed(server: &Server, case: &Malformed) {
    let name = case.name;
    let request = fill(server, case.request);
    let mut stream = connect(server.addr());
    let _ = stream.write_all(request.as_bytes());
    if !case.close {
        stream
            .write_all(b"GET /v2/ HTTP/1.1\r\nConnection: close\r\n\r\n")
            .expect("send the follow-up");
    }
    let bytes = read_to_close(&mut stream);
    let heads = if case.close { 1 } else { 2 };
    let answers = catch_unwind(|| split_answers(&bytes, &vec![false; heads]))
        .unwrap_or_else(|_| panic!("{name}: {:?}", String::from_utf8_lossy(&bytes)));
    let first = &answers[0];
    assert_eq!(first.status, case.status, "{name}: {}", first.head);
    if let Some(code) = case.code {
        let body = String::from_utf8_lossy(&first.body);
        assert!(
            body.contains(&format!("\"code\":\"{code}\"")),
            "{name}: body {body}"
        );
    }
    for secret in ["imageLayoutVersion", "root:x:0:0", "\"manifests\":[{"] {
        let body = String::from_utf8_lossy(&first.body);
        assert!(
            !body.contains(secret) || name.starts_with("artifactType"),
            "{name}: leaked {secret}"
        );
    }
    if case.close {
        assert!(
            first.head.contains("Connection: close"),
            "{name}: {}",
            first.head
        );
    } else {
        assert_eq!(answers[1].status, 200, "{name}: the request after it");
        assert_eq!(answers[1].body, b"{}", "{name}: the request after it");
    }
}

#[test]
fn malformed_requests_get_a_clear_answer_and_the_server_goes_on() {
    let server = Server::start("malformed");
    run_against(&server, MALFORMED, |c| c.name, check_malformed);
}

// ----------------------------------------------------------------------------------------------
// Absurd and multi-part ranges

/// What a `Range` header must select of the 4 MiB blob.
#[derive(Clone, Copy, Debug)]
enum Want {
    /// 200 and the whole blob.
    Whole,
    /// 206 and bytes `a..=b` (`u64::MAX` for the last byte).
    Span(u64, u64),
    /// 416, `Content-Range: bytes */size`.
    None,
}

struct RangeCase {
    name: &'static str,
    /// The `Range` header lines (all sent).
    ranges: &'static [&'static str],
    want: Want,
}

const LAST: u64 = u64::MAX;

const RANGES: &[RangeCase] = &[
    RangeCase {
        name: "1000 ranges in one header: whole blob",
        ranges: &["@many"],
        want: Want::Whole,
    },
    RangeCase {
        name: "two overlapping ranges: whole blob",
        ranges: &["bytes=0-10,5-15"],
        want: Want::Whole,
    },
    RangeCase {
        name: "the same range twice: whole blob",
        ranges: &["bytes=0-1,0-1"],
        want: Want::Whole,
    },
    RangeCase {
        name: "two unsatisfiable ranges: whole blob",
        ranges: &["bytes=99999999-,88888888-"],
        want: Want::Whole,
    },
    RangeCase {
        name: "empty elements around one range",
        ranges: &["bytes=,,, 0-9 ,,,"],
        want: Want::Span(0, 9),
    },
    RangeCase {
        name: "first-pos of 40 digits: 416",
        ranges: &["bytes=9999999999999999999999999999999999999999-"],
        want: Want::None,
    },
    RangeCase {
        name: "first-pos u64::MAX: 416",
        ranges: &["bytes=18446744073709551615-"],
        want: Want::None,
    },
    RangeCase {
        name: "last-pos of 40 digits is clamped",
        ranges: &["bytes=1-9999999999999999999999999999999999999999"],
        want: Want::Span(1, LAST),
    },
    RangeCase {
        name: "suffix of 40 digits: all of it",
        ranges: &["bytes=-9999999999999999999999999999999999999999"],
        want: Want::Span(0, LAST),
    },
    RangeCase {
        name: "leading zeros: bytes=0000010-0000019",
        ranges: &["bytes=0000010-0000019"],
        want: Want::Span(10, 19),
    },
    RangeCase {
        name: "negative first-pos bytes=--1",
        ranges: &["bytes=--1"],
        want: Want::Whole,
    },
    RangeCase {
        name: "plus sign bytes=+1-2",
        ranges: &["bytes=+1-2"],
        want: Want::Whole,
    },
    RangeCase {
        name: "hex bytes=0x10-0x20",
        ranges: &["bytes=0x10-0x20"],
        want: Want::Whole,
    },
    RangeCase {
        name: "spaces inside a spec bytes=1 - 2",
        ranges: &["bytes=1 - 2"],
        want: Want::Whole,
    },
    RangeCase {
        name: "bytes= (empty set)",
        ranges: &["bytes="],
        want: Want::Whole,
    },
    RangeCase {
        name: "bytes=- (neither end)",
        ranges: &["bytes=-"],
        want: Want::Whole,
    },
    RangeCase {
        name: "unit in capitals BYTES=0-0",
        ranges: &["BYTES=0-0"],
        want: Want::Span(0, 0),
    },
    RangeCase {
        name: "no unit =0-9",
        ranges: &["=0-9"],
        want: Want::Whole,
    },
    RangeCase {
        name: "UTF-8 in the value",
        ranges: &["bytes=0-9\u{e9}"],
        want: Want::Whole,
    },
    RangeCase {
        name: "two Range headers: the first counts",
        ranges: &["bytes=0-0", "bytes=5-5"],
        want: Want::Span(0, 0),
    },
    RangeCase {
        name: "an 8 KiB last-pos of zeros: bytes 0-0",
        ranges: &["@long"],
        want: Want::Span(0, 0),
    },
];

fn check_range(server: &Server, case: &RangeCase) {
    let name = case.name;
    let many: String = (0..1000).map(|i| format!("{i}-{i},")).collect();
    let lines: String = case
        .ranges
        .iter()
        .map(|r| match *r {
            "@many" => format!("Range: bytes={many}\r\n"),
            "@long" => format!("Range: bytes=0-{}\r\n", "0".repeat(8 << 10)),
            r => format!("Range: {r}\r\n"),
        })
        .collect();
    let request = format!(
        "GET {} HTTP/1.1\r\n{lines}Connection: close\r\n\r\n",
        server.blob_target()
    );
    let bytes = exchange(server.addr(), request.as_bytes());
    let answers = split_answers(&bytes, &[false]);
    let answer = &answers[0];
    let blob = &server.big.1;
    let size = blob.len() as u64;
    match case.want {
        Want::Whole => {
            assert_eq!(answer.status, 200, "{name}: {}", answer.head);
            assert!(answer.body == *blob, "{name}: body is not the blob");
        }
        Want::Span(start, end) => {
            let end = end.min(size - 1);
            assert_eq!(answer.status, 206, "{name}: {}", answer.head);
            let content_range = format!("Content-Range: bytes {start}-{end}/{size}\r\n");
            assert!(
                answer.head.contains(&content_range),
                "{name}: {}",
                answer.head
            );
            let part = &blob[start as usize..=end as usize];
            assert!(answer.body == part, "{name}: wrong bytes");
        }
        Want::None => {
            assert_eq!(answer.status, 416, "{name}: {}", answer.head);
            let content_range = format!("Content-Range: bytes */{size}\r\n");
            assert!(
                answer.head.contains(&content_range),
                "{name}: {}",
                answer.head
            );
        }
    }
}

#[test]
fn absurd_and_multi_part_ranges() {
    let server = Server::start("ranges");
    run_against(&server, RANGES, |c| c.name, check_range);
}

// ----------------------------------------------------------------------------------------------
// Pipelined bursts

/// 600 pipelined requests (about 45 KB, several times the 16 KiB head buffer) written in one
/// go while another thread reads: every one is answered, in order, with the right status and
/// body.
#[test]
fn pipelined_burst_of_600_requests_answered_in_order() {
    let server = Server::start("pipeline");
    let blob = server.blob_target();
    let manifest = format!("/v2/library/app/manifests/{}", server.manifest.0);
    let kinds: [(String, u16, bool); 6] = [
        ("GET /v2/ HTTP/1.1\r\n\r\n".to_string(), 200, false),
        (
            format!("GET {manifest} HTTP/1.1\r\nHost: x\r\n\r\n"),
            200,
            false,
        ),
        (format!("HEAD {blob} HTTP/1.1\r\n\r\n"), 200, true),
        (
            format!("GET {blob} HTTP/1.1\r\nRange: bytes=-16\r\n\r\n"),
            206,
            false,
        ),
        (
            "GET /v2/library/nope/tags/list HTTP/1.1\r\n\r\n".to_string(),
            404,
            false,
        ),
        (
            "DELETE /v2/library/app/manifests/1.0 HTTP/1.1\r\n\r\n".to_string(),
            405,
            false,
        ),
    ];
    let count = 600;
    let mut burst = Vec::new();
    let mut expect = Vec::new();
    for i in 0..count {
        let (request, status, head) = &kinds[i % kinds.len()];
        burst.extend_from_slice(request.as_bytes());
        expect.push((*status, *head));
    }
    burst.extend_from_slice(b"GET /v2/ HTTP/1.1\r\nConnection: close\r\n\r\n");
    expect.push((200, false));
    let mut stream = connect(server.addr());
    let mut reader = stream.try_clone().expect("clone");
    let collector = thread::spawn(move || read_to_close(&mut reader));
    stream.write_all(&burst).expect("send the burst");
    let bytes = collector.join().expect("reader");
    let heads: Vec<bool> = expect.iter().map(|(_, head)| *head).collect();
    let answers = split_answers(&bytes, &heads);
    for (i, (answer, (status, _))) in answers.iter().zip(&expect).enumerate() {
        assert_eq!(answer.status, *status, "response {i}: {}", answer.head);
        match i % kinds.len() {
            1 if i < count => assert!(answer.body == server.manifest.1, "response {i}"),
            3 if i < count => {
                let tail = &server.big.1[server.big.1.len() - 16..];
                assert_eq!(answer.body, tail, "response {i}");
            }
            _ => {}
        }
    }
    assert_healthy(&server, "after the burst");
}

/// Pipelined requests followed by garbage: the good ones are answered in order, the garbage
/// gets a 400 and the connection closes; nothing after the garbage is answered.
#[test]
fn pipelined_requests_then_garbage() {
    let server = Server::start("pipeline-garbage");
    let mut burst = Vec::new();
    for _ in 0..50 {
        burst.extend_from_slice(b"GET /v2/ HTTP/1.1\r\n\r\n");
    }
    burst.extend_from_slice(b"\x16\x03\x01 not http\r\n\r\n");
    burst.extend_from_slice(b"GET /v2/_catalog HTTP/1.1\r\n\r\n");
    let bytes = exchange(server.addr(), &burst);
    let answers = split_answers(&bytes, &[false; 51]);
    for (i, answer) in answers.iter().take(50).enumerate() {
        assert_eq!(answer.status, 200, "response {i}");
        assert_eq!(answer.body, b"{}", "response {i}");
    }
    assert_eq!(answers[50].status, 400, "the garbage: {}", answers[50].head);
    assert_healthy(&server, "after pipelined garbage");
}

/// The access log of 8 connections at once, each sending requests with 12 KiB targets (three
/// times a pipe's atomic write size): every line is whole, one request each.
#[test]
fn access_log_lines_stay_whole_under_concurrent_long_requests() {
    let server = Server::start("log-lines");
    let addr = server.addr();
    const CLIENTS: usize = 8;
    const EACH: usize = 20;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            thread::spawn(move || {
                for i in 0..EACH {
                    let filler = char::from(b'a' + client as u8).to_string().repeat(12 << 10);
                    let target = format!("/v2/library/app/tags/list?n={i}&last={filler}");
                    let response = http_get(addr, &target);
                    // A `last` longer than any tag is refused: the request still reaches the log.
                    assert_eq!(response.status, 400, "client {client}, request {i}");
                }
            })
        })
        .collect();
    for client in clients {
        client.join().expect("client thread");
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut lines = Vec::new();
    while lines.len() < CLIENTS * EACH && Instant::now() < deadline {
        lines.extend(server.running.more_stdout());
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        lines.len(),
        CLIENTS * EACH,
        "one access-log line per request"
    );
    for line in &lines {
        let fields: Vec<&str> = line.split(' ').collect();
        let [method, target, status, _bytes, millis] = fields[..] else {
            panic!("not an access-log line: {:.80}...", line);
        };
        let last = target.split_once("&last=").map(|(_, last)| last);
        let whole =
            last.is_some_and(|l| l.len() == 12 << 10 && l.bytes().all(|b| b == l.as_bytes()[0]));
        assert!(
            method == "GET" && whole && status == "400" && millis.ends_with("ms"),
            "{line:.80}"
        );
    }
}
