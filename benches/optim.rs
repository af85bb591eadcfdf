//! Every update kernel against a same-traffic baseline (and, for Adam and SGD, the
//! straightforward scalar loop), at 4 Ki, 64 Ki, 1 Mi and 16 Mi elements.
//!
//! Groups are `<kernel>/<profile>`; ids are `<impl>/<n>` with impl ∈ {`native` (the public
//! entry point), `x1` (the same generic body one lane at a time), `x4`, `x8`, `x16` (Adam and
//! SGD), `scalar` (the loop a user would write, Adam and SGD), `baseline` (a trivial kernel
//! that reads and writes the same buffers: `s += g` for every state `s`)}. Throughput is the
//! bytes the kernel must move, so `% of roofline = baseline time ÷ kernel time`.
//!
//! `RUSTFLAGS="-C target-cpu=native" cargo bench --bench optim` then
//! `python3 scripts/bench-report.py`. `OPTKERN_BENCH_SIZES=4096,65536` narrows the sizes.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use optkern::*;
use std::hint::black_box;
use std::time::Duration;

type Kernel = Box<dyn Fn(Width, &mut [Vec<f32>], &[f32])>;

struct Bench {
    name: &'static str,
    /// Mutable buffers (params first); each is read and written.
    muts: usize,
    /// Extra read-only buffers besides the gradient.
    reads: usize,
    /// Passes over the data (the two-pass layer-wise kernels read everything twice).
    passes: u64,
    widths: bool,
    run: Kernel,
}

fn sizes() -> Vec<usize> {
    std::env::var("OPTKERN_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1 << 12, 1 << 16, 1 << 20, 1 << 24])
}

fn input(n: usize, seed: u32) -> Vec<f32> {
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

/// The Adam loop as written from the paper, in f32.
fn adam_scalar(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], t: i32) {
    let (lr, b1, b2, eps) = (1e-3f32, 0.9f32, 0.999f32, 1e-8f32);
    let bc1 = 1.0 - b1.powi(t);
    let bc2 = 1.0 - b2.powi(t);
    for i in 0..p.len() {
        m[i] = b1 * m[i] + (1.0 - b1) * g[i];
        v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
        p[i] -= lr * (m[i] / bc1) / ((v[i] / bc2).sqrt() + eps);
    }
}

/// SGD with momentum as written from the equation, in f32.
fn sgd_scalar(p: &mut [f32], g: &[f32], b: &mut [f32]) {
    for i in 0..p.len() {
        b[i] = 0.9 * b[i] + g[i];
        p[i] -= 1e-3 * b[i];
    }
}

/// Reads and writes every mutable buffer and reads the gradient: `s += g`.
fn baseline(muts: &mut [Vec<f32>], g: &[f32]) {
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
        _ => unreachable!(),
    }
}

fn kernels(profile: Numerics) -> Vec<Bench> {
    let b = |name, muts, passes, widths, run: Kernel| Bench {
        name,
        muts,
        reads: 0,
        passes,
        widths,
        run,
    };
    vec![
        b(
            "adam",
            3,
            1,
            true,
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
    ]
}

fn optim(c: &mut Criterion) {
    for profile in [Numerics::Torch, Numerics::Portable] {
        for bench in kernels(profile) {
            let mut group = c.benchmark_group(format!(
                "{}/{}",
                bench.name,
                format!("{profile:?}").to_lowercase()
            ));
            for n in sizes() {
                // Bytes the kernel must move per pass: every mutable buffer read and written,
                // the gradient and extra inputs read.
                let per_elem = 4 * (2 * bench.muts as u64 + 1 + bench.reads as u64);
                group.throughput(Throughput::Bytes(per_elem * n as u64));
                let mut state: Vec<Vec<f32>> =
                    (0..bench.muts).map(|k| input(n, k as u32 + 10)).collect();
                for s in state.iter_mut().skip(1) {
                    s.iter_mut().for_each(|x| *x = x.abs() * 1e-3);
                }
                let g = input(n, 1);
                let mut impls = vec![("native", Width::NATIVE), ("x1", Width::X1)];
                if bench.widths {
                    impls.extend([("x4", Width::X4), ("x8", Width::X8), ("x16", Width::X16)]);
                }
                for (name, w) in impls {
                    group.bench_function(BenchmarkId::new(name, n), |b| {
                        b.iter(|| (bench.run)(w, &mut state, black_box(&g)))
                    });
                }
                if profile == Numerics::Torch {
                    match (bench.name, &mut state[..]) {
                        ("adam", [p, m, v]) => {
                            group.bench_function(BenchmarkId::new("scalar", n), |b| {
                                b.iter(|| adam_scalar(p, black_box(&g), m, v, 10))
                            });
                        }
                        ("sgd_momentum", [p, m]) => {
                            group.bench_function(BenchmarkId::new("scalar", n), |b| {
                                b.iter(|| sgd_scalar(p, black_box(&g), m))
                            });
                        }
                        _ => {}
                    }
                }
                group.bench_function(BenchmarkId::new("baseline", n), |b| {
                    b.iter(|| {
                        for _ in 0..bench.passes {
                            baseline(&mut state, black_box(&g));
                        }
                    })
                });
            }
            group.finish();
        }
    }
}

/// Adam on the rayon pool (fixed 64 Ki blocks) against the single-thread call.
#[cfg(feature = "rayon")]
fn parallel(c: &mut Criterion) {
    let mut group = c.benchmark_group("adam_parallel/torch");
    for n in sizes() {
        group.throughput(Throughput::Bytes(28 * n as u64));
        let (mut p, g, mut m, mut v) = (input(n, 1), input(n, 2), vec![0.0f32; n], vec![0.0f32; n]);
        let cfg = AdamConfig::default();
        group.bench_function(BenchmarkId::new("single", n), |b| {
            b.iter(|| adam_step(&mut p, black_box(&g), &mut m, &mut v, &mut [], 10, &cfg).unwrap())
        });
        group.bench_function(BenchmarkId::new("rayon", n), |b| {
            b.iter(|| {
                optkern::parallel::adam_step(
                    &mut p,
                    black_box(&g),
                    &mut m,
                    &mut v,
                    &mut [],
                    10,
                    &cfg,
                )
                .unwrap()
            })
        });
    }
    group.finish();
}

#[cfg(not(feature = "rayon"))]
fn parallel(_: &mut Criterion) {}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_millis(700))
        .sample_size(15)
}

criterion_group! { name = benches; config = config(); targets = optim, parallel }
criterion_main!(benches);
