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

// Shared with `benches/roofline.rs`, which uses the rest of it.
#[allow(dead_code)]
mod common;
use common::{baseline, input, kernels, sizes};
use std::time::Duration;

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
                // the gradient read.
                let per_elem = 4 * (2 * bench.muts as u64 + 1);
                group.throughput(Throughput::Bytes(per_elem * n as u64));
                let mut state: Vec<Vec<f32>> =
                    (0..bench.muts).map(|k| input(n, k as u32 + 10)).collect();
                for s in state.iter_mut().skip(1) {
                    s.iter_mut().for_each(|x| *x = x.abs() * 1e-3);
                }
                let g = input(n, 1);
                let mut impls = vec![("native", bench.native), ("x1", Width::X1)];
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

/// The fixed cost of a call: Adam on 16 elements, steps cycling 1..1000, as `adam_step` (the
/// powers β₁ᵗ, β₂ᵗ and √(1 − β₂ᵗ) in every call) and as `adam_step_prepared` (prepared once per
/// step, before the timing: a model of many tensors pays that once per step); NAdam and RAdam
/// the same way.
fn per_call(c: &mut Criterion) {
    let mut group = c.benchmark_group("adam_per_call/16");
    let n = 16;
    let (mut p, g, mut m, mut v) = (input(n, 1), input(n, 2), vec![0.0f32; n], vec![0.0f32; n]);
    let cfg = AdamConfig { numerics: Numerics::Portable, ..Default::default() };
    let prepared: Vec<AdamPrepared> = (1..=1000).map(|t| cfg.prepare(t).unwrap()).collect();
    let mut t = 0;
    group.bench_function("adam_step", |b| {
        b.iter(|| {
            t = t % 1000 + 1;
            adam_step(&mut p, black_box(&g), &mut m, &mut v, &mut [], t, &cfg).unwrap()
        })
    });
    let mut k = prepared.iter().cycle();
    group.bench_function("adam_step_prepared", |b| {
        b.iter(|| {
            let k = k.next().expect("cycle");
            adam_step_prepared(&mut p, black_box(&g), &mut m, &mut v, &mut [], k).unwrap()
        })
    });
    group.finish();
    // NAdam: two f64 `pow` (the momentum schedule) and β₂ᵗ per call, or prepared per step.
    let mut group = c.benchmark_group("nadam_per_call/16");
    let cfg = NadamConfig { numerics: Numerics::Portable, ..Default::default() };
    let prepared: Vec<NadamPrepared> = (1..=1000).map(|t| cfg.prepare(t).unwrap()).collect();
    let mut state = NadamState::default();
    let mut t = 0;
    group.bench_function("nadam_step", |b| {
        b.iter(|| {
            t = t % 1000 + 1;
            nadam_step(&mut p, black_box(&g), &mut m, &mut v, &mut state, t, &cfg).unwrap()
        })
    });
    let mut k = prepared.iter().cycle();
    group.bench_function("nadam_step_prepared", |b| {
        b.iter(|| {
            let k = k.next().expect("cycle");
            nadam_step_prepared(&mut p, black_box(&g), &mut m, &mut v, &mut state, k).unwrap()
        })
    });
    group.finish();
    // RAdam: the powers, ρ_t and the rectifier's root per call, or prepared per step.
    let mut group = c.benchmark_group("radam_per_call/16");
    let cfg = RadamConfig { numerics: Numerics::Portable, ..Default::default() };
    let prepared: Vec<RadamPrepared> = (1..=1000).map(|t| cfg.prepare(t).unwrap()).collect();
    let mut t = 0;
    group.bench_function("radam_step", |b| {
        b.iter(|| {
            t = t % 1000 + 1;
            radam_step(&mut p, black_box(&g), &mut m, &mut v, t, &cfg).unwrap()
        })
    });
    let mut k = prepared.iter().cycle();
    group.bench_function("radam_step_prepared", |b| {
        b.iter(|| {
            let k = k.next().expect("cycle");
            radam_step_prepared(&mut p, black_box(&g), &mut m, &mut v, k).unwrap()
        })
    });
    group.finish();
}

