//! Every kernel and option combination the generic tests run, behind one uniform shape:
//! mutable buffers (the first is the one the kernel is named for), read-only buffers, and a
//! call at a given width and step.
#![allow(dead_code)]

use super::Kind;
use optkern::{
    AdadeltaConfig, AdafactorConfig, AdagradConfig, AdamConfig, AdamaxConfig, AsgdConfig,
    AsgdState, Error, LambConfig, LarsConfig, LionConfig, MomentumConfig, NadamConfig, NadamState,
    Numerics, RadamConfig, RmspropConfig, RpropConfig, SgdConfig, Width,
};

pub type Run = Box<dyn Fn(Width, &mut [&mut [f32]], &[&[f32]], u32) -> Result<(), Error>>;

pub struct Case {
    pub name: String,
    /// Kinds of the mutable buffers, in argument order.
    pub muts: Vec<Kind>,
    /// Kinds of the read-only buffers, in argument order.
    pub ins: Vec<Kind>,
    pub run: Run,
    /// Element-wise (each output depends only on the same index of the inputs), so that
    /// splitting the slices into chunks gives the same bits. Layer-wise kernels (norms) are not.
    pub elementwise: bool,
}

fn case(name: String, muts: Vec<Kind>, ins: Vec<Kind>, run: Run) -> Case {
    Case { name, muts, ins, run, elementwise: true }
}

pub const PROFILES: [Numerics; 2] = [Numerics::Torch, Numerics::Portable];

pub fn sgd_configs() -> Vec<(&'static str, SgdConfig)> {
    let d = SgdConfig { lr: 0.1, ..Default::default() };
    vec![
        ("plain", d),
        ("momentum", SgdConfig { momentum: 0.9, ..d }),
        ("dampening", SgdConfig { momentum: 0.9, dampening: 0.5, ..d }),
        ("nesterov", SgdConfig { momentum: 0.9, nesterov: true, ..d }),
        ("weight_decay", SgdConfig { momentum: 0.9, weight_decay: 0.01, ..d }),
        ("maximize", SgdConfig { maximize: true, weight_decay: 0.01, ..d }),
        ("grad_scale", SgdConfig { momentum: 0.5, grad_scale: 0.25, ..d }),
    ]
}

pub fn adam_configs() -> Vec<(&'static str, AdamConfig)> {
    let d = AdamConfig { lr: 1e-2, ..Default::default() };
    vec![
        ("default", d),
        ("betas_lerp_branch", AdamConfig { beta1: 0.45, beta2: 0.9, ..d }),
        ("weight_decay", AdamConfig { weight_decay: 0.01, ..d }),
        ("adamw", AdamConfig { lr: 1e-2, ..AdamConfig::adamw() }),
        ("amsgrad", AdamConfig { amsgrad: true, ..d }),
        ("maximize", AdamConfig { maximize: true, eps: 1e-6, ..d }),
        ("grad_scale", AdamConfig { grad_scale: 0.5, ..d }),
        ("eps_hat", AdamConfig { eps_hat: true, eps: 1e-3, ..d }),
    ]
}

pub fn adagrad_configs() -> Vec<(&'static str, AdagradConfig)> {
    let d = AdagradConfig { lr: 0.1, ..Default::default() };
    vec![
        ("default", d),
        (
            "decay_init_wd",
            AdagradConfig {
                lr_decay: 0.1,
                initial_accumulator_value: 0.5,
                weight_decay: 0.01,
                ..d
            },
        ),
        ("textbook", AdagradConfig { lr: 0.1, ..AdagradConfig::textbook() }),
        ("maximize", AdagradConfig { maximize: true, grad_scale: 0.5, ..d }),
    ]
}

pub fn rmsprop_configs() -> Vec<(&'static str, RmspropConfig)> {
    let d = RmspropConfig { lr: 0.01, ..Default::default() };
    vec![
        ("default", d),
        ("centered_momentum", RmspropConfig { centered: true, momentum: 0.9, ..d }),
        ("centered", RmspropConfig { centered: true, alpha: 0.9, ..d }),
        ("momentum_wd", RmspropConfig { momentum: 0.5, weight_decay: 0.01, maximize: true, ..d }),
        ("textbook", RmspropConfig::textbook()),
    ]
}

