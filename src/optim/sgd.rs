//! SGD with momentum, dampening, Nesterov, weight decay and maximize (`torch.optim.SGD`).

use crate::driver::for_each_chunk;
use crate::format::Elementwise;
use crate::format::fused::{Call, Group16, Read16};
use crate::lanes::Lanes;
use crate::numerics::{Flag, Numerics, Off, Profile, c, specialize, with_profile};
use crate::optim::{mixed_step, signed_scale};
use crate::width::with_width;
use crate::{Error, Width, validate};

/// Hyperparameters of [`sgd_step`]. Defaults are `torch.optim.SGD`'s.
///
/// Hyperparameters are f64 because PyTorch computes its scalar coefficients (`-lr`,
/// `1 - dampening`) from Python floats and rounds them to f32 once; storing them as f32 would
/// round twice and lose bit parity.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct SgdConfig {
    /// Learning rate `η`. Default `1e-3`; finite, ≥ 0.
    pub lr: f64,
    /// Momentum factor `μ`. Default `0` (no momentum buffer); finite, ≥ 0.
    pub momentum: f64,
    /// Dampening `τ`. Default `0`; finite, in `[0, 1]`.
    pub dampening: f64,
    /// L2 weight decay `λ` (added to the gradient). Default `0`; finite, ≥ 0.
    pub weight_decay: f64,
    /// Nesterov momentum (PyTorch's form, on the current gradient). Default `false`;
    /// requires `momentum > 0` and `dampening == 0`.
    pub nesterov: bool,
    /// Maximize the objective (negate the gradient first). Default `false`.
    pub maximize: bool,
    /// Multiplier `s` applied to the gradient first (loss-scale unscaling, norm clipping).
    /// Default `1` (exact: `g · 1 = g`); finite, ≥ 0.
    pub grad_scale: f32,
    /// Operation order. Default [`Numerics::Torch`].
    pub numerics: Numerics,
}

impl Default for SgdConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
            maximize: false,
            grad_scale: 1.0,
            numerics: Numerics::Torch,
        }
    }
}

/// Per-call coefficients, computed once in f64 and rounded once.
pub(crate) struct Coef {
    scale: f32,
    weight_decay: Option<f32>,
    momentum: Option<f32>,
    one_minus_dampening: f32,
    first_step: bool,
    nesterov: bool,
    neg_lr: f32,
    numerics: Numerics,
}

impl Coef {
    #[inline(always)]
    pub(crate) fn from_config(step: u32, cfg: &SgdConfig) -> Result<Self, Error> {
        validate::numerics(cfg.numerics, &[Numerics::Bitsandbytes])?;
        // bitsandbytes' SGD silently ignores dampening and Nesterov: refuse them instead.
        if cfg.numerics == Numerics::Bitsandbytes && (cfg.nesterov || cfg.dampening != 0.0) {
            return Err(validate::conflict("numerics", 2.0));
        }
        let lr = validate::non_negative("lr", cfg.lr)?;
        let momentum = validate::non_negative("momentum", cfg.momentum)?;
        let dampening = validate::unit_closed("dampening", cfg.dampening)?;
        let weight_decay = validate::non_negative("weight_decay", cfg.weight_decay)?;
        let scale = signed_scale(cfg.grad_scale, cfg.maximize)?;
        if cfg.nesterov && momentum == 0.0 {
            return Err(validate::conflict("nesterov", momentum));
        }
        if cfg.nesterov && dampening != 0.0 {
            return Err(validate::conflict("nesterov", dampening));
        }
        validate::step(step)?;
        Ok(Self {
            scale,
            // bitsandbytes adds λ·θ even when λ = 0 (a −0 gradient becomes +0).
            weight_decay: (weight_decay != 0.0 || cfg.numerics == Numerics::Bitsandbytes)
                .then(|| c(weight_decay)),
            momentum: (momentum != 0.0).then(|| c(momentum)),
            one_minus_dampening: c(1.0 - dampening),
            first_step: step == 1,
            nesterov: cfg.nesterov,
            neg_lr: c(-lr),
            numerics: cfg.numerics,
        })
    }

    /// Every check of a call with these lengths (`params`, `momentum_buffer`; `grads`).
    #[inline(always)]
    fn checked(
        [n, b]: [usize; 2],
        [g]: [usize; 1],
        step: u32,
        cfg: &SgdConfig,
    ) -> Result<Self, Error> {
        validate::len("grads", n, g)?;
        validate::optional_len("momentum_buffer", cfg.momentum != 0.0, n, b)?;
        Self::from_config(step, cfg)
    }
}

impl Elementwise<2, 1> for Coef {
    fn used(&self) -> [bool; 2] {
        [true, self.momentum.is_some()]
    }

    #[inline(never)]
    fn run(&self, width: Width, [params, momentum_buffer]: [&mut [f32]; 2], [grads]: [&[f32]; 1]) {
        let k = self;
        // The options as compile-time constants: no branch in the loop (4 Ki elements: 19–22 %,
        // README "Build cost"). Without momentum the first-step and Nesterov options are unused.
        let (wd, first, nesterov) = (k.weight_decay.is_some(), k.first_step, k.nesterov);
        with_width!(width, |L, N| with_profile!(k.numerics, |P| specialize!(wd, |wd| {
            if k.momentum.is_some() {
                specialize!(first, |first| specialize!(nesterov, |nest| for_each_chunk::<N, 2, 1>(
                    [params, momentum_buffer],
                    [grads],
                    #[inline(always)]
                    |[p, b], [g]| sgd_lanes::<L, N, P>(k, (wd, first, nest), p, g, Some(b)),
                )))
            } else {
                for_each_chunk::<N, 1, 1>(
                    [params],
                    [grads],
                    #[inline(always)]
                    |[p], [g]| sgd_lanes::<L, N, P>(k, (wd, Off, Off), p, g, None),
                )
            }
        })));
    }

