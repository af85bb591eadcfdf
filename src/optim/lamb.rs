//! LAMB (You et al. 2020, "Large Batch Optimization for Deep Learning"): Adam's direction
//! scaled by a layer-wise trust ratio.

use crate::driver::{for_each_chunk, for_each_chunk_summed};
use crate::format::{Access, Layerwise};
use crate::lanes::Lanes;
use crate::numerics::{Numerics, Profile, bias_corrections, c, with_profile};
use crate::optim::{mixed_step, signed_scale};
use crate::reduce::{BlockedSum, square, terms};
use crate::train::shard::{sum_partials, two_norm_partials};
use crate::width::with_width;
use crate::{Error, Width, validate};

/// Hyperparameters of [`lamb_step`] (the paper's and apex/timm's defaults).
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct LambConfig {
    /// Learning rate `η`. Default `1e-3`; finite, ≥ 0.
    pub lr: f64,
    /// `β₁`. Default `0.9`; finite, in `[0, 1)`.
    pub beta1: f64,
    /// `β₂`. Default `0.999`; finite, in `[0, 1)`.
    pub beta2: f64,
    /// `ε`. Default `1e-6`; finite, ≥ 0.
    pub eps: f64,
    /// Decoupled weight decay `λ`, part of the direction `r`. Default `0.01`; finite, ≥ 0.
    pub weight_decay: f64,
    /// Maximize the objective (negate the gradient first). Default `false`.
    pub maximize: bool,
    /// Multiplier `s` applied to the gradient first. Default `1` (exact); finite, ≥ 0.
    pub grad_scale: f32,
    /// Operation order. Default [`Numerics::Portable`] (there is no PyTorch reference).
    pub numerics: Numerics,
}

impl Default for LambConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-6,
            weight_decay: 0.01,
            maximize: false,
            grad_scale: 1.0,
            numerics: Numerics::Portable,
        }
    }
}

struct Coef {
    scale: f32,
    beta1: f32,
    one_minus_beta1: f32,
    beta2: f32,
    one_minus_beta2: f32,
    weight_decay: f32,
    /// Torch: `c(bc1)`, `c(bc2)`, `c(ε)`.
    bc1: f32,
    bc2: f32,
    eps: f32,
    /// Portable: `c(√bc2/bc1)` and `c(ε·√bc2)`.
    portable_scale: f32,
    portable_eps: f32,
    lr: f64,
}

impl Coef {
    #[inline(always)]
    fn from_config(step: u32, cfg: &LambConfig) -> Result<Self, Error> {
        validate::numerics(cfg.numerics, &[Numerics::Fast])?;
        let lr = validate::non_negative("lr", cfg.lr)?;
        let beta1 = validate::unit_half_open("beta1", cfg.beta1)?;
        let beta2 = validate::unit_half_open("beta2", cfg.beta2)?;
        let eps = validate::non_negative("eps", cfg.eps)?;
        let weight_decay = validate::non_negative("weight_decay", cfg.weight_decay)?;
        let scale = signed_scale(cfg.grad_scale, cfg.maximize)?;
        validate::step(step)?;
        let (bc1, bc2) = bias_corrections(beta1, beta2, step);
        let bc2_sqrt = libm::sqrt(bc2);
        Ok(Self {
            scale,
            beta1: c(beta1),
            one_minus_beta1: c(1.0 - beta1),
            beta2: c(beta2),
            one_minus_beta2: c(1.0 - beta2),
            weight_decay: c(weight_decay),
            bc1: c(bc1),
            bc2: c(bc2),
            eps: c(eps),
            portable_scale: c(bc2_sqrt / bc1),
            portable_eps: c(eps * bc2_sqrt),
            lr,
        })
    }

