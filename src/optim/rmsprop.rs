//! RMSprop (`torch.optim.RMSprop`), and the source notes' form with ε inside the square root.

use crate::driver::for_each_chunk;
use crate::format::Elementwise;
use crate::format::fused::{Call, Group16, Read16};
use crate::lanes::Lanes;
use crate::numerics::{Flag, Numerics, Profile, TorchLerp, c, with_profile, with_unit_scale};
use crate::optim::{mixed_step, signed};
use crate::width::with_width;
use crate::{Error, Width, validate};

/// Hyperparameters of [`rmsprop_step`]. [`Default`] is `torch.optim.RMSprop`'s;
/// [`RmspropConfig::textbook`] is the source notes' form.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct RmspropConfig {
    /// Learning rate `η`. Default `1e-2`; finite, ≥ 0.
    pub lr: f64,
    /// Smoothing constant `ρ` (torch's `alpha`). Default `0.99`; finite, in `[0, 1]`.
    pub alpha: f64,
    /// `ε`. Default `1e-8`; finite, ≥ 0.
    pub eps: f64,
    /// L2 weight decay `λ`. Default `0`; finite, ≥ 0.
    pub weight_decay: f64,
    /// Momentum `μ`; `0` = no `momentum_buffer`. Default `0`; finite, ≥ 0.
    pub momentum: f64,
    /// Centered: divide by the estimated variance `E[g²] − E[g]²` (`grad_avg` state).
    pub centered: bool,
    /// `false`: `√s + ε` (PyTorch). `true`: `√(s + ε)` (the source notes).
    pub eps_inside_sqrt: bool,
    /// Maximize the objective (negate the gradient first). Default `false`.
    pub maximize: bool,
    /// Multiplier `s` applied to the gradient first. Default `1` (exact); finite, ≥ 0.
    pub grad_scale: f32,
    /// Operation order. Default [`Numerics::Torch`].
    pub numerics: Numerics,
}

impl Default for RmspropConfig {
    fn default() -> Self {
        Self {
            lr: 1e-2,
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.0,
            centered: false,
            eps_inside_sqrt: false,
            maximize: false,
            grad_scale: 1.0,
            numerics: Numerics::Torch,
        }
    }
}

impl RmspropConfig {
    /// The source notes' RMSProp: `s ← ρs + (1 − ρ)g²`, `θ ← θ − η/√(s + ε) · g` with
    /// `ρ = 0.9`, `η = 1e-3`, `ε = 1e-6`, in the [`Numerics::Portable`] profile.
    pub fn textbook() -> Self {
        Self {
            lr: 1e-3,
            alpha: 0.9,
            eps: 1e-6,
            eps_inside_sqrt: true,
            numerics: Numerics::Portable,
            ..Self::default()
        }
    }
}

pub(crate) struct Coef {
    scale: f32,
    weight_decay: Option<f32>,
    alpha: f32,
    one_minus_alpha: f32,
    lerp: TorchLerp,
    eps: f32,
    eps_inside: bool,
    momentum: Option<f32>,
    neg_lr: f32,
    centered: bool,
    numerics: Numerics,
}

impl Coef {
    /// [`Self::validate`], then the coefficients (the unit tests' constructor).
    #[cfg(test)]
    pub(crate) fn from_config(cfg: &RmspropConfig) -> Result<Self, Error> {
        Self::validate(cfg)?;
        Ok(Self::of(cfg))
    }

    /// Every check of the hyperparameters.
    #[inline(always)]
    fn validate(cfg: &RmspropConfig) -> Result<(), Error> {
        validate::numerics(cfg.numerics, &[Numerics::Bitsandbytes, Numerics::Fast])?;
        // bitsandbytes' RMSprop has no centered form and ignores momentum: refuse them.
        if cfg.numerics == Numerics::Bitsandbytes && (cfg.centered || cfg.momentum != 0.0) {
            return Err(validate::conflict("numerics", 2.0));
        }
        validate::non_negative("lr", cfg.lr)?;
        validate::unit_closed("alpha", cfg.alpha)?;
        validate::non_negative("eps", cfg.eps)?;
        validate::non_negative("weight_decay", cfg.weight_decay)?;
        validate::non_negative("momentum", cfg.momentum)?;
        validate::grad_scale(cfg.grad_scale)?;
        Ok(())
    }

