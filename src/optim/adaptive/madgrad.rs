//! MADGRAD (Defazio & Jelassi 2021, "Adaptivity without Compromise: A Momentumized, Adaptive,
//! Dual Averaged Gradient Method for Stochastic Optimization"), as `pytorch_optimizer.MADGRAD`
//! 4.1 computes it.

use crate::lanes::Lanes;
use crate::numerics::{Numerics, Profile, c};
use crate::optim::rule::{Ema, Rule, Trailing, check_lens, rule_step};
use crate::optim::signed_scale;
use crate::{Error, validate};

/// Hyperparameters of [`madgrad_step`]. [`Default`] is `pytorch_optimizer.MADGRAD`'s.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct MadgradConfig {
    /// Learning rate `η`. Default `1e-3`; finite, ≥ 0.
    pub lr: f64,
    /// Momentum `μ` (`0`: the iterate is the dual average itself, and `x0` may be empty).
    /// Default `0.9`; finite, in `[0, 1)`.
    pub momentum: f64,
    /// Weight decay `λ`. Default `0`; finite, ≥ 0.
    pub weight_decay: f64,
    /// Decoupled decay `θ ← θ − η'λ·θ` after the step (else L2 `g ← g + λθ`). Default `false`.
    pub weight_decouple: bool,
    /// `ε`, added to the cube root and (a package quirk) to the learning rate. Default `1e-6`;
    /// finite, ≥ 0.
    pub eps: f64,
    /// Maximize the objective (negate the gradient first). Default `false`.
    pub maximize: bool,
    /// Multiplier `s` applied to the gradient first. Default `1` (exact); finite, ≥ 0.
    pub grad_scale: f32,
    /// Operation order. Default [`Numerics::Torch`] (the package's).
    pub numerics: Numerics,
}

impl Default for MadgradConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            momentum: 0.9,
            weight_decay: 0.0,
            weight_decouple: false,
            eps: 1e-6,
            maximize: false,
            grad_scale: 1.0,
            numerics: Numerics::Torch,
        }
    }
}

/// MADGRAD's per-tensor step counter `k` (steps taken; the package keeps it per parameter).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
pub struct MadgradState {
    /// Steps taken.
    pub k: u64,
}

struct Coef {
    scale: f32,
    l2: Option<f32>,
    /// `c(−η'λ)` (decoupled, on the old θ).
    decoupled: Option<f32>,
    lamb: f32,
    eps: f32,
    ema: Ema,
    next: MadgradState,
    numerics: Numerics,
}

impl Coef {
    #[inline(always)]
    fn checked(
        lens: [usize; 4],
        [g]: [usize; 1],
        state: &MadgradState,
        cfg: &MadgradConfig,
    ) -> Result<Trailing<Self, 3>, Error> {
        let with_momentum = cfg.momentum != 0.0;
        let names = ["params", "grad_sum_sq", "s", "x0"];
        check_lens(names, lens, [true, true, true, with_momentum], g)?;
        validate::numerics(cfg.numerics, &[])?;
        let lr = validate::non_negative("lr", cfg.lr)?;
        let momentum = validate::unit_half_open("momentum", cfg.momentum)?;
        let wd = validate::non_negative("weight_decay", cfg.weight_decay)?;
        let eps = validate::non_negative("eps", cfg.eps)?;
        let lr_eps = lr + eps;
        let rule = Self {
            scale: signed_scale(cfg.grad_scale, cfg.maximize)?,
            l2: (wd != 0.0 && !cfg.weight_decouple).then(|| c(wd)),
            decoupled: (wd != 0.0 && cfg.weight_decouple).then(|| c(-lr_eps * wd)),
            lamb: c(lr_eps * libm::sqrt(state.k as f64 + 1.0)),
            eps: c(eps),
            ema: Ema::with_beta(momentum),
            next: MadgradState { k: state.k + 1 },
            numerics: cfg.numerics,
        };
        Ok(Trailing { rule, all: with_momentum })
    }
}

