//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The fixtures folder (`$ASSAY_FIXTURES`, default `../shared/fixtures`). When it is absent the
/// caller's test prints that it was skipped and why; with `ASSAY_REQUIRE_FIXTURES=1` (CI) a
/// missing folder fails the test instead.
pub fn fixtures_dir(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("ASSAY_FIXTURES").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures"),
        PathBuf::from,
    );
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("ASSAY_REQUIRE_FIXTURES").as_deref() == Ok("1") {
        panic!(
            "{test}: fixtures folder {} is missing and ASSAY_REQUIRE_FIXTURES=1",
            dir.display()
        );
    }
    eprintln!(
        "SKIPPED {test}: fixtures folder {} not found (set ASSAY_FIXTURES to run it)",
        dir.display()
    );
    None
}

/// The binary under test: this build's, or `$ASSAY_TEST_BIN` (to check that a test fails on
/// another build, e.g. one from before a fix).
pub fn assay_exe() -> std::ffi::OsString {
    std::env::var_os("ASSAY_TEST_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_assay").into())
}

pub fn assay() -> Command {
    let mut c = Command::new(assay_exe());
    c.env_remove("RUST_LOG");
    // CLIP weights installed on the developer's machine must not change what the tests see:
    // the scan would embed and score with them. Tests that want a model pass `--models` /
    // `--model` (or set these variables again after `assay()`).
    let nowhere = std::env::temp_dir().join("assay-tests-no-models");
    c.env_remove("ASSAY_MODELS")
        .env("XDG_DATA_HOME", &nowhere)
        .env("HF_HUB_CACHE", &nowhere);
    c
}

/// Runs `assay args…` and returns the output.
pub fn run(args: &[&str]) -> Output {
    assay().args(args).output().expect("cannot run assay")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `assay scan DIR --db DB --backend cpu --format json -q` → (exit code, summary JSON).
pub fn scan_json(dir: &Path, db: &Path, extra: &[&str]) -> (i32, serde_json::Value) {
    let mut args = vec![
        "scan",
        dir.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "--backend",
        "cpu",
        "--format",
        "json",
        "-q",
    ];
    args.extend_from_slice(extra);
    let o = run(&args);
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "scan output is not JSON ({e}): {}\n{}",
            stdout(&o),
            stderr(&o)
        )
    });
    (o.status.code().unwrap_or(-1), summary)
}

/// `assay table DIR --db DB --format json [extra]` → array of row objects.
pub fn table_json(dir: &Path, db: &Path, extra: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec![
        "table",
        dir.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let o = run(&args);
    assert!(o.status.success(), "table failed: {}", stderr(&o));
    serde_json::from_slice::<Vec<serde_json::Value>>(&o.stdout).expect("table JSON")
}

/// Finds the row of `path` in table output.
pub fn row<'a>(rows: &'a [serde_json::Value], path: &str) -> &'a serde_json::Value {
    rows.iter()
        .find(|r| r["path"] == path)
        .unwrap_or_else(|| panic!("no row for {path}"))
}

/// Copies a folder tree (files only).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let name = e.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let (src, dst) = (e.path(), to.join(&name));
        if src.is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

/// Writes a small PNG with optional text chunks (key, value) and returns its bytes.
pub fn png_with_text(w: u32, h: u32, seed: u8, texts: &[(&str, &str)]) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([
            (x * 7 + u32::from(seed)) as u8,
            (y * 5) as u8,
            ((x ^ y) * 3) as u8,
        ])
    });
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        for (k, v) in texts {
            enc.add_text_chunk((*k).to_string(), (*v).to_string())
                .unwrap();
        }
        let mut wr = enc.write_header().unwrap();
        wr.write_image_data(img.as_raw()).unwrap();
    }
    out
}

/// Copies the shipped demo into `tmp/demo` and scans it into `tmp/<db_name>` (the copy keeps
/// tests from writing into the repository). Returns (folder, database).
pub fn scanned_demo(tmp: &Path, db_name: &str) -> (PathBuf, PathBuf) {
    let dir = tmp.join("demo");
    if !dir.exists() {
        copy_tree(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo"),
            &dir,
        );
    }
    let db = tmp.join(db_name);
    scan_json(&dir, &db, &[]);
    (dir, db)
}

/// Parses an XMP sidecar with a conforming XML 1.0 parser (xml-rs checks every character) and
/// returns the text of its `dc:description`; panics when the file is not well-formed XML.
pub fn xmp_description(path: &Path) -> String {
    use xml::reader::{EventReader, XmlEvent};
    let text = std::fs::read(path).unwrap();
    let mut stack: Vec<String> = Vec::new();
    let mut out = String::new();
    for ev in EventReader::new(text.as_slice()) {
        match ev.unwrap_or_else(|e| panic!("{} is not valid XML: {e}", path.display())) {
            XmlEvent::StartElement { name, .. } => stack.push(name.local_name),
            XmlEvent::EndElement { .. } => {
                stack.pop();
            }
            XmlEvent::Characters(t) | XmlEvent::Whitespace(t) | XmlEvent::CData(t)
                if stack.iter().any(|n| n == "description")
                    && stack.last().is_some_and(|n| n == "li") =>
            {
                out.push_str(&t);
            }
            _ => {}
        }
    }
    out
}
