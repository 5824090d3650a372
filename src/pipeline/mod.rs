//! Jobs: the scan (ingest + classical signals) runs here, for the CLI and the GUI alike.
//!
//! A scan discovers files, skips those whose size and mtime are unchanged (and whose signals are
//! current), then processes the rest in batches: files are read, hashed, decoded and parsed in
//! parallel (rayon), signals are computed (plain Rust per image on the CPU, or batched burn
//! tensors on a GPU), faces are detected (MTCNN on the selected device, unless turned off) and
//! hands (MediaPipe's palm + landmark models, on the same working copy, unless `--no-hands`), and
//! each batch is committed in one transaction. When CLIP weights are found (and CLIP is not
//! turned off), a last phase embeds the images without an embedding from that model and
//! computes `aesthetic` / `clip_score` ([`clip`]); then each judge found on disk (HPSv2, PickScore)
//! scores the images with a prompt and ranks them within their prompt group ([`judge`]).
//! Cancellation is checked
//! between batches: what finished is kept. Bad files never stop a scan; each gets a reason.
//!
//! # Scan
//!
//! `pipeline::scan(opts, &Progress, &cancel)`: discover → compare with the store → process the rest
//! in batches of `--batch` (32) files: read, hash, probe, decode (rayon, `--jobs` threads),
//! metadata, signals (per image on the CPU, or grouped by size on the device), one transaction per
//! batch → mark missing → refresh the hard filters of every image from its stored dimensions and
//! recompute duplicate groups from stored hashes (so new thresholds apply without re-reading
//! unchanged files) → the CLIP pass (below) → the judges (`pipeline/judge.rs`) → record the scan. Unless `--no-faces`, each batch's
//! decoded images also go through the MTCNN detector on the selected device (same-size images
//! batched) before the transaction; unless `--no-hands`, the same stage runs the hand detector
//! on the same working copy (`hand_count`, `hand_defect`). Since issue 15 the processing is a stream (`pipeline/flow.rs`):
//! decode workers (one decode per file, frames held under a pixel budget; they hand on only small
//! working copies) → faces (fast mode, `models/mtcnn/working.rs`) → CLIP crops embedded in the scan
//! → an ordered writer, over bounded channels; progress reports files/s per stage and the slowest
//! one. `assay bench scan`. `--shard I/N` scores one slice of the folder by content hash into its
//! own catalogue, and `assay merge` combines the shards ([`shard`]: how far that scales).
//!
//! # Failures
//!
//! Per-file failures never stop a scan. Reasons: empty file, not a recognised image format,
//! unsupported format (AVIF: the `image` crate needs the system dav1d library to decode it, which
//! we do not link), too many pixels (default limit 100 MP, checked from the header before any pixel
//! allocation), corrupt or truncated, unreadable, vanished during the scan, file above 1 GiB. Each
//! is stored in `images.error`, listed in the summary (`failures_by_reason`) and exits 2. A wrong
//! extension is only a warning (`metadata.warnings_json`). Metadata is parsed even when pixels
//! cannot be decoded.

pub mod clip;
pub mod decide;
pub mod finetune;
pub mod finetune_bench;
mod flow;
pub mod judge;
pub mod policy;
pub mod preference;
pub mod progress;
pub mod scan_log;
pub mod score_import;
pub mod scorers;
pub mod shard;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::catalog::decode::{self, DecodeConfig};
use crate::catalog::shard::Shard;
use crate::catalog::{self, Found};
use crate::metadata;
use crate::models::backend::{self, BackendChoice};
use crate::models::clip::preprocess as clip_preprocess;
use crate::models::hands::{self as hand_models, HandDetector};
use crate::models::mtcnn::{self, Mtcnn, WorkingCopy, WorkingResolution};
use crate::signals::filters::FilterConfig;
use crate::signals::{self, classical, dedup, faces, hands, phash, tensor};
use crate::store::{self, IngestRecord, KnownImage, MetadataRow, SignalRow, Store, Upsert};
pub use progress::{Progress, Snapshot, StageSnapshot};

/// Options of a scan.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    pub root: PathBuf,
    /// Database path; default `<root>/.assay/assay.db`.
    pub db: Option<PathBuf>,
    pub backend: BackendChoice,
    /// Worker threads (default: all cores).
    pub jobs: Option<usize>,
    pub decode: DecodeConfig,
    pub filters: FilterConfig,
    /// pHash Hamming distance at or below which two images are near duplicates.
    pub dup_threshold: u32,
    /// Files per batch (one transaction each; cancellation is checked between batches).
    pub batch_size: usize,
    pub metadata_limits: metadata::Limits,
    /// Files larger than this are refused without being read.
    pub max_file_bytes: u64,
    /// Detect faces (MTCNN) and store the face signals.
    pub faces: bool,
    /// Detect hands (MediaPipe palm + landmark models) on the same working copy and store the
    /// hand signals.
    pub hands: bool,
    /// Where faces (and hands) are detected (fast mode: a working copy of at most this long side).
    pub face_resolution: WorkingResolution,
    /// Images per face-detector call.
    pub face_batch: usize,
    /// Thumbnail cache folder of the workbench (`catalog::thumb`): the scan writes the missing
    /// thumbnails from its decode (GUI scans; `None` for the CLI).
    pub thumbnails: Option<PathBuf>,
    /// CLIP embeddings, `aesthetic` and `clip_score` when weights are found.
    pub clip: clip::ClipOptions,
    /// Backups of the catalogue kept (one is made before each scan; 0: none).
    pub backups: usize,
    /// Score only this slice of the folder (by content hash, [`Shard`]); see [`shard`].
    pub shard: Option<Shard>,
}

