//! Optimizer update kernels, one file per optimizer family.

pub mod adam;
pub mod momentum;
pub mod sgd;
