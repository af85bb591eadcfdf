//! AdaBound (Luo et al. 2019, "Adaptive Gradient Methods with Dynamic Bound of Learning
//! Rate") and AdaMod (Ding et al. 2019, "An Adaptive and Momental Bound Method for Stochastic
//! Learning"): Adam whose per-element step size is clipped, as pytorch_optimizer 4.1 computes
//! them.

use crate::lanes::Lanes;
use crate::numerics::{Numerics, Profile, bias_corrections, c};
use crate::optim::rule::{Ema, Rule, Trailing, WeightDecay, check_lens, clamp, decay};
use crate::optim::rule::{ema_pair, ema_product, min_nan, rule_step};
use crate::optim::signed_scale;
use crate::{Error, validate};

/// Hyperparameters of [`adabound_step`]. [`Default`] is `pytorch_optimizer.AdaBound`'s.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct AdaboundConfig {
    /// Learning rate `η`. Default `1e-3`; finite, ≥ 0.
    pub lr: f64,
    /// The step size the bounds converge to, `η_f`. pytorch_optimizer scales its `final_lr` by
    /// `η/η₀` (the current over the initial learning rate): pass that product when `η` is
    /// scheduled. Default `0.1`; finite, ≥ 0.
    pub final_lr: f64,
    /// `β₁`. Default `0.9`; finite, in `[0, 1)`.
    pub beta1: f64,
    /// `β₂`. Default `0.999`; finite, in `[0, 1)`.
    pub beta2: f64,
    /// `γ`, the speed of the bounds. Default `1e-3`; finite, > 0.
    pub gamma: f64,
    /// `ε`. Default `1e-8`; finite, ≥ 0.
    pub eps: f64,
    /// Weight decay `λ`. Default `0`; finite, ≥ 0.
    pub weight_decay: f64,
    /// Decoupled decay `θ ← θ·(1 − ηλ)` instead of L2 `g ← g + λθ`. Default `true`.
    pub weight_decouple: bool,
    /// With `weight_decouple`: `θ ← θ·(1 − λ)`. Default `false`.
    pub fixed_decay: bool,
    /// AMSBound: the running maximum of `v` (`ams_bound`). Default `false`.
    pub amsgrad: bool,
    /// Maximize the objective (negate the gradient first). Default `false`.
    pub maximize: bool,
    /// Multiplier `s` applied to the gradient first. Default `1` (exact); finite, ≥ 0.
    pub grad_scale: f32,
    /// Operation order. Default [`Numerics::Torch`] (the package's).
    pub numerics: Numerics,
}

impl Default for AdaboundConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            final_lr: 0.1,
            beta1: 0.9,
            beta2: 0.999,
            gamma: 1e-3,
            eps: 1e-8,
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

/// Hyperparameters of [`adamod_step`]. [`Default`] is `pytorch_optimizer.AdaMod`'s.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct AdamodConfig {
    /// Learning rate `η`. Default `1e-3`; finite, ≥ 0.
    pub lr: f64,
    /// `β₁`. Default `0.9`; finite, in `[0, 1)`.
    pub beta1: f64,
    /// `β₂`. Default `0.99`; finite, in `[0, 1)`.
    pub beta2: f64,
    /// `β₃`, the decay of the averaged step size. Default `0.9999`; finite, in `[0, 1)`.
    pub beta3: f64,
    /// `ε`. Default `1e-8`; finite, ≥ 0.
    pub eps: f64,
    /// Weight decay `λ`. Default `0`; finite, ≥ 0.
    pub weight_decay: f64,
    /// Decoupled decay `θ ← θ·(1 − ηλ)` instead of L2 `g ← g + λθ`. Default `true`.
    pub weight_decouple: bool,
    /// With `weight_decouple`: `θ ← θ·(1 − λ)`. Default `false`.
    pub fixed_decay: bool,
    /// Maximize the objective (negate the gradient first). Default `false`.
    pub maximize: bool,
    /// Multiplier `s` applied to the gradient first. Default `1` (exact); finite, ≥ 0.
    pub grad_scale: f32,
    /// Operation order. Default [`Numerics::Torch`] (the package's).
    pub numerics: Numerics,
}

impl Default for AdamodConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.99,
            beta3: 0.9999,
            eps: 1e-8,
            weight_decay: 0.0,
            weight_decouple: true,
            fixed_decay: false,
            maximize: false,
            grad_scale: 1.0,
            numerics: Numerics::Torch,
        }
    }
}

