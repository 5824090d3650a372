//! Tests for [`super`] (distribution metrics) against `tests/data/distribution_refs.json`,
//! written by `scripts/gen_distribution_refs.py` (numpy / scipy / scikit-learn / prdc peers).

use std::collections::HashMap;

use serde::Deserialize;

use super::*;

#[derive(Deserialize)]
struct RawFeatures {
    n: usize,
    d: usize,
    /// Values × 1e6 as integers (exact: the value is `int / 1e6`, as in the generator).
    data_e6: Vec<i64>,
}

#[derive(Deserialize)]
struct FdRef {
    a: String,
    b: String,
    full_rank: bool,
    sqrtm: f64,
    eigvals: f64,
}

#[derive(Deserialize)]
struct KidRef {
    a: String,
    b: String,
    subsets: Vec<(Vec<usize>, Vec<usize>)>,
    per_subset: Vec<f64>,
    mean: f64,
    std: f64,
}

#[derive(Deserialize)]
struct PrdcRef {
    real: String,
    fake: String,
    k: usize,
    precision: f64,
    recall: f64,
    density: f64,
    coverage: f64,
    precision_count: u64,
    recall_count: u64,
    density_count: u64,
    coverage_count: u64,
}

#[derive(Deserialize)]
struct IsRef {
    logits: String,
    splits: usize,
    mean: f64,
    std: f64,
    shuffled_mean: f64,
    shuffled_std: f64,
    permutation_2020: Vec<usize>,
}

#[derive(Deserialize)]
struct Refs {
    features: HashMap<String, RawFeatures>,
    fd: Vec<FdRef>,
    kid: Vec<KidRef>,
    prdc: Vec<PrdcRef>,
    inception_score: Vec<IsRef>,
}

fn refs() -> (Refs, HashMap<String, Features>) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/distribution_refs.json"
    );
    let text = std::fs::read_to_string(path).expect("read distribution_refs.json");
    let refs: Refs = serde_json::from_str(&text).expect("parse distribution_refs.json");
    let feats = refs
        .features
        .iter()
        .map(|(k, f)| {
            let data = f.data_e6.iter().map(|&v| v as f64 / 1e6).collect();
            (
                k.clone(),
                Features::new(f.n, f.d, data).expect("valid features"),
            )
        })
        .collect();
    (refs, feats)
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

#[test]
fn fd_matches_sqrtm_and_eigvals_peers() {
    let (refs, f) = refs();
    let mut worst_full: f64 = 0.0;
    let mut worst_def: f64 = 0.0;
    for r in &refs.fd {
        let res = frechet_distance(&f[&r.a], &f[&r.b]).unwrap();
        if r.a == r.b {
            // identical sets: the peers give ~-1e-13; we must be as close to 0
            assert!(res.value.abs() < 1e-9, "{}: {}", r.a, res.value);
            continue;
        }
        let tol = if r.full_rank { 1e-9 } else { 1e-6 };
        for (name, want) in [("sqrtm", r.sqrtm), ("eigvals", r.eigvals)] {
            let e = rel(res.value, want);
            assert!(
                e < tol,
                "{} vs {} ({name}): {} vs {want} (rel {e:e})",
                r.a,
                r.b,
                res.value
            );
            if r.full_rank {
                worst_full = worst_full.max(e);
            } else {
                worst_def = worst_def.max(e);
            }
        }
        assert_eq!(res.warnings.is_empty(), r.full_rank, "{:?}", res.warnings);
        assert_eq!((res.n_a, res.n_b, res.d), (f[&r.a].n, f[&r.b].n, f[&r.a].d));
    }
    eprintln!("FD max rel error: full rank {worst_full:e}, rank-deficient {worst_def:e}");
}

#[test]
fn kid_per_subset_matches_torch_fidelity() {
    let (refs, f) = refs();
    let mut worst: f64 = 0.0;
    for r in &refs.kid {
        let res = kid(&f[&r.a], &f[&r.b], &r.subsets).unwrap();
        for (got, want) in res.per_subset.iter().zip(&r.per_subset) {
            worst = worst.max((got - want).abs());
            assert!(
                (got - want).abs() < 1e-10,
                "{} vs {}: {got} vs {want}",
                r.a,
                r.b
            );
        }
        assert!((res.mean - r.mean).abs() < 1e-10);
        assert!((res.std - r.std).abs() < 1e-10);
    }
    eprintln!("KID max abs error per subset: {worst:e}");
}

