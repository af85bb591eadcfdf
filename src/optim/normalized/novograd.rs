//! NovoGrad (Ginsburg et al. 2019, "Stochastic Gradient Methods with Layer-wise Adaptive
//! Moments for Training of Deep Networks"), as `optax.novograd` 0.2 computes it: the second
//! moment is one scalar per tensor, from the tensor's gradient norm.

use super::sum_sq_into;
use crate::driver::for_each_chunk;
use crate::format::{Access, Layerwise};
use crate::lanes::Lanes;
use crate::numerics::{Numerics, Profile, c, with_profile};
use crate::optim::mixed_step;
use crate::optim::signed_scale;
use crate::reduce::BlockedSum;
use crate::width::with_width;
use crate::{Error, Width, validate};

/// Hyperparameters of [`novograd_step`]. [`Default`] is `optax.novograd`'s (`learning_rate`
/// has no default there).
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct NovogradConfig {
    /// Learning rate `η`. Default `1e-2`; finite, ≥ 0.
    pub lr: f64,
    /// `β₁`. Default `0.9`; finite, in `[0, 1)`.
    pub beta1: f64,
    /// `β₂` (of the per-tensor second moment). Default `0.25`; finite, in `[0, 1)`.
    pub beta2: f64,
    /// `ε`, added to the root. Default `1e-6`; finite, ≥ 0.
    pub eps: f64,
    /// `ε_root`, added under the root. Default `0`; finite, ≥ 0.
    pub eps_root: f64,
    /// Weight decay `λ`, added to the normalised gradient. Default `0`; finite, ≥ 0.
    pub weight_decay: f64,
    /// Maximize the objective (negate the gradient first). Default `false`.
    pub maximize: bool,
    /// Multiplier `s` applied to the gradient first. Default `1` (exact); finite, ≥ 0.
    pub grad_scale: f32,
    /// Operation order. Default [`Numerics::Torch`] (here: optax's, unfused).
    pub numerics: Numerics,
}

impl Default for NovogradConfig {
    fn default() -> Self {
        Self {
            lr: 1e-2,
            beta1: 0.9,
            beta2: 0.25,
            eps: 1e-6,
            eps_root: 0.0,
            weight_decay: 0.0,
            maximize: false,
            grad_scale: 1.0,
            numerics: Numerics::Torch,
        }
    }
}

/// NovoGrad's per-tensor second moment (optax's f32 `nu`). Start from 0 (`Default`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
pub struct NovogradState {
    /// `ν`.
    pub nu: f32,
}

/// NovoGrad on one tensor: updates `params` and `mu` (`m`) in place and `state` (`ν`).
///
/// With `s = grad_scale`, `t = step` (1-based), `g ← ±s·grads`:
/// ```text
/// n = ‖g‖₂²                                (this tensor; fixed-order f64 sum, then f32)
/// ν ← n  (t = 1),  else (1 − β₂)·n + β₂·ν   (f32)
/// g' = g/(√(ν + ε_root) + ε) + λ·θ
/// m ← g'  (t = 1),  else β₁·m + g'          (no 1 − β₁, as optax)
/// θ ← θ − η·m
/// ```
/// Both profiles compute it unfused (optax leaves fusion to XLA); `Torch` fuses the last line.
///
/// # Errors
/// [`Error::LengthMismatch`], [`Error::InvalidHyperparameter`], [`Error::ZeroStep`].
/// **Nothing is written, and `state` is unchanged, when an error is returned.**
pub fn novograd_step(
    params: &mut [f32],
    grads: &[f32],
    mu: &mut [f32],
    step: u32,
    state: &mut NovogradState,
    cfg: &NovogradConfig,
) -> Result<(), Error> {
    novograd_step_with(Width::NATIVE_TWO_PASS, params, grads, mu, step, state, cfg)
}

/// [`novograd_step`] at an explicit lane width (tests, benches).
#[doc(hidden)]
pub fn novograd_step_with(
    width: Width,
    params: &mut [f32],
    grads: &[f32],
    mu: &mut [f32],
    step: u32,
    state: &mut NovogradState,
    cfg: &NovogradConfig,
) -> Result<(), Error> {
    let k = Coef::checked([params.len(), mu.len()], grads.len(), step, cfg)?;
    let mut sum = BlockedSum::new();
    sum_sq_into(width, grads, &mut sum);
    let nu = k.nu(sum.finish(), state.nu);
    k.update(width, params, grads, mu, nu);
    state.nu = nu;
    Ok(())
}

