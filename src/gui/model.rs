//! The workbench's view model, free of egui: which rows are shown in which order (filters and
//! sort), the selection and cursor, and the undo history of culling actions. Panels read it and
//! emit [`Cmd`](super::Cmd)s; the app applies them. Everything here is plain data and unit-tested.

use crate::domain::Status;
use std::borrow::Borrow;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::selection::{self, Cell, Expr};
use crate::store::ImageRow;
use crate::table::{self, Col};

/// Decision statuses in display order (`none` = unflagged).
pub const STATUSES: [Status; 4] = Status::ALL;

/// A numeric range filter on one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RangeFilter {
    pub key: String,
    pub lo: f64,
    pub hi: f64,
    /// Whether rows without a value pass.
    pub keep_missing: bool,
}

/// Every filter of the grid. The default shows everything.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Filters {
    /// Case-insensitive substring over prompt, negative prompt, model and path.
    pub search: String,
    /// Which statuses are shown (order of [`STATUSES`]).
    pub statuses: [bool; 4],
    /// Only this generator tool (`tool` column), when set.
    pub tool: Option<String>,
    /// Only images in a near-duplicate group.
    pub duplicates_only: bool,
    /// Only this near-duplicate group.
    pub dup_group: Option<i64>,
    /// Only files that failed to decode.
    pub errors_only: bool,
    pub ranges: Vec<RangeFilter>,
    /// An expression in the `--where` language of `assay table`.
    pub expr: String,
    /// Only these images (a selection made in another view); not persisted.
    #[serde(skip)]
    pub only_ids: Option<BTreeSet<i64>>,
}

impl Default for Filters {
    fn default() -> Self {
        Self {
            search: String::new(),
            statuses: [true; 4],
            tool: None,
            duplicates_only: false,
            dup_group: None,
            errors_only: false,
            ranges: Vec::new(),
            expr: String::new(),
            only_ids: None,
        }
    }
}

impl Filters {
    /// Whether any filter is active.
    pub fn is_active(&self) -> bool {
        *self != Self::default()
    }
}

/// Sort order of the grid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sort {
    pub column: String,
    pub descending: bool,
}

impl Default for Sort {
    fn default() -> Self {
        Self {
            column: "path".to_string(),
            descending: false,
        }
    }
}

/// The status of a row ([`Status::None`] when it has no decision).
pub fn status_of(row: &ImageRow) -> Status {
    row.status.unwrap_or(Status::None)
}

/// The position of `s` in [`STATUSES`].
pub fn status_index(s: Status) -> usize {
    STATUSES.iter().position(|x| *x == s).unwrap_or(3)
}

fn num(row: &ImageRow, col: Col) -> Option<f64> {
    match table::cell(row, col) {
        Cell::Num(x) if x.is_finite() => Some(x),
        _ => None,
    }
}

