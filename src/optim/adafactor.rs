//! Adafactor (`torch.optim.Adafactor`): the unfactored 1-D path, and the factored path for a
//! `rows × cols` matrix with row and column second-moment statistics.

use crate::driver::{for_each_chunk, for_each_chunk_summed};
use crate::format::{Access, Layerwise};
use crate::lanes::Lanes;
use crate::numerics::{
    Flag, Numerics, Off, Portable, Profile, Torch, TorchLerp, c, specialize, with_profile,
};
use crate::optim::{mixed_step, signed_scale};
use crate::reduce::{BlockedSum, square, terms};
use crate::train::shard::{sum_partials, two_norm_partials};
use crate::width::with_width;
use crate::{Error, Width, validate};

/// Hyperparameters of [`adafactor_step`] and [`adafactor_factored_step`]. [`Default`] is
/// `torch.optim.Adafactor`'s.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct AdafactorConfig {
    /// Learning rate `η`, the cap of the relative step `ρ_t = min(η, 1/√t)`.
    /// Default `1e-2`; finite, ≥ 0.
    pub lr: f64,
    /// Decay exponent `c`: the second-moment weight is `tᶜ`. Default `−0.8`; finite, ≤ 0.
    pub beta2_decay: f64,
    /// `ε₁`, floor of the variance estimate (squared) and of the row mean. torch's `None` is
    /// `f32::EPSILON` (the default); finite, ≥ 0.
    pub eps1: f64,
    /// `ε₂`, floor of the parameter RMS in the step size. Default `1e-3`; finite, ≥ 0.
    pub eps2: f64,
    /// Update clipping threshold `d`. Default `1`; finite, ≥ 1.
    pub d: f64,
    /// Decoupled weight decay `λ` (`θ ← θ(1 − ηλ)`). Default `0`; finite, ≥ 0.
    pub weight_decay: f64,
    /// Maximize the objective (negate the gradient first). Default `false`.
    pub maximize: bool,
    /// Multiplier `s` applied to the gradient first. Default `1` (exact); finite, ≥ 0.
    pub grad_scale: f32,
    /// Operation order. Default [`Numerics::Torch`].
    pub numerics: Numerics,
}

impl Default for AdafactorConfig {
    fn default() -> Self {
        Self {
            lr: 1e-2,
            beta2_decay: -0.8,
            eps1: f64::from(f32::EPSILON),
            eps2: 1e-3,
            d: 1.0,
            weight_decay: 0.0,
            maximize: false,
            grad_scale: 1.0,
            numerics: Numerics::Torch,
        }
    }
}

struct Coef {
    scale: f32,
    /// `w = tᶜ` as torch's lerp weight, and for Portable `c(w)`, `c(1 − w)`.
    lerp: TorchLerp,
    w: f32,
    one_minus_w: f32,
    eps1: f32,
    eps1_sq: f32,
    decay: Option<f32>,
    rho: f64,
    eps2: f64,
    d: f64,
}

impl Coef {
    #[inline(always)]
    fn from_config(step: u32, cfg: &AdafactorConfig) -> Result<Self, Error> {
        validate::numerics(cfg.numerics, &[])?;
        let lr = validate::non_negative("lr", cfg.lr)?;
        let beta2_decay = validate::finite("beta2_decay", cfg.beta2_decay)?;
        if beta2_decay > 0.0 {
            return Err(validate::out_of_range("beta2_decay", beta2_decay));
        }
        let eps1 = validate::non_negative("eps1", cfg.eps1)?;
        let eps2 = validate::non_negative("eps2", cfg.eps2)?;
        let d = validate::finite("d", cfg.d)?;
        if d < 1.0 {
            return Err(validate::out_of_range("d", d));
        }
        let weight_decay = validate::non_negative("weight_decay", cfg.weight_decay)?;
        let scale = signed_scale(cfg.grad_scale, cfg.maximize)?;
        validate::step(step)?;
        let t = f64::from(step);
        let w = libm::pow(t, beta2_decay);
        Ok(Self {
            scale,
            lerp: TorchLerp::with_weight(w),
            w: c(w),
            one_minus_w: c(1.0 - w),
            eps1: c(eps1),
            eps1_sq: c(eps1 * eps1),
            decay: (weight_decay != 0.0).then(|| c(1.0 - lr * weight_decay)),
            rho: lr.min(1.0 / libm::sqrt(t)),
            eps2,
            d,
        })
    }

