//! A generated corpus of broken inputs: each one is recorded with a clear reason, the scan
//! completes, the good files are fine, the exit code is 2, and no file is modified.

use std::collections::HashMap;

use crate::common::{png_with_text, row, scan_json, table_json};

fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, 90])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

fn webp(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 200) as u8, (y % 200) as u8, 10])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::WebP).unwrap();
    out.into_inner()
}

/// A valid PNG whose header claims `w`×`h` (a decompression bomb: tiny file, huge image).
fn png_bomb(w: u32, h: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&crc.sum().to_be_bytes());
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit greyscale
    chunk(&mut out, b"IHDR", &ihdr);
    // A few zero rows, deflated: what makes bombs tiny.
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut z, &vec![0u8; 1 << 16]).unwrap();
    chunk(&mut out, b"IDAT", &z.finish().unwrap());
    chunk(&mut out, b"IEND", &[]);
    out
}

fn snapshot(dir: &std::path::Path) -> HashMap<String, (Vec<u8>, std::time::SystemTime)> {
    let mut m = HashMap::new();
    for e in walk(dir) {
        let meta = std::fs::symlink_metadata(&e).unwrap();
        if meta.is_file() {
            m.insert(
                e.display().to_string(),
                (std::fs::read(&e).unwrap(), meta.modified().unwrap()),
            );
        }
    }
    m
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if std::fs::symlink_metadata(&p).unwrap().is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn broken_files_are_reported_and_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("bad");
    std::fs::create_dir_all(&dir).unwrap();
    let good = png_with_text(
        300,
        300,
        1,
        &[("parameters", "a good prompt\nSteps: 20, Seed: 7")],
    );
    std::fs::write(dir.join("good.png"), &good).unwrap();
    std::fs::write(dir.join("zero.png"), b"").unwrap();
    std::fs::write(dir.join("text.png"), b"this is not an image at all").unwrap();
    std::fs::write(dir.join("trunc.png"), &good[..good.len() / 2]).unwrap();
    let j = jpeg(300, 300);
    std::fs::write(dir.join("trunc.jpg"), &j[..j.len() / 3]).unwrap();
    let w = webp(300, 300);
    std::fs::write(dir.join("trunc.webp"), &w[..w.len() / 2]).unwrap();
    // Right content, wrong extension: decodes, with a warning.
    std::fs::write(dir.join("really_png.jpg"), &good).unwrap();
    // Decompression bomb: 60000×60000 = 3.6 GP.
    std::fs::write(dir.join("bomb.png"), png_bomb(60_000, 60_000)).unwrap();
    // Giant metadata chunk (4 MiB) on an otherwise fine image: kept capped.
    let giant = "x".repeat(4 << 20);
    std::fs::write(
        dir.join("giant_meta.png"),
        png_with_text(300, 300, 2, &[("parameters", &giant)]),
    )
    .unwrap();
    // Invalid ComfyUI JSON graph: kept raw with a warning, never an error.
    std::fs::write(
        dir.join("bad_graph.png"),
        png_with_text(
            300,
            300,
            3,
            &[(
                "prompt",
                "{\"3\": {\"class_type\": \"KSampler\", \"inputs\": {",
            )],
        ),
    )
    .unwrap();
    // A dangling symbolic link with an image name (unreadable).
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.join("nowhere.png"), dir.join("dangling.png")).unwrap();
    // A non-UTF-8 file name.
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt as _;
        let name = std::ffi::OsStr::from_bytes(b"caf\xe9.png");
        std::fs::write(dir.join(name), &good).unwrap();
    }
    let before = snapshot(&dir);

    let db = tmp.path().join("bad.db");
    let (code, s) = scan_json(&dir, &db, &[]);
    assert_eq!(code, 2, "some inputs failed → exit 2: {s}");
    let errors: HashMap<String, String> = s["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["path"].as_str().unwrap().to_string(),
                e["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expect = [
        ("zero.png", "empty file"),
        ("text.png", "not a recognised image format"),
        ("trunc.png", "corrupt or truncated png"),
        ("trunc.jpg", "corrupt or truncated jpeg"),
        ("trunc.webp", "corrupt or truncated webp"),
        ("bomb.png", "above the 100 MP limit"),
    ];
    for (path, reason) in expect {
        let got = errors
            .get(path)
            .unwrap_or_else(|| panic!("{path} not reported: {s}"));
        assert!(
            got.contains(reason),
            "{path}: '{got}' should mention '{reason}'"
        );
    }
    // A dangling link with an image name is a file that cannot be read (issue 17: it was
    // reported as a skipped folder), counted with the failed files.
    let dangling = usize::from(cfg!(unix));
    assert_eq!(
        s["failed"].as_u64(),
        Some((expect.len() + dangling) as u64),
        "{s}"
    );
    #[cfg(unix)]
    {
        let got = errors
            .get("dangling.png")
            .unwrap_or_else(|| panic!("dangling link not reported as a file: {s}"));
        assert!(got.contains("broken symbolic link"), "{got}");
        assert!(
            !s["folder_errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["path"].as_str().unwrap().ends_with("dangling.png")),
            "not a folder: {s}"
        );
    }
    assert!(s["failures_by_reason"]["corrupt or truncated"].as_u64() >= Some(3));

    let rows = table_json(
        &dir,
        &db,
        &[
            "--columns",
            "path,error,prompt,warnings,raw,width,blur_laplacian_var",
        ],
    );
    // Every file is in the table: failed ones with their reason.
    for (path, reason) in expect {
        assert!(row(&rows, path)["error"].as_str().unwrap().contains(reason));
    }
    let g = row(&rows, "good.png");
    assert!(g["error"].is_null());
    assert_eq!(g["prompt"], "a good prompt");
    assert!(g["blur_laplacian_var"].as_f64().is_some());
    let wrong_ext = row(&rows, "really_png.jpg");
    assert!(wrong_ext["error"].is_null());
    assert!(
        wrong_ext["warnings"].to_string().contains("content is png"),
        "{wrong_ext}"
    );
    let giant_row = row(&rows, "giant_meta.png");
    assert!(giant_row["error"].is_null());
    let raw = giant_row["raw"].as_array().unwrap();
    assert!(
        raw.iter().any(|e| e["truncated"] == true),
        "giant chunk must be capped: truncated flag"
    );
    assert!(
        raw.iter()
            .all(|e| e["value"].as_str().unwrap().len() < (1 << 20))
    );
    let bad_graph = row(&rows, "bad_graph.png");
    assert!(bad_graph["error"].is_null());
    assert!(bad_graph["prompt"].is_null());
    assert!(!bad_graph["warnings"].is_null(), "invalid JSON must warn");
    assert!(
        bad_graph["raw"].to_string().contains("KSampler"),
        "raw kept"
    );
    #[cfg(unix)]
    {
        let cafe = rows
            .iter()
            .find(|r| r["path"].as_str().unwrap().starts_with("caf"))
            .unwrap();
        assert!(cafe["error"].is_null());
        assert_eq!(cafe["prompt"], "a good prompt");
    }
    // Originals untouched (bytes and mtimes), and only our database was written.
    assert_eq!(snapshot(&dir), before);

    // A rescan still reports the unchanged failures (exit 2) without re-reading them.
    // (A dangling link has nothing to remember it by: it is reported again as it is found.)
    let (code, s) = scan_json(&dir, &db, &[]);
    assert_eq!(code, 2);
    assert_eq!(s["failed"].as_u64(), Some(dangling as u64), "{s}");
    assert_eq!(
        s["failed_earlier"].as_u64(),
        Some(expect.len() as u64),
        "{s}"
    );

    // A lower pixel limit is honoured.
    let db2 = tmp.path().join("limit.db");
    let (_, s) = scan_json(&dir, &db2, &["--max-pixels", "1000"]);
    assert!(
        s["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["path"] == "good.png" && e["reason"].as_str().unwrap().contains("limit"))
    );
}

#[test]
fn read_only_collection_works_with_db_elsewhere() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ro");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a.png"), png_with_text(300, 300, 9, &[])).unwrap();
    let db = tmp.path().join("elsewhere/assay.db");
    let (code, s) = scan_json(&dir, &db, &[]);
    assert_eq!(code, 0, "{s}");
    assert!(db.exists());
    assert!(
        !dir.join(".assay").exists(),
        "nothing written into the collection"
    );
}

