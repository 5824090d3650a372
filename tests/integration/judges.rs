//! `assay scan` with the judges (HPSv2, PickScore) found on disk: tiny random models in both
//! layouts (`tests/data/judge_tiny/HPS_v2.1_tiny.pt`, a torch pickle with `state_dict`; the HF
//! `clip_tiny/hf` under a `PickScore_v1` folder), scores equal to
//! `scripts/gen_judge_refs.py`'s references, ranks within the prompt group, incremental, and
//! `--no-hps` / `--no-pickscore`; `assay models` lists them as judges.

use std::path::Path;

fn data() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// `assay args…` with no weights anywhere but where `args` say (HOME is `home`).
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

/// The pixels of `tests/data/clip/<name>` as a PNG with A1111 parameters for `prompt`.
fn with_prompt(name: &str, prompt: &str) -> Vec<u8> {
    let img = image::open(data().join("clip").join(name))
        .unwrap()
        .to_rgb8();
    let params = format!("{prompt}\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: 1, Size: 64x64");
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, img.width(), img.height());
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.add_text_chunk("parameters".into(), params).unwrap();
        let mut wr = enc.write_header().unwrap();
        wr.write_image_data(img.as_raw()).unwrap();
    }
    out
}

/// A models folder with both judges and no plain CLIP.
fn judge_models(root: &Path) {
    std::fs::create_dir_all(root.join("PickScore_v1")).unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(
            data().join("clip_tiny/hf").join(f),
            root.join("PickScore_v1").join(f),
        )
        .unwrap();
    }
    for f in ["HPS_v2.1_tiny.pt", "HPS_v2.1_tiny.json"] {
        std::fs::copy(data().join("judge_tiny").join(f), root.join(f)).unwrap();
    }
}

fn table(home: &Path, dir: &str) -> Vec<serde_json::Value> {
    let out = hermetic(home, &["table", dir, "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<serde_json::Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn judges_score_rank_and_are_incremental() {
    let refs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data().join("judge_refs.json")).unwrap())
            .unwrap();
    let prompt = refs["texts"][0]["text"].as_str().unwrap();
    assert_eq!(prompt, "a photo of a cat");
    let tmp = tempfile::tempdir().unwrap();
    let (home, dir, models) = (
        tmp.path().join("home"),
        tmp.path().join("col"),
        tmp.path().join("models"),
    );
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir(&dir).unwrap();
    judge_models(&models);
    let names = ["grad_299x150.png", "rings_90x131.png", "tiny_40x30.png"];
    for n in names {
        std::fs::write(dir.join(n), with_prompt(n, prompt)).unwrap();
    }
    std::fs::copy(
        data().join("clip/grad_299x150.png"),
        dir.join("no_prompt.png"),
    )
    .unwrap();
    let (d, m) = (dir.to_str().unwrap(), models.to_str().unwrap());

    let out = hermetic(&home, &["models", "--models", m, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let judges: Vec<&str> = v["models"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["files"]["judge"].as_str())
        .collect();
    assert_eq!(judges, ["hps", "pickscore"], "{v}");

    let scan = |extra: &[&str]| {
        let mut args = vec!["scan", d, "--models", m, "--no-faces", "--backend", "cpu"];
        args.extend_from_slice(extra);
        args.extend(["--format", "json"]);
        let out = hermetic(&home, &args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let s = scan(&["--no-pickscore"]);
    assert!(
        s["clip"].is_null() && s["clip_skipped"].is_string(),
        "no plain CLIP: {s}"
    );
    assert_eq!(s["judges"].as_array().unwrap().len(), 1, "{s}");
    let hps = &s["judges"][0];
    assert_eq!(hps["signal"], "hps");
    assert_eq!(
        (hps["scored"].as_u64(), hps["no_prompt"].as_u64()),
        (Some(3), Some(1))
    );
    assert_eq!(hps["ranked"], 3);

    let s = scan(&[]);
    let got: Vec<(&str, u64, u64)> = s["judges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            let n = |k: &str| j[k].as_u64().unwrap();
            (j["signal"].as_str().unwrap(), n("scored"), n("with_value"))
        })
        .collect();
    assert_eq!(
        got,
        [("hps", 0, 3), ("pickscore", 3, 3)],
        "incremental: {s}"
    );

    let rows = table(&home, d);
    for (judge, rank) in [("hps", "hps_rank"), ("pickscore", "pickscore_rank")] {
        let want: Vec<f64> = (0..names.len())
            .map(|i| refs[judge]["scores"][i][0].as_f64().unwrap())
            .collect();
        for (i, n) in names.iter().enumerate() {
            let r = rows.iter().find(|r| r["path"] == *n).unwrap();
            let got = r[judge].as_f64().unwrap();
            assert!(
                (got - want[i]).abs() <= 1e-4 * want[i].abs().max(1e-3),
                "{judge} {n}: {got} vs {}",
                want[i]
            );
            let better = want.iter().filter(|&&w| w > want[i]).count();
            assert_eq!(r[rank].as_f64(), Some((better + 1) as f64), "{rank} {n}");
        }
        let none = rows.iter().find(|r| r["path"] == "no_prompt.png").unwrap();
        assert!(none[judge].is_null() && none[rank].is_null(), "{none}");
    }

    // Without the checkpoints: the scan is the scan it was (no `judges` key).
    let out = hermetic(
        &home,
        &[
            "scan",
            d,
            "--no-faces",
            "--backend",
            "cpu",
            "--format",
            "json",
        ],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v.get("judges").is_none(), "{v}");
}
