//! C functions for the optimizers built on the shared element-wise skeleton
//! (`src/optim/rule.rs`): `optkern_<kernel>` and `optkern_<kernel>_config_default`. Each wraps
//! the Rust function of the same name; see its documentation for the equation and the
//! package it follows.

use super::{ErrorInfo, Fail, Status, buffers, c_config, config, ffi, slice, slice_mut};
use crate::*;

c_config!(AdoptConfig, bools: [weight_decouple, fixed_decay, clip, maximize], enums: [numerics < Numerics::COUNT]);
c_config!(AdabeliefConfig, bools: [weight_decouple, fixed_decay, rectify, degenerated_to_sgd, amsgrad, maximize], enums: [numerics < Numerics::COUNT]);
c_config!(AdaboundConfig, bools: [weight_decouple, fixed_decay, amsgrad, maximize], enums: [numerics < Numerics::COUNT]);
c_config!(AdamodConfig, bools: [weight_decouple, fixed_decay, maximize], enums: [numerics < Numerics::COUNT]);
c_config!(AdampConfig, bools: [weight_decouple, fixed_decay, nesterov, maximize], enums: [numerics < Numerics::COUNT]);
c_config!(AdanConfig, bools: [weight_decouple, maximize], enums: [numerics < Numerics::COUNT]);
c_config!(AdemamixConfig, bools: [weight_decouple, fixed_decay, maximize], enums: [numerics < Numerics::COUNT]);
c_config!(DiffgradConfig, bools: [weight_decouple, fixed_decay, rectify, degenerated_to_sgd, amsgrad, maximize], enums: [numerics < Numerics::COUNT]);
c_config!(Sm3Config, bools: [maximize], enums: [numerics < Numerics::COUNT]);
c_config!(YogiConfig, bools: [maximize], enums: [numerics < Numerics::COUNT]);
c_config!(SignsgdConfig, bools: [weight_decouple, fixed_decay, maximize], enums: [numerics < Numerics::COUNT]);
c_config!(TigerConfig, bools: [weight_decouple, fixed_decay, maximize], enums: [numerics < Numerics::COUNT]);
c_config!(QhmConfig, bools: [weight_decouple, fixed_decay, maximize], enums: [numerics < Numerics::COUNT]);
c_config!(PidConfig, bools: [weight_decouple, fixed_decay, maximize], enums: [numerics < Numerics::COUNT]);
c_config!(OptimisticGdConfig, bools: [maximize], enums: [numerics < Numerics::COUNT]);

/// The defaults of [`AdoptConfig`] (`AdoptConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_adopt_config_default() -> AdoptConfig {
    AdoptConfig::default()
}

/// [`adopt_step`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_adopt_step(
    params: *mut f32,
    grads: *const f32,
    exp_avg: *mut f32,
    exp_avg_sq: *mut f32,
    len: usize,
    step: u32,
    cfg: *const AdoptConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b = buffers!(len; out params, in grads, out exp_avg, out exp_avg_sq);
            adopt_step(slice_mut(b[0]), slice(b[1]), slice_mut(b[2]), slice_mut(b[3]), step, &cfg)?;
        }
        Ok(())
    })
}

/// The defaults of [`AdabeliefConfig`] (`AdabeliefConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_adabelief_config_default() -> AdabeliefConfig {
    AdabeliefConfig::default()
}

/// [`adabelief_step`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_adabelief_step(
    params: *mut f32,
    grads: *const f32,
    exp_avg: *mut f32,
    exp_avg_var: *mut f32,
    max_exp_avg_var: *mut f32,
    len: usize,
    step: u32,
    cfg: *const AdabeliefConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b = buffers!(len; out params, in grads, out exp_avg, out exp_avg_var, opt max_exp_avg_var);
            adabelief_step(
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

/// The defaults of [`AdaboundConfig`] (`AdaboundConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_adabound_config_default() -> AdaboundConfig {
    AdaboundConfig::default()
}

/// [`adabound_step`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_adabound_step(
    params: *mut f32,
    grads: *const f32,
    exp_avg: *mut f32,
    exp_avg_sq: *mut f32,
    max_exp_avg_sq: *mut f32,
    len: usize,
    step: u32,
    cfg: *const AdaboundConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b = buffers!(len; out params, in grads, out exp_avg, out exp_avg_sq, opt max_exp_avg_sq);
            adabound_step(
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

/// The defaults of [`AdamodConfig`] (`AdamodConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_adamod_config_default() -> AdamodConfig {
    AdamodConfig::default()
}

