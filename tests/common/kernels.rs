//! Every kernel and option combination the generic tests run, behind one uniform shape:
//! mutable buffers (the first is the one the kernel is named for), read-only buffers, and a
//! call at a given width and step.
#![allow(dead_code)]

use super::Kind::{self, Grad, NonNeg, Param, Signed};
use super::to_reference::ToReference;
use optkern::format;
use optkern::{
    AdabeliefConfig, AdaboundConfig, AdadeltaConfig, AdafactorConfig, AdagradConfig, AdamConfig,
    AdamaxConfig, AdamodConfig, AdampConfig, AdamwScheduleFreeConfig, AdanConfig, AdemamixConfig,
    AdoptConfig, AggmoConfig, AsgdConfig, AsgdState, CameConfig, DiffgradConfig, EmaConfig,
    EmaForm, Error, FromageConfig, LambConfig, LapropConfig, LarsConfig, LionConfig, MadgradConfig,
    MarsConfig, MomentumConfig, NadamConfig, NadamState, NovogradConfig, Numerics,
    OptimisticGdConfig, PidConfig, QhadamConfig, QhmConfig, RadamConfig, RangerConfig,
    RmspropConfig, RpropConfig, SgdConfig, SgdScheduleFreeConfig, SignsgdConfig, Sm3Config,
    StableAdamwConfig, SwaConfig, SwaForm, TigerConfig, Width, YogiConfig,
};
use optkern_reference::{self as reference, bits, bits::Ops};

pub type Run = Box<dyn Fn(Width, &mut [&mut [f32]], &[&[f32]], u32) -> Result<(), Error>>;
/// The f64 reference of a case, on the same buffers widened.
pub type Reference = Box<dyn Fn(&mut [&mut [f64]], &[&[f64]], u32)>;
/// The f32 bit model of a case (`tests/reference/src/bits.rs`).
pub type Model = Box<dyn Fn(Ops, &mut [&mut [f32]], &[&[f32]], u32)>;
/// The mixed-format entry of a case (`*_step_mixed_with`).
pub type Mixed = Box<
    dyn Fn(
        Width,
        format::Params,
        format::Grads,
        Vec<format::State>,
        u32,
        &format::Placement,
    ) -> Result<(), Error>,
>;

pub struct Case {
    pub name: String,
    pub numerics: Numerics,
    /// Kinds of the mutable buffers, in argument order.
    pub muts: Vec<Kind>,
    /// Kinds of the read-only buffers, in argument order.
    pub ins: Vec<Kind>,
    pub run: Run,
    pub reference: Reference,
    /// `None` for the kernels whose reference packages are matched within a tolerance, not
    /// bit for bit (golden-next: pytorch_optimizer, optax, …): their bits are pinned by the
    /// snapshots of `tests/portable_bits.rs` and bounded by `tests/reference.rs`.
    pub model: Option<Model>,
    /// `None` for kernels without a mixed-format entry (the look-ahead point).
    pub mixed: Option<Mixed>,
    /// Element-wise (each output depends only on the same index of the inputs), so that
    /// splitting the slices into chunks gives the same bits. Layer-wise kernels (norms) are not.
    pub elementwise: bool,
}

impl Case {
    /// The bit model's operation order for this case on this build.
    pub fn ops(&self) -> Ops {
        Ops {
            torch: self.numerics == Numerics::Torch,
            fused: optkern::FUSED_MUL_ADD,
            fast: (self.numerics == Numerics::Fast).then_some(FAST),
        }
    }
}

pub const PROFILES: [Numerics; 2] = [Numerics::Torch, Numerics::Portable];

/// The profiles of a kernel that also has [`Numerics::Fast`] (Adam, Adagrad, RMSprop,
/// Adadelta, NAdam, RAdam, LAMB), in the
/// iteration over [`PROFILES`]: `Fast` next to `Portable`.
pub fn with_fast(numerics: Numerics) -> Vec<Numerics> {
    match numerics {
        Numerics::Portable => vec![Numerics::Portable, Numerics::Fast],
        other => vec![other],
    }
}

/// `Fast`'s reciprocal and square root for the bit models: optkern's own (one lane of the
/// refined estimates, the same bits at every width: `src/fast.rs`).
pub const FAST: bits::Estimates =
    bits::Estimates { recip: optkern::fast_recip, sqrt: optkern::fast_sqrt };

pub fn sgd_configs() -> Vec<(&'static str, SgdConfig)> {
    let d = SgdConfig { lr: 0.1, ..Default::default() };
    vec![
        ("plain", d),
        ("momentum", SgdConfig { momentum: 0.9, ..d }),
        ("dampening", SgdConfig { momentum: 0.9, dampening: 0.5, ..d }),
        ("nesterov", SgdConfig { momentum: 0.9, nesterov: true, ..d }),
        ("weight_decay", SgdConfig { momentum: 0.9, weight_decay: 0.01, ..d }),
        ("maximize", SgdConfig { maximize: true, weight_decay: 0.01, ..d }),
        ("grad_scale", SgdConfig { momentum: 0.5, grad_scale: 0.25, ..d }),
    ]
}

pub fn adam_configs() -> Vec<(&'static str, AdamConfig)> {
    let d = AdamConfig { lr: 1e-2, ..Default::default() };
    vec![
        ("default", d),
        ("betas_lerp_branch", AdamConfig { beta1: 0.45, beta2: 0.9, ..d }),
        ("weight_decay", AdamConfig { weight_decay: 0.01, ..d }),
        ("adamw", AdamConfig { lr: 1e-2, ..AdamConfig::adamw() }),
        ("amsgrad", AdamConfig { amsgrad: true, ..d }),
        ("maximize", AdamConfig { maximize: true, eps: 1e-6, ..d }),
        ("grad_scale", AdamConfig { grad_scale: 0.5, ..d }),
        ("eps_hat", AdamConfig { eps_hat: true, eps: 1e-3, ..d }),
        ("eps_dominated", AdamConfig { eps: 0.5, grad_scale: 3.0, ..d }),
    ]
}

pub fn adagrad_configs() -> Vec<(&'static str, AdagradConfig)> {
    let d = AdagradConfig { lr: 0.1, ..Default::default() };
    vec![
        ("default", d),
        (
            "decay_init_wd",
            AdagradConfig {
                lr_decay: 0.1,
                initial_accumulator_value: 0.5,
                weight_decay: 0.01,
                ..d
            },
        ),
        ("textbook", AdagradConfig { lr: 0.1, ..AdagradConfig::textbook() }),
        ("maximize", AdagradConfig { maximize: true, grad_scale: 0.5, ..d }),
        ("scale_eps", AdagradConfig { grad_scale: 3.0, eps: 0.5, ..d }),
    ]
}

pub fn rmsprop_configs() -> Vec<(&'static str, RmspropConfig)> {
    let d = RmspropConfig { lr: 0.01, ..Default::default() };
    vec![
        ("default", d),
        ("centered_momentum", RmspropConfig { centered: true, momentum: 0.9, ..d }),
        ("centered", RmspropConfig { centered: true, alpha: 0.9, ..d }),
        ("momentum_wd", RmspropConfig { momentum: 0.5, weight_decay: 0.01, maximize: true, ..d }),
        ("textbook", RmspropConfig::textbook()),
        (
            "scale_eps",
            RmspropConfig { grad_scale: 0.37, eps: 0.5, centered: true, momentum: 0.5, ..d },
        ),
    ]
}

pub fn adamax_configs() -> Vec<(&'static str, AdamaxConfig)> {
    let d = AdamaxConfig::default();
    vec![
        ("default", d),
        ("wd_maximize", AdamaxConfig { weight_decay: 0.01, maximize: true, beta1: 0.45, ..d }),
        ("scale_eps", AdamaxConfig { grad_scale: 0.37, eps: 0.5, ..d }),
    ]
}

pub fn adadelta_configs() -> Vec<(&'static str, AdadeltaConfig)> {
    let d = AdadeltaConfig::default();
    vec![
        ("default", d),
        ("wd_rho", AdadeltaConfig { weight_decay: 0.01, rho: 0.5, grad_scale: 2.0, ..d }),
        ("scale_eps", AdadeltaConfig { grad_scale: 0.37, eps: 0.5, ..d }),
    ]
}

pub fn nadam_configs() -> Vec<(&'static str, NadamConfig)> {
    let d = NadamConfig::default();
    vec![
        ("default", d),
        ("l2", NadamConfig { weight_decay: 0.01, ..d }),
        (
            "decoupled",
            NadamConfig { weight_decay: 0.1, decoupled_weight_decay: true, maximize: true, ..d },
        ),
        ("scale_eps", NadamConfig { grad_scale: 0.37, eps: 0.5, ..d }),
    ]
}

pub fn radam_configs() -> Vec<(&'static str, RadamConfig)> {
    let d = RadamConfig { lr: 1e-2, ..Default::default() };
    vec![
        ("default", d),
        ("decoupled", RadamConfig { weight_decay: 0.1, decoupled_weight_decay: true, ..d }),
        ("l2_maximize", RadamConfig { weight_decay: 0.01, maximize: true, ..d }),
        ("scale_eps", RadamConfig { grad_scale: 3.0, eps: 0.5, ..d }),
    ]
}

pub fn asgd_configs() -> Vec<(&'static str, AsgdConfig)> {
    let d = AsgdConfig::default();
    vec![
        ("default", d),
        ("averaging", AsgdConfig { t0: 1.0, lambd: 0.01, weight_decay: 0.01, ..d }),
        ("scale", AsgdConfig { grad_scale: 0.37, ..d }),
    ]
}

