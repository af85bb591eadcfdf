//! `torch.nn.init.orthogonal_`: a (semi-)orthogonal matrix from the QR decomposition of a
//! Gaussian matrix, computed in place with Householder reflections in caller scratch.

use super::normal;
use crate::slices::split_at_mut;
use crate::{Error, validate};

/// The `f64` scratch length [`orthogonal`] needs for a `rows × cols` matrix:
/// `m·n + m + n` with `m = max(rows, cols)`, `n = min(rows, cols)` (the Householder vectors,
/// one column, and the diagonal of `R`).
pub fn orthogonal_scratch_len(rows: usize, cols: usize) -> usize {
    let (m, n) = (rows.max(cols), rows.min(cols));
    m.saturating_mul(n).saturating_add(m).saturating_add(n)
}

/// Fills a `rows × cols` matrix (row-major; a tensor of more dimensions is flattened to
/// `shape[0] × rest`, as torch does) with a random (semi-)orthogonal matrix times `gain`:
/// orthonormal rows if `rows ≤ cols`, orthonormal columns otherwise.
///
/// As torch: `A ~ N(0, 1)^{m×n}` (transposed when `rows < cols`), `A = QR` (Householder),
/// `Q ← Q·diag(sign(diag R))` (so the factorisation is unique and `Q` Haar-distributed), then
/// `out = gain·Q` (or `gain·Qᵀ`). The arithmetic is f64 in `scratch` (see
/// [`orthogonal_scratch_len`]); the result is rounded to f32 once.
///
/// # Errors
/// [`Error::LengthMismatch`] if `out` is not `rows·cols` long or `scratch` is shorter than
/// [`orthogonal_scratch_len`]; [`Error::InvalidHyperparameter`] if `gain` is not finite.
/// Nothing is written on `Err`.
pub fn orthogonal<R: rand_core::Rng + ?Sized>(
    out: &mut [f32],
    rows: usize,
    cols: usize,
    gain: f64,
    scratch: &mut [f64],
    rng: &mut R,
) -> Result<(), Error> {
    let n_out = rows.saturating_mul(cols);
    validate::len("out", n_out, out.len())?;
    let need = orthogonal_scratch_len(rows, cols);
    if scratch.len() < need {
        return Err(Error::LengthMismatch { arg: "scratch", expected: need, found: scratch.len() });
    }
    let gain = validate::finite("gain", gain)?;
    if n_out == 0 {
        return Ok(());
    }
    // n_out ≠ 0: rows, cols ≥ 1 (said for the compiler: `chunks_exact` has no panic path).
    let (rows, cols) = (rows.max(1), cols.max(1));
    let (m, n, transposed) = if rows >= cols { (rows, cols, false) } else { (cols, rows, true) };
    normal(out, 0.0, 1.0, rng)?;
    // Indexing below goes through get/chunks (no bounds-check panics in the C library); the
    // lengths were checked above, so every `get` succeeds.
    let (a, rest) = split_at_mut(scratch, m * n);
    let (col, diag) = split_at_mut(rest, m);
    // A (m×n, column-major in scratch): the samples, transposed when rows < cols.
    for (r, row) in out.chunks_exact(cols).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            let (i, j) = if transposed { (c, r) } else { (r, c) };
            if let Some(slot) = a.get_mut(j * m + i) {
                *slot = f64::from(v);
            }
        }
    }
    signed_q(a, m, n, col, diag, |i, j, q| {
        let (r, c) = if transposed { (j, i) } else { (i, j) };
        if let Some(slot) = out.get_mut(r * cols + c) {
            *slot = (q * gain) as f32;
        }
    });
    Ok(())
}

