//! `assay rank DIR` (Bradley–Terry with bootstrap intervals, Elo for comparison) and
//! `assay agreement DIR` (Krippendorff's α and Fleiss' κ per protocol and criterion).
//! Events flagged as attention checks are gold items, not opinions: they are left out.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::json;

use super::label::open_catalogue_read_only as open_catalogue;
use super::{ListFormat, UsageError};
use crate::human::report::reading;
use crate::human::{self, Event, Payload, attention};
use crate::ranking::agreement::{self, FleissMethod, Level};
use crate::ranking::bt::{self, BtOptions};
use crate::ranking::elo::{self, EloOptions};
use crate::store::Store;

#[derive(Debug, clap::Args)]
pub struct RankArgs {
    pub dir: PathBuf,
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Bootstrap rounds for the 95 % intervals.
    #[arg(long, default_value_t = 200)]
    pub bootstrap: usize,
    #[arg(long, default_value = "overall")]
    pub criterion: String,
    /// Prior strength (choix `alpha`); 0 is the plain MLE, which needs every item to have both
    /// won and lost along a connected chain.
    #[arg(long, default_value_t = 0.01)]
    pub alpha: f64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Keep raters whose attention-check pass rate is below 80 %.
    #[arg(long)]
    pub include_unreliable: bool,
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
}

#[derive(Debug, clap::Args)]
pub struct AgreementArgs {
    pub dir: PathBuf,
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Keep raters whose attention-check pass rate is below 80 %.
    #[arg(long)]
    pub include_unreliable: bool,
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
}

/// The events statistics use: attention checks dropped, and (unless `include_unreliable`)
/// every event of a rater whose attention pass rate is below the default threshold.
pub(super) fn load_events(store: &Store, include_unreliable: bool) -> anyhow::Result<Vec<Event>> {
    let mut all = Vec::new();
    for e in store.label_events()? {
        let payload: Payload = serde_json::from_str(&e.payload)?;
        all.push(Event {
            rater: e.rater,
            protocol: e.protocol,
            payload,
        });
    }
    if include_unreliable {
        all.retain(|e| !e.payload.attention_check);
        return Ok(all);
    }
    let (kept, excluded) = attention::reliable_events(&all, attention::DEFAULT_THRESHOLD);
    if !excluded.is_empty() {
        eprintln!(
            "left out (attention pass rate below {:.0} %; --include-unreliable keeps them): {}",
            attention::DEFAULT_THRESHOLD * 100.0,
            excluded.join(", ")
        );
    }
    Ok(kept)
}

pub fn rank(a: &RankArgs) -> anyhow::Result<u8> {
    let store = open_catalogue(&a.dir, a.db.as_deref())?;
    let events = load_events(&store, a.include_unreliable)?;
    let (names, comps) = human::comparisons(&events, &a.criterion);
    if comps.is_empty() {
        return Err(UsageError(format!(
            "no pairwise or best-of-N labels for criterion '{}' yet; import some with `assay label import`",
            a.criterion
        ))
        .into());
    }
    let opts = BtOptions {
        alpha: a.alpha,
        ..BtOptions::default()
    };
    let fit = bt::fit(names.len(), &comps, &opts)?;
    let ci = bt::bootstrap(names.len(), &comps, &opts, a.bootstrap, a.seed)?;
    let elo = elo::online_elo(names.len(), &comps, &EloOptions::default())?;
    let mut counts = vec![0usize; names.len()];
    for c in &comps {
        counts[c.a] += 1;
        counts[c.b] += 1;
    }
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by(|&i, &j| fit.theta[j].total_cmp(&fit.theta[i]));
    let rows: Vec<_> = order
        .iter()
        .enumerate()
        .map(|(rank, &i)| {
            json!({
                "rank": rank + 1, "item": names[i], "theta": fit.theta[i],
                "ci_low": ci.lower[i], "ci_high": ci.upper[i], "rating": bt::to_elo_scale(fit.theta[i]),
                "elo": elo[i], "comparisons": counts[i],
            })
        })
        .collect();
    match a.format {
        ListFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "criterion": a.criterion, "comparisons": comps.len(), "items": names.len(),
                "bootstrap_rounds": a.bootstrap, "failed_rounds": ci.failed_rounds,
                "alpha": a.alpha, "converged": fit.converged, "ranking": rows,
            }))?
        ),
        ListFormat::Text => {
            println!(
                "Bradley–Terry, criterion '{}': {} comparisons over {} items, {} bootstrap rounds (95 % intervals)",
                a.criterion,
                comps.len(),
                names.len(),
                a.bootstrap
            );
            println!(
                "{:>4}  {:>8}  {:>19}  {:>7}  {:>5}  item",
                "rank", "θ", "95 % interval", "Elo", "n"
            );
            for (rank, &i) in order.iter().enumerate() {
                println!(
                    "{:>4}  {:>8.3}  [{:>7.3}, {:>7.3}]  {:>7.1}  {:>5}  {}",
                    rank + 1,
                    fit.theta[i],
                    ci.lower[i],
                    ci.upper[i],
                    elo[i],
                    counts[i],
                    super::term::escape(&names[i])
                );
            }
        }
    }
    Ok(0)
}

