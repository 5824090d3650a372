//! Human labels: the label-event model, its JSON-lines exchange format, and the assembly of
//! events into the inputs of [`crate::ranking`] statistics (pairwise comparisons, rating
//! matrices). No SQL here: the CLI and GUI read and write events through the store.
//!
//! One JSON object per line; items are named by path relative to the collection or by content
//! hash:
//! `{"protocol":"pairwise","rater":"r1","criterion":"overall","items":["a.png","b.png"],"choice":"a.png"}`
//! (`"tie"` for a tie, `"both_bad"` when neither is acceptable), or
//! `{"protocol":"likert","rater":"r1","criterion":"overall","items":["a.png"],"rating":4}`,
//! `{"protocol":"best_of_n","items":[...],"choice":"c.png"}`,
//! `{"protocol":"multi","items":["a.png"],"ratings":{"fidelity":4,"alignment":3}}`.
//! Exports also carry `time`, `session`, `order` (as shown on screen), `response_ms`,
//! `attention_check` and the event's `id`.
//!
//! Identity (`label_events.uid`): a line's `id` when it has one, else a content id — the
//! xxh3-128 of the event's content ([`event_uid`]) for the first occurrence of that content in
//! a file, and of the content id plus the occurrence index for the k-th repeat
//! ([`Occurrences`]). So re-importing a file adds nothing, repeated judgments inside one file
//! (replicated pairs, test–retest, datasets without timestamps) are all kept, and an export
//! (which writes every event's id) imports back onto itself.
//!
//! # Scope
//!
//! label events (pairwise, Likert, best-of-N, multi-dimensional) in JSON lines: validation against
//! the collection (paths or content hashes; `<path>#degraded` gold items in attention checks),
//! event identity (`label_events.uid`: a line's `id`, else its content id — `event_uid`, shared
//! with the GUI — plus its occurrence index among identical lines of the file, so re-imports add
//! nothing and repeated judgements are all kept; exports write every id), assembly into BT
//! comparisons and rater × unit matrices (multi: one matrix per dimension); `attention.rs` (gold
//! items, in-memory degradation, pass rates, events of raters below 80 % left out of statistics),
//! `schedule.rs` (pure pair scheduler: replication, coverage, then the pairs the preference scorer
//! is least sure about — Bradley–Terry closeness without one; single-item and best-of-N sets),
//! `session.rs` (a rater's labeling session as a pure state machine: study settings, trial
//! sequence with attention checks, answers as label events, fit and retraining bookkeeping),
//! `report.rs` (a study's rankings with bootstrap intervals, agreement with the reading guide,
//! per-rater summary); `assay label import/export`, `assay rank`, `assay agreement`
//! (`--include-unreliable`)

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

pub use crate::domain::{Criterion, Protocol};
use crate::ranking::bt::{Comparison, Outcome};

pub mod attention;
pub mod report;
pub mod schedule;
pub mod session;
pub mod validate;

/// One label event as exchanged in JSON lines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelLine {
    /// The event's identity (written by the exporter); absent: derived from the content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// As written: [`parse_line`] reads it as a [`Protocol`], so that an unknown one is that
    /// line's own error rather than a JSON error.
    pub protocol: String,
    pub rater: String,
    #[serde(default)]
    pub criterion: Criterion,
    pub items: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choice: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratings: Option<BTreeMap<String, f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// Items in on-screen order (left to right); defaults to `items`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_ms: Option<u64>,
    #[serde(default)]
    pub attention_check: bool,
    /// Content hashes of `items` (written by the exporter, checked by the importer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hashes: Option<Vec<String>>,
}

/// The payload stored in `label_events.payload`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payload {
    pub criterion: Criterion,
    pub items: Vec<String>,
    pub hashes: Vec<String>,
    pub order: Vec<String>,
    pub choice: Option<String>,
    pub rating: Option<f64>,
    pub ratings: Option<BTreeMap<String, f64>>,
    pub response_ms: Option<u64>,
    pub attention_check: bool,
}

/// A validated event ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct Validated {
    pub uid: String,
    /// `uid` came from the line's `id` (not from its content).
    pub explicit_id: bool,
    pub time: Option<String>,
    pub rater: String,
    pub session: String,
    pub protocol: Protocol,
    pub payload: Payload,
}

