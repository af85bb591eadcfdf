//! What a trainer needs around the optimizer step: learning-rate schedules, gradient norms
//! and clipping, the non-finite guard and loss scaling, accumulation, and the loss.

pub mod grad;
pub mod loss;
pub mod schedule;
