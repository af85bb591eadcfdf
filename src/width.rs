//! Lane widths, for tests and benches (`#[doc(hidden)]` in the public API).

/// A lane width a kernel can be run at. Every width gives the same bits; they differ only in
/// speed. Public entry points use [`Width::NATIVE`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Width {
    /// One `f32` at a time.
    X1,
    /// `wide::f32x4`.
    X4,
    /// `wide::f32x8`.
    X8,
    /// `wide::f32x16`.
    X16,
}

impl Width {
    /// Every width, narrowest first.
    pub const ALL: [Width; 4] = [Width::X1, Width::X4, Width::X8, Width::X16];

    /// The width the public optimizer kernels use: `f32x16` (one zmm register) where the
    /// build has AVX-512F, else `f32x8` (one ymm register with AVX2, two xmm on baseline
    /// x86-64).
    ///
    /// Measured on a Sapphire Rapids core (`benches/roofline.rs`, 2026-11-28): at 4 Ki elements
    /// the divide/sqrt-bound kernels run the same at both widths (the divider's throughput per
    /// element does not depend on the register width), and the mask-heavy ones (Rprop, Lion,
    /// Adamax, ASGD, LARS) run 1.25–2.2× faster at 16 lanes (LARS Portable: unchanged;
    /// AVX-512 compares and blends go through mask registers, on ymm each select is a compare
    /// plus a blend); at 16 Mi most memory-bound kernels gained 3–30 % at 16 lanes (one run).
    /// The two-pass kernels with f64 norms are the exception ([`Width::NATIVE_TWO_PASS`]).
    pub const NATIVE: Width = if cfg!(target_feature = "avx512f") { Width::X16 } else { Width::X8 };

    /// The width of LAMB and Adafactor (two passes, f64 norms in the first): `f32x8` on every
    /// target. At 16 lanes LAMB ran 1.4–1.5× and Adafactor up to 1.1× slower than at 8, at
    /// 4 Ki elements (same measurement as [`Width::NATIVE`]).
    pub const NATIVE_TWO_PASS: Width = Width::X8;

    /// Number of `f32` lanes.
    pub const fn lanes(self) -> usize {
        match self {
            Width::X1 => 1,
            Width::X4 => 4,
            Width::X8 => 8,
            Width::X16 => 16,
        }
    }
}

/// Expands `$body` once per width with the type `$L` and the constant `$N` bound to it.
macro_rules! with_width {
    ($width:expr, |$L:ident, $N:ident| $body:expr) => {
        match $width {
            $crate::Width::X1 => {
                type $L = f32;
                const $N: usize = 1;
                $body
            }
            $crate::Width::X4 => {
                type $L = wide::f32x4;
                const $N: usize = 4;
                $body
            }
            $crate::Width::X8 => {
                type $L = wide::f32x8;
                const $N: usize = 8;
                $body
            }
            $crate::Width::X16 => {
                type $L = wide::f32x16;
                const $N: usize = 16;
                $body
            }
        }
    };
}
pub(crate) use with_width;
