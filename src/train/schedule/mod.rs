//! Learning-rate schedules as closed-form functions of the step number, in f64: torch's
//! (this file), the ones built from a function or other schedules (`functional.rs`), optax's
//! shapes (`optax.rs`), and the metric-driven [`ReduceOnPlateau`] (`plateau.rs`).
//!
//! `step` counts `scheduler.step()` calls, as torch's `last_epoch` does: `lr(0)` is the rate
//! right after construction. Every schedule is checked at construction ([`Error`] on a bad
//! argument) and its `lr` never panics. The closed forms equal torch's sequences after rounding
//! to f32 (the golden `lr_schedule` cases: 0 ULP for all 21), although torch computes most of
//! them recursively; see each type for its equation.

use crate::Error;
use crate::validate;
use core::f64::consts::PI;

mod functional;
mod optax;
mod plateau;

pub use functional::{Chained, Lambda, Multiplicative};
pub use optax::{
    CosineDecay, ExponentialDecay, OptaxOneCycle, PiecewiseConstant, PiecewiseInterpolate,
    PolynomialDecay, Sgdr, WarmupCosineDecay, WarmupExponentialDecay,
};
pub use plateau::{PlateauConfig, PlateauMode, ReduceOnPlateau, ThresholdMode};

/// A learning-rate schedule: the rate (and, for the cyclic ones, the momentum) at a step.
pub trait Schedule {
    /// The learning rate after `step` scheduler steps.
    fn lr(&self, step: u64) -> f64;
    /// The momentum (or Adam's β₁) the schedule sets after `step` steps, for the schedules
    /// that cycle it (one-cycle, cyclic); `None` for the others.
    fn momentum(&self, _step: u64) -> Option<f64> {
        None
    }
}

fn positive(name: &'static str, x: u64) -> Result<u64, Error> {
    if x == 0 { Err(validate::out_of_range(name, 0.0)) } else { Ok(x) }
}

fn rate(name: &'static str, x: f64) -> Result<f64, Error> {
    validate::non_negative(name, x)
}

/// A constant rate: `lr(t) = η`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Constant {
    base_lr: f64,
}

impl Constant {
    /// `η` finite, ≥ 0.
    pub fn new(base_lr: f64) -> Result<Self, Error> {
        Ok(Self { base_lr: rate("base_lr", base_lr)? })
    }
}

impl Schedule for Constant {
    fn lr(&self, _step: u64) -> f64 {
        self.base_lr
    }
}

/// `torch.optim.lr_scheduler.ConstantLR`: `η·(f + [t ≥ T]·(1 − f))`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ConstantFactor {
    base_lr: f64,
    factor: f64,
    total_iters: u64,
}

impl ConstantFactor {
    /// `factor` in `[0, 1]`.
    pub fn new(base_lr: f64, factor: f64, total_iters: u64) -> Result<Self, Error> {
        Ok(Self {
            base_lr: rate("base_lr", base_lr)?,
            factor: validate::unit_closed("factor", factor)?,
            total_iters,
        })
    }
}

impl Schedule for ConstantFactor {
    fn lr(&self, step: u64) -> f64 {
        let past = if step >= self.total_iters { 1.0 } else { 0.0 };
        self.base_lr * (self.factor + past * (1.0 - self.factor))
    }
}

/// `StepLR`: `η·γ^⌊t/s⌋`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepDecay {
    base_lr: f64,
    step_size: u64,
    gamma: f64,
}

impl StepDecay {
    /// `step_size ≥ 1`, `γ` finite, ≥ 0.
    pub fn new(base_lr: f64, step_size: u64, gamma: f64) -> Result<Self, Error> {
        Ok(Self {
            base_lr: rate("base_lr", base_lr)?,
            step_size: positive("step_size", step_size)?,
            gamma: rate("gamma", gamma)?,
        })
    }
}

impl Schedule for StepDecay {
    fn lr(&self, step: u64) -> f64 {
        self.base_lr * libm::pow(self.gamma, (step / self.step_size) as f64)
    }
}

/// `MultiStepLR`: `η·γ^k`, `k` = number of milestones `≤ t`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MultiStep<'a> {
    base_lr: f64,
    milestones: &'a [u64],
    gamma: f64,
}

impl<'a> MultiStep<'a> {
    /// `milestones` sorted ascending (torch counts repeated milestones twice; so do we).
    pub fn new(base_lr: f64, milestones: &'a [u64], gamma: f64) -> Result<Self, Error> {
        if milestones.windows(2).any(|w| w[0] > w[1]) {
            return Err(validate::out_of_range("milestones", f64::NAN));
        }
        Ok(Self { base_lr: rate("base_lr", base_lr)?, milestones, gamma: rate("gamma", gamma)? })
    }
}

