//! Block-wise 8-bit quantization with bitsandbytes' maps (`q8`).
//!
//! Layout: `codes[i]` (one `u8` per element) indexes a 256-entry map ([`Q8Map`]); `absmax[b]`
//! (one f32 per block of [`Q8_BLOCK`] = 256 elements, the last block partial) scales block
//! `b`. A value is `map[codes[i]] · absmax[i / 256]` (one f32 multiply). This is the layout of
//! bitsandbytes' 8-bit optimizer state (`state1`/`state2` with `absmax1`/`absmax2`), so a state
//! saved by bitsandbytes loads into optkern and back.
//!
//! Quantizing a block: `absmax = max |x|` (f32, exact; NaN if any value is NaN);
//! `inv = 1/absmax` (one f32 division); `y = clamp(x·inv, −1, 1)`; then the code, by the
//! [`Quantizer`]:
//! - [`Quantizer::Nearest`]: the nearest map value, `code = #{i : mid[i] < y}` with
//!   `mid[i] = 0.5·(map[i] + map[i+1])` in f32 (a tie goes to the lower code). An all-zero block
//!   gets `absmax = 0` and the code of 0 (so it dequantizes to +0); zeros stay zero.
//! - [`Quantizer::BnbCpu`]: bitsandbytes' CPU kernel, bit for bit: `j = trunc((y + 1)·0.5·65535 +
//!   0.5)` (f32 operations in that order) then `code = #{i : mid[i] < −1 + 2j/65535}` (a
//!   65536-entry table). Not nearest: a zero inside a non-zero block becomes a small positive
//!   code (131 signed, 7 unsigned), and an all-zero block gets code 0 (dequantizing to −0 with
//!   the signed map).
//!
//! A block whose `absmax` is not finite (a NaN or ±∞ among its values) stores `absmax = NaN`
//! and the code of 0: the whole block reads back as NaN (the state is lost, as it would be).

use super::maps::{DYNAMIC, UDYNAMIC};

/// Elements per quantization block (bitsandbytes' fixed block size).
pub const Q8_BLOCK: usize = 256;

/// Which of bitsandbytes' two maps a `q8` buffer uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Q8Map {
    /// `create_dynamic_map(signed=True)` (bitsandbytes' `dynamic`): values in `[−0.993, 1]`,
    /// 0 at code 127. bitsandbytes uses it for the first moment and for every single-state
    /// optimizer's state.
    Signed = 0,
    /// `create_dynamic_map(signed=False)` (`udynamic`): values in `[0, 1]`, 0 at code 0; for a
    /// second moment.
    Unsigned = 1,
}

/// How a `q8` block is rounded to codes (see the module documentation).
///
/// For a **second moment** (Adam's `v`) prefer [`Quantizer::BnbCpu`]: [`Quantizer::Nearest`]
/// rounds a value below half the smallest code (3.25·10⁻⁷ of the block's absmax) to exactly
/// 0, and a step `m/(√v + ε)` with `v = 0` is `m/ε`; bitsandbytes' CPU rule never produces the
/// zero code for a non-zero value (measured on the digits demo: training loss 8.9 after 4
/// epochs with `Nearest`, 0.35 with `BnbCpu`, fp32 0.36).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Quantizer {
    /// The nearest code (ties to the lower); zeros stay zero. The default.
    Nearest = 0,
    /// bitsandbytes' CPU kernel, bit for bit (its 65536-entry lookup table).
    BnbCpu = 1,
}

/// The map's 256 values.
#[repr(C)]
struct Map {
    value: [f32; 256],
    /// The code of 0.
    zero: u8,
    /// Per bucket of `y` (see [`nearest_table`]): the candidate code and the midpoint above
    /// it, side by side (one cache access per element instead of two dependent ones).
    nearest: [(u32, f32); 2 * KEYS],
    /// bitsandbytes' CPU table.
    bnb: [u8; 65536],
}

/// Buckets per sign: `|y|` from 2⁻²³ (below it every value is nearer 0 than any other code:
/// the smallest non-zero code is 3.25·10⁻⁷ > 2⁻²¹·⁶) to 1, 128 per binade.
const KEYS: usize = (127 - 104) * 128 + 1;

