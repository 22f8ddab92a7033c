//! The memory allocator of the musl builds: size classes over `mmap(2)`, in place of musl's
//! mallocng.
//!
//! mallocng is ~8.5 KB of the nightly binary (its slot groups, out-of-band metadata with
//! checks, and the code that returns memory by the page), for a program that allocates little:
//! mostly at start-up, then a few small blocks per connection on the event loop and per line on
//! the log writer's thread. This is ~1 KB (docs/SIZE.md, "Size decisions in the code"):
//!
//! - Blocks up to [`SMALL_MAX`] are rounded up to a power of two (16 B to 64 KiB, 13 classes),
//!   carved from 1 MiB `mmap`ped chunks at an address aligned to their own size (so any
//!   alignment up to the block's size holds), and kept on one free list per class when freed,
//!   for the next block of that class. Carving leaves the chunk's untouched pages untouched, so
//!   rounding up costs address space, not memory. What a class holds is never returned: the
//!   heap stays at the most the program ever used at once per class.
//! - Larger blocks are their own mappings, `munmap`ped when freed and grown by `mremap(2)`
//!   (which moves pages, not bytes): memory a long-running server freed goes back to the
//!   system. They are page-aligned; a larger alignment than a page gets no memory (null), which
//!   nothing in this program asks for.
//! - One lock, a flag taken by an atomic swap, guards the lists: two threads exist (the event
//!   loop and the log writer), and each holds it for a few instructions (or one `mmap` of a
//!   chunk). A thread that finds it taken yields its CPU to the holder.
//!
//! On musl the C functions `malloc`, `calloc`, `realloc`, `free` and `aligned_alloc` are
//! defined here too, for musl's own callers (`opendir` for `std::fs::read_dir`, among others):
//! otherwise the linker would take musl's from its archive and mallocng with them. A C block
//! carries its size and alignment in the 16 bytes before it, since `free` is not told them.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout};
use std::cell::UnsafeCell;
use std::ptr::{self, null_mut};
use std::sync::atomic::{AtomicBool, Ordering};

/// The smallest block, and the alignment of every block (C's `max_align_t`).
const MIN: usize = 16;
/// Size classes: 16 B, 32 B, ... up to [`SMALL_MAX`].
const CLASSES: usize = 13;
/// The largest block kept on a free list; larger ones are their own mappings.
pub const SMALL_MAX: usize = MIN << (CLASSES - 1);
/// What one `mmap` takes for small blocks.
const CHUNK: usize = 1 << 20;
/// The alignment every mapping has, whatever the system's page size.
const PAGE: usize = 4096;

/// The allocator (the global one on musl). All its state is in one static: every value of it
/// is the same allocator.
pub struct Heap;

/// The global allocator of the musl builds.
#[cfg(target_env = "musl")]
#[global_allocator]
static GLOBAL: Heap = Heap;

/// The free lists and the chunk being carved.
struct Lists {
    /// The first free block of each class; each free block starts with the next one's address.
    free: [*mut u8; CLASSES],
    /// Where the current chunk's unused part starts and ends (0 and 0 before the first).
    next: usize,
    end: usize,
}

/// [`Lists`] under a lock.
struct Locked {
    busy: AtomicBool,
    lists: UnsafeCell<Lists>,
}

// SAFETY: `lists` is only reached through `with_lists`, which holds `busy`.
unsafe impl Sync for Locked {}

static LISTS: Locked = Locked {
    busy: AtomicBool::new(false),
    lists: UnsafeCell::new(Lists {
        free: [null_mut(); CLASSES],
        next: 0,
        end: 0,
    }),
};

/// Runs `f` on the lists while holding their lock.
fn with_lists<R>(f: impl FnOnce(&mut Lists) -> R) -> R {
    while LISTS.busy.swap(true, Ordering::Acquire) {
        // SAFETY: sched_yield(2) takes no arguments.
        unsafe { libc::sched_yield() };
    }
    // SAFETY: the lock is held, so this is the only reference until it is released below.
    let result = f(unsafe { &mut *LISTS.lists.get() });
    LISTS.busy.store(false, Ordering::Release);
    result
}

