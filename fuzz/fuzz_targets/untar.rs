//! `inject::untar::extract` over an in-memory archive into a fresh directory; the first byte
//! chooses plain tar (even) or gzip (odd, through `GzipReader`, as the injector does). Never
//! panics, and whatever the outcome, nothing is written next to the root and the root holds
//! only directories and regular files without set-id or sticky bits.
#![no_main]

use fuzz_support::{assert_contained, fresh_root, remove_root};
use libfuzzer_sys::fuzz_target;
use zarf_injector::inject::gzip::GzipReader;
use zarf_injector::inject::untar;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, archive)) = data.split_first() else {
        return;
    };
    let root = fresh_root();
    let mut input = archive;
    let _ = if mode & 1 == 0 {
        untar::extract(&mut input, &root)
    } else {
        untar::extract(&mut GzipReader::new(&mut input), &root)
    };
    assert_contained(&root);
    remove_root(&root);
});
