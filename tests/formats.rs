//! Storage formats through every element-wise kernel (`*_step_mixed`): each format is checked
//! against its definition — the kernel's f32 step on the values as read, then each buffer
//! stored in its format (bf16/f16 rounding, the stochastic rounding bits of `format::sr_bits`,
//! `q8`, `q4` and `fp8` block quantization) — for every width, and a call split into shards at block
//! boundaries equals one call. Bad formats are errors that write nothing.

mod common;
use common::kernels::{Case, cases};
use common::{Data, Kind, assert_same_bits};
use optkern::format::{
    self, FP8_BLOCK, Grads, HalfCopy, Params, Placement, Q4_BLOCK, Q4Map, Q8_BLOCK, Q8Map, Quant,
    Quantizer, Rounding, State, bf16, f16,
};
use optkern::{DadaptAdamConfig, DadaptState, Error, Numerics, Width};

const STEPS: u32 = 3;

/// How one buffer is stored in a test.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fmt {
    F32,
    /// f32 master with a bf16 (`false`) or f16 (`true`) copy (params only).
    Copy(bool),
    Bf16(Rounding),
    /// bf16 parameters with a Kahan compensation buffer.
    Kahan,
    Q8(Q8Map, Quantizer),
    Q4(Q4Map),
    Fp8,
}

impl Fmt {
    /// A block-quantized format as the library names it.
    fn quant(self) -> Quant {
        match self {
            Fmt::Q8(map, quantizer) => Quant::Q8(map, quantizer),
            Fmt::Q4(map) => Quant::Q4(map),
            Fmt::Fp8 => Quant::Fp8,
            _ => panic!("{self:?} is not block-quantized"),
        }
    }
}

/// The sizes of the quantized formats are the references' (bitsandbytes' block 256, torchao's
/// 4-bit block 128 with two codes per byte and fp8 block 256), for lengths around the blocks.
#[test]
fn quantized_buffer_sizes_are_the_references() {
    let signed = Quant::Q4(Q4Map::Signed);
    for n in [0usize, 1, 2, 127, 128, 129, 255, 256, 257, 1000] {
        for (q, block, bytes) in [
            (Quant::Q8(Q8Map::Signed, Quantizer::BnbCpu), 256, n),
            (signed, 128, n.div_ceil(2)),
            (Quant::Q4(Q4Map::Unsigned), 128, n.div_ceil(2)),
            (Quant::Fp8, 256usize, n),
        ] {
            assert_eq!(
                (q.block(), q.code_bytes(n), q.scales(n)),
                (block, bytes, n.div_ceil(block))
            );
        }
    }
    assert_eq!((Q8_BLOCK, Q4_BLOCK, FP8_BLOCK), (256, 128, 256));
}

/// The gradient's format.
#[derive(Clone, Copy, Debug)]
enum GFmt {
    F32,
    Bf16,
    F16,
}

/// A buffer in its storage.
#[derive(Clone, Debug, PartialEq)]
enum Buf {
    F32(Vec<f32>),
    Copy(Vec<f32>, Vec<u16>, bool),
    Bf16(Vec<bf16>, Rounding),
    /// bf16 values and their compensation.
    Kahan(Vec<bf16>, Vec<bf16>),
    /// A block-quantized format (`fmt` q8, q4 or fp8) of `len` elements.
    Quant {
        codes: Vec<u8>,
        scale: Vec<f32>,
        fmt: Fmt,
        len: usize,
    },
}

impl Buf {
    /// `x` stored in `fmt` (the initial state; quantized/rounded to nearest).
    fn new(x: &[f32], fmt: Fmt) -> Self {
        match fmt {
            Fmt::F32 => Buf::F32(x.to_vec()),
            Fmt::Copy(f16) => Buf::Copy(x.to_vec(), vec![0; x.len()], f16),
            Fmt::Bf16(r) => {
                let mut b = vec![bf16::ZERO; x.len()];
                format::f32_to_bf16(x, &mut b, Rounding::Nearest, &Placement::default()).unwrap();
                Buf::Bf16(b, r)
            }
            // A compensation that starts non-zero (a later step's), so that it is exercised
            // from the first step.
            Fmt::Kahan => Buf::Kahan(
                x.iter().map(|&v| bf16::from_f32(v)).collect(),
                x.iter().map(|&v| bf16::from_f32(v * 3e-3)).collect(),
            ),
            Fmt::Q8(..) | Fmt::Q4(_) | Fmt::Fp8 => {
                let q = fmt.quant();
                let (codes, scale) = (vec![0; q.code_bytes(x.len())], vec![0.0; q.scales(x.len())]);
                let mut b = Buf::Quant { codes, scale, fmt, len: x.len() };
                b.store(x, 0, &Placement::default());
                b
            }
        }
    }

    /// The f32 values the kernel sees.
    fn values(&self) -> Vec<f32> {
        match self {
            Buf::F32(v) | Buf::Copy(v, _, _) => v.clone(),
            Buf::Bf16(b, _) | Buf::Kahan(b, _) => {
                let mut out = vec![0.0; b.len()];
                format::bf16_to_f32(b, &mut out).unwrap();
                out
            }
            Buf::Quant { codes, scale, fmt, len } => {
                let mut out = vec![0.0; *len];
                match *fmt {
                    Fmt::Q8(map, _) => format::q8_dequantize(codes, scale, map, &mut out),
                    Fmt::Q4(map) => format::q4_dequantize(codes, scale, map, &mut out),
                    _ => format::fp8_dequantize(codes, scale, &mut out),
                }
                .unwrap();
                out
            }
        }
    }

