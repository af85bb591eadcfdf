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

/// Quantizes one block (`x.len() ≤ 128`) into its packed codes (`ceil(len / 2)` bytes of
/// `codes`, an odd length's last low nibble 0); returns the scale.
pub(crate) fn quantize_block(m: Q4Map, x: &[f32], codes: &mut [u8]) -> f32 {
    let q = q4_map_values(m);
    let mut nibbles = [0u8; Q4_BLOCK];
    let n = x.len().min(Q4_BLOCK);
    let amax = super::q8::absmax(x);
    let nib = nibbles.get_mut(..n).unwrap_or_default();
    let scale = super::q8::torchao_block(amax, x, nib, 0, 1.0, |y| super::q8::torchao_code(q, y));
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
    for (pair, &byte) in out.chunks_mut(2).zip(codes) {
        for (o, code) in pair.iter_mut().zip([byte >> 4, byte & 0xF]) {
            *o = q[usize::from(code)] * scale;
        }
    }
}