pub fn rprop_configs() -> Vec<(&'static str, RpropConfig)> {
    let d = RpropConfig::default();
    vec![
        ("default", d),
        (
            "tight",
            RpropConfig {
                etaminus: 0.3,
                etaplus: 1.5,
                step_size_min: 1e-3,
                step_size_max: 0.02,
                maximize: true,
                ..d
            },
        ),
        ("scale", RpropConfig { grad_scale: 3.0, ..d }),
    ]
}

pub fn adafactor_configs() -> Vec<(&'static str, AdafactorConfig)> {
    let d = AdafactorConfig::default();
    vec![
        ("default", d),
        ("wd_d", AdafactorConfig { weight_decay: 0.1, d: 2.0, beta2_decay: -0.5, ..d }),
        ("maximize_eps", AdafactorConfig { maximize: true, eps1: 1e-3, eps2: 1e-2, ..d }),
        ("scale_eps", AdafactorConfig { grad_scale: 0.37, eps1: 0.5, ..d }),
        // η above 1/√t from step 2 on: the relative step size min(η, 1/√t) takes its second arm.
        ("relative_step", AdafactorConfig { lr: 1.0, ..d }),
    ]
}

pub fn lion_configs() -> Vec<(&'static str, LionConfig)> {
    let d = LionConfig { lr: 1e-3, ..Default::default() };
    vec![
        ("default", d),
        ("wd_maximize", LionConfig { weight_decay: 0.1, maximize: true, ..d }),
        ("scale", LionConfig { grad_scale: 0.37, beta1: 0.5, ..d }),
    ]
}

pub fn lamb_configs() -> Vec<(&'static str, LambConfig)> {
    let d = LambConfig::default();
    vec![
        ("default", d),
        ("no_wd_maximize", LambConfig { weight_decay: 0.0, maximize: true, ..d }),
        ("scale_eps", LambConfig { grad_scale: 3.0, eps: 0.5, ..d }),
    ]
}

pub fn lars_configs() -> Vec<(&'static str, LarsConfig)> {
    let d = LarsConfig::default();
    vec![
        ("default", d),
        ("wd_maximize", LarsConfig { weight_decay: 0.01, maximize: true, grad_scale: 0.5, ..d }),
        ("scale_eps", LarsConfig { grad_scale: 3.0, eps: 100.0, ..d }),
    ]
}

pub fn adopt_configs() -> Vec<(&'static str, AdoptConfig)> {
    let d = AdoptConfig::default();
    vec![
        ("default", d),
        ("l2_betas", AdoptConfig { weight_decay: 0.01, beta1: 0.45, beta2: 0.9, ..d }),
        (
            "decoupled_maximize",
            AdoptConfig { weight_decay: 0.1, weight_decouple: true, maximize: true, ..d },
        ),
        (
            "fixed_noclip",
            AdoptConfig {
                weight_decay: 0.1,
                weight_decouple: true,
                fixed_decay: true,
                clip: false,
                ..d
            },
        ),
        ("scale_eps", AdoptConfig { grad_scale: 0.37, eps: 0.5, clip_exponent: 0.5, ..d }),
    ]
}

pub fn adabelief_configs() -> Vec<(&'static str, AdabeliefConfig)> {
    let d = AdabeliefConfig { lr: 1e-2, ..Default::default() };
    vec![
        ("default", d),
        (
            "l2_amsgrad",
            AdabeliefConfig { weight_decay: 0.01, weight_decouple: false, amsgrad: true, ..d },
        ),
        ("rectify", AdabeliefConfig { rectify: true, weight_decay: 0.1, beta2: 0.9, ..d }),
        (
            "rectify_still",
            AdabeliefConfig {
                rectify: true,
                degenerated_to_sgd: false,
                fixed_decay: true,
                weight_decay: 0.1,
                ..d
            },
        ),
        (
            "scale_eps",
            AdabeliefConfig { grad_scale: 0.37, eps: 0.5, eps_root: 1e-3, maximize: true, ..d },
        ),
    ]
}

pub fn adabound_configs() -> Vec<(&'static str, AdaboundConfig)> {
    let d = AdaboundConfig { lr: 1e-2, ..Default::default() };
    vec![
        ("default", d),
        (
            "amsgrad_l2",
            AdaboundConfig { amsgrad: true, weight_decay: 0.01, weight_decouple: false, ..d },
        ),
        ("tight", AdaboundConfig { final_lr: 0.01, gamma: 0.1, ..d }),
        ("scale_eps", AdaboundConfig { grad_scale: 3.0, eps: 0.5, maximize: true, ..d }),
    ]
}

pub fn adamod_configs() -> Vec<(&'static str, AdamodConfig)> {
    let d = AdamodConfig { lr: 1e-2, ..Default::default() };
    vec![
        ("default", d),
        ("beta3_wd", AdamodConfig { beta3: 0.5, weight_decay: 0.1, ..d }),
        (
            "scale_eps",
            AdamodConfig {
                grad_scale: 0.37,
                eps: 0.5,
                maximize: true,
                weight_decouple: false,
                weight_decay: 0.01,
                ..d
            },
        ),
    ]
}

pub fn adamp_configs() -> Vec<(&'static str, AdampConfig)> {
    let d = AdampConfig { lr: 1e-2, ..Default::default() };
    vec![
        ("default", d),
        ("nesterov_wd", AdampConfig { nesterov: true, weight_decay: 0.1, ..d }),
        (
            "scale_eps",
            AdampConfig {
                grad_scale: 3.0,
                eps: 0.5,
                maximize: true,
                fixed_decay: true,
                weight_decay: 0.01,
                ..d
            },
        ),
    ]
}

pub fn adan_configs() -> Vec<(&'static str, AdanConfig)> {
    let d = AdanConfig { lr: 1e-2, ..Default::default() };
    vec![
        ("default", d),
        ("proximal", AdanConfig { weight_decay: 0.1, ..d }),
        (
            "decoupled_maximize",
            AdanConfig { weight_decay: 0.1, weight_decouple: true, maximize: true, ..d },
        ),
        ("scale_eps", AdanConfig { grad_scale: 0.37, eps: 0.5, beta2: 0.3, ..d }),
    ]
}

pub fn ademamix_configs() -> Vec<(&'static str, AdemamixConfig)> {
    let d = AdemamixConfig { lr: 1e-2, ..Default::default() };
    vec![
        ("default", d),
        ("warmup", AdemamixConfig { t_alpha_beta3: 3.0, alpha: 2.0, beta3: 0.99, ..d }),
        ("decoupled", AdemamixConfig { weight_decay: 0.1, weight_decouple: true, ..d }),
        (
            "scale_eps",
            AdemamixConfig { grad_scale: 3.0, eps: 0.5, maximize: true, weight_decay: 0.01, ..d },
        ),
    ]
}

pub fn diffgrad_configs() -> Vec<(&'static str, DiffgradConfig)> {
    let d = DiffgradConfig { lr: 1e-2, ..Default::default() };
    vec![
        ("default", d),
        ("amsgrad_wd", DiffgradConfig { amsgrad: true, weight_decay: 0.1, ..d }),
        (
            "rectify",
            DiffgradConfig {
                rectify: true,
                beta2: 0.9,
                weight_decouple: false,
                weight_decay: 0.01,
                ..d
            },
        ),
        ("scale_eps", DiffgradConfig { grad_scale: 0.37, eps: 0.5, maximize: true, ..d }),
    ]
}

pub fn yogi_configs() -> Vec<(&'static str, YogiConfig)> {
    let d = YogiConfig::default();
    vec![
        ("default", d),
        ("betas", YogiConfig { beta1: 0.45, beta2: 0.9, ..d }),
        ("scale_eps", YogiConfig { grad_scale: 3.0, eps: 0.5, maximize: true, ..d }),
    ]
}

pub fn sm3_configs() -> Vec<(&'static str, Sm3Config)> {
    let d = Sm3Config { lr: 0.01, ..Default::default() };
    vec![
        ("default", d),
        ("momentum_beta", Sm3Config { momentum: 0.9, beta: 0.5, ..d }),
        ("scale_eps", Sm3Config { grad_scale: 0.37, eps: 0.5, maximize: true, momentum: 0.3, ..d }),
    ]
}

pub fn signsgd_configs() -> Vec<(&'static str, SignsgdConfig)> {
    let d = SignsgdConfig::default();
    vec![
        ("default", d),
        (
            "plain_l2",
            SignsgdConfig { momentum: 0.0, weight_decay: 0.01, weight_decouple: false, ..d },
        ),
        ("scale_wd", SignsgdConfig { grad_scale: 0.37, weight_decay: 0.1, maximize: true, ..d }),
    ]
}

pub fn tiger_configs() -> Vec<(&'static str, TigerConfig)> {
    let d = TigerConfig::default();
    vec![
        ("default", d),
        ("fixed", TigerConfig { beta: 0.45, fixed_decay: true, weight_decay: 0.1, ..d }),
        ("scale", TigerConfig { grad_scale: 3.0, maximize: true, weight_decouple: false, ..d }),
    ]
}

