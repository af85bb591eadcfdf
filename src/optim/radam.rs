//! RAdam (`torch.optim.RAdam`): Adam with a rectified adaptive learning rate.

use crate::driver::for_each_chunk;
use crate::format::Elementwise;
use crate::lanes::Lanes;
use crate::numerics::{Numerics, Profile, TorchLerp, c, pow_step2, with_profile};
use crate::optim::WeightDecay;
use crate::optim::{mixed_step, signed_scale};
use crate::width::with_width;
use crate::{Error, Width, validate};

/// Hyperparameters of [`radam_step`]. [`Default`] is `torch.optim.RAdam`'s.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct RadamConfig {
    /// Learning rate `η`. Default `1e-3`; finite, ≥ 0.
    pub lr: f64,
    /// `β₁`. Default `0.9`; finite, in `[0, 1)`.
    pub beta1: f64,
    /// `β₂`. Default `0.999`; finite, in `[0, 1)`.
    pub beta2: f64,
    /// `ε`. Default `1e-8`; finite, ≥ 0.
    pub eps: f64,
    /// Weight decay `λ`. Default `0`; finite, ≥ 0.
    pub weight_decay: f64,
    /// Decoupled weight decay (`θ ← θ(1 − ηλ)`) instead of L2. Default `false`.
    pub decoupled_weight_decay: bool,
    /// Maximize the objective (negate the gradient first). Default `false`.
    pub maximize: bool,
    /// Multiplier `s` applied to the gradient first. Default `1` (exact); finite, ≥ 0.
    pub grad_scale: f32,
    /// Operation order. Default [`Numerics::Torch`].
    pub numerics: Numerics,
}

impl Default for RadamConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled_weight_decay: false,
            maximize: false,
            grad_scale: 1.0,
            numerics: Numerics::Torch,
        }
    }
}

struct Coef {
    scale: f32,
    decay: WeightDecay,
    lerp1: TorchLerp,
    beta1: f32,
    one_minus_beta1: f32,
    beta2: f32,
    one_minus_beta2: f32,
    /// `ρ_t > 5`: the rectified, adaptive branch.
    rectified: bool,
    /// Torch: `c(bc1)`, `c(η)`, `c(ε)`, `c(√bc2)`, `c(r_t)`.
    bc1: f32,
    lr: f32,
    eps: f32,
    bc2_sqrt: f32,
    rect: f32,
    /// Portable: `c(−η/bc1)` (un-rectified) or `c(−η·r_t·√bc2/bc1)` (rectified).
    portable_step: f32,
    numerics: Numerics,
}

/// The step's corrections: `1 − β₁ᵗ`, `√(1 − β₂ᵗ)` and the rectifier `r_t` (`None` while
/// `ρ_t ≤ 5`) ([`RadamPrepared`]).
#[derive(Clone, Copy)]
struct Corrections {
    bc1: f64,
    bc2_sqrt: f64,
    rect: Option<f64>,
}

impl Corrections {
    /// The corrections of `step`: the compensated powers, `ρ_t` and `r_t` (most of a small
    /// call's cost: a chain of f64 products, divisions and roots).
    #[inline(always)]
    fn of(step: u32, beta1: f64, beta2: f64) -> Self {
        let t = f64::from(step);
        let [beta1_t, beta2_t] = pow_step2([beta1, beta2], step);
        let bc2 = 1.0 - beta2_t;
        let rho_inf = 2.0 / (1.0 - beta2) - 1.0;
        let rho_t = rho_inf - 2.0 * t * beta2_t / bc2;
        Self {
            bc1: 1.0 - beta1_t,
            bc2_sqrt: libm::sqrt(bc2),
            rect: (rho_t > 5.0).then(|| {
                libm::sqrt(
                    (rho_t - 4.0) * (rho_t - 2.0) * rho_inf
                        / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t),
                )
            }),
        }
    }
}

impl Coef {
    #[inline(always)]
    fn from_config(step: u32, cfg: &RadamConfig) -> Result<Self, Error> {
        Self::with_corrections(step, cfg, |beta1, beta2| Ok(Corrections::of(step, beta1, beta2)))
    }

