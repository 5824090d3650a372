//! CLIP in the pipeline: loading a discovered model (and a fitting aesthetic head), embedding
//! the catalogue's images that have no embedding from that model yet, and deriving the
//! `aesthetic` and `clip_score` signals from the stored vectors. Shared by `assay scan` (the
//! last phase of [`super::scan`]), `assay embed DIR` and the GUI's scan job; `models::clip`
//! does the numerics and never touches the store, this module does the store calls.
//!
//! Incremental: an image is embedded when its current version has no vector for the model's
//! key, and its signals are (re)computed when it was embedded now or its stored signal has a
//! different producer (another model or head). A second run does nothing, except retry images
//! that failed to decode.
//!
//! # The CLIP pass
//!
//! CLIP pass (`pipeline/clip.rs`, one implementation for `assay scan`, `assay embed DIR` and the
//! GUI's scan job; `models::clip` does the numerics and never sees the store):
//! - Setup before the scan starts (`clip::load`): discovery (`--models DIR`, `$ASSAY_MODELS`, …,
//!   `models::clip` docs), the `--model` (default: first found; headers only) and a discovered
//!   aesthetic head that fits it (or `--head`). The weights load onto the scan's device on first
//!   use (`LoadedClip::clip`), so a rescan with nothing to embed or score never reads them. No
//!   weights: the summary carries `clip_skipped` with `no_weights_message` (searched folders,
//!   accepted layouts), which the CLI prints once on stderr and the GUI shows as "CLIP off" in the
//!   status bar (the message on hover); the scan goes on and its exit code does not change. Weights
//!   whose tensors fail to load stop the CLIP pass with `clip_error` (the rest of the scan is kept;
//!   exit 2). An explicit `--model`/`--head` that cannot be used stops the scan before it starts
//!   (exit 1). A discovered head is used only with the architecture it was trained on; an
//!   explicit `--head` whose input width equals the model's embedding width is used with any
//!   model, with a warning in `notes` when the model is not its architecture
//!   (`AestheticHead::check_explicit`); another width is refused. `--no-clip` (and `assay
//!   bench ingest`) turn the pass off.
//! - After ingest, filters and duplicate groups (`clip::run`): every readable, present image whose
//!   current version has no vector for the model key is decoded again (rayon, the scan's pool; the
//!   ingest batches do not keep pixels), preprocessed and embedded in batches of 16 on the device,
//!   each batch stored in one transaction (`Store::set_embeddings`). Progress restarts as phase
//!   `clip embed` (`Progress::start_phase`: counters, rate and ETA per phase; elapsed time for the
//!   whole job). Cancel is checked between batches; a file that fails to decode is listed in
//!   `clip.failures` and skipped (exit 2, retried next scan). Re-decoding costs a second decode per
//!   new file; it keeps ingest memory bounded and lets one path serve unchanged files that were
//!   catalogued before weights were installed.
//! - Signals from the stored vectors: `aesthetic` (head) and `clip_score` / `clip_prompt_truncated`
//!   (one text embedding per distinct cleaned prompt, 64 per batch) for images embedded now and for
//!   embedded images whose stored value has another producer (`Store::signal_producers`: another
//!   model or head); a second scan embeds and computes nothing (images that failed to decode are
//!   tried again). The pass reads only the ids of embedded images (`Store::embedded_image_ids`) and
//!   the stored vectors of the images whose signals are stale (`Store::embedding_vectors_for`),
//!   never the whole table (about 300 MB at 100k × 768). `clip_score` is absent (not 0) for images
//!   without a positive prompt. The summary's `clip` object reports the model key and name, head,
//!   embedded now / already / failed, images with `aesthetic` and `clip_score`, prompts truncated,
//!   images without a prompt, and images/s. `Progress` (atomics) is read by the CLI bar (count,
//!   rate, ETA) and later by the GUI status bar. Ctrl-C sets the cancel flag (a second Ctrl-C exits
//!   at once); the scan stops after the current batch and exits 130.
//! - Judges (`pipeline/judge.rs`, after this pass): HPSv2 / PickScore checkpoints found by the
//!   same discovery are loaded lazily as [`LoadedClip`]s and run through the same batch decoding
//!   (`decode_batch`, with the judge's preprocessing); their vectors are not stored.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use super::{FileError, Progress};
use crate::catalog::decode::{self, DecodeConfig};
use crate::models::clip::aesthetic::AestheticHead;
use crate::models::clip::discover::{self, Found, FoundModel};
use crate::models::clip::judge::JudgeKind;
use crate::models::clip::preprocess::Preprocess;
use crate::models::clip::tokenizer::Tokenizer;
use crate::models::clip::{Clip, ClipError, clip_score, preprocess, prompt};
use crate::signals::{self, classical};
use crate::store::{self, ImageRow, SignalRow, Store};