pub fn qhm_configs() -> Vec<(&'static str, QhmConfig)> {
    let d = QhmConfig { lr: 0.01, momentum: 0.9, nu: 0.7, ..Default::default() };
    vec![
        ("default", d),
        ("plain", QhmConfig { momentum: 0.0, nu: 1.0, weight_decay: 0.01, ..d }),
        (
            "scale_wd",
            QhmConfig {
                grad_scale: 0.37,
                weight_decay: 0.1,
                weight_decouple: true,
                maximize: true,
                ..d
            },
        ),
    ]
}

pub fn pid_configs() -> Vec<(&'static str, PidConfig)> {
    let d = PidConfig { lr: 0.01, momentum: 0.9, ..Default::default() };
    vec![
        ("default", d),
        ("plain", PidConfig { momentum: 0.0, weight_decay: 0.01, ..d }),
        (
            "gains",
            PidConfig {
                dampening: 0.1,
                derivative: 5.0,
                integral: 2.0,
                weight_decay: 0.1,
                weight_decouple: true,
                ..d
            },
        ),
        ("scale", PidConfig { grad_scale: 0.37, maximize: true, ..d }),
    ]
}

pub fn optimistic_gd_configs() -> Vec<(&'static str, OptimisticGdConfig)> {
    let d = OptimisticGdConfig::default();
    vec![
        ("default", d),
        ("weights", OptimisticGdConfig { alpha: 0.5, beta: 2.0, ..d }),
        ("scale", OptimisticGdConfig { grad_scale: 3.0, maximize: true, ..d }),
    ]
}

pub fn sgd_schedulefree_configs() -> Vec<(&'static str, SgdScheduleFreeConfig)> {
    let d = SgdScheduleFreeConfig { lr: 0.1, ..Default::default() };
    vec![
        ("default", d),
        ("warmup_wd", SgdScheduleFreeConfig { warmup_steps: 3, weight_decay: 0.01, ..d }),
        ("weighting", SgdScheduleFreeConfig { r: 0.5, weight_lr_power: 1.0, momentum: 0.45, ..d }),
        ("scale", SgdScheduleFreeConfig { grad_scale: 0.37, maximize: true, ..d }),
    ]
}

pub fn adamw_schedulefree_configs() -> Vec<(&'static str, AdamwScheduleFreeConfig)> {
    let d = AdamwScheduleFreeConfig { lr: 1e-2, ..Default::default() };
    vec![
        ("default", d),
        (
            "warmup_wd",
            AdamwScheduleFreeConfig { warmup_steps: 3, weight_decay: 0.01, decay_at_z: true, ..d },
        ),
        (
            "weighting",
            AdamwScheduleFreeConfig { r: 0.5, weight_lr_power: 1.0, beta1: 0.45, beta2: 0.9, ..d },
        ),
        (
            "scale_eps",
            AdamwScheduleFreeConfig {
                grad_scale: 3.0,
                eps: 0.5,
                maximize: true,
                silent_sgd_phase: false,
                ..d
            },
        ),
    ]
}

/// The optkern schedule-free state before step `t`, and that step's `(η, c)`, from the
/// reference's own schedule.
pub fn schedulefree_state(
    h: &reference::ScheduleFree,
    t: u32,
    radam: bool,
) -> (optkern::ScheduleFreeState, (f64, f64)) {
    let ((k, lr_max, weight_sum), next) =
        reference::schedulefree_schedule(h, u64::from(t - 1), radam);
    (optkern::ScheduleFreeState { k, lr_max, weight_sum, scheduled_lr: 0.0 }, next)
}

pub fn qhadam_configs() -> Vec<(&'static str, QhadamConfig)> {
    let d = QhadamConfig { lr: 1e-2, ..Default::default() };
    vec![
        ("default", d),
        ("nus_wd", QhadamConfig { nu1: 0.7, nu2: 0.8, weight_decay: 0.01, ..d }),
        (
            "scale_eps",
            QhadamConfig {
                grad_scale: 3.0,
                eps: 0.5,
                maximize: true,
                beta1: 0.45,
                weight_decouple: true,
                weight_decay: 0.1,
                ..d
            },
        ),
    ]
}

/// QHAdam's f32 normalisers before step `t` (the recursion the kernel runs, from 0).
pub fn qhadam_state(cfg: &QhadamConfig, t: u32) -> optkern::QhadamState {
    let mut s = optkern::QhadamState::default();
    for _ in 1..t {
        s.beta1_weight = s.beta1_weight * cfg.beta1 as f32 + 1.0;
        s.beta2_weight = s.beta2_weight * cfg.beta2 as f32 + 1.0;
    }
    s
}

/// The normalisers of step `t` in f64 (the reference's own recursion).
pub fn qhadam_weights(cfg: &QhadamConfig, t: u32) -> (f64, f64) {
    let (mut w1, mut w2) = (0.0f64, 0.0f64);
    for _ in 0..t {
        w1 = w1 * cfg.beta1 + 1.0;
        w2 = w2 * cfg.beta2 + 1.0;
    }
    (w1, w2)
}

pub fn madgrad_configs() -> Vec<(&'static str, MadgradConfig)> {
    let d = MadgradConfig { lr: 1e-2, ..Default::default() };
    vec![
        ("default", d),
        ("no_momentum_l2", MadgradConfig { momentum: 0.0, weight_decay: 0.01, ..d }),
        (
            "decoupled_scale",
            MadgradConfig {
                weight_decay: 0.1,
                weight_decouple: true,
                grad_scale: 0.37,
                maximize: true,
                eps: 1e-3,
                ..d
            },
        ),
    ]
}

pub fn aggmo_configs() -> Vec<(&'static str, AggmoConfig)> {
    let d = AggmoConfig { lr: 1e-2, ..Default::default() };
    vec![
        ("default", d),
        (
            "four_l2",
            AggmoConfig { betas: [0.0, 0.5, 0.9, 0.99], betas_len: 4, weight_decay: 0.01, ..d },
        ),
        (
            "one_decoupled",
            AggmoConfig {
                betas: [0.9, 0.0, 0.0, 0.0],
                betas_len: 1,
                weight_decay: 0.1,
                weight_decouple: true,
                ..d
            },
        ),
        ("scale", AggmoConfig { grad_scale: 3.0, maximize: true, betas_len: 2, ..d }),
    ]
}

pub fn ranger_configs() -> Vec<(&'static str, RangerConfig)> {
    let d = RangerConfig { lr: 1e-2, k: 3, ..Default::default() };
    vec![
        ("default", d),
        (
            "sgd_phase_wd",
            RangerConfig {
                degenerated_to_sgd: true,
                weight_decay: 0.01,
                weight_decouple: false,
                ..d
            },
        ),
        (
            "scale_eps",
            RangerConfig { grad_scale: 0.37, eps: 0.5, maximize: true, alpha: 0.8, k: 2, ..d },
        ),
    ]
}

pub fn laprop_configs() -> Vec<(&'static str, LapropConfig)> {
    let d = LapropConfig { lr: 1e-2, ..Default::default() };
    vec![
        ("default", d),
        (
            "centered_ams",
            LapropConfig { centered: true, steps_before_using_centered: 2, amsgrad: true, ..d },
        ),
        (
            "centered",
            LapropConfig { centered: true, steps_before_using_centered: 1, weight_decay: 0.1, ..d },
        ),
        (
            "ams_scale",
            LapropConfig {
                amsgrad: true,
                grad_scale: 0.37,
                eps: 0.5,
                maximize: true,
                fixed_decay: true,
                weight_decay: 0.01,
                ..d
            },
        ),
    ]
}

/// LaProp's averaged learning rate: the state before step `t` (f64, as the kernel keeps it)
/// and after it.
pub fn laprop_lr(cfg: &LapropConfig, t: u32) -> (optkern::LapropState, f64) {
    let (mut l1, mut l2) = (0.0f64, 0.0f64);
    for _ in 1..t {
        l1 = l1 * cfg.beta1 + (1.0 - cfg.beta1) * cfg.lr;
        l2 = l2 * cfg.beta2 + (1.0 - cfg.beta2);
    }
    let next = l1 * cfg.beta1 + (1.0 - cfg.beta1) * cfg.lr;
    (optkern::LapropState { exp_avg_lr_1: l1, exp_avg_lr_2: l2 }, next)
}

pub fn novograd_configs() -> Vec<(&'static str, NovogradConfig)> {
    let d = NovogradConfig::default();
    vec![
        ("default", d),
        (
            "betas_wd",
            NovogradConfig { beta1: 0.45, beta2: 0.9, weight_decay: 0.01, eps_root: 1e-3, ..d },
        ),
        ("scale_eps", NovogradConfig { grad_scale: 0.37, eps: 0.5, maximize: true, ..d }),
    ]
}

/// A NovoGrad state before step `t` (any value does for the width tests; this one varies).
pub fn novograd_state(t: u32) -> optkern::NovogradState {
    optkern::NovogradState { nu: 1.0 + t as f32 * 0.5 }
}

pub fn stable_adamw_configs() -> Vec<(&'static str, StableAdamwConfig)> {
    let d = StableAdamwConfig { lr: 1e-2, ..Default::default() };
    vec![
        ("default", d),
        ("wd_betas", StableAdamwConfig { weight_decay: 0.1, beta1: 0.45, beta2: 0.9, ..d }),
        ("scale_eps", StableAdamwConfig { grad_scale: 3.0, eps: 0.5, maximize: true, ..d }),
    ]
}

