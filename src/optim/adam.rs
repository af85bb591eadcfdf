//! Adam, AMSGrad and AdamW (`torch.optim.Adam`, `torch.optim.AdamW`).

use crate::driver::for_each_chunk;
use crate::format::Elementwise;
use crate::format::fused::{Call, Group16, Read16};
use crate::lanes::Lanes;
use crate::numerics::{
    Fast, Flag, Numerics, Off, On, Portable, Profile, Torch, TorchLerp, bias_corrections, c,
    pow_step, specialize,
};
use crate::optim::{WeightDecay, mixed_step, signed_scale};
use crate::width::with_width;
use crate::{Error, Width, validate};

/// Hyperparameters of [`adam_step`]. [`Default`] is `torch.optim.Adam`'s;
/// [`AdamConfig::adamw`] is `torch.optim.AdamW`'s.
///
/// Hyperparameters are f64: PyTorch computes `lr/bc1`, `1 − β` and `√bc2` from Python floats
/// and rounds each once to f32; f32 fields would round twice and lose bit parity.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct AdamConfig {
    /// Learning rate `η`. Default `1e-3`; finite, ≥ 0.
    pub lr: f64,
    /// `β₁`, decay of the first moment. Default `0.9`; finite, in `[0, 1)`.
    pub beta1: f64,
    /// `β₂`, decay of the second moment. Default `0.999`; finite, in `[0, 1)`.
    pub beta2: f64,
    /// `ε`, added to the bias-corrected `√v`. Default `1e-8`; finite, ≥ 0.
    pub eps: f64,
    /// Weight decay `λ`. Default `0` (`1e-2` for AdamW); finite, ≥ 0.
    pub weight_decay: f64,
    /// Decoupled weight decay (AdamW: `p ← p·(1 − η·λ)` before the moments) instead of L2
    /// (`g ← g + λ·p`). Default `false` (`true` for AdamW).
    pub decoupled_weight_decay: bool,
    /// AMSGrad: divide by the running maximum of `v` (`max_exp_avg_sq`). Default `false`.
    pub amsgrad: bool,
    /// Maximize the objective (negate the gradient first). Default `false`.
    pub maximize: bool,
    /// The ε̂ form (Kingma & Ba, §2, "efficient version"; the source notes' option): `ε` is
    /// added to the *uncorrected* `√u` and the bias corrections fold into the step size,
    /// `θ ← θ − (η·√(1−β₂ᵗ)/(1−β₁ᵗ))·m/(√u + ε̂)`. Default `false` (PyTorch's placement).
    /// Both profiles then compute it with one division, as [`Numerics::Portable`] does.
    pub eps_hat: bool,
    /// Multiplier `s` applied to the gradient first (loss-scale unscaling, norm clipping).
    /// Default `1` (exact); finite, ≥ 0.
    pub grad_scale: f32,
    /// Operation order. Default [`Numerics::Torch`].
    pub numerics: Numerics,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled_weight_decay: false,
            amsgrad: false,
            maximize: false,
            eps_hat: false,
            grad_scale: 1.0,
            numerics: Numerics::Torch,
        }
    }
}

impl AdamConfig {
    /// `torch.optim.AdamW`'s defaults: Adam's, with `weight_decay = 1e-2` decoupled.
    pub fn adamw() -> Self {
        Self { weight_decay: 1e-2, decoupled_weight_decay: true, ..Self::default() }
    }
}

