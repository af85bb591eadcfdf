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
//!   0.5)` (f32 operations in that order) then `code = #{i : mid[i] < −1 + 2j/65535}` (its
//!   65536-entry table, computed here per element). Not nearest: a zero inside a non-zero
//!   block becomes a small positive code (131 signed, 7 unsigned), and an all-zero block gets
//!   code 0 (dequantizing to −0 with the signed map).
//!
//! Both find the code `#{i : mid[i] < y}` the same way: the top 16 bits of `y` select one of
//! 2·2945 buckets, each narrower than the gap between two midpoints, whose table entry holds
//! the candidate code and the threshold on the low 16 bits above which `y` passes the next
//! midpoint: one load, one comparison, no search, and a loop the compiler vectorises (a gather
//! on AVX2 and AVX-512).
//!
//! A block whose `absmax` is not finite (a NaN or ±∞ among its values) stores `absmax = NaN`
//! and the code of 0: the whole block reads back as NaN (the state is lost, as it would be).

use super::lanes16;
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
    /// bitsandbytes' CPU kernel, bit for bit (the nearest code of its 65536-point grid).
    BnbCpu = 1,
    /// torchao's 8-bit optimizer state (`torchao.optim.subclass_8bit`, eager), bit for bit:
    /// the stored scale is `max(absmax, 10⁻¹²)`, `y = x / scale` (one f32 division per
    /// element), and the code is found by a binary search for the last map value
    /// `≤ y`, then one up where `y − map[c] ≥ (map[c+1] − map[c])·0.5` (f32; ties go up).
    Torchao = 2,
}

/// torchao's code of `y` in the ascending map `q` (`N` = 256 or 16 values): `c` the last index
/// with `q[c] ≤ y` by a branch-free binary search (0 if none), then `c + 1` where
/// `y − q[c] ≥ (q[c+1] − q[c])·0.5`, every operation in f32 (torchao's eager
/// `quantize_8bit_with_qmap`, and its 4-bit form). The indices are masked with `N − 1`, a no-op
/// that shows the compiler they are in range.
#[inline(always)]
pub(crate) fn torchao_code<const N: usize>(q: &[f32; N], y: f32) -> u8 {
    const { assert!(N.is_power_of_two() && N <= 256) };
    let mut c = 0;
    let mut half = N / 2;
    while half > 0 {
        if y >= q[(c + half) & (N - 1)] {
            c += half;
        }
        half /= 2;
    }
    let up = (c + 1).min(N - 1);
    let (low, high) = (q[c & (N - 1)], q[up & (N - 1)]);
    if y - low >= (high - low) * 0.5 {
        c = up;
    }
    c as u8
}

/// One block in torchao's formats (q8 with [`Quantizer::Torchao`], q4, fp8), whose
/// [`absmax`] is `amax`: `scale = max(amax, 10⁻¹²) / unit` (`unit` 1 for the maps, 448 for
/// fp8), `codes[i] = code(x[i] / scale)`; returns the scale. A block with a NaN or ±∞ gets
/// `nan_code` everywhere and scale NaN (it reads back as NaN).
#[inline(always)]
pub(crate) fn torchao_block(
    amax: f32,
    x: &[f32],
    codes: &mut [u8],
    nan_code: u8,
    unit: f32,
    code: impl Fn(f32) -> u8,
) -> f32 {
    if !amax.is_finite() {
        codes.iter_mut().for_each(|c| *c = nan_code);
        return f32::NAN;
    }
    let scale = if amax < 1e-12 { 1e-12 } else { amax } / unit;
    for (c, &v) in codes.iter_mut().zip(x) {
        *c = code(v / scale);
    }
    scale
}

/// The map's 256 values.
#[repr(C)]
struct Map {
    value: [f32; 256],
    /// The code of 0.
    zero: u8,
    /// Per bucket of `y` (see [`code`]): its candidate code `c` (bits 0–7) and the threshold
    /// `t` (bits 8–24) of the order key of `y` within the bucket at and above which `y >
    /// mid[c]`, so the code is `c + 1` (`t = 2¹⁶`: never). One 32-bit load per element (a
    /// gather in vector code), no second dependent load of the midpoint.
    nearest: [u32; TABLE],
    /// torchao's binary-search probes by depth, as 16-value registers ([`probes`]).
    probes: [[f32; 16]; PROBE_REGS],
}

