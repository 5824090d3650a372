//! Distribution metrics between two sets of feature vectors: Fréchet distance (FID when the
//! features are Inception pool3 activations), KID, Inception Score, and (re-exported from
//! [`super::prdc`]) precision / recall / density / coverage.
//!
//! Conventions follow `docs/metrics-reference.md` §4.1–4.4 and the peers named on each function.
//! Everything is f64. Large Gram products go through flex's f64 gemm on rayon's pool
//! (`dist_linalg.rs`), and KID's subsets run in parallel.
//! Feature extraction is not done here: callers pass the feature matrices.

use rayon::prelude::*;
use serde::Serialize;

use super::dist_linalg::{gram, gram_sym, mirror_upper, sym_eigen, transpose};
use super::metric_error::MetricError;

pub use super::prdc::{Prdc, prdc};

/// A set of `n` feature vectors of dimension `d`, row-major (`data[i·d + j]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Features {
    /// Number of samples (rows).
    pub n: usize,
    /// Feature dimension (columns).
    pub d: usize,
    /// Row-major values, `n × d` of them.
    pub data: Vec<f64>,
}

impl Features {
    /// Wraps `data` as an `n × d` matrix. Errors when `d == 0`, when `data.len() != n·d`, or when a
    /// value is NaN or infinite.
    pub fn new(n: usize, d: usize, data: Vec<f64>) -> Result<Self, MetricError> {
        let f = Features { n, d, data };
        f.check("features")?;
        Ok(f)
    }

    /// Builds from equal-length rows (errors on ragged rows, like `new` on a bad length).
    pub fn from_rows(rows: &[Vec<f64>]) -> Result<Self, MetricError> {
        let d = rows.first().map_or(0, Vec::len);
        let mut data = Vec::with_capacity(rows.len() * d);
        for row in rows {
            if row.len() != d {
                return Err(MetricError::ShapeMismatch {
                    what: "feature row",
                    expected: Some(d),
                    actual: row.len(),
                });
            }
            data.extend_from_slice(row);
        }
        Features::new(rows.len(), d, data)
    }

    /// Row `i`, or `None` when out of range.
    pub fn row(&self, i: usize) -> Option<&[f64]> {
        self.data
            .get(i.checked_mul(self.d)?..(i + 1).checked_mul(self.d)?)
    }

    /// Re-validates the (public) fields: shape, `d ≥ 1`, finiteness.
    pub(super) fn check(&self, what: &'static str) -> Result<(), MetricError> {
        if self.d == 0 {
            return Err(MetricError::InvalidParameter(format!(
                "{what}: feature dimension is 0"
            )));
        }
        let expected = self.n.checked_mul(self.d);
        if expected != Some(self.data.len()) {
            return Err(MetricError::ShapeMismatch {
                what,
                expected,
                actual: self.data.len(),
            });
        }
        if let Some(index) = self.data.iter().position(|x| !x.is_finite()) {
            return Err(MetricError::NonFinite { what, index });
        }
        Ok(())
    }
}

/// Checks both sets and that their dimensions agree.
pub(super) fn check_pair(a: &Features, b: &Features) -> Result<(), MetricError> {
    a.check("features a")?;
    b.check("features b")?;
    if a.d != b.d {
        return Err(MetricError::DimensionMismatch {
            what: "feature dimension",
            left: a.d.to_string(),
            right: b.d.to_string(),
        });
    }
    Ok(())
}

/// Result of [`frechet_distance`], with its parts and caveats.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FdResult {
    /// `‖μa−μb‖² + tr Σa + tr Σb − 2·tr √(Σa^½ Σb Σa^½)`. Can be very slightly negative through
    /// rounding when the sets are identical (the peers do not clamp either).
    pub value: f64,
    /// `‖μa−μb‖²`.
    pub mean_term: f64,
    /// `tr Σa`.
    pub trace_a: f64,
    /// `tr Σb`.
    pub trace_b: f64,
    /// `tr √(Σa^½ Σb Σa^½)` (= `tr √(Σa Σb)`).
    pub tr_sqrt: f64,
    /// Samples in set a.
    pub n_a: usize,
    /// Samples in set b.
    pub n_b: usize,
    /// Feature dimension.
    pub d: usize,
    /// Human-readable caveats (singular covariance, clamped eigenvalues, …).
    pub warnings: Vec<String>,
}

