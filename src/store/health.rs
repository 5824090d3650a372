//! Health of a catalogue: opening for writing or for reading only, the integrity check that
//! guards every write, rolling backups, and repair / restore.
//!
//! - **Writers check first.** [`Store::open`] refuses a 0-byte file (a truncated catalogue, never
//!   silently a new one), a file that is not SQLite, a catalogue on read-only storage (with the
//!   reason), and a damaged one: `PRAGMA quick_check` runs before the first write unless the
//!   catalogue is exactly as Assay's last writer left it, checked within the last day
//!   (`store/check_schedule.rs`: the check reads every page, ≈ 15 s for 1.2 GB on a loaded
//!   machine, too slow for every `decide` and GUI job). A corruption found before the first
//!   write is one that no new data lands on.
//! - **Readers do not write.** [`Store::open_read_only`] opens without creating, migrating or
//!   switching the journal mode, so `table`, `label export`, `rank`, `agreement`, `export`,
//!   `compare` and `monitor` work on read-only media; a WAL catalogue whose `-shm` file cannot
//!   be created there is opened `immutable` when its `-wal` is empty (nothing unmerged).
//! - **Backups.** Before each scan, [`Store::rotate_backups`] copies the (checked) catalogue with
//!   SQLite's online backup API to `<db>.backups/<UTC time>.db` and keeps the newest N.
//! - **Repair.** [`repair`] salvages every readable row of a damaged catalogue table by table
//!   (keyset iteration that jumps over unreadable ranges), adds the rows only the newest healthy
//!   backup still has, and swaps the result in; the damaged file is kept beside it.
//!   [`restore`] puts a backup in place instead. Neither deletes anything.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params_from_iter};

use super::{Error, Result, Store, schema};

/// How many backups a scan keeps by default.
pub const DEFAULT_BACKUPS: usize = 3;

/// What `quick_check` found (at most this many messages are kept).
const MAX_CHECK_MESSAGES: usize = 20;

/// Percent-encodes a path for an SQLite `file:` URI.
pub(super) fn file_uri(path: &Path, query: &str) -> String {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    #[cfg(unix)]
    let bytes = {
        use std::os::unix::ffi::OsStrExt as _;
        abs.as_os_str().as_bytes().to_vec()
    };
    #[cfg(not(unix))]
    let bytes = abs.to_string_lossy().replace('\\', "/").into_bytes();
    let mut s = String::from("file:");
    for b in bytes {
        if b.is_ascii_alphanumeric() || b"/._-~".contains(&b) {
            s.push(char::from(b));
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s.push('?');
    s.push_str(query);
    s
}

/// Why the catalogue at `path` cannot be written, when it cannot (checked on the file and its
/// folder, which SQLite needs for the `-wal` and `-shm` files).
pub(super) fn why_not_writable(path: &Path) -> Option<String> {
    let describe = |e: &std::io::Error, what: &str| match e.kind() {
        std::io::ErrorKind::ReadOnlyFilesystem => {
            format!("the file system holding the {what} is read-only")
        }
        std::io::ErrorKind::PermissionDenied => {
            format!("no permission to write the {what}")
        }
        _ => format!("the {what} cannot be written: {e}"),
    };
    if let Err(e) = std::fs::OpenOptions::new().append(true).open(path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        return Some(describe(&e, "catalogue"));
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let probe = dir.join(format!(".assay-write-probe-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            None
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => None,
        Err(e) => Some(describe(&e, "catalogue's folder")),
    }
}

/// A 0-byte file where a catalogue should be: truncated or never written, never a new one.
pub(super) fn refuse_empty(path: &Path) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() && m.len() == 0 => Err(Error::Empty {
            path: path.to_path_buf(),
        }),
        _ => Ok(()),
    }
}

/// Maps an SQLite error met while opening `path` to the store's clear errors.
pub(super) fn classify_open_error(path: &Path, e: rusqlite::Error) -> Error {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase) => Error::NotADatabase {
            path: path.to_path_buf(),
        },
        Some(rusqlite::ErrorCode::DatabaseCorrupt) => Error::Damaged {
            path: path.to_path_buf(),
            report: e.to_string(),
        },
        Some(rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::CannotOpen) => {
            match why_not_writable(path) {
                Some(why) => Error::ReadOnly {
                    path: path.to_path_buf(),
                    why,
                },
                None => Error::Open {
                    path: path.to_path_buf(),
                    source: e,
                },
            }
        }
        _ => Error::Open {
            path: path.to_path_buf(),
            source: e,
        },
    }
}

