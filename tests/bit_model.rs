//! Tier 1b: every kernel equals its f32 bit model bit for bit, on every build.
//!
//! The model (`tests/reference/src/bits.rs`, which does not import optkern) is each kernel's
//! documented operation order written again as a scalar f32 loop: `Portable` without any fused
//! operation, `Torch` fused exactly where its rustdoc says (on builds whose kernels fuse). So
//! the bits of both profiles are derived from the documentation on every leg of the ladder,
//! not only checked against a snapshot (`tests/portable_bits.rs`) or, for `Torch`, against
//! PyTorch on FMA builds (`tests/golden.rs`). Inputs are the hard ones of the width tests:
//! zeros, ±1e4, ±1e-20, subnormals, ×50 parameters.

mod common;
use common::kernels::{Case, cases, nadam_state};
use common::to_reference::ToReference;
use common::*;
use optkern::{Numerics, Width};
use optkern_reference::bits::{self, Ops};

const STEPS: u32 = 4;

/// Runs optkern and the model side by side for `STEPS` steps on `n` elements; every mutable
/// buffer must have the same bits after every step.
fn check(case: &Case, n: usize, seed: u64) {
    let mut data = Data::new(seed);
    let mut ours: Vec<Vec<f32>> = case.muts.iter().map(|&k| data.vec(n, k)).collect();
    let mut model = ours.clone();
    for t in 1..=STEPS {
        let ins: Vec<Vec<f32>> = case.ins.iter().map(|&k| data.vec(n, k)).collect();
        let in_refs: Vec<&[f32]> = ins.iter().map(|b| &b[..]).collect();
        let mut refs: Vec<&mut [f32]> = ours.iter_mut().map(|b| &mut b[..]).collect();
        (case.run)(Width::NATIVE, &mut refs, &in_refs, t).unwrap();
        let mut refs: Vec<&mut [f32]> = model.iter_mut().map(|b| &mut b[..]).collect();
        let model_of = case.model.as_ref().expect("a case with a bit model");
        model_of(case.ops(), &mut refs, &in_refs, t);
        for (k, (a, b)) in ours.iter().zip(&model).enumerate() {
            assert_same_bits(a, b, &format!("{} n={n} step {t} buffer {k}", case.name));
        }
    }
}

#[test]
fn every_kernel_matches_its_bit_model() {
    let mut checked = 0;
    let (with, without): (Vec<Case>, Vec<Case>) =
        cases().into_iter().partition(|c| c.model.is_some());
    // Not skipped silently: the kernels without a model are matched by their packages within a
    // tolerance, so there is no bit-exact order to model (tests/common/kernels.rs, `model`).
    println!(
        "{} cases have no bit model: {:?}",
        without.len(),
        without.iter().map(|c| &c.name).collect::<Vec<_>>()
    );
    for case in with {
        // Below, at and above one chunk, and more than one reduction block (4096).
        for (k, &n) in [1usize, 7, 16, 67, 1000, 4099].iter().enumerate() {
            check(&case, n, 100 + k as u64);
            checked += 1;
        }
    }
    assert!(checked > 300, "only {checked} runs");
}

/// The scalar state torch keeps (NAdam's `mu_product`, ASGD's `η` and `μ`) evolves as the
/// model says, step after step.
#[test]
fn scalar_state_matches_the_bit_model() {
    let n = 33;
    for numerics in [Numerics::Torch, Numerics::Portable] {
        let o =
            Ops { torch: numerics == Numerics::Torch, fused: optkern::FUSED_MUL_ADD, fast: None };
        let mut data = Data::new(7);
        let cfg = optkern::NadamConfig { numerics, momentum_decay: 0.3, ..Default::default() };
        let h = cfg.to_reference();
        let (mut p, mut m, mut v) = (data.vec(n, Kind::Param), vec![0.0; n], vec![0.0; n]);
        let (mut pm, mut mm, mut vm) = (p.clone(), m.clone(), v.clone());
        let mut state = optkern::NadamState::default();
        let mut mp = state.mu_product;
        for t in 1..=20 {
            let g = data.vec(n, Kind::Grad);
            optkern::nadam_step(&mut p, &g, &mut m, &mut v, &mut state, t, &cfg).unwrap();
            mp = bits::nadam(o, &mut pm, &g, &mut mm, &mut vm, mp, t, &h);
            assert_eq!(state.mu_product.to_bits(), mp.to_bits(), "nadam mu_product step {t}");
            assert_same_bits(&p, &pm, &format!("nadam {numerics:?} step {t}"));
        }
        let cfg = optkern::AsgdConfig {
            numerics,
            lambd: 0.05,
            alpha: 0.6,
            t0: 3.0,
            ..Default::default()
        };
        let h = cfg.to_reference();
        let (mut p, mut ax) = (data.vec(n, Kind::Param), vec![0.0; n]);
        let (mut pm, mut axm) = (p.clone(), ax.clone());
        let mut state = optkern::AsgdState::new(cfg.lr);
        let (mut eta, mut mu) = (state.eta, state.mu);
        for t in 1..=20 {
            let g = data.vec(n, Kind::Grad);
            optkern::asgd_step(&mut p, &g, &mut ax, &mut state, t, &cfg).unwrap();
            (eta, mu) = bits::asgd(o, &mut pm, &g, &mut axm, eta, mu, t, &h);
            assert_eq!((state.eta.to_bits(), state.mu.to_bits()), (eta.to_bits(), mu.to_bits()));
            assert_same_bits(&ax, &axm, &format!("asgd ax {numerics:?} step {t}"));
        }
    }
}

