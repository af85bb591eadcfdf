//! Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"): sign updates from
//! an interpolated momentum.

use crate::driver::for_each_chunk;
use crate::format::Elementwise;
use crate::format::fused::{Call, Group16, Read16};
use crate::lanes::Lanes;
use crate::numerics::{
    Flag, Numerics, Off, On, Portable, Profile, Torch, c, specialize, with_profile,
};
use crate::optim::{mixed_step, signed_scale};
use crate::width::with_width;
use crate::{Error, Width, validate};

/// Hyperparameters of [`lion_step`] (the paper's defaults, and its decoupled weight decay).
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct LionConfig {
    /// Learning rate `η`. Default `1e-4`; finite, ≥ 0.
    pub lr: f64,
    /// `β₁`, interpolation for the update direction. Default `0.9`; finite, in `[0, 1]`.
    pub beta1: f64,
    /// `β₂`, decay of the momentum. Default `0.99`; finite, in `[0, 1]`.
    pub beta2: f64,
    /// Decoupled weight decay `λ`. Default `0`; finite, ≥ 0.
    pub weight_decay: f64,
    /// Maximize the objective (negate the gradient first). Default `false`.
    pub maximize: bool,
    /// Multiplier `s` applied to the gradient first. Default `1` (exact); finite, ≥ 0.
    pub grad_scale: f32,
    /// Operation order. Default [`Numerics::Portable`] (there is no PyTorch reference).
    pub numerics: Numerics,
}

impl Default for LionConfig {
    fn default() -> Self {
        Self {
            lr: 1e-4,
            beta1: 0.9,
            beta2: 0.99,
            weight_decay: 0.0,
            maximize: false,
            grad_scale: 1.0,
            numerics: Numerics::Portable,
        }
    }
}

pub(crate) struct Coef {
    scale: f32,
    decay: Option<f32>,
    beta1: f32,
    one_minus_beta1: f32,
    beta2: f32,
    one_minus_beta2: f32,
    neg_lr: f32,
    numerics: Numerics,
}

impl Coef {
    #[inline(always)]
    pub(crate) fn from_config(cfg: &LionConfig) -> Result<Self, Error> {
        validate::numerics(cfg.numerics, &[Numerics::Bitsandbytes])?;
        let lr = validate::non_negative("lr", cfg.lr)?;
        let beta1 = validate::unit_closed("beta1", cfg.beta1)?;
        let beta2 = validate::unit_closed("beta2", cfg.beta2)?;
        let weight_decay = validate::non_negative("weight_decay", cfg.weight_decay)?;
        let scale = signed_scale(cfg.grad_scale, cfg.maximize)?;
        Ok(Self {
            scale,
            decay: (weight_decay != 0.0).then(|| c(1.0 - lr * weight_decay)),
            beta1: c(beta1),
            one_minus_beta1: c(1.0 - beta1),
            beta2: c(beta2),
            one_minus_beta2: c(1.0 - beta2),
            neg_lr: c(-lr),
            numerics: cfg.numerics,
        })
    }

    /// Every check of a call with these lengths (`params`, `exp_avg`; `grads`).
    #[inline(always)]
    fn checked([n, m]: [usize; 2], [g]: [usize; 1], cfg: &LionConfig) -> Result<Self, Error> {
        validate::len("grads", n, g)?;
        validate::len("exp_avg", n, m)?;
        Self::from_config(cfg)
    }
}

impl Elementwise<2, 1> for Coef {
    fn used(&self) -> [bool; 2] {
        [true; 2]
    }

    #[inline(never)]
    fn run(&self, width: Width, [params, exp_avg]: [&mut [f32]; 2], [grads]: [&[f32]; 1]) {
        let k = self;
        // Weight decay as a compile-time constant: no branch in the loop.
        let bufs = ([params, exp_avg], [grads]);
        with_width!(width, |L, N| specialize!(k.decay.is_some(), |wd| match k.numerics {
            // Fast and Torchao are refused by the checks.
            Numerics::Torch | Numerics::Torchao => lion_loop::<L, N, Torch>(k, (wd, Off), bufs),
            Numerics::Portable | Numerics::Fast => lion_loop::<L, N, Portable>(k, (wd, Off), bufs),
            Numerics::Bitsandbytes => lion_loop::<L, N, Torch>(k, (wd, On), bufs),
        }));
    }

    const FUSED: bool = true;

