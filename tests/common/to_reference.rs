//! The f64 reference's hyperparameter structs from optkern's configs, field by field (the
//! reference crate does not depend on optkern). Shared by `tests/reference.rs`,
//! `tests/errors.rs` and the fuzz crate (`#[path]`-included there).

use optkern_reference as reference;

/// The reference's hyperparameters for an optkern config.
pub trait ToReference {
    /// The reference crate's struct.
    type Reference;
    /// Every field carried over (f32 `grad_scale` widened exactly).
    fn to_reference(&self) -> Self::Reference;
}

macro_rules! to_reference {
    ($($config:ident => $reference:ident |$cfg:ident| { $($field:ident: $value:expr),* $(,)? })*) => {$(
        impl ToReference for optkern::$config {
            type Reference = reference::$reference;
            fn to_reference(&self) -> reference::$reference {
                let $cfg = self;
                reference::$reference { $($field: $value),* }
            }
        }
    )*};
}

to_reference! {
    CameConfig => PoAdam |cfg| {
        lr: cfg.lr,
        beta1: cfg.beta1,
        beta2: cfg.beta2,
        eps: 0.0,
        weight_decay: cfg.weight_decay,
        weight_decouple: cfg.weight_decouple,
        fixed_decay: cfg.fixed_decay,
        rectify: false,
        degenerated_to_sgd: false,
        amsgrad: cfg.amsgrad,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    }
    NovogradConfig => Novograd |cfg| {
        lr: cfg.lr,
        beta1: cfg.beta1,
        beta2: cfg.beta2,
        eps: cfg.eps,
        eps_root: cfg.eps_root,
        weight_decay: cfg.weight_decay,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    }
    StableAdamwConfig => PoAdam |cfg| {
        lr: cfg.lr,
        beta1: cfg.beta1,
        beta2: cfg.beta2,
        eps: cfg.eps,
        weight_decay: cfg.weight_decay,
        weight_decouple: true,
        fixed_decay: false,
        rectify: false,
        degenerated_to_sgd: false,
        amsgrad: false,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    }
    MarsConfig => PoAdam |cfg| {
        lr: cfg.lr,
        beta1: cfg.beta1,
        beta2: cfg.beta2,
        eps: cfg.eps,
        weight_decay: cfg.weight_decay,
        weight_decouple: true,
        fixed_decay: false,
        rectify: false,
        degenerated_to_sgd: false,
        amsgrad: false,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    }
    DadaptAdamConfig => PoAdam |cfg| {
        lr: cfg.lr,
        beta1: cfg.beta1,
        beta2: cfg.beta2,
        eps: cfg.eps,
        weight_decay: cfg.weight_decay,
        weight_decouple: cfg.weight_decouple,
        fixed_decay: cfg.fixed_decay,
        rectify: false,
        degenerated_to_sgd: false,
        amsgrad: false,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    }
    DadaptSgdConfig => PoMomentum |cfg| {
        lr: cfg.lr,
        momentum: cfg.momentum,
        weight_decay: cfg.weight_decay,
        weight_decouple: cfg.weight_decouple,
        fixed_decay: cfg.fixed_decay,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    }
    LapropConfig => PoAdam |cfg| {
        lr: cfg.lr,
        beta1: cfg.beta1,
        beta2: cfg.beta2,
        eps: cfg.eps,
        weight_decay: cfg.weight_decay,
        weight_decouple: true,
        fixed_decay: cfg.fixed_decay,
        rectify: false,
        degenerated_to_sgd: false,
        amsgrad: cfg.amsgrad,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    }
    QhadamConfig => PoAdam |cfg| {
        lr: cfg.lr,
        beta1: cfg.beta1,
        beta2: cfg.beta2,
        eps: cfg.eps,
        weight_decay: cfg.weight_decay,
        weight_decouple: cfg.weight_decouple,
        fixed_decay: cfg.fixed_decay,
        rectify: false,
        degenerated_to_sgd: false,
        amsgrad: false,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    }
    RangerConfig => PoAdam |cfg| {
        lr: cfg.lr,
        beta1: cfg.beta1,
        beta2: cfg.beta2,
        eps: cfg.eps,
        weight_decay: cfg.weight_decay,
        weight_decouple: cfg.weight_decouple,
        fixed_decay: cfg.fixed_decay,
        rectify: true,
        degenerated_to_sgd: cfg.degenerated_to_sgd,
        amsgrad: false,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    }
    MadgradConfig => Madgrad |cfg| {
        lr: cfg.lr,
        momentum: cfg.momentum,
        weight_decay: cfg.weight_decay,
        weight_decouple: cfg.weight_decouple,
        eps: cfg.eps,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    }
    AggmoConfig => PoMomentum |cfg| {
        lr: cfg.lr,
        momentum: 0.0,
        weight_decay: cfg.weight_decay,
        weight_decouple: cfg.weight_decouple,
        fixed_decay: cfg.fixed_decay,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    }
    ProdigyConfig => Prodigy |cfg| {
        lr: cfg.lr,
        beta1: cfg.beta1,
        beta2: cfg.beta2,
        beta3: cfg.beta3,
        eps: cfg.eps,
        weight_decay: cfg.weight_decay,
        decouple: cfg.decouple,
        use_bias_correction: cfg.use_bias_correction,
        safeguard_warmup: cfg.safeguard_warmup,
        d0: cfg.d0,
        d_coef: cfg.d_coef,
        growth_rate: cfg.growth_rate,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    }
    SgdScheduleFreeConfig => ScheduleFree |cfg| {
        lr: cfg.lr,
        beta: cfg.momentum,
        beta2: 0.0,
        eps: 0.0,
        weight_decay: cfg.weight_decay,
        warmup_steps: cfg.warmup_steps,
        r: cfg.r,
        weight_lr_power: cfg.weight_lr_power,
        silent_sgd_phase: true,
        decay_at_z: false,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    }
    AdamwScheduleFreeConfig => ScheduleFree |cfg| {
        lr: cfg.lr,
        beta: cfg.beta1,
        beta2: cfg.beta2,
        eps: cfg.eps,
        weight_decay: cfg.weight_decay,
        warmup_steps: cfg.warmup_steps,
        r: cfg.r,
        weight_lr_power: cfg.weight_lr_power,
        silent_sgd_phase: cfg.silent_sgd_phase,
        decay_at_z: cfg.decay_at_z,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    }
    AdabeliefConfig => PoAdam |cfg| {
        lr: cfg.lr,
        beta1: cfg.beta1,
        beta2: cfg.beta2,
        eps: cfg.eps,
        weight_decay: cfg.weight_decay,
        weight_decouple: cfg.weight_decouple,
        fixed_decay: cfg.fixed_decay,
        rectify: cfg.rectify,
        degenerated_to_sgd: cfg.degenerated_to_sgd,
        amsgrad: cfg.amsgrad,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    }
    AdaboundConfig => PoAdam |cfg| {
        lr: cfg.lr,
        beta1: cfg.beta1,
        beta2: cfg.beta2,
        eps: cfg.eps,
        weight_decay: cfg.weight_decay,
        weight_decouple: cfg.weight_decouple,
        fixed_decay: cfg.fixed_decay,
        rectify: false,
        degenerated_to_sgd: false,
        amsgrad: cfg.amsgrad,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    }
    AdamodConfig => PoAdam |cfg| {
        lr: cfg.lr,
        beta1: cfg.beta1,
        beta2: cfg.beta2,
        eps: cfg.eps,
        weight_decay: cfg.weight_decay,
        weight_decouple: cfg.weight_decouple,
        fixed_decay: cfg.fixed_decay,
        rectify: false,
        degenerated_to_sgd: false,
        amsgrad: false,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    }
    AdemamixConfig => PoAdam |cfg| {
        lr: cfg.lr,
        beta1: cfg.beta1,
        beta2: cfg.beta2,
        eps: cfg.eps,
        weight_decay: cfg.weight_decay,
        weight_decouple: cfg.weight_decouple,
        fixed_decay: cfg.fixed_decay,
        rectify: false,
        degenerated_to_sgd: false,
        amsgrad: false,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    }
    DiffgradConfig => PoAdam |cfg| {
        lr: cfg.lr,
        beta1: cfg.beta1,
        beta2: cfg.beta2,
        eps: cfg.eps,
        weight_decay: cfg.weight_decay,
        weight_decouple: cfg.weight_decouple,
        fixed_decay: cfg.fixed_decay,
        rectify: cfg.rectify,
        degenerated_to_sgd: cfg.degenerated_to_sgd,
        amsgrad: cfg.amsgrad,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    }
    AdampConfig => PoAdam |cfg| {
        lr: cfg.lr,
        beta1: cfg.beta1,
        beta2: cfg.beta2,
        eps: cfg.eps,
        weight_decay: cfg.weight_decay,
        weight_decouple: cfg.weight_decouple,
        fixed_decay: cfg.fixed_decay,
        rectify: false,
        degenerated_to_sgd: false,
        amsgrad: false,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    }
    AdanConfig => Adan |cfg| {
        lr: cfg.lr,
        beta1: cfg.beta1,
        beta2: cfg.beta2,
        beta3: cfg.beta3,
        eps: cfg.eps,
        weight_decay: cfg.weight_decay,
        weight_decouple: cfg.weight_decouple,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    }
    YogiConfig => Yogi |cfg| {
        lr: cfg.lr,
        beta1: cfg.beta1,
        beta2: cfg.beta2,
        eps: cfg.eps,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    }
    Sm3Config => Sm3 |cfg| {
        lr: cfg.lr,
        momentum: cfg.momentum,
        beta: cfg.beta,
        eps: cfg.eps,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    }
    OptimisticGdConfig => OptimisticGd |cfg| {
        lr: cfg.lr,
        alpha: cfg.alpha,
        beta: cfg.beta,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    }
    SignsgdConfig => PoMomentum |cfg| {
        lr: cfg.lr,
        momentum: cfg.momentum,
        weight_decay: cfg.weight_decay,
        weight_decouple: cfg.weight_decouple,
        fixed_decay: cfg.fixed_decay,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    }
    TigerConfig => PoMomentum |cfg| {
        lr: cfg.lr,
        momentum: cfg.beta,
        weight_decay: cfg.weight_decay,
        weight_decouple: cfg.weight_decouple,
        fixed_decay: cfg.fixed_decay,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    }
    QhmConfig => PoMomentum |cfg| {
        lr: cfg.lr,
        momentum: cfg.momentum,
        weight_decay: cfg.weight_decay,
        weight_decouple: cfg.weight_decouple,
        fixed_decay: cfg.fixed_decay,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    }
    PidConfig => PoMomentum |cfg| {
        lr: cfg.lr,
        momentum: cfg.momentum,
        weight_decay: cfg.weight_decay,
        weight_decouple: cfg.weight_decouple,
        fixed_decay: cfg.fixed_decay,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    }
    AdoptConfig => Adopt |cfg| {
        lr: cfg.lr,
        beta1: cfg.beta1,
        beta2: cfg.beta2,
        eps: cfg.eps,
        weight_decay: cfg.weight_decay,
        weight_decouple: cfg.weight_decouple,
        fixed_decay: cfg.fixed_decay,
        clip: cfg.clip,
        clip_exponent: cfg.clip_exponent,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    }
    SgdConfig => Sgd |cfg| {
        lr: cfg.lr,
        momentum: cfg.momentum,
        dampening: cfg.dampening,
        weight_decay: cfg.weight_decay,
        nesterov: cfg.nesterov,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    }
    AdamConfig => Adam |cfg| {
        lr: cfg.lr,
        beta1: cfg.beta1,
        beta2: cfg.beta2,
        eps: cfg.eps,
        weight_decay: cfg.weight_decay,
        decoupled: cfg.decoupled_weight_decay,
        amsgrad: cfg.amsgrad,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
        eps_hat: cfg.eps_hat,
    }
    MomentumConfig => Momentum |cfg| {
        lr: cfg.lr,
        momentum: cfg.momentum,
        weight_decay: cfg.weight_decay,
        grad_scale: f64::from(cfg.grad_scale),
    }
    AdagradConfig => Adagrad |cfg| {
        lr: cfg.lr,
        lr_decay: cfg.lr_decay,
        weight_decay: cfg.weight_decay,
        initial_accumulator_value: cfg.initial_accumulator_value,
        eps: cfg.eps,
        eps_inside_sqrt: cfg.eps_inside_sqrt,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    }
    RmspropConfig => Rmsprop |cfg| {
        lr: cfg.lr,
        alpha: cfg.alpha,
        eps: cfg.eps,
        weight_decay: cfg.weight_decay,
        momentum: cfg.momentum,
        centered: cfg.centered,
        eps_inside_sqrt: cfg.eps_inside_sqrt,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    }
    AdamaxConfig => Adamax |cfg| {
        lr: cfg.lr,
        beta1: cfg.beta1,
        beta2: cfg.beta2,
        eps: cfg.eps,
        weight_decay: cfg.weight_decay,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    }
    AdadeltaConfig => Adadelta |cfg| {
        lr: cfg.lr,
        rho: cfg.rho,
        eps: cfg.eps,
        weight_decay: cfg.weight_decay,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    }
    NadamConfig => Nadam |cfg| {
        lr: cfg.lr,
        beta1: cfg.beta1,
        beta2: cfg.beta2,
        eps: cfg.eps,
        weight_decay: cfg.weight_decay,
        momentum_decay: cfg.momentum_decay,
        decoupled: cfg.decoupled_weight_decay,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    }
    RadamConfig => Radam |cfg| {
        lr: cfg.lr,
        beta1: cfg.beta1,
        beta2: cfg.beta2,
        eps: cfg.eps,
        weight_decay: cfg.weight_decay,
        decoupled: cfg.decoupled_weight_decay,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    }
    AsgdConfig => Asgd |cfg| {
        lr: cfg.lr,
        lambd: cfg.lambd,
        alpha: cfg.alpha,
        t0: cfg.t0,
        weight_decay: cfg.weight_decay,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    }
    RpropConfig => Rprop |cfg| {
        lr: cfg.lr,
        etaminus: cfg.etaminus,
        etaplus: cfg.etaplus,
        step_size_min: cfg.step_size_min,
        step_size_max: cfg.step_size_max,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    }
    AdafactorConfig => Adafactor |cfg| {
        lr: cfg.lr,
        beta2_decay: cfg.beta2_decay,
        eps1: cfg.eps1,
        eps2: cfg.eps2,
        d: cfg.d,
        weight_decay: cfg.weight_decay,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    }
    LionConfig => Lion |cfg| {
        lr: cfg.lr,
        beta1: cfg.beta1,
        beta2: cfg.beta2,
        weight_decay: cfg.weight_decay,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    }
    LambConfig => Lamb |cfg| {
        lr: cfg.lr,
        beta1: cfg.beta1,
        beta2: cfg.beta2,
        eps: cfg.eps,
        weight_decay: cfg.weight_decay,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    }
    LarsConfig => Lars |cfg| {
        lr: cfg.lr,
        momentum: cfg.momentum,
        weight_decay: cfg.weight_decay,
        trust_coefficient: cfg.trust_coefficient,
        eps: cfg.eps,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    }
}

