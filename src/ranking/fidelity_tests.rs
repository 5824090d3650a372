//! Tests for [`super`] (PSNR / SSIM / MS-SSIM) against `tests/data/distribution_refs.json` and
//! the PNG pairs in `tests/data/fidelity/` (written by `scripts/gen_distribution_refs.py`).

use serde::Deserialize;

use super::*;

#[derive(Deserialize)]
struct FidelityRef {
    #[serde(rename = "ref")]
    reference: String,
    test: String,
    width: usize,
    height: usize,
    channels: usize,
    psnr: f64,
    ssim: f64,
    ms_ssim_range255: Option<f64>,
    ms_ssim_range_none: Option<f64>,
}

#[derive(Deserialize)]
struct Refs {
    fidelity: Vec<FidelityRef>,
}

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

/// Decodes a fixture PNG to interleaved 8-bit samples (grey stays 1 channel).
fn load(name: &str) -> (usize, usize, usize, Vec<u8>) {
    let img = image::open(format!("{DATA}/fidelity/{name}")).expect("decode fixture");
    let (w, h) = (img.width() as usize, img.height() as usize);
    match img {
        image::DynamicImage::ImageLuma8(g) => (w, h, 1, g.into_raw()),
        other => (w, h, 3, other.to_rgb8().into_raw()),
    }
}

fn refs() -> Vec<FidelityRef> {
    let text =
        std::fs::read_to_string(format!("{DATA}/distribution_refs.json")).expect("read refs");
    serde_json::from_str::<Refs>(&text)
        .expect("parse refs")
        .fidelity
}

#[test]
fn matches_skimage_and_torchmetrics() {
    let (mut e_psnr, mut e_ssim, mut e_ms): (f64, f64, f64) = (0.0, 0.0, 0.0);
    let mut n_ms = 0;
    for r in refs() {
        let (w, h, c, a) = load(&r.reference);
        let (_, _, _, b) = load(&r.test);
        assert_eq!(
            (w, h, c),
            (r.width, r.height, r.channels),
            "{}",
            r.reference
        );
        let ia = Image8::new(w, h, c, &a).unwrap();
        let ib = Image8::new(w, h, c, &b).unwrap();
        let p = psnr(&ia, &ib).unwrap();
        let s = ssim(&ia, &ib).unwrap();
        e_psnr = e_psnr.max((p - r.psnr).abs());
        e_ssim = e_ssim.max((s - r.ssim).abs());
        assert!(
            (p - r.psnr).abs() < 1e-10,
            "{}: psnr {p} vs {}",
            r.test,
            r.psnr
        );
        assert!(
            (s - r.ssim).abs() < 1e-7,
            "{}: ssim {s} vs {}",
            r.test,
            r.ssim
        );
        if let (Some(m255), Some(mnone)) = (r.ms_ssim_range255, r.ms_ssim_range_none) {
            n_ms += 1;
            let m = ms_ssim(&ia, &ib).unwrap();
            let pa = Planes::from_image8(&ia).unwrap();
            let pb = Planes::from_image8(&ib).unwrap();
            let mn = ms_ssim_planes(&pa, &pb, None).unwrap();
            e_ms = e_ms.max((m - m255).abs()).max((mn - mnone).abs());
            assert!((m - m255).abs() < 1e-6, "{}: ms-ssim {m} vs {m255}", r.test);
            assert!(
                (mn - mnone).abs() < 1e-6,
                "{}: ms-ssim(None) {mn} vs {mnone}",
                r.test
            );
        } else {
            assert!(matches!(
                ms_ssim(&ia, &ib),
                Err(MetricError::ImageTooSmall { .. })
            ));
        }
    }
    assert!(n_ms >= 2);
    eprintln!("max abs error: psnr {e_psnr:e}, ssim {e_ssim:e}, ms-ssim {e_ms:e}");
}

#[test]
fn identical_images() {
    let (w, h, c, a) = load("astronaut_128x96_ref.png");
    let img = Image8::new(w, h, c, &a).unwrap();
    assert_eq!(psnr(&img, &img).unwrap(), f64::INFINITY);
    assert!((ssim(&img, &img).unwrap() - 1.0).abs() < 1e-12);
    let (w, h, c, a) = load("camera_256_ref.png");
    let img = Image8::new(w, h, c, &a).unwrap();
    assert!((ms_ssim(&img, &img).unwrap() - 1.0).abs() < 1e-12);
}

#[test]
fn size_rules_and_errors() {
    let px = vec![7u8; 176 * 176];
    let small = vec![7u8; 175 * 176];
    let a = Image8::new(176, 176, 1, &px).unwrap();
    assert!(ms_ssim(&a, &a).is_ok());
    let b = Image8::new(175, 176, 1, &small).unwrap();
    assert!(matches!(
        ms_ssim(&b, &b),
        Err(MetricError::ImageTooSmall { width: 175, .. })
    ));
    assert!(matches!(
        ssim(&a, &b),
        Err(MetricError::DimensionMismatch { .. })
    ));
    let eleven = vec![0u8; 11 * 11];
    let ten = vec![0u8; 10 * 11];
    let e = Image8::new(11, 11, 1, &eleven).unwrap();
    assert!(ssim(&e, &e).is_ok());
    let t = Image8::new(10, 11, 1, &ten).unwrap();
    assert!(matches!(
        ssim(&t, &t),
        Err(MetricError::ImageTooSmall { .. })
    ));
    assert!(Image8::new(3, 3, 3, &eleven).is_err());
    assert!(Image8::new(3, 3, 0, &[]).is_err());
    let pl = Planes::new(2, 1, vec![vec![0.0, 1.0]]).unwrap();
    assert!(psnr_planes(&pl, &pl, 0.0).is_err());
    assert!(Planes::new(2, 1, vec![vec![0.0, f64::NAN]]).is_err());
    assert!(Planes::new(2, 1, vec![]).is_err());
}

#[test]
fn psnr_simple_values() {
    // one pixel off by 255 out of 4: MSE = 255²/4 → PSNR = 10·log10(4)
    let a = [0u8, 0, 0, 0];
    let b = [255u8, 0, 0, 0];
    let ia = Image8::new(2, 2, 1, &a).unwrap();
    let ib = Image8::new(2, 2, 1, &b).unwrap();
    assert!((psnr(&ia, &ib).unwrap() - 10.0 * 4f64.log10()).abs() < 1e-12);
}

#[test]
fn borders() {
    // scipy reflect: -1 -> 0, n -> n-1; torch reflect: -1 -> 1, n -> n-2
    assert_eq!(border_index(-1, 5, Border::Reflect), 0);
    assert_eq!(border_index(5, 5, Border::Reflect), 4);
    assert_eq!(border_index(-3, 5, Border::Reflect), 2);
    assert_eq!(border_index(-1, 5, Border::Reflect101), 1);
    assert_eq!(border_index(5, 5, Border::Reflect101), 3);
    assert_eq!(border_index(-5, 5, Border::Reflect101), 3);
    let taps = gaussian_taps(false);
    assert!((taps.iter().sum::<f64>() - 1.0).abs() < 1e-15);
}
