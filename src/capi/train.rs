//! C functions for the training utilities: norms and clipping over lists of buffers, the
//! non-finite check, unscaling and the loss scale, accumulation, cross-entropy, and the
//! learning-rate schedules.

use super::{ErrorInfo, Fail, Raw, Status, buffers, ffi, out, out_ok, slice, slice_mut};
use crate::train::grad::{Clip, clip_value_with, scale_with, total_norm};
use crate::train::schedule::*;
use crate::{LossScale, NormType, Width, validate};
use Status as S;

/// Checks a list of `count` buffers (`ptrs[i]`, `lens[i]` elements each): the arrays, every
/// buffer, and (if `written`) that no two overlap. No allocation: O(count²) pairwise checks.
///
/// # Safety
/// `ptrs` and `lens` are NULL or valid for `count` reads.
unsafe fn check_list(
    ptrs: *const *const f32,
    lens: *const usize,
    count: usize,
    written: bool,
) -> Result<(), Fail> {
    let p = Raw::new(ptrs, count, false, "grads")?;
    let l = Raw::new(lens, count, false, "lens")?;
    // SAFETY: both arrays were checked for NULL, alignment and size.
    let (ptrs, lens) = unsafe { (slice::<*const f32>(p), slice::<usize>(l)) };
    for (i, (&ptr, &len)) in ptrs.iter().zip(lens).enumerate() {
        let a = Raw::new(ptr, len, written, "grads")?;
        for (&q, &n) in ptrs.iter().zip(lens).take(i) {
            super::no_overlap(&[a, Raw::new(q, n, written, "grads")?])?;
        }
    }
    Ok(())
}

/// The i-th buffer of a checked list.
///
/// # Safety
/// The list passed [`check_list`].
unsafe fn item<'a>(ptrs: *const *const f32, lens: *const usize, i: usize) -> &'a [f32] {
    // SAFETY: checked by `check_list`.
    unsafe { Raw::new(*ptrs.add(i), *lens.add(i), false, "grads").map_or(&[], |r| slice(r)) }
}

fn norm_type(kind: u32, p: f64) -> Result<NormType, Fail> {
    let norm = match kind {
        0 => NormType::L2,
        1 => NormType::L1,
        2 => NormType::Inf,
        3 => NormType::P(p),
        _ => {
            return Err(super::bad_enum(
                S::InvalidHyperparameter,
                "norm_kind",
                kind,
                c"is not 0 (L2), 1 (L1), 2 (inf) or 3 (p)",
            ));
        }
    };
    if let NormType::P(p) = norm {
        validate::finite("p", p)?;
        if p <= 0.0 {
            return Err(Fail::new(S::InvalidHyperparameter, "p", c"is not positive").value(p));
        }
    }
    Ok(norm)
}

/// [`crate::grad_norm`] over `count` buffers: `norm_kind` 0 = L2, 1 = L1, 2 = L∞, 3 = `p`-norm.
/// The f32 total goes to `*total_norm`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_grad_norm(
    grads: *const *const f32,
    lens: *const usize,
    count: usize,
    norm_kind: u32,
    p: f64,
    total_norm_out: *mut f32,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "", || {
        let norm = norm_type(norm_kind, p)?;
        out_ok(total_norm_out, "total_norm_out")?;
        // SAFETY: the list is checked before any read; the out-pointer was checked.
        unsafe {
            check_list(grads, lens, count, false)?;
            let total = total_norm((0..count).map(|i| item(grads, lens, i)), norm);
            out(total_norm_out, "total_norm_out", total as f32)
        }
    })
}

/// [`crate::norm_partials_len`]: the partials a shard of `shard_len` elements has (one per
/// 4096-element block).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_norm_partials_len(shard_len: usize) -> usize {
    crate::norm_partials_len(shard_len)
}

/// `OPTKERN_STATUS_INVALID_LENGTH` for the length argument `name` of a partials buffer unless
/// it is `optkern_norm_partials_len(len)` (checked here: in Rust a wrong length is a
/// `LengthMismatch`, which the C API reports as a NULL optional buffer).
pub(crate) fn partials_len_ok(name: &'static str, given: usize, len: usize) -> Result<(), Fail> {
    if given == crate::norm_partials_len(len) {
        Ok(())
    } else {
        let why = c"is not optkern_norm_partials_len(len)";
        Err(Fail::new(S::InvalidLength, name, why).value(given as f64))
    }
}

/// A partials buffer a shard pass writes: its pointer and length, and both arguments' names.
pub(crate) struct PartialsOut {
    pub(crate) ptr: *mut f64,
    pub(crate) len: usize,
    pub(crate) name: &'static str,
    pub(crate) len_name: &'static str,
}

