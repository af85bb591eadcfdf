//! C functions for the optimizers: `optkern_<kernel>` and `optkern_<kernel>_config_default`.
//! Each wraps the Rust function of the same name; see its documentation for the equation.

use super::train::{PartialsOut, partials_pair};
use super::{ErrorInfo, Fail, Raw, Status, buffers, c_config, config, ffi, slice, slice_mut};
use crate::*;

c_config!(SgdConfig, bools: [nesterov, maximize], enums: [numerics < Numerics::COUNT]);
c_config!(AdamConfig, bools: [decoupled_weight_decay, amsgrad, maximize, eps_hat], enums: [numerics < Numerics::COUNT]);
c_config!(MomentumConfig, bools: [], enums: [numerics < Numerics::COUNT]);
c_config!(AdagradConfig, bools: [eps_inside_sqrt, maximize], enums: [numerics < Numerics::COUNT]);
c_config!(RmspropConfig, bools: [centered, eps_inside_sqrt, maximize], enums: [numerics < Numerics::COUNT]);
c_config!(AdamaxConfig, bools: [maximize], enums: [numerics < Numerics::COUNT]);
c_config!(AdadeltaConfig, bools: [maximize], enums: [numerics < Numerics::COUNT]);
c_config!(NadamConfig, bools: [decoupled_weight_decay, maximize], enums: [numerics < Numerics::COUNT]);
c_config!(RadamConfig, bools: [decoupled_weight_decay, maximize], enums: [numerics < Numerics::COUNT]);
c_config!(AsgdConfig, bools: [maximize], enums: [numerics < Numerics::COUNT]);
c_config!(RpropConfig, bools: [maximize], enums: [numerics < Numerics::COUNT]);
c_config!(AdafactorConfig, bools: [maximize], enums: [numerics < Numerics::COUNT]);
c_config!(LionConfig, bools: [maximize], enums: [numerics < Numerics::COUNT]);
c_config!(LambConfig, bools: [maximize], enums: [numerics < Numerics::COUNT]);
c_config!(LarsConfig, bools: [maximize], enums: [numerics < Numerics::COUNT]);
c_config!(SparseAdamConfig, bools: [maximize], enums: []);
c_config!(SwaConfig, bools: [], enums: [form < 2, numerics < Numerics::COUNT]);
c_config!(EmaConfig, bools: [warmup], enums: [form < 2, numerics < Numerics::COUNT]);

/// The defaults of [`SgdConfig`] (`SgdConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_sgd_config_default() -> SgdConfig {
    SgdConfig::default()
}

/// The defaults of [`AdamConfig`] (`AdamConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_adam_config_default() -> AdamConfig {
    AdamConfig::default()
}

/// The defaults of [`AdamConfig`] (`AdamConfig::adamw()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_adamw_config_default() -> AdamConfig {
    AdamConfig::adamw()
}

/// The defaults of [`MomentumConfig`] (`MomentumConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_momentum_config_default() -> MomentumConfig {
    MomentumConfig::default()
}

/// The defaults of [`AdagradConfig`] (`AdagradConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_adagrad_config_default() -> AdagradConfig {
    AdagradConfig::default()
}

/// The defaults of [`RmspropConfig`] (`RmspropConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_rmsprop_config_default() -> RmspropConfig {
    RmspropConfig::default()
}

/// The defaults of [`AdamaxConfig`] (`AdamaxConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_adamax_config_default() -> AdamaxConfig {
    AdamaxConfig::default()
}

/// The defaults of [`AdadeltaConfig`] (`AdadeltaConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_adadelta_config_default() -> AdadeltaConfig {
    AdadeltaConfig::default()
}

/// The defaults of [`NadamConfig`] (`NadamConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_nadam_config_default() -> NadamConfig {
    NadamConfig::default()
}

/// The defaults of [`RadamConfig`] (`RadamConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_radam_config_default() -> RadamConfig {
    RadamConfig::default()
}

/// The defaults of [`AsgdConfig`] (`AsgdConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_asgd_config_default() -> AsgdConfig {
    AsgdConfig::default()
}

/// The defaults of [`RpropConfig`] (`RpropConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_rprop_config_default() -> RpropConfig {
    RpropConfig::default()
}

/// The defaults of [`AdafactorConfig`] (`AdafactorConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_adafactor_config_default() -> AdafactorConfig {
    AdafactorConfig::default()
}

/// The defaults of [`LionConfig`] (`LionConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_lion_config_default() -> LionConfig {
    LionConfig::default()
}

/// The defaults of [`LambConfig`] (`LambConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_lamb_config_default() -> LambConfig {
    LambConfig::default()
}

/// The defaults of [`LarsConfig`] (`LarsConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_lars_config_default() -> LarsConfig {
    LarsConfig::default()
}

/// The defaults of [`SparseAdamConfig`] (`SparseAdamConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_sparse_adam_config_default() -> SparseAdamConfig {
    SparseAdamConfig::default()
}

/// The defaults of [`SwaConfig`] (`SwaConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_swa_config_default() -> SwaConfig {
    SwaConfig::default()
}

/// The defaults of [`EmaConfig`] (`EmaConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_ema_config_default() -> EmaConfig {
    EmaConfig::default()
}

/// [`sgd_step`]; `momentum_buffer` may be NULL when `cfg->momentum == 0`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_sgd_step(
    params: *mut f32,
    grads: *const f32,
    momentum_buffer: *mut f32,
    len: usize,
    step: u32,
    cfg: *const SgdConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: the config and every buffer are checked (NULL, alignment, size, overlap)
        // before a slice is made; the caller guarantees each pointer is valid for `len`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b = buffers!(len; out params, in grads, opt momentum_buffer);
            sgd_step(slice_mut(b[0]), slice(b[1]), slice_mut(b[2]), step, &cfg)?;
        }
        Ok(())
    })
}

