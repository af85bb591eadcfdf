//! f64 references of the optimizers beyond `torch.optim` (pytorch_optimizer, optax,
//! schedulefree, prodigyopt), written from the update equations in the golden-next README and
//! the papers. The packages' own quirks are reproduced as documented there.

use super::{grad, nonneg, unit_open};

/// Weight decay as pytorch_optimizer's helper applies it: decoupled (`θ·(1 − ηλ)`, or
/// `θ·(1 − λ)` when fixed) or L2 (`g + λθ`). Returns the new `(θ, g)`.
fn po_decay(p: f64, g: f64, lr: f64, wd: f64, decoupled: bool, fixed: bool) -> (f64, f64) {
    if wd == 0.0 {
        (p, g)
    } else if decoupled {
        (p * (1.0 - if fixed { wd } else { lr * wd }), g)
    } else {
        (p, g + wd * p)
    }
}

/// ADOPT hyperparameters.
#[derive(Clone, Copy, Debug)]
pub struct Adopt {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub weight_decouple: bool,
    pub fixed_decay: bool,
    pub clip: bool,
    pub clip_exponent: f64,
    pub maximize: bool,
    pub grad_scale: f64,
}

pub fn accepts_adopt(h: &Adopt, step: u32) -> bool {
    nonneg(h.lr)
        && unit_open(h.beta1)
        && unit_open(h.beta2)
        && nonneg(h.eps)
        && nonneg(h.weight_decay)
        && nonneg(h.clip_exponent)
        && nonneg(h.grad_scale)
        && step >= 1
}

/// ADOPT (Taniguchi et al. 2024): v is used before it takes in g; step 1 only sets v.
pub fn adopt(p: &mut [f64], g: &[f64], m: &mut [f64], v: &mut [f64], t: u32, h: &Adopt) {
    for i in 0..p.len() {
        let gi = grad(g[i], h.grad_scale, h.maximize);
        let (pi, gi) = po_decay(p[i], gi, h.lr, h.weight_decay, h.weight_decouple, h.fixed_decay);
        p[i] = pi;
        if t == 1 {
            v[i] += gi * gi;
            continue;
        }
        let mut u = gi / v[i].sqrt().max(h.eps);
        if h.clip {
            let c = f64::from(t).powf(h.clip_exponent);
            u = u.clamp(-c, c);
        }
        m[i] = h.beta1 * m[i] + (1.0 - h.beta1) * u;
        p[i] -= h.lr * m[i];
        v[i] = h.beta2 * v[i] + (1.0 - h.beta2) * gi * gi;
    }
}

/// `1 − βᵗ`.
fn bc(beta: f64, t: u32) -> f64 {
    1.0 - beta.powi(t as i32)
}

/// RAdam's rectifier as pytorch_optimizer computes it: `(r, ρₜ ≥ 5)`, `r = ±1` below.
fn rectify(beta2: f64, t: u32, degenerated: bool) -> (f64, bool) {
    let rho_inf = 2.0 / (1.0 - beta2) - 1.0;
    let bt = beta2.powi(t as i32);
    let rho = rho_inf - 2.0 * f64::from(t) * bt / (1.0 - bt);
    if rho >= 5.0 {
        let r = (1.0 - bt) * (rho - 4.0) / (rho_inf - 4.0) * (rho - 2.0) / rho * rho_inf
            / (rho_inf - 2.0);
        (r.sqrt(), true)
    } else {
        (if degenerated { 1.0 } else { -1.0 }, false)
    }
}

/// The common "Adam with options" hyperparameters of the pytorch_optimizer kernels.
#[derive(Clone, Copy, Debug)]
pub struct PoAdam {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub weight_decouple: bool,
    pub fixed_decay: bool,
    pub rectify: bool,
    pub degenerated_to_sgd: bool,
    pub amsgrad: bool,
    pub maximize: bool,
    pub grad_scale: f64,
}

pub fn accepts_po_adam(h: &PoAdam, step: u32) -> bool {
    nonneg(h.lr)
        && unit_open(h.beta1)
        && unit_open(h.beta2)
        && nonneg(h.eps)
        && nonneg(h.weight_decay)
        && nonneg(h.grad_scale)
        && step >= 1
}

/// AdaBelief: s ← β₂s + (1−β₂)(g−m)² + ε_root; θ −= (η/bc₁)·m/(√ŝ/√bc₂ + ε); rectified as RAdam.
#[allow(clippy::too_many_arguments)]
pub fn adabelief(
    p: &mut [f64],
    g: &[f64],
    m: &mut [f64],
    s: &mut [f64],
    smax: &mut [f64],
    t: u32,
    h: &PoAdam,
    eps_root: f64,
) {
    let (bc1, bc2) = (bc(h.beta1, t), bc(h.beta2, t));
    let (r, adaptive) =
        if h.rectify { rectify(h.beta2, t, h.degenerated_to_sgd) } else { (1.0, true) };
    for i in 0..p.len() {
        let gi = grad(g[i], h.grad_scale, h.maximize);
        let (pi, gi) = po_decay(p[i], gi, h.lr, h.weight_decay, h.weight_decouple, h.fixed_decay);
        m[i] = h.beta1 * m[i] + (1.0 - h.beta1) * gi;
        let res = gi - m[i];
        s[i] = h.beta2 * s[i] + (1.0 - h.beta2) * res * res + eps_root;
        let mut si = s[i];
        if h.amsgrad {
            smax[i] = smax[i].max(si);
            si = smax[i];
        }
        p[i] = if !h.rectify {
            pi - h.lr / bc1 * m[i] / (si.sqrt() / bc2.sqrt() + h.eps)
        } else if adaptive {
            pi - h.lr * r / bc1 * m[i] / (si.sqrt() + h.eps)
        } else if r > 0.0 {
            pi - h.lr * r / bc1 * m[i]
        } else {
            pi
        };
    }
}

