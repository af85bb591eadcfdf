//! SparseAdam (`torch.optim.SparseAdam`): the "lazy" Adam of embedding tables, which updates
//! only the rows a sparse gradient touches.

use crate::driver::for_each_chunk;
use crate::lanes::Lanes;
use crate::numerics::{bias_corrections, c};
use crate::optim::signed_scale;
use crate::width::with_width;
use crate::{Error, Width, slices, validate};

/// Hyperparameters of [`sparse_adam_step`]. [`Default`] is `torch.optim.SparseAdam`'s.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct SparseAdamConfig {
    /// Learning rate `η`. Default `1e-3`; finite, ≥ 0.
    pub lr: f64,
    /// `β₁`. Default `0.9`; finite, in `[0, 1)`.
    pub beta1: f64,
    /// `β₂`. Default `0.999`; finite, in `[0, 1)`.
    pub beta2: f64,
    /// `ε` (outside the square root). Default `1e-8`; finite, ≥ 0.
    pub eps: f64,
    /// Maximize the objective (negate the gradient first). Default `false`.
    pub maximize: bool,
    /// Multiplier `s` applied to the summed gradient rows. Default `1` (exact); finite, ≥ 0.
    pub grad_scale: f32,
}

impl Default for SparseAdamConfig {
    fn default() -> Self {
        Self { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, maximize: false, grad_scale: 1.0 }
    }
}

/// The per-call coefficients.
struct Coef {
    scale: f32,
    one_minus_beta1: f32,
    one_minus_beta2: f32,
    eps: f32,
    neg_step_size: f32,
}

impl Coef {
    fn from_config(step: u32, cfg: &SparseAdamConfig) -> Result<Self, Error> {
        let lr = validate::non_negative("lr", cfg.lr)?;
        let beta1 = validate::unit_half_open("beta1", cfg.beta1)?;
        let beta2 = validate::unit_half_open("beta2", cfg.beta2)?;
        let eps = validate::non_negative("eps", cfg.eps)?;
        let scale = signed_scale(cfg.grad_scale, cfg.maximize)?;
        validate::step(step)?;
        let (bc1, bc2) = bias_corrections(beta1, beta2, step);
        let step_size = lr * libm::sqrt(bc2) / bc1;
        Ok(Self {
            scale,
            one_minus_beta1: c(1.0 - beta1),
            one_minus_beta2: c(1.0 - beta2),
            eps: c(eps),
            neg_step_size: c(-step_size),
        })
    }
}

/// The scratch [`sparse_adam_step`] needs for a gradient of `nnz_rows` rows: that many
/// `usize` (a permutation that groups duplicate rows).
pub const fn sparse_adam_scratch_len(nnz_rows: usize) -> usize {
    nnz_rows
}

