//! LARS (You et al. 2017, "Large Batch Training of Convolutional Networks"): momentum SGD
//! with a layer-wise local learning rate.

use crate::driver::for_each_chunk;
use crate::lanes::Lanes;
use crate::numerics::{Numerics, Profile, c, with_profile};
use crate::reduce::BlockedSum;
use crate::width::with_width;
use crate::{Error, Width, validate};

/// Hyperparameters of [`lars_step`].
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct LarsConfig {
    /// Global learning rate `γ`. Default `0.1`; finite, ≥ 0.
    pub lr: f64,
    /// Momentum `μ`. Default `0.9`; finite, in `[0, 1]`.
    pub momentum: f64,
    /// Weight decay `β`. Default `1e-4`; finite, ≥ 0.
    pub weight_decay: f64,
    /// Trust coefficient `η`. Default `1e-3`; finite, ≥ 0.
    pub trust_coefficient: f64,
    /// `ε` in the local learning rate's denominator. Default `1e-8`; finite, ≥ 0.
    pub eps: f64,
    /// Maximize the objective (negate the gradient first). Default `false`.
    pub maximize: bool,
    /// Multiplier `s` applied to the gradient first. Default `1` (exact); finite, ≥ 0.
    pub grad_scale: f32,
    /// Operation order. Default [`Numerics::Portable`] (there is no PyTorch reference).
    pub numerics: Numerics,
}

impl Default for LarsConfig {
    fn default() -> Self {
        Self {
            lr: 0.1,
            momentum: 0.9,
            weight_decay: 1e-4,
            trust_coefficient: 1e-3,
            eps: 1e-8,
            maximize: false,
            grad_scale: 1.0,
            numerics: Numerics::Portable,
        }
    }
}

/// LARS (You et al. 2017, Algorithm 1): updates `params` and `velocity` in place; the slices
/// are one layer.
///
/// With `s = grad_scale`:
/// ```text
/// g ← s·grads                            (−s·grads with maximize)
/// λ = η·‖θ‖ / (‖g‖ + β‖θ‖ + ε)   if ‖θ‖ > 0 and ‖g‖ > 0,   else 1     (local learning rate)
/// v ← μv + γλ·(g + βθ)
/// θ ← θ − v
/// ```
/// Two passes and no scratch: the norms (deterministic blocked f64 sums of the scaled
/// gradient and of θ), then the update. [`Numerics::Torch`] fuses `g + βθ` and `μv + γλ·d`.
///
/// # Errors
/// [`Error::LengthMismatch`] if `grads` or `velocity` differ in length from `params`;
/// [`Error::InvalidHyperparameter`] for a NaN, infinite or out-of-range field.
/// **Nothing is written when an error is returned.**
pub fn lars_step(
    params: &mut [f32],
    grads: &[f32],
    velocity: &mut [f32],
    cfg: &LarsConfig,
) -> Result<(), Error> {
    lars_step_with(Width::NATIVE, params, grads, velocity, cfg)
}

/// [`lars_step`] at an explicit lane width (for tests and benches).
#[doc(hidden)]
pub fn lars_step_with(
    width: Width,
    params: &mut [f32],
    grads: &[f32],
    velocity: &mut [f32],
    cfg: &LarsConfig,
) -> Result<(), Error> {
    let n = params.len();
    validate::len("grads", n, grads.len())?;
    validate::len("velocity", n, velocity.len())?;
    validate::numerics(cfg.numerics, false)?;
    let lr = validate::non_negative("lr", cfg.lr)?;
    let momentum = validate::unit_closed("momentum", cfg.momentum)?;
    let weight_decay = validate::non_negative("weight_decay", cfg.weight_decay)?;
    let trust = validate::non_negative("trust_coefficient", cfg.trust_coefficient)?;
    let eps = validate::non_negative("eps", cfg.eps)?;
    let grad_scale = validate::grad_scale(cfg.grad_scale)?;
    let scale = if cfg.maximize { -grad_scale } else { grad_scale };
    let mut p_sq = BlockedSum::new();
    p_sq.extend(params, |x| f64::from(x) * f64::from(x));
    let mut g_sq = BlockedSum::new();
    g_sq.extend(grads, |x| f64::from(x * scale) * f64::from(x * scale));
    let (p_norm, g_norm) = (libm::sqrt(p_sq.finish()), libm::sqrt(g_sq.finish()));
    let local = if p_norm > 0.0 && g_norm > 0.0 {
        trust * p_norm / (g_norm + weight_decay * p_norm + eps)
    } else {
        1.0
    };
    let (wd, mu, step) = (c(weight_decay), c(momentum), c(lr * local));
    with_width!(width, |L, N| with_profile!(cfg.numerics, |P| {
        for_each_chunk::<N, 2, 1>(
            [params, velocity],
            [grads],
            #[inline(always)]
            |[p, v], [g]| {
                let param = L::load(p);
                let d = P::fma(L::splat(wd), param, L::load(g) * L::splat(scale));
                let vel = P::fma(L::splat(step), d, L::load(v) * L::splat(mu));
                vel.store(v);
                (param - vel).store(p);
            },
        )
    }));
    Ok(())
}
