//! The connection cap, and who gives up a slot at it.
//!
//! Why: every connection is a thread, so their number is capped ([`MAX_CONNECTIONS`]). A cap
//! alone lets a few hundred clients that never finish a request shut everyone else out until
//! the head timeout cuts them, and again as soon as they reconnect (slowloris,
//! docs/HARDENING.md). So at the cap, the connection that has waited longest for a request
//! head, an idle keep-alive connection or a client sending its head slowly, is closed to make
//! room, once it has waited [`EVICTABLE_AFTER`]. HTTP lets a server close an idle connection at
//! any time, and clients retry a request that found one closed. A connection whose request is
//! being answered is never closed. Only when no connection qualifies does a new one get 503.

use crate::sys;
use std::net::TcpStream;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The most connections served at once, before one waiting for a request head is closed to
/// make room (or, if none has waited [`EVICTABLE_AFTER`], the new one gets 503).
pub const MAX_CONNECTIONS: usize = 512;
/// How long a connection must have waited for a request head before it may be closed to make
/// room at the cap: far longer than a request takes to arrive from a client on the node.
pub const EVICTABLE_AFTER: Duration = Duration::from_secs(2);

/// The connections open, those being answered, and those waiting for a request head.
#[derive(Default)]
pub struct Connections {
    open: AtomicUsize,
    busy: AtomicUsize,
    /// Each waiting connection's socket and since when it waits. A socket is listed only while
    /// its connection's thread holds it open (see [`Waiting`]), so a listed descriptor is
    /// always that connection's.
    waiting: Mutex<Vec<(RawFd, Instant)>>,
}

impl Connections {
    /// Counts a new connection in: under the cap, or by closing the connection that has
    /// waited longest for a request head. False if it must be refused; it is then not counted.
    pub fn admit(&self) -> bool {
        if self.open.fetch_add(1, Ordering::AcqRel) < MAX_CONNECTIONS || self.evict() {
            return true;
        }
        self.leave();
        false
    }

    /// Counts a connection out.
    pub fn leave(&self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
    }

    /// Lists `stream` as waiting for a request head until the returned guard is dropped,
    /// which must happen before the stream is closed.
    pub fn wait_for_head(&self, stream: &TcpStream) -> Waiting<'_> {
        let fd = stream.as_raw_fd();
        self.waiting_list().push((fd, Instant::now()));
        Waiting {
            connections: self,
            fd,
        }
    }

    /// Counts a request in while it is answered.
    pub fn start_request(&self) {
        self.busy.fetch_add(1, Ordering::AcqRel);
    }

    /// Counts an answered request out.
    pub fn end_request(&self) {
        self.busy.fetch_sub(1, Ordering::AcqRel);
    }

    /// How many requests are being answered.
    pub fn requests_in_flight(&self) -> usize {
        self.busy.load(Ordering::Acquire)
    }

    /// Closes the connection that has waited longest for a request head, if it has waited
    /// [`EVICTABLE_AFTER`]; whether it did. Its thread sees the end of the stream and ends.
    fn evict(&self) -> bool {
        let mut waiting = self.waiting_list();
        let oldest = waiting
            .iter()
            .enumerate()
            .min_by_key(|(_, (_, since))| *since);
        let Some((at, &(fd, since))) = oldest else {
            return false;
        };
        if since.elapsed() < EVICTABLE_AFTER {
            return false;
        }
        waiting.swap_remove(at);
        // Still under the lock: the connection's thread cannot have closed `fd` yet.
        sys::shut_down(fd);
        true
    }

    /// The waiting list; a thread that panicked holding it (impossible: panics abort) would
    /// leave it as consistent as ever, so poisoning is ignored.
    fn waiting_list(&self) -> MutexGuard<'_, Vec<(RawFd, Instant)>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A connection listed as waiting for a request head; dropping it takes it off the list.
pub struct Waiting<'a> {
    connections: &'a Connections,
    fd: RawFd,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut waiting = self.connections.waiting_list();
        if let Some(at) = waiting.iter().position(|(fd, _)| *fd == self.fd) {
            waiting.swap_remove(at);
        }
    }
}