impl Schedule for MultiStep<'_> {
    fn lr(&self, step: u64) -> f64 {
        let k = self.milestones.partition_point(|&m| m <= step);
        self.base_lr * libm::pow(self.gamma, k as f64)
    }
}

/// `ExponentialLR`: `η·γᵗ`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Exponential {
    base_lr: f64,
    gamma: f64,
}

impl Exponential {
    /// `γ` finite, ≥ 0.
    pub fn new(base_lr: f64, gamma: f64) -> Result<Self, Error> {
        Ok(Self { base_lr: rate("base_lr", base_lr)?, gamma: rate("gamma", gamma)? })
    }
}

impl Schedule for Exponential {
    fn lr(&self, step: u64) -> f64 {
        self.base_lr * libm::pow(self.gamma, step as f64)
    }
}

/// Inverse-time decay (Adagrad-style, Keras' `InverseTimeDecay`): `η/(1 + d·t)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InverseTime {
    base_lr: f64,
    decay: f64,
}

impl InverseTime {
    /// `d` finite, ≥ 0.
    pub fn new(base_lr: f64, decay: f64) -> Result<Self, Error> {
        Ok(Self { base_lr: rate("base_lr", base_lr)?, decay: rate("decay", decay)? })
    }
}

impl Schedule for InverseTime {
    fn lr(&self, step: u64) -> f64 {
        self.base_lr / (1.0 + self.decay * step as f64)
    }
}

/// `CosineAnnealingLR` (closed form; it keeps oscillating after `T_max`, as torch's):
/// `η_min + (η − η_min)·(1 + cos(π t/T_max))/2`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cosine {
    base_lr: f64,
    t_max: u64,
    eta_min: f64,
}

impl Cosine {
    /// `T_max ≥ 1`, `η_min` finite, ≥ 0.
    pub fn new(base_lr: f64, t_max: u64, eta_min: f64) -> Result<Self, Error> {
        Ok(Self {
            base_lr: rate("base_lr", base_lr)?,
            t_max: positive("t_max", t_max)?,
            eta_min: rate("eta_min", eta_min)?,
        })
    }
}

fn cosine(base: f64, eta_min: f64, t: f64, period: f64) -> f64 {
    eta_min + (base - eta_min) * (1.0 + libm::cos(PI * t / period)) / 2.0
}

impl Schedule for Cosine {
    fn lr(&self, step: u64) -> f64 {
        cosine(self.base_lr, self.eta_min, step as f64, self.t_max as f64)
    }
}

/// `CosineAnnealingWarmRestarts` (SGDR): cosine over periods `T₀, T₀·m, T₀·m², …` with a
/// restart to `η` at each period's start.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CosineWarmRestarts {
    base_lr: f64,
    t_0: u64,
    t_mult: u64,
    eta_min: f64,
}

impl CosineWarmRestarts {
    /// `T₀ ≥ 1`, `T_mult ≥ 1`.
    pub fn new(base_lr: f64, t_0: u64, t_mult: u64, eta_min: f64) -> Result<Self, Error> {
        Ok(Self {
            base_lr: rate("base_lr", base_lr)?,
            t_0: positive("t_0", t_0)?,
            t_mult: positive("t_mult", t_mult)?,
            eta_min: rate("eta_min", eta_min)?,
        })
    }
}

impl Schedule for CosineWarmRestarts {
    fn lr(&self, step: u64) -> f64 {
        // The integer period bookkeeping torch does step by step, in O(log t).
        let (mut t_cur, mut t_i) = (step, self.t_0);
        if self.t_mult == 1 {
            t_cur %= t_i;
        } else {
            while t_cur >= t_i {
                t_cur -= t_i;
                t_i = t_i.saturating_mul(self.t_mult);
            }
        }
        cosine(self.base_lr, self.eta_min, t_cur as f64, t_i as f64)
    }
}

/// `LinearLR`: `η·(f₀ + (f₁ − f₀)·min(t, T)/T)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Linear {
    base_lr: f64,
    start_factor: f64,
    end_factor: f64,
    total_iters: u64,
}

