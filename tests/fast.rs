//! The `Fast` profile's promises (README "Numerics profiles"), for every kernel that has it.
//!
//! `Fast` is Portable's expressions with each multiply-add fused (on FMA builds) and each
//! `p + a/d` computed as `fma(a, recip(d), p)` from the refined estimates of `src/fast.rs`
//! (`recip` within 0.527 and `sqrt` within 0.800 units in the last place of the exact value,
//! over all 2³² f32 inputs). Checked here, one step from the same state, on golden-like
//! inputs and on adversarial ones (tiny, subnormal, zero and huge second moments, `ε`
//! dominating and `ε = 0`, zero, subnormal and huge gradients, NaN and ±∞):
//!
//! * **Exactly that.** Every buffer has the bits of the bit model (`tests/reference/src/bits.rs`
//!   with optkern's `recip` and `sqrt` as primitives), so everything but the estimates is
//!   pinned bit for bit.
//! * **The bound of the estimates.** Against the same model with IEEE division and square
//!   root, every value `y` that takes a quotient (the parameters, RMSprop's momentum buffer)
//!   satisfies `|y_fast − y_ieee| ≤ ulp(y) + 2⁻²²·|q|` with `q` the step's quotient term
//!   (`y − y_old`; `b − μ·b_old` for the momentum buffer), plus, for parameters updated through
//!   RMSprop's momentum buffer, `η·|Δb| + ulp(η·b)`: the update carries at most 2⁻²² of
//!   relative error from the estimates, and the sum rounds once.
//! * **Against Portable** (reported, not bounded: the fused multiply-adds round once where
//!   Portable rounds twice, which in a cancellation can be many ulps of a small result):
//!   NaN and infinities exactly where Portable has them.
//! * **Errors.** The kernels without a `Fast` form refuse it, writing nothing.
//! * **Trajectory.** 10⁴ Adam steps on a fixed quadratic follow Portable's trajectory.
//!
//! Width, offset and chunking exactness, the bit model at every length and the f64-reference
//! bounds are those of every case (`Fast` cases are in `common::kernels::cases`).

mod common;
use common::kernels::{FAST, adagrad_configs, adam_configs, cases, rmsprop_configs};
use common::to_reference::ToReference;
use common::*;
use optkern::{AdagradConfig, AdamConfig, Numerics, RmspropConfig};
use optkern_reference::bits::{self, Estimates, Ops};

/// The bit model of `Fast`, and of `Fast` with IEEE division and square root.
const MODEL: Ops = Ops { torch: false, fused: optkern::FUSED_MUL_ADD, fast: Some(FAST) };
const IEEE: Ops = Ops {
    torch: false,
    fused: optkern::FUSED_MUL_ADD,
    fast: Some(Estimates { recip: |x| 1.0 / x, sqrt: f32::sqrt }),
};

const N: usize = 4099;

/// Unit in the last place of `x` (subnormal spacing below 2⁻¹²⁶).
fn ulp(x: f32) -> f64 {
    let exponent = ((x.to_bits() >> 23) & 0xff) as i32;
    2f64.powi(exponent.max(1) - 127 - 23)
}

/// The largest departures seen, for the report.
#[derive(Default)]
struct Worst {
    /// `|y_fast − y_ieee|` in ulp of `y_ieee`.
    ulps: f64,
    /// `(|y_fast − y_ieee| − ulp)/|q|` in units of 2⁻²⁴, where `|q|` is at least 2¹⁰ ulp.
    relative: f64,
    differing: usize,
    compared: usize,
}

