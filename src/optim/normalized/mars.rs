//! MARS (Yuan et al. 2024, "MARS: Unleashing the Power of Variance Reduction for Training
//! Large Models"), as `pytorch_optimizer.MARS` 4.1 computes it on a flat slice: by default its
//! 1-D AdamW fallback; with `optimize_1d` the variance-reduced gradient, clipped to unit norm
//! over the tensor, fed to AdamW or to a Lion-style sign step.

use crate::driver::{for_each_chunk, for_each_chunk_summed};
use crate::format::{Access, Layerwise};
use crate::lanes::Lanes;
use crate::numerics::{Numerics, Profile, TorchLerp, bias_corrections, c, with_profile};
use crate::optim::mixed_step;
use crate::optim::signed_scale;
use crate::reduce::{BlockedSum, square, terms};
use crate::width::with_width;
use crate::{Error, Width, validate};

/// The direction MARS takes from its averages (`mars_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum MarsType {
    /// AdamW: `m/((√v + ε)/√bc₂·bc₁)`.
    Adamw = 0,
    /// Lion: `sign(m)` (the second moment is not used).
    Lion = 1,
}

/// Hyperparameters of [`mars_step`]. [`Default`] is `pytorch_optimizer.MARS`'s (no AMSGrad,
/// no cautious masking: not offered).
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct MarsConfig {
    /// Learning rate `η`. Default `3e-3`; finite, ≥ 0.
    pub lr: f64,
    /// `β₁` (`optimize_1d`). Default `0.95`; finite, in `[0, 1)`.
    pub beta1: f64,
    /// `β₂` (`optimize_1d`). Default `0.99`; finite, in `[0, 1)`.
    pub beta2: f64,
    /// `γ`, the weight of the gradient difference. Default `0.025`; finite, ≥ 0.
    pub gamma: f64,
    /// `ε`. Default `1e-8`; finite, ≥ 0.
    pub eps: f64,
    /// Decoupled weight decay `λ` (`optimize_1d`). Default `0`; finite, ≥ 0.
    pub weight_decay: f64,
    /// The direction (`optimize_1d`). Default [`MarsType::Adamw`].
    pub mars_type: MarsType,
    /// Use MARS on this (flat) tensor; else the package's AdamW fallback for 1-D tensors with
    /// the `*_1d` hyperparameters. Default `false`.
    pub optimize_1d: bool,
    /// The fallback's learning-rate factor. Default `1`; finite, ≥ 0.
    pub lr_1d_factor: f64,
    /// The fallback's `β₁`. Default `0.9`; finite, in `[0, 1)`.
    pub beta1_1d: f64,
    /// The fallback's `β₂`. Default `0.95`; finite, in `[0, 1)`.
    pub beta2_1d: f64,
    /// The fallback's decoupled weight decay, applied before its step. Default `0.1`; finite,
    /// ≥ 0.
    pub weight_decay_1d: f64,
    /// Maximize the objective (negate the gradient first). Default `false`.
    pub maximize: bool,
    /// Multiplier `s` applied to the gradient first. Default `1` (exact); finite, ≥ 0.
    pub grad_scale: f32,
    /// Operation order. Default [`Numerics::Torch`] (the package's).
    pub numerics: Numerics,
}

impl Default for MarsConfig {
    fn default() -> Self {
        Self {
            lr: 3e-3,
            beta1: 0.95,
            beta2: 0.99,
            gamma: 0.025,
            eps: 1e-8,
            weight_decay: 0.0,
            mars_type: MarsType::Adamw,
            optimize_1d: false,
            lr_1d_factor: 1.0,
            beta1_1d: 0.9,
            beta2_1d: 0.95,
            weight_decay_1d: 0.1,
            maximize: false,
            grad_scale: 1.0,
            numerics: Numerics::Torch,
        }
    }
}

