//! The bf16 conversions and the `q8`, `q4` and `fp8` codes of the staged driver, 16 elements at
//! a time in 512-bit registers on builds with AVX-512F, the same rules as [`super::half`],
//! [`super::q8`], [`super::q4`] and [`super::fp8`] elsewhere.
//!
//! Why this module: LLVM vectorises the slice loops of [`super::half`] at 256 bits on AVX-512
//! CPUs (its preferred width there), which made the bf16 narrowing twelve operations per eight
//! values and the stage a mix of 256-bit writes read back by 512-bit loads. Here one 512-bit
//! register holds the 16 values:
//! ```text
//! widen:  f32 bits = zero-extend(h) << 16                                  (2 operations)
//! narrow: t = u + 0x7FFF + ((u >> 16) & 1);  h = |u| > 0x7F800000 ? 0xFFFF : t >> 16
//!         (the shift under a mask, then the 32 → 16 truncation)              (8 operations)
//! ```
//! The results are bit for bit [`super::half::bf16_bits`] and [`super::half::from_bf16_bits`]
//! (every bf16 pattern and a sweep of f32 patterns are compared below), so a build's bits do
//! not depend on which path it takes.
//!
//! The `q8` codes likewise: LLVM's loop of [`super::q8`]'s bucket lookup gathered 8 table
//! entries per instruction; one 512-bit gather takes 16 (0.54 → 0.39 ns per code in a
//! microbenchmark; q8 Adam at 16 Mi 2.61 → 2.36 ns per element with the nearest rule, 3.67 →
//! 2.87 with bitsandbytes' rule, SPR). The codes equal `q8::code_of`'s (tested there).
//!
//! torchao's `q4`: its 16-value map fits one register, so each probe of the binary search is a
//! permute (LLVM's loop compared with all fifteen values, three selects each, 8 lanes), and
//! unpacking is one permute: q4 Adam at 16 Mi 6.2 → 2.4 ns per element (SPR; `q4`'s tests
//! compare whole blocks with the one-element rule).
//!
//! `fp8` (e4m3fn): the same branch-free arithmetic as `fp8::f32_to_e4m3fn`, at 16 lanes where
//! LLVM chose 8: fp8 Adam at 4 Ki 3.34 → 2.92 ns per element (SPR, six alternating runs).
//!
//! `q8` with torchao's rule: its binary search over 256 values left LLVM's loop scalar (87 % of
//! a q8 Adam step). Here each probe is a permute of the values it can reach at its depth (1 to
//! 128 of them, in 1 to 8 registers), and the two values of the rounding step are the last
//! probe passed and the last failed: no gather. q8 (torchao) Adam at 16 Mi 13.3 → 3.5 ns per
//! element (SPR, three alternating runs).
//!
//! The intrinsics are `#[target_feature]` functions on raw pointers: this module and
//! [`crate::fast`] (and `crate::prefetch`'s one instruction) are the only `unsafe` outside the
//! C API.

/// 16 bf16 bit patterns → their 16 f32 values.
#[inline(always)]
pub(crate) fn widen_bf16(x: &[u16; 16], out: &mut [f32; 16]) {
    simd::widen_bf16(x, out)
}

/// 16 f32 values → their bf16 bit patterns, round to nearest even, NaN → `0xFFFF`.
#[inline(always)]
pub(crate) fn narrow_bf16(x: &[f32; 16], out: &mut [u16; 16]) {
    simd::narrow_bf16(x, out)
}

/// 16 f32 values at consecutive low indices `lo..lo + 16` → bf16 bit patterns rounded
/// stochastically ([`super::sr`]): `r = lowbias32((lo + j) ^ key) >> 16`, up one ulp when
/// `r < u & 0xFFFF`, then the nearest-even narrowing of that (exact) value.
#[inline(always)]
pub(crate) fn stochastic_bf16(x: &[f32; 16], lo: u32, key: u32, out: &mut [u16; 16]) {
    simd::stochastic_bf16(x, lo, key, out)
}

/// torchao's `q4` codes of `x[i]/scale` ([`super::q4`]'s rule, bit for bit), packed two per
/// byte with the even element high (one permute per binary-search probe on AVX-512 builds).
#[inline(always)]
pub(crate) fn q4_codes(q: &[f32; 16], scale: f32, x: &[f32; 16], out: &mut [u8; 8]) {
    simd::q4_codes(q, scale, x, out)
}

