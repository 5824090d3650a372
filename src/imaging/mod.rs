//! Pixel utilities shared by `signals` and `models`, with no dependency on either: the RGB
//! conversion PIL's `Image.convert("RGB")` makes ([`rgb8_like_pil`]) and Pillow's bit-exact
//! resampler ([`resample`]). Both front ends of the pixel work (classical signals and hashes;
//! CLIP preprocessing and the face detector's working copy) read pixels through here, so the
//! Rust values and the Python references see the same bytes.

use image::DynamicImage;

pub mod resample;

/// Converts the (first-frame, already oriented) image to interleaved RGB8 the way
/// PIL's `Image.convert("RGB")` does after `Image.open`:
///
/// * 8-bit L / LA / RGB / RGBA (and palette PNGs, which `image` expands to RGB(A)):
///   alpha dropped, not composited; gray replicated — the same as `to_rgb8()`.
/// * 16-bit RGB / RGBA / LA PNG: PIL decodes them with the `;16B` raw modes, which keep
///   the high byte (`v >> 8`); `to_rgb8()` would round (`(v + 128) / 257`) instead.
/// * 16-bit gray PNG: PIL opens it as mode `I;16`, and `convert("RGB")`/`convert("L")`
///   clip at 255 (`min(v, 255)`), so most 16-bit gray images come out nearly white.
///   This is PIL's behaviour and is reproduced on purpose so that Rust and the Python
///   reference agree.
/// * 32-bit float images have no PIL counterpart here and use `to_rgb8()`.
#[must_use]
pub fn rgb8_like_pil(img: &DynamicImage) -> Vec<u8> {
    match img {
        DynamicImage::ImageRgb16(b) => b.as_raw().iter().map(|&v| (v >> 8) as u8).collect(),
        DynamicImage::ImageRgba16(b) => b
            .as_raw()
            .chunks_exact(4)
            .flat_map(|p| [(p[0] >> 8) as u8, (p[1] >> 8) as u8, (p[2] >> 8) as u8])
            .collect(),
        DynamicImage::ImageLumaA16(b) => b
            .as_raw()
            .chunks_exact(2)
            .flat_map(|p| {
                let v = (p[0] >> 8) as u8;
                [v, v, v]
            })
            .collect(),
        DynamicImage::ImageLuma16(b) => b
            .as_raw()
            .iter()
            .flat_map(|&v| {
                let v = v.min(255) as u8;
                [v, v, v]
            })
            .collect(),
        other => other.to_rgb8().into_raw(),
    }
}

/// [`rgb8_like_pil`] taking the image: an 8-bit RGB frame is returned as it is and an 8-bit
/// RGBA frame is packed to RGB in its own buffer, so the scan never holds two full-resolution
/// copies of those (the other layouts are converted into a new buffer).
#[must_use]
pub fn into_rgb8_like_pil(img: DynamicImage) -> Vec<u8> {
    match img {
        DynamicImage::ImageRgb8(b) => b.into_raw(),
        DynamicImage::ImageRgba8(b) => {
            let mut v = b.into_raw();
            let n = v.len() / 4;
            for i in 0..n {
                v.copy_within(4 * i..4 * i + 3, 3 * i);
            }
            v.truncate(3 * n);
            v.shrink_to_fit();
            v
        }
        other => rgb8_like_pil(&other),
    }
}