/// The two partials buffers of a split step's first pass over a shard of `len` elements
/// (LAMB, LARS, Adafactor): each checked as a buffer (NULL, alignment, size), then for overlap
/// with the other and with the call's `buffers`, then for its length ([`partials_len_ok`]).
pub(crate) fn partials_pair(
    buffers: &[Raw],
    len: usize,
    a: PartialsOut,
    b: PartialsOut,
) -> Result<[Raw; 2], Fail> {
    let ra = Raw::new(a.ptr.cast_const(), a.len, true, a.name)?;
    let rb = Raw::new(b.ptr.cast_const(), b.len, true, b.name)?;
    for &buffer in buffers {
        super::no_overlap(&[buffer, ra, rb])?;
    }
    super::no_overlap(&[ra, rb])?;
    partials_len_ok(a.len_name, a.len, len)?;
    partials_len_ok(b.len_name, b.len, len)?;
    Ok([ra, rb])
}

/// [`crate::grad_norm_partials`]: `shard` holds elements `[start, start + len)` of a buffer of
/// `total_len`; writes `partials_len = optkern_norm_partials_len(len)` partials (else
/// `OPTKERN_STATUS_INVALID_LENGTH`). `OPTKERN_STATUS_SHARD_BOUNDARY` unless `start` is a
/// multiple of 4096 and the end is too or is `total_len`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_grad_norm_partials(
    shard: *const f32,
    len: usize,
    start: usize,
    total_len: usize,
    norm_kind: u32,
    p: f64,
    partials: *mut f64,
    partials_len: usize,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "", || {
        let norm = norm_type(norm_kind, p)?;
        let x = Raw::new(shard, len, false, "shard")?;
        let out_raw = Raw::new(partials.cast_const(), partials_len, true, "partials")?;
        super::no_overlap(&[out_raw, x])?;
        partials_len_ok("partials_len", partials_len, len)?;
        // SAFETY: both buffers were checked (NULL, alignment, size) and do not overlap.
        let (x, out_slice) = unsafe { (slice(x), slice_mut(out_raw)) };
        Ok(crate::grad_norm_partials(x, start, total_len, norm, out_slice)?)
    })
}

/// [`crate::combine_norm`]: the norm of the whole buffer from the `count` partials of all its
/// shards, in global order; the f64 norm goes to `*total_norm_out`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_combine_norm(
    partials: *const f64,
    count: usize,
    norm_kind: u32,
    p: f64,
    total_norm_out: *mut f64,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "", || {
        let norm = norm_type(norm_kind, p)?;
        let parts = Raw::new(partials, count, false, "partials")?;
        out_ok(total_norm_out, "total_norm_out")?;
        // SAFETY: the buffer was checked; the out-pointer was checked.
        unsafe {
            let total = crate::combine_norm(slice(parts), norm)?;
            out(total_norm_out, "total_norm_out", total)
        }
    })
}

/// [`crate::clip_coef_from_partials`]: torch's clipping coefficient from the partials of the
/// whole buffer; writes the f32 total norm and the coefficient (a step's `grad_scale`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_clip_coef_from_partials(
    partials: *const f64,
    count: usize,
    max_norm: f64,
    norm_kind: u32,
    p: f64,
    total_norm_out: *mut f32,
    coef_out: *mut f32,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "", || {
        let norm = norm_type(norm_kind, p)?;
        let parts = Raw::new(partials, count, false, "partials")?;
        out_ok(total_norm_out, "total_norm_out")?;
        out_ok(coef_out, "coef_out")?;
        // SAFETY: the buffer and both out-pointers were checked.
        unsafe {
            let clip = crate::clip_coef_from_partials(slice(parts), max_norm, norm)?;
            out(total_norm_out, "total_norm_out", clip.total_norm)?;
            out(coef_out, "coef_out", clip.coef)
        }
    })
}

/// [`crate::clip_coef`] (`rewrite = 0`: only computes the coefficient, to pass as a step's
/// `grad_scale`) or [`crate::clip_grad_norm`] (`rewrite = 1`: also scales the gradients).
/// Writes the total norm and the coefficient.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_clip_grad_norm(
    grads: *const *mut f32,
    lens: *const usize,
    count: usize,
    max_norm: f64,
    norm_kind: u32,
    p: f64,
    rewrite: u32,
    total_norm_out: *mut f32,
    coef_out: *mut f32,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "", || {
        let norm = norm_type(norm_kind, p)?;
        let max_norm = validate::non_negative("max_norm", max_norm)?;
        if rewrite > 1 {
            return Err(super::bad_enum(
                S::InvalidHyperparameter,
                "rewrite",
                rewrite,
                c"is not 0 or 1",
            ));
        }
        out_ok(total_norm_out, "total_norm_out")?;
        out_ok(coef_out, "coef_out")?;
        let grads = grads as *const *const f32;
        // SAFETY: the list is checked (including overlaps, since it may be written) first.
        unsafe {
            check_list(grads, lens, count, rewrite == 1)?;
            let clip = Clip::from_norm(
                total_norm((0..count).map(|i| item(grads, lens, i)), norm),
                max_norm,
            );
            if rewrite == 1 {
                for i in 0..count {
                    let r = Raw::new(*grads.add(i), *lens.add(i), true, "grads")?;
                    scale_with(Width::NATIVE, slice_mut(r), clip.coef);
                }
            }
            out(total_norm_out, "total_norm_out", clip.total_norm)?;
            out(coef_out, "coef_out", clip.coef)
        }
    })
}