/// `PRAGMA quick_check` on `conn`: empty when healthy, else its messages.
fn quick_check_conn(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(&format!("PRAGMA quick_check({MAX_CHECK_MESSAGES})"))?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    let msgs: Vec<String> = rows.collect::<rusqlite::Result<_>>()?;
    Ok(if msgs.len() == 1 && msgs[0] == "ok" {
        Vec::new()
    } else {
        msgs
    })
}

impl Store {
    /// Opens an existing catalogue for reading only: nothing is created, migrated or written,
    /// so it works on read-only media and on catalogues another process is writing.
    pub fn open_read_only(path: &Path) -> Result<Self> {
        refuse_empty(path)?;
        if !path.is_file() {
            return Err(Error::Open {
                path: path.to_path_buf(),
                source: rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                    Some("no such file".to_string()),
                ),
            });
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let probe =
            |conn: &Connection| conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0));
        let plain = Connection::open_with_flags(file_uri(path, "mode=ro"), flags)
            .and_then(|c| probe(&c).map(|v| (c, v)));
        let (conn, found) = match plain {
            Ok(x) => x,
            Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::NotADatabase) => {
                return Err(classify_open_error(path, e));
            }
            Err(e) => {
                // A WAL catalogue on read-only storage: SQLite cannot create the `-shm` file.
                // Without unmerged changes in `-wal` the main file is the whole catalogue.
                let mut wal = path.as_os_str().to_os_string();
                wal.push("-wal");
                let wal_len = std::fs::metadata(PathBuf::from(&wal)).map_or(0, |m| m.len());
                if wal_len > 0 {
                    return Err(Error::UnmergedWal {
                        path: path.to_path_buf(),
                        source: e,
                    });
                }
                let c = Connection::open_with_flags(file_uri(path, "immutable=1"), flags)
                    .map_err(|e| classify_open_error(path, e))?;
                let v = probe(&c).map_err(|e| classify_open_error(path, e))?;
                (c, v)
            }
        };
        let known = i64::try_from(schema::MIGRATIONS.len()).unwrap_or(i64::MAX);
        if found > known {
            return Err(Error::TooNew {
                path: path.to_path_buf(),
                found,
                known,
            });
        }
        if found < known {
            return Err(Error::NeedsUpgrade {
                path: path.to_path_buf(),
                found,
                known,
            });
        }
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let store = Self {
            conn,
            path: path.to_path_buf(),
            session: None,
        };
        store.register_external_signals();
        Ok(store)
    }

    /// Opens a catalogue for a command that only reads: [`Self::open_read_only`], except that
    /// a catalogue of an older schema is opened for writing once to be migrated (when that is
    /// impossible, the error says why).
    pub fn open_for_reading(path: &Path) -> Result<Self> {
        match Self::open_read_only(path) {
            Err(Error::NeedsUpgrade { .. }) => Self::open(path),
            r => r,
        }
    }

    /// `PRAGMA quick_check`: empty when healthy, else what it found (at most 20 messages).
    pub fn quick_check(&self) -> Result<Vec<String>> {
        Ok(quick_check_conn(&self.conn)?)
    }

    /// Refuses to go on with a damaged catalogue.
    pub(super) fn check_health(&self) -> Result<()> {
        let msgs = quick_check_conn(&self.conn).map_err(|e| classify_open_error(&self.path, e))?;
        if msgs.is_empty() {
            Ok(())
        } else {
            Err(Error::Damaged {
                path: self.path.clone(),
                report: msgs.join("; "),
            })
        }
    }

    /// The stamp beside the catalogue at `db` that lets an unchanged catalogue skip the
    /// integrity check (`store/check_schedule.rs`).
    pub fn check_stamp_path(db: &Path) -> PathBuf {
        super::check_schedule::stamp_path(db)
    }

    /// The folder of the rolling backups of the catalogue at `db`.
    pub fn backups_dir(db: &Path) -> PathBuf {
        let mut p = db.as_os_str().to_os_string();
        p.push(".backups");
        PathBuf::from(p)
    }

    /// The backups of the catalogue at `db`, newest first.
    pub fn list_backups(db: &Path) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(Self::backups_dir(db))
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.path())
                    .filter(|p| {
                        p.extension().is_some_and(|e| e == "db")
                            && p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                                n.as_bytes().first().is_some_and(u8::is_ascii_digit)
                            })
                    })
                    .collect()
            })
            .unwrap_or_default();
        // Names are UTC times and a counter (`YYYY-MM-DDTHH-MM-SS.mmmZ-NN.db`): they sort by age.
        v.sort();
        v.reverse();
        v
    }

    /// Copies the catalogue into `dest` with SQLite's online backup API (a consistent snapshot
    /// while other connections read and write), through a temporary name.
    pub fn backup_to(&self, dest: &Path) -> Result<()> {
        let mut tmp = dest.as_os_str().to_os_string();
        tmp.push(".partial");
        let tmp = PathBuf::from(tmp);
        let _ = std::fs::remove_file(&tmp);
        let result = (|| -> Result<()> {
            let mut dst = Connection::open(&tmp)?;
            {
                let b = rusqlite::backup::Backup::new(&self.conn, &mut dst)?;
                b.step(-1)?;
            }
            drop(dst);
            std::fs::rename(&tmp, dest).map_err(|source| Error::CreateDir {
                path: dest.to_path_buf(),
                source,
            })?;
            Ok(())
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    /// Backs the catalogue up into [`Self::backups_dir`] and keeps the newest `keep` backups
    /// (0: none is made and none removed). Returns the new backup.
    pub fn rotate_backups(&self, keep: usize) -> Result<Option<PathBuf>> {
        if keep == 0 || self.path == Path::new(":memory:") {
            return Ok(None);
        }
        let dir = Self::backups_dir(&self.path);
        std::fs::create_dir_all(&dir).map_err(|source| Error::CreateDir {
            path: dir.clone(),
            source,
        })?;
        let stamp = super::now_utc().replace(':', "-");
        let mut n = 0;
        let mut dest = dir.join(format!("{stamp}-{n:02}.db"));
        while dest.exists() {
            n += 1;
            dest = dir.join(format!("{stamp}-{n:02}.db"));
        }
        self.backup_to(&dest)?;
        for old in Self::list_backups(&self.path).into_iter().skip(keep) {
            let _ = std::fs::remove_file(old);
        }
        Ok(Some(dest))
    }
}

/// Rows salvaged from one table.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct TableRepair {
    /// Rows read from the damaged catalogue.
    pub salvaged: u64,
    /// Rows only the backup had.
    pub from_backup: u64,
    /// Unreadable stretches met (each may have held several rows).
    pub unreadable_ranges: u64,
}

/// What [`repair`] did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RepairReport {
    pub database: PathBuf,
    /// Where the damaged file was moved (kept, never deleted).
    pub damaged_copy: Option<PathBuf>,
    /// The backup whose rows filled the gaps, if one was usable.
    pub backup: Option<PathBuf>,
    /// Why the damaged file could not be read at all (then only the backup's rows remain).
    pub unreadable: Option<String>,
    pub tables: BTreeMap<String, TableRepair>,
    /// Signals and metadata must be recomputed: the next scan re-reads every file.
    pub rescan_needed: bool,
}

