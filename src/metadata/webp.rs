//! WebP (RIFF) chunk walker: EXIF, "XMP " and ANMF (animation frame count).

use super::util::{clamped, le_u32, utf8_lossy};
use super::{Collector, Origin, exif};

struct Chunk<'a> {
    fourcc: [u8; 4],
    data: &'a [u8],
    cut: bool,
}

fn chunks(b: &[u8]) -> Vec<Chunk<'_>> {
    let mut out = Vec::new();
    let mut pos: usize = 12;
    while let (Some(fourcc), Some(len)) = (b.get(pos..pos + 4), le_u32(b, pos + 4)) {
        let Ok(len) = usize::try_from(len) else { break };
        let Ok(fourcc) = <[u8; 4]>::try_from(fourcc) else {
            break;
        };
        let (data, cut) = clamped(b, pos + 8, len);
        out.push(Chunk { fourcc, data, cut });
        match pos
            .checked_add(8)
            .and_then(|p| p.checked_add(len))
            .and_then(|p| p.checked_add(len & 1))
        {
            Some(next) if !cut => pos = next,
            _ => break,
        }
    }
    out
}

/// Records every text carrier of a WebP file.
pub(crate) fn walk(b: &[u8], col: &mut Collector) {
    for c in chunks(b) {
        if c.cut {
            col.warn(format!(
                "webp: chunk {} is cut short (truncated file?)",
                String::from_utf8_lossy(&c.fourcc)
            ));
        }
        match &c.fourcc {
            b"EXIF" => exif::parse(exif::strip_exif_header(c.data), col),
            b"XMP " => {
                let (text, lossy) = utf8_lossy(c.data);
                if lossy {
                    col.warn("webp: XMP is not valid UTF-8; decoded lossily".into());
                }
                col.text("xmp".into(), "xmp", Origin::Xmp, text, c.cut);
            }
            b"C2PA" => {
                col.c2pa = true;
                col.note(
                    "webp:C2PA",
                    format!("C2PA manifest, {} bytes", c.data.len()),
                );
            }
            _ => {}
        }
    }
}

/// Number of ANMF chunks (1 for a still image).
pub(crate) fn frames(b: &[u8]) -> u32 {
    let n = chunks(b).iter().filter(|c| &c.fourcc == b"ANMF").count();
    u32::try_from(n).unwrap_or(u32::MAX).max(1)
}

/// The EXIF TIFF block, if any.
pub(crate) fn exif_block(b: &[u8]) -> Option<&[u8]> {
    chunks(b)
        .into_iter()
        .find(|c| &c.fourcc == b"EXIF")
        .map(|c| exif::strip_exif_header(c.data))
}
