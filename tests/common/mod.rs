//! Shared test inputs and checks: lengths at width boundaries, seeded data with special
//! values, NaN canaries around every buffer, and bit comparison.
#![allow(dead_code)]

pub mod kernels;
pub mod to_reference;

use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// Lengths clustered at the lane-width boundaries (BLAKE3's `TEST_CASES` idea).
pub const LENGTHS: &[usize] =
    &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 1023, 1024, 1025, 4099];

/// Offsets of a slice inside its allocation.
pub const OFFSETS: core::ops::Range<usize> = 0..16;

/// A NaN with a payload no kernel produces, written around each buffer.
pub const CANARY: u32 = 0x7fa5_c0de;
/// Canary elements on each side.
pub const PAD: usize = 16;

/// A seeded generator for test data.
pub struct Data(Xoshiro256PlusPlus);

/// What a buffer holds, so that generated values are in its domain.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// Normal values with some zeros and some ×50 values.
    Param,
    /// Normal values mixed with exact zeros, ±1e4, ±1e-20 and f32 subnormals (like the golden
    /// files' gradients).
    Grad,
    /// Small signed values (a first moment or velocity).
    Signed,
    /// Non-negative values (a second moment).
    NonNeg,
    /// Zeros (a state that must start at zero).
    Zero,
}

impl Data {
    pub fn new(seed: u64) -> Self {
        Data(Xoshiro256PlusPlus::seed_from_u64(seed))
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Standard normal (Box–Muller, f64; test data only).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.unit();
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (2.0 * core::f64::consts::PI * u2).cos()
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0.next_u64() % n
    }

    pub fn value(&mut self, kind: Kind) -> f32 {
        let x = self.normal() as f32;
        match kind {
            Kind::Param => match self.below(20) {
                0 => 0.0,
                1 => 50.0 * x,
                _ => x,
            },
            Kind::Grad => match self.below(24) {
                0 => 0.0,
                1 => 1e4_f32.copysign(x),
                2 => 1e-20_f32.copysign(x),
                3 => f32::from_bits(1 + self.below(0x007f_ffff) as u32).copysign(x),
                _ => x,
            },
            Kind::Signed => 0.1 * x,
            Kind::NonNeg => 0.01 * x * x,
            Kind::Zero => 0.0,
        }
    }

    pub fn vec(&mut self, n: usize, kind: Kind) -> Vec<f32> {
        (0..n).map(|_| self.value(kind)).collect()
    }
}

/// `values` placed at `off` inside canaries.
pub fn guarded(values: &[f32], off: usize) -> Vec<f32> {
    let mut v = vec![f32::from_bits(CANARY); off + values.len() + PAD];
    v[off..off + values.len()].copy_from_slice(values);
    v
}

/// Asserts the canaries around `buf[off..off + n]` are intact.
pub fn assert_canaries(buf: &[f32], off: usize, n: usize, what: &str) {
    for (i, x) in buf.iter().enumerate() {
        if i < off || i >= off + n {
            assert_eq!(
                x.to_bits(),
                CANARY,
                "{what}: canary at {i} overwritten (off {off}, len {n})"
            );
        }
    }
}

/// Bit equality, treating every NaN as equal to every NaN (wide makes no promise about NaN
/// payloads).
pub fn same_bits(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Asserts two slices are bit-identical (NaN = NaN).
pub fn assert_same_bits(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            same_bits(*x, *y),
            "{what}: element {i}: {x:e} ({:#010x}) vs {y:e} ({:#010x})",
            x.to_bits(),
            y.to_bits()
        );
    }
}

/// Bit patterns of a slice (for comparing buffers before and after a failed call).
pub fn bits(a: &[f32]) -> Vec<u32> {
    a.iter().map(|x| x.to_bits()).collect()
}

/// One row-sparse gradient: `values` holds `indices.len()` rows of `cols` values.
#[derive(Clone, Debug)]
pub struct SparseGrad {
    pub indices: Vec<usize>,
    pub values: Vec<f32>,
}

/// Matrix shapes for the sparse tests: single rows and columns, lane tails, and rows wider
/// than SparseAdam's 256-column summing block.
pub const SPARSE_SHAPES: &[(usize, usize)] =
    &[(1, 1), (1, 7), (9, 1), (10, 4), (13, 17), (6, 33), (4, 300)];

/// `steps` sparse gradients on a `rows`-row matrix: unsorted indices with duplicates (up to
/// `max_copies` of a row), an empty step, values of `kind`.
pub fn sparse_grads(
    data: &mut Data,
    rows: usize,
    cols: usize,
    steps: usize,
    max_copies: usize,
    kind: Kind,
) -> Vec<SparseGrad> {
    (0..steps)
        .map(|t| {
            let mut indices = Vec::new();
            if t != 2 {
                for r in 0..rows {
                    // About half the rows, some repeated.
                    if data.below(2) == 0 {
                        let copies = 1 + data.below(max_copies as u64) as usize;
                        indices.extend(std::iter::repeat_n(r, copies));
                    }
                }
                // Shuffle (Fisher–Yates).
                for i in (1..indices.len()).rev() {
                    indices.swap(i, data.below(i as u64 + 1) as usize);
                }
            }
            let values = data.vec(indices.len() * cols, kind);
            SparseGrad { indices, values }
        })
        .collect()
}

/// Muon configurations for the generic tests, and the shapes they run on (square, wide, tall,
/// single rows/columns, a tall one past the GEMM's 72-row block).
pub fn muon_configs() -> Vec<(&'static str, optkern::MuonConfig)> {
    use optkern::{AdjustLr, MuonConfig};
    let d = MuonConfig { lr: 0.02, ..Default::default() };
    vec![
        ("default", d),
        ("plain_momentum", MuonConfig { nesterov: false, weight_decay: 0.0, ..d }),
        ("match_rms", MuonConfig { adjust_lr: AdjustLr::MatchRmsAdamw, grad_scale: 0.5, ..d }),
        ("spectral", MuonConfig { adjust_lr: AdjustLr::SpectralUnclamped, ns_steps: 3, ..d }),
    ]
}

pub const MUON_SHAPES: &[(usize, usize)] = &[(7, 5), (5, 7), (16, 16), (1, 9), (9, 1), (80, 12)];

/// The chained Rosenbrock function `Σ 100(xᵢ₊₁ − xᵢ²)² + (1 − xᵢ)²`, writing its gradient to
/// `g`: the L-BFGS tests' non-convex objective.
pub fn rosenbrock(x: &[f64], g: &mut [f64]) -> f64 {
    g.iter_mut().for_each(|v| *v = 0.0);
    let mut f = 0.0;
    for i in 0..x.len() - 1 {
        let (u, v) = (x[i + 1] - x[i] * x[i], 1.0 - x[i]);
        f += 100.0 * u * u + v * v;
        g[i] += -400.0 * x[i] * u - 2.0 * v;
        g[i + 1] += 200.0 * u;
    }
    f
}
