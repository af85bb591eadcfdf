//! Training utilities: schedules against f64 references, norms (width, chunking and
//! slicing invariance, no overflow or underflow), clipping through `grad_scale`, the
//! non-finite guard at every position, loss-scale updates, accumulation and cross-entropy.

mod common;
use common::{Data, Kind, LENGTHS, assert_same_bits, bits};
use optkern::train::schedule::*;
use optkern::{NormType, Width};
use optkern_reference as reference;

#[test]
fn schedules_match_their_references() {
    let inv = InverseTime::new(0.1, 0.01).unwrap();
    let wsd = WarmupStableDecay::new(0.1, 10, 50, 40, 0.1).unwrap();
    let wsd0 = WarmupStableDecay::new(0.1, 0, 5, 0, 0.5).unwrap();
    let sgdr = CosineWarmRestarts::new(0.1, 7, 3, 1e-4).unwrap();
    let cos = Cosine::new(0.1, 30, 1e-3).unwrap();
    for t in 0..300u64 {
        let close = |a: f64, b: f64, what: &str| {
            assert!((a - b).abs() <= 1e-12 * b.abs().max(1e-300), "{what} at {t}: {a} vs {b}")
        };
        close(inv.lr(t), reference::schedule::inverse_time(0.1, 0.01, t), "inverse_time");
        close(wsd.lr(t), reference::schedule::warmup_stable_decay(0.1, 10, 50, 40, 0.1, t), "wsd");
        close(wsd0.lr(t), reference::schedule::warmup_stable_decay(0.1, 0, 5, 0, 0.5, t), "wsd0");
        close(sgdr.lr(t), reference::schedule::warm_restarts(0.1, 7, 3, 1e-4, t), "sgdr");
        close(cos.lr(t), reference::schedule::cosine(0.1, 1e-3, t as f64, 30.0), "cosine");
    }
    // Warmup then decay: the decay restarts at its own step 0 at the milestone.
    let warm = Linear::new(0.1, 0.01, 1.0, 10).unwrap();
    let parts: [&dyn Schedule; 2] = [&warm, &cos];
    let seq = Sequential::new(&parts, &[10]).unwrap();
    for t in 0..100 {
        let want = if t < 10 { warm.lr(t) } else { cos.lr(t - 10) };
        assert_eq!(seq.lr(t), want);
    }
    // Nothing panics at extreme steps.
    for s in [&inv as &dyn Schedule, &wsd, &sgdr, &cos, &seq] {
        assert!(s.lr(u64::MAX).is_finite());
    }
}

/// Only the cyclic schedules set a momentum (`OneCycle`, `Cyclic`); every other reports `None`,
/// a constant rate is its rate at every step, and `Sequential` hands the momentum, like the
/// rate, to the part in force at the part's own step.
#[test]
fn momentum_comes_only_from_cyclic_schedules_and_sequential_delegates_it() {
    let constant = Constant::new(0.25).unwrap();
    let steps = [0, 1, 2, 9, 10, 57, 1000, u64::MAX];
    for t in steps {
        assert_eq!(constant.lr(t), 0.25, "Constant at {t}");
    }
    let non_cyclic: [&dyn Schedule; 7] = [
        &constant,
        &StepDecay::new(0.1, 3, 0.5).unwrap(),
        &Exponential::new(0.1, 0.9).unwrap(),
        &InverseTime::new(0.1, 0.01).unwrap(),
        &Cosine::new(0.1, 30, 1e-3).unwrap(),
        &Linear::new(0.1, 0.01, 1.0, 10).unwrap(),
        &WarmupStableDecay::new(0.1, 10, 50, 40, 0.1).unwrap(),
    ];
    for (k, s) in non_cyclic.iter().enumerate() {
        for t in steps {
            assert_eq!(s.momentum(t), None, "schedule {k} at {t}");
        }
    }
    let one_cycle =
        OneCycle::new(0.1, 100, 0.3, Anneal::Cos, 25.0, 1e4, false, 0.85, 0.95).unwrap();
    let warm = Linear::new(0.1, 0.01, 1.0, 10).unwrap();
    let parts: [&dyn Schedule; 2] = [&warm, &one_cycle];
    let seq = Sequential::new(&parts, &[10]).unwrap();
    let mut seen = Vec::new();
    for t in 0..110 {
        let want = if t < 10 { None } else { one_cycle.momentum(t - 10) };
        assert_eq!(seq.momentum(t), want, "Sequential at {t}");
        if let Some(m) = want {
            assert!((0.85..=0.95).contains(&m), "OneCycle's momentum {m} at {t}");
            seen.push(m);
        }
    }
    seen.dedup();
    assert!(seen.len() > 50, "the momentum moves: {} values", seen.len());
}

