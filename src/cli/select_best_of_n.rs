//! `assay select DIR --policy FILE --best-of-n`: per scope group and pooled, the expected quality
//! of the policy's pick among N images drawn without replacement from the group (next to the
//! oracle that picks by quality itself), and selector efficiency — how often the policy's top-1
//! is the humans' best image of a group (`selection::labels::human_best`), with a Wilson 95 %
//! interval and the chance rate of a random pick. Writes nothing.

use serde_json::json;

use super::select::SelectArgs;
use super::{ListFormat, UsageError};
use crate::human::Event;
use crate::selection::evaluate::{self, BestOfN, Efficiency, group_label};
use crate::selection::plan::Prepared;
use crate::store::ImageRow;

pub fn run(
    a: &SelectArgs,
    p: &Prepared,
    rows: &[ImageRow],
    events: &[Event],
) -> anyhow::Result<u8> {
    if a.n_max == 0 {
        return Err(UsageError("--n-max must be at least 1".into()).into());
    }
    let quality = match a.quality.as_deref() {
        Some(k) => {
            if !evaluate::is_quality_key(k) {
                return Err(UsageError(format!(
                    "--quality '{k}' is not a numeric signal with a better direction (see \
                     `assay signals`)"
                ))
                .into());
            }
            Some(k)
        }
        None => evaluate::default_quality(rows),
    };
    let plan = evaluate::score_all(p, rows).map_err(|e| UsageError(e.to_string()))?;
    let bon = evaluate::best_of_n(p, &plan, rows, quality, a.n_max);
    let eff = evaluate::selector_efficiency(p, &plan, rows, events, &a.criterion);
    let paths: std::collections::HashMap<i64, &str> =
        rows.iter().map(|r| (r.id, r.path.as_str())).collect();
    let path = |id: i64| {
        paths
            .get(&id)
            .map_or_else(String::new, |p| (*p).to_string())
    };
    match a.format {
        ListFormat::Json => {
            let groups: Vec<_> = bon
                .groups
                .iter()
                .map(|g| {
                    json!({"group": group_label(&g.key), "images": g.n_images, "candidates": g.n_candidates,
                        "policy_pick": g.policy, "oracle": g.oracle})
                })
                .collect();
            let pooled: Vec<_> = bon
                .pooled
                .iter()
                .enumerate()
                .map(|(i, (s, o, n))| json!({"n": i + 1, "policy_pick": s, "oracle": o, "groups": n}))
                .collect();
            let picks: Vec<_> = eff
                .groups
                .iter()
                .map(|g| {
                    json!({"group": group_label(&g.key), "size": g.size, "policy_pick": g.policy_pick.map(path),
                        "human_best": path(g.human_best), "evidence": g.evidence.name(), "hit": g.hit})
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({
                    "policy": p.policy.name, "source": p.source, "quality": bon.quality,
                    "sampling": "without replacement from each group's candidates",
                    "groups": groups, "pooled": pooled,
                    "selector_efficiency": {
                        "criterion": a.criterion, "groups": eff.groups.len(), "hits": eff.hits,
                        "rate": eff.rate, "interval": eff.interval.map(|i| [i.lo, i.hi]),
                        "chance": eff.chance, "groups_without_evidence": eff.groups_without_evidence,
                        "per_group": picks,
                    },
                }))?
            );
        }
        ListFormat::Text => print_text(p, &bon, &eff, a),
    }
    Ok(0)
}

/// The Ns shown in text: 1, 2, 4, 8, … up to the longest curve, and its end.
fn shown_ns(len: usize) -> Vec<usize> {
    let mut ns: Vec<usize> = std::iter::successors(Some(1usize), |n| n.checked_mul(2))
        .take_while(|n| *n <= len)
        .collect();
    if len > 0 && ns.last() != Some(&len) {
        ns.push(len);
    }
    ns
}

fn print_text(p: &Prepared, bon: &BestOfN, eff: &Efficiency, a: &SelectArgs) {
    println!(
        "{}: expected {} of the policy's pick among N images drawn without replacement (oracle in brackets)",
        p.policy.name, bon.quality
    );
    if bon.quality == "policy score" {
        println!(
            "  (no quality signal given or found: the policy score is a percentile within each group, so this mostly reflects group size; try --quality KEY)"
        );
    }
    let row = |name: &str, policy: &[f64], oracle: &[f64]| {
        let cells: Vec<String> = shown_ns(policy.len())
            .into_iter()
            .map(|n| format!("N={n}: {:.3} [{:.3}]", policy[n - 1], oracle[n - 1]))
            .collect();
        println!("  {name}\n      {}", cells.join("  "));
    };
    for g in &bon.groups {
        let name = format!(
            "{} ({} of {} images scored)",
            group_label(&g.key),
            g.n_candidates,
            g.n_images
        );
        if g.policy.is_empty() {
            println!("  {name}\n      no scored candidates");
        } else {
            row(&name, &g.policy, &g.oracle);
        }
    }
    let pooled_policy: Vec<f64> = bon.pooled.iter().map(|x| x.0).collect();
    let pooled_oracle: Vec<f64> = bon.pooled.iter().map(|x| x.1).collect();
    if !pooled_policy.is_empty() {
        row(
            "pooled (mean over groups with >= N)",
            &pooled_policy,
            &pooled_oracle,
        );
    }
    match (eff.rate, eff.interval, eff.chance) {
        (Some(r), Some(i), Some(c)) => println!(
            "selector efficiency ({}): top-1 = humans' best in {}/{} groups = {r:.3} [{:.3}, {:.3}]; chance {c:.3}; {} groups without evidence",
            a.criterion,
            eff.hits,
            eff.groups.len(),
            i.lo,
            i.hi,
            eff.groups_without_evidence
        ),
        _ => println!(
            "selector efficiency: no group has human evidence of its best image (one accepted and the rest rejected, every image compared, or every image rated); {} groups checked",
            eff.groups_without_evidence
        ),
    }
}
