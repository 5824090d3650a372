//! `assay embed`: CLIP embeddings and the `aesthetic` / `clip_score` signals.
//!
//! - `assay embed DIR`: a scanned collection. Images without an embedding from this model are
//!   embedded in batches (progress on stderr, Ctrl-C stops after the batch, exit 130), the
//!   vectors stored in the `embeddings` table; then `aesthetic` (when a head fits the model)
//!   and `clip_score` (images with a positive prompt) are computed for every embedded image
//!   from the stored vectors. Incremental: a second run embeds nothing new.
//! - `assay embed [IMAGE]… [--text T]…`: prints image and text embeddings (after projection,
//!   before normalisation) — `--format json` gives `{"model", "images": [{"path",
//!   "embedding"}], "texts": [{"text", "tokens", "embedding"}]}`.
//!
//! Without weights: a message naming the searched folders and the expected layouts, exit 1.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use anyhow::Context as _;
use rayon::prelude::*;
use serde::Serialize;

use super::{BackendArgs, EXIT_CANCELLED, EXIT_PARTIAL, ListFormat, UsageError};
use crate::models::backend;
use crate::models::clip::aesthetic::AestheticHead;
use crate::models::clip::discover::{self, Found};
use crate::models::clip::tokenizer::Tokenizer;
use crate::models::clip::{Clip, clip_score, preprocess, prompt};
use crate::signals;
use crate::store::{SignalRow, Store};

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

/// Where to put weights, for messages.
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

