//! Optimizer update kernels, one file per optimizer family.

pub mod adadelta;
pub mod adafactor;
pub mod adagrad;
pub mod adam;
pub mod adamax;
pub mod asgd;
pub mod lamb;
pub mod lars;
pub mod lion;
pub mod momentum;
pub mod nadam;
pub mod radam;
pub mod rmsprop;
pub mod rprop;
pub mod sgd;