/// An item named by path or content hash: `(path, hash)`.
fn resolve_plain(
    item: &str,
    paths: &HashMap<String, String>,
    by_hash: &HashMap<&str, &str>,
) -> Result<(String, String), String> {
    if let Some(h) = paths.get(item) {
        return Ok((item.to_string(), h.clone()));
    }
    if let Some(p) = by_hash.get(item) {
        return Ok(((*p).to_string(), item.to_string()));
    }
    Err(format!(
        "unknown item '{item}': neither a path nor a content hash of this collection"
    ))
}

/// The content id of an event (`label_events.uid`): the same content gives the same id, so
/// importing an exported event into the collection that made it adds nothing.
pub fn event_uid(
    protocol: Protocol,
    rater: &str,
    session: &str,
    time: Option<&str>,
    payload: &Payload,
) -> String {
    let time = time.map(str::to_string);
    let canonical =
        serde_json::to_string(&(protocol, rater, session, &time, payload)).unwrap_or_default();
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(canonical.as_bytes()))
}

/// Longest accepted explicit event id (bytes).
pub const MAX_ID_LEN: usize = 256;

/// The id of the `k`-th repeat (k ≥ 1) of the content whose id is `uid` in one file.
pub fn repeat_uid(uid: &str, k: usize) -> String {
    let canonical = format!("{uid}#{k}");
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(canonical.as_bytes()))
}

/// Numbers repeated content within one file: the first occurrence of a content keeps its
/// content id, the k-th repeat gets [`repeat_uid`]. Lines with an explicit `id` are left as
/// they are (the same id twice is the same event).
#[derive(Debug, Default)]
pub struct Occurrences {
    seen: HashMap<String, usize>,
}

impl Occurrences {
    /// Sets `v.uid` for its occurrence among the lines identified so far; returns the
    /// occurrence index (0 for the first, and for explicit ids).
    pub fn identify(&mut self, v: &mut Validated) -> usize {
        if v.explicit_id {
            return 0;
        }
        let k = self.seen.entry(v.uid.clone()).or_insert(0);
        let index = *k;
        if index > 0 {
            v.uid = repeat_uid(&v.uid, index);
        }
        *k += 1;
        index
    }
}

/// The id that an event imported from a line *without* `time` was stored under, for a line
/// that has a time and no `id` and is occurrence `k` of its content in its file: exports made
/// before events carried their id wrote the import time into such events, so their re-import
/// computes another content id. When the store holds this id with exactly this time, the line
/// is that event.
pub fn legacy_uid(v: &Validated, k: usize) -> Option<String> {
    if v.explicit_id || v.time.is_none() {
        return None;
    }
    let uid = event_uid(v.protocol, &v.rater, &v.session, None, &v.payload);
    Some(if k == 0 { uid } else { repeat_uid(&uid, k) })
}

/// Parses and validates one JSON line against the collection (`path → hash`). Items may be
/// paths or content hashes; the error names the problem. The id is the line's `id` or its
/// content id; a file's repeats are numbered by [`Occurrences`].
pub fn parse_line(line: &str, paths: &HashMap<String, String>) -> Result<Validated, String> {
    parse_line_aliased(line, paths, &HashMap::new())
}