#[test]
fn unwritable_collection_falls_back_to_the_user_data_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("col");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("a.png"),
        png_with_text(300, 300, 9, &[("parameters", "fallback prompt\nSteps: 3")]),
    )
    .unwrap();
    // A file named `.assay` makes `<dir>/.assay/` impossible to create, as a read-only folder
    // would (tests run as root, for whom permission bits do not stop writes).
    std::fs::write(dir.join(".assay"), b"not a folder").unwrap();
    let data = tmp.path().join("xdg-data");
    let o = crate::common::assay()
        .args([
            "scan",
            dir.to_str().unwrap(),
            "--backend",
            "cpu",
            "--format",
            "json",
            "-q",
        ])
        .env("XDG_DATA_HOME", &data)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", crate::common::stderr(&o));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["database_fallback"], true);
    assert!(
        s["database"]
            .as_str()
            .unwrap()
            .starts_with(data.to_str().unwrap()),
        "{s}"
    );
    let o = crate::common::assay()
        .args([
            "table",
            dir.to_str().unwrap(),
            "--format",
            "jsonl",
            "--columns",
            "path,prompt",
        ])
        .env("XDG_DATA_HOME", &data)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", crate::common::stderr(&o));
    assert_eq!(
        crate::common::stdout(&o),
        "{\"path\":\"a.png\",\"prompt\":\"fallback prompt\"}\n"
    );
    assert_eq!(std::fs::read(dir.join(".assay")).unwrap(), b"not a folder");
}

#[test]
fn usage_errors_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    let o = crate::common::run(&["scan", tmp.path().join("nope").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(crate::common::stderr(&o).contains("is not a folder"));
    let dir = tmp.path().join("c");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a.png"), png_with_text(300, 300, 9, &[])).unwrap();
    let db = tmp.path().join("c.db");
    scan_json(&dir, &db, &[]);
    let t = |extra: &[&str]| {
        let mut a = vec!["table", dir.to_str().unwrap(), "--db", db.to_str().unwrap()];
        a.extend_from_slice(extra);
        crate::common::run(&a)
    };
    assert_eq!(t(&["--columns", "path,nonsense"]).status.code(), Some(1));
    assert_eq!(
        t(&["--where", "blur_laplacian_var <"]).status.code(),
        Some(1)
    );
    assert_eq!(t(&["--sort", "width:sideways"]).status.code(), Some(1));
    assert_eq!(t(&["--where", "bogus > 1"]).status.code(), Some(1));
    let o = t(&[
        "--where",
        "width >= 300 and blank = 0",
        "--columns",
        "path,width",
        "--format",
        "csv",
    ]);
    assert!(o.status.success());
    assert_eq!(crate::common::stdout(&o), "path,width\na.png,300\n");
    let o = t(&["--where", "width > 300", "--format", "jsonl"]);
    assert_eq!(crate::common::stdout(&o), "");
}
