//! `assay signals import`: scores from a judge that runs elsewhere (VQAScore, HPSv3, Q-Align,
//! an in-house model) become a signal of the catalogue, with provenance.
//!
//! The score file (CSV or JSON lines, `signals::score_file`) names images by path (relative to
//! the collection root; absolute paths under it and `./` prefixes accepted) or by content hash
//! (`images.hash`); only current image rows receive values. The signal is recorded in
//! `external_signals` (label, direction, the judge's name and version, the file's xxh3-128,
//! import time, row counts: `store/external.rs`) and its values are stored in `signals` with
//! producer `ext:<producer>@<version>`; the registry then lists it ([`Group::Imported`], kind
//! number), so tables, filters, sorting, policies, the Pareto view, the learned scorer and
//! exports use it like a built-in signal. Re-importing a key replaces its imported values and
//! its provenance in one transaction; no other key is touched. A built-in key, a base column
//! name or a key that another producer already stores values under is refused.
//!
//! Bad rows (not a number, not finite, no key, unknown path or hash, a duplicate key, an
//! unreadable line) are reported by line number, skipped and counted: the report is partial
//! ([`ImportReport::is_partial`], exit code 2). When no row names a current image nothing is
//! written.
//!
//! [`Group::Imported`]: crate::signals::Group::Imported

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::signals::score_file::{self, BadLine, Format, KeyKind, ParseError};
use crate::signals::{Direction, imported};
use crate::store::{self, ExternalSignal, Store};

/// What to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The collection root (paths in the file are relative to it).
    pub root: PathBuf,
    /// The score file.
    pub file: PathBuf,
    /// What names an image in the file.
    pub key: KeyKind,
    /// The signal key to create or replace.
    pub name: String,
    pub direction: Direction,
    /// Display label (default: the key).
    pub label: Option<String>,
    /// The judge's name (default: the key).
    pub producer: Option<String>,
    /// The judge's version (default: the first 8 hex digits of the file's hash).
    pub version: Option<String>,
    /// The score column or field (default: `score`, or a CSV's only other column).
    pub column: Option<String>,
}

/// What an import did.
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    pub key: String,
    pub label: String,
    /// `higher` or `lower` (is better).
    pub direction: &'static str,
    /// The producer stored with each value, `ext:<producer>@<version>`.
    pub producer: String,
    pub file: String,
    /// xxh3-128 of the file's bytes, hex.
    pub file_hash: String,
    pub format: Format,
    /// The score column or field read.
    pub column: String,
    pub imported_at: String,
    /// Data rows read.
    pub rows: usize,
    /// Rows that named a current image.
    pub matched: usize,
    /// Rows naming no current image (or a path outside the collection).
    pub unmatched: usize,
    /// Rows repeating an image named on an earlier line (skipped).
    pub duplicates: usize,
    /// Rows that were unreadable or had no finite score.
    pub invalid: usize,
    /// Images that received a value (a hash names every image with that content).
    pub images: usize,
    /// Earlier imported values of the key that were replaced.
    pub replaced: usize,
    /// Whether anything was written (not when no row matched).
    pub written: bool,
    /// Every skipped row, by line.
    pub bad_lines: Vec<BadLine>,
}

impl ImportReport {
    /// Rows skipped for any reason.
    pub fn skipped(&self) -> usize {
        self.unmatched + self.duplicates + self.invalid
    }

    /// Whether some rows were bad or nothing was written.
    pub fn is_partial(&self) -> bool {
        self.skipped() > 0 || !self.written
    }
}

/// Why an import could not run (nothing was written).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Invalid(String),
    #[error("cannot read the score file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: ParseError,
    },
    #[error(
        "the catalogue already stores `{key}` values from {producer}, which is not an import; \
         choose another --name"
    )]
    Taken { key: String, producer: String },
    #[error(transparent)]
    Store(#[from] store::Error),
}

impl ImportError {
    /// Whether the command line (a name, a column, the file's header) was at fault.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Self::Invalid(_) | Self::Parse { .. } | Self::Taken { .. }
        )
    }
}

