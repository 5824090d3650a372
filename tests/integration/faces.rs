//! MTCNN end-to-end parity with the `mtcnn` 1.0.0 package (TensorFlow) on fixture photos, through
//! `tests/data/mtcnn_refs.json` (`scripts/gen_mtcnn_refs.py`): every reference face is found
//! with box IoU ≥ 0.95, confidence within 0.01 and landmarks within 2 px, on `flex` and on wgpu
//! when an adapter exists (the full-resolution parity mode). Plus `assay faces`, the face
//! signals' separation of portraits from the same portraits with a warped eye region (AUC), and
//! the fast mode (working copy) against the full-resolution cascade: the same faces, the same
//! separation.

use std::path::Path;

use assay::models::backend::{self, BackendChoice};
use assay::models::mtcnn::{Face, Mtcnn, RgbImage, WorkingCopy, WorkingResolution};
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
        "--full-resolution",
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

/// Scores an RGB8 image of width × height: the face defect, and a detail line for failures.
type Scorer<'a> = dyn Fn(&[u8], usize, usize) -> (f64, String) + 'a;

/// Face-defect scores of the reference portraits (negatives) and of the same portraits with a
/// warped eye region (positives), scored by `score` on the image upscaled by `zoom` (1: as is).
/// A portrait whose face is no longer found scores 1 (as defective as it gets).
fn warped_eye_scores(fx: &Path, zoom: f64, score: &Scorer<'_>) -> (Vec<f64>, Vec<f64>) {
    let (mut pos, mut neg) = (Vec::new(), Vec::new());
    let scaled = |rgb: Vec<u8>, w: usize, h: usize| -> (Vec<u8>, usize, usize) {
        if zoom == 1.0 {
            return (rgb, w, h);
        }
        let img = image::RgbImage::from_raw(w as u32, h as u32, rgb).unwrap();
        let (zw, zh) = (
            (w as f64 * zoom).round() as u32,
            (h as f64 * zoom).round() as u32,
        );
        let big = image::imageops::resize(&img, zw, zh, image::imageops::FilterType::Triangle);
        (big.into_raw(), zw as usize, zh as usize)
    };
    for r in refs()["images"].as_array().unwrap() {
        let file = r["file"].as_str().unwrap();
        let Some(face) = r["faces"].as_array().unwrap().first() else {
            continue;
        };
        let (rgb, w, h) = load(&fx.join(file));
        let (zrgb, zw, zh) = scaled(rgb.clone(), w, h);
        let (v, why) = score(&zrgb, zw, zh);
        println!("original {file} ×{zoom}: face_defect {v:.3} {why}");
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
            let (zrgb, zw, zh) = scaled(warped, w, h);
            let (v, why) = score(&zrgb, zw, zh);
            println!("  {name}: face_defect {v:.3} {why}");
            pos.push(v);
        }
    }
    (pos, neg)
}

/// Per-face geometry and eye similarity, for the test output.
fn face_detail(faces: &[Face], rgb: &[u8], w: usize, h: usize) -> String {
    faces
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
        .join(" ")
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
        (v, face_detail(&d.faces, rgb, w, h))
    };
    let (pos, neg) = warped_eye_scores(&fx, 1.0, &score);
    let a = auc(&pos, &neg);
    println!(
        "face_defect AUC (warped eye vs original): {a:.3} ({} warped, {} originals)",
        pos.len(),
        neg.len()
    );
    assert!(a >= 0.75, "AUC {a}");
}

/// Fast mode keeps `face_defect`'s separating power: on the warped-eye set its AUC is within
/// 0.02 of the full-resolution cascade's (issue 15's criterion). On the set upscaled 2.2× (the
/// working copy is then a real downscale, on a pyramid grid shifted against the originals') it
/// is lower (0.784 against 0.909 when written): that is measured and printed, and held only to
/// the floor the full-resolution separation test uses (0.75), a known gap (closing note).
#[test]
fn fast_mode_keeps_the_face_defect_separation() {
    let Some(fx) = fixtures_dir("fast_mode_keeps_the_face_defect_separation") else {
        return;
    };
    let m = Mtcnn::new(&Device::flex()).unwrap();
    let full = |rgb: &[u8], w: usize, h: usize| -> (f64, String) {
        let img = RgbImage {
            data: rgb,
            width: w,
            height: h,
        };
        let d = m.detect(img).unwrap();
        let s = faces::compute(&d.faces, rgb, w, h);
        (s.face_defect.unwrap_or(1.0), String::new())
    };
    let res = WorkingResolution::default();
    let fast = |rgb: &[u8], w: usize, h: usize| -> (f64, String) {
        let copy = WorkingCopy::new(
            RgbImage {
                data: rgb,
                width: w,
                height: h,
            },
            &res,
        );
        let d = m.detect_working(&[&copy], &res).unwrap().pop().unwrap();
        let s = faces::compute_working(&d.faces, &copy);
        let why = format!(
            "(working copy {}×{}) {}",
            copy.width,
            copy.height,
            face_detail(&d.faces, &copy.rgb, copy.width, copy.height)
        );
        (s.face_defect.unwrap_or(1.0), why)
    };
    let (pos, neg) = warped_eye_scores(&fx, 1.0, &full);
    let a_full = auc(&pos, &neg);
    let (pos, neg) = warped_eye_scores(&fx, 1.0, &fast);
    let a_fast = auc(&pos, &neg);
    let (pos, neg) = warped_eye_scores(&fx, 2.2, &fast);
    let a_zoom = auc(&pos, &neg);
    println!(
        "face_defect AUC: full resolution {a_full:.3}, fast {a_fast:.3}, fast on 2.2× upscales {a_zoom:.3}"
    );
    assert!((a_fast - a_full).abs() <= 0.02, "{a_fast} vs {a_full}");
    assert!(a_zoom >= 0.75, "fast on 2.2× upscales: AUC {a_zoom}");
}