/// [`adam_step`] (AdamW with `decoupled_weight_decay`); `max_exp_avg_sq` may be NULL without
/// AMSGrad.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_adam_step(
    params: *mut f32,
    grads: *const f32,
    exp_avg: *mut f32,
    exp_avg_sq: *mut f32,
    max_exp_avg_sq: *mut f32,
    len: usize,
    step: u32,
    cfg: *const AdamConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b = buffers!(len; out params, in grads, out exp_avg, out exp_avg_sq, opt max_exp_avg_sq);
            adam_step(
                slice_mut(b[0]),
                slice(b[1]),
                slice_mut(b[2]),
                slice_mut(b[3]),
                slice_mut(b[4]),
                step,
                &cfg,
            )?;
        }
        Ok(())
    })
}

/// A prepared step's struct has one field a C caller can make invalid as bytes: its `cfg`
/// (a bool or enum out of range); its f64 corrections are checked by the step itself.
macro_rules! prepared_c_config {
    ($($prepared:ty: $config:ty),*) => {$(
        impl super::CConfig for $prepared {
            unsafe fn invalid_field(p: *const Self) -> Option<&'static str> {
                // SAFETY: the caller guarantees `p` is valid for reads, so is its `cfg` field.
                unsafe { <$config>::invalid_field(core::ptr::addr_of!((*p).cfg)) }
            }
        }
    )*};
}
prepared_c_config!(AdamPrepared: AdamConfig, NadamPrepared: NadamConfig, RadamPrepared: RadamConfig);

/// [`AdamConfig::prepare`]: `prepared_out` receives `cfg`, `step` and the step's bias
/// corrections, for [`optkern_adam_step_prepared`] on every tensor of the step. Nothing is
/// written when an error is returned.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_adam_prepare(
    cfg: *const AdamConfig,
    step: u32,
    prepared_out: *mut AdamPrepared,
    error: *mut ErrorInfo,
) -> Status {
    // SAFETY: the caller's pointers, checked by `prepare_into`.
    unsafe { prepare_into(cfg, step, prepared_out, error, |c, t| c.prepare(t)) }
}

/// A C `optkern_*_prepare`: `cfg` and `prepared_out` checked, then `prepare(cfg, step)` written
/// to `prepared_out` — nothing written when an error is returned.
///
/// # Safety
/// `cfg` NULL or valid for reads, `prepared_out` NULL or valid for writes, `error` as `ffi`'s.
unsafe fn prepare_into<C: super::CConfig, P>(
    cfg: *const C,
    step: u32,
    prepared_out: *mut P,
    error: *mut ErrorInfo,
    prepare: impl FnOnce(&C, u32) -> Result<P, Error>,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: the config and the out-pointer are checked before use.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            super::out_ok(prepared_out, "prepared_out")?;
            let prepared = prepare(&cfg, step)?;
            super::out(prepared_out, "prepared_out", prepared)
        }
    })
}

/// The failure of a prepared step: a zero step is a field of `prepared` there, not an argument.
fn prepared_failure(e: Error) -> Fail {
    let mut fail = Fail::from(e);
    if e == Error::ZeroStep {
        (fail.argument, fail.field) = ("prepared", "step");
    }
    fail
}

/// [`adam_step_prepared`]: [`optkern_adam_step`] with the bias corrections of
/// [`optkern_adam_prepare`] (the same bits, without the per-call powers and root except in the
/// Torchao profile, which computes its own). An error in a field of `prepared` (of its `cfg`,
/// or `step`, `bias_correction1`, `bias_correction2_sqrt`) names the argument `prepared` and
/// the field.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_adam_step_prepared(
    params: *mut f32,
    grads: *const f32,
    exp_avg: *mut f32,
    exp_avg_sq: *mut f32,
    max_exp_avg_sq: *mut f32,
    len: usize,
    prepared: *const AdamPrepared,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "prepared", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let prepared = config(prepared, "prepared")?;
            let b = buffers!(len; out params, in grads, out exp_avg, out exp_avg_sq, opt max_exp_avg_sq);
            adam_step_prepared(
                slice_mut(b[0]),
                slice(b[1]),
                slice_mut(b[2]),
                slice_mut(b[3]),
                slice_mut(b[4]),
                &prepared,
            )
            .map_err(prepared_failure)?;
        }
        Ok(())
    })
}

/// [`adamw_step`]: [`optkern_adam_step`] with decoupled weight decay forced on.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_adamw_step(
    params: *mut f32,
    grads: *const f32,
    exp_avg: *mut f32,
    exp_avg_sq: *mut f32,
    max_exp_avg_sq: *mut f32,
    len: usize,
    step: u32,
    cfg: *const AdamConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b = buffers!(len; out params, in grads, out exp_avg, out exp_avg_sq, opt max_exp_avg_sq);
            adamw_step(
                slice_mut(b[0]),
                slice(b[1]),
                slice_mut(b[2]),
                slice_mut(b[3]),
                slice_mut(b[4]),
                step,
                &cfg,
            )?;
        }
        Ok(())
    })
}

/// [`momentum_step`] (classic momentum, learning rate inside the velocity).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_momentum_step(
    params: *mut f32,
    grads: *const f32,
    velocity: *mut f32,
    len: usize,
    cfg: *const MomentumConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b = buffers!(len; out params, in grads, out velocity);
            momentum_step(slice_mut(b[0]), slice(b[1]), slice_mut(b[2]), &cfg)?;
        }
        Ok(())
    })
}

/// [`nesterov_lookahead`]: writes `lookahead = params − momentum·velocity`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_nesterov_lookahead(
    lookahead: *mut f32,
    params: *const f32,
    velocity: *const f32,
    len: usize,
    cfg: *const MomentumConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b = buffers!(len; out lookahead, in params, in velocity);
            nesterov_lookahead(slice_mut(b[0]), slice(b[1]), slice(b[2]), &cfg)?;
        }
        Ok(())
    })
}

