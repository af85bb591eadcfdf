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

/// `term(x)` of every lane of a chunk: what a kernel's body returns for each of its sums
/// ([`crate::driver::for_each_chunk_summed`]).
#[inline(always)]
pub(crate) fn terms<const N: usize>(xs: &[f32; N], term: impl Fn(f32) -> f64) -> [f64; N] {
    core::array::from_fn(|j| term(xs[j]))
}

/// `x²` in f64 (exact for every f32 `x`): the term of the L2 sums.
#[inline(always)]
pub(crate) fn square(x: f32) -> f64 {
    f64::from(x) * f64::from(x)
}

/// A streaming, order-fixed f64 sum of per-element terms.
///
/// The 16 accumulators are two `f64x8` values. Kernels that sum inside their chunk loop feed
/// them through [`crate::driver::for_each_chunk_summed`], which keeps them in registers for
/// whole groups of 16 elements (a sum updated chunk by chunk inside the kernel's loop was kept
/// in memory by the register allocator: a store and a reload per chunk).
#[derive(Debug)]
pub(crate) struct BlockedSum<'a> {
    /// Accumulators 0–7 and 8–15.
    lo: f64x8,
    hi: f64x8,
    /// Global index of the next element.
    pos: usize,
    /// Where each finished block's sum goes: added to `total` in block order (one process), or
    /// stored at `partials[block − first]` (a shard's partials, combined later in block order
    /// to the same total: `train::shard`). One type for both, so that a kernel's loop is
    /// compiled once whichever it feeds (the branch runs once per block).
    total: f64,
    partials: Option<(&'a mut [f64], usize)>,
}

impl BlockedSum<'static> {
    pub(crate) fn new() -> Self {
        Self { lo: f64x8::ZERO, hi: f64x8::ZERO, pos: 0, total: 0.0, partials: None }
    }

    /// The finished sum, leaving a fresh one in its place (a layer-wise kernel's pass reuses
    /// its accumulator for the next pass).
    pub(crate) fn take(&mut self) -> f64 {
        core::mem::replace(self, Self::new()).finish()
    }
}

/// A fixed-order blocked sum (the crate's `BlockedSum`) between two calls, caller-owned: resuming it over the next slice of the
/// global sequence gives the bits of one sum over the concatenation, however the sequence was
/// split into slices (one model = many tensors, summed in their order). Start from
/// [`SumCarry::default`] (all zero).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
pub struct SumCarry {
    /// The 16 running sums of the open block.
    pub acc: [f64; 16],
    /// Global index of the next element.
    pub pos: u64,
    /// The sum of the closed blocks.
    pub total: f64,
}

impl BlockedSum<'static> {
    /// The sum `carry` left off.
    pub(crate) fn resume(carry: &SumCarry) -> Self {
        let mut s = Self::new();
        s.set_accumulators(&carry.acc);
        s.pos = usize::try_from(carry.pos).unwrap_or(usize::MAX);
        s.total = carry.total;
        s
    }

    /// The state to resume from (the open block stays open).
    pub(crate) fn suspend(&self) -> SumCarry {
        SumCarry { acc: self.accumulators(), pos: self.pos as u64, total: self.total }
    }
}

impl<'a> BlockedSum<'a> {
    /// A sum whose first element has global index `start`, a multiple of [`BLOCK`]; block `b`'s
    /// sum goes to `out[b − start/BLOCK]` instead of the total.
    pub(crate) fn partials(start: usize, out: &'a mut [f64]) -> Self {
        debug_assert!(start.is_multiple_of(BLOCK));
        let partials = Some((out, start / BLOCK));
        Self { lo: f64x8::ZERO, hi: f64x8::ZERO, pos: start, total: 0.0, partials }
    }

    /// The sum of every term added so far (after writing the last, partial block's sum to the
    /// partials, if the sum has them; the total is then 0).
    pub(crate) fn finish(mut self) -> f64 {
        self.flush();
        self.total
    }

    /// A finished block's sum to the total or the partials.
    #[inline(always)]
    fn block(&mut self, block: usize, sum: f64) {
        match &mut self.partials {
            None => self.total += sum,
            Some((out, first)) => {
                if let Some(o) = block.checked_sub(*first).and_then(|i| out.get_mut(i)) {
                    *o = sum;
                }
            }
        }
    }

    /// Sends an unfinished block's sum to the sink (at the end of the data).
    fn flush(&mut self) {
        if !self.pos.is_multiple_of(BLOCK) {
            let t = self.tree();
            self.block(self.pos / BLOCK, t);
        }
    }

    /// The 16 accumulators combined by the fixed pairwise tree.
    /// (`a[i] += a[i + w]` for `i < w`, `w` = 8, 4, 2, 1: the first level is `lo + hi`.)
    #[inline(always)]
    fn tree(&self) -> f64 {
        let a = (self.lo + self.hi).to_array();
        let b = [a[0] + a[4], a[1] + a[5], a[2] + a[6], a[3] + a[7]];
        let c = [b[0] + b[2], b[1] + b[3]];
        c[0] + c[1]
    }