/// SparseAdam: updates the rows of the `rows × cols` row-major matrix `params` (and its
/// `exp_avg`, `exp_avg_sq`) that a sparse gradient touches, in place. The gradient is
/// `indices.len()` dense rows: row `j` of `values` (`cols` values) belongs to row
/// `indices[j]` of the matrix, as `nn.Embedding(sparse=True)` produces it; indices may come
/// in any order and repeat.
///
/// Step `t` (the caller advances it for every call, also when no row is touched, as torch
/// does) first coalesces the gradient as torch's `coalesce()`: rows with the same index are
/// summed in f32 (in the order they appear in `indices`; torch sums three or more copies in
/// the order of its unstable sort, so such sums may differ in the last bit). Then for every
/// element of every touched row, with `g` = `s·`(the summed row) (`−s·` with maximize), and no
/// fused operation (every build gives the same bits as torch):
/// ```text
/// u_m = (g − m)·c(1 − β₁);     m ← m + u_m
/// u_v = (g·g − v)·c(1 − β₂);   v ← v + u_v
/// θ ← θ + ((u_m + m_old) / (√(u_v + v_old) + c(ε))) · c(−η·√(1 − β₂ᵗ)/(1 − β₁ᵗ))
/// ```
/// (no bias correction inside the root; the step size is computed in f64 and rounded once).
/// Rows not in `indices` are not read or written: their moments decay only when touched.
///
/// `scratch` must hold at least [`sparse_adam_scratch_len`]`(indices.len())` elements; its
/// contents on return are unspecified.
///
/// # Errors
/// [`Error::LengthMismatch`] if `params`, `exp_avg` or `exp_avg_sq` do not hold `rows·cols`
/// elements, `values` not `indices.len()·cols`, or `scratch` fewer than `indices.len()`;
/// [`Error::IndexOutOfRange`] for an index `≥ rows`; [`Error::ZeroStep`];
/// [`Error::InvalidHyperparameter`] for a NaN, infinite or out-of-range field.
/// **Nothing is written when an error is returned** (not even `scratch`).
#[allow(clippy::too_many_arguments)]
pub fn sparse_adam_step(
    params: &mut [f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    rows: usize,
    cols: usize,
    indices: &[usize],
    values: &[f32],
    scratch: &mut [usize],
    step: u32,
    cfg: &SparseAdamConfig,
) -> Result<(), Error> {
    sparse_adam_step_with(
        Width::NATIVE,
        params,
        exp_avg,
        exp_avg_sq,
        rows,
        cols,
        indices,
        values,
        scratch,
        step,
        cfg,
    )
}

/// [`sparse_adam_step`] at an explicit lane width (for tests and benches).
#[doc(hidden)]
#[allow(clippy::too_many_arguments)]
pub fn sparse_adam_step_with(
    width: Width,
    params: &mut [f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    rows: usize,
    cols: usize,
    indices: &[usize],
    values: &[f32],
    scratch: &mut [usize],
    step: u32,
    cfg: &SparseAdamConfig,
) -> Result<(), Error> {
    let n = rows.saturating_mul(cols);
    let nnz = indices.len();
    validate::len("params", n, params.len())?;
    validate::len("exp_avg", n, exp_avg.len())?;
    validate::len("exp_avg_sq", n, exp_avg_sq.len())?;
    validate::len("values", nnz.saturating_mul(cols), values.len())?;
    if scratch.len() < nnz {
        return Err(Error::LengthMismatch { arg: "scratch", expected: nnz, found: scratch.len() });
    }
    if let Some(&index) = indices.iter().find(|&&i| i >= rows) {
        return Err(Error::IndexOutOfRange { arg: "indices", index, bound: rows });
    }
    let k = Coef::from_config(step, cfg)?;
    if cols == 0 {
        return Ok(());
    }
    // Group equal indices, each group in order of appearance: sort the positions by the
    // distinct keys (index, position) — one order, whatever the sort — with an in-place
    // heapsort that has no panic path (core's sort keeps ~30 panic call sites in the C
    // library). The loops below index through `get`: every index is in range by the checks
    // above, and a `None` (unreachable) skips instead of panicking.
    let Some(order) = scratch.get_mut(..nnz) else { return Ok(()) };
    for (j, o) in order.iter_mut().enumerate() {
        *o = j;
    }
    let key = |j: usize| (indices.get(j).copied().unwrap_or(usize::MAX), j);
    heapsort_by_key(order, key);
    let mut rest: &[usize] = order;
    // A group: `first` and the positions `dups` that repeat its row.
    while let Some((&first, others)) = rest.split_first() {
        let row = key(first).0;
        let same = others.iter().take_while(|&&j| key(j).0 == row).count();
        let (dups, tail) = others.split_at(same.min(others.len()));
        rest = tail;
        let at = row.saturating_mul(cols)..row.saturating_add(1).saturating_mul(cols);
        let (Some(p), Some(m), Some(v)) =
            (params.get_mut(at.clone()), exp_avg.get_mut(at.clone()), exp_avg_sq.get_mut(at))
        else {
            continue;
        };
        let value_row = |j: usize| {
            let start = j.saturating_mul(cols);
            values.get(start..start.saturating_add(cols)).unwrap_or_default()
        };
        if dups.is_empty() {
            update_row(width, &k, p, m, v, value_row(first));
        } else {
            // Duplicates: sum the copies in f32, a stack block at a time.
            let mut sum = [0.0f32; SUM_BLOCK];
            let blocks =
                p.chunks_mut(SUM_BLOCK).zip(m.chunks_mut(SUM_BLOCK)).zip(v.chunks_mut(SUM_BLOCK));
            for (b, ((p, m), v)) in blocks.enumerate() {
                let sum = &mut sum[..p.len().min(SUM_BLOCK)];
                let part = |j: usize| value_row(j).get(b * SUM_BLOCK..).unwrap_or_default();
                sum.iter_mut().zip(part(first)).for_each(|(s, &x)| *s = x);
                for &j in dups {
                    sum.iter_mut().zip(part(j)).for_each(|(s, x)| *s += x);
                }
                update_row(width, &k, p, m, v, sum);
            }
        }
    }
    Ok(())
}

/// Sorts `v` ascending by `key` (heapsort: in place, O(n log n), no allocation and no panic
/// path; not stable, which does not matter for distinct keys).
fn heapsort_by_key<K: Ord>(v: &mut [usize], key: impl Fn(usize) -> K) {
    // Every position from the last (leaves, from len/2 on, have no child and stay put).
    for root in (0..v.len()).rev() {
        sift_down(v, root, &key);
    }
    for end in (1..v.len()).rev() {
        slices::swap(v, 0, end);
        if let Some(heap) = v.get_mut(..end) {
            sift_down(heap, 0, &key);
        }
    }
}

/// Moves `heap[root]` down until both its children's keys are smaller (a max-heap).
fn sift_down<K: Ord>(heap: &mut [usize], mut root: usize, key: &impl Fn(usize) -> K) {
    loop {
        let left = 2 * root + 1;
        let right = left + 1;
        let (Some(&r), Some(&l)) = (heap.get(root), heap.get(left)) else { return };
        let child = match heap.get(right) {
            Some(&x) if key(x) > key(l) => right,
            _ => left,
        };
        let c = heap.get(child).copied().unwrap_or(l);
        if key(c) <= key(r) {
            return;
        }
        slices::swap(heap, root, child);
        root = child;
    }
}

/// Columns summed at a time for a duplicated row (a 1 KiB stack block).
const SUM_BLOCK: usize = 256;

/// One touched row (or a block of it): the element-wise update.
#[inline(never)]
fn update_row(width: Width, k: &Coef, p: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32]) {
    with_width!(width, |L, N| for_each_chunk::<N, 3, 1>(
        [p, m, v],
        [g],
        #[inline(always)]
        |[p, m, v], [g]| sparse_adam_lanes::<L, N>(k, p, m, v, g),
    ));
}

#[inline(always)]
fn sparse_adam_lanes<L: Lanes<N>, const N: usize>(
    k: &Coef,
    p: &mut [f32; N],
    m: &mut [f32; N],
    v: &mut [f32; N],
    g: &[f32; N],
) {
    let g = L::load(g) * L::splat(k.scale);
    let (m_old, v_old) = (L::load(m), L::load(v));
    let um = (g - m_old) * L::splat(k.one_minus_beta1);
    let uv = (g * g - v_old) * L::splat(k.one_minus_beta2);
    (m_old + um).store(m);
    (v_old + uv).store(v);
    let denom = (uv + v_old).sqrt() + L::splat(k.eps);
    (L::load(p) + ((um + m_old) / denom) * L::splat(k.neg_step_size)).store(p);
}