/// [`adagrad_step`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_adagrad_step(
    params: *mut f32,
    grads: *const f32,
    sum: *mut f32,
    len: usize,
    step: u32,
    cfg: *const AdagradConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b = buffers!(len; out params, in grads, out sum);
            adagrad_step(slice_mut(b[0]), slice(b[1]), slice_mut(b[2]), step, &cfg)?;
        }
        Ok(())
    })
}

/// [`rmsprop_step`]; `momentum_buffer` may be NULL without momentum, `grad_avg` when not
/// centered.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_rmsprop_step(
    params: *mut f32,
    grads: *const f32,
    square_avg: *mut f32,
    momentum_buffer: *mut f32,
    grad_avg: *mut f32,
    len: usize,
    cfg: *const RmspropConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b = buffers!(len; out params, in grads, out square_avg, opt momentum_buffer, opt grad_avg);
            rmsprop_step(
                slice_mut(b[0]),
                slice(b[1]),
                slice_mut(b[2]),
                slice_mut(b[3]),
                slice_mut(b[4]),
                &cfg,
            )?;
        }
        Ok(())
    })
}

/// [`adamax_step`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_adamax_step(
    params: *mut f32,
    grads: *const f32,
    exp_avg: *mut f32,
    exp_inf: *mut f32,
    len: usize,
    step: u32,
    cfg: *const AdamaxConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b = buffers!(len; out params, in grads, out exp_avg, out exp_inf);
            adamax_step(
                slice_mut(b[0]),
                slice(b[1]),
                slice_mut(b[2]),
                slice_mut(b[3]),
                step,
                &cfg,
            )?;
        }
        Ok(())
    })
}

/// [`adadelta_step`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_adadelta_step(
    params: *mut f32,
    grads: *const f32,
    square_avg: *mut f32,
    acc_delta: *mut f32,
    len: usize,
    cfg: *const AdadeltaConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b = buffers!(len; out params, in grads, out square_avg, out acc_delta);
            adadelta_step(slice_mut(b[0]), slice(b[1]), slice_mut(b[2]), slice_mut(b[3]), &cfg)?;
        }
        Ok(())
    })
}

