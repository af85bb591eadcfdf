//! Optimizer kernels against the straightforward scalar loop and a same-traffic baseline.
//!
//! Each group is one kernel and profile; ids are `<impl>/<n>` with impl ∈ {`scalar` (the
//! loop a user would write), `x1`, `x4`, `x8`, `x16` (optkern at that lane width), `native`
//! (the public entry point), `baseline` (a trivial kernel that reads and writes the same
//! buffers)}, n ∈ {4 Ki, 64 Ki, 1 Mi, 16 Mi} elements (L1/L2, L2, L3, DRAM here).
//! Throughput is the bytes the kernel must move, so `% of roofline = GB/s ÷ baseline GB/s`.
//!
//! `RUSTFLAGS="-C target-cpu=native" cargo bench --bench optim`; `-- --test` runs each once.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use optkern::{AdamConfig, Numerics, SgdConfig, Width};
use std::hint::black_box;
use std::time::Duration;

const SIZES: [usize; 4] = [1 << 12, 1 << 16, 1 << 20, 1 << 24];

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

fn widths() -> [(&'static str, Width); 5] {
    [
        ("x1", Width::X1),
        ("x4", Width::X4),
        ("x8", Width::X8),
        ("x16", Width::X16),
        ("native", Width::NATIVE),
    ]
}

/// The Adam loop as written from the paper, in f32.
#[allow(clippy::too_many_arguments)]
fn adam_scalar(
    p: &mut [f32],
    g: &[f32],
    m: &mut [f32],
    v: &mut [f32],
    t: i32,
    lr: f32,
    b1: f32,
    b2: f32,
    eps: f32,
) {
    let bc1 = 1.0 - b1.powi(t);
    let bc2 = 1.0 - b2.powi(t);
    for i in 0..p.len() {
        m[i] = b1 * m[i] + (1.0 - b1) * g[i];
        v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
        p[i] -= lr * (m[i] / bc1) / ((v[i] / bc2).sqrt() + eps);
    }
}

/// Reads p, g, m, v and writes p, m, v: Adam's traffic with trivial arithmetic.
fn same_traffic_4(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
    for (((p, g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        *p += g;
        *m += g;
        *v += g;
    }
}

/// Reads p, g, b and writes p, b: SGD-with-momentum's traffic.
fn same_traffic_3(p: &mut [f32], g: &[f32], b: &mut [f32]) {
    for ((p, g), b) in p.iter_mut().zip(g).zip(b.iter_mut()) {
        *p += g;
        *b += g;
    }
}

fn adam(c: &mut Criterion) {
    for numerics in [Numerics::Torch, Numerics::Portable] {
        let mut group = c.benchmark_group(format!("adam/{numerics:?}").to_lowercase());
        for n in SIZES {
            group.throughput(Throughput::Bytes(7 * 4 * n as u64));
            let (mut p, g, mut m, mut v) = (input(n, 1), input(n, 2), vec![0.0; n], vec![0.0; n]);
            let cfg = AdamConfig { numerics, ..Default::default() };
            for (name, w) in widths() {
                group.bench_function(BenchmarkId::new(name, n), |b| {
                    b.iter(|| {
                        optkern::adam_step_with(
                            w,
                            &mut p,
                            black_box(&g),
                            &mut m,
                            &mut v,
                            &mut [],
                            10,
                            &cfg,
                        )
                    })
                });
            }
            if numerics == Numerics::Torch {
                group.bench_function(BenchmarkId::new("scalar", n), |b| {
                    b.iter(|| {
                        adam_scalar(
                            &mut p,
                            black_box(&g),
                            &mut m,
                            &mut v,
                            10,
                            1e-3,
                            0.9,
                            0.999,
                            1e-8,
                        )
                    })
                });
            }
            group.bench_function(BenchmarkId::new("baseline", n), |b| {
                b.iter(|| same_traffic_4(&mut p, black_box(&g), &mut m, &mut v))
            });
        }
        group.finish();
    }
}

fn sgd(c: &mut Criterion) {
    let mut group = c.benchmark_group("sgd_momentum/torch");
    for n in SIZES {
        group.throughput(Throughput::Bytes(5 * 4 * n as u64));
        let (mut p, g, mut buf) = (input(n, 1), input(n, 2), vec![0.0; n]);
        let cfg = SgdConfig { lr: 1e-3, momentum: 0.9, ..Default::default() };
        for (name, w) in widths() {
            group.bench_function(BenchmarkId::new(name, n), |b| {
                b.iter(|| optkern::sgd_step_with(w, &mut p, black_box(&g), &mut buf, 2, &cfg))
            });
        }
        group.bench_function(BenchmarkId::new("scalar", n), |b| {
            b.iter(|| {
                for i in 0..n {
                    buf[i] = 0.9 * buf[i] + g[i];
                    p[i] -= 1e-3 * buf[i];
                }
            })
        });
        group.bench_function(BenchmarkId::new("baseline", n), |b| {
            b.iter(|| same_traffic_3(&mut p, black_box(&g), &mut buf))
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20)
}

criterion_group! { name = benches; config = config(); targets = adam, sgd }
criterion_main!(benches);