/// How the step size `η̂ = c(η·√bc₂/bc₁)/(√v + ε)` is bounded.
#[derive(Clone, Copy)]
enum Bound {
    /// AdaBound: `clamp(η̂, lower, upper)`.
    Clamp { lower: f32, upper: f32 },
    /// AdaMod: `s ← β₃·s + (1 − β₃)·η̂`, `min(η̂, s)` (`s` is the last buffer).
    Average(Ema),
}

struct Coef {
    scale: f32,
    decay: WeightDecay,
    ema1: Ema,
    beta2: (f32, f32),
    eps: f32,
    step_size: f32,
    bound: Bound,
    numerics: Numerics,
}

/// The checks and coefficients both methods share.
#[allow(clippy::too_many_arguments)]
fn common(
    step: u32,
    lr: f64,
    (beta1, beta2): (f64, f64),
    eps: f64,
    (weight_decay, decouple, fixed): (f64, bool, bool),
    (maximize, grad_scale, numerics): (bool, f32, Numerics),
    bound: impl FnOnce(f64) -> Result<Bound, Error>,
) -> Result<Coef, Error> {
    validate::numerics(numerics, &[])?;
    let lr = validate::non_negative("lr", lr)?;
    let beta1 = validate::unit_half_open("beta1", beta1)?;
    let beta2 = validate::unit_half_open("beta2", beta2)?;
    let eps = validate::non_negative("eps", eps)?;
    let weight_decay = validate::non_negative("weight_decay", weight_decay)?;
    let bound = bound(lr)?;
    validate::step(step)?;
    let (bc1, bc2) = bias_corrections(beta1, beta2, step);
    Ok(Coef {
        scale: signed_scale(grad_scale, maximize)?,
        decay: decay(lr, weight_decay, decouple, fixed),
        ema1: Ema::with_beta(beta1),
        beta2: ema_pair(beta2),
        eps: c(eps),
        step_size: c(lr * libm::sqrt(bc2) / bc1),
        bound,
        numerics,
    })
}