impl ScanOptions {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            db: None,
            backend: BackendChoice::Auto,
            jobs: None,
            decode: DecodeConfig::default(),
            filters: FilterConfig::default(),
            dup_threshold: 5,
            batch_size: 32,
            metadata_limits: metadata::Limits::default(),
            max_file_bytes: 1 << 30,
            faces: true,
            hands: true,
            face_resolution: WorkingResolution::default(),
            face_batch: 4,
            thumbnails: None,
            clip: clip::ClipOptions::default(),
            backups: store::health::DEFAULT_BACKUPS,
            shard: None,
        }
    }

    /// The database to use (see [`Store::locate`]) and whether it is the per-user fallback
    /// for a read-only collection. A sharded scan without `--db` writes
    /// `<root>/.assay/shard-I-of-N.db` (no fallback: pass `--db` for a read-only folder).
    pub fn db_path(&self) -> (PathBuf, bool) {
        let shard_db = self
            .shard
            .filter(|_| self.db.is_none())
            .map(|s| Store::default_path(&self.root).with_file_name(s.file_name()));
        Store::locate(&self.root, self.db.as_deref().or(shard_db.as_deref()), true)
    }
}

/// One file that could not be catalogued or decoded.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FileError {
    pub path: String,
    pub reason: String,
}

/// What a scan did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScanSummary {
    pub root: String,
    pub database: String,
    /// True when the collection folder was read-only and the database went to the user data
    /// folder instead of `<root>/.assay/`.
    pub database_fallback: bool,
    pub backend: String,
    /// Image files found on disk.
    pub found: u64,
    /// New paths catalogued.
    pub new: u64,
    /// Paths whose content changed (a new version was stored, old signals invalidated).
    pub changed: u64,
    /// Paths re-read whose content was the same (touched, or signals outdated).
    pub refreshed: u64,
    /// Paths skipped because size and mtime were unchanged.
    pub unchanged: u64,
    /// Paths that disappeared since the last scan (rows kept, marked missing).
    pub missing: u64,
    /// Files that failed in this scan.
    pub failed: u64,
    /// Unchanged files that had failed in an earlier scan.
    pub failed_earlier: u64,
    /// Failure counts by reason kind.
    pub failures_by_reason: HashMap<String, u64>,
    pub errors: Vec<FileError>,
    /// Folders that could not be read.
    pub folder_errors: Vec<FileError>,
    pub near_duplicate_groups: u64,
    /// The pipeline's stages (decode, signals, faces, clip, write): files, busy seconds.
    pub stages: Vec<StageSnapshot>,
    /// Whether faces were detected in this scan, and in how many of its images.
    pub faces: bool,
    pub images_with_faces: u64,
    /// Whether hands were detected in this scan, and in how many of its images.
    pub hands: bool,
    pub images_with_hands: u64,
    /// The CLIP pass (embeddings, `aesthetic`, `clip_score`); absent when it did not run.
    pub clip: Option<clip::ClipSummary>,
    /// Why CLIP did not run although it was on: no weights found (where to put them) or the
    /// found weights could not be loaded. Not a failure of the scan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clip_skipped: Option<String>,
    /// The CLIP pass stopped with an error (what it finished is kept).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clip_error: Option<String>,
    /// Remarks of the CLIP setup (no aesthetic head for the model, heads skipped).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub clip_notes: Vec<String>,
    /// The judges' passes (`hps`, `pickscore`), one per judge found; empty without their
    /// checkpoints.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub judges: Vec<judge::JudgeSummary>,
    /// The active preference scorer rescored the collection (absent without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub learned: Option<preference::Refreshed>,
    /// Rescoring with the active preference scorer failed (the scan itself is kept).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub learned_error: Option<String>,
    pub cancelled: bool,
    pub seconds: f64,
    pub files_per_second: f64,
    /// Peak resident memory of the process so far (Linux `VmHWM`), in MB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak_rss_mb: Option<f64>,
    /// The backup of the catalogue made before this scan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    /// The slice scored by a sharded scan (`--shard I/N`); absent for a whole scan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    /// Files read and hashed by a sharded scan that belong to other shards: not decoded, not
    /// scored, not stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_shards: Option<u64>,
    /// Why no backup could be made (the scan went on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_error: Option<String>,
}

impl ScanSummary {
    /// Whether some inputs failed (exit code 2).
    pub fn has_failures(&self) -> bool {
        self.failed > 0
            || self.failed_earlier > 0
            || !self.folder_errors.is_empty()
            || self.clip.as_ref().is_some_and(|c| c.failed > 0)
            || self.clip_error.is_some()
            || self
                .judges
                .iter()
                .any(|j| j.failed > 0 || j.error.is_some())
    }
}

