//! Argument checks shared by the kernels. They run before any write and never scan the data.

use crate::error::{Error, Problem};

/// `found == expected`, else [`Error::LengthMismatch`] naming `arg`.
pub(crate) fn len(arg: &'static str, expected: usize, found: usize) -> Result<(), Error> {
    if found == expected { Ok(()) } else { Err(Error::LengthMismatch { arg, expected, found }) }
}

/// A buffer that is only used when an option is on: it must then have `expected` elements;
/// when the option is off it may also be empty (it is not touched).
pub(crate) fn optional_len(
    arg: &'static str,
    used: bool,
    expected: usize,
    found: usize,
) -> Result<(), Error> {
    if !used && found == 0 { Ok(()) } else { len(arg, expected, found) }
}

fn invalid(name: &'static str, value: f64, problem: Problem) -> Error {
    Error::InvalidHyperparameter { name, value, problem }
}

/// Finite, else NaN / Infinite.
pub(crate) fn finite(name: &'static str, value: f64) -> Result<f64, Error> {
    if value.is_nan() {
        Err(invalid(name, value, Problem::NaN))
    } else if value.is_infinite() {
        Err(invalid(name, value, Problem::Infinite))
    } else {
        Ok(value)
    }
}

/// Finite and `≥ 0`.
pub(crate) fn non_negative(name: &'static str, value: f64) -> Result<f64, Error> {
    finite(name, value)?;
    if value >= 0.0 { Ok(value) } else { Err(invalid(name, value, Problem::OutOfRange)) }
}

/// Finite and in `[0, 1)`.
pub(crate) fn unit_half_open(name: &'static str, value: f64) -> Result<f64, Error> {
    finite(name, value)?;
    if (0.0..1.0).contains(&value) {
        Ok(value)
    } else {
        Err(invalid(name, value, Problem::OutOfRange))
    }
}

/// Finite and in `[0, 1]`.
pub(crate) fn unit_closed(name: &'static str, value: f64) -> Result<f64, Error> {
    finite(name, value)?;
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(invalid(name, value, Problem::OutOfRange))
    }
}

/// Finite and in `(0, 1]`.
pub(crate) fn positive_unit(name: &'static str, value: f64) -> Result<f64, Error> {
    unit_closed(name, value)?;
    if value > 0.0 { Ok(value) } else { Err(invalid(name, value, Problem::OutOfRange)) }
}

/// A conflict between options, reported on `name`.
pub(crate) fn conflict(name: &'static str, value: f64) -> Error {
    invalid(name, value, Problem::Conflict)
}

/// `step ≥ 1`.
pub(crate) fn step(step: u32) -> Result<(), Error> {
    if step == 0 { Err(Error::ZeroStep) } else { Ok(()) }
}

/// The gradient multiplier every step kernel applies first: finite and `≥ 0`.
pub(crate) fn grad_scale(value: f32) -> Result<f32, Error> {
    non_negative("grad_scale", f64::from(value))?;
    Ok(value)
}

/// The profile, for a kernel whose optional profiles
/// ([`Numerics::Bitsandbytes`](crate::Numerics::Bitsandbytes),
/// [`Numerics::Fast`](crate::Numerics::Fast), [`Numerics::Torchao`](crate::Numerics::Torchao))
/// are `optional`; `Torch` and `Portable` are
/// always accepted.
pub(crate) fn numerics(value: crate::Numerics, optional: &[crate::Numerics]) -> Result<(), Error> {
    use crate::Numerics::{Bitsandbytes, Fast, Torchao};
    if matches!(value, Bitsandbytes | Fast | Torchao) && !optional.contains(&value) {
        Err(conflict("numerics", value as u32 as f64))
    } else {
        Ok(())
    }
}

/// A scalar combined from shard partials (a step size, a trust ratio): not NaN and `≤ 0`. An
/// infinity on that side is what one process would have used, so it passes.
pub(crate) fn combined_non_positive(name: &'static str, value: f64) -> Result<(), Error> {
    if value.is_nan() || value > 0.0 { Err(out_of_range(name, value)) } else { Ok(()) }
}

/// As [`combined_non_positive`], for a scalar that must be `≥ 0`.
pub(crate) fn combined_non_negative(name: &'static str, value: f64) -> Result<(), Error> {
    if value.is_nan() || value < 0.0 { Err(out_of_range(name, value)) } else { Ok(()) }
}

/// A finite value outside its documented range.
pub(crate) fn out_of_range(name: &'static str, value: f64) -> Error {
    invalid(name, value, Problem::OutOfRange)
}