/// The indices of `rows` that pass `filters`, in `sort` order (ties by path). An expression
/// that does not parse is an error (shown next to the field); nothing is filtered by it then.
///
/// Linear in the rows and run off the UI thread for large collections: names are resolved
/// once ([`Col`], [`selection::Bound`]), cells are borrowed, rows are filtered on all cores,
/// the sort key is read once per row ([`selection::sort_indices`]), and when the rows are in
/// path order (as the store returns them) ties are broken by position, not by comparing paths.
pub fn compute_view<R: Borrow<ImageRow> + Sync>(
    rows: &[R],
    filters: &Filters,
    sort: &Sort,
) -> (Vec<usize>, Option<String>) {
    let mut error = None;
    let expr = if filters.expr.trim().is_empty() {
        None
    } else {
        match Expr::parse(&filters.expr) {
            Ok(e) => match e.columns().into_iter().find(|c| !table::is_column(c)) {
                Some(bad) => {
                    error = Some(format!("unknown column `{bad}`"));
                    None
                }
                None => Some(e.bind(&mut |n: &str| Col::of(n))),
            },
            Err(e) => {
                error = Some(e.to_string());
                None
            }
        }
    };
    let needle = filters.search.trim().to_lowercase();
    let dup = Col::of("dup_group");
    let ranges: Vec<(Col, &RangeFilter)> = filters
        .ranges
        .iter()
        .map(|f| (Col::of(&f.key), f))
        .collect();
    let keep = |r: &ImageRow| {
        if !filters.statuses[status_index(status_of(r))] {
            return false;
        }
        if let Some(t) = &filters.tool
            && r.tool.as_deref() != Some(t.as_str())
        {
            return false;
        }
        // Group 0 means "no near duplicate" (see `pipeline::update_duplicate_groups`).
        if filters.duplicates_only || filters.dup_group.is_some() {
            let group = num(r, dup).filter(|g| *g != 0.0);
            if filters.duplicates_only && group.is_none() {
                return false;
            }
            if let Some(g) = filters.dup_group
                && group != Some(g as f64)
            {
                return false;
            }
        }
        if filters.errors_only && r.error.is_none() {
            return false;
        }
        if let Some(ids) = &filters.only_ids
            && !ids.contains(&r.id)
        {
            return false;
        }
        for (col, f) in &ranges {
            match num(r, *col) {
                Some(x) if x < f.lo || x > f.hi => return false,
                None if !f.keep_missing => return false,
                _ => {}
            }
        }
        if !needle.is_empty() {
            let hay = [&r.positive, &r.negative, &r.model]
                .iter()
                .filter_map(|s| s.as_deref())
                .chain(std::iter::once(r.path.as_str()))
                .any(|s| selection::expr::contains_lowercase(s, &needle));
            if !hay {
                return false;
            }
        }
        if let Some(e) = &expr
            && !e.eval(&|c: &Col| table::cell(r, *c))
        {
            return false;
        }
        true
    };
    let mut idx: Vec<usize> = (0..rows.len())
        .into_par_iter()
        .filter(|&i| keep(rows[i].borrow()))
        .collect();
    let path_sorted = rows
        .par_windows(2)
        .all(|w| w[0].borrow().path <= w[1].borrow().path);
    let col = Col::of(&sort.column);
    if col == Col::Path && path_sorted {
        if sort.descending {
            idx.reverse();
        }
    } else {
        // Ties by path: by position when the rows are in path order.
        let desc: &[bool] = if path_sorted {
            &[sort.descending]
        } else {
            &[sort.descending, false]
        };
        selection::sort_indices(&mut idx, desc, |i, k| {
            let r = rows[i].borrow();
            if k == 0 {
                table::cell(r, col)
            } else {
                Cell::Text(&r.path)
            }
        });
    }
    (idx, error)
}

/// Whether a flag (status, rating) can change what the view shows or its order: a status
/// filter, a duplicate-group filter, a sort by a decision column, or an expression naming one.
pub fn depends_on_decisions(filters: &Filters, sort: &Sort) -> bool {
    const DECISION: [&str; 4] = ["status", "rating", "decision_source", "decision_reason"];
    filters.statuses.iter().any(|s| !s)
        || filters.dup_group.is_some()
        || DECISION.contains(&sort.column.as_str())
        || Expr::parse(&filters.expr)
            .is_ok_and(|e| e.columns().iter().any(|c| DECISION.contains(c)))
}

/// Number of rows per status, in the order of [`STATUSES`].
pub fn status_counts<R: Borrow<ImageRow> + Sync>(rows: &[R]) -> [usize; 4] {
    rows.par_iter()
        .fold(
            || [0usize; 4],
            |mut acc, r| {
                acc[status_index(status_of(r.borrow()))] += 1;
                acc
            },
        )
        .reduce(|| [0; 4], |a, b| std::array::from_fn(|k| a[k] + b[k]))
}

/// The distinct generator tools of the rows, sorted.
pub fn tools<R: Borrow<ImageRow> + Sync>(rows: &[R]) -> Vec<String> {
    use std::collections::HashSet;
    let set: HashSet<&str> = rows
        .par_iter()
        .fold(HashSet::new, |mut set, r| {
            if let Some(t) = r.borrow().tool.as_deref() {
                set.insert(t);
            }
            set
        })
        .reduce(HashSet::new, |mut a, b| {
            a.extend(b);
            a
        });
    let mut v: Vec<String> = set.into_iter().map(str::to_string).collect();
    v.sort();
    v
}

/// Columns the grid can sort by: metadata fields, then every registered signal.
pub fn sort_columns() -> Vec<String> {
    let mut v: Vec<String> = [
        "path", "width", "height", "bytes", "format", "tool", "prompt", "seed", "steps", "cfg",
        "sampler", "model", "status", "rating",
    ]
    .iter()
    .map(|s| (*s).to_string())
    .collect();
    v.extend(crate::signals::registry().iter().map(|d| d.key.to_string()));
    v
}

