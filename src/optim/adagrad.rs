//! Adagrad (`torch.optim.Adagrad`), and the source notes' form with ε inside the square root.

use crate::driver::for_each_chunk;
use crate::format::Elementwise;
use crate::format::fused::{Call, Group16, Read16};
use crate::lanes::Lanes;
use crate::numerics::{Flag, Numerics, Profile, c, with_profile, with_unit_scale};
use crate::optim::{mixed_step, signed};
use crate::width::with_width;
use crate::{Error, Width, validate};

/// Hyperparameters of [`adagrad_step`]. [`Default`] is `torch.optim.Adagrad`'s;
/// [`AdagradConfig::textbook`] is the source notes' form.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct AdagradConfig {
    /// Learning rate `η`. Default `1e-2`; finite, ≥ 0.
    pub lr: f64,
    /// Learning-rate decay `δ`: step `t` uses `η/(1 + (t − 1)·δ)`. Default `0`; finite, ≥ 0.
    pub lr_decay: f64,
    /// L2 weight decay `λ`. Default `0`; finite, ≥ 0.
    pub weight_decay: f64,
    /// Value the accumulator `G` is set to at step 1. Default `0`; finite, ≥ 0.
    pub initial_accumulator_value: f64,
    /// `ε`. Default `1e-10`; finite, ≥ 0.
    pub eps: f64,
    /// `false`: `√G + ε` (PyTorch). `true`: `√(G + ε)` (the source notes).
    pub eps_inside_sqrt: bool,
    /// Maximize the objective (negate the gradient first). Default `false`.
    pub maximize: bool,
    /// Multiplier `s` applied to the gradient first. Default `1` (exact); finite, ≥ 0.
    pub grad_scale: f32,
    /// Operation order. Default [`Numerics::Torch`].
    pub numerics: Numerics,
}

impl Default for AdagradConfig {
    fn default() -> Self {
        Self {
            lr: 1e-2,
            lr_decay: 0.0,
            weight_decay: 0.0,
            initial_accumulator_value: 0.0,
            eps: 1e-10,
            eps_inside_sqrt: false,
            maximize: false,
            grad_scale: 1.0,
            numerics: Numerics::Torch,
        }
    }
}

impl AdagradConfig {
    /// The source notes' Adagrad: `θ ← θ − η/√(G + ε) · g` with `ε = 1e-8`, in the
    /// [`Numerics::Portable`] profile.
    pub fn textbook() -> Self {
        Self { eps: 1e-8, eps_inside_sqrt: true, numerics: Numerics::Portable, ..Self::default() }
    }
}

pub(crate) struct Coef {
    scale: f32,
    weight_decay: Option<f32>,
    init: Option<f32>,
    eps: f32,
    eps_inside: bool,
    neg_clr: f32,
    numerics: Numerics,
}

impl Coef {
    /// [`Self::validate`], then the coefficients (the unit tests' constructor).
    #[cfg(test)]
    pub(crate) fn from_config(step: u32, cfg: &AdagradConfig) -> Result<Self, Error> {
        Self::validate(step, cfg)?;
        Ok(Self::of(step, cfg))
    }

    /// Every check of the hyperparameters and the step.
    #[inline(always)]
    fn validate(step: u32, cfg: &AdagradConfig) -> Result<(), Error> {
        validate::numerics(cfg.numerics, &[Numerics::Bitsandbytes, Numerics::Fast])?;
        validate::non_negative("lr", cfg.lr)?;
        validate::non_negative("lr_decay", cfg.lr_decay)?;
        validate::non_negative("weight_decay", cfg.weight_decay)?;
        validate::non_negative("initial_accumulator_value", cfg.initial_accumulator_value)?;
        validate::non_negative("eps", cfg.eps)?;
        validate::grad_scale(cfg.grad_scale)?;
        validate::step(step)?;
        Ok(())
    }

    /// The coefficients of a config and step [`Self::validate`] accepted.
    #[inline(always)]
    fn of(step: u32, cfg: &AdagradConfig) -> Self {
        // `η/(1 + 0)` is `η` exactly: no division without a decay.
        let clr = if cfg.lr_decay == 0.0 {
            cfg.lr
        } else {
            cfg.lr / (1.0 + f64::from(step - 1) * cfg.lr_decay)
        };
        Self {
            scale: signed(cfg.grad_scale, cfg.maximize),
            // bitsandbytes adds λ·θ even when λ = 0 (a −0 gradient becomes +0).
            weight_decay: (cfg.weight_decay != 0.0 || cfg.numerics == Numerics::Bitsandbytes)
                .then(|| c(cfg.weight_decay)),
            init: (step == 1).then(|| c(cfg.initial_accumulator_value)),
            eps: c(cfg.eps),
            eps_inside: cfg.eps_inside_sqrt,
            neg_clr: c(-clr),
            numerics: cfg.numerics,
        }
    }

    /// Every check of a call with these lengths (`params`, `sum`; `grads`).
    #[inline(always)]
    fn check(
        [n, s]: [usize; 2],
        [g]: [usize; 1],
        step: u32,
        cfg: &AdagradConfig,
    ) -> Result<(), Error> {
        validate::len("grads", n, g)?;
        validate::len("sum", n, s)?;
        Self::validate(step, cfg)
    }