/// Column means and covariance (ddof = 1, `np.cov(x, rowvar=False)`), covariance row-major `d × d`.
/// Rows are centred and transposed in blocks so memory stays at `O(d² + block·d)`.
pub(super) fn mean_cov(x: &Features) -> (Vec<f64>, Vec<f64>) {
    const BLOCK: usize = 256;
    let (n, d) = (x.n, x.d);
    let mut mean = vec![0.0; d];
    for row in x.data.chunks_exact(d) {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += v;
        }
    }
    for m in &mut mean {
        *m /= n as f64;
    }
    let mut cov = vec![0.0; d * d];
    let mut tmp = vec![0.0; d * d];
    let mut centred = Vec::with_capacity(BLOCK * d);
    for block in x.data.chunks(BLOCK * d) {
        centred.clear();
        for row in block.chunks_exact(d) {
            centred.extend(row.iter().zip(&mean).map(|(v, m)| v - m));
        }
        let rows = centred.len() / d;
        let ct = transpose(&centred, rows, d); // d × rows
        gram_sym(&ct, rows, &mut tmp);
        for (c, t) in cov.iter_mut().zip(&tmp) {
            *c += t;
        }
    }
    // numpy multiplies by 1/fact rather than dividing.
    let inv = 1.0 / (n as f64 - 1.0);
    for c in &mut cov {
        *c *= inv;
    }
    (mean, cov)
}

/// Fréchet distance between Gaussians fitted to `a` and `b` (FID on Inception features).
///
/// Peers: torch-fidelity 0.4 `fid_statistics_to_metric` (`np.linalg.eigvals(Σa·Σb)`, complex
/// sqrt, real part), torchmetrics 1.9 `_compute_fid`, pytorch-fid / clean-fid
/// `calculate_frechet_distance` / `frechet_distance` (`scipy.linalg.sqrtm`). Deliberate
/// difference (metrics-reference §4.1 recommendation): the square-root trace is computed
/// symmetrically as `Σ √max(λ, 0)` over the eigenvalues of `D·(Vᵀ Σb V)·D`, where `Σa = V Λ Vᵀ`
/// and `D = diag(√max(Λ, 0))`; that matrix is orthogonally similar to `Σa^½ Σb Σa^½`, whose
/// eigenvalues equal those of `Σa Σb`. Negative eigenvalues (rounding on singular covariances)
/// are clamped to 0 instead of going through complex square roots, eigenvalues below
/// `d·ε·λmax` (rounding noise) count as 0, and there is no `1e-6·I` retry. Agreement with the peers: ~1e-12 relative on full-rank data, ~1e-8 on rank-deficient.
///
/// Errors: a set with fewer than 2 rows, a dimension mismatch, bad shapes or non-finite values.
pub fn frechet_distance(a: &Features, b: &Features) -> Result<FdResult, MetricError> {
    check_pair(a, b)?;
    for (what, f) in [("features a", a), ("features b", b)] {
        if f.n < 2 {
            return Err(MetricError::TooFewSamples {
                what,
                n: f.n,
                min: 2,
            });
        }
    }
    let d = a.d;
    let (mu_a, cov_a) = mean_cov(a);
    let (mu_b, cov_b) = mean_cov(b);
    let mean_term: f64 = mu_a.iter().zip(&mu_b).map(|(x, y)| (x - y) * (x - y)).sum();
    let trace_a: f64 = cov_a.iter().step_by(d + 1).sum();
    let trace_b: f64 = cov_b.iter().step_by(d + 1).sum();

    let mut warnings = Vec::new();
    for (name, n) in [("a", a.n), ("b", b.n)] {
        if n < d {
            warnings.push(format!(
                "set {name}: N (={n}) < d (={d}): covariance is singular; FD is biased upwards \
                 at small N (Chong & Forsyth 2020); compare only values with the same N and features"
            ));
        }
    }

    let eig_a = sym_eigen(&cov_a, d, true)?;
    let scale: Vec<f64> = eig_a.values.iter().map(|&l| l.max(0.0).sqrt()).collect();
    // P = Vᵀ Σb V with eigenvectors as rows of `vectors`: Q = Vrows·Σb, P = Q·Vrowsᵀ.
    let mut q = vec![0.0; d * d];
    gram(&eig_a.vectors, &cov_b, d, &mut q);
    let mut p = vec![0.0; d * d];
    gram(&q, &eig_a.vectors, d, &mut p);
    // M = D P D, symmetrised from the upper triangle's average with the lower one.
    let mut m = vec![0.0; d * d];
    for i in 0..d {
        for j in i..d {
            let pij = 0.5 * (p[i * d + j] + p[j * d + i]);
            m[i * d + j] = scale[i] * pij * scale[j];
        }
    }
    mirror_upper(&mut m, d);
    let eig_m = sym_eigen(&m, d, false)?;
    let max_l = eig_m.values.last().copied().unwrap_or(0.0).max(0.0);
    let min_l = eig_m.values.first().copied().unwrap_or(0.0);
    if min_l < -1e-8 * max_l {
        warnings.push(format!(
            "clamped negative eigenvalues of Σa^½ Σb Σa^½ to 0 (most negative {min_l:e}, largest \
             {max_l:e}): the covariances are ill-conditioned"
        ));
    }
    // Eigenvalues below d·ε·λmax are rounding noise of a singular product (N < d): a noise
    // value λ ~ 1e-16·λmax would still add √λ ~ 1e-8·√λmax per dimension, so they count as 0.
    let noise = d as f64 * f64::EPSILON * max_l;
    let tr_sqrt: f64 = eig_m
        .values
        .iter()
        .filter(|&&l| l > noise)
        .map(|&l| l.sqrt())
        .sum();
    let value = mean_term + trace_a + trace_b - 2.0 * tr_sqrt;
    Ok(FdResult {
        value,
        mean_term,
        trace_a,
        trace_b,
        tr_sqrt,
        n_a: a.n,
        n_b: b.n,
        d,
        warnings,
    })
}