/// 16 `q4` values `q[code]·scale` from 8 packed bytes (one permute on AVX-512 builds).
#[inline(always)]
pub(crate) fn q4_values(q: &[f32; 16], bytes: &[u8; 8], scale: f32, out: &mut [f32; 16]) {
    simd::q4_values(q, bytes, scale, out)
}

/// 16 `fp8` codes `e4m3fn(x[i]/scale)` ([`super::fp8::f32_to_e4m3fn`]'s arithmetic, bit for
/// bit, in 512-bit registers on AVX-512 builds).
#[inline(always)]
pub(crate) fn fp8_codes(scale: f32, x: &[f32; 16], out: &mut [u8; 16]) {
    simd::fp8_codes(scale, x, out)
}

/// 16 `q8` codes of `x[i]/scale` by torchao's rule ([`super::q8::torchao_code`], bit for bit):
/// on AVX-512 builds each binary-search probe is a permute of `probes` (the values it can reach
/// at that depth), and `q[c]`, `q[c + 1]` are the last probe passed and the last failed.
#[inline(always)]
pub(crate) fn q8_torchao_codes(
    value: &[f32; 256],
    probes: &[[f32; 16]; PROBE_REGS],
    scale: f32,
    x: &[f32; 16],
    out: &mut [u8; 16],
) {
    simd::q8_torchao_codes(value, probes, scale, x, out)
}

/// 16 `q8` codes of `x·inv` in the bucket table `nearest` of [`super::q8`]: nearest, or with
/// `BNB` bitsandbytes' CPU rule, bit for bit [`super::q8::code_of`] (one 512-bit gather of the
/// 16 table entries on AVX-512 builds).
#[inline(always)]
pub(crate) fn q8_codes<const BNB: bool>(
    nearest: &[u32; TABLE],
    inv: f32,
    x: &[f32; 16],
    out: &mut [u8; 16],
) {
    simd::q8_codes::<BNB>(nearest, inv, x, out)
}

use super::q8::{PROBE_REGS, TABLE};

#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
use avx512 as simd;
#[cfg(not(all(target_arch = "x86_64", target_feature = "avx512f")))]
use scalar as simd;

#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
#[allow(unsafe_code)]
mod avx512 {
    use super::super::q8::{KEYS, PROBE_REGS, TABLE};
    use core::arch::x86_64::{
        __m512, __m512i, _CMP_GE_OQ, _mm_loadl_epi64, _mm_storel_epi64, _mm_storeu_si128,
        _mm256_loadu_si256, _mm256_storeu_si256, _mm512_add_epi32, _mm512_add_ps, _mm512_and_si512,
        _mm512_castps_si512, _mm512_castsi512_ps, _mm512_cmp_ps_mask, _mm512_cmpge_epu32_mask,
        _mm512_cmple_epu32_mask, _mm512_cmplt_epi32_mask, _mm512_cmplt_epu32_mask,
        _mm512_cvtepi32_epi8, _mm512_cvtepi32_epi16, _mm512_cvtepi64_epi8, _mm512_cvtepu8_epi64,
        _mm512_cvtepu16_epi32, _mm512_div_ps, _mm512_i32gather_epi32, _mm512_loadu_ps,
        _mm512_loadu_si512, _mm512_mask_add_epi32, _mm512_mask_blend_ps, _mm512_mask_mov_epi32,
        _mm512_mask_mov_ps, _mm512_mask_srli_epi32, _mm512_mask_xor_epi32, _mm512_max_epi32,
        _mm512_max_epu32, _mm512_max_ps, _mm512_min_epu32, _mm512_min_ps, _mm512_mul_ps,
        _mm512_mullo_epi32, _mm512_or_si512, _mm512_permutex2var_ps, _mm512_permutexvar_ps,
        _mm512_roundscale_ps, _mm512_set1_epi32, _mm512_set1_epi64, _mm512_set1_ps,
        _mm512_setr_epi32, _mm512_setzero_si512, _mm512_slli_epi32, _mm512_slli_epi64,
        _mm512_srli_epi32, _mm512_srli_epi64, _mm512_storeu_ps, _mm512_storeu_si512,
        _mm512_sub_epi32, _mm512_sub_ps, _mm512_test_epi32_mask, _mm512_xor_si512,
    };

