//! What the registry opens and what it tells the operator (issue 12, cases 4 to 6), against the
//! real binary on 127.0.0.1: a blob or manifest that is a symbolic link or a FIFO is never
//! followed or waited on; an image index asked for by a client that takes only manifests is
//! answered with the manifest of the injector's own architecture; a TLS handshake is refused
//! with one log line, and a probe loop cannot flood the log with them.
//!
//! To see the platform case on another architecture, run this file against that build:
//! `ZARF_INJECTOR_TEST_BIN=<wrapper running qemu-aarch64-static dist/zarf-injector-arm64>
//! ZARF_INJECTOR_TEST_ARCH=arm64 cargo test --test served_files` (`.ci/run` does).

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The line the injector logs when it refuses a TLS handshake.
const TLS_LINE: &str = "refused a TLS handshake";

/// A TLS 1.2 record header and the start of a ClientHello, as a runtime sends when it tries
/// https first.
const CLIENT_HELLO: &[u8] = &[
    0x16, 0x03, 0x01, 0x00, 0x2d, 0x01, 0x00, 0x00, 0x29, 0x03, 0x03, 0x11, 0x22, 0x33, 0x44,
];

/// Makes a FIFO at `path` (which must not exist).
fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

/// Replaces the blob file `path` with a symbolic link to a copy of it outside the layout, so
/// that following the link would serve the right bytes from the wrong place.
fn link_outside(path: &Path, outside: &Path) {
    fs::copy(path, outside).expect("copy the blob outside the layout");
    fs::remove_file(path).expect("remove the blob");
    symlink(outside, path).expect("symlink");
}

/// Collects the server's stdout lines containing `needle` for `wait`.
fn log_lines(running: &Running, needle: &str, wait: Duration) -> Vec<String> {
    let started = Instant::now();
    let mut found = Vec::new();
    while started.elapsed() < wait {
        found.extend(
            running
                .more_stdout()
                .into_iter()
                .filter(|l| l.contains(needle)),
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    found
}

#[test]
fn issue12_blobs_that_are_links_or_fifos_are_404_with_a_log_line_and_block_nothing() {
    let dir = TempDir::new("served-files-blobs");
    let layout_dir = dir.join("layout");
    let layout = build_layout(&layout_dir, &LayoutOptions::TINY);
    let app = &layout.images[0];
    let linked = &app.layers[0];
    let fifo = &layout.images[1].layers[0];
    link_outside(&linked.path(&layout_dir), &dir.join("outside"));
    fs::remove_file(fifo.path(&layout_dir)).expect("remove the blob");
    mkfifo(&fifo.path(&layout_dir));
    let running = run_serve(&layout_dir);

    let answer = http_get(
        running.addr,
        &format!("/v2/library/app/blobs/{}", linked.digest),
    );
    assert_eq!(answer.status, 404, "a blob that is a link is not served");
    let answer = http_get(
        running.addr,
        &format!("/v2/example/multi/blobs/{}", fifo.digest),
    );
    assert_eq!(answer.status, 404, "a blob that is a FIFO is not served");
    assert_eq!(http_get(running.addr, "/v2/").status, 200, "still serving");

    let lines = log_lines(&running, "not a regular file", Duration::from_millis(500));
    for blob in [linked, fifo] {
        assert!(
            lines.iter().any(|l| l.contains(blob.hex())),
            "a log line names {}: {lines:?}",
            blob.hex()
        );
    }
}

#[test]
fn issue12_a_manifest_that_is_a_link_or_a_fifo_is_refused_at_start_up() {
    for fifo in [false, true] {
        let case = if fifo { "FIFO" } else { "symlink" };
        let dir = TempDir::new("served-files-manifest");
        let layout_dir = dir.join("layout");
        let layout = build_layout(&layout_dir, &LayoutOptions::TINY);
        let manifest = layout.images[0].manifest.path(&layout_dir);
        if fifo {
            fs::remove_file(&manifest).expect("remove the manifest");
            mkfifo(&manifest);
        } else {
            link_outside(&manifest, &dir.join("outside"));
        }
        let exit = run_to_exit(serve_command(&layout_dir), Duration::from_secs(10));
        assert!(!exit.status.success(), "{case}: refused: {exit:?}");
        let name = layout.images[0].manifest.hex();
        assert!(
            exit.stderr.contains(name) && exit.stderr.contains("not a regular file"),
            "{case}: the error names the file and why: {:?}",
            exit.stderr
        );
    }
}

/// The architecture of the injector under test, as OCI names it.
fn injector_architecture() -> String {
    std::env::var("ZARF_INJECTOR_TEST_ARCH").unwrap_or_else(|_| {
        match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        }
        .to_string()
    })
}

#[test]
fn issue12_an_index_asked_for_as_a_manifest_is_answered_for_the_own_architecture() {
    let dir = TempDir::new("served-files-platform");
    let layout = build_layout(dir.path(), &LayoutOptions::TINY);
    let multi = &layout.images[1];
    let architecture = injector_architecture();
    // build_layout's multi-arch index lists linux/amd64, then linux/arm64.
    let own = match architecture.as_str() {
        "amd64" => &multi.children[0].digest,
        "arm64" => &multi.children[1].digest,
        other => panic!("the test layout has no {other} manifest"),
    };
    let running = run_serve(dir.path());
    let request = format!(
        "GET /v2/example/multi/manifests/latest HTTP/1.1\r\nHost: x\r\n\
         Accept: {MANIFEST}\r\nConnection: close\r\n\r\n"
    );
    let answer = http_exchange(running.addr, request.as_bytes(), true);
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.header("docker-content-digest"),
        Some(own.as_str()),
        "the linux/{architecture} manifest"
    );
}

#[test]
fn issue12_refused_tls_handshakes_are_logged_once_per_ten_seconds_with_a_count() {
    let dir = TempDir::new("served-files-tls");
    build_layout(dir.path(), &LayoutOptions::TINY);
    let running = run_serve(dir.path());
    for _ in 0..50 {
        let answer = http_exchange(running.addr, CLIENT_HELLO, false);
        assert_eq!(answer.status, 400, "a ClientHello is answered 400");
    }
    let lines = log_lines(&running, TLS_LINE, Duration::from_millis(500));
    assert_eq!(
        lines.len(),
        1,
        "one line for a burst of 50 handshakes, not a flood: {lines:?}"
    );
    assert!(
        lines[0].contains("plain HTTP"),
        "the line says what to do: {lines:?}"
    );
    // Ten seconds later the next handshake is logged, with the count of those not logged.
    std::thread::sleep(Duration::from_secs(10));
    assert_eq!(http_exchange(running.addr, CLIENT_HELLO, false).status, 400);
    let lines = log_lines(&running, TLS_LINE, Duration::from_millis(500));
    assert!(
        lines.len() == 1 && lines[0].contains("49 more refused"),
        "one more line, counting the 49 not logged: {lines:?}"
    );
}
