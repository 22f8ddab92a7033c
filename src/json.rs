//! A small, strict JSON reader (and string escaper) for `index.json`, manifests and indexes.
//!
//! serde_json costs ~30 KB in the binary; this costs a few. Documents come from the payload, so
//! they are hostile, and their size alone must bound the memory they cost (issue 12: a tree
//! of one node per element made a 4 MiB document of `[0,0,…]` cost 100 MB). So nothing is
//! built: [`read`] checks a whole document in one pass, without recursion and without
//! allocating (nesting is bounded by [`MAX_DEPTH`], every byte is checked, strings must be
//! valid UTF-8 with valid escapes), and hands out a [`Value`], a view into the checked text.
//! Its accessors scan that text again for the few fields the layout code asks for, and only
//! strings that are asked for are copied (only those with escapes are). Numbers are read from
//! their text on demand, so sizes up to `u64::MAX` stay exact. Nothing panics.
//!
//! [`parse`] builds the old tree ([`Json`]) on top, for tests and tools; the injector does not
//! use it, so it is not in the binary.

use crate::digest::hex_value;
use crate::error::Error;
use std::borrow::Cow;

/// The largest manifest or image index accepted (and `oci-layout`): 4 MiB, the size the
/// distribution spec says registries should accept for a manifest.
pub const MAX_DOCUMENT: usize = 4 << 20;
/// The largest `index.json` accepted: 64 MiB, for layouts of 100,000 images and more.
pub const MAX_INDEX: usize = 64 << 20;
/// The deepest nesting of arrays and objects accepted.
pub const MAX_DEPTH: usize = 64;

/// A value inside a document that [`read`] checked: the document's text from the value's first
/// byte on. Copying it copies a slice, never the text.
/// The default value is empty text, which is no JSON value: every accessor finds nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct Value<'a> {
    text: &'a str,
}

/// Checks that `input` is one JSON document (surrounding whitespace allowed, nothing else) and
/// returns its top value. Allocates nothing, whatever the input.
pub fn read(input: &[u8]) -> Result<Value<'_>, Error> {
    let text = std::str::from_utf8(input).map_err(|_| Error::JsonInvalid)?;
    let start = skip_whitespace(input, 0);
    let end = check(input, start).ok_or(Error::JsonInvalid)?;
    if skip_whitespace(input, end) != input.len() {
        return Err(Error::JsonInvalid);
    }
    let text = text.get(start..).ok_or(Error::JsonInvalid)?;
    Ok(Value { text })
}

impl<'a> Value<'a> {
    /// The member `key` of an object (the last one, if repeated).
    pub fn get(self, key: &str) -> Option<Value<'a>> {
        let mut found = None;
        for (name, value) in self.members() {
            if name == key {
                found = Some(value);
            }
        }
        found
    }

    /// The member `key` if it is a string.
    pub fn get_str(self, key: &str) -> Option<Cow<'a, str>> {
        self.get(key)?.as_str()
    }

    /// This value if it is a string, unescaped (borrowed unless it has escapes).
    pub fn as_str(self) -> Option<Cow<'a, str>> {
        let bytes = self.text.as_bytes();
        if bytes.first() != Some(&b'"') {
            return None;
        }
        let mut end = 1;
        while let Some(&byte) = bytes.get(end) {
            match byte {
                b'"' => return self.text.get(1..end).map(Cow::Borrowed),
                b'\\' => break,
                _ => end += 1,
            }
        }
        let mut out = Vec::new();
        scan_string(bytes, 0, Some(&mut out))?;
        String::from_utf8(out).ok().map(Cow::Owned)
    }

    /// This value if it is a non-negative integer that fits in `u64`.
    pub fn as_u64(self) -> Option<u64> {
        let end = skip_value(self.text.as_bytes(), 0);
        self.text.get(..end)?.parse().ok()
    }

    /// Whether this value is an array.
    pub fn is_array(self) -> bool {
        self.text.starts_with('[')
    }

    /// The elements of an array (none if this is not one).
    pub fn items(self) -> Items<'a> {
        Items {
            text: self.text,
            next: if self.is_array() { 1 } else { usize::MAX },
        }
    }

    /// The members of an object in document order, keys unescaped (none if this is not one).
    pub fn members(self) -> Members<'a> {
        Members(Items {
            text: self.text,
            next: if self.text.starts_with('{') {
                1
            } else {
                usize::MAX
            },
        })
    }
}

