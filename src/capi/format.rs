//! C functions for mixed storage formats: `optkern_<kernel>_step_mixed` takes every buffer as
//! an `optkern_buffer` (a format tag and its pointers) and an `optkern_placement`; see
//! `optkern::format` for the formats and `optkern::<kernel>_step_mixed` for each kernel.
//!
//! Checks, before any write: the scalar state pointer (NAdam, ASGD), the config, then every
//! descriptor (NULL, misaligned, an unknown
//! format/rounding/map/quantizer value → `OPTKERN_STATUS_INVALID_FORMAT`; a format the
//! argument cannot take, e.g. q8 gradients, too), every pointer it holds (as for the f32
//! functions, with `len` elements of the format's size — `ceil(len / 2)` bytes for q4 —,
//! `ceil(len / block)` scales for q8/q4/fp8, `len` copy elements), overlaps between every
//! written region and every other, and then the kernel's checks (a quantized state with
//! `offset` not a multiple of its block → `OPTKERN_STATUS_BLOCK_MISALIGNED`).

use super::{ErrorInfo, Fail, Raw, Status, config, ffi, no_overlap, slice, slice_mut};
use crate::Error;
use crate::format::{
    Grads, HalfCopy, Params, Placement, Q4Map, Q8Map, Quant, Quantizer, Rounding, State, bf16, f16,
};
use crate::*;
use core::ffi::c_void;

/// A buffer's storage format (`optkern_format`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `float`.
    F32 = 0,
    /// bfloat16 (`uint16_t` bits).
    Bf16 = 1,
    /// IEEE binary16 (`uint16_t` bits).
    F16 = 2,
    /// 8-bit codes (`uint8_t`) with one `float` absmax per 256 elements.
    Q8 = 3,
    /// No buffer (a state the options do not use).
    Unused = 4,
    /// torchao's 4-bit codes, two per `uint8_t` (even element high), with one `float` scale
    /// per 128 elements.
    Q4 = 5,
    /// torchao's `float8_e4m3fn` codes (`uint8_t`) with one `float` scale per 256 elements.
    Fp8 = 6,
}

/// One buffer of a mixed-format call (`optkern_buffer`). Enum-like fields are `uint32_t`
/// and checked.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Buffer {
    /// An `optkern_format` value.
    pub format: u32,
    /// The values (`float`, bf16/f16 bits, or q8/q4/fp8 codes); NULL only when `len == 0` or
    /// unused.
    pub data: *mut c_void,
    /// q8, fp8: `ceil(len / 256)` scales; q4: `ceil(len / 128)`; otherwise ignored.
    pub absmax: *mut f32,
    /// bf16 parameters or states: 0 round to nearest even, 1 stochastic.
    pub rounding: u32,
    /// q8: 0 bitsandbytes' signed map, 1 the unsigned one; q4: 0 torchao's signed map, 1 its
    /// unsigned one.
    pub map: u32,
    /// q8: 0 nearest, 1 bitsandbytes' CPU quantizer, 2 torchao's 8-bit quantizer.
    pub quantizer: u32,
    /// Parameters only. With an f32 master: a bf16 (`copy_format = 1`) or f16 (2) copy of the
    /// new values written in the same pass. With bf16 parameters: their bf16 Kahan
    /// compensation (`copy_format = 1`, `rounding = 0`; `Params::Bf16Kahan`). NULL for none.
    pub copy: *mut c_void,
    /// The copy's `optkern_format` (1 or 2) when `copy` is not NULL.
    pub copy_format: u32,
}

/// An f32 buffer descriptor (`optkern_buffer_f32`): the common case, for brevity in C.
#[unsafe(no_mangle)]
pub extern "C" fn optkern_buffer_f32(data: *mut f32) -> Buffer {
    Buffer {
        format: Format::F32 as u32,
        data: data.cast(),
        absmax: core::ptr::null_mut(),
        rounding: 0,
        map: 0,
        quantizer: 0,
        copy: core::ptr::null_mut(),
        copy_format: 0,
    }
}

/// What a descriptor is used as.
#[derive(Clone, Copy, PartialEq)]
enum Role {
    Params,
    Grads,
    State,
}

/// A checked descriptor: its regions (values, absmax, copy) and enum fields.
struct Checked {
    b: Buffer,
    format: Format,
    /// The block-quantized format, for q8, q4 and fp8.
    quant: Option<Quant>,
    raws: [Raw; 3],
}

impl Checked {
    /// An unused buffer (no regions).
    fn unused() -> Self {
        let mut b = optkern_buffer_f32(core::ptr::null_mut());
        b.format = Format::Unused as u32;
        Checked { b, format: Format::Unused, quant: None, raws: [Raw::EMPTY; 3] }
    }
}

