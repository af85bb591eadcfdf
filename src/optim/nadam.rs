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

/// `μ_t = β₁(1 − ½·0.96^(tψ))`, `μ_{t+1}` and `1 − β₂ᵗ`: the step's powers ([`NadamPrepared`]).
#[derive(Clone, Copy)]
struct Powers {
    mu: f64,
    mu_next: f64,
    bc2: f64,
}

impl Powers {
    /// The powers of `step` (two `pow` and a compensated power: most of a small call's cost).
    #[inline(always)]
    fn of(step: u32, beta1: f64, beta2: f64, momentum_decay: f64) -> Self {
        let t = f64::from(step);
        Self {
            mu: beta1 * (1.0 - 0.5 * libm::pow(0.96, t * momentum_decay)),
            mu_next: beta1 * (1.0 - 0.5 * libm::pow(0.96, (t + 1.0) * momentum_decay)),
            bc2: 1.0 - pow_step(beta2, step),
        }
    }
}

impl Coef {
    #[inline(always)]
    fn from_config(step: u32, state: &NadamState, cfg: &NadamConfig) -> Result<Self, Error> {
        Self::with_powers(step, state, cfg, |beta1, beta2, momentum_decay| {
            Ok(Powers::of(step, beta1, beta2, momentum_decay))
        })
    }

    /// [`Coef::from_config`] with the step's powers given by `powers(β₁, β₂, ψ)`, called after
    /// every check of `cfg` and `step` has passed.
    #[inline(always)]
    fn with_powers(
        step: u32,
        state: &NadamState,
        cfg: &NadamConfig,
        powers: impl FnOnce(f64, f64, f64) -> Result<Powers, Error>,
    ) -> Result<Self, Error> {
        validate::numerics(cfg.numerics, &[Numerics::Fast])?;
        let lr = validate::non_negative("lr", cfg.lr)?;
        let beta1 = validate::unit_half_open("beta1", cfg.beta1)?;
        let beta2 = validate::unit_half_open("beta2", cfg.beta2)?;
        let eps = validate::non_negative("eps", cfg.eps)?;
        let weight_decay = validate::non_negative("weight_decay", cfg.weight_decay)?;
        let momentum_decay = validate::non_negative("momentum_decay", cfg.momentum_decay)?;
        let scale = signed_scale(cfg.grad_scale, cfg.maximize)?;
        validate::step(step)?;
        let Powers { mu, mu_next, bc2 } = powers(beta1, beta2, momentum_decay)?;
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
        Self::check_lens([n, l1, l2], [i0])?;
        Self::from_config(step, state, cfg)
    }

    /// The length checks of [`Coef::checked`] and [`Coef::checked_prepared`].
    #[inline(always)]
    fn check_lens([n, l1, l2]: [usize; 3], [i0]: [usize; 1]) -> Result<(), Error> {
        validate::len("grads", n, i0)?;
        validate::len("exp_avg", n, l1)?;
        validate::len("exp_avg_sq", n, l2)
    }

    /// [`Coef::checked`] for a prepared step: the powers are `prepared`'s, `μ_t` and `μ_{t+1}`
    /// checked to be in `[0, 1)`, `1 − β₂ᵗ` in `(0, 1]`.
    #[inline(always)]
    fn checked_prepared(
        [n, l1, l2]: [usize; 3],
        [i0]: [usize; 1],
        state: &NadamState,
        prepared: &NadamPrepared,
    ) -> Result<Self, Error> {
        Self::check_lens([n, l1, l2], [i0])?;
        Self::with_powers(prepared.step, state, &prepared.cfg, |_, _, _| {
            Ok(Powers {
                mu: validate::unit_half_open("mu", prepared.mu)?,
                mu_next: validate::unit_half_open("mu_next", prepared.mu_next)?,
                bc2: validate::positive_unit("bias_correction2", prepared.bias_correction2)?,
            })
        })
    }
}

