//! When the integrity check of a catalogue opened for writing runs.
//!
//! `PRAGMA quick_check` reads every page: about 15 s for a 1.2 GB catalogue (100,000 images,
//! 200,000 label events) on a loaded 2-core machine (`assay bench catalog-health`). Paying that
//! on every `assay decide`, every GUI job and every rescan would make a large catalogue feel
//! broken, so the check runs when something other than Assay's own writers may have touched
//! the file since it was last found healthy:
//!
//! - **Within a process**, while one writable [`super::Store`] of a catalogue is open, further
//!   writable opens of it (the workbench's jobs) share its check ([`Session`]).
//! - **Between processes**, the last writer to close a catalogue records a stamp beside it
//!   (`<db>.checked`: size and modification time of the database and its `-wal` file, and when
//!   the check last ran). A later open skips the check only when both files are exactly in the
//!   recorded state. Anything else that writes the file (a crash mid-write leaves no new stamp,
//!   a partial copy, a sync tool, garbage written into it) changes its size or time, so the
//!   check runs. The stamp is written at least 50 ms after the files' last change, so that a
//!   change right after it cannot keep the same coarse time stamp (the "racy" case of git's
//!   index); file systems without sub-second times (nanoseconds exactly 0) are never trusted.
//! - **At least daily**: a stamp whose check is older than [`MAX_AGE_SECS`] is not trusted, so
//!   damage that keeps a file's size and time (a failing disk) is found within a day of use.
//!
//! What it does not see: a file changed by another program while an Assay writer has it open
//! and then stamped by that writer's close; the daily check bounds that.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// A stamp older than this (seconds since its check) is not trusted.
pub const MAX_AGE_SECS: u64 = 24 * 3600;

/// How long after the files' last change a stamp may be written (coarse file times).
const RACY: Duration = Duration::from_millis(50);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct FileState {
    len: u64,
    mtime_ns: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    db: FileState,
    wal: FileState,
    /// Seconds since the epoch of the last `quick_check` that found the catalogue healthy.
    checked_at: u64,
}

fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

