//! Gradient utilities: global norms over many slices, clipping by norm and by value, the
//! non-finite guard and loss-scale support, and micro-batch accumulation.
//!
//! Norms reduce in f64 in a fixed order that depends only on each element's position in the
//! concatenation of the slices (see the crate's blocked sum: blocks of 4096, 16 accumulators,
//! a fixed tree), so a model split into any number of buffers, any lane width and any chunking
//! give the same bits.

use crate::driver::for_each_chunk;
use crate::lanes::Lanes;
use crate::reduce::BlockedSum;
use crate::train::shard::{add_terms, finish_norm, max_abs, max_of_maxima};
use crate::width::with_width;
use crate::{Error, Width, validate};

/// Which norm.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NormType {
    /// `Σ|x|`.
    L1,
    /// `√Σx²`.
    L2,
    /// `max|x|`.
    Inf,
    /// `(Σ|x|ᵖ)^(1/p)`, `p` finite and > 0.
    P(f64),
}

impl NormType {
    pub(crate) fn check(self) -> Result<Self, Error> {
        if let NormType::P(p) = self {
            validate::finite("norm_type", p)?;
            if p <= 0.0 {
                return Err(validate::out_of_range("norm_type", p));
            }
        }
        Ok(self)
    }
}

/// The norm of the concatenation of `slices`, in f64, in the fixed order.
pub(crate) fn total_norm<'a>(slices: impl Iterator<Item = &'a [f32]>, norm: NormType) -> f64 {
    if norm == NormType::Inf {
        return max_of_maxima(slices.map(max_abs));
    }
    let mut sum = BlockedSum::new();
    for g in slices {
        add_terms(&mut sum, g, norm);
    }
    finish_norm(sum.finish(), norm)
}

/// The norm of all elements of `grads` taken together, in f64 (`NaN` if any element is NaN,
/// `∞` if any is infinite and none is NaN).
///
/// `L2`, `L1` and `P` sum f64 terms (`x²` and `|x|` of an f32 are exact in f64, and cannot
/// overflow or underflow there) in the fixed blocked order; `Inf` is a maximum, which has no
/// order. The result is the same for any split of the data into slices.
///
/// # Errors
/// [`Error::InvalidHyperparameter`] for `P(p)` with `p` not finite and positive.
pub fn grad_norm_f64(grads: &[&[f32]], norm: NormType) -> Result<f64, Error> {
    Ok(total_norm(grads.iter().copied(), norm.check()?))
}

/// [`grad_norm_f64`] rounded to f32 (what `torch.nn.utils.clip_grad_norm_` returns; torch's
/// own f32 reduction differs from this correctly ordered one by a few ULP).
///
/// # Errors
/// As [`grad_norm_f64`].
pub fn grad_norm(grads: &[&[f32]], norm: NormType) -> Result<f32, Error> {
    Ok(grad_norm_f64(grads, norm)? as f32)
}

/// The total norm and the clipping coefficient torch applies.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Clip {
    /// The norm of all gradients before clipping (for monitoring).
    pub total_norm: f32,
    /// `min(1, max_norm/(total_norm + 1e-6))` in torch's f32 arithmetic:
    /// `(1/(total + c(1e-6)))·c(max_norm)`, clamped to 1.
    pub coef: f32,
}

impl Clip {
    pub(crate) fn from_norm(total_norm: f64, max_norm: f64) -> Self {
        let total_norm = total_norm as f32;
        let coef = (1.0 / (total_norm + 1e-6_f32)) * max_norm as f32;
        Clip { total_norm, coef: if coef > 1.0 { 1.0 } else { coef } }
    }
}

/// The clipping coefficient of `torch.nn.utils.clip_grad_norm_` without touching the
/// gradients: pass `coef` as a step kernel's `grad_scale` and the clipped update costs no extra
/// pass (`g·coef` is the same f32 product either way, so the results are bit-identical to
/// clipping first).
///
/// # Errors
/// [`Error::InvalidHyperparameter`] if `max_norm` is NaN, infinite or negative, or `norm` is
/// an invalid `P`.
pub fn clip_coef(grads: &[&[f32]], max_norm: f64, norm: NormType) -> Result<Clip, Error> {
    let max_norm = validate::non_negative("max_norm", max_norm)?;
    Ok(Clip::from_norm(total_norm(grads.iter().copied(), norm.check()?), max_norm))
}

