//! NAdam (`torch.optim.NAdam`): Adam with Nesterov momentum and a momentum schedule.

use crate::driver::for_each_chunk;
use crate::format::Elementwise;
use crate::lanes::Lanes;
use crate::numerics::{Numerics, Profile, TorchLerp, c, pow_step, with_profile};
use crate::optim::WeightDecay;
use crate::optim::{mixed_step, signed_scale};
use crate::width::with_width;
use crate::{Error, Width, validate};

/// Hyperparameters of [`nadam_step`]. [`Default`] is `torch.optim.NAdam`'s.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct NadamConfig {
    /// Learning rate `η`. Default `2e-3`; finite, ≥ 0.
    pub lr: f64,
    /// `β₁`. Default `0.9`; finite, in `[0, 1)`.
    pub beta1: f64,
    /// `β₂`. Default `0.999`; finite, in `[0, 1)`.
    pub beta2: f64,
    /// `ε`. Default `1e-8`; finite, ≥ 0.
    pub eps: f64,
    /// Weight decay `λ`. Default `0`; finite, ≥ 0.
    pub weight_decay: f64,
    /// `ψ` of the momentum schedule `μ_t = β₁(1 − ½·0.96^(tψ))`. Default `4e-3`; finite, ≥ 0.
    pub momentum_decay: f64,
    /// Decoupled weight decay (`θ ← θ(1 − ηλ)`) instead of L2. Default `false`.
    pub decoupled_weight_decay: bool,
    /// Maximize the objective (negate the gradient first). Default `false`.
    pub maximize: bool,
    /// Multiplier `s` applied to the gradient first. Default `1` (exact); finite, ≥ 0.
    pub grad_scale: f32,
    /// Operation order. Default [`Numerics::Torch`].
    pub numerics: Numerics,
}

impl Default for NadamConfig {
    fn default() -> Self {
        Self {
            lr: 2e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum_decay: 4e-3,
            decoupled_weight_decay: false,
            maximize: false,
            grad_scale: 1.0,
            numerics: Numerics::Torch,
        }
    }
}

/// NAdam's scalar state, torch's `state["mu_product"]` (`Π μ_k`, an f32 0-dim tensor in
/// torch). Owned by the caller; start from [`Default`] (`1.0`). [`nadam_step`] updates it only
/// when it returns `Ok`.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct NadamState {
    /// `Π_{k ≤ t} μ_k`, rounded to f32 after every multiplication as torch does.
    pub mu_product: f32,
}

impl Default for NadamState {
    fn default() -> Self {
        Self { mu_product: 1.0 }
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
    /// Torch: `c(bc2)`, `c(ε)`, and the two step sizes.
    bc2: f32,
    eps: f32,
    g_step: f32,
    m_step: f32,
    /// Portable: the step sizes times `√bc2`, and `ε·√bc2`.
    portable_g_step: f32,
    portable_m_step: f32,
    portable_eps: f32,
    mu_product: f32,
    numerics: Numerics,
}

impl Coef {
    #[inline(always)]
    fn from_config(step: u32, state: &NadamState, cfg: &NadamConfig) -> Result<Self, Error> {
        validate::numerics(cfg.numerics, &[Numerics::Fast])?;
        let lr = validate::non_negative("lr", cfg.lr)?;
        let beta1 = validate::unit_half_open("beta1", cfg.beta1)?;
        let beta2 = validate::unit_half_open("beta2", cfg.beta2)?;
        let eps = validate::non_negative("eps", cfg.eps)?;
        let weight_decay = validate::non_negative("weight_decay", cfg.weight_decay)?;
        let momentum_decay = validate::non_negative("momentum_decay", cfg.momentum_decay)?;
        let scale = signed_scale(cfg.grad_scale, cfg.maximize)?;
        validate::step(step)?;
        let t = f64::from(step);
        let bc2 = 1.0 - pow_step(beta2, step);
        let mu = beta1 * (1.0 - 0.5 * libm::pow(0.96, t * momentum_decay));
        let mu_next = beta1 * (1.0 - 0.5 * libm::pow(0.96, (t + 1.0) * momentum_decay));
        let mu_product = state.mu_product * c(mu);
        let mp = f64::from(mu_product);
        let g_step = -lr * (1.0 - mu) / (1.0 - mp);
        let m_step = -lr * mu_next / (1.0 - mp * mu_next);
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
            bc2: c(bc2),
            eps: c(eps),
            g_step: c(g_step),
            m_step: c(m_step),
            portable_g_step: c(g_step * bc2_sqrt),
            portable_m_step: c(m_step * bc2_sqrt),
            portable_eps: c(eps * bc2_sqrt),
            mu_product,
            numerics: cfg.numerics,
        })
    }
    /// Every check of a call with these lengths (`params`, `exp_avg`, `exp_avg_sq`; `grads`).
    #[inline(always)]
    fn checked(
        [n, l1, l2]: [usize; 3],
        [i0]: [usize; 1],
        state: &NadamState,
        step: u32,
        cfg: &NadamConfig,
    ) -> Result<Self, Error> {
        validate::len("grads", n, i0)?;
        validate::len("exp_avg", n, l1)?;
        validate::len("exp_avg_sq", n, l2)?;
        Self::from_config(step, state, cfg)
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
                |[p, m, v], [g]| nadam_lanes::<L, N, P>(k, p, g, m, v),
            )
        }));
    }
}