/// AdaBound: η̂ = clamp((η√bc₂/bc₁)/(√v̂ + ε), η_f(1 − 1/(γt+1)), η_f(1 + 1/(γt))); θ −= η̂·m.
#[allow(clippy::too_many_arguments)]
pub fn adabound(
    p: &mut [f64],
    g: &[f64],
    m: &mut [f64],
    v: &mut [f64],
    vmax: &mut [f64],
    t: u32,
    h: &PoAdam,
    (final_lr, gamma): (f64, f64),
) {
    let step = h.lr * bc(h.beta2, t).sqrt() / bc(h.beta1, t);
    let tf = f64::from(t);
    let (lo, hi) =
        (final_lr * (1.0 - 1.0 / (gamma * tf + 1.0)), final_lr * (1.0 + 1.0 / (gamma * tf)));
    for i in 0..p.len() {
        let gi = grad(g[i], h.grad_scale, h.maximize);
        let (pi, gi) = po_decay(p[i], gi, h.lr, h.weight_decay, h.weight_decouple, h.fixed_decay);
        m[i] = h.beta1 * m[i] + (1.0 - h.beta1) * gi;
        v[i] = h.beta2 * v[i] + (1.0 - h.beta2) * gi * gi;
        let mut vi = v[i];
        if h.amsgrad {
            vmax[i] = vmax[i].max(vi);
            vi = vmax[i];
        }
        let eta = (step / (vi.sqrt() + h.eps)).clamp(lo, hi);
        p[i] = pi - eta * m[i];
    }
}

/// AdaMod: η̂ = (η√bc₂/bc₁)/(√v + ε); s = β₃s + (1−β₃)η̂; θ −= min(η̂, s)·m.
#[allow(clippy::too_many_arguments)]
pub fn adamod(
    p: &mut [f64],
    g: &[f64],
    m: &mut [f64],
    v: &mut [f64],
    s: &mut [f64],
    t: u32,
    h: &PoAdam,
    beta3: f64,
) {
    let step = h.lr * bc(h.beta2, t).sqrt() / bc(h.beta1, t);
    for i in 0..p.len() {
        let gi = grad(g[i], h.grad_scale, h.maximize);
        let (pi, gi) = po_decay(p[i], gi, h.lr, h.weight_decay, h.weight_decouple, h.fixed_decay);
        m[i] = h.beta1 * m[i] + (1.0 - h.beta1) * gi;
        v[i] = h.beta2 * v[i] + (1.0 - h.beta2) * gi * gi;
        let eta = step / (v[i].sqrt() + h.eps);
        s[i] = beta3 * s[i] + (1.0 - beta3) * eta;
        p[i] = pi - eta.min(s[i]) * m[i];
    }
}

/// AdamP on a flat slice: θ ← θ·(1 − ηλ) (decoupled only); θ −= (η/bc₁)·n·√bc₂/(√v + ε), n = m
/// or, with nesterov, β₁m + (1−β₁)g.
pub fn adamp(
    p: &mut [f64],
    g: &[f64],
    m: &mut [f64],
    v: &mut [f64],
    t: u32,
    h: &PoAdam,
    nesterov: bool,
) {
    let (bc1, bc2) = (bc(h.beta1, t), bc(h.beta2, t));
    for i in 0..p.len() {
        let gi = grad(g[i], h.grad_scale, h.maximize);
        m[i] = h.beta1 * m[i] + (1.0 - h.beta1) * gi;
        v[i] = h.beta2 * v[i] + (1.0 - h.beta2) * gi * gi;
        let num = if nesterov { h.beta1 * m[i] + (1.0 - h.beta1) * gi } else { m[i] };
        let mut pi = p[i];
        if h.weight_decouple && h.weight_decay != 0.0 {
            pi *= 1.0 - if h.fixed_decay { h.weight_decay } else { h.lr * h.weight_decay };
        }
        p[i] = pi - h.lr / bc1 * num * bc2.sqrt() / (v[i].sqrt() + h.eps);
    }
}

/// DiffGrad: ξ = σ(|g₋ − g|); θ −= (η√bc₂/bc₁)·ξm/(√v̂ + ε); rectified: r replaces √bc₂ (ρ ≥ 5),
/// else θ −= (η/bc₁)·m (no ξ, as the package).
#[allow(clippy::too_many_arguments)]
pub fn diffgrad(
    p: &mut [f64],
    g: &[f64],
    m: &mut [f64],
    v: &mut [f64],
    prev: &mut [f64],
    vmax: &mut [f64],
    t: u32,
    h: &PoAdam,
) {
    let (bc1, bc2) = (bc(h.beta1, t), bc(h.beta2, t));
    let (r, adaptive) =
        if h.rectify { rectify(h.beta2, t, h.degenerated_to_sgd) } else { (bc2.sqrt(), true) };
    for i in 0..p.len() {
        let gi = grad(g[i], h.grad_scale, h.maximize);
        let (pi, gi) = po_decay(p[i], gi, h.lr, h.weight_decay, h.weight_decouple, h.fixed_decay);
        m[i] = h.beta1 * m[i] + (1.0 - h.beta1) * gi;
        v[i] = h.beta2 * v[i] + (1.0 - h.beta2) * gi * gi;
        let xi = 1.0 / (1.0 + (-(prev[i] - gi).abs()).exp());
        prev[i] = gi;
        let mut vi = v[i];
        if h.amsgrad {
            vmax[i] = vmax[i].max(vi);
            vi = vmax[i];
        }
        p[i] = if adaptive {
            pi - h.lr * r / bc1 * xi * m[i] / (vi.sqrt() + h.eps)
        } else if r > 0.0 {
            pi - h.lr * r / bc1 * m[i]
        } else {
            pi
        };
    }
}

/// AdEMAMix hyperparameters (the shared ones in `PoAdam`).
#[derive(Clone, Copy, Debug)]
pub struct Ademamix {
    pub beta3: f64,
    pub alpha: f64,
    pub t_alpha_beta3: f64,
}

/// AdEMAMix: m₂ = β₃ₜm₂ + (1−β₃ₜ)g; θ −= η(m₁/bc₁ + αₜm₂)/(√v/√bc₂ + ε).
#[allow(clippy::too_many_arguments)]
pub fn ademamix(
    p: &mut [f64],
    g: &[f64],
    m1: &mut [f64],
    v: &mut [f64],
    m2: &mut [f64],
    t: u32,
    h: &PoAdam,
    x: &Ademamix,
) {
    let (bc1, bc2) = (bc(h.beta1, t), bc(h.beta2, t));
    let tf = f64::from(t);
    let (alpha, beta3) = if x.t_alpha_beta3 > 0.0 {
        let f = tf / x.t_alpha_beta3;
        let (l1, l3) = (h.beta1.ln(), x.beta3.ln());
        ((x.alpha * f).min(x.alpha), (l1 * l3 / ((1.0 - f) * l3 + f * l1)).exp().min(x.beta3))
    } else {
        (x.alpha, x.beta3)
    };
    for i in 0..p.len() {
        let gi = grad(g[i], h.grad_scale, h.maximize);
        let (pi, gi) = po_decay(p[i], gi, h.lr, h.weight_decay, h.weight_decouple, h.fixed_decay);
        m1[i] = h.beta1 * m1[i] + (1.0 - h.beta1) * gi;
        v[i] = h.beta2 * v[i] + (1.0 - h.beta2) * gi * gi;
        m2[i] = beta3 * m2[i] + (1.0 - beta3) * gi;
        p[i] = pi - h.lr * (m1[i] / bc1 + alpha * m2[i]) / (v[i].sqrt() / bc2.sqrt() + h.eps);
    }
}

