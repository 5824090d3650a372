//! `assay hands` and the hand signals of a scan (MediaPipe models, `models::hands`). Model
//! parity is a unit test (`models/hands/parity_tests.rs`); no fixture shows a hand the landmark
//! model accepts, so these check the plumbing: palms reported, none counted, signals stored,
//! `--no-hands` switching them off and a later scan with hands recomputing.

use crate::common::{fixtures_dir, run, scan_json, stderr, stdout, table_json};

#[test]
fn hands_cli_reports_palms_in_json() {
    let Some(fx) = fixtures_dir("hands_cli_reports_palms_in_json") else {
        return;
    };
    let novelai = fx.join("generated/novelai-full.png");
    let astronaut = fx.join("photos/astronaut.png");
    let missing = fx.join("photos/does-not-exist.png");
    let o = run(&[
        "hands",
        novelai.to_str().unwrap(),
        astronaut.to_str().unwrap(),
        missing.to_str().unwrap(),
        "--format",
        "json",
        "--backend",
        "cpu",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let palms = v[0]["hands"].as_array().unwrap();
    assert!(!palms.is_empty(), "novelai-full.png has palm detections");
    for h in palms {
        assert_eq!(h["landmarks"].as_array().unwrap().len(), 21);
        assert!(h["palm_score"].as_f64().unwrap() >= 0.5);
        assert_eq!(h["present"], h["presence"].as_f64().unwrap() >= 0.5);
    }
    assert_eq!(v[0]["landmark_names"][0], "wrist");
    assert_eq!(v[0]["hand_count"], 0);
    assert!(v[1]["hands"].as_array().unwrap().is_empty());
    assert!(v[2]["error"].as_str().unwrap().contains("cannot read"));
}

#[test]
fn scan_stores_hand_signals_and_no_hands_turns_them_off() {
    let Some(fx) = fixtures_dir("scan_stores_hand_signals_and_no_hands_turns_them_off") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("imgs");
    std::fs::create_dir(&dir).unwrap();
    for f in ["generated/step7.png", "photos/astronaut.png"] {
        let src = fx.join(f);
        std::fs::copy(&src, dir.join(src.file_name().unwrap())).unwrap();
    }
    let db = tmp.path().join("a.db");
    let (code, s) = scan_json(&dir, &db, &["--no-clip", "--no-faces", "--no-hands"]);
    assert_eq!(code, 0);
    assert_eq!(s["hands"], false);
    let rows = table_json(&dir, &db, &["--columns", "path,hand_count"]);
    assert!(rows.iter().all(|r| r["hand_count"].is_null()), "{rows:?}");

    // Hands on: the files are unchanged but their signals lack hands, so they are recomputed.
    let (code, s) = scan_json(&dir, &db, &["--no-clip", "--no-faces"]);
    assert_eq!(code, 0);
    assert_eq!(s["hands"], true);
    assert_eq!(s["refreshed"], 2, "{s}");
    assert_eq!(s["images_with_hands"], 0);
    let rows = table_json(&dir, &db, &["--columns", "path,hand_count,hand_defect"]);
    for r in &rows {
        assert_eq!(r["hand_count"], 0.0, "{r}");
        assert!(r["hand_defect"].is_null(), "{r}");
    }
    // A scan without hands keeps them current.
    let (_, s) = scan_json(&dir, &db, &["--no-clip", "--no-faces", "--no-hands"]);
    assert_eq!(s["unchanged"], 2, "{s}");
}
