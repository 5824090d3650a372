//! `assay scan DIR`: incremental catalogue + classical signals with a progress bar and Ctrl-C;
//! with CLIP weights found, also embeddings, `aesthetic` and `clip_score` (`pipeline::clip`), and
//! with HPSv2 / PickScore checkpoints found, `hps` / `pickscore` and their ranks (`pipeline::judge`;
//! `--no-hps`, `--no-pickscore`).

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::{BackendArgs, EXIT_CANCELLED, EXIT_PARTIAL, UsageError};
use crate::models::clip::judge::JudgeKind;
use crate::pipeline::{self, Progress, ScanOptions, ScanSummary};

#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// Collection folder.
    pub dir: PathBuf,
    /// Database path (default DIR/.assay/assay.db; use it for read-only folders).
    #[arg(long)]
    pub db: Option<PathBuf>,
    #[command(flatten)]
    pub backend: BackendArgs,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Refuse images with more pixels than this (decompression bombs).
    #[arg(long, default_value_t = 100_000_000)]
    pub max_pixels: u64,
    /// Hard filter: minimum shorter side in pixels.
    #[arg(long, default_value_t = 256)]
    pub min_side: u32,
    /// Hard filter: maximum aspect ratio (long/short).
    #[arg(long, default_value_t = 3.0)]
    pub max_aspect: f64,
    /// pHash Hamming distance for near duplicates.
    #[arg(long, default_value_t = 5)]
    pub dup_threshold: u32,
    /// Skip face detection (MTCNN) and the face signals.
    #[arg(long)]
    pub no_faces: bool,
    /// Skip hand detection (MediaPipe palm + landmark models) and the hand signals.
    #[arg(long)]
    pub no_hands: bool,
    #[command(flatten)]
    pub face_resolution: super::faces::FaceResolutionArgs,
    /// Skip CLIP (embeddings, `aesthetic`, `clip_score`) even when weights are found.
    #[arg(long, conflicts_with_all = ["model", "models", "head"])]
    pub no_clip: bool,
    /// Skip the HPSv2 judge (`hps`, `hps_rank`) even when its checkpoint is found.
    #[arg(long)]
    pub no_hps: bool,
    /// Skip the PickScore judge (`pickscore`, `pickscore_rank`) even when it is found.
    #[arg(long)]
    pub no_pickscore: bool,
    /// Folder searched first for CLIP weights and aesthetic heads (then $ASSAY_MODELS,
    /// models/ next to the binary, the user data dir, the Hugging Face cache; see `assay models`).
    #[arg(long)]
    pub models: Option<PathBuf>,
    /// CLIP model: a path (model folder, HF cache repository, checkpoint file), or a name or
    /// architecture among the discovered models. Default: the first found. An explicit model
    /// that cannot be loaded stops the scan before it starts.
    #[arg(long)]
    pub model: Option<String>,
    /// Aesthetic head (`.pth`); default: a discovered head trained for the model.
    #[arg(long)]
    pub head: Option<PathBuf>,
    /// Files per batch (one database transaction each).
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Backups of the catalogue to keep: one is made before each scan (SQLite online backup
    /// into `<db>.backups/`; `assay repair` uses them). 0 turns them off.
    #[arg(long, default_value_t = crate::store::health::DEFAULT_BACKUPS)]
    pub backups: usize,
    /// Score only shard I of N (numbered from 1: 1/4 … 4/4), chosen by content hash; files of
    /// other shards are hashed but not decoded or stored. Default database:
    /// DIR/.assay/shard-I-of-N.db. Combine the shards with `assay merge`.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<crate::catalog::shard::Shard>,
    /// Summary format on stdout.
    #[arg(long, value_enum, default_value_t = SummaryFormat::Text)]
    pub format: SummaryFormat,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SummaryFormat {
    Text,
    Json,
}

/// Installs the Ctrl-C handler once: the first press asks the job to stop after the current
/// batch, the second exits at once (committed batches are safe in the WAL).
pub fn cancel_flag() -> Arc<AtomicBool> {
    static FLAG: std::sync::OnceLock<Arc<AtomicBool>> = std::sync::OnceLock::new();
    FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let f = flag.clone();
        let _ = ctrlc::set_handler(move || {
            if f.swap(true, Ordering::SeqCst) {
                eprintln!("\ninterrupted again: exiting now");
                std::process::exit(i32::from(EXIT_CANCELLED));
            }
            eprintln!("\nstopping after the current batch (Ctrl-C again to quit now)…");
        });
        flag
    })
    .clone()
}