/// `torch.nn.utils.clip_grad_norm_`: scales every gradient by [`clip_coef`]'s coefficient
/// (always; `x·1 = x`) and returns the total norm and coefficient.
///
/// # Errors
/// As [`clip_coef`]; nothing is written on `Err`.
pub fn clip_grad_norm(
    grads: &mut [&mut [f32]],
    max_norm: f64,
    norm: NormType,
) -> Result<Clip, Error> {
    let max_norm = validate::non_negative("max_norm", max_norm)?;
    let clip = Clip::from_norm(total_norm(grads.iter().map(|g| &**g), norm.check()?), max_norm);
    for g in grads.iter_mut() {
        scale_with(Width::NATIVE, g, clip.coef);
    }
    Ok(clip)
}

/// `x ← x·s` for every element (exact for `s = 1`).
pub(crate) fn scale_with(width: Width, xs: &mut [f32], s: f32) {
    with_width!(width, |L, N| for_each_chunk::<N, 1, 0>(
        [xs],
        [],
        #[inline(always)]
        |[x], []| { (L::load(x) * L::splat(s)).store(x) }
    ));
}

/// `torch.nn.utils.clip_grad_value_`: clamps every gradient to `[−v, v]` (NaN stays NaN).
///
/// # Errors
/// [`Error::InvalidHyperparameter`] if `clip_value` is NaN, infinite or negative; nothing is
/// written on `Err`.
pub fn clip_grad_value(grads: &mut [&mut [f32]], clip_value: f64) -> Result<(), Error> {
    let v = validate::non_negative("clip_value", clip_value)? as f32;
    for g in grads.iter_mut() {
        clip_value_with(Width::NATIVE, g, v);
    }
    Ok(())
}

pub(crate) fn clip_value_with(width: Width, xs: &mut [f32], v: f32) {
    with_width!(width, |L, N| for_each_chunk::<N, 1, 0>(
        [xs],
        [],
        #[inline(always)]
        |[x], []| {
            let x0 = L::load(x);
            let (lo, hi) = (L::splat(-v), L::splat(v));
            L::select(x0.lt(lo), lo, L::select(x0.gt(hi), hi, x0)).store(x)
        }
    ));
}

/// Whether every element of every slice is finite (no NaN, no ±∞).
pub fn all_finite(grads: &[&[f32]]) -> bool {
    grads.iter().all(|g| g.iter().all(|x| x.is_finite()))
}

/// GradScaler's unscale: multiplies every gradient by `inv_scale` and reports whether any
/// gradient was non-finite (torch's `_amp_foreach_non_finite_check_and_unscale_`: the check is on
/// the values before unscaling; all gradients are unscaled either way).
///
/// # Errors
/// [`Error::InvalidHyperparameter`] if `inv_scale` is NaN, infinite or negative; nothing is
/// written on `Err`.
pub fn unscale(grads: &mut [&mut [f32]], inv_scale: f32) -> Result<bool, Error> {
    validate::non_negative("inv_scale", f64::from(inv_scale))?;
    let found_inf = grads.iter().any(|g| g.iter().any(|x| !x.is_finite()));
    for g in grads.iter_mut() {
        scale_with(Width::NATIVE, g, inv_scale);
    }
    Ok(found_inf)
}

/// What [`step_if_finite`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepOutcome {
    /// Every gradient was finite and the step ran.
    Stepped,
    /// A gradient was NaN or infinite: the step was skipped and nothing was written.
    Skipped,
}

