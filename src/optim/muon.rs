//! Muon (`torch.optim.Muon`, Jordan et al. 2024): momentum orthogonalised by a Newton–Schulz
//! iteration, for the hidden weight matrices of a network.

use crate::driver::for_each_chunk;
use crate::lanes::Lanes;
use crate::linalg::{GemmConfig, gemm, gemm_scratch_len};
use crate::numerics::{Numerics, Profile, Torch, TorchLerp, c};
use crate::reduce::{BlockedSum, square};
use crate::slices::{copy, split_at_mut};
use crate::width::with_width;
use crate::{Error, Width, validate};

/// How Muon scales the learning rate by the matrix shape (torch's `adjust_lr_fn`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum AdjustLr {
    /// `η·√max(1, rows/cols)` (torch's default, `None` or `"original"`).
    Original = 0,
    /// `0.2·η·√max(rows, cols)` (`"match_rms_adamw"`: the update's RMS matches AdamW's).
    MatchRmsAdamw = 1,
    /// `η·√(rows/cols)` (`"spectral_unclamped"`).
    SpectralUnclamped = 2,
}

/// The arithmetic of the Newton–Schulz iteration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum NsPrecision {
    /// f32 throughout (optkern's default: closer to the exact iteration than torch's).
    F32 = 0,
    /// Every matrix rounded to bf16 after each product, the norm and the division, as torch
    /// runs it (its bf16 matrix products accumulate in f32 in MKL-DNN's order, so this tracks
    /// torch closely but not bit for bit).
    Bf16 = 1,
}

/// Hyperparameters of [`muon_step`]. [`Default`] is `torch.optim.Muon`'s.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct MuonConfig {
    /// Learning rate `η`. Default `1e-3`; finite, ≥ 0.
    pub lr: f64,
    /// Decoupled weight decay `λ`. Default `0.1`; finite, ≥ 0.
    pub weight_decay: f64,
    /// Momentum `μ`. Default `0.95`; finite, in `[0, 1)`.
    pub momentum: f64,
    /// Nesterov: orthogonalise `lerp(g, B, μ)` instead of `B`. Default `true`.
    pub nesterov: bool,
    /// The quintic's `(a, b, c)`. Default `(3.4445, −4.775, 2.0315)`; finite.
    pub ns_coefficients: [f64; 3],
    /// Floor of the Frobenius norm. Default `1e-7`; finite, > 0.
    pub eps: f64,
    /// Newton–Schulz iterations. Default `5`; at most 100.
    pub ns_steps: u32,
    /// Default [`AdjustLr::Original`].
    pub adjust_lr: AdjustLr,
    /// Default [`NsPrecision::F32`].
    pub precision: NsPrecision,
    /// Multiplier `s` applied to the gradient first. Default `1` (exact); finite, ≥ 0.
    pub grad_scale: f32,
}

impl Default for MuonConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            weight_decay: 0.1,
            momentum: 0.95,
            nesterov: true,
            ns_coefficients: [3.4445, -4.775, 2.0315],
            eps: 1e-7,
            ns_steps: 5,
            adjust_lr: AdjustLr::Original,
            precision: NsPrecision::F32,
            grad_scale: 1.0,
        }
    }
}

/// The orthogonalised matrix's shape: `m × n` with `m = min(rows, cols)`.
fn dims(rows: usize, cols: usize) -> (usize, usize) {
    (rows.min(cols), rows.max(cols))
}

/// The `f32` scratch [`muon_step`] needs for a `rows × cols` matrix: two `m × n` and two
/// `m × m` matrices (`m = min(rows, cols)`, `n = max`) and the matrix products' packing
/// ([`gemm_scratch_len`]).
pub fn muon_scratch_len(rows: usize, cols: usize) -> usize {
    let (m, n) = dims(rows, cols);
    let gemm =
        gemm_scratch_len(m, m, n).max(gemm_scratch_len(m, m, m)).max(gemm_scratch_len(m, n, m));
    let mn = m.saturating_mul(n);
    let mm = m.saturating_mul(m);
    mn.saturating_mul(2).saturating_add(mm.saturating_mul(2)).saturating_add(gemm)
}

