//! Initializers and randomness: the lane stream equals the scalar generator, fills are the
//! same at every width and for any sharding, distributions pass Kolmogorov–Smirnov tests on
//! 10⁶ samples, orthogonal matrices are orthogonal, shuffles are unbiased permutations.

use optkern::{RandomStream, Width};
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::{Xoshiro128PlusPlus, Xoshiro256PlusPlus};

const SAMPLES: usize = 1 << 20;

/// The stream's definition, checked against the scalar `rand_xoshiro` generator: element `i`
/// of block 0 is word `(i mod 32)/16 + 2·(i/32)` of lane `i mod 16`, lane `k` = the seed jumped
/// `k` times; block 1 starts from a long jump.
#[test]
fn lanes_are_the_scalar_generator_jumped() {
    let seed = 0x5eed;
    let stream = RandomStream::from_seed(seed);
    let n = optkern::init::stream::BLOCK + 64;
    let mut out = vec![0.0f32; n];
    optkern::uniform_at(&mut out, 0, 0.0, 1.0, &stream).unwrap();
    let word_to_unit = |w: u32| (w >> 8) as f32 / 16_777_216.0;
    for k in 0..16 {
        let mut g = Xoshiro128PlusPlus::seed_from_u64(seed);
        for _ in 0..k {
            g.jump();
        }
        for pos in 0..64 {
            let w = g.next_u32();
            let i = (pos / 2) * 32 + (pos % 2) * 16 + k;
            assert_eq!(out[i], word_to_unit(w), "lane {k} word {pos}");
        }
    }
    let mut g = Xoshiro128PlusPlus::seed_from_u64(seed);
    g.long_jump();
    let i = optkern::init::stream::BLOCK;
    assert_eq!(out[i], word_to_unit(g.next_u32()), "block 1 lane 0");
}

#[test]
fn fills_are_width_and_shard_independent() {
    let stream = RandomStream::from_seed(42);
    let n = 2 * optkern::init::stream::BLOCK + 77;
    let mut whole = vec![0.0f32; n];
    optkern::normal_at_with(Width::X16, &mut whole, 0, 0.5, 2.0, &stream).unwrap();
    for width in Width::ALL {
        let mut w = vec![0.0f32; n];
        optkern::normal_at_with(width, &mut w, 0, 0.5, 2.0, &stream).unwrap();
        assert_eq!(bits(&w), bits(&whole), "{width:?}");
    }
    // Shards at arbitrary cuts (inside chunks, lanes and blocks) reproduce the whole fill.
    let cuts =
        [0, 1, 17, 33, 1000, optkern::init::stream::BLOCK - 3, optkern::init::stream::BLOCK + 5, n];
    let mut sharded = vec![0.0f32; n];
    for w in cuts.windows(2) {
        optkern::normal_at(&mut sharded[w[0]..w[1]], w[0], 0.5, 2.0, &stream).unwrap();
    }
    assert_eq!(bits(&sharded), bits(&whole));
    let (mut u1, mut u2) = (vec![0.0f32; n], vec![0.0f32; n]);
    optkern::uniform_at(&mut u1, 0, -1.0, 3.0, &stream).unwrap();
    for w in cuts.windows(2) {
        optkern::uniform_at(&mut u2[w[0]..w[1]], w[0], -1.0, 3.0, &stream).unwrap();
    }
    assert_eq!(bits(&u1), bits(&u2));
    let (mut t1, mut t2) = (vec![0.0f32; n], vec![0.0f32; n]);
    optkern::trunc_normal_at(&mut t1, 0, 0.0, 1.0, -1.0, 2.0, &stream).unwrap();
    for w in cuts.windows(2) {
        optkern::trunc_normal_at(&mut t2[w[0]..w[1]], w[0], 0.0, 1.0, -1.0, 2.0, &stream).unwrap();
    }
    assert_eq!(bits(&t1), bits(&t2));
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// One-sample Kolmogorov–Smirnov statistic against `cdf`. The critical value at α = 0.001 is
/// `1.949/√n` (asymptotic); a correct sampler fails with probability 0.1 %, and the seeds are
/// fixed, so the test is deterministic.
fn ks(samples: &mut [f32], cdf: impl Fn(f64) -> f64) -> (f64, f64) {
    samples.sort_by(|a, b| a.total_cmp(b));
    let n = samples.len() as f64;
    let d = samples.iter().enumerate().fold(0.0f64, |d, (i, &x)| {
        let f = cdf(f64::from(x));
        d.max((f - i as f64 / n).abs()).max(((i + 1) as f64 / n - f).abs())
    });
    (d, 1.949 / n.sqrt())
}

fn phi(x: f64) -> f64 {
    0.5 * (1.0 + erf(x / std::f64::consts::SQRT_2))
}

/// erf by its series / continued fraction is overkill here: Abramowitz–Stegun 7.1.26 is only
/// 1.5e-7 accurate, far below the KS critical value (~2e-3).
fn erf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let y = 1.0
        - (((((1.061_405_429 * t - 1.453_152_027) * t) + 1.421_413_741) * t - 0.284_496_736) * t
            + 0.254_829_592)
            * t
            * (-x * x).exp();
    if x >= 0.0 { y } else { -y }
}

