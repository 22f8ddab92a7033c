//! `zarf-injector <sha256> [bind]` end to end: chunks in `$ZARF_INJECTOR_INIT_ROOT`, a gzip'd
//! (or plain) tar of an OCI layout, unpacked into `$ZARF_INJECTOR_SEED_ROOT`, then served.
//! Also `serve <dir>`, `--help`, `--version` and bad command lines.
//!
//! Every failure must exit non-zero with one stderr line `zarf-injector: ...` naming the file
//! and the reason, and leave the seed directory empty.

mod common;

use common::*;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use zarf_injector::error::Error;

/// Zarf's chunk size: 768 KiB, under the 1 MiB ConfigMap limit.
const CHUNK: u64 = 786_432;

/// Splits the fixture's payload into 786432-byte chunks; returns its SHA-256.
fn chunk(f: &Fixture) -> String {
    f.chunk_payload(CHUNK)
}

/// Splits the fixture's payload into about `count` chunks; returns its SHA-256.
fn chunk_into(f: &Fixture, count: u64) -> String {
    let len = fs::metadata(&f.payload).expect("stat payload").len();
    f.chunk_payload(len.div_ceil(count).max(1))
}

/// Asserts a clean failure: exit code non-zero (no signal), stdout without `listening on`,
/// stderr exactly one line `zarf-injector: ...` without `panicked`, holding the message of one
/// of `reasons` and, if `names` is not empty, one of `names`.
fn assert_failed(case: &str, exit: &Exit, reasons: &[Error], names: &[String]) {
    let report = format!("{case}: {exit:#?}");
    assert!(!exit.status.success(), "{report}\nexited 0");
    assert!(exit.status.code().is_some(), "{report}\nkilled by a signal");
    assert!(!exit.stdout.contains("listening on"), "{report}\nserved");
    let lines: Vec<&str> = exit.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{report}\nstderr is not one line");
    let line = lines[0];
    assert!(line.starts_with("zarf-injector: "), "{report}\nno prefix");
    assert!(!line.contains("panicked"), "{report}\npanicked");
    let reason = reasons.iter().any(|r| line.contains(r.message()));
    assert!(reason, "{report}\nnone of the reasons {reasons:?}");
    let named = names.is_empty() || names.iter().any(|n| line.contains(n.as_str()));
    assert!(named, "{report}\nnames none of {names:?}");
}

/// Asserts the four phase lines of a successful unpack.
fn assert_phase_lines(case: &str, stdout: &[String], expect: &Phases) {
    assert_eq!(stdout.len(), 4, "{case}: stdout {stdout:#?}");
    let found = format!(
        "found {} chunks, {} bytes in {}",
        expect.chunks,
        expect.bytes,
        expect.init.display()
    );
    assert_eq!(stdout[0], found, "{case}: found line");
    let verified = format!("verified sha256:{}", expect.checksum);
    assert_eq!(stdout[1], verified, "{case}: verified line");
    assert_extracted_line(case, &stdout[2], expect.files);
    assert!(
        stdout[3].starts_with("listening on 127.0.0.1:"),
        "{case}: listening line {:?}",
        stdout[3]
    );
}

/// What the phase lines must say.
struct Phases<'a> {
    chunks: usize,
    bytes: u64,
    init: &'a Path,
    checksum: &'a str,
    files: usize,
}

/// `extracted N files in T s at X MB/s`, with N the number of regular files.
fn assert_extracted_line(case: &str, line: &str, files: usize) {
    let prefix = format!("extracted {files} files in ");
    let rest = line.strip_prefix(&prefix);
    let rest = rest.unwrap_or_else(|| panic!("{case}: {line:?} does not start {prefix:?}"));
    let (seconds, rate) = rest
        .split_once(" s at ")
        .unwrap_or_else(|| panic!("{case}: {line:?} lacks ` s at `"));
    let rate = rate
        .strip_suffix(" MB/s")
        .unwrap_or_else(|| panic!("{case}: {line:?} lacks ` MB/s`"));
    for number in [seconds, rate] {
        let value: f64 = number
            .parse()
            .unwrap_or_else(|e| panic!("{case}: {number:?} in {line:?}: {e}"));
        assert!(value.is_finite() && value >= 0.0, "{case}: {line:?}");
    }
}

/// `GET /v2/` answers 200 with `Docker-Distribution-API-Version: registry/2.0` (end-1).
fn assert_v2(case: &str, running: &Running) {
    let response = http_get(running.addr, "/v2/");
    assert_eq!(response.status, 200, "{case}: GET /v2/ {response:?}");
    let version = response.header("Docker-Distribution-API-Version");
    assert_eq!(version, Some("registry/2.0"), "{case}: {response:?}");
}

fn regular_files(dir: &Path) -> usize {
    list_tree(dir).values().filter(|kind| **kind == 'f').count()
}

// ----------------------------------------------------------------------------------------------
// Success

