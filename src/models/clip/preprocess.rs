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
//! PickScore's `CLIPProcessor` (Hugging Face `CLIPImageProcessor`, PIL backend) resizes the same
//! way but crops at `⌊overhang/2⌋` ([`resize_crop_hf`]): a 299×150 image at 64 px (overhang 63)
//! starts its crop one column earlier than open_clip's.
//!
//! HPSv2 preprocesses differently ([`Preprocess::LongestPad`], [`resize_longest_pad`]): its
//! open_clip fork's `image_transform(S, is_train=False, resize_longest_max=True)` =
//! `ResizeMaxSize(S, fill=0)` — scale `S / max(w, h)`, each side `round(side · scale)` (Python's
//! round, half to even), the same bicubic resampler, then zero padding to S×S with
//! `⌊pad/2⌋` before and the rest after (open_clip 3.x spells it
//! `resize_mode="longest"`: `ResizeKeepRatio(S, longest=1)` + `CenterCropOrPad(S, fill=0)`, the
//! same pixels; `scripts/gen_judge_refs.py` checks both). Deliberate difference: an image whose
//! long side is already S is padded too (`ResizeMaxSize` leaves it unpadded and non-square,
//! which HPS's model then cannot take).
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
    resize_crop_at(rgb, w, h, size, half_round_even)
}

/// [`resize_crop`] as Hugging Face's `CLIPImageProcessor` does it: the same resize, the crop
/// offset `⌊(h − S)/2⌋` (`image_transforms.center_crop`), one pixel less than torchvision's
/// when the overhang is odd and its half rounds up.
pub fn resize_crop_hf(rgb: &[u8], w: usize, h: usize, size: usize) -> Option<Vec<u8>> {
    resize_crop_at(rgb, w, h, size, |x| x / 2)
}

/// [`resize_crop`] with the crop offset `offset(overhang)`.
fn resize_crop_at(
    rgb: &[u8],
    w: usize,
    h: usize,
    size: usize,
    offset: fn(usize) -> usize,
) -> Option<Vec<u8>> {
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
    let top = offset(nh - size);
    let left = offset(nw - size);
    let mut out = Vec::with_capacity(size * size * 3);
    for y in top..top + size {
        out.extend_from_slice(&resized[(y * nw + left) * 3..(y * nw + left + size) * 3]);
    }
    Some(out)
}

/// How a model wants its S×S input made from an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Preprocess {
    /// CLIP's: shorter side → S, centre crop ([`resize_crop`]).
    CenterCrop,
    /// Hugging Face `CLIPImageProcessor`'s (PickScore): the same with floored crop offsets
    /// ([`resize_crop_hf`]).
    HfCenterCrop,
    /// HPSv2's: longer side → S, zero padding to a square ([`resize_longest_pad`]).
    LongestPad,
}

impl Preprocess {
    /// The S×S RGB8 input (before normalisation), or `None` as [`resize_crop`].
    pub fn apply(self, rgb: &[u8], w: usize, h: usize, size: usize) -> Option<Vec<u8>> {
        match self {
            Self::CenterCrop => resize_crop(rgb, w, h, size),
            Self::HfCenterCrop => resize_crop_hf(rgb, w, h, size),
            Self::LongestPad => resize_longest_pad(rgb, w, h, size),
        }
    }
}

/// HPSv2's `ResizeMaxSize(S, fill=0)`: longer side → S (bicubic), the shorter
/// `round(short · S / long)` (half to even, at least 1), zero padding to S×S, `⌊pad/2⌋`
/// before. `None` for an empty image, a short buffer, or an aspect ratio beyond
/// [`MAX_ASPECT`].
pub fn resize_longest_pad(rgb: &[u8], w: usize, h: usize, size: usize) -> Option<Vec<u8>> {
    if w == 0 || h == 0 || size == 0 || rgb.len() < w * h * 3 {
        return None;
    }
    if w.max(h) > MAX_ASPECT * w.min(h) {
        return None;
    }
    // `scale = max_size / float(max(height, width))`; `round(dim * scale)` per side.
    let scale = size as f64 / w.max(h) as f64;
    let side = |d: usize| ((d as f64 * scale).round_ties_even() as usize).clamp(1, size);
    let (nw, nh) = (side(w), side(h));
    let resized = if (nw, nh) == (w, h) {
        rgb[..w * h * 3].to_vec()
    } else {
        resize_bicubic_rgb(rgb, w, h, nw, nh)
    };
    let (left, top) = ((size - nw) / 2, (size - nh) / 2);
    let mut out = vec![0u8; size * size * 3];
    for y in 0..nh {
        let dst = ((top + y) * size + left) * 3;
        out[dst..dst + nw * 3].copy_from_slice(&resized[y * nw * 3..(y + 1) * nw * 3]);
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
    fn longest_pad_scales_the_long_side_and_centres_with_zeros() {
        // 300×100 → 32×11 (10.67 rounds to 11), padded 10 rows above and 11 below.
        let rgb = vec![200u8; 300 * 100 * 3];
        let out = resize_longest_pad(&rgb, 300, 100, 32).expect("pad");
        assert_eq!(out.len(), 32 * 32 * 3);
        let row = |y: usize| &out[y * 32 * 3..(y + 1) * 32 * 3];
        assert!(row(9).iter().all(|&v| v == 0) && row(21).iter().all(|&v| v == 0));
        assert!((10..21).all(|y| row(y).iter().all(|&v| v == 200)));
        // Tall: columns padded; 20×50 at 10 → 4×10 (half to even: 4.0), 3 columns each side.
        let tall = vec![7u8; 20 * 50 * 3];
        let out = resize_longest_pad(&tall, 20, 50, 10).expect("pad");
        for y in 0..10 {
            let px: Vec<u8> = (0..10).map(|x| out[(y * 10 + x) * 3]).collect();
            assert_eq!(px, [0, 0, 0, 7, 7, 7, 7, 0, 0, 0]);
        }
        // Square at S: unchanged; long side at S: padded, not resized.
        let img: Vec<u8> = (0..16 * 16 * 3).map(|i| (i % 251) as u8).collect();
        assert_eq!(resize_longest_pad(&img, 16, 16, 16), Some(img));
        let wide = vec![5u8; 16 * 8 * 3];
        let out = resize_longest_pad(&wide, 16, 8, 16).expect("pad");
        let rows: Vec<u8> = out.chunks(16 * 3).map(|r| r[0]).collect();
        assert_eq!(rows, [0, 0, 0, 0, 5, 5, 5, 5, 5, 5, 5, 5, 0, 0, 0, 0]);
        assert!(resize_longest_pad(&[], 0, 0, 16).is_none());
        assert!(resize_longest_pad(&vec![0u8; 65_535 * 3], 65_535, 1, 224).is_none());
        assert_eq!(
            Preprocess::CenterCrop.apply(&wide, 16, 8, 8),
            resize_crop(&wide, 16, 8, 8)
        );
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
