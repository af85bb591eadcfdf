//! Every kernel runs on a small thread stack, in debug builds too.
//!
//! In unoptimised builds every inlined copy of a loop keeps its own stack slots; when the chunk
//! loop was always inlined, Adam's dispatch to a few hundred monomorphised loops gave
//! `adam_step_with` a 1.9 MiB frame, which overflowed Rust's default 2 MiB thread stack.

mod common;
use common::kernels::cases;
use common::{Data, LENGTHS};
use optkern::Width;

/// Small enough to catch a regression (a frame of hundreds of KiB), large enough for the test
/// harness's own frames.
const STACK: usize = 256 * 1024;

#[test]
fn every_kernel_runs_on_a_256_kib_stack() {
    let calls = std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(|| {
            let mut calls = 0usize;
            for case in cases() {
                let n = LENGTHS[LENGTHS.len() - 1];
                let mut data = Data::new(n as u64);
                let mut muts: Vec<Vec<f32>> = case.muts.iter().map(|&k| data.vec(n, k)).collect();
                let ins: Vec<Vec<f32>> = case.ins.iter().map(|&k| data.vec(n, k)).collect();
                let mut mut_refs: Vec<&mut [f32]> = muts.iter_mut().map(|b| &mut b[..]).collect();
                let in_refs: Vec<&[f32]> = ins.iter().map(|b| &b[..]).collect();
                for width in Width::ALL {
                    calls += usize::from((case.run)(width, &mut mut_refs, &in_refs, 2).is_ok());
                }
            }
            // SparseAdam (a 1 KiB block for duplicated rows).
            let (rows, cols) = (64, 1000);
            let mut data = Data::new(1);
            let g = &common::sparse_grads(&mut data, rows, cols, 1, 3, common::Kind::Grad)[0];
            let mut p = vec![0.5f32; rows * cols];
            let (mut m, mut v) = (vec![0.0f32; rows * cols], vec![0.0f32; rows * cols]);
            for width in Width::ALL {
                let r = optkern::sparse_adam_step_with(
                    width,
                    &mut p,
                    &mut m,
                    &mut v,
                    rows,
                    cols,
                    &g.indices,
                    &g.values,
                    &mut vec![0; g.indices.len()],
                    1,
                    &optkern::SparseAdamConfig::default(),
                );
                calls += usize::from(r.is_ok());
            }
            calls
        })
        .expect("spawn")
        .join()
        .expect("no kernel overflows a 256 KiB stack");
    assert!(calls > 100, "{calls} successful calls");
}
