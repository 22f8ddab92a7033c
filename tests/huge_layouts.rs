//! Issue 12, cases 1 and 3: huge and hostile layouts, against the real binary.
//!
//! 1. Memory is bounded by the largest JSON document, whatever the nesting: the peak RSS of
//!    the process (VmHWM, read from /proc once it listens) stays under twice the largest
//!    document plus 8 MiB, in `serve` and in inject mode, for a 4 MiB `index.json` of
//!    `[0,0,…]` and for eight nested indexes of 4 MiB each (36 MiB of JSON). What the
//!    repository map keeps comes on top: 1 KiB per manifest is allowed for it (~0.6 KB
//!    measured).
//! 3. Real-world limits with room to spare, all served: 50,000 manifests in a 33 MiB
//!    `index.json`, a nested index of 3.6 MB with 15,000 children; past a limit the layout
//!    is refused at start-up with one line naming the limit (never a catalog or tag list
//!    naming what then answers 404).

mod common;

use common::*;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::time::Instant;

const MIB: usize = 1 << 20;
const DOCUMENT_LIMIT: usize = 4 * MIB;

/// The peak resident set of process `pid`, in bytes (VmHWM).
fn peak_rss(pid: u32) -> usize {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc status");
    let line = status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .expect("VmHWM in /proc status");
    let kb: usize = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .expect("VmHWM in kB");
    kb * 1024
}

/// What the repository map keeps per manifest (and its repository, tag and digest): measured
/// at ~0.6 KB (docs/HARDENING.md); this is the allowance the big-layout tests give it on top
/// of the bound of case 1.
const KEPT_PER_MANIFEST: usize = 1024;

/// Asserts the bound of issue 12 on a running (listening) process: twice the largest document
/// plus 8 MiB, plus [`KEPT_PER_MANIFEST`] for each of `manifests` manifests.
fn assert_memory_bound(case: &str, running: &Running, largest_document: usize, manifests: usize) {
    let peak = peak_rss(running.id());
    let bound = 2 * largest_document + 8 * MIB + manifests * KEPT_PER_MANIFEST;
    eprintln!(
        "{case}: peak RSS {} kB (bound {} kB)",
        peak / 1024,
        bound / 1024
    );
    assert!(
        peak <= bound,
        "{case}: peak RSS {} kB over the bound {} kB (2 x {} kB + 8 MiB + {manifests} KiB)",
        peak / 1024,
        bound / 1024,
        largest_document / 1024
    );
}

/// `oci-layout` and an empty `blobs/sha256` in `dir`.
fn start_layout(dir: &Path) {
    fs::create_dir_all(dir.join("blobs/sha256")).expect("create blobs");
    fs::write(dir.join("oci-layout"), OCI_LAYOUT).expect("write oci-layout");
}

