//! Text-to-image generation metadata: walks image containers (PNG, JPEG, WebP,
//! GIF) for every text carrier (PNG text chunks, EXIF, XMP, comments, C2PA
//! markers, A1111 "stealth" alpha bits) and interprets the known generator
//! formats (A1111/Forge, ComfyUI, InvokeAI, NovelAI, SwarmUI, Fooocus, XMP).
//!
//! Nothing here returns an error or panics on untrusted bytes: whatever cannot
//! be understood is kept in [`GenerationMetadata::raw`] with a warning.

mod a1111;
mod comfy;
mod comfy_ui;
mod comfy_walk;
mod exif;
mod gif;
mod invoke;
mod jpeg;
mod json_tools;
mod novelai;
mod png;
mod stealth;
mod util;
mod webp;
mod xmp;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_crafted;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a generator recorded about how an image was made.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GenerationMetadata {
    /// "a1111", "forge", "comfyui", "invokeai", "invokeai-legacy", "novelai",
    /// "swarmui", "fooocus", "c2pa", "xmp"; `None` when nothing was recognised.
    pub tool: Option<String>,
    pub positive: Option<String>,
    pub negative: Option<String>,
    pub seed: Option<u64>,
    pub steps: Option<u32>,
    pub sampler: Option<String>,
    pub cfg: Option<f64>,
    pub model: Option<String>,
    /// Generation width, height when stated.
    pub size: Option<(u32, u32)>,
    /// Every text carrier found, in file order (each capped at
    /// [`Limits::max_raw_bytes`]).
    pub raw: Vec<RawEntry>,
    /// Anything that could not be parsed (kept raw), never an error.
    pub warnings: Vec<String>,
}

/// One text carrier as found in the file, e.g. key `png:tEXt:parameters`,
/// `exif:UserComment`, `xmp`, `jpeg:COM`, `png:caBX`, `stealth:alpha`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawEntry {
    pub key: String,
    pub value: String,
    /// The value was cut to the limit (or the carrier itself was cut short).
    pub truncated: bool,
}

/// Resource bounds for parsing untrusted files.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes kept per raw entry (default 256 KiB).
    pub max_raw_bytes: usize,
    /// Output cap for zTXt/iTXt/gzip decompression (default 8 MiB).
    pub max_inflate_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_raw_bytes: 256 * 1024,
            max_inflate_bytes: 8 * 1024 * 1024,
        }
    }
}

/// Cheap container facts read without decoding pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContainerInfo {
    /// Animation frames (1 for still images).
    pub frames: u32,
    /// EXIF orientation 1..=8 when present.
    pub exif_orientation: Option<u8>,
}

/// At most this many raw entries/carriers are kept per file.
const MAX_CARRIERS: usize = 512;

/// Where a carrier came from; decides which interpreters look at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    PngText,
    Exif,
    Xmp,
    Comment,
    Stealth,
}

/// A decoded text carrier (full text, not capped like the raw entry).
#[derive(Debug, Clone)]
pub(crate) struct Carrier {
    /// Raw entry key, e.g. `png:tEXt:prompt`.
    pub key: String,
    /// Keyword or tag name, e.g. `prompt`, `UserComment`.
    pub name: String,
    pub origin: Origin,
    pub text: String,
    /// The text parsed as a JSON object (after an optional `label:` prefix).
    pub json: Option<Value>,
    /// `prompt` for a text of the form `prompt:{...}` (ComfyUI EXIF tags).
    pub json_label: Option<String>,
    /// JSON parse error message when the text looked like JSON but was not.
    pub json_error: Option<String>,
}

/// Accumulates carriers, raw entries and warnings while walking a container.
pub(crate) struct Collector<'a> {
    pub limits: &'a Limits,
    pub carriers: Vec<Carrier>,
    pub raw: Vec<RawEntry>,
    pub warnings: Vec<String>,
    pub c2pa: bool,
    overflow_warned: bool,
}

impl<'a> Collector<'a> {
    pub(crate) fn new(limits: &'a Limits) -> Self {
        Self {
            limits,
            carriers: Vec::new(),
            raw: Vec::new(),
            warnings: Vec::new(),
            c2pa: false,
            overflow_warned: false,
        }
    }

    fn room(&mut self) -> bool {
        if self.raw.len() < MAX_CARRIERS {
            return true;
        }
        if !self.overflow_warned {
            self.overflow_warned = true;
            self.warn(format!(
                "more than {MAX_CARRIERS} text carriers; the rest were ignored"
            ));
        }
        false
    }

    /// Records a text carrier: a raw entry (capped) plus the full text for parsing.
    pub(crate) fn text(
        &mut self,
        key: String,
        name: &str,
        origin: Origin,
        text: String,
        cut: bool,
    ) {
        if !self.room() {
            return;
        }
        self.push_raw(key.clone(), &text, cut);
        let (json, json_label, json_error) = json_tools::classify(&text);
        self.carriers.push(Carrier {
            key,
            name: name.to_owned(),
            origin,
            text,
            json,
            json_label,
            json_error,
        });
    }

