//! Storage formats: how a buffer's values are laid out in memory, under every element-wise
//! kernel.
//!
//! The kernels compute in f32 and their lane bodies do not change. A call in mixed formats
//! (`*_step_mixed`) runs through one staged driver: the slices are cut into blocks of
//! `STAGE` = 256 elements; for each block every buffer not stored as f32 is converted into an f32
//! block on the stack (f32 buffers are used in place), the kernel's f32 pass runs on the
//! block, and the converted buffers are stored back in their format: rounded to bf16/f16
//! (nearest or stochastic), or quantized block by block to codes and a new scale (`q8`, `q4`,
//! `fp8`, all through `Quant`: a block size, code bytes, a per-block quantize and dequantize).
//! So one mechanism serves every kernel, a kernel's loop is compiled once whatever the formats
//! (but for the fused path below), and results do not depend on lane width, chunking or sharding (the stochastic rounding bits hash the
//! global index; quantization blocks are aligned to global indices). A layer-wise kernel
//! (LAMB, LARS, Adafactor, NovoGrad, StableAdamW, MARS, CAME, Fromage: a norm over the call,
//! then the update) runs the driver more than once (`Layerwise`): reduction passes on copies,
//! then the update pass, recomputing and storing.
//!
//! Three combinations the target trainers use (bf16 gradients with an f32 master and a bf16
//! copy; with bf16 states; pure bf16 with stochastic rounding) also have a **fused** path
//! (`src/format/fused.rs`): the conversions inside the kernel's chunk loop, in registers, the
//! formats fixed at compile time — for the kernels that opt in (Adam, SGD with momentum, Lion,
//! Adagrad, RMSprop, Adamax; each for the options its `run_fused` lists), with the same bits as
//! the staged path.
//!
//! | format | layout | read | written |
//! |---|---|---|---|
//! | f32 | `f32` | in place | in place |
//! | bf16 | `u16` bits of `half::bf16` | `bits << 16` (exact) | nearest even (NaN → `0xFFFF`) or stochastic ([`Rounding`]) |
//! | f16 | `u16` bits of `half::f16` | exact | nearest even (IEEE) |
//! | q8 | `u8` codes + one f32 absmax per 256 elements, bitsandbytes' maps ([`Q8Map`]) | `map[code]·absmax` | per block, [`Quantizer`] (nearest, bitsandbytes' CPU rule, torchao's rule) |
//! | q4 | two 4-bit codes per `u8` (even element high) + one f32 scale per 128, torchao's maps ([`Q4Map`]) | `map[code]·scale` | per block, torchao's rule ([`q4_quantize`]) |
//! | fp8 | `float8_e4m3fn` bytes + one f32 scale per 256 (torchao's) | `e4m3fn(code)·scale` | per block, torchao's rule ([`fp8_quantize`]) |
//!
//! The exact rules:
//! - **bf16**: f32 → bf16 round to nearest even, `(u + 0x7FFF + ((u >> 16) & 1)) >> 16`, every
//!   NaN → `0xFFFF` (torch's CPU vector path; `c10::BFloat16`'s scalar path gives `0x7FC0`);
//!   bf16 → f32 `bits << 16`.
//! - **f16**: IEEE binary16 round to nearest even (F16C): `|x| ≥ 65520` → ±∞, subnormals kept,
//!   below 2⁻²⁵ → ±0; NaN → `s | 0x7E00 | m >> 13`. f16 → f32 exact, NaN → `s | 0x7FC00000 |
//!   m << 13` (torch's 1-element path gives `0x7FFFFFFF`; optkern has one rule).
//! - **q8**: [`q8_quantize`]'s documentation.
//! - **stochastic rounding**: up one bf16 ulp when `r < bits(x) & 0xFFFF`, `r` = [`sr_bits`]:
//!   `key = splitmix64(splitmix64(splitmix64(seed) ^ counter) ^ stream)`, `hi =
//!   lowbias32((i >> 32) ^ (key >> 32))`, `r = lowbias32(i ^ key ^ hi) >> 16` (32-bit
//!   truncations), `i` the global index.

mod fp8;
pub(crate) mod fused;
pub(crate) mod half;
mod lanes16;
mod maps;
mod q4;
pub(crate) mod q8;
pub(crate) mod sr;

pub use self::fp8::{FP8_BLOCK, e4m3fn_to_f32, f32_to_e4m3fn};
pub use self::q4::{Q4_BLOCK, Q4Map, q4_map_values};
pub use self::q8::{Q8_BLOCK, Q8Map, Quantizer, q8_map_values};
use crate::Error;
pub use ::half::{bf16, f16};

/// Elements per staged block: a multiple of the `q8` block and of every lane width. Small, so
/// that a block's conversions, its f32 pass and its stores overlap in the out-of-order window
/// and keep memory busy: 256 against 1024, Adam at 16 Mi (SPR, native, three interleaved runs)
/// went from 0.85× to 1.06× fp32's speed with bf16 states, 0.64× to 0.85× pure bf16 with
/// stochastic rounding, 0.90× to 0.96× with a bf16 copy; in cache 0.53× to 0.58× (bf16
/// states). The per-block dispatch stays noise.
pub(crate) const STAGE: usize = Q8_BLOCK;

