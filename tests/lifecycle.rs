//! The server's life: SIGTERM and SIGINT stop it cleanly (after letting a transfer in flight
//! finish), a signal during unpack leaves nothing behind, connections over the cap get a 503
//! while the server keeps working, a burst of connections is queued, not dropped, and a
//! server started with its stdout closed never writes its access log into a connection.

mod common;

use common::*;
use sha2::{Digest as _, Sha256};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} {pid}");
}

/// Waits up to `limit` for the server to exit; its exit code, or a panic.
fn exit_code_within(running: &mut Running, limit: Duration) -> Option<i32> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = running.try_wait() {
            return status.code();
        }
        thread::sleep(Duration::from_millis(20));
    }
    panic!("still running {limit:?} after the signal");
}

#[test]
fn sigterm_and_sigint_when_idle_exit_0_at_once() {
    for name in ["TERM", "INT"] {
        let dir = TempDir::new("idle-signal");
        build_layout(dir.path(), &LayoutOptions::TINY);
        let mut running = run_serve(dir.path());
        assert_eq!(http_get(running.addr, "/v2/").status, 200, "SIG{name}");
        signal(running.id(), name);
        let code = exit_code_within(&mut running, Duration::from_secs(2));
        assert_eq!(code, Some(0), "SIG{name}: exit code");
    }
}

#[test]
fn sigterm_lets_a_blob_transfer_in_flight_finish_then_exits_0() {
    let dir = TempDir::new("transfer-signal");
    let options = LayoutOptions {
        big_layer: 64 << 20,
        ..LayoutOptions::TINY
    };
    let layout = build_layout(dir.path(), &options);
    let big = layout
        .blobs
        .iter()
        .max_by_key(|b| b.size)
        .expect("a blob")
        .clone();
    let mut running = run_serve(dir.path());
    let mut stream = TcpStream::connect(running.addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let request = format!(
        "GET /v2/library/app/blobs/{} HTTP/1.1\r\nHost: x\r\n\r\n",
        big.digest
    );
    stream.write_all(request.as_bytes()).expect("send");
    // Read the head and a little of the body, so the transfer is under way, then signal.
    let mut first = vec![0u8; 64 << 10];
    let n = stream.read(&mut first).expect("first bytes");
    assert!(n > 0, "no response started");
    signal(running.id(), "TERM");
    thread::sleep(Duration::from_millis(200));
    assert!(
        TcpStream::connect(running.addr)
            .and_then(|mut s| {
                s.set_read_timeout(Some(Duration::from_secs(2)))?;
                s.write_all(b"GET /v2/ HTTP/1.1\r\n\r\n")?;
                let mut buf = [0u8; 16];
                s.read(&mut buf)
            })
            .map_or(true, |n| n == 0),
        "a new request was answered after SIGTERM"
    );
    let mut response = first[..n].to_vec();
    stream.read_to_end(&mut response).expect("rest of the blob");
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of head")
        + 4;
    let body = &response[split..];
    assert_eq!(body.len() as u64, big.size, "whole blob received");
    let digest = format!("sha256:{}", hex(&Sha256::digest(body)));
    assert_eq!(digest, big.digest, "blob intact");
    let code = exit_code_within(&mut running, Duration::from_secs(7));
    assert_eq!(code, Some(0), "exit code after the transfer");
}

#[test]
fn sigterm_during_unpack_removes_staging_and_fails_cleanly() {
    let f = TempDir::new("unpack-signal");
    let (src, init, seed) = (f.join("src"), f.join("init"), f.join("seed"));
    let options = LayoutOptions {
        big_layer: 400 << 20,
        ..LayoutOptions::TINY
    };
    build_layout(&src, &options);
    std::fs::create_dir_all(&init).expect("init dir");
    let chunks = HashingWriter::new(ChunkWriter::new(&init, 786_432, chunk_name));
    let (chunks, checksum, _) = tar_gz_into(&src, chunks, 0, &TarOptions::PLAIN).finish();
    chunks.finish();
    std::fs::create_dir_all(&seed).expect("seed dir");
    let mut child = ChildGuard(
        unpack_command(&checksum, &init, &seed)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn"),
    );
    let mut stdout = BufReader::new(child.0.stdout.take().expect("stdout"));
    let mut first = String::new();
    stdout.read_line(&mut first).expect("first line");
    assert!(first.starts_with("found "), "first line: {first:?}");
    thread::sleep(Duration::from_millis(100));
    signal(child.0.id(), "TERM");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("try_wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "still unpacking after SIGTERM");
        thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child
        .0
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).expect("read stdout");
    assert!(
        !rest.contains("listening on"),
        "unpack finished before the signal: make the payload bigger\n{rest}"
    );
    assert_eq!(status.code(), Some(1), "exit code; stderr {stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("stopped by SIGTERM"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(&seed).expect("seed").collect();
    assert!(left.is_empty(), "seed dir not empty: {left:?}");
}

#[test]
fn connections_over_the_cap_get_503_and_the_server_recovers() {
    let dir = TempDir::new("cap");
    build_layout(dir.path(), &LayoutOptions::TINY);
    // The cap follows the descriptor limit (src/connections.rs): 512 here.
    let running = start(
        serve_command_with_descriptors(dir.path(), descriptors_for_cap(512)),
        START_TIMEOUT,
    );
    let idle: Vec<TcpStream> = (0..512)
        .map(|_| TcpStream::connect(running.addr).expect("connect"))
        .collect();
    thread::sleep(Duration::from_millis(500));
    let over = http_get(running.addr, "/v2/");
    assert_eq!(over.status, 503, "the 513th connection");
    drop(idle);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let status = http_get(running.addr, "/v2/").status;
        if status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still {status} after the idle clients left"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

/// 400 clients connecting at once, as every node's container runtime pulling at the same time
/// would: the listen queue holds them all (std's holds 128; the rest would wait for the
/// kernel's retry, a second or more), so every one has its answer to `GET /v2/` within a
/// second.
#[test]
fn a_burst_of_400_connections_is_answered_without_waiting_for_retries() {
    let dir = TempDir::new("burst");
    build_layout(dir.path(), &LayoutOptions::TINY);
    let running = run_serve(dir.path());
    let started = Instant::now();
    let mut streams: Vec<TcpStream> = (0..400)
        .map(|_| TcpStream::connect(running.addr).expect("connect"))
        .collect();
    for stream in &mut streams {
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        stream
            .write_all(b"GET /v2/ HTTP/1.1\r\nHost: burst\r\nConnection: close\r\n\r\n")
            .expect("send");
    }
    for (i, mut stream) in streams.into_iter().enumerate() {
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).expect("read");
        assert!(answer.starts_with(b"HTTP/1.1 200 "), "client {i}");
    }
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1), "400 clients took {took:?}");
}

