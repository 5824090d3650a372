//! The statistics of a labeling study, in one pure function ([`build`]) that the GUI runs on
//! a background thread: Bradley–Terry rankings with bootstrap intervals per criterion,
//! agreement per protocol and criterion (Krippendorff's α with its reading guide, Fleiss' κ),
//! and a per-rater summary (judgements, median response time, attention pass rate, agreement
//! with the majority of the other raters). `assay rank` and `assay agreement` print the same
//! statistics ([`rank_criterion`], [`agreement()`]), so the CLI and the GUI never disagree.
//!
//! Attention checks never enter statistics; raters below the attention threshold are left out
//! unless `include_unreliable` is set (their events stay in the store).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::attention::{self, RaterChecks};
use super::{Criterion, Event, Protocol, comparisons, rating_matrix};
use crate::ranking::agreement::{self, FleissMethod, Level};
use crate::ranking::bt::{self, BtFit, BtIntervals, BtOptions, Comparison};
use crate::ranking::elo::{self, EloOptions};
use crate::ranking::error::StatsError;

/// Options of [`build`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReportOptions {
    /// Attention pass rate below which a rater is left out.
    pub threshold: f64,
    /// Keep the raters below the threshold.
    pub include_unreliable: bool,
    pub bootstrap_rounds: usize,
    pub seed: u64,
    /// Bradley–Terry prior (as `assay rank --alpha`).
    pub alpha: f64,
}

impl Default for ReportOptions {
    fn default() -> Self {
        Self {
            threshold: attention::DEFAULT_THRESHOLD,
            include_unreliable: false,
            bootstrap_rounds: 200,
            seed: 1,
            alpha: 0.01,
        }
    }
}

/// One ranked item.
#[derive(Debug, Clone, PartialEq)]
pub struct RankRow {
    pub item: String,
    pub theta: f64,
    /// 95 % bootstrap interval.
    pub low: f64,
    pub high: f64,
    pub comparisons: usize,
}

/// The Bradley–Terry ranking of one criterion (best first), or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranking {
    pub criterion: String,
    pub comparisons: usize,
    pub rows: Result<Vec<RankRow>, String>,
}

/// Agreement of one protocol and criterion.
#[derive(Debug, Clone, PartialEq)]
pub struct AgreementRow {
    pub protocol: Protocol,
    /// The criterion; for multi-dimensional events, the rating's dimension.
    pub criterion: Criterion,
    pub raters: usize,
    /// The raters, in the order of the rating matrix.
    pub rater_names: Vec<String>,
    pub units: usize,
    /// (level, α or why not).
    pub alphas: Vec<(&'static str, Result<f64, String>)>,
    /// (κ, units judged by every rater) or why not.
    pub fleiss: Result<(f64, usize), String>,
}

/// One rater's summary.
#[derive(Debug, Clone, PartialEq)]
pub struct RaterRow {
    pub rater: String,
    /// Judgements that are not attention checks.
    pub judgements: usize,
    pub sessions: usize,
    pub median_response_ms: Option<u64>,
    pub checks: RaterChecks,
    /// (units agreeing with the majority of the other raters, units compared).
    pub majority: Option<(usize, usize)>,
    /// Below the attention threshold.
    pub unreliable: bool,
}

/// Everything the statistics views show.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Report {
    pub rankings: Vec<Ranking>,
    pub agreement: Vec<AgreementRow>,
    pub raters: Vec<RaterRow>,
    /// Raters whose events were left out.
    pub excluded: Vec<String>,
    pub events_used: usize,
}

/// Reading guide for Krippendorff's α (Krippendorff 2004).
pub fn reading(alpha: f64) -> &'static str {
    if alpha >= 0.8 {
        "reliable (α ≥ 0.8)"
    } else if alpha >= 0.667 {
        "tentative (0.667 ≤ α < 0.8)"
    } else {
        "unreliable (α < 0.667)"
    }
}

/// Multi-dimensional rating dimensions, in screen order.
pub const DIMENSIONS: &[&str] = &["fidelity", "alignment", "aesthetics"];

/// One item of a [`CriterionRanking`] (`assay rank --format json` prints these fields).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankedItem {
    /// 1 = best.
    pub rank: usize,
    pub item: String,
    pub theta: f64,
    /// 95 % bootstrap interval.
    pub ci_low: f64,
    pub ci_high: f64,
    /// θ on the Elo scale ([`bt::to_elo_scale`]).
    pub rating: f64,
    /// FastChat-style online Elo, for comparison.
    pub elo: f64,
    pub comparisons: usize,
}

