//! The `Range` request header (RFC 9110 §14) → which bytes of a blob to send.
//!
//! Why: clients resume interrupted layer downloads with `Range: bytes=<offset>-` (the spec's
//! "Resumable Pull"), and the distribution spec says registries SHOULD support RFC 9110 ranges.
//! This registry serves one range per response; the module turns a header value and the blob's
//! size into a [`Selection`]: the whole blob (200), one [`ByteRange`] (206 with
//! `Content-Range: bytes a-b/size`), or [`Selection::Unsatisfiable`] (416 with
//! `Content-Range: bytes */size`, see [`push_content_range`]).
//!
//! # Decisions where the RFC leaves room
//!
//! - **Invalid syntax is ignored** (§14.2: a server MAY ignore or reject an invalid
//!   ranges-specifier): an unknown unit (which §14.2 says MUST be ignored), `bytes=5-2`
//!   (last-pos below first-pos, §14.1.1), `bytes=-`, signs, hex, stray characters. A malformed
//!   value is a request that never said which bytes it wants; the whole blob answers it.
//! - **Several ranges are ignored** (§14.2: a server MAY ignore the Range header): answering
//!   them needs `multipart/byteranges`, which no registry client asks for. So `bytes=0-1,5-6`
//!   gets the whole blob with 200, even when every range in it is unsatisfiable. Empty list
//!   elements do not count (`bytes=0-1,` is one range: §5.6.1 says to ignore them), and
//!   whitespace around elements is tolerated.
//! - **An empty blob ignores every range** (§14.2: a server MAY ignore Range when the
//!   representation has no content): `Content-Range` cannot describe zero bytes, and a client
//!   resuming an empty layer at `bytes=0-` then gets its 200 instead of a 416.
//! - Numbers too large for `u64` are exact in effect: a first-pos beyond any size is
//!   unsatisfiable, a last-pos beyond the end is clamped to it (§14.1.2), a suffix longer than
//!   the blob selects all of it (§14.1.3, answered with 206), and `-0` is unsatisfiable.
//! - The unit is matched case-insensitively (§14.1).
//!
//! Left to the caller: Range applies to GET only (§14.2: a server MUST ignore it on other
//! methods, so HEAD answers 200 with the full length), and `If-Range` (§13.1.5).

/// One satisfiable range: bytes `start..=end_inclusive`, both inside the blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRange {
    /// The first byte sent.
    pub start: u64,
    /// The last byte sent (not one past it), less than the blob's size.
    pub end_inclusive: u64,
}

impl ByteRange {
    /// How many bytes the range holds (at least 1).
    pub fn length(self) -> u64 {
        self.end_inclusive
            .saturating_sub(self.start)
            .saturating_add(1)
    }
}

/// What to send in answer to a `Range` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selection {
    /// The whole blob, 200: no usable range was asked for.
    Whole,
    /// One range, 206 with `Content-Range`.
    Part(ByteRange),
    /// No byte of the blob satisfies the range, 416 with `Content-Range: bytes */size`.
    Unsatisfiable,
}

/// Selects the bytes asked for by the `Range` header value `value` of a blob of `size` bytes.
/// A missing header is [`Selection::Whole`] and need not come here.
pub fn select(value: &[u8], size: u64) -> Selection {
    let Some((unit, set)) = split_once(trim(value), b'=') else {
        return Selection::Whole;
    };
    if !unit.eq_ignore_ascii_case(b"bytes") {
        return Selection::Whole;
    }
    let mut specs = set
        .split(|&b| b == b',')
        .map(trim)
        .filter(|s| !s.is_empty());
    let (Some(spec), None) = (specs.next(), specs.next()) else {
        return Selection::Whole; // none, or several
    };
    if size == 0 {
        return Selection::Whole;
    }
    let Some((first, last)) = split_once(spec, b'-') else {
        return Selection::Whole;
    };
    let last_byte = size.saturating_sub(1);
    match (number(first), number(last)) {
        // suffix-range: the last n bytes
        (None, Some(n)) if first.is_empty() => match n {
            0 => Selection::Unsatisfiable,
            n => Selection::Part(ByteRange {
                start: size.saturating_sub(n),
                end_inclusive: last_byte,
            }),
        },
        // int-range: first-pos "-" [ last-pos ]
        (Some(start), end) if last.is_empty() || end.is_some() => {
            if end.is_some() && decimal_less(last, first) {
                Selection::Whole // invalid: last-pos < first-pos
            } else if start >= size {
                Selection::Unsatisfiable
            } else {
                Selection::Part(ByteRange {
                    start,
                    end_inclusive: end.map_or(last_byte, |end| end.min(last_byte)),
                })
            }
        }
        _ => Selection::Whole,
    }
}

