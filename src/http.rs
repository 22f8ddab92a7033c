//! A small HTTP/1.1 server on std's blocking sockets: one thread per connection, keep-alive
//! and pipelining, limits on the request head and on time, a cap on connections
//! ([`crate::connections`]), and a graceful stop on SIGTERM/SIGINT.
//!
//! An async runtime would cost hundreds of kilobytes; a registry seeding a node serves a
//! handful of clients. Requests are parsed by `httparse`; the registry is a plain function
//! from [`Request`] to [`Response`], so it is testable without sockets. File bodies go out
//! with `sendfile` ([`crate::sys`]), and HEAD gets the same head as GET without the body.
//!
//! Anything that is not HTTP (a TLS ClientHello from a client probing for https, random
//! bytes) gets an `HTTP/1.1 400` status line before the close: docker, crane and containerd
//! fall back to plain HTTP only on such an answer.

use crate::connections::{Connections, MAX_CONNECTIONS};
use crate::error::{Error, Failure};
use crate::line::Line;
use crate::sys;
use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

/// The largest request head (request line and headers) accepted; larger gets 431.
pub const MAX_HEAD: usize = 16 << 10;
/// The most headers accepted in one request; more gets 431.
const MAX_HEADERS: usize = 64;
/// How long a connection may wait before sending a request.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a client may take to send a whole request head once it has started.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a stalled write may block.
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long requests in flight may run on after SIGTERM/SIGINT.
const GRACE: Duration = Duration::from_secs(5);

/// A parsed request head.
#[derive(Debug)]
pub struct Request {
    /// The method, e.g. `GET`.
    pub method: String,
    /// The request target, e.g. `/v2/library/registry/manifests/2.8.2`.
    pub target: String,
    /// Header names (lowercase) and values, in order.
    pub headers: Vec<(String, String)>,
    /// Whether the client asked for HTTP/1.0 (no keep-alive unless asked for).
    http10: bool,
}

impl Request {
    /// The first value of the header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The items of the comma-separated list in every header line named `name` (lowercase),
    /// trimmed, empty ones included: several lines are one list (RFC 9110 §5.3). One function
    /// for every list header keeps one copy of the splitting code in the binary.
    pub fn header_list(&self, name: &str) -> Vec<&str> {
        let mut items = Vec::new();
        for (_, value) in self.headers.iter().filter(|(n, _)| n == name) {
            for item in value.split(',') {
                items.push(trim_ows(item));
            }
        }
        items
    }

    /// Whether the connection ends after this request: asked for, HTTP/1.0 without
    /// keep-alive, or a request body we do not read.
    fn ends_connection(&self) -> bool {
        let tokens = self.header_list("connection");
        let has_token = |token: &str| tokens.iter().any(|t| t.eq_ignore_ascii_case(token));
        let has_body = self.header("transfer-encoding").is_some()
            || self.header("content-length").is_some_and(|v| v != "0");
        has_token("close") || (self.http10 && !has_token("keep-alive")) || has_body
    }
}

/// A response body.
#[derive(Debug)]
pub enum Body {
    /// Bytes in memory.
    Bytes(Vec<u8>),
    /// `len` bytes of `file` from `offset`, sent with `sendfile`.
    File {
        /// The open file.
        file: File,
        /// Where to start.
        offset: u64,
        /// How many bytes.
        len: u64,
    },
}

impl Body {
    fn len(&self) -> u64 {
        match self {
            Body::Bytes(bytes) => bytes.len() as u64,
            Body::File { len, .. } => *len,
        }
    }
}

/// A response: status, headers (Content-Length and Connection are added by the writer), body.
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header names and values.
    pub headers: Vec<(&'static str, Cow<'static, str>)>,
    /// The body; for HEAD its length is announced and nothing is sent.
    pub body: Body,
}

/// Binds a listening socket, with a queue of [`MAX_CONNECTIONS`] connections not accepted yet.
pub fn bind(address: SocketAddr) -> Result<TcpListener, Failure> {
    let listener = TcpListener::bind(address).map_err(|e| {
        let mut text = Line::default();
        text.socket_address(address);
        Failure::io(Error::Bind, Path::new(text.as_str()), e)
    })?;
    // A burst of clients (every node's container runtime pulling at once) queues in the
    // kernel until the accept loop takes it.
    sys::set_backlog(&listener, MAX_CONNECTIONS);
    Ok(listener)
}

/// A request handler shared by every connection's thread.
pub type Handler = dyn Fn(&Request) -> Response + Sync;