/// Histogram of a numeric column over all rows: (min, max, counts), `None` without values.
pub fn histogram<R: Borrow<ImageRow>>(
    rows: &[R],
    key: &str,
    bins: usize,
) -> Option<(f64, f64, Vec<u32>)> {
    let col = Col::of(key);
    let vals: Vec<f64> = rows.iter().filter_map(|r| num(r.borrow(), col)).collect();
    let lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if vals.is_empty() || bins == 0 {
        return None;
    }
    let mut counts = vec![0u32; bins];
    let width = hi - lo;
    for v in vals {
        let b = if width > 0.0 {
            (((v - lo) / width) * bins as f64) as usize
        } else {
            0
        };
        counts[b.min(bins - 1)] += 1;
    }
    Some((lo, hi, counts))
}

/// The grid's selection: a set of image ids, a cursor (the focused image) and the anchor of
/// shift-click ranges. Ids, not positions, so re-sorting keeps it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    pub selected: BTreeSet<i64>,
    pub cursor: Option<i64>,
    anchor: Option<i64>,
}

/// How a click modifies the selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClickMode {
    Replace,
    /// Ctrl/Cmd: toggle one.
    Toggle,
    /// Shift: range from the anchor.
    Range,
}

impl Selection {
    /// Applies a click on `id` (shown in `view` order, as image ids).
    pub fn click(&mut self, id: i64, mode: ClickMode, view: &[i64]) {
        match mode {
            ClickMode::Replace => {
                self.selected.clear();
                self.selected.insert(id);
                self.anchor = Some(id);
            }
            ClickMode::Toggle => {
                if !self.selected.remove(&id) {
                    self.selected.insert(id);
                }
                self.anchor = Some(id);
            }
            ClickMode::Range => {
                let anchor = self.anchor.or(self.cursor).unwrap_or(id);
                let a = view.iter().position(|&x| x == anchor);
                let b = view.iter().position(|&x| x == id);
                self.selected.clear();
                if let (Some(a), Some(b)) = (a, b) {
                    self.selected.extend(&view[a.min(b)..=a.max(b)]);
                } else {
                    self.selected.insert(id);
                }
            }
        }
        self.cursor = Some(id);
    }

    /// Moves the cursor by `delta` positions in `view` (clamped) and selects only it.
    /// With `extend`, the selection grows from the anchor instead (shift+arrow).
    pub fn step(&mut self, delta: isize, view: &[i64], extend: bool) {
        if view.is_empty() {
            return;
        }
        let pos = self
            .cursor
            .and_then(|c| view.iter().position(|&x| x == c))
            .map_or(0, |p| {
                (p as isize + delta).clamp(0, view.len() as isize - 1) as usize
            });
        self.jump(pos, view, extend);
    }

    /// Puts the cursor at position `pos` of `view`.
    pub fn jump(&mut self, pos: usize, view: &[i64], extend: bool) {
        let Some(&id) = view.get(pos.min(view.len().saturating_sub(1))) else {
            return;
        };
        if extend {
            self.click(id, ClickMode::Range, view);
        } else {
            self.click(id, ClickMode::Replace, view);
        }
    }

    /// The ids an action applies to: the selection, or the cursor when nothing is selected.
    pub fn targets(&self) -> Vec<i64> {
        if self.selected.is_empty() {
            self.cursor.into_iter().collect()
        } else {
            self.selected.iter().copied().collect()
        }
    }

    /// Drops ids that are no longer shown.
    pub fn retain(&mut self, view: &[i64]) {
        let shown: std::collections::HashSet<i64> = view.iter().copied().collect();
        self.retain_with(|id| shown.contains(&id), view.first().copied());
    }

    /// Drops ids for which `shown` is false (in the selection's size, not the view's); a
    /// hidden cursor moves to `first`.
    pub fn retain_with(&mut self, shown: impl Fn(i64) -> bool, first: Option<i64>) {
        self.selected.retain(|id| shown(*id));
        if self.cursor.is_some_and(|c| !shown(c)) {
            self.cursor = first;
        }
    }
}

/// A decision state of one image: status and rating.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    pub status: Status,
    pub rating: Option<i64>,
}

impl Flag {
    pub fn of(row: &ImageRow) -> Self {
        Self {
            status: status_of(row),
            rating: row.decision_rating,
        }
    }
}

/// One culling action: what each image was before and is after.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub label: String,
    pub items: Vec<(i64, Flag, Flag)>,
}

/// Undo/redo stacks of culling actions. Undoing appends new decision rows that restore the
/// earlier state; the log itself is never rewritten.
#[derive(Debug, Default)]
pub struct History {
    done: Vec<Change>,
    undone: Vec<Change>,
}

