//! f32 bit models: every kernel's documented operation order (the `Torch` and `Portable`
//! orders in its rustdoc), one element at a time, in plain scalar f32. No SIMD, no optkern.
//!
//! The f64 references above check the mathematics; these check the *bits*: optkern must
//! equal its model exactly, on every build. `Portable` has no fused operation; `Torch` fuses
//! where its rustdoc says, with `f32::mul_add` (one rounding) on builds whose kernels fuse and
//! a multiply and an add on builds whose kernels do not (optkern's `FUSED_MUL_ADD`). Scalar
//! coefficients are computed in f64 and rounded once, as the rustdoc says (`c(x)`); powers
//! `βᵗ` in double-double arithmetic, rounded once (the correctly rounded power).
//!
//! The models take the same hyperparameter structs as the f64 references.

use crate::*;

/// Which operation order, and whether this build's kernels fuse `mul_add`.
#[derive(Clone, Copy, Debug)]
pub struct Ops {
    /// `Torch` (else `Portable`, or `Fast` with `fast`).
    pub torch: bool,
    /// The build fuses (`optkern::FUSED_MUL_ADD`).
    pub fused: bool,
    /// `Fast`: its reciprocal and square root (optkern's, as a primitive: the hardware
    /// estimates refined). `Fast` is Portable's expressions with every multiply-add fused on
    /// fusing builds and `p + a/d` computed as `fma(a, recip(d), p)`.
    pub fast: Option<Estimates>,
}

/// `Fast`'s reciprocal and square root of one value.
#[derive(Clone, Copy, Debug)]
pub struct Estimates {
    /// `≈ 1/x`.
    pub recip: fn(f32) -> f32,
    /// `≈ √x`.
    pub sqrt: fn(f32) -> f32,
}

impl Ops {
    /// `a·b + c`: one rounding in `Torch` and `Fast` on fusing builds, two otherwise.
    fn fma(self, a: f32, b: f32, c: f32) -> f32 {
        if (self.torch || self.fast.is_some()) && self.fused { a.mul_add(b, c) } else { a * b + c }
    }

    /// `torch.lerp(a, x, w)` (fused, two branches) in `Torch`.
    fn torch_lerp(self, a: f32, x: f32, w: f32) -> f32 {
        if w.abs() < 0.5 { self.fma(w, x - a, a) } else { self.fma(w - 1.0, x - a, x) }
    }

    /// `√x`: IEEE, or `Fast`'s.
    fn sqrt(self, x: f32) -> f32 {
        self.fast.map_or(x.sqrt(), |e| (e.sqrt)(x))
    }

    /// `a/d`: IEEE, or `Fast`'s `a·recip(d)`.
    fn div(self, a: f32, d: f32) -> f32 {
        self.fast.map_or(a / d, |e| a * (e.recip)(d))
    }

    /// `p + a/d`: IEEE, or `Fast`'s `fma(a, recip(d), p)`.
    fn add_div(self, p: f32, a: f32, d: f32) -> f32 {
        match self.fast {
            Some(e) => self.fma(a, (e.recip)(d), p),
            None => p + a / d,
        }
    }
}

/// `c(x)`: an f64 coefficient rounded once.
fn c(x: f64) -> f32 {
    x as f32
}

/// The gradient multiplier: `±grad_scale`.
fn scale(grad_scale: f64, maximize: bool) -> f32 {
    let s = grad_scale as f32;
    if maximize { -s } else { s }
}

/// `torch.sign`: `(x > 0) − (x < 0)`; `±0` and NaN give `+0`.
fn sign(x: f32) -> f32 {
    f32::from(u8::from(x > 0.0)) - f32::from(u8::from(x < 0.0))
}

/// `torch.maximum`: NaN if either is NaN, else the larger, the second on ties.
fn max_nan(a: f32, b: f32) -> f32 {
    if a.is_nan() || b.is_nan() {
        a + b
    } else if a > b {
        a
    } else {
        b
    }
}

/// `clamp(x, lo, hi)` as torch: NaN propagates.
fn clamp(x: f32, lo: f32, hi: f32) -> f32 {
    if x < lo {
        lo
    } else if x > hi {
        hi
    } else {
        x
    }
}

/// `baseᵗ` correctly rounded (double-double products, exact error terms by `mul_add`).
pub fn pow(base: f64, t: u32) -> f64 {
    let (mut hi, mut lo) = (1.0f64, 0.0f64);
    for _ in 0..t {
        let p = hi * base;
        let e = hi.mul_add(base, -p);
        lo = lo * base + e;
        hi = p;
    }
    hi + lo
}