/// [`adamod_step`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_adamod_step(
    params: *mut f32,
    grads: *const f32,
    exp_avg: *mut f32,
    exp_avg_sq: *mut f32,
    exp_avg_lr: *mut f32,
    len: usize,
    step: u32,
    cfg: *const AdamodConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b =
                buffers!(len; out params, in grads, out exp_avg, out exp_avg_sq, out exp_avg_lr);
            adamod_step(
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

/// The defaults of [`AdampConfig`] (`AdampConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_adamp_config_default() -> AdampConfig {
    AdampConfig::default()
}

/// [`adamp_step`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_adamp_step(
    params: *mut f32,
    grads: *const f32,
    exp_avg: *mut f32,
    exp_avg_sq: *mut f32,
    len: usize,
    step: u32,
    cfg: *const AdampConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b = buffers!(len; out params, in grads, out exp_avg, out exp_avg_sq);
            adamp_step(slice_mut(b[0]), slice(b[1]), slice_mut(b[2]), slice_mut(b[3]), step, &cfg)?;
        }
        Ok(())
    })
}

/// The defaults of [`AdanConfig`] (`AdanConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_adan_config_default() -> AdanConfig {
    AdanConfig::default()
}

/// [`adan_step`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_adan_step(
    params: *mut f32,
    grads: *const f32,
    exp_avg: *mut f32,
    exp_avg_diff: *mut f32,
    exp_avg_sq: *mut f32,
    previous_grad: *mut f32,
    len: usize,
    step: u32,
    cfg: *const AdanConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b = buffers!(len; out params, in grads, out exp_avg, out exp_avg_diff, out exp_avg_sq, out previous_grad);
            adan_step(
                slice_mut(b[0]),
                slice(b[1]),
                slice_mut(b[2]),
                slice_mut(b[3]),
                slice_mut(b[4]),
                slice_mut(b[5]),
                step,
                &cfg,
            )?;
        }
        Ok(())
    })
}

/// The defaults of [`AdemamixConfig`] (`AdemamixConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_ademamix_config_default() -> AdemamixConfig {
    AdemamixConfig::default()
}

/// [`ademamix_step`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_ademamix_step(
    params: *mut f32,
    grads: *const f32,
    exp_avg: *mut f32,
    exp_avg_sq: *mut f32,
    exp_avg_slow: *mut f32,
    len: usize,
    step: u32,
    cfg: *const AdemamixConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b =
                buffers!(len; out params, in grads, out exp_avg, out exp_avg_sq, out exp_avg_slow);
            ademamix_step(
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

/// The defaults of [`DiffgradConfig`] (`DiffgradConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_diffgrad_config_default() -> DiffgradConfig {
    DiffgradConfig::default()
}

/// [`diffgrad_step`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_diffgrad_step(
    params: *mut f32,
    grads: *const f32,
    exp_avg: *mut f32,
    exp_avg_sq: *mut f32,
    previous_grad: *mut f32,
    max_exp_avg_sq: *mut f32,
    len: usize,
    step: u32,
    cfg: *const DiffgradConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b = buffers!(len; out params, in grads, out exp_avg, out exp_avg_sq, out previous_grad, opt max_exp_avg_sq);
            diffgrad_step(
                slice_mut(b[0]),
                slice(b[1]),
                slice_mut(b[2]),
                slice_mut(b[3]),
                slice_mut(b[4]),
                slice_mut(b[5]),
                step,
                &cfg,
            )?;
        }
        Ok(())
    })
}

/// The defaults of [`Sm3Config`] (`Sm3Config::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_sm3_config_default() -> Sm3Config {
    Sm3Config::default()
}

/// [`sm3_step`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_sm3_step(
    params: *mut f32,
    grads: *const f32,
    accumulator: *mut f32,
    momentum_buffer: *mut f32,
    len: usize,
    cfg: *const Sm3Config,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b = buffers!(len; out params, in grads, out accumulator, opt momentum_buffer);
            sm3_step(slice_mut(b[0]), slice(b[1]), slice_mut(b[2]), slice_mut(b[3]), &cfg)?;
        }
        Ok(())
    })
}

