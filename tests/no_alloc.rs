//! No kernel allocates: a counting global allocator (per thread, so the test harness's own
//! allocations on other threads do not count) stays at zero across every kernel call.

mod common;
use common::kernels::cases;
use common::{Data, LENGTHS};
use optkern::Width;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn kernels_never_allocate() {
    let cases = cases();
    let mut calls = 0;
    for case in &cases {
        for &n in LENGTHS {
            let mut data = Data::new(n as u64);
            let mut muts: Vec<Vec<f32>> = case.muts.iter().map(|&k| data.vec(n, k)).collect();
            let ins: Vec<Vec<f32>> = case.ins.iter().map(|&k| data.vec(n, k)).collect();
            let mut mut_refs: Vec<&mut [f32]> = muts.iter_mut().map(|b| &mut b[..]).collect();
            let in_refs: Vec<&[f32]> = ins.iter().map(|b| &b[..]).collect();
            let before = allocations();
            for width in Width::ALL {
                for step in 1..=2 {
                    let ok = (case.run)(width, &mut mut_refs, &in_refs, step).is_ok();
                    calls += usize::from(ok);
                }
            }
            let after = allocations();
            assert_eq!(after, before, "{} (n = {n}) allocated {} times", case.name, after - before);
        }
    }
    assert!(calls > 1000);
    // SparseAdam (its coalescing sorts the caller's scratch in place).
    for &(rows, cols) in common::SPARSE_SHAPES {
        let mut data = Data::new(5);
        let grads = common::sparse_grads(&mut data, rows, cols, 3, 3, common::Kind::Grad);
        let mut p = data.vec(rows * cols, common::Kind::Param);
        let (mut m, mut v) = (vec![0.0f32; p.len()], vec![0.0f32; p.len()]);
        let mut scratch = vec![0usize; rows * 3];
        let before = allocations();
        for (t, g) in grads.iter().enumerate() {
            optkern::sparse_adam_step(
                &mut p,
                &mut m,
                &mut v,
                rows,
                cols,
                &g.indices,
                &g.values,
                &mut scratch,
                t as u32 + 1,
                &optkern::SparseAdamConfig::default(),
            )
            .unwrap();
        }
        assert_eq!(allocations(), before, "sparse_adam {rows}x{cols} allocated");
    }
    // The mixed-format path (bf16 gradients and copy, q8 and stochastic bf16 states).
    use optkern::format::{
        self, Grads, HalfCopy, Params, Placement, Q8Map, Quantizer, Rounding, State, bf16,
    };
    let mut mixed_calls = 0;
    for case in cases.iter().filter(|c| c.mixed.is_some()) {
        let n = 1000;
        let states = case.muts.len() - 1;
        let (mut p, g) = (vec![0.5f32; n], vec![bf16::from_f32(0.1); n]);
        let mut copy = vec![bf16::ZERO; n];
        let mut codes = vec![vec![0u8; n]; states];
        let mut absmax = vec![vec![0.0f32; n.div_ceil(format::Q8_BLOCK)]; states];
        let mut halves = vec![vec![bf16::ZERO; n]; states];
        for t in 1..=2 {
            let state_list: Vec<State> = codes
                .iter_mut()
                .zip(absmax.iter_mut())
                .zip(halves.iter_mut())
                .enumerate()
                .map(|(k, ((c, a), h))| {
                    if k % 2 == 0 {
                        State::Q8 {
                            codes: c,
                            absmax: a,
                            map: Q8Map::Signed,
                            quantizer: Quantizer::BnbCpu,
                        }
                    } else {
                        State::Bf16 { values: h, rounding: Rounding::Stochastic }
                    }
                })
                .collect();
            let params = Params::F32WithCopy { master: &mut p, copy: HalfCopy::Bf16(&mut copy) };
            let at = Placement { offset: 0, seed: 3, counter: t };
            let before = allocations();
            let ok = (case.mixed.as_ref().unwrap())(
                Width::NATIVE,
                params,
                Grads::Bf16(&g),
                state_list,
                t as u32,
                &at,
            );
            let after = allocations();
            assert_eq!(after, before, "{} mixed allocated", case.name);
            mixed_calls += usize::from(ok.is_ok());
        }
    }
    assert!(mixed_calls > 100, "{mixed_calls}");
    // The training utilities too.
    let mut data = Data::new(5);
    let (mut g, mut acc) = (data.vec(4099, common::Kind::Grad), vec![0.0f32; 4099]);
    let logits = data.vec(40 * 7, common::Kind::Signed);
    let targets: Vec<i64> = (0..40).map(|i| i % 7).collect();
    let (mut losses, mut grad) = (vec![0.0f32; 40], vec![0.0f32; 280]);
    let w = [1.0f32; 7];
    let parts: [&dyn optkern::Schedule; 1] =
        [&optkern::train::schedule::Cosine::new(0.1, 10, 0.0).unwrap()];
    let before = allocations();
    for norm in [
        optkern::NormType::L1,
        optkern::NormType::L2,
        optkern::NormType::Inf,
        optkern::NormType::P(3.0),
    ] {
        optkern::grad_norm(&[&g], norm).unwrap();
        optkern::clip_coef(&[&g[..100], &g[100..]], 1.0, norm).unwrap();
    }
    optkern::clip_grad_norm(&mut [&mut g], 1.0, optkern::NormType::L2).unwrap();
    optkern::clip_grad_value(&mut [&mut g], 0.1).unwrap();
    optkern::unscale(&mut [&mut g], 0.5).unwrap();
    optkern::accumulate(&mut acc, &g, 0.5).unwrap();
    let cfg = optkern::CrossEntropyConfig {
        label_smoothing: 0.1,
        weight: Some(&w),
        ..Default::default()
    };
    optkern::cross_entropy(&logits, &targets, 7, &cfg, &mut losses, &mut grad).unwrap();
    optkern::correct_predictions(&logits, &targets, 7).unwrap();
    let seq = optkern::train::schedule::Sequential::new(&parts, &[]).unwrap();
    let _ = (0..100).map(|t| optkern::Schedule::lr(&seq, t)).sum::<f64>();
    assert_eq!(allocations(), before, "a training utility allocated");
    // And the initializers.
    use rand_core::SeedableRng;
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(1);
    let mut w = vec![0.0f32; 64 * 48];
    let mut scratch = vec![0.0f64; optkern::orthogonal_scratch_len(64, 48)];
    let mut idx = vec![0u32; 1000];
    let before = allocations();
    optkern::xavier_uniform(&mut w, &[64, 48], 1.0, &mut rng).unwrap();
    optkern::kaiming_normal(
        &mut w,
        &[64, 48],
        optkern::FanMode::FanIn,
        optkern::Nonlinearity::Relu,
        &mut rng,
    )
    .unwrap();
    optkern::lecun_normal(&mut w, &[64, 48], &mut rng).unwrap();
    optkern::sparse(&mut w, 64, 48, 0.5, 0.01, &mut rng).unwrap();
    optkern::orthogonal(&mut w, 64, 48, 1.0, &mut scratch, &mut rng).unwrap();
    optkern::iota(&mut idx);
    optkern::shuffle(&mut idx, &mut rng).unwrap();
    assert_eq!(optkern::minibatches(&idx, 32, false).count(), 32);
    assert_eq!(allocations(), before, "an initializer allocated");
    // The counter itself works.
    let before = allocations();
    let v = std::hint::black_box(vec![1u8; 10]);
    drop(v);
    assert!(allocations() > before, "the counting allocator does not count");
}
