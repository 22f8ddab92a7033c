//! The only `unsafe` code: system calls that std does not offer, or offers only with code
//! this program never runs (each one's bytes are in docs/SIZE.md).
//!
//! - `sendfile(2)`: std's `io::copy` from a `File` to a `TcpStream` copies through user space;
//!   blobs are served straight from the page cache instead.
//! - `sigaction(2)` for SIGTERM and SIGINT: the handler records the signal and shuts the
//!   listening socket down, which is async-signal-safe and is the only way to wake std's
//!   `accept`, which retries on `EINTR`.
//! - `pthread_create(3)` for the connection threads ([`spawn`]), `shutdown(2)` to close one
//!   that must make room at the connection cap ([`shut_down`]), and `listen(2)` for a queue of
//!   connections as long as that cap ([`set_backlog`]).
//! - `open(2)` for every file the injector opens ([`open_read`], [`create_no_follow`]), and
//!   `write(2)` for its output lines ([`write_all`]).
#![allow(unsafe_code)]

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// The most bytes one `sendfile` call is asked for (Linux's own limit per call).
const SENDFILE_MAX: u64 = 0x7fff_f000;

/// Sends `len` bytes of `file` from `offset` to `socket`, without copying through user space.
/// Returns the bytes sent, which is less than `len` only if the file got shorter.
pub fn sendfile(socket: &TcpStream, file: &File, offset: u64, len: u64) -> io::Result<u64> {
    let mut position = i64::try_from(offset).map_err(|_| io::ErrorKind::InvalidInput)?;
    let mut sent = 0u64;
    while sent < len {
        let count = (len - sent).min(SENDFILE_MAX) as usize;
        // SAFETY: both descriptors are open for the duration of the call (borrowed), and
        // `position` is a valid, exclusively borrowed off_t the kernel updates.
        let n =
            unsafe { libc::sendfile(socket.as_raw_fd(), file.as_raw_fd(), &mut position, count) };
        match n {
            0 => break,
            n if n > 0 => sent += n as u64,
            _ => {
                let error = io::Error::last_os_error();
                if error.kind() != io::ErrorKind::Interrupted {
                    return Err(error);
                }
            }
        }
    }
    Ok(sent)
}

/// The stack of a connection's thread: a request needs a few kilobytes (the 16 KiB head
/// buffer is on the heap), so 128 KiB leaves ample room at a fraction of the default 8 MiB
/// of address space per connection.
const THREAD_STACK: usize = 128 << 10;

/// Runs `task` on a new detached thread, with `pthread_create` directly.
///
/// `std::thread::spawn` does the same plus what this program never uses: a joinable handle
/// with a result slot, a `Thread` handle per thread, names, output capture, and per-thread
/// stack-guard records kept in a map. Those cost 7.9 KB of the nightly x86_64 binary
/// (docs/SIZE.md). std supports code running on threads it did not start (thread-locals and
/// their destructors work as on its own).
pub fn spawn<F: FnOnce() + Send + 'static>(task: F) -> io::Result<()> {
    extern "C" fn start<F: FnOnce()>(task: *mut libc::c_void) -> *mut libc::c_void {
        // SAFETY: `task` is the `Box<F>` leaked by `spawn` for this thread alone.
        let task = unsafe { Box::from_raw(task.cast::<F>()) };
        task();
        std::ptr::null_mut()
    }
    let task = Box::into_raw(Box::new(task)).cast::<libc::c_void>();
    // SAFETY: `attr` is initialised before use and destroyed after `pthread_create`, which
    // copies what it needs; `start::<F>` receives the box, or the box is freed here if no
    // thread was started. The thread is detached at once: nothing joins it.
    let created = unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        let mut thread: libc::pthread_t = std::mem::zeroed();
        let mut created = libc::pthread_attr_init(&mut attr);
        if created == 0 {
            libc::pthread_attr_setstacksize(&mut attr, THREAD_STACK);
            created = libc::pthread_create(&mut thread, &attr, start::<F>, task);
            libc::pthread_attr_destroy(&mut attr);
        }
        if created == 0 {
            libc::pthread_detach(thread);
        } else {
            drop(Box::from_raw(task.cast::<F>()));
        }
        created
    };
    match created {
        0 => Ok(()),
        code => Err(io::Error::from_raw_os_error(code)),
    }
}

/// Opens `path` for reading.
pub fn open_read(path: &Path) -> io::Result<File> {
    open(path, libc::O_RDONLY, 0)
}

/// Creates `path` for writing (or truncates it) with permission bits `mode`, refusing to
/// follow a symbolic link in its last component.
pub fn create_no_follow(path: &Path, mode: u32) -> io::Result<File> {
    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_NOFOLLOW;
    open(path, flags, mode)
}