    /// `lerp(var, x, w)`: torch's fused lerp, or `var·(1 − w) + x·w`. `small` must equal
    /// `self.lerp.is_small()` (torch's branch).
    #[inline(always)]
    fn lerp<L: Lanes<N>, const N: usize, P: Profile>(&self, small: impl Flag, var: L, x: L) -> L {
        if P::TORCH {
            self.lerp.apply_branch::<P, L, N>(small, var, x)
        } else {
            var * L::splat(self.one_minus_w) + x * L::splat(self.w)
        }
    }

    /// `u = g/√max(v̂, ε₁²)`: torch's `rsqrt` then multiply, or one division.
    #[inline(always)]
    fn update<L: Lanes<N>, const N: usize, P: Profile>(&self, var_est: L, g: L) -> L {
        let floor = var_est.max_nan(L::splat(self.eps1_sq)).sqrt();
        if P::TORCH { (L::splat(1.0) / floor) * g } else { g / floor }
    }

    /// The factored update `u = c·g/√max(R·C/mean, ε₁²)` for one row statistic `r` against a
    /// chunk of column statistics `col_var`.
    #[inline(always)]
    fn factored_update<L: Lanes<N>, const N: usize, P: Profile>(
        &self,
        r: f32,
        col_var: L,
        row_mean: f32,
        g: L,
    ) -> L {
        let var_est = (L::splat(r) * col_var) / L::splat(row_mean);
        self.update::<L, N, P>(var_est, g * L::splat(self.scale))
    }

    /// `θ·c(1 − ηλ)`, or `θ` without weight decay (`dec` must equal `self.decay.is_some()`).
    #[inline(always)]
    fn decayed<L: Lanes<N>, const N: usize>(&self, dec: impl Flag, param: L) -> L {
        if dec.on() { param * L::splat(self.decay.unwrap_or(1.0)) } else { param }
    }

    /// `−α/denom` from `Σθ²`, `Σu²` and `n`: `α = max(ε₂, ‖θ‖/√n)·ρ_t`,
    /// `denom = max(1, ‖u‖/(√n·d))`, the norms rounded to f32 as torch's `.norm()` returns.
    fn step_size(&self, p_sq: f64, u_sq: f64, n: usize) -> f32 {
        let sqrt_n = libm::sqrt(n as f64);
        let p_norm = f64::from(libm::sqrt(p_sq) as f32);
        let u_norm = f64::from(libm::sqrt(u_sq) as f32);
        let alpha = self.eps2.max(p_norm / sqrt_n) * self.rho;
        let denom = (u_norm / (sqrt_n * self.d)).max(1.0);
        c(-alpha / denom)
    }
}

/// Adafactor for a vector (Shazeer & Stern 2018; `torch.optim.Adafactor`'s unfactored path):
/// updates `params` and `variance` (torch's state name) in place.
///
/// With `s = grad_scale`, `t = step` (1-based), `n = params.len()`:
/// ```text
/// g ← s·grads                                  (−s·grads with maximize)
/// ρ_t = min(η, 1/√t);   α = max(ε₂, ‖θ‖/√n)·ρ_t  (‖θ‖ before weight decay)
/// θ ← θ·(1 − ηλ)
/// V ← V + tᶜ·(g² − V)                           (weight 1 at t = 1)
/// u = g / √max(V, ε₁²)
/// θ ← θ − α/max(1, ‖u‖/(√n·d)) · u
/// ```
/// Two passes and no scratch: the first updates `V` and accumulates `‖θ‖²` and `‖u‖²`, the
/// second recomputes `u` (the same bits) and applies it.
///
/// # Accuracy
/// The norms are the crate's deterministic f64 sums (then rounded to f32, as torch's `.norm()`
/// returns f32), not torch's f32 reduction order, so `α` and the clipping denominator can differ
/// from torch's in the last bit: the golden test compares Adafactor within a measured tolerance
/// (see `tests/golden.rs`) rather than bit for bit. Everything else follows torch's order
/// (`lerp`, `rsqrt` as `1/√x` then `·g`, `θ = fma(c(−α/denom), u, θ)`).
///
/// # Errors
/// [`Error::LengthMismatch`] if `grads` or `variance` differ in length from `params`;
/// [`Error::InvalidHyperparameter`] for a NaN, infinite or out-of-range field;
/// [`Error::ZeroStep`]. **Nothing is written when an error is returned.**
pub fn adafactor_step(
    params: &mut [f32],
    grads: &[f32],
    variance: &mut [f32],
    step: u32,
    cfg: &AdafactorConfig,
) -> Result<(), Error> {
    adafactor_step_with(Width::NATIVE_TWO_PASS, params, grads, variance, step, cfg)
}

