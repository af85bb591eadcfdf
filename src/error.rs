//! The error type: every kernel checks all of its arguments before its first write, so an
//! `Err` means nothing was changed.

use core::fmt;

/// What is wrong with a hyperparameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Problem {
    /// The value is NaN.
    NaN,
    /// The value is `±∞`.
    Infinite,
    /// The value is finite but outside the documented range.
    OutOfRange,
    /// The value is valid alone but not with another option (e.g. Nesterov without momentum).
    Conflict,
}

/// Why a kernel refused its arguments. When a kernel returns `Err`, every buffer it was given
/// is bit-identical to before the call.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// A buffer's length differs from the length of the kernel's first buffer (`params`, or
    /// the output of a kernel that does not update the parameters, e.g. `average`).
    LengthMismatch {
        /// The argument's name, e.g. `"grads"`.
        arg: &'static str,
        /// The length required (that of the first buffer).
        expected: usize,
        /// The length given.
        found: usize,
    },
    /// A hyperparameter is NaN, infinite, out of its documented range, or conflicts with
    /// another option.
    InvalidHyperparameter {
        /// The config field's name, e.g. `"beta1"`.
        name: &'static str,
        /// The value given (as f64).
        value: f64,
        /// What is wrong with it.
        problem: Problem,
    },
    /// The step number is 0; steps count from 1, as `torch.optim`'s `state["step"]` after
    /// its increment.
    ZeroStep,
    /// A quantized buffer's blocks do not line up with the call's elements: the call's
    /// `offset` (its first element's global index) is not a multiple of the block size, so
    /// the call would start inside a block another call also writes.
    Misaligned {
        /// The argument's name, e.g. `"exp_avg"`.
        arg: &'static str,
        /// The call's offset.
        offset: u64,
        /// The block size it must be a multiple of.
        block: usize,
    },
    /// An index names a row past the end of its matrix (a sparse gradient's row index).
    IndexOutOfRange {
        /// The argument's name, e.g. `"indices"`.
        arg: &'static str,
        /// The index given.
        index: usize,
        /// The number of rows (every index must be below it).
        bound: usize,
    },
    /// A shard of a sharded reduction does not consist of whole reduction blocks: its start (or
    /// its end, unless it is the end of the buffer) is not a multiple of the block size, or it
    /// ends past the buffer.
    ShardBoundary {
        /// `"start"` or `"end"`.
        arg: &'static str,
        /// The boundary's global element index.
        index: usize,
        /// The block size it must be a multiple of.
        block: usize,
    },
    /// The kernel cannot take this storage format for this argument (e.g. a quantized
    /// buffer where the kernel needs f32).
    UnsupportedFormat {
        /// The argument's name.
        arg: &'static str,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::LengthMismatch { arg, expected, found } => {
                write!(f, "`{arg}` has length {found}, expected {expected} (the first buffer's)")
            }
            Error::InvalidHyperparameter { name, value, problem } => {
                let what = match problem {
                    Problem::NaN => "is NaN",
                    Problem::Infinite => "is infinite",
                    Problem::OutOfRange => "is out of range",
                    Problem::Conflict => "conflicts with another option",
                };
                write!(f, "hyperparameter `{name}` = {value} {what}")
            }
            Error::ZeroStep => f.write_str("`step` is 0; steps count from 1"),
            Error::Misaligned { arg, offset, block } => write!(
                f,
                "`{arg}` is quantized in blocks of {block} but the call starts at element {offset}, \
                 inside a block"
            ),
            Error::IndexOutOfRange { arg, index, bound } => {
                write!(f, "`{arg}` holds {index}, past the last row ({bound} rows)")
            }
            Error::ShardBoundary { arg, index, block } => write!(
                f,
                "the shard's {arg} ({index}) is not on a reduction block (a multiple of {block}, \
                 or the end of the buffer for the end)"
            ),
            Error::UnsupportedFormat { arg } => {
                write!(f, "`{arg}`: this kernel cannot take that storage format")
            }
        }
    }
}

impl core::error::Error for Error {}
