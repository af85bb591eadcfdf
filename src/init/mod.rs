//! Parameter initializers (`torch.nn.init` and Keras' variance scaling), their gains and fans,
//! and the data order (Fisher–Yates shuffles, minibatches).
//!
//! Every random fill draws from a [`RandomStream`] (16 `Xoshiro128PlusPlus` lanes in fixed
//! blocks; see [`stream`]). The mapping from random words to floats:
//! - **uniform** `U(a, b)`: `u = (w >> 8)·2⁻²⁴ ∈ [0, 1)` (the top 24 bits, exact), then
//!   `x = u·(b − a) + a` in f32 (a multiply and an add, no fused op);
//! - **normal** `N(μ, σ²)`: Box–Muller on a lane's word pair `(w₀, w₁)`:
//!   `u₁ = ((w₀ >> 8) + 1)·2⁻²⁴ ∈ (0, 1]`, `u₂ = (w₁ >> 8)·2⁻²⁴`, `r = √(−2 ln u₁)`,
//!   `(s, c) = sin_cos(2π·u₂)`; the chunk's element `k` gets `r·c` and element `16 + k` gets
//!   `r·s`, then `x = z·σ + μ`. `ln` and `sin_cos` are `wide`'s (the same at every width within a
//!   build; they use FMA, so FMA and non-FMA builds give different normals);
//! - **truncated normal**: torch's inverse-CDF method, in f64 with `libm`: `u` uniform in
//!   `[Φ(α), Φ(β))` from a 24-bit word, `x = μ + σ·√2·erf⁻¹(2u − 1)`, clamped to `[a, b]` (same
//!   bits on every build).
//!
//! So a fill gives the same bits at every lane width and for any sharding (`*_at` variants
//! take the global offset of the shard), and uniform fills the same bits on every build.

pub mod jax;
pub mod orthogonal;
pub mod shuffle;
pub mod stream;

use crate::lanes::Transcendental;
use crate::width::Width;
use crate::{Error, validate};
use stream::{CHUNK, RandomStream};

/// A nonlinearity for [`calculate_gain`] (`torch.nn.init.calculate_gain`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Nonlinearity {
    /// `linear`: 1.
    Linear,
    /// `conv1d`, `conv2d`, `conv3d`, `conv_transpose1d/2d/3d`: 1.
    Conv,
    /// `sigmoid`: 1.
    Sigmoid,
    /// `tanh`: 5/3.
    Tanh,
    /// `relu`: √2.
    Relu,
    /// `leaky_relu` with negative slope (torch's default `None` = 0.01): `√(2/(1 + a²))`.
    LeakyRelu(f64),
    /// `selu`: 3/4.
    Selu,
}

/// `torch.nn.init.calculate_gain`: the recommended gain for a nonlinearity.
///
/// # Errors
/// [`Error::InvalidHyperparameter`] if a leaky-ReLU slope is not finite.
pub fn calculate_gain(nonlinearity: Nonlinearity) -> Result<f64, Error> {
    Ok(match nonlinearity {
        Nonlinearity::Linear | Nonlinearity::Conv | Nonlinearity::Sigmoid => 1.0,
        Nonlinearity::Tanh => 5.0 / 3.0,
        Nonlinearity::Relu => libm::sqrt(2.0),
        Nonlinearity::LeakyRelu(a) => {
            let a = validate::finite("negative_slope", a)?;
            libm::sqrt(2.0 / (1.0 + a * a))
        }
        Nonlinearity::Selu => 3.0 / 4.0,
    })
}

