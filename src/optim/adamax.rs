//! Adamax (`torch.optim.Adamax`): Adam with the infinity norm.

use crate::driver::for_each_chunk;
use crate::format::Elementwise;
use crate::format::fused::{Call, Group16, Read16};
use crate::lanes::Lanes;
use crate::numerics::{
    Flag, Numerics, Off, Portable, Profile, Torch, TorchLerp, c, pow_step, specialize,
};
use crate::optim::{mixed_step, signed_scale};
use crate::width::with_width;
use crate::{Error, Width, validate};

/// Hyperparameters of [`adamax_step`]. [`Default`] is `torch.optim.Adamax`'s.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct AdamaxConfig {
    /// Learning rate `η`. Default `2e-3`; finite, ≥ 0.
    pub lr: f64,
    /// `β₁`. Default `0.9`; finite, in `[0, 1)`.
    pub beta1: f64,
    /// `β₂`. Default `0.999`; finite, in `[0, 1)`.
    pub beta2: f64,
    /// `ε`, added to `|g|` inside the max. Default `1e-8`; finite, ≥ 0.
    pub eps: f64,
    /// L2 weight decay `λ`. Default `0`; finite, ≥ 0.
    pub weight_decay: f64,
    /// Maximize the objective (negate the gradient first). Default `false`.
    pub maximize: bool,
    /// Multiplier `s` applied to the gradient first. Default `1` (exact); finite, ≥ 0.
    pub grad_scale: f32,
    /// Operation order. Default [`Numerics::Torch`].
    pub numerics: Numerics,
}

impl Default for AdamaxConfig {
    fn default() -> Self {
        Self {
            lr: 2e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            maximize: false,
            grad_scale: 1.0,
            numerics: Numerics::Torch,
        }
    }
}

pub(crate) struct Coef {
    scale: f32,
    weight_decay: Option<f32>,
    lerp1: TorchLerp,
    beta1: f32,
    one_minus_beta1: f32,
    beta2: f32,
    eps: f32,
    neg_clr: f32,
    numerics: Numerics,
}

impl Coef {
    #[inline(always)]
    pub(crate) fn from_config(step: u32, cfg: &AdamaxConfig) -> Result<Self, Error> {
        validate::numerics(cfg.numerics, &[])?;
        let lr = validate::non_negative("lr", cfg.lr)?;
        let beta1 = validate::unit_half_open("beta1", cfg.beta1)?;
        let beta2 = validate::unit_half_open("beta2", cfg.beta2)?;
        let eps = validate::non_negative("eps", cfg.eps)?;
        let weight_decay = validate::non_negative("weight_decay", cfg.weight_decay)?;
        let scale = signed_scale(cfg.grad_scale, cfg.maximize)?;
        validate::step(step)?;
        let bc1 = 1.0 - pow_step(beta1, step);
        Ok(Self {
            scale,
            weight_decay: (weight_decay != 0.0).then(|| c(weight_decay)),
            lerp1: TorchLerp::with_weight(1.0 - beta1),
            beta1: c(beta1),
            one_minus_beta1: c(1.0 - beta1),
            beta2: c(beta2),
            eps: c(eps),
            neg_clr: c(-lr / bc1),
            numerics: cfg.numerics,
        })
    }
    /// Every check of a call with these lengths (`params`, `exp_avg`, `exp_inf`; `grads`).
    #[inline(always)]
    fn checked(
        [n, l1, l2]: [usize; 3],
        [i0]: [usize; 1],
        step: u32,
        cfg: &AdamaxConfig,
    ) -> Result<Self, Error> {
        validate::len("grads", n, i0)?;
        validate::len("exp_avg", n, l1)?;
        validate::len("exp_inf", n, l2)?;
        Self::from_config(step, cfg)
    }
}

impl Elementwise<3, 1> for Coef {
    fn used(&self) -> [bool; 3] {
        [true; 3]
    }

    #[inline(never)]
    fn run(&self, width: Width, [params, exp_avg, exp_inf]: [&mut [f32]; 3], [grads]: [&[f32]; 1]) {
        let k = self;
        // The options as compile-time constants: no branch in the loop (4 Ki elements: 15 %
        // Torch, README "Build cost"). Portable has no lerp.
        let (decay, small) = (k.weight_decay.is_some(), k.lerp1.is_small());
        let bufs = (params, grads, exp_avg, exp_inf);
        with_width!(width, |L, N| specialize!(decay, |wd| match k.numerics {
            Numerics::Torch | Numerics::Bitsandbytes | Numerics::Torchao =>
                specialize!(small, |small| adamax_loop::<L, N, Torch>(k, (wd, small), bufs)),
            Numerics::Portable | Numerics::Fast =>
                adamax_loop::<L, N, Portable>(k, (wd, Off), bufs),
        }));
    }

    const FUSED: bool = true;