impl Coef {
    fn adabound(
        lens: [usize; 4],
        [g]: [usize; 1],
        step: u32,
        cfg: &AdaboundConfig,
    ) -> Result<Trailing<Self, 3>, Error> {
        let names = ["params", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"];
        check_lens(names, lens, [true, true, true, cfg.amsgrad], g)?;
        let rule = common(
            step,
            cfg.lr,
            (cfg.beta1, cfg.beta2),
            cfg.eps,
            (cfg.weight_decay, cfg.weight_decouple, cfg.fixed_decay),
            (cfg.maximize, cfg.grad_scale, cfg.numerics),
            |_| {
                let final_lr = validate::non_negative("final_lr", cfg.final_lr)?;
                let gamma = validate::non_negative("gamma", cfg.gamma)?;
                if gamma == 0.0 {
                    return Err(validate::out_of_range("gamma", gamma));
                }
                let t = f64::from(step);
                Ok(Bound::Clamp {
                    lower: c(final_lr * (1.0 - 1.0 / (gamma * t + 1.0))),
                    upper: c(final_lr * (1.0 + 1.0 / (gamma * t))),
                })
            },
        )?;
        Ok(Trailing { rule, all: cfg.amsgrad })
    }

    fn adamod(
        lens: [usize; 4],
        [g]: [usize; 1],
        step: u32,
        cfg: &AdamodConfig,
    ) -> Result<Self, Error> {
        check_lens(["params", "exp_avg", "exp_avg_sq", "exp_avg_lr"], lens, [true; 4], g)?;
        common(
            step,
            cfg.lr,
            (cfg.beta1, cfg.beta2),
            cfg.eps,
            (cfg.weight_decay, cfg.weight_decouple, cfg.fixed_decay),
            (cfg.maximize, cfg.grad_scale, cfg.numerics),
            |_| Ok(Bound::Average(Ema::with_beta(validate::unit_half_open("beta3", cfg.beta3)?))),
        )
    }
}

impl<const M: usize> Rule<M> for Coef {
    fn numerics(&self) -> Numerics {
        self.numerics
    }
    fn scale(&self) -> f32 {
        self.scale
    }
    #[inline(always)]
    fn lanes<P: Profile, L: Lanes<N>, const N: usize>(&self, x: &mut [L; M], g: L) {
        let (param, g) = self.decay.apply::<P, L, N>(x[0], g);
        let m = self.ema1.apply::<P, L, N>(x[1], g);
        let mut v = ema_product::<P, L, N>(self.beta2, x[2], g, g);
        x[1] = m;
        x[2] = v;
        let last = x.get_mut(3);
        let eta = match (self.bound, last) {
            (Bound::Clamp { lower, upper }, last) => {
                if let Some(max) = last {
                    v = max.max_nan(v);
                    *max = v;
                }
                clamp(L::splat(self.step_size) / (v.sqrt() + L::splat(self.eps)), lower, upper)
            }
            // AdaMod always has its `exp_avg_lr` (its rule is only run with 4 buffers).
            (Bound::Average(ema3), last) => {
                let eta = L::splat(self.step_size) / (v.sqrt() + L::splat(self.eps));
                match last {
                    Some(avg) => {
                        *avg = ema3.apply::<P, L, N>(*avg, eta);
                        min_nan(eta, *avg)
                    }
                    None => eta,
                }
            }
        };
        x[0] = param - eta * m;
    }
}

rule_step! {
    /// AdaBound: updates `params`, `exp_avg` (`m`), `exp_avg_sq` (`v`) and, with AMSBound,
    /// `max_exp_avg_sq` (`v̂`, else it may be empty) in place: Adam whose per-element step
    /// size is clamped to bounds that converge to `η_f` (SGD's) as `t` grows.
    ///
    /// For every index `i`, with `s = grad_scale`, `t = step` (1-based), `bcₖ = 1 − βₖᵗ`:
    /// ```text
    /// g ← s·grads[i]                         (−s·grads[i] with maximize)
    /// θ ← θ·(1 − ηλ)  or  g ← g + λθ          (weight_decouple, or L2)
    /// m ← β₁·m + (1 − β₁)·g
    /// v ← β₂·v + (1 − β₂)·g²;   v̂ ← max(v̂, v) (amsgrad; v̂ replaces v below)
    /// η̂ = clamp((η·√bc₂/bc₁)/(√v + ε),  η_f·(1 − 1/(γt + 1)),  η_f·(1 + 1/(γt)))
    /// θ ← θ − η̂·m
    /// ```
    /// [`Numerics::Torch`]: `m = lerp(m, g, c(1−β₁))`, `v = fma(c(1−β₂)·g, g, v·c(β₂))`, and
    /// `η̂` a true division of the rounded scalar `c(η·√bc₂/bc₁)`, as the package.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`], [`Error::InvalidHyperparameter`] (also `γ = 0`),
    /// [`Error::ZeroStep`]. **Nothing is written when an error is returned.**
    pub fn adabound_step / adabound_step_with / adabound_step_mixed / adabound_step_mixed_with
    (params, grads, exp_avg, exp_avg_sq, max_exp_avg_sq; step: u32, cfg: &AdaboundConfig),
    checked: |lens, g| Coef::adabound(lens, g, step, cfg),
}

rule_step! {
    /// AdaMod: updates `params`, `exp_avg` (`m`), `exp_avg_sq` (`v`) and `exp_avg_lr` (`s`,
    /// the running average of the step sizes) in place: Adam whose per-element step size is
    /// capped by its own long-term average.
    ///
    /// For every index `i`, with `s = grad_scale`, `t = step` (1-based), `bcₖ = 1 − βₖᵗ`:
    /// ```text
    /// g ← s·grads[i]                         (−s·grads[i] with maximize)
    /// θ ← θ·(1 − ηλ)  or  g ← g + λθ          (weight_decouple, or L2)
    /// m ← β₁·m + (1 − β₁)·g
    /// v ← β₂·v + (1 − β₂)·g²
    /// η̂ = (η·√bc₂/bc₁)/(√v + ε)
    /// s ← β₃·s + (1 − β₃)·η̂
    /// θ ← θ − min(η̂, s)·m
    /// ```
    /// [`Numerics::Torch`]: the package's lerps and `addcmul` (as [`adabound_step`]).
    ///
    /// # Errors
    /// [`Error::LengthMismatch`], [`Error::InvalidHyperparameter`], [`Error::ZeroStep`].
    /// **Nothing is written when an error is returned.**
    pub fn adamod_step / adamod_step_with / adamod_step_mixed / adamod_step_mixed_with
    (params, grads, exp_avg, exp_avg_sq, exp_avg_lr; step: u32, cfg: &AdamodConfig),
    checked: |lens, g| Coef::adamod(lens, g, step, cfg),
}