    /// Stores the kernel's f32 result `x` as the format defines (stream `k` of `at`).
    fn store(&mut self, x: &[f32], k: u64, at: &Placement) {
        match self {
            Buf::F32(v) => v.copy_from_slice(x),
            Buf::Copy(v, c, is_f16) => {
                v.copy_from_slice(x);
                if *is_f16 {
                    let mut h = vec![f16::ZERO; x.len()];
                    format::f32_to_f16(x, &mut h).unwrap();
                    c.iter_mut().zip(&h).for_each(|(c, h)| *c = h.to_bits());
                } else {
                    let mut h = vec![bf16::ZERO; x.len()];
                    format::f32_to_bf16(x, &mut h, Rounding::Nearest, at).unwrap();
                    c.iter_mut().zip(&h).for_each(|(c, h)| *c = h.to_bits());
                }
            }
            Buf::Bf16(b, Rounding::Nearest) => {
                format::f32_to_bf16(x, b, Rounding::Nearest, at).unwrap();
            }
            // The documented rule, in f32: s = c + (x − p), p' = bf16(p + s),
            // c' = bf16(s − (p' − p)).
            Buf::Kahan(b, c) => {
                for ((v, c), &x) in b.iter_mut().zip(c.iter_mut()).zip(x) {
                    let p = v.to_f32();
                    let s = c.to_f32() + (x - p);
                    *v = bf16::from_f32(p + s);
                    *c = bf16::from_f32(s - (v.to_f32() - p));
                }
            }
            Buf::Bf16(b, Rounding::Stochastic) => {
                for (i, (o, &v)) in b.iter_mut().zip(x).enumerate() {
                    *o = format::bf16_stochastic(v, format::sr_bits(at, k, at.offset + i as u64));
                }
            }
            Buf::Quant { codes, scale, fmt, .. } => match *fmt {
                Fmt::Q8(map, q) => format::q8_quantize(x, codes, scale, map, q).unwrap(),
                Fmt::Q4(map) => format::q4_quantize(x, codes, scale, map).unwrap(),
                _ => format::fp8_quantize(x, codes, scale).unwrap(),
            },
        }
    }

    /// A shard `range` of this buffer (`range.start` a multiple of the quantized block).
    fn slice(&self, r: std::ops::Range<usize>) -> Buf {
        match self {
            Buf::F32(v) => Buf::F32(v[r].to_vec()),
            Buf::Copy(v, c, f) => Buf::Copy(v[r.clone()].to_vec(), c[r].to_vec(), *f),
            Buf::Bf16(v, ro) => Buf::Bf16(v[r].to_vec(), *ro),
            Buf::Kahan(v, c) => Buf::Kahan(v[r.clone()].to_vec(), c[r].to_vec()),
            Buf::Quant { codes, scale, fmt, .. } => {
                let (block, bytes) = (fmt.quant().block(), |i| fmt.quant().code_bytes(i));
                let b = if r.is_empty() { 0..0 } else { r.start / block..r.end.div_ceil(block) };
                Buf::Quant {
                    codes: codes[bytes(r.start)..bytes(r.end)].to_vec(),
                    scale: scale[b].to_vec(),
                    fmt: *fmt,
                    len: r.len(),
                }
            }
        }
    }

    /// Appends a shard (the inverse of `slice`).
    fn append(&mut self, o: Buf) {
        match (self, o) {
            (Buf::F32(v), Buf::F32(w)) => v.extend(w),
            (Buf::Copy(v, c, _), Buf::Copy(w, d, _)) => {
                v.extend(w);
                c.extend(d);
            }
            (Buf::Bf16(v, _), Buf::Bf16(w, _)) => v.extend(w),
            (Buf::Kahan(v, c), Buf::Kahan(w, d)) => {
                v.extend(w);
                c.extend(d);
            }
            (
                Buf::Quant { codes, scale, len, .. },
                Buf::Quant { codes: c, scale: a, len: l, .. },
            ) => {
                // Shards start at block boundaries (even for q4): their bytes concatenate.
                codes.extend(c);
                scale.extend(a);
                *len += l;
            }
            _ => unreachable!(),
        }
    }

    fn params(&mut self) -> Params<'_> {
        match self {
            Buf::F32(v) => Params::F32(v),
            Buf::Copy(v, c, true) => {
                Params::F32WithCopy { master: v, copy: HalfCopy::F16(as_f16(c)) }
            }
            Buf::Copy(v, c, false) => {
                Params::F32WithCopy { master: v, copy: HalfCopy::Bf16(as_bf16(c)) }
            }
            Buf::Bf16(v, r) => Params::Bf16 { values: v, rounding: *r },
            Buf::Kahan(v, c) => Params::Bf16Kahan { values: v, compensation: c },
            Buf::Quant { .. } => unreachable!("no quantized params"),
        }
    }

    fn state(&mut self) -> State<'_> {
        match self {
            Buf::F32(v) => State::F32(v),
            Buf::Bf16(v, r) => State::Bf16 { values: v, rounding: *r },
            Buf::Quant { codes, scale, fmt, .. } => match *fmt {
                Fmt::Q8(map, quantizer) => State::Q8 { codes, absmax: scale, map, quantizer },
                Fmt::Q4(map) => State::Q4 { codes, scale, map },
                _ => State::Fp8 { codes, scale },
            },
            Buf::Copy(..) | Buf::Kahan(..) => unreachable!("copies are for params"),
        }
    }

    /// Every stored bit, for comparisons; every NaN as one pattern per format (optkern makes
    /// no promise about NaN signs and payloads, and LLVM does not keep them: in a release
    /// build a NaN parameter's f16 copy had another sign at width 4 than at 16).
    fn bits(&self) -> Vec<u32> {
        let f32_bits = |x: &f32| if x.is_nan() { 0x7FC0_0000 } else { x.to_bits() };
        let half_bits = |h: u16, f16: bool| {
            let (exp, nan) = if f16 { (0x7C00, 0x7E00) } else { (0x7F80, 0x7FC0) };
            if h & exp == exp && h & !(exp | 0x8000) != 0 { nan } else { u32::from(h) }
        };
        match self {
            Buf::F32(v) => v.iter().map(f32_bits).collect(),
            Buf::Copy(v, c, f16) => {
                v.iter().map(f32_bits).chain(c.iter().map(|&h| half_bits(h, *f16))).collect()
            }
            Buf::Bf16(v, _) => v.iter().map(|x| half_bits(x.to_bits(), false)).collect(),
            Buf::Kahan(v, c) => v.iter().chain(c).map(|x| half_bits(x.to_bits(), false)).collect(),
            Buf::Quant { codes, scale, .. } => {
                codes.iter().map(|&c| u32::from(c)).chain(scale.iter().map(f32_bits)).collect()
            }
        }
    }
}