/// The non-finite guard (torch's GradScaler `step` semantics): runs `step` only when every
/// element of `grads` is finite; otherwise skips it, so params and optimizer state stay
/// bit-identical, and says so.
///
/// ```
/// use optkern::{adam_step, step_if_finite, AdamConfig, StepOutcome};
/// let (mut p, g, mut m, mut v) = ([1.0f32; 4], [0.5, f32::NAN, 0.5, 0.5], [0.0f32; 4], [0.0f32; 4]);
/// let outcome = step_if_finite(&[&g], || adam_step(&mut p, &g, &mut m, &mut v, &mut [], 1, &AdamConfig::default()))?;
/// assert_eq!(outcome, StepOutcome::Skipped);
/// assert_eq!(p, [1.0; 4]);
/// # Ok::<(), optkern::Error>(())
/// ```
///
/// # Errors
/// Whatever `step` returns.
pub fn step_if_finite<E>(
    grads: &[&[f32]],
    step: impl FnOnce() -> Result<(), E>,
) -> Result<StepOutcome, E> {
    if all_finite(grads) {
        step()?;
        Ok(StepOutcome::Stepped)
    } else {
        Ok(StepOutcome::Skipped)
    }
}

/// GradScaler's dynamic loss scale (torch's `_amp_update_scale_`), one call per step.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct LossScale {
    /// The current scale (f32, as torch's `_scale` tensor). Default `65536`.
    pub scale: f32,
    /// Consecutive steps without a non-finite gradient.
    pub growth_tracker: u32,
    /// Factor applied after `growth_interval` clean steps. Default `2`.
    pub growth_factor: f32,
    /// Factor applied after a non-finite gradient. Default `0.5`.
    pub backoff_factor: f32,
    /// Clean steps between growths. Default `2000`.
    pub growth_interval: u32,
}

impl Default for LossScale {
    fn default() -> Self {
        Self {
            scale: 65536.0,
            growth_tracker: 0,
            growth_factor: 2.0,
            backoff_factor: 0.5,
            growth_interval: 2000,
        }
    }
}

impl LossScale {
    /// Updates the scale after a step:
    /// ```text
    /// found_inf:  scale ← scale·backoff,  tracker ← 0
    /// otherwise:  tracker ← tracker + 1;  if tracker = interval:
    ///                 scale ← scale·growth (only if that is finite),  tracker ← 0
    /// ```
    pub fn update(&mut self, found_inf: bool) {
        if found_inf {
            self.scale *= self.backoff_factor;
            self.growth_tracker = 0;
            return;
        }
        let successful = self.growth_tracker.saturating_add(1);
        if successful >= self.growth_interval {
            let grown = self.scale * self.growth_factor;
            if grown.is_finite() {
                self.scale = grown;
            }
            self.growth_tracker = 0;
        } else {
            self.growth_tracker = successful;
        }
    }

    /// `1/scale` for [`unscale`] (f32 reciprocal, as torch's `_scale.double().reciprocal().float()`
    /// rounds once from the exact f64 value).
    pub fn inv_scale(&self) -> f32 {
        (1.0 / f64::from(self.scale)) as f32
    }
}

/// Micro-batch accumulation: `acc[i] ← acc[i] + w·g[i]` (a multiply then an add, no fused
/// operation, so the same bits on every build). `w = 1` sums micro-batch gradients; `w = 1/k`
/// averages `k` of them.
///
/// # Errors
/// [`Error::LengthMismatch`] if `grads` differs in length from `acc`;
/// [`Error::InvalidHyperparameter`] if `weight` is not finite. Nothing is written on `Err`.
pub fn accumulate(acc: &mut [f32], grads: &[f32], weight: f32) -> Result<(), Error> {
    accumulate_with(Width::NATIVE, acc, grads, weight)
}

/// [`accumulate`] at an explicit lane width (for tests and benches).
#[doc(hidden)]
pub fn accumulate_with(
    width: Width,
    acc: &mut [f32],
    grads: &[f32],
    weight: f32,
) -> Result<(), Error> {
    validate::len("grads", acc.len(), grads.len())?;
    validate::finite("weight", f64::from(weight))?;
    with_width!(width, |L, N| for_each_chunk::<N, 1, 1>(
        [acc],
        [grads],
        #[inline(always)]
        |[a], [g]| { (L::load(a) + L::load(g) * L::splat(weight)).store(a) }
    ));
    Ok(())
}
