//! The C API's statuses and error records, called from Rust (so that `cargo mutants`, which runs
//! Rust tests only, sees the C API's checks; `tests/c/test_capi.c` checks the same from C).
//! Every record names the argument as the header does, the config field, the other buffer, a
//! reason and the offending number; a success leaves the record untouched.
#![cfg(feature = "capi")]
#![allow(unsafe_code)]

use core::ffi::{CStr, c_char};
use core::ptr::{null, null_mut};
use optkern::capi::format::{Buffer, optkern_adam_step_mixed, optkern_buffer_f32};
use optkern::capi::init::{
    optkern_init_kaiming, optkern_init_normal, optkern_init_uniform, optkern_rng, optkern_rng_seed,
    optkern_shuffle,
};
use optkern::capi::linalg::{optkern_gemm, optkern_gemm_scratch_len};
use optkern::capi::optim::{
    optkern_adam_prepare, optkern_adam_step, optkern_adam_step_prepared, optkern_sgd_step,
};
use optkern::capi::train::{optkern_grad_norm, optkern_lr_cosine, optkern_lr_cosine_decay};
use optkern::capi::{ErrorInfo, Status};
use optkern::{AdamConfig, AdamPrepared, GemmConfig, SgdConfig};

fn text(a: &[c_char; 32]) -> String {
    // SAFETY: the library NUL-terminates every name (31 bytes at most).
    unsafe { CStr::from_ptr(a.as_ptr()) }.to_str().expect("ASCII").to_owned()
}

/// Runs `call` with a record full of 0x5A bytes; returns the status and the record.
fn record(call: impl FnOnce(*mut ErrorInfo) -> Status) -> (Status, ErrorInfo) {
    let mut e = core::mem::MaybeUninit::<ErrorInfo>::uninit();
    // SAFETY: any bytes are a valid (if meaningless) record of integers, arrays and a pointer
    // that is only read through `CStr` after the library wrote it.
    let mut e = unsafe {
        core::ptr::write_bytes(e.as_mut_ptr(), 0x5A, 1);
        e.assume_init()
    };
    let s = call(&mut e);
    (s, e)
}

/// The status and the record name `argument`, `field`, `other`, with a reason.
#[track_caller]
fn expect(
    (s, e): (Status, ErrorInfo),
    want: Status,
    argument: &str,
    field: &str,
    other: &str,
) -> ErrorInfo {
    assert_eq!(s, want);
    assert_eq!(e.status, want, "record status");
    let names = (text(&e.argument), text(&e.field), text(&e.other));
    assert_eq!(names, (argument.into(), field.into(), other.into()));
    // SAFETY: a static NUL-terminated phrase.
    let reason = unsafe { CStr::from_ptr(e.reason) }.to_str().unwrap();
    assert!(!reason.is_empty());
    e
}

const N: usize = 37;

struct Adam {
    p: Vec<f32>,
    g: Vec<f32>,
    m: Vec<f32>,
    v: Vec<f32>,
}

impl Adam {
    fn new() -> Adam {
        let p = (0..N).map(|i| i as f32 * 0.1 - 1.0).collect();
        Adam { p, g: vec![0.25; N], m: vec![0.0; N], v: vec![0.0; N] }
    }

    fn step(&mut self, len: usize, step: u32, cfg: *const AdamConfig) -> (Status, ErrorInfo) {
        let (p, g, m, v) =
            (self.p.as_mut_ptr(), self.g.as_ptr(), self.m.as_mut_ptr(), self.v.as_mut_ptr());
        // SAFETY: each buffer holds N elements; the calls below pass len ≤ N or expect a
        // rejection before any access.
        record(|e| unsafe { optkern_adam_step(p, g, m, v, null_mut(), len, step, cfg, e) })
    }
}

#[test]
fn adam_records_name_the_argument_and_field() {
    let cfg = AdamConfig::default();
    let mut a = Adam::new();
    let before = a.p.clone();
    expect(a.step(N, 1, null()), Status::NullPointer, "cfg", "", "");
    let e = expect(a.step(N, 0, &cfg), Status::InvalidStep, "step", "", "");
    assert_eq!(e.value, 0.0);
    let bad = AdamConfig { lr: f64::NAN, ..cfg };
    let e = expect(a.step(N, 1, &bad), Status::InvalidHyperparameter, "cfg", "lr", "");
    assert!(e.value.is_nan());
    let bad = AdamConfig { beta2: 1.5, ..cfg };
    let e = expect(a.step(N, 1, &bad), Status::InvalidHyperparameter, "cfg", "beta2", "");
    assert_eq!(e.value, 1.5);
    let bad = AdamConfig { weight_decay: f64::INFINITY, ..cfg };
    expect(a.step(N, 1, &bad), Status::InvalidHyperparameter, "cfg", "weight_decay", "");
    // A bool that is neither 0 nor 1, an enum out of range: found by raw reads.
    let mut raw = cfg;
    // SAFETY: writes one byte into the `amsgrad` field's storage.
    unsafe { core::ptr::addr_of_mut!(raw.amsgrad).cast::<u8>().write(2) };
    expect(a.step(N, 1, &raw), Status::InvalidHyperparameter, "cfg", "amsgrad", "");
    let mut raw = cfg;
    // SAFETY: writes the `numerics` field's u32 storage.
    unsafe { core::ptr::addr_of_mut!(raw.numerics).cast::<u32>().write(7) };
    expect(a.step(N, 1, &raw), Status::InvalidHyperparameter, "cfg", "numerics", "");
    let e = expect(a.step(usize::MAX / 2, 1, &cfg), Status::InvalidLength, "len", "", "params");
    assert_eq!(e.value, (usize::MAX / 2) as f64);
    assert_eq!(a.p, before, "a rejected call wrote the parameters");
    // Success: the record is left as it was.
    let (s, e) = a.step(N, 1, &cfg);
    assert_eq!(s, Status::Ok);
    assert!(e.argument.iter().all(|&c| c as u8 == 0x5A));
}

/// The prepared Adam step: `optkern_adam_prepare` checks as `optkern_adam_step` does and
/// writes nothing on a rejection; `optkern_adam_step_prepared` names `prepared` and the field
/// it found wrong (a bool in its config, a correction, the step), writes nothing then, and
/// gives `optkern_adam_step`'s bits otherwise.
#[test]
fn prepared_adam_records_name_the_field() {
    let cfg = AdamConfig { weight_decay: 0.01, ..Default::default() };
    let mut k = core::mem::MaybeUninit::<AdamPrepared>::uninit();
    // SAFETY: valid pointers; the out-pointer is written only on success.
    unsafe {
        expect(
            record(|e| optkern_adam_prepare(null(), 1, k.as_mut_ptr(), e)),
            Status::NullPointer,
            "cfg",
            "",
            "",
        );
        expect(
            record(|e| optkern_adam_prepare(&cfg, 1, null_mut(), e)),
            Status::NullPointer,
            "prepared_out",
            "",
            "",
        );
        expect(
            record(|e| optkern_adam_prepare(&cfg, 0, k.as_mut_ptr(), e)),
            Status::InvalidStep,
            "step",
            "",
            "",
        );
        let bad = AdamConfig { beta1: 1.0, ..cfg };
        expect(
            record(|e| optkern_adam_prepare(&bad, 1, k.as_mut_ptr(), e)),
            Status::InvalidHyperparameter,
            "cfg",
            "beta1",
            "",
        );
        assert_eq!(record(|e| optkern_adam_prepare(&cfg, 7, k.as_mut_ptr(), e)).0, Status::Ok);
    }
    // SAFETY: the successful call above wrote it.
    let k = unsafe { k.assume_init() };
    assert_eq!(k, cfg.prepare(7).unwrap());
    let (mut a, mut b) = (Adam::new(), Adam::new());
    let call = |a: &mut Adam, k: *const AdamPrepared| {
        let (p, g, m, v) = (a.p.as_mut_ptr(), a.g.as_ptr(), a.m.as_mut_ptr(), a.v.as_mut_ptr());
        // SAFETY: each buffer holds N elements.
        record(|e| unsafe { optkern_adam_step_prepared(p, g, m, v, null_mut(), N, k, e) })
    };
    let before = a.p.clone();
    expect(call(&mut a, null()), Status::NullPointer, "prepared", "", "");
    let mut raw = k;
    // SAFETY: writes one byte into the `maximize` field's storage.
    unsafe { core::ptr::addr_of_mut!(raw.cfg.maximize).cast::<u8>().write(3) };
    expect(call(&mut a, &raw), Status::InvalidHyperparameter, "prepared", "maximize", "");
    let bad = AdamPrepared { bias_correction2_sqrt: 0.0, ..k };
    let e = expect(
        call(&mut a, &bad),
        Status::InvalidHyperparameter,
        "prepared",
        "bias_correction2_sqrt",
        "",
    );
    assert_eq!(e.value, 0.0);
    let bad = AdamPrepared { cfg: AdamConfig { eps: -1.0, ..cfg }, ..k };
    expect(call(&mut a, &bad), Status::InvalidHyperparameter, "prepared", "eps", "");
    let bad = AdamPrepared { step: 0, ..k };
    expect(call(&mut a, &bad), Status::InvalidStep, "prepared", "step", "");
    assert_eq!(a.p, before, "a rejected call wrote the parameters");
    assert_eq!(call(&mut a, &k).0, Status::Ok);
    assert_eq!(b.step(N, 7, &cfg).0, Status::Ok);
    let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!((bits(&a.p), bits(&a.m), bits(&a.v)), (bits(&b.p), bits(&b.m), bits(&b.v)));
    assert_ne!(a.p, before);
}

/// The prepared NAdam step: `optkern_nadam_prepare` checks as `optkern_nadam_step` does and
/// writes nothing on a rejection; `optkern_nadam_step_prepared` names `prepared` and the field
/// it found wrong (a power, its config, the step) or `state`, writes nothing then (`state`
/// included), and gives `optkern_nadam_step`'s bits and state otherwise.
#[test]
fn prepared_nadam_records_name_the_field() {
    use optkern::capi::optim::{
        optkern_nadam_prepare, optkern_nadam_step, optkern_nadam_step_prepared,
    };
    use optkern::{NadamConfig, NadamPrepared, NadamState};
    let cfg = NadamConfig { weight_decay: 0.01, ..Default::default() };
    let mut k = core::mem::MaybeUninit::<NadamPrepared>::uninit();
    // SAFETY: valid pointers; the out-pointer is written only on success.
    unsafe {
        let prepare = |c: *const NadamConfig, t: u32, out: *mut NadamPrepared| {
            record(|e| optkern_nadam_prepare(c, t, out, e))
        };
        expect(prepare(null(), 1, k.as_mut_ptr()), Status::NullPointer, "cfg", "", "");
        expect(prepare(&cfg, 1, null_mut()), Status::NullPointer, "prepared_out", "", "");
        expect(prepare(&cfg, 0, k.as_mut_ptr()), Status::InvalidStep, "step", "", "");
        let bad = NadamConfig { momentum_decay: -1.0, ..cfg };
        let e = prepare(&bad, 1, k.as_mut_ptr());
        expect(e, Status::InvalidHyperparameter, "cfg", "momentum_decay", "");
        assert_eq!(prepare(&cfg, 7, k.as_mut_ptr()).0, Status::Ok);
    }
    // SAFETY: the successful call above wrote it.
    let k = unsafe { k.assume_init() };
    assert_eq!(k, cfg.prepare(7).unwrap());
    let start = |x: f32| vec![x; N];
    let (mut p, g, mut m, mut v) = (start(1.0), start(0.5), start(0.1), start(0.2));
    let mut state = NadamState { mu_product: 0.5 };
    let before = (p.clone(), m.clone(), v.clone());
    let (pp, gp, mp, vp) = (p.as_mut_ptr(), g.as_ptr(), m.as_mut_ptr(), v.as_mut_ptr());
    let call = |k: *const NadamPrepared, st: *mut NadamState| {
        // SAFETY: each buffer holds N elements.
        record(|e| unsafe { optkern_nadam_step_prepared(pp, gp, mp, vp, st, N, k, e) })
    };
    expect(call(null(), &mut state), Status::NullPointer, "prepared", "", "");
    expect(call(&k, null_mut()), Status::NullPointer, "state", "", "");
    let bad = NadamPrepared { mu_next: 1.0, ..k };
    let e =
        expect(call(&bad, &mut state), Status::InvalidHyperparameter, "prepared", "mu_next", "");
    assert_eq!(e.value, 1.0);
    let bad = NadamPrepared { bias_correction2: f64::NAN, ..k };
    expect(
        call(&bad, &mut state),
        Status::InvalidHyperparameter,
        "prepared",
        "bias_correction2",
        "",
    );
    let bad = NadamPrepared { cfg: NadamConfig { eps: -1.0, ..cfg }, ..k };
    expect(call(&bad, &mut state), Status::InvalidHyperparameter, "prepared", "eps", "");
    let bad = NadamPrepared { step: 0, ..k };
    expect(call(&bad, &mut state), Status::InvalidStep, "prepared", "step", "");
    assert_eq!(state.mu_product, 0.5, "a rejected call wrote the state");
    assert_eq!((&p, &m, &v), (&before.0, &before.1, &before.2), "a rejected call wrote");
    assert_eq!(call(&k, &mut state).0, Status::Ok);
    let (mut p2, mut m2, mut v2) = before.clone();
    let mut state2 = NadamState { mu_product: 0.5 };
    let (pp, gp, mp, vp) = (p2.as_mut_ptr(), g.as_ptr(), m2.as_mut_ptr(), v2.as_mut_ptr());
    // SAFETY: each buffer holds N elements.
    let s = record(|e| unsafe { optkern_nadam_step(pp, gp, mp, vp, &mut state2, N, 7, &cfg, e) });
    assert_eq!(s.0, Status::Ok);
    let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!((bits(&p), bits(&m), bits(&v)), (bits(&p2), bits(&m2), bits(&v2)));
    assert_eq!(state.mu_product.to_bits(), state2.mu_product.to_bits());
    assert_ne!(p, before.0);
}