/// Stores `bytes` as a blob of `dir`; returns `"digest":"…","size":N`.
fn put_blob(dir: &Path, bytes: &[u8]) -> String {
    let hex = sha256_hex(bytes);
    fs::write(dir.join("blobs/sha256").join(&hex), bytes).expect("write blob");
    format!(r#""digest":"sha256:{hex}","size":{}"#, bytes.len())
}

/// Stores `levels` image indexes in `dir`, each listing the one stored before it (the first
/// lists nothing); `document` makes each one's bytes from its opening
/// `{"schemaVersion":2,"mediaType":…,"manifests":[…]`. Returns the last one's
/// `"digest":…,"size":…`.
fn index_chain(dir: &Path, levels: usize, document: impl Fn(String) -> Vec<u8>) -> String {
    let mut child = String::new();
    for _ in 0..levels {
        let manifests = if child.is_empty() {
            String::new()
        } else {
            format!(r#"{{"mediaType":"{INDEX}",{child}}}"#)
        };
        let opening =
            format!(r#"{{"schemaVersion":2,"mediaType":"{INDEX}","manifests":[{manifests}]"#);
        child = put_blob(dir, &document(opening));
    }
    child
}

/// `head` (an object's opening, up to and including a comma) followed by `"x":[0,0,…]}` so
/// that the document is exactly `size` bytes: one JSON node per two bytes.
fn padded_with_zeros(head: &str, size: usize) -> Vec<u8> {
    let mut doc = head.as_bytes().to_vec();
    doc.extend_from_slice(b"\"x\":[0");
    let closing = b"]}";
    assert!(doc.len() + closing.len() < size, "head longer than {size}");
    while doc.len() + closing.len() + 2 <= size {
        doc.extend_from_slice(b",0");
    }
    while doc.len() + closing.len() < size {
        doc.push(b' ');
    }
    doc.extend_from_slice(closing);
    assert_eq!(doc.len(), size);
    doc
}

/// Case 1a: `index.json` of 4 MiB, `{"manifests":[],"x":[0,0,…]}`. Largest document: 4 MiB.
fn zeros_index(dir: &Path) -> usize {
    start_layout(dir);
    let doc = padded_with_zeros(r#"{"schemaVersion":2,"manifests":[],"#, DOCUMENT_LIMIT);
    fs::write(dir.join("index.json"), doc).expect("write index.json");
    DOCUMENT_LIMIT
}

/// Case 1b: `index.json` → 8 nested image indexes, each document 4 MiB of `[0,0,…]` around
/// the descriptor of the next (36 MiB of JSON), the deepest nesting the layout accepts.
/// Returns the largest document's size and the descriptor of the first index.
fn nested_indexes(dir: &Path) -> (usize, String) {
    start_layout(dir);
    let child = index_chain(dir, 8, |opening| {
        padded_with_zeros(&(opening + ","), DOCUMENT_LIMIT)
    });
    let head = format!(
        r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{INDEX}",{child},"annotations":{{"{REF_NAME}":"nested/x:v1"}}}}],"#
    );
    let index = padded_with_zeros(&head, DOCUMENT_LIMIT);
    fs::write(dir.join("index.json"), index).expect("write index.json");
    (DOCUMENT_LIMIT, child)
}

/// Serves `dir` and checks the memory bound once it listens.
fn serve_within_bound(case: &str, dir: &Path, largest: usize) -> Running {
    let running = start(serve_command(dir), START_TIMEOUT);
    assert_memory_bound(case, &running, largest, 0);
    running
}

/// Packs `src` into chunks in `f.init`, unpacks and serves it, and checks the memory bound.
fn inject_within_bound(case: &str, f: &Fixture, largest: usize, manifests: usize) -> Running {
    tar_gz_dir(&f.src, &f.payload, 1, &TarOptions::PLAIN);
    let checksum = f.chunk_payload(786_432);
    let running = run_injector(&checksum, &f.init, &f.seed);
    assert_memory_bound(case, &running, largest, manifests);
    running
}

#[test]
fn issue12_a_4_mib_index_of_zeros_stays_within_the_memory_bound() {
    let f = Fixture::new("zeros");
    let largest = zeros_index(&f.src);
    let running = serve_within_bound("serve: 4 MiB index.json of zeros", &f.src, largest);
    assert_eq!(http_get(running.addr, "/v2/").status, 200);
    drop(running);
    let running = inject_within_bound("inject: 4 MiB index.json of zeros", &f, largest, 0);
    assert_eq!(http_get(running.addr, "/v2/").status, 200);
}

#[test]
fn issue12_eight_nested_4_mib_indexes_stay_within_the_memory_bound() {
    let f = Fixture::new("nested");
    let (largest, first) = nested_indexes(&f.src);
    let size: usize = first.rsplit(':').next().unwrap().parse().unwrap();
    for mode in ["serve", "inject"] {
        let case = format!("{mode}: 8 nested indexes of 4 MiB");
        let running = if mode == "serve" {
            serve_within_bound(&case, &f.src, largest)
        } else {
            inject_within_bound(&case, &f, largest, 0)
        };
        let response = http_get(running.addr, "/v2/nested/x/manifests/v1");
        assert_eq!(response.status, 200, "{case}");
        assert_eq!(response.body.len(), size, "{case}");
    }
}

/// A layout of `count` image manifests, each the only one of repository `team/repo<i>` (tag `v1`),
/// sharing one config and one layer, with `index.json` padded to at least `index_size` bytes.
/// Returns the size of `index.json` and the layer's digest.
fn many_images(dir: &Path, count: usize, index_size: usize) -> (usize, String) {
    start_layout(dir);
    let config = put_blob(dir, b"{\"architecture\":\"amd64\",\"os\":\"linux\"}");
    let layer_bytes = b"a layer shared by every image";
    let layer = put_blob(dir, layer_bytes);
    let per_entry = 200;
    let padding = "p".repeat(index_size.saturating_sub(count * per_entry) / count);
    let mut index = String::with_capacity(index_size + count * 64);
    index.push_str(r#"{"schemaVersion":2,"manifests":["#);
    for i in 0..count {
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"{MANIFEST}","config":{{"mediaType":"{CONFIG}",{config}}},"layers":[{{"mediaType":"{LAYER_TAR}",{layer}}}],"annotations":{{"n":"{i}"}}}}"#
        );
        let descriptor = put_blob(dir, manifest.as_bytes());
        if i > 0 {
            index.push(',');
        }
        write!(
            index,
            r#"{{"mediaType":"{MANIFEST}",{descriptor},"annotations":{{"{REF_NAME}":"team/repo{i}:v1","pad":"{padding}"}}}}"#
        )
        .unwrap();
    }
    index.push_str("]}");
    assert!(index.len() >= index_size, "{} < {index_size}", index.len());
    fs::write(dir.join("index.json"), &index).expect("write index.json");
    (index.len(), format!("sha256:{}", sha256_hex(layer_bytes)))
}

/// Checks that every one of `count` repositories is listed and the first, middle and last
/// serve their tag, manifest and layer.
fn assert_all_served(case: &str, running: &Running, count: usize, layer: &str) {
    let catalog = http_get(running.addr, "/v2/_catalog");
    assert_eq!(catalog.status, 200, "{case}");
    let body = String::from_utf8(catalog.body).unwrap();
    assert_eq!(
        body.matches("\"team/repo").count(),
        count,
        "{case}: catalog"
    );
    for i in [0, count / 2, count - 1] {
        let tags = http_get(running.addr, &format!("/v2/team/repo{i}/tags/list"));
        assert_eq!(tags.status, 200, "{case}: repo{i} tags");
        let manifest = http_get(running.addr, &format!("/v2/team/repo{i}/manifests/v1"));
        assert_eq!(manifest.status, 200, "{case}: repo{i} manifest");
        let blob = http_get(running.addr, &format!("/v2/team/repo{i}/blobs/{layer}"));
        assert_eq!(blob.status, 200, "{case}: repo{i} layer");
    }
}

#[test]
fn issue12_fifty_thousand_manifests_in_a_33_mib_index_are_all_served() {
    let tmp = TempDir::new("fifty-thousand");
    let count = 50_000;
    let (index_size, layer) = many_images(tmp.path(), count, 33 * MIB);
    let started = Instant::now();
    let running = start(serve_command(tmp.path()), START_TIMEOUT);
    eprintln!(
        "50,000 manifests, index.json of {index_size} bytes: listening after {} ms (debug build)",
        started.elapsed().as_millis()
    );
    let case = "serve: 50,000 manifests, 33 MiB index.json";
    assert_memory_bound(case, &running, index_size, count);
    assert_all_served(case, &running, count, &layer);
}

/// The issue's other example: 20,000 images in a 4.9 MB `index.json`, in inject mode.
#[test]
fn issue12_twenty_thousand_images_unpack_and_are_all_served() {
    let f = Fixture::new("twenty-thousand");
    let count = 20_000;
    let (index_size, layer) = many_images(&f.src, count, 4_900_000);
    let case = "inject: 20,000 images, 4.9 MB index.json";
    let running = inject_within_bound(case, &f, index_size, count);
    assert_all_served(case, &running, count, &layer);
}

/// A nested index of 3.6 MB with 15,000 platform manifests: the index and every child served.
#[test]
fn issue12_a_3_6_mb_nested_index_and_all_its_children_are_served() {
    let tmp = TempDir::new("big-nested");
    let dir = tmp.path();
    start_layout(dir);
    let config = put_blob(dir, b"{}");
    let mut children = Vec::new();
    let mut entries = String::new();
    for i in 0..15_000 {
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"{MANIFEST}","config":{{"mediaType":"{CONFIG}",{config}}},"layers":[],"annotations":{{"n":"{i}"}}}}"#
        );
        let descriptor = put_blob(dir, manifest.as_bytes());
        if i > 0 {
            entries.push(',');
        }
        write!(
            entries,
            r#"{{"mediaType":"{MANIFEST}",{descriptor},"platform":{{"os":"linux","architecture":"arch{i}"}},"annotations":{{"i":"{i:020}"}}}}"#
        )
        .unwrap();
        children.push(descriptor);
    }
    let nested = format!(r#"{{"schemaVersion":2,"mediaType":"{INDEX}","manifests":[{entries}]}}"#);
    assert!(
        nested.len() > 3_500_000 && nested.len() < DOCUMENT_LIMIT,
        "{}",
        nested.len()
    );
    let descriptor = put_blob(dir, nested.as_bytes());
    let index = format!(
        r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{INDEX}",{descriptor},"annotations":{{"{REF_NAME}":"big/nested:v1"}}}}]}}"#
    );
    fs::write(dir.join("index.json"), index).expect("write index.json");
    let running = start(serve_command(dir), START_TIMEOUT);
    assert_memory_bound(
        "serve: a 3.6 MB nested index",
        &running,
        nested.len(),
        15_000,
    );
    let response = http_get(running.addr, "/v2/big/nested/manifests/v1");
    assert_eq!(response.status, 200, "the nested index by tag");
    assert_eq!(response.body.len(), nested.len());
    for i in [0, 9_999, 10_000, 14_999] {
        let digest = children[i].split('"').nth(3).unwrap();
        let response = http_get(running.addr, &format!("/v2/big/nested/manifests/{digest}"));
        assert_eq!(response.status, 200, "child {i}");
    }
}

