//! The source notes' momentum forms: classic momentum with the learning rate inside the
//! velocity, and Nesterov momentum at the look-ahead point.

use crate::driver::for_each_chunk;
use crate::format::Elementwise;
use crate::lanes::Lanes;
use crate::numerics::{Flag, Numerics, Profile, c, specialize, with_profile};
use crate::optim::mixed_step;
use crate::width::with_width;
use crate::{Error, Width, validate};

/// Hyperparameters of [`momentum_step`] and [`nesterov_lookahead`]. These forms have no
/// PyTorch counterpart, so the default profile is [`Numerics::Portable`].
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct MomentumConfig {
    /// Learning rate `η` (inside the velocity). Default `1e-2`; finite, ≥ 0.
    pub lr: f64,
    /// Momentum `α`. Default `0.9`; finite, in `[0, 1]`.
    pub momentum: f64,
    /// L2 weight decay `λ` (added to the gradient). Default `0`; finite, ≥ 0.
    pub weight_decay: f64,
    /// Multiplier `s` applied to the gradient first. Default `1` (exact); finite, ≥ 0.
    pub grad_scale: f32,
    /// Operation order. Default [`Numerics::Portable`]; `Torch` fuses `α·v + η·g` as
    /// `fma(c(η), g, v·c(α))` and `θ − α·v` as `fma(c(−α), v, θ)`.
    pub numerics: Numerics,
}

impl Default for MomentumConfig {
    fn default() -> Self {
        Self {
            lr: 1e-2,
            momentum: 0.9,
            weight_decay: 0.0,
            grad_scale: 1.0,
            numerics: Numerics::Portable,
        }
    }
}

struct Coef {
    scale: f32,
    weight_decay: Option<f32>,
    lr: f32,
    momentum: f32,
    neg_momentum: f32,
    numerics: Numerics,
}

impl Coef {
    #[inline(always)]
    fn from_config(cfg: &MomentumConfig) -> Result<Self, Error> {
        validate::numerics(cfg.numerics, &[])?;
        let lr = validate::non_negative("lr", cfg.lr)?;
        let momentum = validate::unit_closed("momentum", cfg.momentum)?;
        let weight_decay = validate::non_negative("weight_decay", cfg.weight_decay)?;
        let scale = validate::grad_scale(cfg.grad_scale)?;
        Ok(Self {
            scale,
            weight_decay: (weight_decay != 0.0).then(|| c(weight_decay)),
            lr: c(lr),
            momentum: c(momentum),
            neg_momentum: c(-momentum),
            numerics: cfg.numerics,
        })
    }
    /// Every check of a call with these lengths (`params`, `velocity`; `grads`).
    #[inline(always)]
    fn checked([n, l1]: [usize; 2], [i0]: [usize; 1], cfg: &MomentumConfig) -> Result<Self, Error> {
        validate::len("grads", n, i0)?;
        validate::len("velocity", n, l1)?;
        Self::from_config(cfg)
    }
}

impl Elementwise<2, 1> for Coef {
    fn used(&self) -> [bool; 2] {
        [true; 2]
    }

    #[inline(never)]
    fn run(&self, width: Width, [params, velocity]: [&mut [f32]; 2], [grads]: [&[f32]; 1]) {
        let k = self;
        // Weight decay as a compile-time constant: no branch in the loop.
        with_width!(width, |L, N| with_profile!(k.numerics, |P| specialize!(
            k.weight_decay.is_some(),
            |wd| for_each_chunk::<N, 2, 1>(
                [params, velocity],
                [grads],
                #[inline(always)]
                |[p, v], [g]| momentum_lanes::<L, N, P>(k, wd, p, g, v),
            )
        )));
    }
}