/// `∛x` per lane, in lane arithmetic (the same bits at every width and on every build: no
/// `mul_add`, no library call; `libm::powf` per element cost 34 ns). For `x` in
/// `[2⁻⁴⁸, 2⁴⁸]` (else scaled exactly by `2^±48` first and the root by `2^∓16` after, so no
/// step below overflows or goes subnormal): the seed
/// `y₀ = bits⁻¹(bits(x)/3 + B)` (fdlibm's `cbrtf` constant `B = 709958130`, within 4 %), then two
/// Halley steps `y ← y + y·(x − y³)/(2y³ + x)` (cubic: 4 % → 10⁻⁵ → 10⁻¹⁴, so the f32
/// roundings decide; written as a correction they stay within 1 ulp of the true root, 0.84 at
/// worst in `cube_root_is_within_an_ulp`, where `y·(y³ + 2x)/(2y³ + x)` gave 2.5). `±0`, `+∞` and NaN are
/// their own roots, a negative `x` gives NaN (as `torch.pow(x, 1/3)`; the package's `S` is
/// never negative). torch's `pow(x, 1/3)` raises to the f32 `1/3`, so it differs from the root
/// by up to `|ln x|·10⁻⁸` relative, within the golden tolerance.
#[inline(always)]
fn cbrt<L: Lanes<N>, const N: usize>(x: L) -> L {
    // Literals, not `1.0 / SCALE`: any threshold between 2⁻⁹⁶ and 2⁻¹ would do as well.
    const SCALE: f32 = 281_474_976_710_656.0; // 2⁴⁸
    const INV_SCALE: f32 = f32::from_bits(0x2780_0000); // 2⁻⁴⁸
    const ROOT: f32 = 65_536.0; // 2¹⁶ = ∛(2⁴⁸)
    const INV_ROOT: f32 = f32::from_bits(0x3780_0000); // 2⁻¹⁶
    let (zero, one) = (L::splat(0.0), L::splat(1.0));
    let small = x.lt(L::splat(INV_SCALE));
    let big = x.gt(L::splat(SCALE));
    let up = L::select(small, L::splat(SCALE), L::select(big, L::splat(INV_SCALE), one));
    let down = L::select(small, L::splat(INV_ROOT), L::select(big, L::splat(ROOT), one));
    // The special lanes iterate on 1 (no subnormal or infinite arithmetic) and are replaced.
    let finite_positive = x.gt(zero).and(x.lt(L::splat(f32::INFINITY)));
    let a = L::select(finite_positive, x * up, one);
    let mut seed = a.to_array();
    for v in &mut seed {
        *v = f32::from_bits(v.to_bits() / 3 + 709_958_130);
    }
    let mut y = L::load(&seed);
    for _ in 0..2 {
        let t = y * y * y;
        y = y + y * ((a - t) / (t + t + a));
    }
    let special = L::select(x.lt(zero), L::splat(f32::NAN), x);
    L::select(finite_positive, y * down, special)
}

impl<const M: usize> Rule<M> for Coef {
    fn numerics(&self) -> Numerics {
        self.numerics
    }
    fn scale(&self) -> f32 {
        self.scale
    }
    #[inline(always)]
    fn lanes<P: Profile, L: Lanes<N>, const N: usize>(&self, b: &mut [L; M], g: L) {
        let (p, sum_sq, s) = (b[0], b[1], b[2]);
        let g = match self.l2 {
            Some(wd) => P::fma(L::splat(wd), p, g),
            None => g,
        };
        let eps = L::splat(self.eps);
        // Without momentum the dual-average origin is recovered from the current iterate.
        let x0 = match b.get(3) {
            Some(&x0) => x0,
            None => p + s / (cbrt::<L, N>(sum_sq) + eps),
        };
        let lamb = L::splat(self.lamb);
        let sum_sq = P::fma(lamb * g, g, sum_sq);
        let s = P::fma(lamb, g, s);
        let z = x0 - s / (cbrt::<L, N>(sum_sq) + eps);
        let mut next = if M == 4 { self.ema.apply::<P, L, N>(p, z) } else { z };
        if let Some(k) = self.decoupled {
            next = P::fma(L::splat(k), p, next);
        }
        (b[0], b[1], b[2]) = (next, sum_sq, s);
    }
}