/// Adan hyperparameters.
#[derive(Clone, Copy, Debug)]
pub struct Adan {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub beta3: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub weight_decouple: bool,
    pub maximize: bool,
    pub grad_scale: f64,
}

pub fn accepts_adan(h: &Adan, step: u32) -> bool {
    nonneg(h.lr)
        && unit_open(h.beta1)
        && unit_open(h.beta2)
        && unit_open(h.beta3)
        && nonneg(h.eps)
        && nonneg(h.weight_decay)
        && nonneg(h.grad_scale)
        && step >= 1
}

/// Adan (package betas): Δ = g − g₋ (0 at t = 1); m, n, v averages; two normalised steps; the
/// decay decoupled before or proximal after; `prev` stores −g.
#[allow(clippy::too_many_arguments)]
pub fn adan(
    p: &mut [f64],
    g: &[f64],
    m: &mut [f64],
    n: &mut [f64],
    v: &mut [f64],
    prev: &mut [f64],
    t: u32,
    h: &Adan,
) {
    let (bc1, bc2, bc3) = (bc(h.beta1, t), bc(h.beta2, t), bc(h.beta3, t));
    for i in 0..p.len() {
        let gi = grad(g[i], h.grad_scale, h.maximize);
        let diff = if t == 1 { 0.0 } else { gi + prev[i] };
        m[i] = h.beta1 * m[i] + (1.0 - h.beta1) * gi;
        n[i] = h.beta2 * n[i] + (1.0 - h.beta2) * diff;
        let u = h.beta2 * diff + gi;
        v[i] = h.beta3 * v[i] + (1.0 - h.beta3) * u * u;
        let d = v[i].sqrt() / bc3.sqrt() + h.eps;
        let mut pi = p[i];
        if h.weight_decouple {
            pi *= 1.0 - h.lr * h.weight_decay;
        }
        pi -= h.lr / bc1 * m[i] / d + h.lr * h.beta2 / bc2 * n[i] / d;
        if !h.weight_decouple {
            pi /= 1.0 + h.lr * h.weight_decay;
        }
        p[i] = pi;
        prev[i] = -gi;
    }
}

/// Yogi and optimistic GD hyperparameters (optax: no weight decay).
#[derive(Clone, Copy, Debug)]
pub struct Yogi {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub maximize: bool,
    pub grad_scale: f64,
}

pub fn accepts_yogi(h: &Yogi, step: u32) -> bool {
    nonneg(h.lr)
        && unit_open(h.beta1)
        && unit_open(h.beta2)
        && nonneg(h.eps)
        && nonneg(h.grad_scale)
        && step >= 1
}

/// Yogi: v ← v − (1−β₂)·sign(v − g²)·g²; θ −= η(m/bc₁)/(√(v/bc₂) + ε).
pub fn yogi(p: &mut [f64], g: &[f64], m: &mut [f64], v: &mut [f64], t: u32, h: &Yogi) {
    let (bc1, bc2) = (bc(h.beta1, t), bc(h.beta2, t));
    for i in 0..p.len() {
        let gi = grad(g[i], h.grad_scale, h.maximize);
        m[i] = h.beta1 * m[i] + (1.0 - h.beta1) * gi;
        let g2 = gi * gi;
        let d = v[i] - g2;
        let sign = if d > 0.0 {
            1.0
        } else if d < 0.0 {
            -1.0
        } else {
            0.0
        };
        v[i] -= (1.0 - h.beta2) * sign * g2;
        p[i] -= h.lr * (m[i] / bc1) / ((v[i] / bc2).sqrt() + h.eps);
    }
}

/// SM3 hyperparameters.
#[derive(Clone, Copy, Debug)]
pub struct Sm3 {
    pub lr: f64,
    pub momentum: f64,
    pub beta: f64,
    pub eps: f64,
    pub maximize: bool,
    pub grad_scale: f64,
}

pub fn accepts_sm3(h: &Sm3) -> bool {
    nonneg(h.lr)
        && unit_open(h.momentum)
        && unit_open(h.beta)
        && nonneg(h.eps)
        && nonneg(h.grad_scale)
}

/// SM3 (1-D): u = (β>0 ? βa : a) + (1−β)g²; a = β>0 ? max(a, u) : u; u = g/√(u + ε); momentum.
pub fn sm3(p: &mut [f64], g: &[f64], acc: &mut [f64], b: &mut [f64], h: &Sm3) {
    for i in 0..p.len() {
        let gi = grad(g[i], h.grad_scale, h.maximize);
        let base = if h.beta > 0.0 { h.beta * acc[i] } else { acc[i] };
        let u = base + (1.0 - h.beta) * gi * gi;
        acc[i] = if h.beta > 0.0 { acc[i].max(u) } else { u };
        let mut u = gi / (u + h.eps).sqrt();
        if h.momentum > 0.0 {
            b[i] = h.momentum * b[i] + (1.0 - h.momentum) * u;
            u = b[i];
        }
        p[i] -= h.lr * u;
    }
}

/// Sign descent (signSGD / Signum / Tiger) and QHM hyperparameters.
#[derive(Clone, Copy, Debug)]
pub struct PoMomentum {
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    pub weight_decouple: bool,
    pub fixed_decay: bool,
    pub maximize: bool,
    pub grad_scale: f64,
}

pub fn accepts_po_momentum(h: &PoMomentum) -> bool {
    nonneg(h.lr) && unit_open(h.momentum) && nonneg(h.weight_decay) && nonneg(h.grad_scale)
}

fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// Signum: m = μm + (1−μ)g (μ > 0, else m = g); θ −= η·sign(m).
pub fn signsgd(p: &mut [f64], g: &[f64], m: &mut [f64], h: &PoMomentum) {
    for i in 0..p.len() {
        let gi = grad(g[i], h.grad_scale, h.maximize);
        let (pi, gi) = po_decay(p[i], gi, h.lr, h.weight_decay, h.weight_decouple, h.fixed_decay);
        let dir = if h.momentum > 0.0 {
            m[i] = h.momentum * m[i] + (1.0 - h.momentum) * gi;
            m[i]
        } else {
            gi
        };
        p[i] = pi - h.lr * sign(dir);
    }
}