/// One KID subset pair: row indices into set a and into set b (same length `m ≥ 2`).
pub type SubsetPair = (Vec<usize>, Vec<usize>);

/// Result of [`kid`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KidResult {
    /// Mean of the per-subset unbiased MMD² estimates.
    pub mean: f64,
    /// Population standard deviation (ddof 0) of the per-subset estimates.
    pub std: f64,
    /// Unbiased MMD² of each subset pair, in input order.
    pub per_subset: Vec<f64>,
}

/// Gathers the rows `idx` of `f` into a contiguous matrix.
fn gather(f: &Features, idx: &[usize], what: &'static str) -> Result<Vec<f64>, MetricError> {
    let mut out = Vec::with_capacity(idx.len() * f.d);
    for &i in idx {
        let row = f.row(i).ok_or_else(|| {
            MetricError::InvalidParameter(format!("{what}: index {i} out of range (n = {})", f.n))
        })?;
        out.extend_from_slice(row);
    }
    Ok(out)
}

/// Sum over all entries and over the diagonal of the polynomial kernel `(g·γ + 1)³` applied to
/// the Gram matrix `g` (`m × m`).
fn kernel_sums(g: &mut [f64], m: usize, gamma: f64) -> (f64, f64) {
    let mut total = 0.0;
    let mut diag = 0.0;
    for (i, row) in g.chunks_exact_mut(m.max(1)).enumerate() {
        let mut row_sum = 0.0;
        for v in row.iter_mut() {
            let base = *v * gamma + 1.0;
            *v = base * base * base;
            row_sum += *v;
        }
        total += row_sum;
        diag += row.get(i).copied().unwrap_or(0.0);
    }
    (total, diag)
}

