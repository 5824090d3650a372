//! `assay embed` and `assay models` on the tiny reference models (tests/data/clip_tiny, built by
//! scripts/gen_clip_refs.py): printed embeddings reproduce the references, a scanned folder is
//! embedded incrementally with `clip_score`, and missing weights give a clear error.

use std::path::Path;

use crate::common::{png_with_text, run};

fn data() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

#[test]
fn clip_embed_prints_reference_embeddings() {
    let refs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data().join("clip_refs.json")).unwrap())
            .unwrap();
    let img = data().join("clip/grad_299x150.png");
    let model = data().join("clip_tiny/open_clip");
    let out = run(&[
        "embed",
        "--model",
        model.to_str().unwrap(),
        img.to_str().unwrap(),
        "--text",
        "a photo of a cat",
        "--format",
        "json",
        "--backend",
        "cpu",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let want_img = refs["models"]["open_clip"]["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["file"] == "clip/grad_299x150.png")
        .unwrap()["embedding"]
        .clone();
    let want_txt = refs["models"]["open_clip"]["texts"][0]["embedding"].clone();
    for (got, want) in [
        (&v["images"][0]["embedding"], &want_img),
        (&v["texts"][0]["embedding"], &want_txt),
    ] {
        let (g, w) = (got.as_array().unwrap(), want.as_array().unwrap());
        assert_eq!(g.len(), w.len());
        let (mut num, mut den) = (0f64, 0f64);
        for (a, b) in g.iter().zip(w) {
            let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            num += (a - b) * (a - b);
            den += b * b;
        }
        assert!((num / den).sqrt() < 1e-4, "relative {}", (num / den).sqrt());
    }
    assert_eq!(
        v["texts"][0]["tokens"],
        serde_json::json!([49406, 320, 1125, 539, 320, 2368, 49407])
    );
}

/// A corrupt file and an image too elongated for CLIP preprocessing are reported in their own
/// entries (exit 2); the good images in the same batch are still embedded, and equal their
/// embeddings from a run without the bad files.
#[test]
fn clip_embed_reports_bad_files_per_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let good = data().join("clip/grad_299x150.png");
    let bytes = std::fs::read(&good).unwrap();
    let truncated = tmp.path().join("truncated.png");
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    let thin = tmp.path().join("thin_1x40.png");
    std::fs::write(&thin, png_with_text(1, 40, 7, &[])).unwrap();
    let second = tmp.path().join("second.png");
    std::fs::write(&second, png_with_text(64, 48, 3, &[])).unwrap();
    let model = data().join("clip_tiny/hf");
    let embed = |files: &[&Path]| {
        let mut args = vec![
            "embed",
            "--model",
            model.to_str().unwrap(),
            "--format",
            "json",
        ];
        args.extend(files.iter().map(|f| f.to_str().unwrap()));
        run(&args)
    };
    let out = embed(&[&good, &truncated, &thin, &second]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let imgs = v["images"].as_array().unwrap();
    assert_eq!(imgs.len(), 4);
    assert!(imgs[1]["error"].as_str().unwrap().contains("truncated.png"));
    let thin_err = imgs[2]["error"].as_str().unwrap();
    assert!(
        thin_err.contains("thin_1x40.png") && thin_err.contains("elongated"),
        "{thin_err}"
    );
    for i in [1, 2] {
        assert_eq!(imgs[i]["embedding"].as_array().unwrap().len(), 0);
    }
    let clean = embed(&[&good, &second]);
    assert!(clean.status.success());
    let c: serde_json::Value = serde_json::from_slice(&clean.stdout).unwrap();
    for (i, j) in [(0, 0), (3, 1)] {
        assert!(imgs[i].get("error").is_none());
        let (g, w) = (
            f32s(&imgs[i]["embedding"]),
            f32s(&c["images"][j]["embedding"]),
        );
        assert_eq!(g.len(), 16);
        let d: f64 = g
            .iter()
            .zip(&w)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!(
            d <= 1e-5 * w.iter().map(|x| x * x).sum::<f64>().sqrt(),
            "image {i}: {d}"
        );
    }
}

#[test]
fn clip_embed_collection_is_incremental_and_scores_prompts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("col");
    std::fs::create_dir(&dir).unwrap();
    std::fs::copy(data().join("clip/rings_90x131.png"), dir.join("rings.png")).unwrap();
    let params = "a (red:1.3) cat <lora:x:0.5>\nNegative prompt: blurry\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: 1, Size: 64x48, Model: m";
    std::fs::write(
        dir.join("gen.png"),
        png_with_text(64, 48, 3, &[("parameters", params)]),
    )
    .unwrap();
    std::fs::write(dir.join("broken.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let d = dir.to_str().unwrap();
    let model = data().join("clip_tiny/hf");
    let m = model.to_str().unwrap();

    // Not scanned yet: a clear usage error.
    let out = run(&["embed", d, "--model", m]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("assay scan"));

    let out = run(&["scan", d, "--no-faces"]);
    assert!(out.status.code() == Some(0) || out.status.code() == Some(2));
    let out = run(&["embed", d, "--model", m, "--format", "json", "--batch", "1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["embedded"], 2);
    assert_eq!(s["clip_score"], 1);
    assert_eq!(s["no_prompt"], 1);

    assert!(s["learned"].is_null(), "no active preference scorer yet");

    // With an active preference scorer, `assay embed` rescores the collection (the flywheel:
    // the scorer may read the new embeddings).
    let labels = tmp.path().join("labels.jsonl");
    let line = r#"{"protocol":"pairwise","rater":"r","items":["rings.png","gen.png"],"choice":"rings.png"}"#;
    std::fs::write(&labels, [line; 4].join("\n") + "\n").unwrap();
    let out = run(&["label", "import", d, "--file", labels.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["train", d, "--head", "linear", "--no-curve"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = run(&["embed", d, "--model", m, "--format", "json"]);
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (s["embedded"].as_u64(), s["already_embedded"].as_u64()),
        (Some(0), Some(2))
    );
    assert_eq!(s["learned"]["version"], 1, "{s}");
    assert_eq!(s["learned"]["images_scored"], 2);

    let out = run(&["table", d, "--format", "json"]);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let generated = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"] == "gen.png")
        .unwrap();
    let cs = generated["clip_score"].as_f64().unwrap();
    assert!((0.0..=100.0).contains(&cs), "{cs}");
    assert_eq!(generated["clip_prompt_truncated"], 0.0);
    let rings = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"] == "rings.png")
        .unwrap();
    assert!(rings["clip_score"].is_null(), "no prompt, no score");
}

#[test]
fn clip_without_weights_fails_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let img = data().join("clip/tiny_40x30.png");
    let out = crate::common::assay()
        .env("HOME", tmp.path())
        .env_remove("ASSAY_MODELS")
        .env_remove("HF_HOME")
        .env_remove("HF_HUB_CACHE")
        .env_remove("XDG_DATA_HOME")
        .args([
            "embed",
            img.to_str().unwrap(),
            "--models",
            tmp.path().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no CLIP weights found"), "{err}");
    let out = crate::common::assay()
        .env("HOME", tmp.path())
        .args([
            "models",
            "--models",
            tmp.path().to_str().unwrap(),
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["models"].as_array().map(Vec::len), Some(0));
}

/// `assay scan DIR --models MODELS --no-faces --backend cpu --format json`, hermetic in `home`.
fn scan_json_with_models(home: &Path, dir: &str, models: &str) -> std::process::Output {
    hermetic(
        home,
        &[
            "scan",
            dir,
            "--models",
            models,
            "--no-faces",
            "--backend",
            "cpu",
            "--format",
            "json",
        ],
    )
}

/// `assay args…` with no weights anywhere but where `args` say: HOME is `home`, and the other
/// search roots (`$ASSAY_MODELS`, `$XDG_DATA_HOME`, the HF cache variables) are unset.
fn hermetic(home: &Path, args: &[&str]) -> std::process::Output {
    crate::common::assay()
        .env("HOME", home)
        .env_remove("ASSAY_MODELS")
        .env_remove("HF_HOME")
        .env_remove("HF_HUB_CACHE")
        .env_remove("XDG_DATA_HOME")
        .args(args)
        .output()
        .unwrap()
}

fn f32s(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn cos(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| x * x).sum::<f64>().sqrt();
    dot / (na * nb)
}

/// `assay scan` with `--models` at the tiny reference models: every readable image is embedded
/// (the stored vectors are what `assay embed` prints), `clip_score` exactly for images with a
/// prompt, no `aesthetic` (no tiny head fits a non-built-in architecture), and a second scan
/// embeds nothing.
#[test]
fn clip_scan_embeds_scores_and_is_incremental() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let dir = tmp.path().join("col");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir(&dir).unwrap();
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/cat_chelsea");
    for f in ["seed_3001.png", "seed_3002.png"] {
        std::fs::copy(demo.join(f), dir.join(format!("demo_{f}"))).unwrap();
    }
    for f in ["grad_299x150.png", "rings_90x131.png", "tiny_40x30.png"] {
        std::fs::copy(data().join("clip").join(f), dir.join(f)).unwrap();
    }
    let params = "a photo of a red cat\nNegative prompt: blurry\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: 1, Size: 64x48, Model: m";
    std::fs::write(
        dir.join("gen.png"),
        png_with_text(64, 48, 3, &[("parameters", params)]),
    )
    .unwrap();
    std::fs::write(dir.join("broken.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let d = dir.to_str().unwrap();
    let models = data().join("clip_tiny");
    let m = models.to_str().unwrap();

    let out = scan_json_with_models(&home, d, m);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "broken.png fails: {err}");
    assert!(!err.contains("no CLIP weights"), "{err}");
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = &s["clip"];
    let readable = 6;
    assert_eq!(c["images"], readable, "{s:#}");
    assert_eq!(c["embedded"], readable);
    assert_eq!(c["already_embedded"], 0);
    assert_eq!(c["failed"], 0);
    assert!(c["head"].is_null(), "no tiny head fits the tiny model");
    assert_eq!(c["aesthetic"], 0);
    assert!(
        s["clip_notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("no aesthetic head")),
        "{s:#}"
    );
    let key = c["model"].as_str().unwrap().to_string();
    let name = c["model_name"].as_str().unwrap().to_string();

    // Stored vectors: one per readable image, of the reference model's projection size.
    let cfg: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(models.join(&name).join("config.json"))
            .or_else(|_| std::fs::read_to_string(models.join(&name).join("open_clip_config.json")))
            .unwrap(),
    )
    .unwrap();
    let dim = cfg["projection_dim"]
        .as_u64()
        .or_else(|| cfg["model_cfg"]["embed_dim"].as_u64())
        .unwrap() as usize;
    let store = assay::store::Store::open(&dir.join(".assay/assay.db")).unwrap();
    let stored = store.embedding_vectors(&key).unwrap();
    drop(store);
    let mut paths: Vec<&String> = stored.keys().collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "demo_seed_3001.png",
            "demo_seed_3002.png",
            "gen.png",
            "grad_299x150.png",
            "rings_90x131.png",
            "tiny_40x30.png"
        ]
    );
    assert!(stored.values().all(|v| v.len() == dim), "dimension {dim}");

    // The same vectors as `assay embed` prints for the same files, and clip_score is the
    // torchmetrics score against the prompt's text embedding.
    let files: Vec<String> = paths
        .iter()
        .map(|p| dir.join(p).to_str().unwrap().to_string())
        .collect();
    let mut args = vec![
        "embed",
        "--models",
        m,
        "--model",
        &name,
        "--backend",
        "cpu",
        "--format",
        "json",
        "--text",
        "a photo of a red cat",
    ];
    args.extend(files.iter().map(String::as_str));
    let out = hermetic(&home, &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let e: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(e["model"], key.as_str());
    for (p, img) in paths.iter().zip(e["images"].as_array().unwrap()) {
        let printed = f32s(&img["embedding"]);
        let v = &stored[p.as_str()];
        assert_eq!(printed.len(), v.len());
        for (a, b) in printed.iter().zip(v) {
            assert!((a - f64::from(*b)).abs() <= 1e-6, "{p}: {a} vs {b}");
        }
    }
    let text = f32s(&e["texts"][0]["embedding"]);
    let gen_img = f32s(&e["images"][2]["embedding"]);

    let rows = crate::common::table_json(&dir, &dir.join(".assay/assay.db"), &[]);
    let mut with_score = 0;
    for r in &rows {
        let p = r["path"].as_str().unwrap();
        if p == "broken.png" {
            assert!(r["clip_score"].is_null());
            continue;
        }
        assert!(r["aesthetic"].is_null(), "{p}: no head, no aesthetic");
        let has_prompt = r["prompt"].as_str().is_some_and(|t| !t.trim().is_empty());
        if has_prompt {
            with_score += 1;
            let cs = r["clip_score"]
                .as_f64()
                .unwrap_or_else(|| panic!("{p}: {r}"));
            assert!((0.0..=100.0).contains(&cs), "{p}: {cs}");
            assert_eq!(r["clip_prompt_truncated"], 0.0, "{p}");
        } else {
            assert!(
                r["clip_score"].is_null(),
                "{p}: no prompt, no score (not 0)"
            );
        }
        if p == "gen.png" {
            let want = 100.0 * cos(&gen_img, &text).max(0.0);
            let cs = r["clip_score"].as_f64().unwrap();
            assert!(
                (cs - want).abs() < 1e-4,
                "gen.png clip_score {cs} vs {want}"
            );
        }
    }
    assert_eq!(with_score, 3, "two demo images and gen.png have prompts");
    assert_eq!(c["clip_score"], 3);
    assert_eq!(c["no_prompt"], 3);

    // Incremental: nothing new to embed or score.
    let out = scan_json_with_models(&home, d, m);
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["clip"]["embedded"], 0, "{s:#}");
    assert_eq!(s["clip"]["already_embedded"], readable);
    assert_eq!(s["clip"]["signals_computed"], 0);
    assert_eq!(s["clip"]["clip_score"], 3);

    // A changed file gets a new version, embedded again (only that one).
    std::fs::write(
        dir.join("gen.png"),
        png_with_text(64, 48, 9, &[("parameters", params)]),
    )
    .unwrap();
    let out = scan_json_with_models(&home, d, m);
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["changed"], 1, "{s:#}");
    assert_eq!(s["clip"]["embedded"], 1);
    assert_eq!(s["clip"]["signals_computed"], 1);
}

/// Without weights the scan says once where they would go, and does everything else.
#[test]
fn clip_scan_without_weights_says_so_once_and_succeeds() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let empty = tmp.path().join("no-models");
    let dir = tmp.path().join("col");
    for p in [&home, &empty, &dir] {
        std::fs::create_dir_all(p).unwrap();
    }
    for f in ["grad_299x150.png", "rings_90x131.png"] {
        std::fs::copy(data().join("clip").join(f), dir.join(f)).unwrap();
    }
    let (d, e) = (dir.to_str().unwrap(), empty.to_str().unwrap());
    let out = hermetic(
        &home,
        &["scan", d, "--models", e, "--no-faces", "--backend", "cpu"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(err.matches("no CLIP weights found").count(), 1, "{err}");
    assert!(err.contains(e), "names the --models folder: {err}");
    assert!(text.contains("2 new"), "{text}");
    assert!(text.contains("CLIP: not run"), "{text}");

    let out = scan_json_with_models(&home, d, e);
    assert_eq!(out.status.code(), Some(0));
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(s["clip"].is_null());
    assert!(
        s["clip_skipped"]
            .as_str()
            .unwrap()
            .contains("no CLIP weights found")
    );

    // --no-clip: not even the note.
    let out = hermetic(
        &home,
        &["scan", d, "--no-clip", "--no-faces", "--backend", "cpu"],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("CLIP"));

    // An explicit model that does not exist is a usage error before anything is scanned.
    let missing = tmp.path().join("nope");
    let out = hermetic(
        &home,
        &[
            "scan",
            d,
            "--model",
            missing.to_str().unwrap(),
            "--no-faces",
            "--backend",
            "cpu",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no discovered model matches"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The workbench's scan runs the same CLIP pass in its background thread: embeddings and
/// `clip_score` land in the store and the rows, and the status bar says what was embedded.
#[cfg(feature = "gui")]
#[test]
fn clip_gui_scan_embeds_in_the_background() {
    use assay::gui::{App, AppOptions};
    use assay::pipeline::clip::ClipOptions;
    use eframe::egui;
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable as _;

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("col");
    std::fs::create_dir(&dir).unwrap();
    for f in ["grad_299x150.png", "rings_90x131.png", "tiny_40x30.png"] {
        std::fs::copy(data().join("clip").join(f), dir.join(f)).unwrap();
    }
    let params = "a photo of a red cat\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: 1, Size: 64x48, Model: m";
    std::fs::write(
        dir.join("gen.png"),
        png_with_text(64, 48, 3, &[("parameters", params)]),
    )
    .unwrap();
    let opts = AppOptions {
        dir: Some(dir.clone()),
        no_restore: true,
        clip: ClipOptions {
            models: Some(data().join("clip_tiny")),
            ..ClipOptions::default()
        },
        ..Default::default()
    };
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_eframe(|cc| App::new(cc, opts));
    crate::gui::wait(&mut h, "the scan with CLIP", crate::gui::idle);
    {
        let c = h.state().coll.as_ref().unwrap();
        let s = c.jobs.last_scan.as_ref().unwrap().as_ref().unwrap();
        let clip = s.clip.as_ref().expect("CLIP ran in the GUI's scan");
        assert_eq!((clip.embedded, clip.failed, clip.clip_score), (4, 0, 1));
        let gen_row = c
            .catalogue
            .rows
            .iter()
            .find(|r| r.path == "gen.png")
            .unwrap();
        assert!(gen_row.signals.contains_key("clip_score"), "rows reloaded");
        let other = c
            .catalogue
            .rows
            .iter()
            .find(|r| r.path == "rings_90x131.png")
            .unwrap();
        assert!(!other.signals.contains_key("clip_score"));
    }
    h.get_by_label("· CLIP: 4 embedded");
    let store = assay::store::Store::open(&dir.join(".assay/assay.db")).unwrap();
    let models = store.embedding_models().unwrap();
    assert_eq!(models.len(), 1);
    assert_eq!(models[0].2, 4, "{models:?}");
}