/// [`nadam_step`]; `state` (start from `{ .mu_product = 1 }`) is updated only on success.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_nadam_step(
    params: *mut f32,
    grads: *const f32,
    exp_avg: *mut f32,
    exp_avg_sq: *mut f32,
    state: *mut NadamState,
    len: usize,
    step: u32,
    cfg: *const NadamConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`; `state` is checked by `out_ok` and then read and
        // written as a plain f32 struct (any bits are valid).
        unsafe {
            let cfg = config(cfg, "cfg")?;
            super::out_ok(state, "state")?;
            let b = buffers!(len; out params, in grads, out exp_avg, out exp_avg_sq);
            let mut st = core::ptr::read(state);
            nadam_step(
                slice_mut(b[0]),
                slice(b[1]),
                slice_mut(b[2]),
                slice_mut(b[3]),
                &mut st,
                step,
                &cfg,
            )?;
            core::ptr::write(state, st);
        }
        Ok(())
    })
}

/// [`NadamConfig::prepare`]: `prepared_out` receives `cfg`, `step` and the step's powers
/// (`μ_t`, `μ_{t+1}`, `1 − β₂ᵗ`), for [`optkern_nadam_step_prepared`] on every tensor of the
/// step. Nothing is written when an error is returned.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_nadam_prepare(
    cfg: *const NadamConfig,
    step: u32,
    prepared_out: *mut NadamPrepared,
    error: *mut ErrorInfo,
) -> Status {
    // SAFETY: the caller's pointers, checked by `prepare_into`.
    unsafe { prepare_into(cfg, step, prepared_out, error, |c, t| c.prepare(t)) }
}

/// [`nadam_step_prepared`]: [`optkern_nadam_step`] with the powers of
/// [`optkern_nadam_prepare`] (the same bits, `state` included, without the per-call powers).
/// An error in a field of `prepared` (of its `cfg`, or `step`, `mu`, `mu_next`,
/// `bias_correction2`) names the argument `prepared` and the field.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_nadam_step_prepared(
    params: *mut f32,
    grads: *const f32,
    exp_avg: *mut f32,
    exp_avg_sq: *mut f32,
    state: *mut NadamState,
    len: usize,
    prepared: *const NadamPrepared,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "prepared", || {
        // SAFETY: as in `optkern_nadam_step`.
        unsafe {
            let prepared = config(prepared, "prepared")?;
            super::out_ok(state, "state")?;
            let b = buffers!(len; out params, in grads, out exp_avg, out exp_avg_sq);
            let mut st = core::ptr::read(state);
            nadam_step_prepared(
                slice_mut(b[0]),
                slice(b[1]),
                slice_mut(b[2]),
                slice_mut(b[3]),
                &mut st,
                &prepared,
            )
            .map_err(prepared_failure)?;
            core::ptr::write(state, st);
        }
        Ok(())
    })
}

/// [`radam_step`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_radam_step(
    params: *mut f32,
    grads: *const f32,
    exp_avg: *mut f32,
    exp_avg_sq: *mut f32,
    len: usize,
    step: u32,
    cfg: *const RadamConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b = buffers!(len; out params, in grads, out exp_avg, out exp_avg_sq);
            radam_step(slice_mut(b[0]), slice(b[1]), slice_mut(b[2]), slice_mut(b[3]), step, &cfg)?;
        }
        Ok(())
    })
}

/// [`RadamConfig::prepare`]: `prepared_out` receives `cfg`, `step` and the step's corrections
/// (`1 − β₁ᵗ`, `√(1 − β₂ᵗ)`, the rectifier `r_t` or 0), for [`optkern_radam_step_prepared`] on
/// every tensor of the step. Nothing is written when an error is returned.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_radam_prepare(
    cfg: *const RadamConfig,
    step: u32,
    prepared_out: *mut RadamPrepared,
    error: *mut ErrorInfo,
) -> Status {
    // SAFETY: the caller's pointers, checked by `prepare_into`.
    unsafe { prepare_into(cfg, step, prepared_out, error, |c, t| c.prepare(t)) }
}

/// [`radam_step_prepared`]: [`optkern_radam_step`] with the corrections of
/// [`optkern_radam_prepare`] (the same bits, without the per-call powers and roots). An error
/// in a field of `prepared` (of its `cfg`, or `step`, `bias_correction1`,
/// `bias_correction2_sqrt`, `rectifier`) names the argument `prepared` and the field.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_radam_step_prepared(
    params: *mut f32,
    grads: *const f32,
    exp_avg: *mut f32,
    exp_avg_sq: *mut f32,
    len: usize,
    prepared: *const RadamPrepared,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "prepared", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let prepared = config(prepared, "prepared")?;
            let b = buffers!(len; out params, in grads, out exp_avg, out exp_avg_sq);
            let [p, g, m, v] = b;
            radam_step_prepared(slice_mut(p), slice(g), slice_mut(m), slice_mut(v), &prepared)
                .map_err(prepared_failure)?;
        }
        Ok(())
    })
}

/// The ASGD state torch creates: `eta = lr`, `mu = 1`.
#[unsafe(no_mangle)]
pub extern "C" fn optkern_asgd_state_new(lr: f64) -> AsgdState {
    AsgdState::new(lr)
}

/// [`asgd_step`]; `state` (from `optkern_asgd_state_new`) is updated only on success.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_asgd_step(
    params: *mut f32,
    grads: *const f32,
    ax: *mut f32,
    state: *mut AsgdState,
    len: usize,
    step: u32,
    cfg: *const AsgdConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_nadam_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            super::out_ok(state, "state")?;
            let b = buffers!(len; out params, in grads, out ax);
            let mut st = core::ptr::read(state);
            asgd_step(slice_mut(b[0]), slice(b[1]), slice_mut(b[2]), &mut st, step, &cfg)?;
            core::ptr::write(state, st);
        }
        Ok(())
    })
}

/// [`rprop_step`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_rprop_step(
    params: *mut f32,
    grads: *const f32,
    prev: *mut f32,
    step_size: *mut f32,
    len: usize,
    step: u32,
    cfg: *const RpropConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b = buffers!(len; out params, in grads, out prev, out step_size);
            rprop_step(slice_mut(b[0]), slice(b[1]), slice_mut(b[2]), slice_mut(b[3]), step, &cfg)?;
        }
        Ok(())
    })
}

/// [`adafactor_step`] (a vector).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_adafactor_step(
    params: *mut f32,
    grads: *const f32,
    variance: *mut f32,
    len: usize,
    step: u32,
    cfg: *const AdafactorConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b = buffers!(len; out params, in grads, out variance);
            adafactor_step(slice_mut(b[0]), slice(b[1]), slice_mut(b[2]), step, &cfg)?;
        }
        Ok(())
    })
}

/// [`adafactor_factored_step`]: `params` and `grads` hold `rows·cols` values, `row_var`
/// `rows` and `col_var` `cols` (`OPTKERN_STATUS_INVALID_LENGTH` if `rows·cols` overflows).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_adafactor_factored_step(
    params: *mut f32,
    grads: *const f32,
    row_var: *mut f32,
    col_var: *mut f32,
    rows: usize,
    cols: usize,
    step: u32,
    cfg: *const AdafactorConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`, with each buffer's own length.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let n = matrix_len("rows", rows, cols)?;
            let r = [
                super::Raw::new(params as *const f32, n, true, "params")?,
                super::Raw::new(grads, n, false, "grads")?,
                super::Raw::new(row_var as *const f32, rows, true, "row_var")?,
                super::Raw::new(col_var as *const f32, cols, true, "col_var")?,
            ];
            super::no_overlap(&r)?;
            adafactor_factored_step(
                slice_mut(r[0]),
                slice(r[1]),
                slice_mut(r[2]),
                slice_mut(r[3]),
                rows,
                cols,
                step,
                &cfg,
            )?;
        }
        Ok(())
    })
}

/// [`lion_step`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_lion_step(
    params: *mut f32,
    grads: *const f32,
    exp_avg: *mut f32,
    len: usize,
    cfg: *const LionConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b = buffers!(len; out params, in grads, out exp_avg);
            lion_step(slice_mut(b[0]), slice(b[1]), slice_mut(b[2]), &cfg)?;
        }
        Ok(())
    })
}

/// [`lamb_step`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_lamb_step(
    params: *mut f32,
    grads: *const f32,
    exp_avg: *mut f32,
    exp_avg_sq: *mut f32,
    len: usize,
    step: u32,
    cfg: *const LambConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b = buffers!(len; out params, in grads, out exp_avg, out exp_avg_sq);
            lamb_step(slice_mut(b[0]), slice(b[1]), slice_mut(b[2]), slice_mut(b[3]), step, &cfg)?;
        }
        Ok(())
    })
}