/// How a success case archives its layout.
#[derive(Clone, Copy, Debug)]
enum Pack {
    /// With the tar crate; gzip'd at this level, or plain.
    Crate(Option<u32>, TarOptions),
    /// With GNU tar `--format=FORMAT`, gzip'd or plain (entries start with `./`).
    Gnu(&'static str, bool),
}

/// How a success case names and sizes its chunks.
#[derive(Clone, Copy, Debug)]
enum Split {
    /// `zarf-payload-%03d` of this many bytes.
    Size(u64),
    /// `zarf-payload-%03d`, at least this many (tiny) chunks.
    AtLeast(u64),
    /// `zarf-payload-%d` (no padding), at least this many chunks.
    Unpadded(u64),
}

/// The state of the seed dir before a success case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seed {
    /// Exists, empty.
    Empty,
    /// Holds stale files with the names of payload files (the payload must win).
    Stale,
    /// Does not exist yet.
    Missing,
}

struct Success {
    name: &'static str,
    layout: LayoutOptions,
    pack: Pack,
    split: Split,
    /// The seed dir before the run.
    seed: Seed,
}

const WITH_LONG_NAMES: LayoutOptions = LayoutOptions {
    extra_files: &[LONG_SPLIT_PATH, LONG_NAME_PATH],
    ..LayoutOptions::DEFAULT
};
const WITH_USTAR_LONG_NAME: LayoutOptions = LayoutOptions {
    extra_files: &[LONG_SPLIT_PATH],
    ..LayoutOptions::DEFAULT
};
const DOT_SLASH_NO_DIRS: TarOptions = TarOptions {
    prefix: "./",
    dir_entries: false,
};

const SUCCESS: &[Success] = &[
    Success {
        name: "tar.gz (tar crate), 786432-byte chunks",
        layout: LayoutOptions::DEFAULT,
        pack: Pack::Crate(Some(6), TarOptions::PLAIN),
        split: Split::Size(CHUNK),
        seed: Seed::Empty,
    },
    Success {
        name: "uncompressed tar",
        layout: LayoutOptions {
            seed: 3,
            ..LayoutOptions::DEFAULT
        },
        pack: Pack::Crate(None, TarOptions::PLAIN),
        split: Split::Size(CHUNK),
        seed: Seed::Empty,
    },
    Success {
        name: "tar crate, GNU long-name entries",
        layout: WITH_LONG_NAMES,
        pack: Pack::Crate(Some(6), TarOptions::PLAIN),
        split: Split::Size(CHUNK),
        seed: Seed::Empty,
    },
    Success {
        name: "GNU tar --format=ustar, long path split into prefix and name",
        layout: WITH_USTAR_LONG_NAME,
        pack: Pack::Gnu("ustar", true),
        split: Split::Size(CHUNK),
        seed: Seed::Empty,
    },
    Success {
        name: "GNU tar --format=pax, long names in PAX headers",
        layout: WITH_LONG_NAMES,
        pack: Pack::Gnu("pax", true),
        split: Split::Size(CHUNK),
        seed: Seed::Empty,
    },
    Success {
        name: "GNU tar --format=gnu, GNU long names",
        layout: WITH_LONG_NAMES,
        pack: Pack::Gnu("gnu", true),
        split: Split::Size(CHUNK),
        seed: Seed::Empty,
    },
    Success {
        name: "GNU tar --format=pax, uncompressed",
        layout: WITH_LONG_NAMES,
        pack: Pack::Gnu("pax", false),
        split: Split::Size(CHUNK),
        seed: Seed::Empty,
    },
    Success {
        name: "./ prefixed entries without directory entries",
        layout: LayoutOptions::DEFAULT,
        pack: Pack::Crate(Some(6), DOT_SLASH_NO_DIRS),
        split: Split::Size(CHUNK),
        seed: Seed::Empty,
    },
    Success {
        name: "seed dir already holds stale files of the same names",
        layout: LayoutOptions::DEFAULT,
        pack: Pack::Crate(Some(6), TarOptions::PLAIN),
        split: Split::Size(CHUNK),
        seed: Seed::Stale,
    },
    Success {
        name: "seed dir does not exist yet",
        layout: LayoutOptions::TINY,
        pack: Pack::Crate(Some(6), TarOptions::PLAIN),
        split: Split::Size(CHUNK),
        seed: Seed::Missing,
    },
    Success {
        name: "1100 tiny chunks: -999 then -1000 (numeric, not lexical, order)",
        layout: LayoutOptions::TINY,
        pack: Pack::Crate(Some(6), TarOptions::PLAIN),
        split: Split::AtLeast(1100),
        seed: Seed::Empty,
    },
    Success {
        name: "unpadded chunk names: -9 then -10",
        layout: LayoutOptions::TINY,
        pack: Pack::Crate(Some(6), TarOptions::PLAIN),
        split: Split::Unpadded(25),
        seed: Seed::Empty,
    },
];

