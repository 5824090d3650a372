//! MTCNN end-to-end parity with the `mtcnn` 1.0.0 package (TensorFlow) on fixture photos, through
//! `tests/data/mtcnn_refs.json` (`scripts/gen_mtcnn_refs.py`): every reference face is found
//! with box IoU ≥ 0.95, confidence within 0.01 and landmarks within 2 px, on `flex` and on wgpu
//! when an adapter exists. Plus `assay faces` and the face signals' separation of portraits
//! from the same portraits with a warped eye region (AUC).

use std::path::Path;

use assay::models::backend::{self, BackendChoice};
use assay::models::mtcnn::{Face, Mtcnn, RgbImage};
use assay::signals::{classical, faces};
use burn::tensor::Device;

use crate::common::{fixtures_dir, run, stderr, stdout};

fn refs() -> serde_json::Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mtcnn_refs.json");
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn load(path: &Path) -> (Vec<u8>, usize, usize) {
    let bytes = std::fs::read(path).unwrap();
    let d = assay::catalog::decode::decode(&bytes, &Default::default()).unwrap();
    let (w, h) = (d.image.width() as usize, d.image.height() as usize);
    (classical::rgb8_like_pil(&d.image), w, h)
}

fn iou(a: [f64; 4], b: [f64; 4]) -> f64 {
    let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)
}

fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// Runs the detector on every reference image; returns (min IoU, max |Δconf|, max landmark
/// distance) over all faces.
fn end_to_end(device: &Device, label: &str, fx: &Path, only: Option<usize>) -> (f64, f64, f64) {
    let refs = refs();
    let m = Mtcnn::new(device).unwrap();
    let (mut min_iou, mut max_conf, mut max_lm) = (1f64, 0f64, 0f64);
    let images = refs["images"].as_array().unwrap();
    for r in images.iter().take(only.unwrap_or(images.len())) {
        let file = r["file"].as_str().unwrap();
        let (rgb, w, h) = load(&fx.join(file));
        let d = m
            .detect(RgbImage {
                data: &rgb,
                width: w,
                height: h,
            })
            .unwrap();
        let want = r["faces"].as_array().unwrap();
        assert_eq!(
            d.faces.len(),
            want.len(),
            "{label} {file}: {} faces, the package finds {} ({:?})",
            d.faces.len(),
            want.len(),
            d.faces
        );
        for f in want {
            let b = floats(&f["xyxy"]);
            let b = [b[0], b[1], b[2], b[3]];
            let best: &Face = d
                .faces
                .iter()
                .max_by(|x, y| {
                    iou([x.x1, x.y1, x.x2, x.y2], b).total_cmp(&iou([y.x1, y.y1, y.x2, y.y2], b))
                })
                .unwrap();
            let o = iou([best.x1, best.y1, best.x2, best.y2], b);
            let dc = (best.confidence - f["confidence"].as_f64().unwrap()).abs();
            let dl = f["landmarks"]
                .as_array()
                .unwrap()
                .iter()
                .zip(best.landmarks)
                .map(|(p, q)| {
                    let p = floats(p);
                    (p[0] - q[0]).hypot(p[1] - q[1])
                })
                .fold(0.0, f64::max);
            println!(
                "{label} {file}: IoU {o:.6}, |Δconf| {dc:.2e}, landmarks max {dl:.2e} px, stages {:?} (package {})",
                d.stage_counts, r["stage_counts"]
            );
            min_iou = min_iou.min(o);
            max_conf = max_conf.max(dc);
            max_lm = max_lm.max(dl);
        }
    }
    assert!(min_iou >= 0.95, "{label}: min IoU {min_iou}");
    assert!(max_conf <= 0.01, "{label}: max |Δconf| {max_conf}");
    assert!(max_lm <= 2.0, "{label}: max landmark error {max_lm}");
    (min_iou, max_conf, max_lm)
}

#[test]
fn faces_match_the_mtcnn_package_on_fixture_photos_flex() {
    let Some(fx) = fixtures_dir("faces_match_the_mtcnn_package_on_fixture_photos_flex") else {
        return;
    };
    let (i, c, l) = end_to_end(&Device::flex(), "flex", &fx, None);
    println!("flex: min IoU {i:.6}, max |Δconf| {c:.2e}, max landmark error {l:.3} px");
}

#[test]
fn faces_match_the_mtcnn_package_on_wgpu() {
    let Some(fx) = fixtures_dir("faces_match_the_mtcnn_package_on_wgpu") else {
        return;
    };
    let Ok(sel) = backend::select(BackendChoice::Wgpu) else {
        eprintln!("SKIPPED faces_match_the_mtcnn_package_on_wgpu: no wgpu adapter");
        return;
    };
    // Software adapters (lavapipe) are slow: two images there, all of them on a real GPU.
    let software = matches!(
        sel.kind,
        backend::DeviceKind::Wgpu { software: true, .. }
    );
    let (i, c, l) = end_to_end(
        &sel.device,
        &sel.describe(),
        &fx,
        software.then_some(2),
    );
    println!("wgpu: min IoU {i:.6}, max |Δconf| {c:.2e}, max landmark error {l:.3} px");
}

#[test]
fn faces_cli_prints_the_package_json_boxes() {
    let Some(fx) = fixtures_dir("faces_cli_prints_the_package_json_boxes") else {
        return;
    };
    let refs = refs();
    let astronaut = fx.join("photos/astronaut.png");
    let missing = fx.join("photos/does-not-exist.png");
    let o = run(&[
        "faces",
        astronaut.to_str().unwrap(),
        missing.to_str().unwrap(),
        "--format",
        "json",
        "--backend",
        "cpu",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let want = &refs["images"][0];
    assert_eq!(want["file"], "photos/astronaut.png");
    assert_eq!(v[0]["faces"][0]["box"], want["faces"][0]["box"]);
    assert!(v[0]["faces"][0]["keypoints"]["left_eye"].is_array());
    assert!(v[1]["error"].as_str().unwrap().contains("cannot read"));
    assert!(v[1]["faces"].as_array().unwrap().is_empty());
}
