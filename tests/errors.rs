//! Bad arguments are errors that change nothing: every length mismatch, every invalid
//! hyperparameter (NaN, ±∞, out of range, conflicting options) and `step == 0` returns the
//! documented `Err` with every buffer bit-identical to before. Validity is cross-checked with
//! the reference crate's independent `accepts_*` rules over a grid of special values.

mod common;
use common::to_reference::ToReference;
use common::{Data, Kind, bits};
use optkern::{AdamConfig, AdamPrepared, Error, MomentumConfig, Problem, SgdConfig};
use optkern_reference as reference;

const N: usize = 19;

/// Special values every hyperparameter is tried with.
const SPECIALS: [f64; 12] = [
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    -1.0,
    -1e-300,
    0.0,
    1e-8,
    0.5,
    0.999,
    1.0,
    2.0,
    1e30,
];

/// Buffers for one call: all of length `N`, except the one at `short` (if any), with `N ± 1`.
struct Bufs {
    data: Vec<Vec<f32>>,
}

impl Bufs {
    fn new(count: usize, short: Option<(usize, usize)>) -> Self {
        let mut d = Data::new(9);
        let data = (0..count)
            .map(|k| {
                let len = match short {
                    Some((which, len)) if which == k => len,
                    _ => N,
                };
                d.vec(len, Kind::Grad)
            })
            .collect();
        Bufs { data }
    }
    fn snapshot(&self) -> Vec<Vec<u32>> {
        self.data.iter().map(|b| bits(b)).collect()
    }
}

/// Runs `call` on fresh buffers and asserts the outcome is `expect` (`None` = Ok) and that on
/// `Err` no buffer changed.
fn check(
    count: usize,
    short: Option<(usize, usize)>,
    expect: Option<Error>,
    what: &str,
    call: impl Fn(&mut [Vec<f32>]) -> Result<(), Error>,
) {
    let mut b = Bufs::new(count, short);
    let before = b.snapshot();
    let got = call(&mut b.data);
    match (got, expect) {
        (Ok(()), None) => {}
        (Err(e), Some(want)) => {
            assert_eq!(format!("{e:?}"), format!("{want:?}"), "{what}");
            assert_eq!(b.snapshot(), before, "{what}: a buffer changed on Err");
            assert!(!e.to_string().is_empty());
        }
        (got, want) => panic!("{what}: got {got:?}, expected {want:?}"),
    }
}

fn hyper(name: &'static str, value: f64) -> Error {
    let problem = if value.is_nan() {
        Problem::NaN
    } else if value.is_infinite() {
        Problem::Infinite
    } else {
        Problem::OutOfRange
    };
    Error::InvalidHyperparameter { name, value, problem }
}

fn sgd_call(cfg: SgdConfig, step: u32) -> impl Fn(&mut [Vec<f32>]) -> Result<(), Error> {
    move |b| match b {
        [p, g, buf] => optkern::sgd_step(p, g, buf, step, &cfg),
        _ => unreachable!(),
    }
}

fn adam_call(cfg: AdamConfig, step: u32) -> impl Fn(&mut [Vec<f32>]) -> Result<(), Error> {
    move |b| match b {
        [p, g, m, v, vmax] => optkern::adam_step(p, g, m, v, vmax, step, &cfg),
        _ => unreachable!(),
    }
}

/// `adam_step_prepared` with `prepared` as given (a caller may have changed its fields).
fn adam_prepared_call(k: AdamPrepared) -> impl Fn(&mut [Vec<f32>]) -> Result<(), Error> {
    move |b| match b {
        [p, g, m, v, vmax] => optkern::adam_step_prepared(p, g, m, v, vmax, &k),
        _ => unreachable!(),
    }
}

/// A prepared Adam step of `cfg` at `step` made from a valid one: the check happens at the
/// step call, as for a C caller's struct.
fn prepared_with(cfg: AdamConfig, step: u32) -> AdamPrepared {
    AdamPrepared { cfg, step, ..AdamConfig::default().prepare(1).unwrap() }
}

fn momentum_call(cfg: MomentumConfig) -> impl Fn(&mut [Vec<f32>]) -> Result<(), Error> {
    move |b| match b {
        [p, g, v] => optkern::momentum_step(p, g, v, &cfg),
        _ => unreachable!(),
    }
}

fn lookahead_call(cfg: MomentumConfig) -> impl Fn(&mut [Vec<f32>]) -> Result<(), Error> {
    move |b| match b {
        [out, p, v] => optkern::nesterov_lookahead(out, p, v, &cfg),
        _ => unreachable!(),
    }
}

