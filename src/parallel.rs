//! Multi-threaded variants (feature `rayon`): the slices are cut into fixed blocks of
//! [`BLOCK`] elements, independent of the thread count, and each block runs the single-thread
//! kernel. The kernels are element-wise, so the result is bit-identical to the single-thread
//! call (tested), whatever the number of threads. All checks happen before any block runs.

use crate::{AdamConfig, Error, LionConfig, SgdConfig, validate};
use rayon::prelude::*;

/// Elements per parallel block (256 KiB of each buffer): large enough to amortise the task
/// overhead, small enough to balance two to a few dozen cores.
pub const BLOCK: usize = 1 << 16;

/// [`crate::adam_step`] on the rayon thread pool; same arguments, same result bits.
///
/// # Errors
/// As [`crate::adam_step`]; nothing is written on `Err`.
pub fn adam_step(
    params: &mut [f32],
    grads: &[f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    max_exp_avg_sq: &mut [f32],
    step: u32,
    cfg: &AdamConfig,
) -> Result<(), Error> {
    let n = params.len();
    validate::len("grads", n, grads.len())?;
    validate::len("exp_avg", n, exp_avg.len())?;
    validate::len("exp_avg_sq", n, exp_avg_sq.len())?;
    validate::optional_len("max_exp_avg_sq", cfg.amsgrad, n, max_exp_avg_sq.len())?;
    // The config and step, checked by the kernel itself on empty slices.
    crate::adam_step(&mut [], &[], &mut [], &mut [], &mut [], step, cfg)?;
    let blocks = params
        .par_chunks_mut(BLOCK)
        .zip(grads.par_chunks(BLOCK))
        .zip(exp_avg.par_chunks_mut(BLOCK))
        .zip(exp_avg_sq.par_chunks_mut(BLOCK));
    if cfg.amsgrad {
        blocks
            .zip(max_exp_avg_sq.par_chunks_mut(BLOCK))
            .try_for_each(|((((p, g), m), v), vm)| crate::adam_step(p, g, m, v, vm, step, cfg))
    } else {
        blocks.try_for_each(|(((p, g), m), v)| crate::adam_step(p, g, m, v, &mut [], step, cfg))
    }
}

/// [`crate::sgd_step`] on the rayon thread pool; same arguments, same result bits.
///
/// # Errors
/// As [`crate::sgd_step`]; nothing is written on `Err`.
pub fn sgd_step(
    params: &mut [f32],
    grads: &[f32],
    momentum_buffer: &mut [f32],
    step: u32,
    cfg: &SgdConfig,
) -> Result<(), Error> {
    let n = params.len();
    validate::len("grads", n, grads.len())?;
    validate::optional_len("momentum_buffer", cfg.momentum != 0.0, n, momentum_buffer.len())?;
    crate::sgd_step(&mut [], &[], &mut [], step, cfg)?;
    let blocks = params.par_chunks_mut(BLOCK).zip(grads.par_chunks(BLOCK));
    if cfg.momentum != 0.0 {
        blocks
            .zip(momentum_buffer.par_chunks_mut(BLOCK))
            .try_for_each(|((p, g), b)| crate::sgd_step(p, g, b, step, cfg))
    } else {
        blocks.try_for_each(|(p, g)| crate::sgd_step(p, g, &mut [], step, cfg))
    }
}

/// [`crate::lion_step`] on the rayon thread pool; same arguments, same result bits.
///
/// # Errors
/// As [`crate::lion_step`]; nothing is written on `Err`.
pub fn lion_step(
    params: &mut [f32],
    grads: &[f32],
    exp_avg: &mut [f32],
    cfg: &LionConfig,
) -> Result<(), Error> {
    let n = params.len();
    validate::len("grads", n, grads.len())?;
    validate::len("exp_avg", n, exp_avg.len())?;
    crate::lion_step(&mut [], &[], &mut [], cfg)?;
    params
        .par_chunks_mut(BLOCK)
        .zip(grads.par_chunks(BLOCK))
        .zip(exp_avg.par_chunks_mut(BLOCK))
        .try_for_each(|((p, g), m)| crate::lion_step(p, g, m, cfg))
}