    // SAFETY (every function): the build enables avx512f (the `cfg` above), the instructions'
    // only requirement; the unaligned loads and stores touch exactly the bytes of the borrowed
    // arrays (32 bytes of 16 u16, 64 bytes of 16 f32, 16 bytes of 16 u8); the gather's indices
    // are masked with `TABLE − 1`, inside the borrowed table.

    #[inline(always)]
    pub(super) fn widen_bf16(x: &[u16; 16], out: &mut [f32; 16]) {
        unsafe {
            let h = _mm256_loadu_si256(x.as_ptr().cast());
            let w = _mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(h));
            _mm512_storeu_si512(out.as_mut_ptr().cast(), w);
        }
    }

    #[inline(always)]
    pub(super) fn narrow_bf16(x: &[f32; 16], out: &mut [u16; 16]) {
        let u = unsafe { _mm512_loadu_si512(x.as_ptr().cast()) };
        store_narrowed(u, out);
    }

    #[inline(always)]
    pub(super) fn stochastic_bf16(x: &[f32; 16], lo: u32, key: u32, out: &mut [u16; 16]) {
        unsafe {
            let u = _mm512_loadu_si512(x.as_ptr().cast());
            let iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
            let i = _mm512_add_epi32(_mm512_set1_epi32(lo as i32), iota);
            let h = lowbias32(_mm512_xor_si512(i, _mm512_set1_epi32(key as i32)));
            let r = _mm512_srli_epi32::<16>(h);
            let low = _mm512_and_si512(u, _mm512_set1_epi32(0xFFFF));
            let up = _mm512_cmplt_epu32_mask(r, low);
            let t = _mm512_and_si512(u, _mm512_set1_epi32(0xFFFF_0000_u32 as i32));
            store_narrowed(_mm512_mask_add_epi32(t, up, t, _mm512_set1_epi32(0x1_0000)), out);
        }
    }

    /// The scalar rule of `q8::code_of` on 16 lanes: the same f32 operations in the same order
    /// (`⌊·⌋` by `roundscale`, exact like `floor_small`), the bucket and key of `q8::bucket`,
    /// then the table entry's code plus one where the key reaches its threshold.
    #[inline(always)]
    pub(super) fn q8_codes<const BNB: bool>(
        nearest: &[u32; TABLE],
        inv: f32,
        x: &[f32; 16],
        out: &mut [u8; 16],
    ) {
        unsafe {
            let (one, half) = (_mm512_set1_ps(1.0), _mm512_set1_ps(0.5));
            let y = _mm512_mul_ps(_mm512_loadu_ps(x.as_ptr()), _mm512_set1_ps(inv));
            let mut y = _mm512_min_ps(_mm512_max_ps(y, _mm512_set1_ps(-1.0)), one);
            if BNB {
                let z = _mm512_mul_ps(
                    _mm512_mul_ps(_mm512_add_ps(y, one), half),
                    _mm512_set1_ps(65535.0),
                );
                // 0x09: round toward −∞, no exceptions.
                let j = _mm512_roundscale_ps::<0x09>(_mm512_add_ps(z, half));
                let q =
                    _mm512_div_ps(_mm512_mul_ps(_mm512_set1_ps(2.0), j), _mm512_set1_ps(65535.0));
                y = _mm512_add_ps(_mm512_set1_ps(-1.0), q);
            }
            let b = _mm512_castps_si512(y);
            let neg = _mm512_cmplt_epi32_mask(b, _mm512_setzero_si512());
            let floor = _mm512_set1_epi32(104 << 7);
            let top = _mm512_and_si512(_mm512_srli_epi32::<16>(b), _mm512_set1_epi32(0x7FFF));
            let key = _mm512_sub_epi32(_mm512_max_epu32(top, floor), floor);
            let key = _mm512_mask_add_epi32(key, neg, key, _mm512_set1_epi32(KEYS as i32));
            let idx = _mm512_and_si512(key, _mm512_set1_epi32(TABLE as i32 - 1));
            let e = _mm512_i32gather_epi32::<4>(idx, nearest.as_ptr().cast());
            let ones = _mm512_set1_epi32(0xFFFF);
            let low = _mm512_and_si512(b, ones);
            let low = _mm512_mask_xor_epi32(low, neg, low, ones);
            let up = _mm512_cmpge_epu32_mask(low, _mm512_srli_epi32::<8>(e));
            // The low byte of `e + 1` is `(e & 0xFF) + 1` truncated, as the scalar `as u8`.
            let code = _mm512_mask_add_epi32(e, up, e, _mm512_set1_epi32(1));
            _mm_storeu_si128(out.as_mut_ptr().cast(), _mm512_cvtepi32_epi8(code));
        }
    }

    /// torchao's 4-bit code of `x/scale` on 16 lanes (`q4::code`'s rule as `torchao_code`'s
    /// branch-free binary search: the probes `q[c + h]` by one permute each, the same f32
    /// comparisons and the same rounding step), packed two per byte, even element high.
    #[inline(always)]
    pub(super) fn q4_codes(q: &[f32; 16], scale: f32, x: &[f32; 16], out: &mut [u8; 8]) {
        unsafe {
            let table = _mm512_loadu_ps(q.as_ptr());
            let y = _mm512_div_ps(_mm512_loadu_ps(x.as_ptr()), _mm512_set1_ps(scale));
            let mut c = _mm512_setzero_si512();
            for h in [8, 4, 2, 1] {
                let probe = _mm512_add_epi32(c, _mm512_set1_epi32(h));
                let v = _mm512_permutexvar_ps(probe, table);
                // `y >= q[c + h]`, false for NaN (ordered, quiet).
                let up = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(y, v);
                c = _mm512_mask_mov_epi32(c, up, probe);
            }
            let up =
                _mm512_min_epu32(_mm512_add_epi32(c, _mm512_set1_epi32(1)), _mm512_set1_epi32(15));
            let (low, high) = (_mm512_permutexvar_ps(c, table), _mm512_permutexvar_ps(up, table));
            let half = _mm512_mul_ps(_mm512_sub_ps(high, low), _mm512_set1_ps(0.5));
            let round_up = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(_mm512_sub_ps(y, low), half);
            let c = _mm512_mask_mov_epi32(c, round_up, up);
            // Lane pairs as 64-bit lanes (even code low): byte = even << 4 | odd.
            let pairs = _mm512_or_si512(_mm512_slli_epi64::<4>(c), _mm512_srli_epi64::<32>(c));
            _mm_storel_epi64(out.as_mut_ptr().cast(), _mm512_cvtepi64_epi8(pairs));
        }
    }

    /// 16 `q4` values `q[code]·scale` from 8 packed bytes (even element high), one permute.
    #[inline(always)]
    pub(super) fn q4_values(q: &[f32; 16], bytes: &[u8; 8], scale: f32, out: &mut [f32; 16]) {
        unsafe {
            let b = _mm512_cvtepu8_epi64(_mm_loadl_epi64(bytes.as_ptr().cast()));
            // 64-bit lane k: the high nibble (element 2k) low, the low nibble (2k + 1) high.
            let low = _mm512_slli_epi64::<32>(_mm512_and_si512(b, _mm512_set1_epi64(0xF)));
            let idx = _mm512_or_si512(_mm512_srli_epi64::<4>(b), low);
            let v = _mm512_permutexvar_ps(idx, _mm512_loadu_ps(q.as_ptr()));
            _mm512_storeu_ps(out.as_mut_ptr(), _mm512_mul_ps(v, _mm512_set1_ps(scale)));
        }
    }

    /// `fp8::f32_to_e4m3fn` of `x/scale` on 16 lanes: the same f32 operations (a division,
    /// an exact multiply by a power of two, the rounding add of 2²³) and the same selects.
    #[inline(always)]
    pub(super) fn fp8_codes(scale: f32, x: &[f32; 16], out: &mut [u8; 16]) {
        unsafe {
            let y = _mm512_castps_si512(_mm512_div_ps(
                _mm512_loadu_ps(x.as_ptr()),
                _mm512_set1_ps(scale),
            ));
            let sign = _mm512_and_si512(_mm512_srli_epi32::<24>(y), _mm512_set1_epi32(0x80));
            let abs = _mm512_and_si512(y, _mm512_set1_epi32(0x7FFF_FFFF));
            // |y| ≥ 464 or NaN: as integers, the bits of 464.0 and above (NaN included).
            let out_of_range =
                _mm512_cmpge_epu32_mask(abs, _mm512_set1_epi32(464.0f32.to_bits() as i32));
            let a = _mm512_mask_mov_epi32(abs, out_of_range, _mm512_setzero_si512());
            let e = _mm512_max_epi32(
                _mm512_sub_epi32(_mm512_srli_epi32::<23>(a), _mm512_set1_epi32(127)),
                _mm512_set1_epi32(-6),
            );
            // 2^(3 − e), exact: the biased exponent 130 − e.
            let pow = _mm512_slli_epi32::<23>(_mm512_sub_epi32(_mm512_set1_epi32(130), e));
            let shift = _mm512_set1_ps(8_388_608.0);
            let sum = _mm512_add_ps(
                _mm512_mul_ps(_mm512_castsi512_ps(a), _mm512_castsi512_ps(pow)),
                shift,
            );
            let m = _mm512_sub_epi32(_mm512_castps_si512(sum), _mm512_castps_si512(shift));
            let normal = _mm512_add_epi32(
                _mm512_slli_epi32::<3>(_mm512_add_epi32(e, _mm512_set1_epi32(7))),
                _mm512_sub_epi32(m, _mm512_set1_epi32(8)),
            );
            let subnormal = _mm512_cmplt_epu32_mask(m, _mm512_set1_epi32(8));
            let code = _mm512_mask_mov_epi32(normal, subnormal, m);
            let code = _mm512_mask_mov_epi32(code, out_of_range, _mm512_set1_epi32(0x7F));
            _mm_storeu_si128(
                out.as_mut_ptr().cast(),
                _mm512_cvtepi32_epi8(_mm512_or_si512(sign, code)),
            );
        }
    }

    /// torchao's search on 16 lanes. Invariants of its branch-free binary search (step `h`):
    /// the last failed probe is `c + 2h` (so at the end `c + 1`, or none and `c = 255`), the
    /// last passed one is `c` (or none and `c = 0`): `low`, `high` carry their values.
    #[inline(always)]
    pub(super) fn q8_torchao_codes(
        value: &[f32; 256],
        probes: &[[f32; 16]; PROBE_REGS],
        scale: f32,
        x: &[f32; 16],
        out: &mut [u8; 16],
    ) {
        unsafe {
            // (`probes.each_ref().map(load)` measured 20 % slower on a q8 Adam step, SPR.)
            let r: [__m512; PROBE_REGS] = core::array::from_fn(|i| {
                _mm512_loadu_ps(probes.get(i).map_or([0.0; 16], |p| *p).as_ptr())
            });
            let y = _mm512_div_ps(_mm512_loadu_ps(x.as_ptr()), _mm512_set1_ps(scale));
            let mut c = _mm512_setzero_si512();
            let mut low = _mm512_set1_ps(value[0]);
            // q[up] with no failed probe (c = up = 255, where the rounding step changes nothing).
            let mut high = _mm512_set1_ps(value[255]);
            let mut probe = |v: __m512, h: i32, c: &mut __m512i| {
                let pass = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(y, v);
                *c = _mm512_mask_add_epi32(*c, pass, *c, _mm512_set1_epi32(h));
                low = _mm512_mask_mov_ps(low, pass, v);
                high = _mm512_mask_mov_ps(high, !pass, v);
            };
            probe(_mm512_set1_ps(value[128]), 128, &mut c);
            probe(_mm512_permutexvar_ps(_mm512_srli_epi32::<7>(c), r[0]), 64, &mut c);
            probe(_mm512_permutexvar_ps(_mm512_srli_epi32::<6>(c), r[1]), 32, &mut c);
            probe(_mm512_permutexvar_ps(_mm512_srli_epi32::<5>(c), r[2]), 16, &mut c);
            probe(_mm512_permutexvar_ps(_mm512_srli_epi32::<4>(c), r[3]), 8, &mut c);
            probe(_mm512_permutex2var_ps(r[4], _mm512_srli_epi32::<3>(c), r[5]), 4, &mut c);
            let k = _mm512_srli_epi32::<2>(c);
            let b5 = _mm512_test_epi32_mask(k, _mm512_set1_epi32(32));
            let (a0, a1) =
                (_mm512_permutex2var_ps(r[6], k, r[7]), _mm512_permutex2var_ps(r[8], k, r[9]));
            probe(_mm512_mask_blend_ps(b5, a0, a1), 2, &mut c);
            let k = _mm512_srli_epi32::<1>(c);
            let b5 = _mm512_test_epi32_mask(k, _mm512_set1_epi32(32));
            let b6 = _mm512_test_epi32_mask(k, _mm512_set1_epi32(64));
            let a: [__m512; 4] =
                core::array::from_fn(|j| _mm512_permutex2var_ps(r[10 + 2 * j], k, r[11 + 2 * j]));
            let (q0, q1) =
                (_mm512_mask_blend_ps(b5, a[0], a[1]), _mm512_mask_blend_ps(b5, a[2], a[3]));
            probe(_mm512_mask_blend_ps(b6, q0, q1), 1, &mut c);
            let up =
                _mm512_min_epu32(_mm512_add_epi32(c, _mm512_set1_epi32(1)), _mm512_set1_epi32(255));
            let half = _mm512_mul_ps(_mm512_sub_ps(high, low), _mm512_set1_ps(0.5));
            let round_up = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(_mm512_sub_ps(y, low), half);
            let c = _mm512_mask_mov_epi32(c, round_up, up);
            _mm_storeu_si128(out.as_mut_ptr().cast(), _mm512_cvtepi32_epi8(c));
        }
    }

    /// `lowbias32` on 16 lanes (wrapping multiplies).
    #[inline(always)]
    fn lowbias32(x: __m512i) -> __m512i {
        unsafe {
            let x = _mm512_xor_si512(x, _mm512_srli_epi32::<16>(x));
            let x = _mm512_mullo_epi32(x, _mm512_set1_epi32(0x7FEB_352D));
            let x = _mm512_xor_si512(x, _mm512_srli_epi32::<15>(x));
            let x = _mm512_mullo_epi32(x, _mm512_set1_epi32(0x846C_A68B_u32 as i32));
            _mm512_xor_si512(x, _mm512_srli_epi32::<16>(x))
        }
    }

    /// The nearest-even narrowing of the f32 bits `u` into `out`: on builds with AVX512-BF16 one
    /// `vcvtneps2bf16` (round to nearest even, as the rule) unless a lane is NaN or subnormal,
    /// where the instruction's rules differ (a NaN keeps its payload; subnormals are flushed to
    /// zero) and the integer rule below runs instead. Adam with bf16 states at 4 Ki elements
    /// narrows two buffers per 16 elements: eight operations each become two.
    #[cfg(all(target_feature = "avx512bf16", target_feature = "avx512dq"))]
    #[inline(always)]
    fn store_narrowed(u: __m512i, out: &mut [u16; 16]) {
        use core::arch::x86_64::{__m256bh, __m256i, _mm512_cvtneps_pbh, _mm512_fpclass_ps_mask};
        unsafe {
            let x = _mm512_castsi512_ps(u);
            // 0x01 quiet NaN, 0x20 subnormal, 0x80 signalling NaN.
            if _mm512_fpclass_ps_mask::<0xA1>(x) != 0 {
                return store_narrowed_integer(u, out);
            }
            let h = core::mem::transmute::<__m256bh, __m256i>(_mm512_cvtneps_pbh(x));
            _mm256_storeu_si256(out.as_mut_ptr().cast(), h);
        }
    }

    #[cfg(not(all(target_feature = "avx512bf16", target_feature = "avx512dq")))]
    #[inline(always)]
    fn store_narrowed(u: __m512i, out: &mut [u16; 16]) {
        store_narrowed_integer(u, out)
    }

    /// The nearest-even narrowing of the f32 bits `u` into `out`, in integer operations.
    #[inline(always)]
    fn store_narrowed_integer(u: __m512i, out: &mut [u16; 16]) {
        unsafe {
            let lsb = _mm512_and_si512(_mm512_srli_epi32::<16>(u), _mm512_set1_epi32(1));
            let t = _mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7FFF)), lsb);
            let abs = _mm512_and_si512(u, _mm512_set1_epi32(0x7FFF_FFFF));
            let not_nan = _mm512_cmple_epu32_mask(abs, _mm512_set1_epi32(0x7F80_0000));
            // NaN lanes keep all ones, which truncate to 0xFFFF.
            let h = _mm512_mask_srli_epi32::<16>(_mm512_set1_epi32(-1), not_nan, t);
            _mm256_storeu_si256(out.as_mut_ptr().cast(), _mm512_cvtepi32_epi16(h));
        }
    }
}

