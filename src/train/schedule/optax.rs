//! optax's schedule shapes that torch lacks, as closed forms in f64 of the step count `c`
//! (optax's `count`; optax evaluates them in f32, within a few ULP of these).

use super::{Anneal, Schedule, positive, rate};
use crate::{Error, validate};

/// `optax.exponential_decay`: with `k = c − transition_begin`, `p = k/transition_steps`
/// (`⌊p⌋` with `staircase`): `init` while `k ≤ 0`, else `init·rate^p`; with `end_value`, the
/// result is clipped to it (`max(v, end)` when `rate < 1`, else `min(v, end)`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ExponentialDecay {
    init: f64,
    transition_steps: u64,
    decay_rate: f64,
    transition_begin: u64,
    staircase: bool,
    end_value: Option<f64>,
}

impl ExponentialDecay {
    /// `init`, `decay_rate` and `end_value` finite, ≥ 0; `transition_steps ≥ 1`.
    pub fn new(
        init: f64,
        transition_steps: u64,
        decay_rate: f64,
        transition_begin: u64,
        staircase: bool,
        end_value: Option<f64>,
    ) -> Result<Self, Error> {
        Ok(Self {
            init: rate("init_value", init)?,
            transition_steps: positive("transition_steps", transition_steps)?,
            decay_rate: rate("decay_rate", decay_rate)?,
            transition_begin,
            staircase,
            end_value: end_value.map(|e| rate("end_value", e)).transpose()?,
        })
    }
}

impl Schedule for ExponentialDecay {
    fn lr(&self, step: u64) -> f64 {
        let v = if step <= self.transition_begin {
            self.init
        } else {
            let p = (step - self.transition_begin) as f64 / self.transition_steps as f64;
            let p = if self.staircase { libm::floor(p) } else { p };
            self.init * libm::pow(self.decay_rate, p)
        };
        match self.end_value {
            Some(end) if self.decay_rate < 1.0 => v.max(end),
            Some(end) => v.min(end),
            None => v,
        }
    }
}

/// `optax.polynomial_schedule` (and `linear_schedule`, power 1): with
/// `k = clamp(c − transition_begin, 0, transition_steps)`,
/// `(init − end)·(1 − k/transition_steps)^power + end`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PolynomialDecay {
    init: f64,
    end: f64,
    power: f64,
    transition_steps: u64,
    transition_begin: u64,
}

impl PolynomialDecay {
    /// `init`, `end`, `power` finite, ≥ 0; `transition_steps ≥ 1`.
    pub fn new(
        init: f64,
        end: f64,
        power: f64,
        transition_steps: u64,
        transition_begin: u64,
    ) -> Result<Self, Error> {
        Ok(Self {
            init: rate("init_value", init)?,
            end: rate("end_value", end)?,
            power: rate("power", power)?,
            transition_steps: positive("transition_steps", transition_steps)?,
            transition_begin,
        })
    }
}

impl Schedule for PolynomialDecay {
    fn lr(&self, step: u64) -> f64 {
        let k = step.saturating_sub(self.transition_begin).min(self.transition_steps);
        let frac = 1.0 - k as f64 / self.transition_steps as f64;
        (self.init - self.end) * libm::pow(frac, self.power) + self.end
    }
}

/// One scale per boundary, boundaries strictly ascending, scales finite, ≥ 0.
fn boundaries(boundaries: &[u64], scales: &[f64]) -> Result<(), Error> {
    validate::len("scales", boundaries.len(), scales.len())?;
    if boundaries.windows(2).any(|w| w[0] >= w[1]) {
        return Err(validate::out_of_range("boundaries", f64::NAN));
    }
    for &s in scales {
        rate("scales", s)?;
    }
    Ok(())
}

/// `optax.piecewise_constant_schedule`: `init`, multiplied by each boundary's scale once
/// `c ≥ b` (a boundary at 0 applies from the start).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PiecewiseConstant<'a> {
    init: f64,
    boundaries: &'a [u64],
    scales: &'a [f64],
}

impl<'a> PiecewiseConstant<'a> {
    /// `init` and the scales finite, ≥ 0; one scale per boundary; boundaries strictly
    /// ascending.
    pub fn new(init: f64, boundaries: &'a [u64], scales: &'a [f64]) -> Result<Self, Error> {
        self::boundaries(boundaries, scales)?;
        Ok(Self { init: rate("init_value", init)?, boundaries, scales })
    }
}

impl Schedule for PiecewiseConstant<'_> {
    fn lr(&self, step: u64) -> f64 {
        let passed = self.boundaries.partition_point(|&b| b <= step);
        self.scales.iter().take(passed).fold(self.init, |v, s| v * s)
    }
}

