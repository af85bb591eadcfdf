//! The golden-next optimizer cases (`optim_*.jsonl` with a `source`: pytorch_optimizer, optax,
//! schedulefree, prodigyopt): the optkern kernel each package's class maps to, built from the
//! case's options with the package's defaults. Compared normwise within each case's `tol`
//! (golden-next README) by `run_optimizer_case`.

use super::{Golden, Options, Opts, Vectors};
#[allow(unused_imports)]
use optkern::Numerics;
use optkern::*;
use serde_json::Value;

/// A `betas` option of three numbers.
fn triple(
    o: &mut Options,
    key: &'static str,
    d: (f64, f64, f64),
) -> Result<(f64, f64, f64), String> {
    o.used.push(key);
    match o.map.get(key) {
        None => Ok(d),
        Some(v) => {
            match v.as_array().map(|a| a.iter().map(Value::as_f64).collect::<Vec<_>>()).as_deref() {
                Some([Some(a), Some(b), Some(c)]) => Ok((*a, *b, *c)),
                _ => Err(format!("option {key} is not three numbers: {v}")),
            }
        }
    }
}

type Step = Box<dyn FnMut(&mut [f32], &[f32], &mut [Vec<f32>], u32, f64) -> Result<(), Error>>;

/// `bufs` state buffers of `n` elements starting at `init`, of which the first `names.len()`
/// are the package's state (the others are optional buffers this case leaves unused).
fn state(
    names: Vec<&'static str>,
    bufs: usize,
    n: usize,
    init: f32,
    step: Step,
) -> Box<dyn Golden> {
    Box::new(Vectors { names, bufs: vec![vec![init; n]; bufs], step })
}

/// `names` plus `extra` when `on`.
fn with(mut names: Vec<&'static str>, on: bool, extra: &[&'static str]) -> Vec<&'static str> {
    if on {
        names.extend_from_slice(extra);
    }
    names
}

/// Which schedule-free kernel.
#[derive(Clone, Copy, PartialEq)]
enum Sf {
    Sgd,
    Adamw,
    Radam,
    SgdReference,
    AdamwReference,
}

/// A schedule-free optimizer: `z` (and `x`) start as copies of the parameters, `v` at 0; the
/// scalar state in the caller-owned struct.
struct ScheduleFree {
    kind: Sf,
    sgd: SgdScheduleFreeConfig,
    adamw: AdamwScheduleFreeConfig,
    state: ScheduleFreeState,
    z: Vec<f32>,
    x: Vec<f32>,
    v: Vec<f32>,
    y: Vec<f32>,
}

impl Golden for ScheduleFree {
    fn step(&mut self, p: &mut [f32], g: &[f32], t: u32, lr: f64) -> Result<(), Error> {
        if t == 1 {
            (self.z, self.x, self.v) = (p.to_vec(), p.to_vec(), vec![0.0; p.len()]);
        }
        let (sgd, adamw) = (
            SgdScheduleFreeConfig { lr, ..self.sgd },
            AdamwScheduleFreeConfig { lr, ..self.adamw },
        );
        let st = &mut self.state;
        let r = match self.kind {
            Sf::Sgd => sgd_schedulefree_step(p, g, &mut self.z, st, &sgd),
            Sf::Adamw => adamw_schedulefree_step(p, g, &mut self.z, &mut self.v, st, &adamw),
            Sf::Radam => radam_schedulefree_step(p, g, &mut self.z, &mut self.v, st, &adamw),
            Sf::SgdReference => {
                sgd_schedulefree_reference_step(p, g, &mut self.z, &mut self.x, st, &sgd)
            }
            Sf::AdamwReference => adamw_schedulefree_reference_step(
                p,
                g,
                &mut self.z,
                &mut self.x,
                &mut self.v,
                st,
                &adamw,
            ),
        };
        self.y = p.to_vec();
        r
    }
    fn state(&self) -> Vec<(&'static str, &[f32])> {
        let mut s = vec![("z", &self.z[..])];
        if matches!(self.kind, Sf::SgdReference | Sf::AdamwReference) {
            s.extend([("x", &self.x[..]), ("y", &self.y[..])]);
        }
        if self.kind != Sf::Sgd && self.kind != Sf::SgdReference {
            s.push(("exp_avg_sq", &self.v[..]));
        }
        s
    }
    fn scalars(&self) -> Vec<(&'static str, f32)> {
        let s = self.state;
        vec![
            ("group.k", s.k as f32),
            ("group.lr_max", s.lr_max as f32),
            ("group.scheduled_lr", s.scheduled_lr as f32),
            ("group.weight_sum", s.weight_sum as f32),
        ]
    }
    fn eval(&self, p: &[f32]) -> Option<Vec<f32>> {
        let (beta, numerics) = match self.kind {
            Sf::Sgd => (self.sgd.momentum, self.sgd.numerics),
            Sf::Adamw | Sf::Radam => (self.adamw.beta1, self.adamw.numerics),
            Sf::SgdReference | Sf::AdamwReference => return Some(self.x.clone()),
        };
        let mut x = p.to_vec();
        schedulefree_eval(&mut x, &self.z, beta, numerics).ok()?;
        Some(x)
    }
}

fn schedule_free(kind: Sf, o: &mut Options) -> Result<Box<dyn Golden>, String> {
    let (ds, da) = (SgdScheduleFreeConfig::default(), AdamwScheduleFreeConfig::default());
    let mut sgd = ds;
    let mut adamw = da;
    if matches!(kind, Sf::Sgd | Sf::SgdReference) {
        sgd = SgdScheduleFreeConfig {
            lr: o.f64("lr", ds.lr)?,
            momentum: o.f64("momentum", ds.momentum)?,
            weight_decay: o.f64("weight_decay", ds.weight_decay)?,
            warmup_steps: o.u64("warmup_steps", 0)? as u32,
            r: o.f64("r", ds.r)?,
            weight_lr_power: o.f64("weight_lr_power", ds.weight_lr_power)?,
            ..ds
        };
    } else {
        let (beta1, beta2) = o.pair("betas", (da.beta1, da.beta2))?;
        adamw = AdamwScheduleFreeConfig {
            lr: o.f64("lr", da.lr)?,
            beta1,
            beta2,
            eps: o.f64("eps", da.eps)?,
            weight_decay: o.f64("weight_decay", da.weight_decay)?,
            warmup_steps: if kind == Sf::Radam { 0 } else { o.u64("warmup_steps", 0)? as u32 },
            r: o.f64("r", da.r)?,
            weight_lr_power: o.f64("weight_lr_power", da.weight_lr_power)?,
            decay_at_z: if kind == Sf::AdamwReference {
                o.bool("decay_at_z", false)?
            } else {
                false
            },
            silent_sgd_phase: if kind == Sf::Radam {
                o.bool("silent_sgd_phase", true)?
            } else {
                true
            },
            ..da
        };
    }
    Ok(Box::new(ScheduleFree {
        kind,
        sgd,
        adamw,
        state: ScheduleFreeState::default(),
        z: vec![],
        x: vec![],
        v: vec![],
        y: vec![],
    }))
}

