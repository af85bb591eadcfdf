//! C functions for the initializers: a seedable generator that lives in caller memory, the
//! fills, gains and fans, and the shuffle.

use super::{ErrorInfo, Fail, Raw, Status, ffi, out, out_ok, slice, slice_mut};
use crate::{Distribution, FanMode, Nonlinearity};
use Status as S;
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// A random generator in caller memory: `Xoshiro256PlusPlus` (the documented default), its
/// 256-bit state as four little-endian words. Seed it with [`optkern_rng_seed`]; every random
/// function advances it. No allocation happens inside optkern.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct optkern_rng {
    /// The generator's state (opaque).
    pub state: [u64; 4],
}

/// `sizeof(optkern_rng)`, for callers that place it in their own memory.
pub const OPTKERN_RNG_SIZE: usize = 32;
/// `alignof(optkern_rng)`.
pub const OPTKERN_RNG_ALIGN: usize = 8;
const _: () = assert!(
    OPTKERN_RNG_SIZE == core::mem::size_of::<optkern_rng>()
        && OPTKERN_RNG_ALIGN == core::mem::align_of::<optkern_rng>()
);

impl optkern_rng {
    fn generator(&self) -> Xoshiro256PlusPlus {
        let mut bytes = [0u8; 32];
        for (chunk, w) in bytes.chunks_exact_mut(8).zip(self.state) {
            crate::slices::copy(chunk, &w.to_le_bytes());
        }
        Xoshiro256PlusPlus::from_seed(bytes)
    }
    fn store(&mut self, g: &Xoshiro256PlusPlus) {
        let bytes = g.state();
        for (w, chunk) in self.state.iter_mut().zip(bytes.chunks_exact(8)) {
            let mut b = [0u8; 8];
            crate::slices::copy(&mut b, chunk);
            *w = u64::from_le_bytes(b);
        }
    }
}

/// Seeds `*rng` with `Xoshiro256PlusPlus::seed_from_u64(seed)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_rng_seed(
    rng: *mut optkern_rng,
    seed: u64,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "", || {
        out_ok(rng, "rng")?;
        let mut r = optkern_rng { state: [0; 4] };
        r.store(&Xoshiro256PlusPlus::seed_from_u64(seed));
        // SAFETY: checked non-null and aligned.
        unsafe { out(rng, "rng", r) }
    })
}

/// Runs `f` with the generator of `*rng` and stores its new state on success.
fn with_rng(
    rng: *mut optkern_rng,
    f: impl FnOnce(&mut Xoshiro256PlusPlus) -> Result<(), Fail>,
) -> Result<(), Fail> {
    out_ok(rng, "rng")?;
    // SAFETY: checked non-null and aligned; a plain array of u64.
    let mut r = unsafe { core::ptr::read(rng) };
    let mut g = r.generator();
    f(&mut g)?;
    r.store(&g);
    // SAFETY: as above.
    unsafe { out(rng, "rng", r) }
}

/// The shape `shape[0..ndim]` as a slice.
///
/// # Safety
/// `shape` is NULL or valid for `ndim` reads.
unsafe fn shape<'a>(shape: *const usize, ndim: usize) -> Result<&'a [usize], Fail> {
    let r = Raw::new(shape, ndim, false, "shape")?;
    // SAFETY: checked.
    Ok(unsafe { slice(r) })
}

/// The output buffer of `len` floats.
///
/// # Safety
/// `out` is NULL or valid for `len` writes.
unsafe fn output<'a>(out: *mut f32, len: usize) -> Result<&'a mut [f32], Fail> {
    let r = Raw::new(out as *const f32, len, true, "out")?;
    // SAFETY: checked; the only buffer written.
    Ok(unsafe { slice_mut(r) })
}

