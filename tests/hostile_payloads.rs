//! Hostile payloads that `tests/unpack.rs` does not already cover (issue 7): a symlink out
//! followed by a file through it, PAX and GNU records claiming huge sizes and names, sizes
//! that are no numbers, unknown entry types, a corrupt header in the middle, entries through
//! a file, trailing garbage after the gzip stream, an empty init directory. Each must end in
//! one clear stderr line, exit 1, an empty seed directory and nothing written anywhere else.
//!
//! And set-id, set-gid and sticky bits, which are not an error: they are dropped, and the
//! unpacked files show it.

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use zarf_injector::error::Error;

/// A fixture with the tiny layout in `src`.
fn fixture(label: &str) -> Fixture {
    let f = Fixture::new(label);
    build_layout(&f.src, &LayoutOptions::TINY);
    f
}

/// Writes a gzip'd tar of the tiny layout followed by what `extra` appends, chunks it and
/// returns the checksum.
fn payload(f: &Fixture, extra: Append) -> String {
    let mut builder = tar::Builder::new(Vec::new());
    append_tree(&mut builder, &f.src, &TarOptions::PLAIN);
    extra(&mut builder, f);
    let tar = builder.into_inner().expect("finish tar");
    chunk(f, &gzip(&tar))
}

/// Writes `data` as the payload and chunks it; returns its checksum.
fn chunk(f: &Fixture, data: &[u8]) -> String {
    fs::write(&f.payload, data).expect("write payload");
    f.chunk_payload(786_432)
}

/// A name unique to this test, for files that must not appear outside.
fn unique(f: &Fixture) -> String {
    let name = f.tmp.path().file_name().expect("name");
    format!("esc-{}", name.to_string_lossy())
}

/// Asserts a clean failure: exit 1, stdout without `listening on`, stderr one line
/// `zarf-injector: ...` with one of `reasons`' messages, an empty seed directory.
fn assert_refused(case: &str, f: &Fixture, exit: &Exit, reasons: &[Error]) {
    let report = format!("{case}: {exit:#?}");
    assert_eq!(exit.status.code(), Some(1), "{report}");
    assert!(!exit.stdout.contains("listening on"), "{report}\nserved");
    let lines: Vec<&str> = exit.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{report}\nstderr is not one line");
    assert!(lines[0].starts_with("zarf-injector: "), "{report}");
    assert!(!lines[0].contains("panicked"), "{report}");
    let reason = reasons.iter().any(|r| lines[0].contains(r.message()));
    assert!(reason, "{report}\nnone of {reasons:?}");
    let left = list_tree(&f.seed);
    assert!(left.is_empty(), "{case}: seed dir not empty: {left:#?}");
}

// ----------------------------------------------------------------------------------------------
// Refused payloads

/// Appends entries to the tar of the tiny layout.
type Append = fn(&mut tar::Builder<Vec<u8>>, &Fixture);

struct Case {
    name: &'static str,
    /// Appends the hostile entries after the layout; `None` writes the whole payload itself.
    extra: Option<Append>,
    /// Writes the payload bytes when `extra` is `None`; returns the checksum.
    whole: fn(&Fixture) -> String,
    reasons: &'static [Error],
}

const fn appended(name: &'static str, extra: Append, reasons: &'static [Error]) -> Case {
    Case {
        name,
        extra: Some(extra),
        whole: |_| String::new(),
        reasons,
    }
}

const fn whole(
    name: &'static str,
    whole: fn(&Fixture) -> String,
    reasons: &'static [Error],
) -> Case {
    Case {
        name,
        extra: None,
        whole,
        reasons,
    }
}

/// A header with the size field written byte for byte.
fn raw_size_entry(builder: &mut tar::Builder<Vec<u8>>, name: &[u8], size: [u8; 12]) {
    let mut header = file_header(tar::EntryType::Regular, 0);
    set_raw_name(&mut header, name);
    header.as_old_mut().size = size;
    header.set_cksum();
    builder.append(&header, &[][..]).expect("append");
}