pub fn agreement(a: &AgreementArgs) -> anyhow::Result<u8> {
    let store = open_catalogue(&a.dir, a.db.as_deref())?;
    let events = load_events(&store, a.include_unreliable)?;
    let keys: BTreeSet<(String, String)> = events
        .iter()
        .filter(|e| matches!(e.protocol.as_str(), "pairwise" | "likert"))
        .map(|e| (e.protocol.clone(), e.payload.criterion.clone()))
        .collect();
    let mut results = Vec::new();
    for (protocol, criterion) in keys {
        let (units, raters, data) = human::rating_matrix(&events, &protocol, &criterion);
        let levels: &[(Level, &str)] = if protocol == "likert" {
            &[(Level::Ordinal, "ordinal"), (Level::Interval, "interval")]
        } else {
            &[(Level::Nominal, "nominal")]
        };
        let mut alphas = Vec::new();
        for (level, name) in levels {
            alphas.push(match agreement::krippendorff_alpha(&data, *level) {
                Ok(v) => json!({"level": name, "alpha": v, "reading": reading(v)}),
                Err(e) => json!({"level": name, "alpha": null, "why": e.to_string()}),
            });
        }
        // Fleiss' κ on the units every rater judged (it needs the same number per unit).
        let complete: Vec<Vec<i64>> = (0..units.len())
            .filter_map(|u| {
                data.iter()
                    .map(|r| r.get(u).copied().flatten().map(|v| v as i64))
                    .collect::<Option<Vec<_>>>()
            })
            .collect();
        let fleiss = if complete.is_empty() || raters.len() < 2 {
            json!({"kappa": null, "why": "Fleiss' κ needs units judged by every rater, and at least two raters"})
        } else {
            let (_, counts) = agreement::aggregate_raters(&complete);
            match agreement::fleiss_kappa(&counts, FleissMethod::Fleiss) {
                Ok(k) => json!({"kappa": k, "units": complete.len()}),
                Err(e) => json!({"kappa": null, "why": e.to_string()}),
            }
        };
        results.push(json!({
            "protocol": protocol, "criterion": criterion, "raters": raters, "units": units.len(),
            "krippendorff": alphas, "fleiss": fleiss,
        }));
    }
    match a.format {
        ListFormat::Json => println!("{}", serde_json::to_string_pretty(&results)?),
        ListFormat::Text => {
            if results.is_empty() {
                println!("no pairwise or Likert labels yet");
            }
            for r in &results {
                println!(
                    "{} / {}: {} raters, {} units",
                    r["protocol"].as_str().unwrap_or(""),
                    r["criterion"].as_str().unwrap_or(""),
                    r["raters"].as_array().map_or(0, Vec::len),
                    r["units"]
                );
                for al in r["krippendorff"].as_array().into_iter().flatten() {
                    match al["alpha"].as_f64() {
                        Some(v) => println!(
                            "  Krippendorff α ({}) = {v:.3}: {}",
                            al["level"].as_str().unwrap_or(""),
                            reading(v)
                        ),
                        None => println!(
                            "  Krippendorff α ({}): {}",
                            al["level"].as_str().unwrap_or(""),
                            al["why"].as_str().unwrap_or("")
                        ),
                    }
                }
                match r["fleiss"]["kappa"].as_f64() {
                    Some(k) => println!("  Fleiss κ = {k:.3} over {} units", r["fleiss"]["units"]),
                    None => println!("  Fleiss κ: {}", r["fleiss"]["why"].as_str().unwrap_or("")),
                }
            }
        }
    }
    Ok(0)
}