/// Classic momentum (Polyak 1964; the source notes' form, learning rate inside the velocity):
/// updates `params` and `velocity` in place.
///
/// For every index `i`, with `s = grad_scale`:
/// ```text
/// g ← s·grads[i] + λ·θ[i]
/// v[i] ← α·v[i] + η·g
/// θ[i] ← θ[i] − v[i]
/// ```
/// Unlike `torch.optim.SGD`, changing `η` between steps rescales only new contributions, and
/// the velocity starts from whatever the caller put in it (zeros for a fresh start).
///
/// **Look-ahead Nesterov** (Sutskever et al. 2013; the notes' `v ← α·v + η·∇J(θ − α·v)`,
/// `θ ← θ − v`) is this same step with `grads` evaluated at the look-ahead point that
/// [`nesterov_lookahead`] writes.
///
/// # Errors
/// [`Error::LengthMismatch`] if `grads` or `velocity` differ in length from `params`;
/// [`Error::InvalidHyperparameter`] if a field of `cfg` is NaN, infinite or out of range.
/// **Nothing is written when an error is returned.**
///
/// # Example
/// ```
/// let (mut p, g, mut v) = ([1.0f32; 2], [1.0f32; 2], [0.0f32; 2]);
/// let cfg = optkern::MomentumConfig { lr: 0.5, momentum: 0.5, ..Default::default() };
/// optkern::momentum_step(&mut p, &g, &mut v, &cfg)?; // v = 0.5, θ = 0.5
/// optkern::momentum_step(&mut p, &g, &mut v, &cfg)?; // v = 0.75, θ = -0.25
/// assert_eq!(p, [-0.25; 2]);
/// # Ok::<(), optkern::Error>(())
/// ```
pub fn momentum_step(
    params: &mut [f32],
    grads: &[f32],
    velocity: &mut [f32],
    cfg: &MomentumConfig,
) -> Result<(), Error> {
    momentum_step_with(Width::NATIVE, params, grads, velocity, cfg)
}

/// [`momentum_step`] at an explicit lane width (for tests and benches).
#[doc(hidden)]
pub fn momentum_step_with(
    width: Width,
    params: &mut [f32],
    grads: &[f32],
    velocity: &mut [f32],
    cfg: &MomentumConfig,
) -> Result<(), Error> {
    let k = Coef::checked([params.len(), velocity.len()], [grads.len()], cfg)?;
    k.run(width, [params, velocity], [grads]);
    Ok(())
}

mixed_step! {
    /// [`momentum_step`] in mixed storage formats ([`crate::format`]).
    ///
    /// # Errors
    /// As [`momentum_step`], and the format errors of [`crate::adam_step_mixed`]. **Nothing is written
    /// when an error is returned.**
    momentum_step_mixed, momentum_step_mixed_with,
    (params, grads, velocity; cfg: &MomentumConfig),
    checked: |o, i| Coef::checked(o, i, cfg),
}

#[inline(always)]
fn momentum_lanes<L: Lanes<N>, const N: usize, P: Profile>(
    k: &Coef,
    wd: impl Flag,
    p: &mut [f32; N],
    g: &[f32; N],
    v: &mut [f32; N],
) {
    let param = L::load(p);
    let mut g = L::load(g) * L::splat(k.scale);
    if wd.on() {
        g = P::fma(L::splat(k.weight_decay.unwrap_or(0.0)), param, g);
    }
    let vel = P::fma(L::splat(k.lr), g, L::load(v) * L::splat(k.momentum));
    vel.store(v);
    (param - vel).store(p);
}

/// The look-ahead point of Nesterov momentum (the source notes' form): writes
/// `lookahead[i] = θ[i] − α·v[i]` so the caller can evaluate the gradient there, then
/// passes that gradient to [`momentum_step`] (same `cfg`):
/// ```text
/// θ̃ = θ − α·v;   v ← α·v + η·∇J(θ̃);   θ ← θ − v
/// ```
/// Only `cfg.momentum` and `cfg.numerics` are used here, but the whole config is validated
/// so the pair of calls fails the same way.
///
/// # Errors
/// [`Error::LengthMismatch`] if `params` or `velocity` differ in length from `lookahead`;
/// [`Error::InvalidHyperparameter`] as [`momentum_step`]. **Nothing is written when an error
/// is returned.**
pub fn nesterov_lookahead(
    lookahead: &mut [f32],
    params: &[f32],
    velocity: &[f32],
    cfg: &MomentumConfig,
) -> Result<(), Error> {
    nesterov_lookahead_with(Width::NATIVE, lookahead, params, velocity, cfg)
}

/// [`nesterov_lookahead`] at an explicit lane width (for tests and benches).
#[doc(hidden)]
pub fn nesterov_lookahead_with(
    width: Width,
    lookahead: &mut [f32],
    params: &[f32],
    velocity: &[f32],
    cfg: &MomentumConfig,
) -> Result<(), Error> {
    let n = lookahead.len();
    validate::len("params", n, params.len())?;
    validate::len("velocity", n, velocity.len())?;
    let k = Coef::from_config(cfg)?;
    with_width!(width, |L, N| with_profile!(cfg.numerics, |P| {
        for_each_chunk::<N, 1, 2>(
            [lookahead],
            [params, velocity],
            #[inline(always)]
            |[out], [p, v]| P::fma(L::splat(k.neg_momentum), L::load(v), L::load(p)).store(out),
        )
    }));
    Ok(())
}
