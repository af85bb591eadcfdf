//! Differential fuzz checks for optkern's kernels: each `check_<kernel>` takes an arbitrary
//! [`Case`] and asserts that
//! 1. the kernel does not panic;
//! 2. it returns `Ok` exactly when the inputs are valid (hyperparameters decided by
//!    `optkern-reference`'s independent `accepts_*`, lengths by the documented rules);
//! 3. on `Err`, every buffer is bit-identical to before;
//! 4. on `Ok`, every lane width gives the same bits, nothing outside the slices is written,
//!    and (for moderate data) the result is within the reference tolerance, NaN where the
//!    reference is NaN.
//!
//! The fuzz targets in `fuzz_targets/` call these; `tests` replays a seeded stream of cases.

use arbitrary::Arbitrary;
use optkern::{AdamConfig, Error, MomentumConfig, Numerics, SgdConfig, Width};
use optkern_reference as reference;

#[path = "../../tests/common/to_reference.rs"]
mod to_reference;
use to_reference::ToReference;

/// A hyperparameter: raw f32 bits (NaN, ±∞, negatives, subnormals get explored) or, four
/// times out of five, one of the values real configurations use (so that valid calls, whose
/// results are compared, are common).
#[derive(Debug, Clone, Copy)]
pub enum Hyper {
    /// `f32::from_bits`, widened to f64.
    Raw(u32),
    /// An index into [`TYPICAL`].
    Typical(u8),
}

/// Values real configurations use.
pub const TYPICAL: [f64; 11] = [0.0, 1e-8, 1e-3, 0.01, 0.1, 0.5, 0.9, 0.999, 1.0, 2.0, 0.45];

impl<'a> Arbitrary<'a> for Hyper {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(if u8::arbitrary(u)? < 51 {
            Hyper::Raw(u32::arbitrary(u)?)
        } else {
            Hyper::Typical(u8::arbitrary(u)?)
        })
    }
}

impl Hyper {
    /// The value.
    pub fn get(self) -> f64 {
        match self {
            Hyper::Raw(bits) => f64::from(f32::from_bits(bits)),
            Hyper::Typical(i) => TYPICAL[usize::from(i) % TYPICAL.len()],
        }
    }
}

/// One fuzz input: a kernel call with its hyperparameters, lengths, offset and data.
#[derive(Arbitrary, Debug)]
pub struct Case {
    /// Index into `Width::ALL` for the first call.
    pub width: u8,
    /// Offset of every slice inside its canary-padded allocation (mod 16).
    pub offset: u8,
    /// Step number (0 is invalid).
    pub step: u8,
    /// Hyperparameters, in the config's field order.
    pub hyper: [Hyper; 6],
    /// Boolean options, one bit each; bit 7 selects the Portable profile.
    pub flags: u8,
    /// Per-buffer length changes (applied when non-zero mod 8 is drawn: mostly equal lengths).
    pub len_delta: [i8; 6],
    /// Map the data to moderate values (so the reference comparison is meaningful) instead
    /// of using the raw bits.
    pub moderate: bool,
    /// Raw f32 bits for all buffers.
    pub data: Vec<u32>,
}

impl Case {
    fn flag(&self, bit: u8) -> bool {
        self.flags & (1 << bit) != 0
    }
    /// Whether the reference comparison is meaningful: moderate data and every
    /// hyperparameter 0 or in `[1e-9, 1e3]`. (A subnormal weight decay makes `v = g²`
    /// underflow in f32 and not in f64; a learning rate of 1e8 amplifies the f32 rounding of
    /// the update past the parameters' own scale: legitimate differences, not bugs; both found
    /// by the fuzzer and kept in `regressions/`.)
    fn comparable(&self) -> bool {
        self.moderate
            && self.hyper.iter().all(|h| {
                let x = h.get().abs();
                x == 0.0 || (1e-9..=1e3).contains(&x)
            })
    }
    fn numerics(&self) -> Numerics {
        if self.flag(7) { Numerics::Portable } else { Numerics::Torch }
    }
    /// [`Case::numerics`], or `Fast` (flags 6 and 7) for the kernels that have it.
    fn numerics_with_fast(&self) -> Numerics {
        if self.flag(7) && self.flag(6) { Numerics::Fast } else { self.numerics() }
    }
}

/// A buffer with NaN canaries on both sides.
struct Guarded {
    buf: Vec<f32>,
    off: usize,
    len: usize,
}

const CANARY: u32 = 0x7fa5_c0de;

impl Guarded {
    fn new(values: &[f32], off: usize) -> Self {
        let mut buf = vec![f32::from_bits(CANARY); off + values.len() + 16];
        buf[off..off + values.len()].copy_from_slice(values);
        Guarded { buf, off, len: values.len() }
    }
    fn slice(&self) -> &[f32] {
        &self.buf[self.off..self.off + self.len]
    }
    fn slice_mut(&mut self) -> &mut [f32] {
        &mut self.buf[self.off..self.off + self.len]
    }
    fn bits(&self) -> Vec<u32> {
        self.buf.iter().map(|x| x.to_bits()).collect()
    }
    fn canaries_intact(&self) -> bool {
        self.buf
            .iter()
            .enumerate()
            .all(|(i, x)| (i >= self.off && i < self.off + self.len) || x.to_bits() == CANARY)
    }
}

/// A kernel call at a width on (mutable, read-only) buffers, with the step and config.
type RunFn<'a, H> = &'a dyn Fn(Width, &mut [&mut [f32]], &[&[f32]], u32, &H) -> Result<(), Error>;
/// The f64 reference update of the mutable buffers from the read-only ones.
type ReferenceFn<'a, H> = &'a dyn Fn(&mut [Vec<f64>], &[Vec<f64>], u32, &H);

/// How a kernel is driven: buffers (mutable first, then read-only) and their roles.
struct Spec<'a, H> {
    name: &'a str,
    /// Number of mutable buffers; the rest are read-only.
    muts: usize,
    /// Which buffers hold non-negative values (second moments) in moderate mode.
    non_negative: &'a [usize],
    hyper: H,
    run: RunFn<'a, H>,
    /// Whether the call is valid, from the lengths and the reference's `accepts_*`.
    valid: &'a dyn Fn(&[usize], u32, &H) -> bool,
    /// The f64 reference update of the mutable buffers.
    reference: ReferenceFn<'a, H>,
    /// Norm-wise relative tolerance of one step.
    tol: f64,
    /// Whether this config is well-conditioned enough to compare with the reference (on top
    /// of [`Case::comparable`]).
    conditioned: bool,
}

fn moderate(bits: u32, non_negative: bool) -> f32 {
    let x = ((bits >> 8) as f32 / 16_777_216.0 * 2.0 - 1.0) * 4.0;
    if non_negative { x * x } else { x }
}

/// The first `max` data words as f32 values: moderate ones, or the raw bits.
fn values(case: &Case, max: usize) -> Vec<f32> {
    let value = |&w: &u32| if case.moderate { moderate(w, false) } else { f32::from_bits(w) };
    case.data.iter().take(max).map(value).collect()
}

/// What a check did, for the replay statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The call returned `Ok` (widths compared).
    pub ok: bool,
    /// The result was also compared with the reference.
    pub compared: bool,
}

fn check<H>(case: &Case, spec: &Spec<'_, H>, buffers: usize) -> Outcome {
    let n = (case.data.len() / buffers).min(300);
    let off = usize::from(case.offset % 16);
    let step = u32::from(case.step);
    let lens: Vec<usize> = (0..buffers)
        .map(|k| {
            let d = case.len_delta.get(k).copied().unwrap_or(0);
            if k == 0 || d % 8 != 0 { n } else { n.saturating_add_signed(isize::from(d / 8)) }
        })
        .map(|l| l.min(case.data.len().saturating_sub(0)))
        .collect();
    let values: Vec<Vec<f32>> = (0..buffers)
        .map(|k| {
            (0..lens[k])
                .map(|i| {
                    let bits =
                        case.data.get((k * n + i) % case.data.len().max(1)).copied().unwrap_or(0);
                    if case.moderate {
                        moderate(bits, spec.non_negative.contains(&k))
                    } else {
                        f32::from_bits(bits)
                    }
                })
                .collect()
        })
        .collect();
    let call = |width: Width| -> (Result<(), Error>, Vec<Guarded>) {
        let mut g: Vec<Guarded> = values.iter().map(|v| Guarded::new(v, off)).collect();
        let (m, i) = g.split_at_mut(spec.muts);
        let mut mut_refs: Vec<&mut [f32]> = m.iter_mut().map(Guarded::slice_mut).collect();
        let in_refs: Vec<&[f32]> = i.iter().map(Guarded::slice).collect();
        let r = (spec.run)(width, &mut mut_refs, &in_refs, step, &spec.hyper);
        (r, g)
    };
    let first = Width::ALL[usize::from(case.width) % Width::ALL.len()];
    let (result, after) = call(first);
    let name = spec.name;
    for (k, g) in after.iter().enumerate() {
        assert!(g.canaries_intact(), "{name}: buffer {k} written outside its slice");
    }
    let valid = (spec.valid)(&lens, step, &spec.hyper);
    assert_eq!(result.is_ok(), valid, "{name}: got {result:?}, reference says valid = {valid}");
    if result.is_err() {
        let before: Vec<Guarded> = values.iter().map(|v| Guarded::new(v, off)).collect();
        for (k, (a, b)) in after.iter().zip(&before).enumerate() {
            assert_eq!(a.bits(), b.bits(), "{name}: buffer {k} changed on Err");
        }
        return Outcome::default();
    }
    for width in Width::ALL {
        let (r, other) = call(width);
        assert!(r.is_ok());
        for (k, (a, b)) in other.iter().zip(&after).enumerate().take(spec.muts) {
            for (i, (x, y)) in a.slice().iter().zip(b.slice()).enumerate() {
                assert!(
                    x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
                    "{name}: {width:?} vs {first:?} differ in buffer {k}[{i}]: {x:e} vs {y:e}"
                );
            }
        }
    }
    let compare = case.comparable() && spec.conditioned;
    if compare {
        let mut muts: Vec<Vec<f64>> =
            values[..spec.muts].iter().map(|v| v.iter().map(|&x| f64::from(x)).collect()).collect();
        let ins: Vec<Vec<f64>> =
            values[spec.muts..].iter().map(|v| v.iter().map(|&x| f64::from(x)).collect()).collect();
        (spec.reference)(&mut muts, &ins, step, &spec.hyper);
        // The scale of the data the step read and wrote: the old state counts too (an EMA with
        // decay 10⁻³ blends a large old average into a small result; its f32 weight
        // c(1 − decay) carries an error of 2⁻²⁵ times the old value, not times the result).
        let before = values[..spec.muts].iter().flatten().map(|&x| f64::from(x));
        let scale = muts
            .iter()
            .chain(&ins)
            .flatten()
            .copied()
            .chain(before)
            .filter(|x| x.is_finite())
            .fold(1e-30f64, |m, x| m.max(x.abs()));
        for (k, (got, want)) in after.iter().zip(&muts).enumerate() {
            for (i, (a, e)) in got.slice().iter().zip(want).enumerate() {
                let a = f64::from(*a);
                if e.is_nan() || a.is_nan() {
                    assert!(
                        e.is_nan() && a.is_nan(),
                        "{name}: NaN-ness differs at {k}[{i}]: {a:e} vs {e:e}"
                    );
                } else if e.abs() < 1e30 {
                    let err = (a - e).abs() / scale;
                    assert!(
                        err <= spec.tol,
                        "{name}: buffer {k}[{i}] {a:e} vs reference {e:e} (rel {err:e})"
                    );
                }
            }
        }
    }
    Outcome { ok: true, compared: compare }
}

fn lens_equal(lens: &[usize]) -> bool {
    lens.iter().all(|&l| l == lens[0])
}

/// Sets to ∞ (not judged: `check` compares only |e| < 10³⁰) the reference of the elements
/// where L2 weight decay cancels the scaled gradient, g = s·grad + λθ, so far that f32 cannot
/// meet the tolerance (torch neither). g's f32 rounding is 2⁻²⁴ of the terms |s·grad| + |λθ|,
/// not of g, and the step passes it on times `gain`; an element is judged while two such
/// roundings (2⁻²³ of the terms) times the gain stay under half the tolerance of the scale
/// `check` judges by (the largest finite value before and after the step, gradients
/// included). Found by the fuzzer, regressions/sgd/crash-71ae55…: ±3,140 cancelling to −0.09,
/// then η = 2 and μ = 2.
fn unjudge_decay_cancellation(
    before: &[Vec<f64>],
    after: &mut [Vec<f64>],
    grads: &[f64],
    s: f64,
    decay: f64,
    gain: f64,
    tol: f64,
) {
    let scale = before
        .iter()
        .chain(after.iter())
        .flatten()
        .chain(grads)
        .filter(|x| x.is_finite())
        .fold(1e-30f64, |m, x| m.max(x.abs()));
    for (i, (&g, &p)) in grads.iter().zip(&before[0]).enumerate() {
        let terms = (s * g).abs() + (decay * p).abs();
        if f64::from(f32::EPSILON) * terms * gain > tol / 2.0 * scale {
            for x in after.iter_mut().filter_map(|b| b.get_mut(i)) {
                if x.is_finite() {
                    *x = f64::INFINITY;
                }
            }
        }
    }
}

/// `sgd_step`: buffers params, momentum_buffer | grads.
pub fn check_sgd(case: &Case) -> Outcome {
    let h = case.hyper;
    let cfg = SgdConfig {
        lr: h[0].get(),
        momentum: h[1].get(),
        dampening: h[2].get(),
        weight_decay: h[3].get(),
        nesterov: case.flag(0),
        maximize: case.flag(1),
        grad_scale: h[4].get() as f32,
        numerics: case.numerics(),
    };
    let r = cfg.to_reference();
    let spec = Spec {
        name: "sgd",
        muts: 2,
        non_negative: &[],
        hyper: (cfg, r),
        run: &|w, m, i, t, (cfg, _)| match m {
            [p, b] => optkern::sgd_step_with(w, p, i[0], b, t, cfg),
            _ => unreachable!(),
        },
        valid: &|l, t, (cfg, r)| {
            let buf_ok = l[1] == l[0] || (cfg.momentum == 0.0 && l[1] == 0);
            l[2] == l[0] && buf_ok && reference::accepts_sgd(r, t)
        },
        reference: &|m, i, t, (_, r)| {
            let before = m.to_vec();
            match m {
                [p, b] => reference::sgd(p, &i[0], b, t == 1, r),
                _ => unreachable!(),
            }
            let s = if r.maximize { -r.grad_scale } else { r.grad_scale };
            let gain = (r.lr * (1.0 + r.momentum)).max(1.0);
            unjudge_decay_cancellation(&before, m, &i[0], s, r.weight_decay, gain, 1e-6);
        },
        tol: 1e-6,
        conditioned: true,
    };
    check(case, &spec, 3)
}

/// A prepared form's call on copies of the buffers against the plain call: accepted exactly
/// when the plain call is, and then the same bits in every buffer.
fn same_as_prepared(
    kernel: &str,
    plain: &Result<(), optkern::Error>,
    prepared: &Result<(), optkern::Error>,
    buffers: &[&[f32]],
    copies: &[Vec<f32>],
) {
    assert_eq!(prepared.is_ok(), plain.is_ok(), "{kernel} prepared: {prepared:?}");
    if plain.is_ok() {
        for (ours, prep) in buffers.iter().zip(copies) {
            let bits = |b: &[f32]| b.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(ours), bits(prep), "{kernel} prepared differs");
        }
    }
}

/// `adam_step`: buffers params, exp_avg, exp_avg_sq, max_exp_avg_sq | grads.
pub fn check_adam(case: &Case) -> Outcome {
    let h = case.hyper;
    let cfg = AdamConfig {
        lr: h[0].get(),
        beta1: h[1].get(),
        beta2: h[2].get(),
        eps: h[3].get(),
        weight_decay: h[4].get(),
        decoupled_weight_decay: case.flag(0),
        amsgrad: case.flag(1),
        maximize: case.flag(2),
        eps_hat: case.flag(3),
        grad_scale: h[5].get() as f32,
        numerics: case.numerics_with_fast(),
    };
    let r = cfg.to_reference();
    let spec = Spec {
        name: "adam",
        muts: 4,
        non_negative: &[2, 3],
        hyper: (cfg, r),
        run: &|w, m, i, t, (cfg, _)| match m {
            [p, m1, v, vmax] => {
                // `adam_step_prepared` on copies: accepted exactly when `adam_step` is, and
                // then the same bits in every buffer.
                let mut copies = [&**p, &**m1, &**v, &**vmax].map(<[f32]>::to_vec);
                let [cp, cm, cv, cx] = &mut copies;
                let prepared = cfg
                    .prepare(t)
                    .and_then(|k| optkern::adam_step_prepared_with(w, cp, i[0], cm, cv, cx, &k));
                let result = optkern::adam_step_with(w, p, i[0], m1, v, vmax, t, cfg);
                same_as_prepared("adam", &result, &prepared, &[p, m1, v, vmax], &copies);
                result
            }
            _ => unreachable!(),
        },
        valid: &|l, t, (cfg, r)| {
            let vmax_ok = l[3] == l[0] || (!cfg.amsgrad && l[3] == 0);
            l[1] == l[0] && l[2] == l[0] && l[4] == l[0] && vmax_ok && reference::accepts_adam(r, t)
        },
        reference: &|m, i, t, (cfg, r)| {
            // L2 decay that cancels the scaled gradient (g = s·grad + λ·p with more than 8 bits
            // lost) leaves the f32 g with a relative error above the tolerance itself, which
            // the division by √v̂ + ε can amplify (found by the fuzzer, regressions/adam/crash-1fa19c…:
            // g ≈ 4e-5 from ±1.8, p off by 1.2e-5 of its scale). Such elements are not judged:
            // their reference is set to ∞, which `check` does not compare (|e| < 1e30 only).
            let l2 = !cfg.decoupled_weight_decay && cfg.weight_decay > 0.0;
            let cancels: Vec<bool> = (m[0].iter().zip(&i[0]))
                .map(|(&p, &g)| {
                    let s = if cfg.maximize { -cfg.grad_scale } else { cfg.grad_scale };
                    let (gs, d) = (f64::from(s) * g, cfg.weight_decay * p);
                    l2 && (gs + d).abs() < (gs.abs() + d.abs()) / 256.0
                })
                .collect();
            match m {
                [p, m1, v, vmax] => reference::adam(p, &i[0], m1, v, vmax, t, r),
                _ => unreachable!(),
            }
            for buf in m.iter_mut() {
                for (x, &c) in buf.iter_mut().zip(&cancels) {
                    if c && x.is_finite() {
                        *x = f64::INFINITY;
                    }
                }
            }
        },
        // One step; the division by √v̂ + ε with ε ≈ 0 and tiny v amplifies f32 rounding of v,
        // so the bound is looser than SGD's.
        tol: 1e-5,
        // Torch's lerp computes 1 − w from the f32 w = c(1 − β₁): for 0 < β₁ ≪ 1 the first
        // moment then carries a relative error of ~2⁻²⁵/β₁ (torch has it too; found by the
        // fuzzer, kept in regressions/adam/). Compare only where that is below the tolerance.
        // With ε = 0 a gradient that cancels to 0 in f32 (weight decay against the scaled
        // gradient) divides by √v = 0 where f64 does not: also found by the fuzzer.
        conditioned: (cfg.numerics != Numerics::Torch || cfg.beta1 == 0.0 || cfg.beta1 >= 0.01)
            && cfg.eps >= 1e-6,
    };
    check(case, &spec, 5)
}

