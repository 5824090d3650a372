//! The SQLite store: the single source of truth for one collection, and the only module with SQL.
//!
//! One database per collection, by default at `<root>/.assay/assay.db`, in WAL mode so that a
//! reader (the GUI, `assay table`) never blocks the scanner and a killed process loses at most the
//! transaction in flight. Writes come in batches, one transaction per batch. Shard catalogues
//! (`assay scan --shard`) are combined by [`Store::merge_catalogues`] (`store/merge.rs`). Team
//! mode's local side (link, sync cursors, pulled pages) is `store/team.rs`.

mod check_schedule;
mod decisions;
mod external;
mod features;
pub mod health;
mod labels;
mod merge;
mod raters;
mod rows;
mod schema;
mod scorers;
pub mod signal_cache;
pub mod synthetic;
mod team;
mod versions;

pub use decisions::NewDecision;
pub use external::ExternalSignal;
pub use labels::{LabelEventRow, NewLabelEvent};
pub use merge::{ConflictKind, MergeConflict, MergeError, MergeReport, ShardMerged};
pub use raters::SessionSummary;
pub use rows::{ReadTimes, RowSlot, SignalKey, Signals};
pub use scorers::{NewScorer, ScorerLogRow, ScorerRow};
pub use team::{
    LocalDecision, PendingKind, PolicyRow, PullApplied, PullPage, PulledDecision, TeamLink,
};

use crate::domain::{Protocol, Status, UnknownProtocol};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, params};

/// Errors of the store. Paths are carried as fields and printed last.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot create the database folder {path}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the database {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "the database {path} has schema version {found}, newer than this build knows ({known}); upgrade Assay"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error(
        "the catalogue {path} is an empty file (0 bytes): it was truncated or never written, so \
         it is not used as a new catalogue; run `assay repair` to rebuild it from the newest \
         backup, or delete the file to start an empty catalogue"
    )]
    Empty { path: PathBuf },
    #[error(
        "{path} is not an Assay catalogue (not an SQLite database, or its first page is \
         destroyed); run `assay repair` to rebuild it from a backup"
    )]
    NotADatabase { path: PathBuf },
    #[error(
        "the catalogue {path} is damaged ({report}); nothing was written to it. Run `assay \
         repair` to rebuild it from every readable row and the newest backup (the damaged file \
         is kept), or `assay repair --restore` to go back to a backup"
    )]
    Damaged { path: PathBuf, report: String },
    #[error(
        "cannot write to the catalogue {path}: {why}. Commands that only read (table, label \
         export, rank, agreement, export, compare, monitor) still work; to scan or record \
         decisions, copy the catalogue to writable storage and pass --db"
    )]
    ReadOnly { path: PathBuf, why: String },
    #[error(
        "the catalogue {path} has schema version {found}, older than this build's ({known}); \
         it must be upgraded by a command that writes (e.g. `assay scan`), which reading \
         commands do not do"
    )]
    NeedsUpgrade {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error(
        "cannot read {path} on read-only storage: its write-ahead log holds changes that were \
         never merged, and SQLite needs a writable folder to read them; copy the catalogue \
         folder to writable storage"
    )]
    UnmergedWal {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
}

pub type Result<T> = std::result::Result<T, Error>;

/// The live (current) row of one path, as the scanner needs it to decide what to redo.
#[derive(Debug, Clone)]
pub struct KnownImage {
    pub id: i64,
    pub path_raw: Vec<u8>,
    pub version: i64,
    pub size: Option<i64>,
    pub mtime_ns: Option<i64>,
    pub hash: Option<String>,
    pub signals_version: Option<i64>,
    pub missing: bool,
    /// Whether the row records a read/decode error.
    pub failed: bool,
}

/// File facts from the catalog.
#[derive(Debug, Clone, Default)]
pub struct ImageFacts {
    pub path: String,
    pub path_raw: Vec<u8>,
    pub size: i64,
    pub mtime_ns: i64,
    pub hash: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub format: Option<String>,
    pub frames: Option<u32>,
    pub orientation: Option<u8>,
    pub error: Option<String>,
    /// xxh3-128 of the decoded pixels (see [`crate::catalog::decode::pixel_hash`]); decisions
    /// carry over to a new version with the same pixels.
    pub pixel_hash: Option<String>,
}

