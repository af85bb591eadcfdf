//! Schedule-free AdamW and RAdam (`schedulefree.AdamWScheduleFree`,
//! `schedulefree.RAdamScheduleFree`): one rule, the base direction normalised by Adam's
//! second moment.

use super::{Average, ScheduleFreeState, Weighting, positive_unit, warmed_up};
use crate::lanes::Lanes;
use crate::numerics::{Numerics, Profile, c, pow_step};
use crate::optim::rule::{Rule, check_lens, ema_pair, ema_product, rule_step};
use crate::optim::signed_scale;
use crate::{Error, validate};

/// Hyperparameters of [`adamw_schedulefree_step`] and [`radam_schedulefree_step`].
/// [`Default`] is `AdamWScheduleFree`'s; RAdam's has the same values and ignores
/// `warmup_steps` (it has none: the rectifier is its warm-up).
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct AdamwScheduleFreeConfig {
    /// Learning rate `η` (before warm-up or rectification). Default `2.5e-3`; finite, ≥ 0.
    pub lr: f64,
    /// `β₁` (the interpolation between `x` and `z`). Default `0.9`; finite, in `(0, 1)`.
    pub beta1: f64,
    /// `β₂`. Default `0.999`; finite, in `[0, 1)`.
    pub beta2: f64,
    /// `ε`. Default `1e-8`; finite, ≥ 0.
    pub eps: f64,
    /// Weight decay `λ`, added to the normalised direction at `y`. Default `0`; finite, ≥ 0.
    pub weight_decay: f64,
    /// Linear warm-up of `η` over this many steps (AdamW only). Default `0`.
    pub warmup_steps: u32,
    /// `r`, the power of `k + 1` in the averaging weight. Default `0`; finite, ≥ 0.
    pub r: f64,
    /// `p`, the power of `η_max` in the averaging weight. Default `2`; finite, ≥ 0.
    pub weight_lr_power: f64,
    /// Reference form only: decay `z` instead of `y` (`decay_at_z`). Default `false`.
    pub decay_at_z: bool,
    /// RAdam only: while `ρₜ ≤ 4` take no step (`true`, the package's default) instead of
    /// plain SGD steps. Default `true`.
    pub silent_sgd_phase: bool,
    /// Maximize the objective (negate the gradient first). Default `false`.
    pub maximize: bool,
    /// Multiplier `s` applied to the gradient first. Default `1` (exact); finite, ≥ 0.
    pub grad_scale: f32,
    /// Operation order. Default [`Numerics::Torch`] (the package's).
    pub numerics: Numerics,
}

impl Default for AdamwScheduleFreeConfig {
    fn default() -> Self {
        Self {
            lr: 2.5e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            warmup_steps: 0,
            r: 0.0,
            weight_lr_power: 2.0,
            decay_at_z: false,
            silent_sgd_phase: true,
            maximize: false,
            grad_scale: 1.0,
            numerics: Numerics::Torch,
        }
    }
}

struct Coef {
    scale: f32,
    beta2: (f32, f32),
    /// `Some(c(1 − β₂ᵏ⁺¹))`: normalise by `√(v/bc₂) + ε` (else RAdam's SGD phase: `ĝ = g`).
    bc2: Option<f32>,
    eps: f32,
    weight_decay: Option<f32>,
    average: Average,
    next: ScheduleFreeState,
    numerics: Numerics,
}

impl Coef {
    #[inline(always)]
    fn checked(
        lens: [usize; 3],
        [g]: [usize; 1],
        state: &ScheduleFreeState,
        cfg: &AdamwScheduleFreeConfig,
        radam: bool,
    ) -> Result<Self, Error> {
        check_lens(["params", "z", "exp_avg_sq"], lens, [true; 3], g)?;
        validate::numerics(cfg.numerics, &[])?;
        let lr = validate::non_negative("lr", cfg.lr)?;
        let beta1 = positive_unit("beta1", cfg.beta1)?;
        let beta2 = validate::unit_half_open("beta2", cfg.beta2)?;
        let eps = validate::non_negative("eps", cfg.eps)?;
        let weight_decay = validate::non_negative("weight_decay", cfg.weight_decay)?;
        let weighting = Weighting::checked(cfg.r, cfg.weight_lr_power)?;
        // The step number k + 1 as a u32 for the power (a schedule-free run longer than 2³²
        // steps saturates here, where β₂ᵗ is 0 anyway).
        let t = u32::try_from(state.k + 1).unwrap_or(u32::MAX);
        let bc2 = 1.0 - pow_step(beta2, t);
        let (lr_t, normalise) = if radam {
            let rho_inf = 2.0 / (1.0 - beta2) - 1.0;
            let rho = rho_inf - 2.0 * f64::from(t) * (1.0 - bc2) / bc2;
            if rho > 4.0 {
                let rect =
                    (rho - 4.0) * (rho - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho);
                (lr * libm::sqrt(rect), true)
            } else {
                (if cfg.silent_sgd_phase { 0.0 } else { lr }, false)
            }
        } else {
            (warmed_up(lr, state.k, cfg.warmup_steps), true)
        };
        let (next, ckp1) = weighting.advance(state, lr_t);
        Ok(Self {
            scale: signed_scale(cfg.grad_scale, cfg.maximize)?,
            beta2: ema_pair(beta2),
            bc2: normalise.then(|| c(bc2)),
            eps: c(eps),
            weight_decay: (weight_decay != 0.0).then(|| c(weight_decay)),
            average: Average::new(ckp1, lr_t, beta1),
            next,
            numerics: cfg.numerics,
        })
    }
}