#[cfg(not(all(target_arch = "x86_64", target_feature = "avx512f")))]
mod scalar {
    use super::super::fp8::f32_to_e4m3fn;
    use super::super::half::{bf16_bits, from_bf16_bits};
    use super::super::q4;
    use super::super::q8::{PROBE_REGS, torchao_code};

    #[inline(always)]
    pub(super) fn q8_torchao_codes(
        value: &[f32; 256],
        _: &[[f32; 16]; PROBE_REGS],
        scale: f32,
        x: &[f32; 16],
        out: &mut [u8; 16],
    ) {
        for (o, &v) in out.iter_mut().zip(x) {
            *o = torchao_code(value, v / scale);
        }
    }

    #[inline(always)]
    pub(super) fn fp8_codes(scale: f32, x: &[f32; 16], out: &mut [u8; 16]) {
        for (o, &v) in out.iter_mut().zip(x) {
            *o = f32_to_e4m3fn(v / scale);
        }
    }
    use super::super::q8::{TABLE, code_of};

    #[inline(always)]
    pub(super) fn q4_codes(q: &[f32; 16], scale: f32, x: &[f32; 16], out: &mut [u8; 8]) {
        for (o, pair) in out.iter_mut().zip(x.chunks_exact(2)) {
            if let [even, odd] = pair {
                *o = (q4::code(q, even / scale) << 4) + q4::code(q, odd / scale);
            }
        }
    }