/// `(fan_in, fan_out)` of a tensor shape (torch's `_calculate_fan_in_and_fan_out`):
/// `fan_in = shape[1]·Π shape[2..]`, `fan_out = shape[0]·Π shape[2..]` (linear weights are
/// `[out, in]`, convolutions `[out, in, k…]`).
///
/// # Errors
/// [`Error::InvalidHyperparameter`] (`"shape"`) for fewer than 2 dimensions.
pub fn fans(shape: &[usize]) -> Result<(usize, usize), Error> {
    match shape {
        [out, inp, rest @ ..] => {
            let receptive: usize = rest.iter().product();
            Ok((inp.saturating_mul(receptive), out.saturating_mul(receptive)))
        }
        _ => Err(validate::out_of_range("shape", shape.len() as f64)),
    }
}

/// Which fan scales the variance (Kaiming's `mode`, variance scaling's `mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FanMode {
    /// `fan_in` (preserves the forward pass's variance).
    FanIn,
    /// `fan_out` (preserves the backward pass's variance).
    FanOut,
    /// `(fan_in + fan_out)/2` (Keras' `fan_avg`).
    FanAvg,
    /// `√(fan_in·fan_out)` (JAX's `fan_geo_avg`).
    FanGeoAvg,
}

impl FanMode {
    /// The fan `n` of this mode: `fan_in`, `fan_out`, their mean or their geometric mean.
    pub fn of(self, fan_in: f64, fan_out: f64) -> f64 {
        match self {
            FanMode::FanIn => fan_in,
            FanMode::FanOut => fan_out,
            FanMode::FanAvg => (fan_in + fan_out) / 2.0,
            FanMode::FanGeoAvg => libm::sqrt(fan_in * fan_out),
        }
    }
}

fn fan(shape: &[usize], mode: FanMode) -> Result<f64, Error> {
    let (fan_in, fan_out) = fans(shape)?;
    Ok(mode.of(fan_in as f64, fan_out as f64))
}

/// Xavier/Glorot's standard deviation: `gain·√(2/(fan_in + fan_out))` (torch's order).
///
/// # Errors
/// As [`fans`].
pub fn xavier_std(shape: &[usize], gain: f64) -> Result<f64, Error> {
    let (fan_in, fan_out) = fans(shape)?;
    Ok(gain * libm::sqrt(2.0 / (fan_in + fan_out) as f64))
}

/// Kaiming/He's standard deviation: `gain/√fan`, `gain = calculate_gain(nonlinearity)`.
///
/// # Errors
/// As [`fans`] and [`calculate_gain`].
pub fn kaiming_std(
    shape: &[usize],
    mode: FanMode,
    nonlinearity: Nonlinearity,
) -> Result<f64, Error> {
    Ok(calculate_gain(nonlinearity)? / libm::sqrt(fan(shape, mode)?))
}

/// The bound of the uniform distribution with standard deviation `std`: `√3·std`.
pub fn uniform_bound(std: f64) -> f64 {
    libm::sqrt(3.0) * std
}

pub(crate) fn check_shape(out: &[f32], shape: &[usize]) -> Result<(), Error> {
    let n = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).unwrap_or(usize::MAX);
    validate::len("out", n, out.len())
}

const TWO_POW_M24: f32 = 1.0 / 16_777_216.0;

/// `v` as the f32 the fills compute in: a finite f64 that overflows f32 is out of range.
fn in_f32(name: &'static str, v: f64) -> Result<f32, Error> {
    let x = v as f32;
    if x.is_finite() { Ok(x) } else { Err(validate::out_of_range(name, v)) }
}