/// [`parse_line`], where `aliases` maps content hashes of earlier versions whose pixels equal
/// the current version's to the current hash (`Store::hash_aliases`): a label file written
/// before a metadata-only edit still applies.
pub fn parse_line_aliased(
    line: &str,
    paths: &HashMap<String, String>,
    aliases: &HashMap<String, String>,
) -> Result<Validated, String> {
    let l: LabelLine = serde_json::from_str(line).map_err(|e| format!("malformed JSON: {e}"))?;
    let protocol: Protocol = l.protocol.parse().map_err(|e| format!("{e}"))?;
    if l.rater.trim().is_empty() {
        return Err("empty rater name".to_string());
    }
    validate::check_fields(&l)?;
    let items = Items::new(&l, paths);
    let (items_p, hashes) = items.resolve_all(&l.items)?;
    if let Some(given) = &l.hashes
        && (given.len() != hashes.len()
            || given
                .iter()
                .zip(&hashes)
                .any(|(g, h)| g != h && aliases.get(g) != Some(h)))
    {
        return Err("item hashes differ from this collection's files (another collection, or the files changed)".to_string());
    }
    let choice = items.choice(protocol, l.choice.as_deref(), &items_p)?;
    check_shape(protocol, &items_p, l.rating, l.ratings.as_ref())?;
    let order = match &l.order {
        Some(o) => o
            .iter()
            .map(|i| items.resolve(i).map(|r| r.0))
            .collect::<Result<Vec<_>, _>>()?,
        None => items_p.clone(),
    };
    validate::check_order(&items_p, &order)?;
    let payload = Payload {
        criterion: l.criterion.clone(),
        items: items_p,
        hashes,
        order,
        choice,
        rating: l.rating,
        ratings: l.ratings.clone(),
        response_ms: l.response_ms,
        attention_check: l.attention_check,
    };
    let session = l.session.clone().unwrap_or_else(|| "import".to_string());
    let explicit = explicit_id(l.id.as_deref())?;
    Ok(Validated {
        explicit_id: explicit.is_some(),
        uid: explicit.unwrap_or_else(|| {
            event_uid(protocol, &l.rater, &session, l.time.as_deref(), &payload)
        }),
        time: l.time,
        rater: l.rater,
        session,
        protocol,
        payload,
    })
}

/// Resolves a line's item names (paths, content hashes, gold copies) against the collection.
struct Items<'a> {
    paths: &'a HashMap<String, String>,
    by_hash: HashMap<&'a str, &'a str>,
    attention_check: bool,
}

impl<'a> Items<'a> {
    fn new(l: &LabelLine, paths: &'a HashMap<String, String>) -> Self {
        Self {
            paths,
            by_hash: paths
                .iter()
                .map(|(p, h)| (h.as_str(), p.as_str()))
                .collect(),
            attention_check: l.attention_check,
        }
    }

    /// `(path, hash)` of one item.
    fn resolve(&self, item: &str) -> Result<(String, String), String> {
        // A gold item of an attention check: a degraded copy made in memory of a real item.
        if self.attention_check
            && let Some(base) = attention::degraded_base(item)
        {
            let (p, h) = resolve_plain(base, self.paths, &self.by_hash)?;
            return Ok((attention::degraded_name(&p), attention::degraded_name(&h)));
        }
        resolve_plain(item, self.paths, &self.by_hash)
    }

    /// Paths and hashes of `names`, in order; the first unknown item is the error.
    fn resolve_all(&self, names: &[String]) -> Result<(Vec<String>, Vec<String>), String> {
        let mut items = Vec::with_capacity(names.len());
        let mut hashes = Vec::with_capacity(names.len());
        for it in names {
            let (p, h) = self.resolve(it)?;
            items.push(p);
            hashes.push(h);
        }
        Ok((items, hashes))
    }

    /// The line's `choice` resolved to a path: required by (and only allowed in) pairwise and
    /// best-of-N events; pairwise also takes `tie` and `both_bad`.
    fn choice(
        &self,
        protocol: Protocol,
        choice: Option<&str>,
        items: &[String],
    ) -> Result<Option<String>, String> {
        match (choice, protocol) {
            (Some(c @ ("tie" | "both_bad")), Protocol::Pairwise) => Ok(Some(c.to_string())),
            (Some(c), p) if p.compares() => {
                let (path, _) = self.resolve(c)?;
                if !items.contains(&path) {
                    return Err(format!("choice '{c}' is not one of the items shown"));
                }
                Ok(Some(path))
            }
            (None, p) if p.compares() => Err("missing 'choice'".to_string()),
            (Some(_), p) => Err(format!("'choice' does not belong to a {p} event")),
            (None, _) => Ok(None),
        }
    }
}

