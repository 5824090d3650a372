//! PNG chunk walker: tEXt (Latin-1), zTXt, iTXt (compressed or not), eXIf,
//! caBX (C2PA) and acTL (animation frame count). CRCs are not checked; every
//! length is bounded by the bytes actually present.

use super::util::{be_u32, clamped, inflate_zlib, latin1, latin1_or_utf8, utf8_lossy};
use super::{Collector, Origin, exif};

const SIGNATURE_LEN: usize = 8;

/// One chunk: type, data (possibly cut short), whether it was cut short.
struct Chunk<'a> {
    kind: [u8; 4],
    data: &'a [u8],
    cut: bool,
}

/// Iterates chunks until IEND or the end of the bytes.
struct Chunks<'a> {
    b: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> Chunks<'a> {
    fn new(b: &'a [u8]) -> Self {
        Self {
            b,
            pos: SIGNATURE_LEN,
            done: false,
        }
    }
}

impl<'a> Iterator for Chunks<'a> {
    type Item = Chunk<'a>;

    fn next(&mut self) -> Option<Chunk<'a>> {
        if self.done {
            return None;
        }
        let len = usize::try_from(be_u32(self.b, self.pos)?).ok()?;
        let kind: [u8; 4] = self.b.get(self.pos + 4..self.pos + 8)?.try_into().ok()?;
        let (data, cut) = clamped(self.b, self.pos + 8, len);
        match self.pos.checked_add(len).and_then(|p| p.checked_add(12)) {
            Some(next) if !cut => self.pos = next,
            _ => self.done = true,
        }
        if &kind == b"IEND" {
            self.done = true;
        }
        Some(Chunk { kind, data, cut })
    }
}

/// Splits `keyword\0rest`.
fn keyword(data: &[u8]) -> (String, &[u8]) {
    match data.iter().position(|&c| c == 0) {
        Some(i) => (
            latin1(data.get(..i).unwrap_or_default()),
            data.get(i + 1..).unwrap_or_default(),
        ),
        None => (latin1(data), &[]),
    }
}

fn inflate(col: &mut Collector, what: &str, z: &[u8]) -> (Vec<u8>, bool) {
    let out = inflate_zlib(z, col.limits.max_inflate_bytes);
    if out.capped {
        col.warn(format!(
            "png: {what} inflates past {} bytes; cut there",
            col.limits.max_inflate_bytes
        ));
    }
    if out.error {
        col.warn(format!(
            "png: {what} has a corrupt or incomplete zlib stream"
        ));
    }
    (out.data, out.capped || out.error)
}

fn text_chunk(col: &mut Collector, chunk: &Chunk) {
    let kind = latin1(&chunk.kind);
    let (key, rest) = keyword(chunk.data);
    let what = format!("{kind} '{key}'");
    let (text, cut, origin) = match &chunk.kind {
        b"tEXt" => {
            // Capped like the inflated zTXt/iTXt text: a 20 MB chunk is not parsed and stored
            // whole (prompts and raw entries come from this text).
            let cap = col.limits.max_inflate_bytes;
            let cut = rest.len() > cap;
            if cut {
                col.warn(format!("png: {what} is longer than {cap} bytes; cut there"));
            }
            let kept = rest.get(..cap.min(rest.len())).unwrap_or_default();
            (latin1_or_utf8(kept), cut, Origin::PngText)
        }
        b"zTXt" => {
            let (data, cut) = inflate(col, &what, rest.get(1..).unwrap_or_default());
            (latin1_or_utf8(&data), cut, Origin::PngText)
        }
        _ => {
            let compressed = rest.first().copied().unwrap_or(0) != 0;
            let after_flags = rest.get(2..).unwrap_or_default();
            let (_lang, after_lang) = keyword(after_flags);
            let (_translated, body) = keyword(after_lang);
            let (data, cut) = if compressed {
                inflate(col, &what, body)
            } else {
                (body.to_vec(), false)
            };
            let (text, lossy) = utf8_lossy(&data);
            if lossy {
                col.warn(format!("png: {what} is not valid UTF-8; decoded lossily"));
            }
            let origin = if key == "XML:com.adobe.xmp" {
                Origin::Xmp
            } else {
                Origin::PngText
            };
            (text, cut, origin)
        }
    };
    col.text(
        format!("png:{kind}:{key}"),
        &key,
        origin,
        text,
        cut || chunk.cut,
    );
}

/// Records every text carrier of a PNG file.
pub(crate) fn walk(b: &[u8], col: &mut Collector) {
    for chunk in Chunks::new(b) {
        if chunk.cut {
            col.warn(format!(
                "png: chunk {} is cut short (truncated file?)",
                latin1(&chunk.kind)
            ));
        }
        match &chunk.kind {
            b"tEXt" | b"zTXt" | b"iTXt" => text_chunk(col, &chunk),
            b"eXIf" => exif::parse(exif::strip_exif_header(chunk.data), col),
            b"caBX" => {
                col.c2pa = true;
                col.note(
                    "png:caBX",
                    format!("C2PA manifest, {} bytes", chunk.data.len()),
                );
            }
            _ => {}
        }
    }
}