/// NAdam (Dozat 2016; `torch.optim.NAdam`): updates `params`, `exp_avg` (`m`), `exp_avg_sq`
/// (`v`) and `state.mu_product` in place.
///
/// With `s = grad_scale`, `t = step` (1-based), `μ_t = β₁(1 − ½·0.96^(tψ))` and
/// `Π_t = Π_{t−1}·μ_t` (f32, `state.mu_product`), for every index `i`:
/// ```text
/// g ← s·grads[i]                         (−s·grads[i] with maximize)
/// θ ← θ·(1 − ηλ)   (decoupled)   or   g ← g + λθ   (L2)
/// m ← β₁m + (1 − β₁)g;   v ← β₂v + (1 − β₂)g²
/// d = √(v/(1 − β₂ᵗ)) + ε
/// θ ← θ − η(1 − μ_t)/(1 − Π_t) · g/d
/// θ ← θ − η·μ_{t+1}/(1 − Π_t·μ_{t+1}) · m/d
/// ```
/// [`Numerics::Torch`] applies the two updates as two roundings, `θ + (c(a)·g)/d`, then
/// `+ (c(b)·m)/d`, with `d = √(v / c(bc2)) + c(ε)`. [`Numerics::Portable`] uses one division:
/// `θ + (c(a√bc2)·g + c(b√bc2)·m) / (√v + c(ε√bc2))`.
///
/// # Errors
/// [`Error::LengthMismatch`], [`Error::InvalidHyperparameter`], [`Error::ZeroStep`].
/// **Nothing is written when an error is returned**, `state` included.
pub fn nadam_step(
    params: &mut [f32],
    grads: &[f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    state: &mut NadamState,
    step: u32,
    cfg: &NadamConfig,
) -> Result<(), Error> {
    nadam_step_with(Width::NATIVE, params, grads, exp_avg, exp_avg_sq, state, step, cfg)
}

/// [`nadam_step`] at an explicit lane width (for tests and benches).
#[doc(hidden)]
#[allow(clippy::too_many_arguments)]
pub fn nadam_step_with(
    width: Width,
    params: &mut [f32],
    grads: &[f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    state: &mut NadamState,
    step: u32,
    cfg: &NadamConfig,
) -> Result<(), Error> {
    let k = Coef::checked(
        [params.len(), exp_avg.len(), exp_avg_sq.len()],
        [grads.len()],
        state,
        step,
        cfg,
    )?;
    k.run(width, [params, exp_avg, exp_avg_sq], [grads]);
    state.mu_product = k.mu_product;
    Ok(())
}

mixed_step! {
    /// [`nadam_step`] in mixed storage formats ([`crate::format`]). `state` is updated as [`nadam_step`] does.
    ///
    /// # Errors
    /// As [`nadam_step`], and the format errors of [`crate::adam_step_mixed`]. **Nothing is written
    /// when an error is returned.**
    nadam_step_mixed, nadam_step_mixed_with,
    (params, grads, exp_avg, exp_avg_sq; state: &mut NadamState, step: u32, cfg: &NadamConfig),
    checked: |o, i| Coef::checked(o, i, state, step, cfg),
    then: |k| state.mu_product = k.mu_product,
}

#[inline(always)]
fn nadam_lanes<L: Lanes<N>, const N: usize, P: Profile>(
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
    if P::TORCH {
        let d = (v_new / L::splat(k.bc2)).sqrt() + L::splat(k.eps);
        let p1 = param + (L::splat(k.g_step) * g) / d;
        (p1 + (L::splat(k.m_step) * m_new) / d).store(p);
    } else {
        let num = P::fma(L::splat(k.portable_g_step), g, L::splat(k.portable_m_step) * m_new);
        P::add_div(param, num, P::sqrt(v_new) + L::splat(k.portable_eps)).store(p);
    }
}
