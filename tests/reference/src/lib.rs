//! f64 reference implementations of optkern's kernels, written straight from the equations in
//! the PyTorch documentation and the source notes. Scalar loops, no SIMD, no FMA, no
//! dependencies, and no `use optkern`: a bug cannot be shared with the library.
//!
//! Each optimizer takes plain scalars rather than optkern's config structs (so a wrong
//! `Default` in optkern cannot hide), and has an `accepts_*` function that decides validity
//! independently (used by the error tests and the fuzzers).

pub mod bits;
pub mod breadth;
pub use breadth::*;

/// `x` finite and `x ≥ 0`.
fn nonneg(x: f64) -> bool {
    x.is_finite() && x >= 0.0
}

/// `x` finite and in `[0, 1)`.
fn unit_open(x: f64) -> bool {
    x.is_finite() && (0.0..1.0).contains(&x)
}

/// `x` finite and in `[0, 1]`.
fn unit_closed(x: f64) -> bool {
    x.is_finite() && (0.0..=1.0).contains(&x)
}

/// SGD hyperparameters (`torch.optim.SGD`).
#[derive(Clone, Copy, Debug)]
pub struct Sgd {
    pub lr: f64,
    pub momentum: f64,
    pub dampening: f64,
    pub weight_decay: f64,
    pub nesterov: bool,
    pub maximize: bool,
    pub grad_scale: f64,
}

/// Whether optkern must accept these SGD hyperparameters.
pub fn accepts_sgd(h: &Sgd, step: u32) -> bool {
    nonneg(h.lr)
        && nonneg(h.momentum)
        && unit_closed(h.dampening)
        && nonneg(h.weight_decay)
        && nonneg(h.grad_scale)
        && (!h.nesterov || (h.momentum > 0.0 && h.dampening == 0.0))
        && step >= 1
}

/// One SGD step (torch's documented algorithm):
/// g = ±s·grad + λθ; b = g on the first step else μb + (1−τ)g; g = g + μb (nesterov) or b;
/// θ = θ − ηg.
pub fn sgd(p: &mut [f64], g: &[f64], buf: &mut [f64], first_step: bool, h: &Sgd) {
    for i in 0..p.len() {
        let mut gi = g[i] * h.grad_scale;
        if h.maximize {
            gi = -gi;
        }
        gi += h.weight_decay * p[i];
        if h.momentum != 0.0 {
            buf[i] = if first_step { gi } else { h.momentum * buf[i] + (1.0 - h.dampening) * gi };
            gi = if h.nesterov { gi + h.momentum * buf[i] } else { buf[i] };
        }
        p[i] -= h.lr * gi;
    }
}

/// Adam / AdamW / AMSGrad hyperparameters (`torch.optim.Adam`).
#[derive(Clone, Copy, Debug)]
pub struct Adam {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub decoupled: bool,
    pub amsgrad: bool,
    pub maximize: bool,
    pub grad_scale: f64,
    /// Kingma & Ba's ε̂ form: θ − η·√(1−β₂ᵗ)/(1−β₁ᵗ)·m/(√u + ε̂).
    pub eps_hat: bool,
}

/// Whether optkern must accept these Adam hyperparameters.
pub fn accepts_adam(h: &Adam, step: u32) -> bool {
    nonneg(h.lr)
        && unit_open(h.beta1)
        && unit_open(h.beta2)
        && nonneg(h.eps)
        && nonneg(h.weight_decay)
        && nonneg(h.grad_scale)
        && step >= 1
}

/// One Adam step at step number `t` (Kingma & Ba, with torch's ε placement):
/// m̂ = m/(1−β₁ᵗ), v̂ = u/(1−β₂ᵗ), θ = θ − η·m̂/(√v̂ + ε).
pub fn adam(
    p: &mut [f64],
    g: &[f64],
    m: &mut [f64],
    v: &mut [f64],
    vmax: &mut [f64],
    t: u32,
    h: &Adam,
) {
    let bc1 = 1.0 - h.beta1.powi(t as i32);
    let bc2 = 1.0 - h.beta2.powi(t as i32);
    for i in 0..p.len() {
        let mut gi = g[i] * h.grad_scale;
        if h.maximize {
            gi = -gi;
        }
        if h.decoupled {
            p[i] *= 1.0 - h.lr * h.weight_decay;
        } else {
            gi += h.weight_decay * p[i];
        }
        m[i] = h.beta1 * m[i] + (1.0 - h.beta1) * gi;
        v[i] = h.beta2 * v[i] + (1.0 - h.beta2) * gi * gi;
        let u = if h.amsgrad {
            vmax[i] = vmax[i].max(v[i]);
            vmax[i]
        } else {
            v[i]
        };
        if h.eps_hat {
            p[i] -= h.lr * bc2.sqrt() / bc1 * m[i] / (u.sqrt() + h.eps);
        } else {
            let mhat = m[i] / bc1;
            let vhat = u / bc2;
            p[i] -= h.lr * mhat / (vhat.sqrt() + h.eps);
        }
    }
}

/// Classic momentum hyperparameters (the source notes' form).
#[derive(Clone, Copy, Debug)]
pub struct Momentum {
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    pub grad_scale: f64,
}

/// Whether optkern must accept these momentum hyperparameters.
pub fn accepts_momentum(h: &Momentum) -> bool {
    nonneg(h.lr) && unit_closed(h.momentum) && nonneg(h.weight_decay) && nonneg(h.grad_scale)
}

/// One classic-momentum step: v = αv + η(s·g + λθ); θ = θ − v.
pub fn momentum(p: &mut [f64], g: &[f64], vel: &mut [f64], h: &Momentum) {
    for i in 0..p.len() {
        let gi = g[i] * h.grad_scale + h.weight_decay * p[i];
        vel[i] = h.momentum * vel[i] + h.lr * gi;
        p[i] -= vel[i];
    }
}

/// The Nesterov look-ahead point θ − αv.
pub fn nesterov_lookahead(out: &mut [f64], p: &[f64], vel: &[f64], momentum: f64) {
    for i in 0..out.len() {
        out[i] = p[i] - momentum * vel[i];
    }
}

/// `sign` as torch computes it: 0 for ±0 and NaN.
fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// The gradient with scale and maximize applied.
fn grad(g: f64, scale: f64, maximize: bool) -> f64 {
    if maximize { -g * scale } else { g * scale }
}

