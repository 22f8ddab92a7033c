//! Faults and least privilege (issue 7): the disk fills during unpack, the seed directory is
//! not writable, chunks or the init directory are unreadable; and the binary run as uid 1000
//! with only the seed directory writable, as in the Zarf pod.
//!
//! Root ignores file permissions, so the permission cases run the binary as uid 1000 through
//! `setpriv` when the tests run as root (as CI does), and as the current user otherwise. The
//! disk-full case mounts a 2 MiB tmpfs and is skipped, with a message, where mounting is not
//! permitted. SIGTERM during unpack and during a transfer is in `tests/lifecycle.rs`.

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use zarf_injector::error::Error;

/// The unprivileged user of the Zarf pod.
const POD_UID: u32 = 1000;

fn running_as_root() -> bool {
    fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(1) == 0
}

/// `zarf-injector ARGS` as uid/gid 1000 without supplementary groups when we are root (the
/// capabilities go with the uid), else as ourselves; with the init and seed roots set.
fn injector_as_pod_user(args: &[&str], init: &Path, seed: &Path) -> Command {
    let binary = env!("CARGO_BIN_EXE_zarf-injector");
    let mut command = if running_as_root() {
        // An absolute path: the child's environment is cleared, PATH included.
        let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or("setpriv");
        let mut command = Command::new(setpriv);
        command
            .arg(format!("--reuid={POD_UID}"))
            .arg(format!("--regid={POD_UID}"))
            .args(["--clear-groups", "--no-new-privs", "--", binary]);
        command
    } else {
        Command::new(binary)
    };
    command
        .args(args)
        .current_dir("/")
        .env_clear()
        .env("ZARF_INJECTOR_INIT_ROOT", init)
        .env("ZARF_INJECTOR_SEED_ROOT", seed);
    command
}

/// Gives `path` to the pod user (a no-op when we are not root: it is ours already).
fn give_to_pod_user(path: &Path) {
    if running_as_root() {
        std::os::unix::fs::chown(path, Some(POD_UID), Some(POD_UID))
            .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
    }
}

fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

/// A tiny layout packed into chunks: the temp dir, `init`, `seed` and the checksum.
struct Fixture {
    tmp: TempDir,
    src: PathBuf,
    init: PathBuf,
    seed: PathBuf,
    checksum: String,
}

impl Fixture {
    /// `options`' layout, gzip'd (level 1) and cut into chunks of `chunk` bytes.
    fn new(label: &str, options: &LayoutOptions, chunk: u64) -> Fixture {
        let tmp = TempDir::new(label);
        let (src, init, seed) = (tmp.join("src"), tmp.join("init"), tmp.join("seed"));
        build_layout(&src, options);
        let payload = tmp.join("payload");
        tar_gz_dir(&src, &payload, 1, &TarOptions::PLAIN);
        fs::create_dir(&init).expect("init");
        fs::create_dir(&seed).expect("seed");
        split_into_chunks(&payload, &init, chunk);
        let checksum = sha256_file(&payload);
        fs::remove_file(&payload).expect("remove payload");
        Fixture {
            tmp,
            src,
            init,
            seed,
            checksum,
        }
    }
}

/// Exit 1 with one stderr line holding `reason`'s message and `needle` (a path or an OS
/// error); `seed` then holds nothing but what `keep` names.
fn assert_failed(case: &str, exit: &Exit, reason: Error, needles: &[&str]) {
    let report = format!("{case}: {exit:#?}");
    assert_eq!(exit.status.code(), Some(1), "{report}");
    assert!(!exit.stdout.contains("listening on"), "{report}");
    let lines: Vec<&str> = exit.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{report}\nstderr is not one line");
    assert!(lines[0].starts_with("zarf-injector: "), "{report}");
    assert!(
        lines[0].contains(reason.message()),
        "{report}\nnot {reason:?}"
    );
    for needle in needles {
        assert!(
            lines[0].contains(needle),
            "{report}\ndoes not name {needle:?}"
        );
    }
}

fn assert_empty(case: &str, dir: &Path) {
    let left = list_tree(dir);
    assert!(
        left.is_empty(),
        "{case}: {} not empty: {left:#?}",
        dir.display()
    );
}

// ----------------------------------------------------------------------------------------------
// Disk full

/// A tmpfs mounted for the test, unmounted on drop.
struct Mount(PathBuf);

