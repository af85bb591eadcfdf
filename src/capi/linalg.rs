//! C functions for the dense linear algebra: the matrix product.

use super::{ErrorInfo, Fail, Raw, Status, c_config, config, ffi, slice, slice_mut};
use crate::linalg::{GemmConfig, gemm, gemm_scratch_len};

c_config!(GemmConfig, bools: [trans_a, trans_b], enums: [numerics < 2]);

/// The defaults of [`GemmConfig`] (`α = 1`, `β = 0`, no transposes, `Torch`).
#[unsafe(no_mangle)]
pub extern "C" fn optkern_gemm_config_default() -> GemmConfig {
    GemmConfig::default()
}

/// [`gemm_scratch_len`]: the `float` scratch [`optkern_gemm`] needs.
#[unsafe(no_mangle)]
pub extern "C" fn optkern_gemm_scratch_len(m: usize, n: usize, k: usize) -> usize {
    gemm_scratch_len(m, n, k)
}

/// The length a stored row-major matrix needs: `(rows − 1)·ld + cols` (0 if empty).
fn stored(rows: usize, cols: usize, ld: usize) -> Result<usize, Fail> {
    if rows == 0 || cols == 0 {
        return Ok(0);
    }
    (rows - 1).checked_mul(ld).and_then(|x| x.checked_add(cols)).ok_or(Fail::new(
        Status::InvalidLength,
        "ld",
        c"makes the stored matrix overflow the address space",
    ))
}

/// [`gemm()`]: `C ← α·op(A)·op(B) + β·C`, row-major, `op(A)` `m × k`, `op(B)` `k × n`,
/// leading dimensions `lda`, `ldb`, `ldc`; `C` must not overlap `A`, `B` or the scratch.
/// `OPTKERN_STATUS_INVALID_LENGTH` for a scratch shorter than `optkern_gemm_scratch_len`.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn optkern_gemm(
    c: *mut f32,
    ldc: usize,
    a: *const f32,
    lda: usize,
    b: *const f32,
    ldb: usize,
    m: usize,
    n: usize,
    k: usize,
    cfg: *const GemmConfig,
    scratch: *mut f32,
    scratch_len: usize,
    error: *mut ErrorInfo,
) -> Status {
    ffi(error, "cfg", || {
        // SAFETY: the config and every buffer are checked (NULL, alignment, size, overlap)
        // before a slice is made; the caller guarantees each pointer is valid for its length.
        unsafe {
            let cfg = config(cfg, "cfg")?;
            if scratch_len < gemm_scratch_len(m, n, k) {
                let why = c"is shorter than optkern_gemm_scratch_len(m, n, k)";
                return Err(
                    Fail::new(Status::InvalidLength, "scratch_len", why).value(scratch_len as f64)
                );
            }
            let (ar, ac) = if cfg.trans_a { (k, m) } else { (m, k) };
            let (br, bc) = if cfg.trans_b { (n, k) } else { (k, n) };
            let r = [
                Raw::new(c as *const f32, stored(m, n, ldc)?, true, "c")?,
                Raw::new(a, stored(ar, ac, lda)?, false, "a")?,
                Raw::new(b, stored(br, bc, ldb)?, false, "b")?,
                Raw::new(scratch as *const f32, scratch_len, true, "scratch")?,
            ];
            super::no_overlap(&r)?;
            gemm(
                slice_mut(r[0]),
                ldc,
                slice(r[1]),
                lda,
                slice(r[2]),
                ldb,
                [m, n, k],
                &cfg,
                slice_mut(r[3]),
            )?;
        }
        Ok(())
    })
}