impl History {
    pub fn push(&mut self, c: Change) {
        if !c.items.is_empty() {
            self.done.push(c);
            self.undone.clear();
        }
    }
    /// The change to revert (its `before` states are to be written).
    pub fn undo(&mut self) -> Option<Change> {
        let c = self.done.pop()?;
        self.undone.push(c.clone());
        Some(c)
    }
    /// The change to re-apply (its `after` states are to be written).
    pub fn redo(&mut self) -> Option<Change> {
        let c = self.undone.pop()?;
        self.done.push(c.clone());
        Some(c)
    }
    pub fn can_undo(&self) -> bool {
        !self.done.is_empty()
    }
    pub fn can_redo(&self) -> bool {
        !self.undone.is_empty()
    }
}

/// Builds the change that sets `status` and/or `rating` on `ids` (unchanged items left out).
pub fn make_change<R: Borrow<ImageRow>>(
    rows: &[R],
    index: &HashMap<i64, usize>,
    ids: &[i64],
    status: Option<Status>,
    rating: Option<Option<i64>>,
    label: &str,
) -> Change {
    let items = ids
        .iter()
        .filter_map(|id| {
            let row = rows[*index.get(id)?].borrow();
            let before = Flag::of(row);
            let after = Flag {
                status: status.unwrap_or(before.status),
                rating: rating.unwrap_or(before.rating),
            };
            (after != before).then_some((*id, before, after))
        })
        .collect();
    Change {
        label: label.to_string(),
        items,
    }
}

/// Rows that can be flagged in place: plain rows, or the workbench's shared rows (an
/// `Arc<ImageRow>` is copied only when a background job still reads it).
pub trait RowMut {
    fn row_mut(&mut self) -> &mut ImageRow;
}

impl RowMut for ImageRow {
    fn row_mut(&mut self) -> &mut ImageRow {
        self
    }
}

impl RowMut for Arc<ImageRow> {
    fn row_mut(&mut self) -> &mut ImageRow {
        Arc::make_mut(self)
    }
}