#[test]
fn uniform_normal_and_truncated_pass_kolmogorov_smirnov() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let mut x = vec![0.0f32; SAMPLES];
    optkern::uniform(&mut x, -2.0, 3.0, &mut rng).unwrap();
    assert!(x.iter().all(|&v| (-2.0..3.0).contains(&v)), "uniform bounds");
    let (d, crit) = ks(&mut x, |v| ((v + 2.0) / 5.0).clamp(0.0, 1.0));
    assert!(d < crit, "uniform KS {d} ≥ {crit}");

    optkern::normal(&mut x, 1.0, 3.0, &mut rng).unwrap();
    let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / SAMPLES as f64;
    let sd =
        (x.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / SAMPLES as f64).sqrt();
    assert!((mean - 1.0).abs() < 5.0 * 3.0 / (SAMPLES as f64).sqrt(), "normal mean {mean}");
    assert!((sd - 3.0).abs() < 5.0 * 3.0 / (2.0 * SAMPLES as f64).sqrt(), "normal std {sd}");
    let (d, crit) = ks(&mut x, |v| phi((v - 1.0) / 3.0));
    assert!(d < crit, "normal KS {d} ≥ {crit}");

    let (a, b) = (-0.5, 2.0);
    optkern::trunc_normal(&mut x, 0.0, 1.0, a, b, &mut rng).unwrap();
    assert!(x.iter().all(|&v| (a as f32..=b as f32).contains(&v)), "truncated bounds");
    let (pa, pb) = (phi(a), phi(b));
    let (d, crit) = ks(&mut x, |v| ((phi(v) - pa) / (pb - pa)).clamp(0.0, 1.0));
    assert!(d < crit, "truncated normal KS {d} ≥ {crit}");
}

/// `trunc_normal_at` is its documented inverse-CDF mapping of the stream: element `i` with
/// 24-bit word `t` (read back through `uniform_at(0, 1)`, which gives `t/2²⁴` exactly) is
/// `mean + std·√2·erf⁻¹(2p − 1)`, `p = Φ(α) + (Φ(β) − Φ(α))·(t + ½)/2²⁴`, clamped to `[a, b]`.
/// The reference inverts `libm::erf` by bisection (not optkern's Newton) — `libm::erfc` on
/// `1 − |y|` in the tails, where `erf` rounds to ±1 within 2⁻⁵³ and cannot resolve `y`; both
/// round to the same f32 or to neighbours (1 ulp). A shift of `u` by one 2⁻²⁴ step moves values
/// near the mean by several ulps, which the statistical tests above could not see; the second
/// window, `[7σ, 9σ]`, is the far tail (`1 − y` from 10⁻¹² to 10⁻¹⁵), where Newton on `erf` itself
/// had stopped up to 3 % short of the root.
#[test]
fn truncated_normal_is_its_documented_inverse_cdf() {
    let stream = RandomStream::from_seed(0x7e57);
    let n = 4096;
    let mut unit = vec![0.0f32; n];
    optkern::uniform_at(&mut unit, 0, 0.0, 1.0, &stream).unwrap();
    let cdf = |x: f64| 0.5 * (1.0 + libm::erf(x / std::f64::consts::SQRT_2));
    let erfinv = |y| optkern_reference::init::erfinv_by_bisection(y, libm::erf, libm::erfc);
    for (mean, std, a, b) in [(0.25, 1.5, -3.0, 2.0), (0.0, 1.0, 7.0, 9.0)] {
        let mut got = vec![0.0f32; n];
        optkern::trunc_normal_at(&mut got, 0, mean, std, a, b, &stream).unwrap();
        let (pa, pb) = (cdf((a - mean) / std), cdf((b - mean) / std));
        let mut moved = 0;
        for (i, (&u01, &g)) in unit.iter().zip(&got).enumerate() {
            let t = f64::from(u01) * 16_777_216.0;
            let p = pa + (pb - pa) * ((t + 0.5) / 16_777_216.0);
            let v = mean + std * std::f64::consts::SQRT_2 * erfinv(2.0 * p - 1.0);
            let want = v.clamp(a, b) as f32;
            let ulps = (i64::from(g.to_bits() as i32) - i64::from(want.to_bits() as i32)).abs();
            assert!(ulps <= 1, "[{a}, {b}] element {i}: {g:e} vs {want:e} ({ulps} ulp)");
            moved += usize::from(ulps == 1);
        }
        assert!(moved < n / 50, "[{a}, {b}]: {moved} elements 1 ulp off");
    }
}

