//! D-Adaptation (Defazio & Mishchenko 2023, "Learning-Rate-Free Learning by D-Adaptation"),
//! Adam and SGD, as `pytorch_optimizer.DAdaptAdam` and `DAdaptSGD` 4.1 compute them.
//!
//! Each step is one pass per tensor (the update of every tensor uses only the step size `d`
//! the step started with) that also feeds two model-wide sums, then [`dadapt_update_d`] once.
//! One difference from the packages, on a degenerate input: they skip the whole step while
//! `‖s‖ = 0` (every gradient so far exactly 0); here the parameters still take that step's
//! (zero-gradient) update, i.e. a decoupled weight decay.

use crate::driver::for_each_chunk_summed;
use crate::format::{Access, Layerwise};
use crate::lanes::Lanes;
use crate::numerics::{Numerics, Profile, bias_corrections, c, with_profile};
use crate::optim::mixed_step;
use crate::optim::rule::{WeightDecay, decay};
use crate::optim::signed_scale;
use crate::reduce::{BlockedSum, SumCarry, square, terms};
use crate::width::with_width;
use crate::{Error, Width, validate};

/// Hyperparameters of [`dadapt_adam_step`]. [`Default`] is `pytorch_optimizer.DAdaptAdam`'s.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct DadaptAdamConfig {
    /// The multiplier of the estimated step size (leave it at 1). Default `1`; finite, ≥ 0.
    pub lr: f64,
    /// `β₁`. Default `0.9`; finite, in `[0, 1)`.
    pub beta1: f64,
    /// `β₂` (`s` and the numerator decay with `√β₂`). Default `0.999`; finite, in `[0, 1)`.
    pub beta2: f64,
    /// `ε`. Default `1e-8`; finite, ≥ 0.
    pub eps: f64,
    /// Weight decay `λ`. Default `0`; finite, ≥ 0.
    pub weight_decay: f64,
    /// Decoupled decay `θ ← θ·(1 − η_d·λ)` (else L2 `g ← g + λθ`). Default `false`.
    pub weight_decouple: bool,
    /// With `weight_decouple`: `θ ← θ·(1 − λ)`. Default `false`.
    pub fixed_decay: bool,
    /// Adam's bias correction in the step size. Default `false`.
    pub bias_correction: bool,
    /// The largest growth of `d` per step (`∞`: none). Default `∞`; > 0.
    pub growth_rate: f64,
    /// Maximize the objective (negate the gradient first). Default `false`.
    pub maximize: bool,
    /// Multiplier `s` applied to the gradient first. Default `1` (exact); finite, ≥ 0.
    pub grad_scale: f32,
    /// Operation order. Default [`Numerics::Torch`] (the package's).
    pub numerics: Numerics,
}

impl Default for DadaptAdamConfig {
    fn default() -> Self {
        Self {
            lr: 1.0,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            weight_decouple: false,
            fixed_decay: false,
            bias_correction: false,
            growth_rate: f64::INFINITY,
            maximize: false,
            grad_scale: 1.0,
            numerics: Numerics::Torch,
        }
    }
}

/// Hyperparameters of [`dadapt_sgd_step`]. [`Default`] is `pytorch_optimizer.DAdaptSGD`'s.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct DadaptSgdConfig {
    /// The multiplier of the estimated step size (leave it at 1). Default `1`; finite, ≥ 0.
    pub lr: f64,
    /// Momentum `μ` (the interpolation towards `z`). Default `0.9`; finite, in `[0, 1)`.
    pub momentum: f64,
    /// Weight decay `λ`. Default `0`; finite, ≥ 0.
    pub weight_decay: f64,
    /// Decoupled decay `θ ← θ·(1 − η_d·λ)` (else L2 `g ← g + λθ`). Default `false`.
    pub weight_decouple: bool,
    /// With `weight_decouple`: `θ ← θ·(1 − λ)`. Default `false`.
    pub fixed_decay: bool,
    /// The largest growth of `d` per step (`∞`: none). Default `∞`; > 0.
    pub growth_rate: f64,
    /// Maximize the objective (negate the gradient first). Default `false`.
    pub maximize: bool,
    /// Multiplier `s` applied to the gradient first. Default `1` (exact); finite, ≥ 0.
    pub grad_scale: f32,
    /// Operation order. Default [`Numerics::Torch`] (the package's).
    pub numerics: Numerics,
}