fn pack(pack: Pack, src: &Path, out: &Path) {
    match pack {
        Pack::Crate(Some(level), options) => tar_gz_dir(src, out, level, &options),
        Pack::Crate(None, options) => tar_dir(src, out, &options),
        Pack::Gnu(format, gzip) => gnu_tar(src, out, format, gzip),
    }
}

fn split(split: Split, payload: &Path, init: &Path) -> usize {
    let len = fs::metadata(payload).expect("stat payload").len();
    match split {
        Split::Size(size) => split_into_chunks(payload, init, size),
        Split::AtLeast(n) => split_into_chunks(payload, init, (len / n).max(1)),
        Split::Unpadded(n) => split_into_chunks_named(payload, init, (len / n).max(1), |i| {
            format!("zarf-payload-{i}")
        }),
    }
}

/// Stale `oci-layout`, `index.json` and blob files where the payload has files of those names.
fn write_stale_seed(seed: &Path, layout: &Layout) {
    fs::create_dir_all(seed.join("blobs/sha256")).expect("create stale blobs");
    fs::write(seed.join("oci-layout"), "stale").expect("stale oci-layout");
    fs::write(seed.join("index.json"), "{\"stale\":true}").expect("stale index.json");
    for blob in layout.blobs.iter().take(3) {
        fs::write(blob.path(seed), "stale blob").expect("stale blob");
    }
}

fn check_success(case: &Success) {
    let f = Fixture::new("ok");
    let layout = build_layout(&f.src, &case.layout);
    match case.seed {
        Seed::Empty => {}
        Seed::Stale => write_stale_seed(&f.seed, &layout),
        Seed::Missing => fs::remove_dir(&f.seed).expect("remove seed"),
    }
    pack(case.pack, &f.src, &f.payload);
    let chunks = split(case.split, &f.payload, &f.init);
    let checksum = sha256_file(&f.payload);
    let running = run_injector(&checksum, &f.init, &f.seed);
    let expect = Phases {
        chunks,
        bytes: fs::metadata(&f.payload).expect("stat payload").len(),
        init: &f.init,
        checksum: &checksum,
        files: regular_files(&f.src),
    };
    assert_phase_lines(case.name, &running.stdout, &expect);
    assert_v2(case.name, &running);
    drop(running);
    assert_same_tree(&f.src, &f.seed);
}

#[test]
fn unpacks_and_serves() {
    run_cases(SUCCESS, |c| c.name, check_success);
}

/// Over 1000 Zarf-sized chunks (a ~800 MB layer gzip'd at level 0, streamed straight into the
/// chunks): chunk -1000 must come after -999, and the whole thing within the start timeout.
#[test]
fn unpacks_more_than_1000_chunks_of_786432_bytes() {
    let case = "1000+ chunks of 786432 bytes";
    let started = Instant::now();
    let f = Fixture::new("big");
    let options = LayoutOptions {
        big_layer: 800_000_000,
        ..LayoutOptions::DEFAULT
    };
    build_layout(&f.src, &options);
    let built = started.elapsed();
    let chunks = HashingWriter::new(ChunkWriter::new(&f.init, CHUNK, chunk_name));
    let chunks = tar_gz_into(&f.src, chunks, 0, &TarOptions::PLAIN);
    let (chunks, checksum, bytes) = chunks.finish();
    let count = chunks.finish();
    assert!(count > 1000, "{case}: only {count} chunks");
    let packed = started.elapsed();
    let running = start(
        unpack_command(&checksum, &f.init, &f.seed),
        Duration::from_secs(300),
    );
    let unpacked = started.elapsed();
    let expect = Phases {
        chunks: count,
        bytes,
        init: &f.init,
        checksum: &checksum,
        files: regular_files(&f.src),
    };
    assert_phase_lines(case, &running.stdout, &expect);
    assert_v2(case, &running);
    drop(running);
    assert_same_tree(&f.src, &f.seed);
    let compared = started.elapsed();
    drop(f);
    eprintln!(
        "{case}: {count} chunks, {bytes} bytes; layout {built:?}, packed {packed:?}, \
         unpacked {unpacked:?}, compared {compared:?}, cleaned {:?}",
        started.elapsed()
    );
}

// ----------------------------------------------------------------------------------------------
// Chunk failures

struct ChunkCase {
    name: &'static str,
    /// Damages the chunks in `init`; returns the checksum to pass and the names to expect.
    setup: fn(&Fixture, String) -> (String, Vec<String>),
    reasons: &'static [Error],
}

fn init_file(f: &Fixture, name: &str) -> PathBuf {
    f.init.join(name)
}

