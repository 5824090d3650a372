//! Calibration of band thresholds against labels, band metrics with Wilson intervals, and the
//! best-of-N curve. Pure f64; an image is accepted when `score ≥ threshold`.
//!
//! Pairs whose score is not finite are ignored; slices of different lengths are cut to the
//! shorter one.

/// A threshold chosen for a precision target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    /// Accept when `score ≥ value`.
    pub value: f64,
    /// Share of good items among the accepted ones.
    pub precision: f64,
    /// Share of all good items that are accepted.
    pub recall: f64,
    pub n_accepted: usize,
}

/// A threshold chosen to minimise the expected cost of errors.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CostThreshold {
    /// Accept when `score ≥ value`; `+∞` accepts nothing.
    pub value: f64,
    /// `cost_false_accept · false_accepts + cost_false_reject · false_rejects`.
    pub cost: f64,
    pub false_accepts: usize,
    pub false_rejects: usize,
}

/// Scores sorted descending with their labels, non-finite scores dropped.
fn sorted_desc(scores: &[f64], labels: &[bool]) -> Vec<(f64, bool)> {
    let mut v: Vec<(f64, bool)> = scores
        .iter()
        .zip(labels)
        .filter(|(s, _)| s.is_finite())
        .map(|(s, l)| (*s, *l))
        .collect();
    v.sort_by(|a, b| b.0.total_cmp(&a.0));
    v
}

/// Cut points: for each distinct score (descending), the number of items with score ≥ it and
/// how many of those are good.
fn cuts(v: &[(f64, bool)]) -> Vec<(f64, usize, usize)> {
    let mut out = Vec::new();
    let mut good = 0;
    for (i, &(s, l)) in v.iter().enumerate() {
        good += usize::from(l);
        if v.get(i + 1).is_none_or(|n| n.0 < s) {
            out.push((s, i + 1, good));
        }
    }
    out
}

/// The smallest threshold whose accepted set has precision ≥ `target` (the largest recall
/// meeting the target), or `None` when no threshold reaches it (or there are no good items).
pub fn threshold_for_precision(scores: &[f64], labels: &[bool], target: f64) -> Option<Threshold> {
    let v = sorted_desc(scores, labels);
    let total_good = v.iter().filter(|x| x.1).count();
    if total_good == 0 {
        return None;
    }
    cuts(&v)
        .into_iter()
        .rfind(|&(_, n, good)| good as f64 / n as f64 >= target)
        .map(|(value, n, good)| Threshold {
            value,
            precision: good as f64 / n as f64,
            recall: good as f64 / total_good as f64,
            n_accepted: n,
        })
}

/// The threshold minimising `cost_false_accept · FA + cost_false_reject · FR` over every cut
/// (including accepting nothing, `+∞`); ties go to the higher threshold (fewer accepts).
/// `None` when there is no finite score or a cost is negative or not finite.
pub fn threshold_min_cost(
    scores: &[f64],
    labels: &[bool],
    cost_false_accept: f64,
    cost_false_reject: f64,
) -> Option<CostThreshold> {
    if !(cost_false_accept.is_finite()
        && cost_false_reject.is_finite()
        && cost_false_accept >= 0.0
        && cost_false_reject >= 0.0)
    {
        return None;
    }
    let v = sorted_desc(scores, labels);
    if v.is_empty() {
        return None;
    }
    let total_good = v.iter().filter(|x| x.1).count();
    let cost = |fa: usize, fr: usize| cost_false_accept * fa as f64 + cost_false_reject * fr as f64;
    let mut best = CostThreshold {
        value: f64::INFINITY,
        cost: cost(0, total_good),
        false_accepts: 0,
        false_rejects: total_good,
    };
    for (value, n, good) in cuts(&v) {
        let (fa, fr) = (n - good, total_good - good);
        let c = cost(fa, fr);
        if c < best.cost {
            best = CostThreshold {
                value,
                cost: c,
                false_accepts: fa,
                false_rejects: fr,
            };
        }
    }
    Some(best)
}

/// A two-sided interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub lo: f64,
    pub hi: f64,
}

/// Wilson score interval for `k` successes in `n` trials at normal quantile `z`
/// (1.96 for 95 %); `None` when `n = 0`.
pub fn wilson(k: usize, n: usize, z: f64) -> Option<Interval> {
    if n == 0 {
        return None;
    }
    let (k, n) = (k as f64, n as f64);
    let p = k / n;
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denom;
    Some(Interval {
        lo: (centre - half).max(0.0),
        hi: (centre + half).min(1.0),
    })
}

/// The 97.5 % standard normal quantile.
pub const Z95: f64 = 1.959_963_984_540_054;

