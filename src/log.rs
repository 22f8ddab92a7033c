//! The access log, written to stdout by a thread of its own, so that no request ever waits for
//! the log.
//!
//! Why: stdout is a pipe to the container runtime's log collector (or a terminal, or a file).
//! When nobody drains it, a `write(2)` to it blocks; written from the event loop, one stuck
//! collector would stop the whole registry. So the event loop only appends each line to a
//! bounded queue in memory ([`QUEUED_MAX`]); the writer thread takes the queue every
//! [`BATCH`] (or at once past [`BATCH_MAX`]) and writes it whole. A line that finds the
//! queue full is dropped and counted, and once writing works again the writer prints how many
//! were dropped. Blocking writes from a thread of our own leave stdout's flags alone: setting
//! `O_NONBLOCK` on it would change the file description the collector, or the shell, shares.

use crate::line::Line;
use crate::sys;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The most bytes waiting to be written; a line that does not fit is dropped. A burst of 128
/// requests with the longest heads (16 KiB) fits: a log collector that is merely slow, or
/// starved of CPU for a moment, loses nothing.
pub const QUEUED_MAX: usize = 2 << 20;
/// Queued bytes past which the writer takes the queue at once rather than after [`BATCH`];
/// a batch buffer grown past it is given back after its write.
const BATCH_MAX: usize = 64 << 10;
/// How long the writer lets lines gather before it writes them: one `write(2)` and one
/// wake-up per batch, not per request, and still within a blink for a person reading.
const BATCH: Duration = Duration::from_millis(50);

struct Queue {
    /// Whole lines, newlines included, not yet taken by the writer.
    bytes: Vec<u8>,
    /// Lines dropped since the writer last reported.
    dropped: u64,
    /// Whether the writer sleeps until a line arrives (and must be woken).
    idle: bool,
    /// Whether the writer is running (lines go straight to stdout until it does).
    started: bool,
    /// Whether the writer holds bytes it has not written yet.
    writing: bool,
}

static QUEUE: Mutex<Queue> = Mutex::new(Queue {
    bytes: Vec::new(),
    dropped: 0,
    idle: false,
    started: false,
    writing: false,
});
static WAKE: Condvar = Condvar::new();

/// The queue; a thread that panicked holding it (impossible: panics abort) would leave it as
/// consistent as ever, so poisoning is ignored.
fn queue() -> MutexGuard<'static, Queue> {
    QUEUE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Starts the writer thread; until then (or if it cannot start) lines are written at once.
pub fn start() {
    if sys::spawn(writer).is_ok() {
        queue().started = true;
    }
}

/// Queues `line` (and a newline) for stdout, or drops it if the queue is full. Never blocks
/// for longer than another thread's append.
pub fn write(line: &mut Line) {
    line.text("\n");
    let text = line.as_str().as_bytes();
    let mut queue = queue();
    if !queue.started {
        drop(queue);
        let _ = sys::write_all(1, text);
        return;
    }
    if queue.bytes.len() + text.len() > QUEUED_MAX {
        queue.dropped += 1;
        return;
    }
    queue.bytes.extend_from_slice(text);
    if queue.idle || queue.bytes.len() > BATCH_MAX {
        queue.idle = false;
        WAKE.notify_one();
    }
}

/// Waits until every queued line is written, at most until `deadline`.
pub fn flush(deadline: Instant) {
    loop {
        {
            let queue = queue();
            if !queue.started || (queue.bytes.is_empty() && !queue.writing) {
                return;
            }
            WAKE.notify_one();
        }
        if Instant::now() >= deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The writer thread: takes what is queued, writes it (blocking as long as stdout does), and
/// says how many lines were dropped meanwhile.
fn writer() {
    let mut taken = Vec::new();
    loop {
        let dropped;
        {
            let mut queue = queue();
            while queue.bytes.is_empty() && queue.dropped == 0 {
                queue.idle = true;
                queue = WAKE.wait(queue).unwrap_or_else(|e| e.into_inner());
            }
            // Let a batch gather, unless the queue is filling up.
            if queue.bytes.len() <= BATCH_MAX {
                queue = WAKE
                    .wait_timeout(queue, BATCH)
                    .map_or_else(|e| e.into_inner().0, |(q, _)| q);
            }
            std::mem::swap(&mut queue.bytes, &mut taken);
            dropped = std::mem::take(&mut queue.dropped);
            queue.writing = true;
        }
        let _ = sys::write_all(1, &taken);
        taken.clear();
        if taken.capacity() > BATCH_MAX {
            taken = Vec::new();
        }
        if dropped > 0 {
            let mut line = Line::new("zarf-injector: ");
            line.number(dropped)
                .text(" access-log lines dropped: stdout did not take them in time\n");
            let _ = sys::write_all(1, line.as_str().as_bytes());
        }
        queue().writing = false;
    }
}
