//! The [`Numerics::Fast`](crate::Numerics::Fast) profile's division and square root: no IEEE
//! divider in the loop, but the AVX-512 reciprocal estimates refined by one Newton–Raphson
//! step each.
//!
//! ```text
//! r₀ = rcp14(d)                 |r₀·d − 1| < 2⁻¹⁴ (Intel's specification)
//! r  = r₀ + r₀·(1 − d·r₀)        the error squares: ≈ 2⁻²⁸ + two roundings
//! a/d ≈ a·r,  p + a/d ≈ fma(a, r, p)
//!
//! y  = rsqrt14(x),  s = x·y      |y·√x − 1| < 2⁻¹⁴,  s ≈ √x
//! √x ≈ s + (s/2)·(1 − s·y)       since s·y = x·y² = 1 − e and √x = s/√(1 − e) ≈ s·(1 + e/2)
//! ```
//! Each `1 − ·` and each correction is one fused multiply-add. Where the refinement would form
//! `0·∞` the estimate is the answer: a reciprocal estimate of `±0` or `±∞` (`d` zero, infinite,
//! or so small that `1/d` overflows, or so large that it underflows) is kept, and `√±0 = ±0`,
//! `√+∞ = +∞`, `√x = NaN` for `x < 0` and `x = −∞`, `√NaN = NaN`: NaN and infinities propagate
//! as with IEEE operations. Those fix-ups are one `VFIXUPIMMPS` each (a per-class table: no
//! compare, no blend), which is what brings the loop below the divider's time.
//!
//! **Which builds agree.** `VRCP14PS`/`VRSQRT14PS` are specified bit for bit by Intel (a
//! reference table, not only an error bound), so every AVX-512 build gives the same bits on
//! every AVX-512 processor, at every width (the 128- and 256-bit forms come with AVX-512VL, the
//! one-lane path uses lane 0 of the 128-bit form). SSE's `rcpps`/`rsqrtps` are 12-bit and not
//! specified bit for bit (Intel and AMD differ), so a build without AVX-512 (`avx512f`,
//! `avx512vl` and `fma` target features) does not use them: there [`ESTIMATES`] is `false` and
//! `Fast` divides and takes square roots exactly, which makes it bit-identical to
//! [`Numerics::Portable`](crate::Numerics::Portable) on those builds.
//!
//! The intrinsics are `#[target_feature]` functions, which Rust requires an `unsafe` block to
//! call even when the whole build enables the feature; this module, `format::lanes16` and
//! `prefetch` are the only `unsafe` outside the C API, and each function has its own test (`tests` below and
//! `tests/fast.rs`).

use crate::lanes::Lanes;

/// Whether this build computes `Fast` with the AVX-512 estimates (`true`) or exactly.
pub(crate) const ESTIMATES: bool = cfg!(all(
    target_arch = "x86_64",
    target_feature = "avx512f",
    target_feature = "avx512vl",
    target_feature = "fma"
));

/// `1/d` within 0.53 units in the last place (every f32 measured; the tests below), exact
/// where [`ESTIMATES`] is `false`.
#[inline(always)]
pub(crate) fn recip<L: Lanes<N>, const N: usize>(d: L) -> L {
    if !ESTIMATES {
        return L::splat(1.0) / d;
    }
    let r0 = d.recip_estimate();
    let e = (-d).mul_add(r0, L::splat(1.0));
    r0.mul_add(e, r0).keep_special_estimate(r0)
}

/// `√x` within 0.80 units in the last place (every f32 measured); exact where [`ESTIMATES`] is
/// `false`.
#[inline(always)]
pub(crate) fn sqrt<L: Lanes<N>, const N: usize>(x: L) -> L {
    if !ESTIMATES {
        return x.sqrt();
    }
    let y = x.rsqrt_estimate();
    let s = x * y;
    let e = (-s).mul_add(y, L::splat(1.0));
    (s * L::splat(0.5)).mul_add(e, s).root_of_special(x)
}

/// The estimate instructions, per lane type: the AVX-512 instructions where the build has
/// them, exact operations and plain selects elsewhere (unused there: [`recip`] and [`sqrt`] do
/// not call them), so that the `Lanes` trait is the same on every build.
pub(crate) mod estimate {
    #![allow(unsafe_code)]
    use super::Estimate;
    use wide::f32x4;

    #[cfg(all(target_arch = "x86_64", target_feature = "avx512f", target_feature = "avx512vl"))]
    mod avx512 {
        use super::super::Estimate;
        use core::arch::x86_64::{
            _mm_fixupimm_ps, _mm_rcp14_ps, _mm_rsqrt14_ps, _mm_set1_epi32, _mm256_fixupimm_ps,
            _mm256_rcp14_ps, _mm256_rsqrt14_ps, _mm256_set1_epi32, _mm512_fixupimm_ps,
            _mm512_rcp14_ps, _mm512_rsqrt14_ps, _mm512_set1_epi32,
        };
        use wide::{f32x4, f32x8, f32x16};

