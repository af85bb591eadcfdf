//! The data order: a fresh uniformly random permutation every epoch, and minibatches over it.

use super::stream::below;
use crate::{Error, validate};

/// Fisher–Yates shuffle of `indices` in place, unbiased: for `i = n−1 … 1`, swap `i` with a
/// uniform `j ∈ 0..=i` drawn without modulo bias (Lemire's multiply-shift with rejection).
/// Call it once per epoch with the same generator to reshuffle (the source notes: one fixed
/// order keeps its bias).
///
/// # Errors
/// [`Error::InvalidHyperparameter`] (`"indices"`) if there are more than `u32::MAX` of them.
pub fn shuffle<R: rand_core::Rng + ?Sized>(indices: &mut [u32], rng: &mut R) -> Result<(), Error> {
    if u32::try_from(indices.len()).is_err() {
        return Err(validate::out_of_range("indices", indices.len() as f64));
    }
    for i in (1..indices.len()).rev() {
        let j = below(rng, i as u32 + 1) as usize;
        crate::slices::swap(indices, i, j);
    }
    Ok(())
}

/// `indices = 0, 1, …, n−1` (the identity order to shuffle).
pub fn iota(indices: &mut [u32]) {
    for (i, x) in indices.iter_mut().enumerate() {
        *x = i as u32;
    }
}

/// Minibatches over a (shuffled) index slice: consecutive runs of `batch_size` indices; the
/// last one is shorter unless `drop_last`. No allocation: the batches borrow `indices`.
///
/// ```
/// let idx = [3u32, 0, 4, 1, 2];
/// let batches: Vec<&[u32]> = optkern::minibatches(&idx, 2, false).collect();
/// assert_eq!(batches, [&[3, 0][..], &[4, 1], &[2]]);
/// ```
pub fn minibatches(
    indices: &[u32],
    batch_size: usize,
    drop_last: bool,
) -> impl Iterator<Item = &[u32]> {
    indices.chunks(batch_size.max(1)).filter(move |b| !drop_last || b.len() == batch_size)
}