pub fn adamax_configs() -> Vec<(&'static str, AdamaxConfig)> {
    let d = AdamaxConfig::default();
    vec![
        ("default", d),
        ("wd_maximize", AdamaxConfig { weight_decay: 0.01, maximize: true, beta1: 0.45, ..d }),
    ]
}

pub fn adadelta_configs() -> Vec<(&'static str, AdadeltaConfig)> {
    let d = AdadeltaConfig::default();
    vec![
        ("default", d),
        ("wd_rho", AdadeltaConfig { weight_decay: 0.01, rho: 0.5, grad_scale: 2.0, ..d }),
    ]
}

pub fn nadam_configs() -> Vec<(&'static str, NadamConfig)> {
    let d = NadamConfig::default();
    vec![
        ("default", d),
        ("l2", NadamConfig { weight_decay: 0.01, ..d }),
        (
            "decoupled",
            NadamConfig { weight_decay: 0.1, decoupled_weight_decay: true, maximize: true, ..d },
        ),
    ]
}

pub fn radam_configs() -> Vec<(&'static str, RadamConfig)> {
    let d = RadamConfig { lr: 1e-2, ..Default::default() };
    vec![
        ("default", d),
        ("decoupled", RadamConfig { weight_decay: 0.1, decoupled_weight_decay: true, ..d }),
        ("l2_maximize", RadamConfig { weight_decay: 0.01, maximize: true, ..d }),
    ]
}

pub fn asgd_configs() -> Vec<(&'static str, AsgdConfig)> {
    let d = AsgdConfig::default();
    vec![
        ("default", d),
        ("averaging", AsgdConfig { t0: 1.0, lambd: 0.01, weight_decay: 0.01, ..d }),
    ]
}

pub fn rprop_configs() -> Vec<(&'static str, RpropConfig)> {
    let d = RpropConfig::default();
    vec![
        ("default", d),
        (
            "tight",
            RpropConfig {
                etaminus: 0.3,
                etaplus: 1.5,
                step_size_min: 1e-3,
                step_size_max: 0.02,
                maximize: true,
                ..d
            },
        ),
    ]
}

pub fn adafactor_configs() -> Vec<(&'static str, AdafactorConfig)> {
    let d = AdafactorConfig::default();
    vec![
        ("default", d),
        ("wd_d", AdafactorConfig { weight_decay: 0.1, d: 2.0, beta2_decay: -0.5, ..d }),
        ("maximize_eps", AdafactorConfig { maximize: true, eps1: 1e-3, eps2: 1e-2, ..d }),
    ]
}

pub fn lion_configs() -> Vec<(&'static str, LionConfig)> {
    let d = LionConfig { lr: 1e-3, ..Default::default() };
    vec![("default", d), ("wd_maximize", LionConfig { weight_decay: 0.1, maximize: true, ..d })]
}

pub fn lamb_configs() -> Vec<(&'static str, LambConfig)> {
    let d = LambConfig::default();
    vec![("default", d), ("no_wd_maximize", LambConfig { weight_decay: 0.0, maximize: true, ..d })]
}

pub fn lars_configs() -> Vec<(&'static str, LarsConfig)> {
    let d = LarsConfig::default();
    vec![
        ("default", d),
        ("wd_maximize", LarsConfig { weight_decay: 0.01, maximize: true, grad_scale: 0.5, ..d }),
    ]
}

/// RAdam cases run from step 6 on, where `ρ_t > 5` for β₂ = 0.999, so the tests see both the
/// rectified and (through `step` 1..5 in the reference tests) the un-rectified branch.
pub const RADAM_STEP_OFFSET: u32 = 5;

/// The NAdam state torch would hold before step `t` for a fixed `μ` sequence (any f32 value
/// works for the width tests; this one varies with `t`).
pub fn nadam_state(t: u32) -> NadamState {
    NadamState { mu_product: 0.9f32.powi(t as i32 - 1) }
}

/// An ASGD state that exercises both averaging branches (`μ = 1` at step 1, `μ = 0.5` after).
pub fn asgd_state(t: u32) -> AsgdState {
    AsgdState { eta: 0.01, mu: if t == 1 { 1.0 } else { 0.5 } }
}

