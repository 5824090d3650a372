//! Selection policies: a TOML file describing a cascade of gates (hard filters and defect gates,
//! written in the [`expr`](super::expr) language), a ranking rule, and accept / review / reject
//! bands, applied per scope (the whole collection, a prompt group or a seed batch).
//!
//! [`apply`] is pure and deterministic. Per item, in order:
//! 1. **Gates.** A gate whose columns are all present and whose condition is false rejects the
//!    item with the gate's `reason` (the first such gate in file order). Otherwise, a gate that
//!    refers to a missing signal sends the item to review with `missing signal <key>` (never
//!    accepted silently, never rejected on a guess). A gate with `review_when` sends an item that
//!    fails `when` but satisfies `review_when` to review (`<reason> (review band of the gate)`),
//!    unless another gate rejects it or a signal is missing.
//! 2. **Rank signals.** An item lacking a signal the rule needs goes to review with
//!    `missing signal <key>`. For `constrained`, an item failing a constraint is rejected with
//!    `constraint <expr>`.
//! 3. **Score** (within the item's scope, over the items that reached this step):
//!    - `weighted_sum`: Σ wⱼ·zⱼ with population z-scores over the scope (a constant signal
//!      contributes 0; negative weights reward low values), then the percentile score;
//!    - `lexicographic`: position in [`lexicographic_order`], as a percentile score
//!      `1 − pos/(n − 1)`;
//!    - `constrained`: percentile score of the maximised signal;
//!    - `pareto`: `1 / (1 + front)` (front 0 = non-dominated → 1.0, front 1 → 0.5, …).
//!
//!    The percentile score is the share of the other scoped items an item beats, ties counting
//!    half; a scope of one item scores 1.
//! 4. **Bands.** `score ≥ accept` → accept, `score < reject` → reject, else review. With `top_k`,
//!    only the first k items of the scope's ranking (ties broken by id) may be accepted; the rest
//!    of the accept band goes to review.
//!
//! `rank_in_scope` is 1-based among the scored items of the scope (1 = best).

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use super::expr::{Expr, Op, Value};
use super::rules::{LexKey, lexicographic_order, pareto_fronts, percentile_scores, weighted_sum};
use crate::signals::Direction;

/// Which images are compared with each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    #[default]
    Collection,
    /// Images sharing a positive prompt.
    Prompt,
    /// Images of one seed batch.
    SeedBatch,
}

/// A gate: the item must satisfy `when`, else it is rejected with `reason`. With
/// `review_when` (a weaker condition, e.g. `when = "blur >= 100"`, `review_when = "blur >= 50"`)
/// the gate has two thresholds: failing `when` but satisfying `review_when` sends the item to
/// review instead.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    pub when: String,
    pub reason: String,
    #[serde(default)]
    pub review_when: Option<String>,
}

/// Better direction of a key; `desc`/`asc` are accepted as synonyms of `max`/`min`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    #[serde(alias = "desc")]
    Max,
    #[serde(alias = "asc")]
    Min,
}

/// One lexicographic key.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LexSpec {
    pub key: String,
    #[serde(default)]
    pub tolerance: f64,
    /// Defaults to the registry's direction.
    #[serde(default)]
    pub direction: Option<Better>,
}

/// One Pareto objective.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParetoSpec {
    pub key: String,
    /// Defaults to the registry's direction.
    #[serde(default)]
    pub direction: Option<Better>,
}

/// The ranking rule.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Rank {
    WeightedSum {
        weights: BTreeMap<String, f64>,
    },
    Lexicographic {
        keys: Vec<LexSpec>,
    },
    Constrained {
        constraints: Vec<String>,
        maximise: String,
    },
    Pareto {
        keys: Vec<ParetoSpec>,
    },
}

/// Band thresholds on the final score.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bands {
    pub accept: f64,
    pub reject: f64,
    #[serde(default)]
    pub top_k: Option<usize>,
}

/// A selection policy.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub name: String,
    #[serde(default)]
    pub scope: Scope,
    #[serde(default)]
    pub gates: Vec<Gate>,
    pub rank: Rank,
    pub bands: Bands,
}

/// Why a policy cannot be used; every message names the offending key or field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PolicyError {
    #[error("policy file: {0}")]
    Toml(String),
    #[error("{place}: unknown signal '{key}'")]
    UnknownSignal { place: String, key: String },
    #[error("{place}: cannot parse '{text}': {message}")]
    BadExpression {
        place: String,
        text: String,
        message: String,
    },
    #[error("{place}: impossible condition on '{key}' (no value can satisfy it)")]
    Impossible { place: String, key: String },
    #[error(
        "{place}: '{key}' has no better direction in the registry; set direction = \"max\" or \"min\""
    )]
    NoDirection { place: String, key: String },
    #[error("{0}")]
    Invalid(String),
}

/// Accept / review / reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    Accept,
    Reject,
    Review,
}

/// One image as the policy sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub id: i64,
    /// The prompt or seed-batch key; ignored for `scope = "collection"`.
    pub scope_key: String,
    /// Signal values by key; absent or `Null` = missing.
    pub values: HashMap<String, Value>,
}

