//! Optimizers whose element-wise update needs a sum over the whole tensor first (a norm, a
//! mean square): two passes over the tensor, the first a fixed-order blocked f64 sum (the same
//! bits at every width and chunking), the second the update. The sums are per tensor, as the
//! packages compute them.

pub mod came;
pub mod fromage;
pub mod mars;
pub mod novograd;
pub mod stable_adamw;

use crate::Width;
use crate::driver::for_each_chunk_summed;
use crate::reduce::{BlockedSum, square, terms};
use crate::width::with_width;

/// `Σ x²` of one buffer (f64, fixed order).
pub(crate) fn sum_sq(width: Width, xs: &[f32]) -> f64 {
    let mut s = BlockedSum::new();
    sum_sq_into(width, xs, &mut s);
    s.finish()
}

/// Adds `x²` for every `x` of `xs` (the next elements of the sequence) to `s`.
pub(crate) fn sum_sq_into(width: Width, xs: &[f32], s: &mut BlockedSum<'_>) {
    // Only the width's `N` is used: the terms are formed in f64, not in lanes.
    with_width!(width, two_pass, |_L, N| {
        for_each_chunk_summed::<N, 0, 1, 1>(
            [],
            [xs],
            [&mut *s],
            #[inline(always)]
            |[], [x]| [terms(x, square)],
        )
    });
}
