//! `zarf-injector`: unpack the seed payload, then serve it as a registry. All logic is in the
//! library; this file only hands it the command line and returns its exit status.
//!
//! `#![no_main]`: the C library calls `main` directly, without std's runtime start-up and
//! clean-up around it (its stack-overflow handler, its `SIGPIPE` setting, which
//! [`zarf_injector::run::main`] makes itself, and the flush of a `Stdout` this program never
//! uses): ~2 KB of the release binary for nothing it needs (docs/SIZE.md).
#![no_main]

use std::ffi::{c_char, c_int, CStr, OsStr};
use std::os::unix::ffi::OsStrExt;

/// The C entry point: `argv` holds `argc` NUL-terminated arguments, the program's name first.
///
/// # Safety
/// Called by the C runtime only, with its `argc` and `argv`.
#[no_mangle]
pub unsafe extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
    let count = usize::try_from(argc).unwrap_or(0);
    let args = (1..count).map(|i| {
        // SAFETY: the C runtime passes `argc` valid pointers to NUL-terminated strings in
        // `argv`, alive for the whole process.
        let arg = unsafe { CStr::from_ptr(*argv.add(i)) };
        OsStr::from_bytes(arg.to_bytes()).to_os_string()
    });
    zarf_injector::run::main(args)
}
