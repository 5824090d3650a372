//! Text-to-image generation metadata: walks image containers (PNG, JPEG, WebP,
//! GIF) for every text carrier (PNG text chunks, EXIF, XMP, comments, C2PA
//! markers, A1111 "stealth" alpha bits) and interprets the known generator
//! formats: A1111 text (AUTOMATIC1111, Forge classic/Neo, reForge, SD.Next,
//! Civitai, Fooocus' A1111 scheme, ComfyUI save nodes), ComfyUI graphs (any
//! node, `comfy_walk`), InvokeAI, NovelAI (v4 character prompts), SwarmUI,
//! Fooocus, Ruined Fooocus, Hugging Face Spaces, Easy Diffusion, Draw Things,
//! TensorArt, Stability Matrix, Civitai's ComfyUI JSON, XMP and C2PA.
//!
//! Interpreters run lazily in priority order (most specific first); the first
//! whose prompt has a letter or digit wins. A prompt of only punctuation or
//! whitespace is dropped with a warning and the next interpreter is tried.
//! JSON objects that wrap chunk-like members (`{"Comment": "...",
//! "Software": ...}` in a WebP UserComment) are unpacked into virtual
//! carriers, so each format is read the same way from PNG, JPEG and WebP.
//!
//! Nothing here returns an error or panics on untrusted bytes: whatever cannot
//! be understood is kept in [`GenerationMetadata::raw`] with a warning.
//!
//! # Scope
//!
//! generation-metadata parser for every carrier of `../shared/fixtures/generated` and
//! `../shared/metadata-samples` (PNG tEXt/zTXt/iTXt, EXIF UserComment incl. UTF-16, EXIF
//! Make/Model/ImageDescription labels, JSON bundles in a UserComment, XMP, stealth alpha, C2PA) and
//! every writer of the reference parsers' lists (A1111 family incl. Forge/reForge/SD.Next/Civitai,
//! ComfyUI graphs walked by input names through any node, UI workflows with group
//! nodes/subgraphs/bypass, InvokeAI, NovelAI v4, SwarmUI, Fooocus, Ruined Fooocus, HF Spaces, Easy
//! Diffusion, Draw Things, TensorArt, Stability Matrix); which parser read the file and the fields
//! without a column are stored; checked field by field against sd-prompt-reader / sd-parsers
//! (`scripts/gen_metadata_refs.py`); raw carriers always kept, capped

mod a1111;
mod apps;
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
#[cfg(test)]
mod tests_refs;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a generator recorded about how an image was made.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GenerationMetadata {
    /// The program that wrote the file: "a1111", "forge", "sdnext", "civitai",
    /// "comfyui", "invokeai", "invokeai-legacy", "novelai", "swarmui",
    /// "fooocus", "ruined-fooocus", "hf-space", "easydiffusion", "drawthings",
    /// "tensorart", "stability-matrix", "c2pa", "xmp"; `None` when nothing was
    /// recognised.
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
    /// The interpreter that read the fields above ([`PARSERS`]); `None` when
    /// no interpreter recognised the file.
    pub parser: Option<String>,
    /// Named values without a column of their own, in the order found: the
    /// carrier read (`read from`), further sampler passes of a ComfyUI graph
    /// (hires, refiner, detailer) with their prompts when they differ,
    /// NovelAI character prompts, A1111 settings such as `Hires prompt`.
    pub extra: Vec<(String, String)>,
    /// Every text carrier found, in file order (each capped at
    /// [`Limits::max_raw_bytes`]).
    pub raw: Vec<RawEntry>,
    /// Anything that could not be parsed (kept raw), never an error.
    pub warnings: Vec<String>,
}

/// Every interpreter name [`GenerationMetadata::parser`] can hold.
pub const PARSERS: &[&str] = &[
    "novelai",
    "invokeai",
    "swarmui",
    "tensorart",
    "stability-matrix",
    "comfyui-graph",
    "comfyui-workflow",
    "easydiffusion",
    "hf-space",
    "ruined-fooocus",
    "fooocus",
    "drawthings",
    "a1111-text",
    "invokeai-legacy",
    "xmp",
    "c2pa",
];

/// The generation fields, by their `assay table` column names.
pub const FIELDS: &[&str] = &[
    "prompt",
    "negative_prompt",
    "seed",
    "steps",
    "sampler",
    "cfg",
    "model",
    "gen_size",
];

/// At most this many extra fields are kept per file, each cut to
/// [`MAX_EXTRA_BYTES`].
const MAX_EXTRA: usize = 64;
const MAX_EXTRA_BYTES: usize = 4096;

/// The [`FIELDS`] whose flag in `have` (same order) is false.
pub fn missing_of(have: [bool; FIELDS.len()]) -> Vec<&'static str> {
    FIELDS
        .iter()
        .zip(have)
        .filter(|(_, h)| !h)
        .map(|(f, _)| *f)
        .collect()
}