/// What one band holds on labelled data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BandStat {
    pub n: usize,
    pub n_good: usize,
    /// Share of good items in the band (`None` when empty).
    pub precision: Option<f64>,
    /// Wilson 95 % interval of `precision`.
    pub interval: Option<Interval>,
    /// Share of all good items that land in this band (`None` when there are none).
    pub recall: Option<f64>,
}

/// Metrics of the three bands: accept `score ≥ accept`, reject `score < reject`, review between.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BandMetrics {
    pub accept: BandStat,
    pub review: BandStat,
    pub reject: BandStat,
}

/// Band sizes, share of good items with Wilson 95 % intervals, and recall of good items per
/// band, on (held-out) labelled scores.
pub fn band_metrics(scores: &[f64], labels: &[bool], accept: f64, reject: f64) -> BandMetrics {
    let v = sorted_desc(scores, labels);
    let total_good = v.iter().filter(|x| x.1).count();
    let stat = |pred: &dyn Fn(f64) -> bool| {
        let (n, n_good) = v
            .iter()
            .filter(|x| pred(x.0))
            .fold((0, 0), |(n, g), x| (n + 1, g + usize::from(x.1)));
        BandStat {
            n,
            n_good,
            precision: (n > 0).then(|| n_good as f64 / n as f64),
            interval: wilson(n_good, n, Z95),
            recall: (total_good > 0).then(|| n_good as f64 / total_good as f64),
        }
    };
    BandMetrics {
        accept: stat(&|s| s >= accept),
        review: stat(&|s| s < accept && s >= reject),
        reject: stat(&|s| s < reject && s < accept),
    }
}

/// Expected best score when picking the best of `N` images drawn without replacement from the
/// given scores, for `N = 1 ..= min(n_max, m)` (element `N − 1`).
///
/// With ascending scores `s₍₁₎ ≤ … ≤ s₍ₘ₎`, `E[max] = Σᵢ s₍ᵢ₎ · C(i−1, N−1) / C(m, N)`; the weights
/// are computed in logs so large groups do not overflow. Non-finite scores are dropped.
///
/// *Without* replacement is deliberate: a group is the finite batch actually generated, and a
/// best-of-N pick looks at N distinct images of it (`N = m` gives the group's maximum, where a
/// with-replacement curve would only approach it).
pub fn best_of_n_curve(scores: &[f64], n_max: usize) -> Vec<f64> {
    let mut s: Vec<f64> = scores.iter().copied().filter(|x| x.is_finite()).collect();
    s.sort_by(f64::total_cmp);
    best_of_n_pick_curve(&s, n_max)
}

/// Expected *quality* of a selector's pick among `N` images drawn without replacement, for
/// `N = 1 ..= min(n_max, m)`: `quality_worst_first` lists the group's quality values in the
/// selector's order, from the image it likes least to the one it likes most. The pick of a draw
/// is the drawn image the selector ranks highest, so the `i`-th of the order is picked with
/// probability `C(i−1, N−1) / C(m, N)`. When the order is the quality's own ascending order this
/// is [`best_of_n_curve`] (the oracle); with a policy's order it is what the policy delivers.
/// Non-finite values are dropped (their images are not candidates).
pub fn best_of_n_pick_curve(quality_worst_first: &[f64], n_max: usize) -> Vec<f64> {
    let s: Vec<f64> = quality_worst_first
        .iter()
        .copied()
        .filter(|x| x.is_finite())
        .collect();
    let m = s.len();
    (1..=n_max.min(m))
        .map(|n| {
            // ln C(m, n)
            let ln_c_mn: f64 = (1..=n)
                .map(|j| ((m - n + j) as f64).ln() - (j as f64).ln())
                .sum();
            // i (1-based) from n to m: ln w_n = −ln C(m, n); w_{i+1} = w_i · i / (i − n + 1).
            let mut ln_w = -ln_c_mn;
            let mut total = 0.0;
            for i in n..=m {
                total += s[i - 1] * ln_w.exp();
                ln_w += (i as f64).ln() - ((i - n + 1) as f64).ln();
            }
            total
        })
        .collect()
}

/// Whether the labelled item at `key` falls in the held-out share: a deterministic split by a
/// hash of the seed and the key (an image's path), so reruns and the GUI agree.
pub fn held_out(seed: u64, key: &str, share: f64) -> bool {
    let h = xxhash_rust::xxh3::xxh3_64(format!("{seed}\u{1f}{key}").as_bytes());
    (h % 10_000) as f64 / 10_000.0 < share
}

