//! Sharded (ZeRO-style) training: the reductions of one flat buffer split across processes.
//!
//! Every element-wise kernel already works on any sub-slice: stepping `params[a..b]` with the
//! matching slices of its gradients and state is bit-identical to the same elements of one
//! call over the whole buffer (a shard is a chunk: `tests/widths.rs` checks it for every
//! element-wise kernel; `tests/shard.rs` checks the reductions below).
//! What does not split by itself is a *reduction*: the global gradient norm, or a layer's norms
//! in LAMB. This module gives them as **partials keyed by global position**: each process
//! computes the partials of its shard, the partials of all shards are gathered in global order
//! (e.g. `MPI_Allgatherv`), and [`combine_norm`] folds them into exactly the bits of
//! [`crate::grad_norm_f64`] over the whole buffer, for any number and size of shards.
//!
//! The crate's reductions add in blocks of [`SHARD_ALIGN`] (= 4096) consecutive global
//! indices, 16 accumulators per block, and then the block sums in block order. A block's sum is
//! therefore one partial, and a shard must own whole blocks: its start must be a multiple of
//! [`SHARD_ALIGN`], and so must its end unless it is the end of the buffer. Other boundaries
//! would need an addition order that depends on the split, and are refused
//! ([`Error::ShardBoundary`]).
//!
//! The non-finite guard splits without help: [`crate::all_finite`] of each shard, combined
//! with a logical AND (`MPI_Allreduce` with `MPI_LAND`), so every rank skips the step together.

use crate::reduce::{BLOCK, BlockedSum, square};
use crate::train::grad::{Clip, NormType};
use crate::{Error, validate};

/// Shard boundaries must be multiples of this many elements (the reduction block).
pub const SHARD_ALIGN: usize = BLOCK;

/// How many partials a shard of `shard_len` elements has (its blocks, the last one possibly
/// partial); over a whole buffer of `n` elements, `norm_partials_len(n)`.
pub const fn norm_partials_len(shard_len: usize) -> usize {
    shard_len.div_ceil(BLOCK)
}