// The copies are kept as `u16` bits in the test and viewed as the half types for a call.
fn as_f16(c: &mut [u16]) -> &mut [f16] {
    half::slice::HalfBitsSliceExt::reinterpret_cast_mut(c)
}
fn as_bf16(c: &mut [u16]) -> &mut [bf16] {
    half::slice::HalfBitsSliceExt::reinterpret_cast_mut(c)
}

/// Gradients in `fmt`, and the f32 values they widen to.
fn grads(g: &[f32], fmt: GFmt) -> (GradBuf, Vec<f32>) {
    match fmt {
        GFmt::F32 => (GradBuf::F32(g.to_vec()), g.to_vec()),
        GFmt::Bf16 => {
            let mut b = vec![bf16::ZERO; g.len()];
            format::f32_to_bf16(g, &mut b, Rounding::Nearest, &Placement::default()).unwrap();
            let mut w = vec![0.0; g.len()];
            format::bf16_to_f32(&b, &mut w).unwrap();
            (GradBuf::Bf16(b), w)
        }
        GFmt::F16 => {
            let mut h = vec![f16::ZERO; g.len()];
            format::f32_to_f16(g, &mut h).unwrap();
            let mut w = vec![0.0; g.len()];
            format::f16_to_f32(&h, &mut w).unwrap();
            (GradBuf::F16(h), w)
        }
    }
}

enum GradBuf {
    F32(Vec<f32>),
    Bf16(Vec<bf16>),
    F16(Vec<f16>),
}

impl GradBuf {
    fn grads(&self, r: std::ops::Range<usize>) -> Grads<'_> {
        match self {
            GradBuf::F32(v) => Grads::F32(&v[r]),
            GradBuf::Bf16(v) => Grads::Bf16(&v[r]),
            GradBuf::F16(v) => Grads::F16(&v[r]),
        }
    }
}

/// Every kernel with a mixed-format entry: the generic cases, and D-Adapt Adam.
fn format_cases() -> Vec<Case> {
    let mut out: Vec<Case> = cases().into_iter().filter(|c| c.mixed.is_some()).collect();
    out.extend(dadapt_adam_cases());
    out
}

/// D-Adapt Adam's configurations (those of `tests/parameter_free.rs`).
fn dadapt_adam_configs() -> Vec<(&'static str, DadaptAdamConfig)> {
    let mut out = Vec::new();
    for numerics in [Numerics::Torch, Numerics::Portable] {
        let a = DadaptAdamConfig { numerics, ..Default::default() };
        out.extend([
            ("plain", a),
            (
                "decoupled_bias",
                DadaptAdamConfig {
                    weight_decay: 0.1,
                    weight_decouple: true,
                    bias_correction: true,
                    ..a
                },
            ),
            (
                "l2_maximize_scaled",
                DadaptAdamConfig { weight_decay: 0.01, grad_scale: 0.37, maximize: true, ..a },
            ),
        ]);
    }
    out
}

/// The D-Adaptation state a test call of step `t` starts from (`d` grows with `t`).
fn dadapt_state(t: u32) -> DadaptState {
    DadaptState { d: 1e-3 * f64::from(t), k: u64::from(t - 1), ..DadaptState::new(1e-6) }
}

/// D-Adapt Adam as cases of the generic format tests: its buffers' step depends on the state's
/// `d` and `k` only, so every call starts from [`dadapt_state`] (the sums it feeds are checked
/// by `dadapt_adam_mixed_feeds_the_f32_sums`). Not in `common::kernels::cases()`: its f64
/// reference includes the step-size update (`tests/parameter_free.rs`).
fn dadapt_adam_cases() -> Vec<Case> {
    let (p, s, nn, g) = (Kind::Param, Kind::Signed, Kind::NonNeg, Kind::Grad);
    dadapt_adam_configs()
        .into_iter()
        .map(|(name, cfg)| Case {
            name: format!("dadapt_adam/{name}/{:?}", cfg.numerics),
            numerics: cfg.numerics,
            muts: vec![p, s, nn, s],
            ins: vec![g],
            run: Box::new(move |w, muts, ins, t| match (muts, ins) {
                ([p, m, v, s], [g]) => {
                    optkern::dadapt_adam_step_with(w, p, g, m, v, s, &mut dadapt_state(t), &cfg)
                }
                _ => unreachable!(),
            }),
            reference: Box::new(|_, _, _| unreachable!("the formats tests do not use it")),
            model: None,
            mixed: Some(Box::new(move |w, p, g, states, t, at| {
                let Ok([m, v, s]) = <[State; 3]>::try_from(states) else { unreachable!() };
                let st = &mut dadapt_state(t);
                optkern::dadapt_adam_step_mixed_with(w, p, g, m, v, s, st, &cfg, at)
            })),
            elementwise: true,
        })
        .collect()
}

