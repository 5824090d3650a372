//! JPEG segment walker (up to the first SOS): APP1 Exif, APP1 XMP (standard
//! and extended), COM comments and APP11 JUMBF/C2PA markers.

use super::util::{be_u16, clamped, latin1_or_utf8, utf8_lossy};
use super::{Collector, Origin, exif};

const XMP_ID: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";
const XMP_EXT_ID: &[u8] = b"http://ns.adobe.com/xmp/extension/\0";

/// One marker segment: marker byte and payload (possibly cut short).
struct Segment<'a> {
    marker: u8,
    data: &'a [u8],
    cut: bool,
}

/// Marker segments before the image data.
fn segments(b: &[u8]) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    let mut pos = 2;
    while let Some(&byte) = b.get(pos) {
        if byte != 0xFF {
            break;
        }
        while b.get(pos) == Some(&0xFF) {
            pos += 1;
        }
        let Some(&marker) = b.get(pos) else { break };
        pos += 1;
        match marker {
            0xD8 | 0xD0..=0xD7 | 0x01 => continue,
            0xD9 | 0xDA => break,
            _ => {}
        }
        let Some(len) = be_u16(b, pos).map(usize::from).filter(|&l| l >= 2) else {
            break;
        };
        let (data, cut) = clamped(b, pos + 2, len.saturating_sub(2));
        out.push(Segment { marker, data, cut });
        if cut {
            break;
        }
        pos += len;
    }
    out
}

/// Records every text carrier of a JPEG file.
pub(crate) fn walk(b: &[u8], col: &mut Collector) {
    for seg in segments(b) {
        if seg.cut {
            col.warn(format!(
                "jpeg: segment 0x{:02X} is cut short (truncated file?)",
                seg.marker
            ));
        }
        let d = seg.data;
        match seg.marker {
            0xE1 if d.starts_with(b"Exif\0") => exif::parse(d.get(6..).unwrap_or_default(), col),
            0xE1 if d.starts_with(XMP_ID) => {
                let (text, lossy) = utf8_lossy(d.get(XMP_ID.len()..).unwrap_or_default());
                if lossy {
                    col.warn("jpeg: XMP is not valid UTF-8; decoded lossily".into());
                }
                col.text("xmp".into(), "xmp", Origin::Xmp, text, seg.cut);
            }
            0xE1 if d.starts_with(XMP_EXT_ID) => {
                // GUID (32) + full length (4) + offset (4), then a slice of XML.
                let body = d.get(XMP_EXT_ID.len() + 40..).unwrap_or_default();
                let (text, _) = utf8_lossy(body);
                col.text(
                    "xmp:extension".into(),
                    "xmp:extension",
                    Origin::Comment,
                    text,
                    seg.cut,
                );
            }
            0xFE => {
                let text = latin1_or_utf8(d);
                col.text("jpeg:COM".into(), "COM", Origin::Comment, text, seg.cut);
            }
            0xEB if d.starts_with(b"JP") && d.windows(4).any(|w| w == b"c2pa") => {
                col.c2pa = true;
                col.note(
                    "jpeg:APP11",
                    format!("C2PA manifest (JUMBF) segment, {} bytes", d.len()),
                );
            }
            _ => {}
        }
    }
}

/// The first APP1 Exif TIFF block, if any.
pub(crate) fn exif_block(b: &[u8]) -> Option<&[u8]> {
    segments(b)
        .into_iter()
        .find(|s| s.marker == 0xE1 && s.data.starts_with(b"Exif\0"))
        .and_then(|s| s.data.get(6..))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::Limits;

    #[test]
    fn com_xmp_and_garbage() {
        let mut f = vec![0xFF, 0xD8];
        let seg = |m: u8, d: &[u8]| {
            let mut v = vec![0xFF, m];
            v.extend(((d.len() + 2) as u16).to_be_bytes());
            v.extend(d);
            v
        };
        f.extend(seg(0xFE, b"hello"));
        let mut x = XMP_ID.to_vec();
        x.extend(b"<x/>");
        f.extend(seg(0xE1, &x));
        f.extend([0xFF, 0xDA, 0, 2, 1, 2, 3]);
        let limits = Limits::default();
        let mut col = Collector::new(&limits);
        walk(&f, &mut col);
        let keys: Vec<&str> = col.raw.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(keys, ["jpeg:COM", "xmp"]);
        for n in 0..f.len() {
            let mut col = Collector::new(&limits);
            walk(&f[..n], &mut col);
        }
        let mut col = Collector::new(&limits);
        walk(&[0xFF, 0xD8, 0xFF, 0xE1, 0, 1], &mut col);
        assert!(col.raw.is_empty());
    }
}
