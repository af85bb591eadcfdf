//! The update kernels as the benches see them: each with its buffers, passes, divisions and
//! square roots, and a closure that runs it at a given width; the input data; the
//! same-traffic baseline.

use optkern::*;

type Kernel = Box<dyn Fn(Width, &mut [Vec<f32>], &[f32])>;

pub struct Bench {
    pub name: &'static str,
    /// Mutable buffers (params first); each is read and written.
    pub muts: usize,
    /// Passes over the data (the two-pass layer-wise kernels read everything twice).
    pub passes: u64,
    pub widths: bool,
    /// Divisions and square roots per element and pass in this profile (what bounds the kernel
    /// when its data sit in cache; `benches/roofline.rs` times a kernel with the same traffic
    /// and these operations).
    pub div_sqrt: (u32, u32),
    /// The width the public entry point uses.
    pub native: Width,
    pub run: Kernel,
}

pub fn sizes() -> Vec<usize> {
    std::env::var("OPTKERN_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1 << 12, 1 << 16, 1 << 20, 1 << 24])
}

pub fn input(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2_654_435_761).max(1);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s >> 8) as f32 / 16_777_216.0 - 0.5
        })
        .collect()
}

/// Reads and writes every mutable buffer and reads the gradient: `s += g`.
pub fn baseline(muts: &mut [Vec<f32>], g: &[f32]) {
    match muts {
        [a] => a.iter_mut().zip(g).for_each(|(a, g)| *a += g),
        [a, b] => a.iter_mut().zip(b.iter_mut()).zip(g).for_each(|((a, b), g)| {
            *a += g;
            *b += g;
        }),
        [a, b, c] => {
            a.iter_mut().zip(b.iter_mut()).zip(c.iter_mut()).zip(g).for_each(|(((a, b), c), g)| {
                *a += g;
                *b += g;
                *c += g;
            })
        }
        [a, b, c, d] => {
            a.iter_mut().zip(b.iter_mut()).zip(c.iter_mut()).zip(d.iter_mut()).zip(g).for_each(
                |((((a, b), c), d), g)| {
                    *a += g;
                    *b += g;
                    *c += g;
                    *d += g;
                },
            )
        }
        [a, b, c, d, e] => a
            .iter_mut()
            .zip(b.iter_mut())
            .zip(c.iter_mut())
            .zip(d.iter_mut())
            .zip(e.iter_mut())
            .zip(g)
            .for_each(|(((((a, b), c), d), e), g)| {
                *a += g;
                *b += g;
                *c += g;
                *d += g;
                *e += g;
            }),
        _ => unreachable!(),
    }
}