/// Gradients (read only) as stored.
#[derive(Clone, Copy, Debug)]
pub enum Grads<'a> {
    /// f32.
    F32(&'a [f32]),
    /// bf16, widened exactly.
    Bf16(&'a [bf16]),
    /// f16, widened exactly.
    F16(&'a [f16]),
}

/// How an f32 result is rounded to bf16.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Rounding {
    /// Round to nearest, ties to even.
    Nearest = 0,
    /// Stochastic rounding (`sr`): up one ulp with probability equal to the dropped fraction,
    /// from a hash of the [`Placement`]'s `seed` and `counter`, the buffer and the global
    /// element index.
    Stochastic = 1,
}

/// A half-precision copy of the new parameters, written in the same pass.
#[derive(Debug)]
pub enum HalfCopy<'a> {
    /// bf16, rounded to nearest even.
    Bf16(&'a mut [bf16]),
    /// f16, rounded to nearest even.
    F16(&'a mut [f16]),
}

/// Parameters as stored.
#[derive(Debug)]
pub enum Params<'a> {
    /// f32, updated in place.
    F32(&'a mut [f32]),
    /// An f32 master updated in place, and a half copy of the new values written in the same
    /// pass (DeepSpeed's "step + copy" for ZeRO-Offload): the copy is the master rounded to
    /// nearest even.
    F32WithCopy {
        /// The f32 parameters.
        master: &'a mut [f32],
        /// Receives the rounded new parameters.
        copy: HalfCopy<'a>,
    },
    /// bf16 parameters updated in place: widened, stepped in f32, rounded back.
    Bf16 {
        /// The parameters.
        values: &'a mut [bf16],
        /// How the new values are rounded.
        rounding: Rounding,
    },
    /// bf16 parameters with a bf16 Kahan-compensation buffer: the kernel steps the widened
    /// values; then, in f32, `s = c + (x − p)` (the new value `x` less the old `p`, plus the
    /// compensation `c`), `p ← bf16(p + s)`, `c ← bf16(s − (p_new − p))`, both to nearest
    /// even. Updates smaller than half a bf16 ulp accumulate in `c` instead of being lost
    /// (start `c` at zero). The compensation is not seen by the kernel (weight decay, LAMB's
    /// norms read `p`).
    Bf16Kahan {
        /// The parameters.
        values: &'a mut [bf16],
        /// What rounding the parameters dropped, as long as `values`.
        compensation: &'a mut [bf16],
    },
}

/// An optimizer state buffer as stored.
#[derive(Debug)]
pub enum State<'a> {
    /// f32.
    F32(&'a mut [f32]),
    /// bf16, rounded back after every step.
    Bf16 {
        /// The state.
        values: &'a mut [bf16],
        /// How the new values are rounded.
        rounding: Rounding,
    },
    /// Block-wise 8-bit codes with one f32 absmax per block of [`Q8_BLOCK`] elements.
    Q8 {
        /// One code per element.
        codes: &'a mut [u8],
        /// `ceil(len / Q8_BLOCK)` scales.
        absmax: &'a mut [f32],
        /// The map the codes index.
        map: Q8Map,
        /// How new values are rounded to codes.
        quantizer: Quantizer,
    },
    /// torchao's block-wise 4-bit codes, two per byte, with one f32 scale per block of
    /// [`Q4_BLOCK`] elements (torchao's `AdamW4bit`: m on the signed map, v on the unsigned).
    Q4 {
        /// `ceil(len / 2)` bytes, the element of even index in the high nibble.
        codes: &'a mut [u8],
        /// `ceil(len / Q4_BLOCK)` scales.
        scale: &'a mut [f32],
        /// The map the codes index.
        map: Q4Map,
    },
    /// torchao's block-wise `float8_e4m3fn` codes with one f32 scale per block of
    /// [`FP8_BLOCK`] elements (torchao's `AdamWFp8`).
    Fp8 {
        /// One code per element.
        codes: &'a mut [u8],
        /// `ceil(len / FP8_BLOCK)` scales.
        scale: &'a mut [f32],
    },
    /// No buffer: for a state the call's options do not use (AMSGrad off, no momentum, ...).
    Unused,
}

/// A block-quantized state format: its block and its buffer sizes (what to allocate for a
/// [`State::Q8`], [`State::Q4`] or [`State::Fp8`] buffer), and the one mechanism under those
/// formats and their conversion functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quant {
    /// [`State::Q8`]: one code per element, one absmax per [`Q8_BLOCK`].
    Q8(Q8Map, Quantizer),
    /// [`State::Q4`]: two codes per byte, one scale per [`Q4_BLOCK`].
    Q4(Q4Map),
    /// [`State::Fp8`]: one code per element, one scale per [`FP8_BLOCK`].
    Fp8,
}

impl Quant {
    /// Elements per block (one scale each); a shard must start at a multiple of it.
    pub const fn block(self) -> usize {
        match self {
            Quant::Q8(..) => Q8_BLOCK,
            Quant::Q4(_) => Q4_BLOCK,
            Quant::Fp8 => FP8_BLOCK,
        }
    }

    /// Bytes of codes for `n` elements.
    pub const fn code_bytes(self, n: usize) -> usize {
        match self {
            Quant::Q4(_) => n.div_ceil(2),
            _ => n,
        }
    }

    /// Scales (absmax) for `n` elements: one per block, the last possibly partial.
    pub const fn scales(self, n: usize) -> usize {
        n.div_ceil(self.block())
    }

    /// The name of its scale argument (bitsandbytes calls it absmax).
    pub(crate) const fn scale_name(self) -> &'static str {
        match self {
            Quant::Q8(..) => "absmax",
            _ => "scale",
        }
    }

    /// Quantizes `x` (from a block boundary) into `codes` and `scales`, block by block.
    pub(crate) fn quantize(self, x: &[f32], codes: &mut [u8], scales: &mut [f32]) {
        let (b, bytes) = (self.block(), self.code_bytes(self.block()));
        for ((xb, cb), s) in x.chunks(b).zip(codes.chunks_mut(bytes)).zip(scales) {
            *s = match self {
                Quant::Q8(map, quantizer) => q8::quantize_block(map, quantizer, xb, cb),
                Quant::Q4(map) => q4::quantize_block(map, xb, cb),
                Quant::Fp8 => fp8::quantize_block(xb, cb),
            };
        }
    }

    /// Dequantizes `out.len()` elements from a block boundary.
    pub(crate) fn dequantize(self, codes: &[u8], scales: &[f32], out: &mut [f32]) {
        let (b, bytes) = (self.block(), self.code_bytes(self.block()));
        for ((ob, cb), &s) in out.chunks_mut(b).zip(codes.chunks(bytes)).zip(scales) {
            match self {
                Quant::Q8(map, _) => q8::dequantize_block(map, cb, s, ob),
                Quant::Q4(map) => q4::dequantize_block(map, cb, s, ob),
                Quant::Fp8 => fp8::dequantize_block(cb, s, ob),
            }
        }
    }

    /// The length checks of `n` elements as `codes` and `scales`.
    fn check_lens(self, n: usize, codes: usize, scales: usize) -> Result<(), Error> {
        crate::validate::len("codes", self.code_bytes(n), codes)?;
        crate::validate::len(self.scale_name(), self.scales(n), scales)
    }
}

/// Where a mixed-format call's elements sit in the whole (flattened) buffer, and the
/// randomness of stochastic rounding.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct Placement {
    /// Global index of the call's first element (`0` unless the buffer is sharded). With a
    /// block-quantized buffer it must be a multiple of its block ([`Q8_BLOCK`],
    /// [`Q4_BLOCK`], [`FP8_BLOCK`]).
    pub offset: u64,
    /// Seed of the stochastic rounding bits.
    pub seed: u64,
    /// A counter that makes every call's bits fresh: pass the step number.
    pub counter: u64,
}

/// A mutable buffer of a mixed call, after its format is known.
pub(crate) enum Out<'a> {
    F32(&'a mut [f32]),
    F32Copy(&'a mut [f32], HalfCopy<'a>),
    Bf16(&'a mut [bf16], Rounding),
    Bf16Kahan(&'a mut [bf16], &'a mut [bf16]),
    Quant { codes: &'a mut [u8], scales: &'a mut [f32], quant: Quant },
    Unused,
}

impl<'a> From<Params<'a>> for Out<'a> {
    fn from(p: Params<'a>) -> Self {
        match p {
            Params::F32(s) => Out::F32(s),
            Params::F32WithCopy { master, copy } => Out::F32Copy(master, copy),
            Params::Bf16 { values, rounding } => Out::Bf16(values, rounding),
            Params::Bf16Kahan { values, compensation } => Out::Bf16Kahan(values, compensation),
        }
    }
}

impl<'a> From<State<'a>> for Out<'a> {
    fn from(s: State<'a>) -> Self {
        match s {
            State::F32(s) => Out::F32(s),
            State::Bf16 { values, rounding } => Out::Bf16(values, rounding),
            State::Q8 { codes, absmax, map, quantizer } => {
                Out::Quant { codes, scales: absmax, quant: Quant::Q8(map, quantizer) }
            }
            State::Q4 { codes, scale, map } => {
                Out::Quant { codes, scales: scale, quant: Quant::Q4(map) }
            }
            State::Fp8 { codes, scale } => Out::Quant { codes, scales: scale, quant: Quant::Fp8 },
            State::Unused => Out::Unused,
        }
    }
}