/// Draws the progress bar on stderr until the job finishes.
pub fn spawn_progress_bar(progress: Arc<Progress>) -> Option<std::thread::JoinHandle<()>> {
    let tty = std::io::stderr().is_terminal();
    std::thread::Builder::new()
        .name("assay-progress".into())
        .spawn(move || {
            let mut last_line = std::time::Instant::now();
            loop {
                let s = progress.snapshot();
                if s.finished {
                    if tty {
                        eprint!("\r\x1b[2K");
                    }
                    break;
                }
                if tty {
                    eprint!("\r\x1b[2K{}", s.line(30));
                } else if last_line.elapsed() >= Duration::from_secs(5) && s.total > 0 {
                    eprintln!("{}", s.line(30));
                    last_line = std::time::Instant::now();
                }
                std::thread::sleep(Duration::from_millis(150));
            }
        })
        .ok()
}

pub fn run(args: &ScanArgs) -> anyhow::Result<u8> {
    if !args.dir.is_dir() {
        return Err(UsageError(format!("{} is not a folder", args.dir.display())).into());
    }
    let mut opts = ScanOptions::new(&args.dir);
    opts.db.clone_from(&args.db);
    opts.backend = args.backend.backend;
    opts.jobs = args.jobs;
    opts.decode.max_pixels = args.max_pixels;
    opts.filters.min_side = args.min_side;
    opts.filters.max_aspect = args.max_aspect;
    opts.dup_threshold = args.dup_threshold;
    opts.batch_size = args.batch;
    opts.backups = args.backups;
    opts.shard = args.shard;
    opts.faces = !args.no_faces;
    opts.hands = !args.no_hands;
    opts.face_resolution = args.face_resolution.resolution();
    opts.clip.enabled = !args.no_clip;
    opts.clip.models.clone_from(&args.models);
    opts.clip.model.clone_from(&args.model);
    opts.clip.head.clone_from(&args.head);
    opts.clip.judges.retain(|k| match k {
        JudgeKind::Hps => !args.no_hps,
        JudgeKind::PickScore => !args.no_pickscore,
    });
    let progress = Arc::new(Progress::default());
    let cancel = cancel_flag();
    let bar = (!args.quiet)
        .then(|| spawn_progress_bar(progress.clone()))
        .flatten();
    let result = pipeline::scan(&opts, &progress, &cancel);
    progress.finish();
    if let Some(bar) = bar {
        let _ = bar.join();
    }
    let summary = result.map_err(|e| match e {
        pipeline::ScanError::Clip(_) => anyhow::Error::from(UsageError(e.to_string())),
        e => anyhow::Error::from(e).context(format!("scan of {} failed", args.dir.display())),
    })?;
    // Said once per scan, on stderr (unless --quiet): where weights would enable the CLIP
    // signals.
    if !args.quiet
        && let Some(why) = &summary.clip_skipped
    {
        eprintln!("note: CLIP signals (embeddings, aesthetic, clip_score) skipped: {why}");
    }
    // Setup remarks (heads that do not fit, no head) when they matter: images were embedded.
    if !args.quiet && summary.clip.as_ref().is_some_and(|c| c.embedded > 0) {
        for n in &summary.clip_notes {
            eprintln!("note: {n}");
        }
    }
    if let Some(e) = &summary.clip_error {
        eprintln!("warning: the CLIP pass stopped: {e}");
    }
    for j in &summary.judges {
        if let Some(e) = &j.error {
            eprintln!("warning: the {} pass stopped: {e}", j.signal);
        }
    }
    if let Some(e) = &summary.backup_error {
        eprintln!("warning: no backup of the catalogue was made before this scan: {e}");
    }
    if !args.quiet
        && let Some(r) = &summary.learned
    {
        eprintln!(
            "learned_preference: {} images scored by preference scorer v{}",
            r.images_scored, r.version
        );
    }
    if let Some(e) = &summary.learned_error {
        eprintln!("warning: could not refresh learned_preference: {e}");
    }
    let text = match args.format {
        SummaryFormat::Json => serde_json::to_string_pretty(&summary)? + "\n",
        SummaryFormat::Text => summary_text(&summary),
    };
    std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes())?;
    Ok(if summary.cancelled {
        EXIT_CANCELLED
    } else if summary.has_failures() {
        EXIT_PARTIAL
    } else {
        0
    })
}

