//! First-order methods beyond `torch.optim` (momentum variants, sign descent, controllers),
//! each a `Rule` (`src/optim/rule.rs`).

pub mod aggmo;
pub mod lookahead;
pub mod optimistic;
pub mod pid;
pub mod qhm;
pub mod sign;
