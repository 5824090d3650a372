//! Perceptual hashes, bit-exact with ImageHash 4.3.2 on Pillow 13 / SciPy 1.17
//! (`imagehash.average_hash`, `imagehash.dhash`, `imagehash.phash`, all with
//! `hash_size=8`).
//!
//! Each hash starts from PIL's `convert("L")` ([`gray_pil_l`]) and PIL's Lanczos
//! `Image.resize` ([`resize_lanczos_l`], a port of `ImagingResample` in Pillow's
//! `src/libImaging/Resample.c`). Bits are stored row-major with the first pixel in the
//! most significant bit, so [`to_hex`] prints the same 16 hex digits as
//! `str(imagehash.ImageHash)`.
//!
//! ImageHash calls `convert("L")` on the image in its original PIL mode. For every
//! mode that `image` can hand us (L, LA, RGB, RGBA, palette expanded to RGB(A), 16-bit
//! via [`super::classical::rgb8_like_pil`]) that equals `convert("L")` of the RGB
//! conversion: PIL's RGBA→L and P→L use the same `L24` formula on the colour channels
//! and ignore alpha, and L→RGB→L is the identity. `scripts/gen_signal_refs.py` asserts
//! this for every reference image, so hashing the RGB buffer is enough; see
//! [`hashes_from_dynamic`].

use crate::imaging::resample::{Filter, resize};
use image::DynamicImage;

/// The three 64-bit perceptual hashes of one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hashes {
    /// `imagehash.average_hash`: 8×8 Lanczos thumbnail, bit = pixel > mean.
    pub ahash: u64,
    /// `imagehash.dhash`: 9×8 thumbnail, bit = `px[r][c + 1] > px[r][c]`.
    pub dhash: u64,
    /// `imagehash.phash`: 32×32 thumbnail, 2-D DCT-II, top-left 8×8, bit = coef > median.
    pub phash: u64,
}

/// PIL `Image.convert("L")` of RGB8: `(19595 R + 38470 G + 7471 B + 0x8000) >> 16`
/// (the `L24` macro in Pillow's `Convert.c`). Differs from [`super::classical::gray_bt601`]
/// on a few pixels; do not mix them.
#[must_use]
pub fn gray_pil_l(rgb: &[u8], width: usize, height: usize) -> Vec<u8> {
    rgb.chunks_exact(3)
        .take(width * height)
        .map(|p| {
            let v = 19595 * u32::from(p[0]) + 38470 * u32::from(p[1]) + 7471 * u32::from(p[2]);
            ((v + 0x8000) >> 16) as u8
        })
        .collect()
}

/// Resizes an 8-bit single-channel image exactly like PIL's
/// `Image.resize((new_w, new_h), Image.LANCZOS)` on mode `L` ([`crate::imaging::resample`]).
///
/// Returns an empty vector when either output size is 0 or the input is empty or shorter
/// than `w * h`.
#[must_use]
pub fn resize_lanczos_l(gray: &[u8], w: usize, h: usize, new_w: usize, new_h: usize) -> Vec<u8> {
    resize::<1>(gray, w, h, new_w, new_h, Filter::Lanczos)
}

/// Packs booleans row-major, first one in the most significant bit (ImageHash's hex order).
fn pack(bits: impl Iterator<Item = bool>) -> u64 {
    bits.fold(0u64, |acc, b| (acc << 1) | u64::from(b))
}

/// Length of the pHash DCT (`hash_size * highfreq_factor` = 8 × 4).
const DCT_N: usize = 32;

/// `cos(π (2m + 1)(2i + 1) / (2n))` for every `n = DCT_N, DCT_N / 2, …, 2` (one table
/// per recursion level, `m, i < n / 2`, row-major in `m`): the odd half of a DCT-II.
struct OddCos(Vec<Vec<f64>>);

impl OddCos {
    fn new() -> Self {
        let mut levels = Vec::new();
        let mut n = DCT_N;
        while n >= 2 {
            let half = n / 2;
            let mut t = Vec::with_capacity(half * half);
            for m in 0..half {
                for i in 0..half {
                    let num = ((2 * m + 1) * (2 * i + 1)) as f64;
                    t.push((std::f64::consts::PI * num / (2 * n) as f64).cos());
                }
            }
            levels.push(t);
            n /= 2;
        }
        OddCos(levels)
    }
}