rule_step! {
    /// MADGRAD: updates `params`, `grad_sum_sq` (`S`), `s` and, with momentum, `x0` (the dual
    /// averaging origin: start it as a copy of the initial parameters; it is rewritten
    /// unchanged) in place, and advances `state`.
    ///
    /// For every index `i`, with `s = grad_scale`, `k` = steps taken, `η' = η + ε` (as the
    /// package), `λₖ = η'·√(k + 1)`:
    /// ```text
    /// g ← s·grads[i] (+ λθ for L2)             (−s·grads[i] with maximize)
    /// x₀ = θ + s/(∛S + ε)                      (no momentum; else the stored x0)
    /// S ← S + λₖ·g²;   s ← s + λₖ·g
    /// z = x₀ − s/(∛S + ε)
    /// θ ← μ·θ + (1 − μ)·z                      (θ ← z without momentum)
    /// θ ← θ − η'λ·θ_old                        (weight_decouple)
    /// ```
    /// `∛` is a cube root in lane arithmetic (within 1 ulp; torch raises to the f32 `1/3`).
    /// [`Numerics::Torch`]: `addcmul`/`add(alpha=)` fused, the lerp.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`], [`Error::InvalidHyperparameter`]. **Nothing is written, and
    /// `state` is unchanged, when an error is returned.**
    pub fn madgrad_step / madgrad_step_with / madgrad_step_mixed / madgrad_step_mixed_with
    (params, grads, grad_sum_sq, s, x0; state: &mut MadgradState, cfg: &MadgradConfig),
    checked: |lens, g| Coef::checked(lens, g, state, cfg),
    then: |k| *state = k.rule.next,
}

#[cfg(test)]
mod tests {
    use super::cbrt;
    use std::vec::Vec;

    /// Within one ulp of the f64 cube root for every binade from the smallest subnormal to the
    /// largest float (both sides of the 2^±48 scaling bounds), at widths 1 and 16 alike; the
    /// special values as `torch.pow(x, 1/3)`.
    #[test]
    fn cube_root_is_within_an_ulp() {
        let mut xs: Vec<f32> = std::vec![f32::MAX, f32::MIN_POSITIVE, 1.0, 8.0, 27.0, 0.125];
        for e in -149..128 {
            for m in [1.0f64, 1.1, 1.5, 1.9, 1.999_999, 2.5, 3.7, 7.99] {
                let x = (m * 2f64.powi(e)) as f32;
                xs.extend([x, x.next_up(), x.next_down()]);
            }
        }
        xs.retain(|x| *x > 0.0 && x.is_finite());
        let worst =
            crate::lanes::worst_ulp(&xs, cbrt::<f32, 1>, cbrt::<wide::f32x16, 16>, f64::cbrt, 1.0);
        // 0.84 ulp when this was written: a regression to the ratio form of the Halley step
        // (2.5 ulp) or a lost iteration fails here.
        assert!(worst > 0.5, "{worst}: the sweep no longer reaches a rounding case");
        for (x, want) in [(0.0f32, 0.0f32), (f32::INFINITY, f32::INFINITY)] {
            assert_eq!(cbrt::<f32, 1>(x).to_bits(), want.to_bits());
        }
        for x in [f32::NAN, -1.0, -1e-40, f32::NEG_INFINITY] {
            assert!(cbrt::<f32, 1>(x).is_nan(), "∛{x:e} is not NaN");
        }
    }
}