/// Errors that stop a scan before it starts (per-file problems never do).
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("{path} is not a folder")]
    NotAFolder { path: PathBuf },
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error(transparent)]
    Backend(#[from] backend::BackendError),
    #[error("cannot start worker threads")]
    Threads(#[from] rayon::ThreadPoolBuildError),
    #[error(transparent)]
    Faces(#[from] mtcnn::MtcnnError),
    #[error(transparent)]
    Hands(#[from] hand_models::HandsError),
    /// The CLIP model or head asked for explicitly (`--model`, `--head`) cannot be used.
    #[error("CLIP: {0}")]
    Clip(String),
}

/// The kind of a failure, for the per-reason counts.
fn reason_kind(reason: &str) -> String {
    let r = reason.to_ascii_lowercase();
    let kind = if r.contains("broken symbolic link") {
        "broken link"
    } else if r.contains("empty file") {
        "empty"
    } else if r.contains("not a recognised image") {
        "not an image"
    } else if r.contains("limit") {
        "too large"
    } else if r.contains("decoding is not built") {
        "unsupported format"
    } else if r.contains("corrupt") || r.contains("truncated") {
        "corrupt or truncated"
    } else if r.contains("vanished") {
        "vanished during scan"
    } else if r.contains("permission") || r.contains("cannot read") {
        "unreadable"
    } else {
        "other"
    };
    kind.to_string()
}

/// A file read, decoded and measured by a decode worker: its record, and what the model
/// stages need (small working copies; the full-resolution frame is gone by then).
pub(crate) struct Prepared {
    /// Position in the scan's to-do list (records are written in this order).
    pub(crate) index: usize,
    pub(crate) record: IngestRecord,
    /// The detectors' working copy (faces or hands on and the image decoded).
    pub(crate) faces: Option<WorkingCopy>,
    /// CLIP's S×S RGB8 crop, or why there is none (CLIP runs in this scan, the image decoded
    /// and not embedded by that model yet).
    pub(crate) clip: Option<Result<Vec<u8>, String>>,
    pub(crate) vanished: bool,
    /// The file belongs to another shard of a sharded scan: nothing of it is written.
    pub(crate) other_shard: bool,
    /// The detector found at least one face (set by the faces stage).
    pub(crate) has_face: bool,
    /// At least one hand was found (set by the faces stage).
    pub(crate) has_hand: bool,
    /// Time spent reading, hashing, decoding and parsing metadata, and on the CPU signals.
    pub(crate) decode_time: Duration,
    pub(crate) signals_time: Duration,
}

/// What [`prepare`] needs besides the file: the options and the per-scan context.
pub(crate) struct IngestCtx<'a> {
    pub(crate) opts: &'a ScanOptions,
    /// The device of the batched tensor path (classical signals on a GPU); `None`: plain Rust.
    pub(crate) tensor: Option<&'a burn::tensor::Device>,
    /// CLIP's input side when CLIP embeds in this scan.
    pub(crate) clip_size: Option<usize>,
    /// Image ids whose current version already has a vector from that model.
    pub(crate) embedded: &'a HashSet<i64>,
    /// Decoded pixels in flight across workers.
    pub(crate) budget: &'a flow::PixelBudget,
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "file vanished during the scan".to_string(),
        std::io::ErrorKind::PermissionDenied => {
            "cannot read the file: permission denied".to_string()
        }
        _ => format!("cannot read the file: {e}"),
    }
}

fn extension_warning(found: &Found, format: &str) -> Option<String> {
    let ext = Path::new(&found.rel)
        .extension()?
        .to_string_lossy()
        .to_ascii_lowercase();
    let matches = match format {
        "jpeg" => matches!(ext.as_str(), "jpg" | "jpeg" | "jpe" | "jfif"),
        "tiff" => matches!(ext.as_str(), "tif" | "tiff"),
        f => ext == f,
    };
    (!matches).then(|| format!("the file extension is .{ext} but the content is {format}"))
}

fn classical_rows(c: &classical::Classical, blank: bool) -> Vec<SignalRow> {
    let num = |key: &str, v: Option<f64>| {
        v.filter(|x| x.is_finite()).map(|value| SignalRow {
            key: key.to_string(),
            value: Some(value),
            text: None,
            producer: signals::CLASSICAL.to_string(),
        })
    };
    [
        num("blur_laplacian_var", c.blur_laplacian_var),
        num("tenengrad", c.tenengrad),
        num("clip_shadows", Some(c.clip_shadows)),
        num("clip_highlights", Some(c.clip_highlights)),
        num("luminance_mean", Some(c.luminance_mean)),
        num("contrast_rms", Some(c.contrast_rms)),
        num("colorfulness", Some(c.colorfulness)),
        num("noise_sigma", c.noise_sigma),
        num("blockiness", c.blockiness),
        num("blank", Some(if blank { 1.0 } else { 0.0 })),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Reads, hashes, decodes and measures one file: its record with metadata, hashes, hard
/// filters and classical signals, and the working copies of the model stages. The file is
/// decoded once; the full-resolution frame lives only inside this call (RGB8 in the decoder's
/// own buffer where possible, see [`classical::into_rgb8_like_pil`]) and is held under
/// [`IngestCtx::budget`], so peak memory does not depend on the image beyond one frame per
/// worker.
pub(crate) fn prepare(
    index: usize,
    found: &Found,
    old: Option<&KnownImage>,
    ctx: &IngestCtx<'_>,
) -> Prepared {
    let opts = ctx.opts;
    let job = FileJob {
        index,
        old,
        opts,
        started: Instant::now(),
    };
    let mut facts = store::ImageFacts {
        path: found.rel.clone(),
        path_raw: found.rel_raw.clone(),
        size: i64::try_from(found.size).unwrap_or(i64::MAX),
        mtime_ns: found.mtime_ns,
        ..Default::default()
    };
    let bytes = match job.read(found, &mut facts) {
        Ok(b) => b,
        Err(p) => return *p,
    };
    let info = metadata::container_info(&bytes);
    facts.frames = Some(info.frames);
    let probe = decode::probe(&bytes);
    facts.format = probe.format.map(str::to_string);
    facts.width = probe.width;
    facts.height = probe.height;

    // The frame's pixels count against the scan's budget until they are dropped below.
    let pixels = u64::from(probe.width.unwrap_or(0)) * u64::from(probe.height.unwrap_or(0));
    let permit = ctx.budget.acquire(pixels.min(opts.decode.max_pixels));
    let (decoded, meta) = decode_with_metadata(&found.abs, bytes, opts);
    let mut warnings = meta.warnings.clone();
    if let Some(fmt) = probe.format
        && let Some(w) = extension_warning(found, fmt)
    {
        warnings.push(w);
    }
    let metadata_row = metadata_row(&meta, &warnings);
    let upsert = job.upsert(facts.hash.as_deref());
    let d = match decoded {
        Ok(d) => d,
        Err(e) => {
            let mut p = job.failed(facts, e, false);
            p.record.metadata = Some(metadata_row);
            return p;
        }
    };
    facts.width = Some(d.width);
    facts.height = Some(d.height);
    facts.orientation = Some(d.orientation);
    facts.pixel_hash = Some(decode::pixel_hash(&d.image));
    let alpha_zero = classical::alpha_all_zero(&d.image);
    if let (Some(dir), Some(hash)) = (&opts.thumbnails, facts.hash.as_deref())
        && !catalog::thumb::cache_file(dir, hash).exists()
    {
        catalog::thumb::save(dir, hash, &catalog::thumb::thumbnail(&d.image));
    }
    let (w, h) = (d.image.width(), d.image.height());
    // RGB8 exactly as PIL's convert("RGB") (16-bit: high byte), the peers' convention.
    let rgb = classical::into_rgb8_like_pil(d.image);
    let decode_time = job.started.elapsed();

    let started = Instant::now();
    let rows = measure(&rgb, w, h, alpha_zero, ctx);
    let already_embedded = matches!(upsert, Upsert::Same { id } if ctx.embedded.contains(&id));
    let clip = ctx
        .clip_size
        .filter(|_| !already_embedded)
        .map(|size| clip_crop(&rgb, w, h, size));
    let (wu, hu) = (w as usize, h as usize);
    let faces = (opts.faces || opts.hands)
        .then(|| WorkingCopy::from_frame(rgb, wu, hu, &opts.face_resolution));
    drop(permit);
    Prepared {
        index,
        record: IngestRecord {
            upsert,
            facts,
            metadata: Some(metadata_row),
            signals: rows,
            signals_version: Some(signals::signal_set_version(opts.faces, opts.hands)),
            embedding: None,
        },
        faces,
        clip,
        vanished: false,
        other_shard: false,
        has_face: false,
        has_hand: false,
        decode_time,
        signals_time: started.elapsed(),
    }
}

/// One file of [`prepare`]: what its record's upsert and a failure record need.
struct FileJob<'a> {
    index: usize,
    old: Option<&'a KnownImage>,
    opts: &'a ScanOptions,
    /// When the file's work began (its decode time runs from here).
    started: Instant,
}

impl FileJob<'_> {
    /// Reads and hashes the file into `facts`; the record to pass on instead when it cannot
    /// be read or belongs to another shard. A sharded scan places a file without a content
    /// hash by its path (see `catalog::shard`); the hash needs the bytes, which the scan reads
    /// anyway, and another shard's file stops here, before any decoding.
    fn read(&self, found: &Found, facts: &mut store::ImageFacts) -> Result<Vec<u8>, Box<Prepared>> {
        let opts = self.opts;
        let path_elsewhere = opts.shard.is_some_and(|s| !s.owns_path(&found.rel_raw));
        if found.size > opts.max_file_bytes {
            if path_elsewhere {
                return Err(Box::new(self.other_shard(facts.clone())));
            }
            let reason = format!(
                "file is {} bytes, above the {} byte limit; not read",
                found.size, opts.max_file_bytes
            );
            return Err(Box::new(self.failed(facts.clone(), reason, false)));
        }
        let bytes = match std::fs::read(&found.abs) {
            Ok(b) => b,
            Err(e) => {
                let vanished = e.kind() == std::io::ErrorKind::NotFound;
                if path_elsewhere && !vanished {
                    return Err(Box::new(self.other_shard(facts.clone())));
                }
                return Err(Box::new(self.failed(
                    facts.clone(),
                    io_reason(&e),
                    vanished,
                )));
            }
        };
        facts.size = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
        let hash = catalog::content_hash(&bytes);
        let elsewhere = opts.shard.is_some_and(|s| !s.owns_hash(&hash));
        facts.hash = Some(hash);
        if elsewhere {
            return Err(Box::new(self.other_shard(facts.clone())));
        }
        Ok(bytes)
    }

    /// How the record is written: new, the same image, or a new version of the stored one.
    fn upsert(&self, hash: Option<&str>) -> Upsert {
        match self.old {
            None => Upsert::New,
            Some(k) => match (&k.hash, hash) {
                (Some(a), Some(b)) if a != b => Upsert::NewVersion {
                    old_id: k.id,
                    old_version: k.version,
                },
                _ => Upsert::Same { id: k.id },
            },
        }
    }

    /// The record of a file that failed with `reason`: its facts so far and no signals.
    fn failed(&self, facts: store::ImageFacts, reason: String, vanished: bool) -> Prepared {
        Prepared {
            index: self.index,
            record: IngestRecord {
                upsert: self.upsert(facts.hash.as_deref()),
                facts: store::ImageFacts {
                    error: Some(reason),
                    ..facts
                },
                metadata: None,
                signals: Vec::new(),
                signals_version: Some(signals::signal_set_version(
                    self.opts.faces,
                    self.opts.hands,
                )),
                embedding: None,
            },
            faces: None,
            clip: None,
            vanished,
            other_shard: false,
            has_face: false,
            has_hand: false,
            decode_time: self.started.elapsed(),
            signals_time: Duration::ZERO,
        }
    }

    /// A file of another shard: passed through the stages and counted, never written (a
    /// stored row of its path, whose content moved to another shard, is marked missing here).
    fn other_shard(&self, facts: store::ImageFacts) -> Prepared {
        let mut p = self.failed(facts, String::new(), false);
        p.record.facts.error = None;
        p.other_shard = true;
        p
    }
}

/// The stored metadata row of a file's generation metadata, with its `warnings`.
fn metadata_row(meta: &metadata::GenerationMetadata, warnings: &[String]) -> MetadataRow {
    MetadataRow {
        tool: meta.tool.clone(),
        positive: meta.positive.clone(),
        negative: meta.negative.clone(),
        seed: meta.seed,
        steps: meta.steps,
        sampler: meta.sampler.clone(),
        cfg: meta.cfg,
        model: meta.model.clone(),
        gen_width: meta.size.map(|s| s.0),
        gen_height: meta.size.map(|s| s.1),
        raw_json: serde_json::to_string(&meta.raw).unwrap_or_else(|_| "[]".to_string()),
        warnings_json: serde_json::to_string(warnings).unwrap_or_else(|_| "[]".to_string()),
        parser: meta.parser.clone(),
        extra_json: serde_json::to_string(&meta.extra).unwrap_or_else(|_| "[]".to_string()),
    }
}

/// The signal rows measured on a `w`×`h` RGB8 frame: classical signals (batched tensors on
/// the device when there is one), perceptual hashes and the hard filters.
fn measure(rgb: &[u8], w: u32, h: u32, alpha_zero: bool, ctx: &IngestCtx<'_>) -> Vec<SignalRow> {
    let opts = ctx.opts;
    let (wu, hu) = (w as usize, h as usize);
    let hashes = phash::hashes(rgb, wu, hu);
    let c = match ctx.tensor {
        Some(device) => tensor::compute_batch(device, &[rgb], wu, hu)
            .pop()
            .unwrap_or_default(),
        None => classical::compute(rgb, wu, hu),
    };
    let mut rows = classical_rows(&c, c.blank || alpha_zero);
    let hash_row = |key: &str, v: u64| SignalRow {
        key: key.to_string(),
        value: None,
        text: Some(phash::to_hex(v)),
        producer: signals::HASHES.to_string(),
    };
    rows.push(hash_row("ahash", hashes.ahash));
    rows.push(hash_row("dhash", hashes.dhash));
    rows.push(hash_row("phash", hashes.phash));
    let fp = opts.filters.producer();
    let flag = |key: &str, ok: bool| SignalRow {
        key: key.to_string(),
        value: Some(if ok { 1.0 } else { 0.0 }),
        text: None,
        producer: fp.clone(),
    };
    rows.push(flag("size_ok", opts.filters.size_ok(w, h)));
    rows.push(flag("aspect_ok", opts.filters.aspect_ok(w, h)));
    rows
}

/// CLIP's `size`×`size` crop of a `w`×`h` RGB8 frame, or why it cannot be made.
fn clip_crop(rgb: &[u8], w: u32, h: u32, size: usize) -> Result<Vec<u8>, String> {
    clip_preprocess::resize_crop(rgb, w as usize, h as usize, size).ok_or_else(|| {
        format!(
            "image of {w}x{h} pixels cannot be preprocessed for CLIP (empty, or more \
             elongated than {}:1)",
            clip_preprocess::MAX_ASPECT
        )
    })
}

/// Files larger than this are decoded from disk (a second read) instead of from the bytes
/// read for hashing and metadata, so the file's bytes and its frame are not held together.
const STREAM_FROM_DISK: usize = 16 << 20;

/// Decodes a file's first frame and parses its metadata, consuming its bytes. Large files are
/// decoded from disk after their bytes are dropped; stealth metadata (images with alpha and no
/// prompt) then reads the file again next to the frame.
fn decode_with_metadata(
    path: &Path,
    bytes: Vec<u8>,
    opts: &ScanOptions,
) -> (
    Result<decode::Decoded, String>,
    metadata::GenerationMetadata,
) {
    let limits = &opts.metadata_limits;
    let checked = match decode::check(&bytes, &opts.decode) {
        Ok(c) => c,
        Err(e) => {
            return (
                Err(e.to_string()),
                metadata::read_metadata(&bytes, None, limits),
            );
        }
    };
    if bytes.len() <= STREAM_FROM_DISK {
        let decoded = decode::decode_from(std::io::Cursor::new(&bytes), checked, &opts.decode)
            .map_err(|e| e.to_string());
        let meta = metadata_with_pixels(&bytes, decoded.as_ref().ok(), limits);
        return (decoded, meta);
    }
    let meta = metadata::read_metadata(&bytes, None, limits);
    drop(bytes);
    let decoded = std::fs::File::open(path)
        .map_err(|e| io_reason(&e))
        .and_then(|f| {
            decode::decode_from(std::io::BufReader::new(f), checked, &opts.decode)
                .map_err(|e| e.to_string())
        });
    if meta.positive.is_none()
        && let Ok(d) = &decoded
        && d.image.color().has_alpha()
        && let Ok(bytes) = std::fs::read(path)
    {
        let meta = metadata_with_pixels(&bytes, Some(d), limits);
        return (decoded, meta);
    }
    (decoded, meta)
}

/// The file's metadata with the decoded frame for stealth metadata (alpha images): the
/// decoder's own buffer when it is RGBA8, a converted copy otherwise.
fn metadata_with_pixels(
    bytes: &[u8],
    decoded: Option<&decode::Decoded>,
    limits: &metadata::Limits,
) -> metadata::GenerationMetadata {
    let converted;
    let rgba = match decoded.map(|d| &d.image) {
        Some(image::DynamicImage::ImageRgba8(b)) => Some((b.width(), b.height(), b.as_raw())),
        Some(other) if other.color().has_alpha() => {
            converted = other.to_rgba8();
            Some((converted.width(), converted.height(), converted.as_raw()))
        }
        _ => None,
    };
    metadata::read_metadata(bytes, rgba.map(|(w, h, px)| (w, h, px.as_slice())), limits)
}

/// The face signal rows of one image from fast-mode detections on its working copy.
pub(crate) fn face_rows(
    detection: &mtcnn::Detection,
    copy: &WorkingCopy,
    producer: &str,
) -> (Vec<SignalRow>, bool) {
    let s = faces::compute_working(&detection.faces, copy);
    let row = |key: &str, value: Option<f64>, text: Option<String>| SignalRow {
        key: key.to_string(),
        value,
        text,
        producer: producer.to_string(),
    };
    let mut rows = vec![row("face_count", Some(s.face_count as f64), None)];
    if let Some(c) = s.face_conf_min {
        rows.push(row("face_conf_min", Some(c), None));
    }
    rows.push(row("face_area_max", Some(s.face_area_max), None));
    if let Some(d) = s.face_defect {
        rows.push(row("face_defect", Some(d), None));
    }
    rows.push(row("face_boxes", None, Some(faces::boxes_json(&s))));
    (rows, s.face_count > 0)
}

/// The hand signal rows of one image from the detections on its working copy.
pub(crate) fn hand_rows(found: &[hand_models::Hand], producer: &str) -> (Vec<SignalRow>, bool) {
    let s = hands::compute(found);
    let row = |key: &str, value: f64| SignalRow {
        key: key.to_string(),
        value: Some(value),
        text: None,
        producer: producer.to_string(),
    };
    let mut rows = vec![row("hand_count", s.hand_count as f64)];
    if let Some(d) = s.hand_defect {
        rows.push(row("hand_defect", d));
    }
    (rows, s.hand_count > 0)
}

/// Runs a scan of `opts.root`. Per-file problems are reported in the summary, never returned.
pub fn scan(
    opts: &ScanOptions,
    progress: &Progress,
    cancel: &AtomicBool,
) -> Result<ScanSummary, ScanError> {
    let Opened {
        mut store,
        selected,
        detector,
        hand_detector,
        loaded,
        judges,
        record,
        mut summary,
    } = open_scan(opts)?;

    progress.set_phase("discover");
    let found = catalog::discover(&opts.root);
    record_discovery(&found, &mut summary);
    let known: HashMap<Vec<u8>, KnownImage> = store
        .known_images()?
        .into_iter()
        .map(|k| (k.path_raw.clone(), k))
        .collect();
    let (todo, mut missing_ids) = triage(&found.files, &known, opts, &mut summary);

    progress.set_phase(match (opts.faces, opts.hands) {
        (true, _) => "scan + faces",
        (false, true) => "scan + hands",
        (false, false) => "scan",
    });
    progress.set_total(todo.len() as u64);
    let jobs = opts
        .jobs
        .filter(|&j| j > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .thread_name(|i| format!("assay-scan-{i}"))
        .build()?;
    // CLIP embeds in the pipeline what it decodes anyway; images whose current version
    // already has a vector from the model are left alone.
    let clip_model = loaded.as_ref().filter(|_| !todo.is_empty());
    let embedded: HashSet<i64> = match clip_model {
        Some(l) => store.embedded_image_ids(l.key())?.into_iter().collect(),
        None => HashSet::new(),
    };
    let budget = flow::PixelBudget::new(opts.decode.max_pixels);
    let flow = flow::Flow {
        todo: &todo,
        ctx: IngestCtx {
            opts,
            tensor: selected.tensor_signals.then_some(&selected.device),
            clip_size: clip_model.map(|l| l.model.image_size),
            embedded: &embedded,
            budget: &budget,
        },
        jobs,
        batch_size: opts.batch_size,
        faces: detector.as_ref().map(|d| {
            (
                d,
                opts.face_resolution,
                faces::producer(&opts.face_resolution),
            )
        }),
        hands: hand_detector
            .as_ref()
            .map(|d| (d, hands::producer(opts.face_resolution.max_side))),
        face_batch: opts.face_batch,
        // The CPU detector works image by image: one faces worker per core; a GPU takes
        // batches from one.
        face_workers: if selected.kind == backend::DeviceKind::Flex {
            jobs
        } else {
            1
        },
        clip: clip_model,
        clip_batch: opts.clip.batch,
        model_pool: &pool,
        progress,
        cancel,
    };
    let outcome = flow::run(&flow, &mut store, &mut summary, &mut missing_ids)?;
    summary.cancelled = outcome.taken < todo.len();
    summary.stages = progress.snapshot().stages;
    store.mark_missing(&missing_ids)?;
    summary.missing = missing_ids.len() as u64;

    // Signals derived from stored values follow the current options for every image, also the
    // unchanged ones that were not re-read: hard filters from dimensions, groups from hashes.
    progress.set_phase("filters");
    update_hard_filters(&mut store, &opts.filters)?;
    progress.set_phase("duplicates");
    summary.near_duplicate_groups = update_duplicate_groups(&mut store, opts.dup_threshold)?;

    let ingest_s = progress.snapshot().elapsed_s;
    let processed = summary.new + summary.changed + summary.refreshed + summary.failed;
    summary.files_per_second = if ingest_s > 0.0 {
        processed as f64 / ingest_s
    } else {
        0.0
    };
    if let Some(l) = &loaded
        && !summary.cancelled
    {
        let r = clip_after_ingest(&mut store, opts, l, outcome, &pool, progress, cancel);
        match r {
            Ok(c) => {
                summary.cancelled |= c.cancelled;
                summary.clip = Some(c);
            }
            Err(e) => summary.clip_error = Some(e),
        }
    }
    run_judges(
        &mut store,
        opts,
        &judges,
        &pool,
        progress,
        cancel,
        &mut summary,
    );
    finish_scan(&mut store, record, progress, &mut summary)?;
    Ok(summary)
}

/// What a scan opens before it reads a file.
struct Opened {
    store: Store,
    selected: backend::Selected,
    detector: Option<Mtcnn>,
    hand_detector: Option<HandDetector>,
    loaded: Option<clip::LoadedClip>,
    /// The judges found (HPSv2, PickScore), loaded on first use.
    judges: Vec<judge::LoadedJudge>,
    record: scan_log::ScanRecord,
    /// The summary with its settings filled in.
    summary: ScanSummary,
}

/// Opens the catalogue (backed up first), selects the device, loads the face detector and
/// CLIP, and records the start of the scan.
fn open_scan(opts: &ScanOptions) -> Result<Opened, ScanError> {
    if !opts.root.is_dir() {
        return Err(ScanError::NotAFolder {
            path: opts.root.clone(),
        });
    }
    let (db_path, fallback) = opts.db_path();
    let store = Store::open(&db_path)?;
    // The catalogue passed its check when it was opened: back it up before writing.
    let backup = scan_log::backup_before_scan(&store, opts.backups);
    let selected = backend::select(opts.backend)?;
    let detector = if opts.faces {
        Some(Mtcnn::new(&selected.device)?)
    } else {
        None
    };
    let hand_detector = if opts.hands {
        Some(HandDetector::new(&selected.device)?)
    } else {
        None
    };
    let ClipSetup {
        loaded,
        skipped: clip_skipped,
        notes: clip_notes,
    } = load_clip(opts, &selected.device)?;
    let judges = judge::load(&opts.clip, &selected.device);
    let record = scan_log::ScanRecord::begin(&store)?;
    let summary = ScanSummary {
        root: opts.root.display().to_string(),
        database: db_path.display().to_string(),
        database_fallback: fallback,
        backend: if selected.tensor_signals {
            selected.describe()
        } else {
            "plain Rust (CPU)".to_string()
        },
        faces: opts.faces,
        hands: opts.hands,
        shard: opts.shard,
        other_shards: opts.shard.map(|_| 0),
        clip_skipped,
        clip_notes,
        backup: backup.as_ref().ok().cloned().flatten(),
        backup_error: backup.err(),
        ..Default::default()
    };
    Ok(Opened {
        store,
        selected,
        detector,
        hand_detector,
        loaded,
        judges,
        record,
        summary,
    })
}

/// Runs each judge found after the CLIP pass (unless cancelled); a judge that fails records
/// its error in its summary and the scan goes on.
fn run_judges(
    store: &mut Store,
    opts: &ScanOptions,
    judges: &[judge::LoadedJudge],
    pool: &rayon::ThreadPool,
    progress: &Progress,
    cancel: &AtomicBool,
    summary: &mut ScanSummary,
) {
    for j in judges {
        if summary.cancelled {
            break;
        }
        let r = pool.install(|| {
            judge::run(
                store,
                &opts.root,
                j,
                opts.clip.batch,
                &opts.decode,
                progress,
                cancel,
            )
        });
        let s = r.unwrap_or_else(|e| judge::JudgeSummary::failed(j, e.to_string()));
        summary.cancelled |= s.cancelled;
        summary.judges.push(s);
    }
}

/// CLIP as a scan starts: the model, or why it is skipped, and its setup notes.
#[derive(Default)]
struct ClipSetup {
    loaded: Option<clip::LoadedClip>,
    /// No weights found (where to put them), or found weights that cannot be used.
    skipped: Option<String>,
    notes: Vec<String>,
}

/// Loads CLIP when it is on. A model or head asked for explicitly that cannot be used is an
/// error; otherwise a CLIP that cannot run is skipped with the reason.
fn load_clip(opts: &ScanOptions, device: &burn::tensor::Device) -> Result<ClipSetup, ScanError> {
    if !opts.clip.enabled {
        return Ok(ClipSetup::default());
    }
    let explicit = opts.clip.model.is_some() || opts.clip.head.is_some();
    let skipped = |why: String| ClipSetup {
        skipped: Some(why),
        ..ClipSetup::default()
    };
    match clip::load(&opts.clip, device) {
        Ok(l) => Ok(ClipSetup {
            notes: l.notes.clone(),
            loaded: Some(l),
            skipped: None,
        }),
        Err(e) if explicit => Err(ScanError::Clip(e.to_string())),
        Err(clip::ClipJobError::NoWeights(m)) => Ok(skipped(m)),
        Err(e) => Ok(skipped(format!(
            "CLIP weights were found but cannot be used: {e}"
        ))),
    }
}

/// Counts the files found and records the folders and files discovery could not read.
fn record_discovery(found: &catalog::Discovery, summary: &mut ScanSummary) {
    summary.found = found.files.len() as u64;
    summary.folder_errors = found
        .errors
        .iter()
        .map(|(p, r)| FileError {
            path: p.display().to_string(),
            reason: r.clone(),
        })
        .collect();
    for (path, reason) in &found.file_errors {
        summary.failed += 1;
        *summary
            .failures_by_reason
            .entry(reason_kind(reason))
            .or_default() += 1;
        summary.errors.push(FileError {
            path: path.clone(),
            reason: reason.clone(),
        });
    }
}

/// The files to process (with their stored image, if any) and the ids of stored images no
/// longer on disk; counts the unchanged files and those of them that failed before.
fn triage<'a>(
    files: &'a [Found],
    known: &'a HashMap<Vec<u8>, KnownImage>,
    opts: &ScanOptions,
    summary: &mut ScanSummary,
) -> (Vec<(&'a Found, Option<&'a KnownImage>)>, Vec<i64>) {
    let seen: HashSet<&[u8]> = files.iter().map(|f| f.rel_raw.as_slice()).collect();
    let mut todo: Vec<(&Found, Option<&KnownImage>)> = Vec::new();
    for f in files {
        match known.get(&f.rel_raw) {
            Some(k)
                if !k.missing
                    && k.size == i64::try_from(f.size).ok()
                    && k.mtime_ns == Some(f.mtime_ns)
                    && signals::signals_current(k.signals_version, opts.faces, opts.hands) =>
            {
                summary.unchanged += 1;
            }
            k => todo.push((f, k)),
        }
    }
    // Unchanged files that failed before still count as failed inputs.
    summary.failed_earlier = known
        .values()
        .filter(|k| k.failed && !k.missing && seen.contains(k.path_raw.as_slice()))
        .filter(|k| !todo.iter().any(|(_, t)| t.is_some_and(|t| t.id == k.id)))
        .count() as u64;
    let missing_ids: Vec<i64> = known
        .values()
        .filter(|k| !k.missing && !seen.contains(k.path_raw.as_slice()))
        .map(|k| k.id)
        .collect();
    (todo, missing_ids)
}

/// The CLIP pass after ingest: the images the pipeline did not embed, continuing from what it
/// did (`outcome`); the pipeline's CLIP error instead when its CLIP stage stopped.
fn clip_after_ingest(
    store: &mut Store,
    opts: &ScanOptions,
    loaded: &clip::LoadedClip,
    outcome: flow::Outcome,
    pool: &rayon::ThreadPool,
    progress: &Progress,
    cancel: &AtomicBool,
) -> Result<clip::ClipSummary, String> {
    if let Some(e) = outcome.clip_error {
        return Err(e);
    }
    let prior = clip::Prior {
        embedded: outcome.embedded,
        failures: outcome.clip_failures,
        seconds: outcome.clip_seconds,
    };
    pool.install(|| {
        clip::run_after(
            store,
            &opts.root,
            loaded,
            opts.clip.batch,
            &opts.decode,
            progress,
            cancel,
            prior,
        )
    })
    .map_err(|e| e.to_string())
}

/// Rescores with the active preference scorer (unless cancelled), fills in the times and
/// memory, and records the end of the scan.
fn finish_scan(
    store: &mut Store,
    record: scan_log::ScanRecord,
    progress: &Progress,
    summary: &mut ScanSummary,
) -> Result<(), ScanError> {
    // The flywheel: new and changed images get the active preference scorer's value.
    if !summary.cancelled {
        progress.set_phase("learned preference");
        match preference::refresh_active(store) {
            Ok(r) => summary.learned = r,
            Err(e) => summary.learned_error = Some(e.to_string()),
        }
    }
    summary.seconds = progress.snapshot().elapsed_s;
    summary.peak_rss_mb = crate::memory::peak_rss_mb();
    let status = if summary.cancelled {
        "cancelled"
    } else {
        "done"
    };
    record.finish(
        store,
        status,
        &serde_json::to_string(&*summary).unwrap_or_default(),
    )?;
    progress.finish();
    Ok(())
}

/// Recomputes `size_ok` and `aspect_ok` for every current image from its stored dimensions.
pub fn update_hard_filters(store: &mut Store, filters: &FilterConfig) -> Result<(), store::Error> {
    let producer = filters.producer();
    let flag = |key: &str, ok: bool| SignalRow {
        key: key.to_string(),
        value: Some(if ok { 1.0 } else { 0.0 }),
        text: None,
        producer: producer.clone(),
    };
    let rows: Vec<(i64, SignalRow)> = store
        .dimensions()?
        .into_iter()
        .flat_map(|(id, w, h)| {
            [
                (id, flag("size_ok", filters.size_ok(w, h))),
                (id, flag("aspect_ok", filters.aspect_ok(w, h))),
            ]
        })
        .collect();
    store.set_signals(&rows)
}

/// Recomputes `dup_group` for every current image from its pHash (blank images excluded).
/// Returns the number of groups with at least two members.
pub fn update_duplicate_groups(store: &mut Store, threshold: u32) -> Result<u64, store::Error> {
    let blanks: HashSet<i64> = store
        .signal_numbers("blank")?
        .into_iter()
        .filter(|(_, v)| *v > 0.5)
        .map(|(id, _)| id)
        .collect();
    let items: Vec<(i64, u64)> = store
        .signal_texts("phash")?
        .into_iter()
        .filter(|(id, _)| !blanks.contains(id))
        .filter_map(|(id, t)| phash::from_hex(&t).map(|h| (id, h)))
        .collect();
    let groups = dedup::groups(&items, threshold);
    let producer = format!("{} threshold={threshold}", signals::DEDUP);
    let rows: Vec<(i64, SignalRow)> = items
        .iter()
        .zip(&groups)
        .map(|((id, _), g)| {
            (
                *id,
                SignalRow {
                    key: "dup_group".to_string(),
                    value: Some(*g as f64),
                    text: None,
                    producer: producer.clone(),
                },
            )
        })
        .collect();
    store.set_signals(&rows)?;
    let distinct: HashSet<i64> = groups.iter().copied().filter(|g| *g != 0).collect();
    Ok(distinct.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_vanishes_is_reported_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let found = Found {
            abs: dir.path().join("gone.png"),
            rel: "gone.png".into(),
            rel_raw: b"gone.png".to_vec(),
            size: 10,
            mtime_ns: 1,
        };
        let known = KnownImage {
            id: 7,
            path_raw: b"gone.png".to_vec(),
            version: 1,
            size: Some(5),
            mtime_ns: Some(0),
            hash: Some("x".into()),
            signals_version: Some(1),
            missing: false,
            failed: false,
        };
        let opts = ScanOptions::new(dir.path());
        let budget = flow::PixelBudget::new(opts.decode.max_pixels);
        let ctx = IngestCtx {
            opts: &opts,
            tensor: None,
            clip_size: None,
            embedded: &HashSet::new(),
            budget: &budget,
        };
        let p = prepare(0, &found, Some(&known), &ctx);
        assert!(p.vanished);
        assert_eq!(p.record.upsert, Upsert::Same { id: 7 });
        let reason = p.record.facts.error.unwrap();
        assert!(reason.contains("vanished"), "{reason}");
        assert_eq!(reason_kind(&reason), "vanished during scan");
    }

    #[test]
    fn reason_kinds() {
        assert_eq!(reason_kind("empty file (0 bytes)"), "empty");
        assert_eq!(
            reason_kind("corrupt or truncated png: x"),
            "corrupt or truncated"
        );
        assert_eq!(
            reason_kind("image is 1×1 = 0.0 MP, above the 100 MP limit; not decoded"),
            "too large"
        );
        assert_eq!(
            reason_kind("avif decoding is not built into this Assay"),
            "unsupported format"
        );
    }

    /// Any number of decode workers writes the same rows with the same ids in discovery order
    /// (the writer restores the order), with faces from the pipeline's face stage.
    #[test]
    fn workers_write_in_discovery_order() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..23u32 {
            // Sizes vary so that the workers finish out of order.
            let side = 40 + (i * 37) % 200;
            let img = image::RgbImage::from_fn(side, side, |x, y| {
                image::Rgb([(x * 3 + i) as u8, (y * 5) as u8, (x ^ y) as u8])
            });
            img.save(dir.path().join(format!("{i:02}.png"))).unwrap();
        }
        std::fs::write(dir.path().join("broken.png"), b"\x89PNG\r\n\x1a\nno").unwrap();
        let read = |jobs: usize| {
            let mut opts = ScanOptions::new(dir.path());
            opts.backend = BackendChoice::Cpu;
            opts.batch_size = 5;
            opts.jobs = Some(jobs);
            opts.clip.enabled = false;
            opts.db = Some(dir.path().join(format!("jobs{jobs}.db")));
            let progress = Progress::default();
            let s = scan(&opts, &progress, &AtomicBool::new(false)).unwrap();
            assert_eq!((s.new, s.failed), (24, 1));
            let names: Vec<&str> = s.stages.iter().map(|x| x.name.as_str()).collect();
            assert_eq!(names, ["decode", "signals", "faces", "write"]);
            assert!(s.stages.iter().all(|x| x.done == 24 || x.name == "faces"));
            assert_eq!(s.stages[2].done, 24, "every file passes the face stage");
            let store = Store::open(opts.db.as_ref().unwrap()).unwrap();
            let rows: Vec<(i64, String, usize)> = store
                .image_rows(false)
                .unwrap()
                .into_iter()
                .map(|r| (r.id, r.path, r.signals.len()))
                .collect();
            assert!(rows.iter().any(|r| r.2 > 10), "signals were written");
            rows
        };
        let one = read(1);
        assert_eq!(one.len(), 24);
        let mut sorted = one.clone();
        sorted.sort_by(|a, b| a.1.cmp(&b.1));
        assert_eq!(sorted, one, "ids follow discovery (path) order");
        assert_eq!(read(3), one);
    }

    #[test]
    fn scan_is_cancellable_and_resumable() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..6u8 {
            let img =
                image::RgbImage::from_fn(40, 40, |x, y| image::Rgb([x as u8 * i, y as u8, i]));
            img.save(dir.path().join(format!("{i}.png"))).unwrap();
        }
        let mut opts = ScanOptions::new(dir.path());
        opts.backend = BackendChoice::Cpu;
        opts.batch_size = 2;
        let cancel = AtomicBool::new(true);
        let s = scan(&opts, &Progress::default(), &cancel).unwrap();
        assert!(s.cancelled);
        assert_eq!(s.new, 0);
        let s = scan(&opts, &Progress::default(), &AtomicBool::new(false)).unwrap();
        assert!(!s.cancelled);
        assert_eq!(s.new, 6);
        assert!(dir.path().join(".assay/assay.db").exists());
    }
}