/// Checks `fast` against `exact` (the same arithmetic with IEEE division and square root)
/// element by element: the specials agree, and the finite values are within the bound, with
/// `q(i)` the quotient term and `extra(i)` an allowance carried in from another buffer.
fn within_bound(
    what: &str,
    exact: &[f32],
    fast: &[f32],
    q: impl Fn(usize) -> f64,
    extra: impl Fn(usize) -> f64,
    worst: &mut Worst,
) {
    for (i, (&p, &f)) in exact.iter().zip(fast).enumerate() {
        worst.compared += 1;
        if p.is_nan() || f.is_nan() || p.is_infinite() || f.is_infinite() {
            assert!(
                p.to_bits() == f.to_bits() || (p.is_nan() && f.is_nan()),
                "{what}[{i}]: IEEE {p:e}, Fast {f:e}"
            );
            continue;
        }
        if p.to_bits() == f.to_bits() {
            continue;
        }
        worst.differing += 1;
        let diff = (f64::from(f) - f64::from(p)).abs();
        let q = q(i).abs() + ulp(p);
        let bound = ulp(p) + 2f64.powi(-22) * q + extra(i);
        assert!(
            diff <= bound,
            "{what}[{i}]: IEEE {p:e}, Fast {f:e}, |q| {q:e}, allowance {:e}",
            extra(i)
        );
        worst.ulps = worst.ulps.max(diff / ulp(p));
        if q >= 1024.0 * ulp(p) {
            worst.relative = worst.relative.max((diff - ulp(p)).max(0.0) / q * 2f64.powi(24));
        }
    }
}

fn same_bits(what: &str, want: &[f32], got: &[f32]) {
    for (i, (w, g)) in want.iter().zip(got).enumerate() {
        assert!(
            w.to_bits() == g.to_bits() || (w.is_nan() && g.is_nan()),
            "{what}[{i}]: model {w:e}, Fast {g:e}"
        );
    }
}

/// NaN and ±∞ where Portable has them; and, for the report, how far the finite values are.
fn like_portable(what: &str, portable: &[f32], fast: &[f32], worst: &mut Worst) {
    for (i, (&p, &f)) in portable.iter().zip(fast).enumerate() {
        let special = |x: f32| (x.is_nan(), x.is_infinite().then_some(x.is_sign_positive()));
        assert_eq!(special(p), special(f), "{what}[{i}]: Portable {p:e}, Fast {f:e}");
        if p.is_finite() && p != f {
            worst.ulps = worst.ulps.max((f64::from(f) - f64::from(p)).abs() / ulp(p));
            worst.differing += 1;
        }
        worst.compared += 1;
    }
}

/// The inputs of one step: `(params, grads, second-moment-like state, signed state)`, each
/// `N` long. `adversarial` cycles the extremes through every element position; `specials`
/// adds NaN and ±∞.
struct Inputs {
    params: Vec<f32>,
    grads: Vec<f32>,
    second: Vec<f32>,
    signed: Vec<f32>,
}

fn inputs(seed: u64, adversarial: bool, specials: bool) -> Inputs {
    let mut data = Data::new(seed);
    let mut x = Inputs {
        params: data.vec(N, Kind::Param),
        grads: data.vec(N, Kind::Grad),
        second: data.vec(N, Kind::NonNeg),
        signed: data.vec(N, Kind::Signed),
    };
    if adversarial {
        let second = [0.0, 1e-45, 3e-42, 1e-38, 2e-30, 1e-12, 1e20, 3e37];
        let grads = [0.0, -0.0, 1e-44, -2e-39, 1e-20, 3e15, -1e19];
        for i in 0..N {
            if i % 3 == 0 {
                x.second[i] = second[(i / 3) % second.len()];
            }
            if i % 5 == 0 {
                x.grads[i] = grads[(i / 5) % grads.len()];
            }
        }
    }
    if specials {
        let v = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY];
        for i in (0..N).step_by(97) {
            x.grads[i] = v[i % 3];
        }
        for i in (11..N).step_by(101) {
            x.second[i] = [f32::NAN, f32::INFINITY][i % 2];
            x.signed[i] = v[(i + 1) % 3];
        }
    }
    x
}

/// The input sets every kernel runs: golden-like, adversarial, with specials.
const SETS: [(&str, bool, bool); 3] =
    [("random", false, false), ("adversarial", true, false), ("specials", true, true)];

