//! CAME (Luo et al. 2023, "CAME: Confidence-guided Adaptive Memory Efficient Optimization") on a
//! flat slice, as `pytorch_optimizer.CAME` 4.1 computes it for a 1-D tensor: its unfactored
//! path (the confidence factor and `β₃` exist only for matrices), with the update clipped by
//! its RMS over the tensor.

use super::sum_sq;
use crate::driver::{for_each_chunk, for_each_chunk_live};
use crate::lanes::Lanes;
use crate::numerics::{Numerics, Profile, TorchLerp, c, with_profile};
use crate::optim::rule::signed_scale;
use crate::reduce::BlockedSum;
use crate::width::with_width;
use crate::{Error, Width, validate};

/// Hyperparameters of [`came_step`]. [`Default`] is `pytorch_optimizer.CAME`'s (`β₃` and
/// `ε₂` act on matrices only).
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct CameConfig {
    /// Learning rate `η`. Default `2e-4`; finite, ≥ 0.
    pub lr: f64,
    /// `β₁`. Default `0.9`; finite, in `[0, 1)`.
    pub beta1: f64,
    /// `β₂`. Default `0.999`; finite, in `(0, 1)`.
    pub beta2: f64,
    /// `ε₁`, added to `g²`. Default `1e-30`; finite, ≥ 0.
    pub eps1: f64,
    /// The RMS the update is clipped to. Default `1`; finite, > 0.
    pub clip_threshold: f64,
    /// Weight decay `λ`. Default `0`; finite, ≥ 0.
    pub weight_decay: f64,
    /// Decoupled decay `θ ← θ·(1 − ηλ)` (else L2 `g ← g + λθ`). Default `true`.
    pub weight_decouple: bool,
    /// With `weight_decouple`: `θ ← θ·(1 − λ)`. Default `false`.
    pub fixed_decay: bool,
    /// AMSGrad-style bound (`ams_bound`, `exp_avg_sq_hat`). Default `false`.
    pub amsgrad: bool,
    /// Maximize the objective (negate the gradient first). Default `false`.
    pub maximize: bool,
    /// Multiplier `s` applied to the gradient first. Default `1` (exact); finite, ≥ 0.
    pub grad_scale: f32,
    /// Operation order. Default [`Numerics::Torch`] (the package's).
    pub numerics: Numerics,
}

impl Default for CameConfig {
    fn default() -> Self {
        Self {
            lr: 2e-4,
            beta1: 0.9,
            beta2: 0.999,
            eps1: 1e-30,
            clip_threshold: 1.0,
            weight_decay: 0.0,
            weight_decouple: true,
            fixed_decay: false,
            amsgrad: false,
            maximize: false,
            grad_scale: 1.0,
            numerics: Numerics::Torch,
        }
    }
}

/// CAME's per-tensor scalar: the RMS of the parameters before the last step (the package's
/// `RMS`, reported, not used by the 1-D update).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
pub struct CameState {
    /// `‖θ‖₂/√n` before the last step.
    pub rms: f64,
}

