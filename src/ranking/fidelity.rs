//! Full-reference fidelity metrics between a reference image and a test image of the same size:
//! PSNR, SSIM and MS-SSIM (metrics-reference §4.5–4.6), in f64.
//!
//! Images come either as 8-bit interleaved buffers ([`Image8`], values 0..255, data range 255) or
//! as f64 planes ([`Planes`], with an explicit data range). Colour images are handled per channel
//! (no luminance conversion), as both peers do.

use super::metric_error::MetricError;

/// An 8-bit image with interleaved channels: `data[(y·width + x)·channels + c]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Image8<'a> {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Channels per pixel (1 grey, 3 RGB, …).
    pub channels: usize,
    /// `width · height · channels` bytes.
    pub data: &'a [u8],
}

impl<'a> Image8<'a> {
    /// Wraps an interleaved buffer; errors when its length does not match the shape or
    /// `channels == 0`.
    pub fn new(
        width: usize,
        height: usize,
        channels: usize,
        data: &'a [u8],
    ) -> Result<Self, MetricError> {
        if channels == 0 {
            return Err(MetricError::InvalidParameter("image has 0 channels".into()));
        }
        let expected = width
            .checked_mul(height)
            .and_then(|p| p.checked_mul(channels));
        if expected != Some(data.len()) {
            return Err(MetricError::ShapeMismatch {
                what: "image",
                expected,
                actual: data.len(),
            });
        }
        Ok(Image8 {
            width,
            height,
            channels,
            data,
        })
    }
}

/// An image as f64 planes: one row-major `height × width` plane per channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Planes {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// One plane per channel, each `width · height` values.
    pub planes: Vec<Vec<f64>>,
}

impl Planes {
    /// Validates the plane sizes (at least one plane, each `width · height`, all finite).
    pub fn new(width: usize, height: usize, planes: Vec<Vec<f64>>) -> Result<Self, MetricError> {
        let p = Planes {
            width,
            height,
            planes,
        };
        p.check()?;
        Ok(p)
    }

    /// De-interleaves an 8-bit image into planes with values 0..255.
    pub fn from_image8(img: &Image8<'_>) -> Result<Self, MetricError> {
        let img = Image8::new(img.width, img.height, img.channels, img.data)?;
        let planes = (0..img.channels)
            .map(|c| {
                img.data
                    .iter()
                    .skip(c)
                    .step_by(img.channels)
                    .map(|&v| f64::from(v))
                    .collect()
            })
            .collect();
        Ok(Planes {
            width: img.width,
            height: img.height,
            planes,
        })
    }

    fn check(&self) -> Result<(), MetricError> {
        if self.planes.is_empty() {
            return Err(MetricError::InvalidParameter("image has 0 channels".into()));
        }
        let expected = self.width.checked_mul(self.height);
        for p in &self.planes {
            if expected != Some(p.len()) {
                return Err(MetricError::ShapeMismatch {
                    what: "image plane",
                    expected,
                    actual: p.len(),
                });
            }
            if let Some(index) = p.iter().position(|v| !v.is_finite()) {
                return Err(MetricError::NonFinite {
                    what: "image plane",
                    index,
                });
            }
        }
        Ok(())
    }
}

/// Checks both images and that width, height and channel count agree.
fn check_pair(a: &Planes, b: &Planes) -> Result<(), MetricError> {
    a.check()?;
    b.check()?;
    if (a.width, a.height, a.planes.len()) != (b.width, b.height, b.planes.len()) {
        return Err(MetricError::DimensionMismatch {
            what: "image size",
            left: format!("{}x{}x{}", a.width, a.height, a.planes.len()),
            right: format!("{}x{}x{}", b.width, b.height, b.planes.len()),
        });
    }
    Ok(())
}

fn check_range(data_range: f64) -> Result<(), MetricError> {
    if data_range.is_finite() && data_range > 0.0 {
        Ok(())
    } else {
        Err(MetricError::InvalidParameter(format!(
            "data range must be > 0, got {data_range}"
        )))
    }
}

/// PSNR of two 8-bit images (R = 255). See [`psnr_planes`].
pub fn psnr(reference: &Image8<'_>, test: &Image8<'_>) -> Result<f64, MetricError> {
    psnr_planes(
        &Planes::from_image8(reference)?,
        &Planes::from_image8(test)?,
        255.0,
    )
}

