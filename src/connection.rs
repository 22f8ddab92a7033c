//! One client connection of the event loop ([`crate::server`]): it reads request heads,
//! answers them in order (keep-alive and pipelining), and sends each answer as far as the
//! client takes it, never waiting on the client.
//!
//! Why a state machine and not a thread: a thread blocked on one slow or stuck client is a
//! thread, a stack and a slot taken from everyone else; here a connection that waits costs a
//! socket and a few dozen bytes, and waiting for it costs nothing. While an answer's file body
//! waits for the client, its file is closed (and opened again when the client reads on), so a
//! stalled connection holds one descriptor.

use crate::http::{self, parse_head, Body, Handler, Parsed, Request, Response, MAX_HEAD};
use crate::line::Line;
use crate::{log, sys};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a connection may wait before sending a request.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a client may take to send a whole request head once it has started.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// An answer may take this long at any speed; after that it must have averaged
/// [`MIN_RATE`] since this point, or the connection is closed. A runtime pulling over
/// loopback reads at hundreds of MB/s; a client that reads a few bytes now and then to keep
/// its connection alive (slow read) is cut within seconds of this.
pub const SEND_GRACE: Duration = Duration::from_secs(10);
/// The lowest average rate, in bytes per second, of an answer after [`SEND_GRACE`]: 16 KiB/s,
/// a 128 kbit/s link.
pub const MIN_RATE: u64 = 16 << 10;

/// What the event loop needs to answer requests: the handler, a buffer to read into, the
/// time of this round of events and the `Date` of the second.
pub struct Context<'a> {
    /// The registry.
    pub handler: &'a Handler<'a>,
    /// [`MAX_HEAD`] bytes to receive into: a connection holds received bytes only while a
    /// head is incomplete or requests are pipelined.
    pub scratch: &'a mut [u8],
    /// The time of this round of events.
    pub now: Instant,
    /// The `Date` header's value for the second of `now`.
    pub date: &'a str,
    /// Whether the server is stopping: no new request is started.
    pub stopping: bool,
    /// The refused TLS handshakes, for their log lines.
    pub tls_refused: &'a mut TlsRefused,
}

/// How often at most a refused TLS handshake is logged: a runtime that tries https first
/// retries with back-off, so its first attempt shows at once; a probe loop adds a line every
/// 10 s, with the count of the handshakes refused in between.
const TLS_LOG_EVERY: Duration = Duration::from_secs(10);

/// The first byte of a TLS record carrying a handshake (a ClientHello): never the first byte
/// of an HTTP request.
const TLS_HANDSHAKE: u8 = 0x16;

/// Refused TLS handshakes: when one was last logged and how many were refused since.
#[derive(Default)]
pub struct TlsRefused {
    logged_at: Option<Instant>,
    unlogged: u64,
}

impl TlsRefused {
    /// Counts a refused handshake and logs it unless one was logged less than
    /// [`TLS_LOG_EVERY`] ago: the first thing to look for when a runtime cannot pull is that it
    /// speaks https to a plain-HTTP registry.
    fn refused(&mut self, now: Instant) {
        if self
            .logged_at
            .is_some_and(|at| now.saturating_duration_since(at) < TLS_LOG_EVERY)
        {
            self.unlogged += 1;
            return;
        }
        self.logged_at = Some(now);
        let mut line = Line::new(
            "zarf-injector: refused a TLS handshake: this registry speaks plain HTTP \
             (the runtime must pull from it as an http:// or insecure registry)",
        );
        if self.unlogged > 0 {
            line.text("; ")
                .number(std::mem::take(&mut self.unlogged))
                .text(" more refused since the last such line");
        }
        log::write(&mut line);
    }
}

/// What the event loop does with a connection after an event.
#[derive(PartialEq)]
pub enum Step {
    /// Wait for the next event.
    Wait,
    /// Close it.
    Close,
}

/// A client connection.
pub struct Connection {
    socket: OwnedFd,
    /// Bytes received and not answered yet (part of a head, or pipelined requests); empty,
    /// without an allocation, between requests.
    received: Vec<u8>,
    /// The answer being sent.
    sending: Option<Box<Sending>>,
    /// Since when the connection waits on its client: for a request head, or for room to
    /// send (reset by every byte the client takes).
    waiting_since: Instant,
    /// When the first byte of the head being received arrived.
    head_started: Option<Instant>,
    /// Whether the socket may have bytes to read (it had, or an event said so).
    readable: bool,
    /// Whether the socket may take more bytes (no send has been refused since the last event).
    writable: bool,
}

/// An answer being sent.
struct Sending {
    /// The head and any body in memory; `at` bytes of it are sent.
    bytes: Vec<u8>,
    at: usize,
    /// A file body, sent after `bytes`.
    file: Option<FileBody>,
    /// The access-log line so far (`METHOD target `).
    log: Line,
    status: u16,
    /// Body bytes sent.
    body_sent: u64,
    /// All bytes sent, head included.
    sent: u64,
    started: Instant,
    /// Whether the connection closes after this answer.
    close: bool,
}