pub fn mars_configs() -> Vec<(&'static str, MarsConfig)> {
    let d = MarsConfig { lr: 1e-2, ..Default::default() };
    vec![
        ("fallback", d),
        ("adamw", MarsConfig { optimize_1d: true, weight_decay: 0.01, gamma: 0.1, ..d }),
        ("lion", MarsConfig { optimize_1d: true, mars_type: optkern::MarsType::Lion, ..d }),
        (
            "scale_eps",
            MarsConfig { optimize_1d: true, grad_scale: 0.37, eps: 0.5, maximize: true, ..d },
        ),
    ]
}

pub fn fromage_configs() -> Vec<(&'static str, FromageConfig)> {
    let d = FromageConfig::default();
    vec![
        ("default", d),
        // A bound below the initial norm: the projection runs every step.
        ("bound", FromageConfig { p_bound: 0.5, lr: 0.1, ..d }),
        ("scale", FromageConfig { grad_scale: 3.0, maximize: true, ..d }),
    ]
}

pub fn came_configs() -> Vec<(&'static str, CameConfig)> {
    let d = CameConfig { lr: 1e-2, ..Default::default() };
    vec![
        ("default", d),
        ("ams_clip", CameConfig { amsgrad: true, clip_threshold: 0.5, weight_decay: 0.1, ..d }),
        (
            "l2_scale",
            CameConfig {
                weight_decouple: false,
                weight_decay: 0.01,
                grad_scale: 0.37,
                maximize: true,
                eps1: 1e-3,
                ..d
            },
        ),
    ]
}

/// RAdam cases run from step 6 on, where `ρ_t > 5` for β₂ = 0.999, so the tests see both the
/// rectified and (through `step` 1..5 in the reference tests) the un-rectified branch.
pub const RADAM_STEP_OFFSET: u32 = 5;

/// The NAdam state torch would hold before step `t` for a fixed `μ` sequence (any f32 value
/// works for the width tests; this one varies with `t`).
pub fn nadam_state(t: u32) -> NadamState {
    NadamState { mu_product: 0.9f32.powi(t as i32 - 1) }
}

/// An ASGD state that exercises both averaging branches (`μ = 1` at step 1, `μ = 0.5` after).
pub fn asgd_state(t: u32) -> AsgdState {
    AsgdState { eta: 0.01, mu: if t == 1 { 1.0 } else { 0.5 } }
}

pub fn swa_configs() -> Vec<(&'static str, SwaConfig)> {
    let d = SwaConfig::default();
    vec![("divide", d), ("lerp", SwaConfig { form: SwaForm::Lerp, ..d })]
}

pub fn ema_configs() -> Vec<(&'static str, EmaConfig)> {
    let d = EmaConfig { decay: 0.9, ..Default::default() };
    vec![
        ("lerp", d),
        // Weight 1 − δ = 0.7: torch lerp's second branch.
        ("lerp_branch", EmaConfig { decay: 0.3, ..d }),
        ("products", EmaConfig { decay: 0.99, form: EmaForm::Products, ..d }),
        (
            "warmup",
            EmaConfig {
                decay: 0.999,
                min_decay: 0.1,
                update_after_step: 1,
                warmup: true,
                warmup_gamma: 2.0,
                warmup_power: 0.75,
                ..d
            },
        ),
    ]
}

pub fn momentum_configs() -> Vec<(&'static str, MomentumConfig)> {
    let d = MomentumConfig { lr: 0.05, momentum: 0.9, ..Default::default() };
    vec![
        ("classic", d),
        ("weight_decay", MomentumConfig { weight_decay: 0.01, grad_scale: 2.0, ..d }),
    ]
}

/// One kernel case: optkern at a width, its f64 reference and its f32 bit model, over the
/// same buffers in the same order (`[muts]`, `[ins]`, bound to the names given), at step `t`
/// with the model's operation order `o`.
macro_rules! kernel {
    (
        $name:expr, $numerics:expr, [$($mk:expr),*], [$($ik:expr),*],
        |$w:ident, $t:ident, $o:ident, [$($m:ident),*], [$($i:ident),*]|
        optkern: $ours:expr,
        reference: $theirs:expr
        $(, model: $model:expr)?
        $(, mixed($at:ident): $mixed:expr)? $(,)?
    ) => {
        Case {
            name: $name,
            numerics: $numerics,
            muts: vec![$($mk),*],
            ins: vec![$($ik),*],
            elementwise: true,
            // `let _ = $t`: not every kernel takes a step number.
            run: Box::new(move |$w, muts, ins, $t| {
                let _ = $t;
                match (muts, ins) {
                    ([$($m),*], [$($i),*]) => $ours,
                    _ => unreachable!(),
                }
            }),
            reference: Box::new(move |muts, ins, $t| {
                let _ = $t;
                match (muts, ins) {
                    ([$($m),*], [$($i),*]) => $theirs,
                    _ => unreachable!(),
                }
            }),
            model: kernel!(@model $o, $t, [$($m),*], [$($i),*] $(, $model)?),
            // The mixed-format entry: the mutable buffers (params first) as `Params` then
            // `State`s, the gradient as `Grads`.
            mixed: kernel!(@mixed $w, $t, [$($m),*], [$($i),*] $(, $at, $mixed)?),
        }
    };
    (@model $o:ident, $t:ident, [$($m:ident),*], [$($i:ident),*]) => {
        None
    };
    (@model $o:ident, $t:ident, [$($m:ident),*], [$($i:ident),*], $model:expr) => {
        Some(Box::new(move |$o, muts: &mut [&mut [f32]], ins: &[&[f32]], $t| {
            let _ = $t;
            match (muts, ins) {
                ([$($m),*], [$($i),*]) => $model,
                _ => unreachable!(),
            }
        }))
    };
    (@mixed $w:ident, $t:ident, [$m0:ident $(, $m:ident)*], [$($i:ident),*]) => {
        None
    };
    (@mixed $w:ident, $t:ident, [$m0:ident $(, $m:ident)*], [$i0:ident], $at:ident, $mixed:expr) => {
        Some(Box::new(move |$w, $m0, $i0, states: Vec<format::State>, $t, $at| {
            let _ = $t;
            // Unused for a kernel without states (Fromage).
            #[allow(unused_mut, unused_variables)]
            let mut it = states.into_iter();
            $(let $m = it.next().expect(stringify!($m));)*
            $mixed
        }))
    };
}