/// `out[i] = U(low, high)` for the elements `offset..offset + out.len()` of the stream's fill
/// (pass `offset = 0` for a whole tensor; shards pass their global offset).
///
/// # Errors
/// [`Error::InvalidHyperparameter`] if a bound is not finite; for `low` if it overflows f32
/// (the fill is in f32); for `high` if `low > high` or the span `high − low` overflows f32.
/// Nothing is written on `Err`.
pub fn uniform_at(
    out: &mut [f32],
    offset: usize,
    low: f64,
    high: f64,
    stream: &RandomStream,
) -> Result<(), Error> {
    let (low, high) = (validate::finite("low", low)?, validate::finite("high", high)?);
    let a = in_f32("low", low)?;
    // The span is f32 in the fill too: one that overflows would give ±∞ or NaN.
    let span = (high - low) as f32;
    if low > high || !span.is_finite() {
        return Err(validate::out_of_range("high", high));
    }
    // `move`: the scalars are copied into registers; captured by reference, the compiler
    // could not prove that the stores do not alias them and would not vectorise.
    let map = move |w: u32| (w >> 8) as f32 * TWO_POW_M24 * span + a;
    stream.for_each_chunk(offset, out, move |words, first, part| {
        if let Ok(full) = <&mut [f32; CHUNK]>::try_from(&mut *part) {
            // The common, aligned case, on 16 lanes at once: the same operations as `map`.
            let (lo, hi) = full.split_at_mut(16);
            for (out, w) in [lo, hi].into_iter().zip(words) {
                let top: wide::i32x16 = wide::bytemuck::cast(wide::u32x16::new(*w) >> 8);
                let x = wide::f32x16::from_i32x16(top)
                    * wide::f32x16::splat(TWO_POW_M24)
                    * wide::f32x16::splat(span)
                    + wide::f32x16::splat(a);
                out.copy_from_slice(&x.to_array());
            }
        } else {
            for (e, x) in (first..).zip(part.iter_mut()) {
                *x = map(words.as_flattened().get(e).copied().unwrap_or(0));
            }
        }
    });
    Ok(())
}

/// `out[i] = N(mean, std²)` for the elements `offset..` of the stream's fill, at an explicit
/// width (every width gives the same bits).
#[doc(hidden)]
pub fn normal_at_with(
    width: Width,
    out: &mut [f32],
    offset: usize,
    mean: f64,
    std: f64,
    stream: &RandomStream,
) -> Result<(), Error> {
    let mean = in_f32("mean", validate::finite("mean", mean)?)?;
    let std = in_f32("std", validate::non_negative("std", std)?)?;
    stream.for_each_chunk(offset, out, move |words, first, part| {
        let z = match width {
            Width::X1 | Width::X4 => box_muller::<wide::f32x4, 4>(words),
            Width::X8 => box_muller::<wide::f32x8, 8>(words),
            Width::X16 => box_muller::<wide::f32x16, 16>(words),
        };
        for (x, &zi) in part.iter_mut().zip(&z[first..]) {
            *x = zi * std + mean;
        }
    });
    Ok(())
}

/// `out[i] = N(mean, std²)` for the elements `offset..` of the stream's fill.
///
/// # Errors
/// [`Error::InvalidHyperparameter`] if `mean` is not finite or `std` is negative or not
/// finite, or either overflows f32 (the fill's precision); nothing is written on `Err`.
pub fn normal_at(
    out: &mut [f32],
    offset: usize,
    mean: f64,
    std: f64,
    stream: &RandomStream,
) -> Result<(), Error> {
    normal_at_with(Width::X16, out, offset, mean, std, stream)
}

/// Box–Muller on the 16 lanes of a chunk: 32 standard normals.
#[inline(always)]
fn box_muller<L: Transcendental<N>, const N: usize>(words: &[[u32; 16]; 2]) -> [f32; CHUNK] {
    let mut z = [0.0f32; CHUNK];
    let (cos_half, sin_half) = z.split_at_mut(16);
    let u1: [f32; 16] = core::array::from_fn(|k| ((words[0][k] >> 8) + 1) as f32 * TWO_POW_M24);
    let u2: [f32; 16] = core::array::from_fn(|k| (words[1][k] >> 8) as f32 * TWO_POW_M24);
    let (u1c, _) = u1.as_chunks::<N>();
    let (u2c, _) = u2.as_chunks::<N>();
    let (cc, _) = cos_half.as_chunks_mut::<N>();
    let (sc, _) = sin_half.as_chunks_mut::<N>();
    for (((a, b), c), s) in u1c.iter().zip(u2c).zip(cc).zip(sc) {
        let r = (L::splat(-2.0) * L::load(a).ln()).sqrt();
        let (sin, cos) = (L::splat(core::f32::consts::TAU) * L::load(b)).sin_cos();
        (r * cos).store(c);
        (r * sin).store(s);
    }
    z
}