pub fn kernels(profile: Numerics) -> Vec<Bench> {
    // `torch`/`portable`: (divisions, square roots) per element and pass.
    let b = |name, muts, passes, widths, torch: (u32, u32), portable, run: Kernel| Bench {
        name,
        muts,
        passes,
        widths,
        div_sqrt: if profile == Numerics::Torch { torch } else { portable },
        native: if matches!(
            name,
            "lamb"
                | "adafactor"
                | "prodigy"
                | "dadapt_adam"
                | "dadapt_sgd"
                | "novograd"
                | "stable_adamw"
                | "mars"
                | "fromage"
                | "came"
        ) {
            Width::NATIVE_TWO_PASS
        } else {
            Width::NATIVE
        },
        run,
    };
    vec![
        b(
            "adam",
            3,
            1,
            true,
            (2, 1),
            (1, 1),
            Box::new(move |w, s, g| match s {
                [p, m, v] => adam_step_with(
                    w,
                    p,
                    g,
                    m,
                    v,
                    &mut [],
                    10,
                    &AdamConfig { numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "sgd_momentum",
            2,
            1,
            true,
            (0, 0),
            (0, 0),
            Box::new(move |w, s, g| match s {
                [p, m] => sgd_step_with(
                    w,
                    p,
                    g,
                    m,
                    2,
                    &SgdConfig { momentum: 0.9, numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "momentum",
            2,
            1,
            false,
            (0, 0),
            (0, 0),
            Box::new(move |w, s, g| match s {
                [p, v] => momentum_step_with(
                    w,
                    p,
                    g,
                    v,
                    &MomentumConfig { numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "adagrad",
            2,
            1,
            false,
            (1, 1),
            (1, 1),
            Box::new(move |w, s, g| match s {
                [p, sum] => adagrad_step_with(
                    w,
                    p,
                    g,
                    sum,
                    2,
                    &AdagradConfig { numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "rmsprop",
            2,
            1,
            false,
            (1, 1),
            (1, 1),
            Box::new(move |w, s, g| match s {
                [p, sq] => rmsprop_step_with(
                    w,
                    p,
                    g,
                    sq,
                    &mut [],
                    &mut [],
                    &RmspropConfig { numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "adamax",
            3,
            1,
            false,
            (1, 0),
            (1, 0),
            Box::new(move |w, s, g| match s {
                [p, m, u] => adamax_step_with(
                    w,
                    p,
                    g,
                    m,
                    u,
                    10,
                    &AdamaxConfig { numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "adadelta",
            3,
            1,
            false,
            (1, 2),
            (1, 1),
            Box::new(move |w, s, g| match s {
                [p, sq, acc] => adadelta_step_with(
                    w,
                    p,
                    g,
                    sq,
                    acc,
                    &AdadeltaConfig { numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "nadam",
            3,
            1,
            false,
            (3, 1),
            (1, 1),
            Box::new(move |w, s, g| match s {
                [p, m, v] => nadam_step_with(
                    w,
                    p,
                    g,
                    m,
                    v,
                    &mut NadamState::default(),
                    10,
                    &NadamConfig { numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "radam",
            3,
            1,
            false,
            (2, 1),
            (1, 1),
            Box::new(move |w, s, g| match s {
                [p, m, v] => radam_step_with(
                    w,
                    p,
                    g,
                    m,
                    v,
                    10,
                    &RadamConfig { numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "asgd",
            2,
            1,
            false,
            (0, 0),
            (0, 0),
            Box::new(move |w, s, g| match s {
                [p, ax] => asgd_step_with(
                    w,
                    p,
                    g,
                    ax,
                    &mut AsgdState { eta: 0.01, mu: 0.5 },
                    10,
                    &AsgdConfig { numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "rprop",
            3,
            1,
            false,
            (0, 0),
            (0, 0),
            Box::new(move |w, s, g| match s {
                [p, prev, ss] => rprop_step_with(
                    w,
                    p,
                    g,
                    prev,
                    ss,
                    2,
                    &RpropConfig { numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "adafactor",
            2,
            2,
            false,
            (1, 1),
            (1, 1),
            Box::new(move |w, s, g| match s {
                [p, var] => adafactor_step_with(
                    w,
                    p,
                    g,
                    var,
                    10,
                    &AdafactorConfig { numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "lion",
            2,
            1,
            false,
            (0, 0),
            (0, 0),
            Box::new(move |w, s, g| match s {
                [p, m] => lion_step_with(
                    w,
                    p,
                    g,
                    m,
                    &LionConfig { numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "lamb",
            3,
            2,
            false,
            (3, 1),
            (1, 1),
            Box::new(move |w, s, g| match s {
                [p, m, v] => lamb_step_with(
                    w,
                    p,
                    g,
                    m,
                    v,
                    10,
                    &LambConfig { numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "lars",
            2,
            2,
            false,
            (0, 0),
            (0, 0),
            Box::new(move |w, s, g| match s {
                [p, v] => lars_step_with(
                    w,
                    p,
                    g,
                    v,
                    &LarsConfig { numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "swa",
            1,
            1,
            false,
            (1, 0),
            (1, 0),
            Box::new(move |w, s, x| match s {
                [a] => swa_update_with(
                    w,
                    a,
                    x,
                    10,
                    &SwaConfig { numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "ema",
            1,
            1,
            false,
            (0, 0),
            (0, 0),
            Box::new(move |w, s, x| match s {
                [a] => ema_update_with(
                    w,
                    a,
                    x,
                    10,
                    &EmaConfig { decay: 0.999, numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "adopt",
            3,
            1,
            false,
            (1, 1),
            (1, 1),
            Box::new(move |w, s, g| match s {
                [p, m, v] => adopt_step_with(
                    w,
                    p,
                    g,
                    m,
                    v,
                    10,
                    &AdoptConfig { numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "adabelief",
            3,
            1,
            false,
            (2, 1),
            (2, 1),
            Box::new(move |w, s, g| match s {
                [p, m, v] => adabelief_step_with(
                    w,
                    p,
                    g,
                    m,
                    v,
                    &mut [],
                    10,
                    &AdabeliefConfig { numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "adabound",
            3,
            1,
            false,
            (1, 1),
            (1, 1),
            Box::new(move |w, s, g| match s {
                [p, m, v] => adabound_step_with(
                    w,
                    p,
                    g,
                    m,
                    v,
                    &mut [],
                    10,
                    &AdaboundConfig { numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "adamod",
            4,
            1,
            false,
            (1, 1),
            (1, 1),
            Box::new(move |w, s, g| match s {
                [p, m, v, s] => adamod_step_with(
                    w,
                    p,
                    g,
                    m,
                    v,
                    s,
                    10,
                    &AdamodConfig { numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "adamp",
            3,
            1,
            false,
            (1, 1),
            (1, 1),
            Box::new(move |w, s, g| match s {
                [p, m, v] => adamp_step_with(
                    w,
                    p,
                    g,
                    m,
                    v,
                    10,
                    &AdampConfig { numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "adan",
            5,
            1,
            false,
            (3, 1),
            (3, 1),
            Box::new(move |w, s, g| match s {
                [p, m, n, v, prev] => adan_step_with(
                    w,
                    p,
                    g,
                    m,
                    n,
                    v,
                    prev,
                    10,
                    &AdanConfig { numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "ademamix",
            4,
            1,
            false,
            (3, 1),
            (3, 1),
            Box::new(move |w, s, g| match s {
                [p, m1, v, m2] => ademamix_step_with(
                    w,
                    p,
                    g,
                    m1,
                    v,
                    m2,
                    10,
                    &AdemamixConfig { numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "diffgrad",
            4,
            1,
            false,
            // The step's division and the sigmoid's, and √v.
            (3, 1),
            (3, 1),
            Box::new(move |w, s, g| match s {
                [p, m, v, prev] => diffgrad_step_with(
                    w,
                    p,
                    g,
                    m,
                    v,
                    prev,
                    &mut [],
                    10,
                    &DiffgradConfig { numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "sm3",
            2,
            1,
            false,
            (1, 1),
            (1, 1),
            Box::new(move |w, s, g| match s {
                [p, acc] => sm3_step_with(
                    w,
                    p,
                    g,
                    acc,
                    &mut [],
                    &Sm3Config { numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "yogi",
            3,
            1,
            false,
            (3, 1),
            (3, 1),
            Box::new(move |w, s, g| match s {
                [p, m, v] => yogi_step_with(
                    w,
                    p,
                    g,
                    m,
                    v,
                    10,
                    &YogiConfig { numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "signsgd",
            2,
            1,
            false,
            (0, 0),
            (0, 0),
            Box::new(move |w, s, g| match s {
                [p, m] => signsgd_step_with(
                    w,
                    p,
                    g,
                    m,
                    &SignsgdConfig { numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "tiger",
            2,
            1,
            false,
            (0, 0),
            (0, 0),
            Box::new(move |w, s, g| match s {
                [p, m] => tiger_step_with(
                    w,
                    p,
                    g,
                    m,
                    &TigerConfig { numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "qhm",
            2,
            1,
            false,
            (0, 0),
            (0, 0),
            Box::new(move |w, s, g| match s {
                [p, b] => qhm_step_with(
                    w,
                    p,
                    g,
                    b,
                    &QhmConfig { numerics: profile, momentum: 0.9, nu: 0.7, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "pid",
            4,
            1,
            false,
            (0, 0),
            (0, 0),
            Box::new(move |w, s, g| match s {
                [p, i, d, prev] => pid_step_with(
                    w,
                    p,
                    g,
                    i,
                    d,
                    prev,
                    10,
                    &PidConfig { numerics: profile, momentum: 0.9, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "optimistic_gd",
            2,
            1,
            false,
            (0, 0),
            (0, 0),
            Box::new(move |w, s, g| match s {
                [p, prev] => optimistic_gd_step_with(
                    w,
                    p,
                    g,
                    prev,
                    10,
                    &OptimisticGdConfig { numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "sgd_schedulefree",
            2,
            1,
            false,
            (0, 0),
            (0, 0),
            Box::new(move |w, s, g| match s {
                [p, z] => sgd_schedulefree_step_with(
                    w,
                    p,
                    g,
                    z,
                    &mut ScheduleFreeState {
                        k: 9,
                        lr_max: 0.1,
                        weight_sum: 0.09,
                        scheduled_lr: 0.1,
                    },
                    &SgdScheduleFreeConfig { lr: 0.1, numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "sgd_schedulefree_reference",
            3,
            1,
            false,
            (0, 0),
            (0, 0),
            Box::new(move |w, s, g| match s {
                [p, z, x] => sgd_schedulefree_reference_step_with(
                    w,
                    p,
                    g,
                    z,
                    x,
                    &mut ScheduleFreeState {
                        k: 9,
                        lr_max: 0.1,
                        weight_sum: 0.09,
                        scheduled_lr: 0.1,
                    },
                    &SgdScheduleFreeConfig { lr: 0.1, numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "adamw_schedulefree",
            3,
            1,
            false,
            (2, 1),
            (2, 1),
            Box::new(move |w, s, g| match s {
                [p, z, v] => adamw_schedulefree_step_with(
                    w,
                    p,
                    g,
                    z,
                    v,
                    &mut ScheduleFreeState {
                        k: 9,
                        lr_max: 2.5e-3,
                        weight_sum: 5.6e-5,
                        scheduled_lr: 2.5e-3,
                    },
                    &AdamwScheduleFreeConfig { numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "adamw_schedulefree_reference",
            4,
            1,
            false,
            (2, 1),
            (2, 1),
            Box::new(move |w, s, g| match s {
                [p, z, x, v] => adamw_schedulefree_reference_step_with(
                    w,
                    p,
                    g,
                    z,
                    x,
                    v,
                    &mut ScheduleFreeState {
                        k: 9,
                        lr_max: 2.5e-3,
                        weight_sum: 5.6e-5,
                        scheduled_lr: 2.5e-3,
                    },
                    &AdamwScheduleFreeConfig { numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "radam_schedulefree",
            3,
            1,
            false,
            (2, 1),
            (2, 1),
            Box::new(move |w, s, g| match s {
                [p, z, v] => radam_schedulefree_step_with(
                    w,
                    p,
                    g,
                    z,
                    v,
                    &mut ScheduleFreeState {
                        k: 9,
                        lr_max: 1e-4,
                        weight_sum: 4e-8,
                        scheduled_lr: 1e-4,
                    },
                    &AdamwScheduleFreeConfig { numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "schedulefree_eval",
            1,
            1,
            false,
            (0, 0),
            (0, 0),
            Box::new(move |w, s, g| match s {
                [p] => schedulefree_eval_with(w, p, g, 0.9, profile).unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "schedulefree_train",
            1,
            1,
            false,
            (0, 0),
            (0, 0),
            Box::new(move |w, s, g| match s {
                [p] => schedulefree_train_with(w, p, g, 0.9, profile).unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "prodigy",
            4,
            2,
            false,
            (1, 1),
            (1, 1),
            Box::new(move |w, s, g| match s {
                [p, st, m, v] => {
                    // One whole step: the accumulate pass (with p0 = the gradient buffer, any
                    // data will do), the scalar update, the apply pass.
                    let cfg = ProdigyConfig { numerics: profile, ..Default::default() };
                    let mut state = ProdigyState::new(cfg.d0);
                    prodigy_accumulate_with(w, p, g, g, st, m, v, &mut state, &cfg).unwrap();
                    prodigy_update_d(&mut state, &cfg).unwrap();
                    prodigy_apply_with(w, p, m, v, &state, &cfg).unwrap()
                }
                _ => unreachable!(),
            }),
        ),
        b(
            "qhadam",
            3,
            1,
            false,
            (1, 1),
            (1, 1),
            Box::new(move |w, s, g| match s {
                [p, m, v] => qhadam_step_with(
                    w,
                    p,
                    g,
                    m,
                    v,
                    &mut QhadamState { beta1_weight: 6.5, beta2_weight: 9.9 },
                    &QhadamConfig { numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "madgrad",
            4,
            1,
            false,
            // z's division and the cube root's two Halley divisions.
            (3, 0),
            (3, 0),
            Box::new(move |w, s, g| match s {
                [p, sq, ss, x0] => madgrad_step_with(
                    w,
                    p,
                    g,
                    sq,
                    ss,
                    x0,
                    &mut MadgradState { k: 9 },
                    &MadgradConfig { numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "aggmo",
            4,
            1,
            false,
            (0, 0),
            (0, 0),
            Box::new(move |w, s, g| match s {
                [p, b0, b1, b2] => aggmo_step_with(
                    w,
                    p,
                    g,
                    b0,
                    b1,
                    b2,
                    &mut [],
                    &AggmoConfig { numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "ranger",
            4,
            1,
            false,
            (1, 1),
            (1, 1),
            Box::new(move |w, s, g| match s {
                [p, m, v, slow] => ranger_step_with(
                    w,
                    p,
                    g,
                    m,
                    v,
                    slow,
                    10,
                    &RangerConfig { numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "lookahead_sync",
            2,
            1,
            false,
            (0, 0),
            (0, 0),
            Box::new(move |w, s, _| match s {
                [fast, slow] => lookahead_sync_with(w, fast, slow, 0.5, profile).unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "laprop",
            3,
            1,
            false,
            (2, 1),
            (2, 1),
            Box::new(move |w, s, g| match s {
                [p, m, v] => laprop_step_with(
                    w,
                    p,
                    g,
                    m,
                    v,
                    &mut [],
                    &mut [],
                    10,
                    &mut LapropState { exp_avg_lr_1: 3e-4, exp_avg_lr_2: 1e-2 },
                    &LapropConfig { numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "dadapt_adam",
            4,
            1,
            false,
            (2, 2),
            (2, 2),
            Box::new(move |w, s, g| match s {
                [p, m, v, sb] => {
                    let cfg = DadaptAdamConfig { numerics: profile, ..Default::default() };
                    let mut st = DadaptState::new(1e-6);
                    dadapt_adam_step_with(w, p, g, m, v, sb, &mut st, &cfg).unwrap();
                    dadapt_update_d(&mut st, Dadapt::Adam, cfg.lr, cfg.beta2, cfg.growth_rate)
                        .unwrap()
                }
                _ => unreachable!(),
            }),
        ),
        b(
            "dadapt_sgd",
            3,
            1,
            false,
            (0, 0),
            (0, 0),
            Box::new(move |w, s, g| match s {
                [p, sb, z] => {
                    let cfg = DadaptSgdConfig { numerics: profile, ..Default::default() };
                    let mut st = DadaptState { g0_norm: 1.0, ..DadaptState::new(1e-6) };
                    // x0: the gradient buffer stands in (any data will do).
                    dadapt_sgd_step_with(w, p, g, sb, g, z, &mut st, &cfg).unwrap();
                    dadapt_update_d(&mut st, Dadapt::Sgd, cfg.lr, 0.5, cfg.growth_rate).unwrap()
                }
                _ => unreachable!(),
            }),
        ),
        b(
            "novograd",
            2,
            2,
            false,
            (1, 0),
            (1, 0),
            Box::new(move |w, s, g| match s {
                [p, m] => novograd_step_with(
                    w,
                    p,
                    g,
                    m,
                    10,
                    &mut NovogradState { nu: 1.0 },
                    &NovogradConfig { numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "stable_adamw",
            3,
            2,
            false,
            (2, 1),
            (2, 1),
            Box::new(move |w, s, g| match s {
                [p, m, v] => stable_adamw_step_with(
                    w,
                    p,
                    g,
                    m,
                    v,
                    10,
                    &StableAdamwConfig { numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "mars",
            4,
            2,
            false,
            (2, 1),
            (2, 1),
            Box::new(move |w, s, g| match s {
                [p, m, v, last] => mars_step_with(
                    w,
                    p,
                    g,
                    m,
                    v,
                    last,
                    10,
                    &MarsConfig { numerics: profile, optimize_1d: true, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "fromage",
            1,
            3,
            false,
            (1, 0),
            (1, 0),
            Box::new(move |w, s, g| match s {
                [p] => fromage_step_with(
                    w,
                    p,
                    g,
                    2,
                    &mut FromageState::default(),
                    &FromageConfig { numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
        b(
            "came",
            3,
            3,
            false,
            (2, 1),
            (2, 1),
            Box::new(move |w, s, g| match s {
                [p, m, v] => came_step_with(
                    w,
                    p,
                    g,
                    m,
                    v,
                    &mut [],
                    &mut CameState::default(),
                    &CameConfig { numerics: profile, ..Default::default() },
                )
                .unwrap(),
                _ => unreachable!(),
            }),
        ),
    ]
}