#[test]
fn orthogonal_is_orthogonal_and_breaks_symmetry() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
    for (rows, cols) in [(1, 1), (5, 5), (64, 32), (32, 64), (3, 100), (100, 3)] {
        let mut out = vec![0.0f32; rows * cols];
        let mut scratch = vec![0.0f64; optkern::orthogonal_scratch_len(rows, cols)];
        optkern::orthogonal(&mut out, rows, cols, 2.0, &mut scratch, &mut rng).unwrap();
        // The smaller dimension's vectors are orthonormal (times gain²): QᵀQ or QQᵀ = 4·I.
        let (n, stride_vec, stride_el, len) =
            if rows <= cols { (rows, cols, 1, cols) } else { (cols, 1, cols, rows) };
        for i in 0..n {
            for j in 0..n {
                let dot: f64 = (0..len)
                    .map(|k| {
                        f64::from(out[i * stride_vec + k * stride_el])
                            * f64::from(out[j * stride_vec + k * stride_el])
                    })
                    .sum();
                let want = if i == j { 4.0 } else { 0.0 };
                // f32 rounding of each entry: |error| ≲ 2·len·2⁻²⁴·gain², 1e-5 covers len ≤ 100.
                assert!((dot - want).abs() < 1e-5, "{rows}x{cols} ({i},{j}) = {dot}");
            }
        }
    }
    let mut scratch = vec![0.0f64; 3];
    let mut out = vec![0.0f32; 4];
    assert!(
        optkern::orthogonal(&mut out, 2, 2, 1.0, &mut scratch, &mut rng).is_err(),
        "short scratch"
    );
    assert_eq!(out, [0.0; 4], "nothing written on Err");
}

