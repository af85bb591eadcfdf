//! Rprop (`torch.optim.Rprop`): sign-based steps with per-element adaptive step sizes.

use crate::driver::for_each_chunk;
use crate::format::Elementwise;
use crate::lanes::Lanes;
use crate::numerics::{Flag, Numerics, Profile, c, specialize, with_profile};
use crate::optim::{mixed_step, signed_scale};
use crate::width::with_width;
use crate::{Error, Width, validate};

/// Hyperparameters of [`rprop_step`]. [`Default`] is `torch.optim.Rprop`'s.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct RpropConfig {
    /// Initial step size (used only at step 1: torch ignores later `lr` changes).
    /// Default `1e-2`; finite, ≥ 0.
    pub lr: f64,
    /// Multiplicative decrease `η⁻`. Default `0.5`; finite, `0 < η⁻ < 1`.
    pub etaminus: f64,
    /// Multiplicative increase `η⁺`. Default `1.2`; finite, `> 1`.
    pub etaplus: f64,
    /// Smallest step size. Default `1e-6`; finite, ≥ 0.
    pub step_size_min: f64,
    /// Largest step size. Default `50`; finite, ≥ `step_size_min`.
    pub step_size_max: f64,
    /// Maximize the objective (negate the gradient first). Default `false`.
    pub maximize: bool,
    /// Multiplier `s` applied to the gradient first. Default `1` (exact); finite, ≥ 0.
    pub grad_scale: f32,
    /// Operation order. Default [`Numerics::Torch`] (Rprop has no fused operation, so both
    /// profiles give the same bits).
    pub numerics: Numerics,
}

impl Default for RpropConfig {
    fn default() -> Self {
        Self {
            lr: 1e-2,
            etaminus: 0.5,
            etaplus: 1.2,
            step_size_min: 1e-6,
            step_size_max: 50.0,
            maximize: false,
            grad_scale: 1.0,
            numerics: Numerics::Torch,
        }
    }
}

struct Coef {
    scale: f32,
    first_step: bool,
    lr: f32,
    etaminus: f32,
    etaplus: f32,
    min: f32,
    max: f32,
    numerics: Numerics,
}

impl Coef {
    #[inline(always)]
    fn from_config(step: u32, cfg: &RpropConfig) -> Result<Self, Error> {
        validate::numerics(cfg.numerics, &[])?;
        let lr = validate::non_negative("lr", cfg.lr)?;
        let etaminus = validate::finite("etaminus", cfg.etaminus)?;
        if !(etaminus > 0.0 && etaminus < 1.0) {
            return Err(validate::out_of_range("etaminus", etaminus));
        }
        let etaplus = validate::finite("etaplus", cfg.etaplus)?;
        if etaplus <= 1.0 {
            return Err(validate::out_of_range("etaplus", etaplus));
        }
        let min = validate::non_negative("step_size_min", cfg.step_size_min)?;
        let max = validate::finite("step_size_max", cfg.step_size_max)?;
        if max < min {
            return Err(validate::out_of_range("step_size_max", max));
        }
        let scale = signed_scale(cfg.grad_scale, cfg.maximize)?;
        validate::step(step)?;
        Ok(Self {
            scale,
            first_step: step == 1,
            lr: c(lr),
            etaminus: c(etaminus),
            etaplus: c(etaplus),
            min: c(min),
            max: c(max),
            numerics: cfg.numerics,
        })
    }
    /// Every check of a call with these lengths (`params`, `prev`, `step_size`; `grads`).
    #[inline(always)]
    fn checked(
        [n, l1, l2]: [usize; 3],
        [i0]: [usize; 1],
        step: u32,
        cfg: &RpropConfig,
    ) -> Result<Self, Error> {
        validate::len("grads", n, i0)?;
        validate::len("prev", n, l1)?;
        validate::len("step_size", n, l2)?;
        Self::from_config(step, cfg)
    }
}

impl Elementwise<3, 1> for Coef {
    fn used(&self) -> [bool; 3] {
        [true; 3]
    }