    /// Records a raw entry that is not parsed further (e.g. a C2PA note).
    pub(crate) fn note(&mut self, key: &str, value: String) {
        if self.room() {
            self.push_raw(key.to_owned(), &value, false);
        }
    }

    fn push_raw(&mut self, key: String, value: &str, cut: bool) {
        let (kept, truncated) = util::truncate_str(value, self.limits.max_raw_bytes);
        self.raw.push(RawEntry {
            key,
            value: kept.to_owned(),
            truncated: truncated || cut,
        });
    }

    pub(crate) fn warn(&mut self, msg: String) {
        if self.warnings.len() < MAX_CARRIERS {
            self.warnings.push(msg);
        }
    }
}

/// Container formats recognised by their magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Png,
    Jpeg,
    Webp,
    Gif,
    Unknown,
}

fn sniff(b: &[u8]) -> Format {
    if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        Format::Png
    } else if b.starts_with(&[0xFF, 0xD8]) {
        Format::Jpeg
    } else if b.starts_with(b"RIFF") && b.get(8..12) == Some(b"WEBP".as_slice()) {
        Format::Webp
    } else if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        Format::Gif
    } else {
        Format::Unknown
    }
}

/// Parses all carriers in the container bytes. `rgba` is the decoded first
/// frame (width, height, RGBA8 row-major) when the caller has it; it is only
/// used for A1111 "stealth" info, tried when no text carrier gave a prompt.
/// Never panics on any input.
pub fn read_metadata(
    bytes: &[u8],
    rgba: Option<(u32, u32, &[u8])>,
    limits: &Limits,
) -> GenerationMetadata {
    let mut col = Collector::new(limits);
    match sniff(bytes) {
        Format::Png => png::walk(bytes, &mut col),
        Format::Jpeg => jpeg::walk(bytes, &mut col),
        Format::Webp => webp::walk(bytes, &mut col),
        Format::Gif => {
            gif::walk(bytes, Some(&mut col));
        }
        Format::Unknown => {}
    }
    let mut warnings = Vec::new();
    let mut meta = interpret(&col.carriers, col.c2pa, &mut warnings);
    if meta.positive.is_none()
        && let Some((w, h, px)) = rgba
    {
        match stealth::read(w, h, px, limits) {
            Ok(Some(found)) => {
                let key = found.key;
                col.text(key.to_owned(), key, Origin::Stealth, found.text, found.cut);
                let extra = col
                    .carriers
                    .last()
                    .filter(|c| c.key == key)
                    .map(stealth::carriers)
                    .unwrap_or_default();
                let from_stealth = interpret(&extra, false, &mut warnings);
                if from_stealth.positive.is_some() || meta.tool.is_none() {
                    meta = from_stealth;
                }
            }
            Ok(None) => {}
            Err(w) => warnings.push(w),
        }
    }
    for c in &col.carriers {
        if let Some(e) = &c.json_error
            && !a1111::has_settings_line(&c.text)
        {
            warnings.push(format!("{}: invalid JSON ({e}); kept raw", c.key));
        }
    }
    meta.raw = col.raw;
    meta.warnings = col.warnings;
    meta.warnings.extend(warnings);
    meta
}

/// Runs every interpreter and keeps the best result: the first (by priority)
/// that found a positive prompt, else the first that recognised a tool.
fn interpret(carriers: &[Carrier], c2pa: bool, warnings: &mut Vec<String>) -> GenerationMetadata {
    let mut found: Vec<GenerationMetadata> = Vec::new();
    found.extend(novelai::parse(carriers, warnings));
    found.extend(invoke::parse_current(carriers));
    found.extend(comfy::parse(carriers, warnings));
    found.extend(json_tools::parse_swarm(carriers));
    found.extend(json_tools::parse_fooocus(carriers));
    found.extend(a1111::parse(carriers));
    found.extend(invoke::parse_legacy(carriers));
    found.extend(xmp::parse(carriers));
    if c2pa {
        found.push(GenerationMetadata {
            tool: Some("c2pa".into()),
            ..GenerationMetadata::default()
        });
    }
    let best = found
        .iter()
        .position(|m| m.positive.is_some())
        .or_else(|| found.iter().position(|m| m.tool.is_some()));
    match best {
        Some(i) => found.swap_remove(i),
        None => GenerationMetadata::default(),
    }
}

/// Cheap container facts without decoding pixels: animation frame count and
/// EXIF orientation. Never panics.
pub fn container_info(bytes: &[u8]) -> ContainerInfo {
    let (frames, exif) = match sniff(bytes) {
        Format::Png => (png::frames(bytes), png::exif_block(bytes)),
        Format::Jpeg => (1, jpeg::exif_block(bytes)),
        Format::Webp => (webp::frames(bytes), webp::exif_block(bytes)),
        Format::Gif => (gif::walk(bytes, None), None),
        Format::Unknown => (1, None),
    };
    ContainerInfo {
        frames: frames.max(1),
        exif_orientation: exif.and_then(exif::orientation),
    }
}
