//! `memcpy` for the x86_64 musl builds: small copies without string instructions.
//!
//! Why: answering one manifest request makes ~57 copies, nearly all of 1 to 80 bytes (header
//! pieces, the request's strings, the access-log line). musl's x86_64 `memcpy` runs
//! `rep movsq` and a `movsb` loop for every length; on a small copy their start-up is most of
//! the cost, and `perf` put ~20% of the server's CPU per manifest request in it. Here copies of
//! up to 64 bytes are two to eight overlapping plain loads and stores, and longer ones one
//! `rep movsb` (fast on every x86_64 with ERMS, i.e. since 2012). Defined in the binary, it is
//! the `memcpy` the linker takes (musl's, in its archive, is not linked). aarch64's musl
//! `memcpy` is already written for small copies and stays.
//!
//! No loop here copies byte by byte or word by word: the compiler would turn such a loop into
//! a call to `memcpy`, this very function.
#![allow(unsafe_code)]

/// Copies `n` bytes from `src` to `dst`; the ranges must not overlap.
///
/// # Safety
/// `src` must be valid for `n` bytes of reads and `dst` for `n` bytes of writes, not
/// overlapping.
#[inline(always)]
pub unsafe fn copy(dst: *mut u8, src: *const u8, n: usize) {
    // SAFETY: every access is within `n` bytes of `src` or `dst` (the caller's contract); the
    // pairs of accesses overlap instead of looping over the middle.
    unsafe {
        match n {
            0 => {}
            1..=3 => {
                let (a, b, c) = (*src, *src.add(n / 2), *src.add(n - 1));
                *dst = a;
                *dst.add(n / 2) = b;
                *dst.add(n - 1) = c;
            }
            4..=7 => pair::<u32>(dst, src, n),
            8..=16 => pair::<u64>(dst, src, n),
            17..=32 => pair::<u128>(dst, src, n),
            33..=64 => {
                pair::<u128>(dst, src, 32);
                pair::<u128>(dst.add(n - 32), src.add(n - 32), 32);
            }
            _ => rep_movsb(dst, src, n),
        }
    }
}

/// Copies `n` bytes (`size_of::<T>() <= n <= 2 * size_of::<T>()`) as the first and the last
/// `T` of the range, loaded both before either is stored.
///
/// # Safety
/// As for [`copy`].
#[inline(always)]
unsafe fn pair<T: Copy>(dst: *mut u8, src: *const u8, n: usize) {
    let last = n - std::mem::size_of::<T>();
    // SAFETY: both `T`s lie within the `n` bytes of each range (the caller's contract).
    unsafe {
        let a = src.cast::<T>().read_unaligned();
        let b = src.add(last).cast::<T>().read_unaligned();
        dst.cast::<T>().write_unaligned(a);
        dst.add(last).cast::<T>().write_unaligned(b);
    }
}

/// Copies `n` bytes with the processor's string copy.
///
/// # Safety
/// As for [`copy`].
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn rep_movsb(dst: *mut u8, src: *const u8, n: usize) {
    // SAFETY: `rep movsb` copies `rcx` bytes from `rsi` to `rdi`, forwards (the ABI keeps the
    // direction flag clear); the ranges are the caller's.
    unsafe {
        std::arch::asm!(
            "rep movsb",
            inout("rcx") n => _,
            inout("rdi") dst => _,
            inout("rsi") src => _,
            options(nostack, preserves_flags)
        );
    }
}

/// Copies `n` bytes (other architectures: only the tests use [`copy`] there).
///
/// # Safety
/// As for [`copy`].
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
unsafe fn rep_movsb(dst: *mut u8, src: *const u8, n: usize) {
    // SAFETY: the caller's contract.
    unsafe { std::ptr::copy_nonoverlapping(src, dst, n) }
}

