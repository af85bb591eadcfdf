//! The matrix product: its bit model (the documented per-element order) on every build, the
//! same bits at every lane width, the f64 reference within rounding, and errors that write
//! nothing.

mod common;
use common::{Data, Kind, assert_same_bits, bits};
use optkern::{GemmConfig, Numerics, Width};
use optkern_reference::{self as reference, bits::Ops};

/// Shapes around the tile edges (`MR` = 6, `NR` = 2·lanes), the packing blocks (`MC` = 72)
/// and the `k` blocks (256).
const SHAPES: &[[usize; 3]] = &[
    [1, 1, 1],
    [1, 7, 3],
    [7, 1, 5],
    [6, 16, 8],
    [13, 33, 17],
    [73, 40, 9],
    [5, 70, 257],
    [20, 19, 600],
    [0, 5, 5],
    [5, 5, 0],
];

struct Inputs {
    a: Vec<f32>,
    b: Vec<f32>,
    c: Vec<f32>,
    lda: usize,
    ldb: usize,
    ldc: usize,
}

/// Stored matrices with leading dimensions one longer than their rows (so `ld` is honoured).
fn inputs([m, n, k]: [usize; 3], trans_a: bool, trans_b: bool, seed: u64) -> Inputs {
    let mut d = Data::new(seed);
    let (ar, ac) = if trans_a { (k, m) } else { (m, k) };
    let (br, bc) = if trans_b { (n, k) } else { (k, n) };
    let (lda, ldb, ldc) = (ac + 1, bc + 1, n + 2);
    Inputs {
        a: d.vec(ar * lda, Kind::Signed).iter().map(|x| x * 10.0).collect(),
        b: d.vec(br * ldb, Kind::Signed).iter().map(|x| x * 10.0).collect(),
        c: d.vec(m * ldc, Kind::Signed),
        lda,
        ldb,
        ldc,
    }
}

fn configs() -> Vec<GemmConfig> {
    let mut out = Vec::new();
    for numerics in [Numerics::Torch, Numerics::Portable] {
        for (trans_a, trans_b) in [(false, false), (true, false), (false, true), (true, true)] {
            for (alpha, beta) in [(1.0, 0.0), (0.5, -2.0)] {
                out.push(GemmConfig { alpha, beta, trans_a, trans_b, numerics });
            }
        }
    }
    out
}

fn run(width: Width, x: &Inputs, shape: [usize; 3], cfg: &GemmConfig) -> Vec<f32> {
    let [m, n, k] = shape;
    let mut c = x.c.clone();
    let mut scratch = vec![f32::NAN; optkern::gemm_scratch_len(m, n, k)];
    optkern::gemm_with(width, &mut c, x.ldc, &x.a, x.lda, &x.b, x.ldb, shape, cfg, &mut scratch)
        .unwrap();
    c
}

#[test]
fn gemm_matches_its_bit_model_at_every_width() {
    for (s, &shape) in SHAPES.iter().enumerate() {
        for cfg in configs() {
            let x = inputs(shape, cfg.trans_a, cfg.trans_b, s as u64);
            let mut model = x.c.clone();
            let o = Ops {
                torch: cfg.numerics == Numerics::Torch,
                fused: optkern::FUSED_MUL_ADD,
                fast: None,
            };
            optkern_reference::bits::gemm(
                o,
                &mut model,
                x.ldc,
                &x.a,
                x.lda,
                cfg.trans_a,
                &x.b,
                x.ldb,
                cfg.trans_b,
                shape,
                cfg.alpha,
                cfg.beta,
                optkern::linalg::GEMM_KC,
            );
            for width in Width::ALL {
                let got = run(width, &x, shape, &cfg);
                assert_same_bits(&got, &model, &format!("{shape:?} {cfg:?} {width:?}"));
            }
        }
    }
}

