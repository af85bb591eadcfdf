//! Weight averaging (`torch.optim.swa_utils.AveragedModel` and timm's `ModelEmaV3`): a running
//! average of the parameters, kept next to them and updated after each optimizer step.
//!
//! Both kernels copy `params` into `average` on the first update (torch's `AveragedModel`
//! does; timm's EMA has weight 1 there) and afterwards blend with torch's operation order, so
//! the averaged weights are bit-identical to torch's on FMA builds.

use crate::driver::for_each_chunk;
use crate::lanes::Lanes;
use crate::numerics::{Numerics, TorchLerp, c, with_profile};
use crate::width::with_width;
use crate::{Error, Width, validate};

/// How [`swa_update`] blends a new point into the average.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum SwaForm {
    /// `a ← a + (x − a)/(k + 1)`: `AveragedModel`'s default `avg_fn` on CPU (a subtraction, a
    /// true division by `f32(k + 1)`, an addition: three roundings).
    Divide = 0,
    /// `a ← lerp(a, x, w)` with `w = f32(1/(k + 1))`: `get_swa_multi_avg_fn()` (torch's path
    /// on CUDA and with `multi_avg_fn`).
    Lerp = 1,
}

/// Options of [`swa_update`]. [`Default`] is `AveragedModel(model)` on CPU.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct SwaConfig {
    /// Operation order of the blend. Default [`SwaForm::Divide`].
    pub form: SwaForm,
    /// [`Numerics::Torch`] (default) fuses the [`SwaForm::Lerp`] as torch's `lerp` does;
    /// [`Numerics::Portable`] never fuses. [`SwaForm::Divide`] has no fusable operation.
    pub numerics: Numerics,
}

impl Default for SwaConfig {
    fn default() -> Self {
        Self { form: SwaForm::Divide, numerics: Numerics::Torch }
    }
}

/// How [`ema_update`] blends a new point into the average.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum EmaForm {
    /// `a ← lerp(a, x, c(1 − δ))`: `get_ema_multi_avg_fn(decay)` and timm's `ModelEmaV3`.
    Lerp = 0,
    /// `a ← c(δ)·a + c(1 − δ)·x` (two products, one addition, never fused):
    /// `get_ema_avg_fn(decay)`.
    Products = 1,
}

/// Options of [`ema_update`]. [`Default`] is timm's `ModelEmaV3()` (decay 0.9999, no
/// warm-up), which is also `AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.9999))`.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct EmaConfig {
    /// The decay `δ` (timm's `decay`; with warm-up its upper bound). Default `0.9999`; finite,
    /// in `[0, 1]`.
    pub decay: f64,
    /// Lower bound of the warmed-up decay (timm's `min_decay`). Default `0`; finite, in
    /// `[0, 1]`.
    pub min_decay: f64,
    /// Updates that only copy, after the first (timm's `update_after_step`). Default `0`.
    pub update_after_step: u32,
    /// timm's warm-up: `δ_t = clamp(1 − (1 + s/γ)^(−p), min_decay, decay)`. Default `false`.
    pub warmup: bool,
    /// `γ` of the warm-up. Default `1`; finite, > 0.
    pub warmup_gamma: f64,
    /// `p` of the warm-up. Default `2/3`; finite, > 0.
    pub warmup_power: f64,
    /// Operation order of the blend. Default [`EmaForm::Lerp`].
    pub form: EmaForm,
    /// [`Numerics::Torch`] (default) fuses the [`EmaForm::Lerp`] as torch's `lerp` does;
    /// [`Numerics::Portable`] never fuses.
    pub numerics: Numerics,
}

impl Default for EmaConfig {
    fn default() -> Self {
        Self {
            decay: 0.9999,
            min_decay: 0.0,
            update_after_step: 0,
            warmup: false,
            warmup_gamma: 1.0,
            warmup_power: 2.0 / 3.0,
            form: EmaForm::Lerp,
            numerics: Numerics::Torch,
        }
    }
}

impl EmaConfig {
    /// The decay `δ_t` of update `step` (1-based), as timm's `get_decay` computes it in f64:
    /// with `s = step − update_after_step − 1`, `0` while `s ≤ 0` (the update copies), else
    /// `decay`, or with warm-up `max(min(1 − (1 + s/γ)^(−p), decay), min_decay)`. For
    /// `AveragedModel` with an EMA function leave `update_after_step = 0` and `warmup` off: the
    /// first update copies and every later one uses `decay`.
    ///
    /// # Errors
    /// [`Error::ZeroStep`] for `step = 0`, [`Error::InvalidHyperparameter`] for a field out of
    /// range.
    pub fn decay_at(&self, step: u32) -> Result<f64, Error> {
        validate::step(step)?;
        let decay = validate::unit_closed("decay", self.decay)?;
        let min_decay = validate::unit_closed("min_decay", self.min_decay)?;
        let gamma = positive("warmup_gamma", self.warmup_gamma)?;
        let power = positive("warmup_power", self.warmup_power)?;
        let s = step.saturating_sub(self.update_after_step).saturating_sub(1);
        Ok(if s == 0 {
            0.0
        } else if self.warmup {
            let warm = 1.0 - libm::pow(1.0 + f64::from(s) / gamma, -power);
            warm.min(decay).max(min_decay)
        } else {
            decay
        })
    }
}

fn positive(name: &'static str, value: f64) -> Result<f64, Error> {
    if validate::finite(name, value)? > 0.0 {
        Ok(value)
    } else {
        Err(validate::out_of_range(name, value))
    }
}

