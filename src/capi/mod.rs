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
//! - no panic crosses the boundary: the C library has no `std` and `panic = "abort"`; the
//!   optimizer steps have no panic path left (checked at link time by the freestanding test);
//!   `OPTKERN_STATUS_PANIC` is kept for ABI stability and never returned.
#![allow(unsafe_code)]
#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)]

pub mod format;
pub mod init;
pub mod linalg;
pub mod optim;
pub mod train;

use crate::Error;
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
        _ => b"unknown status\0",
    };
    s.as_ptr().cast()
}

/// The instruction set of the code in use, e.g. `"x86-64-v3 (avx2, fma)"`. The C library
/// shipped by `scripts/build-capi.sh` holds one copy of the code per x86-64 level and picks one
/// at the first call (see [`optkern_select_level`]); this names the copy that runs.
#[unsafe(no_mangle)]
pub extern "C" fn optkern_build_info() -> *const core::ffi::c_char {
    let s: &'static [u8] = match BUILD_LEVEL {
        4 => b"x86-64-v4 (avx512f, fma)\0",
        3 => b"x86-64-v3 (avx2, fma)\0",
        _ if cfg!(target_feature = "fma") => b"fma\0",
        _ => b"x86-64 (baseline: sse2, no fma)\0",
    };
    s.as_ptr().cast()
}

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
/// single-level build for that level (the `Portable` profile: the same bits at every level).
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
        }
    }
}

/// Runs `f`, turning its error into a status. There is no panic to catch: the C library is
/// built without `std` and with `panic = "abort"` (see the panic handler below).
pub(crate) fn ffi(f: impl FnOnce() -> Result<(), Status>) -> Status {
    match f() {
        Ok(()) => S::Ok,
        Err(s) => s,
    }
}

/// The panic handler of the `no_std` C library. No tested path panics (every argument is
/// checked first), and `scripts/panic-sites.sh` counts the panic call sites the optimiser left
/// (none in the optimizers, the staged driver and the C API's checks; the rest are listed in
/// the README). A panic would trap (`ud2`), with no libc needed.
///
/// Built with `--cfg optkern_no_panic_check` the handler instead calls a symbol nothing
/// defines, so that a program whose link reaches a panic path fails to link — the `no_panic`
/// crate's idea applied to the whole C library (`tests/c/freestanding/run.sh` links the
/// optimizer steps that way).
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
    /// Whether the raw bytes at `p` hold valid `bool`s and enum values.
    ///
    /// # Safety
    /// `p` is non-null, aligned and points to `size_of::<Self>()` readable bytes.
    unsafe fn raw_valid(p: *const Self) -> bool;
}

macro_rules! c_config {
    ($t:ty, bools: [$($b:ident),*], enums: [$($e:ident < $max:expr),*]) => {
        impl $crate::capi::CConfig for $t {
            unsafe fn raw_valid(p: *const Self) -> bool {
                // SAFETY: the caller guarantees `p` is valid for reads; each field is read as
                // plain bytes of its size, which is valid for any bit pattern.
                unsafe {
                    true $(&& core::ptr::read(core::ptr::addr_of!((*p).$b).cast::<u8>()) <= 1)*
                    $(&& core::ptr::read(core::ptr::addr_of!((*p).$e).cast::<u32>()) < $max)*
                }
            }
        }
    };
}
pub(crate) use c_config;

/// Reads a config from C.
///
/// # Safety
/// `p` is NULL or points to a readable `T`-sized region.
pub(crate) unsafe fn config<T: CConfig>(p: *const T) -> Result<T, Status> {
    if p.is_null() {
        return Err(S::NullPointer);
    }
    if !(p as usize).is_multiple_of(align_of::<T>()) {
        return Err(S::Misaligned);
    }
    // SAFETY: non-null and aligned; the caller guarantees it is readable.
    if !unsafe { T::raw_valid(p) } {
        return Err(S::InvalidHyperparameter);
    }
    // SAFETY: as above, and every bool/enum field holds a valid value.
    Ok(unsafe { ptr::read(p) })
}

