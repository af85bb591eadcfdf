//! Sharded reductions: the partials of any split of a buffer into whole-block shards combine
//! into exactly the bits of the one-process norm and clipping coefficient; boundaries off the
//! blocks are refused with nothing written.

mod common;
use common::*;
use optkern::{
    Error, NormType, SHARD_ALIGN, clip_coef, clip_coef_from_partials, combine_norm, grad_norm_f64,
    grad_norm_partials, norm_partials_len,
};

const NORMS: [NormType; 5] =
    [NormType::L2, NormType::L1, NormType::Inf, NormType::P(3.0), NormType::P(0.5)];

/// Every way to cut `n` elements into shards at block multiples, as lists of cut points
/// (a sample: one shard, every single cut, and random multi-cuts).
fn splits(n: usize, data: &mut Data) -> Vec<Vec<usize>> {
    let blocks = n.div_ceil(SHARD_ALIGN);
    let mut out = vec![vec![0, n]];
    for b in 1..blocks {
        out.push(vec![0, b * SHARD_ALIGN, n]);
    }
    for _ in 0..6 {
        let mut cuts: Vec<usize> =
            (1..blocks).filter(|_| data.below(2) == 0).map(|b| b * SHARD_ALIGN).collect();
        cuts.insert(0, 0);
        cuts.push(n);
        out.push(cuts);
    }
    // Empty shards are allowed anywhere on a block boundary.
    out.push(vec![0, 0, n.min(SHARD_ALIGN), n.min(SHARD_ALIGN), n]);
    out
}

/// The partials of `x` computed shard by shard with the cuts `cuts`, concatenated.
fn sharded_partials(x: &[f32], cuts: &[usize], norm: NormType) -> Vec<f64> {
    let mut all = Vec::new();
    for w in cuts.windows(2) {
        let shard = &x[w[0]..w[1]];
        let mut part = vec![f64::NAN; norm_partials_len(shard.len())];
        grad_norm_partials(shard, w[0], x.len(), norm, &mut part)
            .unwrap_or_else(|e| panic!("{cuts:?} n={}: {e}", x.len()));
        all.extend(part);
    }
    assert_eq!(all.len(), norm_partials_len(x.len()));
    all
}

/// A per-layer step split across shards (LAMB, LARS, Adafactor) with `S` state buffers, as
/// [`check_split_step`] drives it: the one-process step over the layer; pass 1 on a shard
/// (`offset`, `layer_len`), writing its two partials; the layer's scalar from all partials in
/// order; pass 2 on a shard with that scalar.
#[allow(clippy::type_complexity)]
struct Split<C, const S: usize> {
    state: &'static [&'static str; S],
    whole: fn(&mut [f32], &[f32], [&mut [f32]; S], u32, &C),
    moments: fn(&[f32], &[f32], [&mut [f32]; S], usize, usize, u32, &C, &mut [f64], &mut [f64]),
    combine: fn(&[f64], &[f64], usize, u32, &C) -> f64,
    apply: fn(&mut [f32], &[f32], [&mut [f32]; S], u32, &C, f64),
}

