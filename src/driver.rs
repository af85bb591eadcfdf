//! The one loop every element-wise kernel runs through.
//!
//! The slices are cut into `N`-element chunks; each chunk is handed to the kernel's lane body.
//! The last `len % N` elements are copied into zero-padded stack arrays, run through the *same*
//! body, and the live elements copied back, so an element rounds the same whether it sits in
//! the body or the tail (and at every width). The padding lanes compute garbage (possibly NaN)
//! that is never stored. Nothing is allocated.

/// Runs `body` over `outs` (read and written) and `ins` (read only), `N` elements at a time.
///
/// All slices must have the same length (the callers validate this first); if they did not,
/// only the common prefix would be visited.
#[inline(always)]
pub(crate) fn for_each_chunk<const N: usize, const M: usize, const I: usize>(
    outs: [&mut [f32]; M],
    ins: [&[f32]; I],
    mut body: impl FnMut([&mut [f32; N]; M], [&[f32; N]; I]),
) {
    for_each_chunk_live(outs, ins, |_, o, i| body(o, i));
}

/// [`for_each_chunk`], also telling the body how many of its `N` lanes are live (`N` except
/// in the zero-padded tail), so that reductions can skip the padding. Chunks come in index
/// order.
#[inline(always)]
pub(crate) fn for_each_chunk_live<const N: usize, const M: usize, const I: usize>(
    outs: [&mut [f32]; M],
    ins: [&[f32]; I],
    mut body: impl FnMut(usize, [&mut [f32; N]; M], [&[f32; N]; I]),
) {
    let len = outs.iter().map(|s| s.len()).chain(ins.iter().map(|s| s.len())).min().unwrap_or(0);
    let mut outs = outs.map(|s| s.split_at_mut(len).0.as_chunks_mut::<N>());
    let ins = ins.map(|s| s.split_at(len).0.as_chunks::<N>());
    let chunks = len / N;
    for c in 0..chunks {
        body(N, outs.each_mut().map(|(h, _)| &mut h[c]), ins.map(|(h, _)| &h[c]));
    }
    let tail = len % N;
    if tail == 0 {
        return;
    }
    let mut out_pad = [[0.0f32; N]; M];
    let mut in_pad = [[0.0f32; N]; I];
    for (pad, (_, t)) in out_pad.iter_mut().zip(outs.iter()) {
        pad[..tail].copy_from_slice(t);
    }
    for (pad, (_, t)) in in_pad.iter_mut().zip(ins.iter()) {
        pad[..tail].copy_from_slice(t);
    }
    body(tail, out_pad.each_mut(), in_pad.each_ref());
    for (pad, (_, t)) in out_pad.iter().zip(outs.iter_mut()) {
        t.copy_from_slice(&pad[..tail]);
    }
}
