//! SM3 (Anil et al. 2019, "Memory-Efficient Adaptive Optimization") on a flat slice, as
//! `pytorch_optimizer.SM3` 4.1 computes it for a 1-D tensor: its one cover set has an
//! accumulator per element, so it is Adagrad with an optional decay and momentum.

use crate::lanes::Lanes;
use crate::numerics::{Numerics, Profile, c};
use crate::optim::rule::{Ema, Rule, Trailing, check_lens, rule_step};
use crate::optim::signed_scale;
use crate::{Error, validate};

/// Hyperparameters of [`sm3_step`]. [`Default`] is `pytorch_optimizer.SM3`'s.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct Sm3Config {
    /// Learning rate `η`. Default `0.1`; finite, ≥ 0.
    pub lr: f64,
    /// Momentum `μ` (`0`: none, and `momentum_buffer` may be empty). Default `0`; finite, in
    /// `[0, 1)`.
    pub momentum: f64,
    /// `β`, decay of the accumulator (`0`: Adagrad's sum). Default `0`; finite, in `[0, 1)`.
    pub beta: f64,
    /// `ε`, inside the root. Default `1e-30`; finite, ≥ 0.
    pub eps: f64,
    /// Maximize the objective (negate the gradient first). Default `false`.
    pub maximize: bool,
    /// Multiplier `s` applied to the gradient first. Default `1` (exact); finite, ≥ 0.
    pub grad_scale: f32,
    /// Operation order. Default [`Numerics::Torch`] (the package's).
    pub numerics: Numerics,
}

impl Default for Sm3Config {
    fn default() -> Self {
        Self {
            lr: 0.1,
            momentum: 0.0,
            beta: 0.0,
            eps: 1e-30,
            maximize: false,
            grad_scale: 1.0,
            numerics: Numerics::Torch,
        }
    }
}

struct Coef {
    scale: f32,
    /// `Some(c(β))` when the accumulator decays (then it keeps the running maximum).
    beta: Option<f32>,
    one_minus_beta: f32,
    eps: f32,
    ema: Ema,
    neg_lr: f32,
    numerics: Numerics,
}

impl Coef {
    #[inline(always)]
    fn checked(
        lens: [usize; 3],
        [g]: [usize; 1],
        cfg: &Sm3Config,
    ) -> Result<Trailing<Self, 2>, Error> {
        let with_momentum = cfg.momentum != 0.0;
        check_lens(
            ["params", "accumulator", "momentum_buffer"],
            lens,
            [true, true, with_momentum],
            g,
        )?;
        validate::numerics(cfg.numerics, &[])?;
        let lr = validate::non_negative("lr", cfg.lr)?;
        let momentum = validate::unit_half_open("momentum", cfg.momentum)?;
        let beta = validate::unit_half_open("beta", cfg.beta)?;
        let eps = validate::non_negative("eps", cfg.eps)?;
        let rule = Self {
            scale: signed_scale(cfg.grad_scale, cfg.maximize)?,
            beta: (beta > 0.0).then(|| c(beta)),
            one_minus_beta: c(1.0 - beta),
            eps: c(eps),
            ema: Ema::with_beta(momentum),
            neg_lr: c(-lr),
            numerics: cfg.numerics,
        };
        Ok(Trailing { rule, all: with_momentum })
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
        let acc = x[1];
        let base = match self.beta {
            Some(b) => acc * L::splat(b),
            None => acc,
        };
        let u = P::fma(L::splat(self.one_minus_beta) * g, g, base);
        x[1] = if self.beta.is_some() { acc.max_nan(u) } else { u };
        let mut u = g * (L::splat(1.0) / (u + L::splat(self.eps)).sqrt());
        if let Some(m) = x.get_mut(2) {
            *m = self.ema.apply::<P, L, N>(*m, u);
            u = *m;
        }
        x[0] = P::fma(L::splat(self.neg_lr), u, x[0]);
    }
}

rule_step! {
    /// SM3 on a flat slice: updates `params`, `accumulator` (`a`) and, with momentum,
    /// `momentum_buffer` (`b`, else it may be empty) in place.
    ///
    /// For every index `i`, with `s = grad_scale`:
    /// ```text
    /// g ← s·grads[i]                         (−s·grads[i] with maximize)
    /// u = (β > 0 ? β·a : a) + (1 − β)·g²
    /// a ← β > 0 ? max(a, u) : u
    /// u ← g · 1/√(u + ε)
    /// b ← μ·b + (1 − μ)·u;  u ← b            (μ > 0)
    /// θ ← θ − η·u
    /// ```
    /// [`Numerics::Torch`]: `u = fma(c(1−β)·g, g, ·)`, torch's `rsqrt` (a division of 1 by the
    /// root), the lerp, `fma(c(−η), u, θ)`.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`], [`Error::InvalidHyperparameter`].
    /// **Nothing is written when an error is returned.**
    pub fn sm3_step / sm3_step_with / sm3_step_mixed / sm3_step_mixed_with
    (params, grads, accumulator, momentum_buffer; cfg: &Sm3Config),
    checked: |lens, g| Coef::checked(lens, g, cfg),
}
