//! Score files of `assay signals import` (pure: bytes in, rows and bad lines out).
//!
//! - **CSV** (`.csv`; `.tsv` is tab-separated): a header row, a key column (`path` or `hash`,
//!   as `--key` says; names match without case or surrounding spaces) and a score column
//!   (`--column NAME`, else `score`, else the only other column). Quoted fields follow RFC 4180.
//! - **JSON lines** (`.jsonl`, `.ndjson`, `.json`): one object a line with the key field
//!   (`path` or `hash`) and the score field (`score` or `--column`); a score may be a number or
//!   a string holding one.
//! - Other extensions: JSON lines when the first non-blank byte is `{`, else CSV.
//!
//! A UTF-8 byte-order mark and CRLF line endings are accepted. Every bad row is reported with
//! its 1-based line number and skipped: a score that is not a number (`line 17: score "abc" is
//! not a number`) or not finite, a missing key or score, an unreadable line; [`resolve`] adds
//! unknown paths and hashes and duplicate keys (the first occurrence wins). Paths are relative
//! to the collection root, `/`-separated; absolute paths under the root and `./` prefixes are
//! accepted. Hashes are the catalogue's content hash (`images.hash`, xxh3-128 hex).

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;

/// What names an image in a score file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// Path relative to the collection root.
    Path,
    /// Content hash (`images.hash`).
    Hash,
}

impl KeyKind {
    /// The column / field name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Path => "path",
            Self::Hash => "hash",
        }
    }
}

/// A score file's layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Csv,
    Tsv,
    Jsonl,
}

/// One row with a key and a finite score.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreLine {
    /// 1-based line number in the file.
    pub line: usize,
    pub key: String,
    pub score: f64,
}

/// A row that was skipped, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadLine {
    pub line: usize,
    pub reason: String,
}

/// The rows of a score file.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub format: Format,
    /// The score column or field used.
    pub column: String,
    /// Data rows read (good and bad; blank lines excluded).
    pub rows: usize,
    pub scores: Vec<ScoreLine>,
    pub bad: Vec<BadLine>,
}

/// Why a whole score file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("the header has no `{key}` column (columns: {columns})")]
    NoKeyColumn { key: &'static str, columns: String },
    #[error("the header has no score column `{0}` (columns: {1})")]
    NoColumn(String, String),
    #[error(
        "cannot tell the score column: give --column NAME (no `score` column and more than one \
         other column: {0})"
    )]
    AmbiguousScore(String),
    #[error("cannot read the CSV header: {0}")]
    Header(String),
}

/// The layout of `path`: by extension, else by the first non-blank byte of `bytes`.
pub fn format_of(path: &Path, bytes: &[u8]) -> Format {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("csv") => Format::Csv,
        Some("tsv") => Format::Tsv,
        Some("jsonl" | "ndjson" | "json") => Format::Jsonl,
        _ => match strip_bom(bytes).iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => Format::Jsonl,
            _ => Format::Csv,
        },
    }
}

fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

/// Reads a score file's rows. `column` names the score column (default: see the module docs).
pub fn parse(
    bytes: &[u8],
    format: Format,
    key: KeyKind,
    column: Option<&str>,
) -> Result<Parsed, ParseError> {
    let bytes = strip_bom(bytes);
    match format {
        Format::Csv => parse_csv(bytes, b',', key, column),
        Format::Tsv => parse_csv(bytes, b'\t', key, column),
        Format::Jsonl => Ok(parse_jsonl(bytes, key, column)),
    }
}

/// A score's number, or why it is not one.
fn score_of(text: &str) -> Result<f64, String> {
    let t = text.trim();
    match t.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(x),
        Ok(_) => Err(format!("score \"{t}\" is not finite")),
        Err(_) => Err(format!("score \"{t}\" is not a number")),
    }
}

/// The key and score columns of a CSV header.
fn csv_columns(
    header: &csv::StringRecord,
    key: KeyKind,
    column: Option<&str>,
) -> Result<(usize, usize, String), ParseError> {
    let names: Vec<String> = header.iter().map(|h| h.trim().to_string()).collect();
    let list = names.join(", ");
    let find = |n: &str| names.iter().position(|h| h.eq_ignore_ascii_case(n));
    let k = find(key.name()).ok_or_else(|| ParseError::NoKeyColumn {
        key: key.name(),
        columns: list.clone(),
    })?;
    let s = match column {
        Some(c) => find(c).ok_or_else(|| ParseError::NoColumn(c.to_string(), list.clone()))?,
        None => match find("score") {
            Some(s) => s,
            None if names.len() == 2 => 1 - k,
            None => return Err(ParseError::AmbiguousScore(list)),
        },
    };
    Ok((k, s, names[s].clone()))
}