/// Reads and checks a descriptor, before any write.
///
/// # Safety
/// `p` is NULL or points to a readable `optkern_buffer`; its pointers are valid for the
/// regions the format needs.
unsafe fn checked(
    p: *const Buffer,
    role: Role,
    len: usize,
    name: &'static str,
) -> Result<Checked, Fail> {
    if p.is_null() {
        return Err(Fail::new(Status::NullPointer, name, c"is NULL"));
    }
    if !(p as usize).is_multiple_of(align_of::<Buffer>()) {
        return Err(Fail::new(Status::Misaligned, name, c"is not aligned for optkern_buffer"));
    }
    let bad = |field: &'static str, why: &'static core::ffi::CStr, value: u32| {
        Err(Fail::new(Status::InvalidFormat, name, why).field(field).value(f64::from(value)))
    };
    // SAFETY: non-null, aligned, readable (caller); every field is plain data.
    let b = unsafe { core::ptr::read(p) };
    let format = match b.format {
        0 => Format::F32,
        1 => Format::Bf16,
        2 => Format::F16,
        3 => Format::Q8,
        4 => Format::Unused,
        5 => Format::Q4,
        6 => Format::Fp8,
        _ => return bad("format", c"is not an optkern_format constant", b.format),
    };
    let takes = match role {
        Role::Params => matches!(format, Format::F32 | Format::Bf16),
        Role::Grads => matches!(format, Format::F32 | Format::Bf16 | Format::F16),
        Role::State => !matches!(format, Format::F16),
    };
    if !takes {
        return bad("format", c"is a format this argument cannot take", b.format);
    }
    if b.rounding > 1 {
        return bad("rounding", c"is not 0 (nearest) or 1 (stochastic)", b.rounding);
    }
    let quant = quant_of(format, b.map, b.quantizer).map_err(|f| f.of(name))?;
    let written = role != Role::Grads;
    let none = || Ok::<Raw, Fail>(Raw::EMPTY);
    let data = match (format, quant) {
        (_, Some(q)) => Raw::new(b.data.cast::<u8>(), q.code_bytes(len), written, name),
        (Format::F32, _) => Raw::new(b.data.cast::<f32>(), len, written, name),
        (Format::Bf16 | Format::F16, _) => Raw::new(b.data.cast::<u16>(), len, written, name),
        _ => none(),
    }
    .map_err(|f| f.field("data"))?;
    let absmax = match quant {
        Some(q) => Raw::new(b.absmax.cast_const(), q.scales(len), true, name),
        None => none(),
    }
    .map_err(|f| f.field("absmax"))?;
    // Parameters: an f32 master's half copy, or bf16 values' Kahan compensation (bf16).
    let copy = if role == Role::Params && !b.copy.is_null() {
        if format == Format::F32 && !matches!(b.copy_format, 1 | 2) {
            return bad("copy_format", c"is not 1 (bf16) or 2 (f16)", b.copy_format);
        }
        if format == Format::Bf16 && b.copy_format != 1 {
            return bad("copy_format", c"is not 1 (a bf16 compensation)", b.copy_format);
        }
        if format == Format::Bf16 && b.rounding != 0 {
            return bad("rounding", c"is not 0 (Kahan compensation rounds to nearest)", b.rounding);
        }
        Raw::new(b.copy.cast::<u16>().cast_const(), len, true, name).map_err(|f| f.field("copy"))?
    } else {
        none()?
    };
    Ok(Checked { b, format, quant, raws: [data, absmax, copy] })
}

/// # Safety
/// The regions of `c` are valid and do not overlap any other written region of the call.
unsafe fn rounding(c: &Checked) -> Rounding {
    if c.b.rounding == 1 { Rounding::Stochastic } else { Rounding::Nearest }
}

/// # Safety
/// As [`rounding`].
unsafe fn as_params<'a>(c: &Checked) -> Params<'a> {
    // SAFETY: the regions were checked and do not overlap (caller).
    unsafe {
        match c.format {
            Format::Bf16 if !c.b.copy.is_null() => Params::Bf16Kahan {
                values: slice_mut::<bf16>(c.raws[0]),
                compensation: slice_mut::<bf16>(c.raws[2]),
            },
            Format::Bf16 => {
                Params::Bf16 { values: slice_mut::<bf16>(c.raws[0]), rounding: rounding(c) }
            }
            _ if !c.b.copy.is_null() => {
                let copy = if c.b.copy_format == 2 {
                    HalfCopy::F16(slice_mut::<f16>(c.raws[2]))
                } else {
                    HalfCopy::Bf16(slice_mut::<bf16>(c.raws[2]))
                };
                Params::F32WithCopy { master: slice_mut(c.raws[0]), copy }
            }
            _ => Params::F32(slice_mut(c.raws[0])),
        }
    }
}