/// Adagrad hyperparameters (`torch.optim.Adagrad`, plus ε inside the root).
#[derive(Clone, Copy, Debug)]
pub struct Adagrad {
    pub lr: f64,
    pub lr_decay: f64,
    pub weight_decay: f64,
    pub initial_accumulator_value: f64,
    pub eps: f64,
    pub eps_inside_sqrt: bool,
    pub maximize: bool,
    pub grad_scale: f64,
}

pub fn accepts_adagrad(h: &Adagrad, step: u32) -> bool {
    nonneg(h.lr)
        && nonneg(h.lr_decay)
        && nonneg(h.weight_decay)
        && nonneg(h.initial_accumulator_value)
        && nonneg(h.eps)
        && nonneg(h.grad_scale)
        && step >= 1
}

/// Adagrad: G = G₀ at t = 1; G += g²; θ −= η/(1+(t−1)δ) · g/(√G + ε) (or /√(G + ε)).
pub fn adagrad(p: &mut [f64], g: &[f64], sum: &mut [f64], t: u32, h: &Adagrad) {
    let clr = h.lr / (1.0 + f64::from(t - 1) * h.lr_decay);
    for i in 0..p.len() {
        let gi = grad(g[i], h.grad_scale, h.maximize) + h.weight_decay * p[i];
        if t == 1 {
            sum[i] = h.initial_accumulator_value;
        }
        sum[i] += gi * gi;
        let d = if h.eps_inside_sqrt { (sum[i] + h.eps).sqrt() } else { sum[i].sqrt() + h.eps };
        p[i] -= clr * gi / d;
    }
}

/// RMSprop hyperparameters.
#[derive(Clone, Copy, Debug)]
pub struct Rmsprop {
    pub lr: f64,
    pub alpha: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub momentum: f64,
    pub centered: bool,
    pub eps_inside_sqrt: bool,
    pub maximize: bool,
    pub grad_scale: f64,
}

pub fn accepts_rmsprop(h: &Rmsprop) -> bool {
    nonneg(h.lr)
        && unit_closed(h.alpha)
        && nonneg(h.eps)
        && nonneg(h.weight_decay)
        && nonneg(h.momentum)
        && nonneg(h.grad_scale)
}

/// RMSprop: sq = ρ sq + (1−ρ)g²; centered: ga = ρ ga + (1−ρ)g, var = sq − ga²;
/// a = √var + ε (or √(var + ε)); momentum: b = μb + g/a, θ −= ηb; else θ −= ηg/a.
pub fn rmsprop(
    p: &mut [f64],
    g: &[f64],
    sq: &mut [f64],
    buf: &mut [f64],
    ga: &mut [f64],
    h: &Rmsprop,
) {
    for i in 0..p.len() {
        let gi = grad(g[i], h.grad_scale, h.maximize) + h.weight_decay * p[i];
        sq[i] = h.alpha * sq[i] + (1.0 - h.alpha) * gi * gi;
        let var = if h.centered {
            ga[i] = h.alpha * ga[i] + (1.0 - h.alpha) * gi;
            sq[i] - ga[i] * ga[i]
        } else {
            sq[i]
        };
        let a = if h.eps_inside_sqrt { (var + h.eps).sqrt() } else { var.sqrt() + h.eps };
        if h.momentum != 0.0 {
            buf[i] = h.momentum * buf[i] + gi / a;
            p[i] -= h.lr * buf[i];
        } else {
            p[i] -= h.lr * gi / a;
        }
    }
}

/// Adamax hyperparameters.
#[derive(Clone, Copy, Debug)]
pub struct Adamax {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub maximize: bool,
    pub grad_scale: f64,
}

pub fn accepts_adamax(h: &Adamax, step: u32) -> bool {
    nonneg(h.lr)
        && unit_open(h.beta1)
        && unit_open(h.beta2)
        && nonneg(h.eps)
        && nonneg(h.weight_decay)
        && nonneg(h.grad_scale)
        && step >= 1
}

/// Adamax: m = β₁m + (1−β₁)g; u = max(β₂u, |g| + ε); θ −= η/(1−β₁ᵗ) · m/u.
pub fn adamax(p: &mut [f64], g: &[f64], m: &mut [f64], u: &mut [f64], t: u32, h: &Adamax) {
    let bc1 = 1.0 - h.beta1.powi(t as i32);
    for i in 0..p.len() {
        let gi = grad(g[i], h.grad_scale, h.maximize) + h.weight_decay * p[i];
        m[i] = h.beta1 * m[i] + (1.0 - h.beta1) * gi;
        u[i] = (h.beta2 * u[i]).max(gi.abs() + h.eps);
        p[i] -= h.lr / bc1 * m[i] / u[i];
    }
}

/// Adadelta hyperparameters.
#[derive(Clone, Copy, Debug)]
pub struct Adadelta {
    pub lr: f64,
    pub rho: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub maximize: bool,
    pub grad_scale: f64,
}

pub fn accepts_adadelta(h: &Adadelta) -> bool {
    nonneg(h.lr)
        && unit_closed(h.rho)
        && nonneg(h.eps)
        && nonneg(h.weight_decay)
        && nonneg(h.grad_scale)
}

/// Adadelta: sq = ρ sq + (1−ρ)g²; Δ = √(acc+ε)/√(sq+ε)·g; acc = ρ acc + (1−ρ)Δ²; θ −= ηΔ.
pub fn adadelta(p: &mut [f64], g: &[f64], sq: &mut [f64], acc: &mut [f64], h: &Adadelta) {
    for i in 0..p.len() {
        let gi = grad(g[i], h.grad_scale, h.maximize) + h.weight_decay * p[i];
        sq[i] = h.rho * sq[i] + (1.0 - h.rho) * gi * gi;
        let d = (acc[i] + h.eps).sqrt() / (sq[i] + h.eps).sqrt() * gi;
        acc[i] = h.rho * acc[i] + (1.0 - h.rho) * d * d;
        p[i] -= h.lr * d;
    }
}

/// NAdam hyperparameters.
#[derive(Clone, Copy, Debug)]
pub struct Nadam {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub momentum_decay: f64,
    pub decoupled: bool,
    pub maximize: bool,
    pub grad_scale: f64,
}

