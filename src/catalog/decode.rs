//! Safe decoding of untrusted image bytes: format sniffing, pixel limits checked from the header
//! before any pixel buffer is allocated, EXIF orientation, first frame of animations.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder as _, ImageFormat, ImageReader, Limits};

/// Limits applied to every file.
#[derive(Debug, Clone, Copy)]
pub struct DecodeConfig {
    /// Images with more pixels than this are refused before decoding (decompression bombs).
    pub max_pixels: u64,
    /// Upper bound for the decoder's allocations.
    pub max_alloc_bytes: u64,
}

impl Default for DecodeConfig {
    fn default() -> Self {
        Self {
            max_pixels: 100_000_000,
            max_alloc_bytes: 2 << 30,
        }
    }
}

/// A decoded first frame, orientation applied.
pub struct Decoded {
    pub format: &'static str,
    /// Width and height after orientation.
    pub width: u32,
    pub height: u32,
    /// EXIF orientation (1–8) found in the file, 1 when absent.
    pub orientation: u8,
    pub image: DynamicImage,
}

/// Header facts available even when the pixels cannot be decoded.
#[derive(Debug, Clone, Default)]
pub struct Probe {
    pub format: Option<&'static str>,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

/// Why a file could not be decoded (a clear, user-facing reason).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error("empty file (0 bytes)")]
    Empty,
    #[error("not a recognised image format")]
    UnknownFormat,
    #[error("{format} decoding is not built into this Assay")]
    Unsupported { format: &'static str },
    #[error(
        "image is {width}×{height} = {mp:.1} MP, above the {limit_mp:.0} MP limit; not decoded"
    )]
    TooManyPixels {
        width: u32,
        height: u32,
        mp: f64,
        limit_mp: f64,
    },
    #[error("corrupt or truncated {format}: {reason}")]
    Corrupt {
        format: &'static str,
        reason: String,
    },
}

/// Short lower-case name of a format.
pub fn format_name(f: ImageFormat) -> &'static str {
    match f {
        ImageFormat::Png => "png",
        ImageFormat::Jpeg => "jpeg",
        ImageFormat::WebP => "webp",
        ImageFormat::Gif => "gif",
        ImageFormat::Bmp => "bmp",
        ImageFormat::Tiff => "tiff",
        ImageFormat::Avif => "avif",
        ImageFormat::Ico => "ico",
        ImageFormat::Pnm => "pnm",
        ImageFormat::Tga => "tga",
        ImageFormat::Dds => "dds",
        ImageFormat::Hdr => "hdr",
        ImageFormat::OpenExr => "exr",
        ImageFormat::Farbfeld => "farbfeld",
        ImageFormat::Qoi => "qoi",
        _ => "other",
    }
}

/// Formats this build decodes.
fn decodable(f: ImageFormat) -> bool {
    matches!(
        f,
        ImageFormat::Png
            | ImageFormat::Jpeg
            | ImageFormat::WebP
            | ImageFormat::Gif
            | ImageFormat::Bmp
            | ImageFormat::Tiff
    )
}

/// HEIF images (HEIC from phones and cameras, and other HEIF brands; AVIF is recognised by
/// the `image` crate itself): an ISO-BMFF `ftyp` box whose major or compatible brand is a HEIF
/// one. Not decodable in this build, but named, so the user is told instead of the file being
/// skipped without a word.
pub fn is_heif(bytes: &[u8]) -> bool {
    const BRANDS: &[&[u8; 4]] = &[
        b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1",
    ];
    if bytes.get(4..8) != Some(b"ftyp".as_slice()) {
        return false;
    }
    let size = bytes
        .get(..4)
        .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize);
    let end = size.clamp(16, 256).min(bytes.len());
    // Major brand at 8..12, minor version 12..16, compatible brands from 16 on.
    let brands = std::iter::once(8).chain((16..end).step_by(4));
    let mut is_avif = false;
    let mut heif = false;
    for at in brands {
        match bytes.get(at..at + 4) {
            Some(b) if b == b"avif" || b == b"avis" => is_avif = true,
            Some(b) if BRANDS.iter().any(|x| x.as_slice() == b) => heif = true,
            _ => {}
        }
    }
    heif && !is_avif
}

/// xxh3-128 of the decoded pixels (colour type, size, then the samples), as 32 hex digits: the
/// same for two files that differ only in metadata or in their lossless encoding, so a
/// decision can follow a re-saved file (`store::versions`).
pub fn pixel_hash(image: &DynamicImage) -> String {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(format!("{:?}", image.color()).as_bytes());
    h.update(&image.width().to_le_bytes());
    h.update(&image.height().to_le_bytes());
    h.update(image.as_bytes());
    format!("{:032x}", h.digest128())
}

