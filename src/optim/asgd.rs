//! ASGD (`torch.optim.ASGD`): SGD with a decaying step size and a running average of the
//! iterates.

use crate::driver::for_each_chunk;
use crate::format::Elementwise;
use crate::lanes::Lanes;
use crate::numerics::{Flag, Numerics, Profile, c, specialize, with_profile};
use crate::optim::{mixed_step, signed_scale};
use crate::width::with_width;
use crate::{Error, Width, validate};

/// Hyperparameters of [`asgd_step`]. [`Default`] is `torch.optim.ASGD`'s.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct AsgdConfig {
    /// Learning rate `η`. Default `1e-2`; finite, ≥ 0.
    pub lr: f64,
    /// Decay term `λ`. Default `1e-4`; finite, ≥ 0.
    pub lambd: f64,
    /// Power `α` of the step-size decay. Default `0.75`; finite, ≥ 0.
    pub alpha: f64,
    /// Step `t₀` at which averaging starts. Default `1e6`; finite, ≥ 0.
    pub t0: f64,
    /// L2 weight decay. Default `0`; finite, ≥ 0.
    pub weight_decay: f64,
    /// Maximize the objective (negate the gradient first). Default `false`.
    pub maximize: bool,
    /// Multiplier `s` applied to the gradient first. Default `1` (exact); finite, ≥ 0.
    pub grad_scale: f32,
    /// Operation order. Default [`Numerics::Torch`].
    pub numerics: Numerics,
}

impl Default for AsgdConfig {
    fn default() -> Self {
        Self {
            lr: 1e-2,
            lambd: 1e-4,
            alpha: 0.75,
            t0: 1e6,
            weight_decay: 0.0,
            maximize: false,
            grad_scale: 1.0,
            numerics: Numerics::Torch,
        }
    }
}

/// ASGD's scalar state: torch's `state["eta"]` and `state["mu"]` (f32 0-dim tensors).
/// Owned by the caller; start from [`AsgdState::new`]. [`asgd_step`] updates it only when it
/// returns `Ok`.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct AsgdState {
    /// The step size used by the *next* step (computed with the learning rate of the
    /// previous one: torch's one-step lag).
    pub eta: f32,
    /// The averaging weight used by the next step.
    pub mu: f32,
}

impl AsgdState {
    /// The state torch creates at the first step: `eta = lr` (rounded to f32), `mu = 1`.
    pub fn new(lr: f64) -> Self {
        Self { eta: c(lr), mu: 1.0 }
    }
}

struct Coef {
    scale: f32,
    weight_decay: Option<f32>,
    decay: f32,
    neg_eta: f32,
    mu: Option<f32>,
    next: AsgdState,
    numerics: Numerics,
}

impl Coef {
    #[inline(always)]
    fn from_config(step: u32, state: &AsgdState, cfg: &AsgdConfig) -> Result<Self, Error> {
        validate::numerics(cfg.numerics, &[])?;
        let lr = validate::non_negative("lr", cfg.lr)?;
        let lambd = validate::non_negative("lambd", cfg.lambd)?;
        let alpha = validate::non_negative("alpha", cfg.alpha)?;
        let t0 = validate::non_negative("t0", cfg.t0)?;
        let weight_decay = validate::non_negative("weight_decay", cfg.weight_decay)?;
        let scale = signed_scale(cfg.grad_scale, cfg.maximize)?;
        validate::step(step)?;
        let t = f64::from(step);
        let eta = f64::from(state.eta);
        Ok(Self {
            scale,
            weight_decay: (weight_decay != 0.0).then(|| c(weight_decay)),
            decay: c(1.0 - lambd * eta),
            neg_eta: -state.eta,
            mu: (state.mu != 1.0).then_some(state.mu),
            next: AsgdState {
                eta: c(lr / libm::pow(1.0 + lambd * lr * t, alpha)),
                mu: c(1.0 / (t - t0).max(1.0)),
            },
            numerics: cfg.numerics,
        })
    }
    /// Every check of a call with these lengths (`params`, `ax`; `grads`).
    #[inline(always)]
    fn checked(
        [n, l1]: [usize; 2],
        [i0]: [usize; 1],
        state: &AsgdState,
        step: u32,
        cfg: &AsgdConfig,
    ) -> Result<Self, Error> {
        validate::len("grads", n, i0)?;
        validate::len("ax", n, l1)?;
        Self::from_config(step, state, cfg)
    }
}

