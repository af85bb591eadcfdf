//! AdEMAMix (Pagliardini et al. 2024, "The AdEMAMix Optimizer: Better, Faster, Older"), as
//! `pytorch_optimizer.AdEMAMix` 4.1 computes it.

use crate::lanes::Lanes;
use crate::numerics::{Numerics, Profile, bias_corrections, c};
use crate::optim::rule::rule_step;
use crate::optim::rule::{Ema, Rule, WeightDecay, check_lens, decay, ema_pair, ema_product};
use crate::optim::signed_scale;
use crate::{Error, validate};

/// Hyperparameters of [`ademamix_step`]. [`Default`] is `pytorch_optimizer.AdEMAMix`'s.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct AdemamixConfig {
    /// Learning rate `η`. Default `1e-3`; finite, ≥ 0.
    pub lr: f64,
    /// `β₁` (the fast average). Default `0.9`; finite, in `[0, 1)`.
    pub beta1: f64,
    /// `β₂`. Default `0.999`; finite, in `[0, 1)`.
    pub beta2: f64,
    /// `β₃` (the slow average). Default `0.9999`; finite, in `[0, 1)`.
    pub beta3: f64,
    /// `α`, the weight of the slow average. Default `5`; finite, ≥ 0.
    pub alpha: f64,
    /// `T`, the warm-up length of `α` and `β₃` (`t_alpha_beta3`); `0`: none. Default `0`;
    /// finite, ≥ 0.
    pub t_alpha_beta3: f64,
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
    /// Operation order. Default [`Numerics::Torch`] (the package's);
    /// [`Numerics::Bitsandbytes`]: bitsandbytes' `AdEMAMix8bit` CPU step (decoupled decay
    /// only, no `t_alpha_beta3`, no `fixed_decay`).
    pub numerics: Numerics,
}

impl Default for AdemamixConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            beta3: 0.9999,
            alpha: 5.0,
            t_alpha_beta3: 0.0,
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

struct Coef {
    scale: f32,
    decay: WeightDecay,
    ema1: Ema,
    beta2: (f32, f32),
    ema3: Ema,
    alpha: f32,
    bc1: f32,
    bc2_sqrt: f32,
    eps: f32,
    neg_lr: f32,
    numerics: Numerics,
    /// bitsandbytes' operation order.
    bnb: bool,
}