/// `momentum_step` (params, velocity | grads) and `nesterov_lookahead`
/// (lookahead | params, velocity), on the same config.
pub fn check_momentum(case: &Case) -> Outcome {
    let h = case.hyper;
    let cfg = MomentumConfig {
        lr: h[0].get(),
        momentum: h[1].get(),
        weight_decay: h[2].get(),
        grad_scale: h[3].get() as f32,
        numerics: case.numerics(),
    };
    let r = cfg.to_reference();
    let step = Spec {
        name: "momentum",
        muts: 2,
        non_negative: &[],
        hyper: (cfg, r),
        run: &|w, m, i, _, (cfg, _)| match m {
            [p, v] => optkern::momentum_step_with(w, p, i[0], v, cfg),
            _ => unreachable!(),
        },
        valid: &|l, _, (_, r)| lens_equal(l) && reference::accepts_momentum(r),
        reference: &|m, i, _, (_, r)| {
            let before = m.to_vec();
            match m {
                [p, v] => reference::momentum(p, &i[0], v, r),
                _ => unreachable!(),
            }
            unjudge_decay_cancellation(&before, m, &i[0], r.grad_scale, r.weight_decay, r.lr, 1e-6);
        },
        tol: 1e-6,
        conditioned: true,
    };
    let a = check(case, &step, 3);
    let lookahead = Spec {
        name: "nesterov_lookahead",
        muts: 1,
        non_negative: &[],
        hyper: (cfg, r),
        run: &|w, m, i, _, (cfg, _)| optkern::nesterov_lookahead_with(w, m[0], i[0], i[1], cfg),
        valid: &|l, _, (_, r)| lens_equal(l) && reference::accepts_momentum(r),
        reference: &|m, i, _, (_, r)| {
            reference::nesterov_lookahead(&mut m[0], &i[0], &i[1], r.momentum)
        },
        tol: 1e-6,
        conditioned: true,
    };
    let b = check(case, &lookahead, 3);
    Outcome { ok: a.ok && b.ok, compared: a.compared && b.compared }
}

/// Every other optimizer (`check_others` picks one with `case.flags >> 4`): Adagrad,
/// RMSprop, Adamax, Adadelta, NAdam, RAdam, ASGD, Rprop, Adafactor, Lion, LAMB, LARS, and the
/// weight averages (SWA, EMA), SparseAdam ([`check_sparse_adam`]), Muon ([`check_muon`]) and L-BFGS ([`check_lbfgs`]).
pub fn check_others(case: &Case) -> Outcome {
    use optkern::*;
    let h: Vec<f64> = case.hyper.iter().map(|x| x.get()).collect();
    let gs = h[5] as f32;
    let numerics = case.numerics();
    let max = case.flag(1);
    let eq = |l: &[usize]| lens_equal(l);
    match (case.flags >> 4) % 16 {
        15 if case.flag(3) => check_lbfgs(case),
        15 => check_muon(case),
        14 => check_sparse_adam(case),
        0 => {
            let cfg = AdagradConfig {
                lr: h[0],
                lr_decay: h[1],
                weight_decay: h[2],
                initial_accumulator_value: h[3],
                eps: h[4],
                eps_inside_sqrt: case.flag(0),
                maximize: max,
                grad_scale: gs,
                numerics,
            };
            let r = cfg.to_reference();
            check(
                case,
                &Spec {
                    name: "adagrad",
                    muts: 2,
                    non_negative: &[1],
                    hyper: (cfg, r),
                    run: &|w, m, i, t, (c, _)| match m {
                        [p, s] => adagrad_step_with(w, p, i[0], s, t, c),
                        _ => unreachable!(),
                    },
                    valid: &|l, t, (_, r)| eq(l) && reference::accepts_adagrad(r, t),
                    reference: &|m, i, t, (_, r)| match m {
                        [p, s] => reference::adagrad(p, &i[0], s, t, r),
                        _ => unreachable!(),
                    },
                    tol: 1e-5,
                    conditioned: h[4] >= 1e-6,
                },
                3,
            )
        }
        1 => {
            let cfg = RmspropConfig {
                lr: h[0],
                alpha: h[1],
                eps: h[2],
                weight_decay: h[3],
                momentum: h[4],
                centered: case.flag(0),
                eps_inside_sqrt: case.flag(2),
                maximize: max,
                grad_scale: gs,
                numerics,
            };
            let r = cfg.to_reference();
            check(
                case,
                &Spec {
                    name: "rmsprop",
                    muts: 4,
                    non_negative: &[1],
                    hyper: (cfg, r),
                    run: &|w, m, i, _, (c, _)| match m {
                        [p, sq, b, ga] => rmsprop_step_with(w, p, i[0], sq, b, ga, c),
                        _ => unreachable!(),
                    },
                    valid: &|l, _, (c, r)| {
                        let opt = |k: usize, used: bool| l[k] == l[0] || (!used && l[k] == 0);
                        l[1] == l[0]
                            && l[4] == l[0]
                            && opt(2, c.momentum != 0.0)
                            && opt(3, c.centered)
                            && reference::accepts_rmsprop(r)
                    },
                    reference: &|m, i, _, (_, r)| match m {
                        [p, sq, b, ga] => reference::rmsprop(p, &i[0], sq, b, ga, r),
                        _ => unreachable!(),
                    },
                    // The centered variance sq − ga² of arbitrary state can cancel: compare the
                    // non-centered form only, with ε large enough to bound the division.
                    tol: 1e-5,
                    conditioned: !cfg.centered && h[2] >= 1e-4,
                },
                5,
            )
        }
        2 => {
            let cfg = AdamaxConfig {
                lr: h[0],
                beta1: h[1],
                beta2: h[2],
                eps: h[3],
                weight_decay: h[4],
                maximize: max,
                grad_scale: gs,
                numerics,
            };
            let r = cfg.to_reference();
            check(
                case,
                &Spec {
                    name: "adamax",
                    muts: 3,
                    non_negative: &[2],
                    hyper: (cfg, r),
                    run: &|w, m, i, t, (c, _)| match m {
                        [p, m1, u] => adamax_step_with(w, p, i[0], m1, u, t, c),
                        _ => unreachable!(),
                    },
                    valid: &|l, t, (_, r)| eq(l) && reference::accepts_adamax(r, t),
                    reference: &|m, i, t, (_, r)| match m {
                        [p, m1, u] => reference::adamax(p, &i[0], m1, u, t, r),
                        _ => unreachable!(),
                    },
                    tol: 1e-5,
                    conditioned: (cfg.beta1 == 0.0
                        || cfg.beta1 >= 0.01
                        || numerics == Numerics::Portable)
                        && h[3] >= 1e-6,
                },
                4,
            )
        }
        3 => {
            let cfg = AdadeltaConfig {
                lr: h[0],
                rho: h[1],
                eps: h[2],
                weight_decay: h[3],
                maximize: max,
                grad_scale: gs,
                numerics,
            };
            let r = cfg.to_reference();
            check(
                case,
                &Spec {
                    name: "adadelta",
                    muts: 3,
                    non_negative: &[1, 2],
                    hyper: (cfg, r),
                    run: &|w, m, i, _, (c, _)| match m {
                        [p, sq, acc] => adadelta_step_with(w, p, i[0], sq, acc, c),
                        _ => unreachable!(),
                    },
                    valid: &|l, _, (_, r)| eq(l) && reference::accepts_adadelta(r),
                    reference: &|m, i, _, (_, r)| match m {
                        [p, sq, acc] => reference::adadelta(p, &i[0], sq, acc, r),
                        _ => unreachable!(),
                    },
                    tol: 1e-5,
                    conditioned: h[2] >= 1e-6,
                },
                4,
            )
        }
        4 => {
            let cfg = NadamConfig {
                lr: h[0],
                beta1: h[1],
                beta2: h[2],
                eps: h[3],
                weight_decay: h[4],
                momentum_decay: 4e-3,
                decoupled_weight_decay: case.flag(0),
                maximize: max,
                grad_scale: gs,
                numerics,
            };
            let r = cfg.to_reference();
            check(
                case,
                &Spec {
                    name: "nadam",
                    muts: 3,
                    non_negative: &[2],
                    hyper: (cfg, r),
                    run: &|w, m, i, t, (c, _)| match m {
                        [p, m1, v] => {
                            // `nadam_step_prepared` on copies, the state as a fourth buffer.
                            let mut copies = [&**p, &**m1, &**v].map(<[f32]>::to_vec);
                            let [cp, cm, cv] = &mut copies;
                            let mut prepared_state = NadamState::default();
                            let prepared = c.prepare(t).and_then(|k| {
                                nadam_step_prepared_with(
                                    w,
                                    cp,
                                    i[0],
                                    cm,
                                    cv,
                                    &mut prepared_state,
                                    &k,
                                )
                            });
                            let mut state = NadamState::default();
                            let result = nadam_step_with(w, p, i[0], m1, v, &mut state, t, c);
                            let copies = [&copies[..], &[vec![prepared_state.mu_product]]].concat();
                            let ours: [&[f32]; 4] = [p, m1, v, &[state.mu_product]];
                            same_as_prepared("nadam", &result, &prepared, &ours, &copies);
                            result
                        }
                        _ => unreachable!(),
                    },
                    valid: &|l, t, (_, r)| eq(l) && reference::accepts_nadam(r, t),
                    reference: &|m, i, t, (_, r)| match m {
                        // The f32 state starts at 1 at every call of the harness.
                        [p, m1, v] => reference::nadam(p, &i[0], m1, v, &mut 1.0, t, r),
                        _ => unreachable!(),
                    },
                    // (1 − Π_t) and (1 − Π_t μ_{t+1}) cancel for μ near 1 (β₁ near 1, small t): keep
                    // β₁ ≤ 0.9 and ε bounded away from 0.
                    tol: 1e-4,
                    conditioned: cfg.beta1 <= 0.9
                        && (cfg.beta1 == 0.0
                            || cfg.beta1 >= 0.01
                            || numerics == Numerics::Portable)
                        && h[3] >= 1e-6,
                },
                4,
            )
        }
        5 => {
            let cfg = RadamConfig {
                lr: h[0],
                beta1: h[1],
                beta2: h[2],
                eps: h[3],
                weight_decay: h[4],
                decoupled_weight_decay: case.flag(0),
                maximize: max,
                grad_scale: gs,
                numerics,
            };
            let r = cfg.to_reference();
            check(
                case,
                &Spec {
                    name: "radam",
                    muts: 3,
                    non_negative: &[2],
                    hyper: (cfg, r),
                    run: &|w, m, i, t, (c, _)| match m {
                        [p, m1, v] => {
                            // `radam_step_prepared` on copies.
                            let mut copies = [&**p, &**m1, &**v].map(<[f32]>::to_vec);
                            let [cp, cm, cv] = &mut copies;
                            let prepared = c
                                .prepare(t)
                                .and_then(|k| radam_step_prepared_with(w, cp, i[0], cm, cv, &k));
                            let result = radam_step_with(w, p, i[0], m1, v, t, c);
                            same_as_prepared("radam", &result, &prepared, &[p, m1, v], &copies);
                            result
                        }
                        _ => unreachable!(),
                    },
                    valid: &|l, t, (_, r)| eq(l) && reference::accepts_radam(r, t),
                    reference: &|m, i, t, (_, r)| match m {
                        [p, m1, v] => reference::radam(p, &i[0], m1, v, t, r),
                        _ => unreachable!(),
                    },
                    tol: 1e-5,
                    conditioned: (cfg.beta1 == 0.0
                        || cfg.beta1 >= 0.01
                        || numerics == Numerics::Portable)
                        && h[3] >= 1e-6,
                },
                4,
            )
        }
        6 => {
            let cfg = AsgdConfig {
                lr: h[0],
                lambd: h[1],
                alpha: h[2],
                t0: h[3],
                weight_decay: h[4],
                maximize: max,
                grad_scale: gs,
                numerics,
            };
            let r = cfg.to_reference();
            check(
                case,
                &Spec {
                    name: "asgd",
                    muts: 2,
                    non_negative: &[],
                    hyper: (cfg, r),
                    run: &|w, m, i, t, (c, _)| match m {
                        [p, ax] => asgd_step_with(
                            w,
                            p,
                            i[0],
                            ax,
                            &mut AsgdState { eta: 0.01, mu: 0.5 },
                            t,
                            c,
                        ),
                        _ => unreachable!(),
                    },
                    valid: &|l, t, (_, r)| eq(l) && reference::accepts_asgd(r, t),
                    reference: &|m, i, t, (_, r)| match m {
                        [p, ax] => {
                            reference::asgd(p, &i[0], ax, &mut 0.009999999776482582, &mut 0.5, t, r)
                        }
                        _ => unreachable!(),
                    },
                    tol: 1e-5,
                    conditioned: true,
                },
                3,
            )
        }
        7 => {
            let cfg = RpropConfig {
                lr: h[0],
                etaminus: h[1],
                etaplus: h[2] + 1.0,
                step_size_min: h[3],
                step_size_max: h[4],
                maximize: max,
                grad_scale: gs,
                numerics,
            };
            let r = cfg.to_reference();
            check(
                case,
                &Spec {
                    name: "rprop",
                    muts: 3,
                    non_negative: &[2],
                    hyper: (cfg, r),
                    run: &|w, m, i, t, (c, _)| match m {
                        [p, prev, ss] => rprop_step_with(w, p, i[0], prev, ss, t, c),
                        _ => unreachable!(),
                    },
                    valid: &|l, t, (_, r)| eq(l) && reference::accepts_rprop(r, t),
                    reference: &|m, i, t, (_, r)| match m {
                        [p, prev, ss] => reference::rprop(p, &i[0], prev, ss, t, r),
                        _ => unreachable!(),
                    },
                    // Sign decisions of f32(g·prev) and the f64 product can differ (the golden
                    // README: Rprop is discontinuous), so only the width equality is checked.
                    tol: 1e-5,
                    conditioned: false,
                },
                4,
            )
        }
        8 => {
            let cfg = AdafactorConfig {
                lr: h[0],
                beta2_decay: -h[1],
                eps1: h[2],
                eps2: h[3],
                d: 1.0 + h[4],
                weight_decay: 0.0,
                maximize: max,
                grad_scale: gs,
                numerics,
            };
            let r = cfg.to_reference();
            check(
                case,
                &Spec {
                    name: "adafactor",
                    muts: 2,
                    non_negative: &[1],
                    hyper: (cfg, r),
                    run: &|w, m, i, t, (c, _)| match m {
                        [p, var] => adafactor_step_with(w, p, i[0], var, t, c),
                        _ => unreachable!(),
                    },
                    valid: &|l, t, (_, r)| eq(l) && reference::accepts_adafactor(r, t),
                    reference: &|m, i, t, (_, r)| match m {
                        [p, var] => reference::adafactor(p, &i[0], var, t, r),
                        _ => unreachable!(),
                    },
                    tol: 1e-4,
                    conditioned: h[2] >= 1e-3,
                },
                3,
            )
        }
        9 => {
            let cfg = LionConfig {
                lr: h[0],
                beta1: h[1],
                beta2: h[2],
                weight_decay: h[3],
                maximize: max,
                grad_scale: gs,
                numerics,
            };
            let r = cfg.to_reference();
            check(
                case,
                &Spec {
                    name: "lion",
                    muts: 2,
                    non_negative: &[],
                    hyper: (cfg, r),
                    run: &|w, m, i, _, (c, _)| match m {
                        [p, m1] => lion_step_with(w, p, i[0], m1, c),
                        _ => unreachable!(),
                    },
                    valid: &|l, _, (_, r)| eq(l) && reference::accepts_lion(r),
                    reference: &|m, i, _, (_, r)| match m {
                        [p, m1] => reference::lion(p, &i[0], m1, r),
                        _ => unreachable!(),
                    },
                    // sign(c) flips where c ≈ 0 in f32 but not in f64: widths only.
                    tol: 1e-5,
                    conditioned: false,
                },
                3,
            )
        }
        10 => {
            let cfg = LambConfig {
                lr: h[0],
                beta1: h[1],
                beta2: h[2],
                eps: h[3],
                weight_decay: h[4],
                maximize: max,
                grad_scale: gs,
                numerics,
            };
            let r = cfg.to_reference();
            check(
                case,
                &Spec {
                    name: "lamb",
                    muts: 3,
                    non_negative: &[2],
                    hyper: (cfg, r),
                    run: &|w, m, i, t, (c, _)| match m {
                        [p, m1, v] => lamb_step_with(w, p, i[0], m1, v, t, c),
                        _ => unreachable!(),
                    },
                    valid: &|l, t, (_, r)| eq(l) && reference::accepts_lamb(r, t),
                    reference: &|m, i, t, (_, r)| match m {
                        [p, m1, v] => reference::lamb(p, &i[0], m1, v, t, r),
                        _ => unreachable!(),
                    },
                    tol: 1e-4,
                    conditioned: h[3] >= 1e-4,
                },
                4,
            )
        }
        12 => {
            let form = if case.flag(0) { SwaForm::Lerp } else { SwaForm::Divide };
            let cfg = SwaConfig { form, numerics };
            let r = cfg.to_reference();
            check(
                case,
                &Spec {
                    name: "swa",
                    muts: 1,
                    non_negative: &[],
                    hyper: (cfg, r),
                    // The step number is the count already averaged (0 copies).
                    run: &|w, m, i, t, (c, _)| swa_update_with(w, m[0], i[0], u64::from(t), c),
                    valid: &|l, _, _| eq(l),
                    reference: &|m, i, t, _| reference::swa(&mut m[0], &i[0], u64::from(t)),
                    tol: 1e-6,
                    conditioned: true,
                },
                2,
            )
        }
        13 => {
            let cfg = EmaConfig {
                decay: h[0],
                min_decay: h[1],
                update_after_step: u32::from(case.flags & 3),
                warmup: case.flag(2),
                warmup_gamma: h[2],
                warmup_power: h[3],
                form: if case.flag(3) { EmaForm::Products } else { EmaForm::Lerp },
                numerics,
            };
            let r = cfg.to_reference();
            check(
                case,
                &Spec {
                    name: "ema",
                    muts: 1,
                    non_negative: &[],
                    hyper: (cfg, r),
                    run: &|w, m, i, t, (c, _)| ema_update_with(w, m[0], i[0], t, c),
                    valid: &|l, t, (_, r)| eq(l) && reference::accepts_ema(r, t),
                    reference: &|m, i, t, (_, r)| reference::ema(&mut m[0], &i[0], t, r),
                    tol: 1e-6,
                    conditioned: true,
                },
                2,
            )
        }
        _ => {
            let cfg = LarsConfig {
                lr: h[0],
                momentum: h[1],
                weight_decay: h[2],
                trust_coefficient: h[3],
                eps: h[4],
                maximize: max,
                grad_scale: gs,
                numerics,
            };
            let r = cfg.to_reference();
            check(
                case,
                &Spec {
                    name: "lars",
                    muts: 2,
                    non_negative: &[],
                    hyper: (cfg, r),
                    run: &|w, m, i, _, (c, _)| match m {
                        [p, v] => lars_step_with(w, p, i[0], v, c),
                        _ => unreachable!(),
                    },
                    valid: &|l, _, (_, r)| eq(l) && reference::accepts_lars(r),
                    reference: &|m, i, _, (_, r)| match m {
                        [p, v] => reference::lars(p, &i[0], v, r),
                        _ => unreachable!(),
                    },
                    tol: 1e-5,
                    conditioned: true,
                },
                3,
            )
        }
    }
}