impl Linear {
    /// `f₀` in `(0, 1]`, `f₁` in `[0, 1]`, `T ≥ 1` (torch's checks).
    pub fn new(
        base_lr: f64,
        start_factor: f64,
        end_factor: f64,
        total_iters: u64,
    ) -> Result<Self, Error> {
        let start_factor = validate::unit_closed("start_factor", start_factor)?;
        if start_factor == 0.0 {
            return Err(validate::out_of_range("start_factor", 0.0));
        }
        Ok(Self {
            base_lr: rate("base_lr", base_lr)?,
            start_factor,
            end_factor: validate::unit_closed("end_factor", end_factor)?,
            total_iters: positive("total_iters", total_iters)?,
        })
    }
}

impl Schedule for Linear {
    fn lr(&self, step: u64) -> f64 {
        let t = step.min(self.total_iters) as f64;
        self.base_lr
            * (self.start_factor
                + (self.end_factor - self.start_factor) * t / self.total_iters as f64)
    }
}

/// `PolynomialLR`: `η·(1 − min(t, T)/T)^p`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Polynomial {
    base_lr: f64,
    total_iters: u64,
    power: f64,
}

impl Polynomial {
    /// `T ≥ 1`, `p` finite, ≥ 0.
    pub fn new(base_lr: f64, total_iters: u64, power: f64) -> Result<Self, Error> {
        Ok(Self {
            base_lr: rate("base_lr", base_lr)?,
            total_iters: positive("total_iters", total_iters)?,
            power: rate("power", power)?,
        })
    }
}

impl Schedule for Polynomial {
    fn lr(&self, step: u64) -> f64 {
        let t = step.min(self.total_iters) as f64;
        self.base_lr * libm::pow(1.0 - t / self.total_iters as f64, self.power)
    }
}

/// How [`OneCycle`] anneals within a phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Anneal {
    /// `end + (start − end)/2·(cos(π·pct) + 1)`.
    Cos = 0,
    /// `(end − start)·pct + start`.
    Linear = 1,
}

impl Anneal {
    fn apply(self, start: f64, end: f64, pct: f64) -> f64 {
        match self {
            Anneal::Cos => end + (start - end) / 2.0 * (libm::cos(PI * pct) + 1.0),
            Anneal::Linear => (end - start) * pct + start,
        }
    }
}

/// `OneCycleLR` (Smith & Topin 2018): up from `max_lr/div` to `max_lr` over the first
/// `pct_start` of the steps, then down to `max_lr/(div·final_div)`; with `three_phase`, back to
/// `max_lr/div` first, then down. The momentum moves inversely between `base_momentum` and
/// `max_momentum`. Phase `i` ends at step `e_i` (`pct_start·T − 1`, `2·pct_start·T − 2`,
/// `T − 1`); within it `pct = (t − e_{i−1})/(e_i − e_{i−1})`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OneCycle {
    phases: [(f64, f64, f64, f64, f64); 3],
    count: usize,
    anneal: Anneal,
}

impl OneCycle {
    /// torch's defaults are `pct_start = 0.3`, `div_factor = 25`, `final_div_factor = 1e4`,
    /// `base_momentum = 0.85`, `max_momentum = 0.95`, cos annealing, two phases.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        max_lr: f64,
        total_steps: u64,
        pct_start: f64,
        anneal: Anneal,
        div_factor: f64,
        final_div_factor: f64,
        three_phase: bool,
        base_momentum: f64,
        max_momentum: f64,
    ) -> Result<Self, Error> {
        let max_lr = rate("max_lr", max_lr)?;
        let total = positive("total_steps", total_steps)? as f64;
        let pct_start = validate::unit_closed("pct_start", pct_start)?;
        let div = validate::finite("div_factor", div_factor)?;
        let final_div = validate::finite("final_div_factor", final_div_factor)?;
        if div <= 0.0 {
            return Err(validate::out_of_range("div_factor", div));
        }
        if final_div <= 0.0 {
            return Err(validate::out_of_range("final_div_factor", final_div));
        }
        let base_m = validate::finite("base_momentum", base_momentum)?;
        let max_m = validate::finite("max_momentum", max_momentum)?;
        let initial = max_lr / div;
        let min = initial / final_div;
        // (end_step, start_lr, end_lr, start_momentum, end_momentum), as torch builds them.
        let (phases, count) = if three_phase {
            (
                [
                    (pct_start * total - 1.0, initial, max_lr, max_m, base_m),
                    (2.0 * pct_start * total - 2.0, max_lr, initial, base_m, max_m),
                    (total - 1.0, initial, min, max_m, max_m),
                ],
                3,
            )
        } else {
            (
                [
                    (pct_start * total - 1.0, initial, max_lr, max_m, base_m),
                    (total - 1.0, max_lr, min, base_m, max_m),
                    (0.0, 0.0, 0.0, 0.0, 0.0),
                ],
                2,
            )
        };
        Ok(Self { phases, count, anneal })
    }

    /// `(lr, momentum)` at `step`.
    fn at(&self, step: u64) -> (f64, f64) {
        let t = step as f64;
        let mut start_step = 0.0;
        let phases = &self.phases[..self.count];
        for (i, &(end_step, lr0, lr1, m0, m1)) in phases.iter().enumerate() {
            if t <= end_step || i == phases.len() - 1 {
                let pct = (t - start_step) / (end_step - start_step);
                return (self.anneal.apply(lr0, lr1, pct), self.anneal.apply(m0, m1, pct));
            }
            start_step = end_step;
        }
        (f64::NAN, f64::NAN)
    }
}

