//! Jobs: the scan (ingest + classical signals) runs here, for the CLI and the GUI alike.
//!
//! A scan discovers files, skips those whose size and mtime are unchanged (and whose signals are
//! current), then processes the rest in batches: files are read, hashed, decoded and parsed in
//! parallel (rayon), signals are computed (plain Rust per image on the CPU, or batched burn
//! tensors on a GPU), faces are detected (MTCNN on the selected device, unless turned off), and
//! each batch is committed in one transaction. When CLIP weights are found (and CLIP is not
//! turned off), a last phase embeds the images without an embedding from that model and
//! computes `aesthetic` / `clip_score` ([`clip`]). Cancellation is checked
//! between batches: what finished is kept. Bad files never stop a scan; each gets a reason.

pub mod clip;
pub mod preference;
pub mod progress;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;
use serde::Serialize;

use crate::catalog::decode::{self, DecodeConfig};
use crate::catalog::{self, Found};
use crate::metadata;
use crate::models::backend::{self, BackendChoice};
use crate::models::mtcnn::{self, Mtcnn, RgbImage};
use crate::signals::filters::FilterConfig;
use crate::signals::{self, classical, dedup, faces, phash, tensor};
use crate::store::{self, IngestRecord, KnownImage, MetadataRow, SignalRow, Store, Upsert};
pub use progress::{Progress, Snapshot};

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
    /// CLIP embeddings, `aesthetic` and `clip_score` when weights are found.
    pub clip: clip::ClipOptions,
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
            clip: clip::ClipOptions::default(),
        }
    }

    /// The database to use (see [`Store::locate`]) and whether it is the per-user fallback
    /// for a read-only collection.
    pub fn db_path(&self) -> (PathBuf, bool) {
        Store::locate(&self.root, self.db.as_deref(), true)
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
    /// Whether faces were detected in this scan, and in how many of its images.
    pub faces: bool,
    pub images_with_faces: u64,
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
    /// The active preference scorer rescored the collection (absent without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub learned: Option<preference::Refreshed>,
    /// Rescoring with the active preference scorer failed (the scan itself is kept).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub learned_error: Option<String>,
    pub cancelled: bool,
    pub seconds: f64,
    pub files_per_second: f64,
}