/// Started with descriptor 1 closed (`zarf-injector ... >&-`), the server must not let a file
/// or socket take descriptor 1: its output lines would be written into it (the listening
/// socket, a connection, or, while unpacking, a file of the seed). std's runtime opens
/// /dev/null there; the binary starts without it, so `sys::ensure_standard_fds` does.
#[test]
fn with_stdout_closed_descriptor_1_is_dev_null_and_the_server_answers() {
    use std::os::unix::process::CommandExt;
    let dir = TempDir::new("stdout-closed");
    build_layout(dir.path(), &LayoutOptions::TINY);
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let address = format!("127.0.0.1:{port}");
    let mut command = Command::new(injector_binary());
    command
        .arg("serve")
        .arg(dir.path())
        .arg(&address)
        .stdin(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: only `close`, which is async-signal-safe, runs between fork and exec.
    unsafe {
        command.pre_exec(|| {
            libc::close(1);
            Ok(())
        });
    }
    let child = ChildGuard(command.spawn().unwrap());
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut stream = loop {
        match TcpStream::connect(&address) {
            Ok(stream) => break stream,
            Err(_) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("the server did not listen on {address}: {e}"),
        }
    };
    let stdout = std::fs::read_link(format!("/proc/{}/fd/1", child.0.id()));
    assert_eq!(
        stdout.ok(),
        Some("/dev/null".into()),
        "what descriptor 1 is"
    );
    stream
        .write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.ends_with("\r\n\r\n{}"), "{answer:?}");
}

/// `[::1]:0` listens on IPv6 loopback, prints the port the kernel chose in RFC 5952 form and
/// answers there; an address already in use is refused with the address named and exit 1.
#[test]
fn listens_on_ipv6_and_refuses_an_address_in_use() {
    let dir = TempDir::new("ipv6");
    build_layout(dir.path(), &LayoutOptions::TINY);
    let mut command = Command::new(injector_binary());
    command.arg("serve").arg(dir.path()).arg("[::1]:0");
    let running = start(command, Duration::from_secs(10));
    assert!(
        running.addr.is_ipv6() && running.addr.ip().is_loopback() && running.addr.port() != 0,
        "{:?}",
        running.stdout
    );
    let mut stream = TcpStream::connect(running.addr).unwrap();
    stream
        .write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");

    let taken = format!("[::1]:{}", running.addr.port());
    let mut second = Command::new(injector_binary());
    second.arg("serve").arg(dir.path()).arg(&taken);
    let exit = match start_or_exit(second, Duration::from_secs(10)) {
        Ok(_) => panic!("a second server listened on {taken}"),
        Err(exit) => exit,
    };
    assert_eq!(exit.status.code(), Some(1), "{exit:#?}");
    assert!(
        exit.stderr.contains("cannot listen on this address")
            && exit.stderr.contains(&taken)
            && exit.stderr.contains("Address in use"),
        "{exit:#?}"
    );
}