/// Parsed generation metadata as stored.
#[derive(Debug, Clone, Default)]
pub struct MetadataRow {
    pub tool: Option<String>,
    pub positive: Option<String>,
    pub negative: Option<String>,
    pub seed: Option<u64>,
    pub steps: Option<u32>,
    pub sampler: Option<String>,
    pub cfg: Option<f64>,
    pub model: Option<String>,
    pub gen_width: Option<u32>,
    pub gen_height: Option<u32>,
    pub raw_json: String,
    pub warnings_json: String,
    /// The metadata interpreter that read the fields (`metadata::PARSERS`).
    pub parser: Option<String>,
    /// JSON `[[key, value], ...]` of the fields without a column.
    pub extra_json: String,
}

/// One signal value; numeric signals use `value`, hashes use `text`.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalRow {
    pub key: String,
    pub value: Option<f64>,
    pub text: Option<String>,
    pub producer: String,
}

/// How a scanned file relates to what the store already knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upsert {
    /// A path never seen before.
    New,
    /// Same path and same content (or content unknown before): update the row in place.
    Same { id: i64 },
    /// Same path, different content: the old row stops being current (its signals stay with
    /// it, invalidated) and a new version is inserted.
    NewVersion { old_id: i64, old_version: i64 },
}

/// Everything the pipeline learned about one file.
#[derive(Debug, Clone)]
pub struct IngestRecord {
    pub upsert: Upsert,
    pub facts: ImageFacts,
    pub metadata: Option<MetadataRow>,
    pub signals: Vec<SignalRow>,
    pub signals_version: Option<i64>,
    /// An image embedding computed from this scan's decode (model key, vector), written in
    /// the same transaction.
    pub embedding: Option<(String, Vec<f32>)>,
}

/// A current image with everything `assay table` shows. The short texts that repeat across
/// a collection (prompts, tool, model, sampler, format, decision) are shared `Arc<str>`: the
/// bulk read keeps one copy of each distinct value (`store/rows.rs`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImageRow {
    pub id: i64,
    pub path: String,
    pub size: Option<i64>,
    pub hash: Option<String>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub format: Option<Arc<str>>,
    pub frames: Option<i64>,
    pub error: Option<String>,
    pub missing: bool,
    pub version: i64,
    pub tool: Option<Arc<str>>,
    pub positive: Option<Arc<str>>,
    pub negative: Option<Arc<str>>,
    /// Seeds above `i64::MAX` are kept as text by SQLite; both come back as a string here.
    pub seed: Option<String>,
    pub steps: Option<i64>,
    pub sampler: Option<Arc<str>>,
    pub cfg: Option<f64>,
    pub model: Option<Arc<str>>,
    /// Generation size stated in the metadata (may differ from the pixels, e.g. after upscaling).
    pub gen_width: Option<i64>,
    pub gen_height: Option<i64>,
    /// Raw metadata carriers (JSON) and parser warnings: `None` from [`Store::image_rows`]
    /// (kilobytes per image), filled by [`Store::load_raw`].
    pub raw_json: Option<String>,
    pub warnings_json: Option<String>,
    /// The metadata interpreter that read the fields (`None` = none, or scanned before it was
    /// recorded).
    pub parser: Option<Arc<str>>,
    /// JSON `[[key, value], ...]` of the metadata fields without a column.
    pub extra_json: Option<String>,
    pub status: Option<Status>,
    /// Source and reason of the latest decision (`human` or `policy:<name>@<hash>`).
    pub decision_source: Option<Arc<str>>,
    pub decision_reason: Option<Arc<str>>,
    /// 0–5 rating of the latest decision, when it had one.
    pub decision_rating: Option<i64>,
    /// Exact relative path bytes for non-UTF-8 names; empty from [`Store::image_rows`] when
    /// they are the UTF-8 `path` (use [`ImageRow::path_bytes`]).
    pub path_raw: Vec<u8>,
    /// When this version of the path was first scanned (`images.first_seen`, RFC 3339 UTC).
    pub first_seen: Option<String>,
    /// For a version without a decision of its own: the latest decision of an earlier version
    /// of the path whose pixels differ, e.g. `accepted on version 1` (see `store::versions`).
    pub earlier_decision: Option<String>,
    /// Whether the image has a metadata record (every decoded file; not unreadable ones).
    pub has_metadata: bool,
    pub signals: Signals,
}

