use super::*;
use crate::human::Payload;
use crate::ranking::rng::Rng;
use crate::store::SignalValue;

const POLICY: &str = "name = \"t\"\nscope = \"SCOPE\"\n[rank]\nrule = \"weighted_sum\"\nweights = { blur_laplacian_var = 1.0 }\n[bands]\naccept = 0.5\nreject = 0.2\n";

fn prepared(scope: &str) -> Prepared {
    plan::prepare(&POLICY.replace("SCOPE", scope)).unwrap()
}

fn row(id: i64, prompt: &str, blur: Option<f64>, status: Option<&str>) -> ImageRow {
    let mut r = ImageRow {
        id,
        path: format!("{prompt}/{id}.png"),
        positive: Some(prompt.into()),
        status: status.map(|s| s.parse().unwrap()),
        decision_source: status.map(|_| "human".into()),
        ..ImageRow::default()
    };
    if let Some(b) = blur {
        r.signals
            .insert("blur_laplacian_var".into(), SignalValue::Number(b));
    }
    r
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// `n` images with blur `i` (so the collection-scope score is the percentile `i / (n − 1)`),
/// decided by a human: accepted with probability σ(k (s − 0.6)) (k = ∞: a step at 0.6).
fn simulated(n: usize, k: f64, seed: u64) -> Vec<ImageRow> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|i| {
            let s = i as f64 / (n - 1) as f64;
            let p = if k.is_infinite() {
                if s >= 0.6 { 1.0 } else { 0.0 }
            } else {
                sigmoid(k * (s - 0.6))
            };
            let good = rng.next_f64() < p;
            row(
                i as i64,
                "p",
                Some(i as f64),
                Some(if good { "accepted" } else { "rejected" }),
            )
        })
        .collect()
}

#[test]
fn policy_calibration_finds_the_known_optimal_thresholds() {
    // (label slope k, cost FA:FR, target precision, want accept, want reject, tolerance)
    // Step labels at 0.6: every rule puts both cuts exactly at the first good score.
    // Logistic labels: the minimum-cost cut is where P(good | s) = c_FA / (c_FA + c_FR),
    // s = 0.6 + logit(c_FA / (c_FA + c_FR)) / k; precision targets move only the accept cut.
    let logit = |p: f64| (p / (1.0 - p)).ln();
    type Case = (f64, (f64, f64), Option<f64>, f64, f64, f64);
    let cases: Vec<Case> = vec![
        (f64::INFINITY, (1.0, 1.0), None, 0.6, 0.6, 0.002),
        (f64::INFINITY, (5.0, 1.0), None, 0.6, 0.6, 0.002),
        (f64::INFINITY, (1.0, 1.0), Some(1.0), 0.6, 0.6, 0.002),
        (20.0, (1.0, 1.0), None, 0.6, 0.6, 0.04),
        (
            20.0,
            (3.0, 1.0),
            None,
            0.6 + logit(0.75) / 20.0,
            0.6 + logit(0.75) / 20.0,
            0.04,
        ),
        (
            20.0,
            (1.0, 3.0),
            None,
            0.6 + logit(0.25) / 20.0,
            0.6 + logit(0.25) / 20.0,
            0.04,
        ),
    ];
    let p = prepared("collection");
    for (k, (fa, fr), target, want_accept, want_reject, tol) in cases {
        let rows = simulated(if k.is_infinite() { 201 } else { 4001 }, k, 3);
        let o = CalibrateOptions {
            cost_false_accept: fa,
            cost_false_reject: fr,
            target_precision: target,
            holdout: 0.0,
            ..CalibrateOptions::default()
        };
        let c = calibrate_policy(&p, &rows, &[], &o).unwrap();
        let what = format!("k {k}, {fa}:{fr}, {target:?}: {c:?}");
        assert!((c.accept - want_accept).abs() < tol, "accept: {what}");
        assert!((c.reject - want_reject).abs() < tol, "reject: {what}");
        assert!(c.reject <= c.accept);
        assert!(!c.held_out);
        assert_eq!(c.train_n, rows.len());
        if k.is_infinite() {
            // Separable labels: a clean split, no false accepts or rejects.
            assert_eq!(c.metrics.accept.precision, Some(1.0), "{what}");
            assert_eq!(c.metrics.reject.n_good, 0, "{what}");
        }
    }
    // A precision target opens a review band: accept moves up, reject stays at minimum cost.
    let rows = simulated(4001, 20.0, 5);
    let base = CalibrateOptions {
        holdout: 0.3,
        ..CalibrateOptions::default()
    };
    let plain = calibrate_policy(&p, &rows, &[], &base).unwrap();
    let strict = calibrate_policy(
        &p,
        &rows,
        &[],
        &CalibrateOptions {
            target_precision: Some(0.95),
            ..base.clone()
        },
    )
    .unwrap();
    assert!(
        strict.accept > plain.accept + 0.05,
        "{strict:?} vs {plain:?}"
    );
    assert!((strict.reject - plain.reject).abs() < 1e-12);
    assert!(strict.precision.unwrap().precision >= 0.95);
    assert!(strict.held_out && strict.eval_n > 1000 && strict.eval_n < 1400);
    // Held-out precision of the strict accept band is near its target, with an interval.
    let acc = strict.metrics.accept;
    let iv = acc.interval.unwrap();
    assert!(acc.precision.unwrap() > 0.88, "{acc:?}");
    assert!(iv.lo < acc.precision.unwrap() && acc.precision.unwrap() < iv.hi);
}