/// SparseAdam on a small `rows × cols` matrix with a row-sparse gradient drawn from the case:
/// `Ok` exactly when the lengths, indices and hyperparameters are valid; nothing written on
/// `Err` (scratch included); on `Ok` the same bits at every width and at every offset of the
/// buffers, canaries intact, and (moderate data, ε ≥ 1e-6, β₂ ≥ ½) within 1e-5 of the reference.
pub fn check_sparse_adam(case: &Case) -> Outcome {
    use optkern::{SparseAdamConfig, sparse_adam_step_with};
    let h: Vec<f64> = case.hyper.iter().map(|x| x.get()).collect();
    let byte = |k: usize| case.len_delta[k] as u8 as usize;
    let (rows, cols, nnz) = (1 + byte(0) % 17, 1 + byte(1) % 9, byte(2) % 12);
    let word = |i: usize| case.data.get(i % case.data.len().max(1)).copied().unwrap_or(0);
    let value = |i: usize, non_negative: bool| {
        let bits = word(i);
        if case.moderate { moderate(bits, non_negative) } else { f32::from_bits(bits) }
    };
    // Mostly valid row indices; with flag 0 one may be `rows` (past the end).
    let indices: Vec<usize> =
        (0..nnz).map(|j| word(j) as usize % (rows + usize::from(case.flag(0)))).collect();
    let n = rows * cols;
    let short = |k: usize| usize::from(byte(k) % 8 == 1);
    let lens = [n, n, n - short(3), nnz * cols - short(4).min(nnz * cols), nnz - short(5).min(nnz)];
    let p0: Vec<f32> = (0..lens[0]).map(|i| value(i + 7, false)).collect();
    let m0: Vec<f32> = (0..lens[1]).map(|i| value(i + 11, false)).collect();
    let v0: Vec<f32> = (0..lens[2]).map(|i| value(i + 13, true)).collect();
    let values: Vec<f32> = (0..lens[3]).map(|i| value(i + 17, false)).collect();
    let cfg = SparseAdamConfig {
        lr: h[0],
        beta1: h[1],
        beta2: h[2],
        eps: h[3],
        maximize: case.flag(1),
        grad_scale: h[5] as f32,
    };
    let r = cfg.to_reference();
    let step = u32::from(case.step);
    let off = usize::from(case.offset % 16);
    let call = |width: Width| {
        let mut b: Vec<Guarded> = [&p0, &m0, &v0].iter().map(|v| Guarded::new(v, off)).collect();
        let mut scratch = vec![usize::MAX; lens[4]];
        let [p, m, v] = &mut b[..] else { unreachable!() };
        let result = sparse_adam_step_with(
            width,
            p.slice_mut(),
            m.slice_mut(),
            v.slice_mut(),
            rows,
            cols,
            &indices,
            &values,
            &mut scratch,
            step,
            &cfg,
        );
        (result, b, scratch)
    };
    let first = Width::ALL[usize::from(case.width) % Width::ALL.len()];
    let (result, after, scratch) = call(first);
    for (k, g) in after.iter().enumerate() {
        assert!(g.canaries_intact(), "sparse_adam: buffer {k} written outside its slice");
    }
    let valid = lens[2] == n
        && lens[3] == nnz * cols
        && lens[4] == nnz
        && indices.iter().all(|&i| i < rows)
        && reference::accepts_sparse_adam(&r, step);
    assert_eq!(result.is_ok(), valid, "sparse_adam: got {result:?}, expected valid = {valid}");
    if result.is_err() {
        for (k, (a, b)) in after.iter().zip([&p0, &m0, &v0]).enumerate() {
            assert_eq!(
                a.slice().iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                bits(b),
                "sparse_adam: buffer {k} changed on Err"
            );
        }
        assert!(scratch.iter().all(|&s| s == usize::MAX), "sparse_adam: scratch changed on Err");
        return Outcome::default();
    }
    for width in Width::ALL {
        let (r, other, _) = call(width);
        assert!(r.is_ok());
        for (k, (a, b)) in other.iter().zip(&after).enumerate() {
            for (i, (x, y)) in a.slice().iter().zip(b.slice()).enumerate() {
                assert!(
                    x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
                    "sparse_adam: {width:?} vs {first:?} differ in buffer {k}[{i}]"
                );
            }
        }
    }
    // torch's second moment is `v + (g² − v)·c(1 − β₂)`: for β₂ < ½ and v ≫ g² the sum
    // cancels (f32 keeps ~ulp(v) where f64 has β₂v + g², found by the fuzzer), an error √v
    // amplifies. torch has it too; compare only where the form is well-conditioned.
    let compare = case.comparable() && cfg.eps >= 1e-6 && cfg.beta2 >= 0.5;
    if compare {
        let widen = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<f64>>();
        let (mut p, mut m, mut v) = (widen(&p0), widen(&m0), widen(&v0));
        reference::sparse_adam(&mut p, &mut m, &mut v, cols, &indices, &widen(&values), step, &r);
        let scale = [&p, &m, &v, &widen(&values)]
            .iter()
            .flat_map(|b| b.iter())
            .filter(|x| x.is_finite())
            .fold(1e-30f64, |a, x| a.max(x.abs()));
        for (k, (got, want)) in after.iter().zip([&p, &m, &v]).enumerate() {
            for (i, (a, e)) in got.slice().iter().zip(want.iter()).enumerate() {
                let a = f64::from(*a);
                if e.is_nan() || a.is_nan() {
                    assert!(e.is_nan() && a.is_nan(), "sparse_adam: NaN-ness differs at {k}[{i}]");
                } else if e.abs() < 1e30 {
                    let err = (a - e).abs() / scale;
                    assert!(
                        err <= 1e-5,
                        "sparse_adam: buffer {k}[{i}] {a:e} vs {e:e} (rel {err:e})"
                    );
                }
            }
        }
    }
    Outcome { ok: true, compared: compare }
}

/// Muon on a small matrix: invalid lengths (a short scratch included) or hyperparameters are
/// refused with nothing written; every width gives the same bits; for moderate data in f32
/// Newton–Schulz, the parameters are within 1e-3 of the update's size of the f64 iteration
/// and the momentum buffer within the element-wise tolerance.
pub fn check_muon(case: &Case) -> Outcome {
    use optkern::{AdjustLr, MuonConfig, NsPrecision, muon_scratch_len, muon_step_with};
    let h: Vec<f64> = case.hyper.iter().map(|x| x.get()).collect();
    let byte = |k: usize| case.len_delta[k] as u8 as usize;
    let (rows, cols) = (1 + byte(0) % 9, 1 + byte(1) % 9);
    let n = rows * cols;
    let short = |k: usize| usize::from(byte(k) % 8 == 1);
    let need = muon_scratch_len(rows, cols);
    let lens = [n, n - short(2), n - short(3), need - short(4)];
    let word = |i: usize| case.data.get(i % case.data.len().max(1)).copied().unwrap_or(0);
    let value = |i: usize| {
        let bits = word(i);
        if case.moderate { moderate(bits, false) } else { f32::from_bits(bits) }
    };
    let p0: Vec<f32> = (0..lens[0]).map(|i| value(i + 3)).collect();
    let g0: Vec<f32> = (0..lens[1]).map(|i| value(i + 5)).collect();
    let b0: Vec<f32> = (0..lens[2]).map(|i| value(i + 9)).collect();
    let cfg = MuonConfig {
        lr: h[0],
        weight_decay: h[1],
        momentum: h[2],
        eps: h[3],
        ns_steps: (byte(5) % 7) as u32,
        nesterov: case.flag(0),
        precision: if case.flag(1) && case.flag(2) { NsPrecision::Bf16 } else { NsPrecision::F32 },
        adjust_lr: [AdjustLr::Original, AdjustLr::MatchRmsAdamw, AdjustLr::SpectralUnclamped]
            [usize::from(case.step) % 3],
        grad_scale: h[5] as f32,
        ..Default::default()
    };
    let reference = to_reference::muon_reference(&cfg, rows, cols);
    let off = usize::from(case.offset % 16);
    let call = |width: Width| {
        let mut b: Vec<Guarded> = [&p0, &b0].iter().map(|v| Guarded::new(v, off)).collect();
        let mut scratch = vec![0.0f32; lens[3]];
        let [p, m] = &mut b[..] else { unreachable!() };
        let result = muon_step_with(
            width,
            p.slice_mut(),
            &g0,
            m.slice_mut(),
            rows,
            cols,
            &mut scratch,
            &cfg,
        );
        (result, b)
    };
    let first = Width::ALL[usize::from(case.width) % Width::ALL.len()];
    let (result, after) = call(first);
    for (k, g) in after.iter().enumerate() {
        assert!(g.canaries_intact(), "muon: buffer {k} written outside its slice");
    }
    let valid =
        lens[1] == n && lens[2] == n && lens[3] == need && reference::accepts_muon(&reference);
    assert_eq!(result.is_ok(), valid, "muon: got {result:?}, expected valid = {valid}");
    if result.is_err() {
        for (k, (a, b)) in after.iter().zip([&p0, &b0]).enumerate() {
            assert_eq!(bits(a.slice()), bits(b), "muon: buffer {k} changed on Err");
        }
        return Outcome::default();
    }
    for width in Width::ALL {
        let (r, other) = call(width);
        assert!(r.is_ok());
        for (k, (a, b)) in other.iter().zip(&after).enumerate() {
            for (i, (x, y)) in a.slice().iter().zip(b.slice()).enumerate() {
                assert!(
                    x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
                    "muon: {width:?} vs {first:?} differ in buffer {k}[{i}]"
                );
            }
        }
    }
    // bf16 Newton–Schulz is compared with the f64 iteration by the golden cases only (its
    // rounding is the point); f32 is compared here.
    let widen = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<f64>>();
    let (mut p, mut m) = (widen(&p0), widen(&b0));
    reference::muon(&mut p, &widen(&g0), &mut m, rows, cols, &reference);
    let size = |v: &[f64]| v.iter().fold(1e-30f64, |a, x| a.max(x.abs()));
    // The update is U/‖U‖ orthogonalised: scale-invariant, so where ‖U‖ is at the rounding
    // level of the lerps that made it (μ near 0 and a zero gradient: f32 rounds 1 − μ to 1 and
    // B to exactly 0, f64 keeps μ·B), the f32 and f64 directions are unrelated — found by the
    // fuzzer. Compare where ‖U‖ is well above that level, or ε (the floor of the divisor)
    // is.
    let s = f64::from(cfg.grad_scale);
    let u_norm = m
        .iter()
        .zip(&g0)
        .map(|(b, g)| {
            let u = if cfg.nesterov {
                s * f64::from(*g) + (b - s * f64::from(*g)) * cfg.momentum
            } else {
                *b
            };
            u * u
        })
        .sum::<f64>()
        .sqrt();
    let noise = 1e-4 * size(&widen(&b0)).max(size(&widen(&g0)) * s.abs());
    let compare = case.comparable()
        && cfg.precision == NsPrecision::F32
        && (u_norm >= noise || cfg.eps >= 100.0 * noise);
    if compare {
        let step = cfg.lr * reference.lr_ratio;
        let scale = size(&p).max(size(&widen(&p0))) * cfg.lr * cfg.weight_decay + step;
        for (i, (a, e)) in after[0].slice().iter().zip(&p).enumerate() {
            let err = (f64::from(*a) - e).abs();
            assert!(err <= 1e-3 * scale + 1e-6 * e.abs(), "muon: params[{i}] {a:e} vs {e:e}");
        }
        let scale =
            size(&m).max(size(&widen(&b0))).max(size(&widen(&g0)) * f64::from(cfg.grad_scale));
        for (i, (a, e)) in after[1].slice().iter().zip(&m).enumerate() {
            let err = (f64::from(*a) - e).abs();
            assert!(err <= 1e-5 * scale, "muon: momentum[{i}] {a:e} vs {e:e}");
        }
    }
    Outcome { ok: true, compared: compare }
}

/// L-BFGS on a small diagonal quadratic from arbitrary options: invalid options (or a short
/// work buffer) are refused with nothing written; valid ones run three `step()` calls in f64
/// that evaluate exactly the points the reference's closure form evaluates, with the same
/// bits, each call ending within `max_eval + 25` evaluations; the f32 run ends as well.
pub fn check_lbfgs(case: &Case) -> Outcome {
    use optkern::{LbfgsConfig, LbfgsRequest, LbfgsState, LineSearch, lbfgs_step, lbfgs_work_len};
    let h: Vec<f64> = case.hyper.iter().map(|x| x.get()).collect();
    let byte = |k: usize| case.len_delta[k] as u8 as usize;
    let n = 1 + byte(0) % 8;
    let word = |i: usize| case.data.get(i % case.data.len().max(1)).copied().unwrap_or(0);
    let a: Vec<f64> = (0..n).map(|i| 0.1 + f64::from(moderate(word(i), true))).collect();
    let b: Vec<f64> = (0..n).map(|i| f64::from(moderate(word(i + 11), false))).collect();
    let x0: Vec<f64> = (0..n).map(|i| f64::from(moderate(word(i + 23), false))).collect();
    let cfg = LbfgsConfig {
        lr: h[0],
        tolerance_grad: h[1].abs().min(1.0) * if case.flag(2) { 1.0 } else { -1.0 },
        tolerance_change: h[2].abs().min(1.0),
        max_iter: (byte(1) % 9) as u32,
        max_eval: (byte(2) % 12) as u32,
        history_size: (byte(3) % 6) as u32,
        line_search: if case.flag(0) { LineSearch::StrongWolfe } else { LineSearch::Fixed },
        maximize: false,
    };
    let short = usize::from(byte(4) % 8 == 1);
    let eval = |x: &[f64], g: &mut [f64]| -> f64 {
        let mut f = 0.0;
        for i in 0..x.len() {
            g[i] = a[i] * (x[i] - b[i]);
            f += g[i] * (x[i] - b[i]) / 2.0;
        }
        f
    };
    let valid = cfg.lr.is_finite()
        && cfg.lr >= 0.0
        && cfg.tolerance_grad >= 0.0
        && cfg.tolerance_change.is_finite()
        && cfg.max_iter >= 1
        && cfg.history_size >= 1
        && cfg.max_evals() >= 1
        && short == 0;
    let mut x = x0.clone();
    let mut g = vec![0.0; n];
    let mut work = vec![0.0f64; lbfgs_work_len(n, &cfg) - short.min(lbfgs_work_len(n, &cfg))];
    let mut state = LbfgsState::default();
    let loss = eval(&x, &mut g);
    let first = lbfgs_step(&mut x, loss, &g, &mut work, &mut state, &cfg);
    assert_eq!(first.is_ok(), valid, "lbfgs: got {first:?}, expected valid = {valid}");
    if first.is_err() {
        assert_eq!(x, x0, "lbfgs: params changed on Err");
        assert_eq!(state, LbfgsState::default(), "lbfgs: state changed on Err");
        return Outcome::default();
    }
    let r = cfg.to_reference();
    let limit = cfg.max_evals() as usize + 25;
    // Restart both from x0 and compare call by call.
    let (mut x, mut xr) = (x0.clone(), x0.clone());
    let mut state = LbfgsState::default();
    let mut run = reference::LbfgsRun::default();
    for call in 1..=3 {
        let mut points = Vec::new();
        loop {
            let loss = eval(&x, &mut g);
            points.push(x.clone());
            let answer = lbfgs_step(&mut x, loss, &g, &mut work, &mut state, &cfg).unwrap();
            assert!(points.len() <= limit, "lbfgs: call {call} does not end");
            if answer == LbfgsRequest::Done {
                break;
            }
        }
        let mut seen = Vec::new();
        let mut closure = |p: &[f64], g: &mut [f64]| {
            seen.push(p.to_vec());
            eval(p, g)
        };
        reference::lbfgs(&mut xr, &mut closure, &mut run, &r);
        let same = |u: &[Vec<f64>], v: &[Vec<f64>]| {
            u.len() == v.len()
                && u.iter().zip(v).all(|(p, q)| {
                    p.iter()
                        .zip(q)
                        .all(|(s, t)| s.to_bits() == t.to_bits() || (s.is_nan() && t.is_nan()))
                })
        };
        assert!(
            same(&points, &seen),
            "lbfgs: call {call} evaluates other points than the reference"
        );
        assert!(same(&[x.clone()], &[xr.clone()]), "lbfgs: call {call} params differ");
    }
    // The f32 run ends too.
    let mut x32: Vec<f32> = x0.iter().map(|&v| v as f32).collect();
    let mut g32 = vec![0.0f32; n];
    let mut work32 = vec![0.0f32; lbfgs_work_len(n, &cfg)];
    let mut state = LbfgsState::default();
    let mut count = 0;
    loop {
        let wide: Vec<f64> = x32.iter().map(|&v| f64::from(v)).collect();
        let mut g64 = vec![0.0; n];
        let loss = eval(&wide, &mut g64);
        g32.iter_mut().zip(&g64).for_each(|(s, d)| *s = *d as f32);
        count += 1;
        assert!(count <= limit, "lbfgs: the f32 call does not end");
        if lbfgs_step(&mut x32, loss, &g32, &mut work32, &mut state, &cfg).unwrap()
            == LbfgsRequest::Done
        {
            break;
        }
    }
    Outcome { ok: true, compared: true }
}