/// Checks that `[start, start + len)` is a shard of a buffer of `total_len` elements made of
/// whole blocks, and that each `(name, length)` partials buffer has one slot per block.
pub(crate) fn check_shard(
    start: usize,
    len: usize,
    total_len: usize,
    partials: &[(&'static str, usize)],
) -> Result<(), Error> {
    let end = start.saturating_add(len);
    if end > total_len {
        return Err(Error::ShardBoundary { arg: "end", index: end, block: BLOCK });
    }
    // An empty shard at the very end (a rank with nothing left) starts at `total_len`.
    let empty_at_end = len == 0 && start == total_len;
    if !(start.is_multiple_of(BLOCK) || empty_at_end) {
        return Err(Error::ShardBoundary { arg: "start", index: start, block: BLOCK });
    }
    if end != total_len && !end.is_multiple_of(BLOCK) {
        return Err(Error::ShardBoundary { arg: "end", index: end, block: BLOCK });
    }
    for &(name, found) in partials {
        validate::len(name, norm_partials_len(len), found)?;
    }
    Ok(())
}

/// Pass 1 of a split per-layer step (LAMB, LARS, Adafactor) on the shard `[offset, offset + n)`
/// of a layer of `layer_len`: checks the shard ([`check_shard`]) and both `(name, partials)`
/// buffers, then runs `pass` with one per-block sum writing into each, and writes the last
/// (partial) block. Nothing runs on `Err`.
pub(crate) fn two_norm_partials(
    offset: usize,
    n: usize,
    layer_len: usize,
    (a_name, a): (&'static str, &mut [f64]),
    (b_name, b): (&'static str, &mut [f64]),
    pass: impl FnOnce(&mut BlockedSum<'_>, &mut BlockedSum<'_>),
) -> Result<(), Error> {
    check_shard(offset, n, layer_len, &[(a_name, a.len()), (b_name, b.len())])?;
    if n > 0 {
        let (mut a_sum, mut b_sum) =
            (BlockedSum::partials(offset, a), BlockedSum::partials(offset, b));
        pass(&mut a_sum, &mut b_sum);
        a_sum.finish();
        b_sum.finish();
    }
    Ok(())
}

/// The sum of the partials of whole blocks in block order: the additions the one-process
/// blocked sum makes after each block (`0 + b₀ + b₁ + …`).
pub(crate) fn sum_partials(partials: &[f64]) -> f64 {
    partials.iter().fold(0.0, |t, &p| t + p)
}

/// The maximum of per-block (or per-slice) maxima, NaN if any is NaN (the `Inf` norm's rule).
pub(crate) fn max_of_maxima(maxima: impl IntoIterator<Item = f64>) -> f64 {
    maxima
        .into_iter()
        .fold(0.0, |m: f64, p| if m.is_nan() || p.is_nan() { f64::NAN } else { m.max(p) })
}

/// The partials of `norm` over one shard: `shard` holds the elements `[start, start +
/// shard.len())` of a buffer of `total_len` elements, and `partials[k]` receives block
/// `start/4096 + k`'s partial (`norm_partials_len(shard.len())` of them): its f64 sum of `x²`
/// (L2), `|x|` (L1) or `|x|ᵖ` (P) in the crate's fixed order, or its `max|x|` (Inf; NaN if the
/// block holds a NaN).
///
/// Concatenating every shard's partials in global order gives the partials of the whole
/// buffer, which [`combine_norm`] turns into the norm.
///
/// # Errors
/// [`Error::ShardBoundary`] if `start` is not a multiple of [`SHARD_ALIGN`] (an empty shard may
/// also start at `total_len`), if the shard's end is neither such a multiple nor `total_len`,
/// or if it ends past `total_len`;
/// [`Error::LengthMismatch`] (`partials`) if `partials.len() ≠ norm_partials_len(shard.len())`;
/// [`Error::InvalidHyperparameter`] for an invalid `P`. Nothing is written on `Err`.
pub fn grad_norm_partials(
    shard: &[f32],
    start: usize,
    total_len: usize,
    norm: NormType,
    partials: &mut [f64],
) -> Result<(), Error> {
    let norm = norm.check()?;
    check_shard(start, shard.len(), total_len, &[("partials", partials.len())])?;
    if shard.is_empty() {
        return Ok(());
    }
    if norm == NormType::Inf {
        for (block, out) in shard.chunks(BLOCK).zip(partials.iter_mut()) {
            *out = max_abs(block);
        }
        return Ok(());
    }
    let mut sum = BlockedSum::partials(start, partials);
    add_terms(&mut sum, shard, norm);
    sum.finish();
    Ok(())
}

/// Adds the norm's terms of `xs` (`x²`, `|x|` or `|x|ᵖ`) to `sum`: the one place both the
/// one-process norm and the shard partials compile these loops.
pub(crate) fn add_terms(sum: &mut BlockedSum<'_>, xs: &[f32], norm: NormType) {
    match norm {
        NormType::L2 => sum.extend(xs, square),
        NormType::L1 | NormType::Inf => sum.extend(xs, |x| f64::from(x.abs())),
        NormType::P(p) => sum.extend(xs, |x| libm::pow(f64::from(x.abs()), p)),
    }
}

/// `max|x|` of `xs` in f64, NaN if any element is NaN (the one-process `Inf` rule).
pub(crate) fn max_abs(xs: &[f32]) -> f64 {
    let (mut m, mut nan) = (0.0f32, false);
    for x in xs {
        nan |= x.is_nan();
        m = m.max(x.abs());
    }
    if nan { f64::NAN } else { f64::from(m) }
}

/// The norm of a whole buffer from the partials of all its blocks, in global order
/// (`norm_partials_len(total_len)` values, as [`grad_norm_partials`] wrote them): the block
/// sums added in order then `√` (L2) or `^(1/p)` (P), or their maximum (Inf). Bit-identical to
/// [`crate::grad_norm_f64`] over the whole buffer.
///
/// # Errors
/// [`Error::InvalidHyperparameter`] for an invalid `P`.
pub fn combine_norm(partials: &[f64], norm: NormType) -> Result<f64, Error> {
    let norm = norm.check()?;
    Ok(match norm {
        NormType::Inf => max_of_maxima(partials.iter().copied()),
        _ => finish_norm(sum_partials(partials), norm),
    })
}

/// The root of a norm's sum (`√s`, `s^(1/p)`, or `s` itself).
pub(crate) fn finish_norm(s: f64, norm: NormType) -> f64 {
    match norm {
        NormType::L2 => libm::sqrt(s),
        NormType::P(p) => libm::pow(s, 1.0 / p),
        NormType::L1 | NormType::Inf => s,
    }
}

/// [`crate::clip_coef`] from the partials of the whole buffer: the total norm and torch's
/// clipping coefficient, to pass as each shard's `grad_scale`.
///
/// # Errors
/// As [`combine_norm`], and [`Error::InvalidHyperparameter`] if `max_norm` is NaN, infinite or
/// negative.
pub fn clip_coef_from_partials(
    partials: &[f64],
    max_norm: f64,
    norm: NormType,
) -> Result<Clip, Error> {
    let max_norm = validate::non_negative("max_norm", max_norm)?;
    Ok(Clip::from_norm(combine_norm(partials, norm)?, max_norm))
}
