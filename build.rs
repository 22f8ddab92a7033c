//! Link step of the release injector for musl: drop the unwind tables (`link/no-unwind-tables.ld`).
//!
//! The release profile aborts on panic, so nothing ever reads `.eh_frame` or
//! `.gcc_except_table`; on the stable toolchain std is prebuilt with them, and they are ~50 KB
//! of the static binary (docs/SIZE.md). Only the `zarf-injector` binary, only release builds,
//! only musl targets, and only when the system linker driver (cc) links: the nightly builds of
//! `release.sh` link with rust-lld and are built without unwind tables in the first place.

fn main() {
    println!("cargo:rerun-if-changed=link/no-unwind-tables.ld");
    println!("cargo:rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    let musl = std::env::var("CARGO_CFG_TARGET_ENV").is_ok_and(|e| e == "musl");
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let lld = flags.contains("linker-flavor=ld.lld");
    if release && musl && !lld {
        let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
        println!("cargo:rustc-link-arg-bin=zarf-injector=-Wl,-T,{dir}/link/no-unwind-tables.ld");
    }
}