/// [`crate::clip_grad_value`]: clamps every element of `count` buffers to `[−v, v]`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_clip_grad_value(
    grads: *const *mut f32,
    lens: *const usize,
    count: usize,
    clip_value: f64,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "", || {
        let v = validate::non_negative("clip_value", clip_value)? as f32;
        let grads = grads as *const *const f32;
        // SAFETY: as in `optkern_clip_grad_norm`.
        unsafe {
            check_list(grads, lens, count, true)?;
            for i in 0..count {
                clip_value_with(
                    Width::NATIVE,
                    slice_mut(Raw::new(*grads.add(i), *lens.add(i), true, "grads")?),
                    v,
                );
            }
        }
        Ok(())
    })
}

/// [`crate::all_finite`]: `*all_finite_out` = 1 if every element of every buffer is finite.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_all_finite(
    grads: *const *const f32,
    lens: *const usize,
    count: usize,
    all_finite_out: *mut u32,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "", || {
        out_ok(all_finite_out, "all_finite_out")?;
        // SAFETY: as in `optkern_grad_norm`.
        unsafe {
            check_list(grads, lens, count, false)?;
            let ok = (0..count).all(|i| item(grads, lens, i).iter().all(|x| x.is_finite()));
            out(all_finite_out, "all_finite_out", u32::from(ok))
        }
    })
}

/// [`crate::unscale`]: multiplies `count` buffers by `inv_scale`; `*found_inf_out` = 1 if any
/// element was NaN or infinite before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_unscale(
    grads: *const *mut f32,
    lens: *const usize,
    count: usize,
    inv_scale: f32,
    found_inf_out: *mut u32,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "", || {
        validate::non_negative("inv_scale", f64::from(inv_scale))?;
        out_ok(found_inf_out, "found_inf_out")?;
        let grads = grads as *const *const f32;
        // SAFETY: as in `optkern_clip_grad_norm`.
        unsafe {
            check_list(grads, lens, count, true)?;
            let found = (0..count).any(|i| item(grads, lens, i).iter().any(|x| !x.is_finite()));
            for i in 0..count {
                scale_with(
                    Width::NATIVE,
                    slice_mut(Raw::new(*grads.add(i), *lens.add(i), true, "grads")?),
                    inv_scale,
                );
            }
            out(found_inf_out, "found_inf_out", u32::from(found))
        }
    })
}

/// GradScaler's defaults (scale 65536, growth 2, backoff 0.5, interval 2000).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_loss_scale_default() -> LossScale {
    LossScale::default()
}

/// [`LossScale::update`] after a step (`found_inf` 0 or 1).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_loss_scale_update(
    scale: *mut LossScale,
    found_inf: u32,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "", || {
        out_ok(scale, "scale")?;
        if found_inf > 1 {
            return Err(super::bad_enum(
                S::InvalidHyperparameter,
                "found_inf",
                found_inf,
                c"is not 0 or 1",
            ));
        }
        // SAFETY: checked non-null and aligned; a plain struct of f32/u32.
        unsafe {
            let mut s = core::ptr::read(scale);
            s.update(found_inf == 1);
            core::ptr::write(scale, s);
        }
        Ok(())
    })
}

/// [`crate::accumulate`]: `acc += weight·grads`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_accumulate(
    acc: *mut f32,
    grads: *const f32,
    len: usize,
    weight: f32,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "", || {
        // SAFETY: buffers checked before use.
        unsafe {
            let b = buffers!(len; out acc, in grads);
            crate::accumulate(slice_mut(b[0]), slice(b[1]), weight)?;
        }
        Ok(())
    })
}