pub fn accepts_nadam(h: &Nadam, step: u32) -> bool {
    nonneg(h.lr)
        && unit_open(h.beta1)
        && unit_open(h.beta2)
        && nonneg(h.eps)
        && nonneg(h.weight_decay)
        && nonneg(h.momentum_decay)
        && nonneg(h.grad_scale)
        && step >= 1
}

/// NAdam: μ_t = β₁(1 − ½·0.96^(tψ)), Π_t = Π_{t−1}μ_t; m, v as Adam;
/// θ −= η(1−μ_t)/(1−Π_t)·g/d + η μ_{t+1}/(1−Π_t μ_{t+1})·m/d, d = √(v/(1−β₂ᵗ)) + ε.
/// `mu_product` is kept in f64 here.
#[allow(clippy::too_many_arguments)]
pub fn nadam(
    p: &mut [f64],
    g: &[f64],
    m: &mut [f64],
    v: &mut [f64],
    mu_product: &mut f64,
    t: u32,
    h: &Nadam,
) {
    let tf = f64::from(t);
    let mu = h.beta1 * (1.0 - 0.5 * 0.96f64.powf(tf * h.momentum_decay));
    let mu_next = h.beta1 * (1.0 - 0.5 * 0.96f64.powf((tf + 1.0) * h.momentum_decay));
    *mu_product *= mu;
    let bc2 = 1.0 - h.beta2.powi(t as i32);
    for i in 0..p.len() {
        let mut gi = grad(g[i], h.grad_scale, h.maximize);
        if h.decoupled {
            p[i] *= 1.0 - h.lr * h.weight_decay;
        } else {
            gi += h.weight_decay * p[i];
        }
        m[i] = h.beta1 * m[i] + (1.0 - h.beta1) * gi;
        v[i] = h.beta2 * v[i] + (1.0 - h.beta2) * gi * gi;
        let d = (v[i] / bc2).sqrt() + h.eps;
        p[i] -= h.lr * (1.0 - mu) / (1.0 - *mu_product) * gi / d;
        p[i] -= h.lr * mu_next / (1.0 - *mu_product * mu_next) * m[i] / d;
    }
}

/// RAdam hyperparameters.
#[derive(Clone, Copy, Debug)]
pub struct Radam {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub decoupled: bool,
    pub maximize: bool,
    pub grad_scale: f64,
}

pub fn accepts_radam(h: &Radam, step: u32) -> bool {
    nonneg(h.lr)
        && unit_open(h.beta1)
        && unit_open(h.beta2)
        && nonneg(h.eps)
        && nonneg(h.weight_decay)
        && nonneg(h.grad_scale)
        && step >= 1
}

/// RAdam (Liu et al. 2020, Algorithm 2).
pub fn radam(p: &mut [f64], g: &[f64], m: &mut [f64], v: &mut [f64], t: u32, h: &Radam) {
    let tf = f64::from(t);
    let b2t = h.beta2.powi(t as i32);
    let bc1 = 1.0 - h.beta1.powi(t as i32);
    let bc2 = 1.0 - b2t;
    let rho_inf = 2.0 / (1.0 - h.beta2) - 1.0;
    let rho_t = rho_inf - 2.0 * tf * b2t / bc2;
    for i in 0..p.len() {
        let mut gi = grad(g[i], h.grad_scale, h.maximize);
        if h.decoupled {
            p[i] *= 1.0 - h.lr * h.weight_decay;
        } else {
            gi += h.weight_decay * p[i];
        }
        m[i] = h.beta1 * m[i] + (1.0 - h.beta1) * gi;
        v[i] = h.beta2 * v[i] + (1.0 - h.beta2) * gi * gi;
        let mhat = m[i] / bc1;
        if rho_t > 5.0 {
            let r = ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf
                / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
                .sqrt();
            p[i] -= h.lr * mhat * r * bc2.sqrt() / (v[i].sqrt() + h.eps);
        } else {
            p[i] -= h.lr * mhat;
        }
    }
}

/// ASGD hyperparameters.
#[derive(Clone, Copy, Debug)]
pub struct Asgd {
    pub lr: f64,
    pub lambd: f64,
    pub alpha: f64,
    pub t0: f64,
    pub weight_decay: f64,
    pub maximize: bool,
    pub grad_scale: f64,
}

pub fn accepts_asgd(h: &Asgd, step: u32) -> bool {
    nonneg(h.lr)
        && nonneg(h.lambd)
        && nonneg(h.alpha)
        && nonneg(h.t0)
        && nonneg(h.weight_decay)
        && nonneg(h.grad_scale)
        && step >= 1
}

/// ASGD with state (η, μ) used by this step and updated for the next:
/// θ = θ(1 − λη) − ηg; ax = ax + μ(θ − ax) (or θ if μ = 1);
/// η ← η₀/(1 + λη₀t)^α, μ ← 1/max(1, t − t₀).
pub fn asgd(
    p: &mut [f64],
    g: &[f64],
    ax: &mut [f64],
    eta: &mut f64,
    mu: &mut f64,
    t: u32,
    h: &Asgd,
) {
    for i in 0..p.len() {
        let gi = grad(g[i], h.grad_scale, h.maximize) + h.weight_decay * p[i];
        p[i] = p[i] * (1.0 - h.lambd * *eta) - *eta * gi;
        ax[i] = if *mu != 1.0 { ax[i] + (p[i] - ax[i]) * *mu } else { p[i] };
    }
    let tf = f64::from(t);
    *eta = h.lr / (1.0 + h.lambd * h.lr * tf).powf(h.alpha);
    *mu = 1.0 / (tf - h.t0).max(1.0);
}

/// Rprop hyperparameters.
#[derive(Clone, Copy, Debug)]
pub struct Rprop {
    pub lr: f64,
    pub etaminus: f64,
    pub etaplus: f64,
    pub step_size_min: f64,
    pub step_size_max: f64,
    pub maximize: bool,
    pub grad_scale: f64,
}

pub fn accepts_rprop(h: &Rprop, step: u32) -> bool {
    nonneg(h.lr)
        && h.etaminus.is_finite()
        && h.etaminus > 0.0
        && h.etaminus < 1.0
        && h.etaplus.is_finite()
        && h.etaplus > 1.0
        && nonneg(h.step_size_min)
        && h.step_size_max.is_finite()
        && h.step_size_max >= h.step_size_min
        && nonneg(h.grad_scale)
        && step >= 1
}