to_reference! {
    SwaConfig => Swa |cfg| {
        lerp: cfg.form == optkern::SwaForm::Lerp,
    }
    EmaConfig => Ema |cfg| {
        decay: cfg.decay,
        min_decay: cfg.min_decay,
        update_after_step: cfg.update_after_step,
        warmup: cfg.warmup,
        warmup_gamma: cfg.warmup_gamma,
        warmup_power: cfg.warmup_power,
        products: cfg.form == optkern::EmaForm::Products,
    }
}

to_reference! {
    SparseAdamConfig => SparseAdam |cfg| {
        lr: cfg.lr,
        beta1: cfg.beta1,
        beta2: cfg.beta2,
        eps: cfg.eps,
        maximize: cfg.maximize,
        grad_scale: f64::from(cfg.grad_scale),
    }
}

to_reference! {
    LbfgsConfig => Lbfgs |cfg| {
        lr: cfg.lr,
        max_iter: cfg.max_iter,
        max_eval: cfg.max_evals(),
        tolerance_grad: cfg.tolerance_grad,
        tolerance_change: cfg.tolerance_change,
        history_size: cfg.history_size as usize,
        strong_wolfe: cfg.line_search == optkern::LineSearch::StrongWolfe,
    }
}

/// The reference's Muon hyperparameters for a config on a `rows × cols` matrix (the
/// learning-rate ratio of `adjust_lr` depends on the shape).
pub fn muon_reference(cfg: &optkern::MuonConfig, rows: usize, cols: usize) -> reference::Muon {
    let (r, c) = (rows as f64, cols as f64);
    reference::Muon {
        lr: cfg.lr,
        weight_decay: cfg.weight_decay,
        momentum: cfg.momentum,
        nesterov: cfg.nesterov,
        ns: cfg.ns_coefficients,
        eps: cfg.eps,
        ns_steps: cfg.ns_steps,
        lr_ratio: match cfg.adjust_lr {
            optkern::AdjustLr::Original => (r / c).max(1.0).sqrt(),
            optkern::AdjustLr::MatchRmsAdamw => 0.2 * r.max(c).sqrt(),
            optkern::AdjustLr::SpectralUnclamped => (r / c).sqrt(),
        },
        grad_scale: f64::from(cfg.grad_scale),
        bf16: cfg.precision == optkern::NsPrecision::Bf16,
    }
}