/// # Safety
/// As [`rounding`].
unsafe fn as_grads<'a>(c: &Checked) -> Grads<'a> {
    // SAFETY: as in `params`.
    unsafe {
        match c.format {
            Format::Bf16 => Grads::Bf16(slice::<bf16>(c.raws[0])),
            Format::F16 => Grads::F16(slice::<f16>(c.raws[0])),
            _ => Grads::F32(slice(c.raws[0])),
        }
    }
}

/// # Safety
/// As [`rounding`].
unsafe fn as_state<'a>(c: &Checked) -> State<'a> {
    // SAFETY: as in `params`.
    unsafe {
        match c.format {
            Format::Bf16 => {
                State::Bf16 { values: slice_mut::<bf16>(c.raws[0]), rounding: rounding(c) }
            }
            _ if c.quant.is_some() => {
                let (codes, scales) = (slice_mut::<u8>(c.raws[0]), slice_mut(c.raws[1]));
                match c.quant {
                    Some(Quant::Q8(map, quantizer)) => {
                        State::Q8 { codes, absmax: scales, map, quantizer }
                    }
                    Some(Quant::Q4(map)) => State::Q4 { codes, scale: scales, map },
                    _ => State::Fp8 { codes, scale: scales },
                }
            }
            Format::Unused => State::Unused,
            _ => State::F32(slice_mut(c.raws[0])),
        }
    }
}

/// Reads the placement (NULL: offset 0, seed 0, counter 0).
///
/// # Safety
/// `p` is NULL or points to a readable `optkern_placement`.
unsafe fn placement(p: *const Placement) -> Result<Placement, Fail> {
    if p.is_null() {
        return Ok(Placement::default());
    }
    if !(p as usize).is_multiple_of(align_of::<Placement>()) {
        return Err(Fail::new(Status::Misaligned, "at", c"is not aligned for optkern_placement"));
    }
    // SAFETY: non-null, aligned, readable; plain integers.
    Ok(unsafe { core::ptr::read(p) })
}