/// Fills a whole tensor with `U(low, high)` from `rng` (a [`RandomStream`] seeded from it).
///
/// # Errors
/// As [`uniform_at`].
pub fn uniform<R: rand_core::Rng + ?Sized>(
    out: &mut [f32],
    low: f64,
    high: f64,
    rng: &mut R,
) -> Result<(), Error> {
    uniform_at(out, 0, low, high, &RandomStream::from_rng(rng))
}

/// Fills a whole tensor with `N(mean, std²)` from `rng`.
///
/// # Errors
/// As [`normal_at`].
pub fn normal<R: rand_core::Rng + ?Sized>(
    out: &mut [f32],
    mean: f64,
    std: f64,
    rng: &mut R,
) -> Result<(), Error> {
    normal_at(out, 0, mean, std, &RandomStream::from_rng(rng))
}

/// The standard normal CDF `Φ(x) = (1 + erf(x/√2))/2`.
fn norm_cdf(x: f64) -> f64 {
    (1.0 + libm::erf(x / core::f64::consts::SQRT_2)) / 2.0
}

/// `erf⁻¹(y)` for `y ∈ (−1, 1)`: Giles' single-precision approximation as the start, then
/// Newton steps on `libm::erf` to full f64 accuracy.
// Not inlined: inlined into trunc_normal's 32-element chunk body it was copied per element,
// 26 KB per x86-64 level (the C library's torch.optim archive went over its 2 MB budget);
// a call costs nothing beside its erf/erfc calls.
#[inline(never)]
fn erfinv(y: f64) -> f64 {
    if y <= -1.0 {
        return f64::NEG_INFINITY;
    }
    if y >= 1.0 {
        return f64::INFINITY;
    }
    let w = giles_w(y);
    let mut x = erfinv_start(y, w);
    let slope = |x: f64| 2.0 / libm::sqrt(core::f64::consts::PI) * libm::exp(-x * x);
    if w < 5.0 {
        // Three steps suffice: the start is within 2e-7 of the root here (a unit test below).
        for _ in 0..3 {
            x -= (libm::erf(x) - y) / slope(x);
        }
        return x;
    }
    // In the tails `erf(x)` rounds to within 2⁻⁵³ of ±1 and cannot resolve `1 − |y|`: solve
    // `ln erfc(|x|) = ln q` with `q = 1 − |y|` (exact: Sterbenz) instead, which is well
    // conditioned. Giles' start loses accuracy past `q ≈ 10⁻⁸` (8 % at `q = 10⁻¹⁶`); Newton
    // on this concave function converges quadratically from there: four steps measured to
    // reach the root over the whole tail (the unit test below), five taken.
    let (q, mut x_abs) = (1.0 - y.abs(), x.abs());
    for _ in 0..5 {
        let e = libm::erfc(x_abs);
        x_abs += (libm::log(e) - libm::log(q)) * e / slope(x_abs);
    }
    x_abs.copysign(y)
}

/// Giles' variable `w = −ln(1 − y²)`; `w ≥ 5` (`|y| ≳ 0.99663`) is the tail.
fn giles_w(y: f64) -> f64 {
    -libm::log((1.0 - y) * (1.0 + y))
}