/// The defaults of [`YogiConfig`] (`YogiConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_yogi_config_default() -> YogiConfig {
    YogiConfig::default()
}

/// [`yogi_step`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_yogi_step(
    params: *mut f32,
    grads: *const f32,
    mu: *mut f32,
    nu: *mut f32,
    len: usize,
    step: u32,
    cfg: *const YogiConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b = buffers!(len; out params, in grads, out mu, out nu);
            yogi_step(slice_mut(b[0]), slice(b[1]), slice_mut(b[2]), slice_mut(b[3]), step, &cfg)?;
        }
        Ok(())
    })
}

/// The defaults of [`SignsgdConfig`] (`SignsgdConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_signsgd_config_default() -> SignsgdConfig {
    SignsgdConfig::default()
}

/// [`signsgd_step`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_signsgd_step(
    params: *mut f32,
    grads: *const f32,
    momentum_buffer: *mut f32,
    len: usize,
    cfg: *const SignsgdConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b = buffers!(len; out params, in grads, opt momentum_buffer);
            signsgd_step(slice_mut(b[0]), slice(b[1]), slice_mut(b[2]), &cfg)?;
        }
        Ok(())
    })
}

/// The defaults of [`TigerConfig`] (`TigerConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_tiger_config_default() -> TigerConfig {
    TigerConfig::default()
}

/// [`tiger_step`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_tiger_step(
    params: *mut f32,
    grads: *const f32,
    exp_avg: *mut f32,
    len: usize,
    cfg: *const TigerConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b = buffers!(len; out params, in grads, out exp_avg);
            tiger_step(slice_mut(b[0]), slice(b[1]), slice_mut(b[2]), &cfg)?;
        }
        Ok(())
    })
}

/// The defaults of [`QhmConfig`] (`QhmConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_qhm_config_default() -> QhmConfig {
    QhmConfig::default()
}

/// [`qhm_step`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_qhm_step(
    params: *mut f32,
    grads: *const f32,
    momentum_buffer: *mut f32,
    len: usize,
    cfg: *const QhmConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b = buffers!(len; out params, in grads, out momentum_buffer);
            qhm_step(slice_mut(b[0]), slice(b[1]), slice_mut(b[2]), &cfg)?;
        }
        Ok(())
    })
}

/// The defaults of [`PidConfig`] (`PidConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_pid_config_default() -> PidConfig {
    PidConfig::default()
}

/// [`pid_step`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_pid_step(
    params: *mut f32,
    grads: *const f32,
    i_buffer: *mut f32,
    d_buffer: *mut f32,
    grad_buffer: *mut f32,
    len: usize,
    step: u32,
    cfg: *const PidConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b =
                buffers!(len; out params, in grads, opt i_buffer, opt d_buffer, opt grad_buffer);
            pid_step(
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

/// The defaults of [`OptimisticGdConfig`] (`OptimisticGdConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_optimistic_gd_config_default() -> OptimisticGdConfig {
    OptimisticGdConfig::default()
}

/// [`optimistic_gd_step`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_optimistic_gd_step(
    params: *mut f32,
    grads: *const f32,
    previous_gradient: *mut f32,
    len: usize,
    step: u32,
    cfg: *const OptimisticGdConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b = buffers!(len; out params, in grads, out previous_gradient);
            optimistic_gd_step(slice_mut(b[0]), slice(b[1]), slice_mut(b[2]), step, &cfg)?;
        }
        Ok(())
    })
}