    #[inline(always)]
    fn accumulators(&self) -> [f64; ACCS] {
        let mut a = [0.0; ACCS];
        a[..8].copy_from_slice(&self.lo.to_array());
        a[8..].copy_from_slice(&self.hi.to_array());
        a
    }

    #[inline(always)]
    fn set_accumulators(&mut self, a: &[f64; ACCS]) {
        let (lo, hi) = a.split_at(8);
        self.lo = f64x8::new(lo.try_into().unwrap_or([0.0; 8]));
        self.hi = f64x8::new(hi.try_into().unwrap_or([0.0; 8]));
    }

    /// Advances by `k` elements (after they were added), closing the block at its end.
    #[inline(always)]
    fn advance(&mut self, k: usize) {
        self.pos += k;
        if self.pos.is_multiple_of(BLOCK) {
            let t = self.tree();
            self.block(self.pos / BLOCK - 1, t);
            self.lo = f64x8::ZERO;
            self.hi = f64x8::ZERO;
        }
    }

    /// Adds `term(x)` for every `x` of `xs`, which continue the global index sequence.
    #[inline(always)]
    pub(crate) fn extend<T: Copy>(&mut self, xs: &[T], term: impl Fn(T) -> f64) {
        let mut xs = xs;
        while !xs.is_empty() {
            let in_block = BLOCK - self.pos % BLOCK;
            let (now, rest) = xs.split_at_checked(in_block).unwrap_or((xs, &[]));
            // Until aligned to 16 (one accumulator at a time, on a copy: a run-time index into
            // the fields would keep them out of registers everywhere), then 16 at a time into
            // both halves, then the rest.
            let head = ((ACCS - self.pos % ACCS) % ACCS).min(now.len());
            let (head, it) = now.split_at_checked(head).unwrap_or((now, &[]));
            self.extend_slow(head, &term);
            let (chunks, tail) = it.as_chunks::<ACCS>();
            for c in chunks {
                let t: [f64; ACCS] = core::array::from_fn(|j| term(c[j]));
                let (a, b) = t.split_at(8);
                self.lo += f64x8::new(a.try_into().unwrap_or([0.0; 8]));
                self.hi += f64x8::new(b.try_into().unwrap_or([0.0; 8]));
            }
            if !chunks.is_empty() {
                self.advance(chunks.len() * ACCS);
            }
            self.extend_slow(tail, &term);
            xs = rest;
        }
    }

    /// Adds `xs` (within one block) one element at a time.
    #[inline(always)]
    fn extend_slow<T: Copy>(&mut self, xs: &[T], term: &impl Fn(T) -> f64) {
        if xs.is_empty() {
            return;
        }
        let mut a = self.accumulators();
        for (k, &x) in xs.iter().enumerate() {
            a[(self.pos + k) % ACCS] += term(x);
        }
        self.set_accumulators(&a);
        self.advance(xs.len());
    }
}

/// Elements per group of [`crate::driver::for_each_chunk_summed`]: one per accumulator.
pub(crate) const GROUP: usize = ACCS;

/// What [`crate::driver::for_each_chunk_summed`] needs of a sum (a trait, so that one call can
/// feed sums whose partials borrow different buffers).
pub(crate) trait GroupSum {
    /// The position modulo [`GROUP`].
    fn phase(&self) -> usize;
    /// Whole groups before the open block ends (the position a multiple of [`GROUP`]).
    fn groups_to_block_end(&self) -> usize;
    /// Accumulators 0–7 and 8–15.
    fn accumulators_lo_hi(&self) -> (f64x8, f64x8);
    /// Takes back the accumulators after `groups` whole groups were added to them (not past
    /// the end of the open block), closing the block at its end.
    fn add_groups(&mut self, lo: f64x8, hi: f64x8, groups: usize);
    /// Adds terms already in f64, which continue the global index sequence.
    fn extend_terms(&mut self, terms: &[f64]);
}

impl GroupSum for BlockedSum<'_> {
    #[inline(always)]
    fn phase(&self) -> usize {
        self.pos % ACCS
    }

    #[inline(always)]
    fn groups_to_block_end(&self) -> usize {
        (BLOCK - self.pos % BLOCK) / ACCS
    }

    #[inline(always)]
    fn accumulators_lo_hi(&self) -> (f64x8, f64x8) {
        (self.lo, self.hi)
    }

    #[inline(always)]
    fn add_groups(&mut self, lo: f64x8, hi: f64x8, groups: usize) {
        (self.lo, self.hi) = (lo, hi);
        if groups > 0 {
            self.advance(groups * ACCS);
        }
    }

    fn extend_terms(&mut self, terms: &[f64]) {
        self.extend(terms, |t| t);
    }
}