/// Rprop (Riedmiller & Braun 1993, the "Rprop−" variant torch implements).
pub fn rprop(p: &mut [f64], g: &[f64], prev: &mut [f64], size: &mut [f64], t: u32, h: &Rprop) {
    for i in 0..p.len() {
        if t == 1 {
            prev[i] = 0.0;
            size[i] = h.lr;
        }
        let mut gi = grad(g[i], h.grad_scale, h.maximize);
        let s = sign(gi * prev[i]);
        let f = if s > 0.0 {
            h.etaplus
        } else if s < 0.0 {
            h.etaminus
        } else {
            1.0
        };
        size[i] = (size[i] * f).clamp(h.step_size_min, h.step_size_max);
        if s < 0.0 {
            gi = 0.0;
        }
        p[i] -= sign(gi) * size[i];
        prev[i] = gi;
    }
}

/// Adafactor hyperparameters.
#[derive(Clone, Copy, Debug)]
pub struct Adafactor {
    pub lr: f64,
    pub beta2_decay: f64,
    pub eps1: f64,
    pub eps2: f64,
    pub d: f64,
    pub weight_decay: f64,
    pub maximize: bool,
    pub grad_scale: f64,
}

pub fn accepts_adafactor(h: &Adafactor, step: u32) -> bool {
    nonneg(h.lr)
        && h.beta2_decay.is_finite()
        && h.beta2_decay <= 0.0
        && nonneg(h.eps1)
        && nonneg(h.eps2)
        && h.d.is_finite()
        && h.d >= 1.0
        && nonneg(h.weight_decay)
        && nonneg(h.grad_scale)
        && step >= 1
}

fn norm(x: impl Iterator<Item = f64>) -> f64 {
    x.map(|v| v * v).sum::<f64>().sqrt()
}

/// Shared tail of both Adafactor forms: given the variance estimate, apply the update.
fn adafactor_apply(p: &mut [f64], g: &[f64], var_est: &[f64], t: u32, h: &Adafactor) {
    let n = p.len() as f64;
    let rho = h.lr.min(1.0 / f64::from(t).sqrt());
    let alpha = h.eps2.max(norm(p.iter().copied()) / n.sqrt()) * rho;
    let u: Vec<f64> =
        g.iter().zip(var_est).map(|(gi, v)| gi / v.max(h.eps1 * h.eps1).sqrt()).collect();
    let denom = (norm(u.iter().copied()) / (n.sqrt() * h.d)).max(1.0);
    for (pi, ui) in p.iter_mut().zip(&u) {
        *pi *= 1.0 - h.lr * h.weight_decay;
        *pi -= alpha / denom * ui;
    }
}

/// Adafactor on a vector (torch's unfactored path): V = V + tᶜ(g² − V); u = g/√max(V, ε₁²);
/// θ = θ(1 − ηλ) − α/max(1, ‖u‖/(√n d))·u with α = max(ε₂, RMS(θ))·min(η, 1/√t).
pub fn adafactor(p: &mut [f64], g: &[f64], var: &mut [f64], t: u32, h: &Adafactor) {
    let w = f64::from(t).powf(h.beta2_decay);
    let g: Vec<f64> = g.iter().map(|&x| grad(x, h.grad_scale, h.maximize)).collect();
    for (v, gi) in var.iter_mut().zip(&g) {
        *v += w * (gi * gi - *v);
    }
    let est = var.to_vec();
    adafactor_apply(p, &g, &est, t, h);
}

/// Adafactor on a rows × cols matrix with factored statistics:
/// R_r += tᶜ(mean_c g² − R_r); C_c += tᶜ(mean_r g² − C_c); V̂ = R_r C_c / max(mean R, ε₁).
#[allow(clippy::too_many_arguments)]
pub fn adafactor_factored(
    p: &mut [f64],
    g: &[f64],
    row: &mut [f64],
    col: &mut [f64],
    rows: usize,
    cols: usize,
    t: u32,
    h: &Adafactor,
) {
    let w = f64::from(t).powf(h.beta2_decay);
    let g: Vec<f64> = g.iter().map(|&x| grad(x, h.grad_scale, h.maximize)).collect();
    for r in 0..rows {
        let mean = g[r * cols..(r + 1) * cols].iter().map(|x| x * x).sum::<f64>() / cols as f64;
        row[r] += w * (mean - row[r]);
    }
    for c in 0..cols {
        let mean = (0..rows).map(|r| g[r * cols + c] * g[r * cols + c]).sum::<f64>() / rows as f64;
        col[c] += w * (mean - col[c]);
    }
    let row_mean = (row.iter().sum::<f64>() / rows as f64).max(h.eps1);
    let est: Vec<f64> =
        (0..rows * cols).map(|i| row[i / cols] * col[i % cols] / row_mean).collect();
    adafactor_apply(p, &g, &est, t, h);
}

/// Lion hyperparameters.
#[derive(Clone, Copy, Debug)]
pub struct Lion {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub weight_decay: f64,
    pub maximize: bool,
    pub grad_scale: f64,
}

pub fn accepts_lion(h: &Lion) -> bool {
    nonneg(h.lr)
        && unit_closed(h.beta1)
        && unit_closed(h.beta2)
        && nonneg(h.weight_decay)
        && nonneg(h.grad_scale)
}

/// Lion (Chen et al. 2023): c = β₁m + (1−β₁)g; θ = θ(1 − ηλ) − η sign(c); m = β₂m + (1−β₂)g.
pub fn lion(p: &mut [f64], g: &[f64], m: &mut [f64], h: &Lion) {
    for i in 0..p.len() {
        let gi = grad(g[i], h.grad_scale, h.maximize);
        let c = h.beta1 * m[i] + (1.0 - h.beta1) * gi;
        p[i] = p[i] * (1.0 - h.lr * h.weight_decay) - h.lr * sign(c);
        m[i] = h.beta2 * m[i] + (1.0 - h.beta2) * gi;
    }
}

/// LAMB hyperparameters.
#[derive(Clone, Copy, Debug)]
pub struct Lamb {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub maximize: bool,
    pub grad_scale: f64,
}

pub fn accepts_lamb(h: &Lamb, step: u32) -> bool {
    nonneg(h.lr)
        && unit_open(h.beta1)
        && unit_open(h.beta2)
        && nonneg(h.eps)
        && nonneg(h.weight_decay)
        && nonneg(h.grad_scale)
        && step >= 1
}

