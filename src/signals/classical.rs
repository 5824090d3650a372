//! Classical no-reference image-quality signals (docs/metrics-reference.md sections 5 and 6).
//!
//! Every signal is defined by a peer implementation and matches it to ~1e-15 relative
//! (the reference vectors live in `tests/data/signal_refs.json`, written by
//! `scripts/gen_signal_refs.py`):
//!
//! | field | peer |
//! |---|---|
//! | gray | `cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)` (exact integer BT.601) |
//! | `blur_laplacian_var` | `cv2.Laplacian(gray, cv2.CV_64F).var()` (ksize 1, `BORDER_REFLECT_101`) |
//! | `tenengrad` | `mean(Gx² + Gy²)`, `cv2.Sobel(gray, cv2.CV_64F, 1, 0, ksize=3)` and `(0, 1)` |
//! | `clip_shadows` / `clip_highlights` | `np.mean(gray <= 5)` / `np.mean(gray >= 250)` |
//! | `luminance_mean` / `contrast_rms` | `gray.mean()` / `(gray / 255).std()` |
//! | `colorfulness` | Hasler & Süsstrunk 2003 on float RGB, population std |
//! | `noise_sigma` | Immerkær 1996, `scipy.signal.convolve2d(gray, N, mode="valid")` |
//! | `blockiness` | 8-px grid boundary / non-boundary mean absolute difference |
//! | `blank` | `gray.std() < 2` or > 98 % of gray within ±2 of `np.median(gray)` |
//!
//! Input is interleaved 8-bit RGB, i.e. the first frame converted the way PIL's
//! `Image.convert("RGB")` does it: use [`rgb8_like_pil`] to get it from an
//! [`image::DynamicImage`] (it differs from `to_rgb8()` for 16-bit images).
//!
//! Images narrower or shorter than 3 px have no 3×3 neighbourhood that OpenCV's
//! reflect-101 border can be built from in a meaningful way, so `blur_laplacian_var`,
//! `tenengrad`, `noise_sigma` and `blockiness` are `None` for them; the other signals
//! are still computed.
//!
//! All sums are accumulated in integers (exact) and turned into `f64` once at the end.

use image::DynamicImage;

/// Gray value ≤ this counts as a clipped shadow.
pub const SHADOW_LEVEL: u8 = 5;
/// Gray value ≥ this counts as a clipped highlight.
pub const HIGHLIGHT_LEVEL: u8 = 250;

/// The classical signals of one image. `None` means "undefined for this image"
/// (see the module documentation for when).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Classical {
    /// Variance (ddof 0) of the 3×3 Laplacian of gray; matches
    /// `cv2.Laplacian(gray, cv2.CV_64F).var()` (ksize 1, `BORDER_REFLECT_101`).
    pub blur_laplacian_var: Option<f64>,
    /// `mean(Gx² + Gy²)` with `cv2.Sobel(gray, cv2.CV_64F, 1, 0, ksize=3)` and `(0, 1)`,
    /// `BORDER_REFLECT_101`.
    pub tenengrad: Option<f64>,
    /// Fraction of gray pixels ≤ 5.
    pub clip_shadows: f64,
    /// Fraction of gray pixels ≥ 250.
    pub clip_highlights: f64,
    /// Mean gray, 0..255.
    pub luminance_mean: f64,
    /// Population standard deviation of gray / 255 (Peli 1990 RMS contrast).
    pub contrast_rms: f64,
    /// Hasler & Süsstrunk (2003) colourfulness on RGB 0..255.
    pub colorfulness: f64,
    /// Immerkær (1996) noise standard deviation estimate over the valid interior.
    pub noise_sigma: Option<f64>,
    /// Mean |Δgray| across 8-px grid boundaries / mean |Δgray| elsewhere
    /// (horizontal and vertical differences pooled). `None` when there is no
    /// boundary difference or the non-boundary mean is 0 (e.g. a constant image).
    pub blockiness: Option<f64>,
    /// Near-constant image: gray std < 2, or > 98 % of gray within ±2 of the median.
    /// The caller additionally ORs [`alpha_all_zero`].
    pub blank: bool,
}

/// OpenCV's exact BT.601 gray of one pixel: `cv2.cvtColor(..., COLOR_RGB2GRAY)` on `u8`.
#[inline]
fn gray_px(r: u8, g: u8, b: u8) -> u8 {
    // Max value (32768 * 255 + 16384) >> 15 = 255, so the cast never truncates.
    ((9798 * u32::from(r) + 19235 * u32::from(g) + 3735 * u32::from(b) + 16384) >> 15) as u8
}

