//! CLIP's byte-level BPE tokenizer: open_clip `SimpleTokenizer` (= OpenAI
//! `simple_tokenizer.py`, `clean='lower'`), see `../shared/docs/metrics-reference.md` §2.2.
//!
//! The vocabulary (`bpe_simple_vocab_16e6.txt.gz`, MIT, from the `open_clip_torch` 3.3.0 wheel)
//! is vendored under `models/clip/` and compiled into the binary.
//!
//! Cleaning. The reference runs `ftfy.fix_text`, then `html.unescape` twice, then collapses
//! whitespace and lower-cases. We do not link ftfy; we apply the parts of its default fixes
//! that are deterministic character rules: terminal escapes removed, Latin ligatures split,
//! full-width ASCII and the ideographic space made half-width, curly quotes straightened,
//! control characters removed, HTML entities unescaped when the text has no `<` (ftfy's
//! `unescape_html="auto"`), NFC. Not reproduced: ftfy's mojibake repair (`fix_encoding`, a
//! heuristic) and its C1-control and surrogate fixes, so text that is itself mis-decoded
//! UTF-8 tokenises differently. `html.unescape` is reproduced for numeric references (with
//! HTML5's replacement rules) and for the common named entities listed in `NAMED`; the
//! other ~2000 HTML5 names are left as text.

use std::collections::HashMap;
use std::io::Read;
use std::sync::OnceLock;

use regex::Regex;
use unicode_normalization::UnicodeNormalization;

use super::ClipError;

/// `<start_of_text>`.
pub const SOT: i64 = 49406;
/// `<end_of_text>`.
pub const EOT: i64 = 49407;
/// CLIP's context length.
pub const CONTEXT: usize = 77;

const VOCAB_GZ: &[u8] = include_bytes!("../../../models/clip/bpe_simple_vocab_16e6.txt.gz");

/// The tokenizer: byte map, merges and vocabulary.
pub struct Tokenizer {
    byte_encoder: [char; 256],
    encoder: HashMap<String, i64>,
    ranks: HashMap<(String, String), usize>,
    pattern: Regex,
    cache: std::sync::Mutex<HashMap<String, Vec<i64>>>,
}

/// A tokenised text.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Tokens {
    /// `CONTEXT` ids, zero-padded.
    pub ids: Vec<i64>,
    /// Whether the text was longer than the context and was cut (end token kept).
    pub truncated: bool,
}

/// GPT-2's byte → unicode map, in Python's dict order (printable bytes first).
fn bytes_to_unicode() -> Vec<(u8, char)> {
    let mut bs: Vec<u32> = (u32::from('!')..=u32::from('~'))
        .chain(u32::from('¡')..=u32::from('¬'))
        .chain(u32::from('®')..=u32::from('ÿ'))
        .collect();
    let mut cs = bs.clone();
    let mut n = 0;
    for b in 0..256u32 {
        if !bs.contains(&b) {
            bs.push(b);
            cs.push(256 + n);
            n += 1;
        }
    }
    bs.iter()
        .zip(&cs)
        .map(|(&b, &c)| (b as u8, char::from_u32(c).unwrap_or('?')))
        .collect()
}

