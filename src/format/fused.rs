//! The fused path of a mixed-format call: conversions in registers, each buffer's format fixed
//! at compile time.
//!
//! The staged driver ([`super::run_staged`]) converts a block of 256 elements of every buffer
//! onto the stack, runs the kernel's f32 pass over it and converts back: one mechanism for every
//! format, one compiled loop per kernel, but the conversion passes do not overlap the kernel's
//! divider-bound body (Adam with bf16 states took 1.7× the f32 kernel's time at 4 Ki). Here the
//! conversions sit inside the kernel's chunk loop: for each group of 16 elements every buffer is
//! widened into a 16-lane local, the kernel's *unchanged* lane body runs on it (in `16 / N`
//! pieces at width `N`), and the results are narrowed and stored. With the formats known at
//! compile time the locals stay in registers and the conversions (two operations to widen a
//! bf16 value, eight to narrow one) fill the slots next to the divider.
//!
//! That costs one loop per format combination and kernel option, so only the combinations the
//! trainers this library is built for use have one (the three of issue 13's speed targets):
//!
//! | params ([`Params`](super::Params)) | states | grads |
//! |---|---|---|
//! | f32 master + bf16 copy | f32 | bf16 |
//! | f32 | bf16, nearest | bf16 |
//! | bf16, stochastic | bf16, nearest | bf16 |
//!
//! and only kernels that opt in ([`super::Elementwise::run_fused`]) run them: Adam, SGD with
//! momentum, Lion, Adagrad, RMSprop, Adamax, each for the options its `run_fused` names (one
//! loop per profile and compile-time option; a rarer option is staged). Everything else is
//! staged. The bits are the staged driver's (the same lane body on the same values, the same
//! conversion functions and the same stochastic-rounding index), so which path a call takes
//! changes only its speed. The whole groups of 16 are fused; the last `n % 16` elements are
//! staged.

use super::bf16;
use super::lanes16;
use crate::driver::{Arity, Count};

/// A buffer of a fused call in its compile-time format, read one group of 16 elements at a
/// time (the gradients are only read).
pub(crate) trait Read16 {
    /// Whole groups of 16 elements.
    fn groups(&self) -> usize;
    /// Keeps the first `n` groups (`n <= groups()`): after it the loop's indices are provably
    /// in bounds.
    fn truncate(&mut self, n: usize);
    /// Group `c`, widened to f32 (`c < groups()`).
    fn load(&self, c: usize) -> [f32; 16];
    /// Requests the first cache line of group `c +` [`AHEAD`] (any address: a prefetch never
    /// faults).
    fn request(&self, c: usize);
}

/// A buffer of a fused call that is also written (parameters, states).
pub(crate) trait Group16: Read16 {
    /// Stores `x` as group `c` in the buffer's format.
    fn store(&mut self, c: usize, x: &[f32; 16]);
}

/// How one storage format is widened to f32 and narrowed back, a group of 16 at a time.
pub(crate) trait Codec {
    /// The stored element.
    type Elem: Copy;
    /// The group's f32 values (exact).
    fn widen(h: &[Self::Elem; 16]) -> [f32; 16];
    /// `x` rounded to the format, as group `c` of the buffer (stochastic rounding hashes the
    /// index).
    fn narrow(&self, c: usize, x: &[f32; 16]) -> [Self::Elem; 16];
}

/// f32, stored as it is.
#[derive(Clone, Copy, Default)]
pub(crate) struct F32;

/// bf16, rounded to nearest even.
#[derive(Clone, Copy, Default)]
pub(crate) struct Bf16Nearest;

/// bf16, rounded stochastically: the bits of element `j` of group `c` are those of low index
/// `lo + 16c + j` in a run of key `key` (see [`super::sr::Stream::run_key`]; the call does not
/// cross a multiple of 2³² elements).
#[derive(Clone, Copy)]
pub(crate) struct Bf16Stochastic {
    pub(crate) lo: u32,
    pub(crate) key: u32,
}

impl Codec for F32 {
    type Elem = f32;
    #[inline(always)]
    fn widen(h: &[f32; 16]) -> [f32; 16] {
        *h
    }
    #[inline(always)]
    fn narrow(&self, _: usize, x: &[f32; 16]) -> [f32; 16] {
        *x
    }
}