/// `optax.piecewise_interpolate_schedule`: the values `v₀ = init`, `v_j = v_{j−1}·scale_j`
/// at the boundaries `0 = b₀ < b₁ < …`, joined linearly ([`Anneal::Linear`]) or by half
/// cosines ([`Anneal::Cos`]): for `b_j ≤ c < b_{j+1}`, `pct = (c − b_j)/max(b_{j+1} − b_j, 1)`;
/// `v_last` from the last boundary on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PiecewiseInterpolate<'a> {
    kind: Anneal,
    init: f64,
    boundaries: &'a [u64],
    scales: &'a [f64],
}

impl<'a> PiecewiseInterpolate<'a> {
    /// `init` and the scales finite, ≥ 0; one scale per boundary; boundaries strictly
    /// ascending.
    pub fn new(
        kind: Anneal,
        init: f64,
        boundaries: &'a [u64],
        scales: &'a [f64],
    ) -> Result<Self, Error> {
        self::boundaries(boundaries, scales)?;
        Ok(Self { kind, init: rate("init_value", init)?, boundaries, scales })
    }
}

fn interpolate(kind: Anneal, init: f64, boundaries: &[u64], scales: &[f64], step: u64) -> f64 {
    let (mut start, mut value) = (0u64, init);
    for (&b, &scale) in boundaries.iter().zip(scales) {
        let next = value * scale;
        if step < b {
            let pct = (step - start) as f64 / (b - start).max(1) as f64;
            return kind.apply(value, next, pct);
        }
        (start, value) = (b, next);
    }
    value
}

impl Schedule for PiecewiseInterpolate<'_> {
    fn lr(&self, step: u64) -> f64 {
        interpolate(self.kind, self.init, self.boundaries, self.scales, step)
    }
}

/// optax's one-cycle schedules (not torch's `OneCycleLR` conventions): from `peak/div`, with
/// `T = transition_steps`,
/// - [`Anneal::Linear`] (`linear_onecycle_schedule`): piecewise linear with scales
///   `{⌊pct_start·T⌋: div, ⌊pct_final·T⌋: 1/div, T: 1/final_div}`;
/// - [`Anneal::Cos`] (`cosine_onecycle_schedule`, no `pct_final`): piecewise cosine with
///   `{⌊pct_start·T⌋: div, T: 1/(div·final_div)}`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OptaxOneCycle {
    kind: Anneal,
    init: f64,
    boundaries: [u64; 3],
    scales: [f64; 3],
    count: usize,
}

impl OptaxOneCycle {
    /// `T ≥ 1`; `peak` finite, ≥ 0; `0 ≤ pct_start ≤ pct_final ≤ 1` (`pct_final` unused for
    /// cosine); `div`, `final_div` finite, > 0. Coinciding boundaries are an error.
    pub fn new(
        kind: Anneal,
        transition_steps: u64,
        peak: f64,
        pct_start: f64,
        pct_final: f64,
        div: f64,
        final_div: f64,
    ) -> Result<Self, Error> {
        let t = positive("transition_steps", transition_steps)?;
        let peak = rate("peak_value", peak)?;
        let pct_start = validate::unit_closed("pct_start", pct_start)?;
        let pct_final = validate::unit_closed("pct_final", pct_final)?;
        for (name, x) in [("div_factor", div), ("final_div_factor", final_div)] {
            if rate(name, x)? == 0.0 {
                return Err(validate::out_of_range(name, x));
            }
        }
        let at = |pct: f64| (pct * t as f64) as u64;
        let (boundaries, scales, count) = match kind {
            Anneal::Linear => {
                if pct_final < pct_start {
                    return Err(validate::out_of_range("pct_final", pct_final));
                }
                let b = [at(pct_start), at(pct_final), t];
                (b, [div, 1.0 / div, 1.0 / final_div], 3)
            }
            Anneal::Cos => ([at(pct_start), t, 0], [div, 1.0 / (div * final_div), 0.0], 2),
        };
        self::boundaries(&boundaries[..count], &scales[..count])?;
        Ok(Self { kind, init: peak / div, boundaries, scales, count })
    }
}

impl Schedule for OptaxOneCycle {
    fn lr(&self, step: u64) -> f64 {
        let n = self.count;
        interpolate(self.kind, self.init, &self.boundaries[..n], &self.scales[..n], step)
    }
}

/// `optax.cosine_decay_schedule`: with `c' = min(c, decay_steps)`,
/// `init·((1 − α)·(½(1 + cos(π c'/decay_steps)))^exponent + α)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CosineDecay {
    init: f64,
    decay_steps: u64,
    alpha: f64,
    exponent: f64,
}

impl CosineDecay {
    /// `init`, `exponent` finite, ≥ 0; `decay_steps ≥ 1`; `α` in `[0, 1]`.
    pub fn new(init: f64, decay_steps: u64, alpha: f64, exponent: f64) -> Result<Self, Error> {
        Ok(Self {
            init: rate("init_value", init)?,
            decay_steps: positive("decay_steps", decay_steps)?,
            alpha: validate::unit_closed("alpha", alpha)?,
            exponent: rate("exponent", exponent)?,
        })
    }
}

