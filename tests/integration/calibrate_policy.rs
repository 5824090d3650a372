//! `assay calibrate --policy` and `assay select --best-of-n` on the demo with labels written by
//! the test: decisions through `assay decide`, pairwise events through `assay label import`.

use crate::common::{run, scanned_demo, stderr, stdout, table_json};

const ACCEPTED: &[&str] = &[
    "portrait_astronaut/seed_1001.png",
    "portrait_astronaut/seed_1006.png",
    "cat_chelsea/seed_3001.png",
    "rocket_launch/seed_4001.png",
    "rocket_launch/seed_4004.png",
    "camera_operator/seed_5001.png",
    "coffee_cup/seed_2001.jpg",
];
const REJECTED: &[&str] = &[
    "portrait_astronaut/seed_1002.png",
    "portrait_astronaut/seed_1003.png",
    "portrait_astronaut/seed_1005.jpg",
    "cat_chelsea/seed_3004.png",
    "rocket_launch/seed_4005.jpg",
    "camera_operator/seed_5004.png",
    "coffee_cup/seed_2002.jpg",
    "coffee_cup/seed_2003.jpg",
    "coffee_cup/seed_2004.jpg",
    "coffee_cup/seed_2005.jpg",
    "coffee_cup/seed_2006.jpg",
];

/// (path, status, decision source) of every image.
fn statuses(dir: &std::path::Path, db: &std::path::Path) -> Vec<(String, String, String)> {
    table_json(dir, db, &["--columns", "path,status,decision_source"])
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or("").to_string();
            (s("path"), s("status"), s("decision_source"))
        })
        .collect()
}

