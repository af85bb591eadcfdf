//! Softmax cross-entropy (the surrogate loss) with its gradient, and the 0-1 loss.

use crate::{Error, validate};

/// How per-row losses are reduced (`torch.nn.functional.cross_entropy`'s `reduction`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Reduction {
    /// Weighted mean over the non-ignored rows (divided by the sum of their target weights).
    Mean = 0,
    /// Sum over rows.
    Sum = 1,
    /// No reduction: per-row losses.
    None = 2,
}

/// Options of [`cross_entropy`]; [`Default`] is torch's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CrossEntropyConfig<'a> {
    /// Default [`Reduction::Mean`].
    pub reduction: Reduction,
    /// Label smoothing `ε` in `[0, 1]`. Default `0`.
    pub label_smoothing: f64,
    /// Rows whose target equals this contribute nothing. Default `−100`.
    pub ignore_index: i64,
    /// Class weights `w` (length `C`, finite), or `None` for all ones.
    pub weight: Option<&'a [f32]>,
}

impl Default for CrossEntropyConfig<'_> {
    fn default() -> Self {
        Self { reduction: Reduction::Mean, label_smoothing: 0.0, ignore_index: -100, weight: None }
    }
}

/// Softmax cross-entropy of row-major `B × C` `logits` (`C = classes`, `B = targets.len()`)
/// against integer `targets`, as `torch.nn.functional.cross_entropy`; returns the reduced loss
/// and optionally writes per-row losses and the gradient.
///
/// With `lp = log_softmax(x_b)`, `y = targets[b]`, `ε = label_smoothing`:
/// ```text
/// nll_b    = −w_y·lp_y                 smooth_b = −Σ_c w_c·lp_c        (0 for ignored rows)
/// loss_b   = (1 − ε)·nll_b + ε/C·smooth_b
/// Mean:  L = ((1 − ε)·Σ nll_b + ε/C·Σ smooth_b) / Σ_{b not ignored} w_{y_b}   (NaN if all ignored)
/// Sum:   L = Σ loss_b                  None: L = Σ loss_b, per-row loss_b in `losses`
/// ∂L/∂x_bc = a_c − softmax_c·Σ_j a_j,  a_c = −((1 − ε)·w_y·[c = y] + ε/C·w_c)/D
/// ```
/// (`D` the Mean denominator, 1 otherwise). Each row is computed in f64 from its maximum
/// (stable for logits of ±1e4) and rounded to f32 once, so the result does not depend on any
/// lane width. `losses` is empty or `B` long (per-row `loss_b`, 0 for ignored rows); `grad` is
/// empty or `B·C` long (the gradient of the returned `L`). No scratch is needed.
///
/// # Errors
/// [`Error::LengthMismatch`] if `logits` is not `B·C` long, `weight` not `C`, `losses` not 0
/// or `B`, `grad` not 0 or `B·C`; [`Error::InvalidHyperparameter`] if `classes` is 0,
/// `label_smoothing` is outside `[0, 1]`, a weight is not finite, or a target is neither in
/// `0..C` nor `ignore_index` (named `"targets"`). Nothing is written on `Err`.
pub fn cross_entropy(
    logits: &[f32],
    targets: &[i64],
    classes: usize,
    cfg: &CrossEntropyConfig<'_>,
    losses: &mut [f32],
    grad: &mut [f32],
) -> Result<f32, Error> {
    let b = targets.len();
    if classes == 0 {
        return Err(validate::out_of_range("classes", 0.0));
    }
    let n = b.saturating_mul(classes);
    validate::len("logits", n, logits.len())?;
    if let Some(w) = cfg.weight {
        validate::len("weight", classes, w.len())?;
        for &x in w {
            validate::finite("weight", f64::from(x))?;
        }
    }
    validate::optional_len("losses", false, b, losses.len())?;
    validate::optional_len("grad", false, n, grad.len())?;
    let ls = validate::unit_closed("label_smoothing", cfg.label_smoothing)?;
    for &t in targets {
        if t != cfg.ignore_index && !(0..classes as i64).contains(&t) {
            return Err(validate::out_of_range("targets", t as f64));
        }
    }
    // Indices below are in range (checked above); `get` keeps panic paths out of the C library.
    let weight = |c: usize| cfg.weight.and_then(|w| w.get(c)).map_or(1.0, |&w| f64::from(w));
    let smooth = ls / classes as f64;
    // Mean denominator: the sum of the targets' weights over non-ignored rows.
    let denom = match cfg.reduction {
        Reduction::Mean => targets
            .iter()
            .filter(|&&t| t != cfg.ignore_index)
            .map(|&t| weight(t as usize))
            .sum::<f64>(),
        _ => 1.0,
    };
    let mut total = 0.0f64;
    for (row, (&t, x)) in targets.iter().zip(logits.chunks_exact(classes.max(1))).enumerate() {
        let ignored = t == cfg.ignore_index;
        let max = x.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(f64::from(v)));
        let sum_exp: f64 = x.iter().map(|&v| libm::exp(f64::from(v) - max)).sum();
        let log_z = max + libm::log(sum_exp);
        let row_loss = if ignored {
            0.0
        } else {
            let y = t as usize;
            let xy = x.get(y).map_or(f64::NAN, |&v| f64::from(v));
            let nll = -weight(y) * (xy - log_z);
            let sm: f64 =
                x.iter().enumerate().map(|(c, &v)| -weight(c) * (f64::from(v) - log_z)).sum();
            (1.0 - ls) * nll + smooth * sm
        };
        total += row_loss;
        if let Some(l) = losses.get_mut(row) {
            *l = row_loss as f32;
        }
        if let Some(g) = grad.get_mut(row * classes..(row + 1) * classes) {
            if ignored {
                g.fill(0.0);
                continue;
            }
            let y = t as usize;
            let a = |c: usize| {
                let hit = if c == y { (1.0 - ls) * weight(y) } else { 0.0 };
                -(hit + smooth * weight(c)) / denom
            };
            let sum_a: f64 = (0..classes).map(a).sum();
            for (c, (gc, &xc)) in g.iter_mut().zip(x).enumerate() {
                let p = libm::exp(f64::from(xc) - log_z);
                *gc = (a(c) - p * sum_a) as f32;
            }
        }
    }
    Ok((total / denom) as f32)
}

/// The number of rows whose largest logit (the first one on ties; a row with a NaN never
/// counts) is the target: `accuracy = correct/B`, the 0-1 loss is `1 − accuracy`.
///
/// # Errors
/// [`Error::LengthMismatch`] if `logits` is not `targets.len()·classes` long;
/// [`Error::InvalidHyperparameter`] if `classes` is 0.
pub fn correct_predictions(
    logits: &[f32],
    targets: &[i64],
    classes: usize,
) -> Result<usize, Error> {
    if classes == 0 {
        return Err(validate::out_of_range("classes", 0.0));
    }
    validate::len("logits", targets.len().saturating_mul(classes), logits.len())?;
    Ok(targets
        .iter()
        .zip(logits.chunks_exact(classes.max(1)))
        .filter(|&(&t, x)| {
            if x.iter().any(|v| v.is_nan()) {
                return false;
            }
            let Some(&first) = x.first() else { return false };
            let (mut best, mut best_v) = (0, first);
            for (c, &v) in x.iter().enumerate().skip(1) {
                if v > best_v {
                    (best, best_v) = (c, v);
                }
            }
            best as i64 == t
        })
        .count())
}