#[test]
fn prdc_matches_prdc_0_2_exactly() {
    let (refs, f) = refs();
    for r in &refs.prdc {
        let got = prdc(&f[&r.real], &f[&r.fake], r.k).unwrap();
        let (nr, nf, k) = (f[&r.real].n as f64, f[&r.fake].n as f64, r.k as f64);
        // Same counts, turned into fractions exactly as prdc/numpy do it.
        let want = Prdc {
            precision: r.precision_count as f64 / nf,
            recall: r.recall_count as f64 / nr,
            density: (1.0 / k) * (r.density_count as f64 / nf),
            coverage: r.coverage_count as f64 / nr,
        };
        assert_eq!(got, want, "{} vs {} k={}", r.real, r.fake, r.k);
        // The JSON decimals (parsed by serde_json's fast, not correctly rounded, parser) agree
        // to an ulp or two.
        for (g, w) in [
            (got.precision, r.precision),
            (got.recall, r.recall),
            (got.density, r.density),
            (got.coverage, r.coverage),
        ] {
            assert!((g - w).abs() <= 1e-15 * w.abs().max(1.0), "{g} vs {w}");
        }
    }
}

#[test]
fn inception_score_matches_torch_fidelity() {
    let (refs, f) = refs();
    let mut worst: f64 = 0.0;
    for r in &refs.inception_score {
        let logits = &f[&r.logits];
        let (mean, std) = inception_score(logits, r.splits).unwrap();
        worst = worst.max(rel(mean, r.mean)).max((std - r.std).abs());
        assert!(
            rel(mean, r.mean) < 1e-10,
            "{}: {mean} vs {}",
            r.logits,
            r.mean
        );
        assert!(
            (std - r.std).abs() < 1e-10,
            "{}: {std} vs {}",
            r.logits,
            r.std
        );
        // torch-fidelity's default shuffles with RandomState(2020).permutation first.
        let mut data = Vec::with_capacity(logits.data.len());
        for &i in &r.permutation_2020 {
            data.extend_from_slice(logits.row(i).unwrap());
        }
        let shuffled = Features::new(logits.n, logits.d, data).unwrap();
        let (smean, sstd) = inception_score(&shuffled, r.splits).unwrap();
        assert!(rel(smean, r.shuffled_mean) < 1e-10 && (sstd - r.shuffled_std).abs() < 1e-10);
    }
    eprintln!("IS max error: {worst:e}");
}

/// Deterministic pseudo-normal features (sum of uniforms) for the property tests.
fn synth(n: usize, d: usize, seed: u64, shift: f64) -> Features {
    let mut rng = SplitMix64(seed);
    let mut u = || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let data = (0..n * d)
        .map(|_| (0..4).map(|_| u()).sum::<f64>() - 2.0 + shift)
        .collect();
    Features::new(n, d, data).unwrap()
}

#[test]
fn fd_properties() {
    let a = synth(300, 24, 1, 0.0);
    let same = frechet_distance(&a, &a).unwrap();
    assert!(same.value.abs() < 1e-10, "FD(a, a) = {}", same.value);
    let mut prev = same.value;
    for s in [0.1, 0.3, 1.0] {
        let b = synth(300, 24, 1, s);
        let fd = frechet_distance(&a, &b).unwrap();
        // identical covariances: FD = ‖shift‖² = d·s²
        assert!((fd.value - 24.0 * s * s).abs() < 1e-9, "{s}: {}", fd.value);
        assert!(fd.value > prev);
        prev = fd.value;
    }
    let small = synth(10, 24, 2, 0.0);
    let fd = frechet_distance(&small, &a).unwrap();
    assert_eq!(fd.warnings.len(), 1);
    assert!(
        fd.warnings[0].contains("N (=10) < d (=24)"),
        "{:?}",
        fd.warnings
    );
}

#[test]
fn fd_errors() {
    let a = synth(5, 3, 1, 0.0);
    let one = synth(1, 3, 1, 0.0);
    let other_d = synth(5, 4, 1, 0.0);
    assert!(matches!(
        frechet_distance(&one, &a),
        Err(MetricError::TooFewSamples { n: 1, min: 2, .. })
    ));
    assert!(matches!(
        frechet_distance(&a, &other_d),
        Err(MetricError::DimensionMismatch { .. })
    ));
    let broken = Features {
        n: 5,
        d: 3,
        data: vec![0.0; 14],
    };
    assert!(matches!(
        frechet_distance(&broken, &a),
        Err(MetricError::ShapeMismatch { .. })
    ));
    assert!(Features::new(1, 2, vec![0.0, f64::NAN]).is_err());
    assert!(Features::new(1, 0, vec![]).is_err());
    assert!(Features::from_rows(&[vec![1.0, 2.0], vec![3.0]]).is_err());
}

