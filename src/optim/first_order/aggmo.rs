//! Aggregated momentum (Lucas et al. 2019, "Aggregated Momentum: Stability Through Passive
//! Damping"), as `pytorch_optimizer.AggMo` 4.1 computes it: up to four momentum buffers.

use crate::format::Elementwise;
use crate::lanes::Lanes;
use crate::numerics::{Numerics, Profile, c};
use crate::optim::rule::{Rule, WeightDecay, check_lens, decay, rule_step, run_rule};
use crate::optim::signed_scale;
use crate::{Error, Width, validate};

/// The most momentum buffers [`aggmo_step`] takes.
pub const AGGMO_MAX_BETAS: usize = 4;

/// Hyperparameters of [`aggmo_step`]. [`Default`] is `pytorch_optimizer.AggMo`'s.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct AggmoConfig {
    /// Learning rate `η`. Default `1e-3`; finite, ≥ 0.
    pub lr: f64,
    /// The damping factors `β₁…β_K` (the first `betas_len`), one buffer each, in this order.
    /// Default `(0, 0.9, 0.99)`; each finite, in `[0, 1)`.
    pub betas: [f64; 4],
    /// `K`, how many of `betas` are used. Default `3`; 1 to 4.
    pub betas_len: u32,
    /// Weight decay `λ`. Default `0`; finite, ≥ 0.
    pub weight_decay: f64,
    /// Decoupled decay `θ ← θ·(1 − ηλ)` instead of L2 `g ← g + λθ`. Default `false`.
    pub weight_decouple: bool,
    /// With `weight_decouple`: `θ ← θ·(1 − λ)`. Default `false`.
    pub fixed_decay: bool,
    /// Maximize the objective (negate the gradient first). Default `false`.
    pub maximize: bool,
    /// Multiplier `s` applied to the gradient first. Default `1` (exact); finite, ≥ 0.
    pub grad_scale: f32,
    /// Operation order. Default [`Numerics::Torch`] (the package's).
    pub numerics: Numerics,
}

impl Default for AggmoConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            betas: [0.0, 0.9, 0.99, 0.0],
            betas_len: 3,
            weight_decay: 0.0,
            weight_decouple: false,
            fixed_decay: false,
            maximize: false,
            grad_scale: 1.0,
            numerics: Numerics::Torch,
        }
    }
}

struct Coef {
    scale: f32,
    decay: WeightDecay,
    betas: [f32; AGGMO_MAX_BETAS],
    count: usize,
    neg_lr_k: f32,
    numerics: Numerics,
}

impl Coef {
    #[inline(always)]
    fn checked(lens: [usize; 5], [g]: [usize; 1], cfg: &AggmoConfig) -> Result<Buffers, Error> {
        let count = cfg.betas_len as usize;
        if !(1..=AGGMO_MAX_BETAS).contains(&count) {
            return Err(validate::out_of_range("betas_len", f64::from(cfg.betas_len)));
        }
        let used = core::array::from_fn(|k| k <= count);
        check_lens(["params", "buffer0", "buffer1", "buffer2", "buffer3"], lens, used, g)?;
        validate::numerics(cfg.numerics, &[])?;
        let lr = validate::non_negative("lr", cfg.lr)?;
        let mut betas = [0.0f32; AGGMO_MAX_BETAS];
        for (b, &beta) in betas.iter_mut().zip(&cfg.betas).take(count) {
            *b = c(validate::unit_half_open("betas", beta)?);
        }
        let weight_decay = validate::non_negative("weight_decay", cfg.weight_decay)?;
        Ok(Buffers(Self {
            scale: signed_scale(cfg.grad_scale, cfg.maximize)?,
            decay: decay(lr, weight_decay, cfg.weight_decouple, cfg.fixed_decay),
            betas,
            count,
            neg_lr_k: c(-lr / count as f64),
            numerics: cfg.numerics,
        }))
    }
}

impl<const M: usize> Rule<M> for Coef {
    fn numerics(&self) -> Numerics {
        self.numerics
    }
    fn scale(&self) -> f32 {
        self.scale
    }
    #[inline(always)]
    fn lanes<P: Profile, L: Lanes<N>, const N: usize>(&self, x: &mut [L; M], g: L) {
        let (mut param, g) = self.decay.apply::<P, L, N>(x[0], g);
        for (b, &beta) in x.iter_mut().skip(1).zip(&self.betas) {
            *b = *b * L::splat(beta) + g;
            param = P::fma(L::splat(self.neg_lr_k), *b, param);
        }
        x[0] = param;
    }
}

/// The rule with as many buffers as the call uses (1 + K).
struct Buffers(Coef);

impl Elementwise<5, 1> for Buffers {
    fn used(&self) -> [bool; 5] {
        core::array::from_fn(|k| k <= self.0.count)
    }

    fn run(&self, width: Width, [p, b0, b1, b2, b3]: [&mut [f32]; 5], [g]: [&[f32]; 1]) {
        let k = &self.0;
        match k.count {
            1 => run_rule::<Coef, 2>(k, width, [p, b0], g),
            2 => run_rule::<Coef, 3>(k, width, [p, b0, b1], g),
            3 => run_rule::<Coef, 4>(k, width, [p, b0, b1, b2], g),
            _ => run_rule::<Coef, 5>(k, width, [p, b0, b1, b2, b3], g),
        }
    }
}

rule_step! {
    /// AggMo: updates `params` and the first `K = betas_len` of `buffer0…buffer3` (the others
    /// may be empty) in place.
    ///
    /// For every index `i`, with `s = grad_scale`:
    /// ```text
    /// g ← s·grads[i]                         (−s·grads[i] with maximize)
    /// θ ← θ·(1 − ηλ)  or  g ← g + λθ          (weight_decouple, or L2)
    /// for k in 1..=K:  bₖ ← βₖ·bₖ + g;  θ ← θ − (η/K)·bₖ
    /// ```
    /// [`Numerics::Torch`]: each `θ` step fused (`fma(c(−η/K), bₖ, θ)`), as the package.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`], [`Error::InvalidHyperparameter`] (also `betas_len` not in
    /// 1..=4). **Nothing is written when an error is returned.**
    pub fn aggmo_step / aggmo_step_with / aggmo_step_mixed / aggmo_step_mixed_with
    (params, grads, buffer0, buffer1, buffer2, buffer3; cfg: &AggmoConfig),
    checked: |lens, g| Coef::checked(lens, g, cfg),
}