/// Checks `params`, `grads` and the states (in argument order: the first problem is the one
/// reported), and every region against every other.
///
/// # Safety
/// As [`checked`] for each.
unsafe fn check_all<const S: usize>(
    len: usize,
    p: *const Buffer,
    g: *const Buffer,
    states: [(*const Buffer, &'static str); S],
) -> Result<(Checked, Checked, [Checked; S]), Fail> {
    // SAFETY: forwarded from the caller.
    unsafe {
        let p = checked(p, Role::Params, len, "params")?;
        let g = checked(g, Role::Grads, len, "grads")?;
        let mut first_error = Ok(());
        let s: [Checked; S] = states.map(|(state, name)| {
            checked(state, Role::State, len, name).unwrap_or_else(|e| {
                if first_error.is_ok() {
                    first_error = Err(e);
                }
                Checked::unused()
            })
        });
        first_error?;
        let mut raws = [Raw::EMPTY; 3 * (2 + 5)];
        let mut n = 0;
        for c in [&p, &g].into_iter().chain(s.iter()) {
            for r in c.raws {
                if let Some(slot) = raws.get_mut(n) {
                    *slot = r;
                    n += 1;
                }
            }
        }
        no_overlap(raws.get(..n).unwrap_or_default())?;
        Ok((p, g, s))
    }
}

/// The body of every `optkern_<kernel>_step_mixed`: the config, the placement, every
/// descriptor and region checked, then `call` with the Rust arguments.
///
/// # Safety
/// As [`checked`] for each descriptor; `cfg` and `at` as for the f32 functions.
#[allow(clippy::too_many_arguments)]
unsafe fn mixed_call<C: super::CConfig, const S: usize>(
    error: *mut ErrorInfo,
    cfg: *const C,
    at: *const Placement,
    params: *const Buffer,
    grads: *const Buffer,
    states: [(*const Buffer, &'static str); S],
    len: usize,
    call: impl FnOnce(&C, Params, Grads, [State; S], &Placement) -> Result<(), Error>,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: the config, the placement and every descriptor and region are checked
        // (NULL, alignment, size, enum values, overlap) before a slice is made; the caller
        // guarantees each pointer is valid for what its format needs.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            let at = placement(at)?;
            let (p, g, s) = check_all(len, params, grads, states)?;
            let states = s.each_ref().map(|c| as_state(c));
            call(&cfg, as_params(&p), as_grads(&g), states, &at)?;
        }
        Ok(())
    })
}

/// A scalar state: read, and written back only on success.
///
/// # Safety
/// `p` passed `out_ok` and is valid for reads and writes of a `T` (plain f32 fields: any bits
/// are valid).
unsafe fn with_state<T: Copy>(
    p: *mut T,
    f: impl FnOnce(&mut T) -> Result<(), Error>,
) -> Result<(), Error> {
    // SAFETY: non-null and aligned (checked by the caller), readable and writable.
    let mut v = unsafe { core::ptr::read(p) };
    f(&mut v)?;
    // SAFETY: as above.
    unsafe { core::ptr::write(p, v) };
    Ok(())
}

/// [`mixed_call`] for a kernel with a scalar state: `state` is checked first (NULL or
/// misaligned: nothing is written, the buffers are not looked at), then read, and written back
/// only on success.
///
/// # Safety
/// As [`mixed_call`]; `state`, if it passes the check, is valid for reads and writes of a `T`.
#[allow(clippy::too_many_arguments)]
unsafe fn mixed_call_with_state<C: super::CConfig, T: Copy, const S: usize>(
    error: *mut ErrorInfo,
    cfg: *const C,
    at: *const Placement,
    params: *const Buffer,
    grads: *const Buffer,
    states: [(*const Buffer, &'static str); S],
    len: usize,
    state: *mut T,
    call: impl FnOnce(&C, Params, Grads, [State; S], &mut T, &Placement) -> Result<(), Error>,
) -> Status {
    if let Err(fail) = super::out_ok(state, "state") {
        return ffi(error, "cfg", || Err(fail));
    }
    // SAFETY: forwarded to `mixed_call`; `state` as `with_state` requires (checked above).
    unsafe {
        mixed_call(error, cfg, at, params, grads, states, len, |c, p, g, s, at| {
            with_state(state, |st| call(c, p, g, s, st, at))
        })
    }
}

/// [`adam_step_mixed`] (AdamW with `decoupled_weight_decay`).
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn optkern_adam_step_mixed(
    params: *const Buffer,
    grads: *const Buffer,
    exp_avg: *const Buffer,
    exp_avg_sq: *const Buffer,
    max_exp_avg_sq: *const Buffer,
    len: usize,
    step: u32,
    cfg: *const AdamConfig,
    at: *const Placement,
    error: *mut ErrorInfo,
) -> Status {
    let s = [(exp_avg, "exp_avg"), (exp_avg_sq, "exp_avg_sq"), (max_exp_avg_sq, "max_exp_avg_sq")];
    // SAFETY: forwarded to `mixed_call`.
    unsafe {
        mixed_call(error, cfg, at, params, grads, s, len, |c, p, g, [m, v, vmax], at| {
            adam_step_mixed(p, g, m, v, vmax, step, c, at)
        })
    }
}

/// [`sgd_step_mixed`].
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn optkern_sgd_step_mixed(
    params: *const Buffer,
    grads: *const Buffer,
    momentum_buffer: *const Buffer,
    len: usize,
    step: u32,
    cfg: *const SgdConfig,
    at: *const Placement,
    error: *mut ErrorInfo,
) -> Status {
    // SAFETY: forwarded to `mixed_call`.
    unsafe {
        mixed_call(
            error,
            cfg,
            at,
            params,
            grads,
            [(momentum_buffer, "momentum_buffer")],
            len,
            |c, p, g, [b], at| sgd_step_mixed(p, g, b, step, c, at),
        )
    }
}

/// [`momentum_step_mixed`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_momentum_step_mixed(
    params: *const Buffer,
    grads: *const Buffer,
    velocity: *const Buffer,
    len: usize,
    cfg: *const MomentumConfig,
    at: *const Placement,
    error: *mut ErrorInfo,
) -> Status {
    // SAFETY: forwarded to `mixed_call`.
    unsafe {
        mixed_call(
            error,
            cfg,
            at,
            params,
            grads,
            [(velocity, "velocity")],
            len,
            |c, p, g, [v], at| momentum_step_mixed(p, g, v, c, at),
        )
    }
}

/// [`adagrad_step_mixed`].
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn optkern_adagrad_step_mixed(
    params: *const Buffer,
    grads: *const Buffer,
    sum: *const Buffer,
    len: usize,
    step: u32,
    cfg: *const AdagradConfig,
    at: *const Placement,
    error: *mut ErrorInfo,
) -> Status {
    // SAFETY: forwarded to `mixed_call`.
    unsafe {
        mixed_call(error, cfg, at, params, grads, [(sum, "sum")], len, |c, p, g, [s], at| {
            adagrad_step_mixed(p, g, s, step, c, at)
        })
    }
}

/// [`rmsprop_step_mixed`].
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn optkern_rmsprop_step_mixed(
    params: *const Buffer,
    grads: *const Buffer,
    square_avg: *const Buffer,
    momentum_buffer: *const Buffer,
    grad_avg: *const Buffer,
    len: usize,
    cfg: *const RmspropConfig,
    at: *const Placement,
    error: *mut ErrorInfo,
) -> Status {
    let s =
        [(square_avg, "square_avg"), (momentum_buffer, "momentum_buffer"), (grad_avg, "grad_avg")];
    // SAFETY: forwarded to `mixed_call`.
    unsafe {
        mixed_call(error, cfg, at, params, grads, s, len, |c, p, g, [sq, b, ga], at| {
            rmsprop_step_mixed(p, g, sq, b, ga, c, at)
        })
    }
}

/// [`adamax_step_mixed`].
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn optkern_adamax_step_mixed(
    params: *const Buffer,
    grads: *const Buffer,
    exp_avg: *const Buffer,
    exp_inf: *const Buffer,
    len: usize,
    step: u32,
    cfg: *const AdamaxConfig,
    at: *const Placement,
    error: *mut ErrorInfo,
) -> Status {
    // SAFETY: forwarded to `mixed_call`.
    unsafe {
        mixed_call(
            error,
            cfg,
            at,
            params,
            grads,
            [(exp_avg, "exp_avg"), (exp_inf, "exp_inf")],
            len,
            |c, p, g, [m, u], at| adamax_step_mixed(p, g, m, u, step, c, at),
        )
    }
}

/// [`adadelta_step_mixed`].
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn optkern_adadelta_step_mixed(
    params: *const Buffer,
    grads: *const Buffer,
    square_avg: *const Buffer,
    acc_delta: *const Buffer,
    len: usize,
    cfg: *const AdadeltaConfig,
    at: *const Placement,
    error: *mut ErrorInfo,
) -> Status {
    // SAFETY: forwarded to `mixed_call`.
    unsafe {
        mixed_call(
            error,
            cfg,
            at,
            params,
            grads,
            [(square_avg, "square_avg"), (acc_delta, "acc_delta")],
            len,
            |c, p, g, [sq, a], at| adadelta_step_mixed(p, g, sq, a, c, at),
        )
    }
}

/// [`nadam_step_mixed`]; `state` (start from `{ .mu_product = 1 }`) is updated only on
/// success.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn optkern_nadam_step_mixed(
    params: *const Buffer,
    grads: *const Buffer,
    exp_avg: *const Buffer,
    exp_avg_sq: *const Buffer,
    state: *mut NadamState,
    len: usize,
    step: u32,
    cfg: *const NadamConfig,
    at: *const Placement,
    error: *mut ErrorInfo,
) -> Status {
    let bufs = [(exp_avg, "exp_avg"), (exp_avg_sq, "exp_avg_sq")];
    // SAFETY: forwarded to `mixed_call_with_state`.
    unsafe {
        mixed_call_with_state(
            error,
            cfg,
            at,
            params,
            grads,
            bufs,
            len,
            state,
            |c, p, g, [m, v], st, at| nadam_step_mixed(p, g, m, v, st, step, c, at),
        )
    }
}

/// [`radam_step_mixed`].
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn optkern_radam_step_mixed(
    params: *const Buffer,
    grads: *const Buffer,
    exp_avg: *const Buffer,
    exp_avg_sq: *const Buffer,
    len: usize,
    step: u32,
    cfg: *const RadamConfig,
    at: *const Placement,
    error: *mut ErrorInfo,
) -> Status {
    // SAFETY: forwarded to `mixed_call`.
    unsafe {
        mixed_call(
            error,
            cfg,
            at,
            params,
            grads,
            [(exp_avg, "exp_avg"), (exp_avg_sq, "exp_avg_sq")],
            len,
            |c, p, g, [m, v], at| radam_step_mixed(p, g, m, v, step, c, at),
        )
    }
}

/// [`dadapt_adam_step_mixed`]: every tensor in order, then `optkern_dadapt_update_d` once;
/// `state` is updated only on success.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn optkern_dadapt_adam_step_mixed(
    params: *const Buffer,
    grads: *const Buffer,
    exp_avg: *const Buffer,
    exp_avg_sq: *const Buffer,
    s: *const Buffer,
    state: *mut DadaptState,
    len: usize,
    cfg: *const DadaptAdamConfig,
    at: *const Placement,
    error: *mut ErrorInfo,
) -> Status {
    let bufs = [(exp_avg, "exp_avg"), (exp_avg_sq, "exp_avg_sq"), (s, "s")];
    // SAFETY: forwarded to `mixed_call_with_state`.
    unsafe {
        mixed_call_with_state(
            error,
            cfg,
            at,
            params,
            grads,
            bufs,
            len,
            state,
            |c, p, g, [m, v, s], st, at| dadapt_adam_step_mixed(p, g, m, v, s, st, c, at),
        )
    }
}