    /// [`Coef::from_config`] with the step's corrections given by `corrections(β₁, β₂)`,
    /// called after every check of `cfg` and `step` has passed.
    #[inline(always)]
    fn with_corrections(
        step: u32,
        cfg: &RadamConfig,
        corrections: impl FnOnce(f64, f64) -> Result<Corrections, Error>,
    ) -> Result<Self, Error> {
        validate::numerics(cfg.numerics, &[Numerics::Fast])?;
        let lr = validate::non_negative("lr", cfg.lr)?;
        let beta1 = validate::unit_half_open("beta1", cfg.beta1)?;
        let beta2 = validate::unit_half_open("beta2", cfg.beta2)?;
        let eps = validate::non_negative("eps", cfg.eps)?;
        let weight_decay = validate::non_negative("weight_decay", cfg.weight_decay)?;
        let scale = signed_scale(cfg.grad_scale, cfg.maximize)?;
        validate::step(step)?;
        let Corrections { bc1, bc2_sqrt, rect } = corrections(beta1, beta2)?;
        let decay = WeightDecay::from_config(lr, weight_decay, cfg.decoupled_weight_decay);
        Ok(Self {
            scale,
            decay,
            lerp1: TorchLerp::with_weight(1.0 - beta1),
            beta1: c(beta1),
            one_minus_beta1: c(1.0 - beta1),
            beta2: c(beta2),
            one_minus_beta2: c(1.0 - beta2),
            rectified: rect.is_some(),
            bc1: c(bc1),
            lr: c(lr),
            eps: c(eps),
            bc2_sqrt: c(bc2_sqrt),
            rect: c(rect.unwrap_or(1.0)),
            portable_step: match rect {
                Some(rect) => c(-lr * rect * bc2_sqrt / bc1),
                None => c(-lr / bc1),
            },
            numerics: cfg.numerics,
        })
    }

    /// Every check of a call with these lengths (`params`, `exp_avg`, `exp_avg_sq`; `grads`).
    #[inline(always)]
    fn checked(
        [n, l1, l2]: [usize; 3],
        [i0]: [usize; 1],
        step: u32,
        cfg: &RadamConfig,
    ) -> Result<Self, Error> {
        Self::check_lens([n, l1, l2], [i0])?;
        Self::from_config(step, cfg)
    }

    /// The length checks of [`Coef::checked`] and [`Coef::checked_prepared`].
    #[inline(always)]
    fn check_lens([n, l1, l2]: [usize; 3], [i0]: [usize; 1]) -> Result<(), Error> {
        validate::len("grads", n, i0)?;
        validate::len("exp_avg", n, l1)?;
        validate::len("exp_avg_sq", n, l2)
    }

    /// [`Coef::checked`] for a prepared step: the corrections are `prepared`'s, each checked
    /// (`1 − β₁ᵗ` and `√(1 − β₂ᵗ)` in `(0, 1]`, `r_t` finite and `≥ 0`).
    #[inline(always)]
    fn checked_prepared(
        [n, l1, l2]: [usize; 3],
        [i0]: [usize; 1],
        prepared: &RadamPrepared,
    ) -> Result<Self, Error> {
        Self::check_lens([n, l1, l2], [i0])?;
        Self::with_corrections(prepared.step, &prepared.cfg, |_, _| {
            let rect = validate::non_negative("rectifier", prepared.rectifier)?;
            Ok(Corrections {
                bc1: validate::positive_unit("bias_correction1", prepared.bias_correction1)?,
                bc2_sqrt: validate::positive_unit(
                    "bias_correction2_sqrt",
                    prepared.bias_correction2_sqrt,
                )?,
                rect: (rect > 0.0).then_some(rect),
            })
        })
    }
}

/// One RAdam step's corrections, computed once by [`RadamConfig::prepare`] for every tensor
/// of the step and passed to [`radam_step_prepared`].
///
/// The powers `β₁ᵗ`, `β₂ᵗ` (compensated, correctly rounded), `ρ_t` and the rectifier `r_t`
/// are most of a small [`radam_step`] call's fixed cost; a model of many tensors pays them
/// once per step this way. The result is bit for bit [`radam_step`]'s with the same `cfg` and
/// `step`.
///
/// The fields are public (and the C struct `optkern_radam_prepared` is this one): a call checks
/// `cfg` and `step` as [`radam_step`] does, each bias correction to be finite and in `(0, 1]`
/// and the rectifier finite and `≥ 0`, but it cannot check that they are those of `cfg` at
/// `step`. Change a field and the step uses the value given; prepare again instead.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct RadamPrepared {
    /// The hyperparameters, as given to [`RadamConfig::prepare`].
    pub cfg: RadamConfig,
    /// The 1-based step.
    pub step: u32,
    /// `1 − β₁ᵗ` (f64).
    pub bias_correction1: f64,
    /// `√(1 − β₂ᵗ)` (f64).
    pub bias_correction2_sqrt: f64,
    /// `r_t` when `ρ_t > 5` (the rectified step); `0` before (the un-rectified step).
    pub rectifier: f64,
}

