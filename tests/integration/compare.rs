//! `assay compare` and `assay fidelity` on the fixture photos: a clean copy (A), a blurred and
//! noisy copy (B) and a mirrored copy (C, same distribution as A).

use std::path::{Path, PathBuf};

use crate::common::{fixtures_dir, run, scan_json, stderr, stdout};

/// Writes every photo of `src` into `dst` as PNG after `f`.
pub(crate) fn derive(src: &Path, dst: &Path, f: impl Fn(image::RgbImage, u64) -> image::RgbImage) {
    std::fs::create_dir_all(dst).unwrap();
    let mut names: Vec<_> = std::fs::read_dir(src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png" || e == "jpg"))
        .collect();
    names.sort();
    for (i, p) in names.iter().enumerate() {
        let img = image::open(p).unwrap().to_rgb8();
        let out = f(img, i as u64);
        let stem = p.file_stem().unwrap().to_str().unwrap();
        out.save(dst.join(format!("{stem}.png"))).unwrap();
    }
}

/// Gaussian blur σ = 3 plus deterministic pseudo-random noise (±40 grey levels).
pub(crate) fn degrade(img: image::RgbImage, seed: u64) -> image::RgbImage {
    let mut out = image::imageops::blur(&img, 3.0);
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for v in out.iter_mut() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        let noise = (s % 81) as i32 - 40;
        *v = (i32::from(*v) + noise).clamp(0, 255) as u8;
    }
    out
}