/// optax's edge rules, from its source: `exponential_decay` clips with `min` unless
/// `decay_rate < 1` (so at rate 1 an `end_value` below `init` is the rate at every step);
/// `piecewise_interpolate_schedule` picks the interval with `bound ≤ count < next bound`, so at
/// a boundary the rate is the new segment's start, exactly `init·Π scales` (its linear form
/// `(end − start)·pct + start` at `pct = 1` of the previous segment rounds differently, e.g.
/// `(0.01 − 0.1)·1 + 0.1 = 0.010000000000000009` against `0.1·0.1 = 0.010000000000000002`);
/// the piecewise schedules check their boundaries and scales.
#[test]
fn optax_schedules_follow_optax_at_their_edges() {
    let flat = ExponentialDecay::new(0.5, 10, 1.0, 0, false, Some(0.125)).unwrap();
    let rising = ExponentialDecay::new(0.5, 10, 1.5, 0, false, Some(0.75)).unwrap();
    for t in [0, 1, 10, 100] {
        assert_eq!(flat.lr(t), 0.125, "rate 1 clips with min at {t}");
        let want = (0.5 * 1.5f64.powf(t as f64 / 10.0)).min(0.75);
        assert!((rising.lr(t) - want).abs() <= 1e-15 * want, "rate 1.5 at {t}");
    }
    let (bounds, scales) = ([10u64, 20], [0.1, 0.37]);
    let linear = PiecewiseInterpolate::new(Anneal::Linear, 0.1, &bounds, &scales).unwrap();
    assert_eq!(linear.lr(10), 0.1 * 0.1, "at the first boundary");
    assert_eq!(linear.lr(20), 0.1 * 0.1 * 0.37, "at the second boundary");
    assert_eq!(linear.lr(0), 0.1);
    for (bounds, scales) in
        [(&[10u64, 20][..], &[0.5][..]), (&[20, 10], &[0.5, 0.5]), (&[10, 10], &[0.5, 0.5])]
    {
        assert!(PiecewiseConstant::new(0.1, bounds, scales).is_err(), "{bounds:?} {scales:?}");
        assert!(PiecewiseInterpolate::new(Anneal::Cos, 0.1, bounds, scales).is_err());
    }
    assert!(PiecewiseConstant::new(0.1, &[10], &[-0.5]).is_err(), "negative scale");
    assert!(PiecewiseConstant::new(0.1, &[10], &[f64::NAN]).is_err(), "NaN scale");
}