pub fn momentum_configs() -> Vec<(&'static str, MomentumConfig)> {
    let d = MomentumConfig { lr: 0.05, momentum: 0.9, ..Default::default() };
    vec![
        ("classic", d),
        ("weight_decay", MomentumConfig { weight_decay: 0.01, grad_scale: 2.0, ..d }),
    ]
}

pub fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for numerics in PROFILES {
        for (name, cfg) in sgd_configs() {
            let cfg = SgdConfig { numerics, ..cfg };
            out.push(case(
                format!("sgd/{name}/{numerics:?}"),
                vec![Kind::Param, Kind::Signed],
                vec![Kind::Grad],
                Box::new(move |w, m, i, t| match m {
                    [p, b] => optkern::sgd_step_with(w, p, i[0], b, t, &cfg),
                    _ => unreachable!(),
                }),
            ));
        }
        for (name, cfg) in adam_configs() {
            let cfg = AdamConfig { numerics, ..cfg };
            out.push(case(
                format!("adam/{name}/{numerics:?}"),
                vec![Kind::Param, Kind::Signed, Kind::NonNeg, Kind::NonNeg],
                vec![Kind::Grad],
                Box::new(move |w, m, i, t| match m {
                    [p, m1, v, vmax] => optkern::adam_step_with(w, p, i[0], m1, v, vmax, t, &cfg),
                    _ => unreachable!(),
                }),
            ));
        }
        for (name, cfg) in momentum_configs() {
            let cfg = MomentumConfig { numerics, ..cfg };
            out.push(case(
                format!("momentum/{name}/{numerics:?}"),
                vec![Kind::Param, Kind::Signed],
                vec![Kind::Grad],
                Box::new(move |w, m, i, _| match m {
                    [p, v] => optkern::momentum_step_with(w, p, i[0], v, &cfg),
                    _ => unreachable!(),
                }),
            ));
            out.push(case(
                format!("nesterov_lookahead/{name}/{numerics:?}"),
                vec![Kind::Param],
                vec![Kind::Param, Kind::Signed],
                Box::new(move |w, m, i, _| match m {
                    [out] => optkern::nesterov_lookahead_with(w, out, i[0], i[1], &cfg),
                    _ => unreachable!(),
                }),
            ));
        }
        let (p, s, nn, g) = (Kind::Param, Kind::Signed, Kind::NonNeg, Kind::Grad);
        for (name, cfg) in adagrad_configs() {
            let cfg = AdagradConfig { numerics, ..cfg };
            out.push(case(
                format!("adagrad/{name}/{numerics:?}"),
                vec![p, nn],
                vec![g],
                Box::new(move |w, m, i, t| match m {
                    [p, sum] => optkern::adagrad_step_with(w, p, i[0], sum, t, &cfg),
                    _ => unreachable!(),
                }),
            ));
        }
        for (name, cfg) in rmsprop_configs() {
            let cfg = RmspropConfig { numerics, ..cfg };
            // grad_avg starts at 0 so that the centered variance stays ≥ 0 in exact arithmetic.
            out.push(case(
                format!("rmsprop/{name}/{numerics:?}"),
                vec![p, nn, s, Kind::Zero],
                vec![g],
                Box::new(move |w, m, i, _| match m {
                    [p, sq, b, ga] => optkern::rmsprop_step_with(w, p, i[0], sq, b, ga, &cfg),
                    _ => unreachable!(),
                }),
            ));
        }
        for (name, cfg) in adamax_configs() {
            let cfg = AdamaxConfig { numerics, ..cfg };
            out.push(case(
                format!("adamax/{name}/{numerics:?}"),
                vec![p, s, nn],
                vec![g],
                Box::new(move |w, m, i, t| match m {
                    [p, m1, u] => optkern::adamax_step_with(w, p, i[0], m1, u, t, &cfg),
                    _ => unreachable!(),
                }),
            ));
        }
        for (name, cfg) in adadelta_configs() {
            let cfg = AdadeltaConfig { numerics, ..cfg };
            out.push(case(
                format!("adadelta/{name}/{numerics:?}"),
                vec![p, nn, nn],
                vec![g],
                Box::new(move |w, m, i, _| match m {
                    [p, sq, acc] => optkern::adadelta_step_with(w, p, i[0], sq, acc, &cfg),
                    _ => unreachable!(),
                }),
            ));
        }
        for (name, cfg) in nadam_configs() {
            let cfg = NadamConfig { numerics, ..cfg };
            out.push(case(
                format!("nadam/{name}/{numerics:?}"),
                vec![p, s, nn],
                vec![g],
                Box::new(move |w, m, i, t| match m {
                    [p, m1, v] => {
                        optkern::nadam_step_with(w, p, i[0], m1, v, &mut nadam_state(t), t, &cfg)
                    }
                    _ => unreachable!(),
                }),
            ));
        }
        for (name, cfg) in radam_configs() {
            let cfg = RadamConfig { numerics, ..cfg };
            out.push(case(
                format!("radam/{name}/{numerics:?}"),
                vec![p, s, nn],
                vec![g],
                Box::new(move |w, m, i, t| match m {
                    [p, m1, v] => {
                        optkern::radam_step_with(w, p, i[0], m1, v, t + RADAM_STEP_OFFSET, &cfg)
                    }
                    _ => unreachable!(),
                }),
            ));
            out.push(case(
                format!("radam/{name}/unrectified/{numerics:?}"),
                vec![p, s, nn],
                vec![g],
                Box::new(move |w, m, i, t| match m {
                    [p, m1, v] => optkern::radam_step_with(w, p, i[0], m1, v, t, &cfg),
                    _ => unreachable!(),
                }),
            ));
        }
        for (name, cfg) in asgd_configs() {
            let cfg = AsgdConfig { numerics, ..cfg };
            out.push(case(
                format!("asgd/{name}/{numerics:?}"),
                vec![p, p],
                vec![g],
                Box::new(move |w, m, i, t| match m {
                    [p, ax] => optkern::asgd_step_with(w, p, i[0], ax, &mut asgd_state(t), t, &cfg),
                    _ => unreachable!(),
                }),
            ));
        }
        for (name, cfg) in rprop_configs() {
            let cfg = RpropConfig { numerics, ..cfg };
            out.push(case(
                format!("rprop/{name}/{numerics:?}"),
                vec![p, s, nn],
                vec![g],
                Box::new(move |w, m, i, t| match m {
                    [p, prev, ss] => optkern::rprop_step_with(w, p, i[0], prev, ss, t, &cfg),
                    _ => unreachable!(),
                }),
            ));
        }
        for (name, cfg) in adafactor_configs() {
            let cfg = AdafactorConfig { numerics, ..cfg };
            let mut c = case(
                format!("adafactor/{name}/{numerics:?}"),
                vec![p, nn],
                vec![g],
                Box::new(move |w, m, i, t| match m {
                    [p, var] => optkern::adafactor_step_with(w, p, i[0], var, t, &cfg),
                    _ => unreachable!(),
                }),
            );
            c.elementwise = false;
            out.push(c);
        }
        for (name, cfg) in lion_configs() {
            let cfg = LionConfig { numerics, ..cfg };
            out.push(case(
                format!("lion/{name}/{numerics:?}"),
                vec![p, s],
                vec![g],
                Box::new(move |w, m, i, _| match m {
                    [p, m1] => optkern::lion_step_with(w, p, i[0], m1, &cfg),
                    _ => unreachable!(),
                }),
            ));
        }
        for (name, cfg) in lamb_configs() {
            let cfg = LambConfig { numerics, ..cfg };
            let mut c = case(
                format!("lamb/{name}/{numerics:?}"),
                vec![p, s, nn],
                vec![g],
                Box::new(move |w, m, i, t| match m {
                    [p, m1, v] => optkern::lamb_step_with(w, p, i[0], m1, v, t, &cfg),
                    _ => unreachable!(),
                }),
            );
            c.elementwise = false;
            out.push(c);
        }
        for (name, cfg) in lars_configs() {
            let cfg = LarsConfig { numerics, ..cfg };
            let mut c = case(
                format!("lars/{name}/{numerics:?}"),
                vec![p, s],
                vec![g],
                Box::new(move |w, m, i, _| match m {
                    [p, v] => optkern::lars_step_with(w, p, i[0], v, &cfg),
                    _ => unreachable!(),
                }),
            );
            c.elementwise = false;
            out.push(c);
        }
    }
    out
}
