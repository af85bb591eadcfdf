//! Prodigy (Mishchenko & Defazio 2024, "Prodigy: An Expeditiously Adaptive Parameter-Free
//! Learner"), as `prodigyopt.Prodigy` 1.1 computes it.

use crate::driver::{for_each_chunk, for_each_chunk_summed};
use crate::lanes::Lanes;
use crate::numerics::{Numerics, Profile, bias_corrections, c, with_profile};
use crate::optim::signed;
use crate::reduce::{BlockedSum, SumCarry, terms};
use crate::width::with_width;
use crate::{Error, Width, validate};

/// Hyperparameters of Prodigy. [`Default`] is `prodigyopt.Prodigy`'s.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct ProdigyConfig {
    /// The multiplier of the estimated step size (leave it at 1). Default `1`; finite, ≥ 0.
    pub lr: f64,
    /// `β₁`. Default `0.9`; finite, in `[0, 1)`.
    pub beta1: f64,
    /// `β₂`. Default `0.999`; finite, in `[0, 1)`.
    pub beta2: f64,
    /// `β₃`, the decay of `s` and of the numerator. The package's default is `√β₂`: this
    /// default is `√0.999`; set it again when you change `β₂`. Finite, in `[0, 1)`.
    pub beta3: f64,
    /// `ε`, added to `√v` as `d·ε`. Default `1e-8`; finite, ≥ 0.
    pub eps: f64,
    /// Weight decay `λ`. Default `0`; finite, ≥ 0.
    pub weight_decay: f64,
    /// Decoupled decay `θ ← θ − η_d·λ·θ` (else L2 `g ← g + λθ`). Default `true`.
    pub decouple: bool,
    /// Adam's bias correction in the step size. Default `false`.
    pub use_bias_correction: bool,
    /// `s` grows with `d` instead of `d·η_d` (for runs that warm up). Default `false`.
    pub safeguard_warmup: bool,
    /// The initial estimate `d₀`. Default `1e-6`; finite, > 0.
    pub d0: f64,
    /// The multiplier of the estimate. Default `1`; finite, ≥ 0.
    pub d_coef: f64,
    /// The largest growth of `d` per step (`∞`: none). Default `∞`; > 0 (∞ allowed).
    pub growth_rate: f64,
    /// Maximize the objective (negate the gradient first). Default `false`.
    pub maximize: bool,
    /// Multiplier `s` applied to the gradient first. Default `1` (exact); finite, ≥ 0.
    pub grad_scale: f32,
    /// Operation order. Default [`Numerics::Torch`] (the package's).
    pub numerics: Numerics,
}

impl Default for ProdigyConfig {
    fn default() -> Self {
        Self {
            lr: 1.0,
            beta1: 0.9,
            beta2: 0.999,
            beta3: libm::sqrt(0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            decouple: true,
            use_bias_correction: false,
            safeguard_warmup: false,
            d0: 1e-6,
            d_coef: 1.0,
            growth_rate: f64::INFINITY,
            maximize: false,
            grad_scale: 1.0,
            numerics: Numerics::Torch,
        }
    }
}

/// Prodigy's scalar state, caller-owned: one for the whole model (every tensor of a step
/// feeds its sums). Start from [`ProdigyState::new`] with the config's `d₀`.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct ProdigyState {
    /// The step-size estimate `d`.
    pub d: f64,
    /// The largest estimate so far.
    pub d_max: f64,
    /// The running numerator `Σ β₃^(…) (d/d₀)·η_d·⟨g, θ₀ − θ⟩`.
    pub d_numerator: f64,
    /// The last denominator `‖s‖₁`.
    pub d_denom: f64,
    /// The last raw estimate `d̂`.
    pub d_hat: f64,
    /// Steps taken.
    pub k: u64,
    /// The step size `η_d` of the step in progress (set by the accumulate pass, used by apply).
    pub dlr: f64,
    /// `Σ ⟨g, θ₀ − θ⟩` of the step in progress.
    pub dot: SumCarry,
    /// `Σ |s|` of the step in progress.
    pub l1: SumCarry,
}

