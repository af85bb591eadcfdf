//! NovoGrad (Ginsburg et al. 2019, "Stochastic Gradient Methods with Layer-wise Adaptive
//! Moments for Training of Deep Networks"), as `optax.novograd` 0.2 computes it: the second
//! moment is one scalar per tensor, from the tensor's gradient norm.

use super::sum_sq;
use crate::driver::for_each_chunk;
use crate::lanes::Lanes;
use crate::numerics::{Numerics, Profile, c, with_profile};
use crate::optim::rule::signed_scale;
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
    let n = params.len();
    validate::len("grads", n, grads.len())?;
    validate::len("mu", n, mu.len())?;
    validate::numerics(cfg.numerics, &[])?;
    let lr = validate::non_negative("lr", cfg.lr)?;
    let beta1 = validate::unit_half_open("beta1", cfg.beta1)?;
    let beta2 = validate::unit_half_open("beta2", cfg.beta2)?;
    let eps = validate::non_negative("eps", cfg.eps)?;
    let eps_root = validate::non_negative("eps_root", cfg.eps_root)?;
    let wd = validate::non_negative("weight_decay", cfg.weight_decay)?;
    let scale = signed_scale(cfg.grad_scale, cfg.maximize)?;
    validate::step(step)?;
    // ‖s·g‖² = s²·‖g‖², the sum taken on the raw gradient (no scaled copy).
    let n2 = (sum_sq(width, grads) * f64::from(scale) * f64::from(scale)) as f32;
    let first = step == 1;
    let nu = if first { n2 } else { c(1.0 - beta2) * n2 + c(beta2) * state.nu };
    let denom = (nu + c(eps_root)).sqrt() + c(eps);
    let (wd, beta1, neg_lr) = (c(wd), c(beta1), c(-lr));
    with_width!(width, two_pass, |L, N| with_profile!(cfg.numerics, |P| {
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
    state.nu = nu;
    Ok(())
}
