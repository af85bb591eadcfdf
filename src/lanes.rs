//! The lane abstraction: the few element-wise operations the kernels need, implemented for
//! `f32` (one lane) and `wide::f32x4 / f32x8 / f32x16`.
//!
//! Every operation here is exact IEEE arithmetic with one rounding (add, sub, mul, div,
//! sqrt) or a pure bit operation (neg, abs, max, select), so the same kernel body gives the same
//! bits at every width. The one exception is [`Lanes::mul_add`]: `wide` fuses it only when the
//! build has the `fma` target feature (two roundings otherwise), and the `f32` implementation
//! below follows the same rule, so widths still agree within a build. The approximate
//! reciprocals of the `Fast` profile ([`Estimate`], `crate::fast`) are the AVX-512 `rcp14`
//! forms, whose bits are the same at every width; SSE's `rcpps` is not used.

use crate::fast::Estimate;
use core::ops::{Add, Div, Mul, Neg, Sub};
use wide::{f32x4, f32x8, f32x16};

/// `N` lanes of `f32` with the operations the kernels use.
pub(crate) trait Lanes<const N: usize>:
    Copy
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + Estimate
{
    /// Every lane set to `x`.
    fn splat(x: f32) -> Self;
    /// Loads `N` values.
    fn load(a: &[f32; N]) -> Self;
    /// Stores `N` values.
    fn store(self, a: &mut [f32; N]);
    /// Correctly rounded IEEE square root.
    fn sqrt(self) -> Self;
    /// `self · m + a`: one rounding on FMA builds, two otherwise (as `wide` does).
    fn mul_add(self, m: Self, a: Self) -> Self;
    /// NaN-propagating maximum (`torch.maximum`): NaN if either input is NaN, else the larger;
    /// on ties (`±0`) the second operand.
    fn max_nan(self, o: Self) -> Self;
    /// `|x|` (clears the sign bit).
    fn abs(self) -> Self;
    /// Lane mask (all bits set where true) of `self > o`.
    fn gt(self, o: Self) -> Self;
    /// Lane mask of `self < o`.
    fn lt(self, o: Self) -> Self;
    /// Lane mask of `self == o`.
    fn eq(self, o: Self) -> Self;
    /// Bitwise and: with a mask from [`Lanes::gt`]/[`Lanes::lt`]/[`Lanes::eq`] as `self`,
    /// `if mask { o } else { +0 }` in one operation.
    fn and(self, o: Self) -> Self;
    /// `if mask { a } else { b }` per lane, for a mask from [`Lanes::gt`]/[`Lanes::lt`]/[`Lanes::eq`].
    fn select(mask: Self, a: Self, b: Self) -> Self;
    /// The lanes as an array (for reductions).
    #[inline(always)]
    fn to_array(self) -> [f32; N] {
        let mut a = [0.0; N];
        self.store(&mut a);
        a
    }
    /// `torch.sign` as its vectorised CPU kernel computes it: `(x > 0) − (x < 0)`, so `±0`
    /// and NaN give `+0`.
    #[inline(always)]
    fn sign(self) -> Self {
        let zero = Self::splat(0.0);
        let one = Self::splat(1.0);
        self.gt(zero).and(one) - self.lt(zero).and(one)
    }
}

const TRUE: f32 = f32::from_bits(u32::MAX);

/// Whether `mul_add` is fused on this build; `wide` uses the same condition.
pub(crate) const FUSED_MUL_ADD: bool =
    cfg!(any(target_feature = "fma", all(target_arch = "aarch64", target_feature = "neon")));

impl Lanes<1> for f32 {
    #[inline(always)]
    fn splat(x: f32) -> Self {
        x
    }
    #[inline(always)]
    fn load(a: &[f32; 1]) -> Self {
        a[0]
    }
    #[inline(always)]
    fn store(self, a: &mut [f32; 1]) {
        a[0] = self;
    }
    // Through `f32x4` (lane 0): `libm::sqrtf` is a legacy-SSE `sqrtss`, which next to
    // AVX-512 code pays a transition penalty per call (it made the one-lane LAMB 100× slower
    // than the vector one), and `libm::fmaf` is an out-of-line call. Both are exact IEEE
    // operations either way.
    #[inline(always)]
    fn sqrt(self) -> Self {
        f32x4::splat(self).sqrt().to_array()[0]
    }
    #[inline(always)]
    fn mul_add(self, m: Self, a: Self) -> Self {
        if FUSED_MUL_ADD {
            f32x4::splat(self).mul_add(f32x4::splat(m), f32x4::splat(a)).to_array()[0]
        } else {
            self * m + a
        }
    }
    #[inline(always)]
    fn max_nan(self, o: Self) -> Self {
        if self.is_nan() || o.is_nan() {
            self + o
        } else if self > o {
            self
        } else {
            o
        }
    }
    #[inline(always)]
    fn abs(self) -> Self {
        f32::from_bits(self.to_bits() & 0x7fff_ffff)
    }
    #[inline(always)]
    fn gt(self, o: Self) -> Self {
        if self > o { TRUE } else { 0.0 }
    }
    #[inline(always)]
    fn lt(self, o: Self) -> Self {
        if self < o { TRUE } else { 0.0 }
    }
    #[inline(always)]
    fn eq(self, o: Self) -> Self {
        if self == o { TRUE } else { 0.0 }
    }
    #[inline(always)]
    fn and(self, o: Self) -> Self {
        f32::from_bits(self.to_bits() & o.to_bits())
    }
    #[inline(always)]
    fn select(mask: Self, a: Self, b: Self) -> Self {
        if mask.to_bits() != 0 { a } else { b }
    }
}

