//! The golden-next optimizer cases (`optim_*.jsonl` with a `source`: pytorch_optimizer, optax,
//! schedulefree, prodigyopt): the optkern kernel each package's class maps to, built from the
//! case's options with the package's defaults. Compared normwise within each case's `tol`
//! (golden-next README) by `run_optimizer_case`.

use super::{Golden, Options, Opts, vectors};
use optkern::AdoptConfig;

/// The `(lr, betas)` of a pytorch_optimizer case (`betas` a list of two).
fn betas(o: &mut Options, default: (f64, f64)) -> Result<(f64, f64), String> {
    o.pair("betas", default)
}

/// The optkern counterpart of the golden-next optimizer `name` from `source`.
pub fn optimizer(
    name: &str,
    source: &str,
    opts: &Opts,
    n: usize,
) -> Result<Box<dyn Golden>, String> {
    let mut o = Options::new(opts);
    let made: Box<dyn Golden> = match (source, name) {
        ("pytorch_optimizer.ADOPT", "ADOPT") => {
            let d = AdoptConfig::default();
            let (beta1, beta2) = betas(&mut o, (d.beta1, d.beta2))?;
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
            vectors(&["exp_avg", "exp_avg_sq"], n, move |p, g, b, t, lr| match b {
                [m, v] => optkern::adopt_step(p, g, m, v, t, &AdoptConfig { lr, ..cfg }),
                _ => unreachable!(),
            })
        }
        _ => return Err(format!("unknown optimizer `{name}` from `{source}`")),
    };
    o.finish()?;
    Ok(made)
}