/// CAME on one tensor: updates `params`, `exp_avg` (`m`), `exp_avg_sq` (`v`) and, with
/// `amsgrad`, `exp_avg_sq_hat` (`ŵ`, else it may be empty) in place (three passes), and
/// `state`.
///
/// With `s = grad_scale`, `g ← ±s·grads` (`+ λθ` for L2), sums over the tensor in f64:
/// ```text
/// RMS = ‖θ‖/√n                                   (state)
/// v ← β₂·v + (1 − β₂)·(g² + ε₁)
/// u = 1/√v;   amsgrad: ŵ ← max(ŵ, 1/u), u = 1/√(ŵ/β₂)
/// u ← u·g;   u ← u/max(RMS(u)/clip_threshold, 1)
/// m ← β₁·m + (1 − β₁)·u
/// θ ← θ·(1 − ηλ) (decoupled);   θ ← θ − η·m
/// ```
/// [`Numerics::Torch`]: `v = fma(c(1−β₂), g² + ε₁, v·c(β₂))`, `m = lerp(m, u, c(1−β₁))`,
/// `θ − c(η)·m` unfused, as the package.
///
/// # Errors
/// [`Error::LengthMismatch`], [`Error::InvalidHyperparameter`]. **Nothing is written, and
/// `state` is unchanged, when an error is returned.**
pub fn came_step(
    params: &mut [f32],
    grads: &[f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    exp_avg_sq_hat: &mut [f32],
    state: &mut CameState,
    cfg: &CameConfig,
) -> Result<(), Error> {
    came_step_with(
        Width::NATIVE_TWO_PASS,
        params,
        grads,
        exp_avg,
        exp_avg_sq,
        exp_avg_sq_hat,
        state,
        cfg,
    )
}

/// [`came_step`] at an explicit lane width (tests, benches).
#[doc(hidden)]
#[allow(clippy::too_many_arguments)]
pub fn came_step_with(
    width: Width,
    params: &mut [f32],
    grads: &[f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    exp_avg_sq_hat: &mut [f32],
    state: &mut CameState,
    cfg: &CameConfig,
) -> Result<(), Error> {
    let n = params.len();
    validate::len("grads", n, grads.len())?;
    validate::len("exp_avg", n, exp_avg.len())?;
    validate::len("exp_avg_sq", n, exp_avg_sq.len())?;
    validate::optional_len("exp_avg_sq_hat", cfg.amsgrad, n, exp_avg_sq_hat.len())?;
    validate::numerics(cfg.numerics, &[])?;
    let lr = validate::non_negative("lr", cfg.lr)?;
    let beta1 = validate::unit_half_open("beta1", cfg.beta1)?;
    let beta2 = validate::unit_half_open("beta2", cfg.beta2)?;
    if beta2 == 0.0 {
        return Err(validate::out_of_range("beta2", beta2));
    }
    let eps1 = validate::non_negative("eps1", cfg.eps1)?;
    let clip = validate::non_negative("clip_threshold", cfg.clip_threshold)?;
    if clip == 0.0 {
        return Err(validate::out_of_range("clip_threshold", clip));
    }
    let wd = validate::non_negative("weight_decay", cfg.weight_decay)?;
    let scale = signed_scale(cfg.grad_scale, cfg.maximize)?;
    let rms = if n > 0 { libm::sqrt(sum_sq(width, params) / n as f64) } else { 0.0 };
    let l2 = (wd != 0.0 && !cfg.weight_decouple).then(|| c(wd));
    let factor = if cfg.fixed_decay { 1.0 - wd } else { 1.0 - lr * wd };
    let decay = (wd != 0.0 && cfg.weight_decouple).then(|| c(factor));
    let (beta2_f, one_minus_beta2, eps1) = (c(beta2), c(1.0 - beta2), c(eps1));
    let lerp1 = TorchLerp::with_weight(1.0 - beta1);
    let (beta1_f, one_minus_beta1, lr_f) = (c(beta1), c(1.0 - beta1), c(lr));
    let ams = cfg.amsgrad;
    let one = 1.0f32;
    // The gradient with its L2 term, and the update direction before the clip.
    #[inline(always)]
    fn direction<P: Profile, L: Lanes<N>, const N: usize>(g: L, param: L, l2: Option<f32>) -> L {
        match l2 {
            Some(wd) => P::fma(L::splat(wd), param, g),
            None => g,
        }
    }
    // Pass 2: the second moment (and its bound), Σ u².
    let mut sum = BlockedSum::new();
    with_width!(width, two_pass, |L, N| with_profile!(cfg.numerics, |P| {
        let bufs = [&mut *exp_avg_sq, &mut *exp_avg_sq_hat];
        let ins = [&*params, grads];
        let mut body = |live: usize,
                        v: &mut [f32; N],
                        hat: Option<&mut [f32; N]>,
                        p: &[f32; N],
                        g: &[f32; N]| {
            let g = direction::<P, L, N>(L::load(g) * L::splat(scale), L::load(p), l2);
            let v_new = P::fma(
                L::splat(one_minus_beta2),
                g * g + L::splat(eps1),
                L::load(v) * L::splat(beta2_f),
            );
            v_new.store(v);
            let mut u = L::splat(one) / v_new.sqrt();
            if let Some(hat) = hat {
                let w = L::load(hat).max_nan(L::splat(one) / u);
                w.store(hat);
                u = L::splat(one) / (w / L::splat(beta2_f)).sqrt();
            }
            sum.extend_chunk(&(u * g).to_array(), live, |x| f64::from(x) * f64::from(x));
        };
        if ams {
            let [v, hat] = bufs;
            for_each_chunk_live::<N, 2, 2>([v, hat], ins, |live, [v, hat], [p, g]| {
                body(live, v, Some(hat), p, g)
            });
        } else {
            let [v, _] = bufs;
            for_each_chunk_live::<N, 1, 2>([v], ins, |live, [v], [p, g]| body(live, v, None, p, g));
        }
    }));
    let u_rms = if n > 0 { libm::sqrt(sum.finish() / n as f64) } else { 0.0 };
    let div = c((u_rms / clip).max(1.0));
    // Pass 3: the clipped direction, the first moment, the step.
    with_width!(width, two_pass, |L, N| with_profile!(cfg.numerics, |P| {
        let second: &[f32] = if ams { exp_avg_sq_hat } else { exp_avg_sq };
        for_each_chunk::<N, 2, 2>(
            [params, exp_avg],
            [grads, second],
            #[inline(always)]
            |[p, m], [g, w]| {
                let param = L::load(p);
                let g = direction::<P, L, N>(L::load(g) * L::splat(scale), param, l2);
                let r =
                    if ams { (L::load(w) / L::splat(beta2_f)).sqrt() } else { L::load(w).sqrt() };
                let u = (L::splat(one) / r) * g / L::splat(div);
                let m_new = if P::TORCH {
                    lerp1.apply::<P, L, N>(L::load(m), u)
                } else {
                    L::load(m) * L::splat(beta1_f) + u * L::splat(one_minus_beta1)
                };
                m_new.store(m);
                let param = match decay {
                    Some(f) => param * L::splat(f),
                    None => param,
                };
                (param - L::splat(lr_f) * m_new).store(p);
            },
        )
    }));
    state.rms = rms;
    Ok(())
}