/// Per-call coefficients, computed once in f64 and rounded once.
pub(crate) struct Coef {
    scale: f32,
    decay: WeightDecay,
    /// Torch: `m ← lerp(m, g, c(1 − β₁))`.
    lerp1: TorchLerp,
    /// Portable: `m ← c(β₁)·m + c(1 − β₁)·g`.
    beta1: f32,
    one_minus_beta1: f32,
    beta2: f32,
    one_minus_beta2: f32,
    /// Torch: `c(√bc2)`, `c(ε)`, `c(−η/bc1)`.
    bc2_sqrt: f32,
    eps: f32,
    neg_step_size: f32,
    /// Portable: `c(−η·√bc2/bc1)` and `c(ε·√bc2)`, so that
    /// `(−η/bc1)·m / (√v/√bc2 + ε) = (−η·√bc2/bc1)·m / (√v + ε·√bc2)`: one division.
    portable_step: f32,
    portable_eps: f32,
    /// `Numerics::Torchao` only: its coefficients (computed for those calls alone: two more
    /// powers and a root would add to every Adam call's fixed cost).
    torchao: Option<TorchaoCoef>,
    /// Use the one-division form (`Portable`, or the ε̂ option in either profile).
    one_division: bool,
    amsgrad: bool,
    numerics: Numerics,
}

/// torchao's per-call scalars, each as torchao rounds it (f32 tensors and Python floats).
#[derive(Clone, Copy)]
struct TorchaoCoef {
    /// `v ← lerp(v, g·g, c(1 − β₂))`.
    lerp2: TorchLerp,
    /// `c(η)`, `c(λ)`, `c(η)·c(λ)` (f32), `bc₁ = 1 − c(β₁)ᵗ` and `√bc₂` (f32).
    lr: f32,
    wd: f32,
    lr_wd: f32,
    bc1: f32,
    bc2_sqrt: f32,
    /// Decoupled decay (AdamW) rather than L2 — each applied also with `λ = 0`.
    decoupled: bool,
}

impl TorchaoCoef {
    fn new(lr: f64, beta1: f64, beta2: f64, weight_decay: f64, step: u32, decoupled: bool) -> Self {
        // torchao: `1 − beta ** step` with beta and step 0-dim f32 tensors: the f32 power,
        // here the f64 power of c(β) rounded once (torchao's own matched a correctly rounded
        // f32 power in all but 2 of 20,000 steps, its README).
        let bc = |beta: f64| 1.0 - pow_step(f64::from(c(beta)), step) as f32;
        let (lr, wd) = (c(lr), c(weight_decay));
        Self {
            lerp2: TorchLerp::with_weight(1.0 - beta2),
            lr,
            wd,
            lr_wd: lr * wd,
            bc1: bc(beta1),
            bc2_sqrt: libm::sqrtf(bc(beta2)),
            decoupled,
        }
    }
}

impl Coef {
    #[inline(always)]
    pub(crate) fn from_config(step: u32, cfg: &AdamConfig) -> Result<Self, Error> {
        Self::with_corrections(step, cfg, |beta1, beta2| {
            Ok(computed_corrections(beta1, beta2, step))
        })
    }