#[test]
fn gemm_is_within_rounding_of_the_f64_product() {
    for (s, &shape) in SHAPES.iter().enumerate() {
        let [m, n, k] = shape;
        for cfg in configs() {
            let x = inputs(shape, cfg.trans_a, cfg.trans_b, 100 + s as u64);
            let got = run(Width::NATIVE, &x, shape, &cfg);
            let w = |v: &[f32]| v.iter().map(|&y| f64::from(y)).collect::<Vec<f64>>();
            let mut want = w(&x.c);
            let (alpha, beta) = (f64::from(cfg.alpha), f64::from(cfg.beta));
            let (a, b) = (w(&x.a), w(&x.b));
            let abs = |v: &[f64]| v.iter().map(|y| y.abs()).collect::<Vec<f64>>();
            reference::gemm(
                &mut want,
                x.ldc,
                &a,
                x.lda,
                cfg.trans_a,
                &b,
                x.ldb,
                cfg.trans_b,
                shape,
                alpha,
                beta,
            );
            // The error bound of a length-k dot product: k·2⁻²⁴·Σ|a||b| (+ the β term).
            let mut bound = vec![0.0; x.c.len()];
            reference::gemm(
                &mut bound,
                x.ldc,
                &abs(&a),
                x.lda,
                cfg.trans_a,
                &abs(&b),
                x.ldb,
                cfg.trans_b,
                shape,
                alpha.abs(),
                0.0,
            );
            for i in 0..m {
                for j in 0..n {
                    let at = i * x.ldc + j;
                    let tol =
                        (k as f64 + 2.0) * 6e-8 * (bound[at] + (beta * f64::from(x.c[at])).abs());
                    let err = (f64::from(got[at]) - want[at]).abs();
                    assert!(
                        err <= tol,
                        "{shape:?} {cfg:?} C[{i}][{j}]: {} vs {} (err {err:e} > {tol:e})",
                        got[at],
                        want[at]
                    );
                }
                // Past the row's n columns (the leading-dimension gap): untouched.
                for j in n..x.ldc {
                    assert_eq!(got[i * x.ldc + j].to_bits(), x.c[i * x.ldc + j].to_bits());
                }
            }
        }
    }
}

#[test]
fn beta_zero_does_not_read_c() {
    let shape = [9, 11, 4];
    let x = inputs(shape, false, false, 1);
    let mut nan = Inputs { c: vec![f32::NAN; x.c.len()], ..x };
    let got = run(Width::NATIVE, &nan, shape, &GemmConfig::default());
    assert!((0..9).all(|i| got[i * nan.ldc..i * nan.ldc + 11].iter().all(|v| v.is_finite())));
    nan.c.iter_mut().for_each(|v| *v = 1.0);
}

#[test]
fn gemm_errors_write_nothing() {
    let shape = [4, 5, 6];
    let x = inputs(shape, false, false, 2);
    let cfg = GemmConfig::default();
    let mut scratch = vec![0.0f32; optkern::gemm_scratch_len(4, 5, 6)];
    let call = |c: &mut [f32],
                ldc: usize,
                a: &[f32],
                lda: usize,
                b: &[f32],
                ldb: usize,
                cfg: &GemmConfig,
                scratch: &mut [f32]| {
        let before = bits(c);
        let r = optkern::gemm(c, ldc, a, lda, b, ldb, shape, cfg, scratch);
        if r.is_err() {
            assert_eq!(bits(c), before, "{r:?}: C changed");
        }
        r
    };
    let mut c = x.c.clone();
    assert!(call(&mut c, x.ldc, &x.a, x.lda, &x.b, x.ldb, &cfg, &mut scratch).is_ok());
    let mut c = x.c.clone();
    assert!(
        call(&mut c[..10], x.ldc, &x.a, x.lda, &x.b, x.ldb, &cfg, &mut scratch).is_err(),
        "short c"
    );
    assert!(
        call(&mut c, x.ldc, &x.a[..5], x.lda, &x.b, x.ldb, &cfg, &mut scratch).is_err(),
        "short a"
    );
    assert!(
        call(&mut c, x.ldc, &x.a, x.lda, &x.b[..3], x.ldb, &cfg, &mut scratch).is_err(),
        "short b"
    );
    assert!(call(&mut c, x.ldc, &x.a, 3, &x.b, x.ldb, &cfg, &mut scratch).is_err(), "lda < k");
    assert!(call(&mut c, 2, &x.a, x.lda, &x.b, x.ldb, &cfg, &mut scratch).is_err(), "ldc < n");
    assert!(
        call(&mut c, x.ldc, &x.a, x.lda, &x.b, x.ldb, &cfg, &mut scratch[..3]).is_err(),
        "short scratch"
    );
    let nan = GemmConfig { alpha: f32::NAN, ..cfg };
    assert!(
        call(&mut c, x.ldc, &x.a, x.lda, &x.b, x.ldb, &nan, &mut scratch).is_err(),
        "NaN alpha"
    );
    let inf = GemmConfig { beta: f32::INFINITY, ..cfg };
    assert!(
        call(&mut c, x.ldc, &x.a, x.lda, &x.b, x.ldb, &inf, &mut scratch).is_err(),
        "infinite beta"
    );
}
