//! The workbench's thumbnail cache: one JPEG per content hash, `<dir>/<xxh3>_256.jpg` (`dir` is
//! `thumbs/` next to the database), longest side [`THUMB_SIDE`], alpha flattened on mid grey.
//! Written by the GUI's thumbnail pool, and by a scan started from the GUI from the frame it
//! decodes anyway (so the pool finds them made).

use std::path::{Path, PathBuf};

use image::DynamicImage;

/// Longest side of a stored thumbnail (the grid scales it down for smaller cells).
pub const THUMB_SIDE: u32 = 256;

/// Cache file of a content hash.
pub fn cache_file(dir: &Path, hash: &str) -> PathBuf {
    dir.join(format!("{hash}_{THUMB_SIDE}.jpg"))
}

/// The thumbnail of a decoded frame (`image`'s `thumbnail`, longest side [`THUMB_SIDE`]).
pub fn thumbnail(img: &DynamicImage) -> DynamicImage {
    img.thumbnail(THUMB_SIDE, THUMB_SIDE)
}

/// Saves `thumb` as the cache file of `hash` under `dir`: alpha flattened onto mid grey (JPEG
/// has none, and transparent pixels must stay visible), written to a temporary name and renamed,
/// so a reader never sees half a file. Returns whether it was saved.
pub fn save(dir: &Path, hash: &str, thumb: &DynamicImage) -> bool {
    let rgba = thumb.to_rgba8();
    let mut rgb = image::RgbImage::new(rgba.width(), rgba.height());
    for (o, p) in rgb.pixels_mut().zip(rgba.pixels()) {
        let a = u32::from(p[3]);
        for k in 0..3 {
            o[k] = ((u32::from(p[k]) * a + 128 * (255 - a)) / 255) as u8;
        }
    }
    // Unique per writer: the pool and a scan in the same process may make the same one.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let file = cache_file(dir, hash);
    let tmp = file.with_extension(format!("{}-{n}.tmp", std::process::id()));
    let saved = std::fs::create_dir_all(dir).is_ok()
        && DynamicImage::ImageRgb8(rgb)
            .save_with_format(&tmp, image::ImageFormat::Jpeg)
            .is_ok()
        && std::fs::rename(&tmp, &file).is_ok();
    if !saved {
        let _ = std::fs::remove_file(&tmp);
    }
    saved
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbnails_are_flattened_and_cached_by_hash() {
        let dir = tempfile::tempdir().unwrap();
        let img = DynamicImage::ImageRgba8(image::RgbaImage::from_fn(600, 300, |x, _| {
            image::Rgba([200, 10, 10, if x < 300 { 255 } else { 0 }])
        }));
        let t = thumbnail(&img);
        assert_eq!((t.width(), t.height()), (256, 128));
        assert!(save(dir.path(), "abc", &t));
        let back = image::open(cache_file(dir.path(), "abc"))
            .unwrap()
            .to_rgb8();
        assert_eq!(back.dimensions(), (256, 128));
        let (opaque, clear) = (back.get_pixel(10, 64), back.get_pixel(250, 64));
        assert!(opaque[0] > 150 && opaque[1] < 60, "{opaque:?}");
        assert!(clear.0.iter().all(|&c| c.abs_diff(128) < 10), "{clear:?}");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file left");
    }
}