    /// [`Coef::from_config`] with the bias corrections `(1 − β₁ᵗ, √(1 − β₂ᵗ))` given by
    /// `corrections(β₁, β₂)`, called after every check of `cfg` and `step` has passed.
    #[inline(always)]
    fn with_corrections(
        step: u32,
        cfg: &AdamConfig,
        corrections: impl FnOnce(f64, f64) -> Result<(f64, f64), Error>,
    ) -> Result<Self, Error> {
        validate::numerics(
            cfg.numerics,
            &[Numerics::Bitsandbytes, Numerics::Fast, Numerics::Torchao],
        )?;
        if cfg.numerics == Numerics::Torchao {
            // torchao's low-bit Adam: no ε̂; AMSGrad not built here.
            for (name, on) in [("amsgrad", cfg.amsgrad), ("eps_hat", cfg.eps_hat)] {
                if on {
                    return Err(validate::conflict(name, 1.0));
                }
            }
        }
        if cfg.numerics == Numerics::Bitsandbytes {
            // bitsandbytes' Adam has no AMSGrad and no ε̂, and its weight decay is decoupled.
            for (name, on) in [("amsgrad", cfg.amsgrad), ("eps_hat", cfg.eps_hat)] {
                if on {
                    return Err(validate::conflict(name, 1.0));
                }
            }
            if cfg.weight_decay != 0.0 && !cfg.decoupled_weight_decay {
                return Err(validate::conflict("decoupled_weight_decay", 0.0));
            }
        }
        let lr = validate::non_negative("lr", cfg.lr)?;
        let beta1 = validate::unit_half_open("beta1", cfg.beta1)?;
        let beta2 = validate::unit_half_open("beta2", cfg.beta2)?;
        let eps = validate::non_negative("eps", cfg.eps)?;
        let weight_decay = validate::non_negative("weight_decay", cfg.weight_decay)?;
        let scale = signed_scale(cfg.grad_scale, cfg.maximize)?;
        validate::step(step)?;
        let (bc1, bc2_sqrt) = corrections(beta1, beta2)?;
        let decay = WeightDecay::from_config(lr, weight_decay, cfg.decoupled_weight_decay);
        Ok(Self {
            scale,
            decay,
            lerp1: TorchLerp::with_weight(1.0 - beta1),
            beta1: c(beta1),
            one_minus_beta1: c(1.0 - beta1),
            beta2: c(beta2),
            one_minus_beta2: c(1.0 - beta2),
            bc2_sqrt: c(bc2_sqrt),
            eps: c(eps),
            neg_step_size: c(-lr / bc1),
            portable_step: c(-lr * bc2_sqrt / bc1),
            portable_eps: if cfg.eps_hat { c(eps) } else { c(eps * bc2_sqrt) },
            torchao: (cfg.numerics == Numerics::Torchao).then(|| {
                TorchaoCoef::new(lr, beta1, beta2, weight_decay, step, cfg.decoupled_weight_decay)
            }),
            one_division: cfg.eps_hat
                || matches!(cfg.numerics, Numerics::Portable | Numerics::Fast),
            amsgrad: cfg.amsgrad,
            numerics: cfg.numerics,
        })
    }

    /// Every check of a call with these buffer lengths (`params`, `exp_avg`, `exp_avg_sq`,
    /// `max_exp_avg_sq`; `grads`), before any write.
    #[inline(always)]
    fn checked(
        [n, m, v, vmax]: [usize; 4],
        [g]: [usize; 1],
        step: u32,
        cfg: &AdamConfig,
    ) -> Result<Self, Error> {
        Self::check_lens([n, m, v, vmax], [g], cfg)?;
        Self::from_config(step, cfg)
    }

    /// [`Coef::checked`] for a prepared step: the corrections are `prepared`'s, checked to be
    /// in `(0, 1]`.
    #[inline(always)]
    fn checked_prepared(
        lens: [usize; 4],
        grad_lens: [usize; 1],
        prepared: &AdamPrepared,
    ) -> Result<Self, Error> {
        let cfg = &prepared.cfg;
        Self::check_lens(lens, grad_lens, cfg)?;
        Self::with_corrections(prepared.step, cfg, |_, _| {
            Ok((
                validate::positive_unit("bias_correction1", prepared.bias_correction1)?,
                validate::positive_unit("bias_correction2_sqrt", prepared.bias_correction2_sqrt)?,
            ))
        })
    }

    #[inline(always)]
    fn check_lens(
        [n, m, v, vmax]: [usize; 4],
        [g]: [usize; 1],
        cfg: &AdamConfig,
    ) -> Result<(), Error> {
        validate::len("grads", n, g)?;
        validate::len("exp_avg", n, m)?;
        validate::len("exp_avg_sq", n, v)?;
        validate::optional_len("max_exp_avg_sq", cfg.amsgrad, n, vmax)
    }
}

/// `(1 − β₁ᵗ, √(1 − β₂ᵗ))` in f64: the powers correctly rounded ([`bias_corrections`]).
#[inline(always)]
fn computed_corrections(beta1: f64, beta2: f64, step: u32) -> (f64, f64) {
    let (bc1, bc2) = bias_corrections(beta1, beta2, step);
    (bc1, libm::sqrt(bc2))
}