/// Muon on the row-major `rows × cols` matrix `params` with gradient `grads` and
/// `momentum_buffer` (`B`, zero at the start), in place:
/// ```text
/// g ← s·grads
/// B ← lerp(B, g, 1 − μ)                                    (torch's lerp, an EMA)
/// U = lerp(g, B, μ) (Nesterov) or B;  X = U, transposed if rows > cols   (m × n, m ≤ n)
/// X ← X / max(‖X‖_F, ε)
/// ns_steps times:  A = X·Xᵀ;  C = b·A + c·A·A;  X ← a·X + C·X
/// θ ← θ·c(1 − ηλ);  θ ← θ − η'·Xᵀ-or-X                    (η' by `adjust_lr`)
/// ```
/// The products are [`gemm()`] (`C` as `gemm(α = c, β = b)` on `A`, `X` as `gemm(β = a)`), the
/// norm an f64 sum in a fixed order; the lerps and the final update are fused as torch's on
/// FMA builds. Every width gives the same bits. `scratch` holds [`muon_scratch_len`] floats.
///
/// # Errors
/// [`Error::LengthMismatch`] if `params`, `grads` or `momentum_buffer` do not hold
/// `rows·cols` values or `scratch` is short; [`Error::InvalidHyperparameter`] for a field
/// out of range. **Nothing is written when an error is returned.**
#[allow(clippy::too_many_arguments)]
pub fn muon_step(
    params: &mut [f32],
    grads: &[f32],
    momentum_buffer: &mut [f32],
    rows: usize,
    cols: usize,
    scratch: &mut [f32],
    cfg: &MuonConfig,
) -> Result<(), Error> {
    muon_step_with(Width::NATIVE, params, grads, momentum_buffer, rows, cols, scratch, cfg)
}

struct Coef {
    scale: f32,
    buffer_lerp: TorchLerp,
    nesterov_lerp: Option<TorchLerp>,
    ns: [f32; 3],
    ns_steps: u32,
    eps: f64,
    decay: f32,
    neg_lr: f32,
    bf16: bool,
}

impl Coef {
    fn from_config(rows: usize, cols: usize, cfg: &MuonConfig) -> Result<Self, Error> {
        let lr = validate::non_negative("lr", cfg.lr)?;
        let wd = validate::non_negative("weight_decay", cfg.weight_decay)?;
        let mu = validate::unit_half_open("momentum", cfg.momentum)?;
        for x in cfg.ns_coefficients {
            validate::finite("ns_coefficients", x)?;
        }
        let eps = validate::finite("eps", cfg.eps)?;
        if eps <= 0.0 {
            return Err(validate::out_of_range("eps", eps));
        }
        if cfg.ns_steps > 100 {
            return Err(validate::out_of_range("ns_steps", f64::from(cfg.ns_steps)));
        }
        let grad_scale = validate::grad_scale(cfg.grad_scale)?;
        let (r, k) = (rows as f64, cols as f64);
        let ratio = match cfg.adjust_lr {
            AdjustLr::Original => libm::sqrt((r / k).max(1.0)),
            AdjustLr::MatchRmsAdamw => 0.2 * libm::sqrt(r.max(k)),
            AdjustLr::SpectralUnclamped => libm::sqrt(r / k),
        };
        let [a, b, cc] = cfg.ns_coefficients;
        Ok(Self {
            scale: grad_scale,
            buffer_lerp: TorchLerp::with_weight(1.0 - mu),
            nesterov_lerp: cfg.nesterov.then(|| TorchLerp::with_weight(mu)),
            ns: [c(a), c(b), c(cc)],
            ns_steps: cfg.ns_steps,
            eps,
            decay: c(1.0 - lr * wd),
            neg_lr: c(-(lr * ratio)),
            bf16: cfg.precision == NsPrecision::Bf16,
        })
    }
}

