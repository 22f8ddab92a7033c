//! A closed-loop HTTP/1.1 load generator for `bench/run.sh`, like `wrk -t1` but able to send
//! HEAD (wrk 4.1 waits for a HEAD response's body; `ab -k` speaks HTTP/1.0 keep-alive, which
//! needs the server to echo `Connection: keep-alive`), with exact percentiles and the peak RSS
//! of the server's processes sampled during the run.
//!
//! One thread, one epoll set, `--conns` keep-alive connections, each sending its next request
//! as soon as the previous response is complete. Responses are read to the end (bodies are
//! counted and discarded); every status other than `--expect` counts as a bad response.
//!
//!     loadgen --url http://127.0.0.1:PORT/path [--method GET|HEAD] [-H 'Name: value']...
//!             [--conns N] [--duration SECONDS] [--warmup SECONDS] [--expect STATUS]
//!             [--range-size BYTES --range-total BYTES] [--pids PID,PID...]
//!
//! Counts what happens between the end of --warmup and the end of --duration: requests completed
//! in that window, body bytes received in it, and the CPU time and context switches of --pids in
//! it; requests still in flight at the end are drained (for at most 5 s) but not counted.
//!
//! Prints one JSON line: requests, bad, errors, seconds, rps, body_mbps (10^6 bytes/s of body),
//! p50_us, p90_us, p99_us, max_us, rss_kib (peak sum of VmRSS of --pids, 0 without), cpu_s and
//! cpu_us_per_req (user + system time of --pids), switches_per_req (context switches of their
//! threads).

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

#[repr(C, packed)]
#[derive(Clone, Copy)]
struct EpollEvent {
    events: u32,
    data: u64,
}

extern "C" {
    fn epoll_create1(flags: i32) -> i32;
    fn epoll_ctl(epfd: i32, op: i32, fd: i32, event: *mut EpollEvent) -> i32;
    fn epoll_wait(epfd: i32, events: *mut EpollEvent, max: i32, timeout: i32) -> i32;
    fn sysconf(name: i32) -> i64;
}
const SC_CLK_TCK: i32 = 2;
const EPOLL_CTL_ADD: i32 = 1;
const EPOLL_CTL_DEL: i32 = 2;
const EPOLLIN: u32 = 1;

struct Options {
    host: String,
    path: String,
    method: String,
    headers: Vec<String>,
    conns: usize,
    duration: f64,
    warmup: f64,
    expect: u16,
    range: Option<(u64, u64)>,
    pids: Vec<u32>,
}

fn usage(message: &str) -> ! {
    eprintln!("loadgen: {message}");
    std::process::exit(2)
}

fn parse_options() -> Options {
    let mut o = Options {
        host: String::new(),
        path: String::new(),
        method: "GET".into(),
        headers: Vec::new(),
        conns: 1,
        duration: 3.0,
        warmup: 0.3,
        expect: 200,
        range: None,
        pids: Vec::new(),
    };
    let mut range_size = None;
    let mut range_total = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--url" => {
                let url = value();
                let rest = url.strip_prefix("http://").unwrap_or_else(|| usage("http:// URLs only"));
                let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
                o.host = host.to_string();
                o.path = if path.is_empty() { "/".into() } else { path.to_string() };
            }
            "--method" => o.method = value(),
            "-H" | "--header" => o.headers.push(value()),
            "--conns" => o.conns = value().parse().unwrap_or_else(|_| usage("bad --conns")),
            "--duration" => o.duration = value().parse().unwrap_or_else(|_| usage("bad --duration")),
            "--warmup" => o.warmup = value().parse().unwrap_or_else(|_| usage("bad --warmup")),
            "--expect" => o.expect = value().parse().unwrap_or_else(|_| usage("bad --expect")),
            "--range-size" => range_size = Some(value().parse().unwrap_or_else(|_| usage("bad --range-size"))),
            "--range-total" => range_total = Some(value().parse().unwrap_or_else(|_| usage("bad --range-total"))),
            "--pids" => {
                o.pids = value()
                    .split(',')
                    .filter(|p| !p.is_empty())
                    .map(|p| p.parse().unwrap_or_else(|_| usage("bad --pids")))
                    .collect()
            }
            _ => usage(&format!("unknown argument {flag}")),
        }
    }
    if o.host.is_empty() {
        usage("--url is required");
    }
    if let (Some(size), Some(total)) = (range_size, range_total) {
        if size == 0 || size > total {
            usage("--range-size must be in 1..=--range-total");
        }
        o.range = Some((size, total));
    }
    if !(o.duration > 0.0 && o.duration <= 600.0 && o.conns >= 1 && o.conns <= 1024) {
        usage("--duration must be in (0, 600] and --conns in [1, 1024]");
    }
    o
}