/// LAMB (You et al. 2020): r = m̂/(√v̂ + ε) + λθ; θ −= η·(‖θ‖/‖r‖)·r (ratio 1 if a norm is 0).
pub fn lamb(p: &mut [f64], g: &[f64], m: &mut [f64], v: &mut [f64], t: u32, h: &Lamb) {
    let bc1 = 1.0 - h.beta1.powi(t as i32);
    let bc2 = 1.0 - h.beta2.powi(t as i32);
    let mut r = vec![0.0; p.len()];
    for i in 0..p.len() {
        let gi = grad(g[i], h.grad_scale, h.maximize);
        m[i] = h.beta1 * m[i] + (1.0 - h.beta1) * gi;
        v[i] = h.beta2 * v[i] + (1.0 - h.beta2) * gi * gi;
        r[i] = (m[i] / bc1) / ((v[i] / bc2).sqrt() + h.eps) + h.weight_decay * p[i];
    }
    let (pn, rn) = (norm(p.iter().copied()), norm(r.iter().copied()));
    let trust = if pn > 0.0 && rn > 0.0 { pn / rn } else { 1.0 };
    for (pi, ri) in p.iter_mut().zip(&r) {
        *pi -= h.lr * trust * ri;
    }
}

/// LARS hyperparameters.
#[derive(Clone, Copy, Debug)]
pub struct Lars {
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    pub trust_coefficient: f64,
    pub eps: f64,
    pub maximize: bool,
    pub grad_scale: f64,
}

pub fn accepts_lars(h: &Lars) -> bool {
    nonneg(h.lr)
        && unit_closed(h.momentum)
        && nonneg(h.weight_decay)
        && nonneg(h.trust_coefficient)
        && nonneg(h.eps)
        && nonneg(h.grad_scale)
}

/// LARS (You et al. 2017): λ = η‖θ‖/(‖g‖ + β‖θ‖ + ε) (1 if a norm is 0);
/// v = μv + γλ(g + βθ); θ −= v.
pub fn lars(p: &mut [f64], g: &[f64], vel: &mut [f64], h: &Lars) {
    let g: Vec<f64> = g.iter().map(|&x| grad(x, h.grad_scale, h.maximize)).collect();
    let (pn, gn) = (norm(p.iter().copied()), norm(g.iter().copied()));
    let local = if pn > 0.0 && gn > 0.0 {
        h.trust_coefficient * pn / (gn + h.weight_decay * pn + h.eps)
    } else {
        1.0
    };
    for i in 0..p.len() {
        vel[i] = h.momentum * vel[i] + h.lr * local * (g[i] + h.weight_decay * p[i]);
        p[i] -= vel[i];
    }
}

/// The initializers' scalar functions.
pub mod init {
    /// `erf⁻¹(y)` by bisection (200 halvings of [0, 10]): on `erf(x) = |y|` for `|y| < ½`, on
    /// `erfc(x) = 1 − |y|` (exact) beyond, where `erf` rounds to ±1 within 2⁻⁵³ and cannot
    /// resolve `y`. This crate has no dependencies: the caller passes `erf` and `erfc` (libm's).
    pub fn erfinv_by_bisection(y: f64, erf: impl Fn(f64) -> f64, erfc: impl Fn(f64) -> f64) -> f64 {
        let (mut lo, mut hi) = (0.0f64, 10.0f64);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            let below = if y.abs() < 0.5 { erf(mid) < y.abs() } else { erfc(mid) > 1.0 - y.abs() };
            if below { lo = mid } else { hi = mid }
        }
        (0.5 * (lo + hi)).copysign(y)
    }
}

/// Schedules, written from their definitions (closed forms).
pub mod schedule {
    use std::f64::consts::PI;

    /// η/(1 + d·t).
    pub fn inverse_time(base: f64, decay: f64, t: u64) -> f64 {
        base / (1.0 + decay * t as f64)
    }

    /// Linear warmup from 0, a plateau at η, linear decay to η·f, then constant.
    pub fn warmup_stable_decay(
        base: f64,
        warmup: u64,
        stable: u64,
        decay: u64,
        f: f64,
        t: u64,
    ) -> f64 {
        if t < warmup {
            base * t as f64 / warmup as f64
        } else if t < warmup + stable {
            base
        } else if decay == 0 {
            base * f
        } else {
            let s = ((t - warmup - stable).min(decay)) as f64 / decay as f64;
            base + (base * f - base) * s
        }
    }

    /// η_min + (η − η_min)(1 + cos(πt/T))/2.
    pub fn cosine(base: f64, eta_min: f64, t: f64, period: f64) -> f64 {
        eta_min + 0.5 * (base - eta_min) * (1.0 + (PI * t / period).cos())
    }

    /// SGDR: find the period containing t by walking the restarts one step at a time.
    pub fn warm_restarts(base: f64, t0: u64, mult: u64, eta_min: f64, t: u64) -> f64 {
        let (mut cur, mut len) = (0u64, t0);
        for _ in 0..t {
            cur += 1;
            if cur >= len {
                cur = 0;
                len *= mult;
            }
        }
        cosine(base, eta_min, cur as f64, len as f64)
    }
}

/// Cross-entropy of one row of logits, in f64 from the definition (log of the softmax):
/// returns (nll term −log p_y, smooth term −Σ w_c log p_c, softmax).
pub fn cross_entropy_row(x: &[f64], y: usize, w: &[f64]) -> (f64, f64, Vec<f64>) {
    let m = x.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let z: f64 = x.iter().map(|v| (v - m).exp()).sum();
    let p: Vec<f64> = x.iter().map(|v| (v - m).exp() / z).collect();
    let nll = -w[y] * p[y].ln();
    let smooth = -p.iter().zip(w).map(|(pc, wc)| wc * pc.ln()).sum::<f64>();
    (nll, smooth, p)
}

/// SWA options (`AveragedModel`): `lerp` selects `get_swa_multi_avg_fn`'s operation order
/// (the same mathematics).
#[derive(Clone, Copy, Debug)]
pub struct Swa {
    pub lerp: bool,
}

/// The mean of the `k + 1` points: `a ← x` for `k = 0`, else `a ← a + (x − a)/(k + 1)`.
pub fn swa(a: &mut [f64], x: &[f64], k: u64) {
    for i in 0..a.len() {
        a[i] = if k == 0 { x[i] } else { a[i] + (x[i] - a[i]) / (k + 1) as f64 };
    }
}

