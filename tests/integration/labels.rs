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
    // Repeated identical judgements share a content id: the first is stored, repeats are
    // reported as already present.
    let store = assay::store::Store::open(&db).unwrap();
    let stored = store.count("label_events").unwrap() as usize;
    assert!(stored > 0 && stored < good, "{stored} of {good}");
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
