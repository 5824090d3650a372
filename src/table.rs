//! The column model over catalogued images, shared by `assay table` and (later) the GUI grid:
//! every metadata field and every registered signal is a column with a stable name.

use crate::domain::Status;
use std::sync::OnceLock;

use crate::metadata;
use crate::signals;
use crate::store::{ImageRow, SignalKey, SignalValue};

/// A cell value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Num(f64),
    Text(String),
}

impl Value {
    /// The number, where the value is one or is text that parses as one.
    pub fn as_num(&self) -> Option<f64> {
        match self {
            Value::Num(x) => Some(*x),
            Value::Text(t) => t.trim().parse().ok(),
            Value::Null => None,
        }
    }
}

/// A borrowed cell: the value of one column of one row, without allocating (the fast path of
/// [`crate::selection::Bound::eval`] and of sorting).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    Null,
    Num(f64),
    Text(&'a str),
}

impl Cell<'_> {
    /// The owned value.
    pub fn to_value(self) -> Value {
        match self {
            Cell::Null => Value::Null,
            Cell::Num(x) => Value::Num(x),
            Cell::Text(t) => Value::Text(t.to_string()),
        }
    }

    /// The number, where the cell is one or is text that parses as one.
    pub fn as_num(self) -> Option<f64> {
        match self {
            Cell::Num(x) => Some(x),
            Cell::Text(t) => t.trim().parse().ok(),
            Cell::Null => None,
        }
    }
}

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
    Parser,
    MissingFields,
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
    EarlierDecision,
    Error,
    Warnings,
    Extra,
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
            "parser" => Self::Parser,
            "missing_fields" => Self::MissingFields,
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
            "earlier_decision" => Self::EarlierDecision,
            "error" => Self::Error,
            "warnings" => Self::Warnings,
            "extra" => Self::Extra,
            "raw" => Self::Raw,
            key => SignalKey::lookup(key).map_or(Self::Unknown, Self::Signal),
        }
    }

    /// Whether the column needs the raw metadata ([`crate::store::Store::load_raw`]).
    pub fn needs_raw(self) -> bool {
        matches!(self, Self::Raw | Self::Warnings)
    }
}

/// The generation fields (`metadata::FIELDS`) a row lacks, comma-separated (empty when it has
/// them all); `None` for rows without a metadata record (unreadable files). Borrowed from a
/// table of every combination, so that sorting or filtering a million rows by it allocates
/// nothing.
pub fn missing_fields(row: &ImageRow) -> Option<&'static str> {
    const N: usize = metadata::FIELDS.len();
    static TABLE: OnceLock<Vec<String>> = OnceLock::new();
    if !row.has_metadata {
        return None;
    }
    let have: [bool; N] = [
        row.positive.is_some(),
        row.negative.is_some(),
        row.seed.is_some(),
        row.steps.is_some(),
        row.sampler.is_some(),
        row.cfg.is_some(),
        row.model.is_some(),
        row.gen_width.is_some() && row.gen_height.is_some(),
    ];
    let mask = have
        .iter()
        .enumerate()
        .fold(0usize, |m, (i, h)| if *h { m | (1 << i) } else { m });
    let table = TABLE.get_or_init(|| {
        (0..1usize << N)
            .map(|m| metadata::missing_of(std::array::from_fn(|i| m & (1 << i) != 0)).join(","))
            .collect()
    });
    table.get(mask).map(String::as_str)
}

fn text(v: Option<&str>) -> Cell<'_> {
    v.map_or(Cell::Null, Cell::Text)
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
        Col::Format => text(row.format.as_deref()),
        Col::Frames => num(row.frames),
        Col::Bytes => num(row.size),
        Col::Hash => text(row.hash.as_deref()),
        Col::Version => Cell::Num(row.version as f64),
        Col::Missing => Cell::Num(if row.missing { 1.0 } else { 0.0 }),
        Col::Tool => text(row.tool.as_deref()),
        Col::Parser => text(row.parser.as_deref()),
        Col::MissingFields => missing_fields(row).map_or(Cell::Null, Cell::Text),
        Col::Prompt => text(row.positive.as_deref()),
        Col::NegativePrompt => text(row.negative.as_deref()),
        Col::Seed => match &row.seed {
            // Exact as a number below 2^53 (sorts numerically); larger seeds stay text.
            Some(s) => match s.parse::<u64>() {
                Ok(v) if v < (1 << 53) => Cell::Num(v as f64),
                _ => Cell::Text(s),
            },
            None => Cell::Null,
        },
        Col::Steps => num(row.steps),
        Col::Sampler => text(row.sampler.as_deref()),
        Col::Cfg => row.cfg.map_or(Cell::Null, Cell::Num),
        Col::Model => text(row.model.as_deref()),
        Col::GenWidth => num(row.gen_width),
        Col::GenHeight => num(row.gen_height),
        Col::Status => Cell::Text(row.status.unwrap_or(Status::None).as_str()),
        Col::DecisionSource => text(row.decision_source.as_deref()),
        Col::DecisionReason => text(row.decision_reason.as_deref()),
        Col::Rating => num(row.decision_rating),
        Col::EarlierDecision => text(row.earlier_decision.as_deref()),
        Col::Error => text(row.error.as_deref()),
        Col::Warnings => match row.warnings_json.as_deref() {
            None | Some("[]") => Cell::Null,
            Some(w) => Cell::Text(w),
        },
        Col::Extra => match row.extra_json.as_deref() {
            None | Some("[]") => Cell::Null,
            Some(e) => Cell::Text(e),
        },
        Col::Raw => text(row.raw_json.as_deref()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::{Direction, imported};

    #[test]
    fn imported_signals_are_columns() {
        imported::register(&[imported::ImportedDef {
            key: "table_test_judge".into(),
            label: "Judge".into(),
            direction: Direction::LowerIsBetter,
            producer: imported::producer("judge", "1"),
            description: String::new(),
        }]);
        assert!(is_column("table_test_judge"));
        assert!(all_columns().contains(&"table_test_judge".to_string()));
        let defaults = default_columns();
        assert!(defaults.contains(&"table_test_judge".to_string()));
        assert_eq!(defaults.last().map(String::as_str), Some("error"));
    }
}
