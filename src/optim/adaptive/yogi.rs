//! Yogi (Zaheer et al. 2018, "Adaptive Methods for Nonconvex Optimization"), as `optax.yogi`
//! 0.2 computes it.

use crate::lanes::Lanes;
use crate::numerics::{Numerics, Profile, bias_corrections, c};
use crate::optim::rule::{Ema, Rule, check_lens, rule_step};
use crate::optim::signed_scale;
use crate::{Error, validate};

/// Hyperparameters of [`yogi_step`]. [`Default`] is `optax.yogi`'s (`learning_rate` has no
/// default there; `1e-2` is the paper's). optax starts **both** moments at `1e-6`
/// (`initial_accumulator_value`): fill `mu` and `nu` with it before the first step.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct YogiConfig {
    /// Learning rate `η`. Default `1e-2`; finite, ≥ 0.
    pub lr: f64,
    /// `β₁`. Default `0.9`; finite, in `[0, 1)`.
    pub beta1: f64,
    /// `β₂`. Default `0.999`; finite, in `[0, 1)`.
    pub beta2: f64,
    /// `ε`. Default `1e-3`; finite, ≥ 0.
    pub eps: f64,
    /// Maximize the objective (negate the gradient first). Default `false`.
    pub maximize: bool,
    /// Multiplier `s` applied to the gradient first. Default `1` (exact); finite, ≥ 0.
    pub grad_scale: f32,
    /// Operation order. Default [`Numerics::Torch`] (here: optax's, without fused operations).
    pub numerics: Numerics,
}

impl Default for YogiConfig {
    fn default() -> Self {
        Self {
            lr: 1e-2,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-3,
            maximize: false,
            grad_scale: 1.0,
            numerics: Numerics::Torch,
        }
    }
}

struct Coef {
    scale: f32,
    ema1: Ema,
    one_minus_beta2: f32,
    bc1: f32,
    bc2: f32,
    eps: f32,
    neg_lr: f32,
    numerics: Numerics,
}

impl Coef {
    #[inline(always)]
    fn checked(
        lens: [usize; 3],
        [g]: [usize; 1],
        step: u32,
        cfg: &YogiConfig,
    ) -> Result<Self, Error> {
        check_lens(["params", "mu", "nu"], lens, [true; 3], g)?;
        validate::numerics(cfg.numerics, &[])?;
        let lr = validate::non_negative("lr", cfg.lr)?;
        let beta1 = validate::unit_half_open("beta1", cfg.beta1)?;
        let beta2 = validate::unit_half_open("beta2", cfg.beta2)?;
        let eps = validate::non_negative("eps", cfg.eps)?;
        validate::step(step)?;
        let (bc1, bc2) = bias_corrections(beta1, beta2, step);
        Ok(Self {
            scale: signed_scale(cfg.grad_scale, cfg.maximize)?,
            ema1: Ema::with_beta(beta1),
            one_minus_beta2: c(1.0 - beta2),
            bc1: c(bc1),
            bc2: c(bc2),
            eps: c(eps),
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
    fn lanes<P: Profile, L: Lanes<N>, const N: usize>(&self, [p, mu, nu]: &mut [L; 3], g: L) {
        // optax's moment is `(1 − β₁)·g + β₁·μ`, unfused: the Portable form of the average.
        *mu = self.ema1.apply::<crate::numerics::Portable, L, N>(*mu, g);
        let g2 = g * g;
        *nu = *nu - L::splat(self.one_minus_beta2) * (*nu - g2).sign() * g2;
        let u =
            (*mu / L::splat(self.bc1)) / ((*nu / L::splat(self.bc2)).sqrt() + L::splat(self.eps));
        *p = P::fma(L::splat(self.neg_lr), u, *p);
    }
}

rule_step! {
    /// Yogi: updates `params`, `mu` (`m`) and `nu` (`v`) in place: Adam whose second moment
    /// moves additively, by at most `(1 − β₂)·g²` per step, towards `g²`.
    ///
    /// For every index `i`, with `s = grad_scale`, `t = step` (1-based), `bcₖ = 1 − βₖᵗ`:
    /// ```text
    /// g ← s·grads[i]                         (−s·grads[i] with maximize)
    /// m ← (1 − β₁)·g + β₁·m
    /// v ← v − (1 − β₂)·sign(v − g²)·g²       (sign(0) = 0)
    /// θ ← θ − η·(m/bc₁) / (√(v/bc₂) + ε)
    /// ```
    /// Start `m` and `v` at `1e-6`, as optax does. [`Numerics::Torch`] fuses only the last
    /// line (`fma(c(−η), u, θ)`; XLA may fuse differently: optax is matched within tolerance).
    ///
    /// # Errors
    /// [`Error::LengthMismatch`], [`Error::InvalidHyperparameter`], [`Error::ZeroStep`].
    /// **Nothing is written when an error is returned.**
    pub fn yogi_step / yogi_step_with / yogi_step_mixed / yogi_step_mixed_with
    (params, grads, mu, nu; step: u32, cfg: &YogiConfig),
    checked: |lens, g| Coef::checked(lens, g, step, cfg),
}