/// [`crate::cross_entropy`] on `batch × classes` logits and `int64` targets: `reduction` 0 =
/// mean, 1 = sum, 2 = none; `weight` (`classes` values), `losses` (`batch`) and `grad`
/// (`batch·classes`) may be NULL. The reduced loss goes to `*loss_out`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_cross_entropy(
    logits: *const f32,
    targets: *const i64,
    batch: usize,
    classes: usize,
    reduction: u32,
    label_smoothing: f64,
    ignore_index: i64,
    weight: *const f32,
    losses: *mut f32,
    grad: *mut f32,
    loss_out: *mut f32,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "", || {
        let reduction = match reduction {
            0 => crate::Reduction::Mean,
            1 => crate::Reduction::Sum,
            2 => crate::Reduction::None,
            _ => {
                return Err(super::bad_enum(
                    S::InvalidHyperparameter,
                    "reduction",
                    reduction,
                    c"is not 0 (mean), 1 (sum) or 2 (none)",
                ));
            }
        };
        out_ok(loss_out, "loss_out")?;
        let n = batch.checked_mul(classes).ok_or(S::InvalidLength)?;
        let r = [
            Raw::new(logits, n, false, "logits")?,
            Raw::new(targets, batch, false, "targets")?,
            Raw::optional(weight, classes, false, "weight")?,
            Raw::optional(losses as *const f32, batch, true, "losses")?,
            Raw::optional(grad as *const f32, n, true, "grad")?,
        ];
        super::no_overlap(&r)?;
        // SAFETY: every buffer checked above (overlaps are checked on bytes, whatever the type).
        unsafe {
            let cfg = crate::CrossEntropyConfig {
                reduction,
                label_smoothing,
                ignore_index,
                weight: if weight.is_null() { None } else { Some(slice(r[2])) },
            };
            let loss = crate::cross_entropy(
                slice(r[0]),
                slice(r[1]),
                classes,
                &cfg,
                slice_mut(r[3]),
                slice_mut(r[4]),
            )?;
            out(loss_out, "loss_out", loss)
        }
    })
}

/// [`crate::correct_predictions`]: rows whose largest logit is the target.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_correct_predictions(
    logits: *const f32,
    targets: *const i64,
    batch: usize,
    classes: usize,
    correct_out: *mut usize,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "", || {
        out_ok(correct_out, "correct_out")?;
        let n = batch.checked_mul(classes).ok_or(S::InvalidLength)?;
        let (l, t) =
            (Raw::new(logits, n, false, "logits")?, Raw::new(targets, batch, false, "targets")?);
        // SAFETY: both checked; nothing is written but the out value.
        unsafe {
            let c = crate::correct_predictions(slice(l), slice(t), classes)?;
            out(correct_out, "correct_out", c)
        }
    })
}

/// Evaluates a schedule built by `make` at `step` into `*lr_out` (and `*momentum_out`, which may
/// be NULL, for the schedules that cycle momentum).
fn schedule<S2: Schedule>(
    error: *mut ErrorInfo,
    make: impl FnOnce() -> Result<S2, crate::Error>,
    step: u64,
    lr_out: *mut f64,
    momentum_out: *mut f64,
) -> Status {
    ffi(error, "", || {
        out_ok(lr_out, "lr_out")?;
        if !momentum_out.is_null() {
            out_ok(momentum_out, "momentum_out")?;
        }
        let s = make()?;
        // SAFETY: out-pointers checked above.
        unsafe {
            out(lr_out, "lr_out", s.lr(step))?;
            if !momentum_out.is_null() {
                out(momentum_out, "momentum_out", s.momentum(step).unwrap_or(f64::NAN))?;
            }
        }
        Ok(())
    })
}

/// `ConstantLR`: `lr = base·(factor + [step ≥ total_iters]·(1 − factor))`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_lr_constant_factor(
    base_lr: f64,
    factor: f64,
    total_iters: u64,
    step: u64,
    lr_out: *mut f64,
    error: *mut ErrorInfo,
) -> Status {
    schedule(
        error,
        || ConstantFactor::new(base_lr, factor, total_iters),
        step,
        lr_out,
        core::ptr::null_mut(),
    )
}

/// `StepLR`: `lr = base·γ^⌊step/step_size⌋`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_lr_step_decay(
    base_lr: f64,
    step_size: u64,
    gamma: f64,
    step: u64,
    lr_out: *mut f64,
    error: *mut ErrorInfo,
) -> Status {
    schedule(
        error,
        || StepDecay::new(base_lr, step_size, gamma),
        step,
        lr_out,
        core::ptr::null_mut(),
    )
}

/// `MultiStepLR` with `count` ascending milestones.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_lr_multistep(
    base_lr: f64,
    milestones: *const u64,
    count: usize,
    gamma: f64,
    step: u64,
    lr_out: *mut f64,
    error: *mut ErrorInfo,
) -> Status {
    match Raw::new(milestones, count, false, "milestones") {
        // SAFETY: checked.
        Ok(r) => schedule(
            error,
            || MultiStep::new(base_lr, unsafe { slice(r) }, gamma),
            step,
            lr_out,
            core::ptr::null_mut(),
        ),
        Err(fail) => ffi(error, "", || Err(fail)),
    }
}