/// Kernel Inception Distance: unbiased MMD² with the cubic polynomial kernel
/// `k(x, y) = (x·y/d + 1)³` on each subset pair `(indices into a, indices into b)`.
///
/// Peer: torch-fidelity 0.4 `kid_features_to_metric` / `mmd2(..., mmd_est="unbiased")` (clean-fid
/// and torchmetrics give the same per-subset value): `(Σ_{i≠j} k(xᵢ,xⱼ) + Σ_{i≠j} k(yᵢ,yⱼ)) /
/// (m(m−1)) − 2 Σ_{i,j} k(xᵢ,yⱼ) / m²`; the mean and the population std over subsets. The peers
/// draw the subsets themselves (numpy `RandomState(2020).choice`, `torch.randperm`); here they
/// are inputs, so results can be compared subset by subset (see [`kid_subsets`]).
///
/// Errors: no subsets, a subset pair of unequal sizes or with fewer than 2 rows, an index out of
/// range, or the usual shape / dimension / finiteness errors.
pub fn kid(a: &Features, b: &Features, subsets: &[SubsetPair]) -> Result<KidResult, MetricError> {
    check_pair(a, b)?;
    if subsets.is_empty() {
        return Err(MetricError::InvalidParameter(
            "KID needs at least one subset".into(),
        ));
    }
    let gamma = 1.0 / a.d as f64; // torch-fidelity: gamma = 1.0 / X.shape[1], K = (XYᵀ·gamma + 1)³
    // Subset pairs are independent: computed in parallel on rayon's pool, collected in order
    // (the per-subset values do not depend on the thread count).
    let per_subset = subsets
        .par_iter()
        .map(|(ia, ib)| kid_subset(a, b, ia, ib, gamma))
        .collect::<Result<Vec<f64>, MetricError>>()?;
    let (mean, std) = mean_std(&per_subset);
    Ok(KidResult {
        mean,
        std,
        per_subset,
    })
}

/// Unbiased MMD² of one subset pair (see [`kid`]).
fn kid_subset(
    a: &Features,
    b: &Features,
    ia: &[usize],
    ib: &[usize],
    gamma: f64,
) -> Result<f64, MetricError> {
    let d = a.d;
    let m = ia.len();
    if ib.len() != m {
        return Err(MetricError::DimensionMismatch {
            what: "KID subset size",
            left: m.to_string(),
            right: ib.len().to_string(),
        });
    }
    if m < 2 {
        return Err(MetricError::TooFewSamples {
            what: "KID subset",
            n: m,
            min: 2,
        });
    }
    let x = gather(a, ia, "KID subset of a")?;
    let y = gather(b, ib, "KID subset of b")?;
    let mut kxx = vec![0.0; m * m];
    let mut kyy = vec![0.0; m * m];
    let mut kxy = vec![0.0; m * m];
    gram_sym(&x, d, &mut kxx);
    gram_sym(&y, d, &mut kyy);
    gram(&x, &y, d, &mut kxy);
    let (sxx, dxx) = kernel_sums(&mut kxx, m, gamma);
    let (syy, dyy) = kernel_sums(&mut kyy, m, gamma);
    let (sxy, _) = kernel_sums(&mut kxy, m, gamma);
    let mf = m as f64;
    Ok(((sxx - dxx) + (syy - dyy)) / (mf * (mf - 1.0)) - 2.0 * sxy / (mf * mf))
}

/// Mean and population standard deviation (`np.mean`, `np.std`).
fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// SplitMix64 (Steele, Lea & Flood 2014): small, seedable, good enough for subset draws.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform integer in `0..bound` (`bound ≥ 1`), by rejection (no modulo bias).
    fn below(&mut self, bound: u64) -> u64 {
        let zone = u64::MAX - u64::MAX % bound;
        loop {
            let x = self.next_u64();
            if x < zone {
                return x % bound;
            }
        }
    }
}

/// `size` distinct indices from `0..n` in draw order (partial Fisher–Yates).
fn choose(rng: &mut SplitMix64, perm: &mut Vec<usize>, n: usize, size: usize) -> Vec<usize> {
    perm.clear();
    perm.extend(0..n);
    for i in 0..size {
        let j = i + rng.below((n - i) as u64) as usize;
        perm.swap(i, j);
    }
    perm.iter().take(size).copied().collect()
}