/// The prepared RAdam step, as the prepared NAdam step above: the prepare call checks and
/// writes nothing on a rejection; the step names `prepared` and the field, writes nothing
/// then, and gives `optkern_radam_step`'s bits otherwise.
#[test]
fn prepared_radam_records_name_the_field() {
    use optkern::capi::optim::{
        optkern_radam_prepare, optkern_radam_step, optkern_radam_step_prepared,
    };
    use optkern::{RadamConfig, RadamPrepared};
    let cfg = RadamConfig { weight_decay: 0.01, ..Default::default() };
    let mut k = core::mem::MaybeUninit::<RadamPrepared>::uninit();
    // SAFETY: valid pointers; the out-pointer is written only on success.
    unsafe {
        let prepare = |c: *const RadamConfig, t: u32, out: *mut RadamPrepared| {
            record(|e| optkern_radam_prepare(c, t, out, e))
        };
        expect(prepare(null(), 1, k.as_mut_ptr()), Status::NullPointer, "cfg", "", "");
        expect(prepare(&cfg, 1, null_mut()), Status::NullPointer, "prepared_out", "", "");
        expect(prepare(&cfg, 0, k.as_mut_ptr()), Status::InvalidStep, "step", "", "");
        let bad = RadamConfig { beta2: 1.0, ..cfg };
        expect(prepare(&bad, 1, k.as_mut_ptr()), Status::InvalidHyperparameter, "cfg", "beta2", "");
        assert_eq!(prepare(&cfg, 9, k.as_mut_ptr()).0, Status::Ok);
    }
    // SAFETY: the successful call above wrote it.
    let k = unsafe { k.assume_init() };
    assert_eq!(k, cfg.prepare(9).unwrap());
    let start = |x: f32| vec![x; N];
    let (mut p, g, mut m, mut v) = (start(1.0), start(0.5), start(0.1), start(0.2));
    let before = (p.clone(), m.clone(), v.clone());
    let (pp, gp, mp, vp) = (p.as_mut_ptr(), g.as_ptr(), m.as_mut_ptr(), v.as_mut_ptr());
    let call = |k: *const RadamPrepared| {
        // SAFETY: each buffer holds N elements.
        record(|e| unsafe { optkern_radam_step_prepared(pp, gp, mp, vp, N, k, e) })
    };
    expect(call(null()), Status::NullPointer, "prepared", "", "");
    let bad = RadamPrepared { rectifier: -1.0, ..k };
    let e = expect(call(&bad), Status::InvalidHyperparameter, "prepared", "rectifier", "");
    assert_eq!(e.value, -1.0);
    let bad = RadamPrepared { bias_correction1: 0.0, ..k };
    expect(call(&bad), Status::InvalidHyperparameter, "prepared", "bias_correction1", "");
    let bad = RadamPrepared { cfg: RadamConfig { lr: f64::NAN, ..cfg }, ..k };
    expect(call(&bad), Status::InvalidHyperparameter, "prepared", "lr", "");
    let bad = RadamPrepared { step: 0, ..k };
    expect(call(&bad), Status::InvalidStep, "prepared", "step", "");
    assert_eq!((&p, &m, &v), (&before.0, &before.1, &before.2), "a rejected call wrote");
    assert_eq!(call(&k).0, Status::Ok);
    let (mut p2, mut m2, mut v2) = before.clone();
    let (pp, gp, mp, vp) = (p2.as_mut_ptr(), g.as_ptr(), m2.as_mut_ptr(), v2.as_mut_ptr());
    // SAFETY: each buffer holds N elements.
    let s = record(|e| unsafe { optkern_radam_step(pp, gp, mp, vp, N, 9, &cfg, e) });
    assert_eq!(s.0, Status::Ok);
    let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!((bits(&p), bits(&m), bits(&v)), (bits(&p2), bits(&m2), bits(&v2)));
    assert_ne!(p, before.0);
}

#[test]
fn buffer_records_name_the_buffer_and_what_it_overlaps() {
    let cfg = AdamConfig::default();
    let (mut p, g, mut m) = (vec![1.0f32; 2 * N], vec![0.5f32; N], vec![0.0f32; N]);
    let (pp, gp, mp) = (p.as_mut_ptr(), g.as_ptr(), m.as_mut_ptr());
    // SAFETY: every pointer is valid for N elements (p for 2N).
    unsafe {
        let call = |params: *mut f32, grads: *const f32, v: *mut f32| {
            record(|e| optkern_adam_step(params, grads, mp, v, null_mut(), N, 1, &cfg, e))
        };
        expect(call(null_mut(), gp, pp.add(N)), Status::NullPointer, "params", "", "");
        expect(call(pp, null(), pp.add(N)), Status::NullPointer, "grads", "", "");
        expect(call(pp, gp, null_mut()), Status::NullPointer, "exp_avg_sq", "", "");
        let odd = pp.cast::<u8>().add(1).cast::<f32>();
        expect(call(odd, gp, pp.add(N)), Status::Misaligned, "params", "", "");
        // exp_avg_sq starts inside params: the written one is named, then the other.
        expect(call(pp, gp, pp.add(N - 1)), Status::Overlap, "params", "", "exp_avg_sq");
        // A read buffer overlapping a written one: the written one first.
        expect(call(pp, pp.add(N - 1), pp.add(N)), Status::Overlap, "params", "", "grads");
        // Adjacent buffers are fine.
        assert_eq!(call(pp, gp, pp.add(N)).0, Status::Ok);
        // An optional buffer the options need.
        let ams = AdamConfig { amsgrad: true, ..cfg };
        let (s, e) =
            record(|e| optkern_adam_step(pp, gp, mp, pp.add(N), null_mut(), N, 1, &ams, e));
        expect((s, e), Status::NullPointer, "max_exp_avg_sq", "", "");
        // Empty buffers hold no byte, so they overlap nothing, wherever they point: a call of
        // length 0 with every pointer the same (or inside another's range) is accepted.
        let same = |e| optkern_adam_step(pp, pp, pp, pp, pp, 0, 1, &ams, e);
        assert_eq!(record(same).0, Status::Ok);
        let inside = |e| optkern_adam_step(pp.add(1), pp, pp.add(2), pp, null_mut(), 0, 1, &cfg, e);
        assert_eq!(record(inside).0, Status::Ok);
    }
}

#[test]
fn records_of_calls_without_a_config_name_the_argument_itself() {
    let mut lr = 0.0f64;
    // SAFETY: `lr` is a valid out-pointer; the rest are numbers.
    unsafe {
        expect(
            record(|e| optkern_lr_cosine(0.1, 0, 0.0, 5, &mut lr, e)),
            Status::InvalidHyperparameter,
            "t_max",
            "",
            "",
        );
        let e = expect(
            record(|e| optkern_lr_cosine(f64::NAN, 10, 0.0, 5, &mut lr, e)),
            Status::InvalidHyperparameter,
            "base_lr",
            "",
            "",
        );
        assert!(e.value.is_nan());
        expect(
            record(|e| optkern_lr_cosine(0.1, 10, 0.0, 5, null_mut(), e)),
            Status::NullPointer,
            "lr_out",
            "",
            "",
        );
        let (s, _) = record(|e| optkern_lr_cosine(0.1, 10, 0.0, 5, &mut lr, e));
        assert_eq!(s, Status::Ok);
        assert!((lr - 0.05).abs() < 1e-12);
        let (s, _) = record(|e| optkern_lr_cosine_decay(0.1, 10, 0.0, 1.0, 5, &mut lr, e));
        assert_eq!(s, Status::Ok);
        expect(
            record(|e| optkern_lr_cosine_decay(0.1, 10, 0.0, f64::NAN, 5, &mut lr, e)),
            Status::InvalidHyperparameter,
            "exponent",
            "",
            "",
        );
    }
}

#[test]
fn enum_arguments_report_their_value() {
    let g = [0.5f32; 8];
    let list = [g.as_ptr()];
    let lens = [g.len()];
    let mut total = 0.0f32;
    // SAFETY: one valid buffer in the list, a valid out-pointer.
    unsafe {
        let e = expect(
            record(|e| optkern_grad_norm(list.as_ptr(), lens.as_ptr(), 1, 9, 0.0, &mut total, e)),
            Status::InvalidHyperparameter,
            "norm_kind",
            "",
            "",
        );
        assert_eq!(e.value, 9.0);
        let e = expect(
            record(|e| optkern_grad_norm(list.as_ptr(), lens.as_ptr(), 1, 3, -1.0, &mut total, e)),
            Status::InvalidHyperparameter,
            "p",
            "",
            "",
        );
        assert_eq!(e.value, -1.0);
        let (s, _) =
            record(|e| optkern_grad_norm(list.as_ptr(), lens.as_ptr(), 1, 0, 0.0, &mut total, e));
        assert_eq!(s, Status::Ok);
        assert!((total - 0.5 * 8f32.sqrt()).abs() < 1e-6);
        let mut rng = optkern_rng { state: [0; 4] };
        assert_eq!(optkern_rng_seed(&mut rng, 1, null_mut()), Status::Ok);
        let mut out = vec![0.0f32; 12];
        let shape = [3usize, 4];
        let kaiming = |mode, nl, normal, rng: &mut optkern_rng, out: &mut [f32]| {
            record(|e| {
                optkern_init_kaiming(
                    out.as_mut_ptr(),
                    shape.as_ptr(),
                    2,
                    mode,
                    nl,
                    0.0,
                    normal,
                    rng,
                    e,
                )
            })
        };
        expect(kaiming(4, 4, 0, &mut rng, &mut out), Status::InvalidHyperparameter, "mode", "", "");
        expect(
            kaiming(0, 7, 0, &mut rng, &mut out),
            Status::InvalidHyperparameter,
            "nonlinearity_kind",
            "",
            "",
        );
        expect(
            kaiming(0, 4, 2, &mut rng, &mut out),
            Status::InvalidHyperparameter,
            "normal",
            "",
            "",
        );
        assert_eq!(kaiming(0, 4, 1, &mut rng, &mut out).0, Status::Ok);
        assert!(out.iter().any(|&x| x != 0.0));
        expect(
            record(|e| optkern_init_uniform(out.as_mut_ptr(), 12, 0.0, 1.0, null_mut(), e)),
            Status::NullPointer,
            "rng",
            "",
            "",
        );
    }
}

#[test]
fn gemm_checks_the_stored_lengths_exactly() {
    // C (2 × 3, ldc 3) and A (2 × 4, lda 4) side by side in one allocation: the exact stored
    // lengths (rows − 1)·ld + cols do not overlap; anything longer would.
    let (m, n, k) = (2, 3, 4);
    let mut mem = vec![0.0f32; m * n + m * k];
    let b = vec![1.0f32; k * n];
    let cfg = GemmConfig::default();
    let scratch = vec![0.0f32; optkern_gemm_scratch_len(m, n, k)];
    let base = mem.as_mut_ptr();
    for (i, x) in mem[m * n..].iter_mut().enumerate() {
        *x = i as f32;
    }
    // SAFETY: C is mem[..6], A is mem[6..14], B and the scratch are their own vectors.
    unsafe {
        let (c, a) = (base, base.add(m * n).cast_const());
        let call = |scratch_len: usize, ldc: usize| {
            let sp = scratch.as_ptr().cast_mut();
            record(|e| optkern_gemm(c, ldc, a, k, b.as_ptr(), n, m, n, k, &cfg, sp, scratch_len, e))
        };
        let (s, _) = call(scratch.len(), n);
        assert_eq!(s, Status::Ok);
        // Row i of C = the sum of row i of A (B is all ones).
        assert_eq!(mem[..m * n], [6.0, 6.0, 6.0, 22.0, 22.0, 22.0]);
        // ldc 4 makes C's stored length 7: it now reaches into A.
        expect(call(scratch.len(), n + 1), Status::Overlap, "c", "", "a");
        let e = expect(call(scratch.len() - 1, n), Status::InvalidLength, "scratch_len", "", "");
        assert_eq!(e.value, (scratch.len() - 1) as f64);
    }
}

#[test]
fn mixed_format_records_name_the_descriptor_and_its_field() {
    let cfg = AdamConfig::default();
    let (mut p, mut g, mut v) = (vec![1.0f32; N], vec![0.5f32; N], vec![0.0f32; N]);
    let mut codes = vec![0u8; N];
    let bp = optkern_buffer_f32(p.as_mut_ptr());
    let bg = optkern_buffer_f32(g.as_mut_ptr());
    let bv = optkern_buffer_f32(v.as_mut_ptr());
    let none = Buffer { format: 4, ..optkern_buffer_f32(null_mut()) };
    let q8_no_absmax = Buffer { format: 3, data: codes.as_mut_ptr().cast(), ..none };
    let format9 = Buffer { format: 9, ..bv };
    let rounding2 = Buffer { rounding: 2, ..bv };
    let map2 = Buffer { map: 2, ..bv };
    let quantizer3 = Buffer { quantizer: 3, ..q8_no_absmax };
    // SAFETY: every descriptor points to N elements or is rejected before any access.
    unsafe {
        let call = |m: &Buffer, v: &Buffer| {
            record(|e| optkern_adam_step_mixed(&bp, &bg, m, v, &none, N, 1, &cfg, null(), e))
        };
        let e = expect(call(&format9, &bv), Status::InvalidFormat, "exp_avg", "format", "");
        assert_eq!(e.value, 9.0);
        expect(call(&bv, &rounding2), Status::InvalidFormat, "exp_avg_sq", "rounding", "");
        // Checked for every format, before the regions (the q8 one has no absmax).
        let e = expect(call(&bv, &map2), Status::InvalidFormat, "exp_avg_sq", "map", "");
        assert_eq!(e.value, 2.0);
        let e = expect(call(&quantizer3, &bv), Status::InvalidFormat, "exp_avg", "quantizer", "");
        assert_eq!(e.value, 3.0);
        expect(call(&q8_no_absmax, &bv), Status::NullPointer, "exp_avg", "absmax", "");
        expect(call(&bp, &bv), Status::Overlap, "params", "", "exp_avg");
        let (s, e) = record(|e| {
            optkern_adam_step_mixed(&bp, null(), &bv, &bv, &none, N, 1, &cfg, null(), e)
        });
        expect((s, e), Status::NullPointer, "grads", "", "");
    }
    let _ = (&mut p, &mut g);
}

#[test]
fn a_null_or_misaligned_record_is_not_written() {
    let cfg = SgdConfig { lr: f64::NAN, ..SgdConfig::default() };
    let mut p = vec![1.0f32; 4];
    let g = [0.5f32; 4];
    let mut raw = [0x5Au8; core::mem::size_of::<ErrorInfo>() + 8];
    // SAFETY: valid buffers; the record pointers are NULL or point into `raw` (misaligned:
    // the library must not write through it).
    unsafe {
        let s = optkern_sgd_step(p.as_mut_ptr(), g.as_ptr(), null_mut(), 4, 1, &cfg, null_mut());
        assert_eq!(s, Status::InvalidHyperparameter);
        let odd = raw.as_mut_ptr().add(1).cast::<ErrorInfo>();
        let s = optkern_sgd_step(p.as_mut_ptr(), g.as_ptr(), null_mut(), 4, 1, &cfg, odd);
        assert_eq!(s, Status::InvalidHyperparameter);
    }
    assert!(raw.iter().all(|&b| b == 0x5A), "a misaligned record was written");
}

