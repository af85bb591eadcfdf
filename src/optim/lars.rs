//! LARS (You et al. 2017, "Large Batch Training of Convolutional Networks"): momentum SGD
//! with a layer-wise local learning rate.

use crate::driver::for_each_chunk;
use crate::format::{Access, Layerwise};
use crate::lanes::Lanes;
use crate::numerics::{Numerics, Profile, c, with_profile};
use crate::optim::{mixed_step, signed_scale};
use crate::reduce::{BlockedSum, square};
use crate::train::shard::{sum_partials, two_norm_partials};
use crate::width::with_width;
use crate::{Error, Width, validate};

/// Hyperparameters of [`lars_step`].
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct LarsConfig {
    /// Global learning rate `γ`. Default `0.1`; finite, ≥ 0.
    pub lr: f64,
    /// Momentum `μ`. Default `0.9`; finite, in `[0, 1]`.
    pub momentum: f64,
    /// Weight decay `β`. Default `1e-4`; finite, ≥ 0.
    pub weight_decay: f64,
    /// Trust coefficient `η`. Default `1e-3`; finite, ≥ 0.
    pub trust_coefficient: f64,
    /// `ε` in the local learning rate's denominator. Default `1e-8`; finite, ≥ 0.
    pub eps: f64,
    /// Maximize the objective (negate the gradient first). Default `false`.
    pub maximize: bool,
    /// Multiplier `s` applied to the gradient first. Default `1` (exact); finite, ≥ 0.
    pub grad_scale: f32,
    /// Operation order. Default [`Numerics::Portable`] (there is no PyTorch reference).
    pub numerics: Numerics,
}

impl Default for LarsConfig {
    fn default() -> Self {
        Self {
            lr: 0.1,
            momentum: 0.9,
            weight_decay: 1e-4,
            trust_coefficient: 1e-3,
            eps: 1e-8,
            maximize: false,
            grad_scale: 1.0,
            numerics: Numerics::Portable,
        }
    }
}

/// LARS (You et al. 2017, Algorithm 1): updates `params` and `velocity` in place; the slices
/// are one layer.
///
/// With `s = grad_scale`:
/// ```text
/// g ← s·grads                            (−s·grads with maximize)
/// λ = η·‖θ‖ / (‖g‖ + β‖θ‖ + ε)   if ‖θ‖ > 0 and ‖g‖ > 0,   else 1     (local learning rate)
/// v ← μv + γλ·(g + βθ)
/// θ ← θ − v
/// ```
/// Two passes and no scratch: the norms (deterministic blocked f64 sums of the scaled
/// gradient and of θ), then the update. [`Numerics::Torch`] fuses `g + βθ` and `μv + γλ·d`.
///
/// # Errors
/// [`Error::LengthMismatch`] if `grads` or `velocity` differ in length from `params`;
/// [`Error::InvalidHyperparameter`] for a NaN, infinite or out-of-range field.
/// **Nothing is written when an error is returned.**
pub fn lars_step(
    params: &mut [f32],
    grads: &[f32],
    velocity: &mut [f32],
    cfg: &LarsConfig,
) -> Result<(), Error> {
    lars_step_with(Width::NATIVE, params, grads, velocity, cfg)
}

/// [`lars_step`] at an explicit lane width (for tests and benches).
#[doc(hidden)]
pub fn lars_step_with(
    width: Width,
    params: &mut [f32],
    grads: &[f32],
    velocity: &mut [f32],
    cfg: &LarsConfig,
) -> Result<(), Error> {
    let n = params.len();
    validate::len("grads", n, grads.len())?;
    validate::len("velocity", n, velocity.len())?;
    let k = Coef::from_config(cfg)?;
    let (mut p_sq, mut g_sq) = (BlockedSum::new(), BlockedSum::new());
    k.norms(params, grads, &mut p_sq, &mut g_sq);
    let local = k.local_lr(p_sq.finish(), g_sq.finish());
    k.apply(width, cfg.numerics, params, grads, velocity, local);
    Ok(())
}