/// RAdam at the edge of its rectification: torch takes the rectified step only when
/// `ρ_t > 5`, so at `ρ_t = 5` exactly the step is the un-rectified one. `β₂ =
/// 0.8397685748659791` makes the computed `ρ_6` exactly 5.0 (found by bisection and a search
/// over neighbouring doubles with exact powers; asserted here with the model's own power). Both
/// profiles, plain and prepared, must take the model's (un-rectified) step bit for bit: a `>=`
/// in place of torch's `>` fails here and nowhere else (the mutation run of 2026-12-07).
#[test]
fn radam_at_rho_exactly_five_takes_the_unrectified_step() {
    let (beta2, t) = (0.8397685748659791, 6);
    let b2t = bits::pow(beta2, t);
    let rho_inf = 2.0 / (1.0 - beta2) - 1.0;
    assert_eq!(rho_inf - 2.0 * f64::from(t) * b2t / (1.0 - b2t), 5.0, "the boundary itself");
    let n = 33;
    for numerics in [Numerics::Torch, Numerics::Portable] {
        let o =
            Ops { torch: numerics == Numerics::Torch, fused: optkern::FUSED_MUL_ADD, fast: None };
        let cfg = optkern::RadamConfig { beta2, numerics, ..Default::default() };
        let h = cfg.to_reference();
        let prepared = cfg.prepare(t).unwrap();
        assert_eq!(prepared.rectifier, 0.0, "prepare: ρ_6 = 5 is not rectified");
        let mut data = Data::new(11);
        let (p, g) = (data.vec(n, Kind::Param), data.vec(n, Kind::Grad));
        let (m, v) = (data.vec(n, Kind::Signed), data.vec(n, Kind::NonNeg));
        let (mut pm, mut mm, mut vm) = (p.clone(), m.clone(), v.clone());
        bits::radam(o, &mut pm, &g, &mut mm, &mut vm, t, &h);
        for prepared_form in [false, true] {
            let (mut p, mut m, mut v) = (p.clone(), m.clone(), v.clone());
            if prepared_form {
                optkern::radam_step_prepared(&mut p, &g, &mut m, &mut v, &prepared).unwrap();
            } else {
                optkern::radam_step(&mut p, &g, &mut m, &mut v, t, &cfg).unwrap();
            }
            let what = format!("radam at ρ_t = 5, {numerics:?}, prepared {prepared_form}");
            assert_same_bits(&p, &pm, &what);
        }
    }
}

/// Factored Adafactor on matrices of several shapes.
#[test]
fn factored_adafactor_matches_its_bit_model() {
    for numerics in [Numerics::Torch, Numerics::Portable] {
        let o =
            Ops { torch: numerics == Numerics::Torch, fused: optkern::FUSED_MUL_ADD, fast: None };
        for (name, cfg) in common::kernels::adafactor_configs() {
            let cfg = optkern::AdafactorConfig { numerics, ..cfg };
            let h = cfg.to_reference();
            for (rows, cols) in [(1, 67), (67, 1), (3, 17), (16, 16), (5, 33), (70, 70)] {
                let n = rows * cols;
                let mut data = Data::new(9);
                let mut p = data.vec(n, Kind::Param);
                let (mut row, mut col) = (vec![0.0f32; rows], vec![0.0f32; cols]);
                let (mut pm, mut rowm, mut colm) = (p.clone(), row.clone(), col.clone());
                for t in 1..=STEPS {
                    let g = data.vec(n, Kind::Grad);
                    optkern::adafactor_factored_step(
                        &mut p, &g, &mut row, &mut col, rows, cols, t, &cfg,
                    )
                    .unwrap();
                    bits::adafactor_factored(
                        o, &mut pm, &g, &mut rowm, &mut colm, rows, cols, t, &h,
                    );
                    let what =
                        format!("adafactor_factored/{name}/{numerics:?} {rows}x{cols} step {t}");
                    assert_same_bits(&p, &pm, &what);
                    assert_same_bits(&row, &rowm, &what);
                    assert_same_bits(&col, &colm, &what);
                }
            }
        }
    }
}

