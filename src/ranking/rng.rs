//! Small seeded random number generator for resampling and simulation.
//!
//! The algorithm is fixed and documented so that `scripts/gen_ranking_refs.py` and
//! `scripts/bench_bt_choix.py` can reproduce every draw bit for bit:
//!
//! * seeding: four successive outputs of SplitMix64 started at `seed` fill the
//!   xoshiro256** state (Vigna's recommended seeding);
//! * `next_u64`: xoshiro256** (Blackman & Vigna 2018);
//! * `next_f64`: `(next_u64 >> 11) * 2^-53`, uniform on [0, 1);
//! * `below(n)`: Lemire's (2019) multiply-and-reject method, unbiased.

/// One SplitMix64 step: advances `state` and returns the mixed output.
///
/// Peer: Vigna's reference `splitmix64.c` (`next()`).
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Seeded xoshiro256** generator (not cryptographic).
///
/// Peer: Vigna's reference `xoshiro256starstar.c`, seeded with SplitMix64 as recommended there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// Creates a generator whose state is four SplitMix64 outputs started at `seed`.
    pub fn new(seed: u64) -> Self {
        let mut sm = seed;
        let s = [
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
        ];
        Rng { s }
    }

    /// Next 64 uniformly distributed bits (xoshiro256**).
    pub fn next_u64(&mut self) -> u64 {
        let [s0, s1, s2, s3] = self.s;
        let result = s1.wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s1 << 17;
        let s2 = s2 ^ s0;
        let s3 = s3 ^ s1;
        let s1 = s1 ^ s2;
        let s0 = s0 ^ s3;
        let s2 = s2 ^ t;
        let s3 = s3.rotate_left(45);
        self.s = [s0, s1, s2, s3];
        result
    }

    /// Uniform `f64` in [0, 1) with 53 random bits: `(next_u64 >> 11) * 2^-53`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Unbiased uniform integer in `0..n` (Lemire's method). Returns 0 when `n` is 0 or 1
    /// (and then draws nothing).
    pub fn below(&mut self, n: usize) -> usize {
        if n <= 1 {
            return 0;
        }
        let n = n as u64;
        let mut m = u128::from(self.next_u64()) * u128::from(n);
        if (m as u64) < n {
            let threshold = n.wrapping_neg() % n;
            while (m as u64) < threshold {
                m = u128::from(self.next_u64()) * u128::from(n);
            }
        }
        (m >> 64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_matches_reference_vector() {
        // Reference outputs of splitmix64.c seeded with 1234567 (from the C reference).
        let mut s = 1_234_567u64;
        let got: Vec<u64> = (0..3).map(|_| splitmix64(&mut s)).collect();
        assert_eq!(
            got,
            vec![
                6_457_827_717_110_365_317,
                3_203_168_211_198_807_973,
                9_817_491_932_198_370_423
            ]
        );
    }

    #[test]
    fn xoshiro_matches_reference_vector() {
        // xoshiro256starstar.c from state {1, 2, 3, 4} (the rand_xoshiro test vector).
        let mut rng = Rng { s: [1, 2, 3, 4] };
        let got: Vec<u64> = (0..4).map(|_| rng.next_u64()).collect();
        assert_eq!(
            got,
            vec![11_520, 0, 1_509_978_240, 1_215_971_899_390_074_240]
        );
    }

    #[test]
    fn matches_python_replica() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/ranking_refs.json");
        let refs: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let r = &refs["rng"];
        let mut rng = Rng::new(r["seed"].as_u64().unwrap());
        for v in r["u64"].as_array().unwrap() {
            assert_eq!(rng.next_u64(), v.as_u64().unwrap());
        }
        for v in r["f64"].as_array().unwrap() {
            assert_eq!(rng.next_f64(), v.as_f64().unwrap());
        }
        for pair in r["below"].as_array().unwrap() {
            let n = pair[0].as_u64().unwrap() as usize;
            assert_eq!(rng.below(n) as u64, pair[1].as_u64().unwrap());
        }
    }

    #[test]
    fn below_is_in_range_and_roughly_uniform() {
        let mut rng = Rng::new(7);
        let mut counts = [0u32; 7];
        for _ in 0..70_000 {
            counts[rng.below(7)] += 1;
        }
        for c in counts {
            assert!((9_500..10_500).contains(&c), "{counts:?}");
        }
        assert_eq!(rng.below(0), 0);
        assert_eq!(rng.below(1), 0);
        let x = rng.next_f64();
        assert!((0.0..1.0).contains(&x));
    }
}