impl Out<'_> {
    /// The same buffer from element `start` on (for a quantized one `start` is a multiple of
    /// its block: the fused path, which hands its tail to the staged driver, takes none).
    fn after(&mut self, start: usize) -> Out<'_> {
        match self {
            Out::F32(s) => Out::F32(s.get_mut(start..).unwrap_or_default()),
            Out::F32Copy(s, copy) => Out::F32Copy(
                s.get_mut(start..).unwrap_or_default(),
                match copy {
                    HalfCopy::Bf16(c) => HalfCopy::Bf16(c.get_mut(start..).unwrap_or_default()),
                    HalfCopy::F16(c) => HalfCopy::F16(c.get_mut(start..).unwrap_or_default()),
                },
            ),
            Out::Bf16(s, rounding) => Out::Bf16(s.get_mut(start..).unwrap_or_default(), *rounding),
            Out::Bf16Kahan(s, comp) => Out::Bf16Kahan(
                s.get_mut(start..).unwrap_or_default(),
                comp.get_mut(start..).unwrap_or_default(),
            ),
            Out::Quant { codes, scales, quant } => Out::Quant {
                codes: codes.get_mut(quant.code_bytes(start)..).unwrap_or_default(),
                scales: scales.get_mut(start / quant.block()..).unwrap_or_default(),
                quant: *quant,
            },
            Out::Unused => Out::Unused,
        }
    }

    /// Element count (0 when unused), for a call of `n` elements: a `q4` buffer holds two per
    /// byte, so `n` when its `ceil(n / 2)` bytes fit an odd `n`, else twice its bytes.
    pub(crate) fn len(&self, n: usize) -> usize {
        match self {
            Out::F32(s) | Out::F32Copy(s, _) => s.len(),
            Out::Bf16(s, _) | Out::Bf16Kahan(s, _) => s.len(),
            Out::Quant { codes, quant: Quant::Q4(_), .. } if codes.len() == n.div_ceil(2) => n,
            Out::Quant { codes, quant: Quant::Q4(_), .. } => 2 * codes.len(),
            Out::Quant { codes, .. } => codes.len(),
            Out::Unused => 0,
        }
    }

    /// The format's own checks for `n` elements: the copy's length, a quantized buffer's
    /// scales and alignment.
    fn check(&self, arg: &'static str, n: usize, offset: u64) -> Result<(), Error> {
        match self {
            Out::F32Copy(master, copy) => {
                let found = match copy {
                    HalfCopy::Bf16(c) => c.len(),
                    HalfCopy::F16(c) => c.len(),
                };
                crate::validate::len("copy", master.len(), found)
            }
            Out::Bf16Kahan(values, comp) => {
                crate::validate::len("compensation", values.len(), comp.len())
            }
            Out::Quant { codes, scales, quant } => {
                let block = quant.block();
                if !offset.is_multiple_of(block as u64) {
                    return Err(Error::Misaligned { arg, offset, block });
                }
                quant.check_lens(n, codes.len(), scales.len())
            }
            _ => Ok(()),
        }
    }
}

impl Grads<'_> {
    /// Its elements from `start` on.
    fn after(&self, start: usize) -> Self {
        match *self {
            Grads::F32(s) => Grads::F32(s.get(start..).unwrap_or_default()),
            Grads::Bf16(s) => Grads::Bf16(s.get(start..).unwrap_or_default()),
            Grads::F16(s) => Grads::F16(s.get(start..).unwrap_or_default()),
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Grads::F32(s) => s.len(),
            Grads::Bf16(s) => s.len(),
            Grads::F16(s) => s.len(),
        }
    }
}

/// An element-wise kernel after its checks: its f32 pass over `M` mutable and `I` read-only
/// slices of one length (an unused optional buffer is an empty slice).
pub(crate) trait Elementwise<const M: usize, const I: usize> {
    /// Runs the kernel's lane body over the slices at `width`.
    fn run(&self, width: crate::Width, outs: [&mut [f32]; M], ins: [&[f32]; I]);
    /// Which mutable buffers this call uses (an unused one is never read or written).
    fn used(&self) -> [bool; M];
    /// Whether the kernel has fused loops ([`Elementwise::run_fused`]); a kernel without them
    /// compiles no fused dispatch at all.
    const FUSED: bool = false;
    /// Runs the kernel's lane body over the whole groups of a call in a fused format
    /// combination ([`fused`]) and returns true, if the kernel has a fused loop for these
    /// options; returns false, having done nothing, if not (the call is then staged).
    fn run_fused<P: fused::Group16, S: fused::Group16 + Default, G: fused::Read16>(
        &self,
        width: crate::Width,
        call: fused::Call<P, S, G, M, I>,
    ) -> bool {
        let _ = (width, call);
        false
    }
}

/// A layer-wise kernel after its checks (LAMB's trust ratio, LARS's local learning rate,
/// Adafactor's step size): a reduction over the whole call, then the update, both over `M`
/// mutable and `I` read-only slices of one length. In mixed formats it runs as two staged
/// passes ([`mixed_layerwise`]): pass 1 ([`Layerwise::reduce`]) sees every block on copies —
/// nothing it writes is stored — and pass 2 ([`Layerwise::update`]) recomputes what pass 1
/// computed and steps the block, which is then stored. So the values as read give the f32
/// kernel's bits, whatever the formats (the f32 kernel's pass 2 rereads what its pass 1
/// stored; here pass 1 stores nothing and pass 2 derives the same values again).
pub(crate) trait Layerwise<const M: usize, const I: usize> {
    /// Which mutable buffers this call uses (pass 2 reads and stores them; an unused one is
    /// never read or written).
    fn used(&self) -> [bool; M] {
        [true; M]
    }
    /// Whether reduction passes come before the update pass (not for a kernel whose sums are
    /// taken in the update pass itself, D-Adapt Adam's).
    fn reductions(&self) -> bool {
        true
    }
    /// How reduction pass `pass` (0, 1, …) sees each mutable buffer.
    fn reads(&self, pass: usize) -> [Access; M];
    /// Reduction pass `pass` on one block: adds it to the kernel's reductions.
    fn reduce(&mut self, pass: usize, width: crate::Width, outs: [&mut [f32]; M], ins: [&[f32]; I]);
    /// After reduction pass `pass`: its sums are complete. Returns whether another reduction
    /// pass follows (Fromage's bound needs the norm of the stepped values).
    fn finish(&mut self, pass: usize) -> bool;
    /// Pass 2 on one block: the whole step of its elements.
    fn update(&mut self, width: crate::Width, outs: [&mut [f32]; M], ins: [&[f32]; I]);
}

/// How a staged pass sees one mutable buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// Not used: an empty slice, never read or written.
    Skip,
    /// Read only (pass 1): f32 memory in place, any other format widened onto the stack.
    Read,
    /// Read, then overwritten as scratch (pass 1): always a copy on the stack, f32 too, so the
    /// buffer itself is not written.
    Scratch,
    /// Read, stepped and stored back in its format (an element-wise kernel, pass 2).
    Update,
}