    /// The fused loops ([`crate::format::fused`]): the options as in [`Elementwise::run`] but
    /// weight decay, a run-time flag here (a predicted branch per group, for half the loops).
    fn run_fused<P: Group16, S: Group16 + Default, G: Read16>(
        &self,
        width: Width,
        call: Call<P, S, G, 3, 1>,
    ) -> bool {
        let k = self;
        let Some(bufs) = call.states::<2>() else { return false };
        let (wd, small) = (k.weight_decay.is_some(), k.lerp1.is_small());
        with_width!(width, |L, N| match k.numerics {
            Numerics::Torch | Numerics::Bitsandbytes | Numerics::Torchao => {
                specialize!(small, |small| bufs.for_each_group::<N>(|p, [m, u], [g]| {
                    adamax_lanes::<L, N, Torch>(k, (wd, small), p, g, m, u)
                }))
            }
            Numerics::Portable | Numerics::Fast => bufs.for_each_group::<N>(|p, [m, u], [g]| {
                adamax_lanes::<L, N, Portable>(k, (wd, Off), p, g, m, u)
            }),
        });
        true
    }
}

/// Adamax (Kingma & Ba 2015, §7; `torch.optim.Adamax`): updates `params`, `exp_avg` (`m`)
/// and `exp_inf` (`u`) in place.
///
/// For every index `i`, with `s = grad_scale` and `t = step` (1-based):
/// ```text
/// g ← s·grads[i] (+ λ·θ[i])              (−s·grads[i] with maximize)
/// m ← β₁·m + (1 − β₁)·g
/// u ← max(β₂·u, |g| + ε)                 (ε inside the max, as torch; NaN propagates)
/// θ ← θ − (η/(1 − β₁ᵗ))·m/u
/// ```
/// [`Numerics::Torch`]: `m = lerp(m, g, c(1−β₁))`, `θ = θ + (c(−η/bc1)·m)/u`.
///
/// # Errors
/// [`Error::LengthMismatch`], [`Error::InvalidHyperparameter`], [`Error::ZeroStep`] as
/// [`crate::adam_step`]. **Nothing is written when an error is returned.**
pub fn adamax_step(
    params: &mut [f32],
    grads: &[f32],
    exp_avg: &mut [f32],
    exp_inf: &mut [f32],
    step: u32,
    cfg: &AdamaxConfig,
) -> Result<(), Error> {
    adamax_step_with(Width::NATIVE, params, grads, exp_avg, exp_inf, step, cfg)
}

/// [`adamax_step`] at an explicit lane width (for tests and benches).
#[doc(hidden)]
pub fn adamax_step_with(
    width: Width,
    params: &mut [f32],
    grads: &[f32],
    exp_avg: &mut [f32],
    exp_inf: &mut [f32],
    step: u32,
    cfg: &AdamaxConfig,
) -> Result<(), Error> {
    let k = Coef::checked([params.len(), exp_avg.len(), exp_inf.len()], [grads.len()], step, cfg)?;
    k.run(width, [params, exp_avg, exp_inf], [grads]);
    Ok(())
}

mixed_step! {
    /// [`adamax_step`] in mixed storage formats ([`crate::format`]).
    ///
    /// # Errors
    /// As [`adamax_step`], and the format errors of [`crate::adam_step_mixed`]. **Nothing is written
    /// when an error is returned.**
    adamax_step_mixed, adamax_step_mixed_with,
    (params, grads, exp_avg, exp_inf; step: u32, cfg: &AdamaxConfig),
    checked: |o, i| Coef::checked(o, i, step, cfg),
}

/// The chunk loop of one option combination.
#[inline(always)]
fn adamax_loop<L: Lanes<N>, const N: usize, P: Profile>(
    k: &Coef,
    flags: (impl Flag, impl Flag),
    (params, grads, exp_avg, exp_inf): (&mut [f32], &[f32], &mut [f32], &mut [f32]),
) {
    for_each_chunk::<N, 3, 1>(
        [params, exp_avg, exp_inf],
        [grads],
        #[inline(always)]
        |[p, m, u], [g]| adamax_lanes::<L, N, P>(k, flags, p, g, m, u),
    )
}

#[inline(always)]
fn adamax_lanes<L: Lanes<N>, const N: usize, P: Profile>(
    k: &Coef,
    (wd, small): (impl Flag, impl Flag),
    p: &mut [f32; N],
    g: &[f32; N],
    m: &mut [f32; N],
    u: &mut [f32; N],
) {
    let param = L::load(p);
    let mut g = L::load(g) * L::splat(k.scale);
    if wd.on() {
        g = P::fma(L::splat(k.weight_decay.unwrap_or(0.0)), param, g);
    }
    let m_new = if P::TORCH {
        k.lerp1.apply_branch::<P, L, N>(small, L::load(m), g)
    } else {
        L::load(m) * L::splat(k.beta1) + g * L::splat(k.one_minus_beta1)
    };
    m_new.store(m);
    let u_new = (L::load(u) * L::splat(k.beta2)).max_nan(g.abs() + L::splat(k.eps));
    u_new.store(u);
    (param + (L::splat(k.neg_clr) * m_new) / u_new).store(p);
}