c_config!(QhadamConfig, bools: [weight_decouple, fixed_decay, maximize], enums: [numerics < Numerics::COUNT]);
c_config!(MadgradConfig, bools: [weight_decouple, maximize], enums: [numerics < Numerics::COUNT]);
c_config!(AggmoConfig, bools: [weight_decouple, fixed_decay, maximize], enums: [numerics < Numerics::COUNT]);
c_config!(RangerConfig, bools: [degenerated_to_sgd, weight_decouple, fixed_decay, maximize], enums: [numerics < Numerics::COUNT]);
c_config!(LapropConfig, bools: [fixed_decay, centered, amsgrad, maximize], enums: [numerics < Numerics::COUNT]);
c_config!(DadaptAdamConfig, bools: [weight_decouple, fixed_decay, bias_correction, maximize], enums: [numerics < Numerics::COUNT]);
c_config!(DadaptSgdConfig, bools: [weight_decouple, fixed_decay, maximize], enums: [numerics < Numerics::COUNT]);
c_config!(NovogradConfig, bools: [maximize], enums: [numerics < Numerics::COUNT]);
c_config!(StableAdamwConfig, bools: [maximize], enums: [numerics < Numerics::COUNT]);
c_config!(MarsConfig, bools: [optimize_1d, maximize], enums: [mars_type < 2, numerics < Numerics::COUNT]);
c_config!(FromageConfig, bools: [maximize], enums: [numerics < Numerics::COUNT]);
c_config!(CameConfig, bools: [weight_decouple, fixed_decay, amsgrad, maximize], enums: [numerics < Numerics::COUNT]);
c_config!(ProdigyConfig, bools: [decouple, use_bias_correction, safeguard_warmup, maximize], enums: [numerics < Numerics::COUNT]);
c_config!(SgdScheduleFreeConfig, bools: [maximize], enums: [numerics < Numerics::COUNT]);
c_config!(AdamwScheduleFreeConfig, bools: [decay_at_z, silent_sgd_phase, maximize], enums: [numerics < Numerics::COUNT]);

/// The defaults of [`SgdScheduleFreeConfig`] (`SgdScheduleFreeConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_sgd_schedulefree_config_default() -> SgdScheduleFreeConfig {
    SgdScheduleFreeConfig::default()
}

/// The defaults of [`AdamwScheduleFreeConfig`] (`AdamwScheduleFreeConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_adamw_schedulefree_config_default() -> AdamwScheduleFreeConfig {
    AdamwScheduleFreeConfig::default()
}

/// [`sgd_schedulefree_step`]: `state` is read and, on success, advanced.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_sgd_schedulefree_step(
    params: *mut f32,
    grads: *const f32,
    z: *mut f32,
    state: *mut ScheduleFreeState,
    len: usize,
    cfg: *const SgdScheduleFreeConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`; `state` as in `optkern_nadam_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            super::out_ok(state, "state")?;
            let mut st = core::ptr::read(state);
            let b = buffers!(len; out params, in grads, out z);
            sgd_schedulefree_step(slice_mut(b[0]), slice(b[1]), slice_mut(b[2]), &mut st, &cfg)?;
            core::ptr::write(state, st);
        }
        Ok(())
    })
}

/// [`sgd_schedulefree_reference_step`]: `state` is read and, on success, advanced.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_sgd_schedulefree_reference_step(
    params: *mut f32,
    grads: *const f32,
    z: *mut f32,
    x: *mut f32,
    state: *mut ScheduleFreeState,
    len: usize,
    cfg: *const SgdScheduleFreeConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`; `state` as in `optkern_nadam_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            super::out_ok(state, "state")?;
            let mut st = core::ptr::read(state);
            let b = buffers!(len; out params, in grads, out z, out x);
            sgd_schedulefree_reference_step(
                slice_mut(b[0]),
                slice(b[1]),
                slice_mut(b[2]),
                slice_mut(b[3]),
                &mut st,
                &cfg,
            )?;
            core::ptr::write(state, st);
        }
        Ok(())
    })
}

/// [`adamw_schedulefree_step`]: `state` is read and, on success, advanced.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_adamw_schedulefree_step(
    params: *mut f32,
    grads: *const f32,
    z: *mut f32,
    exp_avg_sq: *mut f32,
    state: *mut ScheduleFreeState,
    len: usize,
    cfg: *const AdamwScheduleFreeConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`; `state` as in `optkern_nadam_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            super::out_ok(state, "state")?;
            let mut st = core::ptr::read(state);
            let b = buffers!(len; out params, in grads, out z, out exp_avg_sq);
            adamw_schedulefree_step(
                slice_mut(b[0]),
                slice(b[1]),
                slice_mut(b[2]),
                slice_mut(b[3]),
                &mut st,
                &cfg,
            )?;
            core::ptr::write(state, st);
        }
        Ok(())
    })
}

