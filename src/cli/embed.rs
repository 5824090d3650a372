//! `assay embed`: CLIP embeddings and the `aesthetic` / `clip_score` signals.
//!
//! - `assay embed DIR`: a scanned collection. Runs the pipeline's CLIP pass
//!   ([`crate::pipeline::clip::run`], the same code as the last phase of `assay scan`): images
//!   without an embedding from this model are embedded in batches (progress on stderr, Ctrl-C
//!   stops after the batch, exit 130), the vectors stored in the `embeddings` table; then
//!   `aesthetic` (when a head fits the model) and `clip_score` (images with a positive prompt)
//!   are computed from the stored vectors where missing or from another model. Incremental: a
//!   second run embeds nothing new.
//! - `assay embed [IMAGE]… [--text T]…`: prints image and text embeddings (after projection,
//!   before normalisation) — `--format json` gives `{"model", "images": [{"path",
//!   "embedding"}], "texts": [{"text", "tokens", "embedding"}]}`.
//!
//! Without weights: a message naming the searched folders and the expected layouts, exit 1.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use serde::Serialize;

use super::{BackendArgs, EXIT_CANCELLED, EXIT_PARTIAL, ListFormat, UsageError};
use crate::catalog::decode::DecodeConfig;
use crate::models::backend;
use crate::models::clip::aesthetic::AestheticHead;
use crate::models::clip::{Clip, clip_score};
use crate::pipeline::Progress;
use crate::pipeline::clip::{self as clip_job, ClipJobError, ClipOptions, LoadedClip};
use crate::store::Store;

/// Where to put weights, for messages (see [`clip_job::no_weights_message`]).
pub fn no_weights_message(models: Option<&Path>) -> String {
    clip_job::no_weights_message(models)
}

#[derive(Debug, clap::Args)]
pub struct EmbedArgs {
    /// A scanned collection folder (embeddings and signals are stored), or image files
    /// (embeddings are printed).
    pub paths: Vec<PathBuf>,
    /// Text to embed and print with its tokens (repeatable).
    #[arg(long = "text")]
    pub texts: Vec<String>,
    /// CLIP model: a path (model folder, HF cache repository, checkpoint file), or a name or
    /// architecture among the discovered models (`assay models`). Default: the first found.
    #[arg(long)]
    pub model: Option<String>,
    /// Folder searched first for weights and heads.
    #[arg(long)]
    pub models: Option<PathBuf>,
    /// Aesthetic head (`.pth`); default: a discovered head trained for the model.
    #[arg(long)]
    pub head: Option<PathBuf>,
    /// Images per batch on the device.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Database path (default DIR/.assay/assay.db).
    #[arg(long)]
    pub db: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
    #[command(flatten)]
    pub backend: BackendArgs,
}

#[derive(Debug, Serialize)]
struct ImageOut {
    path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    embedding: Vec<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aesthetic: Option<f64>,
}

#[derive(Debug, Serialize)]
struct TextOut {
    text: String,
    tokens: Vec<i64>,
    truncated: bool,
    embedding: Vec<f32>,
}

#[derive(Debug, Serialize)]
struct PrintOut {
    model: String,
    images: Vec<ImageOut>,
    texts: Vec<TextOut>,
}

pub fn run(args: &EmbedArgs) -> anyhow::Result<u8> {
    if args.paths.is_empty() && args.texts.is_empty() {
        return Err(UsageError("give a collection folder, image files or --text".into()).into());
    }
    if args.batch == 0 {
        return Err(UsageError("--batch must be at least 1".into()).into());
    }
    let selected = backend::select(args.backend.backend)?;
    let opts = ClipOptions {
        enabled: true,
        models: args.models.clone(),
        model: args.model.clone(),
        head: args.head.clone(),
        batch: args.batch,
        judges: Vec::new(),
    };
    let loaded = clip_job::load(&opts, &selected.device).map_err(|e| match e {
        ClipJobError::NoWeights(m) => UsageError(m).into(),
        e => anyhow::Error::from(e),
    })?;
    let files = &loaded.model.files;
    eprintln!(
        "embed: CLIP {} ({}) on {}",
        files.name,
        files.weights.display(),
        selected.describe()
    );
    for n in &loaded.notes {
        eprintln!("note: {n}");
    }
    match args.paths.as_slice() {
        [dir] if dir.is_dir() => {
            if !args.texts.is_empty() {
                return Err(
                    UsageError("--text is for printing; not with a collection".into()).into(),
                );
            }
            collection(args, dir, &loaded)
        }
        _ => print(args, loaded.clip()?, loaded.head.as_ref()),
    }
}

