//! A1111 "stealth pnginfo": parameters hidden in pixel least-significant bits,
//! read column-major (x outer, y inner), bits MSB-first. Alpha mode
//! (`stealth_pnginfo`/`stealth_pngcomp`, one bit per pixel) and RGB mode
//! (`stealth_rgbinfo`/`stealth_rgbcomp`, three bits per pixel); then a 32-bit
//! big-endian payload length in bits and the payload (gzip for `*comp`).

use serde_json::Value;

use super::util::{be_u32, inflate_gzip, utf8_lossy};
use super::{Carrier, Limits, Origin};

const SIG_LEN: usize = 15;

/// A decoded stealth payload.
pub(crate) struct Found {
    /// `stealth:alpha` or `stealth:rgb`.
    pub key: &'static str,
    pub text: String,
    /// The payload was cut (length past the image, or inflate cap).
    pub cut: bool,
}

/// Bit source over the pixels in column-major order.
struct Bits<'a> {
    px: &'a [u8],
    w: usize,
    h: usize,
    /// Channels used per pixel: `[3]` (alpha) or `[0, 1, 2]` (RGB).
    channels: &'static [usize],
}

impl Bits<'_> {
    fn total(&self) -> usize {
        self.w
            .saturating_mul(self.h)
            .saturating_mul(self.channels.len())
    }

    fn bit(&self, i: usize) -> u8 {
        let per = self.channels.len().max(1);
        let (p, ch) = (i / per, self.channels.get(i % per).copied().unwrap_or(3));
        let (x, y) = (p / self.h.max(1), p % self.h.max(1));
        let idx = y
            .saturating_mul(self.w)
            .saturating_add(x)
            .saturating_mul(4)
            .saturating_add(ch);
        self.px.get(idx).map_or(0, |v| v & 1)
    }

    /// `n` bytes starting at bit `start`.
    fn bytes(&self, start: usize, n: usize) -> Vec<u8> {
        (0..n)
            .map(|k| (0..8).fold(0u8, |acc, b| (acc << 1) | self.bit(start + k * 8 + b)))
            .collect()
    }
}

/// Looks for stealth info in an RGBA8 frame. `Err` is a warning.
pub(crate) fn read(w: u32, h: u32, px: &[u8], limits: &Limits) -> Result<Option<Found>, String> {
    let (Ok(w), Ok(h)) = (usize::try_from(w), usize::try_from(h)) else {
        return Ok(None);
    };
    let needed = w.checked_mul(h).and_then(|n| n.checked_mul(4));
    if needed.is_none_or(|n| n > px.len()) {
        return Err(format!(
            "stealth: RGBA buffer too small for {w}x{h}; not checked"
        ));
    }
    for (channels, key) in [
        (&[3usize][..], "stealth:alpha"),
        (&[0usize, 1, 2][..], "stealth:rgb"),
    ] {
        let bits = Bits { px, w, h, channels };
        let header_bits = (SIG_LEN + 4) * 8;
        if bits.total() < header_bits {
            continue;
        }
        let sig = bits.bytes(0, SIG_LEN);
        let compressed = match (key, sig.as_slice()) {
            ("stealth:alpha", b"stealth_pnginfo") | ("stealth:rgb", b"stealth_rgbinfo") => false,
            ("stealth:alpha", b"stealth_pngcomp") | ("stealth:rgb", b"stealth_rgbcomp") => true,
            _ => continue,
        };
        let len_bytes = bits.bytes(SIG_LEN * 8, 4);
        let len_bits = usize::try_from(be_u32(&len_bytes, 0).unwrap_or(0)).unwrap_or(usize::MAX);
        let available = bits.total().saturating_sub(header_bits);
        let cap_bits = limits.max_inflate_bytes.saturating_mul(8);
        let take = len_bits.min(available).min(cap_bits) / 8;
        let mut cut = take * 8 < len_bits;
        let payload = bits.bytes(header_bits, take);
        let data = if compressed {
            let out = inflate_gzip(&payload, limits.max_inflate_bytes);
            cut |= out.capped || out.error;
            out.data
        } else {
            payload
        };
        let (text, _) = utf8_lossy(&data);
        return Ok(Some(Found { key, text, cut }));
    }
    Ok(None)
}

/// Carriers to interpret from a stealth payload: A1111 text becomes a
/// `parameters` carrier; a JSON object of strings (NovelAI) becomes one
/// carrier per key.
pub(crate) fn carriers(found: &Carrier) -> Vec<Carrier> {
    let make = |name: &str, text: String| {
        let (json, json_label, json_error) = super::json_tools::classify(&text);
        Carrier {
            key: found.key.clone(),
            name: name.to_owned(),
            origin: Origin::Stealth,
            text,
            json,
            json_label,
            json_error,
        }
    };
    match &found.json {
        Some(Value::Object(map)) if map.contains_key("Comment") || map.contains_key("Software") => {
            map.iter()
                .map(|(k, v)| match v {
                    Value::String(s) => make(k, s.clone()),
                    other => make(k, other.to_string()),
                })
                .collect()
        }
        _ => vec![make("parameters", found.text.clone())],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hides `payload` in the alpha LSBs of a w x h RGBA image.
    fn embed(w: usize, h: usize, sig: &[u8], payload: &[u8]) -> Vec<u8> {
        let mut px = vec![255u8; w * h * 4];
        let mut data = sig.to_vec();
        data.extend(((payload.len() * 8) as u32).to_be_bytes());
        data.extend(payload);
        for (i, bit) in data
            .iter()
            .flat_map(|b| (0..8).rev().map(move |k| (b >> k) & 1))
            .enumerate()
        {
            let (x, y) = (i / h, i % h);
            px[(y * w + x) * 4 + 3] = 254 | bit;
        }
        px
    }

    #[test]
    fn plain_alpha_and_bounds() {
        let px = embed(
            40,
            30,
            b"stealth_pnginfo",
            b"hello\nSteps: 1, Seed: 2, Sampler: x",
        );
        let found = read(40, 30, &px, &Limits::default());
        let found = found.ok().flatten().map(|f| f.text);
        assert_eq!(
            found.as_deref(),
            Some("hello\nSteps: 1, Seed: 2, Sampler: x")
        );
        assert!(read(40, 30, &px[..10], &Limits::default()).is_err());
        assert!(matches!(read(2, 2, &[0; 16], &Limits::default()), Ok(None)));
        // A length claiming more bits than the image holds is cut, not trusted.
        let mut px = embed(20, 20, b"stealth_pnginfo", b"x");
        for i in 120..152 {
            let (x, y) = (i / 20, i % 20);
            px[(y * 20 + x) * 4 + 3] = 255;
        }
        let f = read(20, 20, &px, &Limits::default()).ok().flatten();
        assert!(f.is_some_and(|f| f.cut));
    }
}
