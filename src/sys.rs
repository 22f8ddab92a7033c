//! The `unsafe` code (with the allocator, [`crate::heap`]): system calls that std does not
//! offer, or offers only with code this program never runs (each one's bytes are in
//! docs/SIZE.md).
//!
//! - `epoll(7)`, `accept4(2)`, `recv(2)`, `send(2)` and `sendfile(2)` on non-blocking sockets
//!   for the server's event loop ([`Epoll`], [`accept`], [`receive`], [`send`],
//!   [`send_file`]): std has no readiness API, and an async runtime costs hundreds of kilobytes.
//! - `sigaction(2)` for SIGTERM and SIGINT: the handler records the signal and writes to an
//!   `eventfd(2)` that the event loop watches ([`termination_event`]), which is
//!   async-signal-safe.
//! - `getrlimit(2)`/`prlimit64(2)` to use every file descriptor allowed ([`descriptor_limit`]),
//!   `pthread_create(3)` for the log writer's thread ([`spawn`]), and `socket(2)`, `bind(2)` and
//!   `listen(2)` for a listening socket with a queue longer than std's ([`listen`]).
//! - `open(2)` for every file the injector opens ([`open_read`], [`open_served`],
//!   [`create_no_follow`]), `mkdir(2)` for every directory it creates ([`create_dir`]), and
//!   `write(2)` for its output lines ([`write_all`]).
#![allow(unsafe_code)]

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io;
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// The most bytes one `sendfile` call is asked for (Linux's own limit per call).
const SENDFILE_MAX: u64 = 0x7fff_f000;

/// Sends up to `len` bytes of `file` from `*offset` on the non-blocking `socket`, without
/// copying through user space, and advances `*offset`. Returns the bytes sent: 0 only at the
/// end of the file; `WouldBlock` when the socket's buffer is full.
pub fn send_file(socket: RawFd, file: &File, offset: &mut u64, len: u64) -> io::Result<u64> {
    let mut position = i64::try_from(*offset).map_err(|_| io::ErrorKind::InvalidInput)?;
    let count = len.min(SENDFILE_MAX) as usize;
    // SAFETY: both descriptors are open for the duration of the call (the file is borrowed,
    // the socket is its connection's), and `position` is a valid off_t the kernel updates.
    let sent = retry(|| unsafe { libc::sendfile(socket, file.as_raw_fd(), &mut position, count) })?;
    *offset += sent as u64;
    Ok(sent as u64)
}

/// Sends `bytes` on the non-blocking `socket` once; with `more`, the kernel holds them back
/// until more data follows (`MSG_MORE`: a head and a file body leave in one segment). Returns
/// how many were taken; `WouldBlock` when none could be.
pub fn send(socket: RawFd, bytes: &[u8], more: bool) -> io::Result<usize> {
    let flags = libc::MSG_NOSIGNAL | if more { libc::MSG_MORE } else { 0 };
    // SAFETY: `bytes` is valid for reads of its length for the duration of the call.
    retry(|| unsafe { libc::send(socket, bytes.as_ptr().cast(), bytes.len(), flags) })
}

