//! Initializer fills against the straightforward scalar loop with the same generator
//! (`Xoshiro128PlusPlus`, one word per uniform, libm Box–Muller for normals).
//!
//! `RUSTFLAGS="-C target-cpu=native" cargo bench --bench init`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use optkern::{RandomStream, Width};
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro128PlusPlus;
use std::hint::black_box;
use std::time::Duration;

fn scalar_uniform(out: &mut [f32], rng: &mut Xoshiro128PlusPlus) {
    for x in out {
        *x = (rng.next_u32() >> 8) as f32 / 16_777_216.0 * 2.0 - 1.0;
    }
}

fn scalar_normal(out: &mut [f32], rng: &mut Xoshiro128PlusPlus) {
    for pair in out.chunks_mut(2) {
        let u1 = ((rng.next_u32() >> 8) + 1) as f32 / 16_777_216.0;
        let u2 = (rng.next_u32() >> 8) as f32 / 16_777_216.0;
        let r = libm::sqrtf(-2.0 * libm::logf(u1));
        let (s, c) = libm::sincosf(core::f32::consts::TAU * u2);
        pair[0] = r * c;
        if let Some(x) = pair.get_mut(1) {
            *x = r * s;
        }
    }
}

fn fills(c: &mut Criterion) {
    let stream = RandomStream::from_seed(1);
    for n in [1 << 16, 1 << 22] {
        let mut out = vec![0.0f32; n];
        let mut g = c.benchmark_group("init/uniform");
        g.throughput(Throughput::Bytes(4 * n as u64));
        g.bench_function(BenchmarkId::new("optkern", n), |b| {
            b.iter(|| optkern::uniform_at(black_box(&mut out), 0, -1.0, 1.0, &stream))
        });
        let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
        g.bench_function(BenchmarkId::new("scalar", n), |b| {
            b.iter(|| scalar_uniform(black_box(&mut out), &mut rng))
        });
        g.finish();
        let mut g = c.benchmark_group("init/normal");
        g.throughput(Throughput::Bytes(4 * n as u64));
        for (name, w) in [("x4", Width::X4), ("x8", Width::X8), ("x16", Width::X16)] {
            g.bench_function(BenchmarkId::new(name, n), |b| {
                b.iter(|| optkern::normal_at_with(w, black_box(&mut out), 0, 0.0, 1.0, &stream))
            });
        }
        g.bench_function(BenchmarkId::new("scalar", n), |b| {
            b.iter(|| scalar_normal(black_box(&mut out), &mut rng))
        });
        g.finish();
    }
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20)
}

criterion_group! { name = benches; config = config(); targets = fills }
criterion_main!(benches);
