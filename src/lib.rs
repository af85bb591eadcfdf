//! # optkern
//!
//! SIMD kernels for training neural networks without a framework: optimizer updates over flat
//! `f32` slices, in place, with no allocation and no `std`.
//!
//! Every kernel
//! - takes `params` first, then `grads`, then its state buffers (all the same length), then
//!   the step number (1-based) where it needs one, then a config struct whose `Default` is
//!   PyTorch's;
//! - checks every argument before its first write: on `Err`, every buffer is bit-identical to
//!   before ([`Error`]);
//! - gives the same bits whatever the slice length, offset, chunking or lane width
//!   ([`Width`]), because the tail runs through the same lane code as the body;
//! - follows one of two [`Numerics`] profiles: `Torch` (bit-identical to `torch.optim` on FMA
//!   builds) or `Portable` (bit-identical on every target).
//!
//! The optimizers are in [`optim`], one module per family, each re-exported here; the
//! README's table gives every equation and state buffer.
//!
//! The `std` feature (default) only links `std` for callers that want it; the kernels never
//! use it.
#![no_std]
#![deny(unsafe_code)]
#![deny(missing_docs)]
#![forbid(unsafe_op_in_unsafe_fn)]

#[cfg(feature = "std")]
extern crate std;

#[cfg(feature = "capi")]
pub mod capi;
mod driver;
mod error;
mod fast;
pub mod format;
pub mod init;
mod lanes;
pub mod linalg;
mod numerics;
pub mod optim;
#[cfg(feature = "rayon")]
pub mod parallel;
mod prefetch;
mod reduce;
mod slices;
pub mod train;
mod validate;
mod width;

