//! The learning-rate-free methods (Prodigy): their two passes and the scalar update between
//! them against the f64 reference over many steps; the same bits at every width and for every
//! split of the model into tensors (the carried sums); errors that change nothing.

mod common;
use common::to_reference::ToReference;
use common::{Data, Kind};
use optkern::{
    Error, Numerics, ProdigyConfig, ProdigyState, Width, prodigy_accumulate_with,
    prodigy_apply_with, prodigy_update_d,
};
use optkern_reference as reference;

fn configs() -> Vec<(&'static str, ProdigyConfig)> {
    let d = ProdigyConfig::default();
    vec![
        ("default", d),
        ("decoupled", ProdigyConfig { weight_decay: 0.1, ..d }),
        (
            "l2_bias",
            ProdigyConfig { weight_decay: 0.01, decouple: false, use_bias_correction: true, ..d },
        ),
        (
            "warmup_growth",
            ProdigyConfig { safeguard_warmup: true, growth_rate: 1.5, d_coef: 0.5, ..d },
        ),
        ("scale_maximize", ProdigyConfig { grad_scale: 0.37, maximize: true, eps: 1e-3, ..d }),
    ]
}

/// The model's buffers: params, p0, s, m, v.
struct Model {
    p: Vec<f32>,
    p0: Vec<f32>,
    s: Vec<f32>,
    m: Vec<f32>,
    v: Vec<f32>,
    state: ProdigyState,
}

impl Model {
    fn new(p: Vec<f32>, d0: f64) -> Self {
        let n = p.len();
        Model {
            p0: p.clone(),
            p,
            s: vec![0.0; n],
            m: vec![0.0; n],
            v: vec![0.0; n],
            state: ProdigyState::new(d0),
        }
    }

    /// One step with the model split into tensors at `cuts` (ascending), at `width`.
    fn step(&mut self, g: &[f32], cuts: &[usize], width: Width, cfg: &ProdigyConfig) {
        let n = self.p.len();
        let bounds: Vec<(usize, usize)> = std::iter::once(0)
            .chain(cuts.iter().copied())
            .zip(cuts.iter().copied().chain(std::iter::once(n)))
            .collect();
        for &(a, b) in &bounds {
            prodigy_accumulate_with(
                width,
                &self.p[a..b],
                &g[a..b],
                &self.p0[a..b],
                &mut self.s[a..b],
                &mut self.m[a..b],
                &mut self.v[a..b],
                &mut self.state,
                cfg,
            )
            .unwrap();
        }
        prodigy_update_d(&mut self.state, cfg).unwrap();
        for &(a, b) in &bounds {
            prodigy_apply_with(
                width,
                &mut self.p[a..b],
                &self.m[a..b],
                &self.v[a..b],
                &self.state,
                cfg,
            )
            .unwrap();
        }
    }

    fn bits(&self) -> Vec<u32> {
        [&self.p, &self.s, &self.m, &self.v]
            .iter()
            .flat_map(|b| b.iter().map(|x| x.to_bits()))
            .chain([self.state.d.to_bits() as u32, (self.state.d.to_bits() >> 32) as u32])
            .collect()
    }
}

/// Each step against the f64 reference started from optkern's own state (widened): the f32
/// trajectory of a run drifts from the f64 one by far more than a step's rounding, because
/// `⟨g, θ₀ − θ⟩` cancels (θ moves by about `d`, 10⁻⁶, per step: one f32 ulp of θ is a few
/// percent of that; the golden-next README measured 1e-3–7e-2 of drift in prodigyopt itself).
#[test]
fn prodigy_steps_match_the_f64_reference() {
    const N: usize = 67;
    let widen = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<f64>>();
    for numerics in [Numerics::Torch, Numerics::Portable] {
        for (name, cfg) in configs() {
            let cfg = ProdigyConfig { numerics, ..cfg };
            let h = cfg.to_reference();
            let mut data = Data::new(3);
            let mut ours = Model::new(data.vec(N, Kind::Signed), cfg.d0);
            let (mut worst_d, mut worst_p) = (0.0f64, 0.0f64);
            for t in 1..=25 {
                let g: Vec<f32> = data.vec(N, Kind::Signed).iter().map(|x| x * 10.0).collect();
                let (mut rp, rp0) = (widen(&ours.p), widen(&ours.p0));
                let (mut rs, mut rm, mut rv) = (widen(&ours.s), widen(&ours.m), widen(&ours.v));
                let st = ours.state;
                let mut rst = reference::ProdigyScalars {
                    d: st.d,
                    d_max: st.d_max,
                    numerator: st.d_numerator,
                    k: st.k,
                };
                reference::prodigy(
                    &mut rp,
                    &widen(&g),
                    &rp0,
                    &mut rs,
                    &mut rm,
                    &mut rv,
                    &mut rst,
                    &h,
                );
                ours.step(&g, &[], Width::NATIVE, &cfg);
                let d_err = (ours.state.d - rst.d).abs() / rst.d;
                worst_d = worst_d.max(d_err);
                assert!(
                    d_err < 1e-5,
                    "{name}/{numerics:?} step {t}: d {} vs {} ({d_err:e})",
                    ours.state.d,
                    rst.d
                );
                // The displacement of this step is what the step computed: bound it relative
                // to its own size, with the f32 rounding of θ as the floor.
                for (k, (a, e)) in [(&ours.p, &rp), (&ours.m, &rm), (&ours.v, &rv), (&ours.s, &rs)]
                    .into_iter()
                    .enumerate()
                {
                    let scale = e.iter().fold(0.0f64, |m, x| m.max(x.abs()));
                    for (i, (a, e)) in a.iter().zip(e).enumerate() {
                        let err = (f64::from(*a) - e).abs() / scale.max(f64::MIN_POSITIVE);
                        worst_p = worst_p.max(err);
                        assert!(
                            err < 1e-6,
                            "{name}/{numerics:?} step {t} buffer {k}[{i}]: {a} vs {e} ({err:e})"
                        );
                    }
                }
            }
            println!("prodigy/{name}/{numerics:?}: worst d {worst_d:.2e}, buffers {worst_p:.2e}");
        }
    }
}

