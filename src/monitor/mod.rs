//! Batch monitoring of one collection, shared by `assay monitor` (`cli/monitor.rs`) and the
//! GUI's monitor view (`gui/monitor.rs`). A batch is a sub-folder (`folder` = first path
//! component), the UTC day an image's current version was first scanned (`scan_date`), or the
//! value of a table column (`model`, `tool`, ...). Per batch: N, each signal's mean with a
//! 95 % interval, KS and PSI against the baseline batch with a drift flag, the review rate
//! (share of images whose latest decision is `review`) and human-vs-policy agreement on images
//! that both decided, each with a Wilson interval. Batches are ordered by name, which for
//! `scan_date` (`YYYY-MM-DD`) is chronological. [`evaluate`] returns the typed
//! [`MonitorReport`] (`report`; its serialization is the `--format json` output, pinned byte for
//! byte by `golden_tests`); `render` has the text, Markdown and self-contained HTML (inline SVG
//! plots) renderers.
//!
//! Everything here is pure except [`load_batches`], which reads through the [`Store`] API (no
//! SQL of its own).

#[cfg(test)]
mod golden_tests;
pub mod npy;
mod render;
mod report;

use crate::domain::Status;
use std::collections::BTreeMap;

pub use render::{histogram_svg, render_html, render_markdown, render_text, series_svg};
pub use report::{BatchReport, HumanPolicy, Ks, MonitorReport, Series, SignalStats, ends, finite};

use crate::ranking::drift;
use crate::selection::calibrate::{Z95, wilson};
use crate::store::{ImageRow, SignalValue, Store};

/// Batch by the first path component (`.` for files at the root).
pub const FOLDER: &str = "folder";
/// Batch by the UTC day the image's current version was first scanned.
pub const SCAN_DATE: &str = "scan_date";
/// The batch of rows without a value for the field.
pub const NONE: &str = "(none)";

/// One batch's raw data.
#[derive(Debug, Default, Clone)]
pub struct Batch {
    pub n: usize,
    pub review: usize,
    pub decided: usize,
    /// Per signal, the finite values.
    pub values: BTreeMap<String, Vec<f64>>,
    /// (human status, policy status) pairs.
    pub pairs: Vec<(Status, Status)>,
}

/// Whether `by` can batch a collection: `folder`, `scan_date` or a table column.
pub fn is_batch_field(by: &str) -> bool {
    by == FOLDER || by == SCAN_DATE || crate::table::is_column(by)
}

/// The batch fields offered for choosing (the GUI): `folder`, `scan_date`, then the metadata
/// and decision columns (per-image columns such as `path` or `hash` are left out; `assay
/// monitor --by` accepts any column).
pub fn batch_fields() -> Vec<&'static str> {
    const PER_IMAGE: &[&str] = &[
        "path",
        "hash",
        "raw",
        "warnings",
        "error",
        "prompt",
        "negative_prompt",
        "seed",
        "decision_reason",
    ];
    let mut v = vec![FOLDER, SCAN_DATE];
    v.extend(
        crate::table::BASE_COLUMNS
            .iter()
            .copied()
            .filter(|c| !PER_IMAGE.contains(c)),
    );
    v
}

/// The default monitored signals: the classical numeric signals.
pub fn default_keys() -> Vec<String> {
    crate::signals::classical_feature_keys()
        .into_iter()
        .map(String::from)
        .collect()
}

/// Numeric quality signals with at least one value in `rows` (registry order, so the classical
/// signals come first); identity signals and hard filters are left out.
pub fn present_keys(rows: &[ImageRow]) -> Vec<String> {
    use crate::signals::{Group, Kind, registry};
    registry()
        .iter()
        .filter(|d| {
            d.kind == Kind::Number && !matches!(d.group, Group::Identity | Group::HardFilter)
        })
        .filter(|d| {
            rows.iter().any(
                |r| matches!(r.signals.get(d.key), Some(SignalValue::Number(v)) if v.is_finite()),
            )
        })
        .map(|d| d.key.to_string())
        .collect()
}

/// The UTC day (`YYYY-MM-DD`) of an RFC 3339 time stamp such as `images.first_seen`, or
/// [`NONE`] when it is missing or not a date.
pub fn scan_day(first_seen: Option<&str>) -> String {
    let Some(t) = first_seen else {
        return NONE.to_string();
    };
    let day = t.get(..10).unwrap_or("");
    let b = day.as_bytes();
    let ok = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if ok {
        day.to_string()
    } else {
        NONE.to_string()
    }
}

