//! Small shared helpers: bounded byte readers, text decoding (Latin-1, UTF-8,
//! UTF-16 with endianness detection), capped zlib/gzip inflation, raw-entry
//! truncation and lenient JSON field accessors.

use std::io::Read;

use serde_json::Value;

/// Reads a big-endian `u16` at `pos`, or `None` when out of bounds.
pub(crate) fn be_u16(b: &[u8], pos: usize) -> Option<u16> {
    let s = b.get(pos..pos.checked_add(2)?)?;
    Some(u16::from_be_bytes(s.try_into().ok()?))
}

/// Reads a big-endian `u32` at `pos`, or `None` when out of bounds.
pub(crate) fn be_u32(b: &[u8], pos: usize) -> Option<u32> {
    let s = b.get(pos..pos.checked_add(4)?)?;
    Some(u32::from_be_bytes(s.try_into().ok()?))
}

/// Reads a little-endian `u32` at `pos`, or `None` when out of bounds.
pub(crate) fn le_u32(b: &[u8], pos: usize) -> Option<u32> {
    let s = b.get(pos..pos.checked_add(4)?)?;
    Some(u32::from_le_bytes(s.try_into().ok()?))
}

/// `b[start..start+len]`, clamped to the available bytes. The flag says whether
/// the slice was cut short.
pub(crate) fn clamped(b: &[u8], start: usize, len: usize) -> (&[u8], bool) {
    let start = start.min(b.len());
    let end = start.saturating_add(len).min(b.len());
    let slice = b.get(start..end).unwrap_or_default();
    (slice, slice.len() < len)
}

/// Decodes ISO-8859-1 bytes.
pub(crate) fn latin1(b: &[u8]) -> String {
    b.iter().map(|&c| char::from(c)).collect()
}

/// Decodes text declared as Latin-1 (PNG tEXt/zTXt, JPEG COM). Many generators
/// write UTF-8 there anyway; bytes that form valid UTF-8 with non-ASCII
/// characters are therefore read as UTF-8 (mis-reading real Latin-1 as UTF-8
/// is practically impossible for natural text).
pub(crate) fn latin1_or_utf8(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_owned(),
        Err(_) => latin1(b),
    }
}

/// Decodes UTF-8, lossily. Returns whether replacement happened.
pub(crate) fn utf8_lossy(b: &[u8]) -> (String, bool) {
    match std::str::from_utf8(b) {
        Ok(s) => (s.to_owned(), false),
        Err(_) => (String::from_utf8_lossy(b).into_owned(), true),
    }
}

