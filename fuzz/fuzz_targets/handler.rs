//! The whole request handler: `http::parse_head`, then `registry::Registry::handle` over a
//! small layout on disk (built once). `$C`, `$L`, `$M`, `$I`, `$R` in the input become the
//! layout's digests, so the fuzzer reaches the answers behind valid names and digests.
//! Never panics; every answer has a known status, no header value holds CR, LF or NUL, a
//! file body stays inside its file, error bodies are the spec's JSON, and no file outside
//! `blobs/` is ever served.
#![no_main]

use fuzz_support::{expand, template};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use zarf_injector::http::{parse_head, Body, Parsed};
use zarf_injector::json;
use zarf_injector::registry::Registry;
use zarf_injector::repository::Repositories;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let root = &template().root;
        let repositories = Repositories::load(root).expect("template layout loads");
        Registry::new(root.clone(), repositories)
    })
}

fuzz_target!(|data: &[u8]| {
    let data = expand(data);
    let Parsed::Complete(request, _) = parse_head(&data) else {
        return;
    };
    let response = registry().handle(&request);
    assert!(
        matches!(response.status, 200 | 206 | 304 | 400 | 404 | 405 | 416),
        "status {}",
        response.status
    );
    for (name, value) in &response.headers {
        assert!(
            !value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0),
            "header {name}: {value:?}"
        );
    }
    match &response.body {
        Body::File {
            file, offset, len, ..
        } => {
            let size = file.metadata().expect("stat served file").len();
            assert!(offset.checked_add(*len).is_some_and(|end| end <= size));
            assert!(matches!(response.status, 200 | 206));
            let digest = response
                .headers
                .iter()
                .find(|(name, _)| *name == "Docker-Content-Digest")
                .map(|(_, value)| value.clone())
                .expect("a served file names its digest");
            assert!(
                template().digests.iter().any(|(_, d)| *d == digest),
                "{digest}"
            );
        }
        Body::Bytes(bytes) => {
            if response.status >= 400 {
                let body = json::parse(bytes).expect("error body is JSON");
                assert!(body.get("errors").and_then(|e| e.as_array()).is_some());
            }
        }
        // A manifest held in memory.
        Body::Static(_) => assert_eq!(response.status, 200),
    }
});
