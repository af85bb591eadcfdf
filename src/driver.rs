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
        let mut len = usize::MAX;
        for s in &outs {
            len = len.min(s.len());
        }
        for s in &ins {
            len = len.min(s.len());
        }
        if M + I == 0 {
            len = 0;
        }
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
        let live = self.rest;
        if live == 0 {
            return None;
        }
        let mut outs = [[0.0f32; N]; M];
        let mut ins = [[0.0f32; N]; I];
        // Element-wise copies (the remainders hold `live` elements): no length check to fail.
        for (pad, s) in outs.iter_mut().zip(&self.out_rest) {
            pad.iter_mut().zip(s.iter()).for_each(|(d, &x)| *d = x);
        }
        for (pad, s) in ins.iter_mut().zip(&self.in_rest) {
            pad.iter_mut().zip(s.iter()).for_each(|(d, &x)| *d = x);
        }
        Some(Tail { outs, ins, rest: self.out_rest, live })
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

impl<const N: usize, const M: usize, const I: usize> Tail<'_, N, M, I> {
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
        }
    };
}
impl_arity!(0:);
impl_arity!(1: a);
impl_arity!(2: a, b);
impl_arity!(3: a, b, d);
impl_arity!(4: a, b, d, e);
impl_arity!(5: a, b, d, e, f);
