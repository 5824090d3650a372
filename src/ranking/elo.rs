//! Online Elo ratings, exactly FastChat's `compute_elo` (fastchat/serve/monitor/elo_analysis.py).
//!
//! The result depends on the order of the comparisons; prefer the Bradley–Terry fit
//! ([`super::bt::fit`]) for reports and use this for comparison with Chatbot-Arena-style tables.

use super::bt::{Comparison, Outcome};
use super::error::StatsError;

/// Elo constants; the defaults are FastChat's (`K=4, SCALE=400, BASE=10, INIT_RATING=1000`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EloOptions {
    /// Update step K.
    pub k: f64,
    /// Rating difference that multiplies the odds by `base`.
    pub scale: f64,
    /// Odds base.
    pub base: f64,
    /// Initial rating of every item.
    pub init: f64,
}

impl Default for EloOptions {
    fn default() -> Self {
        EloOptions {
            k: 4.0,
            scale: 400.0,
            base: 10.0,
            init: 1000.0,
        }
    }
}

/// Online Elo over `comps` in order, as FastChat `compute_elo`:
/// `E_a = 1/(1 + base^((R_b − R_a)/scale))`, `E_b = 1/(1 + base^((R_a − R_b)/scale))`,
/// `R_a += K(S_a − E_a)`, `R_b += K(1 − S_a − E_b)` with `S_a` = 1, 0 or ½ for a tie.
/// Items that never appear keep `init`. Errors on no comparisons, an index `>= n_items`,
/// an item compared with itself, or non-finite options.
pub fn online_elo(
    n_items: usize,
    comps: &[Comparison],
    opts: &EloOptions,
) -> Result<Vec<f64>, StatsError> {
    if ![opts.k, opts.scale, opts.base, opts.init]
        .iter()
        .all(|v| v.is_finite())
    {
        return Err(StatsError::NonFinite("Elo options"));
    }
    if comps.is_empty() {
        return Err(StatsError::Empty("no comparisons"));
    }
    let mut rating = vec![opts.init; n_items];
    for (i, c) in comps.iter().enumerate() {
        let (ra, rb) = match (rating.get(c.a), rating.get(c.b)) {
            (Some(&ra), Some(&rb)) => (ra, rb),
            _ => {
                let index = c.a.max(c.b);
                return Err(StatsError::IndexOutOfRange { index, n_items });
            }
        };
        if c.a == c.b {
            return Err(StatsError::InvalidArgument(format!(
                "comparison {i} compares item {} with itself",
                c.a
            )));
        }
        let ea = 1.0 / (1.0 + opts.base.powf((rb - ra) / opts.scale));
        let eb = 1.0 / (1.0 + opts.base.powf((ra - rb) / opts.scale));
        let sa = match c.outcome {
            Outcome::AWins => 1.0,
            Outcome::BWins => 0.0,
            Outcome::Tie => 0.5,
        };
        if let Some(r) = rating.get_mut(c.a) {
            *r += opts.k * (sa - ea);
        }
        if let Some(r) = rating.get_mut(c.b) {
            *r += opts.k * (1.0 - sa - eb);
        }
    }
    Ok(rating)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_refs() -> serde_json::Value {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/ranking_refs.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn comps(case: &serde_json::Value) -> Vec<Comparison> {
        let col = |k: &str| -> Vec<u64> {
            case[k]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .collect()
        };
        let (a, b, o) = (col("a"), col("b"), col("outcome"));
        (0..a.len())
            .map(|i| Comparison {
                a: a[i] as usize,
                b: b[i] as usize,
                outcome: [Outcome::AWins, Outcome::BWins, Outcome::Tie][o[i] as usize],
            })
            .collect()
    }

    #[test]
    fn matches_fastchat_compute_elo() {
        let refs = load_refs();
        let mut worst: f64 = 0.0;
        for case in refs["elo"].as_array().unwrap() {
            let n = case["n_items"].as_u64().unwrap() as usize;
            let opts = EloOptions {
                k: case["k"].as_f64().unwrap(),
                ..EloOptions::default()
            };
            let got = online_elo(n, &comps(case), &opts).unwrap();
            for (g, w) in got.iter().zip(case["ratings"].as_array().unwrap()) {
                let w = w.as_f64().unwrap();
                worst = worst.max((g - w).abs() / w.abs());
            }
        }
        println!("elo max relative error {worst:e}");
        assert!(worst < 1e-12, "{worst}");
    }

    #[test]
    fn errors_and_single_update() {
        let opts = EloOptions::default();
        assert_eq!(
            online_elo(3, &[], &opts),
            Err(StatsError::Empty("no comparisons"))
        );
        let bad = [Comparison {
            a: 0,
            b: 5,
            outcome: Outcome::Tie,
        }];
        assert_eq!(
            online_elo(3, &bad, &opts),
            Err(StatsError::IndexOutOfRange {
                index: 5,
                n_items: 3
            })
        );
        let one = [Comparison {
            a: 0,
            b: 1,
            outcome: Outcome::AWins,
        }];
        let r = online_elo(3, &one, &opts).unwrap();
        assert_eq!(r, vec![1002.0, 998.0, 1000.0]);
    }
}
