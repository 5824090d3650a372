//! `assay table DIR`: catalogued images with metadata and signals as CSV, JSON or JSON lines.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;

use super::UsageError;
use crate::selection::{self, Expr};
use crate::store::Store;
use crate::table;

#[derive(Debug, clap::Args)]
pub struct TableArgs {
    /// Collection folder.
    pub dir: PathBuf,
    /// Database path (default DIR/.assay/assay.db).
    #[arg(long)]
    pub db: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = TableFormat::Csv)]
    pub format: TableFormat,
    /// Sort keys: KEY[:asc|desc][,KEY...]; nulls last.
    #[arg(long)]
    pub sort: Option<String>,
    /// Filter, e.g. "blur_laplacian_var < 100 and tool = 'comfyui'" or "prompt ~ 'fox'".
    #[arg(long = "where")]
    pub filter: Option<String>,
    /// Comma-separated columns (see `assay table --list-columns`).
    #[arg(long)]
    pub columns: Option<String>,
    /// Include files that disappeared from disk.
    #[arg(long)]
    pub include_missing: bool,
    /// Print the valid column names and exit.
    #[arg(long)]
    pub list_columns: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum TableFormat {
    Csv,
    Json,
    Jsonl,
}

pub fn run(args: &TableArgs) -> anyhow::Result<u8> {
    if args.list_columns {
        for c in table::all_columns() {
            println!("{c}");
        }
        return Ok(0);
    }
    let columns: Vec<String> = match &args.columns {
        Some(list) => list
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        None => table::default_columns(),
    };
    let unknown = |c: &str| {
        UsageError(format!(
            "unknown column '{c}'; valid columns: {}",
            table::all_columns().join(", ")
        ))
    };
    if let Some(c) = columns.iter().find(|c| !table::is_column(c)) {
        return Err(unknown(c).into());
    }
    let filter = match &args.filter {
        Some(src) => {
            let e = Expr::parse(src).map_err(|e| UsageError(format!("--where: {e}")))?;
            if let Some(c) = e.columns().into_iter().find(|c| !table::is_column(c)) {
                return Err(unknown(c).into());
            }
            Some(e)
        }
        None => None,
    };
    let sort = match &args.sort {
        Some(s) => {
            let keys = selection::parse_sort(s).map_err(|e| UsageError(format!("--sort: {e}")))?;
            if let Some(k) = keys.iter().find(|k| !table::is_column(&k.column)) {
                return Err(unknown(&k.column).into());
            }
            keys
        }
        None => Vec::new(),
    };
    let (db, _) = Store::locate(&args.dir, args.db.as_deref(), false);
    if !db.exists() {
        return Err(UsageError(format!(
            "no catalogue at {}; run `assay scan {}` first",
            db.display(),
            args.dir.display()
        ))
        .into());
    }
    let store =
        Store::open_for_reading(&db).with_context(|| format!("cannot open {}", db.display()))?;
    let mut rows = store.image_rows(args.include_missing)?;
    if let Some(f) = &filter {
        rows.retain(|r| f.eval(&|c| table::value(r, c)));
    }
    selection::sort_rows(&mut rows, &sort, table::value);

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match args.format {
        TableFormat::Csv => {
            // On a terminal a person reads it: control characters (a file name with an ANSI
            // escape) are shown escaped. Into a pipe or a file the CSV stays exact.
            let tty = std::io::IsTerminal::is_terminal(&std::io::stdout());
            let cell = |v: String| {
                if tty {
                    super::term::escape(&v).into_owned()
                } else {
                    v
                }
            };
            let mut w = csv::Writer::from_writer(&mut out);
            w.write_record(&columns)?;
            for r in &rows {
                w.write_record(
                    columns
                        .iter()
                        .map(|c| cell(table::to_csv(&table::value(r, c)))),
                )?;
            }
            w.flush()?;
        }
        TableFormat::Json | TableFormat::Jsonl => {
            let objects = rows.iter().map(|r| {
                let mut m = serde_json::Map::new();
                for c in &columns {
                    m.insert(c.clone(), table::to_json(c, &table::value(r, c)));
                }
                serde_json::Value::Object(m)
            });
            if matches!(args.format, TableFormat::Json) {
                let all: Vec<_> = objects.collect();
                serde_json::to_writer_pretty(&mut out, &all)?;
                writeln!(out)?;
            } else {
                for o in objects {
                    serde_json::to_writer(&mut out, &o)?;
                    writeln!(out)?;
                }
            }
        }
    }
    out.flush()?;
    Ok(0)
}
