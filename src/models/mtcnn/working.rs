//! Fast mode: the cascade on a working copy instead of the full-resolution image.
//!
//! The package's pyramid starts from a 20-px minimum face on the image as given, so its cost
//! grows with the pixel count (a 25 MP photo took 7.7 s and 1.1 GB) although the faces that
//! matter for culling are a sizeable part of the picture. Fast mode
//!
//! 1. shrinks the image so that its long side is at most [`WorkingResolution::max_side`]
//!    (default 1024) with Pillow's antialiased bicubic filter (`Image.resize(size,
//!    Image.BICUBIC)`, bit-exact through [`crate::imaging::resample`], as CLIP's
//!    preprocessing); smaller images are used as they are. (A box filter blurs more: the
//!    R-Net/O-Net crops, taken from this copy, then move the boxes of marginal faces by several
//!    pixels; with bicubic they stay within IoU 0.9 of the full-resolution ones on the
//!    fixtures.)
//! 2. runs the package's pyramid *of the full image* (scales `0.6 · 0.709^k` of the full
//!    image, as many levels as the package builds for it) without the levels that only serve
//!    faces smaller than the minimum face — [`WorkingResolution::min_face_rel`] of the short
//!    side (1/26: 39 px on a 1024² image), at least the package's 20 px, and at least 20 px of
//!    the working copy — each level resampled from the working copy (scale `S_k · w / W`), so
//!    the time no longer depends on the resolution and the surviving levels see the same
//!    picture sizes as the package's;
//! 3. maps boxes and landmarks back to full-resolution pixels (pixel centres:
//!    `x_full = (x + 0.5) · W / w − 0.5`).
//!
//! On an image whose short side is at most 520 px this is exactly the package's cascade. On
//! others it is the package run on `Image.resize((w, h), Image.BICUBIC)` with `min_face_size =
//! 12 · (w / W) / S_k0` (`S_k0` the first kept level), coordinates scaled back (what
//! `scripts/bench_scan_baseline.py` does). The R-Net and O-Net crops come from the working
//! copy. The package's own behaviour on the full image stays available as
//! [`Mtcnn::detect_batch`] (`assay faces --full-resolution`).

use super::{Detection, Face, Mtcnn, MtcnnError, Options, RgbImage};
use crate::imaging::resample::{Filter, resize};

/// Where fast mode looks for faces.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WorkingResolution {
    /// Long side of the working copy: larger images are shrunk to it, smaller ones kept.
    pub max_side: usize,
    /// Smallest face searched, as a share of the image's short side (at least the package's
    /// 20 px).
    pub min_face_rel: f64,
}

/// The package's minimum face (pixels), the floor of [`WorkingResolution::min_face`].
pub const PACKAGE_MIN_FACE: f64 = 20.0;

impl Default for WorkingResolution {
    fn default() -> Self {
        Self {
            max_side: 1024,
            min_face_rel: 1.0 / 26.0,
        }
    }
}

impl WorkingResolution {
    /// The working size of a `w`×`h` image: unchanged when the long side fits, else the long
    /// side becomes `max_side` and the short side `round(short · max_side / long)` (half up,
    /// at least 1).
    pub fn size(&self, w: usize, h: usize) -> (usize, usize) {
        let long = w.max(h);
        let max_side = self.max_side.max(1);
        if long <= max_side || w == 0 || h == 0 {
            return (w, h);
        }
        let short = w.min(h);
        let s = ((short * max_side + long / 2) / long).max(1);
        if w >= h { (max_side, s) } else { (s, max_side) }
    }

    /// Minimum face size in pixels of a `w`×`h` image (before the working copy's limit).
    pub fn min_face(&self, w: usize, h: usize) -> f64 {
        (self.min_face_rel * w.min(h) as f64).max(PACKAGE_MIN_FACE)
    }