/// The protocol's rules on the number of items and on the rating(s).
fn check_shape(
    protocol: Protocol,
    items: &[String],
    rating: Option<f64>,
    ratings: Option<&BTreeMap<String, f64>>,
) -> Result<(), String> {
    let n = items.len();
    match protocol {
        Protocol::Pairwise if n != 2 => return Err(format!("pairwise needs 2 items, got {n}")),
        Protocol::Pairwise if items.first() == items.get(1) => {
            return Err("pairwise items must differ".to_string());
        }
        Protocol::BestOfN if !(2..=9).contains(&n) => {
            return Err(format!("best_of_n needs 2–9 items, got {n}"));
        }
        Protocol::Likert | Protocol::Multi if n != 1 => {
            return Err(format!("{protocol} needs 1 item, got {n}"));
        }
        _ => {}
    }
    match (protocol, rating) {
        (Protocol::Likert, Some(r)) if !(1.0..=5.0).contains(&r) || r.fract() != 0.0 => {
            return Err(format!("likert rating must be 1–5, got {r}"));
        }
        (Protocol::Likert, None) => return Err("missing 'rating'".to_string()),
        _ => {}
    }
    if protocol == Protocol::Multi && ratings.is_none_or(BTreeMap::is_empty) {
        return Err("missing 'ratings'".to_string());
    }
    Ok(())
}

/// The line's explicit `id`, when it has a usable one.
fn explicit_id(id: Option<&str>) -> Result<Option<String>, String> {
    match id {
        Some(id) if id.trim().is_empty() => Err("empty 'id'".to_string()),
        Some(id) if id.len() > MAX_ID_LEN => Err(format!("'id' longer than {MAX_ID_LEN} bytes")),
        Some(id) if id.chars().any(char::is_control) => {
            Err("'id' contains control characters".to_string())
        }
        Some(id) => Ok(Some(id.to_string())),
        None => Ok(None),
    }
}

/// The export line of a stored event (`id`: its stored uid).
pub fn export_line(
    id: Option<&str>,
    time: &str,
    rater: &str,
    session: &str,
    protocol: Protocol,
    p: &Payload,
) -> LabelLine {
    LabelLine {
        id: id.map(str::to_string),
        protocol: protocol.as_str().to_string(),
        rater: rater.to_string(),
        criterion: p.criterion.clone(),
        items: p.items.clone(),
        choice: p.choice.clone(),
        rating: p.rating,
        ratings: p.ratings.clone(),
        time: Some(time.to_string()),
        session: Some(session.to_string()),
        order: Some(p.order.clone()),
        response_ms: p.response_ms,
        attention_check: p.attention_check,
        hashes: Some(p.hashes.clone()),
    }
}

/// A decoded stored event, as statistics use it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub rater: String,
    pub protocol: Protocol,
    pub payload: Payload,
}

/// Pairwise comparisons (from pairwise and best-of-N events) for one criterion.
/// `both_bad` counts as a tie. Returns the item names (sorted) and the comparisons.
pub fn comparisons(events: &[Event], criterion: &str) -> (Vec<String>, Vec<Comparison>) {
    let mut names: Vec<String> = events
        .iter()
        .filter(|e| e.payload.criterion == criterion && e.protocol.compares())
        .flat_map(|e| e.payload.items.iter().cloned())
        .collect();
    names.sort();
    names.dedup();
    let index: HashMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let mut comps = Vec::new();
    for e in events.iter().filter(|e| e.payload.criterion == criterion) {
        let idx = |s: &str| index.get(s).copied();
        match e.protocol {
            Protocol::Pairwise => {
                let (Some(a), Some(b)) = (
                    e.payload.items.first().and_then(|s| idx(s)),
                    e.payload.items.get(1).and_then(|s| idx(s)),
                ) else {
                    continue;
                };
                let outcome = match e.payload.choice.as_deref() {
                    Some(c) if Some(c) == e.payload.items.first().map(String::as_str) => {
                        Outcome::AWins
                    }
                    Some(c) if Some(c) == e.payload.items.get(1).map(String::as_str) => {
                        Outcome::BWins
                    }
                    _ => Outcome::Tie,
                };
                comps.push(Comparison { a, b, outcome });
            }
            Protocol::BestOfN => {
                let Some(w) = e.payload.choice.as_deref().and_then(idx) else {
                    continue;
                };
                for other in e
                    .payload
                    .items
                    .iter()
                    .filter_map(|s| idx(s))
                    .filter(|&o| o != w)
                {
                    comps.push(Comparison {
                        a: w,
                        b: other,
                        outcome: Outcome::AWins,
                    });
                }
            }
            Protocol::Likert | Protocol::Multi => {}
        }
    }
    (names, comps)
}

