//! The C API (feature `capi`): one `extern "C"` function per kernel, schedule and utility,
//! status codes instead of panics, and every pointer checked before anything is written.
//!
//! Rules shared by every function (the header repeats them):
//! - one `len` for all buffers of a call; `(NULL, 0)` is an empty buffer;
//! - checks run before any write, in this order: the config pointer (NULL, misaligned, a
//!   `bool` field not 0/1 or an enum out of range), then each buffer in argument order (NULL
//!   with `len > 0`, misaligned for its type, `len` too large for the address space), then
//!   overlaps between a written buffer and any other; then the kernel's own checks. On any
//!   status but `OPTKERN_STATUS_OK` no buffer is written;
//! - an optional buffer (a state the options do not use) may be NULL; NULL for a buffer the
//!   options need is `OPTKERN_STATUS_NULL_POINTER`;
//! - every function returning a status (but `optkern_select_level`) takes `optkern_error
//!   *error` last: NULL, or a caller-owned record that a failing call fills with the rejected
//!   argument, field and reason ([`ErrorInfo`]);
//! - no panic crosses the boundary: the C library has no `std` and `panic = "abort"`; the
//!   optimizer steps have no panic path left (checked at link time by the freestanding test);
//!   `OPTKERN_STATUS_PANIC` is kept for ABI stability and never returned.
#![allow(unsafe_code)]
#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)]

pub mod breadth;
pub mod format;
pub mod init;
pub mod linalg;
pub mod optim;
pub mod train;

use crate::{Error, Problem};
use core::ffi::{CStr, c_char};
use core::mem::{align_of, size_of};
use core::ptr;

/// The result of every C function (`OPTKERN_STATUS_OK = 0`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Success.
    Ok = 0,
    /// A required pointer is NULL.
    NullPointer = 1,
    /// A pointer is not aligned for its type.
    Misaligned = 2,
    /// A written buffer overlaps another buffer of the call.
    Overlap = 3,
    /// A length is zero where it must not be, too large for the address space, or
    /// inconsistent with a shape.
    InvalidLength = 4,
    /// A hyperparameter is NaN, infinite, out of range or conflicting, or a `bool`/enum field
    /// holds an invalid value.
    InvalidHyperparameter = 5,
    /// `step` is 0 (steps count from 1).
    InvalidStep = 6,
    /// A panic was caught (never expected).
    Panic = 7,
    /// A buffer descriptor holds an unknown format, rounding, map or quantizer, or a format
    /// its argument cannot take (q8 gradients, f16 state, ...).
    InvalidFormat = 8,
    /// A q8 buffer's blocks do not line up with the call: `offset` is not a multiple of 256.
    BlockMisaligned = 9,
    /// A sparse gradient's row index is not below the number of rows.
    IndexOutOfRange = 10,
    /// [`optkern_select_level`]: the CPU lacks that instruction-set level, or the library was
    /// not built for it.
    UnsupportedLevel = 11,
    /// A shard of a sharded reduction is not made of whole 4096-element blocks (its start, or
    /// its end before the end of the buffer, is not a multiple of 4096).
    ShardBoundary = 12,
}

use Status as S;

/// A static, NUL-terminated description of a status (never NULL; unknown values give
/// "unknown status").
#[unsafe(no_mangle)]
pub extern "C" fn optkern_status_str(status: u32) -> *const core::ffi::c_char {
    let s: &'static [u8] = match status {
        0 => b"ok\0",
        1 => b"null pointer\0",
        2 => b"misaligned pointer\0",
        3 => b"overlapping buffers\0",
        4 => b"invalid length\0",
        5 => b"invalid hyperparameter\0",
        6 => b"invalid step (steps count from 1)\0",
        7 => b"panic (bug in optkern)\0",
        8 => b"invalid or unsupported storage format\0",
        9 => b"a quantized buffer starts inside a block (offset not a multiple of 256)\0",
        10 => b"a sparse row index is past the last row\0",
        11 => b"instruction-set level not supported by this CPU or not built into this library\0",
        12 => b"a shard boundary is not on a 4096-element reduction block\0",
        _ => b"unknown status\0",
    };
    s.as_ptr().cast()
}

/// The instruction set of the code in use, e.g. `"x86-64-v3 (avx2, fma)"`. The C library
/// shipped by `scripts/build-capi.sh` holds one copy of the code per x86-64 level and picks one
/// at the first call (see [`optkern_select_level`]); this names the copy that runs.
#[unsafe(no_mangle)]
pub extern "C" fn optkern_build_info() -> *const c_char {
    BUILD_INFO.as_ptr()
}