/// What the pipeline does about CLIP.
#[derive(Debug, Clone)]
pub struct ClipOptions {
    /// Embed and compute the CLIP signals when weights are found.
    pub enabled: bool,
    /// Folder searched first for weights and heads (`--models`).
    pub models: Option<PathBuf>,
    /// A path, or a name / architecture among the discovered models (`--model`).
    pub model: Option<String>,
    /// Aesthetic head file (`--head`; used with any model of its input width, with a warning
    /// when the model is not the head's architecture); default: a discovered head trained for
    /// the model.
    pub head: Option<PathBuf>,
    /// Images per forward pass on the device.
    pub batch: usize,
    /// The judges (HPSv2, PickScore) to run when their checkpoints are found
    /// ([`super::judge`]); all by default, none for `assay embed`.
    pub judges: Vec<JudgeKind>,
}

impl Default for ClipOptions {
    fn default() -> Self {
        Self {
            enabled: true,
            models: None,
            model: None,
            head: None,
            batch: 16,
            judges: JudgeKind::ALL.to_vec(),
        }
    }
}

/// Why CLIP could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ClipJobError {
    /// No weights were found (the message names the searched folders and the layouts).
    #[error("{0}")]
    NoWeights(String),
    #[error(transparent)]
    Clip(#[from] ClipError),
    #[error(transparent)]
    Store(#[from] store::Error),
}

/// Where to put weights, for messages: the searched folders and the accepted layouts.
pub fn no_weights_message(models: Option<&Path>) -> String {
    let roots: Vec<String> = discover::search_roots(models)
        .iter()
        .map(|(label, p)| format!("  {label}: {}", p.display()))
        .collect();
    format!(
        "no CLIP weights found. Searched:\n{}\nPut a Hugging Face CLIP folder (config.json + model.safetensors, e.g. a copy of openai/clip-vit-large-patch14), \
an open_clip folder (open_clip_config.json + open_clip_model.safetensors) or a checkpoint named after its architecture \
(e.g. ViT-B-32.safetensors) in one of them, or pass --model PATH. Aesthetic heads (sa_0_4_vit_l_14_linear.pth, \
sac+logos+ava1-l14-linearMSE.pth) go in the same folders. Nothing is downloaded.",
        roots.join("\n")
    )
}

/// The model chosen for a pass, its aesthetic head when one fits, and notes for the user (heads
/// skipped, no head for this model). The weights are loaded on first use ([`Self::clip`]): a
/// rescan with nothing to embed or score never reads them.
pub struct LoadedClip {
    /// The model on disk: files (with the key), architecture, embedding and input size.
    pub model: FoundModel,
    pub head: Option<AestheticHead>,
    pub notes: Vec<String>,
    device: burn::tensor::Device,
    clip: OnceLock<Clip>,
}

impl LoadedClip {
    /// A model on disk, loaded onto `device` on first use, without a head (a judge's model).
    pub fn lazy(model: FoundModel, device: &burn::tensor::Device) -> Self {
        Self {
            model,
            head: None,
            notes: Vec::new(),
            device: device.clone(),
            clip: OnceLock::new(),
        }
    }

    /// A model already in memory (tests, benchmarks).
    pub fn ready(clip: Clip, head: Option<AestheticHead>, notes: Vec<String>) -> Self {
        let model = FoundModel {
            files: clip.files.clone(),
            format: crate::models::clip::Format::Hf,
            arch: clip.files.arch(&clip.model.config),
            embed_dim: clip.dim(),
            image_size: clip.image_size(),
        };
        let device = clip.device().clone();
        Self {
            model,
            head,
            notes,
            device,
            clip: OnceLock::from(clip),
        }
    }

    /// The model's key (producer strings, embeddings table).
    pub fn key(&self) -> &str {
        &self.model.files.key
    }

    /// The model, loading its weights onto the device the first time.
    pub fn clip(&self) -> Result<&Clip, ClipJobError> {
        if let Some(c) = self.clip.get() {
            return Ok(c);
        }
        let c = Clip::load(&self.model.files, &self.device)?;
        Ok(self.clip.get_or_init(|| c))
    }

    /// Whether the weights have been loaded.
    pub fn is_loaded(&self) -> bool {
        self.clip.get().is_some()
    }

    /// The head's display name (its file name), if any.
    pub fn head_name(&self) -> Option<String> {
        self.head.as_ref().map(|h| {
            h.files.path.file_name().map_or_else(
                || h.files.path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            )
        })
    }
}

/// Chooses the requested (or first discovered) model and a fitting aesthetic head; reads only
/// headers and the (small) head files, the weights load on first use on `device`.
/// [`ClipJobError::NoWeights`] when nothing matches; unreadable model headers or an unfit
/// `--head` as [`ClipJobError::Clip`].
pub fn load(opts: &ClipOptions, device: &burn::tensor::Device) -> Result<LoadedClip, ClipJobError> {
    let models = opts.models.as_deref();
    let found: Vec<(PathBuf, Found)> = discover::discover(models);
    let model = match opts.model.as_deref() {
        Some(m) if Path::new(m).exists() => discover::inspect(discover::resolve(Path::new(m))?)?,
        want => {
            let Some(fm) = discover::pick(&found, want) else {
                let mut msg = no_weights_message(models);
                if let Some(m) = want {
                    msg = format!("no discovered model matches {m:?}; {msg}");
                }
                return Err(ClipJobError::NoWeights(msg));
            };
            fm
        }
    };
    let (arch, dim, name) = (model.arch, model.embed_dim, model.files.name.as_str());
    let mut notes = Vec::new();
    let head = match opts.head.as_deref() {
        Some(p) => {
            let h = AestheticHead::load(p)?;
            if let Some(warning) = h.check_explicit(arch, dim, name)? {
                notes.push(warning);
            }
            Some(h)
        }
        None => {
            let mut chosen = None;
            for hf in found.iter().flat_map(|(_, f)| f.heads.iter()) {
                let Ok(h) = AestheticHead::load(&hf.path) else {
                    continue;
                };
                match h.check_model(arch, dim, name) {
                    Ok(()) if chosen.is_none() => chosen = Some(h),
                    Ok(()) => {}
                    Err(e) => notes.push(format!("aesthetic head skipped: {e}")),
                }
            }
            chosen
        }
    };
    if head.is_none() {
        notes.push(format!(
            "no aesthetic head for {name} ({}): `aesthetic` is not computed",
            arch.unwrap_or("not a built-in architecture")
        ));
    }
    Ok(LoadedClip {
        model,
        head,
        notes,
        device: device.clone(),
        clip: OnceLock::new(),
    })
}

/// What one CLIP pass over a catalogue did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClipSummary {
    /// The model's key (producer strings, embeddings table).
    pub model: String,
    /// Its display name.
    pub model_name: String,
    /// The aesthetic head used (file name), if one fits the model.
    pub head: Option<String>,
    /// Readable, present images of the catalogue.
    pub images: usize,
    /// Embedded in this pass.
    pub embedded: usize,
    /// Already embedded by this model before the pass.
    pub already_embedded: usize,
    /// Images that could not be embedded in this pass (decoding failed).
    pub failed: usize,
    /// Images with an `aesthetic` value from this model and head after the pass.
    pub aesthetic: usize,
    /// Images with a `clip_score` from this model after the pass.
    pub clip_score: usize,
    /// Embedded images without a positive prompt (no `clip_score`).
    pub no_prompt: usize,
    /// Images whose prompt exceeded the context length (flagged `clip_prompt_truncated`).
    pub prompts_truncated: usize,
    /// Images whose signals were (re)computed in this pass.
    pub signals_computed: usize,
    pub cancelled: bool,
    pub seconds: f64,
    /// Images embedded per second in this pass.
    pub images_per_second: f64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<FileError>,
}

