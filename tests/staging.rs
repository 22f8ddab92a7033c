//! Issue 12, case 2: deep tar paths, and what is left at the staging path.
//!
//! A 210-byte payload of one entry 1,500 levels deep and a wrong checksum used to leave a
//! staging directory that std's `remove_dir_all` (one descriptor per level) could not remove
//! under the pod's descriptor limit, so every later run failed; a regular file or FIFO at the
//! staging path failed every run with `Not a directory`. Now tar paths deeper than 32
//! components are refused, and whatever is at the staging path is removed with two
//! descriptors whatever its depth, or reported and set aside: it never blocks a run.
//! Every run here has a descriptor limit of 256 (pods often have 1,024).

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::{symlink, MetadataExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

const STAGING: &str = ".zarf-injector-staging";
const FD_LIMIT: u64 = 256;

/// `command` with its descriptor limit lowered to [`FD_LIMIT`].
fn with_fd_limit(mut command: Command) -> Command {
    // SAFETY: only `setrlimit`, which is async-signal-safe, runs between fork and exec.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: FD_LIMIT,
                rlim_max: FD_LIMIT,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    command
}

/// A fixture whose chunks hold the tiny layout; returns it and the checksum.
fn good_payload(label: &str) -> (Fixture, String) {
    let f = Fixture::new(label);
    build_layout(&f.src, &LayoutOptions::TINY);
    tar_gz_dir(&f.src, &f.payload, 6, &TarOptions::PLAIN);
    let checksum = f.chunk_payload(786_432);
    (f, checksum)
}

/// Unpacks and serves with the descriptor limit; asserts it listens, and that nothing is
/// left at the staging path once it does.
fn assert_unpacks(case: &str, f: &Fixture, checksum: &str) -> Running {
    let command = with_fd_limit(unpack_command(checksum, &f.init, &f.seed));
    let running = match start_or_exit(command, START_TIMEOUT) {
        Ok(running) => running,
        Err(exit) => panic!("{case}: the run failed: {exit:#?}"),
    };
    assert!(
        fs::symlink_metadata(f.seed.join(STAGING)).is_err(),
        "{case}: something is left at the staging path"
    );
    assert_eq!(http_get(running.addr, "/v2/").status, 200, "{case}");
    running
}

/// A directory `depth` levels deep under `root`, as an older version left it.
fn deep_tree(root: &Path, depth: usize) {
    let mut path = root.to_path_buf();
    for _ in 0..depth {
        path.push("a");
    }
    fs::create_dir_all(&path).expect("create the deep tree");
    fs::write(path.join("f"), "deep").expect("write the deepest file");
    fs::write(root.join("top-file"), "top").expect("write a top file");
}

/// The issue's repro: one tar entry `a/a/…/f` 1,500 levels deep in a 210-byte payload with a
/// wrong checksum, then a good payload.
#[test]
fn issue12_a_1500_level_entry_is_refused_and_never_blocks_the_next_run() {
    let (f, good) = good_payload("deep-entry");
    let mut builder = tar::Builder::new(Vec::new());
    let name = format!("{}f", "a/".repeat(1500));
    append_gnu_long_name(&mut builder, name.as_bytes());
    append_raw(&mut builder, b"a/f", tar::EntryType::Regular, b"", b"x");
    let tar = builder.into_inner().expect("finish tar");
    let bad_init = f.tmp.join("bad-init");
    fs::create_dir(&bad_init).unwrap();
    fs::write(bad_init.join("zarf-payload-000"), gzip(&tar)).unwrap();
    let wrong = "0".repeat(64);
    let command = with_fd_limit(unpack_command(&wrong, &bad_init, &f.seed));
    let exit = run_to_exit(command, EXIT_TIMEOUT);
    assert_eq!(exit.status.code(), Some(1), "{exit:#?}");
    assert_eq!(exit.stderr.lines().count(), 1, "one line: {exit:#?}");
    assert!(
        exit.stderr.contains("payload SHA-256 does not match"),
        "{exit:#?}"
    );
    assert!(
        fs::symlink_metadata(f.seed.join(STAGING)).is_err(),
        "the staging directory is left behind"
    );
    // The same payload with its right checksum: refused for the depth of its entry.
    let right = sha256_hex(&fs::read(bad_init.join("zarf-payload-000")).unwrap());
    let command = with_fd_limit(unpack_command(&right, &bad_init, &f.seed));
    let exit = run_to_exit(command, EXIT_TIMEOUT);
    assert_eq!(exit.status.code(), Some(1), "{exit:#?}");
    assert!(
        exit.stderr
            .contains("tar entry path deeper than 32 components (the limit)"),
        "{exit:#?}"
    );
    assert!(fs::symlink_metadata(f.seed.join(STAGING)).is_err());
    assert_unpacks("a good payload after the deep one", &f, &good);
}

/// An entry of exactly 32 components is unpacked; one of 33 is refused.
#[test]
fn issue12_tar_paths_deeper_than_32_components_are_refused() {
    for (components, accepted) in [(32, true), (33, false)] {
        let f = Fixture::new("depth-limit");
        build_layout(&f.src, &LayoutOptions::TINY);
        let mut builder = tar::Builder::new(Vec::new());
        append_tree(&mut builder, &f.src, &TarOptions::PLAIN);
        let name = format!("{}f", "d/".repeat(components - 1));
        append_gnu_long_name(&mut builder, name.as_bytes());
        append_raw(&mut builder, b"d/f", tar::EntryType::Regular, b"", b"x");
        let tar = builder.into_inner().expect("finish tar");
        fs::write(&f.payload, gzip(&tar)).unwrap();
        let checksum = f.chunk_payload(786_432);
        let case = format!("{components} components");
        if accepted {
            let _running = assert_unpacks(&case, &f, &checksum);
            assert!(f.seed.join(&name).is_file(), "{case}: unpacked");
        } else {
            let exit = run_injector_to_exit(&checksum, &f.init, &f.seed);
            assert_eq!(exit.status.code(), Some(1), "{case}: {exit:#?}");
            assert_eq!(exit.stderr.lines().count(), 1, "{case}: {exit:#?}");
            assert!(
                exit.stderr
                    .contains("tar entry path deeper than 32 components (the limit)"),
                "{case}: {exit:#?}"
            );
            f.assert_seed_empty(&case);
        }
    }
}

/// What an earlier run (or anyone) left at the staging path.
struct Leftover {
    name: &'static str,
    make: fn(&Path, &Path),
}

const LEFTOVERS: &[Leftover] = &[
    Leftover {
        name: "a directory 1,500 levels deep (an older version's)",
        make: |staging, _| deep_tree(staging, 1500),
    },
    Leftover {
        name: "a directory 3,000 levels deep (longer than PATH_MAX)",
        make: |staging, _| {
            fs::create_dir(staging).unwrap();
            let mut at = staging.to_path_buf();
            // Built by renaming, so that no path the test uses grows past PATH_MAX.
            for i in 0..3000 {
                let below = staging.join(format!("n{i}"));
                fs::create_dir(&below).unwrap();
                if i > 0 {
                    fs::rename(&at, below.join("a")).unwrap();
                }
                at = below;
            }
        },
    },
    Leftover {
        name: "a regular file",
        make: |staging, _| fs::write(staging, "not a directory").unwrap(),
    },
    Leftover {
        name: "a FIFO",
        make: |staging, _| {
            let status = Command::new("mkfifo").arg(staging).status().unwrap();
            assert!(status.success(), "mkfifo");
        },
    },
    Leftover {
        name: "a symbolic link to a directory outside",
        make: |staging, outside| symlink(outside, staging).unwrap(),
    },
    Leftover {
        name: "a dangling symbolic link",
        make: |staging, outside| symlink(outside.join("nothing"), staging).unwrap(),
    },
    Leftover {
        name: "a directory holding a FIFO, a link out and a read-only directory",
        make: |staging, outside| {
            fs::create_dir_all(staging.join("ro/sub")).unwrap();
            fs::write(staging.join("ro/sub/file"), "x").unwrap();
            let status = Command::new("mkfifo")
                .arg(staging.join("fifo"))
                .status()
                .unwrap();
            assert!(status.success(), "mkfifo");
            symlink(outside, staging.join("out")).unwrap();
            symlink(outside, staging.join("ro/out")).unwrap();
        },
    },
];

#[test]
fn issue12_whatever_is_left_at_the_staging_path_never_blocks_a_run() {
    run_cases(
        LEFTOVERS,
        |case| case.name,
        |case| {
            let (f, checksum) = good_payload("leftover");
            let outside = f.tmp.join("outside");
            fs::create_dir(&outside).unwrap();
            fs::write(outside.join("keep"), "kept").unwrap();
            (case.make)(&f.seed.join(STAGING), &outside);
            let running = assert_unpacks(case.name, &f, &checksum);
            assert_eq!(running.stderr(), "", "{}: nothing to report", case.name);
            assert_eq!(
                fs::read_to_string(outside.join("keep")).ok().as_deref(),
                Some("kept"),
                "{}: the directory outside was touched",
                case.name
            );
            // The seed holds the layout and nothing else.
            let mut names: Vec<String> = fs::read_dir(&f.seed)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            names.sort();
            assert_eq!(
                names,
                ["blobs", "index.json", "oci-layout"],
                "{}",
                case.name
            );
        },
    );
}

/// A staging directory the pod user cannot empty (a root-owned directory in it): one line
/// says so, the directory is set aside, and the run goes on. Needs root (to run as uid
/// 1000 with `setpriv`, as CI does); skipped otherwise.
#[test]
fn issue12_a_staging_that_cannot_be_removed_is_reported_and_set_aside() {
    if fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(1) != 0 {
        eprintln!("skipped: needs root to run the injector as uid 1000");
        return;
    }
    let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    let Some(setpriv) = setpriv else {
        eprintln!("skipped: no setpriv");
        return;
    };
    let (f, checksum) = good_payload("locked-staging");
    let staging = f.seed.join(STAGING);
    fs::create_dir_all(staging.join("locked")).unwrap();
    fs::write(staging.join("locked/file"), "root's").unwrap();
    for path in [&f.seed, &staging] {
        std::os::unix::fs::chown(path, Some(1000), Some(1000)).unwrap();
    }
    let mut command = Command::new(setpriv);
    command
        .args(["--reuid=1000", "--regid=1000", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_zarf-injector"))
        .arg(&checksum)
        .arg("127.0.0.1:0")
        .current_dir("/")
        .env("ZARF_INJECTOR_INIT_ROOT", &f.init)
        .env("ZARF_INJECTOR_SEED_ROOT", &f.seed);
    let running = match start_or_exit(with_fd_limit(command), START_TIMEOUT) {
        Ok(running) => running,
        Err(exit) => panic!("the run failed: {exit:#?}"),
    };
    let stderr = running.stderr();
    let want = format!(
        "zarf-injector: {}: cannot remove the staging directory: ",
        staging.display()
    );
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with(&want), "{stderr}");
    let set_aside: Vec<String> = fs::read_dir(&f.seed)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with(".zarf-injector-removed-"))
        .collect();
    assert_eq!(set_aside.len(), 1, "set aside once: {set_aside:?}");
    let kept = f.seed.join(&set_aside[0]).join("locked/file");
    assert_eq!(fs::read_to_string(kept).unwrap(), "root's");
    assert!(fs::symlink_metadata(&staging).is_err());
    assert_eq!(http_get(running.addr, "/v2/").status, 200);
}