/// Tables copied by [`repair`], in an order that keeps references meaningful.
const TABLES: &[&str] = &[
    "images",
    "metadata",
    "signals",
    "external_signals",
    "embeddings",
    "decisions",
    "label_events",
    "raters",
    "policies",
    "scorers",
    "scorer_log",
    "scans",
];

/// Key columns for keyset iteration (`rowid` for rowid tables).
fn key_columns(table: &str) -> &'static [&'static str] {
    match table {
        "signals" => &["image_id", "key"],
        "embeddings" => &["image_id", "model_key"],
        "metadata" => &["image_id"],
        _ => &["rowid"],
    }
}

fn columns_of(conn: &Connection, table: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(&format!("PRAGMA table_info({table})"))?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(1))?;
    rows.collect()
}

/// Copies every readable row of `table` from `src` to `dst` (`INSERT OR IGNORE`: rows already
/// there win). Unreadable stretches are skipped by probing ever further ahead on the first key
/// column. Returns (rows copied, unreadable stretches).
fn copy_table(src: &Connection, dst: &Connection, table: &str) -> (u64, u64) {
    let Ok(src_cols) = columns_of(src, table) else {
        return (0, 1);
    };
    let Ok(dst_cols) = columns_of(dst, table) else {
        return (0, 0);
    };
    let cols: Vec<&String> = src_cols.iter().filter(|c| dst_cols.contains(c)).collect();
    if cols.is_empty() {
        return (0, 0);
    }
    let keys = key_columns(table);
    let list = cols
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let key_list = keys.join(", ");
    let select_from = |after: Option<&[rusqlite::types::Value]>| -> String {
        let cond = match after {
            None => String::new(),
            Some(_) if keys.len() == 1 => format!("WHERE {} > ?1", keys[0]),
            Some(_) => format!(
                "WHERE ({key_list}) > ({})",
                (1..=keys.len())
                    .map(|i| format!("?{i}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        format!("SELECT {key_list}, {list} FROM {table} {cond} ORDER BY {key_list}")
    };
    let insert = format!(
        "INSERT OR IGNORE INTO {table} ({list}) VALUES ({})",
        (1..=cols.len())
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let Ok(mut ins) = dst.prepare(&insert) else {
        return (0, 1);
    };
    let nk = keys.len();
    let mut copied = 0u64;
    let mut gaps = 0u64;
    let mut after: Option<Vec<rusqlite::types::Value>> = None;
    loop {
        let sql = select_from(after.as_deref());
        let mut last_key: Option<Vec<rusqlite::types::Value>> = None;
        let outcome: rusqlite::Result<()> = (|| {
            let mut stmt = src.prepare(&sql)?;
            let mut rows = match &after {
                None => stmt.query([])?,
                Some(k) => stmt.query(params_from_iter(k.iter()))?,
            };
            while let Some(r) = rows.next()? {
                let key: Vec<rusqlite::types::Value> =
                    (0..nk).map(|i| r.get(i)).collect::<rusqlite::Result<_>>()?;
                let vals: Vec<rusqlite::types::Value> = (nk..nk + cols.len())
                    .map(|i| r.get(i))
                    .collect::<rusqlite::Result<_>>()?;
                if ins.execute(params_from_iter(vals.iter())).unwrap_or(0) > 0 {
                    copied += 1;
                }
                last_key = Some(key);
            }
            Ok(())
        })();
        if outcome.is_ok() {
            return (copied, gaps);
        }
        gaps += 1;
        // Jump over the unreadable stretch: probe ever further ahead on the first key column.
        let from = match last_key.as_ref().or(after.as_ref()).and_then(|k| k.first()) {
            Some(rusqlite::types::Value::Integer(i)) => *i,
            _ => i64::MIN / 2,
        };
        let mut step: i64 = 1;
        let mut next = None;
        while step < i64::MAX / 4 {
            let probe = from.saturating_add(step);
            let q = format!(
                "SELECT {} FROM {table} WHERE {} > ?1 ORDER BY {} LIMIT 1",
                keys[0], keys[0], keys[0]
            );
            match src
                .query_row(&q, [probe], |r| r.get::<_, i64>(0))
                .optional()
            {
                Ok(Some(k)) => {
                    next = Some(k);
                    break;
                }
                Ok(None) => break,
                Err(_) => step = step.saturating_mul(2),
            }
        }
        match next {
            // Continue at the first readable key (>= k) of the first column.
            Some(k) => {
                after = Some(
                    std::iter::once(rusqlite::types::Value::Integer(k - 1))
                        .chain((1..nk).map(|_| rusqlite::types::Value::Null))
                        .collect(),
                );
                if nk > 1 {
                    // (k - 1, NULL) < (k - 1, anything): rows of key k - 1 would come again;
                    // INSERT OR IGNORE drops those duplicates.
                }
            }
            None => return (copied, gaps),
        }
        if gaps > 10_000 {
            return (copied, gaps);
        }
    }
}

fn stamp() -> String {
    super::now_utc().replace(':', "-")
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut p = path.as_os_str().to_os_string();
    p.push(suffix);
    PathBuf::from(p)
}

/// Moves the catalogue at `db` (and its `-wal` / `-shm` files) aside to `<db>.<what>-<time>`;
/// returns the new path of the main file.
fn move_aside(db: &Path, what: &str) -> Result<Option<PathBuf>> {
    if !db.exists() {
        return Ok(None);
    }
    let aside = with_suffix(db, &format!(".{what}-{}", stamp()));
    for ext in ["", "-wal", "-shm"] {
        let from = with_suffix(db, ext);
        if from.exists() {
            std::fs::rename(&from, with_suffix(&aside, ext)).map_err(|source| {
                Error::CreateDir {
                    path: from.clone(),
                    source,
                }
            })?;
        }
    }
    Ok(Some(aside))
}

/// Rebuilds the catalogue at `db` from every row that can still be read, plus the rows that
/// only the newest healthy backup has; the damaged file is kept as `<db>.damaged-<time>`.
/// A healthy catalogue is left alone (`Ok(None)`).
pub fn repair(db: &Path) -> Result<Option<RepairReport>> {
    super::check_schedule::forget(db);
    // Is it damaged at all? (A healthy, non-empty catalogue is left alone.)
    let empty = std::fs::metadata(db).is_ok_and(|m| m.len() == 0);
    let open_src = || {
        Connection::open_with_flags(
            file_uri(db, "mode=ro"),
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI,
        )
    };
    let unreadable = if empty {
        Some("the file is empty (0 bytes)".to_string())
    } else {
        match open_src().and_then(|c| {
            let healthy = quick_check_conn(&c).is_ok_and(|m| m.is_empty());
            c.query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|_| healthy)
        }) {
            Ok(true) => return Ok(None),
            Ok(false) => None,
            Err(e) => Some(e.to_string()),
        }
    };
    let new_path = with_suffix(db, &format!(".repair-{}", std::process::id()));
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(with_suffix(&new_path, ext));
    }
    let mut report = RepairReport {
        database: db.to_path_buf(),
        damaged_copy: None,
        backup: None,
        unreadable: unreadable.clone(),
        tables: BTreeMap::new(),
        rescan_needed: false,
    };
    {
        let fresh = Store::open(&new_path)?;
        let dst = &fresh.conn;
        dst.execute_batch("PRAGMA foreign_keys = OFF;")?;
        if unreadable.is_none() {
            let src = open_src()?;
            let tx = dst.unchecked_transaction()?;
            for t in TABLES {
                let (n, gaps) = copy_table(&src, dst, t);
                let e = report.tables.entry((*t).to_string()).or_default();
                e.salvaged = n;
                e.unreadable_ranges = gaps;
            }
            tx.commit()?;
        }
        // The newest backup that passes its own check fills the gaps.
        for b in Store::list_backups(db) {
            let Ok(src) = Connection::open_with_flags(
                file_uri(&b, "mode=ro"),
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI,
            ) else {
                continue;
            };
            if !quick_check_conn(&src).is_ok_and(|m| m.is_empty()) {
                continue;
            }
            let tx = dst.unchecked_transaction()?;
            for t in TABLES {
                let (n, _) = copy_table(&src, dst, t);
                report
                    .tables
                    .entry((*t).to_string())
                    .or_default()
                    .from_backup = n;
            }
            tx.commit()?;
            report.backup = Some(b);
            break;
        }
        // One current version per path (a backup may bring back an older one).
        dst.execute_batch(
            "UPDATE images SET current = (version = (SELECT MAX(version) FROM images i2
                                                      WHERE i2.path_raw = images.path_raw));",
        )?;
        let lost_derived = ["images", "metadata", "signals"].iter().any(|t| {
            report
                .tables
                .get(*t)
                .is_some_and(|r| r.unreadable_ranges > 0 || r.from_backup > 0)
        }) || unreadable.is_some();
        if lost_derived {
            dst.execute_batch("UPDATE images SET signals_version = NULL;")?;
            report.rescan_needed = true;
        }
        dst.execute_batch("PRAGMA foreign_keys = ON;")?;
        let check = quick_check_conn(dst)?;
        if !check.is_empty() {
            return Err(Error::Damaged {
                path: new_path.clone(),
                report: check.join("; "),
            });
        }
        dst.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
    }
    report.damaged_copy = move_aside(db, "damaged")?;
    std::fs::rename(&new_path, db).map_err(|source| Error::CreateDir {
        path: db.to_path_buf(),
        source,
    })?;
    for ext in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(with_suffix(&new_path, ext));
    }
    Ok(Some(report))
}