fn nonlinearity(kind: u32, param: f64) -> Result<Nonlinearity, Fail> {
    Ok(match kind {
        0 => Nonlinearity::Linear,
        1 => Nonlinearity::Conv,
        2 => Nonlinearity::Sigmoid,
        3 => Nonlinearity::Tanh,
        4 => Nonlinearity::Relu,
        5 => Nonlinearity::LeakyRelu(param),
        6 => Nonlinearity::Selu,
        _ => {
            return Err(super::bad_enum(
                S::InvalidHyperparameter,
                "nonlinearity_kind",
                kind,
                c"is not a nonlinearity (0 to 6)",
            ));
        }
    })
}

fn distribution_of(kind: u32) -> Result<Distribution, Fail> {
    Ok(match kind {
        0 => Distribution::Uniform,
        1 => Distribution::Normal,
        2 => Distribution::TruncatedNormal,
        _ => {
            return Err(super::bad_enum(
                S::InvalidHyperparameter,
                "distribution",
                kind,
                c"is not 0 (uniform), 1 (normal) or 2 (truncated normal)",
            ));
        }
    })
}

fn fan_mode(kind: u32) -> Result<FanMode, Fail> {
    Ok(match kind {
        0 => FanMode::FanIn,
        1 => FanMode::FanOut,
        2 => FanMode::FanAvg,
        3 => FanMode::FanGeoAvg,
        _ => {
            return Err(super::bad_enum(
                S::InvalidHyperparameter,
                "mode",
                kind,
                c"is not a fan mode (0 to 3)",
            ));
        }
    })
}

/// [`crate::calculate_gain`]: `nonlinearity` 0 linear, 1 conv, 2 sigmoid, 3 tanh, 4 relu,
/// 5 leaky_relu (slope `param`; torch's default is 0.01), 6 selu.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_calculate_gain(
    nonlinearity_kind: u32,
    param: f64,
    gain_out: *mut f64,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "", || {
        out_ok(gain_out, "gain_out")?;
        let g = crate::calculate_gain(nonlinearity(nonlinearity_kind, param)?)?;
        // SAFETY: checked.
        unsafe { out(gain_out, "gain_out", g) }
    })
}

/// [`crate::fans`] of `shape[0..ndim]`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_fans(
    shape_ptr: *const usize,
    ndim: usize,
    fan_in: *mut usize,
    fan_out: *mut usize,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "", || {
        out_ok(fan_in, "fan_in")?;
        out_ok(fan_out, "fan_out")?;
        // SAFETY: the shape is checked; the out-pointers too.
        unsafe {
            let (i, o) = crate::fans(shape(shape_ptr, ndim)?)?;
            out(fan_in, "fan_in", i)?;
            out(fan_out, "fan_out", o)
        }
    })
}

/// [`crate::uniform`]: `U(low, high)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_init_uniform(
    out_ptr: *mut f32,
    len: usize,
    low: f64,
    high: f64,
    rng: *mut optkern_rng,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "", || {
        // SAFETY: buffers checked by `output`.
        let o = unsafe { output(out_ptr, len)? };
        with_rng(rng, |g| Ok(crate::uniform(o, low, high, g)?))
    })
}

/// [`crate::normal`]: `N(mean, std²)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_init_normal(
    out_ptr: *mut f32,
    len: usize,
    mean: f64,
    std: f64,
    rng: *mut optkern_rng,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "", || {
        // SAFETY: checked by `output`.
        let o = unsafe { output(out_ptr, len)? };
        with_rng(rng, |g| Ok(crate::normal(o, mean, std, g)?))
    })
}

/// [`crate::trunc_normal`]: `N(mean, std²)` truncated to `[a, b]`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_init_trunc_normal(
    out_ptr: *mut f32,
    len: usize,
    mean: f64,
    std: f64,
    a: f64,
    b: f64,
    rng: *mut optkern_rng,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "", || {
        // SAFETY: checked by `output`.
        let o = unsafe { output(out_ptr, len)? };
        with_rng(rng, |g| Ok(crate::trunc_normal(o, mean, std, a, b, g)?))
    })
}