impl ImageRow {
    /// The latest decision's status as stored (`accepted`, …), `None` when undecided.
    pub fn status_str(&self) -> Option<&'static str> {
        self.status.map(Status::as_str)
    }
}

/// A stored signal value.
#[derive(Debug, Clone, PartialEq)]
pub enum SignalValue {
    Number(f64),
    Text(Box<str>),
}

/// A decision status is stored as its spelling ([`Status::as_str`]); the `decisions` table's
/// check constraint admits exactly [`Status::ALL`].
impl rusqlite::types::ToSql for Status {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

impl rusqlite::types::FromSql for Status {
    fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        let s = v.as_str()?;
        Status::parse(s).ok_or_else(|| {
            rusqlite::types::FromSqlError::Other(Box::new(crate::domain::UnknownStatus(
                s.to_string(),
            )))
        })
    }
}

/// A label event's protocol is stored as its spelling ([`Protocol::as_str`]) in
/// `label_events.protocol`.
impl rusqlite::types::ToSql for Protocol {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

impl rusqlite::types::FromSql for Protocol {
    fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        let s = v.as_str()?;
        Protocol::parse(s).ok_or_else(|| {
            rusqlite::types::FromSqlError::Other(Box::new(UnknownProtocol(s.to_string())))
        })
    }
}

/// An open collection database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// Set for a store opened for writing: its share of the integrity check
    /// (`store/check_schedule.rs`).
    session: Option<check_schedule::Session>,
}

impl Drop for Store {
    fn drop(&mut self) {
        let Some(session) = self.session.take() else {
            return;
        };
        // Close first: the stamp describes the files as the last writer left them.
        let closed = Connection::open_in_memory()
            .map(|mem| std::mem::replace(&mut self.conn, mem))
            .is_ok_and(|conn| conn.close().is_ok());
        if closed {
            session.end();
        } else {
            session.abandon();
        }
    }
}

/// Current UTC time as RFC 3339 with milliseconds.
pub(crate) fn now_utc() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format_unix_ms(d.as_millis())
}

/// Formats milliseconds since the epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ` (proleptic Gregorian).
pub fn format_unix_ms(ms: u128) -> String {
    let secs = ms / 1000;
    let millis = ms % 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if mo <= 2 { y + 1 } else { y };
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}.{millis:03}Z")
}

impl Store {
    /// The default database location for a collection folder.
    pub fn default_path(root: &Path) -> PathBuf {
        root.join(".assay").join("assay.db")
    }

    /// Per-collection database in the user data folder, used when the collection folder itself
    /// is read-only: `$XDG_DATA_HOME/assay/collections/<xxh3 of the canonical path>/assay.db`
    /// (`~/.local/share/…` when `XDG_DATA_HOME` is unset).
    pub fn fallback_path(root: &Path) -> Option<PathBuf> {
        let data = std::env::var_os("XDG_DATA_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))?;
        let canonical = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
        let key = xxhash_rust::xxh3::xxh3_64(canonical.to_string_lossy().as_bytes());
        Some(data.join(format!("assay/collections/{key:016x}/assay.db")))
    }

    /// Where the database of `root` is. An explicit `--db` wins. Otherwise
    /// `<root>/.assay/assay.db`; when `create` is set and that folder cannot be created (a
    /// read-only collection), the [`Self::fallback_path`]; when `create` is not set, whichever
    /// of the two exists. Returns the path and whether it is the fallback.
    pub fn locate(root: &Path, explicit: Option<&Path>, create: bool) -> (PathBuf, bool) {
        if let Some(p) = explicit {
            return (p.to_path_buf(), false);
        }
        let default = Self::default_path(root);
        let fallback = Self::fallback_path(root);
        if create {
            let ok = default
                .parent()
                .is_some_and(|d| std::fs::create_dir_all(d).is_ok());
            match fallback {
                Some(f) if !ok => (f, true),
                _ => (default, false),
            }
        } else {
            match fallback {
                Some(f) if !default.exists() && f.exists() => (f, true),
                _ => (default, false),
            }
        }
    }

    /// Opens (creating if needed) the database at `path` for writing and migrates it to the
    /// latest schema. Refuses a 0-byte file, a file that is not a catalogue, a catalogue that
    /// cannot be written (saying why) and a damaged one (`quick_check`, see [`health`]).
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| Error::CreateDir {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        health::refuse_empty(path)?;
        // Observed before SQLite touches the files.
        let stamped = check_schedule::trusted_stamp(path);
        let conn = Connection::open(path).map_err(|e| health::classify_open_error(path, e))?;
        // SQLite falls back to read-only when the file cannot be written.
        if conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(false) {
            return Err(Error::ReadOnly {
                path: path.to_path_buf(),
                why: health::why_not_writable(path)
                    .unwrap_or_else(|| "SQLite opened it read-only".to_string()),
            });
        }
        let mut store = Self {
            conn,
            path: path.to_path_buf(),
            session: None,
        };
        store.configure().map_err(|e| match e {
            Error::Sql(e) => health::classify_open_error(path, e),
            e => e,
        })?;
        let (session, _checked) = check_schedule::begin(path, stamped, || store.check_health())?;
        store.session = Some(session);
        store.migrate()?;
        store.register_external_signals();
        Ok(store)
    }

    /// An in-memory store (tests, benchmarks).
    pub fn open_in_memory() -> Result<Self> {
        let conn = Connection::open_in_memory()?;
        let mut store = Self {
            conn,
            path: PathBuf::from(":memory:"),
            session: None,
        };
        store.configure()?;
        store.migrate()?;
        store.register_external_signals();
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn configure(&self) -> Result<()> {
        self.conn.busy_timeout(std::time::Duration::from_secs(10))?;
        // WAL: readers never block the writer; synchronous=NORMAL is durable against process
        // kills (only a power loss can lose the last commits).
        self.conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))?;
        self.conn.execute_batch(
            "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;",
        )?;
        Ok(())
    }

