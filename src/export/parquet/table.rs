//! `assay table --format parquet`: the rows and columns `assay table` prints (after `--where`,
//! `--sort`, `--columns`, `--include-missing`), each column typed by what it holds rather than
//! printed. Types: counts and sizes (`width height frames bytes version steps gen_width
//! gen_height rating`) `int64`; `seed` `uint64` (every seed a generator can write); `cfg` and
//! numeric signals `double`; `missing` and flag signals (`signals::Kind::Flag`) `boolean`;
//! everything else, hashes and the JSON columns (`raw warnings extra`, as their JSON text)
//! included, `utf8`. `path`, `version`, `missing` and `status` are never null; every other
//! column is nullable. A signal key outside the registry (a newer Assay's, an import) is a
//! `double` when every value it has is a number, else `utf8`.

use std::io::Write;

use super::{ColumnSpec, ColumnType, Datum, Error, ParquetReport, Rows};
use crate::signals::{self, Kind};
use crate::store::ImageRow;
use crate::table::{self, Cell, Col};

/// The typed spec of the table column `name` (resolved as `col`) over `rows`.
pub fn column_spec(name: &str, col: Col, rows: &[ImageRow]) -> ColumnSpec {
    use ColumnType::{Boolean, Double, Int64, UInt64, Utf8};
    let (ty, nullable) = match col {
        Col::Path | Col::Status => (Utf8, false),
        Col::Version => (Int64, false),
        Col::Missing => (Boolean, false),
        Col::Width
        | Col::Height
        | Col::Frames
        | Col::Bytes
        | Col::Steps
        | Col::GenWidth
        | Col::GenHeight
        | Col::Rating => (Int64, true),
        Col::Seed => (UInt64, true),
        Col::Cfg => (Double, true),
        Col::Format
        | Col::Hash
        | Col::Tool
        | Col::Parser
        | Col::MissingFields
        | Col::Prompt
        | Col::NegativePrompt
        | Col::Sampler
        | Col::Model
        | Col::DecisionSource
        | Col::DecisionReason
        | Col::EarlierDecision
        | Col::Error
        | Col::Warnings
        | Col::Extra
        | Col::Raw => (Utf8, true),
        Col::Signal(_) | Col::Unknown => (signal_type(name, col, rows), true),
    };
    ColumnSpec::new(name, ty, nullable)
}

/// The type of a signal column: by its registered kind, else by its values.
fn signal_type(name: &str, col: Col, rows: &[ImageRow]) -> ColumnType {
    match signals::get(name).map(|d| d.kind) {
        Some(Kind::Number) => ColumnType::Double,
        Some(Kind::Flag) => ColumnType::Boolean,
        Some(Kind::Hash | Kind::Json) => ColumnType::Utf8,
        None if rows
            .iter()
            .any(|r| matches!(table::cell(r, col), Cell::Text(_))) =>
        {
            ColumnType::Utf8
        }
        None => ColumnType::Double,
    }
}

/// The table's cells.
struct TableRows<'a> {
    rows: &'a [ImageRow],
    cols: Vec<Col>,
}

impl Rows for TableRows<'_> {
    fn len(&self) -> usize {
        self.rows.len()
    }

    fn cell(&self, row: usize, column: usize) -> Datum<'_> {
        table::cell(&self.rows[row], self.cols[column]).into()
    }
}

/// Writes `rows` (already filtered and sorted) with the table columns `columns` as Parquet.
pub fn write_table<W: Write + Send>(
    out: W,
    rows: &[ImageRow],
    columns: &[String],
) -> Result<ParquetReport, Error> {
    let cols: Vec<Col> = columns.iter().map(|c| Col::of(c)).collect();
    let specs: Vec<ColumnSpec> = columns
        .iter()
        .zip(&cols)
        .map(|(name, col)| column_spec(name, *col, rows))
        .collect();
    super::write(out, &specs, &TableRows { rows, cols }, Vec::new())
}