#[test]
fn prodigy_bits_do_not_depend_on_width_or_on_the_split_into_tensors() {
    // Longer than two sum blocks (4096), so cuts fall inside, at and across block boundaries.
    const N: usize = 9000;
    let cuts: [&[usize]; 5] =
        [&[], &[1], &[4095, 4097], &[7, 100, 4096, 5000, 8999], &[3000, 6000]];
    for numerics in [Numerics::Torch, Numerics::Portable] {
        let cfg = ProdigyConfig { weight_decay: 0.1, numerics, ..Default::default() };
        let mut data = Data::new(5);
        let p = data.vec(N, Kind::Param);
        let grads: Vec<Vec<f32>> = (0..3).map(|_| data.vec(N, Kind::Grad)).collect();
        let mut want = Model::new(p.clone(), cfg.d0);
        for g in &grads {
            want.step(g, &[], Width::X1, &cfg);
        }
        for width in Width::ALL {
            for split in cuts {
                let mut got = Model::new(p.clone(), cfg.d0);
                for g in &grads {
                    got.step(g, split, width, &cfg);
                }
                assert!(got.bits() == want.bits(), "{numerics:?} {width:?} cuts {split:?}");
                assert_eq!(got.state, want.state, "{numerics:?} {width:?} cuts {split:?}");
            }
        }
    }
}

#[test]
fn prodigy_errors_change_nothing() {
    let n = 11;
    let cfg = ProdigyConfig::default();
    let mut m = Model::new(vec![0.5; n], cfg.d0);
    let g = vec![0.25f32; n];
    let before = (m.bits(), m.state);
    // Each buffer one short.
    for k in 0..5 {
        let mut bufs: Vec<Vec<f32>> =
            vec![g.clone(), m.p0.clone(), m.s.clone(), m.m.clone(), m.v.clone()];
        bufs[k].pop();
        let [gg, p0, s, mm, v] = &mut bufs[..] else { unreachable!() };
        let e = prodigy_accumulate_with(Width::NATIVE, &m.p, gg, p0, s, mm, v, &mut m.state, &cfg)
            .unwrap_err();
        let name = ["grads", "p0", "s", "exp_avg", "exp_avg_sq"][k];
        assert_eq!(e, Error::LengthMismatch { arg: name, expected: n, found: n - 1 });
    }
    for (name, bad) in [
        ("beta3", ProdigyConfig { beta3: 1.0, ..cfg }),
        ("d0", ProdigyConfig { d0: 0.0, ..cfg }),
        ("growth_rate", ProdigyConfig { growth_rate: 0.0, ..cfg }),
        ("lr", ProdigyConfig { lr: f64::NAN, ..cfg }),
        ("grad_scale", ProdigyConfig { grad_scale: -1.0, ..cfg }),
    ] {
        let (Model { p, p0, s, m: mm, v, state }, g) = (&mut m, &g);
        let e =
            prodigy_accumulate_with(Width::NATIVE, p, g, p0, s, mm, v, state, &bad).unwrap_err();
        assert!(
            matches!(e, Error::InvalidHyperparameter { name: n, .. } if n == name),
            "{name}: {e:?}"
        );
        let e = prodigy_update_d(state, &bad).unwrap_err();
        assert!(matches!(e, Error::InvalidHyperparameter { name: n, .. } if n == name));
        let e = prodigy_apply_with(Width::NATIVE, p, mm, v, state, &bad).unwrap_err();
        assert!(matches!(e, Error::InvalidHyperparameter { name: n, .. } if n == name));
    }
    assert_eq!((m.bits(), m.state), before, "written on an error");
}