#[test]
fn calibrate_policy_writes_the_bands_and_leaves_decisions_alone() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let (dir, db) = scanned_demo(tmp.path(), "demo.db");
    let (d, db_s) = (dir.to_str().unwrap(), db.to_str().unwrap());
    let policy = tmp.path().join("policy.toml");
    let original = std::fs::read_to_string(root.join("assets/policies/example.toml")).unwrap();
    std::fs::write(&policy, &original).unwrap();
    let p = policy.to_str().unwrap();

    // No labels yet: a clear error, nothing written.
    let o = run(&["calibrate", d, "--db", db_s, "--policy", p, "--write"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("no labels"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&policy).unwrap(), original);

    for (status, set) in [("accepted", ACCEPTED), ("rejected", REJECTED)] {
        let mut args = vec!["decide", d, "--db", db_s, "--status", status];
        args.extend(set);
        assert!(run(&args).status.success());
    }
    // Pairwise events between undecided images: the sharp clean-ish cat beats the noisy one.
    let events = tmp.path().join("events.jsonl");
    let line = |a: &str, b: &str| {
        format!(
            "{{\"protocol\":\"pairwise\",\"rater\":\"t\",\"items\":[\"{a}\",\"{b}\"],\"choice\":\"{a}\"}}\n"
        )
    };
    let pairs = line("cat_chelsea/seed_3003.png", "cat_chelsea/seed_3002.png")
        + &line(
            "camera_operator/seed_5005.png",
            "camera_operator/seed_5003.png",
        )
        + &line("cat_chelsea/seed_3003.png", "camera_operator/seed_5003.png");
    std::fs::write(&events, pairs).unwrap();
    let o = run(&[
        "label",
        "import",
        d,
        "--db",
        db_s,
        "--file",
        events.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let before = statuses(&dir, &db);

    let o = run(&[
        "calibrate",
        d,
        "--db",
        db_s,
        "--policy",
        p,
        "--holdout",
        "0",
        "--target-precision",
        "0.75",
        "--cost-ratio",
        "1:2",
        "--write",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let c: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let (accept, reject) = (c["accept"].as_f64().unwrap(), c["reject"].as_f64().unwrap());
    assert!(reject <= accept && (0.0..=1.0).contains(&reject), "{c}");
    assert_eq!(c["labels"]["decisions"]["good"], ACCEPTED.len(), "{c}");
    assert_eq!(c["labels"]["decisions"]["bad"], REJECTED.len(), "{c}");
    assert_eq!(c["labels"]["pairwise"]["comparisons"], 3, "{c}");
    assert_eq!(c["labels"]["pairwise"]["compared"], 4, "{c}");
    // On the training labels (no hold-out) the accept band meets the target.
    assert!(
        c["bands"]["accept"]["precision"].as_f64().unwrap() >= 0.75,
        "{c}"
    );
    let iv = &c["bands"]["accept"]["interval"];
    assert!(iv[0].as_f64().unwrap() <= iv[1].as_f64().unwrap());
    // Gated-out labelled images are reported, not scored (e.g. the blurry astronaut).
    let excluded = c["excluded"].as_array().unwrap();
    assert!(excluded.iter().any(|e| e["reason"] == "blurry"), "{c}");
    let scored = c["train"]["n"].as_u64().unwrap();
    let out: u64 = excluded
        .iter()
        .map(|e| e["good"].as_u64().unwrap() + e["bad"].as_u64().unwrap())
        .sum();
    assert_eq!(
        scored + out,
        (ACCEPTED.len() + REJECTED.len() + 4) as u64,
        "{c}"
    );

    // The file now holds the calibrated bands, keeps its comments, and still parses.
    let written = std::fs::read_to_string(&policy).unwrap();
    assert_ne!(written, original);
    assert!(written.contains("# score ≥ accept → accept"), "{written}");
    assert!(written.contains("top_k = 2"), "{written}");
    let prepared = assay::selection::plan::prepare(&written).unwrap();
    assert_eq!(prepared.policy.bands.accept, accept);
    assert_eq!(prepared.policy.bands.reject, reject);
    // Images and decisions untouched: same statuses and sources, no decision appended.
    assert_eq!(statuses(&dir, &db), before);
    assert_eq!(
        assay::store::Store::open(&db)
            .unwrap()
            .count("decisions")
            .unwrap(),
        (ACCEPTED.len() + REJECTED.len()) as i64
    );
    // A held-out split reports held-out metrics.
    let o = run(&[
        "calibrate",
        d,
        "--db",
        db_s,
        "--policy",
        p,
        "--holdout",
        "0.3",
        "--seed",
        "3",
        "--format",
        "json",
    ]);
    if o.status.success() {
        let c: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(c["evaluated_on"], "held-out labels", "{c}");
    } else {
        // Too few training labels left: said, not computed.
        assert!(stderr(&o).contains("too few labels"), "{}", stderr(&o));
    }

    // Bad input: both modes at once, an unreachable target, a policy naming an unknown key.
    let o = run(&[
        "calibrate",
        d,
        "--db",
        db_s,
        "--policy",
        p,
        "--signal",
        "tenengrad",
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "a usage error (exit 1), not a crash"
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("cannot be used with"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = run(&[
        "calibrate",
        d,
        "--db",
        db_s,
        "--policy",
        p,
        "--holdout",
        "0",
        "--target-precision",
        "1.5",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--target-precision"), "{}", stderr(&o));
    let bad = tmp.path().join("bad.toml");
    std::fs::write(
        &bad,
        original.replace("noise_sigma = -0.5", "nosie_sigma = -0.5"),
    )
    .unwrap();
    let o = run(&[
        "calibrate",
        d,
        "--db",
        db_s,
        "--policy",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("nosie_sigma"), "{}", stderr(&o));
}

#[test]
fn select_best_of_n_reports_curves_and_selector_efficiency() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let (dir, db) = scanned_demo(tmp.path(), "demo.db");
    let (d, db_s) = (dir.to_str().unwrap(), db.to_str().unwrap());
    let p = root.join("assets/policies/example.toml");
    let p = p.to_str().unwrap();
    // The coffee group: one accepted, the rest rejected = human evidence of its best image.
    for (status, set) in [("accepted", &ACCEPTED[6..]), ("rejected", &REJECTED[6..])] {
        let mut args = vec!["decide", d, "--db", db_s, "--status", status];
        args.extend(set);
        assert!(run(&args).status.success());
    }
    let o = run(&[
        "select",
        d,
        "--db",
        db_s,
        "--policy",
        p,
        "--best-of-n",
        "--n-max",
        "4",
        "--quality",
        "blur_laplacian_var",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let b: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(b["quality"], "blur_laplacian_var");
    let groups = b["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 5, "{b}");
    for g in groups {
        let (pick, oracle) = (
            g["policy_pick"].as_array().unwrap(),
            g["oracle"].as_array().unwrap(),
        );
        assert_eq!(
            pick.len(),
            g["candidates"].as_u64().unwrap().min(4) as usize
        );
        for (a, o) in pick.iter().zip(oracle) {
            assert!(a.as_f64().unwrap() <= o.as_f64().unwrap() + 1e-9, "{g}");
        }
        // N = 1 is the mean of the candidates for both.
        if let (Some(a), Some(o)) = (pick.first(), oracle.first()) {
            assert!((a.as_f64().unwrap() - o.as_f64().unwrap()).abs() < 1e-9);
        }
    }
    let eff = &b["selector_efficiency"];
    assert_eq!(eff["groups"], 1, "{b}");
    let g = &eff["per_group"][0];
    assert_eq!(g["human_best"], "coffee_cup/seed_2001.jpg");
    assert_eq!(g["evidence"], "decisions");
    assert_eq!(g["hit"], g["policy_pick"] == g["human_best"]);
    assert!(
        (eff["chance"].as_f64().unwrap() - 1.0 / 6.0).abs() < 1e-12,
        "{eff}"
    );
    // A report only: no decision appended.
    assert_eq!(
        assay::store::Store::open(&db)
            .unwrap()
            .count("decisions")
            .unwrap(),
        6
    );
    // Text output names the curves; a bad quality key is a usage error.
    let o = run(&["select", d, "--db", db_s, "--policy", p, "--best-of-n"]);
    assert!(stdout(&o).contains("selector efficiency"), "{}", stdout(&o));
    let o = run(&[
        "select",
        d,
        "--db",
        db_s,
        "--policy",
        p,
        "--best-of-n",
        "--quality",
        "nope",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("'nope'"), "{}", stderr(&o));
    // The curve's options without --best-of-n are usage errors, not silently ignored.
    for flag in [["--n-max", "4"], ["--criterion", "overall"]] {
        let o = run(&[
            "select",
            d,
            "--db",
            db_s,
            "--policy",
            p,
            "--dry-run",
            flag[0],
            flag[1],
        ]);
        assert_eq!(o.status.code(), Some(1), "{flag:?}");
        assert!(stderr(&o).contains("--best-of-n"), "{}", stderr(&o));
    }
}
