//! StableAdamW (Wortsman et al. 2023, "Stable and low-precision training for large-scale
//! vision-language models"), as `pytorch_optimizer.StableAdamW` 4.1 computes it: AdamW with
//! debiased betas and the learning rate divided by the update's RMS when it exceeds 1 (a
//! per-tensor mean).

use crate::driver::{for_each_chunk, for_each_chunk_live};
use crate::lanes::Lanes;
use crate::numerics::{Numerics, Profile, TorchLerp, c, pow_step2, with_profile};
use crate::optim::rule::signed_scale;
use crate::reduce::BlockedSum;
use crate::width::with_width;
use crate::{Error, Width, validate};

/// Hyperparameters of [`stable_adamw_step`]. [`Default`] is `pytorch_optimizer.StableAdamW`'s
/// (its Kahan summation only applies to bf16/f16 parameters).
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct StableAdamwConfig {
    /// Learning rate `η`. Default `1e-3`; finite, ≥ 0.
    pub lr: f64,
    /// `β₁`. Default `0.9`; finite, in `[0, 1)`.
    pub beta1: f64,
    /// `β₂`. Default `0.99`; finite, in `[0, 1)`.
    pub beta2: f64,
    /// `ε`. Default `1e-8`; finite, ≥ 0.
    pub eps: f64,
    /// Decoupled weight decay `λ` (scaled by the step's learning rate). Default `0.01`; finite,
    /// ≥ 0.
    pub weight_decay: f64,
    /// Maximize the objective (negate the gradient first). Default `false`.
    pub maximize: bool,
    /// Multiplier `s` applied to the gradient first. Default `1` (exact); finite, ≥ 0.
    pub grad_scale: f32,
    /// Operation order. Default [`Numerics::Torch`] (the package's).
    pub numerics: Numerics,
}

impl Default for StableAdamwConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.99,
            eps: 1e-8,
            weight_decay: 0.01,
            maximize: false,
            grad_scale: 1.0,
            numerics: Numerics::Torch,
        }
    }
}

/// `β̂(β, t) = (βᵗ − β)/(βᵗ − 1)` from `bt = βᵗ`: the decay that makes an average started at 0
/// unbiased.
fn debiased(beta: f64, bt: f64) -> f64 {
    (bt - beta) / (bt - 1.0)
}

/// StableAdamW on one tensor: updates `params`, `exp_avg` (`m`) and `exp_avg_sq` (`v`) in
/// place, in two passes.
///
/// With `s = grad_scale`, `t = step` (1-based), `g ← ±s·grads`, `β̂ₖ = β̂(βₖ, t)`:
/// ```text
/// m ← β̂₁·m + (1 − β̂₁)·g;   v ← β̂₂·v + (1 − β̂₂)·g²
/// r = max(1, √(mean(g²/max(v, ε²))))         (this tensor; fixed-order f64 sum)
/// η' = η/r
/// θ ← θ·(1 − η'λ);   θ ← θ − η'·m/(√v + ε)
/// ```
/// [`Numerics::Torch`]: `m = lerp(m, g, c(1 − β̂₁))`, `v = fma(c(1 − β̂₂)·g, g, v·c(β̂₂))`,
/// `θ + m/((√v + ε)/c(−η'))` as the package divides.
///
/// # Errors
/// [`Error::LengthMismatch`], [`Error::InvalidHyperparameter`], [`Error::ZeroStep`].
/// **Nothing is written when an error is returned.**
pub fn stable_adamw_step(
    params: &mut [f32],
    grads: &[f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    step: u32,
    cfg: &StableAdamwConfig,
) -> Result<(), Error> {
    stable_adamw_step_with(Width::NATIVE_TWO_PASS, params, grads, exp_avg, exp_avg_sq, step, cfg)
}

/// [`stable_adamw_step`] at an explicit lane width (tests, benches).
#[doc(hidden)]
pub fn stable_adamw_step_with(
    width: Width,
    params: &mut [f32],
    grads: &[f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    step: u32,
    cfg: &StableAdamwConfig,
) -> Result<(), Error> {
    let n = params.len();
    validate::len("grads", n, grads.len())?;
    validate::len("exp_avg", n, exp_avg.len())?;
    validate::len("exp_avg_sq", n, exp_avg_sq.len())?;
    validate::numerics(cfg.numerics, &[])?;
    let lr = validate::non_negative("lr", cfg.lr)?;
    let beta1 = validate::unit_half_open("beta1", cfg.beta1)?;
    let beta2 = validate::unit_half_open("beta2", cfg.beta2)?;
    let eps = validate::non_negative("eps", cfg.eps)?;
    let wd = validate::non_negative("weight_decay", cfg.weight_decay)?;
    let scale = signed_scale(cfg.grad_scale, cfg.maximize)?;
    validate::step(step)?;
    let [bt1, bt2] = pow_step2([beta1, beta2], step);
    let (b1, b2) = (debiased(beta1, bt1), debiased(beta2, bt2));
    let lerp1 = TorchLerp::with_weight(1.0 - b1);
    let (beta1, one_minus_beta1) = (c(b1), c(1.0 - b1));
    let (beta2, one_minus_beta2) = (c(b2), c(1.0 - b2));
    let eps2 = c(eps * eps);
    let mut sum = BlockedSum::new();
    // Pass 1: the moments and Σ g²/max(v, ε²).
    with_width!(width, two_pass, |L, N| with_profile!(cfg.numerics, |P| {
        for_each_chunk_live::<N, 2, 1>(
            [&mut *exp_avg, &mut *exp_avg_sq],
            [grads],
            #[inline(always)]
            |live, [m, v], [g]| {
                let g = L::load(g) * L::splat(scale);
                let m_new = if P::TORCH {
                    lerp1.apply::<P, L, N>(L::load(m), g)
                } else {
                    L::load(m) * L::splat(beta1) + g * L::splat(one_minus_beta1)
                };
                let v_new = P::fma(L::splat(one_minus_beta2) * g, g, L::load(v) * L::splat(beta2));
                m_new.store(m);
                v_new.store(v);
                let ratio = ((g * g) / v_new.max_nan(L::splat(eps2))).to_array();
                sum.extend_chunk(&ratio, live, f64::from);
            },
        )
    }));
    let mean = if n > 0 { sum.finish() / n as f64 } else { 0.0 };
    let lr_t = lr / libm::sqrt(mean).max(1.0);
    let (decay, neg_lr, eps) = (c(1.0 - lr_t * wd), c(-lr_t), c(eps));
    // Pass 2: the decay and the update.
    with_width!(width, two_pass, |L, N| {
        for_each_chunk::<N, 1, 2>(
            [params],
            [&*exp_avg, &*exp_avg_sq],
            #[inline(always)]
            |[p], [m, v]| {
                let param = L::load(p) * L::splat(decay);
                let d = (L::load(v).sqrt() + L::splat(eps)) / L::splat(neg_lr);
                (param + L::load(m) / d).store(p);
            },
        )
    });
    Ok(())
}