/// Fast mode finds the faces the package's full-resolution cascade finds: on every fixture
/// image, and on the portraits upscaled 2.2× (a real downscale to the working copy), each
/// full-resolution face of at least 40 px (shorter box side) has a fast-mode face with
/// IoU ≥ 0.9 on the full image.
#[test]
fn fast_mode_finds_the_full_resolution_faces() {
    let Some(fx) = fixtures_dir("fast_mode_finds_the_full_resolution_faces") else {
        return;
    };
    let m = Mtcnn::new(&Device::flex()).unwrap();
    let res = WorkingResolution::default();
    let mut inputs: Vec<(String, Vec<u8>, usize, usize)> = Vec::new();
    for sub in ["photos", "generated"] {
        let mut paths: Vec<_> = std::fs::read_dir(fx.join(sub))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        paths.sort();
        for p in paths {
            let Ok(bytes) = std::fs::read(&p) else {
                continue;
            };
            let Ok(d) = assay::catalog::decode::decode(&bytes, &Default::default()) else {
                continue;
            };
            let (w, h) = (d.width as usize, d.height as usize);
            if w.min(h) >= 12 {
                let name = format!("{sub}/{}", p.file_name().unwrap().to_string_lossy());
                inputs.push((name, classical::rgb8_like_pil(&d.image), w, h));
            }
        }
    }
    let portraits = [
        "photos/astronaut.png",
        "photos/camera.png",
        "generated/elven_princess.png",
        "generated/step7.png",
    ];
    for file in portraits {
        let (rgb, w, h) = load(&fx.join(file));
        let img = image::RgbImage::from_raw(w as u32, h as u32, rgb).unwrap();
        let (zw, zh) = ((w as f64 * 2.2) as u32, (h as f64 * 2.2) as u32);
        let big = image::imageops::resize(&img, zw, zh, image::imageops::FilterType::Triangle);
        inputs.push((
            format!("{file} ×2.2"),
            big.into_raw(),
            zw as usize,
            zh as usize,
        ));
    }
    let (mut checked, mut min_iou, mut missed) = (0, 1f64, Vec::new());
    for (name, rgb, w, h) in &inputs {
        let img = RgbImage {
            data: rgb,
            width: *w,
            height: *h,
        };
        let full = m.detect(img).unwrap().faces;
        let (fast, copy) = m.detect_fast(img, &res).unwrap();
        for f in full.iter().filter(|f| f.width().min(f.height()) >= 40.0) {
            let b = [f.x1, f.y1, f.x2, f.y2];
            let best = fast
                .faces
                .iter()
                .map(|g| iou([g.x1, g.y1, g.x2, g.y2], b))
                .fold(0.0, f64::max);
            println!(
                "{name} ({w}×{h}, working {}×{}): face {:.0}×{:.0} at ({:.0}, {:.0}): best fast IoU {best:.3}",
                copy.width,
                copy.height,
                f.width(),
                f.height(),
                f.x1,
                f.y1
            );
            if best < 0.9 {
                missed.push(format!("{name}: face {f:?} found with IoU {best:.3} only"));
            }
            checked += 1;
            min_iou = min_iou.min(best);
        }
        println!(
            "{name}: {} full-resolution face(s), {} fast",
            full.len(),
            fast.faces.len()
        );
    }
    println!("{checked} faces ≥ 40 px checked, min IoU {min_iou:.3}");
    assert!(missed.is_empty(), "{}", missed.join("\n"));
    assert!(checked >= 12, "only {checked} faces checked");
}