/// A mixed-format call of an element-wise kernel: `checked` validates the lengths (mutable
/// buffers first, an unused one 0) and the hyperparameters and returns the kernel; then the
/// formats are checked; only then is anything written. Returns the kernel (for the scalar
/// state some kernels write back).
pub(crate) fn mixed<K: Elementwise<M, I>, const M: usize, const I: usize>(
    width: crate::Width,
    names: [&'static str; M],
    outs: [Out; M],
    ins: [Grads; I],
    at: &Placement,
    checked: impl FnOnce([usize; M], [usize; I]) -> Result<K, Error>,
) -> Result<K, Error> {
    let n = grads_len(&ins);
    let k = checked(lens(&outs, n), ins.each_ref().map(Grads::len))?;
    let access = updated(k.used());
    let mut outs = checked_formats(outs, &names, &access, n, at)?;
    let done = if K::FUSED { fused_groups(&k, width, &mut outs, &ins, at) } else { 0 };
    if done < n || n == 0 {
        let outs = after(&mut outs, done);
        let ins = ins_after(&ins, done);
        let at = Placement { offset: at.offset.wrapping_add(done as u64), ..*at };
        run_staged(width, outs, ins, &at, access, &mut |w, o, i| k.run(w, o, i));
    }
    Ok(k)
}

/// Runs the whole groups of 16 elements of a mixed call through the kernel's fused loop
/// ([`fused`]) when the formats are one of the fused combinations and the kernel has a loop for
/// its options; returns how many elements that did (0: none, the call is staged). Only the
/// call to the kernel depends on it: the rest is generic over the buffer counts alone.
fn fused_groups<K: Elementwise<M, I>, const M: usize, const I: usize>(
    k: &K,
    width: crate::Width,
    outs: &mut [Out; M],
    ins: &[Grads; I],
    at: &Placement,
) -> usize {
    use fused::{Bf16Nearest, Bf16Stochastic, Buf, Call, F32, WithCopy};
    let Some((plan, whole)) = fused_plan(outs, ins, at) else { return 0 };
    let grads = bf16_grads(ins);
    let Some((first, rest)) = outs.split_first_mut() else { return 0 };
    let ran = match (plan, first) {
        (FusedPlan::MasterWithCopy, Out::F32Copy(master, HalfCopy::Bf16(copy))) => {
            let params = WithCopy {
                master: Buf { values: master.as_chunks_mut().0, codec: F32 },
                copy: Buf { values: copy.as_chunks_mut().0, codec: Bf16Nearest },
            };
            k.run_fused(width, Call { params, states: slots(rest, f32_slot), grads })
        }
        (FusedPlan::HalfStates, Out::F32(p)) => {
            let params = Buf { values: p.as_chunks_mut().0, codec: F32 };
            k.run_fused(width, Call { params, states: slots(rest, bf16_slot), grads })
        }
        (FusedPlan::PureBf16, Out::Bf16(v, _)) => {
            // The parameters are buffer 0 of the call: stream 0 (as `store` numbers them).
            let key = sr::Stream::new(at.seed, at.counter, 0).run_key(at.offset);
            let codec = Bf16Stochastic { lo: at.offset as u32, key };
            let params = Buf { values: v.as_chunks_mut().0, codec };
            k.run_fused(width, Call { params, states: slots(rest, bf16_slot), grads })
        }
        _ => false,
    };
    if ran { whole } else { 0 }
}

/// How many of 37 elements a call of `k` runs fused, with f32 parameters, bf16 (nearest) states
/// and bf16 gradients (32 if the kernel has a fused loop for its options, else 0).
#[cfg(test)]
pub(crate) fn fused_elements<K: Elementwise<M, I>, const M: usize, const I: usize>(k: &K) -> usize {
    const N: usize = 37;
    let mut params = [0.5f32; N];
    let mut states = [[bf16::from_f32(0.25); N]; M];
    let grads = [[bf16::from_f32(0.125); N]; I];
    let used = k.used();
    let mut outs = [const { Out::Unused }; M];
    for (j, (o, s)) in outs.iter_mut().zip(&mut states).enumerate().skip(1) {
        if used[j] {
            *o = Out::Bf16(s, Rounding::Nearest);
        }
    }
    outs[0] = Out::F32(&mut params);
    let ins = grads.each_ref().map(|g| Grads::Bf16(g));
    fused_groups(k, crate::Width::NATIVE, &mut outs, &ins, &Placement::default())
}

/// The fused combinations ([`fused`]), by their parameters and states (gradients bf16).
#[derive(Clone, Copy)]
enum FusedPlan {
    /// An f32 master with a bf16 copy; f32 states.
    MasterWithCopy,
    /// f32 parameters; bf16 (nearest) states.
    HalfStates,
    /// bf16 parameters rounded stochastically; bf16 (nearest) states.
    PureBf16,
}

/// The fused combination of a call's formats, and its elements in whole groups of 16, if it
/// has one and at least one group.
fn fused_plan<const M: usize, const I: usize>(
    outs: &[Out; M],
    ins: &[Grads; I],
    at: &Placement,
) -> Option<(FusedPlan, usize)> {
    let whole = grads_len(ins) / 16 * 16;
    if whole == 0 || !ins.iter().all(|g| matches!(g, Grads::Bf16(_))) {
        return None;
    }
    let (first, rest) = outs.split_first()?;
    let states_all = |f: fn(&Out) -> bool| rest.iter().all(|o| matches!(o, Out::Unused) || f(o));
    let f32_states = states_all(|o| matches!(o, Out::F32(_)));
    let bf16_states = states_all(|o| matches!(o, Out::Bf16(_, Rounding::Nearest)));
    // Stochastic rounding's key is one per run of 2³² indices: a fused call stays in one.
    let one_run =
        at.offset.checked_add(whole as u64 - 1).is_some_and(|l| l >> 32 == at.offset >> 32);
    let plan = match first {
        Out::F32Copy(_, HalfCopy::Bf16(_)) if f32_states => FusedPlan::MasterWithCopy,
        Out::F32(_) if bf16_states => FusedPlan::HalfStates,
        Out::Bf16(_, Rounding::Stochastic) if bf16_states && one_run => FusedPlan::PureBf16,
        _ => return None,
    };
    Some((plan, whole))
}

/// The gradients of a fused call (all bf16, checked by [`fused_plan`]) as groups.
fn bf16_grads<'s, const I: usize>(ins: &[Grads<'s>; I]) -> [fused::In<'s, fused::Bf16Nearest>; I] {
    let mut grads = [const { fused::In(&[]) }; I];
    for (d, g) in grads.iter_mut().zip(ins) {
        if let Grads::Bf16(g) = g {
            *d = fused::In(g.as_chunks().0);
        }
    }
    grads
}

/// An f32 state as a fused buffer.
fn f32_slot<'s>(o: &'s mut Out) -> Option<fused::Buf<'s, fused::F32>> {
    match o {
        Out::F32(s) => Some(fused::Buf { values: s.as_chunks_mut().0, codec: fused::F32 }),
        _ => None,
    }
}

/// A bf16 state as a fused buffer.
fn bf16_slot<'s>(o: &'s mut Out) -> Option<fused::Buf<'s, fused::Bf16Nearest>> {
    match o {
        Out::Bf16(v, _) => {
            Some(fused::Buf { values: v.as_chunks_mut().0, codec: fused::Bf16Nearest })
        }
        _ => None,
    }
}

/// The state slots of a fused call: slot 0 (the parameters) empty, then each state of `rest`
/// as `slot` makes it.
fn slots<'s, S, const M: usize>(
    rest: &'s mut [Out],
    slot: fn(&'s mut Out) -> Option<S>,
) -> [Option<S>; M] {
    let mut slots = [const { None }; M];
    for (d, o) in slots.iter_mut().skip(1).zip(rest) {
        *d = slot(o);
    }
    slots
}

/// A mixed-format call of a layer-wise kernel ([`Layerwise`]): the checks as [`mixed`], then
/// each reduction pass over every block followed by [`Layerwise::finish`], and the update pass,
/// which stores.
pub(crate) fn mixed_layerwise<K: Layerwise<M, I>, const M: usize, const I: usize>(
    width: crate::Width,
    names: [&'static str; M],
    outs: [Out; M],
    ins: [Grads; I],
    at: &Placement,
    checked: impl FnOnce([usize; M], [usize; I]) -> Result<K, Error>,
) -> Result<K, Error> {
    let n = grads_len(&ins);
    let mut k = checked(lens(&outs, n), ins.each_ref().map(Grads::len))?;
    let update = updated(k.used());
    let mut outs = checked_formats(outs, &names, &update, n, at)?;
    let (mut pass, mut more) = (0, k.reductions());
    while more {
        let reads = k.reads(pass);
        run_staged(width, after(&mut outs, 0), ins, at, reads, &mut |w, o, i| {
            k.reduce(pass, w, o, i)
        });
        more = k.finish(pass);
        pass += 1;
    }
    run_staged(width, outs, ins, at, update, &mut |w, o, i| k.update(w, o, i));
    Ok(k)
}

/// [`Access::Update`] for the used buffers, [`Access::Skip`] for the others. (Loops, not
/// `array::map`, here and in [`after`]: generic over `M` alone, and `map`'s IR is large.)
fn updated<const M: usize>(used: [bool; M]) -> [Access; M] {
    let mut access = [Access::Skip; M];
    for (a, u) in access.iter_mut().zip(used) {
        if u {
            *a = Access::Update;
        }
    }
    access
}

/// Every gradient from element `start` on.
fn ins_after<'s, const I: usize>(ins: &[Grads<'s>; I], start: usize) -> [Grads<'s>; I] {
    let mut out = *ins;
    for g in &mut out {
        *g = g.after(start);
    }
    out
}

/// Every buffer from element `start` on, borrowed for one pass.
fn after<'s, const M: usize>(outs: &'s mut [Out; M], start: usize) -> [Out<'s>; M] {
    let mut it = outs.iter_mut();
    core::array::from_fn(|_| it.next().map_or(Out::Unused, |o| o.after(start)))
}