impl Coef {
    #[inline(always)]
    fn checked(
        lens: [usize; 4],
        [g]: [usize; 1],
        step: u32,
        cfg: &AdemamixConfig,
    ) -> Result<Self, Error> {
        check_lens(["params", "exp_avg", "exp_avg_sq", "exp_avg_slow"], lens, [true; 4], g)?;
        validate::numerics(cfg.numerics, &[Numerics::Bitsandbytes])?;
        let bnb = cfg.numerics == Numerics::Bitsandbytes;
        if bnb {
            // bitsandbytes' AdEMAMix8bit decays decoupled, by 1 − ηλ, and has its own warm-up
            // options (t_alpha, t_beta3), not the package's one T.
            if cfg.weight_decay != 0.0 && !cfg.weight_decouple {
                return Err(validate::conflict("weight_decouple", 0.0));
            }
            for (name, on) in
                [("fixed_decay", cfg.fixed_decay), ("t_alpha_beta3", cfg.t_alpha_beta3 != 0.0)]
            {
                if on {
                    return Err(validate::conflict(name, 1.0));
                }
            }
        }
        let lr = validate::non_negative("lr", cfg.lr)?;
        let beta1 = validate::unit_half_open("beta1", cfg.beta1)?;
        let beta2 = validate::unit_half_open("beta2", cfg.beta2)?;
        let beta3 = validate::unit_half_open("beta3", cfg.beta3)?;
        let alpha = validate::non_negative("alpha", cfg.alpha)?;
        let big_t = validate::non_negative("t_alpha_beta3", cfg.t_alpha_beta3)?;
        let eps = validate::non_negative("eps", cfg.eps)?;
        let weight_decay = validate::non_negative("weight_decay", cfg.weight_decay)?;
        validate::step(step)?;
        let t = f64::from(step);
        // The warm-ups of the paper (eq. 3): α linear, β₃ so that the slow average's
        // half-life grows linearly.
        let (alpha_t, beta3_t) = if big_t > 0.0 {
            let (l1, l3) = (libm::log(beta1), libm::log(beta3));
            let b = libm::exp(l1 * l3 / ((1.0 - t / big_t) * l3 + (t / big_t) * l1));
            ((t * alpha / big_t).min(alpha), b.min(beta3))
        } else {
            (alpha, beta3)
        };
        let (bc1, bc2) = bias_corrections(beta1, beta2, step);
        Ok(Self {
            scale: signed_scale(cfg.grad_scale, cfg.maximize)?,
            decay: decay(lr, weight_decay, cfg.weight_decouple, cfg.fixed_decay),
            ema1: Ema::with_beta(beta1),
            beta2: ema_pair(beta2),
            ema3: Ema::with_beta(beta3_t),
            alpha: c(alpha_t),
            bc1: c(bc1),
            bc2_sqrt: c(libm::sqrt(bc2)),
            eps: c(eps),
            neg_lr: c(-lr),
            numerics: cfg.numerics,
            bnb,
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
    fn lanes<P: Profile, L: Lanes<N>, const N: usize>(&self, [p, m1, v, m2]: &mut [L; 4], g: L) {
        let (param, g) = self.decay.apply::<P, L, N>(*p, g);
        if self.bnb {
            // bitsandbytes: multiply-and-fma averages, u rounded op by op, θ = fma(u, −η, θ).
            *m1 = self.ema1.apply_bnb::<P, L, N>(*m1, g);
            *v = ema_product::<P, L, N>(self.beta2, *v, g, g);
            *m2 = self.ema3.apply_bnb::<P, L, N>(*m2, g);
            let d = v.sqrt() / L::splat(self.bc2_sqrt) + L::splat(self.eps);
            let u = (*m1 / L::splat(self.bc1) + L::splat(self.alpha) * *m2) / d;
            *p = P::fma(u, L::splat(self.neg_lr), param);
            return;
        }
        *m1 = self.ema1.apply::<P, L, N>(*m1, g);
        *v = ema_product::<P, L, N>(self.beta2, *v, g, g);
        *m2 = self.ema3.apply::<P, L, N>(*m2, g);
        let d = v.sqrt() / L::splat(self.bc2_sqrt) + L::splat(self.eps);
        let u = P::fma(L::splat(self.alpha), *m2, *m1 / L::splat(self.bc1));
        *p = param + (L::splat(self.neg_lr) * u) / d;
    }
}

rule_step! {
    /// AdEMAMix: updates `params`, `exp_avg` (`m₁`, fast), `exp_avg_sq` (`v`) and
    /// `exp_avg_slow` (`m₂`, slow) in place: Adam whose numerator mixes a fast and a very slow
    /// average of the gradient.
    ///
    /// For every index `i`, with `s = grad_scale`, `t = step` (1-based), `bcₖ = 1 − βₖᵗ`:
    /// ```text
    /// g ← s·grads[i]                         (−s·grads[i] with maximize)
    /// θ ← θ·(1 − ηλ)  or  g ← g + λθ          (weight_decouple, or L2)
    /// m₁ ← β₁·m₁ + (1 − β₁)·g
    /// v  ← β₂·v + (1 − β₂)·g²
    /// m₂ ← β₃ₜ·m₂ + (1 − β₃ₜ)·g
    /// θ ← θ − η·(m₁/bc₁ + αₜ·m₂) / (√v/√bc₂ + ε)
    /// ```
    /// Without `T`: `αₜ = α`, `β₃ₜ = β₃`; with it `αₜ = min(tα/T, α)` and
    /// `β₃ₜ = min(exp(ln β₁·ln β₃ / ((1 − t/T)·ln β₃ + (t/T)·ln β₁)), β₃)` (f64).
    /// [`Numerics::Torch`]: the package's lerps, `addcmul`, `fma(c(αₜ), m₂, m₁/c(bc₁))` and
    /// `θ + (c(−η)·u)/d`. [`Numerics::Bitsandbytes`] (`AdEMAMix8bit`'s CPU step; with `q8`
    /// states through [`ademamix_step_mixed`] it is that optimizer): `m ← fma(g, c(1 − β),
    /// m·c(β))` for `m₁` and `m₂`, `u = (m₁/c(bc₁) + c(α)·m₂)/d` with every operation rounded,
    /// `θ ← fma(u, c(−η), θ)`.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`], [`Error::InvalidHyperparameter`], [`Error::ZeroStep`].
    /// **Nothing is written when an error is returned.**
    pub fn ademamix_step / ademamix_step_with / ademamix_step_mixed / ademamix_step_mixed_with
    (params, grads, exp_avg, exp_avg_sq, exp_avg_slow; step: u32, cfg: &AdemamixConfig),
    checked: |lens, g| Coef::checked(lens, g, step, cfg),
}
