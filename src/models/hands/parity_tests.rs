//! Parity with MediaPipe's models and pipeline through `scripts/gen_hands_refs.py` (TFLite 2.14
//! interpreter, `tests/data/hands_refs.json`): every op output of both graphs on a synthetic
//! input, and palms, ROIs, landmarks and scores on the fixture PNGs with palm detections.

use std::path::PathBuf;

use burn::tensor::{Device, Tensor, TensorData};
use serde_json::Value;

use super::{HandDetector, iou};
use crate::models::graph::{Graph, Trace};
use crate::models::mtcnn::RgbImage;

fn refs() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/hands_refs.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

/// The generator's synthetic NHWC input, as an NCHW tensor.
fn synthetic(size: usize, device: &Device) -> Tensor<4> {
    let mut v = vec![0f32; size * size * 3];
    for y in 0..size {
        for x in 0..size {
            for c in 0..3 {
                let q = (y * 17 + x * 13 + c * 7 + (x * y) % 11) % 256;
                v[(y * size + x) * 3 + c] = q as f32 / 255.0;
            }
        }
    }
    let t: Tensor<4> = Tensor::from_data(TensorData::new(v, [1, size, size, 3]), device);
    t.permute([0, 3, 1, 2])
}

/// Max |Δ| and max |Δ|/max(1, |ref|) of one layer; the reference indexes NHWC.
fn layer_diff(reference: &Value, dims: &[usize], values: &[f32]) -> (f64, f64) {
    let shape = usizes(&reference["shape"]);
    let (mut abs, mut rel) = (0f64, 0f64);
    for (k, r) in usizes(&reference["idx"])
        .into_iter()
        .zip(floats(&reference["val"]))
    {
        let got = if shape.len() == 4 {
            let [n, h, w, c] = [shape[0], shape[1], shape[2], shape[3]];
            assert_eq!(dims, [n, c, h, w], "layer shape");
            let (ch, x, y, b) = (k % c, (k / c) % w, (k / (c * w)) % h, k / (c * w * h));
            values[((b * c + ch) * h + y) * w + x]
        } else {
            assert_eq!(dims, shape.as_slice(), "layer shape");
            values[k]
        };
        let d = (f64::from(got) - r).abs();
        abs = abs.max(d);
        rel = rel.max(d / r.abs().max(1.0));
    }
    (abs, rel)
}

fn check_graph(graph: &Graph, reference: &Value, size: usize, device: &Device, label: &str) {
    let mut trace: Trace = Vec::new();
    graph
        .run(synthetic(size, device), Some(&mut trace))
        .unwrap();
    let layers = reference.as_array().unwrap();
    assert_eq!(trace.len(), layers.len(), "{label}: one trace entry per op");
    let (mut worst_abs, mut worst_rel, mut aliased) = (0f64, 0f64, 0);
    for (r, (id, dims, values)) in layers.iter().zip(&trace) {
        assert_eq!(r["id"].as_u64().unwrap() as usize, *id, "{label}: op order");
        if r.get("aliased_by").is_some() {
            // Overwritten in TFLite by an in-place op; that op's output is checked instead.
            aliased += 1;
            continue;
        }
        let (abs, rel) = layer_diff(r, dims, values);
        assert!(
            rel <= 1e-4,
            "{label} op {} (tensor {id}): max |Δ| {abs:.2e}, relative {rel:.2e}",
            r["op"]
        );
        worst_abs = worst_abs.max(abs);
        worst_rel = worst_rel.max(rel);
    }
    println!(
        "{label}: {} ops ({aliased} in-place inputs not comparable), max |Δ| {worst_abs:.2e}, max |Δ|/max(1,|ref|) {worst_rel:.2e}",
        trace.len()
    );
}

