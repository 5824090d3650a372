//! Rank correlations (scipy `spearmanr`, `kendalltau` τ-b) and pairwise accuracy
//! ("selector efficiency", docs/metrics-reference.md section 7).

use super::error::StatsError;
use super::quantile::percentile_sorted;
use super::rng::Rng;

/// Pairwise accuracy of a score against human choices (see [`pairwise_accuracy`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairwiseAccuracy {
    /// `mean([s(w) > s(l)] + ½[s(w) = s(l)])`; chance level 0.5.
    pub accuracy: f64,
    /// `#[s(w) > s(l)] / (n − ties)`; `None` when every pair is tied.
    pub accuracy_ties_excluded: Option<f64>,
    /// Pairs where the score does not separate winner and loser.
    pub ties: usize,
    /// Pairs.
    pub n: usize,
}

fn check_pair(x: &[f64], y: &[f64]) -> Result<(), StatsError> {
    if x.len() != y.len() {
        return Err(StatsError::LengthMismatch {
            left: x.len(),
            right: y.len(),
        });
    }
    if x.len() < 2 {
        return Err(StatsError::NotEnoughData(
            "a correlation needs at least two items".into(),
        ));
    }
    if !x.iter().chain(y).all(|v| v.is_finite()) {
        return Err(StatsError::NonFinite("correlation input"));
    }
    for (v, name) in [(x, "x"), (y, "y")] {
        if v.iter().all(|&a| a == v[0]) {
            return Err(StatsError::Undefined(format!(
                "{name} is constant, so the correlation is not defined"
            )));
        }
    }
    Ok(())
}

/// `-0.0` and `0.0` are one value (as numpy compares them).
fn norm(v: f64) -> f64 {
    if v == 0.0 { 0.0 } else { v }
}

/// Ranks 1..n with ties given their average rank (scipy `rankdata`, method "average").
/// Input must be free of NaN.
pub fn average_ranks(x: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_unstable_by(|&i, &j| norm(x[i]).total_cmp(&norm(x[j])));
    let mut ranks = vec![0.0; x.len()];
    let mut start = 0;
    while start < order.len() {
        let v = x[order[start]];
        let end = order[start + 1..]
            .iter()
            .position(|&i| x[i] != v)
            .map_or(order.len(), |p| start + 1 + p);
        let r = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = r;
        }
        start = end;
    }
    ranks
}

fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    (sxy / (sxx.sqrt() * syy.sqrt())).clamp(-1.0, 1.0)
}

/// Spearman's ρ, as `scipy.stats.spearmanr(x, y).statistic`: Pearson correlation of the
/// average ranks. Errors on NaN/∞, a length mismatch, fewer than two items or a constant input.
pub fn spearman(x: &[f64], y: &[f64]) -> Result<f64, StatsError> {
    check_pair(x, y)?;
    Ok(pearson(&average_ranks(x), &average_ranks(y)))
}

/// Pairs `i < j` with equal keys in runs of a sorted sequence.
fn tied_pairs<T: PartialEq>(sorted: &[T]) -> u64 {
    let mut total = 0u64;
    let mut run = 1u64;
    for w in sorted.windows(2) {
        if w[0] == w[1] {
            run += 1;
        } else {
            total += run * (run - 1) / 2;
            run = 1;
        }
    }
    total + run * (run - 1) / 2
}

/// Merge sort of `v`, returning the number of inversions (pairs i < j with v_i > v_j).
fn sort_count_inversions(v: &mut [f64], buf: &mut Vec<f64>) -> u64 {
    let n = v.len();
    let mut swaps = 0u64;
    let mut width = 1;
    while width < n {
        let mut lo = 0;
        while lo + width < n {
            let (mid, hi) = (lo + width, (lo + 2 * width).min(n));
            buf.clear();
            let (mut i, mut j) = (lo, mid);
            while i < mid && j < hi {
                if v[j] < v[i] {
                    swaps += (mid - i) as u64;
                    buf.push(v[j]);
                    j += 1;
                } else {
                    buf.push(v[i]);
                    i += 1;
                }
            }
            buf.extend_from_slice(&v[i..mid]);
            buf.extend_from_slice(&v[j..hi]);
            v[lo..hi].copy_from_slice(buf);
            lo = hi;
        }
        width *= 2;
    }
    swaps
}

