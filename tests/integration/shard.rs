//! Scale-out scoring (issue 22): `assay scan --shard I/N` in N concurrent processes, then
//! `assay merge`, gives the catalogue of a single scan; merging again adds nothing; a path
//! whose content differs between catalogues is a reported conflict.

use std::path::Path;
use std::process::Command;

use crate::common::{
    assay, copy_tree, fixtures_dir, png_with_text, run, scan_json, stderr, stdout, table_json,
};

/// Every column `assay table` has (`--list-columns`), comma-separated.
fn all_columns(dir: &Path) -> String {
    let o = run(&["table", dir.to_str().unwrap(), "--list-columns"]);
    assert!(o.status.success());
    stdout(&o).lines().collect::<Vec<_>>().join(",")
}

/// `assay table --format json` with every column, and the rows sorted by path.
fn full_table(dir: &Path, db: &Path, columns: &str) -> Vec<serde_json::Value> {
    table_json(dir, db, &["--columns", columns])
}

/// Columns left out of the comparison: none. `assay table` has no per-run column (image ids,
/// `first_seen` / `last_seen` scan times and the `scans` rows are not columns); `dup_group`
/// (the lowest image id of a group) is compared too: a merge into a new catalogue gives the
/// ids of a single scan.
const PER_RUN_COLUMNS: &[&str] = &[];

fn without_per_run(rows: Vec<serde_json::Value>) -> Vec<serde_json::Value> {
    rows.into_iter()
        .map(|mut r| {
            for c in PER_RUN_COLUMNS {
                r.as_object_mut().unwrap().remove(*c);
            }
            r
        })
        .collect()
}

/// `assay merge OUT DBS… --format json` → (exit code, summary).
fn merge(out: &Path, dbs: &[std::path::PathBuf]) -> (i32, serde_json::Value) {
    let mut c = assay();
    c.arg("merge").arg(out).args(dbs).args(["--format", "json"]);
    let o = c.output().unwrap();
    let v = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("merge output ({e}): {}\n{}", stdout(&o), stderr(&o)));
    (o.status.code().unwrap_or(-1), v)
}

/// Faces are on: the CPU detector computes each image on its own, so its face signals do not
/// depend on which images a scan batched together (they differed in the last bits, ~1e-7
/// relative, when same-size images shared products), and every column is byte-identical.
/// The fixtures get six near duplicates (same pixels, other text chunks, so other content
/// hashes): they fall into several shards, and only the merge can group them.
#[test]
fn sharded_scan_merged_equals_single_scan() {
    let Some(shared) = fixtures_dir("sharded_scan_merged_equals_single_scan") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let fixtures = tmp.path().join("col");
    copy_tree(&shared, &fixtures);
    std::fs::create_dir(fixtures.join("dups")).unwrap();
    for i in 0..6 {
        let n = i.to_string();
        let png = png_with_text(320, 320, 9, &[("Comment", n.as_str())]);
        std::fs::write(fixtures.join(format!("dups/copy-{i}.png")), png).unwrap();
    }
    let single = tmp.path().join("single.db");
    let (code, summary) = scan_json(&fixtures, &single, &[]);
    assert_eq!(code, 0);
    assert!(
        summary["near_duplicate_groups"].as_u64().unwrap() >= 1,
        "{summary}"
    );

    // Four shard scans at once, as four workers would run them.
    let n = 4;
    let shard_dbs: Vec<_> = (1..=n)
        .map(|i| tmp.path().join(format!("shard-{i}.db")))
        .collect();
    let children: Vec<_> = shard_dbs
        .iter()
        .enumerate()
        .map(|(i, db)| {
            let shard = format!("{}/{n}", i + 1);
            let mut c: Command = assay();
            c.arg("scan")
                .arg(&fixtures)
                .args(["--shard", &shard, "--db"])
                .arg(db)
                .args(["--backend", "cpu", "--format", "json", "-q"]);
            c.stdout(std::process::Stdio::piped()).spawn().unwrap()
        })
        .collect();
    let mut in_shards = 0;
    for child in children {
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let (new, others) = (
            s["new"].as_u64().unwrap(),
            s["other_shards"].as_u64().unwrap(),
        );
        assert_eq!(new + others, s["found"].as_u64().unwrap(), "{s}");
        assert!(new > 0, "every shard gets some of the 50 files: {s}");
        in_shards += new;
    }

    let columns = all_columns(&fixtures);
    let expected = without_per_run(full_table(&fixtures, &single, &columns));
    assert!(
        expected
            .iter()
            .any(|r| r["face_count"].as_f64().unwrap_or(0.0) > 0.0),
        "the face columns are compared with faces in them"
    );
    assert_eq!(
        in_shards as usize,
        expected.len(),
        "each file in exactly one shard"
    );
    // A shard catalogue holds its own files only; the near duplicates are in several.
    let by_shard: Vec<Vec<String>> = shard_dbs
        .iter()
        .map(|db| {
            table_json(&fixtures, db, &["--columns", "path"])
                .iter()
                .map(|r| r["path"].as_str().unwrap().to_string())
                .collect()
        })
        .collect();
    let with_dups = by_shard
        .iter()
        .filter(|p| p.iter().any(|p| p.starts_with("dups/")))
        .count();
    assert!(with_dups >= 2, "{by_shard:?}");
    let mut paths: Vec<String> = by_shard.concat();
    paths.sort();
    let single_paths: Vec<&str> = expected
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, single_paths);

    let merged = tmp.path().join("merged.db");
    let (code, first) = merge(&merged, &shard_dbs);
    assert_eq!(code, 0, "{first}");
    assert_eq!(first["conflicts_total"], 0);
    assert!(first["rows_added"].as_u64().unwrap() > 0);
    let got = without_per_run(full_table(&fixtures, &merged, &columns));
    assert_eq!(got.len(), expected.len());
    for (g, e) in got.iter().zip(&expected) {
        assert_eq!(g, e, "merged row differs from the single scan's");
    }

    // Merging the same shards again adds nothing.
    let counts = |db: &Path| {
        let s = assay::store::Store::open_read_only(db).unwrap();
        [
            "images",
            "metadata",
            "signals",
            "embeddings",
            "decisions",
            "label_events",
            "scans",
        ]
        .map(|t| s.count(t).unwrap())
    };
    let before = counts(&merged);
    let (code, again) = merge(&merged, &shard_dbs);
    assert_eq!(code, 0, "{again}");
    assert_eq!(again["rows_added"], 0, "{again}");
    assert_eq!(again["conflicts_total"], 0, "{again}");
    assert_eq!(counts(&merged), before);
    assert_eq!(
        without_per_run(full_table(&fixtures, &merged, &columns)),
        expected
    );
}

