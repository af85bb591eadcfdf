//! Adaptive (Adam-like) optimizers beyond `torch.optim`, each a `Rule` (`src/optim/rule.rs`):
//! the per-element equations and their per-call coefficients, nothing else.

pub mod adabelief;
pub mod adabound;
pub mod adamp;
pub mod adan;
pub mod ademamix;
pub mod adopt;
pub mod diffgrad;
pub mod laprop;
pub mod madgrad;
pub mod qhadam;
pub mod ranger;
pub mod sm3;
pub mod yogi;
