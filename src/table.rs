//! The column model over catalogued images, shared by `assay table` and (later) the GUI grid:
//! every metadata field and every registered signal is a column with a stable name.

use crate::metadata;
use crate::selection::Value;
use crate::signals;
use crate::store::{ImageRow, SignalValue};

/// Non-signal columns, in display order.
pub const BASE_COLUMNS: &[&str] = &[
    "path",
    "width",
    "height",
    "format",
    "frames",
    "bytes",
    "hash",
    "version",
    "missing",
    "tool",
    "parser",
    "missing_fields",
    "prompt",
    "negative_prompt",
    "seed",
    "steps",
    "sampler",
    "cfg",
    "model",
    "gen_width",
    "gen_height",
    "status",
    "decision_source",
    "decision_reason",
    "rating",
    "earlier_decision",
    "error",
    "warnings",
    "extra",
    "raw",
];

/// Columns shown when `--columns` is not given.
pub fn default_columns() -> Vec<String> {
    let mut cols: Vec<String> = [
        "path",
        "width",
        "height",
        "format",
        "tool",
        "parser",
        "missing_fields",
        "prompt",
        "negative_prompt",
        "seed",
        "model",
    ]
    .iter()
    .map(|s| (*s).to_string())
    .collect();
    cols.extend(
        signals::registry()
            .iter()
            .filter(|d| d.kind != signals::Kind::Json)
            .map(|d| d.key.to_string()),
    );
    cols.push("error".to_string());
    cols
}

/// Every valid column name.
pub fn all_columns() -> Vec<String> {
    let mut cols: Vec<String> = BASE_COLUMNS.iter().map(|s| (*s).to_string()).collect();
    cols.extend(signals::registry().iter().map(|d| d.key.to_string()));
    cols
}

/// Whether `name` is a column.
pub fn is_column(name: &str) -> bool {
    BASE_COLUMNS.contains(&name) || signals::get(name).is_some()
}

/// The generation fields (`metadata::FIELDS`) a row lacks, comma-separated;
/// null for rows without a metadata record (unreadable files).
pub fn missing_fields(row: &ImageRow) -> Option<String> {
    row.raw_json.as_ref()?;
    let have = [
        row.positive.is_some(),
        row.negative.is_some(),
        row.seed.is_some(),
        row.steps.is_some(),
        row.sampler.is_some(),
        row.cfg.is_some(),
        row.model.is_some(),
        row.gen_width.is_some() && row.gen_height.is_some(),
    ];
    Some(metadata::missing_of(have).join(","))
}

fn text(v: Option<&String>) -> Value {
    v.map_or(Value::Null, |s| Value::Text(s.clone()))
}

fn num(v: Option<i64>) -> Value {
    v.map_or(Value::Null, |x| Value::Num(x as f64))
}

/// The value of `column` for `row`.
pub fn value(row: &ImageRow, column: &str) -> Value {
    match column {
        "path" => Value::Text(row.path.clone()),
        "width" => num(row.width),
        "height" => num(row.height),
        "format" => text(row.format.as_ref()),
        "frames" => num(row.frames),
        "bytes" => num(row.size),
        "hash" => text(row.hash.as_ref()),
        "version" => Value::Num(row.version as f64),
        "missing" => Value::Num(if row.missing { 1.0 } else { 0.0 }),
        "tool" => text(row.tool.as_ref()),
        "parser" => text(row.parser.as_ref()),
        "missing_fields" => missing_fields(row).map_or(Value::Null, Value::Text),
        "prompt" => text(row.positive.as_ref()),
        "negative_prompt" => text(row.negative.as_ref()),
        "seed" => match &row.seed {
            // Exact as a number below 2^53 (sorts numerically); larger seeds stay text.
            Some(s) => match s.parse::<u64>() {
                Ok(v) if v < (1 << 53) => Value::Num(v as f64),
                _ => Value::Text(s.clone()),
            },
            None => Value::Null,
        },
        "steps" => num(row.steps),
        "sampler" => text(row.sampler.as_ref()),
        "cfg" => row.cfg.map_or(Value::Null, Value::Num),
        "model" => text(row.model.as_ref()),
        "gen_width" => num(row.gen_width),
        "gen_height" => num(row.gen_height),
        "status" => Value::Text(row.status.clone().unwrap_or_else(|| "none".to_string())),
        "decision_source" => text(row.decision_source.as_ref()),
        "decision_reason" => text(row.decision_reason.as_ref()),
        "rating" => num(row.decision_rating),
        "earlier_decision" => text(row.earlier_decision.as_ref()),
        "error" => text(row.error.as_ref()),
        "warnings" => match row.warnings_json.as_deref() {
            None | Some("[]") => Value::Null,
            Some(w) => Value::Text(w.to_string()),
        },
        "raw" => text(row.raw_json.as_ref()),
        "extra" => match row.extra_json.as_deref() {
            None | Some("[]") => Value::Null,
            Some(e) => Value::Text(e.to_string()),
        },
        key => match row.signals.get(key) {
            Some(SignalValue::Number(x)) => Value::Num(*x),
            Some(SignalValue::Text(t)) => Value::Text(t.clone()),
            None => Value::Null,
        },
    }
}

/// JSON for a value: integral numbers print as integers, seeds as exact integers.
pub fn to_json(column: &str, v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Num(x) if !x.is_finite() => serde_json::Value::Null,
        Value::Num(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => serde_json::Value::from(*x as i64),
        Value::Num(x) => serde_json::Value::from(*x),
        Value::Text(t) if column == "seed" => t.parse::<u64>().map_or_else(
            |_| serde_json::Value::from(t.clone()),
            serde_json::Value::from,
        ),
        Value::Text(t) if column == "raw" || column == "warnings" || column == "extra" => {
            serde_json::from_str(t).unwrap_or_else(|_| serde_json::Value::from(t.clone()))
        }
        Value::Text(t) => serde_json::Value::from(t.clone()),
    }
}

/// Text for CSV cells (empty for null).
pub fn to_csv(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Num(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => format!("{}", *x as i64),
        Value::Num(x) => format!("{x}"),
        Value::Text(t) => t.clone(),
    }
}
