use super::*;
use crate::ranking::correlation::spearman;
use serde_json::Value;

fn load_refs() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/ranking_refs.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn comps(case: &Value) -> Vec<Comparison> {
    let col = |k: &str| -> Vec<usize> { serde_json::from_value(case[k].clone()).unwrap() };
    let (a, b, o) = (col("a"), col("b"), col("outcome"));
    (0..a.len())
        .map(|i| Comparison {
            a: a[i],
            b: b[i],
            outcome: [Outcome::AWins, Outcome::BWins, Outcome::Tie][o[i]],
        })
        .collect()
}

fn floats(v: &Value) -> Vec<f64> {
    serde_json::from_value(v.clone()).unwrap()
}

fn max_abs_diff(x: &[f64], y: &[f64]) -> f64 {
    assert_eq!(x.len(), y.len());
    x.iter()
        .zip(y)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
}

fn c(a: usize, b: usize, outcome: Outcome) -> Comparison {
    Comparison { a, b, outcome }
}

#[test]
fn fits_match_choix_and_fastchat() {
    let refs = load_refs();
    let (mut worst_choix, mut worst_fc): (f64, f64) = (0.0, 0.0);
    for case in refs["bt"].as_array().unwrap() {
        let n = case["n_items"].as_u64().unwrap() as usize;
        let opts = BtOptions {
            alpha: case["alpha"].as_f64().unwrap(),
            ..BtOptions::default()
        };
        let got = fit(n, &comps(case), &opts).unwrap();
        assert!(got.converged, "{}", case["name"]);
        assert!(got.theta.iter().sum::<f64>().abs() < 1e-9);
        let e = max_abs_diff(&got.theta, &floats(&case["theta_choix"]));
        assert!(e < 1e-6, "{} choix {e}", case["name"]);
        worst_choix = worst_choix.max(e);
        if !case["theta_fastchat"].is_null() {
            let e = max_abs_diff(&got.theta, &floats(&case["theta_fastchat"]));
            assert!(e < 1e-5, "{} fastchat {e}", case["name"]);
            worst_fc = worst_fc.max(e);
        }
    }
    println!("BT max |Δθ| vs choix {worst_choix:e}, vs FastChat-style logistic {worst_fc:e}");
}

#[test]
fn bootstrap_matches_replica_and_ignores_thread_count() {
    let refs = load_refs();
    let mut worst: f64 = 0.0;
    for case in refs["bt_bootstrap"].as_array().unwrap() {
        let n = case["n_items"].as_u64().unwrap() as usize;
        let opts = BtOptions {
            alpha: case["alpha"].as_f64().unwrap(),
            ..BtOptions::default()
        };
        let rounds = case["rounds"].as_u64().unwrap() as usize;
        let seed = case["seed"].as_u64().unwrap();
        let data = comps(case);
        let got = bootstrap_with_threads(n, &data, &opts, rounds, seed, 1).unwrap();
        let par = bootstrap_with_threads(n, &data, &opts, rounds, seed, 3).unwrap();
        assert_eq!(got, par);
        assert_eq!(
            got.failed_rounds as u64,
            case["failed_rounds"].as_u64().unwrap()
        );
        assert_eq!(got.rounds, rounds);
        for key in ["median", "lower", "upper"] {
            let mine = match key {
                "median" => &got.median,
                "lower" => &got.lower,
                _ => &got.upper,
            };
            worst = worst.max(max_abs_diff(mine, &floats(&case[key])));
        }
    }
    println!("bootstrap max |Δ| vs replica + choix {worst:e}");
    assert!(worst < 1e-6, "{worst}");
}

#[test]
fn bench_inputs_match_python_generator() {
    let refs = load_refs();
    let r = &refs["bench_inputs"];
    let n = r["n_items"].as_u64().unwrap() as usize;
    let m = r["n_comps"].as_u64().unwrap() as usize;
    let got = bench_inputs(n, m, r["seed"].as_u64().unwrap());
    assert_eq!(got, comps(r));
    assert!(bench_inputs(1, 10, 1).is_empty());
}