impl Schedule for OneCycle {
    fn lr(&self, step: u64) -> f64 {
        self.at(step).0
    }
    fn momentum(&self, step: u64) -> Option<f64> {
        Some(self.at(step).1)
    }
}

/// [`Cyclic`]'s amplitude policy.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CyclicMode {
    /// Constant amplitude.
    Triangular,
    /// Amplitude halved every cycle: `1/2^(cycle − 1)`.
    Triangular2,
    /// Amplitude `γ^t` (per iteration).
    ExpRange(f64),
}

/// `CyclicLR` (Smith 2017): triangular cycles between `base_lr` and `max_lr`, `up` steps up and
/// `down` steps down; the momentum cycles inversely between `max_momentum` and `base_momentum`.
/// `cycle = ⌊1 + t/(up+down)⌋`, `x = 1 + t/(up+down) − cycle`, scale `x/r` or `(x−1)/(r−1)` with
/// `r = up/(up+down)`; `lr = base + (max − base)·scale·f`, `f` from the mode.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cyclic {
    base_lr: f64,
    max_lr: f64,
    total: f64,
    ratio: f64,
    mode: CyclicMode,
    base_momentum: f64,
    max_momentum: f64,
}

impl Cyclic {
    /// torch's defaults: `down = up`, `base_momentum = 0.8`, `max_momentum = 0.9`.
    pub fn new(
        base_lr: f64,
        max_lr: f64,
        step_size_up: u64,
        step_size_down: u64,
        mode: CyclicMode,
        base_momentum: f64,
        max_momentum: f64,
    ) -> Result<Self, Error> {
        let up = positive("step_size_up", step_size_up)? as f64;
        let total = up + step_size_down as f64;
        if let CyclicMode::ExpRange(g) = mode {
            rate("gamma", g)?;
        }
        Ok(Self {
            base_lr: rate("base_lr", base_lr)?,
            max_lr: rate("max_lr", max_lr)?,
            total,
            ratio: up / total,
            mode,
            base_momentum: validate::finite("base_momentum", base_momentum)?,
            max_momentum: validate::finite("max_momentum", max_momentum)?,
        })
    }

    /// `(scale_factor, f)` at `step`.
    fn at(&self, step: u64) -> (f64, f64) {
        let t = step as f64;
        let cycle = libm::floor(1.0 + t / self.total);
        let x = 1.0 + t / self.total - cycle;
        let scale = if x <= self.ratio { x / self.ratio } else { (x - 1.0) / (self.ratio - 1.0) };
        let f = match self.mode {
            CyclicMode::Triangular => 1.0,
            CyclicMode::Triangular2 => 1.0 / libm::pow(2.0, cycle - 1.0),
            CyclicMode::ExpRange(gamma) => libm::pow(gamma, t),
        };
        (scale, f)
    }
}

impl Schedule for Cyclic {
    fn lr(&self, step: u64) -> f64 {
        let (scale, f) = self.at(step);
        self.base_lr + (self.max_lr - self.base_lr) * scale * f
    }
    fn momentum(&self, step: u64) -> Option<f64> {
        let (scale, f) = self.at(step);
        Some(self.max_momentum - (self.max_momentum - self.base_momentum) * scale * f)
    }
}

/// `SequentialLR`: schedule `i` runs from milestone `i − 1` (0 for the first), restarted at
/// its own step 0. A warmup-then-decay composition is `[warmup, decay]` with one milestone.
#[derive(Clone, Copy)]
pub struct Sequential<'a> {
    schedules: &'a [&'a dyn Schedule],
    milestones: &'a [u64],
}