/// EMA options (torch's EMA functions, timm's `ModelEmaV3`).
#[derive(Clone, Copy, Debug)]
pub struct Ema {
    pub decay: f64,
    pub min_decay: f64,
    pub update_after_step: u32,
    pub warmup: bool,
    pub warmup_gamma: f64,
    pub warmup_power: f64,
    /// `get_ema_avg_fn`'s two products (else the lerp of the others).
    pub products: bool,
}

pub fn accepts_ema(h: &Ema, step: u32) -> bool {
    unit_closed(h.decay)
        && unit_closed(h.min_decay)
        && h.warmup_gamma.is_finite()
        && h.warmup_gamma > 0.0
        && h.warmup_power.is_finite()
        && h.warmup_power > 0.0
        && step >= 1
}

/// timm's `ModelEmaV3.get_decay(step)`.
pub fn ema_decay(h: &Ema, step: u32) -> f64 {
    let s = step as i64 - h.update_after_step as i64 - 1;
    if s <= 0 {
        0.0
    } else if h.warmup {
        let d = 1.0 - (1.0 + s as f64 / h.warmup_gamma).powf(-h.warmup_power);
        d.min(h.decay).max(h.min_decay)
    } else {
        h.decay
    }
}

/// `a ← δa + (1 − δ)x` with `δ = ema_decay(h, step)`.
pub fn ema(a: &mut [f64], x: &[f64], step: u32, h: &Ema) {
    let d = ema_decay(h, step);
    for i in 0..a.len() {
        a[i] = d * a[i] + (1.0 - d) * x[i];
    }
}

/// SparseAdam hyperparameters (`torch.optim.SparseAdam`).
#[derive(Clone, Copy, Debug)]
pub struct SparseAdam {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub maximize: bool,
    pub grad_scale: f64,
}

pub fn accepts_sparse_adam(h: &SparseAdam, step: u32) -> bool {
    nonneg(h.lr)
        && unit_open(h.beta1)
        && unit_open(h.beta2)
        && nonneg(h.eps)
        && nonneg(h.grad_scale)
        && step >= 1
}

/// The coalesced gradient: `(row, summed values)` for every touched row, ascending, the copies
/// summed in order of appearance.
pub fn coalesce<T: Copy + std::ops::Add<Output = T>>(
    indices: &[usize],
    values: &[T],
    cols: usize,
) -> Vec<(usize, Vec<T>)> {
    let mut rows: Vec<(usize, Vec<T>)> = Vec::new();
    for (j, &r) in indices.iter().enumerate() {
        let v = &values[j * cols..(j + 1) * cols];
        match rows.iter_mut().find(|(q, _)| *q == r) {
            Some((_, sum)) => sum.iter_mut().zip(v).for_each(|(s, &x)| *s = *s + x),
            None => rows.push((r, v.to_vec())),
        }
    }
    rows.sort_by_key(|(r, _)| *r);
    rows
}

/// One SparseAdam step (torch's documented algorithm): on every touched row, with `g` the
/// summed gradient row, `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`,
/// `θ ← θ − η·√(1−β₂ᵗ)/(1−β₁ᵗ) · m/(√v + ε)`; other rows unchanged.
#[allow(clippy::too_many_arguments)]
pub fn sparse_adam(
    p: &mut [f64],
    m: &mut [f64],
    v: &mut [f64],
    cols: usize,
    indices: &[usize],
    values: &[f64],
    t: u32,
    h: &SparseAdam,
) {
    let step = h.lr * (1.0 - h.beta2.powi(t as i32)).sqrt() / (1.0 - h.beta1.powi(t as i32));
    for (r, g) in coalesce(indices, values, cols) {
        for (c, &gc) in g.iter().enumerate() {
            let i = r * cols + c;
            let g = grad(gc, h.grad_scale, h.maximize);
            m[i] = h.beta1 * m[i] + (1.0 - h.beta1) * g;
            v[i] = h.beta2 * v[i] + (1.0 - h.beta2) * g * g;
            p[i] -= step * m[i] / (v[i].sqrt() + h.eps);
        }
    }
}

/// `op(A)·op(B)` in f64 (row-major, leading dimensions), `α·AB + β·C`.
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    c: &mut [f64],
    ldc: usize,
    a: &[f64],
    lda: usize,
    trans_a: bool,
    b: &[f64],
    ldb: usize,
    trans_b: bool,
    [m, n, k]: [usize; 3],
    alpha: f64,
    beta: f64,
) {
    for i in 0..m {
        for j in 0..n {
            let mut s = 0.0;
            for p in 0..k {
                let x = if trans_a { a[p * lda + i] } else { a[i * lda + p] };
                let y = if trans_b { b[j * ldb + p] } else { b[p * ldb + j] };
                s += x * y;
            }
            let old = c[i * ldc + j];
            c[i * ldc + j] = alpha * s + if beta == 0.0 { 0.0 } else { beta * old };
        }
    }
}

/// Muon hyperparameters (`torch.optim.Muon`); `ratio` is the shape factor of `adjust_lr_fn`.
#[derive(Clone, Copy, Debug)]
pub struct Muon {
    pub lr: f64,
    pub weight_decay: f64,
    pub momentum: f64,
    pub nesterov: bool,
    pub ns: [f64; 3],
    pub eps: f64,
    pub ns_steps: u32,
    pub lr_ratio: f64,
    pub grad_scale: f64,
    /// `NsPrecision::Bf16`: every Newton–Schulz matrix, the norm and the divided `X` rounded to
    /// bf16. Only the bit model ([`bits::muon`]) has this mode; the f64 [`muon`] is the exact
    /// iteration either way (what both precisions approximate).
    pub bf16: bool,
}

/// Whether optkern accepts a Muon configuration (the f64 form: `lr_ratio` is derived).
pub fn accepts_muon(h: &Muon) -> bool {
    nonneg(h.lr)
        && nonneg(h.weight_decay)
        && unit_open(h.momentum)
        && h.ns.iter().all(|x| x.is_finite())
        && h.eps.is_finite()
        && h.eps > 0.0
        && h.ns_steps <= 100
        && nonneg(h.grad_scale)
}

/// Row-major `r × c` matrix product `x·y` (`x` is `r × k`, `y` is `k × c`).
fn matmul(x: &[f64], y: &[f64], r: usize, k: usize, c: usize) -> Vec<f64> {
    let mut out = vec![0.0; r * c];
    for i in 0..r {
        for p in 0..k {
            for j in 0..c {
                out[i * c + j] += x[i * k + p] * y[p * c + j];
            }
        }
    }
    out
}