/// [`asgd_step_mixed`]; `state` (from `optkern_asgd_state_new`) is updated only on success.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn optkern_asgd_step_mixed(
    params: *const Buffer,
    grads: *const Buffer,
    ax: *const Buffer,
    state: *mut AsgdState,
    len: usize,
    step: u32,
    cfg: *const AsgdConfig,
    at: *const Placement,
    error: *mut ErrorInfo,
) -> Status {
    // SAFETY: forwarded to `mixed_call_with_state`.
    unsafe {
        mixed_call_with_state(
            error,
            cfg,
            at,
            params,
            grads,
            [(ax, "ax")],
            len,
            state,
            |c, p, g, [a], st, at| asgd_step_mixed(p, g, a, st, step, c, at),
        )
    }
}

/// [`rprop_step_mixed`].
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn optkern_rprop_step_mixed(
    params: *const Buffer,
    grads: *const Buffer,
    prev: *const Buffer,
    step_size: *const Buffer,
    len: usize,
    step: u32,
    cfg: *const RpropConfig,
    at: *const Placement,
    error: *mut ErrorInfo,
) -> Status {
    // SAFETY: forwarded to `mixed_call`.
    unsafe {
        mixed_call(
            error,
            cfg,
            at,
            params,
            grads,
            [(prev, "prev"), (step_size, "step_size")],
            len,
            |c, p, g, [pr, ss], at| rprop_step_mixed(p, g, pr, ss, step, c, at),
        )
    }
}

