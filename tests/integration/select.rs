//! `assay select` with the shipped example policy on the demo: counts per band, reasons,
//! human decisions never overwritten, decisions keep their evidence, bad policies exit 1.

use crate::common::{run, scan_json, scanned_demo, stderr, table_json};

#[test]
fn select_applies_the_example_policy() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let (dir, db) = scanned_demo(tmp.path(), "demo.db");
    let (d, db_s) = (dir.to_str().unwrap(), db.to_str().unwrap());
    let policy = root.join("assets/policies/example.toml");
    let p = policy.to_str().unwrap();

    // A human already rejected the sharp astronaut: the policy must leave it alone.
    let store = assay::store::Store::open(&db).unwrap();
    let human_id = store
        .image_id("portrait_astronaut/seed_1001.png")
        .unwrap()
        .unwrap();
    store
        .append_decision(
            human_id,
            assay::domain::Status::Rejected,
            Some(1),
            "human",
            Some("I don't like it"),
        )
        .unwrap();
    drop(store);

    let o = run(&[
        "select",
        d,
        "--db",
        db_s,
        "--policy",
        p,
        "--dry-run",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        assay::store::Store::open(&db)
            .unwrap()
            .count("decisions")
            .unwrap(),
        1,
        "dry run writes nothing"
    );

    let o = run(&["select", d, "--db", db_s, "--policy", p, "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let counts = &s["counts"];
    let total: u64 = ["accepted", "review", "rejected"]
        .iter()
        .map(|k| counts[*k].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(total, 30, "31 images minus the human decision: {s}");
    assert_eq!(s["kept_human_decisions"], 1);
    assert!(counts["accepted"].as_u64().unwrap() >= 1);

    let rows = table_json(
        &dir,
        &db,
        &["--columns", "path,status,decision_source,decision_reason"],
    );
    let get = |p: &str| rows.iter().find(|r| r["path"] == p).unwrap().clone();
    let human = get("portrait_astronaut/seed_1001.png");
    assert_eq!(
        (human["status"].as_str(), human["decision_source"].as_str()),
        (Some("rejected"), Some("human"))
    );
    let blurry = get("portrait_astronaut/seed_1003.png");
    assert_eq!(
        (
            blurry["status"].as_str(),
            blurry["decision_reason"].as_str()
        ),
        (Some("rejected"), Some("blurry"))
    );
    assert_eq!(
        get("portrait_astronaut/seed_1007.png")["decision_reason"],
        "hard filter"
    );
    assert_eq!(
        get("portrait_astronaut/seed_1004.png")["decision_reason"],
        "noisy"
    );
    assert!(
        get("cat_chelsea/seed_3006_broken.png")["decision_reason"]
            .as_str()
            .unwrap()
            .starts_with("unreadable file")
    );
    assert!(
        get("coffee_cup/seed_2001.jpg")["decision_source"]
            .as_str()
            .unwrap()
            .starts_with("policy:portrait-v1@")
    );
    // At most top_k = 2 accepted per prompt group.
    let mut per_prompt = std::collections::HashMap::new();
    for r in table_json(&dir, &db, &["--columns", "prompt,status"]) {
        if r["status"] == "accepted" {
            *per_prompt.entry(r["prompt"].to_string()).or_insert(0) += 1;
        }
    }
    assert!(per_prompt.values().all(|n| *n <= 2), "{per_prompt:?}");

    // Bad policies: unknown signal named, exit 1.
    let bad = tmp.path().join("bad.toml");
    std::fs::write(
        &bad,
        std::fs::read_to_string(&policy)
            .unwrap()
            .replace("noise_sigma < 4", "nosie_sigma < 4"),
    )
    .unwrap();
    let o = run(&["select", d, "--db", db_s, "--policy", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("nosie_sigma"), "{}", stderr(&o));
}

fn counts_and_reasons(
    dir: &std::path::Path,
    db: &std::path::Path,
) -> (serde_json::Value, Vec<(String, String, u64)>) {
    let policy =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/policies/example.toml");
    let o = run(&[
        "select",
        dir.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
        "--dry-run",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let reasons = s["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["status"].as_str().unwrap().to_string(),
                r["reason"].as_str().unwrap().to_string(),
                r["count"].as_u64().unwrap(),
            )
        })
        .collect();
    (s["counts"].clone(), reasons)
}

/// The counts documented in assets/policies/README.md.
#[test]
fn documented_counts_of_the_example_policy() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, db) = scanned_demo(tmp.path(), "demo.db");
    let (counts, reasons) = counts_and_reasons(&dir, &db);
    assert_eq!(
        counts,
        serde_json::json!({"accepted": 7, "review": 1, "rejected": 23})
    );
    let rejected: u64 = reasons
        .iter()
        .filter(|r| r.0 == "rejected")
        .map(|r| r.2)
        .sum();
    assert_eq!(rejected, 23);
    for (reason, n) in [
        ("hard filter", 7),
        ("noisy", 4),
        ("blurry", 3),
        ("clipped", 3),
        ("unreadable file", 2),
    ] {
        assert!(
            reasons.contains(&("rejected".to_string(), reason.to_string(), n)),
            "{reason}: {reasons:?}"
        );
    }

    let Some(fixtures) =
        crate::common::fixtures_dir("documented_counts_of_the_example_policy (fixtures part)")
    else {
        return;
    };
    let db = tmp.path().join("fixtures.db");
    scan_json(&fixtures, &db, &[]);
    let (counts, reasons) = counts_and_reasons(&fixtures, &db);
    assert_eq!(
        counts,
        serde_json::json!({"accepted": 22, "review": 8, "rejected": 14})
    );
    for (reason, n) in [
        ("noisy", 7),
        ("hard filter", 2),
        ("blurry", 1),
        ("clipped", 1),
    ] {
        assert!(
            reasons.contains(&("rejected".to_string(), reason.to_string(), n)),
            "{reason}: {reasons:?}"
        );
    }
}