fn transpose(x: &[f64], r: usize, c: usize) -> Vec<f64> {
    (0..c * r).map(|idx| x[(idx % r) * c + idx / r]).collect()
}

/// One Muon step in f64, from the equations: `B ← μB + (1−μ)g`; `U = (1−μ)g + μB` or `B`;
/// `X = U` (transposed to `m × n`, `m ≤ n`) over `max(‖X‖_F, ε)`; the quintic `ns_steps`
/// times; `θ ← θ(1 − ηλ) − η·ratio·X`.
pub fn muon(p: &mut [f64], g: &[f64], b: &mut [f64], rows: usize, cols: usize, h: &Muon) {
    let g: Vec<f64> = g.iter().map(|x| x * h.grad_scale).collect();
    for i in 0..b.len() {
        b[i] = h.momentum * b[i] + (1.0 - h.momentum) * g[i];
    }
    let u: Vec<f64> = if h.nesterov {
        g.iter().zip(b.iter()).map(|(gi, bi)| (1.0 - h.momentum) * gi + h.momentum * bi).collect()
    } else {
        b.to_vec()
    };
    let t = rows > cols;
    let (m, n) = (rows.min(cols), rows.max(cols));
    let mut x = if t { transpose(&u, rows, cols) } else { u };
    let norm = x.iter().map(|v| v * v).sum::<f64>().sqrt().max(h.eps);
    x.iter_mut().for_each(|v| *v /= norm);
    let [a, bb, c] = h.ns;
    for _ in 0..h.ns_steps {
        let xt = transpose(&x, m, n);
        let gram = matmul(&x, &xt, m, n, m);
        let gram2 = matmul(&gram, &gram, m, m, m);
        let cm: Vec<f64> = gram.iter().zip(&gram2).map(|(g1, g2)| bb * g1 + c * g2).collect();
        let cx = matmul(&cm, &x, m, m, n);
        x = x.iter().zip(&cx).map(|(xi, ci)| a * xi + ci).collect();
    }
    let o = if t { transpose(&x, m, n) } else { x };
    for i in 0..p.len() {
        p[i] = p[i] * (1.0 - h.lr * h.weight_decay) - h.lr * h.lr_ratio * o[i];
    }
}

/// L-BFGS options (`torch.optim.LBFGS`'s; `max_eval` already resolved).
#[derive(Clone, Copy, Debug)]
pub struct Lbfgs {
    pub lr: f64,
    pub max_iter: u32,
    pub max_eval: u32,
    pub tolerance_grad: f64,
    pub tolerance_change: f64,
    pub history_size: usize,
    pub strong_wolfe: bool,
}

/// L-BFGS's state between `step()` calls, as torch keeps it (lists for the history).
#[derive(Clone, Debug, Default)]
pub struct LbfgsRun {
    pub func_evals: u64,
    pub n_iter: u64,
    pub d: Vec<f64>,
    pub t: f64,
    pub old_dirs: Vec<Vec<f64>>,
    pub old_stps: Vec<Vec<f64>>,
    pub ro: Vec<f64>,
    pub h_diag: f64,
    pub prev_g: Vec<f64>,
    pub prev_loss: f64,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).fold(0.0, |s, (x, y)| s + x * y)
}

fn amax(a: &[f64]) -> f64 {
    a.iter().fold(0.0f64, |m, x| if x.abs() > m { x.abs() } else { m })
}

fn cubic(x1: f64, f1: f64, g1: f64, x2: f64, f2: f64, g2: f64, bounds: Option<(f64, f64)>) -> f64 {
    let (lo, hi) = bounds.unwrap_or(if x1 <= x2 { (x1, x2) } else { (x2, x1) });
    let d1 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2);
    let d2_square = d1 * d1 - g1 * g2;
    if d2_square >= 0.0 {
        let d2 = d2_square.sqrt();
        let m = if x1 <= x2 {
            x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2))
        } else {
            x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2))
        };
        let m = if lo > m { lo } else { m };
        if hi < m { hi } else { m }
    } else {
        (lo + hi) / 2.0
    }
}

