//! The registry stays available under the attacks of issue 11, each run against the real
//! binary on 127.0.0.1 for a few seconds: slow readers holding hundreds of answers open, clients
//! that use up the descriptor limit, a log nobody reads, and request smuggling. While each
//! runs, a new client's `GET /v2/` is answered 200 within 100 ms (p99 of the probes sent
//! during the attack) and a well-behaved client pulls a blob whole. docs/HARDENING.md lists
//! the rules that make this true.

mod common;

use common::*;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::FromRawFd;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The readiness probe's budget, at the 99th percentile of the probes during an attack.
const P99_LIMIT: Duration = Duration::from_millis(100);
/// How long probes run during each attack, and how often.
const PROBING: Duration = Duration::from_secs(3);
const PROBE_EVERY: Duration = Duration::from_millis(20);

/// The tests of this file each hold hundreds of connections; on two cores, run in parallel,
/// they would measure each other. One at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// A layout whose largest blob has `size` bytes: its target and digest.
struct Served {
    dir: TempDir,
    blob_target: String,
    blob_digest: String,
    manifest_target: String,
    manifest: Vec<u8>,
}

fn layout(label: &str, size: u64) -> Served {
    let dir = TempDir::new(label);
    let options = LayoutOptions {
        big_layer: size,
        ..LayoutOptions::TINY
    };
    let layout = build_layout(dir.path(), &options);
    let big = layout.blobs.iter().max_by_key(|b| b.size).expect("a blob");
    let manifest = &layout.images[0].manifest;
    Served {
        blob_target: format!("/v2/library/app/blobs/{}", big.digest),
        blob_digest: big.digest.clone(),
        manifest_target: format!("/v2/library/app/manifests/{}", manifest.digest),
        manifest: std::fs::read(manifest.path(dir.path())).expect("manifest"),
        dir,
    }
}

/// `GET /v2/` on a new connection: how long the 200 took, or `None` (refused, another
/// status, or no answer within a second).
fn probe(addr: SocketAddr) -> Option<Duration> {
    let started = Instant::now();
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    let request = b"GET /v2/ HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n";
    stream.write_all(request).ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).ok()?;
    answer
        .starts_with(b"HTTP/1.1 200 ")
        .then(|| started.elapsed())
}

/// Probes `addr` for [`PROBING`] and asserts the 99th percentile is under [`P99_LIMIT`]
/// (a failed probe counts as infinitely slow).
fn assert_available(addr: SocketAddr, what: &str) {
    let started = Instant::now();
    let mut took = Vec::new();
    while started.elapsed() < PROBING {
        took.push(probe(addr).unwrap_or(Duration::MAX));
        thread::sleep(PROBE_EVERY);
    }
    took.sort();
    let p99 = took[(took.len() * 99).div_ceil(100) - 1];
    let failed = took.iter().filter(|t| **t == Duration::MAX).count();
    eprintln!(
        "{what}: {} probes, p99 {p99:?}, median {:?}, {failed} failed",
        took.len(),
        took[took.len() / 2]
    );
    assert!(
        p99 < P99_LIMIT,
        "{what}: p99 of GET /v2/ is {p99:?} ({failed} of {} probes failed)",
        took.len()
    );
}

/// A well-behaved client pulls the blob whole.
fn assert_blob_pulled(addr: SocketAddr, served: &Served, what: &str) {
    let response = http_get(addr, &served.blob_target);
    assert_eq!(response.status, 200, "{what}: blob status");
    let digest = format!("sha256:{}", sha256_hex(&response.body));
    assert_eq!(digest, served.blob_digest, "{what}: blob bytes");
}

/// CPU time (user + system, in clock ticks of 10 ms) the process `pid` has used so far.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let after_name = stat.rsplit_once(')').expect("stat format").1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |i: usize| fields[i].parse::<u64>().expect("a number");
    field(11) + field(12) // utime, stime (fields 14 and 15 of the line)
}

/// A connection whose receive buffer is 4 KiB, set before connecting (so the window the
/// server sees is that small), that sends `request`.
fn small_window_client(addr: SocketAddr, request: &[u8]) -> TcpStream {
    let SocketAddr::V4(v4) = addr else {
        panic!("IPv4 only")
    };
    // SAFETY: a new socket, configured and connected here, then owned by the TcpStream.
    let stream = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket");
        let size: libc::c_int = 4096;
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
        let address = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: v4.port().to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(*v4.ip()).to_be(),
            },
            sin_zero: [0; 8],
        };
        let connected = libc::connect(
            fd,
            (&address as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        let stream = TcpStream::from_raw_fd(fd);
        assert_eq!(connected, 0, "connect: {}", std::io::Error::last_os_error());
        stream
    };
    let mut stream = stream;
    stream.write_all(request).expect("send the request");
    stream
}