/// Unnormalised DCT-II as `scipy.fftpack.dct(x)` (type 2, `norm=None`):
/// `y[k] = 2 Σ x[n] cos(π k (2n + 1) / (2N))`, for `N = DCT_N >> level`.
///
/// Computed by the even/odd split (`x[n] ± x[N-1-n]`, the even half recursing), so
/// coefficients that are exactly zero by symmetry (constant or mirror-symmetric input)
/// come out as exact zeros, as they do in SciPy's pocketfft. That matters because pHash
/// compares every coefficient with the median, which is often 0 for such images.
fn dct2(x: &[f64], out: &mut [f64], cos: &OddCos, level: usize) {
    let n = x.len();
    if n == 1 {
        out[0] = 2.0 * x[0];
        return;
    }
    let half = n / 2;
    let mut even_in = [0.0; DCT_N / 2];
    let mut odd_in = [0.0; DCT_N / 2];
    for i in 0..half {
        even_in[i] = x[i] + x[n - 1 - i];
        odd_in[i] = x[i] - x[n - 1 - i];
    }
    let mut even_out = [0.0; DCT_N / 2];
    dct2(&even_in[..half], &mut even_out[..half], cos, level + 1);
    let table = &cos.0[level];
    for m in 0..half {
        out[2 * m] = even_out[m];
        let row = &table[m * half..(m + 1) * half];
        let s: f64 = odd_in[..half].iter().zip(row).map(|(&z, &c)| z * c).sum();
        out[2 * m + 1] = 2.0 * s;
    }
}

/// Computes aHash, dHash and pHash of an interleaved RGB8 image (PIL `convert("RGB")`
/// pixels; see [`super::classical::rgb8_like_pil`]), equal to ImageHash's
/// `average_hash`, `dhash` and `phash` with their defaults. An empty image hashes to zeros.
///
/// # Panics
/// If `rgb.len() != 3 * width * height` (a caller bug, not a data error).
#[must_use]
pub fn hashes(rgb: &[u8], width: usize, height: usize) -> Hashes {
    assert_eq!(rgb.len(), 3 * width * height, "rgb buffer size mismatch");
    if width == 0 || height == 0 {
        return Hashes {
            ahash: 0,
            dhash: 0,
            phash: 0,
        };
    }
    let l = gray_pil_l(rgb, width, height);

    // average_hash: bit = px > mean  <=>  64 px > Σ (exact in integers).
    let a = resize_lanczos_l(&l, width, height, 8, 8);
    let sum: u32 = a.iter().map(|&v| u32::from(v)).sum();
    let ahash = pack(a.iter().map(|&v| 64 * u32::from(v) > sum));

    // dhash: 9 wide x 8 high, bit = px[r][c+1] > px[r][c].
    let d = resize_lanczos_l(&l, width, height, 9, 8);
    let dhash = pack(
        d.chunks_exact(9)
            .flat_map(|r| r.windows(2).map(|p| p[1] > p[0])),
    );

    // phash: 32x32, dct(dct(a, axis=0), axis=1), top-left 8x8 vs its np.median.
    const N: usize = DCT_N;
    const K: usize = 8;
    let cos = OddCos::new();
    let p = resize_lanczos_l(&l, width, height, N, N);
    // Axis 0 (down each column); only the first K output rows are needed.
    let mut cols = [[0f64; N]; K]; // cols[k][x]
    let mut col = [0f64; N];
    let mut col_out = [0f64; N];
    for x in 0..N {
        for (y, c) in col.iter_mut().enumerate() {
            *c = f64::from(p[y * N + x]);
        }
        dct2(&col, &mut col_out, &cos, 0);
        for k in 0..K {
            cols[k][x] = col_out[k];
        }
    }
    // Axis 1 (along each of those rows); keep the first K coefficients.
    let mut low = [0f64; K * K];
    let mut row_out = [0f64; N];
    for k in 0..K {
        dct2(&cols[k], &mut row_out, &cos, 0);
        low[k * K..(k + 1) * K].copy_from_slice(&row_out[..K]);
    }
    let mut sorted = low;
    sorted.sort_by(f64::total_cmp);
    let median = (sorted[K * K / 2 - 1] + sorted[K * K / 2]) / 2.0;
    let phash = pack(low.iter().map(|&v| v > median));

    Hashes {
        ahash,
        dhash,
        phash,
    }
}

/// Hashes of a decoded (first-frame, oriented) image, converting it with
/// [`super::classical::rgb8_like_pil`] first, which is what ImageHash sees for every mode
/// (see the module docs).
#[must_use]
pub fn hashes_from_dynamic(img: &DynamicImage) -> Hashes {
    let rgb = super::classical::rgb8_like_pil(img);
    hashes(&rgb, img.width() as usize, img.height() as usize)
}

/// 16 lowercase hex digits, as `str(imagehash.ImageHash)` prints a 64-bit hash.
#[must_use]
pub fn to_hex(h: u64) -> String {
    format!("{h:016x}")
}