        /// `VFIXUPIMMPS` tables: four bits per class of the classified operand (QNaN, SNaN,
        /// ±0, +1, −∞, +∞, negative, positive; lowest nibble first), each the answer: 0 the
        /// computed value, 1 the operand itself, 2 the operand quieted, 3 the default NaN.
        /// Reciprocal: the estimate itself where it is ±0 or ±∞.
        const KEEP_ZERO_INFINITE: i32 = 0x0011_0100;
        /// Square root: QNaN → itself, SNaN → quieted, ±0 → itself, −∞ → NaN, +∞ → itself,
        /// negative → NaN.
        const ROOT: i32 = 0x0313_0121;

        // SAFETY (every `unsafe` block below): this module exists only in builds that enable
        // avx512f and avx512vl, the features these intrinsics need; none of them reads memory.
        macro_rules! estimates {
            ($t:ty, $rcp:ident, $rsqrt:ident, $fixup:ident, $set1:ident) => {
                impl Estimate for $t {
                    #[inline(always)]
                    fn recip_estimate(self) -> Self {
                        unsafe { $rcp(self.into()) }.into()
                    }
                    #[inline(always)]
                    fn rsqrt_estimate(self) -> Self {
                        unsafe { $rsqrt(self.into()) }.into()
                    }
                    #[inline(always)]
                    fn keep_special_estimate(self, estimate: Self) -> Self {
                        let table = unsafe { $set1(KEEP_ZERO_INFINITE) };
                        unsafe { $fixup::<0>(self.into(), estimate.into(), table) }.into()
                    }
                    #[inline(always)]
                    fn root_of_special(self, x: Self) -> Self {
                        let table = unsafe { $set1(ROOT) };
                        unsafe { $fixup::<0>(self.into(), x.into(), table) }.into()
                    }
                }
            };
        }
        estimates!(f32x4, _mm_rcp14_ps, _mm_rsqrt14_ps, _mm_fixupimm_ps, _mm_set1_epi32);
        estimates!(
            f32x8,
            _mm256_rcp14_ps,
            _mm256_rsqrt14_ps,
            _mm256_fixupimm_ps,
            _mm256_set1_epi32
        );
        estimates!(
            f32x16,
            _mm512_rcp14_ps,
            _mm512_rsqrt14_ps,
            _mm512_fixupimm_ps,
            _mm512_set1_epi32
        );
    }

    #[cfg(not(all(
        target_arch = "x86_64",
        target_feature = "avx512f",
        target_feature = "avx512vl"
    )))]
    mod exact {
        use super::super::Estimate;
        use wide::{f32x4, f32x8, f32x16};

        macro_rules! exact {
            ($t:ty) => {
                impl Estimate for $t {
                    #[inline(always)]
                    fn recip_estimate(self) -> Self {
                        <$t>::splat(1.0) / self
                    }
                    #[inline(always)]
                    fn rsqrt_estimate(self) -> Self {
                        <$t>::splat(1.0) / self.sqrt()
                    }
                    #[inline(always)]
                    fn keep_special_estimate(self, estimate: Self) -> Self {
                        estimate.simd_eq(estimate + estimate).select(estimate, self)
                    }
                    #[inline(always)]
                    fn root_of_special(self, x: Self) -> Self {
                        x.sqrt()
                    }
                }
            };
        }
        exact!(f32x4);
        exact!(f32x8);
        exact!(f32x16);
    }

    /// One lane: lane 0 of the 128-bit form (the same table).
    impl Estimate for f32 {
        #[inline(always)]
        fn recip_estimate(self) -> Self {
            f32x4::splat(self).recip_estimate().to_array()[0]
        }
        #[inline(always)]
        fn rsqrt_estimate(self) -> Self {
            f32x4::splat(self).rsqrt_estimate().to_array()[0]
        }
        #[inline(always)]
        fn keep_special_estimate(self, estimate: Self) -> Self {
            f32x4::splat(self).keep_special_estimate(f32x4::splat(estimate)).to_array()[0]
        }
        #[inline(always)]
        fn root_of_special(self, x: Self) -> Self {
            f32x4::splat(self).root_of_special(f32x4::splat(x)).to_array()[0]
        }
    }
}

