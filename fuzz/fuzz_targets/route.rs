//! `route::Route::parse` on any target: never panics; what it accepts is safe to use. Names
//! match the grammar, tags are tags, and a digest's blob path stays under `blobs/`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zarf_injector::digest::Digest;
use zarf_injector::route::{valid_media_type, valid_name, valid_tag, Reference, Route};

fn check_digest(digest: &Digest<'_>) {
    let path = digest.blob_path();
    assert!(path.starts_with("blobs/sha256/") || path.starts_with("blobs/sha512/"));
    assert_eq!(path.matches('/').count(), 2, "{path}");
    assert!(!path.contains(".."), "{path}");
    assert_eq!(Digest::parse(digest.text), Ok(*digest));
}

fuzz_target!(|data: &[u8]| {
    let Ok(target) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(route) = Route::parse(target) else {
        return;
    };
    match route {
        Route::Base => {}
        Route::Catalog(page) => {
            assert!(page.last.as_deref().is_none_or(valid_name));
        }
        Route::Tags { name, page } => {
            assert!(valid_name(name));
            assert!(page.last.as_deref().is_none_or(valid_tag));
        }
        Route::Manifest { name, reference } => {
            assert!(valid_name(name));
            match reference {
                Reference::Tag(tag) => assert!(valid_tag(tag)),
                Reference::Digest(digest) => check_digest(&digest),
            }
        }
        Route::Blob { name, digest } => {
            assert!(valid_name(name));
            check_digest(&digest);
        }
        Route::Referrers {
            name,
            digest,
            artifact_type,
        } => {
            assert!(valid_name(name));
            check_digest(&digest);
            assert!(artifact_type.as_deref().is_none_or(valid_media_type));
        }
    }
});
