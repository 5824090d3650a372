//! The classical signals as burn tensor ops, batched over same-size images, so the same code
//! runs on wgpu (GPU) and on burn's `flex` CPU backend.
//!
//! Definitions are those of [`super::classical`] (the f64 plain-Rust path, checked against
//! OpenCV/scikit-image reference vectors). Here everything is f32 on the device: grey levels are
//! exact (integer arithmetic below 2²⁴), reductions are not, so values agree with the f64 path to
//! about 1e-4 relative (tests allow 1e-3). On the CPU the plain-Rust path is faster (see
//! `assay bench signals`), so the scanner uses this path only on a GPU or with `--backend flex`.

use burn::tensor::module::conv2d;
use burn::tensor::ops::{ConvOptions, PadMode};
use burn::tensor::{Device, Tensor, TensorData};

use super::classical::{self, Classical};

/// Number of per-image scalars read back from the device.
const K: usize = 12;

fn kernel(device: &Device, rows: &[[f32; 9]]) -> Tensor<4> {
    let data: Vec<f32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
    Tensor::from_data(TensorData::new(data, [rows.len(), 1, 3, 3]), device)
}

/// Per-image sum over channels and space: [N, C, H, W] -> [N, 1, 1, 1].
///
/// Reduces one axis at a time: a single reduction over a flattened `H·W` axis returned wrong
/// sums for rows after the first on burn-wgpu 0.22.1 (lavapipe) once rows exceed ~10⁵ elements;
/// per-axis reductions are correct there and more accurate in f32 everywhere.
fn sum4(x: Tensor<4>) -> Tensor<4> {
    x.sum_dim(3).sum_dim(2).sum_dim(1)
}

/// Per-image mean: [N, C, H, W] -> [N, 1, 1, 1].
fn mean4(x: Tensor<4>) -> Tensor<4> {
    let [_, c, h, w] = x.dims();
    sum4(x).div_scalar((c * h * w) as f64)
}

/// Per-image population variance: [N, C, H, W] -> [N, 1, 1, 1].
fn var4(x: Tensor<4>) -> Tensor<4> {
    let m = mean4(x.clone());
    mean4((x - m).powi_scalar(2))
}

/// Computes the classical signals for a batch of RGB8 images that all have `width`×`height`.
/// Images smaller than 3 px on a side go through the plain path (the kernels need a border).
pub fn compute_batch(
    device: &Device,
    images: &[&[u8]],
    width: usize,
    height: usize,
) -> Vec<Classical> {
    if images.is_empty() {
        return Vec::new();
    }
    if width < 3 || height < 3 {
        return images
            .iter()
            .map(|rgb| classical::compute(rgb, width, height))
            .collect();
    }
    let n = images.len();
    let (h, w) = (height, width);
    let plane = h * w;
    let [r, g, b] = upload_channels(device, images, w, h);

    // OpenCV BT.601 grey, exact: (9798R + 19235G + 3735B + 16384) >> 15.
    let gray = (r.clone() * 9798.0 + g.clone() * 19235.0 + b.clone() * 3735.0 + 16384.0)
        // × 2⁻¹⁵ is exact everywhere; a GPU division may round k·32768/32768 below k.
        .mul_scalar(1.0 / 32768.0)
        .floor(); // [N,1,H,W]

    let (lap_var, tenengrad) = sharpness(device, &gray);

    // Exposure and contrast.
    let shadows = mean4(gray.clone().lower_equal_elem(5.0).float());
    let highlights = mean4(gray.clone().greater_equal_elem(250.0).float());
    let lum = mean4(gray.clone());
    let gray_var = var4(gray.clone());
    let contrast = gray_var.clone().sqrt().div_scalar(255.0);

    // Hasler–Süsstrunk colourfulness.
    let rg = r.clone() - g.clone();
    let yb = (r + g).div_scalar(2.0) - b;
    let colorful = (var4(rg.clone()) + var4(yb.clone())).sqrt()
        + (mean4(rg).powi_scalar(2) + mean4(yb).powi_scalar(2))
            .sqrt()
            .mul_scalar(0.3);

    // Immerkær noise over the valid interior.
    let noise_k = kernel(device, &[[1., -2., 1., -2., 4., -2., 1., -2., 1.]]);
    let noise_sum = sum4(conv2d(gray.clone(), noise_k, None, conv_options()).abs());
    let noise = noise_sum
        .mul_scalar((std::f64::consts::PI / 2.0).sqrt() / (6.0 * (w - 2) as f64 * (h - 2) as f64));

    let Blockiness {
        bound_sum,
        other_sum,
        bound_count,
        other_count,
    } = Blockiness::sums(device, &gray, w, h);

    // Blank: std < 2 or > 98 % within ±2 of the (numpy) median.
    let sorted = gray.clone().reshape([n, plane]).sort(1);
    let median = if plane % 2 == 1 {
        sorted.narrow(1, plane / 2, 1)
    } else {
        (sorted.clone().narrow(1, plane / 2 - 1, 1) + sorted.narrow(1, plane / 2, 1))
            .div_scalar(2.0)
    }
    .reshape([n, 1, 1, 1]);
    let near_median = mean4((gray - median).abs().lower_equal_elem(2.0).float());

    let stats: Vec<Tensor<2>> = [
        lap_var,
        tenengrad,
        shadows,
        highlights,
        lum,
        contrast,
        colorful,
        noise,
        bound_sum,
        other_sum,
        gray_var,
        near_median,
    ]
    .into_iter()
    .map(|t| t.reshape([n, 1]))
    .collect();
    let stats = Tensor::cat(stats, 1); // [N, K]
    let values: Vec<f32> = stats
        .into_data()
        .try_into_vec_as::<f32>()
        .unwrap_or_default();
    (0..n)
        .map(|i| {
            classical_of(
                &values[(i * K).min(values.len())..],
                bound_count,
                other_count,
            )
        })
        .collect()
}