/// The library's deterministic f64 sum (README, `grad_norm`): blocks of 4096 consecutive
/// indices; in a block, term `i` goes to accumulator `i mod 16`; each block's 16 sums are
/// combined by the pairwise tree (`a[i] += a[i + w]` for w = 8, 4, 2, 1); block sums are added
/// in order.
pub fn blocked_sum(terms: impl Iterator<Item = f64>) -> f64 {
    let terms: Vec<f64> = terms.collect();
    let mut total = 0.0;
    for block in terms.chunks(4096) {
        let mut a = [0.0f64; 16];
        for (i, x) in block.iter().enumerate() {
            a[i % 16] += x;
        }
        let mut w = 16;
        while w > 1 {
            w /= 2;
            for i in 0..w {
                a[i] += a[i + w];
            }
        }
        total += a[0];
    }
    total
}

fn square(x: f32) -> f64 {
    f64::from(x) * f64::from(x)
}

/// `torch.optim.SGD`.
pub fn sgd(o: Ops, p: &mut [f32], g: &[f32], buf: &mut [f32], first: bool, h: &Sgd) {
    let s = scale(h.grad_scale, h.maximize);
    for i in 0..p.len() {
        let mut gi = g[i] * s;
        if h.weight_decay != 0.0 {
            gi = o.fma(c(h.weight_decay), p[i], gi);
        }
        if h.momentum != 0.0 {
            buf[i] =
                if first { gi } else { o.fma(c(1.0 - h.dampening), gi, buf[i] * c(h.momentum)) };
            gi = if h.nesterov { o.fma(c(h.momentum), buf[i], gi) } else { buf[i] };
        }
        p[i] = o.fma(c(-h.lr), gi, p[i]);
    }
}

/// `torch.optim.Adam` / `AdamW`, AMSGrad, the ε̂ form.
#[allow(clippy::too_many_arguments)]
pub fn adam(
    o: Ops,
    p: &mut [f32],
    g: &[f32],
    m: &mut [f32],
    v: &mut [f32],
    vmax: &mut [f32],
    t: u32,
    h: &Adam,
) {
    let s = scale(h.grad_scale, h.maximize);
    let bc1 = 1.0 - pow(h.beta1, t);
    let bc2 = 1.0 - pow(h.beta2, t);
    let one_division = h.eps_hat || !o.torch;
    for i in 0..p.len() {
        let (mut param, mut gi) = (p[i], g[i] * s);
        if h.weight_decay != 0.0 {
            if h.decoupled {
                param *= c(1.0 - h.lr * h.weight_decay);
            } else {
                gi = o.fma(c(h.weight_decay), param, gi);
            }
        }
        m[i] = if o.torch {
            o.torch_lerp(m[i], gi, c(1.0 - h.beta1))
        } else {
            o.fma(m[i], c(h.beta1), c(1.0 - h.beta1) * gi)
        };
        v[i] = o.fma(c(1.0 - h.beta2) * gi, gi, v[i] * c(h.beta2));
        let u = if h.amsgrad {
            vmax[i] = max_nan(vmax[i], v[i]);
            vmax[i]
        } else {
            v[i]
        };
        p[i] = if one_division {
            let eps = if h.eps_hat { c(h.eps) } else { c(h.eps * bc2.sqrt()) };
            o.add_div(param, c(-h.lr * bc2.sqrt() / bc1) * m[i], o.sqrt(u) + eps)
        } else {
            param + (c(-h.lr / bc1) * m[i]) / (u.sqrt() / c(bc2.sqrt()) + c(h.eps))
        };
    }
}

/// Classic momentum (the source notes' form).
pub fn momentum(o: Ops, p: &mut [f32], g: &[f32], vel: &mut [f32], h: &Momentum) {
    for i in 0..p.len() {
        let mut gi = g[i] * (h.grad_scale as f32);
        if h.weight_decay != 0.0 {
            gi = o.fma(c(h.weight_decay), p[i], gi);
        }
        vel[i] = o.fma(c(h.lr), gi, vel[i] * c(h.momentum));
        p[i] -= vel[i];
    }
}

