//! Selection: pure functions over per-image values: the filter-expression language ([`expr`])
//! that `assay table --where` and policy gates use, sorting, selection policies ([`policy`]),
//! ranking rules ([`rules`]), threshold calibration / best-of-N ([`calibrate`]), human evidence
//! as labels ([`labels`]) and judging a whole policy against it ([`evaluate`]).

pub mod calibrate;
pub mod evaluate;
pub mod expr;
pub mod labels;
pub mod plan;
pub mod policy;
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
                let a = (i % 7 != 3).then(|| ((i * 37) % 11) as f64);
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