const CASES: &[Case] = &[
    appended(
        "symlink out, then a file through it",
        |b, f| {
            let outside = f.tmp.path().display().to_string();
            append_raw(
                b,
                b"blobs/out",
                tar::EntryType::Symlink,
                outside.as_bytes(),
                b"",
            );
            let through = format!("blobs/out/{}", unique(f));
            append_raw(
                b,
                through.as_bytes(),
                tar::EntryType::Regular,
                b"",
                b"escaped\n",
            );
        },
        &[Error::Link],
    ),
    appended(
        "relative symlink up, then a file through it",
        |b, f| {
            append_raw(b, b"up", tar::EntryType::Symlink, b"../..", b"");
            let through = format!("up/{}", unique(f));
            append_raw(
                b,
                through.as_bytes(),
                tar::EntryType::Regular,
                b"",
                b"escaped\n",
            );
        },
        &[Error::Link],
    ),
    appended(
        "hard link to a file outside, then a write to it",
        |b, f| {
            let victim = f.tmp.join("victim");
            fs::write(&victim, "original").expect("victim");
            let target = victim.display().to_string();
            append_raw(b, b"hard", tar::EntryType::Link, target.as_bytes(), b"");
            append_raw(b, b"hard", tar::EntryType::Regular, b"", b"overwritten\n");
        },
        &[Error::Link],
    ),
    appended(
        "PAX size 2^62 on a regular file",
        |b, _| {
            let record = pax_record("size", b"4611686018427387904");
            append_raw(b, b"PaxHeaders/big", tar::EntryType::XHeader, b"", &record);
            append_raw(b, b"big", tar::EntryType::Regular, b"", b"");
        },
        &[Error::TarTruncated],
    ),
    appended(
        "PAX size beyond u64",
        |b, _| {
            let record = pax_record("size", b"99999999999999999999999999");
            append_raw(b, b"PaxHeaders/big", tar::EntryType::XHeader, b"", &record);
            append_raw(b, b"big", tar::EntryType::Regular, b"", b"");
        },
        &[Error::TarPaxInvalid],
    ),
    appended(
        "PAX size negative",
        |b, _| {
            let record = pax_record("size", b"-1");
            append_raw(b, b"PaxHeaders/neg", tar::EntryType::XHeader, b"", &record);
            append_raw(b, b"neg", tar::EntryType::Regular, b"", b"");
        },
        &[Error::TarPaxInvalid],
    ),
    appended(
        "PAX header of 2 MiB (over the 1 MiB limit)",
        |b, _| {
            let record = pax_record("comment", &vec![b'c'; 2 << 20]);
            append_raw(b, b"PaxHeaders/huge", tar::EntryType::XHeader, b"", &record);
            append_raw(b, b"after", tar::EntryType::Regular, b"", b"x");
        },
        &[Error::TarPaxInvalid],
    ),
    appended(
        "PAX path of 8 KiB",
        |b, _| {
            let path = "d/".repeat(4 << 10);
            append_pax_path(b, format!("{path}f").as_bytes());
            append_raw(b, b"innocent", tar::EntryType::Regular, b"", b"x");
        },
        &[Error::TarNameTooLong],
    ),
    appended(
        "PAX record length past its end",
        |b, _| {
            append_raw(
                b,
                b"PaxHeaders/bad",
                tar::EntryType::XHeader,
                b"",
                b"999 path=x\n",
            );
            append_raw(b, b"innocent", tar::EntryType::Regular, b"", b"x");
        },
        &[Error::TarPaxInvalid],
    ),
    appended(
        "GNU long name of 8 KiB",
        |b, _| {
            append_gnu_long_name(b, "n".repeat(8 << 10).as_bytes());
            append_raw(b, b"innocent", tar::EntryType::Regular, b"", b"x");
        },
        &[Error::TarNameTooLong],
    ),
    appended(
        "GNU base-256 size that is negative",
        |b, _| raw_size_entry(b, b"negative", [0xff; 12]),
        &[Error::TarSizeInvalid],
    ),
    appended(
        "base-256 size of 2^80",
        |b, _| {
            let mut size = [0u8; 12];
            size[0] = 0x80;
            size[1] = 1;
            raw_size_entry(b, b"huge", size);
        },
        &[Error::TarSizeInvalid],
    ),
    appended(
        "size field that is not octal",
        |b, _| raw_size_entry(b, b"letters", *b"00000000x00\0"),
        &[Error::TarSizeInvalid],
    ),
    appended(
        "unknown entry type Z",
        |b, _| append_raw(b, b"odd", tar::EntryType::new(b'Z'), b"", b""),
        &[Error::TarTypeUnsupported],
    ),
    appended(
        "GNU sparse entry (type S)",
        |b, _| append_raw(b, b"sparse", tar::EntryType::GNUSparse, b"", b""),
        &[Error::TarTypeUnsupported],
    ),
    appended(
        "header with a wrong checksum in the middle",
        |b, _| {
            let mut header = file_header(tar::EntryType::Regular, 1);
            set_raw_name(&mut header, b"bad-checksum");
            header.set_cksum();
            header.as_old_mut().name[0] = b'B';
            b.append(&header, &b"x"[..]).expect("append");
        },
        &[Error::TarHeader],
    ),
    appended(
        "a file through a file: oci-layout/x",
        |b, _| append_raw(b, b"oci-layout/x", tar::EntryType::Regular, b"", b"x"),
        &[Error::Write],
    ),
    appended(
        "a directory over a file: index.json/",
        |b, _| append_raw(b, b"index.json/", tar::EntryType::Directory, b"", b""),
        &[Error::Write],
    ),
    appended(
        "a regular file named .",
        |b, _| append_raw(b, b".", tar::EntryType::Regular, b"", b"x"),
        &[Error::PathInvalid],
    ),
    whole(
        "trailing garbage after the gzip stream",
        |f| {
            let mut builder = tar::Builder::new(Vec::new());
            append_tree(&mut builder, &f.src, &TarOptions::PLAIN);
            let mut data = gzip(&builder.into_inner().expect("tar"));
            data.extend_from_slice(b"garbage after the gzip trailer\n");
            chunk(f, &data)
        },
        &[Error::TrailingData, Error::GzipHeader],
    ),
    whole(
        "a second gzip member that is cut short",
        |f| {
            let mut builder = tar::Builder::new(Vec::new());
            append_tree(&mut builder, &f.src, &TarOptions::PLAIN);
            let mut data = gzip(&builder.into_inner().expect("tar"));
            let second = gzip(&[0u8; 4096]);
            data.extend_from_slice(&second[..second.len() / 2]);
            chunk(f, &data)
        },
        &[Error::GzipTruncated],
    ),
    whole(
        "an empty init directory",
        |_| "0".repeat(64),
        &[Error::NoChunks],
    ),
];