/// The decision for one image.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Outcome {
    pub id: i64,
    pub band: Band,
    /// Score in [0, 1] for items that reached ranking.
    pub score: Option<f64>,
    pub reason: String,
    /// 1-based position among the scored items of the scope.
    pub rank_in_scope: Option<usize>,
}

/// The registry's direction of a key (`None` when unknown or neutral).
fn registry_direction(key: &str) -> Option<bool> {
    match crate::signals::get(key)?.direction {
        Direction::HigherIsBetter => Some(true),
        Direction::LowerIsBetter => Some(false),
        Direction::Neutral => None,
    }
}

fn resolve(place: &str, key: &str, d: Option<Better>) -> Result<bool, PolicyError> {
    match d {
        Some(Better::Max) => Ok(true),
        Some(Better::Min) => Ok(false),
        None => registry_direction(key).ok_or_else(|| PolicyError::NoDirection {
            place: place.to_string(),
            key: key.to_string(),
        }),
    }
}

fn parse_expr(place: &str, text: &str) -> Result<Expr, PolicyError> {
    Expr::parse(text).map_err(|e| PolicyError::BadExpression {
        place: place.to_string(),
        text: text.to_string(),
        message: e.to_string(),
    })
}

/// Numeric bounds implied by the top-level conjunction of an expression, per key:
/// (lower, lower inclusive, upper, upper inclusive). Disjunctions and negations are skipped.
fn conjunction_bounds(e: &Expr, out: &mut BTreeMap<String, (f64, bool, f64, bool)>) {
    match e {
        Expr::And(a, b) => {
            conjunction_bounds(a, out);
            conjunction_bounds(b, out);
        }
        Expr::Cmp(key, op, Value::Num(x)) => {
            let b =
                out.entry(key.clone())
                    .or_insert((f64::NEG_INFINITY, true, f64::INFINITY, true));
            let mut lower = |v: f64, incl: bool| {
                if v > b.0 || (v == b.0 && !incl) {
                    (b.0, b.1) = (v, incl);
                }
            };
            match op {
                Op::Gt => lower(*x, false),
                Op::Ge => lower(*x, true),
                Op::Eq => lower(*x, true),
                _ => {}
            }
            let mut upper = |v: f64, incl: bool| {
                if v < b.2 || (v == b.2 && !incl) {
                    (b.2, b.3) = (v, incl);
                }
            };
            match op {
                Op::Lt => upper(*x, false),
                Op::Le => upper(*x, true),
                Op::Eq => upper(*x, true),
                _ => {}
            }
        }
        _ => {}
    }
}

fn check_possible(place: &str, e: &Expr) -> Result<(), PolicyError> {
    let mut bounds = BTreeMap::new();
    conjunction_bounds(e, &mut bounds);
    for (key, (lo, lo_incl, hi, hi_incl)) in bounds {
        if lo > hi || (lo == hi && !(lo_incl && hi_incl)) {
            return Err(PolicyError::Impossible {
                place: place.to_string(),
                key,
            });
        }
    }
    Ok(())
}

struct CompiledGate {
    when: Expr,
    reason: String,
    review_when: Option<Expr>,
}

/// The policy with expressions parsed and directions resolved.
struct Compiled {
    gates: Vec<CompiledGate>,
    rule: Rule,
}

enum Rule {
    Weighted(Vec<(String, f64)>),
    Lex(Vec<(String, bool, f64)>),
    Constrained(Vec<(Expr, String)>, String),
    Pareto(Vec<(String, bool)>),
}

impl Rule {
    fn keys(&self) -> Vec<&str> {
        match self {
            Rule::Weighted(w) => w.iter().map(|(k, _)| k.as_str()).collect(),
            Rule::Lex(k) => k.iter().map(|(k, _, _)| k.as_str()).collect(),
            Rule::Constrained(c, m) => {
                let mut keys: Vec<&str> = c.iter().flat_map(|(e, _)| e.columns()).collect();
                keys.push(m);
                keys
            }
            Rule::Pareto(k) => k.iter().map(|(k, _)| k.as_str()).collect(),
        }
    }
}

impl Policy {
    /// Parses a policy file.
    pub fn from_toml(text: &str) -> Result<Self, PolicyError> {
        toml::from_str(text).map_err(|e| PolicyError::Toml(e.to_string()))
    }

    /// Checks the policy: expressions parse, every key is known, directions resolve, no
    /// condition is impossible on its own, weights/tolerances are finite, and the bands are
    /// ordered (`0 ≤ reject ≤ accept ≤ 1`, `top_k ≥ 1`).
    pub fn validate(&self, known_keys: &dyn Fn(&str) -> bool) -> Result<(), PolicyError> {
        let c = self.compile()?;
        let unknown = |place: String, keys: Vec<&str>| -> Result<(), PolicyError> {
            match keys.into_iter().find(|k| !known_keys(k)) {
                Some(k) => Err(PolicyError::UnknownSignal {
                    place,
                    key: k.to_string(),
                }),
                None => Ok(()),
            }
        };
        for (i, g) in c.gates.iter().enumerate() {
            unknown(format!("gates[{i}]"), g.when.columns())?;
            if let Some(r) = &g.review_when {
                unknown(format!("gates[{i}].review_when"), r.columns())?;
            }
        }
        unknown("rank".to_string(), c.rule.keys())?;
        Ok(())
    }

