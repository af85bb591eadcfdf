//! torchao's block-wise fp8 optimizer-state format (`fp8`, `torchao.optim.subclass_fp8`):
//! one `float8_e4m3fn` byte per element and one f32 scale per block of [`FP8_BLOCK`] = 256.
//!
//! e4m3fn: sign, 4 exponent bits (bias 7), 3 mantissa bits; subnormals (quantum 2⁻⁹), no
//! infinities, largest finite value 448, NaN `0x7F`/`0xFF`. A value is `decode(code) · scale`.
//! Quantizing (torchao's eager rule, bit for bit): `scale = max(absmax, 10⁻¹²) / 448`, then
//! `code = e4m3fn(x / scale)` rounded to nearest, ties to even (torch's cast; a magnitude that
//! rounds above 448 becomes NaN, as torch's non-saturating cast does — with this scale only
//! the rounding of `x / scale` can come near it). A block with a NaN or ±∞ stores scale NaN.

/// Elements per `fp8` block (torchao's).
pub const FP8_BLOCK: usize = 256;

/// `2²³`: adding and subtracting it rounds a non-negative f32 below it to an integer, ties to
/// even (the default rounding), in plain arithmetic.
const SHIFT: f32 = 8_388_608.0;

/// `x` as `float8_e4m3fn`, rounded to nearest even.
pub fn f32_to_e4m3fn(x: f32) -> u8 {
    let sign = ((x.to_bits() >> 24) & 0x80) as u8;
    let a = x.abs();
    if a.is_nan() || a >= 464.0 {
        // 464 is the midpoint between 448 and the next (absent) value 480: at and above it
        // the nearest-even result would be 480, which e4m3fn does not have.
        return sign | 0x7F;
    }
    // The binade's exponent, at least e4m3fn's smallest normal one (−6): below 2⁻⁶ the
    // quantum is 2⁻⁹ throughout.
    let e = (((a.to_bits() >> 23) as i32) - 127).max(-6);
    // a / quantum, with quantum = 2^(e − 3): exact (a power of two), < 16 (or < 8 subnormal).
    let m = (a * exp2(3 - e) + SHIFT) - SHIFT;
    // m in [0, 16]: 16 carries into the next binade (the code arithmetic below does that).
    let m = m as u32;
    let code = if m < 8 {
        // Only below 2⁻⁶: subnormal.
        m
    } else {
        // Normal: biased exponent e + 7, mantissa m − 8; m = 16 gives the next exponent's 0.
        (((e + 7) as u32) << 3) + (m - 8)
    };
    sign | code as u8
}

/// `float8_e4m3fn` `code` as f32 (exact).
pub fn e4m3fn_to_f32(code: u8) -> f32 {
    let sign = if code & 0x80 != 0 { -1.0 } else { 1.0 };
    let (e, m) = (i32::from((code >> 3) & 0xF), f32::from(code & 7));
    if e == 15 && m == 7.0 {
        return f32::NAN;
    }
    sign * if e == 0 { m * exp2(-9) } else { (8.0 + m) * exp2(e - 10) }
}

/// `2^k` for `|k| < 127`, exact.
fn exp2(k: i32) -> f32 {
    f32::from_bits(((k + 127) as u32) << 23)
}

/// Quantizes one block into its codes; returns the scale.
pub(crate) fn quantize_block(x: &[f32], codes: &mut [u8]) -> f32 {
    let amax = super::q8::absmax(x);
    super::q8::torchao_block(amax, x, codes, 0, 448.0, f32_to_e4m3fn)
}

/// `out[i] = e4m3fn(codes[i]) · scale` for one block.
pub(crate) fn dequantize_block(codes: &[u8], scale: f32, out: &mut [f32]) {
    for (o, &c) in out.iter_mut().zip(codes) {
        *o = e4m3fn_to_f32(c) * scale;
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
}
