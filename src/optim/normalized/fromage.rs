//! Fromage (Bernstein et al. 2020, "On the distance between two neural networks and the
//! stability of learning"), as `pytorch_optimizer.Fromage` 4.1 computes it: a step whose size
//! is relative to the tensor's norm, then a shrink by `√(1 + η²)`.

use super::sum_sq;
use crate::driver::for_each_chunk;
use crate::lanes::Lanes;
use crate::numerics::{Numerics, Profile, c, with_profile};
use crate::optim::rule::signed_scale;
use crate::width::with_width;
use crate::{Error, Width, validate};

/// Hyperparameters of [`fromage_step`]. [`Default`] is `pytorch_optimizer.Fromage`'s.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct FromageConfig {
    /// Learning rate `η`. Default `0.01`; finite, ≥ 0.
    pub lr: f64,
    /// Bound on the tensor's norm relative to its initial norm (`0`: none). Default `0`;
    /// finite, ≥ 0.
    pub p_bound: f64,
    /// Maximize the objective (negate the gradient first). Default `false`.
    pub maximize: bool,
    /// Multiplier `s` applied to the gradient first. Default `1` (exact); finite, ≥ 0.
    pub grad_scale: f32,
    /// Operation order. Default [`Numerics::Torch`] (the package's).
    pub numerics: Numerics,
}

impl Default for FromageConfig {
    fn default() -> Self {
        Self { lr: 0.01, p_bound: 0.0, maximize: false, grad_scale: 1.0, numerics: Numerics::Torch }
    }
}

/// Fromage's per-tensor state: the norm bound `p_bound·‖θ₀‖`, set on step 1 (the package's
/// `max`). Start from `Default` (0).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
pub struct FromageState {
    /// The largest norm the tensor may take (`max`).
    pub max: f64,
}

/// Fromage on one tensor: updates `params` in place (three passes at most: the norms, the
/// step, the bound) and, on step 1 with `p_bound`, sets `state`.
///
/// With `s = grad_scale`, `t = step` (1-based), `g ← ±s·grads`, norms over the tensor (fixed-order
/// f64 sums):
/// ```text
/// t = 1: max = p_bound·‖θ‖                         (p_bound > 0)
/// θ ← θ − η·(‖θ‖/‖g‖)·g     (θ ← θ − η·g if either norm is 0)
/// θ ← θ/√(1 + η²)
/// θ ← θ·max/‖θ‖            (p_bound > 0 and ‖θ‖ > max)
/// ```
/// [`Numerics::Torch`]: the steps fused as the package's `add_(alpha=)`.
///
/// # Errors
/// [`Error::LengthMismatch`], [`Error::InvalidHyperparameter`], [`Error::ZeroStep`].
/// **Nothing is written, and `state` is unchanged, when an error is returned.**
pub fn fromage_step(
    params: &mut [f32],
    grads: &[f32],
    step: u32,
    state: &mut FromageState,
    cfg: &FromageConfig,
) -> Result<(), Error> {
    fromage_step_with(Width::NATIVE_TWO_PASS, params, grads, step, state, cfg)
}

/// [`fromage_step`] at an explicit lane width (tests, benches).
#[doc(hidden)]
pub fn fromage_step_with(
    width: Width,
    params: &mut [f32],
    grads: &[f32],
    step: u32,
    state: &mut FromageState,
    cfg: &FromageConfig,
) -> Result<(), Error> {
    validate::len("grads", params.len(), grads.len())?;
    validate::numerics(cfg.numerics, &[])?;
    let lr = validate::non_negative("lr", cfg.lr)?;
    let bound = validate::non_negative("p_bound", cfg.p_bound)?;
    let scale = signed_scale(cfg.grad_scale, cfg.maximize)?;
    validate::step(step)?;
    let p_norm = libm::sqrt(sum_sq(width, params));
    let g_norm = libm::sqrt(sum_sq(width, grads)) * f64::from(scale).abs();
    let max = if step == 1 && bound > 0.0 { bound * p_norm } else { state.max };
    let ratio = if p_norm > 0.0 && g_norm > 0.0 { p_norm / g_norm } else { 1.0 };
    let (k, shrink) = (c(-lr * ratio), c(libm::sqrt(1.0 + lr * lr)));
    with_width!(width, two_pass, |L, N| with_profile!(cfg.numerics, |P| {
        for_each_chunk::<N, 1, 1>(
            [&mut *params],
            [grads],
            #[inline(always)]
            |[p], [g]| {
                let g = L::load(g) * L::splat(scale);
                (P::fma(L::splat(k), g, L::load(p)) / L::splat(shrink)).store(p);
            },
        )
    }));
    if bound > 0.0 {
        let norm = libm::sqrt(sum_sq(width, params));
        if norm > max {
            let f = c(max / norm);
            with_width!(width, two_pass, |L, N| {
                for_each_chunk::<N, 1, 0>(
                    [&mut *params],
                    [],
                    #[inline(always)]
                    |[p], []| (L::load(p) * L::splat(f)).store(p),
                )
            });
        }
    }
    state.max = max;
    Ok(())
}