/// D-Adapt Adam's two sums (its state) after a mixed call are those of the f32 call on the
/// values as read, in every format assignment; two shards in sequence feed the sums as one
/// call; an error leaves the state as it was.
#[test]
fn dadapt_adam_mixed_feeds_the_f32_sums() {
    let n = 2 * Q8_BLOCK + 37;
    let mut checked = 0;
    for (case, (_, cfg)) in dadapt_adam_cases().iter().zip(dadapt_adam_configs()) {
        for (ci, &combo) in COMBOS.iter().enumerate() {
            let mut data = Data::new(300 + ci as u64);
            let bufs = initial(case, n, combo, &mut data);
            let (g, gw) = grads(&data.vec(n, Kind::Grad), combo.1);
            let at = Placement { offset: 0, seed: 5, counter: 2 };
            // The sums resume mid-group: an earlier tensor of 37 elements fed them first.
            let mut start = DadaptState { numerator_weighted: 0.5, ..dadapt_state(2) };
            let mut e: Vec<Vec<f32>> = (0..4).map(|_| data.vec(37, Kind::NonNeg)).collect();
            let [p, m, v, s] = &mut e[..] else { unreachable!() };
            optkern::dadapt_adam_step(p, &data.vec(37, Kind::Grad), m, v, s, &mut start, &cfg)
                .unwrap();
            assert_eq!(start.numerator.pos, 37);
            let mut want = start;
            let mut vals: Vec<Vec<f32>> = bufs.iter().map(Buf::values).collect();
            let [p, m, v, s] = &mut vals[..] else { unreachable!() };
            optkern::dadapt_adam_step(p, &gw, m, v, s, &mut want, &cfg).unwrap();
            for cuts in [vec![0, n], vec![0, Q8_BLOCK, n]] {
                let (mut got, mut b) = (start, bufs.clone());
                for w in cuts.windows(2) {
                    call_with(&mut b, &g, w[0]..w[1], &at, |p, g, states, at| {
                        let Ok([m, v, s]) = <[State; 3]>::try_from(states) else { unreachable!() };
                        optkern::dadapt_adam_step_mixed(p, g, m, v, s, &mut got, &cfg, at)
                    })
                    .unwrap();
                }
                assert!(
                    got == want,
                    "{} {combo:?} cuts {cuts:?}: {got:?} against {want:?}",
                    case.name
                );
                checked += 1;
            }
            // A short `s`: an error, and the state as it was.
            let mut b = bufs.clone();
            let mut st = start;
            let e = call_with(&mut b, &g, 0..n, &at, |p, g, mut states, at| {
                states[2] = State::F32(&mut []);
                let Ok([m, v, s]) = <[State; 3]>::try_from(states) else { unreachable!() };
                optkern::dadapt_adam_step_mixed(p, g, m, v, s, &mut st, &cfg, at)
            });
            assert!(matches!(e, Err(Error::LengthMismatch { .. })), "{e:?}");
            assert!(st == start);
        }
    }
    assert!(checked >= 100, "only {checked}");
}

/// One mixed call of `case` on `bufs` (params first) over `range`, as a shard at `range.start`.
fn call(
    case: &Case,
    width: Width,
    bufs: &mut [Buf],
    g: &GradBuf,
    r: std::ops::Range<usize>,
    t: u32,
    at: &Placement,
) -> Result<(), Error> {
    call_with(bufs, g, r, at, |p, g, states, at| {
        (case.mixed.as_ref().unwrap())(width, p, g, states, t, at)
    })
}

/// `f` on `range` of `bufs` (params first, then the states) and of the gradients, as a shard at
/// `range.start`; the shard is written back into the whole buffers.
fn call_with(
    bufs: &mut [Buf],
    g: &GradBuf,
    r: std::ops::Range<usize>,
    at: &Placement,
    f: impl FnOnce(Params, Grads, Vec<State>, &Placement) -> Result<(), Error>,
) -> Result<(), Error> {
    let at = Placement { offset: at.offset + r.start as u64, ..*at };
    let mut shards: Vec<Buf> = bufs.iter().map(|b| b.slice(r.clone())).collect();
    let (p, rest) = shards.split_first_mut().unwrap();
    let states: Vec<State> = rest.iter_mut().map(Buf::state).collect();
    let out = f(p.params(), g.grads(r.clone()), states, &at);
    // Write the shard back into the whole buffers.
    for (b, s) in bufs.iter_mut().zip(shards) {
        let mut whole = b.slice(0..r.start);
        whole.append(s);
        let n = match b {
            Buf::Quant { len, .. } => *len,
            Buf::F32(v) | Buf::Copy(v, _, _) => v.len(),
            Buf::Bf16(v, _) | Buf::Kahan(v, _) => v.len(),
        };
        whole.append(b.slice(r.end..n));
        *b = whole;
    }
    out
}