/// [`crate::adafactor_shard_moments`]: pass 1 of Adafactor (a vector) on a shard holding its
/// elements `[offset, offset + len)` of `layer_len` (whole 4096-element blocks); updates
/// `variance` and writes `optkern_norm_partials_len(len)` partials of `‖θ‖²` and of `‖u‖²`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_adafactor_shard_moments(
    params: *const f32,
    grads: *const f32,
    variance: *mut f32,
    len: usize,
    offset: usize,
    layer_len: usize,
    step: u32,
    cfg: *const AdafactorConfig,
    param_partials: *mut f64,
    param_partials_len: usize,
    update_partials: *mut f64,
    update_partials_len: usize,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`; the partials are checked with the other buffers.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b = buffers!(len; in params, in grads, out variance);
            let pp = param_partials_out(param_partials, param_partials_len);
            let up = update_partials_out(update_partials, update_partials_len);
            let [pp, up] = partials_pair(&b, len, pp, up)?;
            crate::adafactor_shard_moments(
                slice(b[0]),
                slice(b[1]),
                slice_mut(b[2]),
                offset,
                layer_len,
                step,
                &cfg,
                slice_mut(pp),
                slice_mut(up),
            )?;
        }
        Ok(())
    })
}

/// [`crate::adafactor_step_size`] of a vector of `layer_len` elements from the
/// `optkern_norm_partials_len(layer_len)` partials of each kind, in block order.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_adafactor_step_size(
    param_partials: *const f64,
    update_partials: *const f64,
    layer_len: usize,
    step: u32,
    cfg: *const AdafactorConfig,
    step_size_out: *mut f32,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: the config, both buffers and the out-pointer are checked before use.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let count = crate::norm_partials_len(layer_len);
            let pp = Raw::new(param_partials, count, false, "param_partials")?;
            let up = Raw::new(update_partials, count, false, "update_partials")?;
            super::out_ok(step_size_out, "step_size_out")?;
            let size = crate::adafactor_step_size(slice(pp), slice(up), layer_len, step, &cfg)?;
            super::out(step_size_out, "step_size_out", size)
        }
    })
}

/// [`crate::adafactor_shard_apply`]: pass 2 of Adafactor on a shard with the vector's step size.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_adafactor_shard_apply(
    params: *mut f32,
    grads: *const f32,
    variance: *const f32,
    len: usize,
    step: u32,
    cfg: *const AdafactorConfig,
    step_size: f32,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b = buffers!(len; out params, in grads, in variance);
            let (p, g, v) = (slice_mut(b[0]), slice(b[1]), slice(b[2]));
            crate::adafactor_shard_apply(p, g, v, step, &cfg, step_size)
                .map_err(|e| Fail::plain_argument(e, "step_size"))?;
        }
        Ok(())
    })
}

/// [`crate::adafactor_factored_shard_stats`]: pass 1 of factored Adafactor on a shard of
/// `shard_rows` whole rows of `cols` columns (`grads` `shard_rows·cols` values, `row_var` its
/// `shard_rows` row statistics); adds its squared gradients to the `cols` running column sums
/// `col_sums`, carried from shard to shard in row order (zeros before the first).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_adafactor_factored_shard_stats(
    grads: *const f32,
    row_var: *mut f32,
    shard_rows: usize,
    col_sums: *mut f64,
    cols: usize,
    step: u32,
    cfg: *const AdafactorConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`, with each buffer's own length.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let n = matrix_len("shard_rows", shard_rows, cols)?;
            let r = [
                Raw::new(grads, n, false, "grads")?,
                Raw::new(row_var.cast_const(), shard_rows, true, "row_var")?,
                Raw::new(col_sums.cast_const(), cols, true, "col_sums")?,
            ];
            super::no_overlap(&r)?;
            let (g, rv, sums) = (slice(r[0]), slice_mut(r[1]), slice_mut(r[2]));
            crate::adafactor_factored_shard_stats(g, rv, sums, cols, step, &cfg)?;
        }
        Ok(())
    })
}

/// [`crate::adafactor_factored_col_var`]: the `cols` column statistics from the column sums of
/// all `rows` rows.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_adafactor_factored_col_var(
    col_var: *mut f32,
    col_sums: *const f64,
    cols: usize,
    rows: usize,
    step: u32,
    cfg: *const AdafactorConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`, with each buffer's own length.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let r = [
                Raw::new(col_var.cast_const(), cols, true, "col_var")?,
                Raw::new(col_sums, cols, false, "col_sums")?,
            ];
            super::no_overlap(&r)?;
            crate::adafactor_factored_col_var(slice_mut(r[0]), slice(r[1]), rows, step, &cfg)?;
        }
        Ok(())
    })
}

/// The buffers of a factored shard pass: `params` and `grads` (`shard_rows·cols` values,
/// `params` written if `params_written`), `row_var` (all `rows`), `col_var` (`cols`).
#[allow(clippy::too_many_arguments)]
fn factored_shard_buffers(
    params: *const f32,
    params_written: bool,
    grads: *const f32,
    shard_rows: usize,
    row_var: *const f32,
    rows: usize,
    col_var: *const f32,
    cols: usize,
) -> Result<[Raw; 4], Fail> {
    let n = matrix_len("shard_rows", shard_rows, cols)?;
    let r = [
        Raw::new(params, n, params_written, "params")?,
        Raw::new(grads, n, false, "grads")?,
        Raw::new(row_var, rows, false, "row_var")?,
        Raw::new(col_var, cols, false, "col_var")?,
    ];
    super::no_overlap(&r)?;
    Ok(r)
}

/// [`crate::adafactor_factored_shard_norms`]: pass 2 of factored Adafactor on a shard of
/// `shard_rows` whole rows from row `row0` (`params`, `grads` `shard_rows·cols` values), with
/// the row statistics of all `rows` rows and the `cols` finished column statistics; writes
/// `optkern_norm_partials_len(shard_rows·cols)` partials of `‖θ‖²` and of `‖u‖²`.
/// `OPTKERN_STATUS_SHARD_BOUNDARY` unless the shard's first element `row0·cols` is a multiple
/// of 4096, and its end too or the matrix's end.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_adafactor_factored_shard_norms(
    params: *const f32,
    grads: *const f32,
    shard_rows: usize,
    row0: usize,
    row_var: *const f32,
    rows: usize,
    col_var: *const f32,
    cols: usize,
    step: u32,
    cfg: *const AdafactorConfig,
    param_partials: *mut f64,
    param_partials_len: usize,
    update_partials: *mut f64,
    update_partials_len: usize,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`; the partials are checked with the other buffers.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b = factored_shard_buffers(
                params, false, grads, shard_rows, row_var, rows, col_var, cols,
            )?;
            let pp = param_partials_out(param_partials, param_partials_len);
            let up = update_partials_out(update_partials, update_partials_len);
            let [pp, up] = partials_pair(&b, b[0].len(), pp, up)?; // the shard's shard_rows·cols
            crate::adafactor_factored_shard_norms(
                slice(b[0]),
                slice(b[1]),
                slice(b[2]),
                slice(b[3]),
                row0,
                step,
                &cfg,
                slice_mut(pp),
                slice_mut(up),
            )?;
        }
        Ok(())
    })
}

