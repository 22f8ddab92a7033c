//! Lines of text for stdout and stderr (progress, the access log, the one failure line), built
//! without `core::fmt`.
//!
//! Why: `println!` and the `Display` impls of `io::Error`, `SocketAddr` and `Path` pull in
//! std's formatting machinery, musl's `strerror` table and IPv6 printing: about 10 KB of the
//! nightly binary (docs/SIZE.md), for a handful of lines made of words, numbers, paths and
//! addresses. A [`Line`] is built from those pieces and written whole under a lock, so that the
//! lines of concurrent connections never interleave.

use crate::error::Error;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Mutex;

/// Held while a line is written: lines of concurrent connections never interleave, however
/// long they are.
static OUTPUT: Mutex<()> = Mutex::new(());

/// One line of output, without its newline until written.
#[derive(Default)]
pub struct Line(String);

impl Line {
    /// A line starting with `text`.
    pub fn new(text: &str) -> Line {
        Line(String::from(text))
    }

    /// The text so far.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Appends `text`.
    pub fn text(&mut self, text: &str) -> &mut Line {
        self.0.push_str(text);
        self
    }

    /// Appends `n` in decimal.
    pub fn number(&mut self, n: u64) -> &mut Line {
        crate::range::push_decimal(&mut self.0, n);
        self
    }

    /// Appends `path` with control characters written as `?` (a tar entry's name cannot forge
    /// a log line); a name that is not UTF-8 is written byte by byte, `?` for each byte that
    /// is not printable ASCII (no lossy decoding: its code is 0.6 KB of the binary).
    pub fn path(&mut self, path: &Path) -> &mut Line {
        let bytes = path.as_os_str().as_encoded_bytes();
        let printable = |c: char| if c.is_control() { '?' } else { c };
        match std::str::from_utf8(bytes) {
            Ok(text) => self.0.extend(text.chars().map(printable)),
            Err(_) => self
                .0
                .extend(bytes.iter().map(|&b| printable(char::from(b.min(0x7f))))),
        }
        self
    }

    /// Appends `address` as `1.2.3.4:80` or `[::1]:80` (RFC 5952 form, as std prints it, but
    /// for IPv4-mapped IPv6 addresses, which come out in hex: `[::ffff:7f00:1]:80`).
    pub fn socket_address(&mut self, address: SocketAddr) -> &mut Line {
        match address {
            SocketAddr::V4(v4) => {
                for (i, octet) in v4.ip().octets().into_iter().enumerate() {
                    if i > 0 {
                        self.0.push('.');
                    }
                    self.number(u64::from(octet));
                }
            }
            SocketAddr::V6(v6) => {
                self.0.push('[');
                push_ipv6(&mut self.0, v6.ip().segments());
                if v6.scope_id() != 0 {
                    self.text("%").number(u64::from(v6.scope_id()));
                }
                self.0.push(']');
            }
        }
        self.0.push(':');
        self.number(u64::from(address.port()))
    }

    /// Appends what an I/O error says: the OS's words and number, or the [`Error`] a decoding
    /// layer carried inside it.
    pub fn io_error(&mut self, error: &io::Error) -> &mut Line {
        if let Some(inner) = Error::inside(error) {
            return self.text(inner.message());
        }
        match error.raw_os_error() {
            Some(code) => {
                self.text(os_error_text(code)).text(" (os error ");
                self.number(u64::from(code.unsigned_abs())).text(")")
            }
            None => self.text(match error.kind() {
                io::ErrorKind::UnexpectedEof => "unexpected end of file",
                io::ErrorKind::WriteZero => "failed to write whole buffer",
                io::ErrorKind::InvalidInput => "invalid input",
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => "timed out",
                _ => "I/O error",
            }),
        }
    }

    /// Writes the line and a newline to stdout. Output that cannot be written is dropped:
    /// a closed log must not stop the registry.
    pub fn to_stdout(&mut self) {
        self.write_to(1);
    }

    /// Writes the line and a newline to stderr.
    pub fn to_stderr(&mut self) {
        self.write_to(2);
    }

    fn write_to(&mut self, fd: i32) {
        self.0.push('\n');
        let _one_at_a_time = OUTPUT.lock();
        let _ = crate::sys::write_all(fd, self.0.as_bytes());
    }
}