fn print(args: &EmbedArgs, clip: &Clip, head: Option<&AestheticHead>) -> anyhow::Result<u8> {
    let mut failed = false;
    let mut images = Vec::new();
    for chunk in args.paths.chunks(args.batch) {
        // Decode and preprocess each file on its own (in parallel), so that one bad file is
        // reported in its entry instead of failing the batch.
        use rayon::prelude::*;
        let prepared: Vec<anyhow::Result<Vec<f32>>> = chunk
            .par_iter()
            .map(|p| {
                let (rgb, w, h) = super::faces::load_rgb(p)?;
                clip.preprocess_rgb(&rgb, w, h)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))
            })
            .collect();
        let ok: Vec<f32> = prepared
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .flatten()
            .copied()
            .collect();
        let n_ok = prepared.iter().filter(|r| r.is_ok()).count();
        let mut emb = clip.embed_pixels(ok, n_ok)?.into_iter();
        for (p, r) in chunk.iter().zip(&prepared) {
            let mut out = ImageOut {
                path: p.display().to_string(),
                error: None,
                embedding: Vec::new(),
                aesthetic: None,
            };
            match r {
                Ok(_) => {
                    out.embedding = emb.next().unwrap_or_default();
                    out.aesthetic = head.and_then(|h| h.score(&out.embedding).ok());
                }
                Err(e) => {
                    failed = true;
                    eprintln!("error: {e:#}");
                    out.error = Some(format!("{e:#}"));
                }
            }
            images.push(out);
        }
    }
    let strs: Vec<&str> = args.texts.iter().map(String::as_str).collect();
    let (tokens, temb) = clip.embed_texts(&strs)?;
    let texts: Vec<TextOut> = strs
        .iter()
        .zip(tokens)
        .zip(temb)
        .map(|((t, tok), e)| {
            let mut ids = tok.ids;
            while ids.last() == Some(&0) {
                ids.pop();
            }
            TextOut {
                text: (*t).to_string(),
                tokens: ids,
                truncated: tok.truncated,
                embedding: e,
            }
        })
        .collect();
    let out = PrintOut {
        model: clip.model_key().to_string(),
        images,
        texts,
    };
    let mut stdout = std::io::stdout().lock();
    use std::io::Write as _;
    match args.format {
        ListFormat::Json => {
            serde_json::to_writer(&mut stdout, &out)?;
            writeln!(stdout)?;
        }
        ListFormat::Text => {
            let show = |e: &[f32]| {
                let norm = e.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
                let head: Vec<String> = e.iter().take(4).map(|x| format!("{x:.4}")).collect();
                format!("dim {} ‖e‖ {norm:.4} [{}, …]", e.len(), head.join(", "))
            };
            for i in &out.images {
                match &i.error {
                    Some(e) => writeln!(stdout, "{}: error: {e}", i.path)?,
                    None => writeln!(
                        stdout,
                        "{}: {}{}",
                        i.path,
                        show(&i.embedding),
                        i.aesthetic
                            .map(|a| format!("  aesthetic {a:.3}"))
                            .unwrap_or_default()
                    )?,
                }
            }
            for t in &out.texts {
                writeln!(
                    stdout,
                    "{:?}: {} tokens{}  {}",
                    t.text,
                    t.tokens.len(),
                    if t.truncated { " (truncated)" } else { "" },
                    show(&t.embedding)
                )?;
            }
            if out.images.len() == 1 {
                for t in &out.texts {
                    writeln!(
                        stdout,
                        "clip_score({:?}) = {:.3}",
                        t.text,
                        clip_score(&out.images[0].embedding, &t.embedding)
                    )?;
                }
            }
        }
    }
    Ok(if failed { EXIT_PARTIAL } else { 0 })
}

/// `assay embed DIR`: the shared CLIP pass of the pipeline ([`clip_job::run`]) with a
/// progress bar, then its summary.
fn collection(args: &EmbedArgs, root: &Path, loaded: &LoadedClip) -> anyhow::Result<u8> {
    let (db, _) = Store::locate(root, args.db.as_deref(), false);
    if !db.is_file() {
        return Err(UsageError(format!(
            "{} has no catalogue: run `assay scan {}` first",
            root.display(),
            root.display()
        ))
        .into());
    }
    let mut store = Store::open(&db).with_context(|| format!("opening {}", db.display()))?;
    let cancel = super::scan::cancel_flag();
    let progress = Arc::new(Progress::default());
    let bar = super::scan::spawn_progress_bar(progress.clone());
    let result = clip_job::run(
        &mut store,
        root,
        loaded,
        args.batch,
        &DecodeConfig::default(),
        &progress,
        &cancel,
    );
    progress.finish();
    if let Some(bar) = bar {
        let _ = bar.join();
    }
    let sum = result?;
    // The flywheel: the active preference scorer scores the images (and uses the new
    // embeddings when it reads them).
    let learned = if sum.cancelled {
        None
    } else {
        match crate::pipeline::preference::refresh_active(&mut store) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("warning: could not refresh learned_preference: {e}");
                None
            }
        }
    };
    match args.format {
        ListFormat::Json => {
            let mut v = serde_json::to_value(&sum)?;
            if let (Some(o), Some(r)) = (v.as_object_mut(), &learned) {
                o.insert("learned".into(), serde_json::to_value(r)?);
            }
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        ListFormat::Text => {
            println!(
                "{}: {} images, {} embedded now, {} already embedded, {} failed ({:.1} s)",
                sum.model, sum.images, sum.embedded, sum.already_embedded, sum.failed, sum.seconds
            );
            println!(
                "  aesthetic: {}{}  clip_score: {} ({} prompts truncated, {} images without a prompt)",
                sum.aesthetic,
                sum.head
                    .as_deref()
                    .map(|h| format!(" ({h})"))
                    .unwrap_or_default(),
                sum.clip_score,
                sum.prompts_truncated,
                sum.no_prompt
            );
            for f in &sum.failures {
                println!(
                    "  failed: {}: {}",
                    super::term::escape(&f.path),
                    super::term::escape(&f.reason)
                );
            }
            if let Some(r) = &learned {
                println!(
                    "  learned_preference: {} images scored by preference scorer v{}",
                    r.images_scored, r.version
                );
            }
            if sum.cancelled {
                println!("  cancelled: finished batches were kept; run again to continue");
            }
        }
    }
    Ok(if sum.cancelled {
        EXIT_CANCELLED
    } else if sum.failed > 0 {
        EXIT_PARTIAL
    } else {
        0
    })
}
