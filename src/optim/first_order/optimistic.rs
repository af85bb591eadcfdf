//! Optimistic gradient descent (Popov 1980; Daskalakis et al. 2018, "Training GANs with
//! Optimism"), as `optax.optimistic_gradient_descent` 0.2 computes it.

use crate::lanes::Lanes;
use crate::numerics::{Numerics, Profile, c};
use crate::optim::rule::{Rule, check_lens, rule_step};
use crate::optim::signed_scale;
use crate::{Error, validate};

/// Hyperparameters of [`optimistic_gd_step`]. [`Default`] is optax's (`learning_rate` has no
/// default there).
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct OptimisticGdConfig {
    /// Learning rate `η`. Default `1e-2`; finite, ≥ 0.
    pub lr: f64,
    /// `α`, the weight of the current gradient. Default `1`; finite, ≥ 0.
    pub alpha: f64,
    /// `β`, the weight of the correction `g − g₋`. Default `1`; finite, ≥ 0.
    pub beta: f64,
    /// Maximize the objective (negate the gradient first). Default `false`.
    pub maximize: bool,
    /// Multiplier `s` applied to the gradient first. Default `1` (exact); finite, ≥ 0.
    pub grad_scale: f32,
    /// Operation order. Default [`Numerics::Torch`] (here: optax's, unfused).
    pub numerics: Numerics,
}

impl Default for OptimisticGdConfig {
    fn default() -> Self {
        Self {
            lr: 1e-2,
            alpha: 1.0,
            beta: 1.0,
            maximize: false,
            grad_scale: 1.0,
            numerics: Numerics::Torch,
        }
    }
}

struct Coef {
    scale: f32,
    first: bool,
    alpha_plus_beta: f32,
    beta: f32,
    neg_lr: f32,
    numerics: Numerics,
}

impl Coef {
    #[inline(always)]
    fn checked(
        lens: [usize; 2],
        [g]: [usize; 1],
        step: u32,
        cfg: &OptimisticGdConfig,
    ) -> Result<Self, Error> {
        check_lens(["params", "previous_gradient"], lens, [true; 2], g)?;
        validate::numerics(cfg.numerics, &[])?;
        let lr = validate::non_negative("lr", cfg.lr)?;
        let alpha = validate::non_negative("alpha", cfg.alpha)?;
        let beta = validate::non_negative("beta", cfg.beta)?;
        validate::step(step)?;
        Ok(Self {
            scale: signed_scale(cfg.grad_scale, cfg.maximize)?,
            first: step == 1,
            alpha_plus_beta: c(alpha + beta),
            beta: c(beta),
            neg_lr: c(-lr),
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
    fn lanes<P: Profile, L: Lanes<N>, const N: usize>(&self, [p, prev]: &mut [L; 2], g: L) {
        let last = if self.first { g } else { *prev };
        let u = L::splat(self.alpha_plus_beta) * g - L::splat(self.beta) * last;
        *p = *p + L::splat(self.neg_lr) * u;
        *prev = g;
    }
}

rule_step! {
    /// Optimistic gradient descent: updates `params` and `previous_gradient` (`g₋`) in place.
    ///
    /// For every index `i`, with `s = grad_scale`, `t = step` (1-based):
    /// ```text
    /// g ← s·grads[i]                         (−s·grads[i] with maximize)
    /// g₋ = g on step 1
    /// θ ← θ − η·((α + β)·g − β·g₋)
    /// g₋ ← g
    /// ```
    /// Both profiles compute it unfused, in this order (optax leaves fusion to XLA).
    ///
    /// # Errors
    /// [`Error::LengthMismatch`], [`Error::InvalidHyperparameter`], [`Error::ZeroStep`].
    /// **Nothing is written when an error is returned.**
    pub fn optimistic_gd_step / optimistic_gd_step_with / optimistic_gd_step_mixed / optimistic_gd_step_mixed_with
    (params, grads, previous_gradient; step: u32, cfg: &OptimisticGdConfig),
    checked: |lens, g| Coef::checked(lens, g, step, cfg),
}