/// BT.601 gray exactly as `cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)` computes it on `u8`:
/// `(9798 R + 19235 G + 3735 B + 16384) >> 15`.
///
/// `rgb` is interleaved RGB8; pixels beyond `width * height` are ignored.
#[must_use]
pub fn gray_bt601(rgb: &[u8], width: usize, height: usize) -> Vec<u8> {
    rgb.chunks_exact(3)
        .take(width * height)
        .map(|p| gray_px(p[0], p[1], p[2]))
        .collect()
}

pub use crate::imaging::{into_rgb8_like_pil, rgb8_like_pil};

/// `true` when the image has an alpha channel and every alpha value is 0 (a fully
/// transparent frame). Images without alpha, and empty images, give `false`.
#[must_use]
pub fn alpha_all_zero(img: &DynamicImage) -> bool {
    fn all_zero<T: PartialEq + Default + Copy>(raw: &[T], channels: usize) -> bool {
        !raw.is_empty()
            && raw
                .chunks_exact(channels)
                .all(|p| p[channels - 1] == T::default())
    }
    match img {
        DynamicImage::ImageLumaA8(b) => all_zero(b.as_raw(), 2),
        DynamicImage::ImageRgba8(b) => all_zero(b.as_raw(), 4),
        DynamicImage::ImageLumaA16(b) => all_zero(b.as_raw(), 2),
        DynamicImage::ImageRgba16(b) => all_zero(b.as_raw(), 4),
        DynamicImage::ImageRgba32F(b) => all_zero(b.as_raw(), 4),
        _ => false,
    }
}

/// Population variance from exact integer sums: `(n Σx² − (Σx)²) / n²`.
fn variance(n: u64, sum: i128, sum_sq: i128) -> f64 {
    let n = i128::from(n);
    let num = n * sum_sq - sum * sum;
    num as f64 / (n * n) as f64
}

/// Index of the OpenCV `BORDER_REFLECT_101` neighbour (`gfedcb|abcdefgh|gfedcba`) for
/// `i` in `-1..=len`; requires `len >= 2`.
#[inline]
fn reflect101(i: isize, len: usize) -> usize {
    if i < 0 {
        1
    } else if i as usize >= len {
        len - 2
    } else {
        i as usize
    }
}

/// Computes all classical signals of an interleaved RGB8 image (see the module docs
/// for the peer each one matches).
///
/// # Panics
/// If `rgb.len() != 3 * width * height` (a caller bug, not a data error).
#[must_use]
pub fn compute(rgb: &[u8], width: usize, height: usize) -> Classical {
    assert_eq!(rgb.len(), 3 * width * height, "rgb buffer size mismatch");
    let n = width * height;
    if n == 0 {
        return Classical {
            blank: true,
            ..Classical::default()
        };
    }

    let mut gray = vec![0u8; n];
    let (s_rg, s_rg2, s_yb, s_yb2) = gray_and_colour_moments(rgb, &mut gray);
    let hist = histogram(&gray);
    let nf = n as f64;
    let nu = n as u64;

    // Histogram statistics.
    let (mut s_g, mut s_g2) = (0i128, 0i128);
    for (v, &c) in hist.iter().enumerate() {
        let (v, c) = (v as i128, i128::from(c));
        s_g += v * c;
        s_g2 += v * v * c;
    }
    let clip_shadows = hist[..=usize::from(SHADOW_LEVEL)].iter().sum::<u64>() as f64 / nf;
    let clip_highlights = hist[usize::from(HIGHLIGHT_LEVEL)..].iter().sum::<u64>() as f64 / nf;
    let luminance_mean = s_g as f64 / nf;
    let var_g = variance(nu, s_g, s_g2);
    let contrast_rms = var_g.max(0.0).sqrt() / 255.0;

    // Colourfulness: sigma_yb^2 = var(yb2) / 4, mu_yb = mean(yb2) / 2.
    let var_rg = variance(nu, i128::from(s_rg), i128::from(s_rg2));
    let var_yb = variance(nu, i128::from(s_yb), i128::from(s_yb2)) / 4.0;
    let mu_rg = s_rg as f64 / nf;
    let mu_yb = s_yb as f64 / (2.0 * nf);
    let colorfulness =
        (var_rg + var_yb).max(0.0).sqrt() + 0.3 * (mu_rg * mu_rg + mu_yb * mu_yb).sqrt();

    // Blank: std < 2  <=>  n Σg² − (Σg)² < 4 n²  (exact), or > 98 % within ±2 of the median.
    let ni = n as i128;
    let std_blank = ni * s_g2 - s_g * s_g < 4 * ni * ni;
    let twice_median = twice_median_from_hist(&hist, nu);
    let near: u64 = hist
        .iter()
        .enumerate()
        .filter(|&(v, _)| (2 * v as i64 - twice_median).abs() <= 4)
        .map(|(_, &c)| c)
        .sum();
    let blank = std_blank || near as f64 / nf > 0.98;

    let mut out = Classical {
        blur_laplacian_var: None,
        tenengrad: None,
        clip_shadows,
        clip_highlights,
        luminance_mean,
        contrast_rms,
        colorfulness,
        noise_sigma: None,
        blockiness: None,
        blank,
    };
    if width >= 3 && height >= 3 {
        neighbourhood(&gray, width, height, &mut out);
    }
    out
}