/// [`optkern_build_info`]'s text, fixed at compile time.
const BUILD_INFO: &CStr = match BUILD_LEVEL {
    4 => c"x86-64-v4 (avx512f, fma)",
    3 => c"x86-64-v3 (avx2, fma)",
    _ if cfg!(target_feature = "fma") => c"fma",
    _ => c"x86-64 (baseline: sse2, no fma)",
};

/// The x86-64 psABI level (1 to 4) this copy of the code was compiled for: 4 with AVX-512
/// (F, VL), 3 with AVX2 and FMA, 1 otherwise (also on other architectures).
const BUILD_LEVEL: u32 = if cfg!(all(target_feature = "avx512f", target_feature = "avx512vl")) {
    4
} else if cfg!(all(target_feature = "avx2", target_feature = "fma")) {
    3
} else {
    1
};

/// Chooses the copy of the code later calls run: `level` 0 = the best this CPU supports (the
/// default, chosen at the first call), 1 = baseline x86-64 (SSE2), 3 = x86-64-v3 (AVX2, FMA),
/// 4 = x86-64-v4 (AVX-512). For tests and benchmarks: every level gives the bits of the
/// single-level build for that level (the `Portable` profile: the same bits at every level;
/// `Fast`: the AVX-512 estimates at level 4, `Portable`'s bits at levels 1 and 3).
///
/// The multi-level library (`scripts/build-capi.sh`, x86-64) defines this function in its
/// dispatcher (`scripts/dispatch.c`): it checks the CPU with `cpuid`/`xgetbv` and returns
/// `OPTKERN_STATUS_UNSUPPORTED_LEVEL`, keeping the current choice, for a level the CPU lacks
/// (or 2, which is not built). Not thread-safe against concurrent calls into the library: call
/// it before starting threads. A single-level build (this definition) accepts 0 and its own
/// level only. No environment variable is read: the library uses no libc.
#[unsafe(no_mangle)]
pub extern "C" fn optkern_select_level(level: u32) -> Status {
    if level == 0 || level == BUILD_LEVEL { S::Ok } else { S::UnsupportedLevel }
}

/// The library's version, `"MAJOR.MINOR.PATCH"` (static, NUL-terminated). The shared library's
/// soname carries the ABI version: `liboptkern.so.0`.
#[unsafe(no_mangle)]
pub extern "C" fn optkern_version() -> *const core::ffi::c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

impl From<Error> for Status {
    fn from(e: Error) -> Self {
        match e {
            // In C every buffer of a call shares `len`, so a length mismatch can only be an
            // optional buffer left NULL while the options need it.
            Error::LengthMismatch { .. } => S::NullPointer,
            Error::InvalidHyperparameter { .. } => S::InvalidHyperparameter,
            Error::ZeroStep => S::InvalidStep,
            Error::Misaligned { .. } => S::BlockMisaligned,
            Error::UnsupportedFormat { .. } => S::InvalidFormat,
            Error::IndexOutOfRange { .. } => S::IndexOutOfRange,
            Error::ShardBoundary { .. } => S::ShardBoundary,
        }
    }
}

/// What a rejected call got wrong (`optkern_error`), for a C caller to print or log. Every
/// function that returns an `optkern_status` takes `optkern_error *error` as its last argument:
/// NULL, or a record the call fills when it returns anything but `OPTKERN_STATUS_OK` (it is
/// left untouched on success). No global or thread-local state: the record is the caller's.
///
/// ```c
/// optkern_error e;
/// if (optkern_adam_step(p, g, m, v, NULL, n, step, &cfg, &e) != OPTKERN_STATUS_OK)
///     fprintf(stderr, "adam: %s%s%s %s\n", e.argument, e.field[0] ? "." : "", e.field, e.reason);
///     /* e.g. "adam: cfg.beta2 is out of range", "adam: exp_avg_sq is NULL while len > 0" */
/// ```
///
/// Lengths are counts of elements: a length in bytes is only caught when it makes a buffer
/// overlap another or overflow the address space — the library cannot know a buffer's size.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ErrorInfo {
    /// The status the call returned.
    pub status: Status,
    /// The rejected argument as named in this header (`"cfg"`, `"exp_avg_sq"`, `"len"`,
    /// `"step"`, `"base_lr"`), or `""` where the call cannot single one out. NUL-terminated.
    pub argument: [c_char; 32],
    /// The rejected field when `argument` is a struct (`"beta2"` of `cfg`, `"absmax"` of a
    /// buffer descriptor), else `""`.
    pub field: [c_char; 32],
    /// The other argument involved, else `""`: the buffer `argument` overlaps
    /// (`OPTKERN_STATUS_OVERLAP`), the buffer a rejected `len` would overflow.
    pub other: [c_char; 32],
    /// Why, as a phrase completing the argument (`"is NaN"`, `"is NULL while len > 0"`):
    /// static, never NULL.
    pub reason: *const c_char,
    /// The offending number where there is one (the hyperparameter's value, the row index, the
    /// length, the offset), else NaN.
    pub value: f64,
}