/// The bucket of `y` (`|y| ≤ 1`): its top 16 bits, the binades below 2⁻²³ folded into the first
/// bucket, negative values in the second half.
#[inline(always)]
fn bucket(y: f32) -> usize {
    let b = y.to_bits();
    let key = (((b >> 16) & 0x7FFF).saturating_sub(104 << 7) as usize).min(KEYS - 1);
    key + if b >> 31 != 0 { KEYS } else { 0 }
}

const fn values(bits: &[u32; 256]) -> [f32; 256] {
    let mut v = [0.0f32; 256];
    let mut i = 0;
    while i < 256 {
        v[i] = f32::from_bits(bits[i]);
        i += 1;
    }
    v
}

/// `mid[i] = 0.5·(v[i] + v[i+1])` (f32); `mid[255] = +∞`, so `y > mid[c]` never moves past the
/// last code.
const fn mids(v: &[f32; 256]) -> [f32; 256] {
    let mut m = [f32::INFINITY; 256];
    let mut i = 0;
    while i < 255 {
        m[i] = 0.5 * (v[i] + v[i + 1]);
        i += 1;
    }
    m
}

/// `#{i : mid[i] < y}` (mid is ascending).
const fn count_below(mid: &[f32; 256], y: f32) -> usize {
    let mut c = 0;
    while c < 255 && mid[c] < y {
        c += 1;
    }
    c
}

/// For every bucket (see [`bucket`]), the code of its value nearest 0: a bucket is narrower
/// than the gap between two midpoints (checked here, at compile time), so the nearest code of
/// any `y` in it is that candidate `c` or `c + 1`, decided by one comparison with `mid[c]`.
/// Built in two monotone walks so that compile-time evaluation stays cheap.
const fn nearest_table(mid: &[f32; 256]) -> [(u32, f32); 2 * KEYS] {
    let mut t = [(0u32, 0.0f32); 2 * KEYS];
    // y ≥ 0: lower edge f32((104·128 + k) << 16) ascending (bucket 0 also holds every smaller
    // magnitude, all nearest the code of 0, which is what its candidate is).
    let mut c = 0;
    let mut k = 0;
    while k < KEYS {
        let top = (((104 << 7) + k) as u32) << 16;
        let (lower, upper) = (f32::from_bits(top), f32::from_bits(top | 0xFFFF));
        let lower = if k == 0 { 0.0 } else { lower };
        while c < 255 && mid[c] < lower {
            c += 1;
        }
        assert!(c >= 255 || mid[c + 1] > upper || upper > 1.0, "two midpoints in a bucket");
        t[k] = (c as u32, mid[c]);
        k += 1;
    }
    // y < 0: lower edge −f32(top | 0xFFFF) ascending as k decreases.
    let mut c = 0;
    let mut k = KEYS;
    while k > 0 {
        k -= 1;
        let top = (((104 << 7) + k) as u32) << 16;
        let lower = -f32::from_bits(top | 0xFFFF);
        let upper = if k == 0 { -0.0 } else { -f32::from_bits(top) };
        while c < 255 && mid[c] < lower {
            c += 1;
        }
        assert!(c >= 255 || mid[c + 1] > upper || lower < -1.0, "two midpoints in a bucket");
        t[KEYS + k] = (c as u32, mid[c]);
    }
    t
}

/// bitsandbytes' CPU lookup table: `lut[j] = #{i : mid[i] < −1 + 2j/65535}` (f32 operations;
/// the argument grows with `j`, so one walk).
const fn bnb_table(mid: &[f32; 256]) -> [u8; 65536] {
    let mut t = [0u8; 65536];
    let mut c = 0;
    let mut j = 0u32;
    while j < 65536 {
        let val = -1.0f32 + (2.0f32 * j as f32) / 65535.0f32;
        while c < 255 && mid[c] < val {
            c += 1;
        }
        t[j as usize] = c as u8;
        j += 1;
    }
    t
}

const fn map(bits: &[u32; 256]) -> Map {
    let value = values(bits);
    let mid = mids(&value);
    let zero = count_below(&mid, 0.0) as u8;
    Map { value, zero, nearest: nearest_table(&mid), bnb: bnb_table(&mid) }
}