impl Schedule for CosineDecay {
    fn lr(&self, step: u64) -> f64 {
        let c = step.min(self.decay_steps) as f64 / self.decay_steps as f64;
        let cosine = 0.5 * (1.0 + libm::cos(core::f64::consts::PI * c));
        self.init * ((1.0 - self.alpha) * libm::pow(cosine, self.exponent) + self.alpha)
    }
}

/// `optax.warmup_cosine_decay_schedule`: linear from `init` to `peak` over `warmup_steps`,
/// then [`CosineDecay`]`(peak, decay_steps − warmup_steps, α = end/peak, exponent)` at
/// `c − warmup_steps` (`decay_steps` counts the warm-up).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WarmupCosineDecay {
    warmup: PolynomialDecay,
    warmup_steps: u64,
    decay: CosineDecay,
    decay_steps: u64,
}

impl WarmupCosineDecay {
    /// `init`, `peak`, `end` finite, ≥ 0, `end ≤ peak`; `decay_steps > warmup_steps`.
    pub fn new(
        init: f64,
        peak: f64,
        warmup_steps: u64,
        decay_steps: u64,
        end: f64,
        exponent: f64,
    ) -> Result<Self, Error> {
        let peak = rate("peak_value", peak)?;
        let alpha = if peak == 0.0 { 0.0 } else { rate("end_value", end)? / peak };
        let cosine_steps = decay_steps.checked_sub(warmup_steps).filter(|&s| s > 0);
        let cosine_steps =
            cosine_steps.ok_or(validate::out_of_range("decay_steps", decay_steps as f64))?;
        Ok(Self {
            warmup: PolynomialDecay::new(init, peak, 1.0, warmup_steps.max(1), 0)?,
            warmup_steps,
            decay: CosineDecay::new(peak, cosine_steps, alpha, exponent)?,
            decay_steps,
        })
    }

    /// `decay_steps` (the length of one [`Sgdr`] cycle).
    pub fn decay_steps(&self) -> u64 {
        self.decay_steps
    }
}

impl Schedule for WarmupCosineDecay {
    fn lr(&self, step: u64) -> f64 {
        warmup_then(step, self.warmup_steps, &self.warmup, &self.decay)
    }
}

/// `optax.warmup_exponential_decay_schedule`: linear from `init` to `peak` over
/// `warmup_steps`, then [`ExponentialDecay`]`(peak, …)` at `c − warmup_steps`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WarmupExponentialDecay {
    warmup: PolynomialDecay,
    warmup_steps: u64,
    decay: ExponentialDecay,
}

impl WarmupExponentialDecay {
    /// As [`ExponentialDecay::new`] with `init = peak`; `init` finite, ≥ 0.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        init: f64,
        peak: f64,
        warmup_steps: u64,
        transition_steps: u64,
        decay_rate: f64,
        transition_begin: u64,
        staircase: bool,
        end_value: Option<f64>,
    ) -> Result<Self, Error> {
        Ok(Self {
            warmup: PolynomialDecay::new(init, peak, 1.0, warmup_steps.max(1), 0)?,
            warmup_steps,
            decay: ExponentialDecay::new(
                peak,
                transition_steps,
                decay_rate,
                transition_begin,
                staircase,
                end_value,
            )?,
        })
    }
}

impl Schedule for WarmupExponentialDecay {
    fn lr(&self, step: u64) -> f64 {
        warmup_then(step, self.warmup_steps, &self.warmup, &self.decay)
    }
}

/// optax's `join_schedules` of a warm-up and a decay: the warm-up before `warmup_steps`, then
/// the decay at `step − warmup_steps`.
fn warmup_then(step: u64, warmup_steps: u64, warmup: &impl Schedule, decay: &impl Schedule) -> f64 {
    if step < warmup_steps { warmup.lr(step) } else { decay.lr(step - warmup_steps) }
}

/// `optax.sgdr_schedule`: [`WarmupCosineDecay`] cycles back to back; cycle `j` starts at the
/// sum of the earlier cycles' `decay_steps` and is evaluated at `c` minus that; the last one
/// continues past its end.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sgdr<'a> {
    cycles: &'a [WarmupCosineDecay],
}

impl<'a> Sgdr<'a> {
    /// At least one cycle.
    pub fn new(cycles: &'a [WarmupCosineDecay]) -> Result<Self, Error> {
        if cycles.is_empty() {
            return Err(Error::LengthMismatch { arg: "cycles", expected: 1, found: 0 });
        }
        Ok(Self { cycles })
    }
}

impl Schedule for Sgdr<'_> {
    fn lr(&self, step: u64) -> f64 {
        let Some((last, earlier)) = self.cycles.split_last() else { return 0.0 };
        let mut start = 0u64;
        for cycle in earlier {
            let end = start.saturating_add(cycle.decay_steps());
            if step < end {
                return cycle.lr(step - start);
            }
            start = end;
        }
        last.lr(step.saturating_sub(start))
    }
}