    fn compile(&self) -> Result<Compiled, PolicyError> {
        let invalid = |m: String| Err(PolicyError::Invalid(m));
        let mut gates = Vec::new();
        for (i, g) in self.gates.iter().enumerate() {
            let place = format!("gates[{i}] ({})", g.reason);
            let when = parse_expr(&place, &g.when)?;
            check_possible(&place, &when)?;
            let review_when = match &g.review_when {
                Some(text) => {
                    let place = format!("gates[{i}].review_when ({})", g.reason);
                    let e = parse_expr(&place, text)?;
                    check_possible(&place, &e)?;
                    Some(e)
                }
                None => None,
            };
            gates.push(CompiledGate {
                when,
                reason: g.reason.clone(),
                review_when,
            });
        }
        let rule = match &self.rank {
            Rank::WeightedSum { weights } => {
                if weights.is_empty() {
                    return invalid("rank.weights is empty".into());
                }
                if let Some((k, _)) = weights.iter().find(|(_, w)| !w.is_finite()) {
                    return invalid(format!("rank.weights: weight of '{k}' is not finite"));
                }
                if weights.values().all(|w| *w == 0.0) {
                    return invalid("rank.weights: every weight is 0".into());
                }
                Rule::Weighted(weights.iter().map(|(k, w)| (k.clone(), *w)).collect())
            }
            Rank::Lexicographic { keys } => {
                if keys.is_empty() {
                    return invalid("rank.keys is empty".into());
                }
                let mut out = Vec::new();
                for (i, k) in keys.iter().enumerate() {
                    if !(k.tolerance.is_finite() && k.tolerance >= 0.0) {
                        return invalid(format!(
                            "rank.keys[{i}]: tolerance of '{}' must be a finite number ≥ 0",
                            k.key
                        ));
                    }
                    let max = resolve(&format!("rank.keys[{i}]"), &k.key, k.direction)?;
                    out.push((k.key.clone(), max, k.tolerance));
                }
                Rule::Lex(out)
            }
            Rank::Constrained {
                constraints,
                maximise,
            } => {
                let mut out = Vec::new();
                for (i, text) in constraints.iter().enumerate() {
                    let place = format!("rank.constraints[{i}]");
                    let e = parse_expr(&place, text)?;
                    check_possible(&place, &e)?;
                    out.push((e, text.clone()));
                }
                if maximise.trim().is_empty() {
                    return invalid("rank.maximise is empty".into());
                }
                Rule::Constrained(out, maximise.clone())
            }
            Rank::Pareto { keys } => {
                if keys.is_empty() {
                    return invalid("rank.keys is empty".into());
                }
                let mut out = Vec::new();
                for (i, k) in keys.iter().enumerate() {
                    let max = resolve(&format!("rank.keys[{i}]"), &k.key, k.direction)?;
                    out.push((k.key.clone(), max));
                }
                Rule::Pareto(out)
            }
        };
        let b = &self.bands;
        if !(b.accept.is_finite() && b.reject.is_finite()) {
            return invalid("bands: accept and reject must be finite numbers".into());
        }
        if !(0.0..=1.0).contains(&b.accept) || !(0.0..=1.0).contains(&b.reject) {
            return invalid(format!(
                "bands: accept ({}) and reject ({}) must lie in [0, 1]",
                b.accept, b.reject
            ));
        }
        if b.accept < b.reject {
            return invalid(format!(
                "bands: accept ({}) is below reject ({})",
                b.accept, b.reject
            ));
        }
        if b.top_k == Some(0) {
            return invalid("bands.top_k must be at least 1".into());
        }
        Ok(Compiled { gates, rule })
    }
}

/// A finite number, or `None` for null, non-numeric text and NaN/∞.
fn num(v: Option<&Value>) -> Option<f64> {
    let x = match v? {
        Value::Num(x) => *x,
        Value::Text(t) => t.trim().parse().ok()?,
        Value::Null => return None,
    };
    x.is_finite().then_some(x)
}

fn is_missing(item: &Item, key: &str) -> bool {
    matches!(item.values.get(key), None | Some(Value::Null))
}

/// The first column of `e` the item lacks.
fn first_missing<'a>(e: &'a Expr, item: &Item) -> Option<&'a str> {
    e.columns().into_iter().find(|k| is_missing(item, k))
}

