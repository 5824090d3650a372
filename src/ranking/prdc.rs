//! Precision / recall (Kynkäänniemi et al. 2019) and density / coverage (Naeem et al. 2020),
//! as `prdc.compute_prdc` 0.2 (metrics-reference §4.4). Re-exported by
//! [`super::distribution`].
//!
//! Distances are computed in row blocks (never a full `n × n` matrix): memory is
//! `O(BLOCK · max(n_real, n_fake))` plus `O((k+1) · n)` for the running k-NN lists.

use serde::Serialize;

use super::dist_linalg::gram;
use super::distribution::{Features, check_pair};
use super::metric_error::MetricError;

/// Rows per distance block (256 × 10 000 f64 = 20 MB).
const BLOCK: usize = 256;

/// The four manifold metrics of [`prdc`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Prdc {
    /// Fraction of fake samples inside some real sample's k-NN ball.
    pub precision: f64,
    /// Fraction of real samples inside some fake sample's k-NN ball.
    pub recall: f64,
    /// `(1/k) · mean_j #{i : D_ij < r_i}`; can exceed 1.
    pub density: f64,
    /// Fraction of real samples whose nearest fake sample lies inside their k-NN ball.
    pub coverage: f64,
}

/// Squared row norms (`einsum('ij,ij->i')`).
fn row_norms(f: &Features) -> Vec<f64> {
    f.data
        .chunks_exact(f.d)
        .map(|r| r.iter().map(|x| x * x).sum())
        .collect()
}

/// Euclidean distance from a Gram entry, as scikit-learn `euclidean_distances` does it:
/// `sqrt(max(−2·x·y + ‖x‖² + ‖y‖², 0))`.
#[inline]
fn dist(g: f64, nx: f64, ny: f64) -> f64 {
    ((-2.0 * g + nx) + ny).max(0.0).sqrt()
}

/// Keeps the `w` smallest values seen (sorted ascending) in `list`; a partial selection that
/// costs one comparison per value once the list is full.
#[inline]
fn push_smallest(list: &mut [f64], v: f64) {
    let Some(&last) = list.last() else { return };
    if v >= last {
        return;
    }
    let mut pos = list.len() - 1;
    while pos > 0 && list[pos - 1] > v {
        list[pos] = list[pos - 1];
        pos -= 1;
    }
    list[pos] = v;
}

/// Radius of each row's k-NN ball: the (k+1)-th smallest distance to the rows of `x`, self
/// (distance 0) included, like `prdc.compute_nearest_neighbour_distances`. Only the upper
/// triangle of the Gram matrix is computed; each entry updates both rows' lists (with the
/// distance rounded per row, so that `real == fake` gives the same values as the cross pass).
fn knn_radii(x: &Features, k: usize) -> Vec<f64> {
    let (n, d) = (x.n, x.d);
    let w = k + 1;
    let norms = row_norms(x);
    let mut lists = vec![f64::INFINITY; n * w];
    for list in lists.chunks_exact_mut(w) {
        push_smallest(list, 0.0); // self
    }
    let mut buf = Vec::new();
    for (bi, block) in x.data.chunks(BLOCK * d).enumerate() {
        let i0 = bi * BLOCK;
        let rows = block.len() / d;
        let rest = x.data.get(i0 * d..).unwrap_or(&[]); // rows i0..n
        let cols = n - i0;
        buf.clear();
        buf.resize(rows * cols, 0.0);
        gram(block, rest, d, &mut buf);
        for (r, grow) in buf.chunks_exact(cols).enumerate() {
            let i = i0 + r;
            let ni = norms[i];
            // columns c > r are rows j = i0 + c > i
            for (c, &g) in grow.iter().enumerate().skip(r + 1) {
                let j = i0 + c;
                let nj = norms[j];
                // Row-specific rounding, as scikit-learn: d(i, j) = sqrt((−2g + ‖xi‖²) + ‖xj‖²).
                push_smallest(&mut lists[i * w..(i + 1) * w], dist(g, ni, nj));
                push_smallest(&mut lists[j * w..(j + 1) * w], dist(g, nj, ni));
            }
        }
    }
    lists.chunks_exact(w).map(|l| l[k]).collect()
}

/// Precision, recall, density and coverage of `fake` against `real` with `k` nearest neighbours.
///
/// Peer: `prdc.compute_prdc(real_features, fake_features, nearest_k)` 0.2. `r_i` is the distance
/// from real sample `i` to its k-th nearest *other* real sample (prdc takes the (k+1)-th smallest
/// distance, self included), `r'_j` likewise among fake samples, `D_ij = ‖real_i − fake_j‖`
/// computed like scikit-learn (`sqrt(max(‖x‖² − 2x·y + ‖y‖², 0))`); all comparisons are strict
/// `<` (torch-fidelity's P/R uses `<=`). Differences: self-distances are exactly 0 (scikit-learn's
/// threaded path leaves rounding noise there), and prdc's `np.argpartition` additionally needs
/// `n ≥ k + 2` while we accept `n ≥ k + 1`. Values agree exactly unless a distance ties a radius
/// to within rounding.
///
/// Errors: `k == 0`, a set with `n ≤ k`, dimension mismatch, bad shape or non-finite values.
pub fn prdc(real: &Features, fake: &Features, k: usize) -> Result<Prdc, MetricError> {
    check_pair(real, fake)?;
    if k == 0 {
        return Err(MetricError::InvalidParameter("PRDC needs k >= 1".into()));
    }
    for (what, f) in [("real features", real), ("fake features", fake)] {
        if f.n <= k {
            return Err(MetricError::TooFewSamples {
                what,
                n: f.n,
                min: k + 1,
            });
        }
    }
    let d = real.d;
    let (nr, nf) = (real.n, fake.n);
    let r_real = knn_radii(real, k);
    let r_fake = knn_radii(fake, k);
    let norm_r = row_norms(real);
    let norm_f = row_norms(fake);

    let mut fake_in = vec![false; nf];
    let mut fake_count = vec![0u64; nf];
    let mut recalled = 0u64;
    let mut covered = 0u64;
    let mut buf = Vec::new();
    for (bi, block) in real.data.chunks(BLOCK * d).enumerate() {
        let i0 = bi * BLOCK;
        let rows = block.len() / d;
        buf.clear();
        buf.resize(rows * nf, 0.0);
        gram(block, &fake.data, d, &mut buf);
        for (r, grow) in buf.chunks_exact(nf).enumerate() {
            let i = i0 + r;
            let (ri, ni) = (r_real[i], norm_r[i]);
            let mut min_d = f64::INFINITY;
            let mut is_recalled = false;
            for (j, &g) in grow.iter().enumerate() {
                let v = dist(g, ni, norm_f[j]);
                if v < ri {
                    fake_in[j] = true;
                    fake_count[j] += 1;
                }
                if v < r_fake[j] {
                    is_recalled = true;
                }
                min_d = min_d.min(v);
            }
            recalled += u64::from(is_recalled);
            covered += u64::from(min_d < ri);
        }
    }
    let precision = fake_in.iter().filter(|&&b| b).count() as f64 / nf as f64;
    let recall = recalled as f64 / nr as f64;
    let density = (1.0 / k as f64) * (fake_count.iter().sum::<u64>() as f64 / nf as f64);
    let coverage = covered as f64 / nr as f64;
    Ok(Prdc {
        precision,
        recall,
        density,
        coverage,
    })
}