/// [`adafactor_step`] at an explicit lane width (for tests and benches).
#[doc(hidden)]
pub fn adafactor_step_with(
    width: Width,
    params: &mut [f32],
    grads: &[f32],
    variance: &mut [f32],
    step: u32,
    cfg: &AdafactorConfig,
) -> Result<(), Error> {
    let n = params.len();
    validate::len("grads", n, grads.len())?;
    validate::len("variance", n, variance.len())?;
    let k = Coef::from_config(step, cfg)?;
    if n == 0 {
        return Ok(());
    }
    let (mut p_sq, mut u_sq) = (BlockedSum::new(), BlockedSum::new());
    moments_1d(width, &k, cfg.numerics, params, grads, variance, &mut p_sq, &mut u_sq);
    let step = k.step_size(p_sq.finish(), u_sq.finish(), n);
    apply_1d(width, &k, cfg.numerics, params, grads, variance, step);
    Ok(())
}

mixed_step! {
    /// [`adafactor_step`] in mixed storage formats ([`crate::format`]): bf16/f16 gradients;
    /// f32 parameters (optionally writing a bf16/f16 copy of the new values in the same pass)
    /// or bf16 parameters; `variance` in f32, bf16, `q8`, `q4` or `fp8`. The slices are one
    /// vector, as in `adafactor_step`, whose bits the values as read give: pass 1 computes the
    /// new variance on copies for the norms (storing nothing), pass 2 computes it again and
    /// steps, then stores every buffer in its format.
    ///
    /// # Errors
    /// As [`adafactor_step`], and the format errors of [`crate::adam_step_mixed`]. **Nothing
    /// is written when an error is returned.**
    adafactor_step_mixed, adafactor_step_mixed_with,
    (params, grads, variance; step: u32, cfg: &AdafactorConfig),
    checked: |[n, v], [g]| {
        validate::len("grads", n, g)?;
        validate::len("variance", n, v)?;
        Coef::from_config(step, cfg).map(|k| Staged {
            k,
            numerics: cfg.numerics,
            n,
            p_sq: BlockedSum::new(),
            u_sq: BlockedSum::new(),
            step: 0.0,
        })
    },
    driver: mixed_layerwise,
}

/// Adafactor's 1-D path through the staged driver: pass 1 sums `‖θ‖²` and `‖u‖²` from the new
/// variance, pass 2 recomputes the variance and steps.
struct Staged {
    k: Coef,
    numerics: Numerics,
    n: usize,
    p_sq: BlockedSum<'static>,
    u_sq: BlockedSum<'static>,
    step: f32,
}

impl Layerwise<2, 1> for Staged {
    fn reads(&self, _: usize) -> [Access; 2] {
        [Access::Read, Access::Scratch]
    }

    fn reduce(&mut self, _: usize, width: Width, [p, var]: [&mut [f32]; 2], [g]: [&[f32]; 1]) {
        let (k, numerics) = (&self.k, self.numerics);
        moments_1d(width, k, numerics, p, g, var, &mut self.p_sq, &mut self.u_sq);
    }

    fn finish(&mut self, _: usize) -> bool {
        let p_sq = self.p_sq.take();
        let u_sq = self.u_sq.take();
        self.step = self.k.step_size(p_sq, u_sq, self.n);
        false
    }

    fn update(&mut self, width: Width, [p, var]: [&mut [f32]; 2], [g]: [&[f32]; 1]) {
        let (k, numerics) = (&self.k, self.numerics);
        moments_1d(width, k, numerics, p, g, var, &mut BlockedSum::new(), &mut BlockedSum::new());
        apply_1d(width, k, numerics, p, g, var, self.step);
    }
}

