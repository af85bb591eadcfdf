//! torchao's block-wise 4-bit optimizer-state format (`q4`, `torchao.optim.subclass_4bit`).
//!
//! Layout: two 4-bit codes per byte, the element of even index in the high nibble
//! (`codes[i/2] = c[i] << 4 | c[i+1]`; an odd length leaves the last low nibble 0); one f32
//! scale per block of [`Q4_BLOCK`] = 128 elements. A value is `map[code] · scale`. The maps
//! ([`Q4Map`]): torchao's signed `create_dynamic_map(True, 3, 4)` and its unsigned linear map
//! `[1/16, 2/16, …, 1]`, which has no zero (a zero becomes `scale/16`).
//!
//! Quantizing (torchao's eager rule, bit for bit): `scale = max(absmax, 10⁻¹²)`,
//! `y = x / scale`, the code of the 8-bit rule ([`Quantizer::Torchao`](super::Quantizer)) in
//! the 16-entry map. A block with a NaN or ±∞ stores scale NaN (it reads back as NaN).

use super::lanes16;

/// Elements per `q4` block (torchao's).
pub const Q4_BLOCK: usize = 128;

/// Which of torchao's 4-bit maps a `q4` buffer uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Q4Map {
    /// `create_dynamic_map(True, 3, 4)`: 15 signed values and 1, 0 at code 7 (a first moment).
    Signed = 0,
    /// `[1/16, 2/16, …, 1]`, no zero (torchao's second moment).
    Unsigned = 1,
}

/// The signed map, as torchao computes it in f32 (`tests/data/lowbit`'s `maps` case).
const SIGNED: [f32; 16] = [
    -0.8875,
    -0.6625,
    -0.4375,
    -0.212_499_99,
    -0.0775,
    -0.032_500_003,
    -0.0055,
    0.0,
    0.0055,
    0.032_500_003,
    0.0775,
    0.212_499_99,
    0.4375,
    0.6625,
    0.8875,
    1.0,
];

/// The unsigned map: `k/16` for `k = 1..=16`, exact in f32.
const UNSIGNED: [f32; 16] = {
    let mut v = [0.0f32; 16];
    let mut k = 0;
    while k < 16 {
        v[k] = (k + 1) as f32 / 16.0;
        k += 1;
    }
    v
};

/// The map's 16 values, ascending.
pub fn q4_map_values(m: Q4Map) -> &'static [f32; 16] {
    match m {
        Q4Map::Signed => &SIGNED,
        Q4Map::Unsigned => &UNSIGNED,
    }
}

/// torchao's code of `y` ([`super::q8::torchao_code`]: the last map value `≤ y` by binary
/// search, then one up where `y − q[c] ≥ (q[c+1] − q[c])·0.5`) as a count with selects, which
/// vectorises where the search's dependent loads do not: for an ascending map the search finds
/// `c = #{i ≥ 1 : q[i] ≤ y}` (0 for NaN), and `q[c]`, `q[c+1]` are carried along.
#[inline(always)]
pub(super) fn code(q: &[f32; 16], y: f32) -> u8 {
    let (mut c, mut low, mut high) = (0u8, q[0], q[1]);
    for (i, w) in q.windows(2).enumerate().skip(1) {
        if y >= w[0] {
            (c, low, high) = (i as u8, w[0], w[1]);
        }
    }
    // The last value: no value above it (torchao's `up = min(c + 1, 15)` keeps c).
    if y >= q[15] {
        return 15;
    }
    if y - low >= (high - low) * 0.5 { c + 1 } else { c }
}

/// Quantizes one block (`x.len() ≤ 128`) into its packed codes (`ceil(len / 2)` bytes of
/// `codes`, an odd length's last low nibble 0); returns the scale. Whole groups of 16 go
/// through [`lanes16::q4_codes`] (a permute per probe on AVX-512 builds; the scalar loop here
/// vectorised at 8 lanes with fifteen selects per value), the rest one by one.
// Not inlined: inside the staging driver's `store` LLVM may leave the code loop scalar (as it
// did q8's).
#[inline(never)]
pub(crate) fn quantize_block(m: Q4Map, x: &[f32], codes: &mut [u8]) -> f32 {
    let q = q4_map_values(m);
    let n = x.len().min(Q4_BLOCK);
    let x = x.get(..n).unwrap_or_default();
    let amax = super::q8::absmax(x);
    let (groups, rest) = x.as_chunks::<16>();
    let whole = 16 * groups.len();
    // The scale, and the codes of the elements after the last whole group (a NaN block: scale
    // NaN and code 0 everywhere, the groups' bytes below).
    let mut nibbles = [0u8; 16];
    let nib = nibbles.get_mut(..rest.len()).unwrap_or_default();
    let scale = super::q8::torchao_block(amax, rest, nib, 0, 1.0, |y| code(q, y));
    let (group_bytes, rest_bytes) = codes.split_at_mut(codes.len().min(whole / 2));
    let (group_bytes, _) = group_bytes.as_chunks_mut::<8>();
    for (b, xs) in group_bytes.iter_mut().zip(groups) {
        if scale.is_nan() {
            *b = [0; 8];
        } else {
            lanes16::q4_codes(q, scale, xs, b);
        }
    }
    let pairs = nibbles.get(..rest.len().div_ceil(2) * 2).unwrap_or_default();
    for (c, pair) in rest_bytes.iter_mut().zip(pairs.chunks_exact(2)) {
        // Disjoint bits: `+` is the or of the two nibbles.
        *c = (pair[0] << 4) + pair[1];
    }
    scale
}