impl ProdigyState {
    /// The state before the first step, with `d = d_max = d₀`.
    pub fn new(d0: f64) -> Self {
        Self {
            d: d0,
            d_max: d0,
            d_numerator: 0.0,
            d_denom: 0.0,
            d_hat: 0.0,
            k: 0,
            dlr: 0.0,
            dot: SumCarry::default(),
            l1: SumCarry::default(),
        }
    }
}

/// The checked hyperparameters and this step's coefficients.
struct Coef {
    scale: f32,
    l2: Option<f32>,
    beta1: f32,
    m_gain: f32,
    beta2: f32,
    v_gain: f32,
    beta3: f32,
    s_gain: f32,
    dlr: f64,
}

/// Every check of the hyperparameters (each of the three calls makes them all, so that none
/// writes on a config the others would refuse).
fn validated(cfg: &ProdigyConfig) -> Result<(), Error> {
    validate::numerics(cfg.numerics, &[])?;
    validate::non_negative("lr", cfg.lr)?;
    validate::unit_half_open("beta1", cfg.beta1)?;
    validate::unit_half_open("beta2", cfg.beta2)?;
    validate::unit_half_open("beta3", cfg.beta3)?;
    validate::non_negative("eps", cfg.eps)?;
    validate::non_negative("weight_decay", cfg.weight_decay)?;
    let d0 = validate::non_negative("d0", cfg.d0)?;
    if d0 == 0.0 {
        return Err(validate::out_of_range("d0", d0));
    }
    validate::non_negative("d_coef", cfg.d_coef)?;
    if cfg.growth_rate.is_nan() || cfg.growth_rate <= 0.0 {
        return Err(validate::out_of_range("growth_rate", cfg.growth_rate));
    }
    validate::grad_scale(cfg.grad_scale)?;
    Ok(())
}

/// This step's coefficients (pass 1) from a config [`validated`] accepted.
fn coef(cfg: &ProdigyConfig, state: &ProdigyState) -> Coef {
    let (lr, beta1, beta2, beta3, wd, d0) =
        (cfg.lr, cfg.beta1, cfg.beta2, cfg.beta3, cfg.weight_decay, cfg.d0);
    let d = state.d;
    // The step number as a u32 for the power (β^t is 0 long before 2³² steps).
    let t = u32::try_from(state.k + 1).unwrap_or(u32::MAX);
    let bc = if cfg.use_bias_correction {
        let (bc1, bc2) = bias_corrections(beta1, beta2, t);
        libm::sqrt(bc2) / bc1
    } else {
        1.0
    };
    let dlr = d * lr * bc;
    let s_gain = if cfg.safeguard_warmup { d / d0 * d } else { d / d0 * dlr };
    Coef {
        scale: signed(cfg.grad_scale, cfg.maximize),
        l2: (wd != 0.0 && !cfg.decouple).then(|| c(wd)),
        beta1: c(beta1),
        m_gain: c(d * (1.0 - beta1)),
        beta2: c(beta2),
        v_gain: c(d * d * (1.0 - beta2)),
        beta3: c(beta3),
        s_gain: c(s_gain),
        dlr,
    }
}