const CHUNK_CASES: &[ChunkCase] = &[
    ChunkCase {
        name: "wrong checksum",
        setup: |_, _| (sha256_hex(b"another payload"), vec![]),
        reasons: &[Error::ChecksumMismatch],
    },
    ChunkCase {
        name: "gap: -000 and -002 without -001",
        setup: |f, sum| {
            fs::remove_file(init_file(f, "zarf-payload-001")).expect("remove -001");
            (
                sum,
                vec!["zarf-payload-001".into(), "zarf-payload-002".into()],
            )
        },
        reasons: &[Error::ChunkMissing],
    },
    ChunkCase {
        name: "first chunk -000 missing",
        setup: |f, sum| {
            fs::remove_file(init_file(f, "zarf-payload-000")).expect("remove -000");
            (
                sum,
                vec!["zarf-payload-000".into(), "zarf-payload-001".into()],
            )
        },
        reasons: &[Error::ChunkMissing],
    },
    ChunkCase {
        name: "-001 is a directory",
        setup: |f, sum| {
            let path = init_file(f, "zarf-payload-001");
            fs::remove_file(&path).expect("remove -001");
            fs::create_dir(&path).expect("mkdir -001");
            (sum, vec!["zarf-payload-001".into()])
        },
        reasons: &[Error::ChunkRead],
    },
    ChunkCase {
        name: "-001 is a dangling symlink",
        setup: |f, sum| {
            let path = init_file(f, "zarf-payload-001");
            fs::remove_file(&path).expect("remove -001");
            symlink(f.tmp.join("nowhere"), &path).expect("symlink -001");
            (sum, vec!["zarf-payload-001".into()])
        },
        reasons: &[Error::ChunkRead],
    },
    ChunkCase {
        name: "two chunks numbered 1: -1 and -001",
        setup: |f, sum| {
            let copy = fs::read(init_file(f, "zarf-payload-001")).expect("read -001");
            fs::write(init_file(f, "zarf-payload-1"), copy).expect("write -1");
            (
                sum,
                vec!["zarf-payload-1".into(), "zarf-payload-001".into()],
            )
        },
        reasons: &[Error::ChunkDuplicate],
    },
    ChunkCase {
        name: "no chunks, only another file",
        setup: |f, sum| {
            for n in 0..3 {
                fs::remove_file(init_file(f, &chunk_name(n))).expect("remove chunk");
            }
            fs::write(init_file(f, "README"), "not a chunk").expect("write README");
            (sum, vec![f.init.display().to_string()])
        },
        reasons: &[Error::NoChunks],
    },
    ChunkCase {
        name: "init dir does not exist",
        setup: |f, sum| {
            fs::remove_dir_all(&f.init).expect("remove init");
            (sum, vec![f.init.display().to_string()])
        },
        reasons: &[Error::NoChunks, Error::ChunkRead],
    },
];

fn check_chunk_case(case: &ChunkCase) {
    let f = Fixture::new("chunk");
    build_layout(&f.src, &LayoutOptions::TINY);
    tar_gz_dir(&f.src, &f.payload, 6, &TarOptions::PLAIN);
    let checksum = chunk_into(&f, 3);
    assert!(init_file(&f, "zarf-payload-002").exists(), "3 chunks");
    let (checksum, names) = (case.setup)(&f, checksum);
    let exit = run_injector_to_exit(&checksum, &f.init, &f.seed);
    assert_failed(case.name, &exit, case.reasons, &names);
    f.assert_seed_empty(case.name);
}

#[test]
fn bad_chunks_are_refused() {
    run_cases(CHUNK_CASES, |c| c.name, check_chunk_case);
}

// ----------------------------------------------------------------------------------------------
// Payload failures (the checksum matches: the damage is in the archive itself)

struct PayloadCase {
    name: &'static str,
    /// Writes `payload`; returns the names to expect.
    make: fn(&Fixture) -> Vec<String>,
    reasons: &'static [Error],
}

/// A layout of 300 KB compressible layers.
const TEXT: LayoutOptions = LayoutOptions {
    seed: 4,
    text: true,
    ..LayoutOptions::DEFAULT
};

/// Builds `options` in `src`, archives it (gzip'd at `level`, or plain) and returns the bytes.
fn archive_bytes(f: &Fixture, options: &LayoutOptions, level: Option<u32>) -> Vec<u8> {
    build_layout(&f.src, options);
    pack(Pack::Crate(level, TarOptions::PLAIN), &f.src, &f.payload);
    fs::read(&f.payload).expect("read payload")
}

fn write_payload(f: &Fixture, data: &[u8]) -> Vec<String> {
    fs::write(&f.payload, data).expect("write payload");
    vec![]
}

/// The name of the entry of the tar `data` whose content holds byte `offset`.
fn entry_at(data: &[u8], offset: usize) -> String {
    let mut archive = tar::Archive::new(data);
    for entry in archive.entries().expect("read tar") {
        let entry = entry.expect("tar entry");
        let start = entry.raw_file_position();
        if (start..start + entry.size()).contains(&(offset as u64)) {
            return entry.path().expect("entry path").display().to_string();
        }
    }
    panic!("byte {offset} is in no entry's content");
}

/// The error flate2 reports for `data`, if any.
fn inflate_error(data: &[u8]) -> Option<String> {
    let mut decoder = flate2::read::GzDecoder::new(data);
    let mut sink = Vec::new();
    decoder.read_to_end(&mut sink).err().map(|e| e.to_string())
}