/// The first pass of [`adafactor_step`] on a shard of one vector (sharded training): updates
/// `variance` exactly as `adafactor_step` does and writes the per-block partials of `‖θ‖²` and
/// `‖u‖²` (`norm_partials_len(params.len())` each) for [`adafactor_step_size`]. The shard holds
/// the vector's elements `[offset, offset + params.len())` of `layer_len`, on whole blocks as
/// [`crate::grad_norm_partials`] requires. Once the partials of every shard are gathered in
/// order, [`adafactor_shard_apply`] with the step size: bit-identical to one `adafactor_step`
/// over the vector, for any split.
///
/// # Errors
/// As [`adafactor_step`], and [`Error::ShardBoundary`] / [`Error::LengthMismatch`]
/// (`param_partials`, `update_partials`) as [`crate::grad_norm_partials`]. Nothing is written
/// on `Err`.
#[allow(clippy::too_many_arguments)]
pub fn adafactor_shard_moments(
    params: &[f32],
    grads: &[f32],
    variance: &mut [f32],
    offset: usize,
    layer_len: usize,
    step: u32,
    cfg: &AdafactorConfig,
    param_partials: &mut [f64],
    update_partials: &mut [f64],
) -> Result<(), Error> {
    let n = params.len();
    validate::len("grads", n, grads.len())?;
    validate::len("variance", n, variance.len())?;
    let k = Coef::from_config(step, cfg)?;
    let (pp, up) = (("param_partials", param_partials), ("update_partials", update_partials));
    two_norm_partials(offset, n, layer_len, pp, up, |p_sq, u_sq| {
        let width = Width::NATIVE_TWO_PASS;
        moments_1d(width, &k, cfg.numerics, params, grads, variance, p_sq, u_sq);
    })
}

/// The step size `−α/max(1, ‖u‖/(√n·d))` of a vector of `layer_len` elements from the
/// partials of all its blocks in order, as [`adafactor_shard_moments`] wrote them: the sums
/// are added in block order, the same additions as [`adafactor_step`]'s.
///
/// # Errors
/// [`Error::LengthMismatch`] unless both hold `norm_partials_len(layer_len)` partials;
/// [`Error::InvalidHyperparameter`], [`Error::ZeroStep`] as [`adafactor_step`].
pub fn adafactor_step_size(
    param_partials: &[f64],
    update_partials: &[f64],
    layer_len: usize,
    step: u32,
    cfg: &AdafactorConfig,
) -> Result<f32, Error> {
    let blocks = crate::norm_partials_len(layer_len);
    validate::len("param_partials", blocks, param_partials.len())?;
    validate::len("update_partials", blocks, update_partials.len())?;
    let k = Coef::from_config(step, cfg)?;
    Ok(k.step_size(sum_partials(param_partials), sum_partials(update_partials), layer_len))
}

/// The second pass of [`adafactor_step`] on a shard: `θ ← θ·(1 − ηλ) + step_size·u`, `u`
/// recomputed from the stored `variance` and the gradient, with the vector's step size from
/// [`adafactor_step_size`].
///
/// # Errors
/// [`Error::LengthMismatch`], [`Error::InvalidHyperparameter`] (also `step_size`: NaN or
/// positive), [`Error::ZeroStep`]. Nothing is written on `Err`.
pub fn adafactor_shard_apply(
    params: &mut [f32],
    grads: &[f32],
    variance: &[f32],
    step: u32,
    cfg: &AdafactorConfig,
    step_size: f32,
) -> Result<(), Error> {
    let n = params.len();
    validate::len("grads", n, grads.len())?;
    validate::len("variance", n, variance.len())?;
    let k = Coef::from_config(step, cfg)?;
    validate::combined_non_positive("step_size", f64::from(step_size))?;
    apply_1d(Width::NATIVE_TWO_PASS, &k, cfg.numerics, params, grads, variance, step_size);
    Ok(())
}

/// Pass 1 of [`adafactor_step`]: `V`, and `‖θ‖²`, `‖u‖²` into the two sums (Portable has no
/// lerp; Torch's lerp branch is a compile-time constant).
#[allow(clippy::too_many_arguments)]
fn moments_1d(
    width: Width,
    k: &Coef,
    numerics: Numerics,
    params: &[f32],
    grads: &[f32],
    variance: &mut [f32],
    p_sq: &mut BlockedSum<'_>,
    u_sq: &mut BlockedSum<'_>,
) {
    with_width!(width, two_pass, |L, N| match numerics {
        Numerics::Torch | Numerics::Bitsandbytes | Numerics::Torchao => {
            specialize!(k.lerp.is_small(), |small| moments_lanes_1d::<L, N, Torch>(
                k,
                small,
                (params, grads, variance),
                (p_sq, u_sq)
            ))
        }
        Numerics::Portable | Numerics::Fast =>
            moments_lanes_1d::<L, N, Portable>(k, Off, (params, grads, variance), (p_sq, u_sq)),
    });
}

