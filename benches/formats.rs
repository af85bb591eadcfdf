//! Storage formats against fp32, in one interleaved run: for each kernel family, the fp32 step
//! and the same step with bf16 gradients and a bf16 copy of the parameters, bf16 states, `q8`
//! states (bitsandbytes' maps, nearest), torchao's `q4` and `fp8` states, and pure bf16 (bf16
//! parameters rounded stochastically, bf16 gradients and states); each next to a same-traffic
//! baseline (one pass reading and writing the same bytes: `+= g` on f32, `+= 1` on bf16 bits and
//! codes). Medians of interleaved rounds, ns per element. The fp32 column is the f32 kernel (Adam
//! and LAMB call it; the others make the mixed call with every buffer f32, which runs the f32
//! kernel over the whole call, not staged).
//!
//! `RUSTFLAGS="-C target-cpu=native" cargo bench --bench formats`
//! (`OPTKERN_FORMATS_N` elements, default 4096 and 16 Mi; `OPTKERN_FORMATS_ROUNDS` rounds;
//! `OPTKERN_FORMATS_KERNEL` the families named, comma-separated; `OPTKERN_FORMATS_VARIANT`
//! only fp32 and the variants whose name contains it, e.g. `q4`, to profile one; `--test` runs
//! one short round as a smoke test).

use optkern::format::{
    self, FP8_BLOCK, Grads, HalfCopy, Params, Placement, Q4_BLOCK, Q4Map, Q8_BLOCK, Q8Map,
    Quantizer, Rounding, State, bf16,
};
use optkern::*;
use std::hint::black_box;
use std::time::Instant;

fn env(name: &str) -> Option<usize> {
    std::env::var(name).ok().and_then(|s| s.parse().ok())
}

/// The storage of one variant.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Variant {
    Fp32,
    Bf16GradsCopy,
    Bf16States,
    Q8States,
    Q4States,
    Fp8States,
    PureBf16,
}

impl Variant {
    const ALL: [Variant; 7] = [
        Variant::Fp32,
        Variant::Bf16GradsCopy,
        Variant::Bf16States,
        Variant::Q8States,
        Variant::Q4States,
        Variant::Fp8States,
        Variant::PureBf16,
    ];
    fn name(self) -> &'static str {
        match self {
            Variant::Fp32 => "fp32",
            Variant::Bf16GradsCopy => "bf16 grads + bf16 copy",
            Variant::Bf16States => "bf16 grads + bf16 states",
            Variant::Q8States => "bf16 grads + q8 states",
            Variant::Q4States => "bf16 grads + q4 states",
            Variant::Fp8States => "bf16 grads + fp8 states",
            Variant::PureBf16 => "pure bf16 (SR)",
        }
    }
}

/// Every buffer a variant needs, for `states` state buffers of `n` elements.
struct Bufs {
    p32: Vec<f32>,
    p16: Vec<bf16>,
    copy: Vec<bf16>,
    g32: Vec<f32>,
    g16: Vec<bf16>,
    s32: Vec<Vec<f32>>,
    s16: Vec<Vec<bf16>>,
    codes: Vec<Vec<u8>>,
    absmax: Vec<Vec<f32>>,
    /// q4 codes and scales per state.
    q4: Vec<(Vec<u8>, Vec<f32>)>,
    /// fp8 codes and scales per state.
    fp8: Vec<(Vec<u8>, Vec<f32>)>,
}

