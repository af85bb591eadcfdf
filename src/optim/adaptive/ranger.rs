//! Ranger (Wright 2019: RAdam inside Lookahead), as `pytorch_optimizer.Ranger` 4.1 computes it
//! — the inner RAdam step and, every `k` steps, the Lookahead synchronisation, in one pass.

use crate::lanes::Lanes;
use crate::numerics::{Numerics, Profile, c, pow_step};
use crate::optim::rule::{Ema, Rule, WeightDecay, check_lens, decay, ema_pair, ema_product};
use crate::optim::rule::{rectifier, rule_step};
use crate::optim::signed_scale;
use crate::{Error, validate};

/// Hyperparameters of [`ranger_step`]. [`Default`] is `pytorch_optimizer.Ranger`'s, including
/// `degenerated_to_sgd = false`, with which the package's steps while `ρₜ < 5` (the first five
/// for β₂ = 0.999) go **uphill** (`θ ← θ + (η/bc₁)·m`): reproduced, because the golden vectors
/// record it; set `degenerated_to_sgd = true` for the original Ranger (SGD steps there).
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct RangerConfig {
    /// Learning rate `η`. Default `1e-3`; finite, ≥ 0.
    pub lr: f64,
    /// `β₁`. Default `0.95`; finite, in `[0, 1)`.
    pub beta1: f64,
    /// `β₂`. Default `0.999`; finite, in `[0, 1)`.
    pub beta2: f64,
    /// `ε`. Default `1e-5`; finite, ≥ 0.
    pub eps: f64,
    /// Lookahead's `α` (the slow weights' step). Default `0.5`; finite, in `[0, 1]`.
    pub alpha: f64,
    /// Lookahead's `k`: synchronise on every step `t` with `t mod k = 0`. Default `6`; ≥ 1.
    pub k: u32,
    /// While `ρₜ < 5`: an SGD step (`true`) or the package's sign-flipped one (`false`, the
    /// package's default). Default `false`.
    pub degenerated_to_sgd: bool,
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

impl Default for RangerConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.95,
            beta2: 0.999,
            eps: 1e-5,
            alpha: 0.5,
            k: 6,
            degenerated_to_sgd: false,
            weight_decay: 0.0,
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
    ema1: Ema,
    beta2: (f32, f32),
    eps: f32,
    neg_step: f32,
    adaptive: bool,
    /// The synchronisation of this step: `φ ← lerp(φ, θ, α)`, `θ ← φ`.
    sync: Option<Ema>,
    numerics: Numerics,
}

impl Coef {
    #[inline(always)]
    fn checked(
        lens: [usize; 4],
        [g]: [usize; 1],
        step: u32,
        cfg: &RangerConfig,
    ) -> Result<Self, Error> {
        check_lens(["params", "exp_avg", "exp_avg_sq", "slow_buffer"], lens, [true; 4], g)?;
        validate::numerics(cfg.numerics, &[])?;
        let lr = validate::non_negative("lr", cfg.lr)?;
        let beta1 = validate::unit_half_open("beta1", cfg.beta1)?;
        let beta2 = validate::unit_half_open("beta2", cfg.beta2)?;
        let eps = validate::non_negative("eps", cfg.eps)?;
        let alpha = validate::unit_closed("alpha", cfg.alpha)?;
        if cfg.k == 0 {
            return Err(validate::out_of_range("k", 0.0));
        }
        let weight_decay = validate::non_negative("weight_decay", cfg.weight_decay)?;
        validate::step(step)?;
        let (r, adaptive) = rectifier(beta2, step, cfg.degenerated_to_sgd);
        let bc1 = 1.0 - pow_step(beta1, step);
        Ok(Self {
            scale: signed_scale(cfg.grad_scale, cfg.maximize)?,
            decay: decay(lr, weight_decay, cfg.weight_decouple, cfg.fixed_decay),
            ema1: Ema::with_beta(beta1),
            beta2: ema_pair(beta2),
            eps: c(eps),
            neg_step: c(-lr * r / bc1),
            adaptive,
            sync: step.is_multiple_of(cfg.k).then(|| Ema::toward(alpha, 1.0 - alpha)),
            numerics: cfg.numerics,
        })
    }
}

impl Rule<4> for Coef {
    fn numerics(&self) -> Numerics {
        self.numerics
    }
    fn scale(&self) -> f32 {
        self.scale
    }
    #[inline(always)]
    fn lanes<P: Profile, L: Lanes<N>, const N: usize>(&self, [p, m, v, slow]: &mut [L; 4], g: L) {
        let (param, g) = self.decay.apply::<P, L, N>(*p, g);
        *m = self.ema1.apply::<P, L, N>(*m, g);
        *v = ema_product::<P, L, N>(self.beta2, *v, g, g);
        let mut param = if self.adaptive {
            param + (L::splat(self.neg_step) * *m) / (v.sqrt() + L::splat(self.eps))
        } else {
            P::fma(L::splat(self.neg_step), *m, param)
        };
        if let Some(toward_param) = self.sync {
            *slow = toward_param.apply::<P, L, N>(*slow, param);
            param = *slow;
        }
        *p = param;
    }
}

rule_step! {
    /// Ranger: updates `params`, `exp_avg` (`m`), `exp_avg_sq` (`v`) and `slow_buffer` (`φ`:
    /// start it as a copy of the initial parameters; written on synchronisation steps) in
    /// place, in one pass.
    ///
    /// For every index `i`, with `s = grad_scale`, `t = step` (1-based), `bc₁ = 1 − β₁ᵗ` and
    /// RAdam's factor `r` (1 or −1 while `ρₜ < 5`, see [`RangerConfig`]):
    /// ```text
    /// g ← s·grads[i]                         (−s·grads[i] with maximize)
    /// θ ← θ·(1 − ηλ)  or  g ← g + λθ          (weight_decouple, or L2)
    /// m ← β₁·m + (1 − β₁)·g;   v ← β₂·v + (1 − β₂)·g²
    /// θ ← θ − (η·r/bc₁)·m/(√v + ε)            (ρₜ ≥ 5; else θ ← θ − (η·r/bc₁)·m)
    /// t mod k = 0:  φ ← φ + α(θ − φ);  θ ← φ
    /// ```
    /// The package's gradient centralisation is a no-op on flat slices.
    /// [`Numerics::Torch`]: the lerps, `addcmul`, `addcdiv`, as the package.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`], [`Error::InvalidHyperparameter`] (also `k = 0`),
    /// [`Error::ZeroStep`]. **Nothing is written when an error is returned.**
    pub fn ranger_step / ranger_step_with / ranger_step_mixed / ranger_step_mixed_with
    (params, grads, exp_avg, exp_avg_sq, slow_buffer; step: u32, cfg: &RangerConfig),
    checked: |lens, g| Coef::checked(lens, g, step, cfg),
}