#[inline(always)]
fn moments_lanes_1d<L: Lanes<N>, const N: usize, P: Profile>(
    k: &Coef,
    small: impl Flag,
    (params, grads, variance): (&[f32], &[f32], &mut [f32]),
    (p_sq, u_sq): (&mut BlockedSum<'_>, &mut BlockedSum<'_>),
) {
    for_each_chunk_summed::<N, 1, 2, 2>(
        [variance],
        [params, grads],
        [u_sq, p_sq],
        #[inline(always)]
        |[var], [p, g]| {
            let g = L::load(g) * L::splat(k.scale);
            let v = k.lerp::<L, N, P>(small, L::load(var), g * g);
            v.store(var);
            let u = k.update::<L, N, P>(v, g).to_array();
            [terms(&u, square), terms(p, square)]
        },
    );
}

/// Pass 2 of [`adafactor_step`]: `θ ← fma(step, u, θ·c(1 − ηλ))`.
fn apply_1d(
    width: Width,
    k: &Coef,
    numerics: Numerics,
    params: &mut [f32],
    grads: &[f32],
    variance: &[f32],
    step: f32,
) {
    with_width!(width, two_pass, |L, N| specialize!(k.decay.is_some(), |dec| {
        with_profile!(numerics, |P| {
            let step = L::splat(step);
            for_each_chunk::<N, 1, 2>(
                [params],
                [grads, variance],
                #[inline(always)]
                |[p], [g, var]| {
                    let g = L::load(g) * L::splat(k.scale);
                    let param = k.decayed::<L, N>(dec, L::load(p));
                    P::fma(step, k.update::<L, N, P>(L::load(var), g), param).store(p);
                },
            );
        })
    }));
}

/// Adafactor for a `rows × cols` matrix in row-major order, with factored second moments
/// (Shazeer & Stern 2018; `torch.optim.Adafactor`'s path for matrices): updates `params`,
/// `row_var` (`rows` values) and `col_var` (`cols` values) in place.
///
/// With `s = grad_scale`, `t = step` (1-based), `n = rows·cols`, `w = tᶜ`:
/// ```text
/// g ← s·grads                                   (−s·grads with maximize)
/// α = max(ε₂, ‖θ‖/√n)·min(η, 1/√t);   θ ← θ·(1 − ηλ)
/// R_r ← R_r + w·(‖g_r,·‖²/cols − R_r)           (row means of g²)
/// C_c ← C_c + w·(‖g_·,c‖²/rows − C_c)           (column means of g²)
/// V̂_rc = R_r·C_c / max(mean_r R_r, ε₁)
/// u = g / √max(V̂, ε₁²)
/// θ ← θ − α/max(1, ‖u‖/(√n·d)) · u
/// ```
/// torch's order of operations, with the crate's deterministic f64 sums for every norm and
/// mean (each rounded to f32 where torch holds an f32 tensor). No scratch: the passes are the
/// row statistics, the column statistics (16 columns at a time with f64 accumulators on the
/// stack), `‖u‖²`, and the update, which recomputes `u` (the same bits).
///
/// # Errors
/// [`Error::LengthMismatch`] if `params` or `grads` do not hold `rows·cols` values, `row_var`
/// `rows` or `col_var` `cols`; [`Error::InvalidHyperparameter`]; [`Error::ZeroStep`].
/// **Nothing is written when an error is returned.**
#[allow(clippy::too_many_arguments)]
pub fn adafactor_factored_step(
    params: &mut [f32],
    grads: &[f32],
    row_var: &mut [f32],
    col_var: &mut [f32],
    rows: usize,
    cols: usize,
    step: u32,
    cfg: &AdafactorConfig,
) -> Result<(), Error> {
    adafactor_factored_step_with(
        Width::NATIVE_TWO_PASS,
        params,
        grads,
        row_var,
        col_var,
        rows,
        cols,
        step,
        cfg,
    )
}

