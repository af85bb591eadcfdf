//! diffGrad (Dubey et al. 2019, "diffGrad: An Optimization Method for Convolutional Neural
//! Networks"), as `pytorch_optimizer.DiffGrad` 4.1 computes it.

use crate::lanes::Lanes;
use crate::numerics::{Numerics, Profile, bias_corrections, c};
use crate::optim::rule::{Ema, Rule, Trailing, WeightDecay, check_lens, decay, ema_pair};
use crate::optim::rule::{ema_product, rectifier, rule_step, sigmoid};
use crate::optim::signed_scale;
use crate::{Error, validate};

/// Hyperparameters of [`diffgrad_step`]. [`Default`] is `pytorch_optimizer.DiffGrad`'s.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct DiffgradConfig {
    /// Learning rate `η`. Default `1e-3`; finite, ≥ 0.
    pub lr: f64,
    /// `β₁`. Default `0.9`; finite, in `[0, 1)`.
    pub beta1: f64,
    /// `β₂`. Default `0.999`; finite, in `[0, 1)`.
    pub beta2: f64,
    /// `ε`. Default `1e-8`; finite, ≥ 0.
    pub eps: f64,
    /// Weight decay `λ`. Default `0`; finite, ≥ 0.
    pub weight_decay: f64,
    /// Decoupled decay `θ ← θ·(1 − ηλ)` instead of L2 `g ← g + λθ`. Default `true`.
    pub weight_decouple: bool,
    /// With `weight_decouple`: `θ ← θ·(1 − λ)`. Default `false`.
    pub fixed_decay: bool,
    /// RAdam's rectification. Default `false`.
    pub rectify: bool,
    /// With `rectify`, an SGD step while `ρₜ < 5`; else no step. Default `true`.
    pub degenerated_to_sgd: bool,
    /// AMSGrad's running maximum of `v` (`ams_bound`). Default `false`.
    pub amsgrad: bool,
    /// Maximize the objective (negate the gradient first). Default `false`.
    pub maximize: bool,
    /// Multiplier `s` applied to the gradient first. Default `1` (exact); finite, ≥ 0.
    pub grad_scale: f32,
    /// Operation order. Default [`Numerics::Torch`] (the package's).
    pub numerics: Numerics,
}

impl Default for DiffgradConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            weight_decouple: true,
            fixed_decay: false,
            rectify: false,
            degenerated_to_sgd: true,
            amsgrad: false,
            maximize: false,
            grad_scale: 1.0,
            numerics: Numerics::Torch,
        }
    }
}

struct Coef {
    scale: f32,
    decay: WeightDecay,
    ema1: Ema,
    beta2: (f32, f32),
    eps: f32,
    /// `c(−step)`; `None`: no step this call.
    neg_step: Option<f32>,
    /// Divide by `√v + ε` (else an SGD step, rectified with `ρₜ < 5`).
    adaptive: bool,
    numerics: Numerics,
}

impl Coef {
    #[inline(always)]
    fn checked(
        lens: [usize; 5],
        [g]: [usize; 1],
        step: u32,
        cfg: &DiffgradConfig,
    ) -> Result<Trailing<Self, 4>, Error> {
        let names = ["params", "exp_avg", "exp_avg_sq", "previous_grad", "max_exp_avg_sq"];
        check_lens(names, lens, [true, true, true, true, cfg.amsgrad], g)?;
        validate::numerics(cfg.numerics, &[])?;
        let lr = validate::non_negative("lr", cfg.lr)?;
        let beta1 = validate::unit_half_open("beta1", cfg.beta1)?;
        let beta2 = validate::unit_half_open("beta2", cfg.beta2)?;
        let eps = validate::non_negative("eps", cfg.eps)?;
        let weight_decay = validate::non_negative("weight_decay", cfg.weight_decay)?;
        validate::step(step)?;
        let (bc1, bc2) = bias_corrections(beta1, beta2, step);
        let (neg_step, adaptive) = if cfg.rectify {
            match rectifier(beta2, step, cfg.degenerated_to_sgd) {
                (r, true) => (Some(c(-lr * r / bc1)), true),
                (r, false) => ((r > 0.0).then(|| c(-lr * r / bc1)), false),
            }
        } else {
            (Some(c(-lr * libm::sqrt(bc2) / bc1)), true)
        };
        let rule = Self {
            scale: signed_scale(cfg.grad_scale, cfg.maximize)?,
            decay: decay(lr, weight_decay, cfg.weight_decouple, cfg.fixed_decay),
            ema1: Ema::with_beta(beta1),
            beta2: ema_pair(beta2),
            eps: c(eps),
            neg_step,
            adaptive,
            numerics: cfg.numerics,
        };
        Ok(Trailing { rule, all: cfg.amsgrad })
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
        let friction = sigmoid::<L, N>((x[3] - g).abs());
        x[1] = m;
        x[2] = v;
        x[3] = g;
        if let Some(max) = x.get_mut(4) {
            v = max.max_nan(v);
            *max = v;
        }
        x[0] = match self.neg_step {
            Some(s) if self.adaptive => {
                param + (L::splat(s) * (friction * m)) / (v.sqrt() + L::splat(self.eps))
            }
            // The package's SGD branch steps along m, without the friction.
            Some(s) => P::fma(L::splat(s), m, param),
            None => param,
        };
    }
}

rule_step! {
    /// diffGrad: updates `params`, `exp_avg` (`m`), `exp_avg_sq` (`v`), `previous_grad`
    /// (`g₋`, start it at 0) and, with AMSGrad, `max_exp_avg_sq` (else it may be empty) in
    /// place: Adam whose step is damped by a friction `ξ = σ(|g₋ − g|)` that is ½ where the
    /// gradient does not change and 1 where it changes fast.
    ///
    /// For every index `i`, with `s = grad_scale`, `t = step` (1-based), `bcₖ = 1 − βₖᵗ`:
    /// ```text
    /// g ← s·grads[i]                         (−s·grads[i] with maximize)
    /// θ ← θ·(1 − ηλ)  or  g ← g + λθ          (weight_decouple, or L2)
    /// m ← β₁·m + (1 − β₁)·g
    /// v ← β₂·v + (1 − β₂)·g²;   v̂ ← max(v̂, v) (amsgrad; v̂ replaces v below)
    /// ξ = 1/(1 + e^(−|g₋ − g|));   g₋ ← g
    /// θ ← θ − (η·√bc₂/bc₁)·ξ·m / (√v + ε)
    /// ```
    /// With `rectify`, RAdam's factor `r` replaces `√bc₂` (`ρₜ ≥ 5`), else an SGD step
    /// `θ ← θ − (η/bc₁)·m` (`degenerated_to_sgd`; the package leaves `ξ` out there) or none.
    /// `σ` is computed in lane arithmetic (within 1.5 ulp), so the bits agree across widths and
    /// builds but not with torch's vectorised `exp` (within its tolerance).
    ///
    /// # Errors
    /// [`Error::LengthMismatch`], [`Error::InvalidHyperparameter`], [`Error::ZeroStep`].
    /// **Nothing is written when an error is returned.**
    pub fn diffgrad_step / diffgrad_step_with / diffgrad_step_mixed / diffgrad_step_mixed_with
    (params, grads, exp_avg, exp_avg_sq, previous_grad, max_exp_avg_sq; step: u32, cfg: &DiffgradConfig),
    checked: |lens, g| Coef::checked(lens, g, step, cfg),
}