/// 3×3 convolution, stride 1, no padding.
fn conv_options() -> ConvOptions<2> {
    ConvOptions::new([1, 1], [0, 0], [1, 1], 1)
}

/// One contiguous [N, 1, H, W] f32 tensor per channel of the `w`×`h` RGB8 `images`. (Slicing a
/// planar [N, 3, H, W] tensor with `narrow` and reshaping the result mixed images up on
/// burn-wgpu 0.22.1 for N > 1; separate uploads avoid strided views.)
fn upload_channels(device: &Device, images: &[&[u8]], w: usize, h: usize) -> [Tensor<4>; 3] {
    let n = images.len();
    let plane = h * w;
    let mut planes = [
        vec![0f32; n * plane],
        vec![0f32; n * plane],
        vec![0f32; n * plane],
    ];
    for (i, rgb) in images.iter().enumerate() {
        for (p, px) in rgb.chunks_exact(3).take(plane).enumerate() {
            for (c, v) in px.iter().enumerate() {
                if let Some(slot) = planes.get_mut(c).and_then(|pl| pl.get_mut(i * plane + p)) {
                    *slot = f32::from(*v);
                }
            }
        }
    }
    let [pr, pg, pb] = planes;
    let upload = |v: Vec<f32>| Tensor::<4>::from_data(TensorData::new(v, [n, 1, h, w]), device);
    [upload(pr), upload(pg), upload(pb)]
}

/// Laplacian variance and Tenengrad (mean squared Sobel magnitude) of the grey images, with
/// BORDER_REFLECT_101 (= burn's Reflect padding): two [N, 1, 1, 1] tensors.
fn sharpness(device: &Device, gray: &Tensor<4>) -> (Tensor<4>, Tensor<4>) {
    let padded = gray.clone().pad([(1, 1), (1, 1)], PadMode::Reflect);
    let lap = conv2d(
        padded.clone(),
        kernel(device, &[[0., 1., 0., 1., -4., 1., 0., 1., 0.]]),
        None,
        conv_options(),
    );
    let lap_var = var4(lap);
    let sobel = conv2d(
        padded,
        kernel(
            device,
            &[
                [-1., 0., 1., -2., 0., 2., -1., 0., 1.],
                [-1., -2., -1., 0., 0., 0., 1., 2., 1.],
            ],
        ),
        None,
        conv_options(),
    ); // [N,2,H,W]
    let tenengrad = mean4(sobel.powi_scalar(2).sum_dim(1));
    (lap_var, tenengrad)
}

/// Blockiness: |Δ| across 8-px grid boundaries vs elsewhere, both directions pooled.
struct Blockiness {
    /// Per-image sums of |Δ| across grid boundaries and elsewhere, [N, 1, 1, 1].
    bound_sum: Tensor<4>,
    other_sum: Tensor<4>,
    /// Differences counted in each sum (the same for every image).
    bound_count: f64,
    other_count: f64,
}