#[test]
fn every_enum_value_is_accepted_and_the_next_one_refused() {
    use optkern::capi::init::{optkern_calculate_gain, optkern_init_variance_scaling};
    use optkern::capi::train::optkern_lr_one_cycle;
    use optkern::{Nonlinearity, calculate_gain};
    let kinds = [
        Nonlinearity::Linear,
        Nonlinearity::Conv,
        Nonlinearity::Sigmoid,
        Nonlinearity::Tanh,
        Nonlinearity::Relu,
        Nonlinearity::LeakyRelu(0.2),
        Nonlinearity::Selu,
    ];
    let mut rng = optkern_rng { state: [0; 4] };
    let (mut out, shape) = (vec![0.0f32; 12], [3usize, 4]);
    let mut lr = [0.0f64; 2];
    // SAFETY: valid out-pointers, a 12-element output for a 3 × 4 shape.
    unsafe {
        for (k, kind) in kinds.into_iter().enumerate() {
            let mut gain = 0.0;
            assert_eq!(optkern_calculate_gain(k as u32, 0.2, &mut gain, null_mut()), Status::Ok);
            assert_eq!(gain, calculate_gain(kind).unwrap(), "kind {k}");
        }
        let mut gain = 0.0;
        expect(
            record(|e| optkern_calculate_gain(7, 0.0, &mut gain, e)),
            Status::InvalidHyperparameter,
            "nonlinearity_kind",
            "",
            "",
        );
        assert_eq!(optkern_rng_seed(&mut rng, 3, null_mut()), Status::Ok);
        let vs = |mode, dist, rng: &mut optkern_rng, out: &mut [f32]| {
            record(|e| {
                optkern_init_variance_scaling(
                    out.as_mut_ptr(),
                    shape.as_ptr(),
                    2,
                    1.0,
                    mode,
                    dist,
                    rng,
                    e,
                )
            })
        };
        let mut draws = Vec::new();
        for mode in 0..4 {
            for dist in 0..3 {
                assert_eq!(
                    vs(mode, dist, &mut rng, &mut out).0,
                    Status::Ok,
                    "mode {mode}, distribution {dist}"
                );
                draws.push(out.clone());
            }
        }
        draws.dedup();
        assert_eq!(draws.len(), 12, "every mode and distribution draws");
        expect(vs(4, 0, &mut rng, &mut out), Status::InvalidHyperparameter, "mode", "", "");
        expect(vs(0, 3, &mut rng, &mut out), Status::InvalidHyperparameter, "distribution", "", "");
        // OneCycleLR a quarter into its decay: cos and linear annealing differ.
        for anneal in 0..2 {
            let s = optkern_lr_one_cycle(
                1.0,
                100,
                0.2,
                anneal,
                25.0,
                1e4,
                0,
                0.85,
                0.95,
                40,
                &mut lr[anneal as usize],
                null_mut(),
                null_mut(),
            );
            assert_eq!(s, Status::Ok);
        }
        assert!(lr[0] != lr[1] && lr.iter().all(|x| (0.0..=1.0).contains(x)), "{lr:?}");
        let mut x = 0.0;
        expect(
            record(|e| {
                optkern_lr_one_cycle(
                    1.0,
                    100,
                    0.2,
                    2,
                    25.0,
                    1e4,
                    0,
                    0.85,
                    0.95,
                    40,
                    &mut x,
                    null_mut(),
                    e,
                )
            }),
            Status::InvalidHyperparameter,
            "anneal",
            "",
            "",
        );
    }
}

#[test]
fn every_status_has_its_own_description() {
    use optkern::capi::optkern_status_str;
    let text = |s: u32| {
        // SAFETY: a static NUL-terminated string, never NULL.
        unsafe { CStr::from_ptr(optkern_status_str(s)) }.to_str().unwrap().to_owned()
    };
    let all: Vec<String> = (0..=13).map(text).collect();
    assert_eq!(all[0], "ok");
    assert_eq!(all[13], "unknown status");
    assert_eq!(text(u32::MAX), "unknown status");
    for (i, a) in all.iter().enumerate() {
        assert!(!a.is_empty());
        assert!(all[..i].iter().all(|b| b != a), "status {i} shares its description: {a}");
    }
}

#[test]
fn build_info_and_level_selection_describe_this_build() {
    use optkern::capi::{optkern_build_info, optkern_select_level};
    // The level this test binary was compiled for (the library shares its target features).
    let level = if cfg!(all(target_feature = "avx512f", target_feature = "avx512vl")) {
        4
    } else if cfg!(all(target_feature = "avx2", target_feature = "fma")) {
        3
    } else {
        1
    };
    let want = match level {
        4 => "x86-64-v4 (avx512f, fma)",
        3 => "x86-64-v3 (avx2, fma)",
        _ if cfg!(target_feature = "fma") => "fma",
        _ => "x86-64 (baseline: sse2, no fma)",
    };
    // SAFETY: a static NUL-terminated string.
    let info = unsafe { CStr::from_ptr(optkern_build_info()) }.to_str().unwrap();
    assert_eq!(info, want);
    // A single-level build accepts 0 (the best) and its own level only.
    for l in 0..=5 {
        let want = if l == 0 || l == level { Status::Ok } else { Status::UnsupportedLevel };
        assert_eq!(optkern_select_level(l), want, "level {l}");
    }
}

/// The C generator is the Rust one: seeded alike, each call draws what the same calls draw from
/// `Xoshiro256PlusPlus` in Rust, and the state in caller memory advances (a call that
/// forgot to store it would repeat its numbers).
#[test]
fn the_c_generator_advances_as_the_rust_one() {
    use rand_core::SeedableRng;
    let mut rng = optkern_rng { state: [0; 4] };
    assert_eq!(unsafe { optkern_rng_seed(&mut rng, 42, null_mut()) }, Status::Ok);
    let mut g = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(42);
    for _ in 0..2 {
        let mut c = [0.0f32; 8];
        let st =
            unsafe { optkern_init_normal(c.as_mut_ptr(), c.len(), 0.0, 1.0, &mut rng, null_mut()) };
        assert_eq!(st, Status::Ok);
        let mut r = [0.0f32; 8];
        optkern::normal(&mut r, 0.0, 1.0, &mut g).unwrap();
        assert_eq!(c.map(f32::to_bits), r.map(f32::to_bits));
        let mut ci: [u32; 9] = core::array::from_fn(|i| i as u32);
        let mut ri = ci;
        assert_eq!(
            unsafe { optkern_shuffle(ci.as_mut_ptr(), ci.len(), &mut rng, null_mut()) },
            Status::Ok
        );
        optkern::shuffle(&mut ri, &mut g).unwrap();
        assert_eq!(ci, ri);
    }
}

/// The sharded-reduction C functions: success gives the Rust functions' values; a shard off
/// the blocks, a wrong partials length, an overlap and a bad ratio are reported with their
/// argument and value, and nothing is written.
#[test]
fn shard_functions_report_boundaries_lengths_and_ratios() {
    use optkern::capi::optim::{
        optkern_adafactor_shard_apply, optkern_adafactor_shard_moments,
        optkern_adafactor_step_size, optkern_lamb_shard_apply, optkern_lamb_shard_moments,
        optkern_lamb_trust_ratio, optkern_lars_local_lr, optkern_lars_shard_apply,
        optkern_lars_shard_norms,
    };
    use optkern::capi::train::{
        optkern_clip_coef_from_partials, optkern_combine_norm, optkern_grad_norm_partials,
        optkern_norm_partials_len,
    };
    use optkern::{AdafactorConfig, LambConfig, LarsConfig, NormType, SHARD_ALIGN};
    let n = 2 * SHARD_ALIGN + 9;
    let x: Vec<f32> = (0..n).map(|i| ((i * 7919) % 1000) as f32 * 1e-3 - 0.5).collect();
    assert_eq!(optkern_norm_partials_len(n), 3);
    assert_eq!(optkern_norm_partials_len(0), 0);
    let mut parts = [0.0f64; 3];
    let (mut total, mut norm32, mut coef) = (0.0f64, 0.0f32, 0.0f32);
    // SAFETY: every pointer is valid for the lengths given, or the call must refuse it first.
    unsafe {
        let (s, _) = record(|e| {
            optkern_grad_norm_partials(x.as_ptr(), n, 0, n, 0, 0.0, parts.as_mut_ptr(), 3, e)
        });
        assert_eq!(s, Status::Ok);
        let (s, _) = record(|e| optkern_combine_norm(parts.as_ptr(), 3, 0, 0.0, &mut total, e));
        assert_eq!(s, Status::Ok);
        assert_eq!(total.to_bits(), optkern::grad_norm_f64(&[&x], NormType::L2).unwrap().to_bits());
        let (s, _) = record(|e| {
            optkern_clip_coef_from_partials(
                parts.as_ptr(),
                3,
                0.5,
                0,
                0.0,
                &mut norm32,
                &mut coef,
                e,
            )
        });
        assert_eq!(s, Status::Ok);
        let want = optkern::clip_coef(&[&x], 0.5, NormType::L2).unwrap();
        assert_eq!(
            (norm32.to_bits(), coef.to_bits()),
            (want.total_norm.to_bits(), want.coef.to_bits())
        );

        let mut sentinel = [-7.0f64; 3];
        let e = expect(
            record(|e| {
                optkern_grad_norm_partials(
                    x.as_ptr(),
                    10,
                    8,
                    n,
                    0,
                    0.0,
                    sentinel.as_mut_ptr(),
                    1,
                    e,
                )
            }),
            Status::ShardBoundary,
            "start",
            "",
            "",
        );
        assert_eq!(e.value, 8.0);
        let e = expect(
            record(|e| {
                optkern_grad_norm_partials(
                    x.as_ptr(),
                    10,
                    0,
                    n,
                    0,
                    0.0,
                    sentinel.as_mut_ptr(),
                    1,
                    e,
                )
            }),
            Status::ShardBoundary,
            "end",
            "",
            "",
        );
        assert_eq!(e.value, 10.0);
        let e = expect(
            record(|e| {
                optkern_grad_norm_partials(x.as_ptr(), n, 0, n, 0, 0.0, sentinel.as_mut_ptr(), 2, e)
            }),
            Status::InvalidLength,
            "partials_len",
            "",
            "",
        );
        assert_eq!(e.value, 2.0);
        expect(
            record(|e| {
                optkern_grad_norm_partials(x.as_ptr(), n, 0, n, 9, 0.0, sentinel.as_mut_ptr(), 3, e)
            }),
            Status::InvalidHyperparameter,
            "norm_kind",
            "",
            "",
        );
        assert_eq!(sentinel, [-7.0; 3], "partials written on an error");
        expect(
            record(|e| optkern_combine_norm(parts.as_ptr(), 3, 0, 0.0, null_mut(), e)),
            Status::NullPointer,
            "total_norm_out",
            "",
            "",
        );
        expect(
            record(|e| {
                optkern_clip_coef_from_partials(
                    parts.as_ptr(),
                    3,
                    -1.0,
                    0,
                    0.0,
                    &mut norm32,
                    &mut coef,
                    e,
                )
            }),
            Status::InvalidHyperparameter,
            "max_norm",
            "",
            "",
        );

        // LAMB and LARS: one shard = the whole layer gives lamb_step's / lars_step's bits.
        let lamb = LambConfig { grad_scale: 0.5, ..Default::default() };
        let (mut p, mut m, mut v) = (x.clone(), vec![0.0f32; n], vec![0.0f32; n]);
        let g: Vec<f32> = x.iter().map(|&a| a * 0.3 + 0.01).collect();
        let (mut pp, mut up) = ([0.0f64; 3], [0.0f64; 3]);
        let (mut ratio, mut sp) = (0.0f64, p.clone());
        let (s, _) = record(|e| {
            optkern_lamb_shard_moments(
                sp.as_ptr(),
                g.as_ptr(),
                m.as_mut_ptr(),
                v.as_mut_ptr(),
                n,
                0,
                n,
                1,
                &lamb,
                pp.as_mut_ptr(),
                3,
                up.as_mut_ptr(),
                3,
                e,
            )
        });
        assert_eq!(s, Status::Ok);
        let (s, _) =
            record(|e| optkern_lamb_trust_ratio(pp.as_ptr(), up.as_ptr(), 3, &mut ratio, e));
        assert_eq!(s, Status::Ok);
        let (s, _) = record(|e| {
            optkern_lamb_shard_apply(sp.as_mut_ptr(), m.as_ptr(), v.as_ptr(), n, 1, &lamb, ratio, e)
        });
        assert_eq!(s, Status::Ok);
        let (mut m2, mut v2) = (vec![0.0f32; n], vec![0.0f32; n]);
        optkern::lamb_step(&mut p, &g, &mut m2, &mut v2, 1, &lamb).unwrap();
        assert_eq!(
            sp.iter().map(|a| a.to_bits()).collect::<Vec<_>>(),
            p.iter().map(|a| a.to_bits()).collect::<Vec<_>>()
        );
        let e = expect(
            record(|e| {
                optkern_lamb_shard_apply(
                    sp.as_mut_ptr(),
                    m.as_ptr(),
                    v.as_ptr(),
                    n,
                    1,
                    &lamb,
                    -1.0,
                    e,
                )
            }),
            Status::InvalidHyperparameter,
            "trust_ratio",
            "",
            "",
        );
        assert_eq!(e.value, -1.0);
        expect(
            record(|e| {
                optkern_lamb_shard_moments(
                    sp.as_ptr(),
                    g.as_ptr(),
                    m.as_mut_ptr(),
                    v.as_mut_ptr(),
                    n,
                    0,
                    n,
                    1,
                    &lamb,
                    pp.as_mut_ptr(),
                    2,
                    up.as_mut_ptr(),
                    3,
                    e,
                )
            }),
            Status::InvalidLength,
            "param_partials_len",
            "",
            "",
        );
        expect(
            record(|e| {
                optkern_lamb_shard_moments(
                    sp.as_ptr(),
                    g.as_ptr(),
                    m.as_mut_ptr(),
                    v.as_mut_ptr(),
                    n,
                    0,
                    n,
                    1,
                    &lamb,
                    pp.as_mut_ptr(),
                    3,
                    pp.as_mut_ptr(),
                    3,
                    e,
                )
            }),
            Status::Overlap,
            "param_partials",
            "",
            "update_partials",
        );

        // Adafactor: one shard = the whole vector gives adafactor_step's bits.
        let ada = AdafactorConfig { grad_scale: 0.5, weight_decay: 0.1, ..Default::default() };
        let (mut p, mut var) = (x.clone(), vec![0.0f32; n]);
        let (mut sp, mut svar, mut size) = (x.clone(), vec![0.0f32; n], 0.0f32);
        let (s, _) = record(|e| {
            optkern_adafactor_shard_moments(
                sp.as_ptr(),
                g.as_ptr(),
                svar.as_mut_ptr(),
                n,
                0,
                n,
                1,
                &ada,
                pp.as_mut_ptr(),
                3,
                up.as_mut_ptr(),
                3,
                e,
            )
        });
        assert_eq!(s, Status::Ok);
        let (s, _) = record(|e| {
            optkern_adafactor_step_size(pp.as_ptr(), up.as_ptr(), n, 1, &ada, &mut size, e)
        });
        assert_eq!(s, Status::Ok);
        let (s, _) = record(|e| {
            optkern_adafactor_shard_apply(
                sp.as_mut_ptr(),
                g.as_ptr(),
                svar.as_ptr(),
                n,
                1,
                &ada,
                size,
                e,
            )
        });
        assert_eq!(s, Status::Ok);
        optkern::adafactor_step(&mut p, &g, &mut var, 1, &ada).unwrap();
        for (a, b) in [(&sp, &p), (&svar, &var)] {
            assert_eq!(
                a.iter().map(|a| a.to_bits()).collect::<Vec<_>>(),
                b.iter().map(|a| a.to_bits()).collect::<Vec<_>>()
            );
        }
        let before = sp.clone();
        let e = expect(
            record(|e| {
                optkern_adafactor_shard_apply(
                    sp.as_mut_ptr(),
                    g.as_ptr(),
                    svar.as_ptr(),
                    n,
                    1,
                    &ada,
                    0.5,
                    e,
                )
            }),
            Status::InvalidHyperparameter,
            "step_size",
            "",
            "",
        );
        assert_eq!(e.value, 0.5);
        assert_eq!(sp, before);
        expect(
            record(|e| {
                optkern_adafactor_step_size(pp.as_ptr(), up.as_ptr(), n, 1, &ada, null_mut(), e)
            }),
            Status::NullPointer,
            "step_size_out",
            "",
            "",
        );
        expect(
            record(|e| {
                optkern_adafactor_shard_moments(
                    sp.as_ptr(),
                    g.as_ptr(),
                    svar.as_mut_ptr(),
                    n,
                    8,
                    n + 8,
                    1,
                    &ada,
                    pp.as_mut_ptr(),
                    3,
                    up.as_mut_ptr(),
                    3,
                    e,
                )
            }),
            Status::ShardBoundary,
            "start",
            "",
            "",
        );
        assert_eq!(svar, var);

        let lars = LarsConfig { grad_scale: 2.0, ..Default::default() };
        let (mut p, mut vel) = (x.clone(), vec![0.0f32; n]);
        let (mut sp, mut svel) = (x.clone(), vec![0.0f32; n]);
        let (s, _) = record(|e| {
            optkern_lars_shard_norms(
                sp.as_ptr(),
                g.as_ptr(),
                n,
                0,
                n,
                &lars,
                pp.as_mut_ptr(),
                3,
                up.as_mut_ptr(),
                3,
                e,
            )
        });
        assert_eq!(s, Status::Ok);
        let (s, _) =
            record(|e| optkern_lars_local_lr(pp.as_ptr(), up.as_ptr(), 3, &lars, &mut ratio, e));
        assert_eq!(s, Status::Ok);
        let (s, _) = record(|e| {
            optkern_lars_shard_apply(
                sp.as_mut_ptr(),
                g.as_ptr(),
                svel.as_mut_ptr(),
                n,
                &lars,
                ratio,
                e,
            )
        });
        assert_eq!(s, Status::Ok);
        optkern::lars_step(&mut p, &g, &mut vel, &lars).unwrap();
        assert_eq!(
            sp.iter().map(|a| a.to_bits()).collect::<Vec<_>>(),
            p.iter().map(|a| a.to_bits()).collect::<Vec<_>>()
        );
        assert_eq!(
            svel.iter().map(|a| a.to_bits()).collect::<Vec<_>>(),
            vel.iter().map(|a| a.to_bits()).collect::<Vec<_>>()
        );
        expect(
            record(|e| {
                optkern_lars_shard_apply(
                    sp.as_mut_ptr(),
                    g.as_ptr(),
                    svel.as_mut_ptr(),
                    n,
                    &lars,
                    f64::NAN,
                    e,
                )
            }),
            Status::InvalidHyperparameter,
            "local_lr",
            "",
            "",
        );
        expect(
            record(|e| {
                optkern_lars_shard_norms(
                    sp.as_ptr(),
                    g.as_ptr(),
                    10,
                    4,
                    n,
                    &lars,
                    pp.as_mut_ptr(),
                    1,
                    up.as_mut_ptr(),
                    1,
                    e,
                )
            }),
            Status::ShardBoundary,
            "start",
            "",
            "",
        );
        expect(
            record(|e| optkern_lars_local_lr(pp.as_ptr(), up.as_ptr(), 3, &lars, null_mut(), e)),
            Status::NullPointer,
            "local_lr_out",
            "",
            "",
        );
    }
}

