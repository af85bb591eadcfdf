//! The source notes' figures: the paths of SGD, momentum, Nesterov, Adagrad, RMSProp and
//! Adam on a saddle point (`f = x² − y²`, started just off the ridge) and on a long narrow valley
//! (the elongated quadratic `f = ½(x² + 25y²)`, and Rosenbrock's banana), drawn over the
//! function. Every step is an optkern kernel on a 2-element parameter slice.
//!
//! `cargo run --release --example trajectories [-- --out target/demo]` writes
//! `saddle.svg`, `valley.svg` and `rosenbrock.svg`.

#[path = "common/plot.rs"]
mod plot;

use optkern::*;

type Grad = fn(f64, f64) -> (f64, f64);
/// File name, title, f, ∇f, start, bounds, learning rates of the six optimizers, steps.
type Figure = (
    &'static str,
    &'static str,
    fn(f64, f64) -> f64,
    Grad,
    (f64, f64),
    (f64, f64, f64, f64),
    [f64; 6],
    u32,
);

/// Runs `steps` steps of one optimizer from `start`; returns the path.
fn path(
    opt: &str,
    lr: f64,
    grad: Grad,
    start: (f64, f64),
    steps: u32,
) -> Result<Vec<(f64, f64)>, Error> {
    let mut p = [start.0 as f32, start.1 as f32];
    let mut s1 = [0.0f32; 2];
    let mut s2 = [0.0f32; 2];
    let mut ahead = [0.0f32; 2];
    let mut out = vec![start];
    let g_at = |p: &[f32; 2]| {
        let (gx, gy) = grad(f64::from(p[0]), f64::from(p[1]));
        [gx as f32, gy as f32]
    };
    for t in 1..=steps {
        let g = g_at(&p);
        match opt {
            "SGD" => sgd_step(&mut p, &g, &mut [], t, &SgdConfig { lr, ..Default::default() })?,
            "momentum" => momentum_step(
                &mut p,
                &g,
                &mut s1,
                &MomentumConfig { lr, momentum: 0.9, ..Default::default() },
            )?,
            "Nesterov" => {
                let cfg = MomentumConfig { lr, momentum: 0.9, ..Default::default() };
                nesterov_lookahead(&mut ahead, &p, &s1, &cfg)?;
                let g = g_at(&ahead);
                momentum_step(&mut p, &g, &mut s1, &cfg)?;
            }
            "Adagrad" => adagrad_step(
                &mut p,
                &g,
                &mut s1,
                t,
                &AdagradConfig { lr, ..AdagradConfig::textbook() },
            )?,
            "RMSProp" => rmsprop_step(
                &mut p,
                &g,
                &mut s1,
                &mut [],
                &mut [],
                &RmspropConfig { lr, ..RmspropConfig::textbook() },
            )?,
            "Adam" => adam_step(
                &mut p,
                &g,
                &mut s1,
                &mut s2,
                &mut [],
                t,
                &AdamConfig { lr, ..Default::default() },
            )?,
            _ => unreachable!(),
        }
        out.push((f64::from(p[0]), f64::from(p[1])));
    }
    Ok(out)
}

fn main() -> Result<(), Error> {
    let mut out_dir = "target/demo".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--out" {
            out_dir = args.next().expect("--out DIR");
        }
    }
    std::fs::create_dir_all(&out_dir).expect("output folder");
    let figures: [Figure; 3] = [
        (
            "saddle",
            "Saddle point f = x² − y², from (1, 0.001)",
            |x, y| x * x - y * y,
            |x, y| (2.0 * x, -2.0 * y),
            (1.0, 1e-3),
            (-1.2, 1.2, -1.2, 1.2),
            [0.02, 0.01, 0.01, 0.1, 0.01, 0.02],
            120,
        ),
        (
            "valley",
            "Long narrow valley f = ½(x² + 25y²), from (−4, 0.8)",
            |x, y| 0.5 * (x * x + 25.0 * y * y),
            |x, y| (x, 25.0 * y),
            (-4.0, 0.8),
            (-4.5, 1.0, -1.2, 1.2),
            [0.07, 0.01, 0.01, 0.5, 0.05, 0.1],
            100,
        ),
        (
            "rosenbrock",
            "Rosenbrock f = (1 − x)² + 100(y − x²)², from (−1.5, 2)",
            |x, y| (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2),
            |x, y| (-2.0 * (1.0 - x) - 400.0 * x * (y - x * x), 200.0 * (y - x * x)),
            (-1.5, 2.0),
            (-2.0, 2.0, -1.0, 3.0),
            [1e-3, 2e-4, 2e-4, 0.3, 0.01, 0.05],
            600,
        ),
    ];
    for (file, title, f, grad, start, bounds, lrs, steps) in figures {
        let mut paths = Vec::new();
        for (opt, lr) in
            ["SGD", "momentum", "Nesterov", "Adagrad", "RMSProp", "Adam"].into_iter().zip(lrs)
        {
            let p = path(opt, lr, grad, start, steps)?;
            let end = p.last().copied().unwrap_or(start);
            println!(
                "{file:>10} {opt:>9} (lr {lr}): f = {:10.4e} after {steps} steps at ({:.3}, {:.3})",
                f(end.0, end.1),
                end.0,
                end.1
            );
            paths.push((format!("{opt} (η = {lr})"), p));
        }
        let svg = plot::trajectories(title, &f, bounds, &paths);
        std::fs::write(format!("{out_dir}/{file}.svg"), svg).expect("write svg");
    }
    println!("figures: {out_dir}/saddle.svg, {out_dir}/valley.svg, {out_dir}/rosenbrock.svg");
    Ok(())
}