    /// The direction `r = m̂/(√v̂ + ε) + λθ` from the updated moments.
    #[inline(always)]
    fn direction<L: Lanes<N>, const N: usize, P: Profile>(&self, m: L, v: L, param: L) -> L {
        let adam = if P::TORCH {
            (m / L::splat(self.bc1)) / ((v / L::splat(self.bc2)).sqrt() + L::splat(self.eps))
        } else {
            P::div(L::splat(self.portable_scale) * m, P::sqrt(v) + L::splat(self.portable_eps))
        };
        P::fma(L::splat(self.weight_decay), param, adam)
    }
}

/// LAMB (You et al. 2020, Algorithm 2, with bias correction as in apex and timm): updates
/// `params`, `exp_avg` (`m`) and `exp_avg_sq` (`v`) in place; the slices are one layer.
///
/// With `s = grad_scale` and `t = step` (1-based):
/// ```text
/// g ← s·grads                            (−s·grads with maximize)
/// m ← β₁m + (1 − β₁)g;   v ← β₂v + (1 − β₂)g²
/// r = (m/(1 − β₁ᵗ)) / (√(v/(1 − β₂ᵗ)) + ε) + λθ
/// φ = ‖θ‖/‖r‖   if ‖θ‖ > 0 and ‖r‖ > 0,   else 1          (the trust ratio)
/// θ ← θ − η·φ·r
/// ```
/// Two passes and no scratch: the first updates `m`, `v` and accumulates `‖θ‖²` and `‖r‖²`;
/// the second recomputes `r` from the stored moments (the same bits) and applies it. The norms
/// are the crate's deterministic blocked f64 sums, so the result does not depend on the lane
/// width. [`Numerics::Torch`] fuses the moment updates and `+ λθ`.
///
/// # Errors
/// [`Error::LengthMismatch`], [`Error::InvalidHyperparameter`], [`Error::ZeroStep`].
/// **Nothing is written when an error is returned.**
pub fn lamb_step(
    params: &mut [f32],
    grads: &[f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    step: u32,
    cfg: &LambConfig,
) -> Result<(), Error> {
    lamb_step_with(Width::NATIVE_TWO_PASS, params, grads, exp_avg, exp_avg_sq, step, cfg)
}

/// [`lamb_step`] at an explicit lane width (for tests and benches).
#[doc(hidden)]
pub fn lamb_step_with(
    width: Width,
    params: &mut [f32],
    grads: &[f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    step: u32,
    cfg: &LambConfig,
) -> Result<(), Error> {
    let n = params.len();
    validate::len("grads", n, grads.len())?;
    validate::len("exp_avg", n, exp_avg.len())?;
    validate::len("exp_avg_sq", n, exp_avg_sq.len())?;
    let k = Coef::from_config(step, cfg)?;
    let (mut p_sq, mut r_sq) = (BlockedSum::new(), BlockedSum::new());
    moments(width, &k, cfg.numerics, params, grads, exp_avg, exp_avg_sq, &mut p_sq, &mut r_sq);
    let trust = trust_ratio(p_sq.finish(), r_sq.finish());
    apply(width, &k, cfg.numerics, params, exp_avg, exp_avg_sq, trust);
    Ok(())
}

mixed_step! {
    /// [`lamb_step`] in mixed storage formats ([`crate::format`]): bf16/f16 gradients; f32
    /// parameters (optionally writing a bf16/f16 copy of the new values in the same pass) or
    /// bf16 parameters; `exp_avg` and `exp_avg_sq` in f32, bf16, `q8`, `q4` or `fp8`. The
    /// slices are one layer (its trust ratio), as in `lamb_step`, whose bits the values as read
    /// give: pass 1 computes the new moments on copies for the norms (storing nothing), pass 2
    /// computes them again and steps, then stores every buffer in its format.
    ///
    /// # Errors
    /// As [`lamb_step`], and the format errors of [`crate::adam_step_mixed`]. **Nothing is
    /// written when an error is returned.**
    lamb_step_mixed, lamb_step_mixed_with,
    (params, grads, exp_avg, exp_avg_sq; step: u32, cfg: &LambConfig),
    checked: |[n, m, v], [g]| {
        validate::len("grads", n, g)?;
        validate::len("exp_avg", n, m)?;
        validate::len("exp_avg_sq", n, v)?;
        Coef::from_config(step, cfg).map(|k| Staged {
            k,
            numerics: cfg.numerics,
            p_sq: BlockedSum::new(),
            r_sq: BlockedSum::new(),
            trust: 1.0,
        })
    },
    driver: mixed_layerwise,
}

/// LAMB through the staged driver: pass 1 sums `‖θ‖²` and `‖r‖²` from the new moments, pass 2
/// recomputes the moments and applies the trust ratio.
struct Staged {
    k: Coef,
    numerics: Numerics,
    p_sq: BlockedSum<'static>,
    r_sq: BlockedSum<'static>,
    trust: f64,
}

impl Layerwise<3, 1> for Staged {
    fn reads(&self, _: usize) -> [Access; 3] {
        [Access::Read, Access::Scratch, Access::Scratch]
    }

    fn reduce(&mut self, _: usize, width: Width, [p, m, v]: [&mut [f32]; 3], [g]: [&[f32]; 1]) {
        let (k, numerics) = (&self.k, self.numerics);
        moments(width, k, numerics, p, g, m, v, &mut self.p_sq, &mut self.r_sq);
    }

    fn finish(&mut self, _: usize) -> bool {
        let p_sq = self.p_sq.take();
        let r_sq = self.r_sq.take();
        self.trust = trust_ratio(p_sq, r_sq);
        false
    }

    fn update(&mut self, width: Width, [p, m, v]: [&mut [f32]; 3], [g]: [&[f32]; 1]) {
        let (k, numerics) = (&self.k, self.numerics);
        moments(width, k, numerics, p, g, m, v, &mut BlockedSum::new(), &mut BlockedSum::new());
        apply(width, k, numerics, p, m, v, self.trust);
    }
}

/// The first pass of [`lamb_step`] on a shard of one layer (sharded training): updates `m`
/// and `v` exactly as `lamb_step` does, and writes the per-block partials of `‖θ‖²` and `‖r‖²`
/// (`norm_partials_len(params.len())` each) for [`lamb_trust_ratio`]. The shard holds the
/// layer's elements `[offset, offset + params.len())` of `layer_len`, on whole blocks as
/// [`crate::grad_norm_partials`] requires. Then, once the partials of every shard of the layer
/// are gathered in order, [`lamb_shard_apply`] with the layer's trust ratio: the result is
/// bit-identical to one `lamb_step` over the layer, for any split.
///
/// # Errors
/// As [`lamb_step`], and [`Error::ShardBoundary`] / [`Error::LengthMismatch`] (`param_partials`,
/// `update_partials`) as [`crate::grad_norm_partials`]. Nothing is written on `Err`.
#[allow(clippy::too_many_arguments)]
pub fn lamb_shard_moments(
    params: &[f32],
    grads: &[f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    offset: usize,
    layer_len: usize,
    step: u32,
    cfg: &LambConfig,
    param_partials: &mut [f64],
    update_partials: &mut [f64],
) -> Result<(), Error> {
    let n = params.len();
    validate::len("grads", n, grads.len())?;
    validate::len("exp_avg", n, exp_avg.len())?;
    validate::len("exp_avg_sq", n, exp_avg_sq.len())?;
    let k = Coef::from_config(step, cfg)?;
    let (pp, up) = (("param_partials", param_partials), ("update_partials", update_partials));
    two_norm_partials(offset, n, layer_len, pp, up, |p_sq, r_sq| {
        let width = Width::NATIVE_TWO_PASS;
        moments(width, &k, cfg.numerics, params, grads, exp_avg, exp_avg_sq, p_sq, r_sq);
    })
}

/// A layer's trust ratio `φ = ‖θ‖/‖r‖` (1 if either is 0) from the partials of all its blocks
/// in order, as [`lamb_shard_moments`] wrote them: the sums are added in block order, the
/// same additions as [`lamb_step`]'s.
pub fn lamb_trust_ratio(param_partials: &[f64], update_partials: &[f64]) -> f64 {
    trust_ratio(sum_partials(param_partials), sum_partials(update_partials))
}

/// The second pass of [`lamb_step`] on a shard: `θ ← θ − η·φ·r` with the layer's trust ratio
/// `φ` from [`lamb_trust_ratio`], `r` recomputed from the stored moments.
///
/// # Errors
/// [`Error::LengthMismatch`], [`Error::InvalidHyperparameter`] (also `trust_ratio`: NaN or
/// negative), [`Error::ZeroStep`]. Nothing is written on `Err`.
pub fn lamb_shard_apply(
    params: &mut [f32],
    exp_avg: &[f32],
    exp_avg_sq: &[f32],
    step: u32,
    cfg: &LambConfig,
    trust_ratio: f64,
) -> Result<(), Error> {
    let n = params.len();
    validate::len("exp_avg", n, exp_avg.len())?;
    validate::len("exp_avg_sq", n, exp_avg_sq.len())?;
    let k = Coef::from_config(step, cfg)?;
    validate::combined_non_negative("trust_ratio", trust_ratio)?;
    apply(Width::NATIVE_TWO_PASS, &k, cfg.numerics, params, exp_avg, exp_avg_sq, trust_ratio);
    Ok(())
}

/// `‖θ‖/‖r‖` from the two sums of squares, 1 if either norm is 0 (or NaN).
fn trust_ratio(p_sq: f64, r_sq: f64) -> f64 {
    let (p_norm, r_norm) = (libm::sqrt(p_sq), libm::sqrt(r_sq));
    if p_norm > 0.0 && r_norm > 0.0 { p_norm / r_norm } else { 1.0 }
}

/// Pass 1: the moments, and `‖θ‖²`, `‖r‖²` into the two sums.
#[allow(clippy::too_many_arguments)]
fn moments(
    width: Width,
    k: &Coef,
    numerics: Numerics,
    params: &[f32],
    grads: &[f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    p_sq: &mut BlockedSum<'_>,
    r_sq: &mut BlockedSum<'_>,
) {
    with_width!(width, two_pass, |L, N| with_profile!(fast numerics, |P| {
        for_each_chunk_summed::<N, 2, 2, 2>(
            [exp_avg, exp_avg_sq],
            [params, grads],
            [r_sq, p_sq],
            #[inline(always)]
            |[m, v], [p, g]| {
                let param = L::load(p);
                let g = L::load(g) * L::splat(k.scale);
                let m_new = P::fma(L::splat(k.one_minus_beta1), g, L::load(m) * L::splat(k.beta1));
                let v_new =
                    P::fma(L::splat(k.one_minus_beta2) * g, g, L::load(v) * L::splat(k.beta2));
                m_new.store(m);
                v_new.store(v);
                let r = k.direction::<L, N, P>(m_new, v_new, param).to_array();
                [terms(&r, square), terms(p, square)]
            },
        );
    }));
}

/// Pass 2: `θ ← θ − η·φ·r`.
fn apply(
    width: Width,
    k: &Coef,
    numerics: Numerics,
    params: &mut [f32],
    exp_avg: &[f32],
    exp_avg_sq: &[f32],
    trust: f64,
) {
    with_width!(width, two_pass, |L, N| with_profile!(fast numerics, |P| {
        let neg_step = L::splat(c(-k.lr * trust));
        for_each_chunk::<N, 1, 2>(
            [params],
            [exp_avg, exp_avg_sq],
            #[inline(always)]
            |[p], [m, v]| {
                let param = L::load(p);
                let r = k.direction::<L, N, P>(L::load(m), L::load(v), param);
                P::fma(neg_step, r, param).store(p);
            },
        );
    }));
}
