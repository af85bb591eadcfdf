//! AdamP (Heo et al. 2021, "AdamP: Slowing Down the Slowdown for Momentum Optimizers on
//! Scale-invariant Weights") on a flat slice, as `pytorch_optimizer.AdamP` 4.1 computes it.
//!
//! AdamP's projection applies only to tensors of two or more dimensions (a per-row cosine
//! test between `θ` and `g`); on a flat slice the package runs the plain update below, and so
//! does this kernel. A matrix version is not provided.

use crate::lanes::Lanes;
use crate::numerics::{Numerics, Profile, bias_corrections, c};
use crate::optim::rule::{Ema, Rule, check_lens, ema_pair, ema_product, rule_step};
use crate::optim::signed_scale;
use crate::{Error, validate};

/// Hyperparameters of [`adamp_step`]. [`Default`] is `pytorch_optimizer.AdamP`'s (its `delta`
/// and `wd_ratio` only act on matrices).
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct AdampConfig {
    /// Learning rate `η`. Default `1e-3`; finite, ≥ 0.
    pub lr: f64,
    /// `β₁`. Default `0.9`; finite, in `[0, 1)`.
    pub beta1: f64,
    /// `β₂`. Default `0.999`; finite, in `[0, 1)`.
    pub beta2: f64,
    /// `ε`. Default `1e-8`; finite, ≥ 0.
    pub eps: f64,
    /// Decoupled weight decay `λ`. Default `0`; finite, ≥ 0.
    pub weight_decay: f64,
    /// `θ ← θ·(1 − ηλ)` (else the package applies **no** decay: its L2 form adds `λθ` to a
    /// gradient it no longer reads). Default `true`.
    pub weight_decouple: bool,
    /// With `weight_decouple`: `θ ← θ·(1 − λ)`. Default `false`.
    pub fixed_decay: bool,
    /// Nesterov's look-ahead numerator `β₁·m + (1 − β₁)·g`. Default `false`.
    pub nesterov: bool,
    /// Maximize the objective (negate the gradient first). Default `false`.
    pub maximize: bool,
    /// Multiplier `s` applied to the gradient first. Default `1` (exact); finite, ≥ 0.
    pub grad_scale: f32,
    /// Operation order. Default [`Numerics::Torch`] (the package's).
    pub numerics: Numerics,
}

impl Default for AdampConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            weight_decouple: true,
            fixed_decay: false,
            nesterov: false,
            maximize: false,
            grad_scale: 1.0,
            numerics: Numerics::Torch,
        }
    }
}

struct Coef {
    scale: f32,
    decay: Option<f32>,
    ema1: Ema,
    beta2: (f32, f32),
    bc2_sqrt: f32,
    eps: f32,
    nesterov: bool,
    neg_step: f32,
    numerics: Numerics,
}

impl Coef {
    #[inline(always)]
    fn checked(
        lens: [usize; 3],
        [g]: [usize; 1],
        step: u32,
        cfg: &AdampConfig,
    ) -> Result<Self, Error> {
        check_lens(["params", "exp_avg", "exp_avg_sq"], lens, [true; 3], g)?;
        validate::numerics(cfg.numerics, &[])?;
        let lr = validate::non_negative("lr", cfg.lr)?;
        let beta1 = validate::unit_half_open("beta1", cfg.beta1)?;
        let beta2 = validate::unit_half_open("beta2", cfg.beta2)?;
        let eps = validate::non_negative("eps", cfg.eps)?;
        let wd = validate::non_negative("weight_decay", cfg.weight_decay)?;
        validate::step(step)?;
        let factor = if cfg.fixed_decay { 1.0 - wd } else { 1.0 - lr * wd };
        let (bc1, bc2) = bias_corrections(beta1, beta2, step);
        Ok(Self {
            scale: signed_scale(cfg.grad_scale, cfg.maximize)?,
            decay: (wd != 0.0 && cfg.weight_decouple).then(|| c(factor)),
            ema1: Ema::with_beta(beta1),
            beta2: ema_pair(beta2),
            bc2_sqrt: c(libm::sqrt(bc2)),
            eps: c(eps),
            nesterov: cfg.nesterov,
            neg_step: c(-lr / bc1),
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
        *m = self.ema1.apply::<P, L, N>(*m, g);
        *v = ema_product::<P, L, N>(self.beta2, *v, g, g);
        let inv = L::splat(1.0) / (v.sqrt() + L::splat(self.eps)) * L::splat(self.bc2_sqrt);
        let num = if self.nesterov { self.ema1.apply::<P, L, N>(*m, g) } else { *m };
        let mut param = *p;
        if let Some(f) = self.decay {
            param = param * L::splat(f);
        }
        *p = P::fma(L::splat(self.neg_step), num * inv, param);
    }
}

rule_step! {
    /// AdamP on a flat slice: updates `params`, `exp_avg` (`m`) and `exp_avg_sq` (`v`) in
    /// place.
    ///
    /// For every index `i`, with `s = grad_scale`, `t = step` (1-based), `bcₖ = 1 − βₖᵗ`:
    /// ```text
    /// g ← s·grads[i]                         (−s·grads[i] with maximize)
    /// m ← β₁·m + (1 − β₁)·g
    /// v ← β₂·v + (1 − β₂)·g²
    /// u = (β₁·m + (1 − β₁)·g  if nesterov, else m) · √bc₂ · 1/(√v + ε)
    /// θ ← θ·(1 − ηλ)                          (weight_decouple)
    /// θ ← θ − (η/bc₁)·u
    /// ```
    /// [`Numerics::Torch`]: the package's lerps and `addcmul`, the reciprocal then the
    /// multiply, `fma(c(−η/bc₁), u, θ)`.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`], [`Error::InvalidHyperparameter`], [`Error::ZeroStep`].
    /// **Nothing is written when an error is returned.**
    pub fn adamp_step / adamp_step_with / adamp_step_mixed / adamp_step_mixed_with
    (params, grads, exp_avg, exp_avg_sq; step: u32, cfg: &AdampConfig),
    checked: |lens, g| Coef::checked(lens, g, step, cfg),
}
