//! `ReduceLROnPlateau`: the one schedule driven by a metric instead of the step count.

use crate::{Error, validate};

/// Whether a smaller or a larger metric is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum PlateauMode {
    /// A loss: lower is better.
    Min = 0,
    /// An accuracy: higher is better.
    Max = 1,
}

/// How [`PlateauConfig::threshold`] measures an improvement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ThresholdMode {
    /// Relative: better than `best·(1 ∓ threshold)`.
    Rel = 0,
    /// Absolute: better than `best ∓ threshold`.
    Abs = 1,
}

/// Options of [`ReduceOnPlateau`]. [`Default`] is torch's.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct PlateauConfig {
    /// Default [`PlateauMode::Min`].
    pub mode: PlateauMode,
    /// Multiplier of the rate on a plateau. Default `0.1`; finite, in `[0, 1)`.
    pub factor: f64,
    /// Steps without improvement tolerated before a reduction. Default `10`.
    pub patience: u64,
    /// Smallest improvement that counts. Default `1e-4`; finite, ≥ 0.
    pub threshold: f64,
    /// Default [`ThresholdMode::Rel`].
    pub threshold_mode: ThresholdMode,
    /// Steps after a reduction during which bad steps are not counted. Default `0`.
    pub cooldown: u64,
    /// Lower bound of the rate. Default `0`; finite, ≥ 0.
    pub min_lr: f64,
    /// A reduction smaller than this is not applied. Default `1e-8`; finite, ≥ 0.
    pub eps: f64,
}

impl Default for PlateauConfig {
    fn default() -> Self {
        Self {
            mode: PlateauMode::Min,
            factor: 0.1,
            patience: 10,
            threshold: 1e-4,
            threshold_mode: ThresholdMode::Rel,
            cooldown: 0,
            min_lr: 0.0,
            eps: 1e-8,
        }
    }
}

/// `torch.optim.lr_scheduler.ReduceLROnPlateau` as a small state the caller owns and feeds one
/// metric per step:
/// ```text
/// better(m) = m < best·(1 − thr)   (min, rel)     m < best − thr   (min, abs)
///             m > best·(1 + thr)   (max, rel)     m > best + thr   (max, abs)
/// if better(m): best ← m, bad ← 0   else bad ← bad + 1
/// if cooldown_left > 0: cooldown_left ← cooldown_left − 1, bad ← 0
/// if bad > patience: new = max(lr·factor, min_lr); lr ← new if lr − new > eps;
///                    cooldown_left ← cooldown; bad ← 0
/// ```
/// `best` starts at `+∞` (min) or `−∞` (max); ties are not improvements; a NaN metric is never
/// better (it counts as a bad step).
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct ReduceOnPlateau {
    pub(crate) cfg: PlateauConfig,
    lr: f64,
    best: f64,
    bad: u64,
    cooldown_left: u64,
}

impl ReduceOnPlateau {
    /// The state at construction, with the optimizer's current rate `lr`.
    ///
    /// # Errors
    /// [`Error::InvalidHyperparameter`] for `lr`, `factor`, `threshold`, `min_lr` or `eps`
    /// out of range (NaN, infinite, negative, `factor ≥ 1`).
    pub fn new(lr: f64, cfg: &PlateauConfig) -> Result<Self, Error> {
        validate::non_negative("lr", lr)?;
        validate::unit_half_open("factor", cfg.factor)?;
        validate::non_negative("threshold", cfg.threshold)?;
        validate::non_negative("min_lr", cfg.min_lr)?;
        validate::non_negative("eps", cfg.eps)?;
        let best = match cfg.mode {
            PlateauMode::Min => f64::INFINITY,
            PlateauMode::Max => f64::NEG_INFINITY,
        };
        Ok(Self { cfg: *cfg, lr, best, bad: 0, cooldown_left: 0 })
    }

    /// The current rate.
    pub fn lr(&self) -> f64 {
        self.lr
    }

    /// The best metric seen (`±∞` before the first).
    pub fn best(&self) -> f64 {
        self.best
    }

    fn is_better(&self, m: f64) -> bool {
        let (best, thr) = (self.best, self.cfg.threshold);
        match (self.cfg.mode, self.cfg.threshold_mode) {
            (PlateauMode::Min, ThresholdMode::Rel) => m < best * (1.0 - thr),
            (PlateauMode::Min, ThresholdMode::Abs) => m < best - thr,
            (PlateauMode::Max, ThresholdMode::Rel) => m > best * (thr + 1.0),
            (PlateauMode::Max, ThresholdMode::Abs) => m > best + thr,
        }
    }

    /// One scheduler step with this step's metric; returns the new rate.
    pub fn step(&mut self, metric: f64) -> f64 {
        if self.is_better(metric) {
            self.best = metric;
            self.bad = 0;
        } else {
            self.bad = self.bad.saturating_add(1);
        }
        if self.cooldown_left > 0 {
            self.cooldown_left -= 1;
            self.bad = 0;
        }
        if self.bad > self.cfg.patience {
            let new = (self.lr * self.cfg.factor).max(self.cfg.min_lr);
            if self.lr - new > self.cfg.eps {
                self.lr = new;
            }
            self.cooldown_left = self.cfg.cooldown;
            self.bad = 0;
        }
        self.lr
    }
}