/// MARS on one tensor: updates `params`, `exp_avg` (`m`), `exp_avg_sq` (`v`, untouched by the
/// Lion type) and `last_grad` (`g₋`, start it at 0) in place.
///
/// With `s = grad_scale`, `t = step` (1-based), `g ← ±s·grads`, `bcₖ = 1 − βₖᵗ`:
/// ```text
/// optimize_1d:
///   c = (g − g₋)·(γβ₁/(1 − β₁)) + g;   c ← c/‖c‖₂ if ‖c‖₂ > 1   (this tensor, f64 sum)
///   m ← β₁·m + (1 − β₁)·c
///   Adamw: v ← β₂·v + (1 − β₂)·c²;  u = m/((√v + ε)/√bc₂·bc₁)     Lion: u = sign(m)
///   θ ← θ·(1 − ηλ);   θ ← θ − η·u
/// else (the 1-D fallback, η' = η·lr_1d_factor, the *_1d betas and decay):
///   m ← β₁·m + (1 − β₁)·g;  v ← β₂·v + (1 − β₂)·g²
///   θ ← θ·(1 − η'λ);   θ ← θ − η'·m/((√v + ε)/√bc₂·bc₁)
/// g₋ ← g
/// ```
/// [`Numerics::Torch`]: the lerps, `addcmul`, `fma(c(−η), u, θ)`, as the package.
///
/// # Errors
/// [`Error::LengthMismatch`], [`Error::InvalidHyperparameter`], [`Error::ZeroStep`].
/// **Nothing is written when an error is returned.**
pub fn mars_step(
    params: &mut [f32],
    grads: &[f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    last_grad: &mut [f32],
    step: u32,
    cfg: &MarsConfig,
) -> Result<(), Error> {
    mars_step_with(Width::NATIVE_TWO_PASS, params, grads, exp_avg, exp_avg_sq, last_grad, step, cfg)
}

/// [`mars_step`] at an explicit lane width (tests, benches).
#[doc(hidden)]
#[allow(clippy::too_many_arguments)]
pub fn mars_step_with(
    width: Width,
    params: &mut [f32],
    grads: &[f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    last_grad: &mut [f32],
    step: u32,
    cfg: &MarsConfig,
) -> Result<(), Error> {
    let lens = [params.len(), exp_avg.len(), exp_avg_sq.len(), last_grad.len()];
    let k = Coef::checked(lens, grads.len(), step, cfg)?;
    let mut sum = BlockedSum::new();
    if k.vr {
        k.norm_pass(width, grads, last_grad, &mut sum);
    }
    k.update(width, [params, exp_avg, exp_avg_sq, last_grad], grads, k.clip(sum.finish()));
    Ok(())
}

mixed_step! {
    /// [`mars_step`] in mixed storage formats ([`crate::format`]): bf16/f16 gradients; f32
    /// parameters (optionally writing a bf16/f16 copy of the new values in the same pass) or
    /// bf16 parameters; `exp_avg`, `exp_avg_sq` and `last_grad` in f32, bf16, `q8`, `q4` or
    /// `fp8` (`exp_avg_sq` is stored back unchanged by the Lion type, as the f32 kernel leaves
    /// it). The slices are one tensor (its clipping norm with `optimize_1d`), as in
    /// `mars_step`, whose bits the values as read give: pass 1 sums `‖c‖²` from the gradients
    /// and `last_grad` as read, pass 2 steps and stores every buffer in its format.
    ///
    /// # Errors
    /// As [`mars_step`], and the format errors of [`crate::adam_step_mixed`]. **Nothing is
    /// written when an error is returned.**
    mars_step_mixed, mars_step_mixed_with,
    (params, grads, exp_avg, exp_avg_sq, last_grad; step: u32, cfg: &MarsConfig),
    checked: |lens, [g]| {
        let k = Coef::checked(lens, g, step, cfg)?;
        Ok(Staged { k, sum: BlockedSum::new(), clip: None })
    },
    driver: mixed_layerwise,
}

/// The validated hyperparameters of one call.
struct Coef {
    scale: f32,
    /// `optimize_1d`: the variance-reduced, clipped gradient.
    vr: bool,
    lion: bool,
    /// `c(γβ₁/(1 − β₁))`.
    k: f32,
    lerp1: TorchLerp,
    beta1: f32,
    one_minus_beta1: f32,
    beta2: f32,
    one_minus_beta2: f32,
    bc1: f32,
    bc2_sqrt: f32,
    decay: f32,
    neg_lr: f32,
    eps: f32,
    numerics: Numerics,
}

impl Coef {
    /// The checks of a call with `lens` = (`params`, `exp_avg`, `exp_avg_sq`, `last_grad`) and
    /// `grads` elements.
    fn checked(
        [n, m, v, gp]: [usize; 4],
        grads: usize,
        step: u32,
        cfg: &MarsConfig,
    ) -> Result<Self, Error> {
        validate::len("grads", n, grads)?;
        validate::len("exp_avg", n, m)?;
        validate::len("exp_avg_sq", n, v)?;
        validate::len("last_grad", n, gp)?;
        validate::numerics(cfg.numerics, &[])?;
        let lr = validate::non_negative("lr", cfg.lr)?;
        let beta1 = validate::unit_half_open("beta1", cfg.beta1)?;
        let beta2 = validate::unit_half_open("beta2", cfg.beta2)?;
        let gamma = validate::non_negative("gamma", cfg.gamma)?;
        let eps = validate::non_negative("eps", cfg.eps)?;
        let wd = validate::non_negative("weight_decay", cfg.weight_decay)?;
        let factor = validate::non_negative("lr_1d_factor", cfg.lr_1d_factor)?;
        let beta1_1d = validate::unit_half_open("beta1_1d", cfg.beta1_1d)?;
        let beta2_1d = validate::unit_half_open("beta2_1d", cfg.beta2_1d)?;
        let wd_1d = validate::non_negative("weight_decay_1d", cfg.weight_decay_1d)?;
        let scale = signed_scale(cfg.grad_scale, cfg.maximize)?;
        validate::step(step)?;
        let (b1, b2, lr, wd) = if cfg.optimize_1d {
            (beta1, beta2, lr, wd)
        } else {
            (beta1_1d, beta2_1d, lr * factor, wd_1d)
        };
        let (bc1, bc2) = bias_corrections(b1, b2, step);
        Ok(Self {
            scale,
            vr: cfg.optimize_1d,
            lion: cfg.optimize_1d && cfg.mars_type == MarsType::Lion,
            k: c(gamma * (beta1 / (1.0 - beta1))),
            lerp1: TorchLerp::with_weight(1.0 - b1),
            beta1: c(b1),
            one_minus_beta1: c(1.0 - b1),
            beta2: c(b2),
            one_minus_beta2: c(1.0 - b2),
            bc1: c(bc1),
            bc2_sqrt: c(libm::sqrt(bc2)),
            decay: c(1.0 - lr * wd),
            neg_lr: c(-lr),
            eps: c(eps),
            numerics: cfg.numerics,
        })
    }

    /// Pass 1 (`optimize_1d`): `‖c‖²` of the variance-reduced gradient into `sum`.
    fn norm_pass(&self, width: Width, grads: &[f32], last_grad: &[f32], sum: &mut BlockedSum<'_>) {
        let (scale, k) = (self.scale, self.k);
        with_width!(width, two_pass, |L, N| {
            for_each_chunk_summed::<N, 0, 2, 1>(
                [],
                [grads, last_grad],
                [&mut *sum],
                #[inline(always)]
                |[], [g, gp]| {
                    let g = L::load(g) * L::splat(scale);
                    [terms(&((g - L::load(gp)) * L::splat(k) + g).to_array(), square)]
                },
            )
        });
    }

    /// The clipping divisor from pass 1's sum: `‖c‖` where it exceeds 1 (`optimize_1d` only).
    fn clip(&self, sum: f64) -> Option<f32> {
        let norm = if self.vr { libm::sqrt(sum) } else { 0.0 };
        (norm > 1.0).then(|| c(norm))
    }

    /// Pass 2: the averages and the step.
    fn update(&self, width: Width, bufs: [&mut [f32]; 4], grads: &[f32], clip: Option<f32>) {
        let k = self;
        with_width!(width, two_pass, |L, N| with_profile!(k.numerics, |P| {
            for_each_chunk::<N, 4, 1>(
                bufs,
                [grads],
                #[inline(always)]
                |[p, m, v, gp], [g]| {
                    let g = L::load(g) * L::splat(k.scale);
                    let x = if k.vr { (g - L::load(gp)) * L::splat(k.k) + g } else { g };
                    let x = match clip {
                        Some(norm) => x / L::splat(norm),
                        None => x,
                    };
                    let m_new = if P::TORCH {
                        k.lerp1.apply::<P, L, N>(L::load(m), x)
                    } else {
                        L::load(m) * L::splat(k.beta1) + x * L::splat(k.one_minus_beta1)
                    };
                    m_new.store(m);
                    let u = if k.lion {
                        m_new.sign()
                    } else {
                        let v_new = P::fma(
                            L::splat(k.one_minus_beta2) * x,
                            x,
                            L::load(v) * L::splat(k.beta2),
                        );
                        v_new.store(v);
                        let d = (v_new.sqrt() + L::splat(k.eps)) / L::splat(k.bc2_sqrt);
                        m_new / (d * L::splat(k.bc1))
                    };
                    let param = L::load(p) * L::splat(k.decay);
                    P::fma(L::splat(k.neg_lr), u, param).store(p);
                    g.store(gp);
                },
            )
        }));
    }
}

/// MARS through the staged driver: pass 1 sums `‖c‖²` (with `optimize_1d`), pass 2 steps.
struct Staged {
    k: Coef,
    sum: BlockedSum<'static>,
    clip: Option<f32>,
}

impl Layerwise<4, 1> for Staged {
    fn reads(&self, _: usize) -> [Access; 4] {
        let last = if self.k.vr { Access::Read } else { Access::Skip };
        [Access::Skip, Access::Skip, Access::Skip, last]
    }

    fn reduce(&mut self, _: usize, width: Width, [_, _, _, gp]: [&mut [f32]; 4], [g]: [&[f32]; 1]) {
        if self.k.vr {
            self.k.norm_pass(width, g, gp, &mut self.sum);
        }
    }

    fn finish(&mut self, _: usize) -> bool {
        let sum = self.sum.take();
        self.clip = self.k.clip(sum);
        false
    }

    fn update(&mut self, width: Width, bufs: [&mut [f32]; 4], [g]: [&[f32]; 1]) {
        self.k.update(width, bufs, g, self.clip);
    }
}
