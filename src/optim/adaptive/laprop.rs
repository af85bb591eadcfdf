//! LaProp (Ziyin et al. 2020, "LaProp: Separating Momentum and Adaptivity in Adam"), as
//! `pytorch_optimizer.LaProp` 4.1 computes it: the momentum averages the *normalised*
//! gradient.

use crate::format::Elementwise;
use crate::lanes::Lanes;
use crate::numerics::{Numerics, Profile, c, pow_step};
use crate::optim::rule::{Ema, Rule, check_lens, ema_pair, ema_product, rule_step, run_rule};
use crate::optim::signed_scale;
use crate::{Error, Width, validate};

/// Hyperparameters of [`laprop_step`]. [`Default`] is `pytorch_optimizer.LaProp`'s.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct LapropConfig {
    /// Learning rate `η`. Default `4e-4`; finite, ≥ 0.
    pub lr: f64,
    /// `β₁`. Default `0.9`; finite, in `[0, 1)`.
    pub beta1: f64,
    /// `β₂`. Default `0.999`; finite, in `[0, 1)`.
    pub beta2: f64,
    /// `ε`. Default `1e-15`; finite, ≥ 0.
    pub eps: f64,
    /// Decoupled weight decay `λ`, applied after the step (`θ ← θ·(1 − ηλ)`; the package's L2
    /// form comes after the gradient was used and has no effect, so it is not offered).
    /// Default `0`; finite, ≥ 0.
    pub weight_decay: f64,
    /// With a decay: `θ ← θ·(1 − λ)`. Default `false`.
    pub fixed_decay: bool,
    /// Centre the second moment by the average gradient (`exp_mean_avg_beta2`). Default
    /// `false`.
    pub centered: bool,
    /// With `centered`: use the centred moment only after this many steps. Default `10`.
    pub steps_before_using_centered: u32,
    /// AMSGrad's running maximum (`ams_bound`). Default `false`.
    pub amsgrad: bool,
    /// Maximize the objective (negate the gradient first). Default `false`.
    pub maximize: bool,
    /// Multiplier `s` applied to the gradient first. Default `1` (exact); finite, ≥ 0.
    pub grad_scale: f32,
    /// Operation order. Default [`Numerics::Torch`] (the package's).
    pub numerics: Numerics,
}

impl Default for LapropConfig {
    fn default() -> Self {
        Self {
            lr: 4e-4,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-15,
            weight_decay: 0.0,
            fixed_decay: false,
            centered: false,
            steps_before_using_centered: 10,
            amsgrad: false,
            maximize: false,
            grad_scale: 1.0,
            numerics: Numerics::Torch,
        }
    }
}

/// LaProp's per-tensor scalar state (the package's Python floats `exp_avg_lr_1`,
/// `exp_avg_lr_2`): running averages of the learning rate and of 1, whose ratio to `η` is the
/// bias correction under a changing learning rate. Start from zeros (`Default`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
pub struct LapropState {
    /// `L₁ ← β₁·L₁ + (1 − β₁)·η`.
    pub exp_avg_lr_1: f64,
    /// `L₂ ← β₂·L₂ + (1 − β₂)`.
    pub exp_avg_lr_2: f64,
}

struct Coef {
    scale: f32,
    beta2: (f32, f32),
    ema_mean: Ema,
    /// The centred moment is used this step.
    use_centered: bool,
    centered: bool,
    amsgrad: bool,
    eps: f32,
    bc2_sqrt: f32,
    beta1: f32,
    m_gain: f32,
    neg_step: f32,
    decay: Option<f32>,
    next: LapropState,
    numerics: Numerics,
}