/// The documented construction, computed independently: the same `N(0, 1)` samples (`normal`
/// with a copy of the generator), `A` (transposed when `rows < cols`), its Q factor with a
/// positive-diagonal R by modified Gram–Schmidt with one re-orthogonalisation in f64 (the
/// unique such factor, which Householder with the sign fix also computes), times `gain`, rounded
/// once. Any other sample use, layout or sign convention moves entries by O(1).
#[test]
fn orthogonal_is_the_q_factor_of_its_samples() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
    for (rows, cols) in [(1, 1), (1, 4), (4, 1), (5, 5), (7, 3), (3, 7), (40, 24), (24, 40)] {
        let gain = -1.5;
        let mut model_rng = rng.clone();
        let mut out = vec![0.0f32; rows * cols];
        let mut scratch = vec![0.0f64; optkern::orthogonal_scratch_len(rows, cols)];
        optkern::orthogonal(&mut out, rows, cols, gain, &mut scratch, &mut rng).unwrap();
        let mut samples = vec![0.0f32; rows * cols];
        optkern::normal(&mut samples, 0.0, 1.0, &mut model_rng).unwrap();
        assert_eq!(rng.next_u64(), model_rng.next_u64(), "{rows}x{cols}: generator use");
        let transposed = rows < cols;
        let (m, n) = if transposed { (cols, rows) } else { (rows, cols) };
        // Columns of A (each m long).
        let mut q: Vec<Vec<f64>> = (0..n)
            .map(|j| {
                (0..m)
                    .map(|i| {
                        let (r, c) = if transposed { (j, i) } else { (i, j) };
                        f64::from(samples[r * cols + c])
                    })
                    .collect()
            })
            .collect();
        for j in 0..n {
            let (done, rest) = q.split_at_mut(j);
            let qj = &mut rest[0];
            for _pass in 0..2 {
                for qk in done.iter() {
                    let dot: f64 = qk.iter().zip(qj.iter()).map(|(a, b)| a * b).sum();
                    qj.iter_mut().zip(qk).for_each(|(v, w)| *v -= dot * w);
                }
            }
            let norm = qj.iter().map(|v| v * v).sum::<f64>().sqrt();
            qj.iter_mut().for_each(|v| *v /= norm);
        }
        for r in 0..rows {
            for c in 0..cols {
                let (i, j) = if transposed { (c, r) } else { (r, c) };
                let want = q[j][i] * gain;
                let got = f64::from(out[r * cols + c]);
                // Both are the f64 factor (to ~1e-14) rounded once to f32: at most 1 ulp apart.
                let ulp = f64::from(f32::EPSILON) * want.abs().max(1e-30);
                assert!((got - want).abs() <= ulp, "{rows}x{cols} [{r},{c}]: {got} vs {want}");
            }
        }
    }
}

/// Lemire's multiply-shift with rejection, as the shuffle's documentation states it: a uniform
/// index in `0..bound` from one or more `next_u32` draws.
fn lemire_below(rng: &mut impl Rng, bound: u32) -> u32 {
    let threshold = (u32::MAX - bound + 1) % bound;
    loop {
        let m = u64::from(rng.next_u32()) * u64::from(bound);
        if (m & 0xffff_ffff) as u32 >= threshold {
            return (m >> 32) as u32;
        }
    }
}

/// `shuffle` is Fisher–Yates with Lemire draws, draw for draw (so a saved generator state
/// replays the data order), and `sparse` is `normal` then Knuth's selection sampling per
/// column, one draw per row until the column's zeros are chosen.
#[test]
fn shuffle_and_sparse_use_the_generator_as_documented() {
    for n in [0usize, 1, 2, 3, 10, 1000] {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(n as u64);
        let mut model_rng = rng.clone();
        let mut idx = vec![0u32; n];
        optkern::iota(&mut idx);
        optkern::shuffle(&mut idx, &mut rng).unwrap();
        let mut want: Vec<u32> = (0..n as u32).collect();
        for i in (1..n).rev() {
            let j = lemire_below(&mut model_rng, i as u32 + 1) as usize;
            want.swap(i, j);
        }
        assert_eq!(idx, want, "shuffle of {n}");
        assert_eq!(rng.next_u64(), model_rng.next_u64(), "shuffle of {n}: generator use");
    }
    for (rows, cols, sparsity) in [(10, 7, 0.3), (1, 3, 1.0), (9, 4, 0.0), (50, 5, 0.9)] {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(rows as u64);
        let mut model_rng = rng.clone();
        let mut out = vec![0.0f32; rows * cols];
        optkern::sparse(&mut out, rows, cols, sparsity, 0.01, &mut rng).unwrap();
        let mut want = vec![0.0f32; rows * cols];
        optkern::normal(&mut want, 0.0, 0.01, &mut model_rng).unwrap();
        let zeros = (sparsity * rows as f64).ceil() as usize;
        for c in 0..cols {
            let mut needed = zeros;
            for r in 0..rows {
                if needed == 0 {
                    break;
                }
                if (lemire_below(&mut model_rng, (rows - r) as u32) as usize) < needed {
                    want[r * cols + c] = 0.0;
                    needed -= 1;
                }
            }
        }
        assert_eq!(bits(&out), bits(&want), "sparse {rows}x{cols} at {sparsity}");
        assert_eq!(rng.next_u64(), model_rng.next_u64(), "sparse: generator use");
    }
}

