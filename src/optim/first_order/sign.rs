//! Sign descent: signSGD / Signum (Bernstein et al. 2018, "signSGD: Compressed Optimisation for
//! Non-Convex Problems") and Tiger (Su 2023, "Tiger: A Tight-fisted Optimizer"), as
//! `pytorch_optimizer.SignSGD` and `pytorch_optimizer.Tiger` 4.1 compute them. Tiger is Signum
//! with its own defaults: one rule serves both.

use crate::lanes::Lanes;
use crate::numerics::{Numerics, Profile, c};
use crate::optim::rule::{Ema, Rule, Trailing, WeightDecay, check_lens, decay, rule_step};
use crate::optim::signed_scale;
use crate::{Error, validate};

/// Hyperparameters of [`signsgd_step`]. [`Default`] is `pytorch_optimizer.SignSGD`'s
/// (Signum, with momentum).
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct SignsgdConfig {
    /// Learning rate `η`. Default `1e-3`; finite, ≥ 0.
    pub lr: f64,
    /// Momentum `μ` (`0`: signSGD, and `momentum_buffer` may be empty). Default `0.9`;
    /// finite, in `[0, 1)`.
    pub momentum: f64,
    /// Weight decay `λ`. Default `0`; finite, ≥ 0.
    pub weight_decay: f64,
    /// Decoupled decay `θ ← θ·(1 − ηλ)` instead of L2 `g ← g + λθ`. Default `true`.
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

impl Default for SignsgdConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            momentum: 0.9,
            weight_decay: 0.0,
            weight_decouple: true,
            fixed_decay: false,
            maximize: false,
            grad_scale: 1.0,
            numerics: Numerics::Torch,
        }
    }
}

/// Hyperparameters of [`tiger_step`]. [`Default`] is `pytorch_optimizer.Tiger`'s.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct TigerConfig {
    /// Learning rate `η`. Default `1e-3`; finite, ≥ 0.
    pub lr: f64,
    /// `β`, decay of the momentum. Default `0.965`; finite, in `[0, 1)`.
    pub beta: f64,
    /// Weight decay `λ`. Default `0.01`; finite, ≥ 0.
    pub weight_decay: f64,
    /// Decoupled decay `θ ← θ·(1 − ηλ)` instead of L2 `g ← g + λθ`. Default `true`.
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

impl Default for TigerConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta: 0.965,
            weight_decay: 0.01,
            weight_decouple: true,
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
    neg_lr: f32,
    numerics: Numerics,
}

impl Coef {
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn checked(
        lens: [usize; 2],
        g: usize,
        (buffer, name, momentum, with_momentum): (&'static str, &'static str, f64, bool),
        lr: f64,
        (weight_decay, decouple, fixed): (f64, bool, bool),
        (maximize, grad_scale, numerics): (bool, f32, Numerics),
    ) -> Result<Trailing<Self, 1>, Error> {
        check_lens(["params", buffer], lens, [true, with_momentum], g)?;
        validate::numerics(numerics, &[])?;
        let lr = validate::non_negative("lr", lr)?;
        let momentum = validate::unit_half_open(name, momentum)?;
        let weight_decay = validate::non_negative("weight_decay", weight_decay)?;
        let rule = Self {
            scale: signed_scale(grad_scale, maximize)?,
            decay: decay(lr, weight_decay, decouple, fixed),
            ema: Ema::with_beta(momentum),
            neg_lr: c(-lr),
            numerics,
        };
        Ok(Trailing { rule, all: with_momentum })
    }

    fn signsgd(
        lens: [usize; 2],
        [g]: [usize; 1],
        cfg: &SignsgdConfig,
    ) -> Result<Trailing<Self, 1>, Error> {
        Self::checked(
            lens,
            g,
            ("momentum_buffer", "momentum", cfg.momentum, cfg.momentum != 0.0),
            cfg.lr,
            (cfg.weight_decay, cfg.weight_decouple, cfg.fixed_decay),
            (cfg.maximize, cfg.grad_scale, cfg.numerics),
        )
    }

    fn tiger(
        lens: [usize; 2],
        [g]: [usize; 1],
        cfg: &TigerConfig,
    ) -> Result<Trailing<Self, 1>, Error> {
        Self::checked(
            lens,
            g,
            ("exp_avg", "beta", cfg.beta, true),
            cfg.lr,
            (cfg.weight_decay, cfg.weight_decouple, cfg.fixed_decay),
            (cfg.maximize, cfg.grad_scale, cfg.numerics),
        )
    }
}

impl<const M: usize> Rule<M> for Coef {
    fn numerics(&self) -> Numerics {
        self.numerics
    }
    fn scale(&self) -> f32 {
        self.scale
    }
    #[inline(always)]
    fn lanes<P: Profile, L: Lanes<N>, const N: usize>(&self, x: &mut [L; M], g: L) {
        let (param, g) = self.decay.apply::<P, L, N>(x[0], g);
        let direction = match x.get_mut(1) {
            Some(m) => {
                *m = self.ema.apply::<P, L, N>(*m, g);
                *m
            }
            None => g,
        };
        x[0] = P::fma(L::splat(self.neg_lr), direction.sign(), param);
    }
}

rule_step! {
    /// signSGD / Signum: updates `params` and, with momentum, `momentum_buffer` (`m`, else it
    /// may be empty) in place.
    ///
    /// For every index `i`, with `s = grad_scale`:
    /// ```text
    /// g ← s·grads[i]                         (−s·grads[i] with maximize)
    /// θ ← θ·(1 − ηλ)  or  g ← g + λθ          (weight_decouple, or L2)
    /// m ← μ·m + (1 − μ)·g                     (μ > 0; else m = g)
    /// θ ← θ − η·sign(m)                       (sign(0) = sign(NaN) = 0, as torch.sign)
    /// ```
    /// [`Numerics::Torch`]: `m = lerp(m, g, c(1−μ))`, `θ = fma(c(−η), sign(m), θ)`.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`], [`Error::InvalidHyperparameter`].
    /// **Nothing is written when an error is returned.**
    pub fn signsgd_step / signsgd_step_with / signsgd_step_mixed / signsgd_step_mixed_with
    (params, grads, momentum_buffer; cfg: &SignsgdConfig),
    checked: |lens, g| Coef::signsgd(lens, g, cfg),
}

rule_step! {
    /// Tiger: updates `params` and `exp_avg` (`m`) in place — Signum with `β = 0.965` and a
    /// decoupled weight decay of `0.01` by default (the equations of [`signsgd_step`] with
    /// `μ = β`).
    ///
    /// # Errors
    /// [`Error::LengthMismatch`], [`Error::InvalidHyperparameter`].
    /// **Nothing is written when an error is returned.**
    pub fn tiger_step / tiger_step_with / tiger_step_mixed / tiger_step_mixed_with
    (params, grads, exp_avg; cfg: &TigerConfig),
    checked: |lens, g| Coef::tiger(lens, g, cfg),
}