/// Writes `flags` into the in-memory rows (the store gets the same as appended decisions).
pub fn apply_flags<R: RowMut>(rows: &mut [R], index: &HashMap<i64, usize>, flags: &[(i64, Flag)]) {
    for (id, f) in flags {
        if let Some(&i) = index.get(id) {
            let r = rows[i].row_mut();
            r.status = Some(f.status);
            r.decision_rating = f.rating;
            r.decision_source = Some("human".into());
            r.decision_reason = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SignalValue;

    fn row(id: i64, path: &str, sharp: Option<f64>, prompt: &str) -> ImageRow {
        let mut r = ImageRow {
            id,
            path: path.to_string(),
            positive: Some(prompt.into()),
            ..Default::default()
        };
        if let Some(s) = sharp {
            r.signals
                .insert("blur_laplacian_var".into(), SignalValue::Number(s));
        }
        r
    }

    fn rows() -> Vec<ImageRow> {
        vec![
            row(1, "b.png", Some(50.0), "a red fox"),
            row(2, "a.png", Some(10.0), "a blue bird"),
            row(3, "c.png", None, "a red car"),
            row(4, "d.png", Some(300.0), "mountains"),
        ]
    }

    #[test]
    fn sort_by_signal_descending_puts_missing_last() {
        let r = rows();
        let sort = Sort {
            column: "blur_laplacian_var".into(),
            descending: true,
        };
        let (v, err) = compute_view(&r, &Filters::default(), &sort);
        assert!(err.is_none());
        let ids: Vec<i64> = v.iter().map(|&i| r[i].id).collect();
        assert_eq!(ids, vec![4, 1, 2, 3]);
        let (v, _) = compute_view(&r, &Filters::default(), &Sort::default());
        let ids: Vec<i64> = v.iter().map(|&i| r[i].id).collect();
        assert_eq!(ids, vec![2, 1, 3, 4]);
    }

    #[test]
    fn filters_combine() {
        let mut r = rows();
        r[0].status = Some(Status::Rejected);
        let mut f = Filters {
            search: "RED".into(),
            ..Default::default()
        };
        let ids = |f: &Filters| -> Vec<i64> {
            compute_view(&r, f, &Sort::default())
                .0
                .iter()
                .map(|&i| r[i].id)
                .collect()
        };
        assert_eq!(ids(&f), vec![1, 3]);
        f.statuses[1] = false; // hide rejected
        assert_eq!(ids(&f), vec![3]);
        let f = Filters {
            ranges: vec![RangeFilter {
                key: "blur_laplacian_var".into(),
                lo: 20.0,
                hi: 1000.0,
                keep_missing: false,
            }],
            ..Default::default()
        };
        assert_eq!(ids(&f), vec![1, 4]);
        let f = Filters {
            expr: "blur_laplacian_var < 100".into(),
            ..Default::default()
        };
        assert_eq!(ids(&f), vec![2, 1]);
        let bad = Filters {
            expr: "nonsense_col > 1".into(),
            ..Default::default()
        };
        let (v, err) = compute_view(&r, &bad, &Sort::default());
        assert_eq!(v.len(), 4);
        assert!(err.unwrap().contains("nonsense_col"));
    }

    #[test]
    fn duplicate_group_zero_is_no_group() {
        let mut r = rows();
        r[0].signals
            .insert("dup_group".into(), SignalValue::Number(0.0));
        r[1].signals
            .insert("dup_group".into(), SignalValue::Number(3.0));
        r[2].signals
            .insert("dup_group".into(), SignalValue::Number(3.0));
        let f = Filters {
            duplicates_only: true,
            ..Default::default()
        };
        let (v, _) = compute_view(&r, &f, &Sort::default());
        let ids: Vec<i64> = v.iter().map(|&i| r[i].id).collect();
        assert_eq!(ids, vec![2, 3]);
        let f = Filters {
            dup_group: Some(3),
            ..Default::default()
        };
        assert_eq!(compute_view(&r, &f, &Sort::default()).0.len(), 2);
    }

    #[test]
    fn selection_click_modes_and_steps() {
        let view = [10, 20, 30, 40, 50];
        let mut s = Selection::default();
        s.click(20, ClickMode::Replace, &view);
        s.click(40, ClickMode::Range, &view);
        assert_eq!(s.targets(), vec![20, 30, 40]);
        s.click(30, ClickMode::Toggle, &view);
        assert_eq!(
            s.targets(),
            vec![20, 30, 40]
                .into_iter()
                .filter(|&x| x != 30)
                .collect::<Vec<_>>()
        );
        s.step(1, &view, false);
        assert_eq!(s.cursor, Some(40));
        assert_eq!(s.targets(), vec![40]);
        s.step(10, &view, false);
        assert_eq!(s.cursor, Some(50));
        s.step(-2, &view, true);
        assert_eq!(s.targets(), vec![30, 40, 50]);
        s.retain(&[10, 30]);
        assert_eq!(s.targets(), vec![30]);
        assert_eq!(s.cursor, Some(30));
        s.retain(&[10]);
        assert!(s.selected.is_empty());
        assert_eq!(
            s.cursor,
            Some(10),
            "a hidden cursor moves to the first shown image"
        );
    }

    #[test]
    fn history_undo_redo_restores_states() {
        let mut r = rows();
        let index: HashMap<i64, usize> = r.iter().enumerate().map(|(i, x)| (x.id, i)).collect();
        let mut h = History::default();
        let c = make_change(&r, &index, &[1, 2], Some(Status::Accepted), None, "pick");
        assert_eq!(c.items.len(), 2);
        apply_flags(
            &mut r,
            &index,
            &c.items
                .iter()
                .map(|(id, _, a)| (*id, a.clone()))
                .collect::<Vec<_>>(),
        );
        h.push(c);
        // Picking again changes nothing and records nothing.
        let again = make_change(&r, &index, &[1, 2], Some(Status::Accepted), None, "pick");
        assert!(again.items.is_empty());
        let c2 = make_change(&r, &index, &[1], None, Some(Some(4)), "rate");
        assert_eq!(
            c2.items[0].2,
            Flag {
                status: Status::Accepted,
                rating: Some(4)
            }
        );
        h.push(c2);
        let u = h.undo().unwrap();
        assert_eq!(u.items[0].1.rating, None);
        let u = h.undo().unwrap();
        assert_eq!(u.items[0].1.status, Status::None);
        assert!(!h.can_undo());
        assert!(h.redo().is_some());
        assert!(h.can_redo());
        h.push(make_change(
            &r,
            &index,
            &[3],
            Some(Status::Rejected),
            None,
            "reject",
        ));
        assert!(!h.can_redo(), "a new action clears the redo stack");
    }

    #[test]
    fn histogram_counts_all_values() {
        let r = rows();
        let (lo, hi, c) = histogram(&r, "blur_laplacian_var", 4).unwrap();
        assert_eq!((lo, hi), (10.0, 300.0));
        assert_eq!(c.iter().sum::<u32>(), 3);
        assert_eq!(c[3], 1);
        assert!(histogram(&r, "colorfulness", 4).is_none());
    }
}