/// One blend, decided per call.
enum Blend {
    /// The first update: `a ← x`.
    Copy,
    /// `a ← a + (x − a)/d`.
    Divide(f32),
    /// `a ← lerp(a, x, w)`.
    Lerp(TorchLerp),
    /// `a ← δ·a + (1 − δ)·x`.
    Products(f32, f32),
}

#[inline(always)]
fn checked(average: &[f32], params: &[f32]) -> Result<(), Error> {
    validate::len("params", average.len(), params.len())
}

/// Stochastic weight averaging (Izmailov et al. 2018), `AveragedModel`'s default: updates
/// `average` (`a`) with `params` (`x`) in place, `k = n_averaged` being the number of points
/// already in the average (the caller adds 1 after the call, as torch's `n_averaged` buffer).
///
/// For every index `i`:
/// ```text
/// k = 0:  a ← x                                  (the first update copies)
/// k ≥ 1:  a ← a + (x − a) / f32(k + 1)           (SwaForm::Divide: three roundings)
///         a ← lerp(a, x, f32(1) / f32(k + 1))    (SwaForm::Lerp: torch's lerp)
/// ```
/// so that `a` is the mean of the `k + 1` points.
///
/// # Errors
/// [`Error::LengthMismatch`] if `params` differs in length from `average`.
/// **Nothing is written when an error is returned.**
pub fn swa_update(
    average: &mut [f32],
    params: &[f32],
    n_averaged: u64,
    cfg: &SwaConfig,
) -> Result<(), Error> {
    swa_update_with(Width::NATIVE, average, params, n_averaged, cfg)
}

/// [`swa_update`] at an explicit lane width (for tests and benches).
#[doc(hidden)]
pub fn swa_update_with(
    width: Width,
    average: &mut [f32],
    params: &[f32],
    n_averaged: u64,
    cfg: &SwaConfig,
) -> Result<(), Error> {
    checked(average, params)?;
    // `k + 1` as torch's integer tensor promoted to f32 (rounded above 2^24).
    let count = (n_averaged as f32) + 1.0;
    let blend = match (n_averaged, cfg.form) {
        (0, _) => Blend::Copy,
        (_, SwaForm::Divide) => Blend::Divide(count),
        (_, SwaForm::Lerp) => Blend::Lerp(TorchLerp::with_f32(1.0 / count)),
    };
    average_blend(width, cfg.numerics, &blend, average, params);
    Ok(())
}

/// Exponential moving average of the weights (`get_ema_multi_avg_fn` / `get_ema_avg_fn`,
/// timm's `ModelEmaV3`): updates `average` (`a`) with `params` (`x`) in place at update number
/// `step` (1-based).
///
/// For every index `i`, with `δ = cfg.decay_at(step)` ([`EmaConfig::decay_at`]):
/// ```text
/// δ = 0:  a ← x                                  (the first update(s) copy)
/// δ > 0:  a ← lerp(a, x, c(1 − δ))               (EmaForm::Lerp: torch's lerp)
///         a ← c(δ)·a + c(1 − δ)·x                (EmaForm::Products: two products, one add)
/// ```
/// (timm blends with weight 1 where this copies: the same bits for every finite input except
/// that its lerp can turn `x = −0` into `+0`.)
///
/// # Errors
/// [`Error::LengthMismatch`] if `params` differs in length from `average`; [`Error::ZeroStep`];
/// [`Error::InvalidHyperparameter`] for a NaN, infinite or out-of-range field.
/// **Nothing is written when an error is returned.**
pub fn ema_update(
    average: &mut [f32],
    params: &[f32],
    step: u32,
    cfg: &EmaConfig,
) -> Result<(), Error> {
    ema_update_with(Width::NATIVE, average, params, step, cfg)
}

/// [`ema_update`] at an explicit lane width (for tests and benches).
#[doc(hidden)]
pub fn ema_update_with(
    width: Width,
    average: &mut [f32],
    params: &[f32],
    step: u32,
    cfg: &EmaConfig,
) -> Result<(), Error> {
    checked(average, params)?;
    let decay = cfg.decay_at(step)?;
    let blend = match cfg.form {
        _ if decay == 0.0 => Blend::Copy,
        EmaForm::Lerp => Blend::Lerp(TorchLerp::with_weight(1.0 - decay)),
        EmaForm::Products => Blend::Products(c(decay), c(1.0 - decay)),
    };
    average_blend(width, cfg.numerics, &blend, average, params);
    Ok(())
}

/// Both kernels' loops: one per blend (the blend is decided per call, not per chunk).
#[inline(never)]
fn average_blend(
    width: Width,
    numerics: Numerics,
    blend: &Blend,
    average: &mut [f32],
    params: &[f32],
) {
    match *blend {
        Blend::Copy => crate::slices::copy(average, params),
        Blend::Divide(count) => with_width!(width, |L, N| {
            blend_loop::<L, N>(average, params, |a, x| a + (x - a) / L::splat(count))
        }),
        Blend::Products(decay, one_minus) => with_width!(width, |L, N| {
            blend_loop::<L, N>(average, params, |a, x| {
                a * L::splat(decay) + x * L::splat(one_minus)
            })
        }),
        Blend::Lerp(lerp) => with_width!(width, |L, N| with_profile!(numerics, |P| {
            blend_loop::<L, N>(average, params, |a, x| lerp.apply::<P, L, N>(a, x))
        })),
    }
}

/// `a ← f(a, x)` over the chunks.
#[inline(always)]
fn blend_loop<L: Lanes<N>, const N: usize>(
    average: &mut [f32],
    params: &[f32],
    f: impl Fn(L, L) -> L,
) {
    for_each_chunk::<N, 1, 1>(
        [average],
        [params],
        #[inline(always)]
        |[a], [x]| f(L::load(a), L::load(x)).store(a),
    )
}
