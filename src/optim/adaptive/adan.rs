//! Adan (Xie et al. 2022, "Adan: Adaptive Nesterov Momentum Algorithm for Faster Optimizing
//! Deep Models"), as `pytorch_optimizer.Adan` 4.1 computes it.

use crate::lanes::Lanes;
use crate::numerics::{Numerics, Profile, bias_corrections, c, pow_step};
use crate::optim::rule::{Ema, Rule, check_lens, ema_pair, ema_product, rule_step};
use crate::optim::signed_scale;
use crate::{Error, validate};

/// Hyperparameters of [`adan_step`]. [`Default`] is `pytorch_optimizer.Adan`'s. The betas are
/// the package's (the paper's `1 − β`).
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct AdanConfig {
    /// Learning rate `η`. Default `1e-3`; finite, ≥ 0.
    pub lr: f64,
    /// `β₁`, decay of the gradient average. Default `0.98`; finite, in `[0, 1)`.
    pub beta1: f64,
    /// `β₂`, decay of the gradient-difference average. Default `0.92`; finite, in `[0, 1)`.
    pub beta2: f64,
    /// `β₃`, decay of the second moment. Default `0.99`; finite, in `[0, 1)`.
    pub beta3: f64,
    /// `ε`. Default `1e-8`; finite, ≥ 0.
    pub eps: f64,
    /// Weight decay `λ`. Default `0`; finite, ≥ 0.
    pub weight_decay: f64,
    /// Decoupled decay `θ ← θ·(1 − ηλ)` before the step, instead of the proximal
    /// `θ ← θ/(1 + ηλ)` after it. Default `false`.
    pub weight_decouple: bool,
    /// Maximize the objective (negate the gradient first). Default `false`.
    pub maximize: bool,
    /// Multiplier `s` applied to the gradient first: the package's `max_grad_norm` clipping
    /// is `s = min(max_grad_norm/(‖g‖₂ + ε), 1)` over the whole model
    /// ([`crate::clip_coef`]). Default `1` (exact); finite, ≥ 0.
    pub grad_scale: f32,
    /// Operation order. Default [`Numerics::Torch`] (the package's).
    pub numerics: Numerics,
}

impl Default for AdanConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.98,
            beta2: 0.92,
            beta3: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            weight_decouple: false,
            maximize: false,
            grad_scale: 1.0,
            numerics: Numerics::Torch,
        }
    }
}

struct Coef {
    scale: f32,
    first: bool,
    ema1: Ema,
    ema2: Ema,
    beta2: f32,
    beta3: (f32, f32),
    bc3_sqrt: f32,
    eps: f32,
    /// `c(1 − ηλ)` (decoupled) before the step.
    decoupled: Option<f32>,
    /// `c(1 + ηλ)` (proximal) after it.
    proximal: Option<f32>,
    neg_step1: f32,
    neg_step2: f32,
    numerics: Numerics,
}

impl Coef {
    #[inline(always)]
    fn checked(
        lens: [usize; 5],
        [g]: [usize; 1],
        step: u32,
        cfg: &AdanConfig,
    ) -> Result<Self, Error> {
        let names = ["params", "exp_avg", "exp_avg_diff", "exp_avg_sq", "previous_grad"];
        check_lens(names, lens, [true; 5], g)?;
        validate::numerics(cfg.numerics, &[])?;
        let lr = validate::non_negative("lr", cfg.lr)?;
        let beta1 = validate::unit_half_open("beta1", cfg.beta1)?;
        let beta2 = validate::unit_half_open("beta2", cfg.beta2)?;
        let beta3 = validate::unit_half_open("beta3", cfg.beta3)?;
        let eps = validate::non_negative("eps", cfg.eps)?;
        let wd = validate::non_negative("weight_decay", cfg.weight_decay)?;
        validate::step(step)?;
        let (bc1, bc2) = bias_corrections(beta1, beta2, step);
        Ok(Self {
            scale: signed_scale(cfg.grad_scale, cfg.maximize)?,
            first: step == 1,
            ema1: Ema::with_beta(beta1),
            ema2: Ema::with_beta(beta2),
            beta2: c(beta2),
            beta3: ema_pair(beta3),
            bc3_sqrt: c(libm::sqrt(1.0 - pow_step(beta3, step))),
            eps: c(eps),
            decoupled: (wd != 0.0 && cfg.weight_decouple).then(|| c(1.0 - lr * wd)),
            proximal: (wd != 0.0 && !cfg.weight_decouple).then(|| c(1.0 + lr * wd)),
            neg_step1: c(-lr / bc1),
            neg_step2: c(-lr * beta2 / bc2),
            numerics: cfg.numerics,
        })
    }
}

