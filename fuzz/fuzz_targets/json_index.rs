//! `json::parse`, then the layout readers on the document: the first byte chooses whether it
//! is `index.json` (0), or a manifest (1) or an image index (2) blob that `index.json` names
//! by its real digest. `Repositories::load` and `layout::verify` must not panic, and what
//! the map answers must be consistent: names and tags fit their grammar (they are sent in
//! headers), and a tag that resolves is served by its digest too.
#![no_main]

use fuzz_support::{put_blob, template};
use libfuzzer_sys::fuzz_target;
use std::fs;
use zarf_injector::json;
use zarf_injector::layout;
use zarf_injector::repository::Repositories;
use zarf_injector::route::{valid_name, valid_tag};

const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const INDEX: &str = "application/vnd.oci.image.index.v1+json";

fuzz_target!(|data: &[u8]| {
    let Some((&mode, document)) = data.split_first() else {
        return;
    };
    if let Ok(value) = json::parse(document) {
        let mut text = String::new();
        if let Some(s) = value.as_str() {
            json::push_string(&mut text, s);
            assert_eq!(json::parse(text.as_bytes()).ok(), Some(value.clone()));
        }
    }
    let root = &template().root;
    let saved = fs::read(root.join("index.json")).expect("read index.json");
    let mut added = None;
    let index_json = match mode % 3 {
        0 => document.to_vec(),
        kind => {
            let media_type = if kind == 1 { MANIFEST } else { INDEX };
            let digest = put_blob(root, document);
            if !template().digests.iter().any(|(_, d)| *d == digest) {
                added = Some(digest.clone());
            }
            format!(
                r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{media_type}","digest":"{digest}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"fuzz/x:t"}}}}]}}"#,
                document.len()
            )
            .into_bytes()
        }
    };
    fs::write(root.join("index.json"), &index_json).expect("write index.json");
    let _ = layout::verify(root);
    if let Ok(repositories) = Repositories::load(root) {
        let names: Vec<String> = repositories.names().map(str::to_string).collect();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(names, sorted, "catalog names sorted and unique");
        for name in &names {
            // Names and tags end up in headers (`Link`) and JSON: only grammar-valid ones.
            assert!(valid_name(name), "{name:?}");
            assert!(repositories.exists(name));
            let tags = repositories
                .tags(name)
                .expect("a listed repository has tags");
            for tag in tags {
                assert!(valid_tag(tag), "{tag:?}");
                // A tag whose manifest did not load is listed but 404s; one that resolves
                // must also be served by its digest.
                if let Some(info) = repositories.resolve(name, tag) {
                    assert!(repositories.manifest(name, &info.digest).is_some());
                }
            }
        }
    }
    fs::write(root.join("index.json"), saved).expect("restore index.json");
    if let Some(digest) = added {
        let _ = fs::remove_file(root.join("blobs/sha256").join(&digest["sha256:".len()..]));
    }
});