/// [`lion_step_mixed`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_lion_step_mixed(
    params: *const Buffer,
    grads: *const Buffer,
    exp_avg: *const Buffer,
    len: usize,
    cfg: *const LionConfig,
    at: *const Placement,
    error: *mut ErrorInfo,
) -> Status {
    // SAFETY: forwarded to `mixed_call`.
    unsafe {
        mixed_call(
            error,
            cfg,
            at,
            params,
            grads,
            [(exp_avg, "exp_avg")],
            len,
            |c, p, g, [m], at| lion_step_mixed(p, g, m, c, at),
        )
    }
}

/// [`lamb_step_mixed`]: the buffers are one layer.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn optkern_lamb_step_mixed(
    params: *const Buffer,
    grads: *const Buffer,
    exp_avg: *const Buffer,
    exp_avg_sq: *const Buffer,
    len: usize,
    step: u32,
    cfg: *const LambConfig,
    at: *const Placement,
    error: *mut ErrorInfo,
) -> Status {
    // SAFETY: forwarded to `mixed_call`.
    unsafe {
        mixed_call(
            error,
            cfg,
            at,
            params,
            grads,
            [(exp_avg, "exp_avg"), (exp_avg_sq, "exp_avg_sq")],
            len,
            |c, p, g, [m, v], at| lamb_step_mixed(p, g, m, v, step, c, at),
        )
    }
}

/// [`lars_step_mixed`]: the buffers are one layer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_lars_step_mixed(
    params: *const Buffer,
    grads: *const Buffer,
    velocity: *const Buffer,
    len: usize,
    cfg: *const LarsConfig,
    at: *const Placement,
    error: *mut ErrorInfo,
) -> Status {
    // SAFETY: forwarded to `mixed_call`.
    unsafe {
        mixed_call(
            error,
            cfg,
            at,
            params,
            grads,
            [(velocity, "velocity")],
            len,
            |c, p, g, [v], at| lars_step_mixed(p, g, v, c, at),
        )
    }
}

/// [`adafactor_step_mixed`]: the buffers are one vector.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn optkern_adafactor_step_mixed(
    params: *const Buffer,
    grads: *const Buffer,
    variance: *const Buffer,
    len: usize,
    step: u32,
    cfg: *const AdafactorConfig,
    at: *const Placement,
    error: *mut ErrorInfo,
) -> Status {
    // SAFETY: forwarded to `mixed_call`.
    unsafe {
        mixed_call(
            error,
            cfg,
            at,
            params,
            grads,
            [(variance, "variance")],
            len,
            |c, p, g, [v], at| adafactor_step_mixed(p, g, v, step, c, at),
        )
    }
}