    /// [`Self::check`], then the coefficients.
    #[inline(always)]
    fn checked(
        lens: [usize; 2],
        grads: [usize; 1],
        step: u32,
        cfg: &AdagradConfig,
    ) -> Result<Self, Error> {
        Self::check(lens, grads, step, cfg)?;
        Ok(Self::of(step, cfg))
    }
}

impl Elementwise<2, 1> for Coef {
    fn used(&self) -> [bool; 2] {
        [true; 2]
    }

    #[inline(never)]
    fn run(&self, width: Width, [params, sum]: [&mut [f32]; 2], [grads]: [&[f32]; 1]) {
        let k = self;
        // No multiply by a grad_scale of 1 (Portable, Fast).
        with_width!(width, |L, N| with_unit_scale!(k.numerics, k.scale, |P, unit| {
            for_each_chunk::<N, 2, 1>(
                [params, sum],
                [grads],
                #[inline(always)]
                |[p, s], [g]| adagrad_lanes::<L, N, P>(k, unit, p, g, s),
            )
        }));
    }

    const FUSED: bool = true;

    /// The fused loops ([`crate::format::fused`]): every profile, as [`Elementwise::run`].
    fn run_fused<P: Group16, S: Group16 + Default, G: Read16>(
        &self,
        width: Width,
        call: Call<P, S, G, 2, 1>,
    ) -> bool {
        let k = self;
        let Some(bufs) = call.states::<1>() else { return false };
        with_width!(width, |L, N| with_profile!(fast k.numerics, |Pf| {
            bufs.for_each_group::<N>(|p, [s], [g]| adagrad_lanes::<L, N, Pf>(k, false, p, g, s))
        }));
        true
    }
}

/// Adagrad (Duchi et al. 2011; `torch.optim.Adagrad`): updates `params` and `sum` (`G`,
/// torch's `state["sum"]`) in place.
///
/// For every index `i`, with `s = grad_scale` and `t = step` (1-based):
/// ```text
/// g ← s·grads[i] (+ λ·θ[i])                (−s·grads[i] with maximize)
/// G[i] ← G₀ at t = 1 (initial_accumulator_value; whatever G held), then G[i] ← G[i] + g²
/// θ[i] ← θ[i] − η/(1 + (t − 1)·δ) · g / (√G[i] + ε)      PyTorch
/// θ[i] ← θ[i] − η/(1 + (t − 1)·δ) · g / √(G[i] + ε)      eps_inside_sqrt (the source notes)
/// ```
/// [`Numerics::Torch`]: `G = fma(g, g, G)`, `θ = θ + (c(−η_t)·g) / (√G + c(ε))`.
///
/// # Errors
/// [`Error::LengthMismatch`] if `grads` or `sum` differ in length from `params`;
/// [`Error::InvalidHyperparameter`] for a NaN, infinite or negative field; [`Error::ZeroStep`].
/// **Nothing is written when an error is returned.**
pub fn adagrad_step(
    params: &mut [f32],
    grads: &[f32],
    sum: &mut [f32],
    step: u32,
    cfg: &AdagradConfig,
) -> Result<(), Error> {
    adagrad_step_with(Width::NATIVE, params, grads, sum, step, cfg)
}

/// [`adagrad_step`] at an explicit lane width (for tests and benches).
#[doc(hidden)]
pub fn adagrad_step_with(
    width: Width,
    params: &mut [f32],
    grads: &[f32],
    sum: &mut [f32],
    step: u32,
    cfg: &AdagradConfig,
) -> Result<(), Error> {
    Coef::check([params.len(), sum.len()], [grads.len()], step, cfg)?;
    // Built after the checks, not moved out of a `Result`: copying it out stalled on a
    // store-forwarding miss (a third of the entry's time at 16 elements, Zen 4).
    Coef::of(step, cfg).run(width, [params, sum], [grads]);
    Ok(())
}

mixed_step! {
    /// [`adagrad_step`] in mixed storage formats ([`crate::format`]).
    ///
    /// # Errors
    /// As [`adagrad_step`], and the format errors of [`crate::adam_step_mixed`]. **Nothing is
    /// written when an error is returned.**
    adagrad_step_mixed, adagrad_step_mixed_with,
    (params, grads, sum; step: u32, cfg: &AdagradConfig),
    checked: |o, i| Coef::checked(o, i, step, cfg),
}

#[inline(always)]
fn adagrad_lanes<L: Lanes<N>, const N: usize, P: Profile>(
    k: &Coef,
    unit: impl Flag,
    p: &mut [f32; N],
    g: &[f32; N],
    sum: &mut [f32; N],
) {
    let param = L::load(p);
    let mut g = L::load(g);
    if !unit.on() {
        g = g * L::splat(k.scale);
    }
    if let Some(wd) = k.weight_decay {
        g = P::fma(L::splat(wd), param, g);
    }
    let old = match k.init {
        Some(init) => L::splat(init),
        None => L::load(sum),
    };
    let s = P::fma(g, g, old);
    s.store(sum);
    let eps = L::splat(k.eps);
    let std = if k.eps_inside { P::sqrt(s + eps) } else { P::sqrt(s) + eps };
    P::add_div(param, L::splat(k.neg_clr) * g, std).store(p);
}