/// The batch of one row for the field `by` (see [`is_batch_field`]).
pub fn batch_key(row: &ImageRow, by: &str) -> String {
    match by {
        FOLDER => row
            .path
            .split_once('/')
            .map_or(".", |(first, _)| first)
            .to_string(),
        SCAN_DATE => scan_day(row.first_seen.as_deref()),
        _ => match crate::table::value(row, by) {
            crate::selection::Value::Null => NONE.to_string(),
            v => crate::table::to_csv(&v),
        },
    }
}

/// Groups rows into batches. `pairs` are (image id, latest human status, latest policy status)
/// as [`Store::human_policy_statuses`] returns them.
pub fn group(
    rows: &[ImageRow],
    pairs: &[(i64, Status, Status)],
    by: &str,
    keys: &[String],
) -> BTreeMap<String, Batch> {
    let pairs: BTreeMap<i64, (Status, Status)> =
        pairs.iter().map(|&(id, h, p)| (id, (h, p))).collect();
    let mut out: BTreeMap<String, Batch> = BTreeMap::new();
    for r in rows {
        let b = out.entry(batch_key(r, by)).or_default();
        b.n += 1;
        if let Some(s) = r.status {
            if s != Status::None {
                b.decided += 1;
            }
            if s == Status::Review {
                b.review += 1;
            }
        }
        for key in keys {
            if let Some(SignalValue::Number(v)) = r.signals.get(key)
                && v.is_finite()
            {
                b.values.entry(key.clone()).or_default().push(*v);
            }
        }
        if let Some(&pair) = pairs.get(&r.id) {
            b.pairs.push(pair);
        }
    }
    out
}

/// Reads every current image's batch key, signals and decisions through the store.
pub fn load_batches(
    store: &Store,
    by: &str,
    keys: &[String],
) -> anyhow::Result<BTreeMap<String, Batch>> {
    let rows = store.image_rows(false)?;
    let pairs = store.human_policy_statuses()?;
    Ok(group(&rows, &pairs, by, keys))
}

/// Drift thresholds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// PSI bins (baseline quantiles).
    pub bins: usize,
    /// Drift when the KS p-value is below this ...
    pub alpha: f64,
    /// ... or when PSI reaches this.
    pub psi: f64,
}

impl Default for Thresholds {
    /// The CLI's defaults: 10 bins, alpha 0.01, PSI 0.25.
    fn default() -> Self {
        Self {
            bins: 10,
            alpha: 0.01,
            psi: drift::PSI_SIGNIFICANT,
        }
    }
}

/// A proportion with its Wilson 95 % interval (`None`s when `n = 0`).
fn proportion(k: usize, n: usize) -> (Option<f64>, Option<[f64; 2]>) {
    match wilson(k, n, Z95) {
        Some(w) => (Some(k as f64 / n as f64), Some([w.lo, w.hi])),
        None => (None, None),
    }
}

/// How the review rate is counted (the report's `review_rate_rule`).
const REVIEW_RATE_RULE: &str = "share of the batch's images whose latest decision is `review`";
/// How agreement is counted (the report's `agreement_rule`).
const AGREEMENT_RULE: &str = "images with both a human and a policy decision: share whose latest \
                              human status equals the latest policy status";
/// How the intervals are computed (the report's `interval`).
const INTERVAL: &str = "mean ± 1.96 s/√n (normal approximation); rates: Wilson 95 % interval";

/// The drift test and its thresholds, in words (the report's `drift_rule`).
fn drift_rule(t: &Thresholds) -> String {
    format!(
        "drift when the KS p-value < {} or PSI >= {} (PSI: {} baseline-quantile bins, \
         shares floored at {}; < 0.1 stable, 0.1-0.25 moderate, >= 0.25 significant); \
         KS p-value as SciPy ks_2samp(method='asymp')",
        t.alpha,
        t.psi,
        t.bins,
        drift::PSI_EPSILON
    )
}

/// One signal's values `xs` in a batch against the baseline's `bs`: mean with interval, and
/// unless the batch is the baseline, KS, PSI and the drift flag.
fn signal_stats(xs: &[f64], bs: &[f64], is_baseline: bool, t: &Thresholds) -> SignalStats {
    let mean = drift::mean_ci95(xs);
    let mut s = SignalStats {
        ci95: mean.map(|(_, lo, hi)| [lo, hi]),
        drift: None,
        ks: None,
        mean: mean.map(|(m, _, _)| m),
        n: xs.len(),
        psi: None,
    };
    if !is_baseline {
        let ks = drift::ks_2samp(bs, xs);
        let psi = drift::psi(bs, xs, t.bins);
        s.ks = ks.map(|k| Ks {
            p_value: k.p_value,
            statistic: k.statistic,
        });
        s.psi = psi.as_ref().map(|p| p.value);
        s.drift = Some(
            ks.is_some_and(|k| k.p_value < t.alpha)
                || psi.as_ref().is_some_and(|p| p.value >= t.psi),
        );
    }
    s
}