/// Overwrites 32 bytes in the middle of the deflate data of compressible content with 0xff,
/// moving along until flate2 calls the stream corrupt (not only a CRC mismatch).
fn corrupt_deflate(f: &Fixture) -> Vec<String> {
    let good = archive_bytes(f, &TEXT, Some(6));
    for attempt in 0..64 {
        let mut bad = good.clone();
        let at = good.len() / 2 + attempt * 997;
        bad[at..at + 32].fill(0xff);
        let error = inflate_error(&bad).unwrap_or_default();
        if error.contains("deflate") {
            return write_payload(f, &bad);
        }
    }
    panic!("no corruption made the deflate stream invalid");
}

/// Flips one byte in the middle of a level-0 (stored blocks) gzip: only the CRC-32 can tell.
fn flip_stored_byte(f: &Fixture) -> Vec<String> {
    let mut data = archive_bytes(f, &LayoutOptions::DEFAULT, Some(0));
    let at = data.len() / 2;
    data[at] ^= 0x55;
    let error = inflate_error(&data).unwrap_or_default();
    assert!(
        error.contains("checksum"),
        "flip not caught by CRC: {error:?}"
    );
    write_payload(f, &data)
}

const PAYLOAD_CASES: &[PayloadCase] = &[
    PayloadCase {
        name: "gzip truncated at 60%",
        make: |f| {
            let data = archive_bytes(f, &LayoutOptions::DEFAULT, Some(6));
            write_payload(f, &data[..data.len() * 6 / 10])
        },
        reasons: &[Error::GzipTruncated],
    },
    PayloadCase {
        name: "gzip without its 8-byte trailer",
        make: |f| {
            let data = archive_bytes(f, &LayoutOptions::TINY, Some(6));
            write_payload(f, &data[..data.len() - 8])
        },
        reasons: &[Error::GzipTruncated],
    },
    PayloadCase {
        name: "corrupt deflate data (checksum of the corrupt payload)",
        make: corrupt_deflate,
        reasons: &[Error::GzipCorrupt],
    },
    PayloadCase {
        name: "byte flipped in a stored block: CRC-32 mismatch",
        make: flip_stored_byte,
        reasons: &[Error::GzipCrc],
    },
    PayloadCase {
        name: "gzip'd random bytes: not a tar",
        make: |f| write_payload(f, &gzip(&Rng::new(5).bytes(100_000))),
        reasons: &[Error::TarHeader, Error::NotTarOrGzip],
    },
    PayloadCase {
        name: "random bytes: neither gzip nor tar",
        make: |f| write_payload(f, &Rng::new(6).bytes(100_000)),
        reasons: &[Error::NotTarOrGzip, Error::TarHeader],
    },
    PayloadCase {
        name: "plain tar truncated inside an entry",
        make: |f| {
            let data = archive_bytes(f, &LayoutOptions::DEFAULT, None);
            let cut = data.len() / 2;
            write_payload(f, &data[..cut]);
            vec![entry_at(&data, cut)]
        },
        reasons: &[Error::TarTruncated],
    },
    PayloadCase {
        name: "complete gzip of a tar truncated inside an entry",
        make: |f| {
            let data = archive_bytes(f, &LayoutOptions::DEFAULT, None);
            let cut = data.len() / 2;
            write_payload(f, &gzip(&data[..cut]));
            vec![entry_at(&data, cut)]
        },
        reasons: &[Error::TarTruncated],
    },
    PayloadCase {
        name: "tar without its end-of-archive blocks",
        make: |f| {
            let data = archive_bytes(f, &LayoutOptions::TINY, None);
            write_payload(f, &gzip(&data[..data.len() - 1024]))
        },
        reasons: &[Error::TarEndMissing, Error::TarTruncated],
    },
];

fn check_payload_case(case: &PayloadCase) {
    let f = Fixture::new("payload");
    let names = (case.make)(&f);
    let checksum = chunk(&f);
    let exit = run_injector_to_exit(&checksum, &f.init, &f.seed);
    assert_failed(case.name, &exit, case.reasons, &names);
    f.assert_seed_empty(case.name);
}

#[test]
fn bad_archives_are_refused() {
    run_cases(PAYLOAD_CASES, |c| c.name, check_payload_case);
}

// ----------------------------------------------------------------------------------------------
// Layout failures (a well-formed archive of something that is not a valid OCI layout)

struct LayoutCase {
    name: &'static str,
    /// Damages the layout in the directory; returns the name the error must mention.
    damage: fn(&Path, &Layout) -> String,
    reasons: &'static [Error],
}

fn remove_blob(dir: &Path, blob: &Blob) -> String {
    fs::remove_file(blob.path(dir)).expect("remove blob");
    blob.hex().to_string()
}

