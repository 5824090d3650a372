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

pub use expr::{Expr, ParseError, Value};

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
}
