//! `assay monitor DIR --by FIELD`: batch monitoring of one collection (arguments, output). The
//! computation and the renderers are `crate::monitor`, shared with the GUI's monitor view.

use std::path::PathBuf;

use anyhow::Context as _;

use super::UsageError;
use crate::monitor::{
    Thresholds, evaluate, load_batches, render_html, render_markdown, render_text,
};
use crate::ranking::drift;
use crate::store::Store;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum MonitorFormat {
    Text,
    Json,
    Markdown,
    Html,
}

#[derive(Debug, clap::Args)]
pub struct MonitorArgs {
    /// Scanned collection folder.
    pub dir: PathBuf,
    /// Database path (default DIR/.assay/assay.db).
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Batch field: `folder` (first path component), `scan_date` (UTC day the image was first
    /// scanned; batches in time order) or a column of `assay table --list-columns` (e.g. model).
    #[arg(long)]
    pub by: String,
    /// Baseline batch (default: the first batch in sorted order).
    #[arg(long)]
    pub baseline: Option<String>,
    /// Signals to monitor, comma-separated (default: the classical numeric signals).
    #[arg(long, value_delimiter = ',')]
    pub signals: Vec<String>,
    /// PSI bins (baseline quantiles).
    #[arg(long, default_value_t = 10)]
    pub bins: usize,
    /// Drift when the KS p-value is below this ...
    #[arg(long, default_value_t = 0.01)]
    pub alpha: f64,
    /// ... or when PSI reaches this.
    #[arg(long, default_value_t = drift::PSI_SIGNIFICANT)]
    pub psi_threshold: f64,
    #[arg(long, value_enum, default_value_t = MonitorFormat::Text)]
    pub format: MonitorFormat,
    /// Write the report to this file instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(args: &MonitorArgs) -> anyhow::Result<u8> {
    if !crate::monitor::is_batch_field(&args.by) {
        return Err(UsageError(format!(
            "unknown --by field '{}'; use `folder`, `scan_date` or a column of \
             `assay table --list-columns`",
            args.by
        ))
        .into());
    }
    let (path, _) = Store::locate(&args.dir, args.db.as_deref(), false);
    if !path.exists() {
        return Err(UsageError(format!(
            "no catalogue for {}; run `assay scan {}` first",
            args.dir.display(),
            args.dir.display()
        ))
        .into());
    }
    let store = Store::open_for_reading(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let keys: Vec<String> = if args.signals.is_empty() {
        crate::monitor::default_keys()
    } else {
        args.signals.clone()
    };
    let batches = load_batches(&store, &args.by, &keys)?;
    let baseline = match &args.baseline {
        Some(b) if batches.contains_key(b) => b.clone(),
        Some(b) => {
            return Err(UsageError(format!(
                "no batch '{b}' for --by {}; batches: {}",
                args.by,
                batches.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
            .into());
        }
        None => batches
            .keys()
            .next()
            .cloned()
            .ok_or_else(|| UsageError(format!("no images in {}", args.dir.display())))?,
    };
    let opt = Thresholds {
        bins: args.bins,
        alpha: args.alpha,
        psi: args.psi_threshold,
    };
    let report = evaluate(&args.by, &baseline, &keys, &batches, &opt);
    let text = match args.format {
        MonitorFormat::Json => serde_json::to_string_pretty(&report)? + "\n",
        MonitorFormat::Text => render_text(&report),
        MonitorFormat::Markdown => render_markdown(&report),
        MonitorFormat::Html => render_html(&report, &batches, &keys),
    };
    match &args.out {
        Some(p) => {
            std::fs::write(p, text).with_context(|| format!("cannot write {}", p.display()))?;
            eprintln!("wrote {}", p.display());
        }
        None => print!("{text}"),
    }
    Ok(0)
}
