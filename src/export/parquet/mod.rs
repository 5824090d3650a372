//! Parquet for engines (Ray Data, Spark, Daft, pandas / pyarrow): `assay table --format
//! parquet` ([`table`]) and `assay export-signals` ([`signals`]) write the catalogue as a
//! typed, columnar file that those engines read without a schema of their own.
//!
//! # Format
//!
//! One Parquet file (format 1.0 pages, readable by every engine), row groups of
//! [`ROW_GROUP_ROWS`] rows, no compression codec (pages are dictionary / RLE encoded, which is
//! most of the gain on repeated text; float vectors barely compress), written with the
//! `parquet` crate's low-level writer (no Arrow stack). Column types ([`ColumnType`]):
//!
//! | type | Parquet | pyarrow reads |
//! |---|---|---|
//! | `int64` | `INT64` | `int64` |
//! | `uint64` (seeds: any `u64`) | `INT64` + `INTEGER(64, unsigned)` | `uint64` |
//! | `double` | `DOUBLE` | `double` |
//! | `boolean` (flags) | `BOOLEAN` | `bool` |
//! | `utf8` (paths, prompts, hashes, JSON text) | `BYTE_ARRAY` + `STRING` | `string` |
//! | `float_list` (embeddings) | 3-level `LIST` of required `FLOAT` | `list<element: float not null>` |
//!
//! Every column that can be absent is `OPTIONAL` (null where the JSON of `assay table` has
//! null: not computed, not in the metadata, not a finite number); columns that always have a
//! value are `REQUIRED`. Embeddings are lists, not Arrow's fixed-size lists (those exist only
//! in Arrow's own schema, stored beside Parquet's): every vector of one column has the same
//! length, given in the key-value metadata (`assay.embedding.<column>.dim`, with the model key
//! under `assay.embedding.<column>.model_key`); `assay.version` names the writer.
//!
//! Files are written through a temporary name in the target folder and renamed into place
//! when complete ([`super::write_file_atomically`]): a killed run never leaves a truncated
//! file under the real name.

use std::io::Write;
use std::sync::Arc;

use parquet::basic::{LogicalType, Repetition, Type as Physical};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, FloatType, Int64Type};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::{SerializedColumnWriter, SerializedFileWriter};
use parquet::schema::types::{Type, TypePtr};
use serde::Serialize;

use crate::table::Cell;

pub mod signals;
pub mod table;

/// Rows per row group: bounds the memory of one group's column buffers (engines split work
/// by row group, so a million rows give ~15 tasks).
pub const ROW_GROUP_ROWS: usize = 65_536;

/// The type of a column (see the module docs for the Parquet types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    Int64,
    UInt64,
    Double,
    Boolean,
    Utf8,
    /// Always nullable (an image without a vector of that model is null).
    FloatList,
}

/// One column of the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: ColumnType,
    /// Whether the column may hold nulls (`OPTIONAL`); else every row has a value.
    pub nullable: bool,
}

impl ColumnSpec {
    pub fn new(name: impl Into<String>, ty: ColumnType, nullable: bool) -> Self {
        Self {
            name: name.into(),
            ty,
            nullable,
        }
    }
}

/// A cell handed to the writer, borrowed from the rows. The writer converts it to the
/// column's type: a number for an integer column must be integral, text for a number column
/// must parse, a number for a text column is printed as `assay table --format csv` prints it;
/// anything else, and non-finite numbers, are null.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Datum<'a> {
    Null,
    Int(i64),
    Num(f64),
    Text(&'a str),
    Floats(&'a [f32]),
}

impl<'a> From<Cell<'a>> for Datum<'a> {
    fn from(c: Cell<'a>) -> Self {
        match c {
            Cell::Null => Self::Null,
            Cell::Num(x) => Self::Num(x),
            Cell::Text(t) => Self::Text(t),
        }
    }
}

/// Rows to write: the cell of each column of each row.
pub trait Rows {
    /// The number of rows.
    fn len(&self) -> usize;