#[test]
fn initialised_rows_are_all_different() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(4);
    let (rows, cols) = (256, 64);
    let mut w = vec![0.0f32; rows * cols];
    for scheme in 0..4 {
        match scheme {
            0 => optkern::xavier_uniform(&mut w, &[rows, cols], 1.0, &mut rng).unwrap(),
            1 => optkern::kaiming_normal(
                &mut w,
                &[rows, cols],
                optkern::FanMode::FanIn,
                optkern::Nonlinearity::Relu,
                &mut rng,
            )
            .unwrap(),
            2 => optkern::lecun_normal(&mut w, &[rows, cols], &mut rng).unwrap(),
            _ => optkern::variance_scaling(
                &mut w,
                &[rows, cols],
                2.0,
                optkern::FanMode::FanAvg,
                optkern::Distribution::Uniform,
                &mut rng,
            )
            .unwrap(),
        }
        let mut seen: Vec<Vec<u32>> = w.chunks(cols).map(bits).collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), rows, "scheme {scheme}: two equal rows");
    }
}

#[test]
fn deterministic_schemes_match_torch() {
    let mut e = vec![0.0f32; 12];
    optkern::eye(&mut e, 3, 4).unwrap();
    assert_eq!(e, [1., 0., 0., 0., 0., 1., 0., 0., 0., 0., 1., 0.]);
    // dirac_ on [4, 2, 3] with 2 groups: w[g*2+d, d, 1] = 1 for d < min(2, 2).
    let mut d = vec![0.0f32; 24];
    optkern::dirac(&mut d, &[4, 2, 3], 2).unwrap();
    let ones: Vec<usize> =
        d.iter().enumerate().filter(|(_, v)| **v == 1.0).map(|(i, _)| i).collect();
    assert_eq!(ones, [1, 10, 13, 22]);
    assert!(optkern::dirac(&mut d, &[4, 2], 1).is_err());
    let mut c = vec![0.0f32; 5];
    optkern::constant(&mut c, 0.25).unwrap();
    assert_eq!(c, [0.25; 5]);
    // sparse_: exactly ⌈0.3·10⌉ = 3 zeros per column.
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
    let mut s = vec![0.0f32; 10 * 7];
    optkern::sparse(&mut s, 10, 7, 0.3, 0.01, &mut rng).unwrap();
    for col in 0..7 {
        assert_eq!((0..10).filter(|r| s[r * 7 + col] == 0.0).count(), 3);
    }
}

#[test]
fn shuffle_is_an_unbiased_permutation() {
    let n = 8;
    let trials = 80_000;
    let mut counts = vec![[0u32; 8]; n];
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(6);
    let mut idx = vec![0u32; n];
    optkern::iota(&mut idx);
    for _ in 0..trials {
        // Reshuffled every "epoch" from the same generator, starting from the last order.
        optkern::shuffle(&mut idx, &mut rng).unwrap();
        let mut sorted = idx.clone();
        sorted.sort();
        assert_eq!(sorted, (0..n as u32).collect::<Vec<_>>(), "not a permutation");
        for (pos, &v) in idx.iter().enumerate() {
            counts[v as usize][pos] += 1;
        }
    }
    // χ² over the 8×8 position table: 49 degrees of freedom, critical value 85.35 at 0.1 %.
    let expected = trials as f64 / n as f64;
    let chi2: f64 =
        counts.iter().flatten().map(|&c| (f64::from(c) - expected).powi(2) / expected).sum();
    assert!(chi2 < 85.35, "chi-square {chi2}");
    let batches: Vec<&[u32]> = optkern::minibatches(&idx, 3, true).collect();
    assert_eq!(batches.len(), 2);
    assert_eq!(optkern::minibatches(&idx, 3, false).count(), 3);
}

#[test]
fn initializers_check_their_arguments() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
    let mut w = vec![0.0f32; 6];
    assert!(
        optkern::xavier_uniform(&mut w, &[4, 2], 1.0, &mut rng).is_err(),
        "shape does not match"
    );
    assert!(optkern::xavier_uniform(&mut w, &[6], 1.0, &mut rng).is_err(), "1-D has no fans");
    assert!(optkern::uniform(&mut w, 1.0, 0.0, &mut rng).is_err());
    assert!(optkern::normal(&mut w, 0.0, -1.0, &mut rng).is_err());
    assert!(optkern::trunc_normal(&mut w, 0.0, 1.0, 1.0, 1.0, &mut rng).is_err());
    assert!(optkern::calculate_gain(optkern::Nonlinearity::LeakyRelu(f64::NAN)).is_err());
    assert_eq!(w, [0.0; 6], "nothing written on Err");
}