/// `10·log10(R² / MSE)`, MSE over all pixels and channels in f64.
///
/// Peer: `skimage.metrics.peak_signal_noise_ratio(image_true, image_test, data_range=R)` (R = 255
/// for uint8, inferred from the dtype). Identical images give `f64::INFINITY`, as skimage does
/// (with a divide-by-zero warning there); callers that store or average PSNR should cap it.
pub fn psnr_planes(reference: &Planes, test: &Planes, data_range: f64) -> Result<f64, MetricError> {
    check_pair(reference, test)?;
    check_range(data_range)?;
    let mut sum = 0.0;
    let mut count = 0usize;
    for (pa, pb) in reference.planes.iter().zip(&test.planes) {
        for (x, y) in pa.iter().zip(pb) {
            sum += (x - y) * (x - y);
        }
        count += pa.len();
    }
    if count == 0 {
        return Err(MetricError::ImageTooSmall {
            metric: "psnr",
            width: reference.width,
            height: reference.height,
            rule: "at least one pixel",
        });
    }
    let mse = sum / count as f64;
    if mse == 0.0 {
        return Ok(f64::INFINITY);
    }
    Ok(10.0 * (data_range * data_range / mse).log10())
}

/// Gaussian window radius for σ = 1.5 and truncate 3.5: `int(3.5·1.5 + 0.5) = 5` (11 taps).
const RADIUS: usize = 5;
const SIGMA: f64 = 1.5;
const K1: f64 = 0.01;
const K2: f64 = 0.03;

/// Boundary handling of the separable filter.
#[derive(Clone, Copy)]
enum Border {
    /// scipy.ndimage `mode="reflect"` (`d c b a | a b c d | d c b a`, edge repeated).
    Reflect,
    /// torch `F.pad(mode="reflect")` / OpenCV REFLECT_101 (`d c b | a b c d | c b a`).
    Reflect101,
}

fn border_index(i: isize, n: usize, border: Border) -> usize {
    let n_i = n as isize;
    if (0..n_i).contains(&i) {
        return i as usize;
    }
    match border {
        Border::Reflect => {
            let period = 2 * n_i;
            let m = i.rem_euclid(period);
            (if m >= n_i { period - 1 - m } else { m }) as usize
        }
        Border::Reflect101 => {
            if n < 2 {
                return 0;
            }
            let period = 2 * n_i - 2;
            let m = i.rem_euclid(period);
            (if m >= n_i { period - m } else { m }) as usize
        }
    }
}

/// Normalised 11-tap Gaussian (index 0 = offset −5). `scipy` form `exp(−0.5/σ²·x²)` or
/// torchmetrics form `exp(−(x/σ)²/2)` (they differ in the last bit at most).
fn gaussian_taps(torch_form: bool) -> [f64; 2 * RADIUS + 1] {
    let mut taps = [0.0; 2 * RADIUS + 1];
    for (i, t) in taps.iter_mut().enumerate() {
        let x = i as f64 - RADIUS as f64;
        *t = if torch_form {
            (-(x / SIGMA).powi(2) / 2.0).exp()
        } else {
            (-0.5 / (SIGMA * SIGMA) * x * x).exp()
        };
    }
    let sum: f64 = taps.iter().sum();
    taps.map(|t| t / sum)
}

/// One 1-D symmetric correlation of a line, summed as scipy's `NI_Correlate1D` does for
/// symmetric weights: centre first, then the pairs from the outermost inwards.
fn filter_line(src: &[f64], taps: &[f64; 2 * RADIUS + 1], border: Border, out: &mut [f64]) {
    let n = src.len();
    let r = RADIUS as isize;
    for (i, o) in out.iter_mut().enumerate().take(n) {
        let ii = i as isize;
        let at = |k: isize| {
            src.get(border_index(ii + k, n, border))
                .copied()
                .unwrap_or(0.0)
        };
        let mut acc = at(0) * taps[RADIUS];
        for k in (1..=r).rev() {
            acc += (at(-k) + at(k)) * taps[RADIUS + k as usize];
        }
        *o = acc;
    }
}

/// Separable Gaussian filter of a `w × h` plane: along axis 0 (columns) first, then axis 1
/// (rows), like `scipy.ndimage.gaussian_filter`.
fn gauss2d(
    src: &[f64],
    w: usize,
    h: usize,
    taps: &[f64; 2 * RADIUS + 1],
    border: Border,
) -> Vec<f64> {
    let mut tmp = vec![0.0; w * h];
    let mut col = vec![0.0; h];
    let mut col_out = vec![0.0; h];
    for x in 0..w {
        for (y, c) in col.iter_mut().enumerate() {
            *c = src.get(y * w + x).copied().unwrap_or(0.0);
        }
        filter_line(&col, taps, border, &mut col_out);
        for (y, &v) in col_out.iter().enumerate() {
            tmp[y * w + x] = v;
        }
    }
    let mut out = vec![0.0; w * h];
    for (row, orow) in tmp
        .chunks_exact(w.max(1))
        .zip(out.chunks_exact_mut(w.max(1)))
    {
        filter_line(row, taps, border, orow);
    }
    out
}

