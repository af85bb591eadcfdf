//! The main demo: a small MLP (64 → 64 ReLU → 10) trained on the UCI handwritten digits
//! (`data/digits/`) with nothing but optkern around a hand-written forward/backward pass:
//! He/Xavier initialisation, a fresh Fisher–Yates shuffle every epoch, minibatches, softmax
//! cross-entropy and its gradient, gradient-norm monitoring and clipping (as the step's
//! `grad_scale`), a warmup + cosine learning-rate schedule, and every optimizer in turn.
//!
//! ```text
//! cargo run --release --example train_digits [-- --epochs 30 --seed 7 --out target/demo --check]
//! ```
//! Writes `loss.svg` (training loss per optimizer) and `grad_norm.svg` (the gradient norm over
//! training) to the output folder and prints a table of test accuracy, final loss and time,
//! then the same for Adam in five storage formats (fp32; bf16 gradients with a bf16 copy of
//! the weights for the forward pass; bf16 moments; q8 moments; pure bf16 with stochastic
//! rounding), with the bytes of optimizer state per parameter.
//! Deterministic for a given seed.

#[path = "common/plot.rs"]
mod plot;

use indicatif::{ProgressBar, ProgressStyle};
use optkern::train::schedule::{Cosine, Linear, Schedule, Sequential};
use optkern::*;
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use std::time::Instant;

const INPUTS: usize = 64;
const HIDDEN: usize = 64;
const CLASSES: usize = 10;
const BATCH: usize = 32;
// Flat parameter layout: W1 (HIDDEN×INPUTS), b1, W2 (CLASSES×HIDDEN), b2.
const W1: usize = 0;
const B1: usize = W1 + HIDDEN * INPUTS;
const W2: usize = B1 + HIDDEN;
const B2: usize = W2 + CLASSES * HIDDEN;
const PARAMS: usize = B2 + CLASSES;

struct Data {
    x: Vec<f32>,
    y: Vec<i64>,
}

fn load() -> Data {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/digits/digits.csv");
    let text = std::fs::read_to_string(path).expect("data/digits/digits.csv");
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for line in text.lines().filter(|l| !l.is_empty()) {
        let v: Vec<f32> = line.split(',').map(|s| s.trim().parse().expect("number")).collect();
        x.extend(v[..INPUTS].iter().map(|p| p / 16.0));
        y.push(v[INPUTS] as i64);
    }
    Data { x, y }
}

/// Forward pass for the rows `idx`: hidden pre-activations `h` and logits.
fn forward(p: &[f32], d: &Data, idx: &[u32], h: &mut [f32], logits: &mut [f32]) {
    for (b, &i) in idx.iter().enumerate() {
        let x = &d.x[i as usize * INPUTS..][..INPUTS];
        for j in 0..HIDDEN {
            let w = &p[W1 + j * INPUTS..][..INPUTS];
            h[b * HIDDEN + j] = p[B1 + j] + w.iter().zip(x).map(|(a, b)| a * b).sum::<f32>();
        }
        for c in 0..CLASSES {
            let w = &p[W2 + c * HIDDEN..][..HIDDEN];
            let a = &h[b * HIDDEN..][..HIDDEN];
            logits[b * CLASSES + c] =
                p[B2 + c] + w.iter().zip(a).map(|(w, a)| w * a.max(0.0)).sum::<f32>();
        }
    }
}