    #[inline(never)]
    fn run(&self, width: Width, [params, prev, step_size]: [&mut [f32]; 3], [grads]: [&[f32]; 1]) {
        let k = self;
        // The first-step option as a compile-time constant: no branch in the loop.
        with_width!(width, |L, N| with_profile!(k.numerics, |P| specialize!(
            k.first_step,
            |first| {
                for_each_chunk::<N, 3, 1>(
                    [params, prev, step_size],
                    [grads],
                    #[inline(always)]
                    |[p, pr, ss], [g]| rprop_lanes::<L, N, P>(k, first, p, g, pr, ss),
                )
            }
        )));
    }
}

/// Rprop (Riedmiller & Braun 1993; `torch.optim.Rprop`): updates `params`, `prev` (the
/// previous gradient) and `step_size` in place (torch's state names).
///
/// For every index `i`, with `s = grad_scale` and `t = step` (1-based):
/// ```text
/// at t = 1: prev ← 0, step_size ← lr   (whatever they held; later lr changes are ignored)
/// g ← s·grads[i]                        (−s·grads[i] with maximize)
/// f = η⁺ if g·prev > 0,  η⁻ if g·prev < 0,  1 otherwise   (g·prev rounded to f32 first)
/// step_size ← clamp(step_size·f, min, max)
/// g ← 0 where f = η⁻
/// θ ← θ − sign(g)·step_size;   prev ← g
/// ```
/// `sign` is torch's: `sign(±0) = sign(NaN) = 0`. There is no fused operation, so both
/// profiles give the same bits, equal to PyTorch's on every build.
///
/// # Errors
/// [`Error::LengthMismatch`] if `grads`, `prev` or `step_size` differ in length from
/// `params`; [`Error::InvalidHyperparameter`] for a NaN, infinite or out-of-range field;
/// [`Error::ZeroStep`]. **Nothing is written when an error is returned.**
pub fn rprop_step(
    params: &mut [f32],
    grads: &[f32],
    prev: &mut [f32],
    step_size: &mut [f32],
    step: u32,
    cfg: &RpropConfig,
) -> Result<(), Error> {
    rprop_step_with(Width::NATIVE, params, grads, prev, step_size, step, cfg)
}

/// [`rprop_step`] at an explicit lane width (for tests and benches).
#[doc(hidden)]
pub fn rprop_step_with(
    width: Width,
    params: &mut [f32],
    grads: &[f32],
    prev: &mut [f32],
    step_size: &mut [f32],
    step: u32,
    cfg: &RpropConfig,
) -> Result<(), Error> {
    let k = Coef::checked([params.len(), prev.len(), step_size.len()], [grads.len()], step, cfg)?;
    k.run(width, [params, prev, step_size], [grads]);
    Ok(())
}

mixed_step! {
    /// [`rprop_step`] in mixed storage formats ([`crate::format`]).
    ///
    /// # Errors
    /// As [`rprop_step`], and the format errors of [`crate::adam_step_mixed`]. **Nothing is written
    /// when an error is returned.**
    rprop_step_mixed, rprop_step_mixed_with,
    (params, grads, prev, step_size; step: u32, cfg: &RpropConfig),
    checked: |o, i| Coef::checked(o, i, step, cfg),
}

#[inline(always)]
fn rprop_lanes<L: Lanes<N>, const N: usize, P: Profile>(
    k: &Coef,
    first: impl Flag,
    p: &mut [f32; N],
    g: &[f32; N],
    prev: &mut [f32; N],
    step_size: &mut [f32; N],
) {
    let g = L::load(g) * L::splat(k.scale);
    let (old_prev, old_size) = if first.on() {
        (L::splat(0.0), L::splat(k.lr))
    } else {
        (L::load(prev), L::load(step_size))
    };
    // sign(g·prev) > 0 (< 0) exactly when g·prev > 0 (< 0); NaN is neither.
    let s = g * old_prev;
    let zero = L::splat(0.0);
    let etaminus = L::splat(k.etaminus);
    let factor =
        L::select(s.gt(zero), L::splat(k.etaplus), L::select(s.lt(zero), etaminus, L::splat(1.0)));
    // clamp(x, min, max) with NaN propagating, as torch.clamp.
    let x = old_size * factor;
    let size = L::select(
        x.lt(L::splat(k.min)),
        L::splat(k.min),
        L::select(x.gt(L::splat(k.max)), L::splat(k.max), x),
    );
    size.store(step_size);
    let g = L::select(factor.eq(etaminus), zero, g);
    g.store(prev);
    P::fma(-g.sign(), size, L::load(p)).store(p);
}