/// The finite values of `key` in batch `b` (none when it has no values of it).
fn values<'a>(b: &'a Batch, key: &str) -> &'a [f64] {
    b.values.get(key).map_or(&[][..], Vec::as_slice)
}

/// The report entry of batch `name` against the baseline batch `base`.
fn batch_report(
    name: &str,
    b: &Batch,
    (baseline, base): (&str, &Batch),
    keys: &[String],
    t: &Thresholds,
) -> BatchReport {
    let signals: BTreeMap<String, SignalStats> = keys
        .iter()
        .map(|key| {
            let s = signal_stats(values(b, key), values(base, key), name == baseline, t);
            (key.clone(), s)
        })
        .collect();
    let agree = b.pairs.iter().filter(|(h, p)| h == p).count();
    let (review_rate, review_rate_ci95) = proportion(b.review, b.n);
    let (agreement, ci95) = proportion(agree, b.pairs.len());
    BatchReport {
        baseline: name == baseline,
        batch: name.to_string(),
        decided: b.decided,
        drifted_signals: signals
            .iter()
            .filter(|(_, s)| s.drift == Some(true))
            .map(|(k, _)| k.clone())
            .collect(),
        human_policy: HumanPolicy {
            agree,
            agreement,
            ci95,
            n: b.pairs.len(),
        },
        n: b.n,
        review: b.review,
        review_rate,
        review_rate_ci95,
        signals,
    }
}

/// The report (pure; used by every renderer, the GUI and the tests): per batch in name order
/// its statistics against `baseline` (an unknown baseline compares against no values).
pub fn evaluate(
    by: &str,
    baseline: &str,
    keys: &[String],
    batches: &BTreeMap<String, Batch>,
    t: &Thresholds,
) -> MonitorReport {
    let empty = Batch::default();
    let base = batches.get(baseline).unwrap_or(&empty);
    let out: Vec<BatchReport> = batches
        .iter()
        .map(|(name, b)| batch_report(name, b, (baseline, base), keys, t))
        .collect();
    MonitorReport {
        agreement_rule: AGREEMENT_RULE,
        baseline: baseline.to_string(),
        by: by.to_string(),
        drift_rule: drift_rule(t),
        interval: INTERVAL,
        order: if by == SCAN_DATE {
            "chronological (UTC day of the first scan)"
        } else {
            "by batch name"
        },
        review_rate_rule: REVIEW_RATE_RULE,
        series: Series::of(&out),
        signals: keys.to_vec(),
        batches: out,
    }
}

/// Per-batch histograms of one signal over common bins of the pooled range.
#[derive(Debug, Clone, PartialEq)]
pub struct Histograms {
    pub lo: f64,
    pub hi: f64,
    /// Per batch with values (in batch order): its index among all batches, its name and the
    /// share of its values in each bin (summing to 1).
    pub batches: Vec<(usize, String, Vec<f64>)>,
}

impl Histograms {
    /// The largest bin share over all batches (at least 1e-12): the plots' vertical scale.
    pub fn top(&self) -> f64 {
        self.batches
            .iter()
            .flat_map(|(_, _, c)| c.iter().copied())
            .fold(0.0f64, f64::max)
            .max(1e-12)
    }
}