macro_rules! impl_wide_lanes {
    ($t:ty, $n:literal) => {
        impl Lanes<$n> for $t {
            #[inline(always)]
            fn splat(x: f32) -> Self {
                <$t>::splat(x)
            }
            #[inline(always)]
            fn load(a: &[f32; $n]) -> Self {
                <$t>::new(*a)
            }
            #[inline(always)]
            fn store(self, a: &mut [f32; $n]) {
                *a = self.to_array();
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline(always)]
            fn mul_add(self, m: Self, a: Self) -> Self {
                <$t>::mul_add(self, m, a)
            }
            #[inline(always)]
            fn max_nan(self, o: Self) -> Self {
                let nan = self.is_nan() | o.is_nan();
                let larger = self.simd_gt(o).select(self, o);
                nan.select(self + o, larger)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline(always)]
            fn gt(self, o: Self) -> Self {
                self.simd_gt(o)
            }
            #[inline(always)]
            fn lt(self, o: Self) -> Self {
                self.simd_lt(o)
            }
            #[inline(always)]
            fn eq(self, o: Self) -> Self {
                self.simd_eq(o)
            }
            #[inline(always)]
            fn and(self, o: Self) -> Self {
                self & o
            }
            #[inline(always)]
            fn select(mask: Self, a: Self, b: Self) -> Self {
                mask.select(a, b)
            }
        }
    };
}
impl_wide_lanes!(f32x4, 4);
impl_wide_lanes!(f32x8, 8);
impl_wide_lanes!(f32x16, 16);

/// The transcendental functions Box–Muller needs, from `wide` (which has no scalar form: width
/// 1 uses `f32x4` for them). `wide` computes them with the same polynomial at every width, so
/// the widths agree within a build; they use `mul_add`, so FMA and non-FMA builds differ.
pub(crate) trait Transcendental<const N: usize>: Lanes<N> {
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// `(sin x, cos x)`.
    fn sin_cos(self) -> (Self, Self);
}

macro_rules! impl_transcendental {
    ($t:ty, $n:literal) => {
        impl Transcendental<$n> for $t {
            #[inline(always)]
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            #[inline(always)]
            fn sin_cos(self) -> (Self, Self) {
                <$t>::sin_cos(self)
            }
        }
    };
}
impl_transcendental!(f32x4, 4);
impl_transcendental!(f32x8, 8);
impl_transcendental!(f32x16, 16);

/// The accuracy sweep of a lane-arithmetic function: `f` at width 16 must give width 1's bits
/// for every `x`, and width 1 must be within `bound` ulps (of the f32 binade of the f64
/// `exact` value) of `exact`. Returns the worst error seen, so the test can also check that the
/// sweep reached a rounding case (a sweep of exactly representable results proves nothing).
#[cfg(test)]
pub(crate) fn worst_ulp(
    xs: &[f32],
    one: impl Fn(f32) -> f32,
    sixteen: impl Fn(f32x16) -> f32x16,
    exact: impl Fn(f64) -> f64,
    bound: f64,
) -> f64 {
    let mut worst = 0.0f64;
    for chunk in xs.chunks(16) {
        let mut lanes = [chunk[0]; 16];
        lanes[..chunk.len()].copy_from_slice(chunk);
        let wide = sixteen(f32x16::new(lanes)).to_array();
        for (&x, w) in chunk.iter().zip(wide) {
            let y = one(x);
            assert_eq!(y.to_bits(), w.to_bits(), "width 1 and 16 differ at {x:e}");
            let e = exact(f64::from(x));
            let ulp = 2f64.powi(e.abs().log2().floor() as i32 - 23);
            let err = (f64::from(y) - e).abs() / ulp;
            worst = worst.max(err);
            assert!(err <= bound, "f({x:e}) = {y:e}, not {e:e} ({err:.2} ulp)");
        }
    }
    worst
}
