//! PID controller optimizer (An et al. 2018, "A PID Controller Approach for Stochastic
//! Optimization of Deep Networks"), as `pytorch_optimizer.PID` 4.1 computes it.

use crate::lanes::Lanes;
use crate::numerics::{Numerics, Profile, c};
use crate::optim::rule::{Rule, Trailing, WeightDecay, check_lens, decay, rule_step};
use crate::optim::signed_scale;
use crate::{Error, validate};

/// Hyperparameters of [`pid_step`]. [`Default`] is `pytorch_optimizer.PID`'s.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct PidConfig {
    /// Learning rate `η`. Default `1e-3`; finite, ≥ 0.
    pub lr: f64,
    /// Momentum `μ` of the I and D terms (`0`: plain SGD, and the three buffers may be
    /// empty). Default `0`; finite, in `[0, 1)`.
    pub momentum: f64,
    /// Dampening `τ` of the I term. Default `0`; finite, in `[0, 1]`.
    pub dampening: f64,
    /// `K_D`, the gain of the derivative term. Default `10`; finite, ≥ 0.
    pub derivative: f64,
    /// `K_I`, the gain of the integral term. Default `5`; finite, ≥ 0.
    pub integral: f64,
    /// Weight decay `λ`. Default `0`; finite, ≥ 0.
    pub weight_decay: f64,
    /// Decoupled decay `θ ← θ·(1 − ηλ)` instead of L2 `g ← g + λθ`. Default `false`.
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

impl Default for PidConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            momentum: 0.0,
            dampening: 0.0,
            derivative: 10.0,
            integral: 5.0,
            weight_decay: 0.0,
            weight_decouple: false,
            fixed_decay: false,
            maximize: false,
            grad_scale: 1.0,
            numerics: Numerics::Torch,
        }
    }
}

struct Coef {
    scale: f32,
    decay: WeightDecay,
    first: bool,
    momentum: f32,
    undamped: f32,
    one_minus_momentum: f32,
    integral: f32,
    derivative: f32,
    neg_lr: f32,
    numerics: Numerics,
}

impl Coef {
    #[inline(always)]
    fn checked(
        lens: [usize; 4],
        [g]: [usize; 1],
        step: u32,
        cfg: &PidConfig,
    ) -> Result<Trailing<Self, 1>, Error> {
        let on = cfg.momentum != 0.0;
        check_lens(["params", "i_buffer", "d_buffer", "grad_buffer"], lens, [true, on, on, on], g)?;
        validate::numerics(cfg.numerics, &[])?;
        let lr = validate::non_negative("lr", cfg.lr)?;
        let momentum = validate::unit_half_open("momentum", cfg.momentum)?;
        let dampening = validate::unit_closed("dampening", cfg.dampening)?;
        let derivative = validate::non_negative("derivative", cfg.derivative)?;
        let integral = validate::non_negative("integral", cfg.integral)?;
        let weight_decay = validate::non_negative("weight_decay", cfg.weight_decay)?;
        validate::step(step)?;
        let rule = Self {
            scale: signed_scale(cfg.grad_scale, cfg.maximize)?,
            decay: decay(lr, weight_decay, cfg.weight_decouple, cfg.fixed_decay),
            first: step == 1,
            momentum: c(momentum),
            undamped: c(1.0 - dampening),
            one_minus_momentum: c(1.0 - momentum),
            integral: c(integral),
            derivative: c(derivative),
            neg_lr: c(-lr),
            numerics: cfg.numerics,
        };
        Ok(Trailing { rule, all: on })
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
        let (param, mut g) = self.decay.apply::<P, L, N>(x[0], g);
        if M == 4 {
            let mu = L::splat(self.momentum);
            let i = P::fma(L::splat(self.undamped), g, x[1] * mu);
            let mut d = x[2] * mu;
            if !self.first {
                d = P::fma(L::splat(self.one_minus_momentum), g - x[3], d);
            }
            x[3] = g;
            x[1] = i;
            x[2] = d;
            g = P::fma(L::splat(self.integral), i, g);
            g = P::fma(L::splat(self.derivative), d, g);
        }
        x[0] = P::fma(L::splat(self.neg_lr), g, param);
    }
}

rule_step! {
    /// PID optimizer: updates `params` and, with momentum, `i_buffer` (`I`), `d_buffer` (`D`)
    /// and `grad_buffer` (`g₋`) in place (else the three may be empty): SGD on the gradient
    /// plus an integral and a derivative term, like a PID controller.
    ///
    /// For every index `i`, with `s = grad_scale`, `t = step` (1-based):
    /// ```text
    /// g ← s·grads[i]                         (−s·grads[i] with maximize)
    /// θ ← θ·(1 − ηλ)  or  g ← g + λθ          (weight_decouple, or L2)
    /// I ← μ·I + (1 − τ)·g                     (μ > 0: these four lines)
    /// D ← μ·D;   t > 1: D ← D + (1 − μ)·(g − g₋);   g₋ ← g
    /// g ← g + K_I·I + K_D·D
    /// θ ← θ − η·g
    /// ```
    /// [`Numerics::Torch`]: every `add(alpha=)` fused (`I = fma(c(1−τ), g, I·c(μ))`, …).
    ///
    /// # Errors
    /// [`Error::LengthMismatch`], [`Error::InvalidHyperparameter`], [`Error::ZeroStep`].
    /// **Nothing is written when an error is returned.**
    pub fn pid_step / pid_step_with / pid_step_mixed / pid_step_mixed_with
    (params, grads, i_buffer, d_buffer, grad_buffer; step: u32, cfg: &PidConfig),
    checked: |lens, g| Coef::checked(lens, g, step, cfg),
}
