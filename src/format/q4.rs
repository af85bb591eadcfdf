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
fn code(q: &[f32; 16], y: f32) -> u8 {
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
/// `codes`, an odd length's last low nibble 0); returns the scale.
// Not inlined: inside the staging driver's `store` LLVM may leave the code loop scalar (as it
// did q8's).
#[inline(never)]
pub(crate) fn quantize_block(m: Q4Map, x: &[f32], codes: &mut [u8]) -> f32 {
    let q = q4_map_values(m);
    let mut nibbles = [0u8; Q4_BLOCK];
    let n = x.len().min(Q4_BLOCK);
    let amax = super::q8::absmax(x);
    let nib = nibbles.get_mut(..n).unwrap_or_default();
    let scale = super::q8::torchao_block(amax, x, nib, 0, 1.0, |y| code(q, y));
    for (c, pair) in
        codes.iter_mut().zip(nibbles.get(..n.div_ceil(2) * 2).unwrap_or_default().chunks_exact(2))
    {
        // Disjoint bits: `+` is the or of the two nibbles.
        *c = (pair[0] << 4) + pair[1];
    }
    scale
}

/// `out[i] = map[code(i)] · scale` for one block (`out.len() ≤ 128`), the codes unpacked as
/// [`quantize_block`] packs them.
pub(crate) fn dequantize_block(m: Q4Map, codes: &[u8], scale: f32, out: &mut [f32]) {
    let q = q4_map_values(m);
    let half = out.len() / 2;
    let mut pairs = out.chunks_exact_mut(2);
    for (pair, &byte) in (&mut pairs).zip(codes) {
        // Fixed-size pairs: the loop vectorises (a general `chunks_mut` pair did not).
        if let [hi, lo] = pair {
            (*hi, *lo) = (q[usize::from(byte >> 4)] * scale, q[usize::from(byte & 0xF)] * scale);
        }
    }
    // An odd length's last element: the high nibble of the next byte.
    if let ([last], Some(&byte)) = (pairs.into_remainder(), codes.get(half)) {
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
}
