//! Issue 17: an export never leaves a broken file under a real name — not on a full disk, not
//! when the process is killed — and a rerun recognises its own leftovers; names are kept byte
//! for byte; XMP sidecars are valid XML whatever the prompt holds; progress on a non-terminal
//! is plain lines.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common::{assay, png_with_text, run, scan_json, stderr, stdout};

/// A scanned folder of `n` small PNGs (`img0.png` …, prompts with control characters) with
/// every file accepted; returns (folder, database).
fn accepted_collection(tmp: &Path, n: usize) -> (PathBuf, PathBuf) {
    let dir = tmp.join("col");
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..n {
        let prompt =
            format!("a fox {i}\u{1}\u{1b}[2J\u{7f} & <tag> \"q\"\rline two\nline three\u{2}");
        std::fs::write(
            dir.join(format!("img{i}.png")),
            png_with_text(32, 32, i as u8, &[("parameters", &prompt)]),
        )
        .unwrap();
    }
    let db = tmp.join("cat.db");
    let (code, _) = scan_json(&dir, &db, &["--no-faces", "--no-clip"]);
    assert_eq!(code, 0);
    let mut args = vec![
        "decide".to_string(),
        dir.display().to_string(),
        "--db".into(),
        db.display().to_string(),
        "--status".into(),
        "accepted".into(),
    ];
    args.extend((0..n).map(|i| format!("img{i}.png")));
    let o = assay().args(&args).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    (dir, db)
}

/// Replaces each catalogued file's bytes with `size` bytes of noise (export copies whatever is
/// at the path; big files make a copy slow enough to be cut).
fn inflate_files(dir: &Path, n: usize, size: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ i as u64;
            let bytes: Vec<u8> = (0..size)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            std::fs::write(dir.join(format!("img{i}.png")), &bytes).unwrap();
            bytes
        })
        .collect()
}

/// Every visible file in `out` is complete (equal to its source) and nothing is named `-2`.
fn assert_no_broken_files(out: &Path, sources: &[Vec<u8>]) {
    for e in std::fs::read_dir(out).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name.ends_with(".xmp") || name.starts_with("manifest") {
            continue;
        }
        assert!(
            !name.contains("-2"),
            "a duplicate name beside a broken copy: {name}"
        );
        let i: usize = name
            .trim_start_matches("img")
            .trim_end_matches(".png")
            .parse()
            .unwrap_or_else(|_| panic!("unexpected file {name}"));
        let got = std::fs::read(e.path()).unwrap();
        assert!(
            got == sources[i],
            "{name} is {} bytes, its source {}: a broken file under a real name",
            got.len(),
            sources[i].len()
        );
    }
}

fn export_args(dir: &Path, db: &Path, out: &Path) -> Vec<String> {
    vec![
        "export".into(),
        dir.display().to_string(),
        "--db".into(),
        db.display().to_string(),
        "--to".into(),
        out.display().to_string(),
    ]
}

/// `sh -c 'ulimit -f BLOCKS; [trap "" XFSZ;] exec assay …'`: writes past the limit fail with
/// EFBIG (a full disk without root), or, without the trap, the kernel kills the process with
/// SIGXFSZ in the middle of the write (an abrupt death at a known place, like kill -9).
fn under_file_size_limit(kib: u64, ignore_signal: bool, args: &[String]) -> std::process::Output {
    let exe = crate::common::assay_exe();
    let trap = if ignore_signal { "trap '' XFSZ; " } else { "" };
    // `ulimit -f` counts 512-byte blocks in dash and 1024-byte blocks in bash: 2 × KiB blocks
    // is at least KiB either way.
    let script = format!("ulimit -f {}; {trap}exec \"$0\" \"$@\"", kib * 2);
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(exe)
        .args(args)
        .env(
            "XDG_DATA_HOME",
            std::env::temp_dir().join("assay-tests-no-models"),
        )
        .output()
        .unwrap()
}

#[test]
fn a_full_disk_leaves_no_partial_file_and_a_rerun_completes() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, db) = accepted_collection(tmp.path(), 3);
    let sources = inflate_files(&dir, 3, 3 << 20);
    let out = tmp.path().join("out");
    let o = under_file_size_limit(1024, true, &export_args(&dir, &db, &out));
    assert_eq!(o.status.code(), Some(2), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("3 failed"), "{}", stdout(&o));
    assert!(stdout(&o).contains("File too large"), "{}", stdout(&o));
    assert_no_broken_files(&out, &sources);
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".assay-part-"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "failed writes remove their temporary file"
    );
    // Room again: the rerun exports everything under the real names.
    let o = run(&export_args(&dir, &db, &out)
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("exported 3 files (0 already there, 0 failed)"),
        "{}",
        stdout(&o)
    );
    assert_no_broken_files(&out, &sources);
}

#[test]
fn a_process_killed_mid_copy_leaves_only_its_temporary_file_which_the_rerun_removes() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, db) = accepted_collection(tmp.path(), 2);
    let sources = inflate_files(&dir, 2, 3 << 20);
    let out = tmp.path().join("out");
    let o = under_file_size_limit(1024, false, &export_args(&dir, &db, &out));
    assert!(
        o.status.code().is_none(),
        "killed by SIGXFSZ mid-write: {:?}",
        o.status
    );
    assert_no_broken_files(&out, &sources);
    let o = run(&export_args(&dir, &db, &out)
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("removed 1 temporary file(s) left by an interrupted export"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).contains("exported 2 files"), "{}", stdout(&o));
    assert_no_broken_files(&out, &sources);
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 2);
}

