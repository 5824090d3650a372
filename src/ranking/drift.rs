//! Drift tests between a baseline batch and a current batch of one scalar signal (pure, f64).
//!
//! - [`ks_2samp`]: two-sample Kolmogorov–Smirnov statistic `D = sup |F_a(x) − F_b(x)|` (both
//!   empirical CDFs right-continuous, evaluated at every pooled value, as SciPy's `ks_2samp`)
//!   and a two-sided asymptotic p-value in the convention of SciPy's `ks_2samp(method='asymp')`:
//!   `p = kstwo.sf(D, round(n_eff))` with `n_eff = m·n / (m + n)`. `kstwo.sf(d, n)` follows
//!   SciPy's branches (Simard & L'Ecuyer 2011): Ruben–Gambino for `n·d ≤ 1` and `n·d ≥ n − 1`;
//!   in the tail (`d ≥ 0.5`, or `n·d² ≥ 4` for `n ≤ 140`, `≥ 2.2` above) `2 × smirnov(n, d)`
//!   (exact one-sided Birnbaum–Tingey sum, Miller's approximation); elsewhere the exact Durbin
//!   matrix (Marsaglia–Tsang–Wang), where SciPy uses Durbin / Pomeranz / Pelz–Good, all exact
//!   or nearly so. Only when `n·d ≥ 100` outside the tail (so `n > 4500`) does the Kolmogorov
//!   limit with Stephens' correction, `Q_KS((√n + 0.12 + 0.11/√n)·d)`, stand in (within 1e-3;
//!   5e-4 at n = 10 000, d = 0.01, p ≈ 0.27).
//! - [`psi`]: Population Stability Index `Σ (q_i − p_i)·ln(q_i / p_i)` with `p` the baseline's
//!   and `q` the current batch's share per bin. Bins: the baseline's quantiles at `i/bins`
//!   (`i = 1..bins−1`, NumPy's default linear interpolation) as inner edges, duplicate edges
//!   dropped, outer bins open (`(−∞, e_1)`, `[e_1, e_2)`, …, `[e_last, ∞)`; a value lands in
//!   `searchsorted(edges, x, side='right')`). Empty bins: shares are floored at
//!   [`PSI_EPSILON`] = 1e-4 before the logarithm. Usual reading: < 0.1 stable, 0.1–0.25
//!   moderate shift, ≥ 0.25 significant shift.

use super::quantile::percentile_sorted;

/// Floor for a bin's share in [`psi`] (empty bins would otherwise give ±∞).
pub const PSI_EPSILON: f64 = 1e-4;
/// PSI below this: stable.
pub const PSI_MODERATE: f64 = 0.1;
/// PSI at or above this: significant shift.
pub const PSI_SIGNIFICANT: f64 = 0.25;

/// Result of a two-sample Kolmogorov–Smirnov test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KsResult {
    pub statistic: f64,
    pub p_value: f64,
    /// `m·n / (m + n)`, before rounding.
    pub n_eff: f64,
}

/// Two-sample KS test (two-sided, asymptotic). `None` when either sample has no finite value.
/// Non-finite values are dropped.
pub fn ks_2samp(a: &[f64], b: &[f64]) -> Option<KsResult> {
    let mut a: Vec<f64> = a.iter().copied().filter(|x| x.is_finite()).collect();
    let mut b: Vec<f64> = b.iter().copied().filter(|x| x.is_finite()).collect();
    if a.is_empty() || b.is_empty() {
        return None;
    }
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let mut d: f64 = 0.0;
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / na - j as f64 / nb).abs());
    }
    // Once one sample is exhausted its CDF is 1 and the other's only grows towards 1: the
    // difference only shrinks, so the loop above has seen the maximum.
    let n_eff = na * nb / (na + nb);
    let n = n_eff.round().max(1.0);
    Some(KsResult {
        statistic: d,
        p_value: kstwo_sf(d, n as u64),
        n_eff,
    })
}