/// [`crate::adafactor_factored_shard_apply`]: the last pass of factored Adafactor on a shard
/// of `shard_rows` whole rows from row `row0`, with the matrix's step size.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_adafactor_factored_shard_apply(
    params: *mut f32,
    grads: *const f32,
    shard_rows: usize,
    row0: usize,
    row_var: *const f32,
    rows: usize,
    col_var: *const f32,
    cols: usize,
    step: u32,
    cfg: *const AdafactorConfig,
    step_size: f32,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b = factored_shard_buffers(
                params.cast_const(),
                true,
                grads,
                shard_rows,
                row_var,
                rows,
                col_var,
                cols,
            )?;
            let (p, g, rv, cv) = (slice_mut(b[0]), slice(b[1]), slice(b[2]), slice(b[3]));
            crate::adafactor_factored_shard_apply(p, g, rv, cv, row0, step, &cfg, step_size)
                .map_err(|e| Fail::plain_argument(e, "step_size"))?;
        }
        Ok(())
    })
}

/// [`crate::lamb_shard_moments`]: pass 1 of LAMB on a shard holding the layer's elements
/// `[offset, offset + len)` of `layer_len` (whole 4096-element blocks); writes
/// `optkern_norm_partials_len(len)` partials of `‖θ‖²` and of `‖r‖²`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_lamb_shard_moments(
    params: *const f32,
    grads: *const f32,
    exp_avg: *mut f32,
    exp_avg_sq: *mut f32,
    len: usize,
    offset: usize,
    layer_len: usize,
    step: u32,
    cfg: *const LambConfig,
    param_partials: *mut f64,
    param_partials_len: usize,
    update_partials: *mut f64,
    update_partials_len: usize,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`; the partials are checked with the other buffers.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b = buffers!(len; in params, in grads, out exp_avg, out exp_avg_sq);
            let pp = param_partials_out(param_partials, param_partials_len);
            let up = update_partials_out(update_partials, update_partials_len);
            let [pp, up] = partials_pair(&b, len, pp, up)?;
            crate::lamb_shard_moments(
                slice(b[0]),
                slice(b[1]),
                slice_mut(b[2]),
                slice_mut(b[3]),
                offset,
                layer_len,
                step,
                &cfg,
                slice_mut(pp),
                slice_mut(up),
            )?;
        }
        Ok(())
    })
}

/// [`crate::lamb_trust_ratio`] from the `count` partials of every block of the layer, in order.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_lamb_trust_ratio(
    param_partials: *const f64,
    update_partials: *const f64,
    count: usize,
    trust_ratio_out: *mut f64,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "", || {
        let pp = Raw::new(param_partials, count, false, "param_partials")?;
        let up = Raw::new(update_partials, count, false, "update_partials")?;
        super::out_ok(trust_ratio_out, "trust_ratio_out")?;
        // SAFETY: both buffers and the out-pointer were checked.
        unsafe {
            let trust = crate::lamb_trust_ratio(slice(pp), slice(up));
            super::out(trust_ratio_out, "trust_ratio_out", trust)
        }
    })
}

/// [`crate::lamb_shard_apply`]: pass 2 of LAMB on a shard with its layer's trust ratio.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_lamb_shard_apply(
    params: *mut f32,
    exp_avg: *const f32,
    exp_avg_sq: *const f32,
    len: usize,
    step: u32,
    cfg: *const LambConfig,
    trust_ratio: f64,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b = buffers!(len; out params, in exp_avg, in exp_avg_sq);
            let (p, m, v) = (slice_mut(b[0]), slice(b[1]), slice(b[2]));
            crate::lamb_shard_apply(p, m, v, step, &cfg, trust_ratio)
                .map_err(|e| Fail::plain_argument(e, "trust_ratio"))?;
        }
        Ok(())
    })
}

/// [`crate::lars_shard_norms`]: pass 1 of LARS on a shard holding the layer's elements
/// `[offset, offset + len)` of `layer_len` (whole 4096-element blocks); writes
/// `optkern_norm_partials_len(len)` partials of `‖θ‖²` and of `‖s·g‖²`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_lars_shard_norms(
    params: *const f32,
    grads: *const f32,
    len: usize,
    offset: usize,
    layer_len: usize,
    cfg: *const LarsConfig,
    param_partials: *mut f64,
    param_partials_len: usize,
    grad_partials: *mut f64,
    grad_partials_len: usize,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`; the partials are checked with the other buffers.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b = buffers!(len; in params, in grads);
            let pp = param_partials_out(param_partials, param_partials_len);
            let gp = PartialsOut {
                ptr: grad_partials,
                len: grad_partials_len,
                name: "grad_partials",
                len_name: "grad_partials_len",
            };
            let [pp, gp] = partials_pair(&b, len, pp, gp)?;
            crate::lars_shard_norms(
                slice(b[0]),
                slice(b[1]),
                offset,
                layer_len,
                &cfg,
                slice_mut(pp),
                slice_mut(gp),
            )?;
        }
        Ok(())
    })
}

/// [`crate::lars_local_lr`] from the `count` partials of every block of the layer, in order.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_lars_local_lr(
    param_partials: *const f64,
    grad_partials: *const f64,
    count: usize,
    cfg: *const LarsConfig,
    local_lr_out: *mut f64,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: the config, both buffers and the out-pointer are checked before use.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let pp = Raw::new(param_partials, count, false, "param_partials")?;
            let gp = Raw::new(grad_partials, count, false, "grad_partials")?;
            super::out_ok(local_lr_out, "local_lr_out")?;
            let local = crate::lars_local_lr(slice(pp), slice(gp), &cfg)?;
            super::out(local_lr_out, "local_lr_out", local)
        }
    })
}

