//! Every kernel and option combination the generic tests run, behind one uniform shape:
//! mutable buffers (the first is the one the kernel is named for), read-only buffers, and a
//! call at a given width and step.
#![allow(dead_code)]

use super::Kind;
use optkern::{AdamConfig, Error, MomentumConfig, Numerics, SgdConfig, Width};

pub type Run = Box<dyn Fn(Width, &mut [&mut [f32]], &[&[f32]], u32) -> Result<(), Error>>;

pub struct Case {
    pub name: String,
    /// Kinds of the mutable buffers, in argument order.
    pub muts: Vec<Kind>,
    /// Kinds of the read-only buffers, in argument order.
    pub ins: Vec<Kind>,
    pub run: Run,
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
    ]
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
            out.push(Case {
                name: format!("sgd/{name}/{numerics:?}"),
                muts: vec![Kind::Param, Kind::Signed],
                ins: vec![Kind::Grad],
                run: Box::new(move |w, m, i, t| match m {
                    [p, b] => optkern::sgd_step_with(w, p, i[0], b, t, &cfg),
                    _ => unreachable!(),
                }),
            });
        }
        for (name, cfg) in adam_configs() {
            let cfg = AdamConfig { numerics, ..cfg };
            out.push(Case {
                name: format!("adam/{name}/{numerics:?}"),
                muts: vec![Kind::Param, Kind::Signed, Kind::NonNeg, Kind::NonNeg],
                ins: vec![Kind::Grad],
                run: Box::new(move |w, m, i, t| match m {
                    [p, m1, v, vmax] => optkern::adam_step_with(w, p, i[0], m1, v, vmax, t, &cfg),
                    _ => unreachable!(),
                }),
            });
        }
        for (name, cfg) in momentum_configs() {
            let cfg = MomentumConfig { numerics, ..cfg };
            out.push(Case {
                name: format!("momentum/{name}/{numerics:?}"),
                muts: vec![Kind::Param, Kind::Signed],
                ins: vec![Kind::Grad],
                run: Box::new(move |w, m, i, _| match m {
                    [p, v] => optkern::momentum_step_with(w, p, i[0], v, &cfg),
                    _ => unreachable!(),
                }),
            });
            out.push(Case {
                name: format!("nesterov_lookahead/{name}/{numerics:?}"),
                muts: vec![Kind::Param],
                ins: vec![Kind::Param, Kind::Signed],
                run: Box::new(move |w, m, i, _| match m {
                    [out] => optkern::nesterov_lookahead_with(w, out, i[0], i[1], &cfg),
                    _ => unreachable!(),
                }),
            });
        }
    }
    out
}