/// Every non-leading buffer, one element short and one too long.
fn length_cases(names: &[&'static str], call: impl Fn(&mut [Vec<f32>]) -> Result<(), Error>) {
    for (k, name) in names.iter().enumerate().skip(1) {
        for len in [N - 1, N + 1, 0] {
            let want = Error::LengthMismatch { arg: name, expected: N, found: len };
            check(names.len(), Some((k, len)), Some(want), &format!("{name} len {len}"), &call);
        }
    }
}

#[test]
fn length_mismatches_change_nothing() {
    let sgd = SgdConfig { momentum: 0.9, ..Default::default() };
    length_cases(&["params", "grads", "momentum_buffer"], sgd_call(sgd, 1));
    let adam = AdamConfig { amsgrad: true, ..Default::default() };
    length_cases(
        &["params", "grads", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"],
        adam_call(adam, 1),
    );
    length_cases(
        &["params", "grads", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"],
        adam_prepared_call(adam.prepare(1).unwrap()),
    );
    length_cases(&["params", "grads", "velocity"], momentum_call(MomentumConfig::default()));
    length_cases(&["lookahead", "params", "velocity"], lookahead_call(MomentumConfig::default()));
}

#[test]
fn unused_optional_buffers_may_be_empty_and_stay_untouched() {
    // No momentum: the buffer may be empty; if given with the right length it is untouched.
    check(
        3,
        Some((2, 0)),
        None,
        "sgd without momentum, empty buffer",
        sgd_call(SgdConfig::default(), 1),
    );
    let mut b = Bufs::new(3, None);
    let before = bits(&b.data[2]);
    sgd_call(SgdConfig::default(), 1)(&mut b.data).unwrap();
    assert_eq!(bits(&b.data[2]), before);
    // No AMSGrad: max_exp_avg_sq may be empty, or full and untouched.
    check(
        5,
        Some((4, 0)),
        None,
        "adam without amsgrad, empty vmax",
        adam_call(AdamConfig::default(), 1),
    );
    let mut b = Bufs::new(5, None);
    let before = bits(&b.data[4]);
    adam_call(AdamConfig::default(), 1)(&mut b.data).unwrap();
    assert_eq!(bits(&b.data[4]), before);
    // But a wrong non-zero length is still an error.
    let want = Error::LengthMismatch { arg: "max_exp_avg_sq", expected: N, found: 3 };
    check(5, Some((4, 3)), Some(want), "vmax len 3", adam_call(AdamConfig::default(), 1));
}

#[test]
fn empty_slices_are_valid_but_config_is_checked() {
    let (mut p, mut b): (Vec<f32>, Vec<f32>) = (vec![], vec![]);
    optkern::sgd_step(&mut p, &[], &mut b, 1, &SgdConfig::default()).unwrap();
    let bad = SgdConfig { lr: f64::NAN, ..Default::default() };
    let err = optkern::sgd_step(&mut p, &[], &mut b, 1, &bad).unwrap_err();
    assert_eq!(format!("{err:?}"), format!("{:?}", hyper("lr", f64::NAN)));
    optkern::adam_step(&mut [], &[], &mut [], &mut [], &mut [], 1, &AdamConfig::default()).unwrap();
    assert_eq!(
        optkern::adam_step(&mut [], &[], &mut [], &mut [], &mut [], 0, &AdamConfig::default()),
        Err(Error::ZeroStep)
    );
}

/// A prepared step's bias corrections must be finite and in `(0, 1]`; nothing is written
/// otherwise. Its config and step are checked as `adam_step` checks them (above, and here).
#[test]
fn prepared_adam_checks_its_corrections() {
    let good = AdamConfig { amsgrad: true, ..Default::default() }.prepare(3).unwrap();
    let mut rejected = 0;
    for x in SPECIALS {
        let want = (!(x > 0.0 && x <= 1.0)).then(|| hyper("", x));
        rejected += usize::from(want.is_some());
        for name in ["bias_correction1", "bias_correction2_sqrt"] {
            let mut k = good;
            let field = if name == "bias_correction1" {
                &mut k.bias_correction1
            } else {
                &mut k.bias_correction2_sqrt
            };
            *field = x;
            let want = want.map(|_| hyper(name, x));
            check(5, None, want, &format!("{name} = {x}"), adam_prepared_call(k));
        }
    }
    assert_eq!(rejected, 8);
    assert_eq!(AdamConfig::default().prepare(0), Err(Error::ZeroStep));
    check(
        5,
        None,
        Some(Error::ZeroStep),
        "prepared step 0",
        adam_prepared_call(AdamPrepared { step: 0, ..good }),
    );
}

/// A prepared NAdam step's powers must be finite, `μ_t` and `μ_{t+1}` in `[0, 1)` and
/// `1 − β₂ᵗ` in `(0, 1]`; nothing is written otherwise, `state` included. Its config is checked
/// as `nadam_step` checks it (the `nadam` grid of `invalid_hyperparameters…`), its step and
/// lengths here.
#[test]
fn prepared_nadam_checks_its_powers() {
    use optkern::{NadamConfig, NadamPrepared, NadamState, nadam_step_prepared};
    let call = |k: NadamPrepared| {
        move |b: &mut [Vec<f32>]| match b {
            [p, g, m, v] => {
                let mut state = NadamState { mu_product: 0.5 };
                let r = nadam_step_prepared(p, g, m, v, &mut state, &k);
                if r.is_err() {
                    assert_eq!(state.mu_product, 0.5, "state written on Err");
                }
                r
            }
            _ => unreachable!(),
        }
    };
    let good = NadamConfig::default().prepare(3).unwrap();
    let mut rejected = 0;
    for x in SPECIALS {
        let half_open = !(0.0..1.0).contains(&x);
        let unit = !(x > 0.0 && x <= 1.0);
        for (name, bad) in [("mu", half_open), ("mu_next", half_open), ("bias_correction2", unit)] {
            let mut k = good;
            *match name {
                "mu" => &mut k.mu,
                "mu_next" => &mut k.mu_next,
                _ => &mut k.bias_correction2,
            } = x;
            let want = bad.then(|| hyper(name, x));
            rejected += usize::from(bad);
            check(4, None, want, &format!("nadam prepared {name} = {x}"), call(k));
        }
    }
    assert_eq!(rejected, 8 + 8 + 8);
    assert_eq!(NadamConfig::default().prepare(0), Err(Error::ZeroStep));
    check(
        4,
        None,
        Some(Error::ZeroStep),
        "prepared step 0",
        call(NadamPrepared { step: 0, ..good }),
    );
    length_cases(&["params", "grads", "exp_avg", "exp_avg_sq"], call(good));
}

/// A prepared RAdam step's corrections: `1 − β₁ᵗ` and `√(1 − β₂ᵗ)` finite and in `(0, 1]`, the
/// rectifier finite and `≥ 0`; nothing is written otherwise. Its config is checked as
/// `radam_step` checks it (the `radam` grid), its step and lengths here.
#[test]
fn prepared_radam_checks_its_corrections() {
    use optkern::{RadamConfig, RadamPrepared, radam_step_prepared};
    let call = |k: RadamPrepared| {
        move |b: &mut [Vec<f32>]| match b {
            [p, g, m, v] => radam_step_prepared(p, g, m, v, &k),
            _ => unreachable!(),
        }
    };
    // Step 9: rectified with the default β₂ (ρ_t > 5 from step 6 on).
    let good = RadamConfig::default().prepare(9).unwrap();
    assert!(good.rectifier > 0.0);
    let mut rejected = 0;
    for x in SPECIALS {
        let unit = !(x > 0.0 && x <= 1.0);
        let non_negative = !(x.is_finite() && x >= 0.0);
        for (name, bad) in [
            ("bias_correction1", unit),
            ("bias_correction2_sqrt", unit),
            ("rectifier", non_negative),
        ] {
            let mut k = good;
            *match name {
                "bias_correction1" => &mut k.bias_correction1,
                "bias_correction2_sqrt" => &mut k.bias_correction2_sqrt,
                _ => &mut k.rectifier,
            } = x;
            let want = bad.then(|| hyper(name, x));
            rejected += usize::from(bad);
            check(4, None, want, &format!("radam prepared {name} = {x}"), call(k));
        }
    }
    assert_eq!(rejected, 8 + 8 + 5);
    assert_eq!(RadamConfig::default().prepare(0), Err(Error::ZeroStep));
    check(
        4,
        None,
        Some(Error::ZeroStep),
        "prepared step 0",
        call(RadamPrepared { step: 0, ..good }),
    );
    length_cases(&["params", "grads", "exp_avg", "exp_avg_sq"], call(good));
}

#[test]
fn step_zero_changes_nothing() {
    check(3, None, Some(Error::ZeroStep), "sgd step 0", sgd_call(SgdConfig::default(), 0));
    check(5, None, Some(Error::ZeroStep), "adam step 0", adam_call(AdamConfig::default(), 0));
}

#[test]
fn nesterov_conflicts_change_nothing() {
    let bad = SgdConfig { nesterov: true, ..Default::default() };
    let want =
        Error::InvalidHyperparameter { name: "nesterov", value: 0.0, problem: Problem::Conflict };
    check(3, None, Some(want), "nesterov without momentum", sgd_call(bad, 1));
    let bad = SgdConfig { nesterov: true, momentum: 0.9, dampening: 0.1, ..Default::default() };
    let want =
        Error::InvalidHyperparameter { name: "nesterov", value: 0.1, problem: Problem::Conflict };
    check(3, None, Some(want), "nesterov with dampening", sgd_call(bad, 1));
}

/// Each field of each config over the special values: Ok exactly when the reference accepts;
/// otherwise the error names that field and nothing changes.
#[test]
fn every_hyperparameter_is_checked() {
    let mut rejected = 0;
    for x in SPECIALS {
        let d = SgdConfig { momentum: 0.5, ..Default::default() };
        let variants: [(&str, SgdConfig); 5] = [
            ("lr", SgdConfig { lr: x, ..d }),
            ("momentum", SgdConfig { momentum: x, ..d }),
            ("dampening", SgdConfig { dampening: x, ..d }),
            ("weight_decay", SgdConfig { weight_decay: x, ..d }),
            ("grad_scale", SgdConfig { grad_scale: x as f32, ..d }),
        ];
        for (name, cfg) in variants {
            let h = cfg.to_reference();
            let want = (!reference::accepts_sgd(&h, 1))
                .then(|| hyper(name, if name == "grad_scale" { f64::from(x as f32) } else { x }));
            rejected += usize::from(want.is_some());
            check(3, None, want, &format!("sgd {name} = {x}"), sgd_call(cfg, 1));
        }
        let d = AdamConfig { amsgrad: true, ..Default::default() };
        let variants: [(&str, AdamConfig); 6] = [
            ("lr", AdamConfig { lr: x, ..d }),
            ("beta1", AdamConfig { beta1: x, ..d }),
            ("beta2", AdamConfig { beta2: x, ..d }),
            ("eps", AdamConfig { eps: x, ..d }),
            ("weight_decay", AdamConfig { weight_decay: x, ..d }),
            ("grad_scale", AdamConfig { grad_scale: x as f32, ..d }),
        ];
        for (name, cfg) in variants {
            let h = cfg.to_reference();
            let want = (!reference::accepts_adam(&h, 1))
                .then(|| hyper(name, if name == "grad_scale" { f64::from(x as f32) } else { x }));
            rejected += usize::from(want.is_some());
            check(5, None, want, &format!("adam {name} = {x}"), adam_call(cfg, 1));
            let (got, want_dbg) = (format!("{:?}", cfg.prepare(1).err()), format!("{want:?}"));
            assert_eq!(got, want_dbg, "adam prepare {name} = {x}");
            let what = format!("adam prepared {name} = {x}");
            check(5, None, want, &what, adam_prepared_call(prepared_with(cfg, 1)));
        }
        let d = MomentumConfig::default();
        let variants: [(&str, MomentumConfig); 4] = [
            ("lr", MomentumConfig { lr: x, ..d }),
            ("momentum", MomentumConfig { momentum: x, ..d }),
            ("weight_decay", MomentumConfig { weight_decay: x, ..d }),
            ("grad_scale", MomentumConfig { grad_scale: x as f32, ..d }),
        ];
        for (name, cfg) in variants {
            let h = cfg.to_reference();
            let want = (!reference::accepts_momentum(&h))
                .then(|| hyper(name, if name == "grad_scale" { f64::from(x as f32) } else { x }));
            rejected += usize::from(want.is_some());
            check(3, None, want, &format!("momentum {name} = {x}"), momentum_call(cfg));
            check(3, None, want, &format!("lookahead {name} = {x}"), lookahead_call(cfg));
        }
    }
    assert!(rejected > 50, "only {rejected} rejections: the grid does not exercise the checks");
}

/// A config field's name and setter.
type Field<C> = (&'static str, fn(&mut C, f64));

/// The generic grid for the other optimizers: every field over the special values, Ok exactly
/// when the reference accepts, otherwise exactly the `InvalidHyperparameter` that field's
/// value calls for (its name, the value as given — `grad_scale` rounded to f32 — and NaN /
/// Infinite / OutOfRange), or, for a cross-field rule, the error of the field in `related`
/// that the rule names (its own value, OutOfRange), with every buffer unchanged.
#[allow(clippy::type_complexity)]
fn grid<C: Copy>(
    kernel: &str,
    base: C,
    fields: &[Field<C>],
    related: &[(&'static str, fn(&C) -> f64)],
    buffers: usize,
    call: impl Fn(C) -> Box<dyn Fn(&mut [Vec<f32>]) -> Result<(), Error>>,
    accepts: impl Fn(&C) -> bool,
) -> usize {
    let mut rejected = 0;
    for x in SPECIALS {
        for (name, set) in fields {
            let mut cfg = base;
            set(&mut cfg, x);
            let what = format!("{kernel} {name} = {x}");
            let mut b = Bufs::new(buffers, None);
            let before = b.snapshot();
            let got = call(cfg)(&mut b.data);
            if accepts(&cfg) {
                assert!(got.is_ok(), "{what}: rejected valid config: {got:?}");
                continue;
            }
            rejected += 1;
            let given = if *name == "grad_scale" { f64::from(x as f32) } else { x };
            let mut allowed = vec![format!("{:?}", hyper(name, given))];
            for (other, value) in related {
                let v = value(&cfg);
                if v.is_finite() {
                    allowed.push(format!("{:?}", hyper(other, v)));
                }
            }
            let got = match got {
                Err(e) => format!("{e:?}"),
                Ok(()) => panic!("{what}: accepted an invalid config"),
            };
            assert!(allowed.contains(&got), "{what}: got {got}, expected one of {allowed:?}");
            assert_eq!(b.snapshot(), before, "{what}: a buffer changed on Err");
        }
    }
    rejected
}

macro_rules! field {
    ($name:literal, $f:ident) => {
        ($name, |c, x| c.$f = x)
    };
}

/// `grad_scale` is f32: the special value is rounded (NaN and ±∞ stay, 1e30 becomes ∞).
macro_rules! gs {
    () => {
        ("grad_scale", |c, x| c.grad_scale = x as f32)
    };
}

#[test]
fn every_hyperparameter_of_the_other_optimizers_is_checked() {
    use optkern::*;
    let mut rejected = 0;
    rejected += grid(
        "adagrad",
        AdagradConfig::default(),
        &[
            field!("lr", lr),
            field!("lr_decay", lr_decay),
            field!("weight_decay", weight_decay),
            field!("initial_accumulator_value", initial_accumulator_value),
            field!("eps", eps),
            gs!(),
        ],
        &[],
        3,
        |cfg| {
            Box::new(move |b| match b {
                [p, g, s] => adagrad_step(p, g, s, 1, &cfg),
                _ => unreachable!(),
            })
        },
        |c| reference::accepts_adagrad(&c.to_reference(), 1),
    );
    rejected += grid(
        "rmsprop",
        RmspropConfig { momentum: 0.5, centered: true, ..Default::default() },
        &[
            field!("lr", lr),
            field!("alpha", alpha),
            field!("eps", eps),
            field!("weight_decay", weight_decay),
            field!("momentum", momentum),
            gs!(),
        ],
        &[],
        5,
        |cfg| {
            Box::new(move |b| match b {
                [p, g, sq, mb, ga] => rmsprop_step(p, g, sq, mb, ga, &cfg),
                _ => unreachable!(),
            })
        },
        |c| reference::accepts_rmsprop(&c.to_reference()),
    );
    rejected += grid(
        "adamax",
        AdamaxConfig::default(),
        &[
            field!("lr", lr),
            field!("beta1", beta1),
            field!("beta2", beta2),
            field!("eps", eps),
            field!("weight_decay", weight_decay),
            gs!(),
        ],
        &[],
        4,
        |cfg| {
            Box::new(move |b| match b {
                [p, g, m, u] => adamax_step(p, g, m, u, 1, &cfg),
                _ => unreachable!(),
            })
        },
        |c| reference::accepts_adamax(&c.to_reference(), 1),
    );
    rejected += grid(
        "adadelta",
        AdadeltaConfig::default(),
        &[
            field!("lr", lr),
            field!("rho", rho),
            field!("eps", eps),
            field!("weight_decay", weight_decay),
            gs!(),
        ],
        &[],
        4,
        |cfg| {
            Box::new(move |b| match b {
                [p, g, sq, acc] => adadelta_step(p, g, sq, acc, &cfg),
                _ => unreachable!(),
            })
        },
        |c| reference::accepts_adadelta(&c.to_reference()),
    );
    rejected += grid(
        "nadam",
        NadamConfig::default(),
        &[
            field!("lr", lr),
            field!("beta1", beta1),
            field!("beta2", beta2),
            field!("eps", eps),
            field!("weight_decay", weight_decay),
            field!("momentum_decay", momentum_decay),
            gs!(),
        ],
        &[],
        4,
        |cfg| {
            Box::new(move |b| match b {
                [p, g, m, v] => {
                    // The prepared form, on copies: the same error from `prepare` and from a
                    // prepared call with an invalid `cfg` put in after, the same bits otherwise.
                    let valid = NadamConfig::default().prepare(1).unwrap();
                    let prepared = cfg.prepare(1).unwrap_or(NadamPrepared { cfg, ..valid });
                    let (mut b2, mut st2) =
                        ([p.clone(), m.clone(), v.clone()], NadamState::default());
                    let [p2, m2, v2] = &mut b2;
                    let r2 = nadam_step_prepared(p2, g, m2, v2, &mut st2, &prepared);
                    let mut st = NadamState::default();
                    let r = nadam_step(p, g, m, v, &mut st, 1, &cfg);
                    // The scalar state follows the same rule: unchanged on Err.
                    if r.is_err() {
                        assert_eq!(st, NadamState::default());
                    }
                    assert_eq!(format!("{r2:?}"), format!("{r:?}"), "nadam prepared");
                    assert_eq!(format!("{:?}", cfg.prepare(1).err()), format!("{:?}", r.err()));
                    assert_eq!(st2, st, "nadam prepared state");
                    assert_eq!(b2.map(|x| bits(&x)), [bits(p), bits(m), bits(v)], "nadam prepared");
                    r
                }
                _ => unreachable!(),
            })
        },
        |c| reference::accepts_nadam(&c.to_reference(), 1),
    );
    rejected += grid(
        "radam",
        RadamConfig::default(),
        &[
            field!("lr", lr),
            field!("beta1", beta1),
            field!("beta2", beta2),
            field!("eps", eps),
            field!("weight_decay", weight_decay),
            gs!(),
        ],
        &[],
        4,
        |cfg| {
            Box::new(move |b| match b {
                [p, g, m, v] => {
                    // The prepared form, on copies, as for NAdam above.
                    let valid = RadamConfig::default().prepare(1).unwrap();
                    let prepared = cfg.prepare(1).unwrap_or(RadamPrepared { cfg, ..valid });
                    let mut b2 = [p.clone(), m.clone(), v.clone()];
                    let [p2, m2, v2] = &mut b2;
                    let r2 = radam_step_prepared(p2, g, m2, v2, &prepared);
                    let r = radam_step(p, g, m, v, 1, &cfg);
                    assert_eq!(format!("{r2:?}"), format!("{r:?}"), "radam prepared");
                    assert_eq!(format!("{:?}", cfg.prepare(1).err()), format!("{:?}", r.err()));
                    assert_eq!(b2.map(|x| bits(&x)), [bits(p), bits(m), bits(v)], "radam prepared");
                    r
                }
                _ => unreachable!(),
            })
        },
        |c| reference::accepts_radam(&c.to_reference(), 1),
    );
    rejected += grid(
        "asgd",
        AsgdConfig::default(),
        &[
            field!("lr", lr),
            field!("lambd", lambd),
            field!("alpha", alpha),
            field!("t0", t0),
            field!("weight_decay", weight_decay),
            gs!(),
        ],
        &[],
        3,
        |cfg| {
            Box::new(move |b| match b {
                [p, g, ax] => {
                    let mut st = AsgdState::new(0.01);
                    let r = asgd_step(p, g, ax, &mut st, 1, &cfg);
                    if r.is_err() {
                        assert_eq!(st, AsgdState::new(0.01));
                    }
                    r
                }
                _ => unreachable!(),
            })
        },
        |c| reference::accepts_asgd(&c.to_reference(), 1),
    );
    rejected += grid(
        "rprop",
        RpropConfig::default(),
        &[
            field!("lr", lr),
            field!("etaminus", etaminus),
            field!("etaplus", etaplus),
            field!("step_size_min", step_size_min),
            field!("step_size_max", step_size_max),
            gs!(),
        ],
        &[("step_size_max", |c| c.step_size_max)],
        4,
        |cfg| {
            Box::new(move |b| match b {
                [p, g, prev, ss] => rprop_step(p, g, prev, ss, 1, &cfg),
                _ => unreachable!(),
            })
        },
        |c| reference::accepts_rprop(&c.to_reference(), 1),
    );
    let adafactor_accepts =
        |c: &AdafactorConfig| reference::accepts_adafactor(&c.to_reference(), 1);
    let adafactor_fields: [Field<AdafactorConfig>; 7] = [
        field!("lr", lr),
        field!("beta2_decay", beta2_decay),
        field!("eps1", eps1),
        field!("eps2", eps2),
        field!("d", d),
        field!("weight_decay", weight_decay),
        gs!(),
    ];
    rejected += grid(
        "adafactor",
        AdafactorConfig::default(),
        &adafactor_fields,
        &[],
        3,
        |cfg| {
            Box::new(move |b| match b {
                [p, g, var] => adafactor_step(p, g, var, 1, &cfg),
                _ => unreachable!(),
            })
        },
        adafactor_accepts,
    );
    // The factored form on a 19 × 1 matrix (Bufs are all N = 19 long; col_var is sliced to 1).
    rejected += grid(
        "adafactor_factored",
        AdafactorConfig::default(),
        &adafactor_fields,
        &[],
        4,
        |cfg| {
            Box::new(move |b| match b {
                [p, g, row, col] => {
                    adafactor_factored_step(p, g, row, &mut col[..1], N, 1, 1, &cfg)
                }
                _ => unreachable!(),
            })
        },
        adafactor_accepts,
    );
    rejected += grid(
        "lion",
        LionConfig::default(),
        &[
            field!("lr", lr),
            field!("beta1", beta1),
            field!("beta2", beta2),
            field!("weight_decay", weight_decay),
            gs!(),
        ],
        &[],
        3,
        |cfg| {
            Box::new(move |b| match b {
                [p, g, m] => lion_step(p, g, m, &cfg),
                _ => unreachable!(),
            })
        },
        |c| reference::accepts_lion(&c.to_reference()),
    );
    rejected += grid(
        "lamb",
        LambConfig::default(),
        &[
            field!("lr", lr),
            field!("beta1", beta1),
            field!("beta2", beta2),
            field!("eps", eps),
            field!("weight_decay", weight_decay),
            gs!(),
        ],
        &[],
        4,
        |cfg| {
            Box::new(move |b| match b {
                [p, g, m, v] => lamb_step(p, g, m, v, 1, &cfg),
                _ => unreachable!(),
            })
        },
        |c| reference::accepts_lamb(&c.to_reference(), 1),
    );
    rejected += grid(
        "lars",
        LarsConfig::default(),
        &[
            field!("lr", lr),
            field!("momentum", momentum),
            field!("weight_decay", weight_decay),
            field!("trust_coefficient", trust_coefficient),
            field!("eps", eps),
            gs!(),
        ],
        &[],
        3,
        |cfg| {
            Box::new(move |b| match b {
                [p, g, v] => lars_step(p, g, v, &cfg),
                _ => unreachable!(),
            })
        },
        |c| reference::accepts_lars(&c.to_reference()),
    );
    rejected += grid(
        "ema",
        EmaConfig { warmup: true, ..Default::default() },
        &[
            field!("decay", decay),
            field!("min_decay", min_decay),
            field!("warmup_gamma", warmup_gamma),
            field!("warmup_power", warmup_power),
        ],
        &[],
        2,
        |cfg| {
            Box::new(move |b| match b {
                [a, p] => ema_update(a, p, 3, &cfg),
                _ => unreachable!(),
            })
        },
        |c| reference::accepts_ema(&c.to_reference(), 3),
    );
    assert!(rejected > 400, "only {rejected} rejections");
}

#[test]
fn length_mismatches_of_the_other_optimizers_change_nothing() {
    use optkern::*;
    length_cases(&["params", "grads", "sum"], |b| match b {
        [p, g, s] => adagrad_step(p, g, s, 1, &AdagradConfig::default()),
        _ => unreachable!(),
    });
    let rms = RmspropConfig { momentum: 0.5, centered: true, ..Default::default() };
    length_cases(&["params", "grads", "square_avg", "momentum_buffer", "grad_avg"], |b| match b {
        [p, g, sq, mb, ga] => rmsprop_step(p, g, sq, mb, ga, &rms),
        _ => unreachable!(),
    });
    length_cases(&["params", "grads", "exp_avg", "exp_inf"], |b| match b {
        [p, g, m, u] => adamax_step(p, g, m, u, 1, &AdamaxConfig::default()),
        _ => unreachable!(),
    });
    length_cases(&["params", "grads", "square_avg", "acc_delta"], |b| match b {
        [p, g, sq, acc] => adadelta_step(p, g, sq, acc, &AdadeltaConfig::default()),
        _ => unreachable!(),
    });
    length_cases(&["params", "grads", "exp_avg", "exp_avg_sq"], |b| match b {
        [p, g, m, v] => {
            nadam_step(p, g, m, v, &mut NadamState::default(), 1, &NadamConfig::default())
        }
        _ => unreachable!(),
    });
    length_cases(&["params", "grads", "exp_avg", "exp_avg_sq"], |b| match b {
        [p, g, m, v] => radam_step(p, g, m, v, 1, &RadamConfig::default()),
        _ => unreachable!(),
    });
    length_cases(&["params", "grads", "ax"], |b| match b {
        [p, g, ax] => asgd_step(p, g, ax, &mut AsgdState::new(0.01), 1, &AsgdConfig::default()),
        _ => unreachable!(),
    });
    length_cases(&["params", "grads", "prev", "step_size"], |b| match b {
        [p, g, pr, ss] => rprop_step(p, g, pr, ss, 1, &RpropConfig::default()),
        _ => unreachable!(),
    });
    length_cases(&["params", "grads", "variance"], |b| match b {
        [p, g, v] => adafactor_step(p, g, v, 1, &AdafactorConfig::default()),
        _ => unreachable!(),
    });
    length_cases(&["params", "grads", "exp_avg"], |b| match b {
        [p, g, m] => lion_step(p, g, m, &LionConfig::default()),
        _ => unreachable!(),
    });
    length_cases(&["params", "grads", "exp_avg", "exp_avg_sq"], |b| match b {
        [p, g, m, v] => lamb_step(p, g, m, v, 1, &LambConfig::default()),
        _ => unreachable!(),
    });
    length_cases(&["params", "grads", "velocity"], |b| match b {
        [p, g, v] => lars_step(p, g, v, &LarsConfig::default()),
        _ => unreachable!(),
    });
    length_cases(&["average", "params"], |b| match b {
        [a, p] => swa_update(a, p, 1, &SwaConfig::default()),
        _ => unreachable!(),
    });
    length_cases(&["average", "params"], |b| match b {
        [a, p] => ema_update(a, p, 2, &EmaConfig::default()),
        _ => unreachable!(),
    });
    // Factored Adafactor: params/grads must hold rows·cols, the statistics rows and cols.
    let cfg = AdafactorConfig::default();
    for (rows, cols, plen, glen, rlen, clen, want) in [
        (4, 5, 19, 20, 4, 5, Error::LengthMismatch { arg: "params", expected: 20, found: 19 }),
        (4, 5, 20, 21, 4, 5, Error::LengthMismatch { arg: "grads", expected: 20, found: 21 }),
        (4, 5, 20, 20, 5, 5, Error::LengthMismatch { arg: "row_var", expected: 4, found: 5 }),
        (4, 5, 20, 20, 4, 4, Error::LengthMismatch { arg: "col_var", expected: 5, found: 4 }),
        (
            usize::MAX,
            2,
            20,
            20,
            4,
            2,
            Error::LengthMismatch { arg: "params", expected: usize::MAX, found: 20 },
        ),
    ] {
        let mut d = Data::new(1);
        let (mut p, g, mut r, mut c) = (
            d.vec(plen, Kind::Param),
            d.vec(glen, Kind::Grad),
            d.vec(rlen, Kind::NonNeg),
            d.vec(clen, Kind::NonNeg),
        );
        let before = (bits(&p), bits(&r), bits(&c));
        let got = adafactor_factored_step(&mut p, &g, &mut r, &mut c, rows, cols, 1, &cfg);
        assert_eq!(got, Err(want));
        assert_eq!((bits(&p), bits(&r), bits(&c)), before);
    }
}

/// SparseAdam: every length rule, an index past the last row, a short scratch, step 0 and
/// every hyperparameter; nothing written on `Err` (scratch included).
#[test]
fn sparse_adam_errors_change_nothing() {
    use optkern::*;
    let (rows, cols) = (5, 3);
    let call = |lens: [usize; 5], indices: &[usize], step: u32, cfg: &SparseAdamConfig| {
        let mut d = Data::new(3);
        let (mut p, mut m, mut v) = (
            d.vec(lens[0], Kind::Param),
            d.vec(lens[1], Kind::Signed),
            d.vec(lens[2], Kind::NonNeg),
        );
        let values = d.vec(lens[3], Kind::Grad);
        let mut scratch = vec![7usize; lens[4]];
        let before = (bits(&p), bits(&m), bits(&v), scratch.clone());
        let got = sparse_adam_step(
            &mut p,
            &mut m,
            &mut v,
            rows,
            cols,
            indices,
            &values,
            &mut scratch,
            step,
            cfg,
        );
        if got.is_err() {
            assert_eq!(
                (bits(&p), bits(&m), bits(&v), scratch),
                before,
                "{got:?}: a buffer changed"
            );
        }
        got
    };
    let d = SparseAdamConfig::default();
    let ok = [15, 15, 15, 6, 2];
    assert_eq!(call(ok, &[4, 0], 1, &d), Ok(()));
    assert_eq!(call([15, 15, 15, 6, 3], &[4, 0], 1, &d), Ok(()), "a longer scratch is fine");
    let mismatch = |arg, expected, found| Err(Error::LengthMismatch { arg, expected, found });
    assert_eq!(call([14, 15, 15, 6, 2], &[4, 0], 1, &d), mismatch("params", 15, 14));
    assert_eq!(call([15, 16, 15, 6, 2], &[4, 0], 1, &d), mismatch("exp_avg", 15, 16));
    assert_eq!(call([15, 15, 0, 6, 2], &[4, 0], 1, &d), mismatch("exp_avg_sq", 15, 0));
    assert_eq!(call([15, 15, 15, 5, 2], &[4, 0], 1, &d), mismatch("values", 6, 5));
    assert_eq!(call([15, 15, 15, 6, 1], &[4, 0], 1, &d), mismatch("scratch", 2, 1));
    assert_eq!(
        call(ok, &[5, 0], 1, &d),
        Err(Error::IndexOutOfRange { arg: "indices", index: 5, bound: 5 })
    );
    assert_eq!(
        call(ok, &[1, usize::MAX], 1, &d),
        Err(Error::IndexOutOfRange { arg: "indices", index: usize::MAX, bound: 5 })
    );
    assert_eq!(call(ok, &[4, 0], 0, &d), Err(Error::ZeroStep));
    let mut rejected = 0;
    for x in SPECIALS {
        let fields: [Field<SparseAdamConfig>; 5] = [
            ("lr", |c, x| c.lr = x),
            ("beta1", |c, x| c.beta1 = x),
            ("beta2", |c, x| c.beta2 = x),
            ("eps", |c, x| c.eps = x),
            ("grad_scale", |c, x| c.grad_scale = x as f32),
        ];
        for (name, set) in fields {
            let mut cfg = d;
            set(&mut cfg, x);
            let got = call(ok, &[4, 0], 1, &cfg);
            if reference::accepts_sparse_adam(&cfg.to_reference(), 1) {
                assert_eq!(got, Ok(()), "{name} = {x}");
            } else {
                rejected += 1;
                let given = if name == "grad_scale" { f64::from(x as f32) } else { x };
                // Debug strings: a NaN value is not `==` itself.
                assert_eq!(format!("{got:?}"), format!("{:?}", Err::<(), _>(hyper(name, given))));
            }
        }
    }
    assert!(rejected > 20, "only {rejected} rejections");
}

/// Muon: lengths, scratch and every hyperparameter; nothing written on `Err`.
#[test]
fn muon_errors_change_nothing() {
    use optkern::*;
    let (rows, cols) = (4, 3);
    let call = |lens: [usize; 4], cfg: &MuonConfig| {
        let mut d = Data::new(4);
        let (mut p, g, mut b) =
            (d.vec(lens[0], Kind::Param), d.vec(lens[1], Kind::Grad), d.vec(lens[2], Kind::Signed));
        let mut scratch = vec![7.0f32; lens[3]];
        let before = (bits(&p), bits(&b), bits(&scratch));
        let got = muon_step(&mut p, &g, &mut b, rows, cols, &mut scratch, cfg);
        if got.is_err() {
            assert_eq!((bits(&p), bits(&b), bits(&scratch)), before, "{got:?}: a buffer changed");
        }
        got
    };
    let d = MuonConfig::default();
    let need = muon_scratch_len(rows, cols);
    assert_eq!(call([12, 12, 12, need], &d), Ok(()));
    let mismatch = |arg, expected, found| Err(Error::LengthMismatch { arg, expected, found });
    assert_eq!(call([11, 12, 12, need], &d), mismatch("params", 12, 11));
    assert_eq!(call([12, 13, 12, need], &d), mismatch("grads", 12, 13));
    assert_eq!(call([12, 12, 0, need], &d), mismatch("momentum_buffer", 12, 0));
    assert_eq!(call([12, 12, 12, need - 1], &d), mismatch("scratch", need, need - 1));
    let mut rejected = 0;
    for x in SPECIALS {
        let fields: [Field<MuonConfig>; 6] = [
            ("lr", |c, x| c.lr = x),
            ("weight_decay", |c, x| c.weight_decay = x),
            ("momentum", |c, x| c.momentum = x),
            ("eps", |c, x| c.eps = x),
            ("ns_coefficients", |c, x| c.ns_coefficients[1] = x),
            ("grad_scale", |c, x| c.grad_scale = x as f32),
        ];
        for (name, set) in fields {
            let mut cfg = d;
            set(&mut cfg, x);
            let valid = match name {
                "lr" | "weight_decay" => x.is_finite() && x >= 0.0,
                "momentum" => x.is_finite() && (0.0..1.0).contains(&x),
                "eps" => x.is_finite() && x > 0.0,
                "ns_coefficients" => x.is_finite(),
                _ => (x as f32).is_finite() && x as f32 >= 0.0,
            };
            let got = call([12, 12, 12, need], &cfg);
            if valid {
                assert_eq!(got, Ok(()), "{name} = {x}");
            } else {
                rejected += 1;
                let given = if name == "grad_scale" { f64::from(x as f32) } else { x };
                assert_eq!(format!("{got:?}"), format!("{:?}", Err::<(), _>(hyper(name, given))));
            }
        }
    }
    assert!(rejected > 20, "only {rejected} rejections");
    // At most 100 Newton–Schulz steps: 100 runs, 101 is refused with its value.
    let most = MuonConfig { ns_steps: 100, ..d };
    assert_eq!(call([12, 12, 12, need], &most), Ok(()), "ns_steps = 100");
    let too_many = MuonConfig { ns_steps: 101, ..d };
    assert_eq!(call([12, 12, 12, need], &too_many), Err(hyper("ns_steps", 101.0)));
}

#[test]
fn step_zero_is_rejected_by_every_stepped_optimizer() {
    use optkern::*;
    check(3, None, Some(Error::ZeroStep), "adagrad", |b| match b {
        [p, g, s] => adagrad_step(p, g, s, 0, &AdagradConfig::default()),
        _ => unreachable!(),
    });
    check(4, None, Some(Error::ZeroStep), "adamax", |b| match b {
        [p, g, m, u] => adamax_step(p, g, m, u, 0, &AdamaxConfig::default()),
        _ => unreachable!(),
    });
    check(4, None, Some(Error::ZeroStep), "nadam", |b| match b {
        [p, g, m, v] => {
            nadam_step(p, g, m, v, &mut NadamState::default(), 0, &NadamConfig::default())
        }
        _ => unreachable!(),
    });
    check(4, None, Some(Error::ZeroStep), "radam", |b| match b {
        [p, g, m, v] => radam_step(p, g, m, v, 0, &RadamConfig::default()),
        _ => unreachable!(),
    });
    check(3, None, Some(Error::ZeroStep), "asgd", |b| match b {
        [p, g, ax] => asgd_step(p, g, ax, &mut AsgdState::new(0.01), 0, &AsgdConfig::default()),
        _ => unreachable!(),
    });
    check(4, None, Some(Error::ZeroStep), "rprop", |b| match b {
        [p, g, pr, ss] => rprop_step(p, g, pr, ss, 0, &RpropConfig::default()),
        _ => unreachable!(),
    });
    check(3, None, Some(Error::ZeroStep), "adafactor", |b| match b {
        [p, g, v] => adafactor_step(p, g, v, 0, &AdafactorConfig::default()),
        _ => unreachable!(),
    });
    check(4, None, Some(Error::ZeroStep), "lamb", |b| match b {
        [p, g, m, v] => lamb_step(p, g, m, v, 0, &LambConfig::default()),
        _ => unreachable!(),
    });
    check(2, None, Some(Error::ZeroStep), "ema", |b| match b {
        [a, p] => ema_update(a, p, 0, &EmaConfig::default()),
        _ => unreachable!(),
    });
    let zero = Some(Error::ZeroStep);
    check(4, None, zero, "adopt", |b| match b {
        [p, g, m, v] => adopt_step(p, g, m, v, 0, &AdoptConfig::default()),
        _ => unreachable!(),
    });
    check(5, None, zero, "adabelief", |b| match b {
        [p, g, m, v, x] => adabelief_step(p, g, m, v, x, 0, &AdabeliefConfig::default()),
        _ => unreachable!(),
    });
    check(5, None, zero, "adabound", |b| match b {
        [p, g, m, v, x] => adabound_step(p, g, m, v, x, 0, &AdaboundConfig::default()),
        _ => unreachable!(),
    });
    check(5, None, zero, "adamod", |b| match b {
        [p, g, m, v, s] => adamod_step(p, g, m, v, s, 0, &AdamodConfig::default()),
        _ => unreachable!(),
    });
    check(4, None, zero, "adamp", |b| match b {
        [p, g, m, v] => adamp_step(p, g, m, v, 0, &AdampConfig::default()),
        _ => unreachable!(),
    });
    check(6, None, zero, "adan", |b| match b {
        [p, g, m, n, v, x] => adan_step(p, g, m, n, v, x, 0, &AdanConfig::default()),
        _ => unreachable!(),
    });
    check(5, None, zero, "ademamix", |b| match b {
        [p, g, m, v, s] => ademamix_step(p, g, m, v, s, 0, &AdemamixConfig::default()),
        _ => unreachable!(),
    });
    check(6, None, zero, "diffgrad", |b| match b {
        [p, g, m, v, x, y] => diffgrad_step(p, g, m, v, x, y, 0, &DiffgradConfig::default()),
        _ => unreachable!(),
    });
    check(4, None, zero, "yogi", |b| match b {
        [p, g, m, v] => yogi_step(p, g, m, v, 0, &YogiConfig::default()),
        _ => unreachable!(),
    });
    check(5, None, zero, "pid", |b| match b {
        [p, g, i, d, x] => pid_step(p, g, i, d, x, 0, &PidConfig::default()),
        _ => unreachable!(),
    });
    check(3, None, zero, "optimistic_gd", |b| match b {
        [p, g, x] => optimistic_gd_step(p, g, x, 0, &OptimisticGdConfig::default()),
        _ => unreachable!(),
    });
}

/// Rprop's step-size bounds may be equal (a fixed step size) and not crossed: the edge of the
/// `step_size_max ≥ step_size_min` rule, which the special values never hit (a mutation of
/// `<` into `<=` survived without this test). Validity is the reference's `accepts_rprop`.
#[test]
fn rprop_step_size_bounds_may_be_equal_but_not_crossed() {
    let g = vec![0.5f32; 4];
    for (min, max) in [(0.01, 0.01), (0.01, 0.009_999), (0.0, 0.0)] {
        let cfg =
            optkern::RpropConfig { step_size_min: min, step_size_max: max, ..Default::default() };
        let want = reference::accepts_rprop(&cfg.to_reference(), 1);
        let (mut p, mut prev, mut size) = (vec![1.0f32; 4], vec![0.0f32; 4], vec![0.0f32; 4]);
        let got = optkern::rprop_step(&mut p, &g, &mut prev, &mut size, 1, &cfg);
        assert_eq!(got.is_ok(), want, "rprop min {min} max {max}: {got:?}");
    }
}

/// A profile's option check: `got` is `Ok` exactly when `ok`; a refusal is a
/// [`Problem::Conflict`] and left the call's buffers (`after`) as they were (`before`).
fn ok_or_conflict<B: PartialEq + std::fmt::Debug>(
    what: &str,
    got: Result<(), Error>,
    ok: bool,
    after: B,
    before: &B,
) {
    assert_eq!(got.is_ok(), ok, "{what}: {got:?}");
    if !ok {
        assert!(
            matches!(got, Err(Error::InvalidHyperparameter { problem: Problem::Conflict, .. })),
            "{what}: {got:?}"
        );
        assert_eq!(&after, before, "{what}: written on Err");
    }
}

/// The bitsandbytes profile's SGD refuses Nesterov and dampening, each alone (bitsandbytes'
/// 8-bit SGD ignores both, so accepting them would silently run another algorithm), and
/// accepts plain momentum; nothing is written on refusal. (The mutation of the refusal's `||`
/// into `&&` survived without this test.)
#[test]
fn bitsandbytes_sgd_refuses_nesterov_and_dampening_each() {
    let base = SgdConfig {
        momentum: 0.9,
        numerics: optkern::Numerics::Bitsandbytes,
        ..Default::default()
    };
    for (what, cfg, ok) in [
        ("plain momentum", base, true),
        ("nesterov", SgdConfig { nesterov: true, ..base }, false),
        ("dampening", SgdConfig { dampening: 0.5, ..base }, false),
    ] {
        let g = vec![0.5f32; 4];
        let (mut p, mut b) = (vec![1.0f32; 4], vec![0.25f32; 4]);
        let got = optkern::sgd_step(&mut p, &g, &mut b, 1, &cfg);
        let what = format!("bitsandbytes SGD with {what}");
        ok_or_conflict(&what, got, ok, (p, b), &(vec![1.0f32; 4], vec![0.25f32; 4]));
    }
}

/// The bitsandbytes profile's RMSprop refuses the centered form and momentum, each alone
/// (bitsandbytes' RMSprop has neither), and accepts the plain form; nothing is written on
/// refusal. (The mutation of the refusal's `||` into `&&` survived the full mutation run of
/// rmsprop.rs without this test.)
#[test]
fn bitsandbytes_rmsprop_refuses_centered_and_momentum_each() {
    use optkern::RmspropConfig;
    let base = RmspropConfig { numerics: optkern::Numerics::Bitsandbytes, ..Default::default() };
    for (what, cfg, ok) in [
        ("the plain form", base, true),
        ("centered", RmspropConfig { centered: true, ..base }, false),
        ("momentum", RmspropConfig { momentum: 0.5, ..base }, false),
    ] {
        let g = vec![0.5f32; 4];
        let start = vec![vec![1.0f32; 4], vec![0.25f32; 4], vec![0.5f32; 4], vec![0.125f32; 4]];
        let [mut p, mut s, mut b, mut a] = start.clone().try_into().unwrap();
        let got = optkern::rmsprop_step(&mut p, &g, &mut s, &mut b, &mut a, &cfg);
        let what = format!("bitsandbytes RMSprop with {what}");
        ok_or_conflict(&what, got, ok, vec![p, s, b, a], &start);
    }
}

/// The bitsandbytes profile's Adam refuses coupled (L2) weight decay, AMSGrad and ε̂, each
/// alone, and accepts decoupled decay and the coupled form at λ = 0 (no decay at all); nothing
/// is written on refusal. (The mutation of the decay check's `!=` into `==` survived the full
/// mutation run of adam.rs without this test.)
#[test]
fn bitsandbytes_adam_refuses_what_bitsandbytes_does_not_do() {
    use optkern::AdamConfig;
    let base = AdamConfig {
        weight_decay: 0.01,
        decoupled_weight_decay: true,
        numerics: optkern::Numerics::Bitsandbytes,
        ..Default::default()
    };
    for (what, cfg, ok) in [
        ("decoupled decay", base, true),
        (
            "no decay, L2 form",
            AdamConfig { weight_decay: 0.0, decoupled_weight_decay: false, ..base },
            true,
        ),
        ("L2 decay", AdamConfig { decoupled_weight_decay: false, ..base }, false),
        ("amsgrad", AdamConfig { amsgrad: true, ..base }, false),
        ("eps_hat", AdamConfig { eps_hat: true, ..base }, false),
    ] {
        let g = vec![0.5f32; 4];
        let start = vec![vec![1.0f32; 4], vec![0.25f32; 4], vec![0.5f32; 4], vec![0.5f32; 4]];
        let [mut p, mut m, mut v, mut vmax] = start.clone().try_into().unwrap();
        let got = optkern::adam_step(&mut p, &g, &mut m, &mut v, &mut vmax, 1, &cfg);
        let what = format!("bitsandbytes Adam with {what}");
        ok_or_conflict(&what, got, ok, vec![p, m, v, vmax], &start);
    }
}

/// The bitsandbytes profile's AdEMAMix refuses what `AdEMAMix8bit` does not do — L2 decay,
/// `fixed_decay`, the package's warm-up `T` — each alone, and accepts decoupled decay; nothing
/// is written on refusal.
#[test]
fn bitsandbytes_ademamix_refuses_what_bitsandbytes_does_not_do() {
    use optkern::AdemamixConfig;
    let base = AdemamixConfig {
        weight_decay: 0.01,
        weight_decouple: true,
        numerics: optkern::Numerics::Bitsandbytes,
        ..Default::default()
    };
    for (what, cfg, ok) in [
        ("decoupled decay", base, true),
        (
            "no decay, L2 form",
            AdemamixConfig { weight_decay: 0.0, weight_decouple: false, ..base },
            true,
        ),
        ("L2 decay", AdemamixConfig { weight_decouple: false, ..base }, false),
        ("fixed_decay", AdemamixConfig { fixed_decay: true, ..base }, false),
        ("t_alpha_beta3", AdemamixConfig { t_alpha_beta3: 100.0, ..base }, false),
    ] {
        let g = vec![0.5f32; 4];
        let start = vec![vec![1.0f32; 4], vec![0.25f32; 4], vec![0.5f32; 4], vec![0.125f32; 4]];
        let [mut p, mut m1, mut v, mut m2] = start.clone().try_into().unwrap();
        let got = optkern::ademamix_step(&mut p, &g, &mut m1, &mut v, &mut m2, 1, &cfg);
        let what = format!("bitsandbytes AdEMAMix with {what}");
        ok_or_conflict(&what, got, ok, vec![p, m1, v, m2], &start);
    }
}

/// `Numerics::Torchao` is Adam's alone: Adam refuses it with AMSGrad or ε̂, other kernels
/// refuse it outright; nothing is written on refusal.
#[test]
fn torchao_numerics_is_adams_alone() {
    let torchao = optkern::Numerics::Torchao;
    let g = vec![0.5f32; 4];
    let start = (vec![1.0f32; 4], vec![0.25f32; 4], vec![0.5f32; 4], vec![0.75f32; 4]);
    for (what, cfg, ok) in [
        ("plain", optkern::AdamConfig { numerics: torchao, ..Default::default() }, true),
        (
            "amsgrad",
            optkern::AdamConfig { numerics: torchao, amsgrad: true, ..Default::default() },
            false,
        ),
        (
            "eps_hat",
            optkern::AdamConfig { numerics: torchao, eps_hat: true, ..Default::default() },
            false,
        ),
    ] {
        let (mut p, mut m, mut v, mut vmax) = start.clone();
        let got = optkern::adam_step(&mut p, &g, &mut m, &mut v, &mut vmax, 1, &cfg);
        ok_or_conflict(&format!("torchao Adam {what}"), got, ok, (p, m, v, vmax), &start);
    }
    let (mut p, mut b) = (start.0.clone(), start.1.clone());
    let cfg = SgdConfig { numerics: torchao, momentum: 0.9, ..Default::default() };
    let got = optkern::sgd_step(&mut p, &g, &mut b, 1, &cfg);
    assert!(matches!(got, Err(Error::InvalidHyperparameter { name: "numerics", .. })), "{got:?}");
    let cfg = optkern::AdemamixConfig { numerics: torchao, ..Default::default() };
    let (mut m1, mut v, mut m2) = (start.1.clone(), start.2.clone(), start.3.clone());
    let got = optkern::ademamix_step(&mut p, &g, &mut m1, &mut v, &mut m2, 1, &cfg);
    assert!(matches!(got, Err(Error::InvalidHyperparameter { name: "numerics", .. })), "{got:?}");
    assert_eq!((p, b, m1), (start.0, start.1.clone(), start.1), "written on Err");
}

/// The kernels of the shared element-wise skeleton (`src/optim/rule.rs`): every field over the
/// special values (Ok exactly when the reference's rules, plus the ranges their docs give to
/// the fields the reference does not model, accept), with every buffer unchanged on `Err`.
#[test]
fn every_hyperparameter_of_the_rule_optimizers_is_checked() {
    use optkern::*;
    let mut rejected = 0;
    rejected += grid(
        "adopt",
        AdoptConfig::default(),
        &[
            field!("lr", lr),
            field!("beta1", beta1),
            field!("beta2", beta2),
            field!("eps", eps),
            field!("weight_decay", weight_decay),
            field!("clip_exponent", clip_exponent),
            gs!(),
        ],
        &[],
        4,
        |cfg| {
            Box::new(move |b| match b {
                [p, g, a, b] => adopt_step(p, g, a, b, 2, &cfg),
                _ => unreachable!(),
            })
        },
        |c| reference::accepts_adopt(&c.to_reference(), 2),
    );
    rejected += grid(
        "adabelief",
        AdabeliefConfig { amsgrad: true, ..Default::default() },
        &[
            field!("lr", lr),
            field!("beta1", beta1),
            field!("beta2", beta2),
            field!("eps", eps),
            field!("eps_root", eps_root),
            field!("weight_decay", weight_decay),
            gs!(),
        ],
        &[],
        5,
        |cfg| {
            Box::new(move |b| match b {
                [p, g, a, b, c3] => adabelief_step(p, g, a, b, c3, 2, &cfg),
                _ => unreachable!(),
            })
        },
        |c| {
            reference::accepts_po_adam(&c.to_reference(), 2)
                && (c.eps_root.is_finite() && c.eps_root >= 0.0)
        },
    );
    rejected += grid(
        "adabound",
        AdaboundConfig { amsgrad: true, ..Default::default() },
        &[
            field!("lr", lr),
            field!("final_lr", final_lr),
            field!("beta1", beta1),
            field!("beta2", beta2),
            field!("gamma", gamma),
            field!("eps", eps),
            field!("weight_decay", weight_decay),
            gs!(),
        ],
        &[],
        5,
        |cfg| {
            Box::new(move |b| match b {
                [p, g, a, b, c3] => adabound_step(p, g, a, b, c3, 2, &cfg),
                _ => unreachable!(),
            })
        },
        |c| {
            reference::accepts_po_adam(&c.to_reference(), 2)
                && (c.final_lr.is_finite() && c.final_lr >= 0.0)
                && (c.gamma.is_finite() && c.gamma >= 0.0)
                && c.gamma > 0.0
        },
    );
    rejected += grid(
        "adamod",
        AdamodConfig::default(),
        &[
            field!("lr", lr),
            field!("beta1", beta1),
            field!("beta2", beta2),
            field!("beta3", beta3),
            field!("eps", eps),
            field!("weight_decay", weight_decay),
            gs!(),
        ],
        &[],
        5,
        |cfg| {
            Box::new(move |b| match b {
                [p, g, a, b, c3] => adamod_step(p, g, a, b, c3, 2, &cfg),
                _ => unreachable!(),
            })
        },
        |c| {
            reference::accepts_po_adam(&c.to_reference(), 2)
                && (c.beta3.is_finite() && (0.0..1.0).contains(&c.beta3))
        },
    );
    rejected += grid(
        "adamp",
        AdampConfig::default(),
        &[
            field!("lr", lr),
            field!("beta1", beta1),
            field!("beta2", beta2),
            field!("eps", eps),
            field!("weight_decay", weight_decay),
            gs!(),
        ],
        &[],
        4,
        |cfg| {
            Box::new(move |b| match b {
                [p, g, a, b] => adamp_step(p, g, a, b, 2, &cfg),
                _ => unreachable!(),
            })
        },
        |c| reference::accepts_po_adam(&c.to_reference(), 2),
    );
    rejected += grid(
        "adan",
        AdanConfig::default(),
        &[
            field!("lr", lr),
            field!("beta1", beta1),
            field!("beta2", beta2),
            field!("beta3", beta3),
            field!("eps", eps),
            field!("weight_decay", weight_decay),
            gs!(),
        ],
        &[],
        6,
        |cfg| {
            Box::new(move |b| match b {
                [p, g, a, b, c3, d4] => adan_step(p, g, a, b, c3, d4, 2, &cfg),
                _ => unreachable!(),
            })
        },
        |c| reference::accepts_adan(&c.to_reference(), 2),
    );
    rejected += grid(
        "ademamix",
        AdemamixConfig::default(),
        &[
            field!("lr", lr),
            field!("beta1", beta1),
            field!("beta2", beta2),
            field!("beta3", beta3),
            field!("alpha", alpha),
            field!("t_alpha_beta3", t_alpha_beta3),
            field!("eps", eps),
            field!("weight_decay", weight_decay),
            gs!(),
        ],
        &[],
        5,
        |cfg| {
            Box::new(move |b| match b {
                [p, g, a, b, c3] => ademamix_step(p, g, a, b, c3, 2, &cfg),
                _ => unreachable!(),
            })
        },
        |c| {
            reference::accepts_po_adam(&c.to_reference(), 2)
                && (c.beta3.is_finite() && (0.0..1.0).contains(&c.beta3))
                && (c.alpha.is_finite() && c.alpha >= 0.0)
                && (c.t_alpha_beta3.is_finite() && c.t_alpha_beta3 >= 0.0)
        },
    );
    rejected += grid(
        "diffgrad",
        DiffgradConfig { amsgrad: true, ..Default::default() },
        &[
            field!("lr", lr),
            field!("beta1", beta1),
            field!("beta2", beta2),
            field!("eps", eps),
            field!("weight_decay", weight_decay),
            gs!(),
        ],
        &[],
        6,
        |cfg| {
            Box::new(move |b| match b {
                [p, g, a, b, c3, d4] => diffgrad_step(p, g, a, b, c3, d4, 2, &cfg),
                _ => unreachable!(),
            })
        },
        |c| reference::accepts_po_adam(&c.to_reference(), 2),
    );
    rejected += grid(
        "yogi",
        YogiConfig::default(),
        &[
            field!("lr", lr),
            field!("beta1", beta1),
            field!("beta2", beta2),
            field!("eps", eps),
            gs!(),
        ],
        &[],
        4,
        |cfg| {
            Box::new(move |b| match b {
                [p, g, a, b] => yogi_step(p, g, a, b, 2, &cfg),
                _ => unreachable!(),
            })
        },
        |c| reference::accepts_yogi(&c.to_reference(), 2),
    );
    rejected += grid(
        "sm3",
        Sm3Config { momentum: 0.5, ..Default::default() },
        &[
            field!("lr", lr),
            field!("momentum", momentum),
            field!("beta", beta),
            field!("eps", eps),
            gs!(),
        ],
        &[],
        4,
        |cfg| {
            Box::new(move |b| match b {
                [p, g, a, b] => sm3_step(p, g, a, b, &cfg),
                _ => unreachable!(),
            })
        },
        |c| reference::accepts_sm3(&c.to_reference()),
    );
    rejected += grid(
        "signsgd",
        SignsgdConfig::default(),
        &[
            field!("lr", lr),
            field!("momentum", momentum),
            field!("weight_decay", weight_decay),
            gs!(),
        ],
        &[],
        3,
        |cfg| {
            Box::new(move |b| match b {
                [p, g, a] => signsgd_step(p, g, a, &cfg),
                _ => unreachable!(),
            })
        },
        |c| reference::accepts_po_momentum(&c.to_reference()),
    );
    rejected += grid(
        "tiger",
        TigerConfig::default(),
        &[field!("lr", lr), field!("beta", beta), field!("weight_decay", weight_decay), gs!()],
        &[],
        3,
        |cfg| {
            Box::new(move |b| match b {
                [p, g, a] => tiger_step(p, g, a, &cfg),
                _ => unreachable!(),
            })
        },
        |c| reference::accepts_po_momentum(&c.to_reference()),
    );
    rejected += grid(
        "qhm",
        QhmConfig { momentum: 0.5, nu: 0.7, ..Default::default() },
        &[
            field!("lr", lr),
            field!("momentum", momentum),
            field!("nu", nu),
            field!("weight_decay", weight_decay),
            gs!(),
        ],
        &[],
        3,
        |cfg| {
            Box::new(move |b| match b {
                [p, g, a] => qhm_step(p, g, a, &cfg),
                _ => unreachable!(),
            })
        },
        |c| {
            reference::accepts_po_momentum(&c.to_reference())
                && (c.nu.is_finite() && (0.0..=1.0).contains(&c.nu))
        },
    );
    rejected += grid(
        "pid",
        PidConfig { momentum: 0.5, ..Default::default() },
        &[
            field!("lr", lr),
            field!("momentum", momentum),
            field!("dampening", dampening),
            field!("derivative", derivative),
            field!("integral", integral),
            field!("weight_decay", weight_decay),
            gs!(),
        ],
        &[],
        5,
        |cfg| {
            Box::new(move |b| match b {
                [p, g, a, b, c3] => pid_step(p, g, a, b, c3, 2, &cfg),
                _ => unreachable!(),
            })
        },
        |c| {
            reference::accepts_po_momentum(&c.to_reference())
                && (c.dampening.is_finite() && (0.0..=1.0).contains(&c.dampening))
                && (c.derivative.is_finite() && c.derivative >= 0.0)
                && (c.integral.is_finite() && c.integral >= 0.0)
        },
    );
    rejected += grid(
        "optimistic_gd",
        OptimisticGdConfig::default(),
        &[field!("lr", lr), field!("alpha", alpha), field!("beta", beta), gs!()],
        &[],
        3,
        |cfg| {
            Box::new(move |b| match b {
                [p, g, a] => optimistic_gd_step(p, g, a, 2, &cfg),
                _ => unreachable!(),
            })
        },
        |c| reference::accepts_optimistic_gd(&c.to_reference(), 2),
    );
    assert!(rejected > 300, "only {rejected} rejections");
}

/// The kernels of the shared element-wise skeleton: every buffer one short, one long and empty
/// is a `LengthMismatch` naming it, with nothing written.
#[test]
fn length_mismatches_of_the_rule_optimizers_change_nothing() {
    use optkern::*;
    let cfg = AdoptConfig::default();
    length_cases(&["params", "grads", "exp_avg", "exp_avg_sq"], move |b| match b {
        [p, g, a, b] => adopt_step(p, g, a, b, 2, &cfg),
        _ => unreachable!(),
    });
    let cfg = AdabeliefConfig { amsgrad: true, ..Default::default() };
    length_cases(
        &["params", "grads", "exp_avg", "exp_avg_var", "max_exp_avg_var"],
        move |b| match b {
            [p, g, a, b, c3] => adabelief_step(p, g, a, b, c3, 2, &cfg),
            _ => unreachable!(),
        },
    );
    let cfg = AdaboundConfig { amsgrad: true, ..Default::default() };
    length_cases(
        &["params", "grads", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"],
        move |b| match b {
            [p, g, a, b, c3] => adabound_step(p, g, a, b, c3, 2, &cfg),
            _ => unreachable!(),
        },
    );
    let cfg = AdamodConfig::default();
    length_cases(&["params", "grads", "exp_avg", "exp_avg_sq", "exp_avg_lr"], move |b| match b {
        [p, g, a, b, c3] => adamod_step(p, g, a, b, c3, 2, &cfg),
        _ => unreachable!(),
    });
    let cfg = AdampConfig::default();
    length_cases(&["params", "grads", "exp_avg", "exp_avg_sq"], move |b| match b {
        [p, g, a, b] => adamp_step(p, g, a, b, 2, &cfg),
        _ => unreachable!(),
    });
    let cfg = AdanConfig::default();
    length_cases(
        &["params", "grads", "exp_avg", "exp_avg_diff", "exp_avg_sq", "previous_grad"],
        move |b| match b {
            [p, g, a, b, c3, d4] => adan_step(p, g, a, b, c3, d4, 2, &cfg),
            _ => unreachable!(),
        },
    );
    let cfg = AdemamixConfig::default();
    length_cases(&["params", "grads", "exp_avg", "exp_avg_sq", "exp_avg_slow"], move |b| match b {
        [p, g, a, b, c3] => ademamix_step(p, g, a, b, c3, 2, &cfg),
        _ => unreachable!(),
    });
    let cfg = DiffgradConfig { amsgrad: true, ..Default::default() };
    length_cases(
        &["params", "grads", "exp_avg", "exp_avg_sq", "previous_grad", "max_exp_avg_sq"],
        move |b| match b {
            [p, g, a, b, c3, d4] => diffgrad_step(p, g, a, b, c3, d4, 2, &cfg),
            _ => unreachable!(),
        },
    );
    let cfg = YogiConfig::default();
    length_cases(&["params", "grads", "mu", "nu"], move |b| match b {
        [p, g, a, b] => yogi_step(p, g, a, b, 2, &cfg),
        _ => unreachable!(),
    });
    let cfg = Sm3Config { momentum: 0.5, ..Default::default() };
    length_cases(&["params", "grads", "accumulator", "momentum_buffer"], move |b| match b {
        [p, g, a, b] => sm3_step(p, g, a, b, &cfg),
        _ => unreachable!(),
    });
    let cfg = SignsgdConfig::default();
    length_cases(&["params", "grads", "momentum_buffer"], move |b| match b {
        [p, g, a] => signsgd_step(p, g, a, &cfg),
        _ => unreachable!(),
    });
    let cfg = TigerConfig::default();
    length_cases(&["params", "grads", "exp_avg"], move |b| match b {
        [p, g, a] => tiger_step(p, g, a, &cfg),
        _ => unreachable!(),
    });
    let cfg = QhmConfig { momentum: 0.5, nu: 0.7, ..Default::default() };
    length_cases(&["params", "grads", "momentum_buffer"], move |b| match b {
        [p, g, a] => qhm_step(p, g, a, &cfg),
        _ => unreachable!(),
    });
    let cfg = PidConfig { momentum: 0.5, ..Default::default() };
    length_cases(&["params", "grads", "i_buffer", "d_buffer", "grad_buffer"], move |b| match b {
        [p, g, a, b, c3] => pid_step(p, g, a, b, c3, 2, &cfg),
        _ => unreachable!(),
    });
    let cfg = OptimisticGdConfig::default();
    length_cases(&["params", "grads", "previous_gradient"], move |b| match b {
        [p, g, a] => optimistic_gd_step(p, g, a, 2, &cfg),
        _ => unreachable!(),
    });
}

/// Schedule-free: every field over the special values, every buffer length, and the scalar
/// state unchanged on every error.
#[test]
fn schedule_free_errors_change_nothing() {
    use optkern::*;
    let accepts = |c: &reference::ScheduleFree| reference::accepts_schedulefree(c);
    let st0 = ScheduleFreeState { k: 3, lr_max: 0.1, weight_sum: 0.03, scheduled_lr: 0.1 };
    let mut rejected = 0;
    rejected += grid(
        "sgd_schedulefree",
        SgdScheduleFreeConfig::default(),
        &[
            field!("lr", lr),
            field!("momentum", momentum),
            field!("weight_decay", weight_decay),
            field!("r", r),
            field!("weight_lr_power", weight_lr_power),
            gs!(),
        ],
        &[],
        3,
        |cfg| {
            Box::new(move |b| match b {
                [p, g, z] => {
                    let mut st = st0;
                    let r = sgd_schedulefree_step(p, g, z, &mut st, &cfg);
                    assert!(r.is_ok() || st == st0, "state changed on Err");
                    r
                }
                _ => unreachable!(),
            })
        },
        |c| accepts(&reference::ScheduleFree { beta2: 0.5, ..c.to_reference() }),
    );
    rejected += grid(
        "adamw_schedulefree",
        AdamwScheduleFreeConfig::default(),
        &[
            field!("lr", lr),
            field!("beta1", beta1),
            field!("beta2", beta2),
            field!("eps", eps),
            field!("weight_decay", weight_decay),
            field!("r", r),
            field!("weight_lr_power", weight_lr_power),
            gs!(),
        ],
        &[],
        4,
        |cfg| {
            Box::new(move |b| match b {
                [p, g, z, v] => {
                    let mut st = st0;
                    let r = adamw_schedulefree_step(p, g, z, v, &mut st, &cfg);
                    assert!(r.is_ok() || st == st0, "state changed on Err");
                    let mut st = st0;
                    let r2 = radam_schedulefree_step(p, g, z, v, &mut st, &cfg);
                    assert_eq!(r.is_ok(), r2.is_ok(), "AdamW and RAdam validate alike");
                    r
                }
                _ => unreachable!(),
            })
        },
        |c| accepts(&c.to_reference()),
    );
    assert!(rejected > 60, "only {rejected} rejections");
    let (cfg, acfg) = (SgdScheduleFreeConfig::default(), AdamwScheduleFreeConfig::default());
    length_cases(&["params", "grads", "z"], move |b| match b {
        [p, g, z] => sgd_schedulefree_step(p, g, z, &mut ScheduleFreeState::default(), &cfg),
        _ => unreachable!(),
    });
    length_cases(&["params", "grads", "z", "x"], move |b| match b {
        [p, g, z, x] => {
            sgd_schedulefree_reference_step(p, g, z, x, &mut ScheduleFreeState::default(), &cfg)
        }
        _ => unreachable!(),
    });
    length_cases(&["params", "grads", "z", "exp_avg_sq"], move |b| match b {
        [p, g, z, v] => {
            adamw_schedulefree_step(p, g, z, v, &mut ScheduleFreeState::default(), &acfg)
        }
        _ => unreachable!(),
    });
    length_cases(&["params", "grads", "z", "exp_avg_sq"], move |b| match b {
        [p, g, z, v] => {
            radam_schedulefree_step(p, g, z, v, &mut ScheduleFreeState::default(), &acfg)
        }
        _ => unreachable!(),
    });
    length_cases(&["params", "grads", "z", "x", "exp_avg_sq"], move |b| match b {
        [p, g, z, x, v] => adamw_schedulefree_reference_step(
            p,
            g,
            z,
            x,
            v,
            &mut ScheduleFreeState::default(),
            &acfg,
        ),
        _ => unreachable!(),
    });
    for beta in [f64::NAN, 0.0, 1.0, -0.5, f64::INFINITY] {
        for eval in [true, false] {
            let want = hyper("beta", beta);
            check(2, None, Some(want), &format!("eval/train beta {beta}"), move |b| match b {
                [p, z] if eval => schedulefree_eval(p, z, beta, Numerics::Torch),
                [p, z] => schedulefree_train(p, z, beta, Numerics::Torch),
                _ => unreachable!(),
            });
        }
    }
    let want = Error::LengthMismatch { arg: "z", expected: N, found: N - 1 };
    check(2, Some((1, N - 1)), Some(want), "eval z", |b| match b {
        [p, z] => schedulefree_eval(p, z, 0.9, Numerics::Portable),
        _ => unreachable!(),
    });
}

/// QHAdam, MADGRAD, AggMo, Ranger and the Lookahead synchronisation: every field over the
/// special values, every buffer length, the scalar state unchanged on `Err`.
#[test]
fn stateful_rule_errors_change_nothing() {
    use optkern::*;
    let mut rejected = 0;
    rejected += grid(
        "qhadam",
        QhadamConfig::default(),
        &[
            field!("lr", lr),
            field!("beta1", beta1),
            field!("beta2", beta2),
            field!("nu1", nu1),
            field!("nu2", nu2),
            field!("eps", eps),
            field!("weight_decay", weight_decay),
            gs!(),
        ],
        &[],
        4,
        |cfg| {
            Box::new(move |b| match b {
                [p, g, m, v] => {
                    let before = QhadamState { beta1_weight: 2.0, beta2_weight: 3.0 };
                    let mut st = before;
                    let r = qhadam_step(p, g, m, v, &mut st, &cfg);
                    assert!(r.is_ok() || st == before, "state changed on Err");
                    r
                }
                _ => unreachable!(),
            })
        },
        |c| {
            let unit = |x: f64| x.is_finite() && (0.0..=1.0).contains(&x);
            reference::accepts_po_adam(&c.to_reference(), 1) && unit(c.nu1) && unit(c.nu2)
        },
    );
    rejected += grid(
        "madgrad",
        MadgradConfig::default(),
        &[
            field!("lr", lr),
            field!("momentum", momentum),
            field!("weight_decay", weight_decay),
            field!("eps", eps),
            gs!(),
        ],
        &[],
        5,
        |cfg| {
            Box::new(move |b| match b {
                [p, g, sq, s, x0] => {
                    let mut st = MadgradState { k: 4 };
                    let r = madgrad_step(p, g, sq, s, x0, &mut st, &cfg);
                    assert!(r.is_ok() || st.k == 4, "state changed on Err");
                    r
                }
                _ => unreachable!(),
            })
        },
        |c| reference::accepts_madgrad(&c.to_reference()),
    );
    rejected += grid(
        "aggmo",
        AggmoConfig { betas: [0.0, 0.5, 0.9, 0.99], betas_len: 4, ..Default::default() },
        &[
            field!("lr", lr),
            ("betas", |c, x| c.betas[2] = x),
            field!("weight_decay", weight_decay),
            gs!(),
        ],
        &[],
        6,
        |cfg| {
            Box::new(move |b| match b {
                [p, g, b0, b1, b2, b3] => aggmo_step(p, g, b0, b1, b2, b3, &cfg),
                _ => unreachable!(),
            })
        },
        |c| {
            let ok = |x: f64| x.is_finite() && (0.0..1.0).contains(&x);
            reference::accepts_po_momentum(&c.to_reference()) && c.betas.iter().all(|&b| ok(b))
        },
    );
    rejected += grid(
        "ranger",
        RangerConfig::default(),
        &[
            field!("lr", lr),
            field!("beta1", beta1),
            field!("beta2", beta2),
            field!("eps", eps),
            field!("alpha", alpha),
            field!("weight_decay", weight_decay),
            gs!(),
        ],
        &[],
        5,
        |cfg| {
            Box::new(move |b| match b {
                [p, g, m, v, slow] => ranger_step(p, g, m, v, slow, 6, &cfg),
                _ => unreachable!(),
            })
        },
        |c| {
            let unit = c.alpha.is_finite() && (0.0..=1.0).contains(&c.alpha);
            reference::accepts_po_adam(&c.to_reference(), 6) && unit
        },
    );
    assert!(rejected > 100, "only {rejected} rejections");
    let want = Error::InvalidHyperparameter {
        name: "betas_len",
        value: 5.0,
        problem: Problem::OutOfRange,
    };
    let bad = AggmoConfig { betas_len: 5, ..Default::default() };
    check(6, None, Some(want), "aggmo betas_len 5", move |b| match b {
        [p, g, b0, b1, b2, b3] => aggmo_step(p, g, b0, b1, b2, b3, &bad),
        _ => unreachable!(),
    });
    let want = Error::InvalidHyperparameter { name: "k", value: 0.0, problem: Problem::OutOfRange };
    let bad = RangerConfig { k: 0, ..Default::default() };
    check(5, None, Some(want), "ranger k 0", move |b| match b {
        [p, g, m, v, slow] => ranger_step(p, g, m, v, slow, 1, &bad),
        _ => unreachable!(),
    });
    check(5, None, Some(Error::ZeroStep), "ranger step 0", |b| match b {
        [p, g, m, v, slow] => ranger_step(p, g, m, v, slow, 0, &RangerConfig::default()),
        _ => unreachable!(),
    });
    for alpha in [f64::NAN, -0.5, 1.5] {
        check(
            2,
            None,
            Some(hyper("alpha", alpha)),
            &format!("sync alpha {alpha}"),
            move |b| match b {
                [f, s] => lookahead_sync(f, s, alpha, Numerics::Torch),
                _ => unreachable!(),
            },
        );
    }
    let (q, m, a, r) = (
        QhadamConfig::default(),
        MadgradConfig::default(),
        AggmoConfig { betas_len: 4, ..Default::default() },
        RangerConfig::default(),
    );
    length_cases(&["params", "grads", "exp_avg", "exp_avg_sq"], move |b| match b {
        [p, g, m1, v] => qhadam_step(p, g, m1, v, &mut QhadamState::default(), &q),
        _ => unreachable!(),
    });
    length_cases(&["params", "grads", "grad_sum_sq", "s", "x0"], move |b| match b {
        [p, g, sq, s, x0] => madgrad_step(p, g, sq, s, x0, &mut MadgradState::default(), &m),
        _ => unreachable!(),
    });
    length_cases(
        &["params", "grads", "buffer0", "buffer1", "buffer2", "buffer3"],
        move |b| match b {
            [p, g, b0, b1, b2, b3] => aggmo_step(p, g, b0, b1, b2, b3, &a),
            _ => unreachable!(),
        },
    );
    length_cases(&["params", "grads", "exp_avg", "exp_avg_sq", "slow_buffer"], move |b| match b {
        [p, g, m1, v, slow] => ranger_step(p, g, m1, v, slow, 1, &r),
        _ => unreachable!(),
    });
    length_cases(&["fast", "slow"], |b| match b {
        [f, s] => lookahead_sync(f, s, 0.5, Numerics::Portable),
        _ => unreachable!(),
    });
}

/// LaProp: every field over the special values, every buffer length, the state unchanged on
/// `Err`.
#[test]
fn laprop_errors_change_nothing() {
    use optkern::*;
    let base = LapropConfig { centered: true, amsgrad: true, ..Default::default() };
    let rejected = grid(
        "laprop",
        base,
        &[
            field!("lr", lr),
            field!("beta1", beta1),
            field!("beta2", beta2),
            field!("eps", eps),
            field!("weight_decay", weight_decay),
            gs!(),
        ],
        &[],
        6,
        |cfg| {
            Box::new(move |b| match b {
                [p, g, m, v, mean, max] => {
                    let before = LapropState { exp_avg_lr_1: 1e-4, exp_avg_lr_2: 0.5 };
                    let mut st = before;
                    let r = laprop_step(p, g, m, v, mean, max, 2, &mut st, &cfg);
                    assert!(r.is_ok() || st == before, "state changed on Err");
                    r
                }
                _ => unreachable!(),
            })
        },
        |c| reference::accepts_po_adam(&c.to_reference(), 2),
    );
    assert!(rejected > 30, "only {rejected} rejections");
    length_cases(
        &["params", "grads", "exp_avg", "exp_avg_sq", "exp_mean_avg_beta2", "max_exp_avg_sq"],
        move |b| match b {
            [p, g, m, v, mean, max] => {
                laprop_step(p, g, m, v, mean, max, 1, &mut LapropState::default(), &base)
            }
            _ => unreachable!(),
        },
    );
    check(6, None, Some(Error::ZeroStep), "laprop step 0", move |b| match b {
        [p, g, m, v, mean, max] => {
            laprop_step(p, g, m, v, mean, max, 0, &mut LapropState::default(), &base)
        }
        _ => unreachable!(),
    });
}

/// NovoGrad, StableAdamW, MARS: every field over the special values, every buffer length.
#[test]
fn normalized_errors_change_nothing() {
    use optkern::*;
    let mut rejected = 0;
    rejected += grid(
        "novograd",
        NovogradConfig::default(),
        &[
            field!("lr", lr),
            field!("beta1", beta1),
            field!("beta2", beta2),
            field!("eps", eps),
            field!("eps_root", eps_root),
            field!("weight_decay", weight_decay),
            gs!(),
        ],
        &[],
        3,
        |cfg| {
            Box::new(move |b| match b {
                [p, g, m] => {
                    let mut st = NovogradState { nu: 3.0 };
                    let r = novograd_step(p, g, m, 2, &mut st, &cfg);
                    assert!(r.is_ok() || st.nu == 3.0, "state changed on Err");
                    r
                }
                _ => unreachable!(),
            })
        },
        |c| reference::accepts_novograd(&c.to_reference(), 2),
    );
    rejected += grid(
        "stable_adamw",
        StableAdamwConfig::default(),
        &[
            field!("lr", lr),
            field!("beta1", beta1),
            field!("beta2", beta2),
            field!("eps", eps),
            field!("weight_decay", weight_decay),
            gs!(),
        ],
        &[],
        4,
        |cfg| {
            Box::new(move |b| match b {
                [p, g, m, v] => stable_adamw_step(p, g, m, v, 2, &cfg),
                _ => unreachable!(),
            })
        },
        |c| reference::accepts_po_adam(&c.to_reference(), 2),
    );
    rejected += grid(
        "mars",
        MarsConfig { optimize_1d: true, ..Default::default() },
        &[
            field!("lr", lr),
            field!("beta1", beta1),
            field!("beta2", beta2),
            field!("gamma", gamma),
            field!("eps", eps),
            field!("weight_decay", weight_decay),
            field!("lr_1d_factor", lr_1d_factor),
            field!("beta1_1d", beta1_1d),
            field!("beta2_1d", beta2_1d),
            field!("weight_decay_1d", weight_decay_1d),
            gs!(),
        ],
        &[],
        5,
        |cfg| {
            Box::new(move |b| match b {
                [p, g, m, v, last] => mars_step(p, g, m, v, last, 2, &cfg),
                _ => unreachable!(),
            })
        },
        |c| {
            let nn = |x: f64| x.is_finite() && x >= 0.0;
            let unit = |x: f64| x.is_finite() && (0.0..1.0).contains(&x);
            reference::accepts_po_adam(&c.to_reference(), 2)
                && nn(c.gamma)
                && nn(c.lr_1d_factor)
                && unit(c.beta1_1d)
                && unit(c.beta2_1d)
                && nn(c.weight_decay_1d)
        },
    );
    assert!(rejected > 100, "only {rejected} rejections");
    let (nc, sc, mc) =
        (NovogradConfig::default(), StableAdamwConfig::default(), MarsConfig::default());
    length_cases(&["params", "grads", "mu"], move |b| match b {
        [p, g, m] => novograd_step(p, g, m, 1, &mut NovogradState::default(), &nc),
        _ => unreachable!(),
    });
    length_cases(&["params", "grads", "exp_avg", "exp_avg_sq"], move |b| match b {
        [p, g, m, v] => stable_adamw_step(p, g, m, v, 1, &sc),
        _ => unreachable!(),
    });
    length_cases(&["params", "grads", "exp_avg", "exp_avg_sq", "last_grad"], move |b| match b {
        [p, g, m, v, last] => mars_step(p, g, m, v, last, 1, &mc),
        _ => unreachable!(),
    });
    for (name, call) in [
        (
            "novograd",
            Box::new(move |b: &mut [Vec<f32>]| match b {
                [p, g, m, _, _] => novograd_step(p, g, m, 0, &mut NovogradState::default(), &nc),
                _ => unreachable!(),
            }) as Box<dyn Fn(&mut [Vec<f32>]) -> Result<(), Error>>,
        ),
        (
            "stable_adamw",
            Box::new(move |b: &mut [Vec<f32>]| match b {
                [p, g, m, v, _] => stable_adamw_step(p, g, m, v, 0, &sc),
                _ => unreachable!(),
            }),
        ),
        (
            "mars",
            Box::new(move |b: &mut [Vec<f32>]| match b {
                [p, g, m, v, last] => mars_step(p, g, m, v, last, 0, &mc),
                _ => unreachable!(),
            }),
        ),
    ] {
        check(5, None, Some(Error::ZeroStep), name, call);
    }
}

/// Fromage: every field over the special values, the length, step 0, the state unchanged on
/// `Err`.
#[test]
fn fromage_errors_change_nothing() {
    use optkern::*;
    let rejected = grid(
        "fromage",
        FromageConfig { p_bound: 2.0, ..Default::default() },
        &[field!("lr", lr), field!("p_bound", p_bound), gs!()],
        &[],
        2,
        |cfg| {
            Box::new(move |b| match b {
                [p, g] => {
                    let mut st = FromageState { max: 5.0 };
                    let r = fromage_step(p, g, 2, &mut st, &cfg);
                    assert!(r.is_ok() || st.max == 5.0, "state changed on Err");
                    r
                }
                _ => unreachable!(),
            })
        },
        |c| {
            let nn = |x: f64| x.is_finite() && x >= 0.0;
            nn(c.lr) && nn(c.p_bound) && nn(f64::from(c.grad_scale))
        },
    );
    assert!(rejected > 10, "only {rejected} rejections");
    let cfg = FromageConfig::default();
    length_cases(&["params", "grads"], move |b| match b {
        [p, g] => fromage_step(p, g, 1, &mut FromageState::default(), &cfg),
        _ => unreachable!(),
    });
    check(2, None, Some(Error::ZeroStep), "fromage step 0", move |b| match b {
        [p, g] => fromage_step(p, g, 0, &mut FromageState::default(), &cfg),
        _ => unreachable!(),
    });
}

/// CAME: every field over the special values, every buffer length.
#[test]
fn came_errors_change_nothing() {
    use optkern::*;
    let rejected = grid(
        "came",
        CameConfig { amsgrad: true, ..Default::default() },
        &[
            field!("lr", lr),
            field!("beta1", beta1),
            field!("beta2", beta2),
            field!("eps1", eps1),
            field!("clip_threshold", clip_threshold),
            field!("weight_decay", weight_decay),
            gs!(),
        ],
        &[],
        5,
        |cfg| {
            Box::new(move |b| match b {
                [p, g, m, v, hat] => {
                    let mut st = CameState { rms: 7.0 };
                    let r = came_step(p, g, m, v, hat, &mut st, &cfg);
                    assert!(r.is_ok() || st.rms == 7.0, "state changed on Err");
                    r
                }
                _ => unreachable!(),
            })
        },
        |c| {
            let nn = |x: f64| x.is_finite() && x >= 0.0;
            let h = reference::PoAdam { eps: 0.0, ..c.to_reference() };
            reference::accepts_po_adam(&h, 1)
                && c.beta2 > 0.0
                && nn(c.eps1)
                && nn(c.clip_threshold)
                && c.clip_threshold > 0.0
        },
    );
    assert!(rejected > 30, "only {rejected} rejections");
    let cfg = CameConfig { amsgrad: true, ..Default::default() };
    length_cases(
        &["params", "grads", "exp_avg", "exp_avg_sq", "exp_avg_sq_hat"],
        move |b| match b {
            [p, g, m, v, hat] => came_step(p, g, m, v, hat, &mut CameState::default(), &cfg),
            _ => unreachable!(),
        },
    );
}

/// One `lbfgs_step` call's arguments, from a run that got there.
struct LbfgsCall {
    x: Vec<f64>,
    g: Vec<f64>,
    work: Vec<f64>,
    state: optkern::LbfgsState,
    loss: f64,
}

/// A valid L-BFGS call in the middle of a strong-Wolfe line search, in `phase` (2: bracketing,
/// 3: zoom): Rosenbrock from (−1.2, 1, −1.2, 1).
fn lbfgs_mid_search(phase: u32) -> LbfgsCall {
    let cfg = lbfgs_wolfe();
    let mut x = vec![-1.2, 1.0, -1.2, 1.0];
    let mut g = vec![0.0; 4];
    let mut work = vec![0.0; optkern::lbfgs_work_len(4, &cfg)];
    let mut state = optkern::LbfgsState::default();
    for _ in 0..500 {
        let loss = common::rosenbrock(&x, &mut g);
        if state.phase == phase && state.n_iter > 0 && state.ls.len == 2 {
            return LbfgsCall { x, g, work, state, loss };
        }
        optkern::lbfgs_step(&mut x, loss, &g, &mut work, &mut state, &cfg).unwrap();
    }
    panic!("no call in phase {phase}");
}

fn lbfgs_wolfe() -> optkern::LbfgsConfig {
    optkern::LbfgsConfig {
        line_search: optkern::LineSearch::StrongWolfe,
        history_size: 3,
        ..Default::default()
    }
}

/// L-BFGS refuses a state that cannot be this run's — each field damaged alone, from valid
/// states in both line-search phases — with `"state"` and `Conflict`, writing nothing; and a
/// work buffer longer than needed is fine (only a short one is an error). The state checks
/// had no test: every clause of `state_fits` survived a mutation run.
#[test]
fn lbfgs_refuses_a_state_that_is_not_this_runs() {
    use optkern::LbfgsState;
    type Damage = fn(&mut LbfgsState);
    let damages: [(&str, Damage); 14] = [
        ("phase past zoom", |s| s.phase = 4),
        ("not started, mid-search", |s| s.n_iter = 0),
        ("another length", |s| s.n += 1),
        ("another history size", |s| s.history_size += 1),
        ("history longer than its size", |s| s.history_len = s.history_size + 1),
        ("history start at its size", |s| s.history_start = s.history_size),
        ("previous slot past the start slot", |s| s.ls.prev_slot = 3),
        ("bracket slot 0 past the start slot", |s| s.ls.slot[0] = 3),
        ("bracket slot 1 past the start slot", |s| s.ls.slot[1] = 3),
        ("low end 2", |s| s.ls.low = 2),
        ("bracket of 0", |s| s.ls.len = 0),
        ("bracket of 3", |s| s.ls.len = 3),
        ("done 2", |s| s.ls.done = 2),
        ("insufficient progress 2", |s| s.ls.insuf_progress = 2),
    ];
    let plain = optkern::LbfgsConfig { history_size: 3, ..Default::default() };
    for phase in [2, 3] {
        let LbfgsCall { x, g, work, state, loss } = lbfgs_mid_search(phase);
        let refused = |s: &LbfgsState, cfg: &optkern::LbfgsConfig, what: &str| {
            let (mut x2, mut w2, mut s2) = (x.clone(), work.clone(), *s);
            let e = optkern::lbfgs_step(&mut x2, loss, &g, &mut w2, &mut s2, cfg).unwrap_err();
            assert_eq!(
                e,
                Error::InvalidHyperparameter {
                    name: "state",
                    value: f64::from(s.phase),
                    problem: Problem::Conflict
                },
                "phase {phase}: {what}"
            );
            assert!(x2 == x && w2 == work && s2 == *s, "phase {phase}: {what}: written");
        };
        for (what, damage) in damages {
            let mut s = state;
            damage(&mut s);
            refused(&s, &lbfgs_wolfe(), what);
        }
        // A line search in progress with a config that has none.
        refused(&state, &plain, "line search without strong Wolfe");
        // The valid state goes on, with the exact work and with a longer one alike.
        let mut longer = work.clone();
        longer.extend([7.0; 5]);
        let (mut xa, mut wa, mut sa) = (x.clone(), work.clone(), state);
        let (mut xb, mut wb, mut sb) = (x.clone(), longer, state);
        let ra = optkern::lbfgs_step(&mut xa, loss, &g, &mut wa, &mut sa, &lbfgs_wolfe());
        let rb = optkern::lbfgs_step(&mut xb, loss, &g, &mut wb, &mut sb, &lbfgs_wolfe());
        assert_eq!(ra.unwrap(), rb.unwrap(), "phase {phase}: longer work");
        assert!(xa == xb && sa == sb && wa[..] == wb[..wa.len()], "phase {phase}: longer work");
        let mut short = work[..work.len() - 1].to_vec();
        let (mut xs, mut ss) = (x.clone(), state);
        let e = optkern::lbfgs_step(&mut xs, loss, &g, &mut short, &mut ss, &lbfgs_wolfe());
        let need = work.len();
        assert_eq!(e, Err(Error::LengthMismatch { arg: "work", expected: need, found: need - 1 }));
        assert!(xs == x && ss == state, "phase {phase}: short work: written");
    }
}
