//! The shared skeleton of an element-wise optimizer: a [`Rule`] is its equations over one chunk
//! of lanes; everything else — cutting the slices into chunks, the padded tail, the widths, the
//! two profiles, the length checks, the mixed storage formats and the public entry points — is
//! written once, here and in [`rule_step!`].
//!
//! A new element-wise optimizer is therefore three things (see `src/optim/adaptive/adopt.rs`):
//! its `#[repr(C)]` config with documented defaults; a coefficient struct built once per call
//! in f64 (validation, bias corrections, `c(·)` rounding); and `impl Rule` — the update of one
//! chunk, written with the shared parts below ([`Ema`], [`ema_product`], [`WeightDecay`],
//! `Lanes::sign`, …). The composition compiles to one fused pass: every buffer is loaded once,
//! the rule's lanes run, every buffer is stored once.

use crate::Numerics;
use crate::driver::{Arity, Count, for_each_chunk};
use crate::format::Elementwise;
use crate::lanes::Lanes;
use crate::numerics::{Profile, TorchLerp, c, with_profile};
use crate::width::with_width;
use crate::{Error, Width, validate};

pub(crate) use crate::optim::WeightDecay;

/// One element-wise optimizer step with its per-call coefficients: `M` buffers are read and
/// written (the parameters first, then the state buffers in argument order), the gradient is
/// read.
pub(crate) trait Rule<const M: usize>: Sync {
    /// The profile of this call ([`Numerics::Bitsandbytes`] is refused by the checks).
    fn numerics(&self) -> Numerics;

    /// The multiplier of the raw gradient (`±grad_scale`, and any clipping factor).
    fn scale(&self) -> f32;

    /// One chunk: `x[0]` the parameters, `x[1..]` the state, all updated in place; `g` the
    /// gradient already multiplied by [`Rule::scale`].
    fn lanes<P: Profile, L: Lanes<N>, const N: usize>(&self, x: &mut [L; M], g: L);
}

/// Runs `rule` over `M` equal-length buffers and the gradient: one pass, every buffer loaded and
/// stored once per chunk.
#[inline(never)]
pub(crate) fn run_rule<R: Rule<M>, const M: usize>(
    rule: &R,
    width: Width,
    outs: [&mut [f32]; M],
    grads: &[f32],
) where
    Count<M>: Arity<M>,
{
    let scale = rule.scale();
    with_width!(width, |L, N| with_profile!(rule.numerics(), |P| {
        for_each_chunk::<N, M, 1>(
            outs,
            [grads],
            #[inline(always)]
            |o, [g]| {
                let mut x: [L; M] = core::array::from_fn(|k| L::load(o[k]));
                rule.lanes::<P, L, N>(&mut x, L::load(g) * L::splat(scale));
                for (v, d) in x.into_iter().zip(o) {
                    v.store(d);
                }
            },
        )
    }))
}

impl<R: Rule<M>, const M: usize> Elementwise<M, 1> for R
where
    Count<M>: Arity<M>,
{
    fn used(&self) -> [bool; M] {
        [true; M]
    }

    fn run(&self, width: Width, outs: [&mut [f32]; M], [grads]: [&[f32]; 1]) {
        run_rule(self, width, outs, grads)
    }
}

/// A rule whose buffers after the first `S` are optional (AMSGrad's running maximum, the
/// momentum buffers of a method whose momentum may be 0): `R` implements [`Rule`] both with all
/// `M` buffers and with the first `S`, and `all` says which this call uses. Unused buffers may
/// be empty and are never touched.
pub(crate) struct Trailing<R, const S: usize> {
    pub(crate) rule: R,
    pub(crate) all: bool,
}

macro_rules! trailing {
    ($($m:literal => $s:literal: [$($x:ident),*] [$($y:ident),*];)*) => {$(
        impl<R: Rule<$m> + Rule<$s>> Elementwise<$m, 1> for Trailing<R, $s> {
            fn used(&self) -> [bool; $m] {
                [$(trailing!(@true $x),)* $(trailing!(@all self, $y)),*]
            }

            fn run(&self, width: Width, [$($x,)* $($y),*]: [&mut [f32]; $m], [g]: [&[f32]; 1]) {
                if self.all {
                    run_rule::<R, $m>(&self.rule, width, [$($x,)* $($y),*], g)
                } else {
                    $(let _ = $y;)*
                    run_rule::<R, $s>(&self.rule, width, [$($x),*], g)
                }
            }
        }
    )*};
    (@true $x:ident) => { true };
    (@all $self:ident, $y:ident) => { $self.all };
}
trailing! {
    2 => 1: [a] [b];
    3 => 2: [a, b] [c];
    4 => 3: [a, b, c] [d];
    5 => 4: [a, b, c, d] [e];
    4 => 1: [a] [b, c, d];
}

