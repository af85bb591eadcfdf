//! Blessed bits (f32 bit patterns in hex) of every kernel on fixed inputs:
//! - `tests/data/portable/optim.hex`: the `Portable` profile, which must give the same bits
//!   on every target and build: every leg of the RUSTFLAGS ladder reproduces it exactly;
//! - `tests/data/portable/optim-torch-fma.hex` / `optim-torch-nofma.hex`: the `Torch` profile,
//!   which is the same on every build with the same FMA availability. These are optkern's own
//!   golden vectors for the kernels PyTorch lacks (Lion, LAMB, LARS, factored Adafactor, the
//!   textbook forms) and a regression guard for the rest.
//!
//! Regenerate with `OPTKERN_BLESS=1 cargo test --test portable_bits` (once on a baseline
//! build and once with `-C target-cpu=native` for the two Torch files), only after a
//! deliberate change of an operation order; say so in the commit.

mod common;
use common::kernels::cases;
use optkern::{AdafactorConfig, Numerics, Width};
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use std::fmt::Write;

const N: usize = 37;
const STEPS: u32 = 5;

/// Inputs from integer operations only (no `ln`/`cos` whose bits could depend on the host's
/// libm): a 24-bit uniform in [-2, 2), with exact zeros, ±1e4 and a subnormal sprinkled in.
fn input(rng: &mut Xoshiro256PlusPlus, non_negative: bool) -> Vec<f32> {
    (0..N)
        .map(|i| {
            let u = (rng.next_u32() >> 8) as f32 * (1.0 / 16_777_216.0);
            let x = match i % 13 {
                3 => 0.0,
                7 => 1e4,
                11 => f32::from_bits(0x0000_0f00),
                _ => 4.0 * u - 2.0,
            };
            if non_negative { x.abs() * 0.01 } else { x }
        })
        .collect()
}

/// FNV-1a of a case name: a seed that depends on nothing else.
fn fnv1a(name: &str) -> u64 {
    name.bytes()
        .fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

fn render(profile: Numerics) -> String {
    let mut out = format!(
        "# optkern {profile:?}-profile results: every case of tests/common/kernels.rs in that\n\
         # profile, n = 37, 5 steps (step numbers 1..=5), inputs from Xoshiro256PlusPlus seeded\n\
         # by the FNV-1a hash of the case name (without the profile), then factored Adafactor\n\
         # on 3x13 and 8x5 from seed 2026 (see tests/portable_bits.rs). One line\n\
         # per final mutable buffer: case, buffer index, then the f32 bit patterns in hex.\n",
    );
    let suffix = format!("/{profile:?}");
    // The prepared Adam cases are left out: the same bits as the `adam/` lines by construction
    // (tests/widths.rs, `prepared_adam_equals_adam_step`, compares them bit for bit).
    let snapshot = |c: &common::kernels::Case| {
        c.name.ends_with(&suffix) && !c.name.starts_with("adam_prepared/")
    };
    for case in cases().into_iter().filter(snapshot) {
        // Each case draws from its own stream (seeded from its name without the profile), so
        // adding a case leaves every other line as it was.
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(fnv1a(case.name.trim_end_matches(&suffix)));
        let mut muts: Vec<Vec<f32>> =
            case.muts.iter().enumerate().map(|(k, _)| input(&mut rng, k >= 2)).collect();
        for t in 1..=STEPS {
            let ins: Vec<Vec<f32>> = case.ins.iter().map(|_| input(&mut rng, false)).collect();
            let in_refs: Vec<&[f32]> = ins.iter().map(|b| &b[..]).collect();
            let mut refs: Vec<&mut [f32]> = muts.iter_mut().map(|b| &mut b[..]).collect();
            (case.run)(Width::NATIVE, &mut refs, &in_refs, t).unwrap();
        }
        for (k, b) in muts.iter().enumerate() {
            write!(out, "{} {k}", case.name).unwrap();
            for x in b {
                write!(out, " {:08x}", x.to_bits()).unwrap();
            }
            out.push('\n');
        }
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2026);
    for (rows, cols) in [(3, 13), (8, 5)] {
        let cfg = AdafactorConfig { numerics: profile, weight_decay: 0.1, ..Default::default() };
        let n = rows * cols;
        let mut p: Vec<f32> = input(&mut rng, false).into_iter().cycle().take(n).collect();
        let (mut r, mut c) = (vec![0.0f32; rows], vec![0.0f32; cols]);
        for t in 1..=STEPS {
            let g: Vec<f32> = input(&mut rng, false).into_iter().cycle().take(n).collect();
            optkern::adafactor_factored_step(&mut p, &g, &mut r, &mut c, rows, cols, t, &cfg)
                .unwrap();
        }
        for (k, b) in [&p, &r, &c].into_iter().enumerate() {
            write!(out, "adafactor_factored/{rows}x{cols}/{profile:?} {k}").unwrap();
            for x in b {
                write!(out, " {:08x}", x.to_bits()).unwrap();
            }
            out.push('\n');
        }
    }
    out
}

#[test]
fn portable_results_match_the_blessed_bits() {
    check_blessed("optim.hex", Numerics::Portable);
}

#[test]
fn torch_results_match_the_blessed_bits_of_this_fma_availability() {
    let file = if optkern::FUSED_MUL_ADD { "optim-torch-fma.hex" } else { "optim-torch-nofma.hex" };
    check_blessed(file, Numerics::Torch);
}

fn check_blessed(file: &str, profile: Numerics) {
    let path = format!("{}/tests/data/portable/{file}", env!("CARGO_MANIFEST_DIR"));
    let path = path.as_str();
    let got = render(profile);
    if std::env::var_os("OPTKERN_BLESS").is_some() {
        std::fs::create_dir_all(std::path::Path::new(path).parent().unwrap()).unwrap();
        std::fs::write(path, &got).unwrap();
        println!("blessed {path}");
        return;
    }
    let want = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path}: {e} (bless with OPTKERN_BLESS=1)"));
    let (got_lines, want_lines): (Vec<_>, Vec<_>) = (got.lines().collect(), want.lines().collect());
    assert_eq!(
        got_lines.len(),
        want_lines.len(),
        "number of lines: a case was added or removed; bless deliberately"
    );
    let mut bad = 0;
    for (g, w) in got_lines.iter().zip(&want_lines) {
        if g != w {
            bad += 1;
            eprintln!("differs:\n  got  {g}\n  want {w}");
        }
    }
    assert_eq!(bad, 0, "{bad} lines differ from the blessed bits in {file}");
    println!("{} lines of blessed {profile:?} bits reproduced from {file}", want_lines.len());
}