/// JAX's fan convention is torch's with the axes swapped: a 2-D `[a, b]` weight filled by
/// `variance_scaling_axes` with `in_axis = −1`, `out_axis = −2` is bit for bit torch's
/// `variance_scaling` (same generator state); `jax_fans` reads the axes it is given.
#[test]
fn jax_fans_are_torch_fans_with_the_axes_swapped() {
    use optkern::{Distribution, FanMode};
    assert_eq!(optkern::jax_fans(&[256, 128], -2, -1), Ok((256.0, 128.0)));
    assert_eq!(optkern::jax_fans(&[3, 3, 32, 64], -2, -1), Ok((288.0, 576.0)));
    assert_eq!(optkern::jax_fans(&[5, 40, 30], 0, 2), Ok((200.0, 1200.0)));
    assert!(optkern::jax_fans(&[5, 40], -3, -1).is_err(), "axis outside the shape");
    assert!(optkern::jax_fans(&[5, 40], 1, -1).is_err(), "the same axis twice");
    for mode in [FanMode::FanIn, FanMode::FanOut, FanMode::FanAvg, FanMode::FanGeoAvg] {
        for dist in [Distribution::Uniform, Distribution::Normal, Distribution::TruncatedNormal] {
            let (mut torch, mut jax) = (vec![0.0f32; 96 * 40], vec![0.0f32; 96 * 40]);
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
            optkern::variance_scaling(&mut torch, &[96, 40], 1.5, mode, dist, &mut rng).unwrap();
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
            optkern::variance_scaling_axes(&mut jax, &[96, 40], -1, -2, 1.5, mode, dist, &mut rng)
                .unwrap();
            assert_eq!(bits(&torch), bits(&jax), "{mode:?} {dist:?}");
        }
    }
}

/// Delta-orthogonal kernels: orthonormal rows times `scale` at the spatial centre (the lower
/// middle for even sizes), zeros elsewhere; bad shapes and short scratch write nothing.
#[test]
fn delta_orthogonal_is_an_orthogonal_centre_tap() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
    for (shape, centre) in [
        (vec![3, 16, 32], vec![1]),
        (vec![4, 2, 8, 8], vec![1, 0]),
        (vec![3, 3, 3, 4, 6], vec![1, 1, 1]),
    ] {
        let (cin, cout) = (shape[shape.len() - 2], shape[shape.len() - 1]);
        let n: usize = shape.iter().product();
        let mut w = vec![f32::NAN; n];
        let mut scratch = vec![0.0; optkern::delta_orthogonal_scratch_len(&shape)];
        optkern::delta_orthogonal(&mut w, &shape, 2.0, &mut scratch, &mut rng).unwrap();
        let flat = centre.iter().zip(&shape).fold(0, |acc, (&c, &k)| acc * k + c);
        let at = flat * cin * cout;
        for (i, &x) in w.iter().enumerate() {
            assert!((at..at + cin * cout).contains(&i) || x == 0.0, "{shape:?}: w[{i}] = {x}");
        }
        for a in 0..cin {
            for b in 0..cin {
                let dot: f64 = (0..cout)
                    .map(|t| f64::from(w[at + a * cout + t]) * f64::from(w[at + b * cout + t]))
                    .sum();
                let want = if a == b { 4.0 } else { 0.0 };
                assert!((dot - want).abs() < 1e-5, "{shape:?}: gram[{a}][{b}] = {dot}");
            }
        }
    }
    let mut w = vec![1.0f32; 3 * 8 * 4];
    let mut scratch = vec![0.0; 1000];
    for (shape, what) in [
        (vec![3, 8, 4], "in > out"),
        (vec![8, 4], "2-D"),
        (vec![1, 1, 1, 1, 3, 8], "6-D"),
        (vec![3, 4, 9], "shape does not match the buffer"),
    ] {
        let r = optkern::delta_orthogonal(&mut w, &shape, 1.0, &mut scratch, &mut rng);
        assert!(r.is_err(), "{what}");
    }
    // A short scratch is reported with its lengths, and before a bad scale, as `orthogonal`
    // reports its scratch before its gain (a mutation run found the precedence untested).
    let short = optkern::Error::LengthMismatch {
        arg: "scratch",
        expected: optkern::delta_orthogonal_scratch_len(&[3, 4, 8]),
        found: 10,
    };
    for scale in [1.0, f64::NAN] {
        let r = optkern::delta_orthogonal(
            &mut w[..96],
            &[3, 4, 8],
            scale,
            &mut scratch[..10],
            &mut rng,
        );
        assert_eq!(r, Err(short), "short scratch, scale {scale}");
    }
    let r = optkern::delta_orthogonal(&mut w[..96], &[3, 4, 8], f64::NAN, &mut scratch, &mut rng);
    assert!(r.is_err(), "NaN scale");
    assert!(w.iter().all(|&x| x == 1.0), "nothing written on Err");
}