/// The unused buffers (`Access::Skip`) replaced by [`Out::Unused`], then the format checks
/// ([`check_formats`]), before any write.
fn checked_formats<'a, const M: usize>(
    mut outs: [Out<'a>; M],
    names: &[&'static str; M],
    access: &[Access; M],
    n: usize,
    at: &Placement,
) -> Result<[Out<'a>; M], Error> {
    for (o, a) in outs.iter_mut().zip(access) {
        if *a == Access::Skip {
            *o = Out::Unused;
        }
    }
    check_formats(&outs, names, n, at)?;
    Ok(outs)
}

/// The gradients' element count (the longest, before the length checks). Not generic, like
/// [`lens`] generic over `M` alone: the per-kernel copies of `mixed` stay small.
fn grads_len(ins: &[Grads]) -> usize {
    ins.iter().map(Grads::len).max().unwrap_or(0)
}

/// Every mutable buffer's element count for a call of `n` elements ([`Out::len`]).
fn lens<const M: usize>(outs: &[Out; M], n: usize) -> [usize; M] {
    let mut lens = [0; M];
    for (l, o) in lens.iter_mut().zip(outs) {
        *l = o.len(n);
    }
    lens
}

/// The format checks of a mixed call, before any write: every buffer's own rule
/// ([`Out::check`]) for `n` elements; `names` are the arguments' names, mutable ones first.
pub(crate) fn check_formats<const M: usize>(
    outs: &[Out; M],
    names: &[&'static str; M],
    n: usize,
    at: &Placement,
) -> Result<(), Error> {
    for (o, name) in outs.iter().zip(names) {
        o.check(name, n, at.offset)?;
    }
    Ok(())
}

/// A kernel's f32 pass over one block of `M` mutable and `I` read-only slices.
type BlockPass<'k, const M: usize, const I: usize> =
    dyn FnMut(crate::Width, [&mut [f32]; M], [&[f32]; I]) + 'k;

/// Runs `body` (a kernel's f32 pass) over mixed-format buffers, block by block (see the module
/// documentation), each mutable buffer as its [`Access`] says. The buffers have been
/// validated (equal lengths, [`check_formats`]). `body` is a trait object: one copy of this
/// driver per buffer count rather than one per kernel and pass, for one indirect call per
/// block of 256 elements.
pub(crate) fn run_staged<const M: usize, const I: usize>(
    width: crate::Width,
    mut outs: [Out; M],
    ins: [Grads; I],
    at: &Placement,
    access: [Access; M],
    body: &mut BlockPass<'_, M, I>,
) {
    if in_place(width, &mut outs, &access, &ins, body) {
        return;
    }
    let n = grads_len(&ins);
    let n = lens(&outs, n).into_iter().fold(n, usize::max);
    let mut out_stage = [[0.0f32; STAGE]; M];
    let mut in_stage = [[0.0f32; STAGE]; I];
    let mut start = 0;
    while start < n {
        let end = (start + STAGE).min(n);
        load(&outs, &access, &mut out_stage, start, end);
        load_in(&ins, &mut in_stage, start, end);
        body(
            width,
            views(&mut outs, &access, &mut out_stage, start, end),
            in_views(&ins, &in_stage, start, end),
        );
        store(&mut outs, &access, &out_stage, start, end, at);
        start = end;
    }
}

/// Runs `body` once over the whole slices, and returns true, when nothing needs converting:
/// every used mutable buffer f32 and read or updated in place, every gradient f32. That is the
/// f32 kernel's own call (the same bits: kernels do not depend on chunking). Staged in blocks, a
/// 4 Ki Adam call in f32 took 1.6× the f32 kernel's time (SPR, native): the per-block dispatch
/// is not free, and the blocks are too small for the f32 driver's prefetch.
fn in_place<const M: usize, const I: usize>(
    width: crate::Width,
    outs: &mut [Out; M],
    access: &[Access; M],
    ins: &[Grads; I],
    body: &mut BlockPass<'_, M, I>,
) -> bool {
    let f32_in = |g: &Grads| matches!(g, Grads::F32(_));
    let f32_out = |(o, a): (&Out, &Access)| {
        matches!(
            (o, a),
            (Out::Unused, _) | (_, Access::Skip) | (Out::F32(_), Access::Read | Access::Update)
        )
    };
    if !ins.iter().all(f32_in) || !outs.iter().zip(access).all(f32_out) {
        return false;
    }
    let mut it = outs.iter_mut().zip(access);
    let o = core::array::from_fn(|_| match it.next() {
        Some((Out::F32(s), Access::Read | Access::Update)) => &mut **s,
        _ => &mut [],
    });
    let mut it = ins.iter();
    let i = core::array::from_fn(|_| match it.next() {
        Some(Grads::F32(s)) => *s,
        _ => &[],
    });
    body(width, o, i);
    true
}

/// Converts block `start..end` of every non-f32 mutable buffer into its stage, and copies an
/// f32 one there for [`Access::Scratch`].
fn load<const M: usize>(
    outs: &[Out; M],
    access: &[Access; M],
    stage: &mut [[f32; STAGE]; M],
    start: usize,
    end: usize,
) {
    for ((o, a), st) in outs.iter().zip(access).zip(stage.iter_mut()) {
        let st = st.get_mut(..end - start).unwrap_or_default();
        match o {
            _ if *a == Access::Skip => {}
            Out::Bf16(v, _) | Out::Bf16Kahan(v, _) => {
                half::widen_bf16(v.get(start..end).unwrap_or_default(), st)
            }
            Out::Quant { codes, scales, quant } => {
                let codes = codes.get(quant.code_bytes(start)..).unwrap_or_default();
                let scales = scales.get(start / quant.block()..).unwrap_or_default();
                quant.dequantize(codes, scales, st);
            }
            Out::F32(s) | Out::F32Copy(s, _) if *a == Access::Scratch => {
                // A zip, not `copy_from_slice`: no length-check panic path.
                for (d, &x) in st.iter_mut().zip(s.get(start..end).unwrap_or_default()) {
                    *d = x;
                }
            }
            Out::F32(_) | Out::F32Copy(..) | Out::Unused => {}
        }
    }
}

/// Converts block `start..end` of every non-f32 gradient into its stage.
fn load_in<const I: usize>(
    ins: &[Grads; I],
    stage: &mut [[f32; STAGE]; I],
    start: usize,
    end: usize,
) {
    for (g, st) in ins.iter().zip(stage.iter_mut()) {
        let st = st.get_mut(..end - start).unwrap_or_default();
        match g {
            Grads::Bf16(v) => half::widen_bf16(v.get(start..end).unwrap_or_default(), st),
            Grads::F16(v) => half::widen_f16(v.get(start..end).unwrap_or_default(), st),
            Grads::F32(_) => {}
        }
    }
}

/// The f32 view of block `start..end` of every mutable buffer: f32 memory in place (unless
/// [`Access::Scratch`]), the stage otherwise, empty when unused.
fn views<'s, const M: usize>(
    outs: &'s mut [Out; M],
    access: &[Access; M],
    stage: &'s mut [[f32; STAGE]; M],
    start: usize,
    end: usize,
) -> [&'s mut [f32]; M] {
    let mut it = outs.iter_mut().zip(access);
    stage.each_mut().map(|st| match it.next() {
        Some((Out::Unused, _) | (_, Access::Skip)) | None => &mut [],
        Some((Out::F32(s) | Out::F32Copy(s, _), Access::Read | Access::Update)) => {
            s.get_mut(start..end).unwrap_or_default()
        }
        Some(_) => st.get_mut(..end - start).unwrap_or_default(),
    })
}

/// The f32 view of block `start..end` of every gradient.
fn in_views<'s, const I: usize>(
    ins: &'s [Grads; I],
    stage: &'s [[f32; STAGE]; I],
    start: usize,
    end: usize,
) -> [&'s [f32]; I] {
    let mut it = ins.iter();
    stage.each_ref().map(|st| match it.next() {
        Some(Grads::F32(s)) => s.get(start..end).unwrap_or_default(),
        _ => st.get(..end - start).unwrap_or_default(),
    })
}