impl Codec for Bf16Nearest {
    type Elem = bf16;
    #[inline(always)]
    fn widen(h: &[bf16; 16]) -> [f32; 16] {
        widen_bf16(h)
    }
    #[inline(always)]
    fn narrow(&self, _: usize, x: &[f32; 16]) -> [bf16; 16] {
        let mut h = [0; 16];
        lanes16::narrow_bf16(x, &mut h);
        h.map(bf16::from_bits)
    }
}

impl Codec for Bf16Stochastic {
    type Elem = bf16;
    #[inline(always)]
    fn widen(h: &[bf16; 16]) -> [f32; 16] {
        widen_bf16(h)
    }
    #[inline(always)]
    fn narrow(&self, c: usize, x: &[f32; 16]) -> [bf16; 16] {
        let mut h = [0; 16];
        lanes16::stochastic_bf16(x, self.lo.wrapping_add(16 * c as u32), self.key, &mut h);
        h.map(bf16::from_bits)
    }
}

/// A group of bf16 widened (exact): `bits << 16`.
#[inline(always)]
fn widen_bf16(h: &[bf16; 16]) -> [f32; 16] {
    let mut x = [0.0; 16];
    lanes16::widen_bf16(&h.map(bf16::to_bits), &mut x);
    x
}

/// A parameter or state buffer: whole groups in the format of `C`. (`Default`: empty, for the
/// states a call does not use.)
#[derive(Default)]
pub(crate) struct Buf<'a, C: Codec> {
    pub(crate) values: &'a mut [[C::Elem; 16]],
    pub(crate) codec: C,
}

/// A gradient buffer: whole groups in the format of `C`, read only.
pub(crate) struct In<'a, C: Codec>(pub(crate) &'a [[C::Elem; 16]]);

/// An f32 master and its bf16 copy (nearest even) written in the same pass.
pub(crate) struct WithCopy<'a> {
    pub(crate) master: Buf<'a, F32>,
    pub(crate) copy: Buf<'a, Bf16Nearest>,
}

/// Requests the first line of group `c + AHEAD`.
#[inline(always)]
fn request<T>(s: &[[T; 16]], c: usize) {
    crate::prefetch::line(s.as_ptr().wrapping_add(c + AHEAD).cast());
}

/// How many groups ahead the lines are requested: [`crate::prefetch::DISTANCE`] bytes of f32
/// (half that of a bf16 buffer: at 16 Mi elements, Adam with bf16 states took 0.65–0.69 ns per
/// element requesting 1 KiB ahead in every buffer against 0.52–0.55 with this, SPR).
const AHEAD: usize = crate::prefetch::DISTANCE / 64;

impl<C: Codec> Read16 for Buf<'_, C> {
    #[inline(always)]
    fn groups(&self) -> usize {
        self.values.len()
    }
    #[inline(always)]
    fn truncate(&mut self, n: usize) {
        let all = core::mem::take(&mut self.values);
        self.values = all.split_at_mut(n.min(all.len())).0;
    }
    #[inline(always)]
    fn load(&self, c: usize) -> [f32; 16] {
        self.values.get(c).map(C::widen).unwrap_or_default()
    }
    #[inline(always)]
    fn request(&self, c: usize) {
        request(self.values, c)
    }
}

impl<C: Codec> Group16 for Buf<'_, C> {
    #[inline(always)]
    fn store(&mut self, c: usize, x: &[f32; 16]) {
        if let Some(d) = self.values.get_mut(c) {
            *d = self.codec.narrow(c, x);
        }
    }
}

impl<C: Codec> Read16 for In<'_, C> {
    #[inline(always)]
    fn groups(&self) -> usize {
        self.0.len()
    }
    #[inline(always)]
    fn truncate(&mut self, n: usize) {
        self.0 = self.0.split_at(n.min(self.0.len())).0;
    }
    #[inline(always)]
    fn load(&self, c: usize) -> [f32; 16] {
        self.0.get(c).map(C::widen).unwrap_or_default()
    }
    #[inline(always)]
    fn request(&self, c: usize) {
        request(self.0, c)
    }
}

impl Read16 for WithCopy<'_> {
    #[inline(always)]
    fn groups(&self) -> usize {
        self.master.groups().min(self.copy.groups())
    }
    #[inline(always)]
    fn truncate(&mut self, n: usize) {
        self.master.truncate(n);
        self.copy.truncate(n);
    }
    #[inline(always)]
    fn load(&self, c: usize) -> [f32; 16] {
        self.master.load(c)
    }
    #[inline(always)]
    fn request(&self, c: usize) {
        self.master.request(c);
    }
}