/// Puts `backup` in place of the catalogue at `db` (moved aside as `<db>.replaced-<time>`).
/// Returns where the previous file went.
pub fn restore(db: &Path, backup: &Path) -> Result<Option<PathBuf>> {
    super::check_schedule::forget(db);
    let src = Connection::open_with_flags(
        file_uri(backup, "mode=ro"),
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI,
    )
    .map_err(|e| classify_open_error(backup, e))?;
    let msgs = quick_check_conn(&src).map_err(|e| classify_open_error(backup, e))?;
    if !msgs.is_empty() {
        return Err(Error::Damaged {
            path: backup.to_path_buf(),
            report: msgs.join("; "),
        });
    }
    let tmp = with_suffix(db, &format!(".restore-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    {
        let mut dst = Connection::open(&tmp)?;
        let b = rusqlite::backup::Backup::new(&src, &mut dst)?;
        b.step(-1)?;
    }
    let aside = move_aside(db, "replaced")?;
    std::fs::rename(&tmp, db).map_err(|source| Error::CreateDir {
        path: db.to_path_buf(),
        source,
    })?;
    Ok(aside)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Status;
    use crate::store::{NewLabelEvent, new_image};

    fn catalogue(path: &Path, events: usize) -> Store {
        let mut s = Store::open(path).unwrap();
        let ids = s
            .write_ingest(
                &(0..50)
                    .map(|i| new_image(&format!("{i}.png")))
                    .collect::<Vec<_>>(),
            )
            .unwrap();
        for id in ids.iter().take(10) {
            s.append_decision(*id, Status::Accepted, Some(3), "human", None)
                .unwrap();
        }
        let ev: Vec<NewLabelEvent> = (0..events)
            .map(|e| NewLabelEvent {
                uid: format!("u{e}"),
                time: None,
                rater: "r".into(),
                session: "s".into(),
                protocol: crate::domain::Protocol::Likert,
                payload: format!("{{\"padding\":\"{}\"}}", "p".repeat(300 + e % 7)),
            })
            .collect();
        s.append_label_events(&ev).unwrap();
        s
    }

    #[test]
    fn empty_garbage_and_damaged_files_are_refused_for_writing() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.db");
        std::fs::write(&empty, b"").unwrap();
        assert!(matches!(Store::open(&empty), Err(Error::Empty { .. })));
        assert!(matches!(
            Store::open_read_only(&empty),
            Err(Error::Empty { .. })
        ));
        assert_eq!(
            std::fs::metadata(&empty).unwrap().len(),
            0,
            "not turned into a catalogue"
        );
        let garbage = dir.path().join("garbage.db");
        std::fs::write(&garbage, vec![0x5au8; 8192]).unwrap();
        let e = Store::open(&garbage).err().unwrap();
        assert!(matches!(e, Error::NotADatabase { .. }), "{e:?}");
        let db = dir.path().join("a.db");
        drop(catalogue(&db, 2000));
        let mut bytes = std::fs::read(&db).unwrap();
        let mid = bytes.len() / 2 / 4096 * 4096;
        bytes[mid..mid + 8192].fill(0xA5);
        std::fs::write(&db, &bytes).unwrap();
        let e = Store::open(&db).err().unwrap();
        assert!(matches!(e, Error::Damaged { .. }), "{e:?}");
        assert!(e.to_string().contains("assay repair"), "{e}");
        assert_eq!(std::fs::read(&db).unwrap(), bytes, "nothing written");
    }

    #[test]
    fn repair_salvages_rows_and_fills_gaps_from_the_newest_backup() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("a.db");
        let s = catalogue(&db, 3000);
        assert_eq!(
            repair(&db).unwrap().map(|r| r.database),
            None,
            "healthy: untouched"
        );
        let backup = s.rotate_backups(2).unwrap().unwrap();
        assert_eq!(Store::list_backups(&db), vec![backup.clone()]);
        s.append_decision(1, Status::Rejected, None, "human", Some("after the backup"))
            .unwrap();
        drop(s);
        let mut bytes = std::fs::read(&db).unwrap();
        // Two pages of the label_events table itself (leaf pages hold the payloads).
        let page = (bytes.len() / 2 / 4096..bytes.len() / 4096)
            .find(|p| {
                bytes[p * 4096..(p + 1) * 4096]
                    .windows(9)
                    .any(|w| w == b"\"padding\"")
            })
            .unwrap();
        bytes[page * 4096..(page + 2) * 4096].fill(0xA5);
        std::fs::write(&db, &bytes).unwrap();
        let report = repair(&db).unwrap().expect("damaged: repaired");
        let events = &report.tables["label_events"];
        assert!(events.unreadable_ranges > 0, "{report:?}");
        assert!(events.from_backup > 0, "{report:?}");
        assert_eq!(events.salvaged + events.from_backup, 3000, "{report:?}");
        let fixed = Store::open(&db).unwrap();
        assert_eq!(fixed.count("label_events").unwrap(), 3000);
        assert_eq!(
            fixed.count("decisions").unwrap(),
            11,
            "the newer decision was read"
        );
        assert!(report.damaged_copy.as_ref().is_some_and(|p| p.exists()));
        // Restore goes back to the backup (the decision made after it is not there).
        drop(fixed);
        let aside = restore(&db, &backup).unwrap().unwrap();
        assert!(aside.exists());
        assert_eq!(Store::open(&db).unwrap().count("decisions").unwrap(), 10);
    }
}