/// Prodigy on one tensor: the three calls of a step.
struct Prodigy {
    cfg: ProdigyConfig,
    state: ProdigyState,
    p0: Vec<f32>,
    s: Vec<f32>,
    m: Vec<f32>,
    v: Vec<f32>,
}

impl Golden for Prodigy {
    fn step(&mut self, p: &mut [f32], g: &[f32], t: u32, lr: f64) -> Result<(), Error> {
        if t == 1 {
            self.p0 = p.to_vec();
            (self.s, self.m, self.v) = (vec![0.0; p.len()], vec![0.0; p.len()], vec![0.0; p.len()]);
        }
        let cfg = ProdigyConfig { lr, ..self.cfg };
        let st = &mut self.state;
        prodigy_accumulate(p, g, &self.p0, &mut self.s, &mut self.m, &mut self.v, st, &cfg)?;
        prodigy_update_d(st, &cfg)?;
        prodigy_apply(p, &self.m, &self.v, st, &cfg)
    }
    fn state(&self) -> Vec<(&'static str, &[f32])> {
        vec![("p0", &self.p0[..])]
    }
    fn unchecked(&self) -> Vec<&'static str> {
        vec!["exp_avg", "exp_avg_sq", "s"]
    }
    fn scalars(&self) -> Vec<(&'static str, f32)> {
        // The files hold only the group entries that changed from the constructor's value.
        let (s, d0) = (self.state, self.cfg.d0);
        [
            ("group.d", s.d, d0),
            ("group.d_max", s.d_max, d0),
            ("group.d_numerator", s.d_numerator, 0.0),
            ("group.d_denom", s.d_denom, 0.0),
            ("group.d_hat", s.d_hat, 0.0),
            ("group.k", s.k as f64, 0.0),
        ]
        .into_iter()
        .filter(|&(_, x, initial)| x != initial)
        .map(|(k, x, _)| (k, x as f32))
        .collect()
    }
}

/// A golden Lookahead case: the wrapped torch optimizer (optkern's kernel) and the sync.
struct Lookahead {
    inner: Box<dyn Golden>,
    k: u64,
    alpha: f64,
    pullback: Option<bool>,
    counter: u64,
    slow: Vec<f32>,
    slow_m: Vec<f32>,
    /// The inner optimizer's momentum buffer (SGD), read and written through `inner`.
    sgd: Option<(SgdConfig, Vec<f32>)>,
}

impl Golden for Lookahead {
    fn step(&mut self, p: &mut [f32], g: &[f32], t: u32, lr: f64) -> Result<(), Error> {
        if t == 1 {
            self.slow = p.to_vec();
            self.slow_m = vec![0.0; p.len()];
        }
        match &mut self.sgd {
            Some((cfg, buf)) => sgd_step(p, g, buf, t, &SgdConfig { lr, ..*cfg })?,
            None => self.inner.step(p, g, t, lr)?,
        }
        self.counter += 1;
        if self.counter >= self.k {
            self.counter = 0;
            lookahead_sync(p, &mut self.slow, self.alpha, Numerics::Torch)?;
            if let Some((_, buf)) = &mut self.sgd {
                match self.pullback {
                    Some(true) => {
                        lookahead_sync(buf, &mut self.slow_m, self.alpha, Numerics::Torch)?
                    }
                    Some(false) => buf.iter_mut().for_each(|x| *x = 0.0),
                    None => {}
                }
            }
        }
        Ok(())
    }
    fn state(&self) -> Vec<(&'static str, &[f32])> {
        let mut s = vec![("slow_params", &self.slow[..])];
        if self.pullback == Some(true) {
            s.push(("slow_momentum", &self.slow_m[..]));
        }
        match &self.sgd {
            Some((_, buf)) => s.push(("base.momentum_buffer", &buf[..])),
            None => {
                for (k, v) in self.inner.state() {
                    s.push((if k == "exp_avg" { "base.exp_avg" } else { "base.exp_avg_sq" }, v));
                }
            }
        }
        s
    }
    fn scalars(&self) -> Vec<(&'static str, f32)> {
        if self.counter != 0 { vec![("group.counter", self.counter as f32)] } else { vec![] }
    }
}

/// D-Adaptation on one tensor: the step and the scalar update.
struct Dadapt {
    adam: Option<DadaptAdamConfig>,
    sgd: DadaptSgdConfig,
    state: DadaptState,
    d0: f64,
    bufs: [Vec<f32>; 3],
    x0: Vec<f32>,
}