fn check_case(case: &Case) {
    let f = fixture("payload");
    let checksum = match case.extra {
        Some(extra) => payload(&f, extra),
        None => (case.whole)(&f),
    };
    let before = list_tree(f.tmp.path());
    let victim = fs::read(f.tmp.join("victim")).ok();
    let exit = run_injector_to_exit(&checksum, &f.init, &f.seed);
    assert_refused(case.name, &f, &exit, case.reasons);
    let after = list_tree(f.tmp.path());
    assert_eq!(after, before, "{}: the temp dir changed", case.name);
    assert_eq!(
        fs::read(f.tmp.join("victim")).ok(),
        victim,
        "{}: a file outside was changed",
        case.name
    );
    let escaped = std::env::temp_dir().join(unique(&f));
    assert!(
        !escaped.exists(),
        "{}: wrote {}",
        case.name,
        escaped.display()
    );
}

#[test]
fn hostile_payloads_are_refused() {
    run_cases(CASES, |c| c.name, check_case);
}

// ----------------------------------------------------------------------------------------------
// Set-id and sticky bits are dropped

/// Files with set-uid, set-gid, sticky and no permission bits at all, and a sticky
/// world-writable directory: unpacked and served, with the special bits gone and every file
/// readable and writable by its owner.
#[test]
fn setid_and_sticky_bits_are_dropped() {
    const MODES: &[(&str, u32)] = &[
        ("setuid", 0o4755),
        ("setgid", 0o2755),
        ("sticky", 0o1644),
        ("all-bits", 0o7777),
        ("no-bits", 0o0000),
    ];
    let f = fixture("modes");
    let checksum = payload(&f, |b, _| {
        let mut dir = file_header(tar::EntryType::Directory, 0);
        set_raw_name(&mut dir, b"modes/");
        dir.set_mode(0o1777);
        dir.set_cksum();
        b.append(&dir, &[][..]).expect("append dir");
        for (name, mode) in MODES {
            let mut header = file_header(tar::EntryType::Regular, 3);
            set_raw_name(&mut header, format!("modes/{name}").as_bytes());
            header.set_mode(*mode);
            header.set_cksum();
            b.append(&header, &b"#!\n"[..]).expect("append");
        }
    });
    let running = run_injector(&checksum, &f.init, &f.seed);
    assert_eq!(http_get(running.addr, "/v2/").status, 200);
    drop(running);
    let mode_of = |path: &Path| fs::metadata(path).expect("stat").permissions().mode();
    let dir = mode_of(&f.seed.join("modes"));
    assert_eq!(dir & 0o7000, 0, "modes/: {dir:o}");
    for (name, tar_mode) in MODES {
        let path = f.seed.join("modes").join(name);
        let mode = mode_of(&path);
        assert_eq!(mode & 0o7000, 0, "{name}: {tar_mode:o} became {mode:o}");
        assert_eq!(mode & 0o600, 0o600, "{name}: {tar_mode:o} became {mode:o}");
        assert_eq!(fs::read(&path).expect("read"), b"#!\n", "{name}");
    }
}