impl RadamConfig {
    /// The corrections of `step` for [`radam_step_prepared`], after every check
    /// [`radam_step`] makes of `self` and `step`.
    ///
    /// # Errors
    /// As [`radam_step`]'s for its `cfg` and `step` ([`Error::InvalidHyperparameter`],
    /// [`Error::ZeroStep`]).
    pub fn prepare(&self, step: u32) -> Result<RadamPrepared, Error> {
        let mut prepared = RadamPrepared {
            cfg: *self,
            step,
            bias_correction1: 1.0,
            bias_correction2_sqrt: 1.0,
            rectifier: 0.0,
        };
        Coef::with_corrections(step, self, |beta1, beta2| {
            let k = Corrections::of(step, beta1, beta2);
            (prepared.bias_correction1, prepared.bias_correction2_sqrt) = (k.bc1, k.bc2_sqrt);
            prepared.rectifier = k.rect.unwrap_or(0.0);
            Ok(k)
        })?;
        Ok(prepared)
    }
}

impl Elementwise<3, 1> for Coef {
    fn used(&self) -> [bool; 3] {
        [true; 3]
    }

    #[inline(never)]
    fn run(
        &self,
        width: Width,
        [params, exp_avg, exp_avg_sq]: [&mut [f32]; 3],
        [grads]: [&[f32]; 1],
    ) {
        let k = self;
        with_width!(width, |L, N| with_profile!(fast k.numerics, |P| {
            for_each_chunk::<N, 3, 1>(
                [params, exp_avg, exp_avg_sq],
                [grads],
                #[inline(always)]
                |[p, m, v], [g]| radam_lanes::<L, N, P>(k, p, g, m, v),
            )
        }));
    }
}

