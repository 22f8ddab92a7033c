//! A small, strict JSON reader (and string escaper) for `index.json`, manifests and indexes.
//!
//! serde_json costs ~30 KB in the binary; this costs a few. Documents come from the payload, so
//! they are hostile: input size and nesting depth are bounded, every byte is checked, strings
//! must be valid UTF-8 with valid escapes, and nothing panics. Numbers are kept as their text
//! and converted on demand, so sizes up to `u64::MAX` stay exact.

use crate::digest::hex_value;
use crate::error::Error;

/// The largest document accepted (manifests are kilobytes; the spec's limit is 4 MiB).
pub const MAX_DOCUMENT: usize = 4 << 20;
/// The deepest nesting accepted.
const MAX_DEPTH: usize = 64;

/// A parsed JSON value.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A number, as written.
    Number(String),
    /// A string, unescaped.
    String(String),
    /// An array.
    Array(Vec<Json>),
    /// An object, members in document order.
    Object(Vec<(String, Json)>),
}

impl Json {
    /// The member `key` of an object (the last one, if repeated).
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The member `key` if it is a string.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Json::as_str)
    }

    /// This value if it is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    /// This value if it is a non-negative integer that fits in `u64`.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Json::Number(text) => text.parse().ok(),
            _ => None,
        }
    }

    /// This value's elements if it is an array.
    pub fn as_array(&self) -> Option<&[Json]> {
        match self {
            Json::Array(items) => Some(items),
            _ => None,
        }
    }

    /// This value's members if it is an object.
    pub fn as_object(&self) -> Option<&[(String, Json)]> {
        match self {
            Json::Object(members) => Some(members),
            _ => None,
        }
    }
}

