//! Software prefetch for the one streaming loop ([`crate::driver`]).
//!
//! Beyond the caches a single thread is limited by how many cache lines it has in flight, not
//! by the memory bus: the hardware prefetchers follow the streams, but a loop with a divider and
//! four or five buffers keeps too few misses outstanding. The driver therefore requests, once
//! per pair of chunks, each buffer's line [`DISTANCE`] bytes ahead of use (at 16 lanes a pair is
//! two lines; the L2's adjacent-line prefetcher brings the other: requesting both was no faster
//! and made Torch Adagrad 16 % slower), on calls of at least [`FROM_BYTES`].
//!
//! Measured on this Xeon, C library at x86-64-v4, one thread, 16 Mi elements, against the
//! hand-written intrinsics loop (`benches/c/vs_hand.c`, medians of 9 interleaved rounds):
//! before, Adam Portable 0.95-0.98×, Adagrad 0.87-0.93×, RMSprop 0.89-0.97×; with the requests,
//! 1.03-1.04×, 0.99-1.00×, 1.02-1.06× (and within 1-3 % of a plain copy of the same buffers).
//! In a hand-written C loop, 512 B and 1 KiB ahead were the best distances; 2 KiB and more lost
//! part of the gain. A prefetch is a hint: it never faults, whatever the address, and changes
//! nothing a program can observe but time, so it cannot change a result.

/// How far ahead of the element in use each buffer's line is requested, in bytes.
pub(crate) const DISTANCE: usize = 1024;

/// The smallest call (all its buffers' bytes) that prefetches: about this Xeon's L2 (2 MiB).
/// Below it the lines are in the caches already and the requests only take issue slots: at
/// 4 Ki elements, requesting both lines of every pair cost `Fast` Adam 10 % of its speed.
pub(crate) const FROM_BYTES: usize = 2 << 20;

/// Requests the cache line holding `p` into every cache level (`PREFETCHT0` on x86; nothing on
/// other targets, whose prefetch intrinsics are not stable). `p` may point anywhere, even to
/// unmapped memory.
#[inline(always)]
pub(crate) fn line(p: *const f32) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 reads nothing the program sees, writes nothing and never faults,
    // whatever the address (Intel SDM, "PREFETCHh": a hint). Inline assembly rather than
    // `_mm_prefetch`: LLVM models that intrinsic as possibly writing the memory it points to,
    // which made it reload the loop's slice lengths after each request and keep bounds checks
    // (panic paths) it otherwise proves away; `readonly` says what the instruction does.
    #[allow(unsafe_code)]
    unsafe {
        core::arch::asm!("prefetcht0 [{p}]", p = in(reg) p, options(nostack, preserves_flags, readonly));
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

#[cfg(test)]
mod tests {
    use super::line;

    /// A prefetch of any address is harmless: null, past the end of a buffer, the top of the
    /// address space (each would fault as a load).
    #[test]
    fn prefetch_never_faults() {
        let buf = [1.0f32; 4];
        line(buf.as_ptr());
        line(buf.as_ptr().wrapping_add(1 << 20));
        line(core::ptr::null());
        line(usize::MAX as *const f32);
        assert_eq!(buf, [1.0; 4]);
    }
}