/// The look-ahead point `θ − αv`.
pub fn nesterov_lookahead(o: Ops, out: &mut [f32], p: &[f32], vel: &[f32], momentum: f64) {
    for i in 0..out.len() {
        out[i] = o.fma(c(-momentum), vel[i], p[i]);
    }
}

/// `torch.optim.Adagrad` (and ε inside the root).
pub fn adagrad(o: Ops, p: &mut [f32], g: &[f32], sum: &mut [f32], t: u32, h: &Adagrad) {
    let s = scale(h.grad_scale, h.maximize);
    let clr = h.lr / (1.0 + f64::from(t - 1) * h.lr_decay);
    for i in 0..p.len() {
        let mut gi = g[i] * s;
        if h.weight_decay != 0.0 {
            gi = o.fma(c(h.weight_decay), p[i], gi);
        }
        let old = if t == 1 { c(h.initial_accumulator_value) } else { sum[i] };
        sum[i] = o.fma(gi, gi, old);
        let std =
            if h.eps_inside_sqrt { o.sqrt(sum[i] + c(h.eps)) } else { o.sqrt(sum[i]) + c(h.eps) };
        p[i] = o.add_div(p[i], c(-clr) * gi, std);
    }
}

/// `torch.optim.RMSprop` (centered, momentum, ε inside the root). `buf` and `grad_avg` may be
/// empty when unused.
pub fn rmsprop(
    o: Ops,
    p: &mut [f32],
    g: &[f32],
    sq: &mut [f32],
    buf: &mut [f32],
    grad_avg: &mut [f32],
    h: &Rmsprop,
) {
    let s = scale(h.grad_scale, h.maximize);
    for i in 0..p.len() {
        let param = p[i];
        let mut gi = g[i] * s;
        if h.weight_decay != 0.0 {
            gi = o.fma(c(h.weight_decay), param, gi);
        }
        sq[i] = o.fma(c(1.0 - h.alpha) * gi, gi, sq[i] * c(h.alpha));
        let var = if h.centered {
            grad_avg[i] = if o.torch {
                o.torch_lerp(grad_avg[i], gi, c(1.0 - h.alpha))
            } else {
                grad_avg[i] * c(h.alpha) + gi * c(1.0 - h.alpha)
            };
            o.fma(-grad_avg[i], grad_avg[i], sq[i])
        } else {
            sq[i]
        };
        let avg = if h.eps_inside_sqrt { o.sqrt(var + c(h.eps)) } else { o.sqrt(var) + c(h.eps) };
        if h.momentum != 0.0 {
            buf[i] = o.add_div(buf[i] * c(h.momentum), gi, avg);
            p[i] = o.fma(c(-h.lr), buf[i], param);
        } else {
            p[i] = o.add_div(param, c(-h.lr) * gi, avg);
        }
    }
}

/// `torch.optim.Adamax`.
pub fn adamax(o: Ops, p: &mut [f32], g: &[f32], m: &mut [f32], u: &mut [f32], t: u32, h: &Adamax) {
    let s = scale(h.grad_scale, h.maximize);
    let bc1 = 1.0 - pow(h.beta1, t);
    for i in 0..p.len() {
        let param = p[i];
        let mut gi = g[i] * s;
        if h.weight_decay != 0.0 {
            gi = o.fma(c(h.weight_decay), param, gi);
        }
        m[i] = if o.torch {
            o.torch_lerp(m[i], gi, c(1.0 - h.beta1))
        } else {
            m[i] * c(h.beta1) + gi * c(1.0 - h.beta1)
        };
        u[i] = max_nan(u[i] * c(h.beta2), gi.abs() + c(h.eps));
        p[i] = param + (c(-h.lr / bc1) * m[i]) / u[i];
    }
}

/// `torch.optim.Adadelta`.
pub fn adadelta(o: Ops, p: &mut [f32], g: &[f32], sq: &mut [f32], acc: &mut [f32], h: &Adadelta) {
    let s = scale(h.grad_scale, h.maximize);
    let eps = c(h.eps);
    for i in 0..p.len() {
        let param = p[i];
        let mut gi = g[i] * s;
        if h.weight_decay != 0.0 {
            gi = o.fma(c(h.weight_decay), param, gi);
        }
        sq[i] = o.fma(c(1.0 - h.rho) * gi, gi, sq[i] * c(h.rho));
        let a = acc[i];
        let delta = if o.torch {
            ((a + eps).sqrt() / (sq[i] + eps).sqrt()) * gi
        } else {
            o.sqrt(o.div(a + eps, sq[i] + eps)) * gi
        };
        acc[i] = o.fma(c(1.0 - h.rho) * delta, delta, a * c(h.rho));
        p[i] = o.fma(c(-h.lr), delta, param);
    }
}

