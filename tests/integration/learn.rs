//! The preference scorer end to end: `assay train` on simulated raters over real fixture photos
//! with graded synthetic distortions (the issue's acceptance test), and versioning / rollback
//! through `assay scorers` and the store.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use assay::cli::bench_flywheel::{self, DistortedItem, KINDS};
use assay::ranking::rng::Rng;

use crate::common::{fixtures_dir, run, scan_json, scanned_demo, stderr, stdout, table_json};

/// Source photos (colour, natural content) from `fixtures/photos`.
const PHOTOS: &[&str] = &[
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
    "kodim01.png",
    "kodim03.png",
    "kodim05.png",
    "kodim15.png",
    "kodim20.png",
    "kodim23.png",
];

/// A simulated rater's judgement: the less distorted image, flipped with probability 0.1;
/// a tie when both are equally distorted.
fn judge(items: &[DistortedItem], a: usize, b: usize, rng: &mut Rng) -> String {
    match bench_flywheel::judge(items, a, b, 0.1, rng) {
        Some(w) => items[w].path.clone(),
        None => "tie".into(),
    }
}

fn pair_line(k: usize, rater: &str, a: &str, b: &str, choice: &str) -> String {
    format!(
        r#"{{"protocol":"pairwise","rater":"{rater}","criterion":"overall","items":["{a}","{b}"],"choice":"{choice}","time":"2026-11-27T10:{:02}:{:02}.000Z"}}"#,
        k / 60,
        k % 60
    )
}

/// Accuracy of `score` on ground-truth pairs (severity differs by ≥ 1), excluding `seen`
/// pairs: (overall, within one photo, across photos, pairs).
fn ground_truth_accuracy(
    items: &[DistortedItem],
    score: &dyn Fn(usize) -> f64,
    seen: &HashSet<(usize, usize)>,
) -> (f64, f64, f64, usize) {
    let (mut right, mut n) = ([0.0f64; 2], [0usize; 2]);
    for i in 0..items.len() {
        for j in i + 1..items.len() {
            if items[i].level == items[j].level || seen.contains(&(i, j)) {
                continue;
            }
            let (better, worse) = if items[i].level < items[j].level {
                (i, j)
            } else {
                (j, i)
            };
            let (sb, sw) = (score(better), score(worse));
            let v = if sb > sw {
                1.0
            } else if sb == sw {
                0.5
            } else {
                0.0
            };
            let k = usize::from(items[i].photo != items[j].photo);
            right[k] += v;
            n[k] += 1;
        }
    }
    let total = n[0] + n[1];
    (
        (right[0] + right[1]) / total as f64,
        right[0] / n[0] as f64,
        right[1] / n[1] as f64,
        total,
    )
}