/// [`adamw_schedulefree_reference_step`]: `state` is read and, on success, advanced.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_adamw_schedulefree_reference_step(
    params: *mut f32,
    grads: *const f32,
    z: *mut f32,
    x: *mut f32,
    exp_avg_sq: *mut f32,
    state: *mut ScheduleFreeState,
    len: usize,
    cfg: *const AdamwScheduleFreeConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`; `state` as in `optkern_nadam_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            super::out_ok(state, "state")?;
            let mut st = core::ptr::read(state);
            let b = buffers!(len; out params, in grads, out z, out x, out exp_avg_sq);
            adamw_schedulefree_reference_step(
                slice_mut(b[0]),
                slice(b[1]),
                slice_mut(b[2]),
                slice_mut(b[3]),
                slice_mut(b[4]),
                &mut st,
                &cfg,
            )?;
            core::ptr::write(state, st);
        }
        Ok(())
    })
}

/// [`radam_schedulefree_step`]: `state` is read and, on success, advanced.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_radam_schedulefree_step(
    params: *mut f32,
    grads: *const f32,
    z: *mut f32,
    exp_avg_sq: *mut f32,
    state: *mut ScheduleFreeState,
    len: usize,
    cfg: *const AdamwScheduleFreeConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`; `state` as in `optkern_nadam_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            super::out_ok(state, "state")?;
            let mut st = core::ptr::read(state);
            let b = buffers!(len; out params, in grads, out z, out exp_avg_sq);
            radam_schedulefree_step(
                slice_mut(b[0]),
                slice(b[1]),
                slice_mut(b[2]),
                slice_mut(b[3]),
                &mut st,
                &cfg,
            )?;
            core::ptr::write(state, st);
        }
        Ok(())
    })
}

/// [`schedulefree_eval`]: `numerics` is an `optkern_numerics` value.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_schedulefree_eval(
    params: *mut f32,
    z: *const f32,
    len: usize,
    beta: f64,
    numerics: u32,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "numerics", || {
        let numerics = numerics_arg(numerics)?;
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let b = buffers!(len; out params, in z);
            schedulefree_eval(slice_mut(b[0]), slice(b[1]), beta, numerics)?;
        }
        Ok(())
    })
}

/// [`schedulefree_train`]: `numerics` is an `optkern_numerics` value.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_schedulefree_train(
    params: *mut f32,
    z: *const f32,
    len: usize,
    beta: f64,
    numerics: u32,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "numerics", || {
        let numerics = numerics_arg(numerics)?;
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let b = buffers!(len; out params, in z);
            schedulefree_train(slice_mut(b[0]), slice(b[1]), beta, numerics)?;
        }
        Ok(())
    })
}

/// The profile from its C value (`optkern_numerics`; Bitsandbytes and Fast are refused by the kernels without them).
fn numerics_arg(value: u32) -> Result<Numerics, Fail> {
    match value {
        0 => Ok(Numerics::Torch),
        1 => Ok(Numerics::Portable),
        2 => Ok(Numerics::Bitsandbytes),
        3 => Ok(Numerics::Fast),
        4 => Ok(Numerics::Torchao),
        _ => Err(super::bad_enum(
            Status::InvalidHyperparameter,
            "numerics",
            value,
            c"is not 0 (torch), 1 (portable), 2 (bitsandbytes), 3 (fast) or 4 (torchao)",
        )),
    }
}

/// The defaults of [`ProdigyConfig`] (`ProdigyConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_prodigy_config_default() -> ProdigyConfig {
    ProdigyConfig::default()
}

/// A fresh [`ProdigyState`] (`ProdigyState::new(d0)`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_prodigy_state_new(d0: f64) -> ProdigyState {
    ProdigyState::new(d0)
}

/// [`prodigy_accumulate`]: call it on every tensor, in order, then
/// `optkern_prodigy_update_d` once, then `optkern_prodigy_apply` on every tensor.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_prodigy_accumulate(
    params: *const f32,
    grads: *const f32,
    p0: *const f32,
    s: *mut f32,
    exp_avg: *mut f32,
    exp_avg_sq: *mut f32,
    state: *mut ProdigyState,
    len: usize,
    cfg: *const ProdigyConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`; `state` as in `optkern_nadam_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            super::out_ok(state, "state")?;
            let mut st = core::ptr::read(state);
            let b = buffers!(len; in params, in grads, in p0, out s, out exp_avg, out exp_avg_sq);
            prodigy_accumulate(
                slice(b[0]),
                slice(b[1]),
                slice(b[2]),
                slice_mut(b[3]),
                slice_mut(b[4]),
                slice_mut(b[5]),
                &mut st,
                &cfg,
            )?;
            core::ptr::write(state, st);
        }
        Ok(())
    })
}

