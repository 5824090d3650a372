//! Incremental rescans: unchanged files are skipped, touched files re-read, changed content
//! becomes a new version (old signals invalidated, kept with the old row), deleted files are
//! marked missing and never erased.

use std::time::{Duration, SystemTime};

use crate::common::{png_with_text, scan_json, table_json};

fn set_mtime(path: &std::path::Path, t: SystemTime) {
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(t).unwrap();
}

#[test]
fn rescan_skips_versions_and_marks_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("col");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    for i in 0..4u8 {
        let p = dir.join(format!("sub/img{i}.png"));
        std::fs::write(
            &p,
            png_with_text(
                300,
                300,
                i * 40,
                &[("parameters", &format!("prompt {i}\nSteps: 20, Seed: {i}"))],
            ),
        )
        .unwrap();
    }
    let db = tmp.path().join("a.db");
    let (code, s) = scan_json(&dir, &db, &[]);
    assert_eq!(code, 0, "{s}");
    assert_eq!(
        (s["new"].as_u64(), s["unchanged"].as_u64()),
        (Some(4), Some(0))
    );

    // Nothing changed: everything skipped.
    let (_, s) = scan_json(&dir, &db, &[]);
    assert_eq!(
        (
            s["new"].as_u64(),
            s["unchanged"].as_u64(),
            s["refreshed"].as_u64()
        ),
        (Some(0), Some(4), Some(0))
    );

    // Touch (same bytes, new mtime): re-read, same version.
    let p0 = dir.join("sub/img0.png");
    set_mtime(&p0, SystemTime::now() + Duration::from_secs(10));
    // Change content of img1: new version.
    let p1 = dir.join("sub/img1.png");
    std::fs::write(
        &p1,
        png_with_text(
            320,
            300,
            200,
            &[("parameters", "changed prompt\nSteps: 5, Seed: 99")],
        ),
    )
    .unwrap();
    set_mtime(&p1, SystemTime::now() + Duration::from_secs(20));
    // Delete img2.
    std::fs::remove_file(dir.join("sub/img2.png")).unwrap();

    let store_before = assay::store::Store::open(&db).unwrap();
    let old_id = store_before.image_id("sub/img1.png").unwrap().unwrap();
    let old_signals = store_before.signals_of(old_id).unwrap();
    assert!(!old_signals.is_empty());
    drop(store_before);

    let (code, s) = scan_json(&dir, &db, &[]);
    assert_eq!(code, 0, "{s}");
    assert_eq!(s["refreshed"].as_u64(), Some(1), "{s}");
    assert_eq!(s["changed"].as_u64(), Some(1), "{s}");
    assert_eq!(s["missing"].as_u64(), Some(1), "{s}");
    assert_eq!(s["unchanged"].as_u64(), Some(1), "{s}");

    let store = assay::store::Store::open(&db).unwrap();
    let versions = store.versions_of("sub/img1.png").unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(
        (versions[0].1, versions[0].2),
        (1, false),
        "old version no longer current"
    );
    assert_eq!((versions[1].1, versions[1].2), (2, true));
    // The old row keeps its (now invalid) signals; the new one has fresh ones.
    assert_eq!(store.signals_of(old_id).unwrap(), old_signals);
    let new_id = store.image_id("sub/img1.png").unwrap().unwrap();
    assert_ne!(new_id, old_id);
    assert!(!store.signals_of(new_id).unwrap().is_empty());
    assert_eq!(store.versions_of("sub/img0.png").unwrap().len(), 1);

    let rows = table_json(
        &dir,
        &db,
        &["--columns", "path,width,prompt,version,missing"],
    );
    let paths: Vec<_> = rows.iter().map(|r| r["path"].as_str().unwrap()).collect();
    assert_eq!(paths, vec!["sub/img0.png", "sub/img1.png", "sub/img3.png"]);
    assert_eq!(rows[1]["width"], 320);
    assert_eq!(rows[1]["prompt"], "changed prompt");
    assert_eq!(rows[1]["version"], 2);
    let all = table_json(
        &dir,
        &db,
        &["--include-missing", "--columns", "path,missing"],
    );
    assert_eq!(all.len(), 4, "missing rows are kept");
    assert_eq!(
        all.iter().find(|r| r["path"] == "sub/img2.png").unwrap()["missing"],
        1
    );

    // New hard-filter thresholds apply to unchanged files too, without re-reading them.
    let (_, s) = scan_json(&dir, &db, &["--min-side", "310"]);
    assert_eq!(s["unchanged"].as_u64(), Some(3), "{s}");
    let rows = table_json(&dir, &db, &["--columns", "path,size_ok"]);
    let size_ok: Vec<_> = rows
        .iter()
        .map(|r| r["size_ok"].as_i64().unwrap())
        .collect();
    assert_eq!(
        size_ok,
        vec![0, 0, 0],
        "300×300 and 320×300 fail a 310 px minimum"
    );
    let (_, _) = scan_json(&dir, &db, &[]);
    let rows = table_json(&dir, &db, &["--columns", "path,size_ok"]);
    assert!(rows.iter().all(|r| r["size_ok"] == 1));

    // The file comes back: no longer missing.
    std::fs::write(dir.join("sub/img2.png"), png_with_text(300, 300, 80, &[])).unwrap();
    let (_, s) = scan_json(&dir, &db, &[]);
    assert_eq!(s["missing"].as_u64(), Some(0), "{s}");
    assert_eq!(table_json(&dir, &db, &["--columns", "path"]).len(), 4);
}