/// Survival function of the two-sided one-sample KS statistic for `n` observations (see the
/// module docs for which parts are exact).
pub fn kstwo_sf(d: f64, n: u64) -> f64 {
    let nf = n as f64;
    if d.is_nan() {
        return f64::NAN;
    }
    if d >= 1.0 {
        return 0.0;
    }
    let t = nf * d;
    if t <= 0.5 {
        return 1.0;
    }
    if t <= 1.0 {
        // Ruben–Gambino, exact: CDF = n!/n^n · (2t − 1)^n.
        let mut log_cdf = 0.0;
        for k in 1..=n {
            log_cdf += (k as f64 / nf).ln();
        }
        log_cdf += nf * (2.0 * t - 1.0).ln();
        return (1.0 - log_cdf.exp()).clamp(0.0, 1.0);
    }
    if t >= nf - 1.0 {
        return (2.0 * (1.0 - d).powf(nf)).clamp(0.0, 1.0);
    }
    let nd2 = t * d;
    let tail = if n <= 140 { 4.0 } else { 2.2 };
    if d >= 0.5 || nd2 >= tail {
        if nd2 >= 370.0 {
            return 0.0;
        }
        return (2.0 * smirnov(n, d)).clamp(0.0, 1.0);
    }
    if t < DURBIN_MAX_ND {
        return (1.0 - durbin_cdf(n, d)).clamp(0.0, 1.0);
    }
    let sn = nf.sqrt();
    kolmogorov_sf((sn + 0.12 + 0.11 / sn) * d)
}

/// Above this `n·d` the Durbin matrix (order `2⌊n·d⌋ + 1`) is too large; the Stephens-corrected
/// limit is used (there `n > 4500`; within 1e-3).
const DURBIN_MAX_ND: f64 = 100.0;

/// Exact CDF of the two-sided one-sample KS statistic, `P(D_n < d)`, by Durbin's matrix
/// (Marsaglia, Tsang & Wang 2003, as SciPy's `_kolmogn_DMTW`), powers scaled to stay finite.
pub fn durbin_cdf(n: u64, d: f64) -> f64 {
    let nf = n as f64;
    let k = (nf * d).floor() as usize + 1;
    let m = 2 * k - 1;
    let h = k as f64 - nf * d;
    let mut hm = vec![0.0f64; m * m];
    for i in 0..m {
        for j in 0..m {
            if i + 1 >= j {
                hm[i * m + j] = 1.0;
            }
        }
    }
    for i in 0..m {
        hm[i * m] -= h.powi(i as i32 + 1);
        hm[(m - 1) * m + i] -= h.powi((m - i) as i32);
    }
    if 2.0 * h - 1.0 > 0.0 {
        hm[(m - 1) * m] += (2.0 * h - 1.0).powi(m as i32);
    }
    for i in 0..m {
        for j in 0..m {
            if i + 1 > j {
                for g in 1..=(i + 1 - j) {
                    hm[i * m + j] /= g as f64;
                }
            }
        }
    }
    // Q = H^n by squaring, with a base-10 exponent kept aside.
    let mul = |a: &[f64], b: &[f64]| {
        let mut c = vec![0.0f64; m * m];
        for i in 0..m {
            for l in 0..m {
                let x = a[i * m + l];
                if x == 0.0 {
                    continue;
                }
                for j in 0..m {
                    c[i * m + j] += x * b[l * m + j];
                }
            }
        }
        c
    };
    let centre = (m / 2) * m + m / 2;
    let rescale = |v: &mut Vec<f64>, e: &mut i32| {
        if v[centre].abs() > 1e140 {
            for x in v.iter_mut() {
                *x *= 1e-140;
            }
            *e += 140;
        }
    };
    let (mut result, mut e_result): (Option<Vec<f64>>, i32) = (None, 0);
    let (mut base, mut e_base) = (hm, 0i32);
    let mut p = n;
    while p > 0 {
        if p & 1 == 1 {
            result = Some(match result {
                None => {
                    e_result = e_base;
                    base.clone()
                }
                Some(r) => {
                    let mut r = mul(&r, &base);
                    e_result += e_base;
                    rescale(&mut r, &mut e_result);
                    r
                }
            });
        }
        p >>= 1;
        if p > 0 {
            base = mul(&base, &base);
            e_base *= 2;
            rescale(&mut base, &mut e_base);
        }
    }
    let q = result.unwrap_or_default();
    let mut s = q[(k - 1) * m + (k - 1)];
    let mut e = e_result;
    for i in 1..=n {
        s = s * i as f64 / nf;
        if s < 1e-140 {
            s *= 1e140;
            e -= 140;
        }
    }
    (s * 10f64.powi(e)).clamp(0.0, 1.0)
}