/// Every kernel case, in both profiles.
pub fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    let (p, s, nn, g, z) = (Kind::Param, Kind::Signed, Kind::NonNeg, Kind::Grad, Kind::Zero);
    for numerics in PROFILES {
        for (name, cfg) in sgd_configs() {
            let (cfg, h) = with_profile(cfg, numerics, |c, n| SgdConfig { numerics: n, ..c });
            out.push(kernel!(format!("sgd/{name}/{numerics:?}"), numerics, [p, s], [g],
                |w, t, o, [pp, b], [gg]|
                optkern: optkern::sgd_step_with(w, pp, gg, b, t, &cfg),
                reference: reference::sgd(pp, gg, b, t == 1, &h),
                model: bits::sgd(o, pp, gg, b, t == 1, &h),
                mixed(at): optkern::sgd_step_mixed_with(w, pp, gg, b, t, &cfg, at),
            ));
        }
        for numerics in with_fast(numerics) {
            for (name, cfg) in adam_configs() {
                let (cfg, h) = with_profile(cfg, numerics, |c, n| AdamConfig { numerics: n, ..c });
                out.push(kernel!(format!("adam/{name}/{numerics:?}"), numerics, [p, s, nn, nn], [g],
                    |w, t, o, [pp, m1, v, vmax], [gg]|
                    optkern: optkern::adam_step_with(w, pp, gg, m1, v, vmax, t, &cfg),
                    reference: reference::adam(pp, gg, m1, v, vmax, t, &h),
                    model: bits::adam(o, pp, gg, m1, v, vmax, t, &h),
                    mixed(at): optkern::adam_step_mixed_with(w, pp, gg, m1, v, vmax, t, &cfg, at),
                ));
                // The prepared form: the same bits, the corrections computed beforehand.
                out.push(kernel!(format!("adam_prepared/{name}/{numerics:?}"), numerics, [p, s, nn, nn], [g],
                    |w, t, o, [pp, m1, v, vmax], [gg]|
                    optkern: cfg.prepare(t).and_then(|k| optkern::adam_step_prepared_with(w, pp, gg, m1, v, vmax, &k)),
                    reference: reference::adam(pp, gg, m1, v, vmax, t, &h),
                    model: bits::adam(o, pp, gg, m1, v, vmax, t, &h),
                ));
            }
        }
        for (name, cfg) in momentum_configs() {
            let (cfg, h) = with_profile(cfg, numerics, |c, n| MomentumConfig { numerics: n, ..c });
            out.push(kernel!(format!("momentum/{name}/{numerics:?}"), numerics, [p, s], [g],
                |w, t, o, [pp, v], [gg]|
                optkern: optkern::momentum_step_with(w, pp, gg, v, &cfg),
                reference: reference::momentum(pp, gg, v, &h),
                model: bits::momentum(o, pp, gg, v, &h),
                mixed(at): optkern::momentum_step_mixed_with(w, pp, gg, v, &cfg, at),
            ));
            out.push(kernel!(
                format!("nesterov_lookahead/{name}/{numerics:?}"), numerics, [p], [p, s],
                |w, t, o, [ahead], [pp, v]|
                optkern: optkern::nesterov_lookahead_with(w, ahead, pp, v, &cfg),
                reference: reference::nesterov_lookahead(ahead, pp, v, h.momentum),
                model: bits::nesterov_lookahead(o, ahead, pp, v, h.momentum),
            ));
        }
        for numerics in with_fast(numerics) {
            for (name, cfg) in adagrad_configs() {
                let (cfg, h) =
                    with_profile(cfg, numerics, |c, n| AdagradConfig { numerics: n, ..c });
                out.push(kernel!(format!("adagrad/{name}/{numerics:?}"), numerics, [p, nn], [g],
                    |w, t, o, [pp, sum], [gg]|
                    optkern: optkern::adagrad_step_with(w, pp, gg, sum, t, &cfg),
                    reference: reference::adagrad(pp, gg, sum, t, &h),
                    model: bits::adagrad(o, pp, gg, sum, t, &h),
                    mixed(at): optkern::adagrad_step_mixed_with(w, pp, gg, sum, t, &cfg, at),
                ));
            }
        }
        for numerics in with_fast(numerics) {
            for (name, cfg) in rmsprop_configs() {
                let (cfg, h) =
                    with_profile(cfg, numerics, |c, n| RmspropConfig { numerics: n, ..c });
                // grad_avg starts at 0 so that the centered variance stays ≥ 0 in exact arithmetic.
                out.push(
                    kernel!(format!("rmsprop/{name}/{numerics:?}"), numerics, [p, nn, s, z], [g],
                        |w, t, o, [pp, sq, b, ga], [gg]|
                        optkern: optkern::rmsprop_step_with(w, pp, gg, sq, b, ga, &cfg),
                        reference: reference::rmsprop(pp, gg, sq, b, ga, &h),
                        model: bits::rmsprop(o, pp, gg, sq, b, ga, &h),
                        mixed(at): optkern::rmsprop_step_mixed_with(w, pp, gg, sq, b, ga, &cfg, at),
                    ),
                );
            }
        }
        for (name, cfg) in adamax_configs() {
            let (cfg, h) = with_profile(cfg, numerics, |c, n| AdamaxConfig { numerics: n, ..c });
            out.push(kernel!(format!("adamax/{name}/{numerics:?}"), numerics, [p, s, nn], [g],
                |w, t, o, [pp, m1, u], [gg]|
                optkern: optkern::adamax_step_with(w, pp, gg, m1, u, t, &cfg),
                reference: reference::adamax(pp, gg, m1, u, t, &h),
                model: bits::adamax(o, pp, gg, m1, u, t, &h),
                mixed(at): optkern::adamax_step_mixed_with(w, pp, gg, m1, u, t, &cfg, at),
            ));
        }
        for numerics in with_fast(numerics) {
            for (name, cfg) in adadelta_configs() {
                let (cfg, h) =
                    with_profile(cfg, numerics, |c, n| AdadeltaConfig { numerics: n, ..c });
                out.push(
                    kernel!(format!("adadelta/{name}/{numerics:?}"), numerics, [p, nn, nn], [g],
                        |w, t, o, [pp, sq, acc], [gg]|
                        optkern: optkern::adadelta_step_with(w, pp, gg, sq, acc, &cfg),
                        reference: reference::adadelta(pp, gg, sq, acc, &h),
                        model: bits::adadelta(o, pp, gg, sq, acc, &h),
                        mixed(at): optkern::adadelta_step_mixed_with(w, pp, gg, sq, acc, &cfg, at),
                    ),
                );
            }
        }
        for numerics in with_fast(numerics) {
            for (name, cfg) in nadam_configs() {
                let (cfg, h) = with_profile(cfg, numerics, |c, n| NadamConfig { numerics: n, ..c });
                out.push(kernel!(format!("nadam/{name}/{numerics:?}"), numerics, [p, s, nn], [g],
                    |w, t, o, [pp, m1, v], [gg]|
                    optkern: optkern::nadam_step_with(w, pp, gg, m1, v, &mut nadam_state(t), t, &cfg),
                    reference: {
                        let mut mp = f64::from(nadam_state(t).mu_product);
                        reference::nadam(pp, gg, m1, v, &mut mp, t, &h)
                    },
                    model: {
                        bits::nadam(o, pp, gg, m1, v, nadam_state(t).mu_product, t, &h);
                    },
                    mixed(at): optkern::nadam_step_mixed_with(w, pp, gg, m1, v, &mut nadam_state(t), t, &cfg, at),
                ));
                // The prepared form: the same bits, the powers computed beforehand.
                out.push(kernel!(format!("nadam_prepared/{name}/{numerics:?}"), numerics, [p, s, nn], [g],
                    |w, t, o, [pp, m1, v], [gg]|
                    optkern: cfg.prepare(t).and_then(|k| optkern::nadam_step_prepared_with(w, pp, gg, m1, v, &mut nadam_state(t), &k)),
                    reference: {
                        let mut mp = f64::from(nadam_state(t).mu_product);
                        reference::nadam(pp, gg, m1, v, &mut mp, t, &h)
                    },
                    model: {
                        bits::nadam(o, pp, gg, m1, v, nadam_state(t).mu_product, t, &h);
                    },
                ));
            }
        }
        for numerics in with_fast(numerics) {
            for (name, cfg) in radam_configs() {
                let (cfg, h) = with_profile(cfg, numerics, |c, n| RadamConfig { numerics: n, ..c });
                for (offset, what) in [(RADAM_STEP_OFFSET, ""), (0, "/unrectified")] {
                    out.push(kernel!(
                        format!("radam/{name}{what}/{numerics:?}"), numerics, [p, s, nn], [g],
                        |w, t, o, [pp, m1, v], [gg]|
                        optkern: optkern::radam_step_with(w, pp, gg, m1, v, t + offset, &cfg),
                        reference: reference::radam(pp, gg, m1, v, t + offset, &h),
                        model: bits::radam(o, pp, gg, m1, v, t + offset, &h),
                        mixed(at): optkern::radam_step_mixed_with(w, pp, gg, m1, v, t + offset, &cfg, at),
                    ));
                    // The prepared form: the same bits, the corrections computed beforehand.
                    out.push(kernel!(
                        format!("radam_prepared/{name}{what}/{numerics:?}"), numerics, [p, s, nn], [g],
                        |w, t, o, [pp, m1, v], [gg]|
                        optkern: cfg.prepare(t + offset).and_then(|k| optkern::radam_step_prepared_with(w, pp, gg, m1, v, &k)),
                        reference: reference::radam(pp, gg, m1, v, t + offset, &h),
                        model: bits::radam(o, pp, gg, m1, v, t + offset, &h),
                    ));
                }
            }
        }
        for (name, cfg) in asgd_configs() {
            let (cfg, h) = with_profile(cfg, numerics, |c, n| AsgdConfig { numerics: n, ..c });
            out.push(kernel!(format!("asgd/{name}/{numerics:?}"), numerics, [p, p], [g],
                |w, t, o, [pp, ax], [gg]|
                optkern: optkern::asgd_step_with(w, pp, gg, ax, &mut asgd_state(t), t, &cfg),
                reference: {
                    let st = asgd_state(t);
                    let (mut eta, mut mu) = (f64::from(st.eta), f64::from(st.mu));
                    reference::asgd(pp, gg, ax, &mut eta, &mut mu, t, &h)
                },
                model: {
                    let st = asgd_state(t);
                    bits::asgd(o, pp, gg, ax, st.eta, st.mu, t, &h);
                },
                mixed(at): optkern::asgd_step_mixed_with(w, pp, gg, ax, &mut asgd_state(t), t, &cfg, at),
            ));
        }
        for (name, cfg) in rprop_configs() {
            let (cfg, h) = with_profile(cfg, numerics, |c, n| RpropConfig { numerics: n, ..c });
            out.push(kernel!(format!("rprop/{name}/{numerics:?}"), numerics, [p, s, nn], [g],
                |w, t, o, [pp, prev, ss], [gg]|
                optkern: optkern::rprop_step_with(w, pp, gg, prev, ss, t, &cfg),
                reference: reference::rprop(pp, gg, prev, ss, t, &h),
                model: bits::rprop(o, pp, gg, prev, ss, t, &h),
                mixed(at): optkern::rprop_step_mixed_with(w, pp, gg, prev, ss, t, &cfg, at),
            ));
        }
        for (name, cfg) in adafactor_configs() {
            let (cfg, h) = with_profile(cfg, numerics, |c, n| AdafactorConfig { numerics: n, ..c });
            let mut c = kernel!(format!("adafactor/{name}/{numerics:?}"), numerics, [p, nn], [g],
                |w, t, o, [pp, var], [gg]|
                optkern: optkern::adafactor_step_with(w, pp, gg, var, t, &cfg),
                reference: reference::adafactor(pp, gg, var, t, &h),
                model: bits::adafactor(o, pp, gg, var, t, &h),
                mixed(at): optkern::adafactor_step_mixed_with(w, pp, gg, var, t, &cfg, at),
            );
            c.elementwise = false;
            out.push(c);
        }
        for (name, cfg) in lion_configs() {
            let (cfg, h) = with_profile(cfg, numerics, |c, n| LionConfig { numerics: n, ..c });
            out.push(kernel!(format!("lion/{name}/{numerics:?}"), numerics, [p, s], [g],
                |w, t, o, [pp, m1], [gg]|
                optkern: optkern::lion_step_with(w, pp, gg, m1, &cfg),
                reference: reference::lion(pp, gg, m1, &h),
                model: bits::lion(o, pp, gg, m1, &h),
                mixed(at): optkern::lion_step_mixed_with(w, pp, gg, m1, &cfg, at),
            ));
        }
        for (name, cfg) in swa_configs() {
            let (cfg, h) = with_profile(cfg, numerics, |c, n| SwaConfig { numerics: n, ..c });
            // Update `t` averages the `t`-th point: `t − 1` are already in (the first copies).
            out.push(kernel!(format!("swa/{name}/{numerics:?}"), numerics, [p], [p],
                |w, t, o, [a], [x]|
                optkern: optkern::swa_update_with(w, a, x, u64::from(t - 1), &cfg),
                reference: reference::swa(a, x, u64::from(t - 1)),
                model: bits::swa(o, a, x, u64::from(t - 1), &h),
            ));
        }
        for (name, cfg) in ema_configs() {
            let (cfg, h) = with_profile(cfg, numerics, |c, n| EmaConfig { numerics: n, ..c });
            out.push(kernel!(format!("ema/{name}/{numerics:?}"), numerics, [p], [p],
                |w, t, o, [a], [x]|
                optkern: optkern::ema_update_with(w, a, x, t, &cfg),
                reference: reference::ema(a, x, t, &h),
                model: bits::ema(o, a, x, t, &h),
            ));
        }
        for numerics in with_fast(numerics) {
            for (name, cfg) in lamb_configs() {
                let (cfg, h) = with_profile(cfg, numerics, |c, n| LambConfig { numerics: n, ..c });
                let mut c = kernel!(format!("lamb/{name}/{numerics:?}"), numerics, [p, s, nn], [g],
                    |w, t, o, [pp, m1, v], [gg]|
                    optkern: optkern::lamb_step_with(w, pp, gg, m1, v, t, &cfg),
                    reference: reference::lamb(pp, gg, m1, v, t, &h),
                    model: bits::lamb(o, pp, gg, m1, v, t, &h),
                    mixed(at): optkern::lamb_step_mixed_with(w, pp, gg, m1, v, t, &cfg, at),
                );
                c.elementwise = false;
                out.push(c);
            }
        }
        for (name, cfg) in adabelief_configs() {
            let (cfg, h) = with_profile(cfg, numerics, |c, n| AdabeliefConfig { numerics: n, ..c });
            let er = cfg.eps_root;
            out.push(kernel!(format!("adabelief/{name}/{numerics:?}"), numerics, [p, s, nn, nn], [g],
                |w, t, o, [pp, m1, v, vmax], [gg]|
                optkern: optkern::adabelief_step_with(w, pp, gg, m1, v, vmax, t, &cfg),
                reference: reference::adabelief(pp, gg, m1, v, vmax, t, &h, er),
                mixed(at): optkern::adabelief_step_mixed_with(w, pp, gg, m1, v, vmax, t, &cfg, at),
            ));
        }
        for (name, cfg) in adabound_configs() {
            let (cfg, h) = with_profile(cfg, numerics, |c, n| AdaboundConfig { numerics: n, ..c });
            let b = (cfg.final_lr, cfg.gamma);
            out.push(kernel!(format!("adabound/{name}/{numerics:?}"), numerics, [p, s, nn, nn], [g],
                |w, t, o, [pp, m1, v, vmax], [gg]|
                optkern: optkern::adabound_step_with(w, pp, gg, m1, v, vmax, t, &cfg),
                reference: reference::adabound(pp, gg, m1, v, vmax, t, &h, b),
                mixed(at): optkern::adabound_step_mixed_with(w, pp, gg, m1, v, vmax, t, &cfg, at),
            ));
        }
        for (name, cfg) in adamod_configs() {
            let (cfg, h) = with_profile(cfg, numerics, |c, n| AdamodConfig { numerics: n, ..c });
            let b3 = cfg.beta3;
            out.push(kernel!(format!("adamod/{name}/{numerics:?}"), numerics, [p, s, nn, nn], [g],
                |w, t, o, [pp, m1, v, lr], [gg]|
                optkern: optkern::adamod_step_with(w, pp, gg, m1, v, lr, t, &cfg),
                reference: reference::adamod(pp, gg, m1, v, lr, t, &h, b3),
                mixed(at): optkern::adamod_step_mixed_with(w, pp, gg, m1, v, lr, t, &cfg, at),
            ));
        }
        for (name, cfg) in adamp_configs() {
            out.push(adamp_case(name, numerics, cfg));
        }
        for (name, cfg) in adan_configs() {
            let (cfg, h) = with_profile(cfg, numerics, |c, n| AdanConfig { numerics: n, ..c });
            out.push(kernel!(format!("adan/{name}/{numerics:?}"), numerics, [p, s, s, nn, s], [g],
                |w, t, o, [pp, m1, nd, v, prev], [gg]|
                optkern: optkern::adan_step_with(w, pp, gg, m1, nd, v, prev, t, &cfg),
                reference: reference::adan(pp, gg, m1, nd, v, prev, t, &h),
                mixed(at): optkern::adan_step_mixed_with(w, pp, gg, m1, nd, v, prev, t, &cfg, at),
            ));
        }
        for (name, cfg) in ademamix_configs() {
            out.push(ademamix_case(name, numerics, cfg));
        }
        for (name, cfg) in diffgrad_configs() {
            let (cfg, h) = with_profile(cfg, numerics, |c, n| DiffgradConfig { numerics: n, ..c });
            out.push(kernel!(format!("diffgrad/{name}/{numerics:?}"), numerics, [p, s, nn, s, nn], [g],
                |w, t, o, [pp, m1, v, prev, vmax], [gg]|
                optkern: optkern::diffgrad_step_with(w, pp, gg, m1, v, prev, vmax, t, &cfg),
                reference: reference::diffgrad(pp, gg, m1, v, prev, vmax, t, &h),
                mixed(at): optkern::diffgrad_step_mixed_with(w, pp, gg, m1, v, prev, vmax, t, &cfg, at),
            ));
        }
        for (name, cfg) in yogi_configs() {
            let (cfg, h) = with_profile(cfg, numerics, |c, n| YogiConfig { numerics: n, ..c });
            out.push(kernel!(format!("yogi/{name}/{numerics:?}"), numerics, [p, s, nn], [g],
                |w, t, o, [pp, m1, v], [gg]|
                optkern: optkern::yogi_step_with(w, pp, gg, m1, v, t, &cfg),
                reference: reference::yogi(pp, gg, m1, v, t, &h),
                mixed(at): optkern::yogi_step_mixed_with(w, pp, gg, m1, v, t, &cfg, at),
            ));
        }
        for (name, cfg) in sm3_configs() {
            let (cfg, h) = with_profile(cfg, numerics, |c, n| Sm3Config { numerics: n, ..c });
            out.push(kernel!(format!("sm3/{name}/{numerics:?}"), numerics, [p, nn, s], [g],
                |w, t, o, [pp, acc, b], [gg]|
                optkern: optkern::sm3_step_with(w, pp, gg, acc, b, &cfg),
                reference: reference::sm3(pp, gg, acc, b, &h),
                mixed(at): optkern::sm3_step_mixed_with(w, pp, gg, acc, b, &cfg, at),
            ));
        }
        for (name, cfg) in signsgd_configs() {
            let (cfg, h) = with_profile(cfg, numerics, |c, n| SignsgdConfig { numerics: n, ..c });
            out.push(kernel!(format!("signsgd/{name}/{numerics:?}"), numerics, [p, s], [g],
                |w, t, o, [pp, m1], [gg]|
                optkern: optkern::signsgd_step_with(w, pp, gg, m1, &cfg),
                reference: reference::signsgd(pp, gg, m1, &h),
                mixed(at): optkern::signsgd_step_mixed_with(w, pp, gg, m1, &cfg, at),
            ));
        }
        for (name, cfg) in tiger_configs() {
            let (cfg, h) = with_profile(cfg, numerics, |c, n| TigerConfig { numerics: n, ..c });
            out.push(kernel!(format!("tiger/{name}/{numerics:?}"), numerics, [p, s], [g],
                |w, t, o, [pp, m1], [gg]|
                optkern: optkern::tiger_step_with(w, pp, gg, m1, &cfg),
                reference: reference::signsgd(pp, gg, m1, &h),
                mixed(at): optkern::tiger_step_mixed_with(w, pp, gg, m1, &cfg, at),
            ));
        }
        for (name, cfg) in qhm_configs() {
            let (cfg, h) = with_profile(cfg, numerics, |c, n| QhmConfig { numerics: n, ..c });
            let nu = cfg.nu;
            out.push(kernel!(format!("qhm/{name}/{numerics:?}"), numerics, [p, s], [g],
                |w, t, o, [pp, b], [gg]|
                optkern: optkern::qhm_step_with(w, pp, gg, b, &cfg),
                reference: reference::qhm(pp, gg, b, &h, nu),
                mixed(at): optkern::qhm_step_mixed_with(w, pp, gg, b, &cfg, at),
            ));
        }
        for (name, cfg) in pid_configs() {
            let (cfg, h) = with_profile(cfg, numerics, |c, n| PidConfig { numerics: n, ..c });
            let k = reference::Pid {
                dampening: cfg.dampening,
                derivative: cfg.derivative,
                integral: cfg.integral,
            };
            out.push(kernel!(format!("pid/{name}/{numerics:?}"), numerics, [p, s, s, s], [g],
                |w, t, o, [pp, ib, db, prev], [gg]|
                optkern: optkern::pid_step_with(w, pp, gg, ib, db, prev, t, &cfg),
                reference: reference::pid(pp, gg, ib, db, prev, t, &h, &k),
                mixed(at): optkern::pid_step_mixed_with(w, pp, gg, ib, db, prev, t, &cfg, at),
            ));
        }
        for (name, cfg) in optimistic_gd_configs() {
            let (cfg, h) =
                with_profile(cfg, numerics, |c, n| OptimisticGdConfig { numerics: n, ..c });
            out.push(kernel!(format!("optimistic_gd/{name}/{numerics:?}"), numerics, [p, s], [g],
                |w, t, o, [pp, prev], [gg]|
                optkern: optkern::optimistic_gd_step_with(w, pp, gg, prev, t, &cfg),
                reference: reference::optimistic_gd(pp, gg, prev, t, &h),
                mixed(at): optkern::optimistic_gd_step_mixed_with(w, pp, gg, prev, t, &cfg, at),
            ));
        }
        for (name, cfg) in sgd_schedulefree_configs() {
            let (cfg, h) =
                with_profile(cfg, numerics, |c, n| SgdScheduleFreeConfig { numerics: n, ..c });
            out.push(kernel!(format!("sgd_schedulefree/{name}/{numerics:?}"), numerics, [p, p], [g],
                |w, t, o, [pp, z], [gg]|
                optkern: optkern::sgd_schedulefree_step_with(w, pp, gg, z, &mut schedulefree_state(&h, t, false).0, &cfg),
                reference: {
                    let (st, next) = schedulefree_state(&h, t, false);
                    reference::schedulefree(pp, gg, z, None, st.k, next, true, &h)
                },
                mixed(at): optkern::sgd_schedulefree_step_mixed_with(w, pp, gg, z, &mut schedulefree_state(&h, t, false).0, &cfg, at),
            ));
            out.push(kernel!(format!("sgd_schedulefree_reference/{name}/{numerics:?}"), numerics, [p, p, p], [g],
                |w, t, o, [pp, z, x], [gg]|
                optkern: optkern::sgd_schedulefree_reference_step_with(w, pp, gg, z, x, &mut schedulefree_state(&h, t, false).0, &cfg),
                reference: {
                    let (st, next) = schedulefree_state(&h, t, false);
                    reference::schedulefree_reference(pp, gg, z, x, None, st.k, next, &h)
                },
                mixed(at): optkern::sgd_schedulefree_reference_step_mixed_with(w, pp, gg, z, x, &mut schedulefree_state(&h, t, false).0, &cfg, at),
            ));
            let beta = cfg.momentum;
            out.push(kernel!(format!("schedulefree_eval/{name}/{numerics:?}"), numerics, [p], [p],
                |w, t, o, [pp], [z]|
                optkern: optkern::schedulefree_eval_with(w, pp, z, beta, numerics),
                reference: reference::toward(pp, z, 1.0 - 1.0 / beta),
            ));
            out.push(
                kernel!(format!("schedulefree_train/{name}/{numerics:?}"), numerics, [p], [p],
                    |w, t, o, [pp], [z]|
                    optkern: optkern::schedulefree_train_with(w, pp, z, beta, numerics),
                    reference: reference::toward(pp, z, 1.0 - beta),
                ),
            );
        }
        for (name, cfg) in adamw_schedulefree_configs() {
            let (cfg, h) =
                with_profile(cfg, numerics, |c, n| AdamwScheduleFreeConfig { numerics: n, ..c });
            out.push(kernel!(format!("adamw_schedulefree/{name}/{numerics:?}"), numerics, [p, p, nn], [g],
                |w, t, o, [pp, z, v], [gg]|
                optkern: optkern::adamw_schedulefree_step_with(w, pp, gg, z, v, &mut schedulefree_state(&h, t, false).0, &cfg),
                reference: {
                    let (st, next) = schedulefree_state(&h, t, false);
                    reference::schedulefree(pp, gg, z, Some(v), st.k, next, true, &h)
                },
                mixed(at): optkern::adamw_schedulefree_step_mixed_with(w, pp, gg, z, v, &mut schedulefree_state(&h, t, false).0, &cfg, at),
            ));
            out.push(kernel!(format!("adamw_schedulefree_reference/{name}/{numerics:?}"), numerics, [p, p, p, nn], [g],
                |w, t, o, [pp, z, x, v], [gg]|
                optkern: optkern::adamw_schedulefree_reference_step_with(w, pp, gg, z, x, v, &mut schedulefree_state(&h, t, false).0, &cfg),
                reference: {
                    let (st, next) = schedulefree_state(&h, t, false);
                    reference::schedulefree_reference(pp, gg, z, x, Some(v), st.k, next, &h)
                },
                mixed(at): optkern::adamw_schedulefree_reference_step_mixed_with(w, pp, gg, z, x, v, &mut schedulefree_state(&h, t, false).0, &cfg, at),
            ));
            // From step 1 (the SGD phase) and from step 6 (ρ > 4 for β₂ = 0.999).
            for (offset, what) in [(0, ""), (RADAM_STEP_OFFSET, "/rectified")] {
                out.push(kernel!(format!("radam_schedulefree/{name}{what}/{numerics:?}"), numerics, [p, p, nn], [g],
                    |w, t, o, [pp, z, v], [gg]|
                    optkern: optkern::radam_schedulefree_step_with(w, pp, gg, z, v, &mut schedulefree_state(&h, t + offset, true).0, &cfg),
                    reference: {
                        let (st, next) = schedulefree_state(&h, t + offset, true);
                        let norm = reference::radam_schedulefree_normalises(&h, st.k);
                        reference::schedulefree(pp, gg, z, Some(v), st.k, next, norm, &h)
                    },
                    mixed(at): optkern::radam_schedulefree_step_mixed_with(w, pp, gg, z, v, &mut schedulefree_state(&h, t + offset, true).0, &cfg, at),
                ));
            }
        }
        for (name, cfg) in qhadam_configs() {
            let (cfg, h) = with_profile(cfg, numerics, |c, n| QhadamConfig { numerics: n, ..c });
            let nus = (cfg.nu1, cfg.nu2);
            out.push(kernel!(format!("qhadam/{name}/{numerics:?}"), numerics, [p, s, nn], [g],
                |w, t, o, [pp, m1, v], [gg]|
                optkern: optkern::qhadam_step_with(w, pp, gg, m1, v, &mut qhadam_state(&cfg, t), &cfg),
                reference: reference::qhadam(pp, gg, m1, v, qhadam_weights(&cfg, t), nus, &h),
                mixed(at): optkern::qhadam_step_mixed_with(w, pp, gg, m1, v, &mut qhadam_state(&cfg, t), &cfg, at),
            ));
        }
        for (name, cfg) in madgrad_configs() {
            let (cfg, h) = with_profile(cfg, numerics, |c, n| MadgradConfig { numerics: n, ..c });
            out.push(kernel!(format!("madgrad/{name}/{numerics:?}"), numerics, [p, nn, s, p], [g],
                |w, t, o, [pp, sq, ss, x0], [gg]|
                optkern: optkern::madgrad_step_with(w, pp, gg, sq, ss, x0, &mut optkern::MadgradState { k: u64::from(t - 1) }, &cfg),
                reference: reference::madgrad(pp, gg, sq, ss, x0, u64::from(t - 1), &h),
                mixed(at): optkern::madgrad_step_mixed_with(w, pp, gg, sq, ss, x0, &mut optkern::MadgradState { k: u64::from(t - 1) }, &cfg, at),
            ));
        }
        for (name, cfg) in aggmo_configs() {
            let (cfg, h) = with_profile(cfg, numerics, |c, n| AggmoConfig { numerics: n, ..c });
            let betas = cfg.betas[..cfg.betas_len as usize].to_vec();
            out.push(kernel!(format!("aggmo/{name}/{numerics:?}"), numerics, [p, s, s, s, s], [g],
                |w, t, o, [pp, b0, b1, b2, b3], [gg]|
                optkern: optkern::aggmo_step_with(w, pp, gg, b0, b1, b2, b3, &cfg),
                reference: {
                    let mut all: [&mut [f64]; 4] = [&mut **b0, &mut **b1, &mut **b2, &mut **b3];
                    reference::aggmo(pp, gg, &mut all[..betas.len()], &betas, &h)
                },
                mixed(at): optkern::aggmo_step_mixed_with(w, pp, gg, b0, b1, b2, b3, &cfg, at),
            ));
        }
        for (name, cfg) in ranger_configs() {
            let (cfg, h) = with_profile(cfg, numerics, |c, n| RangerConfig { numerics: n, ..c });
            let sync = (cfg.alpha, cfg.k);
            out.push(kernel!(format!("ranger/{name}/{numerics:?}"), numerics, [p, s, nn, p], [g],
                |w, t, o, [pp, m1, v, slow], [gg]|
                optkern: optkern::ranger_step_with(w, pp, gg, m1, v, slow, t, &cfg),
                reference: reference::ranger(pp, gg, m1, v, slow, t, &h, sync),
                mixed(at): optkern::ranger_step_mixed_with(w, pp, gg, m1, v, slow, t, &cfg, at),
            ));
        }
        for alpha in [0.5, 0.8] {
            out.push(kernel!(format!("lookahead_sync/{alpha}/{numerics:?}"), numerics, [p, p], [],
                |w, t, o, [fast, slow], []|
                optkern: optkern::lookahead_sync_with(w, fast, slow, alpha, numerics),
                reference: reference::lookahead_sync(fast, slow, alpha),
            ));
        }
        for (name, cfg) in laprop_configs() {
            let (cfg, h) = with_profile(cfg, numerics, |c, n| LapropConfig { numerics: n, ..c });
            let x = reference::Laprop {
                centered: cfg.centered,
                steps_before_using_centered: cfg.steps_before_using_centered,
            };
            // The mean starts at 0 so that the centred moment stays ≥ 0 in exact arithmetic.
            out.push(kernel!(format!("laprop/{name}/{numerics:?}"), numerics, [p, s, nn, z, nn], [g],
                |w, t, o, [pp, m1, v, mean, vmax], [gg]|
                optkern: optkern::laprop_step_with(w, pp, gg, m1, v, mean, vmax, t, &mut laprop_lr(&cfg, t).0, &cfg),
                reference: reference::laprop(pp, gg, m1, v, mean, vmax, t, laprop_lr(&cfg, t).1, &h, &x),
                mixed(at): optkern::laprop_step_mixed_with(w, pp, gg, m1, v, mean, vmax, t, &mut laprop_lr(&cfg, t).0, &cfg, at),
            ));
        }
        for (name, cfg) in novograd_configs() {
            let (cfg, h) = with_profile(cfg, numerics, |c, n| NovogradConfig { numerics: n, ..c });
            let mut c = kernel!(format!("novograd/{name}/{numerics:?}"), numerics, [p, s], [g],
                |w, t, o, [pp, m1], [gg]|
                optkern: optkern::novograd_step_with(w, pp, gg, m1, t, &mut novograd_state(t), &cfg),
                reference: {
                    reference::novograd(pp, gg, m1, t, f64::from(novograd_state(t).nu), &h);
                },
                mixed(at): optkern::novograd_step_mixed_with(
                    w, pp, gg, m1, t, &mut novograd_state(t), &cfg, at
                ),
            );
            c.elementwise = false;
            out.push(c);
        }
        for (name, cfg) in stable_adamw_configs() {
            let (cfg, h) =
                with_profile(cfg, numerics, |c, n| StableAdamwConfig { numerics: n, ..c });
            let mut c = kernel!(format!("stable_adamw/{name}/{numerics:?}"), numerics, [p, s, nn], [g],
                |w, t, o, [pp, m1, v], [gg]|
                optkern: optkern::stable_adamw_step_with(w, pp, gg, m1, v, t, &cfg),
                reference: reference::stable_adamw(pp, gg, m1, v, t, &h),
                mixed(at): optkern::stable_adamw_step_mixed_with(w, pp, gg, m1, v, t, &cfg, at),
            );
            c.elementwise = false;
            out.push(c);
        }
        for (name, cfg) in mars_configs() {
            out.push(mars_case(name, numerics, cfg));
        }
        for (name, cfg) in fromage_configs() {
            let cfg = FromageConfig { numerics, ..cfg };
            // The bound of step 1 from the reference; the state a later step gets: any value.
            let mut c = kernel!(format!("fromage/{name}/{numerics:?}"), numerics, [p], [g],
                |w, t, o, [pp], [gg]|
                optkern: optkern::fromage_step_with(w, pp, gg, t, &mut optkern::FromageState { max: 3.0 }, &cfg),
                reference: {
                    reference::fromage(pp, gg, t, 3.0, (cfg.lr, cfg.p_bound), cfg.maximize, f64::from(cfg.grad_scale));
                },
                mixed(at): optkern::fromage_step_mixed_with(
                    w, pp, gg, t, &mut optkern::FromageState { max: 3.0 }, &cfg, at
                ),
            );
            c.elementwise = false;
            out.push(c);
        }
        for (name, cfg) in came_configs() {
            out.push(came_case(name, numerics, cfg));
        }
        for (name, cfg) in adopt_configs() {
            let (cfg, h) = with_profile(cfg, numerics, |c, n| AdoptConfig { numerics: n, ..c });
            out.push(kernel!(format!("adopt/{name}/{numerics:?}"), numerics, [p, s, nn], [g],
                |w, t, o, [pp, m1, v], [gg]|
                optkern: optkern::adopt_step_with(w, pp, gg, m1, v, t, &cfg),
                reference: reference::adopt(pp, gg, m1, v, t, &h),
                mixed(at): optkern::adopt_step_mixed_with(w, pp, gg, m1, v, t, &cfg, at),
            ));
        }
        for (name, cfg) in lars_configs() {
            let (cfg, h) = with_profile(cfg, numerics, |c, n| LarsConfig { numerics: n, ..c });
            let mut c = kernel!(format!("lars/{name}/{numerics:?}"), numerics, [p, s], [g],
                |w, t, o, [pp, v], [gg]|
                optkern: optkern::lars_step_with(w, pp, gg, v, &cfg),
                reference: reference::lars(pp, gg, v, &h),
                model: bits::lars(o, pp, gg, v, &h),
                mixed(at): optkern::lars_step_mixed_with(w, pp, gg, v, &cfg, at),
            );
            c.elementwise = false;
            out.push(c);
        }
    }
    out
}

