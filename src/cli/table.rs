//! `assay table DIR`: catalogued images with metadata and signals as CSV, JSON, JSON lines or
//! Parquet (`export::parquet::table`: typed columns for engines). `--out FILE` writes any format
//! to a file (through a temporary name, renamed when complete). Parquet is binary: it goes to
//! `--out` or to a standard output that is not a terminal (a pipe, a redirect); on a terminal
//! it is a usage error rather than bytes on the screen.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use rayon::prelude::*;

use super::UsageError;
use crate::selection::{self, Bound, Expr};
use crate::store::{ImageRow, Store};
use crate::table::{self, Col};

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
    /// Write to this file instead of stdout (replaced when it exists; required for Parquet
    /// when stdout is a terminal).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum TableFormat {
    Csv,
    Json,
    Jsonl,
    /// Typed columns (int64, double, boolean, utf8); needs `--out` on a terminal.
    Parquet,
}

pub fn run(args: &TableArgs) -> anyhow::Result<u8> {
    if let Some(path) = &args.out {
        let code =
            crate::export::write_file_atomically(path, |w| run_to(args, w)).map_err(|e| {
                if e.downcast_ref::<UsageError>().is_some() {
                    e
                } else {
                    e.context(format!("cannot write {}", path.display()))
                }
            })?;
        eprintln!("wrote {}", path.display());
        return Ok(code);
    }
    if matches!(args.format, TableFormat::Parquet)
        && !args.list_columns
        && std::io::IsTerminal::is_terminal(&std::io::stdout())
    {
        return Err(UsageError(
            "Parquet is binary: write it with --out FILE (or redirect stdout to a file)".into(),
        )
        .into());
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    run_to(args, &mut out)
}

/// `assay table` writing to `out` (the benchmark writes to a sink). Rows stream out: only
/// the filtered, sorted row order is built, never a copy of the rows or of the output.
pub fn run_to(args: &TableArgs, out: &mut dyn Write) -> anyhow::Result<u8> {
    // The catalogue's imported signals are columns too.
    super::signals::preload(&args.dir, args.db.as_deref());
    if args.list_columns {
        for c in table::all_columns() {
            writeln!(out, "{c}")?;
        }
        out.flush()?;
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
    // Columns are resolved after the rows are read (signal keys found only in the database
    // are interned while reading).
    let cols: Vec<Col> = columns.iter().map(|c| Col::of(c)).collect();
    let bound = filter.as_ref().map(|e| e.bind(&mut |n: &str| Col::of(n)));
    let sort_cols: Vec<Col> = sort.iter().map(|k| Col::of(&k.column)).collect();
    let descending: Vec<bool> = sort.iter().map(|k| k.descending).collect();
    let raw_before = filter
        .iter()
        .flat_map(|e| e.columns())
        .chain(sort.iter().map(|k| k.column.as_str()))
        .any(|c| Col::of(c).needs_raw());
    if raw_before {
        store.load_raw(&mut rows)?;
    }
    let order = select(&rows, bound.as_ref(), &sort_cols, &descending);
    let mut rows: Vec<ImageRow> = order
        .iter()
        .map(|&i| std::mem::take(&mut rows[i]))
        .collect();
    if !raw_before && cols.iter().any(|c| c.needs_raw()) {
        store.load_raw(&mut rows)?;
    }
    drop(store);
    write_rows(args, &columns, &cols, &rows, out)?;
    out.flush()?;
    Ok(0)
}

/// The selected rows in `args.format`.
fn write_rows(
    args: &TableArgs,
    columns: &[String],
    cols: &[Col],
    rows: &[ImageRow],
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match args.format {
        TableFormat::Csv => {
            // On a terminal a person reads it: control characters (a file name with an ANSI
            // escape) are shown escaped. Into a pipe or a file the CSV stays exact.
            let tty = args.out.is_none() && std::io::IsTerminal::is_terminal(&std::io::stdout());
            let cell = |v: String| {
                if tty {
                    super::term::escape(&v).into_owned()
                } else {
                    v
                }
            };
            let mut w = csv::Writer::from_writer(&mut *out);
            w.write_record(columns)?;
            for r in rows {
                w.write_record(
                    cols.iter()
                        .map(|c| cell(table::to_csv(&table::cell(r, *c).to_value()))),
                )?;
            }
            w.flush()?;
        }
        TableFormat::Json | TableFormat::Jsonl => {
            let object = |r: &ImageRow| {
                let mut m = serde_json::Map::new();
                for (name, c) in columns.iter().zip(cols) {
                    m.insert(
                        name.clone(),
                        table::to_json(name, &table::cell(r, *c).to_value()),
                    );
                }
                serde_json::Value::Object(m)
            };
            if matches!(args.format, TableFormat::Json) {
                // Streamed, with the layout of `to_writer_pretty` on the whole array.
                use serde::ser::{SerializeSeq as _, Serializer as _};
                let mut ser = serde_json::Serializer::pretty(&mut *out);
                let mut seq = ser.serialize_seq(None)?;
                for r in rows {
                    seq.serialize_element(&object(r))?;
                }
                seq.end()?;
                writeln!(out)?;
            } else {
                for r in rows {
                    serde_json::to_writer(&mut *out, &object(r))?;
                    writeln!(out)?;
                }
            }
        }
        TableFormat::Parquet => {
            // The writer needs a `Send` sink; the file is smaller than the rows read.
            let mut buf = Vec::new();
            crate::export::parquet::table::write_table(&mut buf, rows, columns)?;
            out.write_all(&buf)?;
        }
    }
    Ok(())
}

/// The rows `assay table` prints: indices of the rows passing `filter` (on all cores), sorted
/// by `sort` (nulls last, ties in row order, i.e. path order).
pub fn select(
    rows: &[ImageRow],
    filter: Option<&Bound<Col>>,
    sort: &[Col],
    descending: &[bool],
) -> Vec<usize> {
    let mut order: Vec<usize> = match filter {
        Some(b) => (0..rows.len())
            .into_par_iter()
            .filter(|&i| b.eval(&|c: &Col| table::cell(&rows[i], *c)))
            .collect(),
        None => (0..rows.len()).collect(),
    };
    selection::sort_indices(&mut order, descending, |i, k| {
        table::cell(&rows[i], sort[k])
    });
    order
}
