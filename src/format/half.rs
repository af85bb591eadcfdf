//! f32 ⇄ bf16 / f16 conversions, bit for bit as PyTorch's CPU vector path does them
//! (`tests/data/lowbit/README.md`, §A), written with integer and IEEE operations only, so every
//! build gives the same bits and the slice loops vectorise.
//!
//! | conversion | rule |
//! |---|---|
//! | f32 → bf16 | round to nearest, ties to even: `(u + 0x7FFF + ((u >> 16) & 1)) >> 16`; **every NaN → `0xFFFF`** (torch's vector path; `c10::BFloat16`'s scalar path and DeepSpeed give `0x7FC0`) |
//! | bf16 → f32 | `bits << 16`, exact (NaN payloads kept) |
//! | f32 → f16 | IEEE binary16, round to nearest even (F16C `vcvtps2ph`): `\|x\| ≥ 65520` → ±∞, subnormals kept (quantum 2⁻²⁴), below 2⁻²⁵ → ±0; NaN → quiet NaN, sign kept, payload `>> 13` (`s \| 0x7E00 \| m >> 13`) |
//! | f16 → f32 | exact for every finite value and ±∞; NaN → `s \| 0x7FC00000 \| m << 13` (F16C `vcvtph2ps`: quieted, sign and payload kept; torch's 1-element path gives `0x7FFFFFFF` instead) |

use super::lanes16;
use half::{bf16, f16};

/// f32 → bf16 bits, round to nearest even, NaN → `0xFFFF`.
#[inline(always)]
pub(crate) fn bf16_bits(x: f32) -> u16 {
    let u = x.to_bits();
    let rounded = (u.wrapping_add(0x7FFF + ((u >> 16) & 1)) >> 16) as u16;
    if u & 0x7FFF_FFFF > 0x7F80_0000 { 0xFFFF } else { rounded }
}

/// bf16 bits → f32, exact.
#[inline(always)]
pub(crate) fn from_bf16_bits(h: u16) -> f32 {
    f32::from_bits(u32::from(h) << 16)
}

/// f32 → f16 bits, IEEE round to nearest even (see the module table).
#[inline(always)]
pub(crate) fn f16_bits(x: f32) -> u16 {
    let u = x.to_bits();
    let sign = ((u >> 16) & 0x8000) as u16;
    let a = u & 0x7FFF_FFFF;
    // Normal range: rebias the exponent (127 → 15) and round the 13 dropped mantissa bits to
    // nearest even; a carry into the exponent is the right result.
    let r = a.wrapping_sub(112 << 23);
    let normal = (r.wrapping_add(0xFFF + ((r >> 13) & 1)) >> 13) as u16;
    // Subnormal range (|x| < 2⁻¹⁴): adding 0.5 rounds |x| to a multiple of 2⁻²⁴ (0.5's ulp), to
    // nearest even, in one IEEE addition; the low bits are then the f16 mantissa.
    let sub = (f32::from_bits(a) + 0.5).to_bits().wrapping_sub(0x3F00_0000) as u16;
    let nan = 0x7E00 | ((a & 0x007F_FFFF) >> 13) as u16;
    let mag = if a > 0x7F80_0000 {
        nan
    } else if a >= 0x477F_F000 {
        0x7C00 // ≥ 65520 (and ∞): ±∞
    } else if a < 0x3880_0000 {
        sub
    } else {
        normal
    };
    sign | mag
}

/// f16 bits → f32, exact; NaN quieted with sign and payload kept.
#[inline(always)]
pub(crate) fn from_f16_bits(h: u16) -> f32 {
    let h = u32::from(h);
    let sign = (h & 0x8000) << 16;
    let e = (h >> 10) & 0x1F;
    let m = h & 0x3FF;
    let bits = if e == 0x1F {
        if m == 0 { 0x7F80_0000 } else { 0x7FC0_0000 | (m << 13) }
    } else if e == 0 {
        // ±0 and subnormals: m · 2⁻²⁴, exact in f32.
        (m as f32 * f32::from_bits(0x3380_0000)).to_bits()
    } else {
        ((e + 112) << 23) | (m << 13)
    };
    f32::from_bits(sign | bits)
}

/// `out[i] = f32(x[i])` for bf16 input (16 at a time by [`lanes16`], the rest here).
#[inline(always)]
pub(crate) fn widen_bf16(x: &[bf16], out: &mut [f32]) {
    let n = x.len().min(out.len());
    let (Some(x), Some(out)) = (x.get(..n), out.get_mut(..n)) else { return };
    let (xs, x_rest) = x.as_chunks::<16>();
    let (os, o_rest) = out.as_chunks_mut::<16>();
    for (o, h) in os.iter_mut().zip(xs) {
        lanes16::widen_bf16(&h.map(bf16::to_bits), o);
    }
    for (o, h) in o_rest.iter_mut().zip(x_rest) {
        *o = from_bf16_bits(h.to_bits());
    }
}