/// `(θ, g)` after L2 or decoupled weight decay (the Adam family).
fn decay(o: Ops, lr: f64, weight_decay: f64, decoupled: bool, param: f32, g: f32) -> (f32, f32) {
    match (weight_decay != 0.0, decoupled) {
        (false, _) => (param, g),
        (true, false) => (param, o.fma(c(weight_decay), param, g)),
        (true, true) => (param * c(1.0 - lr * weight_decay), g),
    }
}

/// `torch.optim.NAdam`, given the f32 `mu_product` torch holds before this step; returns the
/// new one.
#[allow(clippy::too_many_arguments)]
pub fn nadam(
    o: Ops,
    p: &mut [f32],
    g: &[f32],
    m: &mut [f32],
    v: &mut [f32],
    mu_product: f32,
    t: u32,
    h: &Nadam,
) -> f32 {
    let s = scale(h.grad_scale, h.maximize);
    let tf = f64::from(t);
    let bc2 = 1.0 - pow(h.beta2, t);
    let mu = h.beta1 * (1.0 - 0.5 * 0.96f64.powf(tf * h.momentum_decay));
    let mu_next = h.beta1 * (1.0 - 0.5 * 0.96f64.powf((tf + 1.0) * h.momentum_decay));
    let mu_product = mu_product * c(mu);
    let mp = f64::from(mu_product);
    let g_step = -h.lr * (1.0 - mu) / (1.0 - mp);
    let m_step = -h.lr * mu_next / (1.0 - mp * mu_next);
    for i in 0..p.len() {
        let (param, gi) = decay(o, h.lr, h.weight_decay, h.decoupled, p[i], g[i] * s);
        m[i] = if o.torch {
            o.torch_lerp(m[i], gi, c(1.0 - h.beta1))
        } else {
            o.fma(m[i], c(h.beta1), c(1.0 - h.beta1) * gi)
        };
        v[i] = o.fma(c(1.0 - h.beta2) * gi, gi, v[i] * c(h.beta2));
        p[i] = if o.torch {
            let d = (v[i] / c(bc2)).sqrt() + c(h.eps);
            let p1 = param + (c(g_step) * gi) / d;
            p1 + (c(m_step) * m[i]) / d
        } else {
            let num = o.fma(c(g_step * bc2.sqrt()), gi, c(m_step * bc2.sqrt()) * m[i]);
            o.add_div(param, num, o.sqrt(v[i]) + c(h.eps * bc2.sqrt()))
        };
    }
    mu_product
}

/// `torch.optim.RAdam`.
pub fn radam(o: Ops, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], t: u32, h: &Radam) {
    let s = scale(h.grad_scale, h.maximize);
    let tf = f64::from(t);
    let beta2_t = pow(h.beta2, t);
    let bc1 = 1.0 - pow(h.beta1, t);
    let bc2 = 1.0 - beta2_t;
    let rho_inf = 2.0 / (1.0 - h.beta2) - 1.0;
    let rho_t = rho_inf - 2.0 * tf * beta2_t / bc2;
    let rectified = rho_t > 5.0;
    let rect = if rectified {
        ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
            .sqrt()
    } else {
        1.0
    };
    for i in 0..p.len() {
        let (param, gi) = decay(o, h.lr, h.weight_decay, h.decoupled, p[i], g[i] * s);
        m[i] = if o.torch {
            o.torch_lerp(m[i], gi, c(1.0 - h.beta1))
        } else {
            o.fma(m[i], c(h.beta1), c(1.0 - h.beta1) * gi)
        };
        v[i] = o.fma(c(1.0 - h.beta2) * gi, gi, v[i] * c(h.beta2));
        p[i] = match (o.torch, rectified) {
            (true, true) => {
                let mhat = m[i] / c(bc1);
                let adaptive = (1.0 / (v[i].sqrt() + c(h.eps))) * c(bc2.sqrt());
                param - ((mhat * c(h.lr)) * adaptive) * c(rect)
            }
            (true, false) => param - (m[i] / c(bc1)) * c(h.lr),
            (false, true) => {
                let step = c(-h.lr * rect * bc2.sqrt() / bc1) * m[i];
                o.add_div(param, step, o.sqrt(v[i]) + c(h.eps))
            }
            (false, false) => o.fma(c(-h.lr / bc1), m[i], param),
        };
    }
}