/// Loss and gradient of the mean cross-entropy over the rows `idx` (into `grad`).
fn loss_and_grad(p: &[f32], d: &Data, idx: &[u32], grad: &mut [f32], scratch: &mut Scratch) -> f32 {
    let n = idx.len();
    let (h, logits, dlogits) = (
        &mut scratch.h[..n * HIDDEN],
        &mut scratch.logits[..n * CLASSES],
        &mut scratch.dlogits[..n * CLASSES],
    );
    forward(p, d, idx, h, logits);
    let targets: Vec<i64> = idx.iter().map(|&i| d.y[i as usize]).collect();
    let loss =
        cross_entropy(logits, &targets, CLASSES, &CrossEntropyConfig::default(), &mut [], dlogits)
            .expect("valid");
    grad.fill(0.0);
    for (b, &i) in idx.iter().enumerate() {
        let x = &d.x[i as usize * INPUTS..][..INPUTS];
        let a = &h[b * HIDDEN..][..HIDDEN];
        let dl = &dlogits[b * CLASSES..][..CLASSES];
        let mut da = [0.0f32; HIDDEN];
        for c in 0..CLASSES {
            grad[B2 + c] += dl[c];
            for j in 0..HIDDEN {
                grad[W2 + c * HIDDEN + j] += dl[c] * a[j].max(0.0);
                da[j] += dl[c] * p[W2 + c * HIDDEN + j];
            }
        }
        for j in 0..HIDDEN {
            if a[j] > 0.0 {
                grad[B1 + j] += da[j];
                for (g, xi) in grad[W1 + j * INPUTS..][..INPUTS].iter_mut().zip(x) {
                    *g += da[j] * xi;
                }
            }
        }
    }
    loss
}

struct Scratch {
    h: Vec<f32>,
    logits: Vec<f32>,
    dlogits: Vec<f32>,
}

fn accuracy(p: &[f32], d: &Data, idx: &[u32]) -> f64 {
    let mut s = Scratch {
        h: vec![0.0; idx.len() * HIDDEN],
        logits: vec![0.0; idx.len() * CLASSES],
        dlogits: vec![],
    };
    forward(p, d, idx, &mut s.h, &mut s.logits);
    let targets: Vec<i64> = idx.iter().map(|&i| d.y[i as usize]).collect();
    correct_predictions(&s.logits, &targets, CLASSES).expect("valid") as f64 / idx.len() as f64
}

/// An optimizer with its state buffers, stepping the flat parameter buffer.
enum Opt {
    Sgd(SgdConfig, Vec<f32>),
    Momentum(MomentumConfig, Vec<f32>, bool),
    Adam(AdamConfig, Vec<f32>, Vec<f32>),
    Adagrad(AdagradConfig, Vec<f32>),
    Rmsprop(RmspropConfig, Vec<f32>),
    Nadam(NadamConfig, Vec<f32>, Vec<f32>, NadamState),
    Radam(RadamConfig, Vec<f32>, Vec<f32>),
    Lion(LionConfig, Vec<f32>),
    Lamb(LambConfig, Vec<f32>, Vec<f32>),
    Adopt(AdoptConfig, Vec<f32>, Vec<f32>),
    /// Schedule-free AdamW: `z` (starts as the initial parameters), `v`, the scalar state. Its
    /// own warm-up and no decay schedule; evaluated at the average `x`.
    ScheduleFree(AdamwScheduleFreeConfig, Vec<f32>, Vec<f32>, ScheduleFreeState),
    /// Prodigy: `p0`, `s`, `m`, `v`, the state. Learning rate 1 (the estimate `d` is the step).
    Prodigy(ProdigyConfig, Box<([Vec<f32>; 4], ProdigyState)>),
    /// Adam in a mixed-precision storage variant.
    Mixed(AdamConfig, Box<Mixed>),
}

/// The storage of a mixed-precision Adam run (`optkern::format`).
#[derive(Clone, Copy, PartialEq)]
enum Variant {
    /// Everything f32.
    Fp32,
    /// bf16 gradients; the f32 master also writes a bf16 copy, which the forward pass uses.
    Bf16GradsCopy,
    /// f32 parameters and gradients, bf16 moments (rounded to nearest).
    Bf16States,
    /// f32 parameters and gradients, q8 moments (bitsandbytes' maps and CPU quantizer: it never
    /// rounds a small second moment to exactly 0, which the nearest quantizer does, and
    /// `m/(√0 + ε)` then blows the step up: measured, training loss 8.9 after 4 epochs).
    Q8States,
    /// bf16 parameters (stochastic rounding), gradients and moments.
    PureBf16,
}

/// Every buffer a variant may use.
struct Mixed {
    variant: Variant,
    /// The f32 master weights of the copy variant (the forward pass reads the bf16 copy).
    master: Vec<f32>,
    m: Vec<f32>,
    v: Vec<f32>,
    m16: Vec<format::bf16>,
    v16: Vec<format::bf16>,
    codes: [Vec<u8>; 2],
    absmax: [Vec<f32>; 2],
    p16: Vec<format::bf16>,
    g16: Vec<format::bf16>,
}