    /// The pyramid of a `full` image's `working` copy: the package's scales of the full image
    /// for faces of at least [`WorkingResolution::min_face`] and at least 20 working-copy
    /// pixels, as scales of the working copy.
    pub fn scales(&self, full: (usize, usize), working: (usize, usize)) -> Vec<f64> {
        let package = Options::default();
        let r = if full.0 >= full.1 {
            working.0 as f64 / full.0.max(1) as f64
        } else {
            working.1 as f64 / full.1.max(1) as f64
        };
        // Scales within a rounding error of a bound belong to it.
        let tol = 1.0 + 1e-9;
        let largest = 12.0 / self.min_face(full.0, full.1) * tol;
        let largest_on_copy = 12.0 / PACKAGE_MIN_FACE * tol;
        super::scales(full.0, full.1, &package)
            .into_iter()
            .filter(|&s| s <= largest && s / r <= largest_on_copy)
            .map(|s| s / r)
            .collect()
    }
}

/// The detector's copy of one image (RGB8 at the working size) and the full size it maps to.
#[derive(Debug, Clone)]
pub struct WorkingCopy {
    pub rgb: Vec<u8>,
    pub width: usize,
    pub height: usize,
    pub full_width: usize,
    pub full_height: usize,
}

impl WorkingCopy {
    /// The working copy of an image (a bicubic downscale, or a copy when it fits).
    pub fn new(img: RgbImage<'_>, res: &WorkingResolution) -> Self {
        let (w, h) = res.size(img.width, img.height);
        let rgb = if (w, h) == (img.width, img.height) {
            img.data[..(w * h * 3).min(img.data.len())].to_vec()
        } else {
            resize::<3>(img.data, img.width, img.height, w, h, Filter::Bicubic)
        };
        Self {
            rgb,
            width: w,
            height: h,
            full_width: img.width,
            full_height: img.height,
        }
    }

    /// [`WorkingCopy::new`] taking the frame: no copy when it already fits.
    pub fn from_frame(rgb: Vec<u8>, width: usize, height: usize, res: &WorkingResolution) -> Self {
        if res.size(width, height) == (width, height) {
            return Self {
                rgb,
                width,
                height,
                full_width: width,
                full_height: height,
            };
        }
        Self::new(
            RgbImage {
                data: &rgb,
                width,
                height,
            },
            res,
        )
    }

    pub fn view(&self) -> RgbImage<'_> {
        RgbImage {
            data: &self.rgb,
            width: self.width,
            height: self.height,
        }
    }

    /// Whether the copy is the image itself (no downscale).
    pub fn is_full(&self) -> bool {
        (self.width, self.height) == (self.full_width, self.full_height)
    }

    /// A face found on the copy, in full-resolution pixels (the box clipped to the image).
    pub fn to_full(&self, f: &Face) -> Face {
        if self.is_full() {
            return *f;
        }
        let sx = self.full_width as f64 / self.width.max(1) as f64;
        let sy = self.full_height as f64 / self.height.max(1) as f64;
        let x = |v: f64| (v + 0.5) * sx - 0.5;
        let y = |v: f64| (v + 0.5) * sy - 0.5;
        let (wm1, hm1) = (self.full_width as f64 - 1.0, self.full_height as f64 - 1.0);
        Face {
            x1: x(f.x1).clamp(0.0, wm1.max(0.0)),
            y1: y(f.y1).clamp(0.0, hm1.max(0.0)),
            x2: x(f.x2).clamp(0.0, wm1.max(0.0)),
            y2: y(f.y2).clamp(0.0, hm1.max(0.0)),
            confidence: f.confidence,
            landmarks: f.landmarks.map(|p| [x(p[0]), y(p[1])]),
        }
    }
}

impl Mtcnn {
    /// Fast mode on working copies (same-size copies share P-Net batches): faces in the
    /// copies' pixels; [`WorkingCopy::to_full`] maps them to the full image.
    pub fn detect_working(
        &self,
        copies: &[&WorkingCopy],
        res: &WorkingResolution,
    ) -> Result<Vec<Detection>, MtcnnError> {
        let views: Vec<RgbImage<'_>> = copies.iter().map(|c| c.view()).collect();
        let pyramids: Vec<Vec<f64>> = copies
            .iter()
            .map(|c| res.scales((c.full_width, c.full_height), (c.width, c.height)))
            .collect();
        self.detect_batch_scales(&views, &pyramids, super::Nets::Fast)
    }