/// `torch.optim.ASGD` with the scalar state `(η, μ)` torch holds before this step; returns the
/// state for the next step.
#[allow(clippy::too_many_arguments)]
pub fn asgd(
    o: Ops,
    p: &mut [f32],
    g: &[f32],
    ax: &mut [f32],
    eta: f32,
    mu: f32,
    t: u32,
    h: &Asgd,
) -> (f32, f32) {
    let s = scale(h.grad_scale, h.maximize);
    let decay = c(1.0 - h.lambd * f64::from(eta));
    for i in 0..p.len() {
        let mut gi = g[i] * s;
        if h.weight_decay != 0.0 {
            gi = o.fma(c(h.weight_decay), p[i], gi);
        }
        p[i] = o.fma(-eta, gi, p[i] * decay);
        ax[i] = if mu != 1.0 { ax[i] + (p[i] - ax[i]) * mu } else { p[i] };
    }
    let tf = f64::from(t);
    (c(h.lr / (1.0 + h.lambd * h.lr * tf).powf(h.alpha)), c(1.0 / (tf - h.t0).max(1.0)))
}

/// `torch.optim.Rprop`.
pub fn rprop(
    o: Ops,
    p: &mut [f32],
    g: &[f32],
    prev: &mut [f32],
    size: &mut [f32],
    t: u32,
    h: &Rprop,
) {
    let s = scale(h.grad_scale, h.maximize);
    let (etaminus, etaplus) = (c(h.etaminus), c(h.etaplus));
    for i in 0..p.len() {
        let gi = g[i] * s;
        let (old_prev, old_size) = if t == 1 { (0.0, c(h.lr)) } else { (prev[i], size[i]) };
        let prod = gi * old_prev;
        let factor = if prod > 0.0 {
            etaplus
        } else if prod < 0.0 {
            etaminus
        } else {
            1.0
        };
        size[i] = clamp(old_size * factor, c(h.step_size_min), c(h.step_size_max));
        let gi = if factor == etaminus { 0.0 } else { gi };
        prev[i] = gi;
        p[i] = o.fma(-sign(gi), size[i], p[i]);
    }
}

/// Lion (Chen et al. 2023).
pub fn lion(o: Ops, p: &mut [f32], g: &[f32], m: &mut [f32], h: &Lion) {
    let s = scale(h.grad_scale, h.maximize);
    for i in 0..p.len() {
        let gi = g[i] * s;
        let dir = sign(o.fma(c(1.0 - h.beta1), gi, m[i] * c(h.beta1)));
        let param =
            if h.weight_decay != 0.0 { p[i] * c(1.0 - h.lr * h.weight_decay) } else { p[i] };
        p[i] = o.fma(c(-h.lr), dir, param);
        m[i] = o.fma(c(1.0 - h.beta2), gi, m[i] * c(h.beta2));
    }
}

/// LAMB (You et al. 2020): the moments and the norms in a first pass, the update (from the
/// stored moments) in a second.
pub fn lamb(o: Ops, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], t: u32, h: &Lamb) {
    let s = scale(h.grad_scale, h.maximize);
    let bc1 = 1.0 - pow(h.beta1, t);
    let bc2 = 1.0 - pow(h.beta2, t);
    let direction = |mi: f32, vi: f32, pi: f32| {
        let adam = if o.torch {
            (mi / c(bc1)) / ((vi / c(bc2)).sqrt() + c(h.eps))
        } else {
            o.div(c(bc2.sqrt() / bc1) * mi, o.sqrt(vi) + c(h.eps * bc2.sqrt()))
        };
        o.fma(c(h.weight_decay), pi, adam)
    };
    let mut r = vec![0.0f32; p.len()];
    for i in 0..p.len() {
        let gi = g[i] * s;
        m[i] = o.fma(c(1.0 - h.beta1), gi, m[i] * c(h.beta1));
        v[i] = o.fma(c(1.0 - h.beta2) * gi, gi, v[i] * c(h.beta2));
        r[i] = direction(m[i], v[i], p[i]);
    }
    let p_norm = blocked_sum(p.iter().map(|&x| square(x))).sqrt();
    let r_norm = blocked_sum(r.iter().map(|&x| square(x))).sqrt();
    let trust = if p_norm > 0.0 && r_norm > 0.0 { p_norm / r_norm } else { 1.0 };
    let step = c(-h.lr * trust);
    for i in 0..p.len() {
        p[i] = o.fma(step, direction(m[i], v[i], p[i]), p[i]);
    }
}

