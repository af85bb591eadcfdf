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
    /// hyperparameter 0 or of moderate magnitude. (A subnormal weight decay, say, makes
    /// `v = g²` underflow in f32 and not in f64: a legitimate difference, not a bug; found by
    /// the fuzzer, kept as `tests::regressions`.)
    fn comparable(&self) -> bool {
        self.moderate
            && self.hyper.iter().all(|h| {
                let x = h.get().abs();
                x == 0.0 || (1e-9..=1e9).contains(&x)
            })
    }
    fn numerics(&self) -> Numerics {
        if self.flag(7) { Numerics::Portable } else { Numerics::Torch }
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
        let scale = muts
            .iter()
            .chain(&ins)
            .flatten()
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
    let r = reference::Sgd {
        lr: cfg.lr,
        momentum: cfg.momentum,
        dampening: cfg.dampening,
        weight_decay: cfg.weight_decay,
        nesterov: cfg.nesterov,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    };
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
        reference: &|m, i, t, (_, r)| match m {
            [p, b] => reference::sgd(p, &i[0], b, t == 1, r),
            _ => unreachable!(),
        },
        tol: 1e-6,
        conditioned: true,
    };
    check(case, &spec, 3)
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
        numerics: case.numerics(),
    };
    let r = reference::Adam {
        lr: cfg.lr,
        beta1: cfg.beta1,
        beta2: cfg.beta2,
        eps: cfg.eps,
        weight_decay: cfg.weight_decay,
        decoupled: cfg.decoupled_weight_decay,
        amsgrad: cfg.amsgrad,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
        eps_hat: cfg.eps_hat,
    };
    let spec = Spec {
        name: "adam",
        muts: 4,
        non_negative: &[2, 3],
        hyper: (cfg, r),
        run: &|w, m, i, t, (cfg, _)| match m {
            [p, m1, v, vmax] => optkern::adam_step_with(w, p, i[0], m1, v, vmax, t, cfg),
            _ => unreachable!(),
        },
        valid: &|l, t, (cfg, r)| {
            let vmax_ok = l[3] == l[0] || (!cfg.amsgrad && l[3] == 0);
            l[1] == l[0] && l[2] == l[0] && l[4] == l[0] && vmax_ok && reference::accepts_adam(r, t)
        },
        reference: &|m, i, t, (_, r)| match m {
            [p, m1, v, vmax] => reference::adam(p, &i[0], m1, v, vmax, t, r),
            _ => unreachable!(),
        },
        // One step; the division by √v̂ + ε with ε ≈ 0 and tiny v amplifies f32 rounding of v,
        // so the bound is looser than SGD's.
        tol: 1e-5,
        // Torch's lerp computes 1 − w from the f32 w = c(1 − β₁): for 0 < β₁ ≪ 1 the first
        // moment then carries a relative error of ~2⁻²⁵/β₁ (torch has it too; found by the
        // fuzzer, kept in regressions/adam/). Compare only where that is below the tolerance.
        conditioned: cfg.numerics == Numerics::Portable || cfg.beta1 == 0.0 || cfg.beta1 >= 0.01,
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
    let r = reference::Momentum {
        lr: cfg.lr,
        momentum: cfg.momentum,
        weight_decay: cfg.weight_decay,
        grad_scale: f64::from(cfg.grad_scale),
    };
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
        reference: &|m, i, _, (_, r)| match m {
            [p, v] => reference::momentum(p, &i[0], v, r),
            _ => unreachable!(),
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

#[cfg(test)]
mod tests {
    //! Replays the checks over a seeded stream of arbitrary cases on stable.
    use super::*;
    use arbitrary::Unstructured;
    use rand_core::{Rng, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    const CASES: usize = if cfg!(debug_assertions) { 300 } else { 5000 };

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

    /// Crashes the fuzzer found, replayed (`fuzz/regressions/<target>/`, raw libFuzzer inputs).
    #[test]
    fn regressions() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/regressions");
        let mut ran = 0;
        for (target, check) in [
            ("sgd", check_sgd as fn(&Case) -> Outcome),
            ("adam", check_adam),
            ("momentum", check_momentum),
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
}