/// 256-bin histogram (four interleaved partial histograms to avoid store-to-load stalls).
fn histogram(gray: &[u8]) -> [u64; 256] {
    let mut parts = [[0u32; 256]; 4];
    let mut hist = [0u64; 256];
    // u32 partial counts are flushed every 2^30 pixels at the latest.
    for block in gray.chunks(1 << 30) {
        let mut quads = block.chunks_exact(4);
        for q in &mut quads {
            parts[0][usize::from(q[0])] += 1;
            parts[1][usize::from(q[1])] += 1;
            parts[2][usize::from(q[2])] += 1;
            parts[3][usize::from(q[3])] += 1;
        }
        for &v in quads.remainder() {
            parts[0][usize::from(v)] += 1;
        }
        for part in &mut parts {
            for (h, p) in hist.iter_mut().zip(part.iter_mut()) {
                *h += u64::from(*p);
                *p = 0;
            }
        }
    }
    hist
}

/// Writes the BT.601 gray of every pixel into `gray` (one byte per RGB triple) and returns
/// `(Σ rg, Σ rg², Σ yb2, Σ yb2²)` with `rg = R − G` and `yb2 = R + G − 2B = 2·yb`
/// (integers, so exact), reading the RGB buffer once.
fn gray_and_colour_moments(rgb: &[u8], gray: &mut [u8]) -> (i64, i64, i64, i64) {
    // Per chunk of 4096 pixels the sums stay inside i32 (yb2² ≤ 510² = 260100).
    const CHUNK: usize = 4096;
    let (mut s_rg, mut s_rg2, mut s_yb, mut s_yb2) = (0i64, 0i64, 0i64, 0i64);
    for (chunk, out) in rgb.chunks(3 * CHUNK).zip(gray.chunks_mut(CHUNK)) {
        let (mut a, mut a2, mut b, mut b2) = (0i32, 0i32, 0i32, 0i32);
        for (p, o) in chunk.chunks_exact(3).zip(out.iter_mut()) {
            *o = gray_px(p[0], p[1], p[2]);
            let (r, g, bl) = (i32::from(p[0]), i32::from(p[1]), i32::from(p[2]));
            let rg = r - g;
            let yb2 = r + g - 2 * bl;
            a += rg;
            a2 += rg * rg;
            b += yb2;
            b2 += yb2 * yb2;
        }
        s_rg += i64::from(a);
        s_rg2 += i64::from(a2);
        s_yb += i64::from(b);
        s_yb2 += i64::from(b2);
    }
    (s_rg, s_rg2, s_yb, s_yb2)
}

/// Twice the numpy median (`np.median`: mean of the two middle values for even counts)
/// of the values in `hist`, so that it stays an integer.
fn twice_median_from_hist(hist: &[u64; 256], n: u64) -> i64 {
    // 0-based ranks of the middle element(s) in sorted order.
    let (lo, hi) = if n % 2 == 1 {
        (n / 2, n / 2)
    } else {
        (n / 2 - 1, n / 2)
    };
    let (mut lo_v, mut hi_v) = (None, None);
    let mut seen = 0u64;
    for (v, &c) in hist.iter().enumerate() {
        seen += c;
        if lo_v.is_none() && seen > lo {
            lo_v = Some(v as i64);
        }
        if seen > hi {
            hi_v = Some(v as i64);
            break;
        }
    }
    lo_v.unwrap_or(0) + hi_v.unwrap_or(0)
}

/// Per-row integer sums of the 3×3 filters.
#[derive(Default)]
struct RowSums {
    lap: i64,
    lap2: i64,
    ten: i64,
    noise: i64,
}