/// LARS (You et al. 2017).
pub fn lars(o: Ops, p: &mut [f32], g: &[f32], vel: &mut [f32], h: &Lars) {
    let s = scale(h.grad_scale, h.maximize);
    let p_norm = blocked_sum(p.iter().map(|&x| square(x))).sqrt();
    let g_norm = blocked_sum(g.iter().map(|&x| square(x * s))).sqrt();
    let local = if p_norm > 0.0 && g_norm > 0.0 {
        h.trust_coefficient * p_norm / (g_norm + h.weight_decay * p_norm + h.eps)
    } else {
        1.0
    };
    let step = c(h.lr * local);
    for i in 0..p.len() {
        let d = o.fma(c(h.weight_decay), p[i], g[i] * s);
        vel[i] = o.fma(step, d, vel[i] * c(h.momentum));
        p[i] -= vel[i];
    }
}

/// Adafactor's shared pieces: the lerp weight `tᶜ` and the update `u = g/√max(V̂, ε₁²)`.
struct AdafactorCoef {
    w: f64,
    eps1: f32,
}

impl AdafactorCoef {
    fn new(t: u32, h: &Adafactor) -> Self {
        Self { w: f64::from(t).powf(h.beta2_decay), eps1: c(h.eps1) }
    }
    fn lerp(&self, o: Ops, var: f32, x: f32) -> f32 {
        if o.torch {
            o.torch_lerp(var, x, c(self.w))
        } else {
            var * c(1.0 - self.w) + x * c(self.w)
        }
    }
    fn update(&self, o: Ops, h: &Adafactor, var_est: f32, g: f32) -> f32 {
        let floor = max_nan(var_est, c(h.eps1 * h.eps1)).sqrt();
        if o.torch { (1.0 / floor) * g } else { g / floor }
    }
    /// `c(−α/denom)` from `Σθ²` and `Σu²` (the norms rounded to f32 first, as torch's).
    fn step(&self, h: &Adafactor, t: u32, p_sq: f64, u_sq: f64, n: usize) -> f32 {
        let sqrt_n = (n as f64).sqrt();
        let p_norm = f64::from(p_sq.sqrt() as f32);
        let u_norm = f64::from(u_sq.sqrt() as f32);
        let rho = h.lr.min(1.0 / f64::from(t).sqrt());
        let alpha = h.eps2.max(p_norm / sqrt_n) * rho;
        c(-alpha / (u_norm / (sqrt_n * h.d)).max(1.0))
    }
    fn decayed(&self, h: &Adafactor, param: f32) -> f32 {
        if h.weight_decay != 0.0 { param * c(1.0 - h.lr * h.weight_decay) } else { param }
    }
}

/// `torch.optim.Adafactor` on a vector.
pub fn adafactor(o: Ops, p: &mut [f32], g: &[f32], var: &mut [f32], t: u32, h: &Adafactor) {
    let s = scale(h.grad_scale, h.maximize);
    let k = AdafactorCoef::new(t, h);
    let mut u = vec![0.0f32; p.len()];
    for i in 0..p.len() {
        let gi = g[i] * s;
        var[i] = k.lerp(o, var[i], gi * gi);
        u[i] = k.update(o, h, var[i], gi);
    }
    let p_sq = blocked_sum(p.iter().map(|&x| square(x)));
    let u_sq = blocked_sum(u.iter().map(|&x| square(x)));
    let step = k.step(h, t, p_sq, u_sq, p.len());
    for i in 0..p.len() {
        p[i] = o.fma(step, u[i], k.decayed(h, p[i]));
    }
}