/// The same path with other content in two catalogues: reported (exit 2), not overwritten;
/// a decision made in a shard is merged once.
#[test]
fn merge_reports_conflicts_and_keeps_the_output() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("c");
    std::fs::create_dir(&dir).unwrap();
    let png = |seed: u8| {
        let img = image::RgbImage::from_fn(300, 300, |x, y| {
            image::Rgb([(x as u8).wrapping_mul(seed), y as u8, seed])
        });
        let mut v = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut v), image::ImageFormat::Png)
            .unwrap();
        v
    };
    std::fs::write(dir.join("a.png"), png(3)).unwrap();
    std::fs::write(dir.join("b.png"), png(5)).unwrap();
    let one = tmp.path().join("one.db");
    let (code, _) = scan_json(&dir, &one, &["--no-faces", "--shard", "1/1"]);
    assert_eq!(code, 0);
    let o = run(&[
        "decide",
        dir.to_str().unwrap(),
        "--status",
        "accepted",
        "b.png",
        "--db",
        one.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::write(dir.join("a.png"), png(7)).unwrap();
    let two = tmp.path().join("two.db");
    let (code, _) = scan_json(&dir, &two, &["--no-faces"]);
    assert_eq!(code, 0);

    let out = tmp.path().join("out.db");
    let (code, s) = merge(&out, &[one.clone(), two.clone()]);
    assert_eq!(code, 2, "{s}");
    assert_eq!(s["conflicts_total"], 1, "{s}");
    assert_eq!(s["conflicts"][0]["path"], "a.png");
    assert_eq!(s["conflicts"][0]["kind"], "content");
    assert_eq!(s["shards"][1]["images_present"], 1, "b.png is the same");
    assert_eq!(s["shards"][0]["decisions"], 1);
    let rows = table_json(&dir, &out, &["--columns", "path,hash,status"]);
    let first = table_json(&dir, &one, &["--columns", "path,hash,status"]);
    assert_eq!(rows, first, "the first catalogue's content is kept");
    assert_eq!(rows[1]["status"], "accepted");
    // Again: the same conflict, nothing added.
    let (code, s) = merge(&out, &[one, two]);
    assert_eq!((code, &s["rows_added"]), (2, &serde_json::json!(0)), "{s}");
}

#[test]
fn bad_shard_values_are_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    for bad in ["0/4", "5/4", "1/0", "x"] {
        let o = run(&["scan", tmp.path().to_str().unwrap(), "--shard", bad]);
        assert_eq!(o.status.code(), Some(1), "{bad}");
        assert!(stderr(&o).contains("expected I/N"), "{bad}: {}", stderr(&o));
    }
}
