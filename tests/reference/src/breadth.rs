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