/// Appends the `Content-Range` value: `bytes a-b/size` for a part, `bytes */size` for none
/// (the form a 416 carries, §14.4).
pub fn push_content_range(out: &mut String, part: Option<ByteRange>, size: u64) {
    out.push_str("bytes ");
    match part {
        Some(range) => {
            push_decimal(out, range.start);
            out.push('-');
            push_decimal(out, range.end_inclusive);
        }
        None => out.push('*'),
    }
    out.push('/');
    push_decimal(out, size);
}

/// Appends `n` in decimal, without the formatting machinery.
pub fn push_decimal(out: &mut String, n: u64) {
    if n >= 10 {
        push_decimal(out, n / 10);
    }
    out.push(char::from(b'0' + (n % 10) as u8));
}

/// `text` without leading and trailing spaces and tabs (OWS).
fn trim(text: &[u8]) -> &[u8] {
    let ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = text.iter().position(|b| !ows(b)).unwrap_or(text.len());
    let end = text.iter().rposition(|b| !ows(b)).map_or(start, |i| i + 1);
    text.get(start..end).unwrap_or_default()
}

fn split_once(text: &[u8], separator: u8) -> Option<(&[u8], &[u8])> {
    let at = text.iter().position(|&b| b == separator)?;
    Some((text.get(..at)?, text.get(at + 1..)?))
}

/// A non-empty run of decimal digits, saturating at `u64::MAX`.
fn number(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        b.is_ascii_digit()
            .then(|| n.saturating_mul(10).saturating_add(u64::from(b - b'0')))
    })
}