/// Decodes a file to RGB8 the way the scan and `assay embed` do (PIL's `convert("RGB")`).
pub fn load_rgb(path: &Path, cfg: &DecodeConfig) -> Result<(Vec<u8>, usize, usize), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read the file: {e}"))?;
    let d = decode::decode(&bytes, cfg).map_err(|e| e.to_string())?;
    drop(bytes);
    let (w, h) = (d.image.width() as usize, d.image.height() as usize);
    Ok((classical::into_rgb8_like_pil(d.image), w, h))
}

/// Embeds every readable, present image of the catalogue under `root` that has no vector from
/// `loaded`'s model (batches of `batch`, decoding in parallel on the current rayon pool), stores
/// the vectors, then computes `aesthetic` / `clip_score` where missing or stale. Progress goes
/// to `progress` (phase `clip embed`, one unit per image); `cancel` is checked between
/// batches (what finished is kept, and the signals of the embedded images are still written).
pub fn run(
    store: &mut Store,
    root: &Path,
    loaded: &LoadedClip,
    batch: usize,
    decode_cfg: &DecodeConfig,
    progress: &Progress,
    cancel: &AtomicBool,
) -> Result<ClipSummary, ClipJobError> {
    run_after(
        store,
        root,
        loaded,
        batch,
        decode_cfg,
        progress,
        cancel,
        Prior::default(),
    )
}

