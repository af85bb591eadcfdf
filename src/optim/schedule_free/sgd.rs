//! Schedule-free SGD (`schedulefree.SGDScheduleFree`).

use super::{Average, ScheduleFreeState, Weighting, positive_unit, warmed_up};
use crate::lanes::Lanes;
use crate::numerics::{Numerics, Profile, c};
use crate::optim::rule::{Rule, check_lens, rule_step};
use crate::optim::signed_scale;
use crate::{Error, validate};

/// Hyperparameters of [`sgd_schedulefree_step`]. [`Default`] is the package's.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct SgdScheduleFreeConfig {
    /// Learning rate `η` (before warm-up). Default `1`; finite, ≥ 0.
    pub lr: f64,
    /// Momentum `μ` (the interpolation between `x` and `z`). Default `0.9`; finite, in
    /// `(0, 1)`.
    pub momentum: f64,
    /// L2 weight decay `λ`, at `y`. Default `0`; finite, ≥ 0.
    pub weight_decay: f64,
    /// Linear warm-up of `η` over this many steps. Default `0`.
    pub warmup_steps: u32,
    /// `r`, the power of `k + 1` in the averaging weight. Default `0`; finite, ≥ 0.
    pub r: f64,
    /// `p`, the power of `η_max` in the averaging weight. Default `2`; finite, ≥ 0.
    pub weight_lr_power: f64,
    /// Maximize the objective (negate the gradient first). Default `false`.
    pub maximize: bool,
    /// Multiplier `s` applied to the gradient first. Default `1` (exact); finite, ≥ 0.
    pub grad_scale: f32,
    /// Operation order. Default [`Numerics::Torch`] (the package's).
    pub numerics: Numerics,
}

impl Default for SgdScheduleFreeConfig {
    fn default() -> Self {
        Self {
            lr: 1.0,
            momentum: 0.9,
            weight_decay: 0.0,
            warmup_steps: 0,
            r: 0.0,
            weight_lr_power: 2.0,
            maximize: false,
            grad_scale: 1.0,
            numerics: Numerics::Torch,
        }
    }
}

struct Coef {
    scale: f32,
    weight_decay: Option<f32>,
    average: Average,
    next: ScheduleFreeState,
    numerics: Numerics,
}

impl Coef {
    #[inline(always)]
    fn checked(
        lens: [usize; 2],
        [g]: [usize; 1],
        state: &ScheduleFreeState,
        cfg: &SgdScheduleFreeConfig,
    ) -> Result<Self, Error> {
        check_lens(["params", "z"], lens, [true; 2], g)?;
        validate::numerics(cfg.numerics, &[])?;
        let lr = validate::non_negative("lr", cfg.lr)?;
        let momentum = positive_unit("momentum", cfg.momentum)?;
        let weight_decay = validate::non_negative("weight_decay", cfg.weight_decay)?;
        let weighting = Weighting::checked(cfg.r, cfg.weight_lr_power)?;
        let lr_t = warmed_up(lr, state.k, cfg.warmup_steps);
        let (next, ckp1) = weighting.advance(state, lr_t);
        Ok(Self {
            scale: signed_scale(cfg.grad_scale, cfg.maximize)?,
            weight_decay: (weight_decay != 0.0).then(|| c(weight_decay)),
            average: Average::new(ckp1, lr_t, momentum),
            next,
            numerics: cfg.numerics,
        })
    }
}

impl Rule<2> for Coef {
    fn numerics(&self) -> Numerics {
        self.numerics
    }
    fn scale(&self) -> f32 {
        self.scale
    }
    #[inline(always)]
    fn lanes<P: Profile, L: Lanes<N>, const N: usize>(&self, [y, z]: &mut [L; 2], g: L) {
        let g = match self.weight_decay {
            Some(wd) => P::fma(L::splat(wd), *y, g),
            None => g,
        };
        (*y, *z) = self.average.apply::<P, L, N>(*y, *z, g);
    }
}

rule_step! {
    /// Schedule-free SGD: updates `params` (the gradient point `y`) and `z` (start it as a
    /// copy of the initial parameters) in place, and advances `state` (module
    /// documentation). The base direction is `ĝ = g + λ·y` with `g ← ±s·grads[i]`; the
    /// evaluation point is [`crate::schedulefree_eval`] with `β = μ`.
    /// [`Numerics::Torch`]: the package's fused forms (`fma(c(λ), y, g)`,
    /// `y = lerp(y, z, c(c))`, `fma(c(η(μ(1−c)−1)), ĝ, y)`, `fma(c(−η), ĝ, z)`).
    ///
    /// # Errors
    /// [`Error::LengthMismatch`], [`Error::InvalidHyperparameter`]. **Nothing is written, and
    /// `state` is unchanged, when an error is returned.**
    pub fn sgd_schedulefree_step / sgd_schedulefree_step_with / sgd_schedulefree_step_mixed / sgd_schedulefree_step_mixed_with
    (params, grads, z; state: &mut ScheduleFreeState, cfg: &SgdScheduleFreeConfig),
    checked: |lens, g| Coef::checked(lens, g, state, cfg),
    then: |k| *state = k.next,
}
