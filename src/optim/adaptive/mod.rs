//! Adaptive (Adam-like) optimizers beyond `torch.optim`, each a [`Rule`](super::rule::Rule):
//! the per-element equations and their per-call coefficients, nothing else.

pub mod adopt;
