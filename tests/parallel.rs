//! The rayon variants give the same bits as the single-thread calls, for every thread count.
#![cfg(feature = "rayon")]

mod common;
use common::{Data, Kind, bits};

#[test]
fn parallel_equals_single_thread_for_any_thread_count() {
    let n = 3 * optkern::parallel::BLOCK + 12_345;
    let mut data = Data::new(9);
    let (p0, g, m0, v0) = (
        data.vec(n, Kind::Param),
        data.vec(n, Kind::Grad),
        data.vec(n, Kind::Signed),
        data.vec(n, Kind::NonNeg),
    );
    // Adam in the default profile and in Fast (whose refined estimates are per element too).
    let adams = [optkern::Numerics::Torch, optkern::Numerics::Fast].map(|numerics| {
        let adam = optkern::AdamConfig { amsgrad: true, numerics, ..Default::default() };
        let (mut p1, mut m1, mut v1, mut x1) = (p0.clone(), m0.clone(), v0.clone(), v0.clone());
        optkern::adam_step(&mut p1, &g, &mut m1, &mut v1, &mut x1, 3, &adam).unwrap();
        (adam, [p1, m1, v1, x1].map(|b| bits(&b)))
    });
    let sgd = optkern::SgdConfig { momentum: 0.9, ..Default::default() };
    let (mut q1, mut b1) = (p0.clone(), m0.clone());
    optkern::sgd_step(&mut q1, &g, &mut b1, 2, &sgd).unwrap();
    let lion = optkern::LionConfig::default();
    let (mut l1, mut lm1) = (p0.clone(), m0.clone());
    optkern::lion_step(&mut l1, &g, &mut lm1, &lion).unwrap();
    for threads in [1, 2, 3, 8] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            for (adam, want) in &adams {
                let (mut p2, mut m2, mut v2, mut x2) =
                    (p0.clone(), m0.clone(), v0.clone(), v0.clone());
                optkern::parallel::adam_step(&mut p2, &g, &mut m2, &mut v2, &mut x2, 3, adam)
                    .unwrap();
                let got = [p2, m2, v2, x2].map(|b| bits(&b));
                assert_eq!(&got, want, "adam {:?}, {threads} threads", adam.numerics);
            }
            let (mut q2, mut b2) = (p0.clone(), m0.clone());
            optkern::parallel::sgd_step(&mut q2, &g, &mut b2, 2, &sgd).unwrap();
            assert_eq!((bits(&q2), bits(&b2)), (bits(&q1), bits(&b1)), "sgd, {threads} threads");
            let (mut l2, mut lm2) = (p0.clone(), m0.clone());
            optkern::parallel::lion_step(&mut l2, &g, &mut lm2, &lion).unwrap();
            assert_eq!((bits(&l2), bits(&lm2)), (bits(&l1), bits(&lm1)), "lion, {threads} threads");
        });
    }
    // Errors before any write.
    let mut p = p0.clone();
    let bad = optkern::AdamConfig { lr: f64::NAN, ..Default::default() };
    assert!(
        optkern::parallel::adam_step(
            &mut p,
            &g,
            &mut m0.clone(),
            &mut v0.clone(),
            &mut [],
            1,
            &bad
        )
        .is_err()
    );
    assert_eq!(bits(&p), bits(&p0));
}