impl Bufs {
    fn new(n: usize, states: usize) -> Self {
        let x = |seed: u32, scale: f32| -> Vec<f32> {
            let mut s = seed.wrapping_mul(2_654_435_761).max(1);
            (0..n)
                .map(|_| {
                    s ^= s << 13;
                    s ^= s >> 17;
                    s ^= s << 5;
                    ((s >> 8) as f32 / 16_777_216.0 - 0.5) * scale
                })
                .collect()
        };
        let to16 = |v: &[f32]| v.iter().map(|&x| bf16::from_f32(x)).collect::<Vec<_>>();
        let p = x(1, 2.0);
        let g = x(2, 0.1);
        let s32: Vec<Vec<f32>> =
            (0..states).map(|k| x(3 + k as u32, 1e-3).iter().map(|v| v.abs()).collect()).collect();
        Bufs {
            p16: to16(&p),
            copy: to16(&p),
            p32: p,
            g16: to16(&g),
            g32: g,
            s16: s32.iter().map(|s| to16(s)).collect(),
            codes: (0..states).map(|_| vec![128u8; n]).collect(),
            absmax: (0..states).map(|_| vec![1e-3f32; n.div_ceil(Q8_BLOCK)]).collect(),
            q4: s32
                .iter()
                .enumerate()
                .map(|(k, s)| {
                    let (mut c, mut a) =
                        (vec![0u8; n.div_ceil(2)], vec![0f32; n.div_ceil(Q4_BLOCK)]);
                    format::q4_quantize(s, &mut c, &mut a, q4_map(k)).unwrap();
                    (c, a)
                })
                .collect(),
            fp8: s32
                .iter()
                .map(|s| {
                    let (mut c, mut a) = (vec![0u8; n], vec![0f32; n.div_ceil(FP8_BLOCK)]);
                    format::fp8_quantize(s, &mut c, &mut a).unwrap();
                    (c, a)
                })
                .collect(),
            s32,
        }
    }

    /// The variant's `Params`, `Grads` and states.
    fn call(&mut self, v: Variant) -> (Params<'_>, Grads<'_>, Vec<State<'_>>) {
        let Bufs { p32, p16, copy, g32, g16, s32, s16, codes, absmax, q4, fp8 } = self;
        match v {
            Variant::Fp32 => {
                (Params::F32(p32), Grads::F32(g32), s32.iter_mut().map(|s| State::F32(s)).collect())
            }
            Variant::Bf16GradsCopy => (
                Params::F32WithCopy { master: p32, copy: HalfCopy::Bf16(copy) },
                Grads::Bf16(g16),
                s32.iter_mut().map(|s| State::F32(s)).collect(),
            ),
            Variant::Bf16States => (
                Params::F32(p32),
                Grads::Bf16(g16),
                s16.iter_mut()
                    .map(|s| State::Bf16 { values: s, rounding: Rounding::Nearest })
                    .collect(),
            ),
            Variant::Q8States => (
                Params::F32(p32),
                Grads::Bf16(g16),
                codes
                    .iter_mut()
                    .zip(absmax.iter_mut())
                    .enumerate()
                    .map(|(k, (c, a))| State::Q8 {
                        codes: c,
                        absmax: a,
                        map: if k == 0 { Q8Map::Signed } else { Q8Map::Unsigned },
                        quantizer: Quantizer::Nearest,
                    })
                    .collect(),
            ),
            Variant::Q4States => (
                Params::F32(p32),
                Grads::Bf16(g16),
                q4.iter_mut()
                    .enumerate()
                    .map(|(k, (c, s))| State::Q4 { codes: c, scale: s, map: q4_map(k) })
                    .collect(),
            ),
            Variant::Fp8States => (
                Params::F32(p32),
                Grads::Bf16(g16),
                fp8.iter_mut().map(|(c, s)| State::Fp8 { codes: c, scale: s }).collect(),
            ),
            Variant::PureBf16 => (
                Params::Bf16 { values: p16, rounding: Rounding::Stochastic },
                Grads::Bf16(g16),
                s16.iter_mut()
                    .map(|s| State::Bf16 { values: s, rounding: Rounding::Nearest })
                    .collect(),
            ),
        }
    }