/// One NAdam step's powers, computed once by [`NadamConfig::prepare`] for every tensor of the
/// step and passed to [`nadam_step_prepared`].
///
/// The momentum schedule `μ_t`, `μ_{t+1}` (two f64 `pow`) and `1 − β₂ᵗ` (a compensated power)
/// are most of a small [`nadam_step`] call's fixed cost; a model of many tensors pays them once
/// per step this way. The per-tensor state `Π_t` stays in each tensor's [`NadamState`] and is
/// updated by each call. The result is bit for bit [`nadam_step`]'s with the same `cfg`, `step`
/// and state.
///
/// The fields are public (and the C struct `optkern_nadam_prepared` is this one): a call checks
/// `cfg` and `step` as [`nadam_step`] does, `mu` and `mu_next` to be finite and in `[0, 1)` and
/// `bias_correction2` in `(0, 1]`, but it cannot check that they are those of `cfg` at `step`.
/// Change a field and the step uses the value given; prepare again instead.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct NadamPrepared {
    /// The hyperparameters, as given to [`NadamConfig::prepare`].
    pub cfg: NadamConfig,
    /// The 1-based step.
    pub step: u32,
    /// `μ_t = β₁(1 − ½·0.96^(tψ))` (f64).
    pub mu: f64,
    /// `μ_{t+1}` (f64).
    pub mu_next: f64,
    /// `1 − β₂ᵗ` (f64).
    pub bias_correction2: f64,
}

impl NadamConfig {
    /// The powers of `step` for [`nadam_step_prepared`], after every check [`nadam_step`]
    /// makes of `self` and `step`.
    ///
    /// # Errors
    /// As [`nadam_step`]'s for its `cfg` and `step` ([`Error::InvalidHyperparameter`],
    /// [`Error::ZeroStep`]).
    pub fn prepare(&self, step: u32) -> Result<NadamPrepared, Error> {
        let mut prepared =
            NadamPrepared { cfg: *self, step, mu: 0.0, mu_next: 0.0, bias_correction2: 1.0 };
        Coef::with_powers(step, &NadamState::default(), self, |beta1, beta2, momentum_decay| {
            let powers = Powers::of(step, beta1, beta2, momentum_decay);
            (prepared.mu, prepared.mu_next) = (powers.mu, powers.mu_next);
            prepared.bias_correction2 = powers.bc2;
            Ok(powers)
        })?;
        Ok(prepared)
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

/// [`nadam_step`] with the step's powers computed beforehand ([`NadamConfig::prepare`]), for a
/// model of many tensors: each call skips the two `pow` of the momentum schedule and the power
/// `β₂ᵗ`. The same bits, `state` included, as `nadam_step(…, state, prepared.step,
/// &prepared.cfg)`.
///
/// # Errors
/// As [`nadam_step`], and [`Error::InvalidHyperparameter`] (field `mu`, `mu_next` or
/// `bias_correction2`) for a power out of its range. **Nothing is written when an error is
/// returned**, `state` included.
///
/// # Example
/// ```
/// let cfg = optkern::NadamConfig::default();
/// let prepared = cfg.prepare(1)?; // once per step
/// let (mut p, g, mut m, mut v) = ([1.0f32; 3], [0.5f32; 3], [0.0f32; 3], [0.0f32; 3]);
/// let mut state = optkern::NadamState::default(); // one per tensor
/// optkern::nadam_step_prepared(&mut p, &g, &mut m, &mut v, &mut state, &prepared)?;
/// // The same step as `nadam_step`'s:
/// let (mut q, mut m2, mut v2) = ([1.0f32; 3], [0.0f32; 3], [0.0f32; 3]);
/// let mut state2 = optkern::NadamState::default();
/// optkern::nadam_step(&mut q, &g, &mut m2, &mut v2, &mut state2, 1, &cfg)?;
/// assert_eq!((p, state), (q, state2));
/// # Ok::<(), optkern::Error>(())
/// ```
pub fn nadam_step_prepared(
    params: &mut [f32],
    grads: &[f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    state: &mut NadamState,
    prepared: &NadamPrepared,
) -> Result<(), Error> {
    nadam_step_prepared_with(Width::NATIVE, params, grads, exp_avg, exp_avg_sq, state, prepared)
}

/// [`nadam_step_prepared`] at an explicit lane width (for tests and benches).
#[doc(hidden)]
pub fn nadam_step_prepared_with(
    width: Width,
    params: &mut [f32],
    grads: &[f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    state: &mut NadamState,
    prepared: &NadamPrepared,
) -> Result<(), Error> {
    let k = Coef::checked_prepared(
        [params.len(), exp_avg.len(), exp_avg_sq.len()],
        [grads.len()],
        state,
        prepared,
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