/// Frame count from `acTL` (1 when absent).
pub(crate) fn frames(b: &[u8]) -> u32 {
    Chunks::new(b)
        .take_while(|c| &c.kind != b"IDAT")
        .find(|c| &c.kind == b"acTL")
        .and_then(|c| be_u32(c.data, 0))
        .unwrap_or(1)
}

/// The `eXIf` TIFF block, if any.
pub(crate) fn exif_block(b: &[u8]) -> Option<&[u8]> {
    Chunks::new(b)
        .find(|c| &c.kind == b"eXIf")
        .map(|c| exif::strip_exif_header(c.data))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::metadata::Limits;

    /// A PNG made of the signature, the given chunks and IEND (CRCs zeroed).
    pub(crate) fn png(chunks: &[(&[u8; 4], Vec<u8>)]) -> Vec<u8> {
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        for (kind, data) in chunks.iter().chain(std::iter::once(&(b"IEND", Vec::new()))) {
            out.extend((data.len() as u32).to_be_bytes());
            out.extend(*kind);
            out.extend(data);
            out.extend([0u8; 4]);
        }
        out
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        let _ = enc.write_all(data);
        enc.finish().unwrap_or_default()
    }

    #[test]
    fn text_chunk_kinds() {
        let mut z = b"comment\0\0".to_vec();
        z.extend(zlib(b"zipped"));
        let mut it = b"parameters\0\x01\0en\0\0".to_vec();
        it.extend(zlib("テスト".as_bytes()));
        let file = png(&[
            (b"tEXt", b"Title\0caf\xe9".to_vec()),
            (b"zTXt", z),
            (b"iTXt", it),
            (b"iTXt", b"k\0\0\0\0\0\xff".to_vec()),
        ]);
        let limits = Limits::default();
        let mut col = Collector::new(&limits);
        walk(&file, &mut col);
        let got: Vec<(&str, &str)> = col
            .raw
            .iter()
            .map(|r| (r.key.as_str(), r.value.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("png:tEXt:Title", "café"),
                ("png:zTXt:comment", "zipped"),
                ("png:iTXt:parameters", "テスト"),
                ("png:iTXt:k", "\u{fffd}")
            ]
        );
        assert_eq!(col.warnings.len(), 1, "{:?}", col.warnings);
    }

    #[test]
    fn ztxt_bomb_is_capped() {
        let mut z = b"parameters\0\0".to_vec();
        z.extend(zlib(&vec![b'a'; 4 << 20]));
        let file = png(&[(b"zTXt", z)]);
        let limits = Limits {
            max_raw_bytes: 1000,
            max_inflate_bytes: 64 * 1024,
        };
        let meta = crate::metadata::read_metadata(&file, None, &limits);
        assert_eq!(meta.raw.len(), 1);
        assert!(meta.raw[0].truncated);
        assert_eq!(meta.raw[0].value.len(), 1000);
        assert!(
            meta.warnings.iter().any(|w| w.contains("inflates past")),
            "{:?}",
            meta.warnings
        );
    }

    #[test]
    fn giant_text_chunk_is_truncated() {
        let mut t = b"parameters\0".to_vec();
        t.extend(vec![b'x'; 300 * 1024]);
        t.extend(b"\nSteps: 20, Sampler: Euler, Seed: 5");
        let meta = crate::metadata::read_metadata(&png(&[(b"tEXt", t)]), None, &Limits::default());
        assert_eq!(meta.raw.len(), 1);
        assert!(meta.raw[0].truncated);
        assert_eq!(meta.raw[0].value.len(), 256 * 1024);
        // Parsing still sees the whole text.
        assert_eq!(meta.seed, Some(5));
    }

    /// Issue 17: tEXt was not capped like zTXt: a 20 MB chunk became a 20 MB prompt.
    #[test]
    fn giant_text_chunk_is_capped_like_ztxt() {
        let mut t = b"parameters\0".to_vec();
        t.extend(vec![b'p'; 3 << 20]);
        t.extend(b"\nSteps: 20, Sampler: Euler, Seed: 5");
        let limits = Limits {
            max_raw_bytes: 1000,
            max_inflate_bytes: 1 << 20,
        };
        let meta = crate::metadata::read_metadata(&png(&[(b"tEXt", t)]), None, &limits);
        let positive = meta.positive.unwrap_or_default();
        assert_eq!(
            positive.len(),
            1 << 20,
            "the prompt is cut at the inflate cap"
        );
        assert!(meta.raw[0].truncated);
        assert!(
            meta.warnings.iter().any(|w| w.contains("longer than")),
            "{:?}",
            meta.warnings
        );
    }

    #[test]
    fn bogus_lengths() {
        let mut file = png(&[(b"tEXt", b"a\0b".to_vec())]);
        file[8..12].copy_from_slice(&u32::MAX.to_be_bytes());
        let meta = crate::metadata::read_metadata(&file, None, &Limits::default());
        assert_eq!(meta.raw.len(), 1);
        assert!(meta.raw[0].truncated);
        let actl = png(&[(b"acTL", [0, 0, 0, 33, 0, 0, 0, 0].to_vec())]);
        assert_eq!(frames(&actl), 33);
    }
}