fn compare_json(args: &[&str]) -> serde_json::Value {
    let o = run(args);
    assert_eq!(o.status.code(), Some(0), "compare failed: {}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&o)))
}

fn check_intervals(r: &serde_json::Value, what: &str) {
    for key in ["fd", "precision", "recall", "density", "coverage"] {
        let v = r[key]["value"].as_f64().unwrap();
        let iv = &r[key]["interval"];
        let (lo, hi) = (iv[0].as_f64().unwrap(), iv[1].as_f64().unwrap());
        eprintln!("{what} {key}: {v:.4} [{lo:.4}, {hi:.4}]");
        assert!(lo <= hi, "{what} {key}: interval [{lo}, {hi}]");
        if key != "fd" {
            assert!(lo <= v && v <= hi, "{what} {key}: {v} outside [{lo}, {hi}]");
        }
    }
}

#[test]
fn compare_and_fidelity_on_photos() {
    let Some(fixtures) = fixtures_dir("compare_and_fidelity_on_photos") else {
        return;
    };
    let photos = fixtures.join("photos");
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("c"),
    );
    crate::common::copy_tree(&photos, &a);
    std::fs::remove_file(a.join("MANIFEST.tsv")).ok();
    derive(&photos, &b, degrade);
    derive(&photos, &c, |img, _| image::imageops::flip_horizontal(&img));
    let dbs: Vec<_> = ["a.db", "b.db", "c.db"]
        .iter()
        .map(|n| tmp.path().join(n))
        .collect();
    for (dir, db) in [(&a, &dbs[0]), (&b, &dbs[1]), (&c, &dbs[2])] {
        let (code, _) = scan_json(dir, db, &[]);
        assert_eq!(code, 0, "scan {}", dir.display());
    }
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let cmp = |x: &Path, y: &Path, dx: &Path, dy: &Path| {
        compare_json(&[
            "compare",
            &s(x),
            &s(y),
            "--db-a",
            &s(dx),
            "--db-b",
            &s(dy),
            "--format",
            "json",
            "--bootstrap",
            "100",
            "--kid-subsets",
            "20",
        ])
    };
    let ab = cmp(&a, &b, &dbs[0], &dbs[1]);
    let ac = cmp(&a, &c, &dbs[0], &dbs[2]);
    assert_eq!(
        (ab["n_a"].as_u64(), ab["n_b"].as_u64(), ab["d"].as_u64()),
        (Some(16), Some(16), Some(9))
    );
    assert!(
        ab["features"]
            .as_str()
            .unwrap()
            .starts_with("classical signals (fallback")
    );
    assert!(ab["fd"]["warnings"].to_string().contains("n_a = 16"));
    assert_eq!(ab["kid"]["subset_size"], 16);
    let fd = |r: &serde_json::Value| r["fd"]["value"].as_f64().unwrap();
    let prec = |r: &serde_json::Value| r["precision"]["value"].as_f64().unwrap();
    eprintln!(
        "FD A-B {:.4} vs A-C {:.4}; precision A->B {:.4} vs A->C {:.4}; KID A-B {:.4}±{:.4} vs A-C {:.4}±{:.4}",
        fd(&ab),
        fd(&ac),
        prec(&ab),
        prec(&ac),
        ab["kid"]["mean"].as_f64().unwrap(),
        ab["kid"]["std"].as_f64().unwrap(),
        ac["kid"]["mean"].as_f64().unwrap(),
        ac["kid"]["std"].as_f64().unwrap()
    );
    check_intervals(&ab, "A-B");
    check_intervals(&ac, "A-C");
    assert!(fd(&ab) > fd(&ac));
    assert!(prec(&ab) < prec(&ac));
    let rec = |r: &serde_json::Value| r["recall"]["value"].as_f64().unwrap();
    assert!(rec(&ab) < rec(&ac));

    // --by folder on the parent: groups a, b, c; baseline a (ties go to the first name).
    let all = tmp.path().join("all.db");
    let (code, _) = scan_json(tmp.path(), &all, &[]);
    assert_eq!(code, 0);
    let g = compare_json(&[
        "compare",
        &s(tmp.path()),
        "--db-a",
        &s(&all),
        "--by",
        "folder",
        "--format",
        "json",
        "--bootstrap",
        "20",
        "--kid-subsets",
        "5",
    ]);
    assert_eq!(g["baseline"], "a");
    let groups = g["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2);
    let fd_b = groups.iter().find(|x| x["group"] == "b").map(fd).unwrap();
    assert!(
        (fd_b - fd(&ab)).abs() < 1e-9 * fd(&ab).max(1.0),
        "{fd_b} vs {}",
        fd(&ab)
    );

    // Text output works too.
    let o = run(&[
        "compare",
        &s(&a),
        &s(&b),
        "--db-a",
        &s(&dbs[0]),
        "--db-b",
        &s(&dbs[1]),
        "--bootstrap",
        "10",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("FD"));

    // CLIP embeddings (the tiny reference model): `auto` now picks them, and the values equal
    // a --features-file comparison of the same vectors (printed by `assay embed FILE...`).
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/clip_tiny/hf");
    let m = s(&model);
    for (dir, db) in [(&a, &dbs[0]), (&b, &dbs[1])] {
        let o = run(&["embed", &s(dir), "--db", &s(db), "--model", &m]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    let clip = cmp(&a, &b, &dbs[0], &dbs[1]);
    assert!(
        clip["features"]
            .as_str()
            .unwrap()
            .starts_with("CLIP image embeddings"),
        "{}",
        clip["features"]
    );
    assert_eq!(
        (
            clip["n_a"].as_u64(),
            clip["n_b"].as_u64(),
            clip["d"].as_u64()
        ),
        (Some(16), Some(16), Some(16))
    );
    let classical = compare_json(&[
        "compare",
        &s(&a),
        &s(&b),
        "--db-a",
        &s(&dbs[0]),
        "--db-b",
        &s(&dbs[1]),
        "--features",
        "classical",
        "--format",
        "json",
        "--bootstrap",
        "10",
        "--kid-subsets",
        "5",
    ]);
    assert_eq!(classical["d"], 9, "--features classical still available");
    let csv_of = |dir: &Path| -> PathBuf {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e != "tsv"))
            .collect();
        files.sort();
        let mut args = vec![
            "embed".to_string(),
            "--model".into(),
            m.clone(),
            "--format".into(),
            "json".into(),
        ];
        args.extend(files.iter().map(|f| s(f)));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = run(&args);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let rows: Vec<String> = v["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|im| {
                let e: Vec<String> = im["embedding"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.to_string())
                    .collect();
                e.join(",")
            })
            .collect();
        assert_eq!(rows.len(), 16);
        let out = tmp.path().join(format!(
            "{}.csv",
            dir.file_name().unwrap().to_str().unwrap()
        ));
        std::fs::write(&out, rows.join("\n")).unwrap();
        out
    };
    let (ca, cb) = (csv_of(&a), csv_of(&b));
    let files = compare_json(&[
        "compare",
        "--features-file",
        &s(&ca),
        &s(&cb),
        "--format",
        "json",
        "--bootstrap",
        "100",
        "--kid-subsets",
        "20",
    ]);
    let close = |x: f64, y: f64| (x - y).abs() <= 1e-5 * x.abs().max(y.abs()).max(1e-12);
    assert!(
        close(fd(&clip), fd(&files)),
        "FD {} vs {}",
        fd(&clip),
        fd(&files)
    );
    let kid = |r: &serde_json::Value| r["kid"]["mean"].as_f64().unwrap();
    assert!(
        close(kid(&clip), kid(&files)),
        "KID {} vs {}",
        kid(&clip),
        kid(&files)
    );
    let o = run(&[
        "compare",
        &s(&a),
        &s(&b),
        "--db-a",
        &s(&dbs[0]),
        "--db-b",
        &s(&dbs[1]),
        "--model",
        "nope",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("'nope'"), "{}", stderr(&o));

    // Fidelity: B is a degraded A; A against itself is identical (PSNR null + identical).
    let o = run(&["fidelity", &s(&a), &s(&b), "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let f: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(f["pairs"].as_array().unwrap().len(), 16);
    let psnr_ab = f["mean"]["psnr"].as_f64().unwrap();
    let ssim_ab = f["mean"]["ssim"].as_f64().unwrap();
    eprintln!(
        "fidelity A-B: PSNR {psnr_ab:.2} dB, SSIM {ssim_ab:.4}, MS-SSIM {}",
        f["mean"]["ms_ssim"]
    );
    assert!(psnr_ab.is_finite() && ssim_ab < 1.0);
    let o = run(&["fidelity", &s(&a), &s(&a), "--format", "json"]);
    let same: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for p in same["pairs"].as_array().unwrap() {
        assert!(p["psnr"].is_null() && p["identical"] == true, "{p}");
        assert_eq!(p["ssim"].as_f64(), Some(1.0));
    }

    // An unpaired file makes the exit code 2.
    std::fs::write(
        b.join("extra.png"),
        std::fs::read(b.join("coins.png")).unwrap(),
    )
    .unwrap();
    let o = run(&["fidelity", &s(&a), &s(&b), "--format", "json"]);
    assert_eq!(o.status.code(), Some(2));
    let f: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(f["unpaired_test"][0], "extra.png");
}

fn npy_f8(rows: &[Vec<f64>]) -> Vec<u8> {
    let d = rows[0].len();
    let mut header = format!(
        "{{'descr': '<f8', 'fortran_order': False, 'shape': ({}, {d}), }}",
        rows.len()
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for r in rows {
        for v in r {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out
}

#[test]
fn compare_feature_files_and_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let grid = |shift: f64| -> Vec<Vec<f64>> {
        (0..30)
            .map(|i| {
                vec![
                    f64::from(i % 6) + shift,
                    f64::from(i / 6),
                    f64::from((i * 7) % 11) * 0.3,
                ]
            })
            .collect()
    };
    let (fa, fb) = (tmp.path().join("a.npy"), tmp.path().join("b.npy"));
    std::fs::write(&fa, npy_f8(&grid(0.0))).unwrap();
    std::fs::write(&fb, npy_f8(&grid(0.5))).unwrap();
    let r = compare_json(&[
        "compare",
        "--features-file",
        fa.to_str().unwrap(),
        fb.to_str().unwrap(),
        "--format",
        "json",
        "--bootstrap",
        "50",
    ]);
    assert_eq!((r["n_a"].as_u64(), r["d"].as_u64()), (Some(30), Some(3)));
    assert!(r["fd"]["value"].as_f64().unwrap() > 0.0);
    assert!(r["features"].as_str().unwrap().contains("feature files"));

    // A wrong dtype is a clear error naming the file.
    let bad = tmp.path().join("bad.npy");
    std::fs::write(&bad, npy_f8(&grid(0.0))).unwrap();
    let mut bytes = std::fs::read(&bad).unwrap();
    let at = bytes.windows(3).position(|w| w == b"<f8").unwrap();
    bytes[at..at + 3].copy_from_slice(b"<i8");
    std::fs::write(&bad, bytes).unwrap();
    let o = run(&[
        "compare",
        "--features-file",
        bad.to_str().unwrap(),
        fb.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unsupported .npy dtype <i8") && stderr(&o).contains("bad.npy"),
        "{}",
        stderr(&o)
    );

    // Inception Score from logits files: identical confident rows give 1; rows spread evenly
    // over 10 classes (every split holds each class once) give almost exactly 10.
    let same: Vec<Vec<f64>> = (0..100)
        .map(|_| (0..10).map(|c| if c == 3 { 20.0 } else { 0.0 }).collect())
        .collect();
    let spread: Vec<Vec<f64>> = (0..100)
        .map(|i| {
            (0..10)
                .map(|c| if c == i % 10 { 20.0 } else { 0.0 })
                .collect()
        })
        .collect();
    let (ls, lp) = (tmp.path().join("same.npy"), tmp.path().join("spread.npy"));
    std::fs::write(&ls, npy_f8(&same)).unwrap();
    std::fs::write(&lp, npy_f8(&spread)).unwrap();
    let r = compare_json(&[
        "compare",
        "--logits",
        ls.to_str().unwrap(),
        lp.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let is = r["inception_score"].as_array().unwrap();
    assert_eq!(is.len(), 2);
    let mean = |i: usize| is[i]["mean"].as_f64().unwrap();
    assert!((mean(0) - 1.0).abs() < 1e-9, "{}", mean(0));
    assert!((mean(1) - 10.0).abs() < 1e-3, "{}", mean(1));
    assert_eq!(
        (is[1]["n"].as_u64(), is[1]["classes"].as_u64()),
        (Some(100), Some(10))
    );
    let o = run(&[
        "compare",
        "--logits",
        lp.to_str().unwrap(),
        "--is-splits",
        "200",
    ]);
    assert_ne!(
        o.status.code(),
        Some(0),
        "more splits than rows is an error"
    );

    // Missing catalogue: usage error, exit 1.
    let (x, y) = (tmp.path().join("x"), tmp.path().join("y"));
    std::fs::create_dir_all(&x).unwrap();
    std::fs::create_dir_all(&y).unwrap();
    let o = run(&["compare", x.to_str().unwrap(), y.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("run `assay scan"), "{}", stderr(&o));
}