/// The C functions of the rule kernels (`src/capi/breadth.rs`): each gives the Rust function's
/// bits, names a NULL required buffer, and refuses a `bool` field that is not 0 or 1, with
/// nothing written.
#[test]
fn rule_kernels_in_c_match_rust_and_name_their_arguments() {
    use optkern::capi::breadth::*;
    use optkern::*;
    let data = |k: usize| -> Vec<f32> {
        (0..N).map(|i| ((i * 7 + k * 13) % 17) as f32 * 0.125 - 1.0).collect()
    };
    {
        let cfg = AdoptConfig::default();
        let g = data(99);
        let mut s: Vec<Vec<f32>> =
            (0..3).map(|k| data(k).iter().map(|x| x.abs()).collect()).collect();
        let mut r = s.clone();
        let q: Vec<*mut f32> = s.iter_mut().map(|b| b.as_mut_ptr()).collect();
        // SAFETY: every buffer holds N elements.
        let got =
            record(|e| unsafe { optkern_adopt_step(q[0], g.as_ptr(), q[1], q[2], N, 2, &cfg, e) });
        assert_eq!(got.0, Status::Ok, "adopt");
        {
            let mut it = r.iter_mut();
            let rp = it.next().unwrap();
            let b0 = it.next().unwrap();
            let b1 = it.next().unwrap();
            adopt_step(rp, &g, b0, b1, 2, &cfg).unwrap();
        }
        assert_eq!(bits_of(&s), bits_of(&r), "adopt: C and Rust differ");
        let before = bits_of(&s);
        let q: Vec<*mut f32> = s.iter_mut().map(|b| b.as_mut_ptr()).collect();
        // SAFETY: as above; the NULL buffer is refused before any access.
        let got = record(|e| unsafe {
            optkern_adopt_step(q[0], g.as_ptr(), null_mut(), q[2], N, 2, &cfg, e)
        });
        expect(got, Status::NullPointer, "exp_avg", "", "");
        let mut bad = cfg;
        // SAFETY: a bool's byte set to 2 through a raw pointer, as a C caller could.
        unsafe { *core::ptr::addr_of_mut!(bad.maximize).cast::<u8>() = 2 };
        // SAFETY: as above; the config is refused before any access.
        let got =
            record(|e| unsafe { optkern_adopt_step(q[0], g.as_ptr(), q[1], q[2], N, 2, &bad, e) });
        expect(got, Status::InvalidHyperparameter, "cfg", "maximize", "");
        assert_eq!(bits_of(&s), before, "adopt: written on an error");
        config_default_adopt();
    }
    {
        let cfg = AdabeliefConfig { amsgrad: true, ..Default::default() };
        let g = data(99);
        let mut s: Vec<Vec<f32>> =
            (0..4).map(|k| data(k).iter().map(|x| x.abs()).collect()).collect();
        let mut r = s.clone();
        let q: Vec<*mut f32> = s.iter_mut().map(|b| b.as_mut_ptr()).collect();
        // SAFETY: every buffer holds N elements.
        let got = record(|e| unsafe {
            optkern_adabelief_step(q[0], g.as_ptr(), q[1], q[2], q[3], N, 2, &cfg, e)
        });
        assert_eq!(got.0, Status::Ok, "adabelief");
        {
            let mut it = r.iter_mut();
            let rp = it.next().unwrap();
            let b0 = it.next().unwrap();
            let b1 = it.next().unwrap();
            let b2 = it.next().unwrap();
            adabelief_step(rp, &g, b0, b1, b2, 2, &cfg).unwrap();
        }
        assert_eq!(bits_of(&s), bits_of(&r), "adabelief: C and Rust differ");
        let before = bits_of(&s);
        let q: Vec<*mut f32> = s.iter_mut().map(|b| b.as_mut_ptr()).collect();
        // SAFETY: as above; the NULL buffer is refused before any access.
        let got = record(|e| unsafe {
            optkern_adabelief_step(q[0], g.as_ptr(), null_mut(), q[2], q[3], N, 2, &cfg, e)
        });
        expect(got, Status::NullPointer, "exp_avg", "", "");
        let mut bad = cfg;
        // SAFETY: a bool's byte set to 2 through a raw pointer, as a C caller could.
        unsafe { *core::ptr::addr_of_mut!(bad.amsgrad).cast::<u8>() = 2 };
        // SAFETY: as above; the config is refused before any access.
        let got = record(|e| unsafe {
            optkern_adabelief_step(q[0], g.as_ptr(), q[1], q[2], q[3], N, 2, &bad, e)
        });
        expect(got, Status::InvalidHyperparameter, "cfg", "amsgrad", "");
        assert_eq!(bits_of(&s), before, "adabelief: written on an error");
        config_default_adabelief();
    }
    {
        let cfg = AdaboundConfig { amsgrad: true, ..Default::default() };
        let g = data(99);
        let mut s: Vec<Vec<f32>> =
            (0..4).map(|k| data(k).iter().map(|x| x.abs()).collect()).collect();
        let mut r = s.clone();
        let q: Vec<*mut f32> = s.iter_mut().map(|b| b.as_mut_ptr()).collect();
        // SAFETY: every buffer holds N elements.
        let got = record(|e| unsafe {
            optkern_adabound_step(q[0], g.as_ptr(), q[1], q[2], q[3], N, 2, &cfg, e)
        });
        assert_eq!(got.0, Status::Ok, "adabound");
        {
            let mut it = r.iter_mut();
            let rp = it.next().unwrap();
            let b0 = it.next().unwrap();
            let b1 = it.next().unwrap();
            let b2 = it.next().unwrap();
            adabound_step(rp, &g, b0, b1, b2, 2, &cfg).unwrap();
        }
        assert_eq!(bits_of(&s), bits_of(&r), "adabound: C and Rust differ");
        let before = bits_of(&s);
        let q: Vec<*mut f32> = s.iter_mut().map(|b| b.as_mut_ptr()).collect();
        // SAFETY: as above; the NULL buffer is refused before any access.
        let got = record(|e| unsafe {
            optkern_adabound_step(q[0], g.as_ptr(), null_mut(), q[2], q[3], N, 2, &cfg, e)
        });
        expect(got, Status::NullPointer, "exp_avg", "", "");
        let mut bad = cfg;
        // SAFETY: a bool's byte set to 2 through a raw pointer, as a C caller could.
        unsafe { *core::ptr::addr_of_mut!(bad.amsgrad).cast::<u8>() = 2 };
        // SAFETY: as above; the config is refused before any access.
        let got = record(|e| unsafe {
            optkern_adabound_step(q[0], g.as_ptr(), q[1], q[2], q[3], N, 2, &bad, e)
        });
        expect(got, Status::InvalidHyperparameter, "cfg", "amsgrad", "");
        assert_eq!(bits_of(&s), before, "adabound: written on an error");
        config_default_adabound();
    }
    {
        let cfg = AdamodConfig::default();
        let g = data(99);
        let mut s: Vec<Vec<f32>> =
            (0..4).map(|k| data(k).iter().map(|x| x.abs()).collect()).collect();
        let mut r = s.clone();
        let q: Vec<*mut f32> = s.iter_mut().map(|b| b.as_mut_ptr()).collect();
        // SAFETY: every buffer holds N elements.
        let got = record(|e| unsafe {
            optkern_adamod_step(q[0], g.as_ptr(), q[1], q[2], q[3], N, 2, &cfg, e)
        });
        assert_eq!(got.0, Status::Ok, "adamod");
        {
            let mut it = r.iter_mut();
            let rp = it.next().unwrap();
            let b0 = it.next().unwrap();
            let b1 = it.next().unwrap();
            let b2 = it.next().unwrap();
            adamod_step(rp, &g, b0, b1, b2, 2, &cfg).unwrap();
        }
        assert_eq!(bits_of(&s), bits_of(&r), "adamod: C and Rust differ");
        let before = bits_of(&s);
        let q: Vec<*mut f32> = s.iter_mut().map(|b| b.as_mut_ptr()).collect();
        // SAFETY: as above; the NULL buffer is refused before any access.
        let got = record(|e| unsafe {
            optkern_adamod_step(q[0], g.as_ptr(), null_mut(), q[2], q[3], N, 2, &cfg, e)
        });
        expect(got, Status::NullPointer, "exp_avg", "", "");
        let mut bad = cfg;
        // SAFETY: a bool's byte set to 2 through a raw pointer, as a C caller could.
        unsafe { *core::ptr::addr_of_mut!(bad.maximize).cast::<u8>() = 2 };
        // SAFETY: as above; the config is refused before any access.
        let got = record(|e| unsafe {
            optkern_adamod_step(q[0], g.as_ptr(), q[1], q[2], q[3], N, 2, &bad, e)
        });
        expect(got, Status::InvalidHyperparameter, "cfg", "maximize", "");
        assert_eq!(bits_of(&s), before, "adamod: written on an error");
        config_default_adamod();
    }
    {
        let cfg = AdampConfig::default();
        let g = data(99);
        let mut s: Vec<Vec<f32>> =
            (0..3).map(|k| data(k).iter().map(|x| x.abs()).collect()).collect();
        let mut r = s.clone();
        let q: Vec<*mut f32> = s.iter_mut().map(|b| b.as_mut_ptr()).collect();
        // SAFETY: every buffer holds N elements.
        let got =
            record(|e| unsafe { optkern_adamp_step(q[0], g.as_ptr(), q[1], q[2], N, 2, &cfg, e) });
        assert_eq!(got.0, Status::Ok, "adamp");
        {
            let mut it = r.iter_mut();
            let rp = it.next().unwrap();
            let b0 = it.next().unwrap();
            let b1 = it.next().unwrap();
            adamp_step(rp, &g, b0, b1, 2, &cfg).unwrap();
        }
        assert_eq!(bits_of(&s), bits_of(&r), "adamp: C and Rust differ");
        let before = bits_of(&s);
        let q: Vec<*mut f32> = s.iter_mut().map(|b| b.as_mut_ptr()).collect();
        // SAFETY: as above; the NULL buffer is refused before any access.
        let got = record(|e| unsafe {
            optkern_adamp_step(q[0], g.as_ptr(), null_mut(), q[2], N, 2, &cfg, e)
        });
        expect(got, Status::NullPointer, "exp_avg", "", "");
        let mut bad = cfg;
        // SAFETY: a bool's byte set to 2 through a raw pointer, as a C caller could.
        unsafe { *core::ptr::addr_of_mut!(bad.nesterov).cast::<u8>() = 2 };
        // SAFETY: as above; the config is refused before any access.
        let got =
            record(|e| unsafe { optkern_adamp_step(q[0], g.as_ptr(), q[1], q[2], N, 2, &bad, e) });
        expect(got, Status::InvalidHyperparameter, "cfg", "nesterov", "");
        assert_eq!(bits_of(&s), before, "adamp: written on an error");
        config_default_adamp();
    }
    {
        let cfg = AdanConfig::default();
        let g = data(99);
        let mut s: Vec<Vec<f32>> =
            (0..5).map(|k| data(k).iter().map(|x| x.abs()).collect()).collect();
        let mut r = s.clone();
        let q: Vec<*mut f32> = s.iter_mut().map(|b| b.as_mut_ptr()).collect();
        // SAFETY: every buffer holds N elements.
        let got = record(|e| unsafe {
            optkern_adan_step(q[0], g.as_ptr(), q[1], q[2], q[3], q[4], N, 2, &cfg, e)
        });
        assert_eq!(got.0, Status::Ok, "adan");
        {
            let mut it = r.iter_mut();
            let rp = it.next().unwrap();
            let b0 = it.next().unwrap();
            let b1 = it.next().unwrap();
            let b2 = it.next().unwrap();
            let b3 = it.next().unwrap();
            adan_step(rp, &g, b0, b1, b2, b3, 2, &cfg).unwrap();
        }
        assert_eq!(bits_of(&s), bits_of(&r), "adan: C and Rust differ");
        let before = bits_of(&s);
        let q: Vec<*mut f32> = s.iter_mut().map(|b| b.as_mut_ptr()).collect();
        // SAFETY: as above; the NULL buffer is refused before any access.
        let got = record(|e| unsafe {
            optkern_adan_step(q[0], g.as_ptr(), null_mut(), q[2], q[3], q[4], N, 2, &cfg, e)
        });
        expect(got, Status::NullPointer, "exp_avg", "", "");
        let mut bad = cfg;
        // SAFETY: a bool's byte set to 2 through a raw pointer, as a C caller could.
        unsafe { *core::ptr::addr_of_mut!(bad.weight_decouple).cast::<u8>() = 2 };
        // SAFETY: as above; the config is refused before any access.
        let got = record(|e| unsafe {
            optkern_adan_step(q[0], g.as_ptr(), q[1], q[2], q[3], q[4], N, 2, &bad, e)
        });
        expect(got, Status::InvalidHyperparameter, "cfg", "weight_decouple", "");
        assert_eq!(bits_of(&s), before, "adan: written on an error");
        config_default_adan();
    }
    {
        let cfg = AdemamixConfig::default();
        let g = data(99);
        let mut s: Vec<Vec<f32>> =
            (0..4).map(|k| data(k).iter().map(|x| x.abs()).collect()).collect();
        let mut r = s.clone();
        let q: Vec<*mut f32> = s.iter_mut().map(|b| b.as_mut_ptr()).collect();
        // SAFETY: every buffer holds N elements.
        let got = record(|e| unsafe {
            optkern_ademamix_step(q[0], g.as_ptr(), q[1], q[2], q[3], N, 2, &cfg, e)
        });
        assert_eq!(got.0, Status::Ok, "ademamix");
        {
            let mut it = r.iter_mut();
            let rp = it.next().unwrap();
            let b0 = it.next().unwrap();
            let b1 = it.next().unwrap();
            let b2 = it.next().unwrap();
            ademamix_step(rp, &g, b0, b1, b2, 2, &cfg).unwrap();
        }
        assert_eq!(bits_of(&s), bits_of(&r), "ademamix: C and Rust differ");
        let before = bits_of(&s);
        let q: Vec<*mut f32> = s.iter_mut().map(|b| b.as_mut_ptr()).collect();
        // SAFETY: as above; the NULL buffer is refused before any access.
        let got = record(|e| unsafe {
            optkern_ademamix_step(q[0], g.as_ptr(), null_mut(), q[2], q[3], N, 2, &cfg, e)
        });
        expect(got, Status::NullPointer, "exp_avg", "", "");
        let mut bad = cfg;
        // SAFETY: a bool's byte set to 2 through a raw pointer, as a C caller could.
        unsafe { *core::ptr::addr_of_mut!(bad.maximize).cast::<u8>() = 2 };
        // SAFETY: as above; the config is refused before any access.
        let got = record(|e| unsafe {
            optkern_ademamix_step(q[0], g.as_ptr(), q[1], q[2], q[3], N, 2, &bad, e)
        });
        expect(got, Status::InvalidHyperparameter, "cfg", "maximize", "");
        assert_eq!(bits_of(&s), before, "ademamix: written on an error");
        config_default_ademamix();
    }
    {
        let cfg = DiffgradConfig { amsgrad: true, ..Default::default() };
        let g = data(99);
        let mut s: Vec<Vec<f32>> =
            (0..5).map(|k| data(k).iter().map(|x| x.abs()).collect()).collect();
        let mut r = s.clone();
        let q: Vec<*mut f32> = s.iter_mut().map(|b| b.as_mut_ptr()).collect();
        // SAFETY: every buffer holds N elements.
        let got = record(|e| unsafe {
            optkern_diffgrad_step(q[0], g.as_ptr(), q[1], q[2], q[3], q[4], N, 2, &cfg, e)
        });
        assert_eq!(got.0, Status::Ok, "diffgrad");
        {
            let mut it = r.iter_mut();
            let rp = it.next().unwrap();
            let b0 = it.next().unwrap();
            let b1 = it.next().unwrap();
            let b2 = it.next().unwrap();
            let b3 = it.next().unwrap();
            diffgrad_step(rp, &g, b0, b1, b2, b3, 2, &cfg).unwrap();
        }
        assert_eq!(bits_of(&s), bits_of(&r), "diffgrad: C and Rust differ");
        let before = bits_of(&s);
        let q: Vec<*mut f32> = s.iter_mut().map(|b| b.as_mut_ptr()).collect();
        // SAFETY: as above; the NULL buffer is refused before any access.
        let got = record(|e| unsafe {
            optkern_diffgrad_step(q[0], g.as_ptr(), null_mut(), q[2], q[3], q[4], N, 2, &cfg, e)
        });
        expect(got, Status::NullPointer, "exp_avg", "", "");
        let mut bad = cfg;
        // SAFETY: a bool's byte set to 2 through a raw pointer, as a C caller could.
        unsafe { *core::ptr::addr_of_mut!(bad.rectify).cast::<u8>() = 2 };
        // SAFETY: as above; the config is refused before any access.
        let got = record(|e| unsafe {
            optkern_diffgrad_step(q[0], g.as_ptr(), q[1], q[2], q[3], q[4], N, 2, &bad, e)
        });
        expect(got, Status::InvalidHyperparameter, "cfg", "rectify", "");
        assert_eq!(bits_of(&s), before, "diffgrad: written on an error");
        config_default_diffgrad();
    }
    {
        let cfg = Sm3Config { momentum: 0.5, ..Default::default() };
        let g = data(99);
        let mut s: Vec<Vec<f32>> =
            (0..3).map(|k| data(k).iter().map(|x| x.abs()).collect()).collect();
        let mut r = s.clone();
        let q: Vec<*mut f32> = s.iter_mut().map(|b| b.as_mut_ptr()).collect();
        // SAFETY: every buffer holds N elements.
        let got = record(|e| unsafe { optkern_sm3_step(q[0], g.as_ptr(), q[1], q[2], N, &cfg, e) });
        assert_eq!(got.0, Status::Ok, "sm3");
        {
            let mut it = r.iter_mut();
            let rp = it.next().unwrap();
            let b0 = it.next().unwrap();
            let b1 = it.next().unwrap();
            sm3_step(rp, &g, b0, b1, &cfg).unwrap();
        }
        assert_eq!(bits_of(&s), bits_of(&r), "sm3: C and Rust differ");
        let before = bits_of(&s);
        let q: Vec<*mut f32> = s.iter_mut().map(|b| b.as_mut_ptr()).collect();
        // SAFETY: as above; the NULL buffer is refused before any access.
        let got =
            record(|e| unsafe { optkern_sm3_step(q[0], g.as_ptr(), null_mut(), q[2], N, &cfg, e) });
        expect(got, Status::NullPointer, "accumulator", "", "");
        let mut bad = cfg;
        // SAFETY: a bool's byte set to 2 through a raw pointer, as a C caller could.
        unsafe { *core::ptr::addr_of_mut!(bad.maximize).cast::<u8>() = 2 };
        // SAFETY: as above; the config is refused before any access.
        let got = record(|e| unsafe { optkern_sm3_step(q[0], g.as_ptr(), q[1], q[2], N, &bad, e) });
        expect(got, Status::InvalidHyperparameter, "cfg", "maximize", "");
        assert_eq!(bits_of(&s), before, "sm3: written on an error");
        config_default_sm3();
    }
    {
        let cfg = YogiConfig::default();
        let g = data(99);
        let mut s: Vec<Vec<f32>> =
            (0..3).map(|k| data(k).iter().map(|x| x.abs()).collect()).collect();
        let mut r = s.clone();
        let q: Vec<*mut f32> = s.iter_mut().map(|b| b.as_mut_ptr()).collect();
        // SAFETY: every buffer holds N elements.
        let got =
            record(|e| unsafe { optkern_yogi_step(q[0], g.as_ptr(), q[1], q[2], N, 2, &cfg, e) });
        assert_eq!(got.0, Status::Ok, "yogi");
        {
            let mut it = r.iter_mut();
            let rp = it.next().unwrap();
            let b0 = it.next().unwrap();
            let b1 = it.next().unwrap();
            yogi_step(rp, &g, b0, b1, 2, &cfg).unwrap();
        }
        assert_eq!(bits_of(&s), bits_of(&r), "yogi: C and Rust differ");
        let before = bits_of(&s);
        let q: Vec<*mut f32> = s.iter_mut().map(|b| b.as_mut_ptr()).collect();
        // SAFETY: as above; the NULL buffer is refused before any access.
        let got = record(|e| unsafe {
            optkern_yogi_step(q[0], g.as_ptr(), null_mut(), q[2], N, 2, &cfg, e)
        });
        expect(got, Status::NullPointer, "mu", "", "");
        let mut bad = cfg;
        // SAFETY: a bool's byte set to 2 through a raw pointer, as a C caller could.
        unsafe { *core::ptr::addr_of_mut!(bad.maximize).cast::<u8>() = 2 };
        // SAFETY: as above; the config is refused before any access.
        let got =
            record(|e| unsafe { optkern_yogi_step(q[0], g.as_ptr(), q[1], q[2], N, 2, &bad, e) });
        expect(got, Status::InvalidHyperparameter, "cfg", "maximize", "");
        assert_eq!(bits_of(&s), before, "yogi: written on an error");
        config_default_yogi();
    }
    {
        let cfg = SignsgdConfig::default();
        let g = data(99);
        let mut s: Vec<Vec<f32>> =
            (0..2).map(|k| data(k).iter().map(|x| x.abs()).collect()).collect();
        let mut r = s.clone();
        let q: Vec<*mut f32> = s.iter_mut().map(|b| b.as_mut_ptr()).collect();
        // SAFETY: every buffer holds N elements.
        let got = record(|e| unsafe { optkern_signsgd_step(q[0], g.as_ptr(), q[1], N, &cfg, e) });
        assert_eq!(got.0, Status::Ok, "signsgd");
        {
            let mut it = r.iter_mut();
            let rp = it.next().unwrap();
            let b0 = it.next().unwrap();
            signsgd_step(rp, &g, b0, &cfg).unwrap();
        }
        assert_eq!(bits_of(&s), bits_of(&r), "signsgd: C and Rust differ");
        let before = bits_of(&s);
        let q: Vec<*mut f32> = s.iter_mut().map(|b| b.as_mut_ptr()).collect();
        // SAFETY: as above; the NULL buffer is refused before any access.
        let got =
            record(|e| unsafe { optkern_signsgd_step(q[0], g.as_ptr(), null_mut(), N, &cfg, e) });
        expect(got, Status::NullPointer, "momentum_buffer", "", "");
        let mut bad = cfg;
        // SAFETY: a bool's byte set to 2 through a raw pointer, as a C caller could.
        unsafe { *core::ptr::addr_of_mut!(bad.fixed_decay).cast::<u8>() = 2 };
        // SAFETY: as above; the config is refused before any access.
        let got = record(|e| unsafe { optkern_signsgd_step(q[0], g.as_ptr(), q[1], N, &bad, e) });
        expect(got, Status::InvalidHyperparameter, "cfg", "fixed_decay", "");
        assert_eq!(bits_of(&s), before, "signsgd: written on an error");
        config_default_signsgd();
    }
    {
        let cfg = TigerConfig::default();
        let g = data(99);
        let mut s: Vec<Vec<f32>> =
            (0..2).map(|k| data(k).iter().map(|x| x.abs()).collect()).collect();
        let mut r = s.clone();
        let q: Vec<*mut f32> = s.iter_mut().map(|b| b.as_mut_ptr()).collect();
        // SAFETY: every buffer holds N elements.
        let got = record(|e| unsafe { optkern_tiger_step(q[0], g.as_ptr(), q[1], N, &cfg, e) });
        assert_eq!(got.0, Status::Ok, "tiger");
        {
            let mut it = r.iter_mut();
            let rp = it.next().unwrap();
            let b0 = it.next().unwrap();
            tiger_step(rp, &g, b0, &cfg).unwrap();
        }
        assert_eq!(bits_of(&s), bits_of(&r), "tiger: C and Rust differ");
        let before = bits_of(&s);
        let q: Vec<*mut f32> = s.iter_mut().map(|b| b.as_mut_ptr()).collect();
        // SAFETY: as above; the NULL buffer is refused before any access.
        let got =
            record(|e| unsafe { optkern_tiger_step(q[0], g.as_ptr(), null_mut(), N, &cfg, e) });
        expect(got, Status::NullPointer, "exp_avg", "", "");
        let mut bad = cfg;
        // SAFETY: a bool's byte set to 2 through a raw pointer, as a C caller could.
        unsafe { *core::ptr::addr_of_mut!(bad.weight_decouple).cast::<u8>() = 2 };
        // SAFETY: as above; the config is refused before any access.
        let got = record(|e| unsafe { optkern_tiger_step(q[0], g.as_ptr(), q[1], N, &bad, e) });
        expect(got, Status::InvalidHyperparameter, "cfg", "weight_decouple", "");
        assert_eq!(bits_of(&s), before, "tiger: written on an error");
        config_default_tiger();
    }
    {
        let cfg = QhmConfig { momentum: 0.5, nu: 0.7, ..Default::default() };
        let g = data(99);
        let mut s: Vec<Vec<f32>> =
            (0..2).map(|k| data(k).iter().map(|x| x.abs()).collect()).collect();
        let mut r = s.clone();
        let q: Vec<*mut f32> = s.iter_mut().map(|b| b.as_mut_ptr()).collect();
        // SAFETY: every buffer holds N elements.
        let got = record(|e| unsafe { optkern_qhm_step(q[0], g.as_ptr(), q[1], N, &cfg, e) });
        assert_eq!(got.0, Status::Ok, "qhm");
        {
            let mut it = r.iter_mut();
            let rp = it.next().unwrap();
            let b0 = it.next().unwrap();
            qhm_step(rp, &g, b0, &cfg).unwrap();
        }
        assert_eq!(bits_of(&s), bits_of(&r), "qhm: C and Rust differ");
        let before = bits_of(&s);
        let q: Vec<*mut f32> = s.iter_mut().map(|b| b.as_mut_ptr()).collect();
        // SAFETY: as above; the NULL buffer is refused before any access.
        let got = record(|e| unsafe { optkern_qhm_step(q[0], g.as_ptr(), null_mut(), N, &cfg, e) });
        expect(got, Status::NullPointer, "momentum_buffer", "", "");
        let mut bad = cfg;
        // SAFETY: a bool's byte set to 2 through a raw pointer, as a C caller could.
        unsafe { *core::ptr::addr_of_mut!(bad.maximize).cast::<u8>() = 2 };
        // SAFETY: as above; the config is refused before any access.
        let got = record(|e| unsafe { optkern_qhm_step(q[0], g.as_ptr(), q[1], N, &bad, e) });
        expect(got, Status::InvalidHyperparameter, "cfg", "maximize", "");
        assert_eq!(bits_of(&s), before, "qhm: written on an error");
        config_default_qhm();
    }
    {
        let cfg = PidConfig { momentum: 0.5, ..Default::default() };
        let g = data(99);
        let mut s: Vec<Vec<f32>> =
            (0..4).map(|k| data(k).iter().map(|x| x.abs()).collect()).collect();
        let mut r = s.clone();
        let q: Vec<*mut f32> = s.iter_mut().map(|b| b.as_mut_ptr()).collect();
        // SAFETY: every buffer holds N elements.
        let got = record(|e| unsafe {
            optkern_pid_step(q[0], g.as_ptr(), q[1], q[2], q[3], N, 2, &cfg, e)
        });
        assert_eq!(got.0, Status::Ok, "pid");
        {
            let mut it = r.iter_mut();
            let rp = it.next().unwrap();
            let b0 = it.next().unwrap();
            let b1 = it.next().unwrap();
            let b2 = it.next().unwrap();
            pid_step(rp, &g, b0, b1, b2, 2, &cfg).unwrap();
        }
        assert_eq!(bits_of(&s), bits_of(&r), "pid: C and Rust differ");
        let before = bits_of(&s);
        let q: Vec<*mut f32> = s.iter_mut().map(|b| b.as_mut_ptr()).collect();
        // SAFETY: as above; the NULL buffer is refused before any access.
        let got = record(|e| unsafe {
            optkern_pid_step(q[0], g.as_ptr(), null_mut(), q[2], q[3], N, 2, &cfg, e)
        });
        expect(got, Status::NullPointer, "i_buffer", "", "");
        let mut bad = cfg;
        // SAFETY: a bool's byte set to 2 through a raw pointer, as a C caller could.
        unsafe { *core::ptr::addr_of_mut!(bad.maximize).cast::<u8>() = 2 };
        // SAFETY: as above; the config is refused before any access.
        let got = record(|e| unsafe {
            optkern_pid_step(q[0], g.as_ptr(), q[1], q[2], q[3], N, 2, &bad, e)
        });
        expect(got, Status::InvalidHyperparameter, "cfg", "maximize", "");
        assert_eq!(bits_of(&s), before, "pid: written on an error");
        config_default_pid();
    }
    {
        let cfg = OptimisticGdConfig::default();
        let g = data(99);
        let mut s: Vec<Vec<f32>> =
            (0..2).map(|k| data(k).iter().map(|x| x.abs()).collect()).collect();
        let mut r = s.clone();
        let q: Vec<*mut f32> = s.iter_mut().map(|b| b.as_mut_ptr()).collect();
        // SAFETY: every buffer holds N elements.
        let got = record(|e| unsafe {
            optkern_optimistic_gd_step(q[0], g.as_ptr(), q[1], N, 2, &cfg, e)
        });
        assert_eq!(got.0, Status::Ok, "optimistic_gd");
        {
            let mut it = r.iter_mut();
            let rp = it.next().unwrap();
            let b0 = it.next().unwrap();
            optimistic_gd_step(rp, &g, b0, 2, &cfg).unwrap();
        }
        assert_eq!(bits_of(&s), bits_of(&r), "optimistic_gd: C and Rust differ");
        let before = bits_of(&s);
        let q: Vec<*mut f32> = s.iter_mut().map(|b| b.as_mut_ptr()).collect();
        // SAFETY: as above; the NULL buffer is refused before any access.
        let got = record(|e| unsafe {
            optkern_optimistic_gd_step(q[0], g.as_ptr(), null_mut(), N, 2, &cfg, e)
        });
        expect(got, Status::NullPointer, "previous_gradient", "", "");
        let mut bad = cfg;
        // SAFETY: a bool's byte set to 2 through a raw pointer, as a C caller could.
        unsafe { *core::ptr::addr_of_mut!(bad.maximize).cast::<u8>() = 2 };
        // SAFETY: as above; the config is refused before any access.
        let got = record(|e| unsafe {
            optkern_optimistic_gd_step(q[0], g.as_ptr(), q[1], N, 2, &bad, e)
        });
        expect(got, Status::InvalidHyperparameter, "cfg", "maximize", "");
        assert_eq!(bits_of(&s), before, "optimistic_gd: written on an error");
        config_default_optimistic_gd();
    }
}