/// `torch.optim.Adafactor` on a `rows × cols` matrix (factored second moments).
#[allow(clippy::too_many_arguments)]
pub fn adafactor_factored(
    o: Ops,
    p: &mut [f32],
    g: &[f32],
    row: &mut [f32],
    col: &mut [f32],
    rows: usize,
    cols: usize,
    t: u32,
    h: &Adafactor,
) {
    let s = scale(h.grad_scale, h.maximize);
    let k = AdafactorCoef::new(t, h);
    // `c(√Σ)²/count` in f32, as torch's `vector_norm(...).square_().div_(count)`.
    let mean_square = |sum: f64, count: usize| {
        let norm = sum.sqrt() as f32;
        (norm * norm) / count as f32
    };
    for r in 0..rows {
        let sum = blocked_sum(g[r * cols..(r + 1) * cols].iter().map(|&x| square(x * s)));
        row[r] = k.lerp(o, row[r], mean_square(sum, cols));
    }
    for cc in 0..cols {
        // Column sums in plain row order (the rustdoc: f64 accumulators in row order).
        let sum: f64 = (0..rows).map(|r| square(g[r * cols + cc] * s)).fold(0.0, |a, x| a + x);
        col[cc] = k.lerp(o, col[cc], mean_square(sum, rows));
    }
    let row_mean = max_nan(c(blocked_sum(row.iter().map(|&x| f64::from(x))) / rows as f64), k.eps1);
    let p_sq = blocked_sum(p.iter().map(|&x| square(x)));
    let n = rows * cols;
    let est = |i: usize| (row[i / cols] * col[i % cols]) / row_mean;
    let u: Vec<f32> = (0..n).map(|i| k.update(o, h, est(i), g[i] * s)).collect();
    let u_sq = blocked_sum(u.iter().map(|&x| square(x)));
    let step = k.step(h, t, p_sq, u_sq, n);
    for i in 0..n {
        p[i] = o.fma(step, u[i], k.decayed(h, p[i]));
    }
}

/// SWA: a copy for `k = 0`; `a + (x − a)/f32(k + 1)`, or torch's lerp with weight
/// `1/f32(k + 1)`.
pub fn swa(o: Ops, a: &mut [f32], x: &[f32], k: u64, h: &Swa) {
    let count = k as f32 + 1.0;
    for i in 0..a.len() {
        a[i] = match (k, h.lerp) {
            (0, _) => x[i],
            (_, false) => a[i] + (x[i] - a[i]) / count,
            (_, true) => o.torch_lerp(a[i], x[i], 1.0 / count),
        };
    }
}

/// EMA: a copy while the decay is 0; torch's lerp with weight `c(1 − δ)`, or
/// `c(δ)·a + c(1 − δ)·x` (never fused).
pub fn ema(o: Ops, a: &mut [f32], x: &[f32], step: u32, h: &Ema) {
    let d = ema_decay(h, step);
    for i in 0..a.len() {
        a[i] = match (d == 0.0, h.products) {
            (true, _) => x[i],
            (false, false) => o.torch_lerp(a[i], x[i], c(1.0 - d)),
            (false, true) => c(d) * a[i] + c(1.0 - d) * x[i],
        };
    }
}

/// SparseAdam: torch's coalesced rows (copies summed in f32 in order of appearance), then per
/// element `um = (g − m)·c(1−β₁)`, `m + um`, `uv = (g² − v)·c(1−β₂)`, `v + uv`,
/// `θ + ((um + m)/(√(uv + v) + c(ε)))·c(−step)`, never fused.
#[allow(clippy::too_many_arguments)]
pub fn sparse_adam(
    p: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    cols: usize,
    indices: &[usize],
    values: &[f32],
    t: u32,
    h: &SparseAdam,
) {
    let s = scale(h.grad_scale, h.maximize);
    let step = h.lr * (1.0 - pow(h.beta2, t)).sqrt() / (1.0 - pow(h.beta1, t));
    for (r, g) in coalesce(indices, values, cols) {
        for (col, &gc) in g.iter().enumerate() {
            let i = r * cols + col;
            let g = gc * s;
            let um = (g - m[i]) * c(1.0 - h.beta1);
            let uv = (g * g - v[i]) * c(1.0 - h.beta2);
            let (m_old, v_old) = (m[i], v[i]);
            m[i] = m_old + um;
            v[i] = v_old + uv;
            p[i] += ((um + m_old) / ((uv + v_old).sqrt() + c(h.eps))) * c(-step);
        }
    }
}