/// Giles' approximation of `erf⁻¹(y)` ("Approximating the erfinv function", 2010: the
/// single-precision polynomials in `w =` [`giles_w`]`(y)`, split at `w = 5`), for `y ∈ (−1, 1)`.
fn erfinv_start(y: f64, w: f64) -> f64 {
    if w < 5.0 {
        let w = w - 2.5;
        let mut p = 2.810_226_36e-08;
        for c in [
            3.432_739_39e-07,
            -3.523_387_7e-06,
            -4.391_506_54e-06,
            0.000_218_580_87,
            -0.001_253_725_03,
            -0.004_177_681_64,
            0.246_640_727,
            1.501_409_41,
        ] {
            p = c + p * w;
        }
        p * y
    } else {
        let w = libm::sqrt(w) - 3.0;
        let mut p = -0.000_200_214_257;
        for c in [
            0.000_100_950_558,
            0.001_349_343_22,
            -0.003_673_428_44,
            0.005_739_507_73,
            -0.007_622_461_3,
            0.009_438_870_47,
            1.001_674_06,
            2.832_976_82,
        ] {
            p = c + p * w;
        }
        p * y
    }
}

/// `torch.nn.init.trunc_normal_`: `N(mean, std²)` truncated to `[a, b]` (absolute bounds), by
/// the inverse CDF in f64, for the elements `offset..` of the stream's fill.
///
/// # Errors
/// [`Error::InvalidHyperparameter`] if a parameter is not finite, `std ≤ 0` or `a ≥ b`; nothing
/// is written on `Err`.
pub fn trunc_normal_at(
    out: &mut [f32],
    offset: usize,
    mean: f64,
    std: f64,
    a: f64,
    b: f64,
    stream: &RandomStream,
) -> Result<(), Error> {
    let mean = validate::finite("mean", mean)?;
    let std = validate::finite("std", std)?;
    if std <= 0.0 {
        return Err(validate::out_of_range("std", std));
    }
    let (a, b) = (validate::finite("a", a)?, validate::finite("b", b)?);
    if a >= b {
        return Err(validate::out_of_range("b", b));
    }
    let (lo, hi) = (norm_cdf((a - mean) / std), norm_cdf((b - mean) / std));
    stream.for_each_chunk(
        offset,
        out,
        #[inline(always)]
        |words, first, part| {
            for (e, x) in (first..).zip(part.iter_mut()) {
                // 24 bits, centred in their interval so that u never hits either end.
                let w = words.as_flattened().get(e).copied().unwrap_or(0);
                let u = ((w >> 8) as f64 + 0.5) / 16_777_216.0;
                let p = lo + (hi - lo) * u;
                let v = mean + std * core::f64::consts::SQRT_2 * erfinv(2.0 * p - 1.0);
                // clamp(a, b) without its a ≤ b assertion (a < b was checked above, but the
                // compiler cannot see it here): no panic path. v is never NaN (std > 0, u ∈ (0, 1)).
                *x = v.max(a).min(b) as f32;
            }
        },
    );
    Ok(())
}

/// Fills a whole tensor with the truncated normal (see [`trunc_normal_at`]).
///
/// # Errors
/// As [`trunc_normal_at`].
pub fn trunc_normal<R: rand_core::Rng + ?Sized>(
    out: &mut [f32],
    mean: f64,
    std: f64,
    a: f64,
    b: f64,
    rng: &mut R,
) -> Result<(), Error> {
    trunc_normal_at(out, 0, mean, std, a, b, &RandomStream::from_rng(rng))
}

/// `out ← value` (`torch.nn.init.constant_`; `zeros_` and `ones_` are 0 and 1).
///
/// # Errors
/// [`Error::InvalidHyperparameter`] if `value` is not finite.
pub fn constant(out: &mut [f32], value: f32) -> Result<(), Error> {
    validate::finite("value", f64::from(value))?;
    out.fill(value);
    Ok(())
}

