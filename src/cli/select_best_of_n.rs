//! `assay select DIR --policy FILE --best-of-n`: per scope group and pooled, the expected quality
//! of the policy's pick among N images drawn without replacement from the group (next to the
//! oracle that picks by quality itself), and selector efficiency — how often the policy's top-1
//! is the humans' best image of a group (`selection::labels::human_best`), with a Wilson 95 %
//! interval and the chance rate of a random pick. Writes nothing.

use super::ListFormat;
use super::calibrate::cli_error;
use super::select::SelectArgs;
use crate::pipeline::policy::{self, PolicyFile};
use crate::selection::report::{BestOfNOptions, BestOfNReport};
use crate::store::Store;

pub fn run(a: &SelectArgs, file: &PolicyFile, store: &Store) -> anyhow::Result<u8> {
    let events = super::rank::load_events(store, false)?;
    let o = BestOfNOptions {
        n_max: a.n_max,
        quality: a.quality.clone(),
        criterion: a.criterion.clone(),
    };
    let r = policy::best_of_n(store, file, &events, &o).map_err(cli_error)?;
    match a.format {
        ListFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::to_value(&r)?)?
        ),
        ListFormat::Text => print_text(&r),
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

fn print_text(r: &BestOfNReport) {
    println!(
        "{}: expected {} of the policy's pick among N images drawn without replacement (oracle in brackets)",
        r.policy, r.quality
    );
    if r.quality == "policy score" {
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
    for g in &r.groups {
        let name = format!(
            "{} ({} of {} images scored)",
            g.group, g.candidates, g.images
        );
        if g.policy_pick.is_empty() {
            println!("  {name}\n      no scored candidates");
        } else {
            row(&name, &g.policy_pick, &g.oracle);
        }
    }
    let pooled_policy: Vec<f64> = r.pooled.iter().map(|x| x.policy_pick).collect();
    let pooled_oracle: Vec<f64> = r.pooled.iter().map(|x| x.oracle).collect();
    if !pooled_policy.is_empty() {
        row(
            "pooled (mean over groups with >= N)",
            &pooled_policy,
            &pooled_oracle,
        );
    }
    let eff = &r.selector_efficiency;
    match (eff.rate, eff.interval, eff.chance) {
        (Some(rate), Some([lo, hi]), Some(c)) => println!(
            "selector efficiency ({}): top-1 = humans' best in {}/{} groups = {rate:.3} [{lo:.3}, {hi:.3}]; chance {c:.3}; {} groups without evidence",
            eff.criterion, eff.hits, eff.groups, eff.groups_without_evidence
        ),
        _ => println!(
            "selector efficiency: no group has human evidence of its best image (one accepted and the rest rejected, every image compared, or every image rated); {} groups checked",
            eff.groups_without_evidence
        ),
    }
}