    /// The coefficients of a config [`Self::validate`] accepted.
    #[inline(always)]
    fn of(cfg: &RmspropConfig) -> Self {
        let alpha = cfg.alpha;
        Self {
            scale: signed(cfg.grad_scale, cfg.maximize),
            // bitsandbytes adds λ·θ even when λ = 0 (a −0 gradient becomes +0).
            weight_decay: (cfg.weight_decay != 0.0 || cfg.numerics == Numerics::Bitsandbytes)
                .then(|| c(cfg.weight_decay)),
            alpha: c(alpha),
            one_minus_alpha: c(1.0 - alpha),
            lerp: TorchLerp::with_weight(1.0 - alpha),
            eps: c(cfg.eps),
            eps_inside: cfg.eps_inside_sqrt,
            momentum: (cfg.momentum != 0.0).then(|| c(cfg.momentum)),
            neg_lr: c(-cfg.lr),
            centered: cfg.centered,
            numerics: cfg.numerics,
        }
    }

    /// Every check of a call with these lengths (`params`, `square_avg`, `momentum_buffer`,
    /// `grad_avg`; `grads`).
    #[inline(always)]
    fn check(
        [n, sq, b, ga]: [usize; 4],
        [g]: [usize; 1],
        cfg: &RmspropConfig,
    ) -> Result<(), Error> {
        validate::len("grads", n, g)?;
        validate::len("square_avg", n, sq)?;
        validate::optional_len("momentum_buffer", cfg.momentum != 0.0, n, b)?;
        validate::optional_len("grad_avg", cfg.centered, n, ga)?;
        Self::validate(cfg)
    }

    /// [`Self::check`], then the coefficients.
    #[inline(always)]
    fn checked(lens: [usize; 4], grads: [usize; 1], cfg: &RmspropConfig) -> Result<Self, Error> {
        Self::check(lens, grads, cfg)?;
        Ok(Self::of(cfg))
    }
}

impl Elementwise<4, 1> for Coef {
    fn used(&self) -> [bool; 4] {
        [true, true, self.momentum.is_some(), self.centered]
    }

    #[inline(never)]
    fn run(
        &self,
        width: Width,
        [params, square_avg, momentum_buffer, grad_avg]: [&mut [f32]; 4],
        [grads]: [&[f32]; 1],
    ) {
        let k = self;
        with_width!(width, |L, N| match (k.momentum.is_some(), k.centered) {
            // torch's default form: no multiply by a grad_scale of 1 (Portable, Fast).
            (false, false) => with_unit_scale!(k.numerics, k.scale, |P, unit| {
                for_each_chunk::<N, 2, 1>(
                    [params, square_avg],
                    [grads],
                    #[inline(always)]
                    |[p, sq], [g]| rmsprop_lanes::<L, N, P>(k, unit, p, g, sq, None, None),
                )
            }),
            form => with_profile!(fast k.numerics, |P| match form {
                (true, true) => for_each_chunk::<N, 4, 1>(
                    [params, square_avg, momentum_buffer, grad_avg],
                    [grads],
                    #[inline(always)]
                    |[p, sq, b, ga], [g]| {
                        rmsprop_lanes::<L, N, P>(k, false, p, g, sq, Some(b), Some(ga))
                    },
                ),
                (true, false) => for_each_chunk::<N, 3, 1>(
                    [params, square_avg, momentum_buffer],
                    [grads],
                    #[inline(always)]
                    |[p, sq, b], [g]| rmsprop_lanes::<L, N, P>(k, false, p, g, sq, Some(b), None),
                ),
                _ => for_each_chunk::<N, 3, 1>(
                    [params, square_avg, grad_avg],
                    [grads],
                    #[inline(always)]
                    |[p, sq, ga], [g]| rmsprop_lanes::<L, N, P>(k, false, p, g, sq, None, Some(ga)),
                ),
            }),
        });
    }

    const FUSED: bool = true;

    /// The fused loops ([`crate::format::fused`]) of torch's default form (no momentum, not
    /// centered), every profile; the other forms are staged.
    fn run_fused<P: Group16, S: Group16 + Default, G: Read16>(
        &self,
        width: Width,
        call: Call<P, S, G, 4, 1>,
    ) -> bool {
        let k = self;
        // One used state (`square_avg`) is the default form: momentum and centering add one each.
        let Some(bufs) = call.states::<1>() else { return false };
        with_width!(width, |L, N| with_profile!(fast k.numerics, |Pf| {
            bufs.for_each_group::<N>(|p, [sq], [g]| {
                rmsprop_lanes::<L, N, Pf>(k, false, p, g, sq, None, None)
            })
        }));
        true
    }
}