/// The assignments of formats tried on every case: (params, grads, every state). The last
/// three are the fused combinations (`src/format/fused.rs`): Adam runs them in registers.
const COMBOS: [(Fmt, GFmt, Fmt); 14] = [
    (Fmt::F32, GFmt::F32, Fmt::F32),
    (Fmt::Copy(false), GFmt::Bf16, Fmt::Bf16(Rounding::Nearest)),
    (Fmt::Copy(true), GFmt::F16, Fmt::Q8(Q8Map::Signed, Quantizer::Nearest)),
    (Fmt::Bf16(Rounding::Stochastic), GFmt::F32, Fmt::Bf16(Rounding::Stochastic)),
    (Fmt::Bf16(Rounding::Nearest), GFmt::Bf16, Fmt::Q8(Q8Map::Signed, Quantizer::BnbCpu)),
    (Fmt::F32, GFmt::Bf16, Fmt::Q8(Q8Map::Unsigned, Quantizer::Nearest)),
    (Fmt::F32, GFmt::F32, Fmt::Q8(Q8Map::Signed, Quantizer::Torchao)),
    (Fmt::Copy(false), GFmt::Bf16, Fmt::Q4(Q4Map::Signed)),
    (Fmt::F32, GFmt::F32, Fmt::Q4(Q4Map::Unsigned)),
    (Fmt::Bf16(Rounding::Nearest), GFmt::F16, Fmt::Fp8),
    (Fmt::Kahan, GFmt::Bf16, Fmt::Bf16(Rounding::Nearest)),
    (Fmt::Copy(false), GFmt::Bf16, Fmt::F32),
    (Fmt::F32, GFmt::Bf16, Fmt::Bf16(Rounding::Nearest)),
    (Fmt::Bf16(Rounding::Stochastic), GFmt::Bf16, Fmt::Bf16(Rounding::Nearest)),
];

/// Initial buffers for a case: params first, then the states (unsigned maps get |x|).
fn initial(case: &Case, n: usize, (pf, _, sf): (Fmt, GFmt, Fmt), data: &mut Data) -> Vec<Buf> {
    case.muts
        .iter()
        .enumerate()
        .map(|(k, &kind)| {
            let mut x = data.vec(n, if k == 0 { Kind::Param } else { kind });
            if matches!(sf, Fmt::Q8(Q8Map::Unsigned, _) | Fmt::Q4(Q4Map::Unsigned)) && k > 0 {
                x.iter_mut().for_each(|v| *v = v.abs());
            }
            Buf::new(&x, if k == 0 { pf } else { sf })
        })
        .collect()
}

/// Whether mutable buffer `k` is used: the f32 kernel refuses it empty exactly then.
fn used(case: &Case, k: usize, n: usize, t: u32) -> bool {
    let mut bufs: Vec<Vec<f32>> =
        (0..case.muts.len()).map(|j| vec![0.5; if j == k { 0 } else { n }]).collect();
    let mut refs: Vec<&mut [f32]> = bufs.iter_mut().map(|v| &mut v[..]).collect();
    (case.run)(Width::NATIVE, &mut refs, &[&vec![0.25; n]], t).is_err()
}

