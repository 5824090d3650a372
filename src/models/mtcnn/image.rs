//! The two resamplers of the `mtcnn` package, reimplemented on the CPU in f32 exactly as
//! TensorFlow's CPU kernels compute them: `tf.image.resize(method=AREA)` (`resize_area_op.cc`,
//! the image pyramid) and `tf.image.crop_and_resize` (bilinear, extrapolation value 0; the
//! R-Net/O-Net crops). Images are interleaved HWC f32 with 3 channels.

/// An HWC image with 3 interleaved f32 channels.
#[derive(Debug, Clone)]
pub struct Hwc {
    pub width: usize,
    pub height: usize,
    pub data: Vec<f32>,
}

impl Hwc {
    /// MTCNN's input normalisation of RGB8 pixels: `(x − 127.5) / 128` (exact in f32).
    pub fn normalized(rgb: &[u8], width: usize, height: usize) -> Self {
        let data = rgb
            .iter()
            .take(width * height * 3)
            .map(|&v| (f32::from(v) - 127.5) / 128.0)
            .collect();
        Self {
            width,
            height,
            data,
        }
    }

    /// Planar CHW copy (the networks' NCHW layout).
    pub fn to_chw(&self) -> Vec<f32> {
        let plane = self.width * self.height;
        let mut out = vec![0f32; plane * 3];
        for (p, px) in self.data.chunks_exact(3).enumerate() {
            for (c, &v) in px.iter().enumerate() {
                out[c * plane + p] = v;
            }
        }
        out
    }
}

/// One axis of TF's area resampling: the first and one-past-last source cells and the scales of
/// the first and last cells (`CachedInterpolation`).
#[derive(Clone, Copy)]
struct Span {
    start: i64,
    end: i64,
    start_scale: f32,
    end_minus_one_scale: f32,
}

fn span(i: usize, scale: f32) -> Span {
    let in_0 = i as f32 * scale;
    let in_1 = (i + 1) as f32 * scale;
    let weight = |v: i64| -> f32 {
        let vf = v as f32;
        if vf < in_0 {
            if vf + 1.0 > in_1 {
                scale
            } else {
                vf + 1.0 - in_0
            }
        } else if vf + 1.0 > in_1 {
            in_1 - vf
        } else {
            1.0
        }
    };
    let start = in_0.floor() as i64;
    let end = in_1.ceil() as i64;
    Span {
        start,
        end,
        start_scale: weight(start),
        end_minus_one_scale: weight(end - 1),
    }
}

/// The source rows of output row `y` with their weights (TensorFlow's area resize: the overlap
/// of `[y·hs, (y+1)·hs)` with each source row), into `ys`.
fn source_rows(y: usize, hs: f32, in_h: usize, ys: &mut Vec<(usize, f32)>) {
    let in_y = y as f32 * hs;
    let in_y1 = (y + 1) as f32 * hs;
    ys.clear();
    for i in (in_y.floor() as i64)..(in_y1.ceil() as i64) {
        let fi = i as f32;
        let sy = if fi < in_y {
            if fi + 1.0 > in_y1 {
                hs
            } else {
                fi + 1.0 - in_y
            }
        } else if fi + 1.0 > in_y1 {
            in_y1 - fi
        } else {
            1.0
        };
        ys.push((bound(i, in_h), sy));
    }
}

fn bound(v: i64, limit: usize) -> usize {
    v.clamp(0, limit as i64 - 1) as usize
}

/// One output column of [`resize_area`]: first source cell and its weight, the cells in between
/// (weight 1), last cell and its weight (`None` when the first is the only one).
type ColumnSpan = (usize, f32, std::ops::Range<usize>, Option<(usize, f32)>);