/// QHM: b = μb + (1−μ)g; θ −= ην·b + η(1−ν)·g.
pub fn qhm(p: &mut [f64], g: &[f64], b: &mut [f64], h: &PoMomentum, nu: f64) {
    for i in 0..p.len() {
        let gi = grad(g[i], h.grad_scale, h.maximize);
        let (pi, gi) = po_decay(p[i], gi, h.lr, h.weight_decay, h.weight_decouple, h.fixed_decay);
        b[i] = h.momentum * b[i] + (1.0 - h.momentum) * gi;
        p[i] = pi - h.lr * nu * b[i] - h.lr * (1.0 - nu) * gi;
    }
}

/// PID gains.
#[derive(Clone, Copy, Debug)]
pub struct Pid {
    pub dampening: f64,
    pub derivative: f64,
    pub integral: f64,
}

/// PID: I = μI + (1−τ)g; D = μD + (1−μ)(g − g₋) (t > 1); g₋ = g; θ −= η(g + K_I·I + K_D·D).
#[allow(clippy::too_many_arguments)]
pub fn pid(
    p: &mut [f64],
    g: &[f64],
    ib: &mut [f64],
    db: &mut [f64],
    prev: &mut [f64],
    t: u32,
    h: &PoMomentum,
    k: &Pid,
) {
    for i in 0..p.len() {
        let gi = grad(g[i], h.grad_scale, h.maximize);
        let (pi, mut gi) =
            po_decay(p[i], gi, h.lr, h.weight_decay, h.weight_decouple, h.fixed_decay);
        if h.momentum > 0.0 {
            ib[i] = h.momentum * ib[i] + (1.0 - k.dampening) * gi;
            db[i] *= h.momentum;
            if t > 1 {
                db[i] += (1.0 - h.momentum) * (gi - prev[i]);
            }
            prev[i] = gi;
            gi += k.integral * ib[i] + k.derivative * db[i];
        }
        p[i] = pi - h.lr * gi;
    }
}

/// Optimistic GD hyperparameters.
#[derive(Clone, Copy, Debug)]
pub struct OptimisticGd {
    pub lr: f64,
    pub alpha: f64,
    pub beta: f64,
    pub maximize: bool,
    pub grad_scale: f64,
}

pub fn accepts_optimistic_gd(h: &OptimisticGd, step: u32) -> bool {
    nonneg(h.lr) && nonneg(h.alpha) && nonneg(h.beta) && nonneg(h.grad_scale) && step >= 1
}

/// Optimistic GD: θ −= η((α + β)g − βg₋), g₋ = g on step 1; g₋ ← g.
pub fn optimistic_gd(p: &mut [f64], g: &[f64], prev: &mut [f64], t: u32, h: &OptimisticGd) {
    for i in 0..p.len() {
        let gi = grad(g[i], h.grad_scale, h.maximize);
        let last = if t == 1 { gi } else { prev[i] };
        p[i] -= h.lr * ((h.alpha + h.beta) * gi - h.beta * last);
        prev[i] = gi;
    }
}

/// Schedule-free hyperparameters (SGD: `beta` is μ and `beta2`, `eps` unused; AdamW, RAdam).
#[derive(Clone, Copy, Debug)]
pub struct ScheduleFree {
    pub lr: f64,
    pub beta: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub warmup_steps: u32,
    pub r: f64,
    pub weight_lr_power: f64,
    pub silent_sgd_phase: bool,
    pub decay_at_z: bool,
    pub maximize: bool,
    pub grad_scale: f64,
}

pub fn accepts_schedulefree(h: &ScheduleFree) -> bool {
    nonneg(h.lr)
        && h.beta.is_finite()
        && h.beta > 0.0
        && h.beta < 1.0
        && unit_open(h.beta2)
        && nonneg(h.eps)
        && nonneg(h.weight_decay)
        && nonneg(h.r)
        && nonneg(h.weight_lr_power)
        && nonneg(h.grad_scale)
}

/// The schedule-free scalar state `(k, lr_max, weight_sum)` after `steps` steps, and the
/// `(lr_t, c)` of the next one: `lr_max = max(lr_max, lr_t)`, `w = (k+1)^r·lr_max^p`,
/// `W += w`, `c = w/W` (0 while W = 0). `rect` gives RAdam's learning-rate factor of a step.
pub fn schedulefree_schedule(
    h: &ScheduleFree,
    steps: u64,
    radam: bool,
) -> ((u64, f64, f64), (f64, f64)) {
    let lr_at = |k: u64| -> f64 {
        if radam {
            let t = (k + 1) as f64;
            let rho_inf = 2.0 / (1.0 - h.beta2) - 1.0;
            let bt = h.beta2.powf(t);
            let rho = rho_inf - 2.0 * t * bt / (1.0 - bt);
            if rho > 4.0 {
                h.lr * ((rho - 4.0) * (rho - 2.0) * rho_inf
                    / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho))
                    .sqrt()
            } else if h.silent_sgd_phase {
                0.0
            } else {
                h.lr
            }
        } else if k < u64::from(h.warmup_steps) {
            h.lr * (k + 1) as f64 / f64::from(h.warmup_steps)
        } else {
            h.lr
        }
    };
    let (mut lr_max, mut sum) = (0.0f64, 0.0f64);
    let mut c = 0.0;
    for k in 0..=steps {
        lr_max = lr_max.max(lr_at(k));
        let w = ((k + 1) as f64).powf(h.r) * lr_max.powf(h.weight_lr_power);
        if k == steps {
            let total = sum + w;
            c = if total != 0.0 { w / total } else { 0.0 };
            break;
        }
        sum += w;
    }
    let prev_max = (0..steps).map(lr_at).fold(0.0, f64::max);
    ((steps, prev_max, sum), (lr_at(steps), c))
}

