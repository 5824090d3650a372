//! Command-line front end (clap). Each subcommand lives in its own file and calls the library;
//! results go to stdout, progress and messages to stderr. Exit codes: 0 success, 1 usage error,
//! 2 some inputs failed, 130 cancelled with Ctrl-C.
//!
//! # Contract
//!
//! As in the target design (`label import|export`, `rank`, `agreement` included), plus: `assay
//! signals` (registry), `assay bench ingest|signals|bt`, `--backend flex`, `scan --format json`
//! (the summary), `table --include-missing`, `--list-columns`, exit code 130 after Ctrl-C. Columns:
//! `path width height format frames bytes hash version missing tool prompt negative_prompt seed
//! steps sampler cfg model gen_width gen_height status decision_source decision_reason rating error
//! warnings raw` and every signal key; JSON prints one array of objects with `path` relative to the
//! folder and each signal under its key (null when not computed).
//!
//! # Benchmarks
//!
//! Benchmarks are `assay bench` subcommands, never timed tests; their `--python PY` baselines are
//! the committed `scripts/bench_*.py`, found in `$ASSAY_SCRIPTS`, else `scripts/` under the working
//! directory (a checkout copied to another machine), else the build's source tree
//! (`cli::bench::baseline_script`).

mod bench;
pub mod bench_catalog;
mod bench_clip;
mod bench_dist;
pub mod bench_flywheel;
mod bench_fuzz;
mod bench_health;
mod bench_scan;
mod calibrate;
mod calibrate_policy;
mod compare;
mod embed;
mod export;
mod export_signals;
mod faces;
mod fidelity;
mod hands;
mod label;
mod merge;
mod models;
mod monitor;
mod rank;
mod repair;
mod scan;
mod select;
mod select_best_of_n;
mod signals;
mod table;
#[cfg(feature = "team")]
mod team;
pub mod term;
pub mod train;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::models::backend::BackendChoice;

/// Exit code when some inputs failed.
pub const EXIT_PARTIAL: u8 = 2;
/// Exit code for usage errors.
pub const EXIT_USAGE: u8 = 1;
/// Exit code after Ctrl-C.
pub const EXIT_CANCELLED: u8 = 130;

/// Assay: cull, score and evaluate text-to-image candidates, locally.
#[derive(Debug, Parser)]
#[command(name = "assay", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Collection folder to open in the GUI (same as `assay open DIR`).
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the GUI (default: the last collection or a welcome screen).
    Open {
        dir: Option<PathBuf>,
        /// Database path (default DIR/.assay/assay.db).
        #[arg(long)]
        db: Option<PathBuf>,
        /// Save a PNG of the window once the collection and its visible thumbnails have
        /// loaded, then quit (documentation, CI).
        #[arg(long)]
        screenshot: Option<PathBuf>,
        /// Folder searched first for CLIP weights and aesthetic heads (as `assay scan`).
        #[arg(long)]
        models: Option<PathBuf>,
        /// The workbench's scans skip CLIP even when weights are found.
        #[arg(long, conflicts_with = "models")]
        no_clip: bool,
    },
    /// Catalogue a folder: metadata, classical signals, near duplicates (incremental).
    Scan(scan::ScanArgs),
    /// Print catalogued images with metadata and signals.
    Table(table::TableArgs),
    /// List the signal registry (key, label, unit, direction, group, producer); `list DIR`
    /// adds a catalogue's imported signals, `import DIR --file F` imports outside scores.
    Signals(signals::SignalsArgs),
    /// Import or export raters' label events as JSON lines.
    Label(label::LabelArgs),
    /// Bradley–Terry ranking of labelled items with bootstrap intervals (and Elo).
    Rank(rank::RankArgs),
    /// Inter-rater agreement (Krippendorff's α, Fleiss' κ) per protocol and criterion.
    Agreement(rank::AgreementArgs),
    /// Apply a selection policy (TOML): accept / review / reject decisions, appended.
    Select(select::SelectArgs),
    /// Choose a threshold on one signal from human accept/reject decisions (cost or precision).
    Calibrate(calibrate::CalibrateArgs),
    /// Record human decisions (pick / reject / review / unflag, rating) for files.
    Decide(export::DecideArgs),
    /// Copy or link files by status into a folder, with a manifest and XMP sidecars.
    Export(export::ExportArgs),
    /// Throughput benchmarks (`ingest`: scan + signals; `signals`: CPU vs tensor paths; `faces`: MTCNN).
    Bench(bench::BenchArgs),
    /// Compare two scanned batches: FD, KID, precision/recall, density/coverage with bootstrap
    /// intervals (`--features-file A B` for feature matrices, `--by FIELD` for groups).
    Compare(compare::CompareArgs),
    /// Full-reference fidelity (PSNR, SSIM, MS-SSIM) of TEST_DIR against REF_DIR, paired by path.
    Fidelity(fidelity::FidelityArgs),
    /// Monitor batches of one collection (`--by FIELD`): signal means with intervals, KS / PSI
    /// drift against a baseline batch, review rate, human-policy agreement; text, JSON,
    /// Markdown or HTML report.
    Monitor(monitor::MonitorArgs),
    /// Fit the preference scorer on the labels (Bradley–Terry loss), evaluate it on held-out
    /// labels, version it and make it the active `learned_preference` signal.
    Train(train::TrainArgs),
    /// List the trained scorers with their metrics; `--activate ID` or `--rollback` switches.
    Scorers(train::ScorersArgs),
    /// Detect faces (MTCNN): box, confidence and five landmarks per face.
    Faces(faces::FacesArgs),
    /// Detect hands (MediaPipe): palm, 21 landmarks, presence, handedness and `hand_defect`.
    Hands(hands::HandsArgs),
    /// CLIP embeddings: store them with `aesthetic` and `clip_score` for a scanned folder
    /// (incremental), or print them for image files and `--text` (JSON with `--format json`).
    Embed(embed::EmbedArgs),
    /// List the CLIP weights and aesthetic heads found on disk and the signals they enable.
    Models(models::ModelsArgs),
    /// Rebuild a damaged catalogue from every readable row and the newest backup
    /// (`--restore` puts a backup in place instead; `--list` shows them).
    Repair(repair::RepairArgs),
    /// Merge shard catalogues (`assay scan --shard I/N`) into one: idempotent, conflicts
    /// reported; near-duplicate groups recomputed over the merged images.
    Merge(merge::MergeArgs),
    /// Write every current image's numeric signals (and `--embeddings`) as Parquet for engines
    /// (Ray Data, Spark, Daft, pandas): one row per image with id, path and content hash.
    ExportSignals(export_signals::ExportSignalsArgs),
    /// Team mode: share labels and decisions through a PostgreSQL server (`init`, `join`,
    /// `sync`, `status`, `revoke`); the local catalogue stays the working copy.
    #[cfg(feature = "team")]
    Team(team::TeamArgs),
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ListFormat {
    Text,
    Json,
}