/// What a scan's pipeline already did with the model, from its single decode of each file.
#[derive(Debug, Default)]
pub struct Prior {
    /// Images embedded (and stored) by the pipeline.
    pub embedded: Vec<i64>,
    /// Images the pipeline could not embed (id, path, reason): not tried again in this pass.
    pub failures: Vec<(i64, FileError)>,
    /// Seconds the pipeline's CLIP stage worked.
    pub seconds: f64,
}

/// [`run`] after a scan's pipeline: the images it embedded count as embedded in this pass
/// (their signals are computed here), those it could not embed are reported, and only the
/// rest (images catalogued earlier without a vector from this model) are decoded again.
#[allow(clippy::too_many_arguments)]
pub fn run_after(
    store: &mut Store,
    root: &Path,
    loaded: &LoadedClip,
    batch: usize,
    decode_cfg: &DecodeConfig,
    progress: &Progress,
    cancel: &AtomicBool,
    prior: Prior,
) -> Result<ClipSummary, ClipJobError> {
    let t0 = Instant::now();
    let key = loaded.key().to_string();
    let rows: Vec<ImageRow> = store
        .image_rows(false)?
        .into_iter()
        .filter(|r| r.error.is_none() && !r.missing)
        .collect();
    // Only the ids: the vectors are read later, and only for images whose signals need them.
    let mut have: HashSet<i64> = store.embedded_image_ids(&key)?;
    let mut vectors: HashMap<i64, Vec<f32>> = HashMap::new();
    let mut embedded_now: Vec<i64> = prior.embedded;
    let prior_ids: HashSet<i64> = embedded_now.iter().copied().collect();
    let skip: HashSet<i64> = prior.failures.iter().map(|(id, _)| *id).collect();
    let mut sum = ClipSummary {
        model: key.clone(),
        model_name: loaded.model.files.name.clone(),
        head: loaded.head_name(),
        images: rows.len(),
        already_embedded: rows
            .iter()
            .filter(|r| have.contains(&r.id) && !prior_ids.contains(&r.id))
            .count(),
        embedded: embedded_now.len(),
        failed: prior.failures.len(),
        failures: prior.failures.into_iter().map(|(_, f)| f).collect(),
        ..ClipSummary::default()
    };
    let todo: Vec<&ImageRow> = rows
        .iter()
        .filter(|r| !have.contains(&r.id) && !skip.contains(&r.id))
        .collect();
    progress.start_phase("clip embed", todo.len() as u64);
    let size = loaded.model.image_size;
    for chunk in todo.chunks(batch.max(1)) {
        if cancel.load(Ordering::Relaxed) {
            sum.cancelled = true;
            break;
        }
        let Batch {
            pixels: px,
            ids,
            failures,
        } = decode_batch(chunk, root, decode_cfg, Preprocess::CenterCrop, size);
        let n_failed = failures.len();
        sum.failures.extend(failures);
        let emb = if ids.is_empty() {
            Vec::new()
        } else {
            loaded.clip()?.embed_pixels(px, ids.len())?
        };
        let write: Vec<(i64, String, Vec<f32>)> = ids
            .iter()
            .zip(&emb)
            .map(|(id, e)| (*id, key.clone(), e.clone()))
            .collect();
        store.set_embeddings(&write)?;
        sum.embedded += write.len();
        sum.failed += n_failed;
        for (id, e) in ids.into_iter().zip(emb) {
            have.insert(id);
            vectors.insert(id, e);
            embedded_now.push(id);
        }
        progress.advance(chunk.len() as u64, n_failed as u64);
    }
    let secs = t0.elapsed().as_secs_f64() + prior.seconds;
    sum.images_per_second = if secs > 0.0 {
        sum.embedded as f64 / secs
    } else {
        0.0
    };

    progress.set_phase("clip signals");
    let signal_rows = signal_rows(
        store,
        loaded,
        &rows,
        &have,
        vectors,
        &embedded_now,
        &mut sum,
    )?;
    store.set_signals(&signal_rows)?;
    sum.seconds = t0.elapsed().as_secs_f64() + prior.seconds;
    Ok(sum)
}