/// `ExponentialLR`: `lr = base·γ^step`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_lr_exponential(
    base_lr: f64,
    gamma: f64,
    step: u64,
    lr_out: *mut f64,
    error: *mut ErrorInfo,
) -> Status {
    schedule(error, || Exponential::new(base_lr, gamma), step, lr_out, core::ptr::null_mut())
}

/// Inverse-time decay: `lr = base/(1 + decay·step)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_lr_inverse_time(
    base_lr: f64,
    decay: f64,
    step: u64,
    lr_out: *mut f64,
    error: *mut ErrorInfo,
) -> Status {
    schedule(error, || InverseTime::new(base_lr, decay), step, lr_out, core::ptr::null_mut())
}

/// `CosineAnnealingLR`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_lr_cosine(
    base_lr: f64,
    t_max: u64,
    eta_min: f64,
    step: u64,
    lr_out: *mut f64,
    error: *mut ErrorInfo,
) -> Status {
    schedule(error, || Cosine::new(base_lr, t_max, eta_min), step, lr_out, core::ptr::null_mut())
}

/// `CosineAnnealingWarmRestarts`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_lr_cosine_warm_restarts(
    base_lr: f64,
    t_0: u64,
    t_mult: u64,
    eta_min: f64,
    step: u64,
    lr_out: *mut f64,
    error: *mut ErrorInfo,
) -> Status {
    schedule(
        error,
        || CosineWarmRestarts::new(base_lr, t_0, t_mult, eta_min),
        step,
        lr_out,
        core::ptr::null_mut(),
    )
}

/// `LinearLR`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_lr_linear(
    base_lr: f64,
    start_factor: f64,
    end_factor: f64,
    total_iters: u64,
    step: u64,
    lr_out: *mut f64,
    error: *mut ErrorInfo,
) -> Status {
    schedule(
        error,
        || Linear::new(base_lr, start_factor, end_factor, total_iters),
        step,
        lr_out,
        core::ptr::null_mut(),
    )
}

/// `PolynomialLR`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_lr_polynomial(
    base_lr: f64,
    total_iters: u64,
    power: f64,
    step: u64,
    lr_out: *mut f64,
    error: *mut ErrorInfo,
) -> Status {
    schedule(
        error,
        || Polynomial::new(base_lr, total_iters, power),
        step,
        lr_out,
        core::ptr::null_mut(),
    )
}

/// `OneCycleLR` (`anneal` 0 = cos, 1 = linear; `three_phase` 0 or 1); writes lr and momentum.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_lr_one_cycle(
    max_lr: f64,
    total_steps: u64,
    pct_start: f64,
    anneal: u32,
    div_factor: f64,
    final_div_factor: f64,
    three_phase: u32,
    base_momentum: f64,
    max_momentum: f64,
    step: u64,
    lr_out: *mut f64,
    momentum_out: *mut f64,
    error: *mut ErrorInfo,
) -> Status {
    let anneal = match anneal_of(anneal) {
        Ok(a) => a,
        Err(fail) => return ffi(error, "", || Err(fail)),
    };
    if three_phase > 1 {
        let fail =
            super::bad_enum(S::InvalidHyperparameter, "three_phase", three_phase, c"is not 0 or 1");
        return ffi(error, "", || Err(fail));
    }
    schedule(
        error,
        || {
            OneCycle::new(
                max_lr,
                total_steps,
                pct_start,
                anneal,
                div_factor,
                final_div_factor,
                three_phase == 1,
                base_momentum,
                max_momentum,
            )
        },
        step,
        lr_out,
        momentum_out,
    )
}

/// `CyclicLR` (`mode` 0 = triangular, 1 = triangular2, 2 = exp_range with `gamma`); writes lr
/// and momentum.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_lr_cyclic(
    base_lr: f64,
    max_lr: f64,
    step_size_up: u64,
    step_size_down: u64,
    mode: u32,
    gamma: f64,
    base_momentum: f64,
    max_momentum: f64,
    step: u64,
    lr_out: *mut f64,
    momentum_out: *mut f64,
    error: *mut ErrorInfo,
) -> Status {
    let mode = match mode {
        0 => CyclicMode::Triangular,
        1 => CyclicMode::Triangular2,
        2 => CyclicMode::ExpRange(gamma),
        _ => {
            let why = c"is not 0 (triangular), 1 (triangular2) or 2 (exp_range)";
            return ffi(error, "", || {
                Err(super::bad_enum(S::InvalidHyperparameter, "mode", mode, why))
            });
        }
    };
    schedule(
        error,
        || {
            Cyclic::new(
                base_lr,
                max_lr,
                step_size_up,
                step_size_down,
                mode,
                base_momentum,
                max_momentum,
            )
        },
        step,
        lr_out,
        momentum_out,
    )
}