/// Applies a policy to items; outcomes come back in the items' order. Fails only when the
/// policy itself is invalid (see [`Policy::validate`]; unknown keys are not checked here).
pub fn apply(policy: &Policy, items: &[Item]) -> Result<Vec<Outcome>, PolicyError> {
    let c = policy.compile()?;
    let mut out: Vec<Outcome> = items
        .iter()
        .map(|it| Outcome {
            id: it.id,
            band: Band::Review,
            score: None,
            reason: String::new(),
            rank_in_scope: None,
        })
        .collect();
    // Items that reach ranking, grouped by scope (BTreeMap: deterministic order).
    let mut scopes: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, it) in items.iter().enumerate() {
        match screen(&c, it) {
            Some((band, reason)) => {
                out[i].band = band;
                out[i].reason = reason;
            }
            None => {
                let key = match policy.scope {
                    Scope::Collection => "",
                    Scope::Prompt | Scope::SeedBatch => it.scope_key.as_str(),
                };
                scopes.entry(key).or_default().push(i);
            }
        }
    }
    for (_, mut members) in scopes {
        members.sort_by_key(|&i| (items[i].id, i));
        let get = |i: usize, k: &str| num(items[i].values.get(k)).unwrap_or(f64::NAN);
        let (scores, order): (Vec<f64>, Vec<usize>) = match &c.rule {
            Rule::Weighted(w) => {
                let cols: Vec<Vec<f64>> = w
                    .iter()
                    .map(|(k, _)| members.iter().map(|&i| get(i, k)).collect())
                    .collect();
                let ws: Vec<f64> = w.iter().map(|(_, x)| *x).collect();
                let raw = weighted_sum(&cols, &ws, members.len());
                let s = percentile_scores(&raw);
                let order = order_by(&raw);
                (s, order)
            }
            Rule::Constrained(_, m) => {
                let raw: Vec<f64> = members.iter().map(|&i| get(i, m)).collect();
                let order = order_by(&raw);
                (percentile_scores(&raw), order)
            }
            Rule::Lex(keys) => {
                let rows: Vec<Vec<f64>> = members
                    .iter()
                    .map(|&i| keys.iter().map(|(k, _, _)| get(i, k)).collect())
                    .collect();
                let lk: Vec<LexKey> = keys
                    .iter()
                    .enumerate()
                    .map(|(column, (_, maximise, tolerance))| LexKey {
                        column,
                        maximise: *maximise,
                        tolerance: *tolerance,
                    })
                    .collect();
                let order = lexicographic_order(&rows, &lk);
                let n = order.len();
                let mut s = vec![1.0; n];
                for (pos, &r) in order.iter().enumerate() {
                    if n > 1 {
                        s[r] = 1.0 - pos as f64 / (n - 1) as f64;
                    }
                }
                (s, order)
            }
            Rule::Pareto(keys) => {
                let pts: Vec<Vec<f64>> = members
                    .iter()
                    .map(|&i| keys.iter().map(|(k, _)| get(i, k)).collect())
                    .collect();
                let max: Vec<bool> = keys.iter().map(|(_, m)| *m).collect();
                let fronts = pareto_fronts(&pts, &max);
                let mut order: Vec<usize> = (0..members.len()).collect();
                order.sort_by_key(|&r| (fronts[r], r));
                (fronts.iter().map(|f| 1.0 / (1 + f) as f64).collect(), order)
            }
        };
        let b = &policy.bands;
        let mut accepted = 0usize;
        for (pos, &r) in order.iter().enumerate() {
            let o = &mut out[members[r]];
            let s = scores[r];
            o.score = Some(s);
            o.rank_in_scope = Some(pos + 1);
            (o.band, o.reason) = if s >= b.accept {
                if b.top_k.is_some_and(|k| accepted >= k) {
                    (
                        Band::Review,
                        format!(
                            "score {s:.3} ≥ accept {} but beyond top_k {}",
                            b.accept,
                            b.top_k.unwrap_or(0)
                        ),
                    )
                } else {
                    accepted += 1;
                    (Band::Accept, format!("score {s:.3} ≥ accept {}", b.accept))
                }
            } else if s < b.reject {
                (Band::Reject, format!("score {s:.3} < reject {}", b.reject))
            } else {
                (
                    Band::Review,
                    format!(
                        "score {s:.3} between reject {} and accept {}",
                        b.reject, b.accept
                    ),
                )
            };
        }
    }
    Ok(out)
}

/// Indices ordered by raw value, best (largest) first, ties by index.
fn order_by(raw: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..raw.len()).collect();
    order.sort_by(|&a, &b| raw[b].total_cmp(&raw[a]).then(a.cmp(&b)));
    order
}