/// SparseAdam, duplicates summed in order of appearance (three copies included), bit for bit.
#[test]
fn sparse_adam_matches_its_bit_model() {
    let cfg = optkern::SparseAdamConfig {
        lr: 1e-2,
        maximize: true,
        grad_scale: 0.5,
        ..Default::default()
    };
    let h = cfg.to_reference();
    for &(rows, cols) in common::SPARSE_SHAPES {
        let mut data = Data::new(rows as u64 * 31 + cols as u64);
        let mut p = data.vec(rows * cols, Kind::Param);
        let (mut m, mut v) = (vec![0.0f32; p.len()], vec![0.0f32; p.len()]);
        let (mut pm, mut mm, mut vm) = (p.clone(), m.clone(), v.clone());
        for (t, g) in
            common::sparse_grads(&mut data, rows, cols, 8, 3, Kind::Grad).iter().enumerate()
        {
            let t = t as u32 + 1;
            let mut scratch = vec![0; g.indices.len()];
            optkern::sparse_adam_step(
                &mut p,
                &mut m,
                &mut v,
                rows,
                cols,
                &g.indices,
                &g.values,
                &mut scratch,
                t,
                &cfg,
            )
            .unwrap();
            bits::sparse_adam(&mut pm, &mut mm, &mut vm, cols, &g.indices, &g.values, t, &h);
            let what = format!("sparse_adam {rows}x{cols} step {t}");
            assert_same_bits(&p, &pm, &what);
            assert_same_bits(&m, &mm, &format!("{what} exp_avg"));
            assert_same_bits(&v, &vm, &format!("{what} exp_avg_sq"));
        }
    }
}

/// Muon: the momentum, the transposes, the norm, the quintic through the GEMM's order and
/// the update, bit for bit; in both Newton–Schulz precisions (the golden cases compare bf16
/// with a tolerance that f32 also meets).
#[test]
fn muon_matches_its_bit_model() {
    use optkern::NsPrecision;
    let o = Ops { torch: true, fused: optkern::FUSED_MUL_ADD, fast: None };
    let configs = common::muon_configs().into_iter().flat_map(|(name, cfg)| {
        [NsPrecision::F32, NsPrecision::Bf16]
            .map(|precision| (name, optkern::MuonConfig { precision, ..cfg }))
    });
    for (name, cfg) in configs {
        for &(rows, cols) in common::MUON_SHAPES {
            let h = common::to_reference::muon_reference(&cfg, rows, cols);
            let n = rows * cols;
            let mut data = Data::new(3 + n as u64);
            let mut p = data.vec(n, Kind::Param);
            let mut b = vec![0.0f32; n];
            let (mut pm, mut bm) = (p.clone(), b.clone());
            let mut scratch = vec![0.0f32; optkern::muon_scratch_len(rows, cols)];
            for t in 1..=3 {
                let g = data.vec(n, Kind::Grad);
                optkern::muon_step(&mut p, &g, &mut b, rows, cols, &mut scratch, &cfg).unwrap();
                bits::muon(o, &mut pm, &g, &mut bm, rows, cols, &h);
                let what = format!("muon/{name}/{:?} {rows}x{cols} step {t}", cfg.precision);
                assert_same_bits(&p, &pm, &what);
                assert_same_bits(&b, &bm, &format!("{what} momentum"));
            }
        }
    }
}

/// The model itself: its power is the correctly rounded one on exact dyadic powers, and its
/// blocked sum is order-sensitive (a plain left-to-right sum differs on this input).
#[test]
fn the_models_helpers_are_what_they_claim() {
    for (a, s, t) in [(3u64, 2u32, 7u32), (7, 3, 11), (1_000_001, 20, 2)] {
        let exact = (a as u128).pow(t) as f64 / 2f64.powi((s * t) as i32);
        assert_eq!(bits::pow(a as f64 / 2f64.powi(s as i32), t), exact);
    }
    let terms: Vec<f64> =
        (0..5000).map(|i| if i % 17 == 0 { 1e16 } else { 1.0 + i as f64 }).collect();
    let plain: f64 = terms.iter().sum();
    assert_ne!(bits::blocked_sum(terms.iter().copied()), plain);
    // Its bf16 rounding is `half`'s (nearest, ties to even, overflow to ∞, NaN stays NaN) on a
    // sweep of every exponent with ties, near-ties and the largest finite values.
    let mut patterns: Vec<u32> = (0..=u32::MAX).step_by(65_519).collect();
    for high in (0..=0xFFFFu32).step_by(3) {
        patterns.extend([0x7FFF, 0x8000, 0x8001, 0xFFFF].map(|low| high << 16 | low));
    }
    for x in patterns.into_iter().map(f32::from_bits) {
        let (got, want) = (bits::bf16(x), half::bf16::from_f32(x).to_f32());
        assert!(got.to_bits() == want.to_bits() || got.is_nan() && want.is_nan(), "{x:e}");
    }
    let _ = nadam_state(1);
}
