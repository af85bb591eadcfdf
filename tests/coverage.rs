//! Every optimizer kernel has its C function, its f64-reference and bit-model tests (a case in
//! `tests/common/kernels.rs`, whose `kernel!` entries require both, or a test of its own in
//! `tests/reference.rs` / `tests/bit_model.rs`), its bench and its fuzz check: a kernel added without one of them fails here, and the gaps that remain are listed
//! below with their reason (an entry that is no longer a gap fails too, so the list stays
//! true).

use std::fs;
use std::path::Path;

/// `(kernel, where, why)`: known gaps.
const GAPS: &[(&str, &str, &str)] = &[
    (
        "adamw_step",
        "bench",
        "adam_step with decoupled weight decay forced on: the same loop as the adam bench",
    ),
    (
        "adamw_step",
        "fuzz",
        "the adam fuzz check toggles decoupled_weight_decay on adam_step_with, the same loop",
    ),
    (
        "nesterov_lookahead",
        "bench",
        "one multiply-subtract per element into a separate output; the bench harness only \
         models in-place updates",
    ),
    (
        "adafactor_factored_step",
        "bench",
        "its buffers have three different lengths (rows·cols, rows, cols); the bench harness \
         models equal-length buffers",
    ),
    (
        "lamb_shard_moments",
        "bench",
        "the first of lamb_step's two loops, benched as part of lamb_step",
    ),
    (
        "lamb_shard_apply",
        "bench",
        "the second of lamb_step's two loops, benched as part of lamb_step",
    ),
    ("lamb_trust_ratio", "bench", "a sum over one f64 per 4096 elements: nothing to bench"),
    (
        "lamb_shard_moments",
        "fuzz",
        "lamb_step's first loop (fuzzed through lamb_step); tests/shard.rs checks the split \
         against lamb_step for every block split",
    ),
    (
        "lamb_shard_apply",
        "fuzz",
        "lamb_step's second loop (fuzzed through lamb_step); tests/shard.rs",
    ),
    ("lamb_trust_ratio", "fuzz", "a sum over the partials; tests/shard.rs"),
    (
        "adafactor_shard_moments",
        "bench",
        "the first of adafactor_step's two loops, benched as part of adafactor_step",
    ),
    (
        "adafactor_shard_apply",
        "bench",
        "the second of adafactor_step's two loops, benched as part of adafactor_step",
    ),
    ("adafactor_step_size", "bench", "a sum over one f64 per 4096 elements: nothing to bench"),
    (
        "adafactor_shard_moments",
        "fuzz",
        "adafactor_step's first loop (fuzzed through adafactor_step); tests/shard.rs checks the \
         split against adafactor_step for every block split",
    ),
    (
        "adafactor_shard_apply",
        "fuzz",
        "adafactor_step's second loop (fuzzed through adafactor_step); tests/shard.rs",
    ),
    ("adafactor_step_size", "fuzz", "a sum over the partials; tests/shard.rs"),
    (
        "adafactor_factored_shard_stats",
        "bench",
        "adafactor_factored_step's row and column statistics on a shard; the factored step has \
         no bench (three buffer lengths)",
    ),
    (
        "adafactor_factored_col_var",
        "bench",
        "one lerp per column from the carried sums: nothing to bench",
    ),
    (
        "adafactor_factored_shard_norms",
        "bench",
        "adafactor_factored_step's norm pass on a shard; the factored step has no bench",
    ),
    (
        "adafactor_factored_shard_apply",
        "bench",
        "adafactor_factored_step's update pass on a shard; the factored step has no bench",
    ),
    (
        "adafactor_factored_shard_stats",
        "fuzz",
        "as adafactor_factored_step (the fuzz Spec has one length); tests/shard.rs checks the \
         four passes against adafactor_factored_step for every sampled row split",
    ),
    ("adafactor_factored_col_var", "fuzz", "one lerp per column; tests/shard.rs"),
    ("adafactor_factored_shard_norms", "fuzz", "as adafactor_factored_step; tests/shard.rs"),
    ("adafactor_factored_shard_apply", "fuzz", "as adafactor_factored_step; tests/shard.rs"),
    ("lars_shard_norms", "bench", "lars_step's norm pass, benched as part of lars_step"),
    ("lars_shard_apply", "bench", "lars_step's update loop, benched as part of lars_step"),
    ("lars_local_lr", "bench", "a sum over one f64 per 4096 elements: nothing to bench"),
    (
        "lars_shard_norms",
        "fuzz",
        "lars_step's norm pass (fuzzed through lars_step); tests/shard.rs",
    ),
    (
        "lars_shard_apply",
        "fuzz",
        "lars_step's update loop (fuzzed through lars_step); tests/shard.rs",
    ),
    ("lars_local_lr", "fuzz", "a sum over the partials; tests/shard.rs"),
    (
        "adafactor_factored_step",
        "fuzz",
        "not yet: the fuzz Spec derives every buffer length from one n; the factored path is \
         covered by tests/reference.rs, bit_model.rs, errors.rs and portable_bits.rs",
    ),
];

