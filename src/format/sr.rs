//! Stochastic rounding f32 → bf16 with counter-based random bits.
//!
//! The rule (torchao's `_fp32_to_bf16_sr`, llm.c's `stochastic_rounding`): with `u` the f32
//! bits, `lo = u & 0xFFFF` and `r` a uniform 16-bit integer, round away from zero (add one bf16
//! ulp to the truncation) when `r < lo`, else truncate: `u' = (u & 0xFFFF0000) + (r < lo ?
//! 0x10000 : 0)` (u32 wrap-around), then `bf16(u')` (exact; NaN → `0xFFFF`). So `x` rounds up
//! with probability `lo / 65536` exactly: unbiased, and an exact bf16 value never moves.
//!
//! The random bits are a hash of `(seed, counter, stream, global index)`, so they do not depend
//! on lane width, chunking, sharding or threads:
//! ```text
//! key = splitmix64(splitmix64(splitmix64(seed) ^ counter) ^ stream)        (once per call)
//! hi  = lowbias32((i >> 32) as u32 ^ (key >> 32) as u32)
//! r(i) = lowbias32((i as u32) ^ (key as u32) ^ hi) >> 16
//! ```
//! with `splitmix64(z)`: `z += 0x9E3779B97F4A7C15; z = (z ^ z>>30)·0xBF58476D1CE4E5B9;
//! z = (z ^ z>>27)·0x94D049BB133111EB; z ^ z>>31` and `lowbias32(x)`: `x ^= x>>16;
//! x ·= 0x7FEB352D; x ^= x>>15; x ·= 0x846CA68B; x ^ x>>16` (wrapping). `i` is the element's
//! global index (the call's `offset` plus its position), `stream` the buffer's place among the
//! call's rounded buffers, `counter` the caller's step count.

use super::half::bf16_bits;
use super::lanes16;

/// SplitMix64's output function on `z + γ`.
const fn splitmix64(z: u64) -> u64 {
    let mut z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Chris Wellons' `lowbias32` integer hash.
#[inline(always)]
const fn lowbias32(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7FEB_352D);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846C_A68B);
    x ^ (x >> 16)
}

/// The random bits of one buffer in one call.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stream {
    key: u64,
}

impl Stream {
    pub(crate) const fn new(seed: u64, counter: u64, stream: u64) -> Self {
        Self { key: splitmix64(splitmix64(splitmix64(seed) ^ counter) ^ stream) }
    }

    /// `r(i)` for the 16-bit random integer of global index `i`.
    #[inline(always)]
    pub(crate) fn rand16(&self, i: u64) -> u16 {
        (lowbias32((i as u32) ^ self.run_key(i)) >> 16) as u16
    }

    /// The key of the run of indices that holds `i` (those with the same `i >> 32`): in it,
    /// `r(j) = lowbias32((j as u32) ^ key) >> 16`.
    #[inline(always)]
    pub(crate) fn run_key(&self, i: u64) -> u32 {
        (self.key as u32) ^ lowbias32(((i >> 32) as u32) ^ ((self.key >> 32) as u32))
    }

    /// `out[k] = sr(x[k])` for the elements at global indices `first..`.
    #[inline(always)]
    pub(crate) fn round_bf16(&self, x: &[f32], first: u64, out: &mut [half::bf16]) {
        let (mut x, mut out, mut first) = (x, out, first);
        while !x.is_empty() {
            // Within one run of equal `i >> 32` the high hash is a constant and the low index a
            // u32 that does not wrap: a loop the compiler vectorises.
            let run = ((1u64 << 32) - (first & 0xFFFF_FFFF)).min(x.len() as u64) as usize;
            let k = self.run_key(first);
            let (Some((xs, rest_x)), Some((os, rest_o))) =
                (x.split_at_checked(run), core::mem::take(&mut out).split_at_mut_checked(run))
            else {
                return;
            };
            let lo = first as u32;
            let (x16, x_tail) = xs.as_chunks::<16>();
            let (o16, o_tail) = os.as_chunks_mut::<16>();
            for (c, (o, v)) in o16.iter_mut().zip(x16).enumerate() {
                let mut h = [0u16; 16];
                lanes16::stochastic_bf16(v, lo.wrapping_add(16 * c as u32), k, &mut h);
                *o = h.map(half::bf16::from_bits);
            }
            let lo = lo.wrapping_add(16 * x16.len() as u32);
            for (j, (o, &v)) in o_tail.iter_mut().zip(x_tail).enumerate() {
                *o = half::bf16::from_bits(stochastic_bf16_at(v, lo.wrapping_add(j as u32), k));
            }
            (x, out, first) = (rest_x, rest_o, first + run as u64);
        }
    }
}

/// [`stochastic_bf16`] of the element at low index `lo` of a run whose key is `key`:
/// `r = lowbias32(lo ^ key) >> 16` (see [`Stream::round_bf16`]).
#[inline(always)]
pub(crate) fn stochastic_bf16_at(x: f32, lo: u32, key: u32) -> u16 {
    stochastic_bf16(x, (lowbias32(lo ^ key) >> 16) as u16)
}

/// f32 → bf16 bits, stochastically: up one ulp when `r < u & 0xFFFF`.
#[inline(always)]
pub(crate) fn stochastic_bf16(x: f32, r: u16) -> u16 {
    let u = x.to_bits();
    let up = if u32::from(r) < (u & 0xFFFF) { 0x1_0000 } else { 0 };
    bf16_bits(f32::from_bits((u & 0xFFFF_0000).wrapping_add(up)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_values_never_move_and_others_take_one_of_two_neighbours() {
        for u in (0u32..0x7F80_0000).step_by(0x0012_3457) {
            let x = f32::from_bits(u);
            for r in [0u16, 1, 0x7FFF, 0xFFFF] {
                let b = stochastic_bf16(x, r);
                if u & 0xFFFF == 0 {
                    assert_eq!(u32::from(b) << 16, u);
                } else {
                    assert!(b == (u >> 16) as u16 || b == (u >> 16) as u16 + 1);
                }
            }
        }
    }

    #[test]
    fn streams_differ_and_are_stable() {
        let a = Stream::new(1, 2, 0);
        assert_ne!(a.rand16(0), Stream::new(1, 3, 0).rand16(0));
        assert_ne!(a.rand16(5), Stream::new(1, 2, 1).rand16(5));
        assert_eq!(a.rand16(1 << 40), Stream::new(1, 2, 0).rand16(1 << 40));
    }
}