/// One batch of images decoded and preprocessed for a model: the normalised pixels of those that
/// worked (`ids`, in order) and the files that failed.
pub(super) struct Batch {
    pub pixels: Vec<f32>,
    pub ids: Vec<i64>,
    pub failures: Vec<FileError>,
}

/// Decodes `chunk` (rayon, the current pool) and preprocesses each image the way `how` says at
/// `size`; the model then runs on the whole batch. Shared by the CLIP pass and the judges.
pub(super) fn decode_batch(
    chunk: &[&ImageRow],
    root: &Path,
    decode_cfg: &DecodeConfig,
    how: Preprocess,
    size: usize,
) -> Batch {
    let crops: Vec<Result<Vec<u8>, String>> = chunk
        .par_iter()
        .map(|r| {
            let (rgb, w, h) = load_rgb(&crate::export::absolute_path(root, r), decode_cfg)?;
            how.apply(&rgb, w, h, size).ok_or_else(|| {
                format!(
                    "image of {w}x{h} pixels cannot be preprocessed for CLIP (empty, or \
                         more elongated than {}:1)",
                    preprocess::MAX_ASPECT
                )
            })
        })
        .collect();
    let mut batch = Batch {
        pixels: Vec::with_capacity(chunk.len() * 3 * size * size),
        ids: Vec::new(),
        failures: Vec::new(),
    };
    for (r, c) in chunk.iter().zip(crops) {
        match c {
            Ok(crop) => {
                preprocess::normalize_into(&crop, &mut batch.pixels);
                batch.ids.push(r.id);
            }
            Err(reason) => batch.failures.push(FileError {
                path: r.path.clone(),
                reason,
            }),
        }
    }
    batch
}

