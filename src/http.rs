//! HTTP/1.1 messages: request heads in (parsed by `httparse`, with limits and the framing
//! checks that keep one request from hiding another), response heads out.
//!
//! The registry is a plain function from [`Request`] to [`Response`], so it is testable
//! without sockets; [`crate::server`] moves the bytes. HEAD gets the same head as GET without
//! the body. Anything that is not HTTP (a TLS ClientHello from a client probing for https,
//! random bytes) gets an `HTTP/1.1 400` status line before the close: docker, crane and
//! containerd fall back to plain HTTP only on such an answer.

use std::borrow::Cow;
use std::fs::File;
use std::path::PathBuf;

/// The largest request head (request line and headers) accepted; larger gets 431.
pub const MAX_HEAD: usize = 16 << 10;
/// The most headers accepted in one request; more gets 431.
const MAX_HEADERS: usize = 64;

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
    /// keep-alive, or a request body, which is never read (so never taken for a request).
    pub fn ends_connection(&self) -> bool {
        let tokens = self.header_list("connection");
        let has_token = |token: &str| tokens.iter().any(|t| t.eq_ignore_ascii_case(token));
        has_token("close") || (self.http10 && !has_token("keep-alive")) || self.has_body()
    }

    /// Whether the request announces a body: any `Transfer-Encoding`, or a `Content-Length`
    /// other than zero.
    fn has_body(&self) -> bool {
        self.header("transfer-encoding").is_some()
            || self
                .header("content-length")
                .is_some_and(|v| v.bytes().any(|b| b != b'0'))
    }

    /// Whether the end of the request's body cannot be known for sure (RFC 9112 §6.3): more
    /// than one `Content-Length` (even equal ones, or a list), one that is not a number,
    /// `Content-Length` with `Transfer-Encoding`, or a transfer coding that does not end in
    /// `chunked`. Two servers that read such a request differently (a proxy and us) would
    /// find different requests after it: it is answered 400 and the connection closed.
    pub fn has_ambiguous_framing(&self) -> bool {
        let lengths = self.header_list("content-length");
        let codings = self.header_list("transfer-encoding");
        let valid_length = |v: &&str| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
        match (lengths.as_slice(), codings.last()) {
            ([], None) => false,
            ([length], None) => !valid_length(length),
            ([], Some(last)) => !last.eq_ignore_ascii_case("chunked"),
            _ => true,
        }
    }
}

/// A response body.
#[derive(Debug)]
pub enum Body {
    /// Bytes in memory.
    Bytes(Vec<u8>),
    /// Bytes in memory for as long as the process runs (a manifest read once).
    Static(&'static [u8]),
    /// `len` bytes of `file` from `offset`, sent with `sendfile`.
    File {
        /// The open file.
        file: File,
        /// Its path: while the client is not reading, the file is closed, to be opened
        /// again when the client is (a stalled client holds one descriptor, not two).
        path: PathBuf,
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
            Body::Static(bytes) => bytes.len() as u64,
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

/// The request handler: the registry.
pub type Handler<'a> = dyn Fn(&Request) -> Response + 'a;

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
        // A value that is not UTF-8 (obs-text) matches nothing we read: it stands as U+FFFD.
        let value = trim_ows(std::str::from_utf8(h.value).unwrap_or("\u{FFFD}")).to_string();
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

/// Seconds since 1970 by the system clock.
pub fn now_unix_seconds() -> u64 {
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

/// A bare answer to a request that could not be read (400, 431, 503), closing the connection.
pub fn bare_status(status: u16) -> Vec<u8> {
    let mut head = String::new();
    push_status_line(&mut head, status);
    head.push_str("Content-Length: 0\r\nConnection: close\r\n\r\n");
    head.into_bytes()
}

/// The head of `response` to `request`: status line, `Date` (`date`, an IMF-fixdate), the
/// response's headers, `Content-Length`, and `Connection` as `close` asks.
pub fn push_head(
    out: &mut Vec<u8>,
    request: &Request,
    response: &Response,
    date: &str,
    close: bool,
) {
    // Written in `out`'s own buffer (empty: the answer starts here), not copied from another.
    let mut head = String::from_utf8(std::mem::take(out)).unwrap_or_default();
    head.reserve(512);
    push_status_line(&mut head, response.status);
    head.push_str("Date: ");
    head.push_str(date);
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
    *out = head.into_bytes();
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