/// Draws `n_subsets` subset pairs of `subset_size` rows each, without replacement within a
/// subset (set a then set b in each iteration, like torch-fidelity), from a SplitMix64 stream
/// seeded with `seed`.
///
/// The draws are **not** numpy's: torch-fidelity uses `np.random.RandomState(2020).choice`, so
/// the same seed gives different subsets and KID means differ by sampling noise (compare per
/// subset by passing explicit indices to [`kid`]). Errors, as torch-fidelity, when either set is
/// smaller than `subset_size`; also when `subset_size < 2` or `n_subsets == 0`.
pub fn kid_subsets(
    n_a: usize,
    n_b: usize,
    subset_size: usize,
    n_subsets: usize,
    seed: u64,
) -> Result<Vec<SubsetPair>, MetricError> {
    if subset_size < 2 {
        return Err(MetricError::InvalidParameter(format!(
            "KID subset size must be >= 2, got {subset_size}"
        )));
    }
    if n_subsets == 0 {
        return Err(MetricError::InvalidParameter(
            "KID needs at least one subset".into(),
        ));
    }
    for (what, n) in [("features a", n_a), ("features b", n_b)] {
        if n < subset_size {
            return Err(MetricError::TooFewSamples {
                what,
                n,
                min: subset_size,
            });
        }
    }
    let mut rng = SplitMix64(seed);
    let mut perm = Vec::new();
    Ok((0..n_subsets)
        .map(|_| {
            let ia = choose(&mut rng, &mut perm, n_a, subset_size);
            let ib = choose(&mut rng, &mut perm, n_b, subset_size);
            (ia, ib)
        })
        .collect())
}

/// Inception Score from classifier logits (`n × classes`): `(mean, population std)` over
/// `splits` consecutive splits, split `k` covering rows `[k·n/splits, (k+1)·n/splits)`.
///
/// Peer: torch-fidelity 0.4 `isc_features_to_metric(feature, splits, shuffle=False)`: f64
/// softmax / log-softmax, `IS_k = exp(mean_i Σ_c p_ic (log p_ic − log p̄_c))`. Deliberate
/// difference: torch-fidelity shuffles the rows first (`samples_shuffle=True`,
/// `np.random.RandomState(2020).permutation`); we take the rows in the given order, so shuffle
/// beforehand to reproduce its default. A term with `p_ic = 0` contributes 0 (torch would give
/// NaN when a whole column underflows). torchmetrics uses `torch.chunk` splits and the unbiased
/// std, so it differs.
///
/// Errors: `splits == 0`, fewer rows than splits, bad shape or non-finite logits.
pub fn inception_score(logits: &Features, splits: usize) -> Result<(f64, f64), MetricError> {
    logits.check("logits")?;
    if splits == 0 {
        return Err(MetricError::InvalidParameter(
            "Inception Score needs splits >= 1".into(),
        ));
    }
    let (n, c) = (logits.n, logits.d);
    if n < splits {
        return Err(MetricError::TooFewSamples {
            what: "logits (one row per split)",
            n,
            min: splits,
        });
    }
    let mut p = vec![0.0; n * c];
    let mut log_p = vec![0.0; n * c];
    for ((row, pr), lr) in logits
        .data
        .chunks_exact(c)
        .zip(p.chunks_exact_mut(c))
        .zip(log_p.chunks_exact_mut(c))
    {
        let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut sum = 0.0;
        for (pv, &x) in pr.iter_mut().zip(row) {
            *pv = (x - max).exp();
            sum += *pv;
        }
        let log_sum = sum.ln();
        for ((pv, lv), &x) in pr.iter_mut().zip(lr.iter_mut()).zip(row) {
            *pv /= sum;
            *lv = (x - max) - log_sum;
        }
    }
    let mut scores = Vec::with_capacity(splits);
    let mut q = vec![0.0; c];
    for k in 0..splits {
        let (r0, r1) = (k * n / splits, (k + 1) * n / splits);
        let rows = (r1 - r0) as f64;
        let pc = p.get(r0 * c..r1 * c).unwrap_or(&[]);
        let lc = log_p.get(r0 * c..r1 * c).unwrap_or(&[]);
        q.fill(0.0);
        for pr in pc.chunks_exact(c) {
            for (qv, &pv) in q.iter_mut().zip(pr) {
                *qv += pv;
            }
        }
        let log_q: Vec<f64> = q.iter().map(|&s| (s / rows).ln()).collect();
        let mut kl_sum = 0.0;
        for (pr, lr) in pc.chunks_exact(c).zip(lc.chunks_exact(c)) {
            let mut kl = 0.0;
            for ((&pv, &lv), &lq) in pr.iter().zip(lr).zip(&log_q) {
                if pv > 0.0 {
                    kl += pv * (lv - lq);
                }
            }
            kl_sum += kl;
        }
        scores.push((kl_sum / rows).exp());
    }
    Ok(mean_std(&scores))
}

#[cfg(test)]
#[path = "distribution_tests.rs"]
mod tests;