/// The shortest decimal in `(below, t]`: a threshold that splits the data exactly as `t` does
/// (every score `≥ t` stays on the upper side, every score `≤ below` on the lower one) but reads
/// well in a policy file. `below` is the next lower observed score (`None`: none below).
pub fn tidy_threshold(t: f64, below: Option<f64>) -> f64 {
    if !t.is_finite() {
        return t;
    }
    for digits in 0..=9 {
        let scale = 10f64.powi(digits);
        // `round` first: `t · scale` may land a hair below an integer that `t` really is.
        for c in [(t * scale).round() / scale, (t * scale).floor() / scale] {
            if below.is_none_or(|b| c > b) && c <= t {
                return c;
            }
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ranking::rng::Rng;

    fn sigmoid(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    /// Uniform scores on [0, 1], P(good | s) = σ(10 (s − 0.6)).
    fn simulate(n: usize, seed: u64) -> (Vec<f64>, Vec<bool>) {
        let mut rng = Rng::new(seed);
        let mut scores = Vec::with_capacity(n);
        let mut labels = Vec::with_capacity(n);
        for _ in 0..n {
            let s = rng.next_f64();
            labels.push(rng.next_f64() < sigmoid(10.0 * (s - 0.6)));
            scores.push(s);
        }
        (scores, labels)
    }

    #[test]
    fn min_cost_threshold_matches_the_analytic_optimum() {
        // Accepting s costs c_fa·(1 − p(s)), rejecting it c_fr·p(s): the optimum is where
        // p(t) = c_fa / (c_fa + c_fr), i.e. t = 0.6 + logit(c_fa / (c_fa + c_fr)) / 10.
        let (scores, labels) = simulate(200_000, 7);
        for (c_fa, c_fr) in [(1.0, 1.0), (4.0, 1.0), (1.0, 3.0)] {
            let p: f64 = c_fa / (c_fa + c_fr);
            let want = 0.6 + (p / (1.0 - p)).ln() / 10.0;
            let got = threshold_min_cost(&scores, &labels, c_fa, c_fr).unwrap();
            assert!(
                (got.value - want).abs() < 0.04,
                "{c_fa}:{c_fr}: got {} want {want}",
                got.value
            );
        }
        assert!(threshold_min_cost(&scores, &labels, -1.0, 1.0).is_none());
        assert!(threshold_min_cost(&[], &[], 1.0, 1.0).is_none());
    }

    #[test]
    fn precision_threshold_matches_the_analytic_root() {
        // precision(t) = ∫ₜ¹ σ(10(s − 0.6)) ds / (1 − t) = [ln(1+e⁴) − ln(1+e^{10(t−0.6)})] / (10 (1 − t)).
        let precision = |t: f64| {
            ((1.0 + 4f64.exp()).ln() - (1.0 + (10.0 * (t - 0.6)).exp()).ln()) / (10.0 * (1.0 - t))
        };
        let (scores, labels) = simulate(200_000, 11);
        for target in [0.8, 0.9, 0.95] {
            let (mut lo, mut hi) = (0.0, 0.999);
            for _ in 0..60 {
                let mid = 0.5 * (lo + hi);
                if precision(mid) >= target {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            let got = threshold_for_precision(&scores, &labels, target).unwrap();
            assert!(got.precision >= target);
            assert!(
                (got.value - hi).abs() < 0.03,
                "target {target}: got {} want {hi}",
                got.value
            );
            // Recall against the analytic value: ∫ₜ¹ p / ∫₀¹ p.
            let mass = |t: f64| (1.0 + (10.0 * (t - 0.6)).exp()).ln() / 10.0;
            let recall = (mass(1.0) - mass(hi)) / (mass(1.0) - mass(0.0));
            assert!((got.recall - recall).abs() < 0.03, "{got:?} {recall}");
        }
    }

    #[test]
    fn small_threshold_cases() {
        // (scores, labels, target, expected value, n_accepted)
        type Case = (Vec<f64>, Vec<bool>, f64, Option<(f64, usize)>);
        let cases: Vec<Case> = vec![
            (
                vec![0.9, 0.8, 0.7, 0.6],
                vec![true, true, false, true],
                1.0,
                Some((0.8, 2)),
            ),
            (
                vec![0.9, 0.8, 0.7, 0.6],
                vec![true, true, false, true],
                0.75,
                Some((0.6, 4)),
            ),
            // Ties move together: both 0.8s are accepted or neither.
            (
                vec![0.9, 0.8, 0.8, 0.1],
                vec![true, false, true, true],
                0.9,
                Some((0.9, 1)),
            ),
            (vec![0.5, 0.4], vec![false, false], 0.5, None),
            (vec![0.5, 0.4], vec![false, true], 0.9, None),
        ];
        for (s, l, target, want) in cases {
            let got = threshold_for_precision(&s, &l, target).map(|t| (t.value, t.n_accepted));
            assert_eq!(got, want, "{s:?} {l:?} {target}");
        }
        // Min cost with ties prefers fewer accepts; accepting nothing is a candidate.
        let c = threshold_min_cost(&[0.9, 0.1], &[false, false], 1.0, 1.0).unwrap();
        assert_eq!((c.value, c.cost), (f64::INFINITY, 0.0));
        let c = threshold_min_cost(&[0.9, 0.5, 0.1], &[true, false, true], 1.0, 1.0).unwrap();
        assert_eq!((c.value, c.cost, c.false_rejects), (0.9, 1.0, 1));
    }

    #[test]
    fn tidy_thresholds_keep_the_split() {
        // (threshold, next lower score, expected)
        let cases = [
            (0.6, Some(0.595), 0.6),
            (0.612_345, Some(0.5), 0.6),
            (0.612_345, Some(0.61), 0.612),
            (0.612_345, Some(0.612_34), 0.612_345),
            (0.75, None, 0.0),
            (1.0, Some(0.99), 1.0),
        ];
        for (t, below, want) in cases {
            let got = tidy_threshold(t, below);
            assert!((got - want).abs() < 1e-12, "{t} {below:?}: {got}");
            assert!(got <= t && below.is_none_or(|b| got > b));
        }
    }

    #[test]
    fn wilson_reference_values() {
        // statsmodels proportion_confint(8, 10, method="wilson") = (0.4901625, 0.9433178)
        let w = wilson(8, 10, Z95).unwrap();
        assert!((w.lo - 0.490_162_5).abs() < 1e-6 && (w.hi - 0.943_317_8).abs() < 1e-6);
        let w = wilson(0, 5, Z95).unwrap();
        assert_eq!(w.lo, 0.0);
        assert!((w.hi - 0.434_482_5).abs() < 1e-6, "{w:?}");
        assert!(wilson(0, 0, Z95).is_none());
    }

    #[test]
    fn band_metrics_counts() {
        let s = [0.9, 0.8, 0.5, 0.4, 0.1, f64::NAN];
        let l = [true, false, true, false, false, true];
        let m = band_metrics(&s, &l, 0.7, 0.3);
        assert_eq!((m.accept.n, m.accept.n_good), (2, 1));
        assert_eq!((m.review.n, m.review.n_good), (2, 1));
        assert_eq!((m.reject.n, m.reject.n_good), (1, 0));
        assert_eq!(m.accept.precision, Some(0.5));
        assert_eq!(m.accept.recall, Some(0.5));
        assert_eq!(m.reject.precision, Some(0.0));
        assert!(m.accept.interval.unwrap().lo < 0.5 && m.accept.interval.unwrap().hi > 0.5);
        let empty = band_metrics(&[], &[], 0.7, 0.3);
        assert_eq!(empty.accept.precision, None);
        assert_eq!(empty.accept.interval, None);
    }

    #[test]
    fn best_of_n_table() {
        // (scores, n_max, expected)
        let cases: Vec<(Vec<f64>, usize, Vec<f64>)> = vec![
            (vec![], 3, vec![]),
            (vec![2.0], 3, vec![2.0]),
            // [1,2,3]: N=1 mean 2; N=2 pairs' maxima 2,3,3 → 8/3; N=3 → 3.
            (vec![3.0, 1.0, 2.0], 5, vec![2.0, 8.0 / 3.0, 3.0]),
            (vec![1.0, 1.0, 1.0, 5.0], 2, vec![2.0, 3.0]),
        ];
        for (s, n, want) in cases {
            let got = best_of_n_curve(&s, n);
            assert_eq!(got.len(), want.len(), "{s:?}");
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-12, "{s:?}: {got:?} vs {want:?}");
            }
        }
        // Large group: stays finite, monotone, ends at the max, starts at the mean.
        let s: Vec<f64> = (0..5000).map(|i| f64::from(i) / 4999.0).collect();
        let c = best_of_n_curve(&s, 5000);
        assert!((c[0] - 0.5).abs() < 1e-9);
        assert!((c[4999] - 1.0).abs() < 1e-9);
        // Grid (i − 1)/(m − 1): E[max of N] = (N(m+1)/(N+1) − 1)/(m − 1) ≈ N/(N+1).
        assert!((c[9] - 10.0 / 11.0).abs() < 1e-3, "{}", c[9]);
        assert!(c.windows(2).all(|w| w[1] >= w[0] - 1e-12));
    }
}