/// `ReduceLROnPlateau`'s comparison in each of its four modes, from torch's `is_better`
/// (`a < best·(1 − thr)`, `a < best − thr`, `a > best·(thr + 1)`, `a > best + thr`): with
/// `patience = 0` and `factor = ½` every step that is not better halves the rate at once. Each
/// mode gets a first metric (better than the initial ±∞), the boundary itself (a tie: not
/// better, and `best` stays), one past it (better), and a NaN (never better). The boundaries
/// are exact in binary (best 8, threshold ½). And a cut of exactly `eps` is not applied.
#[test]
fn plateau_compares_as_torch_in_every_mode() {
    let boundary_then_past = [
        (PlateauMode::Min, ThresholdMode::Rel, 4.0, 3.5),
        (PlateauMode::Min, ThresholdMode::Abs, 7.5, 7.0),
        (PlateauMode::Max, ThresholdMode::Rel, 12.0, 13.0),
        (PlateauMode::Max, ThresholdMode::Abs, 8.5, 9.0),
    ];
    for (mode, threshold_mode, tie, past) in boundary_then_past {
        let cfg = PlateauConfig {
            mode,
            threshold_mode,
            threshold: 0.5,
            patience: 0,
            factor: 0.5,
            ..PlateauConfig::default()
        };
        let mut p = ReduceOnPlateau::new(1.0, &cfg).unwrap();
        let start = if mode == PlateauMode::Min { f64::INFINITY } else { f64::NEG_INFINITY };
        assert_eq!(p.best(), start);
        let what = format!("{mode:?} {threshold_mode:?}");
        // (metric, rate after the step, best after the step)
        for (metric, lr, best) in [(8.0, 1.0, 8.0), (tie, 0.5, 8.0), (past, 0.5, past)] {
            assert_eq!(p.step(metric), lr, "{what}: rate after {metric}");
            assert_eq!((p.lr(), p.best()), (lr, best), "{what}: after {metric}");
        }
        assert_eq!(p.step(f64::NAN), 0.25, "{what}: NaN is a bad step");
        assert_eq!(p.best(), past, "{what}: NaN is never the best");
    }
    // torch applies a reduction only if `old − new > eps`: one of exactly `eps` is skipped.
    let cfg = PlateauConfig { patience: 0, factor: 0.5, eps: 0.5, ..PlateauConfig::default() };
    let mut p = ReduceOnPlateau::new(1.0, &cfg).unwrap();
    assert_eq!((p.step(8.0), p.step(8.0)), (1.0, 1.0), "a cut of exactly eps is not applied");
    let mut p = ReduceOnPlateau::new(1.25, &cfg).unwrap();
    assert_eq!((p.step(8.0), p.step(8.0)), (1.25, 0.625), "a cut above eps is");
}

#[test]
fn schedules_reject_bad_arguments() {
    assert!(StepDecay::new(0.1, 0, 0.5).is_err());
    assert!(StepDecay::new(f64::NAN, 1, 0.5).is_err());
    assert!(Cosine::new(0.1, 0, 0.0).is_err());
    assert!(Linear::new(0.1, 0.0, 1.0, 5).is_err());
    assert!(MultiStep::new(0.1, &[5, 3], 0.1).is_err());
    assert!(Exponential::new(-0.1, 0.9).is_err());
    let c = Constant::new(0.1).unwrap();
    assert!(Sequential::new(&[&c as &dyn Schedule, &c], &[]).is_err());
    assert!(WarmupStableDecay::new(0.1, 1, 1, 1, 1.5).is_err());
}

fn naive_norm(xs: &[f32], norm: NormType) -> f64 {
    let it = xs.iter().map(|&x| f64::from(x).abs());
    match norm {
        NormType::L1 => it.sum(),
        NormType::L2 => it.map(|x| x * x).sum::<f64>().sqrt(),
        NormType::Inf => it.fold(0.0, f64::max),
        NormType::P(p) => it.map(|x| x.powf(p)).sum::<f64>().powf(1.0 / p),
    }
}