/// Registers of [`probes`]: depths 1–4 one each, depth 5 two, 6 four, 7 eight.
pub(super) const PROBE_REGS: usize = 18;

/// The values torchao's binary search ([`torchao_code`]) can probe at each depth `d = 1..=7`
/// (step `h = 128 >> d`): at depth `d`, `c` is a multiple of `2h` and the probe `c + h` is
/// `(2k + 1)·h` with `k = c >> (8 − d)`; entry `k` of the depth's registers holds that value.
/// So each probe of 16 lanes is a permute of registers (`lanes16::q8_torchao_codes`), no gather.
const fn probes(v: &[f32; 256]) -> [[f32; 16]; PROBE_REGS] {
    let mut p = [[0.0f32; 16]; PROBE_REGS];
    let (mut d, mut first) = (1, 0);
    while d < 8 {
        let (h, count) = (128 >> d, 1 << d);
        let mut k = 0;
        while k < count {
            p[first + k / 16][k % 16] = v[(2 * k + 1) * h];
            k += 1;
        }
        first += if count < 16 { 1 } else { count / 16 };
        d += 1;
    }
    assert!(first == PROBE_REGS);
    p
}

/// Buckets per sign: `|y|` from 2⁻²³ (below it every value is nearer 0 than any other code:
/// the smallest non-zero code is 3.25·10⁻⁷ > 2⁻²¹·⁶) to 1, 128 per binade.
pub(super) const KEYS: usize = (127 - 104) * 128 + 1;

/// Table length: both signs' buckets, padded to a power of two so that an index masked with
/// `TABLE − 1` is in range without a check.
pub(super) const TABLE: usize = (2 * KEYS).next_power_of_two();

/// The bucket of `y` (`|y| ≤ 1`): its top 16 bits, the binades below 2⁻²³ folded into the first
/// bucket, negative values in the second half; and the order key of `y` within its bucket (its
/// low 16 bits, complemented for negative `y`, so the key grows with `y`).
#[inline(always)]
fn bucket(y: f32) -> (usize, u32) {
    let b = y.to_bits();
    let neg = b >> 31;
    // |y| ≤ 1 (the callers clamp): the top bits are at most those of 1.0, key ≤ KEYS − 1.
    let key = ((b >> 16) & 0x7FFF).saturating_sub(104 << 7);
    ((key + neg * KEYS as u32) as usize, (b & 0xFFFF) ^ (neg * 0xFFFF))
}

/// `#{i : mid[i] < y}` for `|y| ≤ 1`, from the bucket table: the nearest code of `y`, ties to
/// the lower.
#[inline(always)]
fn code(nearest: &[u32; TABLE], y: f32) -> u8 {
    let (bucket, key) = bucket(y);
    let e = nearest[bucket & (TABLE - 1)];
    ((e & 0xFF) + u32::from(key >= e >> 8)) as u8
}

