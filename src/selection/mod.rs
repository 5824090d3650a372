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
}