#[test]
fn norms_are_exact_enough_and_independent_of_slicing() {
    let norms = [NormType::L1, NormType::L2, NormType::Inf, NormType::P(3.0), NormType::P(0.5)];
    for &n in LENGTHS.iter().chain(&[10_000, 70_001]) {
        let xs = Data::new(n as u64).vec(n, Kind::Grad);
        for norm in norms {
            let whole = optkern::grad_norm_f64(&[&xs], norm).unwrap();
            let want = naive_norm(&xs, norm);
            assert!(
                (whole - want).abs() <= 1e-12 * want.max(1e-300),
                "{norm:?} n={n}: {whole} vs {want}"
            );
            // Any split into slices gives the same bits.
            for cuts in [vec![0, n / 3, n / 2, n], vec![0, 1.min(n), n], vec![0, n / 7, n]] {
                let parts: Vec<&[f32]> = cuts.windows(2).map(|w| &xs[w[0]..w[1]]).collect();
                let split = optkern::grad_norm_f64(&parts, norm).unwrap();
                assert_eq!(split.to_bits(), whole.to_bits(), "{norm:?} n={n} split {cuts:?}");
            }
        }
    }
}

#[test]
fn norms_do_not_overflow_or_underflow() {
    let big = [3e38f32; 1000];
    let l2 = optkern::grad_norm_f64(&[&big], NormType::L2).unwrap();
    assert!((l2 - f64::from(3e38f32) * 1000f64.sqrt()).abs() <= 1e-12 * l2, "{l2}");
    let tiny = [f32::from_bits(1); 1000];
    let l2 = optkern::grad_norm_f64(&[&tiny], NormType::L2).unwrap();
    let want = f64::from(f32::from_bits(1)) * 1000f64.sqrt();
    assert!((l2 - want).abs() <= 1e-12 * want, "{l2} vs {want}");
    let mut with_nan = [1.0f32; 40];
    with_nan[37] = f32::NAN;
    for norm in [NormType::L1, NormType::L2, NormType::Inf] {
        assert!(optkern::grad_norm_f64(&[&with_nan], norm).unwrap().is_nan(), "{norm:?}");
    }
    assert!(optkern::grad_norm(&[&[1.0]], NormType::P(f64::NAN)).is_err());
    assert!(optkern::grad_norm(&[&[1.0]], NormType::P(-1.0)).is_err());
}

#[test]
fn clipping_through_grad_scale_equals_clipping_first() {
    let n = 1000;
    let mut data = Data::new(3);
    let (p0, g0) = (data.vec(n, Kind::Param), data.vec(n, Kind::Signed));
    let cfg = optkern::AdamConfig { lr: 0.01, ..Default::default() };
    // Clip, then step.
    let (mut p1, mut g1, mut m1, mut v1) = (p0.clone(), g0.clone(), vec![0.0; n], vec![0.0; n]);
    let clip = optkern::clip_grad_norm(&mut [&mut g1], 0.5, NormType::L2).unwrap();
    assert!(clip.coef < 1.0);
    optkern::adam_step(&mut p1, &g1, &mut m1, &mut v1, &mut [], 1, &cfg).unwrap();
    // Coefficient only, as grad_scale.
    let (mut p2, mut m2, mut v2) = (p0.clone(), vec![0.0; n], vec![0.0; n]);
    let clip2 = optkern::clip_coef(&[&g0], 0.5, NormType::L2).unwrap();
    assert_eq!(clip, clip2);
    let scaled = optkern::AdamConfig { grad_scale: clip2.coef, ..cfg };
    optkern::adam_step(&mut p2, &g0, &mut m2, &mut v2, &mut [], 1, &scaled).unwrap();
    assert_eq!(bits(&p1), bits(&p2));
    assert_eq!(bits(&m1), bits(&m2));
    assert_eq!(bits(&v1), bits(&v2));
}

#[test]
fn clipping_rejects_bad_arguments_without_writing() {
    let mut g = vec![1.0f32, -2.0, 3.0];
    let before = bits(&g);
    assert!(optkern::clip_grad_norm(&mut [&mut g], f64::NAN, NormType::L2).is_err());
    assert!(optkern::clip_grad_norm(&mut [&mut g], 1.0, NormType::P(0.0)).is_err());
    assert!(optkern::clip_grad_value(&mut [&mut g], -1.0).is_err());
    assert!(optkern::unscale(&mut [&mut g], f32::INFINITY).is_err());
    assert_eq!(bits(&g), before);
}