impl Default for DadaptSgdConfig {
    fn default() -> Self {
        Self {
            lr: 1.0,
            momentum: 0.9,
            weight_decay: 0.0,
            weight_decouple: false,
            fixed_decay: false,
            growth_rate: f64::INFINITY,
            maximize: false,
            grad_scale: 1.0,
            numerics: Numerics::Torch,
        }
    }
}

/// D-Adaptation's scalar state, caller-owned, one for the whole model. Start from
/// [`DadaptState::new`]; for SGD set `g0_norm` to the global gradient norm of the first step
/// ([`crate::grad_norm`]) before it.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct DadaptState {
    /// The step-size estimate `d`.
    pub d: f64,
    /// Adam: the weighted numerator (an average); SGD: the running numerator.
    pub numerator_weighted: f64,
    /// SGD: `‖g₁‖₂`, the scale of the first gradient (the step size is `d·η/‖g₁‖`).
    pub g0_norm: f64,
    /// Steps taken.
    pub k: u64,
    /// The step size `η_d` of the step in progress.
    pub dlr: f64,
    /// The step's numerator sum (Adam: `⟨g, s/(√v + ε)⟩`; SGD: `⟨g, s⟩`).
    pub numerator: SumCarry,
    /// The step's denominator sum (Adam: `‖s‖₁`; SGD: `‖s‖₂²`).
    pub denominator: SumCarry,
}

impl DadaptState {
    /// The state before the first step, with `d = d₀` (the packages' default is `1e-6`).
    pub fn new(d0: f64) -> Self {
        Self {
            d: d0,
            numerator_weighted: 0.0,
            g0_norm: 0.0,
            k: 0,
            dlr: 0.0,
            numerator: SumCarry::default(),
            denominator: SumCarry::default(),
        }
    }
}