    fn migrate(&mut self) -> Result<()> {
        let known = i64::try_from(schema::MIGRATIONS.len()).unwrap_or(i64::MAX);
        let version = |c: &rusqlite::Connection| -> Result<i64> {
            Ok(c.query_row("PRAGMA user_version", [], |r| r.get(0))?)
        };
        if version(&self.conn)? == known {
            return Ok(());
        }
        // Another process may be creating or upgrading the same catalogue (a scan starting while
        // `assay table` opens it): each step takes the write lock first (waiting up to the busy
        // timeout) and reads the version under it, so a step is never applied twice.
        loop {
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let found = version(&tx)?;
            if found > known {
                return Err(Error::TooNew {
                    path: self.path.clone(),
                    found,
                    known,
                });
            }
            let Some(sql) = schema::MIGRATIONS.get(usize::try_from(found).unwrap_or(0)) else {
                return Ok(());
            };
            tx.execute_batch(sql)?;
            tx.execute_batch(&format!("PRAGMA user_version = {}", found + 1))?;
            tx.commit()?;
        }
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// `PRAGMA integrity_check` result (`"ok"` when healthy).
    pub fn integrity_check(&self) -> Result<String> {
        Ok(self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }

    /// Current rows of every path (missing ones included), for incremental rescans.
    pub fn known_images(&self) -> Result<Vec<KnownImage>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, path_raw, version, size, mtime_ns, hash, signals_version, missing,
                    error IS NOT NULL
             FROM images WHERE current = 1",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(KnownImage {
                id: r.get(0)?,
                path_raw: r.get(1)?,
                version: r.get(2)?,
                size: r.get(3)?,
                mtime_ns: r.get(4)?,
                hash: r.get(5)?,
                signals_version: r.get(6)?,
                missing: r.get::<_, i64>(7)? != 0,
                failed: r.get::<_, i64>(8)? != 0,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// Records the start of a scan and returns its id.
    pub fn begin_scan(&self) -> Result<i64> {
        self.conn.execute(
            "INSERT INTO scans (started, status) VALUES (?1, 'running')",
            params![now_utc()],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Marks scans still `running` as `interrupted` (call only when no scan of this catalogue
    /// is alive; see `pipeline::scan_log`). Returns how many.
    pub fn interrupt_running_scans(&self) -> Result<usize> {
        Ok(self.conn.execute(
            "UPDATE scans SET status = 'interrupted', finished = ?1,
                 summary = COALESCE(summary, '{\"error\":\"the scan was killed before it finished\"}')
             WHERE status = 'running'",
            params![now_utc()],
        )?)
    }

    /// `(id, status)` of every scan, oldest first.
    pub fn scan_statuses(&self) -> Result<Vec<(i64, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, status FROM scans ORDER BY id")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// Records how a scan ended.
    pub fn finish_scan(&self, id: i64, status: &str, summary_json: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE scans SET finished = ?1, status = ?2, summary = ?3 WHERE id = ?4",
            params![now_utc(), status, summary_json, id],
        )?;
        Ok(())
    }

    /// Writes one batch of scan results in a single transaction.
    pub fn write_ingest(&mut self, records: &[IngestRecord]) -> Result<Vec<i64>> {
        let now = now_utc();
        let tx = self.conn.transaction()?;
        let mut ids = Vec::with_capacity(records.len());
        for rec in records {
            let f = &rec.facts;
            let id = match rec.upsert {
                Upsert::Same { id } => {
                    tx.execute(
                        "UPDATE images SET path = ?2, size = ?3, mtime_ns = ?4, hash = ?5,
                             width = ?6, height = ?7, format = ?8, frames = ?9, orientation = ?10,
                             error = ?11, missing = 0, signals_version = ?12, last_seen = ?13,
                             pixel_hash = ?14
                         WHERE id = ?1",
                        params![
                            id,
                            f.path,
                            f.size,
                            f.mtime_ns,
                            f.hash,
                            f.width,
                            f.height,
                            f.format,
                            f.frames,
                            f.orientation,
                            f.error,
                            rec.signals_version,
                            now,
                            f.pixel_hash
                        ],
                    )?;
                    id
                }
                Upsert::New | Upsert::NewVersion { .. } => {
                    let version = match rec.upsert {
                        Upsert::NewVersion {
                            old_id,
                            old_version,
                        } => {
                            tx.execute(
                                "UPDATE images SET current = 0 WHERE id = ?1",
                                params![old_id],
                            )?;
                            old_version + 1
                        }
                        _ => 1,
                    };
                    tx.execute(
                        "INSERT INTO images (path, path_raw, version, current, size, mtime_ns, hash,
                             width, height, format, frames, orientation, error, missing,
                             signals_version, first_seen, last_seen, pixel_hash)
                         VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 0, ?13, ?14, ?14,
                                 ?15)",
                        params![
                            f.path,
                            f.path_raw,
                            version,
                            f.size,
                            f.mtime_ns,
                            f.hash,
                            f.width,
                            f.height,
                            f.format,
                            f.frames,
                            f.orientation,
                            f.error,
                            rec.signals_version,
                            now,
                            f.pixel_hash
                        ],
                    )?;
                    let new_id = tx.last_insert_rowid();
                    if let Upsert::NewVersion {
                        old_id,
                        old_version,
                    } = rec.upsert
                    {
                        versions::carry_decisions(
                            &tx,
                            old_id,
                            new_id,
                            old_version,
                            f.pixel_hash.as_deref(),
                        )?;
                    }
                    new_id
                }
            };
            tx.execute("DELETE FROM metadata WHERE image_id = ?1", params![id])?;
            if let Some(m) = &rec.metadata {
                tx.execute(
                    "INSERT INTO metadata (image_id, tool, positive, negative, seed, steps, sampler,
                         cfg, model, gen_width, gen_height, raw_json, warnings_json, parser,
                         extra_json)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                    params![
                        id,
                        m.tool,
                        m.positive,
                        m.negative,
                        m.seed.map(seed_to_sql),
                        m.steps,
                        m.sampler,
                        m.cfg,
                        m.model,
                        m.gen_width,
                        m.gen_height,
                        m.raw_json,
                        m.warnings_json,
                        m.parser,
                        m.extra_json
                    ],
                )?;
            }
            // Imported scores name the content, which is unchanged here: they stay.
            tx.execute(
                "DELETE FROM signals WHERE image_id = ?1 AND producer NOT LIKE 'ext:%'",
                params![id],
            )?;
            {
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO signals (image_id, key, value, text, producer) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                for s in &rec.signals {
                    stmt.execute(params![id, s.key, s.value, s.text, s.producer])?;
                }
            }
            if let Some((key, v)) = &rec.embedding {
                features::insert_embedding(&tx, id, key, v)?;
            }
            ids.push(id);
        }
        tx.commit()?;
        Ok(ids)
    }

    /// Marks current rows as missing (file deleted); rows are never erased.
    pub fn mark_missing(&mut self, ids: &[i64]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached("UPDATE images SET missing = 1 WHERE id = ?1")?;
            for id in ids {
                stmt.execute(params![id])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Sets (replaces) signal values for existing images in one transaction.
    pub fn set_signals(&mut self, rows: &[(i64, SignalRow)]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR REPLACE INTO signals (image_id, key, value, text, producer)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for (id, s) in rows {
                stmt.execute(params![id, s.key, s.value, s.text, s.producer])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Text values of one signal for every current, present image (e.g. perceptual hashes).
    pub fn signal_texts(&self, key: &str) -> Result<Vec<(i64, String)>> {
        let mut stmt = self.conn.prepare(
            "SELECT s.image_id, s.text FROM signals s JOIN images i ON i.id = s.image_id
             WHERE s.key = ?1 AND s.text IS NOT NULL AND i.current = 1 AND i.missing = 0
             ORDER BY s.image_id",
        )?;
        let rows = stmt.query_map(params![key], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// Numeric values of one signal for every current, present image.
    pub fn signal_numbers(&self, key: &str) -> Result<Vec<(i64, f64)>> {
        let mut stmt = self.conn.prepare(
            "SELECT s.image_id, s.value FROM signals s JOIN images i ON i.id = s.image_id
             WHERE s.key = ?1 AND s.value IS NOT NULL AND i.current = 1 AND i.missing = 0
             ORDER BY s.image_id",
        )?;
        let rows = stmt.query_map(params![key], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// `(id, width, height)` of every current, present, decoded image.
    pub fn dimensions(&self) -> Result<Vec<(i64, u32, u32)>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, width, height FROM images
             WHERE current = 1 AND missing = 0 AND error IS NULL
               AND width IS NOT NULL AND height IS NOT NULL
             ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// Every current image (with `include_missing`, also files gone from disk) in path
    /// order, with metadata, latest decision and signals. The raw metadata carriers are not
    /// read (`raw_json`/`warnings_json` are `None`): [`Self::load_raw`] adds them.
    pub fn image_rows(&self, include_missing: bool) -> Result<Vec<ImageRow>> {
        Ok(self.image_rows_timed(include_missing)?.0)
    }

    /// [`Self::image_rows`], each row in its own `Arc` (built in place, not copied: the
    /// workbench shares rows with its worker threads).
    pub fn image_rows_shared(&self, include_missing: bool) -> Result<Vec<Arc<ImageRow>>> {
        Ok(self.image_rows_timed(include_missing)?.0)
    }

    /// [`Self::image_rows`] with the time each part of the read took.
    pub fn image_rows_timed<R: RowSlot>(
        &self,
        include_missing: bool,
    ) -> Result<(Vec<R>, ReadTimes)> {
        let mut times = ReadTimes::default();
        let mut rows = self.read_rows(include_missing, &mut times)?;
        let t = std::time::Instant::now();
        self.fill_earlier_decisions(&mut rows)?;
        times.earlier_decisions_s = t.elapsed().as_secs_f64();
        Ok((rows, times))
    }

    /// Number of rows in a table (tests and summaries). `table` must be a known table name.
    pub fn count(&self, table: &str) -> Result<i64> {
        const TABLES: &[&str] = &[
            "images",
            "metadata",
            "signals",
            "embeddings",
            "label_events",
            "decisions",
            "scorers",
            "scorer_log",
            "raters",
            "scans",
            "policies",
            "external_signals",
        ];
        let Some(t) = TABLES.iter().find(|t| **t == table) else {
            return Ok(0);
        };
        Ok(self
            .conn
            .query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get(0))?)
    }

    /// Appends a decision row (the log is append-only; the latest row is the current status).
    pub fn append_decision(
        &self,
        image_id: i64,
        status: Status,
        rating: Option<i64>,
        source: &str,
        reason: Option<&str>,
    ) -> Result<i64> {
        self.conn.execute(
            "INSERT INTO decisions (image_id, status, rating, source, reason, time)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![image_id, status, rating, source, reason, now_utc()],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Tries to edit a decision in place; the schema refuses (used to prove append-only).
    pub fn try_rewrite_decision(&self, id: i64, status: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE decisions SET status = ?2 WHERE id = ?1",
            params![id, status],
        )?;
        Ok(())
    }

    /// The id of the current row of a relative path.
    pub fn image_id(&self, path: &str) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id FROM images WHERE path = ?1 AND current = 1",
                params![path],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Signals of a given image id, including non-current versions (to check invalidation).
    pub fn signals_of(&self, image_id: i64) -> Result<Vec<SignalRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT key, value, text, producer FROM signals WHERE image_id = ?1 ORDER BY key",
        )?;
        let rows = stmt.query_map(params![image_id], |r| {
            Ok(SignalRow {
                key: r.get(0)?,
                value: r.get(1)?,
                text: r.get(2)?,
                producer: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// How many rows (all versions) exist for a path.
    pub fn versions_of(&self, path: &str) -> Result<Vec<(i64, i64, bool)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, version, current FROM images WHERE path = ?1 ORDER BY version")?;
        let rows = stmt.query_map(params![path], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? != 0))
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }
}

/// Seeds are u64 in every generator; SQLite integers are i64. Seeds that fit are stored as
/// integers (sortable); larger ones as their decimal text.
fn seed_to_sql(seed: u64) -> rusqlite::types::Value {
    match i64::try_from(seed) {
        Ok(v) => rusqlite::types::Value::Integer(v),
        Err(_) => rusqlite::types::Value::Text(seed.to_string()),
    }
}

/// A new, metadata-free image at `path` (store tests).
#[cfg(test)]
pub(crate) fn new_image(path: &str) -> IngestRecord {
    IngestRecord {
        upsert: Upsert::New,
        facts: ImageFacts {
            path: path.into(),
            path_raw: path.as_bytes().to_vec(),
            ..Default::default()
        },
        metadata: None,
        signals: vec![],
        signals_version: None,
        embedding: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writers opening the same new catalogue at once (a scan starting while a reader upgrades
    /// it): all open it, each migration is applied once.
    #[test]
    fn concurrent_opens_of_a_new_catalogue_migrate_once() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..12 {
            let p = dir.path().join(format!("{i}.db"));
            // A catalogue another process has just created (not empty, not migrated yet).
            rusqlite::Connection::open(&p)
                .unwrap()
                .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t0 (x); DROP TABLE t0;")
                .unwrap();
            let opens: Vec<_> = (0..3)
                .map(|_| {
                    let p = p.clone();
                    std::thread::Builder::new()
                        .name("assay-test-open".into())
                        .spawn(move || Store::open(&p).map(|s| s.schema_version()))
                        .unwrap()
                })
                .collect();
            for t in opens {
                let v = t.join().unwrap().expect("every concurrent open succeeds");
                assert_eq!(v.unwrap(), schema::MIGRATIONS.len() as i64);
            }
        }
    }

    #[test]
    fn migrations_apply_once_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(".assay/assay.db");
        let s = Store::open(&p).unwrap();
        assert_eq!(s.schema_version().unwrap(), schema::MIGRATIONS.len() as i64);
        drop(s);
        let s = Store::open(&p).unwrap();
        assert_eq!(s.integrity_check().unwrap(), "ok");
        let mode: String = s
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn protocols_round_trip_through_sql_as_their_spelling() {
        let s = Store::open_in_memory().unwrap();
        for p in Protocol::ALL {
            let (back, text): (Protocol, String) = s
                .conn
                .query_row("SELECT ?1, ?1", params![p], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap();
            assert_eq!((back, text.as_str()), (p, p.as_str()));
        }
        let err = s
            .conn
            .query_row("SELECT 'vote'", [], |r| r.get::<_, Protocol>(0))
            .unwrap_err();
        assert!(err.to_string().contains("unknown protocol 'vote'"), "{err}");
    }

    #[test]
    fn decisions_and_label_events_are_append_only() {
        let mut s = Store::open_in_memory().unwrap();
        let ids = s.write_ingest(&[super::new_image("a.png")]).unwrap();
        let d = s
            .append_decision(ids[0], Status::Accepted, Some(4), "human", None)
            .unwrap();
        let err = s.try_rewrite_decision(d, "rejected").unwrap_err();
        assert!(
            err.to_string().contains("append-only") || format!("{err:?}").contains("append-only")
        );
        assert!(s.conn.execute("DELETE FROM label_events", []).is_ok()); // empty: trigger not hit
        s.conn
            .execute(
                "INSERT INTO label_events (uid, time, rater, session, protocol, payload) VALUES ('u1','t','r','s','pairwise','{}')",
                [],
            )
            .unwrap();
        assert!(s.conn.execute("DELETE FROM label_events", []).is_err());
        // The check constraint refuses a status outside Status::ALL (the typed API cannot
        // even spell one).
        assert!(
            s.conn
                .execute(
                    "INSERT INTO decisions (image_id, status, rating, source, reason, time)
                     VALUES (?1, 'bogus', NULL, 'human', NULL, 't')",
                    [ids[0]],
                )
                .is_err()
        );
        assert_eq!(s.count("decisions").unwrap(), 1);
    }

    #[test]
    fn migration_7_gives_every_stored_event_an_id_and_loses_none() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("old.db");
        {
            // A database at schema 4 with events stored without an id (two of them identical).
            let conn = Connection::open(&p).unwrap();
            for (i, sql) in schema::MIGRATIONS[..4].iter().enumerate() {
                conn.execute_batch(sql).unwrap();
                conn.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
                    .unwrap();
            }
            for uid in ["NULL", "NULL", "'abc'"] {
                conn.execute(
                    &format!(
                        "INSERT INTO label_events (uid, time, rater, session, protocol, payload)
                         VALUES ({uid}, '2026-01-01T00:00:00.000Z', 'r', 'import', 'pairwise', '{{}}')"
                    ),
                    [],
                )
                .unwrap();
            }
        }
        let mut s = Store::open(&p).unwrap();
        assert_eq!(s.schema_version().unwrap(), schema::MIGRATIONS.len() as i64);
        let rows = s.label_events().unwrap();
        assert_eq!(rows.len(), 3, "no event lost");
        let uids: Vec<&str> = rows.iter().map(|r| r.uid.as_deref().unwrap()).collect();
        assert_eq!(
            uids,
            vec![
                "legacy:1:2026-01-01T00:00:00.000Z",
                "legacy:2:2026-01-01T00:00:00.000Z",
                "abc"
            ]
        );
        assert!(rows.iter().all(|r| r.payload == "{}" && r.rater == "r"));
        // Still append-only, and new events need an id.
        assert!(
            s.conn
                .execute("UPDATE label_events SET rater = 'x'", [])
                .is_err()
        );
        assert!(s.conn.execute("DELETE FROM label_events", []).is_err());
        assert!(
            s.conn
                .execute(
                    "INSERT INTO label_events (time, rater, session, protocol, payload) VALUES ('t','r','s','pairwise','{}')",
                    [],
                )
                .is_err()
        );
        let new = s
            .append_label_events(&[crate::store::NewLabelEvent {
                uid: "legacy:1:2026-01-01T00:00:00.000Z".into(),
                time: None,
                rater: "r".into(),
                session: "import".into(),
                protocol: crate::domain::Protocol::Pairwise,
                payload: "{}".into(),
            }])
            .unwrap();
        assert_eq!(new, vec![false], "its id makes a re-import of it a no-op");
        assert_eq!(
            s.label_event_time("abc").unwrap().as_deref(),
            Some("2026-01-01T00:00:00.000Z")
        );
        assert_eq!(s.label_event_time("nope").unwrap(), None);
    }

    #[test]
    fn big_seeds_round_trip_as_text() {
        let mut s = Store::open_in_memory().unwrap();
        s.write_ingest(&[IngestRecord {
            upsert: Upsert::New,
            facts: ImageFacts {
                path: "a.png".into(),
                path_raw: b"a.png".to_vec(),
                ..Default::default()
            },
            metadata: Some(MetadataRow {
                seed: Some(u64::MAX),
                raw_json: "[]".into(),
                warnings_json: "[]".into(),
                parser: Some("comfyui-graph".into()),
                extra_json: r#"[["pass 2: KSampler 11","steps 10"]]"#.into(),
                ..Default::default()
            }),
            signals: vec![],
            signals_version: None,
            embedding: None,
        }])
        .unwrap();
        let rows = s.image_rows(false).unwrap();
        assert_eq!(rows[0].seed.as_deref(), Some("18446744073709551615"));
        assert_eq!(rows[0].parser.as_deref(), Some("comfyui-graph"));
        assert_eq!(
            rows[0].extra_json.as_deref(),
            Some(r#"[["pass 2: KSampler 11","steps 10"]]"#)
        );
    }

    #[test]
    fn timestamps_format() {
        assert_eq!(format_unix_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format_unix_ms(1_795_782_896_123),
            "2026-11-27T12:34:56.123Z"
        );
    }
}
