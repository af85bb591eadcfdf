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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Quantizer {
    /// The nearest code (ties to the lower); zeros stay zero. The default.
    Nearest = 0,
    /// bitsandbytes' CPU kernel, bit for bit (its 65536-entry lookup table).
    BnbCpu = 1,
}

/// The map's 256 values.
struct Map {
    value: [f32; 256],
    /// `0.5·(value[i] + value[i+1])`, f32.
    mid: [f32; 255],
    /// The code of 0.
    zero: u8,
    /// Nearest candidate per top-16-bit key of `y` (see [`nearest_table`]).
    nearest: [u8; 65536],
    /// bitsandbytes' CPU table.
    bnb: [u8; 65536],
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

const fn mids(v: &[f32; 256]) -> [f32; 255] {
    let mut m = [0.0f32; 255];
    let mut i = 0;
    while i < 255 {
        m[i] = 0.5 * (v[i] + v[i + 1]);
        i += 1;
    }
    m
}

/// `#{i : mid[i] < y}` (mid is ascending).
const fn count_below(mid: &[f32; 255], y: f32) -> usize {
    let mut c = 0;
    while c < 255 && mid[c] < y {
        c += 1;
    }
    c
}

/// For every key `k` with `|y| ≤ 1` (the top 16 bits of an f32 `y`), the code of the smallest
/// `y` with that key: the bucket of values sharing a key is narrower than the gap between two
/// midpoints (checked here, at compile time), so the nearest code of any `y` in the bucket is
/// that candidate `c` or `c + 1`, decided by one comparison with `mid[c]`. Built in two
/// monotone walks (positive keys upwards, negative keys by decreasing magnitude) so that
/// compile-time evaluation stays cheap.
const fn nearest_table(mid: &[f32; 255]) -> [u8; 65536] {
    let mut t = [0u8; 65536];
    // y ≥ 0: keys 0 ..= 0x3F80 (1.0), lower edge f32(k << 16) ascending.
    let mut c = 0;
    let mut k = 0u32;
    while k <= 0x3F80 {
        let (lower, upper) = (f32::from_bits(k << 16), f32::from_bits((k << 16) | 0xFFFF));
        while c < 255 && mid[c] < lower {
            c += 1;
        }
        assert!(c + 1 >= 255 || mid[c + 1] > upper || upper > 1.0, "two midpoints in a bucket");
        t[k as usize] = c as u8;
        k += 1;
    }
    // y < 0: keys 0x8000 | m, lower edge −f32((m << 16) | 0xFFFF) ascending as m decreases.
    let mut c = 0;
    let mut m = 0x3F80u32;
    loop {
        let lower = -f32::from_bits((m << 16) | 0xFFFF);
        let upper = -f32::from_bits(m << 16);
        while c < 255 && mid[c] < lower {
            c += 1;
        }
        assert!(c + 1 >= 255 || mid[c + 1] > upper || lower < -1.0, "two midpoints in a bucket");
        t[(0x8000 | m) as usize] = c as u8;
        if m == 0 {
            break;
        }
        m -= 1;
    }
    t
}

/// bitsandbytes' CPU lookup table: `lut[j] = #{i : mid[i] < −1 + 2j/65535}` (f32 operations;
/// the argument grows with `j`, so one walk).
const fn bnb_table(mid: &[f32; 255]) -> [u8; 65536] {
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
    Map { value, mid, zero, nearest: nearest_table(&mid), bnb: bnb_table(&mid) }
}

// Built at compile time.
static MAPS: [Map; 2] = [map(&DYNAMIC), map(&UDYNAMIC)];

#[inline(always)]
fn table(m: Q8Map) -> &'static Map {
    &MAPS[m as usize]
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

/// The NaN-propagating `max |x|` of a block.
#[inline(always)]
fn absmax(x: &[f32]) -> f32 {
    let mut m = 0.0f32;
    let mut nan = false;
    for &v in x {
        let a = v.abs();
        nan |= v.is_nan();
        m = if a > m { a } else { m };
    }
    if nan { f32::NAN } else { m }
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
                let cand = t.nearest[(y.to_bits() >> 16) as usize];
                // cand ≤ 254 whenever y can exceed mid[cand] (the table's check).
                let above = usize::from(cand) < 255 && y > t.mid[usize::from(cand).min(254)];
                *c = cand + u8::from(above);
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
                    let want = t.mid.iter().filter(|&&mid| mid < y).count() as u8;
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
