//! A RUSTFLAGS leg must really build what it claims: `.ci/run` sets
//! `OPTKERN_EXPECT_FEATURES` (comma-separated target features) for each leg, and this test
//! fails if any of them is not enabled at compile time, or is a name it does not know (a
//! mistyped flag must not quietly test the SSE2 path).

/// The target features a leg can expect, and whether this build has them.
const KNOWN: &[(&str, bool)] = &[
    ("sse2", cfg!(target_feature = "sse2")),
    ("sse4.1", cfg!(target_feature = "sse4.1")),
    ("sse4.2", cfg!(target_feature = "sse4.2")),
    ("avx", cfg!(target_feature = "avx")),
    ("avx2", cfg!(target_feature = "avx2")),
    ("fma", cfg!(target_feature = "fma")),
    ("avx512f", cfg!(target_feature = "avx512f")),
    ("avx512vl", cfg!(target_feature = "avx512vl")),
    ("neon", cfg!(target_feature = "neon")),
];

/// Features a leg must *not* have (prefix `-`), e.g. `-fma` for the baseline leg.
fn check(list: &str) -> Result<usize, String> {
    let mut checked = 0;
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (want, name) = match item.strip_prefix('-') {
            Some(name) => (false, name),
            None => (true, item),
        };
        let have = KNOWN
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or(format!("unknown target feature `{name}`"))?
            .1;
        if have != want {
            return Err(format!(
                "target feature `{name}` is {}enabled in this build",
                if have { "" } else { "not " }
            ));
        }
        checked += 1;
    }
    Ok(checked)
}

#[test]
fn expected_target_features_are_enabled() {
    match std::env::var("OPTKERN_EXPECT_FEATURES") {
        Ok(list) => {
            let n = check(&list).unwrap();
            println!("checked {n} target features: {list}");
            assert_eq!(
                optkern::FUSED_MUL_ADD,
                cfg!(target_feature = "fma") || cfg!(target_feature = "neon")
            );
        }
        Err(_) => println!("OPTKERN_EXPECT_FEATURES not set: only the checks below"),
    }
}

/// What a plain `cargo test` can check on any machine: every feature this build was compiled
/// for is present on the CPU running it (detected at run time), and the crate's own claims
/// follow from the compiled features: `FUSED_MUL_ADD` exactly when `fma` (x86-64), the native
/// width 16 lanes exactly with `avx512f`.
#[test]
fn compiled_features_are_consistent_with_this_cpu_and_the_crate() {
    #[cfg(target_arch = "x86_64")]
    {
        let detected = [
            ("sse2", std::arch::is_x86_feature_detected!("sse2")),
            ("sse4.1", std::arch::is_x86_feature_detected!("sse4.1")),
            ("sse4.2", std::arch::is_x86_feature_detected!("sse4.2")),
            ("avx", std::arch::is_x86_feature_detected!("avx")),
            ("avx2", std::arch::is_x86_feature_detected!("avx2")),
            ("fma", std::arch::is_x86_feature_detected!("fma")),
            ("avx512f", std::arch::is_x86_feature_detected!("avx512f")),
            ("avx512vl", std::arch::is_x86_feature_detected!("avx512vl")),
        ];
        let mut compiled = 0;
        for (name, on_cpu) in detected {
            let in_build = KNOWN.iter().find(|(n, _)| *n == name).unwrap().1;
            assert!(!in_build || on_cpu, "built for `{name}`, which this CPU lacks");
            compiled += usize::from(in_build);
        }
        assert!(compiled >= 1, "sse2 is part of every x86-64 build");
        assert_eq!(optkern::FUSED_MUL_ADD, cfg!(target_feature = "fma"));
        let lanes = if cfg!(target_feature = "avx512f") { 16 } else { 8 };
        assert_eq!(optkern::Width::NATIVE.lanes(), lanes);
        println!("{compiled} compiled features present; FMA {}", optkern::FUSED_MUL_ADD);
    }
}

#[test]
fn the_checker_rejects_wrong_claims() {
    assert!(check("no-such-feature").is_err());
    // sse2 is on every x86-64 build; "-sse2" must therefore fail there.
    if cfg!(target_arch = "x86_64") {
        assert!(check("sse2").is_ok());
        assert!(check("-sse2").is_err());
    }
}