/// `cfg` in profile `numerics`, and its reference hyperparameters.
// The kernels whose single cases tests/reference.rs also builds for configs the lists above
// leave out (a new entry in a list is a new blessed snapshot in tests/portable_bits.rs).
/// AdamP at one config and profile.
pub fn adamp_case(name: &str, numerics: Numerics, cfg: AdampConfig) -> Case {
    let (cfg, h) = with_profile(cfg, numerics, |c, n| AdampConfig { numerics: n, ..c });
    let nesterov = cfg.nesterov;
    kernel!(format!("adamp/{name}/{numerics:?}"), numerics, [Param, Signed, NonNeg], [Grad],
        |w, t, o, [pp, m1, v], [gg]|
        optkern: optkern::adamp_step_with(w, pp, gg, m1, v, t, &cfg),
        reference: reference::adamp(pp, gg, m1, v, t, &h, nesterov),
        mixed(at): optkern::adamp_step_mixed_with(w, pp, gg, m1, v, t, &cfg, at),
    )
}

/// AdEMAMix at one config and profile.
pub fn ademamix_case(name: &str, numerics: Numerics, cfg: AdemamixConfig) -> Case {
    let (cfg, h) = with_profile(cfg, numerics, |c, n| AdemamixConfig { numerics: n, ..c });
    let x = reference::Ademamix {
        beta3: cfg.beta3,
        alpha: cfg.alpha,
        t_alpha_beta3: cfg.t_alpha_beta3,
    };
    kernel!(format!("ademamix/{name}/{numerics:?}"), numerics, [Param, Signed, NonNeg, Signed], [Grad],
        |w, t, o, [pp, m1, v, m2], [gg]|
        optkern: optkern::ademamix_step_with(w, pp, gg, m1, v, m2, t, &cfg),
        reference: reference::ademamix(pp, gg, m1, v, m2, t, &h, &x),
        mixed(at): optkern::ademamix_step_mixed_with(w, pp, gg, m1, v, m2, t, &cfg, at),
    )
}

