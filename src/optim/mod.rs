//! Optimizer update kernels.
//!
//! The torch set is one file per optimizer family (config, coefficients, lane body, dispatch).
//! The newer optimizers are written on a shared skeleton, so that each is mostly its
//! equations:
//! - `rule` (`src/optim/rule.rs`): an element-wise optimizer is a coefficient struct (built once per call in f64)
//!   implementing `Rule<M>` — the update of one chunk of lanes over its `M` buffers — with the
//!   shared parts (`Ema`, `ema_product`, `WeightDecay`, `rectifier`, `clamp`, `sigmoid`).
//!   `run_rule` is the one fused pass for every width and profile; `rule_step!` writes the
//!   public, width and mixed-format entry points; `Trailing` makes trailing buffers optional.
//!   The parts compose at compile time inside that one pass, in the reference package's
//!   operation order (optax composes transformations at run time, one pass each).
//! - [`adaptive`], [`first_order`], [`schedule_free`]: rules, by family; scalar state that
//!   depends only on the step (schedule-free's weights) lives in caller-owned `#[repr(C)]`
//!   structs advanced on success.
//! - [`parameter_free`]: methods with model-wide sums (Prodigy) as two passes around a scalar
//!   update, the sums carried between tensors in the caller's state so that the result does
//!   not depend on how the model is split.

pub mod adadelta;
pub mod adafactor;
pub mod adagrad;
pub mod adam;
pub mod adamax;
pub mod adaptive;
pub mod asgd;
pub mod average;
pub mod first_order;
pub mod lamb;
pub mod lars;
pub mod lbfgs;
pub mod lion;
pub mod momentum;
pub mod muon;
pub mod nadam;
pub mod normalized;
pub mod parameter_free;
pub mod radam;
pub mod rmsprop;
pub mod rprop;
pub(crate) mod rule;
pub mod schedule_free;
pub mod sgd;
pub mod sparse_adam;

use crate::lanes::Lanes;
use crate::numerics::{Profile, c};

/// The gradient's multiplier `±s`: `grad_scale` (already validated), negated with `maximize`
/// (torch's `maximize` steps along `−g`).
#[inline(always)]
pub(crate) fn signed(grad_scale: f32, maximize: bool) -> f32 {
    if maximize { -grad_scale } else { grad_scale }
}

/// [`signed`] of `grad_scale` after checking it (finite and `≥ 0`): the gradient
/// multiplier of every kernel with `maximize`.
pub(crate) fn signed_scale(grad_scale: f32, maximize: bool) -> Result<f32, crate::Error> {
    Ok(signed(crate::validate::grad_scale(grad_scale)?, maximize))
}

/// How weight decay enters the Adam family, decided once per call (PyTorch's two forms).
#[derive(Clone, Copy, Debug)]
pub(crate) enum WeightDecay {
    /// No decay (`λ = 0`).
    None,
    /// L2: `g ← fma(c(λ), θ, g)`.
    L2(f32),
    /// Decoupled: `θ ← θ · c(1 − η·λ)`, before the moments.
    Decoupled(f32),
}

impl WeightDecay {
    /// The decay for `λ = weight_decay` with learning rate `lr` (both validated).
    pub(crate) fn from_config(lr: f64, weight_decay: f64, decoupled: bool) -> Self {
        match (weight_decay != 0.0, decoupled) {
            (false, _) => WeightDecay::None,
            (true, false) => WeightDecay::L2(c(weight_decay)),
            (true, true) => WeightDecay::Decoupled(c(1.0 - lr * weight_decay)),
        }
    }

    /// `(θ, g)` after the decay.
    #[inline(always)]
    pub(crate) fn apply<P: Profile, L: Lanes<N>, const N: usize>(self, param: L, g: L) -> (L, L) {
        match self {
            WeightDecay::None => (param, g),
            WeightDecay::L2(wd) => (param, P::fma(L::splat(wd), param, g)),
            WeightDecay::Decoupled(factor) => (param * L::splat(factor), g),
        }
    }
}

/// The mixed-format entry points of an element-wise kernel: `$name` (native width) and the
/// doc-hidden `$with` (explicit width), taking `Params`, `Grads`, one `State` per state buffer,
/// the kernel's other arguments, and a `Placement`. `$checked` validates (lengths of the
/// mutable buffers and the gradient, hyperparameters) and returns the kernel; `$then` runs
/// with it after the step (scalar state). `driver: mixed_layerwise` for a layer-wise kernel
/// ([`crate::format::Layerwise`]; [`crate::format::Elementwise`] kernels by default).
macro_rules! mixed_step {
    (
        $(#[$doc:meta])*
        $name:ident, $with:ident,
        ($params:ident, $grads:ident $(, $state:ident)* $(; $($extra:ident: $ety:ty),*)?),
        checked: $checked:expr
        $(, then: |$k:ident| $then:expr)?
        $(, driver: $driver:ident)? $(,)?
    ) => {
        $(#[$doc])*
        #[allow(clippy::too_many_arguments)]
        pub fn $name(
            $params: $crate::format::Params,
            $grads: $crate::format::Grads,
            $($state: $crate::format::State,)*
            $($($extra: $ety,)*)?
            at: &$crate::format::Placement,
        ) -> Result<(), $crate::Error> {
            $with($crate::Width::NATIVE, $params, $grads, $($state,)* $($($extra,)*)? at)
        }

        #[doc = concat!("[`", stringify!($name), "`] at an explicit lane width (tests, benches).")]
        #[doc(hidden)]
        #[allow(clippy::too_many_arguments)]
        pub fn $with(
            width: $crate::Width,
            $params: $crate::format::Params,
            $grads: $crate::format::Grads,
            $($state: $crate::format::State,)*
            $($($extra: $ety,)*)?
            at: &$crate::format::Placement,
        ) -> Result<(), $crate::Error> {
            let names = [stringify!($params) $(, stringify!($state))*];
            let outs = [$params.into() $(, $state.into())*];
            let _k = $crate::optim::mixed_step!(@driver $($driver)?)(
                width, names, outs, [$grads], at, $checked
            )?;
            $(let $k = _k; $then;)?
            Ok(())
        }
    };
    (@driver) => { $crate::format::mixed };
    (@driver $driver:ident) => { $crate::format::$driver };
}
pub(crate) use mixed_step;
