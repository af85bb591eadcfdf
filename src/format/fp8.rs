//! torchao's block-wise fp8 optimizer-state format (`fp8`, `torchao.optim.subclass_fp8`):
//! one `float8_e4m3fn` byte per element and one f32 scale per block of [`FP8_BLOCK`] = 256.
//!
//! e4m3fn: sign, 4 exponent bits (bias 7), 3 mantissa bits; subnormals (quantum 2⁻⁹), no
//! infinities, largest finite value 448, NaN `0x7F`/`0xFF`. A value is `decode(code) · scale`.
//! Quantizing (torchao's eager rule, bit for bit): `scale = max(absmax, 10⁻¹²) / 448`, then
//! `code = e4m3fn(x / scale)` rounded to nearest, ties to even (torch's cast; a magnitude that
//! rounds above 448 becomes NaN, as torch's non-saturating cast does — with this scale only
//! the rounding of `x / scale` can come near it). A block with a NaN or ±∞ stores scale NaN.

use super::lanes16;

/// Elements per `fp8` block (torchao's).
pub const FP8_BLOCK: usize = 256;

/// `2²³`: adding and subtracting it rounds a non-negative f32 below it to an integer, ties to
/// even (the default rounding), in plain arithmetic.
const SHIFT: f32 = 8_388_608.0;

/// `x` as `float8_e4m3fn`, rounded to nearest even. Branch-free (selects only), so that a
/// block's loop vectorises.
#[inline(always)]
pub fn f32_to_e4m3fn(x: f32) -> u8 {
    let sign = ((x.to_bits() >> 24) & 0x80) as u8;
    // 464 is the midpoint between 448 and the next (absent) value 480: at and above it the
    // nearest-even result would be 480, which e4m3fn does not have; NaN fails the test too.
    let out_of_range = x.abs() >= 464.0 || x.is_nan();
    let a = if out_of_range { 0.0 } else { x.abs() };
    // The binade's exponent, at least e4m3fn's smallest normal one (−6): below 2⁻⁶ the
    // quantum is 2⁻⁹ throughout.
    let e = (((a.to_bits() >> 23) as i32) - 127).max(-6);
    // a / quantum, with quantum = 2^(e − 3): exact (a power of two), < 16 (or < 8 subnormal);
    // adding 2²³ rounds it to an integer m in [0, 16] (16 carries into the next binade: the
    // code arithmetic below does that), which is then the sum's low mantissa bits — read
    // there, not by a float-to-integer conversion (which LLVM does lane by lane).
    let m = (a * exp2(3 - e) + SHIFT).to_bits() - SHIFT.to_bits();
    // Below 8 only below 2⁻⁶: subnormal. Normal: biased exponent e + 7, mantissa m − 8; m = 16
    // gives the next exponent's 0.
    let code = if m < 8 { m } else { (((e + 7) as u32) << 3) + (m - 8) };
    sign | if out_of_range { 0x7F } else { code as u8 }
}

/// `float8_e4m3fn` `code` as f32 (exact).
pub fn e4m3fn_to_f32(code: u8) -> f32 {
    E4M3FN[usize::from(code)]
}

/// The 256 values (a table: a block's dequantizing loop becomes a gather).
static E4M3FN: [f32; 256] = {
    let mut t = [0.0f32; 256];
    let mut code = 0;
    while code < 256 {
        let (e, m) = (((code >> 3) & 0xF) as i32, (code & 7) as f32);
        let v = if e == 0 { m * exp2(-9) } else { (8.0 + m) * exp2(e - 10) };
        t[code] = if e == 15 && m == 7.0 {
            f32::NAN
        } else if code & 0x80 != 0 {
            -v
        } else {
            v
        };
        code += 1;
    }
    t
};

/// `2^k` for `|k| < 127`, exact.
const fn exp2(k: i32) -> f32 {
    f32::from_bits(((k + 127) as u32) << 23)
}

/// Quantizes one block into its codes ([`q8::torchao_bytes`](super::q8::torchao_bytes), whole
/// groups of 16 by [`lanes16::fp8_codes`]); returns the scale (a NaN block: scale NaN, code 0).
/// Not inlined, as q4's.
#[inline(never)]
pub(crate) fn quantize_block(x: &[f32], codes: &mut [u8]) -> f32 {
    let amax = super::q8::absmax(x);
    super::q8::torchao_bytes(amax, x, codes, 0, 448.0, f32_to_e4m3fn, lanes16::fp8_codes)
}

