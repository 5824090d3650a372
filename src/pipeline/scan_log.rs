//! Bookkeeping of the `scans` table, so that no scan stays `running` after it ended.
//!
//! A scan that returns an error (or panics) is recorded `failed` when its [`ScanRecord`] is
//! dropped. A scan that was killed (SIGKILL, power loss) cannot record anything, so the next
//! scan does: every scan holds a shared lock on `<database>.scan-lock` while it runs, and a scan
//! that can take the lock exclusively knows that no other scan of the database is alive, so
//! rows still `running` belong to killed scans and become `interrupted`.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::store::{self, Store};

/// Makes the rolling backup before a scan writes (see [`Store::rotate_backups`]); an empty
/// catalogue (a first scan) needs none. Returns the backup's path, or why none could be made
/// (the scan goes on: its writes are checked and transactional).
pub fn backup_before_scan(store: &Store, keep: usize) -> Result<Option<String>, String> {
    let has_data = ["images", "label_events", "decisions"]
        .iter()
        .any(|t| store.count(t).unwrap_or(0) > 0);
    if !has_data {
        return Ok(None);
    }
    store
        .rotate_backups(keep)
        .map(|p| p.map(|p| p.display().to_string()))
        .map_err(|e| format!("{e:#}"))
}

/// One scan's row in `scans`; marks it `failed` when dropped before [`Self::finish`].
pub struct ScanRecord {
    id: i64,
    db: PathBuf,
    /// Held (shared) for the scan's lifetime; released when the file is closed.
    _lock: Option<File>,
    finished: bool,
    /// Stale `running` rows of killed scans marked `interrupted` when this scan began.
    pub interrupted_before: usize,
}

fn lock_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_os_string();
    p.push(".scan-lock");
    PathBuf::from(p)
}

impl ScanRecord {
    /// Marks the rows of killed scans, then records the start of this one.
    pub fn begin(store: &Store) -> Result<Self, store::Error> {
        let db = store.path().to_path_buf();
        let file = (db != Path::new(":memory:"))
            .then(|| {
                std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(lock_path(&db))
                    .ok()
            })
            .flatten();
        let mut interrupted_before = 0;
        if let Some(f) = &file {
            if f.try_lock().is_ok() {
                interrupted_before = store.interrupt_running_scans()?;
                let _ = f.unlock();
            }
            // Shared: concurrent scans do not block each other, only the check above.
            let _ = f.lock_shared();
        }
        let id = store.begin_scan()?;
        Ok(Self {
            id,
            db,
            _lock: file,
            finished: false,
            interrupted_before,
        })
    }

    /// Records how the scan ended (`done` / `cancelled`) with its JSON summary.
    pub fn finish(
        mut self,
        store: &Store,
        status: &str,
        summary_json: &str,
    ) -> Result<(), store::Error> {
        store.finish_scan(self.id, status, summary_json)?;
        self.finished = true;
        Ok(())
    }
}

impl Drop for ScanRecord {
    fn drop(&mut self) {
        if self.finished || self.db == Path::new(":memory:") {
            return;
        }
        // The scan returned an error or panicked: its own connection may be unusable, so a
        // fresh one records the end.
        if let Ok(s) = Store::open(&self.db) {
            let _ = s.finish_scan(
                self.id,
                "failed",
                r#"{"error":"the scan stopped with an error (see its output)"}"#,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 17: a scan that stopped with an error stayed `running` in `scans`.
    #[test]
    fn a_scan_that_errors_is_recorded_failed_and_a_killed_one_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("a.db");
        let store = Store::open(&db).unwrap();
        {
            let _record = ScanRecord::begin(&store).unwrap();
            // Dropped without `finish`: the scan returned early with an error.
        }
        let killed = store.begin_scan().unwrap(); // a row nobody will finish
        let r = ScanRecord::begin(&store).unwrap();
        assert_eq!(r.interrupted_before, 1);
        r.finish(&store, "done", "{}").unwrap();
        let statuses = store.scan_statuses().unwrap();
        assert_eq!(
            statuses,
            vec![
                (1, "failed".to_string()),
                (killed, "interrupted".to_string()),
                (3, "done".to_string())
            ]
        );
        // While a scan runs (holding the lock), another one leaves its row alone.
        let running = ScanRecord::begin(&store).unwrap();
        let other = ScanRecord::begin(&store).unwrap();
        assert_eq!(other.interrupted_before, 0);
        other.finish(&store, "done", "{}").unwrap();
        running.finish(&store, "done", "{}").unwrap();
        assert!(
            store
                .scan_statuses()
                .unwrap()
                .iter()
                .all(|(_, s)| s != "running")
        );
    }
}
