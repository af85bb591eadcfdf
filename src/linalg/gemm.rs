//! `C ← α·op(A)·op(B) + β·C` in f32: the matrix product the matrix optimizers (Muon; later
//! Shampoo, SOAP) are built on. No allocation (the packed panels live in caller scratch), one
//! generic body over the lane widths, and the same bits at every width: each element of `C`
//! is one lane of one accumulator, summed over `k` in a fixed order that no width, tiling or
//! thread count changes.
//!
//! Layout (BLIS's five loops): `B` is packed in `KC × NC` blocks of `NR`-column panels, `A` in
//! `MC × KC` blocks of `MR`-row panels (zero-padded at the edges), and an `MR × NR` register
//! tile (`MR = 6` rows × two vectors of `N` lanes) accumulates `KC` rank-1 updates from the
//! panels.

use crate::lanes::Lanes;
use crate::numerics::{Numerics, Portable, Profile, Torch};
use crate::width::with_width;
use crate::{Error, Width, validate};

/// Rows of the register tile.
const MR: usize = 6;
/// The `k` extent of a block: each block's sum is one chain of fused multiply-adds per
/// element, and the blocks are added to `C` in order.
pub const GEMM_KC: usize = 256;
/// Rows of a packed `A` block (a multiple of `MR`; `MC × KC` floats stay in L2).
const MC: usize = 72;
/// Columns of a packed `B` block (a multiple of every `NR`; `KC × NC` floats stay in L3).
const NC: usize = 4096;

/// The options of [`gemm`]: `C ← α·op(A)·op(B) + β·C`.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct GemmConfig {
    /// `α`. Default `1`; finite.
    pub alpha: f32,
    /// `β`. Default `0` (then `C` is not read: NaN in `C` does not propagate); finite.
    pub beta: f32,
    /// `op(A) = Aᵀ` (`A` stored `k × m`). Default `false` (`A` stored `m × k`).
    pub trans_a: bool,
    /// `op(B) = Bᵀ` (`B` stored `n × k`). Default `false` (`B` stored `k × n`).
    pub trans_b: bool,
    /// [`Numerics::Torch`] (default): the products are fused multiply-adds where the build has
    /// FMA; [`Numerics::Portable`]: a multiply and an add (the same bits on every build).
    pub numerics: Numerics,
}

impl Default for GemmConfig {
    fn default() -> Self {
        Self { alpha: 1.0, beta: 0.0, trans_a: false, trans_b: false, numerics: Numerics::Torch }
    }
}

/// The `f32` scratch [`gemm`] needs for an `m × n × k` product (the packed panels of one
/// `A` block and one `B` block).
pub fn gemm_scratch_len(m: usize, n: usize, k: usize) -> usize {
    let kc = k.clamp(1, GEMM_KC);
    let mc = m.min(MC).next_multiple_of(MR);
    // Panels are padded to the widest NR (32 = two f32x16) so the length does not depend
    // on the width.
    let nc = n.min(NC).next_multiple_of(32);
    kc.saturating_mul(mc).saturating_add(kc.saturating_mul(nc))
}

/// A row-major matrix argument: element `(i, j)` of the stored matrix is `data[i·ld + j]`.
#[derive(Clone, Copy)]
struct Stored<'a> {
    data: &'a [f32],
    ld: usize,
    trans: bool,
}

impl Stored<'_> {
    /// Element `(i, j)` of `op(M)`.
    #[inline(always)]
    fn at(&self, i: usize, j: usize) -> f32 {
        let idx = if self.trans { j * self.ld + i } else { i * self.ld + j };
        self.data.get(idx).copied().unwrap_or(0.0)
    }
}

/// Checks a stored matrix holding `op(M)` of `rows × cols`: its leading dimension and length.
fn stored_len(
    arg: &'static str,
    len: usize,
    ld: usize,
    rows: usize,
    cols: usize,
    trans: bool,
) -> Result<(), Error> {
    let (r, c) = if trans { (cols, rows) } else { (rows, cols) };
    if r == 0 || c == 0 {
        return Ok(());
    }
    if ld < c {
        return Err(validate::out_of_range(
            if arg == "a" {
                "lda"
            } else if arg == "b" {
                "ldb"
            } else {
                "ldc"
            },
            ld as f64,
        ));
    }
    let need = (r - 1).saturating_mul(ld).saturating_add(c);
    if len < need {
        return Err(Error::LengthMismatch { arg, expected: need, found: len });
    }
    Ok(())
}