/// `out[i] = e4m3fn(codes[i]) · scale` for one block.
pub(crate) fn dequantize_block(codes: &[u8], scale: f32, out: &mut [f32]) {
    for (o, &c) in out.iter_mut().zip(codes) {
        *o = E4M3FN[usize::from(c)] * scale;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code decodes and encodes back (NaN to 0x7F with its sign), and every f32 between two
    /// neighbouring codes rounds to the nearer, ties to the even code.
    #[test]
    fn e4m3fn_round_trips_and_rounds_to_nearest_even() {
        for code in 0..=255u8 {
            let x = e4m3fn_to_f32(code);
            if x.is_nan() {
                assert_eq!(f32_to_e4m3fn(x) & 0x7F, 0x7F);
                continue;
            }
            // ±0 both encode with their sign.
            assert_eq!(f32_to_e4m3fn(x), code, "{code:#x} = {x:e}");
        }
        assert_eq!(e4m3fn_to_f32(0x7E), 448.0);
        assert_eq!(e4m3fn_to_f32(0x01), 2f32.powi(-9));
        for code in 0..0x7Eu8 {
            let (lo, hi) = (e4m3fn_to_f32(code), e4m3fn_to_f32(code + 1));
            let mid = 0.5 * (lo + hi);
            let even = if code % 2 == 0 { code } else { code + 1 };
            assert_eq!(f32_to_e4m3fn(mid), even, "tie between {lo:e} and {hi:e}");
            let below = f32::from_bits(mid.to_bits() - 1);
            let above = f32::from_bits(mid.to_bits() + 1);
            assert_eq!(f32_to_e4m3fn(below), code, "{below:e}");
            assert_eq!(f32_to_e4m3fn(above), code + 1, "{above:e}");
        }
        assert_eq!(f32_to_e4m3fn(463.99997), 0x7E);
        assert_eq!(f32_to_e4m3fn(464.0), 0x7F);
        assert_eq!(f32_to_e4m3fn(-1e30), 0xFF);
        assert_eq!(f32_to_e4m3fn(1e-30), 0);
    }

    /// Blocks of many lengths (whole groups of 16 and the rest): the codes are
    /// `f32_to_e4m3fn(x/scale)` element by element — every code's value and the midpoints
    /// between neighbours (ties), subnormals, values near 448, tiny and NaN blocks — so the
    /// 16-lane path (512-bit registers on AVX-512 builds) is the one-element rule.
    #[test]
    fn blocks_are_the_one_element_rule() {
        use crate::format::q8::absmax;
        let mut values: std::vec::Vec<f32> = (0..=255u8)
            .map(e4m3fn_to_f32)
            .filter(|v| v.is_finite())
            .flat_map(|v| [v, v.next_up(), v.next_down()])
            .collect();
        let finite: std::vec::Vec<f32> = values.clone();
        values.extend(finite.windows(2).map(|w| 0.5 * (w[0] + w[1])));
        values.extend((0..2000).map(|k| (k as f32 - 1000.0) * 0.448));
        for (chunk, len) in
            values.chunks(FP8_BLOCK).zip([256, 255, 17, 16, 200, 33, 256, 1, 100, 256])
        {
            for kind in 0..3 {
                let mut x = chunk[..len.min(chunk.len())].to_vec();
                match kind {
                    // Scale exactly 1 (absmax 448): the midpoints are exact ties.
                    0 => {
                        x.iter_mut().for_each(|v| *v = v.clamp(-448.0, 448.0));
                        x[0] = 448.0;
                    }
                    1 => x.iter_mut().for_each(|v| *v *= 1e-15),
                    2 => {
                        let mid = x.len() / 2;
                        x[mid] = f32::NAN;
                    }
                    _ => {}
                }
                let mut codes = std::vec![0xAAu8; x.len() + 3];
                let scale = quantize_block(&x, &mut codes[..x.len()]);
                let amax = absmax(&x);
                if !amax.is_finite() {
                    assert!(scale.is_nan() && codes[..x.len()].iter().all(|&c| c == 0));
                    continue;
                }
                let want_scale = if amax < 1e-12 { 1e-12 } else { amax } / 448.0;
                assert_eq!(scale.to_bits(), want_scale.to_bits(), "len {len} kind {kind}");
                for (i, &v) in x.iter().enumerate() {
                    assert_eq!(
                        codes[i],
                        f32_to_e4m3fn(v / scale),
                        "len {len} kind {kind} x = {v:e}"
                    );
                }
                assert!(codes[x.len()..].iter().all(|&c| c == 0xAA));
            }
        }
    }
}
