//! Adadelta (`torch.optim.Adadelta`).

use crate::driver::for_each_chunk;
use crate::format::Elementwise;
use crate::lanes::Lanes;
use crate::numerics::{Numerics, Profile, c, with_profile};
use crate::optim::{mixed_step, signed_scale};
use crate::width::with_width;
use crate::{Error, Width, validate};

/// Hyperparameters of [`adadelta_step`]. [`Default`] is `torch.optim.Adadelta`'s.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct AdadeltaConfig {
    /// Learning rate `η` (scales the final delta). Default `1.0`; finite, ≥ 0.
    pub lr: f64,
    /// Decay `ρ`. Default `0.9`; finite, in `[0, 1]`.
    pub rho: f64,
    /// `ε`, inside both square roots. Default `1e-6`; finite, ≥ 0.
    pub eps: f64,
    /// L2 weight decay `λ`. Default `0`; finite, ≥ 0.
    pub weight_decay: f64,
    /// Maximize the objective (negate the gradient first). Default `false`.
    pub maximize: bool,
    /// Multiplier `s` applied to the gradient first. Default `1` (exact); finite, ≥ 0.
    pub grad_scale: f32,
    /// Operation order. Default [`Numerics::Torch`].
    pub numerics: Numerics,
}

impl Default for AdadeltaConfig {
    fn default() -> Self {
        Self {
            lr: 1.0,
            rho: 0.9,
            eps: 1e-6,
            weight_decay: 0.0,
            maximize: false,
            grad_scale: 1.0,
            numerics: Numerics::Torch,
        }
    }
}

struct Coef {
    scale: f32,
    weight_decay: Option<f32>,
    rho: f32,
    one_minus_rho: f32,
    eps: f32,
    neg_lr: f32,
    numerics: Numerics,
}

impl Coef {
    #[inline(always)]
    fn from_config(cfg: &AdadeltaConfig) -> Result<Self, Error> {
        validate::numerics(cfg.numerics, &[Numerics::Fast])?;
        let lr = validate::non_negative("lr", cfg.lr)?;
        let rho = validate::unit_closed("rho", cfg.rho)?;
        let eps = validate::non_negative("eps", cfg.eps)?;
        let weight_decay = validate::non_negative("weight_decay", cfg.weight_decay)?;
        let scale = signed_scale(cfg.grad_scale, cfg.maximize)?;
        Ok(Self {
            scale,
            weight_decay: (weight_decay != 0.0).then(|| c(weight_decay)),
            rho: c(rho),
            one_minus_rho: c(1.0 - rho),
            eps: c(eps),
            neg_lr: c(-lr),
            numerics: cfg.numerics,
        })
    }
    /// Every check of a call with these lengths (`params`, `square_avg`, `acc_delta`; `grads`).
    #[inline(always)]
    fn checked(
        [n, l1, l2]: [usize; 3],
        [i0]: [usize; 1],
        cfg: &AdadeltaConfig,
    ) -> Result<Self, Error> {
        validate::len("grads", n, i0)?;
        validate::len("square_avg", n, l1)?;
        validate::len("acc_delta", n, l2)?;
        Self::from_config(cfg)
    }
}

impl Elementwise<3, 1> for Coef {
    fn used(&self) -> [bool; 3] {
        [true; 3]
    }

    #[inline(never)]
    fn run(
        &self,
        width: Width,
        [params, square_avg, acc_delta]: [&mut [f32]; 3],
        [grads]: [&[f32]; 1],
    ) {
        let k = self;
        with_width!(width, |L, N| with_profile!(fast k.numerics, |P| {
            for_each_chunk::<N, 3, 1>(
                [params, square_avg, acc_delta],
                [grads],
                #[inline(always)]
                |[p, sq, acc], [g]| adadelta_lanes::<L, N, P>(k, p, g, sq, acc),
            )
        }));
    }
}

/// Adadelta (Zeiler 2012; `torch.optim.Adadelta`): updates `params`, `square_avg` and
/// `acc_delta` in place (torch's state names).
///
/// For every index `i`, with `s = grad_scale`:
/// ```text
/// g ← s·grads[i] (+ λ·θ[i])                 (−s·grads[i] with maximize)
/// sq ← ρ·sq + (1 − ρ)·g²
/// Δ = √(acc + ε) / √(sq + ε) · g
/// acc ← ρ·acc + (1 − ρ)·Δ²
/// θ ← θ − η·Δ
/// ```
/// [`Numerics::Torch`]: `sq = fma(c(1−ρ)·g, g, sq·c(ρ))`, `Δ = (√(acc+c(ε)) / √(sq+c(ε)))·g`,
/// `acc = fma(c(1−ρ)·Δ, Δ, acc·c(ρ))`, `θ = fma(c(−η), Δ, θ)`. [`Numerics::Portable`] takes one
/// square root: `Δ = √((acc+ε)/(sq+ε))·g`.
///
/// # Errors
/// [`Error::LengthMismatch`] if `grads`, `square_avg` or `acc_delta` differ in length from
/// `params`; [`Error::InvalidHyperparameter`] for a NaN, infinite or out-of-range field.
/// **Nothing is written when an error is returned.**
pub fn adadelta_step(
    params: &mut [f32],
    grads: &[f32],
    square_avg: &mut [f32],
    acc_delta: &mut [f32],
    cfg: &AdadeltaConfig,
) -> Result<(), Error> {
    adadelta_step_with(Width::NATIVE, params, grads, square_avg, acc_delta, cfg)
}

/// [`adadelta_step`] at an explicit lane width (for tests and benches).
#[doc(hidden)]
pub fn adadelta_step_with(
    width: Width,
    params: &mut [f32],
    grads: &[f32],
    square_avg: &mut [f32],
    acc_delta: &mut [f32],
    cfg: &AdadeltaConfig,
) -> Result<(), Error> {
    let k = Coef::checked([params.len(), square_avg.len(), acc_delta.len()], [grads.len()], cfg)?;
    k.run(width, [params, square_avg, acc_delta], [grads]);
    Ok(())
}

mixed_step! {
    /// [`adadelta_step`] in mixed storage formats ([`crate::format`]).
    ///
    /// # Errors
    /// As [`adadelta_step`], and the format errors of [`crate::adam_step_mixed`]. **Nothing is written
    /// when an error is returned.**
    adadelta_step_mixed, adadelta_step_mixed_with,
    (params, grads, square_avg, acc_delta; cfg: &AdadeltaConfig),
    checked: |o, i| Coef::checked(o, i, cfg),
}

#[inline(always)]
fn adadelta_lanes<L: Lanes<N>, const N: usize, P: Profile>(
    k: &Coef,
    p: &mut [f32; N],
    g: &[f32; N],
    sq: &mut [f32; N],
    acc: &mut [f32; N],
) {
    let param = L::load(p);
    let mut g = L::load(g) * L::splat(k.scale);
    if let Some(wd) = k.weight_decay {
        g = P::fma(L::splat(wd), param, g);
    }
    let eps = L::splat(k.eps);
    let s = P::fma(L::splat(k.one_minus_rho) * g, g, L::load(sq) * L::splat(k.rho));
    s.store(sq);
    let a = L::load(acc);
    let delta = if P::TORCH {
        ((a + eps).sqrt() / (s + eps).sqrt()) * g
    } else {
        P::sqrt(P::div(a + eps, s + eps)) * g
    };
    P::fma(L::splat(k.one_minus_rho) * delta, delta, a * L::splat(k.rho)).store(acc);
    P::fma(L::splat(k.neg_lr), delta, param).store(p);
}
