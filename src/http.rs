//! A small HTTP/1.1 server on std's blocking sockets: one thread per connection, a cap on
//! connections, limits on the request head and on idle time.
//!
//! An async runtime would cost hundreds of kilobytes; a registry seeding one node serves a
//! handful of clients. Requests are parsed by `httparse`; the registry logic is a plain
//! function from [`Request`] to [`Response`], so it is testable without sockets.

use crate::error::{Error, Failure};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The largest request head (request line and headers) accepted; larger gets 431.
pub const MAX_HEAD: usize = 16 << 10;
/// The most headers accepted in one request.
const MAX_HEADERS: usize = 64;
/// The most connections served at once; more get 503.
pub const MAX_CONNECTIONS: usize = 128;
/// How long a connection may stay silent, between or within requests.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// A parsed request head.
#[derive(Debug)]
pub struct Request {
    /// The method, e.g. `GET`.
    pub method: String,
    /// The request target, e.g. `/v2/library/registry/manifests/2.8.2`.
    pub target: String,
    /// Header names (lowercase) and values, in order.
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// The values of every header named `name` (lowercase).
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the client asked to close the connection after this request.
    fn wants_close(&self) -> bool {
        self.header_values("connection")
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case("close"))
    }
}

/// A response: status, headers, and a body held in memory (bodies from files come later).
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Extra headers (Content-Length and Connection are added by the writer).
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// Binds a listening socket.
pub fn bind(address: SocketAddr) -> Result<TcpListener, Failure> {
    TcpListener::bind(address)
        .map_err(|e| Failure::io(Error::Bind, Path::new(&address.to_string()), e))
}

/// Accepts connections forever, answering each request with `handler`.
pub fn serve<H>(listener: TcpListener, handler: H)
where
    H: Fn(&Request) -> Response + Send + Sync + 'static,
{
    let handler = Arc::new(handler);
    let active = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        if active.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
            let _ = write_status_only(&stream, 503);
            active.fetch_sub(1, Ordering::AcqRel);
            continue;
        }
        let handler = Arc::clone(&handler);
        let active_here = Arc::clone(&active);
        let spawned = std::thread::Builder::new()
            .stack_size(64 << 10)
            .spawn(move || {
                let _ = connection(stream, &*handler);
                active_here.fetch_sub(1, Ordering::AcqRel);
            });
        if spawned.is_err() {
            active.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Serves requests on one connection until it closes, errs or idles out.
fn connection(mut stream: TcpStream, handler: &dyn Fn(&Request) -> Response) -> io::Result<()> {
    stream.set_read_timeout(Some(IDLE_TIMEOUT))?;
    stream.set_write_timeout(Some(IDLE_TIMEOUT))?;
    let _ = stream.set_nodelay(true);
    let mut buffer = vec![0u8; MAX_HEAD];
    let mut filled = 0;
    loop {
        let (request, used) = match read_head(&mut stream, &mut buffer, &mut filled)? {
            Head::Complete(request, used) => (request, used),
            Head::Closed => return Ok(()),
            Head::TooLarge => return write_status_only(&stream, 431),
            Head::Invalid => return write_status_only(&stream, 400),
        };
        let response = handler(&request);
        let close = request.wants_close();
        write_response(&mut stream, &request, &response, close)?;
        if close {
            return Ok(());
        }
        buffer.copy_within(used..filled, 0);
        filled -= used;
    }
}

enum Head {
    Complete(Request, usize),
    Closed,
    TooLarge,
    Invalid,
}

/// Reads until a whole request head is buffered (pipelined bytes stay in the buffer).
fn read_head(stream: &mut TcpStream, buffer: &mut [u8], filled: &mut usize) -> io::Result<Head> {
    loop {
        if *filled > 0 {
            let bytes = buffer.get(..*filled).unwrap_or_default();
            match parse_head(bytes) {
                Ok(Some(head)) => return Ok(Head::Complete(head.0, head.1)),
                Ok(None) => {}
                Err(()) => return Ok(Head::Invalid),
            }
        }
        if *filled == buffer.len() {
            return Ok(Head::TooLarge);
        }
        let free = buffer.get_mut(*filled..).unwrap_or_default();
        match stream.read(free) {
            Ok(0) => return Ok(Head::Closed),
            Ok(n) => *filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Parses a request head; `Ok(None)` if more bytes are needed.
#[allow(clippy::result_unit_err)]
pub fn parse_head(bytes: &[u8]) -> Result<Option<(Request, usize)>, ()> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    let used = match parsed.parse(bytes) {
        Ok(httparse::Status::Complete(used)) => used,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(()),
    };
    let method = parsed.method.ok_or(())?.to_string();
    let target = parsed.path.ok_or(())?.to_string();
    let headers = parsed
        .headers
        .iter()
        .map(|h| {
            let value = String::from_utf8_lossy(h.value).trim().to_string();
            (h.name.to_ascii_lowercase(), value)
        })
        .collect();
    Ok(Some((
        Request {
            method,
            target,
            headers,
        },
        used,
    )))
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

fn status_line(out: &mut String, status: u16) {
    out.push_str("HTTP/1.1 ");
    out.push_str(&status.to_string());
    out.push(' ');
    out.push_str(reason(status));
    out.push_str("\r\n");
}

/// Answers a request that could not be read with a bare status, then closes.
fn write_status_only(mut stream: &TcpStream, status: u16) -> io::Result<()> {
    let mut head = String::new();
    status_line(&mut head, status);
    head.push_str("Content-Length: 0\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes())
}

fn write_response(
    stream: &mut TcpStream,
    request: &Request,
    response: &Response,
    close: bool,
) -> io::Result<()> {
    let mut head = String::with_capacity(256);
    status_line(&mut head, response.status);
    for (name, value) in &response.headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str("Content-Length: ");
    head.push_str(&response.body.len().to_string());
    head.push_str(if close {
        "\r\nConnection: close\r\n\r\n"
    } else {
        "\r\n\r\n"
    });
    stream.write_all(head.as_bytes())?;
    if request.method != "HEAD" {
        stream.write_all(&response.body)?;
    }
    Ok(())
}