/// The length checks of a call: `grads` and every used buffer as long as `params`
/// (`lens[0]`); an unused optional buffer may also be empty.
pub(crate) fn check_lens<const M: usize>(
    names: [&'static str; M],
    lens: [usize; M],
    used: [bool; M],
    grads: usize,
) -> Result<(), Error> {
    let n = lens[0];
    validate::len("grads", n, grads)?;
    for ((name, len), used) in names.into_iter().zip(lens).zip(used).skip(1) {
        validate::optional_len(name, used, n, len)?;
    }
    Ok(())
}

/// The public entry points of a [`Rule`] kernel: `$name` (native width), the doc-hidden
/// `$name_with` (explicit width) and, through [`mixed_step!`](crate::optim::mixed_step), the
/// mixed-format pair. `checked` gets the lengths (mutable buffers, then `grads`) and returns
/// the kernel after every check, before any write; `then` runs after a successful step (the
/// caller-owned scalar state).
macro_rules! rule_step {
    (
        $(#[$doc:meta])*
        pub fn $name:ident / $with:ident / $mixed:ident / $mixed_with:ident
        ($params:ident, $grads:ident $(, $state:ident)* $(; $($extra:ident: $ety:ty),*)?),
        checked: |$lens:ident, $glen:ident| $checked:expr
        $(, then: |$k:ident| $then:expr)? $(,)?
    ) => {
        $(#[$doc])*
        #[allow(clippy::too_many_arguments)]
        pub fn $name(
            $params: &mut [f32],
            $grads: &[f32],
            $($state: &mut [f32],)*
            $($($extra: $ety,)*)?
        ) -> Result<(), $crate::Error> {
            $with($crate::Width::NATIVE, $params, $grads, $($state,)* $($($extra,)*)?)
        }

        #[doc = concat!("[`", stringify!($name), "`] at an explicit lane width (tests, benches).")]
        #[doc(hidden)]
        #[allow(clippy::too_many_arguments)]
        pub fn $with(
            width: $crate::Width,
            $params: &mut [f32],
            $grads: &[f32],
            $($state: &mut [f32],)*
            $($($extra: $ety,)*)?
        ) -> Result<(), $crate::Error> {
            let $lens = [$params.len() $(, $state.len())*];
            let $glen = [$grads.len()];
            let k = $checked?;
            $crate::format::Elementwise::run(&k, width, [$params $(, $state)*], [$grads]);
            $(let $k = k; $then;)?
            Ok(())
        }

        $crate::optim::mixed_step! {
            #[doc = concat!("[`", stringify!($name), "`] in mixed storage formats ([`crate::format`]).")]
            ///
            /// # Errors
            #[doc = concat!("As [`", stringify!($name), "`], and the format errors of")]
            /// [`crate::adam_step_mixed`]. **Nothing is written when an error is returned.**
            $mixed, $mixed_with,
            ($params, $grads $(, $state)* $(; $($extra: $ety),*)?),
            checked: |$lens, $glen| $checked
            $(, then: |$k| $then)?
        }
    };
}
pub(crate) use rule_step;

/// An exponential moving average `m ← β·m + (1 − β)·x`: torch's `lerp(m, x, c(1 − β))`
/// (PyTorch's fused form, both branches) in `Torch`, `c(β)·m + c(1 − β)·x` in `Portable`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ema {
    lerp: TorchLerp,
    /// The f32 weight of the old average (`c(β)`, or `c(1 − w)` for [`Ema::toward`]).
    keep: f32,
    /// The f32 weight of the new value (`c(1 − β)`, or `c(w)`).
    take: f32,
}

impl Ema {
    /// The average with decay `β` (f64, rounded once per coefficient).
    pub(crate) fn with_beta(beta: f64) -> Self {
        Self { lerp: TorchLerp::with_weight(1.0 - beta), keep: c(beta), take: c(1.0 - beta) }
    }

    /// The move towards `x` by the weight `w`: torch's `lerp(m, x, c(w))`, Portable
    /// `c(1 − w)·m + c(w)·x` with `1 − w` given by the caller as its package writes it (`α` for
    /// `1 − (1 − α)`: the f64 round trip of [`Ema::with_beta`] can change the f32 weight).
    pub(crate) fn toward(w: f64, one_minus_w: f64) -> Self {
        Self { lerp: TorchLerp::with_weight(w), keep: c(one_minus_w), take: c(w) }
    }

    /// The average towards `x` with an f32 weight `w` computed as the package computes it (a
    /// 0-dim f32 tensor): `lerp(m, x, w)`; Portable `(1 − w)·m + w·x` with `1 − w` in f32.
    pub(crate) fn with_weight_f32(w: f32) -> Self {
        Self { lerp: TorchLerp::with_f32(w), keep: 1.0 - w, take: w }
    }

    /// bitsandbytes' average (its 8-bit CPU step): `fma(x, c(1 − β), m·c(β))`.
    #[inline(always)]
    pub(crate) fn apply_bnb<P: Profile, L: Lanes<N>, const N: usize>(&self, m: L, x: L) -> L {
        P::fma(x, L::splat(self.take), m * L::splat(self.keep))
    }

    /// `β·m + (1 − β)·x`.
    #[inline(always)]
    pub(crate) fn apply<P: Profile, L: Lanes<N>, const N: usize>(&self, m: L, x: L) -> L {
        if P::TORCH {
            self.lerp.apply::<P, L, N>(m, x)
        } else {
            m * L::splat(self.keep) + x * L::splat(self.take)
        }
    }
}

/// `p ← lerp(p, x, w)` over one buffer towards another (the "gradient" slot): schedule-free's
/// moves between `y` and `x`, Lookahead's synchronisation.
pub(crate) struct Toward {
    pub(crate) ema: Ema,
    pub(crate) numerics: Numerics,
}

impl Rule<1> for Toward {
    fn numerics(&self) -> Numerics {
        self.numerics
    }
    fn scale(&self) -> f32 {
        1.0
    }
    #[inline(always)]
    fn lanes<P: Profile, L: Lanes<N>, const N: usize>(&self, [p]: &mut [L; 1], x: L) {
        *p = self.ema.apply::<P, L, N>(*p, x);
    }
}

/// `v·c(β) + c(1 − β)·x·y`, torch's `v.mul_(β).addcmul_(x, y, value=1 − β)`:
/// `fma(c(1 − β)·x, y, v·c(β))` in `Torch`, unfused in `Portable`. `(β, 1 − β)` as f32.
#[inline(always)]
pub(crate) fn ema_product<P: Profile, L: Lanes<N>, const N: usize>(
    (beta, one_minus_beta): (f32, f32),
    v: L,
    x: L,
    y: L,
) -> L {
    P::fma(L::splat(one_minus_beta) * x, y, v * L::splat(beta))
}

/// `(c(β), c(1 − β))` for [`ema_product`].
pub(crate) fn ema_pair(beta: f64) -> (f32, f32) {
    (c(beta), c(1.0 - beta))
}

/// `p·c(factor) + …`: the decoupled decay of pytorch_optimizer's `fixed_decay` (`1 − λ`)
/// as well as the usual `1 − η·λ`: [`WeightDecay`] with the factor chosen by the caller.
pub(crate) fn decay(lr: f64, weight_decay: f64, decoupled: bool, fixed: bool) -> WeightDecay {
    match WeightDecay::from_config(lr, weight_decay, decoupled) {
        WeightDecay::Decoupled(_) if fixed => WeightDecay::Decoupled(c(1.0 - weight_decay)),
        d => d,
    }
}

/// `clamp(x, lo, hi)` as `torch.clamp`: NaN stays NaN.
#[inline(always)]
pub(crate) fn clamp<L: Lanes<N>, const N: usize>(x: L, lo: f32, hi: f32) -> L {
    min_nan(x.max_nan(L::splat(lo)), L::splat(hi))
}

/// NaN-propagating minimum (`torch.minimum`).
#[inline(always)]
pub(crate) fn min_nan<L: Lanes<N>, const N: usize>(a: L, b: L) -> L {
    -((-a).max_nan(-b))
}

/// RAdam's rectification as pytorch_optimizer computes it (`get_rectify_step_size`, f64):
/// `ρ∞ = 2/(1 − β₂) − 1`, `ρₜ = ρ∞ − 2tβ₂ᵗ/(1 − β₂ᵗ)`; for `ρₜ ≥ 5`
/// `r = √((1 − β₂ᵗ)·(ρₜ − 4)/(ρ∞ − 4)·(ρₜ − 2)/ρₜ·ρ∞/(ρ∞ − 2))`, else `1` (`degenerated`, an
/// SGD step) or `−1`. Returns `(r, ρₜ ≥ 5)`.
pub(crate) fn rectifier(beta2: f64, step: u32, degenerated: bool) -> (f64, bool) {
    let bt = crate::numerics::pow_step(beta2, step);
    let rho_inf = 2.0 / (1.0 - beta2) - 1.0;
    let rho = rho_inf - 2.0 * f64::from(step) * bt / (1.0 - bt);
    if rho >= 5.0 {
        let r = (1.0 - bt) * (rho - 4.0) / (rho_inf - 4.0) * (rho - 2.0) / rho * rho_inf
            / (rho_inf - 2.0);
        (libm::sqrt(r), true)
    } else {
        (if degenerated { 1.0 } else { -1.0 }, false)
    }
}

/// The logistic function `1/(1 + e^(−x))` per lane for `x ≥ 0` or NaN (diffGrad's friction
/// of `|g₋ − g|`), in lane arithmetic: the same bits at every width and on every build (no
/// `mul_add`, no library call; `libm::expf` per element cost 2 ns). `x` is clamped to 20
/// (beyond it `e^(−x) < 2⁻²⁸` and the result rounds to 1 either way); `k = round(x/ln 2)` by
/// the `1.5·2²³` addition, `r = x − k·ln 2` (ln 2 in two parts, Cody–Waite: `k·ln2_hi` is
/// exact), `e^(−x) = 2^(−k)·e^(−r)` with `e^(−r)` its Taylor polynomial of degree 7 on
/// `|r| ≤ ln2/2` (truncation below 2⁻²⁷). Within 1.5 ulp of the true value, 1.49 at worst
/// (`sigmoid_is_within_one_and_a_half_ulp`), as `1/(1 + libm::expf(−x))` was: the final
/// addition and division dominate.
#[inline(always)]
pub(crate) fn sigmoid<L: Lanes<N>, const N: usize>(x: L) -> L {
    const ROUND: f32 = 12_582_912.0; // 1.5·2²³: adding it rounds to an integer
    const LN2_HI: f32 = 0.693_145_75; // 0x3F317200, 16 significant bits
    const LN2_LO: f32 = 1.428_606_8e-6; // 0x35BFBE8E, ln 2 − LN2_HI
    let limit = L::splat(20.0);
    let x = L::select(x.gt(limit), limit, x);
    let t = x * L::splat(core::f32::consts::LOG2_E) + L::splat(ROUND);
    let k = t - L::splat(ROUND);
    let r = (x - k * L::splat(LN2_HI)) - k * L::splat(LN2_LO);
    // e^(−r) = Σₙ (−r)ⁿ/n!, n ≤ 7, by Horner.
    let s = -r;
    let mut p = L::splat(1.0 / 5040.0);
    for c in [1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
        p = p * s + L::splat(c);
    }
    // 2^(−k) for the integer k in [0, 29]: k is the low bits of t (`bits(t) = bits(ROUND) +
    // k`), so its exponent field is `127 + bits(ROUND) − bits(t)` (a NaN's is garbage, but p is
    // NaN already).
    let mut scale = t.to_array();
    for v in &mut scale {
        *v = f32::from_bits((0x4B40_007F_u32.wrapping_sub(v.to_bits())) << 23);
    }
    let one = L::splat(1.0);
    one / (one + p * L::load(&scale))
}

#[cfg(test)]
mod tests {
    use super::sigmoid;
    use std::vec::Vec;

    /// Within 1.5 ulp of the f64 logistic function on a fine sweep of [0, 30] (every rounding
    /// of `k`, the clamp at 20) and the binades of small arguments, widths 1 and 16 alike;
    /// NaN stays NaN, +∞ gives 1.
    #[test]
    fn sigmoid_is_within_one_and_a_half_ulp() {
        let mut xs: Vec<f32> = (0..=300_000).map(|i| i as f32 * 1e-4).collect();
        xs.extend((-149..0).map(|e| 2f32.powi(e)));
        xs.extend([0.346_573_6, 0.346_573_6f32.next_up(), 20.0f32.next_down(), 20.0, 1e30]);
        let worst = crate::lanes::worst_ulp(
            &xs,
            sigmoid::<f32, 1>,
            sigmoid::<wide::f32x16, 16>,
            |x| 1.0 / (1.0 + (-x).exp()),
            1.5,
        );
        assert!(worst > 0.3, "{worst}: the sweep no longer reaches a rounding case");
        assert_eq!(sigmoid::<f32, 1>(f32::INFINITY), 1.0);
        assert!(sigmoid::<f32, 1>(f32::NAN).is_nan());
    }
}
