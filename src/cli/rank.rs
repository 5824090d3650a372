//! `assay rank DIR` (Bradley–Terry with bootstrap intervals, Elo for comparison) and
//! `assay agreement DIR` (Krippendorff's α and Fleiss' κ per protocol and criterion): the
//! statistics of `human::report`, printed. Events flagged as attention checks are gold items,
//! not opinions: they are left out.

use std::path::PathBuf;

use anyhow::Context as _;
use serde_json::{Value, json};

use super::label::open_catalogue_read_only as open_catalogue;
use super::{ListFormat, UsageError};
use crate::human::report::{self, AgreementRow, RankError, reading};
use crate::human::{Event, Payload, attention};
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
        let protocol = e
            .protocol
            .parse()
            .with_context(|| format!("label event {} has an unreadable protocol", e.id))?;
        all.push(Event {
            rater: e.rater,
            protocol,
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
    let r = match report::rank_criterion(&events, &a.criterion, a.alpha, a.bootstrap, a.seed) {
        Ok(r) => r,
        Err(e @ RankError::NoComparisons(_)) => return Err(UsageError(e.to_string()).into()),
        Err(RankError::Stats(e)) => return Err(e.into()),
    };
    match a.format {
        ListFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::to_value(&r)?)?
        ),
        ListFormat::Text => {
            println!(
                "Bradley–Terry, criterion '{}': {} comparisons over {} items, {} bootstrap rounds (95 % intervals)",
                r.criterion, r.comparisons, r.items, r.bootstrap_rounds
            );
            println!(
                "{:>4}  {:>8}  {:>19}  {:>7}  {:>5}  item",
                "rank", "θ", "95 % interval", "Elo", "n"
            );
            for x in &r.ranking {
                println!(
                    "{:>4}  {:>8.3}  [{:>7.3}, {:>7.3}]  {:>7.1}  {:>5}  {}",
                    x.rank,
                    x.theta,
                    x.ci_low,
                    x.ci_high,
                    x.elo,
                    x.comparisons,
                    super::term::escape(&x.item)
                );
            }
        }
    }
    Ok(0)
}

/// An agreement row as `assay agreement --format json` prints it.
fn agreement_json(r: &AgreementRow) -> Value {
    let alphas: Vec<Value> = r
        .alphas
        .iter()
        .map(|(level, a)| match a {
            Ok(v) => json!({"level": level, "alpha": v, "reading": reading(*v)}),
            Err(why) => json!({"level": level, "alpha": null, "why": why}),
        })
        .collect();
    let fleiss = match &r.fleiss {
        Ok((k, units)) => json!({"kappa": k, "units": units}),
        Err(why) => json!({"kappa": null, "why": why}),
    };
    json!({
        "protocol": r.protocol, "criterion": r.criterion, "raters": r.rater_names,
        "units": r.units, "krippendorff": alphas, "fleiss": fleiss,
    })
}

pub fn agreement(a: &AgreementArgs) -> anyhow::Result<u8> {
    let store = open_catalogue(&a.dir, a.db.as_deref())?;
    let events = load_events(&store, a.include_unreliable)?;
    let rows = report::agreement(&events);
    match a.format {
        ListFormat::Json => {
            let results: Vec<Value> = rows.iter().map(agreement_json).collect();
            println!("{}", serde_json::to_string_pretty(&results)?);
        }
        ListFormat::Text => {
            if rows.is_empty() {
                println!("no pairwise, Likert or multi-dimensional labels yet");
            }
            for r in &rows {
                println!(
                    "{} / {}: {} raters, {} units",
                    r.protocol, r.criterion, r.raters, r.units
                );
                for (level, al) in &r.alphas {
                    match al {
                        Ok(v) => println!("  Krippendorff α ({level}) = {v:.3}: {}", reading(*v)),
                        Err(why) => println!("  Krippendorff α ({level}): {why}"),
                    }
                }
                match &r.fleiss {
                    Ok((k, units)) => println!("  Fleiss κ = {k:.3} over {units} units"),
                    Err(why) => println!("  Fleiss κ: {why}"),
                }
            }
        }
    }
    Ok(0)
}