/// Kendall's τ-b, as `scipy.stats.kendalltau(x, y).statistic` (the default variant "b"):
/// `(C − D)/sqrt((n₀ − n₁)(n₀ − n₂))` with `n₁`, `n₂` the pairs tied in x, in y. Knight's
/// O(n log n) algorithm. Errors on NaN/∞, a length mismatch, fewer than two items or a
/// constant input.
pub fn kendall_tau_b(x: &[f64], y: &[f64]) -> Result<f64, StatsError> {
    check_pair(x, y)?;
    let mut xy: Vec<(f64, f64)> = x.iter().zip(y).map(|(&a, &b)| (norm(a), norm(b))).collect();
    xy.sort_unstable_by(|p, q| p.0.total_cmp(&q.0).then(p.1.total_cmp(&q.1)));
    let x_ties = tied_pairs(&xy.iter().map(|p| p.0).collect::<Vec<_>>());
    let joint_ties = tied_pairs(&xy);
    let mut ys: Vec<f64> = xy.iter().map(|p| p.1).collect();
    let mut buf = Vec::with_capacity(ys.len());
    let discordant = sort_count_inversions(&mut ys, &mut buf);
    let y_ties = tied_pairs(&ys);
    let n = x.len() as u64;
    let total = n * (n - 1) / 2;
    let con_minus_dis = i128::from(total) - i128::from(x_ties) - i128::from(y_ties)
        + i128::from(joint_ties)
        - 2 * i128::from(discordant);
    let tau =
        con_minus_dis as f64 / ((total - x_ties) as f64).sqrt() / ((total - y_ties) as f64).sqrt();
    Ok(tau.clamp(-1.0, 1.0))
}

/// Pairwise accuracy of a score against human choices ("selector efficiency",
/// metrics-reference section 7; a project definition, no peer function). Each pair is
/// `(score of the human winner, score of the loser)`. Errors on no pairs or NaN/∞.
pub fn pairwise_accuracy(pairs: &[(f64, f64)]) -> Result<PairwiseAccuracy, StatsError> {
    if pairs.is_empty() {
        return Err(StatsError::Empty(
            "pairwise accuracy needs at least one judged pair",
        ));
    }
    if !pairs.iter().all(|(w, l)| w.is_finite() && l.is_finite()) {
        return Err(StatsError::NonFinite("pairwise accuracy scores"));
    }
    let correct = pairs.iter().filter(|(w, l)| w > l).count();
    let ties = pairs.iter().filter(|(w, l)| w == l).count();
    let n = pairs.len();
    Ok(PairwiseAccuracy {
        accuracy: (correct as f64 + 0.5 * ties as f64) / n as f64,
        accuracy_ties_excluded: (n > ties).then(|| correct as f64 / (n - ties) as f64),
        ties,
        n,
    })
}

