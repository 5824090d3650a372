//! A collection's catalogue: the rows read from its database, their index, the reloads and
//! decision batches in flight through the database worker (the UI's one SQLite connection).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use crate::gui::jobs::{DbCmd, DbWorker, Outbox};
use crate::gui::latest::Latest;
use crate::gui::model::{self, Flag};
use crate::gui::{PendingRows, Rows};
use crate::store::{ImageRow, NewDecision};

/// A decision batch: its sequence number and the flags it set.
type Batch = (u64, Vec<(i64, Flag)>);

/// The rows of a [`Collection`](crate::gui::Collection) and the database worker's bookkeeping.
pub struct Catalogue {
    /// Every current image, in path order (as the store returns them), and the position of
    /// each id in `rows`.
    pub rows: Rows,
    pub index: Arc<HashMap<i64, usize>>,
    /// Bumped when `rows` is replaced by a reload (not by flags): views name the rows they
    /// were computed on.
    pub(in crate::gui) rows_id: Latest,
    /// Rows read by a reload, installed together with their view (large collections), and
    /// the decision sequence number they were read at.
    pub(in crate::gui) pending_rows: Option<PendingRows>,
    /// Rows received at least once.
    pub loaded: bool,
    /// Bumped whenever rows or their decisions change (live views recompute).
    pub rows_generation: u64,
    /// The database worker, and whether a reload is in flight (and when the last began).
    pub(in crate::gui) db_worker: DbWorker,
    pub(in crate::gui) reload_in_flight: bool,
    pub(in crate::gui) last_reload: Instant,
    /// Every decision batch sent, until rows read after it are shown (re-applied to rows
    /// read before it was committed).
    pub(in crate::gui) flag_log: Vec<Batch>,
    /// Decision batches sent and confirmed (their flags are re-applied over stale reloads).
    pub(in crate::gui) sent_seq: u64,
    pub(in crate::gui) done_seq: u64,
    pub(in crate::gui) unconfirmed: Vec<Batch>,
}

impl Catalogue {
    /// No rows yet; starts the database worker on `db` and, when it exists, reads what is
    /// already catalogued.
    pub(in crate::gui) fn start(db: &Path, out: &Outbox) -> Self {
        let db_worker = DbWorker::start(db.to_path_buf(), out.clone());
        // Show what is already catalogued at once, then bring it up to date.
        if db.exists() {
            db_worker.send(DbCmd::Reload);
        }
        Self {
            rows: Rows::default(),
            index: Arc::default(),
            rows_id: Latest::default(),
            pending_rows: None,
            loaded: false,
            rows_generation: 0,
            db_worker,
            reload_in_flight: true,
            last_reload: Instant::now(),
            flag_log: Vec::new(),
            sent_seq: 0,
            done_seq: 0,
            unconfirmed: Vec::new(),
        }
    }

    /// The row of `id`, if it is catalogued.
    pub fn row(&self, id: i64) -> Option<&ImageRow> {
        self.index.get(&id).map(|&i| self.rows[i].as_ref())
    }

    /// The row behind an id as a shared pointer (cheap to keep across a frame).
    pub fn row_arc(&self, id: i64) -> Option<Arc<ImageRow>> {
        self.index.get(&id).map(|&i| self.rows[i].clone())
    }

    /// Asks the database worker for the rows, unless a reload is in flight.
    pub(in crate::gui) fn reload(&mut self) {
        if !self.reload_in_flight {
            self.reload_in_flight = true;
            self.last_reload = Instant::now();
            self.db_worker.send(DbCmd::Reload);
        }
    }

    /// Keeps rows from a reload, tagged with a new rows version, until their view is
    /// computed (replacing older pending rows).
    pub(in crate::gui) fn set_pending(
        &mut self,
        rows: Rows,
        index: Arc<HashMap<i64, usize>>,
        done_seq: u64,
    ) {
        let rows_id = self.rows_id.next();
        if let Some((old, ..)) = self.pending_rows.take() {
            self.db_worker.send(DbCmd::Drop(old));
        }
        self.pending_rows = Some((rows, index, done_seq, rows_id));
    }

    /// Makes pending rows the shown ones, re-applying decisions sent after they were read;
    /// `None` when none are pending, else whether any were re-applied.
    pub(in crate::gui) fn install_pending(&mut self) -> Option<bool> {
        let (mut rows, index, done_seq, _) = self.pending_rows.take()?;
        self.flag_log.retain(|(seq, _)| *seq > done_seq);
        for (_, flags) in &self.flag_log {
            model::apply_flags(Arc::make_mut(&mut rows).as_mut_slice(), &index, flags);
        }
        let old = std::mem::replace(&mut self.rows, rows);
        self.db_worker.send(DbCmd::Drop(old));
        self.index = index;
        self.loaded = true;
        self.rows_generation += 1;
        Some(!self.flag_log.is_empty())
    }

    /// Applies `flags` to the rows at once and sends them to the database worker as one batch
    /// of human decisions (kept until confirmed, and re-applied over stale reloads).
    pub(in crate::gui) fn decide(&mut self, flags: Vec<(i64, Flag)>, reason: Option<&str>) {
        model::apply_flags(
            Arc::make_mut(&mut self.rows).as_mut_slice(),
            &self.index,
            &flags,
        );
        self.rows_generation += 1;
        let rows = flags
            .iter()
            .map(|(id, f)| NewDecision {
                image_id: *id,
                status: f.status,
                rating: f.rating,
                source: "human".to_string(),
                reason: reason.map(str::to_string),
                detail: None,
            })
            .collect();
        self.sent_seq += 1;
        self.flag_log.push((self.sent_seq, flags.clone()));
        self.unconfirmed.push((self.sent_seq, flags));
        self.db_worker.send(DbCmd::Decide(self.sent_seq, rows));
    }

    /// Decision batch `seq` committed with `n` rows (0: it failed, so reload what the store
    /// holds).
    pub(in crate::gui) fn batch_written(&mut self, seq: u64, n: usize) {
        self.done_seq = self.done_seq.max(seq);
        self.unconfirmed.retain(|(s, _)| *s > seq);
        if !self.reload_in_flight && self.pending_rows.is_none() {
            // Every later read sees this batch.
            self.flag_log.retain(|(s, _)| *s > seq);
        }
        if n == 0 {
            // Show what the store really holds.
            self.reload();
        }
    }
}