/// `out[i] = f32(x[i])` for f16 input.
#[inline(always)]
pub(crate) fn widen_f16(x: &[f16], out: &mut [f32]) {
    for (o, h) in out.iter_mut().zip(x) {
        *o = from_f16_bits(h.to_bits());
    }
}

/// `out[i] = bf16(x[i])`, round to nearest even (16 at a time by [`lanes16`], the rest here).
#[inline(always)]
pub(crate) fn narrow_bf16(x: &[f32], out: &mut [bf16]) {
    let n = x.len().min(out.len());
    let (Some(x), Some(out)) = (x.get(..n), out.get_mut(..n)) else { return };
    let (xs, x_rest) = x.as_chunks::<16>();
    let (os, o_rest) = out.as_chunks_mut::<16>();
    for (o, v) in os.iter_mut().zip(xs) {
        let mut h = [0u16; 16];
        lanes16::narrow_bf16(v, &mut h);
        *o = h.map(bf16::from_bits);
    }
    for (o, &v) in o_rest.iter_mut().zip(x_rest) {
        *o = bf16::from_bits(bf16_bits(v));
    }
}

/// `out[i] = f16(x[i])`, round to nearest even.
#[inline(always)]
pub(crate) fn narrow_f16(x: &[f32], out: &mut [f16]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = f16::from_bits(f16_bits(v));
    }
}

/// Kahan-compensated bf16 parameters (`Params::Bf16Kahan`): with the old value `p` (bf16,
/// exact in f32), its compensation `c` (bf16) and the kernel's new f32 value `x`, in f32:
/// `s = c + (x − p)` (the step as computed plus what earlier roundings dropped), `p' = bf16(p +
/// s)`, `c' = bf16(s − (p' − p))` (what this rounding dropped); both rounded to nearest even.
/// A NaN or ±∞ `x` gives `p'` NaN or ±∞ (and `c'` NaN): the parameter is lost, as it would be.
pub(crate) fn kahan_bf16(x: &[f32], values: &mut [bf16], comp: &mut [bf16]) {
    for ((&x, v), c) in x.iter().zip(values.iter_mut()).zip(comp.iter_mut()) {
        let p = from_bf16_bits(v.to_bits());
        let s = from_bf16_bits(c.to_bits()) + (x - p);
        let new = bf16_bits(p + s);
        *c = bf16::from_bits(bf16_bits(s - (from_bf16_bits(new) - p)));
        *v = bf16::from_bits(new);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every f16 bit pattern widens and narrows back to itself (NaN: to the quieted pattern).
    #[test]
    fn f16_round_trips() {
        for h in 0..=u16::MAX {
            let back = f16_bits(from_f16_bits(h));
            let quiet = if h & 0x7C00 == 0x7C00 && h & 0x3FF != 0 { h | 0x0200 } else { h };
            assert_eq!(back, quiet, "{h:#06x}");
        }
    }

    /// Every bf16 pattern round-trips (NaN → 0xFFFF).
    #[test]
    fn bf16_round_trips() {
        for h in 0..=u16::MAX {
            let back = bf16_bits(from_bf16_bits(h));
            let want = if h & 0x7F80 == 0x7F80 && h & 0x7F != 0 { 0xFFFF } else { h };
            assert_eq!(back, want, "{h:#06x}");
        }
    }

    /// f32 → f16 is the nearest f16 (ties to even) for a sweep of f32 values, checked against
    /// an exact comparison in f64 with the neighbouring f16 values.
    #[test]
    fn f16_is_nearest_even() {
        let mut u = 0u32;
        while u < 0x4780_0000 {
            let x = f32::from_bits(u);
            let h = f16_bits(x);
            let got = f64::from(from_f16_bits(h));
            let (down, up) =
                (f64::from(from_f16_bits(h.wrapping_sub(1))), f64::from(from_f16_bits(h + 1)));
            let xd = f64::from(x);
            let err = (got - xd).abs();
            if h < 0x7C00 {
                assert!(err <= (up - xd).abs(), "{x:e}: {h:#06x} not nearest (up)");
            }
            // IEEE overflow: |x| ≥ 65520 (the largest finite plus half an ulp) rounds to ∞.
            if h > 0 && h < 0x7C00 {
                assert!(err <= (down - xd).abs(), "{x:e}: {h:#06x} not nearest (down)");
            }
            if h == 0x7C00 {
                assert!(xd >= 65520.0, "{x:e} overflowed");
            }
            if h > 0
                && h < 0x7C00
                && (err == (up - xd).abs() || err == (down - xd).abs())
                && err > 0.0
            {
                assert_eq!(h & 1, 0, "{x:e}: tie not to even");
            }
            u += 0x1357;
        }
    }
}