/// Stores block `start..end` back ([`Access::Update`] only): the copies of f32 masters, the
/// rounded bf16 buffers, the requantized blocks.
fn store<const M: usize>(
    outs: &mut [Out; M],
    access: &[Access; M],
    stage: &[[f32; STAGE]; M],
    start: usize,
    end: usize,
    at: &Placement,
) {
    for (k, ((o, a), st)) in outs.iter_mut().zip(access).zip(stage).enumerate() {
        let st = st.get(..end - start).unwrap_or_default();
        match o {
            _ if *a != Access::Update => {}
            Out::F32Copy(master, copy) => {
                let m = master.get(start..end).unwrap_or_default();
                match copy {
                    HalfCopy::Bf16(c) => {
                        half::narrow_bf16(m, c.get_mut(start..end).unwrap_or_default())
                    }
                    HalfCopy::F16(c) => {
                        half::narrow_f16(m, c.get_mut(start..end).unwrap_or_default())
                    }
                }
            }
            Out::Bf16(v, rounding) => {
                let v = v.get_mut(start..end).unwrap_or_default();
                match rounding {
                    Rounding::Nearest => half::narrow_bf16(st, v),
                    Rounding::Stochastic => {
                        let stream = sr::Stream::new(at.seed, at.counter, k as u64);
                        stream.round_bf16(st, at.offset + start as u64, v);
                    }
                }
            }
            Out::Bf16Kahan(v, comp) => {
                let v = v.get_mut(start..end).unwrap_or_default();
                half::kahan_bf16(st, v, comp.get_mut(start..end).unwrap_or_default());
            }
            Out::Quant { codes, scales, quant } => {
                let codes = codes.get_mut(quant.code_bytes(start)..).unwrap_or_default();
                let scales = scales.get_mut(start / quant.block()..).unwrap_or_default();
                quant.quantize(st, codes, scales);
            }
            Out::F32(_) | Out::Unused => {}
        }
    }
}

/// `out[i] = bf16(x[i])`, rounded as `rounding` says (stochastic bits from `at`, stream 0).
///
/// # Errors
/// [`Error::LengthMismatch`] if `out` differs in length from `x`; nothing is written then.
pub fn f32_to_bf16(
    x: &[f32],
    out: &mut [bf16],
    rounding: Rounding,
    at: &Placement,
) -> Result<(), Error> {
    crate::validate::len("out", x.len(), out.len())?;
    match rounding {
        Rounding::Nearest => half::narrow_bf16(x, out),
        Rounding::Stochastic => {
            sr::Stream::new(at.seed, at.counter, 0).round_bf16(x, at.offset, out)
        }
    }
    Ok(())
}

/// `out[i] = f16(x[i])`, rounded to nearest even (IEEE).
///
/// # Errors
/// [`Error::LengthMismatch`] if `out` differs in length from `x`; nothing is written then.
pub fn f32_to_f16(x: &[f32], out: &mut [f16]) -> Result<(), Error> {
    crate::validate::len("out", x.len(), out.len())?;
    half::narrow_f16(x, out);
    Ok(())
}

/// `out[i] = f32(x[i])`, exact.
///
/// # Errors
/// [`Error::LengthMismatch`] if `out` differs in length from `x`; nothing is written then.
pub fn bf16_to_f32(x: &[bf16], out: &mut [f32]) -> Result<(), Error> {
    crate::validate::len("out", x.len(), out.len())?;
    half::widen_bf16(x, out);
    Ok(())
}

/// `out[i] = f32(x[i])`, exact (NaN quieted, sign and payload kept).
///
/// # Errors
/// [`Error::LengthMismatch`] if `out` differs in length from `x`; nothing is written then.
pub fn f16_to_f32(x: &[f16], out: &mut [f32]) -> Result<(), Error> {
    crate::validate::len("out", x.len(), out.len())?;
    half::widen_f16(x, out);
    Ok(())
}

/// The stochastic rounding rule with a given 16-bit random integer `r`: `x` rounds up one
/// bf16 ulp when `r < (bits(x) & 0xFFFF)` (see [`Rounding::Stochastic`]).
pub fn bf16_stochastic(x: f32, r: u16) -> bf16 {
    bf16::from_bits(sr::stochastic_bf16(x, r))
}

/// Quantizes `x` block by block into `codes` and `absmax` (`ceil(len / 256)` values), as the
/// `q8` state format does: per block `absmax = max |x|` (NaN if any value is NaN),
/// `y = clamp(x·(1/absmax), −1, 1)`, then [`Quantizer::Nearest`] takes the code of the
/// nearest map value (`#{i : mid[i] < y}`, `mid[i] = 0.5·(map[i] + map[i+1])` in f32, ties to
/// the lower code; an all-zero block gets `absmax = 0` and the code of 0) and
/// [`Quantizer::BnbCpu`] bitsandbytes' CPU rule (`j = trunc((y + 1)·0.5·65535 + 0.5)`, the
/// code of `−1 + 2j/65535`; an all-zero block gets code 0). A block with a non-finite value
/// stores `absmax = NaN` (it reads back as NaN); one whose `1/absmax` overflows (absmax below
/// 2⁻¹²⁸) gets the codes of the block scaled by 2⁶⁴.
///
/// # Errors
/// [`Error::LengthMismatch`] if `codes` differs in length from `x` or `absmax` does not hold
/// one value per block; nothing is written then.
pub fn q8_quantize(
    x: &[f32],
    codes: &mut [u8],
    absmax: &mut [f32],
    map: Q8Map,
    quantizer: Quantizer,
) -> Result<(), Error> {
    quantize_checked(Quant::Q8(map, quantizer), x, codes, absmax)
}

/// `out[i] = map[codes[i]] · absmax[i / 256]`.
///
/// # Errors
/// [`Error::LengthMismatch`] if `codes` differs in length from `out` or `absmax` does not hold
/// one value per block; nothing is written then.
pub fn q8_dequantize(
    codes: &[u8],
    absmax: &[f32],
    map: Q8Map,
    out: &mut [f32],
) -> Result<(), Error> {
    dequantize_checked(Quant::Q8(map, Quantizer::Nearest), codes, absmax, out)
}

/// [`Quant::quantize`] after the length checks.
pub(crate) fn quantize_checked(
    q: Quant,
    x: &[f32],
    codes: &mut [u8],
    scales: &mut [f32],
) -> Result<(), Error> {
    q.check_lens(x.len(), codes.len(), scales.len())?;
    q.quantize(x, codes, scales);
    Ok(())
}

/// [`Quant::dequantize`] after the length checks.
pub(crate) fn dequantize_checked(
    q: Quant,
    codes: &[u8],
    scales: &[f32],
    out: &mut [f32],
) -> Result<(), Error> {
    q.check_lens(out.len(), codes.len(), scales.len())?;
    q.dequantize(codes, scales, out);
    Ok(())
}

/// Quantizes `x` into torchao's 4-bit layout (see the `q4` format): per block of 128,
/// `scale = max(max |x|, 10⁻¹²)` (NaN if any value is NaN or ±∞), `y = x / scale`, and
/// torchao's code of `y` in the 16-entry map (a binary search for the last value `≤ y`, one
/// up where `y − map[c] ≥ (map[c+1] − map[c])·0.5`); two codes per byte, the even element in
/// the high nibble. Bit for bit torchao 0.18's eager `subclass_4bit`.
///
/// # Errors
/// [`Error::LengthMismatch`] if `codes` does not hold `ceil(len / 2)` bytes or `scale` one
/// value per block; nothing is written then.
pub fn q4_quantize(
    x: &[f32],
    codes: &mut [u8],
    scale: &mut [f32],
    map: Q4Map,
) -> Result<(), Error> {
    quantize_checked(Quant::Q4(map), x, codes, scale)
}