/// Laplacian `[[0,1,0],[1,-4,1],[0,1,0]]`, Sobel `Gx`, `Gy` (3×3) and, when `NOISE`, the
/// Immerkær mask `[[1,-2,1],[-2,4,-2],[1,-2,1]]` at the interior columns `1..w-1` of the
/// row `c` with the rows `u` above and `d` below (already reflected at the image border).
#[inline]
fn interior_row<const NOISE: bool>(u: &[u8], c: &[u8], d: &[u8], acc: &mut RowSums) {
    // Chunks of CHUNK outputs keep every per-chunk sum inside i32 (|lap|² ≤ 1020²,
    // gx² + gy² ≤ 2·1020², |noise| ≤ 4080), which lets the compiler vectorise.
    const CHUNK: usize = 256;
    let w = c.len();
    let mut start = 1;
    while start + 1 < w {
        let end = (start + CHUNK).min(w - 1);
        let (u, c, d) = (
            &u[start - 1..=end],
            &c[start - 1..=end],
            &d[start - 1..=end],
        );
        let (mut lap_s, mut lap_s2, mut ten_s, mut noise_s) = (0i32, 0i32, 0i32, 0i32);
        for ((uw, cw), dw) in u.windows(3).zip(c.windows(3)).zip(d.windows(3)) {
            let (ul, um, ur) = (i32::from(uw[0]), i32::from(uw[1]), i32::from(uw[2]));
            let (cl, cm, cr) = (i32::from(cw[0]), i32::from(cw[1]), i32::from(cw[2]));
            let (dl, dm, dr) = (i32::from(dw[0]), i32::from(dw[1]), i32::from(dw[2]));
            let cross = um + dm + cl + cr;
            let lap = cross - 4 * cm;
            let gx = (ur - ul) + 2 * (cr - cl) + (dr - dl);
            let gy = (dl + 2 * dm + dr) - (ul + 2 * um + ur);
            lap_s += lap;
            lap_s2 += lap * lap;
            ten_s += gx * gx + gy * gy;
            if NOISE {
                let corners = ul + ur + dl + dr;
                noise_s += (corners - 2 * cross + 4 * cm).abs();
            }
        }
        acc.lap += i64::from(lap_s);
        acc.lap2 += i64::from(lap_s2);
        acc.ten += i64::from(ten_s);
        acc.noise += i64::from(noise_s);
        start = end;
    }
}

/// The same filters at one border column `x` whose reflected neighbours are `xl` and `xr`.
#[inline]
fn border_px(u: &[u8], c: &[u8], d: &[u8], xl: usize, x: usize, xr: usize, acc: &mut RowSums) {
    let (ul, um, ur) = (i64::from(u[xl]), i64::from(u[x]), i64::from(u[xr]));
    let (cl, cm, cr) = (i64::from(c[xl]), i64::from(c[x]), i64::from(c[xr]));
    let (dl, dm, dr) = (i64::from(d[xl]), i64::from(d[x]), i64::from(d[xr]));
    let lap = um + dm + cl + cr - 4 * cm;
    let gx = (ur - ul) + 2 * (cr - cl) + (dr - dl);
    let gy = (dl + 2 * dm + dr) - (ul + 2 * um + ur);
    acc.lap += lap;
    acc.lap2 += lap * lap;
    acc.ten += gx * gx + gy * gy;
}

/// Sum of `|a[i] - b[i]|`.
#[inline]
fn abs_diff_sum(a: &[u8], b: &[u8]) -> u64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| u64::from(x.abs_diff(y)))
        .sum()
}

