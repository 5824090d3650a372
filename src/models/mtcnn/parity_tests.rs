//! Parity with the `mtcnn` 1.0.0 package (TensorFlow 2.17 CPU) through the reference values of
//! `scripts/gen_mtcnn_refs.py` (`tests/data/mtcnn_refs.json`): every layer of the three
//! networks on fixed synthetic inputs, and the two resamplers. End-to-end parity on fixture
//! photos is an integration test (`tests/integration/faces.rs`).

use burn::tensor::{Device, Tensor, TensorData};
use serde_json::Value;

use super::Mtcnn;
use super::image::{Hwc, crop_and_resize_chw, resize_area};
use super::nets::Trace;

fn refs() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mtcnn_refs.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// The generator's synthetic NHWC input, as NCHW values.
fn synth_nchw(n: usize, h: usize, w: usize) -> Vec<f32> {
    let mut out = vec![0f32; n * 3 * h * w];
    for b in 0..n {
        for c in 0..3 {
            for y in 0..h {
                for x in 0..w {
                    let v = (b * 31 + y * 17 + x * 13 + c * 7 + (x * y) % 11) % 256;
                    out[((b * 3 + c) * h + y) * w + x] = ((v as f64 - 127.5) / 128.0) as f32;
                }
            }
        }
    }
    out
}

fn synth_hwc(h: usize, w: usize) -> Hwc {
    let chw = synth_nchw(1, h, w);
    let mut data = vec![0f32; h * w * 3];
    for c in 0..3 {
        for p in 0..h * w {
            data[p * 3 + c] = chw[c * h * w + p];
        }
    }
    Hwc {
        width: w,
        height: h,
        data,
    }
}

/// Max |rust − reference| of one layer: the reference holds values at flat NHWC indices of
/// `shape`; Rust's trace is NCHW (4-D) or [N, F] (2-D).
fn layer_diff(reference: &Value, dims: &[usize], values: &[f32]) -> f64 {
    let shape = usizes(&reference["shape"]);
    let idx = usizes(&reference["idx"]);
    let val = floats(&reference["val"]);
    let mut max = 0f64;
    for (&k, &r) in idx.iter().zip(&val) {
        let got = if shape.len() == 4 {
            let [n, h, w, c] = [shape[0], shape[1], shape[2], shape[3]];
            assert_eq!(dims, [n, c, h, w], "layer shape");
            let ch = k % c;
            let x = (k / c) % w;
            let y = (k / (c * w)) % h;
            let b = k / (c * w * h);
            values[((b * c + ch) * h + y) * w + x]
        } else {
            assert_eq!(dims, shape.as_slice(), "layer shape");
            values[k]
        };
        max = max.max((f64::from(got) - r).abs());
    }
    max
}

fn check_layers(device: &Device, label: &str) {
    let refs = refs();
    let m = Mtcnn::new(device).unwrap();
    for net in ["pnet", "rnet", "onet"] {
        let r = &refs["layers"][net];
        let input = usizes(&r["input"]);
        let (n, h, w) = (input[0], input[1], input[2]);
        let x = Tensor::<4>::from_data(TensorData::new(synth_nchw(n, h, w), [n, 3, h, w]), device);
        let mut trace: Trace = Vec::new();
        match net {
            "pnet" => drop(m.pnet().forward(x, Some(&mut trace))),
            "rnet" => drop(m.rnet().forward(x, Some(&mut trace))),
            _ => drop(m.onet().forward(x, Some(&mut trace))),
        }
        let layers = r.as_object().unwrap();
        let mut compared = 0;
        for (name, dims, values) in &trace {
            let reference = layers
                .get(name)
                .unwrap_or_else(|| panic!("{net}.{name} not in the references"));
            let d = layer_diff(reference, dims, values);
            println!("{label} {net}.{name:<8} max |Δ| = {d:.2e}");
            assert!(d < 1e-4, "{label} {net}.{name}: max |Δ| {d}");
            compared += 1;
        }
        // Every reference layer except Keras' permute/flatten has a Rust counterpart.
        assert_eq!(compared, layers.len() - 1 - usize::from(net != "pnet") * 2);
    }
}

#[test]
fn layers_match_keras_on_flex() {
    check_layers(&Device::flex(), "flex");
}

#[test]
fn resize_area_matches_tensorflow() {
    let refs = refs();
    for case in refs["resize_area"].as_array().unwrap() {
        let input = usizes(&case["input"]);
        let size = usizes(&case["size"]);
        let img = synth_hwc(input[1], input[2]);
        let out = resize_area(&img, size[1], size[0]);
        let val = floats(&case["val"]);
        assert_eq!(out.data.len(), val.len());
        let d = out
            .data
            .iter()
            .zip(&val)
            .map(|(a, b)| (f64::from(*a) - b).abs())
            .fold(0.0, f64::max);
        println!("resize_area {size:?}: max |Δ| = {d:.2e}");
        assert!(d < 1e-6, "resize_area {size:?}: {d}");
    }
}

#[test]
fn crop_and_resize_matches_tensorflow() {
    let refs = refs();
    let case = &refs["crop_and_resize"];
    let input = usizes(&case["input"]);
    let img = synth_hwc(input[1], input[2]);
    let val = floats(&case["val"]);
    let size = 24;
    let mut max = 0f64;
    for (i, b) in case["boxes_xyxy"].as_array().unwrap().iter().enumerate() {
        let b = floats(b);
        let mut out = vec![0f32; 3 * size * size];
        crop_and_resize_chw(&img, [b[0], b[1], b[2], b[3]], size, &mut out);
        for y in 0..size {
            for x in 0..size {
                for c in 0..3 {
                    let r = val[((i * size + y) * size + x) * 3 + c];
                    let got = f64::from(out[(c * size + y) * size + x]);
                    max = max.max((got - r).abs());
                }
            }
        }
    }
    println!("crop_and_resize: max |Δ| = {max:.2e}");
    assert!(max < 1e-6, "crop_and_resize: {max}");
}
