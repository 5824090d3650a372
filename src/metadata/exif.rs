//! Minimal bounded TIFF/EXIF reader: walks IFD0 and the Exif sub-IFD for the
//! text tags generators use (UserComment, ImageDescription, Make, Model,
//! Software, Artist, Copyright, XP* tags) and reads Orientation.

use super::util::{latin1_or_utf8, trim_nuls, utf16_detect};
use super::{Collector, Origin};

const TAG_EXIF_IFD: u16 = 0x8769;
const TAG_ORIENTATION: u16 = 0x0112;
const MAX_ENTRIES: usize = 1024;
const MAX_IFDS: usize = 8;

/// Text tags kept as raw entries, with their names.
const TEXT_TAGS: &[(u16, &str)] = &[
    (0x010E, "ImageDescription"),
    (0x010F, "Make"),
    (0x0110, "Model"),
    (0x0131, "Software"),
    (0x013B, "Artist"),
    (0x8298, "Copyright"),
    (0x9286, "UserComment"),
    (0x9C9B, "XPTitle"),
    (0x9C9C, "XPComment"),
    (0x9C9D, "XPAuthor"),
    (0x9C9E, "XPKeywords"),
    (0x9C9F, "XPSubject"),
];

struct Tiff<'a> {
    data: &'a [u8],
    be: bool,
}

struct Entry<'a> {
    tag: u16,
    typ: u16,
    value: &'a [u8],
    /// The declared value ran past the end of the block.
    cut: bool,
}

impl<'a> Tiff<'a> {
    fn new(data: &'a [u8]) -> Option<(Self, u32)> {
        let be = match data.get(..4)? {
            [b'M', b'M', 0, 42] => true,
            [b'I', b'I', 42, 0] => false,
            _ => return None,
        };
        let t = Tiff { data, be };
        let first = t.u32(4)?;
        Some((t, first))
    }

    fn u16(&self, pos: usize) -> Option<u16> {
        let s = self.data.get(pos..pos.checked_add(2)?)?;
        let a: [u8; 2] = s.try_into().ok()?;
        Some(if self.be {
            u16::from_be_bytes(a)
        } else {
            u16::from_le_bytes(a)
        })
    }

    fn u32(&self, pos: usize) -> Option<u32> {
        let s = self.data.get(pos..pos.checked_add(4)?)?;
        let a: [u8; 4] = s.try_into().ok()?;
        Some(if self.be {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        })
    }

    /// Reads one IFD: its entries and the offset of the next IFD.
    fn ifd(&self, offset: u32) -> Option<(Vec<Entry<'a>>, u32)> {
        let base = usize::try_from(offset).ok()?;
        let count = usize::from(self.u16(base)?).min(MAX_ENTRIES);
        let mut out = Vec::with_capacity(count);
        for i in 0..count {
            let at = base.checked_add(2)?.checked_add(i.checked_mul(12)?)?;
            let (Some(tag), Some(typ), Some(n)) =
                (self.u16(at), self.u16(at + 2), self.u32(at + 4))
            else {
                break;
            };
            let unit: usize = match typ {
                1 | 2 | 6 | 7 => 1,
                3 | 8 => 2,
                4 | 9 | 11 | 13 => 4,
                5 | 10 | 12 => 8,
                _ => continue,
            };
            let Some(len) = usize::try_from(n).ok().and_then(|n| n.checked_mul(unit)) else {
                continue;
            };
            let start = if len <= 4 {
                at + 8
            } else {
                match self.u32(at + 8).and_then(|o| usize::try_from(o).ok()) {
                    Some(o) => o,
                    None => continue,
                }
            };
            let (value, cut) = super::util::clamped(self.data, start, len);
            out.push(Entry {
                tag,
                typ,
                value,
                cut,
            });
        }
        let next_at = base.checked_add(2)?.checked_add(count.checked_mul(12)?)?;
        Some((out, self.u32(next_at).unwrap_or(0)))
    }

    /// IFD0 plus the Exif sub-IFD (not the thumbnail IFD1), loop-safe.
    fn entries(&self, first: u32) -> Vec<Entry<'a>> {
        let mut all = Vec::new();
        let mut queue = vec![first];
        let mut seen = Vec::new();
        while let Some(off) = queue.pop() {
            if off == 0 || seen.contains(&off) || seen.len() >= MAX_IFDS {
                continue;
            }
            seen.push(off);
            let Some((entries, _next)) = self.ifd(off) else {
                continue;
            };
            for e in entries {
                if e.tag == TAG_EXIF_IFD {
                    if let Some(sub) = self.value_u32(&e) {
                        queue.push(sub);
                    }
                } else {
                    all.push(e);
                }
            }
        }
        all
    }

    fn value_u32(&self, e: &Entry) -> Option<u32> {
        let t = Tiff {
            data: e.value,
            be: self.be,
        };
        match e.typ {
            3 => t.u16(0).map(u32::from),
            4 | 13 => t.u32(0),
            _ => None,
        }
    }
}

