//! Schedules built from a caller's function or from other schedules: torch's `LambdaLR`,
//! `MultiplicativeLR` and `ChainedScheduler`.

use super::{Schedule, rate};
use crate::Error;

/// `LambdaLR`: `lr(t) = η·f(t)`, with `f` the caller's function of the step count (torch's
/// `lr_lambda(epoch)`).
#[derive(Clone, Copy, Debug)]
pub struct Lambda<F> {
    base_lr: f64,
    f: F,
}

impl<F: Fn(u64) -> f64> Lambda<F> {
    /// `η` finite, ≥ 0. `f` is not checked: a non-finite `f(t)` gives a non-finite rate.
    pub fn new(base_lr: f64, f: F) -> Result<Self, Error> {
        Ok(Self { base_lr: rate("base_lr", base_lr)?, f })
    }
}

impl<F: Fn(u64) -> f64> Schedule for Lambda<F> {
    fn lr(&self, step: u64) -> f64 {
        self.base_lr * (self.f)(step)
    }
}

/// `MultiplicativeLR`: `lr(0) = η`, `lr(t) = lr(t − 1)·f(t)` (torch never calls `f(0)`).
///
/// [`Schedule::lr`] multiplies out the `t` factors in torch's order (the same f64 products as
/// torch's recursion), so it costs `O(t)`; in a training loop carry the rate and call
/// [`Multiplicative::next_lr`] once per step instead.
#[derive(Clone, Copy, Debug)]
pub struct Multiplicative<F> {
    base_lr: f64,
    f: F,
}

impl<F: Fn(u64) -> f64> Multiplicative<F> {
    /// `η` finite, ≥ 0.
    pub fn new(base_lr: f64, f: F) -> Result<Self, Error> {
        Ok(Self { base_lr: rate("base_lr", base_lr)?, f })
    }

    /// The rate after step `step` (≥ 1) from the rate before it: `lr·f(step)`.
    pub fn next_lr(&self, lr: f64, step: u64) -> f64 {
        lr * (self.f)(step)
    }
}

impl<F: Fn(u64) -> f64> Schedule for Multiplicative<F> {
    fn lr(&self, step: u64) -> f64 {
        (1..=step).fold(self.base_lr, |lr, t| self.next_lr(lr, t))
    }
}

/// `ChainedScheduler`: several schedules applied to the same rate at every step, so their
/// factors multiply: `lr(t) = η·Π_i f_i(t)`, where `f_i` is schedule `i` built with a base rate
/// of 1 (e.g. `Exponential::new(1.0, γ)`).
///
/// torch applies each factor to the current rate step by step; the closed form differs from
/// that recursion only in f64 rounding (relative 1e-14 after 200 steps, the golden cases).
#[derive(Clone, Copy)]
pub struct Chained<'a> {
    base_lr: f64,
    factors: &'a [&'a dyn Schedule],
}

impl<'a> Chained<'a> {
    /// `η` finite, ≥ 0; at least one schedule.
    pub fn new(base_lr: f64, factors: &'a [&'a dyn Schedule]) -> Result<Self, Error> {
        if factors.is_empty() {
            return Err(Error::LengthMismatch { arg: "factors", expected: 1, found: 0 });
        }
        Ok(Self { base_lr: rate("base_lr", base_lr)?, factors })
    }
}

impl Schedule for Chained<'_> {
    fn lr(&self, step: u64) -> f64 {
        self.factors.iter().fold(self.base_lr, |lr, f| lr * f.lr(step))
    }
}