/// [`adafactor_factored_step`] at an explicit lane width (for tests and benches).
#[doc(hidden)]
#[allow(clippy::too_many_arguments)]
pub fn adafactor_factored_step_with(
    width: Width,
    params: &mut [f32],
    grads: &[f32],
    row_var: &mut [f32],
    col_var: &mut [f32],
    rows: usize,
    cols: usize,
    step: u32,
    cfg: &AdafactorConfig,
) -> Result<(), Error> {
    let n = rows.saturating_mul(cols);
    validate::len("params", n, params.len())?;
    validate::len("grads", n, grads.len())?;
    validate::len("row_var", rows, row_var.len())?;
    validate::len("col_var", cols, col_var.len())?;
    let k = Coef::from_config(step, cfg)?;
    if n == 0 {
        return Ok(());
    }
    // n ≠ 0, so cols ≥ 1; said so for the compiler, which then leaves no panic path in
    // `chunks_exact` (the C library has none).
    let cols = cols.max(1);
    row_stats(&k, cfg.numerics, grads, row_var, cols);
    // Column statistics: 16 columns at a time, f64 accumulators in row order (the additions
    // `adafactor_factored_shard_stats` makes row by row, without a `cols`-long scratch).
    for (c0, col_block) in col_var.chunks_mut(16).enumerate().map(|(b, blk)| (b * 16, blk)) {
        let mut acc = [0.0f64; 16];
        for g_row in grads.chunks_exact(cols) {
            for (a, &x) in
                acc.iter_mut().zip(g_row.get(c0..c0 + col_block.len()).unwrap_or_default())
            {
                *a += square(x * k.scale);
            }
        }
        finish_col_var(&k, cfg.numerics, col_block, &acc, rows);
    }
    let row_mean = row_mean(&k, row_var);
    let (mut p_sq, mut u_sq) = (BlockedSum::new(), BlockedSum::new());
    p_sq.extend(params, square);
    let all_rows = Rows { grads, row_var, col_var, row_mean, cols };
    factored_update_norm(width, &k, cfg.numerics, all_rows, &mut u_sq);
    let step = k.step_size(p_sq.finish(), u_sq.finish(), n);
    factored_apply(width, &k, cfg.numerics, params, all_rows, step);
    Ok(())
}

/// The first pass of [`adafactor_factored_step`] on a shard of whole rows (sharded training):
/// updates the shard's row statistics `row_var` (its rows of `R`) and adds the shard's squared
/// scaled gradients to the running column sums `col_sums` (`cols` f64 values). The column sums
/// are carried from shard to shard in row order: zeros before the first shard, and the sums
/// of every earlier row before each next one (e.g. `MPI_Recv` from the previous rank, this
/// call, `MPI_Send` to the next), so that each column's sum is the one-process sequence of
/// additions. Then [`adafactor_factored_col_var`] once per copy of `col_var` with the final
/// sums, the row statistics of all rows gathered (`MPI_Allgatherv`),
/// [`adafactor_factored_shard_norms`] on each shard, [`adafactor_step_size`] from the
/// gathered partials and [`adafactor_factored_shard_apply`]: bit-identical to one
/// `adafactor_factored_step` over the matrix.
///
/// # Errors
/// [`Error::LengthMismatch`] unless `grads` holds `row_var.len()·cols` values and `col_sums`
/// `cols`; as [`adafactor_factored_step`] for the config. Nothing is written on `Err`.
pub fn adafactor_factored_shard_stats(
    grads: &[f32],
    row_var: &mut [f32],
    col_sums: &mut [f64],
    cols: usize,
    step: u32,
    cfg: &AdafactorConfig,
) -> Result<(), Error> {
    validate::len("grads", row_var.len().saturating_mul(cols), grads.len())?;
    validate::len("col_sums", cols, col_sums.len())?;
    let k = Coef::from_config(step, cfg)?;
    if grads.is_empty() {
        return Ok(());
    }
    let cols = cols.max(1);
    row_stats(&k, cfg.numerics, grads, row_var, cols);
    for g_row in grads.chunks_exact(cols) {
        for (sum, &x) in col_sums.iter_mut().zip(g_row) {
            *sum += square(x * k.scale);
        }
    }
    Ok(())
}

/// The column statistics `C_c ← C_c + w·(col_sums[c]/rows − C_c)` from the column sums of all
/// `rows` rows ([`adafactor_factored_shard_stats`]); every copy of `col_var` (one per rank)
/// gets the same bits.
///
/// # Errors
/// [`Error::LengthMismatch`] unless `col_sums` has `col_var.len()` values; as
/// [`adafactor_factored_step`] for the config. Nothing is written on `Err`.
pub fn adafactor_factored_col_var(
    col_var: &mut [f32],
    col_sums: &[f64],
    rows: usize,
    step: u32,
    cfg: &AdafactorConfig,
) -> Result<(), Error> {
    validate::len("col_sums", col_var.len(), col_sums.len())?;
    let k = Coef::from_config(step, cfg)?;
    if rows > 0 {
        finish_col_var(&k, cfg.numerics, col_var, col_sums, rows);
    }
    Ok(())
}