/// Whether the server has ended the connection: reads what is buffered and finds the end of
/// the stream or a reset within a second.
fn ended_by_server(stream: &mut TcpStream) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let mut buffer = [0u8; 64 << 10];
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(1) {
        match stream.read(&mut buffer) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false
            }
            Err(_) => return true,
        }
    }
    false
}

/// Attack 1, slow readers: 512 clients each `GET` a 16 MiB blob through a 4 KiB receive
/// window and read 4 KiB now and then (every 30 s in the issue; never again here). Before
/// issue 11 they held all 512 connection threads and every probe got 503 for minutes. Now
/// the probe and a full pull go on meanwhile, and each slow reader is cut (reset) once the
/// bytes it acknowledged average under 16 KiB/s after the first 10 s (src/connection.rs).
#[test]
fn issue11_slow_readers_cannot_hold_the_registry() {
    let _turn = one_at_a_time();
    let served = layout("slow-readers", 16 << 20);
    let running = run_serve(served.dir.path());
    let addr = running.addr;
    let request = format!("GET {} HTTP/1.1\r\nHost: slow\r\n\r\n", served.blob_target);
    let attack_started = Instant::now();
    let mut readers: Vec<TcpStream> = (0..512)
        .map(|_| small_window_client(addr, request.as_bytes()))
        .collect();
    let mut first = [0u8; 4096];
    for reader in &mut readers {
        reader.read_exact(&mut first).expect("the first 4 KiB");
    }
    let pull = {
        let target = served.blob_target.clone();
        thread::spawn(move || http_get(addr, &target))
    };
    assert_available(addr, "512 slow readers");
    let response = pull.join().expect("pull");
    assert_eq!(response.status, 200, "pull during the attack");
    assert_eq!(
        format!("sha256:{}", sha256_hex(&response.body)),
        served.blob_digest
    );
    assert_blob_pulled(addr, &served, "512 slow readers");
    // Each reader acknowledged ~10 KiB: all are cut by 10 s + 1 s + a sweep.
    let cut_by = attack_started + Duration::from_secs(15);
    thread::sleep(cut_by.saturating_duration_since(Instant::now()));
    let open = readers
        .iter_mut()
        .map(ended_by_server)
        .filter(|e| !e)
        .count();
    assert_eq!(open, 0, "slow readers still served after 15 s");
    let log = running.more_stdout().join("\n");
    assert!(log.contains("aborted: slower than 16 KiB/s"), "{log:.2000}");
}

/// Attack 2, descriptors: with `ulimit -n 1024` (a common container default), 512 clients
/// request a 32 MiB blob and do not read. Before issue 11 each held a socket and an open
/// file: `accept` failed with EMFILE and the loop spun at 100% of a core, the probe was never
/// answered, and files that exist were answered 404. Now a stalled answer holds no file, the
/// cap follows the limit, and manifests, blobs and probes are served meanwhile.
#[test]
fn issue11_clients_that_do_not_read_cannot_use_up_descriptors() {
    let _turn = one_at_a_time();
    let served = layout("descriptors", 32 << 20);
    let running = start(
        serve_command_with_descriptors(served.dir.path(), 1024),
        START_TIMEOUT,
    );
    let addr = running.addr;
    let request = format!("GET {} HTTP/1.1\r\nHost: stuck\r\n\r\n", served.blob_target);
    let stuck: Vec<TcpStream> = (0..512)
        .map(|_| {
            let mut stream = connect(addr);
            stream.write_all(request.as_bytes()).expect("send");
            stream
        })
        .collect();
    thread::sleep(Duration::from_millis(300));
    let cpu_before = cpu_ticks(running.id());
    let measured = Instant::now();
    assert_available(addr, "512 clients not reading, 1024 descriptors");
    let manifest = http_get(addr, &served.manifest_target);
    assert_eq!(manifest.status, 200, "manifest with 512 stuck clients");
    assert!(manifest.body == served.manifest, "manifest bytes");
    assert_blob_pulled(addr, &served, "512 clients not reading");
    let cpu = (cpu_ticks(running.id()) - cpu_before) * 10;
    let wall = measured.elapsed().as_millis() as u64;
    assert!(
        cpu * 2 < wall,
        "the server used {cpu} ms of CPU in {wall} ms: spinning"
    );
    drop(stuck);
}