/// Whether the decimal digits `a` are a smaller number than `b`, at any length.
fn decimal_less(a: &[u8], b: &[u8]) -> bool {
    let significant = |d: &[u8]| -> usize { d.iter().position(|&c| c != b'0').unwrap_or(d.len()) };
    let a = a.get(significant(a)..).unwrap_or_default();
    let b = b.get(significant(b)..).unwrap_or_default();
    (a.len(), a) < (b.len(), b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Rng;
    use std::cmp::Ordering;

    struct Case {
        name: &'static str,
        value: &'static str,
        size: u64,
        want: Selection,
    }

    const fn part(start: u64, end_inclusive: u64) -> Selection {
        Selection::Part(ByteRange {
            start,
            end_inclusive,
        })
    }

    const fn case(name: &'static str, value: &'static str, size: u64, want: Selection) -> Case {
        Case {
            name,
            value,
            size,
            want,
        }
    }

    use Selection::{Unsatisfiable, Whole};
    const MAX: u64 = u64::MAX;

    const CASES: &[Case] = &[
        // RFC 9110 §14.1.2 examples, for a 10000-byte representation
        case("first 500 bytes", "bytes=0-499", 10000, part(0, 499)),
        case("second 500 bytes", "bytes=500-999", 10000, part(500, 999)),
        case(
            "final 500 bytes (suffix)",
            "bytes=-500",
            10000,
            part(9500, 9999),
        ),
        case(
            "final 500 bytes (open)",
            "bytes=9500-",
            10000,
            part(9500, 9999),
        ),
        case("first and last only", "bytes=0-0,-1", 10000, Whole),
        // int-range
        case("one byte", "bytes=0-0", 1, part(0, 0)),
        case("open from zero", "bytes=0-", 7, part(0, 6)),
        case("resume mid-blob", "bytes=4-", 7, part(4, 6)),
        case("last byte", "bytes=6-6", 7, part(6, 6)),
        case(
            "last-pos past the end is clamped",
            "bytes=2-100",
            7,
            part(2, 6),
        ),
        case("first-pos at size", "bytes=7-", 7, Unsatisfiable),
        case("first-pos at size with last", "bytes=7-8", 7, Unsatisfiable),
        case("first-pos past size", "bytes=100-200", 7, Unsatisfiable),
        case("last-pos below first-pos", "bytes=5-2", 7, Whole),
        case(
            "last-pos below first-pos, both past size",
            "bytes=9-8",
            7,
            Whole,
        ),
        case("leading zeros", "bytes=0002-0003", 7, part(2, 3)),
        // suffix-range
        case("suffix longer than blob", "bytes=-100", 7, part(0, 6)),
        case("suffix equal to blob", "bytes=-7", 7, part(0, 6)),
        case("suffix zero", "bytes=-0", 7, Unsatisfiable),
        case("suffix zeros", "bytes=-000", 7, Unsatisfiable),
        // huge numbers
        case(
            "first-pos u64::MAX",
            "bytes=18446744073709551615-",
            MAX,
            Unsatisfiable,
        ),
        case(
            "first-pos u64::MAX - 1",
            "bytes=18446744073709551614-",
            MAX,
            part(MAX - 1, MAX - 1),
        ),
        case(
            "first-pos past u64",
            "bytes=18446744073709551616-",
            MAX,
            Unsatisfiable,
        ),
        case(
            "last-pos past u64",
            "bytes=1-99999999999999999999999",
            7,
            part(1, 6),
        ),
        case(
            "suffix past u64",
            "bytes=-99999999999999999999999",
            7,
            part(0, 6),
        ),
        case(
            "both past u64, ordered",
            "bytes=99999999999999999998-99999999999999999999",
            7,
            Unsatisfiable,
        ),
        case(
            "both past u64, reversed",
            "bytes=99999999999999999999-99999999999999999998",
            7,
            Whole,
        ),
        case(
            "both past u64, reversed by length",
            "bytes=100000000000000000000-99999999999999999999",
            7,
            Whole,
        ),
        case(
            "huge with leading zeros",
            "bytes=0000000000000000000000000003-4",
            7,
            part(3, 4),
        ),
        case(
            "whole of the largest blob",
            "bytes=0-",
            MAX,
            part(0, MAX - 1),
        ),
        // whitespace and case
        case("unit upper case", "BYTES=1-2", 7, part(1, 2)),
        case("unit mixed case", "Bytes=1-2", 7, part(1, 2)),
        case("surrounding whitespace", " \tbytes=1-2 \t", 7, part(1, 2)),
        case("whitespace after =", "bytes= 1-2", 7, part(1, 2)),
        case("whitespace inside a range", "bytes=1 - 2", 7, Whole),
        case("whitespace before =", "bytes =1-2", 7, Whole),
        case("empty elements ignored", "bytes=,1-2, ,", 7, part(1, 2)),
        case("trailing comma", "bytes=1-2,", 7, part(1, 2)),
        // several ranges: ignored
        case("two ranges", "bytes=0-1,3-4", 7, Whole),
        case("two overlapping ranges", "bytes=0-3,2-5", 7, Whole),
        case("two unsatisfiable ranges", "bytes=10-,20-", 7, Whole),
        case("a valid and an invalid range", "bytes=0-1,x", 7, Whole),
        // invalid syntax: ignored
        case("empty value", "", 7, Whole),
        case("unit only", "bytes", 7, Whole),
        case("empty set", "bytes=", 7, Whole),
        case("only commas", "bytes=,,", 7, Whole),
        case("other unit", "items=0-1", 7, Whole),
        case("no dash", "bytes=5", 7, Whole),
        case("dash only", "bytes=-", 7, Whole),
        case("double dash", "bytes=--5", 7, Whole),
        case("suffix with trailing dash", "bytes=-5-", 7, Whole),
        case("three parts", "bytes=1-2-3", 7, Whole),
        case("plus sign", "bytes=+1-2", 7, Whole),
        case("negative last", "bytes=1--2", 7, Whole),
        case("hex", "bytes=0x1-2", 7, Whole),
        case("letters", "bytes=a-b", 7, Whole),
        case("semicolon", "bytes=1-2;x", 7, Whole),
        case("Content-Range syntax", "bytes 1-2/7", 7, Whole),
        case("two equals", "bytes==1-2", 7, Whole),
        case("non-ASCII digit", "bytes=\u{661}-2", 7, Whole),
        // empty blob: ignored
        case("empty blob, open", "bytes=0-", 0, Whole),
        case("empty blob, suffix", "bytes=-1", 0, Whole),
        case("empty blob, suffix zero", "bytes=-0", 0, Whole),
        case("empty blob, invalid", "bytes=x", 0, Whole),
    ];

    #[test]
    fn ranges() {
        for case in CASES {
            let got = select(case.value.as_bytes(), case.size);
            assert_eq!(got, case.want, "{}", case.name);
            if let Selection::Part(range) = got {
                assert!(range.start <= range.end_inclusive, "{}", case.name);
                assert!(range.end_inclusive < case.size, "{}", case.name);
            }
        }
    }

    #[test]
    fn obs_text_is_ignored() {
        assert_eq!(select(b"bytes=1-2\xff", 7), Whole);
        assert_eq!(select(b"\xffbytes=1-2", 7), Whole);
    }

    #[test]
    fn content_range_text() {
        let cases: &[(&str, Option<ByteRange>, u64, &str)] = &[
            (
                "part",
                Some(ByteRange {
                    start: 0,
                    end_inclusive: 499,
                }),
                10000,
                "bytes 0-499/10000",
            ),
            (
                "one byte",
                Some(ByteRange {
                    start: 6,
                    end_inclusive: 6,
                }),
                7,
                "bytes 6-6/7",
            ),
            ("unsatisfied", None, 7, "bytes */7"),
            ("unsatisfied empty", None, 0, "bytes */0"),
            (
                "largest",
                Some(ByteRange {
                    start: MAX - 1,
                    end_inclusive: MAX - 1,
                }),
                MAX,
                "bytes 18446744073709551614-18446744073709551614/18446744073709551615",
            ),
        ];
        for &(name, part, size, want) in cases {
            let mut out = String::new();
            push_content_range(&mut out, part, size);
            assert_eq!(out, want, "{name}");
        }
    }

    #[test]
    fn decimal_matches_display() {
        let mut n = 1u64;
        for value in [0, 1, 9, 10, 99, 100, 12345, MAX - 1, MAX] {
            let mut out = String::new();
            push_decimal(&mut out, value);
            assert_eq!(out, value.to_string());
        }
        while let Some(next) = n.checked_mul(3) {
            let mut out = String::new();
            push_decimal(&mut out, n - 1);
            assert_eq!(out, (n - 1).to_string());
            n = next;
        }
    }

    #[test]
    fn length() {
        assert_eq!(
            ByteRange {
                start: 0,
                end_inclusive: 0
            }
            .length(),
            1
        );
        assert_eq!(
            ByteRange {
                start: 3,
                end_inclusive: 9
            }
            .length(),
            7
        );
        assert_eq!(
            ByteRange {
                start: 0,
                end_inclusive: MAX - 1
            }
            .length(),
            MAX
        );
    }

    // ---- Oracle: RFC 9110 §14 read literally, on strings and arbitrary-size numbers. ----

    /// Compares decimal strings as numbers of any size.
    fn compare(a: &str, b: &str) -> Ordering {
        let a = a.trim_start_matches('0');
        let b = b.trim_start_matches('0');
        a.len().cmp(&b.len()).then(a.cmp(b))
    }

    fn is_number(s: &str) -> bool {
        !s.is_empty() && s.chars().all(|c| c.is_ascii_digit())
    }

    fn naive(value: &[u8], size: u64) -> Selection {
        let Ok(value) = std::str::from_utf8(value) else {
            return Whole;
        };
        let Some((unit, set)) = value.trim_matches([' ', '\t']).split_once('=') else {
            return Whole;
        };
        if !unit.eq_ignore_ascii_case("bytes") {
            return Whole;
        }
        let specs: Vec<&str> = set
            .split(',')
            .map(|s| s.trim_matches([' ', '\t']))
            .filter(|s| !s.is_empty())
            .collect();
        if specs.len() != 1 || size == 0 {
            return Whole;
        }
        let size_text = size.to_string();
        let last_byte = (size - 1).to_string();
        let spec = specs[0];
        let (first, last) = match spec.split_once('-') {
            Some(parts) => parts,
            None => return Whole,
        };
        let start: String;
        let end: String;
        if first.is_empty() {
            if !is_number(last) {
                return Whole;
            }
            if compare(last, "0") == Ordering::Equal {
                return Unsatisfiable;
            }
            // the last n bytes, or all of them
            end = last_byte;
            start = if compare(last, &size_text) != Ordering::Less {
                "0".into()
            } else {
                (size - last.parse::<u64>().unwrap()).to_string()
            };
        } else {
            if !is_number(first) || !(last.is_empty() || is_number(last)) {
                return Whole;
            }
            if !last.is_empty() && compare(last, first) == Ordering::Less {
                return Whole;
            }
            if compare(first, &size_text) != Ordering::Less {
                return Unsatisfiable;
            }
            start = first.to_string();
            end = if last.is_empty() || compare(last, &last_byte) != Ordering::Less {
                last_byte
            } else {
                last.to_string()
            };
        }
        part(
            start.trim_start_matches('0').parse().unwrap_or(0),
            end.trim_start_matches('0').parse().unwrap_or(0),
        )
    }

    const TOKENS: &[&str] = &[
        "bytes=",
        "bytes=",
        "bytes=",
        "BYTES=",
        "bytes",
        "bits=",
        "=",
        "0",
        "1",
        "2",
        "5",
        "6",
        "7",
        "9",
        "10",
        "99",
        "000",
        "007",
        "-",
        "-",
        "-",
        ",",
        ",",
        " ",
        "\t",
        "x",
        "+",
        "18446744073709551614",
        "18446744073709551615",
        "18446744073709551616",
        "99999999999999999999999",
        "\u{661}",
    ];

    const NUMBERS: &[&str] = &[
        "0",
        "1",
        "2",
        "3",
        "6",
        "7",
        "8",
        "10",
        "99",
        "000",
        "007",
        "18446744073709551614",
        "18446744073709551615",
        "18446744073709551616",
        "99999999999999999999999",
    ];

    const SIZES: &[u64] = &[0, 1, 2, 6, 7, 10, 100, MAX - 1, MAX];

    #[test]
    fn oracle() {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        let (mut parts, mut unsatisfiable) = (0, 0);
        for _ in 0..300_000 {
            let mut value = String::new();
            if rng.below(2) == 0 {
                // well-formed-ish: bytes=[n]-[n] with 1 or 2 elements, some noise
                value.push_str(["bytes=", "Bytes=", " bytes=", "bytes= "][rng.below(4)]);
                for i in 0..1 + rng.below(4) / 3 {
                    if i > 0 {
                        value.push(',');
                    }
                    for piece in [NUMBERS, &["-"], NUMBERS] {
                        if rng.below(5) > 0 {
                            value.push_str(piece[rng.below(piece.len())]);
                        }
                    }
                }
                if rng.below(10) == 0 {
                    value.push_str(TOKENS[rng.below(TOKENS.len())]);
                }
            } else {
                for _ in 0..rng.below(7) {
                    value.push_str(TOKENS[rng.below(TOKENS.len())]);
                }
            }
            let size = SIZES[rng.below(SIZES.len())];
            let got = select(value.as_bytes(), size);
            assert_eq!(got, naive(value.as_bytes(), size), "{value:?} of {size}");
            match got {
                Selection::Part(_) => parts += 1,
                Unsatisfiable => unsatisfiable += 1,
                Whole => {}
            }
        }
        assert!(
            parts > 30_000 && unsatisfiable > 10_000,
            "{parts} {unsatisfiable}"
        );
        for case in CASES {
            assert_eq!(
                naive(case.value.as_bytes(), case.size),
                case.want,
                "oracle: {}",
                case.name
            );
        }
    }
}