mixed_step! {
    /// [`lars_step`] in mixed storage formats ([`crate::format`]): bf16/f16 gradients; f32
    /// parameters (optionally writing a bf16/f16 copy of the new values in the same pass) or
    /// bf16 parameters; `velocity` in f32, bf16, `q8`, `q4` or `fp8`. The slices are one layer,
    /// as in `lars_step`, whose bits the values as read give: pass 1 sums the norms of the
    /// parameters and gradients as read, pass 2 steps and stores every buffer in its format.
    ///
    /// # Errors
    /// As [`lars_step`], and the format errors of [`crate::adam_step_mixed`]. **Nothing is
    /// written when an error is returned.**
    lars_step_mixed, lars_step_mixed_with,
    (params, grads, velocity; cfg: &LarsConfig),
    checked: |[n, v], [g]| {
        validate::len("grads", n, g)?;
        validate::len("velocity", n, v)?;
        Coef::from_config(cfg).map(|k| Staged {
            k,
            numerics: cfg.numerics,
            p_sq: BlockedSum::new(),
            g_sq: BlockedSum::new(),
            local: 1.0,
        })
    },
    driver: mixed_layerwise,
}

/// LARS through the staged driver: pass 1 sums `‖θ‖²` and `‖s·g‖²`, pass 2 is the momentum
/// update with the local learning rate.
struct Staged {
    k: Coef,
    numerics: Numerics,
    p_sq: BlockedSum<'static>,
    g_sq: BlockedSum<'static>,
    local: f64,
}

impl Layerwise<2, 1> for Staged {
    fn reads(&self, _: usize) -> [Access; 2] {
        [Access::Read, Access::Skip]
    }

    fn reduce(&mut self, _: usize, _: Width, [p, _]: [&mut [f32]; 2], [g]: [&[f32]; 1]) {
        self.k.norms(p, g, &mut self.p_sq, &mut self.g_sq);
    }

    fn finish(&mut self, _: usize) -> bool {
        let p_sq = self.p_sq.take();
        let g_sq = self.g_sq.take();
        self.local = self.k.local_lr(p_sq, g_sq);
        false
    }

    fn update(&mut self, width: Width, [p, v]: [&mut [f32]; 2], [g]: [&[f32]; 1]) {
        self.k.apply(width, self.numerics, p, g, v, self.local);
    }
}

/// The first pass of [`lars_step`] on a shard of one layer (sharded training): the per-block
/// partials of `‖θ‖²` and `‖s·g‖²` (`norm_partials_len(params.len())` each), for
/// [`lars_local_lr`]. The shard holds the layer's elements `[offset, offset + params.len())` of
/// `layer_len`, on whole blocks as [`crate::grad_norm_partials`] requires. Then, with the
/// partials of every shard of the layer gathered in order, [`lars_shard_apply`]: bit-identical
/// to one `lars_step` over the layer, for any split.
///
/// # Errors
/// As [`lars_step`], and [`Error::ShardBoundary`] / [`Error::LengthMismatch`]
/// (`param_partials`, `grad_partials`) as [`crate::grad_norm_partials`]. Nothing is written
/// on `Err`.
pub fn lars_shard_norms(
    params: &[f32],
    grads: &[f32],
    offset: usize,
    layer_len: usize,
    cfg: &LarsConfig,
    param_partials: &mut [f64],
    grad_partials: &mut [f64],
) -> Result<(), Error> {
    let n = params.len();
    validate::len("grads", n, grads.len())?;
    let k = Coef::from_config(cfg)?;
    let (pp, gp) = (("param_partials", param_partials), ("grad_partials", grad_partials));
    two_norm_partials(offset, n, layer_len, pp, gp, |p_sq, g_sq| k.norms(params, grads, p_sq, g_sq))
}

/// A layer's local learning rate `λ` from the partials of all its blocks in order, as
/// [`lars_shard_norms`] wrote them (the sums added in block order, as [`lars_step`] does).
///
/// # Errors
/// [`Error::InvalidHyperparameter`] for an invalid config.
pub fn lars_local_lr(
    param_partials: &[f64],
    grad_partials: &[f64],
    cfg: &LarsConfig,
) -> Result<f64, Error> {
    Ok(Coef::from_config(cfg)?.local_lr(sum_partials(param_partials), sum_partials(grad_partials)))
}