/// Copies `n` bytes from `src` to `dst`, which may overlap.
///
/// # Safety
/// `src` must be valid for `n` bytes of reads and `dst` for `n` bytes of writes.
#[inline(always)]
pub unsafe fn copy_overlapping(dst: *mut u8, src: *const u8, n: usize) {
    // SAFETY: the caller's contract. Up to 32 bytes, [`copy`] loads everything before it
    // stores; a forward copy is right when the target starts before the source, or when the
    // ranges do not overlap.
    unsafe {
        if n <= 32 || (dst as usize).wrapping_sub(src as usize) >= n {
            return if n <= 32 {
                copy(dst, src, n)
            } else {
                rep_movsb(dst, src, n)
            };
        }
        rep_movsb_backwards(dst, src, n);
    }
}

/// Copies `n` bytes from the last to the first, with the processor's string copy.
///
/// # Safety
/// As for [`copy_overlapping`].
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn rep_movsb_backwards(dst: *mut u8, src: *const u8, n: usize) {
    // SAFETY: with the direction flag set, `rep movsb` copies from the last byte down; it is
    // cleared again at once, as the ABI wants it.
    unsafe {
        std::arch::asm!(
            "std",
            "rep movsb",
            "cld",
            inout("rcx") n => _,
            inout("rdi") dst.add(n - 1) => _,
            inout("rsi") src.add(n - 1) => _,
            options(nostack)
        );
    }
}

/// Copies `n` bytes from the last to the first (other architectures: tests only).
///
/// # Safety
/// As for [`copy_overlapping`].
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
unsafe fn rep_movsb_backwards(dst: *mut u8, src: *const u8, n: usize) {
    // SAFETY: the caller's contract.
    unsafe { std::ptr::copy(src, dst, n) }
}

/// C's `memcpy`.
///
/// # Safety
/// As for [`copy`].
#[cfg(all(target_env = "musl", target_arch = "x86_64"))]
#[no_mangle]
pub unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: the caller's contract.
    unsafe { copy(dst, src, n) };
    dst
}

/// C's `memmove` (musl's shares an object file with its `memcpy`, so both are defined here).
///
/// # Safety
/// As for [`copy_overlapping`].
#[cfg(all(target_env = "musl", target_arch = "x86_64"))]
#[no_mangle]
pub unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: the caller's contract.
    unsafe { copy_overlapping(dst, src, n) };
    dst
}

#[cfg(test)]
mod tests {
    use super::{copy, copy_overlapping};

    #[test]
    fn every_length_and_offset_is_copied_exactly() {
        let source: Vec<u8> = (0..600u32).map(|i| (i * 7 + 3) as u8).collect();
        for n in 0..=300 {
            for offset in 0..8 {
                let mut target = vec![0xEEu8; 320];
                unsafe {
                    copy(
                        target.as_mut_ptr().add(offset),
                        source.as_ptr().add(offset),
                        n,
                    )
                };
                assert_eq!(
                    &target[offset..offset + n],
                    &source[offset..offset + n],
                    "n={n}"
                );
                assert!(target[..offset].iter().all(|&b| b == 0xEE), "before, n={n}");
                assert!(
                    target[offset + n..].iter().all(|&b| b == 0xEE),
                    "after, n={n}"
                );
            }
        }
    }

    #[test]
    fn overlapping_copies_either_way_move_the_bytes_as_a_whole() {
        for n in 0..=200 {
            for shift in [-40isize, -17, -8, -1, 1, 3, 16, 33, 64] {
                let mut buffer: Vec<u8> = (0..400u32).map(|i| (i * 13 + 1) as u8).collect();
                let mut want = buffer.clone();
                let (from, to) = (100usize, (100 + shift) as usize);
                want.copy_within(from..from + n, to);
                let p = buffer.as_mut_ptr();
                unsafe { copy_overlapping(p.add(to), p.add(from), n) };
                assert_eq!(buffer, want, "n={n} shift={shift}");
            }
        }
    }
}
