//! Prints the results the C tests (tests/c/test_capi.c) must reproduce through the C API: the
//! same inputs, computed with the Rust API, as hex f32 bits.
//!
//! `cargo run --example capi_expected > expected.txt`

use optkern::{AdamConfig, LionConfig, Numerics, SgdConfig};

const N: usize = 37;

fn inputs(p: &mut [f32], g: &mut [f32], step: i32) {
    for i in 0..N {
        p[i] = (i % 7) as f32 * 0.25 - 0.5;
        g[i] = ((i as i32 * 3 + step) % 11) as f32 * 0.125 - 0.625;
    }
}

fn main() -> Result<(), optkern::Error> {
    for name in ["adam_torch", "adam_portable", "sgd_momentum", "lion"] {
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
    Ok(())
}