#[test]
fn scorer_learns_distortion_severity_from_noisy_raters_on_fixture_photos() {
    let Some(fixtures) = fixtures_dir("scorer_learns_distortion_severity") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("collection");
    let db = tmp.path().join("c.db");
    let mut rng = Rng::new(2024);
    let mut items = Vec::new();
    for (p, name) in PHOTOS.iter().enumerate() {
        items.extend(
            bench_flywheel::write_distortions(
                &fixtures.join("photos").join(name),
                &dir,
                p,
                &mut rng,
            )
            .unwrap(),
        );
    }
    // Classical features only, as the issue asks: no face detection, so the four face features
    // are absent (imputed, i.e. constant 0) and only the nine classical signals inform the score.
    let (code, summary) = scan_json(&dir, &db, &["--no-faces"]);
    assert_eq!(code, 0, "{summary}");
    let (d, db_s) = (dir.to_str().unwrap(), db.to_str().unwrap());

    // The MLP head: the linear one reaches only about 0.85 here (0.84–0.86 over seeds), because
    // a single weight per signal cannot put noise, blur, JPEG and exposure severities of
    // different photos on one scale.
    // 200 judgements from three raters: pairs whose severity differs (90 %) or is equal
    // (10 %, answered "tie"), each decided pair flipped with probability 0.1.
    let mut lines = Vec::new();
    let mut seen = HashSet::new();
    let mut flips = 0;
    while lines.len() < 200 {
        let (a, b) = (rng.below(items.len()), rng.below(items.len()));
        let same = items[a].level == items[b].level;
        if a == b || same != (rng.next_f64() < 0.1) {
            continue;
        }
        let rater = ["r1", "r2", "r3"][lines.len() % 3];
        let choice = judge(&items, a, b, &mut rng);
        if !same {
            let better = if items[a].level < items[b].level {
                a
            } else {
                b
            };
            flips += usize::from(choice != items[better].path);
        }
        lines.push(pair_line(
            lines.len(),
            rater,
            &items[a].path,
            &items[b].path,
            &choice,
        ));
        seen.insert((a.min(b), a.max(b)));
    }
    let file = tmp.path().join("labels.jsonl");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let o = run(&[
        "label",
        "import",
        d,
        "--db",
        db_s,
        "--file",
        file.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));

    // `assay train` with its defaults: heads and L2 strengths compared by cross-validation,
    // the best refitted on every label.
    let o = run(&["train", d, "--db", db_s, "--seed", "7", "--format", "json"]);
    assert!(o.status.success(), "train failed: {}", stderr(&o));
    let out: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let m = &out["metrics"];
    let split = &m["split"];
    assert_eq!(split["training_events"], 200, "{split}");
    assert_eq!(
        split["training_pairs"], 200,
        "the stored scorer saw every label: {split}"
    );
    assert_eq!(m["estimate"]["source"], "cross-validation");
    assert_eq!(out["training"]["events"], 200);
    assert_eq!(out["training"]["raters"].as_array().unwrap().len(), 3);

    // Ground truth on every unlabelled pair of the collection.
    let rows = table_json(&dir, &db, &[]);
    let by_path: HashMap<&str, f64> = rows
        .iter()
        .filter_map(|r| Some((r["path"].as_str()?, r["learned_preference"].as_f64()?)))
        .collect();
    assert_eq!(
        by_path.len(),
        items.len(),
        "every image has a learned score"
    );
    let score = |i: usize| by_path[items[i].path.as_str()];
    let (acc, within, across, n) = ground_truth_accuracy(&items, &score, &seen);
    eprintln!(
        "{} images, {} labels ({flips} flipped), cross-validated label accuracy {} ({}), ground truth on {n} unlabelled pairs: {acc:.3} (within photos {within:.3}, across {across:.3})",
        items.len(),
        lines.len(),
        m["estimate"]["accuracy"],
        m["method"]
    );
    let by_kind: Vec<String> = KINDS
        .iter()
        .map(|k| {
            let (mut right, mut n) = (0usize, 0usize);
            for (i, worse) in items.iter().enumerate().filter(|(_, it)| it.kind == *k) {
                for (j, better) in items.iter().enumerate() {
                    if better.level < worse.level && !seen.contains(&(i.min(j), i.max(j))) {
                        right += usize::from(score(j) > score(i));
                        n += 1;
                    }
                }
            }
            format!("{k} {:.3}", right as f64 / n as f64)
        })
        .collect();
    eprintln!(
        "ground truth by the more distorted image's distortion: {}",
        by_kind.join(", ")
    );
    eprintln!(
        "cross-validated learning curve (training events → accuracy): {}",
        m["learning_curve"]
    );

    // The learning curve against the ground truth, in-process on the same features.
    let store = assay::store::Store::open(&db).unwrap();
    let keys = assay::learn::features::signal_keys();
    let mut table =
        assay::learn::FeatureTable::new(keys.iter().map(|k| (*k).to_string()).collect());
    for (p, v) in store.signal_vectors(&keys).unwrap() {
        table.items.push(p);
        table.rows.push(v);
    }
    let events: Vec<assay::human::Event> = store
        .label_events()
        .unwrap()
        .into_iter()
        .map(|e| assay::human::Event {
            rater: e.rater,
            protocol: e.protocol.parse().unwrap(),
            payload: serde_json::from_str(&e.payload).unwrap(),
        })
        .collect();
    let row_of: HashMap<&str, usize> = table
        .items
        .iter()
        .enumerate()
        .map(|(i, p)| (p.as_str(), i))
        .collect();
    let mut curve = Vec::new();
    for k in [20, 50, 100, 160] {
        let labels = assay::learn::labels::assemble(&events[..k], "overall");
        let opts = assay::learn::TrainOptions {
            curve: false,
            seed: 7,
            ..Default::default()
        };
        let t = assay::learn::train(&table, &labels, &opts, &burn::tensor::Device::flex()).unwrap();
        let inputs = t.model.inputs(&table);
        let s = |i: usize| t.model.score(&inputs[row_of[items[i].path.as_str()]]);
        let (a, ..) = ground_truth_accuracy(&items, &s, &seen);
        curve.push((k, a));
    }
    eprintln!("learning curve against the ground truth (labels → accuracy): {curve:?}");

    assert!(
        acc >= 0.85,
        "ground-truth pairwise accuracy {acc:.3} < 0.85"
    );
    let reported = m["learning_curve"].as_array().unwrap();
    assert!(reported.len() >= 4, "{reported:?}");
    assert_eq!(
        reported.last().unwrap()["training_events"],
        160,
        "the curve ends at the folds' full training sets (4/5 of 200)"
    );
    assert_eq!(
        reported.last().unwrap()["accuracy"],
        m["estimate"]["accuracy"]
    );
    assert!(
        curve.last().unwrap().1 > curve.first().unwrap().1,
        "more labels should help: {curve:?}"
    );
}