/// The elements of an array, from [`Value::items`].
pub struct Items<'a> {
    text: &'a str,
    /// Where the next element (or the closing bracket) starts, after whitespace; `usize::MAX`
    /// when done.
    next: usize,
}

impl<'a> Iterator for Items<'a> {
    type Item = Value<'a>;

    fn next(&mut self) -> Option<Value<'a>> {
        let bytes = self.text.as_bytes();
        let start = skip_whitespace(bytes, self.next);
        if matches!(bytes.get(start), None | Some(b']' | b'}')) {
            return None;
        }
        let end = skip_whitespace(bytes, skip_value(bytes, start));
        self.next = if bytes.get(end) == Some(&b',') {
            end + 1
        } else {
            usize::MAX
        };
        self.text.get(start..).map(|text| Value { text })
    }
}

/// The members of an object, from [`Value::members`].
pub struct Members<'a>(Items<'a>);

impl<'a> Iterator for Members<'a> {
    type Item = (Cow<'a, str>, Value<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        let Items { text, next } = self.0;
        let bytes = text.as_bytes();
        let start = skip_whitespace(bytes, next);
        if bytes.get(start) != Some(&b'"') {
            return None;
        }
        let colon = skip_whitespace(bytes, skip_value(bytes, start));
        let value = skip_whitespace(bytes, colon + 1);
        let end = skip_whitespace(bytes, skip_value(bytes, value));
        self.0.next = if bytes.get(end) == Some(&b',') {
            end + 1
        } else {
            usize::MAX
        };
        let key = Value {
            text: text.get(start..)?,
        };
        Some((
            key.as_str()?,
            Value {
                text: text.get(value..)?,
            },
        ))
    }
}