/// One Adam step's bias corrections, computed once by [`AdamConfig::prepare`] for every
/// tensor of the step and passed to [`adam_step_prepared`].
///
/// The powers `β₁ᵗ`, `β₂ᵗ` (a serial chain of f64 products, compensated so that they are
/// correctly rounded) and `√(1 − β₂ᵗ)` are most of a small [`adam_step`] call's fixed cost; a
/// model of many tensors pays them once per step this way. The result is bit for bit
/// [`adam_step`]'s with the same `cfg` and `step`.
///
/// The fields are public (and the C struct `optkern_adam_prepared` is this one): a call checks
/// `cfg` and `step` as [`adam_step`] does and each correction to be finite and in `(0, 1]`, but
/// it cannot check that the corrections are those of `cfg`'s betas at `step`. Change a field
/// and the step uses the value given; prepare again instead.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct AdamPrepared {
    /// The hyperparameters, as given to [`AdamConfig::prepare`].
    pub cfg: AdamConfig,
    /// The 1-based step.
    pub step: u32,
    /// `1 − β₁ᵗ` (f64).
    pub bias_correction1: f64,
    /// `√(1 − β₂ᵗ)` (f64).
    pub bias_correction2_sqrt: f64,
}

impl AdamConfig {
    /// The bias corrections of `step` for [`adam_step_prepared`], after every check
    /// [`adam_step`] makes of `self` and `step`.
    ///
    /// # Errors
    /// As [`adam_step`]'s for its `cfg` and `step` ([`Error::InvalidHyperparameter`],
    /// [`Error::ZeroStep`]).
    pub fn prepare(&self, step: u32) -> Result<AdamPrepared, Error> {
        let mut prepared =
            AdamPrepared { cfg: *self, step, bias_correction1: 1.0, bias_correction2_sqrt: 1.0 };
        Coef::with_corrections(step, self, |beta1, beta2| {
            let (bc1, bc2_sqrt) = computed_corrections(beta1, beta2, step);
            (prepared.bias_correction1, prepared.bias_correction2_sqrt) = (bc1, bc2_sqrt);
            Ok((bc1, bc2_sqrt))
        })?;
        Ok(prepared)
    }
}

impl Elementwise<4, 1> for Coef {
    fn used(&self) -> [bool; 4] {
        [true, true, true, self.amsgrad]
    }

    #[inline(never)]
    fn run(
        &self,
        width: Width,
        [params, exp_avg, exp_avg_sq, max_exp_avg_sq]: [&mut [f32]; 4],
        [grads]: [&[f32]; 1],
    ) {
        let k = self;
        // The options as compile-time constants (4 Ki elements: 2 % Torch, 7 % Portable,
        // README "Build cost"), except the weight-decay form, matched at run time in the lane
        // body (a predicted branch next to the divider: within noise of one loop per form, for
        // a third of the code). Only live combinations are compiled: Portable always has one
        // division and no lerp.
        let bufs = (params, grads, exp_avg, exp_avg_sq, max_exp_avg_sq);
        with_width!(width, |L, N| match k.numerics {
            // bitsandbytes: decoupled decay or none, no AMSGrad, no ε̂ (checked).
            Numerics::Bitsandbytes => {
                adam_loop::<L, N, Torch>(k, (Off, Off, On, Off), false, bufs)
            }
            // Fast: Portable's form, one loop per AMSGrad form and grad_scale = 1 or not (at
            // 4 Ki the multiply by 1 cost 4 %).
            Numerics::Fast => specialize!(k.scale == 1.0, |unit| {
                adam_loop::<L, N, Fast>(k, (On, Off, Off, unit), k.amsgrad, bufs)
            }),
            // torchao: its own lane body, decay form as a compile-time flag (no AMSGrad).
            Numerics::Torchao => {
                if let Some(t) = &k.torchao {
                    specialize!(t.decoupled, |dec| {
                        let (params, grads, exp_avg, exp_avg_sq, _) = bufs;
                        for_each_chunk::<N, 3, 1>(
                            [params, exp_avg, exp_avg_sq],
                            [grads],
                            #[inline(always)]
                            |[p, m, v], [g]| torchao_lanes::<L, N>(k, t, dec, p, g, m, v),
                        )
                    })
                }
            }
            // grad_scale = 1 specialised as in Fast (Portable: 10 instead of 11 plain
            // operations per vector next to the divider; Torch keeps the multiply).
            Numerics::Portable => specialize!(k.scale == 1.0, |unit| {
                adam_loop::<L, N, Portable>(k, (On, Off, Off, unit), k.amsgrad, bufs)
            }),
            _ => specialize!(k.one_division, |one| {
                specialize!(k.lerp1.is_small(), |small| {
                    adam_loop::<L, N, Torch>(k, (one, small, Off, Off), k.amsgrad, bufs)
                })
            }),
        });
    }