impl<'a> Sequential<'a> {
    /// `schedules.len() == milestones.len() + 1 ≥ 1`, milestones ascending.
    pub fn new(schedules: &'a [&'a dyn Schedule], milestones: &'a [u64]) -> Result<Self, Error> {
        if schedules.is_empty() || schedules.len() != milestones.len() + 1 {
            return Err(Error::LengthMismatch {
                arg: "milestones",
                expected: schedules.len().saturating_sub(1),
                found: milestones.len(),
            });
        }
        if milestones.windows(2).any(|w| w[0] > w[1]) {
            return Err(validate::out_of_range("milestones", f64::NAN));
        }
        Ok(Self { schedules, milestones })
    }

    fn pick(&self, step: u64) -> (&'a dyn Schedule, u64) {
        let i = self.milestones.partition_point(|&m| m <= step);
        let start = if i == 0 { 0 } else { self.milestones[i - 1] };
        (self.schedules[i], step - start)
    }
}

impl Schedule for Sequential<'_> {
    fn lr(&self, step: u64) -> f64 {
        let (s, t) = self.pick(step);
        s.lr(t)
    }
    fn momentum(&self, step: u64) -> Option<f64> {
        let (s, t) = self.pick(step);
        s.momentum(t)
    }
}

/// Warmup–stable–decay (the "trapezoidal" schedule of recent LLM training): linear warmup
/// from 0 over `warmup` steps, `η` for `stable` steps, then linear decay to `η·final_factor`
/// over `decay` steps, constant after.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WarmupStableDecay {
    base_lr: f64,
    warmup: u64,
    stable: u64,
    decay: u64,
    final_factor: f64,
}

impl WarmupStableDecay {
    /// `final_factor` in `[0, 1]`.
    pub fn new(
        base_lr: f64,
        warmup: u64,
        stable: u64,
        decay: u64,
        final_factor: f64,
    ) -> Result<Self, Error> {
        Ok(Self {
            base_lr: rate("base_lr", base_lr)?,
            warmup,
            stable,
            decay,
            final_factor: validate::unit_closed("final_factor", final_factor)?,
        })
    }
}

impl Schedule for WarmupStableDecay {
    fn lr(&self, step: u64) -> f64 {
        if step < self.warmup {
            return self.base_lr * step as f64 / self.warmup as f64;
        }
        let t = step - self.warmup;
        if t < self.stable {
            return self.base_lr;
        }
        let t = (t - self.stable).min(self.decay);
        let frac = if self.decay == 0 { 1.0 } else { t as f64 / self.decay as f64 };
        self.base_lr * (1.0 - (1.0 - self.final_factor) * frac)
    }
}

/// `torch.optim.swa_utils.SWALR`: anneals from the optimizer's rate `η` (at construction) to
/// `swa_lr` over `anneal_epochs` steps, then stays there. With `s' = max(1, t)` if
/// `anneal_epochs = 0` else `t`, and `a = α(clamp(s'/max(1, anneal_epochs), 0, 1))`
/// (`α(x) = (1 − cos(πx))/2` for [`Anneal::Cos`], `x` for [`Anneal::Linear`]):
/// `lr(t) = swa_lr·a + η·(1 − a)`.
///
/// torch computes it recursively from the current rate (recovering `η` each step); this
/// closed form is what that recursion computes, up to f64 rounding.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SwaLr {
    base_lr: f64,
    swa_lr: f64,
    anneal_epochs: u64,
    anneal: Anneal,
}

impl SwaLr {
    /// `η`, `swa_lr` finite, ≥ 0.
    pub fn new(
        base_lr: f64,
        swa_lr: f64,
        anneal_epochs: u64,
        anneal: Anneal,
    ) -> Result<Self, Error> {
        Ok(Self {
            base_lr: rate("base_lr", base_lr)?,
            swa_lr: rate("swa_lr", swa_lr)?,
            anneal_epochs,
            anneal,
        })
    }
}

impl Schedule for SwaLr {
    fn lr(&self, step: u64) -> f64 {
        let s = if self.anneal_epochs == 0 { step.max(1) } else { step };
        let x = (s as f64 / self.anneal_epochs.max(1) as f64).clamp(0.0, 1.0);
        let a = match self.anneal {
            Anneal::Cos => (1.0 - libm::cos(PI * x)) / 2.0,
            Anneal::Linear => x,
        };
        self.swa_lr * a + self.base_lr * (1.0 - a)
    }
}
