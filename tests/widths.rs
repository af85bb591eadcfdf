//! Tier 1: every kernel gives the same bits at every lane width, slice offset and length
//! (body or tail), over several steps, and never writes outside its slices.

mod common;
use common::kernels::{Case, cases};
use common::*;
use optkern::Width;

/// Runs `case` for `steps` steps at `width` with every buffer at offset `off` inside NaN
/// canaries; returns the final mutable buffers.
fn run_guarded(
    case: &Case,
    width: Width,
    off: usize,
    muts0: &[Vec<f32>],
    ins: &[Vec<Vec<f32>>],
    steps: u32,
) -> Vec<Vec<f32>> {
    let n = muts0[0].len();
    let mut muts: Vec<Vec<f32>> = muts0.iter().map(|b| guarded(b, off)).collect();
    for t in 1..=steps {
        let ins_g: Vec<Vec<f32>> = ins[t as usize - 1].iter().map(|b| guarded(b, off)).collect();
        let in_refs: Vec<&[f32]> = ins_g.iter().map(|b| &b[off..off + n]).collect();
        let mut mut_refs: Vec<&mut [f32]> = muts.iter_mut().map(|b| &mut b[off..off + n]).collect();
        (case.run)(width, &mut mut_refs, &in_refs, t)
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
    }
    for (k, b) in muts.iter().enumerate() {
        assert_canaries(b, off, n, &format!("{} buffer {k} at {width:?}", case.name));
    }
    muts.iter().map(|b| b[off..off + n].to_vec()).collect()
}

/// The tests run every width only because the crate's dev-dependency on itself turns on the
/// `widths` feature; without it `Width::ALL` is the native width alone and every test below
/// would compare a width with itself.
#[test]
fn every_width_is_compiled() {
    assert_eq!(Width::ALL.as_slice(), [Width::X1, Width::X4, Width::X8, Width::X16]);
}