/// Bits of a slice.
fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn seed_of(case: &Case) -> u64 {
    case.data.iter().take(2).fold(0u64, |a, &w| (a << 32) | u64::from(w))
}

/// The random fills: `Ok` exactly for valid parameters; on `Ok`, every value in range, the
/// same bits at every width, and a fill split at any point (and started at any global offset)
/// equal to the whole.
pub fn check_init(case: &Case) -> Outcome {
    use optkern::{RandomStream, Width};
    let n = case.data.len().min(300);
    let offset = usize::from(case.offset) * 997;
    let stream = RandomStream::from_seed(seed_of(case));
    let cut = usize::from(case.width) % (n + 1);
    let (a, b) = (case.hyper[0].get(), case.hyper[1].get());
    let mut whole = vec![0.0f32; n];
    let ok = match case.flags % 3 {
        0 => {
            let valid = a.is_finite()
                && b.is_finite()
                && a <= b
                && ((b - a) as f32).is_finite()
                && (a as f32).is_finite();
            let r = optkern::uniform_at(&mut whole, offset, a, b, &stream);
            assert_eq!(r.is_ok(), valid, "uniform({a}, {b}): {r:?}");
            if valid {
                let (lo, hi) = (a as f32, (a as f32) + ((b - a) as f32));
                assert!(
                    whole.iter().all(|&x| x >= lo.min(hi) - 1e-6 * lo.abs().max(hi.abs())
                        && x <= hi.max(lo) + 1e-6 * lo.abs().max(hi.abs())),
                    "uniform out of [{a}, {b}]"
                );
                let mut parts = vec![0.0f32; n];
                optkern::uniform_at(&mut parts[..cut], offset, a, b, &stream).unwrap();
                optkern::uniform_at(&mut parts[cut..], offset + cut, a, b, &stream).unwrap();
                assert_eq!(bits(&parts), bits(&whole), "uniform shards");
            }
            valid
        }
        1 => {
            let valid = a.is_finite()
                && b.is_finite()
                && b >= 0.0
                && (a as f32).is_finite()
                && (b as f32).is_finite();
            let r = optkern::normal_at(&mut whole, offset, a, b, &stream);
            assert_eq!(r.is_ok(), valid, "normal({a}, {b}): {r:?}");
            if valid {
                for w in Width::ALL {
                    let mut other = vec![0.0f32; n];
                    optkern::normal_at_with(w, &mut other, offset, a, b, &stream).unwrap();
                    assert_eq!(bits(&other), bits(&whole), "normal at {w:?}");
                }
                let mut parts = vec![0.0f32; n];
                optkern::normal_at(&mut parts[..cut], offset, a, b, &stream).unwrap();
                optkern::normal_at(&mut parts[cut..], offset + cut, a, b, &stream).unwrap();
                assert_eq!(bits(&parts), bits(&whole), "normal shards");
            }
            valid
        }
        _ => {
            let (lo, hi) = (case.hyper[2].get(), case.hyper[3].get());
            let valid = a.is_finite()
                && b.is_finite()
                && b > 0.0
                && lo.is_finite()
                && hi.is_finite()
                && lo < hi;
            let r = optkern::trunc_normal_at(&mut whole, offset, a, b, lo, hi, &stream);
            assert_eq!(r.is_ok(), valid, "trunc_normal({a}, {b}, {lo}, {hi}): {r:?}");
            if valid {
                assert!(
                    whole.iter().all(|&x| x >= lo as f32 && x <= hi as f32),
                    "trunc normal out of [{lo}, {hi}]"
                );
            }
            valid
        }
    };
    if !ok {
        assert!(whole.iter().all(|&x| x == 0.0), "written on Err");
    }
    check_delta_orthogonal(case);
    Outcome { ok, compared: false }
}

/// `delta_orthogonal` on a small kernel shape drawn from the case: `Ok` exactly for a 3-D to
/// 5-D shape with `in ≤ out` and a finite scale; nothing written on `Err`; zeros outside the
/// centre on `Ok`. Also `jax_fans` on the same shape: `Ok` exactly for two distinct axes in
/// range, and then `fan_in·shape[out] = fan_out·shape[in]`.
fn check_delta_orthogonal(case: &Case) {
    use rand_core::SeedableRng;
    let rank = 2 + usize::from(case.offset % 5);
    let shape: Vec<usize> =
        (0..rank).map(|k| 1 + (case.len_delta[k % 6] as u8 as usize + k) % 6).collect();
    let scale = case.hyper[4].get();
    let n: usize = shape.iter().product();
    let mut w = vec![7.0f32; n];
    let mut scratch = vec![0.0f64; optkern::delta_orthogonal_scratch_len(&shape).max(1)];
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed_of(case));
    let (cin, cout) = (shape[rank - 2], shape[rank - 1]);
    let valid = (3..=5).contains(&rank) && cin <= cout && scale.is_finite();
    let r = optkern::delta_orthogonal(&mut w, &shape, scale, &mut scratch, &mut rng);
    assert_eq!(r.is_ok(), valid, "delta_orthogonal {shape:?} scale {scale}: {r:?}");
    if valid {
        let centre = shape[..rank - 2].iter().fold(0, |acc, &k| acc * k + (k - 1) / 2);
        let at = centre * cin * cout;
        assert!(
            w.iter().enumerate().all(|(i, &x)| (at..at + cin * cout).contains(&i) || x == 0.0),
            "delta_orthogonal {shape:?}: nonzero outside the centre"
        );
    } else {
        assert!(w.iter().all(|&x| x == 7.0), "delta_orthogonal {shape:?}: written on Err");
    }
    let (ia, oa) = (isize::from(case.width % 7) - 3, isize::from(case.step % 7) - 3);
    let norm = |a: isize| if a < 0 { a + rank as isize } else { a };
    let axes_ok = (0..rank as isize).contains(&norm(ia))
        && (0..rank as isize).contains(&norm(oa))
        && norm(ia) != norm(oa);
    match optkern::jax_fans(&shape, ia, oa) {
        Ok((fi, fo)) => {
            assert!(axes_ok, "jax_fans accepted axes {ia}, {oa} of {shape:?}");
            let (si, so) = (shape[norm(ia) as usize] as f64, shape[norm(oa) as usize] as f64);
            assert_eq!(fi * so, fo * si, "jax_fans {shape:?} {ia} {oa}");
        }
        Err(_) => assert!(!axes_ok, "jax_fans rejected axes {ia}, {oa} of {shape:?}"),
    }
}

/// Gradient utilities: norms are `Ok` exactly for valid norm types, independent of how the
/// data is split into slices, and equal a naive f64 sum within 1e-12 (finite data); clipping
/// coefficients are in `[0, 1]` (or NaN with NaN data); clip-by-value stays within bounds; the
/// non-finite check agrees with a scan.
pub fn check_grad(case: &Case) -> Outcome {
    use optkern::NormType;
    let xs = values(case, 600);
    let n = xs.len();
    let cut1 = usize::from(case.width) % (n + 1);
    let cut2 = cut1 + usize::from(case.offset) % (n - cut1 + 1);
    let p = case.hyper[0].get();
    let norm = match case.flags % 4 {
        0 => NormType::L2,
        1 => NormType::L1,
        2 => NormType::Inf,
        _ => NormType::P(p),
    };
    let valid = match norm {
        NormType::P(p) => p.is_finite() && p > 0.0,
        _ => true,
    };
    let whole = optkern::grad_norm_f64(&[&xs], norm);
    assert_eq!(whole.is_ok(), valid, "{norm:?}: {whole:?}");
    let Ok(whole) = whole else { return Outcome::default() };
    let split = optkern::grad_norm_f64(&[&xs[..cut1], &xs[cut1..cut2], &xs[cut2..]], norm).unwrap();
    assert!(
        split.to_bits() == whole.to_bits() || (split.is_nan() && whole.is_nan()),
        "{norm:?} split {split} vs {whole}"
    );
    let finite = xs.iter().all(|x| x.is_finite());
    assert_eq!(optkern::all_finite(&[&xs[..cut1], &xs[cut1..]]), finite);
    if finite && matches!(norm, NormType::L1 | NormType::L2 | NormType::Inf) {
        let abs = xs.iter().map(|&x| f64::from(x).abs());
        let naive = match norm {
            NormType::L1 => abs.sum::<f64>(),
            NormType::L2 => abs.map(|x| x * x).sum::<f64>().sqrt(),
            _ => abs.fold(0.0, f64::max),
        };
        assert!((whole - naive).abs() <= 1e-12 * naive, "{norm:?} {whole} vs naive {naive}");
    }
    let max_norm = case.hyper[1].get();
    let clip = optkern::clip_coef(&[&xs], max_norm, norm);
    assert_eq!(
        clip.is_ok(),
        max_norm.is_finite() && max_norm >= 0.0,
        "clip_coef({max_norm}): {clip:?}"
    );
    if let Ok(c) = clip {
        assert!(
            c.coef.is_nan() || (0.0..=1.0).contains(&c.coef) || c.total_norm.is_nan(),
            "coef {}",
            c.coef
        );
        let mut g = xs.clone();
        let c2 = optkern::clip_grad_norm(&mut [&mut g], max_norm, norm).unwrap();
        assert_eq!(
            (c.total_norm.to_bits(), c.coef.to_bits()),
            (c2.total_norm.to_bits(), c2.coef.to_bits())
        );
        for (a, b) in g.iter().zip(&xs) {
            assert!((a.to_bits() == (b * c.coef).to_bits()) || a.is_nan(), "clipped value");
        }
    }
    let v = case.hyper[2].get();
    let mut g = xs.clone();
    let r = optkern::clip_grad_value(&mut [&mut g], v);
    assert_eq!(r.is_ok(), v.is_finite() && v >= 0.0);
    if r.is_ok() {
        let v = v as f32;
        assert!(
            g.iter().zip(&xs).all(|(a, b)| (b.is_nan() && a.is_nan()) || (a.abs() <= v)),
            "clip_grad_value bound"
        );
    } else {
        assert_eq!(bits(&g), bits(&xs), "clip_grad_value wrote on Err");
    }
    Outcome { ok: true, compared: finite }
}

/// The quantized storage formats (`q8` with every map and quantizer, `q4` with both maps,
/// `fp8`): the conversions return `Ok` exactly for the documented lengths and write nothing
/// otherwise; on `Ok`, a block with a non-finite value reads back as NaN throughout, and every
/// other value reads back within half the map's widest gap (times the block's scale) of itself
/// clamped to the map's range (fp8: within 2⁻⁴ of itself plus half a subnormal quantum). Then
/// one Adam step with that state format (bf16 gradients, an offset that may cut a block):
/// `Ok` exactly when the offset is block-aligned and the lengths right, nothing written on
/// `Err`, and every lane width the same bits.
pub fn check_formats(case: &Case) -> Outcome {
    use optkern::format::{
        self, FP8_BLOCK, Grads, Params, Placement, Q4_BLOCK, Q4Map, Q8_BLOCK, Q8Map, Quantizer,
        State,
    };
    let xs = values(case, 700);
    let n = xs.len();
    #[derive(Clone, Copy, Debug)]
    enum Q {
        Q8(Q8Map, Quantizer),
        Q4(Q4Map),
        Fp8,
    }
    let signed = case.flag(0);
    let q = match case.flags % 3 {
        0 => Q::Q8(
            if signed { Q8Map::Signed } else { Q8Map::Unsigned },
            [Quantizer::Nearest, Quantizer::BnbCpu, Quantizer::Torchao][usize::from(case.step % 3)],
        ),
        1 => Q::Q4(if signed { Q4Map::Signed } else { Q4Map::Unsigned }),
        _ => Q::Fp8,
    };
    let (block, bytes) = match q {
        Q::Q8(..) => (Q8_BLOCK, n),
        Q::Q4(_) => (Q4_BLOCK, n.div_ceil(2)),
        Q::Fp8 => (FP8_BLOCK, n),
    };
    let delta = |k: usize| {
        let d = case.len_delta[k];
        if d % 8 == 0 { 0 } else { isize::from(d) }
    };
    let bytes_given = bytes.saturating_add_signed(delta(0));
    let scales_given = n.div_ceil(block).saturating_add_signed(delta(1));
    let valid = bytes_given == bytes && scales_given == n.div_ceil(block);
    let (mut codes, mut scale) = (vec![0x5Au8; bytes_given], vec![-7.0f32; scales_given]);
    let quantize = |x: &[f32], c: &mut [u8], s: &mut [f32]| match q {
        Q::Q8(m, qz) => format::q8_quantize(x, c, s, m, qz),
        Q::Q4(m) => format::q4_quantize(x, c, s, m),
        Q::Fp8 => format::fp8_quantize(x, c, s),
    };
    let r = quantize(&xs, &mut codes, &mut scale);
    assert_eq!(r.is_ok(), valid, "{q:?} n {n}: {r:?}");
    if r.is_err() {
        assert!(codes.iter().all(|&c| c == 0x5A) && scale.iter().all(|&s| s == -7.0));
        return Outcome::default();
    }
    let mut out = vec![0f32; n];
    match q {
        Q::Q8(m, _) => format::q8_dequantize(&codes, &scale, m, &mut out),
        Q::Q4(m) => format::q4_dequantize(&codes, &scale, m, &mut out),
        Q::Fp8 => format::fp8_dequantize(&codes, &scale, &mut out),
    }
    .unwrap();
    let map: Vec<f32> = match q {
        Q::Q8(m, _) => format::q8_map_values(m).to_vec(),
        Q::Q4(m) => format::q4_map_values(m).to_vec(),
        Q::Fp8 => vec![-448.0, 448.0],
    };
    let (lo, hi) = (map[0], map[map.len() - 1]);
    let gap = map.windows(2).map(|w| w[1] - w[0]).fold(0.0f32, f32::max);
    for ((xb, ob), &s) in xs.chunks(block).zip(out.chunks(block)).zip(&scale) {
        if xb.iter().any(|x| !x.is_finite()) {
            assert!(s.is_nan() && ob.iter().all(|o| o.is_nan()), "{q:?}: a non-finite block");
            continue;
        }
        let s = f64::from(s);
        for (&x, &o) in xb.iter().zip(ob) {
            let (x, o) = (f64::from(x), f64::from(o));
            let (err, bound) = match q {
                Q::Fp8 => ((o - x).abs(), x.abs() / 16.0 + s * 2f64.powi(-10)),
                _ => {
                    let t = x.clamp(f64::from(lo) * s, f64::from(hi) * s);
                    // bitsandbytes' grid adds up to one grid step (2/65535) to the nearest rule.
                    ((o - t).abs(), (0.5 * f64::from(gap) + 2.0 / 65535.0) * s)
                }
            };
            // The read-back value is an f32 product, rounded once: relatively (inside the 1e-5)
            // or, below 2⁻¹²⁶, by up to half a subnormal step, 2⁻¹⁵⁰ (a fuzzed q8 block of
            // subnormals, regressions/formats/).
            let bound = bound * (1.0 + 1e-5) + 2f64.powi(-150);
            assert!(err <= bound, "{q:?}: x {x:e} read back {o:e}, scale {s:e}");
        }
    }
    // One Adam step with the state in this format.
    let n = n.min(600);
    let offset = u64::from(case.offset) * 64;
    let aligned = offset.is_multiple_of(block as u64);
    let p0: Vec<f32> = xs[..n].iter().map(|x| if x.is_finite() { *x } else { 0.5 }).collect();
    let g: Vec<format::bf16> = xs[..n].iter().rev().map(|&x| format::bf16::from_f32(x)).collect();
    let v0: Vec<f32> = vec![0.0; n];
    let cfg = AdamConfig { numerics: case.numerics(), ..AdamConfig::adamw() };
    let state_bytes = if matches!(q, Q::Q4(_)) { n.div_ceil(2) } else { n };
    let state0 = (vec![0u8; state_bytes], vec![0f32; n.div_ceil(block)]);
    let run = |width: Width| {
        let (mut p, mut v, (mut c, mut s)) = (p0.clone(), v0.clone(), state0.clone());
        let state = match q {
            Q::Q8(m, qz) => State::Q8 { codes: &mut c, absmax: &mut s, map: m, quantizer: qz },
            Q::Q4(m) => State::Q4 { codes: &mut c, scale: &mut s, map: m },
            Q::Fp8 => State::Fp8 { codes: &mut c, scale: &mut s },
        };
        let at = Placement { offset, seed: 3, counter: 1 };
        // Adam (element-wise) or LAMB (layer-wise: two staged passes) by the case's flag.
        let (p_, g_, v_) = (Params::F32(&mut p), Grads::Bf16(&g), State::F32(&mut v));
        let r = if case.flag(6) {
            let cfg = optkern::LambConfig { numerics: case.numerics(), ..Default::default() };
            optkern::lamb_step_mixed_with(width, p_, g_, state, v_, 1, &cfg, &at)
        } else {
            optkern::adam_step_mixed_with(width, p_, g_, state, v_, State::Unused, 1, &cfg, &at)
        };
        (r, bits(&p), bits(&v), c, bits(&s))
    };
    let first = run(Width::ALL[usize::from(case.width) % Width::ALL.len()]);
    assert_eq!(first.0.is_ok(), aligned, "{q:?} offset {offset}: {:?}", first.0);
    if first.0.is_err() {
        assert_eq!((&first.1, &first.2, &first.3), (&bits(&p0), &bits(&v0), &state0.0));
        return Outcome { ok: true, compared: false };
    }
    for w in Width::ALL {
        let other = run(w);
        assert!(other.0.is_ok());
        let same = |a: &[u32], b: &[u32]| {
            a.iter().zip(b).all(|(x, y)| {
                x == y || (f32::from_bits(*x).is_nan() && f32::from_bits(*y).is_nan())
            })
        };
        assert!(same(&first.1, &other.1) && same(&first.2, &other.2), "{q:?} {w:?}: params/v");
        assert!(first.3 == other.3 && same(&first.4, &other.4), "{q:?} {w:?}: the state");
    }
    Outcome { ok: true, compared: true }
}