impl Blockiness {
    /// The sums of the `w`×`h` grey images.
    fn sums(device: &Device, gray: &Tensor<4>, w: usize, h: usize) -> Self {
        let dh = (gray.clone().narrow(3, 1, w - 1) - gray.clone().narrow(3, 0, w - 1)).abs(); // [N,1,H,W-1]
        let dv = (gray.clone().narrow(2, 1, h - 1) - gray.clone().narrow(2, 0, h - 1)).abs(); // [N,1,H-1,W]
        let col_mask: Vec<f32> = (1..w).map(|c| f32::from(u8::from(c % 8 == 0))).collect();
        let row_mask: Vec<f32> = (1..h).map(|r| f32::from(u8::from(r % 8 == 0))).collect();
        let n_bcols = col_mask.iter().filter(|m| **m > 0.0).count();
        let n_brows = row_mask.iter().filter(|m| **m > 0.0).count();
        let col_mask = Tensor::<4>::from_data(TensorData::new(col_mask, [1, 1, 1, w - 1]), device);
        let row_mask = Tensor::<4>::from_data(TensorData::new(row_mask, [1, 1, h - 1, 1]), device);
        let dh_total = sum4(dh.clone());
        let dh_bound = sum4(dh * col_mask);
        let dv_total = sum4(dv.clone());
        let dv_bound = sum4(dv * row_mask);
        let bound_sum = dh_bound.clone() + dv_bound.clone();
        let other_sum = dh_total + dv_total - dh_bound - dv_bound;
        let bound_count = (h * n_bcols + w * n_brows) as f64;
        let other_count = (h * (w - 1) + (h - 1) * w) as f64 - bound_count;
        Self {
            bound_sum,
            other_sum,
            bound_count,
            other_count,
        }
    }
}

/// One image's signals from its `K` values read back (missing values are NaN), with the
/// difference counts of the blockiness sums.
fn classical_of(values: &[f32], bound_count: f64, other_count: f64) -> Classical {
    let v = |k: usize| f64::from(values.get(k).copied().unwrap_or(f32::NAN));
    let other_mean = v(9) / other_count;
    let blockiness = if bound_count > 0.0 && other_mean > 0.0 {
        Some((v(8) / bound_count) / other_mean)
    } else {
        None
    };
    Classical {
        blur_laplacian_var: Some(v(0)),
        tenengrad: Some(v(1)),
        clip_shadows: v(2),
        clip_highlights: v(3),
        luminance_mean: v(4),
        contrast_rms: v(5),
        colorfulness: v(6),
        noise_sigma: Some(v(7)),
        blockiness,
        blank: v(10).sqrt() < 2.0 || v(11) > 0.98,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::classical::test_refs;

    /// The tensor path against the same OpenCV/scikit-image reference vectors as the plain
    /// path, on burn's flex CPU backend, batched by size as the scanner does.
    #[test]
    fn tensor_path_matches_reference_vectors_on_flex() {
        let device = Device::flex();
        let loaded = test_refs::load_all();
        let mut groups: std::collections::BTreeMap<(usize, usize), Vec<&test_refs::Loaded>> =
            std::collections::BTreeMap::new();
        for l in &loaded {
            groups.entry((l.r.width, l.r.height)).or_default().push(l);
        }
        let mut checked = 0;
        for ((w, h), group) in groups {
            let raw: Vec<&[u8]> = group.iter().map(|l| l.rgb.as_slice()).collect();
            let got = compute_batch(&device, &raw, w, h);
            for (l, c) in group.iter().zip(got) {
                // f32 reductions: 1e-3 relative; JPEGs decode a few levels apart from PIL.
                let tol = if l.same_pixels { 1e-3 } else { 2e-2 };
                let near = |a: Option<f64>, b: Option<f64>, what: &str| match (a, b) {
                    (Some(x), Some(y)) => assert!(
                        (x - y).abs() <= tol * x.abs().max(y.abs()).max(1e-2),
                        "{} {what}: ref {x} vs tensor {y}",
                        l.r.file
                    ),
                    (None, None) => {}
                    _ => panic!("{} {what}: ref {a:?} vs tensor {b:?}", l.r.file),
                };
                near(
                    l.r.blur_laplacian_var,
                    c.blur_laplacian_var,
                    "blur_laplacian_var",
                );
                near(l.r.tenengrad, c.tenengrad, "tenengrad");
                near(Some(l.r.clip_shadows), Some(c.clip_shadows), "clip_shadows");
                near(
                    Some(l.r.clip_highlights),
                    Some(c.clip_highlights),
                    "clip_highlights",
                );
                near(
                    Some(l.r.luminance_mean),
                    Some(c.luminance_mean),
                    "luminance_mean",
                );
                near(Some(l.r.contrast_rms), Some(c.contrast_rms), "contrast_rms");
                near(Some(l.r.colorfulness), Some(c.colorfulness), "colorfulness");
                near(l.r.noise_sigma, c.noise_sigma, "noise_sigma");
                near(l.r.blockiness, c.blockiness, "blockiness");
                if l.same_pixels {
                    assert_eq!(l.r.blank == 1, c.blank, "{} blank", l.r.file);
                }
                checked += 1;
            }
        }
        assert_eq!(checked, loaded.len());
        assert!(checked >= 15, "at least the synthetic images");
    }
}