fn check_layers(device: &Device, label: &str) {
    let refs = refs();
    let det = HandDetector::new(device).unwrap();
    let (palm, landmark) = (format!("{label} palm"), format!("{label} landmark"));
    check_graph(
        det.palm_graph(),
        &refs["layers"]["palm"],
        192,
        device,
        &palm,
    );
    check_graph(
        det.landmark_graph(),
        &refs["layers"]["landmark"],
        224,
        device,
        &landmark,
    );
}

#[test]
fn every_op_matches_tflite_on_flex() {
    check_layers(&Device::flex(), "flex");
}

#[test]
#[ignore = "about 200 s on a software adapter (lavapipe): run with --ignored"]
fn every_op_matches_tflite_on_wgpu() {
    use crate::models::backend::{self, BackendChoice};
    match backend::select(BackendChoice::Wgpu) {
        Ok(sel) => check_layers(&sel.device, &sel.describe()),
        Err(e) => eprintln!("skipped: no wgpu adapter ({e})"),
    }
}

fn fixtures() -> Option<PathBuf> {
    let dir = std::env::var_os("ASSAY_FIXTURES").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures"),
        PathBuf::from,
    );
    if dir.join("generated/MANIFEST.tsv").is_file() {
        return Some(dir);
    }
    assert!(
        std::env::var("ASSAY_REQUIRE_FIXTURES").as_deref() != Ok("1"),
        "fixtures required (ASSAY_REQUIRE_FIXTURES=1) but {} is missing",
        dir.display()
    );
    eprintln!("skipped: fixtures not found at {}", dir.display());
    None
}

#[test]
fn pipeline_matches_the_reference_on_fixtures() {
    let Some(dir) = fixtures() else { return };
    let device = Device::flex();
    let det = HandDetector::new(&device).unwrap();
    let refs = refs();
    let (mut worst_lm, mut worst_iou, mut worst_score, mut worst_world) = (0f64, 1f64, 0f64, 0f64);
    for (rel, r) in refs["images"].as_object().unwrap() {
        let img = image::open(dir.join(rel)).unwrap().to_rgb8();
        let (w, h) = (img.width() as usize, img.height() as usize);
        let view = RgbImage {
            data: img.as_raw(),
            width: w,
            height: h,
        };
        let hands = det.detect(view).unwrap();
        let expected = r["hands"].as_array().unwrap();
        assert_eq!(hands.len(), expected.len(), "{rel}: hands");
        let scale = w.max(h) as f64;
        for (got, e) in hands.iter().zip(expected) {
            let b = floats(&e["palm_box"]);
            let o = iou(&got.palm.bbox, &[b[0], b[1], b[2], b[3]]);
            worst_iou = worst_iou.min(o);
            assert!(o >= 0.99, "{rel}: palm IoU {o}");
            let dscore = (got.palm.score - e["palm_score"].as_f64().unwrap())
                .abs()
                .max((got.presence - e["presence"].as_f64().unwrap()).abs())
                .max((got.handedness - e["handedness"].as_f64().unwrap()).abs());
            worst_score = worst_score.max(dscore);
            assert!(dscore < 1e-3, "{rel}: scores differ by {dscore}");
            for (p, q) in got.world.iter().zip(e["world"].as_array().unwrap()) {
                let q = floats(q);
                let d = (0..3).map(|k| (p[k] - q[k]).abs()).fold(0.0, f64::max);
                worst_world = worst_world.max(d);
                assert!(d <= 1e-5, "{rel}: world landmark off by {d} m");
            }
            for (p, q) in got.landmarks.iter().zip(e["landmarks"].as_array().unwrap()) {
                let q = floats(q);
                let d = (p[0] - q[0]).abs().max((p[1] - q[1]).abs()) / scale;
                worst_lm = worst_lm.max(d);
                assert!(d <= 1e-3, "{rel}: landmark off by {d} of the image size");
            }
        }
    }
    println!(
        "pipeline: min palm IoU {worst_iou:.6}, max landmark |Δ| {worst_lm:.2e} of the image size, max score |Δ| {worst_score:.2e}"
    );
}
