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

    /// The width the public optimizer kernels use.
    ///
    /// `f32x8`, measured on a Sapphire Rapids core: it is one ymm register with AVX2/AVX-512
    /// and two xmm registers on baseline x86-64. `f32x16` (zmm) was 5–10 % slower on
    /// cache-resident Adam, where the divide/sqrt unit is the limit and zmm divides run at half
    /// the rate, and no faster on memory-bound sizes.
    pub const NATIVE: Width = Width::X8;

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