/// `tf.image.resize(img, (out_h, out_w), method=AREA)` (align_corners false), f32.
///
/// TensorFlow sums each output pixel's source rows (each row's cells weighted by their x
/// overlap, then the row by its y overlap); the row sums depend only on the source row and the
/// output column, so they are computed once per source row (a horizontal pass over the image)
/// and combined per output row: the same operations in the same order, so the same bits, with
/// each source pixel read once instead of once per output row that overlaps it.
pub fn resize_area(img: &Hwc, out_w: usize, out_h: usize) -> Hwc {
    let (in_w, in_h) = (img.width, img.height);
    let mut data = vec![0f32; out_w * out_h * 3];
    if in_w == 0 || in_h == 0 || out_w == 0 || out_h == 0 {
        return Hwc {
            width: out_w,
            height: out_h,
            data,
        };
    }
    let hs = in_h as f32 / out_h as f32;
    let ws = in_w as f32 / out_w as f32;
    let scale = 1.0f32 / (hs * ws);
    // Per output column, indices clamped as TensorFlow's `Bound`.
    let cols: Vec<ColumnSpan> = (0..out_w)
        .map(|x| {
            let sx = span(x, ws);
            let first = (bound(sx.start, in_w), sx.start_scale);
            if sx.start + 1 == sx.end {
                return (first.0, first.1, 0..0, None);
            }
            let mid = (sx.start + 1).max(0) as usize..(sx.end - 1).max(0) as usize;
            let last = (bound(sx.end - 1, in_w), sx.end_minus_one_scale);
            (first.0, first.1, mid, Some(last))
        })
        .collect();
    // Horizontal pass: the weighted sum of every source row for every output column.
    let mut rows = vec![0f32; in_h * out_w * 3];
    for (r, out_row) in rows.chunks_exact_mut(out_w * 3).enumerate() {
        let src = &img.data[r * in_w * 3..(r + 1) * in_w * 3];
        let px = |col: usize, c: usize| src[col.min(in_w - 1) * 3 + c];
        for ((first, first_scale, mid, last), o) in cols.iter().zip(out_row.chunks_exact_mut(3)) {
            let mut sum_y = [0f32; 3];
            for (c, s) in sum_y.iter_mut().enumerate() {
                *s = px(*first, c) * first_scale;
            }
            if let Some((last, last_scale)) = last {
                for col in mid.clone() {
                    for (c, s) in sum_y.iter_mut().enumerate() {
                        *s += px(col, c);
                    }
                }
                for (c, s) in sum_y.iter_mut().enumerate() {
                    *s += px(*last, c) * last_scale;
                }
            }
            o.copy_from_slice(&sum_y);
        }
    }
    // Vertical pass: each output row from its source rows' sums.
    let mut ys: Vec<(usize, f32)> = Vec::new();
    let mut sum = vec![0f32; out_w * 3];
    for (y, out) in data.chunks_exact_mut(out_w * 3).enumerate() {
        source_rows(y, hs, in_h, &mut ys);
        sum.fill(0.0);
        for &(row, sy) in &ys {
            let src = &rows[row * out_w * 3..(row + 1) * out_w * 3];
            for (s, v) in sum.iter_mut().zip(src) {
                *s += v * sy;
            }
        }
        for (o, s) in out.iter_mut().zip(&sum) {
            *o = s * scale;
        }
    }
    Hwc {
        width: out_w,
        height: out_h,
        data,
    }
}

/// `tf.image.crop_and_resize` of one box to `size`×`size`, bilinear, extrapolation value 0,
/// written as planar CHW into `out` (length 3·size²). The box is `[x1, y1, x2, y2]` in pixels;
/// like `mtcnn`'s `extract_patches` it is normalised by the image size in f64 and handed to the
/// kernel as f32.
pub fn crop_and_resize_chw(img: &Hwc, bx: [f64; 4], size: usize, out: &mut [f32]) {
    crop_and_resize(img, bx, size, out, true);
}

