//! f64 reference implementations of optkern's kernels, written straight from the equations in
//! the PyTorch documentation and the source notes. Scalar loops, no SIMD, no FMA, no
//! dependencies, and no `use optkern`: a bug cannot be shared with the library.
//!
//! Each optimizer takes plain scalars rather than optkern's config structs (so a wrong
//! `Default` in optkern cannot hide), and has an `accepts_*` function that decides validity
//! independently (used by the error tests and the fuzzers).

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
        let mhat = m[i] / bc1;
        let vhat = u / bc2;
        p[i] -= h.lr * mhat / (vhat.sqrt() + h.eps);
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