fn pair(k: usize, rater: &str, x: &str, y: &str, choice: &str) -> String {
    pair_line(k, rater, x, y, choice)
}

/// `assay scorers DIR --db DB --format json extra…` → output JSON.
fn scorers_json(d: &str, db: &str, extra: &[&str]) -> (i32, serde_json::Value, String) {
    let mut args = vec!["scorers", d, "--db", db, "--format", "json"];
    args.extend_from_slice(extra);
    let o = run(&args);
    let v = serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null);
    (o.status.code().unwrap_or(-1), v, stderr(&o))
}

fn preference_values(dir: &Path, db: &Path) -> HashMap<String, f64> {
    table_json(dir, db, &[])
        .iter()
        .filter_map(|r| {
            Some((
                r["path"].as_str()?.to_string(),
                r["learned_preference"].as_f64()?,
            ))
        })
        .collect()
}

#[test]
fn scorers_are_versioned_activated_and_rolled_back() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, db) = scanned_demo(tmp.path(), "demo.db");
    let (d, db_s) = (dir.to_str().unwrap(), db.to_str().unwrap());

    // No labels yet: a clear message and exit 1.
    let o = run(&["train", d, "--db", db_s]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no pairwise, best-of-N or Likert labels"),
        "{}",
        stderr(&o)
    );
    let (code, v, _) = scorers_json(d, db_s, &[]);
    assert_eq!(code, 0);
    assert_eq!(v["scorers"].as_array().unwrap().len(), 0);

    // Sharp > slightly blurred > very blurred, noisy in between; two attention checks that
    // claim the opposite are left out.
    let a = "portrait_astronaut/seed_1001.png";
    let b = "portrait_astronaut/seed_1002.png";
    let c = "portrait_astronaut/seed_1003.png";
    let n = "portrait_astronaut/seed_1004.png";
    let mut lines = Vec::new();
    for round in 0..6 {
        for (x, y, w) in [
            (a, b, a),
            (b, c, b),
            (a, c, a),
            (n, c, n),
            (a, n, a),
            (b, n, if round % 2 == 0 { b } else { "tie" }),
        ] {
            let k = lines.len();
            lines.push(pair(k, ["r1", "r2"][k % 2], x, y, w));
        }
    }
    for item in [c, b] {
        lines.push(format!(
            r#"{{"protocol":"pairwise","rater":"r1","items":["{a}","{item}"],"choice":"{item}","attention_check":true}}"#
        ));
    }
    lines.push(format!(
        r#"{{"protocol":"likert","rater":"r3","items":["{a}"],"rating":5}}"#
    ));
    lines.push(format!(
        r#"{{"protocol":"likert","rater":"r3","items":["{c}"],"rating":1}}"#
    ));
    let file = tmp.path().join("labels.jsonl");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let o = run(&[
        "label",
        "import",
        d,
        "--db",
        db_s,
        "--file",
        file.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));

    // v1: linear, active.
    let o = run(&["train", d, "--db", db_s, "--format", "json", "--seed", "3"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let t1: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(t1["scorer"]["version"], 1);
    assert_eq!(t1["scorer"]["active"], true);
    assert_eq!(t1["training"]["attention_checks_excluded"], 2);
    assert_eq!(t1["training"]["by_protocol"]["pairwise"], 36);
    assert_eq!(t1["training"]["by_protocol"]["likert"], 2);
    assert!(t1["training"]["time_range"][0].is_string());
    let id1 = t1["scorer"]["id"].as_i64().unwrap();
    let v1 = preference_values(&dir, &db);
    assert!(v1[a] > v1[c], "sharp above very blurred: {v1:?}");
    assert!(
        v1.len() >= 25,
        "every decodable image is scored: {}",
        v1.len()
    );

    // Text output names the metrics.
    let o = run(&[
        "train",
        d,
        "--db",
        db_s,
        "--head",
        "mlp",
        "--seed",
        "4",
        "--no-curve",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("preference scorer v2")
            && text.contains("pairwise accuracy (cross-validation)")
            && text.contains("chosen: mlp head"),
        "{text}"
    );
    let v2 = preference_values(&dir, &db);
    assert_ne!(v1, v2, "v2 writes its own values");

    let store = assay::store::Store::open(&db).unwrap();
    let ia = store.image_id(a).unwrap().unwrap();
    let producer = |s: &assay::store::Store| {
        s.signals_of(ia)
            .unwrap()
            .into_iter()
            .find(|r| r.key == "learned_preference")
            .map(|r| r.producer)
    };
    assert_eq!(producer(&store).as_deref(), Some("preference@2"));
    drop(store);

    // Rollback: v1 active again, its exact values back, and the switch logged.
    let (code, v, err) = scorers_json(d, db_s, &["--rollback"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(v["switched"]["id"], id1);
    assert_eq!(v["switched"]["action"], "rollback");
    assert_eq!(preference_values(&dir, &db), v1);
    let store = assay::store::Store::open(&db).unwrap();
    assert_eq!(producer(&store).as_deref(), Some("preference@1"));
    assert_eq!(store.active_scorer().unwrap().unwrap().id, id1);
    drop(store);
    let list = v["scorers"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list.iter().filter(|s| s["active"] == true).count(), 1);
    assert!(
        list.iter()
            .all(|s| s["accuracy"].is_number() && s["accuracy_source"] == "cross-validation"),
        "{list:?}"
    );
    assert_eq!(list[1]["head"], "mlp");

    // Activate v2 by id, then roll back once more (to v1).
    let id2 = list[1]["id"].as_i64().unwrap();
    let (code, _, err) = scorers_json(d, db_s, &["--activate", &id2.to_string()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(preference_values(&dir, &db), v2);
    let (code, v, _) = scorers_json(d, db_s, &["--rollback"]);
    assert_eq!(code, 0);
    assert_eq!(v["switched"]["id"], id1);
    let actions: Vec<(i64, &str)> = v["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["scorer"].as_i64().unwrap(), l["action"].as_str().unwrap()))
        .collect();
    assert_eq!(
        actions,
        vec![
            (id1, "train"),
            (id2, "train"),
            (id1, "rollback"),
            (id2, "activate"),
            (id1, "rollback")
        ]
    );

    // Bad ids: exit 1, nothing switched.
    let (code, _, err) = scorers_json(d, db_s, &["--activate", "999"]);
    assert_eq!(code, 1);
    assert!(err.contains("no scorer with id 999"), "{err}");
    // Trained without activation: recorded, not active.
    let o = run(&[
        "train",
        d,
        "--db",
        db_s,
        "--no-activate",
        "--no-curve",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let t3: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(t3["scorer"]["version"], 3);
    assert_eq!(t3["scorer"]["active"], false);
    assert_eq!(preference_values(&dir, &db), v1);
    // A rescan keeps the values of unchanged files and scores new ones with the active scorer
    // (same pixels, about the same score), without a log entry.
    scan_json(&dir, &db, &[]);
    assert_eq!(preference_values(&dir, &db), v1);
    std::fs::copy(dir.join(a), dir.join("new_copy.png")).unwrap();
    let (_, summary) = scan_json(&dir, &db, &[]);
    // The rescoring is part of every scan (the GUI's scans run the same pipeline).
    assert_eq!(summary["learned"]["version"], 1, "{summary}");
    assert_eq!(summary["learned"]["images_scored"], v1.len() + 1);
    let after = preference_values(&dir, &db);
    // Face signals come from batched f32 tensors, so a copy scanned alone can differ from its
    // original in the last digits; the classical signals are exact.
    assert!((after["new_copy.png"] - v1[a]).abs() < 1e-4, "{after:?}");
    assert_eq!(after.len(), v1.len() + 1);
    let store = assay::store::Store::open(&db).unwrap();
    assert_eq!(store.scorer_log().unwrap().len(), 5);
    let id_new = store.image_id("new_copy.png").unwrap().unwrap();
    assert!(
        store
            .signals_of(id_new)
            .unwrap()
            .iter()
            .any(|r| r.key == "learned_preference" && r.producer == "preference@1")
    );
    drop(store);

    // Stored embeddings become candidate features through their principal components, and
    // cross-validation decides whether they are used.
    let mut store = assay::store::Store::open(&db).unwrap();
    let rows: Vec<(i64, String, Vec<f32>)> = store
        .path_ids()
        .unwrap()
        .values()
        .map(|&id| {
            (
                id,
                "test-emb".to_string(),
                vec![id as f32, 1.0, -(id as f32), 0.5],
            )
        })
        .collect();
    store.set_embeddings(&rows).unwrap();
    drop(store);
    let o = run(&[
        "train",
        d,
        "--db",
        db_s,
        "--no-activate",
        "--no-curve",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let t4: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        t4["training"]["features"]["embeddings"],
        serde_json::json!(["test-emb"])
    );
    let sets: std::collections::BTreeSet<&str> = t4["metrics"]["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["spec"]["features"].as_str().unwrap())
        .collect();
    // The 4-d embedding has 4 components at most (ranks 8 and 32 both give pca4).
    assert_eq!(
        sets,
        ["signals", "signals + test-emb pca4"].into_iter().collect()
    );
    // Nine classical and four face signals, aesthetic and clip_score (registered, absent here:
    // imputed), plus four components when the embedding set is chosen.
    let chosen = t4["metrics"]["chosen"]["features"].as_str().unwrap();
    let expect = if chosen == "signals" { 15 } else { 19 };
    assert_eq!(t4["metrics"]["features"], expect, "{chosen}");
}