impl Group16 for WithCopy<'_> {
    #[inline(always)]
    fn store(&mut self, c: usize, x: &[f32; 16]) {
        self.master.store(c, x);
        self.copy.store(c, x);
    }
}

/// The buffers of a mixed call in one fused combination, as the driver found them: the
/// parameters, the `M − 1` states after them (`None` where unused; slot 0 is never used), the
/// gradients. The kernel takes the states its options use ([`Call::states`]).
pub(crate) struct Call<P, S, G, const M: usize, const I: usize> {
    pub(crate) params: P,
    pub(crate) states: [Option<S>; M],
    pub(crate) grads: [G; I],
}

impl<P, S: Default, G, const M: usize, const I: usize> Call<P, S, G, M, I> {
    /// The call's buffers with its used states in order, if there are exactly `K` of them.
    #[inline(always)]
    pub(crate) fn states<const K: usize>(self) -> Option<Fused<P, S, G, K, I>> {
        if self.states.iter().flatten().count() != K {
            return None;
        }
        let mut used = self.states.into_iter().flatten();
        let states = core::array::from_fn(|_| used.next().unwrap_or_default());
        Some(Fused { params: self.params, states, grads: self.grads })
    }
}

/// The buffers of one fused call: the parameters `P`, the kernel's `K` used states `S` in
/// order, the `I` gradients `G`. [`super::Elementwise::run_fused`] receives one and runs
/// [`Fused::for_each_group`] with its lane body.
pub(crate) struct Fused<P, S, G, const K: usize, const I: usize> {
    pub(crate) params: P,
    pub(crate) states: [S; K],
    pub(crate) grads: [G; I],
}

impl<P: Group16, S: Group16, G: Read16, const K: usize, const I: usize> Fused<P, S, G, K, I>
where
    Count<K>: Arity<K>,
    Count<I>: Arity<I>,
{
    /// Runs `body` (a kernel's lane body at width `N`, `N` dividing 16) over every group of 16
    /// elements: the group of every buffer widened into locals, `body` on its `16 / N` pieces
    /// in order, the results stored in each buffer's format. Groups come in index order.
    /// Beyond the caches every other group requests each buffer's line [`AHEAD`] groups ahead,
    /// as the f32 driver does.
    #[inline(always)]
    pub(crate) fn for_each_group<const N: usize>(
        mut self,
        mut body: impl FnMut(&mut [f32; N], [&mut [f32; N]; K], [&[f32; N]; I]),
    ) {
        let mut count = self.params.groups();
        for s in &self.states {
            count = count.min(s.groups());
        }
        for g in &self.grads {
            count = count.min(g.groups());
        }
        self.params.truncate(count);
        for s in &mut self.states {
            s.truncate(count);
        }
        for g in &mut self.grads {
            g.truncate(count);
        }
        let far = count * 16 * 4 * (1 + K + I) >= crate::prefetch::FROM_BYTES;
        for c in 0..count {
            if far && c % 2 == 0 {
                self.params.request(c);
                for s in &self.states {
                    s.request(c);
                }
                for g in &self.grads {
                    g.request(c);
                }
            }
            let mut p = self.params.load(c);
            let mut s = [[0.0f32; 16]; K];
            for (x, b) in s.iter_mut().zip(&self.states) {
                *x = b.load(c);
            }
            let mut g = [[0.0f32; 16]; I];
            for (x, b) in g.iter_mut().zip(&self.grads) {
                *x = b.load(c);
            }
            let (mut s_refs, g_refs) = (s.each_mut(), g.each_ref());
            for j in 0..16 / N {
                let sp = Count::<K>::part_mut::<16, N>(&mut s_refs, j);
                body(piece_mut::<N>(&mut p, j), sp, Count::<I>::part::<16, N>(&g_refs, j))
            }
            self.params.store(c, &p);
            for (b, x) in self.states.iter_mut().zip(&s) {
                b.store(c, x);
            }
        }
    }
}

/// Piece `j` (of `16 / N`) of a group.
#[inline(always)]
fn piece_mut<const N: usize>(x: &mut [f32; 16], j: usize) -> &mut [f32; N] {
    &mut x.as_chunks_mut::<N>().0[j]
}
