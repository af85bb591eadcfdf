//! Learning-rate-free methods (Prodigy, D-Adaptation): the step size `d` is estimated from the run itself, through
//! sums over **all** parameters of the model. Each step is two passes over every tensor with
//! one scalar update between them:
//!
//! 1. `*_accumulate` on every tensor, in a fixed order (the order of the model's flat
//!    layout): the moments, and the global sums, kept in the caller-owned state as
//!    [`SumCarry`](crate::SumCarry)s — a tensor continues the sum exactly where the previous
//!    one left it, so the result has the bits of one call over the concatenated model,
//!    whatever its split into tensors;
//! 2. `*_update_d` once: the new `d` from the sums;
//! 3. `*_apply` on every tensor: the parameter update.

pub mod dadapt;
pub mod prodigy;
