//! The one loop every element-wise kernel runs through.
//!
//! The slices are cut into `N`-element chunks; each chunk is handed to the kernel's lane body.
//! The last `len % N` elements are copied into zero-padded stack arrays, run through the *same*
//! body, and the live elements copied back, so an element rounds the same whether it sits in
//! the body or the tail (and at every width). The padding lanes compute garbage (possibly NaN)
//! that is never stored. Nothing is allocated.
//!
//! Build cost: everything that does not depend on the kernel's body (cutting the slices into
//! chunks, the padded tail) lives in [`Chunks`] and [`Tail`], generic only over the width and
//! the buffer counts, so it is compiled once per `(N, M, I)`. Only the loop itself is
//! instantiated per kernel body: a helper closure written inside the generic loop would be
//! a new type (and a new copy of `array::map` and friends) for every body.

use crate::reduce::GroupSum;
use wide::f64x8;

/// `M` mutable and `I` read-only slices cut to their common length and viewed as `N`-element
/// chunks, plus the remainder of each.
pub(crate) struct Chunks<'a, const N: usize, const M: usize, const I: usize> {
    outs: [&'a mut [[f32; N]]; M],
    ins: [&'a [[f32; N]]; I],
    out_rest: [&'a mut [f32]; M],
    in_rest: [&'a [f32]; I],
    /// Number of whole chunks.
    pub(crate) count: usize,
    /// Elements after the whole chunks (`< N`).
    rest: usize,
}

impl<'a, const N: usize, const M: usize, const I: usize> Chunks<'a, N, M, I>
where
    Count<M>: Arity<M>,
    Count<I>: Arity<I>,
{
    /// All slices must have the same length (the callers validate this first); if they did
    /// not, only the common prefix would be visited.
    #[inline(always)]
    pub(crate) fn cut(outs: [&'a mut [f32]; M], ins: [&'a [f32]; I]) -> Self {
        let len = common_len(&outs, &ins);
        let (outs, out_rest) = Count::<M>::split_mut::<N>(outs, len);
        let (ins, in_rest) = Count::<I>::split::<N>(ins, len);
        Self { outs, ins, out_rest, in_rest, count: len / N, rest: len % N }
    }

    /// Chunk `c` of every buffer (`c < count`).
    #[inline(always)]
    pub(crate) fn get(&mut self, c: usize) -> ([&mut [f32; N]; M], [&[f32; N]; I]) {
        (Count::<M>::pick_mut(&mut self.outs, c), Count::<I>::pick(&self.ins, c))
    }

    /// Requests the first cache line of chunks `c` and `c + 1` of every buffer (see
    /// [`crate::prefetch`]); past the end, that of the last chunk (a request for any address
    /// is harmless, and a bounds branch here cost LLVM its proof that the loop's indices are
    /// in bounds).
    #[inline(always)]
    pub(crate) fn request_pair(&self, c: usize) {
        let at = c.min(self.count.saturating_sub(1)) * N;
        Count::<M>::request_mut(&self.outs, at);
        Count::<I>::request(&self.ins, at);
    }

    /// Whether the buffers are large enough to prefetch (see [`crate::prefetch::FROM_BYTES`]).
    #[inline(always)]
    pub(crate) fn far(&self) -> bool {
        self.count * N * 4 * (M + I) >= crate::prefetch::FROM_BYTES
    }

    /// The last `len % N` elements of every buffer in zero-padded arrays, if there are any.
    #[inline(always)]
    pub(crate) fn tail(self) -> Option<Tail<'a, N, M, I>> {
        // `== 0`, not `> 0`: a mutated `>= 0` would run the body on a tail of padding only,
        // which changes nothing observable (an equivalent mutant the CI leg cannot catch).
        if self.rest == 0 {
            return None;
        }
        Some(Tail::padded(self.out_rest, self.in_rest))
    }
}

/// The padded tail of [`Chunks`]: run the body on [`Tail::get`], then [`Tail::store`].
pub(crate) struct Tail<'a, const N: usize, const M: usize, const I: usize> {
    outs: [[f32; N]; M],
    ins: [[f32; N]; I],
    rest: [&'a mut [f32]; M],
    /// Live lanes (`1..N`); the others are padding.
    pub(crate) live: usize,
}

impl<'a, const N: usize, const M: usize, const I: usize> Tail<'a, N, M, I> {
    /// Slices of at most `N` elements (their common length) as a padded piece.
    #[inline(always)]
    pub(crate) fn padded(outs: [&'a mut [f32]; M], ins: [&[f32]; I]) -> Self {
        let live = common_len(&outs, &ins).min(N);
        let mut pad_outs = [[0.0f32; N]; M];
        let mut pad_ins = [[0.0f32; N]; I];
        // Element-wise copies: no length check to fail.
        for (pad, s) in pad_outs.iter_mut().zip(&outs) {
            pad.iter_mut().zip(s.iter()).for_each(|(d, &x)| *d = x);
        }
        for (pad, s) in pad_ins.iter_mut().zip(&ins) {
            pad.iter_mut().zip(s.iter()).for_each(|(d, &x)| *d = x);
        }
        Tail { outs: pad_outs, ins: pad_ins, rest: outs, live }
    }

    /// The padded chunk of every buffer.
    #[inline(always)]
    pub(crate) fn get(&mut self) -> ([&mut [f32; N]; M], [&[f32; N]; I]) {
        (self.outs.each_mut(), self.ins.each_ref())
    }

    /// Copies the live lanes of the mutable buffers back.
    #[inline(always)]
    pub(crate) fn store(self) {
        let live = self.live;
        for (pad, s) in self.outs.iter().zip(self.rest) {
            s.iter_mut().zip(pad.iter().take(live)).for_each(|(d, &x)| *d = x);
        }
    }
}

/// Runs `body` over `outs` (read and written) and `ins` (read only), `N` elements at a time,
/// `live` telling the body how many of its lanes are real (`N`, or fewer in the zero-padded
/// tail), so that reductions can skip the padding. Chunks come in index order.
///
/// Inlined into the kernel in optimised builds (the body must inline into the loop). Not in
/// debug builds: there every inlined copy keeps its own stack slots, and a kernel with many
/// option combinations had a 1.9 MiB frame.
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn for_each_chunk_live<const N: usize, const M: usize, const I: usize>(
    outs: [&mut [f32]; M],
    ins: [&[f32]; I],
    mut body: impl FnMut(usize, [&mut [f32; N]; M], [&[f32; N]; I]),
) where
    Count<M>: Arity<M>,
    Count<I>: Arity<I>,
{
    let mut chunks = Chunks::<N, M, I>::cut(outs, ins);
    // Two chunks per iteration: more independent work in flight per loop branch (measured
    // 5–30 % on LAMB, Adafactor and LARS).
    let count = chunks.count;
    let mut c = 0;
    // Beyond the caches, each buffer's line `prefetch::DISTANCE` bytes ahead (3–10 % faster at
    // 16 Mi elements); a predicted branch below that.
    let (far, ahead) = (chunks.far(), crate::prefetch::DISTANCE / (4 * N));
    while c + 1 < count {
        if far {
            chunks.request_pair(c + ahead);
        }
        let (o, i) = chunks.get(c);
        body(N, o, i);
        let (o, i) = chunks.get(c + 1);
        body(N, o, i);
        c += 2;
    }
    if c < count {
        let (o, i) = chunks.get(c);
        body(N, o, i);
    }
    if let Some(mut tail) = chunks.tail() {
        let live = tail.live;
        let (o, i) = tail.get();
        body(live, o, i);
        tail.store();
    }
}

/// [`for_each_chunk_live`] for kernels that also sum per-element terms: `body` returns, for
/// each of the `S` sums, the f64 terms of its chunk's lanes (those of padding lanes are
/// dropped), and the driver adds them to `sums` in the order [`crate::reduce::BlockedSum`]
/// fixes (the same bits as adding the chunks one by one).
///
/// Why the driver adds them: a sum updated inside the kernel's chunk loop kept its 16
/// accumulators in memory — LLVM's register allocator spilled them for the whole loop (the
/// loop also closes blocks and handles unaligned positions), a store and a reload per chunk
/// and sum: D-Adapt SGD ran 3.7× its traffic limit in cache. Here the accumulators are locals
/// of an inner loop that runs up to the next block boundary over groups of 16 elements, each
/// group adding one term to each accumulator, with nothing else in it. The elements before the
/// sums' position reaches a multiple of 16 and those after the last whole group (fewer than 16
/// each) go through the padded tail path one piece at a time, as does everything when the sums
/// are not at the same position modulo 16 or `N` does not divide 16.
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn for_each_chunk_summed<
    const N: usize,
    const M: usize,
    const I: usize,
    const S: usize,
>(
    outs: [&mut [f32]; M],
    ins: [&[f32]; I],
    mut sums: [&mut dyn GroupSum; S],
    mut body: impl FnMut([&mut [f32; N]; M], [&[f32; N]; I]) -> [[f64; N]; S],
) where
    Count<M>: Arity<M>,
    Count<I>: Arity<I>,
{
    // [0, head): pieces until the sums' position is a multiple of 16; then whole groups; then
    // the rest in pieces.
    let (head, groups) = group_plan::<N, S>(&sums, common_len(&outs, &ins));
    let (head_o, outs) = Count::<M>::cut_at_mut(outs, head);
    let (head_i, ins) = Count::<I>::cut_at(ins, head);
    let (mid_o, rest_o) = Count::<M>::cut_at_mut(outs, groups * GROUP);
    let (mid_i, rest_i) = Count::<I>::cut_at(ins, groups * GROUP);
    // One copy of the body for the pieces (a function called twice, not inlined twice).
    pieces(head_o, head_i, &mut sums, &mut body);
    // The whole groups: chunks of 16 elements, each run through the body in `16 / N` parts.
    let mut chunks = Chunks::<GROUP, M, I>::cut(mid_o, mid_i);
    let (far, ahead) = (chunks.far(), crate::prefetch::DISTANCE / (4 * GROUP));
    let count = chunks.count;
    let mut g = 0;
    while g < count {
        let end = segment_end(&sums, g, count);
        let mut acc = open_accumulators(&sums);
        for c in g..end {
            if far {
                chunks.request_pair(c + ahead);
            }
            let (mut o, i) = chunks.get(c);
            let mut group = [[0.0f64; GROUP]; S];
            for k in 0..GROUP / N {
                let terms = body(Count::<M>::part_mut(&mut o, k), Count::<I>::part(&i, k));
                put_part(&mut group, k, &terms);
            }
            add_group(&mut acc, &group);
        }
        close_accumulators(&mut sums, acc, end - g);
        g = end;
    }
    pieces(rest_o, rest_i, &mut sums, &mut body);
}

/// Elements per group: one per accumulator of a [`crate::reduce::BlockedSum`].
const GROUP: usize = crate::reduce::GROUP;

/// For `len` elements: how many come before the sums' position is a multiple of [`GROUP`]
/// (all of them if the sums are not at one phase, or `N` does not divide [`GROUP`]), and how
/// many whole groups follow.
#[inline(always)]
fn group_plan<const N: usize, const S: usize>(
    sums: &[&mut dyn GroupSum; S],
    len: usize,
) -> (usize, usize) {
    let mut phase = None;
    let mut one_phase = N <= GROUP && GROUP.is_multiple_of(N);
    for s in sums {
        let p = s.phase();
        one_phase &= *phase.get_or_insert(p) == p;
    }
    let head = match phase {
        Some(p) if one_phase => ((GROUP - p) % GROUP).min(len),
        _ => len,
    };
    (head, (len - head) / GROUP)
}

/// The end of the next run of groups from group `g` (of `count`): up to the first block end of
/// any sum (the sums share a phase, not necessarily a block).
#[inline(always)]
fn segment_end<const S: usize>(sums: &[&mut dyn GroupSum; S], g: usize, count: usize) -> usize {
    let mut run = count - g;
    for s in sums {
        run = run.min(s.groups_to_block_end());
    }
    // At most `count` (it is), said so the chunk indices below it need no bounds check.
    (g + run).min(count)
}

/// The sums' accumulators as fresh values (`black_box`), so that their live range is one run
/// of groups alone and they stay in registers.
#[inline(always)]
fn open_accumulators<const S: usize>(sums: &[&mut dyn GroupSum; S]) -> [(f64x8, f64x8); S] {
    let mut acc = [(f64x8::ZERO, f64x8::ZERO); S];
    for (a, sum) in acc.iter_mut().zip(sums) {
        let (lo, hi) = sum.accumulators_lo_hi();
        *a = (core::hint::black_box(lo), core::hint::black_box(hi));
    }
    acc
}

/// The accumulators back into the sums after `groups` whole groups.
#[inline(always)]
fn close_accumulators<const S: usize>(
    sums: &mut [&mut dyn GroupSum; S],
    acc: [(f64x8, f64x8); S],
    groups: usize,
) {
    for (sum, (lo, hi)) in sums.iter_mut().zip(acc) {
        sum.add_groups(lo, hi, groups);
    }
}

/// Part `k` of a group's terms into their accumulator lanes `k·N ..`.
#[inline(always)]
fn put_part<const N: usize, const S: usize>(
    group: &mut [[f64; GROUP]; S],
    k: usize,
    terms: &[[f64; N]; S],
) {
    for (g, t) in group.iter_mut().zip(terms) {
        for (j, &x) in t.iter().enumerate() {
            g[(k * N + j) % GROUP] = x;
        }
    }
}

/// One group's terms added to the accumulators: one term each.
#[inline(always)]
fn add_group<const S: usize>(acc: &mut [(f64x8, f64x8); S], group: &[[f64; GROUP]; S]) {
    for ((lo, hi), g) in acc.iter_mut().zip(group) {
        let (a, b) = g.split_at(8);
        *lo += f64x8::new(a.try_into().unwrap_or([0.0; 8]));
        *hi += f64x8::new(b.try_into().unwrap_or([0.0; 8]));
    }
}

/// The elements of `o` and `i` through `body` in padded pieces of up to `N`, their terms added
/// to `sums` one piece at a time ([`for_each_chunk_summed`] outside its whole groups).
#[inline(never)]
fn pieces<const N: usize, const M: usize, const I: usize, const S: usize>(
    mut o: [&mut [f32]; M],
    mut i: [&[f32]; I],
    sums: &mut [&mut dyn GroupSum; S],
    body: &mut impl FnMut([&mut [f32; N]; M], [&[f32; N]; I]) -> [[f64; N]; S],
) where
    Count<M>: Arity<M>,
    Count<I>: Arity<I>,
{
    let n = common_len(&o, &i);
    let mut start = 0;
    while start < n {
        let (now_o, later_o) = Count::<M>::cut_at_mut(o, N);
        let (now_i, later_i) = Count::<I>::cut_at(i, N);
        let mut piece = Tail::<N, M, I>::padded(now_o, now_i);
        let live = piece.live;
        let (po, pi) = piece.get();
        let terms = body(po, pi);
        piece.store();
        for (sum, t) in sums.iter_mut().zip(&terms) {
            sum.extend_terms(t.get(..live).unwrap_or_default());
        }
        (o, i, start) = (later_o, later_i, start + N);
    }
}

/// The common length of the buffers (0 if there are none).
#[inline(always)]
fn common_len<const M: usize, const I: usize>(outs: &[&mut [f32]; M], ins: &[&[f32]; I]) -> usize {
    let mut len = usize::MAX;
    for s in outs {
        len = len.min(s.len());
    }
    for s in ins {
        len = len.min(s.len());
    }
    if M + I == 0 { 0 } else { len }
}

/// [`for_each_chunk_live`] for bodies that treat every lane alike.
#[inline(always)]
pub(crate) fn for_each_chunk<const N: usize, const M: usize, const I: usize>(
    outs: [&mut [f32]; M],
    ins: [&[f32]; I],
    mut body: impl FnMut([&mut [f32; N]; M], [&[f32; N]; I]),
) where
    Count<M>: Arity<M>,
    Count<I>: Arity<I>,
{
    for_each_chunk_live::<N, M, I>(
        outs,
        ins,
        #[inline(always)]
        |_, o, i| body(o, i),
    )
}

/// A buffer count, as a type: the arities [`Arity`] is implemented for.
pub(crate) struct Count<const K: usize>;

/// Per-arity slicing of an array of `K` slices, written out with array literals so it inlines
/// (generic `array::map` is not reliably inlined and is instantiated per caller).
pub(crate) trait Arity<const K: usize> {
    /// The first `len` elements of each mutable slice as chunks, and the remainder.
    fn split_mut<const N: usize>(
        s: [&mut [f32]; K],
        len: usize,
    ) -> ([&mut [[f32; N]]; K], [&mut [f32]; K]);
    /// The first `len` elements of each read-only slice as chunks, and the remainder.
    fn split<const N: usize>(s: [&[f32]; K], len: usize) -> ([&[[f32; N]]; K], [&[f32]; K]);
    /// Chunk `c` of each mutable chunk slice.
    fn pick_mut<'s, const N: usize>(
        s: &'s mut [&mut [[f32; N]]; K],
        c: usize,
    ) -> [&'s mut [f32; N]; K];
    /// Chunk `c` of each read-only chunk slice.
    fn pick<'s, const N: usize>(s: &'s [&[[f32; N]]; K], c: usize) -> [&'s [f32; N]; K];
    /// Prefetches the line `at` elements into each mutable chunk slice (any `at`).
    fn request_mut<const N: usize>(s: &[&mut [[f32; N]]; K], at: usize);
    /// Prefetches the line `at` elements into each read-only chunk slice (any `at`).
    fn request<const N: usize>(s: &[&[[f32; N]]; K], at: usize);
    /// Part `k` (of `G / N`) of each mutable `G`-element chunk.
    fn part_mut<'s, const G: usize, const N: usize>(
        s: &'s mut [&mut [f32; G]; K],
        k: usize,
    ) -> [&'s mut [f32; N]; K];
    /// Part `k` (of `G / N`) of each read-only `G`-element chunk.
    fn part<'s, const G: usize, const N: usize>(
        s: &[&'s [f32; G]; K],
        k: usize,
    ) -> [&'s [f32; N]; K];
    /// Each mutable slice cut at `at` (at its end if shorter).
    fn cut_at_mut(s: [&mut [f32]; K], at: usize) -> ([&mut [f32]; K], [&mut [f32]; K]);
    /// Each read-only slice cut at `at` (at its end if shorter).
    fn cut_at(s: [&[f32]; K], at: usize) -> ([&[f32]; K], [&[f32]; K]);
}

macro_rules! impl_arity {
    ($k:literal: $($x:ident),*) => {
        #[allow(unused_variables, clippy::unused_unit)]
        impl Arity<$k> for Count<$k> {
            #[inline(always)]
            fn split_mut<const N: usize>(
                s: [&mut [f32]; $k],
                len: usize,
            ) -> ([&mut [[f32; N]]; $k], [&mut [f32]; $k]) {
                let [$($x),*] = s;
                $(let $x = $x.split_at_mut(len).0.as_chunks_mut::<N>();)*
                ([$($x.0),*], [$($x.1),*])
            }
            #[inline(always)]
            fn split<const N: usize>(
                s: [&[f32]; $k],
                len: usize,
            ) -> ([&[[f32; N]]; $k], [&[f32]; $k]) {
                let [$($x),*] = s;
                $(let $x = $x.split_at(len).0.as_chunks::<N>();)*
                ([$($x.0),*], [$($x.1),*])
            }
            #[inline(always)]
            fn pick_mut<'s, const N: usize>(
                s: &'s mut [&mut [[f32; N]]; $k],
                c: usize,
            ) -> [&'s mut [f32; N]; $k] {
                let [$($x),*] = s;
                [$(&mut $x[c]),*]
            }
            #[inline(always)]
            fn pick<'s, const N: usize>(s: &'s [&[[f32; N]]; $k], c: usize) -> [&'s [f32; N]; $k] {
                let [$($x),*] = s;
                [$(&$x[c]),*]
            }
            #[inline(always)]
            fn request_mut<const N: usize>(s: &[&mut [[f32; N]]; $k], at: usize) {
                let [$($x),*] = s;
                $(crate::prefetch::line($x.as_ptr().cast::<f32>().wrapping_add(at));)*
            }
            #[inline(always)]
            fn request<const N: usize>(s: &[&[[f32; N]]; $k], at: usize) {
                let [$($x),*] = s;
                $(crate::prefetch::line($x.as_ptr().cast::<f32>().wrapping_add(at));)*
            }
            #[inline(always)]
            fn part_mut<'s, const G: usize, const N: usize>(
                s: &'s mut [&mut [f32; G]; $k],
                k: usize,
            ) -> [&'s mut [f32; N]; $k] {
                let [$($x),*] = s;
                [$(&mut $x.as_chunks_mut::<N>().0[k]),*]
            }
            #[inline(always)]
            fn part<'s, const G: usize, const N: usize>(
                s: &[&'s [f32; G]; $k],
                k: usize,
            ) -> [&'s [f32; N]; $k] {
                let [$($x),*] = s;
                [$(&$x.as_chunks::<N>().0[k]),*]
            }
            #[inline(always)]
            fn cut_at_mut(
                s: [&mut [f32]; $k],
                at: usize,
            ) -> ([&mut [f32]; $k], [&mut [f32]; $k]) {
                let [$($x),*] = s;
                $(let $x = { let at = at.min($x.len()); $x.split_at_mut(at) };)*
                ([$($x.0),*], [$($x.1),*])
            }
            #[inline(always)]
            fn cut_at(s: [&[f32]; $k], at: usize) -> ([&[f32]; $k], [&[f32]; $k]) {
                let [$($x),*] = s;
                $(let $x = { let at = at.min($x.len()); $x.split_at(at) };)*
                ([$($x.0),*], [$($x.1),*])
            }
        }
    };
}
impl_arity!(0:);
impl_arity!(1: a);
impl_arity!(2: a, b);
impl_arity!(3: a, b, d);
impl_arity!(4: a, b, d, e);
impl_arity!(5: a, b, d, e, f);

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::for_each_chunk_summed;
    use crate::reduce::{BlockedSum, SumCarry, square, terms};
    use std::{format, vec::Vec};

    /// Values over forty binades, so that a different order of additions shows in the bits.
    fn data(n: usize, seed: u32) -> Vec<f32> {
        (0..n as u32)
            .map(|i| {
                let h =
                    (i ^ seed).wrapping_mul(0x9E37_79B9).rotate_left(13).wrapping_mul(0x85EB_CA6B);
                let unit = (h >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
                unit * 2f32.powi((h % 41) as i32 - 20)
            })
            .collect()
    }

    /// A sum resumed at `pos` with open accumulators and a total.
    fn at(pos: u64) -> SumCarry {
        SumCarry { acc: core::array::from_fn(|k| k as f64 * 0.37), pos, total: 1.5 }
    }

    fn bits(c: &SumCarry) -> ([u64; 16], u64, u64) {
        (c.acc.map(f64::to_bits), c.pos, c.total.to_bits())
    }

    /// Two sums fed by the driver equal the same sums fed element by element
    /// (`BlockedSum::extend`), and the body's writes all land.
    fn check<const N: usize>(n: usize, pos_a: u64, pos_b: u64) {
        let (xs, ys) = (data(n, 1), data(n, 2));
        let mut want_a = BlockedSum::resume(&at(pos_a));
        want_a.extend(&xs, f64::from);
        let mut want_b = BlockedSum::resume(&at(pos_b));
        want_b.extend(&ys, square);
        let mut out = xs.clone();
        let (mut a, mut b) = (BlockedSum::resume(&at(pos_a)), BlockedSum::resume(&at(pos_b)));
        for_each_chunk_summed::<N, 1, 1, 2>([&mut out], [&ys], [&mut a, &mut b], |[o], [y]| {
            let t = [terms(o, f64::from), terms(y, square)];
            o.iter_mut().for_each(|v| *v *= 2.0);
            t
        });
        let at = format!("N = {N}, n = {n}, positions {pos_a} and {pos_b}");
        assert_eq!(bits(&a.suspend()), bits(&want_a.suspend()), "first sum, {at}");
        assert_eq!(bits(&b.suspend()), bits(&want_b.suspend()), "second sum, {at}");
        assert!(out.iter().zip(&xs).all(|(o, x)| o.to_bits() == (2.0 * x).to_bits()), "{at}");
    }

    #[test]
    fn driver_sums_equal_element_by_element_sums() {
        // Same phase (aligned, unaligned, block ends near), same phase in different blocks,
        // different phases (every element through the padded pieces).
        let positions =
            [(0, 0), (3, 3), (8, 8), (15, 15), (4090, 4090), (5, 4101), (12272, 16), (3, 4)];
        for n in [0, 1, 7, 16, 17, 31, 4095, 4113, 9000] {
            for (a, b) in positions {
                check::<1>(n, a, b);
                check::<4>(n, a, b);
                check::<8>(n, a, b);
                check::<16>(n, a, b);
            }
        }
    }
}
