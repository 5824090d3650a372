//! `assay monitor` on one collection with two sub-folders: `clean/` (the fixture photos) and
//! `degraded/` (blurred and noisy copies made here). The degraded batch drifts on sharpness;
//! human review decisions show up as its review rate; the HTML report is self-contained.

use crate::common::{fixtures_dir, run, scan_json, stderr, stdout};
use crate::compare::{degrade, derive};

#[test]
fn monitor_flags_the_degraded_batch() {
    let Some(fixtures) = fixtures_dir("monitor_flags_the_degraded_batch") else {
        return;
    };
    let photos = fixtures.join("photos");
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("coll");
    derive(&photos, &root.join("clean"), |img, _| img);
    derive(&photos, &root.join("degraded"), degrade);
    let db = tmp.path().join("m.db");
    let (code, _) = scan_json(&root, &db, &[]);
    assert_eq!(code, 0);
    let (r, d) = (root.to_str().unwrap(), db.to_str().unwrap());
    let mut names: Vec<String> = std::fs::read_dir(root.join("degraded"))
        .unwrap()
        .map(|e| format!("degraded/{}", e.unwrap().file_name().to_str().unwrap()))
        .collect();
    names.sort();
    let o = run(&[
        "decide", r, "--db", d, "--status", "review", &names[0], &names[1],
    ]);
    assert_eq!(o.status.code(), Some(0), "decide: {}", stderr(&o));
    let o = run(&[
        "monitor",
        r,
        "--db",
        d,
        "--by",
        "folder",
        "--baseline",
        "clean",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "monitor: {}", stderr(&o));
    let j: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&o)));
    let batches = j["batches"].as_array().unwrap();
    assert_eq!(batches.len(), 2);
    let (clean, deg) = (&batches[0], &batches[1]);
    assert_eq!(clean["batch"], "clean");
    assert_eq!(clean["baseline"], true);
    assert_eq!(clean["n"], deg["n"]);
    let n = deg["n"].as_f64().unwrap();
    assert_eq!(deg["review"], 2);
    assert!((deg["review_rate"].as_f64().unwrap() - 2.0 / n).abs() < 1e-12);
    assert_eq!(clean["review_rate"].as_f64(), Some(0.0));
    let sharp = &deg["signals"]["blur_laplacian_var"];
    eprintln!("degraded sharpness: {sharp}");
    assert_eq!(sharp["drift"], true);
    assert!(sharp["ks"]["p_value"].as_f64().unwrap() < 0.01);
    // Blur + ±40 noise moves every image's Laplacian variance out of the clean range.
    assert!(sharp["ks"]["statistic"].as_f64().unwrap() >= 0.9);
    assert!(sharp["psi"].as_f64().unwrap() >= 0.25);
    assert!(
        clean["signals"]["blur_laplacian_var"]
            .get("drift")
            .is_none()
    );
    // The series over batches (what a time plot needs), in batch order.
    assert_eq!(
        j["series"]["batch"],
        serde_json::json!(["clean", "degraded"])
    );
    assert_eq!(j["series"]["review_rate"][1], deg["review_rate"]);
    let ci = &deg["review_rate_ci95"];
    assert!(ci[0].as_f64().unwrap() < 2.0 / n && 2.0 / n < ci[1].as_f64().unwrap());
    // By scan day: everything was scanned just now, so one batch holding every image.
    let o = run(&[
        "monitor",
        r,
        "--db",
        d,
        "--by",
        "scan_date",
        "--format",
        "json",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "monitor scan_date: {}",
        stderr(&o)
    );
    let by_day: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let days = by_day["batches"].as_array().unwrap();
    assert_eq!(days.len(), 1, "{by_day}");
    let day = days[0]["batch"].as_str().unwrap();
    assert!(day.len() == 10 && day.starts_with("20"), "{day}");
    assert_eq!(days[0]["n"].as_f64(), Some(2.0 * n));
    assert!(
        by_day["order"]
            .as_str()
            .unwrap()
            .starts_with("chronological")
    );
    let html = tmp.path().join("report.html");
    let o = run(&[
        "monitor",
        r,
        "--db",
        d,
        "--by",
        "folder",
        "--format",
        "html",
        "--out",
        html.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "monitor html: {}", stderr(&o));
    let text = std::fs::read_to_string(&html).unwrap();
    assert!(text.starts_with("<!DOCTYPE html>") && text.contains("<svg"));
    assert!(text.contains("DRIFT") && !text.contains("src=\"http"));
    assert!(text.contains("Review rate and agreement over batches"));
    let o = run(&[
        "monitor",
        r,
        "--db",
        d,
        "--by",
        "folder",
        "--baseline",
        "nope",
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "unknown baseline is a usage error"
    );
}