/// A buffer argument before it becomes a slice.
#[derive(Clone, Copy)]
pub(crate) struct Raw {
    addr: usize,
    bytes: usize,
    len: usize,
    written: bool,
}

impl Raw {
    /// No region (an absent optional buffer).
    pub(crate) const EMPTY: Raw = Raw { addr: 0, bytes: 0, len: 0, written: false };

    /// A required buffer of `len` elements of `T`.
    pub(crate) fn new<T>(p: *const T, len: usize, written: bool) -> Result<Raw, Status> {
        Self::make(p, len, written, false)
    }

    /// A buffer the options may not use: NULL makes it empty (the kernel then reports it
    /// missing if the options do need it).
    pub(crate) fn optional<T>(p: *const T, len: usize, written: bool) -> Result<Raw, Status> {
        Self::make(p, len, written, true)
    }

    fn make<T>(p: *const T, len: usize, written: bool, optional: bool) -> Result<Raw, Status> {
        let len = if optional && p.is_null() { 0 } else { len };
        if p.is_null() && len > 0 {
            return Err(S::NullPointer);
        }
        if !p.is_null() && !(p as usize).is_multiple_of(align_of::<T>()) {
            return Err(S::Misaligned);
        }
        let bytes = len.checked_mul(size_of::<T>()).filter(|&b| b <= isize::MAX as usize);
        let bytes = bytes.ok_or(S::InvalidLength)?;
        if (p as usize).checked_add(bytes).is_none() {
            return Err(S::InvalidLength);
        }
        Ok(Raw { addr: p as usize, bytes, len, written })
    }
}

/// `OPTKERN_STATUS_OVERLAP` if a written buffer shares a byte with any other buffer.
pub(crate) fn no_overlap(raws: &[Raw]) -> Result<(), Status> {
    for (i, a) in raws.iter().enumerate() {
        for b in raws.get(i + 1..).unwrap_or_default() {
            let both_nonempty = a.bytes > 0 && b.bytes > 0;
            let intersect = a.addr < b.addr + b.bytes && b.addr < a.addr + a.bytes;
            if (a.written || b.written) && both_nonempty && intersect {
                return Err(S::Overlap);
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

/// Writes a value through an out-pointer after the call succeeded.
///
/// # Safety
/// `p` is NULL or valid for a write of `T`.
pub(crate) unsafe fn out<T>(p: *mut T, value: T) -> Result<(), Status> {
    if p.is_null() {
        return Err(S::NullPointer);
    }
    if !(p as usize).is_multiple_of(align_of::<T>()) {
        return Err(S::Misaligned);
    }
    // SAFETY: non-null, aligned, writable by the caller's contract.
    unsafe { ptr::write(p, value) };
    Ok(())
}

/// Checks an out-pointer up front (so nothing is written if it is bad).
pub(crate) fn out_ok<T>(p: *mut T) -> Result<(), Status> {
    if p.is_null() {
        Err(S::NullPointer)
    } else if !(p as usize).is_multiple_of(align_of::<T>()) {
        Err(S::Misaligned)
    } else {
        Ok(())
    }
}

/// Checks the buffers of a call and returns them as [`Raw`]s, in order: `out` (written),
/// `opt` (written, may be NULL), `in` (read).
macro_rules! buffers {
    ($len:expr; $($kind:ident $p:expr),* $(,)?) => {{
        let r = [$($crate::capi::buffers!(@ $kind $p, $len)),*];
        $crate::capi::no_overlap(&r)?;
        r
    }};
    (@ out $p:expr, $len:expr) => { $crate::capi::Raw::new($p as *const _, $len, true)? };
    (@ opt $p:expr, $len:expr) => { $crate::capi::Raw::optional($p as *const _, $len, true)? };
    (@ in $p:expr, $len:expr) => { $crate::capi::Raw::new($p, $len, false)? };
    (@ optin $p:expr, $len:expr) => { $crate::capi::Raw::optional($p, $len, false)? };
}
pub(crate) use buffers;
