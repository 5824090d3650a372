//! CLIP image preprocessing as open_clip's `image_transform(S, is_train=False)` (OpenAI's
//! `_transform`), `../shared/docs/metrics-reference.md` §2.1:
//!
//! 1. RGB (the caller decodes; alpha is dropped, not composited),
//! 2. shorter side → S with Pillow's bicubic resampler (Keys a = −0.5, support widened by the
//!    downscale factor = antialiasing, 22-bit fixed-point coefficients, each pass rounded and
//!    clipped to 8 bits) — reimplemented from Pillow's `Resample.c`, so the result is
//!    bit-identical to `Image.resize(…, BICUBIC)`; the long side is `⌊S·long/short⌋`,
//! 3. centre crop S×S with `round((h − S)/2)` offsets, round half to even (torchvision),
//! 4. `/255`, then `(x − mean)/std` with CLIP's constants, CHW f32.
//!
//! Deliberate difference: open_clip resizes *before* `convert("RGB")`, so for RGBA images
//! Pillow resamples premultiplied colour and palette images are resized in `P`/`L` mode; we
//! convert first (the metrics reference's order). Opaque RGB, grey and JPEG images are
//! unaffected.

/// CLIP's per-channel mean.
pub const MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
/// CLIP's per-channel standard deviation (open_clip's literals verbatim; they round to the
/// same f32 as torch's).
#[allow(clippy::excessive_precision)]
pub const STD: [f32; 3] = [0.268_629_54, 0.261_302_58, 0.275_777_11];

/// `Image.resize((new_w, new_h), Image.BICUBIC)` on an RGB image, bit-exact
/// ([`crate::imaging::resample`], shared with ImageHash's Lanczos thumbnails).
pub fn resize_bicubic_rgb(rgb: &[u8], w: usize, h: usize, new_w: usize, new_h: usize) -> Vec<u8> {
    use crate::imaging::resample::{Filter, resize};
    resize::<3>(rgb, w, h, new_w, new_h, Filter::Bicubic)
}

/// Python's `round(x / 2)` for a non-negative integer `x` (half to even).
fn half_round_even(x: usize) -> usize {
    let q = x / 2;
    if x % 2 == 1 && q % 2 == 1 { q + 1 } else { q }
}

/// The most elongated image [`resize_crop`] accepts (long side : short side).
///
/// Deliberate difference from open_clip: the reference resizes the whole image before it crops,
/// so a 1 × 65,535 strip would need a 224 × 14.7M intermediate (about 10 GB). Such images are
/// refused instead of exhausting memory; real photos and generations are far below 32:1.
pub const MAX_ASPECT: usize = 32;

/// Steps 2–3: the S×S RGB8 crop (before normalisation). `None` for an empty image, a buffer
/// shorter than `w·h·3`, or an aspect ratio beyond [`MAX_ASPECT`].
pub fn resize_crop(rgb: &[u8], w: usize, h: usize, size: usize) -> Option<Vec<u8>> {
    if w == 0 || h == 0 || size == 0 || rgb.len() < w * h * 3 {
        return None;
    }
    if w.max(h) > MAX_ASPECT * w.min(h) {
        return None;
    }
    // torchvision `_compute_resized_output_size`: short → size, long → int(size * long / short).
    let (nw, nh) = if w <= h {
        (size, size * h / w)
    } else {
        (size * w / h, size)
    };
    let resized = resize_bicubic_rgb(rgb, w, h, nw, nh);
    // The long side is ≥ size, so torchvision's center_crop never pads here.
    let top = half_round_even(nh - size);
    let left = half_round_even(nw - size);
    let mut out = Vec::with_capacity(size * size * 3);
    for y in top..top + size {
        out.extend_from_slice(&resized[(y * nw + left) * 3..(y * nw + left + size) * 3]);
    }
    Some(out)
}

/// Step 4: an S×S RGB8 crop → CHW f32, `(x/255 − mean)/std`, appended to `out`.
pub fn normalize_into(crop: &[u8], out: &mut Vec<f32>) {
    let plane = crop.len() / 3;
    let start = out.len();
    out.resize(start + plane * 3, 0.0);
    for (i, px) in crop.chunks_exact(3).enumerate() {
        for c in 0..3 {
            // ToTensor divides in f32 (`img.float().div(255)`), then Normalize subtracts and
            // divides in f32.
            let v = f32::from(px[c]) / 255.0;
            out[start + c * plane + i] = (v - MEAN[c]) / STD[c];
        }
    }
}

/// All of it: RGB8 `w`×`h` → `3·S·S` normalised CHW f32.
pub fn preprocess(rgb: &[u8], w: usize, h: usize, size: usize) -> Option<Vec<f32>> {
    let crop = resize_crop(rgb, w, h, size)?;
    let mut out = Vec::with_capacity(size * size * 3);
    normalize_into(&crop, &mut out);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crop_offsets_round_half_even() {
        assert_eq!(half_round_even(75), 38); // 37.5 → 38
        assert_eq!(half_round_even(73), 36); // 36.5 → 36
        assert_eq!(half_round_even(4), 2);
        assert_eq!(half_round_even(0), 0);
    }

    #[test]
    fn constant_image_stays_constant_and_sizes() {
        let rgb = vec![200u8; 300 * 100 * 3];
        let crop = resize_crop(&rgb, 300, 100, 32).expect("crop");
        assert_eq!(crop.len(), 32 * 32 * 3);
        assert!(crop.iter().all(|&v| v == 200));
        let px = preprocess(&rgb, 300, 100, 32).expect("pre");
        assert!((px[0] - (200.0 / 255.0 - MEAN[0]) / STD[0]).abs() < 1e-6);
        assert!(resize_crop(&[], 0, 0, 32).is_none());
        // Already S×S: unchanged.
        let img: Vec<u8> = (0..16 * 16 * 3).map(|i| (i % 251) as u8).collect();
        assert_eq!(resize_crop(&img, 16, 16, 16), Some(img));
    }

    #[test]
    fn extreme_aspect_ratios_are_refused_not_resized() {
        // 1 × 65,535 would need a 224 × 14.7M intermediate; refused before any allocation.
        let strip = vec![0u8; 65_535 * 3];
        assert!(resize_crop(&strip, 1, 65_535, 224).is_none());
        assert!(resize_crop(&strip, 65_535, 1, 224).is_none());
        // Exactly MAX_ASPECT:1 still works.
        let ok = vec![9u8; MAX_ASPECT * 3];
        assert_eq!(
            resize_crop(&ok, MAX_ASPECT, 1, 8).map(|c| c.len()),
            Some(8 * 8 * 3)
        );
    }
}
