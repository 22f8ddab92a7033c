//! `json::read` on large and deeply nested documents (issue 12): it must never allocate,
//! whatever the size, the number of values or the nesting, and what it accepts must read
//! back through `Value` without panicking. The input is expanded so that short inputs make
//! big documents: the first byte `r`, then `head 0xff fragment 0xff tail`, and the document
//! is the head, the fragment repeated `64 * r` times, then the tail (e.g. `{"x":[`, `0,`,
//! `0]}`; or ``, `[`, `]]]…`). With fewer 0xff bytes, the missing parts are empty.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use zarf_injector::json::{self, Value};

/// Counts the bytes allocated through Rust's allocator.
struct Counting;

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size(), Ordering::Relaxed);
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Reads every value under `value`, as the layout code does.
fn walk(value: Value<'_>, depth: usize) -> usize {
    assert!(depth <= json::MAX_DEPTH, "deeper than the limit");
    let _ = (value.as_str(), value.as_u64(), value.get("digest"));
    let mut nodes = 1;
    for item in value.items() {
        nodes += walk(item, depth + 1);
    }
    for (_, member) in value.members() {
        nodes += walk(member, depth + 1);
    }
    nodes
}

fuzz_target!(|data: &[u8]| {
    let Some((&repeat, rest)) = data.split_first() else {
        return;
    };
    let mut parts = rest.splitn(3, |&b| b == 0xff);
    let head = parts.next().unwrap_or_default();
    let fragment = parts.next().unwrap_or_default();
    let tail = parts.next().unwrap_or_default();
    let times = usize::from(repeat) * 64;
    let mut document = Vec::with_capacity(head.len() + fragment.len() * times + tail.len());
    document.extend_from_slice(head);
    for _ in 0..times {
        document.extend_from_slice(fragment);
    }
    document.extend_from_slice(tail);
    let before = ALLOCATED.load(Ordering::Relaxed);
    let read = json::read(&document);
    assert_eq!(
        ALLOCATED.load(Ordering::Relaxed),
        before,
        "json::read allocated"
    );
    if let Ok(value) = read {
        walk(value, 0);
    }
});
