//! QHAdam (Ma & Yarats 2019, "Quasi-hyperbolic momentum and Adam for deep learning"), as
//! `pytorch_optimizer.QHAdam` 4.1 computes it.

use crate::lanes::Lanes;
use crate::numerics::{Numerics, Profile, c};
use crate::optim::rule::{Ema, Rule, WeightDecay, check_lens, decay, rule_step};
use crate::optim::signed_scale;
use crate::{Error, validate};

/// Hyperparameters of [`qhadam_step`]. [`Default`] is `pytorch_optimizer.QHAdam`'s.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct QhadamConfig {
    /// Learning rate `η`. Default `1e-3`; finite, ≥ 0.
    pub lr: f64,
    /// `β₁`. Default `0.9`; finite, in `[0, 1)`.
    pub beta1: f64,
    /// `β₂`. Default `0.999`; finite, in `[0, 1)`.
    pub beta2: f64,
    /// `ν₁`, the weight of the first moment against the gradient. Default `1`; in `[0, 1]`.
    pub nu1: f64,
    /// `ν₂`, the weight of the second moment against `g²`. Default `1`; in `[0, 1]`.
    pub nu2: f64,
    /// `ε`. Default `1e-8`; finite, ≥ 0.
    pub eps: f64,
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

impl Default for QhadamConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            nu1: 1.0,
            nu2: 1.0,
            eps: 1e-8,
            weight_decay: 0.0,
            weight_decouple: false,
            fixed_decay: false,
            maximize: false,
            grad_scale: 1.0,
            numerics: Numerics::Torch,
        }
    }
}

/// QHAdam's per-tensor scalar state (the package's f32 `beta1_weight`, `beta2_weight`): the
/// normalisers `wₖ ← βₖ·wₖ + 1` that make the averages unbiased. Start from 0 (`Default`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
pub struct QhadamState {
    /// `w₁`.
    pub beta1_weight: f32,
    /// `w₂`.
    pub beta2_weight: f32,
}

struct Coef {
    scale: f32,
    decay: WeightDecay,
    ema1: Ema,
    ema2: Ema,
    /// `Some((c(ν), c(1 − ν)))` when `ν ≠ 1`; else the moment alone (times 1).
    nu1: Option<(f32, f32)>,
    nu2: Option<(f32, f32)>,
    eps: f32,
    neg_lr: f32,
    next: QhadamState,
    numerics: Numerics,
}

impl Coef {
    #[inline(always)]
    fn checked(
        lens: [usize; 3],
        [g]: [usize; 1],
        state: &QhadamState,
        cfg: &QhadamConfig,
    ) -> Result<Self, Error> {
        check_lens(["params", "exp_avg", "exp_avg_sq"], lens, [true; 3], g)?;
        validate::numerics(cfg.numerics, &[])?;
        let lr = validate::non_negative("lr", cfg.lr)?;
        let beta1 = validate::unit_half_open("beta1", cfg.beta1)?;
        let beta2 = validate::unit_half_open("beta2", cfg.beta2)?;
        let nu1 = validate::unit_closed("nu1", cfg.nu1)?;
        let nu2 = validate::unit_closed("nu2", cfg.nu2)?;
        let eps = validate::non_negative("eps", cfg.eps)?;
        let weight_decay = validate::non_negative("weight_decay", cfg.weight_decay)?;
        // The package's f32 tensor arithmetic: w ← w·β + 1, then the weight 1/w.
        let w1 = state.beta1_weight * c(beta1) + 1.0;
        let w2 = state.beta2_weight * c(beta2) + 1.0;
        let mix = |nu: f64| (nu != 1.0).then(|| (c(nu), c(1.0 - nu)));
        Ok(Self {
            scale: signed_scale(cfg.grad_scale, cfg.maximize)?,
            decay: decay(lr, weight_decay, cfg.weight_decouple, cfg.fixed_decay),
            ema1: Ema::with_weight_f32(1.0 / w1),
            ema2: Ema::with_weight_f32(1.0 / w2),
            nu1: mix(nu1),
            nu2: mix(nu2),
            eps: c(eps),
            neg_lr: c(-lr),
            next: QhadamState { beta1_weight: w1, beta2_weight: w2 },
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
        let g2 = g * g;
        *m = self.ema1.apply::<P, L, N>(*m, g);
        *v = self.ema2.apply::<P, L, N>(*v, g2);
        let a = match self.nu1 {
            Some((nu, rest)) => P::fma(L::splat(rest), g, *m * L::splat(nu)),
            None => *m,
        };
        let r = match self.nu2 {
            Some((nu, rest)) => P::fma(L::splat(rest), g2, *v * L::splat(nu)),
            None => *v,
        };
        *p = param + (L::splat(self.neg_lr) * a) / (r.sqrt() + L::splat(self.eps));
    }
}

rule_step! {
    /// QHAdam: updates `params`, `exp_avg` (`m`) and `exp_avg_sq` (`v`) in place and advances
    /// `state`: Adam whose numerator and denominator each mix the average with the current
    /// value (`ν = 1`: Adam with unbiased averages).
    ///
    /// For every index `i`, with `s = grad_scale`:
    /// ```text
    /// g ← s·grads[i]                         (−s·grads[i] with maximize)
    /// θ ← θ·(1 − ηλ)  or  g ← g + λθ          (weight_decouple, or L2)
    /// wₖ ← βₖ·wₖ + 1                           (state, f32)
    /// m ← m + (g − m)/w₁;   v ← v + (g² − v)/w₂
    /// θ ← θ − η·(ν₁m + (1 − ν₁)g) / (√(ν₂v + (1 − ν₂)g²) + ε)
    /// ```
    /// [`Numerics::Torch`]: `lerp` with the f32 weights `1/wₖ`, the `ν` mixes fused, and
    /// `θ + (c(−η)·a)/(√r + ε)`.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`], [`Error::InvalidHyperparameter`]. **Nothing is written, and
    /// `state` is unchanged, when an error is returned.**
    pub fn qhadam_step / qhadam_step_with / qhadam_step_mixed / qhadam_step_mixed_with
    (params, grads, exp_avg, exp_avg_sq; state: &mut QhadamState, cfg: &QhadamConfig),
    checked: |lens, g| Coef::checked(lens, g, state, cfg),
    then: |k| *state = k.next,
}