/// One schedule-free step (fast form) at step `k + 1` with `(lr_t, c)` from
/// [`schedulefree_schedule`]; `v` is `None` for SGD. `rectified`: RAdam with ρ ≤ 4 (no
/// normalisation).
#[allow(clippy::too_many_arguments)]
pub fn schedulefree(
    y: &mut [f64],
    g: &[f64],
    z: &mut [f64],
    mut v: Option<&mut [f64]>,
    k: u64,
    (lr, c): (f64, f64),
    normalise: bool,
    h: &ScheduleFree,
) {
    let bc2 = 1.0 - h.beta2.powf((k + 1) as f64);
    for i in 0..y.len() {
        let gi = grad(g[i], h.grad_scale, h.maximize);
        let mut d = gi;
        if let Some(v) = v.as_deref_mut() {
            v[i] = h.beta2 * v[i] + (1.0 - h.beta2) * gi * gi;
            if normalise {
                d = gi / ((v[i] / bc2).sqrt() + h.eps);
            }
        }
        d += h.weight_decay * y[i];
        y[i] = (1.0 - c) * y[i] + c * z[i] + lr * (h.beta * (1.0 - c) - 1.0) * d;
        z[i] -= lr * d;
    }
}

/// One reference-form step: `z −= lr·ĝ`, `x = (1−c)x + cz`, `y = βx + (1−β)z`.
#[allow(clippy::too_many_arguments)]
pub fn schedulefree_reference(
    y: &mut [f64],
    g: &[f64],
    z: &mut [f64],
    x: &mut [f64],
    mut v: Option<&mut [f64]>,
    k: u64,
    (lr, c): (f64, f64),
    h: &ScheduleFree,
) {
    let bc2 = 1.0 - h.beta2.powf((k + 1) as f64);
    for i in 0..y.len() {
        let gi = grad(g[i], h.grad_scale, h.maximize);
        match v.as_deref_mut() {
            None => z[i] -= lr * (gi + h.weight_decay * y[i]),
            Some(v) => {
                z[i] -= lr * h.weight_decay * if h.decay_at_z { z[i] } else { y[i] };
                v[i] = h.beta2 * v[i] + (1.0 - h.beta2) * gi * gi;
                z[i] -= lr * gi / ((v[i] / bc2).sqrt() + h.eps);
            }
        }
        x[i] = (1.0 - c) * x[i] + c * z[i];
        y[i] = h.beta * x[i] + (1.0 - h.beta) * z[i];
    }
}

/// `p ← (1 − w)p + w·z` (schedule-free's eval/train moves).
pub fn toward(p: &mut [f64], z: &[f64], w: f64) {
    for i in 0..p.len() {
        p[i] = (1.0 - w) * p[i] + w * z[i];
    }
}

/// Whether schedule-free RAdam normalises step `k + 1` (`ρ > 4`).
pub fn radam_schedulefree_normalises(h: &ScheduleFree, k: u64) -> bool {
    let t = (k + 1) as f64;
    let rho_inf = 2.0 / (1.0 - h.beta2) - 1.0;
    let bt = h.beta2.powf(t);
    rho_inf - 2.0 * t * bt / (1.0 - bt) > 4.0
}

/// Prodigy hyperparameters.
#[derive(Clone, Copy, Debug)]
pub struct Prodigy {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub beta3: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub decouple: bool,
    pub use_bias_correction: bool,
    pub safeguard_warmup: bool,
    pub d0: f64,
    pub d_coef: f64,
    pub growth_rate: f64,
    pub maximize: bool,
    pub grad_scale: f64,
}

pub fn accepts_prodigy(h: &Prodigy) -> bool {
    nonneg(h.lr)
        && unit_open(h.beta1)
        && unit_open(h.beta2)
        && unit_open(h.beta3)
        && nonneg(h.eps)
        && nonneg(h.weight_decay)
        && nonneg(h.d0)
        && h.d0 > 0.0
        && nonneg(h.d_coef)
        && h.growth_rate > 0.0
        && nonneg(h.grad_scale)
}

/// Prodigy's scalars: `(d, d_max, numerator, k)`.
#[derive(Clone, Copy, Debug)]
pub struct ProdigyScalars {
    pub d: f64,
    pub d_max: f64,
    pub numerator: f64,
    pub k: u64,
}

/// One Prodigy step over the whole model (one slice), from the prodigyopt algorithm.
#[allow(clippy::too_many_arguments)]
pub fn prodigy(
    p: &mut [f64],
    g: &[f64],
    p0: &[f64],
    s: &mut [f64],
    m: &mut [f64],
    v: &mut [f64],
    st: &mut ProdigyScalars,
    h: &Prodigy,
) {
    let t = st.k + 1;
    let bc = if h.use_bias_correction {
        (1.0 - h.beta2.powf(t as f64)).sqrt() / (1.0 - h.beta1.powf(t as f64))
    } else {
        1.0
    };
    let d = st.d;
    let dlr = d * h.lr * bc;
    let (mut dot, mut l1) = (0.0, 0.0);
    let mut gs = vec![0.0; p.len()];
    for i in 0..p.len() {
        let mut gi = grad(g[i], h.grad_scale, h.maximize);
        if !h.decouple {
            gi += h.weight_decay * p[i];
        }
        gs[i] = gi;
        dot += gi * (p0[i] - p[i]);
        m[i] = h.beta1 * m[i] + d * (1.0 - h.beta1) * gi;
        v[i] = h.beta2 * v[i] + d * d * (1.0 - h.beta2) * gi * gi;
        let gain = if h.safeguard_warmup { d / h.d0 * d } else { d / h.d0 * dlr };
        s[i] = h.beta3 * s[i] + gain * gi;
        l1 += s[i].abs();
    }
    st.numerator = st.numerator * h.beta3 + d / h.d0 * dlr * dot;
    if l1 > 0.0 {
        let d_hat = h.d_coef * st.numerator / l1;
        let mut dn = if d == h.d0 { d.max(d_hat) } else { d };
        st.d_max = st.d_max.max(d_hat);
        dn = st.d_max.min(dn * h.growth_rate);
        st.d = dn;
    }
    for i in 0..p.len() {
        if h.decouple {
            p[i] -= h.weight_decay * dlr * p[i];
        }
        p[i] -= dlr * m[i] / (v[i].sqrt() + st.d * h.eps);
    }
    st.k = t;
}

/// QHAdam: wₖ ← βₖwₖ + 1 (passed in, after the update); m += (g − m)/w₁; v += (g² − v)/w₂;
/// θ −= η(ν₁m + (1−ν₁)g)/(√(ν₂v + (1−ν₂)g²) + ε).
#[allow(clippy::too_many_arguments)]
pub fn qhadam(
    p: &mut [f64],
    g: &[f64],
    m: &mut [f64],
    v: &mut [f64],
    (w1, w2): (f64, f64),
    (nu1, nu2): (f64, f64),
    h: &PoAdam,
) {
    for i in 0..p.len() {
        let gi = grad(g[i], h.grad_scale, h.maximize);
        let (pi, gi) = po_decay(p[i], gi, h.lr, h.weight_decay, h.weight_decouple, h.fixed_decay);
        m[i] += (gi - m[i]) / w1;
        v[i] += (gi * gi - v[i]) / w2;
        let a = nu1 * m[i] + (1.0 - nu1) * gi;
        let r = nu2 * v[i] + (1.0 - nu2) * gi * gi;
        p[i] = pi - h.lr * a / (r.sqrt() + h.eps);
    }
}