fn grow_blob(dir: &Path, blob: &Blob) -> String {
    let mut file = fs::OpenOptions::new().append(true).open(blob.path(dir));
    file.as_mut()
        .expect("open blob")
        .write_all(b" ")
        .expect("grow blob");
    blob.hex().to_string()
}

/// Same size, different content: replaces the first `{` with a space.
fn alter_blob(dir: &Path, blob: &Blob) -> String {
    let mut data = fs::read(blob.path(dir)).expect("read blob");
    data[0] = b' ';
    fs::write(blob.path(dir), data).expect("alter blob");
    blob.hex().to_string()
}

fn replace_file(dir: &Path, name: &str, content: Option<&str>) -> String {
    match content {
        Some(content) => fs::write(dir.join(name), content).expect("write"),
        None => fs::remove_file(dir.join(name)).expect("remove"),
    }
    name.to_string()
}

const LAYOUT_CASES: &[LayoutCase] = &[
    LayoutCase {
        name: "oci-layout missing",
        damage: |dir, _| replace_file(dir, "oci-layout", None),
        reasons: &[Error::LayoutMarker],
    },
    LayoutCase {
        name: "oci-layout not JSON",
        damage: |dir, _| replace_file(dir, "oci-layout", Some("imageLayoutVersion 1.0.0")),
        reasons: &[Error::LayoutMarker, Error::JsonInvalid],
    },
    LayoutCase {
        name: "index.json missing",
        damage: |dir, _| replace_file(dir, "index.json", None),
        reasons: &[Error::LayoutIndex],
    },
    LayoutCase {
        name: "index.json not valid JSON",
        damage: |dir, _| {
            replace_file(
                dir,
                "index.json",
                Some("{\"schemaVersion\":2,\"manifests\":["),
            )
        },
        reasons: &[Error::JsonInvalid, Error::LayoutIndex],
    },
    LayoutCase {
        name: "manifest blob missing",
        damage: |dir, layout| remove_blob(dir, &layout.images[0].manifest),
        reasons: &[Error::BlobMissing],
    },
    LayoutCase {
        name: "manifest blob one byte longer than its descriptor",
        damage: |dir, layout| grow_blob(dir, &layout.images[0].manifest),
        reasons: &[Error::BlobSize],
    },
    LayoutCase {
        name: "manifest blob content does not match its digest",
        damage: |dir, layout| alter_blob(dir, &layout.images[0].manifest),
        reasons: &[Error::BlobDigest],
    },
    LayoutCase {
        name: "image index blob missing",
        damage: |dir, layout| remove_blob(dir, &layout.images[1].manifest),
        reasons: &[Error::BlobMissing],
    },
    LayoutCase {
        name: "platform manifest of a nested index missing",
        damage: |dir, layout| remove_blob(dir, &layout.images[1].children[1]),
        reasons: &[Error::BlobMissing],
    },
    LayoutCase {
        name: "platform manifest of a nested index with the wrong content",
        damage: |dir, layout| alter_blob(dir, &layout.images[1].children[0]),
        reasons: &[Error::BlobDigest],
    },
];

fn check_layout_case(case: &LayoutCase) {
    let f = Fixture::new("layout");
    let layout = build_layout(&f.src, &LayoutOptions::TINY);
    let name = (case.damage)(&f.src, &layout);
    tar_gz_dir(&f.src, &f.payload, 6, &TarOptions::PLAIN);
    let checksum = chunk(&f);
    let exit = run_injector_to_exit(&checksum, &f.init, &f.seed);
    assert_failed(case.name, &exit, case.reasons, &[name]);
    f.assert_seed_empty(case.name);
}

#[test]
fn invalid_layouts_are_refused() {
    run_cases(LAYOUT_CASES, |c| c.name, check_layout_case);
}

// ----------------------------------------------------------------------------------------------
// Hostile tar entries

/// Where a hostile entry's name is written.
#[derive(Clone, Copy, Debug)]
enum Via {
    /// In the header's name field.
    Header,
    /// In a PAX `path` record before a header named `innocent`.
    Pax,
    /// In a GNU long-name entry before a header named `innocent`.
    GnuLongName,
}

struct Hostile {
    name: &'static str,
    via: Via,
    /// The entry name; `{tmp}` is the test's temp dir, `{x}` a name unique to the test.
    entry: &'static str,
    kind: tar::EntryType,
    /// The link target (same placeholders).
    link: &'static str,
    reasons: &'static [Error],
}

const fn regular(name: &'static str, entry: &'static str, reasons: &'static [Error]) -> Hostile {
    Hostile {
        name,
        via: Via::Header,
        entry,
        kind: tar::EntryType::Regular,
        link: "",
        reasons,
    }
}

const fn special(name: &'static str, entry: &'static str, kind: tar::EntryType) -> Hostile {
    Hostile {
        name,
        via: Via::Header,
        entry,
        kind,
        link: "",
        reasons: &[Error::SpecialFile],
    }
}