#[test]
fn policy_calibration_reports_unusable_labels() {
    let p = prepared("collection");
    let o = CalibrateOptions {
        holdout: 0.0,
        ..CalibrateOptions::default()
    };
    // (rows, expected error kind)
    let one_class: Vec<ImageRow> = (0..6)
        .map(|i| row(i, "p", Some(i as f64), Some("accepted")))
        .collect();
    let few: Vec<ImageRow> = (0..6)
        .map(|i| {
            row(
                i,
                "p",
                Some(i as f64),
                Some(if i == 5 { "accepted" } else { "rejected" }),
            )
        })
        .collect();
    let none: Vec<ImageRow> = (0..6).map(|i| row(i, "p", Some(i as f64), None)).collect();
    let got = |rows: &[ImageRow]| calibrate_policy(&p, rows, &[], &o).unwrap_err();
    assert!(matches!(
        got(&one_class),
        CalibrateError::OneClass {
            class: "good",
            n: 6
        }
    ));
    assert!(matches!(
        got(&few),
        CalibrateError::TooFew { good: 1, bad: 5 }
    ));
    assert!(matches!(got(&none), CalibrateError::NoLabels(_)));
    // Unreachable precision names the best one reachable.
    let mixed: Vec<ImageRow> = (0..8)
        .map(|i| {
            row(
                i,
                "p",
                Some(i as f64),
                Some(if i % 2 == 0 { "accepted" } else { "rejected" }),
            )
        })
        .collect();
    let e = calibrate_policy(
        &p,
        &mixed,
        &[],
        &CalibrateOptions {
            target_precision: Some(0.99),
            ..o.clone()
        },
    )
    .unwrap_err();
    assert!(
        matches!(e, CalibrateError::PrecisionUnreachable { .. }),
        "{e}"
    );
    // When accepting nothing is cheapest, the strictest valid bands (1, 1) are chosen and
    // can be written.
    let worse_on_top: Vec<ImageRow> = (0..6)
        .map(|i| {
            row(
                i,
                "p",
                Some(i as f64),
                Some(if i == 1 || i == 2 {
                    "accepted"
                } else {
                    "rejected"
                }),
            )
        })
        .collect();
    let c = calibrate_policy(
        &p,
        &worse_on_top,
        &[],
        &CalibrateOptions {
            cost_false_accept: 10.0,
            ..o.clone()
        },
    )
    .unwrap();
    assert!(c.cost.value.is_infinite(), "{c:?}");
    assert_eq!((c.accept, c.reject), (1.0, 1.0));
    assert!(c.accept_nothing_note().is_some(), "the user is warned");
    let text = plan::set_bands(&p.text, c.accept, c.reject);
    assert_eq!(plan::prepare(&text).unwrap().policy.bands.accept, 1.0);
    // Images lacking the signal are out of the score calibration but counted.
    let mut rows = simulated(41, f64::INFINITY, 1);
    rows.push(row(100, "p", None, Some("accepted")));
    let c = calibrate_policy(&p, &rows, &[], &o).unwrap();
    assert!(c.accept_nothing_note().is_none());
    assert_eq!(
        c.excluded,
        vec![Excluded {
            reason: "missing signal blur_laplacian_var".into(),
            good: 1,
            bad: 0
        }]
    );
}

fn pair(a: &str, b: &str, choice: &str) -> Event {
    Event {
        rater: "r".into(),
        protocol: crate::domain::Protocol::Pairwise,
        payload: Payload {
            criterion: "overall".into(),
            items: vec![a.into(), b.into()],
            hashes: vec![],
            order: vec![],
            choice: Some(choice.into()),
            rating: None,
            ratings: None,
            response_ms: None,
            attention_check: false,
        },
    }
}