/// Checks the key, producer and version names.
fn check_names(o: &ImportOptions) -> Result<(), ImportError> {
    if let Some(p) = imported::key_problem(&o.name) {
        return Err(ImportError::Invalid(p));
    }
    if crate::table::BASE_COLUMNS.contains(&o.name.as_str()) {
        return Err(ImportError::Invalid(format!(
            "`{}` is a table column; choose another --name",
            o.name
        )));
    }
    let bad = |s: &str| s.is_empty() || s.contains('@') || s.chars().any(char::is_whitespace);
    if o.producer.as_deref().is_some_and(bad) || o.version.as_deref().is_some_and(bad) {
        return Err(ImportError::Invalid(
            "--producer and --version must be non-empty, without spaces or `@`".to_string(),
        ));
    }
    if o.direction == Direction::Neutral {
        return Err(ImportError::Invalid(
            "an imported score is better when higher or when lower".to_string(),
        ));
    }
    Ok(())
}

/// The root as given (made absolute) and canonical, without trailing `/`: how absolute paths
/// in a score file may spell it.
fn root_spellings(root: &Path) -> Vec<String> {
    let abs = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
    let mut out = vec![abs.to_string_lossy().trim_end_matches('/').to_string()];
    if let Ok(c) = root.canonicalize() {
        out.push(c.to_string_lossy().trim_end_matches('/').to_string());
    }
    out
}

/// Imports a score file into `store` (see the module docs).
pub fn import_scores(store: &mut Store, o: &ImportOptions) -> Result<ImportReport, ImportError> {
    check_names(o)?;
    let bytes = std::fs::read(&o.file).map_err(|source| ImportError::Read {
        path: o.file.clone(),
        source,
    })?;
    let file_hash = crate::catalog::content_hash(&bytes);
    let format = score_file::format_of(&o.file, &bytes);
    let parsed =
        score_file::parse(&bytes, format, o.key, o.column.as_deref()).map_err(|source| {
            ImportError::Parse {
                path: o.file.clone(),
                source,
            }
        })?;
    if let Some(producer) = store.native_producer_of(&o.name)? {
        return Err(ImportError::Taken {
            key: o.name.clone(),
            producer,
        });
    }
    let ids = store.current_images_by(o.key)?;
    let resolved = score_file::resolve(&parsed.scores, o.key, &root_spellings(&o.root), &ids);
    let mut bad_lines = parsed.bad;
    bad_lines.extend(resolved.bad);
    bad_lines.sort_by_key(|b| b.line);
    let sig = ExternalSignal {
        key: o.name.clone(),
        label: o.label.clone().unwrap_or_else(|| o.name.clone()),
        direction: imported::direction_word(o.direction).to_string(),
        producer: o.producer.clone().unwrap_or_else(|| o.name.clone()),
        version: o
            .version
            .clone()
            .unwrap_or_else(|| file_hash[..8].to_string()),
        file: o.file.display().to_string(),
        file_hash,
        imported_at: store::now_utc(),
        rows: count(parsed.rows),
        matched: count(resolved.matched),
        unmatched: count(resolved.unmatched),
        invalid: count(parsed.rows - resolved.matched - resolved.unmatched - resolved.duplicates),
        images: count(resolved.values.len()),
    };
    let written = !resolved.values.is_empty();
    let replaced = if written {
        store.replace_external_signal(&sig, &resolved.values)?
    } else {
        0
    };
    Ok(ImportReport {
        producer: sig.stored_producer(),
        direction: imported::direction_word(o.direction),
        format: parsed.format,
        column: parsed.column,
        rows: parsed.rows,
        matched: resolved.matched,
        unmatched: resolved.unmatched,
        duplicates: resolved.duplicates,
        invalid: parsed.rows - resolved.matched - resolved.unmatched - resolved.duplicates,
        images: resolved.values.len(),
        replaced,
        written,
        bad_lines,
        key: sig.key,
        label: sig.label,
        file: sig.file,
        file_hash: sig.file_hash,
        imported_at: sig.imported_at,
    })
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
