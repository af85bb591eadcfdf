//! The one loop every element-wise kernel runs through.
//!
//! The slices are cut into `N`-element chunks; each chunk is handed to the kernel's lane body.
//! The last `len % N` elements are copied into zero-padded stack arrays, run through the *same*
//! body, and the live elements copied back, so an element rounds the same whether it sits in
//! the body or the tail (and at every width). The padding lanes compute garbage (possibly NaN)
//! that is never stored. Nothing is allocated.

/// The chunk loop shared by [`for_each_chunk`] and [`for_each_chunk_live`], spliced into each
/// (a macro, not a closure: a closure wrapping the kernel's body is not reliably inlined, and a
/// call per chunk costs more than the arithmetic).
macro_rules! chunk_loop {
    ($n:ident, $m:ident, $i:ident, $outs:expr, $ins:expr, |$live:ident, $o:ident, $in:ident| $call:expr) => {{
        let outs = $outs;
        let ins = $ins;
        let len = outs.iter().map(|s| s.len()).chain(ins.iter().map(|s| s.len())).min().unwrap_or(0);
        let mut outs = outs.map(|s| s.split_at_mut(len).0.as_chunks_mut::<$n>());
        let ins = ins.map(|s| s.split_at(len).0.as_chunks::<$n>());
        {
            // Arrays of the chunk slices, built once; `pick` selects chunk `c` of each with an
            // explicit array literal (`array::map` in the loop is not inlined either).
            let mut heads = outs.each_mut().map(|(h, _)| &mut **h);
            let in_heads = ins.map(|(h, _)| h);
            // Two chunks per iteration: more independent work in flight per loop branch.
            let chunks = len / $n;
            for c in (0..chunks - chunks % 2).step_by(2) {
                let ($live, $o, $in) = ($n, heads.pick(c), in_heads.pick(c));
                $call;
                let ($live, $o, $in) = ($n, heads.pick(c + 1), in_heads.pick(c + 1));
                $call;
            }
            if chunks % 2 == 1 {
                let c = chunks - 1;
                let ($live, $o, $in) = ($n, heads.pick(c), in_heads.pick(c));
                $call;
            }
        }
        let tail = len % $n;
        if tail > 0 {
            let mut out_pad = [[0.0f32; $n]; $m];
            let mut in_pad = [[0.0f32; $n]; $i];
            for (pad, (_, t)) in out_pad.iter_mut().zip(outs.iter()) {
                pad[..tail].copy_from_slice(t);
            }
            for (pad, (_, t)) in in_pad.iter_mut().zip(ins.iter()) {
                pad[..tail].copy_from_slice(t);
            }
            let ($live, $o, $in) = (tail, out_pad.each_mut(), in_pad.each_ref());
            $call;
            for (pad, (_, t)) in out_pad.iter().zip(outs.iter_mut()) {
                t.copy_from_slice(&pad[..tail]);
            }
        }
    }};
}

/// Runs `body` over `outs` (read and written) and `ins` (read only), `N` elements at a time.
///
/// All slices must have the same length (the callers validate this first); if they did not,
/// only the common prefix would be visited.
///
/// Inlined into the kernel in optimised builds (a call per kernel is free, and the body must
/// inline into the loop). Not in debug builds: there every inlined copy keeps its own stack
/// slots, and a kernel that dispatches its options to a few hundred monomorphised loops (Adam:
/// widths × profiles × options) had a 1.9 MiB frame, enough to overflow a 2 MiB thread stack.
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn for_each_chunk<const N: usize, const M: usize, const I: usize>(
    outs: [&mut [f32]; M],
    ins: [&[f32]; I],
    mut body: impl FnMut([&mut [f32; N]; M], [&[f32; N]; I]),
) where
    for<'a> [&'a mut [[f32; N]]; M]: Pick<N, M>,
    for<'a> [&'a [[f32; N]]; I]: PickRef<N, I>,
{
    chunk_loop!(N, M, I, outs, ins, |_live, o, i| body(o, i));
}

/// [`for_each_chunk`], also telling the body how many of its `N` lanes are live (`N` except
/// in the zero-padded tail), so that reductions can skip the padding. Chunks come in index
/// order. Inlined as [`for_each_chunk`] is.
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn for_each_chunk_live<const N: usize, const M: usize, const I: usize>(
    outs: [&mut [f32]; M],
    ins: [&[f32]; I],
    mut body: impl FnMut(usize, [&mut [f32; N]; M], [&[f32; N]; I]),
) where
    for<'a> [&'a mut [[f32; N]]; M]: Pick<N, M>,
    for<'a> [&'a [[f32; N]]; I]: PickRef<N, I>,
{
    chunk_loop!(N, M, I, outs, ins, |live, o, i| body(live, o, i));
}

/// Chunk `c` of each of `M` chunked mutable slices, as an array (implemented per arity with an
/// explicit array literal, so it inlines).
pub(crate) trait Pick<const N: usize, const M: usize> {
    /// `[&mut self[0][c], …, &mut self[M − 1][c]]`.
    fn pick(&mut self, c: usize) -> [&mut [f32; N]; M];
}

/// Chunk `c` of each of `I` chunked read-only slices.
pub(crate) trait PickRef<const N: usize, const I: usize> {
    /// `[&self[0][c], …, &self[I − 1][c]]`.
    fn pick(&self, c: usize) -> [&[f32; N]; I];
}

macro_rules! impl_pick {
    ($m:literal: $($x:ident),*) => {
        #[allow(unused_variables)]
        impl<const N: usize> Pick<N, $m> for [&mut [[f32; N]]; $m] {
            #[inline(always)]
            fn pick(&mut self, c: usize) -> [&mut [f32; N]; $m] {
                let [$($x),*] = self;
                [$(&mut $x[c]),*]
            }
        }
        #[allow(unused_variables)]
        impl<const N: usize> PickRef<N, $m> for [&[[f32; N]]; $m] {
            #[inline(always)]
            fn pick(&self, c: usize) -> [&[f32; N]; $m] {
                let [$($x),*] = self;
                [$(&$x[c]),*]
            }
        }
    };
}
impl_pick!(0:);
impl_pick!(1: a);
impl_pick!(2: a, b);
impl_pick!(3: a, b, d);
impl_pick!(4: a, b, d, e);
impl_pick!(5: a, b, d, e, f);