    #[inline(always)]
    pub(super) fn q4_values(q: &[f32; 16], bytes: &[u8; 8], scale: f32, out: &mut [f32; 16]) {
        for (pair, &b) in out.chunks_exact_mut(2).zip(bytes) {
            if let [hi, lo] = pair {
                (*hi, *lo) = (q[usize::from(b >> 4)] * scale, q[usize::from(b & 0xF)] * scale);
            }
        }
    }
    use super::super::sr::stochastic_bf16_at;

    #[inline(always)]
    pub(super) fn q8_codes<const BNB: bool>(
        nearest: &[u32; TABLE],
        inv: f32,
        x: &[f32; 16],
        out: &mut [u8; 16],
    ) {
        for (o, &v) in out.iter_mut().zip(x) {
            *o = code_of::<BNB>(nearest, inv, v);
        }
    }

    #[inline(always)]
    pub(super) fn widen_bf16(x: &[u16; 16], out: &mut [f32; 16]) {
        for (o, &h) in out.iter_mut().zip(x) {
            *o = from_bf16_bits(h);
        }
    }

    #[inline(always)]
    pub(super) fn narrow_bf16(x: &[f32; 16], out: &mut [u16; 16]) {
        for (o, &v) in out.iter_mut().zip(x) {
            *o = bf16_bits(v);
        }
    }