const fn link(
    name: &'static str,
    kind: tar::EntryType,
    entry: &'static str,
    to: &'static str,
) -> Hostile {
    Hostile {
        name,
        via: Via::Header,
        entry,
        kind,
        link: to,
        reasons: &[Error::Link],
    }
}

const HOSTILE: &[Hostile] = &[
    regular(
        "../ (parent of the staging dir)",
        "../{x}",
        &[Error::PathTraversal],
    ),
    regular("../../", "../../{x}", &[Error::PathTraversal]),
    regular(
        ".. inside the path",
        "blobs/../../../{x}",
        &[Error::PathTraversal],
    ),
    regular("absolute path", "{tmp}/{x}", &[Error::PathAbsolute]),
    link(
        "symlink up",
        tar::EntryType::Symlink,
        "blobs/evil",
        "../../../..",
    ),
    link("symlink to /etc", tar::EntryType::Symlink, "etc", "/etc"),
    link(
        "hard link inside",
        tar::EntryType::Link,
        "hard-in",
        "oci-layout",
    ),
    link(
        "hard link out",
        tar::EntryType::Link,
        "hard-out",
        "../../{x}",
    ),
    link(
        "hard link to /etc/hostname",
        tar::EntryType::Link,
        "hard-abs",
        "/etc/hostname",
    ),
    special("character device", "dev-null", tar::EntryType::Char),
    special("block device", "dev-block", tar::EntryType::Block),
    special("FIFO", "fifo", tar::EntryType::Fifo),
    Hostile {
        via: Via::Pax,
        ..regular("PAX path with ../../", "../../{x}", &[Error::PathTraversal])
    },
    Hostile {
        via: Via::Pax,
        ..regular("PAX path absolute", "{tmp}/{x}", &[Error::PathAbsolute])
    },
    Hostile {
        via: Via::GnuLongName,
        ..regular("GNU long name with ../", "../{x}", &[Error::PathTraversal])
    },
    Hostile {
        via: Via::Pax,
        ..link(
            "PAX path on a symlink",
            tar::EntryType::Symlink,
            "blobs/evil",
            "/",
        )
    },
];

/// A gzip'd tar of a tiny valid layout followed by the hostile entry; returns its name.
fn hostile_payload(f: &Fixture, case: &Hostile, unique: &str) -> String {
    build_layout(&f.src, &LayoutOptions::TINY);
    let fill = |text: &str| {
        let tmp = f.tmp.path().display().to_string();
        text.replace("{tmp}", &tmp).replace("{x}", unique)
    };
    let (entry, target) = (fill(case.entry), fill(case.link));
    let encoder = flate2::write::GzEncoder::new(create(&f.payload), flate2::Compression::default());
    let mut builder = tar::Builder::new(encoder);
    append_tree(&mut builder, &f.src, &TarOptions::PLAIN);
    let data: &[u8] = if case.kind.is_file() {
        b"escaped\n"
    } else {
        b""
    };
    let header_name = match case.via {
        Via::Header => entry.as_bytes(),
        Via::Pax => {
            append_pax_path(&mut builder, entry.as_bytes());
            b"innocent"
        }
        Via::GnuLongName => {
            append_gnu_long_name(&mut builder, entry.as_bytes());
            b"innocent"
        }
    };
    append_raw(
        &mut builder,
        header_name,
        case.kind,
        target.as_bytes(),
        data,
    );
    let encoder = builder.into_inner().expect("finish tar");
    encoder
        .finish()
        .expect("finish gzip")
        .flush()
        .expect("flush");
    entry
}

fn check_hostile(case: &Hostile) {
    let f = Fixture::new("hostile");
    let unique = format!(
        "esc-{}",
        f.tmp.path().file_name().unwrap().to_string_lossy()
    );
    let entry = hostile_payload(&f, case, &unique);
    let checksum = chunk(&f);
    let before = list_tree(f.tmp.path());
    let exit = run_injector_to_exit(&checksum, &f.init, &f.seed);
    let outside = [
        std::env::temp_dir().join(&unique),
        Path::new("/").join(&unique),
    ];
    let escaped: Vec<&PathBuf> = outside
        .iter()
        .filter(|p| p.symlink_metadata().is_ok())
        .collect();
    for path in &escaped {
        let _ = fs::remove_file(path);
    }
    assert!(escaped.is_empty(), "{}: wrote {escaped:?}", case.name);
    assert_failed(case.name, &exit, case.reasons, &[entry]);
    f.assert_seed_empty(case.name);
    let after = list_tree(f.tmp.path());
    assert_eq!(after, before, "{}: the temp dir changed", case.name);
}

#[test]
fn hostile_entries_are_refused() {
    run_cases(HOSTILE, |c| c.name, check_hostile);
}

