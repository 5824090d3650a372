//! Planning a policy run over catalogued rows: which decision each image gets, with counts per
//! band and per reason. Pure: `assay select` writes the plan; the GUI's policy editor shows it
//! live and writes it when applied.

use crate::domain::Status;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;

use serde_json::json;

use super::Value;
use super::policy::{self, Band, Item, Outcome, Policy, PolicyError, Scope};
use crate::store::{ImageRow, NewDecision};
use crate::table;

/// A parsed and validated policy with its identity.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub policy: Policy,
    pub text: String,
    /// xxh3-128 of the text (hex): the policy version.
    pub hash: String,
    /// `policy:<name>@<hash prefix>`: the decisions' source.
    pub source: String,
    /// Columns the policy reads.
    pub columns: Vec<String>,
}

/// Parses and validates a policy (every key must be a column).
pub fn prepare(text: &str) -> Result<Prepared, PolicyError> {
    let policy = Policy::from_toml(text)?;
    // Validation visits every key the policy uses: collect them, so each image carries only
    // the columns the policy reads (not its raw metadata).
    let used = std::cell::RefCell::new(BTreeSet::new());
    policy.validate(&|k| {
        used.borrow_mut().insert(k.to_string());
        table::is_column(k)
    })?;
    let hash = format!("{:032x}", xxhash_rust::xxh3::xxh3_128(text.as_bytes()));
    let source = format!("policy:{}@{}", policy.name, hash.get(..12).unwrap_or(&hash));
    Ok(Prepared {
        policy,
        text: text.to_string(),
        hash,
        source,
        columns: used.into_inner().into_iter().collect(),
    })
}

/// The scope key of an image: its prompt, or its folder + prompt for seed batches.
pub fn scope_key(scope: Scope, path: &str, prompt: Option<&str>) -> String {
    let prompt = prompt.unwrap_or("(no prompt)");
    match scope {
        Scope::Collection => String::new(),
        Scope::Prompt => prompt.to_string(),
        Scope::SeedBatch => {
            let folder = Path::new(path)
                .parent()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            format!("{folder}\u{1f}{prompt}")
        }
    }
}

/// What applying a policy would do.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// One decision per image whose latest decision is not human.
    pub decisions: Vec<NewDecision>,
    /// Scored outcomes (readable images that reached the policy).
    pub outcomes: Vec<Outcome>,
    /// Count per status (accepted, review, rejected).
    pub counts: BTreeMap<Status, u64>,
    /// Count per (status, reason kind).
    pub reasons: BTreeMap<(Status, String), u64>,
    /// Images left alone because a human decided them.
    pub kept_human: usize,
}

fn status(b: Band) -> Status {
    match b {
        Band::Accept => Status::Accepted,
        Band::Reject => Status::Rejected,
        Band::Review => Status::Review,
    }
}

/// Plans `p` over `rows`; images in `human` (latest decision by a human) are left alone.
/// Unreadable files are rejected.
pub fn plan(p: &Prepared, rows: &[ImageRow], human: &HashSet<i64>) -> Result<Plan, PolicyError> {
    let mut items = Vec::new();
    let mut decisions = Vec::new();
    let mut details: HashMap<i64, BTreeMap<String, serde_json::Value>> = HashMap::new();
    let mut kept_human = 0;
    for r in rows {
        if human.contains(&r.id) {
            kept_human += 1;
            continue;
        }
        if let Some(err) = &r.error {
            decisions.push(NewDecision {
                image_id: r.id,
                status: Status::Rejected,
                rating: None,
                source: p.source.clone(),
                reason: Some(format!("unreadable file: {err}")),
                detail: None,
            });
            continue;
        }
        let values: HashMap<String, Value> = p
            .columns
            .iter()
            .map(|c| (c.clone(), table::value(r, c)))
            .collect();
        details.insert(
            r.id,
            crate::signals::registry()
                .iter()
                .map(|d| {
                    (
                        d.key.to_string(),
                        table::to_json(d.key, &table::value(r, d.key)),
                    )
                })
                .collect(),
        );
        items.push(Item {
            id: r.id,
            scope_key: scope_key(p.policy.scope, &r.path, r.positive.as_deref()),
            values,
        });
    }
    let outcomes = policy::apply(&p.policy, &items)?;
    for o in &outcomes {
        decisions.push(NewDecision {
            image_id: o.id,
            status: status(o.band),
            rating: None,
            source: p.source.clone(),
            reason: Some(o.reason.clone()),
            detail: Some(
                json!({"score": o.score, "rank_in_scope": o.rank_in_scope, "signals": details.get(&o.id)})
                    .to_string(),
            ),
        });
    }
    let mut counts: BTreeMap<Status, u64> = BTreeMap::new();
    let mut reasons: BTreeMap<(Status, String), u64> = BTreeMap::new();
    for d in &decisions {
        *counts.entry(d.status).or_default() += 1;
        let reason = d.reason.clone().unwrap_or_default();
        // Group by kind: drop the per-image number from "score 0.667 ≥ accept 0.5".
        let reason = if reason.starts_with("unreadable file") {
            "unreadable file".to_string()
        } else if let Some(rest) = reason.strip_prefix("score ") {
            format!(
                "score {}",
                rest.split_once(' ').map_or("", |(_, tail)| tail)
            )
        } else {
            reason
        };
        *reasons.entry((d.status, reason)).or_default() += 1;
    }
    Ok(Plan {
        decisions,
        outcomes,
        counts,
        reasons,
        kept_human,
    })
}

