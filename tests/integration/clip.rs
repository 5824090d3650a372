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

    let out = run(&["embed", d, "--model", m, "--format", "json"]);
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (s["embedded"].as_u64(), s["already_embedded"].as_u64()),
        (Some(0), Some(2))
    );

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