/// The class of a block for `layout` (its size is `MIN << class`), or `None` for a large one.
fn class(layout: Layout) -> Option<usize> {
    let size = layout.size().max(layout.align()).max(MIN);
    if size > SMALL_MAX {
        return None;
    }
    Some((size.next_power_of_two().trailing_zeros() - MIN.trailing_zeros()) as usize)
}

/// `len` bytes of new zeroed memory, page-aligned, or null.
fn map(len: usize) -> *mut u8 {
    // SAFETY: an anonymous private mapping at an address of the kernel's choice touches no
    // existing memory.
    let p = unsafe {
        libc::mmap(
            null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return null_mut();
    }
    p.cast()
}

/// A block of `class`: the first on its free list, else carved from the chunk (a new chunk if
/// the block does not fit in what is left of the current one, whose rest is given up).
fn take(class: usize) -> *mut u8 {
    let size = MIN << class;
    with_lists(|lists| {
        let Some(head) = lists.free.get_mut(class) else {
            return null_mut();
        };
        if !head.is_null() {
            let block = *head;
            // SAFETY: a free block is at least 16 bytes, aligned, and starts with the address
            // of the next one (written by `give`).
            *head = unsafe { block.cast::<*mut u8>().read() };
            return block;
        }
        let mut at = (lists.next + size - 1) & !(size - 1);
        if at + size > lists.end {
            let chunk = map(CHUNK);
            if chunk.is_null() {
                return null_mut();
            }
            lists.next = chunk as usize;
            lists.end = lists.next + CHUNK;
            at = (lists.next + size - 1) & !(size - 1);
        }
        lists.next = at + size;
        at as *mut u8
    })
}

/// Puts `block` of `class` on its free list.
///
/// # Safety
/// `block` came from [`take`] with the same class and is no longer used.
unsafe fn give(block: *mut u8, class: usize) {
    with_lists(|lists| {
        if let Some(head) = lists.free.get_mut(class) {
            // SAFETY: the block is the caller's to give, at least 16 bytes and aligned.
            unsafe { block.cast::<*mut u8>().write(*head) };
            *head = block;
        }
    })
}

// SAFETY: blocks are disjoint (carved once, or mapped on their own), at least the layout's size
// and aligned to the layout's alignment (a class's blocks are aligned to their size, which is
// at least the alignment; mappings to a page, and larger alignments get null). A block is
// handed out again only after `dealloc` put it back.
unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match class(layout) {
            Some(class) => take(class),
            None if layout.align() <= PAGE => map(layout.size()),
            None => null_mut(),
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        match class(layout) {
            // SAFETY: `ptr` came from `alloc` with this layout, so from `take` with this class.
            Some(class) => unsafe { give(ptr, class) },
            // SAFETY: `ptr` is a mapping of `layout.size()` bytes (rounded up to pages by the
            // kernel, as `mmap` did), which the caller no longer uses.
            None => unsafe {
                libc::munmap(ptr.cast(), layout.size());
            },
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's layout has a non-zero size.
        let p = unsafe { self.alloc(layout) };
        if !p.is_null() && class(layout).is_some() {
            // SAFETY: the block holds at least `layout.size()` bytes. (Mappings are zeroed.)
            unsafe { ptr::write_bytes(p, 0, layout.size()) };
        }
        p
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees `new_size`, rounded up to the alignment, is a valid size.
        let new = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        match (class(layout), class(new)) {
            (Some(old), Some(now)) if old == now => ptr,
            (None, None) => {
                // SAFETY: `ptr` is a mapping of `layout.size()` bytes; the kernel moves its
                // pages (keeping the page alignment) or resizes it in place.
                let p = unsafe {
                    libc::mremap(ptr.cast(), layout.size(), new_size, libc::MREMAP_MAYMOVE)
                };
                if p == libc::MAP_FAILED {
                    return null_mut();
                }
                p.cast()
            }
            _ => {
                // SAFETY: `new` has a non-zero size (the caller's contract).
                let p = unsafe { self.alloc(new) };
                if !p.is_null() {
                    // SAFETY: both blocks hold the bytes copied, and they are disjoint; the old
                    // block is freed with the layout it was allocated with.
                    unsafe {
                        ptr::copy_nonoverlapping(ptr, p, layout.size().min(new_size));
                        self.dealloc(ptr, layout);
                    }
                }
                p
            }
        }
    }
}

/// Sets `errno` to `code` and returns null, for the C functions.
fn fail(code: libc::c_int) -> *mut u8 {
    // SAFETY: `__errno_location` returns the calling thread's `errno`.
    unsafe { *libc::__errno_location() = code };
    null_mut()
}

/// The layout of a C block of `size` bytes aligned to `align` (a power of two of at least
/// 16), with `align` bytes in front of it whose last 16 hold its size and alignment.
fn c_layout(size: usize, align: usize) -> Option<Layout> {
    let total = size.checked_add(align)?;
    Layout::from_size_align(total, align).ok()
}

/// Writes `layout` (size, then alignment) into the 16 bytes before `user`.
///
/// # Safety
/// `user` is `layout.align()` bytes into a block allocated with `layout`.
unsafe fn set_header(user: *mut u8, layout: Layout) {
    // SAFETY: the 16 bytes before `user` are in the block (the alignment is at least 16) and
    // aligned for `usize`.
    unsafe {
        let header = user.cast::<usize>().sub(2);
        header.write(layout.size());
        header.add(1).write(layout.align());
    }
}

/// The layout written by [`set_header`] before `user`.
///
/// # Safety
/// `user` came from [`c_alloc`] or [`c_realloc`] and was not freed.
unsafe fn header(user: *mut u8) -> Layout {
    // SAFETY: `set_header` wrote a valid layout there.
    unsafe {
        let header = user.cast::<usize>().sub(2);
        Layout::from_size_align_unchecked(header.read(), header.add(1).read())
    }
}

/// C's `aligned_alloc`: `size` bytes aligned to `align` (a power of two; 16 at least is
/// used), or null with `errno` set.
pub fn c_alloc(size: usize, align: usize) -> *mut u8 {
    if !align.is_power_of_two() {
        return fail(libc::EINVAL);
    }
    let align = align.max(MIN);
    let Some(layout) = c_layout(size, align) else {
        return fail(libc::ENOMEM);
    };
    // SAFETY: the layout's size is at least 16.
    let base = unsafe { Heap.alloc(layout) };
    if base.is_null() {
        return fail(libc::ENOMEM);
    }
    // SAFETY: the block holds `align` + `size` bytes.
    unsafe {
        let user = base.add(align);
        set_header(user, layout);
        user
    }
}

/// C's `calloc`: `count` zeroed elements of `size` bytes, or null with `errno` set.
pub fn c_calloc(count: usize, size: usize) -> *mut u8 {
    let Some(total) = count.checked_mul(size) else {
        return fail(libc::ENOMEM);
    };
    let p = c_alloc(total, MIN);
    if !p.is_null() {
        // SAFETY: the block holds `total` bytes.
        unsafe { ptr::write_bytes(p, 0, total) };
    }
    p
}

/// C's `free`.
///
/// # Safety
/// `user` is null or came from [`c_alloc`], [`c_calloc`] or [`c_realloc`] and was not freed.
pub unsafe fn c_free(user: *mut u8) {
    if user.is_null() {
        return;
    }
    // SAFETY: the block starts `align` bytes before `user` and was allocated with `layout`.
    unsafe {
        let layout = header(user);
        Heap.dealloc(user.sub(layout.align()), layout);
    }
}

/// C's `realloc`: the block resized to `size` bytes (moved if need be, keeping its first
/// bytes and its alignment), or null with `errno` set and the block left as it was.
///
/// # Safety
/// As for [`c_free`].
pub unsafe fn c_realloc(user: *mut u8, size: usize) -> *mut u8 {
    if user.is_null() {
        return c_alloc(size, MIN);
    }
    // SAFETY: as in `c_free`.
    let old = unsafe { header(user) };
    let Some(new) = c_layout(size, old.align()) else {
        return fail(libc::ENOMEM);
    };
    // SAFETY: the block was allocated with `old`; `new` is a valid layout of its alignment.
    let base = unsafe { Heap.realloc(user.sub(old.align()), old, new.size()) };
    if base.is_null() {
        return fail(libc::ENOMEM);
    }
    // SAFETY: the block holds `align` + `size` bytes.
    unsafe {
        let user = base.add(new.align());
        set_header(user, new);
        user
    }
}

/// The C allocation functions, so that musl's own callers use this heap and its mallocng is
/// not linked (the release binaries are checked for that: docs/SIZE.md).
#[cfg(target_env = "musl")]
mod c {
    use super::{c_alloc, c_calloc, c_free, c_realloc, MIN};
    use libc::{c_void, size_t};

    /// C's `malloc`.
    #[no_mangle]
    pub extern "C" fn malloc(size: size_t) -> *mut c_void {
        c_alloc(size, MIN).cast()
    }

    /// C's `calloc`.
    #[no_mangle]
    pub extern "C" fn calloc(count: size_t, size: size_t) -> *mut c_void {
        c_calloc(count, size).cast()
    }

    /// C's `aligned_alloc` (musl's `posix_memalign` and `memalign` call it).
    #[no_mangle]
    pub extern "C" fn aligned_alloc(align: size_t, size: size_t) -> *mut c_void {
        c_alloc(size, align).cast()
    }

    /// C's `realloc`.
    ///
    /// # Safety
    /// As for [`super::c_realloc`].
    #[no_mangle]
    pub unsafe extern "C" fn realloc(p: *mut c_void, size: size_t) -> *mut c_void {
        // SAFETY: the caller's contract.
        unsafe { c_realloc(p.cast(), size).cast() }
    }

    /// C's `free`.
    ///
    /// # Safety
    /// As for [`super::c_free`].
    #[no_mangle]
    pub unsafe extern "C" fn free(p: *mut c_void) {
        // SAFETY: the caller's contract.
        unsafe { c_free(p.cast()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fills `len` bytes at `p` with a pattern made from `seed`.
    fn fill(p: *mut u8, len: usize, seed: u8) {
        for i in 0..len {
            unsafe { p.add(i).write(seed.wrapping_add(i as u8)) };
        }
    }

    /// Whether `len` bytes at `p` hold the pattern of `fill`.
    fn holds(p: *const u8, len: usize, seed: u8) -> bool {
        (0..len).all(|i| unsafe { p.add(i).read() } == seed.wrapping_add(i as u8))
    }

    const SIZES: &[usize] = &[
        1,
        15,
        16,
        17,
        100,
        4095,
        4096,
        4097,
        65535,
        65536,
        65537,
        200_000,
        1 << 21,
    ];
    const ALIGNS: &[usize] = &[1, 8, 16, 64, 4096, 65536];

    #[test]
    fn blocks_are_aligned_disjoint_and_reused() {
        for &align in ALIGNS {
            for &size in SIZES {
                let layout = Layout::from_size_align(size, align).unwrap();
                let a = unsafe { Heap.alloc(layout) };
                if align > PAGE && size.max(align) > SMALL_MAX {
                    assert!(a.is_null(), "size {size} align {align}");
                    continue;
                }
                let b = unsafe { Heap.alloc(layout) };
                assert!(!a.is_null() && !b.is_null(), "size {size} align {align}");
                assert_eq!(a as usize % align, 0, "size {size} align {align}");
                assert_eq!(b as usize % align, 0, "size {size} align {align}");
                fill(a, size, 1);
                fill(b, size, 2);
                assert!(holds(a, size, 1) && holds(b, size, 2), "size {size}");
                unsafe { Heap.dealloc(a, layout) };
                unsafe { Heap.dealloc(b, layout) };
            }
        }
    }

    #[test]
    fn zeroed_blocks_are_zero_when_reused() {
        for &size in SIZES {
            let layout = Layout::from_size_align(size, 8).unwrap();
            let a = unsafe { Heap.alloc(layout) };
            fill(a, size, 7);
            unsafe { Heap.dealloc(a, layout) };
            let z = unsafe { Heap.alloc_zeroed(layout) };
            assert!(
                (0..size).all(|i| unsafe { z.add(i).read() } == 0),
                "size {size}"
            );
            unsafe { Heap.dealloc(z, layout) };
        }
    }

    #[test]
    fn realloc_keeps_the_bytes_and_the_alignment() {
        for &align in &[8, 64, 4096] {
            for &from in SIZES {
                for &to in SIZES {
                    let layout = Layout::from_size_align(from, align).unwrap();
                    let p = unsafe { Heap.alloc(layout) };
                    fill(p, from, 3);
                    let q = unsafe { Heap.realloc(p, layout, to) };
                    assert!(!q.is_null(), "{from} -> {to}");
                    assert_eq!(q as usize % align, 0, "{from} -> {to} align {align}");
                    assert!(holds(q, from.min(to), 3), "{from} -> {to} align {align}");
                    fill(q, to, 4);
                    let layout = Layout::from_size_align(to, align).unwrap();
                    unsafe { Heap.dealloc(q, layout) };
                }
            }
        }
    }

    #[test]
    fn impossible_requests_get_null() {
        let huge = Layout::from_size_align(isize::MAX as usize - 4095, 4096).unwrap();
        assert!(unsafe { Heap.alloc(huge) }.is_null());
        let over_aligned = Layout::from_size_align(1 << 20, 1 << 20).unwrap();
        assert!(unsafe { Heap.alloc(over_aligned) }.is_null());
        assert!(c_alloc(usize::MAX - 8, 16).is_null());
        assert!(c_alloc(16, 24).is_null());
        assert!(
            c_alloc(1, 65536).is_null(),
            "more than a page, with its header"
        );
        assert!(c_calloc(usize::MAX / 2, 3).is_null());
    }

    #[test]
    fn c_functions() {
        for &align in &[1, 16, 32, 4096] {
            for &size in SIZES {
                let p = c_alloc(size, align);
                assert_eq!(p as usize % align.max(16), 0, "size {size} align {align}");
                fill(p, size, 5);
                let q = unsafe { c_realloc(p, size * 2 + 1) };
                assert_eq!(q as usize % align.max(16), 0, "size {size} align {align}");
                assert!(holds(q, size, 5), "size {size} align {align}");
                let r = unsafe { c_realloc(q, size / 2) };
                assert!(holds(r, size / 2, 5), "size {size} align {align}");
                unsafe { c_free(r) };
            }
        }
        let z = c_calloc(1000, 70);
        assert!((0..70_000).all(|i| unsafe { z.add(i).read() } == 0));
        unsafe { c_free(z) };
        let grown = unsafe { c_realloc(null_mut(), 10) };
        assert!(!grown.is_null());
        let empty = unsafe { c_realloc(grown, 0) };
        assert!(!empty.is_null());
        unsafe { c_free(empty) };
        unsafe { c_free(null_mut()) };
    }

    /// Threads allocating, checking and freeing blocks of every class at once: the lock keeps
    /// the free lists whole.
    #[test]
    fn threads_share_the_lists() {
        let threads: Vec<_> = (0..4u8)
            .map(|t| {
                std::thread::spawn(move || {
                    let mut held = Vec::new();
                    for round in 0..3000usize {
                        let size = 1 + (round * 7919 + t as usize * 104_729) % 70_000;
                        let layout = Layout::from_size_align(size, 16).unwrap();
                        let p = unsafe { Heap.alloc(layout) };
                        assert!(!p.is_null());
                        fill(p, size.min(256), t);
                        held.push((p, layout));
                        if held.len() > 20 {
                            let (p, layout) = held.swap_remove(round % held.len());
                            assert!(holds(p, layout.size().min(256), t));
                            unsafe { Heap.dealloc(p, layout) };
                        }
                    }
                    for (p, layout) in held {
                        assert!(holds(p, layout.size().min(256), t));
                        unsafe { Heap.dealloc(p, layout) };
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
    }
}