fn skip_whitespace(input: &[u8], mut at: usize) -> usize {
    while matches!(input.get(at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        at += 1;
    }
    at
}

/// The end of the value that starts at `at` in a checked document: strings and brackets are
/// matched, anything else runs to the next delimiter.
fn skip_value(input: &[u8], mut at: usize) -> usize {
    let mut depth = 0usize;
    let mut in_string = false;
    while let Some(&byte) = input.get(at) {
        at += 1;
        if in_string {
            match byte {
                b'\\' => at += 1,
                b'"' if depth == 0 => return at,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth == 0 => return at - 1,
            b'}' | b']' if depth == 1 => return at,
            b'}' | b']' => depth -= 1,
            b',' | b':' | b' ' | b'\t' | b'\n' | b'\r' if depth == 0 => return at - 1,
            _ => {}
        }
    }
    at
}

/// Checks the value that starts at `at` (after whitespace) and returns where it ends.
/// Iterative: `open` holds one bit per open container, 1 for an object, so nesting costs no
/// stack and is bounded by [`MAX_DEPTH`] (64, the bits of a `u64`).
fn check(input: &[u8], mut at: usize) -> Option<usize> {
    let mut open = 0u64;
    let mut depth = 0;
    loop {
        // A value starts at `at`.
        at = skip_whitespace(input, at);
        let byte = *input.get(at)?;
        at = if byte == b'{' || byte == b'[' {
            let after = skip_whitespace(input, at + 1);
            // `{` + 2 is `}`, `[` + 2 is `]`: an empty container is a whole value.
            if input.get(after) == Some(&(byte + 2)) {
                after + 1
            } else if depth == MAX_DEPTH {
                return None;
            } else {
                depth += 1;
                open = open << 1 | u64::from(byte == b'{');
                at = if byte == b'{' {
                    key(input, after)?
                } else {
                    after
                };
                continue;
            }
        } else if byte == b'"' {
            scan_string(input, at, None)?
        } else if let Some(word) = WORDS.iter().find(|word| word.first() == Some(&byte)) {
            let end = at + word.len();
            (input.get(at..end) == Some(*word)).then_some(end)?
        } else {
            scan_number(input, at)?
        };
        // After a value: closing brackets, until a comma starts the next value.
        loop {
            if depth == 0 {
                return Some(at);
            }
            at = skip_whitespace(input, at);
            let object = open & 1 == 1;
            match *input.get(at)? {
                b',' => {
                    at = if object { key(input, at + 1)? } else { at + 1 };
                    break;
                }
                b'}' if object => {}
                b']' if !object => {}
                _ => return None,
            }
            at += 1;
            depth -= 1;
            open >>= 1;
        }
    }
}

/// After `{` or a comma in an object: a key and its colon, with whitespace; where the value
/// may start.
fn key(input: &[u8], at: usize) -> Option<usize> {
    let at = skip_whitespace(input, at);
    if input.get(at) != Some(&b'"') {
        return None;
    }
    let at = skip_whitespace(input, scan_string(input, at, None)?);
    (input.get(at) == Some(&b':')).then_some(at + 1)
}

/// The literal names of JSON.
const WORDS: [&[u8]; 3] = [b"true", b"false", b"null"];

/// Checks the number at `at`; where it ends.
fn scan_number(input: &[u8], mut at: usize) -> Option<usize> {
    if input.get(at) == Some(&b'-') {
        at += 1;
    }
    match input.get(at)? {
        b'0' => at += 1,
        b'1'..=b'9' => at = digits(input, at),
        _ => return None,
    }
    if input.get(at) == Some(&b'.') {
        at = one_or_more_digits(input, at + 1)?;
    }
    if matches!(input.get(at), Some(b'e' | b'E')) {
        at += 1;
        if matches!(input.get(at), Some(b'+' | b'-')) {
            at += 1;
        }
        at = one_or_more_digits(input, at)?;
    }
    Some(at)
}

fn digits(input: &[u8], mut at: usize) -> usize {
    while matches!(input.get(at), Some(b'0'..=b'9')) {
        at += 1;
    }
    at
}

fn one_or_more_digits(input: &[u8], at: usize) -> Option<usize> {
    let end = digits(input, at);
    (end > at).then_some(end)
}

/// JSON's one-letter escapes and what they stand for.
const ESCAPES: &[u8; 16] = b"\"\"\\\\//b\x08f\x0cn\nr\rt\t";

/// Checks the string whose opening quote is at `at` and returns where it ends; appends its
/// unescaped bytes to `out`, if given. The document was checked as UTF-8 as a whole, so
/// only control characters and escapes are checked here.
fn scan_string(input: &[u8], mut at: usize, mut out: Option<&mut Vec<u8>>) -> Option<usize> {
    at += 1;
    loop {
        let byte = *input.get(at)?;
        at += 1;
        let byte = match byte {
            b'"' => return Some(at),
            0..=0x1f => return None,
            b'\\' => {
                at += 1;
                let escaped = *input.get(at - 1)?;
                if escaped == b'u' {
                    let (c, end) = unicode_escape(input, at)?;
                    at = end;
                    if let Some(out) = out.as_deref_mut() {
                        out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                    }
                    continue;
                }
                // Pairs of (escape, byte), searched rather than matched: a `match` here
                // compiles to a jump table of a hundred entries.
                let pair = ESCAPES
                    .chunks_exact(2)
                    .find(|pair| pair.first() == Some(&escaped));
                *pair?.get(1)?
            }
            byte => byte,
        };
        if let Some(out) = out.as_deref_mut() {
            out.push(byte);
        }
    }
}

/// After `\u`: four hex digits, or a surrogate pair `\uD8xx\uDCxx`; the character and where
/// the escape ends.
fn unicode_escape(input: &[u8], at: usize) -> Option<(char, usize)> {
    let first = hex4(input, at)?;
    if !(0xD800..0xDC00).contains(&first) {
        return Some((char::from_u32(first)?, at + 4));
    }
    if input.get(at + 4..at + 6) != Some(b"\\u") {
        return None;
    }
    let second = hex4(input, at + 6)?;
    if !(0xDC00..0xE000).contains(&second) {
        return None;
    }
    let code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
    Some((char::from_u32(code)?, at + 10))
}

fn hex4(input: &[u8], at: usize) -> Option<u32> {
    let mut value = 0;
    for byte in input.get(at..at + 4)? {
        value = value << 4 | u32::from(hex_value(*byte)?);
    }
    Some(value)
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

/// A JSON value as a tree, for tests and tools ([`parse`]). The injector itself reads
/// documents through [`Value`] and never builds one.
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

/// Parses one JSON document of at most [`MAX_DOCUMENT`] bytes into a tree.
pub fn parse(input: &[u8]) -> Result<Json, Error> {
    if input.len() > MAX_DOCUMENT {
        return Err(Error::JsonTooLarge);
    }
    Ok(Json::from(read(input)?))
}

impl From<Value<'_>> for Json {
    fn from(value: Value<'_>) -> Json {
        if let Some(text) = value.as_str() {
            return Json::String(text.into_owned());
        }
        match value.text.as_bytes().first() {
            Some(b'[') => Json::Array(value.items().map(Json::from).collect()),
            Some(b'{') => Json::Object(
                value
                    .members()
                    .map(|(key, value)| (key.into_owned(), Json::from(value)))
                    .collect(),
            ),
            Some(b't') => Json::Bool(true),
            Some(b'f') => Json::Bool(false),
            Some(b'n') => Json::Null,
            _ => {
                let end = skip_value(value.text.as_bytes(), 0);
                Json::Number(value.text.get(..end).unwrap_or_default().to_string())
            }
        }
    }
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
            ("one bracket too deep", &[b'['; MAX_DEPTH + 1]),
            ("unclosed object", b"{\"a\":1"),
            ("missing colon", b"{\"a\" 1}"),
            ("missing value", b"{\"a\":}"),
            ("key not a string", b"{1:2}"),
            ("closing the wrong bracket", b"[1}"),
            ("comma after the last member", b"{\"a\":1,}"),
            ("two values", b"1 2"),
            ("leading comma", b"[,1]"),
            ("lone low surrogate", br#""\udc00""#),
            ("high surrogate then not low", br#""\ud800\u0041""#),
            ("short unicode escape", br#""\u12""#),
            ("control char in a key", b"{\"\x1f\":1}"),
            ("invalid utf-8 outside strings", b"[1]\xff"),
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

    #[test]
    fn nesting_up_to_the_limit_is_accepted_without_recursion() {
        let deepest = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(read(deepest.as_bytes()).is_ok());
        let objects = format!("{}1{}", "{\"a\":".repeat(MAX_DEPTH), "}".repeat(MAX_DEPTH));
        assert!(read(objects.as_bytes()).is_ok());
        // Empty containers are whole values: they open nothing.
        let empty = format!("{}[]{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(read(empty.as_bytes()).is_ok());
        // Millions of brackets are refused at the limit, not by a stack overflow.
        assert!(read(&vec![b'['; 4 << 20]).is_err());
        assert!(read("[{}]".repeat(1 << 20).as_bytes()).is_err());
    }

    #[test]
    fn values_read_only_what_is_asked() {
        let doc = br#" { "a" : [ 1 , "x" , {"b":[]} , [2,[3]] , true , null , -1.5e3 ] ,
            "d\u0069gest":"sha256:\u0061b", "size" : 18446744073709551615, "a":{"k":"v"},
            "big":18446744073709551616, "neg":-1, "frac":1.0, "str":"7" } "#;
        let value = read(doc).unwrap();
        // The last of repeated keys wins; escaped keys and values are unescaped.
        assert_eq!(value.get("a").unwrap().get_str("k").as_deref(), Some("v"));
        assert_eq!(value.get_str("digest").as_deref(), Some("sha256:ab"));
        assert_eq!(value.get("size").unwrap().as_u64(), Some(u64::MAX));
        for key in ["big", "neg", "frac", "str", "missing"] {
            assert_eq!(value.get(key).and_then(Value::as_u64), None, "{key}");
        }
        let names: Vec<String> = value.members().map(|(k, _)| k.into_owned()).collect();
        assert_eq!(
            names,
            ["a", "digest", "size", "a", "big", "neg", "frac", "str"]
        );
        let first = value.members().next().unwrap().1;
        assert!(first.is_array());
        let items: Vec<Json> = first.items().map(Json::from).collect();
        assert_eq!(items.len(), 7);
        assert_eq!(items[1], Json::String("x".into()));
        assert_eq!(items[6], Json::Number("-1.5e3".into()));
        assert_eq!(first.items().nth(3).unwrap().items().count(), 2);
        // Accessors of the wrong kind find nothing.
        assert_eq!(first.items().count(), 7);
        assert_eq!(value.items().count(), 0);
        assert_eq!(first.members().count(), 0);
        assert_eq!(first.as_str(), None);
        assert_eq!(value.get("size").unwrap().get("x").map(|_| ()), None);
        assert!(read(b"[]").unwrap().items().next().is_none());
        assert!(read(b"{}").unwrap().members().next().is_none());
    }

    #[test]
    fn borrowed_unless_escaped() {
        let value = read(br#"{"plain":"abc","escaped":"a\nb"}"#).unwrap();
        assert!(matches!(value.get_str("plain"), Some(Cow::Borrowed("abc"))));
        assert!(matches!(value.get_str("escaped"), Some(Cow::Owned(s)) if s == "a\nb"));
    }
}
