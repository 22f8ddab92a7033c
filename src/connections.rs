//! The open connections, how many may be open, and who gives up a slot at the cap.
//!
//! Why a cap: each connection is a socket, and the process may open only so many descriptors
//! (often 1,024 in a container, raised at start-up to the hard limit). The cap is that limit
//! less [`RESERVED_DESCRIPTORS`] (the listener, the log, files being sent, a 503 answered
//! over the cap), so `accept` and `open` never run out of descriptors because of clients.
//! A connection holds one descriptor whatever it does: a file body is closed while its client
//! is not reading ([`crate::connection`]).
//!
//! Why eviction: a cap alone lets clients that never finish a request, or never read their
//! answer, shut everyone else out. So at the cap, the connection that has waited longest on
//! its client, for a request head (idle keep-alive, slowloris) or for room to send its answer
//! (a reader that stopped), is closed to make room, once it has waited [`EVICTABLE_AFTER`].
//! HTTP lets a server close an idle connection at any time, and clients retry a request
//! that found one closed. Only when no connection qualifies does a new one get 503.

use crate::connection::{Connection, Context, Step};
use std::time::{Duration, Instant};

/// The most connections at once, whatever the descriptor limit: 64 Ki connections take
/// about 6 MiB of memory here (and far more in the kernel).
pub const MAX_CONNECTIONS: usize = 1 << 16;
/// Descriptors kept free of connections: standard streams, the listener, epoll, the
/// termination event, a file being opened to send, a socket accepted only to answer 503.
pub const RESERVED_DESCRIPTORS: u64 = 64;
/// How long a connection must have waited on its client before it may be closed to make room
/// at the cap: far longer than a request takes to arrive from a client on the node, or a
/// reading client takes to make room for more of its answer.
pub const EVICTABLE_AFTER: Duration = Duration::from_secs(2);

/// The connection cap for a descriptor limit of `descriptors`.
pub fn cap(descriptors: u64) -> usize {
    let free = descriptors.saturating_sub(RESERVED_DESCRIPTORS).max(1);
    usize::try_from(free).map_or(MAX_CONNECTIONS, |free| free.min(MAX_CONNECTIONS))
}

/// The connections, each in a slot named by a token (index and generation, so that an event
/// for a closed connection never reaches the one that took its slot).
pub struct Connections {
    slots: Vec<Slot>,
    free: Vec<u32>,
    open: usize,
    cap: usize,
}

struct Slot {
    generation: u32,
    connection: Option<Connection>,
}

impl Connections {
    /// No connections, at most `cap` at once.
    pub fn new(cap: usize) -> Connections {
        Connections {
            slots: Vec::new(),
            free: Vec::new(),
            open: 0,
            cap,
        }
    }

    /// Whether another connection fits: under the cap, or by closing the one that has waited
    /// longest on its client (at least [`EVICTABLE_AFTER`]).
    pub fn make_room(&mut self, now: Instant) -> bool {
        if self.open < self.cap {
            return true;
        }
        let oldest = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(at, slot)| Some((at, slot.connection.as_ref()?.waiting_on_client()?)))
            .min_by_key(|(_, since)| *since);
        match oldest {
            Some((at, since)) if now.saturating_duration_since(since) >= EVICTABLE_AFTER => {
                self.close_at(at, "closed to make room for a new connection");
                true
            }
            _ => false,
        }
    }

    /// Adds `connection`; returns its token.
    pub fn insert(&mut self, connection: Connection) -> u64 {
        self.open += 1;
        let slot = Slot {
            generation: 0,
            connection: Some(connection),
        };
        let at = match self.free.pop() {
            Some(at) => at as usize,
            None => {
                self.slots.push(slot);
                return token(self.slots.len() - 1, 0);
            }
        };
        let Some(free) = self.slots.get_mut(at) else {
            return u64::MAX;
        };
        free.connection = slot.connection;
        token(at, free.generation)
    }

    /// The connection named by `token`, if it is still open.
    pub fn get(&mut self, token: u64) -> Option<&mut Connection> {
        let (at, generation) = split(token);
        let slot = self.slots.get_mut(at)?;
        if slot.generation != generation {
            return None;
        }
        slot.connection.as_mut()
    }

    /// Closes the connection named by `token`, if it is open.
    pub fn close(&mut self, token: u64) {
        if self.get(token).is_some() {
            self.close_at(split(token).0, "");
        }
    }

    /// Passes `events` to the connection named by `token`, closing it if it is done.
    pub fn on_event(&mut self, token: u64, events: u32, context: &mut Context<'_>) {
        let Some(connection) = self.get(token) else {
            return;
        };
        if connection.on_event(events, context) == Step::Close {
            self.close_at(split(token).0, "");
        }
    }

    /// Closes every connection whose time is up (see [`Connection::expired`]) and, when the
    /// server is stopping, every one not sending an answer.
    pub fn sweep(&mut self, now: Instant, stopping: bool) {
        for at in 0..self.slots.len() {
            let why = match self.slots.get(at).and_then(|slot| slot.connection.as_ref()) {
                Some(connection) if stopping && !connection.is_answering() => "",
                Some(connection) => match connection.expired(now) {
                    Some(why) => why,
                    None => continue,
                },
                None => continue,
            };
            self.close_at(at, why);
        }
    }

    /// How many connections are sending an answer.
    pub fn answering(&self) -> usize {
        let answering = |slot: &Slot| slot.connection.as_ref().is_some_and(|c| c.is_answering());
        self.slots.iter().filter(|slot| answering(slot)).count()
    }

    /// Closes the connection in slot `at` (logging `why` if it was sending an answer) and
    /// frees the slot for a new generation.
    fn close_at(&mut self, at: usize, why: &str) {
        let Some(slot) = self.slots.get_mut(at) else {
            return;
        };
        if let Some(mut connection) = slot.connection.take() {
            connection.end(why);
            slot.generation = slot.generation.wrapping_add(1);
            self.free.push(at as u32);
            self.open -= 1;
        }
    }
}

fn token(at: usize, generation: u32) -> u64 {
    u64::from(generation) << 32 | at as u64
}

fn split(token: u64) -> (usize, u32) {
    ((token & 0xffff_ffff) as usize, (token >> 32) as u32)
}