/// A rejected call inside the library: the status and what [`ErrorInfo`] reports. Names are
/// the C argument and field names; `?` converts a [`Status`] (no names) or an [`Error`] (the
/// Rust error already names the field).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fail {
    status: Status,
    argument: &'static str,
    field: &'static str,
    other: &'static str,
    reason: &'static CStr,
    value: f64,
}

impl Fail {
    /// `status` for `argument`, because `reason`.
    pub(crate) const fn new(status: Status, argument: &'static str, reason: &'static CStr) -> Fail {
        Fail { status, argument, field: "", other: "", reason, value: f64::NAN }
    }

    /// An [`Error`] about the plain argument `arg` of a call that also takes a config (e.g. a
    /// shard's `trust_ratio`): the record names the argument itself, not a field of the config.
    pub(crate) fn plain_argument(e: Error, arg: &'static str) -> Fail {
        let mut fail = Fail::from(e);
        if fail.field == arg {
            (fail.argument, fail.field) = (arg, "");
        }
        fail
    }

    /// The same failure, about a field of the struct `argument`: the failing name becomes the
    /// field (a descriptor's `map`, say).
    pub(crate) const fn of(mut self, argument: &'static str) -> Fail {
        (self.argument, self.field) = (argument, self.argument);
        self
    }

    /// The same failure, about `field` of the argument.
    pub(crate) const fn field(mut self, field: &'static str) -> Fail {
        self.field = field;
        self
    }

    /// The same failure, with the offending number.
    pub(crate) const fn value(mut self, value: f64) -> Fail {
        self.value = value;
        self
    }
}

impl From<Status> for Fail {
    fn from(status: Status) -> Fail {
        let reason: &'static CStr = match status {
            S::NullPointer => c"is NULL",
            S::Misaligned => c"is not aligned for its type",
            S::Overlap => c"overlaps another buffer of the call",
            S::InvalidLength => c"is an invalid length",
            S::InvalidHyperparameter => c"is invalid",
            S::InvalidStep => c"is 0 (steps count from 1)",
            S::InvalidFormat => c"has a format this argument cannot take",
            S::BlockMisaligned => c"starts inside a quantization block",
            S::IndexOutOfRange => c"holds an index past the last row",
            S::ShardBoundary => c"is not on a 4096-element reduction block",
            S::Ok | S::Panic | S::UnsupportedLevel => c"was rejected",
        };
        Fail::new(status, "", reason)
    }
}

impl From<Error> for Fail {
    fn from(e: Error) -> Fail {
        let status = Status::from(e);
        match e {
            Error::LengthMismatch { arg, .. } => {
                Fail::new(status, arg, c"is NULL but these options use it")
            }
            // The field of the call's config, or the argument itself when the call has no
            // config (`ffi` decides, from the name it is given).
            Error::InvalidHyperparameter { name, value, problem } => {
                let reason = match problem {
                    Problem::NaN => c"is NaN",
                    Problem::Infinite => c"is infinite",
                    Problem::OutOfRange => c"is out of range",
                    Problem::Conflict => c"conflicts with another option",
                };
                Fail::new(status, "", reason).field(name).value(value)
            }
            Error::ZeroStep => Fail::new(status, "step", c"is 0 (steps count from 1)").value(0.0),
            Error::Misaligned { arg, offset, .. } => Fail::new(
                status,
                arg,
                c"starts inside a quantization block (the offset is not a multiple of its size)",
            )
            .value(offset as f64),
            Error::IndexOutOfRange { arg, index, .. } => {
                Fail::new(status, arg, c"holds an index past the last row").value(index as f64)
            }
            Error::ShardBoundary { arg, index, .. } => Fail::new(
                status,
                arg,
                c"is not on a 4096-element reduction block (nor the end of the buffer)",
            )
            .value(index as f64),
            Error::UnsupportedFormat { arg } => {
                Fail::new(status, arg, c"has a format this kernel cannot take")
            }
        }
    }
}