impl Golden for Dadapt {
    fn step(&mut self, p: &mut [f32], g: &[f32], t: u32, lr: f64) -> Result<(), Error> {
        let n = p.len();
        if t == 1 {
            self.bufs = [vec![0.0; n], vec![0.0; n], vec![0.0; n]];
            self.x0 = p.to_vec();
            // D-Adapt SGD's scale: the global norm of the first gradient.
            self.state.g0_norm = f64::from(grad_norm(&[g], NormType::L2)?);
            if self.adam.is_none() {
                self.bufs[2] = p.to_vec();
            }
        }
        let st = &mut self.state;
        let [a, b, c3] = &mut self.bufs;
        match self.adam {
            Some(cfg) => {
                let cfg = DadaptAdamConfig { lr, ..cfg };
                dadapt_adam_step(p, g, a, b, c3, st, &cfg)?;
                dadapt_update_d(st, optkern::Dadapt::Adam, lr, cfg.beta2, cfg.growth_rate)
            }
            None => {
                let cfg = DadaptSgdConfig { lr, ..self.sgd };
                if st.g0_norm == 0.0 {
                    return Ok(());
                }
                dadapt_sgd_step(p, g, a, &self.x0, c3, st, &cfg)?;
                dadapt_update_d(st, optkern::Dadapt::Sgd, lr, 0.5, cfg.growth_rate)
            }
        }
    }
    fn state(&self) -> Vec<(&'static str, &[f32])> {
        match self.adam {
            Some(_) => vec![
                ("exp_avg", &self.bufs[0][..]),
                ("exp_avg_sq", &self.bufs[1][..]),
                ("s", &self.bufs[2][..]),
            ],
            None => vec![("s", &self.bufs[0][..]), ("x0", &self.x0[..]), ("z", &self.bufs[2][..])],
        }
    }
    fn scalars(&self) -> Vec<(&'static str, f32)> {
        // The files hold only the group entries that changed from the constructor's value.
        let s = self.state;
        let mut out = vec![];
        if s.d != self.d0 {
            out.push(("group.d", s.d as f32));
        }
        // With one parameter the generator drops the 1-element group tensor (as it writes
        // QHAdam's 1-element state as a list only when n = 1): nothing to compare then.
        if s.numerator_weighted != 0.0 && self.x0.len() > 1 {
            out.push(("group.numerator_weighted", s.numerator_weighted as f32));
        }
        if self.adam.is_none() {
            out.push(("group.g0_norm", s.g0_norm as f32));
        }
        out
    }
}