    /// The fused loops ([`crate::format::fused`]) of the Torch and Portable forms (not
    /// bitsandbytes'). Weight decay is a run-time flag here: a predicted branch per group,
    /// for half the loops (build cost).
    fn run_fused<P: Group16, S: Group16 + Default, G: Read16>(
        &self,
        width: Width,
        call: Call<P, S, G, 2, 1>,
    ) -> bool {
        let k = self;
        if k.numerics == Numerics::Bitsandbytes {
            return false;
        }
        let Some(bufs) = call.states::<1>() else { return false };
        let wd = k.decay.is_some();
        with_width!(width, |L, N| with_profile!(k.numerics, |Pf| {
            bufs.for_each_group::<N>(|p, [m], [g]| lion_lanes::<L, N, Pf>(k, (wd, Off), p, g, m))
        }));
        true
    }
}

/// Lion (Chen et al. 2023, Algorithm 2): updates `params` and `exp_avg` (`m`) in place.
///
/// For every index `i`, with `s = grad_scale`:
/// ```text
/// g ← s·grads[i]                          (−s·grads[i] with maximize)
/// c = β₁·m + (1 − β₁)·g
/// θ ← θ·(1 − ηλ)                          (decoupled weight decay)
/// θ ← θ − η·sign(c)                       (sign(0) = sign(NaN) = 0, as torch.sign)
/// m ← β₂·m + (1 − β₂)·g
/// ```
/// [`Numerics::Torch`] fuses the interpolations as the reference PyTorch implementation's
/// `add(alpha=)` calls do: `c = fma(c(1−β₁), g, m·c(β₁))`, `m = fma(c(1−β₂), g, m·c(β₂))`,
/// `θ = fma(c(−η), sign(c), θ)`.
///
/// # Errors
/// [`Error::LengthMismatch`] if `grads` or `exp_avg` differ in length from `params`;
/// [`Error::InvalidHyperparameter`] for a NaN, infinite or out-of-range field.
/// **Nothing is written when an error is returned.**
pub fn lion_step(
    params: &mut [f32],
    grads: &[f32],
    exp_avg: &mut [f32],
    cfg: &LionConfig,
) -> Result<(), Error> {
    lion_step_with(Width::NATIVE, params, grads, exp_avg, cfg)
}

/// [`lion_step`] at an explicit lane width (for tests and benches).
#[doc(hidden)]
pub fn lion_step_with(
    width: Width,
    params: &mut [f32],
    grads: &[f32],
    exp_avg: &mut [f32],
    cfg: &LionConfig,
) -> Result<(), Error> {
    let k = Coef::checked([params.len(), exp_avg.len()], [grads.len()], cfg)?;
    k.run(width, [params, exp_avg], [grads]);
    Ok(())
}

mixed_step! {
    /// [`lion_step`] in mixed storage formats ([`crate::format`]).
    ///
    /// # Errors
    /// As [`lion_step`], and the format errors of [`crate::adam_step_mixed`]. **Nothing is
    /// written when an error is returned.**
    lion_step_mixed, lion_step_mixed_with,
    (params, grads, exp_avg; cfg: &LionConfig),
    checked: |o, i| Coef::checked(o, i, cfg),
}

/// The chunk loop of one option combination (`(weight decay, bitsandbytes' direction)`).
#[inline(always)]
fn lion_loop<L: Lanes<N>, const N: usize, P: Profile>(
    k: &Coef,
    flags: (impl Flag, impl Flag),
    ([params, exp_avg], [grads]): ([&mut [f32]; 2], [&[f32]; 1]),
) {
    for_each_chunk::<N, 2, 1>(
        [params, exp_avg],
        [grads],
        #[inline(always)]
        |[p, m], [g]| lion_lanes::<L, N, P>(k, flags, p, g, m),
    )
}

#[inline(always)]
fn lion_lanes<L: Lanes<N>, const N: usize, P: Profile>(
    k: &Coef,
    (wd, bnb): (impl Flag, impl Flag),
    p: &mut [f32; N],
    g: &[f32; N],
    m: &mut [f32; N],
) {
    let mut param = L::load(p);
    let g = L::load(g) * L::splat(k.scale);
    let m_old = L::load(m);
    // bitsandbytes rounds both products before the add.
    let dir = if bnb.on() {
        (m_old * L::splat(k.beta1) + g * L::splat(k.one_minus_beta1)).sign()
    } else {
        P::fma(L::splat(k.one_minus_beta1), g, m_old * L::splat(k.beta1)).sign()
    };
    if wd.on() {
        param = param * L::splat(k.decay.unwrap_or(1.0));
    }
    P::fma(L::splat(k.neg_lr), dir, param).store(p);
    P::fma(L::splat(k.one_minus_beta2), g, m_old * L::splat(k.beta2)).store(m);
}