/// An enum-like `u32` argument holding none of its values.
pub(crate) fn bad_enum(
    status: Status,
    argument: &'static str,
    value: u32,
    reason: &'static CStr,
) -> Fail {
    Fail::new(status, argument, reason).value(f64::from(value))
}

/// Copies a name into a record field, truncated to 31 bytes and NUL-terminated.
fn name_into(dst: &mut [c_char; 32], name: &str) {
    *dst = [0; 32];
    for (d, &b) in dst.iter_mut().take(31).zip(name.as_bytes()) {
        *d = b as c_char;
    }
}

/// Runs `f`, turning its failure into a status and, if `error` is a usable pointer, a record.
/// `config_arg` names the call's config argument (`"cfg"`), or is `""` when the call takes its
/// hyperparameters as plain arguments: a hyperparameter error then names that argument. There
/// is no panic to catch: the C library is built without `std` and with `panic = "abort"` (see
/// the panic handler below).
pub(crate) fn ffi(
    error: *mut ErrorInfo,
    config_arg: &'static str,
    f: impl FnOnce() -> Result<(), Fail>,
) -> Status {
    match f() {
        Ok(()) => S::Ok,
        Err(fail) => report(error, config_arg, &fail),
    }
}

/// The failure path of [`ffi`], out of line: one copy instead of one per C function.
#[inline(never)]
#[cold]
fn report(error: *mut ErrorInfo, config_arg: &'static str, fail: &Fail) -> Status {
    let mut fail = *fail;
    if fail.argument.is_empty() && !fail.field.is_empty() {
        if config_arg.is_empty() {
            (fail.argument, fail.field) = (fail.field, "");
        } else {
            fail.argument = config_arg;
        }
    }
    if !error.is_null() && (error as usize).is_multiple_of(align_of::<ErrorInfo>()) {
        let mut info = ErrorInfo {
            status: fail.status,
            argument: [0; 32],
            field: [0; 32],
            other: [0; 32],
            reason: fail.reason.as_ptr(),
            value: fail.value,
        };
        name_into(&mut info.argument, fail.argument);
        name_into(&mut info.field, fail.field);
        name_into(&mut info.other, fail.other);
        // SAFETY: non-null and aligned; the caller guarantees it points to a writable
        // `optkern_error` that no buffer of the call overlaps (nothing else was written).
        unsafe { ptr::write(error, info) };
    }
    fail.status
}

/// The panic handler of the `no_std` C library. The library has no panic path: every argument
/// is checked first and the code indexes through checked forms, so the optimiser removes every
/// call to the handler.
///
/// `scripts/build-capi.sh` builds with `--cfg optkern_no_panic_check`: the handler then calls
/// a symbol nothing defines, so a panic path that survives optimisation anywhere in the library
/// fails the build — the `no_panic` crate's idea applied to the whole C library
/// (`scripts/panic-sites.sh` lists the call sites if that happens). Built without it (a
/// `cargo build --features capi` of one's own), a panic would trap (`ud2`), with no libc
/// needed.
#[cfg(all(not(feature = "std"), not(test)))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    #[cfg(optkern_no_panic_check)]
    {
        unsafe extern "C" {
            fn optkern_no_panic_path_may_remain() -> !;
        }
        // SAFETY: never defined; reaching this line at link time is the error it reports.
        unsafe { optkern_no_panic_path_may_remain() }
    }
    #[cfg(not(optkern_no_panic_check))]
    loop {
        // SAFETY: `ud2` raises an invalid-opcode trap; it has no other effect.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            core::arch::asm!("ud2", options(noreturn));
        }
    }
}

// The personality routine the precompiled `core` refers to in its unwind tables; with
// `panic = "abort"` nothing unwinds, so it is never called. On x86-64 it is defined with hidden
// visibility: a `#[no_mangle]` function would be exported from the shared library (rustc's
// export list for a cdylib outranks the version script's `local: *`), and only `optkern_*`
// may be.
#[cfg(all(not(feature = "std"), not(test), target_arch = "x86_64"))]
core::arch::global_asm!(
    ".globl rust_eh_personality",
    ".hidden rust_eh_personality",
    ".type rust_eh_personality, @function",
    "rust_eh_personality:",
    "ud2",
);
/// See the x86-64 definition above (elsewhere: expected to link the same way, not tested).
#[cfg(all(not(feature = "std"), not(test), not(target_arch = "x86_64")))]
#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() {}

