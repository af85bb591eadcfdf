//! The schedule-free "reference" forms (`SGDScheduleFreeReference`,
//! `AdamWScheduleFreeReference`): the three sequences kept explicitly — `z` (base), `x`
//! (average) and `y` (the gradient point, held in the parameters) — as in the paper's
//! Algorithm 1, instead of the fast form's two. Same state and weighting as the fast form.
//!
//! ```text
//! z ← z − η·ĝ                                 (ĝ: the base method's direction)
//! x ← (1 − c)·x + c·z
//! y ← β·x + (1 − β)·z                          (β = μ or β₁)
//! ```

use super::{ScheduleFreeState, Weighting, positive_unit, warmed_up};
use crate::lanes::Lanes;
use crate::numerics::{Numerics, Profile, c, pow_step};
use crate::optim::rule::{Rule, check_lens, ema_pair, ema_product, rule_step};
use crate::optim::signed_scale;
use crate::{AdamwScheduleFreeConfig, Error, SgdScheduleFreeConfig, validate};

struct Coef {
    scale: f32,
    /// AdamW: `Some((β₂, 1 − β₂), c(bc₂), c(ε))`; SGD: `None`.
    adam: Option<((f32, f32), f32, f32)>,
    /// `c(λ)` (SGD: added to the gradient) or `c(−η·λ)` (AdamW: a step of `z` first).
    weight_decay: Option<f32>,
    decay_at_z: bool,
    neg_lr: f32,
    one_minus_c: f32,
    c: f32,
    beta: f32,
    one_minus_beta: f32,
    next: ScheduleFreeState,
    numerics: Numerics,
}

impl Coef {
    #[allow(clippy::too_many_arguments)]
    fn new(
        state: &ScheduleFreeState,
        (lr_t, beta): (f64, f64),
        weighting: Weighting,
        adam: Option<((f32, f32), f32, f32)>,
        weight_decay: Option<f32>,
        decay_at_z: bool,
        (grad_scale, maximize, numerics): (f32, bool, Numerics),
    ) -> Result<Self, Error> {
        let (next, ckp1) = weighting.advance(state, lr_t);
        Ok(Self {
            scale: signed_scale(grad_scale, maximize)?,
            adam,
            weight_decay,
            decay_at_z,
            neg_lr: c(-lr_t),
            one_minus_c: c(1.0 - ckp1),
            c: c(ckp1),
            beta: c(beta),
            one_minus_beta: c(1.0 - beta),
            next,
            numerics,
        })
    }

    fn sgd(
        lens: [usize; 3],
        [g]: [usize; 1],
        state: &ScheduleFreeState,
        cfg: &SgdScheduleFreeConfig,
    ) -> Result<Self, Error> {
        check_lens(["params", "z", "x"], lens, [true; 3], g)?;
        validate::numerics(cfg.numerics, &[])?;
        let lr = validate::non_negative("lr", cfg.lr)?;
        let momentum = positive_unit("momentum", cfg.momentum)?;
        let wd = validate::non_negative("weight_decay", cfg.weight_decay)?;
        let weighting = Weighting::checked(cfg.r, cfg.weight_lr_power)?;
        let lr_t = warmed_up(lr, state.k, cfg.warmup_steps);
        let flags = (cfg.grad_scale, cfg.maximize, cfg.numerics);
        Self::new(
            state,
            (lr_t, momentum),
            weighting,
            None,
            (wd != 0.0).then(|| c(wd)),
            false,
            flags,
        )
    }