/// The second pass of [`adafactor_factored_step`] on a shard of whole rows starting at row
/// `row0`: the per-block partials of `‖θ‖²` and `‖u‖²` (`norm_partials_len(params.len())`
/// each) for [`adafactor_step_size`] (with `layer_len = rows·cols`). `row_var` holds the row
/// statistics of **all** rows (gathered after [`adafactor_factored_shard_stats`]), `col_var`
/// the finished column statistics ([`adafactor_factored_col_var`]). The shard's first and
/// last elements must be on whole blocks of the matrix, as [`crate::grad_norm_partials`]
/// requires: `row0·cols` a multiple of 4096, and so the end unless it is the matrix's end.
///
/// # Errors
/// [`Error::LengthMismatch`] (`params` not whole rows, `grads`, `col_var`, the partials),
/// [`Error::ShardBoundary`], and as [`adafactor_factored_step`] for the config. Nothing is
/// written on `Err`.
#[allow(clippy::too_many_arguments)]
pub fn adafactor_factored_shard_norms(
    params: &[f32],
    grads: &[f32],
    row_var: &[f32],
    col_var: &[f32],
    row0: usize,
    step: u32,
    cfg: &AdafactorConfig,
    param_partials: &mut [f64],
    update_partials: &mut [f64],
) -> Result<(), Error> {
    let (k, shard) = factored_shard(params, grads, row_var, col_var, row0, step, cfg)?;
    let (cols, n) = (col_var.len(), params.len());
    let (pp, up) = (("param_partials", param_partials), ("update_partials", update_partials));
    let (offset, layer_len) = (row0.saturating_mul(cols), row_var.len().saturating_mul(cols));
    two_norm_partials(offset, n, layer_len, pp, up, |p_sq, u_sq| {
        p_sq.extend(params, square);
        factored_update_norm(Width::NATIVE_TWO_PASS, &k, cfg.numerics, shard, u_sq);
    })
}

/// The last pass of [`adafactor_factored_step`] on a shard of whole rows starting at row
/// `row0`: `θ ← θ·(1 − ηλ) + step_size·u` with the matrix's step size from
/// [`adafactor_step_size`]; `row_var` and `col_var` as for [`adafactor_factored_shard_norms`]
/// (any row boundary will do here).
///
/// # Errors
/// [`Error::LengthMismatch`] (`params` not whole rows, `grads`), [`Error::IndexOutOfRange`]
/// (`row0`: the shard ends past the last row), [`Error::InvalidHyperparameter`] (also
/// `step_size`: NaN or positive), [`Error::ZeroStep`]. Nothing is written on `Err`.
#[allow(clippy::too_many_arguments)]
pub fn adafactor_factored_shard_apply(
    params: &mut [f32],
    grads: &[f32],
    row_var: &[f32],
    col_var: &[f32],
    row0: usize,
    step: u32,
    cfg: &AdafactorConfig,
    step_size: f32,
) -> Result<(), Error> {
    let (k, shard) = factored_shard(params, grads, row_var, col_var, row0, step, cfg)?;
    validate::combined_non_positive("step_size", f64::from(step_size))?;
    factored_apply(Width::NATIVE_TWO_PASS, &k, cfg.numerics, params, shard, step_size);
    Ok(())
}

/// The checks of a factored shard pass, and its rows: `params` whole rows of `col_var.len()`
/// columns starting at `row0`, within the `row_var.len()` rows.
fn factored_shard<'a>(
    params: &[f32],
    grads: &'a [f32],
    row_var: &'a [f32],
    col_var: &'a [f32],
    row0: usize,
    step: u32,
    cfg: &AdafactorConfig,
) -> Result<(Coef, Rows<'a>), Error> {
    let (n, cols) = (params.len(), col_var.len());
    let shard_rows = n.checked_div(cols).unwrap_or(0);
    validate::len("params", shard_rows * cols, n)?;
    validate::len("grads", n, grads.len())?;
    let k = Coef::from_config(step, cfg)?;
    let end = row0.saturating_add(shard_rows);
    let own = row_var.get(row0..end).ok_or(Error::IndexOutOfRange {
        arg: "row0",
        index: end,
        bound: row_var.len(),
    })?;
    let row_mean = row_mean(&k, row_var);
    Ok((k, Rows { grads, row_var: own, col_var, row_mean, cols: cols.max(1) }))
}