/// Sniffs the format and reads the dimensions from the header without decoding pixels.
pub fn probe(bytes: &[u8]) -> Probe {
    if is_heif(bytes) {
        return Probe {
            format: Some("heic"),
            ..Probe::default()
        };
    }
    let Ok(fmt) = image::guess_format(bytes) else {
        return Probe::default();
    };
    let mut p = Probe {
        format: Some(format_name(fmt)),
        ..Probe::default()
    };
    if decodable(fmt) {
        let reader = ImageReader::with_format(Cursor::new(bytes), fmt);
        if let Ok((w, h)) = reader.into_dimensions() {
            p.width = Some(w);
            p.height = Some(h);
        }
    }
    p
}

/// Decodes the first frame of `bytes`, refusing images above the pixel limit before allocating.
pub fn decode(bytes: &[u8], cfg: &DecodeConfig) -> Result<Decoded, DecodeError> {
    let checked = check(bytes, cfg)?;
    decode_from(Cursor::new(bytes), checked, cfg)
}

/// What [`check`] found out from the bytes before decoding: the format.
#[derive(Debug, Clone, Copy)]
pub struct Checked {
    format: ImageFormat,
}

/// Everything [`decode`] checks before it allocates pixels: not empty, a decodable format, a
/// complete JPEG, dimensions readable from the header and within the pixel limit.
pub fn check(bytes: &[u8], cfg: &DecodeConfig) -> Result<Checked, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    if is_heif(bytes) {
        return Err(DecodeError::Unsupported { format: "heic" });
    }
    let fmt = image::guess_format(bytes).map_err(|_| DecodeError::UnknownFormat)?;
    let name = format_name(fmt);
    if !decodable(fmt) {
        return Err(DecodeError::Unsupported { format: name });
    }
    if fmt == ImageFormat::Jpeg && !jpeg_complete(bytes) {
        // zune-jpeg fills missing scan data with grey; PIL refuses ("image file is truncated").
        return Err(DecodeError::Corrupt {
            format: name,
            reason: "the file ends before the end-of-image marker (truncated)".to_string(),
        });
    }
    let corrupt = |e: image::ImageError| DecodeError::Corrupt {
        format: name,
        reason: e.to_string(),
    };
    let (w, h) = ImageReader::with_format(Cursor::new(bytes), fmt)
        .into_dimensions()
        .map_err(corrupt)?;
    let pixels = u64::from(w) * u64::from(h);
    if pixels > cfg.max_pixels {
        return Err(DecodeError::TooManyPixels {
            width: w,
            height: h,
            mp: pixels as f64 / 1e6,
            limit_mp: cfg.max_pixels as f64 / 1e6,
        });
    }
    Ok(Checked { format: fmt })
}

/// Decodes the first frame from `reader`, which holds the bytes that passed [`check`] (the
/// scan reads large files a second time from disk instead of keeping them in memory while the
/// frame is allocated).
pub fn decode_from<R: std::io::BufRead + std::io::Seek>(
    reader: R,
    checked: Checked,
    cfg: &DecodeConfig,
) -> Result<Decoded, DecodeError> {
    let fmt = checked.format;
    let name = format_name(fmt);
    let corrupt = |e: image::ImageError| DecodeError::Corrupt {
        format: name,
        reason: e.to_string(),
    };
    let mut reader = ImageReader::with_format(reader, fmt);
    let mut limits = Limits::default();
    limits.max_alloc = Some(cfg.max_alloc_bytes);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(corrupt)?;
    let (w, h) = decoder.dimensions();
    if u64::from(w) * u64::from(h) > cfg.max_pixels {
        // The file changed since it was checked.
        return Err(DecodeError::TooManyPixels {
            width: w,
            height: h,
            mp: (u64::from(w) * u64::from(h)) as f64 / 1e6,
            limit_mp: cfg.max_pixels as f64 / 1e6,
        });
    }
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(corrupt)?;
    image.apply_orientation(orientation);
    let code = orientation_code(orientation);
    Ok(Decoded {
        format: name,
        width: image.width(),
        height: image.height(),
        orientation: code,
        image,
    })
}

/// Walks the JPEG marker structure (through entropy-coded scans) and reports whether the
/// end-of-image marker is reached before the bytes run out.
pub fn jpeg_complete(b: &[u8]) -> bool {
    if b.get(..2) != Some(&[0xFF, 0xD8]) {
        return false;
    }
    let mut i = 2;
    loop {
        // Next marker: skip anything up to 0xFF, then fill bytes.
        let Some(off) = b.get(i..).and_then(|r| r.iter().position(|&x| x == 0xFF)) else {
            return false;
        };
        i += off;
        while b.get(i) == Some(&0xFF) {
            i += 1;
        }
        let Some(&marker) = b.get(i) else {
            return false;
        };
        i += 1;
        match marker {
            0xD9 => return true,
            0x00 | 0x01 | 0xD0..=0xD7 => continue,
            _ => {
                let Some(len) = b
                    .get(i..i + 2)
                    .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])))
                else {
                    return false;
                };
                i += len;
                if i > b.len() {
                    return false;
                }
                if marker == 0xDA {
                    // Entropy-coded data: 0xFF00 is a stuffed byte, 0xFFD0–D7 restart markers.
                    loop {
                        let Some(off) = b.get(i..).and_then(|r| r.iter().position(|&x| x == 0xFF))
                        else {
                            return false;
                        };
                        let j = i + off;
                        match b.get(j + 1) {
                            None => return false,
                            Some(0x00 | 0xD0..=0xD7) => i = j + 2,
                            Some(0xFF) => i = j + 1,
                            Some(_) => {
                                i = j;
                                break;
                            }
                        }
                    }
                }
            }
        }
    }
}