/// [`crate::lars_shard_apply`]: pass 2 of LARS on a shard with its layer's local learning rate.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_lars_shard_apply(
    params: *mut f32,
    grads: *const f32,
    velocity: *mut f32,
    len: usize,
    cfg: *const LarsConfig,
    local_lr: f64,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b = buffers!(len; out params, in grads, out velocity);
            crate::lars_shard_apply(slice_mut(b[0]), slice(b[1]), slice_mut(b[2]), &cfg, local_lr)
                .map_err(|e| Fail::plain_argument(e, "local_lr"))?;
        }
        Ok(())
    })
}

/// [`lars_step`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_lars_step(
    params: *mut f32,
    grads: *const f32,
    velocity: *mut f32,
    len: usize,
    cfg: *const LarsConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b = buffers!(len; out params, in grads, out velocity);
            lars_step(slice_mut(b[0]), slice(b[1]), slice_mut(b[2]), &cfg)?;
        }
        Ok(())
    })
}

/// [`swa_update`]: `n_averaged` points are already in `average` (0: the call copies).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_swa_update(
    average: *mut f32,
    params: *const f32,
    len: usize,
    n_averaged: u64,
    cfg: *const SwaConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b = buffers!(len; out average, in params);
            swa_update(slice_mut(b[0]), slice(b[1]), n_averaged, &cfg)?;
        }
        Ok(())
    })
}

/// [`ema_update`] at update number `step` (1-based).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_ema_update(
    average: *mut f32,
    params: *const f32,
    len: usize,
    step: u32,
    cfg: *const EmaConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b = buffers!(len; out average, in params);
            ema_update(slice_mut(b[0]), slice(b[1]), step, &cfg)?;
        }
        Ok(())
    })
}

/// [`sparse_adam_step`] on the `rows × cols` matrix `params` (and `exp_avg`, `exp_avg_sq`):
/// `nnz` gradient rows, row `j` of `values` (`cols` floats) belonging to row `indices[j]`;
/// `scratch` holds `scratch_len` ≥ `optkern_sparse_adam_scratch_len(nnz)` elements.
/// `OPTKERN_STATUS_INDEX_OUT_OF_RANGE` for an index ≥ `rows`, `OPTKERN_STATUS_INVALID_LENGTH`
/// for a short scratch or a size past the address space.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_sparse_adam_step(
    params: *mut f32,
    exp_avg: *mut f32,
    exp_avg_sq: *mut f32,
    rows: usize,
    cols: usize,
    indices: *const usize,
    values: *const f32,
    nnz: usize,
    scratch: *mut usize,
    scratch_len: usize,
    step: u32,
    cfg: *const SparseAdamConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`, with each buffer's own length.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let n = matrix_len("rows", rows, cols)?;
            let nv = nnz.checked_mul(cols).ok_or(Fail::new(
                Status::InvalidLength,
                "nnz",
                c"times cols overflows",
            ))?;
            if scratch_len < nnz {
                let why = c"is shorter than nnz";
                return Err(
                    Fail::new(Status::InvalidLength, "scratch_len", why).value(scratch_len as f64)
                );
            }
            let r = [
                super::Raw::new(params as *const f32, n, true, "params")?,
                super::Raw::new(exp_avg as *const f32, n, true, "exp_avg")?,
                super::Raw::new(exp_avg_sq as *const f32, n, true, "exp_avg_sq")?,
                super::Raw::new(values, nv, false, "values")?,
                super::Raw::new(indices, nnz, false, "indices")?,
                super::Raw::new(scratch as *const usize, scratch_len, true, "scratch")?,
            ];
            super::no_overlap(&r)?;
            sparse_adam_step(
                slice_mut(r[0]),
                slice_mut(r[1]),
                slice_mut(r[2]),
                rows,
                cols,
                slice(r[4]),
                slice(r[3]),
                slice_mut(r[5]),
                step,
                &cfg,
            )?;
        }
        Ok(())
    })
}

/// [`sparse_adam_scratch_len`]: the scratch elements (`size_t`) a gradient of `nnz` rows
/// needs.
#[unsafe(no_mangle)]
pub extern "C" fn optkern_sparse_adam_scratch_len(nnz: usize) -> usize {
    sparse_adam_scratch_len(nnz)
}

c_config!(MuonConfig, bools: [nesterov], enums: [adjust_lr < 3, precision < 2]);

/// The defaults of [`MuonConfig`] (`MuonConfig::default()`, torch's).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_muon_config_default() -> MuonConfig {
    MuonConfig::default()
}

/// [`muon_scratch_len`]: the `float` scratch [`optkern_muon_step`] needs.
#[unsafe(no_mangle)]
pub extern "C" fn optkern_muon_scratch_len(rows: usize, cols: usize) -> usize {
    muon_scratch_len(rows, cols)
}

/// [`muon_step`] on the row-major `rows × cols` matrix `params`, with caller scratch of
/// `scratch_len` ≥ `optkern_muon_scratch_len(rows, cols)` floats (else
/// `OPTKERN_STATUS_INVALID_LENGTH`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_muon_step(
    params: *mut f32,
    grads: *const f32,
    momentum_buffer: *mut f32,
    rows: usize,
    cols: usize,
    scratch: *mut f32,
    scratch_len: usize,
    cfg: *const MuonConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`, with each buffer's own length.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let n = matrix_len("rows", rows, cols)?;
            if scratch_len < muon_scratch_len(rows, cols) {
                let why = c"is shorter than optkern_muon_scratch_len(rows, cols)";
                return Err(
                    Fail::new(Status::InvalidLength, "scratch_len", why).value(scratch_len as f64)
                );
            }
            let r = [
                super::Raw::new(params as *const f32, n, true, "params")?,
                super::Raw::new(grads, n, false, "grads")?,
                super::Raw::new(momentum_buffer as *const f32, n, true, "momentum_buffer")?,
                super::Raw::new(scratch as *const f32, scratch_len, true, "scratch")?,
            ];
            super::no_overlap(&r)?;
            muon_step(
                slice_mut(r[0]),
                slice(r[1]),
                slice_mut(r[2]),
                rows,
                cols,
                slice_mut(r[3]),
                &cfg,
            )?;
        }
        Ok(())
    })
}

