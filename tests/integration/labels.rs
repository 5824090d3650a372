//! Label events through the CLI: import with line-by-line errors, idempotence, export round
//! trip into another database, Bradley–Terry ranking with intervals, and agreement statistics.

use crate::common::{run, scan_json, scanned_demo, stderr, stdout};

const A: &str = "portrait_astronaut/seed_1001.png"; // sharp
const B: &str = "portrait_astronaut/seed_1002.png"; // slightly blurred
const C: &str = "portrait_astronaut/seed_1003.png"; // very blurred
const D: &str = "portrait_astronaut/seed_1004.png"; // noisy

fn pair(rater: &str, x: &str, y: &str, choice: &str) -> String {
    format!(
        r#"{{"protocol":"pairwise","rater":"{rater}","criterion":"overall","items":["{x}","{y}"],"choice":"{choice}"}}"#
    )
}

fn likert(rater: &str, item: &str, rating: u8) -> String {
    format!(
        r#"{{"protocol":"likert","rater":"{rater}","criterion":"overall","items":["{item}"],"rating":{rating}}}"#
    )
}

#[test]
fn label_import_export_rank_agreement() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, db) = scanned_demo(tmp.path(), "demo.db");
    let (d, db_s) = (dir.to_str().unwrap(), db.to_str().unwrap());

    // Two raters prefer sharp over blurred; noise sits between; r2 calls one pair a tie.
    let mut lines = Vec::new();
    for r in ["r1", "r2"] {
        for _ in 0..3 {
            lines.push(pair(r, A, B, A));
            lines.push(pair(r, B, C, B));
            lines.push(pair(r, A, C, A));
            lines.push(pair(r, D, C, D));
            lines.push(pair(r, A, D, A));
        }
        lines.push(pair(r, B, D, if r == "r1" { B } else { "tie" }));
        lines.push(pair(r, C, A, C)); // one upset each, so the MLE exists without a prior
    }
    for (item, ratings) in [(A, [5, 5]), (B, [4, 3]), (C, [1, 2]), (D, [3, 3])] {
        lines.push(likert("r1", item, ratings[0]));
        lines.push(likert("r2", item, ratings[1]));
    }
    let good = lines.len();
    lines.insert(3, "{not json".to_string()); // line 4
    lines.insert(5, pair("r1", A, "nope/missing.png", A)); // line 6
    lines.insert(
        7,
        format!(r#"{{"protocol":"pairwise","rater":"r1","items":["{A}","{B}"],"choice":"{A}","hashes":["0","1"]}}"#),
    ); // line 8: another collection's hashes
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
    assert_eq!(
        o.status.code(),
        Some(2),
        "bad lines → exit 2: {}",
        stderr(&o)
    );
    let err = stderr(&o);
    assert!(err.contains("line 4: malformed JSON"), "{err}");
    assert!(
        err.contains("line 6: unknown item 'nope/missing.png'"),
        "{err}"
    );
    assert!(err.contains("line 8: item hashes differ"), "{err}");
    // Repeated identical judgements are all kept: every good line is one event.
    let store = assay::store::Store::open(&db).unwrap();
    let stored = store.count("label_events").unwrap() as usize;
    assert_eq!(stored, good, "every valid line is an event");
    drop(store);
    assert!(
        stdout(&o).contains(&format!("imported {stored} events")),
        "{}",
        stdout(&o)
    );

    // Importing twice adds nothing.
    let o = run(&[
        "label",
        "import",
        d,
        "--db",
        db_s,
        "--file",
        file.to_str().unwrap(),
    ]);
    assert!(
        stdout(&o).starts_with("imported 0 events"),
        "{}",
        stdout(&o)
    );
    assert_eq!(
        assay::store::Store::open(&db)
            .unwrap()
            .count("label_events")
            .unwrap() as usize,
        stored
    );

    // Export carries the full event and round-trips into another database.
    let out = tmp.path().join("export.jsonl");
    let o = run(&[
        "label",
        "export",
        d,
        "--db",
        db_s,
        "--file",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let exported = std::fs::read_to_string(&out).unwrap();
    assert_eq!(exported.lines().count(), stored);
    let first: serde_json::Value = serde_json::from_str(exported.lines().next().unwrap()).unwrap();
    for key in [
        "id",
        "time",
        "session",
        "order",
        "hashes",
        "attention_check",
        "criterion",
    ] {
        assert!(!first[key].is_null(), "export lacks {key}: {first}");
    }
    let db2 = tmp.path().join("other.db");
    scan_json(&dir, &db2, &[]);
    let o = run(&[
        "label",
        "import",
        d,
        "--db",
        db2.to_str().unwrap(),
        "--file",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains(&format!("imported {stored} events, 0 already present")));
    let o = run(&[
        "label",
        "import",
        d,
        "--db",
        db2.to_str().unwrap(),
        "--file",
        out.to_str().unwrap(),
    ]);
    assert!(stdout(&o).starts_with("imported 0 events"));
    // The export also imports back onto the collection that made it: nothing added (the
    // events had no time, so their stored time is the import time, which the export writes).
    let o = run(&[
        "label",
        "import",
        d,
        "--db",
        db_s,
        "--file",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with(&format!("imported 0 events, {stored} already present")),
        "{}",
        stdout(&o)
    );
    // …and a second export is identical to the first (same ids, same lines).
    let again = tmp.path().join("export2.jsonl");
    run(&[
        "label",
        "export",
        d,
        "--db",
        db_s,
        "--file",
        again.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read_to_string(&again).unwrap(), exported);

    // Ranking: sharp first, very blurred last, every point inside its interval.
    let o = run(&[
        "rank",
        d,
        "--db",
        db_s,
        "--bootstrap",
        "100",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let ranking = r["ranking"].as_array().unwrap();
    let items: Vec<&str> = ranking
        .iter()
        .map(|x| x["item"].as_str().unwrap())
        .collect();
    assert_eq!(items.first(), Some(&A), "{items:?}");
    assert_eq!(items.last(), Some(&C), "{items:?}");
    for x in ranking {
        let (t, lo, hi) = (
            x["theta"].as_f64().unwrap(),
            x["ci_low"].as_f64().unwrap(),
            x["ci_high"].as_f64().unwrap(),
        );
        assert!(lo <= t + 1e-9 && t <= hi + 1e-9, "{x}");
    }

    // Agreement: α for both protocols; Likert at two levels.
    let o = run(&["agreement", d, "--db", db_s, "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let a: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let lik = a
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["protocol"] == "likert")
        .unwrap();
    let ordinal = lik["krippendorff"][0]["alpha"].as_f64().unwrap();
    assert!(ordinal > 0.667, "raters mostly agree: {lik}");
    assert!(
        a.as_array()
            .unwrap()
            .iter()
            .any(|x| x["protocol"] == "pairwise")
    );

    // Too little data is said, not computed: one rater only.
    let solo = tmp.path().join("solo.jsonl");
    std::fs::write(
        &solo,
        likert("r1", A, 5) + "\n" + &likert("r1", B, 2) + "\n",
    )
    .unwrap();
    let db3 = tmp.path().join("solo.db");
    scan_json(&dir, &db3, &[]);
    run(&[
        "label",
        "import",
        d,
        "--db",
        db3.to_str().unwrap(),
        "--file",
        solo.to_str().unwrap(),
    ]);
    let o = run(&["agreement", d, "--db", db3.to_str().unwrap()]);
    let text = stdout(&o);
    assert!(text.contains("Krippendorff α (ordinal): "), "{text}");
    assert!(
        !text.contains("α (ordinal) ="),
        "no number from one rater: {text}"
    );
    let o = run(&["rank", d, "--db", db3.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "no pairwise labels → usage error");
}

/// 600 judgements among 8 items by one rater without times: most lines repeat. Every line is an
/// event, a re-import adds none, an export round-trips, and Bradley–Terry on the stored events
/// matches choix on all 600 (tests/data/flywheel_refs.json, scripts/gen_flywheel_refs.py).
#[test]
fn repeated_judgements_are_all_kept_and_rank_like_choix() {
    let refs: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/flywheel_refs.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let bt = &refs["bt600"];
    let tmp = tempfile::tempdir().unwrap();
    let (dir, db) = scanned_demo(tmp.path(), "demo.db");
    let (d, db_s) = (dir.to_str().unwrap(), db.to_str().unwrap());
    let mut paths: Vec<String> = crate::common::table_json(&dir, &db, &[])
        .iter()
        .filter(|r| r["error"].is_null())
        .map(|r| r["path"].as_str().unwrap().to_string())
        .collect();
    paths.sort();
    let items = &paths[..8];
    let lines: Vec<String> = bt["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let (a, b, w) = (
                l[1].as_u64().unwrap() as usize,
                l[2].as_u64().unwrap() as usize,
                l[3].as_u64().unwrap() as usize,
            );
            pair(l[0].as_str().unwrap(), &items[a], &items[b], &items[w])
        })
        .collect();
    assert_eq!(lines.len(), 600);
    let distinct: std::collections::HashSet<&String> = lines.iter().collect();
    assert_eq!(
        distinct.len() as u64,
        bt["distinct_lines"].as_u64().unwrap()
    );
    assert!(
        distinct.len() < 200,
        "most lines repeat: {}",
        distinct.len()
    );
    let file = tmp.path().join("bt600.jsonl");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let import = |db: &str, f: &std::path::Path| {
        let o = run(&[
            "label",
            "import",
            d,
            "--db",
            db,
            "--file",
            f.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        stdout(&o)
    };
    assert!(import(db_s, &file).starts_with("imported 600 events, 0 already present"));
    assert!(import(db_s, &file).starts_with("imported 0 events, 600 already present"));
    // Export → import into another catalogue: the same 600 events.
    let out = tmp.path().join("out.jsonl");
    run(&[
        "label",
        "export",
        d,
        "--db",
        db_s,
        "--file",
        out.to_str().unwrap(),
    ]);
    let db2 = tmp.path().join("other.db");
    scan_json(&dir, &db2, &[]);
    let db2_s = db2.to_str().unwrap();
    assert!(import(db2_s, &out).starts_with("imported 600 events, 0 already present"));
    assert!(import(db2_s, &file).starts_with("imported 0 events, 600 already present"));

    let rank = |db: &str| -> Vec<f64> {
        let o = run(&[
            "rank",
            d,
            "--db",
            db,
            "--bootstrap",
            "10",
            "--format",
            "json",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(r["comparisons"], 600, "{r}");
        let by: std::collections::HashMap<&str, f64> = r["ranking"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| (x["item"].as_str().unwrap(), x["theta"].as_f64().unwrap()))
            .collect();
        items.iter().map(|p| by[p.as_str()]).collect()
    };
    let pearson = |x: &[f64], y: &[f64]| {
        let n = x.len() as f64;
        let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
        let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
        let sxx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
        let syy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
        sxy / (sxx * syy).sqrt()
    };
    let order = |t: &[f64]| {
        let mut o: Vec<usize> = (0..t.len()).collect();
        o.sort_by(|&a, &b| t[a].total_cmp(&t[b]));
        o
    };
    let choix: Vec<f64> = bt["theta"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let collapsed: Vec<f64> = bt["theta_unique"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    for db in [db_s, db2_s] {
        let ours = rank(db);
        let r = pearson(&ours, &choix);
        assert!(r >= 0.999, "r = {r}: {ours:?} vs choix {choix:?}");
        assert_eq!(order(&ours), order(&choix), "same order as choix");
        // The data is sensitive to collapsing: the deduplicated lines rank differently.
        assert!(pearson(&ours, &collapsed) < 0.95 || order(&ours) != order(&collapsed));
    }
}

/// An export written before events carried their id (an event imported without a time has
/// its import time there) imports back onto the same collection without duplicates.
#[test]
fn old_exports_without_ids_import_back_without_duplicates() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, db) = scanned_demo(tmp.path(), "demo.db");
    let (d, db_s) = (dir.to_str().unwrap(), db.to_str().unwrap());
    let file = tmp.path().join("labels.jsonl");
    std::fs::write(
        &file,
        [
            pair("r1", A, B, A),
            pair("r1", A, B, A),
            pair("r2", C, D, D),
        ]
        .join("\n")
            + "\n",
    )
    .unwrap();
    let o = run(&[
        "label",
        "import",
        d,
        "--db",
        db_s,
        "--file",
        file.to_str().unwrap(),
    ]);
    assert!(
        stdout(&o).starts_with("imported 3 events"),
        "{}",
        stdout(&o)
    );
    let out = tmp.path().join("export.jsonl");
    run(&[
        "label",
        "export",
        d,
        "--db",
        db_s,
        "--file",
        out.to_str().unwrap(),
    ]);
    // Strip the ids, as an older Assay wrote the file.
    let old: Vec<String> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("id");
            assert!(v["time"].is_string(), "the export writes the import time");
            v.to_string()
        })
        .collect();
    let old_file = tmp.path().join("old.jsonl");
    std::fs::write(&old_file, old.join("\n") + "\n").unwrap();
    let o = run(&[
        "label",
        "import",
        d,
        "--db",
        db_s,
        "--file",
        old_file.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("imported 0 events, 3 already present"),
        "{}",
        stdout(&o)
    );
    // A genuinely new judgement with a time is still added.
    let mut v: serde_json::Value = serde_json::from_str(&old[0]).unwrap();
    v["time"] = "2026-01-01T00:00:00.000Z".into();
    std::fs::write(&old_file, v.to_string() + "\n").unwrap();
    let o = run(&[
        "label",
        "import",
        d,
        "--db",
        db_s,
        "--file",
        old_file.to_str().unwrap(),
    ]);
    assert!(
        stdout(&o).starts_with("imported 1 events"),
        "{}",
        stdout(&o)
    );
}
