//! CAME (Luo et al. 2023, "CAME: Confidence-guided Adaptive Memory Efficient Optimization") on a
//! flat slice, as `pytorch_optimizer.CAME` 4.1 computes it for a 1-D tensor: its unfactored
//! path (the confidence factor and `β₃` exist only for matrices), with the update clipped by
//! its RMS over the tensor.

use super::sum_sq_into;
use crate::driver::{for_each_chunk, for_each_chunk_summed};
use crate::format::{Access, Layerwise};
use crate::lanes::Lanes;
use crate::numerics::{Numerics, Profile, TorchLerp, c, with_profile};
use crate::optim::mixed_step;
use crate::optim::signed_scale;
use crate::reduce::{BlockedSum, square, terms};
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
    let lens = [n, exp_avg.len(), exp_avg_sq.len(), exp_avg_sq_hat.len()];
    let k = Coef::checked(lens, grads.len(), cfg)?;
    let (mut p_sq, mut u_sq) = (BlockedSum::new(), BlockedSum::new());
    sum_sq_into(width, params, &mut p_sq);
    k.second(width, params, grads, exp_avg_sq, exp_avg_sq_hat, &mut u_sq);
    let div = k.div(u_sq.finish(), n);
    k.apply(width, [params, exp_avg], grads, exp_avg_sq, exp_avg_sq_hat, div);
    state.rms = rms(p_sq.finish(), n);
    Ok(())
}

mixed_step! {
    /// [`came_step`] in mixed storage formats ([`crate::format`]): bf16/f16 gradients; f32
    /// parameters (optionally writing a bf16/f16 copy of the new values in the same pass) or
    /// bf16 parameters; `exp_avg`, `exp_avg_sq` and `exp_avg_sq_hat` (`State::Unused` without
    /// AMSGrad) in f32, bf16, `q8`, `q4` or `fp8`. The slices are one tensor (its RMS), as in
    /// `came_step`, whose bits the values as read give: pass 1 computes the second moment on
    /// copies for the RMS of the update (storing nothing), pass 2 computes it again and steps,
    /// then stores every buffer in its format; `state` is written only on success.
    ///
    /// # Errors
    /// As [`came_step`], and the format errors of [`crate::adam_step_mixed`]. **Nothing is
    /// written, and `state` is unchanged, when an error is returned.**
    came_step_mixed, came_step_mixed_with,
    (params, grads, exp_avg, exp_avg_sq, exp_avg_sq_hat; state: &mut CameState, cfg: &CameConfig),
    checked: |lens, [g]| {
        let k = Coef::checked(lens, g, cfg)?;
        let (p_sq, u_sq) = (BlockedSum::new(), BlockedSum::new());
        Ok(Staged { k, n: lens[0], p_sq, u_sq, div: 1.0, rms: 0.0 })
    },
    then: |k| state.rms = k.rms,
    driver: mixed_layerwise,
}

/// `‖θ‖/√n` from `Σθ²` (0 for an empty tensor).
fn rms(p_sq: f64, n: usize) -> f64 {
    if n > 0 { libm::sqrt(p_sq / n as f64) } else { 0.0 }
}

/// The validated hyperparameters of one call.
struct Coef {
    scale: f32,
    /// `c(λ)` for L2 weight decay (not decoupled), `c(1 − ηλ)` (or `c(1 − λ)` fixed) decoupled.
    l2: Option<f32>,
    decay: Option<f32>,
    beta1: f32,
    one_minus_beta1: f32,
    lerp1: TorchLerp,
    beta2: f32,
    one_minus_beta2: f32,
    eps1: f32,
    lr: f32,
    clip: f64,
    ams: bool,
    numerics: Numerics,
}

impl Coef {
    /// The checks of a call with `lens` = (`params`, `exp_avg`, `exp_avg_sq`,
    /// `exp_avg_sq_hat`) and `grads` elements.
    fn checked([n, m, v, hat]: [usize; 4], grads: usize, cfg: &CameConfig) -> Result<Self, Error> {
        validate::len("grads", n, grads)?;
        validate::len("exp_avg", n, m)?;
        validate::len("exp_avg_sq", n, v)?;
        validate::optional_len("exp_avg_sq_hat", cfg.amsgrad, n, hat)?;
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
        let factor = if cfg.fixed_decay { 1.0 - wd } else { 1.0 - lr * wd };
        Ok(Self {
            scale,
            l2: (wd != 0.0 && !cfg.weight_decouple).then(|| c(wd)),
            decay: (wd != 0.0 && cfg.weight_decouple).then(|| c(factor)),
            beta1: c(beta1),
            one_minus_beta1: c(1.0 - beta1),
            lerp1: TorchLerp::with_weight(1.0 - beta1),
            beta2: c(beta2),
            one_minus_beta2: c(1.0 - beta2),
            eps1: c(eps1),
            lr: c(lr),
            clip,
            ams: cfg.amsgrad,
            numerics: cfg.numerics,
        })
    }

    /// The gradient with its L2 term.
    #[inline(always)]
    fn direction<P: Profile, L: Lanes<N>, const N: usize>(&self, g: L, param: L) -> L {
        let g = g * L::splat(self.scale);
        match self.l2 {
            Some(wd) => P::fma(L::splat(wd), param, g),
            None => g,
        }
    }