/// `normal_at` is Box–Muller on the stream's words, as documented: in each chunk of 32,
/// element `k < 16` is `r·cos θ` and element `16 + k` is `r·sin θ`, with `r = √(−2 ln u₁)`,
/// `θ = 2π·u₂` (rounded to f32), `u₁ = (t + 1)/2²⁴` from the 24-bit word `t` that `uniform_at`
/// puts at element `k` and `u₂ = t′/2²⁴` from the one at `16 + k` (read back exactly through
/// `uniform_at(0, 1)`). The reference is f64; `wide`'s f32 `ln`/`sqrt`/`sin_cos` keep within a
/// few f32 ulps of `r`. A shift of `u₁` by one 2⁻²⁴ step (dropping the `+ 1` that keeps it
/// off 0) moves `r` by `2⁻²⁴/(u₁·r)`, above the bound for `u₁ ≲ 0.005` (about 300 of the
/// 65,536 draws) and invisible to the statistical tests.
#[test]
fn normal_is_box_muller_of_the_stream() {
    let stream = RandomStream::from_seed(0xb0c5);
    let n = 1 << 17;
    let mut unit = vec![0.0f32; n];
    optkern::uniform_at(&mut unit, 0, 0.0, 1.0, &stream).unwrap();
    let (mean, std) = (0.5f32, 2.0f32);
    let mut got = vec![0.0f32; n];
    optkern::normal_at(&mut got, 0, f64::from(mean), f64::from(std), &stream).unwrap();
    let mut worst = 0.0f64;
    for (c, (u, z)) in unit.chunks(32).zip(got.chunks(32)).enumerate() {
        for k in 0..16 {
            let u1 = f64::from(u[k]) + 1.0 / 16_777_216.0;
            let theta = f64::from(std::f32::consts::TAU * u[16 + k]);
            let r = (-2.0 * u1.ln()).sqrt();
            for (i, want) in [(k, r * theta.cos()), (16 + k, r * theta.sin())] {
                let want = want * f64::from(std) + f64::from(mean);
                // In units of an f32 ulp of the scaled radius (plus the final `+ mean`'s ulp).
                let unit_err = f64::from(f32::EPSILON) * (r * f64::from(std) + f64::from(mean));
                let err = (f64::from(z[i]) - want).abs() / unit_err;
                assert!(err <= 8.0, "chunk {c} element {i}: {} vs {want} ({err} ulps)", z[i]);
                worst = worst.max(err);
            }
        }
    }
    assert!(worst > 0.5, "no rounding reached: worst {worst}");
}