fn parse_csv(
    bytes: &[u8],
    delimiter: u8,
    key: KeyKind,
    column: Option<&str>,
) -> Result<Parsed, ParseError> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(bytes);
    let header = reader
        .headers()
        .map_err(|e| ParseError::Header(e.to_string()))?
        .clone();
    let (k, s, name) = csv_columns(&header, key, column)?;
    let mut out = Parsed {
        format: if delimiter == b'\t' {
            Format::Tsv
        } else {
            Format::Csv
        },
        column: name,
        rows: 0,
        scores: Vec::new(),
        bad: Vec::new(),
    };
    let mut lines = LineCounter::default();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| lines.line_at(bytes, p.byte()));
                out.rows += 1;
                out.bad.push(BadLine {
                    line,
                    reason: format!("unreadable row ({e})"),
                });
                continue;
            }
        };
        let line = record
            .position()
            .map_or(0, |p| lines.line_at(bytes, p.byte()));
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        out.rows += 1;
        let id = record.get(k).map(str::trim).unwrap_or_default();
        let row = match (id, record.get(s)) {
            ("", _) => Err(format!("no {}", key.name())),
            (_, None) => Err(format!("no value in the `{}` column", out.column)),
            (id, Some(v)) => score_of(v).map(|score| (id, score)),
        };
        push_row(&mut out, line, row);
    }
    Ok(out)
}

/// 1-based line numbers of byte offsets, counted forward (the CSV reader's own line count is
/// one short with CRLF line endings).
#[derive(Default)]
struct LineCounter {
    byte: usize,
    line: usize,
}

impl LineCounter {
    /// The line of byte `offset` (offsets must not decrease).
    #[allow(clippy::naive_bytecount)] // score files are small; no `bytecount` dependency
    fn line_at(&mut self, bytes: &[u8], offset: u64) -> usize {
        let mut offset = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        // After `\r` the reader's record starts at the `\n`: the record is on a later line.
        while matches!(bytes.get(offset), Some(b'\r' | b'\n')) {
            offset += 1;
        }
        if offset >= self.byte {
            self.line += bytes[self.byte..offset]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            self.byte = offset;
        }
        self.line + 1
    }
}

fn push_row(out: &mut Parsed, line: usize, row: Result<(&str, f64), String>) {
    match row {
        Ok((key, score)) => out.scores.push(ScoreLine {
            line,
            key: key.to_string(),
            score,
        }),
        Err(reason) => out.bad.push(BadLine { line, reason }),
    }
}

/// One JSON line's key and score.
fn json_row<'a>(
    v: &'a serde_json::Value,
    key: KeyKind,
    column: &str,
) -> Result<(&'a str, f64), String> {
    let Some(obj) = v.as_object() else {
        return Err("not a JSON object".to_string());
    };
    let id = match obj.get(key.name()) {
        Some(serde_json::Value::String(s)) if !s.trim().is_empty() => s.trim(),
        _ => return Err(format!("no \"{}\" string", key.name())),
    };
    let score = match obj.get(column) {
        Some(serde_json::Value::Number(n)) => n
            .as_f64()
            .filter(|x| x.is_finite())
            .ok_or_else(|| format!("score {n} is not finite"))?,
        Some(serde_json::Value::String(s)) => score_of(s)?,
        Some(other) => return Err(format!("score {other} is not a number")),
        None => return Err(format!("no \"{column}\" field")),
    };
    Ok((id, score))
}

fn parse_jsonl(bytes: &[u8], key: KeyKind, column: Option<&str>) -> Parsed {
    let column = column.unwrap_or("score");
    let mut out = Parsed {
        format: Format::Jsonl,
        column: column.to_string(),
        rows: 0,
        scores: Vec::new(),
        bad: Vec::new(),
    };
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = i + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        out.rows += 1;
        let value = match serde_json::from_slice::<serde_json::Value>(raw) {
            Ok(v) => v,
            Err(e) => {
                out.bad.push(BadLine {
                    line,
                    reason: format!("not JSON ({e})"),
                });
                continue;
            }
        };
        let row = json_row(&value, key, column);
        push_row(&mut out, line, row);
    }
    out
}