/// Bootstrap 95 % interval `(lower, upper)` of [`PairwiseAccuracy::accuracy`]: resample the
/// pairs with replacement `rounds` times (`Rng::new(seed)`, `below(n)` n times per round) and
/// take numpy `percentile` 2.5 / 97.5 (linear).
pub fn pairwise_accuracy_interval(
    pairs: &[(f64, f64)],
    rounds: usize,
    seed: u64,
) -> Result<(f64, f64), StatsError> {
    pairwise_accuracy(pairs)?;
    if rounds == 0 {
        return Err(StatsError::InvalidArgument(
            "bootstrap needs at least one round".into(),
        ));
    }
    let score: Vec<f64> = pairs
        .iter()
        .map(|(w, l)| {
            if w > l {
                1.0
            } else if w == l {
                0.5
            } else {
                0.0
            }
        })
        .collect();
    let mut rng = Rng::new(seed);
    let mut acc: Vec<f64> = (0..rounds)
        .map(|_| {
            let s: f64 = (0..score.len())
                .map(|_| score.get(rng.below(score.len())).unwrap_or(&0.0))
                .sum();
            s / score.len() as f64
        })
        .collect();
    acc.sort_unstable_by(f64::total_cmp);
    let q = |p| percentile_sorted(&acc, p).unwrap_or(f64::NAN);
    Ok((q(0.025), q(0.975)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_refs() -> serde_json::Value {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/ranking_refs.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn naive_tau_b(x: &[f64], y: &[f64]) -> f64 {
        let (mut s, mut tx, mut ty, mut t) = (0i64, 0i64, 0i64, 0i64);
        for i in 0..x.len() {
            for j in i + 1..x.len() {
                let (a, b) = ((x[i] - x[j]).signum(), (y[i] - y[j]).signum());
                let (a, b) = (
                    if x[i] == x[j] { 0.0 } else { a },
                    if y[i] == y[j] { 0.0 } else { b },
                );
                s += (a * b) as i64;
                tx += i64::from(a == 0.0);
                ty += i64::from(b == 0.0);
                t += 1;
            }
        }
        s as f64 / (((t - tx) * (t - ty)) as f64).sqrt()
    }

    #[test]
    fn matches_scipy() {
        let refs = load_refs();
        let (mut ws, mut wk): (f64, f64) = (0.0, 0.0);
        for case in refs["correlation"].as_array().unwrap() {
            let x: Vec<f64> = serde_json::from_value(case["x"].clone()).unwrap();
            let y: Vec<f64> = serde_json::from_value(case["y"].clone()).unwrap();
            let (s, k) = (
                case["spearman"].as_f64().unwrap(),
                case["kendall"].as_f64().unwrap(),
            );
            ws = ws.max((spearman(&x, &y).unwrap() - s).abs() / s.abs());
            let got = kendall_tau_b(&x, &y).unwrap();
            wk = wk.max((got - k).abs() / k.abs());
            assert!((got - naive_tau_b(&x, &y)).abs() < 1e-12);
        }
        println!("spearman max relative error {ws:e}, kendall {wk:e}");
        assert!(ws < 1e-9 && wk < 1e-9, "{ws} {wk}");
    }

    #[test]
    fn kendall_on_ten_thousand_items_is_fast_and_exact_for_identity() {
        let x: Vec<f64> = (0..10_000).map(|i| f64::from(i % 997)).collect();
        assert!((kendall_tau_b(&x, &x).unwrap() - 1.0).abs() < 1e-12);
        let neg: Vec<f64> = x.iter().map(|v| -v).collect();
        assert!((kendall_tau_b(&x, &neg).unwrap() + 1.0).abs() < 1e-12);
        assert!((spearman(&x, &neg).unwrap() + 1.0).abs() < 1e-12);
        assert_eq!(average_ranks(&[0.0, -0.0, 2.0]), vec![1.5, 1.5, 3.0]);
    }

    #[test]
    fn errors_say_why() {
        assert!(matches!(
            spearman(&[1.0, f64::NAN], &[1.0, 2.0]),
            Err(StatsError::NonFinite(_))
        ));
        assert!(matches!(
            kendall_tau_b(&[1.0, 1.0], &[1.0, 2.0]),
            Err(StatsError::Undefined(_))
        ));
        assert!(matches!(
            spearman(&[1.0], &[1.0]),
            Err(StatsError::NotEnoughData(_))
        ));
        assert!(matches!(
            kendall_tau_b(&[1.0], &[1.0, 2.0]),
            Err(StatsError::LengthMismatch { .. })
        ));
        assert!(matches!(pairwise_accuracy(&[]), Err(StatsError::Empty(_))));
        assert!(matches!(
            pairwise_accuracy(&[(f64::NAN, 1.0)]),
            Err(StatsError::NonFinite(_))
        ));
    }

    #[test]
    fn pairwise_accuracy_counts_ties_as_half() {
        let p = pairwise_accuracy(&[(2.0, 1.0), (1.0, 1.0), (0.0, 3.0), (5.0, 4.0)]).unwrap();
        assert_eq!(
            p,
            PairwiseAccuracy {
                accuracy: 2.5 / 4.0,
                accuracy_ties_excluded: Some(2.0 / 3.0),
                ties: 1,
                n: 4
            }
        );
        let all_tied = pairwise_accuracy(&[(1.0, 1.0)]).unwrap();
        assert_eq!(all_tied.accuracy_ties_excluded, None);
        let pairs: Vec<(f64, f64)> = (0..400).map(|i| (f64::from(i % 4), 1.5)).collect();
        let (lo, hi) = pairwise_accuracy_interval(&pairs, 500, 3).unwrap();
        assert!(lo < 0.5 && 0.5 < hi && hi - lo < 0.15, "{lo} {hi}");
    }
}
