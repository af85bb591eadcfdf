//! AdaBelief (Zhuang et al. 2020, "AdaBelief Optimizer: Adapting Stepsizes by the Belief in
//! Observed Gradients"), as `pytorch_optimizer.AdaBelief` 4.1 and `optax.adabelief` compute it.

use crate::lanes::Lanes;
use crate::numerics::{Numerics, Profile, bias_corrections, c};
use crate::optim::rule::{Ema, Rule, Trailing, WeightDecay, check_lens, decay, ema_pair};
use crate::optim::rule::{ema_product, rectifier, rule_step};
use crate::optim::signed_scale;
use crate::{Error, validate};

/// Hyperparameters of [`adabelief_step`]. [`Default`] is `pytorch_optimizer.AdaBelief`'s;
/// `optax.adabelief` is the same algorithm with `weight_decay = 0` (its `eps_root` is
/// [`AdabeliefConfig::eps_root`], default `1e-16` there too).
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct AdabeliefConfig {
    /// Learning rate `η`. Default `1e-3`; finite, ≥ 0.
    pub lr: f64,
    /// `β₁`. Default `0.9`; finite, in `[0, 1)`.
    pub beta1: f64,
    /// `β₂`. Default `0.999`; finite, in `[0, 1)`.
    pub beta2: f64,
    /// `ε`, added to the denominator. Default `1e-16`; finite, ≥ 0.
    pub eps: f64,
    /// `ε_root`, added to the stored `s` every step (pytorch_optimizer uses `ε` for both).
    /// Default `1e-16`; finite, ≥ 0.
    pub eps_root: f64,
    /// Weight decay `λ`. Default `0`; finite, ≥ 0.
    pub weight_decay: f64,
    /// Decoupled decay `θ ← θ·(1 − ηλ)` instead of L2 `g ← g + λθ`. Default `true`.
    pub weight_decouple: bool,
    /// With `weight_decouple`: `θ ← θ·(1 − λ)`. Default `false`.
    pub fixed_decay: bool,
    /// RAdam's rectification. Default `false`.
    pub rectify: bool,
    /// With `rectify`, an SGD step (`θ ← θ − (η/bc₁)·m`) while `ρₜ < 5`; else no step.
    /// Default `true`.
    pub degenerated_to_sgd: bool,
    /// AMSGrad's running maximum of `s` (`ams_bound`). Default `false`.
    pub amsgrad: bool,
    /// Maximize the objective (negate the gradient first). Default `false`.
    pub maximize: bool,
    /// Multiplier `s` applied to the gradient first. Default `1` (exact); finite, ≥ 0.
    pub grad_scale: f32,
    /// Operation order. Default [`Numerics::Torch`] (pytorch_optimizer's).
    pub numerics: Numerics,
}

impl Default for AdabeliefConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-16,
            eps_root: 1e-16,
            weight_decay: 0.0,
            weight_decouple: true,
            fixed_decay: false,
            rectify: false,
            degenerated_to_sgd: true,
            amsgrad: false,
            maximize: false,
            grad_scale: 1.0,
            numerics: Numerics::Torch,
        }
    }
}

/// How this step moves the parameters.
#[derive(Clone, Copy)]
enum Move {
    /// `θ ← θ + (c(−step)·m)/(√s/c(√bc₂) + ε)`; `bc2_sqrt` is 1 when rectified.
    Adaptive { neg_step: f32, bc2_sqrt: f32 },
    /// `θ ← θ + c(−step)·m` (rectified, `ρₜ < 5`, degenerated to SGD).
    Sgd { neg_step: f32 },
    /// No step (rectified, `ρₜ < 5`, not degenerated).
    Still,
}

struct Coef {
    scale: f32,
    decay: WeightDecay,
    ema1: Ema,
    beta2: (f32, f32),
    eps: f32,
    eps_root: f32,
    step: Move,
    numerics: Numerics,
}