impl Coef {
    #[inline(always)]
    fn checked(
        lens: [usize; 5],
        [g]: [usize; 1],
        step: u32,
        state: &LapropState,
        cfg: &LapropConfig,
    ) -> Result<Buffers, Error> {
        let names = ["params", "exp_avg", "exp_avg_sq", "exp_mean_avg_beta2", "max_exp_avg_sq"];
        check_lens(names, lens, [true, true, true, cfg.centered, cfg.amsgrad], g)?;
        validate::numerics(cfg.numerics, &[])?;
        let lr = validate::non_negative("lr", cfg.lr)?;
        let beta1 = validate::unit_half_open("beta1", cfg.beta1)?;
        let beta2 = validate::unit_half_open("beta2", cfg.beta2)?;
        let eps = validate::non_negative("eps", cfg.eps)?;
        let wd = validate::non_negative("weight_decay", cfg.weight_decay)?;
        validate::step(step)?;
        let l1 = state.exp_avg_lr_1 * beta1 + (1.0 - beta1) * lr;
        let l2 = state.exp_avg_lr_2 * beta2 + (1.0 - beta2);
        let step_size = if lr != 0.0 { 1.0 / (l1 / lr) } else { 1.0 };
        let factor = if cfg.fixed_decay { 1.0 - wd } else { 1.0 - wd * lr };
        Ok(Buffers(Self {
            scale: signed_scale(cfg.grad_scale, cfg.maximize)?,
            beta2: ema_pair(beta2),
            ema_mean: Ema::with_beta(beta2),
            use_centered: cfg.centered && step > cfg.steps_before_using_centered,
            centered: cfg.centered,
            amsgrad: cfg.amsgrad,
            eps: c(eps),
            bc2_sqrt: c(libm::sqrt(1.0 - pow_step(beta2, step))),
            beta1: c(beta1),
            m_gain: c((1.0 - beta1) * lr),
            neg_step: c(-step_size),
            decay: (wd != 0.0).then(|| c(factor)),
            next: LapropState { exp_avg_lr_1: l1, exp_avg_lr_2: l2 },
            numerics: cfg.numerics,
        }))
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
        let v = ema_product::<P, L, N>(self.beta2, x[2], g, g);
        x[2] = v;
        let mut second = v;
        // `get_mut`: the rule also runs with 3 buffers (no panic path in the C library).
        if let Some(slot) = x.get_mut(3).filter(|_| self.centered) {
            let mean = self.ema_mean.apply::<P, L, N>(*slot, g);
            *slot = mean;
            if self.use_centered {
                second = v - mean * mean;
            }
        }
        if self.amsgrad {
            let k = 3 + usize::from(self.centered);
            if let Some(max) = x.get_mut(k) {
                second = max.max_nan(second);
                *max = second;
            }
        }
        let d = (second.sqrt() + L::splat(self.eps)) / L::splat(self.bc2_sqrt);
        let m = x[1] * L::splat(self.beta1) + (L::splat(self.m_gain) * g) / d;
        x[1] = m;
        let mut param = P::fma(L::splat(self.neg_step), m, x[0]);
        if let Some(f) = self.decay {
            param = param * L::splat(f);
        }
        x[0] = param;
    }
}

/// The rule over the buffers the options use (the two optional ones independently).
struct Buffers(Coef);

impl Elementwise<5, 1> for Buffers {
    fn used(&self) -> [bool; 5] {
        [true, true, true, self.0.centered, self.0.amsgrad]
    }

    fn run(&self, width: Width, [p, m, v, mean, max]: [&mut [f32]; 5], [g]: [&[f32]; 1]) {
        let k = &self.0;
        match (k.centered, k.amsgrad) {
            (false, false) => run_rule::<Coef, 3>(k, width, [p, m, v], g),
            (true, false) => run_rule::<Coef, 4>(k, width, [p, m, v, mean], g),
            (false, true) => run_rule::<Coef, 4>(k, width, [p, m, v, max], g),
            (true, true) => run_rule::<Coef, 5>(k, width, [p, m, v, mean, max], g),
        }
    }
}

rule_step! {
    /// LaProp: updates `params`, `exp_avg` (`m`), `exp_avg_sq` (`v`) and, when used,
    /// `exp_mean_avg_beta2` (`ḡ`, centred) and `max_exp_avg_sq` (AMSGrad) in place (unused
    /// ones may be empty), and advances `state`.
    ///
    /// For every index `i`, with `s = grad_scale`, `t = step`, `bc₂ = 1 − β₂ᵗ`:
    /// ```text
    /// g ← s·grads[i]                         (−s·grads[i] with maximize)
    /// v ← β₂·v + (1 − β₂)·g²
    /// ḡ ← β₂·ḡ + (1 − β₂)·g;  v' = v − ḡ² if t > steps_before_using_centered   (centered)
    /// v' ← max(v̂, v') → v̂                                                    (amsgrad)
    /// d = (√v' + ε)/√bc₂
    /// m ← β₁·m + (1 − β₁)·η·g/d               (the normalised gradient is averaged)
    /// θ ← θ − (η/L₁)·m;   θ ← θ·(1 − ηλ)       (L₁ from state: the averaged learning rate)
    /// ```
    /// [`Numerics::Torch`]: `addcmul`, the lerp of `ḡ`, `addcdiv` and `fma(c(−η/L₁), m, θ)`.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`], [`Error::InvalidHyperparameter`], [`Error::ZeroStep`].
    /// **Nothing is written, and `state` is unchanged, when an error is returned.**
    pub fn laprop_step / laprop_step_with / laprop_step_mixed / laprop_step_mixed_with
    (params, grads, exp_avg, exp_avg_sq, exp_mean_avg_beta2, max_exp_avg_sq; step: u32, state: &mut LapropState, cfg: &LapropConfig),
    checked: |lens, g| Coef::checked(lens, g, step, state, cfg),
    then: |k| *state = k.0.next,
}