/// Accepts connections until SIGTERM/SIGINT, answering each request with `handler`; then
/// lets requests in flight finish for a grace period and returns. The handler and the
/// counters live as long as the process (`'static`, leaked): no reference counting and no
/// drop code is needed for them.
pub fn serve(listener: TcpListener, handler: &'static Handler) {
    sys::wake_on_termination(&listener);
    let connections: &'static Connections = Box::leak(Box::default());
    for stream in listener.incoming() {
        if sys::terminating() {
            break;
        }
        let Ok(stream) = stream else { continue };
        if !connections.admit() {
            let _ = write_bare_status(&stream, 503);
            continue;
        }
        let spawned = sys::spawn(move || {
            let _ = connection(stream, handler, connections);
            connections.leave();
        });
        if spawned.is_err() {
            connections.leave();
        }
    }
    let deadline = Instant::now() + GRACE;
    while connections.requests_in_flight() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Serves requests on one connection until it closes, errs, idles out or the server stops.
fn connection(
    mut stream: TcpStream,
    handler: &Handler,
    connections: &Connections,
) -> io::Result<()> {
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let _ = stream.set_nodelay(true);
    let mut incoming = Incoming {
        buffer: vec![0u8; MAX_HEAD],
        filled: 0,
        read_timeout: None,
    };
    while !sys::terminating() {
        let waiting = connections.wait_for_head(&stream);
        let head = incoming.read_head(&mut stream)?;
        drop(waiting);
        let (request, used) = match head {
            Head::Complete(request, used) => (request, used),
            Head::Closed => return Ok(()),
            Head::TooLarge => return write_bare_status(&stream, 431),
            Head::Invalid => return write_bare_status(&stream, 400),
        };
        connections.start_request();
        let started = Instant::now();
        let response = handler(&request);
        let close = request.ends_connection() || sys::terminating();
        let written = write_response(&mut stream, &request, response, close);
        connections.end_request();
        log(&request, &written, started);
        if close || written.is_err() {
            return Ok(());
        }
        incoming.consume(used);
    }
    Ok(())
}

/// One access-log line: method, target, status, body bytes sent, milliseconds.
fn log(request: &Request, written: &io::Result<(u16, u64)>, started: Instant) {
    let millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let mut line = Line::new(&request.method);
    line.text(" ").text(&request.target).text(" ");
    match written {
        Ok((status, bytes)) => line.number(u64::from(*status)).text(" ").number(*bytes),
        Err(e) => line.text("aborted: ").io_error(e),
    };
    line.text(" ").number(millis).text("ms").to_stdout();
}

enum Head {
    Complete(Request, usize),
    Closed,
    TooLarge,
    Invalid,
}

/// What a connection has received and not yet answered.
struct Incoming {
    /// [`MAX_HEAD`] bytes: a head must fit.
    buffer: Vec<u8>,
    /// How many bytes of `buffer` hold data.
    filled: usize,
    /// The socket's read timeout as last set: setting it costs a system call, and between
    /// requests it is always [`IDLE_TIMEOUT`].
    read_timeout: Option<Duration>,
}

impl Incoming {
    /// Forgets the first `used` bytes (a request head answered); pipelined bytes move up.
    fn consume(&mut self, used: usize) {
        self.buffer.copy_within(used..self.filled, 0);
        self.filled -= used;
    }

    /// Reads until a whole request head is buffered (pipelined bytes stay in the buffer).
    fn read_head(&mut self, stream: &mut TcpStream) -> io::Result<Head> {
        let mut deadline = None;
        loop {
            if self.filled > 0 {
                match parse_head(self.buffer.get(..self.filled).unwrap_or_default()) {
                    Parsed::Complete(request, used) => return Ok(Head::Complete(request, used)),
                    Parsed::Partial => {}
                    Parsed::TooLarge => return Ok(Head::TooLarge),
                    Parsed::Invalid => return Ok(Head::Invalid),
                }
                deadline.get_or_insert_with(|| Instant::now() + HEAD_TIMEOUT);
            }
            if self.filled == self.buffer.len() {
                return Ok(Head::TooLarge);
            }
            let timeout = match deadline {
                Some(deadline) => deadline.saturating_duration_since(Instant::now()),
                None => IDLE_TIMEOUT,
            };
            if timeout.is_zero() {
                return Ok(Head::Closed);
            }
            if self.read_timeout != Some(timeout) {
                stream.set_read_timeout(Some(timeout))?;
                self.read_timeout = Some(timeout);
            }
            let free = self.buffer.get_mut(self.filled..).unwrap_or_default();
            match stream.read(free) {
                Ok(0) => return Ok(Head::Closed),
                Ok(n) => self.filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Ok(Head::Closed)
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// The outcome of parsing a (possibly partial) request head.
pub enum Parsed {
    /// A whole head, and how many bytes it took.
    Complete(Request, usize),
    /// More bytes are needed.
    Partial,
    /// More headers than allowed.
    TooLarge,
    /// Not HTTP.
    Invalid,
}

/// Parses a request head.
pub fn parse_head(bytes: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    let used = match parsed.parse(bytes) {
        Ok(httparse::Status::Complete(used)) => used,
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(httparse::Error::TooManyHeaders) => return Parsed::TooLarge,
        Err(_) => return Parsed::Invalid,
    };
    let (Some(method), Some(target)) = (parsed.method, parsed.path) else {
        return Parsed::Invalid;
    };
    let mut headers = Vec::with_capacity(parsed.headers.len());
    for h in parsed.headers.iter() {
        let value = trim_ows(&String::from_utf8_lossy(h.value)).to_string();
        headers.push((h.name.to_ascii_lowercase(), value));
    }
    let request = Request {
        method: method.to_string(),
        target: target.to_string(),
        headers,
        http10: parsed.version == Some(0),
    };
    Parsed::Complete(request, used)
}

/// `text` without the spaces and tabs around it (HTTP's optional whitespace, RFC 9110 §5.6.3;
/// `str::trim` would also take Unicode spaces, and its tables).
pub fn trim_ows(text: &str) -> &str {
    let ows = |b: &u8| *b == b' ' || *b == b'\t';
    let bytes = text.as_bytes();
    let start = bytes.iter().position(|b| !ows(b)).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !ows(b)).map_or(start, |i| i + 1);
    text.get(start..end).unwrap_or_default()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        304 => "Not Modified",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        416 => "Range Not Satisfiable",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    }
}

fn push_status_line(out: &mut String, status: u16) {
    out.push_str("HTTP/1.1 ");
    crate::range::push_decimal(out, u64::from(status));
    out.push(' ');
    out.push_str(reason(status));
    out.push_str("\r\n");
}

fn now_unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Appends an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110 §5.6.7) for `seconds`
/// since 1970, with integer arithmetic only (days to civil date: H. Hinnant's algorithm).
pub fn push_http_date(out: &mut String, seconds: u64) {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = seconds / 86_400;
    let of_day = seconds % 86_400;
    let era_days = days + 719_468; // days since 0000-03-01
    let era = era_days / 146_097;
    let day_of_era = era_days % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153; // March = 0
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 2
    } else {
        shifted_month - 10
    }; // Jan = 0
    let year = era * 400 + year_of_era + u64::from(month < 2);
    out.push_str(DAYS.get((days % 7) as usize).copied().unwrap_or_default());
    out.push_str(", ");
    push_two_digits(out, day);
    out.push(' ');
    out.push_str(MONTHS.get(month as usize).copied().unwrap_or_default());
    out.push(' ');
    crate::range::push_decimal(out, year);
    out.push(' ');
    push_two_digits(out, of_day / 3600);
    out.push(':');
    push_two_digits(out, of_day / 60 % 60);
    out.push(':');
    push_two_digits(out, of_day % 60);
    out.push_str(" GMT");
}

fn push_two_digits(out: &mut String, n: u64) {
    if n < 10 {
        out.push('0');
    }
    crate::range::push_decimal(out, n);
}

/// Answers a request that could not be read with a bare status, then closes.
fn write_bare_status(mut stream: &TcpStream, status: u16) -> io::Result<()> {
    let mut head = String::new();
    push_status_line(&mut head, status);
    head.push_str("Content-Length: 0\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes())
}

/// Writes the response; returns its status and the body bytes sent.
fn write_response(
    stream: &mut TcpStream,
    request: &Request,
    response: Response,
    close: bool,
) -> io::Result<(u16, u64)> {
    let mut head = String::with_capacity(512);
    push_status_line(&mut head, response.status);
    head.push_str("Date: ");
    push_http_date(&mut head, now_unix_seconds());
    head.push_str("\r\n");
    for (name, value) in &response.headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    // A 304 has no body, and its Content-Length could only repeat the 200's (RFC 9110 §8.6).
    if response.status != 304 {
        head.push_str("Content-Length: ");
        crate::range::push_decimal(&mut head, response.body.len());
        head.push_str("\r\n");
    }
    // An HTTP/1.0 client keeps the connection only when told so (RFC 9112 §9.3).
    head.push_str(if close {
        "Connection: close\r\n\r\n"
    } else if request.http10 {
        "Connection: keep-alive\r\n\r\n"
    } else {
        "\r\n"
    });
    if request.method == "HEAD" {
        stream.write_all(head.as_bytes())?;
        return Ok((response.status, 0));
    }
    match response.body {
        Body::Bytes(bytes) => {
            let mut whole = head.into_bytes();
            whole.extend_from_slice(&bytes);
            stream.write_all(&whole)?;
            Ok((response.status, bytes.len() as u64))
        }
        Body::File { file, offset, len } => {
            sys::send_more(stream, head.as_bytes())?;
            let sent = sys::sendfile(stream, &file, offset, len)?;
            if sent < len {
                // The file shrank under us: the announced length cannot be kept.
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            Ok((response.status, sent))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_spaces_and_tabs_are_optional_whitespace() {
        let cases = [
            (" \t a b \t ", "a b"),
            ("", ""),
            (" \t ", ""),
            ("x", "x"),
            ("\u{a0}x\u{a0}", "\u{a0}x\u{a0}"),
            ("\r\nx", "\r\nx"),
        ];
        for (text, want) in cases {
            assert_eq!(trim_ows(text), want, "{text:?}");
        }
    }

    #[test]
    fn http_dates() {
        let cases: &[(u64, &str)] = &[
            (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
            (784_111_777, "Sun, 06 Nov 1994 08:49:37 GMT"),
            (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"),
            (1_795_910_399, "Sat, 28 Nov 2026 23:59:59 GMT"),
            (4_107_542_400, "Mon, 01 Mar 2100 00:00:00 GMT"),
        ];
        for (seconds, want) in cases {
            let mut out = String::new();
            push_http_date(&mut out, *seconds);
            assert_eq!(out, *want, "{seconds}");
        }
    }
}