/// The request for the `n`-th request overall (Range requests walk the blob slice by slice).
fn request(o: &Options, n: u64) -> Vec<u8> {
    let mut r = format!("{} {} HTTP/1.1\r\nHost: {}\r\n", o.method, o.path, o.host);
    for h in &o.headers {
        r.push_str(h);
        r.push_str("\r\n");
    }
    if let Some((size, total)) = o.range {
        let slices = total / size;
        let start = (n % slices) * size;
        r.push_str(&format!("Range: bytes={}-{}\r\n", start, start + size - 1));
    }
    r.push_str("\r\n");
    r.into_bytes()
}

enum State {
    Head,
    Body { remaining: u64 },
}

struct Conn {
    stream: TcpStream,
    head: Vec<u8>,
    state: State,
    sent_at: Instant,
    status: u16,
    close_after: bool,
    body: u64,
}

struct Head {
    status: u16,
    length: u64,
    close: bool,
    used: usize,
}

/// Parses a response head if `buf` holds all of it.
fn parse_head(buf: &[u8], is_head: bool) -> Option<Result<Head, String>> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let text = String::from_utf8_lossy(&buf[..end]);
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = match status_line.split(' ').nth(1).and_then(|s| s.parse().ok()) {
        Some(s) => s,
        None => return Some(Err(format!("bad status line {status_line:?}"))),
    };
    let mut length = None;
    let mut close = status_line.starts_with("HTTP/1.0");
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse::<u64>().ok();
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Some(Err("chunked bodies are not supported".into()));
        } else if name.eq_ignore_ascii_case("connection") {
            if value.eq_ignore_ascii_case("close") {
                close = true;
            } else if value.eq_ignore_ascii_case("keep-alive") {
                close = false;
            }
        }
    }
    let length = if is_head || status == 304 || status == 204 {
        0
    } else {
        match length {
            Some(l) => l,
            None => return Some(Err("no Content-Length".into())),
        }
    };
    Some(Ok(Head { status, length, close, used: end }))
}