/// Histograms of `key` per batch over `bins` equal bins of the pooled range (`None` when no
/// batch has a value). A constant signal puts everything in the first bin.
pub fn histograms(key: &str, batches: &BTreeMap<String, Batch>, bins: usize) -> Option<Histograms> {
    let bins = bins.max(1);
    let (lo, hi) = batches
        .values()
        .flat_map(|b| b.values.get(key).into_iter().flatten().copied())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
    if !lo.is_finite() {
        return None;
    }
    let width = if hi > lo { hi - lo } else { 1.0 };
    let out = batches
        .iter()
        .enumerate()
        .filter_map(|(i, (name, b))| {
            let xs = b.values.get(key).filter(|v| !v.is_empty())?;
            let mut c = vec![0.0; bins];
            for &x in xs {
                let k = (((x - lo) / width) * bins as f64) as usize;
                c[k.min(bins - 1)] += 1.0 / xs.len() as f64;
            }
            Some((i, name.clone(), c))
        })
        .collect();
    Some(Histograms {
        lo,
        hi,
        batches: out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(values: Vec<f64>, review: usize, pairs: &[(&str, &str)]) -> Batch {
        Batch {
            n: values.len(),
            review,
            decided: review,
            values: BTreeMap::from([("x".to_string(), values)]),
            pairs: pairs
                .iter()
                .map(|(h, p)| (h.parse().unwrap(), p.parse().unwrap()))
                .collect(),
        }
    }

    #[test]
    fn shifted_batch_drifts_and_rates_are_counted() {
        let base: Vec<f64> = (0..200).map(|i| f64::from(i) / 200.0).collect();
        let same: Vec<f64> = (0..200).map(|i| (f64::from(i) + 0.5) / 200.0).collect();
        let shifted: Vec<f64> = base.iter().map(|x| x + 0.5).collect();
        let batches = BTreeMap::from([
            ("a".to_string(), batch(base, 10, &[])),
            (
                "b".to_string(),
                batch(
                    same,
                    50,
                    &[("accepted", "accepted"), ("rejected", "review")],
                ),
            ),
            ("c".to_string(), batch(shifted, 0, &[])),
        ]);
        let t = Thresholds {
            bins: 10,
            alpha: 0.01,
            psi: 0.25,
        };
        let r = evaluate("model", "a", &["x".to_string()], &batches, &t);
        let b = &r.batches;
        assert!(b[0].baseline);
        assert!(b[0].signals["x"].drift.is_none());
        assert_eq!(b[1].signals["x"].drift, Some(false));
        assert_eq!(b[2].signals["x"].drift, Some(true));
        let d = b[2].signals["x"].ks.unwrap().statistic;
        assert!((d - 0.5).abs() <= 0.005, "{d}");
        assert_eq!(b[0].review_rate, Some(0.05));
        assert_eq!(b[1].review_rate, Some(0.25));
        assert_eq!(b[1].human_policy.agreement, Some(0.5));
        assert_eq!(b[0].human_policy.agreement, None);
        let md = render_markdown(&r);
        assert!(md.contains("| c | x | 200 |") && md.contains("DRIFT"));
        let html = render_html(&r, &batches, &["x".to_string()]);
        assert!(html.contains("<svg") && html.contains("class=\"drift\""));
        // One density line per batch; the series plot joins the three review rates (the
        // single agreement value is a lone point).
        assert_eq!(histogram_svg("x", &batches).matches("<polyline").count(), 3);
        assert_eq!(series_svg(&r).matches("<polyline").count(), 1);
        assert_eq!(html.matches("<polyline").count(), 4);
        assert!(html.contains("Review rate and agreement over batches"));
    }

    fn row(
        id: i64,
        path: &str,
        first_seen: Option<&str>,
        status: Option<&str>,
        x: f64,
    ) -> ImageRow {
        let mut r = ImageRow {
            id,
            path: path.to_string(),
            first_seen: first_seen.map(String::from),
            status: status.map(|s| s.parse().unwrap()),
            model: (id % 2 == 0).then(|| "sdxl".into()),
            ..Default::default()
        };
        r.signals.insert("x".into(), SignalValue::Number(x));
        r
    }

    #[test]
    fn scan_day_takes_the_utc_date_or_none() {
        assert_eq!(scan_day(Some("2026-11-27T10:00:00.000Z")), "2026-11-27");
        assert_eq!(scan_day(Some("2026-01-02")), "2026-01-02");
        assert_eq!(scan_day(None), NONE);
        assert_eq!(scan_day(Some("")), NONE);
        assert_eq!(scan_day(Some("yesterday afternoon")), NONE);
        assert_eq!(scan_day(Some("2026/11/27T10")), NONE);
    }

    #[test]
    fn grouping_by_scan_date_is_chronological_and_counts_pairs() {
        let rows = vec![
            row(
                1,
                "b/1.png",
                Some("2026-12-01T00:00:01.000Z"),
                Some("review"),
                1.0,
            ),
            row(
                2,
                "a/2.png",
                Some("2026-11-30T23:59:59.999Z"),
                Some("accepted"),
                2.0,
            ),
            row(
                3,
                "top.png",
                Some("2026-12-01T12:00:00.000Z"),
                None,
                f64::NAN,
            ),
            row(
                4,
                "a/4.png",
                Some("2025-12-31T08:00:00.000Z"),
                Some("none"),
                4.0,
            ),
        ];
        let pairs = vec![
            (1, Status::Rejected, Status::Review),
            (3, Status::Accepted, Status::Accepted),
            (99, Status::Accepted, Status::Accepted),
        ];
        let keys = ["x".to_string()];
        let by_day = group(&rows, &pairs, SCAN_DATE, &keys);
        let names: Vec<&String> = by_day.keys().collect();
        assert_eq!(names, ["2025-12-31", "2026-11-30", "2026-12-01"]);
        let dec1 = &by_day["2026-12-01"];
        assert_eq!((dec1.n, dec1.review, dec1.decided), (2, 1, 1));
        assert_eq!(
            dec1.values["x"],
            vec![1.0],
            "non-finite values are left out"
        );
        assert_eq!(
            dec1.pairs.len(),
            2,
            "pairs of images outside the rows are ignored"
        );
        assert_eq!(by_day["2025-12-31"].decided, 0, "`none` is not a decision");
        let by_folder = group(&rows, &pairs, FOLDER, &keys);
        assert_eq!(by_folder.keys().collect::<Vec<_>>(), [".", "a", "b"]);
        let by_model = group(&rows, &pairs, "model", &keys);
        assert_eq!(by_model.keys().collect::<Vec<_>>(), [NONE, "sdxl"]);
        assert_eq!(by_model["sdxl"].n, 2);
        let r = evaluate(
            SCAN_DATE,
            "2025-12-31",
            &keys,
            &by_day,
            &Thresholds::default(),
        );
        assert_eq!(r.order, "chronological (UTC day of the first scan)");
        assert_eq!(r.series.batch, ["2025-12-31", "2026-11-30", "2026-12-01"]);
        assert_eq!(r.series.agreement, [None, None, Some(0.5)]);
        assert_eq!(r.series.review_rate, [Some(0.0), Some(0.0), Some(0.5)]);
        let [lo, hi] = r.batches[2].human_policy.ci95.unwrap();
        // statsmodels proportion_confint(1, 2, method="wilson") = (0.0945312, 0.9054688)
        assert!((lo - 0.094_531_2).abs() < 1e-6 && (hi - 0.905_468_8).abs() < 1e-6);
        assert_eq!(r.batches[0].human_policy.ci95, None);
        let svg = series_svg(&r);
        assert_eq!(
            svg.matches("<circle").count(),
            4,
            "3 review rates + 1 agreement"
        );
        assert!(svg.contains("2026-11-30"));
    }

    #[test]
    fn batch_fields_are_valid_and_exclude_per_image_columns() {
        let f = batch_fields();
        assert_eq!(&f[..2], &[FOLDER, SCAN_DATE]);
        assert!(f.iter().all(|b| is_batch_field(b)));
        assert!(f.contains(&"model") && !f.contains(&"path"));
        assert!(is_batch_field("blur_laplacian_var") && !is_batch_field("nope"));
    }

    #[test]
    fn histograms_share_common_bins_and_sum_to_one() {
        let batches = BTreeMap::from([
            ("a".to_string(), batch(vec![0.0, 1.0, 2.0, 3.0], 0, &[])),
            ("b".to_string(), Batch::default()),
            ("c".to_string(), batch(vec![3.0, 3.0], 0, &[])),
        ]);
        let h = histograms("x", &batches, 3).unwrap();
        assert_eq!((h.lo, h.hi), (0.0, 3.0));
        assert_eq!(
            h.batches.len(),
            2,
            "a batch without values has no histogram"
        );
        assert_eq!(h.batches[0].2, vec![0.25, 0.25, 0.5]);
        assert_eq!(
            (h.batches[1].0, h.batches[1].2.clone()),
            (2, vec![0.0, 0.0, 1.0])
        );
        assert!(histograms("y", &batches, 3).is_none());
    }

    #[test]
    fn load_batches_reads_the_scan_day_from_the_store() {
        let mut s = Store::open_in_memory().unwrap();
        let rec = crate::store::new_image;
        s.write_ingest(&[rec("a/1.png"), rec("b/2.png")]).unwrap();
        let today = scan_day(Some(&crate::store::now_utc()));
        let b = load_batches(&s, SCAN_DATE, &[]).unwrap();
        // A scan running over midnight could straddle two days; both are dates, not NONE.
        assert!(b.keys().all(|k| k.len() == 10 && k != NONE), "{b:?}");
        assert!(b.contains_key(&today) || b.len() == 1);
        assert_eq!(b.values().map(|x| x.n).sum::<usize>(), 2);
    }
}
