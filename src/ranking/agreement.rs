//! Inter-rater agreement: Cohen's κ (sklearn), Fleiss' κ (statsmodels) and Krippendorff's α
//! (the `krippendorff` package). Where a peer returns NaN, warns or raises, these return a
//! [`StatsError`] that says what is missing.

use super::error::StatsError;

/// Weighting of disagreements in [`cohen_kappa`] (sklearn's `weights`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KappaWeights {
    /// Unweighted: every disagreement weighs 1.
    None,
    /// `|i − j|` on indices into the sorted label set.
    Linear,
    /// `(i − j)²` on indices into the sorted label set.
    Quadratic,
}

/// Chance-agreement model of [`fleiss_kappa`] (statsmodels' `method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FleissMethod {
    /// Fleiss (1971): `P̄_e = Σ_j p_j²` from the observed category shares.
    Fleiss,
    /// Randolph (2005) free-marginal: `P̄_e = 1/k`.
    Randolph,
}

/// Level of measurement of [`krippendorff_alpha`] (the package's `level_of_measurement`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `δ² = [c ≠ k]`.
    Nominal,
    /// `δ² = (Σ_{g=c}^{k} n_g − (n_c + n_k)/2)²` over the ordered observed values.
    Ordinal,
    /// `δ² = (c − k)²`.
    Interval,
    /// `δ² = ((c − k)/(c + k))²` (0 when `c + k = 0`).
    Ratio,
}

fn comparable<L: PartialOrd>(x: &L) -> bool {
    x.partial_cmp(x).is_some()
}

/// Cohen's κ between two raters, as `sklearn.metrics.cohen_kappa_score(a, b, weights=…)`.
///
/// Labels are any totally ordered values (`i64`, `&str`, `f64` ratings used as discrete labels;
/// NaN is rejected). Categories are the sorted union of both raters' labels, and the weights
/// use indices into it: `κ = 1 − Σ w_ij O_ij / Σ w_ij E_ij`, `E` the outer product of the
/// marginals over N. Errors on a length mismatch, no items, or when κ is undefined (the
/// raters share a single label, so chance disagreement is 0).
pub fn cohen_kappa<L: PartialOrd + Copy>(
    a: &[L],
    b: &[L],
    weights: KappaWeights,
) -> Result<f64, StatsError> {
    if a.len() != b.len() {
        return Err(StatsError::LengthMismatch {
            left: a.len(),
            right: b.len(),
        });
    }
    if a.is_empty() {
        return Err(StatsError::Empty(
            "Cohen's κ needs at least one item rated by both raters",
        ));
    }
    if !a.iter().chain(b).all(comparable) {
        return Err(StatsError::NonFinite("labels"));
    }
    let mut labels: Vec<L> = a.iter().chain(b).copied().collect();
    labels.sort_by(|x, y| x.partial_cmp(y).unwrap_or(std::cmp::Ordering::Equal));
    labels.dedup_by(|x, y| x == y);
    let k = labels.len();
    let pos = |x: &L| labels.partition_point(|l| l < x).min(k - 1);
    let mut confusion = vec![0.0; k * k];
    for (x, y) in a.iter().zip(b) {
        confusion[pos(x) * k + pos(y)] += 1.0;
    }
    let mut rows = vec![0.0; k];
    let mut cols = vec![0.0; k];
    for i in 0..k {
        for j in 0..k {
            rows[i] += confusion[i * k + j];
            cols[j] += confusion[i * k + j];
        }
    }
    let total = a.len() as f64;
    let (mut num, mut den) = (0.0, 0.0);
    for i in 0..k {
        for j in 0..k {
            let d = i.abs_diff(j) as f64;
            let w = match weights {
                KappaWeights::None => f64::from(u8::from(i != j)),
                KappaWeights::Linear => d,
                KappaWeights::Quadratic => d * d,
            };
            num += w * confusion[i * k + j];
            den += w * (rows[i] * cols[j] / total);
        }
    }
    if den == 0.0 {
        return Err(StatsError::Undefined(
            "Cohen's κ: the raters use a single label in common, so chance disagreement is 0"
                .into(),
        ));
    }
    Ok(1.0 - num / den)
}