/// The guarded step skips on a NaN or ±∞ at any position (body or tail of every width) and
/// leaves params and state bit-identical; with finite gradients it equals the plain step.
#[test]
fn guarded_step_skips_on_any_non_finite_gradient() {
    for n in [1, 7, 8, 9, 17, 37] {
        let mut data = Data::new(n as u64);
        let (p0, m0, v0, g0) = (
            data.vec(n, Kind::Param),
            data.vec(n, Kind::Signed),
            data.vec(n, Kind::NonNeg),
            data.vec(n, Kind::Grad),
        );
        let cfg = optkern::AdamConfig::default();
        for pos in 0..n {
            for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                let mut g = g0.clone();
                g[pos] = bad;
                let (mut p, mut m, mut v) = (p0.clone(), m0.clone(), v0.clone());
                let out = optkern::step_if_finite(&[&g], || {
                    optkern::adam_step(&mut p, &g, &mut m, &mut v, &mut [], 3, &cfg)
                })
                .unwrap();
                assert_eq!(out, optkern::StepOutcome::Skipped);
                assert_eq!(
                    (bits(&p), bits(&m), bits(&v)),
                    (bits(&p0), bits(&m0), bits(&v0)),
                    "n={n} pos={pos}"
                );
            }
        }
        let (mut p, mut m, mut v) = (p0.clone(), m0.clone(), v0.clone());
        let out = optkern::step_if_finite(&[&g0], || {
            optkern::adam_step(&mut p, &g0, &mut m, &mut v, &mut [], 3, &cfg)
        })
        .unwrap();
        assert_eq!(out, optkern::StepOutcome::Stepped);
        let (mut p2, mut m2, mut v2) = (p0.clone(), m0.clone(), v0.clone());
        optkern::adam_step(&mut p2, &g0, &mut m2, &mut v2, &mut [], 3, &cfg).unwrap();
        assert_eq!(bits(&p), bits(&p2));
    }
}

#[test]
fn unscale_and_loss_scale_follow_grad_scaler() {
    let mut g = vec![2.0f32, 4.0, f32::INFINITY];
    assert!(optkern::unscale(&mut [&mut g[..2]], 0.5).map(|f| !f).unwrap());
    assert_eq!(&g[..2], &[1.0, 2.0]);
    assert!(optkern::unscale(&mut [&mut g], 0.5).unwrap(), "an infinity must be found");
    let mut s = optkern::LossScale { growth_interval: 3, ..Default::default() };
    s.update(false);
    s.update(false);
    assert_eq!((s.scale, s.growth_tracker), (65536.0, 2));
    s.update(false);
    assert_eq!((s.scale, s.growth_tracker), (131072.0, 0));
    s.update(true);
    assert_eq!((s.scale, s.growth_tracker), (65536.0, 0));
    assert_eq!(s.inv_scale(), 1.0 / 65536.0);
    let mut huge = optkern::LossScale { scale: f32::MAX, growth_interval: 1, ..Default::default() };
    huge.update(false);
    assert_eq!(huge.scale, f32::MAX, "growth that overflows is not applied");
}

#[test]
fn clip_grad_value_clamps_and_keeps_nan() {
    let mut g = vec![-3.0f32, -0.5, 0.0, 0.5, 3.0, f32::NAN, f32::INFINITY];
    optkern::clip_grad_value(&mut [&mut g], 1.0).unwrap();
    assert_eq!(&g[..5], &[-1.0, -0.5, 0.0, 0.5, 1.0]);
    assert!(g[5].is_nan());
    assert_eq!(g[6], 1.0);
}