/// [`crate::format::f32_to_bf16`]: `out[i]` = the bf16 bits of `x[i]`,
/// rounded as `rounding` says (0 nearest even, 1 stochastic with `at`'s bits, stream 0; `at`
/// may be NULL for offset, seed and counter 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_f32_to_bf16(
    x: *const f32,
    out: *mut u16,
    len: usize,
    rounding: u32,
    at: *const Placement,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "", || {
        // SAFETY: as in `optkern_sgd_step`; `at` is checked by `placement`.
        unsafe {
            let at = placement(at)?;
            let rounding = match rounding {
                0 => Rounding::Nearest,
                1 => Rounding::Stochastic,
                _ => {
                    return Err(super::bad_enum(
                        Status::InvalidFormat,
                        "rounding",
                        rounding,
                        c"is not 0 (nearest) or 1 (stochastic)",
                    ));
                }
            };
            let b = super::buffers!(len; out out, in x);
            crate::format::f32_to_bf16(slice(b[1]), slice_mut::<bf16>(b[0]), rounding, &at)?;
        }
        Ok(())
    })
}

/// [`crate::format::bf16_to_f32`]: exact.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_bf16_to_f32(
    x: *const u16,
    out: *mut f32,
    len: usize,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let b = super::buffers!(len; out out, in x);
            crate::format::bf16_to_f32(slice::<bf16>(b[1]), slice_mut(b[0]))?;
        }
        Ok(())
    })
}

/// [`crate::format::f32_to_f16`]: IEEE round to nearest even.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_f32_to_f16(
    x: *const f32,
    out: *mut u16,
    len: usize,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let b = super::buffers!(len; out out, in x);
            crate::format::f32_to_f16(slice(b[1]), slice_mut::<f16>(b[0]))?;
        }
        Ok(())
    })
}

/// [`crate::format::f16_to_f32`]: exact.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_f16_to_f32(
    x: *const u16,
    out: *mut f32,
    len: usize,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "", || {
        // SAFETY: as in `optkern_sgd_step`.
        unsafe {
            let b = super::buffers!(len; out out, in x);
            crate::format::f16_to_f32(slice::<f16>(b[1]), slice_mut(b[0]))?;
        }
        Ok(())
    })
}

/// The one decoding of a quantized format's C fields: `map` (0 signed, 1 unsigned; checked
/// for every format) and `quantizer` (0 nearest, 1 bitsandbytes, 2 torchao). `None` for a
/// format that is not block-quantized; an out-of-range value is `InvalidFormat` of the field.
fn quant_of(format: Format, map: u32, quantizer: u32) -> Result<Option<Quant>, Fail> {
    if map > 1 {
        return Err(super::bad_enum(
            Status::InvalidFormat,
            "map",
            map,
            c"is not 0 (signed) or 1 (unsigned)",
        ));
    }
    let quantizer = match quantizer {
        0 => Quantizer::Nearest,
        1 => Quantizer::BnbCpu,
        2 => Quantizer::Torchao,
        _ => {
            let why = c"is not 0 (nearest), 1 (bitsandbytes) or 2 (torchao)";
            return Err(super::bad_enum(Status::InvalidFormat, "quantizer", quantizer, why));
        }
    };
    let unsigned = map == 1;
    Ok(match format {
        Format::Q8 => {
            Some(Quant::Q8(if unsigned { Q8Map::Unsigned } else { Q8Map::Signed }, quantizer))
        }
        Format::Q4 => Some(Quant::Q4(if unsigned { Q4Map::Unsigned } else { Q4Map::Signed })),
        Format::Fp8 => Some(Quant::Fp8),
        _ => None,
    })
}

/// The format of a (de)quantize call, from its C values (see [`quant_of`]).
fn quant_arg(format: Format, map: u32, quantizer: u32) -> Result<Quant, Fail> {
    quant_of(format, map, quantizer)?.ok_or(Fail::from(Status::InvalidFormat))
}