/// `out[i] = map[code(i)] · scale[i / 128]`, the codes unpacked as [`q4_quantize`] packs them.
///
/// # Errors
/// [`Error::LengthMismatch`] if `codes` does not hold `ceil(len / 2)` bytes for
/// `len = out.len()` or `scale` one value per block; nothing is written then.
pub fn q4_dequantize(
    codes: &[u8],
    scale: &[f32],
    map: Q4Map,
    out: &mut [f32],
) -> Result<(), Error> {
    dequantize_checked(Quant::Q4(map), codes, scale, out)
}

/// Quantizes `x` into torchao's fp8 layout (see the `fp8` format): per block of 256,
/// `scale = max(max |x|, 10⁻¹²) / 448` (NaN if any value is NaN or ±∞), then
/// `codes[i] =` [`f32_to_e4m3fn`]`(x[i] / scale)`. Bit for bit torchao 0.18's eager
/// `subclass_fp8`.
///
/// # Errors
/// [`Error::LengthMismatch`] if `codes` differs in length from `x` or `scale` does not hold one
/// value per block; nothing is written then.
pub fn fp8_quantize(x: &[f32], codes: &mut [u8], scale: &mut [f32]) -> Result<(), Error> {
    quantize_checked(Quant::Fp8, x, codes, scale)
}

/// `out[i] =` [`e4m3fn_to_f32`]`(codes[i]) · scale[i / 256]`.
///
/// # Errors
/// [`Error::LengthMismatch`] if `codes` differs in length from `out` or `scale` does not hold
/// one value per block; nothing is written then.
pub fn fp8_dequantize(codes: &[u8], scale: &[f32], out: &mut [f32]) -> Result<(), Error> {
    dequantize_checked(Quant::Fp8, codes, scale, out)
}

/// The 16-bit random integer stochastic rounding uses for the element at global index
/// `index` of mutable buffer number `stream` of a call (`0` the parameters, then the state
/// buffers in argument order; [`f32_to_bf16`] uses stream 0): with it, any result of
/// [`Rounding::Stochastic`] can be reproduced by [`bf16_stochastic`].
pub fn sr_bits(at: &Placement, stream: u64, index: u64) -> u16 {
    sr::Stream::new(at.seed, at.counter, stream).rand16(index)
}

/// Whether every gradient of every slice is finite, whatever its format: the check of the
/// non-finite guard ([`crate::step_if_finite`]) for half-precision gradients. An f16 or bf16
/// value is non-finite exactly when its exponent bits are all ones, so nothing is converted.
pub fn all_finite(grads: &[Grads]) -> bool {
    grads.iter().all(|g| match g {
        Grads::F32(v) => v.iter().all(|x| x.is_finite()),
        Grads::Bf16(v) => v.iter().all(|x| x.to_bits() & 0x7F80 != 0x7F80),
        Grads::F16(v) => v.iter().all(|x| x.to_bits() & 0x7C00 != 0x7C00),
    })
}