/// The 3×3-neighbourhood signals (Laplacian variance, Tenengrad, Immerkær noise) and
/// blockiness, in one pass over the gray rows. Requires `width >= 3 && height >= 3`.
///
/// Borders follow OpenCV's `BORDER_REFLECT_101` (`gfedcb|abcdefgh|gfedcba`, scipy
/// `mode="mirror"`); the Immerkær sum covers the valid interior only.
fn neighbourhood(gray: &[u8], width: usize, height: usize, out: &mut Classical) {
    let (w, h) = (width, height);
    let mut acc = RowSums::default();
    // Blockiness: horizontal |Δ| sums (all, and at 8-px boundaries) and vertical ones.
    let (mut dh_all, mut dh_bnd, mut dv_bnd, mut dv_non) = (0u64, 0u64, 0u64, 0u64);

    let row = |y: usize| &gray[y * w..(y + 1) * w];
    for y in 0..h {
        let u = row(reflect101(y as isize - 1, h));
        let c = row(y);
        let d = row(reflect101(y as isize + 1, h));

        border_px(u, c, d, 1, 0, 1, &mut acc);
        if y >= 1 && y + 1 < h {
            interior_row::<true>(u, c, d, &mut acc);
        } else {
            interior_row::<false>(u, c, d, &mut acc);
        }
        border_px(u, c, d, w - 2, w - 1, w - 2, &mut acc);

        // Horizontal differences |g[c] - g[c-1]|, boundary when c % 8 == 0.
        dh_all += abs_diff_sum(&c[1..], &c[..w - 1]);
        for col in (8..w).step_by(8) {
            dh_bnd += u64::from(c[col].abs_diff(c[col - 1]));
        }
        // Vertical differences |g[r][c] - g[r-1][c]|, boundary when r % 8 == 0.
        if y >= 1 {
            let s = abs_diff_sum(c, row(y - 1));
            if y % 8 == 0 {
                dv_bnd += s;
            } else {
                dv_non += s;
            }
        }
    }

    let nu = (w * h) as u64;
    let nf = nu as f64;
    out.blur_laplacian_var = Some(variance(nu, i128::from(acc.lap), i128::from(acc.lap2)));
    out.tenengrad = Some(acc.ten as f64 / nf);
    out.noise_sigma = Some(
        (std::f64::consts::PI / 2.0).sqrt() * acc.noise as f64
            / (6.0 * (w - 2) as f64 * (h - 2) as f64),
    );

    let h_bnd_cnt = (h * ((w - 1) / 8)) as u64;
    let h_all_cnt = (h * (w - 1)) as u64;
    let v_bnd_cnt = (w * ((h - 1) / 8)) as u64;
    let v_all_cnt = (w * (h - 1)) as u64;
    let bnd_cnt = h_bnd_cnt + v_bnd_cnt;
    let non_cnt = (h_all_cnt - h_bnd_cnt) + (v_all_cnt - v_bnd_cnt);
    let bnd_sum = dh_bnd + dv_bnd;
    let non_sum = (dh_all - dh_bnd) + dv_non;
    out.blockiness = if bnd_cnt == 0 || non_cnt == 0 || non_sum == 0 {
        None
    } else {
        Some((bnd_sum as f64 / bnd_cnt as f64) / (non_sum as f64 / non_cnt as f64))
    };
}

/// Reference-vector loading shared by the tests of this module and of `phash`.
#[cfg(test)]
pub(crate) mod test_refs {
    use image::{DynamicImage, ImageDecoder, ImageReader};
    use serde::Deserialize;
    use std::path::{Path, PathBuf};

    /// One entry of `tests/data/signal_refs.json` (written by `scripts/gen_signal_refs.py`).
    #[derive(Debug, Deserialize)]
    pub struct RefImage {
        pub file: String,
        pub width: usize,
        pub height: usize,
        pub mode: String,
        pub rgb_digest: String,
        pub blur_laplacian_var: Option<f64>,
        pub tenengrad: Option<f64>,
        pub clip_shadows: f64,
        pub clip_highlights: f64,
        pub luminance_mean: f64,
        pub contrast_rms: f64,
        pub colorfulness: f64,
        pub noise_sigma: Option<f64>,
        pub blockiness: Option<f64>,
        pub blank: u8,
        pub ahash: String,
        pub dhash: String,
        pub phash: String,
    }

    #[derive(Debug, Deserialize)]
    struct RefFile {
        images: Vec<RefImage>,
    }

    /// A reference entry with the image decoded by the `image` crate.
    pub struct Loaded {
        pub r: RefImage,
        pub img: DynamicImage,
        /// [`super::rgb8_like_pil`] of `img`.
        pub rgb: Vec<u8>,
        /// Whether `rgb` is byte-identical to PIL's pixels (same `rgb_digest`). It is for
        /// every PNG and WebP; JPEG decoders (zune-jpeg here, libjpeg-turbo in Pillow)
        /// differ by a few levels on some pixels.
        pub same_pixels: bool,
    }