/// Cross-entropy: `Ok` exactly for valid arguments, nothing written on `Err`; on `Ok` with
/// moderate logits, every per-row loss within 1e-5 (relative, plus 1e-5 absolute) of the f64
/// definition.
pub fn check_cross_entropy(case: &Case) -> Outcome {
    let classes = 1 + usize::from(case.flags % 7);
    let batch = case.data.len().min(60) / (classes + 1);
    let logits: Vec<f32> = case
        .data
        .iter()
        .take(batch * classes)
        .map(|&w| if case.moderate { moderate(w, false) * 10.0 } else { f32::from_bits(w) })
        .collect();
    let ignore_index = if case.flag(3) { -1 } else { -100 };
    let targets: Vec<i64> = case
        .data
        .iter()
        .skip(batch * classes)
        .take(batch)
        .map(|&w| i64::from(w % (classes as u32 + 2)) - 1)
        .collect();
    let weight: Vec<f32> = (0..classes).map(|c| case.hyper[1 + c % 5].get() as f32).collect();
    let ls = case.hyper[0].get();
    let reduction = match case.flags >> 5 & 3 {
        0 => optkern::Reduction::Mean,
        1 => optkern::Reduction::Sum,
        _ => optkern::Reduction::None,
    };
    let cfg = optkern::CrossEntropyConfig {
        reduction,
        label_smoothing: ls,
        ignore_index,
        weight: if case.flag(4) { Some(&weight) } else { None },
    };
    let (mut losses, mut grad) = (vec![0.5f32; batch], vec![0.5f32; batch * classes]);
    let r = optkern::cross_entropy(&logits, &targets, classes, &cfg, &mut losses, &mut grad);
    let valid = ls.is_finite()
        && (0.0..=1.0).contains(&ls)
        && targets.iter().all(|&t| t == ignore_index || (0..classes as i64).contains(&t))
        && cfg.weight.is_none_or(|w| w.iter().all(|x| x.is_finite()));
    assert_eq!(r.is_ok(), valid, "cross_entropy: {r:?}");
    if !valid {
        assert!(losses.iter().chain(&grad).all(|&x| x == 0.5), "written on Err");
        return Outcome::default();
    }
    let compare = case.moderate && cfg.weight.is_none_or(|w| w.iter().all(|x| x.abs() <= 1e3));
    if compare {
        let wv: Vec<f64> =
            (0..classes).map(|c| cfg.weight.map_or(1.0, |w| f64::from(w[c]))).collect();
        for (row, &t) in targets.iter().enumerate() {
            if t == ignore_index {
                assert_eq!(losses[row], 0.0);
                continue;
            }
            let x: Vec<f64> =
                logits[row * classes..(row + 1) * classes].iter().map(|&v| f64::from(v)).collect();
            let (nll, smooth, _) = reference::cross_entropy_row(&x, t as usize, &wv);
            let want = (1.0 - ls) * nll + ls / classes as f64 * smooth;
            let got = f64::from(losses[row]);
            assert!((got - want).abs() <= 1e-5 * want.abs() + 1e-5, "row {row}: {got} vs {want}");
        }
    }
    Outcome { ok: true, compared: compare }
}

/// Schedules: construction is `Ok` only for valid arguments; an `Ok` schedule never panics, at
/// any step (0, small, huge), and returns the same value twice.
pub fn check_schedules(case: &Case) -> Outcome {
    use optkern::train::schedule::*;
    let h: Vec<f64> = case.hyper.iter().map(|x| x.get()).collect();
    let u = |k: usize| u64::from(case.data.get(k).copied().unwrap_or(0) % 1000);
    let steps = [0, 1, u(2), u(3) * 7, u64::MAX / 2, u64::MAX];
    let eval = |s: &dyn Schedule| {
        for &t in &steps {
            let a = s.lr(t);
            assert!(a.to_bits() == s.lr(t).to_bits() || a.is_nan());
            let _ = s.momentum(t);
        }
    };
    let mut built = 0;
    if let Ok(s) = StepDecay::new(h[0], u(0), h[1]) {
        eval(&s);
        built += 1
    }
    if let Ok(s) = Exponential::new(h[0], h[1]) {
        eval(&s);
        built += 1
    }
    if let Ok(s) = InverseTime::new(h[0], h[1]) {
        eval(&s);
        built += 1
    }
    if let Ok(s) = Cosine::new(h[0], u(0), h[2]) {
        eval(&s);
        built += 1
    }
    if let Ok(s) = CosineWarmRestarts::new(h[0], u(0), u(1) % 5, h[2]) {
        eval(&s);
        built += 1
    }
    if let Ok(s) = Linear::new(h[0], h[1], h[2], u(0)) {
        eval(&s);
        built += 1
    }
    if let Ok(s) = Polynomial::new(h[0], u(0), h[1]) {
        eval(&s);
        built += 1
    }
    if let Ok(s) = ConstantFactor::new(h[0], h[1], u(0)) {
        eval(&s);
        built += 1
    }
    if let Ok(s) = OneCycle::new(
        h[0],
        u(0),
        h[1],
        if case.flag(0) { Anneal::Cos } else { Anneal::Linear },
        h[2],
        h[3],
        case.flag(1),
        h[4],
        h[5],
    ) {
        eval(&s);
        built += 1
    }
    if let Ok(s) = Cyclic::new(h[0], h[1], u(0), u(1), CyclicMode::ExpRange(h[2]), h[3], h[4]) {
        eval(&s);
        built += 1
    }
    if let Ok(s) = WarmupStableDecay::new(h[0], u(0), u(1), u(2), h[1]) {
        eval(&s);
        built += 1
    }
    let ms = [u(0), u(0) + u(1)];
    if let Ok(s) = MultiStep::new(h[0], &ms, h[1]) {
        eval(&s);
        built += 1
    }
    let anneal = if case.flag(0) { Anneal::Cos } else { Anneal::Linear };
    if let Ok(s) = SwaLr::new(h[0], h[1], u(0) % 20, anneal) {
        eval(&s);
        built += 1
    }
    if let Ok(s) = Lambda::new(h[0], |t| h[1].powf(t as f64)) {
        eval(&s);
        built += 1
    }
    // `lr(t)` is O(t): small steps only.
    if let Ok(s) = Multiplicative::new(h[0], |_| h[1]) {
        for t in [0, 1, u(2)] {
            assert!(s.lr(t).to_bits() == s.lr(t).to_bits() || s.lr(t).is_nan());
        }
        built += 1
    }
    if let (Ok(a), Ok(b)) = (Exponential::new(1.0, h[1]), ConstantFactor::new(1.0, h[2], u(0))) {
        let parts: [&dyn Schedule; 2] = [&a, &b];
        if let Ok(s) = Chained::new(h[0], &parts) {
            eval(&s);
            built += 1
        }
    }
    if let Ok(s) = ExponentialDecay::new(h[0], u(0), h[1], u(1), case.flag(1), Some(h[2])) {
        eval(&s);
        built += 1
    }
    if let Ok(s) = PolynomialDecay::new(h[0], h[1], h[2], u(0), u(1)) {
        eval(&s);
        built += 1
    }
    let (bs, ss) = ([u(0), u(0) + u(1)], [h[1], h[2]]);
    if let Ok(s) = PiecewiseConstant::new(h[0], &bs, &ss) {
        eval(&s);
        built += 1
    }
    if let Ok(s) = PiecewiseInterpolate::new(anneal, h[0], &bs, &ss) {
        eval(&s);
        built += 1
    }
    if let Ok(s) = OptaxOneCycle::new(anneal, u(0), h[0], h[1], h[2], h[3], h[4]) {
        eval(&s);
        built += 1
    }
    if let Ok(s) = CosineDecay::new(h[0], u(0), h[1], h[2]) {
        eval(&s);
        built += 1
    }
    if let Ok(c) = WarmupCosineDecay::new(h[0], h[1], u(0), u(1), h[2], h[3]) {
        eval(&c);
        let cycles = [c, c];
        if let Ok(s) = Sgdr::new(&cycles) {
            eval(&s);
        }
        built += 1
    }
    if let Ok(s) =
        WarmupExponentialDecay::new(h[0], h[1], u(0), u(1), h[2], u(2), case.flag(1), None)
    {
        eval(&s);
        built += 1
    }
    // ReduceLROnPlateau: never panics; the rate never rises and stays ≥ min_lr (unless it
    // started below it).
    let cfg = PlateauConfig {
        mode: if case.flag(2) { PlateauMode::Max } else { PlateauMode::Min },
        factor: h[1],
        patience: u(0) % 4,
        threshold: h[2],
        threshold_mode: if case.flag(3) { ThresholdMode::Abs } else { ThresholdMode::Rel },
        cooldown: u(1) % 4,
        min_lr: h[3],
        eps: h[4],
    };
    if let Ok(mut s) = ReduceOnPlateau::new(h[0], &cfg) {
        let mut lr = s.lr();
        for &w in case.data.iter().take(64) {
            let next = s.step(f64::from(f32::from_bits(w)));
            assert!(next <= lr && (next >= cfg.min_lr || next == lr), "{lr} -> {next}");
            lr = next;
        }
        built += 1
    }
    Outcome { ok: built > 0, compared: false }
}

/// The C API: the exact status for NULL, misaligned, overlapping and oversized buffers, NULL or
/// invalid configs, and every buffer untouched on any non-OK status.
pub fn check_capi(case: &Case) -> Outcome {
    use optkern::capi::Status;
    use optkern::capi::optim::optkern_adam_step;
    let n = case.data.len().min(64);
    let mut bufs: Vec<f32> = (0..4 * n + 8)
        .map(|i| case.data.get(i % case.data.len().max(1)).map_or(0.0, |&w| moderate(w, true)))
        .collect();
    let before = bits(&bufs);
    let mut cfg = optkern::AdamConfig { lr: case.hyper[0].get(), ..Default::default() };
    let lr_ok = cfg.lr.is_finite() && cfg.lr >= 0.0;
    let mode = case.flags % 8;
    let base = bufs.as_mut_ptr();
    // SAFETY (test): every pointer below is inside `bufs` or deliberately invalid in a way the
    // API must reject before dereferencing (NULL, misaligned, huge length).
    let (status, want) = unsafe {
        let (p, g, m, v) =
            (base, base.add(n + 2) as *const f32, base.add(2 * n + 4), base.add(3 * n + 6));
        match mode {
            0 => (
                optkern_adam_step(
                    p,
                    g,
                    m,
                    v,
                    core::ptr::null_mut(),
                    n,
                    1,
                    &cfg,
                    core::ptr::null_mut(),
                ),
                if lr_ok { Status::Ok } else { Status::InvalidHyperparameter },
            ),
            1 => (
                optkern_adam_step(
                    core::ptr::null_mut(),
                    g,
                    m,
                    v,
                    core::ptr::null_mut(),
                    n.max(1),
                    1,
                    &cfg,
                    core::ptr::null_mut(),
                ),
                Status::NullPointer,
            ),
            2 => (
                optkern_adam_step(
                    p.cast::<u8>().add(1).cast(),
                    g,
                    m,
                    v,
                    core::ptr::null_mut(),
                    n.max(1),
                    1,
                    &cfg,
                    core::ptr::null_mut(),
                ),
                Status::Misaligned,
            ),
            3 => {
                let shift = usize::from(case.offset) % n.max(1);
                (
                    optkern_adam_step(
                        p,
                        g,
                        p.add(shift),
                        v,
                        core::ptr::null_mut(),
                        n.max(1),
                        1,
                        &cfg,
                        core::ptr::null_mut(),
                    ),
                    Status::Overlap,
                )
            }
            4 => (
                optkern_adam_step(
                    p,
                    g,
                    m,
                    v,
                    core::ptr::null_mut(),
                    usize::MAX / 2 + usize::from(case.width),
                    1,
                    &cfg,
                    core::ptr::null_mut(),
                ),
                Status::InvalidLength,
            ),
            5 => (
                optkern_adam_step(
                    p,
                    g,
                    m,
                    v,
                    core::ptr::null_mut(),
                    n,
                    1,
                    core::ptr::null(),
                    core::ptr::null_mut(),
                ),
                Status::NullPointer,
            ),
            6 => {
                let mut raw = cfg;
                core::ptr::write(
                    core::ptr::addr_of_mut!(raw.amsgrad).cast::<u8>(),
                    2 + case.width % 200,
                );
                (
                    optkern_adam_step(
                        p,
                        g,
                        m,
                        v,
                        core::ptr::null_mut(),
                        n,
                        1,
                        &raw,
                        core::ptr::null_mut(),
                    ),
                    Status::InvalidHyperparameter,
                )
            }
            _ => {
                cfg.amsgrad = true;
                // The kernel checks lengths (the missing max_exp_avg_sq) before the config.
                (
                    optkern_adam_step(
                        p,
                        g,
                        m,
                        v,
                        core::ptr::null_mut(),
                        n.max(1),
                        1,
                        &cfg,
                        core::ptr::null_mut(),
                    ),
                    Status::NullPointer,
                )
            }
        }
    };
    assert_eq!(status, want, "mode {mode}");
    if status != Status::Ok {
        assert_eq!(bits(&bufs), before, "mode {mode}: written on error");
    }
    Outcome { ok: status == Status::Ok, compared: false }
}