impl Coef {
    #[inline(always)]
    fn checked(
        lens: [usize; 4],
        [g]: [usize; 1],
        step: u32,
        cfg: &AdabeliefConfig,
    ) -> Result<Trailing<Self, 3>, Error> {
        let names = ["params", "exp_avg", "exp_avg_var", "max_exp_avg_var"];
        check_lens(names, lens, [true, true, true, cfg.amsgrad], g)?;
        validate::numerics(cfg.numerics, &[])?;
        let lr = validate::non_negative("lr", cfg.lr)?;
        let beta1 = validate::unit_half_open("beta1", cfg.beta1)?;
        let beta2 = validate::unit_half_open("beta2", cfg.beta2)?;
        let eps = validate::non_negative("eps", cfg.eps)?;
        let eps_root = validate::non_negative("eps_root", cfg.eps_root)?;
        let weight_decay = validate::non_negative("weight_decay", cfg.weight_decay)?;
        validate::step(step)?;
        let (bc1, bc2) = bias_corrections(beta1, beta2, step);
        let step_move = if cfg.rectify {
            match rectifier(beta2, step, cfg.degenerated_to_sgd) {
                (r, true) => Move::Adaptive { neg_step: c(-lr * r / bc1), bc2_sqrt: 1.0 },
                (r, false) if r > 0.0 => Move::Sgd { neg_step: c(-lr * r / bc1) },
                _ => Move::Still,
            }
        } else {
            Move::Adaptive { neg_step: c(-lr / bc1), bc2_sqrt: c(libm::sqrt(bc2)) }
        };
        let rule = Self {
            scale: signed_scale(cfg.grad_scale, cfg.maximize)?,
            decay: decay(lr, weight_decay, cfg.weight_decouple, cfg.fixed_decay),
            ema1: Ema::with_beta(beta1),
            beta2: ema_pair(beta2),
            eps: c(eps),
            eps_root: c(eps_root),
            step: step_move,
            numerics: cfg.numerics,
        };
        Ok(Trailing { rule, all: cfg.amsgrad })
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
        let m = self.ema1.apply::<P, L, N>(x[1], g);
        let r = g - m;
        let mut s = ema_product::<P, L, N>(self.beta2, x[2], r, r) + L::splat(self.eps_root);
        x[1] = m;
        x[2] = s;
        if let Some(max) = x.get_mut(3) {
            s = max.max_nan(s);
            *max = s;
        }
        x[0] = match self.step {
            Move::Adaptive { neg_step, bc2_sqrt } => {
                param
                    + (L::splat(neg_step) * m)
                        / (s.sqrt() / L::splat(bc2_sqrt) + L::splat(self.eps))
            }
            Move::Sgd { neg_step } => P::fma(L::splat(neg_step), m, param),
            Move::Still => param,
        };
    }
}

rule_step! {
    /// AdaBelief: updates `params`, `exp_avg` (`m`), `exp_avg_var` (`s`) and, with AMSGrad,
    /// `max_exp_avg_var` (`ŝ`, else it may be empty) in place. Adam with the variance of the
    /// gradient around its mean (the "belief") in place of its second moment.
    ///
    /// For every index `i`, with `s = grad_scale`, `t = step` (1-based), `bcₖ = 1 − βₖᵗ`:
    /// ```text
    /// g ← s·grads[i]                         (−s·grads[i] with maximize)
    /// θ ← θ·(1 − ηλ)  or  g ← g + λθ          (weight_decouple, or L2)
    /// m ← β₁·m + (1 − β₁)·g
    /// s ← β₂·s + (1 − β₂)·(g − m)² + ε_root   (ε_root is stored, every step)
    /// ŝ ← max(ŝ, s)                           (amsgrad; ŝ replaces s below)
    /// θ ← θ − (η/bc₁)·m / (√s/√bc₂ + ε)
    /// ```
    /// With `rectify`, RAdam's factor `r` and threshold (`ρₜ ≥ 5`: `θ ← θ − (η·r/bc₁)·m/(√s + ε)`;
    /// else an SGD step `θ ← θ − (η/bc₁)·m` if `degenerated_to_sgd`, or none).
    /// [`Numerics::Torch`]: `m = lerp(m, g, c(1−β₁))`, `s = fma(c(1−β₂)·r, r, s·c(β₂)) + c(ε)`,
    /// `θ = θ + (c(−η/bc₁)·m)/(√s/c(√bc₂) + c(ε))`.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`], [`Error::InvalidHyperparameter`], [`Error::ZeroStep`].
    /// **Nothing is written when an error is returned.**
    pub fn adabelief_step / adabelief_step_with / adabelief_step_mixed / adabelief_step_mixed_with
    (params, grads, exp_avg, exp_avg_var, max_exp_avg_var; step: u32, cfg: &AdabeliefConfig),
    checked: |lens, g| Coef::checked(lens, g, step, cfg),
}