/// Decodes the EXIF UserComment: an 8-byte charset prefix then the text.
pub(crate) fn user_comment(v: &[u8], big_endian_hint: bool) -> String {
    let (prefix, rest) = v.split_at_checked(8).unwrap_or((v, &[]));
    let text = match prefix {
        b"UNICODE\0" => utf16_detect(rest, big_endian_hint),
        b"ASCII\0\0\0" | b"\0\0\0\0\0\0\0\0" | b"JIS\0\0\0\0\0" => latin1_or_utf8(rest),
        _ => latin1_or_utf8(v),
    };
    trim_nuls(&text).to_owned()
}

fn decode(e: &Entry, be: bool) -> String {
    match e.tag {
        0x9286 => user_comment(e.value, be),
        0x9C9B..=0x9C9F => trim_nuls(&utf16_detect(e.value, false)).to_owned(),
        _ => trim_nuls(&latin1_or_utf8(e.value)).to_owned(),
    }
}

/// Parses a TIFF block (the bytes after `Exif\0\0`) and records its text tags.
pub(crate) fn parse(block: &[u8], col: &mut Collector) {
    let Some((tiff, first)) = Tiff::new(block) else {
        col.warn("exif: not a TIFF header; block ignored".into());
        return;
    };
    for e in tiff.entries(first) {
        let Some((_, name)) = TEXT_TAGS.iter().find(|(t, _)| *t == e.tag) else {
            continue;
        };
        let text = decode(&e, tiff.be);
        if e.cut {
            col.warn(format!("exif: {name} runs past the end of the EXIF block"));
        }
        if !text.is_empty() || e.cut {
            col.text(format!("exif:{name}"), name, Origin::Exif, text, e.cut);
        }
    }
}

/// EXIF orientation (1..=8) from a TIFF block.
pub(crate) fn orientation(block: &[u8]) -> Option<u8> {
    let (tiff, first) = Tiff::new(block)?;
    let (entries, _) = tiff.ifd(first)?;
    let e = entries.iter().find(|e| e.tag == TAG_ORIENTATION)?;
    let v = tiff.value_u32(e)?;
    u8::try_from(v).ok().filter(|o| (1..=8).contains(o))
}

/// Strips an optional `Exif\0\0` prefix (WebP writers differ).
pub(crate) fn strip_exif_header(b: &[u8]) -> &[u8] {
    b.strip_prefix(b"Exif\0\0").unwrap_or(b)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a little TIFF block with the given (tag, type, bytes) entries in IFD0.
    pub(crate) fn tiff(be: bool, entries: &[(u16, u16, Vec<u8>)]) -> Vec<u8> {
        let w16 = |v: u16| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        let w32 = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        let mut out: Vec<u8> = if be {
            b"MM\0\x2a".to_vec()
        } else {
            b"II\x2a\0".to_vec()
        };
        out.extend(w32(8));
        out.extend(w16(entries.len() as u16));
        let mut data_off = 8 + 2 + entries.len() * 12 + 4;
        let mut data: Vec<u8> = Vec::new();
        for (tag, typ, bytes) in entries {
            out.extend(w16(*tag));
            out.extend(w16(*typ));
            let unit = if *typ == 3 { 2 } else { 1 };
            out.extend(w32((bytes.len() / unit) as u32));
            if bytes.len() <= 4 {
                let mut v = bytes.clone();
                v.resize(4, 0);
                out.extend(v);
            } else {
                out.extend(w32(data_off as u32));
                data.extend(bytes);
                data_off += bytes.len();
            }
        }
        out.extend(w32(0));
        out.extend(data);
        out
    }

    #[test]
    fn user_comment_charsets() {
        let mut be = b"UNICODE\0".to_vec();
        be.extend("Steps: 1 テ".encode_utf16().flat_map(u16::to_be_bytes));
        let mut le = b"UNICODE\0".to_vec();
        le.extend("Steps: 1 テ".encode_utf16().flat_map(u16::to_le_bytes));
        // The hint is deliberately wrong: detection must not depend on it.
        assert_eq!(user_comment(&be, false), "Steps: 1 テ");
        assert_eq!(user_comment(&le, true), "Steps: 1 テ");
        assert_eq!(user_comment(b"ASCII\0\0\0hello\0", true), "hello");
        assert_eq!(user_comment(b"{\"a\":1}", true), "{\"a\":1}");
        assert_eq!(user_comment(b"UNI", true), "UNI");
    }

    #[test]
    fn reads_tags_and_orientation() {
        for be in [true, false] {
            let o = if be {
                6u16.to_be_bytes()
            } else {
                6u16.to_le_bytes()
            };
            let block = tiff(
                be,
                &[
                    (0x0112, 3, o.to_vec()),
                    (0x010F, 2, b"prompt:{}\0".to_vec()),
                ],
            );
            assert_eq!(orientation(&block), Some(6));
            let limits = crate::metadata::Limits::default();
            let mut col = Collector::new(&limits);
            parse(&block, &mut col);
            assert_eq!(col.raw.len(), 1);
            assert_eq!(col.raw[0].key, "exif:Make");
            assert_eq!(col.raw[0].value, "prompt:{}");
            // Every truncation must be handled.
            for n in 0..block.len() {
                let mut col = Collector::new(&limits);
                parse(&block[..n], &mut col);
                let _ = orientation(&block[..n]);
            }
        }
    }
}