impl Tokenizer {
    /// The tokenizer with the vendored vocabulary (built once per process).
    pub fn shared() -> Result<&'static Tokenizer, ClipError> {
        static T: OnceLock<Result<Tokenizer, String>> = OnceLock::new();
        T.get_or_init(|| Tokenizer::from_gz(VOCAB_GZ).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| ClipError::Tokenizer(e.clone()))
    }

    /// Builds a tokenizer from a gzipped merges file (`bpe_simple_vocab_16e6.txt.gz`).
    pub fn from_gz(gz: &[u8]) -> Result<Self, ClipError> {
        let mut text = String::new();
        flate2::read::GzDecoder::new(gz)
            .read_to_string(&mut text)
            .map_err(|e| ClipError::Tokenizer(format!("vocabulary: {e}")))?;
        let lines: Vec<&str> = text.split('\n').collect();
        let merges: Vec<(String, String)> = lines
            .get(1..49152 - 256 - 2 + 1)
            .ok_or_else(|| ClipError::Tokenizer("vocabulary file is too short".into()))?
            .iter()
            .map(|l| {
                let mut it = l.split_whitespace();
                match (it.next(), it.next()) {
                    (Some(a), Some(b)) => Ok((a.to_string(), b.to_string())),
                    _ => Err(ClipError::Tokenizer(format!("bad merge line {l:?}"))),
                }
            })
            .collect::<Result<_, _>>()?;
        let bu = bytes_to_unicode();
        let mut byte_encoder = ['\0'; 256];
        for &(b, c) in &bu {
            byte_encoder[usize::from(b)] = c;
        }
        let mut vocab: Vec<String> = bu.iter().map(|&(_, c)| c.to_string()).collect();
        vocab.extend(bu.iter().map(|&(_, c)| format!("{c}</w>")));
        vocab.extend(merges.iter().map(|(a, b)| format!("{a}{b}")));
        vocab.push("<start_of_text>".into());
        vocab.push("<end_of_text>".into());
        let encoder: HashMap<String, i64> = vocab
            .into_iter()
            .enumerate()
            .map(|(i, v)| (v, i as i64))
            .collect();
        let ranks = merges
            .into_iter()
            .enumerate()
            .map(|(i, m)| (m, i))
            .collect();
        let pattern = Regex::new(
            r"(?i)<start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+",
        )
        .map_err(|e| ClipError::Tokenizer(e.to_string()))?;
        Ok(Self {
            byte_encoder,
            encoder,
            ranks,
            pattern,
            cache: std::sync::Mutex::new(HashMap::new()),
        })
    }

    fn bpe(&self, token: &str) -> Vec<String> {
        let chars: Vec<char> = token.chars().collect();
        let Some((last, init)) = chars.split_last() else {
            return Vec::new();
        };
        let mut word: Vec<String> = init.iter().map(|c| c.to_string()).collect();
        word.push(format!("{last}</w>"));
        loop {
            if word.len() < 2 {
                break;
            }
            let best = word
                .windows(2)
                .filter_map(|w| {
                    self.ranks
                        .get(&(w[0].clone(), w[1].clone()))
                        .map(|&r| (r, w[0].clone(), w[1].clone()))
                })
                .min();
            let Some((_, first, second)) = best else {
                break;
            };
            let mut merged = Vec::with_capacity(word.len());
            let mut i = 0;
            while i < word.len() {
                if i + 1 < word.len() && word[i] == first && word[i + 1] == second {
                    merged.push(format!("{first}{second}"));
                    i += 2;
                } else {
                    merged.push(word[i].clone());
                    i += 1;
                }
            }
            word = merged;
        }
        word
    }

    /// BPE ids of a text (cleaned as the reference does), without start/end tokens.
    pub fn encode(&self, text: &str) -> Vec<i64> {
        let text = clean(text);
        let mut out = Vec::new();
        for m in self.pattern.find_iter(&text) {
            let tok = m.as_str();
            match tok {
                "<start_of_text>" => out.push(SOT),
                "<end_of_text>" => out.push(EOT),
                _ => {
                    if let Ok(cache) = self.cache.lock()
                        && let Some(ids) = cache.get(tok)
                    {
                        out.extend_from_slice(ids);
                        continue;
                    }
                    let mapped: String = tok
                        .bytes()
                        .map(|b| self.byte_encoder[usize::from(b)])
                        .collect();
                    let ids: Vec<i64> = self
                        .bpe(&mapped)
                        .iter()
                        .filter_map(|p| self.encoder.get(p).copied())
                        .collect();
                    if let Ok(mut cache) = self.cache.lock() {
                        if cache.len() > 100_000 {
                            cache.clear();
                        }
                        cache.insert(tok.to_string(), ids.clone());
                    }
                    out.extend(ids);
                }
            }
        }
        out
    }

    /// `[SOT] + ids + [EOT]`, zero-padded to `context`; longer sequences keep the first
    /// `context` ids with the last one overwritten by EOT.
    pub fn tokenize(&self, text: &str, context: usize) -> Tokens {
        let mut ids = Vec::with_capacity(context);
        ids.push(SOT);
        ids.extend(self.encode(text));
        ids.push(EOT);
        let truncated = ids.len() > context;
        if truncated {
            ids.truncate(context);
            if let Some(last) = ids.last_mut() {
                *last = EOT;
            }
        }
        ids.resize(context, 0);
        Tokens { ids, truncated }
    }
}