/// A payload file inside a directory named like the injector's staging directory: either
/// unpacked like any other file, or refused cleanly (one line, seed dir empty); never half
/// moved into place.
#[test]
fn entry_named_like_the_staging_dir() {
    let case = "entry named like the staging dir";
    let f = Fixture::new("staging");
    build_layout(&f.src, &LayoutOptions::TINY);
    let dir = f.src.join(zarf_injector::inject::STAGING);
    fs::create_dir(&dir).expect("create staging-named dir");
    fs::write(dir.join("x"), "payload file").expect("write staging-named file");
    tar_gz_dir(&f.src, &f.payload, 6, &TarOptions::PLAIN);
    let checksum = chunk(&f);
    match start_or_exit(unpack_command(&checksum, &f.init, &f.seed), START_TIMEOUT) {
        Ok(running) => {
            drop(running);
            assert_same_tree(&f.src, &f.seed);
        }
        Err(exit) => {
            let reasons = [Error::PathInvalid, Error::SeedDirectory, Error::Write];
            let name = zarf_injector::inject::STAGING.to_string();
            assert_failed(case, &exit, &reasons, &[name]);
            f.assert_seed_empty(case);
        }
    }
}

// ----------------------------------------------------------------------------------------------
// serve, --help, --version, bad command lines

#[test]
fn serve_serves_an_existing_layout() {
    let f = Fixture::new("serve");
    build_layout(&f.src, &LayoutOptions::TINY);
    let running = run_serve(&f.src);
    let last = running.stdout.last().map(String::as_str).unwrap_or("");
    assert!(
        last.starts_with("listening on 127.0.0.1:"),
        "{:?}",
        running.stdout
    );
    assert_v2("serve", &running);
}

#[test]
fn serve_refuses_a_directory_that_is_not_a_layout() {
    let case = "serve an empty directory";
    let f = Fixture::new("serve-bad");
    let exit = run_to_exit(serve_command(&f.seed), EXIT_TIMEOUT);
    assert_failed(case, &exit, &[Error::LayoutMarker], &["oci-layout".into()]);
}

#[test]
fn busy_bind_address_is_refused() {
    let case = "bind address in use";
    let f = Fixture::new("busy");
    build_layout(&f.src, &LayoutOptions::TINY);
    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let addr = busy.local_addr().expect("local addr").to_string();
    let command = injector_command(
        &["serve", &f.src.to_string_lossy(), &addr],
        &f.init,
        &f.seed,
    );
    let exit = run_to_exit(command, EXIT_TIMEOUT);
    assert_failed(case, &exit, &[Error::Bind], &[]);
}

#[test]
fn help_and_version() {
    let f = Fixture::new("cli");
    let help = run_to_exit(
        injector_command(&["--help"], &f.init, &f.seed),
        EXIT_TIMEOUT,
    );
    assert!(help.status.success(), "--help: {help:?}");
    assert_eq!(help.stdout, zarf_injector::cli::HELP, "--help");
    assert_eq!(help.stderr, "", "--help");
    let version = run_to_exit(
        injector_command(&["--version"], &f.init, &f.seed),
        EXIT_TIMEOUT,
    );
    assert!(version.status.success(), "--version: {version:?}");
    let want = format!("zarf-injector {}\n", env!("CARGO_PKG_VERSION"));
    assert_eq!(version.stdout, want, "--version");
    assert_eq!(version.stderr, "", "--version");
}

struct BadArgs {
    name: &'static str,
    args: &'static [&'static str],
    reason: Error,
    /// Text the error line must contain ("" for none).
    names: &'static str,
}

const HEX64: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

const BAD_ARGS: &[BadArgs] = &[
    BadArgs {
        name: "no arguments",
        args: &[],
        reason: Error::Usage,
        names: "",
    },
    BadArgs {
        name: "checksum too short",
        args: &["abc123"],
        reason: Error::BadChecksumArgument,
        names: "",
    },
    BadArgs {
        name: "checksum 65 digits",
        args: &["0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0"],
        reason: Error::BadChecksumArgument,
        names: "",
    },
    BadArgs {
        name: "checksum not hex",
        args: &["0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg"],
        reason: Error::BadChecksumArgument,
        names: "",
    },
    BadArgs {
        name: "bind address is a host name",
        args: &[HEX64, "localhost:5000"],
        reason: Error::BadAddress,
        names: "localhost:5000",
    },
    BadArgs {
        name: "too many arguments",
        args: &[HEX64, "127.0.0.1:0", "extra"],
        reason: Error::Usage,
        names: "",
    },
    BadArgs {
        name: "serve without a directory",
        args: &["serve"],
        reason: Error::Usage,
        names: "",
    },
];

fn check_bad_args(case: &BadArgs) {
    let f = Fixture::new("args");
    let exit = run_to_exit(injector_command(case.args, &f.init, &f.seed), EXIT_TIMEOUT);
    let names: Vec<String> = [case.names]
        .iter()
        .filter(|n| !n.is_empty())
        .map(|n| n.to_string())
        .collect();
    assert_failed(case.name, &exit, &[case.reason], &names);
    f.assert_seed_empty(case.name);
}

#[test]
fn bad_command_lines_are_refused() {
    run_cases(BAD_ARGS, |c| c.name, check_bad_args);
}
