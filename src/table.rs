//! The column model over catalogued images, shared by `assay table` and (later) the GUI grid:
//! every metadata field and every registered signal is a column with a stable name.

use crate::selection::{Cell, Value};
use crate::signals;
use crate::store::{ImageRow, SignalKey, SignalValue};

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
    "error",
    "warnings",
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

/// A column resolved once from its name: evaluating it over many rows matches no strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Col {
    Path,
    Width,
    Height,
    Format,
    Frames,
    Bytes,
    Hash,
    Version,
    Missing,
    Tool,
    Prompt,
    NegativePrompt,
    Seed,
    Steps,
    Sampler,
    Cfg,
    Model,
    GenWidth,
    GenHeight,
    Status,
    DecisionSource,
    DecisionReason,
    Rating,
    Error,
    Warnings,
    Raw,
    Signal(SignalKey),
    /// Neither a base column nor a signal any row has: always null.
    Unknown,
}

impl Col {
    /// The column called `name` (a signal key that no row has is [`Col::Unknown`]).
    pub fn of(name: &str) -> Self {
        match name {
            "path" => Self::Path,
            "width" => Self::Width,
            "height" => Self::Height,
            "format" => Self::Format,
            "frames" => Self::Frames,
            "bytes" => Self::Bytes,
            "hash" => Self::Hash,
            "version" => Self::Version,
            "missing" => Self::Missing,
            "tool" => Self::Tool,
            "prompt" => Self::Prompt,
            "negative_prompt" => Self::NegativePrompt,
            "seed" => Self::Seed,
            "steps" => Self::Steps,
            "sampler" => Self::Sampler,
            "cfg" => Self::Cfg,
            "model" => Self::Model,
            "gen_width" => Self::GenWidth,
            "gen_height" => Self::GenHeight,
            "status" => Self::Status,
            "decision_source" => Self::DecisionSource,
            "decision_reason" => Self::DecisionReason,
            "rating" => Self::Rating,
            "error" => Self::Error,
            "warnings" => Self::Warnings,
            "raw" => Self::Raw,
            key => SignalKey::lookup(key).map_or(Self::Unknown, Self::Signal),
        }
    }

    /// Whether the column needs the raw metadata ([`crate::store::Store::load_raw`]).
    pub fn needs_raw(self) -> bool {
        matches!(self, Self::Raw | Self::Warnings)
    }
}

fn text(v: Option<&String>) -> Cell<'_> {
    v.map_or(Cell::Null, |s| Cell::Text(s))
}

fn num(v: Option<i64>) -> Cell<'static> {
    v.map_or(Cell::Null, |x| Cell::Num(x as f64))
}

/// The cell of `col` in `row`, borrowed.
pub fn cell(row: &ImageRow, col: Col) -> Cell<'_> {
    match col {
        Col::Path => Cell::Text(&row.path),
        Col::Width => num(row.width),
        Col::Height => num(row.height),
        Col::Format => text(row.format.as_ref()),
        Col::Frames => num(row.frames),
        Col::Bytes => num(row.size),
        Col::Hash => text(row.hash.as_ref()),
        Col::Version => Cell::Num(row.version as f64),
        Col::Missing => Cell::Num(if row.missing { 1.0 } else { 0.0 }),
        Col::Tool => text(row.tool.as_ref()),
        Col::Prompt => text(row.positive.as_ref()),
        Col::NegativePrompt => text(row.negative.as_ref()),
        Col::Seed => match &row.seed {
            // Exact as a number below 2^53 (sorts numerically); larger seeds stay text.
            Some(s) => match s.parse::<u64>() {
                Ok(v) if v < (1 << 53) => Cell::Num(v as f64),
                _ => Cell::Text(s),
            },
            None => Cell::Null,
        },
        Col::Steps => num(row.steps),
        Col::Sampler => text(row.sampler.as_ref()),
        Col::Cfg => row.cfg.map_or(Cell::Null, Cell::Num),
        Col::Model => text(row.model.as_ref()),
        Col::GenWidth => num(row.gen_width),
        Col::GenHeight => num(row.gen_height),
        Col::Status => Cell::Text(row.status.as_deref().unwrap_or("none")),
        Col::DecisionSource => text(row.decision_source.as_ref()),
        Col::DecisionReason => text(row.decision_reason.as_ref()),
        Col::Rating => num(row.decision_rating),
        Col::Error => text(row.error.as_ref()),
        Col::Warnings => match row.warnings_json.as_deref() {
            None | Some("[]") => Cell::Null,
            Some(w) => Cell::Text(w),
        },
        Col::Raw => text(row.raw_json.as_ref()),
        Col::Signal(k) => match row.signals.get_key(k) {
            Some(SignalValue::Number(x)) => Cell::Num(*x),
            Some(SignalValue::Text(t)) => Cell::Text(t),
            None => Cell::Null,
        },
        Col::Unknown => Cell::Null,
    }
}

/// The value of `column` for `row`.
pub fn value(row: &ImageRow, column: &str) -> Value {
    cell(row, Col::of(column)).to_value()
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
        Value::Text(t) if column == "raw" || column == "warnings" => {
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