/// Named entities unescaped (with `;`; the first seven also without it, as HTML5 allows).
const NAMED: &[(&str, &str)] = &[
    ("amp", "&"),
    ("lt", "<"),
    ("gt", ">"),
    ("quot", "\""),
    ("nbsp", "\u{a0}"),
    ("copy", "©"),
    ("reg", "®"),
    ("apos", "'"),
    ("trade", "™"),
    ("hellip", "…"),
    ("mdash", "—"),
    ("ndash", "–"),
    ("lsquo", "‘"),
    ("rsquo", "’"),
    ("sbquo", "‚"),
    ("ldquo", "“"),
    ("rdquo", "”"),
    ("bdquo", "„"),
    ("laquo", "«"),
    ("raquo", "»"),
    ("middot", "·"),
    ("bull", "•"),
    ("deg", "°"),
    ("times", "×"),
    ("divide", "÷"),
    ("euro", "€"),
    ("pound", "£"),
    ("yen", "¥"),
    ("cent", "¢"),
    ("sect", "§"),
    ("para", "¶"),
    ("plusmn", "±"),
    ("frac12", "½"),
    ("frac14", "¼"),
    ("frac34", "¾"),
    ("micro", "µ"),
    ("iexcl", "¡"),
    ("iquest", "¿"),
    ("shy", "\u{ad}"),
    ("hearts", "♥"),
    ("star", "☆"),
    ("larr", "←"),
    ("rarr", "→"),
    ("uarr", "↑"),
    ("darr", "↓"),
    ("eacute", "é"),
    ("egrave", "è"),
    ("aacute", "á"),
    ("agrave", "à"),
    ("uuml", "ü"),
    ("ouml", "ö"),
    ("auml", "ä"),
    ("szlig", "ß"),
    ("ccedil", "ç"),
    ("ntilde", "ñ"),
];

/// Python's `html._invalid_charrefs` (cp1252 for 0x80–0x9f, 0x00 and 0x0d).
fn invalid_charref(n: u32) -> Option<char> {
    const CP1252: [u32; 32] = [
        0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039,
        0x152, 0x8d, 0x17d, 0x8f, 0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
        0x2dc, 0x2122, 0x161, 0x203a, 0x153, 0x9d, 0x17e, 0x178,
    ];
    match n {
        0x00 => Some('\u{fffd}'),
        0x0d => Some('\r'),
        0x80..=0x9f => char::from_u32(CP1252[(n - 0x80) as usize]),
        _ => None,
    }
}

