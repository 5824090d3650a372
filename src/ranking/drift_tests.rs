//! Tests for [`super`] (drift): hand-checked values and `tests/data/drift_refs.json`, written by
//! `scripts/gen_drift_refs.py` (SciPy 1.17.1 `ks_2samp(method='asymp')`, `kstwo.sf`,
//! `kstwobign.sf`; PSI in NumPy with the stated convention).

use super::*;

#[test]
fn ks_statistic_by_hand() {
    // F_a steps at 1,2,3 (1/3 each); F_b at 2.5, 3.5. At x = 2: F_a = 2/3, F_b = 0 → D = 2/3.
    let r = ks_2samp(&[1.0, 2.0, 3.0], &[2.5, 3.5]).unwrap();
    assert!((r.statistic - 2.0 / 3.0).abs() < 1e-15);
    assert!((r.n_eff - 6.0 / 5.0).abs() < 1e-15);
    // Identical samples: D = 0, p = 1; disjoint samples: D = 1.
    let same = ks_2samp(&[1.0, 2.0, 2.0, 5.0], &[5.0, 2.0, 1.0, 2.0]).unwrap();
    assert_eq!(same.statistic, 0.0);
    assert_eq!(same.p_value, 1.0);
    let disjoint = ks_2samp(&[1.0, 2.0], &[3.0, 4.0, 5.0]).unwrap();
    assert_eq!(disjoint.statistic, 1.0);
    assert_eq!(disjoint.p_value, 0.0);
    // Ties across samples are evaluated after both steps (right-continuous CDFs).
    let tied = ks_2samp(&[1.0, 1.0], &[1.0, 2.0]).unwrap();
    assert!((tied.statistic - 0.5).abs() < 1e-15);
    assert!(ks_2samp(&[], &[1.0]).is_none());
    assert!(ks_2samp(&[f64::NAN], &[1.0]).is_none());
}

#[test]
fn kolmogorov_sf_by_hand() {
    // Q(z) = 2 Σ (−1)^{k−1} e^{−2k²z²}; at z = 1.36 the first two terms give 0.04960 (the
    // textbook 5 % critical value is 1.3581).
    let z: f64 = 1.36;
    let two_terms = 2.0 * ((-2.0 * z * z).exp() - (-8.0 * z * z).exp());
    assert!((kolmogorov_sf(z) - two_terms).abs() < 1e-9);
    assert!((kolmogorov_sf(1.358_098_8) - 0.05).abs() < 1e-6);
    // Both series agree where they switch.
    let below = 1.0
        - (2.0 * std::f64::consts::PI).sqrt() / 1.18
            * (1..=20)
                .map(|k| {
                    let m = f64::from(2 * k - 1);
                    (-m * m * std::f64::consts::PI.powi(2) / (8.0 * 1.18 * 1.18)).exp()
                })
                .sum::<f64>();
    assert!((kolmogorov_sf(1.18) - below).abs() < 1e-12);
}

#[test]
fn smirnov_by_hand() {
    // n = 1: P(D⁺ ≥ d) = 1 − d.
    assert!((smirnov(1, 0.3) - 0.7).abs() < 1e-15);
    // n = 2, d = 0.6: only j = 0 → 0.6 · 0.4² / 0.6 = 0.16.
    assert!((smirnov(2, 0.6) - 0.16).abs() < 1e-15);
}

#[test]
fn psi_by_hand() {
    // Baseline 0..9: quartile edges 2.25, 4.5, 6.75 → shares 3/10, 2/10, 2/10, 3/10.
    let base: Vec<f64> = (0..10).map(f64::from).collect();
    let r = psi(&base, &base, 4).unwrap();
    assert_eq!(r.edges, vec![2.25, 4.5, 6.75]);
    assert_eq!(r.baseline_share, vec![0.3, 0.2, 0.2, 0.3]);
    assert_eq!(r.value, 0.0);
    // Current all in the last bin: p = (.3,.2,.2,.3), q = (ε, ε, ε, 1).
    let cur = [9.0, 8.0, 100.0];
    let r = psi(&base, &cur, 4).unwrap();
    let e = PSI_EPSILON;
    let want = (e - 0.3) * (e / 0.3).ln()
        + 2.0 * (e - 0.2) * (e / 0.2).ln()
        + (1.0 - 0.3) * (1.0f64 / 0.3).ln();
    assert!((r.value - want).abs() < 1e-12, "{} vs {want}", r.value);
    assert!(r.value > PSI_SIGNIFICANT);
    // A constant baseline collapses the edges to one: two bins.
    let r = psi(&[1.0; 5], &[0.0, 1.0, 2.0], 10).unwrap();
    assert_eq!(r.edges, vec![1.0]);
    assert!(psi(&base, &[], 10).is_none());
    assert!(psi(&base, &base, 1).is_none());
}

