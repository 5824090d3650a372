//! `assay export-signals DIR --out FILE.parquet`: the catalogue's features for an engine, one
//! row per current, present image (the rows of `assay table` without `--include-missing`,
//! in path order): `id` (the image's row id, `int64`), `path` (relative to the folder),
//! `hash` (content hash, `utf8`), every numeric signal as a `double` column (flags included,
//! as 0 / 1: this is a feature matrix; null where not computed) and, with `--embeddings`, one
//! `float_list` column per embedding model (`embedding_<model key>`, letters and digits kept,
//! the rest `_`; null for images without a vector).
//!
//! Signal columns are every registered numeric signal (`signals::Kind::Number` and `Flag`, in
//! registry order, present even when no image has it, so that shards and re-runs share one
//! schema), then keys outside the registry that hold a number for some image (sorted). A model
//! key stored with vectors of several lengths keeps the length most images have; the others
//! are null and counted in the report (`other_dim`).

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use serde::Serialize;

use super::{ColumnSpec, ColumnType, Datum, Error, ParquetReport, Rows};
use crate::signals::{self, Kind};
use crate::store::{ImageRow, SignalKey, SignalValue, Store};

/// Which embeddings go into the file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Embeddings {
    /// None: signals only.
    #[default]
    None,
    /// Every model with vectors in the catalogue.
    All,
    /// These model keys (each must have vectors).
    Models(Vec<String>),
}

/// What to export, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalsExportOptions {
    /// The collection's root.
    pub dir: PathBuf,
    /// Database path (default DIR/.assay/assay.db).
    pub db: Option<PathBuf>,
    /// The Parquet file (replaced when it exists; written under a temporary name first).
    pub out: PathBuf,
    pub embeddings: Embeddings,
}

/// One embedding column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmbeddingColumn {
    pub column: String,
    pub model_key: String,
    /// Length of every vector in the column.
    pub dim: usize,
    /// Images with a vector.
    pub images: usize,
    /// Images whose vector of this model has another length (written as null).
    pub other_dim: usize,
}

/// What `assay export-signals` wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignalsExportReport {
    /// The file written.
    pub out: String,
    /// Signal columns (each a `double`).
    pub signals: usize,
    pub embeddings: Vec<EmbeddingColumn>,
    #[serde(flatten)]
    pub file: ParquetReport,
}

/// The export's cells.
struct SignalRows<'a> {
    rows: &'a [ImageRow],
    keys: Vec<SignalKey>,
    /// Per embedding column: path → vector (of the column's length).
    vectors: Vec<HashMap<String, Vec<f32>>>,
}

/// Columns before the signals: id, path, hash.
const FIXED: usize = 3;

impl Rows for SignalRows<'_> {
    fn len(&self) -> usize {
        self.rows.len()
    }

    fn cell(&self, row: usize, column: usize) -> Datum<'_> {
        let r = &self.rows[row];
        match column {
            0 => Datum::Int(r.id),
            1 => Datum::Text(&r.path),
            2 => r.hash.as_deref().map_or(Datum::Null, Datum::Text),
            c if c < FIXED + self.keys.len() => r
                .signals
                .number(self.keys[c - FIXED])
                .map_or(Datum::Null, Datum::Num),
            c => self.vectors[c - FIXED - self.keys.len()]
                .get(&r.path)
                .map_or(Datum::Null, |v| Datum::Floats(v)),
        }
    }
}

/// The numeric signal keys of the export, in column order (see the module docs).
fn numeric_keys(rows: &[ImageRow]) -> Vec<&'static str> {
    let mut keys: Vec<&'static str> = signals::registry()
        .iter()
        .filter(|d| matches!(d.kind, Kind::Number | Kind::Flag))
        .map(|d| d.key)
        .collect();
    let extra: BTreeSet<&'static str> = rows
        .iter()
        .flat_map(|r| r.signals.iter())
        .filter(|(k, v)| matches!(v, SignalValue::Number(_)) && signals::get(k).is_none())
        .map(|(k, _)| k)
        .collect();
    keys.extend(extra);
    keys
}