/// Decodes UTF-16 of unknown endianness. A BOM decides; otherwise the byte
/// positions that hold zeros do (ASCII-heavy text has zero high bytes), and
/// `big_endian_hint` breaks ties.
pub(crate) fn utf16_detect(b: &[u8], big_endian_hint: bool) -> String {
    let (body, be) = match b {
        [0xFE, 0xFF, rest @ ..] => (rest, true),
        [0xFF, 0xFE, rest @ ..] => (rest, false),
        _ => {
            let sample = b.get(..b.len().min(4096)).unwrap_or_default();
            let even = sample.iter().step_by(2).filter(|&&c| c == 0).count();
            let odd = sample
                .iter()
                .skip(1)
                .step_by(2)
                .filter(|&&c| c == 0)
                .count();
            let be = match even.cmp(&odd) {
                std::cmp::Ordering::Greater => true,
                std::cmp::Ordering::Less => false,
                std::cmp::Ordering::Equal => big_endian_hint,
            };
            (b, be)
        }
    };
    let units = body.chunks_exact(2).map(|p| {
        let pair = [
            p.first().copied().unwrap_or(0),
            p.get(1).copied().unwrap_or(0),
        ];
        if be {
            u16::from_be_bytes(pair)
        } else {
            u16::from_le_bytes(pair)
        }
    });
    char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// Removes trailing NUL characters (C strings in EXIF and friends).
pub(crate) fn trim_nuls(s: &str) -> &str {
    s.trim_end_matches('\0')
}

/// Result of a capped decompression.
pub(crate) struct Inflated {
    pub data: Vec<u8>,
    /// Output was cut at the cap.
    pub capped: bool,
    /// The stream was corrupt or ended early (data holds what was decoded).
    pub error: bool,
}

fn read_capped(mut r: impl Read, cap: usize) -> Inflated {
    let mut data = Vec::new();
    let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
    let error = r.by_ref().take(limit).read_to_end(&mut data).is_err();
    let capped = data.len() > cap;
    data.truncate(cap);
    Inflated {
        data,
        capped,
        error,
    }
}

/// Inflates a zlib stream, producing at most `cap` bytes.
pub(crate) fn inflate_zlib(b: &[u8], cap: usize) -> Inflated {
    read_capped(flate2::read::ZlibDecoder::new(b), cap)
}

/// Inflates a gzip stream, producing at most `cap` bytes.
pub(crate) fn inflate_gzip(b: &[u8], cap: usize) -> Inflated {
    read_capped(flate2::read::GzDecoder::new(b), cap)
}

/// Cuts `s` to at most `max` bytes on a char boundary.
pub(crate) fn truncate_str(s: &str, max: usize) -> (&str, bool) {
    if s.len() <= max {
        return (s, false);
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    (s.get(..end).unwrap_or_default(), true)
}

/// Integer from a JSON number, or a string holding one.
pub(crate) fn json_u64(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| *f >= 0.0 && f.fract() == 0.0)
                .map(|f| f as u64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `u32` from a JSON number or numeric string.
pub(crate) fn json_u32(v: Option<&Value>) -> Option<u32> {
    json_u64(v).and_then(|n| u32::try_from(n).ok())
}

/// Float from a JSON number or numeric string.
pub(crate) fn json_f64(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Non-empty string from a JSON string (numbers are rendered).
pub(crate) fn json_str(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Parses `s` as JSON when it looks like an object; `Err` carries the parser
/// message, `Ok(None)` means it does not look like JSON at all.
pub(crate) fn parse_json_object(s: &str) -> Result<Option<Value>, String> {
    let t = s.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    if !t.starts_with('{') {
        return Ok(None);
    }
    match serde_json::from_str::<Value>(t) {
        Ok(v) if v.is_object() => Ok(Some(v)),
        Ok(_) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// Whether `s` can be a prompt: it holds at least one letter or digit (any
/// script). A lone comma or a run of punctuation and whitespace is not one.
pub(crate) fn is_meaningful(s: &str) -> bool {
    s.chars().any(char::is_alphanumeric)
}

/// `s` cut to `max` bytes (on a char boundary) with an ellipsis when cut.
pub(crate) fn clip(s: &str, max: usize) -> String {
    match truncate_str(s, max) {
        (kept, true) => format!("{kept}…"),
        (kept, false) => kept.to_owned(),
    }
}

/// Parses `"WxH"` (also `W x H`, `W,H`, `(W, H)`, and a trailing label as in
/// rgthree's `"1024 x 1024 (square)"`).
pub(crate) fn parse_size(s: &str) -> Option<(u32, u32)> {
    let t = s.trim().trim_start_matches(['(', '[']);
    let (w, h) = t.split_once(['x', 'X', ',', '×'])?;
    let h = h.trim_start();
    let digits = h.find(|c: char| !c.is_ascii_digit()).unwrap_or(h.len());
    let rest = h.get(digits..).unwrap_or_default().trim();
    let tail_ok = rest.is_empty()
        || rest.starts_with([')', ']'])
        || (rest.starts_with('(') && rest.ends_with(')'));
    if !tail_ok {
        return None;
    }
    Some((w.trim().parse().ok()?, h.get(..digits)?.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_endianness() {
        let le: Vec<u8> = "héllo テスト"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let be: Vec<u8> = "héllo テスト"
            .encode_utf16()
            .flat_map(u16::to_be_bytes)
            .collect();
        assert_eq!(utf16_detect(&le, true), "héllo テスト");
        assert_eq!(utf16_detect(&be, false), "héllo テスト");
        assert_eq!(utf16_detect(&[0xFF, 0xFE, b'a', 0], true), "a");
        assert_eq!(utf16_detect(&[1], true), "");
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate_str("aテ", 2), ("a", true));
        assert_eq!(truncate_str("ab", 2), ("ab", false));
    }

    #[test]
    fn sizes_and_numbers() {
        assert_eq!(parse_size("1024x768"), Some((1024, 768)));
        assert_eq!(parse_size("(768, 1280)"), Some((768, 1280)));
        assert_eq!(parse_size("big"), None);
        assert_eq!(parse_size("1024 x 1024 (square)"), Some((1024, 1024)));
        assert_eq!(parse_size("832 x 1216"), Some((832, 1216)));
        assert_eq!(parse_size("8x8 tiles"), None);
        assert_eq!(
            json_u64(Some(&Value::from("6952411511246973023"))),
            Some(6952411511246973023)
        );
        assert_eq!(json_u64(Some(&Value::from(-1))), None);
    }

    #[test]
    fn meaningful_prompts() {
        for s in [",", " , ", "", "\n\t", "(,:)", "..."] {
            assert!(!is_meaningful(s), "{s:?}");
        }
        for s in ["a", "1girl", "テスト", "(cat:1.2)"] {
            assert!(is_meaningful(s), "{s:?}");
        }
        assert_eq!(clip("abcdef", 3), "abc…");
        assert_eq!(clip("ab", 3), "ab");
    }

    #[test]
    fn inflate_cap() {
        use std::io::Write;
        let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        let _ = enc.write_all(&vec![b'a'; 100_000]);
        let z = enc.finish().unwrap_or_default();
        let out = inflate_zlib(&z, 1000);
        assert!(out.capped);
        assert_eq!(out.data.len(), 1000);
        let bad = inflate_zlib(b"\x78\x9cgarbage", 1000);
        assert!(bad.error);
    }
}