/// `C ← α·op(A)·op(B) + β·C` with `op(A)` `m × k`, `op(B)` `k × n`, `C` `m × n`, all
/// row-major with leading dimensions `lda`, `ldb`, `ldc` (the stored row lengths).
///
/// For every element, with `s_b` the sum over the `b`-th block of `GEMM_KC` = 256 values of
/// `k` (one fused multiply-add chain from 0, in increasing `k`):
/// ```text
/// C ← α·s₀ + β·C        (β = 0: C ← α·s₀, C not read; k = 0: C ← β·C)
/// C ← C + α·s_b         for b = 1, 2, … in order
/// ```
/// (`α·s + β·C` is `fma(β, C, α·s)` and `C + α·s` is `fma(α, s, C)` in the `Torch` profile
/// on FMA builds.) The order depends only on `k`, so every lane width, tiling and thread
/// count gives the same bits.
///
/// `scratch` must hold [`gemm_scratch_len`]`(m, n, k)` floats; its contents on return are
/// unspecified.
///
/// # Errors
/// [`Error::LengthMismatch`] if `a`, `b` or `c` is too short for its shape and leading
/// dimension, or `scratch` too short; [`Error::InvalidHyperparameter`] for a leading
/// dimension shorter than a row, or a non-finite `α`/`β`. **Nothing is written on `Err`.**
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    c: &mut [f32],
    ldc: usize,
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    [m, n, k]: [usize; 3],
    cfg: &GemmConfig,
    scratch: &mut [f32],
) -> Result<(), Error> {
    gemm_with(Width::NATIVE, c, ldc, a, lda, b, ldb, [m, n, k], cfg, scratch)
}

/// [`gemm`] at an explicit lane width (for tests and benches).
#[doc(hidden)]
#[allow(clippy::too_many_arguments)]
pub fn gemm_with(
    width: Width,
    c: &mut [f32],
    ldc: usize,
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    [m, n, k]: [usize; 3],
    cfg: &GemmConfig,
    scratch: &mut [f32],
) -> Result<(), Error> {
    stored_len("c", c.len(), ldc, m, n, false)?;
    stored_len("a", a.len(), lda, m, k, cfg.trans_a)?;
    stored_len("b", b.len(), ldb, k, n, cfg.trans_b)?;
    let need = gemm_scratch_len(m, n, k);
    if scratch.len() < need {
        return Err(Error::LengthMismatch { arg: "scratch", expected: need, found: scratch.len() });
    }
    validate::finite("alpha", f64::from(cfg.alpha))?;
    validate::finite("beta", f64::from(cfg.beta))?;
    validate::numerics(cfg.numerics, &[])?;
    if m == 0 || n == 0 {
        return Ok(());
    }
    let a = Stored { data: a, ld: lda, trans: cfg.trans_a };
    let b = Stored { data: b, ld: ldb, trans: cfg.trans_b };
    let job = Job { m, n, k, alpha: cfg.alpha, beta: cfg.beta, a, b };
    with_width!(width, |L, N| match cfg.numerics {
        Numerics::Portable => job.run::<L, N, Portable>(c, ldc, scratch),
        _ => job.run::<L, N, Torch>(c, ldc, scratch),
    });
    Ok(())
}

struct Job<'a> {
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    beta: f32,
    a: Stored<'a>,
    b: Stored<'a>,
}