#[test]
fn accumulate_is_width_independent_and_correct() {
    for &n in LENGTHS {
        let mut data = Data::new(n as u64);
        let (a0, g) = (data.vec(n, Kind::Signed), data.vec(n, Kind::Grad));
        let mut want = a0.clone();
        optkern::accumulate_with(Width::X1, &mut want, &g, 0.25).unwrap();
        for (i, (w, (a, x))) in want.iter().zip(a0.iter().zip(&g)).enumerate() {
            assert_eq!(w.to_bits(), (a + x * 0.25).to_bits(), "element {i}");
        }
        for width in Width::ALL {
            let mut got = a0.clone();
            optkern::accumulate_with(width, &mut got, &g, 0.25).unwrap();
            assert_same_bits(&got, &want, &format!("accumulate n={n} {width:?}"));
        }
    }
    let mut a = vec![0.0f32; 3];
    assert!(optkern::accumulate(&mut a, &[1.0; 2], 1.0).is_err());
    assert!(optkern::accumulate(&mut a, &[1.0; 3], f32::NAN).is_err());
    assert_eq!(a, [0.0; 3]);
}

#[test]
fn cross_entropy_matches_the_f64_definition() {
    let (b, c) = (13, 6);
    let mut data = Data::new(8);
    let logits: Vec<f32> = data.vec(b * c, Kind::Signed).iter().map(|x| x * 30.0).collect();
    let targets: Vec<i64> =
        (0..b as i64).map(|i| if i == 4 { -100 } else { i % c as i64 }).collect();
    let w: Vec<f32> = (0..c).map(|k| 0.5 + k as f32 * 0.25).collect();
    for ls in [0.0, 0.1] {
        for weight in [None, Some(&w[..])] {
            for reduction in
                [optkern::Reduction::Mean, optkern::Reduction::Sum, optkern::Reduction::None]
            {
                let cfg = optkern::CrossEntropyConfig {
                    reduction,
                    label_smoothing: ls,
                    ignore_index: -100,
                    weight,
                };
                let mut losses = vec![0.0f32; b];
                let mut grad = vec![0.0f32; b * c];
                let loss =
                    optkern::cross_entropy(&logits, &targets, c, &cfg, &mut losses, &mut grad)
                        .unwrap();
                let wv: Vec<f64> =
                    (0..c).map(|k| weight.map_or(1.0, |w| f64::from(w[k]))).collect();
                let (mut total, mut denom) = (0.0, 0.0);
                for (row, &t) in targets.iter().enumerate() {
                    if t == -100 {
                        assert_eq!(losses[row], 0.0);
                        continue;
                    }
                    let x: Vec<f64> =
                        logits[row * c..(row + 1) * c].iter().map(|&v| f64::from(v)).collect();
                    let (nll, smooth, _) = reference::cross_entropy_row(&x, t as usize, &wv);
                    let l = (1.0 - ls) * nll + ls / c as f64 * smooth;
                    assert!((f64::from(losses[row]) - l).abs() <= 1e-6 * l.abs().max(1e-6));
                    total += l;
                    denom += wv[t as usize];
                }
                let want =
                    if reduction == optkern::Reduction::Mean { total / denom } else { total };
                assert!(
                    (f64::from(loss) - want).abs() <= 1e-6 * want.abs(),
                    "{reduction:?} ls={ls}: {loss} vs {want}"
                );
                // The gradient, against central differences of the f64 loss.
                let f = |xs: &[f64]| -> f64 {
                    let mut tot = 0.0;
                    for (row, &t) in targets.iter().enumerate() {
                        if t == -100 {
                            continue;
                        }
                        let (nll, smooth, _) = reference::cross_entropy_row(
                            &xs[row * c..(row + 1) * c],
                            t as usize,
                            &wv,
                        );
                        tot += (1.0 - ls) * nll + ls / c as f64 * smooth;
                    }
                    if reduction == optkern::Reduction::Mean { tot / denom } else { tot }
                };
                let x64: Vec<f64> = logits.iter().map(|&v| f64::from(v)).collect();
                for i in (0..b * c).step_by(5) {
                    let h = 1e-6;
                    let (mut up, mut down) = (x64.clone(), x64.clone());
                    up[i] += h;
                    down[i] -= h;
                    let num = (f(&up) - f(&down)) / (2.0 * h);
                    assert!(
                        (f64::from(grad[i]) - num).abs() <= 1e-5,
                        "grad[{i}] {} vs {num}",
                        grad[i]
                    );
                }
            }
        }
    }
}