    #[inline(always)]
    pub(super) fn stochastic_bf16(x: &[f32; 16], lo: u32, key: u32, out: &mut [u16; 16]) {
        for (j, (o, &v)) in out.iter_mut().zip(x).enumerate() {
            *o = stochastic_bf16_at(v, lo.wrapping_add(j as u32), key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::half::{bf16_bits, from_bf16_bits};
    use super::*;

    /// Every bf16 pattern widens as `from_bf16_bits` does.
    #[test]
    fn widen_is_the_scalar_rule_for_every_pattern() {
        for base in (0..=u16::MAX).step_by(16) {
            let x: [u16; 16] = core::array::from_fn(|k| base + k as u16);
            let mut out = [0.0f32; 16];
            widen_bf16(&x, &mut out);
            for (o, h) in out.iter().zip(x) {
                assert_eq!(o.to_bits(), from_bf16_bits(h).to_bits(), "{h:#06x}");
            }
        }
    }

    /// Stochastic rounding: 16 lanes give the scalar rule's bits with the scalar hash, for a
    /// sweep of f32 patterns (NaN, ∞ and the largest finite among them), several keys and low
    /// indices up to the last run before `2³²`.
    #[test]
    fn stochastic_is_the_scalar_rule() {
        use super::super::sr::stochastic_bf16_at;
        let mut checked = 0;
        for (c, u0) in (0..=u32::MAX).step_by(0x0013_5791).enumerate() {
            let x: [f32; 16] = core::array::from_fn(|k| {
                let specials = [0x7F80_0001, 0xFF80_0000, 0x7F7F_FFFF, 0x3F80_0000];
                f32::from_bits(if k < 4 { specials[k] } else { u0.wrapping_add(k as u32 * 0x3039) })
            });
            for (lo, key) in [(0u32, 0u32), (c as u32 * 16, 0x9E37_79B9), (u32::MAX - 15, 7)] {
                let mut out = [0u16; 16];
                stochastic_bf16(&x, lo, key, &mut out);
                for (j, (&v, h)) in x.iter().zip(out).enumerate() {
                    let want = stochastic_bf16_at(v, lo.wrapping_add(j as u32), key);
                    assert_eq!(h, want, "{:#010x} at {lo}+{j}", v.to_bits());
                    checked += 1;
                }
            }
        }
        assert!(checked > 10_000, "{checked}");
    }

    /// A sweep of f32 patterns (both signs, every exponent, ties, NaN payloads in the low and
    /// high mantissa, ±∞, subnormals) narrows as `bf16_bits` does.
    #[test]
    fn narrow_is_the_scalar_rule_on_a_sweep() {
        let specials = [
            0u32,
            0x8000,
            0x7FFF,
            0x1_8000,
            0x7F80_0000,
            0x7F80_0001,
            0x7FC0_0000,
            0x7F7F_FFFF,
            0x7F7F_8000,
            0x0000_0001,
            0x007F_FFFF,
            0x3F80_8000,
            0x3F81_8000,
            0x7FFF_FFFF,
        ];
        let patterns = specials
            .into_iter()
            .flat_map(|u| [u, u | 0x8000_0000])
            .chain((0..=u32::MAX).step_by(0x0001_0003));
        let mut x = [0.0f32; 16];
        let mut filled = 0;
        let mut checked = 0;
        for u in patterns {
            x[filled] = f32::from_bits(u);
            filled += 1;
            if filled == 16 {
                let mut out = [0u16; 16];
                narrow_bf16(&x, &mut out);
                for (&v, h) in x.iter().zip(out) {
                    assert_eq!(h, bf16_bits(v), "{:#010x}", v.to_bits());
                }
                checked += 16;
                filled = 0;
            }
        }
        assert!(checked > 65_000, "{checked}");
    }

    /// Groups of ordinary values only (no NaN, no subnormal: the path of one conversion
    /// instruction on AVX512-BF16 builds): ties, their neighbours, ±0, ±∞ and the rounding
    /// into ∞ narrow as `bf16_bits` does.
    #[test]
    fn narrow_is_the_scalar_rule_for_ties_and_overflow() {
        let mut checked = 0;
        for hi in (0x0080u32..0x7F80).step_by(0x1F).chain([0x7F7F]) {
            for low in [0x8000u32, 0x7FFF, 0x8001, 0, 0xFFFF] {
                let x: [f32; 16] = core::array::from_fn(|k| {
                    let u = match k {
                        0 => 0,
                        1 => 0x8000_0000,
                        2 => 0x7F80_0000,
                        3 => 0xFF80_0000,
                        _ => ((hi + k as u32 % 2).min(0x7F7F) << 16) | low,
                    };
                    f32::from_bits(if k >= 4 && k % 4 == 0 { u | 0x8000_0000 } else { u })
                });
                let mut out = [0u16; 16];
                narrow_bf16(&x, &mut out);
                for (&v, h) in x.iter().zip(out) {
                    assert_eq!(h, bf16_bits(v), "{:#010x}", v.to_bits());
                    checked += 1;
                }
            }
        }
        assert!(checked > 10_000, "{checked}");
    }
}
