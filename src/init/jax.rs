//! JAX's initializer conventions (`jax.nn.initializers`): kernels laid out `(…, in, out)`
//! (HWIO), fans read from chosen axes, and the delta-orthogonal convolution kernel. The
//! distributions are the shared ones of [`super::variance_scaling`]; only the fan convention
//! and the layout differ from torch's.

use super::orthogonal::{orthogonal, orthogonal_scratch_len};
use super::{Distribution, FanMode, check_shape, fill_with_variance};
use crate::{Error, validate};

/// An axis index counted from the end when negative (`−1` = the last).
fn axis(shape: &[usize], a: isize, name: &'static str) -> Result<usize, Error> {
    let rank = shape.len() as isize;
    let i = if a < 0 { a + rank } else { a };
    if (0..rank).contains(&i) {
        Ok(i as usize)
    } else {
        Err(validate::out_of_range(name, a as f64))
    }
}

/// `(fan_in, fan_out)` in JAX's convention (`_compute_fans`): with
/// `receptive = Π shape / shape[in_axis] / shape[out_axis]`,
/// `fan_in = shape[in_axis]·receptive`, `fan_out = shape[out_axis]·receptive` (floats).
/// JAX's defaults are `in_axis = −2`, `out_axis = −1`: a `[256, 128]` matrix has
/// `fan_in = 256`, where torch's [`crate::fans`] (`[out, in]`) gives 128.
///
/// # Errors
/// [`Error::InvalidHyperparameter`] (`"in_axis"`/`"out_axis"`) for an axis outside the shape
/// or the same axis twice.
pub fn jax_fans(shape: &[usize], in_axis: isize, out_axis: isize) -> Result<(f64, f64), Error> {
    let (i, o) = (axis(shape, in_axis, "in_axis")?, axis(shape, out_axis, "out_axis")?);
    if i == o {
        return Err(validate::conflict("out_axis", out_axis as f64));
    }
    let receptive: f64 = shape
        .iter()
        .enumerate()
        .filter(|&(k, _)| k != i && k != o)
        .map(|(_, &d)| d as f64)
        .product();
    Ok((shape[i] as f64 * receptive, shape[o] as f64 * receptive))
}

/// The variance `scale/n` of variance scaling, `n` = [`FanMode::of`] the fans.
///
/// # Errors
/// [`Error::InvalidHyperparameter`] if `scale` is not finite and positive.
pub fn variance_scaling_variance(
    fan_in: f64,
    fan_out: f64,
    scale: f64,
    mode: FanMode,
) -> Result<f64, Error> {
    let scale = validate::finite("scale", scale)?;
    if scale <= 0.0 {
        return Err(validate::out_of_range("scale", scale));
    }
    Ok(scale / mode.of(fan_in, fan_out))
}

/// `jax.nn.initializers.variance_scaling(scale, mode, distribution, in_axis, out_axis)`:
/// [`super::variance_scaling`] with the fans of [`jax_fans`]. The named JAX initializers are
/// `(scale, mode, distribution)` = `glorot_uniform` (1, FanAvg, Uniform), `glorot_normal`
/// (1, FanAvg, TruncatedNormal), `lecun_uniform` (1, FanIn, Uniform), `lecun_normal`
/// (1, FanIn, TruncatedNormal), `he_uniform` (2, FanIn, Uniform), `he_normal` (2, FanIn,
/// **TruncatedNormal**, where torch's `kaiming_normal_` is untruncated), all with axes
/// `(−2, −1)`. [`Distribution::TruncatedNormal`] is JAX's: `±2σ` with the `0.8796…` rescale,
/// so that the variance is exactly `scale/n`.
///
/// # Errors
/// As [`jax_fans`] and [`variance_scaling_variance`]; [`Error::LengthMismatch`] if `out`
/// does not hold `shape`. Nothing is written on `Err`.
#[allow(clippy::too_many_arguments)]
pub fn variance_scaling_axes<R: rand_core::Rng + ?Sized>(
    out: &mut [f32],
    shape: &[usize],
    in_axis: isize,
    out_axis: isize,
    scale: f64,
    mode: FanMode,
    distribution: Distribution,
    rng: &mut R,
) -> Result<(), Error> {
    check_shape(out, shape)?;
    let (fan_in, fan_out) = jax_fans(shape, in_axis, out_axis)?;
    let var = variance_scaling_variance(fan_in, fan_out, scale, mode)?;
    fill_with_variance(out, var, distribution, rng)
}

/// The spatial centre and the `(in, out)` matrix of a delta-orthogonal kernel shape
/// `(k₁[, k₂[, k₃]], in, out)`: the flat offset of the centre's matrix and `(in, out)`.
fn delta_layout(shape: &[usize]) -> Result<(usize, usize, usize), Error> {
    let [spatial @ .., cin, cout] = shape else {
        return Err(validate::out_of_range("shape", shape.len() as f64));
    };
    if !(1..=3).contains(&spatial.len()) {
        return Err(validate::out_of_range("shape", shape.len() as f64));
    }
    if cin > cout {
        return Err(validate::conflict("shape", *cin as f64));
    }
    // Row-major index of the centre (k − 1)/2 (the lower middle for even k).
    let centre = spatial
        .iter()
        .fold(0usize, |acc, &k| acc.saturating_mul(k).saturating_add(k.saturating_sub(1) / 2));
    Ok((centre.saturating_mul(cin.saturating_mul(*cout)), *cin, *cout))
}

/// The `f64` scratch [`delta_orthogonal`] needs for `shape`
/// ([`orthogonal_scratch_len`] of its `(in, out)` matrix; 0 for an invalid shape).
pub fn delta_orthogonal_scratch_len(shape: &[usize]) -> usize {
    delta_layout(shape).map_or(0, |(_, cin, cout)| orthogonal_scratch_len(cin, cout))
}

/// `jax.nn.initializers.delta_orthogonal(scale)` (Xiao et al. 2018) for a 3-D, 4-D or 5-D
/// convolution kernel `(k₁[, k₂[, k₃]], in, out)` with `in ≤ out`: zeros everywhere except
/// the spatial centre `((k_i − 1)/2, …)`, whose `(in, out)` matrix is [`orthogonal`] with
/// orthonormal rows, times `scale`.
///
/// # Errors
/// [`Error::InvalidHyperparameter`] (`"shape"`) for another rank or `in > out`;
/// [`Error::LengthMismatch`] if `out` does not hold `shape` or `scratch` is shorter than
/// [`delta_orthogonal_scratch_len`]; as [`orthogonal`] for `scale`. Nothing is written on
/// `Err`.
pub fn delta_orthogonal<R: rand_core::Rng + ?Sized>(
    out: &mut [f32],
    shape: &[usize],
    scale: f64,
    scratch: &mut [f64],
    rng: &mut R,
) -> Result<(), Error> {
    check_shape(out, shape)?;
    let (at, cin, cout) = delta_layout(shape)?;
    let need = orthogonal_scratch_len(cin, cout);
    if scratch.len() < need {
        return Err(Error::LengthMismatch { arg: "scratch", expected: need, found: scratch.len() });
    }
    validate::finite("scale", scale)?;
    // Checked splits (the shape was checked against `out`): no panic path in the C library.
    let (before, rest) = crate::slices::split_at_mut(out, at);
    let (centre, after) = crate::slices::split_at_mut(rest, cin * cout);
    orthogonal(centre, cin, cout, scale, scratch, rng)?;
    before.fill(0.0);
    after.fill(0.0);
    Ok(())
}
