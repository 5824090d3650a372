//! The burn tensor path of the classical signals matches the plain-Rust path (which is itself
//! checked against OpenCV/scikit-image reference vectors) on the CPU `flex` backend, and on wgpu
//! when an adapter exists (lavapipe in CI).

use assay::models::backend::{self, BackendChoice};
use assay::signals::{classical, tensor};

fn close(a: Option<f64>, b: Option<f64>, what: &str) {
    match (a, b) {
        (Some(x), Some(y)) => {
            let tol = 1e-3 * x.abs().max(y.abs()).max(1e-2);
            assert!((x - y).abs() <= tol, "{what}: plain {x} vs tensor {y}");
        }
        (None, None) => {}
        _ => panic!("{what}: plain {a:?} vs tensor {b:?}"),
    }
}

fn images() -> Vec<(String, image::RgbImage)> {
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
    let mut out = Vec::new();
    for p in [
        "portrait_astronaut/seed_1001.png",
        "portrait_astronaut/seed_1003.png",
        "portrait_astronaut/seed_1004.png",
        "portrait_astronaut/seed_1007.png",
        "coffee_cup/seed_2005.jpg",
        "coffee_cup/seed_2002.jpg",
    ] {
        let img = image::open(demo.join(p)).unwrap().to_rgb8();
        out.push((p.to_string(), img));
    }
    out
}

fn check(device: &burn::tensor::Device, label: &str) {
    let imgs = images();
    // Batch same-size images together, as the scanner does.
    let mut groups: std::collections::BTreeMap<(u32, u32), Vec<&(String, image::RgbImage)>> =
        Default::default();
    for i in &imgs {
        groups.entry(i.1.dimensions()).or_default().push(i);
    }
    let mut compared = 0;
    for ((w, h), group) in groups {
        let raw: Vec<&[u8]> = group.iter().map(|g| g.1.as_raw().as_slice()).collect();
        let got = tensor::compute_batch(device, &raw, w as usize, h as usize);
        for (g, t) in group.iter().zip(got) {
            let p = classical::compute(g.1.as_raw(), w as usize, h as usize);
            let name = |s: &str| format!("{label} {} {s}", g.0);
            close(
                p.blur_laplacian_var,
                t.blur_laplacian_var,
                &name("blur_laplacian_var"),
            );
            close(p.tenengrad, t.tenengrad, &name("tenengrad"));
            close(
                Some(p.clip_shadows),
                Some(t.clip_shadows),
                &name("clip_shadows"),
            );
            close(
                Some(p.clip_highlights),
                Some(t.clip_highlights),
                &name("clip_highlights"),
            );
            close(
                Some(p.luminance_mean),
                Some(t.luminance_mean),
                &name("luminance_mean"),
            );
            close(
                Some(p.contrast_rms),
                Some(t.contrast_rms),
                &name("contrast_rms"),
            );
            close(
                Some(p.colorfulness),
                Some(t.colorfulness),
                &name("colorfulness"),
            );
            close(p.noise_sigma, t.noise_sigma, &name("noise_sigma"));
            close(p.blockiness, t.blockiness, &name("blockiness"));
            assert_eq!(p.blank, t.blank, "{}", name("blank"));
            compared += 1;
        }
    }
    assert_eq!(compared, 6);
}

#[test]
fn tensor_path_matches_plain_path_on_flex() {
    let sel = backend::select(BackendChoice::Flex).unwrap();
    check(&sel.device, "flex");
}

#[test]
fn tensor_path_matches_plain_path_on_wgpu() {
    match backend::select(BackendChoice::Wgpu) {
        Ok(sel) => {
            eprintln!("wgpu parity on {}", sel.describe());
            check(&sel.device, "wgpu");
        }
        Err(e) => {
            if std::env::var("ASSAY_REQUIRE_WGPU").as_deref() == Ok("1") {
                panic!("ASSAY_REQUIRE_WGPU=1 but no adapter: {e}");
            }
            eprintln!("SKIPPED tensor_path_matches_plain_path_on_wgpu: {e}");
        }
    }
}