/// The optimizers of the shared element-wise skeleton (`src/optim/rule.rs`; golden-next:
/// pytorch_optimizer, optax), one picked by `case.flags >> 4` and bit 4 of `case.offset`: ADOPT, AdaBelief, AdaBound,
/// AdaMod, AdamP, Adan, AdEMAMix, DiffGrad, Yogi, SM3, signSGD, Tiger, QHM, PID, optimistic
/// GD, and the schedule-free kernels ([`check_schedulefree`]). `hyper` is
/// `[lr, β₁ or μ, β₂ or ν, ε, λ, grad_scale]` where the kernel has them.
pub fn check_breadth(case: &Case) -> Outcome {
    use optkern::*;
    let h: Vec<f64> = case.hyper.iter().map(|x| x.get()).collect();
    let gs = h[5] as f32;
    let numerics = case.numerics();
    let max = case.flag(1);
    // 23 choices: the four high bits of `flags` and bit 4 of `offset` (the offset uses bits
    // 0–3 only).
    match (usize::from(case.flags >> 4) + usize::from(case.offset & 16)) % 23 {
        22 => check_normalized(case),
        15 => check_schedulefree(case),
        16 => check_prodigy(case),
        17..=21 => check_stateful(case),
        0 => {
            let c = AdoptConfig {
                lr: h[0],
                beta1: h[1],
                beta2: h[2],
                eps: h[3],
                weight_decay: h[4],
                weight_decouple: case.flag(0),
                fixed_decay: case.flag(2),
                maximize: max,
                grad_scale: gs,
                numerics,
                clip: case.flag(3),
                ..Default::default()
            };
            let r = c.to_reference();
            check(
                case,
                &Spec {
                    name: "adopt",
                    muts: 3,
                    non_negative: &[2],
                    hyper: (c, r),
                    run: &|w, m, i, t, (c, _)| match m {
                        [p, m1, v] => adopt_step_with(w, p, i[0], m1, v, t, c),
                        _ => unreachable!(),
                    },
                    valid: &|l, t, (_, r)| {
                        l[1] == l[0]
                            && l[2] == l[0]
                            && l[3] == l[0]
                            && reference::accepts_adopt(r, t)
                    },
                    reference: &|m, i, t, (_, r)| match m {
                        [p, m1, v] => reference::adopt(p, &i[0], m1, v, t, r),
                        _ => unreachable!(),
                    },
                    tol: 1e-5,
                    conditioned: h[3] >= 1e-6,
                },
                4,
            )
        }
        1 => {
            let c = AdabeliefConfig {
                lr: h[0],
                beta1: h[1],
                beta2: h[2],
                eps: h[3],
                weight_decay: h[4],
                weight_decouple: case.flag(0),
                fixed_decay: case.flag(2),
                maximize: max,
                grad_scale: gs,
                numerics,
                amsgrad: case.flag(3),
                rectify: case.flag(4),
                eps_root: h[3],
                ..Default::default()
            };
            let r = c.to_reference();
            check(
                case,
                &Spec {
                    name: "adabelief",
                    muts: 4,
                    non_negative: &[2, 3],
                    hyper: (c, r),
                    run: &|w, m, i, t, (c, _)| match m {
                        [p, m1, v, vmax] => adabelief_step_with(w, p, i[0], m1, v, vmax, t, c),
                        _ => unreachable!(),
                    },
                    valid: &|l, t, (c, r)| {
                        l[1] == l[0]
                            && l[2] == l[0]
                            && (l[3] == l[0] || (!(c.amsgrad) && l[3] == 0))
                            && l[4] == l[0]
                            && reference::accepts_po_adam(r, t)
                            && c.eps_root.is_finite()
                            && c.eps_root >= 0.0
                    },
                    reference: &|m, i, t, (c, r)| match m {
                        [p, m1, v, vmax] => {
                            reference::adabelief(p, &i[0], m1, v, vmax, t, r, c.eps_root)
                        }
                        _ => unreachable!(),
                    },
                    tol: 1e-5,
                    conditioned: h[3] >= 1e-6,
                },
                5,
            )
        }
        2 => {
            let c = AdaboundConfig {
                lr: h[0],
                beta1: h[1],
                beta2: h[2],
                eps: h[3],
                weight_decay: h[4],
                weight_decouple: case.flag(0),
                fixed_decay: case.flag(2),
                maximize: max,
                grad_scale: gs,
                numerics,
                amsgrad: case.flag(3),
                ..Default::default()
            };
            let r = c.to_reference();
            check(
                case,
                &Spec {
                    name: "adabound",
                    muts: 4,
                    non_negative: &[2, 3],
                    hyper: (c, r),
                    run: &|w, m, i, t, (c, _)| match m {
                        [p, m1, v, vmax] => adabound_step_with(w, p, i[0], m1, v, vmax, t, c),
                        _ => unreachable!(),
                    },
                    valid: &|l, t, (c, r)| {
                        l[1] == l[0]
                            && l[2] == l[0]
                            && (l[3] == l[0] || (!(c.amsgrad) && l[3] == 0))
                            && l[4] == l[0]
                            && reference::accepts_po_adam(r, t)
                    },
                    reference: &|m, i, t, (c, r)| match m {
                        [p, m1, v, vmax] => {
                            reference::adabound(p, &i[0], m1, v, vmax, t, r, (c.final_lr, c.gamma))
                        }
                        _ => unreachable!(),
                    },
                    tol: 1e-5,
                    conditioned: h[3] >= 1e-6,
                },
                5,
            )
        }
        3 => {
            let c = AdamodConfig {
                lr: h[0],
                beta1: h[1],
                beta2: h[2],
                eps: h[3],
                weight_decay: h[4],
                weight_decouple: case.flag(0),
                fixed_decay: case.flag(2),
                maximize: max,
                grad_scale: gs,
                numerics,
                ..Default::default()
            };
            let r = c.to_reference();
            check(
                case,
                &Spec {
                    name: "adamod",
                    muts: 4,
                    non_negative: &[2, 3],
                    hyper: (c, r),
                    run: &|w, m, i, t, (c, _)| match m {
                        [p, m1, v, s] => adamod_step_with(w, p, i[0], m1, v, s, t, c),
                        _ => unreachable!(),
                    },
                    valid: &|l, t, (_, r)| {
                        l[1] == l[0]
                            && l[2] == l[0]
                            && l[3] == l[0]
                            && l[4] == l[0]
                            && reference::accepts_po_adam(r, t)
                    },
                    reference: &|m, i, t, (c, r)| match m {
                        [p, m1, v, s] => reference::adamod(p, &i[0], m1, v, s, t, r, c.beta3),
                        _ => unreachable!(),
                    },
                    tol: 1e-5,
                    conditioned: h[3] >= 1e-6,
                },
                5,
            )
        }
        4 => {
            let c = AdampConfig {
                lr: h[0],
                beta1: h[1],
                beta2: h[2],
                eps: h[3],
                weight_decay: h[4],
                weight_decouple: case.flag(0),
                fixed_decay: case.flag(2),
                maximize: max,
                grad_scale: gs,
                numerics,
                nesterov: case.flag(3),
            };
            let r = c.to_reference();
            check(
                case,
                &Spec {
                    name: "adamp",
                    muts: 3,
                    non_negative: &[2],
                    hyper: (c, r),
                    run: &|w, m, i, t, (c, _)| match m {
                        [p, m1, v] => adamp_step_with(w, p, i[0], m1, v, t, c),
                        _ => unreachable!(),
                    },
                    valid: &|l, t, (_, r)| {
                        l[1] == l[0]
                            && l[2] == l[0]
                            && l[3] == l[0]
                            && reference::accepts_po_adam(r, t)
                    },
                    reference: &|m, i, t, (c, r)| match m {
                        [p, m1, v] => reference::adamp(p, &i[0], m1, v, t, r, c.nesterov),
                        _ => unreachable!(),
                    },
                    tol: 1e-5,
                    conditioned: h[3] >= 1e-6,
                },
                4,
            )
        }
        5 => {
            let c = AdanConfig {
                lr: h[0],
                beta1: h[1],
                beta2: h[2],
                eps: h[3],
                weight_decay: h[4],
                weight_decouple: case.flag(0),
                maximize: max,
                grad_scale: gs,
                numerics,
                ..Default::default()
            };
            let r = c.to_reference();
            check(
                case,
                &Spec {
                    name: "adan",
                    muts: 5,
                    non_negative: &[3],
                    hyper: (c, r),
                    run: &|w, m, i, t, (c, _)| match m {
                        [p, m1, nd, v, prev] => adan_step_with(w, p, i[0], m1, nd, v, prev, t, c),
                        _ => unreachable!(),
                    },
                    valid: &|l, t, (_, r)| {
                        l[1] == l[0]
                            && l[2] == l[0]
                            && l[3] == l[0]
                            && l[4] == l[0]
                            && l[5] == l[0]
                            && reference::accepts_adan(r, t)
                    },
                    reference: &|m, i, t, (_, r)| match m {
                        [p, m1, nd, v, prev] => reference::adan(p, &i[0], m1, nd, v, prev, t, r),
                        _ => unreachable!(),
                    },
                    tol: 1e-5,
                    conditioned: h[3] >= 1e-6,
                },
                6,
            )
        }
        6 => {
            let c = AdemamixConfig {
                lr: h[0],
                beta1: h[1],
                beta2: h[2],
                eps: h[3],
                weight_decay: h[4],
                weight_decouple: case.flag(0),
                fixed_decay: case.flag(2),
                maximize: max,
                grad_scale: gs,
                numerics,
                ..Default::default()
            };
            let r = c.to_reference();
            check(
                case,
                &Spec {
                    name: "ademamix",
                    muts: 4,
                    non_negative: &[2],
                    hyper: (c, r),
                    run: &|w, m, i, t, (c, _)| match m {
                        [p, m1, v, m2] => ademamix_step_with(w, p, i[0], m1, v, m2, t, c),
                        _ => unreachable!(),
                    },
                    valid: &|l, t, (_, r)| {
                        l[1] == l[0]
                            && l[2] == l[0]
                            && l[3] == l[0]
                            && l[4] == l[0]
                            && reference::accepts_po_adam(r, t)
                    },
                    reference: &|m, i, t, (c, r)| match m {
                        [p, m1, v, m2] => reference::ademamix(
                            p,
                            &i[0],
                            m1,
                            v,
                            m2,
                            t,
                            r,
                            &reference::Ademamix {
                                beta3: c.beta3,
                                alpha: c.alpha,
                                t_alpha_beta3: c.t_alpha_beta3,
                            },
                        ),
                        _ => unreachable!(),
                    },
                    tol: 1e-5,
                    conditioned: h[3] >= 1e-6,
                },
                5,
            )
        }
        7 => {
            let c = DiffgradConfig {
                lr: h[0],
                beta1: h[1],
                beta2: h[2],
                eps: h[3],
                weight_decay: h[4],
                weight_decouple: case.flag(0),
                fixed_decay: case.flag(2),
                maximize: max,
                grad_scale: gs,
                numerics,
                amsgrad: case.flag(3),
                rectify: case.flag(4),
                ..Default::default()
            };
            let r = c.to_reference();
            check(
                case,
                &Spec {
                    name: "diffgrad",
                    muts: 5,
                    non_negative: &[2, 4],
                    hyper: (c, r),
                    run: &|w, m, i, t, (c, _)| match m {
                        [p, m1, v, prev, vmax] => {
                            diffgrad_step_with(w, p, i[0], m1, v, prev, vmax, t, c)
                        }
                        _ => unreachable!(),
                    },
                    valid: &|l, t, (c, r)| {
                        l[1] == l[0]
                            && l[2] == l[0]
                            && l[3] == l[0]
                            && (l[4] == l[0] || (!(c.amsgrad) && l[4] == 0))
                            && l[5] == l[0]
                            && reference::accepts_po_adam(r, t)
                    },
                    reference: &|m, i, t, (_, r)| match m {
                        [p, m1, v, prev, vmax] => {
                            reference::diffgrad(p, &i[0], m1, v, prev, vmax, t, r)
                        }
                        _ => unreachable!(),
                    },
                    tol: 1e-5,
                    conditioned: h[3] >= 1e-6,
                },
                6,
            )
        }
        8 => {
            let c = YogiConfig {
                lr: h[0],
                beta1: h[1],
                beta2: h[2],
                eps: h[3],
                maximize: max,
                grad_scale: gs,
                numerics,
            };
            let r = c.to_reference();
            check(
                case,
                &Spec {
                    name: "yogi",
                    muts: 3,
                    non_negative: &[2],
                    hyper: (c, r),
                    run: &|w, m, i, t, (c, _)| match m {
                        [p, m1, v] => yogi_step_with(w, p, i[0], m1, v, t, c),
                        _ => unreachable!(),
                    },
                    valid: &|l, t, (_, r)| {
                        l[1] == l[0]
                            && l[2] == l[0]
                            && l[3] == l[0]
                            && reference::accepts_yogi(r, t)
                    },
                    reference: &|m, i, t, (_, r)| match m {
                        [p, m1, v] => reference::yogi(p, &i[0], m1, v, t, r),
                        _ => unreachable!(),
                    },
                    tol: 1e-5,
                    // sign(v − g²) flips where v is within rounding of g² (f32 vs f64): widths and
                    // errors only; tests/reference.rs compares Yogi on data without such ties.
                    conditioned: false,
                },
                4,
            )
        }
        9 => {
            let c = Sm3Config {
                lr: h[0],
                momentum: h[1],
                beta: h[2],
                eps: h[3],
                maximize: max,
                grad_scale: gs,
                numerics,
            };
            let r = c.to_reference();
            check(
                case,
                &Spec {
                    name: "sm3",
                    muts: 3,
                    non_negative: &[1],
                    hyper: (c, r),
                    run: &|w, m, i, _, (c, _)| match m {
                        [p, acc, b] => sm3_step_with(w, p, i[0], acc, b, c),
                        _ => unreachable!(),
                    },
                    valid: &|l, _, (c, r)| {
                        l[1] == l[0]
                            && (l[2] == l[0] || (!(c.momentum != 0.0) && l[2] == 0))
                            && l[3] == l[0]
                            && reference::accepts_sm3(r)
                    },
                    reference: &|m, i, _, (_, r)| match m {
                        [p, acc, b] => reference::sm3(p, &i[0], acc, b, r),
                        _ => unreachable!(),
                    },
                    tol: 1e-5,
                    conditioned: h[3] >= 1e-6,
                },
                4,
            )
        }
        10 => {
            let c = SignsgdConfig {
                lr: h[0],
                momentum: h[1],
                weight_decay: h[4],
                weight_decouple: case.flag(0),
                fixed_decay: case.flag(2),
                maximize: max,
                grad_scale: gs,
                numerics,
            };
            let r = c.to_reference();
            // A sign flips where the momentum is within rounding of 0: widths and errors only.
            check(
                case,
                &Spec {
                    name: "signsgd",
                    muts: 2,
                    non_negative: &[],
                    hyper: (c, r),
                    run: &|w, m, i, _, (c, _)| match m {
                        [p, m1] => signsgd_step_with(w, p, i[0], m1, c),
                        _ => unreachable!(),
                    },
                    valid: &|l, _, (c, r)| {
                        (l[1] == l[0] || (!(c.momentum != 0.0) && l[1] == 0))
                            && l[2] == l[0]
                            && reference::accepts_po_momentum(r)
                    },
                    reference: &|m, i, _, (_, r)| match m {
                        [p, m1] => reference::signsgd(p, &i[0], m1, r),
                        _ => unreachable!(),
                    },
                    tol: 1e-5,
                    conditioned: false,
                },
                3,
            )
        }
        11 => {
            let c = TigerConfig {
                lr: h[0],
                beta: h[1],
                weight_decay: h[4],
                weight_decouple: case.flag(0),
                fixed_decay: case.flag(2),
                maximize: max,
                grad_scale: gs,
                numerics,
            };
            let r = c.to_reference();
            // As signSGD: widths and errors only.
            check(
                case,
                &Spec {
                    name: "tiger",
                    muts: 2,
                    non_negative: &[],
                    hyper: (c, r),
                    run: &|w, m, i, _, (c, _)| match m {
                        [p, m1] => tiger_step_with(w, p, i[0], m1, c),
                        _ => unreachable!(),
                    },
                    valid: &|l, _, (_, r)| {
                        l[1] == l[0] && l[2] == l[0] && reference::accepts_po_momentum(r)
                    },
                    reference: &|m, i, _, (_, r)| match m {
                        [p, m1] => reference::signsgd(p, &i[0], m1, r),
                        _ => unreachable!(),
                    },
                    tol: 1e-5,
                    conditioned: false,
                },
                3,
            )
        }
        12 => {
            let c = QhmConfig {
                lr: h[0],
                momentum: h[1],
                nu: h[2],
                weight_decay: h[4],
                weight_decouple: case.flag(0),
                fixed_decay: case.flag(2),
                maximize: max,
                grad_scale: gs,
                numerics,
            };
            let r = c.to_reference();
            check(
                case,
                &Spec {
                    name: "qhm",
                    muts: 2,
                    non_negative: &[],
                    hyper: (c, r),
                    run: &|w, m, i, _, (c, _)| match m {
                        [p, b] => qhm_step_with(w, p, i[0], b, c),
                        _ => unreachable!(),
                    },
                    valid: &|l, _, (c, r)| {
                        l[1] == l[0]
                            && l[2] == l[0]
                            && reference::accepts_po_momentum(r)
                            && (0.0..=1.0).contains(&c.nu)
                    },
                    reference: &|m, i, _, (c, r)| match m {
                        [p, b] => reference::qhm(p, &i[0], b, r, c.nu),
                        _ => unreachable!(),
                    },
                    tol: 1e-5,
                    conditioned: true,
                },
                3,
            )
        }
        13 => {
            let c = PidConfig {
                lr: h[0],
                momentum: h[1],
                dampening: h[2],
                derivative: h[3],
                weight_decay: h[4],
                weight_decouple: case.flag(0),
                fixed_decay: case.flag(2),
                maximize: max,
                grad_scale: gs,
                numerics,
                ..Default::default()
            };
            let r = c.to_reference();
            check(
                case,
                &Spec {
                    name: "pid",
                    muts: 4,
                    non_negative: &[],
                    hyper: (c, r),
                    run: &|w, m, i, t, (c, _)| match m {
                        [p, ib, db, prev] => pid_step_with(w, p, i[0], ib, db, prev, t, c),
                        _ => unreachable!(),
                    },
                    valid: &|l, t, (c, r)| {
                        (l[1] == l[0] || (!(c.momentum != 0.0) && l[1] == 0))
                            && (l[2] == l[0] || (!(c.momentum != 0.0) && l[2] == 0))
                            && (l[3] == l[0] || (!(c.momentum != 0.0) && l[3] == 0))
                            && l[4] == l[0]
                            && reference::accepts_po_momentum(r)
                            && (0.0..=1.0).contains(&c.dampening)
                            && c.derivative.is_finite()
                            && c.derivative >= 0.0
                            && t >= 1
                    },
                    reference: &|m, i, t, (c, r)| match m {
                        [p, ib, db, prev] => reference::pid(
                            p,
                            &i[0],
                            ib,
                            db,
                            prev,
                            t,
                            r,
                            &reference::Pid {
                                dampening: c.dampening,
                                derivative: c.derivative,
                                integral: c.integral,
                            },
                        ),
                        _ => unreachable!(),
                    },
                    tol: 1e-5,
                    conditioned: true,
                },
                5,
            )
        }
        14 => {
            let c = OptimisticGdConfig {
                lr: h[0],
                alpha: h[1],
                beta: h[2],
                maximize: max,
                grad_scale: gs,
                numerics,
            };
            let r = c.to_reference();
            check(
                case,
                &Spec {
                    name: "optimistic_gd",
                    muts: 2,
                    non_negative: &[],
                    hyper: (c, r),
                    run: &|w, m, i, t, (c, _)| match m {
                        [p, prev] => optimistic_gd_step_with(w, p, i[0], prev, t, c),
                        _ => unreachable!(),
                    },
                    valid: &|l, t, (_, r)| {
                        l[1] == l[0] && l[2] == l[0] && reference::accepts_optimistic_gd(r, t)
                    },
                    reference: &|m, i, t, (_, r)| match m {
                        [p, prev] => reference::optimistic_gd(p, &i[0], prev, t, r),
                        _ => unreachable!(),
                    },
                    tol: 1e-5,
                    conditioned: true,
                },
                3,
            )
        }
        _ => unreachable!(),
    }
}