/// SparseAdam on a 65536 × 64 embedding table (16 MiB per buffer, past the caches) with 1 %
/// and 10 % of the rows touched (unsorted, unique), against the same-traffic baseline over the
/// touched rows (`s += g` on each of the three buffers' rows): the cost must follow the touched
/// rows, not the table. Throughput counts the touched rows' bytes.
fn sparse(c: &mut Criterion) {
    let (rows, cols) = (65_536usize, 64usize);
    let n = rows * cols;
    let mut group = c.benchmark_group("sparse_adam");
    let (mut p, mut m, mut v) = (input(n, 1), vec![0.0f32; n], vec![0.0f32; n]);
    for percent in [1usize, 10] {
        let touched = rows * percent / 100;
        // Rows spread over the table by a multiplicative hash (unique, unsorted).
        let indices: Vec<usize> = (0..touched).map(|j| (j * 40_503) % rows).collect();
        let values = input(touched * cols, 2);
        let mut scratch = vec![0usize; sparse_adam_scratch_len(touched)];
        group.throughput(Throughput::Bytes(4 * 7 * (touched * cols) as u64));
        let cfg = SparseAdamConfig::default();
        group.bench_function(BenchmarkId::new("native", format!("{percent}%")), |b| {
            b.iter(|| {
                sparse_adam_step(
                    &mut p,
                    &mut m,
                    &mut v,
                    rows,
                    cols,
                    black_box(&indices),
                    &values,
                    &mut scratch,
                    10,
                    &cfg,
                )
                .unwrap()
            })
        });
        group.bench_function(BenchmarkId::new("baseline", format!("{percent}%")), |b| {
            b.iter(|| {
                for (j, &r) in black_box(&indices).iter().enumerate() {
                    let g = &values[j * cols..(j + 1) * cols];
                    for buf in [&mut p, &mut m, &mut v] {
                        buf[r * cols..(r + 1) * cols].iter_mut().zip(g).for_each(|(s, g)| *s += g);
                    }
                }
            })
        });
    }
    group.finish();
}

/// The matrix product at 256, 512 and 1024 square (throughput in flops: `2n³` "elements"),
/// next to a loop of independent fused multiply-adds at this width (the core's FMA peak as a
/// program can reach it), and Muon's step on 1024 × 1024 and 4096 × 1024 (five
/// Newton–Schulz iterations: `2·(2m²n + m³ + … )` flops, dominated by the products).
/// `scripts/gemm-vs-torch.py` runs torch.mm (one thread, MKL) beside it.
fn matrix(c: &mut Criterion) {
    let mut group = c.benchmark_group("gemm");
    group.throughput(Throughput::Elements(24 * 8 * 2 * 100_000));
    group.bench_function("fma_peak", |b| b.iter(|| fma_peak(100_000)));
    for n in [256usize, 512, 1024] {
        let (a, bm) = (input(n * n, 3), input(n * n, 4));
        let mut out = vec![0.0f32; n * n];
        let mut scratch = vec![0.0f32; gemm_scratch_len(n, n, n)];
        group.throughput(Throughput::Elements(2 * (n * n * n) as u64));
        group.bench_function(BenchmarkId::new("native", n), |b| {
            b.iter(|| {
                gemm(&mut out, n, &a, n, &bm, n, [n, n, n], &GemmConfig::default(), &mut scratch)
                    .unwrap()
            })
        });
    }
    group.finish();
    let mut group = c.benchmark_group("muon");
    group.sample_size(10);
    for (rows, cols) in [(1024usize, 1024usize), (4096, 1024)] {
        let (m, n) = (rows.min(cols), rows.max(cols));
        let (mut p, g) = (input(rows * cols, 5), input(rows * cols, 6));
        let mut buf = vec![0.0f32; rows * cols];
        let mut scratch = vec![0.0f32; muon_scratch_len(rows, cols)];
        let flops = 5 * 2 * (m * m * n + m * m * m + m * m * n);
        group.throughput(Throughput::Elements(flops as u64));
        let cfg = MuonConfig::default();
        group.bench_function(BenchmarkId::new("native", format!("{rows}x{cols}")), |b| {
            b.iter(|| muon_step(&mut p, &g, &mut buf, rows, cols, &mut scratch, &cfg).unwrap())
        });
    }
    group.finish();
}