    /// The same-traffic baseline of a variant: one pass over the bytes it reads and writes.
    fn baseline(&mut self, v: Variant) {
        let n = self.p32.len();
        let f32s = |b: &mut [f32], g: &[f32]| b.iter_mut().zip(g).for_each(|(x, g)| *x += g);
        let u16s = |b: &mut [bf16]| {
            b.iter_mut().for_each(|x| *x = bf16::from_bits(x.to_bits().wrapping_add(1)))
        };
        let sum16 = |g: &[bf16]| g.iter().fold(0u16, |a, x| a.wrapping_add(x.to_bits()));
        match v {
            Variant::Fp32 => {
                f32s(&mut self.p32, &self.g32);
                for s in &mut self.s32 {
                    f32s(s, &self.g32);
                }
            }
            Variant::Bf16GradsCopy => {
                black_box(sum16(&self.g16));
                f32s(&mut self.p32, &self.g32[..n]);
                u16s(&mut self.copy);
                for s in &mut self.s32 {
                    f32s(s, &self.g32);
                }
            }
            Variant::Bf16States | Variant::PureBf16 => {
                black_box(sum16(&self.g16));
                if v == Variant::PureBf16 {
                    u16s(&mut self.p16);
                } else {
                    f32s(&mut self.p32, &self.g32);
                }
                for s in &mut self.s16 {
                    u16s(s);
                }
            }
            Variant::Q8States | Variant::Q4States | Variant::Fp8States => {
                black_box(sum16(&self.g16));
                f32s(&mut self.p32, &self.g32);
                let states: Vec<(&mut Vec<u8>, &mut Vec<f32>)> = match v {
                    Variant::Q8States => self.codes.iter_mut().zip(&mut self.absmax).collect(),
                    Variant::Q4States => self.q4.iter_mut().map(|(c, a)| (c, a)).collect(),
                    _ => self.fp8.iter_mut().map(|(c, a)| (c, a)).collect(),
                };
                for (c, a) in states {
                    c.iter_mut().for_each(|x| *x = x.wrapping_add(1));
                    a.iter_mut().for_each(|x| *x += 1e-9);
                }
            }
        }
    }
}

/// torchao's maps: the first state (a first moment) signed, the others unsigned.
fn q4_map(k: usize) -> Q4Map {
    if k == 0 { Q4Map::Signed } else { Q4Map::Unsigned }
}

type Step = fn(Params, Grads, Vec<State>, u32) -> Result<(), Error>;

/// Adam's mixed call in `numerics` (states `m`, `v`).
fn adam(numerics: Numerics, p: Params, g: Grads, s: Vec<State>, t: u32) -> Result<(), Error> {
    let mut s = s.into_iter();
    let (m, v) = (s.next().unwrap(), s.next().unwrap());
    let cfg = AdamConfig { numerics, ..Default::default() };
    let at = Placement { counter: u64::from(t), ..Placement::default() };
    // The fp32 column is the f32 kernel itself, as in the other families.
    match (p, g, m, v) {
        (Params::F32(p), Grads::F32(g), State::F32(m), State::F32(v)) => {
            adam_step(p, g, m, v, &mut [], t, &cfg)
        }
        (p, g, m, v) => adam_step_mixed(p, g, m, v, State::Unused, t, &cfg, &at),
    }
}

/// The kernel families: name, state buffers, the mixed call.
fn families() -> Vec<(&'static str, usize, Step)> {
    vec![
        ("adam", 2, |p, g, s, t| adam(Numerics::Portable, p, g, s, t)),
        // Adam without the divider: whether IEEE division and square root are what bounds the
        // narrower formats (2026-12-05: 5-15 % of the step at 16 Mi, not the gap to the targets).
        ("adam_fast", 2, |p, g, s, t| adam(Numerics::Fast, p, g, s, t)),
        ("sgd_momentum", 1, |p, g, s, t| {
            let cfg =
                SgdConfig { momentum: 0.9, numerics: Numerics::Portable, ..Default::default() };
            sgd_step_mixed(p, g, s.into_iter().next().unwrap(), t + 1, &cfg, &Placement::default())
        }),
        ("adagrad", 1, |p, g, s, t| {
            let cfg = AdagradConfig { numerics: Numerics::Portable, ..Default::default() };
            adagrad_step_mixed(
                p,
                g,
                s.into_iter().next().unwrap(),
                t + 1,
                &cfg,
                &Placement::default(),
            )
        }),
        ("rmsprop", 1, |p, g, s, _| {
            let cfg = RmspropConfig { numerics: Numerics::Portable, ..Default::default() };
            rmsprop_step_mixed(
                p,
                g,
                s.into_iter().next().unwrap(),
                State::Unused,
                State::Unused,
                &cfg,
                &Placement::default(),
            )
        }),
        ("lion", 1, |p, g, s, _| {
            let cfg = LionConfig { numerics: Numerics::Portable, ..Default::default() };
            lion_step_mixed(p, g, s.into_iter().next().unwrap(), &cfg, &Placement::default())
        }),
        ("adamax", 2, |p, g, s, t| {
            let mut s = s.into_iter();
            let (m, u) = (s.next().unwrap(), s.next().unwrap());
            let cfg = AdamaxConfig { numerics: Numerics::Portable, ..Default::default() };
            adamax_step_mixed(p, g, m, u, t, &cfg, &Placement::default())
        }),
        // Layer-wise: two staged passes. Its fp32 column is `lamb_step` itself (the mixed
        // path's pass 1 would copy f32 moments onto the stack and pass 2 recompute them).
        ("lamb", 2, |p, g, s, t| {
            let mut s = s.into_iter();
            let (m, v) = (s.next().unwrap(), s.next().unwrap());
            let cfg = LambConfig::default();
            match (p, g, m, v) {
                (Params::F32(p), Grads::F32(g), State::F32(m), State::F32(v)) => {
                    lamb_step(p, g, m, v, t, &cfg)
                }
                (p, g, m, v) => lamb_step_mixed(p, g, m, v, t, &cfg, &Placement::default()),
            }
        }),
    ]
}