/// Arguments that are finite in f64 but overflow f32 (the fill's precision), and an empty
/// range, each with the field it names; a degenerate range `low == high` is a constant fill.
#[test]
fn fills_refuse_what_overflows_f32_and_name_it() {
    use optkern::{Error, Problem};
    let stream = RandomStream::from_seed(3);
    let mut w = vec![7.0f32; 40];
    let refused = |r: Result<(), Error>| match r {
        Err(Error::InvalidHyperparameter { name, value, problem: Problem::OutOfRange }) => {
            (name, value)
        }
        other => panic!("{other:?}"),
    };
    let uniform = |w: &mut [f32], low, high| optkern::uniform_at(w, 0, low, high, &stream);
    assert_eq!(refused(uniform(&mut w, -3e38, 3e38)), ("high", 3e38), "span overflows");
    assert_eq!(refused(uniform(&mut w, -1e39, -1e39)), ("low", -1e39), "low overflows");
    assert_eq!(refused(uniform(&mut w, 1.0, 0.5)), ("high", 0.5), "low > high");
    let normal = |w: &mut [f32], mean, std| optkern::normal_at(w, 0, mean, std, &stream);
    assert_eq!(refused(normal(&mut w, 1e39, 1.0)), ("mean", 1e39));
    assert_eq!(refused(normal(&mut w, 0.0, 1e39)), ("std", 1e39));
    assert_eq!(w, [7.0; 40], "nothing written on Err");
    uniform(&mut w, 0.375, 0.375).unwrap();
    assert_eq!(w, [0.375; 40], "low == high");
}

/// `dirac_` against torch's definition, `w[g·out/groups + d, d, k₁/2, k₂/2, …] = 1` for
/// `d < min(out/groups, in)`, with the flat index from the row-major strides computed here,
/// for 1-, 2- and 3-D kernels of odd and even sizes; and `groups` must divide `out`.
#[test]
fn dirac_is_torch_identity_for_every_kernel_rank() {
    for (shape, groups) in
        [(vec![6, 4, 5], 2), (vec![4, 3, 5, 4], 1), (vec![6, 2, 3, 5], 3), (vec![4, 4, 2, 3, 5], 2)]
    {
        let len: usize = shape.iter().product();
        let mut w = vec![0.5f32; len];
        optkern::dirac(&mut w, &shape, groups).unwrap();
        let per_group = shape[0] / groups;
        let mut want = vec![0.0f32; len];
        for g in 0..groups {
            for d in 0..per_group.min(shape[1]) {
                let mut index = vec![g * per_group + d, d];
                index.extend(shape[2..].iter().map(|k| k / 2));
                let flat = index.iter().zip(&shape).fold(0, |acc, (i, n)| acc * n + i);
                want[flat] = 1.0;
            }
        }
        assert_eq!(w, want, "{shape:?} groups {groups}");
    }
    let mut w = vec![0.5f32; 6 * 4 * 3];
    let err = optkern::dirac(&mut w, &[6, 4, 3], 4).unwrap_err();
    assert!(matches!(err, optkern::Error::InvalidHyperparameter { name: "groups", .. }), "{err:?}");
    assert_eq!(w, [0.5; 72], "nothing written on Err");
}

/// LeCun's schemes are `variance_scaling` with scale 1 on `fan_in`, bit for bit from the same
/// generator state; the uniform one stays inside `±√(3/fan_in)`.
#[test]
fn lecun_schemes_are_variance_scaling_on_fan_in() {
    use optkern::{Distribution, FanMode};
    let shape = [48, 20, 3];
    let fan_in = 20.0 * 3.0;
    for dist in [Distribution::Uniform, Distribution::TruncatedNormal] {
        let (mut got, mut want) = (vec![0.0f32; 48 * 60], vec![0.0f32; 48 * 60]);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
        match dist {
            Distribution::Uniform => optkern::lecun_uniform(&mut got, &shape, &mut rng),
            _ => optkern::lecun_normal(&mut got, &shape, &mut rng),
        }
        .unwrap();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
        optkern::variance_scaling(&mut want, &shape, 1.0, FanMode::FanIn, dist, &mut rng).unwrap();
        assert_eq!(bits(&got), bits(&want), "{dist:?}");
        assert!(got.iter().any(|&x| x != 0.0), "{dist:?}: filled");
    }
    let mut w = vec![0.0f32; 48 * 60];
    optkern::lecun_uniform(&mut w, &shape, &mut Xoshiro256PlusPlus::seed_from_u64(12)).unwrap();
    let bound = (3.0f64 / fan_in).sqrt() as f32;
    assert!(w.iter().all(|x| x.abs() <= bound), "inside ±√(3/fan_in)");
    assert!(w.iter().any(|x| x.abs() > 0.9 * bound), "reaches near the bound");
}