    fn adamw(
        lens: [usize; 4],
        [g]: [usize; 1],
        state: &ScheduleFreeState,
        cfg: &AdamwScheduleFreeConfig,
    ) -> Result<Self, Error> {
        check_lens(["params", "z", "x", "exp_avg_sq"], lens, [true; 4], g)?;
        validate::numerics(cfg.numerics, &[])?;
        let lr = validate::non_negative("lr", cfg.lr)?;
        let beta1 = positive_unit("beta1", cfg.beta1)?;
        let beta2 = validate::unit_half_open("beta2", cfg.beta2)?;
        let eps = validate::non_negative("eps", cfg.eps)?;
        let wd = validate::non_negative("weight_decay", cfg.weight_decay)?;
        let weighting = Weighting::checked(cfg.r, cfg.weight_lr_power)?;
        let lr_t = warmed_up(lr, state.k, cfg.warmup_steps);
        let t = u32::try_from(state.k + 1).unwrap_or(u32::MAX);
        let adam = Some((ema_pair(beta2), c(1.0 - pow_step(beta2, t)), c(eps)));
        let decay = (wd != 0.0).then(|| c(-lr_t * wd));
        let flags = (cfg.grad_scale, cfg.maximize, cfg.numerics);
        Self::new(state, (lr_t, beta1), weighting, adam, decay, cfg.decay_at_z, flags)
    }

    /// `x ← (1 − c)x + cz`, `y ← βx + (1 − β)z`.
    #[inline(always)]
    fn average<P: Profile, L: Lanes<N>, const N: usize>(&self, x: L, z: L) -> (L, L) {
        let x = P::fma(L::splat(self.c), z, x * L::splat(self.one_minus_c));
        (x, P::fma(L::splat(self.one_minus_beta), z, x * L::splat(self.beta)))
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
    fn lanes<P: Profile, L: Lanes<N>, const N: usize>(&self, b: &mut [L; M], g: L) {
        let (y, mut z) = (b[0], b[1]);
        match self.adam {
            None => {
                let g = match self.weight_decay {
                    Some(wd) => P::fma(L::splat(wd), y, g),
                    None => g,
                };
                z = P::fma(L::splat(self.neg_lr), g, z);
            }
            Some((beta2, bc2, eps)) => {
                if let Some(k) = self.weight_decay {
                    z = P::fma(L::splat(k), if self.decay_at_z { z } else { y }, z);
                }
                // `get_mut`: the rule also runs with 3 buffers (SGD), where this arm is dead.
                if let Some(slot) = b.get_mut(3) {
                    let v = ema_product::<P, L, N>(beta2, *slot, g, g);
                    *slot = v;
                    z = z
                        + (L::splat(self.neg_lr) * g)
                            / ((v / L::splat(bc2)).sqrt() + L::splat(eps));
                }
            }
        }
        let (x, y) = self.average::<P, L, N>(b[2], z);
        (b[0], b[1], b[2]) = (y, z, x);
    }
}

rule_step! {
    /// Schedule-free SGD, reference form: updates `params` (`y`), `z` and `x` (start both as
    /// copies of the initial parameters) in place and advances `state`; `ĝ = g + λy`,
    /// `β = μ`. Evaluate at `x`.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`], [`Error::InvalidHyperparameter`]. **Nothing is written, and
    /// `state` is unchanged, when an error is returned.**
    pub fn sgd_schedulefree_reference_step / sgd_schedulefree_reference_step_with / sgd_schedulefree_reference_step_mixed / sgd_schedulefree_reference_step_mixed_with
    (params, grads, z, x; state: &mut ScheduleFreeState, cfg: &SgdScheduleFreeConfig),
    checked: |lens, g| Coef::sgd(lens, g, state, cfg),
    then: |k| *state = k.next,
}

rule_step! {
    /// Schedule-free AdamW, reference form: updates `params` (`y`), `z`, `x` (start both as
    /// copies of the initial parameters) and `exp_avg_sq` (`v`) in place and advances
    /// `state`: first `z ← z − ηλ·y` (or `·z` with `decay_at_z`), then
    /// `v ← β₂v + (1 − β₂)g²`, `z ← z − η·g/(√(v/bc₂) + ε)` and the average with `β = β₁`.
    /// Evaluate at `x`.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`], [`Error::InvalidHyperparameter`]. **Nothing is written, and
    /// `state` is unchanged, when an error is returned.**
    pub fn adamw_schedulefree_reference_step / adamw_schedulefree_reference_step_with / adamw_schedulefree_reference_step_mixed / adamw_schedulefree_reference_step_mixed_with
    (params, grads, z, x, exp_avg_sq; state: &mut ScheduleFreeState, cfg: &AdamwScheduleFreeConfig),
    checked: |lens, g| Coef::adamw(lens, g, state, cfg),
    then: |k| *state = k.next,
}
