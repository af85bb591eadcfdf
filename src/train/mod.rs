//! What a trainer needs around the optimizer step: learning-rate schedules, gradient norms
//! and clipping, the non-finite guard and loss scaling, accumulation, the loss, and the
//! partial reductions of sharded training.

pub mod grad;
pub mod loss;
pub mod schedule;
pub mod shard;