/// The five local moments of one channel pair: `(μx, μy, E[x²], E[y²], E[xy])`.
type Moments = [Vec<f64>; 5];

fn local_moments(
    x: &[f64],
    y: &[f64],
    w: usize,
    h: usize,
    torch_form: bool,
    border: Border,
) -> Moments {
    let taps = gaussian_taps(torch_form);
    let xx: Vec<f64> = x.iter().map(|v| v * v).collect();
    let yy: Vec<f64> = y.iter().map(|v| v * v).collect();
    let xy: Vec<f64> = x.iter().zip(y).map(|(a, b)| a * b).collect();
    [x, y, &xx, &yy, &xy].map(|p| gauss2d(p, w, h, &taps, border))
}

/// SSIM of two 8-bit images (data range 255). See [`ssim_planes`].
pub fn ssim(reference: &Image8<'_>, test: &Image8<'_>) -> Result<f64, MetricError> {
    ssim_planes(
        &Planes::from_image8(reference)?,
        &Planes::from_image8(test)?,
        255.0,
    )
}

/// Mean SSIM (Wang et al. 2004), per channel, then averaged over channels.
///
/// Peer: `skimage.metrics.structural_similarity(im1, im2, gaussian_weights=True, sigma=1.5,
/// use_sample_covariance=False, data_range=R, channel_axis=-1)` (scikit-image 0.26): 11×11
/// Gaussian window (truncate 3.5), `scipy.ndimage.gaussian_filter(mode="reflect")`, population
/// moments, `C1 = (0.01R)²`, `C2 = (0.03R)²`, the map cropped by 5 px on every side before the
/// mean (so the border mode never matters). Errors when a side is < 11 px: skimage requires
/// every side ≥ `win_size`, which is 11 with `gaussian_weights=True` (its "at least 7x7" message
/// refers to the default uniform window).
pub fn ssim_planes(reference: &Planes, test: &Planes, data_range: f64) -> Result<f64, MetricError> {
    check_pair(reference, test)?;
    check_range(data_range)?;
    let (w, h) = (reference.width, reference.height);
    let win = 2 * RADIUS + 1;
    if w < win || h < win {
        return Err(MetricError::ImageTooSmall {
            metric: "ssim",
            width: w,
            height: h,
            rule: "both sides >= 11 (11x11 Gaussian window)",
        });
    }
    let c1 = (K1 * data_range).powi(2);
    let c2 = (K2 * data_range).powi(2);
    let mut total = 0.0;
    for (x, y) in reference.planes.iter().zip(&test.planes) {
        let [ux, uy, uxx, uyy, uxy] = local_moments(x, y, w, h, false, Border::Reflect);
        let mut sum = 0.0;
        for row in RADIUS..h - RADIUS {
            for col in RADIUS..w - RADIUS {
                let i = row * w + col;
                let (mx, my) = (ux[i], uy[i]);
                let vx = uxx[i] - mx * mx;
                let vy = uyy[i] - my * my;
                let vxy = uxy[i] - mx * my;
                let a1 = 2.0 * mx * my + c1;
                let a2 = 2.0 * vxy + c2;
                let b1 = mx * mx + my * my + c1;
                let b2 = vx + vy + c2;
                sum += (a1 * a2) / (b1 * b2);
            }
        }
        total += sum / ((w - 2 * RADIUS) * (h - 2 * RADIUS)) as f64;
    }
    Ok(total / reference.planes.len() as f64)
}

/// MS-SSIM exponents (Wang et al. 2003), torchmetrics' default `betas`.
pub const MS_SSIM_BETAS: [f64; 5] = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333];
/// Smallest side MS-SSIM accepts: torchmetrics requires `side // 16 > 10` (and `side ≥ 32`).
pub const MS_SSIM_MIN_SIDE: usize = 176;

/// MS-SSIM of two 8-bit images with data range 255. See [`ms_ssim_planes`].
pub fn ms_ssim(reference: &Image8<'_>, test: &Image8<'_>) -> Result<f64, MetricError> {
    ms_ssim_planes(
        &Planes::from_image8(reference)?,
        &Planes::from_image8(test)?,
        Some(255.0),
    )
}