// Built at compile time. In the C library the tables (227 KB) have an unmangled name so that
// scripts/build-capi.sh keeps one copy for its three x86-64 levels instead of three: the
// levels' definitions are identical (same `const fn`s, `repr(C)`).
#[cfg_attr(feature = "capi", allow(unsafe_code), unsafe(no_mangle))]
static OPTKERN_SHARED_Q8_MAPS: [Map; 2] = [map(&DYNAMIC), map(&UDYNAMIC)];

#[inline(always)]
fn table(m: Q8Map) -> &'static Map {
    &OPTKERN_SHARED_Q8_MAPS[m as usize]
}

/// The map's 256 values (for tests and callers that dequantize themselves).
pub fn q8_map_values(m: Q8Map) -> &'static [f32; 256] {
    &table(m).value
}

/// `out[i] = map[codes[i]] · absmax` for one block.
#[inline(always)]
pub(crate) fn dequantize_block(m: Q8Map, codes: &[u8], absmax: f32, out: &mut [f32]) {
    let value = &table(m).value;
    for (o, &c) in out.iter_mut().zip(codes) {
        *o = value[usize::from(c)] * absmax;
    }
}

/// The NaN-propagating `max |x|` of a block: non-negative floats order like their bit
/// patterns, and every NaN pattern is above ∞'s, so an integer maximum (which vectorises)
/// finds both.
#[inline(always)]
fn absmax(x: &[f32]) -> f32 {
    let m = x.iter().fold(0u32, |m, v| m.max(v.to_bits() & 0x7FFF_FFFF));
    if m > 0x7F80_0000 { f32::NAN } else { f32::from_bits(m) }
}

/// Quantizes one block: writes `codes` and returns its `absmax`.
#[inline(always)]
pub(crate) fn quantize_block(m: Q8Map, q: Quantizer, x: &[f32], codes: &mut [u8]) -> f32 {
    let t = table(m);
    let amax = absmax(x);
    if !amax.is_finite() || amax == 0.0 {
        let zero = if amax == 0.0 && q == Quantizer::BnbCpu { 0 } else { t.zero };
        codes.iter_mut().for_each(|c| *c = zero);
        return if amax == 0.0 { 0.0 } else { f32::NAN };
    }
    let inv = 1.0 / amax;
    match q {
        Quantizer::Nearest => {
            for (c, &v) in codes.iter_mut().zip(x) {
                let y = (v * inv).clamp(-1.0, 1.0);
                let (cand, mid) = t.nearest.get(bucket(y)).copied().unwrap_or((0, 0.0));
                *c = (cand + u32::from(y > mid)) as u8;
            }
        }
        Quantizer::BnbCpu => {
            for (c, &v) in codes.iter_mut().zip(x) {
                let y = (v * inv).clamp(-1.0, 1.0);
                let j = ((y + 1.0) * 0.5 * 65535.0 + 0.5) as u16;
                *c = t.bnb[usize::from(j)];
            }
        }
    }
    amax
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The nearest quantizer equals an exhaustive search over the 256 codes (ties to the
    /// lower code) for values spread over every bucket of [−1, 1].
    #[test]
    fn nearest_is_the_exhaustive_nearest() {
        for m in [Q8Map::Signed, Q8Map::Unsigned] {
            let t = table(m);
            let mut u = 0u32;
            let mut checked = 0;
            while u < 0x3F80_0001 {
                for y in [f32::from_bits(u), -f32::from_bits(u)] {
                    let mut codes = [0u8; 2];
                    // absmax 1: the block [y, ±1] quantizes y with inv = 1.
                    quantize_block(m, Quantizer::Nearest, &[y, 1.0], &mut codes);
                    let want =
                        (0..255).filter(|&i| 0.5 * (t.value[i] + t.value[i + 1]) < y).count() as u8;
                    assert_eq!(codes[0], want, "{m:?} y = {y:e}");
                    checked += 1;
                }
                u += 0x3F3;
            }
            assert!(checked > 100_000);
            let mut codes = [9u8; 3];
            assert_eq!(quantize_block(m, Quantizer::Nearest, &[0.0; 3], &mut codes), 0.0);
            assert!(codes.iter().all(|&c| t.value[usize::from(c)] == 0.0));
        }
    }
}