/// Parses one JSON document (surrounding whitespace allowed, nothing else).
pub fn parse(input: &[u8]) -> Result<Json, Error> {
    if input.len() > MAX_DOCUMENT {
        return Err(Error::JsonTooLarge);
    }
    let mut parser = Parser { input, pos: 0 };
    let value = parser.value(0)?;
    parser.skip_whitespace();
    if parser.pos == input.len() {
        Ok(value)
    } else {
        Err(Error::JsonInvalid)
    }
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn next(&mut self) -> Result<u8, Error> {
        let byte = self.peek().ok_or(Error::JsonInvalid)?;
        self.pos += 1;
        Ok(byte)
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn expect_word(&mut self, word: &[u8], value: Json) -> Result<Json, Error> {
        let end = self.pos + word.len();
        if self.input.get(self.pos..end) == Some(word) {
            self.pos = end;
            Ok(value)
        } else {
            Err(Error::JsonInvalid)
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, Error> {
        if depth > MAX_DEPTH {
            return Err(Error::JsonInvalid);
        }
        self.skip_whitespace();
        match self.peek().ok_or(Error::JsonInvalid)? {
            b'{' => self.object(depth),
            b'[' => self.array(depth),
            b'"' => self.string().map(Json::String),
            b't' => self.expect_word(b"true", Json::Bool(true)),
            b'f' => self.expect_word(b"false", Json::Bool(false)),
            b'n' => self.expect_word(b"null", Json::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => Err(Error::JsonInvalid),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Json, Error> {
        self.pos += 1; // '{'
        let mut members = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Json::Object(members));
        }
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                return Err(Error::JsonInvalid);
            }
            let key = self.string()?;
            self.skip_whitespace();
            if self.next()? != b':' {
                return Err(Error::JsonInvalid);
            }
            let value = self.value(depth + 1)?;
            members.push((key, value));
            self.skip_whitespace();
            match self.next()? {
                b',' => continue,
                b'}' => return Ok(Json::Object(members)),
                _ => return Err(Error::JsonInvalid),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Json, Error> {
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Json::Array(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            self.skip_whitespace();
            match self.next()? {
                b',' => continue,
                b']' => return Ok(Json::Array(items)),
                _ => return Err(Error::JsonInvalid),
            }
        }
    }

    fn number(&mut self) -> Result<Json, Error> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.next()? {
            b'0' => {}
            b'1'..=b'9' => self.digits(),
            _ => return Err(Error::JsonInvalid),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.one_or_more_digits()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            self.one_or_more_digits()?;
        }
        let text = self.input.get(start..self.pos).ok_or(Error::JsonInvalid)?;
        // Only ASCII digits and signs were accepted above.
        Ok(Json::Number(String::from_utf8_lossy(text).into_owned()))
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
    }

    fn one_or_more_digits(&mut self) -> Result<(), Error> {
        let start = self.pos;
        self.digits();
        if self.pos == start {
            Err(Error::JsonInvalid)
        } else {
            Ok(())
        }
    }

    fn string(&mut self) -> Result<String, Error> {
        self.pos += 1; // '"'
        let mut out = Vec::new();
        loop {
            match self.next()? {
                b'"' => return String::from_utf8(out).map_err(|_| Error::JsonInvalid),
                b'\\' => self.escape(&mut out)?,
                0..=0x1f => return Err(Error::JsonInvalid),
                byte => out.push(byte),
            }
        }
    }

    fn escape(&mut self, out: &mut Vec<u8>) -> Result<(), Error> {
        let byte = match self.next()? {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 8,
            b'f' => 12,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let c = self.unicode_escape()?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                return Ok(());
            }
            _ => return Err(Error::JsonInvalid),
        };
        out.push(byte);
        Ok(())
    }

    /// After `\u`: four hex digits, or a surrogate pair `\uD8xx\uDCxx`.
    fn unicode_escape(&mut self) -> Result<char, Error> {
        let first = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&first) {
            if self.next()? != b'\\' || self.next()? != b'u' {
                return Err(Error::JsonInvalid);
            }
            let second = self.hex4()?;
            if !(0xDC00..0xE000).contains(&second) {
                return Err(Error::JsonInvalid);
            }
            0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
        } else {
            first
        };
        char::from_u32(code).ok_or(Error::JsonInvalid)
    }

    fn hex4(&mut self) -> Result<u32, Error> {
        let mut value = 0;
        for _ in 0..4 {
            let digit = hex_value(self.next()?).ok_or(Error::JsonInvalid)?;
            value = value << 4 | u32::from(digit);
        }
        Ok(value)
    }
}

/// Appends `text` as a JSON string literal, quotes included.
pub fn push_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{0}'..='\u{1f}' => {
                out.push_str("\\u00");
                crate::digest::push_hex(out, &[c as u8]);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_real_index() {
        let doc = br#"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json",
            "digest":"sha256:ab","size":18446744073709551615,"annotations":{"org.opencontainers.image.ref.name":"v1"}}]}"#;
        let json = parse(doc).unwrap();
        let entry = &json.get("manifests").unwrap().as_array().unwrap()[0];
        assert_eq!(entry.get("size").unwrap().as_u64(), Some(u64::MAX));
        assert_eq!(
            entry
                .get("annotations")
                .unwrap()
                .get_str("org.opencontainers.image.ref.name"),
            Some("v1")
        );
    }

    #[test]
    fn unescapes_strings() {
        let cases: &[(&str, &[u8], &str)] = &[
            ("simple", br#""abc""#, "abc"),
            (
                "escapes",
                br#""a\"\\\/\b\f\n\r\t""#,
                "a\"\\/\u{8}\u{c}\n\r\t",
            ),
            ("bmp", br#""\u00e9\u4e2d""#, "é中"),
            ("surrogate pair", br#""\ud83d\ude00""#, "😀"),
            ("raw utf-8", "\"é\"".as_bytes(), "é"),
        ];
        for (name, input, want) in cases {
            assert_eq!(parse(input), Ok(Json::String((*want).into())), "{name}");
        }
    }

    #[test]
    fn refuses_invalid_documents() {
        let cases: &[(&str, &[u8])] = &[
            ("empty", b""),
            ("trailing garbage", b"{} x"),
            ("trailing comma", b"[1,]"),
            ("unquoted key", b"{a:1}"),
            ("lone surrogate", br#""\ud83d""#),
            ("bad escape", br#""\x""#),
            ("control char", b"\"a\x01\""),
            ("invalid utf-8", b"\"\xff\""),
            ("leading zero", b"01"),
            ("bare minus", b"-"),
            ("unterminated", b"[1,2"),
            ("bad word", b"tru"),
            ("too deep", &[b'['; 100]),
        ];
        for (name, input) in cases {
            assert!(parse(input).is_err(), "{name}: accepted");
        }
    }

    #[test]
    fn escaping_round_trips() {
        let text = "a\"b\\c\n\u{1}é";
        let mut out = String::new();
        push_string(&mut out, text);
        assert_eq!(parse(out.as_bytes()), Ok(Json::String(text.into())));
    }
}