fn report(kernel: &str, [estimates, portable]: &[Worst; 2]) {
    // The estimates are in use: the comparison with IEEE division compared something.
    assert!(!optkern::FAST_ESTIMATES || estimates.differing > 0, "{kernel}: Fast is exact here");
    println!(
        "fast {kernel}: against IEEE division {} of {} values differ, update error at most \
         {:.3} units of 2^-24 (values at most {:.3} ulp apart); against Portable {} of {} \
         differ, at most {:.3} ulp",
        estimates.differing,
        estimates.compared,
        estimates.relative,
        estimates.ulps,
        portable.differing,
        portable.compared,
        portable.ulps
    );
}

/// One step of a kernel in `Fast`, in its bit model, in the model with IEEE division, and in
/// `Portable`: the four results, buffer by buffer.
type Results = [Vec<Vec<f32>>; 4];

/// A way to take one step: optkern in a profile, or the bit model with these operations.
#[derive(Clone, Copy)]
enum Way {
    Optkern(Numerics),
    Model(Ops),
}

/// The four ways of [`Results`], in that order.
const WAYS: [Way; 4] = [
    Way::Optkern(Numerics::Fast),
    Way::Model(MODEL),
    Way::Model(IEEE),
    Way::Optkern(Numerics::Portable),
];

/// One kernel's one-step checks: every configuration, on every input set of [`SETS`], at
/// every step of `steps` (the inputs seeded by `31·step + salt`). `one_step` takes the step in
/// one [`Way`] and returns the buffers; `check` judges the four results (usually
/// [`params_take_the_quotient`]).
fn sweep<C>(
    kernel: &str,
    configs: Vec<(&str, C)>,
    steps: &[u32],
    salt: u64,
    one_step: impl Fn(&C, Way, &Inputs, u32) -> Vec<Vec<f32>>,
    check: impl Fn(&str, &C, &Inputs, &Results, &mut [Worst; 2]),
) {
    let mut worst = [Worst::default(), Worst::default()];
    for (name, cfg) in &configs {
        for (set, adversarial, specials) in SETS {
            for &step in steps {
                let x = inputs(u64::from(step) * 31 + salt, adversarial, specials);
                let r: Results = WAYS.map(|way| one_step(cfg, way, &x, step));
                check(&format!("{kernel}/{name}/{set}/step {step}"), cfg, &x, &r, &mut worst);
            }
        }
    }
    report(kernel, &worst);
}

/// The usual [`sweep`] check: the parameters (buffer 0) take the quotient directly.
fn params_take_the_quotient<C>(what: &str, _: &C, x: &Inputs, r: &Results, w: &mut [Worst; 2]) {
    check_one_step(what, r, &[0], |_, i| f64::from(r[2][0][i]) - f64::from(x.params[i]), w);
}

#[test]
fn adam_fast_is_its_model_within_the_bound() {
    let mut configs = adam_configs();
    configs.push(("eps_zero", AdamConfig { eps: 0.0, ..AdamConfig::default() }));
    configs.push(("amsgrad_adamw", AdamConfig { amsgrad: true, ..AdamConfig::adamw() }));
    let one_step = |cfg: &AdamConfig, way, x: &Inputs, step| {
        let vmax0 = if cfg.amsgrad { x.second.iter().map(|v| v * 1.5).collect() } else { vec![] };
        let mut b = vec![x.params.clone(), x.signed.clone(), x.second.clone(), vmax0];
        let [p, m, v, vmax] = &mut b[..] else { unreachable!() };
        match way {
            Way::Optkern(numerics) => {
                let cfg = AdamConfig { numerics, ..*cfg };
                optkern::adam_step(p, &x.grads, m, v, vmax, step, &cfg).unwrap();
            }
            Way::Model(o) => bits::adam(o, p, &x.grads, m, v, vmax, step, &cfg.to_reference()),
        }
        b
    };
    sweep("adam", configs, &[1, 2, 1000], 1, one_step, params_take_the_quotient);
}

