//! Dense linear algebra for the matrix optimizers: the f32 matrix product ([`gemm()`]).

pub mod gemm;

pub use gemm::{GEMM_KC, GemmConfig, gemm, gemm_scratch_len};
