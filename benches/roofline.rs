//! Cache-resident speed against each kernel's own compute limit, in one interleaved run.
//!
//! For every update kernel and profile, at 4 Ki elements (L1/L2) by default, three loops are
//! timed round-robin (so that drift on a shared machine hits all three alike) and the median
//! of the rounds is reported:
//! - `optkern`: the kernel at the native width (the public entry point's);
//! - `limit`: a loop with the kernel's traffic (the same-traffic baseline `s += g` on every
//!   buffer) *and* its divisions and square roots per element, on independent values
//!   (`p += g/d; d += c` per division, `d = √d + c` per root): the speed of the divide/sqrt
//!   unit and the memory it shares with nothing else;
//! - `baseline`: the same-traffic baseline alone.
//!
//! `× limit` = optkern ÷ limit; the kernel is "div/sqrt"-bound where the limit is well above
//! the baseline, else "traffic"-bound. For Adam the scalar loop a user would write (three
//! divisions and a root, as the C loop in `benches/c/adam_loop.c`) is timed too.
//!
//! `RUSTFLAGS="-C target-cpu=native" cargo bench --bench roofline`
//! (`OPTKERN_ROOFLINE_N` elements, `OPTKERN_ROOFLINE_ROUNDS` rounds, `OPTKERN_ROOFLINE_KERNEL` one kernel, `OPTKERN_ROOFLINE_WIDTH` lanes, `OPTKERN_ROOFLINE_X1=0` no one-lane column; `--test` runs one short
//! round as a smoke test).

use optkern::*;
use std::hint::black_box;
use std::time::Instant;
use wide::f32x8;

// Shared with `benches/optim.rs`, which uses the rest of it.
#[allow(dead_code)]
mod common;
use common::{baseline, input, kernels};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// The same-traffic baseline (`s += g` on every buffer, one pass) with `D` divisions and `S`
/// square roots per element added to the first buffer's update, their divisor derived from the
/// second buffer: `d = |m| + c`, `d ← √d + c` per root, `p += g/d; d += c` per division.
fn limit<const D: usize, const S: usize, const E: usize>(muts: &mut [Vec<f32>], g: &[f32]) {
    let c = f32x8::splat(1e-3);
    let [first, second, others @ ..] = muts else { panic!("two buffers at least") };
    let mut others: [&mut [[f32; 8]]; E] = others
        .iter_mut()
        .map(|s| s.as_chunks_mut::<8>().0)
        .collect::<Vec<_>>()
        .try_into()
        .expect("E other buffers");
    let g8 = g.as_chunks::<8>().0;
    let p8 = first.as_chunks_mut::<8>().0;
    let m8 = &mut second.as_chunks_mut::<8>().0[..p8.len()];
    let g8 = &g8[..p8.len()];
    for o in others.iter_mut() {
        *o = &mut std::mem::take(o)[..p8.len()];
    }
    for i in 0..p8.len() {
        let (gg, mm) = (f32x8::new(g8[i]), f32x8::new(m8[i]));
        let (mut x, mut d) = (f32x8::new(p8[i]) + gg, mm.abs() + c);
        for _ in 0..S {
            d = d.sqrt() + c;
        }
        for _ in 0..D {
            x += gg / d;
            d += c;
        }
        p8[i] = x.to_array();
        m8[i] = (mm + gg).to_array();
        for o in others.iter_mut() {
            o[i] = (f32x8::new(o[i]) + gg).to_array();
        }
    }
}