#[test]
fn cross_entropy_is_stable_and_checks_its_arguments() {
    let logits = [1e4f32, -1e4, 0.0, 1e4, 1e4, 1e4];
    let mut grad = [0.0f32; 6];
    let loss = optkern::cross_entropy(&logits, &[1, 2], 3, &Default::default(), &mut [], &mut grad)
        .unwrap();
    assert!(loss.is_finite() && grad.iter().all(|g| g.is_finite()));
    let cfg = optkern::CrossEntropyConfig::default();
    let before = bits(&grad);
    assert!(
        optkern::cross_entropy(&logits, &[1, 3], 3, &cfg, &mut [], &mut grad).is_err(),
        "target out of range"
    );
    assert!(
        optkern::cross_entropy(&logits, &[1], 3, &cfg, &mut [], &mut grad).is_err(),
        "logits length"
    );
    assert!(
        optkern::cross_entropy(&logits, &[1, 2], 0, &cfg, &mut [], &mut []).is_err(),
        "zero classes"
    );
    let bad = optkern::CrossEntropyConfig { label_smoothing: 1.5, ..cfg };
    assert!(optkern::cross_entropy(&logits, &[1, 2], 3, &bad, &mut [], &mut grad).is_err());
    assert_eq!(bits(&grad), before, "nothing written on Err");
    // All rows ignored: mean is NaN, as torch.
    let all = optkern::cross_entropy(&logits, &[-100, -100], 3, &cfg, &mut [], &mut []).unwrap();
    assert!(all.is_nan());
    assert_eq!(optkern::correct_predictions(&logits, &[0, 0], 3).unwrap(), 2);
    assert_eq!(optkern::correct_predictions(&[0.0, f32::NAN, 1.0], &[2], 3).unwrap(), 0);
}

/// `correct_predictions` counts the rows whose first largest logit is the target: the argmax
/// anywhere in the row, ties to the first, a row of −∞ predicts class 0, a NaN never counts.
/// The expected predictions come from the definition (the first index equal to the maximum).
#[test]
fn correct_predictions_is_the_first_argmax() {
    let ninf = f32::NEG_INFINITY;
    let rows: [[f32; 4]; 6] = [
        [0.1, 0.5, 2.0, -1.0],
        [3.0, 3.0, 1.0, 0.0],
        [-1.0, 0.0, 0.0, 0.5],
        [ninf, ninf, ninf, ninf],
        [-2.0, -1.0, -3.0, -1.0],
        [1.0, f32::NAN, 9.0, 0.0],
    ];
    let logits: Vec<f32> = rows.iter().flatten().copied().collect();
    let predicted = |r: &[f32; 4]| {
        let max = r.iter().copied().fold(ninf, f32::max);
        r.iter().position(|&v| v == max).unwrap()
    };
    for target in 0..4i64 {
        let targets = [target; 6];
        let want = rows
            .iter()
            .filter(|r| !r.iter().any(|v| v.is_nan()) && predicted(r) as i64 == target)
            .count();
        assert_eq!(optkern::correct_predictions(&logits, &targets, 4).unwrap(), want, "{target}");
    }
    let targets: Vec<i64> = rows.iter().map(|r| predicted(r) as i64).collect();
    assert_eq!(optkern::correct_predictions(&logits, &targets, 4).unwrap(), 5);
}