    const FUSED: bool = true;

    /// The fused loops ([`crate::format::fused`]) of heavy-ball momentum after its first step
    /// (no Nesterov), every profile, weight decay a run-time flag (a predicted branch per
    /// group, for half the loops); the other forms (and a first step, which copies the
    /// gradient into the buffer) are staged.
    fn run_fused<P: Group16, S: Group16 + Default, G: Read16>(
        &self,
        width: Width,
        call: Call<P, S, G, 2, 1>,
    ) -> bool {
        let k = self;
        if k.first_step || k.nesterov {
            return false;
        }
        // Without momentum no state is used: staged (it has no buffer to convert).
        let Some(bufs) = call.states::<1>() else { return false };
        let wd = k.weight_decay.is_some();
        with_width!(width, |L, N| with_profile!(k.numerics, |Pf| {
            bufs.for_each_group::<N>(|p, [b], [g]| {
                sgd_lanes::<L, N, Pf>(k, (wd, Off, Off), p, g, Some(b))
            })
        }));
        true
    }
}

/// SGD (`torch.optim.SGD`): updates `params` and, with momentum, `momentum_buffer`, in place.
///
/// For every index `i`, with `s = grad_scale` and `t = step` (1-based):
/// ```text
/// g ← s·grads[i]                       (−s·grads[i] with maximize)
/// g ← g + λ·p[i]                       if weight_decay λ ≠ 0
/// if momentum μ ≠ 0:
///     b[i] ← g                          if t = 1 (torch initialises the buffer to g: no dampening)
///     b[i] ← μ·b[i] + (1 − τ)·g         otherwise
///     g ← g + μ·b[i]  (nesterov)   or   g ← b[i]
/// p[i] ← p[i] − η·g
/// ```
/// `momentum_buffer` is `torch.optim.SGD`'s `state["momentum_buffer"]`. Passing `step = 1`
/// is how the caller says "first step": the buffer is then overwritten with `g` whatever it
/// held, as torch does when the state is empty. With `momentum = 0` the buffer is not used and
/// may be empty.
///
/// In [`Numerics::Torch`] the operation order is PyTorch's: `g = fma(c(λ), p, g)`,
/// `b = fma(c(1−τ), g, b·c(μ))`, `g = fma(c(μ), b, g)`, `p = fma(c(−η), g, p)`.
///
/// # Errors
/// [`Error::LengthMismatch`] if `grads` or (with momentum) `momentum_buffer` differ in
/// length from `params`; [`Error::InvalidHyperparameter`] if a field of `cfg` is NaN,
/// infinite or out of range, or `nesterov` is set without momentum or with dampening;
/// [`Error::ZeroStep`] if `step == 0`. **Nothing is written when an error is returned.**
/// NaN and infinities in the data propagate.
///
/// # Example
/// ```
/// let (mut p, g, mut b) = ([1.0f32; 3], [0.5f32; 3], [0.0f32; 3]);
/// let cfg = optkern::SgdConfig { lr: 0.1, momentum: 0.9, ..Default::default() };
/// optkern::sgd_step(&mut p, &g, &mut b, 1, &cfg)?;
/// assert_eq!(p, [0.95; 3]);
/// # Ok::<(), optkern::Error>(())
/// ```
pub fn sgd_step(
    params: &mut [f32],
    grads: &[f32],
    momentum_buffer: &mut [f32],
    step: u32,
    cfg: &SgdConfig,
) -> Result<(), Error> {
    sgd_step_with(Width::NATIVE, params, grads, momentum_buffer, step, cfg)
}

/// [`sgd_step`] at an explicit lane width (for tests and benches).
#[doc(hidden)]
pub fn sgd_step_with(
    width: Width,
    params: &mut [f32],
    grads: &[f32],
    momentum_buffer: &mut [f32],
    step: u32,
    cfg: &SgdConfig,
) -> Result<(), Error> {
    let k = Coef::checked([params.len(), momentum_buffer.len()], [grads.len()], step, cfg)?;
    k.run(width, [params, momentum_buffer], [grads]);
    Ok(())
}

mixed_step! {
    /// [`sgd_step`] in mixed storage formats ([`crate::format`]); `momentum_buffer` may be
    /// `State::Unused` without momentum.
    ///
    /// # Errors
    /// As [`sgd_step`], and the format errors of [`crate::adam_step_mixed`]. **Nothing is
    /// written when an error is returned.**
    sgd_step_mixed, sgd_step_mixed_with,
    (params, grads, momentum_buffer; step: u32, cfg: &SgdConfig),
    checked: |o, i| Coef::checked(o, i, step, cfg),
}

/// The SGD update of `N` elements.
#[inline(always)]
fn sgd_lanes<L: Lanes<N>, const N: usize, P: Profile>(
    k: &Coef,
    (wd, first, nest): (impl Flag, impl Flag, impl Flag),
    p: &mut [f32; N],
    g: &[f32; N],
    buf: Option<&mut [f32; N]>,
) {
    let param = L::load(p);
    let mut g = L::load(g) * L::splat(k.scale);
    if let (true, Some(decay)) = (wd.on(), k.weight_decay) {
        g = P::fma(L::splat(decay), param, g);
    }
    if let (Some(mu), Some(buf)) = (k.momentum, buf) {
        let b = if first.on() {
            g
        } else {
            P::fma(L::splat(k.one_minus_dampening), g, L::load(buf) * L::splat(mu))
        };
        b.store(buf);
        g = if nest.on() { P::fma(L::splat(mu), b, g) } else { b };
    }
    P::fma(L::splat(k.neg_lr), g, param).store(p);
}