c_config!(LbfgsConfig, bools: [maximize], enums: [line_search < 2]);

/// The defaults of [`LbfgsConfig`] (`LbfgsConfig::default()`, torch's).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_lbfgs_config_default() -> LbfgsConfig {
    LbfgsConfig::default()
}

/// [`lbfgs_work_len`]: the work buffer (elements of the run's type) [`optkern_lbfgs_step`]
/// and [`optkern_lbfgs_step_f64`] need for `n` parameters; 0 for a NULL or invalid `cfg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_lbfgs_work_len(n: usize, cfg: *const LbfgsConfig) -> usize {
    // SAFETY: `config` checks NULL, alignment and the bool/enum fields before reading.
    unsafe { config(cfg, "cfg") }.map_or(0, |cfg| lbfgs_work_len(n, &cfg))
}

/// A state before the first call (all zero, as `{0}`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_lbfgs_state_default() -> LbfgsState {
    LbfgsState::default()
}

/// The body of both precisions' C functions.
#[allow(clippy::too_many_arguments)]
unsafe fn lbfgs_c<T: LbfgsReal>(
    params: *mut T,
    len: usize,
    loss: f64,
    grads: *const T,
    work: *mut T,
    work_len: usize,
    state: *mut LbfgsState,
    cfg: *const LbfgsConfig,
    request: *mut LbfgsRequest,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`; `state` and `request` are checked by `out_ok`,
        // kept apart from the buffers, and `state` is read and written as plain integers and
        // floats (any bits are valid; `lbfgs_step` checks the indices it holds).
        unsafe {
            let cfg = config(cfg, "cfg")?;
            super::out_ok(state, "state")?;
            super::out_ok(request, "request")?;
            if work_len < lbfgs_work_len(len, &cfg) {
                let why = c"is shorter than optkern_lbfgs_work_len(len, cfg)";
                return Err(
                    Fail::new(Status::InvalidLength, "work_len", why).value(work_len as f64)
                );
            }
            let r = [
                super::Raw::new(params as *const T, len, true, "params")?,
                super::Raw::new(grads, len, false, "grads")?,
                super::Raw::new(work as *const T, work_len, true, "work")?,
                super::Raw::new(state as *const LbfgsState, 1, true, "state")?,
                super::Raw::new(request as *const LbfgsRequest, 1, true, "request")?,
            ];
            super::no_overlap(&r)?;
            let mut st = core::ptr::read(state);
            let answer = lbfgs_step::<T>(
                slice_mut(r[0]),
                loss,
                slice(r[1]),
                slice_mut(r[2]),
                &mut st,
                &cfg,
            )?;
            core::ptr::write(state, st);
            core::ptr::write(request, answer);
        }
        Ok(())
    })
}

/// [`lbfgs_step`] in `float`: `params` is the point where the caller evaluated `loss` and
/// `grads`; `*request` becomes `OPTKERN_LBFGS_REQUEST_EVALUATE` (evaluate at the new
/// `params` and call again) or `OPTKERN_LBFGS_REQUEST_DONE` (the step is over). `work` holds
/// `work_len ≥ optkern_lbfgs_work_len(len, cfg)` floats (else
/// `OPTKERN_STATUS_INVALID_LENGTH`); `state` starts as
/// `optkern_lbfgs_state_default()` and is updated only on success.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_lbfgs_step(
    params: *mut f32,
    len: usize,
    loss: f64,
    grads: *const f32,
    work: *mut f32,
    work_len: usize,
    state: *mut LbfgsState,
    cfg: *const LbfgsConfig,
    request: *mut LbfgsRequest,
    error: *mut ErrorInfo,
) -> Status {
    // SAFETY: the caller's pointers, checked by `lbfgs_c`.
    unsafe { lbfgs_c(params, len, loss, grads, work, work_len, state, cfg, request, error) }
}

/// [`optkern_lbfgs_step`] in `double` (`work` in doubles).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_lbfgs_step_f64(
    params: *mut f64,
    len: usize,
    loss: f64,
    grads: *const f64,
    work: *mut f64,
    work_len: usize,
    state: *mut LbfgsState,
    cfg: *const LbfgsConfig,
    request: *mut LbfgsRequest,
    error: *mut ErrorInfo,
) -> Status {
    // SAFETY: the caller's pointers, checked by `lbfgs_c`.
    unsafe { lbfgs_c(params, len, loss, grads, work, work_len, state, cfg, request, error) }
}

/// The `param_partials` argument of a split step's first pass.
fn param_partials_out(ptr: *mut f64, len: usize) -> PartialsOut {
    PartialsOut { ptr, len, name: "param_partials", len_name: "param_partials_len" }
}

/// The `update_partials` argument of a split step's first pass.
fn update_partials_out(ptr: *mut f64, len: usize) -> PartialsOut {
    PartialsOut { ptr, len, name: "update_partials", len_name: "update_partials_len" }
}

/// `rows·cols` elements, or `OPTKERN_STATUS_INVALID_LENGTH` for the argument `rows_name` if the
/// product overflows.
fn matrix_len(rows_name: &'static str, rows: usize, cols: usize) -> Result<usize, Fail> {
    rows.checked_mul(cols).ok_or(Fail::new(
        Status::InvalidLength,
        rows_name,
        c"times cols overflows",
    ))
}