/// The checks of one step: every buffer the model's bits; the quotient buffers (`quotients`,
/// with `q(k, i)` their quotient term) within the bound of the IEEE model; every buffer's
/// specials Portable's.
fn check_one_step(
    what: &str,
    [fast, model, ieee, portable]: &Results,
    quotients: &[usize],
    q: impl Fn(usize, usize) -> f64,
    worst: &mut [Worst; 2],
) {
    for k in 0..fast.len() {
        same_bits(&format!("{what} buffer {k}"), &model[k], &fast[k]);
        like_portable(&format!("{what} buffer {k}"), &portable[k], &fast[k], &mut worst[1]);
    }
    for &k in quotients {
        within_bound(what, &ieee[k], &fast[k], |i| q(k, i), |_| 0.0, &mut worst[0]);
    }
}

#[test]
fn adagrad_fast_is_its_model_within_the_bound() {
    let mut configs = adagrad_configs();
    configs.push(("eps_zero", AdagradConfig { eps: 0.0, ..AdagradConfig::default() }));
    let one_step = |cfg: &AdagradConfig, way, x: &Inputs, step| {
        let (mut p, mut sum) = (x.params.clone(), x.second.clone());
        match way {
            Way::Optkern(numerics) => {
                let cfg = AdagradConfig { numerics, ..*cfg };
                optkern::adagrad_step(&mut p, &x.grads, &mut sum, step, &cfg).unwrap();
            }
            Way::Model(o) => {
                bits::adagrad(o, &mut p, &x.grads, &mut sum, step, &cfg.to_reference());
            }
        }
        vec![p, sum]
    };
    sweep("adagrad", configs, &[1, 2, 1000], 2, one_step, params_take_the_quotient);
}

#[test]
fn rmsprop_fast_is_its_model_within_the_bound() {
    let mut configs = rmsprop_configs();
    configs.push(("eps_zero", RmspropConfig { eps: 0.0, ..RmspropConfig::default() }));
    let one_step = |cfg: &RmspropConfig, way, x: &Inputs, _| {
        let (mut p, mut sq) = (x.params.clone(), x.second.clone());
        let mut b = if cfg.momentum > 0.0 { x.signed.clone() } else { vec![] };
        let mut avg = if cfg.centered { vec![0.0f32; N] } else { vec![] };
        match way {
            Way::Optkern(numerics) => {
                let cfg = RmspropConfig { numerics, ..*cfg };
                optkern::rmsprop_step(&mut p, &x.grads, &mut sq, &mut b, &mut avg, &cfg).unwrap();
            }
            Way::Model(o) => {
                let h = cfg.to_reference();
                bits::rmsprop(o, &mut p, &x.grads, &mut sq, &mut b, &mut avg, &h);
            }
        }
        vec![p, sq, b, avg]
    };
    let check = |what: &str, cfg: &RmspropConfig, x: &Inputs, r: &Results, worst: &mut _| {
        if cfg.momentum == 0.0 {
            return params_take_the_quotient(what, cfg, x, r, worst);
        }
        // b ← μ·b + g/avg, then θ ← θ − η·b: the buffer takes the quotient, the parameters
        // carry its difference.
        let mu = cfg.momentum as f32;
        let q = |_, i: usize| f64::from(r[2][2][i]) - f64::from(mu * x.signed[i]);
        check_one_step(what, r, &[2], q, worst);
        let carried = |i: usize| {
            let db = (f64::from(r[0][2][i]) - f64::from(r[2][2][i])).abs();
            cfg.lr * db * (1.0 + 1e-6) + ulp(cfg.lr as f32 * r[2][2][i])
        };
        within_bound(what, &r[2][0], &r[0][0], |_| 0.0, carried, &mut worst[0]);
    };
    // RMSprop takes no step count: one step, seeded as before (31 + 10).
    sweep("rmsprop", configs, &[1], 10, one_step, check);
}

/// Extremes written into every third (second moments) or fifth (gradients) element.
fn adversarial(mut v: Vec<f32>, kind: Kind) -> Vec<f32> {
    let (every, values): (usize, &[f32]) = match kind {
        Kind::NonNeg => (3, &[0.0, 1e-45, 3e-42, 1e-38, 2e-30, 1e-12, 1e20, 3e37]),
        Kind::Grad => (5, &[0.0, -0.0, 1e-44, -2e-39, 1e-20, 3e15, -1e19]),
        _ => return v,
    };
    for (i, x) in v.iter_mut().enumerate().step_by(every) {
        *x = values[(i / every) % values.len()];
    }
    v
}

