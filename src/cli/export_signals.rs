//! `assay export-signals DIR --out FILE.parquet [--embeddings KEY|all]...`: signals (and
//! embeddings) of every current image as Parquet for engines
//! (`export::parquet::signals::export_signals`); prints what was written (text or JSON).

use std::path::PathBuf;

use super::term::escape;
use super::{ListFormat, UsageError};
use crate::export::parquet::Error;
use crate::export::parquet::signals::{
    Embeddings, SignalsExportOptions, SignalsExportReport, export_signals,
};

#[derive(Debug, clap::Args)]
pub struct ExportSignalsArgs {
    /// Collection folder.
    pub dir: PathBuf,
    /// Database path (default DIR/.assay/assay.db).
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// The Parquet file to write (replaced when it exists).
    #[arg(long)]
    pub out: PathBuf,
    /// Add the embeddings of this model key as a list-of-float column (repeatable), or `all`
    /// for every model with vectors (`assay embed` stores them).
    #[arg(long, value_name = "MODEL_KEY|all")]
    pub embeddings: Vec<String>,
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
}

pub fn run(args: &ExportSignalsArgs) -> anyhow::Result<u8> {
    let embeddings = if args.embeddings.iter().any(|k| k == "all") {
        Embeddings::All
    } else if args.embeddings.is_empty() {
        Embeddings::None
    } else {
        Embeddings::Models(args.embeddings.clone())
    };
    let report = match export_signals(&SignalsExportOptions {
        dir: args.dir.clone(),
        db: args.db.clone(),
        out: args.out.clone(),
        embeddings,
    }) {
        Ok(r) => r,
        Err(e @ (Error::NoCatalogue(_) | Error::UnknownEmbedding { .. })) => {
            return Err(UsageError(e.to_string()).into());
        }
        Err(e) => return Err(e.into()),
    };
    let text = match args.format {
        ListFormat::Json => serde_json::to_string_pretty(&report)? + "\n",
        ListFormat::Text => report_text(&report),
    };
    std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes())?;
    Ok(0)
}

fn report_text(r: &SignalsExportReport) -> String {
    use std::fmt::Write as _;
    let mut out = format!(
        "wrote {}: {} rows, {} columns ({} signals, {} embeddings), {} row group(s), {} bytes\n",
        escape(&r.out),
        r.file.rows,
        r.file.columns.len(),
        r.signals,
        r.embeddings.len(),
        r.file.row_groups,
        r.file.bytes
    );
    for e in &r.embeddings {
        let _ = writeln!(
            out,
            "  {}: {} ({} floats) for {} images{}",
            e.column,
            escape(&e.model_key),
            e.dim,
            e.images,
            if e.other_dim > 0 {
                format!(", {} vectors of another length left out", e.other_dim)
            } else {
                String::new()
            }
        );
    }
    out
}
