//! `assay decide` + `assay export`: decisions recorded headlessly through the append-only log,
//! files copied or linked by status with a manifest and XMP sidecars, originals untouched.

use crate::common::{run, scan_json, scanned_demo, stderr, stdout};

#[test]
fn decide_then_export_with_xmp_and_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, db) = scanned_demo(tmp.path(), "demo.db");
    let (d, db_s) = (dir.to_str().unwrap(), db.to_str().unwrap());
    let original = std::fs::read(dir.join("coffee_cup/seed_2001.jpg")).unwrap();
    let mtime = std::fs::metadata(dir.join("coffee_cup/seed_2001.jpg"))
        .unwrap()
        .modified()
        .unwrap();

    let abs = dir.join("cat_chelsea/seed_3001.png");
    let o = run(&[
        "decide",
        d,
        "--db",
        db_s,
        "--status",
        "accepted",
        "--rating",
        "5",
        "coffee_cup/seed_2001.jpg",
        "portrait_astronaut/seed_1006.png",
        abs.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run(&[
        "decide",
        d,
        "--db",
        db_s,
        "--status",
        "rejected",
        "portrait_astronaut/seed_1003.png",
        "no/such.png",
    ]);
    assert_eq!(o.status.code(), Some(2), "an unknown path is reported");
    assert!(stderr(&o).contains("not in the catalogue: no/such.png"));
    assert_eq!(
        run(&[
            "decide", d, "--db", db_s, "--status", "accepted", "--rating", "9", "x.png"
        ])
        .status
        .code(),
        Some(1)
    );

    let out = tmp.path().join("picked");
    let o = run(&[
        "export",
        d,
        "--db",
        db_s,
        "--to",
        out.to_str().unwrap(),
        "--xmp",
        "--manifest",
        "csv",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("exported 3 files (0 already there, 0 failed)"),
        "{}",
        stdout(&o)
    );
    assert_eq!(std::fs::read(out.join("seed_2001.jpg")).unwrap(), original);
    let side = std::fs::read_to_string(out.join("seed_2001.jpg.xmp")).unwrap();
    assert!(
        side.contains("xmp:Rating=\"5\"") && side.contains("digiKam:PickLabel=\"3\""),
        "{side}"
    );
    assert!(side.contains("cappuccino"), "prompt as dc:description");
    let manifest = std::fs::read_to_string(out.join("manifest.csv")).unwrap();
    let mut lines = manifest.lines();
    let header = lines.next().unwrap();
    for col in [
        "exported_as",
        "path",
        "prompt",
        "seed",
        "blur_laplacian_var",
        "phash",
        "status",
        "rating",
    ] {
        assert!(
            header.split(',').any(|h| h == col),
            "manifest lacks {col}: {header}"
        );
    }
    assert_eq!(lines.count(), 3);

    // Twice: nothing new; rejected files go elsewhere; hard links work.
    let o = run(&[
        "export",
        d,
        "--db",
        db_s,
        "--to",
        out.to_str().unwrap(),
        "--xmp",
    ]);
    assert!(
        stdout(&o).starts_with("exported 0 files (3 already there"),
        "{}",
        stdout(&o)
    );
    let rej = tmp.path().join("rejected");
    let o = run(&[
        "export",
        d,
        "--db",
        db_s,
        "--to",
        rej.to_str().unwrap(),
        "--status",
        "rejected",
        "--mode",
        "hardlink",
        "--xmp",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        std::fs::read_to_string(rej.join("seed_1003.png.xmp"))
            .unwrap()
            .contains("xmp:Rating=\"-1\"")
    );

    // Never into the collection itself.
    let inside = dir.join("export");
    assert_eq!(
        run(&["export", d, "--db", db_s, "--to", inside.to_str().unwrap()])
            .status
            .code(),
        Some(1)
    );
    // Originals untouched.
    assert_eq!(
        std::fs::read(dir.join("coffee_cup/seed_2001.jpg")).unwrap(),
        original
    );
    assert_eq!(
        std::fs::metadata(dir.join("coffee_cup/seed_2001.jpg"))
            .unwrap()
            .modified()
            .unwrap(),
        mtime
    );
}

/// `assay calibrate`: a blur threshold learned from the humans' own decisions separates them.
#[test]
fn calibrate_learns_a_threshold_from_human_decisions() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, db) = scanned_demo(tmp.path(), "demo.db");
    let (d, db_s) = (dir.to_str().unwrap(), db.to_str().unwrap());
    let rows = crate::common::table_json(
        &dir,
        &db,
        &[
            "--columns",
            "path,blur_laplacian_var",
            "--where",
            "blur_laplacian_var is not null",
        ],
    );
    // A rater who accepts sharp images (variance ≥ 200) and rejects the rest.
    let (mut good, mut bad) = (Vec::new(), Vec::new());
    for r in &rows {
        let v = r["blur_laplacian_var"].as_f64().unwrap();
        (if v >= 200.0 { &mut good } else { &mut bad })
            .push((r["path"].as_str().unwrap().to_string(), v));
    }
    assert!(good.len() >= 2 && bad.len() >= 2);
    for (status, set) in [("accepted", &good), ("rejected", &bad)] {
        let mut args = vec!["decide", d, "--db", db_s, "--status", status];
        args.extend(set.iter().map(|(p, _)| p.as_str()));
        assert!(run(&args).status.success());
    }
    let o = run(&[
        "calibrate",
        d,
        "--db",
        db_s,
        "--signal",
        "blur_laplacian_var",
        "--holdout",
        "0",
        "--target-precision",
        "0.9",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let c: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let t = c["threshold"].as_f64().unwrap();
    let max_bad = bad.iter().map(|x| x.1).fold(f64::MIN, f64::max);
    let min_good = good.iter().map(|x| x.1).fold(f64::MAX, f64::min);
    assert!(
        max_bad < t && t <= min_good,
        "threshold {t} between {max_bad} and {min_good}"
    );
    assert_eq!(c["accept"]["precision"], 1.0, "{c}");
    assert_eq!(c["reject"]["good"], 0, "{c}");
    assert!(
        c["accept"]["interval"][0].as_f64().unwrap() < 1.0,
        "Wilson interval below 1: {c}"
    );
    // A lower-is-better signal flips the comparison; too few labels are said, not computed.
    let o = run(&[
        "calibrate",
        d,
        "--db",
        db_s,
        "--signal",
        "noise_sigma",
        "--holdout",
        "0",
    ]);
    assert!(stdout(&o).contains("noise_sigma ≤"), "{}", stdout(&o));
    let db2 = tmp.path().join("empty.db");
    scan_json(&dir, &db2, &[]);
    let o = run(&[
        "calibrate",
        d,
        "--db",
        db2.to_str().unwrap(),
        "--signal",
        "blur_laplacian_var",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("at least two accepted and two rejected"),
        "{}",
        stderr(&o)
    );
}