#[test]
fn every_width_offset_and_length_gives_the_same_bits() {
    const STEPS: u32 = 3;
    let mut checked = 0usize;
    for case in cases() {
        for &n in LENGTHS {
            let mut data = Data::new(n as u64 * 7919 + 1);
            let muts0: Vec<Vec<f32>> = case.muts.iter().map(|&k| data.vec(n, k)).collect();
            let ins: Vec<Vec<Vec<f32>>> =
                (0..STEPS).map(|_| case.ins.iter().map(|&k| data.vec(n, k)).collect()).collect();
            let expected = run_guarded(&case, Width::X1, 0, &muts0, &ins, STEPS);
            // The chunking depends on the index, never on the address (lanes are loaded from
            // arrays, unaligned), so widths and offsets are independent: every width at
            // offsets 0 and 1, every offset (a few for large lengths) at the native width.
            let offsets: Vec<usize> = if n > 1000 { vec![0, 1, 7, 15] } else { OFFSETS.collect() };
            let runs = Width::ALL
                .iter()
                .flat_map(|&w| [(w, 0), (w, 1)])
                .chain(offsets.iter().map(|&off| (Width::NATIVE, off)));
            for (width, off) in runs {
                let got = run_guarded(&case, width, off, &muts0, &ins, STEPS);
                for (k, (g, e)) in got.iter().zip(&expected).enumerate() {
                    let what = format!("{} n={n} {width:?} off={off} buffer {k}", case.name);
                    assert_same_bits(g, e, &what);
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 1000, "only {checked} runs");
}

/// Splitting a slice into arbitrary chunks and updating each separately gives the same bits
/// as one call (what a sharded or multi-threaded caller does).
#[test]
fn chunked_calls_equal_one_call() {
    let n = 1000;
    for case in cases().into_iter().filter(|c| c.elementwise) {
        let mut data = Data::new(42);
        let muts0: Vec<Vec<f32>> = case.muts.iter().map(|&k| data.vec(n, k)).collect();
        let ins: Vec<Vec<f32>> = case.ins.iter().map(|&k| data.vec(n, k)).collect();
        let whole = {
            let mut m = muts0.clone();
            let mut refs: Vec<&mut [f32]> = m.iter_mut().map(|b| &mut b[..]).collect();
            let in_refs: Vec<&[f32]> = ins.iter().map(|b| &b[..]).collect();
            (case.run)(Width::NATIVE, &mut refs, &in_refs, 2).unwrap();
            m
        };
        let mut m = muts0.clone();
        let cuts = [0, 3, 4, 100, 101, 333, 640, 999, 1000];
        for w in cuts.windows(2) {
            let (a, b) = (w[0], w[1]);
            let mut refs: Vec<&mut [f32]> = m.iter_mut().map(|buf| &mut buf[a..b]).collect();
            let in_refs: Vec<&[f32]> = ins.iter().map(|buf| &buf[a..b]).collect();
            (case.run)(Width::NATIVE, &mut refs, &in_refs, 2).unwrap();
        }
        for (k, (g, e)) in m.iter().zip(&whole).enumerate() {
            assert_same_bits(g, e, &format!("{} chunked, buffer {k}", case.name));
        }
    }
}

/// A call over buffers larger than the caches (which requests every buffer's lines ahead of
/// use, up to past the last chunk: `src/prefetch.rs`) gives the bits of the same step made in
/// pieces too small to prefetch, for one configuration of every element-wise kernel.
#[test]
fn calls_beyond_the_caches_equal_small_calls() {
    // 300,007 elements: at least 2.4 MB over two buffers, above the 2 MiB from which the
    // driver prefetches; pieces of 4,099 elements are at most 100 KB (and leave tails).
    let (n, piece) = (300_007, 4_099);
    let mut families = std::collections::BTreeSet::new();
    for case in cases().into_iter().filter(|c| c.elementwise) {
        if !families.insert(case.name.split('/').next().unwrap_or_default().to_owned()) {
            continue;
        }
        let mut data = Data::new(7);
        let muts0: Vec<Vec<f32>> = case.muts.iter().map(|&k| data.vec(n, k)).collect();
        let ins: Vec<Vec<f32>> = case.ins.iter().map(|&k| data.vec(n, k)).collect();
        let in_refs: Vec<&[f32]> = ins.iter().map(|b| &b[..]).collect();
        let mut whole = muts0.clone();
        let mut refs: Vec<&mut [f32]> = whole.iter_mut().map(|b| &mut b[..]).collect();
        (case.run)(Width::NATIVE, &mut refs, &in_refs, 2).unwrap();
        let mut pieces = muts0;
        for a in (0..n).step_by(piece) {
            let b = (a + piece).min(n);
            let mut refs: Vec<&mut [f32]> = pieces.iter_mut().map(|buf| &mut buf[a..b]).collect();
            let in_refs: Vec<&[f32]> = ins.iter().map(|buf| &buf[a..b]).collect();
            (case.run)(Width::NATIVE, &mut refs, &in_refs, 2).unwrap();
        }
        for (k, (g, e)) in whole.iter().zip(&pieces).enumerate() {
            assert_same_bits(e, g, &format!("{} n={n}, buffer {k}", case.name));
        }
    }
    assert!(families.len() > 20, "only {} kernels", families.len());
}

/// Factored Adafactor: every width gives the same bits for several matrix shapes (rows of
/// every tail length), and nothing outside the slices is written.
#[test]
fn factored_adafactor_is_width_independent() {
    for (rows, cols) in [(1, 1), (1, 33), (33, 1), (3, 17), (16, 16), (7, 65), (2, 1025)] {
        for numerics in [optkern::Numerics::Torch, optkern::Numerics::Portable] {
            let cfg =
                optkern::AdafactorConfig { weight_decay: 0.01, numerics, ..Default::default() };
            let n = rows * cols;
            let mut data = Data::new(n as u64);
            let (p0, r0, c0) = (
                data.vec(n, Kind::Param),
                data.vec(rows, Kind::NonNeg),
                data.vec(cols, Kind::NonNeg),
            );
            let grads: Vec<Vec<f32>> = (0..3).map(|_| data.vec(n, Kind::Grad)).collect();
            let run = |width: Width, off: usize| {
                let (mut p, mut r, mut c) =
                    (guarded(&p0, off), guarded(&r0, off), guarded(&c0, off));
                for (t, g) in grads.iter().enumerate() {
                    optkern::adafactor_factored_step_with(
                        width,
                        &mut p[off..off + n],
                        g,
                        &mut r[off..off + rows],
                        &mut c[off..off + cols],
                        rows,
                        cols,
                        t as u32 + 1,
                        &cfg,
                    )
                    .unwrap();
                }
                assert_canaries(&p, off, n, "params");
                assert_canaries(&r, off, rows, "row_var");
                assert_canaries(&c, off, cols, "col_var");
                (p[off..off + n].to_vec(), r[off..off + rows].to_vec(), c[off..off + cols].to_vec())
            };
            let want = run(Width::X1, 0);
            for width in Width::ALL {
                for off in [0, 3] {
                    let got = run(width, off);
                    let what = format!("{rows}x{cols} {numerics:?} {width:?} off {off}");
                    assert_same_bits(&got.0, &want.0, &what);
                    assert_same_bits(&got.1, &want.1, &what);
                    assert_same_bits(&got.2, &want.2, &what);
                }
            }
        }
    }
}

/// SparseAdam: every width and offset gives the same bits; so does a row shard (the matrix cut
/// into two row blocks, each updated by its own call with its rows' share of the gradient), and
/// any order of the gradient's rows when no row has three copies. Canaries stay intact.
#[test]
fn sparse_adam_is_width_shard_and_order_independent() {
    let cfg = optkern::SparseAdamConfig { lr: 1e-2, ..Default::default() };
    for &(rows, cols) in SPARSE_SHAPES {
        let n = rows * cols;
        let mut data = Data::new(n as u64 + 7);
        let p0 = data.vec(n, Kind::Param);
        let grads = sparse_grads(&mut data, rows, cols, 4, 2, Kind::Grad);
        // One call per step on the buffers at `off`, at `width`.
        let run = |width: Width, off: usize, grads: &[SparseGrad]| {
            let (mut p, mut m, mut v) =
                (guarded(&p0, off), guarded(&vec![0.0; n], off), guarded(&vec![0.0; n], off));
            for (t, g) in grads.iter().enumerate() {
                let mut scratch = vec![0; g.indices.len()];
                optkern::sparse_adam_step_with(
                    width,
                    &mut p[off..off + n],
                    &mut m[off..off + n],
                    &mut v[off..off + n],
                    rows,
                    cols,
                    &g.indices,
                    &g.values,
                    &mut scratch,
                    t as u32 + 1,
                    &cfg,
                )
                .unwrap();
            }
            for (b, what) in [(&p, "params"), (&m, "exp_avg"), (&v, "exp_avg_sq")] {
                assert_canaries(b, off, n, what);
            }
            [&p, &m, &v].map(|b| b[off..off + n].to_vec())
        };
        let want = run(Width::X1, 0, &grads);
        for width in Width::ALL {
            for off in [0, 1, 5] {
                let got = run(width, off, &grads);
                for k in 0..3 {
                    assert_same_bits(
                        &got[k],
                        &want[k],
                        &format!("{rows}x{cols} {width:?} off {off}"),
                    );
                }
            }
        }
        // Reversed row order (at most two copies of a row: their sum is commutative).
        let reversed: Vec<SparseGrad> = grads
            .iter()
            .map(|g| {
                let order: Vec<usize> = (0..g.indices.len()).rev().collect();
                SparseGrad {
                    indices: order.iter().map(|&j| g.indices[j]).collect(),
                    values: order
                        .iter()
                        .flat_map(|&j| g.values[j * cols..(j + 1) * cols].to_vec())
                        .collect(),
                }
            })
            .collect();
        let got = run(Width::NATIVE, 0, &reversed);
        for k in 0..3 {
            assert_same_bits(&got[k], &want[k], &format!("{rows}x{cols} reversed rows"));
        }
        // Row shards: rows [0, cut) and [cut, rows), each its own call on its sub-matrix.
        let cut = rows / 2;
        let (mut p, mut m, mut v) = (p0.clone(), vec![0.0; n], vec![0.0; n]);
        for (t, g) in grads.iter().enumerate() {
            for (lo, hi) in [(0, cut), (cut, rows)] {
                let picked: Vec<usize> =
                    (0..g.indices.len()).filter(|&j| (lo..hi).contains(&g.indices[j])).collect();
                let indices: Vec<usize> = picked.iter().map(|&j| g.indices[j] - lo).collect();
                let values: Vec<f32> = picked
                    .iter()
                    .flat_map(|&j| g.values[j * cols..(j + 1) * cols].to_vec())
                    .collect();
                let r = lo * cols..hi * cols;
                optkern::sparse_adam_step(
                    &mut p[r.clone()],
                    &mut m[r.clone()],
                    &mut v[r],
                    hi - lo,
                    cols,
                    &indices,
                    &values,
                    &mut vec![0; indices.len()],
                    t as u32 + 1,
                    &cfg,
                )
                .unwrap();
            }
        }
        for (k, b) in [p, m, v].iter().enumerate() {
            assert_same_bits(b, &want[k], &format!("{rows}x{cols} row shards, buffer {k}"));
        }
    }
}

/// Muon: every width and buffer offset gives the same bits (the products are the GEMM's
/// width-independent order, the norm a fixed-order f64 sum); canaries intact.
#[test]
fn muon_is_width_independent() {
    for (name, cfg) in muon_configs() {
        for &(rows, cols) in MUON_SHAPES {
            let n = rows * cols;
            let mut data = Data::new(n as u64 + 1);
            let p0 = data.vec(n, Kind::Param);
            let grads: Vec<Vec<f32>> = (0..3).map(|_| data.vec(n, Kind::Grad)).collect();
            let run = |width: Width, off: usize| {
                let (mut p, mut b) = (guarded(&p0, off), guarded(&vec![0.0; n], off));
                let mut scratch = vec![f32::NAN; optkern::muon_scratch_len(rows, cols)];
                for g in &grads {
                    optkern::muon_step_with(
                        width,
                        &mut p[off..off + n],
                        g,
                        &mut b[off..off + n],
                        rows,
                        cols,
                        &mut scratch,
                        &cfg,
                    )
                    .unwrap();
                }
                assert_canaries(&p, off, n, "params");
                assert_canaries(&b, off, n, "momentum_buffer");
                (p[off..off + n].to_vec(), b[off..off + n].to_vec())
            };
            let want = run(Width::X1, 0);
            for width in Width::ALL {
                for off in [0, 3] {
                    let got = run(width, off);
                    let what = format!("muon/{name} {rows}x{cols} {width:?} off {off}");
                    assert_same_bits(&got.0, &want.0, &what);
                    assert_same_bits(&got.1, &want.1, &what);
                }
            }
        }
    }
}

/// `Numerics::Torchao` (Adam/AdamW only, no bit model in the catalogue: the golden
/// `optimizer_lowbit_torchao` case pins its bits on FMA builds) gives the same bits at every
/// width and for every split into two calls, with and without decoupled decay, over 3 steps.
#[test]
fn torchao_adam_is_width_and_chunk_independent() {
    let n = 1031;
    let mut data = Data::new(77);
    let start = [data.vec(n, Kind::Param), data.vec(n, Kind::Signed), data.vec(n, Kind::NonNeg)];
    let grads: Vec<Vec<f32>> = (0..3).map(|_| data.vec(n, Kind::Grad)).collect();
    for decoupled in [true, false] {
        let cfg = optkern::AdamConfig {
            weight_decay: 0.01,
            decoupled_weight_decay: decoupled,
            numerics: optkern::Numerics::Torchao,
            ..Default::default()
        };
        let run = |width: Width, cut: usize| {
            let mut b = start.clone();
            for (t, g) in grads.iter().enumerate() {
                let [p, m, v] = &mut b;
                for r in [0..cut, cut..n] {
                    let (p, m, v) = (&mut p[r.clone()], &mut m[r.clone()], &mut v[r.clone()]);
                    optkern::adam_step_with(width, p, &g[r], m, v, &mut [], t as u32 + 1, &cfg)
                        .unwrap();
                }
            }
            b
        };
        let want = run(Width::X1, 0);
        assert_ne!(want[0], start[0], "the parameters moved");
        for width in Width::ALL {
            for cut in [0, 1, 17, 640, n] {
                let got = run(width, cut);
                for k in 0..3 {
                    assert_same_bits(&got[k], &want[k], &format!("{width:?} cut {cut} buffer {k}"));
                }
            }
        }
    }
}

/// `Numerics::Torchao` multiplies the gradient by `grad_scale` before anything else: a step with
/// `grad_scale = 0.5` gives the bits of a step with `grad_scale = 1` on `0.5·g` (the same f32
/// product), both decay forms, 3 steps. (A full mutation run of adam.rs found `g·scale` → `g/scale`
/// in its lane body surviving: no other test gives this profile a scale ∉ {±1}.)
#[test]
fn torchao_adam_grad_scale_multiplies_the_gradient() {
    let n = 300;
    let mut data = Data::new(78);
    let start = [data.vec(n, Kind::Param), data.vec(n, Kind::Signed), data.vec(n, Kind::NonNeg)];
    let grads: Vec<Vec<f32>> = (0..3).map(|_| data.vec(n, Kind::Grad)).collect();
    for decoupled in [true, false] {
        let run = |grad_scale: f32, pre: f32| {
            let cfg = optkern::AdamConfig {
                weight_decay: 0.01,
                decoupled_weight_decay: decoupled,
                grad_scale,
                numerics: optkern::Numerics::Torchao,
                ..Default::default()
            };
            let mut b = start.clone();
            for (t, g) in grads.iter().enumerate() {
                let g: Vec<f32> = g.iter().map(|&x| x * pre).collect();
                let [p, m, v] = &mut b;
                optkern::adam_step(p, &g, m, v, &mut [], t as u32 + 1, &cfg).unwrap();
            }
            b
        };
        let (want, got) = (run(1.0, 0.5), run(0.5, 1.0));
        assert_ne!(want[1], run(1.0, 1.0)[1], "the scale changes the first moment");
        for k in 0..3 {
            assert_same_bits(&got[k], &want[k], &format!("decoupled {decoupled} buffer {k}"));
        }
    }
}

/// `adam_step_prepared` is `adam_step` with the corrections computed once: the same bits in
/// every buffer for every profile (Torchao and bitsandbytes included, which the kernel cases
/// leave out), option and step — the edges of `pow_step2`'s tables and the largest step too.
#[test]
fn prepared_adam_equals_adam_step() {
    use optkern::{AdamConfig, Numerics};
    let n = 77;
    let mut data = Data::new(79);
    let start = [
        data.vec(n, Kind::Param),
        data.vec(n, Kind::Signed),
        data.vec(n, Kind::NonNeg),
        data.vec(n, Kind::NonNeg),
    ];
    let g = data.vec(n, Kind::Grad);
    let d = AdamConfig { lr: 1e-2, weight_decay: 0.01, grad_scale: 0.75, ..Default::default() };
    let mut configs = Vec::new();
    for numerics in [Numerics::Torch, Numerics::Portable, Numerics::Fast] {
        for (amsgrad, eps_hat, decoupled, maximize) in
            [(false, false, false, false), (true, false, true, true), (false, true, true, false)]
        {
            configs.push(AdamConfig {
                amsgrad,
                eps_hat,
                decoupled_weight_decay: decoupled,
                maximize,
                numerics,
                ..d
            });
        }
    }
    configs.push(AdamConfig { numerics: Numerics::Torchao, ..d });
    let bnb = Numerics::Bitsandbytes;
    configs.push(AdamConfig { numerics: bnb, decoupled_weight_decay: true, ..d });
    let mut compared = 0;
    for cfg in configs {
        for step in [1, 2, 3, 999, 4095, 4096, 65535, 65536, 1_000_000, u32::MAX] {
            let run = |prepared: bool| {
                let mut b = start.clone();
                let [p, m, v, vmax] = &mut b;
                let vmax = if cfg.amsgrad { &mut vmax[..] } else { &mut [][..] };
                if prepared {
                    let k = cfg.prepare(step).unwrap();
                    assert_eq!((k.cfg, k.step), (cfg, step));
                    optkern::adam_step_prepared(p, &g, m, v, vmax, &k).unwrap();
                } else {
                    optkern::adam_step(p, &g, m, v, vmax, step, &cfg).unwrap();
                }
                b
            };
            let (want, got) = (run(false), run(true));
            assert_ne!(want[0], start[0], "the step moves the parameters");
            for k in 0..4 {
                let what = format!("{:?} step {step} buffer {k}", cfg.numerics);
                assert_same_bits(&got[k], &want[k], &what);
            }
            compared += 1;
        }
    }
    assert_eq!(compared, 110);
}

/// `nadam_step_prepared` is `nadam_step` with the powers computed once: the same bits in every
/// buffer and in `state.mu_product`, for every profile, option and step (the edges of
/// `pow_step2`'s tables and the largest step), and along a run of steps carrying the state.
#[test]
fn prepared_nadam_equals_nadam_step() {
    use optkern::{NadamConfig, NadamState, Numerics};
    let n = 77;
    let mut data = Data::new(83);
    let start = [data.vec(n, Kind::Param), data.vec(n, Kind::Signed), data.vec(n, Kind::NonNeg)];
    let g = data.vec(n, Kind::Grad);
    let d = NadamConfig { lr: 1e-2, weight_decay: 0.01, grad_scale: 0.75, ..Default::default() };
    let mut configs = Vec::new();
    for numerics in [Numerics::Torch, Numerics::Portable, Numerics::Fast] {
        for (decoupled, maximize, momentum_decay) in
            [(false, false, 4e-3), (true, true, 4e-3), (false, true, 0.25)]
        {
            let o = NadamConfig {
                decoupled_weight_decay: decoupled,
                maximize,
                momentum_decay,
                numerics,
                ..d
            };
            configs.push(o);
        }
    }
    let mut compared = 0;
    for cfg in configs {
        let run = |prepared: bool, steps: &[u32], mu_product: f32| {
            let mut b = start.clone();
            let mut state = NadamState { mu_product };
            for &step in steps {
                let [p, m, v] = &mut b;
                if prepared {
                    let k = cfg.prepare(step).unwrap();
                    assert_eq!((k.cfg, k.step), (cfg, step));
                    optkern::nadam_step_prepared(p, &g, m, v, &mut state, &k).unwrap();
                } else {
                    optkern::nadam_step(p, &g, m, v, &mut state, step, &cfg).unwrap();
                }
            }
            (b, state.mu_product)
        };
        let runs: [(&[u32], f32); 11] = [
            (&[1, 2, 3, 4, 5], 1.0),
            (&[1], 1.0),
            (&[2], 0.9),
            (&[999], 0.5),
            (&[4095], 0.25),
            (&[4096], 0.25),
            (&[65535], 1e-3),
            (&[65536], 1e-3),
            (&[1_000_000], 0.0),
            (&[u32::MAX - 1], 0.0),
            (&[u32::MAX], 0.0),
        ];
        for (steps, mu_product) in runs {
            let ((want, want_mp), (got, got_mp)) =
                (run(false, steps, mu_product), run(true, steps, mu_product));
            assert_ne!(want[0], start[0], "the step moves the parameters");
            let what = format!("{:?} steps {steps:?}", cfg.numerics);
            assert_eq!(got_mp.to_bits(), want_mp.to_bits(), "{what}: mu_product");
            for k in 0..3 {
                assert_same_bits(&got[k], &want[k], &format!("{what} buffer {k}"));
            }
            compared += 1;
        }
    }
    assert_eq!(compared, 99);
}

/// `radam_step_prepared` is `radam_step` with the corrections computed once: the same bits in
/// every buffer for every profile, option and step — un-rectified and rectified, the edges of
/// `pow_step2`'s tables and the largest step.
#[test]
fn prepared_radam_equals_radam_step() {
    use optkern::{Numerics, RadamConfig};
    let n = 77;
    let mut data = Data::new(89);
    let start = [data.vec(n, Kind::Param), data.vec(n, Kind::Signed), data.vec(n, Kind::NonNeg)];
    let g = data.vec(n, Kind::Grad);
    let d = RadamConfig { lr: 1e-2, weight_decay: 0.01, grad_scale: 0.75, ..Default::default() };
    let mut compared = 0;
    for numerics in [Numerics::Torch, Numerics::Portable, Numerics::Fast] {
        for (decoupled, maximize, beta2) in
            [(false, false, 0.999), (true, true, 0.9), (false, true, 0.5)]
        {
            let cfg =
                RadamConfig { decoupled_weight_decay: decoupled, maximize, beta2, numerics, ..d };
            for step in [1, 2, 5, 6, 7, 999, 4095, 4096, 65535, 65536, 1_000_000, u32::MAX] {
                let run = |prepared: bool| {
                    let mut b = start.clone();
                    let [p, m, v] = &mut b;
                    if prepared {
                        let k = cfg.prepare(step).unwrap();
                        assert_eq!((k.cfg, k.step), (cfg, step));
                        optkern::radam_step_prepared(p, &g, m, v, &k).unwrap();
                    } else {
                        optkern::radam_step(p, &g, m, v, step, &cfg).unwrap();
                    }
                    b
                };
                let (want, got) = (run(false), run(true));
                assert_ne!(want[0], start[0], "the step moves the parameters");
                for k in 0..3 {
                    let what = format!("{numerics:?} β₂ {beta2} step {step} buffer {k}");
                    assert_same_bits(&got[k], &want[k], &what);
                }
                compared += 1;
            }
        }
    }
    assert_eq!(compared, 108);
}