/// L-BFGS: one `step()` (20 iterations, history 10, fixed step) on a diagonal quadratic of
/// 65 536 parameters, the caller's evaluation included (one pass): the two-loop recursion
/// reads the history (2·10 vectors) twice per iteration, so ~40 vector passes per iteration
/// bound it.
fn lbfgs(c: &mut Criterion) {
    use optkern::{LbfgsConfig, LbfgsRequest, LbfgsState, lbfgs_step, lbfgs_work_len};
    let mut group = c.benchmark_group("lbfgs");
    group.sample_size(10);
    let n = 65536;
    let cfg = LbfgsConfig {
        history_size: 10,
        tolerance_change: 0.0,
        tolerance_grad: 0.0,
        ..Default::default()
    };
    let a: Vec<f32> = (0..n).map(|i| 1.0 + (i % 13) as f32).collect();
    let x0 = input(n, 7);
    let mut work = vec![0.0f32; lbfgs_work_len(n, &cfg)];
    group.throughput(Throughput::Elements((n * cfg.max_iter as usize) as u64));
    group.bench_function(BenchmarkId::new("native", "65536x20"), |b| {
        b.iter(|| {
            let (mut x, mut g) = (x0.clone(), vec![0.0f32; n]);
            let mut state = LbfgsState::default();
            loop {
                let mut f = 0.0f64;
                for i in 0..n {
                    g[i] = a[i] * x[i];
                    f += f64::from(g[i] * x[i]) / 2.0;
                }
                if lbfgs_step(&mut x, f, &g, &mut work, &mut state, &cfg).unwrap()
                    == LbfgsRequest::Done
                {
                    break;
                }
            }
            black_box(x[0])
        })
    });
    group.finish();
}

/// `iters` rounds of 24 independent 8-lane fused multiply-adds (12 chains × 2 per round):
/// enough chains to cover the FMA latency on two pipes.
fn fma_peak(iters: u32) -> f32 {
    use wide::f32x8;
    let x = black_box(f32x8::splat(1.000_001));
    let y = black_box(f32x8::splat(0.999_999));
    // Different starting values, or LLVM merges the identical chains into one.
    let mut acc: [f32x8; 12] = core::array::from_fn(|i| x + f32x8::splat(i as f32 * 1e-3));
    for _ in 0..iters {
        for _ in 0..2 {
            acc[0] = acc[0].mul_add(x, y);
            acc[1] = acc[1].mul_add(x, y);
            acc[2] = acc[2].mul_add(x, y);
            acc[3] = acc[3].mul_add(x, y);
            acc[4] = acc[4].mul_add(x, y);
            acc[5] = acc[5].mul_add(x, y);
            acc[6] = acc[6].mul_add(x, y);
            acc[7] = acc[7].mul_add(x, y);
            acc[8] = acc[8].mul_add(x, y);
            acc[9] = acc[9].mul_add(x, y);
            acc[10] = acc[10].mul_add(x, y);
            acc[11] = acc[11].mul_add(x, y);
        }
    }
    acc.iter().map(|a| a.reduce_add()).sum()
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_millis(700))
        .sample_size(15)
}

criterion_group! { name = benches; config = config(); targets = optim, sparse, matrix, lbfgs, parallel, per_call }
criterion_main!(benches);