fn bits_of(v: &[Vec<f32>]) -> Vec<Vec<u32>> {
    v.iter().map(|b| b.iter().map(|x| x.to_bits()).collect()).collect()
}

fn config_default_adopt() {
    assert_eq!(
        optkern::capi::breadth::optkern_adopt_config_default(),
        optkern::AdoptConfig::default()
    );
}

fn config_default_adabelief() {
    assert_eq!(
        optkern::capi::breadth::optkern_adabelief_config_default(),
        optkern::AdabeliefConfig::default()
    );
}

fn config_default_adabound() {
    assert_eq!(
        optkern::capi::breadth::optkern_adabound_config_default(),
        optkern::AdaboundConfig::default()
    );
}

fn config_default_adamod() {
    assert_eq!(
        optkern::capi::breadth::optkern_adamod_config_default(),
        optkern::AdamodConfig::default()
    );
}

fn config_default_adamp() {
    assert_eq!(
        optkern::capi::breadth::optkern_adamp_config_default(),
        optkern::AdampConfig::default()
    );
}

fn config_default_adan() {
    assert_eq!(
        optkern::capi::breadth::optkern_adan_config_default(),
        optkern::AdanConfig::default()
    );
}

fn config_default_ademamix() {
    assert_eq!(
        optkern::capi::breadth::optkern_ademamix_config_default(),
        optkern::AdemamixConfig::default()
    );
}