/// The catalogue path a score file's path names: relative to one of `roots` (the collection
/// root as given and canonical, without a trailing `/`), `./` prefixes removed. `None` for an
/// absolute path outside every root.
pub fn relative_path<'a>(path: &'a str, roots: &[String]) -> Option<&'a str> {
    let mut p = path;
    if p.starts_with('/') {
        p = roots.iter().find_map(|r| {
            p.strip_prefix(r.as_str())
                .and_then(|rest| rest.strip_prefix('/'))
        })?;
    }
    while let Some(rest) = p.strip_prefix("./") {
        p = rest;
    }
    Some(p)
}

/// Score rows matched to image ids.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resolved {
    /// (image id, score), one per image (a hash may name several images with that content).
    pub values: Vec<(i64, f64)>,
    /// Rows that named an image.
    pub matched: usize,
    /// Rows whose path or hash names no current image.
    pub unmatched: usize,
    /// Rows naming an image already named on an earlier line.
    pub duplicates: usize,
    /// The unmatched and duplicate rows.
    pub bad: Vec<BadLine>,
}

/// Matches parsed rows to images: `ids` maps a catalogue path (or lower-case hash) to the
/// current images it names.
pub fn resolve(
    scores: &[ScoreLine],
    key: KeyKind,
    roots: &[String],
    ids: &HashMap<String, Vec<i64>>,
) -> Resolved {
    let mut out = Resolved::default();
    let mut first: HashMap<String, usize> = HashMap::new();
    for s in scores {
        let name = match key {
            KeyKind::Path => match relative_path(&s.key, roots) {
                Some(p) => p.to_string(),
                None => {
                    out.unmatched += 1;
                    out.bad.push(BadLine {
                        line: s.line,
                        reason: format!("path \"{}\" is outside the collection", s.key),
                    });
                    continue;
                }
            },
            KeyKind::Hash => s.key.to_ascii_lowercase(),
        };
        if let Some(&line) = first.get(&name) {
            out.duplicates += 1;
            out.bad.push(BadLine {
                line: s.line,
                reason: format!("duplicate {} \"{name}\" (first on line {line})", key.name()),
            });
            continue;
        }
        first.insert(name.clone(), s.line);
        match ids.get(&name) {
            Some(images) => {
                out.matched += 1;
                out.values.extend(images.iter().map(|&id| (id, s.score)));
            }
            None => {
                out.unmatched += 1;
                out.bad.push(BadLine {
                    line: s.line,
                    reason: format!("unknown {} \"{name}\" (no current image)", key.name()),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(text: &str) -> Parsed {
        parse(text.as_bytes(), Format::Csv, KeyKind::Path, None).unwrap()
    }

    #[test]
    fn csv_with_bom_crlf_and_quotes() {
        let p = csv("\u{feff}path,score\r\na.png,0.5\r\n\"b, c.png\",2\r\n\r\n");
        assert_eq!(p.column, "score");
        assert_eq!(p.rows, 2);
        assert!(p.bad.is_empty(), "{:?}", p.bad);
        assert_eq!(
            p.scores,
            vec![
                ScoreLine {
                    line: 2,
                    key: "a.png".into(),
                    score: 0.5
                },
                ScoreLine {
                    line: 3,
                    key: "b, c.png".into(),
                    score: 2.0
                },
            ]
        );
    }

    #[test]
    fn bad_csv_rows_are_reported_by_line() {
        let p = csv("path,score\na.png,abc\nb.png,inf\n,3\nc.png\nd.png, 4 \n");
        assert_eq!(p.rows, 5);
        assert_eq!(p.scores.len(), 1);
        assert_eq!(p.scores[0].score, 4.0);
        let reasons: Vec<(usize, &str)> =
            p.bad.iter().map(|b| (b.line, b.reason.as_str())).collect();
        assert_eq!(
            reasons,
            vec![
                (2, "score \"abc\" is not a number"),
                (3, "score \"inf\" is not finite"),
                (4, "no path"),
                (5, "no value in the `score` column"),
            ]
        );
    }

    #[test]
    fn score_column_is_named_score_the_only_other_or_given() {
        let p = csv("vqa,path\n0.25,a.png\n");
        assert_eq!((p.column.as_str(), p.scores[0].score), ("vqa", 0.25));
        let text = "path,x,y\na.png,1,2\n";
        assert!(matches!(
            parse(text.as_bytes(), Format::Csv, KeyKind::Path, None),
            Err(ParseError::AmbiguousScore(_))
        ));
        let p = parse(text.as_bytes(), Format::Csv, KeyKind::Path, Some("y")).unwrap();
        assert_eq!(p.scores[0].score, 2.0);
        assert!(matches!(
            parse(text.as_bytes(), Format::Csv, KeyKind::Hash, Some("y")),
            Err(ParseError::NoKeyColumn { key: "hash", .. })
        ));
        let p = parse(b"path\tscore\na.png\t7\n", Format::Tsv, KeyKind::Path, None).unwrap();
        assert_eq!(p.scores[0].score, 7.0);
    }

    #[test]
    fn jsonl_rows() {
        let text = "{\"hash\":\"ABC\",\"score\":1.5}\r\n\n{\"hash\":\"d\",\"score\":\"2\"}\nnope\n\
                    {\"hash\":\"e\",\"score\":null}\n[1]\n{\"score\":1}\n";
        let p = parse(text.as_bytes(), Format::Jsonl, KeyKind::Hash, None).unwrap();
        assert_eq!(p.rows, 6);
        assert_eq!(
            p.scores
                .iter()
                .map(|s| (s.line, s.key.as_str(), s.score))
                .collect::<Vec<_>>(),
            vec![(1, "ABC", 1.5), (3, "d", 2.0)]
        );
        let lines: Vec<usize> = p.bad.iter().map(|b| b.line).collect();
        assert_eq!(lines, vec![4, 5, 6, 7]);
        assert_eq!(p.bad[1].reason, "score null is not a number");
        assert_eq!(p.bad[3].reason, "no \"hash\" string");
    }

    #[test]
    fn format_from_extension_or_content() {
        assert_eq!(format_of(Path::new("s.CSV"), b"{"), Format::Csv);
        assert_eq!(format_of(Path::new("s.jsonl"), b"path"), Format::Jsonl);
        assert_eq!(
            format_of(Path::new("s.txt"), b"\xEF\xBB\xBF {\"a\":1}"),
            Format::Jsonl
        );
        assert_eq!(format_of(Path::new("scores"), b"path,score"), Format::Csv);
    }

    #[test]
    fn paths_resolve_relative_to_the_root() {
        let roots = vec!["/data/col".to_string()];
        assert_eq!(relative_path("./a/b.png", &roots), Some("a/b.png"));
        assert_eq!(relative_path("/data/col/a.png", &roots), Some("a.png"));
        assert_eq!(relative_path("/data/collection/a.png", &roots), None);
        let ids: HashMap<String, Vec<i64>> = [
            ("a.png".to_string(), vec![1]),
            ("b.png".to_string(), vec![2]),
        ]
        .into();
        let rows = |keys: &[&str]| -> Vec<ScoreLine> {
            keys.iter()
                .enumerate()
                .map(|(i, k)| ScoreLine {
                    line: i + 2,
                    key: (*k).to_string(),
                    score: i as f64,
                })
                .collect()
        };
        let r = resolve(
            &rows(&["a.png", "/data/col/b.png", "./a.png", "z.png", "/etc/x"]),
            KeyKind::Path,
            &roots,
            &ids,
        );
        assert_eq!(r.values, vec![(1, 0.0), (2, 1.0)]);
        assert_eq!((r.matched, r.unmatched, r.duplicates), (2, 2, 1));
        assert_eq!(
            r.bad[0].reason,
            "duplicate path \"a.png\" (first on line 2)"
        );
        assert_eq!(r.bad[0].line, 4);
        assert!(r.bad[1].reason.starts_with("unknown path \"z.png\""));
        assert!(r.bad[2].reason.contains("outside the collection"));
        // A hash names every current image with that content.
        let ids: HashMap<String, Vec<i64>> = [("ab".to_string(), vec![3, 4])].into();
        let r = resolve(&rows(&["AB"]), KeyKind::Hash, &[], &ids);
        assert_eq!(r.values, vec![(3, 0.0), (4, 0.0)]);
    }
}
