//! `assay signals import`: scores from an outside judge become a signal with provenance that
//! `table --sort/--where`, policies and exports use; bad rows are reported by line and skipped
//! (exit 2); re-importing replaces; a built-in key is refused; a rescan keeps the values.

use std::path::Path;

use crate::common::{copy_tree, fixtures_dir, run, scan_json, stderr, stdout, table_json};

/// The fixture photos copied into `tmp` and scanned without faces: (dir, db).
fn scanned_photos(tmp: &Path) -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    let fixtures = fixtures_dir("score_import")?;
    let dir = tmp.join("photos");
    copy_tree(&fixtures.join("photos"), &dir);
    let db = tmp.join("cat.db");
    let (code, _) = scan_json(&dir, &db, &["--no-faces"]);
    assert_eq!(code, 0);
    Some((dir, db))
}

fn import(dir: &str, db: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["signals", "import", dir, "--db", db];
    args.extend_from_slice(extra);
    run(&args)
}

/// `path → value of key` from `assay table`.
fn values(dir: &Path, db: &Path, key: &str) -> Vec<(String, serde_json::Value)> {
    table_json(dir, db, &["--columns", &format!("path,{key}")])
        .into_iter()
        .map(|r| (r["path"].as_str().unwrap().to_string(), r[key].clone()))
        .collect()
}

fn value_of(all: &[(String, serde_json::Value)], path: &str) -> serde_json::Value {
    all.iter().find(|(p, _)| p == path).unwrap().1.clone()
}

