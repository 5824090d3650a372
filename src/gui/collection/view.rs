//! A collection's view: which rows are shown in which order (filters and sort), the counts
//! of the filter bar, and the view thread that computes it for large collections.

use crate::gui::INLINE_VIEW_ROWS;
use crate::gui::jobs::{Outbox, ViewResult, ViewWorker};
use crate::gui::latest::Latest;

/// The computed view of a [`Collection`](crate::gui::Collection) and its bookkeeping.
pub struct ViewState {
    /// Row indices shown, in order, their ids, and the position of each row in `order`
    /// (`u32::MAX` when hidden).
    pub order: Vec<usize>,
    pub ids: Vec<i64>,
    pub(in crate::gui) pos: Vec<u32>,
    /// Why the filters could not be applied (a bad `--where` expression).
    pub error: Option<String>,
    /// Rows per status (order of `model::STATUSES`) and the tools, for the filter bar.
    pub status_counts: [usize; 4],
    pub tools: Vec<String>,
    /// Seconds the last view took to compute (filters and sort; the benchmark reads it).
    pub seconds: f64,
    /// The view must be recomputed (rows, filters or sort changed).
    pub(in crate::gui) dirty: bool,
    /// The view thread, the newest view requested, and whether it is still being computed.
    pub(in crate::gui) worker: ViewWorker,
    pub(in crate::gui) generation: Latest,
    pub(in crate::gui) in_flight: bool,
    /// Collections up to this many rows compute their view inline ([`INLINE_VIEW_ROWS`]).
    pub inline_rows: usize,
}

impl ViewState {
    /// No view yet (dirty); starts the view thread.
    pub(in crate::gui) fn start(out: &Outbox) -> Self {
        Self {
            order: Vec::new(),
            ids: Vec::new(),
            pos: Vec::new(),
            error: None,
            status_counts: [0; 4],
            tools: Vec::new(),
            seconds: 0.0,
            dirty: true,
            worker: ViewWorker::start(out.clone()),
            generation: Latest::default(),
            in_flight: false,
            inline_rows: INLINE_VIEW_ROWS,
        }
    }

    /// Shows a computed view (its order, positions, error, counts, tools and time).
    pub(in crate::gui) fn install(&mut self, r: ViewResult) {
        self.order = r.view;
        self.ids = r.view_ids;
        self.pos = r.positions;
        self.error = r.error;
        self.status_counts = r.counts;
        self.tools = r.tools;
        self.seconds = r.seconds;
    }

    /// Whether the row at index `i` is shown.
    pub(in crate::gui) fn shows(&self, i: usize) -> bool {
        self.pos.get(i).is_some_and(|&p| p != u32::MAX)
    }
}
