//! Bad arguments are errors that change nothing: every length mismatch, every invalid
//! hyperparameter (NaN, ±∞, out of range, conflicting options) and `step == 0` returns the
//! documented `Err` with every buffer bit-identical to before. Validity is cross-checked with
//! the reference crate's independent `accepts_*` rules over a grid of special values.

mod common;
use common::{Data, Kind, bits};
use optkern::{AdamConfig, Error, MomentumConfig, Problem, SgdConfig};
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
            let h = reference::Sgd {
                lr: cfg.lr,
                momentum: cfg.momentum,
                dampening: cfg.dampening,
                weight_decay: cfg.weight_decay,
                nesterov: cfg.nesterov,
                maximize: cfg.maximize,
                grad_scale: f64::from(cfg.grad_scale),
            };
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
            let h = reference::Adam {
                lr: cfg.lr,
                beta1: cfg.beta1,
                beta2: cfg.beta2,
                eps: cfg.eps,
                weight_decay: cfg.weight_decay,
                decoupled: cfg.decoupled_weight_decay,
                amsgrad: cfg.amsgrad,
                maximize: cfg.maximize,
                grad_scale: f64::from(cfg.grad_scale),
            };
            let want = (!reference::accepts_adam(&h, 1))
                .then(|| hyper(name, if name == "grad_scale" { f64::from(x as f32) } else { x }));
            rejected += usize::from(want.is_some());
            check(5, None, want, &format!("adam {name} = {x}"), adam_call(cfg, 1));
        }
        let d = MomentumConfig::default();
        let variants: [(&str, MomentumConfig); 4] = [
            ("lr", MomentumConfig { lr: x, ..d }),
            ("momentum", MomentumConfig { momentum: x, ..d }),
            ("weight_decay", MomentumConfig { weight_decay: x, ..d }),
            ("grad_scale", MomentumConfig { grad_scale: x as f32, ..d }),
        ];
        for (name, cfg) in variants {
            let h = reference::Momentum {
                lr: cfg.lr,
                momentum: cfg.momentum,
                weight_decay: cfg.weight_decay,
                grad_scale: f64::from(cfg.grad_scale),
            };
            let want = (!reference::accepts_momentum(&h))
                .then(|| hyper(name, if name == "grad_scale" { f64::from(x as f32) } else { x }));
            rejected += usize::from(want.is_some());
            check(3, None, want, &format!("momentum {name} = {x}"), momentum_call(cfg));
            check(3, None, want, &format!("lookahead {name} = {x}"), lookahead_call(cfg));
        }
    }
    assert!(rejected > 50, "only {rejected} rejections: the grid does not exercise the checks");
}
