//! Content digests (`sha256:<hex>`, `sha512:<hex>`): parsing, hashing, and the hex text form.
//!
//! Only the algorithms an OCI layout stores under `blobs/<algorithm>/<hex>` are accepted, and
//! their encoded part must be lowercase hex of the exact length: a digest that passes
//! [`Digest::parse`] is safe to join to a path.

use crate::error::Error;
use crate::sha512::Sha512;
use sha2::{Digest as _, Sha256};

/// A hash algorithm of the OCI image spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// SHA-256, 64 hex digits.
    Sha256,
    /// SHA-512, 128 hex digits.
    Sha512,
}

impl Algorithm {
    /// The name used in digests and in the layout's `blobs/` directory.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }
}

/// A validated digest, borrowing its text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Digest<'a> {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// The encoded hash: lowercase hex of the algorithm's length.
    pub hex: &'a str,
    /// The whole digest, `algorithm:hex`.
    pub text: &'a str,
}

impl<'a> Digest<'a> {
    /// Parses `algorithm:hex`, refusing anything but sha256/sha512 with lowercase hex of the
    /// right length.
    pub fn parse(text: &'a str) -> Result<Digest<'a>, Error> {
        let (name, hex) = text.split_once(':').ok_or(Error::DigestUnsupported)?;
        let algorithm = match name {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            _ => return Err(Error::DigestUnsupported),
        };
        let valid = hex.len() == algorithm.hex_len()
            && hex.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
        if valid {
            Ok(Digest {
                algorithm,
                hex,
                text,
            })
        } else {
            Err(Error::DigestUnsupported)
        }
    }

    /// Whether `text` fits the image spec's digest grammar (`algorithm ":" encoded`): for
    /// sha256/sha512 that is [`Digest::parse`]; another algorithm is well-formed even though
    /// this registry stores none of its blobs.
    pub fn well_formed(text: &str) -> bool {
        let Some((algorithm, encoded)) = text.split_once(':') else {
            return false;
        };
        let separator = |b: &u8| matches!(b, b'+' | b'.' | b'_' | b'-');
        let components_ok = algorithm.as_bytes().split(separator).all(|c| {
            !c.is_empty()
                && c.iter()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
        let encoded_ok = !encoded.is_empty()
            && encoded
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'));
        let known = algorithm == "sha256" || algorithm == "sha512";
        components_ok && encoded_ok && (!known || Digest::parse(text).is_ok())
    }

    /// The blob's path relative to the layout root: `blobs/<algorithm>/<hex>`.
    pub fn blob_path(&self) -> String {
        let mut path = String::with_capacity(7 + 7 + self.hex.len());
        path.push_str("blobs/");
        path.push_str(self.algorithm.name());
        path.push('/');
        path.push_str(self.hex);
        path
    }
}

/// A running hash of either algorithm.
#[derive(Clone)]
pub enum Hasher {
    /// SHA-256 state.
    Sha256(Sha256),
    /// SHA-512 state.
    Sha512(Box<Sha512>),
}

impl Hasher {
    /// A fresh hasher for `algorithm`.
    pub fn new(algorithm: Algorithm) -> Hasher {
        match algorithm {
            Algorithm::Sha256 => Hasher::Sha256(Sha256::new()),
            Algorithm::Sha512 => Hasher::Sha512(Box::default()),
        }
    }

    /// Feeds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
        }
    }

    /// Whether the bytes fed so far hash to `expected`.
    pub fn matches(self, expected: &Digest<'_>) -> bool {
        let mut text = String::new();
        match self {
            Hasher::Sha256(h) => push_hex(&mut text, &h.finalize()),
            Hasher::Sha512(h) => push_hex(&mut text, &h.finalize()),
        }
        text == expected.hex
    }
}

/// Appends `bytes` as lowercase hex.
pub fn push_hex(out: &mut String, bytes: &[u8]) {
    for &b in bytes {
        out.push(hex_digit(b >> 4));
        out.push(hex_digit(b & 15));
    }
}

/// The value of a hexadecimal digit, either case (the one decoder of cli, route and json).
pub fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The lowercase hex digit of the low four bits of `n`.
pub fn hex_digit(n: u8) -> char {
    let n = n & 15;
    char::from(if n < 10 { b'0' + n } else { b'a' + n - 10 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_grammar() {
        let sha256 = "a".repeat(64);
        let sha512 = "0".repeat(128);
        let good = [format!("sha256:{sha256}"), format!("sha512:{sha512}")];
        for text in &good {
            assert!(Digest::parse(text).is_ok(), "{text}");
        }
        let bad = [
            String::new(),
            sha256.clone(),
            format!("sha256:{}", "A".repeat(64)),
            format!("sha256:{}", "a".repeat(63)),
            format!("sha256:{}", "a".repeat(65)),
            format!("sha384:{sha256}"),
            format!("sha256:../../{}", "a".repeat(58)),
            format!("sha512:{sha256}"),
        ];
        for text in &bad {
            assert!(Digest::parse(text).is_err(), "accepted {text:?}");
        }
    }

    #[test]
    fn well_formed_digests_of_other_algorithms() {
        let cases: &[(&str, bool)] = &[
            ("blake3:abcdef0123", true),
            (
                "sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564",
                true,
            ),
            ("sha256:abc", false),
            ("SHA256:abc", false),
            ("sha256:", false),
            (":abc", false),
            ("sha256", false),
            ("a..b:abc", false),
            ("sha256:ab/cd", false),
            ("sha256:ab:cd", false),
        ];
        for (text, want) in cases {
            assert_eq!(Digest::well_formed(text), *want, "{text}");
        }
    }

    #[test]
    fn blob_path_is_inside_blobs() {
        let text = format!("sha256:{}", "b".repeat(64));
        let digest = Digest::parse(&text).unwrap();
        assert_eq!(
            digest.blob_path(),
            format!("blobs/sha256/{}", "b".repeat(64))
        );
    }

    #[test]
    fn push_hex_of_every_byte() {
        for b in 0..=255u8 {
            let mut out = String::new();
            push_hex(&mut out, &[b]);
            assert_eq!(out, format!("{b:02x}"));
        }
    }

    #[test]
    fn hasher_matches_known_values() {
        let empty256 = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let mut h = Hasher::new(Algorithm::Sha256);
        h.update(b"");
        assert!(h.matches(&Digest::parse(empty256).unwrap()));
        let mut h = Hasher::new(Algorithm::Sha256);
        h.update(b"x");
        assert!(!h.matches(&Digest::parse(empty256).unwrap()));
    }
}