/// `(ssim, cs)` at one scale, torchmetrics `_ssim_update(return_contrast_sensitivity=True)`.
fn ssim_and_cs(a: &Planes, b: &Planes, data_range: Option<f64>) -> (f64, f64) {
    let (w, h) = (a.width, a.height);
    let range = data_range.unwrap_or_else(|| {
        let span = |p: &Planes| {
            let it = p.planes.iter().flatten();
            it.clone().fold(f64::NEG_INFINITY, |m, &v| m.max(v))
                - it.fold(f64::INFINITY, |m, &v| m.min(v))
        };
        span(a).max(span(b))
    });
    let c1 = (K1 * range).powi(2);
    let c2 = (K2 * range).powi(2);
    let (mut sim_sum, mut cs_sum) = (0.0, 0.0);
    for (x, y) in a.planes.iter().zip(&b.planes) {
        let [mp, mt, epp, ett, ept] = local_moments(x, y, w, h, true, Border::Reflect101);
        for row in 0..h {
            for col in 0..w {
                let i = row * w + col;
                let (mp2, mt2, mpt) = (mp[i] * mp[i], mt[i] * mt[i], mp[i] * mt[i]);
                let sp = (epp[i] - mp2).max(0.0);
                let st = (ett[i] - mt2).max(0.0);
                let spt = ept[i] - mpt;
                let upper = 2.0 * spt + c2;
                let lower = (sp + st) + c2;
                sim_sum += ((2.0 * mpt + c1) * upper) / ((mp2 + mt2 + c1) * lower);
                if (RADIUS..h - RADIUS).contains(&row) && (RADIUS..w - RADIUS).contains(&col) {
                    cs_sum += upper / lower;
                }
            }
        }
    }
    let c = a.planes.len() as f64;
    let sim = sim_sum / (c * (w * h) as f64);
    let cs = cs_sum / (c * ((w - 2 * RADIUS) * (h - 2 * RADIUS)) as f64);
    (sim, cs)
}

/// 2×2 average pooling with stride 2 (`F.avg_pool2d(x, (2, 2))`): odd last row/column dropped.
fn avg_pool2(p: &Planes) -> Planes {
    let (w2, h2) = (p.width / 2, p.height / 2);
    let w = p.width;
    let planes = p
        .planes
        .iter()
        .map(|pl| {
            let mut out = Vec::with_capacity(w2 * h2);
            for y in 0..h2 {
                for x in 0..w2 {
                    let at = |yy: usize, xx: usize| pl.get(yy * w + xx).copied().unwrap_or(0.0);
                    let s = at(2 * y, 2 * x)
                        + at(2 * y, 2 * x + 1)
                        + at(2 * y + 1, 2 * x)
                        + at(2 * y + 1, 2 * x + 1);
                    out.push(s / 4.0);
                }
            }
            out
        })
        .collect();
    Planes {
        width: w2,
        height: h2,
        planes,
    }
}

/// Multi-scale SSIM: `Π_{j<5} cs_j^{β_j} · ssim_5^{β_5}` with [`MS_SSIM_BETAS`].
///
/// Peer: torchmetrics 1.9 `multiscale_structural_similarity_index_measure` with its defaults
/// (`gaussian_kernel=True, sigma=1.5, kernel_size=11, k1=0.01, k2=0.03, normalize="relu"`):
/// per scale, torch `reflect` padding of 5 px (REFLECT_101), the full SSIM map averaged over all
/// channels and pixels, the contrast-structure map cropped by 5 px before its mean, both clamped
/// at 0 (`relu`), then `avg_pool2d(2×2)`. `data_range = None` reproduces torchmetrics' default,
/// `max(max−min of reference, max−min of test)` re-evaluated at **every scale** on the pooled
/// images; [`ms_ssim`] passes `Some(255.0)` for 8-bit images. torchmetrics runs in the input
/// dtype (usually float32); this is f64.
///
/// Errors: a side < [`MS_SSIM_MIN_SIDE`] (torchmetrics: `side // 16 <= 10`; its message says
/// "larger than 160", but 160–175 px also fail), mismatched sizes, non-positive data range.
pub fn ms_ssim_planes(
    reference: &Planes,
    test: &Planes,
    data_range: Option<f64>,
) -> Result<f64, MetricError> {
    check_pair(reference, test)?;
    if let Some(r) = data_range {
        check_range(r)?;
    }
    if reference.width < MS_SSIM_MIN_SIDE || reference.height < MS_SSIM_MIN_SIDE {
        return Err(MetricError::ImageTooSmall {
            metric: "ms_ssim",
            width: reference.width,
            height: reference.height,
            rule: "both sides >= 176 (torchmetrics: side // 16 > 10)",
        });
    }
    let mut a = reference.clone();
    let mut b = test.clone();
    let mut value = 1.0;
    for (scale, &beta) in MS_SSIM_BETAS.iter().enumerate() {
        let (sim, cs) = ssim_and_cs(&a, &b, data_range);
        let term = if scale + 1 == MS_SSIM_BETAS.len() {
            sim
        } else {
            cs
        };
        value *= term.max(0.0).powf(beta);
        a = avg_pool2(&a);
        b = avg_pool2(&b);
    }
    Ok(value)
}

#[cfg(test)]
#[path = "fidelity_tests.rs"]
mod tests;