/// Fleiss' κ, as `statsmodels.stats.inter_rater.fleiss_kappa(counts, method=…)`.
///
/// `counts[i][j]` is the number of raters who put item i in category j (statsmodels'
/// `aggregate_raters` output; see [`aggregate_raters`]). Every item needs the same number
/// n ≥ 2 of raters: `P_i = (Σ_j n_ij² − n)/(n(n−1))`, `κ = (P̄ − P̄_e)/(1 − P̄_e)`.
pub fn fleiss_kappa(counts: &[Vec<u32>], method: FleissMethod) -> Result<f64, StatsError> {
    let first = counts
        .first()
        .ok_or(StatsError::Empty("Fleiss' κ needs at least one item"))?;
    let k = first.len();
    let raters: u64 = first.iter().map(|&c| u64::from(c)).sum();
    for (i, row) in counts.iter().enumerate() {
        if row.len() != k {
            return Err(StatsError::LengthMismatch {
                left: k,
                right: row.len(),
            });
        }
        let r: u64 = row.iter().map(|&c| u64::from(c)).sum();
        if r != raters {
            return Err(StatsError::InvalidArgument(format!(
                "Fleiss' κ needs the same number of raters on every item: item 0 has {raters}, \
                 item {i} has {r}"
            )));
        }
    }
    if raters < 2 {
        return Err(StatsError::NotEnoughData(
            "Fleiss' κ needs at least two raters per item".into(),
        ));
    }
    let n = raters as f64;
    let n_total = n * counts.len() as f64;
    let mut cat = vec![0.0; k];
    let mut p_sum = 0.0;
    for row in counts {
        let mut sq = 0.0;
        for (c, &x) in cat.iter_mut().zip(row) {
            let x = f64::from(x);
            *c += x;
            sq += x * x;
        }
        p_sum += (sq - n) / (n * (n - 1.0));
    }
    let p_mean = p_sum / counts.len() as f64;
    let p_exp = match method {
        FleissMethod::Fleiss => cat.iter().map(|c| (c / n_total) * (c / n_total)).sum(),
        FleissMethod::Randolph => 1.0 / k as f64,
    };
    if p_exp >= 1.0 {
        return Err(StatsError::Undefined(
            "Fleiss' κ: every rating falls in one category, so chance agreement is 1".into(),
        ));
    }
    Ok((p_mean - p_exp) / (1.0 - p_exp))
}

/// Items × raters labels → (sorted categories, items × categories counts), as statsmodels
/// `aggregate_raters`; the counts feed [`fleiss_kappa`].
pub fn aggregate_raters(ratings: &[Vec<i64>]) -> (Vec<i64>, Vec<Vec<u32>>) {
    let mut cats: Vec<i64> = ratings.iter().flatten().copied().collect();
    cats.sort_unstable();
    cats.dedup();
    let counts = ratings
        .iter()
        .map(|row| {
            let mut c = vec![0u32; cats.len()];
            for v in row {
                if let Ok(j) = cats.binary_search(v) {
                    c[j] += 1;
                }
            }
            c
        })
        .collect();
    (cats, counts)
}