fn config_default_diffgrad() {
    assert_eq!(
        optkern::capi::breadth::optkern_diffgrad_config_default(),
        optkern::DiffgradConfig::default()
    );
}

fn config_default_sm3() {
    assert_eq!(optkern::capi::breadth::optkern_sm3_config_default(), optkern::Sm3Config::default());
}

fn config_default_yogi() {
    assert_eq!(
        optkern::capi::breadth::optkern_yogi_config_default(),
        optkern::YogiConfig::default()
    );
}

fn config_default_signsgd() {
    assert_eq!(
        optkern::capi::breadth::optkern_signsgd_config_default(),
        optkern::SignsgdConfig::default()
    );
}

fn config_default_tiger() {
    assert_eq!(
        optkern::capi::breadth::optkern_tiger_config_default(),
        optkern::TigerConfig::default()
    );
}

fn config_default_qhm() {
    assert_eq!(optkern::capi::breadth::optkern_qhm_config_default(), optkern::QhmConfig::default());
}

fn config_default_pid() {
    assert_eq!(optkern::capi::breadth::optkern_pid_config_default(), optkern::PidConfig::default());
}

fn config_default_optimistic_gd() {
    assert_eq!(
        optkern::capi::breadth::optkern_optimistic_gd_config_default(),
        optkern::OptimisticGdConfig::default()
    );
}

/// The schedule-free C functions: the Rust bits, the state advanced on success only, and
/// `numerics` of eval/train checked as an enum.
#[test]
fn schedule_free_in_c_advances_the_state_on_success_only() {
    use optkern::capi::breadth::*;
    use optkern::*;
    let cfg = AdamwScheduleFreeConfig::default();
    let g: Vec<f32> = (0..N).map(|i| (i as f32 * 0.37).sin()).collect();
    let (mut p, mut z, mut v) = (vec![0.5f32; N], vec![0.5f32; N], vec![0.0f32; N]);
    let (mut rp, mut rz, mut rv) = (p.clone(), z.clone(), v.clone());
    let (mut st, mut rst) = (ScheduleFreeState::default(), ScheduleFreeState::default());
    for _ in 0..3 {
        // SAFETY: every buffer holds N elements.
        let got = record(|e| unsafe {
            optkern_adamw_schedulefree_step(
                p.as_mut_ptr(),
                g.as_ptr(),
                z.as_mut_ptr(),
                v.as_mut_ptr(),
                &mut st,
                N,
                &cfg,
                e,
            )
        });
        assert_eq!(got.0, Status::Ok);
        adamw_schedulefree_step(&mut rp, &g, &mut rz, &mut rv, &mut rst, &cfg).unwrap();
    }
    assert_eq!((st, bits_of(&[p.clone(), z.clone(), v.clone()])), (rst, bits_of(&[rp, rz, rv])));
    assert_eq!(st.k, 3);
    let bad = AdamwScheduleFreeConfig { beta1: 1.0, ..cfg };
    let before = st;
    // SAFETY: as above; refused before any access.
    let got = record(|e| unsafe {
        optkern_adamw_schedulefree_step(
            p.as_mut_ptr(),
            g.as_ptr(),
            z.as_mut_ptr(),
            v.as_mut_ptr(),
            &mut st,
            N,
            &bad,
            e,
        )
    });
    expect(got, Status::InvalidHyperparameter, "cfg", "beta1", "");
    assert_eq!(st, before, "state advanced on an error");
    // SAFETY: as above.
    let got =
        record(|e| unsafe { optkern_schedulefree_eval(p.as_mut_ptr(), z.as_ptr(), N, 0.9, 5, e) });
    expect(got, Status::InvalidHyperparameter, "numerics", "", "");
    // 4 is a valid profile (torchao's) that this kernel refuses by name: a conflict, not an
    // unknown value.
    // SAFETY: as above.
    let got =
        record(|e| unsafe { optkern_schedulefree_eval(p.as_mut_ptr(), z.as_ptr(), N, 0.9, 4, e) });
    expect(got, Status::InvalidHyperparameter, "numerics", "numerics", "");
    let mut x = p.clone();
    schedulefree_eval(&mut x, &z, 0.9, Numerics::Torch).unwrap();
    // SAFETY: as above.
    let got =
        record(|e| unsafe { optkern_schedulefree_eval(p.as_mut_ptr(), z.as_ptr(), N, 0.9, 0, e) });
    assert_eq!(got.0, Status::Ok);
    assert_eq!(bits_of(&[p]), bits_of(&[x]));
}

/// `OPTKERN_NUMERICS_FAST` (3) is a valid value: Adam takes it (the bits of the Rust call),
/// SGD refuses it by name and writes nothing; 5 is out of range (4 is torchao's order).
#[test]
fn fast_numerics_through_the_c_api() {
    let cfg = AdamConfig { numerics: optkern::Numerics::Fast, ..AdamConfig::default() };
    let mut a = Adam::new();
    let (mut p, mut m, mut v) = (a.p.clone(), a.m.clone(), a.v.clone());
    assert_eq!(a.step(N, 1, &cfg).0, Status::Ok);
    optkern::adam_step(&mut p, &a.g, &mut m, &mut v, &mut [], 1, &cfg).unwrap();
    assert_eq!(
        a.p.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        p.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
    );
    let mut raw = cfg;
    // SAFETY: writes the `numerics` field's u32 storage.
    unsafe { core::ptr::addr_of_mut!(raw.numerics).cast::<u32>().write(5) };
    expect(a.step(N, 1, &raw), Status::InvalidHyperparameter, "cfg", "numerics", "");
    let sgd = SgdConfig { numerics: optkern::Numerics::Fast, ..SgdConfig::default() };
    let (mut p, g) = (vec![1.0f32; 4], vec![0.5f32; 4]);
    // SAFETY: four elements each; no momentum buffer (momentum 0).
    let r = record(|e| unsafe {
        optkern_sgd_step(p.as_mut_ptr(), g.as_ptr(), null_mut(), 4, 1, &sgd, e)
    });
    expect(r, Status::InvalidHyperparameter, "cfg", "numerics", "");
    assert_eq!(p, [1.0; 4]);
}

