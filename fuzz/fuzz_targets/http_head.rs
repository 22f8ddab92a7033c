//! `http::parse_head` on any bytes: never panics; a complete head is no longer than the input,
//! names a method and a target, and parses the same when more bytes follow it (pipelining).
#![no_main]

use libfuzzer_sys::fuzz_target;
use zarf_injector::http::{parse_head, Parsed};

fuzz_target!(|data: &[u8]| {
    match parse_head(data) {
        Parsed::Complete(request, used) => {
            assert!(used <= data.len());
            assert!(!request.method.is_empty());
            for (name, _) in &request.headers {
                assert_eq!(*name, name.to_ascii_lowercase());
            }
            // The same head followed by another request parses to the same length.
            let mut longer = data[..used].to_vec();
            longer.extend_from_slice(b"GET /v2/ HTTP/1.1\r\n\r\n");
            match parse_head(&longer) {
                Parsed::Complete(again, used_again) => {
                    assert_eq!(used_again, used);
                    assert_eq!(again.target, request.target);
                }
                _ => panic!("a complete head is no longer complete with bytes after it"),
            }
        }
        Parsed::Partial | Parsed::TooLarge | Parsed::Invalid => {}
    }
});
