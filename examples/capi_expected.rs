//! Prints the results the C tests (tests/c/test_capi.c) must reproduce through the C API: the
//! same inputs, computed with the Rust API, as hex f32 bits.
//!
//! `cargo run --example capi_expected > expected.txt`

use optkern::{
    AdamConfig, EmaConfig, LionConfig, MuonConfig, Numerics, SgdConfig, SparseAdamConfig,
    SwaConfig, SwaForm,
};

const N: usize = 37;

fn inputs(p: &mut [f32], g: &mut [f32], step: i32) {
    for i in 0..N {
        p[i] = (i % 7) as f32 * 0.25 - 0.5;
        g[i] = ((i as i32 * 3 + step) % 11) as f32 * 0.125 - 0.625;
    }
}

fn main() -> Result<(), optkern::Error> {
    for name in [
        "adam_torch",
        "adam_portable",
        "sgd_momentum",
        "lion",
        "swa_lerp",
        "ema_warmup",
        "sparse_adam",
    ] {
        let (mut p, mut g) = ([0.0f32; N], [0.0f32; N]);
        let (mut m, mut v, mut b) = ([0.0f32; N], [0.0f32; N], [0.0f32; N]);
        inputs(&mut p, &mut g, 0);
        for step in 1..=3u32 {
            inputs(&mut [0.0; N], &mut g, step as i32);
            match name {
                "adam_torch" | "adam_portable" => {
                    let numerics =
                        if name == "adam_torch" { Numerics::Torch } else { Numerics::Portable };
                    let cfg = AdamConfig { lr: 0.01, numerics, ..Default::default() };
                    optkern::adam_step(&mut p, &g, &mut m, &mut v, &mut [], step, &cfg)?;
                }
                "sgd_momentum" => {
                    let cfg = SgdConfig { lr: 0.1, momentum: 0.9, ..Default::default() };
                    optkern::sgd_step(&mut p, &g, &mut b, step, &cfg)?;
                }
                // The averages: `p` is the average, `g` the point averaged in.
                "swa_lerp" => {
                    let cfg = SwaConfig { form: SwaForm::Lerp, ..Default::default() };
                    optkern::swa_update(&mut p, &g, u64::from(step - 1), &cfg)?;
                }
                "ema_warmup" => {
                    let cfg = EmaConfig { decay: 0.9, warmup: true, ..Default::default() };
                    optkern::ema_update(&mut p, &g, step, &cfg)?;
                }
                // `p` as a 37 × 1 matrix; 5 gradient rows (row 3 twice) from `g`.
                "sparse_adam" => {
                    let cfg = SparseAdamConfig { lr: 0.01, ..Default::default() };
                    let (idx, mut scratch) = ([3, 1, 3, 30, 36], [0usize; 5]);
                    optkern::sparse_adam_step(
                        &mut p,
                        &mut m,
                        &mut v,
                        N,
                        1,
                        &idx,
                        &g[..5],
                        &mut scratch,
                        step,
                        &cfg,
                    )?;
                }
                // `p` as a 37 × 1 matrix (orthogonalised as its 1 × 37 transpose).
                "muon" => {
                    let cfg = MuonConfig { lr: 0.02, ..Default::default() };
                    let mut scratch = vec![0.0; optkern::muon_scratch_len(N, 1)];
                    optkern::muon_step(&mut p, &g, &mut b, N, 1, &mut scratch, &cfg)?;
                }
                _ => optkern::lion_step(
                    &mut p,
                    &g,
                    &mut m,
                    &LionConfig { lr: 0.01, ..Default::default() },
                )?,
            }
        }
        print!("{name}");
        for x in p {
            print!(" {:08x}", x.to_bits());
        }
        println!();
    }
    // Mixed formats: bf16 gradients, f32 master with a bf16 copy, q8 first moment (signed map,
    // nearest), bf16 second moment rounded stochastically (seed 5, counter = step).
    use optkern::format::*;
    let (mut p, mut g) = ([0.0f32; N], [0.0f32; N]);
    let mut copy = [bf16::ZERO; N];
    let (mut codes, mut absmax) = ([0u8; N], [0.0f32; 1]);
    let mut v = [bf16::ZERO; N];
    let mut g16 = [bf16::ZERO; N];
    inputs(&mut p, &mut g, 0);
    for step in 1..=3u32 {
        inputs(&mut [0.0; N], &mut g, step as i32);
        f32_to_bf16(&g, &mut g16, Rounding::Nearest, &Placement::default())?;
        let at = Placement { offset: 0, seed: 5, counter: u64::from(step) };
        let cfg = AdamConfig { lr: 0.01, ..Default::default() };
        optkern::adam_step_mixed(
            Params::F32WithCopy { master: &mut p, copy: HalfCopy::Bf16(&mut copy) },
            Grads::Bf16(&g16),
            State::Q8 {
                codes: &mut codes,
                absmax: &mut absmax,
                map: Q8Map::Signed,
                quantizer: Quantizer::Nearest,
            },
            State::Bf16 { values: &mut v, rounding: Rounding::Stochastic },
            State::Unused,
            step,
            &cfg,
            &at,
        )?;
    }
    let rows: [(&str, Vec<u32>); 5] = [
        ("adam_mixed_params", p.iter().map(|x| x.to_bits()).collect()),
        ("adam_mixed_copy", copy.iter().map(|x| u32::from(x.to_bits())).collect()),
        ("adam_mixed_codes", codes.iter().map(|&c| u32::from(c)).collect()),
        ("adam_mixed_v", v.iter().map(|x| u32::from(x.to_bits())).collect()),
        (
            "adam_mixed_absmax",
            (0..N).map(|i| if i == 0 { absmax[0].to_bits() } else { 0 }).collect(),
        ),
    ];
    print_rows(&rows);
    // Low-bit states: f32 parameters and gradients, torchao's q4 first moment (signed map) and
    // fp8 second moment.
    inputs(&mut p, &mut g, 0);
    let (mut q4, mut q4_scale) = ([0u8; N.div_ceil(2)], [0.0f32; 1]);
    let (mut fp8, mut fp8_scale) = ([0u8; N], [0.0f32; 1]);
    for step in 1..=3u32 {
        inputs(&mut [0.0; N], &mut g, step as i32);
        let cfg = AdamConfig { lr: 0.01, ..AdamConfig::adamw() };
        optkern::adam_step_mixed(
            Params::F32(&mut p),
            Grads::F32(&g),
            State::Q4 { codes: &mut q4, scale: &mut q4_scale, map: Q4Map::Signed },
            State::Fp8 { codes: &mut fp8, scale: &mut fp8_scale },
            State::Unused,
            step,
            &cfg,
            &Placement::default(),
        )?;
    }
    let first = |x: f32| (0..N).map(move |i| if i == 0 { x.to_bits() } else { 0 }).collect();
    let rows: [(&str, Vec<u32>); 5] = [
        ("adam_lowbit_params", p.iter().map(|x| x.to_bits()).collect()),
        ("adam_lowbit_q4", (0..N).map(|i| q4.get(i).map_or(0, |&c| u32::from(c))).collect()),
        ("adam_lowbit_q4_scale", first(q4_scale[0])),
        ("adam_lowbit_fp8", fp8.iter().map(|&c| u32::from(c)).collect()),
        ("adam_lowbit_fp8_scale", first(fp8_scale[0])),
    ];
    print_rows(&rows);
    Ok(())
}

/// One line per row: its name and `N` hex words.
fn print_rows(rows: &[(&str, Vec<u32>)]) {
    for (name, values) in rows {
        print!("{name}");
        for x in values {
            print!(" {x:08x}");
        }
        println!();
    }
}