/// Warmup then cosine decay (torch's `SequentialLR([LinearLR(start_factor, 1, warmup),
/// CosineAnnealingLR(total − warmup, eta_min)], [warmup])`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_lr_warmup_cosine(
    base_lr: f64,
    warmup: u64,
    start_factor: f64,
    total: u64,
    eta_min: f64,
    step: u64,
    lr_out: *mut f64,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "", || {
        let warm = Linear::new(base_lr, start_factor, 1.0, warmup.max(1))?;
        let cos = Cosine::new(base_lr, total.saturating_sub(warmup).max(1), eta_min)?;
        let parts: [&dyn Schedule; 2] = [&warm, &cos];
        let milestones = [warmup];
        let s = Sequential::new(&parts, &milestones)?;
        out_ok(lr_out, "lr_out")?;
        // SAFETY: checked.
        unsafe { out(lr_out, "lr_out", s.lr(step)) }
    })
}

/// Warmup–stable–decay.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_lr_warmup_stable_decay(
    base_lr: f64,
    warmup: u64,
    stable: u64,
    decay: u64,
    final_factor: f64,
    step: u64,
    lr_out: *mut f64,
    error: *mut ErrorInfo,
) -> Status {
    schedule(
        error,
        || WarmupStableDecay::new(base_lr, warmup, stable, decay, final_factor),
        step,
        lr_out,
        core::ptr::null_mut(),
    )
}

/// `anneal` 0 = cos, 1 = linear.
fn anneal_of(anneal: u32) -> Result<Anneal, Fail> {
    match anneal {
        0 => Ok(Anneal::Cos),
        1 => Ok(Anneal::Linear),
        _ => Err(super::bad_enum(
            S::InvalidHyperparameter,
            "anneal",
            anneal,
            c"is not 0 (cos) or 1 (linear)",
        )),
    }
}

/// A C lambda: `f(ctx, step)`.
pub type LrLambda = Option<unsafe extern "C" fn(ctx: *mut core::ffi::c_void, step: u64) -> f64>;

/// `LambdaLR`: `lr = base·f(ctx, step)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_lr_lambda(
    base_lr: f64,
    f: LrLambda,
    ctx: *mut core::ffi::c_void,
    step: u64,
    lr_out: *mut f64,
    error: *mut ErrorInfo,
) -> Status {
    let Some(f) = f else {
        return ffi(error, "", || Err(Fail::new(S::NullPointer, "f", c"is NULL")));
    };
    // SAFETY: the caller guarantees `f` may be called with `ctx`.
    schedule(
        error,
        || Lambda::new(base_lr, |t| unsafe { f(ctx, t) }),
        step,
        lr_out,
        core::ptr::null_mut(),
    )
}

/// `MultiplicativeLR`: `lr = base·Π_{t=1..step} f(ctx, t)` (O(step): in a loop, multiply the
/// previous rate by `f(ctx, step)` instead).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_lr_multiplicative(
    base_lr: f64,
    f: LrLambda,
    ctx: *mut core::ffi::c_void,
    step: u64,
    lr_out: *mut f64,
    error: *mut ErrorInfo,
) -> Status {
    let Some(f) = f else {
        return ffi(error, "", || Err(Fail::new(S::NullPointer, "f", c"is NULL")));
    };
    // SAFETY: as in `optkern_lr_lambda`.
    schedule(
        error,
        || Multiplicative::new(base_lr, |t| unsafe { f(ctx, t) }),
        step,
        lr_out,
        core::ptr::null_mut(),
    )
}

/// `SWALR` (`anneal` 0 = cos, 1 = linear) from the optimizer's rate `base_lr`.
/// (`ChainedScheduler` in C: call each schedule with `base_lr = 1` and multiply the factors.)
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_lr_swa(
    base_lr: f64,
    swa_lr: f64,
    anneal_epochs: u64,
    anneal: u32,
    step: u64,
    lr_out: *mut f64,
    error: *mut ErrorInfo,
) -> Status {
    let anneal = match anneal_of(anneal) {
        Ok(a) => a,
        Err(fail) => return ffi(error, "", || Err(fail)),
    };
    schedule(
        error,
        || SwaLr::new(base_lr, swa_lr, anneal_epochs, anneal),
        step,
        lr_out,
        core::ptr::null_mut(),
    )
}

/// `optax.exponential_decay` (`end_value` NaN = none).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_lr_exponential_decay(
    init_value: f64,
    transition_steps: u64,
    decay_rate: f64,
    transition_begin: u64,
    staircase: bool,
    end_value: f64,
    step: u64,
    lr_out: *mut f64,
    error: *mut ErrorInfo,
) -> Status {
    let end = (!end_value.is_nan()).then_some(end_value);
    schedule(
        error,
        || {
            ExponentialDecay::new(
                init_value,
                transition_steps,
                decay_rate,
                transition_begin,
                staircase,
                end,
            )
        },
        step,
        lr_out,
        core::ptr::null_mut(),
    )
}