/// `⌊z⌋` for `0 ≤ z < 2²³` in plain f32 arithmetic (a loop of it vectorises; a conversion to an
/// integer, saturating in Rust, does not): `z + 2²³ − 2²³` rounds `z` to the nearest integer
/// exactly, then one is taken off where that went up.
#[inline(always)]
fn floor_small(z: f32) -> f32 {
    const SHIFT: f32 = 8_388_608.0; // 2²³
    let r = (z + SHIFT) - SHIFT;
    if r > z { r - 1.0 } else { r }
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

/// The value of order key `a` in the bucket with top bits `top` (see [`bucket`]).
const fn bucket_value(top: u32, negative: bool, a: u32) -> f32 {
    if negative { -f32::from_bits(top | (0xFFFF - a)) } else { f32::from_bits(top | a) }
}

/// For every bucket (see [`bucket`]): the code `c` of its lowest value and the smallest order
/// key whose value exceeds `mid[c]`. A bucket is narrower than the gap between two midpoints
/// (checked here, at compile time), so every `y` in it has code `c` or `c + 1`; the folded
/// first bucket of each sign has one code throughout (also checked). Built in monotone walks
/// and binary searches so that compile-time evaluation stays cheap.
const fn nearest_table(mid: &[f32; 256]) -> [u32; TABLE] {
    let mut t = [0u32; TABLE];
    let mut sign = 0;
    while sign < 2 {
        let negative = sign == 1;
        let mut c = 0;
        let mut i = 0;
        while i < KEYS {
            // Ascending values: positive buckets by increasing key, negative by decreasing.
            let k = if negative { KEYS - 1 - i } else { i };
            let top = (((104 << 7) + k) as u32) << 16;
            let (lower, upper) =
                (bucket_value(top, negative, 0), bucket_value(top, negative, 0xFFFF));
            // The folded bucket also holds every smaller magnitude, down to ±0.
            let (lower, upper) = match (k, negative) {
                (0, false) => (0.0, upper),
                (0, true) => (lower, -0.0),
                _ => (lower, upper),
            };
            while c < 255 && mid[c] < lower {
                c += 1;
            }
            assert!(c >= 255 || mid[c + 1] >= upper || upper > 1.0, "two midpoints in a bucket");
            // Smallest key a with value(a) > mid[c] (2¹⁶ if none): the predicate grows with a.
            let (mut lo, mut hi) = (0u32, 0x1_0000u32);
            while lo < hi {
                let a = (lo + hi) / 2;
                if bucket_value(top, negative, a) > mid[c] { hi = a } else { lo = a + 1 }
            }
            assert!(k != 0 || lo == 0x1_0000 && mid[c] >= upper, "the folded bucket has two codes");
            t[k + if negative { KEYS } else { 0 }] = c as u32 | lo << 8;
            i += 1;
        }
        sign += 1;
    }
    t
}

const fn map(bits: &[u32; 256]) -> Map {
    let value = values(bits);
    let mid = mids(&value);
    let zero = count_below(&mid, 0.0) as u8;
    Map { value, zero, nearest: nearest_table(&mid), probes: probes(&value) }
}

// Built at compile time. In the C library the tables (2 × 33.8 KB) have an unmangled name so that
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
pub(crate) fn absmax(x: &[f32]) -> f32 {
    let m = x.iter().fold(0u32, |m, v| m.max(v.to_bits() & 0x7FFF_FFFF));
    if m > 0x7F80_0000 { f32::NAN } else { f32::from_bits(m) }
}

/// Quantizes one block: writes `codes` and returns its `absmax` (torchao: its scale).
#[inline(always)]
pub(crate) fn quantize_block(m: Q8Map, q: Quantizer, x: &[f32], codes: &mut [u8]) -> f32 {
    let t = table(m);
    let amax = absmax(x);
    match q {
        Quantizer::Torchao => torchao_codes(t, amax, x, codes),
        _ if !amax.is_finite() => {
            codes.iter_mut().for_each(|c| *c = t.zero);
            f32::NAN
        }
        _ if amax == 0.0 => {
            let zero = if q == Quantizer::BnbCpu { 0 } else { t.zero };
            codes.iter_mut().for_each(|c| *c = zero);
            0.0
        }
        // Nearest or bitsandbytes' CPU rule, on `x·(1/absmax)`. When `1/absmax` overflows
        // (absmax < 2⁻¹²⁸, subnormal) the block and its absmax are scaled by 2⁶⁴ first —
        // exactly, so the codes are those an unbounded exponent range gives (a zero would
        // otherwise become 0·∞ = NaN and every code garbage; bitsandbytes itself overflows
        // there). Found by the formats fuzz target.
        _ => {
            let scaled;
            let (x, inv) = if (1.0 / amax).is_finite() {
                (x, 1.0 / amax)
            } else {
                scaled = scaled_up(x);
                (scaled.get(..x.len()).unwrap_or_default(), 1.0 / (amax * UP))
            };
            if q == Quantizer::BnbCpu {
                bnb_cpu_codes(&t.nearest, inv, x, codes);
            } else {
                nearest_codes(&t.nearest, inv, x, codes);
            }
            amax
        }
    }
}

/// torchao's rule on one block ([`torchao_bytes`] with [`torchao_code`]): whole groups of 16 by
/// [`lanes16::q8_torchao_codes`] (registers and permutes on AVX-512 builds; LLVM left the
/// search's dependent loads scalar, 87 % of a q8 Adam step), the rest one by one.
#[inline(never)]
fn torchao_codes(t: &Map, amax: f32, x: &[f32], codes: &mut [u8]) -> f32 {
    let code = |y| torchao_code(&t.value, y);
    let group = |scale, xs: &[f32; 16], c: &mut [u8; 16]| {
        lanes16::q8_torchao_codes(&t.value, &t.probes, scale, xs, c)
    };
    torchao_bytes(amax, x, codes, t.zero, 1.0, code, group)
}

/// [`torchao_block`] for the formats of one code per byte (q8 with torchao's rule, fp8): whole
/// groups of 16 by `group(scale, x, codes)` (the `lanes16` form of `code(x / scale)`), the
/// elements after the last whole group by `code`; a NaN block gets `nan_code` everywhere.
#[inline(always)]
pub(crate) fn torchao_bytes(
    amax: f32,
    x: &[f32],
    codes: &mut [u8],
    nan_code: u8,
    unit: f32,
    code: impl Fn(f32) -> u8,
    group: impl Fn(f32, &[f32; 16], &mut [u8; 16]),
) -> f32 {
    let n = x.len().min(codes.len());
    let (Some(x), Some(codes)) = (x.get(..n), codes.get_mut(..n)) else { return f32::NAN };
    let (groups, rest) = x.as_chunks::<16>();
    let (code_groups, code_rest) = codes.as_chunks_mut::<16>();
    // The scale, and the codes after the last whole group.
    let scale = torchao_block(amax, rest, code_rest, nan_code, unit, code);
    for (c, xs) in code_groups.iter_mut().zip(groups) {
        if scale.is_nan() {
            *c = [nan_code; 16];
        } else {
            group(scale, xs, c);
        }
    }
    scale
}

/// 2⁶⁴, the exact scaling of a block whose `1/absmax` overflows.
const UP: f32 = 18_446_744_073_709_551_616.0;

/// A block times [`UP`] (zero-padded to a whole block).
fn scaled_up(x: &[f32]) -> [f32; Q8_BLOCK] {
    let mut scaled = [0.0f32; Q8_BLOCK];
    for (s, &v) in scaled.iter_mut().zip(x) {
        *s = v * UP;
    }
    scaled
}

// The two code loops are functions of their own (not inlined): inlined into the staging
// driver's `store`, LLVM left them scalar (61 % of a q8 Adam step in `perf`). Whole groups of 16
// go through [`lanes16::q8_codes`] (one 512-bit gather per 16 codes on AVX-512 builds, where
// LLVM's own loop gathered 8 at a time: 0.54 → 0.39 ns per code, SPR), the rest one by one.

/// `codes[i] = code(clamp(x[i]·inv, −1, 1))`.
#[inline(never)]
fn nearest_codes(nearest: &[u32; TABLE], inv: f32, x: &[f32], codes: &mut [u8]) {
    codes_by::<false>(nearest, inv, x, codes)
}

/// bitsandbytes' CPU rule: its table entry `j` is the nearest code (same rule) of the grid value
/// `−1 + 2j/65535`, computed here instead of looked up in a 64 KiB table.
#[inline(never)]
fn bnb_cpu_codes(nearest: &[u32; TABLE], inv: f32, x: &[f32], codes: &mut [u8]) {
    codes_by::<true>(nearest, inv, x, codes)
}

/// The code loop of either rule (`BNB`: bitsandbytes' CPU rule), 16 codes at a time.
#[inline(always)]
fn codes_by<const BNB: bool>(nearest: &[u32; TABLE], inv: f32, x: &[f32], codes: &mut [u8]) {
    let n = x.len().min(codes.len());
    let (Some(x), Some(codes)) = (x.get(..n), codes.get_mut(..n)) else { return };
    let (xs, x_rest) = x.as_chunks::<16>();
    let (cs, c_rest) = codes.as_chunks_mut::<16>();
    for (c, v) in cs.iter_mut().zip(xs) {
        lanes16::q8_codes::<BNB>(nearest, inv, v, c);
    }
    for (c, &v) in c_rest.iter_mut().zip(x_rest) {
        *c = code_of::<BNB>(nearest, inv, v);
    }
}

/// One element's code: nearest (`BNB` false) or bitsandbytes' CPU rule, `j = ⌊(y + 1)·0.5·65535
/// + 0.5⌋` and the nearest code of `−1 + 2j/65535` (f32 operations in that order).
#[inline(always)]
pub(super) fn code_of<const BNB: bool>(nearest: &[u32; TABLE], inv: f32, v: f32) -> u8 {
    let y = (v * inv).clamp(-1.0, 1.0);
    if BNB {
        let j = floor_small((y + 1.0) * 0.5 * 65535.0 + 0.5);
        code(nearest, -1.0 + (2.0 * j) / 65535.0)
    } else {
        code(nearest, y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `floor_small` is the integer part on its whole domain's integer and half-integer points
    /// and their neighbours.
    #[test]
    fn floor_small_is_floor() {
        for n in (0..70_000u32).chain([(1 << 23) - 1]) {
            for z in [n as f32, n as f32 + 0.5] {
                for z in [
                    f32::from_bits(z.to_bits().saturating_sub(1)),
                    z,
                    f32::from_bits(z.to_bits() + 1),
                ] {
                    if z < 8_388_608.0 {
                        assert_eq!(floor_small(z), z as u32 as f32, "{z}");
                    }
                }
            }
        }
    }

    /// A block is scaled by its own absmax first: the codes of `x` are the nearest codes of
    /// `x·fl(1/absmax)`, and `absmax` is returned, for a block whose absmax is not 1.
    #[test]
    fn nearest_scales_by_the_block_absmax() {
        let x: [f32; 6] = [0.37, -3.7, 1.1e-3, 2.5, -0.02, 3.0];
        let mid = mids(&table(Q8Map::Signed).value);
        let mut codes = [0u8; 6];
        assert_eq!(quantize_block(Q8Map::Signed, Quantizer::Nearest, &x, &mut codes), 3.7);
        let inv = 1.0 / 3.7f32;
        for (&c, &v) in codes.iter().zip(&x) {
            let y = (v * inv).clamp(-1.0, 1.0);
            assert_eq!(usize::from(c), count_below(&mid, y), "{v}");
        }
    }

    /// A block whose absmax is so small that `1/absmax` overflows gets the codes of the same
    /// block scaled by 2⁶⁴ (a zero stays the zero code) and keeps its own absmax, with both
    /// quantizers that use `1/absmax`.
    #[test]
    fn a_subnormal_block_quantizes_as_its_scaled_copy() {
        let x = [1e-40f32, 0.0, -3e-41, 5e-41, 7e-42];
        let up = x.map(|v| v * 18_446_744_073_709_551_616.0);
        for m in [Q8Map::Signed, Q8Map::Unsigned] {
            for q in [Quantizer::Nearest, Quantizer::BnbCpu] {
                let (mut tiny, mut big) = ([0u8; 5], [0u8; 5]);
                assert_eq!(quantize_block(m, q, &x, &mut tiny), 1e-40);
                quantize_block(m, q, &up, &mut big);
                assert_eq!(tiny, big, "{m:?} {q:?}");
            }
            let mut codes = [0u8; 5];
            quantize_block(m, Quantizer::Nearest, &x, &mut codes);
            assert_eq!(table(m).value[usize::from(codes[1])], 0.0, "{m:?}: zero stays zero");
            // A huge block is not scaled (its scaled absmax would overflow): its codes are those
            // of its copy scaled down exactly.
            let huge = [3e30f32, -1e30, 0.0, 2e29, -7e28];
            let down = huge.map(|v| v * 2f32.powi(-100));
            for q in [Quantizer::Nearest, Quantizer::BnbCpu] {
                let (mut a, mut b) = ([0u8; 5], [0u8; 5]);
                assert_eq!(quantize_block(m, q, &huge, &mut a), 3e30);
                quantize_block(m, q, &down, &mut b);
                assert_eq!(a, b, "{m:?} {q:?} huge");
            }
        }
    }

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
            // bitsandbytes' grid, every point: the table lookup equals the count.
            let mid = mids(&t.value);
            for j in 0..65536u32 {
                let val = -1.0f32 + (2.0f32 * j as f32) / 65535.0f32;
                let want = count_below(&mid, val);
                assert_eq!(usize::from(code(&t.nearest, val)), want, "{m:?} grid point {j}");
            }
            assert!(codes.iter().all(|&c| t.value[usize::from(c)] == 0.0));
        }
    }

    /// The 16-lane path (one 512-bit gather per 16 codes on AVX-512 builds) gives the
    /// one-element rule's codes, both rules and both maps: a sweep of both signs over every
    /// binade down to the folded bucket, ±0, ±1 and values the clamp cuts, at three scales.
    #[test]
    fn sixteen_lanes_are_the_one_element_rule() {
        use std::vec;
        let mut x = vec![0.0, -0.0, 1.0, -1.0, 1.5, -3.0];
        let mut u = 0u32;
        while u < 0x3F80_0001 {
            x.extend([f32::from_bits(u), -f32::from_bits(u)]);
            u += 0x7F3;
        }
        for m in [Q8Map::Signed, Q8Map::Unsigned] {
            let t = table(m);
            for inv in [1.0f32, 0.75, 3.0e5] {
                let (mut near, mut bnb) = (vec![0u8; x.len()], vec![0u8; x.len()]);
                nearest_codes(&t.nearest, inv, &x, &mut near);
                bnb_cpu_codes(&t.nearest, inv, &x, &mut bnb);
                for (i, &v) in x.iter().enumerate() {
                    let want =
                        (code_of::<false>(&t.nearest, inv, v), code_of::<true>(&t.nearest, inv, v));
                    assert_eq!((near[i], bnb[i]), want, "{m:?} inv {inv} x = {v:e}");
                }
            }
        }
    }

    /// torchao's rule through the 16-lane path (permutes of the probe registers on AVX-512
    /// builds) gives `torchao_code(x/scale)` element by element: both maps, every map value,
    /// its neighbours and the midpoints at scale 1, a sweep of both signs over many binades,
    /// tiny and NaN blocks, whole groups of 16 and the rest.
    #[test]
    fn torchao_blocks_are_the_one_element_rule() {
        use std::vec::Vec;
        for m in [Q8Map::Signed, Q8Map::Unsigned] {
            let t = table(m);
            let v = &t.value;
            let mut values: Vec<f32> =
                v.iter().flat_map(|&x| [x, x.next_up(), x.next_down()]).collect();
            values.extend(v.windows(2).map(|w| 0.5 * (w[0] + w[1])));
            let mut u = 0x2000_0000u32;
            while u < 0x3F80_0000 {
                values.extend([f32::from_bits(u), -f32::from_bits(u)]);
                u += 0x0007_7777;
            }
            for (b, chunk) in values.chunks(Q8_BLOCK).enumerate() {
                for kind in 0..3 {
                    let len = [256, 255, 17, 16, 100, 1][b % 6].min(chunk.len());
                    let mut x: Vec<f32> =
                        chunk[..len].iter().map(|&x| x.clamp(-1.0, 1.0)).collect();
                    match kind {
                        // Scale exactly 1: every map value and midpoint as it is.
                        0 => x[0] = 1.0,
                        1 => x.iter_mut().for_each(|x| *x *= 1e-15),
                        _ => x[len / 2] = f32::NAN,
                    }
                    let mut codes = std::vec![0xAAu8; len];
                    let scale = quantize_block(m, Quantizer::Torchao, &x, &mut codes);
                    if kind == 2 {
                        assert!(scale.is_nan() && codes.iter().all(|&c| c == t.zero), "{m:?}");
                        continue;
                    }
                    for (i, &xi) in x.iter().enumerate() {
                        let want = torchao_code(v, xi / scale);
                        assert_eq!(codes[i], want, "{m:?} block {b} kind {kind} x = {xi:e}");
                    }
                }
            }
        }
    }

    /// The probe registers hold, at depth `d` (step `h = 128 >> d`) and every `c` the search
    /// can have there (a multiple of `2h`), the value it probes, `value[c + h]`, at the place
    /// `lanes16::q8_torchao_codes` reads it: entry `c >> (8 − d)` of the depth's registers
    /// (depths 1–4 registers 0–3, depth 5 from 4, 6 from 6, 7 from 10).
    #[test]
    fn probe_registers_hold_each_depths_probes() {
        for m in [Q8Map::Signed, Q8Map::Unsigned] {
            let t = table(m);
            let mut checked = 0;
            for (d, first) in [(1, 0), (2, 1), (3, 2), (4, 3), (5, 4), (6, 6), (7, 10)] {
                let h = 128 >> d;
                for c in (0..256).step_by(2 * h) {
                    let k = c >> (8 - d);
                    let got = t.probes[first + k / 16][k % 16];
                    assert_eq!(got.to_bits(), t.value[c + h].to_bits(), "{m:?} depth {d} c {c}");
                    checked += 1;
                }
            }
            assert_eq!(checked, 254);
        }
    }
}