/// `torch.nn.init.eye_`: the identity for a `rows × cols` matrix (ones on the main diagonal).
///
/// # Errors
/// [`Error::LengthMismatch`] if `out` is not `rows·cols` long.
pub fn eye(out: &mut [f32], rows: usize, cols: usize) -> Result<(), Error> {
    check_shape(out, &[rows, cols])?;
    out.fill(0.0);
    for i in 0..rows.min(cols) {
        if let Some(x) = out.get_mut(i * cols + i) {
            *x = 1.0;
        }
    }
    Ok(())
}

/// `torch.nn.init.dirac_`: the identity convolution for a `[out, in, k…]` weight (3 to 5
/// dimensions) with `groups` groups: `w[g·out/groups + d, d, centre…] = 1`.
///
/// # Errors
/// [`Error::InvalidHyperparameter`] for a shape of fewer than 3 or more than 5 dimensions or
/// `groups` not dividing `shape[0]`; [`Error::LengthMismatch`] if `out` does not hold the shape.
pub fn dirac(out: &mut [f32], shape: &[usize], groups: usize) -> Result<(), Error> {
    if !(3..=5).contains(&shape.len()) {
        return Err(validate::out_of_range("shape", shape.len() as f64));
    }
    if groups == 0 || !shape[0].is_multiple_of(groups) {
        return Err(validate::out_of_range("groups", groups as f64));
    }
    check_shape(out, shape)?;
    out.fill(0.0);
    let per_group = shape[0] / groups;
    let kernel = shape.get(2..).unwrap_or_default();
    let centre: usize = kernel.iter().fold(0, |acc, &k| acc * k + k / 2);
    let kernel_size: usize = kernel.iter().product();
    for g in 0..groups {
        for d in 0..per_group.min(shape[1]) {
            let o = g * per_group + d;
            if let Some(x) = out.get_mut((o * shape[1] + d) * kernel_size + centre) {
                *x = 1.0;
            }
        }
    }
    Ok(())
}

/// Xavier/Glorot uniform (`torch.nn.init.xavier_uniform_`): `U(−b, b)`,
/// `b = √3·gain·√(2/(fan_in + fan_out))` — the source notes' `√(6/(m + n))` for gain 1.
///
/// # Errors
/// As [`fans`] and [`uniform_at`]; [`Error::LengthMismatch`] if `out` does not hold `shape`.
pub fn xavier_uniform<R: rand_core::Rng + ?Sized>(
    out: &mut [f32],
    shape: &[usize],
    gain: f64,
    rng: &mut R,
) -> Result<(), Error> {
    check_shape(out, shape)?;
    let b = uniform_bound(xavier_std(shape, gain)?);
    uniform(out, -b, b, rng)
}

/// Xavier/Glorot normal: `N(0, (gain·√(2/(fan_in + fan_out)))²)`.
///
/// # Errors
/// As [`xavier_uniform`].
pub fn xavier_normal<R: rand_core::Rng + ?Sized>(
    out: &mut [f32],
    shape: &[usize],
    gain: f64,
    rng: &mut R,
) -> Result<(), Error> {
    check_shape(out, shape)?;
    normal(out, 0.0, xavier_std(shape, gain)?, rng)
}

/// Kaiming/He uniform (`torch.nn.init.kaiming_uniform_`): `U(−b, b)`, `b = √3·gain/√fan`.
/// torch's default is `FanMode::FanIn` with `LeakyRelu(0.0)` (gain √2); `nn.Linear`'s is
/// `LeakyRelu(√5)`.
///
/// # Errors
/// As [`xavier_uniform`].
pub fn kaiming_uniform<R: rand_core::Rng + ?Sized>(
    out: &mut [f32],
    shape: &[usize],
    mode: FanMode,
    nonlinearity: Nonlinearity,
    rng: &mut R,
) -> Result<(), Error> {
    check_shape(out, shape)?;
    let b = uniform_bound(kaiming_std(shape, mode, nonlinearity)?);
    uniform(out, -b, b, rng)
}