/// MARS at one config and profile (layer-wise: its clip is a norm).
pub fn mars_case(name: &str, numerics: Numerics, cfg: MarsConfig) -> Case {
    let (cfg, h) = with_profile(cfg, numerics, |c, n| MarsConfig { numerics: n, ..c });
    let x = reference::Mars {
        gamma: cfg.gamma,
        lion: cfg.mars_type == optkern::MarsType::Lion,
        optimize_1d: cfg.optimize_1d,
        lr_1d_factor: cfg.lr_1d_factor,
        beta1_1d: cfg.beta1_1d,
        beta2_1d: cfg.beta2_1d,
        weight_decay_1d: cfg.weight_decay_1d,
    };
    let mut c = kernel!(format!("mars/{name}/{numerics:?}"), numerics, [Param, Signed, NonNeg, Signed], [Grad],
        |w, t, o, [pp, m1, v, last], [gg]|
        optkern: optkern::mars_step_with(w, pp, gg, m1, v, last, t, &cfg),
        reference: reference::mars(pp, gg, m1, v, last, t, &h, &x),
        mixed(at): optkern::mars_step_mixed_with(w, pp, gg, m1, v, last, t, &cfg, at),
    );
    c.elementwise = false;
    c
}

/// CAME at one config and profile (layer-wise: its RMS is a norm).
pub fn came_case(name: &str, numerics: Numerics, cfg: CameConfig) -> Case {
    let (cfg, h) = with_profile(cfg, numerics, |c, n| CameConfig { numerics: n, ..c });
    let x = reference::Came { eps1: cfg.eps1, clip_threshold: cfg.clip_threshold };
    let mut c = kernel!(format!("came/{name}/{numerics:?}"), numerics, [Param, Signed, NonNeg, NonNeg], [Grad],
        |w, t, o, [pp, m1, v, hat], [gg]|
        optkern: optkern::came_step_with(w, pp, gg, m1, v, hat, &mut optkern::CameState::default(), &cfg),
        reference: {
            reference::came(pp, gg, m1, v, hat, &h, &x);
        },
        mixed(at): optkern::came_step_mixed_with(
            w, pp, gg, m1, v, hat, &mut optkern::CameState::default(), &cfg, at
        ),
    );
    c.elementwise = false;
    c
}

fn with_profile<C: ToReference + Copy>(
    cfg: C,
    numerics: Numerics,
    set: impl Fn(C, Numerics) -> C,
) -> (C, C::Reference) {
    let cfg = set(cfg, numerics);
    let h = cfg.to_reference();
    (cfg, h)
}
