//! The HTTP server: one event loop over non-blocking sockets (`epoll`), from the first
//! connection to the graceful stop on SIGTERM/SIGINT.
//!
//! Why one loop on one thread: no client, however slow, stuck or numerous, can hold a thread
//! or make another client wait; a connection waiting on its client costs a socket and a few
//! dozen bytes ([`crate::connection`]), so ten thousand idle keep-alive connections fit in a
//! few MiB. Manifests are answered from memory and blobs with `sendfile` from the page cache,
//! so one core saturates loopback; the injector's pod is limited to one CPU anyway. An async
//! runtime would cost hundreds of kilobytes for the same loop.
//!
//! The rules that keep the registry available, with their reasons, are in
//! [`crate::connections`] (the cap and eviction), [`crate::connection`] (timeouts, the
//! minimum rate of an answer), [`crate::log`] (a log that never blocks) and
//! docs/HARDENING.md.

use crate::connection::{Connection, Context, TlsRefused};
use crate::connections::{self, Connections};
use crate::error::{Error, Failure};
use crate::http::{self, Handler, MAX_HEAD};
use crate::line::Line;
use crate::log;
use crate::sys::{self, Epoll, Event};
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::time::{Duration, Instant};

/// How many connections the kernel queues before the loop accepts them: a burst of clients
/// (every node's container runtime pulling at once) waits there, not for a SYN retry.
const BACKLOG: usize = 1024;
/// How long requests in flight may run on after SIGTERM/SIGINT.
const GRACE: Duration = Duration::from_secs(5);
/// How often timeouts are checked (and the longest the loop sleeps).
const SWEEP_EVERY: Duration = Duration::from_millis(250);
/// How long accepting pauses when the system cannot give a new connection a descriptor or
/// memory (`EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`): trying again at once would spin.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);
/// The most connections accepted in one round, so that a flood of new connections cannot
/// starve the ones already open.
const ACCEPTS_PER_ROUND: usize = 64;

const LISTENER: u64 = u64::MAX;
const TERMINATION: u64 = u64::MAX - 1;

/// Binds a listening socket, with a queue of [`BACKLOG`] connections not accepted yet.
pub fn bind(address: SocketAddr) -> Result<OwnedFd, Failure> {
    sys::listen(address, BACKLOG).map_err(|e| {
        let mut text = Line::default();
        text.socket_address(address);
        Failure::io(Error::Bind, Path::new(text.as_str()), e)
    })
}

/// Serves requests on `listener` with `handler` until SIGTERM/SIGINT; then lets answers in
/// flight finish for up to [`GRACE`], writes out the log and returns.
pub fn serve(listener: OwnedFd, handler: &Handler<'_>) -> Result<(), Failure> {
    let fail = |e: io::Error| Failure::io(Error::Bind, Path::new("event loop"), e);
    let limit = sys::descriptor_limit();
    let epoll = Epoll::new().map_err(fail)?;
    epoll
        .add(listener.as_raw_fd(), LISTENER, sys::READABLE)
        .map_err(fail)?;
    let wake = sys::termination_event().map_err(fail)?;
    epoll
        .add(wake, TERMINATION, sys::READ_WRITE_EDGES)
        .map_err(fail)?;
    log::start();
    let mut server = Server {
        epoll,
        listener: listener.as_raw_fd(),
        connections: Connections::new(connections::cap(limit)),
        accept_paused_until: None,
        stop_by: None,
        warned_at: None,
    };
    server.run(handler);
    drop(listener);
    log::flush(Instant::now() + Duration::from_secs(1));
    Ok(())
}

struct Server {
    epoll: Epoll,
    listener: RawFd,
    connections: Connections,
    /// Until when accepting pauses, after the system refused a descriptor.
    accept_paused_until: Option<Instant>,
    /// When the stop was asked for, plus [`GRACE`].
    stop_by: Option<Instant>,
    /// When the last line about refused accepts was logged.
    warned_at: Option<Instant>,
}