impl Rule<3> for Coef {
    fn numerics(&self) -> Numerics {
        self.numerics
    }
    fn scale(&self) -> f32 {
        self.scale
    }
    #[inline(always)]
    fn lanes<P: Profile, L: Lanes<N>, const N: usize>(&self, [y, z, v]: &mut [L; 3], g: L) {
        *v = ema_product::<P, L, N>(self.beta2, *v, g, g);
        let mut d = match self.bc2 {
            Some(bc2) => g / ((*v / L::splat(bc2)).sqrt() + L::splat(self.eps)),
            None => g,
        };
        if let Some(wd) = self.weight_decay {
            d = P::fma(L::splat(wd), *y, d);
        }
        (*y, *z) = self.average.apply::<P, L, N>(*y, *z, d);
    }
}

rule_step! {
    /// Schedule-free AdamW: updates `params` (the gradient point `y`), `z` (start it as a copy
    /// of the initial parameters) and `exp_avg_sq` (`v`) in place, and advances `state`
    /// (module documentation). With `g ← ±s·grads[i]` and `t = k + 1`:
    /// ```text
    /// v ← β₂·v + (1 − β₂)·g²
    /// ĝ = g/(√(v/(1 − β₂ᵗ)) + ε) + λ·y
    /// ```
    /// then the schedule-free average with `β = β₁`; the evaluation point is
    /// [`crate::schedulefree_eval`] with `β = β₁`. [`Numerics::Torch`]: the package's
    /// `addcmul`, `v/c(bc₂)`, `fma(c(λ), y, ĝ)` and the fused average.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`], [`Error::InvalidHyperparameter`]. **Nothing is written, and
    /// `state` is unchanged, when an error is returned.**
    pub fn adamw_schedulefree_step / adamw_schedulefree_step_with / adamw_schedulefree_step_mixed / adamw_schedulefree_step_mixed_with
    (params, grads, z, exp_avg_sq; state: &mut ScheduleFreeState, cfg: &AdamwScheduleFreeConfig),
    checked: |lens, g| Coef::checked(lens, g, state, cfg, false),
    then: |k| *state = k.next,
}

rule_step! {
    /// Schedule-free RAdam: [`adamw_schedulefree_step`] with RAdam's rectifier in place of a
    /// warm-up: with `ρ∞ = 2/(1 − β₂) − 1` and `ρₜ = ρ∞ − 2tβ₂ᵗ/(1 − β₂ᵗ)`, the step's
    /// learning rate is `η·√((ρₜ − 4)(ρₜ − 2)ρ∞/((ρ∞ − 4)(ρ∞ − 2)ρₜ))` while `ρₜ > 4`; before,
    /// `ĝ = g + λy` (no normalisation) at learning rate 0 (`silent_sgd_phase`, so neither `y`
    /// nor `z` moves) or `η`.
    ///
    /// # Errors
    /// As [`adamw_schedulefree_step`]. **Nothing is written, and `state` is unchanged, when an
    /// error is returned.**
    pub fn radam_schedulefree_step / radam_schedulefree_step_with / radam_schedulefree_step_mixed / radam_schedulefree_step_mixed_with
    (params, grads, z, exp_avg_sq; state: &mut ScheduleFreeState, cfg: &AdamwScheduleFreeConfig),
    checked: |lens, g| Coef::checked(lens, g, state, cfg, true),
    then: |k| *state = k.next,
}