fn median(mut x: Vec<f64>) -> Option<f64> {
    x.sort_by(f64::total_cmp);
    x.get(x.len() / 2).copied()
}

fn main() {
    let smoke = std::env::args().any(|a| a == "--test");
    let sizes = match env("OPTKERN_FORMATS_N") {
        Some(n) => vec![n],
        None if smoke => vec![4096],
        None => vec![4096, 1 << 24],
    };
    let only = std::env::var("OPTKERN_FORMATS_KERNEL").ok();
    let pick = std::env::var("OPTKERN_FORMATS_VARIANT").ok();
    let runs = |v: Variant| {
        v == Variant::Fp32 || pick.as_ref().is_none_or(|p| v.name().contains(p.as_str()))
    };
    for n in sizes {
        let rounds = if smoke {
            1
        } else {
            env("OPTKERN_FORMATS_ROUNDS").unwrap_or(if n > 1 << 20 { 7 } else { 21 })
        };
        let iters = if smoke { 1 } else { (5_000_000 / n).max(1) };
        println!(
            "\nn = {n}, median of {rounds} interleaved rounds, ns/element (optkern · same-traffic baseline · % of baseline · speed vs fp32)\n"
        );
        println!("| kernel | {} |", Variant::ALL.map(Variant::name).join(" | "));
        println!("|---|{}", "---|".repeat(Variant::ALL.len()));
        for (name, states, step) in families() {
            if only.as_ref().is_some_and(|k| !k.split(',').any(|k| k == name)) {
                continue;
            }
            let mut bufs: Vec<Bufs> = Variant::ALL.iter().map(|_| Bufs::new(n, states)).collect();
            let mut base: Vec<Bufs> = Variant::ALL.iter().map(|_| Bufs::new(n, states)).collect();
            let mut t_k = vec![Vec::new(); Variant::ALL.len()];
            let mut t_b = vec![Vec::new(); Variant::ALL.len()];
            for r in 0..rounds {
                for (j, &v) in Variant::ALL.iter().enumerate() {
                    if !runs(v) {
                        continue;
                    }
                    let start = Instant::now();
                    for i in 0..iters {
                        let (p, g, s) = bufs[j].call(v);
                        step(p, g, s, (r * iters + i) as u32 % 1000 + 1).unwrap();
                    }
                    t_k[j].push(start.elapsed().as_secs_f64() * 1e9 / (iters * n) as f64);
                    let start = Instant::now();
                    for _ in 0..iters {
                        base[j].baseline(v);
                    }
                    black_box(&base[j].p32);
                    t_b[j].push(start.elapsed().as_secs_f64() * 1e9 / (iters * n) as f64);
                }
            }
            let k: Vec<f64> = t_k.into_iter().map(|t| median(t).unwrap_or(f64::NAN)).collect();
            let b: Vec<f64> = t_b.into_iter().map(|t| median(t).unwrap_or(f64::NAN)).collect();
            let cells: Vec<String> = (0..k.len())
                .map(|j| {
                    if k[j].is_nan() {
                        return "—".to_string();
                    }
                    format!(
                        "{:.3} · {:.3} · {:.0} % · {:.2}×",
                        k[j],
                        b[j],
                        100.0 * b[j] / k[j],
                        k[0] / k[j]
                    )
                })
                .collect();
            println!("| {name} | {} |", cells.join(" | "));
        }
    }
}