/// The schedule-free kernels (`flags` bits 0–2 pick one of SGD, SGD reference, AdamW, AdamW
/// reference, RAdam, eval, train), at step `case.step` with the state the reference's own
/// schedule gives for the steps before it. `hyper` is `[lr, β, β₂, ε, λ, grad_scale]`.
pub fn check_schedulefree(case: &Case) -> Outcome {
    use optkern::*;
    let h: Vec<f64> = case.hyper.iter().map(|x| x.get()).collect();
    let numerics = case.numerics();
    let adamw = AdamwScheduleFreeConfig {
        lr: h[0],
        beta1: h[1],
        beta2: h[2],
        eps: h[3],
        weight_decay: h[4],
        warmup_steps: u32::from(case.flag(4)) * 3,
        decay_at_z: case.flag(3),
        silent_sgd_phase: !case.flag(5),
        maximize: case.flag(6),
        grad_scale: h[5] as f32,
        numerics,
        ..Default::default()
    };
    let sgd = SgdScheduleFreeConfig {
        lr: h[0],
        momentum: h[1],
        weight_decay: h[4],
        warmup_steps: adamw.warmup_steps,
        maximize: adamw.maximize,
        grad_scale: adamw.grad_scale,
        numerics,
        ..Default::default()
    };
    // The state before step t from the reference's schedule (a valid schedule needs a valid
    // config; any other call is refused before the state is read).
    fn state(r: &reference::ScheduleFree, t: u32, radam: bool) -> (ScheduleFreeState, (f64, f64)) {
        let ((k, lr_max, weight_sum), next) =
            reference::schedulefree_schedule(r, u64::from(t.max(1) - 1), radam);
        (ScheduleFreeState { k, lr_max, weight_sum, scheduled_lr: 0.0 }, next)
    }
    let (rs, ra) = (sgd.to_reference(), adamw.to_reference());
    let ok_lens = |l: &[usize]| lens_equal(l);
    // Large learning rates make the f32 and f64 schedules part ways legitimately; compare
    // where the step is small.
    let cond = h[0] <= 1.0 && h[3] >= 1e-6;
    match case.flags % 8 {
        0 => check(
            case,
            &Spec {
                name: "sgd_schedulefree",
                muts: 2,
                non_negative: &[],
                hyper: (sgd, rs),
                run: &|w, m, i, t, (c, r)| match m {
                    [p, z] => {
                        sgd_schedulefree_step_with(w, p, i[0], z, &mut state(r, t, false).0, c)
                    }
                    _ => unreachable!(),
                },
                valid: &|l, _, (_, r)| {
                    ok_lens(l)
                        && reference::accepts_schedulefree(&reference::ScheduleFree {
                            beta2: 0.5,
                            ..*r
                        })
                },
                reference: &|m, i, t, (_, r)| match m {
                    [p, z] => {
                        let (st, next) = state(r, t, false);
                        reference::schedulefree(p, &i[0], z, None, st.k, next, true, r)
                    }
                    _ => unreachable!(),
                },
                tol: 1e-5,
                conditioned: h[0] <= 1.0,
            },
            3,
        ),
        1 => check(
            case,
            &Spec {
                name: "sgd_schedulefree_reference",
                muts: 3,
                non_negative: &[],
                hyper: (sgd, rs),
                run: &|w, m, i, t, (c, r)| match m {
                    [p, z, x] => sgd_schedulefree_reference_step_with(
                        w,
                        p,
                        i[0],
                        z,
                        x,
                        &mut state(r, t, false).0,
                        c,
                    ),
                    _ => unreachable!(),
                },
                valid: &|l, _, (_, r)| {
                    ok_lens(l)
                        && reference::accepts_schedulefree(&reference::ScheduleFree {
                            beta2: 0.5,
                            ..*r
                        })
                },
                reference: &|m, i, t, (_, r)| match m {
                    [p, z, x] => {
                        let (st, next) = state(r, t, false);
                        reference::schedulefree_reference(p, &i[0], z, x, None, st.k, next, r)
                    }
                    _ => unreachable!(),
                },
                tol: 1e-5,
                conditioned: h[0] <= 1.0,
            },
            4,
        ),
        2 | 4 => {
            let radam = case.flags % 8 == 4;
            check(
                case,
                &Spec {
                    name: if radam { "radam_schedulefree" } else { "adamw_schedulefree" },
                    muts: 3,
                    non_negative: &[2],
                    hyper: (adamw, ra),
                    run: &|w, m, i, t, (c, r)| match m {
                        [p, z, v] if radam => radam_schedulefree_step_with(
                            w,
                            p,
                            i[0],
                            z,
                            v,
                            &mut state(r, t, true).0,
                            c,
                        ),
                        [p, z, v] => adamw_schedulefree_step_with(
                            w,
                            p,
                            i[0],
                            z,
                            v,
                            &mut state(r, t, false).0,
                            c,
                        ),
                        _ => unreachable!(),
                    },
                    valid: &|l, _, (_, r)| ok_lens(l) && reference::accepts_schedulefree(r),
                    reference: &|m, i, t, (_, r)| match m {
                        [p, z, v] => {
                            let (st, next) = state(r, t, radam);
                            let norm = !radam || reference::radam_schedulefree_normalises(r, st.k);
                            reference::schedulefree(p, &i[0], z, Some(v), st.k, next, norm, r)
                        }
                        _ => unreachable!(),
                    },
                    tol: 1e-5,
                    conditioned: cond,
                },
                4,
            )
        }
        3 => check(
            case,
            &Spec {
                name: "adamw_schedulefree_reference",
                muts: 4,
                non_negative: &[3],
                hyper: (adamw, ra),
                run: &|w, m, i, t, (c, r)| match m {
                    [p, z, x, v] => adamw_schedulefree_reference_step_with(
                        w,
                        p,
                        i[0],
                        z,
                        x,
                        v,
                        &mut state(r, t, false).0,
                        c,
                    ),
                    _ => unreachable!(),
                },
                valid: &|l, _, (_, r)| ok_lens(l) && reference::accepts_schedulefree(r),
                reference: &|m, i, t, (_, r)| match m {
                    [p, z, x, v] => {
                        let (st, next) = state(r, t, false);
                        reference::schedulefree_reference(p, &i[0], z, x, Some(v), st.k, next, r)
                    }
                    _ => unreachable!(),
                },
                tol: 1e-5,
                conditioned: cond,
            },
            5,
        ),
        k => {
            let (beta, eval) = (h[1], k % 2 == 1);
            check(
                case,
                &Spec {
                    name: if eval { "schedulefree_eval" } else { "schedulefree_train" },
                    muts: 1,
                    non_negative: &[],
                    hyper: beta,
                    run: &|w, m, i, _, &b| match m {
                        [p] if eval => schedulefree_eval_with(w, p, i[0], b, numerics),
                        [p] => schedulefree_train_with(w, p, i[0], b, numerics),
                        _ => unreachable!(),
                    },
                    valid: &|l, _, &b| ok_lens(l) && b.is_finite() && b > 0.0 && b < 1.0,
                    reference: &|m, i, _, &b| match m {
                        [p] => {
                            reference::toward(p, &i[0], if eval { 1.0 - 1.0 / b } else { 1.0 - b })
                        }
                        _ => unreachable!(),
                    },
                    tol: 1e-5,
                    // 1 − 1/β amplifies the f32 rounding of p and z by 1/β.
                    conditioned: beta >= 0.1,
                },
                2,
            )
        }
    }
}

/// Prodigy, one whole step (accumulate, update d, apply) on `[params, s, m, v | grads, p0]`
/// against the f64 reference's step. `hyper` is `[lr, β₁, β₂, ε, λ, grad_scale]`.
pub fn check_prodigy(case: &Case) -> Outcome {
    use optkern::*;
    let h: Vec<f64> = case.hyper.iter().map(|x| x.get()).collect();
    let cfg = ProdigyConfig {
        lr: h[0],
        beta1: h[1],
        beta2: h[2],
        beta3: h[2].sqrt(),
        eps: h[3],
        weight_decay: h[4],
        decouple: !case.flag(0),
        use_bias_correction: case.flag(2),
        safeguard_warmup: case.flag(3),
        maximize: case.flag(1),
        grad_scale: h[5] as f32,
        numerics: case.numerics(),
        ..Default::default()
    };
    let r = cfg.to_reference();
    check(
        case,
        &Spec {
            name: "prodigy",
            muts: 4,
            non_negative: &[3],
            hyper: (cfg, r),
            run: &|w, m, i, _, (c, _)| match m {
                [p, s, mm, v] => {
                    let mut st = ProdigyState::new(c.d0);
                    prodigy_accumulate_with(w, p, i[0], i[1], s, mm, v, &mut st, c)?;
                    prodigy_update_d(&mut st, c)?;
                    prodigy_apply_with(w, p, mm, v, &st, c)
                }
                _ => unreachable!(),
            },
            valid: &|l, _, (_, r)| lens_equal(l) && reference::accepts_prodigy(r),
            reference: &|m, i, _, (c, r)| match m {
                [p, s, mm, v] => {
                    let mut st =
                        reference::ProdigyScalars { d: c.d0, d_max: c.d0, numerator: 0.0, k: 0 };
                    reference::prodigy(p, &i[0], &i[1], s, mm, v, &mut st, r)
                }
                _ => unreachable!(),
            },
            tol: 1e-5,
            // The estimate d multiplies everything: compare where it stays moderate.
            conditioned: h[0] <= 1.0 && h[3] >= 1e-6,
        },
        6,
    )
}

/// QHAdam, MADGRAD, AggMo, Ranger, the Lookahead synchronisation, LaProp and D-Adaptation
/// (Adam, SGD; one step from a fresh state), with their scalar state derived from `case.step`. `hyper` is
/// `[lr, β₁ or μ, β₂, ε, λ, grad_scale]`.
pub fn check_stateful(case: &Case) -> Outcome {
    use optkern::*;
    let h: Vec<f64> = case.hyper.iter().map(|x| x.get()).collect();
    let (numerics, max, gs) = (case.numerics(), case.flag(6), h[5] as f32);
    // 16 choices: `flags` bits 0–2 and bit 5 of `offset`.
    match usize::from(case.flags % 8) + 8 * usize::from(case.offset & 32 != 0) {
        8 | 11 | 14 => {
            let c = LapropConfig {
                lr: h[0],
                beta1: h[1],
                beta2: h[2],
                eps: h[3],
                weight_decay: h[4],
                centered: case.flag(3),
                steps_before_using_centered: 1,
                amsgrad: case.flag(4),
                fixed_decay: case.flag(5),
                maximize: max,
                grad_scale: gs,
                numerics,
            };
            let r = c.to_reference();
            let lr_avg = move |t: u32| {
                let mut l1 = 0.0f64;
                for _ in 1..t {
                    l1 = l1 * c.beta1 + (1.0 - c.beta1) * c.lr;
                }
                (l1, l1 * c.beta1 + (1.0 - c.beta1) * c.lr)
            };
            check(
                case,
                &Spec {
                    name: "laprop",
                    muts: 5,
                    non_negative: &[2, 4],
                    hyper: (c, r),
                    run: &|w, m, i, t, (c, _)| match m {
                        [p, m1, v, mean, vmax] => {
                            let mut st =
                                LapropState { exp_avg_lr_1: lr_avg(t).0, exp_avg_lr_2: 0.0 };
                            laprop_step_with(w, p, i[0], m1, v, mean, vmax, t, &mut st, c)
                        }
                        _ => unreachable!(),
                    },
                    valid: &|l, t, (c, r)| {
                        l[1] == l[0]
                            && l[2] == l[0]
                            && (l[3] == l[0] || (!c.centered && l[3] == 0))
                            && (l[4] == l[0] || (!c.amsgrad && l[4] == 0))
                            && l[5] == l[0]
                            && reference::accepts_po_adam(r, t)
                    },
                    reference: &|m, i, t, (c, r)| match m {
                        [p, m1, v, mean, vmax] => {
                            let x = reference::Laprop {
                                centered: c.centered,
                                steps_before_using_centered: 1,
                            };
                            reference::laprop(p, &i[0], m1, v, mean, vmax, t, lr_avg(t).1, r, &x)
                        }
                        _ => unreachable!(),
                    },
                    tol: 1e-5,
                    // The centred moment v − ḡ² of arbitrary state can cancel.
                    conditioned: !c.centered && h[3] >= 1e-6,
                },
                6,
            )
        }
        9 | 12 | 15 => {
            let c = DadaptAdamConfig {
                lr: h[0].min(1.0),
                beta1: h[1],
                beta2: h[2],
                eps: h[3],
                weight_decay: h[4],
                weight_decouple: case.flag(3),
                bias_correction: case.flag(4),
                maximize: max,
                grad_scale: gs,
                numerics,
                ..Default::default()
            };
            let r = c.to_reference();
            check(
                case,
                &Spec {
                    name: "dadapt_adam",
                    muts: 4,
                    non_negative: &[2],
                    hyper: (c, r),
                    run: &|w, m, i, _, (c, _)| match m {
                        [p, m1, v, s] => {
                            let mut st = DadaptState::new(1e-6);
                            dadapt_adam_step_with(w, p, i[0], m1, v, s, &mut st, c)?;
                            dadapt_update_d(&mut st, Dadapt::Adam, c.lr, c.beta2, c.growth_rate)
                        }
                        _ => unreachable!(),
                    },
                    valid: &|l, _, (_, r)| lens_equal(l) && reference::accepts_po_adam(r, 1),
                    reference: &|m, i, _, (c, r)| match m {
                        [p, m1, v, s] => {
                            let mut st =
                                reference::DadaptScalars { d: 1e-6, numerator: 0.0, g0_norm: 0.0 };
                            let x = (c.bias_correction, c.growth_rate);
                            reference::dadapt_adam(p, &i[0], m1, v, s, &mut st, 1, x, r)
                        }
                        _ => unreachable!(),
                    },
                    tol: 1e-5,
                    // The step m/(√v + ε) is not scaled by η: with L2 decay g + λθ can cancel to
                    // rounding size, and √v with it (found by the fuzzer): compare the
                    // decoupled and undecayed forms.
                    conditioned: h[3] >= 1e-6 && (c.weight_decouple || c.weight_decay == 0.0),
                },
                5,
            )
        }
        10 | 13 => {
            let c = DadaptSgdConfig {
                lr: h[0].min(1.0),
                momentum: h[1],
                weight_decay: h[4],
                weight_decouple: case.flag(3),
                fixed_decay: case.flag(4),
                maximize: max,
                grad_scale: gs,
                numerics,
                ..Default::default()
            };
            let r = c.to_reference();
            check(
                case,
                &Spec {
                    name: "dadapt_sgd",
                    muts: 3,
                    non_negative: &[],
                    hyper: (c, r),
                    run: &|w, m, i, _, (c, _)| match m {
                        [p, s, z] => {
                            let mut st = DadaptState { g0_norm: 2.0, ..DadaptState::new(1e-6) };
                            dadapt_sgd_step_with(w, p, i[0], s, i[1], z, &mut st, c)?;
                            dadapt_update_d(&mut st, Dadapt::Sgd, c.lr, 0.5, c.growth_rate)
                        }
                        _ => unreachable!(),
                    },
                    valid: &|l, _, (_, r)| lens_equal(l) && reference::accepts_po_momentum(r),
                    reference: &|m, i, _, (c, r)| match m {
                        [p, s, z] => {
                            let mut st =
                                reference::DadaptScalars { d: 1e-6, numerator: 0.0, g0_norm: 2.0 };
                            reference::dadapt_sgd(p, &i[0], s, &i[1], z, &mut st, c.growth_rate, r)
                        }
                        _ => unreachable!(),
                    },
                    tol: 1e-5,
                    conditioned: true,
                },
                5,
            )
        }
        0 | 5 => {
            let c = QhadamConfig {
                lr: h[0],
                beta1: h[1],
                beta2: h[2],
                eps: h[3],
                weight_decay: h[4],
                nu1: if case.flag(3) { 0.7 } else { 1.0 },
                weight_decouple: case.flag(4),
                maximize: max,
                grad_scale: gs,
                numerics,
                ..Default::default()
            };
            // The state before step t, in f32 as the kernel keeps it and in f64 for the
            // reference (a valid β is needed for either: invalid calls are refused first).
            let state = move |t: u32| {
                let mut s = QhadamState::default();
                for _ in 1..t {
                    s.beta1_weight = s.beta1_weight * c.beta1 as f32 + 1.0;
                    s.beta2_weight = s.beta2_weight * c.beta2 as f32 + 1.0;
                }
                s
            };
            let r = c.to_reference();
            check(
                case,
                &Spec {
                    name: "qhadam",
                    muts: 3,
                    non_negative: &[2],
                    hyper: (c, r),
                    run: &|w, m, i, t, (c, _)| match m {
                        [p, m1, v] => qhadam_step_with(w, p, i[0], m1, v, &mut state(t), c),
                        _ => unreachable!(),
                    },
                    valid: &|l, _, (c, r)| {
                        lens_equal(l)
                            && reference::accepts_po_adam(r, 1)
                            && (0.0..=1.0).contains(&c.nu1)
                    },
                    reference: &|m, i, t, (c, r)| match m {
                        [p, m1, v] => {
                            // The normalisers are the package's f32 scalars (1 + β₂ with a
                            // tiny β₂ is 1 in f32 and not in f64: found by the fuzzer), so
                            // the reference takes the kernel's, widened.
                            let s = state(t);
                            let w1 = f64::from(s.beta1_weight * c.beta1 as f32 + 1.0);
                            let w2 = f64::from(s.beta2_weight * c.beta2 as f32 + 1.0);
                            reference::qhadam(p, &i[0], m1, v, (w1, w2), (c.nu1, c.nu2), r)
                        }
                        _ => unreachable!(),
                    },
                    tol: 1e-5,
                    conditioned: h[3] >= 1e-6,
                },
                4,
            )
        }
        1 | 6 => {
            let c = MadgradConfig {
                lr: h[0],
                momentum: h[1],
                weight_decay: h[4],
                weight_decouple: case.flag(4),
                eps: h[3],
                maximize: max,
                grad_scale: gs,
                numerics,
            };
            let r = c.to_reference();
            check(
                case,
                &Spec {
                    name: "madgrad",
                    muts: 4,
                    non_negative: &[1],
                    hyper: (c, r),
                    run: &|w, m, i, t, (c, _)| match m {
                        [p, sq, s, x0] => {
                            let mut st = MadgradState { k: u64::from(t.max(1) - 1) };
                            madgrad_step_with(w, p, i[0], sq, s, x0, &mut st, c)
                        }
                        _ => unreachable!(),
                    },
                    valid: &|l, _, (c, r)| {
                        l[1] == l[0]
                            && l[2] == l[0]
                            && l[4] == l[0]
                            && (l[3] == l[0] || (c.momentum == 0.0 && l[3] == 0))
                            && reference::accepts_madgrad(r)
                    },
                    reference: &|m, i, t, (_, r)| match m {
                        [p, sq, s, x0] => {
                            reference::madgrad(p, &i[0], sq, s, x0, u64::from(t.max(1) - 1), r)
                        }
                        _ => unreachable!(),
                    },
                    tol: 1e-5,
                    // The cube root of a tiny S amplifies f32 rounding: compare with ε large
                    // enough to bound the division.
                    conditioned: h[3] >= 1e-3 && h[0] <= 1.0,
                },
                5,
            )
        }
        2 | 7 => {
            let count = 1 + u32::from(case.step % 4);
            let c = AggmoConfig {
                lr: h[0],
                betas: [h[1], h[2], 0.5, 0.0],
                betas_len: count,
                weight_decay: h[4],
                weight_decouple: case.flag(4),
                fixed_decay: case.flag(3),
                maximize: max,
                grad_scale: gs,
                numerics,
            };
            let r = c.to_reference();
            check(
                case,
                &Spec {
                    name: "aggmo",
                    muts: 5,
                    non_negative: &[],
                    hyper: (c, r),
                    run: &|w, m, i, _, (c, _)| match m {
                        [p, b0, b1, b2, b3] => aggmo_step_with(w, p, i[0], b0, b1, b2, b3, c),
                        _ => unreachable!(),
                    },
                    valid: &|l, _, (c, r)| {
                        let k = c.betas_len as usize;
                        (1..5).all(|j| l[j] == l[0] || (j > k && l[j] == 0))
                            && l[5] == l[0]
                            && c.betas[..k].iter().all(|b| b.is_finite() && (0.0..1.0).contains(b))
                            && reference::accepts_po_momentum(&reference::PoMomentum {
                                momentum: 0.0,
                                ..*r
                            })
                    },
                    reference: &|m, i, _, (c, r)| match m {
                        [p, b0, b1, b2, b3] => {
                            let k = c.betas_len as usize;
                            let mut all: [&mut [f64]; 4] = [b0, b1, b2, b3];
                            reference::aggmo(p, &i[0], &mut all[..k], &c.betas[..k], r)
                        }
                        _ => unreachable!(),
                    },
                    tol: 1e-5,
                    conditioned: true,
                },
                6,
            )
        }
        3 => {
            let c = RangerConfig {
                lr: h[0],
                beta1: h[1],
                beta2: h[2],
                eps: h[3],
                weight_decay: h[4],
                k: 1 + u32::from(case.step % 4),
                degenerated_to_sgd: case.flag(3),
                weight_decouple: case.flag(4),
                maximize: max,
                grad_scale: gs,
                numerics,
                ..Default::default()
            };
            let r = c.to_reference();
            check(
                case,
                &Spec {
                    name: "ranger",
                    muts: 4,
                    non_negative: &[2],
                    hyper: (c, r),
                    run: &|w, m, i, t, (c, _)| match m {
                        [p, m1, v, slow] => ranger_step_with(w, p, i[0], m1, v, slow, t, c),
                        _ => unreachable!(),
                    },
                    valid: &|l, t, (_, r)| lens_equal(l) && reference::accepts_po_adam(r, t),
                    reference: &|m, i, t, (c, r)| match m {
                        [p, m1, v, slow] => {
                            reference::ranger(p, &i[0], m1, v, slow, t, r, (c.alpha, c.k))
                        }
                        _ => unreachable!(),
                    },
                    tol: 1e-5,
                    conditioned: h[3] >= 1e-6,
                },
                5,
            )
        }
        _ => {
            let alpha = h[1];
            check(
                case,
                &Spec {
                    name: "lookahead_sync",
                    muts: 2,
                    non_negative: &[],
                    hyper: alpha,
                    run: &|w, m, _, _, &a| match m {
                        [fast, slow] => lookahead_sync_with(w, fast, slow, a, numerics),
                        _ => unreachable!(),
                    },
                    valid: &|l, _, &a| lens_equal(l) && a.is_finite() && (0.0..=1.0).contains(&a),
                    reference: &|m, _, _, &a| match m {
                        [fast, slow] => reference::lookahead_sync(fast, slow, a),
                        _ => unreachable!(),
                    },
                    tol: 1e-5,
                    conditioned: true,
                },
                2,
            )
        }
    }
}