/// Replaces the `accept` / `reject` values of the `[bands]` table in a policy's text, keeping
/// everything else (comments included) as it is.
pub fn set_bands(text: &str, accept: f64, reject: f64) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_bands = false;
    for line in text.split_inclusive('\n') {
        let t = line.trim_start();
        if t.starts_with('[') {
            in_bands = t.starts_with("[bands]");
        }
        let key = t.split('=').next().map(str::trim);
        if in_bands && matches!(key, Some("accept" | "reject")) && t.contains('=') {
            let indent = &line[..line.len() - t.len()];
            let comment = t
                .find('#')
                .map(|i| format!("  {}", t[i..].trim_end()))
                .unwrap_or_default();
            let v = if key == Some("accept") {
                accept
            } else {
                reject
            };
            let nl = if line.ends_with('\n') { "\n" } else { "" };
            out.push_str(&format!(
                "{indent}{} = {}{comment}{nl}",
                key.unwrap_or_default(),
                fmt_num(v)
            ));
        } else {
            out.push_str(line);
        }
    }
    out
}

/// Up to nine decimals, trailing zeros dropped: calibrated thresholds sit between two observed
/// scores and must keep that place when written.
fn fmt_num(v: f64) -> String {
    let s = format!("{v:.9}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-" {
        "0".into()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_bands_keeps_comments_and_other_tables() {
        let text = "name = \"p\"\n[rank]\nrule = \"pareto\"\naccept = 9\n[bands]\n# c\naccept = 0.5               # a\nreject = 0.2\ntop_k = 2\n";
        let out = set_bands(text, 0.75, 0.1);
        assert_eq!(
            out,
            "name = \"p\"\n[rank]\nrule = \"pareto\"\naccept = 9\n[bands]\n# c\naccept = 0.75  # a\nreject = 0.1\ntop_k = 2\n"
        );
        // Calibrated thresholds keep their digits.
        assert!(set_bands(text, 0.123_45, 0.0).contains("accept = 0.12345  # a\nreject = 0\n"));
    }

    #[test]
    fn example_policy_plans_every_readable_image_once() {
        let text = include_str!("../../assets/policies/example.toml");
        let p = prepare(text).unwrap();
        assert!(p.source.starts_with("policy:portrait-v1@"));
        let mut rows = Vec::new();
        for i in 0..6 {
            let mut r = ImageRow {
                id: i,
                path: format!("g/{i}.png"),
                positive: Some("same prompt".into()),
                ..Default::default()
            };
            for (k, v) in [
                ("blank", 0.0),
                ("size_ok", 1.0),
                ("aspect_ok", 1.0),
                ("blur_laplacian_var", 40.0 + 30.0 * i as f64),
                ("clip_highlights", 0.0),
                ("clip_shadows", 0.0),
                ("noise_sigma", 1.0),
            ] {
                r.signals
                    .insert(k.into(), crate::store::SignalValue::Number(v));
            }
            rows.push(r);
        }
        rows[5].error = Some("truncated".into());
        let human: HashSet<i64> = [4].into();
        let plan = plan(&p, &rows, &human).unwrap();
        assert_eq!(plan.kept_human, 1);
        assert_eq!(plan.decisions.len(), 5);
        assert_eq!(plan.counts.values().sum::<u64>(), 5);
        // Image 0 (blur 40 < 50) fails the blur gate; the unreadable one is rejected.
        assert!(
            plan.reasons
                .contains_key(&(Status::Rejected, "blurry".into()))
        );
        assert!(
            plan.reasons
                .contains_key(&(Status::Rejected, "unreadable file".into()))
        );
        // top_k = 2 caps the accepted images of the one prompt group.
        assert!(plan.counts.get(&Status::Accepted).copied().unwrap_or(0) <= 2);
    }
}