/// A config struct the C side fills in: its `bool` and enum fields are checked through raw
/// reads before the struct is read as Rust values (an invalid `bool` or enum is UB in Rust).
pub(crate) trait CConfig: Copy {
    /// The first `bool` or enum field at `p` holding an invalid value, if any.
    ///
    /// # Safety
    /// `p` is non-null, aligned and points to `size_of::<Self>()` readable bytes.
    unsafe fn invalid_field(p: *const Self) -> Option<&'static str>;
}

macro_rules! c_config {
    ($t:ty, bools: [$($b:ident),*], enums: [$($e:ident < $max:expr),*]) => {
        impl $crate::capi::CConfig for $t {
            unsafe fn invalid_field(p: *const Self) -> Option<&'static str> {
                // SAFETY: the caller guarantees `p` is valid for reads; each field is read as
                // plain bytes of its size, which is valid for any bit pattern.
                unsafe {
                    $(if core::ptr::read(core::ptr::addr_of!((*p).$b).cast::<u8>()) > 1 {
                        return Some(stringify!($b));
                    })*
                    $(if core::ptr::read(core::ptr::addr_of!((*p).$e).cast::<u32>()) >= $max {
                        return Some(stringify!($e));
                    })*
                }
                None
            }
        }
    };
}
pub(crate) use c_config;

/// Reads the config argument `name` from C.
///
/// # Safety
/// `p` is NULL or points to a readable `T`-sized region.
pub(crate) unsafe fn config<T: CConfig>(p: *const T, name: &'static str) -> Result<T, Fail> {
    if p.is_null() {
        return Err(Fail::new(S::NullPointer, name, c"is NULL"));
    }
    if !(p as usize).is_multiple_of(align_of::<T>()) {
        return Err(Fail::new(S::Misaligned, name, c"is not aligned for its type"));
    }
    // SAFETY: non-null and aligned; the caller guarantees it is readable.
    if let Some(field) = unsafe { T::invalid_field(p) } {
        let why = c"holds a value that is not a valid bool (0 or 1) or enum constant";
        return Err(Fail::new(S::InvalidHyperparameter, name, why).field(field));
    }
    // SAFETY: as above, and every bool/enum field holds a valid value.
    Ok(unsafe { ptr::read(p) })
}

/// A buffer argument before it becomes a slice.
#[derive(Clone, Copy)]
pub(crate) struct Raw {
    /// The first byte's address; 0 for an empty buffer (whatever its pointer), so that an
    /// empty buffer never intersects another in [`no_overlap`] without a test of its own.
    addr: usize,
    /// One past the last byte (`addr` + the length in bytes).
    end: usize,
    len: usize,
    written: bool,
    /// The argument's name, for [`ErrorInfo`].
    name: &'static str,
}

impl Raw {
    /// No region (an absent optional buffer).
    pub(crate) const EMPTY: Raw = Raw { addr: 0, end: 0, len: 0, written: false, name: "" };

    /// Its length in elements.
    pub(crate) fn len(self) -> usize {
        self.len
    }

    /// The required buffer argument `name` of `len` elements of `T`.
    pub(crate) fn new<T>(
        p: *const T,
        len: usize,
        written: bool,
        name: &'static str,
    ) -> Result<Raw, Fail> {
        Self::make(p, len, written, false, name)
    }

    /// A buffer the options may not use: NULL makes it empty (the kernel then reports it
    /// missing if the options do need it).
    pub(crate) fn optional<T>(
        p: *const T,
        len: usize,
        written: bool,
        name: &'static str,
    ) -> Result<Raw, Fail> {
        Self::make(p, len, written, true, name)
    }

    fn make<T>(
        p: *const T,
        len: usize,
        written: bool,
        optional: bool,
        name: &'static str,
    ) -> Result<Raw, Fail> {
        let len = if optional && p.is_null() { 0 } else { len };
        if p.is_null() && len > 0 {
            return Err(Fail::new(S::NullPointer, name, c"is NULL while its length is not 0"));
        }
        if !p.is_null() && !(p as usize).is_multiple_of(align_of::<T>()) {
            return Err(Fail::new(S::Misaligned, name, c"is not aligned for its element type"));
        }
        let too_long = || {
            let why = c"makes this buffer overflow the address space (a length in bytes?)";
            let mut fail = Fail::new(S::InvalidLength, "len", why).value(len as f64);
            fail.other = name;
            fail
        };
        let bytes = len.checked_mul(size_of::<T>()).filter(|&b| b <= isize::MAX as usize);
        let bytes = bytes.ok_or_else(too_long)?;
        if (p as usize).checked_add(bytes).is_none() {
            return Err(too_long());
        }
        let addr = if bytes == 0 { 0 } else { p as usize };
        Ok(Raw { addr, end: addr + bytes, len, written, name })
    }
}