/// [`muon_step`] at an explicit lane width (for tests and benches).
#[doc(hidden)]
#[allow(clippy::too_many_arguments)]
pub fn muon_step_with(
    width: Width,
    params: &mut [f32],
    grads: &[f32],
    momentum_buffer: &mut [f32],
    rows: usize,
    cols: usize,
    scratch: &mut [f32],
    cfg: &MuonConfig,
) -> Result<(), Error> {
    let len = rows.saturating_mul(cols);
    validate::len("params", len, params.len())?;
    validate::len("grads", len, grads.len())?;
    validate::len("momentum_buffer", len, momentum_buffer.len())?;
    let need = muon_scratch_len(rows, cols);
    if scratch.len() < need {
        return Err(Error::LengthMismatch { arg: "scratch", expected: need, found: scratch.len() });
    }
    let k = Coef::from_config(rows, cols, cfg)?;
    if len == 0 {
        return Ok(());
    }
    let (m, n) = dims(rows, cols);
    let transposed = rows > cols;
    // Checked splits (the scratch length was checked above): no panic path in the C library.
    let (x, rest) = split_at_mut(scratch, m * n);
    let (xn, rest) = split_at_mut(rest, m * n);
    let (a, rest) = split_at_mut(rest, m * m);
    let (cm, packing) = split_at_mut(rest, m * m);
    // The momentum, and U in params' layout (in `xn`).
    momentum(width, &k, momentum_buffer, grads, xn);
    // X = U or Uᵀ (m × n), rounded to bf16 in that mode.
    transpose_into(x, xn, rows, cols, transposed);
    if k.bf16 {
        round_bf16(x);
    }
    // X ← X / max(‖X‖_F, ε).
    let mut sq = BlockedSum::new();
    sq.extend(x, square);
    let norm = libm::sqrt(sq.finish());
    let norm = if k.bf16 { bf16_value(c(norm)) } else { c(norm) };
    let denom = norm.max(c(k.eps));
    divide(width, x, denom);
    if k.bf16 {
        round_bf16(x);
    }
    let [ca, cb, cc] = k.ns;
    // The products' shapes, leading dimensions and scratch were checked above: they cannot
    // fail, so their results are not inspected.
    for _ in 0..k.ns_steps {
        // A = X·Xᵀ (m × m).
        let _ = gemm_into(a, m, x, n, x, n, [m, m, n], (1.0, 0.0, false, true), packing);
        if k.bf16 {
            round_bf16(a);
        }
        // C = b·A + c·A·A.
        copy(cm, a);
        let _ = gemm_into(cm, m, a, m, a, m, [m, m, m], (cc, cb, false, false), packing);
        if k.bf16 {
            round_bf16(cm);
        }
        // X ← a·X + C·X.
        copy(xn, x);
        let _ = gemm_into(xn, n, cm, m, x, n, [m, n, m], (1.0, ca, false, false), packing);
        if k.bf16 {
            round_bf16(xn);
        }
        copy(x, xn);
    }
    // Back to params' layout, then θ ← θ·c(1 − ηλ); θ ← fma(c(−η'), O, θ).
    transpose_into(xn, x, cols, rows, transposed);
    update(width, &k, params, xn);
    Ok(())
}

/// `gemm` with `(α, β, trans_a, trans_b)` in the `Torch` profile.
#[allow(clippy::too_many_arguments)]
fn gemm_into(
    out: &mut [f32],
    ldc: usize,
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    shape: [usize; 3],
    (alpha, beta, trans_a, trans_b): (f32, f32, bool, bool),
    packing: &mut [f32],
) -> Result<(), Error> {
    let cfg = GemmConfig { alpha, beta, trans_a, trans_b, numerics: Numerics::Torch };
    gemm(out, ldc, a, lda, b, ldb, shape, &cfg, packing)
}

/// `out` (`m × n` with `m = min(r, c)`) ← `src` (`r × c` row-major), transposed when
/// `transposed` (then `r > c`), else copied.
fn transpose_into(out: &mut [f32], src: &[f32], r: usize, c: usize, transposed: bool) {
    // `copy` and `get` (lengths checked by the caller): no panic path in the C library.
    if !transposed {
        copy(out, src);
        return;
    }
    for (j, row) in out.chunks_exact_mut(r.max(1)).enumerate() {
        for (i, x) in row.iter_mut().enumerate() {
            *x = src.get(i * c + j).copied().unwrap_or(0.0);
        }
    }
}

fn bf16_value(x: f32) -> f32 {
    half::bf16::from_f32(x).to_f32()
}

fn round_bf16(v: &mut [f32]) {
    for x in v {
        *x = bf16_value(*x);
    }
}

/// `x ← x / d` element by element.
fn divide(width: Width, x: &mut [f32], d: f32) {
    with_width!(width, |L, N| for_each_chunk::<N, 1, 0>(
        [x],
        [],
        #[inline(always)]
        |[x], []| (L::load(x) / L::splat(d)).store(x),
    ));
}

/// `B ← lerp(B, s·g, 1 − μ)` and `u = lerp(s·g, B, μ)` (Nesterov) or `B`.
fn momentum(width: Width, k: &Coef, buffer: &mut [f32], grads: &[f32], u: &mut [f32]) {
    with_width!(width, |L, N| for_each_chunk::<N, 2, 1>(
        [buffer, u],
        [grads],
        #[inline(always)]
        |[b, u], [g]| {
            let g = L::load(g) * L::splat(k.scale);
            let b_new = k.buffer_lerp.apply::<Torch, L, N>(L::load(b), g);
            b_new.store(b);
            match k.nesterov_lerp {
                Some(lerp) => lerp.apply::<Torch, L, N>(g, b_new).store(u),
                None => b_new.store(u),
            }
        },
    ));
}

/// `θ ← fma(c(−η'), o, θ·c(1 − ηλ))`.
fn update(width: Width, k: &Coef, params: &mut [f32], o: &[f32]) {
    with_width!(width, |L, N| for_each_chunk::<N, 1, 1>(
        [params],
        [o],
        #[inline(always)]
        |[p], [o]| {
            let decayed = L::load(p) * L::splat(k.decay);
            Torch::fma(L::splat(k.neg_lr), L::load(o), decayed).store(p);
        },
    ));
}