/// [`prodigy_update_d`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_prodigy_update_d(
    state: *mut ProdigyState,
    cfg: *const ProdigyConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_nadam_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            super::out_ok(state, "state")?;
            let mut st = core::ptr::read(state);
            prodigy_update_d(&mut st, &cfg)?;
            core::ptr::write(state, st);
        }
        Ok(())
    })
}

/// [`prodigy_apply`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_prodigy_apply(
    params: *mut f32,
    exp_avg: *const f32,
    exp_avg_sq: *const f32,
    state: *const ProdigyState,
    len: usize,
    cfg: *const ProdigyConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`; `state` is read as a plain struct of numbers.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            super::out_ok(state.cast_mut(), "state")?;
            let st = core::ptr::read(state);
            let b = buffers!(len; out params, in exp_avg, in exp_avg_sq);
            prodigy_apply(slice_mut(b[0]), slice(b[1]), slice(b[2]), &st, &cfg)?;
        }
        Ok(())
    })
}

/// The defaults of [`QhadamConfig`] (`QhadamConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_qhadam_config_default() -> QhadamConfig {
    QhadamConfig::default()
}

/// The defaults of [`MadgradConfig`] (`MadgradConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_madgrad_config_default() -> MadgradConfig {
    MadgradConfig::default()
}

/// The defaults of [`AggmoConfig`] (`AggmoConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_aggmo_config_default() -> AggmoConfig {
    AggmoConfig::default()
}

/// The defaults of [`RangerConfig`] (`RangerConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_ranger_config_default() -> RangerConfig {
    RangerConfig::default()
}

/// [`qhadam_step`]: `state` (start from zeros) is advanced on success only.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_qhadam_step(
    params: *mut f32,
    grads: *const f32,
    exp_avg: *mut f32,
    exp_avg_sq: *mut f32,
    state: *mut QhadamState,
    len: usize,
    cfg: *const QhadamConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`; `state` as in `optkern_nadam_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            super::out_ok(state, "state")?;
            let mut st = core::ptr::read(state);
            let b = buffers!(len; out params, in grads, out exp_avg, out exp_avg_sq);
            qhadam_step(
                slice_mut(b[0]),
                slice(b[1]),
                slice_mut(b[2]),
                slice_mut(b[3]),
                &mut st,
                &cfg,
            )?;
            core::ptr::write(state, st);
        }
        Ok(())
    })
}

/// [`madgrad_step`]: `state` (start from `{ .k = 0 }`) is advanced on success only.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_madgrad_step(
    params: *mut f32,
    grads: *const f32,
    grad_sum_sq: *mut f32,
    s: *mut f32,
    x0: *mut f32,
    state: *mut MadgradState,
    len: usize,
    cfg: *const MadgradConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`; `state` as in `optkern_nadam_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            super::out_ok(state, "state")?;
            let mut st = core::ptr::read(state);
            let b = buffers!(len; out params, in grads, out grad_sum_sq, out s, opt x0);
            madgrad_step(
                slice_mut(b[0]),
                slice(b[1]),
                slice_mut(b[2]),
                slice_mut(b[3]),
                slice_mut(b[4]),
                &mut st,
                &cfg,
            )?;
            core::ptr::write(state, st);
        }
        Ok(())
    })
}

/// [`aggmo_step`]: the buffers after the first `betas_len` may be NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_aggmo_step(
    params: *mut f32,
    grads: *const f32,
    buffer0: *mut f32,
    buffer1: *mut f32,
    buffer2: *mut f32,
    buffer3: *mut f32,
    len: usize,
    cfg: *const AggmoConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b = buffers!(len; out params, in grads, out buffer0, opt buffer1, opt buffer2, opt buffer3);
            aggmo_step(
                slice_mut(b[0]),
                slice(b[1]),
                slice_mut(b[2]),
                slice_mut(b[3]),
                slice_mut(b[4]),
                slice_mut(b[5]),
                &cfg,
            )?;
        }
        Ok(())
    })
}