    /// Fast mode on one full-resolution image: faces in its pixels, and the working copy
    /// (for signals that look at the pixels around the faces).
    pub fn detect_fast(
        &self,
        img: RgbImage<'_>,
        res: &WorkingResolution,
    ) -> Result<(Detection, WorkingCopy), MtcnnError> {
        let copy = WorkingCopy::new(img, res);
        let mut d = self
            .detect_working(&[&copy], res)?
            .pop()
            .unwrap_or_default();
        d.faces = d.faces.iter().map(|f| copy.to_full(f)).collect();
        Ok((d, copy))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn working_sizes_keep_the_aspect() {
        let r = WorkingResolution::default();
        assert_eq!(r.size(800, 600), (800, 600), "fits: unchanged");
        assert_eq!(r.size(1024, 1024), (1024, 1024));
        assert_eq!(r.size(2153, 788), (1024, 375)); // 788·1024/2153 = 374.8
        assert_eq!(r.size(788, 2153), (375, 1024));
        assert_eq!(r.size(10_000, 10_000), (1024, 1024));
        assert_eq!(r.size(100_000, 10), (1024, 1), "at least one pixel");
        assert_eq!(r.min_face(768, 512), PACKAGE_MIN_FACE);
        assert!((r.min_face(1024, 1024) - 1024.0 / 26.0).abs() < 1e-9);
    }

    #[test]
    fn the_pyramid_is_the_packages_without_the_smallest_faces() {
        let r = WorkingResolution::default();
        let package = |w, h| super::super::scales(w, h, &Options::default());
        // Short side ≤ 520: the package's pyramid.
        assert_eq!(r.scales((768, 512), (768, 512)), package(768, 512));
        // 1024²: the package's, from the level for 39-px faces (0.6 · 0.709² = 0.3016).
        let p = package(1024, 1024);
        assert_eq!(r.scales((1024, 1024), (1024, 1024)), p[2..].to_vec());
        assert!((12.0 / p[2] - 39.8).abs() < 0.1);
        // 4096²: the same levels relative to the full image, on a copy 4× smaller.
        let full = package(4096, 4096);
        let fast = r.scales((4096, 4096), (1024, 1024));
        let kept: Vec<f64> = full
            .iter()
            .filter(|&&s| s <= 12.0 / (4096.0 / 26.0))
            .copied()
            .collect();
        assert_eq!(fast.len(), kept.len());
        for (a, b) in fast.iter().zip(&kept) {
            assert!((a / 4.0 - b).abs() < 1e-12);
        }
        assert!(fast[0] <= 0.6);
        // A panorama: the copy's short side limits the smallest face (20 copy pixels).
        let pano = r.scales((10_000, 1000), (1024, 102));
        assert!(pano.iter().all(|&s| s <= 0.6 + 1e-9), "{pano:?}");
    }

    #[test]
    fn faces_map_back_to_full_resolution() {
        let img = vec![0u8; 2048 * 1024 * 3];
        let copy = WorkingCopy::new(
            RgbImage {
                data: &img,
                width: 2048,
                height: 1024,
            },
            &WorkingResolution::default(),
        );
        assert_eq!((copy.width, copy.height), (1024, 512));
        let f = Face {
            x1: 99.5,
            y1: 9.5,
            x2: 199.5,
            y2: 1000.0,
            confidence: 0.9,
            landmarks: [[149.5, 59.5]; 5],
        };
        let g = copy.to_full(&f);
        assert_eq!((g.x1, g.y1, g.x2), (199.5, 19.5, 399.5));
        assert_eq!(g.y2, 1023.0, "clipped to the image");
        assert_eq!(g.landmarks[0], [299.5, 119.5]);
        let same = WorkingCopy::from_frame(vec![0; 30 * 20 * 3], 30, 20, &Default::default());
        assert!(same.is_full());
        assert_eq!(same.to_full(&f), f);
    }
}