/// The limit loop of a one-buffer kernel (the weight averages: `a` read and written, the
/// parameters read as `g`), with `D` divisions and `S` square roots on a divisor from `g`.
fn limit_one<const D: usize, const S: usize>(muts: &mut [Vec<f32>], g: &[f32]) {
    let c = f32x8::splat(1e-3);
    let [first] = muts else { panic!("one buffer") };
    let a8 = first.as_chunks_mut::<8>().0;
    let g8 = &g.as_chunks::<8>().0[..a8.len()];
    for i in 0..a8.len() {
        let gg = f32x8::new(g8[i]);
        let (mut x, mut d) = (f32x8::new(a8[i]) + gg, gg.abs() + c);
        for _ in 0..S {
            d = d.sqrt() + c;
        }
        for _ in 0..D {
            x += gg / d;
            d += c;
        }
        a8[i] = x.to_array();
    }
}

fn limit_for(div_sqrt: (u32, u32), buffers: usize) -> fn(&mut [Vec<f32>], &[f32]) {
    macro_rules! pick {
        ($($d:literal, $s:literal);*) => {
            match (div_sqrt, buffers) {
                $(
                    (($d, $s), 1) => limit_one::<$d, $s>,
                    (($d, $s), 2) => limit::<$d, $s, 0>,
                    (($d, $s), 3) => limit::<$d, $s, 1>,
                    (($d, $s), 4) => limit::<$d, $s, 2>,
                    (($d, $s), 5) => limit::<$d, $s, 3>,
                )*
                other => panic!("no limit loop for {other:?}"),
            }
        };
    }
    pick!(0, 0; 1, 0; 1, 1; 1, 2; 2, 0; 2, 1; 2, 2; 3, 0; 3, 1)
}

/// The Adam loop as a user would write it (as `benches/c/adam_loop.c`).
fn adam_scalar(s: &mut [Vec<f32>], g: &[f32]) {
    let [p, m, v] = s else { unreachable!() };
    let n = p.len();
    let (g, m, v) = (&g[..n], &mut m[..n], &mut v[..n]);
    let (lr, b1, b2, eps) = (1e-3f32, 0.9f32, 0.999f32, 1e-8f32);
    let (bc1, bc2) = (1.0 - b1.powi(10), 1.0 - b2.powi(10));
    for i in 0..p.len() {
        m[i] = b1 * m[i] + (1.0 - b1) * g[i];
        v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
        p[i] -= lr * (m[i] / bc1) / ((v[i] / bc2).sqrt() + eps);
    }
}

/// The kernels with a [`Numerics::Fast`] form (the others refuse it). In that profile the
/// `limit` column is still the IEEE divider's: `× limit` below 1 is the gain past it.
const FAST_KERNELS: [&str; 7] =
    ["adam", "adagrad", "rmsprop", "adadelta", "nadam", "radam", "lamb"];

type Loop<'a> = Box<dyn Fn(&mut [Vec<f32>], &[f32]) + 'a>;

fn median(mut x: Vec<f64>) -> f64 {
    x.sort_by(f64::total_cmp);
    x[x.len() / 2]
}

