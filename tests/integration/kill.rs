//! The store survives a kill mid-scan: batches committed before SIGKILL are intact, the database
//! passes `integrity_check`, and a rescan finishes the job with the same result as a clean scan.

use std::time::{Duration, Instant};

use crate::common::{assay, scan_json, table_json};

#[test]
fn store_survives_kill_mid_scan() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("many");
    std::fs::create_dir_all(&dir).unwrap();
    let n = 600;
    for i in 0..n {
        let img = assay_synthetic(256, i);
        img.save(dir.join(format!("img_{i:04}.png"))).unwrap();
    }
    let db = tmp.path().join("kill.db");
    let mut child = assay()
        .args([
            "scan",
            dir.to_str().unwrap(),
            "--db",
            db.to_str().unwrap(),
            "--backend",
            "cpu",
            "--jobs",
            "1",
            "--batch",
            "4",
            "-q",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until some batches are committed, then SIGKILL.
    let start = Instant::now();
    let mut committed = 0;
    while start.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(20));
        if let Some(status) = child.try_wait().unwrap() {
            panic!("scan finished before it could be killed ({status}); make the corpus larger");
        }
        if db.exists()
            && let Ok(s) = assay::store::Store::open(&db)
            && let Ok(c) = s.count("images")
            && c >= 8
        {
            committed = c;
            break;
        }
    }
    assert!(committed >= 8, "no batch committed within the time limit");
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();

    let store = assay::store::Store::open(&db).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    let partial = store.count("images").unwrap();
    assert!(
        partial >= committed && partial < i64::from(n),
        "partial = {partial}"
    );
    // Every committed image has its complete signal set (batches are atomic).
    let per_image = store.count("signals").unwrap() as f64 / partial as f64;
    drop(store);

    let (code, s) = scan_json(&dir, &db, &["--jobs", "1"]);
    assert_eq!(code, 0, "{s}");
    assert_eq!(
        s["unchanged"].as_i64(),
        Some(partial),
        "committed files are not redone: {s}"
    );
    assert_eq!(s["new"].as_i64(), Some(i64::from(n) - partial));

    let clean_db = tmp.path().join("clean.db");
    let (code, _) = scan_json(&dir, &clean_db, &["--jobs", "1"]);
    assert_eq!(code, 0);
    let a = table_json(&dir, &db, &[]);
    let b = table_json(&dir, &clean_db, &[]);
    assert_eq!(a.len(), n as usize);
    assert_eq!(a, b, "resumed scan equals a clean scan");
    let resumed = assay::store::Store::open(&db).unwrap();
    let after = resumed.count("signals").unwrap() as f64 / f64::from(n);
    // Committed batches held every per-image signal; `dup_group` is added once the scan ends.
    assert_eq!(per_image.fract(), 0.0, "batches are atomic: {per_image}");
    assert_eq!(
        after,
        per_image + 1.0,
        "same per-image signals, plus dup_group"
    );
}

/// Varied content so that images are not near-duplicates of each other.
fn assay_synthetic(size: u32, seed: u32) -> image::RgbImage {
    image::RgbImage::from_fn(size, size, |x, y| {
        let v = (x.wrapping_mul(seed + 3) ^ y.wrapping_mul(seed * 7 + 1)).wrapping_add(seed * 13);
        image::Rgb([
            (v % 251) as u8,
            ((v >> 3) % 241) as u8,
            ((x + y + seed) % 256) as u8,
        ])
    })
}