/// MADGRAD hyperparameters.
#[derive(Clone, Copy, Debug)]
pub struct Madgrad {
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    pub weight_decouple: bool,
    pub eps: f64,
    pub maximize: bool,
    pub grad_scale: f64,
}

pub fn accepts_madgrad(h: &Madgrad) -> bool {
    nonneg(h.lr)
        && unit_open(h.momentum)
        && nonneg(h.weight_decay)
        && nonneg(h.eps)
        && nonneg(h.grad_scale)
}

/// MADGRAD at step k + 1 (k steps taken): λ = (η+ε)√(k+1); x₀ = θ + s/(∛S + ε) without
/// momentum; S += λg²; s += λg; z = x₀ − s/(∛S + ε); θ = μθ + (1−μ)z; decoupled decay on θ_old.
#[allow(clippy::too_many_arguments)]
pub fn madgrad(
    p: &mut [f64],
    g: &[f64],
    sum_sq: &mut [f64],
    s: &mut [f64],
    x0: &mut [f64],
    k: u64,
    h: &Madgrad,
) {
    let lr = h.lr + h.eps;
    let lamb = lr * ((k + 1) as f64).sqrt();
    for i in 0..p.len() {
        let mut gi = grad(g[i], h.grad_scale, h.maximize);
        if !h.weight_decouple {
            gi += h.weight_decay * p[i];
        }
        let origin =
            if h.momentum == 0.0 { p[i] + s[i] / (sum_sq[i].cbrt() + h.eps) } else { x0[i] };
        sum_sq[i] += lamb * gi * gi;
        s[i] += lamb * gi;
        let z = origin - s[i] / (sum_sq[i].cbrt() + h.eps);
        let old = p[i];
        p[i] = h.momentum * p[i] + (1.0 - h.momentum) * z;
        if h.weight_decouple {
            p[i] -= lr * h.weight_decay * old;
        }
    }
}

/// AggMo: for each β: b ← βb + g; θ −= (η/K)·b.
pub fn aggmo(p: &mut [f64], g: &[f64], bufs: &mut [&mut [f64]], betas: &[f64], h: &PoMomentum) {
    let k = betas.len() as f64;
    for i in 0..p.len() {
        let gi = grad(g[i], h.grad_scale, h.maximize);
        let (mut pi, gi) =
            po_decay(p[i], gi, h.lr, h.weight_decay, h.weight_decouple, h.fixed_decay);
        for (b, beta) in bufs.iter_mut().zip(betas) {
            b[i] = beta * b[i] + gi;
            pi -= h.lr / k * b[i];
        }
        p[i] = pi;
    }
}

/// Ranger: RAdam-like step (r = ±1 below the threshold, the package's sign quirk), then every
/// k steps φ ← φ + α(θ − φ), θ ← φ.
#[allow(clippy::too_many_arguments)]
pub fn ranger(
    p: &mut [f64],
    g: &[f64],
    m: &mut [f64],
    v: &mut [f64],
    slow: &mut [f64],
    t: u32,
    h: &PoAdam,
    (alpha, k): (f64, u32),
) {
    let (r, adaptive) = rectify(h.beta2, t, h.degenerated_to_sgd);
    let step = h.lr * r / bc(h.beta1, t);
    for i in 0..p.len() {
        let gi = grad(g[i], h.grad_scale, h.maximize);
        let (pi, gi) = po_decay(p[i], gi, h.lr, h.weight_decay, h.weight_decouple, h.fixed_decay);
        m[i] = h.beta1 * m[i] + (1.0 - h.beta1) * gi;
        v[i] = h.beta2 * v[i] + (1.0 - h.beta2) * gi * gi;
        let mut pi =
            if adaptive { pi - step * m[i] / (v[i].sqrt() + h.eps) } else { pi - step * m[i] };
        if t.is_multiple_of(k) {
            slow[i] += alpha * (pi - slow[i]);
            pi = slow[i];
        }
        p[i] = pi;
    }
}

/// Lookahead's synchronisation: θ ← αθ + (1−α)φ; φ ← θ.
pub fn lookahead_sync(fast: &mut [f64], slow: &mut [f64], alpha: f64) {
    for i in 0..fast.len() {
        fast[i] = alpha * fast[i] + (1.0 - alpha) * slow[i];
        slow[i] = fast[i];
    }
}

/// LaProp options beyond `PoAdam` (whose `amsgrad` is used; `weight_decouple` is always on).
#[derive(Clone, Copy, Debug)]
pub struct Laprop {
    pub centered: bool,
    pub steps_before_using_centered: u32,
}

/// LaProp at step t with L₁ (the averaged learning rate, after this step's update):
/// v = β₂v + (1−β₂)g²; ḡ = β₂ḡ + (1−β₂)g, v' = v − ḡ² (t > threshold); v̂ = max(v̂, v');
/// d = (√v' + ε)/√bc₂; m = β₁m + (1−β₁)η·g/d; θ −= (η/L₁)m; θ ← θ(1 − ηλ).
#[allow(clippy::too_many_arguments)]
pub fn laprop(
    p: &mut [f64],
    g: &[f64],
    m: &mut [f64],
    v: &mut [f64],
    mean: &mut [f64],
    vmax: &mut [f64],
    t: u32,
    l1: f64,
    h: &PoAdam,
    x: &Laprop,
) {
    let bc2 = bc(h.beta2, t);
    for i in 0..p.len() {
        let gi = grad(g[i], h.grad_scale, h.maximize);
        v[i] = h.beta2 * v[i] + (1.0 - h.beta2) * gi * gi;
        let mut second = v[i];
        if x.centered {
            mean[i] = h.beta2 * mean[i] + (1.0 - h.beta2) * gi;
            if t > x.steps_before_using_centered {
                second -= mean[i] * mean[i];
            }
        }
        if h.amsgrad {
            vmax[i] = vmax[i].max(second);
            second = vmax[i];
        }
        let d = (second.sqrt() + h.eps) / bc2.sqrt();
        m[i] = h.beta1 * m[i] + (1.0 - h.beta1) * h.lr * gi / d;
        let step = if h.lr != 0.0 { h.lr / l1 } else { 1.0 };
        p[i] -= step * m[i];
        if h.weight_decay != 0.0 {
            p[i] *= 1.0 - if h.fixed_decay { h.weight_decay } else { h.weight_decay * h.lr };
        }
    }
}