/// [`crate::xavier_uniform`] (`normal` = 0) or [`crate::xavier_normal`] (`normal` = 1) for a
/// tensor of shape `shape[0..ndim]` (`out` holds its product).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_init_xavier(
    out_ptr: *mut f32,
    shape_ptr: *const usize,
    ndim: usize,
    gain: f64,
    normal: u32,
    rng: *mut optkern_rng,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "", || {
        // SAFETY: shape and output checked.
        let (s, o) = unsafe {
            let s = shape(shape_ptr, ndim)?;
            let n = s.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).ok_or(Fail::new(
                S::InvalidLength,
                "shape",
                c"has a product of dimensions that overflows",
            ))?;
            (s, output(out_ptr, n)?)
        };
        with_rng(rng, |g| match normal {
            0 => Ok(crate::xavier_uniform(o, s, gain, g)?),
            1 => Ok(crate::xavier_normal(o, s, gain, g)?),
            _ => Err(super::bad_enum(
                S::InvalidHyperparameter,
                "normal",
                normal,
                c"is not 0 (uniform) or 1 (normal)",
            )),
        })
    })
}

/// [`crate::kaiming_uniform`] / [`crate::kaiming_normal`]: `mode` 0 fan_in, 1 fan_out;
/// `nonlinearity` as in [`optkern_calculate_gain`] (with slope `a`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_init_kaiming(
    out_ptr: *mut f32,
    shape_ptr: *const usize,
    ndim: usize,
    mode: u32,
    nonlinearity_kind: u32,
    a: f64,
    normal: u32,
    rng: *mut optkern_rng,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "", || {
        let (mode, nl) = (fan_mode(mode)?, nonlinearity(nonlinearity_kind, a)?);
        // SAFETY: shape and output checked.
        let (s, o) = unsafe {
            let s = shape(shape_ptr, ndim)?;
            let n = s.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).ok_or(Fail::new(
                S::InvalidLength,
                "shape",
                c"has a product of dimensions that overflows",
            ))?;
            (s, output(out_ptr, n)?)
        };
        with_rng(rng, |g| match normal {
            0 => Ok(crate::kaiming_uniform(o, s, mode, nl, g)?),
            1 => Ok(crate::kaiming_normal(o, s, mode, nl, g)?),
            _ => Err(super::bad_enum(
                S::InvalidHyperparameter,
                "normal",
                normal,
                c"is not 0 (uniform) or 1 (normal)",
            )),
        })
    })
}

/// [`crate::variance_scaling`]: `mode` 0 fan_in, 1 fan_out, 2 fan_avg, 3 fan_geo_avg; `distribution` 0
/// uniform, 1 normal, 2 truncated normal. LeCun uniform/normal are `scale = 1`, fan_in,
/// distribution 0 / 2.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_init_variance_scaling(
    out_ptr: *mut f32,
    shape_ptr: *const usize,
    ndim: usize,
    scale: f64,
    mode: u32,
    distribution: u32,
    rng: *mut optkern_rng,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "", || {
        let mode = fan_mode(mode)?;
        let dist = distribution_of(distribution)?;
        // SAFETY: shape and output checked.
        let (s, o) = unsafe {
            let s = shape(shape_ptr, ndim)?;
            let n = s.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).ok_or(Fail::new(
                S::InvalidLength,
                "shape",
                c"has a product of dimensions that overflows",
            ))?;
            (s, output(out_ptr, n)?)
        };
        with_rng(rng, |g| Ok(crate::variance_scaling(o, s, scale, mode, dist, g)?))
    })
}