/// `OPTKERN_STATUS_OVERLAP` if a written buffer shares a byte with any other buffer.
///
/// Inlined into every C entry: as a call it was ~15 ns of a 16-element `optkern_adam_step`
/// (perf), inlined the search over the entry's fixed buffer array costs next to nothing (the
/// branches are the same every call, so they are predicted); docs/performance.md.
#[inline(always)]
pub(crate) fn no_overlap(raws: &[Raw]) -> Result<(), Fail> {
    for (i, a) in raws.iter().enumerate() {
        for b in raws.get(i + 1..).unwrap_or_default() {
            // An empty buffer is [0, 0), which intersects nothing: `b.addr < 0` is false.
            let intersect = a.addr < b.end && b.addr < a.end;
            if (a.written || b.written) && intersect {
                let (written, other) = if a.written { (a, b) } else { (b, a) };
                let mut fail =
                    Fail::new(S::Overlap, written.name, c"overlaps another buffer of the call");
                fail.other = other.name;
                return Err(fail);
            }
        }
    }
    Ok(())
}

/// The slice of a checked buffer.
///
/// # Safety
/// `raw` came from a pointer valid for `raw.len` reads of `T`, and no written buffer of the
/// call overlaps it ([`no_overlap`]).
pub(crate) unsafe fn slice<'a, T>(raw: Raw) -> &'a [T] {
    if raw.len == 0 {
        &[]
    } else {
        // SAFETY: non-null (checked), aligned (checked), valid for `len` reads (caller), not
        // aliased by a written buffer (checked).
        unsafe { core::slice::from_raw_parts(raw.addr as *const T, raw.len) }
    }
}

/// The mutable slice of a checked buffer.
///
/// # Safety
/// As [`slice`], and valid for writes; no other buffer of the call overlaps it.
pub(crate) unsafe fn slice_mut<'a, T>(raw: Raw) -> &'a mut [T] {
    if raw.len == 0 {
        &mut []
    } else {
        // SAFETY: as `slice`, and the caller guarantees writability and exclusivity.
        unsafe { core::slice::from_raw_parts_mut(raw.addr as *mut T, raw.len) }
    }
}

/// Writes a value through the out-pointer argument `name` after the call succeeded.
///
/// # Safety
/// `p` is NULL or valid for a write of `T`.
pub(crate) unsafe fn out<T>(p: *mut T, name: &'static str, value: T) -> Result<(), Fail> {
    out_ok(p, name)?;
    // SAFETY: non-null, aligned, writable by the caller's contract.
    unsafe { ptr::write(p, value) };
    Ok(())
}

/// Checks the out-pointer argument `name` up front (so nothing is written if it is bad).
pub(crate) fn out_ok<T>(p: *mut T, name: &'static str) -> Result<(), Fail> {
    if p.is_null() {
        Err(Fail::new(S::NullPointer, name, c"is NULL"))
    } else if !(p as usize).is_multiple_of(align_of::<T>()) {
        Err(Fail::new(S::Misaligned, name, c"is not aligned for its type"))
    } else {
        Ok(())
    }
}

/// Checks the buffers of a call and returns them as [`Raw`]s, in order: `out` (written),
/// `opt` (written, may be NULL), `in` (read), `optin` (read, may be NULL). Each is named by
/// its argument for [`ErrorInfo`].
macro_rules! buffers {
    ($len:expr; $($kind:ident $p:ident),* $(,)?) => {{
        let r = [$($crate::capi::buffers!(@ $kind $p, $len)),*];
        $crate::capi::no_overlap(&r)?;
        r
    }};
    (@ out $p:ident, $len:expr) => { $crate::capi::Raw::new($p as *const _, $len, true, stringify!($p))? };
    (@ opt $p:ident, $len:expr) => { $crate::capi::Raw::optional($p as *const _, $len, true, stringify!($p))? };
    (@ in $p:ident, $len:expr) => { $crate::capi::Raw::new($p, $len, false, stringify!($p))? };
    (@ optin $p:ident, $len:expr) => { $crate::capi::Raw::optional($p, $len, false, stringify!($p))? };
}
pub(crate) use buffers;
