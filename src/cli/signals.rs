//! `assay signals`: the signal registry, and scores imported from outside judges.
//!
//! - `assay signals [--format text|json]` lists the built-in registry (unchanged).
//! - `assay signals list DIR [--db F] [--format text|json]` lists the built-in signals and the
//!   signals imported into DIR's catalogue with their provenance (judge, version, file, file
//!   hash, time, counts).
//! - `assay signals import DIR --file scores.csv|jsonl --key path|hash --name KEY
//!   [--direction higher|lower] [--label TEXT] [--producer NAME] [--version V] [--column C]
//!   [--db F] [--format text|json]` registers an external signal (`pipeline::score_import`).
//!   Bad rows go to stderr as `line N: reason`; exit 0 when every row was imported, 2 when some
//!   were skipped (or none matched: nothing written), 1 for a usage error (a built-in key, a
//!   missing column …).

use std::path::{Path, PathBuf};

use super::label::{open_catalogue, open_catalogue_read_only};
use super::{EXIT_PARTIAL, ListFormat, UsageError};
use crate::pipeline::score_import::{ImportError, ImportOptions, ImportReport, import_scores};
use crate::signals::score_file::KeyKind;
use crate::signals::{self, Direction, Group};
use crate::store::Store;

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SignalsArgs {
    #[command(subcommand)]
    pub action: Option<SignalsAction>,
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
}

#[derive(Debug, clap::Subcommand)]
pub enum SignalsAction {
    /// Built-in signals and the signals imported into a catalogue, with their provenance.
    List(ListArgs),
    /// Import scores computed elsewhere (CSV or JSON lines) as a signal of the catalogue.
    Import(ImportArgs),
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Collection folder (scanned).
    pub dir: PathBuf,
    /// Database path (default DIR/.assay/assay.db).
    #[arg(long)]
    pub db: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum KeyArg {
    Path,
    Hash,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DirectionArg {
    Higher,
    Lower,
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// Collection folder (scanned).
    pub dir: PathBuf,
    /// Score file: CSV (header with the key column and a score column) or JSON lines.
    #[arg(long)]
    pub file: PathBuf,
    /// What names an image: its path relative to DIR, or its content hash.
    #[arg(long, value_enum)]
    pub key: KeyArg,
    /// The signal key (lower-case letters, digits, `_`); re-importing it replaces its values.
    #[arg(long)]
    pub name: String,
    /// Whether higher or lower scores are better.
    #[arg(long, value_enum, default_value_t = DirectionArg::Higher)]
    pub direction: DirectionArg,
    /// Display label (default: the key).
    #[arg(long)]
    pub label: Option<String>,
    /// The judge's name, recorded with every value (default: the key).
    #[arg(long)]
    pub producer: Option<String>,
    /// The judge's version (default: the first 8 hex digits of the file's hash).
    #[arg(long)]
    pub version: Option<String>,
    /// Score column or field (default: `score`, or a CSV's only other column).
    #[arg(long)]
    pub column: Option<String>,
    /// Database path (default DIR/.assay/assay.db).
    #[arg(long)]
    pub db: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
}

pub fn run(args: &SignalsArgs) -> anyhow::Result<u8> {
    match &args.action {
        None => list_registry(args.format),
        Some(SignalsAction::List(a)) => list(a),
        Some(SignalsAction::Import(a)) => import(a),
    }
}

/// Registers the imported signals of `dir`'s catalogue, when it has one, before a command
/// checks column or signal names (the command's own open reports any problem later).
pub fn preload(dir: &Path, db: Option<&Path>) {
    let (path, _) = Store::locate(dir, db, false);
    if path.exists() {
        let _ = Store::open_read_only(&path);
    }
}

fn print_defs(defs: &[signals::SignalDef]) {
    for d in defs {
        println!(
            "{:<20} {:<32} {:<12} {:<16} {:<11} {}",
            d.key,
            d.label,
            d.unit,
            format!("{:?}", d.direction),
            format!("{:?}", d.group),
            d.producer
        );
    }
}

/// `assay signals`: the built-in registry.
fn list_registry(format: ListFormat) -> anyhow::Result<u8> {
    let reg = signals::registry();
    match format {
        ListFormat::Json => println!("{}", serde_json::to_string_pretty(reg)?),
        ListFormat::Text => print_defs(reg),
    }
    Ok(0)
}

/// `assay signals list DIR`.
fn list(a: &ListArgs) -> anyhow::Result<u8> {
    let store = open_catalogue_read_only(&a.dir, a.db.as_deref())?;
    let imported = store.external_signals()?;
    let reg = signals::registry();
    match a.format {
        ListFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "signals": reg,
                "imported": imported,
            }))?
        ),
        ListFormat::Text => {
            print_defs(
                &reg.iter()
                    .filter(|d| d.group != Group::Imported)
                    .copied()
                    .collect::<Vec<_>>(),
            );
            if !imported.is_empty() {
                println!("\nimported:");
            }
            for s in &imported {
                println!(
                    "{:<20} {:<32} {:<7} ext:{}@{}  {} rows, {} matched, {} unmatched, {} \
                     invalid, {} images; {} (xxh3 {}) at {}",
                    s.key,
                    s.label,
                    s.direction,
                    s.producer,
                    s.version,
                    s.rows,
                    s.matched,
                    s.unmatched,
                    s.invalid,
                    s.images,
                    s.file,
                    s.file_hash,
                    s.imported_at
                );
            }
        }
    }
    Ok(0)
}