/// Krippendorff's α, as `krippendorff.alpha(reliability_data=data, level_of_measurement=…)`.
///
/// `data[r][u]` is rater r's value for unit u (`None` = missing). The value domain is the
/// sorted set of observed values; units with fewer than two values are not pairable and
/// drop out. `α = 1 − (n − 1)·Σ_ck o_ck δ²_ck / Σ_ck n_c n_k δ²_ck` with the coincidence
/// matrix `o` (Krippendorff 2011). Errors on ragged rows, non-finite values, no unit with
/// two values, or zero expected disagreement (all pairable values identical).
pub fn krippendorff_alpha(data: &[Vec<Option<f64>>], level: Level) -> Result<f64, StatsError> {
    let units = data.first().map_or(0, Vec::len);
    if let Some(row) = data.iter().find(|r| r.len() != units) {
        return Err(StatsError::LengthMismatch {
            left: units,
            right: row.len(),
        });
    }
    let values = data.iter().flatten().flatten();
    if !values.clone().all(|v| v.is_finite()) {
        return Err(StatsError::NonFinite("reliability data"));
    }
    // -0.0 and 0.0 are one value (numpy `unique`).
    let norm = |v: f64| if v == 0.0 { 0.0 } else { v };
    let mut domain: Vec<f64> = values.map(|&v| norm(v)).collect();
    domain.sort_unstable_by(f64::total_cmp);
    domain.dedup();
    let v = domain.len();
    // Per pairable unit: domain indices of its values.
    let mut pairable: Vec<Vec<usize>> = Vec::new();
    for u in 0..units {
        let idx: Vec<usize> = data
            .iter()
            .filter_map(|row| row.get(u).copied().flatten())
            .map(|x| {
                domain
                    .partition_point(|&d| d < norm(x))
                    .min(v.saturating_sub(1))
            })
            .collect();
        if idx.len() >= 2 {
            pairable.push(idx);
        }
    }
    if pairable.is_empty() {
        return Err(StatsError::NotEnoughData(
            "α needs at least two raters on an item".into(),
        ));
    }
    let mut n_c = vec![0.0; v];
    for &c in pairable.iter().flatten() {
        n_c[c] += 1.0;
    }
    let mut prefix = vec![0.0; v + 1];
    for c in 0..v {
        prefix[c + 1] = prefix[c] + n_c[c];
    }
    let delta = |c: usize, k: usize| -> f64 {
        let (vc, vk) = (domain[c], domain[k]);
        match level {
            Level::Nominal => f64::from(u8::from(c != k)),
            Level::Ordinal => {
                let (lo, hi) = (c.min(k), c.max(k));
                let s = prefix[hi + 1] - prefix[lo] - (n_c[lo] + n_c[hi]) / 2.0;
                s * s
            }
            Level::Interval => (vc - vk) * (vc - vk),
            Level::Ratio if vc + vk == 0.0 => 0.0,
            Level::Ratio => ((vc - vk) / (vc + vk)).powi(2),
        }
    };
    let mut observed = 0.0;
    for unit in &pairable {
        let mut s = 0.0;
        for (i, &c) in unit.iter().enumerate() {
            for &k in &unit[i + 1..] {
                s += 2.0 * delta(c, k);
            }
        }
        observed += s / (unit.len() - 1) as f64;
    }
    let mut expected = 0.0;
    for c in 0..v {
        for k in 0..v {
            if c != k && n_c[c] > 0.0 && n_c[k] > 0.0 {
                expected += n_c[c] * n_c[k] * delta(c, k);
            }
        }
    }
    if expected == 0.0 {
        return Err(StatsError::Undefined(
            "Krippendorff's α: every pairable value is the same, so expected disagreement is 0"
                .into(),
        ));
    }
    let n = prefix[v];
    Ok(1.0 - (n - 1.0) * observed / expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn load_refs() -> Value {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/ranking_refs.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn rel(got: f64, want: f64) -> f64 {
        (got - want).abs() / want.abs().max(1e-300)
    }

    #[test]
    fn cohen_matches_sklearn() {
        let refs = load_refs();
        let mut worst: f64 = 0.0;
        for case in refs["cohen"].as_array().unwrap() {
            let w = match case["weights"].as_str().unwrap() {
                "none" => KappaWeights::None,
                "linear" => KappaWeights::Linear,
                _ => KappaWeights::Quadratic,
            };
            let want = case["kappa"].as_f64().unwrap();
            let f = |k: &str| -> Vec<f64> {
                case[k]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap())
                    .collect()
            };
            worst = worst.max(rel(cohen_kappa(&f("a"), &f("b"), w).unwrap(), want));
            if let Some(la) = case["labels_a"].as_array() {
                fn strs(v: &[Value]) -> Vec<&str> {
                    v.iter().map(|x| x.as_str().unwrap()).collect()
                }
                let lb = strs(case["labels_b"].as_array().unwrap());
                worst = worst.max(rel(cohen_kappa(&strs(la), &lb, w).unwrap(), want));
            }
        }
        println!("cohen max relative error {worst:e}");
        assert!(worst < 1e-9, "{worst}");
    }

    #[test]
    fn fleiss_matches_statsmodels() {
        let refs = load_refs();
        let mut worst: f64 = 0.0;
        for case in refs["fleiss"].as_array().unwrap() {
            let counts: Vec<Vec<u32>> = serde_json::from_value(case["counts"].clone()).unwrap();
            for (m, key) in [
                (FleissMethod::Fleiss, "fleiss"),
                (FleissMethod::Randolph, "randolph"),
            ] {
                let want = case[key].as_f64().unwrap();
                worst = worst.max(rel(fleiss_kappa(&counts, m).unwrap(), want));
            }
        }
        println!("fleiss max relative error {worst:e}");
        assert!(worst < 1e-9, "{worst}");
    }

    #[test]
    fn krippendorff_matches_package_and_textbook() {
        let refs = load_refs();
        let levels = [
            (Level::Nominal, "nominal"),
            (Level::Ordinal, "ordinal"),
            (Level::Interval, "interval"),
            (Level::Ratio, "ratio"),
        ];
        let mut worst: f64 = 0.0;
        for case in refs["krippendorff"].as_array().unwrap() {
            let data: Vec<Vec<Option<f64>>> = serde_json::from_value(case["data"].clone()).unwrap();
            for (level, key) in levels {
                let want = case[key].as_f64().unwrap();
                worst = worst.max(rel(krippendorff_alpha(&data, level).unwrap(), want));
            }
        }
        println!("krippendorff max relative error {worst:e}");
        assert!(worst < 1e-9, "{worst}");
        // Krippendorff (2011) 4-observer example.
        let tb: Vec<Vec<Option<f64>>> =
            serde_json::from_value(refs["krippendorff"][0]["data"].clone()).unwrap();
        for ((level, _), want) in levels.iter().zip([0.743, 0.815, 0.849, 0.797]) {
            let got = krippendorff_alpha(&tb, *level).unwrap();
            assert!((got - want).abs() < 5e-4, "{level:?} {got}");
        }
    }

    #[test]
    fn too_little_data_says_so() {
        let one = vec![vec![Some(1.0), None], vec![None, Some(2.0)]];
        let e = krippendorff_alpha(&one, Level::Nominal).unwrap_err();
        assert_eq!(
            e.to_string(),
            "not enough data: α needs at least two raters on an item"
        );
        let same = vec![vec![Some(3.0), Some(3.0)], vec![Some(3.0), Some(3.0)]];
        assert!(matches!(
            krippendorff_alpha(&same, Level::Interval),
            Err(StatsError::Undefined(_))
        ));
        let ragged = vec![vec![Some(1.0)], vec![]];
        assert!(matches!(
            krippendorff_alpha(&ragged, Level::Ordinal),
            Err(StatsError::LengthMismatch { .. })
        ));
        assert!(matches!(
            cohen_kappa(&[1, 1], &[1, 1], KappaWeights::None),
            Err(StatsError::Undefined(_))
        ));
        assert!(matches!(
            cohen_kappa(&[1], &[1, 2], KappaWeights::None),
            Err(StatsError::LengthMismatch { .. })
        ));
        assert!(matches!(
            cohen_kappa(&[f64::NAN], &[1.0], KappaWeights::None),
            Err(StatsError::NonFinite(_))
        ));
        assert!(matches!(
            fleiss_kappa(&[vec![1, 0]], FleissMethod::Fleiss),
            Err(StatsError::NotEnoughData(_))
        ));
        assert!(matches!(
            fleiss_kappa(&[vec![2, 0], vec![1, 0]], FleissMethod::Fleiss),
            Err(StatsError::InvalidArgument(_))
        ));
        assert!(matches!(
            fleiss_kappa(&[vec![2, 0], vec![2, 0]], FleissMethod::Fleiss),
            Err(StatsError::Undefined(_))
        ));
        let (cats, counts) = aggregate_raters(&[vec![3, 1, 3], vec![1, 1, 1]]);
        assert_eq!((cats, counts), (vec![1, 3], vec![vec![1, 2], vec![3, 0]]));
    }
}
