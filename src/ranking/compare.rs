//! The statistics behind `assay compare`: FD, KID, precision/recall/density/coverage between two
//! feature matrices, with percentile bootstrap intervals, and the pooled z-scoring used for the
//! classical-signal features. Pure functions over rows with a typed result ([`BatchComparison`],
//! serialised by `assay compare` as it is); the CLI does the I/O.

use serde::Serialize;

use crate::ranking::distribution::{Features, frechet_distance, kid, kid_subsets};
use crate::ranking::prdc::prdc;
use crate::ranking::quantile::percentile_sorted;
use crate::ranking::rng::Rng;

/// One side has fewer than two feature rows: FD, KID and precision/recall are undefined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooFewRows {
    /// `"A"` or `"B"`.
    pub side: &'static str,
    pub rows: usize,
}

impl std::fmt::Display for TooFewRows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "batch {} has {} feature row{}: FD, KID and precision/recall need at least 2 \
             images on each side",
            self.side,
            self.rows,
            if self.rows == 1 { "" } else { "s" }
        )
    }
}

impl std::error::Error for TooFewRows {}

/// A metric with its bootstrap interval (`None` when no round succeeded) and neighbourhood k.
#[derive(Debug, Clone, Serialize)]
pub struct Estimate {
    pub value: f64,
    pub interval: Option<[f64; 2]>,
    pub k: usize,
}

/// The Fréchet distance with its bootstrap interval and warnings.
#[derive(Debug, Clone, Serialize)]
pub struct FdEstimate {
    pub value: f64,
    pub interval: Option<[f64; 2]>,
    pub warnings: Vec<String>,
}

/// KID over explicit subsets (its spread is the std over subsets, not bootstrapped).
#[derive(Debug, Clone, Serialize)]
pub struct KidEstimate {
    pub mean: f64,
    pub std: f64,
    pub subsets: usize,
    pub subset_size: usize,
    pub spread: &'static str,
}

/// How the intervals were made.
#[derive(Debug, Clone, Serialize)]
pub struct BootstrapInfo {
    pub rounds: usize,
    pub failed: usize,
    pub level: f64,
    pub method: &'static str,
}

/// The result of [`evaluate`]: set sizes, the metrics and notes for the reader.
#[derive(Debug, Clone, Serialize)]
pub struct BatchComparison {
    pub n_a: usize,
    pub n_b: usize,
    pub d: usize,
    pub fd: FdEstimate,
    pub kid: KidEstimate,
    pub precision: Estimate,
    pub recall: Estimate,
    pub density: Estimate,
    pub coverage: Estimate,
    pub bootstrap: BootstrapInfo,
    pub notes: Vec<String>,
}

/// Options of one comparison.
#[derive(Debug, Clone, Copy)]
pub struct EvalOptions {
    pub kid_subsets: usize,
    pub kid_subset_size: usize,
    pub bootstrap: usize,
    pub seed: u64,
}

/// k for precision/recall (Kynkäänniemi 2019) and for density/coverage (Naeem 2020).
const K_PR: usize = 3;
const K_DC: usize = 5;

/// Standardises the columns of `a` and `b` with the mean and population std of the pooled
/// A∪B rows, in place. A common standardisation puts both batches in one space, so neither
/// batch's own scale decides the distances; features with very different units (variances in
/// the thousands next to fractions) would otherwise dominate every distance. Constant columns
/// become 0. Returns the indices of constant columns.
pub fn zscore_pooled(a: &mut [Vec<f64>], b: &mut [Vec<f64>]) -> Vec<usize> {
    let d = a.first().or(b.first()).map_or(0, Vec::len);
    let n = (a.len() + b.len()) as f64;
    let mut constant = Vec::new();
    for j in 0..d {
        let col = || a.iter().chain(b.iter()).filter_map(|r| r.get(j).copied());
        let mean = col().sum::<f64>() / n;
        let var = col().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
        let sd = var.sqrt();
        if sd <= f64::EPSILON * mean.abs().max(1.0) {
            constant.push(j);
        }
        for r in a.iter_mut().chain(b.iter_mut()) {
            if let Some(v) = r.get_mut(j) {
                *v = if constant.last() == Some(&j) {
                    0.0
                } else {
                    (*v - mean) / sd
                };
            }
        }
    }
    constant
}

/// The four point estimates computed on one (possibly resampled) pair of sets.
fn point(a: &Features, b: &Features) -> anyhow::Result<[f64; 5]> {
    let fd = frechet_distance(a, b)?.value;
    let pr = prdc(a, b, K_PR)?;
    let dc = prdc(a, b, K_DC)?;
    Ok([fd, pr.precision, pr.recall, dc.density, dc.coverage])
}

fn resample(rows: &[Vec<f64>], rng: &mut Rng) -> Vec<Vec<f64>> {
    (0..rows.len())
        .filter_map(|_| rows.get(rng.below(rows.len())).cloned())
        .collect()
}

