//! `digest::Digest::parse` on any text: never panics; what it accepts is sha256/sha512 with
//! lowercase hex of the exact length (so its blob path is safe), and it agrees with
//! `Digest::well_formed`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zarf_injector::digest::{Algorithm, Digest};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = Digest::parse(text);
    let well_formed = Digest::well_formed(text);
    if let Ok(digest) = parsed {
        assert!(well_formed, "{text:?} parses but is not well-formed");
        let len = match digest.algorithm {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        };
        assert_eq!(digest.hex.len(), len);
        assert!(digest
            .hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_eq!(digest.text, text);
        assert_eq!(
            digest.blob_path(),
            format!("blobs/{}/{}", digest.algorithm.name(), digest.hex)
        );
    } else if text.starts_with("sha256:") || text.starts_with("sha512:") {
        assert!(
            !well_formed,
            "{text:?}: a sha256/sha512 digest that does not parse"
        );
    }
});
