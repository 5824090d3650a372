//! Issue 17, command-line items: deep expressions are positioned errors, label files are
//! validated line by line, control characters never reach the terminal raw, every command
//! exits quietly into a closed pipe, and the small items (HEIC, dangling links, empty
//! `parameters`, `compare` on nothing).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::common::{assay, png_with_text, row, run, scan_json, stderr, stdout, table_json};

fn small_collection(tmp: &Path, names: &[&str]) -> (PathBuf, PathBuf) {
    let dir = tmp.join("col");
    std::fs::create_dir_all(&dir).unwrap();
    for (i, n) in names.iter().enumerate() {
        std::fs::write(
            dir.join(n),
            png_with_text(20, 20, i as u8, &[("parameters", &format!("prompt {i}"))]),
        )
        .unwrap();
    }
    let db = tmp.join("c.db");
    scan_json(&dir, &db, &["--no-faces", "--no-clip"]);
    (dir, db)
}

#[test]
fn deep_expressions_are_errors_in_where_and_in_policies() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, db) = small_collection(tmp.path(), &["a.png", "b.png"]);
    let (d, dbs) = (dir.to_str().unwrap(), db.to_str().unwrap());
    let deep = format!(
        "{}blur_laplacian_var < 1{}",
        "(".repeat(15_000),
        ")".repeat(15_000)
    );
    let o = run(&["table", d, "--db", dbs, "--where", &deep]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("nested deeper than 100 levels"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("at character 100"), "{}", stderr(&o));
    let nots = format!("{}blank = 0{}", "not (".repeat(30_000), ")".repeat(30_000));
    let policy = tmp.path().join("p.toml");
    std::fs::write(
        &policy,
        format!(
            "name = \"deep\"\n[[gates]]\nwhen = \"{nots}\"\nreason = \"x\"\n[rank]\nrule = \"weighted_sum\"\nweights = {{ tenengrad = 1.0 }}\n[bands]\naccept = 0.5\nreject = 0.2\n"
        ),
    )
    .unwrap();
    let o = run(&[
        "select",
        d,
        "--db",
        dbs,
        "--policy",
        policy.to_str().unwrap(),
        "--dry-run",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("nested deeper than"), "{}", stderr(&o));
}

#[test]
fn label_files_are_validated_line_by_line() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, db) = small_collection(tmp.path(), &["a.png", "b.png", "c.png"]);
    let ok = |rater: &str| {
        format!(
            "{{\"protocol\":\"pairwise\",\"rater\":\"{rater}\",\"items\":[\"a.png\",\"b.png\"],\"choice\":\"a.png\"}}"
        )
    };
    let mut file: Vec<u8> = Vec::new();
    file.extend_from_slice(b"\xEF\xBB\xBF"); // BOM before line 1
    file.extend_from_slice(ok("bom").as_bytes());
    file.push(b'\n');
    let bad_lines: Vec<(Vec<u8>, &str)> = vec![
        (b"{\"protocol\":\"pairwise\",\"rater\":\"r\xff\"}".to_vec(), "not valid UTF-8"),
        (ok(&"x".repeat(50_000)).into_bytes(), "rater name is 50000 bytes long"),
        (
            b"{\"protocol\":\"multi\",\"rater\":\"r\",\"items\":[\"a.png\"],\"ratings\":{\"fidelity\":1e300}}".to_vec(),
            "whole number 1–5",
        ),
        (
            b"{\"protocol\":\"multi\",\"rater\":\"r\",\"items\":[\"a.png\"],\"ratings\":{\"fidelity\":-1e300}}".to_vec(),
            "whole number 1–5",
        ),
        (ok("evil\\u001b[2J").into_bytes(), "control character U+001B"),
        (
            b"{\"protocol\":\"pairwise\",\"rater\":\"r\",\"items\":[\"a.png\",\"b.png\"],\"choice\":\"a.png\",\"time\":\"yesterday\"}".to_vec(),
            "not an RFC 3339 date-time",
        ),
        (
            b"{\"protocol\":\"pairwise\",\"rater\":\"r\",\"items\":[\"a.png\",\"b.png\"],\"choice\":\"a.png\",\"order\":[\"a.png\",\"a.png\"]}".to_vec(),
            "not a permutation",
        ),
        (
            b"{\"protocol\":\"pairwise\",\"rater\":\"r\",\"items\":[\"a.png\",\"b.png\"],\"choice\":\"a.png\",\"order\":[\"c.png\",\"a.png\"]}".to_vec(),
            "not a permutation",
        ),
    ];
    for (l, _) in &bad_lines {
        file.extend_from_slice(l);
        file.push(b'\n');
    }
    file.extend_from_slice(ok("last").as_bytes());
    file.extend_from_slice(b"\r\n");
    let f = tmp.path().join("l.jsonl");
    std::fs::write(&f, &file).unwrap();
    let o = run(&[
        "label",
        "import",
        dir.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "--file",
        f.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!(
            "imported 2 events, 0 already present, {} lines rejected",
            bad_lines.len()
        )),
        "{}{}",
        stdout(&o),
        stderr(&o)
    );
    let err = stderr(&o);
    for (i, (_, why)) in bad_lines.iter().enumerate() {
        let line = err
            .lines()
            .find(|l| l.starts_with(&format!("line {}:", i + 2)))
            .unwrap_or_else(|| panic!("line {} is reported: {err}", i + 2));
        assert!(line.contains(why), "line {}: {line} (want {why})", i + 2);
        assert!(line.len() < 400, "bounded message: {} bytes", line.len());
    }
    assert!(!err.contains('\u{1b}'), "no raw escape on the terminal");
}