fn read(path: &str) -> String {
    fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every `.rs` file under `dir`, recursively.
fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// The public kernels: `pub fn` items of `src/optim/**.rs` other than the width variants,
/// including those `rule_step!` defines (`    pub fn name / name_with / …`).
fn kernels() -> Vec<String> {
    let mut files = Vec::new();
    sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src/optim"), &mut files);
    let mut out = Vec::new();
    for file in files {
        let text = fs::read_to_string(file).expect("read");
        for line in text.lines() {
            let macro_form = line.contains(" / ");
            let item = if macro_form { line.trim_start() } else { line };
            let Some(rest) = item.strip_prefix("pub fn ") else { continue };
            let name: String =
                rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !name.is_empty() && !name.ends_with("_with") {
                out.push(name);
            }
        }
    }
    out.sort();
    out
}

/// Whether `text` calls `name` or its `_with` variant (as a whole identifier:
/// `stable_adamw_step(` is not a call of `adamw_step`).
fn calls(text: &str, name: &str) -> bool {
    [format!("{name}("), format!("{name}_with(")].iter().any(|pat| {
        text.match_indices(pat.as_str()).any(|(i, _)| {
            !text[..i].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
    })
}

#[test]
fn every_kernel_has_c_reference_bench_and_fuzz() {
    let kernels = kernels();
    assert!(kernels.len() >= 18, "found only {kernels:?}");
    let header = read("include/optkern.h");
    let places = [
        (
            "reference",
            read("tests/common/kernels.rs")
                + &read("tests/reference.rs")
                + &read("tests/bit_model.rs")
                // Sharded kernels: bit-identical to their one-call kernel for every split.
                + &read("tests/shard.rs")
                // Multi-pass kernels with carried sums (Prodigy).
                + &read("tests/parameter_free.rs"),
        ),
        ("bench", ["benches/common/mod.rs", "benches/optim.rs"].map(read).concat()),
        ("fuzz", read("fuzz/src/lib.rs")),
    ];
    let mut missing = Vec::new();
    for kernel in &kernels {
        if !header.contains(&format!("optkern_{kernel}(")) {
            missing.push(format!("{kernel}: no optkern_{kernel} in include/optkern.h"));
        }
        for (place, text) in &places {
            let gap = GAPS.iter().any(|(k, p, _)| k == kernel && p == place);
            match (calls(text, kernel), gap) {
                (false, false) => missing.push(format!("{kernel}: no {place}")),
                (true, true) => {
                    missing.push(format!("{kernel}: listed as a {place} gap but has one"))
                }
                _ => {}
            }
        }
    }
    for (kernel, _, _) in GAPS {
        assert!(kernels.contains(&kernel.to_string()), "gap for unknown kernel {kernel}");
    }
    assert!(missing.is_empty(), "{missing:#?}");
}