/// [`crate::jax_fans`]: JAX's `(fan_in, fan_out)` of a shape (axes negative from the end).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_jax_fans(
    shape_ptr: *const usize,
    ndim: usize,
    in_axis: isize,
    out_axis: isize,
    fan_in_out: *mut f64,
    fan_out_out: *mut f64,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "", || {
        out_ok(fan_in_out, "fan_in_out")?;
        out_ok(fan_out_out, "fan_out_out")?;
        // SAFETY: the shape and both out-pointers are checked.
        unsafe {
            let (fi, fo) = crate::jax_fans(shape(shape_ptr, ndim)?, in_axis, out_axis)?;
            out(fan_in_out, "fan_in_out", fi)?;
            out(fan_out_out, "fan_out_out", fo)
        }
    })
}

/// [`crate::variance_scaling_axes`]: JAX's `variance_scaling` (fans from `in_axis`,
/// `out_axis`; `mode` and `distribution` as [`optkern_init_variance_scaling`]). JAX's named
/// initializers use axes −2, −1: glorot (1, fan_avg), lecun (1, fan_in), he (2, fan_in), each
/// uniform (0) or truncated normal (2).
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn optkern_init_variance_scaling_axes(
    out_ptr: *mut f32,
    shape_ptr: *const usize,
    ndim: usize,
    in_axis: isize,
    out_axis: isize,
    scale: f64,
    mode: u32,
    distribution: u32,
    rng: *mut optkern_rng,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "", || {
        let (mode, dist) = (fan_mode(mode)?, distribution_of(distribution)?);
        // SAFETY: shape and output checked.
        let (s, o) = unsafe {
            let s = shape(shape_ptr, ndim)?;
            let n = s.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).ok_or(Fail::new(
                S::InvalidLength,
                "shape",
                c"has a product of dimensions that overflows",
            ))?;
            (s, output(out_ptr, n)?)
        };
        with_rng(rng, |g| {
            Ok(crate::variance_scaling_axes(o, s, in_axis, out_axis, scale, mode, dist, g)?)
        })
    })
}

/// [`crate::delta_orthogonal_scratch_len`]: the `double` scratch
/// [`optkern_init_delta_orthogonal`] needs (0 for an invalid shape).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_delta_orthogonal_scratch_len(
    shape_ptr: *const usize,
    ndim: usize,
) -> usize {
    // SAFETY: checked by `shape`.
    unsafe { shape(shape_ptr, ndim) }.map_or(0, crate::delta_orthogonal_scratch_len)
}

/// [`crate::delta_orthogonal`] for a `(k₁[, k₂[, k₃]], in, out)` kernel, with caller scratch.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_init_delta_orthogonal(
    out_ptr: *mut f32,
    shape_ptr: *const usize,
    ndim: usize,
    scale: f64,
    scratch: *mut f64,
    scratch_len: usize,
    rng: *mut optkern_rng,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "", || {
        // SAFETY: the shape is checked; output and scratch below.
        let s = unsafe { shape(shape_ptr, ndim)? };
        let n = s.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).ok_or(Fail::new(
            S::InvalidLength,
            "shape",
            c"has a product of dimensions that overflows",
        ))?;
        let r = [
            Raw::new(out_ptr as *const f32, n, true, "out_ptr")?,
            Raw::new(scratch as *const f64, scratch_len, true, "scratch")?,
        ];
        super::no_overlap(&r)?;
        // SAFETY: both checked, disjoint.
        let (o, sc) = unsafe { (slice_mut::<f32>(r[0]), slice_mut::<f64>(r[1])) };
        with_rng(rng, |g| Ok(crate::delta_orthogonal(o, s, scale, sc, g)?))
    })
}

/// [`crate::orthogonal_scratch_len`]: the `double` scratch [`optkern_init_orthogonal`] needs.
#[unsafe(no_mangle)]
pub extern "C" fn optkern_orthogonal_scratch_len(rows: usize, cols: usize) -> usize {
    crate::orthogonal_scratch_len(rows, cols)
}

