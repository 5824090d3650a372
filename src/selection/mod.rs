//! Selection: pure functions over per-image values: the filter-expression language ([`expr`])
//! that `assay table --where` and policy gates use, sorting, selection policies ([`policy`]),
//! ranking rules ([`rules`]), threshold calibration / best-of-N ([`calibrate`]), human evidence
//! as labels ([`labels`]), judging a whole policy against it ([`evaluate`]) and the typed reports
//! of `assay calibrate` / `assay select` built from them ([`report`]).
//!
//! # Scope
//!
//! `--where` expressions, null-last sorting; TOML selection policies (`policy.rs`: gates in the
//! `--where` language, weighted-sum / lexicographic-with-tolerance / constrained / Pareto ranking
//! per collection, prompt or seed batch, accept/review/reject bands, `top_k` best-of-N; missing
//! signals → review, never accepted), rules (`rules.rs`), calibration (`calibrate.rs`: threshold
//! for a precision target, minimum-cost threshold, band precision/recall with Wilson intervals,
//! exact best-of-N curve). `assay select DIR --policy F.toml` applies a policy: one appended
//! decision per image (source `policy:<name>@<hash>`, reason, and a `detail` JSON with score, rank
//! and the signal vector), human decisions never overwritten, unreadable files rejected, the policy
//! text versioned in `policies`; counts per band and reason. `assay calibrate DIR --signal KEY`
//! chooses a threshold from human accept/reject decisions (minimum cost for a cost ratio, or a
//! precision target) and reports held-out precision/recall with Wilson intervals. `plan.rs` turns a
//! policy and the catalogue's rows into the decisions to append (shared by `assay select` and the
//! GUI's policy editor; `set_bands` edits thresholds in the TOML text keeping comments). `assay
//! calibrate DIR --policy F.toml` calibrates a whole policy's accept / reject bands on its final
//! score from decisions and pairwise labels (`labels.rs`: decisions, Bradley–Terry-derived
//! good/bad, the humans' best of a group; `evaluate.rs`: `calibrate_policy`, `best_of_n`,
//! `selector_efficiency`), `--write` rewrites the file's `[bands]`; `assay select --best-of-n`
//! prints the expected quality of the pick vs N per group and pooled, and selector efficiency. In
//! the GUI: the Pareto view and the policy editor with Calibrate from labels and the best-of-N plot
//! (see the `gui` docs)
//!
//! # Policies
//!
//! Pure: no I/O, SQL or burn; the only outside read is the in-memory signal registry
//! (`signals::get`, for default directions; built-in signals plus the imported ones a catalogue
//! registered when it was opened, `signals::imported`). `Policy::from_toml` + `Policy::validate(known_keys)` (errors name the
//! key: unknown signals, unparsable or self-contradictory conditions such as `x < 3 and x > 5`,
//! keys without a direction, empty weights, `accept < reject`, `top_k = 0`); `apply(&policy,
//! &[Item]) -> Vec<Outcome>` in input order.
//!
//! - Gates run in file order: a gate that fails with all its signals present rejects with its
//!   `reason`; otherwise a gate, constraint or rank key with a missing (absent, null, non-numeric,
//!   non-finite) signal sends the image to review with `missing signal <key>`. A gate's optional
//!   `review_when` is its second threshold: failing `when` but meeting it → review.
//! - Score in [0, 1] within the scope: weighted sum of population z-scores (constant signal → 0)
//!   and `constrained` (maximised signal) → mid-rank percentile (share of the others beaten, ties
//!   half; a lone image scores 1); lexicographic → `1 − position/(n − 1)`; Pareto → `1/(1 +
//!   front)`. `score ≥ accept` → accept, `< reject` → reject, else review; `top_k` demotes accepts
//!   beyond the k best of the scope to review. Ranks break ties by image id.
//! - Lexicographic with tolerances is greedy against the best *remaining* image: keep the
//!   candidates within `tol₁` of the best on key 1, among them those within `tol₂` of their best on
//!   key 2, …, take the lowest id, repeat.
//! - Calibration accepts `score ≥ t`: the smallest `t` with precision ≥ target, or the `t`
//!   minimising `c_FA·FA + c_FR·FR` (ties → higher `t`); band precision with Wilson 95 % intervals;
//!   best-of-N is the exact order-statistics expectation without replacement.
//! - Whole-policy calibration (`evaluate::calibrate_policy`): scores from `plan::plan` with no
//!   image held back (the labelled images are the human-decided ones; `assay select` ranks without
//!   them, so its percentiles can differ slightly when many images of a group are decided by hand).
//!   Labels (`labels.rs`): human `accepted` = good, `rejected` = bad; otherwise pairwise and
//!   best-of-N events of the criterion → `human::comparisons` → `ranking::bt::fit` (α = 0.01) →
//!   good when θ > 0, i.e. above the mean strength of the compared images (a deliberate relative
//!   convention; |θ| ≤ 1e-9 undecided). Decisions win. Labelled images without a score are counted
//!   per reason. Split by a hash of seed and path (`calibrate::held_out`, shared with `--signal`);
//!   pairwise-derived labels come from one Bradley–Terry fit over all events, so a held-out image's
//!   label also used comparisons with training images (the split is by image, not by event). Reject
//!   = minimum-cost cut; accept = precision-target cut or the minimum-cost cut; reject capped at
//!   accept; both moved to the shortest decimal in (next lower score, cut]
//!   (`calibrate::tidy_threshold`), and `set_bands` writes up to nine decimals so the split
//!   survives; a minimum-cost cut of +∞ (accept nothing) is written as 1, the strictest valid band.
//!   Errors: no labels, one class, < 2 good or < 2 bad training labels, unreachable target.
//! - Best-of-N (`evaluate::best_of_n`): per scope group, candidates = scored images with a quality
//!   value; `calibrate::best_of_n_pick_curve` on the quality listed in the policy's rank order
//!   gives the expected quality of the policy's pick among N drawn without replacement (`C(i−1,
//!   N−1) / C(m, N)` weights); the oracle curve orders by quality itself. Pooled = mean over the
//!   groups with ≥ N candidates. Selector efficiency (`evaluate::selector_efficiency`): groups with
//!   a human best (`labels::human_best`: one accepted + rest rejected; else all compared, unique
//!   top BT strength within the group; else all Likert-rated, unique top mean), hit = the policy's
//!   rank-1 is it; Wilson 95 % interval; chance = mean 1 / group size.