/// `openat(2)` with `O_CLOEXEC`, retried on `EINTR`.
///
/// std's `File::open` and `OpenOptions` do the same, but their checks of impossible option
/// sets carry messages as boxed strings, whose `Debug` code (string escaping and its Unicode
/// tables) cost 5.4 KB of the nightly x86_64 binary (docs/SIZE.md).
fn open(path: &Path, flags: libc::c_int, mode: u32) -> io::Result<File> {
    let path =
        CString::new(path.as_os_str().as_bytes()).map_err(|_| io::ErrorKind::InvalidInput)?;
    loop {
        // The system call itself: musl's `open` follows an `O_CLOEXEC` open with an `fcntl`
        // that sets the flag again for kernels older than 2.6.23, one more system call per
        // manifest served.
        // SAFETY: `path` is NUL-terminated and outlives the call; the arguments are those of
        // openat(2), `mode` widened as the kernel reads it.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat,
                libc::AT_FDCWD,
                path.as_ptr(),
                flags | libc::O_CLOEXEC,
                libc::c_ulong::from(mode),
            )
        };
        match RawFd::try_from(fd) {
            Ok(fd) if fd >= 0 => {
                // SAFETY: `fd` was just opened and nothing else owns it.
                return Ok(unsafe { File::from_raw_fd(fd) });
            }
            _ => {
                let error = io::Error::last_os_error();
                if error.kind() != io::ErrorKind::Interrupted {
                    return Err(error);
                }
            }
        }
    }
}

/// Writes all of `bytes` to the file descriptor `fd` (1 for stdout, 2 for stderr).
///
/// std's `Stdout` adds a line buffer and a reentrant lock on top of the same `write(2)`
/// calls: 0.9 KB of the nightly x86_64 binary for output that [`crate::line`] already
/// writes one whole line at a time.
pub fn write_all(fd: RawFd, bytes: &[u8]) -> io::Result<()> {
    // SAFETY: `rest` is valid for reads of its length for the duration of the call.
    write_fully(bytes, |rest| unsafe {
        libc::write(fd, rest.as_ptr().cast(), rest.len())
    })
}

/// Sends all of `bytes` on `socket` with `MSG_MORE`: the kernel holds them back until more
/// data follows (the `sendfile` of the body), so a response head and a small body leave in one
/// TCP segment instead of two.
pub fn send_more(socket: &TcpStream, bytes: &[u8]) -> io::Result<()> {
    let flags = libc::MSG_MORE | libc::MSG_NOSIGNAL;
    // SAFETY: `rest` is valid for reads of its length for the duration of the call; the
    // socket is borrowed, so open.
    write_fully(bytes, |rest| unsafe {
        libc::send(socket.as_raw_fd(), rest.as_ptr().cast(), rest.len(), flags)
    })
}

/// Calls `write` (a `write(2)`-like call) on what is left of `bytes` until all of it is
/// written, retrying on `EINTR`.
fn write_fully(mut bytes: &[u8], mut write: impl FnMut(&[u8]) -> isize) -> io::Result<()> {
    while !bytes.is_empty() {
        match usize::try_from(write(bytes)) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = bytes.get(n..).unwrap_or_default(),
            Err(_) => {
                let error = io::Error::last_os_error();
                if error.kind() != io::ErrorKind::Interrupted {
                    return Err(error);
                }
            }
        }
    }
    Ok(())
}

/// Shuts the socket `fd` down both ways: its connection's blocked reads and writes return at
/// once, and the thread serving it ends. (std offers this only on a `TcpStream` one owns.)
pub fn shut_down(fd: RawFd) {
    // SAFETY: shutdown(2) only reads its arguments; the caller vouches that `fd` is a socket
    // its owner still holds open (a stale descriptor would at worst yield EBADF).
    unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
}

/// Lets the kernel queue up to `connections` connections that `listener` has not accepted yet.
/// std listens with a queue of 128; a connection that finds it full is only taken when the
/// client retries, a second or more later. Failure only leaves std's queue.
pub fn set_backlog(listener: &TcpListener, connections: usize) {
    let backlog = libc::c_int::try_from(connections).unwrap_or(libc::c_int::MAX);
    // SAFETY: listen(2) on a socket that is already listening only changes its queue length.
    unsafe { libc::listen(listener.as_raw_fd(), backlog) };
}

static TERMINATING: AtomicBool = AtomicBool::new(false);
static LISTENER: AtomicI32 = AtomicI32::new(-1);

/// Whether SIGTERM or SIGINT has arrived.
pub fn terminating() -> bool {
    TERMINATING.load(Ordering::Relaxed)
}

extern "C" fn on_signal(_: libc::c_int) {
    TERMINATING.store(true, Ordering::Relaxed);
    let fd = LISTENER.load(Ordering::Relaxed);
    if fd >= 0 {
        // SAFETY: shutdown(2) is async-signal-safe; a stale descriptor only yields EBADF.
        unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
    }
}

/// Installs the SIGTERM/SIGINT handler (once is enough; later calls are harmless).
pub fn handle_termination() {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: a zeroed sigaction is valid (empty mask, no flags); the handler only
        // touches atomics and calls an async-signal-safe function.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// Makes a termination signal wake the accept loop of `listener`.
pub fn wake_on_termination(listener: &TcpListener) {
    LISTENER.store(listener.as_raw_fd(), Ordering::Relaxed);
    if terminating() {
        on_signal(0);
    }
}
