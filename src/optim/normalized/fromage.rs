//! Fromage (Bernstein et al. 2020, "On the distance between two neural networks and the
//! stability of learning"), as `pytorch_optimizer.Fromage` 4.1 computes it: a step whose size
//! is relative to the tensor's norm, then a shrink by `√(1 + η²)`.

use super::{sum_sq, sum_sq_into};
use crate::driver::for_each_chunk;
use crate::format::{Access, Layerwise};
use crate::lanes::Lanes;
use crate::numerics::{Numerics, Profile, c, with_profile};
use crate::optim::mixed_step;
use crate::optim::signed_scale;
use crate::reduce::BlockedSum;
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
    let k = Coef::checked(params.len(), grads.len(), step, state, cfg)?;
    let plan = k.plan(sum_sq(width, params), sum_sq(width, grads));
    k.step(width, &plan, params, grads);
    if k.bound > 0.0
        && let Some(f) = plan.rescale(sum_sq(width, params))
    {
        rescale(width, f, params);
    }
    state.max = plan.max;
    Ok(())
}

mixed_step! {
    /// [`fromage_step`] in mixed storage formats ([`crate::format`]): bf16/f16 gradients; f32
    /// parameters (optionally writing a bf16/f16 copy of the new values in the same pass) or
    /// bf16 parameters. The slices are one tensor, as in `fromage_step`, whose bits the values
    /// as read give: pass 1 sums the norms of the parameters and gradients as read, with
    /// `p_bound` pass 2 steps a copy for the norm of the result, and the last pass steps (and
    /// rescales) and stores; `state` is written only on success.
    ///
    /// # Errors
    /// As [`fromage_step`], and the format errors of [`crate::adam_step_mixed`]. **Nothing is
    /// written, and `state` is unchanged, when an error is returned.**
    fromage_step_mixed, fromage_step_mixed_with,
    (params, grads; step: u32, state: &mut FromageState, cfg: &FromageConfig),
    checked: |[n], [g]| {
        let k = Coef::checked(n, g, step, state, cfg)?;
        let sums = (BlockedSum::new(), BlockedSum::new());
        Ok(Staged { k, sums, plan: Plan { max: 0.0, k: 0.0, shrink: 1.0 }, rescale: None })
    },
    then: |k| state.max = k.plan.max,
    driver: mixed_layerwise,
}

/// The validated hyperparameters of one call.
struct Coef {
    scale: f32,
    lr: f64,
    bound: f64,
    /// The bound to use unless step 1 sets it.
    max: Option<f64>,
    numerics: Numerics,
}

/// The step of one call, from the norms.
struct Plan {
    /// The norm bound (the new state).
    max: f64,
    /// `c(−η·ratio)` and `c(√(1 + η²))`.
    k: f32,
    shrink: f32,
}

impl Plan {
    /// The factor `c(max/‖θ‖)` when the stepped tensor's norm (from `Σθ²`) exceeds the bound.
    fn rescale(&self, p_sq: f64) -> Option<f32> {
        let norm = libm::sqrt(p_sq);
        (norm > self.max).then(|| c(self.max / norm))
    }
}

impl Coef {
    fn checked(
        n: usize,
        grads: usize,
        step: u32,
        state: &FromageState,
        cfg: &FromageConfig,
    ) -> Result<Self, Error> {
        validate::len("grads", n, grads)?;
        validate::numerics(cfg.numerics, &[])?;
        let lr = validate::non_negative("lr", cfg.lr)?;
        let bound = validate::non_negative("p_bound", cfg.p_bound)?;
        let scale = signed_scale(cfg.grad_scale, cfg.maximize)?;
        validate::step(step)?;
        let max = (step != 1 || bound <= 0.0).then_some(state.max);
        Ok(Self { scale, lr, bound, max, numerics: cfg.numerics })
    }

    /// The step from `Σθ²` and `Σg²` (of the raw gradients).
    fn plan(&self, p_sq: f64, g_sq: f64) -> Plan {
        let p_norm = libm::sqrt(p_sq);
        let g_norm = libm::sqrt(g_sq) * f64::from(self.scale).abs();
        let max = self.max.unwrap_or(self.bound * p_norm);
        let ratio = if p_norm > 0.0 && g_norm > 0.0 { p_norm / g_norm } else { 1.0 };
        Plan { max, k: c(-self.lr * ratio), shrink: c(libm::sqrt(1.0 + self.lr * self.lr)) }
    }

    /// `θ ← fma(k, s·g, θ)/shrink`.
    fn step(&self, width: Width, plan: &Plan, params: &mut [f32], grads: &[f32]) {
        let (scale, k, shrink) = (self.scale, plan.k, plan.shrink);
        with_width!(width, two_pass, |L, N| with_profile!(self.numerics, |P| {
            for_each_chunk::<N, 1, 1>(
                [params],
                [grads],
                #[inline(always)]
                |[p], [g]| {
                    let g = L::load(g) * L::splat(scale);
                    (P::fma(L::splat(k), g, L::load(p)) / L::splat(shrink)).store(p);
                },
            )
        }));
    }
}

/// `θ ← θ·f` (the bound).
fn rescale(width: Width, f: f32, params: &mut [f32]) {
    with_width!(width, two_pass, |L, N| {
        for_each_chunk::<N, 1, 0>(
            [params],
            [],
            #[inline(always)]
            |[p], []| (L::load(p) * L::splat(f)).store(p),
        )
    });
}

/// Fromage through the staged driver: pass 0 sums `Σθ²` and `Σg²`; with `p_bound`, pass 1
/// steps a copy of the parameters and sums its squares; the update steps and rescales.
struct Staged {
    k: Coef,
    sums: (BlockedSum<'static>, BlockedSum<'static>),
    plan: Plan,
    rescale: Option<f32>,
}

impl Layerwise<1, 1> for Staged {
    fn reads(&self, pass: usize) -> [Access; 1] {
        [if pass == 0 { Access::Read } else { Access::Scratch }]
    }

    fn reduce(&mut self, pass: usize, width: Width, [p]: [&mut [f32]; 1], [g]: [&[f32]; 1]) {
        if pass == 0 {
            sum_sq_into(width, p, &mut self.sums.0);
            sum_sq_into(width, g, &mut self.sums.1);
        } else {
            self.k.step(width, &self.plan, p, g);
            sum_sq_into(width, p, &mut self.sums.0);
        }
    }

    fn finish(&mut self, pass: usize) -> bool {
        let p_sq = self.sums.0.take();
        if pass == 0 {
            let g_sq = self.sums.1.take();
            self.plan = self.k.plan(p_sq, g_sq);
            self.k.bound > 0.0
        } else {
            self.rescale = self.plan.rescale(p_sq);
            false
        }
    }

    fn update(&mut self, width: Width, [p]: [&mut [f32]; 1], [g]: [&[f32]; 1]) {
        self.k.step(width, &self.plan, p, g);
        if let Some(f) = self.rescale {
            rescale(width, f, p);
        }
    }
}