pub mod calibrate;
pub mod evaluate;
pub mod expr;
pub mod labels;
pub mod plan;
pub mod policy;
pub mod report;
pub mod rules;

use std::cmp::Ordering;

pub use expr::{Bound, Cell, Expr, ParseError, Value};

/// One sort key: a column and its direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    pub column: String,
    pub descending: bool,
}

/// Parses `KEY[:asc|desc][,KEY2[:asc|desc]...]`.
pub fn parse_sort(spec: &str) -> Result<Vec<SortKey>, String> {
    spec.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|part| {
            let part = part.trim();
            let (col, dir) = match part.rsplit_once(':') {
                Some((c, d)) => (c.trim(), d.trim().to_ascii_lowercase()),
                None => (part, "asc".to_string()),
            };
            let descending = match dir.as_str() {
                "asc" => false,
                "desc" => true,
                other => return Err(format!("sort direction must be asc or desc, not '{other}'")),
            };
            Ok(SortKey {
                column: col.to_string(),
                descending,
            })
        })
        .collect()
}

/// Orders two values: numbers numerically, text lexically, numbers before text; nulls are
/// handled by the caller (always last).
pub fn compare_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Num(x), Value::Num(y)) => x.total_cmp(y),
        (Value::Text(x), Value::Text(y)) => x.cmp(y),
        (Value::Num(_), Value::Text(_)) => Ordering::Less,
        (Value::Text(_), Value::Num(_)) => Ordering::Greater,
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Greater,
        (_, Value::Null) => Ordering::Less,
    }
}