/// Shared backend flag.
#[derive(Debug, Clone, clap::Args)]
pub struct BackendArgs {
    /// Compute backend: auto (GPU via wgpu when there is a hardware adapter, else CPU), wgpu, cpu
    /// (plain Rust), flex (burn's CPU backend for the tensor path).
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,
}

/// Parses arguments and runs; returns the process exit code.
pub fn run() -> ExitCode {
    term::exit_quietly_on_broken_pipe();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Some(Command::Scan(args)) => scan::run(&args),
        Some(Command::Table(args)) => table::run(&args),
        Some(Command::Signals(args)) => signals::run(&args),
        Some(Command::Bench(args)) => bench::run(&args),
        Some(Command::Label(args)) => label::run(&args),
        Some(Command::Rank(args)) => rank::rank(&args),
        Some(Command::Agreement(args)) => rank::agreement(&args),
        Some(Command::Compare(args)) => compare::run(&args),
        Some(Command::Fidelity(args)) => fidelity::run(&args),
        Some(Command::Monitor(args)) => monitor::run(&args),
        Some(Command::Train(args)) => train::train(&args),
        Some(Command::Scorers(args)) => train::scorers(&args),
        Some(Command::Faces(args)) => faces::run(&args),
        Some(Command::Hands(args)) => hands::run(&args),
        Some(Command::Embed(args)) => embed::run(&args),
        Some(Command::Models(args)) => models::run(&args),
        Some(Command::Repair(args)) => repair::run(&args),
        Some(Command::Merge(args)) => merge::run(&args),
        Some(Command::ExportSignals(args)) => export_signals::run(&args),
        Some(Command::Select(args)) => select::run(&args),
        Some(Command::Decide(args)) => export::decide(&args),
        Some(Command::Calibrate(args)) => calibrate::run(&args),
        Some(Command::Export(args)) => export::export(&args),
        #[cfg(feature = "team")]
        Some(Command::Team(args)) => team::run(&args),
        Some(Command::Open {
            dir,
            db,
            screenshot,
            models,
            no_clip,
        }) => open_gui(
            dir,
            db,
            screenshot,
            crate::pipeline::clip::ClipOptions {
                enabled: !no_clip,
                models,
                ..Default::default()
            },
        ),
        None => open_gui(cli.dir, None, None, Default::default()),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS, // `assay table … | head`
        Err(e) => {
            eprintln!("error: {}", term::escape(&format!("{e:#}")));
            ExitCode::from(
                e.downcast_ref::<UsageError>()
                    .map_or(EXIT_PARTIAL, |_| EXIT_USAGE),
            )
        }
    }
}

/// Whether an error comes from writing to a closed pipe (ripgrep exits 0 then too).
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<csv::Error>().is_some_and(|ce| {
                matches!(ce.kind(), csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe)
            })
            || c.downcast_ref::<serde_json::Error>()
                .is_some_and(|je| je.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe))
    })
}

/// A usage error (bad flag value, unknown column…): exit code 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

#[cfg(feature = "gui")]
fn open_gui(
    dir: Option<PathBuf>,
    db: Option<PathBuf>,
    screenshot: Option<PathBuf>,
    clip: crate::pipeline::clip::ClipOptions,
) -> anyhow::Result<u8> {
    crate::gui::run(dir, db, screenshot, clip)?;
    Ok(0)
}

#[cfg(not(feature = "gui"))]
fn open_gui(
    _dir: Option<PathBuf>,
    _db: Option<PathBuf>,
    _screenshot: Option<PathBuf>,
    _clip: crate::pipeline::clip::ClipOptions,
) -> anyhow::Result<u8> {
    Err(UsageError(
        "this build has no GUI (built without the `gui` feature); use `assay scan` and `assay table`"
            .to_string(),
    )
    .into())
}