/// The body of every block-quantizing C function: `x` (`len`) read, `codes` and `scale`
/// (sized by [`Quant`], the scale named as `q` names it) written, checked for NULL, alignment
/// and overlap, then quantized.
///
/// # Safety
/// As `optkern_sgd_step`: each pointer valid for its length.
unsafe fn quantize_c(
    q: Quant,
    x: *const f32,
    codes: *mut u8,
    scale: *mut f32,
    len: usize,
) -> Result<(), Fail> {
    // SAFETY: the caller's.
    unsafe {
        let raws = [
            Raw::new(codes.cast_const(), q.code_bytes(len), true, "codes")?,
            Raw::new(scale.cast_const(), q.scales(len), true, q.scale_name())?,
            Raw::new(x, len, false, "x")?,
        ];
        no_overlap(&raws)?;
        crate::format::quantize_checked(q, slice(raws[2]), slice_mut(raws[0]), slice_mut(raws[1]))?;
    }
    Ok(())
}

/// The body of every dequantizing C function: `codes` and `scale` read, `out` (`len`) written,
/// checked as in [`quantize_c`], then dequantized.
///
/// # Safety
/// As `optkern_sgd_step`: each pointer valid for its length.
unsafe fn dequantize_c(
    q: Quant,
    codes: *const u8,
    scale: *const f32,
    out: *mut f32,
    len: usize,
) -> Result<(), Fail> {
    // SAFETY: the caller's.
    unsafe {
        let raws = [
            Raw::new(out.cast_const(), len, true, "out")?,
            Raw::new(codes, q.code_bytes(len), false, "codes")?,
            Raw::new(scale, q.scales(len), false, q.scale_name())?,
        ];
        no_overlap(&raws)?;
        crate::format::dequantize_checked(q, slice(raws[1]), slice(raws[2]), slice_mut(raws[0]))?;
    }
    Ok(())
}

/// [`crate::format::q8_quantize`]: `codes` (`len`) and `absmax`
/// (`ceil(len / 256)`) from `x`; `map` 0 signed / 1 unsigned, `quantizer` 0 nearest / 1
/// bitsandbytes' CPU rule / 2 torchao's rule (`absmax` then holds its scales).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_q8_quantize(
    x: *const f32,
    codes: *mut u8,
    absmax: *mut f32,
    len: usize,
    map: u32,
    quantizer: u32,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "", || {
        let q = quant_arg(Format::Q8, map, quantizer)?;
        // SAFETY: as in `optkern_sgd_step`.
        unsafe { quantize_c(q, x, codes, absmax, len) }
    })
}

/// [`crate::format::q8_dequantize`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_q8_dequantize(
    codes: *const u8,
    absmax: *const f32,
    out: *mut f32,
    len: usize,
    map: u32,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "", || {
        let q = quant_arg(Format::Q8, map, 0)?;
        // SAFETY: as in `optkern_sgd_step`.
        unsafe { dequantize_c(q, codes, absmax, out, len) }
    })
}

/// [`crate::format::q4_quantize`]: `codes` (`ceil(len / 2)` bytes, two codes each, the even
/// element in the high nibble) and `scale` (`ceil(len / 128)`) from `x`; `map` 0 torchao's
/// signed 4-bit map / 1 its unsigned linear map.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_q4_quantize(
    x: *const f32,
    codes: *mut u8,
    scale: *mut f32,
    len: usize,
    map: u32,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "", || {
        let q = quant_arg(Format::Q4, map, 0)?;
        // SAFETY: as in `optkern_sgd_step`.
        unsafe { quantize_c(q, x, codes, scale, len) }
    })
}

/// [`crate::format::q4_dequantize`]: `len` values from `codes` (`ceil(len / 2)` bytes) and
/// `scale` (`ceil(len / 128)`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_q4_dequantize(
    codes: *const u8,
    scale: *const f32,
    out: *mut f32,
    len: usize,
    map: u32,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "", || {
        let q = quant_arg(Format::Q4, map, 0)?;
        // SAFETY: as in `optkern_sgd_step`.
        unsafe { dequantize_c(q, codes, scale, out, len) }
    })
}

/// [`crate::format::fp8_quantize`]: `codes` (`len` float8_e4m3fn bytes) and `scale`
/// (`ceil(len / 256)`) from `x`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_fp8_quantize(
    x: *const f32,
    codes: *mut u8,
    scale: *mut f32,
    len: usize,
    error: *mut ErrorInfo,
) -> Status {
    // SAFETY: as in `optkern_sgd_step`.
    ffi(error, "", || unsafe { quantize_c(Quant::Fp8, x, codes, scale, len) })
}

/// [`crate::format::fp8_dequantize`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_fp8_dequantize(
    codes: *const u8,
    scale: *const f32,
    out: *mut f32,
    len: usize,
    error: *mut ErrorInfo,
) -> Status {
    // SAFETY: as in `optkern_sgd_step`.
    ffi(error, "", || unsafe { dequantize_c(Quant::Fp8, codes, scale, out, len) })
}
