//! Lookahead (Zhang et al. 2019, "Lookahead Optimizer: k steps forward, 1 step back"): every
//! `k` steps of any optkern optimizer (the fast weights), pull them towards the slow weights
//! and make that the new slow point — as `pytorch_optimizer.Lookahead` 4.1 and `Ranger`.

use crate::numerics::Numerics;
use crate::optim::rule::{Ema, Toward, run_rule};
use crate::{Error, Width, validate};

/// Lookahead's synchronisation, every `k` steps of the inner optimizer: updates `fast` (the
/// parameters) and `slow` (start it as a copy of the initial parameters) in place:
/// ```text
/// θ ← α·θ + (1 − α)·φ     (φ: the slow weights; torch's lerp(θ, φ, 1 − α))
/// φ ← θ
/// ```
/// (one fused pass, then a copy). The package's `pullback_momentum = "pullback"` is the same
/// call on the inner optimizer's momentum buffer and its slow copy; `"reset"` zeroes the
/// momentum buffer instead.
///
/// # Errors
/// [`Error::LengthMismatch`] (`slow`), [`Error::InvalidHyperparameter`] (`alpha` not in
/// `[0, 1]`, `numerics`). **Nothing is written when an error is returned.**
pub fn lookahead_sync(
    fast: &mut [f32],
    slow: &mut [f32],
    alpha: f64,
    numerics: Numerics,
) -> Result<(), Error> {
    lookahead_sync_with(Width::NATIVE, fast, slow, alpha, numerics)
}

/// [`lookahead_sync`] at an explicit lane width (tests, benches).
#[doc(hidden)]
pub fn lookahead_sync_with(
    width: Width,
    fast: &mut [f32],
    slow: &mut [f32],
    alpha: f64,
    numerics: Numerics,
) -> Result<(), Error> {
    validate::len("slow", fast.len(), slow.len())?;
    let alpha = validate::unit_closed("alpha", alpha)?;
    validate::numerics(numerics, &[])?;
    let rule = Toward { ema: Ema::toward(1.0 - alpha, alpha), numerics };
    run_rule(&rule, width, [&mut *fast], slow);
    crate::slices::copy(slow, fast);
    Ok(())
}
