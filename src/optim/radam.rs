//! RAdam (`torch.optim.RAdam`): Adam with a rectified adaptive learning rate.

use crate::driver::for_each_chunk;
use crate::format::Elementwise;
use crate::lanes::Lanes;
use crate::numerics::{Numerics, Profile, TorchLerp, c, pow_step2, with_profile};
use crate::optim::WeightDecay;
use crate::optim::{mixed_step, signed_scale};
use crate::width::with_width;
use crate::{Error, Width, validate};

/// Hyperparameters of [`radam_step`]. [`Default`] is `torch.optim.RAdam`'s.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct RadamConfig {
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
    /// Decoupled weight decay (`θ ← θ(1 − ηλ)`) instead of L2. Default `false`.
    pub decoupled_weight_decay: bool,
    /// Maximize the objective (negate the gradient first). Default `false`.
    pub maximize: bool,
    /// Multiplier `s` applied to the gradient first. Default `1` (exact); finite, ≥ 0.
    pub grad_scale: f32,
    /// Operation order. Default [`Numerics::Torch`].
    pub numerics: Numerics,
}

impl Default for RadamConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled_weight_decay: false,
            maximize: false,
            grad_scale: 1.0,
            numerics: Numerics::Torch,
        }
    }
}

struct Coef {
    scale: f32,
    decay: WeightDecay,
    lerp1: TorchLerp,
    beta1: f32,
    one_minus_beta1: f32,
    beta2: f32,
    one_minus_beta2: f32,
    /// `ρ_t > 5`: the rectified, adaptive branch.
    rectified: bool,
    /// Torch: `c(bc1)`, `c(η)`, `c(ε)`, `c(√bc2)`, `c(r_t)`.
    bc1: f32,
    lr: f32,
    eps: f32,
    bc2_sqrt: f32,
    rect: f32,
    /// Portable: `c(−η/bc1)` (un-rectified) or `c(−η·r_t·√bc2/bc1)` (rectified).
    portable_step: f32,
    numerics: Numerics,
}

impl Coef {
    #[inline(always)]
    fn from_config(step: u32, cfg: &RadamConfig) -> Result<Self, Error> {
        validate::numerics(cfg.numerics, &[Numerics::Fast])?;
        let lr = validate::non_negative("lr", cfg.lr)?;
        let beta1 = validate::unit_half_open("beta1", cfg.beta1)?;
        let beta2 = validate::unit_half_open("beta2", cfg.beta2)?;
        let eps = validate::non_negative("eps", cfg.eps)?;
        let weight_decay = validate::non_negative("weight_decay", cfg.weight_decay)?;
        let scale = signed_scale(cfg.grad_scale, cfg.maximize)?;
        validate::step(step)?;
        let t = f64::from(step);
        let [beta1_t, beta2_t] = pow_step2([beta1, beta2], step);
        let bc1 = 1.0 - beta1_t;
        let bc2 = 1.0 - beta2_t;
        let rho_inf = 2.0 / (1.0 - beta2) - 1.0;
        let rho_t = rho_inf - 2.0 * t * beta2_t / bc2;
        let rectified = rho_t > 5.0;
        let rect = if rectified {
            libm::sqrt(
                (rho_t - 4.0) * (rho_t - 2.0) * rho_inf
                    / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t),
            )
        } else {
            1.0
        };
        let bc2_sqrt = libm::sqrt(bc2);
        let decay = WeightDecay::from_config(lr, weight_decay, cfg.decoupled_weight_decay);
        Ok(Self {
            scale,
            decay,
            lerp1: TorchLerp::with_weight(1.0 - beta1),
            beta1: c(beta1),
            one_minus_beta1: c(1.0 - beta1),
            beta2: c(beta2),
            one_minus_beta2: c(1.0 - beta2),
            rectified,
            bc1: c(bc1),
            lr: c(lr),
            eps: c(eps),
            bc2_sqrt: c(bc2_sqrt),
            rect: c(rect),
            portable_step: if rectified { c(-lr * rect * bc2_sqrt / bc1) } else { c(-lr / bc1) },
            numerics: cfg.numerics,
        })
    }
    /// Every check of a call with these lengths (`params`, `exp_avg`, `exp_avg_sq`; `grads`).
    #[inline(always)]
    fn checked(
        [n, l1, l2]: [usize; 3],
        [i0]: [usize; 1],
        step: u32,
        cfg: &RadamConfig,
    ) -> Result<Self, Error> {
        validate::len("grads", n, i0)?;
        validate::len("exp_avg", n, l1)?;
        validate::len("exp_avg_sq", n, l2)?;
        Self::from_config(step, cfg)
    }
}

impl Elementwise<3, 1> for Coef {
    fn used(&self) -> [bool; 3] {
        [true; 3]
    }