/// Descriptors run out inside the server: its descriptor limit is lowered while it runs
/// (`prlimit`) so that exactly one more descriptor can be opened, and one client takes
/// that one. A blob that exists is then answered 503 with a log line (it was 404
/// BLOB_UNKNOWN before issue 11), a second client waits in the listen queue while accepting
/// pauses (before, the accept loop spun at 100% of a core), and is served once the first
/// leaves.
#[test]
fn issue11_descriptor_exhaustion_is_503_and_accept_backs_off() {
    let _turn = one_at_a_time();
    let served = layout("emfile", 1 << 20);
    let running = run_serve(served.dir.path());
    let fds = std::fs::read_dir(format!("/proc/{}/fd", running.id())).expect("fds");
    let open: Vec<u64> = fds
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u64>().ok())
        .collect();
    // A new descriptor takes the lowest free number, and must be under the limit.
    let lowest_free = (0..).find(|n| !open.contains(n)).expect("a free number");
    let limit = libc::rlimit {
        rlim_cur: lowest_free + 1,
        rlim_max: lowest_free + 1,
    };
    // SAFETY: prlimit(2) reads `limit` and writes nothing (null old limit).
    let set = unsafe {
        libc::prlimit(
            running.id() as libc::pid_t,
            libc::RLIMIT_NOFILE,
            &limit,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(set, 0, "prlimit: {}", std::io::Error::last_os_error());
    let addr = running.addr;
    let mut first = connect(addr);
    let request = format!("GET {} HTTP/1.1\r\nHost: first\r\n\r\n", served.blob_target);
    first.write_all(request.as_bytes()).expect("send");
    let mut answer = [0u8; 12];
    first.read_exact(&mut answer).expect("answer");
    assert_eq!(
        &answer, b"HTTP/1.1 503",
        "a blob that exists, no descriptor left"
    );

    let mut second = connect(addr);
    second
        .write_all(b"GET /v2/ HTTP/1.1\r\nHost: second\r\nConnection: close\r\n\r\n")
        .expect("send");
    let cpu_before = cpu_ticks(running.id());
    thread::sleep(Duration::from_secs(1));
    let cpu = (cpu_ticks(running.id()) - cpu_before) * 10;
    assert!(
        cpu < 500,
        "{cpu} ms of CPU in 1 s with accept failing: spinning"
    );
    drop(first);
    let mut answer = Vec::new();
    second.read_to_end(&mut answer).expect("second answer");
    assert!(answer.starts_with(b"HTTP/1.1 200 "), "{answer:?}");
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut log = String::new();
    while !log.contains("No file descriptors available") && Instant::now() < deadline {
        log.push_str(&running.more_stdout().join("\n"));
        thread::sleep(Duration::from_millis(50));
    }
    assert!(log.contains("No file descriptors available"), "log: {log}");
}

/// Attack 3, a stalled log: stdout is a pipe nobody reads (a stuck log collector). Before
/// issue 11, once the pipe was full every request's thread blocked writing its log line and
/// after ~2,450 requests everything was 503. Now 20,000 requests are all answered, the probe
/// goes on, and once stdout is read again the count of dropped lines is printed.
#[test]
fn issue11_a_log_nobody_reads_does_not_stop_the_registry() {
    let _turn = one_at_a_time();
    let served = layout("stalled-log", 1 << 20);
    let mut child = ChildGuard(
        Command::new(injector_binary())
            .arg("serve")
            .arg(served.dir.path())
            .arg("127.0.0.1:0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn"),
    );
    let mut stdout = BufReader::new(child.0.stdout.take().expect("stdout"));
    let addr = listening_address(&mut stdout);
    // Nobody reads stdout from here on. Four keep-alive clients, 5,000 requests each.
    let clients: Vec<_> = (0..4)
        .map(|_| thread::spawn(move || keep_alive_requests(addr, 5000)))
        .collect();
    assert_available(addr, "stdout not read");
    for client in clients {
        let answered = client.join().expect("client");
        assert_eq!(answered, 5000, "requests answered 200 on one connection");
    }
    // Reading again: the lines that fit, then how many were dropped (within 10 s).
    let (found, lines) = std::sync::mpsc::channel();
    thread::spawn(move || {
        for line in stdout.lines() {
            let Ok(line) = line else { return };
            if found.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut count = 0;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no count of dropped lines after {count} lines"));
        if line.contains("access-log lines dropped") {
            eprintln!("{count} lines, then: {line}");
            break;
        }
        count += 1;
    }
    drop(child);
}

/// Reads stdout up to `listening on ADDR` (at most [`START_TIMEOUT`]).
fn listening_address(stdout: &mut impl BufRead) -> SocketAddr {
    let mut line = String::new();
    let started = Instant::now();
    while started.elapsed() < START_TIMEOUT {
        line.clear();
        assert!(
            stdout.read_line(&mut line).expect("stdout") > 0,
            "no listening line"
        );
        if let Some(addr) = line.trim().strip_prefix("listening on ") {
            return addr.parse().expect("address");
        }
    }
    panic!("no listening line in time");
}

/// Sends `count` requests for `/v2/` (with a long query) on one keep-alive connection, one
/// after the other;
/// returns how many were answered 200.
fn keep_alive_requests(addr: SocketAddr, count: usize) -> usize {
    let mut stream = connect(addr);
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    // A 1 KiB query makes each access-log line ~1 KiB: 20,000 of them are ten times the log
    // queue (log::QUEUED_MAX), so lines must be dropped.
    let request = format!(
        "GET /v2/?pad={} HTTP/1.1\r\nHost: log\r\n\r\n",
        "x".repeat(1 << 10)
    );
    let request = request.as_bytes();
    let mut answered = 0;
    let mut buffer = vec![0u8; 4096];
    for _ in 0..count {
        if stream.write_all(request).is_err() {
            break;
        }
        // Every answer to /v2/ has the same length: read up to the end of its body, `{}`.
        let mut got = Vec::new();
        while !got.ends_with(b"\r\n\r\n{}") {
            match stream.read(&mut buffer) {
                Ok(n) if n > 0 => got.extend_from_slice(&buffer[..n]),
                _ => return answered,
            }
        }
        if got.starts_with(b"HTTP/1.1 200 ") {
            answered += 1;
        }
    }
    answered
}

/// Attack 4, request smuggling (RFC 9112 §6.3): a request whose body length two servers could
/// read differently is answered 400 and the connection closed, so nothing after it is ever
/// taken for a request. Before issue 11 the first `Content-Length` was believed and the
/// "body" answered as a second request on the kept connection.
#[test]
fn issue11_ambiguous_request_framing_is_refused() {
    let _turn = one_at_a_time();
    let served = layout("smuggling", 1 << 10);
    let running = run_serve(served.dir.path());
    let smuggled = "GET /v2/_catalog HTTP/1.1\r\nHost: x\r\nX-Pad: 123456789\r\n\r\n";
    assert_eq!(smuggled.len(), 56);
    let cases: &[(&str, String)] = &[
        (
            "two Content-Lengths, 0 and 56",
            format!("GET /v2/ HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 56\r\n\r\n{smuggled}"),
        ),
        (
            "two equal Content-Lengths",
            format!("GET /v2/ HTTP/1.1\r\nHost: x\r\nContent-Length: 56\r\nContent-Length: 56\r\n\r\n{smuggled}"),
        ),
        (
            "a Content-Length list",
            format!("GET /v2/ HTTP/1.1\r\nHost: x\r\nContent-Length: 0, 56\r\n\r\n{smuggled}"),
        ),
        (
            "Content-Length and Transfer-Encoding",
            format!("GET /v2/ HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n{smuggled}"),
        ),
        (
            "a transfer coding not ending in chunked",
            format!("GET /v2/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n{smuggled}"),
        ),
        (
            "a Content-Length that is not a number",
            format!("GET /v2/ HTTP/1.1\r\nHost: x\r\nContent-Length: +56\r\n\r\n{smuggled}"),
        ),
    ];
    for (name, request) in cases {
        let mut stream = connect(running.addr);
        stream.write_all(request.as_bytes()).expect("send");
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 400 "), "{name}: {text}");
        assert_eq!(text.matches("HTTP/1.1 ").count(), 1, "{name}: {text}");
        assert!(
            !text.contains("repositories"),
            "{name}: smuggled request answered"
        );
    }
    assert_eq!(http_get(running.addr, "/v2/").status, 200);
}