#[test]
fn imported_scores_sort_filter_feed_policies_and_replace() {
    let tmp = tempfile::tempdir().unwrap();
    let Some((dir, db)) = scanned_photos(tmp.path()) else {
        return;
    };
    let (d, db_s) = (dir.to_str().unwrap(), db.to_str().unwrap());
    // A BOM, CRLF line endings, `./` and absolute paths, and bad rows.
    let csv = format!(
        "\u{feff}path,score\r\nastronaut.png,0.9\r\n./camera.png,0.2\r\n{d}/chelsea.png,0.5\r\n\
         coffee.png,abc\r\ncoins.png,0.7\r\ngravel.png,nan\r\nnope.png,1\r\nastronaut.png,0.1\r\n"
    );
    let file = tmp.path().join("vqa.csv");
    std::fs::write(&file, &csv).unwrap();
    let f = file.to_str().unwrap();
    let o = import(
        d,
        db_s,
        &[
            "--file",
            f,
            "--key",
            "path",
            "--name",
            "vqa",
            "--producer",
            "vqascore",
            "--version",
            "1.0",
            "--label",
            "VQAScore",
            "--format",
            "json",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(2),
        "bad rows: partial\n{}",
        stderr(&o)
    );
    let err = stderr(&o);
    for line in [
        "line 5: score \"abc\" is not a number",
        "line 7: score \"nan\" is not finite",
        "line 8: unknown path \"nope.png\"",
        "line 9: duplicate path \"astronaut.png\" (first on line 2)",
    ] {
        assert!(err.contains(line), "{line} in {err}");
    }
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["rows"], 8);
    assert_eq!(r["matched"], 4);
    assert_eq!(r["unmatched"], 1);
    assert_eq!(r["duplicates"], 1);
    assert_eq!(r["invalid"], 2);
    assert_eq!(r["images"], 4);
    assert_eq!(r["replaced"], 0);
    assert_eq!(r["producer"], "ext:vqascore@1.0");
    assert_eq!(r["file_hash"], assay::catalog::content_hash(csv.as_bytes()));
    assert_eq!(r["bad_lines"].as_array().unwrap().len(), 4);

    // Sorting and filtering by it; it is a default column.
    let rows = table_json(
        &dir,
        &db,
        &[
            "--columns",
            "path,vqa",
            "--sort",
            "vqa:desc",
            "--where",
            "vqa > 0.3",
        ],
    );
    let order: Vec<&str> = rows.iter().map(|r| r["path"].as_str().unwrap()).collect();
    assert_eq!(order, vec!["astronaut.png", "coins.png", "chelsea.png"]);
    let all = table_json(&dir, &db, &[]);
    assert!(
        all.iter().all(|r| r.get("vqa").is_some()),
        "a default column"
    );
    assert!(
        all.iter()
            .any(|r| r["path"] == "camera.png" && r["vqa"] == 0.2)
    );

    // The registry and its provenance.
    let o = run(&["signals", "list", d, "--db", db_s, "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let l: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let def = l["signals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == "vqa")
        .unwrap();
    assert_eq!(def["group"], "imported");
    assert_eq!(def["direction"], "higher_is_better");
    assert_eq!(def["label"], "VQAScore");
    let prov = &l["imported"][0];
    assert_eq!(prov["producer"], "vqascore");
    assert_eq!(prov["version"], "1.0");
    assert_eq!(prov["matched"], 4);
    assert_eq!(prov["file_hash"], r["file_hash"]);

    // A policy names it: gate and rank.
    let policy = tmp.path().join("p.toml");
    std::fs::write(
        &policy,
        "name = \"imported\"\nscope = \"collection\"\n[[gates]]\nwhen = \"vqa >= 0.5\"\n\
         reason = \"low vqa\"\n[rank]\nrule = \"weighted_sum\"\nweights = { vqa = 1.0 }\n\
         [bands]\naccept = 0.0\nreject = 0.0\n",
    )
    .unwrap();
    let o = run(&[
        "select",
        d,
        "--db",
        db_s,
        "--policy",
        policy.to_str().unwrap(),
        "--dry-run",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["counts"]["accepted"], 3, "{s}");
    assert_eq!(s["counts"]["rejected"], 1, "{s}");
    assert_eq!(s["counts"]["review"], 12, "missing signal: {s}");

    // Exports carry it in the manifest.
    let out = tmp.path().join("out");
    let o = run(&[
        "export",
        d,
        "--db",
        db_s,
        "--to",
        out.to_str().unwrap(),
        "--status",
        "all",
        "--manifest",
        "csv",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let manifest = std::fs::read_to_string(out.join("manifest.csv")).unwrap();
    assert!(
        manifest
            .lines()
            .next()
            .unwrap()
            .split(',')
            .any(|c| c == "vqa")
    );

    // A rescan of a touched file (same content) keeps the imported value.
    let touched = std::fs::File::options()
        .write(true)
        .open(dir.join("astronaut.png"))
        .unwrap();
    touched
        .set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
        .unwrap();
    drop(touched);
    let (code, summary) = scan_json(&dir, &db, &["--no-faces"]);
    assert_eq!(code, 0);
    assert_eq!(summary["unchanged"], 15, "{summary}");
    assert_eq!(value_of(&values(&dir, &db, "vqa"), "astronaut.png"), 0.9);

    // Re-importing replaces every earlier value of the key, and only those.
    let tenengrad_before = values(&dir, &db, "tenengrad");
    std::fs::write(&file, "path,score\nastronaut.png,0.1\nkodim01.png,0.6\n").unwrap();
    let o = import(
        d,
        db_s,
        &[
            "--file",
            f,
            "--key",
            "path",
            "--name",
            "vqa",
            "--producer",
            "vqascore",
            "--version",
            "2",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("2 rows, 2 matched") && text.contains("replaced 4 earlier values"),
        "{text}"
    );
    let v = values(&dir, &db, "vqa");
    assert_eq!(value_of(&v, "astronaut.png"), 0.1);
    assert_eq!(value_of(&v, "kodim01.png"), 0.6);
    assert_eq!(value_of(&v, "camera.png"), serde_json::Value::Null);
    assert_eq!(v.iter().filter(|(_, x)| !x.is_null()).count(), 2);
    assert_eq!(values(&dir, &db, "tenengrad"), tenengrad_before);
    let store = assay::store::Store::open_read_only(&db).unwrap();
    let list = store.external_signals().unwrap();
    assert_eq!((list.len(), list[0].version.as_str()), (1, "2"));
    assert_eq!(list[0].rows, 2);
}

#[test]
fn jsonl_by_hash_and_refusals() {
    let tmp = tempfile::tempdir().unwrap();
    let Some((dir, db)) = scanned_photos(tmp.path()) else {
        return;
    };
    let (d, db_s) = (dir.to_str().unwrap(), db.to_str().unwrap());
    let rows = table_json(&dir, &db, &["--columns", "path,hash"]);
    let hash = |p: &str| {
        rows.iter().find(|r| r["path"] == p).unwrap()["hash"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let jsonl = format!(
        "{{\"hash\":\"{}\",\"score\":3.5}}\n{{\"hash\":\"{}\",\"score\":\"1.25\"}}\n\n",
        hash("camera.png").to_uppercase(),
        hash("coins.png")
    );
    let file = tmp.path().join("q.jsonl");
    std::fs::write(&file, jsonl).unwrap();
    let f = file.to_str().unwrap();
    let o = import(
        d,
        db_s,
        &[
            "--file",
            f,
            "--key",
            "hash",
            "--name",
            "q_align",
            "--direction",
            "lower",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = values(&dir, &db, "q_align");
    assert_eq!(value_of(&v, "camera.png"), 3.5);
    assert_eq!(value_of(&v, "coins.png"), 1.25);
    let l: serde_json::Value = serde_json::from_slice(
        &run(&["signals", "list", d, "--db", db_s, "--format", "json"]).stdout,
    )
    .unwrap();
    let def = l["signals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == "q_align")
        .unwrap()
        .clone();
    assert_eq!(def["direction"], "lower_is_better");
    // Default provenance: the key as the judge, the file's hash as the version.
    let file_hash = assay::catalog::content_hash(&std::fs::read(&file).unwrap());
    assert_eq!(def["producer"], format!("ext:q_align@{}", &file_hash[..8]));

    // A built-in key or a table column is refused (usage error), nothing written.
    for (name, says) in [("aesthetic", "built-in signal"), ("path", "table column")] {
        let o = import(d, db_s, &["--file", f, "--key", "hash", "--name", name]);
        assert_eq!(o.status.code(), Some(1), "{name}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{}", stderr(&o));
    }
    // No key column: a usage error naming the columns.
    let o = import(d, db_s, &["--file", f, "--key", "path", "--name", "q2"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "JSON lines without path: every row bad"
    );
    assert!(
        stderr(&o).contains("line 1: no \"path\" string"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).contains("nothing imported"), "{}", stdout(&o));
    let csv = tmp.path().join("bad.csv");
    std::fs::write(&csv, "file,score\na.png,1\n").unwrap();
    let o = import(
        d,
        db_s,
        &[
            "--file",
            csv.to_str().unwrap(),
            "--key",
            "path",
            "--name",
            "q3",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no `path` column"), "{}", stderr(&o));
    let store = assay::store::Store::open_read_only(&db).unwrap();
    let keys: Vec<String> = store
        .external_signals()
        .unwrap()
        .into_iter()
        .map(|s| s.key)
        .collect();
    assert_eq!(keys, vec!["q_align"]);
}