#[test]
fn mean_ci_by_hand() {
    let (m, lo, hi) = mean_ci95(&[1.0, 2.0, 3.0, 4.0]).unwrap();
    let h = 1.96 * (5.0f64 / 3.0 / 4.0).sqrt();
    assert_eq!(m, 2.5);
    assert!((lo - (2.5 - h)).abs() < 1e-12 && (hi - (2.5 + h)).abs() < 1e-12);
    assert_eq!(mean_ci95(&[7.0]), Some((7.0, 7.0, 7.0)));
    assert!(mean_ci95(&[]).is_none());
}

fn refs() -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/drift_refs.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("read drift_refs.json"))
        .expect("parse drift_refs.json")
}

fn vec_of(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn ks_and_psi_match_scipy_refs() {
    let r = refs();
    for (i, c) in r["cases"].as_array().unwrap().iter().enumerate() {
        let a = vec_of(&c["a"]);
        let b = vec_of(&c["b"]);
        let ks = ks_2samp(&a, &b).unwrap();
        let d = c["ks_statistic"].as_f64().unwrap();
        let p = c["ks_pvalue"].as_f64().unwrap();
        assert!(
            (ks.statistic - d).abs() < 1e-12,
            "case {i}: D {} vs {d}",
            ks.statistic
        );
        // Tail: both use 2·smirnov; elsewhere SciPy's Pelz–Good series (n > 140) is within
        // ~1e-5 of the exact Durbin value computed here.
        let n = ks.n_eff.round();
        let tol = if n * d * d >= 2.2 {
            1e-9 + 1e-7 * p
        } else {
            1e-5
        };
        assert!(
            (ks.p_value - p).abs() <= tol,
            "case {i}: p {} vs {p}",
            ks.p_value
        );
        for (bins, key) in [(10, "psi10"), (5, "psi5")] {
            let want = c[key].as_f64().unwrap();
            let got = psi(&a, &b, bins).unwrap().value;
            assert!(
                (got - want).abs() < 1e-12,
                "case {i}: {key} {got} vs {want}"
            );
        }
    }
}

#[test]
fn kstwo_sf_matches_scipy_refs() {
    let r = refs();
    for c in r["kstwo"].as_array().unwrap() {
        let n = c["n"].as_u64().unwrap();
        let d = c["d"].as_f64().unwrap();
        let want = c["sf"].as_f64().unwrap();
        let got = kstwo_sf(d, n);
        // Stephens-corrected limit only outside the tail with n·d ≥ 100; SciPy's Pelz–Good
        // (n > 140, outside the tail) is itself within ~1e-5 of the exact value.
        let nf = n as f64;
        let tail = d >= 0.5 || nf * d * d >= if n <= 140 { 4.0 } else { 2.2 } || nf * d <= 1.0;
        let tol = if tail || n <= 140 {
            1e-9 + 1e-7 * want
        } else if nf * d >= 100.0 {
            1e-3
        } else {
            1e-5
        };
        assert!(
            (got - want).abs() <= tol,
            "kstwo.sf({d}, {n}): {got} vs {want}"
        );
    }
    for c in r["kstwobign"].as_array().unwrap() {
        let z = c["z"].as_f64().unwrap();
        let want = c["sf"].as_f64().unwrap();
        assert!((kolmogorov_sf(z) - want).abs() < 1e-12, "kstwobign.sf({z})");
    }
}