/// Row statistics: `R_r ← lerp(R_r, c(‖g_r‖)²/cols, w)` for each row of `grads` (`cols ≥ 1`).
fn row_stats(k: &Coef, numerics: Numerics, grads: &[f32], row_var: &mut [f32], cols: usize) {
    for (r, g_row) in row_var.iter_mut().zip(grads.chunks_exact(cols)) {
        let mut sum = BlockedSum::new();
        sum.extend(g_row, |x| square(x * k.scale));
        *r = scalar_lerp(k, numerics, *r, mean_square(sum.finish(), cols));
    }
}

/// Column statistics from the column sums over all `rows` rows: `C_c ← lerp(C_c,
/// c(√sum)²/rows, w)`.
fn finish_col_var(k: &Coef, numerics: Numerics, col_var: &mut [f32], sums: &[f64], rows: usize) {
    for (cv, &sum) in col_var.iter_mut().zip(sums) {
        *cv = scalar_lerp(k, numerics, *cv, mean_square(sum, rows));
    }
}

/// `max(mean_r R_r, ε₁)` over every row, the deterministic f64 sum rounded to f32.
fn row_mean(k: &Coef, row_var: &[f32]) -> f32 {
    let mut row_sum = BlockedSum::new();
    row_sum.extend(row_var, f64::from);
    c(row_sum.finish() / row_var.len() as f64).max_nan(k.eps1)
}

/// Whole rows of a factored matrix with their statistics: the rows' gradients and row
/// statistics, every column's statistic, the mean row statistic, `cols ≥ 1`.
#[derive(Clone, Copy)]
struct Rows<'a> {
    grads: &'a [f32],
    row_var: &'a [f32],
    col_var: &'a [f32],
    row_mean: f32,
    cols: usize,
}

/// `‖u‖²` of the rows into `u_sq`, `u = g/√max(R_r·C_c/mean, ε₁²)`, in row-major order.
fn factored_update_norm(
    width: Width,
    k: &Coef,
    numerics: Numerics,
    rows: Rows<'_>,
    u_sq: &mut BlockedSum<'_>,
) {
    let Rows { grads, row_var, col_var, row_mean, cols } = rows;
    let cols = cols.max(1); // ≥ 1 already: said so for the compiler (no panic path)
    with_width!(width, two_pass, |L, N| with_profile!(numerics, |P| {
        for (&r, g_row) in row_var.iter().zip(grads.chunks_exact(cols)) {
            for_each_chunk_summed::<N, 0, 2, 1>(
                [],
                [g_row, col_var],
                [&mut *u_sq],
                #[inline(always)]
                |[], [g, cv]| {
                    let u = k.factored_update::<L, N, P>(r, L::load(cv), row_mean, L::load(g));
                    [terms(&u.to_array(), square)]
                },
            );
        }
    }));
}

/// `θ ← fma(step, u, θ·c(1 − ηλ))` over the rows (`params` their values).
fn factored_apply(
    width: Width,
    k: &Coef,
    numerics: Numerics,
    params: &mut [f32],
    rows: Rows<'_>,
    step: f32,
) {
    let Rows { grads, row_var, col_var, row_mean, cols } = rows;
    let cols = cols.max(1); // ≥ 1 already: said so for the compiler (no panic path)
    with_width!(width, two_pass, |L, N| with_profile!(numerics, |P| specialize!(
        k.decay.is_some(),
        |dec| {
            let step = L::splat(step);
            for ((&r, g_row), p_row) in
                row_var.iter().zip(grads.chunks_exact(cols)).zip(params.chunks_exact_mut(cols))
            {
                for_each_chunk::<N, 1, 2>(
                    [p_row],
                    [g_row, col_var],
                    #[inline(always)]
                    |[p], [g, cv]| {
                        let u = k.factored_update::<L, N, P>(r, L::load(cv), row_mean, L::load(g));
                        P::fma(step, u, k.decayed::<L, N>(dec, L::load(p))).store(p);
                    },
                );
            }
        }
    )));
}

/// `c(√sum)² / count` in f32, as torch's `vector_norm(...).square_().div_(count)`.
fn mean_square(sum: f64, count: usize) -> f32 {
    let norm = libm::sqrt(sum) as f32;
    (norm * norm) / count as f32
}

/// The lerp of one statistic, through the same lane code (width 1).
fn scalar_lerp(k: &Coef, numerics: Numerics, var: f32, x: f32) -> f32 {
    with_profile!(numerics, |P| k.lerp::<f32, 1, P>(k.lerp.is_small(), var, x))
}
