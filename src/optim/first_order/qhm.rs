//! Quasi-hyperbolic momentum (Ma & Yarats 2019, "Quasi-hyperbolic momentum and Adam for deep
//! learning"), as `pytorch_optimizer.QHM` 4.1 computes it.

use crate::lanes::Lanes;
use crate::numerics::{Numerics, Profile, c};
use crate::optim::rule::{Ema, Rule, WeightDecay, check_lens, decay, rule_step};
use crate::optim::signed_scale;
use crate::{Error, validate};

/// Hyperparameters of [`qhm_step`]. [`Default`] is `pytorch_optimizer.QHM`'s.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct QhmConfig {
    /// Learning rate `η`. Default `1e-3`; finite, ≥ 0.
    pub lr: f64,
    /// Momentum `μ` (`β` in the paper). Default `0`; finite, in `[0, 1)`.
    pub momentum: f64,
    /// `ν`, the weight of the momentum against the plain gradient. Default `1`; finite, in
    /// `[0, 1]`.
    pub nu: f64,
    /// Weight decay `λ`. Default `0`; finite, ≥ 0.
    pub weight_decay: f64,
    /// Decoupled decay `θ ← θ·(1 − ηλ)` instead of L2 `g ← g + λθ`. Default `false`.
    pub weight_decouple: bool,
    /// With `weight_decouple`: `θ ← θ·(1 − λ)`. Default `false`.
    pub fixed_decay: bool,
    /// Maximize the objective (negate the gradient first). Default `false`.
    pub maximize: bool,
    /// Multiplier `s` applied to the gradient first. Default `1` (exact); finite, ≥ 0.
    pub grad_scale: f32,
    /// Operation order. Default [`Numerics::Torch`] (the package's).
    pub numerics: Numerics,
}

impl Default for QhmConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            momentum: 0.0,
            nu: 1.0,
            weight_decay: 0.0,
            weight_decouple: false,
            fixed_decay: false,
            maximize: false,
            grad_scale: 1.0,
            numerics: Numerics::Torch,
        }
    }
}

struct Coef {
    scale: f32,
    decay: WeightDecay,
    ema: Ema,
    neg_lr_nu: f32,
    neg_lr_rest: f32,
    numerics: Numerics,
}

impl Coef {
    #[inline(always)]
    fn checked(lens: [usize; 2], [g]: [usize; 1], cfg: &QhmConfig) -> Result<Self, Error> {
        check_lens(["params", "momentum_buffer"], lens, [true; 2], g)?;
        validate::numerics(cfg.numerics, &[])?;
        let lr = validate::non_negative("lr", cfg.lr)?;
        let momentum = validate::unit_half_open("momentum", cfg.momentum)?;
        let nu = validate::unit_closed("nu", cfg.nu)?;
        let weight_decay = validate::non_negative("weight_decay", cfg.weight_decay)?;
        Ok(Self {
            scale: signed_scale(cfg.grad_scale, cfg.maximize)?,
            decay: decay(lr, weight_decay, cfg.weight_decouple, cfg.fixed_decay),
            ema: Ema::with_beta(momentum),
            neg_lr_nu: c(-lr * nu),
            neg_lr_rest: c(-lr * (1.0 - nu)),
            numerics: cfg.numerics,
        })
    }
}

impl Rule<2> for Coef {
    fn numerics(&self) -> Numerics {
        self.numerics
    }
    fn scale(&self) -> f32 {
        self.scale
    }
    #[inline(always)]
    fn lanes<P: Profile, L: Lanes<N>, const N: usize>(&self, [p, b]: &mut [L; 2], g: L) {
        let (param, g) = self.decay.apply::<P, L, N>(*p, g);
        *b = self.ema.apply::<P, L, N>(*b, g);
        let param = P::fma(L::splat(self.neg_lr_nu), *b, param);
        *p = P::fma(L::splat(self.neg_lr_rest), g, param);
    }
}

rule_step! {
    /// Quasi-hyperbolic momentum: updates `params` and `momentum_buffer` (`b`) in place — a
    /// `ν`-weighted mix of a momentum step and a plain SGD step.
    ///
    /// For every index `i`, with `s = grad_scale`:
    /// ```text
    /// g ← s·grads[i]                         (−s·grads[i] with maximize)
    /// θ ← θ·(1 − ηλ)  or  g ← g + λθ          (weight_decouple, or L2)
    /// b ← μ·b + (1 − μ)·g
    /// θ ← θ − (η·ν)·b − (η·(1 − ν))·g
    /// ```
    /// [`Numerics::Torch`]: `b = lerp(b, g, c(1−μ))`, then two fused steps
    /// `θ = fma(c(−ην), b, θ)`, `θ = fma(c(−η(1−ν)), g, θ)`.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`], [`Error::InvalidHyperparameter`].
    /// **Nothing is written when an error is returned.**
    pub fn qhm_step / qhm_step_with / qhm_step_mixed / qhm_step_mixed_with
    (params, grads, momentum_buffer; cfg: &QhmConfig),
    checked: |lens, g| Coef::checked(lens, g, cfg),
}