/// The second pass of [`lars_step`] on a shard: `v ← μv + γλ·(g + βθ)`, `θ ← θ − v` with the
/// layer's local learning rate `λ` from [`lars_local_lr`].
///
/// # Errors
/// As [`lars_step`], and [`Error::InvalidHyperparameter`] (`local_lr`) for a NaN or negative
/// `λ`. Nothing is written on `Err`.
pub fn lars_shard_apply(
    params: &mut [f32],
    grads: &[f32],
    velocity: &mut [f32],
    cfg: &LarsConfig,
    local_lr: f64,
) -> Result<(), Error> {
    let n = params.len();
    validate::len("grads", n, grads.len())?;
    validate::len("velocity", n, velocity.len())?;
    let k = Coef::from_config(cfg)?;
    validate::combined_non_negative("local_lr", local_lr)?;
    k.apply(Width::NATIVE, cfg.numerics, params, grads, velocity, local_lr);
    Ok(())
}

/// The validated hyperparameters.
struct Coef {
    lr: f64,
    momentum: f64,
    weight_decay: f64,
    trust: f64,
    eps: f64,
    /// `s`, or `−s` with maximize.
    scale: f32,
}

impl Coef {
    #[inline(always)]
    fn from_config(cfg: &LarsConfig) -> Result<Self, Error> {
        validate::numerics(cfg.numerics, &[])?;
        let lr = validate::non_negative("lr", cfg.lr)?;
        let momentum = validate::unit_closed("momentum", cfg.momentum)?;
        let weight_decay = validate::non_negative("weight_decay", cfg.weight_decay)?;
        let trust = validate::non_negative("trust_coefficient", cfg.trust_coefficient)?;
        let eps = validate::non_negative("eps", cfg.eps)?;
        let scale = signed_scale(cfg.grad_scale, cfg.maximize)?;
        Ok(Self { lr, momentum, weight_decay, trust, eps, scale })
    }

    /// Pass 1: `‖θ‖²` and `‖s·g‖²` into the two sums.
    fn norms(
        &self,
        params: &[f32],
        grads: &[f32],
        p_sq: &mut BlockedSum<'_>,
        g_sq: &mut BlockedSum<'_>,
    ) {
        let scale = self.scale;
        p_sq.extend(params, square);
        g_sq.extend(grads, |x| f64::from(x * scale) * f64::from(x * scale));
    }

    /// `λ = η‖θ‖/(‖g‖ + β‖θ‖ + ε)` from the two sums of squares (1 if either norm is 0).
    fn local_lr(&self, p_sq: f64, g_sq: f64) -> f64 {
        let (p_norm, g_norm) = (libm::sqrt(p_sq), libm::sqrt(g_sq));
        if p_norm > 0.0 && g_norm > 0.0 {
            self.trust * p_norm / (g_norm + self.weight_decay * p_norm + self.eps)
        } else {
            1.0
        }
    }

    /// Pass 2: the momentum update with the local learning rate `local`.
    fn apply(
        &self,
        width: Width,
        numerics: Numerics,
        params: &mut [f32],
        grads: &[f32],
        velocity: &mut [f32],
        local: f64,
    ) {
        let (wd, mu, step) = (c(self.weight_decay), c(self.momentum), c(self.lr * local));
        let scale = self.scale;
        with_width!(width, |L, N| with_profile!(numerics, |P| {
            for_each_chunk::<N, 2, 1>(
                [params, velocity],
                [grads],
                #[inline(always)]
                |[p, v], [g]| {
                    let param = L::load(p);
                    let d = P::fma(L::splat(wd), param, L::load(g) * L::splat(scale));
                    let vel = P::fma(L::splat(step), d, L::load(v) * L::splat(mu));
                    vel.store(v);
                    (param - vel).store(p);
                },
            )
        }));
    }
}
