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
    let software = matches!(sel.kind, backend::DeviceKind::Wgpu { software: true, .. });
    let (i, c, l) = end_to_end(&sel.device, &sel.describe(), &fx, software.then_some(2));
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

/// Moves the region around `center` by `shift` with a smooth falloff (radius `r`): each output
/// pixel near the moved centre samples the source at `p − shift·w`, w = (1 − (d/r)²)².
fn warp_region(
    rgb: &[u8],
    w: usize,
    h: usize,
    center: [f64; 2],
    shift: [f64; 2],
    r: f64,
) -> Vec<u8> {
    let mut out = rgb.to_vec();
    let target = [center[0] + shift[0], center[1] + shift[1]];
    let reach = r + shift[0].hypot(shift[1]);
    let (x0, x1) = (
        (target[0] - reach).floor().max(0.0) as usize,
        ((target[0] + reach).ceil() as usize).min(w - 1),
    );
    let (y0, y1) = (
        (target[1] - reach).floor().max(0.0) as usize,
        ((target[1] + reach).ceil() as usize).min(h - 1),
    );
    for y in y0..=y1 {
        for x in x0..=x1 {
            let d = (x as f64 - target[0]).hypot(y as f64 - target[1]) / r;
            if d >= 1.0 {
                continue;
            }
            let wt = (1.0 - d * d).powi(2);
            let sx = (x as f64 - shift[0] * wt).clamp(0.0, (w - 1) as f64);
            let sy = (y as f64 - shift[1] * wt).clamp(0.0, (h - 1) as f64);
            let (ix, iy) = (sx.floor() as usize, sy.floor() as usize);
            let (fx, fy) = (sx - ix as f64, sy - iy as f64);
            let (jx, jy) = ((ix + 1).min(w - 1), (iy + 1).min(h - 1));
            for c in 0..3 {
                let p = |xx: usize, yy: usize| f64::from(rgb[(yy * w + xx) * 3 + c]);
                let v = p(ix, iy) * (1.0 - fx) * (1.0 - fy)
                    + p(jx, iy) * fx * (1.0 - fy)
                    + p(ix, jy) * (1.0 - fx) * fy
                    + p(jx, jy) * fx * fy;
                out[(y * w + x) * 3 + c] = v.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    out
}

/// Area under the ROC curve of `pos` above `neg` (ties count half).
fn auc(pos: &[f64], neg: &[f64]) -> f64 {
    let mut s = 0.0;
    for p in pos {
        for n in neg {
            s += if p > n {
                1.0
            } else if p == n {
                0.5
            } else {
                0.0
            };
        }
    }
    s / (pos.len() * neg.len()) as f64
}

#[test]
fn face_signals_separate_portraits_from_warped_eyes() {
    let Some(fx) = fixtures_dir("face_signals_separate_portraits_from_warped_eyes") else {
        return;
    };
    let m = Mtcnn::new(&Device::flex()).unwrap();
    let score = |rgb: &[u8], w: usize, h: usize| -> (f64, String) {
        let d = m
            .detect(RgbImage {
                data: rgb,
                width: w,
                height: h,
            })
            .unwrap();
        let s = faces::compute(&d.faces, rgb, w, h);
        // A portrait whose face is no longer found is as defective as it gets.
        let v = s.face_defect.unwrap_or(1.0);
        let detail = d
            .faces
            .iter()
            .map(|f| {
                faces::geometry(f)
                    .iter()
                    .map(|(n, v)| format!("{}={v:.2}", &n[..n.len().min(10)]))
                    .collect::<Vec<_>>()
                    .join(" ")
                    + &format!(
                        " eye_sim={:.2}",
                        faces::eye_similarity(f, rgb, w, h).unwrap_or(f64::NAN)
                    )
            })
            .collect::<Vec<_>>()
            .join(" ");
        (v, detail)
    };
    let (mut pos, mut neg) = (Vec::new(), Vec::new());
    for r in refs()["images"].as_array().unwrap() {
        let file = r["file"].as_str().unwrap();
        let Some(face) = r["faces"].as_array().unwrap().first() else {
            continue;
        };
        let (rgb, w, h) = load(&fx.join(file));
        let (v, why) = score(&rgb, w, h);
        println!("original {file}: face_defect {v:.3} {why}");
        neg.push(v);
        let lm: Vec<Vec<f64>> = face["landmarks"]
            .as_array()
            .unwrap()
            .iter()
            .map(floats)
            .collect();
        let (le, re) = ([lm[0][0], lm[0][1]], [lm[1][0], lm[1][1]]);
        let d = (re[0] - le[0]).hypot(re[1] - le[1]);
        for (name, eye, shift) in [
            ("left eye up", le, [0.0, -0.45 * d]),
            ("right eye down", re, [0.0, 0.45 * d]),
            ("left eye inwards", le, [0.4 * d, 0.15 * d]),
        ] {
            let warped = warp_region(&rgb, w, h, eye, shift, 0.5 * d);
            let (v, why) = score(&warped, w, h);
            println!("  {name}: face_defect {v:.3} {why}");
            pos.push(v);
        }
    }
    let a = auc(&pos, &neg);
    println!(
        "face_defect AUC (warped eye vs original): {a:.3} ({} warped, {} originals)",
        pos.len(),
        neg.len()
    );
    assert!(a >= 0.75, "AUC {a}");
}