/// `embedding_` and the model key with every character but ASCII letters and digits as `_`,
/// made unique among `taken`.
fn embedding_column(model_key: &str, taken: &[String]) -> String {
    let base: String = std::iter::once("embedding_".to_string())
        .chain(model_key.chars().map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_string()
            } else {
                "_".to_string()
            }
        }))
        .collect();
    let mut name = base.clone();
    let mut n = 2;
    while taken.contains(&name) {
        name = format!("{base}_{n}");
        n += 1;
    }
    name
}

/// The embedding models to export: `(model key, dimension)`, the dimension most images have.
fn chosen_models(store: &Store, which: &Embeddings) -> Result<Vec<(String, usize)>, Error> {
    let mut best: Vec<(String, usize, usize)> = Vec::new();
    for (key, dim, images) in store.embedding_models()? {
        match best.iter_mut().find(|(k, _, _)| *k == key) {
            Some(b) if images > b.2 => *b = (key, dim, images),
            Some(_) => {}
            None => best.push((key, dim, images)),
        }
    }
    let pick = |key: &str| best.iter().find(|(k, _, _)| k == key);
    match which {
        Embeddings::None => Ok(Vec::new()),
        Embeddings::All => Ok(best.iter().map(|(k, d, _)| (k.clone(), *d)).collect()),
        Embeddings::Models(keys) => keys
            .iter()
            .map(|key| {
                pick(key)
                    .map(|(k, d, _)| (k.clone(), *d))
                    .ok_or_else(|| Error::UnknownEmbedding {
                        key: key.clone(),
                        available: if best.is_empty() {
                            "none (run `assay embed`)".to_string()
                        } else {
                            best.iter()
                                .map(|(k, _, _)| k.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        },
                    })
            })
            .collect(),
    }
}

/// Writes the signals (and embeddings) of the catalogue of `opts.dir` to `opts.out`.
pub fn export_signals(opts: &SignalsExportOptions) -> Result<SignalsExportReport, Error> {
    let (db, _) = Store::locate(&opts.dir, opts.db.as_deref(), false);
    if !db.exists() {
        return Err(Error::NoCatalogue(db));
    }
    let store = Store::open_for_reading(&db)?;
    let rows = store.image_rows(false)?;
    let keys = numeric_keys(&rows);
    let mut columns = vec![
        ColumnSpec::new("id", ColumnType::Int64, false),
        ColumnSpec::new("path", ColumnType::Utf8, false),
        ColumnSpec::new("hash", ColumnType::Utf8, true),
    ];
    columns.extend(
        keys.iter()
            .map(|k| ColumnSpec::new(*k, ColumnType::Double, true)),
    );
    let mut embeddings = Vec::new();
    let mut vectors = Vec::new();
    let mut metadata = Vec::new();
    for (model_key, dim) in chosen_models(&store, &opts.embeddings)? {
        let taken: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
        let column = embedding_column(&model_key, &taken);
        let mut map = store.embedding_vectors(&model_key)?;
        let before = map.len();
        map.retain(|_, v| v.len() == dim);
        metadata.push((
            format!("assay.embedding.{column}.model_key"),
            model_key.clone(),
        ));
        metadata.push((format!("assay.embedding.{column}.dim"), dim.to_string()));
        columns.push(ColumnSpec::new(&column, ColumnType::FloatList, true));
        embeddings.push(EmbeddingColumn {
            column,
            model_key,
            dim,
            images: map.len(),
            other_dim: before - map.len(),
        });
        vectors.push(map);
    }
    drop(store);
    let signal_rows = SignalRows {
        keys: keys.iter().map(|k| SignalKey::intern(k)).collect(),
        rows: &rows,
        vectors,
    };
    let file = super::super::write_file_atomically(&opts.out, |w| {
        super::write(w, &columns, &signal_rows, metadata)
    })?;
    Ok(SignalsExportReport {
        out: opts.out.display().to_string(),
        signals: keys.len(),
        embeddings,
        file,
    })
}