/// [`crop_and_resize_chw`], written planar (CHW) or channels-last (HWC, `planar` false).
pub fn crop_and_resize(img: &Hwc, bx: [f64; 4], size: usize, out: &mut [f32], planar: bool) {
    let (w, h) = (img.width, img.height);
    let y1 = (bx[1] / h as f64) as f32;
    let x1 = (bx[0] / w as f64) as f32;
    let y2 = (bx[3] / h as f64) as f32;
    let x2 = (bx[2] / w as f64) as f32;
    let hm1 = (h as f32) - 1.0;
    let wm1 = (w as f32) - 1.0;
    let (height_scale, width_scale) = if size > 1 {
        (
            (y2 - y1) * hm1 / (size - 1) as f32,
            (x2 - x1) * wm1 / (size - 1) as f32,
        )
    } else {
        (0.0, 0.0)
    };
    let plane = size * size;
    // Index of channel `c` of output pixel `o`.
    let at_out = |o: usize, c: usize| if planar { c * plane + o } else { o * 3 + c };
    for y in 0..size {
        let in_y = if size > 1 {
            y1 * hm1 + y as f32 * height_scale
        } else {
            0.5 * (y1 + y2) * hm1
        };
        for x in 0..size {
            let in_x = if size > 1 {
                x1 * wm1 + x as f32 * width_scale
            } else {
                0.5 * (x1 + x2) * wm1
            };
            let o = y * size + x;
            if !(0.0..=hm1).contains(&in_y) || !(0.0..=wm1).contains(&in_x) {
                for c in 0..3 {
                    out[at_out(o, c)] = 0.0;
                }
                continue;
            }
            let top = in_y.floor() as usize;
            let bottom = in_y.ceil() as usize;
            let y_lerp = in_y - top as f32;
            let left = in_x.floor() as usize;
            let right = in_x.ceil() as usize;
            let x_lerp = in_x - left as f32;
            let at = |r: usize, col: usize, c: usize| img.data[(r * w + col) * 3 + c];
            for c in 0..3 {
                let tl = at(top, left, c);
                let tr = at(top, right, c);
                let bl = at(bottom, left, c);
                let br = at(bottom, right, c);
                let t = tl + (tr - tl) * x_lerp;
                let b = bl + (br - bl) * x_lerp;
                out[at_out(o, c)] = t + (b - t) * y_lerp;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The per-output-pixel form of the area resize (TensorFlow's loop order), the previous
    /// implementation: [`resize_area`] must give the same bits.
    fn resize_area_reference(img: &Hwc, out_w: usize, out_h: usize) -> Hwc {
        let (in_w, in_h) = (img.width, img.height);
        let mut data = vec![0f32; out_w * out_h * 3];
        if in_w == 0 || in_h == 0 || out_w == 0 || out_h == 0 {
            return Hwc {
                width: out_w,
                height: out_h,
                data,
            };
        }
        let hs = in_h as f32 / out_h as f32;
        let ws = in_w as f32 / out_w as f32;
        let scale = 1.0f32 / (hs * ws);
        let xs: Vec<Span> = (0..out_w).map(|x| span(x, ws)).collect();
        let mut ys: Vec<(usize, f32)> = Vec::new();
        for y in 0..out_h {
            source_rows(y, hs, in_h, &mut ys);
            for (x, sx) in xs.iter().enumerate() {
                let mut sum = [0f32; 3];
                for &(row, sy) in &ys {
                    let base = row * in_w * 3;
                    let px = |col: i64, c: usize| img.data[base + bound(col, in_w) * 3 + c];
                    let mut sum_y = [0f32; 3];
                    for (c, s) in sum_y.iter_mut().enumerate() {
                        *s = px(sx.start, c) * sx.start_scale;
                    }
                    if sx.start + 1 != sx.end {
                        for col in (sx.start + 1)..(sx.end - 1) {
                            for (c, s) in sum_y.iter_mut().enumerate() {
                                *s += px(col, c);
                            }
                        }
                        for (c, s) in sum_y.iter_mut().enumerate() {
                            *s += px(sx.end - 1, c) * sx.end_minus_one_scale;
                        }
                    }
                    for c in 0..3 {
                        sum[c] += sum_y[c] * sy;
                    }
                }
                let o = (y * out_w + x) * 3;
                for c in 0..3 {
                    data[o + c] = sum[c] * scale;
                }
            }
        }
        Hwc {
            width: out_w,
            height: out_h,
            data,
        }
    }

    #[test]
    fn the_separable_area_resize_is_bit_exact() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for &(w, h) in &[(64usize, 48usize), (97, 131), (300, 17), (13, 13)] {
            let rgb: Vec<u8> = (0..w * h * 3).map(|_| (next() >> 24) as u8).collect();
            let img = Hwc::normalized(&rgb, w, h);
            for &(ow, oh) in &[
                (w / 2, h / 3),
                (w * 3 / 7, h * 5 / 11),
                (12, 12),
                (w, h),
                (1, 1),
            ] {
                let (ow, oh) = (ow.max(1), oh.max(1));
                let fast = resize_area(&img, ow, oh);
                let slow = resize_area_reference(&img, ow, oh);
                let same = fast
                    .data
                    .iter()
                    .zip(&slow.data)
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "{w}×{h} → {ow}×{oh}");
                assert_eq!(fast.data.len(), slow.data.len());
            }
        }
    }
}