/// `out[i] = map[code(i)] · scale` for one block (`out.len() ≤ 128`), the codes unpacked as
/// [`quantize_block`] packs them: whole groups of 16 by [`lanes16::q4_values`], the rest here.
pub(crate) fn dequantize_block(m: Q4Map, codes: &[u8], scale: f32, out: &mut [f32]) {
    let q = q4_map_values(m);
    let (groups, rest) = out.as_chunks_mut::<16>();
    let whole = 8 * groups.len();
    let (group_bytes, rest_bytes) = codes.split_at(codes.len().min(whole));
    let (group_bytes, _) = group_bytes.as_chunks::<8>();
    for (o, b) in groups.iter_mut().zip(group_bytes) {
        lanes16::q4_values(q, b, scale, o);
    }
    let half = rest.len() / 2;
    let mut pairs = rest.chunks_exact_mut(2);
    for (pair, &byte) in (&mut pairs).zip(rest_bytes) {
        if let [hi, lo] = pair {
            (*hi, *lo) = (q[usize::from(byte >> 4)] * scale, q[usize::from(byte & 0xF)] * scale);
        }
    }
    // An odd length's last element: the high nibble of the next byte.
    if let ([last], Some(&byte)) = (pairs.into_remainder(), rest_bytes.get(half)) {
        *last = q[usize::from(byte >> 4)] * scale;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectorisable code is torchao's binary search, on both maps, for values around every
    /// map value and midpoint (both sides of each tie), ±0, NaN, ±∞ and a sweep of [−1.1, 1.1].
    #[test]
    fn code_is_torchaos_binary_search() {
        for m in [Q4Map::Signed, Q4Map::Unsigned] {
            let q = q4_map_values(m);
            let check = |y: f32| {
                assert_eq!(code(q, y), crate::format::q8::torchao_code(q, y), "{m:?} y = {y:e}");
            };
            [0.0f32, -0.0, f32::NAN, f32::INFINITY, f32::NEG_INFINITY].into_iter().for_each(check);
            for i in 0..16 {
                let mid = if i < 15 { 0.5 * (q[i] + q[i + 1]) } else { q[i] };
                for v in [q[i], mid, q[i] + (q[(i + 1).min(15)] - q[i]) * 0.5] {
                    check(v);
                    check(v.next_up());
                    check(v.next_down());
                }
            }
            (0..=22_000).map(|k| -1.1 + k as f32 * 1e-4).for_each(check);
        }
    }

    /// Blocks of every length (whole groups of 16 and the rest), both maps, ties and NaN
    /// blocks: the codes are `torchao_code(x/scale)` element by element, packed even-high, and
    /// dequantizing gives `q[code]·scale`; so the 16-lane path (permutes on AVX-512 builds) is
    /// the one-element rule.
    #[test]
    fn blocks_are_the_one_element_rule() {
        use crate::format::q8::{absmax, torchao_code};
        let mut seed = 0x9E37_79B9u32;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        for m in [Q4Map::Signed, Q4Map::Unsigned] {
            let q = q4_map_values(m);
            for len in (1..=Q4_BLOCK).chain([16, 32, 127, 128]) {
                for kind in 0..4 {
                    let x: [f32; Q4_BLOCK] = core::array::from_fn(|i| match kind {
                        // The map's values and midpoints times 2 (scale 2 when 1 is present).
                        0 => {
                            2.0 * q[i % 16]
                                + if i % 3 == 0 { q[(i + 1) % 16] - q[i % 16] } else { 0.0 }
                        }
                        1 => (next() as f32 / u32::MAX as f32 - 0.5) * 3e-13,
                        2 if i == len / 2 => f32::NAN,
                        _ => next() as f32 / u32::MAX as f32 * 4.0 - 2.0,
                    });
                    let x = &x[..len];
                    let mut codes = [0xAAu8; 64];
                    let scale = quantize_block(m, x, &mut codes);
                    let amax = absmax(x);
                    let want_scale = if !amax.is_finite() {
                        f32::NAN
                    } else if amax < 1e-12 {
                        1e-12
                    } else {
                        amax
                    };
                    assert_eq!(scale.to_bits(), want_scale.to_bits(), "{m:?} {len} {kind}");
                    for (i, &v) in x.iter().enumerate() {
                        let want = if scale.is_nan() { 0 } else { torchao_code(q, v / scale) };
                        let got = if i % 2 == 0 { codes[i / 2] >> 4 } else { codes[i / 2] & 0xF };
                        assert_eq!(got, want, "{m:?} len {len} kind {kind} element {i}");
                    }
                    if len % 2 == 1 {
                        assert_eq!(codes[len / 2] & 0xF, 0, "{m:?} {len}: the last low nibble");
                    }
                    assert!(codes[len.div_ceil(2)..].iter().all(|&c| c == 0xAA), "{m:?} {len}");
                    let mut out = [7.0f32; Q4_BLOCK];
                    dequantize_block(m, &codes[..len.div_ceil(2)], 0.375, &mut out[..len]);
                    for (i, &o) in out[..len].iter().enumerate() {
                        let c = if i % 2 == 0 { codes[i / 2] >> 4 } else { codes[i / 2] & 0xF };
                        assert_eq!(
                            o.to_bits(),
                            (q[usize::from(c)] * 0.375).to_bits(),
                            "{m:?} {len} {i}"
                        );
                    }
                    assert!(out[len..].iter().all(|&o| o == 7.0));
                }
            }
        }
    }
}