fn connect(o: &Options, epfd: i32, token: u64) -> io::Result<TcpStream> {
    let stream = TcpStream::connect(&o.host)?;
    stream.set_nodelay(true)?;
    stream.set_nonblocking(true)?;
    let mut ev = EpollEvent { events: EPOLLIN, data: token };
    if unsafe { epoll_ctl(epfd, EPOLL_CTL_ADD, stream.as_raw_fd(), &mut ev) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(stream)
}

fn send(stream: &mut TcpStream, bytes: &[u8]) -> io::Result<()> {
    let mut done = 0;
    let start = Instant::now();
    while done < bytes.len() {
        match stream.write(&bytes[done..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if start.elapsed() > Duration::from_secs(5) {
                    return Err(e);
                }
                std::thread::yield_now();
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn rss_kib(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
        .filter_map(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .sum()
}

/// User plus system CPU time of the processes `pids` (every thread, live or exited), in seconds.
fn cpu_seconds(pids: &[u32]) -> f64 {
    let ticks_per_second = unsafe { sysconf(SC_CLK_TCK) }.max(1) as f64;
    let ticks: u64 = pids
        .iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .filter_map(|s| {
            // after the command in parentheses: state is field 3, utime 14, stime 15
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .sum();
    ticks as f64 / ticks_per_second
}

/// Context switches (voluntary and not) of every live thread of the processes `pids`, by
/// thread: a window counts, for each thread alive at its end, the switches since its start
/// (threads that exit within the window, or were exiting at its start, do not count).
fn context_switches(pids: &[u32]) -> HashMap<String, u64> {
    let mut by_thread = HashMap::new();
    for pid in pids {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { continue };
        for task in tasks.flatten() {
            let Ok(status) = std::fs::read_to_string(task.path().join("status")) else { continue };
            let count = status
                .lines()
                .filter(|l| l.starts_with("voluntary_ctxt_switches:") || l.starts_with("nonvoluntary_ctxt_switches:"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>();
            by_thread.insert(format!("{pid}/{}", task.file_name().to_string_lossy()), count);
        }
    }
    by_thread
}

fn main() {
    let o = parse_options();
    let is_head = o.method.eq_ignore_ascii_case("HEAD");
    let epfd = unsafe { epoll_create1(0) };
    if epfd < 0 {
        usage("epoll_create1 failed");
    }
    let mut conns: HashMap<u64, Conn> = HashMap::new();
    let mut next_token = 0u64;
    let mut issued = 0u64;
    let mut errors = 0u64;
    let mut bad = 0u64;
    let mut first_error = String::new();
    // (completion time since start, latency, body bytes) of every completed request
    let mut records: Vec<(Duration, Duration, u64)> = Vec::with_capacity(1 << 20);
    let mut scratch = vec![0u8; 256 << 10];

    let start = Instant::now();
    let stop_at = start + Duration::from_secs_f64(o.warmup + o.duration);
    // after the end, requests in flight are drained (not counted) for at most 5 s
    let hard_stop = stop_at + Duration::from_secs(5);
    for _ in 0..o.conns {
        match connect(&o, epfd, next_token) {
            Ok(mut stream) => {
                let req = request(&o, issued);
                issued += 1;
                let sent_at = Instant::now();
                if send(&mut stream, &req).is_err() {
                    errors += 1;
                    continue;
                }
                conns.insert(next_token, Conn { stream, head: Vec::with_capacity(1024), state: State::Head, sent_at, status: 0, close_after: false, body: 0 });
                next_token += 1;
            }
            Err(e) => {
                errors += 1;
                if first_error.is_empty() {
                    first_error = format!("connect: {e}");
                }
            }
        }
    }
    let mut max_rss = rss_kib(&o.pids);
    let warm_at = start + Duration::from_secs_f64(o.warmup);
    // (when, server CPU seconds, server context switches) at the start and the end of the window
    let mut window_start: Option<(Instant, f64, HashMap<String, u64>)> = None;
    let mut window_end: Option<(Instant, f64, HashMap<String, u64>)> = None;
    let mut window_bytes = 0u64;
    let sample = |pids: &[u32]| (Instant::now(), cpu_seconds(pids), context_switches(pids));
    let mut next_sample = Instant::now() + Duration::from_millis(20);
    let mut events = vec![EpollEvent { events: 0, data: 0 }; 1024];

    while !conns.is_empty() {
        let now = Instant::now();
        if now > hard_stop {
            break;
        }
        if window_start.is_none() && now >= warm_at {
            window_start = Some(sample(&o.pids));
        }
        if window_end.is_none() && now >= stop_at {
            window_end = Some(sample(&o.pids));
        }
        if !o.pids.is_empty() && now >= next_sample && window_end.is_none() {
            max_rss = max_rss.max(rss_kib(&o.pids));
            next_sample = now + Duration::from_millis(20);
        }
        let wait_ms = if window_end.is_none() {
            (stop_at.saturating_duration_since(now).as_millis() as i32 + 1).min(10)
        } else {
            10
        };
        let n = unsafe { epoll_wait(epfd, events.as_mut_ptr(), events.len() as i32, wait_ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            usage(&format!("epoll_wait: {e}"));
        }
        for i in 0..n as usize {
            let token = events[i].data;
            let mut finished = false; // the connection is done (error, close, or past the end)
            let mut reconnect = false;
            {
                let Some(c) = conns.get_mut(&token) else { continue };
                'read: loop {
                    let buf: &mut [u8] = match c.state {
                        State::Head => &mut scratch[..16 << 10],
                        State::Body { remaining } => {
                            let len = remaining.min(scratch.len() as u64) as usize;
                            &mut scratch[..len.max(1)]
                        }
                    };
                    let got = match c.stream.read(buf) {
                        Ok(0) => {
                            errors += 1;
                            if first_error.is_empty() {
                                first_error = "connection closed by the server mid-response".into();
                            }
                            finished = true;
                            reconnect = Instant::now() < stop_at;
                            break 'read;
                        }
                        Ok(n) => n,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break 'read,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => {
                            errors += 1;
                            if first_error.is_empty() {
                                first_error = format!("read: {e}");
                            }
                            finished = true;
                            reconnect = Instant::now() < stop_at;
                            break 'read;
                        }
                    };
                    let mut complete = false;
                    match c.state {
                        State::Head => {
                            c.head.extend_from_slice(&scratch[..got]);
                            match parse_head(&c.head, is_head) {
                                None => {
                                    if c.head.len() > 64 << 10 {
                                        errors += 1;
                                        finished = true;
                                        break 'read;
                                    }
                                }
                                Some(Err(e)) => {
                                    errors += 1;
                                    if first_error.is_empty() {
                                        first_error = e;
                                    }
                                    finished = true;
                                    break 'read;
                                }
                                Some(Ok(h)) => {
                                    let extra = (c.head.len() - h.used) as u64;
                                    c.status = h.status;
                                    c.close_after = h.close;
                                    c.head.clear();
                                    if extra > h.length {
                                        errors += 1;
                                        if first_error.is_empty() {
                                            first_error = "more bytes than the response".into();
                                        }
                                        finished = true;
                                        break 'read;
                                    }
                                    c.body = extra;
                                    let t = Instant::now();
                                    if t >= warm_at && t < stop_at {
                                        window_bytes += extra;
                                    }
                                    let remaining = h.length - extra;
                                    if remaining == 0 {
                                        complete = true;
                                    } else {
                                        c.state = State::Body { remaining };
                                    }
                                }
                            }
                        }
                        State::Body { remaining } => {
                            let got = got as u64;
                            c.body += got;
                            let t = Instant::now();
                            if t >= warm_at && t < stop_at {
                                window_bytes += got;
                            }
                            if got >= remaining {
                                complete = true;
                            } else {
                                c.state = State::Body { remaining: remaining - got };
                            }
                        }
                    }
                    if complete {
                        let done = Instant::now();
                        if done >= warm_at && done < stop_at {
                            records.push((done - start, done - c.sent_at, c.body));
                        }
                        if c.status != o.expect {
                            bad += 1;
                            if first_error.is_empty() {
                                first_error = format!("status {}", c.status);
                            }
                        }
                        c.state = State::Head;
                        c.body = 0;
                        if done >= stop_at {
                            finished = true;
                            break 'read;
                        }
                        if c.close_after {
                            finished = true;
                            reconnect = true;
                            break 'read;
                        }
                        let req = request(&o, issued);
                        issued += 1;
                        c.sent_at = Instant::now();
                        if let Err(e) = send(&mut c.stream, &req) {
                            errors += 1;
                            if first_error.is_empty() {
                                first_error = format!("write: {e}");
                            }
                            finished = true;
                            reconnect = true;
                            break 'read;
                        }
                    }
                }
            }
            if finished {
                if let Some(c) = conns.remove(&token) {
                    let mut ev = EpollEvent { events: 0, data: 0 };
                    unsafe { epoll_ctl(epfd, EPOLL_CTL_DEL, c.stream.as_raw_fd(), &mut ev) };
                }
                if reconnect && Instant::now() < stop_at {
                    next_token += 1;
                    match connect(&o, epfd, next_token) {
                        Ok(mut stream) => {
                            let req = request(&o, issued);
                            issued += 1;
                            let sent_at = Instant::now();
                            if send(&mut stream, &req).is_ok() {
                                conns.insert(next_token, Conn { stream, head: Vec::with_capacity(1024), state: State::Head, sent_at, status: 0, close_after: false, body: 0 });
                            } else {
                                errors += 1;
                            }
                        }
                        Err(_) => errors += 1,
                    }
                }
            }
        }
    }
    let first = window_start.unwrap_or_else(|| sample(&o.pids));
    let last = window_end.unwrap_or_else(|| sample(&o.pids));
    let cpu = last.1 - first.1;
    let switches: u64 = last
        .2
        .iter()
        .map(|(tid, end)| end.saturating_sub(first.2.get(tid).copied().unwrap_or(0)))
        .sum();
    let kept: Vec<&(Duration, Duration, u64)> = records.iter().collect();
    let seconds = last.0.saturating_duration_since(first.0).as_secs_f64().max(1e-9);
    let mut lat: Vec<u64> = kept.iter().map(|r| r.1.as_nanos() as u64).collect();
    lat.sort_unstable();
    let pct = |p: f64| -> f64 {
        if lat.is_empty() {
            return 0.0;
        }
        let i = ((p / 100.0) * lat.len() as f64).ceil() as usize;
        lat[i.clamp(1, lat.len()) - 1] as f64 / 1000.0
    };
    let body = window_bytes;
    println!(
        "{{\"requests\":{},\"bad\":{},\"errors\":{},\"seconds\":{:.3},\"rps\":{:.1},\"body_mbps\":{:.2},\"p50_us\":{:.1},\"p90_us\":{:.1},\"p99_us\":{:.1},\"max_us\":{:.1},\"rss_kib\":{},\"cpu_s\":{:.3},\"cpu_us_per_req\":{:.2},\"switches_per_req\":{:.2},\"switches\":{},\"first_error\":{:?}}}",
        kept.len(),
        bad,
        errors,
        seconds,
        kept.len() as f64 / seconds,
        body as f64 / seconds / 1e6,
        pct(50.0),
        pct(90.0),
        pct(99.0),
        pct(100.0),
        max_rss,
        cpu,
        if kept.is_empty() { 0.0 } else { cpu * 1e6 / kept.len() as f64 },
        if kept.is_empty() { 0.0 } else { switches as f64 / kept.len() as f64 },
        switches,
        first_error
    );
    if (kept.is_empty() && window_bytes == 0) || bad > 0 || errors > 0 {
        std::process::exit(1);
    }
}