    #[inline(never)]
    fn run(
        &self,
        width: Width,
        [params, exp_avg, exp_avg_sq]: [&mut [f32]; 3],
        [grads]: [&[f32]; 1],
    ) {
        let k = self;
        with_width!(width, |L, N| with_profile!(fast k.numerics, |P| {
            for_each_chunk::<N, 3, 1>(
                [params, exp_avg, exp_avg_sq],
                [grads],
                #[inline(always)]
                |[p, m, v], [g]| radam_lanes::<L, N, P>(k, p, g, m, v),
            )
        }));
    }
}

/// RAdam (Liu et al. 2020; `torch.optim.RAdam`): updates `params`, `exp_avg` (`m`) and
/// `exp_avg_sq` (`v`) in place.
///
/// With `s = grad_scale`, `t = step` (1-based), `ρ_∞ = 2/(1 − β₂) − 1` and
/// `ρ_t = ρ_∞ − 2tβ₂ᵗ/(1 − β₂ᵗ)`, for every index `i`:
/// ```text
/// g ← s·grads[i]                          (−s·grads[i] with maximize)
/// θ ← θ·(1 − ηλ)   (decoupled)   or   g ← g + λθ   (L2)
/// m ← β₁m + (1 − β₁)g;   v ← β₂v + (1 − β₂)g²;   m̂ = m/(1 − β₁ᵗ)
/// ρ_t > 5:  r_t = √((ρ_t−4)(ρ_t−2)ρ_∞ / ((ρ_∞−4)(ρ_∞−2)ρ_t));   θ ← θ − η·m̂·√(1−β₂ᵗ)/(√v + ε)·r_t
/// ρ_t ≤ 5:  θ ← θ − η·m̂            (the un-rectified first steps: no second moment, no ε)
/// ```
/// [`Numerics::Torch`] (PyTorch's order): `m̂ = m / c(bc1)`; rectified:
/// `θ − ((m̂·c(η))·((1/(√v + c(ε)))·c(√bc2)))·c(r_t)`; else `θ − m̂·c(η)`.
/// [`Numerics::Portable`]: `θ + c(−η r_t √bc2/bc1)·m / (√v + c(ε))` (one division), or
/// `θ + c(−η/bc1)·m`.
///
/// # Errors
/// [`Error::LengthMismatch`], [`Error::InvalidHyperparameter`], [`Error::ZeroStep`].
/// **Nothing is written when an error is returned.**
pub fn radam_step(
    params: &mut [f32],
    grads: &[f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    step: u32,
    cfg: &RadamConfig,
) -> Result<(), Error> {
    radam_step_with(Width::NATIVE, params, grads, exp_avg, exp_avg_sq, step, cfg)
}

/// [`radam_step`] at an explicit lane width (for tests and benches).
#[doc(hidden)]
pub fn radam_step_with(
    width: Width,
    params: &mut [f32],
    grads: &[f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    step: u32,
    cfg: &RadamConfig,
) -> Result<(), Error> {
    let k =
        Coef::checked([params.len(), exp_avg.len(), exp_avg_sq.len()], [grads.len()], step, cfg)?;
    k.run(width, [params, exp_avg, exp_avg_sq], [grads]);
    Ok(())
}

mixed_step! {
    /// [`radam_step`] in mixed storage formats ([`crate::format`]).
    ///
    /// # Errors
    /// As [`radam_step`], and the format errors of [`crate::adam_step_mixed`]. **Nothing is written
    /// when an error is returned.**
    radam_step_mixed, radam_step_mixed_with,
    (params, grads, exp_avg, exp_avg_sq; step: u32, cfg: &RadamConfig),
    checked: |o, i| Coef::checked(o, i, step, cfg),
}

#[inline(always)]
fn radam_lanes<L: Lanes<N>, const N: usize, P: Profile>(
    k: &Coef,
    p: &mut [f32; N],
    g: &[f32; N],
    m: &mut [f32; N],
    v: &mut [f32; N],
) {
    let (param, g) = k.decay.apply::<P, L, N>(L::load(p), L::load(g) * L::splat(k.scale));
    let m_new = if P::TORCH {
        k.lerp1.apply::<P, L, N>(L::load(m), g)
    } else {
        P::fma(L::load(m), L::splat(k.beta1), L::splat(k.one_minus_beta1) * g)
    };
    let v_new = P::fma(L::splat(k.one_minus_beta2) * g, g, L::load(v) * L::splat(k.beta2));
    m_new.store(m);
    v_new.store(v);
    let new = if P::TORCH {
        let mhat = m_new / L::splat(k.bc1);
        if k.rectified {
            let adaptive =
                (L::splat(1.0) / (v_new.sqrt() + L::splat(k.eps))) * L::splat(k.bc2_sqrt);
            param - ((mhat * L::splat(k.lr)) * adaptive) * L::splat(k.rect)
        } else {
            param - mhat * L::splat(k.lr)
        }
    } else if k.rectified {
        P::add_div(param, L::splat(k.portable_step) * m_new, P::sqrt(v_new) + L::splat(k.eps))
    } else {
        P::fma(L::splat(k.portable_step), m_new, param)
    };
    new.store(p);
}