impl Job<'_> {
    #[inline(never)]
    fn run<L: Lanes<N>, const N: usize, P: Profile>(
        &self,
        c: &mut [f32],
        ldc: usize,
        scratch: &mut [f32],
    ) {
        let nr = 2 * N;
        if self.k == 0 {
            // No products: C ← β·C (C ← 0 for β = 0).
            for i in 0..self.m {
                let row = c.get_mut(i * ldc..i * ldc + self.n).unwrap_or_default();
                for x in row {
                    *x = if self.beta == 0.0 { 0.0 } else { self.beta * *x };
                }
            }
            return;
        }
        // Slices are taken with get/checked splits and chunk sizes written `.max(1)` (never 0
        // here: k ≥ 1) so that no bounds-check panic is left in the C library; the scratch
        // length was checked by the caller.
        let kc_max = self.k.min(GEMM_KC);
        let split = kc_max * self.m.min(MC).next_multiple_of(MR);
        let (ap, bp) = crate::slices::split_at_mut(scratch, split);
        for jc in (0..self.n).step_by(NC) {
            let nc = NC.min(self.n - jc);
            let panels = nc.div_ceil(nr);
            for (block, pc) in (0..self.k).step_by(GEMM_KC).enumerate() {
                let kc = GEMM_KC.min(self.k - pc);
                let bp = bp.get_mut(..panels * nr * kc).unwrap_or_default();
                self.pack_b(bp, pc, kc, jc, nc, nr);
                for ic in (0..self.m).step_by(MC) {
                    let mc = MC.min(self.m - ic);
                    let ap = ap.get_mut(..mc.next_multiple_of(MR) * kc).unwrap_or_default();
                    self.pack_a(ap, ic, mc, pc, kc);
                    for (jp, bpanel) in bp.chunks_exact((nr * kc).max(1)).enumerate() {
                        let j0 = jc + jp * nr;
                        let cols = nr.min(self.n - j0);
                        for (ip, apanel) in ap.chunks_exact((MR * kc).max(1)).enumerate() {
                            let i0 = ic + ip * MR;
                            let rows = MR.min(self.m - i0);
                            let acc = tile::<L, N, P>(apanel, bpanel);
                            self.write_back::<L, N, P>(c, ldc, (i0, rows), (j0, cols), block, &acc);
                        }
                    }
                }
            }
        }
    }

    /// `op(B)[pc.., jc..]` (`kc × nc`) as `nr`-column panels, each `kc` rows of `nr` values,
    /// zero-padded past `n`.
    fn pack_b(&self, bp: &mut [f32], pc: usize, kc: usize, jc: usize, nc: usize, nr: usize) {
        for (jp, panel) in bp.chunks_exact_mut((nr * kc).max(1)).enumerate() {
            for (p, row) in panel.chunks_exact_mut(nr.max(1)).enumerate() {
                for (j, x) in row.iter_mut().enumerate() {
                    let col = jp * nr + j;
                    *x = if col < nc { self.b.at(pc + p, jc + col) } else { 0.0 };
                }
            }
        }
    }

    /// `op(A)[ic.., pc..]` (`mc × kc`) as `MR`-row panels, each `kc` columns of `MR` values,
    /// zero-padded past `m`.
    fn pack_a(&self, ap: &mut [f32], ic: usize, mc: usize, pc: usize, kc: usize) {
        for (ip, panel) in ap.chunks_exact_mut((MR * kc).max(1)).enumerate() {
            for (p, col) in panel.chunks_exact_mut(MR).enumerate() {
                for (r, x) in col.iter_mut().enumerate() {
                    let row = ip * MR + r;
                    *x = if row < mc { self.a.at(ic + row, pc + p) } else { 0.0 };
                }
            }
        }
    }

    /// Adds a tile to `C` (block 0: `α·s + β·C`; later blocks: `C + α·s`), element by element
    /// (the same operations at every width).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn write_back<L: Lanes<N>, const N: usize, P: Profile>(
        &self,
        c: &mut [f32],
        ldc: usize,
        (i0, rows): (usize, usize),
        (j0, cols): (usize, usize),
        block: usize,
        acc: &[[L; 2]; MR],
    ) {
        let (alpha, beta) = (self.alpha, self.beta);
        for (r, pair) in acc.iter().enumerate().take(rows) {
            let start = (i0 + r) * ldc + j0;
            let Some(out) = c.get_mut(start..start + cols) else { return };
            for (h, v) in pair.iter().enumerate() {
                let lo = h * N;
                if lo >= cols {
                    break;
                }
                let part = &mut out[lo..cols.min(lo + N)];
                if let Some(whole) = part.first_chunk_mut::<N>() {
                    let new = combine::<L, N, P>(block, alpha, beta, *v, L::load(whole));
                    new.store(whole);
                } else {
                    for (x, &s) in part.iter_mut().zip(&v.to_array()) {
                        *x = combine::<f32, 1, P>(block, alpha, beta, s, *x);
                    }
                }
            }
        }
    }
}

/// One element's update from its block sum `s`: block 0 `α·s + β·C` (`α·s` for `β = 0`),
/// later blocks `C + α·s`.
#[inline(always)]
fn combine<L: Lanes<N>, const N: usize, P: Profile>(
    block: usize,
    alpha: f32,
    beta: f32,
    s: L,
    old: L,
) -> L {
    if block > 0 {
        P::fma(L::splat(alpha), s, old)
    } else if beta == 0.0 {
        L::splat(alpha) * s
    } else {
        P::fma(L::splat(beta), old, L::splat(alpha) * s)
    }
}

/// The register tile: `MR × 2N` sums of the `kc` rank-1 updates in the panels, each a fused
/// multiply-add chain from 0 in increasing `k`.
#[inline(always)]
fn tile<L: Lanes<N>, const N: usize, P: Profile>(apanel: &[f32], bpanel: &[f32]) -> [[L; 2]; MR] {
    let mut acc = [[L::splat(0.0); 2]; MR];
    let (a_cols, _) = apanel.as_chunks::<MR>();
    let (b_vecs, _) = bpanel.as_chunks::<N>();
    let (b_rows, _) = b_vecs.as_chunks::<2>();
    for (a, b) in a_cols.iter().zip(b_rows) {
        let (b0, b1) = (L::load(&b[0]), L::load(&b[1]));
        for r in 0..MR {
            let x = L::splat(a[r]);
            acc[r][0] = P::fma(x, b0, acc[r][0]);
            acc[r][1] = P::fma(x, b1, acc[r][1]);
        }
    }
    acc
}