impl ScanSummary {
    /// Whether some inputs failed (exit code 2).
    pub fn has_failures(&self) -> bool {
        self.failed > 0
            || self.failed_earlier > 0
            || !self.folder_errors.is_empty()
            || self.clip.as_ref().is_some_and(|c| c.failed > 0)
            || self.clip_error.is_some()
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
    /// The CLIP model or head asked for explicitly (`--model`, `--head`) cannot be used.
    #[error("CLIP: {0}")]
    Clip(String),
}

/// The kind of a failure, for the per-reason counts.
fn reason_kind(reason: &str) -> String {
    let r = reason.to_ascii_lowercase();
    let kind = if r.contains("empty file") {
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

/// A file read, decoded and measured, before it is written.
struct Prepared {
    record: IngestRecord,
    /// Kept only for the batched tensor path.
    rgb: Option<(u32, u32, Vec<u8>)>,
    alpha_zero: bool,
    vanished: bool,
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

fn prepare(
    found: &Found,
    old: Option<&KnownImage>,
    opts: &ScanOptions,
    keep_rgb: bool,
) -> Prepared {
    let mut facts = store::ImageFacts {
        path: found.rel.clone(),
        path_raw: found.rel_raw.clone(),
        size: i64::try_from(found.size).unwrap_or(i64::MAX),
        mtime_ns: found.mtime_ns,
        ..Default::default()
    };
    let upsert_for = |hash: Option<&str>| match old {
        None => Upsert::New,
        Some(k) => match (&k.hash, hash) {
            (Some(a), Some(b)) if a != b => Upsert::NewVersion {
                old_id: k.id,
                old_version: k.version,
            },
            _ => Upsert::Same { id: k.id },
        },
    };
    let failed = |facts: store::ImageFacts, reason: String, vanished: bool| Prepared {
        record: IngestRecord {
            upsert: upsert_for(facts.hash.as_deref()),
            facts: store::ImageFacts {
                error: Some(reason),
                ..facts
            },
            metadata: None,
            signals: Vec::new(),
            signals_version: Some(signals::signal_set_version(opts.faces)),
        },
        rgb: None,
        alpha_zero: false,
        vanished,
    };
    if found.size > opts.max_file_bytes {
        let reason = format!(
            "file is {} bytes, above the {} byte limit; not read",
            found.size, opts.max_file_bytes
        );
        return failed(facts, reason, false);
    }
    let bytes = match std::fs::read(&found.abs) {
        Ok(b) => b,
        Err(e) => {
            let vanished = e.kind() == std::io::ErrorKind::NotFound;
            return failed(facts, io_reason(&e), vanished);
        }
    };
    facts.size = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
    facts.hash = Some(catalog::content_hash(&bytes));
    let info = metadata::container_info(&bytes);
    facts.frames = Some(info.frames);
    let probe = decode::probe(&bytes);
    facts.format = probe.format.map(str::to_string);
    facts.width = probe.width;
    facts.height = probe.height;

    let decoded = decode::decode(&bytes, &opts.decode);
    let (rgba_for_meta, decoded) = match decoded {
        Ok(d) => {
            let rgba = d.image.color().has_alpha().then(|| d.image.to_rgba8());
            (rgba, Ok(d))
        }
        Err(e) => (None, Err(e)),
    };
    let meta = metadata::read_metadata(
        &bytes,
        rgba_for_meta
            .as_ref()
            .map(|i| (i.width(), i.height(), i.as_raw().as_slice())),
        &opts.metadata_limits,
    );
    drop(rgba_for_meta);
    let mut warnings = meta.warnings.clone();
    if let Some(fmt) = probe.format
        && let Some(w) = extension_warning(found, fmt)
    {
        warnings.push(w);
    }
    let metadata_row = MetadataRow {
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
        warnings_json: serde_json::to_string(&warnings).unwrap_or_else(|_| "[]".to_string()),
    };
    let upsert = upsert_for(facts.hash.as_deref());
    let d = match decoded {
        Ok(d) => d,
        Err(e) => {
            let mut p = failed(facts, e.to_string(), false);
            p.record.metadata = Some(metadata_row);
            return p;
        }
    };
    facts.width = Some(d.width);
    facts.height = Some(d.height);
    facts.orientation = Some(d.orientation);
    let alpha_zero = classical::alpha_all_zero(&d.image);
    // RGB8 exactly as PIL's convert("RGB") (16-bit: high byte), the peers' convention.
    let rgb = classical::rgb8_like_pil(&d.image);
    let (w, h) = (d.image.width(), d.image.height());
    drop(d.image);
    let hashes = phash::hashes(&rgb, w as usize, h as usize);
    let mut rows = Vec::new();
    if !keep_rgb {
        let c = classical::compute(&rgb, w as usize, h as usize);
        rows = classical_rows(&c, c.blank || alpha_zero);
    }
    let keep = (keep_rgb || opts.faces).then_some((w, h, rgb));
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
    Prepared {
        record: IngestRecord {
            upsert,
            facts,
            metadata: Some(metadata_row),
            signals: rows,
            signals_version: Some(signals::signal_set_version(opts.faces)),
        },
        rgb: keep,
        alpha_zero,
        vanished: false,
    }
}

/// Face signals of every decoded image of the batch (MTCNN; same-size images share batches).
/// Returns how many images have at least one face.
fn face_signals(detector: &Mtcnn, batch: &mut [Prepared]) -> Result<u64, mtcnn::MtcnnError> {
    let idx: Vec<usize> = (0..batch.len())
        .filter(|&i| batch[i].rgb.is_some())
        .collect();
    let detections = {
        let images: Vec<RgbImage<'_>> = idx
            .iter()
            .filter_map(|&i| batch[i].rgb.as_ref())
            .map(|(w, h, rgb)| RgbImage {
                data: rgb,
                width: *w as usize,
                height: *h as usize,
            })
            .collect();
        detector.detect_batch(&images)?
    };
    let mut with_faces = 0;
    for (&i, d) in idx.iter().zip(detections) {
        let p = &mut batch[i];
        let Some((w, h, rgb)) = &p.rgb else { continue };
        let s = faces::compute(&d.faces, rgb, *w as usize, *h as usize);
        with_faces += u64::from(s.face_count > 0);
        let row = |key: &str, value: Option<f64>, text: Option<String>| SignalRow {
            key: key.to_string(),
            value,
            text,
            producer: faces::FACES.to_string(),
        };
        let rows = &mut p.record.signals;
        rows.push(row("face_count", Some(s.face_count as f64), None));
        if let Some(c) = s.face_conf_min {
            rows.push(row("face_conf_min", Some(c), None));
        }
        rows.push(row("face_area_max", Some(s.face_area_max), None));
        if let Some(d) = s.face_defect {
            rows.push(row("face_defect", Some(d), None));
        }
        rows.push(row("face_boxes", None, Some(faces::boxes_json(&s))));
    }
    Ok(with_faces)
}

/// Batched tensor path: groups the prepared images by size and runs each group on the device.
fn tensor_signals(device: &burn::tensor::Device, batch: &mut [Prepared]) {
    let mut by_size: HashMap<(u32, u32), Vec<usize>> = HashMap::new();
    for (i, p) in batch.iter().enumerate() {
        if let Some((w, h, _)) = &p.rgb {
            by_size.entry((*w, *h)).or_default().push(i);
        }
    }
    let mut sizes: Vec<_> = by_size.into_iter().collect();
    sizes.sort_by_key(|(k, _)| *k);
    for ((w, h), idx) in sizes {
        let results = {
            let imgs: Vec<&[u8]> = idx
                .iter()
                .filter_map(|&i| {
                    batch
                        .get(i)
                        .and_then(|p| p.rgb.as_ref())
                        .map(|r| r.2.as_slice())
                })
                .collect();
            tensor::compute_batch(device, &imgs, w as usize, h as usize)
        };
        for (&i, c) in idx.iter().zip(results) {
            if let Some(p) = batch.get_mut(i) {
                let blank = c.blank || p.alpha_zero;
                let mut rows = classical_rows(&c, blank);
                rows.append(&mut p.record.signals);
                p.record.signals = rows;
                p.rgb = None;
            }
        }
    }
}

/// Runs a scan of `opts.root`. Per-file problems are reported in the summary, never returned.
pub fn scan(
    opts: &ScanOptions,
    progress: &Progress,
    cancel: &AtomicBool,
) -> Result<ScanSummary, ScanError> {
    if !opts.root.is_dir() {
        return Err(ScanError::NotAFolder {
            path: opts.root.clone(),
        });
    }
    let (db_path, fallback) = opts.db_path();
    let mut store = Store::open(&db_path)?;
    let selected = backend::select(opts.backend)?;
    let detector = if opts.faces {
        Some(Mtcnn::new(&selected.device)?)
    } else {
        None
    };
    let mut clip_skipped = None;
    let mut clip_notes = Vec::new();
    let loaded = if opts.clip.enabled {
        let explicit = opts.clip.model.is_some() || opts.clip.head.is_some();
        match clip::load(&opts.clip, &selected.device) {
            Ok(l) => {
                clip_notes.clone_from(&l.notes);
                Some(l)
            }
            Err(e) if explicit => return Err(ScanError::Clip(e.to_string())),
            Err(clip::ClipJobError::NoWeights(m)) => {
                clip_skipped = Some(m);
                None
            }
            Err(e) => {
                clip_skipped = Some(format!("CLIP weights were found but cannot be used: {e}"));
                None
            }
        }
    } else {
        None
    };
    let scan_id = store.begin_scan()?;
    let mut summary = ScanSummary {
        root: opts.root.display().to_string(),
        database: db_path.display().to_string(),
        database_fallback: fallback,
        backend: if selected.tensor_signals {
            selected.describe()
        } else {
            "plain Rust (CPU)".to_string()
        },
        faces: opts.faces,
        clip_skipped,
        clip_notes,
        ..Default::default()
    };

    progress.set_phase("discover");
    let found = catalog::discover(&opts.root);
    summary.found = found.files.len() as u64;
    summary.folder_errors = found
        .errors
        .iter()
        .map(|(p, r)| FileError {
            path: p.display().to_string(),
            reason: r.clone(),
        })
        .collect();

    let known: HashMap<Vec<u8>, KnownImage> = store
        .known_images()?
        .into_iter()
        .map(|k| (k.path_raw.clone(), k))
        .collect();
    let seen: HashSet<&[u8]> = found.files.iter().map(|f| f.rel_raw.as_slice()).collect();
    let mut todo: Vec<(&Found, Option<&KnownImage>)> = Vec::new();
    for f in &found.files {
        match known.get(&f.rel_raw) {
            Some(k)
                if !k.missing
                    && k.size == i64::try_from(f.size).ok()
                    && k.mtime_ns == Some(f.mtime_ns)
                    && signals::signals_current(k.signals_version, opts.faces) =>
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
    let mut missing_ids: Vec<i64> = known
        .values()
        .filter(|k| !k.missing && !seen.contains(k.path_raw.as_slice()))
        .map(|k| k.id)
        .collect();

    progress.set_phase(if opts.faces { "scan + faces" } else { "scan" });
    progress.set_total(todo.len() as u64);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.unwrap_or(0))
        .thread_name(|i| format!("assay-scan-{i}"))
        .build()?;
    let keep_rgb = selected.tensor_signals;
    for chunk in todo.chunks(opts.batch_size.max(1)) {
        if cancel.load(Ordering::Relaxed) {
            summary.cancelled = true;
            break;
        }
        let mut prepared: Vec<Prepared> = pool.install(|| {
            chunk
                .par_iter()
                .map(|(f, k)| prepare(f, *k, opts, keep_rgb))
                .collect()
        });
        if let Some(detector) = &detector {
            summary.images_with_faces += face_signals(detector, &mut prepared)?;
        }
        if keep_rgb {
            tensor_signals(&selected.device, &mut prepared);
        }
        for p in &mut prepared {
            p.rgb = None;
        }
        let mut records = Vec::with_capacity(prepared.len());
        let mut n_failed = 0;
        for p in prepared {
            if let Some(reason) = &p.record.facts.error {
                n_failed += 1;
                summary.failed += 1;
                *summary
                    .failures_by_reason
                    .entry(reason_kind(reason))
                    .or_default() += 1;
                summary.errors.push(FileError {
                    path: p.record.facts.path.clone(),
                    reason: reason.clone(),
                });
            }
            if p.vanished {
                if let Upsert::Same { id } = p.record.upsert {
                    missing_ids.push(id);
                }
                continue;
            }
            match p.record.upsert {
                Upsert::New => summary.new += 1,
                Upsert::NewVersion { .. } => summary.changed += 1,
                Upsert::Same { .. } => summary.refreshed += 1,
            }
            records.push(p.record);
        }
        store.write_ingest(&records)?;
        progress.advance(chunk.len() as u64, n_failed);
    }
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
        let r = pool.install(|| {
            clip::run(
                &mut store,
                &opts.root,
                l,
                opts.clip.batch,
                &opts.decode,
                progress,
                cancel,
            )
        });
        match r {
            Ok(c) => {
                summary.cancelled |= c.cancelled;
                summary.clip = Some(c);
            }
            Err(e) => summary.clip_error = Some(e.to_string()),
        }
    }
    // The flywheel: new and changed images get the active preference scorer's value.
    if !summary.cancelled {
        progress.set_phase("learned preference");
        match preference::refresh_active(&mut store) {
            Ok(r) => summary.learned = r,
            Err(e) => summary.learned_error = Some(e.to_string()),
        }
    }
    summary.seconds = progress.snapshot().elapsed_s;
    let status = if summary.cancelled {
        "cancelled"
    } else {
        "done"
    };
    store.finish_scan(
        scan_id,
        status,
        &serde_json::to_string(&summary).unwrap_or_default(),
    )?;
    progress.finish();
    Ok(summary)
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
        let p = prepare(&found, Some(&known), &ScanOptions::new(dir.path()), false);
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
