//! The numerics profiles every optimizer body is generic over.

use crate::lanes::Lanes;
use wide::f64x2;

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
    /// bitsandbytes' CPU 8-bit optimizers' operation order (`bitsandbytes` 0.50,
    /// `_optimizer_update_8bit_blockwise_cpu`), for the kernels bitsandbytes has: Adam/AdamW
    /// (first moment `fma(g, c(1−β₁), m·c(β₁))` instead of torch's lerp; weight decay only
    /// decoupled; no AMSGrad, no ε̂), Lion (the direction `sign(m·c(β₁) + g·c(1−β₁))` without a
    /// fused op), SGD (momentum without dampening or Nesterov), RMSprop (not centered, no
    /// momentum) and Adagrad; the last three add `λ·θ` to the gradient even when `λ = 0` (so a
    /// `−0` gradient becomes `+0`). Everything else is [`Numerics::Torch`]'s. With `q8` states
    /// and [`crate::format::Quantizer::BnbCpu`] a step reproduces bitsandbytes' CPU step bit
    /// for bit on FMA builds. Other kernels reject it.
    Bitsandbytes = 2,
    /// [`Numerics::Portable`]'s expressions, computed for speed past the IEEE divider: each
    /// multiply-add fused (one rounding instead of two), and each division and square root of
    /// the update from the AVX-512 estimates `rcp14`/`rsqrt14` refined by one Newton–Raphson
    /// step (`src/fast.rs`: within 0.53 and 0.80 units in the last place of the exact value,
    /// over every f32). Each step is within a stated bound of Portable's (`tests/fast.rs`: the
    /// update carries at most 2⁻²² of relative error more, each state at most one rounding
    /// more). Same bits at every width, offset, chunking and thread count within a build, and
    /// on every AVX-512 processor. Builds without AVX-512 (`avx512f`, `avx512vl`, `fma`;
    /// [`crate::FAST_ESTIMATES`] false) divide exactly; builds without FMA as well are
    /// bit-identical to `Portable`. NaN and infinities propagate as in `Portable`. For the
    /// divide/sqrt-bound kernels that list it (Adam/AdamW, Adagrad, RMSprop, Adadelta, NAdam,
    /// RAdam, LAMB); the others reject it.
    Fast = 3,
    /// torchao's low-bit AdamW operation order (`torchao.optim` 0.18, `single_param_adam`,
    /// eager), for Adam/AdamW only: bias corrections in f32 (`1 − c(β)ᵗ`, `√` in f32), both
    /// moments by torch's `lerp` (`v ← lerp(v, g·g, c(1 − β₂))`), decoupled decay
    /// `θ ← θ − (c(η)·c(λ))·θ` (L2 `g ← fma(θ, c(λ), g)`, also with `λ = 0`), and
    /// `θ ← θ − (c(η)·(m/bc₁))/(√v/√bc₂ + c(ε))`. With `q8` states and
    /// [`crate::format::Quantizer::Torchao`] a step reproduces torchao's `AdamW8bit`/`Adam8bit`
    /// bit for bit on FMA builds. No AMSGrad, no ε̂; other kernels reject it.
    Torchao = 4,
}

impl Numerics {
    /// How many profiles there are: a C value is a `Numerics` exactly when it is below this
    /// (the last variant's value + 1; the C configs check against it).
    #[cfg_attr(not(feature = "capi"), allow(dead_code))]
    pub(crate) const COUNT: u32 = Numerics::Torchao as u32 + 1;
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

    /// `a / d`: IEEE division, or in the `Fast` profile the refined reciprocal estimate.
    #[inline(always)]
    fn div<L: Lanes<N>, const N: usize>(a: L, d: L) -> L {
        a / d
    }

    /// `√x`: IEEE square root, or in the `Fast` profile the refined estimate.
    #[inline(always)]
    fn sqrt<L: Lanes<N>, const N: usize>(x: L) -> L {
        x.sqrt()
    }

    /// `p + a/d` (a parameter plus its update): in the `Fast` profile `fma(a, 1/d, p)` with
    /// the refined reciprocal, one rounding fewer and one operation fewer.
    #[inline(always)]
    fn add_div<L: Lanes<N>, const N: usize>(p: L, a: L, d: L) -> L {
        p + Self::div(a, d)
    }
}