/// `optax.polynomial_schedule` (`linear_schedule`: `power` 1).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_lr_polynomial_decay(
    init_value: f64,
    end_value: f64,
    power: f64,
    transition_steps: u64,
    transition_begin: u64,
    step: u64,
    lr_out: *mut f64,
    error: *mut ErrorInfo,
) -> Status {
    schedule(
        error,
        || PolynomialDecay::new(init_value, end_value, power, transition_steps, transition_begin),
        step,
        lr_out,
        core::ptr::null_mut(),
    )
}

/// `optax.piecewise_constant_schedule` with `count` ascending `boundaries` and their `scales`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_lr_piecewise_constant(
    init_value: f64,
    boundaries: *const u64,
    scales: *const f64,
    count: usize,
    step: u64,
    lr_out: *mut f64,
    error: *mut ErrorInfo,
) -> Status {
    match (
        Raw::new(boundaries, count, false, "boundaries"),
        Raw::new(scales, count, false, "scales"),
    ) {
        // SAFETY: both checked.
        (Ok(b), Ok(s)) => schedule(
            error,
            || PiecewiseConstant::new(init_value, unsafe { slice(b) }, unsafe { slice(s) }),
            step,
            lr_out,
            core::ptr::null_mut(),
        ),
        (Err(fail), _) | (_, Err(fail)) => ffi(error, "", || Err(fail)),
    }
}

/// `optax.piecewise_interpolate_schedule` (`anneal` 0 = cosine, 1 = linear).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_lr_piecewise_interpolate(
    anneal: u32,
    init_value: f64,
    boundaries: *const u64,
    scales: *const f64,
    count: usize,
    step: u64,
    lr_out: *mut f64,
    error: *mut ErrorInfo,
) -> Status {
    let anneal = match anneal_of(anneal) {
        Ok(a) => a,
        Err(fail) => return ffi(error, "", || Err(fail)),
    };
    match (
        Raw::new(boundaries, count, false, "boundaries"),
        Raw::new(scales, count, false, "scales"),
    ) {
        // SAFETY: both checked.
        (Ok(b), Ok(s)) => schedule(
            error,
            || {
                PiecewiseInterpolate::new(anneal, init_value, unsafe { slice(b) }, unsafe {
                    slice(s)
                })
            },
            step,
            lr_out,
            core::ptr::null_mut(),
        ),
        (Err(fail), _) | (_, Err(fail)) => ffi(error, "", || Err(fail)),
    }
}

/// optax's `linear_onecycle_schedule` (`anneal` 1) and `cosine_onecycle_schedule` (`anneal`
/// 0, `pct_final` unused).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_lr_optax_onecycle(
    anneal: u32,
    transition_steps: u64,
    peak_value: f64,
    pct_start: f64,
    pct_final: f64,
    div_factor: f64,
    final_div_factor: f64,
    step: u64,
    lr_out: *mut f64,
    error: *mut ErrorInfo,
) -> Status {
    let anneal = match anneal_of(anneal) {
        Ok(a) => a,
        Err(fail) => return ffi(error, "", || Err(fail)),
    };
    schedule(
        error,
        || {
            OptaxOneCycle::new(
                anneal,
                transition_steps,
                peak_value,
                pct_start,
                pct_final,
                div_factor,
                final_div_factor,
            )
        },
        step,
        lr_out,
        core::ptr::null_mut(),
    )
}

/// `optax.cosine_decay_schedule`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_lr_cosine_decay(
    init_value: f64,
    decay_steps: u64,
    alpha: f64,
    exponent: f64,
    step: u64,
    lr_out: *mut f64,
    error: *mut ErrorInfo,
) -> Status {
    schedule(
        error,
        || CosineDecay::new(init_value, decay_steps, alpha, exponent),
        step,
        lr_out,
        core::ptr::null_mut(),
    )
}

/// The arguments of `optax.warmup_cosine_decay_schedule` (one `optkern_lr_sgdr` cycle).
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct WarmupCosineArgs {
    /// `init_value`.
    pub init_value: f64,
    /// `peak_value`.
    pub peak_value: f64,
    /// `warmup_steps`.
    pub warmup_steps: u64,
    /// `decay_steps` (the warm-up included).
    pub decay_steps: u64,
    /// `end_value` (optax's default 0).
    pub end_value: f64,
    /// `exponent` (optax's default 1).
    pub exponent: f64,
}

impl WarmupCosineArgs {
    fn build(&self) -> Result<WarmupCosineDecay, crate::Error> {
        let a = self;
        WarmupCosineDecay::new(
            a.init_value,
            a.peak_value,
            a.warmup_steps,
            a.decay_steps,
            a.end_value,
            a.exponent,
        )
    }
}