/// [`crate::orthogonal`] into a `rows × cols` matrix, with caller scratch.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_init_orthogonal(
    out_ptr: *mut f32,
    rows: usize,
    cols: usize,
    gain: f64,
    scratch: *mut f64,
    scratch_len: usize,
    rng: *mut optkern_rng,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "", || {
        let n = rows.checked_mul(cols).ok_or(Fail::new(
            S::InvalidLength,
            "shape",
            c"has a product of dimensions that overflows",
        ))?;
        let r = [
            Raw::new(out_ptr as *const f32, n, true, "out_ptr")?,
            Raw::new(scratch as *const f64, scratch_len, true, "scratch")?,
        ];
        super::no_overlap(&r)?;
        // SAFETY: both checked, disjoint.
        let (o, sc) = unsafe { (slice_mut::<f32>(r[0]), slice_mut::<f64>(r[1])) };
        with_rng(rng, |g| Ok(crate::orthogonal(o, rows, cols, gain, sc, g)?))
    })
}

/// [`crate::eye`] for a `rows × cols` matrix.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_init_eye(
    out_ptr: *mut f32,
    rows: usize,
    cols: usize,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "", || {
        let n = rows.checked_mul(cols).ok_or(Fail::new(
            S::InvalidLength,
            "shape",
            c"has a product of dimensions that overflows",
        ))?;
        // SAFETY: checked by `output`.
        let o = unsafe { output(out_ptr, n)? };
        Ok(crate::eye(o, rows, cols)?)
    })
}

/// [`crate::constant`]: `out[i] = value` (zeros and ones are 0 and 1).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_init_constant(
    out_ptr: *mut f32,
    len: usize,
    value: f32,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "", || {
        // SAFETY: checked by `output`.
        let o = unsafe { output(out_ptr, len)? };
        Ok(crate::constant(o, value)?)
    })
}

/// [`crate::shuffle`]: Fisher–Yates over `indices[0..len]` (fill them with
/// [`optkern_iota`] first).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_shuffle(
    indices: *mut u32,
    len: usize,
    rng: *mut optkern_rng,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "", || {
        let r = Raw::new(indices as *const u32, len, true, "indices")?;
        // SAFETY: checked.
        let idx = unsafe { slice_mut::<u32>(r) };
        with_rng(rng, |g| Ok(crate::shuffle(idx, g)?))
    })
}

/// [`crate::iota`]: `indices[i] = i`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_iota(
    indices: *mut u32,
    len: usize,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "", || {
        let r = Raw::new(indices as *const u32, len, true, "indices")?;
        // SAFETY: checked.
        crate::iota(unsafe { slice_mut::<u32>(r) });
        Ok(())
    })
}

/// [`crate::sparse`]: `N(0, std²)` with `⌈sparsity·rows⌉` zeros per column of a `rows × cols`
/// matrix.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_init_sparse(
    out_ptr: *mut f32,
    rows: usize,
    cols: usize,
    sparsity: f64,
    std: f64,
    rng: *mut optkern_rng,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "", || {
        let n = rows.checked_mul(cols).ok_or(Fail::new(
            S::InvalidLength,
            "shape",
            c"has a product of dimensions that overflows",
        ))?;
        // SAFETY: checked by `output`.
        let o = unsafe { output(out_ptr, n)? };
        with_rng(rng, |g| Ok(crate::sparse(o, rows, cols, sparsity, std, g)?))
    })
}

/// [`crate::dirac`]: the identity convolution for a weight of shape `shape[0..ndim]` (3 to 5
/// dimensions) with `groups` groups.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optkern_init_dirac(
    out_ptr: *mut f32,
    shape_ptr: *const usize,
    ndim: usize,
    groups: usize,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "", || {
        // SAFETY: shape and output checked.
        unsafe {
            let s = shape(shape_ptr, ndim)?;
            let n = s.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).ok_or(Fail::new(
                S::InvalidLength,
                "shape",
                c"has a product of dimensions that overflows",
            ))?;
            let o = output(out_ptr, n)?;
            Ok(crate::dirac(o, s, groups)?)
        }
    })
}