/// The part `offset..end` of a file; `file` is `None` while the client is not reading.
struct FileBody {
    file: Option<File>,
    path: PathBuf,
    offset: u64,
    end: u64,
}

impl Connection {
    /// A connection just accepted.
    pub fn new(socket: OwnedFd, now: Instant) -> Connection {
        Connection {
            socket,
            received: Vec::new(),
            sending: None,
            waiting_since: now,
            head_started: None,
            readable: false,
            writable: true,
        }
    }

    /// The socket's descriptor.
    pub fn fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }

    /// Since when the connection waits on its client, if it does: for a request head, or for
    /// room to send. `None` while it has work it can do.
    pub fn waiting_on_client(&self) -> Option<Instant> {
        match &self.sending {
            Some(_) if self.writable => None,
            _ => Some(self.waiting_since),
        }
    }

    /// Whether an answer is being sent.
    pub fn is_answering(&self) -> bool {
        self.sending.is_some()
    }

    /// Handles readiness `events` (epoll's bits) and does all the work that can be done now.
    pub fn on_event(&mut self, events: u32, context: &mut Context<'_>) -> Step {
        let hang_up = (libc::EPOLLHUP | libc::EPOLLERR) as u32;
        if events & (libc::EPOLLIN as u32 | libc::EPOLLRDHUP as u32 | hang_up) != 0 {
            self.readable = true;
        }
        if events & (libc::EPOLLOUT as u32 | hang_up) != 0 {
            self.writable = true;
        }
        self.advance(context)
    }

    /// Sends what can be sent, then reads and answers requests until the client has to act.
    fn advance(&mut self, context: &mut Context<'_>) -> Step {
        loop {
            if self.sending.is_some() {
                if !self.writable {
                    return Step::Wait;
                }
                match self.send(context.now) {
                    Ok(()) => {
                        if let Some(sending) = self.sending.take() {
                            let close = sending.close;
                            sending.log_done(Ok(()));
                            if close {
                                return Step::Close;
                            }
                        }
                        self.waiting_since = context.now;
                    }
                    Err(e) if is_retry(&e) => {
                        self.writable = false;
                        return Step::Wait;
                    }
                    Err(e) => return self.abort(&e),
                }
            }
            if context.stopping {
                return Step::Close;
            }
            match self.next_request(context) {
                Ok(Some(request)) => self.start(&request, context),
                Ok(None) => return Step::Wait,
                Err(status) => return self.refuse(status),
            }
        }
    }

    /// A request head received whole, if there is one (pipelined, or read now); `Err` with a
    /// status (or 0: close silently) when the connection must end.
    fn next_request(&mut self, context: &mut Context<'_>) -> Result<Option<Request>, u16> {
        loop {
            if !self.received.is_empty() {
                match parse_head(&self.received) {
                    Parsed::Complete(request, used) => {
                        self.received.drain(..used);
                        if self.received.is_empty() {
                            self.received = Vec::new();
                            self.head_started = None;
                        } else {
                            self.head_started = Some(context.now);
                        }
                        return Ok(Some(request));
                    }
                    Parsed::Partial if self.received.len() < MAX_HEAD => {}
                    Parsed::Partial | Parsed::TooLarge => return Err(431),
                    Parsed::Invalid => {
                        if self.received.first() == Some(&TLS_HANDSHAKE) {
                            context.tls_refused.refused(context.now);
                        }
                        return Err(400);
                    }
                }
            }
            if !self.readable {
                return Ok(None);
            }
            let room = MAX_HEAD - self.received.len();
            let buffer = context.scratch.get_mut(..room).unwrap_or_default();
            let n = match sys::receive(self.fd(), buffer) {
                Ok(0) => return Err(0),
                Ok(n) => n,
                Err(e) if is_retry(&e) => {
                    self.readable = false;
                    return Ok(None);
                }
                Err(_) => return Err(0),
            };
            // A short read emptied the socket: the next bytes come with an event.
            self.readable = n == room;
            let got = buffer.get(..n).unwrap_or_default();
            if self.received.is_empty() {
                self.head_started.get_or_insert(context.now);
                // The common case, a whole request in one read: no copy is kept.
                if let Parsed::Complete(request, used) = parse_head(got) {
                    if used == n {
                        self.head_started = None;
                        return Ok(Some(request));
                    }
                }
            }
            self.received.extend_from_slice(got);
        }
    }

    /// Answers `request` and starts sending the answer.
    fn start(&mut self, request: &Request, context: &mut Context<'_>) {
        let started = Instant::now();
        let close = request.ends_connection() || request.has_ambiguous_framing();
        let response = if request.has_ambiguous_framing() {
            Response {
                status: 400,
                headers: Vec::new(),
                body: Body::Bytes(Vec::new()),
            }
        } else {
            (context.handler)(request)
        };
        let mut bytes = Vec::new();
        http::push_head(&mut bytes, request, &response, context.date, close);
        let head_len = bytes.len();
        let mut file = None;
        match response.body {
            _ if request.method == "HEAD" => {}
            Body::Bytes(body) => bytes.extend_from_slice(&body),
            Body::Static(body) => bytes.extend_from_slice(body),
            Body::File {
                file: open,
                path,
                offset,
                len,
            } => {
                let end = offset.saturating_add(len);
                file = Some(FileBody {
                    file: Some(open),
                    path,
                    offset,
                    end,
                });
            }
        }
        let mut log = Line::new(&request.method);
        log.text(" ").text(&request.target).text(" ");
        self.sending = Some(Box::new(Sending {
            body_sent: (bytes.len() - head_len) as u64,
            bytes,
            at: 0,
            file,
            log,
            status: response.status,
            sent: 0,
            started,
            close,
        }));
        self.waiting_since = context.now;
    }

    /// Sends as much of the answer as the socket takes: `Ok` when all of it is sent.
    fn send(&mut self, now: Instant) -> io::Result<()> {
        let fd = self.fd();
        let Some(sending) = self.sending.as_mut() else {
            return Ok(());
        };
        while let Some(rest) = sending.bytes.get(sending.at..).filter(|r| !r.is_empty()) {
            let n = sys::send(fd, rest, sending.file.is_some())?;
            sending.at += n;
            sending.sent += n as u64;
            self.waiting_since = now;
        }
        let Some(body) = sending.file.as_mut() else {
            return Ok(());
        };
        while body.offset < body.end {
            let file = match body.file.take() {
                Some(file) => file,
                None => reopen(&body.path, body.end)?,
            };
            let left = body.end - body.offset;
            match sys::send_file(fd, &file, &mut body.offset, left) {
                // The file is shorter than it was: the announced length cannot be kept.
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => {
                    sending.body_sent += n;
                    sending.sent += n;
                    self.waiting_since = now;
                    body.file = Some(file);
                }
                // The file is closed (dropped here) while the client is not reading.
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Closes the connection in the middle of an answer, logging why.
    fn abort(&mut self, error: &io::Error) -> Step {
        if let Some(sending) = self.sending.take() {
            sending.log_done(Err(error));
        }
        Step::Close
    }

    /// Ends the connection for a reason given by the event loop (a timeout, the cap), with an
    /// access-log line if an answer was being sent.
    pub fn end(&mut self, why: &str) {
        if let Some(sending) = self.sending.take() {
            sys::reset_on_close(self.fd());
            let mut line = sending.log;
            line.text("aborted: ").text(why);
            sending_log_tail(&mut line, sending.body_sent, sending.started);
        }
    }

    /// Why the connection must end now, if it must: a head not received in time, a client
    /// idle too long, or an answer the client takes slower than [`MIN_RATE`] (counting what
    /// it acknowledged, not what waits in the kernel's buffer for it).
    pub fn expired(&self, now: Instant) -> Option<&'static str> {
        if let Some(sending) = &self.sending {
            let late = now.saturating_duration_since(sending.started);
            let due = late.saturating_sub(SEND_GRACE).as_millis() as u64 * MIN_RATE / 1000;
            // `sent` counts what waits in the kernel's buffer too (megabytes for a client
            // that reads nothing): only what the client acknowledged counts.
            if due == 0 {
                return None;
            }
            let taken = sending.sent.saturating_sub(sys::unacknowledged(self.fd()));
            return (taken < due).then_some("slower than 16 KiB/s");
        }
        let expired = match self.head_started {
            Some(started) => now.saturating_duration_since(started) >= HEAD_TIMEOUT,
            None => now.saturating_duration_since(self.waiting_since) >= IDLE_TIMEOUT,
        };
        expired.then_some("")
    }

    /// Answers a request that could not be read with a bare status (none for 0), and closes.
    fn refuse(&mut self, status: u16) -> Step {
        if status != 0 {
            let _ = sys::send(self.fd(), &http::bare_status(status), false);
        }
        Step::Close
    }
}

impl Sending {
    /// Writes the access-log line: method, target, status, body bytes, milliseconds.
    fn log_done(mut self, outcome: Result<(), &io::Error>) {
        match outcome {
            Ok(()) => self.log.number(u64::from(self.status)),
            Err(e) => self.log.text("aborted: ").io_error(e),
        };
        sending_log_tail(&mut self.log, self.body_sent, self.started);
    }
}

/// Ends an access-log line with the body bytes and the milliseconds, and queues it.
fn sending_log_tail(line: &mut Line, bytes: u64, started: Instant) {
    let millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    line.text(" ")
        .number(bytes)
        .text(" ")
        .number(millis)
        .text("ms");
    log::write(line);
}

/// Opens a served file again, as long as it still holds `end` bytes.
fn reopen(path: &Path, end: u64) -> io::Result<File> {
    let file = sys::open_served(path)?;
    let meta = sys::file_status(&file)?;
    if !meta.is_file() || meta.size() < end {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(file)
}

/// Whether a non-blocking call only has to be tried again when the socket is ready.
fn is_retry(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::WouldBlock
}
