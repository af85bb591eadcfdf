//! The two numerics profiles every optimizer body is generic over.

use crate::lanes::Lanes;

/// Which operation order a kernel follows. Both are bit-identical across widths, offsets and
/// chunkings within a build; they differ in what else they promise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Numerics {
    /// PyTorch's operation order (`torch.optim`, CPU, `foreach=False`): a fused multiply-add
    /// exactly where PyTorch's CPU kernels have one, scalar coefficients computed in f64 and
    /// rounded once to f32. Bit-identical to PyTorch on FMA builds (x86-64-v3 and up,
    /// aarch64); without FMA each fused op becomes a multiply and an add (two roundings).
    Torch = 0,
    /// No fused multiply-add anywhere and the fewest divisions and square roots per element
    /// (scalar factors folded into per-call coefficients). Bit-identical on every target and
    /// build, and the fastest where the divide/sqrt unit is the limit.
    Portable = 1,
}

/// Compile-time form of [`Numerics`], so each kernel body is monomorphised per profile.
pub(crate) trait Profile {
    /// `true` for [`Numerics::Torch`].
    const TORCH: bool;

    /// `a · b + c`: fused in the `Torch` profile (where PyTorch fuses), never in `Portable`.
    #[inline(always)]
    fn fma<L: Lanes<N>, const N: usize>(a: L, b: L, c: L) -> L {
        if Self::TORCH { a.mul_add(b, c) } else { a * b + c }
    }
}

/// [`Numerics::Torch`] as a type.
pub(crate) struct Torch;
/// [`Numerics::Portable`] as a type.
pub(crate) struct Portable;

impl Profile for Torch {
    const TORCH: bool = true;
}
impl Profile for Portable {
    const TORCH: bool = false;
}

/// Expands `$body` once per profile with the type `$P` bound to it.
macro_rules! with_profile {
    ($numerics:expr, |$P:ident| $body:expr) => {
        match $numerics {
            $crate::Numerics::Torch => {
                type $P = $crate::numerics::Torch;
                $body
            }
            $crate::Numerics::Portable => {
                type $P = $crate::numerics::Portable;
                $body
            }
        }
    };
}
pub(crate) use with_profile;

/// Rounds an f64 scalar coefficient to the f32 that enters the kernel (`c(x)` in the golden
/// README): computed once per call, in f64, rounded once.
#[inline(always)]
pub(crate) fn c(x: f64) -> f32 {
    x as f32
}

/// `torch.lerp(m, x, w)` with a scalar weight `w`, as PyTorch's CPU kernel computes it:
/// `fma(w, x − m, m)` if `|w| < 0.5`, else `fma(w − 1, x − m, x)` (`w − 1` in f32).
#[derive(Clone, Copy, Debug)]
pub(crate) struct TorchLerp {
    w: f32,
    w_minus_1: f32,
    small: bool,
}

impl TorchLerp {
    /// The lerp with weight `c(weight)`.
    pub(crate) fn new(weight: f64) -> Self {
        let w = c(weight);
        Self { w, w_minus_1: w - 1.0, small: w.abs() < 0.5 }
    }

    /// `lerp(m, x, w)`; fused as in PyTorch when `P` is `Torch`.
    #[inline(always)]
    pub(crate) fn apply<P: Profile, L: Lanes<N>, const N: usize>(&self, m: L, x: L) -> L {
        if self.small {
            self.apply_branch::<P, L, N, true>(m, x)
        } else {
            self.apply_branch::<P, L, N, false>(m, x)
        }
    }

    /// Whether `|w| < 0.5` (torch's first branch).
    pub(crate) fn is_small(&self) -> bool {
        self.small
    }

    /// [`TorchLerp::apply`] with the branch chosen at compile time (`SMALL` must equal
    /// [`TorchLerp::is_small`]).
    #[inline(always)]
    pub(crate) fn apply_branch<P: Profile, L: Lanes<N>, const N: usize, const SMALL: bool>(
        &self,
        m: L,
        x: L,
    ) -> L {
        if SMALL {
            P::fma(L::splat(self.w), x - m, m)
        } else {
            P::fma(L::splat(self.w_minus_1), x - m, x)
        }
    }
}

/// Expands `$body` twice, with `$C` a `const bool` equal to `true` and to `false`, taking the
/// copy that matches `$value`: a runtime option becomes a compile-time constant, so the loop
/// inside `$body` has no branch on it.
macro_rules! bool_const {
    ($value:expr, |$C:ident| $body:expr) => {
        if $value {
            const $C: bool = true;
            $body
        } else {
            const $C: bool = false;
            $body
        }
    };
}
pub(crate) use bool_const;