/// Kaiming/He normal: `N(0, (gain/√fan)²)`.
///
/// # Errors
/// As [`xavier_uniform`].
pub fn kaiming_normal<R: rand_core::Rng + ?Sized>(
    out: &mut [f32],
    shape: &[usize],
    mode: FanMode,
    nonlinearity: Nonlinearity,
    rng: &mut R,
) -> Result<(), Error> {
    check_shape(out, shape)?;
    normal(out, 0.0, kaiming_std(shape, mode, nonlinearity)?, rng)
}

/// The distribution of [`variance_scaling`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Distribution {
    /// `U(−√(3s/n), √(3s/n))`.
    Uniform,
    /// `N(0, s/n)`.
    Normal,
    /// `N(0, σ²)` truncated to `±2σ` with `σ = √(s/n)/0.87962566103423978`, so that the
    /// variance is `s/n` (Keras' `truncated_normal`).
    TruncatedNormal,
}

/// Keras' `VarianceScaling(scale, mode, distribution)`: variance `s/n` with `n` the fan of
/// `mode`. LeCun's initializers are `scale = 1`, `FanIn` (`lecun_uniform`: `Uniform`,
/// `lecun_normal`: `TruncatedNormal`); Glorot's are `scale = 1`, `FanAvg`; He's `scale = 2`.
///
/// # Errors
/// [`Error::InvalidHyperparameter`] if `scale` is not finite and positive; as [`xavier_uniform`].
pub fn variance_scaling<R: rand_core::Rng + ?Sized>(
    out: &mut [f32],
    shape: &[usize],
    scale: f64,
    mode: FanMode,
    distribution: Distribution,
    rng: &mut R,
) -> Result<(), Error> {
    let scale = validate::finite("scale", scale)?;
    if scale <= 0.0 {
        return Err(validate::out_of_range("scale", scale));
    }
    check_shape(out, shape)?;
    fill_with_variance(out, scale / fan(shape, mode)?, distribution, rng)
}

/// Samples of variance `var` from `distribution` (see [`Distribution`]).
pub(crate) fn fill_with_variance<R: rand_core::Rng + ?Sized>(
    out: &mut [f32],
    var: f64,
    distribution: Distribution,
    rng: &mut R,
) -> Result<(), Error> {
    match distribution {
        Distribution::Uniform => {
            let b = libm::sqrt(3.0 * var);
            uniform(out, -b, b, rng)
        }
        Distribution::Normal => normal(out, 0.0, libm::sqrt(var), rng),
        Distribution::TruncatedNormal => {
            let std = libm::sqrt(var) / 0.879_625_661_034_239_8;
            trunc_normal(out, 0.0, std, -2.0 * std, 2.0 * std, rng)
        }
    }
}

/// LeCun uniform: `U(−√(3/fan_in), √(3/fan_in))`.
///
/// # Errors
/// As [`variance_scaling`].
pub fn lecun_uniform<R: rand_core::Rng + ?Sized>(
    out: &mut [f32],
    shape: &[usize],
    rng: &mut R,
) -> Result<(), Error> {
    variance_scaling(out, shape, 1.0, FanMode::FanIn, Distribution::Uniform, rng)
}

/// LeCun normal: truncated normal with variance `1/fan_in`.
///
/// # Errors
/// As [`variance_scaling`].
pub fn lecun_normal<R: rand_core::Rng + ?Sized>(
    out: &mut [f32],
    shape: &[usize],
    rng: &mut R,
) -> Result<(), Error> {
    variance_scaling(out, shape, 1.0, FanMode::FanIn, Distribution::TruncatedNormal, rng)
}

