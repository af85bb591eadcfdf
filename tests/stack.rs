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
            calls
        })
        .expect("spawn")
        .join()
        .expect("no kernel overflows a 256 KiB stack");
    assert!(calls > 100, "{calls} successful calls");
}