    pub fn data_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
    }

    /// Fixture root: `$ASSAY_FIXTURES`, else `<crate>/../shared/fixtures`.
    fn fixtures_dir() -> PathBuf {
        std::env::var_os("ASSAY_FIXTURES").map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures"),
            PathBuf::from,
        )
    }

    /// `h = h * 0x100000001B3 + byte (mod 2^64)`, as `rgb_digest` in the Python script.
    pub fn rgb_digest(bytes: &[u8]) -> String {
        let h = bytes.iter().fold(0u64, |h, &b| {
            h.wrapping_mul(0x0000_0100_0000_01B3)
                .wrapping_add(u64::from(b))
        });
        format!("{h:016x}")
    }

    /// First frame, EXIF orientation applied (as `ImageOps.exif_transpose` in the script).
    pub fn decode(path: &Path) -> DynamicImage {
        let reader = ImageReader::open(path)
            .and_then(|r| r.with_guessed_format())
            .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
        let mut decoder = reader
            .into_decoder()
            .unwrap_or_else(|e| panic!("decoder {}: {e}", path.display()));
        let orientation = decoder
            .orientation()
            .unwrap_or_else(|e| panic!("orientation {}: {e}", path.display()));
        let mut img = DynamicImage::from_decoder(decoder)
            .unwrap_or_else(|e| panic!("decode {}: {e}", path.display()));
        img.apply_orientation(orientation);
        img
    }

    /// Every reference image that can be found. Fixture images are skipped (with a note on
    /// stderr) when the fixture folder is missing, unless `ASSAY_REQUIRE_FIXTURES=1`.
    pub fn load_all() -> Vec<Loaded> {
        let json_path = data_dir().join("signal_refs.json");
        let text = std::fs::read_to_string(&json_path)
            .unwrap_or_else(|e| panic!("read {}: {e}", json_path.display()));
        let refs: RefFile = serde_json::from_str(&text).expect("parse signal_refs.json");
        let fixtures = fixtures_dir();
        let have_fixtures = fixtures.is_dir();
        if !have_fixtures {
            if std::env::var("ASSAY_REQUIRE_FIXTURES").as_deref() == Ok("1") {
                panic!(
                    "fixtures not found at {} (ASSAY_REQUIRE_FIXTURES=1)",
                    fixtures.display()
                );
            }
            eprintln!(
                "skipping fixture images: {} not found (set ASSAY_FIXTURES); testing synthetic only",
                fixtures.display()
            );
        }
        let mut out = Vec::new();
        for r in refs.images {
            let path = if r.file.starts_with("synthetic/") {
                data_dir().join(&r.file)
            } else if have_fixtures {
                fixtures.join(&r.file)
            } else {
                continue;
            };
            let img = decode(&path);
            assert_eq!(
                (img.width() as usize, img.height() as usize),
                (r.width, r.height),
                "{}: size",
                r.file
            );
            let rgb = super::rgb8_like_pil(&img);
            let same_pixels = rgb_digest(&rgb) == r.rgb_digest;
            out.push(Loaded {
                r,
                img,
                rgb,
                same_pixels,
            });
        }
        out
    }

    /// `|a - b| <= tol * max(|a|, |b|)`, or `<= tol` absolutely (values near 0).
    pub fn close(a: f64, b: f64, tol: f64) -> bool {
        let d = (a - b).abs();
        d <= tol || d <= tol * a.abs().max(b.abs())
    }

    /// Error used in reports and the loose decoder-mismatch check: relative, but absolute
    /// for values below 1 (the clip fractions).
    pub fn rel_err(a: f64, b: f64) -> f64 {
        (a - b).abs() / a.abs().max(b.abs()).max(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::test_refs::{close, load_all, rel_err};
    use super::*;

    /// Tolerance for images our decoder does not reproduce byte-for-byte (the JPEGs:
    /// zune-jpeg and libjpeg-turbo differ by up to 4 levels on ≤ 15 % of the pixels).
    /// Observed: ≤ 1.5e-3 (colourfulness, chroma upsampling differs), ≤ 3.3e-4 otherwise.
    const DECODER_TOL: f64 = 1e-2;

    /// Signals compared as `Option<f64>` (fixed ones wrapped in `Some`).
    fn fields(c: &Classical) -> [(&'static str, Option<f64>); 9] {
        [
            ("blur_laplacian_var", c.blur_laplacian_var),
            ("tenengrad", c.tenengrad),
            ("clip_shadows", Some(c.clip_shadows)),
            ("clip_highlights", Some(c.clip_highlights)),
            ("luminance_mean", Some(c.luminance_mean)),
            ("contrast_rms", Some(c.contrast_rms)),
            ("colorfulness", Some(c.colorfulness)),
            ("noise_sigma", c.noise_sigma),
            ("blockiness", c.blockiness),
        ]
    }

    fn ref_fields(r: &test_refs::RefImage) -> [Option<f64>; 9] {
        [
            r.blur_laplacian_var,
            r.tenengrad,
            Some(r.clip_shadows),
            Some(r.clip_highlights),
            Some(r.luminance_mean),
            Some(r.contrast_rms),
            Some(r.colorfulness),
            r.noise_sigma,
            r.blockiness,
        ]
    }

    /// Every reference image whose pixels our decoder reproduces exactly must match the
    /// OpenCV / NumPy / SciPy values to 1e-9 relative (1e-9 absolute near 0), with the same
    /// `None`s and the same `blank` flag. Images decoded differently (JPEG) are held to
    /// [`DECODER_TOL`].
    #[test]
    fn matches_python_reference() {
        let images = load_all();
        assert!(!images.is_empty());
        let mut max_err = [0f64; 9];
        let mut max_err_decoder = [0f64; 9];
        let mut exact = 0;
        for l in &images {
            let got = compute(&l.rgb, l.r.width, l.r.height);
            let names = fields(&got);
            let want = ref_fields(&l.r);
            if l.same_pixels {
                exact += 1;
            } else {
                eprintln!("{}: decoder output differs from PIL", l.r.file);
            }
            for (i, (&(name, g), w)) in names.iter().zip(want).enumerate() {
                match (g, w) {
                    (Some(g), Some(w)) if l.same_pixels => {
                        assert!(close(g, w, 1e-9), "{}: {name} = {g}, python {w}", l.r.file);
                        max_err[i] = max_err[i].max(rel_err(g, w));
                    }
                    (Some(g), Some(w)) => {
                        let e = rel_err(g, w);
                        assert!(e <= DECODER_TOL, "{}: {name} = {g}, python {w}", l.r.file);
                        max_err_decoder[i] = max_err_decoder[i].max(e);
                    }
                    (None, None) => {}
                    _ => panic!("{}: {name} = {g:?}, python {w:?}", l.r.file),
                }
            }
            assert_eq!(got.blank, l.r.blank == 1, "{}: blank", l.r.file);
        }
        eprintln!(
            "{exact} of {} images with PIL-identical pixels; max error per signal (exact / other decoder):",
            images.len()
        );
        for (((name, _), e), ed) in fields(&Classical::default())
            .iter()
            .zip(max_err)
            .zip(max_err_decoder)
        {
            eprintln!("  {name:20} {e:.2e} / {ed:.2e}");
        }
    }

    #[test]
    fn gray_matches_opencv_formula() {
        let rgb = [
            255, 255, 255, 0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255, 12, 200, 99,
        ];
        let g = gray_bt601(&rgb, 6, 1);
        assert_eq!(g, [255, 0, 76, 150, 29, 132]); // cv2.cvtColor output
    }

    #[test]
    fn constant_image() {
        let rgb = vec![77u8; 3 * 20 * 10];
        let c = compute(&rgb, 20, 10);
        assert_eq!(c.blockiness, None, "non-boundary mean is 0");
        assert_eq!(c.blur_laplacian_var, Some(0.0));
        assert_eq!(c.tenengrad, Some(0.0));
        assert_eq!(c.noise_sigma, Some(0.0));
        assert_eq!(c.contrast_rms, 0.0);
        assert_eq!(c.colorfulness, 0.0);
        assert_eq!(c.luminance_mean, 77.0);
        assert!(c.blank);
    }

    #[test]
    fn tiny_images_have_no_neighbourhood_signals() {
        for (w, h) in [(1, 1), (2, 2), (2, 5), (5, 2)] {
            let rgb: Vec<u8> = (0..3 * w * h).map(|i| (i * 37 % 256) as u8).collect();
            let c = compute(&rgb, w, h);
            assert_eq!(c.blur_laplacian_var, None, "{w}x{h}");
            assert_eq!(c.tenengrad, None);
            assert_eq!(c.noise_sigma, None);
            assert_eq!(c.blockiness, None);
            assert!(c.luminance_mean.is_finite() && c.colorfulness.is_finite());
        }
        let c = compute(&[0, 0, 0, 255, 255, 255, 0, 0, 0], 3, 1);
        assert_eq!(c.clip_shadows, 2.0 / 3.0);
        assert_eq!(c.clip_highlights, 1.0 / 3.0);
        assert!(!c.blank);
        assert!(compute(&[9u8; 27], 3, 3).blur_laplacian_var.is_some());
    }

    #[test]
    fn empty_image_is_blank() {
        let c = compute(&[], 0, 7);
        assert!(c.blank);
        assert_eq!(c.blur_laplacian_var, None);
    }

    #[test]
    fn blockiness_needs_a_grid_boundary() {
        // 8x8: differences at columns/rows 1..7 only, no c % 8 == 0 boundary.
        let rgb: Vec<u8> = (0..3 * 9 * 9).map(|i| (i * 13 % 251) as u8).collect();
        assert_eq!(compute(&rgb[..3 * 64], 8, 8).blockiness, None);
        assert!(compute(&rgb[..3 * 9 * 8], 9, 8).blockiness.is_some());
        assert!(compute(&rgb[..3 * 8 * 9], 8, 9).blockiness.is_some());
    }

    #[test]
    fn blockiness_of_an_aligned_block_image() {
        // 8x8 blocks of constant gray: every difference sits on the grid.
        let (w, h) = (32, 24);
        let g = |x: usize, y: usize| ((x / 8) * 40 + (y / 8) * 25) as u8;
        let mut rgb: Vec<u8> = (0..w * h).flat_map(|i| [g(i % w, i / w); 3]).collect();
        assert_eq!(compute(&rgb, w, h).blockiness, None, "non-boundary mean 0");
        // One pixel off by 1 inside a block: a few non-boundary differences.
        for v in &mut rgb[3 * (w + 1)..3 * (w + 2)] {
            *v += 1;
        }
        assert!(compute(&rgb, w, h).blockiness.unwrap() > 100.0);
    }

    #[test]
    fn blank_by_median_rule() {
        // 200 pixels at 100 +- 1 plus outliers: std >= 2 either way; blank needs > 98 %
        // within +-2 of the median.
        let image = |outliers: usize| {
            let g: Vec<u8> = (0..200)
                .map(|i| {
                    if i < outliers {
                        255
                    } else {
                        99 + (i % 3) as u8
                    }
                })
                .collect();
            let rgb: Vec<u8> = g.iter().flat_map(|&v| [v, v, v]).collect();
            compute(&rgb, 20, 10)
        };
        for outliers in [3, 4, 5] {
            assert!(image(outliers).contrast_rms * 255.0 >= 2.0);
        }
        assert!(image(3).blank, "98.5 % near the median");
        assert!(!image(4).blank, "exactly 98 % is not more than 98 %");
        assert!(!image(5).blank);
    }

    #[test]
    fn even_count_median_is_the_mean_of_the_middle_pair() {
        let mut hist = [0u64; 256];
        hist[10] = 2;
        hist[15] = 2;
        assert_eq!(twice_median_from_hist(&hist, 4), 25);
        hist[15] = 3;
        assert_eq!(twice_median_from_hist(&hist, 5), 30);
    }

    #[test]
    fn alpha_helpers() {
        let clear = DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(
            3,
            2,
            image::Rgba([10, 20, 30, 0]),
        ));
        assert!(alpha_all_zero(&clear));
        let mut partly = clear.to_rgba8();
        partly.put_pixel(1, 1, image::Rgba([0, 0, 0, 1]));
        assert!(!alpha_all_zero(&DynamicImage::ImageRgba8(partly)));
        assert!(!alpha_all_zero(&DynamicImage::ImageRgb8(
            image::RgbImage::new(2, 2)
        )));
        assert!(!alpha_all_zero(&DynamicImage::ImageRgba8(
            image::RgbaImage::new(0, 0)
        )));
        assert_eq!(
            rgb8_like_pil(&clear),
            [10, 20, 30].repeat(6),
            "alpha dropped"
        );

        let dir = test_refs::data_dir().join("synthetic");
        assert!(alpha_all_zero(&test_refs::decode(
            &dir.join("transparent.png")
        )));
        assert!(!alpha_all_zero(&test_refs::decode(
            &dir.join("gray_alpha.png")
        )));
    }

    #[test]
    fn sixteen_bit_like_pil() {
        let rgb16 =
            image::ImageBuffer::<image::Rgb<u16>, _>::from_raw(1, 1, vec![0x12ff, 0x0080, 0xffff])
                .unwrap();
        assert_eq!(
            rgb8_like_pil(&DynamicImage::ImageRgb16(rgb16)),
            [0x12, 0x00, 0xff]
        );
        let g16 =
            image::ImageBuffer::<image::Luma<u16>, _>::from_raw(2, 1, vec![200, 256]).unwrap();
        assert_eq!(
            rgb8_like_pil(&DynamicImage::ImageLuma16(g16)),
            [200, 200, 200, 255, 255, 255]
        );
    }

    #[test]
    fn taking_the_image_converts_like_borrowing_it() {
        let rgba = image::RgbaImage::from_fn(7, 5, |x, y| {
            image::Rgba([x as u8 * 30, y as u8 * 40, (x * y) as u8, (x + y) as u8 * 9])
        });
        let rgb16 = image::ImageBuffer::<image::Rgb<u16>, _>::from_fn(3, 2, |x, y| {
            image::Rgb([x as u16 * 9000, y as u16 * 300 + 7, 0xfffe])
        });
        for img in [
            DynamicImage::ImageRgba8(rgba.clone()),
            DynamicImage::ImageRgb8(DynamicImage::ImageRgba8(rgba.clone()).to_rgb8()),
            DynamicImage::ImageLuma8(DynamicImage::ImageRgba8(rgba).to_luma8()),
            DynamicImage::ImageRgb16(rgb16),
        ] {
            let want = rgb8_like_pil(&img);
            let got = into_rgb8_like_pil(img.clone());
            assert_eq!(got, want, "{:?}", img.color());
            assert_eq!(got.len(), 3 * (img.width() * img.height()) as usize);
        }
    }
}