/// The words for the OS errors this program can meet (opening, writing and renaming files,
/// binding and serving sockets), as musl's `strerror` has them; others print their number.
fn os_error_text(code: i32) -> &'static str {
    match code {
        libc::EPERM => "Operation not permitted",
        libc::ENOENT => "No such file or directory",
        libc::EIO => "I/O error",
        libc::EBADF => "Bad file descriptor",
        libc::EAGAIN => "Resource temporarily unavailable",
        libc::ENOMEM => "Out of memory",
        libc::EACCES => "Permission denied",
        libc::EEXIST => "File exists",
        libc::EXDEV => "Cross-device link",
        libc::ENOTDIR => "Not a directory",
        libc::EISDIR => "Is a directory",
        libc::EINVAL => "Invalid argument",
        libc::ENFILE => "Too many open files in system",
        libc::EMFILE => "No file descriptors available",
        libc::EFBIG => "File too large",
        libc::ENOSPC => "No space left on device",
        libc::EROFS => "Read-only file system",
        libc::EPIPE => "Broken pipe",
        libc::ENAMETOOLONG => "Filename too long",
        libc::ENOTEMPTY => "Directory not empty",
        libc::ELOOP => "Symbolic link loop",
        libc::EDQUOT => "Quota exceeded",
        libc::EADDRINUSE => "Address in use",
        libc::EADDRNOTAVAIL => "Address not available",
        libc::ECONNRESET => "Connection reset by peer",
        libc::ETIMEDOUT => "Operation timed out",
        _ => "OS error",
    }
}

/// Appends an IPv6 address in RFC 5952 form: lowercase hex groups without leading zeros, the
/// first longest run of two or more zero groups written `::`.
fn push_ipv6(out: &mut String, segments: [u16; 8]) {
    let (mut run_start, mut run_len) = (8, 0);
    let mut i = 0;
    while i < 8 {
        let len = segments.iter().skip(i).take_while(|s| **s == 0).count();
        if len > run_len && len >= 2 {
            (run_start, run_len) = (i, len);
        }
        i += len.max(1);
    }
    for (i, segment) in segments.into_iter().enumerate() {
        if i == run_start {
            out.push_str(if i == 0 { "::" } else { ":" });
        }
        if i >= run_start && i < run_start + run_len {
            continue;
        }
        push_hex_group(out, segment);
        if i < 7 {
            out.push(':');
        }
    }
}

fn push_hex_group(out: &mut String, group: u16) {
    if group >= 16 {
        push_hex_group(out, group >> 4);
    }
    out.extend(char::from_digit(u32::from(group & 15), 16));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same text as std's `Display`, which the output had before.
    #[test]
    fn socket_addresses_read_as_std_writes_them() {
        let cases = [
            "0.0.0.0:5000",
            "127.0.0.1:0",
            "255.255.255.255:65535",
            "[::]:5000",
            "[::1]:80",
            "[1::]:80",
            "[1:2:3:4:5:6:7:8]:1",
            "[2001:db8::1:0:0:1]:443",
            "[2001:db8:0:1:1:1:1:1]:443",
            "[fe80::abcd:0:0:1]:9",
            "[1:0:0:2::3]:9",
            "[1::2:0:0:3:4]:9",
            "[0:1:0:1:0:1:0:1]:9",
            "[fe80::1%2]:5000",
        ];
        for text in cases {
            let address: SocketAddr = text.parse().unwrap();
            let mut line = Line::default();
            line.socket_address(address);
            assert_eq!(line.as_str(), address.to_string(), "{text}");
            assert_eq!(line.as_str(), text);
        }
    }

    #[test]
    fn io_errors_name_the_os_error_or_the_inner_error() {
        let cases = [
            (
                io::Error::from_raw_os_error(libc::ENOSPC),
                "No space left on device (os error 28)",
            ),
            (
                io::Error::from_raw_os_error(libc::EACCES),
                "Permission denied (os error 13)",
            ),
            (
                io::Error::from_raw_os_error(9999),
                "OS error (os error 9999)",
            ),
            (
                io::Error::other(Error::ChunkRead),
                Error::ChunkRead.message(),
            ),
            (
                io::ErrorKind::UnexpectedEof.into(),
                "unexpected end of file",
            ),
        ];
        for (error, want) in cases {
            let mut line = Line::default();
            line.io_error(&error);
            assert_eq!(line.as_str(), want);
        }
    }

    #[test]
    fn paths_cannot_break_the_line() {
        let mut line = Line::new("at ");
        line.path(Path::new("a\nb\r\u{1b}c/d"));
        assert_eq!(line.as_str(), "at a?b??c/d");
    }

    #[test]
    fn names_that_are_not_utf8_are_written_byte_by_byte() {
        use std::os::unix::ffi::OsStrExt;
        let mut line = Line::new("at ");
        line.path(Path::new(std::ffi::OsStr::from_bytes(
            b"caf\xe9\n/\xff\x80x",
        )));
        assert_eq!(line.as_str(), "at caf??/??x");
        let mut line = Line::new("at ");
        line.path(Path::new("café/ü"));
        assert_eq!(line.as_str(), "at café/ü");
    }
}