/// GEMM's documented order: per element, block sums over `k` in blocks of `kc` (one fused
/// chain from 0 each), `α·s₀ + β·C` (`α·s₀` for β = 0), then `C + α·s_b`.
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    o: Ops,
    c: &mut [f32],
    ldc: usize,
    a: &[f32],
    lda: usize,
    trans_a: bool,
    b: &[f32],
    ldb: usize,
    trans_b: bool,
    [m, n, k]: [usize; 3],
    alpha: f32,
    beta: f32,
    kc: usize,
) {
    for i in 0..m {
        for j in 0..n {
            let cij = &mut c[i * ldc + j];
            if k == 0 {
                *cij = if beta == 0.0 { 0.0 } else { beta * *cij };
                continue;
            }
            for (block, p0) in (0..k).step_by(kc).enumerate() {
                let mut s = 0.0f32;
                for p in p0..k.min(p0 + kc) {
                    let x = if trans_a { a[p * lda + i] } else { a[i * lda + p] };
                    let y = if trans_b { b[j * ldb + p] } else { b[p * ldb + j] };
                    s = o.fma(x, y, s);
                }
                *cij = if block > 0 {
                    o.fma(alpha, s, *cij)
                } else if beta == 0.0 {
                    alpha * s
                } else {
                    o.fma(beta, *cij, alpha * s)
                };
            }
        }
    }
}

/// `x` rounded to the nearest bf16 (ties to even), NaN kept (quiet): the top 16 bits after
/// adding `0x7FFF` plus the lowest kept bit.
pub fn bf16(x: f32) -> f32 {
    if x.is_nan() {
        return f32::from_bits((x.to_bits() | 0x0040_0000) & 0xFFFF_0000);
    }
    let b = x.to_bits();
    f32::from_bits(b.wrapping_add(0x7FFF + ((b >> 16) & 1)) & 0xFFFF_0000)
}

/// Muon's documented f32 order: torch's lerps for the momentum, `X` (transposed when
/// rows > cols), `X / c(max(‖X‖, ε))` with the norm a blocked f64 sum, the quintic through
/// [`gemm`]'s order (`A = X·Xᵀ`; `C = gemm(α = c, β = b)` on `A`; `X = gemm(β = a)` on `X`),
/// then `θ ← fma(c(−η·ratio), O, θ·c(1 − ηλ))`.
pub fn muon(o: Ops, p: &mut [f32], g: &[f32], b: &mut [f32], rows: usize, cols: usize, h: &Muon) {
    let s = h.grad_scale as f32;
    let g: Vec<f32> = g.iter().map(|x| x * s).collect();
    let w = c(1.0 - h.momentum);
    for i in 0..b.len() {
        b[i] = o.torch_lerp(b[i], g[i], w);
    }
    let u: Vec<f32> = if h.nesterov {
        g.iter().zip(b.iter()).map(|(&gi, &bi)| o.torch_lerp(gi, bi, c(h.momentum))).collect()
    } else {
        b.to_vec()
    };
    let t = rows > cols;
    let (m, n) = (rows.min(cols), rows.max(cols));
    let mut x: Vec<f32> =
        if t { (0..m * n).map(|idx| u[(idx % n) * cols + idx / n]).collect() } else { u };
    // NsPrecision::Bf16: X, the norm, X / d and every product rounded to bf16.
    let round = |v: &mut [f32]| {
        if h.bf16 {
            v.iter_mut().for_each(|x| *x = bf16(*x));
        }
    };
    round(&mut x);
    let norm = c(blocked_sum(x.iter().map(|&v| f64::from(v) * f64::from(v))).sqrt());
    let norm = if h.bf16 { bf16(norm) } else { norm };
    let d = norm.max(c(h.eps));
    x.iter_mut().for_each(|v| *v /= d);
    round(&mut x);
    let [a, bb, cc] = h.ns.map(c);
    let kc = 256;
    for _ in 0..h.ns_steps {
        let mut gram = vec![0.0f32; m * m];
        gemm(o, &mut gram, m, &x, n, false, &x, n, true, [m, m, n], 1.0, 0.0, kc);
        round(&mut gram);
        let mut cm = gram.clone();
        gemm(o, &mut cm, m, &gram, m, false, &gram, m, false, [m, m, m], cc, bb, kc);
        round(&mut cm);
        let mut xn = x.clone();
        gemm(o, &mut xn, n, &cm, m, false, &x, n, false, [m, n, m], 1.0, a, kc);
        round(&mut xn);
        x = xn;
    }
    let out: Vec<f32> =
        if t { (0..rows * cols).map(|idx| x[(idx % cols) * n + idx / cols]).collect() } else { x };
    let decay = c(1.0 - h.lr * h.weight_decay);
    let neg = c(-(h.lr * h.lr_ratio));
    for i in 0..p.len() {
        p[i] = o.fma(neg, out[i], p[i] * decay);
    }
}