/// GradScaler's unscale for gradients in any format: `out[i] = f32(grads[i]) · inv_scale`
/// (exact widening, one f32 multiply), and whether any gradient was non-finite (checked on
/// the values before unscaling, as torch does). Half-precision gradients are read, never
/// written: with loss scaling the usual path passes `grad_scale = inv_scale` to the step
/// instead, which costs no pass at all.
///
/// # Errors
/// [`Error::InvalidHyperparameter`] if `inv_scale` is NaN, infinite or negative;
/// [`Error::LengthMismatch`] if `out` differs in length from `grads`. Nothing is written then.
pub fn unscale(grads: Grads, inv_scale: f32, out: &mut [f32]) -> Result<bool, Error> {
    crate::validate::non_negative("inv_scale", f64::from(inv_scale))?;
    crate::validate::len("out", grads.len(), out.len())?;
    let found_inf = !all_finite(&[grads]);
    match grads {
        Grads::F32(v) => out.iter_mut().zip(v.iter()).for_each(|(o, &x)| *o = x),
        Grads::Bf16(v) => half::widen_bf16(v, out),
        Grads::F16(v) => half::widen_f16(v, out),
    }
    out.iter_mut().for_each(|x| *x *= inv_scale);
    Ok(found_inf)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A call's length: two whole blocks and 7.
    const N: usize = 2 * STAGE + 7;

    /// The block lengths `run_staged` hands its body for one call of `N` elements, and how
    /// many times it calls it.
    fn blocks(grads_bf16: bool) -> ([usize; 8], usize) {
        let (mut p, g32, g16) = ([1.0f32; N], [0.5f32; N], [bf16::from_f32(0.5); N]);
        let grads = if grads_bf16 { Grads::Bf16(&g16) } else { Grads::F32(&g32) };
        let (mut seen, mut calls) = ([0; 8], 0);
        let mut body = |_: crate::Width, [p]: [&mut [f32]; 1], [g]: [&[f32]; 1]| {
            for (p, g) in p.iter_mut().zip(g) {
                *p += g;
            }
            if let Some(s) = seen.get_mut(calls) {
                *s = p.len();
            }
            calls += 1;
        };
        let access = [Access::Update];
        run_staged(
            crate::Width::NATIVE,
            [Out::F32(&mut p)],
            [grads],
            &Placement::default(),
            access,
            &mut body,
        );
        assert!(p.iter().all(|&x| x == 1.5));
        (seen, calls)
    }

    /// `p += g`, `s += g`, recording how many elements ran fused and how many staged.
    #[derive(Default)]
    struct Probe {
        fused: core::cell::Cell<usize>,
        staged: core::cell::Cell<usize>,
    }

    impl Elementwise<2, 1> for Probe {
        const FUSED: bool = true;
        fn used(&self) -> [bool; 2] {
            [true, true]
        }
        fn run(&self, _: crate::Width, [p, s]: [&mut [f32]; 2], [g]: [&[f32]; 1]) {
            for ((p, s), g) in p.iter_mut().zip(s.iter_mut()).zip(g) {
                *p += g;
                *s += g;
            }
            self.staged.set(self.staged.get() + g.len());
        }
        fn run_fused<P: fused::Group16, S: fused::Group16 + Default, G: fused::Read16>(
            &self,
            _: crate::Width,
            call: fused::Call<P, S, G, 2, 1>,
        ) -> bool {
            let Some(bufs) = call.states::<1>() else { return false };
            bufs.for_each_group::<4>(|p, [s], [g]| {
                for ((p, s), g) in p.iter_mut().zip(s.iter_mut()).zip(g) {
                    *p += g;
                    *s += g;
                }
                self.fused.set(self.fused.get() + 4);
            });
            true
        }
    }

    /// Every kernel with fused loops runs the options its `run_fused` names fused and stages
    /// the others (which run the same bits either way: tests/formats.rs). A wrong guard or a
    /// `run_fused` that gives up would only cost speed, so it is checked here.
    #[test]
    fn fused_kernels_fuse_the_options_they_name() {
        use crate::Numerics::{Bitsandbytes, Fast, Portable, Torch};
        use crate::optim::{adagrad, adam, adamax, lion, rmsprop, sgd};
        use crate::{
            AdagradConfig, AdamConfig, AdamaxConfig, LionConfig, RmspropConfig, SgdConfig,
        };
        #[track_caller]
        fn fused<K: Elementwise<M, I>, const M: usize, const I: usize>(
            k: Result<K, crate::Error>,
        ) -> usize {
            fused_elements(&k.unwrap())
        }
        for numerics in [Torch, Portable, Fast] {
            let cfg = AdamConfig { numerics, weight_decay: 0.1, ..Default::default() };
            assert_eq!(fused(adam::Coef::from_config(2, &cfg)), 32, "{numerics:?}");
            let ams = AdamConfig { amsgrad: true, ..cfg };
            assert_eq!(fused(adam::Coef::from_config(2, &ams)), 0, "{numerics:?}");
            let cfg = AdagradConfig { numerics, ..Default::default() };
            assert_eq!(fused(adagrad::Coef::from_config(2, &cfg)), 32, "{numerics:?}");
            let cfg = RmspropConfig { numerics, weight_decay: 0.1, ..Default::default() };
            assert_eq!(fused(rmsprop::Coef::from_config(&cfg)), 32, "{numerics:?}");
            for (momentum, centered) in [(0.9, false), (0.0, true)] {
                let other = RmspropConfig { momentum, centered, ..cfg };
                assert_eq!(fused(rmsprop::Coef::from_config(&other)), 0, "{numerics:?}");
            }
        }
        for numerics in [Torch, Portable] {
            let cfg = AdamaxConfig { numerics, weight_decay: 0.1, ..Default::default() };
            assert_eq!(fused(adamax::Coef::from_config(2, &cfg)), 32, "{numerics:?}");
            for weight_decay in [0.0, 0.1] {
                let cfg = LionConfig { numerics, weight_decay, ..Default::default() };
                assert_eq!(fused(lion::Coef::from_config(&cfg)), 32, "{numerics:?}");
                let cfg = SgdConfig { numerics, momentum: 0.9, weight_decay, ..Default::default() };
                assert_eq!(fused(sgd::Coef::from_config(2, &cfg)), 32, "{numerics:?}");
                // The first step copies the gradient into the buffer; Nesterov; no momentum.
                assert_eq!(fused(sgd::Coef::from_config(1, &cfg)), 0, "{numerics:?}");
                let nesterov = SgdConfig { nesterov: true, ..cfg };
                assert_eq!(fused(sgd::Coef::from_config(2, &nesterov)), 0, "{numerics:?}");
                let plain = SgdConfig { momentum: 0.0, ..cfg };
                assert_eq!(fused(sgd::Coef::from_config(2, &plain)), 0, "{numerics:?}");
            }
        }
        let bnb = LionConfig { numerics: Bitsandbytes, ..Default::default() };
        assert_eq!(fused(lion::Coef::from_config(&bnb)), 0);
    }

    /// Runs `Probe` on the given buffers; returns (fused, staged) element counts.
    fn probe(params: Params, state: State, grads: Grads, offset: u64) -> (usize, usize) {
        let at = Placement { offset, seed: 1, counter: 2 };
        let outs = [params.into(), state.into()];
        let fresh = |_: [usize; 2], _: [usize; 1]| Ok(Probe::default());
        let k = mixed(crate::Width::NATIVE, ["p", "s"], outs, [grads], &at, fresh).unwrap();
        (k.fused.get(), k.staged.get())
    }

    /// The three fused combinations run their whole groups fused and the rest staged; any
    /// other combination is staged whole; the values are the same either way.
    #[test]
    fn fused_combinations_run_fused_and_others_staged() {
        const N: usize = 37;
        let g16 = [bf16::from_f32(0.5); N];
        let g32 = [0.5f32; N];
        let check = |p: &[f32], s: &[f32]| {
            assert!(p.iter().all(|&x| x == 1.5) && s.iter().all(|&x| x == 0.75), "{p:?} {s:?}");
        };
        let (b1, b025) = (bf16::from_f32(1.0), bf16::from_f32(0.25));
        // f32 master + bf16 copy, f32 state.
        let (mut p, mut copy, mut s) = ([1.0f32; N], [bf16::ZERO; N], [0.25f32; N]);
        let params = Params::F32WithCopy { master: &mut p, copy: HalfCopy::Bf16(&mut copy) };
        assert_eq!(probe(params, State::F32(&mut s), Grads::Bf16(&g16), 0), (32, 5));
        check(&p, &s);
        check(&copy.map(bf16::to_f32), &s);
        // f32 parameters, bf16 state (nearest).
        let (mut p, mut s) = ([1.0f32; N], [b025; N]);
        let state = State::Bf16 { values: &mut s, rounding: Rounding::Nearest };
        assert_eq!(probe(Params::F32(&mut p), state, Grads::Bf16(&g16), 0), (32, 5));
        check(&p, &s.map(bf16::to_f32));
        // bf16 parameters (stochastic), bf16 state: fused only within one run of 2³² indices.
        for (offset, want) in [(0, (32, 5)), ((1 << 32) - 32, (32, 5)), ((1 << 32) - 16, (0, N))] {
            let (mut p, mut s) = ([b1; N], [b025; N]);
            let params = Params::Bf16 { values: &mut p, rounding: Rounding::Stochastic };
            let state = State::Bf16 { values: &mut s, rounding: Rounding::Nearest };
            assert_eq!(probe(params, state, Grads::Bf16(&g16), offset), want, "{offset}");
            check(&p.map(bf16::to_f32), &s.map(bf16::to_f32));
        }
        // Not fused: f32 gradients; f16 gradients; a bf16 state with an f32 master; stochastic
        // states; a bf16 copy with a bf16 state; an f16 copy; nearest bf16 parameters.
        let (mut p, mut s) = ([1.0f32; N], [b025; N]);
        let state = State::Bf16 { values: &mut s, rounding: Rounding::Nearest };
        assert_eq!(probe(Params::F32(&mut p), state, Grads::F32(&g32), 0), (0, N));
        let (mut p, mut s) = ([1.0f32; N], [b025; N]);
        let state = State::Bf16 { values: &mut s, rounding: Rounding::Nearest };
        let g16f = [f16::from_f32(0.5); N];
        assert_eq!(probe(Params::F32(&mut p), state, Grads::F16(&g16f), 0), (0, N));
        let (mut p, mut s) = ([1.0f32; N], [b025; N]);
        let state = State::Bf16 { values: &mut s, rounding: Rounding::Stochastic };
        assert_eq!(probe(Params::F32(&mut p), state, Grads::Bf16(&g16), 0), (0, N));
        let (mut p, mut copy, mut s) = ([1.0f32; N], [bf16::ZERO; N], [b025; N]);
        let params = Params::F32WithCopy { master: &mut p, copy: HalfCopy::Bf16(&mut copy) };
        let state = State::Bf16 { values: &mut s, rounding: Rounding::Nearest };
        assert_eq!(probe(params, state, Grads::Bf16(&g16), 0), (0, N));
        let (mut p, mut copy, mut s) = ([1.0f32; N], [f16::ZERO; N], [0.25f32; N]);
        let params = Params::F32WithCopy { master: &mut p, copy: HalfCopy::F16(&mut copy) };
        assert_eq!(probe(params, State::F32(&mut s), Grads::Bf16(&g16), 0), (0, N));
        let (mut p, mut s) = ([b1; N], [b025; N]);
        let params = Params::Bf16 { values: &mut p, rounding: Rounding::Nearest };
        let state = State::Bf16 { values: &mut s, rounding: Rounding::Nearest };
        assert_eq!(probe(params, state, Grads::Bf16(&g16), 0), (0, N));
        // Fewer than 16 elements: nothing to fuse.
        let (mut p, mut s) = ([1.0f32; 15], [0.25f32; 15]);
        let (mut copy, g) = ([bf16::ZERO; 15], [bf16::from_f32(0.5); 15]);
        let params = Params::F32WithCopy { master: &mut p, copy: HalfCopy::Bf16(&mut copy) };
        assert_eq!(probe(params, State::F32(&mut s), Grads::Bf16(&g), 0), (0, 15));
    }

    /// A call in f32 alone runs the body once over the whole call (not in staged blocks, which
    /// cost 1.6× the time at 4 Ki); a call with anything to convert runs it block by block.
    #[test]
    fn f32_calls_run_in_place_and_others_are_staged() {
        assert_eq!(blocks(false), ([N, 0, 0, 0, 0, 0, 0, 0], 1));
        assert_eq!(blocks(true), ([STAGE, STAGE, 7, 0, 0, 0, 0, 0], 3));
    }
}