/// [`ranger_step`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_ranger_step(
    params: *mut f32,
    grads: *const f32,
    exp_avg: *mut f32,
    exp_avg_sq: *mut f32,
    slow_buffer: *mut f32,
    len: usize,
    step: u32,
    cfg: *const RangerConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b =
                buffers!(len; out params, in grads, out exp_avg, out exp_avg_sq, out slow_buffer);
            ranger_step(
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

/// [`lookahead_sync`]: `numerics` is an `optkern_numerics` value.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_lookahead_sync(
    fast: *mut f32,
    slow: *mut f32,
    len: usize,
    alpha: f64,
    numerics: u32,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "numerics", || {
        let numerics = numerics_arg(numerics)?;
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let b = buffers!(len; out fast, out slow);
            lookahead_sync(slice_mut(b[0]), slice_mut(b[1]), alpha, numerics)?;
        }
        Ok(())
    })
}

/// The defaults of [`LapropConfig`] (`LapropConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_laprop_config_default() -> LapropConfig {
    LapropConfig::default()
}

/// [`laprop_step`]: `exp_mean_avg_beta2` and `max_exp_avg_sq` may be NULL when unused;
/// `state` (start from zeros) is advanced on success only.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_laprop_step(
    params: *mut f32,
    grads: *const f32,
    exp_avg: *mut f32,
    exp_avg_sq: *mut f32,
    exp_mean_avg_beta2: *mut f32,
    max_exp_avg_sq: *mut f32,
    state: *mut LapropState,
    len: usize,
    step: u32,
    cfg: *const LapropConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`; `state` as in `optkern_nadam_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            super::out_ok(state, "state")?;
            let mut st = core::ptr::read(state);
            let b = buffers!(len; out params, in grads, out exp_avg, out exp_avg_sq, opt exp_mean_avg_beta2, opt max_exp_avg_sq);
            laprop_step(
                slice_mut(b[0]),
                slice(b[1]),
                slice_mut(b[2]),
                slice_mut(b[3]),
                slice_mut(b[4]),
                slice_mut(b[5]),
                step,
                &mut st,
                &cfg,
            )?;
            core::ptr::write(state, st);
        }
        Ok(())
    })
}

/// The defaults of [`DadaptAdamConfig`] (`DadaptAdamConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_dadapt_adam_config_default() -> DadaptAdamConfig {
    DadaptAdamConfig::default()
}

/// The defaults of [`DadaptSgdConfig`] (`DadaptSgdConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_dadapt_sgd_config_default() -> DadaptSgdConfig {
    DadaptSgdConfig::default()
}

/// A fresh [`DadaptState`] (`DadaptState::new(d0)`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_dadapt_state_new(d0: f64) -> DadaptState {
    DadaptState::new(d0)
}

/// [`dadapt_adam_step`]: every tensor in order, then `optkern_dadapt_update_d` once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_dadapt_adam_step(
    params: *mut f32,
    grads: *const f32,
    exp_avg: *mut f32,
    exp_avg_sq: *mut f32,
    s: *mut f32,
    state: *mut DadaptState,
    len: usize,
    cfg: *const DadaptAdamConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`; `state` as in `optkern_nadam_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            super::out_ok(state, "state")?;
            let mut st = core::ptr::read(state);
            let b = buffers!(len; out params, in grads, out exp_avg, out exp_avg_sq, out s);
            dadapt_adam_step(
                slice_mut(b[0]),
                slice(b[1]),
                slice_mut(b[2]),
                slice_mut(b[3]),
                slice_mut(b[4]),
                &mut st,
                &cfg,
            )?;
            core::ptr::write(state, st);
        }
        Ok(())
    })
}

/// [`dadapt_sgd_step`]: every tensor in order, then `optkern_dadapt_update_d` once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_dadapt_sgd_step(
    params: *mut f32,
    grads: *const f32,
    s: *mut f32,
    x0: *const f32,
    z: *mut f32,
    state: *mut DadaptState,
    len: usize,
    cfg: *const DadaptSgdConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`; `state` as in `optkern_nadam_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            super::out_ok(state, "state")?;
            let mut st = core::ptr::read(state);
            let b = buffers!(len; out params, in grads, out s, in x0, out z);
            dadapt_sgd_step(
                slice_mut(b[0]),
                slice(b[1]),
                slice_mut(b[2]),
                slice(b[3]),
                slice_mut(b[4]),
                &mut st,
                &cfg,
            )?;
            core::ptr::write(state, st);
        }
        Ok(())
    })
}