/// Every `Fast` case of the catalogue (every configuration of every kernel with the profile)
/// on adversarial inputs, three steps: every buffer the bit model's; where the parameters take
/// the quotient directly (all but RMSprop with momentum, checked above), within the bound of
/// the model with IEEE division.
#[test]
fn every_fast_case_is_its_model_on_adversarial_inputs() {
    let mut worst = Worst::default();
    let mut seen = std::collections::BTreeSet::new();
    for case in cases().into_iter().filter(|c| c.numerics == Numerics::Fast) {
        seen.insert(case.name.split('/').next().unwrap().to_owned());
        let model = case.model.as_ref().expect("a Fast case has a bit model");
        let mut data = Data::new(99);
        let mut muts: Vec<Vec<f32>> =
            case.muts.iter().map(|&k| adversarial(data.vec(N, k), k)).collect();
        for t in 1..=3 {
            let ins: Vec<Vec<f32>> =
                case.ins.iter().map(|&k| adversarial(data.vec(N, k), k)).collect();
            let ins: Vec<&[f32]> = ins.iter().map(|b| &b[..]).collect();
            let step = |f: &dyn Fn(&mut [&mut [f32]])| {
                let mut b = muts.clone();
                let mut refs: Vec<&mut [f32]> = b.iter_mut().map(|x| &mut x[..]).collect();
                f(&mut refs);
                b
            };
            let fast = step(&|m| (case.run)(optkern::Width::NATIVE, m, &ins, t).unwrap());
            let modelled = step(&|m| model(MODEL, m, &ins, t));
            let ieee = step(&|m| model(IEEE, m, &ins, t));
            let what = format!("{} step {t}", case.name);
            for k in 0..fast.len() {
                same_bits(&format!("{what} buffer {k}"), &modelled[k], &fast[k]);
            }
            if !(case.name.starts_with("rmsprop/") && case.name.contains("momentum")) {
                let q = |i: usize| f64::from(ieee[0][i]) - f64::from(muts[0][i]);
                within_bound(&what, &ieee[0], &fast[0], q, |_| 0.0, &mut worst);
            }
            muts = fast;
        }
    }
    println!(
        "fast, every case on adversarial inputs ({seen:?}): {} of {} parameters differ from \
         IEEE division, update error at most {:.3} units of 2^-24",
        worst.differing, worst.compared, worst.relative
    );
    let want = [
        "adadelta",
        "adagrad",
        "adam",
        "adam_prepared",
        "lamb",
        "nadam",
        "nadam_prepared",
        "radam",
        "radam_prepared",
        "rmsprop",
    ];
    assert_eq!(seen.iter().map(|s| s.as_str()).collect::<Vec<_>>(), want);
    assert!(!optkern::FAST_ESTIMATES || worst.differing > 0, "Fast is exact here");
}

/// The kernels without a `Fast` form refuse it and write nothing.
#[test]
fn kernels_without_fast_refuse_it() {
    let (mut p, g, mut a, mut b) =
        (vec![1.0f32; 9], vec![0.5f32; 9], vec![0.0f32; 9], vec![0.0f32; 9]);
    let before = (p.clone(), a.clone(), b.clone());
    let cfg = optkern::AdamaxConfig { numerics: Numerics::Fast, ..Default::default() };
    let err = optkern::adamax_step(&mut p, &g, &mut a, &mut b, 1, &cfg).unwrap_err();
    assert!(
        matches!(err, optkern::Error::InvalidHyperparameter { name: "numerics", .. }),
        "{err:?}"
    );
    let cfg = optkern::LionConfig { numerics: Numerics::Fast, ..Default::default() };
    let err = optkern::lion_step(&mut p, &g, &mut a, &cfg).unwrap_err();
    assert!(
        matches!(err, optkern::Error::InvalidHyperparameter { name: "numerics", .. }),
        "{err:?}"
    );
    let cfg = optkern::SgdConfig { numerics: Numerics::Fast, momentum: 0.9, ..Default::default() };
    let err = optkern::sgd_step(&mut p, &g, &mut a, 1, &cfg).unwrap_err();
    assert!(
        matches!(err, optkern::Error::InvalidHyperparameter { name: "numerics", .. }),
        "{err:?}"
    );
    assert_eq!((p, a, b), before);
}