/// Gates and per-item checks: `Some((band, reason))` when the item is decided before ranking.
fn screen(c: &Compiled, it: &Item) -> Option<(Band, String)> {
    let get = |k: &str| it.values.get(k).cloned().unwrap_or(Value::Null);
    let mut missing: Option<&str> = None;
    let mut soft: Option<&str> = None;
    for g in &c.gates {
        match first_missing(&g.when, it) {
            Some(k) => missing = missing.or(Some(k)),
            None if !g.when.eval(&get) => match &g.review_when {
                Some(r) => match first_missing(r, it) {
                    Some(k) => missing = missing.or(Some(k)),
                    None if r.eval(&get) => soft = soft.or(Some(&g.reason)),
                    None => return Some((Band::Reject, g.reason.clone())),
                },
                None => return Some((Band::Reject, g.reason.clone())),
            },
            None => {}
        }
    }
    if let Rule::Constrained(cons, _) = &c.rule {
        for (e, text) in cons {
            match e.columns().into_iter().find(|k| is_missing(it, k)) {
                Some(k) => missing = missing.or(Some(k)),
                None if !e.eval(&get) => {
                    return Some((Band::Reject, format!("constraint {text}")));
                }
                None => {}
            }
        }
    }
    if let Some(k) = missing {
        return Some((Band::Review, format!("missing signal {k}")));
    }
    if let Some(reason) = soft {
        return Some((Band::Review, format!("{reason} (review band of the gate)")));
    }
    let rank_keys = match &c.rule {
        Rule::Constrained(_, m) => vec![m.as_str()],
        r => r.keys(),
    };
    rank_keys
        .into_iter()
        .find(|k| num(it.values.get(*k)).is_none())
        .map(|k| (Band::Review, format!("missing signal {k}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: i64, scope: &str, vals: &[(&str, f64)]) -> Item {
        Item {
            id,
            scope_key: scope.to_string(),
            values: vals
                .iter()
                .map(|(k, v)| (k.to_string(), Value::Num(*v)))
                .collect(),
        }
    }

    fn policy(rank: &str, bands: &str, extra: &str) -> Policy {
        let text = format!("name = \"t\"\n{extra}\n[rank]\n{rank}\n[bands]\n{bands}\n");
        Policy::from_toml(&text).unwrap_or_else(|e| panic!("{text}\n{e}"))
    }

    fn bands_of(out: &[Outcome]) -> Vec<(i64, Band)> {
        out.iter().map(|o| (o.id, o.band)).collect()
    }

    #[test]
    fn example_policy_parses_and_validates_against_the_registry() {
        let text = include_str!("../../assets/policies/example.toml");
        let p = Policy::from_toml(text).unwrap();
        assert_eq!(p.name, "portrait-v1");
        assert_eq!(p.scope, Scope::Prompt);
        assert_eq!(p.gates.len(), 4);
        assert_eq!(p.bands.top_k, Some(2));
        assert!(matches!(&p.rank, Rank::WeightedSum { weights } if weights["noise_sigma"] == -0.5));
        p.validate(&|k| crate::signals::get(k).is_some()).unwrap();
    }

    #[test]
    fn every_rule_parses() {
        let cases = [
            "rule = \"weighted_sum\"\nweights = { a = 1.0 }",
            "rule = \"lexicographic\"\nkeys = [{ key = \"a\", tolerance = 0.2, direction = \"desc\" }, { key = \"b\", direction = \"asc\" }]",
            "rule = \"constrained\"\nconstraints = [\"b < 3\"]\nmaximise = \"a\"",
            "rule = \"pareto\"\nkeys = [{ key = \"a\", direction = \"max\" }, { key = \"b\", direction = \"min\" }]",
        ];
        for rank in cases {
            let p = policy(rank, "accept = 0.5\nreject = 0.2", "");
            p.validate(&|k| k == "a" || k == "b")
                .unwrap_or_else(|e| panic!("{rank}: {e}"));
        }
    }

    #[test]
    fn bad_policies_name_the_problem() {
        let known = |k: &str| crate::signals::get(k).is_some();
        // (rank, bands, extra, expected substring of the error)
        let cases = [
            (
                "rule = \"weighted_sum\"\nweights = { not_a_signal = 1.0 }",
                "accept = 0.5\nreject = 0.2",
                "",
                "unknown signal 'not_a_signal'",
            ),
            (
                "rule = \"weighted_sum\"\nweights = { tenengrad = 1.0 }",
                "accept = 0.5\nreject = 0.2",
                "[[gates]]\nwhen = \"foot_defect < 0.3\"\nreason = \"feet\"",
                "gates[0]: unknown signal 'foot_defect'",
            ),
            (
                "rule = \"weighted_sum\"\nweights = {}",
                "accept = 0.5\nreject = 0.2",
                "",
                "rank.weights is empty",
            ),
            (
                "rule = \"weighted_sum\"\nweights = { tenengrad = 1.0 }",
                "accept = 0.2\nreject = 0.5",
                "",
                "accept (0.2) is below reject (0.5)",
            ),
            (
                "rule = \"weighted_sum\"\nweights = { tenengrad = 1.0 }",
                "accept = 1.5\nreject = 0.5",
                "",
                "must lie in [0, 1]",
            ),
            (
                "rule = \"weighted_sum\"\nweights = { tenengrad = 1.0 }",
                "accept = 0.5\nreject = 0.2\ntop_k = 0",
                "",
                "top_k must be at least 1",
            ),
            (
                "rule = \"constrained\"\nconstraints = [\"noise_sigma < 3 and noise_sigma > 5\"]\nmaximise = \"tenengrad\"",
                "accept = 0.5\nreject = 0.2",
                "",
                "impossible condition on 'noise_sigma'",
            ),
            (
                "rule = \"constrained\"\nconstraints = [\"noise_sigma < 3\"]\nmaximise = \"sharpness\"",
                "accept = 0.5\nreject = 0.2",
                "",
                "rank: unknown signal 'sharpness'",
            ),
            (
                "rule = \"weighted_sum\"\nweights = { tenengrad = 1.0 }",
                "accept = 0.5\nreject = 0.2",
                "[[gates]]\nwhen = \"blur_laplacian_var >= 50 and blur_laplacian_var < 50\"\nreason = \"blurry\"",
                "gates[0] (blurry): impossible condition on 'blur_laplacian_var'",
            ),
            (
                "rule = \"weighted_sum\"\nweights = { tenengrad = 1.0 }",
                "accept = 0.5\nreject = 0.2",
                "[[gates]]\nwhen = \"blur_laplacian_var >=\"\nreason = \"blurry\"",
                "cannot parse 'blur_laplacian_var >='",
            ),
            (
                "rule = \"pareto\"\nkeys = [{ key = \"colorfulness\" }]",
                "accept = 0.5\nreject = 0.2",
                "",
                "rank.keys[0]: 'colorfulness' has no better direction",
            ),
            (
                "rule = \"lexicographic\"\nkeys = [{ key = \"tenengrad\", tolerance = -1.0 }]",
                "accept = 0.5\nreject = 0.2",
                "",
                "tolerance of 'tenengrad'",
            ),
        ];
        for (rank, bands, extra, want) in cases {
            let err = policy(rank, bands, extra).validate(&known).unwrap_err();
            assert!(
                err.to_string().contains(want),
                "{rank}: got '{err}', want '{want}'"
            );
        }
        // `hand_defect`, this test's unknown signal before issue 21, is a signal now.
        policy(
            "rule = \"weighted_sum\"\nweights = { tenengrad = 1.0 }",
            "accept = 0.5\nreject = 0.2",
            "[[gates]]\nwhen = \"hand_defect < 0.3\"\nreason = \"hands\"",
        )
        .validate(&known)
        .unwrap();
        // Typos in fields are TOML errors naming the field.
        let err = Policy::from_toml(
            "name = \"t\"\n[rank]\nrule = \"weighted_sum\"\nweights = { a = 1.0 }\n[bands]\naccept = 0.5\nreject = 0.2\ntopk = 2\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("topk"), "{err}");
        let err = Policy::from_toml(
            "name = \"t\"\n[rank]\nrule = \"best\"\n[bands]\naccept = 0.5\nreject = 0.2\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("best"), "{err}");
    }

    #[test]
    fn gates_and_missing_signals() {
        let p = policy(
            "rule = \"weighted_sum\"\nweights = { q = 1.0 }",
            "accept = 0.5\nreject = 0.2",
            "[[gates]]\nwhen = \"blank = 0\"\nreason = \"hard filter\"\n[[gates]]\nwhen = \"blur >= 50\"\nreason = \"blurry\"",
        );
        let items = vec![
            item(1, "", &[("blank", 0.0), ("blur", 80.0), ("q", 1.0)]),
            // Fails a gate: reject with the gate's reason.
            item(2, "", &[("blank", 0.0), ("blur", 10.0), ("q", 9.0)]),
            // Fails the first gate although the second gate's signal is missing: reject.
            item(3, "", &[("blank", 1.0), ("q", 9.0)]),
            // Passes the first gate, second gate's signal missing: review.
            item(4, "", &[("blank", 0.0), ("q", 9.0)]),
            // Rank signal missing: review, never accepted.
            item(5, "", &[("blank", 0.0), ("blur", 90.0)]),
            item(6, "", &[("blank", 0.0), ("blur", 90.0), ("q", 3.0)]),
        ];
        let out = apply(&p, &items).unwrap();
        // (id, band, reason prefix, scored)
        let want = [
            (1, Band::Reject, "score 0.000 < reject", true),
            (2, Band::Reject, "blurry", false),
            (3, Band::Reject, "hard filter", false),
            (4, Band::Review, "missing signal blur", false),
            (5, Band::Review, "missing signal q", false),
            (6, Band::Accept, "score 1.000 ≥ accept", true),
        ];
        for (o, (id, band, reason, scored)) in out.iter().zip(want) {
            assert_eq!((o.id, o.band), (id, band), "{o:?}");
            assert!(o.reason.starts_with(reason), "{o:?}");
            assert_eq!(o.score.is_some(), scored, "{o:?}");
        }
        // Null values count as missing; text numbers count as numbers.
        let mut a = item(7, "", &[("blank", 0.0), ("blur", 60.0)]);
        a.values.insert("q".into(), Value::Null);
        let mut b = item(8, "", &[("blank", 0.0), ("blur", 60.0)]);
        b.values.insert("q".into(), Value::Text("2.5".into()));
        let out = apply(&p, &[a, b]).unwrap();
        assert_eq!(out[0].reason, "missing signal q");
        assert_eq!(out[1].band, Band::Accept);
    }

    #[test]
    fn gate_with_two_thresholds() {
        let p = policy(
            "rule = \"weighted_sum\"\nweights = { q = 1.0 }",
            "accept = 0.0\nreject = 0.0",
            "[[gates]]\nwhen = \"blur >= 100\"\nreview_when = \"blur >= 50\"\nreason = \"blurry\"\n[[gates]]\nwhen = \"blank = 0\"\nreason = \"blank\"",
        );
        p.validate(&|k| ["q", "blur", "blank"].contains(&k))
            .unwrap();
        // (blur, blank, band, reason)
        let cases = [
            (Some(120.0), Some(0.0), Band::Accept, "score"),
            (
                Some(70.0),
                Some(0.0),
                Band::Review,
                "blurry (review band of the gate)",
            ),
            (Some(20.0), Some(0.0), Band::Reject, "blurry"),
            // A later hard failure wins over the soft one.
            (Some(70.0), Some(1.0), Band::Reject, "blank"),
            (None, Some(0.0), Band::Review, "missing signal blur"),
            (Some(70.0), None, Band::Review, "missing signal blank"),
        ];
        for (blur, blank, band, reason) in cases {
            let mut it = item(1, "", &[("q", 1.0)]);
            for (k, v) in [("blur", blur), ("blank", blank)] {
                if let Some(v) = v {
                    it.values.insert(k.into(), Value::Num(v));
                }
            }
            let out = apply(&p, &[it]).unwrap();
            assert_eq!(out[0].band, band, "{blur:?} {blank:?}: {:?}", out[0]);
            assert!(out[0].reason.starts_with(reason), "{:?}", out[0]);
        }
        let bad = policy(
            "rule = \"weighted_sum\"\nweights = { q = 1.0 }",
            "accept = 0.5\nreject = 0.2",
            "[[gates]]\nwhen = \"blur >= 100\"\nreview_when = \"sharp >= 50\"\nreason = \"blurry\"",
        );
        let err = bad.validate(&|k| k == "q" || k == "blur").unwrap_err();
        assert!(
            err.to_string()
                .contains("gates[0].review_when: unknown signal 'sharp'"),
            "{err}"
        );
    }

    #[test]
    fn weighted_sum_scores_and_scopes() {
        let p = policy(
            "rule = \"weighted_sum\"\nweights = { sharp = 1.0, noise = -1.0, flat = 3.0 }",
            "accept = 0.6\nreject = 0.3",
            "scope = \"prompt\"",
        );
        let items = vec![
            item(10, "fox", &[("sharp", 1.0), ("noise", 3.0), ("flat", 2.0)]),
            item(11, "fox", &[("sharp", 2.0), ("noise", 2.0), ("flat", 2.0)]),
            item(12, "fox", &[("sharp", 3.0), ("noise", 1.0), ("flat", 2.0)]),
            // Another scope: alone → score 1.
            item(
                13,
                "owl",
                &[("sharp", 0.0), ("noise", 100.0), ("flat", 2.0)],
            ),
        ];
        let out = apply(&p, &items).unwrap();
        let got: Vec<_> = out
            .iter()
            .map(|o| (o.id, o.band, o.score, o.rank_in_scope))
            .collect();
        assert_eq!(
            got,
            vec![
                (10, Band::Reject, Some(0.0), Some(3)),
                (11, Band::Review, Some(0.5), Some(2)),
                (12, Band::Accept, Some(1.0), Some(1)),
                (13, Band::Accept, Some(1.0), Some(1)),
            ]
        );
        // Collection scope ignores scope keys: 13 is now the worst of four.
        let mut p2 = p.clone();
        p2.scope = Scope::Collection;
        let out = apply(&p2, &items).unwrap();
        assert_eq!(out[3].rank_in_scope, Some(4));
        assert_eq!(out[3].band, Band::Reject);
        // Ties: equal raw values get equal scores; rank breaks ties by id, whatever the input
        // order.
        let tied = vec![
            item(5, "", &[("sharp", 1.0), ("noise", 1.0), ("flat", 1.0)]),
            item(3, "", &[("sharp", 1.0), ("noise", 1.0), ("flat", 1.0)]),
        ];
        let out = apply(&p2, &tied).unwrap();
        assert_eq!(out[0].score, out[1].score);
        assert_eq!(
            (out[0].rank_in_scope, out[1].rank_in_scope),
            (Some(2), Some(1))
        );
    }

    #[test]
    fn top_k_sends_the_rest_of_the_accept_band_to_review() {
        let p = policy(
            "rule = \"weighted_sum\"\nweights = { q = 1.0 }",
            "accept = 0.2\nreject = 0.1\ntop_k = 2",
            "scope = \"seed_batch\"",
        );
        let items: Vec<Item> = (1..=5)
            .map(|i| item(i, "batch", &[("q", i as f64)]))
            .chain((6..=7).map(|i| item(i, "other", &[("q", i as f64)])))
            .collect();
        let out = apply(&p, &items).unwrap();
        assert_eq!(
            bands_of(&out),
            vec![
                (1, Band::Reject),
                (2, Band::Review),
                (3, Band::Review),
                (4, Band::Accept),
                (5, Band::Accept),
                // A scope of two: the worse one scores 0.
                (6, Band::Reject),
                (7, Band::Accept),
            ]
        );
        assert!(
            out[2].reason.contains("beyond top_k 2"),
            "{}",
            out[2].reason
        );
    }

    #[test]
    fn lexicographic_rule_uses_tolerance_then_next_key() {
        let p = policy(
            "rule = \"lexicographic\"\nkeys = [{ key = \"a\", tolerance = 0.2, direction = \"desc\" }, { key = \"noise_sigma\" }]",
            "accept = 0.9\nreject = 0.1",
            "",
        );
        // noise_sigma is lower-is-better in the registry.
        let items = vec![
            item(1, "", &[("a", 1.0), ("noise_sigma", 5.0)]),
            item(2, "", &[("a", 0.9), ("noise_sigma", 1.0)]),
            item(3, "", &[("a", 0.5), ("noise_sigma", 0.0)]),
        ];
        let out = apply(&p, &items).unwrap();
        let got: Vec<_> = out
            .iter()
            .map(|o| (o.id, o.rank_in_scope, o.score, o.band))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, Some(2), Some(0.5), Band::Review),
                (2, Some(1), Some(1.0), Band::Accept),
                (3, Some(3), Some(0.0), Band::Reject),
            ]
        );
    }

    #[test]
    fn constrained_rule_rejects_violations_then_maximises() {
        let p = policy(
            "rule = \"constrained\"\nconstraints = [\"noise < 3\"]\nmaximise = \"t\"",
            "accept = 0.5\nreject = 0.5",
            "",
        );
        let items = vec![
            item(1, "", &[("noise", 5.0), ("t", 100.0)]),
            item(2, "", &[("noise", 1.0), ("t", 10.0)]),
            item(3, "", &[("noise", 2.0), ("t", 20.0)]),
            item(4, "", &[("t", 50.0)]),
            item(5, "", &[("noise", 2.0)]),
        ];
        let out = apply(&p, &items).unwrap();
        let got: Vec<_> = out
            .iter()
            .map(|o| (o.id, o.band, o.reason.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, Band::Reject, "constraint noise < 3"),
                (2, Band::Reject, "score 0.000 < reject 0.5"),
                (3, Band::Accept, "score 1.000 ≥ accept 0.5"),
                (4, Band::Review, "missing signal noise"),
                (5, Band::Review, "missing signal t"),
            ]
        );
    }

    #[test]
    fn pareto_rule_scores_fronts_with_ties() {
        let p = policy(
            "rule = \"pareto\"\nkeys = [{ key = \"blur_laplacian_var\" }, { key = \"noise_sigma\", direction = \"min\" }]",
            "accept = 1.0\nreject = 0.4",
            "",
        );
        let items = vec![
            item(
                1,
                "",
                &[("blur_laplacian_var", 100.0), ("noise_sigma", 2.0)],
            ),
            // Exact tie with 1: same front.
            item(
                2,
                "",
                &[("blur_laplacian_var", 100.0), ("noise_sigma", 2.0)],
            ),
            // Trade-off: also front 0.
            item(3, "", &[("blur_laplacian_var", 50.0), ("noise_sigma", 1.0)]),
            // Dominated by 1 (equal blur, more noise): front 1 → 0.5 → review.
            item(
                4,
                "",
                &[("blur_laplacian_var", 100.0), ("noise_sigma", 3.0)],
            ),
            // Dominated by 4: front 2 → 1/3 → reject.
            item(5, "", &[("blur_laplacian_var", 90.0), ("noise_sigma", 3.0)]),
        ];
        let out = apply(&p, &items).unwrap();
        let got: Vec<_> = out
            .iter()
            .map(|o| (o.id, o.band, o.score, o.rank_in_scope))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, Band::Accept, Some(1.0), Some(1)),
                (2, Band::Accept, Some(1.0), Some(2)),
                (3, Band::Accept, Some(1.0), Some(3)),
                (4, Band::Review, Some(0.5), Some(4)),
                (5, Band::Reject, Some(1.0 / 3.0), Some(5)),
            ]
        );
    }

    #[test]
    fn apply_is_deterministic_under_input_order() {
        let p = policy(
            "rule = \"weighted_sum\"\nweights = { q = 1.0 }",
            "accept = 0.5\nreject = 0.2\ntop_k = 1",
            "scope = \"prompt\"",
        );
        let items: Vec<Item> = (1..=6)
            .map(|i| {
                item(
                    i,
                    if i % 2 == 0 { "a" } else { "b" },
                    &[("q", (i % 3) as f64)],
                )
            })
            .collect();
        let mut fwd = apply(&p, &items).unwrap();
        let mut rev_items = items.clone();
        rev_items.reverse();
        let mut rev = apply(&p, &rev_items).unwrap();
        fwd.sort_by_key(|o| o.id);
        rev.sort_by_key(|o| o.id);
        assert_eq!(fwd, rev);
    }
}