/// The C conversion functions of the quantized formats are their Rust functions: q8 on both
/// maps with every quantizer, q4 on both maps, fp8, each way (the same bytes and bits), over 300
/// values (two q8/fp8 blocks, three q4 blocks, a partial last one); a map or quantizer out of
/// range is `INVALID_FORMAT` and writes nothing.
#[test]
fn quantized_format_conversions_through_the_c_api() {
    use optkern::capi::format::{
        optkern_fp8_dequantize, optkern_fp8_quantize, optkern_q4_dequantize, optkern_q4_quantize,
        optkern_q8_dequantize, optkern_q8_quantize,
    };
    use optkern::format::{self, Q4Map, Q8Map, Quantizer};
    let n: usize = 300;
    let x: Vec<f32> = (0..n).map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.013).collect();
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    for (m, map) in [(0, Q8Map::Signed), (1, Q8Map::Unsigned)] {
        // The first block also holds 1.0 and the midpoints of neighbouring map values, where
        // the quantizers part ways (ties: nearest down, torchao up).
        let q8 = format::q8_map_values(map);
        let mut x = x.clone();
        x[0] = 1.0;
        for k in 1..100 {
            x[k] = 0.5 * (q8[150 + k] + q8[151 + k]);
        }
        let mut all_codes = vec![];
        let quantizers = [(0, Quantizer::Nearest), (1, Quantizer::BnbCpu), (2, Quantizer::Torchao)];
        for (q, quantizer) in quantizers {
            let blocks = n.div_ceil(format::Q8_BLOCK);
            let (mut c, mut s) = (vec![0u8; n], vec![0f32; blocks]);
            // SAFETY: every buffer holds the lengths the function reads and writes.
            let st = unsafe {
                optkern_q8_quantize(x.as_ptr(), c.as_mut_ptr(), s.as_mut_ptr(), n, m, q, null_mut())
            };
            assert_eq!(st, Status::Ok);
            let (mut rc, mut rs) = (vec![0u8; n], vec![0f32; blocks]);
            format::q8_quantize(&x, &mut rc, &mut rs, map, quantizer).unwrap();
            assert_eq!((&c, bits(&s)), (&rc, bits(&rs)), "q8 map {m} quantizer {q}");
            all_codes.push(c.clone());
            let mut out = vec![0f32; n];
            // SAFETY: as above.
            let st = unsafe {
                optkern_q8_dequantize(c.as_ptr(), s.as_ptr(), out.as_mut_ptr(), n, m, null_mut())
            };
            assert_eq!(st, Status::Ok);
            let mut rout = vec![0f32; n];
            format::q8_dequantize(&rc, &rs, map, &mut rout).unwrap();
            assert_eq!(bits(&out), bits(&rout), "q8 map {m} dequantized");
        }
        assert!(
            all_codes[0] != all_codes[1] && all_codes[0] != all_codes[2],
            "q8 map {m}: the quantizers must differ on these values"
        );
    }
    for (m, map) in [(0, Q4Map::Signed), (1, Q4Map::Unsigned)] {
        let blocks = n.div_ceil(format::Q4_BLOCK);
        let (mut c, mut s) = (vec![0u8; n / 2], vec![0f32; blocks]);
        // SAFETY: as above.
        let st = unsafe {
            optkern_q4_quantize(x.as_ptr(), c.as_mut_ptr(), s.as_mut_ptr(), n, m, null_mut())
        };
        assert_eq!(st, Status::Ok);
        let (mut rc, mut rs) = (vec![0u8; n / 2], vec![0f32; blocks]);
        format::q4_quantize(&x, &mut rc, &mut rs, map).unwrap();
        assert_eq!((&c, bits(&s)), (&rc, bits(&rs)), "q4 map {m}");
        let mut out = vec![0f32; n];
        // SAFETY: as above.
        let st = unsafe {
            optkern_q4_dequantize(c.as_ptr(), s.as_ptr(), out.as_mut_ptr(), n, m, null_mut())
        };
        assert_eq!(st, Status::Ok);
        let mut rout = vec![0f32; n];
        format::q4_dequantize(&rc, &rs, map, &mut rout).unwrap();
        assert_eq!(bits(&out), bits(&rout), "q4 map {m} dequantized");
    }
    let blocks = n.div_ceil(format::FP8_BLOCK);
    let (mut c, mut s) = (vec![0u8; n], vec![0f32; blocks]);
    // SAFETY: as above.
    let st =
        unsafe { optkern_fp8_quantize(x.as_ptr(), c.as_mut_ptr(), s.as_mut_ptr(), n, null_mut()) };
    assert_eq!(st, Status::Ok);
    let (mut rc, mut rs) = (vec![0u8; n], vec![0f32; blocks]);
    format::fp8_quantize(&x, &mut rc, &mut rs).unwrap();
    assert_eq!((&c, bits(&s)), (&rc, bits(&rs)), "fp8");
    let mut out = vec![0f32; n];
    // SAFETY: as above.
    let st =
        unsafe { optkern_fp8_dequantize(c.as_ptr(), s.as_ptr(), out.as_mut_ptr(), n, null_mut()) };
    assert_eq!(st, Status::Ok);
    let mut rout = vec![0f32; n];
    format::fp8_dequantize(&rc, &rs, &mut rout).unwrap();
    assert_eq!(bits(&out), bits(&rout), "fp8 dequantized");
    // Out of range: nothing written.
    let before = (c.clone(), bits(&s));
    // SAFETY: as above.
    let got = record(|e| unsafe {
        optkern_q8_quantize(x.as_ptr(), c.as_mut_ptr(), s.as_mut_ptr(), n, 2, 0, e)
    });
    expect(got, Status::InvalidFormat, "map", "", "");
    // SAFETY: as above.
    let got = record(|e| unsafe {
        optkern_q8_quantize(x.as_ptr(), c.as_mut_ptr(), s.as_mut_ptr(), n, 0, 3, e)
    });
    expect(got, Status::InvalidFormat, "quantizer", "", "");
    let mut c4 = vec![0u8; n / 2];
    // SAFETY: as above.
    let got = record(|e| unsafe {
        optkern_q4_quantize(x.as_ptr(), c4.as_mut_ptr(), s.as_mut_ptr(), n, 2, e)
    });
    expect(got, Status::InvalidFormat, "map", "", "");
    assert_eq!((c, bits(&s)), before, "written on an error");
    assert!(c4.iter().all(|&b| b == 0), "q4 codes written on an error");
}

/// q4 and fp8 states through `optkern_adam_step_mixed` are the Rust call's (torchao's AdamW:
/// m on q4's signed map, v on its unsigned one; then both fp8), over 301 elements (an odd q4
/// length, a partial last block); each state's codes and scales sit next to the other's, so a
/// region computed too long is an overlap. A q4 state without scales, one at an offset inside
/// its block, fp8 gradients and format 7 are refused and write nothing.
#[test]
fn quantized_states_through_the_c_api() {
    use optkern::format::{
        FP8_BLOCK, Grads, Params, Placement, Q4_BLOCK, Q4Map, State, e4m3fn_to_f32,
    };
    use optkern::{Numerics, adam_step_mixed};
    let n: usize = 301;
    let cfg = AdamConfig { numerics: Numerics::Torchao, ..AdamConfig::adamw() };
    let p0: Vec<f32> = (0..n).map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.013).collect();
    let g: Vec<f32> = (0..n).map(|i| ((i * 53 % 89) as f32 - 44.0) * 0.007).collect();
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    let at = Placement { offset: 1024, ..Placement::default() };
    for fp8 in [false, true] {
        let (bytes, block) = if fp8 { (n, FP8_BLOCK) } else { (n.div_ceil(2), Q4_BLOCK) };
        let scales = n.div_ceil(block);
        // m's codes then v's in one allocation, likewise the scales.
        let (mut codes, mut scale) = (vec![0u8; 2 * bytes], vec![0f32; 2 * scales]);
        let (mut rcodes, mut rscale) = (codes.clone(), scale.clone());
        let (mut p, mut rp) = (p0.clone(), p0.clone());
        let format = if fp8 { 6 } else { 5 };
        for step in 1..=3 {
            let (cm, cv) = codes.split_at_mut(bytes);
            let (sm, sv) = scale.split_at_mut(scales);
            let bp = optkern_buffer_f32(p.as_mut_ptr());
            let bg = optkern_buffer_f32(g.as_ptr().cast_mut());
            let q = |c: &mut [u8], s: &mut [f32], map| Buffer {
                format,
                data: c.as_mut_ptr().cast(),
                absmax: s.as_mut_ptr(),
                map,
                ..bp
            };
            let (bm, bv) = (q(cm, sm, 0), q(cv, sv, 1));
            let none = Buffer { format: 4, ..optkern_buffer_f32(null_mut()) };
            // SAFETY: every descriptor points to what its format needs for n elements.
            let s = unsafe {
                optkern_adam_step_mixed(&bp, &bg, &bm, &bv, &none, n, step, &cfg, &at, null_mut())
            };
            assert_eq!(s, Status::Ok, "fp8 {fp8} step {step}");
            let (cm, cv) = rcodes.split_at_mut(bytes);
            let (sm, sv) = rscale.split_at_mut(scales);
            let (m, v) = if fp8 {
                (State::Fp8 { codes: cm, scale: sm }, State::Fp8 { codes: cv, scale: sv })
            } else {
                (
                    State::Q4 { codes: cm, scale: sm, map: Q4Map::Signed },
                    State::Q4 { codes: cv, scale: sv, map: Q4Map::Unsigned },
                )
            };
            let (rp_, rg) = (Params::F32(&mut rp), Grads::F32(&g));
            adam_step_mixed(rp_, rg, m, v, State::Unused, step, &cfg, &at).unwrap();
            assert_eq!(bits(&p), bits(&rp), "fp8 {fp8} step {step} params");
            assert_eq!((&codes, bits(&scale)), (&rcodes, bits(&rscale)), "fp8 {fp8} state");
        }
        assert!(p != p0 && scale.iter().all(|&s| s > 0.0), "fp8 {fp8}: the step moved");
        if fp8 {
            assert!(codes.iter().any(|&c| e4m3fn_to_f32(c) != 0.0));
        }
    }
    // Refusals write nothing.
    let mut p = p0.clone();
    let (mut codes, mut scale) = (vec![0u8; n], vec![0f32; 3]);
    let bp = optkern_buffer_f32(p.as_mut_ptr());
    let bg = optkern_buffer_f32(g.as_ptr().cast_mut());
    let none = Buffer { format: 4, ..optkern_buffer_f32(null_mut()) };
    let q4 =
        Buffer { format: 5, data: codes.as_mut_ptr().cast(), absmax: scale.as_mut_ptr(), ..bp };
    let mut v = vec![0f32; n];
    let bv = optkern_buffer_f32(v.as_mut_ptr());
    let misaligned = Placement { offset: 64, ..Placement::default() };
    // SAFETY: as above; the refused descriptors are rejected before any access.
    unsafe {
        let call = |m: &Buffer, g: &Buffer, at: &Placement| {
            record(|e| optkern_adam_step_mixed(&bp, g, m, &bv, &none, n, 1, &cfg, at, e))
        };
        let no_scale = Buffer { absmax: null_mut(), ..q4 };
        expect(call(&no_scale, &bg, &at), Status::NullPointer, "exp_avg", "absmax", "");
        expect(call(&q4, &bg, &misaligned), Status::BlockMisaligned, "exp_avg", "", "");
        let fp8_grads = Buffer { format: 6, ..q4 };
        expect(call(&bv, &fp8_grads, &at), Status::InvalidFormat, "grads", "format", "");
        let e = expect(
            call(&Buffer { format: 7, ..q4 }, &bg, &at),
            Status::InvalidFormat,
            "exp_avg",
            "format",
            "",
        );
        assert_eq!(e.value, 7.0);
    }
    assert!(p == p0 && v.iter().all(|&x| x == 0.0) && codes.iter().all(|&c| c == 0));
}

/// The factored Adafactor shard functions: one shard of the whole matrix through the four
/// passes gives `adafactor_factored_step`'s bits; an overflowing shard size, an overlap of the
/// column sums, a shard off the blocks, rows past the matrix and a bad step size are reported
/// with their argument, and nothing is written.
#[test]
fn factored_shard_functions_report_boundaries_rows_and_step_sizes() {
    use optkern::capi::optim::{
        optkern_adafactor_factored_col_var, optkern_adafactor_factored_shard_apply,
        optkern_adafactor_factored_shard_norms, optkern_adafactor_factored_shard_stats,
        optkern_adafactor_step_size,
    };
    use optkern::{AdafactorConfig, SHARD_ALIGN};
    let (rows, cols) = (130, 64);
    let n = rows * cols;
    let x: Vec<f32> = (0..n).map(|i| ((i * 7919) % 1000) as f32 * 1e-3 - 0.5).collect();
    let g: Vec<f32> = (0..n).map(|i| ((i * 104_729) % 997) as f32 * 1e-3 - 0.4).collect();
    let cfg = AdafactorConfig { grad_scale: 0.5, weight_decay: 0.1, ..Default::default() };
    let (mut p, mut r, mut c) = (x.clone(), vec![0.0f32; rows], vec![0.0f32; cols]);
    optkern::adafactor_factored_step(&mut p, &g, &mut r, &mut c, rows, cols, 1, &cfg).unwrap();
    let (mut sp, mut sr, mut sc) = (x.clone(), vec![0.0f32; rows], vec![0.0f32; cols]);
    let mut sums = vec![0.0f64; cols];
    let blocks = optkern::norm_partials_len(n);
    let (mut pp, mut up, mut size) = (vec![0.0; blocks], vec![0.0; blocks], 0.0f32);
    let bits = |v: &[f32]| v.iter().map(|a| a.to_bits()).collect::<Vec<_>>();
    // SAFETY: every pointer is a live buffer of the length given, or NULL where tested.
    unsafe {
        let ok = |s: Status| assert_eq!(s, Status::Ok);
        ok(record(|e| {
            optkern_adafactor_factored_shard_stats(
                g.as_ptr(),
                sr.as_mut_ptr(),
                rows,
                sums.as_mut_ptr(),
                cols,
                1,
                &cfg,
                e,
            )
        })
        .0);
        ok(record(|e| {
            optkern_adafactor_factored_col_var(
                sc.as_mut_ptr(),
                sums.as_ptr(),
                cols,
                rows,
                1,
                &cfg,
                e,
            )
        })
        .0);
        ok(record(|e| {
            optkern_adafactor_factored_shard_norms(
                sp.as_ptr(),
                g.as_ptr(),
                rows,
                0,
                sr.as_ptr(),
                rows,
                sc.as_ptr(),
                cols,
                1,
                &cfg,
                pp.as_mut_ptr(),
                blocks,
                up.as_mut_ptr(),
                blocks,
                e,
            )
        })
        .0);
        ok(record(|e| {
            optkern_adafactor_step_size(pp.as_ptr(), up.as_ptr(), n, 1, &cfg, &mut size, e)
        })
        .0);
        ok(record(|e| {
            optkern_adafactor_factored_shard_apply(
                sp.as_mut_ptr(),
                g.as_ptr(),
                rows,
                0,
                sr.as_ptr(),
                rows,
                sc.as_ptr(),
                cols,
                1,
                &cfg,
                size,
                e,
            )
        })
        .0);
        assert_eq!(bits(&sp), bits(&p));
        assert_eq!(bits(&sr), bits(&r));
        assert_eq!(bits(&sc), bits(&c));

        let (before_r, before_sums) = (sr.clone(), sums.clone());
        expect(
            record(|e| {
                optkern_adafactor_factored_shard_stats(
                    g.as_ptr(),
                    sr.as_mut_ptr(),
                    usize::MAX,
                    sums.as_mut_ptr(),
                    cols,
                    1,
                    &cfg,
                    e,
                )
            }),
            Status::InvalidLength,
            "shard_rows",
            "",
            "",
        );
        // The column sums laid over the row statistics.
        let alias = sr.as_mut_ptr().cast::<f64>();
        expect(
            record(|e| {
                optkern_adafactor_factored_shard_stats(
                    g.as_ptr(),
                    sr.as_mut_ptr(),
                    rows,
                    alias,
                    cols,
                    1,
                    &cfg,
                    e,
                )
            }),
            Status::Overlap,
            "row_var",
            "",
            "col_sums",
        );
        assert_eq!(bits(&sr), bits(&before_r));
        assert_eq!(sums, before_sums);
        // Row 1 starts at element 64: not on a block.
        let one = SHARD_ALIGN / cols;
        expect(
            record(|e| {
                optkern_adafactor_factored_shard_norms(
                    sp.as_ptr().add(cols),
                    g.as_ptr().add(cols),
                    one,
                    1,
                    sr.as_ptr(),
                    rows,
                    sc.as_ptr(),
                    cols,
                    1,
                    &cfg,
                    pp.as_mut_ptr(),
                    1,
                    up.as_mut_ptr(),
                    1,
                    e,
                )
            }),
            Status::ShardBoundary,
            "start",
            "",
            "",
        );
        let before = sp.clone();
        expect(
            record(|e| {
                optkern_adafactor_factored_shard_apply(
                    sp.as_mut_ptr(),
                    g.as_ptr(),
                    one,
                    rows - 1,
                    sr.as_ptr(),
                    rows,
                    sc.as_ptr(),
                    cols,
                    1,
                    &cfg,
                    size,
                    e,
                )
            }),
            Status::IndexOutOfRange,
            "row0",
            "",
            "",
        );
        let e = expect(
            record(|e| {
                optkern_adafactor_factored_shard_apply(
                    sp.as_mut_ptr(),
                    g.as_ptr(),
                    rows,
                    0,
                    sr.as_ptr(),
                    rows,
                    sc.as_ptr(),
                    cols,
                    1,
                    &cfg,
                    0.5,
                    e,
                )
            }),
            Status::InvalidHyperparameter,
            "step_size",
            "",
            "",
        );
        assert_eq!(e.value, 0.5);
        assert_eq!(bits(&sp), bits(&before));
    }
}

