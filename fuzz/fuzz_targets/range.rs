//! `range::select` on any header value and blob size, compared with a naive reading of
//! RFC 9110 §14 on strings and numbers of any size (the oracle of `src/range.rs`'s unit tests,
//! copied: those are private to the crate). The first 8 bytes are the size (little-endian;
//! the first byte alone when it is below 0x80, so small sizes are common).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::cmp::Ordering;
use zarf_injector::range::{select, ByteRange, Selection};

fn compare(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then(a.cmp(b))
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_digit())
}

fn part(start: &str, end: &str) -> Selection {
    Selection::Part(ByteRange {
        start: start.trim_start_matches('0').parse().unwrap_or(0),
        end_inclusive: end.trim_start_matches('0').parse().unwrap_or(0),
    })
}

fn naive(value: &[u8], size: u64) -> Selection {
    let Ok(value) = std::str::from_utf8(value) else {
        // Non-UTF-8 bytes can only be stray characters: invalid syntax, ignored.
        return naive_bytes(value, size);
    };
    let Some((unit, set)) = value.trim_matches([' ', '\t']).split_once('=') else {
        return Selection::Whole;
    };
    if !unit.eq_ignore_ascii_case("bytes") {
        return Selection::Whole;
    }
    let specs: Vec<&str> = set
        .split(',')
        .map(|s| s.trim_matches([' ', '\t']))
        .filter(|s| !s.is_empty())
        .collect();
    if specs.len() != 1 || size == 0 {
        return Selection::Whole;
    }
    let size_text = size.to_string();
    let last_byte = (size - 1).to_string();
    let Some((first, last)) = specs[0].split_once('-') else {
        return Selection::Whole;
    };
    if first.is_empty() {
        if !is_number(last) {
            return Selection::Whole;
        }
        if compare(last, "0") == Ordering::Equal {
            return Selection::Unsatisfiable;
        }
        if compare(last, &size_text) != Ordering::Less {
            return part("0", &last_byte);
        }
        let start = (size - last.parse::<u64>().expect("below size")).to_string();
        return part(&start, &last_byte);
    }
    if !is_number(first) || !(last.is_empty() || is_number(last)) {
        return Selection::Whole;
    }
    if !last.is_empty() && compare(last, first) == Ordering::Less {
        return Selection::Whole;
    }
    if compare(first, &size_text) != Ordering::Less {
        return Selection::Unsatisfiable;
    }
    if last.is_empty() || compare(last, &last_byte) != Ordering::Less {
        part(first, &last_byte)
    } else {
        part(first, last)
    }
}

/// For values that are not UTF-8: the same decision with every non-ASCII byte made a stray
/// character (`x`), which is what it is to the grammar.
fn naive_bytes(value: &[u8], size: u64) -> Selection {
    let ascii: Vec<u8> = value
        .iter()
        .map(|&b| if b.is_ascii() { b } else { b'x' })
        .collect();
    naive(&ascii, size)
}

fuzz_target!(|data: &[u8]| {
    let (size, value) = match data.first() {
        Some(&b) if b < 0x80 => (u64::from(b), &data[1..]),
        _ if data.len() >= 8 => {
            let (size, value) = data.split_at(8);
            (u64::from_le_bytes(size.try_into().expect("8 bytes")), value)
        }
        _ => return,
    };
    let got = select(value, size);
    if let Selection::Part(range) = got {
        assert!(range.start <= range.end_inclusive && range.end_inclusive < size);
    }
    assert_eq!(
        got,
        naive(value, size),
        "{:?} of {size}",
        String::from_utf8_lossy(value)
    );
});