#[test]
fn policy_calibration_from_pairwise_labels_alone() {
    // 20 undecided images; a rater always prefers the sharper one of random pairs. BT puts the
    // upper half above the mean strength, so the cut lands near the median score.
    let rows: Vec<ImageRow> = (0..20).map(|i| row(i, "p", Some(i as f64), None)).collect();
    let mut rng = Rng::new(9);
    let mut events = Vec::new();
    for _ in 0..400 {
        let (a, b) = (rng.below(20), rng.below(20));
        if a != b {
            let (pa, pb) = (&rows[a].path, &rows[b].path);
            events.push(pair(pa, pb, if a > b { pa } else { pb }));
        }
    }
    let o = CalibrateOptions {
        holdout: 0.0,
        ..CalibrateOptions::default()
    };
    let c = calibrate_policy(&prepared("collection"), &rows, &events, &o).unwrap();
    let (good, bad) = (c.labels.pairwise_good, c.labels.pairwise_bad);
    assert!(good + bad >= 19 && (8..=12).contains(&good), "{c:?}");
    assert!((c.accept - 10.0 / 19.0).abs() < 0.12, "{c:?}");
    assert_eq!(c.metrics.accept.precision, Some(1.0));
}

#[test]
fn best_of_n_matches_closed_forms_and_monte_carlo() {
    // Scores k/(m+1), k = 1..m: E[max of N drawn without replacement] = N/(N+1) exactly.
    let m = 50;
    let s: Vec<f64> = (1..=m).map(|k| f64::from(k) / f64::from(m + 1)).collect();
    let c = calibrate::best_of_n_curve(&s, 16);
    assert_eq!(c.len(), 16);
    for (i, v) in c.iter().enumerate() {
        let n = (i + 1) as f64;
        assert!((v - n / (n + 1.0)).abs() < 1e-12, "N = {n}: {v}");
    }
    // Diminishing returns: each extra draw adds less.
    assert!(c.windows(3).all(|w| w[2] - w[1] < w[1] - w[0]));
    // Monte Carlo: random qualities and a noisy selector (quality + noise), 40,000 draws per N.
    let mut rng = Rng::new(4);
    let q: Vec<f64> = (0..30).map(|_| rng.next_f64()).collect();
    let sel: Vec<f64> = q.iter().map(|x| x + 0.3 * rng.next_f64()).collect();
    let mut order: Vec<usize> = (0..q.len()).collect();
    order.sort_by(|a, b| sel[*a].total_cmp(&sel[*b]));
    let worst_first: Vec<f64> = order.iter().map(|i| q[*i]).collect();
    let exact_pick = calibrate::best_of_n_pick_curve(&worst_first, 8);
    let exact_oracle = calibrate::best_of_n_curve(&q, 8);
    for n in [1usize, 2, 4, 8] {
        let (mut pick, mut best) = (0.0, 0.0);
        let draws = 40_000;
        for _ in 0..draws {
            let mut idx: Vec<usize> = (0..q.len()).collect();
            for j in 0..n {
                let k = j + rng.below(q.len() - j);
                idx.swap(j, k);
            }
            let drawn = &idx[..n];
            let chosen = drawn
                .iter()
                .max_by(|a, b| sel[**a].total_cmp(&sel[**b]))
                .unwrap();
            pick += q[*chosen];
            best += drawn.iter().map(|i| q[*i]).fold(f64::MIN, f64::max);
        }
        let (pick, best) = (pick / f64::from(draws), best / f64::from(draws));
        assert!(
            (pick - exact_pick[n - 1]).abs() < 0.006,
            "N {n}: {pick} vs {}",
            exact_pick[n - 1]
        );
        assert!((best - exact_oracle[n - 1]).abs() < 0.006, "N {n}: {best}");
        assert!(exact_pick[n - 1] <= exact_oracle[n - 1] + 1e-12);
    }
}

#[test]
fn best_of_n_per_group_and_pooled() {
    // Two prompt groups (4 and 2 images) and an image failing to score (no signal).
    let mut rows: Vec<ImageRow> = (0..4).map(|i| row(i, "a", Some(i as f64), None)).collect();
    rows.extend((4..6).map(|i| row(i, "b", Some(i as f64), None)));
    rows.push(row(6, "b", None, None));
    let p = prepared("prompt");
    let plan = score_all(&p, &rows).unwrap();
    let b = best_of_n(&p, &plan, &rows, Some("blur_laplacian_var"), 16);
    assert_eq!(b.groups.len(), 2);
    let a = &b.groups[0];
    assert_eq!((a.key.as_str(), a.n_images, a.n_candidates), ("a", 4, 4));
    // The policy ranks by blur, so its pick is the oracle's: mean, then E[max] of {0,1,2,3}.
    assert_eq!(a.policy, a.oracle);
    assert!((a.policy[0] - 1.5).abs() < 1e-12 && (a.policy[3] - 3.0).abs() < 1e-12);
    assert_eq!((b.groups[1].n_images, b.groups[1].n_candidates), (3, 2));
    // Pooled: N = 1, 2 average both groups; N = 3, 4 only the first.
    assert_eq!(b.pooled.len(), 4);
    assert_eq!(b.pooled[1].2, 2);
    assert_eq!(b.pooled[2].2, 1);
    assert!((b.pooled[0].0 - (1.5 + 4.5) / 2.0).abs() < 1e-12);
}