fn main() {
    let smoke = std::env::args().any(|a| a == "--test");
    let n = env("OPTKERN_ROOFLINE_N", 4096);
    let rounds = if smoke { 1 } else { env("OPTKERN_ROOFLINE_ROUNDS", 21) };
    // About 5 ms per timing (one iteration in the smoke test).
    let iters = if smoke { 1 } else { (5_000_000 / n).max(1) };
    let only = std::env::var("OPTKERN_ROOFLINE_KERNEL").ok();
    // The public entry point's width unless overridden.
    let width = match env("OPTKERN_ROOFLINE_WIDTH", 0) {
        0 => None,
        1 => Some(Width::X1),
        4 => Some(Width::X4),
        8 => Some(Width::X8),
        16 => Some(Width::X16),
        other => panic!("OPTKERN_ROOFLINE_WIDTH={other}: 1, 4, 8 or 16"),
    };
    let at = width.map_or(String::from("the public entry point's width"), |w| format!("{w:?}"));
    println!("n = {n}, optkern at {at}, median of {rounds} interleaved rounds, ns/element");
    println!();
    println!(
        "| kernel | profile | div, √ per element | optkern | limit | × limit | baseline | \
         % of baseline | bound by | x1 | speed-up over x1 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for profile in [Numerics::Torch, Numerics::Portable, Numerics::Fast] {
        for bench in kernels(profile) {
            if only.as_ref().is_some_and(|k| *k != bench.name)
                || (profile == Numerics::Fast && !FAST_KERNELS.contains(&bench.name))
            {
                continue;
            }
            let mut state: Vec<Vec<f32>> =
                (0..bench.muts).map(|k| input(n, k as u32 + 10)).collect();
            for s in state.iter_mut().skip(1) {
                s.iter_mut().for_each(|x| *x = x.abs() * 1e-3);
            }
            // Two gradients, alternating: with one repeated, `g − g₋ = 0` and the difference
            // averages of Adan and PID decay into subnormals (slow on x86 without flush-to-zero).
            let gs = [input(n, 1), input(n, 2)];
            let passes = bench.passes;
            let lim = limit_for(bench.div_sqrt, bench.muts);
            let native = width.unwrap_or(bench.native);
            let mut loops: Vec<(&str, Loop)> = vec![
                ("optkern", Box::new(|s, g| (bench.run)(native, s, g))),
                ("limit", Box::new(move |s, g| (0..passes).for_each(|_| lim(s, g)))),
                ("baseline", Box::new(move |s, g| (0..passes).for_each(|_| baseline(s, g)))),
            ];
            // The same body one lane at a time (the scalar loop of every kernel); slow, so only
            // where it fits in cache, and not with `OPTKERN_ROOFLINE_X1=0` (to profile the rest).
            if n <= 1 << 20 && env("OPTKERN_ROOFLINE_X1", 1) != 0 {
                loops.push(("x1", Box::new(|s, g| (bench.run)(Width::X1, s, g))));
            }
            if bench.name == "adam" && profile == Numerics::Torch {
                loops.push(("scalar", Box::new(adam_scalar)));
            }
            // Each loop evolves its own copy of the state (the baselines' `s += g` would
            // otherwise feed the kernels drifted, possibly negative or NaN, moments).
            let mut states = vec![state; loops.len()];
            let mut times = vec![Vec::new(); loops.len()];
            for _ in 0..rounds {
                for ((t, (_, run)), state) in times.iter_mut().zip(&loops).zip(&mut states) {
                    let start = Instant::now();
                    for i in 0..iters {
                        run(state, black_box(&gs[i % 2]));
                    }
                    t.push(start.elapsed().as_secs_f64() * 1e9 / (iters * n) as f64);
                }
            }
            let t: Vec<f64> = times.into_iter().map(median).collect();
            let (divs, roots) = bench.div_sqrt;
            let per_elem = |x: u32| x * passes as u32;
            // Without divisions the limit loop is the baseline itself.
            let bound = if divs + roots > 0 && t[1] > 1.3 * t[2] { "div/sqrt" } else { "traffic" };
            let (x1, speedup) = match t.get(3) {
                Some(x1) if n <= 1 << 20 => (format!("{x1:.3}"), format!("{:.1}×", x1 / t[0])),
                _ => (String::from("–"), String::from("–")),
            };
            println!(
                "| {} | {profile:?} | {}, {} | {:.3} | {:.3} | {:.2} | {:.3} | {:.0} % | {bound} | {} | {} |",
                bench.name,
                per_elem(divs),
                per_elem(roots),
                t[0],
                t[1],
                t[0] / t[1],
                t[2],
                100.0 * t[2] / t[0],
                x1,
                speedup,
            );
            let scalar = if n <= 1 << 20 { t.get(4) } else { t.get(3) };
            if let Some(scalar) = scalar {
                println!(
                    "| adam scalar loop (3 div, 1 √, as benches/c/adam_loop.c) | | | {scalar:.3} | | | | | | | optkern {:.2}× faster |",
                    scalar / t[0]
                );
            }
        }
    }
}
