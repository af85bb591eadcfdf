//! Deterministic f64 reductions over f32 data: the order of every addition depends only on
//! each element's global index, never on lane width, on how the data is split into slices or
//! chunks, or (with whole blocks per thread) on the thread count.
//!
//! Order: elements are grouped in blocks of [`BLOCK`] consecutive global indices. Within a
//! block, element `i` is added to accumulator `i mod 16` (16 independent f64 running sums,
//! in index order); at the end of the block the 16 sums are combined by a fixed pairwise
//! tree; the block sums are added, in block order, to the running total. A final partial
//! block is combined the same way.
//!
//! The squares of f32 values are exact in f64 and their sums neither overflow nor underflow
//! (f32::MAX² ≈ 1.2e77, the smallest subnormal² ≈ 2e-90), so no scaling is needed for L2.

use wide::f64x8;

/// Elements per block.
pub const BLOCK: usize = 4096;
const ACCS: usize = 16;

/// A streaming, order-fixed f64 sum of per-element terms.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BlockedSum {
    acc: [f64; ACCS],
    /// Global index of the next element.
    pos: usize,
    total: f64,
}

impl BlockedSum {
    pub(crate) const fn new() -> Self {
        Self { acc: [0.0; ACCS], pos: 0, total: 0.0 }
    }

    /// The 16 accumulators combined by the fixed pairwise tree.
    fn tree(acc: &[f64; ACCS]) -> f64 {
        let mut a = *acc;
        let mut width = ACCS;
        while width > 1 {
            width /= 2;
            for i in 0..width {
                a[i] += a[i + width];
            }
        }
        a[0]
    }

    fn close_block(&mut self) {
        self.total += Self::tree(&self.acc);
        self.acc = [0.0; ACCS];
    }

    /// Adds `term(x)` for every `x` of `xs`, which continue the global index sequence.
    #[inline(always)]
    pub(crate) fn extend(&mut self, xs: &[f32], term: impl Fn(f32) -> f64) {
        let mut xs = xs;
        while !xs.is_empty() {
            let in_block = BLOCK - self.pos % BLOCK;
            let (now, rest) = xs.split_at(in_block.min(xs.len()));
            let mut it = now;
            // Until aligned to 16, then 16 at a time (vectorisable), then the rest.
            while !self.pos.is_multiple_of(ACCS) {
                let Some((&x, r)) = it.split_first() else { break };
                self.acc[self.pos % ACCS] += term(x);
                self.pos += 1;
                it = r;
            }
            let (chunks, tail) = it.as_chunks::<ACCS>();
            // The accumulators in two `f64x8` registers (a field array would be kept in memory
            // and added one lane at a time).
            let mut lo = f64x8::new(self.acc[..8].try_into().unwrap_or([0.0; 8]));
            let mut hi = f64x8::new(self.acc[8..].try_into().unwrap_or([0.0; 8]));
            for c in chunks {
                let t: [f64; ACCS] = core::array::from_fn(|j| term(c[j]));
                let (a, b) = t.split_at(8);
                lo += f64x8::new(a.try_into().unwrap_or([0.0; 8]));
                hi += f64x8::new(b.try_into().unwrap_or([0.0; 8]));
            }
            self.acc[..8].copy_from_slice(&lo.to_array());
            self.acc[8..].copy_from_slice(&hi.to_array());
            self.pos += chunks.len() * ACCS;
            for (j, &x) in tail.iter().enumerate() {
                self.acc[j] += term(x);
            }
            self.pos += tail.len();
            if self.pos.is_multiple_of(BLOCK) {
                self.close_block();
            }
            xs = rest;
        }
    }

    /// [`BlockedSum::extend`] for one lane chunk of which the first `live` values count: a
    /// whole chunk that fits its group of 16 adds straight into its accumulators (the same
    /// order, vectorised); anything else goes through `extend`.
    #[inline(always)]
    pub(crate) fn extend_chunk<const N: usize>(
        &mut self,
        xs: &[f32; N],
        live: usize,
        term: impl Fn(f32) -> f64,
    ) {
        let base = self.pos % ACCS;
        match self.acc.get_mut(base..base + N) {
            Some(acc) if live == N => {
                for (a, &x) in acc.iter_mut().zip(xs) {
                    *a += term(x);
                }
                self.pos += N;
                if self.pos.is_multiple_of(BLOCK) {
                    self.close_block();
                }
            }
            _ => self.extend(xs.get(..live).unwrap_or(xs), term),
        }
    }

    /// The sum of every term added so far.
    pub(crate) fn finish(mut self) -> f64 {
        if !self.pos.is_multiple_of(BLOCK) {
            self.close_block();
        }
        self.total
    }
}