fn with_suffix(db: &Path, suffix: &str) -> PathBuf {
    let mut s = db.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

/// The stamp file of the catalogue at `db`.
pub fn stamp_path(db: &Path) -> PathBuf {
    with_suffix(db, ".checked")
}

/// Size and time of a file; an absent or empty file (a `-wal` after a clean close) is zeros.
fn state(path: &Path) -> FileState {
    match std::fs::metadata(path) {
        Ok(m) if m.len() > 0 => FileState {
            len: m.len(),
            mtime_ns: m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
        },
        _ => FileState {
            len: 0,
            mtime_ns: 0,
        },
    }
}

fn current(db: &Path) -> (FileState, FileState) {
    (state(db), state(&with_suffix(db, "-wal")))
}

/// When the check last found the catalogue at `db` healthy, if its stamp still describes the
/// files exactly (observed before the catalogue is opened).
pub(super) fn trusted_stamp(db: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(stamp_path(db)).ok()?;
    let stamp: Stamp = serde_json::from_str(&text).ok()?;
    let (db_now, wal_now) = current(db);
    let age = unix_now().as_secs().saturating_sub(stamp.checked_at);
    let coarse = |s: FileState| s.len > 0 && s.mtime_ns.is_multiple_of(1_000_000_000);
    (stamp.db == db_now
        && stamp.wal == wal_now
        && db_now.len > 0
        && !coarse(db_now)
        && !coarse(wal_now)
        && age <= MAX_AGE_SECS)
        .then_some(stamp.checked_at)
}

/// Writes the stamp of `db` (its files as they are now, checked at `checked_at`). Failures are
/// ignored: without a stamp the next open checks.
fn write_stamp(db: &Path, checked_at: u64) {
    let (d, w) = current(db);
    let last_change = Duration::from_nanos(d.mtime_ns.max(w.mtime_ns));
    if let Some(wait) = (last_change + RACY).checked_sub(unix_now()) {
        std::thread::sleep(wait.min(RACY));
    }
    // The files may have changed while waiting (another process): describe them as they are.
    let (db_state, wal) = current(db);
    if db_state.len == 0 {
        return;
    }
    let stamp = Stamp {
        db: db_state,
        wal,
        checked_at,
    };
    let Ok(text) = serde_json::to_string(&stamp) else {
        return;
    };
    let tmp = with_suffix(db, &format!(".checked.{}.tmp", std::process::id()));
    if std::fs::write(&tmp, text).is_ok() && std::fs::rename(&tmp, stamp_path(db)).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// Removes the stamp (a catalogue found damaged, restored or repaired).
pub(super) fn forget(db: &Path) {
    let _ = std::fs::remove_file(stamp_path(db));
    if let Ok(mut live) = live().lock() {
        live.remove(&key(db));
    }
}

/// Writable stores open in this process, per catalogue: how many, and when checked.
fn live() -> &'static Mutex<HashMap<PathBuf, (usize, u64)>> {
    static LIVE: OnceLock<Mutex<HashMap<PathBuf, (usize, u64)>>> = OnceLock::new();
    LIVE.get_or_init(Default::default)
}

fn key(db: &Path) -> PathBuf {
    std::path::absolute(db).unwrap_or_else(|_| db.to_path_buf())
}

/// A writable store's share of its catalogue's check; the last one to end writes the stamp.
#[derive(Debug)]
pub(super) struct Session {
    key: PathBuf,
    db: PathBuf,
}

/// Starts a write session on `db`: `check` runs unless another writable store of this process
/// has the catalogue open, or `stamped` (from [`trusted_stamp`]) says it is unchanged.
/// Returns the session and whether the check ran.
pub(super) fn begin(
    db: &Path,
    stamped: Option<u64>,
    check: impl FnOnce() -> super::Result<()>,
) -> super::Result<(Session, bool)> {
    let key = key(db);
    let session = Session {
        key: key.clone(),
        db: db.to_path_buf(),
    };
    {
        let mut live = live()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(entry) = live.get_mut(&key) {
            entry.0 += 1;
            return Ok((session, false));
        }
    }
    let (at, ran) = match stamped {
        Some(at) => (at, false),
        None => {
            if let Err(e) = check() {
                forget(db);
                return Err(e);
            }
            (unix_now().as_secs(), true)
        }
    };
    let mut live = live()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let entry = live.entry(key).or_insert((0, at));
    entry.0 += 1;
    entry.1 = entry.1.min(at);
    Ok((session, ran))
}

impl Session {
    /// Ends the session after its connection is closed: the last one stamps the catalogue.
    pub(super) fn end(self) {
        let mut live = live()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(entry) = live.get_mut(&self.key) else {
            return;
        };
        entry.0 = entry.0.saturating_sub(1);
        if entry.0 == 0 {
            let at = entry.1;
            live.remove(&self.key);
            // Under the lock, so that an open in this process does not interleave.
            write_stamp(&self.db, at);
        }
    }

    /// Ends the session without vouching for the files (its connection did not close cleanly):
    /// the next open checks.
    pub(super) fn abandon(self) {
        let mut live = live()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(entry) = live.get_mut(&self.key) {
            entry.0 = entry.0.saturating_sub(1);
            if entry.0 == 0 {
                live.remove(&self.key);
            }
        }
        let _ = std::fs::remove_file(stamp_path(&self.db));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Error, Store};

    fn fresh() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("assay.db");
        let s = Store::open(&db).unwrap();
        s.conn
            .execute_batch(
                "CREATE TABLE filler(x BLOB);
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400)
                 INSERT INTO filler SELECT randomblob(1000) FROM n;",
            )
            .unwrap();
        drop(s);
        (dir, db)
    }

    #[test]
    fn a_clean_close_is_trusted_until_anything_changes_the_file() {
        let (_dir, db) = fresh();
        assert!(stamp_path(&db).is_file(), "the last writer stamps");
        assert!(trusted_stamp(&db).is_some());
        // Reopened unchanged: still trusted afterwards (the close stamps again).
        drop(Store::open(&db).unwrap());
        assert!(trusted_stamp(&db).is_some());

        // Garbage written into the middle, same size (what the issue-17 test did): the stamp
        // no longer describes the file, the check runs and the catalogue is refused.
        let mut bytes = std::fs::read(&db).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid..mid + 8192].fill(0xA5);
        std::fs::write(&db, &bytes).unwrap();
        assert_eq!(trusted_stamp(&db), None);
        match Store::open(&db) {
            Err(Error::Damaged { .. }) => {}
            other => panic!("a damaged catalogue was opened: {:?}", other.map(|_| ())),
        }
        assert_eq!(trusted_stamp(&db), None);
    }

    #[test]
    fn an_old_check_is_not_trusted() {
        let (_dir, db) = fresh();
        let text = std::fs::read_to_string(stamp_path(&db)).unwrap();
        let mut stamp: Stamp = serde_json::from_str(&text).unwrap();
        assert!(trusted_stamp(&db).is_some());
        stamp.checked_at -= MAX_AGE_SECS + 1;
        std::fs::write(stamp_path(&db), serde_json::to_string(&stamp).unwrap()).unwrap();
        assert_eq!(trusted_stamp(&db), None);
        // The next open checks and records the new time.
        drop(Store::open(&db).unwrap());
        assert!(trusted_stamp(&db).is_some_and(|at| at > stamp.checked_at));
    }

    #[test]
    fn stores_open_together_share_one_check_and_the_last_one_stamps() {
        let (_dir, db) = fresh();
        std::fs::remove_file(stamp_path(&db)).unwrap();
        let a = Store::open(&db).unwrap();
        let (b, ran) = begin(&db, None, || panic!("checked again while a writer is open")).unwrap();
        assert!(!ran);
        drop(a);
        assert!(!stamp_path(&db).exists(), "a writer is still open");
        b.end();
        assert!(trusted_stamp(&db).is_some(), "the last writer stamps");
    }

    #[test]
    fn a_stamp_written_just_after_a_change_still_sees_a_later_change() {
        let (_dir, db) = fresh();
        // Rewrite the file immediately after the stamp: a coarse clock could give it the
        // time the stamp recorded; the size is the same. The stamp was written at least
        // RACY after the last change, so the new time differs.
        let bytes = std::fs::read(&db).unwrap();
        std::fs::write(&db, &bytes).unwrap();
        assert_eq!(trusted_stamp(&db), None);
    }
}