#[test]
fn every_format_is_the_f32_step_on_the_values_as_stored() {
    let mut checked = 0;
    for case in format_cases() {
        for (ci, &combo) in COMBOS.iter().enumerate() {
            let n = 2 * Q8_BLOCK + 37;
            let mut data = Data::new(ci as u64 + 1);
            let mut bufs = initial(&case, n, combo, &mut data);
            let at0 = Placement { offset: 0, seed: 77, counter: 0 };
            for t in 1..=STEPS {
                let at = Placement { counter: u64::from(t), ..at0 };
                let (g, gw) = grads(&data.vec(n, Kind::Grad), combo.1);
                // The definition: the f32 kernel on the values as read, stored per format.
                let mut want = bufs.clone();
                let mut vals: Vec<Vec<f32>> = want.iter().map(Buf::values).collect();
                let mut refs: Vec<&mut [f32]> = vals.iter_mut().map(|v| &mut v[..]).collect();
                (case.run)(Width::NATIVE, &mut refs, &[&gw], t).unwrap();
                for (k, (b, v)) in want.iter_mut().zip(&vals).enumerate() {
                    // A buffer the call's options do not use is never touched.
                    if used(&case, k, n, t) {
                        b.store(v, k as u64, &at);
                    }
                }
                call(&case, Width::NATIVE, &mut bufs, &g, 0..n, t, &at)
                    .unwrap_or_else(|e| panic!("{} {combo:?}: {e}", case.name));
                for (k, (got, want)) in bufs.iter().zip(&want).enumerate() {
                    let (a, b) = (got.bits(), want.bits());
                    let same = a.len() == b.len()
                        && a.iter().zip(&b).all(|(x, y)| {
                            x == y || (f32::from_bits(*x).is_nan() && f32::from_bits(*y).is_nan())
                        });
                    assert!(same, "{} {combo:?} step {t} buffer {k}", case.name);
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 500, "only {checked}");
}

/// Every width, and for an element-wise kernel every split into shards at block boundaries,
/// gives one call's bits.
#[test]
fn every_width_and_every_sharding_give_the_same_bits() {
    for case in format_cases() {
        for (ci, &combo) in COMBOS.iter().enumerate() {
            let n = 3 * Q8_BLOCK + 5;
            let mut data = Data::new(100 + ci as u64);
            let start = initial(&case, n, combo, &mut data);
            let gs: Vec<Vec<f32>> = (0..STEPS).map(|_| data.vec(n, Kind::Grad)).collect();
            let at0 = Placement { offset: 512, seed: 9, counter: 0 };
            let run = |width: Width, cuts: &[usize]| {
                let mut bufs = start.clone();
                for t in 1..=STEPS {
                    let at = Placement { counter: u64::from(t), ..at0 };
                    let (g, _) = grads(&gs[t as usize - 1], combo.1);
                    for w in cuts.windows(2) {
                        call(&case, width, &mut bufs, &g, w[0]..w[1], t, &at).unwrap();
                    }
                }
                bufs
            };
            let one = run(Width::X1, &[0, n]);
            // A layer-wise kernel's call is one layer (its norms): only whole calls compare.
            let cuts_tried = if case.elementwise {
                vec![vec![0, n], vec![0, Q8_BLOCK, n], vec![0, 2 * Q8_BLOCK, 3 * Q8_BLOCK, n]]
            } else {
                vec![vec![0, n]]
            };
            for width in Width::ALL {
                for cuts in cuts_tried.clone() {
                    let got = run(width, &cuts);
                    for (k, (a, b)) in got.iter().zip(&one).enumerate() {
                        let (a, b): (Vec<f32>, Vec<f32>) = (
                            a.bits().iter().map(|&x| f32::from_bits(x)).collect(),
                            b.bits().iter().map(|&x| f32::from_bits(x)).collect(),
                        );
                        assert_same_bits(
                            &a,
                            &b,
                            &format!("{} {combo:?} {width:?} cuts {cuts:?} buffer {k}", case.name),
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn bad_formats_are_errors_that_write_nothing() {
    let case = cases().into_iter().find(|c| c.name == "adam/default/Torch").unwrap();
    let n = 300;
    let mut data = Data::new(5);
    let q8 = Fmt::Q8(Q8Map::Signed, Quantizer::Nearest);
    let mut bufs = initial(&case, n, (Fmt::Copy(false), GFmt::F32, q8), &mut data);
    let (g, _) = grads(&data.vec(n, Kind::Grad), GFmt::F32);
    let before = bufs.clone();
    // A shard that starts inside a q8 block.
    let at = Placement { offset: 3, ..Placement::default() };
    let err = call(&case, Width::NATIVE, &mut bufs, &g, 0..n, 1, &at).unwrap_err();
    assert_eq!(err, Error::Misaligned { arg: "exp_avg", offset: 3, block: Q8_BLOCK });
    assert_eq!(bufs, before);
    // A copy of the wrong length, an absmax buffer of the wrong length.
    let (mut p, mut copy) = (vec![0.5f32; n], vec![bf16::ZERO; n - 1]);
    let (mut m, mut v) = (vec![0.0f32; n], vec![0.0f32; n]);
    let gs = vec![0.1f32; n];
    let cfg = optkern::AdamConfig::default();
    let params = Params::F32WithCopy { master: &mut p, copy: HalfCopy::Bf16(&mut copy) };
    let err = optkern::adam_step_mixed(
        params,
        Grads::F32(&gs),
        State::F32(&mut m),
        State::F32(&mut v),
        State::Unused,
        1,
        &cfg,
        &Placement::default(),
    )
    .unwrap_err();
    assert_eq!(err, Error::LengthMismatch { arg: "copy", expected: n, found: n - 1 });
    assert!(p.iter().all(|&x| x == 0.5) && m.iter().all(|&x| x == 0.0));
    // A Kahan compensation of the wrong length.
    let (mut p16, mut comp) = (vec![bf16::ONE; n], vec![bf16::ZERO; n + 1]);
    let err = optkern::adam_step_mixed(
        Params::Bf16Kahan { values: &mut p16, compensation: &mut comp },
        Grads::F32(&gs),
        State::F32(&mut m),
        State::F32(&mut v),
        State::Unused,
        1,
        &cfg,
        &Placement::default(),
    )
    .unwrap_err();
    assert_eq!(err, Error::LengthMismatch { arg: "compensation", expected: n, found: n + 1 });
    assert!(p16.iter().all(|&x| x == bf16::ONE) && comp.iter().all(|&x| x == bf16::ZERO));
    assert!(m.iter().all(|&x| x == 0.0));
    let (mut codes, mut absmax) = (vec![0u8; n], vec![0.0f32; 1]);
    let q = State::Q8 {
        codes: &mut codes,
        absmax: &mut absmax,
        map: Q8Map::Signed,
        quantizer: Quantizer::Nearest,
    };
    let err = optkern::adam_step_mixed(
        Params::F32(&mut p),
        Grads::F32(&gs),
        q,
        State::F32(&mut v),
        State::Unused,
        1,
        &cfg,
        &Placement::default(),
    )
    .unwrap_err();
    assert_eq!(err, Error::LengthMismatch { arg: "absmax", expected: 2, found: 1 });
    assert!(p.iter().all(|&x| x == 0.5) && v.iter().all(|&x| x == 0.0));
    // q4 and fp8 have their own blocks: a shard at 64 is inside a q4 block; a q4 buffer has
    // two elements per byte (an odd length's last byte half used), and one scale per 128.
    let mut q4 = |bytes: usize, scales: usize, offset: u64| {
        let (mut codes, mut scale) = (vec![0u8; bytes], vec![0.0f32; scales]);
        let r = optkern::adam_step_mixed(
            Params::F32(&mut p[..n - 1]),
            Grads::F32(&gs[..n - 1]),
            State::Q4 { codes: &mut codes, scale: &mut scale, map: Q4Map::Signed },
            State::F32(&mut v[..n - 1]),
            State::Unused,
            1,
            &cfg,
            &Placement { offset, ..Placement::default() },
        );
        let untouched = codes.iter().all(|&c| c == 0) && scale.iter().all(|&s| s == 0.0);
        (r, untouched && p.iter().all(|&x| x == 0.5) && v.iter().all(|&x| x == 0.0))
    };
    let odd = n - 1;
    assert_eq!(
        q4(odd.div_ceil(2), 3, 64).0.unwrap_err(),
        Error::Misaligned { arg: "exp_avg", offset: 64, block: Q4_BLOCK }
    );
    // One byte short: 149 bytes hold 298 elements, not the call's 299.
    let (r, untouched) = q4(odd.div_ceil(2) - 1, 3, 0);
    let short = Error::LengthMismatch { arg: "exp_avg", expected: odd, found: 2 * (odd / 2) };
    assert_eq!(r, Err(short));
    assert!(untouched);
    let (r, untouched) = q4(odd.div_ceil(2), 2, 0);
    assert_eq!(r, Err(Error::LengthMismatch { arg: "scale", expected: 3, found: 2 }));
    assert!(untouched);
    let (codes_ok, written) = q4(odd.div_ceil(2), 3, 128);
    assert!(codes_ok.is_ok() && !written, "an aligned odd-length q4 call runs and writes");
    p.fill(0.5);
    v.fill(0.0);
    let (mut codes, mut scale) = (vec![0u8; n], vec![0.0f32; 1]);
    let err = optkern::adam_step_mixed(
        Params::F32(&mut p),
        Grads::F32(&gs),
        State::F32(&mut m),
        State::Fp8 { codes: &mut codes, scale: &mut scale },
        State::Unused,
        1,
        &cfg,
        &Placement { offset: 256, ..Placement::default() },
    )
    .unwrap_err();
    assert_eq!(err, Error::LengthMismatch { arg: "scale", expected: 2, found: 1 });
    assert!(codes.iter().all(|&c| c == 0) && m.iter().all(|&x| x == 0.0));
    // A hyperparameter error is reported before the format errors, and writes nothing either.
    let bad = optkern::AdamConfig { lr: -1.0, ..cfg };
    assert!(
        optkern::adam_step_mixed(
            Params::F32(&mut p),
            Grads::F32(&gs),
            State::F32(&mut m),
            State::F32(&mut v),
            State::Unused,
            1,
            &bad,
            &Placement::default()
        )
        .is_err()
    );
    assert!(p.iter().all(|&x| x == 0.5));
    // An unused state is not touched even when given.
    let mut vmax = vec![bf16::from_f32(f32::NAN); n];
    let before = vmax.clone();
    optkern::adam_step_mixed(
        Params::F32(&mut p),
        Grads::F32(&gs),
        State::F32(&mut m),
        State::F32(&mut v),
        State::Bf16 { values: &mut vmax, rounding: Rounding::Nearest },
        1,
        &cfg,
        &Placement::default(),
    )
    .unwrap();
    assert!(vmax.iter().zip(&before).all(|(a, b)| a.to_bits() == b.to_bits()));
}

/// Stochastic rounding is unbiased: the mean of 10⁶ roundings of a value (fresh bits each
/// time, from the counter) is within 4σ of the value; exact bf16 values never move.
/// What the compensation is for: 1000 SGD steps each subtracting 2⁻¹⁰ from bf16 parameters of
/// 1 (an eighth of bf16's ulp there, 2⁻⁷). Rounded to nearest, the parameters never move; with
/// the Kahan buffer they end within 2⁻⁸ of the exact 1 − 1000·2⁻¹⁰ = 0.0234375, and `p + c`
/// within 2⁻¹⁶ of it.
#[test]
fn kahan_compensation_keeps_updates_below_half_an_ulp() {
    let n = 300;
    let cfg = optkern::SgdConfig { lr: 1.0, ..Default::default() };
    let g = vec![2f32.powi(-10); n];
    let (mut nearest, mut kahan) = (vec![bf16::ONE; n], vec![bf16::ONE; n]);
    let mut comp = vec![bf16::ZERO; n];
    let at = Placement::default();
    for t in 1..=1000 {
        let p = Params::Bf16 { values: &mut nearest, rounding: Rounding::Nearest };
        optkern::sgd_step_mixed(p, Grads::F32(&g), State::Unused, t, &cfg, &at).unwrap();
        let p = Params::Bf16Kahan { values: &mut kahan, compensation: &mut comp };
        optkern::sgd_step_mixed(p, Grads::F32(&g), State::Unused, t, &cfg, &at).unwrap();
    }
    let exact = 1.0 - 1000.0 * 2f64.powi(-10);
    assert!(nearest.iter().all(|&x| x == bf16::ONE), "nearest rounding moved");
    for (&p, &c) in kahan.iter().zip(&comp) {
        let (p, c) = (f64::from(p.to_f32()), f64::from(c.to_f32()));
        assert!((p - exact).abs() <= 2f64.powi(-8), "kahan: {p} against {exact}");
        assert!((p + c - exact).abs() <= 2f64.powi(-16), "p + c: {} against {exact}", p + c);
    }
}

#[test]
fn stochastic_rounding_is_unbiased() {
    let n = 1000;
    for x in [1.0f32 + 3.0 * f32::EPSILON, -0.123_456_7, 3.3e-20, 65_519.3, 1.0 / 3.0] {
        let xs = vec![x; n];
        let mut out = vec![bf16::ZERO; n];
        let (mut sum, mut count) = (0.0f64, 0u64);
        for counter in 0..1000 {
            let at = Placement { offset: 0, seed: 1, counter };
            format::f32_to_bf16(&xs, &mut out, Rounding::Stochastic, &at).unwrap();
            sum += out.iter().map(|b| f64::from(b.to_f32())).sum::<f64>();
            count += n as u64;
        }
        let mean = sum / count as f64;
        let (lo, hi) = (
            f64::from(f32::from_bits(x.to_bits() & 0xFFFF_0000)),
            f64::from(f32::from_bits((x.to_bits() & 0xFFFF_0000) + 0x1_0000)),
        );
        let p = (f64::from(x) - lo) / (hi - lo);
        let sigma = (hi - lo).abs() * (p * (1.0 - p) / count as f64).sqrt();
        assert!((mean - f64::from(x)).abs() <= 4.0 * sigma, "{x}: mean {mean}, σ {sigma}");
    }
    let exact = [1.5f32, -2.0, 0.0, 3.0e-3];
    let exact: Vec<f32> = exact.iter().map(|v| f32::from_bits(v.to_bits() & 0xFFFF_0000)).collect();
    let mut out = vec![bf16::ZERO; exact.len()];
    for counter in 0..100 {
        format::f32_to_bf16(
            &exact,
            &mut out,
            Rounding::Stochastic,
            &Placement { counter, ..Placement::default() },
        )
        .unwrap();
        assert!(out.iter().zip(&exact).all(|(b, x)| b.to_f32().to_bits() == x.to_bits()));
    }
}

/// The non-finite check and unscale read half-precision gradients: a NaN or ±∞ in any format
/// is found, and unscaling equals widening then one multiply.
#[test]
fn non_finite_check_and_unscale_read_every_gradient_format() {
    let n = 100;
    let mut data = Data::new(3);
    let g = data.vec(n, Kind::Signed);
    for fmt in [GFmt::F32, GFmt::Bf16, GFmt::F16] {
        let (buf, widened) = grads(&g, fmt);
        assert!(format::all_finite(&[buf.grads(0..n)]));
        let mut out = vec![0.0f32; n];
        assert!(!format::unscale(buf.grads(0..n), 0.25, &mut out).unwrap());
        assert!(out.iter().zip(&widened).all(|(o, w)| o.to_bits() == (w * 0.25).to_bits()));
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let mut gb = g.clone();
            gb[37] = bad;
            let (buf, _) = grads(&gb, fmt);
            assert!(!format::all_finite(&[buf.grads(0..n)]), "{fmt:?} {bad}");
            assert!(format::unscale(buf.grads(0..n), 0.5, &mut out).unwrap());
        }
    }
    let (buf, _) = grads(&g, GFmt::Bf16);
    let mut out = vec![7.0f32; n];
    assert!(format::unscale(buf.grads(0..n), f32::NAN, &mut out).is_err());
    assert!(out.iter().all(|&x| x == 7.0));
}

/// The scalar states of the layer-wise kernels' mixed forms are their f32 forms' (the harness
/// above compares buffers only): CAME's RMS and NovoGrad's `ν` from f32 buffers, and nothing
/// written to either on an error.
#[test]
fn layerwise_scalar_states_are_the_f32_kernels() {
    let n = 700;
    let mut data = Data::new(11);
    let (p0, g, m0) =
        (data.vec(n, Kind::Param), data.vec(n, Kind::Grad), data.vec(n, Kind::Signed));
    let v0: Vec<f32> = data.vec(n, Kind::NonNeg);
    let at = Placement::default();
    let cfg = optkern::CameConfig::default();
    let (mut p, mut m, mut v) = (p0.clone(), m0.clone(), v0.clone());
    let mut want = optkern::CameState::default();
    optkern::came_step(&mut p, &g, &mut m, &mut v, &mut [], &mut want, &cfg).unwrap();
    let (mut p, mut m, mut v) = (p0.clone(), m0.clone(), v0.clone());
    let mut got = optkern::CameState::default();
    let (pm, gm) = (Params::F32(&mut p), Grads::F32(&g));
    let (sm, sv) = (State::F32(&mut m), State::F32(&mut v));
    optkern::came_step_mixed(pm, gm, sm, sv, State::Unused, &mut got, &cfg, &at).unwrap();
    assert!(want.rms > 0.0 && got == want, "CAME: {got:?} against {want:?}");
    let cfg = optkern::NovogradConfig::default();
    let (mut p, mut m) = (p0.clone(), m0.clone());
    let mut want = optkern::NovogradState { nu: 0.25 };
    optkern::novograd_step(&mut p, &g, &mut m, 2, &mut want, &cfg).unwrap();
    let (mut p, mut m) = (p0.clone(), m0.clone());
    let mut got = optkern::NovogradState { nu: 0.25 };
    let (pm, gm, sm) = (Params::F32(&mut p), Grads::F32(&g), State::F32(&mut m));
    optkern::novograd_step_mixed(pm, gm, sm, 2, &mut got, &cfg, &at).unwrap();
    assert!(want.nu != 0.25 && got == want, "NovoGrad: {got:?} against {want:?}");
    // Errors leave the states as they were.
    let mut short = vec![0.0f32; n - 1];
    let (pm, gm, sm) = (Params::F32(&mut p), Grads::F32(&g), State::F32(&mut short));
    assert!(optkern::novograd_step_mixed(pm, gm, sm, 3, &mut got, &cfg, &at).is_err());
    assert_eq!(got, want);
    let mut st = optkern::CameState { rms: 7.0 };
    let cfg = optkern::CameConfig::default();
    let (pm, gm) = (Params::F32(&mut p), Grads::F32(&g));
    let (sm, sv) = (State::F32(&mut short), State::F32(&mut v));
    assert!(optkern::came_step_mixed(pm, gm, sm, sv, State::Unused, &mut st, &cfg, &at).is_err());
    assert_eq!(st.rms, 7.0);
}