    const FUSED: bool = true;

    /// The fused loops ([`crate::format::fused`]): without AMSGrad, in `Portable`, `Fast`
    /// and torch's default form (two divisions, the small-weight lerp), `grad_scale`
    /// multiplied even when 1 (exact). One loop per profile and format combination; other
    /// options are staged.
    fn run_fused<P: Group16, S: Group16 + Default, G: Read16>(
        &self,
        width: Width,
        call: Call<P, S, G, 4, 1>,
    ) -> bool {
        let k = self;
        let torch_default = k.numerics == Numerics::Torch && !k.one_division && k.lerp1.is_small();
        if k.amsgrad
            || !(torch_default || matches!(k.numerics, Numerics::Portable | Numerics::Fast))
        {
            return false;
        }
        let Some(bufs) = call.states::<2>() else { return false };
        with_width!(width, |L, N| match k.numerics {
            Numerics::Portable => bufs.for_each_group::<N>(|p, [m, v], [g]| {
                adam_lanes::<L, N, Portable>(k, (On, Off, Off, Off), p, g, m, v, None)
            }),
            Numerics::Fast => bufs.for_each_group::<N>(|p, [m, v], [g]| {
                adam_lanes::<L, N, Fast>(k, (On, Off, Off, Off), p, g, m, v, None)
            }),
            _ => bufs.for_each_group::<N>(|p, [m, v], [g]| {
                adam_lanes::<L, N, Torch>(k, (Off, On, Off, Off), p, g, m, v, None)
            }),
        });
        true
    }
}

