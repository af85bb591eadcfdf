//! A `#![no_std]` consumer of optkern (see Cargo.toml for why it exists).
#![no_std]

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}

/// Runs one step of each kernel on stack buffers; returns how many succeeded.
#[unsafe(no_mangle)]
pub extern "C" fn optkern_nostd_check() -> u32 {
    let (mut p, g, mut m, mut v) = ([1.0f32; 11], [0.5f32; 11], [0.0f32; 11], [0.0f32; 11]);
    let mut ok = 0;
    ok +=
        optkern::adam_step(&mut p, &g, &mut m, &mut v, &mut [], 1, &optkern::AdamConfig::default())
            .is_ok() as u32;
    ok += optkern::sgd_step(&mut p, &g, &mut m, 1, &optkern::SgdConfig::default()).is_ok() as u32;
    ok += optkern::momentum_step(&mut p, &g, &mut v, &optkern::MomentumConfig::default()).is_ok()
        as u32;
    ok
}