impl Mixed {
    fn new(variant: Variant, init: &[f32]) -> Self {
        let z16 = vec![format::bf16::ZERO; PARAMS];
        let mut p16 = z16.clone();
        format::f32_to_bf16(init, &mut p16, format::Rounding::Nearest, &Default::default())
            .expect("lengths");
        let blocks = PARAMS.div_ceil(format::Q8_BLOCK);
        Mixed {
            variant,
            master: init.to_vec(),
            m: vec![0.0; PARAMS],
            v: vec![0.0; PARAMS],
            m16: z16.clone(),
            v16: z16.clone(),
            codes: [vec![127; PARAMS], vec![0; PARAMS]],
            absmax: [vec![0.0; blocks], vec![0.0; blocks]],
            p16,
            g16: z16,
        }
    }

    /// Bytes of optimizer state per parameter.
    fn state_bytes(&self) -> f64 {
        match self.variant {
            Variant::Fp32 | Variant::Bf16GradsCopy => 8.0,
            Variant::Bf16States | Variant::PureBf16 => 4.0,
            Variant::Q8States => 2.0 + 8.0 / format::Q8_BLOCK as f64,
        }
    }

    /// One Adam step on `p` (the f32 parameters the forward pass reads) from `g`.
    fn step(&mut self, p: &mut [f32], g: &[f32], t: u32, cfg: &AdamConfig) -> Result<(), Error> {
        use format::{Grads, HalfCopy, Params, Placement, Q8Map, Quantizer, Rounding, State};
        let at = Placement { offset: 0, seed: 42, counter: u64::from(t) };
        let nearest = Rounding::Nearest;
        let half_grads = matches!(self.variant, Variant::Bf16GradsCopy | Variant::PureBf16);
        if half_grads {
            format::f32_to_bf16(g, &mut self.g16, nearest, &at)?;
        }
        let grads = if half_grads { Grads::Bf16(&self.g16) } else { Grads::F32(g) };
        let Mixed { master, m, v, m16, v16, codes, absmax, p16, .. } = self;
        let [c1, c2] = codes;
        let [a1, a2] = absmax;
        let (params, ms, vs) = match self.variant {
            Variant::Fp32 => (Params::F32(&mut *p), State::F32(m), State::F32(v)),
            Variant::Bf16GradsCopy => {
                let copy = HalfCopy::Bf16(&mut *p16);
                (Params::F32WithCopy { master, copy }, State::F32(m), State::F32(v))
            }
            Variant::Bf16States => (
                Params::F32(&mut *p),
                State::Bf16 { values: m16, rounding: nearest },
                State::Bf16 { values: v16, rounding: nearest },
            ),
            Variant::Q8States => (
                Params::F32(&mut *p),
                State::Q8 {
                    codes: c1,
                    absmax: a1,
                    map: Q8Map::Signed,
                    quantizer: Quantizer::BnbCpu,
                },
                State::Q8 {
                    codes: c2,
                    absmax: a2,
                    map: Q8Map::Unsigned,
                    quantizer: Quantizer::BnbCpu,
                },
            ),
            Variant::PureBf16 => (
                Params::Bf16 { values: &mut *p16, rounding: Rounding::Stochastic },
                State::Bf16 { values: m16, rounding: nearest },
                State::Bf16 { values: v16, rounding: nearest },
            ),
        };
        adam_step_mixed(params, grads, ms, vs, State::Unused, t, cfg, &at)?;
        // The forward pass reads the half-precision weights where the variant keeps them.
        if matches!(self.variant, Variant::Bf16GradsCopy | Variant::PureBf16) {
            format::bf16_to_f32(&self.p16, p)?;
        }
        Ok(())
    }
}