/// The hardware estimates `rcp14` and `rsqrt14` (`|r·d − 1| < 2⁻¹⁴`) and the special-value
/// fix-ups of [`div`] and [`sqrt`]; exact or plain selects on builds without AVX-512, where
/// they are not called.
pub(crate) trait Estimate: Sized {
    /// `≈ 1/x`.
    fn recip_estimate(self) -> Self;
    /// `≈ 1/√x`.
    fn rsqrt_estimate(self) -> Self;
    /// `self` (a refined reciprocal), or `estimate` where that is `±0` or `±∞`.
    fn keep_special_estimate(self, estimate: Self) -> Self;
    /// `self` (a refined `√x`), or IEEE's `√x` where `x` is `±0`, `±∞`, negative or NaN.
    fn root_of_special(self, x: Self) -> Self;
}

#[cfg(test)]
mod tests {
    use super::*;
    use wide::{f32x4, f32x8, f32x16};

    /// A spread of f32 bit patterns: every exponent, many mantissas, both signs, and the
    /// special values. `OPTKERN_FAST_STRIDE=1` visits every f32 (the bounds of `tests/fast.rs`
    /// were measured so; about a minute in a release build).
    fn samples() -> impl Iterator<Item = f32> {
        let stride = std::env::var("OPTKERN_FAST_STRIDE").map_or(65_537, |s| s.parse().unwrap());
        (0..=u32::MAX).step_by(stride).map(f32::from_bits).chain([
            0.0,
            -0.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            f32::MIN_POSITIVE,
            f32::from_bits(1),
            f32::MAX,
        ])
    }

    /// Error of `got` against the exact `want` (f64) in units in the last place of the f32
    /// nearest `want` (subnormal units below 2⁻¹²⁶); `0` for equal specials (NaN, ±∞, ±0), an
    /// overflow counting as `±∞`.
    fn ulps(got: f32, want: f64) -> f64 {
        let nearest = want as f32;
        if nearest.is_nan() || nearest.is_infinite() || got.is_nan() || got.is_infinite() {
            return if got.to_bits() == nearest.to_bits() { 0.0 } else { f64::INFINITY };
        }
        let exponent = want.abs().max(f64::from(f32::MIN_POSITIVE)).log2().floor();
        (f64::from(got) - want).abs() / 2f64.powf(exponent - 23.0)
    }

    /// Relative error of `got` against `want` (f64), in units of 2⁻²⁴.
    fn err(got: f32, want: f64) -> f64 {
        ((f64::from(got) - want) / want).abs() * 2f64.powi(24)
    }

    #[test]
    fn estimates_agree_at_every_width() {
        for x in samples() {
            let one = [
                f32x4::splat(x).recip_estimate().to_array()[0],
                f32x8::splat(x).recip_estimate().to_array()[0],
                f32x16::splat(x).recip_estimate().to_array()[0],
            ];
            assert!(one.iter().all(|r| r.to_bits() == one[0].to_bits()), "rcp {x:e}: {one:?}");
            let one = [
                f32x4::splat(x).rsqrt_estimate().to_array()[0],
                f32x8::splat(x).rsqrt_estimate().to_array()[0],
                f32x16::splat(x).rsqrt_estimate().to_array()[0],
            ];
            assert!(one.iter().all(|r| r.to_bits() == one[0].to_bits()), "rsqrt {x:e}: {one:?}");
        }
    }

    #[test]
    fn estimates_meet_their_specification() {
        // Intel: relative error below 2⁻¹⁴ (2¹⁰ units of 2⁻²⁴), normal results.
        for x in samples().filter(|x| x.is_normal() && x.abs() < 2f32.powi(126)) {
            let r = f32x4::splat(x).recip_estimate().to_array()[0];
            assert!(err(r, 1.0 / f64::from(x)) < 1024.0, "rcp14({x:e}) = {r:e}");
            if x > 0.0 {
                let r = f32x4::splat(x).rsqrt_estimate().to_array()[0];
                assert!(err(r, 1.0 / f64::from(x).sqrt()) < 1024.0, "rsqrt14({x:e}) = {r:e}");
            }
        }
    }

    #[test]
    fn refined_division_and_square_root() {
        // Within the bounds tests/fast.rs states, at every f32 sampled (an exact ±0, ±∞ and
        // NaN where IEEE gives them).
        let (mut worst_div, mut worst_sqrt) = (0f64, 0f64);
        for d in samples() {
            let q = recip(f32x16::splat(d)).to_array()[0];
            let e = ulps(q, 1.0 / f64::from(d));
            assert!(e <= 1.0, "1/{d:e} = {q:e}: {e} ulp");
            worst_div = worst_div.max(e);
            let s = sqrt(f32x16::splat(d)).to_array()[0];
            let e = ulps(s, f64::from(d).sqrt());
            assert!(e <= 1.0, "√{d:e} = {s:e}: {e} ulp");
            worst_sqrt = worst_sqrt.max(e);
        }
        assert!(!ESTIMATES || worst_div > 0.5, "the estimates are in use: not exact everywhere");
        std::println!("worst 1/d: {worst_div} ulp, worst √x: {worst_sqrt} ulp");
    }
}