fn orientation_code(o: image::metadata::Orientation) -> u8 {
    use image::metadata::Orientation as O;
    match o {
        O::NoTransforms => 1,
        O::FlipHorizontal => 2,
        O::Rotate180 => 3,
        O::FlipVertical => 4,
        O::Rotate90FlipH => 5,
        O::Rotate90 => 6,
        O::Rotate270FlipH => 7,
        O::Rotate270 => 8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn decodes_and_reports_format() {
        let d = decode(&png(20, 10), &DecodeConfig::default()).unwrap();
        assert_eq!(
            (d.format, d.width, d.height, d.orientation),
            ("png", 20, 10, 1)
        );
    }

    #[test]
    fn refuses_too_many_pixels_before_decoding() {
        let cfg = DecodeConfig {
            max_pixels: 100,
            ..DecodeConfig::default()
        };
        let err = decode(&png(20, 10), &cfg).err().unwrap();
        assert!(matches!(
            err,
            DecodeError::TooManyPixels {
                width: 20,
                height: 10,
                ..
            }
        ));
        assert!(err.to_string().contains("limit"));
    }

    #[test]
    fn empty_garbage_and_truncated_are_clear_errors() {
        assert_eq!(
            decode(b"", &DecodeConfig::default()).err(),
            Some(DecodeError::Empty)
        );
        assert_eq!(
            decode(b"hello world, not an image", &DecodeConfig::default()).err(),
            Some(DecodeError::UnknownFormat)
        );
        let mut p = png(64, 64);
        p.truncate(p.len() / 2);
        let err = decode(&p, &DecodeConfig::default()).err().unwrap();
        assert!(
            matches!(err, DecodeError::Corrupt { format: "png", .. }),
            "{err}"
        );
    }

    #[test]
    fn truncated_jpeg_is_detected() {
        let img =
            image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 3, y as u8 * 5, 40]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Jpeg).unwrap();
        let full = out.into_inner();
        assert!(jpeg_complete(&full));
        assert!(decode(&full, &DecodeConfig::default()).is_ok());
        for cut in [full.len() - 1, full.len() - 2, full.len() / 2, 300, 20, 3] {
            assert!(!jpeg_complete(&full[..cut]), "cut at {cut}");
            let err = decode(&full[..cut], &DecodeConfig::default())
                .err()
                .unwrap();
            assert!(
                matches!(err, DecodeError::Corrupt { format: "jpeg", .. }),
                "{err}"
            );
        }
    }

    /// Issue 17: HEIC files were skipped without a word (AVIF got a clear error).
    #[test]
    fn heic_is_named_and_refused_clearly() {
        let mut heic = vec![0, 0, 0, 24];
        heic.extend_from_slice(b"ftypheic\0\0\0\0mif1heic");
        heic.extend_from_slice(&[0u8; 64]);
        assert!(is_heif(&heic));
        assert_eq!(probe(&heic).format, Some("heic"));
        let err = decode(&heic, &DecodeConfig::default()).err().unwrap();
        assert_eq!(err, DecodeError::Unsupported { format: "heic" });
        assert!(
            err.to_string().contains("heic decoding is not built"),
            "{err}"
        );
        let mut avif = vec![0, 0, 0, 24];
        avif.extend_from_slice(b"ftypavif\0\0\0\0mif1avif");
        assert!(!is_heif(&avif));
        assert!(!is_heif(b"ftyp"));
        assert!(crate::catalog::has_image_extension(std::path::Path::new(
            "IMG_0001.HEIC"
        )));
    }

    #[test]
    fn pixel_hash_ignores_the_container_not_the_pixels() {
        let a = image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(9, 7, |x, y| {
            image::Rgb([x as u8, y as u8, 3])
        }));
        let mut b = a.clone();
        assert_eq!(pixel_hash(&a), pixel_hash(&b));
        if let image::DynamicImage::ImageRgb8(img) = &mut b {
            img.put_pixel(4, 4, image::Rgb([0, 0, 0]));
        }
        assert_ne!(pixel_hash(&a), pixel_hash(&b));
        let c = image::DynamicImage::ImageRgba8(a.to_rgba8());
        assert_ne!(pixel_hash(&a), pixel_hash(&c), "another colour type");
    }

    #[test]
    fn probe_reads_header_only() {
        let mut p = png(33, 17);
        p.truncate(60);
        let pr = probe(&p);
        assert_eq!(pr.format, Some("png"));
        assert_eq!((pr.width, pr.height), (Some(33), Some(17)));
    }
}