pub use error::{Error, Problem};
pub use init::jax::{
    delta_orthogonal, delta_orthogonal_scratch_len, jax_fans, variance_scaling_axes,
    variance_scaling_variance,
};
#[doc(hidden)]
pub use init::normal_at_with;
pub use init::orthogonal::{orthogonal, orthogonal_scratch_len};
pub use init::shuffle::{iota, minibatches, shuffle};
pub use init::stream::RandomStream;
pub use init::{
    Distribution, FanMode, Nonlinearity, calculate_gain, constant, dirac, eye, fans,
    kaiming_normal, kaiming_std, kaiming_uniform, lecun_normal, lecun_uniform, normal, normal_at,
    sparse, trunc_normal, trunc_normal_at, uniform, uniform_at, uniform_bound, variance_scaling,
    xavier_normal, xavier_std, xavier_uniform,
};
#[doc(hidden)]
pub use linalg::gemm::gemm_with;
pub use linalg::{GemmConfig, gemm, gemm_scratch_len};
pub use numerics::Numerics;
pub use optim::adadelta::{AdadeltaConfig, adadelta_step, adadelta_step_mixed};
pub use optim::adafactor::{
    AdafactorConfig, adafactor_factored_col_var, adafactor_factored_shard_apply,
    adafactor_factored_shard_norms, adafactor_factored_shard_stats, adafactor_factored_step,
    adafactor_shard_apply, adafactor_shard_moments, adafactor_step, adafactor_step_mixed,
    adafactor_step_size,
};
pub use optim::adagrad::{AdagradConfig, adagrad_step, adagrad_step_mixed};
pub use optim::adam::{
    AdamConfig, AdamPrepared, adam_step, adam_step_mixed, adam_step_prepared, adamw_step,
};
pub use optim::adamax::{AdamaxConfig, adamax_step, adamax_step_mixed};
pub use optim::adaptive::adabelief::{AdabeliefConfig, adabelief_step, adabelief_step_mixed};
pub use optim::adaptive::adabound::{
    AdaboundConfig, AdamodConfig, adabound_step, adabound_step_mixed, adamod_step,
    adamod_step_mixed,
};
pub use optim::adaptive::adamp::{AdampConfig, adamp_step, adamp_step_mixed};
pub use optim::adaptive::adan::{AdanConfig, adan_step, adan_step_mixed};
pub use optim::adaptive::ademamix::{AdemamixConfig, ademamix_step, ademamix_step_mixed};
pub use optim::adaptive::adopt::{AdoptConfig, adopt_step, adopt_step_mixed};
pub use optim::adaptive::diffgrad::{DiffgradConfig, diffgrad_step, diffgrad_step_mixed};
pub use optim::adaptive::laprop::{LapropConfig, LapropState, laprop_step, laprop_step_mixed};
pub use optim::adaptive::madgrad::{MadgradConfig, MadgradState, madgrad_step, madgrad_step_mixed};
pub use optim::adaptive::qhadam::{QhadamConfig, QhadamState, qhadam_step, qhadam_step_mixed};
pub use optim::adaptive::ranger::{RangerConfig, ranger_step, ranger_step_mixed};
pub use optim::adaptive::sm3::{Sm3Config, sm3_step, sm3_step_mixed};
pub use optim::adaptive::yogi::{YogiConfig, yogi_step, yogi_step_mixed};
#[doc(hidden)]
pub use optim::adaptive::{
    adabelief::adabelief_step_mixed_with, adabelief::adabelief_step_with,
    adabound::adabound_step_mixed_with, adabound::adabound_step_with,
    adabound::adamod_step_mixed_with, adabound::adamod_step_with, adamp::adamp_step_mixed_with,
    adamp::adamp_step_with, adan::adan_step_mixed_with, adan::adan_step_with,
    ademamix::ademamix_step_mixed_with, ademamix::ademamix_step_with, adopt::adopt_step_mixed_with,
    adopt::adopt_step_with, diffgrad::diffgrad_step_mixed_with, diffgrad::diffgrad_step_with,
    laprop::laprop_step_mixed_with, laprop::laprop_step_with, madgrad::madgrad_step_mixed_with,
    madgrad::madgrad_step_with, qhadam::qhadam_step_mixed_with, qhadam::qhadam_step_with,
    ranger::ranger_step_mixed_with, ranger::ranger_step_with, sm3::sm3_step_mixed_with,
    sm3::sm3_step_with, yogi::yogi_step_mixed_with, yogi::yogi_step_with,
};
pub use optim::asgd::{AsgdConfig, AsgdState, asgd_step, asgd_step_mixed};
pub use optim::average::{EmaConfig, EmaForm, SwaConfig, SwaForm, ema_update, swa_update};
pub use optim::first_order::aggmo::{AGGMO_MAX_BETAS, AggmoConfig, aggmo_step, aggmo_step_mixed};
pub use optim::first_order::lookahead::lookahead_sync;
pub use optim::first_order::optimistic::{
    OptimisticGdConfig, optimistic_gd_step, optimistic_gd_step_mixed,
};
pub use optim::first_order::pid::{PidConfig, pid_step, pid_step_mixed};
pub use optim::first_order::qhm::{QhmConfig, qhm_step, qhm_step_mixed};
pub use optim::first_order::sign::{
    SignsgdConfig, TigerConfig, signsgd_step, signsgd_step_mixed, tiger_step, tiger_step_mixed,
};
#[doc(hidden)]
pub use optim::first_order::{
    aggmo::aggmo_step_mixed_with, aggmo::aggmo_step_with, lookahead::lookahead_sync_with,
    optimistic::optimistic_gd_step_mixed_with, optimistic::optimistic_gd_step_with,
    pid::pid_step_mixed_with, pid::pid_step_with, qhm::qhm_step_mixed_with, qhm::qhm_step_with,
    sign::signsgd_step_mixed_with, sign::signsgd_step_with, sign::tiger_step_mixed_with,
    sign::tiger_step_with,
};
pub use optim::lamb::{
    LambConfig, lamb_shard_apply, lamb_shard_moments, lamb_step, lamb_step_mixed, lamb_trust_ratio,
};
pub use optim::lars::{
    LarsConfig, lars_local_lr, lars_shard_apply, lars_shard_norms, lars_step, lars_step_mixed,
};
pub use optim::lbfgs::{
    LbfgsConfig, LbfgsReal, LbfgsRequest, LbfgsState, LineSearch, LineSearchState, lbfgs_step,
    lbfgs_work_len,
};
pub use optim::lion::{LionConfig, lion_step, lion_step_mixed};
pub use optim::momentum::{MomentumConfig, momentum_step, momentum_step_mixed, nesterov_lookahead};
pub use optim::muon::{AdjustLr, MuonConfig, NsPrecision, muon_scratch_len, muon_step};
pub use optim::nadam::{
    NadamConfig, NadamPrepared, NadamState, nadam_step, nadam_step_mixed, nadam_step_prepared,
};
pub use optim::normalized::came::{CameConfig, CameState, came_step, came_step_mixed};
pub use optim::normalized::fromage::{
    FromageConfig, FromageState, fromage_step, fromage_step_mixed,
};
pub use optim::normalized::mars::{MarsConfig, MarsType, mars_step, mars_step_mixed};
pub use optim::normalized::novograd::{
    NovogradConfig, NovogradState, novograd_step, novograd_step_mixed,
};
pub use optim::normalized::stable_adamw::{
    StableAdamwConfig, stable_adamw_step, stable_adamw_step_mixed,
};
#[doc(hidden)]
pub use optim::normalized::{
    came::came_step_mixed_with, came::came_step_with, fromage::fromage_step_mixed_with,
    fromage::fromage_step_with, mars::mars_step_mixed_with, mars::mars_step_with,
    novograd::novograd_step_mixed_with, novograd::novograd_step_with,
    stable_adamw::stable_adamw_step_mixed_with, stable_adamw::stable_adamw_step_with,
};
pub use optim::parameter_free::dadapt::{
    Dadapt, DadaptAdamConfig, DadaptSgdConfig, DadaptState, dadapt_adam_step,
    dadapt_adam_step_mixed, dadapt_sgd_step, dadapt_update_d,
};
#[doc(hidden)]
pub use optim::parameter_free::dadapt::{
    dadapt_adam_step_mixed_with, dadapt_adam_step_with, dadapt_sgd_step_with,
};
pub use optim::parameter_free::prodigy::{
    ProdigyConfig, ProdigyState, prodigy_accumulate, prodigy_apply, prodigy_update_d,
};
#[doc(hidden)]
pub use optim::parameter_free::prodigy::{prodigy_accumulate_with, prodigy_apply_with};
pub use optim::radam::{
    RadamConfig, RadamPrepared, radam_step, radam_step_mixed, radam_step_prepared,
};
pub use optim::rmsprop::{RmspropConfig, rmsprop_step, rmsprop_step_mixed};
pub use optim::rprop::{RpropConfig, rprop_step, rprop_step_mixed};
pub use optim::schedule_free::adamw::{
    AdamwScheduleFreeConfig, adamw_schedulefree_step, adamw_schedulefree_step_mixed,
    radam_schedulefree_step, radam_schedulefree_step_mixed,
};
pub use optim::schedule_free::reference::{
    adamw_schedulefree_reference_step, sgd_schedulefree_reference_step,
};
pub use optim::schedule_free::sgd::{
    SgdScheduleFreeConfig, sgd_schedulefree_step, sgd_schedulefree_step_mixed,
};
pub use optim::schedule_free::{ScheduleFreeState, schedulefree_eval, schedulefree_train};
#[doc(hidden)]
pub use optim::schedule_free::{
    adamw::adamw_schedulefree_step_mixed_with, adamw::adamw_schedulefree_step_with,
    adamw::radam_schedulefree_step_mixed_with, adamw::radam_schedulefree_step_with,
    reference::adamw_schedulefree_reference_step_mixed_with,
    reference::adamw_schedulefree_reference_step_with,
    reference::sgd_schedulefree_reference_step_mixed_with,
    reference::sgd_schedulefree_reference_step_with, schedulefree_eval_with,
    schedulefree_train_with, sgd::sgd_schedulefree_step_mixed_with,
    sgd::sgd_schedulefree_step_with,
};
pub use optim::sgd::{SgdConfig, sgd_step, sgd_step_mixed};
pub use optim::sparse_adam::{SparseAdamConfig, sparse_adam_scratch_len, sparse_adam_step};
#[doc(hidden)]
pub use optim::{
    adadelta::adadelta_step_mixed_with, adagrad::adagrad_step_mixed_with,
    adam::adam_step_mixed_with, adam::adam_step_prepared_with, adam::adam_step_with,
    adamax::adamax_step_mixed_with, asgd::asgd_step_mixed_with, lion::lion_step_mixed_with,
    momentum::momentum_step_mixed_with, momentum::momentum_step_with,
    momentum::nesterov_lookahead_with, muon::muon_step_with, nadam::nadam_step_mixed_with,
    radam::radam_step_mixed_with, rmsprop::rmsprop_step_mixed_with, rprop::rprop_step_mixed_with,
    sgd::sgd_step_mixed_with, sgd::sgd_step_with, sparse_adam::sparse_adam_step_with,
};
#[doc(hidden)]
pub use optim::{
    adadelta::adadelta_step_with, adafactor::adafactor_factored_step_with,
    adafactor::adafactor_step_mixed_with, adafactor::adafactor_step_with,
    adagrad::adagrad_step_with, adamax::adamax_step_with, asgd::asgd_step_with,
    average::ema_update_with, average::swa_update_with, lamb::lamb_step_mixed_with,
    lamb::lamb_step_with, lars::lars_step_mixed_with, lars::lars_step_with, lion::lion_step_with,
    nadam::nadam_step_prepared_with, nadam::nadam_step_with, radam::radam_step_prepared_with,
    radam::radam_step_with, rmsprop::rmsprop_step_with, rprop::rprop_step_with,
};
pub use reduce::SumCarry;
#[doc(hidden)]
pub use train::grad::accumulate_with;
pub use train::grad::{
    Clip, LossScale, NormType, StepOutcome, accumulate, all_finite, clip_coef, clip_grad_norm,
    clip_grad_value, grad_norm, grad_norm_f64, step_if_finite, unscale,
};
pub use train::loss::{CrossEntropyConfig, Reduction, correct_predictions, cross_entropy};
pub use train::schedule::Schedule;
pub use train::shard::{
    SHARD_ALIGN, clip_coef_from_partials, combine_norm, grad_norm_partials, norm_partials_len,
};
#[doc(hidden)]
pub use width::Width;

/// Whether this build's fused multiply-add is a single rounding (the `fma` target feature, or
/// aarch64 NEON). `Torch`-profile results are bit-identical to PyTorch only when it is `true`.
pub const FUSED_MUL_ADD: bool = lanes::FUSED_MUL_ADD;

/// Whether [`Numerics::Fast`] uses the AVX-512 reciprocal estimates on this build (`avx512f`,
/// `avx512vl` and `fma` enabled at compile time, e.g. `-C target-cpu=x86-64-v4`). When `false`
/// `Fast` divides exactly and gives [`Numerics::Portable`]'s bits.
pub const FAST_ESTIMATES: bool = fast::ESTIMATES;

/// [`Numerics::Fast`]'s reciprocal of one value (the bits every width gives): for the bit
/// models of the tests.
#[doc(hidden)]
pub fn fast_recip(x: f32) -> f32 {
    fast::recip::<f32, 1>(x)
}

/// [`Numerics::Fast`]'s square root of one value (the bits every width gives): for the bit
/// models of the tests.
#[doc(hidden)]
pub fn fast_sqrt(x: f32) -> f32 {
    fast::sqrt::<f32, 1>(x)
}

#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