    /// Whether there are no rows.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cell of column `column` (an index into the [`ColumnSpec`]s) of row `row`.
    fn cell(&self, row: usize, column: usize) -> Datum<'_>;
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParquetReport {
    pub rows: usize,
    pub row_groups: usize,
    /// Bytes of the file.
    pub bytes: u64,
    pub columns: Vec<ColumnSpec>,
}

/// Why a Parquet file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot write Parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("cannot write Parquet: {0}")]
    Io(#[from] std::io::Error),
    #[error("column '{column}' is not nullable but row {row} has no value")]
    NullInRequired { column: String, row: usize },
    #[error(transparent)]
    Store(#[from] crate::store::Error),
    #[error("no embeddings of model '{key}' in the catalogue; it has: {available}")]
    UnknownEmbedding { key: String, available: String },
    #[error("no catalogue at {}; run `assay scan` first", .0.display())]
    NoCatalogue(std::path::PathBuf),
}

/// Writes `rows` as Parquet with `columns` to `out`, with `metadata` as key-value metadata
/// (after `assay.version`).
pub fn write<W: Write + Send>(
    out: W,
    columns: &[ColumnSpec],
    rows: &dyn Rows,
    metadata: Vec<(String, String)>,
) -> Result<ParquetReport, Error> {
    let mut kv = vec![KeyValue::new(
        "assay.version".to_string(),
        env!("CARGO_PKG_VERSION").to_string(),
    )];
    kv.extend(metadata.into_iter().map(|(k, v)| KeyValue::new(k, v)));
    let props = WriterProperties::builder()
        .set_key_value_metadata(Some(kv))
        .build();
    let mut w = SerializedFileWriter::new(out, schema(columns)?, Arc::new(props))?;
    // No rows, no row group (valid Parquet: the schema alone).
    let row_groups = rows.len().div_ceil(ROW_GROUP_ROWS);
    for g in 0..row_groups {
        let range = g * ROW_GROUP_ROWS..((g + 1) * ROW_GROUP_ROWS).min(rows.len());
        let mut group = w.next_row_group()?;
        for (c, spec) in columns.iter().enumerate() {
            let mut col = group.next_column()?.ok_or_else(|| {
                parquet::errors::ParquetError::General(format!("no column {}", spec.name))
            })?;
            write_column(&mut col, spec, c, rows, range.clone())?;
            col.close()?;
        }
        group.close()?;
    }
    w.finish()?;
    let bytes = w.bytes_written() as u64;
    Ok(ParquetReport {
        rows: rows.len(),
        row_groups,
        bytes,
        columns: columns.to_vec(),
    })
}

/// The Parquet schema of `columns`.
fn schema(columns: &[ColumnSpec]) -> Result<TypePtr, Error> {
    let fields = columns
        .iter()
        .map(|c| field(c).map(Arc::new))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Arc::new(
        Type::group_type_builder("schema")
            .with_fields(fields)
            .build()?,
    ))
}

/// The Parquet type of one column.
fn field(c: &ColumnSpec) -> Result<Type, Error> {
    let repetition = if c.nullable || c.ty == ColumnType::FloatList {
        Repetition::OPTIONAL
    } else {
        Repetition::REQUIRED
    };
    let (physical, logical) = match c.ty {
        ColumnType::Int64 => (Physical::INT64, None),
        ColumnType::UInt64 => (Physical::INT64, Some(LogicalType::integer(64, false))),
        ColumnType::Double => (Physical::DOUBLE, None),
        ColumnType::Boolean => (Physical::BOOLEAN, None),
        ColumnType::Utf8 => (Physical::BYTE_ARRAY, Some(LogicalType::String)),
        ColumnType::FloatList => {
            let element = Type::primitive_type_builder("element", Physical::FLOAT)
                .with_repetition(Repetition::REQUIRED)
                .build()?;
            let list = Type::group_type_builder("list")
                .with_repetition(Repetition::REPEATED)
                .with_fields(vec![Arc::new(element)])
                .build()?;
            return Ok(Type::group_type_builder(&c.name)
                .with_repetition(repetition)
                .with_logical_type(Some(LogicalType::List))
                .with_fields(vec![Arc::new(list)])
                .build()?);
        }
    };
    Ok(Type::primitive_type_builder(&c.name, physical)
        .with_repetition(repetition)
        .with_logical_type(logical)
        .build()?)
}

/// The values and definition levels of one column over some rows.
struct Chunk<T> {
    values: Vec<T>,
    defs: Vec<i16>,
    reps: Vec<i16>,
}

impl<T> Chunk<T> {
    fn with_capacity(n: usize) -> Self {
        Self {
            values: Vec::with_capacity(n),
            defs: Vec::with_capacity(n),
            reps: Vec::new(),
        }
    }