impl Rule<5> for Coef {
    fn numerics(&self) -> Numerics {
        self.numerics
    }
    fn scale(&self) -> f32 {
        self.scale
    }
    #[inline(always)]
    fn lanes<P: Profile, L: Lanes<N>, const N: usize>(
        &self,
        [p, m, n, v, prev]: &mut [L; 5],
        g: L,
    ) {
        // `prev` holds −g of the last step; on the first there is none and the difference is 0.
        let prev_neg = if self.first { -g } else { *prev };
        let diff = prev_neg + g;
        *m = self.ema1.apply::<P, L, N>(*m, g);
        *n = self.ema2.apply::<P, L, N>(*n, diff);
        let d2 = diff * L::splat(self.beta2) + g;
        *v = ema_product::<P, L, N>(self.beta3, *v, d2, d2);
        let d = v.sqrt() / L::splat(self.bc3_sqrt) + L::splat(self.eps);
        let mut param = *p;
        if let Some(f) = self.decoupled {
            param = param * L::splat(f);
        }
        param = param + (L::splat(self.neg_step1) * *m) / d;
        param = param + (L::splat(self.neg_step2) * *n) / d;
        if let Some(f) = self.proximal {
            param = param / L::splat(f);
        }
        *p = param;
        *prev = -g;
    }
}

rule_step! {
    /// Adan: updates `params`, `exp_avg` (`m`), `exp_avg_diff` (`n`), `exp_avg_sq` (`v`) and
    /// `previous_grad` (which holds `−g` of the last step, as the package stores it) in place:
    /// Nesterov momentum estimated from gradient differences, without the extra gradient.
    ///
    /// For every index `i`, with `s = grad_scale`, `t = step` (1-based), `bcₖ = 1 − βₖᵗ`:
    /// ```text
    /// g ← s·grads[i]                         (−s·grads[i] with maximize)
    /// Δ = g − g₋                             (0 on step 1: g₋ = g)
    /// m ← β₁·m + (1 − β₁)·g
    /// n ← β₂·n + (1 − β₂)·Δ
    /// v ← β₃·v + (1 − β₃)·(β₂·Δ + g)²
    /// d = √v/√bc₃ + ε
    /// θ ← θ·(1 − ηλ)                          (weight_decouple)
    /// θ ← θ − (η/bc₁)·m/d − (η·β₂/bc₂)·n/d
    /// θ ← θ/(1 + ηλ)                          (not weight_decouple: proximal decay)
    /// previous_grad ← −g
    /// ```
    /// [`Numerics::Torch`]: the package's lerps, `addcmul`, two `addcdiv`s (`θ + (c(k)·m)/d`).
    ///
    /// # Errors
    /// [`Error::LengthMismatch`], [`Error::InvalidHyperparameter`], [`Error::ZeroStep`].
    /// **Nothing is written when an error is returned.**
    pub fn adan_step / adan_step_with / adan_step_mixed / adan_step_mixed_with
    (params, grads, exp_avg, exp_avg_diff, exp_avg_sq, previous_grad; step: u32, cfg: &AdanConfig),
    checked: |lens, g| Coef::checked(lens, g, step, cfg),
}