fn optimizers() -> Vec<(&'static str, f64, Opt)> {
    let z = || vec![0.0f32; PARAMS];
    // The divide/sqrt-bound kernels also in the Portable and Fast profiles (the check compares
    // the two).
    use Numerics::{Fast, Portable};
    let (adam, ada, rms) =
        (AdamConfig::default(), AdagradConfig::default(), RmspropConfig::default());
    vec![
        ("SGD", 0.2, Opt::Sgd(SgdConfig::default(), z())),
        ("SGD momentum", 0.05, Opt::Sgd(SgdConfig { momentum: 0.9, ..Default::default() }, z())),
        (
            "SGD Nesterov",
            0.05,
            Opt::Sgd(SgdConfig { momentum: 0.9, nesterov: true, ..Default::default() }, z()),
        ),
        ("classic momentum", 0.05, Opt::Momentum(MomentumConfig::default(), z(), false)),
        ("look-ahead Nesterov", 0.05, Opt::Momentum(MomentumConfig::default(), z(), true)),
        ("Adagrad", 0.05, Opt::Adagrad(AdagradConfig::default(), z())),
        (
            "Adagrad (Portable)",
            0.05,
            Opt::Adagrad(AdagradConfig { numerics: Portable, ..ada }, z()),
        ),
        ("Adagrad (Fast)", 0.05, Opt::Adagrad(AdagradConfig { numerics: Fast, ..ada }, z())),
        ("RMSprop", 2e-3, Opt::Rmsprop(RmspropConfig::default(), z())),
        (
            "RMSprop (Portable)",
            2e-3,
            Opt::Rmsprop(RmspropConfig { numerics: Portable, ..rms }, z()),
        ),
        ("RMSprop (Fast)", 2e-3, Opt::Rmsprop(RmspropConfig { numerics: Fast, ..rms }, z())),
        ("Adam", 3e-3, Opt::Adam(AdamConfig::default(), z(), z())),
        ("Adam (Portable)", 3e-3, Opt::Adam(AdamConfig { numerics: Portable, ..adam }, z(), z())),
        ("Adam (Fast)", 3e-3, Opt::Adam(AdamConfig { numerics: Fast, ..adam }, z(), z())),
        ("AdamW", 3e-3, Opt::Adam(AdamConfig::adamw(), z(), z())),
        ("NAdam", 3e-3, Opt::Nadam(NadamConfig::default(), z(), z(), NadamState::default())),
        ("RAdam", 3e-3, Opt::Radam(RadamConfig::default(), z(), z())),
        ("Lion", 3e-4, Opt::Lion(LionConfig::default(), z())),
        ("LAMB", 1e-2, Opt::Lamb(LambConfig::default(), z(), z())),
        ("ADOPT", 3e-3, Opt::Adopt(AdoptConfig::default(), z(), z())),
        // No schedule: the base rate is constant after the optimizer's own warm-up.
        (
            "schedule-free AdamW",
            3e-3,
            Opt::ScheduleFree(
                AdamwScheduleFreeConfig::default(),
                z(),
                z(),
                ScheduleFreeState::default(),
            ),
        ),
        // No learning rate: 1 times the schedule's shape.
        (
            "Prodigy",
            1.0,
            Opt::Prodigy(
                ProdigyConfig::default(),
                Box::new(([z(), z(), z(), z()], ProdigyState::new(1e-6))),
            ),
        ),
    ]
}

struct Args {
    epochs: usize,
    seed: u64,
    out: String,
    check: bool,
}