/// D-Adaptation scalars: `(d, numerator_weighted, g0_norm)`.
#[derive(Clone, Copy, Debug)]
pub struct DadaptScalars {
    pub d: f64,
    pub numerator: f64,
    pub g0_norm: f64,
}

/// One D-Adapt Adam step over the whole model: η_d = dη (bias-corrected if asked); the
/// numerator uses the old s and v; θ ← θ − m/(√v + ε); then d from the weighted numerator
/// over (1 − √β₂)‖s‖₁.
#[allow(clippy::too_many_arguments)]
pub fn dadapt_adam(
    p: &mut [f64],
    g: &[f64],
    m: &mut [f64],
    v: &mut [f64],
    s: &mut [f64],
    st: &mut DadaptScalars,
    t: u32,
    (bias_correction, growth_rate): (bool, f64),
    h: &PoAdam,
) {
    let b = h.beta2.sqrt();
    let dlr = if bias_correction {
        st.d * h.lr * bc(h.beta2, t).sqrt() / bc(h.beta1, t)
    } else {
        st.d * h.lr
    };
    let (mut num, mut l1) = (0.0, 0.0);
    for i in 0..p.len() {
        let mut gi = grad(g[i], h.grad_scale, h.maximize);
        if !h.weight_decouple {
            gi += h.weight_decay * p[i];
        }
        num += gi * s[i] / (v[i].sqrt() + h.eps);
        m[i] = h.beta1 * m[i] + dlr * (1.0 - h.beta1) * gi;
        v[i] = h.beta2 * v[i] + (1.0 - h.beta2) * gi * gi;
        s[i] = b * s[i] + dlr * (1.0 - b) * gi;
        l1 += s[i].abs();
        if h.weight_decouple {
            p[i] *= 1.0 - if h.fixed_decay { h.weight_decay } else { dlr * h.weight_decay };
        }
        p[i] -= m[i] / (v[i].sqrt() + h.eps);
    }
    if l1 > 0.0 {
        st.numerator = b * st.numerator + (1.0 - b) * dlr * num;
        if h.lr > 0.0 {
            let d_hat = st.numerator / ((1.0 - b) * l1);
            st.d = st.d.max(d_hat.min(st.d * growth_rate));
        }
    }
}

/// One D-Adapt SGD step over the whole model: η_d = dη/‖g₁‖; s += η_d g; z = x₀ − s;
/// θ = μθ + (1−μ)z; numerator += η_d⟨g, s_old⟩; d̂ = 2·numerator/‖s‖₂.
#[allow(clippy::too_many_arguments)]
pub fn dadapt_sgd(
    p: &mut [f64],
    g: &[f64],
    s: &mut [f64],
    x0: &[f64],
    z: &mut [f64],
    st: &mut DadaptScalars,
    growth_rate: f64,
    h: &PoMomentum,
) {
    if st.g0_norm == 0.0 {
        return;
    }
    let dlr = st.d * h.lr / st.g0_norm;
    let (mut num, mut sq) = (0.0, 0.0);
    for i in 0..p.len() {
        let mut gi = grad(g[i], h.grad_scale, h.maximize);
        if !h.weight_decouple {
            gi += h.weight_decay * p[i];
        }
        num += gi * s[i];
        s[i] += dlr * gi;
        sq += s[i] * s[i];
        if h.weight_decouple {
            p[i] *= 1.0 - if h.fixed_decay { h.weight_decay } else { dlr * h.weight_decay };
        }
        z[i] = x0[i] - s[i];
        p[i] = h.momentum * p[i] + (1.0 - h.momentum) * z[i];
    }
    st.numerator += dlr * num;
    if sq > 0.0 && h.lr > 0.0 {
        let d_hat = 2.0 * st.numerator / sq.sqrt();
        st.d = st.d.max(d_hat.min(st.d * growth_rate));
    }
}

/// NovoGrad hyperparameters (optax).
#[derive(Clone, Copy, Debug)]
pub struct Novograd {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub eps_root: f64,
    pub weight_decay: f64,
    pub maximize: bool,
    pub grad_scale: f64,
}

pub fn accepts_novograd(h: &Novograd, step: u32) -> bool {
    nonneg(h.lr)
        && unit_open(h.beta1)
        && unit_open(h.beta2)
        && nonneg(h.eps)
        && nonneg(h.eps_root)
        && nonneg(h.weight_decay)
        && nonneg(h.grad_scale)
        && step >= 1
}

/// NovoGrad on one tensor: ν = ‖g‖² (t = 1) or (1−β₂)‖g‖² + β₂ν; g' = g/(√(ν + ε_r) + ε) + λθ;
/// m = g' (t = 1) or β₁m + g'; θ −= ηm. Returns the new ν.
pub fn novograd(p: &mut [f64], g: &[f64], m: &mut [f64], t: u32, nu: f64, h: &Novograd) -> f64 {
    let gs: Vec<f64> = g.iter().map(|&x| grad(x, h.grad_scale, h.maximize)).collect();
    let n2: f64 = gs.iter().map(|x| x * x).sum();
    let nu = if t == 1 { n2 } else { (1.0 - h.beta2) * n2 + h.beta2 * nu };
    for i in 0..p.len() {
        let gp = gs[i] / ((nu + h.eps_root).sqrt() + h.eps) + h.weight_decay * p[i];
        m[i] = if t == 1 { gp } else { h.beta1 * m[i] + gp };
        p[i] -= h.lr * m[i];
    }
    nu
}