/// Compares set `a` (the reference, "real") with set `b` ("fake"). Fewer than two rows on a
/// side is a [`TooFewRows`] error (inside the `anyhow::Error`).
pub fn evaluate(
    a: &[Vec<f64>],
    b: &[Vec<f64>],
    opt: &EvalOptions,
) -> anyhow::Result<BatchComparison> {
    for (side, rows) in [("A", a), ("B", b)] {
        if rows.len() < 2 {
            return Err(TooFewRows {
                side,
                rows: rows.len(),
            }
            .into());
        }
    }
    let fa = Features::from_rows(a)?;
    let fb = Features::from_rows(b)?;
    let (n_a, n_b, d) = (fa.n, fb.n, fa.d);
    let mut notes = Vec::new();

    let fd = frechet_distance(&fa, &fb)?;
    let mut fd_warnings = fd.warnings.clone();
    fd_warnings.push(format!(
        "sample size n_a = {n_a}, n_b = {n_b} (d = {d}): FD is biased upwards at small N; \
         compare only values computed with the same N and the same features"
    ));
    let pr = prdc(&fa, &fb, K_PR)?;
    let dc = prdc(&fa, &fb, K_DC)?;

    let mut m = opt.kid_subset_size.min(n_a).min(n_b);
    if m < opt.kid_subset_size {
        notes.push(format!(
            "KID subset size clamped from {} to min(n_a, n_b) = {m}",
            opt.kid_subset_size
        ));
    }
    m = m.max(2);
    let subsets = kid_subsets(n_a, n_b, m, opt.kid_subsets.max(1), opt.seed)?;
    let k = kid(&fa, &fb, &subsets)?;

    let mut rng = Rng::new(opt.seed ^ 0x9E37_79B9_7F4A_7C15);
    let mut draws: [Vec<f64>; 5] = Default::default();
    let mut failed = 0usize;
    for _ in 0..opt.bootstrap {
        let (ra, rb) = (resample(a, &mut rng), resample(b, &mut rng));
        let r = Features::from_rows(&ra)
            .and_then(|x| Features::from_rows(&rb).map(|y| (x, y)))
            .map_err(anyhow::Error::from)
            .and_then(|(x, y)| point(&x, &y));
        match r {
            Ok(v) => draws.iter_mut().zip(v).for_each(|(d, x)| d.push(x)),
            Err(_) => failed += 1,
        }
    }
    if failed > 0 {
        notes.push(format!(
            "{failed} of {} bootstrap rounds failed and were dropped",
            opt.bootstrap
        ));
    }
    if m == n_a && m == n_b {
        notes.push(
            "every KID subset is the whole of A and B, so all subsets agree (std 0)".to_string(),
        );
    }
    let interval = |i: usize| -> Option<[f64; 2]> {
        let mut v = draws.get(i).cloned().unwrap_or_default();
        v.retain(|x| x.is_finite());
        v.sort_by(f64::total_cmp);
        Some([percentile_sorted(&v, 0.025)?, percentile_sorted(&v, 0.975)?])
    };
    let fd_interval = interval(0);
    if let Some([lo, hi]) = fd_interval
        && lo.is_finite()
        && hi.is_finite()
        && !(lo..=hi).contains(&fd.value)
    {
        notes.push(
            "the FD point estimate lies outside its bootstrap interval: resampling with \
             replacement duplicates rows and FD is biased by sample size, so read the interval \
             as spread, not as a confidence interval"
                .to_string(),
        );
    }
    let estimate = |i: usize, value: f64, k: usize| Estimate {
        value,
        interval: interval(i),
        k,
    };
    Ok(BatchComparison {
        n_a,
        n_b,
        d,
        fd: FdEstimate {
            value: fd.value,
            interval: fd_interval,
            warnings: fd_warnings,
        },
        kid: KidEstimate {
            mean: k.mean,
            std: k.std,
            subsets: subsets.len(),
            subset_size: m,
            spread: "std over KID subsets (not bootstrapped)",
        },
        precision: estimate(1, pr.precision, K_PR),
        recall: estimate(2, pr.recall, K_PR),
        density: estimate(3, dc.density, K_DC),
        coverage: estimate(4, dc.coverage, K_DC),
        bootstrap: BootstrapInfo {
            rounds: opt.bootstrap,
            failed,
            level: 0.95,
            method: "percentile; rows of A and of B resampled with replacement",
        },
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cloud(n: usize, shift: f64, seed: u64) -> Vec<Vec<f64>> {
        let mut r = Rng::new(seed);
        (0..n)
            .map(|_| (0..3).map(|_| r.next_f64() + shift).collect())
            .collect()
    }

    #[test]
    fn zscore_uses_pooled_moments() {
        let mut a = vec![vec![0.0, 5.0], vec![2.0, 5.0]];
        let mut b = vec![vec![4.0, 5.0], vec![6.0, 5.0]];
        assert_eq!(zscore_pooled(&mut a, &mut b), vec![1]);
        let sd = 5.0f64.sqrt();
        assert!((a[0][0] + 3.0 / sd).abs() < 1e-12);
        assert!((b[1][0] - 3.0 / sd).abs() < 1e-12);
        assert_eq!(a[0][1], 0.0);
    }

    #[test]
    fn shifted_cloud_is_farther_and_intervals_are_ordered() {
        let opt = EvalOptions {
            kid_subsets: 10,
            kid_subset_size: 1000,
            bootstrap: 50,
            seed: 1,
        };
        let a = cloud(40, 0.0, 1);
        let json = |r: BatchComparison| serde_json::to_value(r).unwrap();
        let same = json(evaluate(&a, &cloud(40, 0.0, 2), &opt).unwrap());
        let far = json(evaluate(&a, &cloud(40, 0.7, 3), &opt).unwrap());
        assert!(far["fd"]["value"].as_f64() > same["fd"]["value"].as_f64());
        assert!(far["precision"]["value"].as_f64() < same["precision"]["value"].as_f64());
        assert_eq!(same["kid"]["subset_size"], 40);
        assert!(same["notes"][0].as_str().unwrap().contains("clamped"));
        for key in ["fd", "precision", "recall", "density", "coverage"] {
            let iv = &same[key]["interval"];
            assert!(iv[0].as_f64().unwrap() <= iv[1].as_f64().unwrap(), "{key}");
        }
    }
}