/// Exact one-sided KS survival `P(D_n^+ ≥ d)` (Birnbaum–Tingey):
/// `d · Σ_{j=0}^{⌊n(1−d)⌋} C(n, j) (1 − d − j/n)^{n−j} (d + j/n)^{j−1}`, summed in logs.
pub fn smirnov(n: u64, d: f64) -> f64 {
    if d <= 0.0 {
        return 1.0;
    }
    if d >= 1.0 {
        return 0.0;
    }
    let nf = n as f64;
    let jmax = (nf * (1.0 - d)).floor() as u64;
    let mut log_c = 0.0; // ln C(n, j)
    let mut sum = 0.0;
    for j in 0..=jmax.min(n) {
        if j > 0 {
            log_c += ((n - j + 1) as f64).ln() - (j as f64).ln();
        }
        let jf = j as f64;
        let base = 1.0 - d - jf / nf;
        let expo = nf - jf;
        if base <= 0.0 {
            if expo == 0.0 {
                sum += (log_c + (jf - 1.0) * (d + jf / nf).ln()).exp();
            }
            continue;
        }
        sum += (log_c + expo * base.ln() + (jf - 1.0) * (d + jf / nf).ln()).exp();
    }
    (d * sum).clamp(0.0, 1.0)
}

/// Survival function of the Kolmogorov distribution (SciPy's `kstwobign.sf`).
pub fn kolmogorov_sf(z: f64) -> f64 {
    if z.is_nan() {
        return f64::NAN;
    }
    if z <= 0.0 {
        return 1.0;
    }
    if z < 1.18 {
        // CDF = √(2π)/z Σ_{k≥1} exp(−(2k−1)²π²/(8z²)).
        let w = std::f64::consts::PI.powi(2) / (8.0 * z * z);
        let mut s = 0.0;
        for k in 1..=20 {
            let m = f64::from(2 * k - 1);
            s += (-m * m * w).exp();
        }
        (1.0 - (2.0 * std::f64::consts::PI).sqrt() / z * s).clamp(0.0, 1.0)
    } else {
        // SF = 2 Σ_{k≥1} (−1)^{k−1} exp(−2k²z²).
        let mut s = 0.0;
        for k in 1..=100 {
            let kf = f64::from(k);
            let term = (-2.0 * kf * kf * z * z).exp();
            s += if k % 2 == 1 { term } else { -term };
            if term < 1e-300 {
                break;
            }
        }
        (2.0 * s).clamp(0.0, 1.0)
    }
}

/// Result of [`psi`].
#[derive(Debug, Clone, PartialEq)]
pub struct PsiResult {
    pub value: f64,
    /// Inner bin edges (from the baseline's quantiles, duplicates dropped).
    pub edges: Vec<f64>,
    pub baseline_share: Vec<f64>,
    pub current_share: Vec<f64>,
}

/// Population Stability Index of `current` against `baseline` with `bins` quantile bins (see
/// the module docs). `None` when either sample has no finite value or `bins < 2`.
pub fn psi(baseline: &[f64], current: &[f64], bins: usize) -> Option<PsiResult> {
    let mut base: Vec<f64> = baseline.iter().copied().filter(|x| x.is_finite()).collect();
    let cur: Vec<f64> = current.iter().copied().filter(|x| x.is_finite()).collect();
    if base.is_empty() || cur.is_empty() || bins < 2 {
        return None;
    }
    base.sort_by(f64::total_cmp);
    let mut edges: Vec<f64> = (1..bins)
        .map(|i| percentile_sorted(&base, i as f64 / bins as f64).unwrap_or(f64::NAN))
        .collect();
    edges.dedup();
    let share = |xs: &[f64]| {
        let mut counts = vec![0usize; edges.len() + 1];
        for &x in xs {
            counts[edges.partition_point(|&e| e <= x)] += 1;
        }
        counts
            .into_iter()
            .map(|c| c as f64 / xs.len() as f64)
            .collect::<Vec<f64>>()
    };
    let p = share(&base);
    let q = share(&cur);
    let value = p
        .iter()
        .zip(&q)
        .map(|(&pi, &qi)| {
            let (pi, qi) = (pi.max(PSI_EPSILON), qi.max(PSI_EPSILON));
            (qi - pi) * (qi / pi).ln()
        })
        .sum();
    Some(PsiResult {
        value,
        edges,
        baseline_share: p,
        current_share: q,
    })
}

/// Mean and a 95 % interval (normal approximation, `mean ± 1.96·s/√n`, `s` with `n − 1`).
/// `None` for an empty sample; the interval collapses to the mean for `n = 1`.
pub fn mean_ci95(xs: &[f64]) -> Option<(f64, f64, f64)> {
    let v: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    if v.len() < 2 {
        return Some((mean, mean, mean));
    }
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let h = 1.96 * (var / n).sqrt();
    Some((mean, mean - h, mean + h))
}

#[cfg(test)]
#[path = "drift_tests.rs"]
mod tests;
