//! The random stream behind every initializer: 16 `Xoshiro128PlusPlus` generators held in
//! lanes, in fixed blocks, so the bits of a fill do not depend on lane width, on sharding or on
//! threads.
//!
//! Definition. A [`RandomStream`] is a seeded `Xoshiro128PlusPlus` `G`. Element `i` of a fill
//! (its global index: a shard that starts at `offset` fills indices `offset..`) belongs to block
//! `b = i / BLOCK` and, within it, to chunk `c = (i mod BLOCK) / 32`, lane `k = i mod 16` and
//! word `j = (i mod 32) / 16`. Lane `k` of block `b` is `G` advanced by `b` long jumps
//! (`2⁹⁶` steps each) then `k` jumps (`2⁶⁴` steps each), i.e. exactly the scalar `rand_xoshiro`
//! generator after those jumps; chunk `c` uses that lane's words `2c` and `2c + 1`. So lane
//! streams never overlap, and any shard of a fill reproduces the same bits as one sequential
//! fill.

use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro128PlusPlus;
use wide::u32x16;

/// Elements per block (each block's 16 lanes start from their own jumps of the seed).
pub const BLOCK: usize = 1 << 16;
/// Elements per chunk: two words from each of the 16 lanes.
pub(crate) const CHUNK: usize = 32;
const LANES: usize = 16;

/// A reproducible source of random words for the initializers (see the module docs for the
/// exact mapping from seed to element).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RandomStream {
    base: Xoshiro128PlusPlus,
}

impl RandomStream {
    /// A stream seeded from a `u64` (`Xoshiro128PlusPlus::seed_from_u64`).
    pub fn from_seed(seed: u64) -> Self {
        Self { base: Xoshiro128PlusPlus::seed_from_u64(seed) }
    }

    /// A stream seeded with 128 bits drawn from `rng` (two `next_u64`, little-endian). With
    /// `rand_xoshiro::Xoshiro256PlusPlus`, the documented default, a seeded caller generator
    /// gives a reproducible stream; the caller's generator advances by two words.
    pub fn from_rng<R: Rng + ?Sized>(rng: &mut R) -> Self {
        let mut seed = [0u8; 16];
        seed[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
        seed[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
        Self { base: Xoshiro128PlusPlus::from_seed(seed) }
    }

    /// The 16 lanes of the block whose generator (the seed after its long jumps) is `block`,
    /// positioned at chunk `chunk`.
    fn lanes(block: &Xoshiro128PlusPlus, chunk: usize) -> Lanes16 {
        let mut g = block.clone();
        let mut s = [[0u32; LANES]; 4];
        for k in 0..LANES {
            let bytes = g.state();
            for (w, word) in s.iter_mut().enumerate() {
                word[k] = u32::from_le_bytes([
                    bytes[4 * w],
                    bytes[4 * w + 1],
                    bytes[4 * w + 2],
                    bytes[4 * w + 3],
                ]);
            }
            g.jump();
        }
        let mut lanes = Lanes16::from_words(s);
        for _ in 0..2 * chunk {
            lanes.next();
        }
        lanes
    }

    /// Calls `emit(chunk_words, first, out_part)` for every 32-element chunk overlapping
    /// `offset..offset + out.len()`: `chunk_words` are the chunk's two words of each lane,
    /// `first` the index within the chunk of `out_part[0]`.
    pub(crate) fn for_each_chunk(
        &self,
        offset: usize,
        out: &mut [f32],
        mut emit: impl FnMut(&[[u32; LANES]; 2], usize, &mut [f32]),
    ) {
        let mut i = offset;
        let mut rest = out;
        // The first block's generator; each later block is one more long jump (so a fill
        // costs one long jump per block, not a quadratic number).
        let mut block_gen = self.base.clone();
        for _ in 0..offset / BLOCK {
            block_gen.long_jump();
        }
        let mut first_block = true;
        while !rest.is_empty() {
            let in_block = i % BLOCK;
            if !first_block {
                block_gen.long_jump();
            }
            first_block = false;
            let mut lanes = Self::lanes(&block_gen, in_block / CHUNK);
            let mut pos = in_block;
            while pos < BLOCK && !rest.is_empty() {
                let words = [lanes.next(), lanes.next()];
                let first = pos % CHUNK;
                let take = (CHUNK - first).min(rest.len());
                let (now, later) = rest.split_at_mut(take);
                emit(&words, first, now);
                rest = later;
                pos += take;
                i += take;
            }
        }
    }
}

/// Sixteen `Xoshiro128PlusPlus` states, one per lane, in `u32x16` registers (one zmm each with
/// AVX-512; kept as `wide` vectors so the state never round-trips through memory).
#[derive(Clone, Debug)]
pub(crate) struct Lanes16 {
    s: [u32x16; 4],
}

#[inline(always)]
fn rotl(x: u32x16, k: u32) -> u32x16 {
    (x << k) | (x >> (32 - k))
}

impl Lanes16 {
    fn from_words(words: [[u32; LANES]; 4]) -> Self {
        Self { s: words.map(u32x16::new) }
    }

    /// One `Xoshiro128PlusPlus::next_u32` in every lane.
    #[inline(always)]
    pub(crate) fn next(&mut self) -> [u32; LANES] {
        let [s0, s1, s2, s3] = &mut self.s;
        let out = rotl(*s0 + *s3, 7) + *s0;
        let t = *s1 << 9;
        *s2 ^= *s0;
        *s3 ^= *s1;
        *s1 ^= *s2;
        *s0 ^= *s3;
        *s2 ^= t;
        *s3 = rotl(*s3, 11);
        out.to_array()
    }
}

/// A uniform index in `0..bound` (`bound ≥ 1`) without modulo bias: Lemire's multiply-shift
/// with rejection of the biased low range.
pub(crate) fn below<R: Rng + ?Sized>(rng: &mut R, bound: u32) -> u32 {
    let bound = bound.max(1); // (no division-by-zero panic path in the C library)
    let threshold = bound.wrapping_neg() % bound;
    loop {
        let m = u64::from(rng.next_u32()) * u64::from(bound);
        if (m as u32) >= threshold {
            return (m >> 32) as u32;
        }
    }
}