/// Prodigy, pass 1 on one tensor: updates `exp_avg` (`m`), `exp_avg_sq` (`v`) and `s` in
/// place and adds this tensor's `⟨g, θ₀ − θ⟩` and `‖s‖₁` to the sums in `state` (call it on
/// every tensor of the model, in the same order every step, then [`prodigy_update_d`] once,
/// then [`prodigy_apply`] on every tensor). `p0` holds the initial parameters (a copy made
/// before the first step). With `d` and `k` from `state`, `η_d = d·η·bc` (`bc` Adam's bias
/// correction `√(1 − β₂ᵗ)/(1 − β₁ᵗ)` if enabled, else 1), `g ← ±s·grads[i]` (`+ λθ` for L2):
/// ```text
/// Σ⟨g, θ₀ − θ⟩ += g·(θ₀ − θ)                 (the product rounded to f32, summed in f64)
/// m ← β₁·m + d(1 − β₁)·g
/// v ← β₂·v + d²(1 − β₂)·g²
/// s ← β₃·s + (d/d₀)·η_d·g                   (safeguard_warmup: (d/d₀)·d)
/// Σ|s| += |s|
/// ```
/// [`Numerics::Torch`]: `m = fma(c(d(1−β₁)), g, m·c(β₁))`, `v = fma(c(d²(1−β₂))·g, g, v·c(β₂))`,
/// `s = fma(c(·), g, s·c(β₃))`, as the package's `mul_().add_(alpha=)` and `addcmul_`.
///
/// # Errors
/// [`Error::LengthMismatch`], [`Error::InvalidHyperparameter`]. **Nothing is written, and
/// `state` is unchanged, when an error is returned.**
#[allow(clippy::too_many_arguments)]
pub fn prodigy_accumulate(
    params: &[f32],
    grads: &[f32],
    p0: &[f32],
    s: &mut [f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    state: &mut ProdigyState,
    cfg: &ProdigyConfig,
) -> Result<(), Error> {
    prodigy_accumulate_with(
        Width::NATIVE_TWO_PASS,
        params,
        grads,
        p0,
        s,
        exp_avg,
        exp_avg_sq,
        state,
        cfg,
    )
}

/// [`prodigy_accumulate`] at an explicit lane width (tests, benches).
#[doc(hidden)]
#[allow(clippy::too_many_arguments)]
pub fn prodigy_accumulate_with(
    width: Width,
    params: &[f32],
    grads: &[f32],
    p0: &[f32],
    s: &mut [f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    state: &mut ProdigyState,
    cfg: &ProdigyConfig,
) -> Result<(), Error> {
    let n = params.len();
    validate::len("grads", n, grads.len())?;
    validate::len("p0", n, p0.len())?;
    validate::len("s", n, s.len())?;
    validate::len("exp_avg", n, exp_avg.len())?;
    validate::len("exp_avg_sq", n, exp_avg_sq.len())?;
    validated(cfg)?;
    let k = coef(cfg, state);
    let (mut dot, mut l1) = (BlockedSum::resume(&state.dot), BlockedSum::resume(&state.l1));
    with_width!(width, two_pass, |L, N| with_profile!(cfg.numerics, |P| {
        for_each_chunk_summed::<N, 3, 3, 2>(
            [s, exp_avg, exp_avg_sq],
            [params, grads, p0],
            [&mut dot, &mut l1],
            #[inline(always)]
            |[s, m, v], [p, g, p0]| {
                let param = L::load(p);
                let mut g = L::load(g) * L::splat(k.scale);
                if let Some(wd) = k.l2 {
                    g = P::fma(L::splat(wd), param, g);
                }
                let dot_terms = terms(&(g * (L::load(p0) - param)).to_array(), f64::from);
                P::fma(L::splat(k.m_gain), g, L::load(m) * L::splat(k.beta1)).store(m);
                P::fma(L::splat(k.v_gain) * g, g, L::load(v) * L::splat(k.beta2)).store(v);
                let s_new = P::fma(L::splat(k.s_gain), g, L::load(s) * L::splat(k.beta3));
                s_new.store(s);
                [dot_terms, terms(&s_new.abs().to_array(), f64::from)]
            },
        )
    }));
    state.dot = dot.suspend();
    state.l1 = l1.suspend();
    state.dlr = k.dlr;
    Ok(())
}

/// Prodigy, between the passes, once per step: closes the two sums and updates the estimate.
/// ```text
/// numerator ← β₃·numerator + (d/d₀)·η_d·Σ⟨g, θ₀ − θ⟩
/// denominator = Σ|s|;   d̂ = d_coef·numerator/denominator
/// d ← max(d, d̂) if d = d₀;   d_max ← max(d_max, d̂);   d ← min(d_max, growth_rate·d)
/// ```
/// A zero denominator (every `s` 0: no gradient yet) leaves `d` as it is.
///
/// # Errors
/// [`Error::InvalidHyperparameter`] as [`prodigy_accumulate`]. `state` is unchanged on `Err`.
pub fn prodigy_update_d(state: &mut ProdigyState, cfg: &ProdigyConfig) -> Result<(), Error> {
    validated(cfg)?;
    let dot = BlockedSum::resume(&state.dot).finish();
    let l1 = BlockedSum::resume(&state.l1).finish();
    let (d, d0) = (state.d, cfg.d0);
    let numerator = state.d_numerator * cfg.beta3 + d / d0 * state.dlr * dot;
    let mut next = ProdigyState {
        d_numerator: numerator,
        d_denom: l1,
        dot: SumCarry::default(),
        l1: SumCarry::default(),
        ..*state
    };
    if l1 > 0.0 {
        let d_hat = cfg.d_coef * numerator / l1;
        next.d_hat = d_hat;
        let mut d_new = if d == d0 { d.max(d_hat) } else { d };
        next.d_max = state.d_max.max(d_hat);
        d_new = next.d_max.min(d_new * cfg.growth_rate);
        next.d = d_new;
    }
    next.k = state.k + 1;
    *state = next;
    Ok(())
}

/// Prodigy, pass 2 on one tensor: with the new `d` but the step's `η_d` (as the package):
/// ```text
/// θ ← θ − η_d·λ·θ                           (decoupled decay)
/// θ ← θ − η_d·m/(√v + d·ε)
/// ```
/// [`Numerics::Torch`]: `θ = fma(c(−η_dλ), θ, θ)`, `θ + (c(−η_d)·m)/(√v + c(dε))`.
///
/// # Errors
/// [`Error::LengthMismatch`], [`Error::InvalidHyperparameter`]. **Nothing is written when an
/// error is returned.**
pub fn prodigy_apply(
    params: &mut [f32],
    exp_avg: &[f32],
    exp_avg_sq: &[f32],
    state: &ProdigyState,
    cfg: &ProdigyConfig,
) -> Result<(), Error> {
    prodigy_apply_with(Width::NATIVE, params, exp_avg, exp_avg_sq, state, cfg)
}

/// [`prodigy_apply`] at an explicit lane width (tests, benches).
#[doc(hidden)]
pub fn prodigy_apply_with(
    width: Width,
    params: &mut [f32],
    exp_avg: &[f32],
    exp_avg_sq: &[f32],
    state: &ProdigyState,
    cfg: &ProdigyConfig,
) -> Result<(), Error> {
    let n = params.len();
    validate::len("exp_avg", n, exp_avg.len())?;
    validate::len("exp_avg_sq", n, exp_avg_sq.len())?;
    validated(cfg)?;
    let dlr = state.dlr;
    let decay = (cfg.weight_decay != 0.0 && cfg.decouple).then(|| c(-cfg.weight_decay * dlr));
    let (neg_dlr, eps) = (c(-dlr), c(state.d * cfg.eps));
    with_width!(width, |L, N| with_profile!(cfg.numerics, |P| {
        for_each_chunk::<N, 1, 2>(
            [params],
            [exp_avg, exp_avg_sq],
            #[inline(always)]
            |[p], [m, v]| {
                let mut param = L::load(p);
                if let Some(k) = decay {
                    param = P::fma(L::splat(k), param, param);
                }
                let d = L::load(v).sqrt() + L::splat(eps);
                (param + (L::splat(neg_dlr) * L::load(m)) / d).store(p);
            },
        )
    }));
    Ok(())
}