/// A truncated copy from an older version (written under the real name) is completed in place.
#[test]
fn a_truncated_copy_under_the_real_name_is_completed_not_duplicated() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, db) = accepted_collection(tmp.path(), 2);
    let sources = inflate_files(&dir, 2, 100_000);
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("img0.png"), &sources[0][..40_000]).unwrap();
    std::fs::write(out.join("img1.png"), b"").unwrap();
    let o = run(&export_args(&dir, &db, &out)
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("2 truncated copies"), "{}", stdout(&o));
    assert_no_broken_files(&out, &sources);
}

#[test]
fn kill_9_during_an_export_never_leaves_a_broken_file_under_a_real_name() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, db) = accepted_collection(tmp.path(), 3);
    let sources = inflate_files(&dir, 3, 16 << 20);
    for attempt in 0..3 {
        let out = tmp.path().join(format!("out{attempt}"));
        let mut child = assay()
            .args(export_args(&dir, &db, &out))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Kill as soon as anything appears in the target folder: mid-copy.
        let t = std::time::Instant::now();
        while t.elapsed().as_secs() < 30 {
            if std::fs::read_dir(&out).is_ok_and(|mut r| r.next().is_some()) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
        let _ = child.kill();
        let _ = child.wait();
        assert_no_broken_files(&out, &sources);
        let o = run(&export_args(&dir, &db, &out)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>());
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert_no_broken_files(&out, &sources);
        assert_eq!(std::fs::read_dir(&out).unwrap().count(), 3);
    }
}

/// A real full file system: a 1 MiB tmpfs mounted in a private user and mount namespace
/// (`unshare -rm`); skipped where user namespaces are not allowed.
#[test]
fn a_full_tmpfs_leaves_no_partial_file() {
    if !Command::new("unshare")
        .args(["-rm", "true"])
        .status()
        .is_ok_and(|s| s.success())
    {
        eprintln!("SKIPPED a_full_tmpfs_leaves_no_partial_file: unshare -rm is not allowed here");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (dir, db) = accepted_collection(tmp.path(), 3);
    let sources = inflate_files(&dir, 3, 700_000);
    let out = tmp.path().join("small");
    std::fs::create_dir_all(&out).unwrap();
    let exe = crate::common::assay_exe();
    // Export, then list what the full tmpfs holds (it vanishes with the namespace).
    let script = r#"mount -t tmpfs -o size=1m tmpfs "$1" && "$2" export "$3" --db "$4" --to "$1" --xmp; echo "exit=$?"; for f in "$1"/* "$1"/.[!.]*; do [ -e "$f" ] && echo "file $(basename "$f") $(wc -c < "$f")"; done"#;
    let o = Command::new("unshare")
        .args(["-rm", "sh", "-c", script, "sh"])
        .arg(&out)
        .arg(exe)
        .arg(&dir)
        .arg(&db)
        .output()
        .unwrap();
    let text = stdout(&o);
    assert!(text.contains("exit=2"), "{text}{}", stderr(&o));
    assert!(text.contains("No space left on device"), "{text}");
    let mut files = 0;
    for line in text.lines().filter(|l| l.starts_with("file ")) {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let (name, len): (&str, usize) = (parts[1], parts[2].parse().unwrap());
        assert!(
            !name.starts_with(".assay-part-"),
            "temporary file left: {line}"
        );
        if name.ends_with(".png") {
            let i: usize = name[3..name.len() - 4].parse().unwrap();
            assert_eq!(
                len,
                sources[i].len(),
                "a partial file under a real name: {line}"
            );
            files += 1;
        }
    }
    assert_eq!(files, 1, "one 700 kB file fits in 1 MiB: {text}");
}

#[test]
fn names_that_are_not_utf8_are_kept_byte_for_byte() {
    use std::os::unix::ffi::OsStrExt as _;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("col");
    std::fs::create_dir_all(&dir).unwrap();
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9-\xff.png");
    std::fs::write(dir.join(name), png_with_text(16, 16, 1, &[])).unwrap();
    let db = tmp.path().join("c.db");
    scan_json(&dir, &db, &["--no-faces", "--no-clip"]);
    let out = tmp.path().join("out");
    let o = run(&[
        "export",
        dir.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "--to",
        out.to_str().unwrap(),
        "--status",
        "all",
        "--xmp",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let names: Vec<Vec<u8>> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().as_bytes().to_vec())
        .collect();
    assert!(names.contains(&b"caf\xe9-\xff.png".to_vec()), "{names:?}");
    assert!(
        names.contains(&b"caf\xe9-\xff.png.xmp".to_vec()),
        "{names:?}"
    );
}

/// Every sidecar parses as XML 1.0 (digiKam, Lightroom and exiftool reject invalid files) and
/// keeps the prompt, with characters XML forbids replaced.
#[test]
fn sidecars_are_valid_xml_whatever_the_prompt_holds() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, db) = accepted_collection(tmp.path(), 2);
    let out = tmp.path().join("out");
    let mut args = export_args(&dir, &db, &out);
    args.push("--xmp".into());
    let o = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mut checked = 0;
    for e in std::fs::read_dir(&out).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "xmp") {
            let description = crate::common::xmp_description(&p);
            assert!(description.starts_with("a fox "), "{description:?}");
            assert!(
                description.contains("\u{fffd}[2J"),
                "ESC replaced: {description:?}"
            );
            assert!(
                description.contains("\u{7f} & <tag> \"q\"\rline two\nline three\u{fffd}"),
                "{description:?}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 2);
}

#[test]
fn progress_on_a_pipe_is_lines_not_carriage_returns() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, db) = accepted_collection(tmp.path(), 3);
    let out = tmp.path().join("out");
    let o = run(&export_args(&dir, &db, &out)
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(0));
    let err = stderr(&o);
    assert!(!err.contains('\r'), "{err:?}");
    assert!(err.contains("exporting 3/3: done\n"), "{err:?}");
}