/// The optkern counterpart of the golden-next optimizer `name` from `source`.
pub fn optimizer(
    name: &str,
    source: &str,
    opts: &Opts,
    n: usize,
) -> Result<Box<dyn Golden>, String> {
    // optax and prodigyopt cases have no `foreach` option.
    let kwargs = source.starts_with("optax.")
        || source.starts_with("prodigyopt.")
        || source == "pytorch_optimizer.Lookahead";
    let optax = source.starts_with("optax.");
    let mut o = if kwargs { Options::kwargs(opts) } else { Options::new(opts) };
    let made: Box<dyn Golden> = match (source, name) {
        ("pytorch_optimizer.ADOPT", "ADOPT") => {
            let d = AdoptConfig::default();
            let (beta1, beta2) = o.pair("betas", (d.beta1, d.beta2))?;
            let cfg = AdoptConfig {
                lr: o.f64("lr", d.lr)?,
                beta1,
                beta2,
                eps: o.f64("eps", d.eps)?,
                weight_decay: o.f64("weight_decay", d.weight_decay)?,
                weight_decouple: o.bool("weight_decouple", d.weight_decouple)?,
                fixed_decay: o.bool("fixed_decay", d.fixed_decay)?,
                maximize: o.bool("maximize", d.maximize)?,
                ..d
            };
            state(
                vec!["exp_avg", "exp_avg_sq"],
                2,
                n,
                0.0,
                Box::new(move |p, g, b, t, lr| match b {
                    [m, v] => adopt_step(p, g, m, v, t, &AdoptConfig { lr, ..cfg }),
                    _ => unreachable!(),
                }),
            )
        }
        ("pytorch_optimizer.AdaBelief", "AdaBelief") | ("optax.adabelief", "adabelief") => {
            let d = AdabeliefConfig::default();
            let cfg = if optax {
                AdabeliefConfig {
                    lr: o.f64("learning_rate", d.lr)?,
                    beta1: o.f64("b1", d.beta1)?,
                    beta2: o.f64("b2", d.beta2)?,
                    eps: o.f64("eps", 1e-16)?,
                    eps_root: o.f64("eps_root", 1e-16)?,
                    ..d
                }
            } else {
                let (beta1, beta2) = o.pair("betas", (d.beta1, d.beta2))?;
                let eps = o.f64("eps", d.eps)?;
                AdabeliefConfig {
                    lr: o.f64("lr", d.lr)?,
                    beta1,
                    beta2,
                    eps,
                    eps_root: eps,
                    weight_decay: o.f64("weight_decay", d.weight_decay)?,
                    weight_decouple: o.bool("weight_decouple", d.weight_decouple)?,
                    fixed_decay: o.bool("fixed_decay", d.fixed_decay)?,
                    rectify: o.bool("rectify", d.rectify)?,
                    degenerated_to_sgd: o.bool("degenerated_to_sgd", d.degenerated_to_sgd)?,
                    amsgrad: o.bool("ams_bound", d.amsgrad)?,
                    ..d
                }
            };
            let names = if optax {
                vec!["[0].mu", "[0].nu"]
            } else {
                with(vec!["exp_avg", "exp_avg_var"], cfg.amsgrad, &["max_exp_avg_var"])
            };
            state(
                names,
                3,
                n,
                0.0,
                Box::new(move |p, g, b, t, lr| match b {
                    [m, s, smax] => {
                        adabelief_step(p, g, m, s, smax, t, &AdabeliefConfig { lr, ..cfg })
                    }
                    _ => unreachable!(),
                }),
            )
        }
        ("pytorch_optimizer.AdaBound", "AdaBound") => {
            let d = AdaboundConfig::default();
            let (beta1, beta2) = o.pair("betas", (d.beta1, d.beta2))?;
            let cfg = AdaboundConfig {
                lr: o.f64("lr", d.lr)?,
                final_lr: o.f64("final_lr", d.final_lr)?,
                beta1,
                beta2,
                gamma: o.f64("gamma", d.gamma)?,
                eps: o.f64("eps", d.eps)?,
                weight_decay: o.f64("weight_decay", d.weight_decay)?,
                weight_decouple: o.bool("weight_decouple", d.weight_decouple)?,
                fixed_decay: o.bool("fixed_decay", d.fixed_decay)?,
                amsgrad: o.bool("ams_bound", d.amsgrad)?,
                ..d
            };
            let names = with(vec!["exp_avg", "exp_avg_sq"], cfg.amsgrad, &["max_exp_avg_sq"]);
            state(
                names,
                3,
                n,
                0.0,
                Box::new(move |p, g, b, t, lr| match b {
                    [m, v, vmax] => {
                        adabound_step(p, g, m, v, vmax, t, &AdaboundConfig { lr, ..cfg })
                    }
                    _ => unreachable!(),
                }),
            )
        }
        ("pytorch_optimizer.AdaMod", "AdaMod") => {
            let d = AdamodConfig::default();
            let (beta1, beta2, beta3) = triple(&mut o, "betas", (d.beta1, d.beta2, d.beta3))?;
            let cfg = AdamodConfig {
                lr: o.f64("lr", d.lr)?,
                beta1,
                beta2,
                beta3,
                eps: o.f64("eps", d.eps)?,
                weight_decay: o.f64("weight_decay", d.weight_decay)?,
                weight_decouple: o.bool("weight_decouple", d.weight_decouple)?,
                fixed_decay: o.bool("fixed_decay", d.fixed_decay)?,
                ..d
            };
            state(
                vec!["exp_avg", "exp_avg_sq", "exp_avg_lr"],
                3,
                n,
                0.0,
                Box::new(move |p, g, b, t, lr| match b {
                    [m, v, s] => adamod_step(p, g, m, v, s, t, &AdamodConfig { lr, ..cfg }),
                    _ => unreachable!(),
                }),
            )
        }
        ("pytorch_optimizer.AdamP", "AdamP") => {
            let d = AdampConfig::default();
            let (beta1, beta2) = o.pair("betas", (d.beta1, d.beta2))?;
            // The projection (delta, wd_ratio) only acts on tensors of two or more dimensions.
            o.f64("delta", 0.1)?;
            o.f64("wd_ratio", 0.1)?;
            let cfg = AdampConfig {
                lr: o.f64("lr", d.lr)?,
                beta1,
                beta2,
                eps: o.f64("eps", d.eps)?,
                weight_decay: o.f64("weight_decay", d.weight_decay)?,
                weight_decouple: o.bool("weight_decouple", d.weight_decouple)?,
                fixed_decay: o.bool("fixed_decay", d.fixed_decay)?,
                nesterov: o.bool("nesterov", d.nesterov)?,
                ..d
            };
            state(
                vec!["exp_avg", "exp_avg_sq"],
                2,
                n,
                0.0,
                Box::new(move |p, g, b, t, lr| match b {
                    [m, v] => adamp_step(p, g, m, v, t, &AdampConfig { lr, ..cfg }),
                    _ => unreachable!(),
                }),
            )
        }
        ("pytorch_optimizer.Adan", "Adan") => {
            let d = AdanConfig::default();
            let (beta1, beta2, beta3) = triple(&mut o, "betas", (d.beta1, d.beta2, d.beta3))?;
            let max_grad_norm = o.f64("max_grad_norm", 0.0)?;
            let cfg = AdanConfig {
                lr: o.f64("lr", d.lr)?,
                beta1,
                beta2,
                beta3,
                eps: o.f64("eps", d.eps)?,
                weight_decay: o.f64("weight_decay", d.weight_decay)?,
                weight_decouple: o.bool("weight_decouple", d.weight_decouple)?,
                ..d
            };
            let names = vec!["exp_avg", "exp_avg_diff", "exp_avg_sq", "previous_grad"];
            state(
                names,
                4,
                n,
                0.0,
                Box::new(move |p, g, b, t, lr| {
                    // The package's clipping: a global coefficient, passed as the gradient scale.
                    let grad_scale = if max_grad_norm > 0.0 {
                        let norm =
                            g.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>().sqrt();
                        (max_grad_norm / (norm + cfg.eps)).min(1.0) as f32
                    } else {
                        1.0
                    };
                    match b {
                        [m, nd, v, prev] => adan_step(
                            p,
                            g,
                            m,
                            nd,
                            v,
                            prev,
                            t,
                            &AdanConfig { lr, grad_scale, ..cfg },
                        ),
                        _ => unreachable!(),
                    }
                }),
            )
        }
        ("pytorch_optimizer.AdEMAMix", "AdEMAMix") => {
            let d = AdemamixConfig::default();
            let (beta1, beta2, beta3) = triple(&mut o, "betas", (d.beta1, d.beta2, d.beta3))?;
            let cfg = AdemamixConfig {
                lr: o.f64("lr", d.lr)?,
                beta1,
                beta2,
                beta3,
                alpha: o.f64("alpha", d.alpha)?,
                t_alpha_beta3: o.f64("t_alpha_beta3", d.t_alpha_beta3)?,
                eps: o.f64("eps", d.eps)?,
                weight_decay: o.f64("weight_decay", d.weight_decay)?,
                weight_decouple: o.bool("weight_decouple", d.weight_decouple)?,
                fixed_decay: o.bool("fixed_decay", d.fixed_decay)?,
                ..d
            };
            state(
                vec!["exp_avg", "exp_avg_sq", "exp_avg_slow"],
                3,
                n,
                0.0,
                Box::new(move |p, g, b, t, lr| match b {
                    [m1, v, m2] => ademamix_step(p, g, m1, v, m2, t, &AdemamixConfig { lr, ..cfg }),
                    _ => unreachable!(),
                }),
            )
        }
        ("pytorch_optimizer.DiffGrad", "DiffGrad") => {
            let d = DiffgradConfig::default();
            let (beta1, beta2) = o.pair("betas", (d.beta1, d.beta2))?;
            let cfg = DiffgradConfig {
                lr: o.f64("lr", d.lr)?,
                beta1,
                beta2,
                eps: o.f64("eps", d.eps)?,
                weight_decay: o.f64("weight_decay", d.weight_decay)?,
                weight_decouple: o.bool("weight_decouple", d.weight_decouple)?,
                fixed_decay: o.bool("fixed_decay", d.fixed_decay)?,
                rectify: o.bool("rectify", d.rectify)?,
                degenerated_to_sgd: o.bool("degenerated_to_sgd", d.degenerated_to_sgd)?,
                amsgrad: o.bool("ams_bound", d.amsgrad)?,
                ..d
            };
            let names = with(
                vec!["exp_avg", "exp_avg_sq", "previous_grad"],
                cfg.amsgrad,
                &["max_exp_avg_sq"],
            );
            state(
                names,
                4,
                n,
                0.0,
                Box::new(move |p, g, b, t, lr| match b {
                    [m, v, prev, vmax] => {
                        diffgrad_step(p, g, m, v, prev, vmax, t, &DiffgradConfig { lr, ..cfg })
                    }
                    _ => unreachable!(),
                }),
            )
        }
        ("pytorch_optimizer.SM3", "SM3") => {
            let d = Sm3Config::default();
            let cfg = Sm3Config {
                lr: o.f64("lr", d.lr)?,
                momentum: o.f64("momentum", d.momentum)?,
                beta: o.f64("beta", d.beta)?,
                eps: o.f64("eps", d.eps)?,
                ..d
            };
            // The package keeps a momentum buffer even without momentum (it stays 0).
            state(
                vec!["accumulator_0", "momentum_buffer"],
                2,
                n,
                0.0,
                Box::new(move |p, g, b, _, lr| match b {
                    [acc, m] => sm3_step(p, g, acc, m, &Sm3Config { lr, ..cfg }),
                    _ => unreachable!(),
                }),
            )
        }
        ("optax.yogi", "yogi") => {
            let d = YogiConfig::default();
            let cfg = YogiConfig {
                lr: o.f64("learning_rate", d.lr)?,
                beta1: o.f64("b1", d.beta1)?,
                beta2: o.f64("b2", d.beta2)?,
                eps: o.f64("eps", d.eps)?,
                ..d
            };
            // optax's initial_accumulator_value: both moments start at 1e-6.
            state(
                vec!["[0].mu", "[0].nu"],
                2,
                n,
                1e-6,
                Box::new(move |p, g, b, t, lr| match b {
                    [m, v] => yogi_step(p, g, m, v, t, &YogiConfig { lr, ..cfg }),
                    _ => unreachable!(),
                }),
            )
        }
        ("pytorch_optimizer.SignSGD", "SignSGD") => {
            let d = SignsgdConfig::default();
            let cfg = SignsgdConfig {
                lr: o.f64("lr", d.lr)?,
                momentum: o.f64("momentum", d.momentum)?,
                weight_decay: o.f64("weight_decay", d.weight_decay)?,
                weight_decouple: o.bool("weight_decouple", d.weight_decouple)?,
                fixed_decay: o.bool("fixed_decay", d.fixed_decay)?,
                ..d
            };
            let names = with(vec![], cfg.momentum != 0.0, &["momentum_buffer"]);
            state(
                names,
                1,
                n,
                0.0,
                Box::new(move |p, g, b, _, lr| match b {
                    [m] => signsgd_step(p, g, m, &SignsgdConfig { lr, ..cfg }),
                    _ => unreachable!(),
                }),
            )
        }
        ("pytorch_optimizer.Tiger", "Tiger") => {
            let d = TigerConfig::default();
            let cfg = TigerConfig {
                lr: o.f64("lr", d.lr)?,
                beta: o.f64("beta", d.beta)?,
                weight_decay: o.f64("weight_decay", d.weight_decay)?,
                weight_decouple: o.bool("weight_decouple", d.weight_decouple)?,
                fixed_decay: o.bool("fixed_decay", d.fixed_decay)?,
                ..d
            };
            state(
                vec!["exp_avg"],
                1,
                n,
                0.0,
                Box::new(move |p, g, b, _, lr| match b {
                    [m] => tiger_step(p, g, m, &TigerConfig { lr, ..cfg }),
                    _ => unreachable!(),
                }),
            )
        }
        ("pytorch_optimizer.QHM", "QHM") => {
            let d = QhmConfig::default();
            let cfg = QhmConfig {
                lr: o.f64("lr", d.lr)?,
                momentum: o.f64("momentum", d.momentum)?,
                nu: o.f64("nu", d.nu)?,
                weight_decay: o.f64("weight_decay", d.weight_decay)?,
                weight_decouple: o.bool("weight_decouple", d.weight_decouple)?,
                fixed_decay: o.bool("fixed_decay", d.fixed_decay)?,
                ..d
            };
            state(
                vec!["momentum_buffer"],
                1,
                n,
                0.0,
                Box::new(move |p, g, b, _, lr| match b {
                    [m] => qhm_step(p, g, m, &QhmConfig { lr, ..cfg }),
                    _ => unreachable!(),
                }),
            )
        }
        ("pytorch_optimizer.PID", "PID") => {
            let d = PidConfig::default();
            let cfg = PidConfig {
                lr: o.f64("lr", d.lr)?,
                momentum: o.f64("momentum", d.momentum)?,
                dampening: o.f64("dampening", d.dampening)?,
                derivative: o.f64("derivative", d.derivative)?,
                integral: o.f64("integral", d.integral)?,
                weight_decay: o.f64("weight_decay", d.weight_decay)?,
                weight_decouple: o.bool("weight_decouple", d.weight_decouple)?,
                fixed_decay: o.bool("fixed_decay", d.fixed_decay)?,
                ..d
            };
            let names = with(vec![], cfg.momentum != 0.0, &["i_buffer", "d_buffer", "grad_buffer"]);
            state(
                names,
                3,
                n,
                0.0,
                Box::new(move |p, g, b, t, lr| match b {
                    [i, dd, prev] => pid_step(p, g, i, dd, prev, t, &PidConfig { lr, ..cfg }),
                    _ => unreachable!(),
                }),
            )
        }
        ("optax.optimistic_gradient_descent", "optimistic_gradient_descent") => {
            let d = OptimisticGdConfig::default();
            let cfg = OptimisticGdConfig {
                lr: o.f64("learning_rate", d.lr)?,
                alpha: o.f64("alpha", d.alpha)?,
                beta: o.f64("beta", d.beta)?,
                ..d
            };
            state(
                vec!["[0].previous_gradient"],
                1,
                n,
                0.0,
                Box::new(move |p, g, b, t, lr| match b {
                    [prev] => optimistic_gd_step(p, g, prev, t, &OptimisticGdConfig { lr, ..cfg }),
                    _ => unreachable!(),
                }),
            )
        }
        ("schedulefree.SGDScheduleFree", _) => schedule_free(Sf::Sgd, &mut o)?,
        ("schedulefree.SGDScheduleFreeReference", _) => schedule_free(Sf::SgdReference, &mut o)?,
        ("schedulefree.AdamWScheduleFree", _) => schedule_free(Sf::Adamw, &mut o)?,
        ("schedulefree.AdamWScheduleFreeReference", _) => {
            schedule_free(Sf::AdamwReference, &mut o)?
        }
        ("schedulefree.RAdamScheduleFree", _) => schedule_free(Sf::Radam, &mut o)?,
        ("prodigyopt.Prodigy", "Prodigy") => {
            let d = ProdigyConfig::default();
            let (beta1, beta2) = o.pair("betas", (d.beta1, d.beta2))?;
            let beta3 = match o.map.get("beta3") {
                Some(v) => v.as_f64().ok_or("beta3")?,
                None => beta2.sqrt(),
            };
            o.used.push("beta3");
            let cfg = ProdigyConfig {
                lr: o.f64("lr", d.lr)?,
                beta1,
                beta2,
                beta3,
                eps: o.f64("eps", d.eps)?,
                weight_decay: o.f64("weight_decay", d.weight_decay)?,
                decouple: o.bool("decouple", d.decouple)?,
                use_bias_correction: o.bool("use_bias_correction", d.use_bias_correction)?,
                safeguard_warmup: o.bool("safeguard_warmup", d.safeguard_warmup)?,
                d0: o.f64("d0", d.d0)?,
                d_coef: o.f64("d_coef", d.d_coef)?,
                ..d
            };
            Box::new(Prodigy {
                cfg,
                state: ProdigyState::new(cfg.d0),
                p0: vec![],
                s: vec![],
                m: vec![],
                v: vec![],
            })
        }
        ("pytorch_optimizer.QHAdam", "QHAdam") => {
            let d = QhadamConfig::default();
            let (beta1, beta2) = o.pair("betas", (d.beta1, d.beta2))?;
            let (nu1, nu2) = o.pair("nus", (d.nu1, d.nu2))?;
            let cfg = QhadamConfig {
                lr: o.f64("lr", d.lr)?,
                beta1,
                beta2,
                nu1,
                nu2,
                eps: o.f64("eps", d.eps)?,
                weight_decay: o.f64("weight_decay", d.weight_decay)?,
                weight_decouple: o.bool("weight_decouple", d.weight_decouple)?,
                fixed_decay: o.bool("fixed_decay", d.fixed_decay)?,
                ..d
            };
            let st = std::rc::Rc::new(std::cell::Cell::new(QhadamState::default()));
            let s2 = st.clone();
            let inner = state(
                vec!["exp_avg", "exp_avg_sq"],
                2,
                n,
                0.0,
                Box::new(move |p, g, b, _, lr| match b {
                    [m, v] => {
                        let mut x = s2.get();
                        let r = qhadam_step(p, g, m, v, &mut x, &QhadamConfig { lr, ..cfg });
                        s2.set(x);
                        r
                    }
                    _ => unreachable!(),
                }),
            );
            Box::new(super::ScalarState {
                inner,
                read: Box::new(move || {
                    let x = st.get();
                    vec![("beta1_weight", x.beta1_weight), ("beta2_weight", x.beta2_weight)]
                }),
            })
        }
        ("pytorch_optimizer.MADGRAD", "MADGRAD") => {
            let d = MadgradConfig::default();
            let cfg = MadgradConfig {
                lr: o.f64("lr", d.lr)?,
                momentum: o.f64("momentum", d.momentum)?,
                weight_decay: o.f64("weight_decay", d.weight_decay)?,
                weight_decouple: o.bool("weight_decouple", d.weight_decouple)?,
                eps: o.f64("eps", d.eps)?,
                ..d
            };
            // x0 starts as the initial parameters: copied on the first step.
            let mut st = MadgradState::default();
            let names = with(vec!["grad_sum_sq", "s"], cfg.momentum != 0.0, &["x0"]);
            let inner = state(
                names,
                3,
                n,
                0.0,
                Box::new(move |p, g, b, t, lr| match b {
                    [sq, s, x0] => {
                        if t == 1 {
                            x0.copy_from_slice(p);
                        }
                        madgrad_step(p, g, sq, s, x0, &mut st, &MadgradConfig { lr, ..cfg })
                    }
                    _ => unreachable!(),
                }),
            );
            // The package never advances its group's `step` (its counter lives per
            // parameter; golden-next README): the files record 0.
            Box::new(super::ScalarState { inner, read: Box::new(|| vec![("group.step", 0.0)]) })
        }
        ("pytorch_optimizer.AggMo", "AggMo") => {
            let d = AggmoConfig::default();
            o.used.push("betas");
            let betas: Vec<f64> = match o.map.get("betas") {
                None => d.betas[..d.betas_len as usize].to_vec(),
                Some(v) => v
                    .as_array()
                    .ok_or("betas")?
                    .iter()
                    .map(|x| x.as_f64().ok_or("betas"))
                    .collect::<Result<_, _>>()?,
            };
            let mut arr = [0.0; AGGMO_MAX_BETAS];
            arr[..betas.len()].copy_from_slice(&betas);
            let cfg = AggmoConfig {
                lr: o.f64("lr", d.lr)?,
                betas: arr,
                betas_len: betas.len() as u32,
                weight_decay: o.f64("weight_decay", d.weight_decay)?,
                weight_decouple: o.bool("weight_decouple", d.weight_decouple)?,
                fixed_decay: o.bool("fixed_decay", d.fixed_decay)?,
                ..d
            };
            // The package's keys: `momentum_buffer.<beta as Python prints it>`.
            let names: Vec<&'static str> = betas
                .iter()
                .map(|b| &*Box::leak(format!("momentum_buffer.{b:?}").into_boxed_str()))
                .collect();
            state(
                names,
                4,
                n,
                0.0,
                Box::new(move |p, g, b, _, lr| match b {
                    [b0, b1, b2, b3] => {
                        aggmo_step(p, g, b0, b1, b2, b3, &AggmoConfig { lr, ..cfg })
                    }
                    _ => unreachable!(),
                }),
            )
        }
        ("pytorch_optimizer.Ranger", "Ranger") => {
            let d = RangerConfig::default();
            let (beta1, beta2) = o.pair("betas", (d.beta1, d.beta2))?;
            // Gradient centralisation is a no-op on 1-D tensors.
            o.bool("use_gc", true)?;
            let cfg = RangerConfig {
                lr: o.f64("lr", d.lr)?,
                beta1,
                beta2,
                eps: o.f64("eps", d.eps)?,
                alpha: o.f64("alpha", d.alpha)?,
                k: o.u64("k", u64::from(d.k))? as u32,
                degenerated_to_sgd: o.bool("degenerated_to_sgd", d.degenerated_to_sgd)?,
                weight_decay: o.f64("weight_decay", d.weight_decay)?,
                weight_decouple: o.bool("weight_decouple", d.weight_decouple)?,
                fixed_decay: o.bool("fixed_decay", d.fixed_decay)?,
                ..d
            };
            state(
                vec!["exp_avg", "exp_avg_sq", "slow_buffer"],
                3,
                n,
                0.0,
                Box::new(move |p, g, b, t, lr| match b {
                    [m, v, slow] => {
                        if t == 1 {
                            slow.copy_from_slice(p);
                        }
                        ranger_step(p, g, m, v, slow, t, &RangerConfig { lr, ..cfg })
                    }
                    _ => unreachable!(),
                }),
            )
        }
        ("pytorch_optimizer.Lookahead", "Lookahead") => {
            let base = o.str("base_optimizer", "")?;
            o.used.push("base_options");
            let base_opts =
                o.map.get("base_options").and_then(Value::as_object).ok_or("base_options")?.clone();
            let k = o.u64("k", 5)?;
            let alpha = o.f64("alpha", 0.5)?;
            let pullback = match o.str("pullback_momentum", "none")? {
                "none" => None,
                "pullback" => Some(true),
                "reset" => Some(false),
                other => return Err(format!("unknown pullback_momentum `{other}`")),
            };
            let lr = o.f64("lr", 1e-3)?;
            let mut inner_opts = base_opts.clone();
            inner_opts.insert("lr".into(), Value::from(lr));
            let (inner, sgd) = match base {
                "torch.optim.Adam" => (super::optimizer("Adam", &inner_opts, n)?, None),
                "torch.optim.AdamW" => (super::optimizer("AdamW", &inner_opts, n)?, None),
                "torch.optim.SGD" => {
                    let mut io = Options::new(&inner_opts);
                    let d = SgdConfig::default();
                    let cfg = SgdConfig {
                        lr: io.f64("lr", d.lr)?,
                        momentum: io.f64("momentum", d.momentum)?,
                        dampening: io.f64("dampening", d.dampening)?,
                        weight_decay: io.f64("weight_decay", d.weight_decay)?,
                        nesterov: io.bool("nesterov", d.nesterov)?,
                        ..d
                    };
                    io.finish()?;
                    (super::optimizer("SGD", &inner_opts, n)?, Some((cfg, vec![0.0; n])))
                }
                other => return Err(format!("unknown base optimizer `{other}`")),
            };
            Box::new(Lookahead {
                inner,
                k,
                alpha,
                pullback,
                counter: 0,
                slow: vec![],
                slow_m: vec![],
                sgd,
            })
        }
        ("pytorch_optimizer.LaProp", "LaProp") => {
            let d = LapropConfig::default();
            let (beta1, beta2) = o.pair("betas", (d.beta1, d.beta2))?;
            let cfg = LapropConfig {
                lr: o.f64("lr", d.lr)?,
                beta1,
                beta2,
                eps: o.f64("eps", d.eps)?,
                weight_decay: o.f64("weight_decay", d.weight_decay)?,
                fixed_decay: o.bool("fixed_decay", d.fixed_decay)?,
                centered: o.bool("centered", d.centered)?,
                steps_before_using_centered: o.u64("steps_before_using_centered", 10)? as u32,
                amsgrad: o.bool("ams_bound", d.amsgrad)?,
                ..d
            };
            // The package's decay is decoupled by default; its L2 form has no effect.
            if !o.bool("weight_decouple", true)? {
                return Err("LaProp's L2 form (weight_decouple=False) is not offered".into());
            }
            let st = std::rc::Rc::new(std::cell::Cell::new(LapropState::default()));
            let s2 = st.clone();
            let mut names = vec!["exp_avg", "exp_avg_sq"];
            if cfg.centered {
                names.push("exp_mean_avg_beta2");
            }
            if cfg.amsgrad {
                names.push("max_exp_avg_sq");
            }
            // Buffers in the kernel's order: exp_avg, exp_avg_sq, mean, max (the unused ones
            // stay full-length and untouched; `names` lists the used ones first).
            let (centered, ams) = (cfg.centered, cfg.amsgrad);
            let inner = state(
                names,
                4,
                n,
                0.0,
                Box::new(move |p, g, b, t, lr| {
                    let [m, v, x, y] = b else { unreachable!() };
                    let (mean, max) = if !centered && ams { (y, x) } else { (x, y) };
                    let mut st_now = s2.get();
                    let r = laprop_step(
                        p,
                        g,
                        m,
                        v,
                        mean,
                        max,
                        t,
                        &mut st_now,
                        &LapropConfig { lr, ..cfg },
                    );
                    s2.set(st_now);
                    r
                }),
            );
            Box::new(super::ScalarState {
                inner,
                read: Box::new(move || {
                    let x = st.get();
                    vec![
                        ("exp_avg_lr_1", x.exp_avg_lr_1 as f32),
                        ("exp_avg_lr_2", x.exp_avg_lr_2 as f32),
                    ]
                }),
            })
        }
        ("pytorch_optimizer.DAdaptAdam", "DAdaptAdam") => {
            let d = DadaptAdamConfig::default();
            let (beta1, beta2) = o.pair("betas", (d.beta1, d.beta2))?;
            let cfg = DadaptAdamConfig {
                lr: o.f64("lr", d.lr)?,
                beta1,
                beta2,
                eps: o.f64("eps", d.eps)?,
                weight_decay: o.f64("weight_decay", d.weight_decay)?,
                weight_decouple: o.bool("weight_decouple", d.weight_decouple)?,
                fixed_decay: o.bool("fixed_decay", d.fixed_decay)?,
                bias_correction: o.bool("bias_correction", d.bias_correction)?,
                growth_rate: o.f64("growth_rate", d.growth_rate)?,
                ..d
            };
            let d0 = o.f64("d0", 1e-6)?;
            Box::new(Dadapt {
                adam: Some(cfg),
                sgd: DadaptSgdConfig::default(),
                state: DadaptState::new(d0),
                d0,
                bufs: Default::default(),
                x0: vec![],
            })
        }
        ("pytorch_optimizer.DAdaptSGD", "DAdaptSGD") => {
            let d = DadaptSgdConfig::default();
            let cfg = DadaptSgdConfig {
                lr: o.f64("lr", d.lr)?,
                momentum: o.f64("momentum", d.momentum)?,
                weight_decay: o.f64("weight_decay", d.weight_decay)?,
                weight_decouple: o.bool("weight_decouple", d.weight_decouple)?,
                fixed_decay: o.bool("fixed_decay", d.fixed_decay)?,
                growth_rate: o.f64("growth_rate", d.growth_rate)?,
                ..d
            };
            let d0 = o.f64("d0", 1e-6)?;
            Box::new(Dadapt {
                adam: None,
                sgd: cfg,
                state: DadaptState::new(d0),
                d0,
                bufs: Default::default(),
                x0: vec![],
            })
        }
        ("optax.novograd", "novograd") => {
            let d = NovogradConfig::default();
            let cfg = NovogradConfig {
                lr: o.f64("learning_rate", d.lr)?,
                beta1: o.f64("b1", d.beta1)?,
                beta2: o.f64("b2", d.beta2)?,
                eps: o.f64("eps", d.eps)?,
                eps_root: o.f64("eps_root", d.eps_root)?,
                weight_decay: o.f64("weight_decay", d.weight_decay)?,
                ..d
            };
            let st = std::rc::Rc::new(std::cell::Cell::new(NovogradState::default()));
            let s2 = st.clone();
            let inner = state(
                vec!["[0].mu"],
                1,
                n,
                0.0,
                Box::new(move |p, g, b, t, lr| match b {
                    [m] => {
                        let mut x = s2.get();
                        let r = novograd_step(p, g, m, t, &mut x, &NovogradConfig { lr, ..cfg });
                        s2.set(x);
                        r
                    }
                    _ => unreachable!(),
                }),
            );
            Box::new(super::ScalarState {
                inner,
                read: Box::new(move || vec![("[0].nu", st.get().nu)]),
            })
        }
        ("pytorch_optimizer.StableAdamW", "StableAdamW") => {
            let d = StableAdamwConfig::default();
            let (beta1, beta2) = o.pair("betas", (d.beta1, d.beta2))?;
            // Kahan summation only applies to bf16/f16 parameters.
            o.bool("kahan_sum", true)?;
            let cfg = StableAdamwConfig {
                lr: o.f64("lr", d.lr)?,
                beta1,
                beta2,
                eps: o.f64("eps", d.eps)?,
                weight_decay: o.f64("weight_decay", d.weight_decay)?,
                ..d
            };
            state(
                vec!["exp_avg", "exp_avg_sq"],
                2,
                n,
                0.0,
                Box::new(move |p, g, b, t, lr| match b {
                    [m, v] => stable_adamw_step(p, g, m, v, t, &StableAdamwConfig { lr, ..cfg }),
                    _ => unreachable!(),
                }),
            )
        }
        ("pytorch_optimizer.MARS", "MARS") => {
            let d = MarsConfig::default();
            let (beta1, beta2) = o.pair("betas", (d.beta1, d.beta2))?;
            let (beta1_1d, beta2_1d) = o.pair("betas_1d", (d.beta1_1d, d.beta2_1d))?;
            let mars_type = match o.str("mars_type", "adamw")? {
                "adamw" => MarsType::Adamw,
                "lion" => MarsType::Lion,
                other => return Err(format!("unknown mars_type `{other}`")),
            };
            let cfg = MarsConfig {
                lr: o.f64("lr", d.lr)?,
                beta1,
                beta2,
                gamma: o.f64("gamma", d.gamma)?,
                eps: o.f64("eps", d.eps)?,
                weight_decay: o.f64("weight_decay", d.weight_decay)?,
                mars_type,
                optimize_1d: o.bool("optimize_1d", d.optimize_1d)?,
                lr_1d_factor: o.f64("lr_1d_factor", d.lr_1d_factor)?,
                beta1_1d,
                beta2_1d,
                weight_decay_1d: o.f64("weight_decay_1d", d.weight_decay_1d)?,
                ..d
            };
            state(
                vec!["exp_avg", "exp_avg_sq", "last_grad"],
                3,
                n,
                0.0,
                Box::new(move |p, g, b, t, lr| match b {
                    [m, v, last] => mars_step(p, g, m, v, last, t, &MarsConfig { lr, ..cfg }),
                    _ => unreachable!(),
                }),
            )
        }
        ("pytorch_optimizer.Fromage", "Fromage") => {
            let d = FromageConfig::default();
            let cfg = FromageConfig {
                lr: o.f64("lr", d.lr)?,
                p_bound: o.f64("p_bound", d.p_bound)?,
                ..d
            };
            let st = std::rc::Rc::new(std::cell::Cell::new(FromageState::default()));
            let s2 = st.clone();
            let inner = state(
                vec![],
                0,
                n,
                0.0,
                Box::new(move |p, g, _, t, lr| {
                    let mut x = s2.get();
                    let r = fromage_step(p, g, t, &mut x, &FromageConfig { lr, ..cfg });
                    s2.set(x);
                    r
                }),
            );
            let bounded = cfg.p_bound > 0.0;
            Box::new(super::ScalarState {
                inner,
                read: Box::new(
                    move || if bounded { vec![("max", st.get().max as f32)] } else { vec![] },
                ),
            })
        }
        ("pytorch_optimizer.CAME", "CAME") => {
            let d = CameConfig::default();
            o.used.push("betas");
            let (beta1, beta2) = match o.map.get("betas").and_then(Value::as_array) {
                None => (d.beta1, d.beta2),
                Some(b) => (b[0].as_f64().ok_or("betas")?, b[1].as_f64().ok_or("betas")?),
            };
            let cfg = CameConfig {
                lr: o.f64("lr", d.lr)?,
                beta1,
                beta2,
                clip_threshold: o.f64("clip_threshold", d.clip_threshold)?,
                weight_decay: o.f64("weight_decay", d.weight_decay)?,
                weight_decouple: o.bool("weight_decouple", d.weight_decouple)?,
                fixed_decay: o.bool("fixed_decay", d.fixed_decay)?,
                amsgrad: o.bool("ams_bound", d.amsgrad)?,
                ..d
            };
            let st = std::rc::Rc::new(std::cell::Cell::new(CameState::default()));
            let s2 = st.clone();
            let names = with(vec!["exp_avg", "exp_avg_sq"], cfg.amsgrad, &["exp_avg_sq_hat"]);
            let inner = state(
                names,
                3,
                n,
                0.0,
                Box::new(move |p, g, b, _, lr| match b {
                    [m, v, hat] => {
                        let mut x = s2.get();
                        let r = came_step(p, g, m, v, hat, &mut x, &CameConfig { lr, ..cfg });
                        s2.set(x);
                        r
                    }
                    _ => unreachable!(),
                }),
            );
            Box::new(super::ScalarState {
                inner,
                read: Box::new(move || vec![("RMS", st.get().rms as f32)]),
            })
        }
        _ => return Err(format!("unknown optimizer `{name}` from `{source}`")),
    };
    if kwargs {
        o.finish_kwargs()?
    } else {
        o.finish()?
    };
    Ok(made)
}