impl Elementwise<2, 1> for Coef {
    fn used(&self) -> [bool; 2] {
        [true; 2]
    }

    #[inline(never)]
    fn run(&self, width: Width, [params, ax]: [&mut [f32]; 2], [grads]: [&[f32]; 1]) {
        let k = self;
        // The options as compile-time constants: no branch in the loop.
        let (decay, averaging) = (k.weight_decay.is_some(), k.mu.is_some());
        with_width!(width, |L, N| with_profile!(k.numerics, |P| specialize!(decay, |wd| {
            specialize!(averaging, |avg| for_each_chunk::<N, 2, 1>(
                [params, ax],
                [grads],
                #[inline(always)]
                |[p, a], [g]| asgd_lanes::<L, N, P>(k, (wd, avg), p, g, a),
            ))
        })));
    }
}

/// ASGD (Polyak & Juditsky 1992; `torch.optim.ASGD`): updates `params`, `ax` (the averaged
/// iterate, torch's `state["ax"]`) and `state` in place.
///
/// With `s = grad_scale`, `t = step` (1-based) and the state's `η_t`, `μ_t`, for every index `i`:
/// ```text
/// g ← s·grads[i] (+ wd·θ[i])             (−s·grads[i] with maximize)
/// θ ← θ·(1 − λη_t)
/// θ ← θ − η_t·g
/// ax ← ax + (θ − ax)·μ_t    if μ_t ≠ 1,   else ax ← θ
/// ```
/// then `η_{t+1} = η/(1 + ληt)^α` and `μ_{t+1} = 1/max(1, t − t₀)` are stored in `state`
/// (rounded to f32). The step size used at step `t` was computed with the learning rate of step
/// `t − 1`, as in torch. [`Numerics::Torch`]: `θ = fma(c(−η_t), g, θ·c(1 − λη_t))`.
///
/// # Errors
/// [`Error::LengthMismatch`], [`Error::InvalidHyperparameter`], [`Error::ZeroStep`].
/// **Nothing is written when an error is returned**, `state` included.
pub fn asgd_step(
    params: &mut [f32],
    grads: &[f32],
    ax: &mut [f32],
    state: &mut AsgdState,
    step: u32,
    cfg: &AsgdConfig,
) -> Result<(), Error> {
    asgd_step_with(Width::NATIVE, params, grads, ax, state, step, cfg)
}

/// [`asgd_step`] at an explicit lane width (for tests and benches).
#[doc(hidden)]
pub fn asgd_step_with(
    width: Width,
    params: &mut [f32],
    grads: &[f32],
    ax: &mut [f32],
    state: &mut AsgdState,
    step: u32,
    cfg: &AsgdConfig,
) -> Result<(), Error> {
    let k = Coef::checked([params.len(), ax.len()], [grads.len()], state, step, cfg)?;
    k.run(width, [params, ax], [grads]);
    *state = k.next;
    Ok(())
}

mixed_step! {
    /// [`asgd_step`] in mixed storage formats ([`crate::format`]). `state` is updated as [`asgd_step`] does.
    ///
    /// # Errors
    /// As [`asgd_step`], and the format errors of [`crate::adam_step_mixed`]. **Nothing is written
    /// when an error is returned.**
    asgd_step_mixed, asgd_step_mixed_with,
    (params, grads, ax; state: &mut AsgdState, step: u32, cfg: &AsgdConfig),
    checked: |o, i| Coef::checked(o, i, state, step, cfg),
    then: |k| *state = k.next,
}

#[inline(always)]
fn asgd_lanes<L: Lanes<N>, const N: usize, P: Profile>(
    k: &Coef,
    (wd, avg): (impl Flag, impl Flag),
    p: &mut [f32; N],
    g: &[f32; N],
    ax: &mut [f32; N],
) {
    let param = L::load(p);
    let mut g = L::load(g) * L::splat(k.scale);
    if wd.on() {
        g = P::fma(L::splat(k.weight_decay.unwrap_or(0.0)), param, g);
    }
    let new = P::fma(L::splat(k.neg_eta), g, param * L::splat(k.decay));
    new.store(p);
    if avg.on() {
        let a = L::load(ax);
        (a + (new - a) * L::splat(k.mu.unwrap_or(1.0))).store(ax);
    } else {
        new.store(ax);
    }
}
