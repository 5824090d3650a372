//! The crops the hand models see: a square of side `roi.side` around `(roi.cx, roi.cy)`, rotated by
//! `roi.rotation`, sampled to `out × out` with MediaPipe's OpenCV geometry (destination pixel `i`
//! ↔ source `corner + i/out · side`, pixel centres at integer coordinates) and bilinear weights in
//! f64; outside the image zero (`zero_border`, the palm letterbox) or the nearest edge pixel (the
//! landmark crop, OpenCV's BORDER_REPLICATE). Values `/255` as f32, HWC order.

use super::Roi;
use crate::models::mtcnn::RgbImage;

/// Samples the rotated square `roi` of `img` to `out × out` RGB values in [0, 1] (HWC).
pub fn sample(img: RgbImage<'_>, roi: &Roi, out: usize, zero_border: bool) -> Vec<f32> {
    let (c, s) = (roi.rotation.cos(), roi.rotation.sin());
    let k = roi.side / out as f64;
    let half = roi.side / 2.0;
    let m = [
        [c * k, -s * k, roi.cx - c * half + s * half],
        [s * k, c * k, roi.cy - s * half - c * half],
    ];
    let (w, h) = (img.width as i64, img.height as i64);
    let mut dst = vec![0f32; out * out * 3];
    for y in 0..out {
        for x in 0..out {
            let (xf, yf) = (x as f64, y as f64);
            let sx = m[0][0] * xf + m[0][1] * yf + m[0][2];
            let sy = m[1][0] * xf + m[1][1] * yf + m[1][2];
            let (x0, y0) = (sx.floor(), sy.floor());
            let (fx, fy) = (sx - x0, sy - y0);
            let mut acc = [0f64; 3];
            for (dy, wy) in [(0i64, 1.0 - fy), (1, fy)] {
                for (dx, wx) in [(0i64, 1.0 - fx), (1, fx)] {
                    let xi = x0 as i64 + dx;
                    let yi = y0 as i64 + dy;
                    let inside = xi >= 0 && xi < w && yi >= 0 && yi < h;
                    if zero_border && !inside {
                        continue;
                    }
                    let p = ((yi.clamp(0, h - 1) * w + xi.clamp(0, w - 1)) * 3) as usize;
                    let wt = wx * wy;
                    for (a, &v) in acc.iter_mut().zip(&img.data[p..p + 3]) {
                        *a += f64::from(v) * wt;
                    }
                }
            }
            let o = (y * out + x) * 3;
            for (d, a) in dst[o..o + 3].iter_mut().zip(acc) {
                *d = (a / 255.0) as f32;
            }
        }
    }
    dst
}