/// The layer-wise kernels in mixed formats (`optkern_lamb_step_mixed`, `…_lars_…`,
/// `…_adafactor_…`) are the Rust calls': bf16 gradients, an f32 master with a bf16 copy, q8
/// states (bitsandbytes' rule), 3 steps over 601 elements (a partial last block); a state
/// without its absmax is refused and nothing is written.
#[test]
fn layerwise_kernels_in_mixed_formats_through_the_c_api() {
    use optkern::capi::format::{
        optkern_adafactor_step_mixed, optkern_lamb_step_mixed, optkern_lars_step_mixed,
    };
    use optkern::format::{Grads, HalfCopy, Params, Placement, Q8Map, Quantizer, State, bf16};
    use optkern::{
        AdafactorConfig, LambConfig, LarsConfig, adafactor_step_mixed, lamb_step_mixed,
        lars_step_mixed,
    };
    let n: usize = 601;
    let blocks = n.div_ceil(256);
    let p0: Vec<f32> = (0..n).map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.013).collect();
    let g: Vec<bf16> =
        (0..n).map(|i| bf16::from_f32(((i * 53 % 89) as f32 - 44.0) * 0.007)).collect();
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    let at = Placement { offset: 0, seed: 5, counter: 1 };
    // kernel 0 LAMB (two states), 1 LARS, 2 Adafactor (one state each).
    for kernel in 0..3 {
        let states = if kernel == 0 { 2 } else { 1 };
        let maps = [Q8Map::Signed, Q8Map::Unsigned];
        let (mut p, mut rp) = (p0.clone(), p0.clone());
        let (mut copy, mut rcopy) = (vec![bf16::ZERO; n], vec![bf16::ZERO; n]);
        let (mut codes, mut absmax) =
            (vec![vec![0u8; n]; states], vec![vec![0f32; blocks]; states]);
        let (mut rcodes, mut rabsmax) = (codes.clone(), absmax.clone());
        for step in 1..=3u32 {
            let bp = Buffer {
                copy: copy.as_mut_ptr().cast(),
                copy_format: 1,
                ..optkern_buffer_f32(p.as_mut_ptr())
            };
            let bg = Buffer { format: 1, ..optkern_buffer_f32(g.as_ptr().cast_mut().cast()) };
            let q: Vec<Buffer> = (0..states)
                .map(|s| Buffer {
                    format: 3,
                    data: codes[s].as_mut_ptr().cast(),
                    absmax: absmax[s].as_mut_ptr(),
                    map: maps[s] as u32,
                    quantizer: 1,
                    ..optkern_buffer_f32(null_mut())
                })
                .collect();
            // SAFETY: every descriptor points to what its format needs for n elements.
            let s = unsafe {
                match kernel {
                    0 => optkern_lamb_step_mixed(
                        &bp,
                        &bg,
                        &q[0],
                        &q[1],
                        n,
                        step,
                        &LambConfig::default(),
                        &at,
                        null_mut(),
                    ),
                    1 => optkern_lars_step_mixed(
                        &bp,
                        &bg,
                        &q[0],
                        n,
                        &LarsConfig::default(),
                        &at,
                        null_mut(),
                    ),
                    _ => optkern_adafactor_step_mixed(
                        &bp,
                        &bg,
                        &q[0],
                        n,
                        step,
                        &AdafactorConfig::default(),
                        &at,
                        null_mut(),
                    ),
                }
            };
            assert_eq!(s, Status::Ok, "kernel {kernel} step {step}");
            let rparams = Params::F32WithCopy { master: &mut rp, copy: HalfCopy::Bf16(&mut rcopy) };
            let mut st =
                rcodes.iter_mut().zip(rabsmax.iter_mut()).zip(maps).map(|((c, a), map)| {
                    State::Q8 { codes: c, absmax: a, map, quantizer: Quantizer::BnbCpu }
                });
            let rg = Grads::Bf16(&g);
            let r = match kernel {
                0 => {
                    let (m, v) = (st.next().unwrap(), st.next().unwrap());
                    lamb_step_mixed(rparams, rg, m, v, step, &LambConfig::default(), &at)
                }
                1 => lars_step_mixed(rparams, rg, st.next().unwrap(), &LarsConfig::default(), &at),
                _ => {
                    let v = st.next().unwrap();
                    adafactor_step_mixed(rparams, rg, v, step, &AdafactorConfig::default(), &at)
                }
            };
            r.unwrap();
            assert_eq!(bits(&p), bits(&rp), "kernel {kernel} step {step} params");
            assert_eq!(copy, rcopy, "kernel {kernel} step {step} copy");
            assert_eq!(codes, rcodes, "kernel {kernel} step {step} codes");
            let ab: Vec<_> = absmax.iter().map(|a| bits(a)).collect();
            let rab: Vec<_> = rabsmax.iter().map(|a| bits(a)).collect();
            assert_eq!(ab, rab, "kernel {kernel} step {step} absmax");
        }
        assert!(p != p0 && codes.iter().all(|c| c.iter().any(|&x| x != codes[0][0])));
        // A state without its absmax: refused, nothing written.
        let before = (bits(&p), codes.clone());
        let bp = optkern_buffer_f32(p.as_mut_ptr());
        let bg = Buffer { format: 1, ..optkern_buffer_f32(g.as_ptr().cast_mut().cast()) };
        let bad = Buffer {
            format: 3,
            data: codes[0].as_mut_ptr().cast(),
            absmax: null_mut(),
            ..optkern_buffer_f32(null_mut())
        };
        // SAFETY: the refused descriptor is rejected before any access.
        let got = unsafe {
            match kernel {
                0 => record(|e| {
                    optkern_lamb_step_mixed(
                        &bp,
                        &bg,
                        &bad,
                        &bad,
                        n,
                        4,
                        &LambConfig::default(),
                        &at,
                        e,
                    )
                }),
                1 => record(|e| {
                    optkern_lars_step_mixed(&bp, &bg, &bad, n, &LarsConfig::default(), &at, e)
                }),
                _ => record(|e| {
                    optkern_adafactor_step_mixed(
                        &bp,
                        &bg,
                        &bad,
                        n,
                        4,
                        &AdafactorConfig::default(),
                        &at,
                        e,
                    )
                }),
            }
        };
        let arg = ["exp_avg", "velocity", "variance"][kernel];
        expect(got, Status::NullPointer, arg, "absmax", "");
        assert_eq!((bits(&p), codes.clone()), before, "kernel {kernel}: written on an error");
    }
}

/// bf16 parameters with a Kahan compensation through the C API (`.copy` of a bf16 params
/// descriptor) are the Rust call's; a compensation with `copy_format` 2 or stochastic rounding
/// is refused and nothing is written.
#[test]
fn kahan_compensated_params_through_the_c_api() {
    use optkern::capi::format::optkern_sgd_step_mixed;
    use optkern::format::{Grads, Params, Placement, State, bf16};
    let n: usize = 300;
    let p0: Vec<bf16> = (0..n).map(|i| bf16::from_f32(1.0 + (i % 7) as f32 * 0.25)).collect();
    let g: Vec<f32> = (0..n).map(|i| ((i * 53 % 89) as f32 - 44.0) * 2e-3).collect();
    let cfg = SgdConfig { lr: 0.1, ..SgdConfig::default() };
    let at = Placement::default();
    let (mut p, mut c) = (p0.clone(), vec![bf16::ZERO; n]);
    let (mut rp, mut rc) = (p0.clone(), vec![bf16::ZERO; n]);
    let none = Buffer { format: 4, ..optkern_buffer_f32(null_mut()) };
    let bg = optkern_buffer_f32(g.as_ptr().cast_mut());
    for step in 1..=5 {
        let bp = Buffer {
            format: 1,
            copy: c.as_mut_ptr().cast(),
            copy_format: 1,
            ..optkern_buffer_f32(p.as_mut_ptr().cast())
        };
        // SAFETY: every descriptor points to what its format needs for n elements.
        let s = unsafe { optkern_sgd_step_mixed(&bp, &bg, &none, n, step, &cfg, &at, null_mut()) };
        assert_eq!(s, Status::Ok);
        let params = Params::Bf16Kahan { values: &mut rp, compensation: &mut rc };
        optkern::sgd_step_mixed(params, Grads::F32(&g), State::Unused, step, &cfg, &at).unwrap();
        assert_eq!((&p, &c), (&rp, &rc), "step {step}");
    }
    assert!(p != p0 && c.iter().any(|&x| x != bf16::ZERO), "the compensation is used");
    let before = (p.clone(), c.clone());
    let bp = Buffer {
        format: 1,
        copy: c.as_mut_ptr().cast(),
        copy_format: 1,
        ..optkern_buffer_f32(p.as_mut_ptr().cast())
    };
    // SAFETY: the refused descriptors are rejected before any access.
    unsafe {
        let call =
            |b: &Buffer| record(|e| optkern_sgd_step_mixed(b, &bg, &none, n, 6, &cfg, &at, e));
        let e = expect(
            call(&Buffer { copy_format: 2, ..bp }),
            Status::InvalidFormat,
            "params",
            "copy_format",
            "",
        );
        assert_eq!(e.value, 2.0);
        let e = expect(
            call(&Buffer { rounding: 1, ..bp }),
            Status::InvalidFormat,
            "params",
            "rounding",
            "",
        );
        assert_eq!(e.value, 1.0);
    }
    assert_eq!((p, c), before, "written on an error");
}

/// D-Adapt Adam in mixed formats through the C API (`optkern_dadapt_adam_step_mixed`) is the
/// Rust call, its state included: bf16 gradients, an f32 master with a bf16 copy, q8 states
/// (nearest), 3 steps over 601 elements with `optkern_dadapt_update_d` between them. A NULL
/// state and a state buffer without its absmax are refused, and nothing (state included) is
/// written.
#[test]
fn dadapt_adam_in_mixed_formats_through_the_c_api() {
    use optkern::capi::format::optkern_dadapt_adam_step_mixed;
    use optkern::format::{Grads, HalfCopy, Params, Placement, Q8Map, Quantizer, State, bf16};
    use optkern::{Dadapt, DadaptAdamConfig, DadaptState, dadapt_adam_step_mixed, dadapt_update_d};
    let n: usize = 601;
    let blocks = n.div_ceil(256);
    let cfg = DadaptAdamConfig { weight_decay: 0.01, ..DadaptAdamConfig::default() };
    let p0: Vec<f32> = (0..n).map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.013).collect();
    let g: Vec<bf16> =
        (0..n).map(|i| bf16::from_f32(((i * 53 % 89) as f32 - 44.0) * 0.007)).collect();
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    let at = Placement { offset: 0, seed: 5, counter: 1 };
    let maps = [Q8Map::Signed, Q8Map::Unsigned, Q8Map::Signed];
    let (mut p, mut rp) = (p0.clone(), p0.clone());
    let (mut copy, mut rcopy) = (vec![bf16::ZERO; n], vec![bf16::ZERO; n]);
    let (mut codes, mut absmax) = (vec![vec![0u8; n]; 3], vec![vec![0f32; blocks]; 3]);
    let (mut rcodes, mut rabsmax) = (codes.clone(), absmax.clone());
    let (mut st, mut rst) = (DadaptState::new(1e-3), DadaptState::new(1e-3));
    let descriptors = |p: &mut Vec<f32>,
                       copy: &mut Vec<bf16>,
                       codes: &mut Vec<Vec<u8>>,
                       absmax: &mut Vec<Vec<f32>>| {
        let bp = Buffer {
            copy: copy.as_mut_ptr().cast(),
            copy_format: 1,
            ..optkern_buffer_f32(p.as_mut_ptr())
        };
        let q: Vec<Buffer> = (0..3)
            .map(|s| Buffer {
                format: 3,
                data: codes[s].as_mut_ptr().cast(),
                absmax: absmax[s].as_mut_ptr(),
                map: maps[s] as u32,
                ..optkern_buffer_f32(null_mut())
            })
            .collect();
        (bp, q)
    };
    let bg = Buffer { format: 1, ..optkern_buffer_f32(g.as_ptr().cast_mut().cast()) };
    // One C call, with `s`'s descriptor and the state pointer given.
    let call = |bp: &Buffer, q: &[Buffer], s: &Buffer, st: *mut DadaptState, e| {
        // SAFETY: every descriptor points to what its format needs for n elements, or is
        // refused before any access.
        unsafe { optkern_dadapt_adam_step_mixed(bp, &bg, &q[0], &q[1], s, st, n, &cfg, &at, e) }
    };
    for step in 1..=3u32 {
        let (bp, q) = descriptors(&mut p, &mut copy, &mut codes, &mut absmax);
        let s = call(&bp, &q, &q[2], &mut st, null_mut());
        assert_eq!(s, Status::Ok, "step {step}");
        let rparams = Params::F32WithCopy { master: &mut rp, copy: HalfCopy::Bf16(&mut rcopy) };
        let mut rs = rcodes.iter_mut().zip(rabsmax.iter_mut()).zip(maps).map(|((c, a), map)| {
            State::Q8 { codes: c, absmax: a, map, quantizer: Quantizer::Nearest }
        });
        let (m, v, s) = (rs.next().unwrap(), rs.next().unwrap(), rs.next().unwrap());
        dadapt_adam_step_mixed(rparams, Grads::Bf16(&g), m, v, s, &mut rst, &cfg, &at).unwrap();
        assert_eq!(bits(&p), bits(&rp), "step {step} params");
        assert_eq!((&copy, &codes), (&rcopy, &rcodes), "step {step} copy, codes");
        assert_eq!(st, rst, "step {step} state");
        for state in [&mut st, &mut rst] {
            dadapt_update_d(state, Dadapt::Adam, cfg.lr, cfg.beta2, cfg.growth_rate).unwrap();
        }
    }
    assert!(p != p0 && st.d != 1e-3, "the step moved the parameters and d");
    let before = (bits(&p), codes.clone(), st);
    let (bp, q) = descriptors(&mut p, &mut copy, &mut codes, &mut absmax);
    let bad = Buffer { absmax: null_mut(), ..q[2] };
    let got = record(|e| call(&bp, &q, &q[2], null_mut(), e));
    expect(got, Status::NullPointer, "state", "", "");
    let got = record(|e| call(&bp, &q, &bad, &mut st, e));
    expect(got, Status::NullPointer, "s", "absmax", "");
    assert_eq!((bits(&p), codes.clone(), st), before, "written on an error");
}