impl Server {
    fn run(&mut self, handler: &Handler<'_>) {
        let mut events = [Event { events: 0, u64: 0 }; 256];
        let mut scratch = vec![0u8; MAX_HEAD];
        let mut date = Date::default();
        let mut last_sweep = Instant::now();
        let mut tls_refused = TlsRefused::default();
        loop {
            let millis = SWEEP_EVERY.as_millis() as i32;
            let ready = self.epoll.wait(&mut events, millis);
            let now = Instant::now();
            let mut context = Context {
                handler,
                scratch: &mut scratch,
                now,
                date: date.at(),
                stopping: self.stop_by.is_some(),
                tls_refused: &mut tls_refused,
            };
            for event in events.iter().take(ready) {
                let (token, bits) = (event.u64, event.events);
                match token {
                    LISTENER => self.accept(now),
                    TERMINATION => self.stop(now),
                    _ => self.connections.on_event(token, bits, &mut context),
                }
            }
            if now.saturating_duration_since(last_sweep) >= SWEEP_EVERY || self.stop_by.is_some() {
                last_sweep = now;
                self.connections.sweep(now, self.stop_by.is_some());
                self.resume_accepting(now);
            }
            if let Some(stop_by) = self.stop_by {
                if self.connections.answering() == 0 || now >= stop_by {
                    return;
                }
            }
        }
    }

    /// Accepts the connections waiting, up to [`ACCEPTS_PER_ROUND`].
    fn accept(&mut self, now: Instant) {
        for _ in 0..ACCEPTS_PER_ROUND {
            let socket = match sys::accept(self.listener) {
                Ok(socket) => socket,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => return self.pause_accepting(now, &e),
            };
            if !self.connections.make_room(now) {
                let _ = sys::send(socket.as_raw_fd(), &http::bare_status(503), false);
                continue;
            }
            let fd = socket.as_raw_fd();
            let token = self.connections.insert(Connection::new(socket, now));
            if self.epoll.add(fd, token, sys::READ_WRITE_EDGES).is_err() {
                self.connections.close(token);
            }
        }
    }

    /// Stops accepting for [`ACCEPT_PAUSE`] after `accept` failed for want of descriptors or
    /// memory (for another failure, a connection that died in the queue, it goes on at once);
    /// says so in the log at most once a second.
    fn pause_accepting(&mut self, now: Instant, error: &io::Error) {
        let starved = matches!(
            error.raw_os_error(),
            Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
        );
        if !starved {
            return;
        }
        self.epoll.remove(self.listener);
        self.accept_paused_until = Some(now + ACCEPT_PAUSE);
        if self
            .warned_at
            .is_none_or(|at| now.saturating_duration_since(at) >= Duration::from_secs(1))
        {
            self.warned_at = Some(now);
            let mut line = Line::new("zarf-injector: cannot accept connections: ");
            line.io_error(error).text("; pausing");
            log::write(&mut line);
        }
    }

    fn resume_accepting(&mut self, now: Instant) {
        if self.stop_by.is_some() {
            return;
        }
        if self.accept_paused_until.is_some_and(|until| now >= until) {
            self.accept_paused_until = None;
            let _ = self.epoll.add(self.listener, LISTENER, sys::READABLE);
        }
    }

    /// SIGTERM or SIGINT: no more connections; answers in flight get [`GRACE`] to finish.
    fn stop(&mut self, now: Instant) {
        if self.stop_by.is_none() && sys::terminating() {
            self.epoll.remove(self.listener);
            self.stop_by = Some(now + GRACE);
        }
    }
}

/// The `Date` header's value, made once a second.
#[derive(Default)]
struct Date {
    second: u64,
    text: String,
}

impl Date {
    fn at(&mut self) -> &str {
        let second = http::now_unix_seconds();
        if second != self.second || self.text.is_empty() {
            self.second = second;
            self.text.clear();
            http::push_http_date(&mut self.text, second);
        }
        &self.text
    }
}