#[test]
fn kid_subsets_and_errors() {
    let subs = kid_subsets(30, 20, 10, 4, 2020).unwrap();
    assert_eq!(subs.len(), 4);
    for (ia, ib) in &subs {
        let mut sa = ia.clone();
        sa.sort_unstable();
        sa.dedup();
        assert_eq!(sa.len(), 10);
        assert!(ia.iter().all(|&i| i < 30) && ib.iter().all(|&i| i < 20));
    }
    assert_eq!(subs, kid_subsets(30, 20, 10, 4, 2020).unwrap());
    assert_ne!(subs, kid_subsets(30, 20, 10, 4, 2021).unwrap());
    assert!(matches!(
        kid_subsets(30, 9, 10, 4, 0),
        Err(MetricError::TooFewSamples { n: 9, min: 10, .. })
    ));
    assert!(kid_subsets(30, 20, 1, 4, 0).is_err());

    let a = synth(40, 8, 3, 0.0);
    let b = synth(40, 8, 4, 0.5);
    let subs = kid_subsets(40, 40, 20, 5, 1).unwrap();
    let res = kid(&a, &b, &subs).unwrap();
    let near = kid(&a, &synth(40, 8, 5, 0.0), &subs).unwrap();
    assert!(res.mean > near.mean && res.per_subset.len() == 5);
    assert!(kid(&a, &b, &[]).is_err());
    assert!(kid(&a, &b, &[(vec![0, 1], vec![0])]).is_err());
    assert!(kid(&a, &b, &[(vec![0, 40], vec![0, 1])]).is_err());
}

#[test]
fn prdc_properties() {
    let a = synth(120, 6, 7, 0.0);
    for k in [1, 3, 5] {
        let p = prdc(&a, &a, k).unwrap();
        assert_eq!(
            (p.precision, p.recall, p.coverage),
            (1.0, 1.0, 1.0),
            "k={k}"
        );
        // Ball i (radius = k-th neighbour distance, strict `<`) holds itself and its k − 1
        // nearer neighbours: Σ_j #{i : D_ij < r_i} = n·k, so density = 1 for distinct distances.
        assert!((p.density - 1.0).abs() < 1e-12, "k={k}: {}", p.density);
    }
    // a far-away fake set: nothing matches
    let far = synth(80, 6, 8, 50.0);
    let p = prdc(&a, &far, 3).unwrap();
    assert_eq!(
        p,
        Prdc {
            precision: 0.0,
            recall: 0.0,
            density: 0.0,
            coverage: 0.0
        }
    );
    // mode collapse: 20 fakes jittered around one real sample → full precision, low coverage
    let row0 = a.row(0).unwrap();
    let few_data = (0..20)
        .flat_map(|i| row0.iter().map(move |&v| v + f64::from(i) * 1e-9))
        .collect();
    let few = Features::new(20, 6, few_data).unwrap();
    let p = prdc(&a, &few, 3).unwrap();
    assert_eq!(p.precision, 1.0);
    assert!(p.coverage > 0.0 && p.coverage < 0.1, "{p:?}");
    let spread = prdc(&a, &synth(120, 6, 9, 0.0), 3).unwrap();
    assert!(spread.coverage > 3.0 * p.coverage, "{spread:?} vs {p:?}");
    assert!(matches!(
        prdc(&a, &a, 0),
        Err(MetricError::InvalidParameter(_))
    ));
    assert!(matches!(
        prdc(&few, &a, 20),
        Err(MetricError::TooFewSamples { .. })
    ));
}

#[test]
fn inception_score_properties() {
    // one-hot-like confident, uniform over classes: IS → number of classes
    let c = 5;
    let mut data = Vec::new();
    for i in 0..50 {
        for j in 0..c {
            data.push(if i % c == j { 40.0 } else { 0.0 });
        }
    }
    let logits = Features::new(50, c, data).unwrap();
    let (mean, std) = inception_score(&logits, 10).unwrap();
    assert!((mean - c as f64).abs() < 1e-9 && std < 1e-9, "{mean} {std}");
    let flat = Features::new(20, 3, vec![1.0; 60]).unwrap();
    let (mean, std) = inception_score(&flat, 2).unwrap();
    assert!((mean - 1.0).abs() < 1e-12 && std < 1e-12);
    assert!(inception_score(&flat, 0).is_err());
    assert!(inception_score(&flat, 21).is_err());
}