impl Mount {
    /// Mounts a tmpfs of `size` on `dir`; `None` (with the reason) if that is not permitted.
    fn tmpfs(dir: &Path, size: &str) -> Result<Mount, String> {
        let output = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ])
            .arg(dir)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if output.status.success() {
            Ok(Mount(dir.to_path_buf()))
        } else {
            Err(String::from_utf8_lossy(&output.stderr).trim().to_string())
        }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Bytes used on the filesystem of `dir`, from `df`.
fn used_bytes(dir: &Path) -> u64 {
    let output = Command::new("df")
        .args(["--output=used", "-B1"])
        .arg(dir)
        .output()
        .expect("run df");
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("df output {text:?}"))
}

/// An 8 MiB payload unpacked into a 2 MiB tmpfs: the write fails with ENOSPC, the one line
/// names the file and the OS error, the staging directory is removed (the tmpfs is empty
/// again), and a payload that fits then unpacks and serves on the same filesystem.
#[test]
fn disk_full_during_unpack_fails_cleanly_and_removes_staging() {
    let case = "disk full";
    let options = LayoutOptions {
        big_layer: 8 << 20,
        ..LayoutOptions::TINY
    };
    let f = Fixture::new("disk-full", &options, 786_432);
    let _mount = match Mount::tmpfs(&f.seed, "2m") {
        Ok(mount) => mount,
        Err(why) => {
            eprintln!("SKIPPED {case}: cannot mount a tmpfs ({why}); run as root to test it");
            return;
        }
    };
    let empty = used_bytes(&f.seed);
    let exit = run_injector_to_exit(&f.checksum, &f.init, &f.seed);
    assert_failed(case, &exit, Error::Write, &["No space left on device"]);
    assert_empty(case, &f.seed);
    assert_eq!(used_bytes(&f.seed), empty, "{case}: space not given back");

    // The same filesystem takes a payload that fits.
    let small = Fixture::new("disk-fits", &LayoutOptions::TINY, 786_432);
    let running = run_injector(&small.checksum, &small.init, &f.seed);
    assert_eq!(
        http_get(running.addr, "/v2/").status,
        200,
        "{case}: then /v2/"
    );
    drop(running);
    assert_same_tree(&small.src, &f.seed);
}

// ----------------------------------------------------------------------------------------------
// Permissions

/// The seed directory belongs to root and is not writable by the pod user: a clear error
/// naming it, nothing written. Likewise a seed root that does not exist under a parent the
/// pod user cannot write.
#[test]
fn seed_directory_not_writable() {
    let f = Fixture::new("seed-ro", &LayoutOptions::TINY, 786_432);
    set_mode(&f.seed, 0o555);
    let command = injector_as_pod_user(&[&f.checksum, "127.0.0.1:0"], &f.init, &f.seed);
    let exit = run_to_exit(command, EXIT_TIMEOUT);
    let seed = f.seed.display().to_string();
    assert_failed(
        "seed not writable",
        &exit,
        Error::SeedDirectory,
        &[&seed, "Permission denied"],
    );
    assert_empty("seed not writable", &f.seed);

    let missing = f.seed.join("new-seed");
    let command = injector_as_pod_user(&[&f.checksum, "127.0.0.1:0"], &f.init, &missing);
    let exit = run_to_exit(command, EXIT_TIMEOUT);
    assert_failed(
        "seed parent not writable",
        &exit,
        Error::SeedDirectory,
        &["Permission denied"],
    );
    assert!(!missing.exists(), "created {}", missing.display());
    set_mode(&f.seed, 0o755);
}

/// Regression, issue 7: a chunk the pod user cannot read (mode 000) must be named with the OS
/// error, and the staging directory removed. Before the fix, the drain after the failed read
/// skipped the chunk, hashed the others, and reported "payload SHA-256 does not match the
/// checksum argument", hiding the cause.
#[test]
fn issue7_unreadable_chunk_is_named_not_reported_as_a_checksum_mismatch() {
    let f = Fixture::new("chunk-000", &LayoutOptions::DEFAULT, 300_000);
    give_to_pod_user(&f.seed);
    let chunk = f.init.join(chunk_name(1));
    set_mode(&chunk, 0o000);
    let command = injector_as_pod_user(&[&f.checksum, "127.0.0.1:0"], &f.init, &f.seed);
    let exit = run_to_exit(command, EXIT_TIMEOUT);
    let name = chunk.display().to_string();
    assert_failed(
        "chunk mode 000",
        &exit,
        Error::ChunkRead,
        &[&name, "Permission denied"],
    );
    assert_empty("chunk mode 000", &f.seed);
}