#[test]
fn best_of_n_respects_a_lower_is_better_quality() {
    // The policy ranks by blur (higher first); noise equals blur, and lower noise is better, so
    // the policy's pick is the noisiest image and the oracle's the cleanest.
    let rows: Vec<ImageRow> = (0..4)
        .map(|i| {
            let mut r = row(i, "a", Some(i as f64), None);
            r.signals
                .insert("noise_sigma".into(), SignalValue::Number(i as f64));
            r
        })
        .collect();
    let p = prepared("prompt");
    let plan = score_all(&p, &rows).unwrap();
    let b = best_of_n(&p, &plan, &rows, Some("noise_sigma"), 4);
    let g = &b.groups[0];
    // N = 1: any image, mean 1.5. N = 4: all images, the policy takes noise 3, the oracle 0.
    assert!((g.policy[0] - 1.5).abs() < 1e-12 && (g.oracle[0] - 1.5).abs() < 1e-12);
    assert!((g.policy[3] - 3.0).abs() < 1e-12, "{:?}", g.policy);
    assert!(g.oracle[3].abs() < 1e-12, "{:?}", g.oracle);
    assert!(
        g.oracle.windows(2).all(|w| w[1] <= w[0]),
        "the oracle improves (falls) with N"
    );
    assert!(is_quality_key("noise_sigma") && is_quality_key("blur_laplacian_var"));
    assert!(!is_quality_key("luminance_mean"), "no better direction");
    assert!(!is_quality_key("ahash"), "not a number");
}

#[test]
fn selector_efficiency_on_a_constructed_case() {
    // Three prompt groups; the policy's top-1 is the sharpest image of each.
    // Group a: humans accepted the sharpest (hit). Group b: humans prefer the blurriest in
    // pairwise comparisons (miss). Group c: no evidence. Group d: a single image (not judged).
    let rows = vec![
        row(1, "a", Some(1.0), Some("rejected")),
        row(2, "a", Some(9.0), Some("accepted")),
        row(3, "a", Some(5.0), Some("rejected")),
        row(4, "b", Some(1.0), None),
        row(5, "b", Some(2.0), None),
        row(6, "b", Some(3.0), None),
        row(7, "b", Some(4.0), None),
        row(8, "c", Some(1.0), None),
        row(9, "c", Some(2.0), None),
        row(10, "d", Some(2.0), None),
    ];
    let path = |i: usize| rows[i].path.clone();
    let events = vec![
        pair(&path(3), &path(4), &path(3)),
        pair(&path(3), &path(5), &path(3)),
        pair(&path(3), &path(6), &path(3)),
        pair(&path(4), &path(5), &path(4)),
        pair(&path(5), &path(6), &path(5)),
    ];
    let p = prepared("prompt");
    let plan = score_all(&p, &rows).unwrap();
    let e = selector_efficiency(&p, &plan, &rows, &events, "overall");
    assert_eq!(e.groups.len(), 2, "{e:?}");
    assert_eq!(e.hits, 1);
    assert_eq!(e.rate, Some(0.5));
    assert_eq!(e.groups_without_evidence, 1);
    let by_key: HashMap<&str, &GroupPick> = e.groups.iter().map(|g| (g.key.as_str(), g)).collect();
    assert_eq!(
        (
            by_key["a"].policy_pick,
            by_key["a"].human_best,
            by_key["a"].evidence
        ),
        (Some(2), 2, BestEvidence::Decisions)
    );
    assert_eq!(
        (
            by_key["b"].policy_pick,
            by_key["b"].human_best,
            by_key["b"].hit
        ),
        (Some(7), 4, false)
    );
    // Chance: mean of 1/3 and 1/4.
    assert!((e.chance.unwrap() - (1.0 / 3.0 + 1.0 / 4.0) / 2.0).abs() < 1e-12);
    let iv = e.interval.unwrap();
    assert!(iv.lo < 0.5 && iv.hi > 0.5);
}