/// Checks that `split` over every sampled whole-block split (three steps, zero initial state)
/// gives the bits of the one-process step for each config, at sizes around the block.
fn check_split_step<C: std::fmt::Debug, const S: usize>(
    seed: u64,
    split: &Split<C, S>,
    cfgs: impl Iterator<Item = C> + Clone,
) {
    let mut data = Data::new(seed);
    let mut checked = 0;
    for n in [100, SHARD_ALIGN, 2 * SHARD_ALIGN + 1, 4 * SHARD_ALIGN - 3] {
        let p0 = data.vec(n, Kind::Param);
        let grads: Vec<Vec<f32>> = (0..3).map(|_| data.vec(n, Kind::Grad)).collect();
        for cfg in cfgs.clone() {
            let (mut p, mut state) = (p0.clone(), [(); S].map(|_| vec![0.0; n]));
            for (t, g) in grads.iter().enumerate() {
                (split.whole)(&mut p, g, state.each_mut().map(|s| &mut s[..]), t as u32 + 1, &cfg);
            }
            for cuts in splits(n, &mut data) {
                let (mut sp, mut ss) = (p0.clone(), [(); S].map(|_| vec![0.0; n]));
                let blocks = norm_partials_len(n);
                for (t, g) in grads.iter().enumerate() {
                    let step = t as u32 + 1;
                    let (mut pa, mut pb) = (vec![f64::NAN; blocks], vec![f64::NAN; blocks]);
                    for w in cuts.windows(2) {
                        let (a, b) = (w[0], w[1]);
                        let (k0, k1) =
                            (a / SHARD_ALIGN, a / SHARD_ALIGN + norm_partials_len(b - a));
                        let s = ss.each_mut().map(|s| &mut s[a..b]);
                        let (pa, pb) = (&mut pa[k0..k1], &mut pb[k0..k1]);
                        (split.moments)(&sp[a..b], &g[a..b], s, a, n, step, &cfg, pa, pb);
                    }
                    assert!(pa.iter().chain(&pb).all(|x| !x.is_nan()), "a partial left unwritten");
                    let scalar = (split.combine)(&pa, &pb, n, step, &cfg);
                    for w in cuts.windows(2) {
                        let (a, b) = (w[0], w[1]);
                        let s = ss.each_mut().map(|s| &mut s[a..b]);
                        (split.apply)(&mut sp[a..b], &g[a..b], s, step, &cfg, scalar);
                    }
                }
                let what = format!("n={n} {cfg:?} cuts={cuts:?}");
                assert_same_bits(&sp, &p, &format!("params {what}"));
                for (name, (got, want)) in split.state.iter().zip(ss.iter().zip(&state)) {
                    assert_same_bits(got, want, &format!("{name} {what}"));
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 50, "only {checked}");
}

#[test]
fn any_whole_block_split_combines_to_the_one_process_bits() {
    let mut data = Data::new(7);
    let mut checked = 0;
    for n in [
        0,
        1,
        17,
        SHARD_ALIGN - 1,
        SHARD_ALIGN,
        SHARD_ALIGN + 5,
        3 * SHARD_ALIGN + 123,
        5 * SHARD_ALIGN,
    ] {
        let mut x = data.vec(n, Kind::Grad);
        // Outliers spread the magnitudes so that a different addition order shows in the bits.
        for i in (0..n).step_by(97) {
            x[i] *= 1e4;
        }
        for cuts in splits(n, &mut data) {
            for norm in NORMS {
                let want = grad_norm_f64(&[&x], norm).unwrap();
                let got = combine_norm(&sharded_partials(&x, &cuts, norm), norm).unwrap();
                assert_eq!(got.to_bits(), want.to_bits(), "n={n} cuts={cuts:?} {norm:?}");
                let parts = sharded_partials(&x, &cuts, norm);
                let want = clip_coef(&[&x], 1.0, norm).unwrap();
                let got = clip_coef_from_partials(&parts, 1.0, norm).unwrap();
                assert_eq!(got.coef.to_bits(), want.coef.to_bits(), "coef n={n} {norm:?}");
                assert_eq!(got.total_norm.to_bits(), want.total_norm.to_bits());
                checked += 1;
            }
        }
    }
    assert!(checked > 200, "only {checked}");
}

/// The partials really depend on the order: summing the block sums in another order, or
/// splitting a block, gives other bits on this data (so the test above can fail).
#[test]
fn the_order_is_visible_in_the_bits() {
    let n = 6 * SHARD_ALIGN;
    let mut differ = 0;
    for seed in 0..20 {
        let mut x = Data::new(seed).vec(n, Kind::Grad);
        for (i, v) in x.iter_mut().enumerate() {
            *v *= 10f32.powi((i / SHARD_ALIGN) as i32 * 2 - 5);
        }
        let parts = sharded_partials(&x, &[0, n], NormType::L2);
        let want = combine_norm(&parts, NormType::L2).unwrap();
        let reversed: Vec<f64> = parts.iter().rev().copied().collect();
        let element_order = x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>().sqrt();
        if combine_norm(&reversed, NormType::L2).unwrap() != want || element_order != want {
            differ += 1;
        }
    }
    assert!(differ > 0, "this data does not tell addition orders apart");
}

/// NaN and ∞ propagate as in the one-process norm, from any shard.
#[test]
fn non_finite_values_propagate_from_any_shard() {
    let n = 3 * SHARD_ALIGN + 10;
    for (pos, bad) in [(5, f32::NAN), (SHARD_ALIGN + 1, f32::INFINITY), (n - 1, f32::NAN)] {
        let mut x = Data::new(3).vec(n, Kind::Grad);
        x[pos] = bad;
        for norm in NORMS {
            let want = grad_norm_f64(&[&x], norm).unwrap();
            let got =
                combine_norm(&sharded_partials(&x, &[0, SHARD_ALIGN, n], norm), norm).unwrap();
            assert!(
                got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                "{norm:?} {pos}"
            );
            assert!(!got.is_finite());
        }
    }
}

#[test]
fn boundaries_off_the_blocks_are_refused_and_nothing_is_written() {
    let n = 3 * SHARD_ALIGN + 7;
    let x = Data::new(5).vec(n, Kind::Grad);
    let sentinel = -12345.0;
    let cases: [(usize, usize, Error); 5] = [
        // Starts inside a block.
        (1, SHARD_ALIGN, Error::ShardBoundary { arg: "start", index: 1, block: SHARD_ALIGN }),
        // An empty shard too (only the very end of the buffer is exempt).
        (5, 0, Error::ShardBoundary { arg: "start", index: 5, block: SHARD_ALIGN }),
        // Ends inside a block that is not the last.
        (
            0,
            SHARD_ALIGN + 1,
            Error::ShardBoundary { arg: "end", index: SHARD_ALIGN + 1, block: SHARD_ALIGN },
        ),
        // Runs past the buffer.
        (
            3 * SHARD_ALIGN,
            SHARD_ALIGN,
            Error::ShardBoundary { arg: "end", index: 4 * SHARD_ALIGN, block: SHARD_ALIGN },
        ),
        // The end of the buffer is a valid end, but the start still must be on a block.
        (
            SHARD_ALIGN + 8,
            n - SHARD_ALIGN - 8,
            Error::ShardBoundary { arg: "start", index: SHARD_ALIGN + 8, block: SHARD_ALIGN },
        ),
    ];
    for (start, len, want) in cases {
        // Only the boundaries matter, not the values.
        let mut part = vec![sentinel; norm_partials_len(len)];
        let err = grad_norm_partials(&x[..len], start, n, NormType::L2, &mut part).unwrap_err();
        assert_eq!(err, want, "start {start} len {len}");
        assert!(part.iter().all(|&p| p == sentinel), "written on error");
    }
    // A partials buffer of the wrong length.
    let mut part = vec![sentinel; 2];
    let err = grad_norm_partials(&x[..SHARD_ALIGN], 0, n, NormType::L2, &mut part).unwrap_err();
    assert_eq!(err, Error::LengthMismatch { arg: "partials", expected: 1, found: 2 });
    assert!(part.iter().all(|&p| p == sentinel));
    // An invalid p.
    let mut part = vec![sentinel; 1];
    let err = grad_norm_partials(&x[..SHARD_ALIGN], 0, n, NormType::P(-1.0), &mut part);
    assert!(matches!(err, Err(Error::InvalidHyperparameter { name: "norm_type", .. })));
    assert!(part.iter().all(|&p| p == sentinel));
}

/// LAMB split across shards (moments + partials on each shard, the partials gathered, the
/// trust ratio, the apply pass on each shard) gives `lamb_step`'s bits over the layer, for every
/// split, both profiles, several steps, and an ε-dominated, a decayed and a clipped config.
#[test]
fn sharded_lamb_equals_one_lamb_step() {
    use optkern::{
        LambConfig, Numerics, lamb_shard_apply, lamb_shard_moments, lamb_step, lamb_trust_ratio,
    };
    let configs = [
        LambConfig::default(),
        LambConfig { eps: 1e-1, weight_decay: 0.0, grad_scale: 0.37, ..Default::default() },
        LambConfig {
            lr: 1e-2,
            weight_decay: 0.1,
            maximize: true,
            grad_scale: 3.0,
            ..Default::default()
        },
    ];
    let cfgs = [Numerics::Portable, Numerics::Torch]
        .into_iter()
        .flat_map(|numerics| configs.map(|c| LambConfig { numerics, ..c }));
    let split = Split {
        state: &["exp_avg", "exp_avg_sq"],
        whole: |p, g, [m, v], t, cfg| lamb_step(p, g, m, v, t, cfg).unwrap(),
        moments: |p, g, [m, v], offset, n, t, cfg, pp, up| {
            lamb_shard_moments(p, g, m, v, offset, n, t, cfg, pp, up).unwrap()
        },
        combine: |pp, up, _, _, _| lamb_trust_ratio(pp, up),
        apply: |p, _, [m, v], t, cfg, trust| lamb_shard_apply(p, m, v, t, cfg, trust).unwrap(),
    };
    check_split_step(13, &split, cfgs);
}

#[test]
fn sharded_lamb_refuses_bad_boundaries_and_trust_ratios_without_writing() {
    use optkern::{LambConfig, lamb_shard_apply, lamb_shard_moments};
    let n = 2 * SHARD_ALIGN;
    let mut data = Data::new(17);
    let (p, g) = (data.vec(n, Kind::Param), data.vec(n, Kind::Grad));
    let (m0, v0) = (data.vec(n, Kind::Grad), data.vec(n, Kind::NonNeg));
    let cfg = LambConfig::default();
    let (mut m, mut v) = (m0.clone(), v0.clone());
    let (mut pp, mut up) = (vec![-1.0; 1], vec![-1.0; 1]);
    let err = lamb_shard_moments(
        &p[8..],
        &g[8..],
        &mut m[8..],
        &mut v[8..],
        8,
        n,
        1,
        &cfg,
        &mut pp,
        &mut up,
    );
    assert_eq!(err, Err(Error::ShardBoundary { arg: "start", index: 8, block: SHARD_ALIGN }));
    let err = lamb_shard_moments(
        &p[..10],
        &g[..10],
        &mut m[..10],
        &mut v[..10],
        0,
        n,
        1,
        &cfg,
        &mut pp,
        &mut up,
    );
    assert_eq!(err, Err(Error::ShardBoundary { arg: "end", index: 10, block: SHARD_ALIGN }));
    let mut up2 = vec![-1.0; 2];
    let err = lamb_shard_moments(
        &p[..SHARD_ALIGN],
        &g[..SHARD_ALIGN],
        &mut m[..SHARD_ALIGN],
        &mut v[..SHARD_ALIGN],
        0,
        n,
        1,
        &cfg,
        &mut pp,
        &mut up2,
    );
    assert_eq!(err, Err(Error::LengthMismatch { arg: "update_partials", expected: 1, found: 2 }));
    assert_same_bits(&m, &m0, "exp_avg written on error");
    assert_same_bits(&v, &v0, "exp_avg_sq written on error");
    assert!(pp.iter().chain(&up).chain(&up2).all(|&x| x == -1.0), "partials written on error");
    let mut q = p.clone();
    for bad in [f64::NAN, -1.0] {
        let err = lamb_shard_apply(&mut q, &m0, &v0, 1, &cfg, bad);
        assert!(
            matches!(err, Err(Error::InvalidHyperparameter { name: "trust_ratio", .. })),
            "{bad}"
        );
    }
    assert_same_bits(&q, &p, "params written on error");
}

/// The Adafactor configs both split tests run: the default, a decayed, maximizing and scaled
/// one, and one where `ε₂`, `d` and a large `grad_scale` decide the step size; each under
/// both profiles (Portable first).
fn adafactor_split_configs() -> impl Iterator<Item = optkern::AdafactorConfig> + Clone {
    use optkern::{AdafactorConfig, Numerics};
    let base = AdafactorConfig::default();
    let configs = [
        base,
        AdafactorConfig { weight_decay: 0.1, maximize: true, grad_scale: 0.37, ..base },
        AdafactorConfig { eps2: 10.0, d: 4.0, lr: 0.5, grad_scale: 3.0, ..base },
    ];
    [Numerics::Portable, Numerics::Torch]
        .into_iter()
        .flat_map(move |numerics| configs.map(|c| AdafactorConfig { numerics, ..c }))
}

/// Adafactor (the vector path) split across shards (the variance and the norm partials on each
/// shard, gathered, the step size, the update on each shard) gives `adafactor_step`'s bits over
/// the vector for every split, both profiles, several steps, and a clipped, a decayed and an
/// `ε₂`-dominated config.
#[test]
fn sharded_adafactor_equals_one_adafactor_step() {
    use optkern::{
        adafactor_shard_apply, adafactor_shard_moments, adafactor_step, adafactor_step_size,
    };
    let cfgs = adafactor_split_configs();
    let split = Split {
        state: &["variance"],
        whole: |p, g, [v], t, cfg| adafactor_step(p, g, v, t, cfg).unwrap(),
        moments: |p, g, [v], offset, n, t, cfg, pp, up| {
            adafactor_shard_moments(p, g, v, offset, n, t, cfg, pp, up).unwrap()
        },
        // The step size is an f32; through f64 and back it keeps its bits.
        combine: |pp, up, n, t, cfg| f64::from(adafactor_step_size(pp, up, n, t, cfg).unwrap()),
        apply: |p, g, [v], t, cfg, size| {
            adafactor_shard_apply(p, g, v, t, cfg, size as f32).unwrap()
        },
    };
    check_split_step(23, &split, cfgs);
}

#[test]
fn sharded_adafactor_refuses_bad_boundaries_and_step_sizes_without_writing() {
    use optkern::{
        AdafactorConfig, adafactor_shard_apply, adafactor_shard_moments, adafactor_step_size,
    };
    let n = 2 * SHARD_ALIGN;
    let mut data = Data::new(29);
    let (p, g, v0) = (data.vec(n, Kind::Param), data.vec(n, Kind::Grad), data.vec(n, Kind::NonNeg));
    let cfg = AdafactorConfig::default();
    let mut v = v0.clone();
    let (mut pp, mut up) = (vec![-1.0; 1], vec![-1.0; 1]);
    let err =
        adafactor_shard_moments(&p[8..], &g[8..], &mut v[8..], 8, n, 1, &cfg, &mut pp, &mut up);
    assert_eq!(err, Err(Error::ShardBoundary { arg: "start", index: 8, block: SHARD_ALIGN }));
    let err =
        adafactor_shard_moments(&p[..10], &g[..10], &mut v[..10], 0, n, 1, &cfg, &mut pp, &mut up);
    assert_eq!(err, Err(Error::ShardBoundary { arg: "end", index: 10, block: SHARD_ALIGN }));
    let mut up2 = vec![-1.0; 2];
    let s = SHARD_ALIGN;
    let err =
        adafactor_shard_moments(&p[..s], &g[..s], &mut v[..s], 0, n, 1, &cfg, &mut pp, &mut up2);
    assert_eq!(err, Err(Error::LengthMismatch { arg: "update_partials", expected: 1, found: 2 }));
    let bad_cfg = AdafactorConfig { d: 0.5, ..cfg };
    let err =
        adafactor_shard_moments(&p[..s], &g[..s], &mut v[..s], 0, n, 1, &bad_cfg, &mut pp, &mut up);
    assert!(matches!(err, Err(Error::InvalidHyperparameter { name: "d", .. })), "{err:?}");
    assert_same_bits(&v, &v0, "variance written on error");
    assert!(pp.iter().chain(&up).chain(&up2).all(|&x| x == -1.0), "partials written on error");
    let (pp2, up2) = (vec![0.0; 2], vec![0.0; 2]);
    assert_eq!(adafactor_step_size(&pp2, &up2, n, 0, &cfg), Err(Error::ZeroStep));
    let err = adafactor_step_size(&pp2, &up, n, 1, &cfg);
    assert_eq!(err, Err(Error::LengthMismatch { arg: "update_partials", expected: 2, found: 1 }));
    let err = adafactor_step_size(&pp, &up2, n, 1, &cfg);
    assert_eq!(err, Err(Error::LengthMismatch { arg: "param_partials", expected: 2, found: 1 }));
    let mut q = p.clone();
    for bad in [f32::NAN, 1e-3] {
        let err = adafactor_shard_apply(&mut q, &g, &v0, 1, &cfg, bad);
        assert!(
            matches!(err, Err(Error::InvalidHyperparameter { name: "step_size", .. })),
            "{bad}"
        );
    }
    // A zero step size (lr = 0 gives −0.0) is a step that moves nothing.
    for zero in [0.0, -0.0] {
        adafactor_shard_apply(&mut q, &g, &v0, 1, &cfg, zero).unwrap();
    }
    assert_same_bits(&q, &p, "params moved by a zero step");
    let err = adafactor_shard_apply(&mut q, &g, &v0[1..], 1, &cfg, -1e-3);
    assert_eq!(err, Err(Error::LengthMismatch { arg: "variance", expected: n, found: n - 1 }));
    assert_same_bits(&q, &p, "params written on error");
}

/// Factored Adafactor (a matrix) split across shards of whole rows on whole blocks: row
/// statistics on each shard with the column sums carried from shard to shard in row order, the
/// column statistics from the final sums, the norm partials on each shard, the step size, the
/// update on each shard — `adafactor_factored_step`'s bits for the parameters and both
/// statistics, for every sampled split, both profiles, several steps and three configs. The
/// carried column sums do not depend on where the rows are cut (any row boundary).
#[test]
fn sharded_factored_adafactor_equals_one_factored_step() {
    use optkern::{
        adafactor_factored_col_var, adafactor_factored_shard_apply, adafactor_factored_shard_norms,
        adafactor_factored_shard_stats, adafactor_factored_step, adafactor_step_size,
    };
    let mut data = Data::new(29);
    let mut checked = 0;
    for (rows, cols) in [(200, 64), (9, 1024), (3, 5000), (1, 4096)] {
        let n = rows * cols;
        let p0 = data.vec(n, Kind::Param);
        let grads: Vec<Vec<f32>> = (0..3).map(|_| data.vec(n, Kind::Grad)).collect();
        // Row cuts whose element index is on a block: where the norm partials may split.
        let on_block: Vec<usize> =
            (1..rows).filter(|r| (r * cols).is_multiple_of(SHARD_ALIGN)).collect();
        let mut row_splits = vec![vec![0, rows], vec![0, 0, rows, rows]];
        row_splits.extend(on_block.iter().map(|&r| vec![0, r, rows]));
        for _ in 0..4 {
            let mut cuts: Vec<usize> =
                on_block.iter().copied().filter(|_| data.below(2) == 0).collect();
            cuts.insert(0, 0);
            cuts.push(rows);
            row_splits.push(cuts);
        }
        for cfg in adafactor_split_configs() {
            let (mut p, mut r, mut c) = (p0.clone(), vec![0.0; rows], vec![0.0; cols]);
            for (t, g) in grads.iter().enumerate() {
                adafactor_factored_step(&mut p, g, &mut r, &mut c, rows, cols, t as u32 + 1, &cfg)
                    .unwrap();
            }
            for cuts in &row_splits {
                let (mut sp, mut sr, mut sc) = (p0.clone(), vec![0.0; rows], vec![0.0; cols]);
                for (t, g) in grads.iter().enumerate() {
                    let step = t as u32 + 1;
                    let mut sums = vec![0.0f64; cols];
                    for w in cuts.windows(2) {
                        let (a, b) = (w[0] * cols, w[1] * cols);
                        let own = &mut sr[w[0]..w[1]];
                        adafactor_factored_shard_stats(&g[a..b], own, &mut sums, cols, step, &cfg)
                            .unwrap();
                    }
                    // Any row boundary carries the same column sums.
                    let mut other = vec![0.0f64; cols];
                    let mut scratch = sr.clone();
                    let (mut a, mut rest) = (0, rows);
                    while rest > 0 {
                        let k = 1 + data.below(rest as u64) as usize;
                        let (g_rows, r_rows) =
                            (&g[a * cols..(a + k) * cols], &mut scratch[a..a + k]);
                        // The row statistics were already updated: only the sums are compared.
                        adafactor_factored_shard_stats(
                            g_rows, r_rows, &mut other, cols, step, &cfg,
                        )
                        .unwrap();
                        (a, rest) = (a + k, rest - k);
                    }
                    assert!(
                        sums.iter().zip(&other).all(|(x, y)| x.to_bits() == y.to_bits()),
                        "column sums depend on the row cuts ({rows}x{cols})"
                    );
                    adafactor_factored_col_var(&mut sc, &sums, rows, step, &cfg).unwrap();
                    let blocks = norm_partials_len(n);
                    let (mut pp, mut up) = (vec![f64::NAN; blocks], vec![f64::NAN; blocks]);
                    for w in cuts.windows(2) {
                        let (a, b) = (w[0] * cols, w[1] * cols);
                        let (k0, k1) =
                            (a / SHARD_ALIGN, a / SHARD_ALIGN + norm_partials_len(b - a));
                        adafactor_factored_shard_norms(
                            &sp[a..b],
                            &g[a..b],
                            &sr,
                            &sc,
                            w[0],
                            step,
                            &cfg,
                            &mut pp[k0..k1],
                            &mut up[k0..k1],
                        )
                        .unwrap();
                    }
                    assert!(pp.iter().chain(&up).all(|x| !x.is_nan()), "a partial left unwritten");
                    let size = adafactor_step_size(&pp, &up, n, step, &cfg).unwrap();
                    for w in cuts.windows(2) {
                        let (a, b) = (w[0] * cols, w[1] * cols);
                        adafactor_factored_shard_apply(
                            &mut sp[a..b],
                            &g[a..b],
                            &sr,
                            &sc,
                            w[0],
                            step,
                            &cfg,
                            size,
                        )
                        .unwrap();
                    }
                }
                let what = format!("{rows}x{cols} {cfg:?} row cuts={cuts:?}");
                assert_same_bits(&sp, &p, &format!("params {what}"));
                assert_same_bits(&sr, &r, &format!("row_var {what}"));
                assert_same_bits(&sc, &c, &format!("col_var {what}"));
                checked += 1;
            }
        }
    }
    assert!(checked > 50, "only {checked}");
}

/// The factored shard passes refuse shards off the blocks or off whole rows, rows past the
/// matrix, wrong column-sum and partials lengths and bad step sizes, and write nothing then.
#[test]
fn sharded_factored_adafactor_refuses_bad_shards_without_writing() {
    use optkern::{
        AdafactorConfig, adafactor_factored_col_var, adafactor_factored_shard_apply,
        adafactor_factored_shard_norms, adafactor_factored_shard_stats,
    };
    let (rows, cols) = (128, 64);
    let n = rows * cols;
    let mut data = Data::new(31);
    let (p, g) = (data.vec(n, Kind::Param), data.vec(n, Kind::Grad));
    let (r0, c0) = (data.vec(rows, Kind::NonNeg), data.vec(cols, Kind::NonNeg));
    let cfg = AdafactorConfig::default();
    let (mut r, mut sums) = (r0.clone(), vec![-1.0f64; cols]);
    let err = adafactor_factored_shard_stats(&g[..cols + 1], &mut r[..1], &mut sums, cols, 1, &cfg);
    assert_eq!(err, Err(Error::LengthMismatch { arg: "grads", expected: cols, found: cols + 1 }));
    let err =
        adafactor_factored_shard_stats(&g[..cols], &mut r[..1], &mut sums[1..], cols, 1, &cfg);
    assert_eq!(
        err,
        Err(Error::LengthMismatch { arg: "col_sums", expected: cols, found: cols - 1 })
    );
    let bad = AdafactorConfig { d: 0.5, ..cfg };
    let err = adafactor_factored_shard_stats(&g[..cols], &mut r[..1], &mut sums, cols, 1, &bad);
    assert!(matches!(err, Err(Error::InvalidHyperparameter { name: "d", .. })));
    assert_same_bits(&r, &r0, "row_var written on error");
    assert!(sums.iter().all(|&s| s == -1.0), "column sums written on error");
    let mut c = c0.clone();
    let err = adafactor_factored_col_var(&mut c, &sums[1..], rows, 1, &cfg);
    assert_eq!(
        err,
        Err(Error::LengthMismatch { arg: "col_sums", expected: cols, found: cols - 1 })
    );
    let err = adafactor_factored_col_var(&mut c, &sums, rows, 0, &cfg);
    assert_eq!(err, Err(Error::ZeroStep));
    assert_same_bits(&c, &c0, "col_var written on error");
    // No rows (an empty matrix, as adafactor_factored_step leaves it): nothing changes.
    let mut empty_step = c0.clone();
    let mut no_rows = vec![0.0f32; 0];
    optkern::adafactor_factored_step(&mut [], &[], &mut no_rows, &mut empty_step, 0, cols, 1, &cfg)
        .unwrap();
    adafactor_factored_col_var(&mut c, &vec![0.0; cols], 0, 1, &cfg).unwrap();
    assert_same_bits(&c, &empty_step, "col_var of a matrix without rows");
    assert_same_bits(&c, &c0, "col_var of a matrix without rows");
    // Norms: a start off the blocks (row 1 is element 64), a shard that is not whole rows,
    // rows past the matrix, a short partials buffer.
    let (mut pp, mut up) = (vec![-1.0; 1], vec![-1.0; 1]);
    let (a, b) = (cols, cols + SHARD_ALIGN);
    let err =
        adafactor_factored_shard_norms(&p[a..b], &g[a..b], &r0, &c0, 1, 1, &cfg, &mut pp, &mut up);
    assert_eq!(err, Err(Error::ShardBoundary { arg: "start", index: cols, block: SHARD_ALIGN }));
    let err = adafactor_factored_shard_norms(
        &p[..cols + 1],
        &g[..cols + 1],
        &r0,
        &c0,
        0,
        1,
        &cfg,
        &mut pp,
        &mut up,
    );
    assert_eq!(err, Err(Error::LengthMismatch { arg: "params", expected: cols, found: cols + 1 }));
    let err = adafactor_factored_shard_norms(
        &p[..SHARD_ALIGN],
        &g[..SHARD_ALIGN],
        &r0,
        &c0,
        rows - 1,
        1,
        &cfg,
        &mut pp,
        &mut up,
    );
    let past = rows - 1 + SHARD_ALIGN / cols;
    assert_eq!(err, Err(Error::IndexOutOfRange { arg: "row0", index: past, bound: rows }));
    let mut up2 = vec![-1.0; 2];
    let err = adafactor_factored_shard_norms(
        &p[..SHARD_ALIGN],
        &g[..SHARD_ALIGN],
        &r0,
        &c0,
        0,
        1,
        &cfg,
        &mut pp,
        &mut up2,
    );
    assert_eq!(err, Err(Error::LengthMismatch { arg: "update_partials", expected: 1, found: 2 }));
    assert!(pp.iter().chain(&up).chain(&up2).all(|&x| x == -1.0), "partials written on error");
    // Apply: bad step sizes, rows past the matrix.
    let mut q = p.clone();
    for bad in [f32::NAN, 1e-3] {
        let err = adafactor_factored_shard_apply(&mut q, &g, &r0, &c0, 0, 1, &cfg, bad);
        assert!(
            matches!(err, Err(Error::InvalidHyperparameter { name: "step_size", .. })),
            "{bad}"
        );
    }
    let err = adafactor_factored_shard_apply(&mut q, &g, &r0, &c0, 1, 1, &cfg, -1e-3);
    assert_eq!(err, Err(Error::IndexOutOfRange { arg: "row0", index: rows + 1, bound: rows }));
    assert_same_bits(&q, &p, "params written on error");
    // A zero step size moves nothing.
    adafactor_factored_shard_apply(&mut q, &g, &r0, &c0, 0, 1, &cfg, 0.0).unwrap();
    assert_same_bits(&q, &p, "params moved by a zero step");
}

/// LARS split across shards (norm partials on each shard, gathered, the local learning rate,
/// the update on each shard) gives `lars_step`'s bits over the layer for every split.
#[test]
fn sharded_lars_equals_one_lars_step() {
    use optkern::{
        LarsConfig, Numerics, lars_local_lr, lars_shard_apply, lars_shard_norms, lars_step,
    };
    let configs = [
        LarsConfig::default(),
        LarsConfig { weight_decay: 0.0, grad_scale: 0.37, maximize: true, ..Default::default() },
        LarsConfig { eps: 1.0, weight_decay: 0.1, grad_scale: 3.0, ..Default::default() },
    ];
    let cfgs = [Numerics::Portable, Numerics::Torch]
        .into_iter()
        .flat_map(|numerics| configs.map(|c| LarsConfig { numerics, ..c }));
    // LARS has no step count: its velocity is its state.
    let split = Split {
        state: &["velocity"],
        whole: |p, g, [v], _, cfg| lars_step(p, g, v, cfg).unwrap(),
        moments: |p, g, [_], offset, n, _, cfg, pp, gp| {
            lars_shard_norms(p, g, offset, n, cfg, pp, gp).unwrap()
        },
        combine: |pp, gp, _, _, cfg| lars_local_lr(pp, gp, cfg).unwrap(),
        apply: |p, g, [v], _, cfg, local| lars_shard_apply(p, g, v, cfg, local).unwrap(),
    };
    check_split_step(19, &split, cfgs);
}

#[test]
fn sharded_lars_refuses_bad_boundaries_and_rates_without_writing() {
    use optkern::{LarsConfig, lars_shard_apply, lars_shard_norms};
    let n = 2 * SHARD_ALIGN;
    let mut data = Data::new(23);
    let (p, g, v0) = (data.vec(n, Kind::Param), data.vec(n, Kind::Grad), data.vec(n, Kind::Grad));
    let cfg = LarsConfig::default();
    let (mut pp, mut gp) = (vec![-1.0; 1], vec![-1.0; 1]);
    let err = lars_shard_norms(&p[8..], &g[8..], 8, n, &cfg, &mut pp, &mut gp);
    assert_eq!(err, Err(Error::ShardBoundary { arg: "start", index: 8, block: SHARD_ALIGN }));
    let mut gp2 = vec![-1.0; 2];
    let err = lars_shard_norms(&p[..SHARD_ALIGN], &g[..SHARD_ALIGN], 0, n, &cfg, &mut pp, &mut gp2);
    assert_eq!(err, Err(Error::LengthMismatch { arg: "grad_partials", expected: 1, found: 2 }));
    assert!(pp.iter().chain(&gp).chain(&gp2).all(|&x| x == -1.0), "partials written on error");
    let (mut q, mut v) = (p.clone(), v0.clone());
    for bad in [f64::NAN, -1.0] {
        let err = lars_shard_apply(&mut q, &g, &mut v, &cfg, bad);
        assert!(matches!(err, Err(Error::InvalidHyperparameter { name: "local_lr", .. })), "{bad}");
    }
    assert_same_bits(&q, &p, "params written on error");
    assert_same_bits(&v, &v0, "velocity written on error");
}

/// The ratios' fallbacks, which every split shares: a zero norm gives the ratio 1 (LAMB's
/// trust ratio, LARS's local learning rate), and an explicit ratio of 0 is a valid no-op scale.
/// Expected values from the equations: from θ = 0, LAMB's first step is `θ = −η·r` with
/// `r ≈ sign(g)`; with g = 0 and λ = 0, `r = 0` and θ stays bit-identical (a ratio of ∞ would
/// make it NaN); LARS from θ = 0 gives `v = γ·g`, and with g = 0 gives `v = γ·β·θ`.
#[test]
fn zero_norms_fall_back_to_ratio_one() {
    use optkern::{
        LambConfig, LarsConfig, lamb_shard_apply, lamb_step, lars_shard_apply, lars_step,
    };
    let n = 300;
    let mut data = Data::new(29);
    let (theta, g) = (data.vec(n, Kind::Param), data.vec(n, Kind::Grad));
    let close = |a: f32, b: f64, what: &str| {
        assert!((f64::from(a) - b).abs() <= 1e-5 * b.abs().max(1e-30), "{what}: {a} vs {b}");
    };
    // LAMB, θ = 0: ‖θ‖ = 0 → φ = 1 → θ = −η·m̂/(√v̂ + ε) = −η·g/(|g| + ε).
    let cfg = LambConfig { weight_decay: 0.0, ..Default::default() };
    let (mut p, mut m, mut v) = (vec![0.0f32; n], vec![0.0; n], vec![0.0; n]);
    lamb_step(&mut p, &g, &mut m, &mut v, 1, &cfg).unwrap();
    for i in 0..n {
        let gi = f64::from(g[i]);
        close(p[i], -cfg.lr * gi / (gi.abs() + cfg.eps), "LAMB from θ = 0");
    }
    // LAMB, g = 0 and λ = 0: r = 0 → ‖r‖ = 0 → φ = 1, θ unchanged.
    let (mut p, mut m, mut v) = (theta.clone(), vec![0.0f32; n], vec![0.0; n]);
    lamb_step(&mut p, &vec![0.0; n], &mut m, &mut v, 1, &cfg).unwrap();
    assert_same_bits(&p, &theta, "LAMB with g = 0");
    // An explicit trust ratio of 0 is accepted and moves nothing.
    let mut q = theta.clone();
    lamb_shard_apply(&mut q, &m, &v, 1, &cfg, 0.0).unwrap();
    assert_same_bits(&q, &theta, "LAMB apply with φ = 0");

    // LARS, θ = 0: λ = 1 → v = γ·g (β·θ = 0), θ = −v.
    let cfg = LarsConfig::default();
    let (mut p, mut vel) = (vec![0.0f32; n], vec![0.0f32; n]);
    lars_step(&mut p, &g, &mut vel, &cfg).unwrap();
    for i in 0..n {
        close(vel[i], cfg.lr * f64::from(g[i]), "LARS from θ = 0");
    }
    // LARS, g = 0: λ = 1 → v = γ·β·θ.
    let (mut p, mut vel) = (theta.clone(), vec![0.0f32; n]);
    lars_step(&mut p, &vec![0.0; n], &mut vel, &cfg).unwrap();
    for i in 0..n {
        close(vel[i], cfg.lr * cfg.weight_decay * f64::from(theta[i]), "LARS with g = 0");
    }
    // An explicit local learning rate of 0 is accepted: v = μ·v, θ = θ − v.
    let (mut q, mut w) = (theta.clone(), vec![0.0f32; n]);
    lars_shard_apply(&mut q, &g, &mut w, &cfg, 0.0).unwrap();
    assert_same_bits(&q, &theta, "LARS apply with λ = 0 from v = 0");
}