/// Units × raters matrix for agreement statistics: `(unit labels, rater names, data)` where
/// `data[rater][unit]` is the rater's value (None = not rated). Pairwise units are unordered
/// pairs valued 0 (first path wins), 1 (second wins), 2 (tie); Likert units are items valued
/// by the rating; multi-dimensional units are items valued by the rating of the dimension
/// named by `criterion`. When a rater judged a unit several times the last judgement counts.
pub fn rating_matrix(
    events: &[Event],
    protocol: Protocol,
    criterion: &str,
) -> (Vec<String>, Vec<String>, Vec<Vec<Option<f64>>>) {
    let mut cells: BTreeMap<(String, String), f64> = BTreeMap::new();
    // Multi-dimensional events carry one rating per dimension: `criterion` names it.
    let matches = |e: &&Event| {
        e.protocol == protocol && (protocol == Protocol::Multi || e.payload.criterion == criterion)
    };
    for e in events.iter().filter(matches) {
        let value = match protocol {
            Protocol::Pairwise => {
                let (Some(a), Some(b)) = (e.payload.items.first(), e.payload.items.get(1)) else {
                    continue;
                };
                let (first, second) = if a <= b { (a, b) } else { (b, a) };
                let unit = format!("{first} | {second}");
                let v = match e.payload.choice.as_deref() {
                    Some(c) if c == first => 0.0,
                    Some(c) if c == second => 1.0,
                    _ => 2.0,
                };
                (unit, v)
            }
            Protocol::Likert => {
                let (Some(item), Some(r)) = (e.payload.items.first(), e.payload.rating) else {
                    continue;
                };
                (item.clone(), r)
            }
            Protocol::Multi => {
                let (Some(item), Some(r)) = (
                    e.payload.items.first(),
                    e.payload.ratings.as_ref().and_then(|r| r.get(criterion)),
                ) else {
                    continue;
                };
                (item.clone(), *r)
            }
            Protocol::BestOfN => continue,
        };
        cells.insert((value.0, e.rater.clone()), value.1);
    }
    let mut units: Vec<String> = cells.keys().map(|(u, _)| u.clone()).collect();
    units.dedup();
    let mut raters: Vec<String> = cells.keys().map(|(_, r)| r.clone()).collect();
    raters.sort();
    raters.dedup();
    let data = raters
        .iter()
        .map(|r| {
            units
                .iter()
                .map(|u| cells.get(&(u.clone(), r.clone())).copied())
                .collect()
        })
        .collect();
    (units, raters, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col() -> HashMap<String, String> {
        [("a.png", "h_a"), ("b.png", "h_b"), ("c.png", "h_c")]
            .iter()
            .map(|(p, h)| ((*p).to_string(), (*h).to_string()))
            .collect()
    }

    #[test]
    fn lines_validate_with_clear_reasons() {
        let c = col();
        let ok = parse_line(
            r#"{"protocol":"pairwise","rater":"r1","items":["a.png","h_b"],"choice":"b.png"}"#,
            &c,
        )
        .unwrap();
        assert_eq!(ok.payload.items, vec!["a.png", "b.png"]);
        assert_eq!(ok.payload.choice.as_deref(), Some("b.png"));
        assert_eq!(ok.payload.criterion, "overall");
        let again = parse_line(
            r#"{"protocol":"pairwise","rater":"r1","items":["a.png","b.png"],"choice":"b.png"}"#,
            &c,
        )
        .unwrap();
        assert_eq!(
            ok.uid, again.uid,
            "same content, same id (idempotent import)"
        );
        for (line, why) in [
            ("{not json", "malformed JSON"),
            (
                r#"{"protocol":"pairwise","rater":"r1","items":["a.png","zzz.png"],"choice":"a.png"}"#,
                "unknown item 'zzz.png'",
            ),
            (
                r#"{"protocol":"pairwise","rater":"r1","items":["a.png","b.png"],"choice":"c.png"}"#,
                "not one of the items",
            ),
            (
                r#"{"protocol":"pairwise","rater":"r1","items":["a.png","b.png"]}"#,
                "missing 'choice'",
            ),
            (
                r#"{"protocol":"likert","rater":"r1","items":["a.png"],"rating":7}"#,
                "1–5",
            ),
            (
                r#"{"protocol":"vote","rater":"r1","items":["a.png"]}"#,
                "unknown protocol",
            ),
            (
                r#"{"protocol":"pairwise","rater":"r1","items":["a.png","b.png"],"choice":"a.png","hashes":["x","y"]}"#,
                "another collection",
            ),
            (
                r#"{"protocol":"likert","rater":"r1","items":["a.png"],"rating":3,"extra":1}"#,
                "unknown field",
            ),
        ] {
            let e = parse_line(line, &c).unwrap_err();
            assert!(e.contains(why), "{line}: {e}");
        }
    }

    #[test]
    fn gui_events_export_and_import_to_the_same_uid_with_gold_items() {
        let c = col();
        let payload = Payload {
            criterion: "overall".into(),
            items: vec!["a.png".into(), attention::degraded_name("a.png")],
            hashes: vec!["h_a".into(), attention::degraded_name("h_a")],
            order: vec![attention::degraded_name("a.png"), "a.png".into()],
            choice: Some("a.png".into()),
            rating: None,
            ratings: None,
            response_ms: Some(812),
            attention_check: true,
        };
        let time = "2026-01-02T03:04:05.678Z";
        let uid = event_uid(
            Protocol::Pairwise,
            "ana",
            "ana@t#0001",
            Some(time),
            &payload,
        );
        let line = export_line(
            Some(&uid),
            time,
            "ana",
            "ana@t#0001",
            Protocol::Pairwise,
            &payload,
        );
        let back = parse_line(&serde_json::to_string(&line).unwrap(), &c).unwrap();
        assert_eq!(back.payload, payload);
        assert_eq!(back.uid, uid, "re-importing a GUI event adds nothing");
        // Gold items are only valid in attention checks.
        let mut plain = line.clone();
        plain.attention_check = false;
        let e = parse_line(&serde_json::to_string(&plain).unwrap(), &c).unwrap_err();
        assert!(e.contains("unknown item"), "{e}");
    }

    #[test]
    fn an_unknown_protocol_is_the_lines_own_error() {
        let e = parse_line(
            r#"{"protocol":"vote","rater":"r1","items":["a.png"]}"#,
            &col(),
        );
        assert_eq!(
            e.unwrap_err(),
            "unknown protocol 'vote' (expected one of pairwise, likert, best_of_n, multi)"
        );
    }

    #[test]
    fn content_ids_hash_the_protocol_and_criterion_spellings() {
        let payload = Payload {
            criterion: Criterion::new("fidelity"),
            items: vec!["a.png".into()],
            hashes: vec!["h_a".into()],
            order: vec!["a.png".into()],
            choice: None,
            rating: Some(4.0),
            ratings: None,
            response_ms: None,
            attention_check: false,
        };
        // The formula of the string-typed events, spelled out: ids stored before stay valid.
        let canonical = r#"["likert","r1","import",null,{"criterion":"fidelity","items":["a.png"],"hashes":["h_a"],"order":["a.png"],"choice":null,"rating":4.0,"ratings":null,"response_ms":null,"attention_check":false}]"#;
        assert_eq!(
            event_uid(Protocol::Likert, "r1", "import", None, &payload),
            format!("{:032x}", xxhash_rust::xxh3::xxh3_128(canonical.as_bytes()))
        );
    }

    #[test]
    fn repeats_in_a_file_get_occurrence_ids_and_explicit_ids_win() {
        let c = col();
        let line =
            r#"{"protocol":"pairwise","rater":"r1","items":["a.png","b.png"],"choice":"a.png"}"#;
        let mut occ = Occurrences::default();
        let mut uids = Vec::new();
        for k in 0..3 {
            let mut v = parse_line(line, &c).unwrap();
            assert!(!v.explicit_id);
            assert_eq!(occ.identify(&mut v), k);
            uids.push(v.uid);
        }
        let content = parse_line(line, &c).unwrap().uid;
        assert_eq!(
            uids[0], content,
            "the first occurrence keeps the content id"
        );
        assert_eq!(uids[1], repeat_uid(&content, 1));
        assert_eq!(uids[2], repeat_uid(&content, 2));
        assert_eq!(
            uids.iter().collect::<std::collections::HashSet<_>>().len(),
            3
        );
        // A second file numbers its repeats the same way: re-importing adds nothing.
        let mut again = Occurrences::default();
        let mut v = parse_line(line, &c).unwrap();
        again.identify(&mut v);
        assert_eq!(v.uid, uids[0]);
        // Another content starts its own count.
        let mut other = parse_line(&line.replace("r1", "r2"), &c).unwrap();
        assert_eq!(occ.identify(&mut other), 0);
        // An explicit id is the identity, repeated or not.
        let with_id = line.replace("{\"protocol\"", "{\"id\":\"ev-7\",\"protocol\"");
        for _ in 0..2 {
            let mut v = parse_line(&with_id, &c).unwrap();
            assert!(v.explicit_id);
            assert_eq!(occ.identify(&mut v), 0);
            assert_eq!(v.uid, "ev-7");
        }
        for (bad, why) in [
            (
                line.replace("{\"protocol\"", "{\"id\":\" \",\"protocol\""),
                "empty 'id'",
            ),
            (
                line.replace(
                    "{\"protocol\"",
                    &format!("{{\"id\":\"{}\",\"protocol\"", "x".repeat(300)),
                ),
                "longer than",
            ),
            (
                line.replace("{\"protocol\"", "{\"id\":\"a\\u0007\",\"protocol\""),
                "control",
            ),
        ] {
            let e = parse_line(&bad, &c).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn legacy_ids_are_the_time_less_content_ids() {
        let c = col();
        let plain =
            r#"{"protocol":"pairwise","rater":"r1","items":["a.png","b.png"],"choice":"a.png"}"#;
        let timed = plain.replace('}', r#","time":"2026-01-01T00:00:00.000Z"}"#);
        let stored = parse_line(plain, &c).unwrap();
        let v = parse_line(&timed, &c).unwrap();
        assert_ne!(v.uid, stored.uid, "the time is part of the content id");
        assert_eq!(legacy_uid(&v, 0).as_deref(), Some(stored.uid.as_str()));
        assert_eq!(legacy_uid(&v, 2), Some(repeat_uid(&stored.uid, 2)));
        assert_eq!(legacy_uid(&stored, 0), None, "no time: nothing to recover");
    }

    #[test]
    fn events_become_comparisons_and_matrices() {
        let c = col();
        let ev = |line: &str| {
            let v = parse_line(line, &c).unwrap();
            Event {
                rater: v.rater,
                protocol: v.protocol,
                payload: v.payload,
            }
        };
        let events = vec![
            ev(
                r#"{"protocol":"pairwise","rater":"r1","items":["a.png","b.png"],"choice":"a.png"}"#,
            ),
            ev(r#"{"protocol":"pairwise","rater":"r2","items":["b.png","a.png"],"choice":"tie"}"#),
            ev(
                r#"{"protocol":"best_of_n","rater":"r1","items":["a.png","b.png","c.png"],"choice":"c.png"}"#,
            ),
            ev(r#"{"protocol":"likert","rater":"r1","items":["a.png"],"rating":4}"#),
        ];
        let (names, comps) = comparisons(&events, "overall");
        assert_eq!(names, vec!["a.png", "b.png", "c.png"]);
        assert_eq!(comps.len(), 4);
        assert_eq!(
            comps[0],
            Comparison {
                a: 0,
                b: 1,
                outcome: Outcome::AWins
            }
        );
        assert_eq!(comps[1].outcome, Outcome::Tie);
        assert!(
            comps[2..]
                .iter()
                .all(|c| c.a == 2 && c.outcome == Outcome::AWins)
        );
        let (units, raters, data) = rating_matrix(&events, Protocol::Pairwise, "overall");
        assert_eq!(units, vec!["a.png | b.png"]);
        assert_eq!(raters, vec!["r1", "r2"]);
        assert_eq!(data, vec![vec![Some(0.0)], vec![Some(2.0)]]);
    }
}
