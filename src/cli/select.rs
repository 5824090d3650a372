//! `assay select DIR --policy FILE.toml`: applies a selection policy and appends one decision
//! per image (source = the policy's name and version). Human decisions always win: images whose
//! latest decision came from a human are left alone. Unreadable files are rejected.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde_json::json;

use super::label::open_catalogue;
use super::{ListFormat, UsageError};
use crate::selection::Value;
use crate::selection::policy::{self, Band, Item, Policy, Scope};
use crate::store::NewDecision;
use crate::table;

#[derive(Debug, clap::Args)]
pub struct SelectArgs {
    pub dir: PathBuf,
    /// Policy file (TOML; see assets/policies/example.toml).
    #[arg(long)]
    pub policy: PathBuf,
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Compute and print the counts without writing decisions.
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
}

/// The scope key of an image: its prompt, or its folder + prompt for seed batches.
fn scope_key(scope: Scope, path: &str, prompt: Option<&str>) -> String {
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

pub fn run(a: &SelectArgs) -> anyhow::Result<u8> {
    let text = std::fs::read_to_string(&a.policy)
        .with_context(|| format!("cannot read {}", a.policy.display()))?;
    let pol = Policy::from_toml(&text)
        .map_err(|e| UsageError(format!("{e} ({})", a.policy.display())))?;
    // Validation visits every key the policy uses: collect them, so each image carries only
    // the columns the policy reads (not its raw metadata).
    let used = std::cell::RefCell::new(std::collections::BTreeSet::new());
    pol.validate(&|k| {
        used.borrow_mut().insert(k.to_string());
        table::is_column(k)
    })
    .map_err(|e| UsageError(format!("{e} ({})", a.policy.display())))?;
    let columns: Vec<String> = used.into_inner().into_iter().collect();
    let hash = format!("{:032x}", xxhash_rust::xxh3::xxh3_128(text.as_bytes()));
    let source = format!("policy:{}@{}", pol.name, hash.get(..12).unwrap_or(&hash));

    let mut store = open_catalogue(&a.dir, a.db.as_deref())?;
    let rows = store.image_rows(false)?;
    let human: std::collections::HashSet<i64> = store
        .latest_decision_sources()?
        .into_iter()
        .filter(|(_, s)| s == "human")
        .map(|(id, _)| id)
        .collect();
    let mut items = Vec::new();
    let mut decisions = Vec::new();
    let mut details: HashMap<i64, BTreeMap<String, serde_json::Value>> = HashMap::new();
    for r in rows.iter().filter(|r| !human.contains(&r.id)) {
        if let Some(err) = &r.error {
            decisions.push(NewDecision {
                image_id: r.id,
                status: "rejected".into(),
                rating: None,
                source: source.clone(),
                reason: Some(format!("unreadable file: {err}")),
                detail: None,
            });
            continue;
        }
        let values: HashMap<String, Value> = columns
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
            scope_key: scope_key(pol.scope, &r.path, r.positive.as_deref()),
            values,
        });
    }
    let outcomes = policy::apply(&pol, &items).map_err(|e| UsageError(e.to_string()))?;
    for o in &outcomes {
        let status = match o.band {
            Band::Accept => "accepted",
            Band::Reject => "rejected",
            Band::Review => "review",
        };
        decisions.push(NewDecision {
            image_id: o.id,
            status: status.into(),
            rating: None,
            source: source.clone(),
            reason: Some(o.reason.clone()),
            detail: Some(
                json!({"score": o.score, "rank_in_scope": o.rank_in_scope, "signals": details.get(&o.id)})
                    .to_string(),
            ),
        });
    }
    let mut by_band: BTreeMap<&str, u64> = BTreeMap::new();
    let mut by_reason: BTreeMap<(String, String), u64> = BTreeMap::new();
    for d in &decisions {
        *by_band.entry(d.status.as_str()).or_default() += 1;
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
        *by_reason.entry((d.status.clone(), reason)).or_default() += 1;
    }
    if !a.dry_run {
        store.record_policy(&pol.name, &hash, &text)?;
        store.append_decisions(&decisions)?;
    }
    match a.format {
        ListFormat::Json => {
            let reasons: Vec<_> = by_reason
                .iter()
                .map(|((s, r), n)| json!({"status": s, "reason": r, "count": n}))
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({
                    "policy": pol.name, "source": source, "written": !a.dry_run,
                    "kept_human_decisions": human.len(), "counts": by_band, "reasons": reasons,
                }))?
            );
        }
        ListFormat::Text => {
            println!(
                "{} {} ({source}): {} accepted, {} review, {} rejected; {} human decisions kept",
                if a.dry_run { "would apply" } else { "applied" },
                pol.name,
                by_band.get("accepted").unwrap_or(&0),
                by_band.get("review").unwrap_or(&0),
                by_band.get("rejected").unwrap_or(&0),
                human.len()
            );
            for ((s, r), n) in &by_reason {
                println!("  {s:<9} {n:>5}  {r}");
            }
        }
    }
    Ok(0)
}