/// Loads the requested (or first discovered) model and a fitting aesthetic head.
pub fn load_model(
    model: Option<&str>,
    models: Option<&Path>,
    head: Option<&Path>,
    device: &burn::tensor::Device,
) -> anyhow::Result<(Clip, Option<AestheticHead>, Vec<String>)> {
    let found: Vec<(PathBuf, Found)> = discover::discover(models);
    let clip = match model {
        Some(m) if Path::new(m).exists() => Clip::load_path(Path::new(m), device)?,
        _ => {
            let Some(fm) = discover::pick(&found, model) else {
                let mut msg = no_weights_message(models);
                if let Some(m) = model {
                    msg = format!("no discovered model matches {m:?}; {msg}");
                }
                return Err(UsageError(msg).into());
            };
            Clip::load(&fm.files, device)?
        }
    };
    let arch = clip.files.arch(&clip.model.config);
    let mut notes = Vec::new();
    let head = match head {
        Some(p) => {
            let h = AestheticHead::load(p)?;
            h.check_model(arch, clip.dim(), &clip.files.name)?;
            Some(h)
        }
        None => {
            let mut chosen = None;
            for hf in found.iter().flat_map(|(_, f)| f.heads.iter()) {
                let Ok(h) = AestheticHead::load(&hf.path) else {
                    continue;
                };
                match h.check_model(arch, clip.dim(), &clip.files.name) {
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
            "no aesthetic head for {} ({}): `aesthetic` is not computed",
            clip.files.name,
            arch.unwrap_or("not a built-in architecture")
        ));
    }
    Ok((clip, head, notes))
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
    let (clip, head, notes) = load_model(
        args.model.as_deref(),
        args.models.as_deref(),
        args.head.as_deref(),
        &selected.device,
    )?;
    eprintln!(
        "embed: CLIP {} ({}) on {}",
        clip.files.name,
        clip.files.weights.display(),
        selected.describe()
    );
    for n in &notes {
        eprintln!("note: {n}");
    }
    match args.paths.as_slice() {
        [dir] if dir.is_dir() => {
            if !args.texts.is_empty() {
                return Err(
                    UsageError("--text is for printing; not with a collection".into()).into(),
                );
            }
            collection(args, dir, &clip, head.as_ref())
        }
        _ => print(args, &clip, head.as_ref()),
    }
}

fn print(args: &EmbedArgs, clip: &Clip, head: Option<&AestheticHead>) -> anyhow::Result<u8> {
    let mut failed = false;
    let mut images = Vec::new();
    for chunk in args.paths.chunks(args.batch) {
        let loaded: Vec<_> = chunk.iter().map(|p| super::faces::load_rgb(p)).collect();
        let ok: Vec<(&[u8], usize, usize)> = loaded
            .iter()
            .filter_map(|r| r.as_ref().ok().map(|(v, w, h)| (v.as_slice(), *w, *h)))
            .collect();
        let mut emb = clip.embed_rgb(&ok)?.into_iter();
        for (p, r) in chunk.iter().zip(&loaded) {
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

/// What `assay embed DIR` did.
#[derive(Debug, Default, Serialize)]
struct Summary {
    model: String,
    images: usize,
    embedded: usize,
    already_embedded: usize,
    failed: usize,
    aesthetic: usize,
    clip_score: usize,
    no_prompt: usize,
    prompts_truncated: usize,
    cancelled: bool,
    seconds: f64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    failures: Vec<(String, String)>,
}

fn collection(
    args: &EmbedArgs,
    root: &Path,
    clip: &Clip,
    head: Option<&AestheticHead>,
) -> anyhow::Result<u8> {
    let t0 = std::time::Instant::now();
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
    let rows: Vec<_> = store
        .image_rows(false)?
        .into_iter()
        .filter(|r| r.error.is_none() && !r.missing)
        .collect();
    let key = clip.model_key().to_string();
    let mut vectors: HashMap<String, Vec<f32>> = store.embedding_vectors(&key)?;
    let mut sum = Summary {
        model: key.clone(),
        images: rows.len(),
        already_embedded: rows
            .iter()
            .filter(|r| vectors.contains_key(&r.path))
            .count(),
        ..Summary::default()
    };
    let todo: Vec<_> = rows
        .iter()
        .filter(|r| !vectors.contains_key(&r.path))
        .collect();
    let cancel = super::scan::cancel_flag();
    let size = clip.image_size();
    let mut done = 0usize;
    for chunk in todo.chunks(args.batch) {
        if cancel.load(Ordering::SeqCst) {
            sum.cancelled = true;
            break;
        }
        // Decode and preprocess in parallel; the model runs on the whole batch.
        let crops: Vec<Result<Vec<u8>, String>> = chunk
            .par_iter()
            .map(|r| {
                let (rgb, w, h) =
                    super::faces::load_rgb(&root.join(&r.path)).map_err(|e| format!("{e:#}"))?;
                preprocess::resize_crop(&rgb, w, h, size).ok_or_else(|| "empty image".to_string())
            })
            .collect();
        let mut px = Vec::with_capacity(chunk.len() * 3 * size * size);
        let mut ids = Vec::new();
        for (r, c) in chunk.iter().zip(&crops) {
            match c {
                Ok(crop) => {
                    preprocess::normalize_into(crop, &mut px);
                    ids.push((r.id, r.path.clone()));
                }
                Err(e) => {
                    sum.failed += 1;
                    sum.failures.push((r.path.clone(), e.clone()));
                }
            }
        }
        let emb = clip.embed_pixels(px, ids.len())?;
        let write: Vec<(i64, String, Vec<f32>)> = ids
            .iter()
            .zip(&emb)
            .map(|((id, _), e)| (*id, key.clone(), e.clone()))
            .collect();
        store.set_embeddings(&write)?;
        for ((_, path), e) in ids.into_iter().zip(emb) {
            vectors.insert(path, e);
        }
        sum.embedded += write.len();
        done += chunk.len();
        let rate = done as f64 / t0.elapsed().as_secs_f64().max(1e-9);
        eprint!("\rembedding {done}/{} ({rate:.1} images/s)   ", todo.len());
    }
    if !todo.is_empty() {
        eprintln!();
    }

    // Signals from the stored vectors (cheap): aesthetic, then clip_score per distinct prompt.
    let mut signal_rows: Vec<(i64, SignalRow)> = Vec::new();
    if let Some(h) = head {
        let producer = format!("{}:{}", signals::AESTHETIC, h.producer(&key));
        for r in &rows {
            if let Some(v) = vectors.get(&r.path)
                && let Ok(s) = h.score(v)
            {
                signal_rows.push((r.id, number("aesthetic", s, &producer)));
                sum.aesthetic += 1;
            }
        }
    }
    let tok = Tokenizer::shared()?;
    let ctx = clip.model.text.context_length;
    let mut prompts: Vec<String> = Vec::new();
    let mut prompt_of: Vec<(i64, &str, usize)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for r in &rows {
        if !vectors.contains_key(&r.path) {
            continue;
        }
        let cleaned = r
            .positive
            .as_deref()
            .map(prompt::clean_prompt)
            .unwrap_or_default();
        if cleaned.is_empty() {
            sum.no_prompt += 1;
            continue;
        }
        let n = prompts.len();
        let i = *index.entry(cleaned.clone()).or_insert_with(|| {
            prompts.push(cleaned);
            n
        });
        prompt_of.push((r.id, r.path.as_str(), i));
    }
    let tokens: Vec<_> = prompts.iter().map(|p| tok.tokenize(p, ctx)).collect();
    let mut temb = Vec::with_capacity(tokens.len());
    for chunk in tokens.chunks(64) {
        let ids: Vec<Vec<i64>> = chunk.iter().map(|t| t.ids.clone()).collect();
        temb.extend(clip.embed_tokens(&ids)?);
    }
    let producer = format!("{}:{key}", signals::CLIP_SCORE);
    for (id, path, i) in prompt_of {
        let (Some(v), Some(t), Some(tk)) = (vectors.get(path), temb.get(i), tokens.get(i)) else {
            continue;
        };
        signal_rows.push((id, number("clip_score", clip_score(v, t), &producer)));
        signal_rows.push((
            id,
            number(
                "clip_prompt_truncated",
                f64::from(u8::from(tk.truncated)),
                &producer,
            ),
        ));
        sum.clip_score += 1;
        sum.prompts_truncated += usize::from(tk.truncated);
    }
    store.set_signals(&signal_rows)?;
    sum.seconds = t0.elapsed().as_secs_f64();

    match args.format {
        ListFormat::Json => println!("{}", serde_json::to_string_pretty(&sum)?),
        ListFormat::Text => {
            println!(
                "{}: {} images, {} embedded now, {} already embedded, {} failed ({:.1} s)",
                sum.model, sum.images, sum.embedded, sum.already_embedded, sum.failed, sum.seconds
            );
            println!(
                "  aesthetic: {}  clip_score: {} ({} prompts truncated, {} images without a prompt)",
                sum.aesthetic, sum.clip_score, sum.prompts_truncated, sum.no_prompt
            );
            for (p, e) in &sum.failures {
                println!("  failed: {p}: {e}");
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

fn number(key: &str, value: f64, producer: &str) -> SignalRow {
    SignalRow {
        key: key.to_string(),
        value: Some(value),
        text: None,
        producer: producer.to_string(),
    }
}