/// RAdam (Liu et al. 2020; `torch.optim.RAdam`): updates `params`, `exp_avg` (`m`) and
/// `exp_avg_sq` (`v`) in place.
///
/// With `s = grad_scale`, `t = step` (1-based), `ρ_∞ = 2/(1 − β₂) − 1` and
/// `ρ_t = ρ_∞ − 2tβ₂ᵗ/(1 − β₂ᵗ)`, for every index `i`:
/// ```text
/// g ← s·grads[i]                          (−s·grads[i] with maximize)
/// θ ← θ·(1 − ηλ)   (decoupled)   or   g ← g + λθ   (L2)
/// m ← β₁m + (1 − β₁)g;   v ← β₂v + (1 − β₂)g²;   m̂ = m/(1 − β₁ᵗ)
/// ρ_t > 5:  r_t = √((ρ_t−4)(ρ_t−2)ρ_∞ / ((ρ_∞−4)(ρ_∞−2)ρ_t));   θ ← θ − η·m̂·√(1−β₂ᵗ)/(√v + ε)·r_t
/// ρ_t ≤ 5:  θ ← θ − η·m̂            (the un-rectified first steps: no second moment, no ε)
/// ```
/// [`Numerics::Torch`] (PyTorch's order): `m̂ = m / c(bc1)`; rectified:
/// `θ − ((m̂·c(η))·((1/(√v + c(ε)))·c(√bc2)))·c(r_t)`; else `θ − m̂·c(η)`.
/// [`Numerics::Portable`]: `θ + c(−η r_t √bc2/bc1)·m / (√v + c(ε))` (one division), or
/// `θ + c(−η/bc1)·m`.
///
/// # Errors
/// [`Error::LengthMismatch`], [`Error::InvalidHyperparameter`], [`Error::ZeroStep`].
/// **Nothing is written when an error is returned.**
pub fn radam_step(
    params: &mut [f32],
    grads: &[f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    step: u32,
    cfg: &RadamConfig,
) -> Result<(), Error> {
    radam_step_with(Width::NATIVE, params, grads, exp_avg, exp_avg_sq, step, cfg)
}

/// [`radam_step`] at an explicit lane width (for tests and benches).
#[doc(hidden)]
pub fn radam_step_with(
    width: Width,
    params: &mut [f32],
    grads: &[f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    step: u32,
    cfg: &RadamConfig,
) -> Result<(), Error> {
    let k =
        Coef::checked([params.len(), exp_avg.len(), exp_avg_sq.len()], [grads.len()], step, cfg)?;
    k.run(width, [params, exp_avg, exp_avg_sq], [grads]);
    Ok(())
}

/// [`radam_step`] with the step's corrections computed beforehand ([`RadamConfig::prepare`]),
/// for a model of many tensors: each call skips the powers `β₁ᵗ`, `β₂ᵗ`, `ρ_t` and the
/// rectifier's root. The same bits as `radam_step(…, prepared.step, &prepared.cfg)`.
///
/// # Errors
/// As [`radam_step`], and [`Error::InvalidHyperparameter`] (field `bias_correction1`,
/// `bias_correction2_sqrt` or `rectifier`) for a correction out of its range. **Nothing is
/// written when an error is returned.**
///
/// # Example
/// ```
/// let cfg = optkern::RadamConfig::default();
/// let prepared = cfg.prepare(7)?; // once per step
/// let (mut p, g, mut m, mut v) = ([1.0f32; 3], [0.5f32; 3], [0.1f32; 3], [0.2f32; 3]);
/// optkern::radam_step_prepared(&mut p, &g, &mut m, &mut v, &prepared)?; // per tensor
/// // The same step as `radam_step`'s:
/// let (mut q, mut m2, mut v2) = ([1.0f32; 3], [0.1f32; 3], [0.2f32; 3]);
/// optkern::radam_step(&mut q, &g, &mut m2, &mut v2, 7, &cfg)?;
/// assert_eq!((p, m, v), (q, m2, v2));
/// # Ok::<(), optkern::Error>(())
/// ```
pub fn radam_step_prepared(
    params: &mut [f32],
    grads: &[f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    prepared: &RadamPrepared,
) -> Result<(), Error> {
    radam_step_prepared_with(Width::NATIVE, params, grads, exp_avg, exp_avg_sq, prepared)
}

/// [`radam_step_prepared`] at an explicit lane width (for tests and benches).
#[doc(hidden)]
pub fn radam_step_prepared_with(
    width: Width,
    params: &mut [f32],
    grads: &[f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    prepared: &RadamPrepared,
) -> Result<(), Error> {
    let lens = [params.len(), exp_avg.len(), exp_avg_sq.len()];
    let k = Coef::checked_prepared(lens, [grads.len()], prepared)?;
    k.run(width, [params, exp_avg, exp_avg_sq], [grads]);
    Ok(())
}

mixed_step! {
    /// [`radam_step`] in mixed storage formats ([`crate::format`]).
    ///
    /// # Errors
    /// As [`radam_step`], and the format errors of [`crate::adam_step_mixed`]. **Nothing is written
    /// when an error is returned.**
    radam_step_mixed, radam_step_mixed_with,
    (params, grads, exp_avg, exp_avg_sq; step: u32, cfg: &RadamConfig),
    checked: |o, i| Coef::checked(o, i, step, cfg),
}

#[inline(always)]
fn radam_lanes<L: Lanes<N>, const N: usize, P: Profile>(
    k: &Coef,
    p: &mut [f32; N],
    g: &[f32; N],
    m: &mut [f32; N],
    v: &mut [f32; N],
) {
    let (param, g) = k.decay.apply::<P, L, N>(L::load(p), L::load(g) * L::splat(k.scale));
    let m_new = if P::TORCH {
        k.lerp1.apply::<P, L, N>(L::load(m), g)
    } else {
        P::fma(L::load(m), L::splat(k.beta1), L::splat(k.one_minus_beta1) * g)
    };
    let v_new = P::fma(L::splat(k.one_minus_beta2) * g, g, L::load(v) * L::splat(k.beta2));
    m_new.store(m);
    v_new.store(v);
    let new = if P::TORCH {
        let mhat = m_new / L::splat(k.bc1);
        if k.rectified {
            let adaptive =
                (L::splat(1.0) / (v_new.sqrt() + L::splat(k.eps))) * L::splat(k.bc2_sqrt);
            param - ((mhat * L::splat(k.lr)) * adaptive) * L::splat(k.rect)
        } else {
            param - mhat * L::splat(k.lr)
        }
    } else if k.rectified {
        P::add_div(param, L::splat(k.portable_step) * m_new, P::sqrt(v_new) + L::splat(k.eps))
    } else {
        P::fma(L::splat(k.portable_step), m_new, param)
    };
    new.store(p);
}