/// Receives into `buffer` from the non-blocking `socket`: the bytes read, 0 at the end of the
/// stream, `WouldBlock` when nothing is there.
pub fn receive(socket: RawFd, buffer: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buffer` is valid for writes of its length for the duration of the call.
    retry(|| unsafe { libc::recv(socket, buffer.as_mut_ptr().cast(), buffer.len(), 0) })
}

/// Runs `call` (a system call on a non-blocking socket) again while it is interrupted by a
/// signal; returns its non-negative value or the OS error.
fn retry(mut call: impl FnMut() -> isize) -> io::Result<usize> {
    loop {
        if let Ok(n) = usize::try_from(call()) {
            return Ok(n);
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

/// How many bytes sent on `socket` its peer has not acknowledged yet (`SIOCOUTQ`): what
/// the kernel holds, which can be megabytes for a client that reads nothing.
pub fn unacknowledged(socket: RawFd) -> u64 {
    let mut queued: libc::c_int = 0;
    // SAFETY: ioctl(2) TIOCOUTQ (SIOCOUTQ) writes one int to `queued`.
    let done = unsafe { libc::ioctl(socket, libc::TIOCOUTQ, &mut queued) };
    if done < 0 {
        return 0;
    }
    u64::try_from(queued).unwrap_or(0)
}

/// Makes closing `socket` reset the connection (`SO_LINGER` of 0): the bytes queued for a
/// client that is being cut off are dropped at once, not sent on for minutes.
pub fn reset_on_close(socket: RawFd) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt(2) reads `linger`.
    unsafe {
        libc::setsockopt(
            socket,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
}

/// Accepts a connection on the non-blocking `listener` as a non-blocking socket with
/// `TCP_NODELAY` (responses are whole; pipelined answers must not wait for an ACK).
pub fn accept(listener: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: accept4(2) with null address pointers stores nothing.
    let fd = unsafe {
        libc::accept4(
            listener,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    set_option(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1);
    // SAFETY: `fd` was just accepted and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Sets an integer socket option; failure leaves the socket as it was.
fn set_option(socket: RawFd, level: libc::c_int, option: libc::c_int, value: libc::c_int) {
    // SAFETY: setsockopt(2) reads `value`, of the length given.
    unsafe {
        libc::setsockopt(
            socket,
            level,
            option,
            (&value as *const libc::c_int).cast(),
            socklen(&value),
        )
    };
}

/// An epoll instance: which of many non-blocking descriptors are ready.
pub struct Epoll(OwnedFd);

/// One readiness event: the token given to [`Epoll::add`] and what is ready.
pub type Event = libc::epoll_event;

/// Readable (or at the end of the stream), for [`Epoll::add`].
pub const READABLE: u32 = libc::EPOLLIN as u32;
/// Readable and writable, edge-triggered: each is reported when it newly becomes true.
pub const READ_WRITE_EDGES: u32 =
    (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32;

impl Epoll {
    /// A new epoll instance.
    pub fn new() -> io::Result<Epoll> {
        // SAFETY: epoll_create1(2) takes no pointers; the descriptor is owned from here.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created and nothing else owns it.
        Ok(Epoll(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Watches `fd` for `events`, reported with `token`.
    pub fn add(&self, fd: RawFd, token: u64, events: u32) -> io::Result<()> {
        let mut event = libc::epoll_event { events, u64: token };
        // SAFETY: `event` is valid for the call; the kernel copies it.
        let done =
            unsafe { libc::epoll_ctl(self.0.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut event) };
        if done < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Stops watching `fd` (closing it does the same).
    pub fn remove(&self, fd: RawFd) {
        // SAFETY: EPOLL_CTL_DEL ignores the event pointer.
        unsafe {
            libc::epoll_ctl(
                self.0.as_raw_fd(),
                libc::EPOLL_CTL_DEL,
                fd,
                std::ptr::null_mut(),
            )
        };
    }

    /// Waits at most `millis` for events; returns how many of `events` were filled (0 on a
    /// timeout or a signal).
    pub fn wait(&self, events: &mut [Event], millis: i32) -> usize {
        let max = libc::c_int::try_from(events.len()).unwrap_or(libc::c_int::MAX);
        // SAFETY: `events` is valid for writes of `max` entries.
        let n = unsafe { libc::epoll_wait(self.0.as_raw_fd(), events.as_mut_ptr(), max, millis) };
        usize::try_from(n).unwrap_or(0)
    }
}

/// Raises the soft limit on open file descriptors to the hard limit, and returns the limit
/// now in force (a connection takes one). A container's soft limit is often 1024 while its
/// hard limit is far higher.
///
/// The limit is set by the `prlimit64(2)` system call: musl's `setrlimit` also runs code on
/// every thread in turn (`__synccall`, for kernels without `prlimit64`, before 2.6.36), which
/// brought 1.4 KB of signal and semaphore code into the binary (docs/SIZE.md). Limits belong
/// to the process, whichever thread sets them.
pub fn descriptor_limit() -> u64 {
    // SAFETY: getrlimit(2) and prlimit64(2) read and write only `limit`; on the 64-bit
    // targets of this program `rlimit` is the kernel's `rlimit64`.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            let set = libc::syscall(
                libc::SYS_prlimit64,
                0,
                libc::RLIMIT_NOFILE,
                &raised as *const libc::rlimit,
                std::ptr::null_mut::<libc::rlimit>(),
            );
            if set == 0 {
                limit = raised;
            }
        }
        limit.rlim_cur
    }
}

/// The stack of a thread started by [`spawn`] (the log writer): it needs a few kilobytes, so
/// 128 KiB leaves ample room at a fraction of the default 8 MiB of address space.
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
    // thread was started. The thread starts detached (nothing joins it): `pthread_detach`
    // afterwards would bring musl's `pthread_join`, which it calls for a thread already gone.
    let created = unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        let mut thread: libc::pthread_t = std::mem::zeroed();
        let mut created = libc::pthread_attr_init(&mut attr);
        if created == 0 {
            libc::pthread_attr_setstacksize(&mut attr, THREAD_STACK);
            libc::pthread_attr_setdetachstate(&mut attr, libc::PTHREAD_CREATE_DETACHED);
            created = libc::pthread_create(&mut thread, &attr, start::<F>, task);
            libc::pthread_attr_destroy(&mut attr);
        }
        if created != 0 {
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

/// Opens `path` for reading without following a symbolic link in its last component and
/// without blocking on a FIFO or a device: what the registry serves must be a regular file of
/// the layout, and opening anything else must neither leave the layout nor hang the server.
pub fn open_served(path: &Path) -> io::Result<File> {
    open(
        path,
        libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK,
        0,
    )
}

/// Creates `path` for writing (or truncates it) with permission bits `mode`, refusing to
/// follow a symbolic link in its last component.
pub fn create_no_follow(path: &Path, mode: u32) -> io::Result<File> {
    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_NOFOLLOW;
    open(path, flags, mode)
}

/// Creates the directory `path` (permission bits 0777 less the umask), as `fs::create_dir`
/// does with `mkdir(2)`, without std's `DirBuilder`, whose recursive mode and `Path` parsing
/// come along with it (docs/SIZE.md).
pub fn create_dir(path: &Path) -> io::Result<()> {
    let path =
        CString::new(path.as_os_str().as_bytes()).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: `path` is NUL-terminated and outlives the call.
    if unsafe { libc::mkdir(path.as_ptr(), 0o777) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// What `stat(2)` says of a file: its type and its size.
pub struct Status {
    mode: u32,
    size: u64,
}

impl Status {
    /// Whether it is a regular file.
    pub fn is_file(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFREG
    }

    /// Whether it is a directory.
    pub fn is_dir(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFDIR
    }

    /// Its size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }
}

/// The status of an open file, by `fstat(2)`.
///
/// The system call itself, not `File::metadata`: musl's `fstat` goes through `fstatat` and its
/// fallbacks for old kernels (0.6 KB), and std's `Metadata` adds what this program never
/// reads (docs/SIZE.md).
pub fn file_status(file: &File) -> io::Result<Status> {
    // SAFETY: the kernel fills `status`, a `struct stat` as it defines it for this
    // architecture (musl's, which the libc crate mirrors, is the same on x86_64 and aarch64).
    stat_with(|status| unsafe { libc::syscall(libc::SYS_fstat, file.as_raw_fd(), status) })
}

/// The status of what `path` names, following symbolic links, by `fstatat(2)`.
pub fn path_status(path: &Path) -> io::Result<Status> {
    let path =
        CString::new(path.as_os_str().as_bytes()).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: as in `file_status`; `path` is NUL-terminated and outlives the call.
    stat_with(|status| unsafe {
        libc::syscall(
            libc::SYS_newfstatat,
            libc::AT_FDCWD,
            path.as_ptr(),
            status,
            0,
        )
    })
}

/// Runs a `stat`-like system call on a zeroed `struct stat` and reads its type and size.
fn stat_with(call: impl FnOnce(*mut libc::stat) -> libc::c_long) -> io::Result<Status> {
    // SAFETY: an all-zero `struct stat` is a valid value (integers only).
    let mut status: libc::stat = unsafe { std::mem::zeroed() };
    if call(&mut status) < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Status {
        mode: status.st_mode,
        size: u64::try_from(status.st_size).unwrap_or(0),
    })
}

/// Calls `each` with the name of every entry of the directory `dir` but `.` and `..`, in the
/// order the kernel lists them, as `getdents64(2)` reads them a buffer at a time (entries
/// added or removed meanwhile may or may not be seen, as with `readdir`).
///
/// std's `fs::read_dir` does the same over musl's `opendir`/`readdir`, with an `Arc`ed
/// directory handle and a `DirEntry` per name: ~1 KB of the nightly binary (docs/SIZE.md).
pub fn each_name(dir: &Path, each: &mut dyn FnMut(&OsStr) -> io::Result<()>) -> io::Result<()> {
    let dir = open(dir, libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    let mut buffer = vec![0u8; 8192];
    loop {
        // SAFETY: the kernel writes at most `buffer.len()` bytes into `buffer`.
        let read = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                dir.as_raw_fd(),
                buffer.as_mut_ptr(),
                buffer.len(),
            )
        };
        let read = usize::try_from(read).map_err(|_| io::Error::last_os_error())?;
        if read == 0 {
            return Ok(());
        }
        // Each record: inode (8 bytes), offset (8), record length (2), type (1), the name
        // NUL-terminated and padded to the record's length.
        let mut records = buffer.get(..read).unwrap_or_default();
        while let Some(length) = records.get(16..18) {
            let length = usize::from(u16::from_ne_bytes(length.try_into().unwrap_or_default()));
            let (Some(record), true) = (records.get(..length), length > 19) else {
                return Err(io::ErrorKind::InvalidData.into());
            };
            let name = record.get(19..).unwrap_or_default();
            let name = name.split(|&b| b == 0).next().unwrap_or_default();
            if name != b"." && name != b".." {
                each(OsStr::from_bytes(name))?;
            }
            records = records.get(length..).unwrap_or_default();
        }
    }
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

/// A non-blocking TCP socket listening on `address` (with `SO_REUSEADDR`, as std's
/// `TcpListener::bind`), whose kernel queue holds up to `backlog` connections not accepted yet:
/// std's queue of 128 overflows in a burst, and a connection that finds it full is only taken
/// when the client retries, a second or more later.
pub fn listen(address: SocketAddr, backlog: usize) -> io::Result<OwnedFd> {
    let family = if address.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    let flags = libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: socket(2) takes no pointers.
    let fd = unsafe { libc::socket(family, flags, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just created and nothing else owns it.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    set_option(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1);
    let bound = match address {
        SocketAddr::V4(v4) => {
            let raw = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: v4.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(v4.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: bind(2) reads `raw`, of the length given.
            unsafe { libc::bind(fd, (&raw as *const libc::sockaddr_in).cast(), socklen(&raw)) }
        }
        SocketAddr::V6(v6) => {
            let raw = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: v6.port().to_be(),
                sin6_flowinfo: v6.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.ip().octets(),
                },
                sin6_scope_id: v6.scope_id(),
            };
            // SAFETY: bind(2) reads `raw`, of the length given.
            unsafe {
                libc::bind(
                    fd,
                    (&raw as *const libc::sockaddr_in6).cast(),
                    socklen(&raw),
                )
            }
        }
    };
    let backlog = libc::c_int::try_from(backlog).unwrap_or(libc::c_int::MAX);
    // SAFETY: listen(2) takes no pointers.
    if bound < 0 || unsafe { libc::listen(fd, backlog) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(socket)
}

/// The address `socket` is bound to (the port the kernel chose for port 0).
pub fn local_address(socket: RawFd) -> io::Result<SocketAddr> {
    // SAFETY: all-zero bytes are a valid sockaddr_in6.
    let mut raw: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
    let mut len = socklen(&raw);
    // SAFETY: getsockname(2) writes at most `len` bytes into `raw`.
    let got = unsafe {
        libc::getsockname(
            socket,
            (&mut raw as *mut libc::sockaddr_in6).cast(),
            &mut len,
        )
    };
    if got < 0 {
        return Err(io::Error::last_os_error());
    }
    let port = u16::from_be(raw.sin6_port);
    if raw.sin6_family == libc::AF_INET as libc::sa_family_t {
        // SAFETY: the kernel wrote a sockaddr_in, which is smaller than `raw` and no more
        // aligned.
        let v4 = unsafe {
            std::ptr::read((&raw as *const libc::sockaddr_in6).cast::<libc::sockaddr_in>())
        };
        return Ok(SocketAddr::from((v4.sin_addr.s_addr.to_ne_bytes(), port)));
    }
    let ip = Ipv6Addr::from(raw.sin6_addr.s6_addr);
    Ok(SocketAddr::V6(SocketAddrV6::new(
        ip,
        port,
        raw.sin6_flowinfo,
        raw.sin6_scope_id,
    )))
}

/// The length of a socket address structure, as the kernel takes it.
fn socklen<T>(raw: &T) -> libc::socklen_t {
    std::mem::size_of_val(raw) as libc::socklen_t
}

static TERMINATING: AtomicBool = AtomicBool::new(false);
static WAKE: AtomicI32 = AtomicI32::new(-1);

/// Whether SIGTERM or SIGINT has arrived.
pub fn terminating() -> bool {
    TERMINATING.load(Ordering::Relaxed)
}

extern "C" fn on_signal(_: libc::c_int) {
    TERMINATING.store(true, Ordering::Relaxed);
    let fd = WAKE.load(Ordering::Relaxed);
    if fd >= 0 {
        let one = 1u64;
        // SAFETY: write(2) is async-signal-safe and reads 8 bytes of `one`.
        unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
    }
}

/// Installs the SIGTERM/SIGINT handler and ignores SIGPIPE, so that a client gone in the
/// middle of a `sendfile` (or a closed stdout) is an `EPIPE` error, not the end of the process
/// (std's runtime would ignore it, but the binary starts without it: `src/bin/inject.rs`).
/// Once is enough; later calls are harmless.
pub fn handle_signals() {
    // SAFETY: setting a signal's disposition to "ignore" has no preconditions.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
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

/// Opens `/dev/null` on each of descriptors 0, 1 and 2 that is closed, as std's runtime does
/// (the binary starts without it: `src/bin/inject.rs`): otherwise the first socket or file
/// opened would take the number, and access-log lines written to "stdout" would go to it.
pub fn ensure_standard_fds() {
    for fd in 0..3 {
        // SAFETY: F_GETFD reads a descriptor's flags and takes no pointer. (The system call
        // itself: musl's `fcntl` wrapper is 0.3 KB of cases this program never uses.)
        if unsafe { libc::syscall(libc::SYS_fcntl, fd, libc::F_GETFD) } < 0 {
            // Not close-on-exec would not matter: nothing is executed. Left open for good.
            if let Ok(null) = open(Path::new("/dev/null"), libc::O_RDWR, 0) {
                let _ = null.into_raw_fd();
            }
        }
    }
}

/// The value of the environment variable `name`, if it is set (and `name` holds no NUL).
///
/// std's `env::var_os` takes a lock shared with `set_var` around the same `getenv`: this
/// program sets no variable, and the lock's reader-writer code is what it would add.
pub fn env_var(name: &str) -> Option<std::ffi::OsString> {
    let name = CString::new(name).ok()?;
    // SAFETY: `name` is NUL-terminated; `getenv` returns null or a NUL-terminated string
    // that stays valid while the environment is not changed, which nothing here does.
    unsafe {
        let value = libc::getenv(name.as_ptr());
        (!value.is_null())
            .then(|| OsStr::from_bytes(std::ffi::CStr::from_ptr(value).to_bytes()).to_os_string())
    }
}

/// A descriptor that becomes readable when SIGTERM or SIGINT arrives (at once if one already
/// has): the event loop watches it, so a signal wakes it wherever it waits.
pub fn termination_event() -> io::Result<RawFd> {
    // SAFETY: eventfd(2) takes no pointers. The descriptor lives as long as the process (the
    // signal handler may write to it at any time), so it is never closed.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    WAKE.store(fd, Ordering::Relaxed);
    if terminating() {
        on_signal(0);
    }
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_tells_files_directories_and_sizes_following_links() {
        let dir = std::env::temp_dir().join(format!("zi-status-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("file"), vec![7u8; 12345]).unwrap();
        std::os::unix::fs::symlink("file", dir.join("link")).unwrap();
        let fifo = CString::new(dir.join("fifo").as_os_str().as_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);

        let file = file_status(&open_read(&dir.join("file")).unwrap()).unwrap();
        assert!(file.is_file() && !file.is_dir() && file.size() == 12345);
        let link = path_status(&dir.join("link")).unwrap();
        assert!(link.is_file() && link.size() == 12345);
        let directory = file_status(&open_read(&dir).unwrap()).unwrap();
        assert!(directory.is_dir() && !directory.is_file());
        let fifo = path_status(&dir.join("fifo")).unwrap();
        assert!(!fifo.is_file() && !fifo.is_dir());
        let missing = path_status(&dir.join("missing")).map(|_| ()).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn each_name_lists_every_entry_once_over_many_reads() {
        let dir = std::env::temp_dir().join(format!("zi-each-name-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        // 600 names of ~100 bytes: ~72 KB of records, many getdents64 calls of 8 KiB.
        let mut want: Vec<String> = (0..600)
            .map(|i| format!("{i:04}-{}", "n".repeat(95)))
            .collect();
        for name in &want {
            std::fs::write(dir.join(name), b"").unwrap();
        }
        std::fs::create_dir(dir.join("sub")).unwrap();
        want.push("sub".into());
        let mut seen = Vec::new();
        each_name(&dir, &mut |name| {
            seen.push(name.to_str().unwrap().to_string());
            Ok(())
        })
        .unwrap();
        seen.sort();
        want.sort();
        assert_eq!(seen, want);
        let missing = each_name(&dir.join("nothing"), &mut |_| Ok(()));
        assert_eq!(missing.unwrap_err().kind(), io::ErrorKind::NotFound);
        let file = each_name(&dir.join(&want[0]), &mut |_| Ok(()));
        assert_eq!(file.unwrap_err().raw_os_error(), Some(libc::ENOTDIR));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