/// The `aesthetic`, `clip_score` and `clip_prompt_truncated` rows to write: for images embedded
/// now, and for embedded images whose stored value has another producer (or none). Counts
/// what exists after the write into `sum`. `have` holds every image with a vector; `vectors`
/// those embedded now, and the stored vectors of the stale ones are read here.
fn signal_rows(
    store: &Store,
    loaded: &LoadedClip,
    rows: &[ImageRow],
    have: &HashSet<i64>,
    mut vectors: HashMap<i64, Vec<f32>>,
    embedded_now: &[i64],
    sum: &mut ClipSummary,
) -> Result<Vec<(i64, SignalRow)>, ClipJobError> {
    let key = loaded.key();
    let fresh: HashSet<i64> = embedded_now.iter().copied().collect();
    let aesthetic_producer = loaded
        .head
        .as_ref()
        .map(|h| format!("{}:{}", signals::AESTHETIC, h.producer(key)));
    let score_producer = format!("{}:{key}", signals::CLIP_SCORE);
    let stored_aesthetic = store.signal_producers("aesthetic")?;
    let stored_score = store.signal_producers("clip_score")?;
    let stale = |stored: &HashMap<i64, String>, id: i64, want: &str| {
        fresh.contains(&id) || stored.get(&id).map(String::as_str) != Some(want)
    };
    let cleaned_prompt = |r: &ImageRow| {
        r.positive
            .as_deref()
            .map(prompt::clean_prompt)
            .unwrap_or_default()
    };
    let need: Vec<i64> = rows
        .iter()
        .filter(|r| have.contains(&r.id) && !vectors.contains_key(&r.id))
        .filter(|r| {
            aesthetic_producer
                .as_ref()
                .is_some_and(|p| stale(&stored_aesthetic, r.id, p))
                || (stale(&stored_score, r.id, &score_producer) && !cleaned_prompt(r).is_empty())
        })
        .map(|r| r.id)
        .collect();
    vectors.extend(store.embedding_vectors_for(key, &need)?);

    let mut out: Vec<(i64, SignalRow)> = Vec::new();
    let mut computed: HashSet<i64> = HashSet::new();
    if let (Some(h), Some(producer)) = (&loaded.head, &aesthetic_producer) {
        for r in rows {
            if !have.contains(&r.id) {
                continue;
            }
            if !stale(&stored_aesthetic, r.id, producer) {
                sum.aesthetic += 1;
                continue;
            }
            if let Some(v) = vectors.get(&r.id)
                && let Ok(s) = h.score(v)
            {
                out.push((r.id, number("aesthetic", s, producer)));
                computed.insert(r.id);
                sum.aesthetic += 1;
            }
        }
    }

    // clip_score: one text embedding per distinct cleaned prompt that needs a score.
    let mut prompts: Vec<String> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut prompt_of: Vec<(i64, usize)> = Vec::new();
    for r in rows {
        if !have.contains(&r.id) {
            continue;
        }
        let cleaned = cleaned_prompt(r);
        if cleaned.is_empty() {
            sum.no_prompt += 1;
            continue;
        }
        if !stale(&stored_score, r.id, &score_producer) {
            sum.clip_score += 1;
            if r.signals
                .get("clip_prompt_truncated")
                .is_some_and(|v| matches!(v, crate::store::SignalValue::Number(x) if *x > 0.5))
            {
                sum.prompts_truncated += 1;
            }
            continue;
        }
        let n = prompts.len();
        let i = *index.entry(cleaned.clone()).or_insert_with(|| {
            prompts.push(cleaned);
            n
        });
        prompt_of.push((r.id, i));
    }
    let mut tokens = Vec::with_capacity(prompts.len());
    let mut temb = Vec::with_capacity(prompts.len());
    if !prompts.is_empty() {
        let clip = loaded.clip()?;
        let tok = Tokenizer::shared()?;
        let ctx = clip.model.text.context_length;
        tokens = prompts.iter().map(|p| tok.tokenize(p, ctx)).collect();
        for chunk in tokens.chunks(64) {
            let ids: Vec<Vec<i64>> = chunk.iter().map(|t| t.ids.clone()).collect();
            temb.extend(clip.embed_tokens(&ids)?);
        }
    }
    for (id, i) in prompt_of {
        let (Some(v), Some(t), Some(tk)) = (vectors.get(&id), temb.get(i), tokens.get(i)) else {
            continue;
        };
        out.push((id, number("clip_score", clip_score(v, t), &score_producer)));
        out.push((
            id,
            number(
                "clip_prompt_truncated",
                f64::from(u8::from(tk.truncated)),
                &score_producer,
            ),
        ));
        computed.insert(id);
        sum.clip_score += 1;
        sum.prompts_truncated += usize::from(tk.truncated);
    }
    sum.signals_computed = computed.len();
    Ok(out)
}