/// D-Adapt Adam on one tensor (call it on every tensor, in the same order each step, then
/// [`dadapt_update_d`] once): updates `params`, `exp_avg` (`m`), `exp_avg_sq` (`v`) and `s`
/// in place and adds to the two sums in `state`. With `η_d = d·η` (`bias_correction`:
/// `d·η·√(1 − β₂ᵗ)/(1 − β₁ᵗ)`), `β = √β₂`, `g ← ±s·grads[i]` (`+ λθ` for L2):
/// ```text
/// Σ⟨g, s/(√v + ε)⟩ += g·s/(√v + ε)          (the old s and v)
/// m ← β₁·m + η_d(1 − β₁)·g;   v ← β₂·v + (1 − β₂)·g²;   s ← β·s + η_d(1 − β)·g
/// Σ|s| += |s|
/// θ ← θ·(1 − η_dλ)  (decoupled);   θ ← θ − m/(√v + ε)
/// ```
/// [`Numerics::Torch`]: `mul_().add_(alpha=)`, `addcmul_` fused, `addcdiv(θ, m, √v + ε, −1)`.
///
/// # Errors
/// [`Error::LengthMismatch`], [`Error::InvalidHyperparameter`]. **Nothing is written, and
/// `state` is unchanged, when an error is returned.**
#[allow(clippy::too_many_arguments)]
pub fn dadapt_adam_step(
    params: &mut [f32],
    grads: &[f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    s: &mut [f32],
    state: &mut DadaptState,
    cfg: &DadaptAdamConfig,
) -> Result<(), Error> {
    dadapt_adam_step_with(Width::NATIVE_TWO_PASS, params, grads, exp_avg, exp_avg_sq, s, state, cfg)
}

/// [`dadapt_adam_step`] at an explicit lane width (tests, benches).
#[doc(hidden)]
#[allow(clippy::too_many_arguments)]
pub fn dadapt_adam_step_with(
    width: Width,
    params: &mut [f32],
    grads: &[f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    s: &mut [f32],
    state: &mut DadaptState,
    cfg: &DadaptAdamConfig,
) -> Result<(), Error> {
    let lens = [params.len(), exp_avg.len(), exp_avg_sq.len(), s.len()];
    let mut k = AdamPass::checked(lens, [grads.len()], state, cfg)?;
    k.update(width, [params, exp_avg, exp_avg_sq, s], [grads]);
    k.write(state);
    Ok(())
}

mixed_step! {
    /// [`dadapt_adam_step`] in mixed storage formats ([`crate::format`]): bf16/f16 gradients;
    /// f32 parameters (optionally writing a bf16/f16 copy) or bf16 parameters; `exp_avg`,
    /// `exp_avg_sq` and `s` in f32, bf16, `q8`, `q4` or `fp8`. The arithmetic, and the two sums
    /// added to `state`, are [`dadapt_adam_step`]'s on the values as read.
    ///
    /// # Errors
    /// As [`dadapt_adam_step`], and the format errors of [`crate::adam_step_mixed`]. **Nothing
    /// is written, and `state` is unchanged, when an error is returned.**
    dadapt_adam_step_mixed, dadapt_adam_step_mixed_with,
    (params, grads, exp_avg, exp_avg_sq, s; state: &mut DadaptState, cfg: &DadaptAdamConfig),
    checked: |o, i| AdamPass::checked(o, i, state, cfg),
    then: |k| k.write(state),
    driver: mixed_layerwise,
}

/// One D-Adapt Adam step after its checks: the constants and the two sums it feeds. Its pass
/// is element-wise, sums included, so in mixed formats it is a [`Layerwise`] kernel with no
/// reduction pass: the staged update pass adds each block to the sums in index order, the
/// bits of the f32 call.
struct AdamPass {
    coef: AdamCoef,
    dlr: f64,
    num: BlockedSum<'static>,
    den: BlockedSum<'static>,
}

/// The f32 constants of one D-Adapt Adam step.
#[derive(Clone, Copy)]
struct AdamCoef {
    numerics: Numerics,
    scale: f32,
    decay: WeightDecay,
    beta1: f32,
    m_gain: f32,
    beta2: f32,
    v_gain: f32,
    beta_s: f32,
    s_gain: f32,
    eps: f32,
}

impl AdamPass {
    /// Every check of a call with these buffer lengths (`params`, `exp_avg`, `exp_avg_sq`,
    /// `s`; `grads`), before any write; the sums resume from `state`.
    fn checked(
        [n, m, v, s]: [usize; 4],
        [g]: [usize; 1],
        state: &DadaptState,
        cfg: &DadaptAdamConfig,
    ) -> Result<Self, Error> {
        validate::len("grads", n, g)?;
        validate::len("exp_avg", n, m)?;
        validate::len("exp_avg_sq", n, v)?;
        validate::len("s", n, s)?;
        let (dlr, beta) = adam_checked(cfg, state)?;
        let coef = AdamCoef {
            numerics: cfg.numerics,
            scale: signed_scale(cfg.grad_scale, cfg.maximize)?,
            decay: decay(dlr, cfg.weight_decay, cfg.weight_decouple, cfg.fixed_decay),
            beta1: c(cfg.beta1),
            m_gain: c(dlr * (1.0 - cfg.beta1)),
            beta2: c(cfg.beta2),
            v_gain: c(1.0 - cfg.beta2),
            beta_s: c(beta),
            s_gain: c(dlr * (1.0 - beta)),
            eps: c(cfg.eps),
        };
        let num = BlockedSum::resume(&state.numerator);
        Ok(Self { coef, dlr, num, den: BlockedSum::resume(&state.denominator) })
    }

    /// The sums and the step size into `state` (after a successful call).
    fn write(&self, state: &mut DadaptState) {
        state.numerator = self.num.suspend();
        state.denominator = self.den.suspend();
        state.dlr = self.dlr;
    }

    /// The step of `params`, `m`, `v`, `s` (the next elements of the model, in order).
    fn update(&mut self, width: Width, outs: [&mut [f32]; 4], ins: [&[f32]; 1]) {
        let k = self.coef;
        let (num, den) = (&mut self.num, &mut self.den);
        with_width!(width, two_pass, |L, N| with_profile!(k.numerics, |P| {
            for_each_chunk_summed::<N, 4, 1, 2>(
                outs,
                ins,
                [num, den],
                #[inline(always)]
                |[p, m, v, sb], [g]| {
                    // L2 enters g; the decoupled factor scales θ (used only in the last line).
                    let (param, g) =
                        k.decay.apply::<P, L, N>(L::load(p), L::load(g) * L::splat(k.scale));
                    let (v_old, s_old) = (L::load(v), L::load(sb));
                    let num_terms = terms(
                        &(g * (s_old / (v_old.sqrt() + L::splat(k.eps)))).to_array(),
                        f64::from,
                    );
                    let m_new = P::fma(L::splat(k.m_gain), g, L::load(m) * L::splat(k.beta1));
                    let v_new = P::fma(L::splat(k.v_gain) * g, g, v_old * L::splat(k.beta2));
                    let s_new = P::fma(L::splat(k.s_gain), g, s_old * L::splat(k.beta_s));
                    let den_terms = terms(&s_new.abs().to_array(), f64::from);
                    (param - m_new / (v_new.sqrt() + L::splat(k.eps))).store(p);
                    m_new.store(m);
                    v_new.store(v);
                    s_new.store(sb);
                    [num_terms, den_terms]
                },
            )
        }));
    }
}

impl Layerwise<4, 1> for AdamPass {
    fn reductions(&self) -> bool {
        false
    }
    fn reads(&self, _: usize) -> [Access; 4] {
        [Access::Skip; 4]
    }
    fn reduce(&mut self, _: usize, _: Width, _: [&mut [f32]; 4], _: [&[f32]; 1]) {}
    fn finish(&mut self, _: usize) -> bool {
        false
    }
    fn update(&mut self, width: Width, outs: [&mut [f32]; 4], ins: [&[f32]; 1]) {
        AdamPass::update(self, width, outs, ins)
    }
}

/// The checks of D-Adapt Adam and this step's `(η_d, √β₂)`.
fn adam_checked(cfg: &DadaptAdamConfig, state: &DadaptState) -> Result<(f64, f64), Error> {
    validate::numerics(cfg.numerics, &[])?;
    let lr = validate::non_negative("lr", cfg.lr)?;
    let beta1 = validate::unit_half_open("beta1", cfg.beta1)?;
    let beta2 = validate::unit_half_open("beta2", cfg.beta2)?;
    validate::non_negative("eps", cfg.eps)?;
    validate::non_negative("weight_decay", cfg.weight_decay)?;
    growth(cfg.growth_rate)?;
    validate::grad_scale(cfg.grad_scale)?;
    let t = u32::try_from(state.k + 1).unwrap_or(u32::MAX);
    let dlr = if cfg.bias_correction {
        let (bc1, bc2) = bias_corrections(beta1, beta2, t);
        state.d * lr * libm::sqrt(bc2) / bc1
    } else {
        state.d * lr
    };
    Ok((dlr, libm::sqrt(beta2)))
}

fn growth(rate: f64) -> Result<f64, Error> {
    if rate.is_nan() || rate <= 0.0 {
        Err(validate::out_of_range("growth_rate", rate))
    } else {
        Ok(rate)
    }
}

/// D-Adapt SGD on one tensor (every tensor in order, then [`dadapt_update_d`] once): updates
/// `params`, `s` and `z` in place and adds to the two sums in `state`; `x0` holds the initial
/// parameters. With `η_d = d·η/‖g₁‖` (`state.g0_norm`; if it is 0 nothing moves, as the
/// package), `g ← ±s·grads[i]` (`+ λθ` for L2):
/// ```text
/// Σ⟨g, s⟩ += g·s                               (the old s)
/// s ← s + η_d·g;   Σs² += s²
/// θ ← θ·(1 − η_dλ)  (decoupled)
/// z = x₀ − s;   θ ← μ·θ + (1 − μ)·z
/// ```
/// [`Numerics::Torch`]: `add(alpha=)` fused, `fma(c(1−μ), z, θ·c(μ))`.
///
/// # Errors
/// [`Error::LengthMismatch`], [`Error::InvalidHyperparameter`] (also a negative or NaN
/// `g0_norm`). **Nothing is written, and `state` is unchanged, when an error is returned.**
#[allow(clippy::too_many_arguments)]
pub fn dadapt_sgd_step(
    params: &mut [f32],
    grads: &[f32],
    s: &mut [f32],
    x0: &[f32],
    z: &mut [f32],
    state: &mut DadaptState,
    cfg: &DadaptSgdConfig,
) -> Result<(), Error> {
    dadapt_sgd_step_with(Width::NATIVE_TWO_PASS, params, grads, s, x0, z, state, cfg)
}

/// [`dadapt_sgd_step`] at an explicit lane width (tests, benches).
#[doc(hidden)]
#[allow(clippy::too_many_arguments)]
pub fn dadapt_sgd_step_with(
    width: Width,
    params: &mut [f32],
    grads: &[f32],
    s: &mut [f32],
    x0: &[f32],
    z: &mut [f32],
    state: &mut DadaptState,
    cfg: &DadaptSgdConfig,
) -> Result<(), Error> {
    let n = params.len();
    validate::len("grads", n, grads.len())?;
    validate::len("s", n, s.len())?;
    validate::len("x0", n, x0.len())?;
    validate::len("z", n, z.len())?;
    // ‖g₁‖ = 0: η_d is undefined and nothing moves (as the package).
    let Some(dlr) = sgd_checked(cfg, state)? else {
        return Ok(());
    };
    let scale = signed_scale(cfg.grad_scale, cfg.maximize)?;
    let decay = decay(dlr, cfg.weight_decay, cfg.weight_decouple, cfg.fixed_decay);
    let (gain, mu, rest) = (c(dlr), c(cfg.momentum), c(1.0 - cfg.momentum));
    let mut num = BlockedSum::resume(&state.numerator);
    let mut den = BlockedSum::resume(&state.denominator);
    with_width!(width, two_pass, |L, N| with_profile!(cfg.numerics, |P| {
        for_each_chunk_summed::<N, 3, 2, 2>(
            [params, s, z],
            [grads, x0],
            [&mut num, &mut den],
            #[inline(always)]
            |[p, sb, zb], [g, x0]| {
                // L2 enters g; the decoupled factor scales θ (used only in the last line).
                let (param, g) = decay.apply::<P, L, N>(L::load(p), L::load(g) * L::splat(scale));
                let s_old = L::load(sb);
                let num_terms = terms(&(g * s_old).to_array(), f64::from);
                let s_new = P::fma(L::splat(gain), g, s_old);
                let den_terms = terms(&s_new.to_array(), square);
                let z_new = L::load(x0) - s_new;
                P::fma(L::splat(rest), z_new, param * L::splat(mu)).store(p);
                s_new.store(sb);
                z_new.store(zb);
                [num_terms, den_terms]
            },
        )
    }));
    state.numerator = num.suspend();
    state.denominator = den.suspend();
    state.dlr = dlr;
    Ok(())
}

/// The checks of D-Adapt SGD and this step's `η_d` (`None` where `‖g₁‖ = 0`).
fn sgd_checked(cfg: &DadaptSgdConfig, state: &DadaptState) -> Result<Option<f64>, Error> {
    validate::numerics(cfg.numerics, &[])?;
    let lr = validate::non_negative("lr", cfg.lr)?;
    validate::unit_half_open("momentum", cfg.momentum)?;
    validate::non_negative("weight_decay", cfg.weight_decay)?;
    growth(cfg.growth_rate)?;
    validate::grad_scale(cfg.grad_scale)?;
    let g0 = validate::non_negative("g0_norm", state.g0_norm)?;
    Ok((g0 > 0.0).then(|| state.d * lr / g0))
}

/// Which D-Adaptation variant a [`dadapt_update_d`] call closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Dadapt {
    /// [`dadapt_adam_step`]: `numerator ← √β₂·numerator + (1 − √β₂)·η_dΣ`,
    /// `d̂ = numerator/((1 − √β₂)·Σ|s|)`.
    Adam = 0,
    /// [`dadapt_sgd_step`]: `numerator ← numerator + η_dΣ`, `d̂ = 2·numerator/√Σs²`.
    Sgd = 1,
}

/// D-Adaptation, once per step after every tensor's step: closes the sums and updates
/// `d ← max(d, min(d̂, growth_rate·d))` (`d̂` of `variant`; `lr = 0` or a zero denominator
/// leaves `d`). `lr`, `beta2` and `growth_rate` are the step's config values (`beta2` unused
/// for SGD).
///
/// # Errors
/// [`Error::InvalidHyperparameter`] (`lr`, `beta2`, `growth_rate`). `state` is unchanged on
/// `Err`.
pub fn dadapt_update_d(
    state: &mut DadaptState,
    variant: Dadapt,
    lr: f64,
    beta2: f64,
    growth_rate: f64,
) -> Result<(), Error> {
    let lr = validate::non_negative("lr", lr)?;
    let beta2 = validate::unit_half_open("beta2", beta2)?;
    let rate = growth(growth_rate)?;
    let num = BlockedSum::resume(&state.numerator).finish();
    let den = BlockedSum::resume(&state.denominator).finish();
    let mut next = DadaptState {
        numerator: SumCarry::default(),
        denominator: SumCarry::default(),
        k: state.k + 1,
        ..*state
    };
    let d_hat = match variant {
        Dadapt::Adam => {
            let b = libm::sqrt(beta2);
            if den == 0.0 {
                None
            } else {
                next.numerator_weighted =
                    state.numerator_weighted * b + (1.0 - b) * state.dlr * num;
                Some(next.numerator_weighted / ((1.0 - b) * den))
            }
        }
        Dadapt::Sgd => {
            next.numerator_weighted = state.numerator_weighted + state.dlr * num;
            (den > 0.0).then(|| 2.0 * next.numerator_weighted / libm::sqrt(den))
        }
    };
    if let Some(d_hat) = d_hat.filter(|_| lr > 0.0) {
        next.d = state.d.max(d_hat.min(state.d * rate));
    }
    *state = next;
    Ok(())
}
