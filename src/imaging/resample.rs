//! Pillow's 8-bit separable resampler (`ImagingResample` in `src/libImaging/Resample.c`),
//! bit-exact, for the two filters Assay's peers use: Lanczos-3 on mode `L` (ImageHash's
//! thumbnails, [`crate::signals::phash`]) and bicubic (a = −0.5) on RGB (CLIP preprocessing,
//! `models::clip::preprocess`, and the face detector's working copy, `models::mtcnn`).
//!
//! As in Pillow: the filter support is widened by the downscale factor (antialiasing), the
//! coefficients are normalised and rounded to 22-bit fixed point, each pass is rounded and
//! clipped to 8 bits, the horizontal pass runs first unless the height shrinks more than twice
//! as much as the width, and then only over the rows that the vertical pass reads.

/// The resampling filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// Pillow's `bicubic_filter` (Keys, a = −0.5), support 2.
    Bicubic,
    /// Pillow's `lanczos_filter`: `sinc(x) · sinc(x / 3)` on [−3, 3), support 3.
    Lanczos,
}

impl Filter {
    fn support(self) -> f64 {
        match self {
            Self::Bicubic => 2.0,
            Self::Lanczos => 3.0,
        }
    }

    fn weight(self, x: f64) -> f64 {
        match self {
            Self::Bicubic => {
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
            Self::Lanczos => {
                fn sinc(x: f64) -> f64 {
                    if x == 0.0 {
                        return 1.0;
                    }
                    let x = x * std::f64::consts::PI;
                    x.sin() / x
                }
                if (-3.0..3.0).contains(&x) {
                    sinc(x) * sinc(x / 3.0)
                } else {
                    0.0
                }
            }
        }
    }
}

/// Fixed-point bits of Pillow's 8-bit resampler: `PRECISION_BITS = 32 - 8 - 2`.
const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for one axis (box = the whole
/// input): per output sample the first input index, the tap count, and `ksize` fixed-point
/// coefficients.
struct Coeffs {
    ksize: usize,
    bounds: Vec<(usize, usize)>,
    kk: Vec<i32>,
}

fn precompute_coeffs(in_size: usize, out_size: usize, filter: Filter) -> Coeffs {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = filter.support() * filterscale;
    let ksize = support.ceil() as usize * 2 + 1;
    let inv_filterscale = 1.0 / filterscale;
    let mut bounds = Vec::with_capacity(out_size);
    let mut kk = vec![0i32; out_size * ksize];
    let mut k = vec![0f64; ksize];
    for xx in 0..out_size {
        let center = (xx as f64 + 0.5) * scale;
        // C `(int)` truncates toward zero, as `as i64` does.
        let xmin = ((center - support + 0.5) as i64).max(0) as usize;
        let xmax = ((center + support + 0.5) as i64).min(in_size as i64).max(0) as usize;
        let count = xmax.saturating_sub(xmin).min(ksize);
        let mut ww = 0.0;
        for (x, kx) in k.iter_mut().enumerate().take(count) {
            let w = filter.weight(((x + xmin) as f64 - center + 0.5) * inv_filterscale);
            *kx = w;
            ww += w;
        }
        let row = &mut kk[xx * ksize..(xx + 1) * ksize];
        for (dst, &w) in row.iter_mut().zip(&k[..count]) {
            let w = if ww != 0.0 { w / ww } else { w };
            let scaled = w * f64::from(1u32 << PRECISION_BITS);
            // normalize_coeffs_8bpc: round half away from zero, then C truncation.
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

/// Pillow's `clip8`: drop the fixed-point fraction (arithmetic shift) and clamp to u8.
///
/// The sums are C `int`s in Pillow; with 22-bit coefficients (Σ|k| < 1.3 · 2^22) and 8-bit
/// input they stay below 2^31, and the wrapping arithmetic used here only mirrors C's
/// two's-complement behaviour instead of panicking in debug builds.
#[inline]
fn clip8(ss: i32) -> u8 {
    (ss >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Horizontal pass over rows `y0..y0 + rows` of a `w`-wide image with `C` channels.
fn pass_horizontal<const C: usize>(
    src: &[u8],
    w: usize,
    y0: usize,
    rows: usize,
    c: &Coeffs,
) -> Vec<u8> {
    let out_w = c.bounds.len();
    let mut out = Vec::with_capacity(out_w * rows * C);
    for y in y0..y0 + rows {
        let line = &src[y * w * C..(y + 1) * w * C];
        for (xx, &(xmin, count)) in c.bounds.iter().enumerate() {
            let k = &c.kk[xx * c.ksize..xx * c.ksize + count];
            let mut ss = [1i32 << (PRECISION_BITS - 1); C];
            for (p, &kv) in line[xmin * C..(xmin + count) * C].chunks_exact(C).zip(k) {
                for ch in 0..C {
                    ss[ch] = ss[ch].wrapping_add(i32::from(p[ch]).wrapping_mul(kv));
                }
            }
            out.extend(ss.iter().map(|&s| clip8(s)));
        }
    }
    out
}

/// Vertical pass over a `w`-wide image with `C` channels; `y_offset` is subtracted from the
/// bounds.
fn pass_vertical<const C: usize>(src: &[u8], w: usize, y_offset: usize, c: &Coeffs) -> Vec<u8> {
    let row = w * C;
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

/// `Image.resize((new_w, new_h), filter)` on an 8-bit image with `C` interleaved channels
/// (`C = 1` for mode `L`, 3 for RGB), bit-exact with Pillow.
///
/// Returns an empty vector when either output size is 0 or the input is empty or shorter
/// than `w · h · C`; a copy when the size does not change (as `Image.resize` does).
#[must_use]
pub fn resize<const C: usize>(
    src: &[u8],
    w: usize,
    h: usize,
    new_w: usize,
    new_h: usize,
    filter: Filter,
) -> Vec<u8> {
    if new_w == 0 || new_h == 0 || w == 0 || h == 0 || src.len() < w * h * C {
        return Vec::new();
    }
    let src = &src[..w * h * C];
    if new_w == w && new_h == h {
        return src.to_vec();
    }
    let need_h = new_w != w;
    let need_v = new_h != h;
    let horizontal_first = !(h > new_h && (h - new_h) as i64 > (w as i64 - new_w as i64) * 2);
    let vert = precompute_coeffs(h, new_h, filter);
    if horizontal_first {
        // Only the rows that the vertical pass reads are resampled horizontally.
        let y_first = vert.bounds.first().map_or(0, |b| b.0);
        let y_last = vert.bounds.last().map_or(h, |b| b.0 + b.1);
        let (img, cur_w, y_off) = if need_h {
            let horiz = precompute_coeffs(w, new_w, filter);
            let img = pass_horizontal::<C>(src, w, y_first, y_last - y_first, &horiz);
            (img, new_w, y_first)
        } else {
            (src.to_vec(), w, 0)
        };
        if need_v {
            pass_vertical::<C>(&img, cur_w, y_off, &vert)
        } else {
            img
        }
    } else {
        let img = pass_vertical::<C>(src, w, 0, &vert);
        if need_h {
            let horiz = precompute_coeffs(w, new_w, filter);
            pass_horizontal::<C>(&img, w, 0, new_h, &horiz)
        } else {
            img
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A constant image stays constant under both filters (the coefficients sum to 1 in
    /// fixed point), for every channel count and pass order.
    #[test]
    fn constant_images_stay_constant() {
        for filter in [Filter::Bicubic, Filter::Lanczos] {
            for (w, h, nw, nh) in [(50, 7, 8, 8), (7, 50, 32, 3), (640, 480, 224, 168)] {
                let g = vec![93u8; w * h];
                assert!(
                    resize::<1>(&g, w, h, nw, nh, filter)
                        .iter()
                        .all(|&v| v == 93)
                );
                let rgb: Vec<u8> = (0..w * h).flat_map(|_| [10u8, 128, 250]).collect();
                let out = resize::<3>(&rgb, w, h, nw, nh, filter);
                assert_eq!(out.len(), nw * nh * 3);
                assert!(
                    out.chunks_exact(3).all(|p| p == [10, 128, 250]),
                    "{filter:?}"
                );
            }
        }
    }

    /// Each channel of an RGB resize equals the one-channel resize of that channel.
    #[test]
    fn channels_are_independent() {
        let (w, h) = (37, 23);
        let rgb: Vec<u8> = (0..w * h * 3).map(|i| (i * 7919 % 251) as u8).collect();
        for filter in [Filter::Bicubic, Filter::Lanczos] {
            let out = resize::<3>(&rgb, w, h, 11, 29, filter);
            for ch in 0..3 {
                let plane: Vec<u8> = rgb.iter().skip(ch).step_by(3).copied().collect();
                let one = resize::<1>(&plane, w, h, 11, 29, filter);
                let got: Vec<u8> = out.iter().skip(ch).step_by(3).copied().collect();
                assert_eq!(got, one, "{filter:?} channel {ch}");
            }
        }
    }

    #[test]
    fn fixed_point_sums_fit_i32() {
        // Worst case of Pillow's int accumulator: 255 on every positive tap, 0 elsewhere.
        for filter in [Filter::Bicubic, Filter::Lanczos] {
            for in_size in (1..3000).step_by(7) {
                for out_size in [8, 9, 32, 224] {
                    let c = precompute_coeffs(in_size, out_size, filter);
                    for (i, &(_, count)) in c.bounds.iter().enumerate() {
                        let k = &c.kk[i * c.ksize..i * c.ksize + count];
                        let pos: i64 = k.iter().map(|&v| i64::from(v.max(0))).sum();
                        let neg: i64 = k.iter().map(|&v| i64::from(v.min(0))).sum();
                        assert!(
                            255 * pos + (1 << 21) < i64::from(i32::MAX),
                            "{filter:?} {in_size}->{out_size}"
                        );
                        assert!(255 * neg > i64::from(i32::MIN));
                    }
                }
            }
        }
    }

    #[test]
    fn degenerate_sizes() {
        let g = vec![1u8, 2, 3, 4, 5, 6];
        assert_eq!(resize::<1>(&g, 3, 2, 3, 2, Filter::Lanczos), g);
        assert!(resize::<1>(&g, 3, 2, 0, 2, Filter::Lanczos).is_empty());
        assert!(
            resize::<3>(&g, 3, 2, 2, 2, Filter::Bicubic).is_empty(),
            "too short"
        );
    }
}