/// A numeric signal row (also the judges' rows, `pipeline::judge`).
pub(super) fn number(key: &str, value: f64, producer: &str) -> SignalRow {
    SignalRow {
        key: key.to_string(),
        value: Some(value),
        text: None,
        producer: producer.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::backend::{self, BackendChoice};
    use crate::models::clip::ClipConfig;
    use crate::pipeline::{ScanOptions, scan};

    fn data() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
    }

    /// [`run`] with default decoding and progress, never cancelled.
    fn run_all(store: &mut Store, root: &Path, l: &LoadedClip, batch: usize) -> ClipSummary {
        let never = AtomicBool::new(false);
        let cfg = DecodeConfig::default();
        run(store, root, l, batch, &cfg, &Progress::default(), &never).expect("run")
    }

    /// The tiny reference architecture with 512-d projections (random weights), so that the
    /// ViT-B/32 LAION head can score its embeddings; the head is attached without the
    /// architecture check, which `load` would (rightly) refuse.
    fn tiny_512_with_head(device: &burn::tensor::Device, seed: u64) -> LoadedClip {
        let mut cfg: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(data().join("clip_tiny/hf/config.json")).expect("config"),
        )
        .expect("json");
        cfg["projection_dim"] = 512.into();
        let cfg = ClipConfig::from_hf_json(&cfg.to_string()).expect("config");
        let clip = Clip::random(&cfg, device, seed).expect("model");
        let head = AestheticHead::load(&data().join("clip_tiny/heads/sa_0_4_vit_b_32_linear.pth"))
            .expect("head");
        LoadedClip::ready(clip, Some(head), Vec::new())
    }

    #[test]
    fn embeds_once_scores_aesthetic_and_recomputes_for_another_model() {
        let dir = tempfile::tempdir().expect("tempdir");
        for i in 0..3u8 {
            let img = image::RgbImage::from_fn(48 + u32::from(i) * 10, 40, |x, y| {
                image::Rgb([(x * 5) as u8, (y * 3 + u32::from(i) * 40) as u8, i * 60])
            });
            img.save(dir.path().join(format!("{i}.png"))).expect("save");
        }
        std::fs::write(dir.path().join("bad.png"), b"\x89PNG\r\n\x1a\nnope").expect("write");
        let mut opts = ScanOptions::new(dir.path());
        opts.backend = BackendChoice::Cpu;
        opts.faces = false;
        opts.clip.enabled = false;
        let s = scan(&opts, &Progress::default(), &AtomicBool::new(false)).expect("scan");
        assert!(s.clip.is_none() && s.clip_skipped.is_none(), "CLIP off");

        let device = backend::select(BackendChoice::Cpu).expect("backend").device;
        let a = tiny_512_with_head(&device, 1);
        let (db, _) = opts.db_path();
        let mut store = Store::open(&db).expect("store");
        let cfg = DecodeConfig::default();
        let never = AtomicBool::new(false);

        // Cancelled before the first batch: nothing embedded, nothing scored.
        let c = run(
            &mut store,
            dir.path(),
            &a,
            2,
            &cfg,
            &Progress::default(),
            &AtomicBool::new(true),
        )
        .expect("run");
        assert!(c.cancelled);
        assert_eq!((c.embedded, c.aesthetic), (0, 0));

        let progress = Progress::default();
        let c = run(&mut store, dir.path(), &a, 2, &cfg, &progress, &never).expect("run");
        assert_eq!(
            (c.images, c.embedded, c.failed),
            (3, 3, 0),
            "bad.png is not a row to embed"
        );
        assert_eq!(c.aesthetic, 3);
        assert_eq!(c.no_prompt, 3);
        assert_eq!(c.clip_score, 0, "no prompts, no clip_score");
        let snap = progress.snapshot();
        assert_eq!((snap.done, snap.total), (3, 3));

        let embedded: Vec<i64> = store
            .embedded_image_ids(a.key())
            .expect("ids")
            .into_iter()
            .collect();
        let vectors = store
            .embedding_vectors_for(a.key(), &embedded)
            .expect("vectors");
        let stored: HashMap<i64, f64> = store
            .signal_numbers("aesthetic")
            .expect("aesthetic")
            .into_iter()
            .collect();
        let producers = store.signal_producers("aesthetic").expect("producers");
        let head = a.head.as_ref().expect("head");
        assert_eq!(vectors.len(), 3);
        for (id, v) in &vectors {
            assert_eq!(v.len(), 512);
            let want = head.score(v).expect("score");
            assert!(
                (stored[id] - want).abs() < 1e-12,
                "{} vs {want}",
                stored[id]
            );
            assert!(producers[id].contains(a.key()), "{}", producers[id]);
            assert!(producers[id].starts_with(signals::AESTHETIC));
        }

        // Incremental: nothing to embed or score again.
        let c = run_all(&mut store, dir.path(), &a, 2);
        assert_eq!(
            (c.embedded, c.already_embedded, c.signals_computed),
            (0, 3, 0)
        );
        assert_eq!(c.aesthetic, 3);

        // Another model: its own embeddings, and `aesthetic` follows it.
        let b = tiny_512_with_head(&device, 2);
        let c = run_all(&mut store, dir.path(), &b, 8);
        assert_eq!((c.embedded, c.signals_computed, c.aesthetic), (3, 3, 3));
        let producers = store.signal_producers("aesthetic").expect("producers");
        assert!(producers.values().all(|p| p.contains(b.key())));

        // Back to the first model: nothing to embed, and `aesthetic` is recomputed from its
        // stored vectors (read only for the stale images).
        let c = run_all(&mut store, dir.path(), &a, 8);
        assert_eq!(
            (c.embedded, c.already_embedded, c.signals_computed),
            (0, 3, 3)
        );
        let again: HashMap<i64, f64> = store
            .signal_numbers("aesthetic")
            .expect("aesthetic")
            .into_iter()
            .collect();
        for (id, v) in &vectors {
            assert!((again[id] - head.score(v).expect("score")).abs() < 1e-12);
        }

        // Without a head: embeddings only, no aesthetic counted.
        let none = LoadedClip {
            head: None,
            ..tiny_512_with_head(&device, 3)
        };
        let c = run_all(&mut store, dir.path(), &none, 8);
        assert_eq!((c.embedded, c.aesthetic, c.head.as_deref()), (3, 0, None));
    }

    #[test]
    fn a_file_that_no_longer_decodes_is_reported_and_skipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        for i in 0..3u8 {
            image::RgbImage::from_fn(40, 30, |x, y| image::Rgb([x as u8 * i, y as u8, 9]))
                .save(dir.path().join(format!("{i}.png")))
                .expect("save");
        }
        let mut opts = ScanOptions::new(dir.path());
        opts.backend = BackendChoice::Cpu;
        opts.faces = false;
        opts.clip.enabled = false;
        scan(&opts, &Progress::default(), &AtomicBool::new(false)).expect("scan");
        // Catalogued as readable, then broken on disk before the CLIP pass reads it again.
        std::fs::write(dir.path().join("1.png"), b"\x89PNG\r\n\x1a\ngone").expect("write");
        let device = backend::select(BackendChoice::Cpu).expect("backend").device;
        let l = tiny_512_with_head(&device, 4);
        let (db, _) = opts.db_path();
        let mut store = Store::open(&db).expect("store");
        let progress = Progress::default();
        let c = run(
            &mut store,
            dir.path(),
            &l,
            16,
            &DecodeConfig::default(),
            &progress,
            &AtomicBool::new(false),
        )
        .expect("run");
        assert_eq!((c.embedded, c.failed), (2, 1));
        assert_eq!(c.failures.len(), 1);
        assert_eq!(c.failures[0].path, "1.png");
        assert_eq!(progress.snapshot().failed, 1);
        let v = store.embedding_vectors(l.key()).expect("vectors");
        assert!(v.contains_key("0.png") && v.contains_key("2.png") && !v.contains_key("1.png"));
        assert_eq!(c.aesthetic, 2);
    }

    #[test]
    fn weights_load_only_when_there_is_work() {
        let dir = tempfile::tempdir().expect("tempdir");
        image::RgbImage::from_fn(50, 40, |x, y| image::Rgb([x as u8, y as u8, 7]))
            .save(dir.path().join("a.png"))
            .expect("save");
        let mut opts = ScanOptions::new(dir.path());
        opts.backend = BackendChoice::Cpu;
        opts.faces = false;
        opts.clip.enabled = false;
        scan(&opts, &Progress::default(), &AtomicBool::new(false)).expect("scan");
        let device = backend::select(BackendChoice::Cpu).expect("backend").device;
        let clip_opts = ClipOptions {
            model: Some(data().join("clip_tiny/hf").display().to_string()),
            ..ClipOptions::default()
        };
        let (db, _) = opts.db_path();
        let mut store = Store::open(&db).expect("store");
        let l = load(&clip_opts, &device).expect("plan");
        assert!(!l.is_loaded(), "choosing a model reads headers only");
        let c = run_all(&mut store, dir.path(), &l, 4);
        assert_eq!(c.embedded, 1);
        assert!(l.is_loaded());
        assert_eq!(l.key(), l.clip().expect("clip").model_key());
        let l = load(&clip_opts, &device).expect("plan");
        let c = run_all(&mut store, dir.path(), &l, 4);
        assert_eq!((c.embedded, c.already_embedded), (0, 1));
        assert!(!l.is_loaded(), "nothing to do: the weights were not read");
    }

    #[test]
    fn no_weights_is_its_own_error_with_the_searched_folders() {
        let dir = tempfile::tempdir().expect("tempdir");
        let device = backend::select(BackendChoice::Cpu).expect("backend").device;
        let opts = ClipOptions {
            models: Some(dir.path().to_path_buf()),
            model: Some("no-such-model-anywhere".into()),
            ..ClipOptions::default()
        };
        match load(&opts, &device) {
            Err(ClipJobError::NoWeights(m)) => {
                assert!(m.contains("no-such-model-anywhere"), "{m}");
                assert!(m.contains(&dir.path().display().to_string()), "{m}");
            }
            Err(e) => panic!("wrong error: {e}"),
            Ok(_) => panic!("found a model"),
        }
    }
}