/// StableAdamW on one tensor: debiased betas β̂ = (βᵗ − β)/(βᵗ − 1); r = max(1, √mean(g²/max(v, ε²)));
/// η' = η/r; θ ← θ(1 − η'λ) − η'm/(√v + ε).
pub fn stable_adamw(p: &mut [f64], g: &[f64], m: &mut [f64], v: &mut [f64], t: u32, h: &PoAdam) {
    let hat = |b: f64| (b.powi(t as i32) - b) / (b.powi(t as i32) - 1.0);
    let (b1, b2) = (hat(h.beta1), hat(h.beta2));
    let mut sum = 0.0;
    for i in 0..p.len() {
        let gi = grad(g[i], h.grad_scale, h.maximize);
        m[i] = b1 * m[i] + (1.0 - b1) * gi;
        v[i] = b2 * v[i] + (1.0 - b2) * gi * gi;
        sum += gi * gi / v[i].max(h.eps * h.eps);
    }
    let rms = if p.is_empty() { 0.0 } else { (sum / p.len() as f64).sqrt() };
    let lr = h.lr / rms.max(1.0);
    for i in 0..p.len() {
        p[i] = p[i] * (1.0 - lr * h.weight_decay) - lr * m[i] / (v[i].sqrt() + h.eps);
    }
}

/// MARS options beyond `PoAdam` (whose betas, decay and lr are the optimize_1d ones).
#[derive(Clone, Copy, Debug)]
pub struct Mars {
    pub gamma: f64,
    pub lion: bool,
    pub optimize_1d: bool,
    pub lr_1d_factor: f64,
    pub beta1_1d: f64,
    pub beta2_1d: f64,
    pub weight_decay_1d: f64,
}

/// MARS on one tensor (see the kernel's documentation).
#[allow(clippy::too_many_arguments)]
pub fn mars(
    p: &mut [f64],
    g: &[f64],
    m: &mut [f64],
    v: &mut [f64],
    last: &mut [f64],
    t: u32,
    h: &PoAdam,
    x: &Mars,
) {
    let (b1, b2, lr, wd) = if x.optimize_1d {
        (h.beta1, h.beta2, h.lr, h.weight_decay)
    } else {
        (x.beta1_1d, x.beta2_1d, h.lr * x.lr_1d_factor, x.weight_decay_1d)
    };
    let k = x.gamma * h.beta1 / (1.0 - h.beta1);
    let gs: Vec<f64> = g.iter().map(|&y| grad(y, h.grad_scale, h.maximize)).collect();
    let mut c: Vec<f64> = if x.optimize_1d {
        gs.iter().zip(last.iter()).map(|(gi, gp)| (gi - gp) * k + gi).collect()
    } else {
        gs.clone()
    };
    if x.optimize_1d {
        let norm = c.iter().map(|y| y * y).sum::<f64>().sqrt();
        if norm > 1.0 {
            c.iter_mut().for_each(|y| *y /= norm);
        }
    }
    for i in 0..p.len() {
        m[i] = b1 * m[i] + (1.0 - b1) * c[i];
        let u = if x.optimize_1d && x.lion {
            sign(m[i])
        } else {
            v[i] = b2 * v[i] + (1.0 - b2) * c[i] * c[i];
            m[i] / ((v[i].sqrt() + h.eps) / bc(b2, t).sqrt() * bc(b1, t))
        };
        p[i] = p[i] * (1.0 - lr * wd) - lr * u;
        last[i] = gs[i];
    }
}

/// Fromage on one tensor: max = p_bound‖θ‖ at t = 1; θ −= η(‖θ‖/‖g‖)g (or ηg); θ /= √(1+η²);
/// θ ← θ·max/‖θ‖ when above the bound. Returns `max`.
#[allow(clippy::too_many_arguments)]
pub fn fromage(
    p: &mut [f64],
    g: &[f64],
    t: u32,
    max: f64,
    (lr, p_bound): (f64, f64),
    maximize: bool,
    grad_scale: f64,
) -> f64 {
    let gs: Vec<f64> = g.iter().map(|&x| grad(x, grad_scale, maximize)).collect();
    let pn = p.iter().map(|x| x * x).sum::<f64>().sqrt();
    let gn = gs.iter().map(|x| x * x).sum::<f64>().sqrt();
    let max = if t == 1 && p_bound > 0.0 { p_bound * pn } else { max };
    let ratio = if pn > 0.0 && gn > 0.0 { pn / gn } else { 1.0 };
    for i in 0..p.len() {
        p[i] = (p[i] - lr * ratio * gs[i]) / (1.0 + lr * lr).sqrt();
    }
    if p_bound > 0.0 {
        let n = p.iter().map(|x| x * x).sum::<f64>().sqrt();
        if n > max {
            p.iter_mut().for_each(|x| *x *= max / n);
        }
    }
    max
}

/// CAME (1-D) hyperparameters beyond `PoAdam` (β₁, β₂ = eps-less second moment, λ forms).
#[derive(Clone, Copy, Debug)]
pub struct Came {
    pub eps1: f64,
    pub clip_threshold: f64,
}

/// CAME on one tensor: v = β₂v + (1−β₂)(g² + ε₁); u = 1/√v (ams: ŵ = max(ŵ, √v), u = 1/√(ŵ/β₂));
/// u ← ug/max(RMS(ug)/clip, 1); m = β₁m + (1−β₁)u; θ ← θ(1 − ηλ) − ηm. Returns RMS(θ) before.
#[allow(clippy::too_many_arguments)]
pub fn came(
    p: &mut [f64],
    g: &[f64],
    m: &mut [f64],
    v: &mut [f64],
    hat: &mut [f64],
    h: &PoAdam,
    x: &Came,
) -> f64 {
    let n = p.len() as f64;
    let rms_p = if p.is_empty() { 0.0 } else { (p.iter().map(|y| y * y).sum::<f64>() / n).sqrt() };
    let mut u = vec![0.0; p.len()];
    for i in 0..p.len() {
        let mut gi = grad(g[i], h.grad_scale, h.maximize);
        if !h.weight_decouple {
            gi += h.weight_decay * p[i];
        }
        v[i] = h.beta2 * v[i] + (1.0 - h.beta2) * (gi * gi + x.eps1);
        let mut r = 1.0 / v[i].sqrt();
        if h.amsgrad {
            hat[i] = hat[i].max(1.0 / r);
            r = 1.0 / (hat[i] / h.beta2).sqrt();
        }
        u[i] = r * gi;
    }
    let rms_u = if p.is_empty() { 0.0 } else { (u.iter().map(|y| y * y).sum::<f64>() / n).sqrt() };
    let div = (rms_u / x.clip_threshold).max(1.0);
    for i in 0..p.len() {
        m[i] = h.beta1 * m[i] + (1.0 - h.beta1) * u[i] / div;
        if h.weight_decouple && h.weight_decay != 0.0 {
            p[i] *= 1.0 - if h.fixed_decay { h.weight_decay } else { h.lr * h.weight_decay };
        }
        p[i] -= h.lr * m[i];
    }
    rms_p
}