#[test]
fn control_characters_in_names_are_escaped_in_human_output() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("col");
    std::fs::create_dir_all(&dir).unwrap();
    let evil = "x\u{1b}[2J\u{1b}]0;pwned\u{7}.png";
    std::fs::write(dir.join(evil), b"not an image at all").unwrap();
    let db = tmp.path().join("c.db");
    let o = run(&[
        "scan",
        dir.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "--no-faces",
        "--no-clip",
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let out = stdout(&o);
    assert!(!out.contains('\u{1b}') && !out.contains('\u{7}'), "{out:?}");
    assert!(out.contains("x\\x1b[2J\\x1b]0;pwned\\x07.png"), "{out}");
    // Machine formats stay exact.
    let rows = table_json(&dir, &db, &["--columns", "path"]);
    assert_eq!(rows[0]["path"], evil);
}

/// Every command, writing into a pipe whose reader is gone (`assay … | head`), exits 0 without
/// a panic.
#[test]
fn every_command_exits_quietly_into_a_closed_pipe() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, db) = small_collection(tmp.path(), &["a.png", "b.png", "c.png"]);
    let (d, dbs) = (dir.to_str().unwrap(), db.to_str().unwrap());
    let labels = tmp.path().join("l.jsonl");
    std::fs::write(
        &labels,
        (0..30)
            .map(|i| {
                format!(
                    "{{\"protocol\":\"pairwise\",\"rater\":\"r{}\",\"items\":[\"a.png\",\"b.png\"],\"choice\":\"{}\",\"session\":\"s{i}\"}}\n",
                    i % 3,
                    if i % 2 == 0 { "a.png" } else { "b.png" }
                )
            })
            .collect::<String>(),
    )
    .unwrap();
    assert!(
        run(&[
            "label",
            "import",
            d,
            "--db",
            dbs,
            "--file",
            labels.to_str().unwrap()
        ])
        .status
        .success()
    );
    let out = tmp.path().join("out").display().to_string();
    let labels_s = labels.display().to_string();
    let policy = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets/policies/example.toml")
        .display()
        .to_string();
    let commands: Vec<Vec<&str>> = vec![
        vec!["fidelity", d, d],
        vec!["fidelity", d, d, "--format", "json"],
        vec!["table", d, "--db", dbs],
        vec!["table", d, "--db", dbs, "--format", "json"],
        vec!["table", d, "--list-columns"],
        vec!["signals"],
        vec!["signals", "--format", "json"],
        vec!["rank", d, "--db", dbs],
        vec!["agreement", d, "--db", dbs],
        vec!["label", "export", d, "--db", dbs, "--file", "-"],
        vec!["scan", d, "--db", dbs, "--no-faces", "--no-clip", "-q"],
        vec!["monitor", d, "--db", dbs, "--by", "folder"],
        vec!["models"],
        vec!["scorers", d, "--db", dbs],
        vec!["repair", d, "--db", dbs, "--list"],
        vec!["repair", d, "--db", dbs],
        vec!["decide", d, "--db", dbs, "--status", "accepted", "a.png"],
        vec!["export", d, "--db", dbs, "--to", &out],
        vec!["label", "import", d, "--db", dbs, "--file", &labels_s],
        vec!["select", d, "--db", dbs, "--policy", &policy, "--dry-run"],
        vec!["--help"],
    ];
    for args in commands {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader); // the reader is gone before anything is written
        let o = assay()
            .args(&args)
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let err = stderr(&o);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(o.status.code(), Some(0), "{args:?}: {err}");
    }
}

#[test]
fn heic_dangling_links_and_empty_parameters_are_reported_right() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("col");
    std::fs::create_dir_all(&dir).unwrap();
    let mut heic = vec![0, 0, 0, 24];
    heic.extend_from_slice(b"ftypheic\0\0\0\0mif1heic");
    heic.extend_from_slice(&[0u8; 200]);
    std::fs::write(dir.join("IMG_0001.HEIC"), heic).unwrap();
    std::os::unix::fs::symlink(dir.join("gone.png"), dir.join("dangling.png")).unwrap();
    std::fs::write(
        dir.join("empty-params.png"),
        png_with_text(20, 20, 1, &[("parameters", "")]),
    )
    .unwrap();
    let db = tmp.path().join("c.db");
    let o = run(&[
        "scan",
        dir.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "--no-faces",
        "--no-clip",
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let out = stdout(&o);
    assert!(
        out.contains("heic decoding is not built into this Assay: IMG_0001.HEIC"),
        "{out}"
    );
    assert!(out.contains("broken symbolic link"), "{out}");
    assert!(out.contains("dangling.png"), "{out}");
    assert!(!out.contains("folder skipped"), "{out}");
    let rows = table_json(&dir, &db, &["--columns", "path,tool,format"]);
    assert_eq!(row(&rows, "IMG_0001.HEIC")["format"], "heic");
    assert_eq!(
        row(&rows, "empty-params.png")["tool"],
        serde_json::Value::Null
    );
}

#[test]
fn compare_on_empty_catalogues_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let (da, db) = (tmp.path().join("a.db"), tmp.path().join("b.db"));
    scan_json(&a, &da, &["--no-faces", "--no-clip"]);
    scan_json(&b, &db, &["--no-faces", "--no-clip"]);
    let o = run(&[
        "compare",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--db-a",
        da.to_str().unwrap(),
        "--db-b",
        db.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("no images with"), "{}", stderr(&o));
    assert!(
        !stderr(&o).contains("feature dimension is 0"),
        "{}",
        stderr(&o)
    );
}