/// A layout over a limit: refused at start-up, exit 1, one stderr line naming the limit.
struct OverLimit {
    name: &'static str,
    build: fn(&Path),
    /// What the one line must say.
    says: &'static str,
}

const OVER_LIMITS: &[OverLimit] = &[
    OverLimit {
        name: "index.json of 64 MiB + 1 byte",
        build: |dir| {
            start_layout(dir);
            let doc = padded_with_zeros(r#"{"manifests":[],"#, 64 * MIB + 1);
            fs::write(dir.join("index.json"), doc).unwrap();
        },
        says: "index.json: index.json larger than 64 MiB (the limit)",
    },
    OverLimit {
        name: "a manifest of 4 MiB + 1 byte",
        build: |dir| {
            start_layout(dir);
            let config = put_blob(dir, b"{}");
            let head = format!(
                r#"{{"schemaVersion":2,"mediaType":"{MANIFEST}","config":{{"mediaType":"{CONFIG}",{config}}},"layers":[],"#
            );
            let manifest = put_blob(dir, &padded_with_zeros(&head, DOCUMENT_LIMIT + 1));
            let index = format!(
                r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{MANIFEST}",{manifest},"annotations":{{"{REF_NAME}":"big/manifest:v1"}}}}]}}"#
            );
            fs::write(dir.join("index.json"), index).unwrap();
        },
        says: "manifest larger than 4 MiB (the limit)",
    },
    OverLimit {
        name: "100,001 manifests",
        build: |dir| {
            start_layout(dir);
            let mut index = String::from(r#"{"manifests":["#);
            for i in 0..100_001u32 {
                if i > 0 {
                    index.push(',');
                }
                let hex = sha256_hex(&i.to_le_bytes());
                write!(
                    index,
                    r#"{{"mediaType":"{MANIFEST}","digest":"sha256:{hex}","size":2}}"#
                )
                .unwrap();
            }
            index.push_str("]}");
            fs::write(dir.join("index.json"), index).unwrap();
        },
        says: "index.json: more than 100000 manifests (the limit)",
    },
    OverLimit {
        name: "ten nested indexes",
        build: |dir| {
            start_layout(dir);
            let child = index_chain(dir, 10, |opening| (opening + "}").into_bytes());
            let index = format!(r#"{{"manifests":[{{"mediaType":"{INDEX}",{child}}}]}}"#);
            fs::write(dir.join("index.json"), index).unwrap();
        },
        says: "manifests nest over 8 levels below index.json (the limit)",
    },
];

#[test]
fn issue12_layouts_over_a_limit_are_refused_at_start_up_naming_the_limit() {
    run_cases(
        OVER_LIMITS,
        |case| case.name,
        |case| {
            let tmp = TempDir::new("over-limit");
            (case.build)(tmp.path());
            let exit = run_to_exit(serve_command(tmp.path()), EXIT_TIMEOUT);
            assert_eq!(exit.status.code(), Some(1), "{}: {exit:?}", case.name);
            let lines: Vec<&str> = exit.stderr.lines().collect();
            assert_eq!(lines.len(), 1, "{}: one line: {lines:?}", case.name);
            assert!(
                lines[0].starts_with("zarf-injector: ") && lines[0].contains(case.says),
                "{}: {:?} does not say {:?}",
                case.name,
                lines[0],
                case.says
            );
            assert!(!exit.stdout.contains("listening on"), "{}", case.name);
        },
    );
}