fn import_error(e: ImportError) -> anyhow::Error {
    if e.is_usage() {
        UsageError(e.to_string()).into()
    } else {
        e.into()
    }
}

/// `assay signals import DIR --file F --key path|hash --name KEY`.
fn import(a: &ImportArgs) -> anyhow::Result<u8> {
    let options = ImportOptions {
        root: a.dir.clone(),
        file: a.file.clone(),
        key: match a.key {
            KeyArg::Path => KeyKind::Path,
            KeyArg::Hash => KeyKind::Hash,
        },
        name: a.name.clone(),
        direction: match a.direction {
            DirectionArg::Higher => Direction::HigherIsBetter,
            DirectionArg::Lower => Direction::LowerIsBetter,
        },
        label: a.label.clone(),
        producer: a.producer.clone(),
        version: a.version.clone(),
        column: a.column.clone(),
    };
    let mut store = open_catalogue(&a.dir, a.db.as_deref())?;
    let r = import_scores(&mut store, &options).map_err(import_error)?;
    for b in &r.bad_lines {
        eprintln!("line {}: {}", b.line, super::term::escape(&b.reason));
    }
    match a.format {
        ListFormat::Json => println!("{}", serde_json::to_string_pretty(&r)?),
        ListFormat::Text => print_report(&r),
    }
    Ok(if r.is_partial() { EXIT_PARTIAL } else { 0 })
}

fn print_report(r: &ImportReport) {
    if !r.written {
        println!(
            "nothing imported: no row of {} names a current image ({} rows, {} skipped)",
            r.file,
            r.rows,
            r.skipped()
        );
        return;
    }
    println!(
        "imported {} ({}, {} is better) from {} ({}, column `{}`): {} rows, {} matched → {} \
         images; skipped {} unmatched, {} duplicate, {} invalid; replaced {} earlier values",
        r.key,
        r.producer,
        r.direction,
        r.file,
        match r.format {
            crate::signals::score_file::Format::Csv => "CSV",
            crate::signals::score_file::Format::Tsv => "TSV",
            crate::signals::score_file::Format::Jsonl => "JSON lines",
        },
        r.column,
        r.rows,
        r.matched,
        r.images,
        r.unmatched,
        r.duplicates,
        r.invalid,
        r.replaced
    );
}