/// An init directory the pod user cannot list (mode 000, and 0311: enter but not read): the
/// error names it; nothing is written.
#[test]
fn unreadable_init_directory() {
    let f = Fixture::new("init-000", &LayoutOptions::TINY, 786_432);
    give_to_pod_user(&f.seed);
    for mode in [0o000, 0o311] {
        let case = format!("init dir mode {mode:o}");
        set_mode(&f.init, mode);
        let command = injector_as_pod_user(&[&f.checksum, "127.0.0.1:0"], &f.init, &f.seed);
        let exit = run_to_exit(command, EXIT_TIMEOUT);
        let init = f.init.display().to_string();
        assert_failed(&case, &exit, Error::NoChunks, &[&init, "Permission denied"]);
        assert_empty(&case, &f.seed);
    }
    set_mode(&f.init, 0o755);
}

// ----------------------------------------------------------------------------------------------
// Least privilege

/// As in the Zarf pod: uid 1000, working directory `/`, an empty environment but for the two
/// roots, everything root-owned and read-only except the seed directory. The binary unpacks,
/// serves every kind of object, and writes nothing but the seed directory, whose files the
/// pod user owns. Then `serve` over a root-owned layout it cannot write works too.
#[test]
fn least_privilege_uid_1000_unpacks_and_serves() {
    let f = Fixture::new("least-privilege", &LayoutOptions::DEFAULT, 786_432);
    give_to_pod_user(&f.seed);
    set_mode(&f.seed, 0o700);
    let before: Vec<(String, char)> = list_tree(f.tmp.path())
        .into_iter()
        .filter(|(path, _)| !path.starts_with("seed"))
        .collect();
    let command = injector_as_pod_user(&[&f.checksum, "127.0.0.1:0"], &f.init, &f.seed);
    let running = start(command, START_TIMEOUT);
    check_serves("unpack as uid 1000", running.addr, &f.src);
    drop(running);
    let after: Vec<(String, char)> = list_tree(f.tmp.path())
        .into_iter()
        .filter(|(path, _)| !path.starts_with("seed"))
        .collect();
    assert_eq!(after, before, "wrote outside the seed directory");
    assert_same_tree(&f.src, &f.seed);
    if running_as_root() {
        for (path, _) in list_tree(&f.seed) {
            let owner = fs::metadata(f.seed.join(&path)).expect("stat").uid();
            assert_eq!(owner, POD_UID, "{path}: owned by {owner}");
        }
    }

    // `serve` as uid 1000 over the root-owned source layout, which it cannot write.
    let command = injector_as_pod_user(
        &["serve", &f.src.display().to_string(), "127.0.0.1:0"],
        &f.init,
        &f.seed,
    );
    let running = start(command, START_TIMEOUT);
    check_serves("serve as uid 1000", running.addr, &f.src);
}

/// `GET /v2/`, every image's manifest by tag and by digest, and every blob, byte for byte.
fn check_serves(case: &str, addr: std::net::SocketAddr, src: &Path) {
    assert_eq!(http_get(addr, "/v2/").status, 200, "{case}: /v2/");
    let index = fs::read_to_string(src.join("index.json")).expect("index.json");
    let checks = [("library/app", "1.0"), ("example/multi", "latest")];
    for (name, tag) in checks {
        let response = http_get(addr, &format!("/v2/{name}/manifests/{tag}"));
        assert_eq!(response.status, 200, "{case}: {name}:{tag}");
        let digest = response
            .header("Docker-Content-Digest")
            .expect("digest")
            .to_string();
        assert!(index.contains(&digest), "{case}: {name}:{tag} is {digest}");
        let stored = fs::read(src.join("blobs/sha256").join(&digest[7..])).expect("stored");
        assert!(response.body == stored, "{case}: {name}:{tag} bytes");
    }
    let blobs = fs::read_dir(src.join("blobs/sha256")).expect("blobs");
    for blob in blobs {
        let path = blob.expect("entry").path();
        let hex = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let data = fs::read(&path).expect("blob");
        let ok = ["library/app", "example/multi"].iter().any(|name| {
            let response = http_get(addr, &format!("/v2/{name}/blobs/sha256:{hex}"));
            response.status == 200 && response.body == data
        });
        assert!(ok, "{case}: blob {hex} not served intact");
    }
}