/// [`dadapt_update_d`]: `variant` 0 = Adam, 1 = SGD.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_dadapt_update_d(
    state: *mut DadaptState,
    variant: u32,
    lr: f64,
    beta2: f64,
    growth_rate: f64,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "variant", || {
        let variant = match variant {
            0 => Dadapt::Adam,
            1 => Dadapt::Sgd,
            v => {
                return Err(super::bad_enum(
                    Status::InvalidHyperparameter,
                    "variant",
                    v,
                    c"is not 0 (Adam) or 1 (SGD)",
                ));
            }
        };
        // SAFETY: as in `optkern_nadam_step`.
        unsafe {
            super::out_ok(state, "state")?;
            let mut st = core::ptr::read(state);
            dadapt_update_d(&mut st, variant, lr, beta2, growth_rate)?;
            core::ptr::write(state, st);
        }
        Ok(())
    })
}

/// The defaults of [`NovogradConfig`] (`NovogradConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_novograd_config_default() -> NovogradConfig {
    NovogradConfig::default()
}

/// [`novograd_step`]: `state` (start from zero) is advanced on success only.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_novograd_step(
    params: *mut f32,
    grads: *const f32,
    mu: *mut f32,
    state: *mut NovogradState,
    len: usize,
    step: u32,
    cfg: *const NovogradConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`; `state` as in `optkern_nadam_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            super::out_ok(state, "state")?;
            let mut st = core::ptr::read(state);
            let b = buffers!(len; out params, in grads, out mu);
            novograd_step(slice_mut(b[0]), slice(b[1]), slice_mut(b[2]), step, &mut st, &cfg)?;
            core::ptr::write(state, st);
        }
        Ok(())
    })
}

/// The defaults of [`StableAdamwConfig`] (`StableAdamwConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_stable_adamw_config_default() -> StableAdamwConfig {
    StableAdamwConfig::default()
}

/// [`stable_adamw_step`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_stable_adamw_step(
    params: *mut f32,
    grads: *const f32,
    exp_avg: *mut f32,
    exp_avg_sq: *mut f32,
    len: usize,
    step: u32,
    cfg: *const StableAdamwConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b = buffers!(len; out params, in grads, out exp_avg, out exp_avg_sq);
            stable_adamw_step(
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

/// The defaults of [`MarsConfig`] (`MarsConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_mars_config_default() -> MarsConfig {
    MarsConfig::default()
}

/// [`mars_step`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_mars_step(
    params: *mut f32,
    grads: *const f32,
    exp_avg: *mut f32,
    exp_avg_sq: *mut f32,
    last_grad: *mut f32,
    len: usize,
    step: u32,
    cfg: *const MarsConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let b = buffers!(len; out params, in grads, out exp_avg, out exp_avg_sq, out last_grad);
            mars_step(
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

/// The defaults of [`FromageConfig`] (`FromageConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_fromage_config_default() -> FromageConfig {
    FromageConfig::default()
}

/// [`fromage_step`]: `state` (start from zero) is set on step 1.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_fromage_step(
    params: *mut f32,
    grads: *const f32,
    state: *mut FromageState,
    len: usize,
    step: u32,
    cfg: *const FromageConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`; `state` as in `optkern_nadam_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            super::out_ok(state, "state")?;
            let mut st = core::ptr::read(state);
            let b = buffers!(len; out params, in grads);
            fromage_step(slice_mut(b[0]), slice(b[1]), step, &mut st, &cfg)?;
            core::ptr::write(state, st);
        }
        Ok(())
    })
}

/// The defaults of [`CameConfig`] (`CameConfig::default()`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_came_config_default() -> CameConfig {
    CameConfig::default()
}

/// [`came_step`]: `exp_avg_sq_hat` may be NULL without `amsgrad`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_came_step(
    params: *mut f32,
    grads: *const f32,
    exp_avg: *mut f32,
    exp_avg_sq: *mut f32,
    exp_avg_sq_hat: *mut f32,
    state: *mut CameState,
    len: usize,
    cfg: *const CameConfig,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: as in `optkern_sgd_step`; `state` as in `optkern_nadam_step`.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            super::out_ok(state, "state")?;
            let mut st = core::ptr::read(state);
            let b = buffers!(len; out params, in grads, out exp_avg, out exp_avg_sq, opt exp_avg_sq_hat);
            came_step(
                slice_mut(b[0]),
                slice(b[1]),
                slice_mut(b[2]),
                slice_mut(b[3]),
                slice_mut(b[4]),
                &mut st,
                &cfg,
            )?;
            core::ptr::write(state, st);
        }
        Ok(())
    })
}