fn args() -> Args {
    let mut a = Args { epochs: 30, seed: 7, out: "target/demo".into(), check: false };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--epochs" => a.epochs = it.next().and_then(|v| v.parse().ok()).expect("--epochs N"),
            "--seed" => a.seed = it.next().and_then(|v| v.parse().ok()).expect("--seed N"),
            "--out" => a.out = it.next().expect("--out DIR"),
            "--check" => a.check = true,
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

fn main() -> Result<(), Error> {
    let args = args();
    let data = load();
    let n = data.y.len();
    // A fixed, shuffled 80/20 split.
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(args.seed);
    let mut all = vec![0u32; n];
    iota(&mut all);
    shuffle(&mut all, &mut rng)?;
    let (train, test) = all.split_at(n * 4 / 5);
    println!(
        "UCI digits: {} training and {} test images, MLP {INPUTS}-{HIDDEN}-{CLASSES} ({PARAMS} parameters), {} epochs, batch {BATCH}",
        train.len(),
        test.len(),
        args.epochs
    );

    // One initialisation for every optimizer: He (Kaiming) for the ReLU layer, Xavier for the
    // output layer, zero biases; rows differ, so the symmetry is broken.
    let mut init = vec![0.0f32; PARAMS];
    kaiming_normal(
        &mut init[W1..B1],
        &[HIDDEN, INPUTS],
        FanMode::FanIn,
        Nonlinearity::Relu,
        &mut rng,
    )?;
    xavier_uniform(&mut init[W2..B2], &[CLASSES, HIDDEN], 1.0, &mut rng)?;

    let steps_per_epoch = train.len().div_ceil(BATCH) as u64;
    let total = steps_per_epoch * args.epochs as u64;
    let mut loss_curves = Vec::new();
    let mut norm_curves = Vec::new();
    let mut rows = Vec::new();
    let mixed_runs = [
        ("Adam fp32", Variant::Fp32),
        ("Adam bf16 grads + bf16 copy", Variant::Bf16GradsCopy),
        ("Adam bf16 states", Variant::Bf16States),
        ("Adam q8 states", Variant::Q8States),
        ("Adam pure bf16 (SR)", Variant::PureBf16),
    ];
    let runs = optimizers().into_iter().chain(mixed_runs.iter().map(|&(name, v)| {
        (name, 3e-3, Opt::Mixed(AdamConfig::default(), Box::new(Mixed::new(v, &init))))
    }));
    let mut mixed_rows = Vec::new();
    for (name, base_lr, mut opt) in runs {
        let mut p = init.clone();
        let mut g = vec![0.0f32; PARAMS];
        let mut ahead = vec![0.0f32; PARAMS];
        let mut scratch = Scratch {
            h: vec![0.0; BATCH * HIDDEN],
            logits: vec![0.0; BATCH * CLASSES],
            dlogits: vec![0.0; BATCH * CLASSES],
        };
        match &mut opt {
            Opt::ScheduleFree(c, zz, _, _) => {
                zz.copy_from_slice(&init);
                *c = AdamwScheduleFreeConfig {
                    lr: base_lr,
                    warmup_steps: steps_per_epoch as u32,
                    ..*c
                };
            }
            Opt::Prodigy(_, b) => b.0[0].copy_from_slice(&init),
            _ => {}
        }
        let mut order = train.to_vec();
        let mut epoch_rng = Xoshiro256PlusPlus::seed_from_u64(args.seed + 1);
        // Warmup for one epoch, then cosine decay to 0.
        let warm = Linear::new(base_lr, 0.1, 1.0, steps_per_epoch).expect("valid");
        let cos = Cosine::new(base_lr, total - steps_per_epoch, 0.0).expect("valid");
        let parts: [&dyn Schedule; 2] = [&warm, &cos];
        let milestones = [steps_per_epoch];
        let schedule = Sequential::new(&parts, &milestones)?;
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template("{prefix:>20} [{bar:30}] {pos}/{len} {msg}")
                .expect("template")
                .progress_chars("=> "),
        );
        bar.set_prefix(name);
        let (mut losses, mut norms) = (Vec::new(), Vec::new());
        let start = Instant::now();
        let mut t = 0u32;
        for epoch in 0..args.epochs {
            shuffle(&mut order, &mut epoch_rng)?; // a fresh order every epoch
            let (mut sum, mut count) = (0.0f64, 0usize);
            for batch in minibatches(&order, BATCH, false) {
                let lr = schedule.lr(u64::from(t));
                t += 1;
                let loss = if let Opt::Momentum(cfg, v, true) = &opt {
                    // Look-ahead Nesterov: the gradient at θ − αv.
                    nesterov_lookahead(&mut ahead, &p, v, cfg)?;
                    loss_and_grad(&ahead, &data, batch, &mut g, &mut scratch)
                } else {
                    loss_and_grad(&p, &data, batch, &mut g, &mut scratch)
                };
                // Monitor the gradient norm and clip it to 5 through the step's grad_scale.
                let clip = clip_coef(&[&g], 5.0, NormType::L2)?;
                norms.push((f64::from(t) / steps_per_epoch as f64, f64::from(clip.total_norm)));
                let s = clip.coef;
                match &mut opt {
                    Opt::Sgd(c, b) => {
                        sgd_step(&mut p, &g, b, t, &SgdConfig { lr, grad_scale: s, ..*c })?
                    }
                    Opt::Momentum(c, v, _) => {
                        momentum_step(&mut p, &g, v, &MomentumConfig { lr, grad_scale: s, ..*c })?
                    }
                    Opt::Adam(c, m, v) => adam_step(
                        &mut p,
                        &g,
                        m,
                        v,
                        &mut [],
                        t,
                        &AdamConfig { lr, grad_scale: s, ..*c },
                    )?,
                    Opt::Adagrad(c, sum) => adagrad_step(
                        &mut p,
                        &g,
                        sum,
                        t,
                        &AdagradConfig { lr, grad_scale: s, ..*c },
                    )?,
                    Opt::Rmsprop(c, sq) => rmsprop_step(
                        &mut p,
                        &g,
                        sq,
                        &mut [],
                        &mut [],
                        &RmspropConfig { lr, grad_scale: s, ..*c },
                    )?,
                    Opt::Nadam(c, m, v, st) => nadam_step(
                        &mut p,
                        &g,
                        m,
                        v,
                        st,
                        t,
                        &NadamConfig { lr, grad_scale: s, ..*c },
                    )?,
                    Opt::Radam(c, m, v) => {
                        radam_step(&mut p, &g, m, v, t, &RadamConfig { lr, grad_scale: s, ..*c })?
                    }
                    Opt::Lion(c, m) => {
                        lion_step(&mut p, &g, m, &LionConfig { lr, grad_scale: s, ..*c })?
                    }
                    Opt::Lamb(c, m, v) => {
                        lamb_step(&mut p, &g, m, v, t, &LambConfig { lr, grad_scale: s, ..*c })?
                    }
                    Opt::Adopt(c, m, v) => {
                        adopt_step(&mut p, &g, m, v, t, &AdoptConfig { lr, grad_scale: s, ..*c })?
                    }
                    Opt::ScheduleFree(c, zz, v, st) => adamw_schedulefree_step(
                        &mut p,
                        &g,
                        zz,
                        v,
                        st,
                        &AdamwScheduleFreeConfig { grad_scale: s, ..*c },
                    )?,
                    Opt::Prodigy(c, b) => {
                        let c = ProdigyConfig { lr, grad_scale: s, ..*c };
                        let ([p0, sb, m, v], st) = &mut **b;
                        prodigy_accumulate(&p, &g, p0, sb, m, v, st, &c)?;
                        prodigy_update_d(st, &c)?;
                        prodigy_apply(&mut p, m, v, st, &c)?
                    }
                    Opt::Mixed(c, mixed) => {
                        mixed.step(&mut p, &g, t, &AdamConfig { lr, grad_scale: s, ..*c })?
                    }
                }
                sum += f64::from(loss) * batch.len() as f64;
                count += batch.len();
                bar.inc(1);
            }
            let epoch_loss = sum / count as f64;
            losses.push(((epoch + 1) as f64, epoch_loss));
            bar.set_message(format!("loss {epoch_loss:.4}"));
        }
        let elapsed = start.elapsed();
        bar.finish_and_clear();
        // Schedule-free is evaluated at its average x, made from y (the parameters) and z.
        let acc = match &opt {
            Opt::ScheduleFree(c, zz, _, _) => {
                let mut x = p.clone();
                schedulefree_eval(&mut x, zz, c.beta1, c.numerics)?;
                accuracy(&x, &data, test)
            }
            _ => accuracy(&p, &data, test),
        };
        let final_loss = losses.last().map_or(f64::NAN, |l| l.1);
        println!(
            "{name:>20}: test accuracy {:5.1} %, final training loss {final_loss:.4}, {:.2} s",
            100.0 * acc,
            elapsed.as_secs_f64()
        );
        if let Opt::Mixed(_, mixed) = &opt {
            mixed_rows.push((name, acc, final_loss, mixed.state_bytes(), mixed.variant));
            continue;
        }
        rows.push((name, acc, losses.first().map_or(f64::NAN, |l| l.1), final_loss, elapsed));
        // The profile comparisons are in the table only: their curves lie on the default ones.
        if name.ends_with("(Portable)") || name.ends_with("(Fast)") {
            continue;
        }
        loss_curves.push((name.to_string(), losses));
        // One point per epoch: the mean gradient norm over its steps.
        let per_epoch: Vec<(f64, f64)> = norms
            .chunks(steps_per_epoch as usize)
            .enumerate()
            .map(|(e, c)| ((e + 1) as f64, c.iter().map(|x| x.1).sum::<f64>() / c.len() as f64))
            .collect();
        norm_curves.push((name.to_string(), per_epoch));
    }

    println!("\n| optimizer | test accuracy | final training loss | time |\n|---|---|---|---|");
    for (name, acc, _, loss, time) in &rows {
        println!("| {name} | {:.1} % | {loss:.4} | {:.2} s |", 100.0 * acc, time.as_secs_f64());
    }
    println!(
        "\nMixed precision (Adam, the same schedule):\n\n| storage | test accuracy | final training loss | optimizer state per parameter |\n|---|---|---|---|"
    );
    for (name, acc, loss, bytes, _) in &mixed_rows {
        println!("| {name} | {:.1} % | {loss:.4} | {bytes:.2} B |", 100.0 * acc);
    }
    std::fs::create_dir_all(&args.out).expect("output folder");
    let loss_svg = plot::line_chart(
        "Training loss (softmax cross-entropy), UCI digits MLP",
        "epoch",
        "mean training loss (log scale)",
        &loss_curves,
        true,
    );
    let norm_svg = plot::line_chart(
        "Gradient norm ‖∇J‖₂ over training (mean per epoch)",
        "epoch",
        "gradient norm (log scale)",
        &norm_curves,
        true,
    );
    std::fs::write(format!("{}/loss.svg", args.out), loss_svg).expect("write loss.svg");
    std::fs::write(format!("{}/grad_norm.svg", args.out), norm_svg).expect("write grad_norm.svg");
    println!("\nplots: {0}/loss.svg, {0}/grad_norm.svg", args.out);

    if args.check {
        // Every optimizer must learn: its loss falls and it beats chance (10 %) at least
        // threefold even in a short run (Lion's small learning rate needs a few epochs); with
        // the full schedule every one must pass 90 % and Adam 95 %.
        let floor = if args.epochs >= 20 { 0.9 } else { 0.3 };
        for (name, acc, first, last, _) in &rows {
            assert!(last < first, "{name}: loss did not fall ({first} → {last})");
            assert!(*acc > floor, "{name}: test accuracy {acc}");
        }
        if args.epochs >= 20 {
            let adam = rows.iter().find(|r| r.0 == "Adam").expect("Adam ran");
            assert!(adam.1 >= 0.95, "Adam reached only {}", adam.1);
        }
        // The Fast profile learns as well as Portable: within 0.3 points of test accuracy.
        for kernel in ["Adam", "Adagrad", "RMSprop"] {
            let acc = |profile| {
                let name = format!("{kernel} ({profile})");
                rows.iter().find(|r| r.0 == name).expect("ran").1
            };
            let (fast, portable) = (acc("Fast"), acc("Portable"));
            assert!(
                (fast - portable).abs() <= 0.003,
                "{kernel}: Fast {fast} vs Portable {portable}"
            );
        }
        // Mixed precision: every variant learns; with the full schedule bf16 and q8 states
        // stay within half a point of fp32 (seeds 7, 8, 9: fp32 97.8/97.2/97.2 %, bf16 states
        // 97.8/97.5/97.2 %, q8 states 97.8/97.5/97.2 %).
        let fp32 = mixed_rows.iter().find(|r| r.4 == Variant::Fp32).expect("fp32 ran").1;
        for (name, acc, _, _, variant) in &mixed_rows {
            assert!(*acc > floor, "{name}: test accuracy {acc}");
            if args.epochs >= 20 && matches!(variant, Variant::Bf16States | Variant::Q8States) {
                assert!(fp32 - acc <= 0.005, "{name}: {acc} vs fp32 {fp32}");
            }
        }
        println!("check: every optimizer learned");
    }
    Ok(())
}