    /// Appends one scalar cell.
    fn push(&mut self, v: Option<T>) {
        self.defs.push(i16::from(v.is_some()));
        self.values.extend(v);
    }
}

/// Writes rows `range` of column `c`.
fn write_column(
    col: &mut SerializedColumnWriter<'_>,
    spec: &ColumnSpec,
    c: usize,
    rows: &dyn Rows,
    range: std::ops::Range<usize>,
) -> Result<(), Error> {
    let n = range.len();
    let cells = range.clone().map(|r| rows.cell(r, c));
    let required = |defs: &[i16]| match defs.iter().position(|&d| d == 0) {
        Some(i) if !spec.nullable => Err(Error::NullInRequired {
            column: spec.name.clone(),
            row: range.start + i,
        }),
        _ => Ok(()),
    };
    macro_rules! scalar {
        ($ty:ty, $conv:expr) => {{
            let mut chunk = Chunk::with_capacity(n);
            for d in cells {
                chunk.push($conv(d));
            }
            required(&chunk.defs)?;
            let defs = spec.nullable.then_some(chunk.defs.as_slice());
            col.typed::<$ty>().write_batch(&chunk.values, defs, None)?;
        }};
    }
    match spec.ty {
        ColumnType::Int64 => scalar!(Int64Type, as_i64),
        ColumnType::UInt64 => scalar!(Int64Type, |d| as_u64(d).map(|u: u64| u as i64)),
        ColumnType::Double => scalar!(DoubleType, as_f64),
        ColumnType::Boolean => scalar!(BoolType, as_bool),
        ColumnType::Utf8 => scalar!(ByteArrayType, as_text),
        ColumnType::FloatList => {
            let chunk = float_lists(cells, n);
            col.typed::<FloatType>().write_batch(
                &chunk.values,
                Some(&chunk.defs),
                Some(&chunk.reps),
            )?;
        }
    }
    Ok(())
}

/// The values and levels of a nullable 3-level list column: definition 0 = null list,
/// 1 = empty list, 2 = an element; repetition 0 starts a row.
fn float_lists<'a>(cells: impl Iterator<Item = Datum<'a>>, n: usize) -> Chunk<f32> {
    let mut chunk = Chunk::with_capacity(n);
    for d in cells {
        match d {
            Datum::Floats(v) if !v.is_empty() => {
                chunk.values.extend_from_slice(v);
                chunk.defs.extend(std::iter::repeat_n(2, v.len()));
                chunk.reps.push(0);
                chunk.reps.extend(std::iter::repeat_n(1, v.len() - 1));
            }
            Datum::Floats(_) => {
                chunk.defs.push(1);
                chunk.reps.push(0);
            }
            _ => {
                chunk.defs.push(0);
                chunk.reps.push(0);
            }
        }
    }
    chunk
}

fn as_i64(d: Datum<'_>) -> Option<i64> {
    match d {
        Datum::Int(i) => Some(i),
        // Integral and within ±2^63 (`i64::MAX as f64` rounds up to 2^63, hence `<`).
        Datum::Num(x) if x.fract() == 0.0 && x.abs() < i64::MAX as f64 => Some(x as i64),
        Datum::Text(t) => t.trim().parse().ok(),
        _ => None,
    }
}

fn as_u64(d: Datum<'_>) -> Option<u64> {
    match d {
        Datum::Int(i) => u64::try_from(i).ok(),
        Datum::Num(x) if x.fract() == 0.0 && (0.0..u64::MAX as f64).contains(&x) => Some(x as u64),
        Datum::Text(t) => t.trim().parse().ok(),
        _ => None,
    }
}

fn as_f64(d: Datum<'_>) -> Option<f64> {
    let x = match d {
        Datum::Int(i) => i as f64,
        Datum::Num(x) => x,
        Datum::Text(t) => t.trim().parse().ok()?,
        Datum::Null | Datum::Floats(_) => return None,
    };
    x.is_finite().then_some(x)
}

/// A flag: 0 is false, any other finite number true.
fn as_bool(d: Datum<'_>) -> Option<bool> {
    as_f64(d).map(|x| x != 0.0)
}

fn as_text(d: Datum<'_>) -> Option<ByteArray> {
    let text = match d {
        Datum::Text(t) => t.to_string(),
        Datum::Int(i) => i.to_string(),
        Datum::Num(x) if x.is_finite() => crate::table::to_csv(&crate::table::Value::Num(x)),
        _ => return None,
    };
    Some(ByteArray::from(text.into_bytes()))
}

#[cfg(test)]
mod tests;