/// Householder QR of the `m × n` column-major matrix `a` (`m ≥ n`, overwritten), then
/// `emit(i, j, Q_ij·sign(R_jj))` for every entry of the (thin) `Q`: the unique factor with a
/// positive diagonal in `R`. `col` (`m` long) and `diag` (`n` long) are scratch. A column that is
/// exactly zero (a rank-deficient sample, probability 0) gets no reflection and `sign(0) = +1`.
fn signed_q(
    a: &mut [f64],
    m: usize,
    n: usize,
    col: &mut [f64],
    diag: &mut [f64],
    mut emit: impl FnMut(usize, usize, f64),
) {
    // Column k's reflector v_k (unit norm) overwrites A[k.., k] and R_kk = −sign(x₀)·‖x‖ goes
    // to `diag`: the sign that avoids cancellation in x₀ − R_kk.
    for (k, d) in diag.iter_mut().take(n).enumerate() {
        let (head, tail) = split_at_mut(a, (k + 1) * m);
        let x = head.get_mut(k * m + k..).unwrap_or_default();
        let norm = libm::sqrt(x.iter().map(|v| v * v).sum::<f64>());
        let Some(x0) = x.first_mut() else { break };
        let alpha = if *x0 >= 0.0 { -norm } else { norm };
        *d = alpha;
        *x0 -= alpha;
        let vnorm = libm::sqrt(x.iter().map(|v| v * v).sum::<f64>());
        if vnorm > 0.0 {
            x.iter_mut().for_each(|v| *v /= vnorm);
        }
        // Apply H = I − 2vvᵀ to the remaining columns.
        for column in tail.chunks_exact_mut(m) {
            let y = column.get_mut(k..).unwrap_or_default();
            let dot: f64 = x.iter().zip(y.iter()).map(|(p, q)| p * q).sum();
            y.iter_mut().zip(x.iter()).for_each(|(q, p)| *q -= 2.0 * dot * p);
        }
    }
    // Q's column j = H₀H₁…H_{n−1} e_j, times sign(R_jj).
    for (j, &d) in diag.iter().take(n).enumerate() {
        col.fill(0.0);
        if let Some(e) = col.get_mut(j) {
            *e = 1.0;
        }
        for (k, column) in a.chunks_exact(m).enumerate().rev() {
            let v = column.get(k..).unwrap_or_default();
            let y = col.get_mut(k..).unwrap_or_default();
            let dot: f64 = v.iter().zip(y.iter()).map(|(p, q)| p * q).sum();
            y.iter_mut().zip(v).for_each(|(q, p)| *q -= 2.0 * dot * p);
        }
        let negate = d < 0.0;
        for (i, &q) in col.iter().enumerate() {
            emit(i, j, if negate { -q } else { q });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::signed_q;

    fn q_of(mut a: [f64; 4]) -> [f64; 4] {
        let (mut col, mut diag, mut q) = ([0.0; 2], [0.0; 2], [f64::NAN; 4]);
        signed_q(&mut a, 2, 2, &mut col, &mut diag, |i, j, v| q[j * 2 + i] = v);
        q
    }

    /// A column nearly parallel to e₀, (1, 10⁻⁹): the reflector's sign must avoid the
    /// cancellation in x₀ − R₀₀ (the other sign loses the 10⁻⁹ entirely). Expected: Gram–Schmidt
    /// by hand, q₀ = (1, 10⁻⁹), q₁ = (−10⁻⁹, 1) to 10⁻¹⁸.
    #[test]
    fn a_column_close_to_e0_keeps_its_small_entry() {
        let q = q_of([1.0, 1e-9, 0.0, 1.0]);
        for (got, want) in q.iter().zip([1.0, 1e-9, -1e-9, 1.0]) {
            assert!((got - want).abs() < 1e-17, "{q:?}");
        }
    }

    /// Exactly zero columns (a sample that cannot occur, but must not produce NaN): no
    /// reflection, sign +1, so Q = I.
    #[test]
    fn zero_columns_give_the_identity() {
        assert_eq!(q_of([0.0; 4]), [1.0, 0.0, 0.0, 1.0]);
    }
}
