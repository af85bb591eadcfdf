//! Schedule-free optimizers (Defazio et al. 2024, "The Road Less Scheduled"), as the
//! `schedulefree` package 1.4 computes them: SGD, AdamW and RAdam, in the package's fast form
//! (the parameters hold the gradient point `y`; `z` is the base sequence; the averaged point
//! `x`, which is what one evaluates, is produced from `y` and `z` by [`schedulefree_eval`] and
//! turned back by [`schedulefree_train`]).
//!
//! Per step, with `k` the steps taken before this one, `η` the scheduled learning rate of
//! this step and `W` the weight sum (all f64, in the caller-owned [`ScheduleFreeState`]):
//! ```text
//! η_max ← max(η_max, η);   w = (k + 1)ʳ · η_maxᵖ;   W ← W + w;   c = w/W   (0 while W = 0)
//! y ← (1 − c)·y + c·z                      (z pulls y towards the average)
//! y ← y + η·(β·(1 − c) − 1)·ĝ
//! z ← z − η·ĝ
//! ```
//! with `β` the momentum (`μ` for SGD, `β₁` for AdamW/RAdam) and `ĝ` the step direction of the
//! base method (the gradient plus `λ·y`; AdamW and RAdam normalise it by `√(v/bc₂) + ε`).
//! The state depends only on the step count and the hyperparameters, never on the data: keep
//! one per tensor (as the package keeps one per parameter group) and every copy agrees.

pub mod adamw;
pub mod reference;
pub mod sgd;

use crate::lanes::Lanes;
use crate::numerics::{Numerics, Profile, c};
use crate::optim::rule::{Ema, Toward, run_rule};
use crate::{Error, Width, validate};

/// The scalar state of a schedule-free optimizer (the package's `param_groups` entries),
/// caller-owned: start from [`ScheduleFreeState::default`] (all zero).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
pub struct ScheduleFreeState {
    /// Steps taken (`k`).
    pub k: u64,
    /// The largest scheduled learning rate so far (`lr_max`).
    pub lr_max: f64,
    /// The sum of the averaging weights (`weight_sum`).
    pub weight_sum: f64,
    /// The learning rate of the last step, after warm-up or rectification (`scheduled_lr`).
    pub scheduled_lr: f64,
}

/// The weighting of the schedule-free average: `w = (k + 1)ʳ·η_maxᵖ`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Weighting {
    pub(crate) r: f64,
    pub(crate) power: f64,
}

impl Weighting {
    /// Checks `r` and `weight_lr_power`.
    #[inline(always)]
    pub(crate) fn checked(r: f64, power: f64) -> Result<Self, Error> {
        Ok(Self {
            r: validate::non_negative("r", r)?,
            power: validate::non_negative("weight_lr_power", power)?,
        })
    }

    /// The state after a step at learning rate `lr`, and that step's `c = w/W`.
    pub(crate) fn advance(self, s: &ScheduleFreeState, lr: f64) -> (ScheduleFreeState, f64) {
        let lr_max = s.lr_max.max(lr);
        let w = libm::pow(s.k as f64 + 1.0, self.r) * libm::pow(lr_max, self.power);
        let weight_sum = s.weight_sum + w;
        let ckp1 = if weight_sum != 0.0 { w / weight_sum } else { 0.0 };
        (ScheduleFreeState { k: s.k + 1, lr_max, weight_sum, scheduled_lr: lr }, ckp1)
    }
}

/// The shared last three lines of every schedule-free step, on `y` and `z` with the base
/// method's direction `ĝ`: `y ← lerp(y, z, c)`, `y ← y + η(β(1 − c) − 1)·ĝ`, `z ← z − η·ĝ`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Average {
    toward_z: Ema,
    y_step: f32,
    neg_lr: f32,
}