#[test]
fn errors_name_the_problem() {
    let o = BtOptions::default();
    assert_eq!(fit(3, &[], &o), Err(StatsError::Empty("no comparisons")));
    assert_eq!(
        fit(3, &[c(0, 3, Outcome::AWins)], &o),
        Err(StatsError::IndexOutOfRange {
            index: 3,
            n_items: 3
        })
    );
    assert!(matches!(
        fit(3, &[c(1, 1, Outcome::Tie)], &o),
        Err(StatsError::InvalidArgument(_))
    ));
    let bad_alpha = BtOptions { alpha: -1.0, ..o };
    assert!(matches!(
        fit(2, &[c(0, 1, Outcome::Tie)], &bad_alpha),
        Err(StatsError::InvalidArgument(_))
    ));

    let msg = |n, comps: &[Comparison]| fit(n, comps, &o).unwrap_err().to_string();
    let never_compared = msg(3, &[c(0, 1, Outcome::AWins), c(0, 1, Outcome::BWins)]);
    assert!(
        never_compared.contains("item 2 never compared"),
        "{never_compared}"
    );
    assert!(never_compared.contains("alpha > 0"), "{never_compared}");
    let never_won = msg(
        3,
        &[
            c(0, 1, Outcome::AWins),
            c(2, 1, Outcome::AWins),
            c(0, 2, Outcome::Tie),
        ],
    );
    assert!(never_won.contains("item 1 never won"), "{never_won}");
    let never_lost = msg(
        3,
        &[
            c(0, 1, Outcome::AWins),
            c(0, 2, Outcome::AWins),
            c(1, 2, Outcome::Tie),
        ],
    );
    assert!(never_lost.contains("item 0 never lost"), "{never_lost}");
    // Two groups {0,1} and {2,3}; 0 and 1 beat 2 and 3 but never lose to them.
    let split = [
        c(0, 1, Outcome::Tie),
        c(2, 3, Outcome::Tie),
        c(0, 2, Outcome::AWins),
        c(1, 3, Outcome::AWins),
    ];
    let chain = msg(4, &split);
    assert!(
        chain.contains("not strongly connected") && chain.contains("item 2"),
        "{chain}"
    );
    assert!(matches!(
        bootstrap(4, &split, &o, 10, 1),
        Err(StatsError::MleDoesNotExist(_))
    ));
    // A prior makes it well defined, and ties alone are enough for an MLE.
    let ridge = BtOptions { alpha: 0.1, ..o };
    let f = fit(4, &split, &ridge).unwrap();
    assert!(f.converged && f.theta[0] > f.theta[2] && f.theta[1] > f.theta[3]);
    let ties = fit(2, &[c(0, 1, Outcome::Tie)], &o).unwrap();
    assert_eq!(ties.theta, vec![0.0, 0.0]);
    assert!(matches!(
        bootstrap(2, &[c(0, 1, Outcome::Tie)], &o, 0, 1),
        Err(StatsError::InvalidArgument(_))
    ));
    assert_eq!(
        super::graph::describe(&[1, 2, 3, 4, 5, 6, 7]),
        "items 1, 2, 3, 4, 5 and 2 more"
    );
    assert_eq!(super::graph::describe(&[4, 9]), "items 4 and 9");
}

#[test]
fn helpers() {
    assert!((win_probability(1.0, 0.0) - 0.731_058_578_630_004_9).abs() < 1e-15);
    assert!((win_probability(-800.0, 0.0)) >= 0.0);
    assert_eq!(win_probability(0.0, 800.0), 0.0);
    assert!((to_elo_scale(std::f64::consts::LN_10) - 1400.0).abs() < 1e-9);
    let s = [1.0, 2.0, 4.0, 8.0];
    assert_eq!(percentile_sorted(&s, 0.5), Some(3.0));
    assert_eq!(percentile_sorted(&s, 0.025), Some(1.075));
    assert_eq!(percentile_sorted(&[], 0.5), None);
}

/// Known θ (200 items, 20k comparisons, 10 % ties) → the fit recovers the ordering and the
/// bootstrap intervals cover the truth. Ties are drawn so that the expected score of a is
/// still σ(θ_a − θ_b) (P(tie) = 0.1, P(a wins) = σ − 0.05), which is the tie-as-half model.
#[test]
fn recovers_known_ordering() {
    let n = 200;
    let mut rng = Rng::new(2024);
    let mut truth: Vec<f64> = (0..n).map(|_| -1.25 + 2.5 * rng.next_f64()).collect();
    let m = mean(&truth);
    truth.iter_mut().for_each(|t| *t -= m);
    let data: Vec<Comparison> = (0..20_000)
        .map(|_| {
            let a = rng.below(n);
            let b = (a + 1 + rng.below(n - 1)) % n;
            let p = win_probability(truth[a], truth[b]);
            let u = rng.next_f64();
            let outcome = if u < p - 0.05 {
                Outcome::AWins
            } else if u < p + 0.05 {
                Outcome::Tie
            } else {
                Outcome::BWins
            };
            c(a, b, outcome)
        })
        .collect();
    let ties = data.iter().filter(|c| c.outcome == Outcome::Tie).count();
    assert!((1_800..2_200).contains(&ties), "{ties}");
    let o = BtOptions::default();
    let f = fit(n, &data, &o).unwrap();
    assert!(f.converged);
    let rho = spearman(&truth, &f.theta).unwrap();
    let ci = bootstrap(n, &data, &o, 200, 99).unwrap();
    let covered = (0..n)
        .filter(|&i| ci.lower[i] <= truth[i] && truth[i] <= ci.upper[i])
        .count();
    println!(
        "recovery: spearman {rho:.4}, coverage {covered}/{n}, {} iterations, {} failed rounds",
        f.iterations, ci.failed_rounds
    );
    assert!(rho > 0.95, "{rho}");
    assert!(covered as f64 >= 0.85 * n as f64, "{covered}");
}
