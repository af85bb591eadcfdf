//! The lane abstraction: the few element-wise operations the kernels need, implemented for
//! `f32` (one lane) and `wide::f32x4 / f32x8 / f32x16`.
//!
//! Every operation here is exact IEEE arithmetic with one rounding (add, sub, mul, div,
//! sqrt) or a pure bit operation (neg, abs, max, select), so the same kernel body gives the same
//! bits at every width. The one exception is [`Lanes::mul_add`]: `wide` fuses it only when the
//! build has the `fma` target feature (two roundings otherwise), and the `f32` implementation
//! below follows the same rule, so widths still agree within a build. Approximate operations
//! (`recip`, `recip_sqrt`) are deliberately absent: their bits differ between widths.

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
}

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
    #[inline(always)]
    fn sqrt(self) -> Self {
        libm::sqrtf(self)
    }
    #[inline(always)]
    fn mul_add(self, m: Self, a: Self) -> Self {
        if FUSED_MUL_ADD { libm::fmaf(self, m, a) } else { self * m + a }
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
        }
    };
}
impl_wide_lanes!(f32x4, 4);
impl_wide_lanes!(f32x8, 8);
impl_wide_lanes!(f32x16, 16);