/// Adam (Kingma & Ba, 2015; `torch.optim.Adam`): updates `params`, `exp_avg` (`m`),
/// `exp_avg_sq` (`v`) and, with AMSGrad, `max_exp_avg_sq` (`v̂max`) in place.
///
/// For every index `i`, with `s = grad_scale` and `t = step` (1-based):
/// ```text
/// g ← s·grads[i]                        (−s·grads[i] with maximize)
/// p ← p·(1 − η·λ)                       decoupled weight decay (AdamW), or
/// g ← g + λ·p                           L2 weight decay
/// m ← β₁·m + (1 − β₁)·g
/// v ← β₂·v + (1 − β₂)·g²
/// v̂max ← max(v̂max, v);  u = v̂max  (AMSGrad)   or   u = v
/// p ← p − (η/(1 − β₁ᵗ))·m / (√u/√(1 − β₂ᵗ) + ε)
/// ```
/// The state names are torch's (`exp_avg`, `exp_avg_sq`, `max_exp_avg_sq`; the stored
/// `exp_avg_sq` is not maxed). Without AMSGrad `max_exp_avg_sq` is not used and may be empty.
///
/// [`Numerics::Torch`] follows PyTorch's order: `m = lerp(m, g, c(1−β₁))` (torch's two-branch
/// fused lerp), `v = fma(c(1−β₂)·g, g, v·c(β₂))`, `p = p + (c(−η/bc1)·m) / (√u / c(√bc2) + c(ε))`.
/// [`Numerics::Portable`] computes `m = c(β₁)·m + c(1−β₁)·g`, `v = v·c(β₂) + (c(1−β₂)·g)·g`
/// and `p = p + (c(−η·√bc2/bc1)·m) / (√u + c(ε·√bc2))`: one division, no fused op.
///
/// # Accuracy
/// Same bits at every width, offset and chunking. `Torch`: bit-identical to PyTorch on FMA
/// builds. Like PyTorch, the `Torch` lerp forms `1 − w` from the f32 `w = c(1 − β₁)`, so for
/// `0 < β₁ ≪ 1` the first moment carries a relative error of about `2⁻²⁵/β₁`; the `Portable`
/// profile multiplies by `c(β₁)` directly and has no such loss.
///
/// # Errors
/// [`Error::LengthMismatch`] if `grads`, `exp_avg`, `exp_avg_sq` or (with AMSGrad)
/// `max_exp_avg_sq` differ in length from `params`; [`Error::InvalidHyperparameter`] if a field
/// of `cfg` is NaN, infinite or out of range; [`Error::ZeroStep`] if `step == 0`.
/// **Nothing is written when an error is returned.** NaN and infinities in the data propagate.
///
/// # Example
/// ```
/// let (mut p, g, mut m, mut v) = ([1.0f32; 3], [0.5f32; 3], [0.0f32; 3], [0.0f32; 3]);
/// optkern::adam_step(&mut p, &g, &mut m, &mut v, &mut [], 1, &optkern::AdamConfig::default())?;
/// assert!((p[0] - 0.999).abs() < 1e-6);
/// # Ok::<(), optkern::Error>(())
/// ```
pub fn adam_step(
    params: &mut [f32],
    grads: &[f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    max_exp_avg_sq: &mut [f32],
    step: u32,
    cfg: &AdamConfig,
) -> Result<(), Error> {
    adam_step_with(Width::NATIVE, params, grads, exp_avg, exp_avg_sq, max_exp_avg_sq, step, cfg)
}

/// AdamW (Loshchilov & Hutter, 2019; `torch.optim.AdamW`): [`adam_step`] with
/// `decoupled_weight_decay` forced on, whatever `cfg` says. Start from [`AdamConfig::adamw`]
/// for torch's AdamW defaults (`weight_decay = 1e-2`).
///
/// # Errors
/// As [`adam_step`]. **Nothing is written when an error is returned.**
pub fn adamw_step(
    params: &mut [f32],
    grads: &[f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    max_exp_avg_sq: &mut [f32],
    step: u32,
    cfg: &AdamConfig,
) -> Result<(), Error> {
    let cfg = AdamConfig { decoupled_weight_decay: true, ..*cfg };
    adam_step(params, grads, exp_avg, exp_avg_sq, max_exp_avg_sq, step, &cfg)
}

/// [`adam_step`] at an explicit lane width (for tests and benches).
#[doc(hidden)]
#[allow(clippy::too_many_arguments)]
pub fn adam_step_with(
    width: Width,
    params: &mut [f32],
    grads: &[f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    max_exp_avg_sq: &mut [f32],
    step: u32,
    cfg: &AdamConfig,
) -> Result<(), Error> {
    let lens = [params.len(), exp_avg.len(), exp_avg_sq.len(), max_exp_avg_sq.len()];
    let k = Coef::checked(lens, [grads.len()], step, cfg)?;
    k.run(width, [params, exp_avg, exp_avg_sq, max_exp_avg_sq], [grads]);
    Ok(())
}

/// [`adam_step`] with the step's bias corrections computed beforehand ([`AdamConfig::prepare`]),
/// for a model of many tensors: each call skips the powers `β₁ᵗ`, `β₂ᵗ` and the root — in every
/// profile but [`Numerics::Torchao`], whose corrections are powers of the f32 betas rounded to
/// f32 (torchao's order), still computed per call. The same bits as
/// `adam_step(…, prepared.step, &prepared.cfg)`.
///
/// # Errors
/// As [`adam_step`], and [`Error::InvalidHyperparameter`] (field `bias_correction1` or
/// `bias_correction2_sqrt`) for a correction that is not finite or not in `(0, 1]`.
/// **Nothing is written when an error is returned.**
///
/// # Example
/// ```
/// let cfg = optkern::AdamConfig::default();
/// let prepared = cfg.prepare(1)?; // once per step
/// let (mut p, g, mut m, mut v) = ([1.0f32; 3], [0.5f32; 3], [0.0f32; 3], [0.0f32; 3]);
/// optkern::adam_step_prepared(&mut p, &g, &mut m, &mut v, &mut [], &prepared)?; // per tensor
/// assert!((p[0] - 0.999).abs() < 1e-6);
/// # Ok::<(), optkern::Error>(())
/// ```
pub fn adam_step_prepared(
    params: &mut [f32],
    grads: &[f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    max_exp_avg_sq: &mut [f32],
    prepared: &AdamPrepared,
) -> Result<(), Error> {
    adam_step_prepared_with(
        Width::NATIVE,
        params,
        grads,
        exp_avg,
        exp_avg_sq,
        max_exp_avg_sq,
        prepared,
    )
}

/// [`adam_step_prepared`] at an explicit lane width (for tests and benches).
#[doc(hidden)]
pub fn adam_step_prepared_with(
    width: Width,
    params: &mut [f32],
    grads: &[f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    max_exp_avg_sq: &mut [f32],
    prepared: &AdamPrepared,
) -> Result<(), Error> {
    let lens = [params.len(), exp_avg.len(), exp_avg_sq.len(), max_exp_avg_sq.len()];
    let k = Coef::checked_prepared(lens, [grads.len()], prepared)?;
    k.run(width, [params, exp_avg, exp_avg_sq, max_exp_avg_sq], [grads]);
    Ok(())
}

mixed_step! {
    /// [`adam_step`] (or, with `decoupled_weight_decay`, [`adamw_step`]) in mixed storage
    /// formats ([`crate::format`]): bf16/f16 gradients; f32 parameters (optionally writing a
    /// bf16/f16 copy of the new values in the same pass) or bf16 parameters rounded to nearest
    /// or stochastically; each state in f32, bf16, `q8`, `q4` or `fp8` (`State::Unused` for
    /// `max_exp_avg_sq` without AMSGrad). The arithmetic is [`adam_step`]'s on the values as
    /// read.
    ///
    /// # Errors
    /// As [`adam_step`], and [`Error::Misaligned`] (a quantized state with `at.offset` not a
    /// multiple of its block) or [`Error::LengthMismatch`] for a copy, codes or scales of the
    /// wrong length. **Nothing is written when an error is returned.**
    adam_step_mixed, adam_step_mixed_with,
    (params, grads, exp_avg, exp_avg_sq, max_exp_avg_sq; step: u32, cfg: &AdamConfig),
    checked: |o, i| Coef::checked(o, i, step, cfg),
}

/// Buffers of one Adam call: `params`, `grads`, `exp_avg`, `exp_avg_sq`, `max_exp_avg_sq`.
type AdamBuffers<'a> = (&'a mut [f32], &'a [f32], &'a mut [f32], &'a mut [f32], &'a mut [f32]);

/// The chunk loop of one option combination.
#[inline(always)]
fn adam_loop<L: Lanes<N>, const N: usize, P: Profile>(
    k: &Coef,
    flags: (impl Flag, impl Flag, impl Flag, impl Flag),
    amsgrad: bool,
    (params, grads, exp_avg, exp_avg_sq, max_exp_avg_sq): AdamBuffers,
) {
    if amsgrad {
        for_each_chunk::<N, 4, 1>(
            [params, exp_avg, exp_avg_sq, max_exp_avg_sq],
            [grads],
            #[inline(always)]
            |[p, m, v, vmax], [g]| adam_lanes::<L, N, P>(k, flags, p, g, m, v, Some(vmax)),
        )
    } else {
        for_each_chunk::<N, 3, 1>(
            [params, exp_avg, exp_avg_sq],
            [grads],
            #[inline(always)]
            |[p, m, v], [g]| adam_lanes::<L, N, P>(k, flags, p, g, m, v, None),
        )
    }
}

/// The Adam update of `N` elements. `(one, small, bnb, unit)`: the one-division form, torch's
/// small-weight lerp branch, bitsandbytes' first moment, `grad_scale = 1` (no multiply: exact
/// either way).
#[inline(always)]
fn adam_lanes<L: Lanes<N>, const N: usize, P: Profile>(
    k: &Coef,
    (one, small, bnb, unit): (impl Flag, impl Flag, impl Flag, impl Flag),
    p: &mut [f32; N],
    g: &[f32; N],
    m: &mut [f32; N],
    v: &mut [f32; N],
    vmax: Option<&mut [f32; N]>,
) {
    let mut g = L::load(g);
    if !unit.on() {
        g = g * L::splat(k.scale);
    }
    let (param, g) = k.decay.apply::<P, L, N>(L::load(p), g);
    let m_new = if bnb.on() {
        P::fma(g, L::splat(k.one_minus_beta1), L::load(m) * L::splat(k.beta1))
    } else if P::TORCH {
        k.lerp1.apply_branch::<P, L, N>(small, L::load(m), g)
    } else {
        P::fma(L::load(m), L::splat(k.beta1), L::splat(k.one_minus_beta1) * g)
    };
    let v_new = P::fma(L::splat(k.one_minus_beta2) * g, g, L::load(v) * L::splat(k.beta2));
    m_new.store(m);
    v_new.store(v);
    let u = match vmax {
        Some(vmax) => {
            let u = L::load(vmax).max_nan(v_new);
            u.store(vmax);
            u
        }
        None => v_new,
    };
    let param = if one.on() {
        let step = L::splat(k.portable_step) * m_new;
        P::add_div(param, step, P::sqrt(u) + L::splat(k.portable_eps))
    } else {
        let step = L::splat(k.neg_step_size) * m_new;
        param + step / (u.sqrt() / L::splat(k.bc2_sqrt) + L::splat(k.eps))
    };
    param.store(p);
}

/// torchao's Adam/AdamW update of `N` elements (`Numerics::Torchao`, `single_param_adam`):
/// ```text
/// θ ← θ − (c(η)·c(λ))·θ    decoupled (AdamW), or  g ← fma(θ, c(λ), g)  (both also for λ = 0)
/// m ← lerp(m, g, c(1 − β₁)),  v ← lerp(v, g·g, c(1 − β₂))
/// θ ← θ − (c(η)·(m/bc₁)) / (√v/√bc₂ + c(ε))          bc₁, √bc₂ in f32
/// ```
#[inline(always)]
fn torchao_lanes<L: Lanes<N>, const N: usize>(
    k: &Coef,
    t: &TorchaoCoef,
    decoupled: impl Flag,
    p: &mut [f32; N],
    g: &[f32; N],
    m: &mut [f32; N],
    v: &mut [f32; N],
) {
    let mut param = L::load(p);
    let mut g = L::load(g) * L::splat(k.scale);
    if decoupled.on() {
        param = param - L::splat(t.lr_wd) * param;
    } else {
        g = Torch::fma(param, L::splat(t.wd), g);
    }
    let m_new = k.lerp1.apply::<Torch, L, N>(L::load(m), g);
    let v_new = t.lerp2.apply::<Torch, L, N>(L::load(v), g * g);
    m_new.store(m);
    v_new.store(v);
    let d = v_new.sqrt() / L::splat(t.bc2_sqrt) + L::splat(k.eps);
    (param - (L::splat(t.lr) * (m_new / L::splat(t.bc1))) / d).store(p);
}
