#![no_main]
libfuzzer_sys::fuzz_target!(|c: optkern_fuzz::Case| {
    optkern_fuzz::check_formats(&c);
});