impl Average {
    pub(crate) fn new(ckp1: f64, lr: f64, beta: f64) -> Self {
        Self {
            toward_z: Ema::toward(ckp1, 1.0 - ckp1),
            y_step: c(lr * (beta * (1.0 - ckp1) - 1.0)),
            neg_lr: c(-lr),
        }
    }

    /// `(y, z)` after the step along `d`.
    #[inline(always)]
    pub(crate) fn apply<P: Profile, L: Lanes<N>, const N: usize>(
        &self,
        y: L,
        z: L,
        d: L,
    ) -> (L, L) {
        let y = self.toward_z.apply::<P, L, N>(y, z);
        (P::fma(L::splat(self.y_step), d, y), P::fma(L::splat(self.neg_lr), d, z))
    }
}

/// The learning rate of step `k + 1` under a linear warm-up of `warmup` steps.
pub(crate) fn warmed_up(lr: f64, k: u64, warmup: u32) -> f64 {
    if k < u64::from(warmup) { lr * (k as f64 + 1.0) / f64::from(warmup) } else { lr }
}

fn toward(
    width: Width,
    params: &mut [f32],
    z: &[f32],
    w: f64,
    numerics: Numerics,
) -> Result<(), Error> {
    validate::len("z", params.len(), z.len())?;
    validate::numerics(numerics, &[])?;
    let rule = Toward { ema: Ema::toward(w, 1.0 - w), numerics };
    run_rule(&rule, width, [params], z);
    Ok(())
}

/// The package's `eval()`: moves `params` from the gradient point `y` to the average
/// `x = (1 − w)·y + w·z` with `w = 1 − 1/β` (`β` the momentum of the step: `μ` or `β₁`), in
/// place. [`Numerics::Torch`]: `lerp(y, z, c(1 − 1/β))`.
///
/// # Errors
/// [`Error::LengthMismatch`] (`z`), [`Error::InvalidHyperparameter`] (`beta` not in `(0, 1)`,
/// `numerics`). **Nothing is written when an error is returned.**
pub fn schedulefree_eval(
    params: &mut [f32],
    z: &[f32],
    beta: f64,
    numerics: Numerics,
) -> Result<(), Error> {
    schedulefree_eval_with(Width::NATIVE, params, z, beta, numerics)
}

/// [`schedulefree_eval`] at an explicit lane width (tests, benches).
#[doc(hidden)]
pub fn schedulefree_eval_with(
    width: Width,
    params: &mut [f32],
    z: &[f32],
    beta: f64,
    numerics: Numerics,
) -> Result<(), Error> {
    let beta = positive_unit("beta", beta)?;
    toward(width, params, z, 1.0 - 1.0 / beta, numerics)
}

/// The package's `train()`: moves `params` from the average `x` back to the gradient point
/// `y = (1 − w)·x + w·z` with `w = 1 − β`, in place (the inverse of [`schedulefree_eval`] up
/// to rounding). [`Numerics::Torch`]: `lerp(x, z, c(1 − β))`.
///
/// # Errors
/// As [`schedulefree_eval`]. **Nothing is written when an error is returned.**
pub fn schedulefree_train(
    params: &mut [f32],
    z: &[f32],
    beta: f64,
    numerics: Numerics,
) -> Result<(), Error> {
    schedulefree_train_with(Width::NATIVE, params, z, beta, numerics)
}

/// [`schedulefree_train`] at an explicit lane width (tests, benches).
#[doc(hidden)]
pub fn schedulefree_train_with(
    width: Width,
    params: &mut [f32],
    z: &[f32],
    beta: f64,
    numerics: Numerics,
) -> Result<(), Error> {
    let beta = positive_unit("beta", beta)?;
    toward(width, params, z, 1.0 - beta, numerics)
}

/// Finite and in `(0, 1)`.
pub(crate) fn positive_unit(name: &'static str, x: f64) -> Result<f64, Error> {
    let x = validate::unit_half_open(name, x)?;
    if x > 0.0 { Ok(x) } else { Err(validate::out_of_range(name, x)) }
}