/// Python's `html.unescape` for numeric references and the `NAMED` entities.
pub fn html_unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(num) = after.strip_prefix('#') {
            let (hex, digits) = match num.strip_prefix(['x', 'X']) {
                Some(h) => (true, h),
                None => (false, num),
            };
            let len = digits
                .chars()
                .take_while(|c| {
                    if hex {
                        c.is_ascii_hexdigit()
                    } else {
                        c.is_ascii_digit()
                    }
                })
                .count();
            if len > 0 {
                let n = u32::from_str_radix(&digits[..len], if hex { 16 } else { 10 })
                    .unwrap_or(u32::MAX);
                let ch = if let Some(c) = invalid_charref(n) {
                    c.to_string()
                } else if (0xd800..=0xdfff).contains(&n) || n > 0x10ffff {
                    "\u{fffd}".to_string()
                } else if (0x1..=0x8).contains(&n)
                    || (0xe..=0x1f).contains(&n)
                    || (0x7f..=0x9f).contains(&n)
                    || (0xfdd0..=0xfdef).contains(&n)
                    || n == 0xb
                    || (n & 0xfffe) == 0xfffe
                {
                    String::new() // html._invalid_codepoints
                } else {
                    char::from_u32(n).map(String::from).unwrap_or_default()
                };
                out.push_str(&ch);
                let consumed = 1 + usize::from(hex) + len;
                rest = &num[consumed - 1..];
                rest = rest.strip_prefix(';').unwrap_or(rest);
                continue;
            }
        } else {
            let name_len = after
                .find(['\t', '\n', '\x0c', ' ', '<', '&', '#', ';'])
                .unwrap_or(after.len());
            let name = &after[..name_len];
            if after[name_len..].starts_with(';')
                && let Some((_, v)) = NAMED.iter().find(|(k, _)| *k == name)
            {
                out.push_str(v);
                rest = &after[name_len + 1..];
                continue;
            }
            // Legacy entities without a semicolon: longest prefix.
            if let Some((k, v)) = NAMED[..7]
                .iter()
                .filter(|(k, _)| name.starts_with(k))
                .max_by_key(|(k, _)| k.len())
            {
                out.push_str(v);
                rest = &after[k.len()..];
                continue;
            }
        }
        out.push('&');
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The deterministic subset of `ftfy.fix_text`'s defaults (see the module documentation).
fn ftfy_subset(s: &str) -> String {
    static ANSI: OnceLock<Option<Regex>> = OnceLock::new();
    let s = match ANSI
        .get_or_init(|| Regex::new("\x1b\\[[0-9;]*[a-zA-Z]").ok())
        .as_ref()
    {
        Some(re) => re.replace_all(s, "").into_owned(),
        None => s.to_string(),
    };
    let s = if s.contains('<') {
        s
    } else {
        html_unescape(&s)
    };
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            'ﬀ' => out.push_str("ff"),
            'ﬁ' => out.push_str("fi"),
            'ﬂ' => out.push_str("fl"),
            'ﬃ' => out.push_str("ffi"),
            'ﬄ' => out.push_str("ffl"),
            'ﬅ' => out.push_str("ſt"),
            'ﬆ' => out.push_str("st"),
            'Ĳ' => out.push_str("IJ"),
            'ĳ' => out.push_str("ij"),
            '\u{ff01}'..='\u{ff5e}' => {
                out.push(char::from_u32(u32::from(c) - 0xff01 + 0x21).unwrap_or(c));
            }
            '\u{3000}' => out.push(' '),
            '\u{2bc}' | '\u{2018}'..='\u{201b}' => out.push('\''),
            '\u{201c}'..='\u{201f}' => out.push('"'),
            '\r' | '\u{2028}' | '\u{2029}' | '\u{85}' => out.push('\n'),
            '\u{0}'..='\u{8}'
            | '\u{b}'
            | '\u{e}'..='\u{1f}'
            | '\u{7f}'
            | '\u{206a}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffc}' => {}
            _ => out.push(c),
        }
    }
    out.nfc().collect()
}

/// Python `str.isspace()`: Unicode White_Space plus the information separators.
fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// open_clip's `clean='lower'`: ftfy (subset), `html.unescape` twice, strip, collapse
/// whitespace, lower-case.
pub fn clean(text: &str) -> String {
    let t = ftfy_subset(text);
    let t = html_unescape(&html_unescape(&t));
    t.split(py_space)
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_truncation() {
        let t = Tokenizer::shared().expect("tokenizer");
        let a = t.tokenize("a photo of a cat", CONTEXT);
        assert_eq!(&a.ids[..7], &[49406, 320, 1125, 539, 320, 2368, 49407]);
        assert!(a.ids[7..].iter().all(|&x| x == 0));
        assert!(!a.truncated);
        let long = "cat ".repeat(100);
        let b = t.tokenize(&long, CONTEXT);
        assert!(b.truncated);
        assert_eq!(b.ids.len(), CONTEXT);
        assert_eq!(b.ids[76], EOT);
        assert_eq!(t.tokenize("", CONTEXT).ids[..3], [SOT, EOT, 0]);
    }

    #[test]
    fn cleaning() {
        assert_eq!(clean("  A\u{3000}B\t\nC  "), "a b c");
        assert_eq!(clean("&amp;lt;b&amp;gt;"), "<b>");
        assert_eq!(clean("&#x41;&#66;&#150;"), "ab–");
        assert_eq!(clean("“Quote”"), "\"quote\"");
        assert_eq!(clean("ﬁne ＡＢ"), "fine ab");
        assert_eq!(
            html_unescape("AT&T &ampx &unknown; &#;"),
            "AT&T &x &unknown; &#;"
        );
    }
}
