//! ADOPT (Taniguchi et al. 2024, "ADOPT: Modified Adam Can Converge with Any β₂ with the
//! Optimal Rate"), as `pytorch_optimizer.ADOPT` 4.1 computes it.

use crate::lanes::Lanes;
use crate::numerics::{Numerics, Profile, c};
use crate::optim::rule::rule_step;
use crate::optim::rule::{Ema, Rule, WeightDecay, check_lens, clamp, decay, ema_pair, ema_product};
use crate::optim::signed_scale;
use crate::{Error, validate};

/// Hyperparameters of [`adopt_step`]. [`Default`] is `pytorch_optimizer.ADOPT`'s.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct AdoptConfig {
    /// Learning rate `η`. Default `1e-3`; finite, ≥ 0.
    pub lr: f64,
    /// `β₁`. Default `0.9`; finite, in `[0, 1)`.
    pub beta1: f64,
    /// `β₂`. Default `0.9999`; finite, in `[0, 1)`.
    pub beta2: f64,
    /// `ε`, the floor of `√v`. Default `1e-6`; finite, ≥ 0.
    pub eps: f64,
    /// Weight decay `λ`. Default `0`; finite, ≥ 0.
    pub weight_decay: f64,
    /// Decoupled decay `θ ← θ·(1 − ηλ)` instead of L2 `g ← g + λθ`. Default `false`.
    pub weight_decouple: bool,
    /// With `weight_decouple`: `θ ← θ·(1 − λ)` (no `η`). Default `false`.
    pub fixed_decay: bool,
    /// Clip the normalised gradient to `±tᵖ`. Default `true` (the package's `clip_lambda`).
    pub clip: bool,
    /// The exponent `p` of the clip. Default `0.25`; finite, ≥ 0.
    pub clip_exponent: f64,
    /// Maximize the objective (negate the gradient first). Default `false`.
    pub maximize: bool,
    /// Multiplier `s` applied to the gradient first. Default `1` (exact); finite, ≥ 0.
    pub grad_scale: f32,
    /// Operation order. Default [`Numerics::Torch`] (the package's).
    pub numerics: Numerics,
}

impl Default for AdoptConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.9999,
            eps: 1e-6,
            weight_decay: 0.0,
            weight_decouple: false,
            fixed_decay: false,
            clip: true,
            clip_exponent: 0.25,
            maximize: false,
            grad_scale: 1.0,
            numerics: Numerics::Torch,
        }
    }
}

struct Coef {
    scale: f32,
    decay: WeightDecay,
    first: bool,
    eps: f32,
    clip: Option<f32>,
    ema1: Ema,
    beta2: (f32, f32),
    neg_lr: f32,
    numerics: Numerics,
}

impl Coef {
    #[inline(always)]
    fn checked(
        lens: [usize; 3],
        [g]: [usize; 1],
        step: u32,
        cfg: &AdoptConfig,
    ) -> Result<Self, Error> {
        check_lens(["params", "exp_avg", "exp_avg_sq"], lens, [true; 3], g)?;
        validate::numerics(cfg.numerics, &[])?;
        let lr = validate::non_negative("lr", cfg.lr)?;
        let beta1 = validate::unit_half_open("beta1", cfg.beta1)?;
        let beta2 = validate::unit_half_open("beta2", cfg.beta2)?;
        let eps = validate::non_negative("eps", cfg.eps)?;
        let weight_decay = validate::non_negative("weight_decay", cfg.weight_decay)?;
        let exponent = validate::non_negative("clip_exponent", cfg.clip_exponent)?;
        validate::step(step)?;
        Ok(Self {
            scale: signed_scale(cfg.grad_scale, cfg.maximize)?,
            decay: decay(lr, weight_decay, cfg.weight_decouple, cfg.fixed_decay),
            first: step == 1,
            eps: c(eps),
            clip: cfg.clip.then(|| c(libm::pow(f64::from(step), exponent))),
            ema1: Ema::with_beta(beta1),
            beta2: ema_pair(beta2),
            neg_lr: c(-lr),
            numerics: cfg.numerics,
        })
    }
}

impl Rule<3> for Coef {
    fn numerics(&self) -> Numerics {
        self.numerics
    }
    fn scale(&self) -> f32 {
        self.scale
    }
    #[inline(always)]
    fn lanes<P: Profile, L: Lanes<N>, const N: usize>(&self, [p, m, v]: &mut [L; 3], g: L) {
        let (param, g) = self.decay.apply::<P, L, N>(*p, g);
        *p = param;
        if self.first {
            *v = P::fma(g, g, *v);
            return;
        }
        let mut u = g / v.sqrt().max_nan(L::splat(self.eps));
        if let Some(t) = self.clip {
            u = clamp(u, -t, t);
        }
        *m = self.ema1.apply::<P, L, N>(*m, u);
        *p = P::fma(L::splat(self.neg_lr), *m, *p);
        *v = ema_product::<P, L, N>(self.beta2, *v, g, g);
    }
}

rule_step! {
    /// ADOPT: updates `params`, `exp_avg` (`m`) and `exp_avg_sq` (`v`) in place. The second
    /// moment is used *before* it takes in the current gradient, and the first step only
    /// initialises it (the parameters do not move on step 1, except by a decoupled decay).
    ///
    /// For every index `i`, with `s = grad_scale`, `t = step` (1-based):
    /// ```text
    /// g ← s·grads[i]                         (−s·grads[i] with maximize)
    /// θ ← θ·(1 − ηλ)  or  g ← g + λθ          (weight_decouple, or L2)
    /// t = 1:  v ← v + g²                      (and nothing else)
    /// t > 1:  ĝ = clamp(g / max(√v, ε), −tᵖ, tᵖ)
    ///         m ← β₁·m + (1 − β₁)·ĝ
    ///         θ ← θ − η·m
    ///         v ← β₂·v + (1 − β₂)·g²
    /// ```
    /// [`Numerics::Torch`]: the package's fused forms (`m = lerp(m, ĝ, c(1−β₁))`,
    /// `θ = fma(c(−η), m, θ)`, `v = fma(c(1−β₂)·g, g, v·c(β₂))`).
    ///
    /// # Errors
    /// [`Error::LengthMismatch`], [`Error::InvalidHyperparameter`], [`Error::ZeroStep`].
    /// **Nothing is written when an error is returned.**
    pub fn adopt_step / adopt_step_with / adopt_step_mixed / adopt_step_mixed_with
    (params, grads, exp_avg, exp_avg_sq; step: u32, cfg: &AdoptConfig),
    checked: |lens, g| Coef::checked(lens, g, step, cfg),
}