mixed_step! {
    /// [`novograd_step`] in mixed storage formats ([`crate::format`]): bf16/f16 gradients;
    /// f32 parameters (optionally writing a bf16/f16 copy of the new values in the same pass)
    /// or bf16 parameters; `mu` in f32, bf16, `q8`, `q4` or `fp8`. The slices are one tensor
    /// (its gradient norm), as in `novograd_step`, whose bits the values as read give: pass 1
    /// sums `‖g‖²` over the gradients as read, pass 2 steps and stores every buffer in its
    /// format; `state` is written only on success.
    ///
    /// # Errors
    /// As [`novograd_step`], and the format errors of [`crate::adam_step_mixed`]. **Nothing is
    /// written, and `state` is unchanged, when an error is returned.**
    novograd_step_mixed, novograd_step_mixed_with,
    (params, grads, mu; step: u32, state: &mut NovogradState, cfg: &NovogradConfig),
    checked: |[n, m], [g]| {
        let k = Coef::checked([n, m], g, step, cfg)?;
        Ok(Staged { k, sum: BlockedSum::new(), prev: state.nu, nu: 0.0 })
    },
    then: |k| state.nu = k.nu,
    driver: mixed_layerwise,
}

/// The validated hyperparameters of one call.
struct Coef {
    scale: f32,
    first: bool,
    beta1: f32,
    beta2: f32,
    one_minus_beta2: f32,
    eps: f32,
    eps_root: f32,
    wd: f32,
    neg_lr: f32,
    numerics: Numerics,
}

impl Coef {
    /// The checks of a call with `lens` = (`params`, `mu`) and `grads` elements.
    fn checked(
        [n, mu]: [usize; 2],
        grads: usize,
        step: u32,
        cfg: &NovogradConfig,
    ) -> Result<Self, Error> {
        validate::len("grads", n, grads)?;
        validate::len("mu", n, mu)?;
        validate::numerics(cfg.numerics, &[])?;
        let lr = validate::non_negative("lr", cfg.lr)?;
        let beta1 = validate::unit_half_open("beta1", cfg.beta1)?;
        let beta2 = validate::unit_half_open("beta2", cfg.beta2)?;
        let eps = validate::non_negative("eps", cfg.eps)?;
        let eps_root = validate::non_negative("eps_root", cfg.eps_root)?;
        let wd = validate::non_negative("weight_decay", cfg.weight_decay)?;
        let scale = signed_scale(cfg.grad_scale, cfg.maximize)?;
        validate::step(step)?;
        Ok(Self {
            scale,
            first: step == 1,
            beta1: c(beta1),
            beta2: c(beta2),
            one_minus_beta2: c(1.0 - beta2),
            eps: c(eps),
            eps_root: c(eps_root),
            wd: c(wd),
            neg_lr: c(-lr),
            numerics: cfg.numerics,
        })
    }

    /// The new `ν` from `Σg²` of the raw gradients and the previous `ν`: `‖s·g‖² = s²·Σg²`
    /// (the sum taken on the raw gradient, no scaled copy), rounded to f32.
    fn nu(&self, sum_sq: f64, prev: f32) -> f32 {
        let n2 = (sum_sq * f64::from(self.scale) * f64::from(self.scale)) as f32;
        if self.first { n2 } else { self.one_minus_beta2 * n2 + self.beta2 * prev }
    }

    /// Pass 2: the update with this tensor's `ν`.
    fn update(&self, width: Width, params: &mut [f32], grads: &[f32], mu: &mut [f32], nu: f32) {
        let denom = (nu + self.eps_root).sqrt() + self.eps;
        let (first, scale, wd, beta1, neg_lr) =
            (self.first, self.scale, self.wd, self.beta1, self.neg_lr);
        with_width!(width, two_pass, |L, N| with_profile!(self.numerics, |P| {
            for_each_chunk::<N, 2, 1>(
                [params, mu],
                [grads],
                #[inline(always)]
                |[p, m], [g]| {
                    let param = L::load(p);
                    let g = L::load(g) * L::splat(scale);
                    let gp = g / L::splat(denom) + L::splat(wd) * param;
                    let m_new = if first { gp } else { L::load(m) * L::splat(beta1) + gp };
                    m_new.store(m);
                    P::fma(L::splat(neg_lr), m_new, param).store(p);
                },
            )
        }));
    }
}

/// NovoGrad through the staged driver: pass 1 sums `Σg²`, pass 2 is the update.
struct Staged {
    k: Coef,
    sum: BlockedSum<'static>,
    /// The previous `ν` (the caller's state), and the new one after pass 1.
    prev: f32,
    nu: f32,
}

impl Layerwise<2, 1> for Staged {
    fn reads(&self, _: usize) -> [Access; 2] {
        [Access::Skip, Access::Skip]
    }

    fn reduce(&mut self, _: usize, width: Width, _: [&mut [f32]; 2], [g]: [&[f32]; 1]) {
        sum_sq_into(width, g, &mut self.sum);
    }

    fn finish(&mut self, _: usize) -> bool {
        let sum = self.sum.take();
        self.nu = self.k.nu(sum, self.prev);
        false
    }

    fn update(&mut self, width: Width, [p, m]: [&mut [f32]; 2], [g]: [&[f32]; 1]) {
        self.k.update(width, p, g, m, self.nu);
    }
}