    /// The second moment (and its bound), `Σu²` of the update before the clip into `sum`.
    fn second(
        &self,
        width: Width,
        params: &[f32],
        grads: &[f32],
        v: &mut [f32],
        hat: &mut [f32],
        sum: &mut BlockedSum<'_>,
    ) {
        let (k, one) = (self, 1.0f32);
        with_width!(width, two_pass, |L, N| with_profile!(k.numerics, |P| {
            let ins = [params, grads];
            let body =
                |v: &mut [f32; N], hat: Option<&mut [f32; N]>, p: &[f32; N], g: &[f32; N]| {
                    let g = k.direction::<P, L, N>(L::load(g), L::load(p));
                    let v_new = P::fma(
                        L::splat(k.one_minus_beta2),
                        g * g + L::splat(k.eps1),
                        L::load(v) * L::splat(k.beta2),
                    );
                    v_new.store(v);
                    let mut u = L::splat(one) / v_new.sqrt();
                    if let Some(hat) = hat {
                        let w = L::load(hat).max_nan(L::splat(one) / u);
                        w.store(hat);
                        u = L::splat(one) / (w / L::splat(k.beta2)).sqrt();
                    }
                    [terms(&(u * g).to_array(), square)]
                };
            if k.ams {
                for_each_chunk_summed::<N, 2, 2, 1>(
                    [v, hat],
                    ins,
                    [&mut *sum],
                    |[v, hat], [p, g]| body(v, Some(hat), p, g),
                );
            } else {
                for_each_chunk_summed::<N, 1, 2, 1>([v], ins, [&mut *sum], |[v], [p, g]| {
                    body(v, None, p, g)
                });
            }
        }));
    }

    /// The clip divisor `max(RMS(u)/clip_threshold, 1)` from `Σu²` over `n` elements.
    fn div(&self, u_sq: f64, n: usize) -> f32 {
        let u_rms = if n > 0 { libm::sqrt(u_sq / n as f64) } else { 0.0 };
        c((u_rms / self.clip).max(1.0))
    }

    /// The clipped direction, the first moment, the step.
    fn apply(
        &self,
        width: Width,
        [params, exp_avg]: [&mut [f32]; 2],
        grads: &[f32],
        v: &[f32],
        hat: &[f32],
        div: f32,
    ) {
        let (k, one) = (self, 1.0f32);
        with_width!(width, two_pass, |L, N| with_profile!(k.numerics, |P| {
            let second: &[f32] = if k.ams { hat } else { v };
            for_each_chunk::<N, 2, 2>(
                [params, exp_avg],
                [grads, second],
                #[inline(always)]
                |[p, m], [g, w]| {
                    let param = L::load(p);
                    let g = k.direction::<P, L, N>(L::load(g), param);
                    let r = if k.ams {
                        (L::load(w) / L::splat(k.beta2)).sqrt()
                    } else {
                        L::load(w).sqrt()
                    };
                    let u = (L::splat(one) / r) * g / L::splat(div);
                    let m_new = if P::TORCH {
                        k.lerp1.apply::<P, L, N>(L::load(m), u)
                    } else {
                        L::load(m) * L::splat(k.beta1) + u * L::splat(k.one_minus_beta1)
                    };
                    m_new.store(m);
                    let param = match k.decay {
                        Some(f) => param * L::splat(f),
                        None => param,
                    };
                    (param - L::splat(k.lr) * m_new).store(p);
                },
            )
        }));
    }
}

/// CAME through the staged driver: pass 1 sums `Σθ²` and, on copies of the second moments,
/// `Σu²`; pass 2 recomputes the second moments and steps.
struct Staged {
    k: Coef,
    n: usize,
    p_sq: BlockedSum<'static>,
    u_sq: BlockedSum<'static>,
    div: f32,
    rms: f64,
}

impl Layerwise<4, 1> for Staged {
    fn used(&self) -> [bool; 4] {
        [true, true, true, self.k.ams]
    }

    fn reads(&self, _: usize) -> [Access; 4] {
        [Access::Read, Access::Skip, Access::Scratch, Access::Scratch]
    }

    fn reduce(
        &mut self,
        _: usize,
        width: Width,
        [p, _, v, hat]: [&mut [f32]; 4],
        [g]: [&[f32]; 1],
    ) {
        sum_sq_into(width, p, &mut self.p_sq);
        self.k.second(width, p, g, v, hat, &mut self.u_sq);
    }

    fn finish(&mut self, _: usize) -> bool {
        let u_sq = self.u_sq.take();
        let p_sq = self.p_sq.take();
        self.div = self.k.div(u_sq, self.n);
        self.rms = rms(p_sq, self.n);
        false
    }

    fn update(&mut self, width: Width, [p, m, v, hat]: [&mut [f32]; 4], [g]: [&[f32]; 1]) {
        self.k.second(width, p, g, v, hat, &mut BlockedSum::new());
        self.k.apply(width, [p, m], g, v, hat, self.div);
    }
}