/// [`Numerics::Torch`] as a type.
pub(crate) struct Torch;
/// [`Numerics::Portable`] as a type.
pub(crate) struct Portable;

/// [`Numerics::Fast`] as a type: [`Portable`]'s expressions with each multiply-add fused (on
/// FMA builds) and [`crate::fast`]'s division and square root.
pub(crate) struct Fast;

impl Profile for Fast {
    const TORCH: bool = false;
    #[inline(always)]
    fn fma<L: Lanes<N>, const N: usize>(a: L, b: L, c: L) -> L {
        a.mul_add(b, c)
    }
    #[inline(always)]
    fn div<L: Lanes<N>, const N: usize>(a: L, d: L) -> L {
        a * crate::fast::recip(d)
    }
    #[inline(always)]
    fn sqrt<L: Lanes<N>, const N: usize>(x: L) -> L {
        crate::fast::sqrt(x)
    }
    #[inline(always)]
    fn add_div<L: Lanes<N>, const N: usize>(p: L, a: L, d: L) -> L {
        a.mul_add(crate::fast::recip(d), p)
    }
}

impl Profile for Torch {
    const TORCH: bool = true;
}
impl Profile for Portable {
    const TORCH: bool = false;
}

/// Expands `$body` once per profile with the type `$P` bound to it. `Bitsandbytes` runs the
/// `Torch` body: the kernels that accept it differ from `Torch` only in their coefficients,
/// or handle it before this dispatch; the others reject it in their checks. `Fast` runs the
/// `Portable` body here, which only the kernels that reject `Fast` in their checks use; a
/// kernel with a `Fast` form dispatches with the `fast` form of the macro, which expands a
/// third copy.
macro_rules! with_profile {
    (fast $numerics:expr, |$P:ident| $body:expr) => {
        match $numerics {
            $crate::Numerics::Fast => {
                type $P = $crate::numerics::Fast;
                $body
            }
            numerics => $crate::numerics::with_profile!(numerics, |$P| $body),
        }
    };
    ($numerics:expr, |$P:ident| $body:expr) => {
        match $numerics {
            $crate::Numerics::Torch
            | $crate::Numerics::Bitsandbytes
            | $crate::Numerics::Torchao => {
                type $P = $crate::numerics::Torch;
                $body
            }
            $crate::Numerics::Portable | $crate::Numerics::Fast => {
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
///
/// The branch is not stored: a `bool` next to the two f32 made a per-call store-forwarding
/// stall (the pair written as 4 + 1 bytes, read back as 8) in Adam's coefficient setup.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TorchLerp {
    w: f32,
    w_minus_1: f32,
}

impl TorchLerp {
    /// The lerp with weight `c(weight)`.
    pub(crate) fn with_weight(weight: f64) -> Self {
        Self::with_f32(c(weight))
    }

    /// The lerp with the f32 weight `w` (a weight torch computes as an f32 tensor).
    pub(crate) fn with_f32(w: f32) -> Self {
        Self { w, w_minus_1: w - 1.0 }
    }

    /// `lerp(m, x, w)`; fused as in PyTorch when `P` is `Torch`.
    #[inline(always)]
    pub(crate) fn apply<P: Profile, L: Lanes<N>, const N: usize>(&self, m: L, x: L) -> L {
        self.apply_branch::<P, L, N>(self.is_small(), m, x)
    }

    /// Whether `|w| < 0.5` (torch's first branch).
    pub(crate) fn is_small(&self) -> bool {
        self.w.abs() < 0.5
    }

    /// [`TorchLerp::apply`] with the branch given as a [`Flag`] (`small` must equal
    /// [`TorchLerp::is_small`]; a specialised flag takes the branch out of the loop).
    #[inline(always)]
    pub(crate) fn apply_branch<P: Profile, L: Lanes<N>, const N: usize>(
        &self,
        small: impl Flag,
        m: L,
        x: L,
    ) -> L {
        if small.on() {
            P::fma(L::splat(self.w), x - m, m)
        } else {
            P::fma(L::splat(self.w_minus_1), x - m, x)
        }
    }
}

/// A per-call option a kernel's lane body branches on: a run-time `bool` (one loop, with a
/// branch per chunk that the predictor always gets right), or a compile-time [`On`]/[`Off`]
/// made by [`specialize!`] (one loop per value, no branch in it, but one more copy of the
/// loop to compile). Lane bodies take options as `impl Flag` values, so the choice between
/// the two is made at the call site, option by option, where it was measured to pay.
pub(crate) trait Flag: Copy {
    /// The option's value.
    fn on(self) -> bool;
}

impl Flag for bool {
    #[inline(always)]
    fn on(self) -> bool {
        self
    }
}

/// A compile-time `true` ([`specialize!`]).
#[derive(Clone, Copy)]
#[cfg_attr(optkern_unspecialized, allow(dead_code))]
pub(crate) struct On;
/// A compile-time `false` ([`specialize!`]).
#[derive(Clone, Copy)]
#[cfg_attr(optkern_unspecialized, allow(dead_code))]
pub(crate) struct Off;

impl Flag for On {
    #[inline(always)]
    fn on(self) -> bool {
        true
    }
}
impl Flag for Off {
    #[inline(always)]
    fn on(self) -> bool {
        false
    }
}

/// Expands `$body` twice, with `$f` bound to [`On`] and to [`Off`], and runs the copy that
/// matches the run-time `$value`: the option becomes a compile-time constant, so the loop
/// inside `$body` has no branch on it. Each use doubles the loops compiled; use it only where
/// the roofline bench shows it pays.
///
/// Built with `--cfg optkern_unspecialized`, `$f` is the run-time `bool` instead (one copy):
/// that build is how the gain of every specialisation is measured.
macro_rules! specialize {
    ($value:expr, |$f:ident| $body:expr) => {{
        #[cfg(not(optkern_unspecialized))]
        let r = if $value {
            let $f = $crate::numerics::On;
            $body
        } else {
            let $f = $crate::numerics::Off;
            $body
        };
        #[cfg(optkern_unspecialized)]
        let r = {
            let $f: bool = $value;
            $body
        };
        r
    }};
}
pub(crate) use specialize;

/// [`with_profile!`]'s `fast` form with a [`Flag`] `$unit` for `grad_scale = 1` (the lane
/// body then skips the multiply, exact either way): [`specialize!`]d in the Portable and Fast
/// bodies, the run-time `false` in the Torch body (also bitsandbytes' and torchao's). Adagrad's
/// and RMSprop's default loops (Adam matches its profiles itself, the same way): with the
/// multiply gone Portable RMSprop ran a median 9 % faster at 4 Ki on buffers from consecutive
/// `malloc`s (they alias modulo 4 KiB; Adagrad 5 %), and within noise of before on
/// 64-byte-aligned ones (docs/performance.md).
macro_rules! with_unit_scale {
    ($numerics:expr, $scale:expr, |$P:ident, $unit:ident| $body:expr) => {
        match $numerics {
            $crate::Numerics::Fast => {
                type $P = $crate::numerics::Fast;
                $crate::numerics::specialize!($scale == 1.0, |$unit| $body)
            }
            $crate::Numerics::Portable => {
                type $P = $crate::numerics::Portable;
                $crate::numerics::specialize!($scale == 1.0, |$unit| $body)
            }
            $crate::Numerics::Torch
            | $crate::Numerics::Bitsandbytes
            | $crate::Numerics::Torchao => {
                type $P = $crate::numerics::Torch;
                let $unit = false;
                $body
            }
        }
    };
}
pub(crate) use with_unit_scale;

/// `base^t` for a 1-based step count, as the f64 nearest the exact power: the bias
/// corrections `1 − βᵗ` of Adam and its relatives ([`pow_step2`] of `[base, base]`).
#[inline]
pub(crate) fn pow_step(base: f64, t: u32) -> f64 {
    pow_step2([base; 2], t)[0]
}

/// The bias corrections `(1 − β₁ᵗ, 1 − β₂ᵗ)` of a two-moment method, the powers from one
/// [`pow_step2`].
#[inline]
pub(crate) fn bias_corrections(beta1: f64, beta2: f64, step: u32) -> (f64, f64) {
    let [p1, p2] = pow_step2([beta1, beta2], step);
    (1.0 - p1, 1.0 - p2)
}

/// `[b₀ᵗ, b₁ᵗ]` for a 1-based step count, each as the f64 nearest the exact power: the two
/// bias corrections of Adam and its relatives in one pass.
///
/// Compensated exponentiation by squaring (Graillat, Langlois & Louvet's accurate powering):
/// the f64 power `p` is computed as usual while a second chain carries its rounding errors
/// `e`, each product's error taken exactly (Dekker's product, or one fused multiply-subtract
/// where the build has FMA: the same bits), and `fl(p + e)` is returned. The result is as
/// accurate as a power computed in twice f64's precision and rounded once: the correctly
/// rounded `base^t` unless the exact power lies within about 2⁻⁹⁸ (relative) of a rounding
/// boundary. Python's `beta ** step` (what PyTorch uses) is C `pow`, within 0.52 ULP on glibc;
/// `libm::pow` is within 1 ULP and costs about 50 ns, a tenth of a cache-resident 4 Ki-element
/// Adam step. `|base|` must be at most 1 (the betas are in `[0, 1)`), so nothing overflows;
/// powers in the subnormal range lose the error term (immaterial next to the `1 −`).
///
/// Per call this is most of a small step's fixed cost, so it is written for it: the two bases
/// share the lanes of one `f64x2`; the chain of squares runs first, branch-free, for the bit
/// length of `t`; then one product per *set* bit, found with `trailing_zeros` (the textbook
/// loop's branch on each bit of a step count that changes every call was mispredicted). On
/// the Xeon, native build, an Adam call on an empty slice went from 113 to 79 ns for steps
/// up to 4 Mi and from 56 to 37 ns for steps cycling 1..1000. Every product is formed and
/// rounded as the textbook loop forms it (`tests` keeps that loop and compares bits).
pub(crate) fn pow_step2(base: [f64; 2], t: u32) -> [f64; 2] {
    // The table of squares is sized for the step: 12 and 16 slots cover the first 4095 and
    // 65,535 steps with a few inline stores (a zeroed 32-slot table, 1 KiB, was a `memset`
    // call per step: 14 ns of a 16-element Adam call at step 1000, 35 ns at step 30,000).
    if t < 1 << 12 {
        pow_step2_slots::<12>(base, t)
    } else if t < 1 << 16 {
        pow_step2_slots::<16>(base, t)
    } else {
        pow_step2_slots::<32>(base, t)
    }
}

/// [`pow_step2`] with a table of `S` squares: `t` below `2^S`.
#[inline(always)]
fn pow_step2_slots<const S: usize>(base: [f64; 2], t: u32) -> [f64; 2] {
    debug_assert!(base.iter().all(|b| b.abs() <= 1.0));
    debug_assert!(S >= 32 || t >> S == 0);
    // The squares base^(2^k) with their errors, for every bit of t (an underflowed square, 0,
    // makes every later product 0, error terms included, so the result is +0 as the rounded
    // exact power is: no special case needed).
    // Slots from `bits` on are never read. Filled with (1, 0), not zeros: a fill that is not one
    // repeated byte cannot become a `memset` call.
    let mut squares = [(f64x2::ONE, f64x2::ZERO); S];
    let (mut sq, mut sq_err) = (f64x2::new(base), f64x2::ZERO);
    let bits = (u32::BITS - t.leading_zeros()) as usize;
    for slot in squares.iter_mut().take(bits) {
        *slot = (sq, sq_err);
        let (p, err) = two_prod(sq, sq);
        sq_err = err + f64x2::splat(2.0) * sq * sq_err;
        sq = p;
    }
    // The running result and its error: multiplied by the square of each set bit, low to high.
    let (mut acc, mut acc_err) = (f64x2::ONE, f64x2::ZERO);
    let mut rest = t;
    while rest != 0 {
        let (sq, sq_err) = squares[rest.trailing_zeros() as usize % S];
        let (p, err) = two_prod(acc, sq);
        acc_err = err + (acc * sq_err + sq * acc_err);
        acc = p;
        rest &= rest - 1;
    }
    (acc + acc_err).to_array()
}

/// `(a·b, e)` with `a·b + e` the exact product, lane by lane (`|a|, |b| ≤ 2⁹⁹⁶`): one fused
/// multiply-subtract on builds with FMA, Dekker's splitting otherwise. Both give the exact
/// error, so the same bits; the fused form shortens [`pow_step2`]'s dependency chain.
#[inline(always)]
fn two_prod(a: f64x2, b: f64x2) -> (f64x2, f64x2) {
    let p = a * b;
    if FUSED_F64 {
        // `wide` fuses `mul_sub` exactly when FUSED_F64 holds.
        (p, a.mul_sub(b, p))
    } else {
        two_prod_dekker(a, b)
    }
}

/// Whether `wide::f64x2::mul_sub` is one fused operation on this build (`wide`'s condition).
const FUSED_F64: bool =
    cfg!(any(target_feature = "fma", all(target_feature = "neon", target_arch = "aarch64")));

/// Dekker's exact product (Veltkamp splitting into 26-bit halves), lane by lane.
#[inline(always)]
fn two_prod_dekker(a: f64x2, b: f64x2) -> (f64x2, f64x2) {
    fn split(x: f64x2) -> (f64x2, f64x2) {
        let c = f64x2::splat(134_217_729.0) * x; // 2²⁷ + 1
        let hi = c - (c - x);
        (hi, x - hi)
    }
    let p = a * b;
    let ((ah, al), (bh, bl)) = (split(a), split(b));
    (p, ((ah * bh - p) + ah * bl + al * bh) + al * bl)
}

#[cfg(test)]
mod tests {
    use super::{f64x2, pow_step, pow_step2, two_prod, two_prod_dekker};

    /// The textbook compensated powering, one base, a branch per bit, scalar Dekker products:
    /// the algorithm [`pow_step2`] must reproduce bit for bit.
    fn pow_textbook(base: f64, mut t: u32) -> f64 {
        fn two_prod(a: f64, b: f64) -> (f64, f64) {
            let split = |x: f64| {
                let c = 134_217_729.0 * x;
                let hi = c - (c - x);
                (hi, x - hi)
            };
            let p = a * b;
            let ((ah, al), (bh, bl)) = (split(a), split(b));
            (p, ((ah * bh - p) + ah * bl + al * bh) + al * bl)
        }
        let (mut acc, mut acc_err, mut sq, mut sq_err) = (1.0, 0.0, base, 0.0);
        let mut first = true;
        while t != 0 {
            if !first {
                let (p, err) = two_prod(sq, sq);
                sq_err = err + 2.0 * sq * sq_err;
                sq = p;
            }
            first = false;
            if t & 1 == 1 {
                let (p, err) = two_prod(acc, sq);
                acc_err = err + (acc * sq_err + sq * acc_err);
                acc = p;
            }
            t >>= 1;
        }
        acc + acc_err
    }

    /// Both lanes of the masked two-base loop equal the textbook loop of their base, for the
    /// betas in use, random bases and steps of every bit length (each lane with a different
    /// base, so a lane mix-up shows). Below `TINY` (2⁻⁹⁰⁰) the products' errors fall into the
    /// subnormal range, where Dekker's product (the textbook's) and the fused one of FMA builds
    /// may differ: such powers are only ever combined with `1` or with `β ≫ βᵗ`, which
    /// absorb them, and are only checked to stay tiny.
    #[test]
    fn pow_step2_is_the_textbook_loop() {
        const TINY: f64 = 1.2e-271; // 2⁻⁹⁰⁰ ≈ 1.18e-271
        let mut s = 0x2545_F491_4F6C_DD1Du64;
        let fixed = [0.0, 0.5, 0.9, 0.95, 0.99, 0.999, 0.9999, -0.9, 1.0, -1.0];
        let bases: [f64; 310] = core::array::from_fn(|i| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            // In [0, 1), and for odd i within 2^-(i mod 30) of 1 (powers that stay normal).
            let u = (s >> 11) as f64 / (1u64 << 53) as f64;
            let b = if i % 2 == 1 { 1.0 - u / f64::from(1u32 << (i % 30)) } else { u };
            fixed.get(i).copied().unwrap_or(b)
        });
        let mut checked = 0;
        for (i, &b0) in bases.iter().enumerate() {
            let b1 = bases[(i * 7 + 3) % bases.len()];
            // Random steps of every bit length, then the edges of pow_step2's table sizes.
            let edges = [4095, 4096, 65535, 65536];
            for k in 0..=32 + edges.len() {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                let t = match k {
                    0..32 => (s as u32) >> (31 - k),
                    32 => u32::MAX,
                    _ => edges[k - 33],
                };
                let [p0, p1] = pow_step2([b0, b1], t);
                for (b, p) in [(b0, p0), (b1, p1)] {
                    let want = pow_textbook(b, t);
                    if want.abs() < TINY {
                        assert!(p.abs() < TINY, "{b}^{t}: {p:e}");
                    } else {
                        assert_eq!(p.to_bits(), want.to_bits(), "{b}^{t}");
                        checked += 1;
                    }
                }
                assert_eq!(pow_step(b1, t).to_bits(), p1.to_bits(), "{b1}^{t} alone");
            }
        }
        assert!(checked > 10_000);
    }

    /// The build's product error (fused where it has FMA) is Dekker's, bit for bit, on
    /// full-width mantissas of every sign and a wide range of exponents.
    #[test]
    fn two_prod_is_dekkers_product() {
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..200_000 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let a = f64::from_bits((s & 0x800F_FFFF_FFFF_FFFF) | (((s >> 52) % 1200 + 400) << 52));
            let b = f64::from_bits(s.rotate_left(29) & 0x800F_FFFF_FFFF_FFFF | (1000 << 52));
            let (p, e) = two_prod(f64x2::splat(a), f64x2::new([b, -b]));
            let (pd, ed) = two_prod_dekker(f64x2::splat(a), f64x2::new([b, -b]));
            let bits = |x: f64x2| x.to_array().map(f64::to_bits);
            assert_eq!((bits(p), bits(e)), (bits(pd), bits(ed)), "{a:e} × {b:e}");
        }
    }

    /// Dyadic bases `a / 2ˢ` whose powers are exact in `u128`: `aᵗ` is an integer and
    /// `u128 as f64` rounds to nearest-even, so the expected value is the correctly rounded
    /// power.
    #[test]
    fn pow_step_is_correctly_rounded_on_exact_powers() {
        let mut checked = 0;
        for s in [8u32, 12, 20, 27, 32, 42, 53] {
            for k in 0..50u64 {
                // Odd numerators spread over [2^(s−1), 2^s): full-width mantissas.
                let a =
                    (1u64 << (s - 1)) | ((k.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (65 - s)) | 1);
                for t in 1..=128 / s {
                    let exact =
                        (a as u128).pow(t) as f64 * f64::from_bits(u64::from(1023 - s * t) << 52);
                    let base = a as f64 / (1u64 << s) as f64;
                    assert_eq!(pow_step(base, t).to_bits(), exact.to_bits(), "{base}^{t}");
                    checked += 1;
                }
            }
        }
        assert!(checked > 1000);
    }

    /// Within one ULP of `libm::pow` (itself within one ULP) for the betas in use, wherever the
    /// power is a normal number (subnormal powers carry no error term; they only ever meet
    /// `1 − βᵗ`).
    #[test]
    fn pow_step_agrees_with_libm_pow() {
        for beta in [0.0, 0.5, 0.9, 0.95, 0.98, 0.99, 0.999, 0.9999, 0.123456789] {
            for t in (1..2000).chain([10_000, 65_535, 1 << 20, u32::MAX]) {
                let (ours, libm) = (pow_step(beta, t), libm::pow(beta, f64::from(t)));
                if libm < f64::MIN_POSITIVE {
                    assert!(ours < f64::MIN_POSITIVE, "{beta}^{t}");
                    continue;
                }
                assert!((ours.to_bits() as i64 - libm.to_bits() as i64).abs() <= 1, "{beta}^{t}");
            }
        }
        assert_eq!(pow_step(0.9, 0), 1.0);
    }
}