impl super::CConfig for WarmupCosineArgs {
    unsafe fn invalid_field(_: *const Self) -> Option<&'static str> {
        None // only numbers: every bit pattern is a value (the constructor checks them)
    }
}

/// `optax.warmup_cosine_decay_schedule`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_lr_warmup_cosine_decay(
    args: *const WarmupCosineArgs,
    step: u64,
    lr_out: *mut f64,
    error: *mut ErrorInfo,
) -> Status {
    // SAFETY: `config` checks NULL and alignment; the caller guarantees it is readable.
    let a = match unsafe { super::config(args, "args") } {
        Ok(a) => a,
        Err(fail) => return ffi(error, "", || Err(fail)),
    };
    schedule(error, || a.build(), step, lr_out, core::ptr::null_mut())
}

/// `optax.sgdr_schedule`: `count` ≥ 1 warmup-cosine cycles back to back.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_lr_sgdr(
    cycles: *const WarmupCosineArgs,
    count: usize,
    step: u64,
    lr_out: *mut f64,
    error: *mut ErrorInfo,
) -> Status {
    let cycles: &[WarmupCosineArgs] = match Raw::new(cycles, count, false, "cycles") {
        // SAFETY: checked.
        Ok(r) => unsafe { slice(r) },
        Err(fail) => return ffi(error, "", || Err(fail)),
    };
    ffi(error, "", || {
        out_ok(lr_out, "lr_out")?;
        if cycles.is_empty() {
            return Err(Fail::new(S::InvalidLength, "count", c"is 0 (at least one cycle)"));
        }
        // Every cycle is checked; the one `step` falls in is evaluated (as `Sgdr`).
        let (mut start, mut lr) = (0u64, 0.0);
        let mut found = false;
        for (j, c) in cycles.iter().enumerate() {
            let cycle = c.build()?;
            let end = start.saturating_add(cycle.decay_steps());
            if !found && (step < end || j + 1 == cycles.len()) {
                lr = cycle.lr(step.saturating_sub(start));
                found = true;
            }
            start = end;
        }
        // SAFETY: checked above.
        unsafe { out(lr_out, "lr_out", lr) }
    })
}

/// `optax.warmup_exponential_decay_schedule` (`end_value` NaN = none).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_lr_warmup_exponential_decay(
    init_value: f64,
    peak_value: f64,
    warmup_steps: u64,
    transition_steps: u64,
    decay_rate: f64,
    transition_begin: u64,
    staircase: bool,
    end_value: f64,
    step: u64,
    lr_out: *mut f64,
    error: *mut ErrorInfo,
) -> Status {
    let end = (!end_value.is_nan()).then_some(end_value);
    schedule(
        error,
        || {
            WarmupExponentialDecay::new(
                init_value,
                peak_value,
                warmup_steps,
                transition_steps,
                decay_rate,
                transition_begin,
                staircase,
                end,
            )
        },
        step,
        lr_out,
        core::ptr::null_mut(),
    )
}

super::c_config!(PlateauConfig, bools: [], enums: [mode < 2, threshold_mode < 2]);

impl super::CConfig for ReduceOnPlateau {
    unsafe fn invalid_field(p: *const Self) -> Option<&'static str> {
        // SAFETY: the caller guarantees `p` is valid; `cfg` is its first field.
        unsafe { PlateauConfig::invalid_field(core::ptr::addr_of!((*p).cfg)) }
    }
}

/// The defaults of [`PlateauConfig`] (torch's).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_plateau_config_default() -> PlateauConfig {
    PlateauConfig::default()
}

/// `ReduceLROnPlateau`: initialises `*state` with the optimizer's rate `lr`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_plateau_init(
    lr: f64,
    cfg: *const PlateauConfig,
    state: *mut ReduceOnPlateau,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: the config is checked by `config`, the out-pointer by `out`.
        unsafe {
            let cfg = super::config(cfg, "cfg")?;
            out_ok(state, "state")?;
            out(state, "state", ReduceOnPlateau::new(lr, &cfg)?)
        }
    })
}

/// One `ReduceLROnPlateau` step with this step's `metric`; writes the new rate. `*state` is
/// checked (its enum fields) before anything is written.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_plateau_step(
    state: *mut ReduceOnPlateau,
    metric: f64,
    lr_out: *mut f64,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "", || {
        out_ok(lr_out, "lr_out")?;
        // SAFETY: checked for NULL and alignment (a state from `optkern_plateau_init`).
        unsafe {
            let mut s = super::config(state.cast_const(), "state")?;
            let lr = s.step(metric);
            out(state, "state", s)?;
            out(lr_out, "lr_out", lr)
        }
    })
}