/// The Bradley–Terry ranking of one criterion with intervals and Elo: `assay rank`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CriterionRanking {
    pub criterion: String,
    pub comparisons: usize,
    pub items: usize,
    pub bootstrap_rounds: usize,
    pub failed_rounds: usize,
    pub alpha: f64,
    pub converged: bool,
    /// Best first.
    pub ranking: Vec<RankedItem>,
}

/// Why [`rank_criterion`] has no ranking.
#[derive(Debug, Clone, PartialEq)]
pub enum RankError {
    /// No pairwise or best-of-N labels for the criterion.
    NoComparisons(String),
    Stats(StatsError),
}

impl std::fmt::Display for RankError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoComparisons(c) => write!(
                f,
                "no pairwise or best-of-N labels for criterion '{c}' yet; import some with `assay label import`"
            ),
            Self::Stats(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for RankError {}

impl From<StatsError> for RankError {
    fn from(e: StatsError) -> Self {
        Self::Stats(e)
    }
}

/// The Bradley–Terry fit, its bootstrap intervals and each item's number of comparisons.
fn fit_with_intervals(
    n: usize,
    comps: &[Comparison],
    opts: &BtOptions,
    rounds: usize,
    seed: u64,
) -> Result<(BtFit, BtIntervals, Vec<usize>), StatsError> {
    let fit = bt::fit(n, comps, opts)?;
    let ci = bt::bootstrap(n, comps, opts, rounds, seed)?;
    let mut counts = vec![0usize; n];
    for c in comps {
        counts[c.a] += 1;
        counts[c.b] += 1;
    }
    Ok((fit, ci, counts))
}

/// Ranks the items of `criterion` from the (already filtered) events: Bradley–Terry with prior
/// `alpha`, `rounds` bootstrap rounds from `seed`, and online Elo; best first.
pub fn rank_criterion(
    events: &[Event],
    criterion: &str,
    alpha: f64,
    rounds: usize,
    seed: u64,
) -> Result<CriterionRanking, RankError> {
    let (names, comps) = comparisons(events, criterion);
    if comps.is_empty() {
        return Err(RankError::NoComparisons(criterion.to_string()));
    }
    let opts = BtOptions {
        alpha,
        ..BtOptions::default()
    };
    let (fit, ci, counts) = fit_with_intervals(names.len(), &comps, &opts, rounds, seed)?;
    let elo = elo::online_elo(names.len(), &comps, &EloOptions::default())?;
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by(|&i, &j| fit.theta[j].total_cmp(&fit.theta[i]));
    let ranking = order
        .iter()
        .enumerate()
        .map(|(rank, &i)| RankedItem {
            rank: rank + 1,
            item: names[i].clone(),
            theta: fit.theta[i],
            ci_low: ci.lower[i],
            ci_high: ci.upper[i],
            rating: bt::to_elo_scale(fit.theta[i]),
            elo: elo[i],
            comparisons: counts[i],
        })
        .collect();
    Ok(CriterionRanking {
        criterion: criterion.to_string(),
        comparisons: comps.len(),
        items: names.len(),
        bootstrap_rounds: rounds,
        failed_rounds: ci.failed_rounds,
        alpha,
        converged: fit.converged,
        ranking,
    })
}

/// Builds the report from all stored events; `sessions[i]` is event i's session id.
pub fn build(events: &[Event], sessions: &[String], opts: &ReportOptions) -> Report {
    let (reliable, unreliable) = attention::reliable_events(events, opts.threshold);
    let used: Vec<Event> = if opts.include_unreliable {
        events
            .iter()
            .filter(|e| !e.payload.attention_check)
            .cloned()
            .collect()
    } else {
        reliable
    };
    Report {
        rankings: rankings(&used, opts),
        agreement: agreement(&used),
        raters: rater_rows(events, sessions, &used, &unreliable),
        excluded: if opts.include_unreliable {
            Vec::new()
        } else {
            unreliable
        },
        events_used: used.len(),
    }
}

fn rankings(used: &[Event], opts: &ReportOptions) -> Vec<Ranking> {
    let criteria: BTreeSet<&str> = used
        .iter()
        .filter(|e| e.protocol.compares())
        .map(|e| e.payload.criterion.as_str())
        .collect();
    criteria
        .into_iter()
        .map(|criterion| {
            let (names, comps) = comparisons(used, criterion);
            let bt_opts = BtOptions {
                alpha: opts.alpha,
                ..BtOptions::default()
            };
            let rows = fit_with_intervals(
                names.len(),
                &comps,
                &bt_opts,
                opts.bootstrap_rounds.max(1),
                opts.seed,
            )
            .map(|(fit, ci, counts)| {
                let mut rows: Vec<RankRow> = (0..names.len())
                    .map(|i| RankRow {
                        item: names[i].clone(),
                        theta: fit.theta[i],
                        low: ci.lower[i],
                        high: ci.upper[i],
                        comparisons: counts[i],
                    })
                    .collect();
                rows.sort_by(|a, b| b.theta.total_cmp(&a.theta));
                rows
            })
            .map_err(|e| e.to_string());
            Ranking {
                criterion: criterion.to_string(),
                comparisons: comps.len(),
                rows,
            }
        })
        .collect()
}

/// Agreement per protocol and criterion (pairwise: nominal α; Likert and each multi-dimensional
/// rating: ordinal and interval α; Fleiss' κ on the units every rater judged) over the used
/// events: the report's table and `assay agreement`.
pub fn agreement(used: &[Event]) -> Vec<AgreementRow> {
    let mut keys: BTreeSet<(Protocol, Criterion)> = BTreeSet::new();
    for e in used {
        match e.protocol {
            Protocol::Pairwise | Protocol::Likert => {
                keys.insert((e.protocol, e.payload.criterion.clone()));
            }
            Protocol::Multi => {
                for d in e.payload.ratings.iter().flat_map(|r| r.keys()) {
                    keys.insert((Protocol::Multi, Criterion::new(d.as_str())));
                }
            }
            Protocol::BestOfN => {}
        }
    }
    keys.into_iter()
        .map(|(protocol, criterion)| {
            let (units, raters, data) = rating_matrix(used, protocol, criterion.as_str());
            let levels: &[(Level, &'static str)] = if protocol == Protocol::Pairwise {
                &[(Level::Nominal, "nominal")]
            } else {
                &[(Level::Ordinal, "ordinal"), (Level::Interval, "interval")]
            };
            let alphas = levels
                .iter()
                .map(|(level, name)| {
                    let a = if raters.len() < 2 {
                        Err("α needs at least two raters on an item".to_string())
                    } else {
                        agreement::krippendorff_alpha(&data, *level).map_err(|e| e.to_string())
                    };
                    (*name, a)
                })
                .collect();
            let complete: Vec<Vec<i64>> = (0..units.len())
                .filter_map(|u| {
                    data.iter()
                        .map(|r| r.get(u).copied().flatten().map(|v| v as i64))
                        .collect::<Option<Vec<_>>>()
                })
                .collect();
            let fleiss = if complete.is_empty() || raters.len() < 2 {
                Err("Fleiss' κ needs units judged by every rater, and at least two raters".into())
            } else {
                let (_, counts) = agreement::aggregate_raters(&complete);
                agreement::fleiss_kappa(&counts, FleissMethod::Fleiss)
                    .map(|k| (k, complete.len()))
                    .map_err(|e| e.to_string())
            };
            AgreementRow {
                protocol,
                criterion,
                raters: raters.len(),
                rater_names: raters,
                units: units.len(),
                alphas,
                fleiss,
            }
        })
        .collect()
}

/// Per rater: how often their value on a unit equals the strict majority of the other
/// raters' values (pairwise and Likert units).
fn majority(used: &[Event]) -> BTreeMap<String, (usize, usize)> {
    let mut out: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let keys: BTreeSet<(Protocol, &str)> = used
        .iter()
        .filter(|e| matches!(e.protocol, Protocol::Pairwise | Protocol::Likert))
        .map(|e| (e.protocol, e.payload.criterion.as_str()))
        .collect();
    for (protocol, criterion) in keys {
        let (units, raters, data) = rating_matrix(used, protocol, criterion);
        for (r, name) in raters.iter().enumerate() {
            for u in 0..units.len() {
                let Some(mine) = data[r][u] else { continue };
                let mut votes: BTreeMap<i64, usize> = BTreeMap::new();
                let mut others = 0;
                for (o, row) in data.iter().enumerate() {
                    if o != r
                        && let Some(v) = row[u]
                    {
                        *votes.entry((v * 1000.0).round() as i64).or_default() += 1;
                        others += 1;
                    }
                }
                let Some((&top, &n)) = votes.iter().max_by_key(|(_, n)| **n) else {
                    continue;
                };
                if 2 * n <= others {
                    continue; // no strict majority among the others
                }
                let e = out.entry(name.clone()).or_default();
                e.1 += 1;
                e.0 += usize::from((mine * 1000.0).round() as i64 == top);
            }
        }
    }
    out
}

fn rater_rows(
    all: &[Event],
    sessions: &[String],
    used: &[Event],
    unreliable: &[String],
) -> Vec<RaterRow> {
    let checks = attention::by_rater(all);
    let maj = majority(used);
    let mut by: BTreeMap<&str, (usize, BTreeSet<&str>, Vec<u64>)> = BTreeMap::new();
    for (i, e) in all.iter().enumerate() {
        let entry = by.entry(e.rater.as_str()).or_default();
        if let Some(s) = sessions.get(i) {
            entry.1.insert(s.as_str());
        }
        if !e.payload.attention_check {
            entry.0 += 1;
        }
        if let Some(ms) = e.payload.response_ms {
            entry.2.push(ms);
        }
    }
    by.into_iter()
        .map(|(rater, (judgements, sess, mut times))| {
            times.sort_unstable();
            let median = match times.len() {
                0 => None,
                n if n % 2 == 1 => Some(times[n / 2]),
                n => Some((times[n / 2 - 1] + times[n / 2]) / 2),
            };
            RaterRow {
                rater: rater.to_string(),
                judgements,
                sessions: sess.len(),
                median_response_ms: median,
                checks: checks.get(rater).copied().unwrap_or_default(),
                majority: maj.get(rater).copied(),
                unreliable: unreliable.iter().any(|u| u == rater),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::human::Payload;
    use crate::human::attention::degraded_name;

    fn pw(rater: &str, a: &str, b: &str, choice: &str, check: bool, ms: u64) -> Event {
        Event {
            rater: rater.into(),
            protocol: Protocol::Pairwise,
            payload: Payload {
                criterion: "overall".into(),
                items: vec![a.into(), b.into()],
                hashes: vec![],
                order: vec![b.into(), a.into()],
                choice: Some(choice.into()),
                rating: None,
                ratings: None,
                response_ms: Some(ms),
                attention_check: check,
            },
        }
    }

    #[test]
    fn report_ranks_agrees_and_summarises_raters() {
        let items = ["a", "b", "c", "d"];
        let mut events = Vec::new();
        for r in ["r1", "r2", "r3"] {
            for i in 0..4 {
                for j in i + 1..4 {
                    events.push(pw(r, items[i], items[j], items[i], false, 1000));
                }
            }
        }
        // r2 once disagrees; r3 fails its attention checks and always picks the worse one.
        events[6] = pw("r2", "a", "b", "b", false, 3000);
        for e in events.iter_mut().filter(|e| e.rater == "r3") {
            let second = e.payload.items[1].clone();
            e.payload.choice = Some(second);
        }
        let d = degraded_name("a");
        events.push(pw("r1", "a", &d, "a", true, 500));
        events.push(pw("r3", "a", &d, &d, true, 500));
        let sessions: Vec<String> = events.iter().map(|e| format!("{}-s", e.rater)).collect();
        let opts = ReportOptions {
            bootstrap_rounds: 50,
            ..ReportOptions::default()
        };
        let rep = build(&events, &sessions, &opts);
        assert_eq!(rep.excluded, vec!["r3"]);
        assert_eq!(rep.events_used, 12);
        let rows = rep.rankings[0].rows.as_ref().unwrap();
        let order: Vec<&str> = rows.iter().map(|r| r.item.as_str()).collect();
        assert_eq!(order, vec!["a", "b", "c", "d"]);
        assert!(rows.iter().all(|r| r.low <= r.theta && r.theta <= r.high));
        let ag = &rep.agreement[0];
        assert_eq!((ag.raters, ag.units), (2, 6));
        assert!(ag.alphas[0].1.is_ok());
        let r1 = rep.raters.iter().find(|r| r.rater == "r1").unwrap();
        assert_eq!(
            r1.checks,
            RaterChecks {
                passed: 1,
                checks: 1
            }
        );
        assert_eq!(r1.median_response_ms, Some(1000));
        assert_eq!(r1.sessions, 1);
        // r1 vs r2 only (r3 excluded): one unit has no strict majority? With one other rater
        // the other's value is the majority: 5 of 6 agree.
        assert_eq!(r1.majority, Some((5, 6)));
        assert!(
            rep.raters
                .iter()
                .find(|r| r.rater == "r3")
                .unwrap()
                .unreliable
        );

        let one = build(&events[..6], &sessions[..6], &opts);
        assert!(
            one.agreement[0].alphas[0]
                .1
                .as_ref()
                .unwrap_err()
                .contains("two raters")
        );
        assert_eq!(reading(0.9), "reliable (α ≥ 0.8)");
    }
}