/// Parses 16 hex digits (either case) written by [`to_hex`] or ImageHash.
#[must_use]
pub fn from_hex(s: &str) -> Option<u64> {
    if s.len() != 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(s, 16).ok()
}

/// Hamming distance (`imagehash.ImageHash.__sub__`): number of differing bits.
#[must_use]
pub fn hamming(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

#[cfg(test)]
mod tests {
    use super::super::classical::test_refs::load_all;
    use super::*;

    /// All three hashes equal ImageHash's strings for every image whose pixels our decoder
    /// reproduces exactly; for the others (JPEG decoder differences) the Hamming distance
    /// is reported and must stay small.
    #[test]
    fn matches_imagehash() {
        let images = load_all();
        assert!(!images.is_empty());
        let mut checked = 0;
        for l in &images {
            let got = hashes(&l.rgb, l.r.width, l.r.height);
            assert_eq!(got, hashes_from_dynamic(&l.img));
            let want = [&l.r.ahash, &l.r.dhash, &l.r.phash];
            let have = [got.ahash, got.dhash, got.phash];
            if !l.same_pixels {
                let d: Vec<u32> = have
                    .iter()
                    .zip(want)
                    .map(|(&h, w)| hamming(h, from_hex(w).unwrap()))
                    .collect();
                eprintln!(
                    "{} (decoder differs from PIL): hamming a/d/p = {d:?}",
                    l.r.file
                );
                // JPEG decoders differ by a few levels on some pixels; that may flip a bit
                // or two of a thumbnail hash (observed: 0 on every reference JPEG).
                assert!(d.iter().all(|&x| x <= 4), "{}: {d:?}", l.r.file);
                continue;
            }
            checked += 1;
            for (name, (&h, w)) in ["ahash", "dhash", "phash"]
                .iter()
                .zip(have.iter().zip(want))
            {
                assert_eq!(&to_hex(h), w, "{}: {name} (mode {})", l.r.file, l.r.mode);
            }
        }
        eprintln!("{checked} images: all hashes equal ImageHash");
    }

    #[test]
    fn hex_and_hamming() {
        assert_eq!(to_hex(0x8000_0000_0000_0001), "8000000000000001");
        assert_eq!(to_hex(0), "0000000000000000");
        assert_eq!(from_hex("8000000000000001"), Some(0x8000_0000_0000_0001));
        assert_eq!(from_hex("FFFFFFFFFFFFFFFF"), Some(u64::MAX));
        assert_eq!(from_hex("+000000000000001"), None);
        assert_eq!(from_hex("123"), None);
        assert_eq!(from_hex("000000000000000g"), None);
        assert_eq!(hamming(0, u64::MAX), 64);
        assert_eq!(hamming(0b1011, 0b0001), 2);
        assert_eq!(hamming(42, 42), 0);
    }

    #[test]
    fn pil_l_formula() {
        let l = gray_pil_l(
            &[255, 255, 255, 255, 0, 0, 0, 255, 0, 0, 0, 255, 1, 2, 3],
            5,
            1,
        );
        assert_eq!(l, [255, 76, 150, 29, 2]);
    }

    #[test]
    fn resize_identity_and_constant() {
        let g: Vec<u8> = (0..12).collect();
        assert_eq!(resize_lanczos_l(&g, 4, 3, 4, 3), g);
        // A constant image stays constant under Lanczos, up- or downscaled.
        let c = vec![93u8; 50 * 7];
        assert!(resize_lanczos_l(&c, 50, 7, 8, 8).iter().all(|&v| v == 93));
        assert!(resize_lanczos_l(&c, 50, 7, 32, 32).iter().all(|&v| v == 93));
        assert!(resize_lanczos_l(&c, 50, 7, 0, 32).is_empty());
    }

    #[test]
    fn constant_and_empty_hashes() {
        let h = hashes(&vec![128u8; 3 * 64 * 48], 64, 48);
        assert_eq!((h.ahash, h.dhash, h.phash), (0, 0, 0x8000_0000_0000_0000));
        assert_eq!(hashes(&[], 0, 0).phash, 0);
    }

    #[test]
    fn dct_matches_definition() {
        let x: Vec<f64> = (0..32).map(|i| f64::from((i * 7919) % 255)).collect();
        let mut y = vec![0.0; 32];
        dct2(&x, &mut y, &OddCos::new(), 0);
        for (k, &yk) in y.iter().enumerate() {
            let want: f64 = 2.0
                * x.iter()
                    .enumerate()
                    .map(|(n, &v)| {
                        v * (std::f64::consts::PI * k as f64 * (2 * n + 1) as f64 / 64.0).cos()
                    })
                    .sum::<f64>();
            assert!((yk - want).abs() < 1e-9 * want.abs().max(1.0), "k={k}");
        }
    }
}
