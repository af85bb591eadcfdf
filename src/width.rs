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
    /// Every width this build compiled, narrowest first: all four with the `widths` feature
    /// (which the crate's own tests, benches and fuzz targets enable), else only
    /// [`Width::NATIVE`] (the `*_with` functions then ignore their width argument).
    #[cfg(feature = "widths")]
    pub const ALL: [Width; 4] = [Width::X1, Width::X4, Width::X8, Width::X16];
    /// Every width this build compiled: without the `widths` feature only the native one.
    #[cfg(not(feature = "widths"))]
    pub const ALL: [Width; 1] = [Width::NATIVE];

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

/// The lanes of [`Width::NATIVE`] as a type, for the build without the `widths` feature.
#[cfg(not(feature = "widths"))]
pub(crate) mod native {
    #[cfg(target_feature = "avx512f")]
    pub(crate) type Lanes = wide::f32x16;
    #[cfg(not(target_feature = "avx512f"))]
    pub(crate) type Lanes = wide::f32x8;
    pub(crate) const N: usize = super::Width::NATIVE.lanes();
    const _: () = assert!(core::mem::size_of::<Lanes>() == 4 * N);
}

/// The lanes of [`Width::NATIVE_TWO_PASS`] as a type, for the build without `widths`.
#[cfg(not(feature = "widths"))]
pub(crate) mod two_pass {
    pub(crate) type Lanes = wide::f32x8;
    pub(crate) const N: usize = super::Width::NATIVE_TWO_PASS.lanes();
    const _: () = assert!(core::mem::size_of::<Lanes>() == 4 * N);
}

/// Expands `$body` with the type `$L` and the constant `$N` bound to a lane width.
///
/// With the `widths` feature (tests, benches, fuzzing) `$body` is compiled once per width and
/// `$width` picks one at run time. Without it (every user's build) only the kernel's native
/// width is compiled — `native` ([`Width::NATIVE`], the default) or `two_pass`
/// ([`Width::NATIVE_TWO_PASS`]) — and `$width` is ignored: a user's build runs exactly one
/// width, and compiling four cost four times the build time.
macro_rules! with_width {
    ($width:expr, |$L:ident, $N:ident| $body:expr) => {
        $crate::width::with_width!($width, native, |$L, $N| $body)
    };
    ($width:expr, $native:ident, |$L:ident, $N:ident| $body:expr) => {{
        #[cfg(feature = "widths")]
        let r = match $width {
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
        };
        #[cfg(not(feature = "widths"))]
        let r = {
            let _ = $width;
            type $L = $crate::width::$native::Lanes;
            const $N: usize = $crate::width::$native::N;
            $body
        };
        r
    }};
}
pub(crate) use with_width;