/// 10⁴ Adam steps on `J(θ) = ½·Σ cᵢ(θᵢ − tᵢ)²` in both profiles, and, as the yardstick, in
/// `Torch` (whose steps differ from Portable's by an ulp or so, like Fast's). While the
/// parameters travel to the minimum the trajectories stay within `10⁻³·η` of each other;
/// once there, Adam's normalised step keeps each coordinate oscillating about the minimum with
/// an amplitude of order η, a motion that amplifies any one-ulp difference (the same happens
/// between Portable and Torch): from then on the test asks only that Fast be no farther from
/// Portable than Torch is, give or take a factor of two, and as close to the minimum.
#[test]
fn a_long_adam_run_stays_near_the_portable_trajectory() {
    const STEPS: u32 = 10_000;
    let n = 256;
    let mut data = Data::new(12);
    let target = data.vec(n, Kind::Signed);
    let curv: Vec<f32> = (0..n).map(|i| 0.5 + i as f32 / n as f32).collect();
    let start: Vec<f32> = data.vec(n, Kind::Signed).iter().map(|x| x * 20.0).collect();
    let cfg = AdamConfig { lr: 1e-2, ..AdamConfig::default() };
    let mut runs = [Numerics::Portable, Numerics::Fast, Numerics::Torch].map(|numerics| {
        (AdamConfig { numerics, ..cfg }, start.clone(), vec![0.0f32; n], vec![0.0f32; n])
    });
    let apart = |a: &[f32], b: &[f32]| {
        a.iter().zip(b).map(|(a, b)| f64::from(a - b).abs()).fold(0.0, f64::max)
    };
    let dist =
        |p: &[f32]| p.iter().zip(&target).map(|(p, t)| f64::from(p - t).abs()).fold(0.0, f64::max);
    // The first step at which every coordinate of Portable is within 10·η of the minimum.
    let mut arrived = None;
    let (mut fast_apart, mut torch_apart) = (0f64, 0f64);
    for t in 1..=STEPS {
        for (cfg, p, m, v) in runs.iter_mut() {
            let g: Vec<f32> =
                p.iter().zip(&target).zip(&curv).map(|((p, t), c)| c * (p - t)).collect();
            optkern::adam_step(p, &g, m, v, &mut [], t, cfg).unwrap();
        }
        let fast = apart(&runs[0].1, &runs[1].1);
        if arrived.is_none() {
            assert!(fast <= 1e-3 * cfg.lr, "step {t}: Fast {fast:e} from Portable on the way");
            if dist(&runs[0].1) < 10.0 * cfg.lr {
                arrived = Some(t);
            }
        }
        fast_apart = fast_apart.max(fast);
        torch_apart = torch_apart.max(apart(&runs[0].1, &runs[2].1));
    }
    let arrived = arrived.expect("Portable reached the minimum");
    println!(
        "fast adam 10^4 steps: within 1e-3·η of Portable for the {arrived} steps to the minimum; \
         after: Fast {:.3}·η and Torch {:.3}·η from Portable at most; distance to the minimum \
         at the end: Portable {:.3}·η, Fast {:.3}·η",
        fast_apart / cfg.lr,
        torch_apart / cfg.lr,
        dist(&runs[0].1) / cfg.lr,
        dist(&runs[1].1) / cfg.lr
    );
    assert!(arrived > 100, "the run must travel before it oscillates ({arrived} steps)");
    assert!(
        fast_apart <= 2.0 * torch_apart.max(1e-3 * cfg.lr),
        "{fast_apart:e} vs {torch_apart:e}"
    );
    assert!(dist(&runs[1].1) <= 2.0 * dist(&runs[0].1).max(cfg.lr));
}