/// RMSprop (Hinton's lecture 6e; `torch.optim.RMSprop`): updates `params`, `square_avg` and,
/// with momentum, `momentum_buffer` and, when centered, `grad_avg`, in place (torch's state
/// names). Unused buffers may be empty.
///
/// For every index `i`, with `s = grad_scale`:
/// ```text
/// g ← s·grads[i] (+ λ·θ[i])                   (−s·grads[i] with maximize)
/// sq ← ρ·sq + (1 − ρ)·g²
/// centered: ga ← ρ·ga + (1 − ρ)·g;  var = sq − ga²   else var = sq   (not clamped, as torch)
/// a = √var + ε                   (PyTorch)   or   a = √(var + ε)   (eps_inside_sqrt)
/// momentum μ > 0:  b ← μ·b + g/a;  θ ← θ − η·b
/// otherwise:       θ ← θ − η·g/a
/// ```
/// [`Numerics::Torch`]: `sq = fma(c(1−ρ)·g, g, sq·c(ρ))`, `ga = lerp(ga, g, c(1−ρ))`,
/// `var = fma(−ga, ga, sq)`, `b = b·c(μ) + g/a`, `θ = fma(c(−η), b, θ)` or `θ + (c(−η)·g)/a`.
///
/// # Errors
/// [`Error::LengthMismatch`] if `grads`, `square_avg` or a buffer its option uses differ in
/// length from `params`; [`Error::InvalidHyperparameter`] for a NaN, infinite or out-of-range
/// field. **Nothing is written when an error is returned.**
pub fn rmsprop_step(
    params: &mut [f32],
    grads: &[f32],
    square_avg: &mut [f32],
    momentum_buffer: &mut [f32],
    grad_avg: &mut [f32],
    cfg: &RmspropConfig,
) -> Result<(), Error> {
    rmsprop_step_with(Width::NATIVE, params, grads, square_avg, momentum_buffer, grad_avg, cfg)
}

/// [`rmsprop_step`] at an explicit lane width (for tests and benches).
#[doc(hidden)]
pub fn rmsprop_step_with(
    width: Width,
    params: &mut [f32],
    grads: &[f32],
    square_avg: &mut [f32],
    momentum_buffer: &mut [f32],
    grad_avg: &mut [f32],
    cfg: &RmspropConfig,
) -> Result<(), Error> {
    let lens = [params.len(), square_avg.len(), momentum_buffer.len(), grad_avg.len()];
    Coef::check(lens, [grads.len()], cfg)?;
    // Built after the checks, not moved out of a `Result` (see `adagrad_step_with`).
    Coef::of(cfg).run(width, [params, square_avg, momentum_buffer, grad_avg], [grads]);
    Ok(())
}

mixed_step! {
    /// [`rmsprop_step`] in mixed storage formats ([`crate::format`]); `momentum_buffer` and
    /// `grad_avg` may be `State::Unused` when their option is off.
    ///
    /// # Errors
    /// As [`rmsprop_step`], and the format errors of [`crate::adam_step_mixed`]. **Nothing is
    /// written when an error is returned.**
    rmsprop_step_mixed, rmsprop_step_mixed_with,
    (params, grads, square_avg, momentum_buffer, grad_avg; cfg: &RmspropConfig),
    checked: |o, i| Coef::checked(o, i, cfg),
}

#[inline(always)]
fn rmsprop_lanes<L: Lanes<N>, const N: usize, P: Profile>(
    k: &Coef,
    unit: impl Flag,
    p: &mut [f32; N],
    g: &[f32; N],
    sq: &mut [f32; N],
    buf: Option<&mut [f32; N]>,
    grad_avg: Option<&mut [f32; N]>,
) {
    let param = L::load(p);
    let mut g = L::load(g);
    if !unit.on() {
        g = g * L::splat(k.scale);
    }
    if let Some(wd) = k.weight_decay {
        g = P::fma(L::splat(wd), param, g);
    }
    let s = P::fma(L::splat(k.one_minus_alpha) * g, g, L::load(sq) * L::splat(k.alpha));
    s.store(sq);
    let var = match grad_avg {
        Some(ga_buf) => {
            let ga_old = L::load(ga_buf);
            let ga = if P::TORCH {
                k.lerp.apply::<P, L, N>(ga_old, g)
            } else {
                ga_old * L::splat(k.alpha) + g * L::splat(k.one_minus_alpha)
            };
            ga.store(ga_buf);
            P::fma(-ga, ga, s)
        }
        None => s,
    };
    let avg =
        if k.eps_inside { P::sqrt(var + L::splat(k.eps)) } else { P::sqrt(var) + L::splat(k.eps) };
    match (k.momentum, buf) {
        (Some(mu), Some(buf)) => {
            let b = P::add_div(L::load(buf) * L::splat(mu), g, avg);
            b.store(buf);
            P::fma(L::splat(k.neg_lr), b, param).store(p);
        }
        _ => P::add_div(param, L::splat(k.neg_lr) * g, avg).store(p),
    }
}