/// One line per judge that ran (`hps`, `pickscore`), and the files it could not score.
fn judges_text(out: &mut String, s: &ScanSummary) {
    use super::term::escape;
    use std::fmt::Write as _;
    for j in &s.judges {
        let _ = writeln!(
            out,
            "  {} ({}): {} scored now, {} with a value, {} without a prompt, {} failed; {} ranked",
            j.signal, j.model_name, j.scored, j.with_value, j.no_prompt, j.failed, j.ranked
        );
        for f in &j.failures {
            let _ = writeln!(
                out,
                "    not scored: {}: {}",
                escape(&f.path),
                escape(&f.reason)
            );
        }
    }
}

fn summary_text(s: &ScanSummary) -> String {
    use super::term::escape;
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "scanned {} in {:.1}s ({:.1} files/s, {})",
        escape(&s.root),
        s.seconds,
        s.files_per_second,
        s.backend
    );
    let _ = writeln!(
        out,
        "  {} found: {} new, {} changed, {} refreshed, {} unchanged; {} missing",
        s.found, s.new, s.changed, s.refreshed, s.unchanged, s.missing
    );
    if let Some(shard) = s.shard {
        let _ = writeln!(
            out,
            "  shard {shard}: {} files of other shards hashed and skipped; near-duplicate groups \
             are this shard's until `assay merge`",
            s.other_shards.unwrap_or(0)
        );
    }
    let _ = writeln!(out, "  near-duplicate groups: {}", s.near_duplicate_groups);
    if s.faces {
        let _ = writeln!(
            out,
            "  images with faces (this scan): {}",
            s.images_with_faces
        );
    }
    if let Some(c) = &s.clip {
        let _ = writeln!(
            out,
            "  CLIP {}: {} embedded now{}, {} already, {} failed; aesthetic: {}; clip_score: {} ({} without a prompt, {} truncated)",
            c.model_name,
            c.embedded,
            if c.embedded > 0 {
                format!(" ({:.1} images/s)", c.images_per_second)
            } else {
                String::new()
            },
            c.already_embedded,
            c.failed,
            c.head.as_deref().map_or_else(
                || "no head for this model".to_string(),
                |h| format!("{} ({h})", c.aesthetic)
            ),
            c.clip_score,
            c.no_prompt,
            c.prompts_truncated
        );
        for f in &c.failures {
            let _ = writeln!(
                out,
                "    not embedded: {}: {}",
                escape(&f.path),
                escape(&f.reason)
            );
        }
    } else if s.clip_skipped.is_some() {
        let _ = writeln!(
            out,
            "  CLIP: not run (no usable weights; see the note on stderr or `assay models`)"
        );
    }
    if let Some(e) = &s.clip_error {
        let _ = writeln!(out, "  CLIP pass stopped: {e}");
    }
    judges_text(&mut out, s);
    if s.failed > 0 || s.failed_earlier > 0 {
        let mut reasons: Vec<_> = s.failures_by_reason.iter().collect();
        reasons.sort();
        let reasons: Vec<String> = reasons.iter().map(|(k, v)| format!("{v} {k}")).collect();
        let _ = writeln!(
            out,
            "  {} failed ({}){}",
            s.failed,
            reasons.join(", "),
            if s.failed_earlier > 0 {
                format!(
                    "; {} unchanged files failed in an earlier scan",
                    s.failed_earlier
                )
            } else {
                String::new()
            }
        );
        for e in &s.errors {
            let _ = writeln!(out, "    {}: {}", escape(&e.reason), escape(&e.path));
        }
    }
    for e in &s.folder_errors {
        let _ = writeln!(
            out,
            "  folder skipped: {}: {}",
            escape(&e.reason),
            escape(&e.path)
        );
    }
    if s.cancelled {
        let _ = writeln!(
            out,
            "  cancelled: finished batches were kept; run the scan again to continue"
        );
    }
    if s.database_fallback {
        let _ = writeln!(
            out,
            "  database: {} (the collection folder is read-only; `assay table` finds it there)",
            escape(&s.database)
        );
    } else {
        let _ = writeln!(out, "  database: {}", escape(&s.database));
    }
    out
}
