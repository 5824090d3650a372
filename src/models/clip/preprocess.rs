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

/// Pillow's `bicubic_filter` (a = −0.5), support 2.
fn bicubic(x: f64) -> f64 {
    const A: f64 = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * A
    } else {
        0.0
    }
}

/// Fixed-point bits of Pillow's 8-bit resampler.
const PRECISION_BITS: u32 = 32 - 8 - 2;

struct Coeffs {
    ksize: usize,
    bounds: Vec<(usize, usize)>,
    kk: Vec<i32>,
}

/// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` (box = the whole input).
fn precompute_coeffs(in_size: usize, out_size: usize) -> Coeffs {
    const SUPPORT: f64 = 2.0;
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = SUPPORT * filterscale;
    let ksize = support.ceil() as usize * 2 + 1;
    let inv = 1.0 / filterscale;
    let mut bounds = Vec::with_capacity(out_size);
    let mut kk = vec![0i32; out_size * ksize];
    let mut k = vec![0f64; ksize];
    for xx in 0..out_size {
        let center = (xx as f64 + 0.5) * scale;
        let xmin = ((center - support + 0.5) as i64).max(0) as usize;
        let xmax = ((center + support + 0.5) as i64).min(in_size as i64).max(0) as usize;
        let count = xmax.saturating_sub(xmin).min(ksize);
        let mut ww = 0.0;
        for (x, kx) in k.iter_mut().enumerate().take(count) {
            let w = bicubic(((x + xmin) as f64 - center + 0.5) * inv);
            *kx = w;
            ww += w;
        }
        for (dst, &w) in kk[xx * ksize..(xx + 1) * ksize].iter_mut().zip(&k[..count]) {
            let w = if ww != 0.0 { w / ww } else { w };
            let scaled = w * f64::from(1u32 << PRECISION_BITS);
            *dst = if w < 0.0 {
                (-0.5 + scaled) as i32
            } else {
                (0.5 + scaled) as i32
            };
        }
        bounds.push((xmin, count));
    }
    Coeffs { ksize, bounds, kk }
}

#[inline]
fn clip8(ss: i32) -> u8 {
    (ss >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Horizontal pass over rows `y0..y0 + rows` of a `w`-wide RGB image.
fn pass_h(src: &[u8], w: usize, y0: usize, rows: usize, c: &Coeffs) -> Vec<u8> {
    let out_w = c.bounds.len();
    let mut out = Vec::with_capacity(out_w * rows * 3);
    for y in y0..y0 + rows {
        let line = &src[y * w * 3..(y + 1) * w * 3];
        for (xx, &(xmin, count)) in c.bounds.iter().enumerate() {
            let k = &c.kk[xx * c.ksize..xx * c.ksize + count];
            let mut ss = [1i32 << (PRECISION_BITS - 1); 3];
            for (i, &kv) in k.iter().enumerate() {
                let p = &line[(xmin + i) * 3..(xmin + i) * 3 + 3];
                for ch in 0..3 {
                    ss[ch] = ss[ch].wrapping_add(i32::from(p[ch]).wrapping_mul(kv));
                }
            }
            out.extend(ss.iter().map(|&s| clip8(s)));
        }
    }
    out
}

/// Vertical pass over a `w`-wide RGB image; `y_offset` is subtracted from the bounds.
fn pass_v(src: &[u8], w: usize, y_offset: usize, c: &Coeffs) -> Vec<u8> {
    let row = w * 3;
    let out_h = c.bounds.len();
    let mut out = vec![0u8; row * out_h];
    let mut acc = vec![0i32; row];
    for (yy, &(ymin, count)) in c.bounds.iter().enumerate() {
        let k = &c.kk[yy * c.ksize..yy * c.ksize + count];
        acc.fill(1i32 << (PRECISION_BITS - 1));
        for (dy, &kv) in k.iter().enumerate() {
            let y = ymin + dy - y_offset;
            for (a, &p) in acc.iter_mut().zip(&src[y * row..(y + 1) * row]) {
                *a = a.wrapping_add(i32::from(p).wrapping_mul(kv));
            }
        }
        for (o, &a) in out[yy * row..(yy + 1) * row].iter_mut().zip(&acc) {
            *o = clip8(a);
        }
    }
    out
}

/// `Image.resize((new_w, new_h), Image.BICUBIC)` on an RGB image, bit-exact (same pass
/// order and row window as Pillow, see `signals/phash.rs` for the Lanczos twin).
pub fn resize_bicubic_rgb(rgb: &[u8], w: usize, h: usize, new_w: usize, new_h: usize) -> Vec<u8> {
    if new_w == 0 || new_h == 0 || w == 0 || h == 0 || rgb.len() < w * h * 3 {
        return Vec::new();
    }
    if new_w == w && new_h == h {
        return rgb[..w * h * 3].to_vec();
    }
    let need_h = new_w != w;
    let need_v = new_h != h;
    let horizontal_first = !(h > new_h && (h - new_h) as i64 > (w as i64 - new_w as i64) * 2);
    let vert = precompute_coeffs(h, new_h);
    if horizontal_first {
        let mut img = rgb[..w * h * 3].to_vec();
        let mut cur_w = w;
        let y_first = vert.bounds.first().map_or(0, |b| b.0);
        let y_last = vert.bounds.last().map_or(h, |b| b.0 + b.1);
        let mut y_off = 0;
        if need_h {
            img = pass_h(
                &img,
                w,
                y_first,
                y_last - y_first,
                &precompute_coeffs(w, new_w),
            );
            cur_w = new_w;
            y_off = y_first;
        }
        if need_v {
            img = pass_v(&img, cur_w, y_off, &vert);
        }
        img
    } else {
        let mut img = pass_v(&rgb[..w * h * 3], w, 0, &vert);
        if need_h {
            img = pass_h(&img, w, 0, new_h, &precompute_coeffs(w, new_w));
        }
        img
    }
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