/// torch's `_strong_wolfe` with a closure `eval(x, g) -> f`: returns `(f, g, t, evaluations)`.
#[allow(clippy::too_many_arguments)]
fn strong_wolfe(
    eval: &mut dyn FnMut(&[f64], &mut [f64]) -> f64,
    x: &[f64],
    mut t: f64,
    d: &[f64],
    f: f64,
    g: &[f64],
    gtd: f64,
    max_ls: u32,
) -> (f64, Vec<f64>, f64, u32) {
    let (c1, c2) = (1e-4, 0.9);
    let d_norm = amax(d);
    let mut obj = |t: f64| {
        let xt: Vec<f64> = x.iter().zip(d).map(|(x, d)| x + t * d).collect();
        let mut g = vec![0.0; x.len()];
        let f = eval(&xt, &mut g);
        (f, g)
    };
    let (mut f_new, mut g_new) = obj(t);
    let mut evals = 1;
    let mut gtd_new = dot(&g_new, d);
    let (mut t_prev, mut f_prev, mut g_prev, mut gtd_prev) = (0.0, f, g.to_vec(), gtd);
    let mut done = false;
    let mut ls_iter = 0;
    let mut bracket: Vec<f64> = vec![];
    let mut bf: Vec<f64> = vec![];
    let mut bg: Vec<Vec<f64>> = vec![];
    let mut bgtd: Vec<f64> = vec![0.0, 0.0];
    while ls_iter < max_ls {
        if f_new > f + c1 * t * gtd || (ls_iter > 1 && f_new >= f_prev) {
            (bracket, bf, bg, bgtd) = (
                vec![t_prev, t],
                vec![f_prev, f_new],
                vec![g_prev.clone(), g_new.clone()],
                vec![gtd_prev, gtd_new],
            );
            break;
        }
        if gtd_new.abs() <= -c2 * gtd {
            (bracket, bf, bg) = (vec![t], vec![f_new], vec![g_new.clone()]);
            done = true;
            break;
        }
        if gtd_new >= 0.0 {
            (bracket, bf, bg, bgtd) = (
                vec![t_prev, t],
                vec![f_prev, f_new],
                vec![g_prev.clone(), g_new.clone()],
                vec![gtd_prev, gtd_new],
            );
            break;
        }
        let (lo, hi) = (t + 0.01 * (t - t_prev), t * 10.0);
        let tmp = t;
        t = cubic(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, Some((lo, hi)));
        (t_prev, f_prev, g_prev, gtd_prev) = (tmp, f_new, g_new.clone(), gtd_new);
        (f_new, g_new) = obj(t);
        evals += 1;
        gtd_new = dot(&g_new, d);
        ls_iter += 1;
    }
    if ls_iter == max_ls {
        (bracket, bf, bg) = (vec![0.0, t], vec![f, f_new], vec![g.to_vec(), g_new.clone()]);
    }
    let mut insuf = false;
    let mut low = usize::from(bf[0] > bf[bf.len() - 1]);
    while !done && ls_iter < max_ls {
        if (bracket[1] - bracket[0]).abs() * d_norm < 1e-9 {
            break;
        }
        t = cubic(bracket[0], bf[0], bgtd[0], bracket[1], bf[1], bgtd[1], None);
        let (bmax, bmin) = (bracket[0].max(bracket[1]), bracket[0].min(bracket[1]));
        let eps = 0.1 * (bmax - bmin);
        if (bmax - t).min(t - bmin) < eps {
            if insuf || t >= bmax || t <= bmin {
                t = if (t - bmax).abs() < (t - bmin).abs() { bmax - eps } else { bmin + eps };
                insuf = false;
            } else {
                insuf = true;
            }
        } else {
            insuf = false;
        }
        (f_new, g_new) = obj(t);
        evals += 1;
        gtd_new = dot(&g_new, d);
        ls_iter += 1;
        let high = 1 - low;
        if f_new > f + c1 * t * gtd || f_new >= bf[low] {
            (bracket[high], bf[high], bg[high], bgtd[high]) = (t, f_new, g_new.clone(), gtd_new);
            low = usize::from(bf[0] > bf[1]);
        } else {
            if gtd_new.abs() <= -c2 * gtd {
                done = true;
            } else if gtd_new * (bracket[high] - bracket[low]) >= 0.0 {
                (bracket[high], bf[high], bgtd[high]) = (bracket[low], bf[low], bgtd[low]);
                bg[high] = bg[low].clone();
            }
            (bracket[low], bf[low], bg[low], bgtd[low]) = (t, f_new, g_new.clone(), gtd_new);
        }
    }
    (bf[low], bg[low].clone(), bracket[low], evals)
}

/// One `torch.optim.LBFGS.step(closure)` in f64 with `eval(x, g) -> f` as the closure:
/// torch's code, lists and all. Returns the loss at the start.
pub fn lbfgs(
    x: &mut [f64],
    eval: &mut dyn FnMut(&[f64], &mut [f64]) -> f64,
    run: &mut LbfgsRun,
    h: &Lbfgs,
) -> f64 {
    let n = x.len();
    let mut g = vec![0.0; n];
    let mut loss = eval(x, &mut g);
    let orig_loss = loss;
    let mut evals = 1;
    run.func_evals += 1;
    if amax(&g) <= h.tolerance_grad {
        return orig_loss;
    }
    let mut it = 0;
    while it < h.max_iter {
        it += 1;
        run.n_iter += 1;
        if run.n_iter == 1 {
            run.d = g.iter().map(|v| -v).collect();
            (run.old_dirs, run.old_stps, run.ro) = (vec![], vec![], vec![]);
            run.h_diag = 1.0;
        } else {
            let y: Vec<f64> = g.iter().zip(&run.prev_g).map(|(a, b)| a - b).collect();
            let s: Vec<f64> = run.d.iter().map(|d| d * run.t).collect();
            let ys = dot(&y, &s);
            if ys > 1e-10 {
                if run.old_dirs.len() == h.history_size {
                    run.old_dirs.remove(0);
                    run.old_stps.remove(0);
                    run.ro.remove(0);
                }
                run.h_diag = ys / dot(&y, &y);
                run.old_dirs.push(y);
                run.old_stps.push(s);
                run.ro.push(1.0 / ys);
            }
            let k = run.old_dirs.len();
            let mut al = vec![0.0; k];
            let mut q: Vec<f64> = g.iter().map(|v| -v).collect();
            for i in (0..k).rev() {
                al[i] = dot(&run.old_stps[i], &q) * run.ro[i];
                for (qj, yj) in q.iter_mut().zip(&run.old_dirs[i]) {
                    *qj -= al[i] * yj;
                }
            }
            let mut r: Vec<f64> = q.iter().map(|v| v * run.h_diag).collect();
            for i in 0..k {
                let be = dot(&run.old_dirs[i], &r) * run.ro[i];
                for (rj, sj) in r.iter_mut().zip(&run.old_stps[i]) {
                    *rj += (al[i] - be) * sj;
                }
            }
            run.d = r;
        }
        run.prev_g = g.clone();
        run.prev_loss = loss;
        run.t = if run.n_iter == 1 {
            let r = 1.0 / g.iter().map(|v| v.abs()).sum::<f64>();
            if r < 1.0 { r * h.lr } else { h.lr }
        } else {
            h.lr
        };
        let gtd = dot(&g, &run.d);
        if gtd > -h.tolerance_change {
            break;
        }
        let mut ls_evals = 0;
        if h.strong_wolfe {
            let max_ls = h.max_eval.saturating_sub(evals);
            let (f, g_new, t, e) = strong_wolfe(eval, x, run.t, &run.d, loss, &g, gtd, max_ls);
            (loss, g, run.t, ls_evals) = (f, g_new, t, e);
            for (xi, di) in x.iter_mut().zip(&run.d) {
                *xi += run.t * di;
            }
        } else {
            for (xi, di) in x.iter_mut().zip(&run.d) {
                *xi += run.t * di;
            }
            if it != h.max_iter {
                loss = eval(x, &mut g);
                ls_evals = 1;
            }
        }
        evals += ls_evals;
        run.func_evals += u64::from(ls_evals);
        if it == h.max_iter || evals >= h.max_eval || amax(&g) <= h.tolerance_grad {
            break;
        }
        let step = run.d.iter().fold(0.0f64, |m, d| m.max((d * run.t).abs()));
        if step <= h.tolerance_change || (loss - run.prev_loss).abs() < h.tolerance_change {
            break;
        }
    }
    orig_loss
}