/// The per-tensor multi-pass kernels: NovoGrad, StableAdamW, MARS, Fromage, CAME (`flags`).
/// `hyper` is `[lr, β₁, β₂, ε, λ, grad_scale]`.
pub fn check_normalized(case: &Case) -> Outcome {
    use optkern::*;
    let h: Vec<f64> = case.hyper.iter().map(|x| x.get()).collect();
    let (numerics, max, gs) = (case.numerics(), case.flag(6), h[5] as f32);
    match case.flags % 5 {
        4 => {
            let c = CameConfig {
                lr: h[0],
                beta1: h[1],
                beta2: h[2],
                eps1: h[3],
                clip_threshold: 1.0,
                weight_decay: h[4],
                weight_decouple: !case.flag(3),
                fixed_decay: false,
                amsgrad: case.flag(4),
                maximize: max,
                grad_scale: gs,
                numerics,
            };
            let r = c.to_reference();
            check(
                case,
                &Spec {
                    name: "came",
                    muts: 4,
                    non_negative: &[2, 3],
                    hyper: (c, r),
                    run: &|w, m, i, _, (c, _)| match m {
                        [p, m1, v, hat] => {
                            came_step_with(w, p, i[0], m1, v, hat, &mut CameState::default(), c)
                        }
                        _ => unreachable!(),
                    },
                    valid: &|l, _, (c, r)| {
                        l[1] == l[0]
                            && l[2] == l[0]
                            && (l[3] == l[0] || (!c.amsgrad && l[3] == 0))
                            && l[4] == l[0]
                            && reference::accepts_po_adam(&reference::PoAdam { eps: 0.0, ..*r }, 1)
                            && r.beta2 > 0.0
                            && c.eps1.is_finite()
                            && c.eps1 >= 0.0
                    },
                    reference: &|m, i, _, (c, r)| match m {
                        [p, m1, v, hat] => {
                            let x = reference::Came { eps1: c.eps1, clip_threshold: 1.0 };
                            reference::came(p, &i[0], m1, v, hat, r, &x);
                        }
                        _ => unreachable!(),
                    },
                    tol: 1e-5,
                    // 1/√v with v of rounding size: compare where ε₁ bounds it.
                    conditioned: h[3] >= 1e-6,
                },
                5,
            )
        }
        3 => {
            let c = FromageConfig {
                lr: h[0],
                p_bound: if case.flag(3) { h[1] } else { 0.0 },
                maximize: max,
                grad_scale: gs,
                numerics,
            };
            check(
                case,
                &Spec {
                    name: "fromage",
                    muts: 1,
                    non_negative: &[],
                    hyper: c,
                    run: &|w, m, i, t, c| match m {
                        [p] => fromage_step_with(w, p, i[0], t, &mut FromageState { max: 2.0 }, c),
                        _ => unreachable!(),
                    },
                    valid: &|l, t, c| {
                        let nn = |x: f64| x.is_finite() && x >= 0.0;
                        lens_equal(l)
                            && nn(c.lr)
                            && nn(c.p_bound)
                            && nn(f64::from(c.grad_scale))
                            && t >= 1
                    },
                    reference: &|m, i, t, c| match m {
                        [p] => {
                            let h = (c.lr, c.p_bound);
                            reference::fromage(
                                p,
                                &i[0],
                                t,
                                2.0,
                                h,
                                c.maximize,
                                f64::from(c.grad_scale),
                            );
                        }
                        _ => unreachable!(),
                    },
                    tol: 1e-5,
                    conditioned: h[0] <= 1.0,
                },
                2,
            )
        }
        0 => {
            let c = NovogradConfig {
                lr: h[0],
                beta1: h[1],
                beta2: h[2],
                eps: h[3],
                eps_root: 0.0,
                weight_decay: h[4],
                maximize: max,
                grad_scale: gs,
                numerics,
            };
            let r = c.to_reference();
            check(
                case,
                &Spec {
                    name: "novograd",
                    muts: 2,
                    non_negative: &[],
                    hyper: (c, r),
                    run: &|w, m, i, t, (c, _)| match m {
                        [p, m1] => {
                            novograd_step_with(w, p, i[0], m1, t, &mut NovogradState { nu: 2.0 }, c)
                        }
                        _ => unreachable!(),
                    },
                    valid: &|l, t, (_, r)| lens_equal(l) && reference::accepts_novograd(r, t),
                    reference: &|m, i, t, (_, r)| match m {
                        [p, m1] => {
                            reference::novograd(p, &i[0], m1, t, 2.0, r);
                        }
                        _ => unreachable!(),
                    },
                    tol: 1e-5,
                    conditioned: h[3] >= 1e-6,
                },
                3,
            )
        }
        1 => {
            let c = StableAdamwConfig {
                lr: h[0],
                beta1: h[1],
                beta2: h[2],
                eps: h[3],
                weight_decay: h[4],
                maximize: max,
                grad_scale: gs,
                numerics,
            };
            let r = c.to_reference();
            check(
                case,
                &Spec {
                    name: "stable_adamw",
                    muts: 3,
                    non_negative: &[2],
                    hyper: (c, r),
                    run: &|w, m, i, t, (c, _)| match m {
                        [p, m1, v] => stable_adamw_step_with(w, p, i[0], m1, v, t, c),
                        _ => unreachable!(),
                    },
                    valid: &|l, t, (_, r)| lens_equal(l) && reference::accepts_po_adam(r, t),
                    reference: &|m, i, t, (_, r)| match m {
                        [p, m1, v] => reference::stable_adamw(p, &i[0], m1, v, t, r),
                        _ => unreachable!(),
                    },
                    tol: 1e-5,
                    // g²/max(v, ε²) with a tiny ε divides by rounding noise.
                    conditioned: h[3] >= 1e-3,
                },
                4,
            )
        }
        _ => {
            let c = MarsConfig {
                lr: h[0],
                beta1: h[1],
                beta2: h[2],
                eps: h[3],
                weight_decay: h[4],
                optimize_1d: case.flag(3),
                maximize: max,
                grad_scale: gs,
                numerics,
                ..Default::default()
            };
            let r = c.to_reference();
            check(
                case,
                &Spec {
                    name: "mars",
                    muts: 4,
                    non_negative: &[2],
                    hyper: (c, r),
                    run: &|w, m, i, t, (c, _)| match m {
                        [p, m1, v, last] => mars_step_with(w, p, i[0], m1, v, last, t, c),
                        _ => unreachable!(),
                    },
                    valid: &|l, t, (_, r)| lens_equal(l) && reference::accepts_po_adam(r, t),
                    reference: &|m, i, t, (c, r)| match m {
                        [p, m1, v, last] => {
                            let x = reference::Mars {
                                gamma: c.gamma,
                                lion: false,
                                optimize_1d: c.optimize_1d,
                                lr_1d_factor: c.lr_1d_factor,
                                beta1_1d: c.beta1_1d,
                                beta2_1d: c.beta2_1d,
                                weight_decay_1d: c.weight_decay_1d,
                            };
                            reference::mars(p, &i[0], m1, v, last, t, r, &x)
                        }
                        _ => unreachable!(),
                    },
                    tol: 1e-5,
                    // The clip at ‖c‖ = 1 switches: compare away from it (moderate data has
                    // norms well above 1) and with ε bounding the division.
                    conditioned: h[3] >= 1e-6,
                },
                5,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    //! Replays the checks over a seeded stream of arbitrary cases on stable.
    use super::*;
    use arbitrary::Unstructured;
    use rand_core::{Rng, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    // The same count in debug (CI replays in debug: a release build of the fuzz crate costs more
    // than the replay saves) and release.
    const CASES: usize = 5000;

    fn replay(seed: u64, check: fn(&Case) -> Outcome) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut bytes = vec![0u8; 4096];
        let (mut ran, mut ok, mut compared) = (0, 0, 0);
        for _ in 0..CASES {
            let len = 64 + (rng.next_u32() as usize % 4000);
            bytes[..len].iter_mut().for_each(|b| *b = rng.next_u32() as u8);
            if let Ok(case) = Case::arbitrary(&mut Unstructured::new(&bytes[..len])) {
                let o = check(&case);
                ran += 1;
                ok += usize::from(o.ok);
                compared += usize::from(o.compared);
            }
        }
        println!(
            "seed {seed}: {ran} cases, {ok} Ok (widths compared), {compared} compared with the reference"
        );
        assert!(ran > CASES / 2, "only {ran} cases decoded");
        assert!(
            ok > ran / 10 && compared > ran / 20,
            "too few valid cases: the generator needs tuning"
        );
    }

    /// `unjudge_decay_cancellation` leaves unjudged the element whose decay cancels its scaled
    /// gradient (the fuzzer's SGD case: ±3,140 → −0.09) and judges its neighbours: one where
    /// the terms add, one without decay's cancellation, and the momentum buffer's element of
    /// each.
    #[test]
    fn decay_cancellation_leaves_only_the_cancelling_element_unjudged() {
        let h = reference::Sgd {
            lr: 2.0,
            momentum: 2.0,
            dampening: 0.0,
            weight_decay: 785.066_650_390_625,
            nesterov: true,
            maximize: true,
            grad_scale: 785.065_185_546_875,
        };
        // Element 0 cancels (λθ ≈ s·g, the fuzzer's values); in element 1 the terms add (g of
        // the other sign); in element 2 they cancel by half only.
        let p = vec![3.999_877_5, 1e-3, 1e-3];
        let g = vec![3.999_999_5, -1e-3, 2e-3];
        let before = vec![p.clone(), vec![-3.968_872, 0.5, 0.5]];
        let mut after = before.clone();
        match after.as_mut_slice() {
            [p, b] => reference::sgd(p, &g, b, false, &h),
            _ => unreachable!(),
        }
        let s = -h.grad_scale;
        let gain = (h.lr * (1.0 + h.momentum)).max(1.0);
        unjudge_decay_cancellation(&before, &mut after, &g, s, h.weight_decay, gain, 1e-6);
        let unjudged: Vec<Vec<bool>> =
            after.iter().map(|b| b.iter().map(|x| x.is_infinite()).collect()).collect();
        assert_eq!(unjudged, [[true, false, false], [true, false, false]]);
    }

    /// Crashes the fuzzer found, replayed (`fuzz/regressions/<target>/`, raw libFuzzer inputs).
    #[test]
    fn regressions() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/regressions");
        let mut ran = 0;
        for (target, check) in [
            ("sgd", check_sgd as fn(&Case) -> Outcome),
            ("adam", check_adam),
            ("momentum", check_momentum),
            ("others", check_others),
            ("init", check_init),
            ("grad", check_grad),
            ("cross_entropy", check_cross_entropy),
            ("schedules", check_schedules),
            ("capi", check_capi),
            ("breadth", check_breadth),
            ("formats", check_formats),
        ] {
            let Ok(entries) = std::fs::read_dir(format!("{dir}/{target}")) else { continue };
            for e in entries {
                let bytes = std::fs::read(e.unwrap().path()).unwrap();
                if let Ok(case) = Case::arbitrary_take_rest(Unstructured::new(&bytes)) {
                    check(&case);
                    ran += 1;
                }
            }
        }
        assert!(ran > 0, "no regression inputs under {dir}");
    }

    #[test]
    fn replay_sgd() {
        replay(1, check_sgd);
    }

    #[test]
    fn replay_adam() {
        replay(2, check_adam);
    }

    #[test]
    fn replay_momentum() {
        replay(3, check_momentum);
    }

    #[test]
    fn replay_others() {
        replay(4, check_others);
    }

    #[test]
    fn replay_breadth() {
        replay(16, check_breadth);
    }

    #[test]
    fn replay_lbfgs() {
        replay(15, check_lbfgs);
    }

    #[test]
    fn replay_muon() {
        replay(14, check_muon);
    }

    #[test]
    fn replay_init() {
        replay_any(5, check_init);
    }

    #[test]
    fn replay_grad() {
        replay_any(6, check_grad);
    }

    #[test]
    fn replay_cross_entropy() {
        replay_any(7, check_cross_entropy);
    }

    #[test]
    fn replay_schedules() {
        replay_any(8, check_schedules);
    }

    #[test]
    fn replay_formats() {
        replay_any(17, check_formats);
    }

    #[test]
    fn replay_capi() {
        replay_any(9, check_capi);
    }

    /// Replays without the valid/compared quotas (these checks count differently).
    fn replay_any(seed: u64, check: fn(&Case) -> Outcome) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut bytes = vec![0u8; 4096];
        let mut ok = 0;
        for _ in 0..CASES {
            let len = 64 + (rng.next_u32() as usize % 4000);
            bytes[..len].iter_mut().for_each(|b| *b = rng.next_u32() as u8);
            if let Ok(case) = Case::arbitrary(&mut Unstructured::new(&bytes[..len])) {
                ok += usize::from(check(&case).ok);
            }
        }
        println!("seed {seed}: {ok} of {CASES} Ok");
        assert!(ok > 0, "no valid case");
    }
}
