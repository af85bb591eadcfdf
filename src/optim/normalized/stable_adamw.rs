//! StableAdamW (Wortsman et al. 2023, "Stable and low-precision training for large-scale
//! vision-language models"), as `pytorch_optimizer.StableAdamW` 4.1 computes it: AdamW with
//! debiased betas and the learning rate divided by the update's RMS when it exceeds 1 (a
//! per-tensor mean).

use crate::driver::{for_each_chunk, for_each_chunk_summed};
use crate::format::{Access, Layerwise};
use crate::lanes::Lanes;
use crate::numerics::{Numerics, Profile, TorchLerp, c, pow_step2, with_profile};
use crate::optim::mixed_step;
use crate::optim::signed_scale;
use crate::reduce::{BlockedSum, terms};
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
    let k = Coef::checked([n, exp_avg.len(), exp_avg_sq.len()], grads.len(), step, cfg)?;
    let mut sum = BlockedSum::new();
    k.moments(width, grads, exp_avg, exp_avg_sq, &mut sum);
    k.apply(width, params, exp_avg, exp_avg_sq, k.lr_t(sum.finish(), n));
    Ok(())
}

mixed_step! {
    /// [`stable_adamw_step`] in mixed storage formats ([`crate::format`]): bf16/f16 gradients;
    /// f32 parameters (optionally writing a bf16/f16 copy of the new values in the same pass)
    /// or bf16 parameters; `exp_avg` and `exp_avg_sq` in f32, bf16, `q8`, `q4` or `fp8`. The
    /// slices are one tensor (its update RMS), as in `stable_adamw_step`, whose bits the
    /// values as read give: pass 1 computes the new moments on copies for the mean (storing
    /// nothing), pass 2 computes them again and steps, then stores every buffer in its format.
    ///
    /// # Errors
    /// As [`stable_adamw_step`], and the format errors of [`crate::adam_step_mixed`].
    /// **Nothing is written when an error is returned.**
    stable_adamw_step_mixed, stable_adamw_step_mixed_with,
    (params, grads, exp_avg, exp_avg_sq; step: u32, cfg: &StableAdamwConfig),
    checked: |[n, m, v], [g]| {
        let k = Coef::checked([n, m, v], g, step, cfg)?;
        Ok(Staged { k, n, sum: BlockedSum::new(), lr_t: 0.0 })
    },
    driver: mixed_layerwise,
}

/// The validated hyperparameters of one call.
struct Coef {
    scale: f32,
    lerp1: TorchLerp,
    beta1: f32,
    one_minus_beta1: f32,
    beta2: f32,
    one_minus_beta2: f32,
    /// `c(ε²)`, `c(ε)`.
    eps2: f32,
    eps: f32,
    lr: f64,
    wd: f64,
    numerics: Numerics,
}

impl Coef {
    /// The checks of a call with `lens` = (`params`, `exp_avg`, `exp_avg_sq`) and `grads`
    /// elements.
    fn checked(
        [n, m, v]: [usize; 3],
        grads: usize,
        step: u32,
        cfg: &StableAdamwConfig,
    ) -> Result<Self, Error> {
        validate::len("grads", n, grads)?;
        validate::len("exp_avg", n, m)?;
        validate::len("exp_avg_sq", n, v)?;
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
        Ok(Self {
            scale,
            lerp1: TorchLerp::with_weight(1.0 - b1),
            beta1: c(b1),
            one_minus_beta1: c(1.0 - b1),
            beta2: c(b2),
            one_minus_beta2: c(1.0 - b2),
            eps2: c(eps * eps),
            eps: c(eps),
            lr,
            wd,
            numerics: cfg.numerics,
        })
    }

    /// Pass 1: the moments, and `Σ g²/max(v, ε²)` into `sum`.
    fn moments(
        &self,
        width: Width,
        grads: &[f32],
        exp_avg: &mut [f32],
        exp_avg_sq: &mut [f32],
        sum: &mut BlockedSum<'_>,
    ) {
        let k = self;
        with_width!(width, two_pass, |L, N| with_profile!(k.numerics, |P| {
            for_each_chunk_summed::<N, 2, 1, 1>(
                [exp_avg, exp_avg_sq],
                [grads],
                [&mut *sum],
                #[inline(always)]
                |[m, v], [g]| {
                    let g = L::load(g) * L::splat(k.scale);
                    let m_new = if P::TORCH {
                        k.lerp1.apply::<P, L, N>(L::load(m), g)
                    } else {
                        L::load(m) * L::splat(k.beta1) + g * L::splat(k.one_minus_beta1)
                    };
                    let v_new =
                        P::fma(L::splat(k.one_minus_beta2) * g, g, L::load(v) * L::splat(k.beta2));
                    m_new.store(m);
                    v_new.store(v);
                    let ratio = ((g * g) / v_new.max_nan(L::splat(k.eps2))).to_array();
                    [terms(&ratio, f64::from)]
                },
            )
        }));
    }

    /// `η' = η/max(1, √mean)` from the sum of pass 1 over `n` elements.
    fn lr_t(&self, sum: f64, n: usize) -> f64 {
        let mean = if n > 0 { sum / n as f64 } else { 0.0 };
        self.lr / libm::sqrt(mean).max(1.0)
    }

    /// Pass 2: the decay and the update with `η'`.
    fn apply(
        &self,
        width: Width,
        params: &mut [f32],
        exp_avg: &[f32],
        exp_avg_sq: &[f32],
        lr_t: f64,
    ) {
        let (decay, neg_lr, eps) = (c(1.0 - lr_t * self.wd), c(-lr_t), self.eps);
        with_width!(width, two_pass, |L, N| {
            for_each_chunk::<N, 1, 2>(
                [params],
                [exp_avg, exp_avg_sq],
                #[inline(always)]
                |[p], [m, v]| {
                    let param = L::load(p) * L::splat(decay);
                    let d = (L::load(v).sqrt() + L::splat(eps)) / L::splat(neg_lr);
                    (param + L::load(m) / d).store(p);
                },
            )
        });
    }
}

/// StableAdamW through the staged driver: pass 1 on copies of the moments for the mean, pass 2
/// recomputes the moments and steps.
struct Staged {
    k: Coef,
    n: usize,
    sum: BlockedSum<'static>,
    lr_t: f64,
}

impl Layerwise<3, 1> for Staged {
    fn reads(&self, _: usize) -> [Access; 3] {
        [Access::Skip, Access::Scratch, Access::Scratch]
    }

    fn reduce(&mut self, _: usize, width: Width, [_, m, v]: [&mut [f32]; 3], [g]: [&[f32]; 1]) {
        self.k.moments(width, g, m, v, &mut self.sum);
    }

    fn finish(&mut self, _: usize) -> bool {
        let sum = self.sum.take();
        self.lr_t = self.k.lr_t(sum, self.n);
        false
    }

    fn update(&mut self, width: Width, [p, m, v]: [&mut [f32]; 3], [g]: [&[f32]; 1]) {
        self.k.moments(width, g, m, v, &mut BlockedSum::new());
        self.k.apply(width, p, m, v, self.lr_t);
    }
}