/// Sorts rows by keys; nulls always last whatever the direction; stable.
pub fn sort_rows<R>(rows: &mut [R], keys: &[SortKey], get: impl Fn(&R, &str) -> Value) {
    rows.sort_by(|a, b| {
        for k in keys {
            let (va, vb) = (get(a, &k.column), get(b, &k.column));
            let ord = match (&va, &vb) {
                (Value::Null, Value::Null) => Ordering::Equal,
                (Value::Null, _) => Ordering::Greater,
                (_, Value::Null) => Ordering::Less,
                _ if k.descending => compare_values(&vb, &va),
                _ => compare_values(&va, &vb),
            };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    });
}

/// Orders two cells as [`compare_values`] orders values.
pub fn compare_cells(a: Cell<'_>, b: Cell<'_>) -> Ordering {
    match (a, b) {
        (Cell::Num(x), Cell::Num(y)) => x.total_cmp(&y),
        (Cell::Text(x), Cell::Text(y)) => x.cmp(y),
        (Cell::Num(_), Cell::Text(_)) => Ordering::Less,
        (Cell::Text(_), Cell::Num(_)) => Ordering::Greater,
        (Cell::Null, Cell::Null) => Ordering::Equal,
        (Cell::Null, _) => Ordering::Greater,
        (_, Cell::Null) => Ordering::Less,
    }
}

/// Sorts row indices as [`sort_rows`] sorts rows (nulls last whatever the direction; ties
/// keep the order of `idx`), for many rows: each key's cell is read once per row
/// (`cell(row, key number)`, borrowed), then the permutation is sorted on all cores.
pub fn sort_indices<'a>(
    idx: &mut [usize],
    descending: &[bool],
    cell: impl Fn(usize, usize) -> Cell<'a> + Sync,
) {
    use rayon::prelude::*;
    if descending.is_empty() || idx.len() < 2 {
        return;
    }
    if let [desc] = descending
        && sort_numbers(idx, *desc, |i| cell(i, 0))
    {
        return;
    }
    let cols: Vec<Vec<Cell<'a>>> = (0..descending.len())
        .map(|k| idx.par_iter().map(|&i| cell(i, k)).collect())
        .collect();
    let mut perm: Vec<u32> = (0..idx.len() as u32).collect();
    perm.par_sort_unstable_by(|&a, &b| {
        let (a, b) = (a as usize, b as usize);
        for (col, &desc) in cols.iter().zip(descending) {
            let (va, vb) = (col[a], col[b]);
            let ord = match (va, vb) {
                (Cell::Null, Cell::Null) => Ordering::Equal,
                (Cell::Null, _) => Ordering::Greater,
                (_, Cell::Null) => Ordering::Less,
                _ if desc => compare_cells(vb, va),
                _ => compare_cells(va, vb),
            };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        a.cmp(&b)
    });
    let sorted: Vec<usize> = perm.iter().map(|&p| idx[p as usize]).collect();
    idx.copy_from_slice(&sorted);
}

/// The one-key sort of [`sort_indices`] when the key has no text (every signal): each number
/// becomes an unsigned integer in the order of `f64::total_cmp` (reversed when descending),
/// paired with its position, and the pairs are sorted as integers; empty cells follow in
/// their order. Whether it applied (`false`: a text cell, nothing changed).
fn sort_numbers<'a>(
    idx: &mut [usize],
    descending: bool,
    cell: impl Fn(usize) -> Cell<'a> + Sync,
) -> bool {
    use rayon::prelude::*;
    let keys: Option<Vec<Option<u64>>> = idx
        .par_iter()
        .map(|&i| match cell(i) {
            Cell::Num(x) => {
                let b = x.to_bits();
                // Negative numbers reversed below the positive ones: the order of `total_cmp`.
                let k = if b >> 63 == 1 { !b } else { b | 1 << 63 };
                Some(Some(if descending { !k } else { k }))
            }
            Cell::Null => Some(None),
            Cell::Text(_) => None,
        })
        .collect();
    let Some(keys) = keys else {
        return false;
    };
    let mut pairs: Vec<(u64, u32)> = keys
        .iter()
        .enumerate()
        .filter_map(|(p, k)| k.map(|k| (k, p as u32)))
        .collect();
    pairs.par_sort_unstable();
    let sorted: Vec<usize> = pairs
        .iter()
        .map(|&(_, p)| idx[p as usize])
        .chain(
            keys.iter()
                .enumerate()
                .filter(|(_, k)| k.is_none())
                .map(|(p, _)| idx[p]),
        )
        .collect();
    idx.copy_from_slice(&sorted);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_nulls_last_both_directions() {
        let mut rows = vec![Some(2.0), None, Some(5.0), Some(1.0)];
        let get = |r: &Option<f64>, _: &str| r.map_or(Value::Null, Value::Num);
        sort_rows(&mut rows, &parse_sort("x:desc").unwrap(), get);
        assert_eq!(rows, vec![Some(5.0), Some(2.0), Some(1.0), None]);
        sort_rows(&mut rows, &parse_sort("x").unwrap(), get);
        assert_eq!(rows, vec![Some(1.0), Some(2.0), Some(5.0), None]);
        assert!(parse_sort("x:up").is_err());
    }

    #[test]
    fn sort_indices_agrees_with_sort_rows() {
        // Two keys with ties, nulls, numbers and text; ties keep the original order.
        let rows: Vec<(Option<f64>, Option<&str>)> = (0..200)
            .map(|i| {
                let a = (i % 7 != 3).then(|| f64::from((i * 37) % 11));
                let b = match i % 5 {
                    0 => None,
                    1 => Some("b"),
                    2 => Some("a"),
                    _ => Some("c"),
                };
                (a, b)
            })
            .collect();
        let val = |r: &(Option<f64>, Option<&str>), c: &str| match c {
            "a" => r.0.map_or(Value::Null, Value::Num),
            _ => r.1.map_or(Value::Null, |t| Value::Text(t.into())),
        };
        for spec in ["a", "a:desc", "b,a:desc", "b:desc,a", "a,b"] {
            let keys = parse_sort(spec).unwrap();
            let mut want: Vec<usize> = (0..rows.len()).collect();
            sort_rows(&mut want, &keys, |&i, c| val(&rows[i], c));
            let mut got: Vec<usize> = (0..rows.len()).rev().collect();
            got.reverse();
            let desc: Vec<bool> = keys.iter().map(|k| k.descending).collect();
            sort_indices(&mut got, &desc, |i, k| match keys[k].column.as_str() {
                "a" => rows[i].0.map_or(Cell::Null, Cell::Num),
                _ => rows[i].1.map_or(Cell::Null, Cell::Text),
            });
            assert_eq!(got, want, "{spec}");
        }
    }

    #[test]
    fn number_sort_orders_as_cells_do() {
        // Signs, zeros, infinities, NaN, ties and empty cells, from a shuffled start.
        let xs = [
            -1.5,
            0.0,
            -0.0,
            2.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            2.0,
            -7.0,
            1e-300,
        ];
        let cells: Vec<Option<f64>> = (0..60)
            .map(|i| (i % 9 != 4).then(|| xs[(i * 7) % xs.len()]))
            .collect();
        let cell = |i: usize| cells[i].map_or(Cell::Null, Cell::Num);
        for desc in [false, true] {
            let start: Vec<usize> = (0..cells.len()).map(|i| (i * 13) % cells.len()).collect();
            let mut want = start.clone();
            want.sort_by(|&a, &b| match (cell(a), cell(b)) {
                (Cell::Null, Cell::Null) => Ordering::Equal,
                (Cell::Null, _) => Ordering::Greater,
                (_, Cell::Null) => Ordering::Less,
                (x, y) if desc => compare_cells(y, x),
                (x, y) => compare_cells(x, y),
            });
            let mut got = start.clone();
            assert!(sort_numbers(&mut got, desc, cell));
            assert_eq!(got, want, "descending {desc}");
        }
        let mut idx = vec![0, 1];
        assert!(!sort_numbers(&mut idx, false, |_| Cell::Text("a")));
        assert_eq!(idx, [0, 1]);
    }
}