impl GenerationMetadata {
    /// The [`FIELDS`] this metadata does not have.
    pub fn missing_fields(&self) -> Vec<&'static str> {
        let have = [
            self.positive.is_some(),
            self.negative.is_some(),
            self.seed.is_some(),
            self.steps.is_some(),
            self.sampler.is_some(),
            self.cfg.is_some(),
            self.model.is_some(),
            self.size.is_some(),
        ];
        missing_of(have)
    }

    /// Adds an extra field (bounded in count and length; empty values skipped).
    pub(crate) fn add_extra(&mut self, key: impl Into<String>, value: &str) {
        if self.extra.len() < MAX_EXTRA && !value.trim().is_empty() {
            self.extra
                .push((key.into(), util::clip(value, MAX_EXTRA_BYTES)));
        }
    }

    /// Records which carrier the interpreter read (first extra field).
    pub(crate) fn read_from(mut self, key: &str) -> Self {
        self.extra.insert(0, ("read from".into(), key.to_owned()));
        self
    }
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
    /// A string member of a JSON object carrier (see [`unpack`]).
    Member,
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
    let mut carriers = std::mem::take(&mut col.carriers);
    unpack(&mut carriers);
    let mut meta = interpret(&carriers, col.c2pa, &mut warnings);
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
    for c in carriers.iter().chain(&col.carriers) {
        if let Some(e) = &c.json_error
            && c.origin != Origin::Member
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

/// Member names that mark a JSON object as a bundle of chunk-like texts (a
/// PNG's text chunks written into one JPEG/WebP UserComment or comment).
const BUNDLE_MARKERS: &[&str] = &[
    "Comment",
    "Software",
    "parameters",
    "parameters-json",
    "generation_data",
    "smproj",
    "invokeai_metadata",
    "extraMetadata",
    "sd-metadata",
    "Dream",
    "fooocus_scheme",
];
/// Members unpacked from such a bundle (besides the markers).
const BUNDLE_MEMBERS: &[&str] = &["Description", "Source", "Title", "prompt", "workflow"];
/// At most this many members are unpacked per carrier.
const MAX_MEMBERS: usize = 64;

/// Appends, for every JSON object carrier that bundles chunk-like members,
/// one virtual carrier per string member (origin [`Origin::Member`], key
/// `<carrier key>#<member>`).
fn unpack(carriers: &mut Vec<Carrier>) {
    let mut out = Vec::new();
    for c in carriers.iter() {
        let Some(Value::Object(map)) = &c.json else {
            continue;
        };
        if c.json_label.is_some() || !BUNDLE_MARKERS.iter().any(|k| map.contains_key(*k)) {
            continue;
        }
        for (k, v) in map.iter().take(MAX_MEMBERS) {
            let wanted =
                BUNDLE_MARKERS.contains(&k.as_str()) || BUNDLE_MEMBERS.contains(&k.as_str());
            let Value::String(text) = v else { continue };
            if !wanted {
                continue;
            }
            let text = text.trim_matches('\0').to_owned();
            let (json, json_label, json_error) = json_tools::classify(&text);
            out.push(Carrier {
                key: format!("{}#{k}", c.key),
                name: k.clone(),
                origin: Origin::Member,
                text,
                json,
                json_label,
                json_error,
            });
        }
    }
    carriers.extend(out);
}

/// One interpreter: the carriers (and warnings to add) in, metadata out.
type Interpreter = fn(&[Carrier], &mut Vec<String>) -> Option<GenerationMetadata>;

/// Interpreters, most specific first, with the parser name each reports.
const INTERPRETERS: &[(&str, Interpreter)] = &[
    ("novelai", novelai::parse),
    ("invokeai", |c, _| invoke::parse_current(c)),
    ("swarmui", |c, _| json_tools::parse_swarm(c)),
    ("tensorart", comfy::parse_tensorart),
    ("stability-matrix", comfy::parse_stability_matrix),
    ("comfyui-graph", comfy::parse),
    ("comfyui-workflow", comfy::parse_workflow),
    ("easydiffusion", |c, _| apps::parse_easydiffusion(c)),
    ("hf-space", |c, _| apps::parse_hf_space(c)),
    ("ruined-fooocus", |c, _| apps::parse_ruined_fooocus(c)),
    ("fooocus", |c, _| json_tools::parse_fooocus(c)),
    ("drawthings", |c, _| apps::parse_drawthings(c)),
    ("a1111-text", |c, _| a1111::parse(c)),
    ("invokeai-legacy", |c, _| invoke::parse_legacy(c)),
    ("xmp", |c, _| xmp::parse(c)),
];

/// Runs the interpreters in priority order and keeps the first that found a
/// prompt with a letter or digit, else the first that recognised a tool.
fn interpret(carriers: &[Carrier], c2pa: bool, warnings: &mut Vec<String>) -> GenerationMetadata {
    let mut fallback: Option<GenerationMetadata> = None;
    for (name, run) in INTERPRETERS {
        let Some(mut m) = run(carriers, warnings) else {
            continue;
        };
        m.parser = Some((*name).to_owned());
        if let Some(p) = m.positive.take() {
            if util::is_meaningful(&p) {
                m.positive = Some(p);
                return m;
            }
            warnings.push(format!(
                "{name}: prompt {:?} has no letter or digit; not used as a prompt",
                util::clip(&p, 40)
            ));
        }
        if m.tool.is_some() {
            fallback.get_or_insert(m);
        }
    }
    if let Some(m) = fallback {
        return m;
    }
    if c2pa {
        return GenerationMetadata {
            tool: Some("c2pa".into()),
            parser: Some("c2pa".into()),
            ..GenerationMetadata::default()
        };
    }
    GenerationMetadata::default()
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