/// `torch.nn.init.sparse_` for a `rows × cols` matrix: `N(0, std²)`, then in every column
/// `⌈sparsity·rows⌉` rows, chosen uniformly without replacement (selection sampling, no
/// scratch), set to 0.
///
/// # Errors
/// [`Error::InvalidHyperparameter`] if `sparsity` is outside `[0, 1]` or `std` invalid;
/// [`Error::LengthMismatch`] if `out` is not `rows·cols` long.
pub fn sparse<R: rand_core::Rng + ?Sized>(
    out: &mut [f32],
    rows: usize,
    cols: usize,
    sparsity: f64,
    std: f64,
    rng: &mut R,
) -> Result<(), Error> {
    let sparsity = validate::unit_closed("sparsity", sparsity)?;
    validate::non_negative("std", std)?;
    check_shape(out, &[rows, cols])?;
    normal(out, 0.0, std, rng)?;
    let zeros = libm::ceil(sparsity * rows as f64) as usize;
    for c in 0..cols {
        // Knuth's Algorithm S: row r is chosen with probability needed/remaining.
        let mut needed = zeros;
        for r in 0..rows {
            let remaining = (rows - r) as u32;
            if needed > 0 && (stream::below(rng, remaining) as usize) < needed {
                if let Some(x) = out.get_mut(r * cols + c) {
                    *x = 0.0;
                }
                needed -= 1;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{erfinv, erfinv_start, giles_w};

    /// The independent reference: bisection on `libm::erf` / `libm::erfc`.
    fn bisect(y: f64) -> f64 {
        optkern_reference::init::erfinv_by_bisection(y, libm::erf, libm::erfc)
    }

    /// `y` over (−1, 1): a uniform grid (both of Giles' branches: `w < 5` is `|y| < 0.99663`)
    /// and the tails, `1 − |y|` from 10⁻¹ to 10⁻¹⁵ and the largest `y` below 1.
    fn grid() -> impl Iterator<Item = f64> {
        // (y = 0 is left out: both are exactly 0 there, which a relative error cannot show.)
        let inner = (-999..=999).filter(|&k| k != 0).map(|k| f64::from(k) / 1000.0);
        let tails = (2..=30).flat_map(|j| {
            let t = 1.0 - libm::pow(10.0, -f64::from(j) / 2.0);
            [t, -t]
        });
        inner.chain(tails).chain([1.0 - f64::EPSILON / 2.0, -1.0 + f64::EPSILON / 2.0])
    }

    /// Newton's steps converge only from a close start, and a wrong coefficient or branch
    /// would still converge on most inputs, invisible after the polish: Giles' polynomials
    /// must keep their single-precision accuracy wherever `y` is an f32 (`1 − |y| ≥ 2⁻²⁴`;
    /// measured worst 1.7e-7).
    #[test]
    fn erfinv_start_is_giles_single_precision_approximation() {
        for y in grid().filter(|y| 1.0 - y.abs() >= 1.0 / 16_777_216.0) {
            let want = bisect(y);
            let rel = (erfinv_start(y, giles_w(y)) - want).abs() / want.abs();
            assert!(rel < 2e-7, "{y}: start off by {rel:e}");
        }
    }

    /// The polished value is the root to within the conditioning of its equation: `erf` near
    /// the centre (an ulp of `erf`'s value `y` moves the root by `ulp(y)/erf′(x)`, `erf′(x) =
    /// 2/√π·e^(−x²)`), `erfc` in the tails (well conditioned: a few ulps of `x`). The centre's
    /// bound is relative to `y`: solving `erfc(x) = 1 − y` there (rounding `1 − y`) fails it.
    #[test]
    fn erfinv_is_the_root_of_erf() {
        assert_eq!(erfinv(0.0), 0.0);
        for y in grid() {
            let (got, want) = (erfinv(y), bisect(y));
            let slope = 2.0 / libm::sqrt(core::f64::consts::PI) * libm::exp(-want * want);
            let bound = if giles_w(y) < 5.0 {
                4.0 * f64::EPSILON * (want.abs() + y.abs() / slope)
            } else {
                8.0 * f64::EPSILON * want.abs()
            };
            assert!((got - want).abs() <= bound, "{y}: {got} vs {want}");
        }
    }
}
