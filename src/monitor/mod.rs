//! Batch monitoring of one collection, shared by `assay monitor` (`cli/monitor.rs`) and the
//! GUI's monitor view (`gui/monitor.rs`). A batch is a sub-folder (`folder` = first path
//! component), the UTC day an image's current version was first scanned (`scan_date`), or the
//! value of a table column (`model`, `tool`, ...). Per batch: N, each signal's mean with a
//! 95 % interval, KS and PSI against the baseline batch with a drift flag, the review rate
//! (share of images whose latest decision is `review`) and human-vs-policy agreement on images
//! that both decided, each with a Wilson interval. Batches are ordered by name, which for
//! `scan_date` (`YYYY-MM-DD`) is chronological. Renderers: text, Markdown, self-contained HTML
//! (inline SVG plots).
//!
//! Everything here is pure except [`load_batches`], which reads through the [`Store`] API (no
//! SQL of its own).

#[cfg(test)]
mod golden_tests;
pub mod npy;

use crate::domain::Status;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Value, json};

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

/// A proportion with its Wilson 95 % interval (`null`s when `n = 0`).
fn proportion(k: usize, n: usize) -> (Value, Value) {
    match wilson(k, n, Z95) {
        Some(w) => (num(k as f64 / n as f64), json!([num(w.lo), num(w.hi)])),
        None => (Value::Null, Value::Null),
    }
}

fn num(x: f64) -> Value {
    if x.is_finite() { json!(x) } else { Value::Null }
}

/// The report as JSON (pure; used by every renderer and the tests).
pub fn evaluate(
    by: &str,
    baseline: &str,
    keys: &[String],
    batches: &BTreeMap<String, Batch>,
    t: &Thresholds,
) -> Value {
    let empty = Batch::default();
    let base = batches.get(baseline).unwrap_or(&empty);
    let mut out = Vec::new();
    for (name, b) in batches {
        let mut signals = serde_json::Map::new();
        for key in keys {
            let xs = b.values.get(key).map_or(&[][..], Vec::as_slice);
            let bs = base.values.get(key).map_or(&[][..], Vec::as_slice);
            let mut s = json!({ "n": xs.len() });
            if let Some((m, lo, hi)) = drift::mean_ci95(xs) {
                s["mean"] = num(m);
                s["ci95"] = json!([num(lo), num(hi)]);
            }
            if name != baseline {
                let ks = drift::ks_2samp(bs, xs);
                let psi = drift::psi(bs, xs, t.bins);
                if let Some(ks) = ks {
                    s["ks"] = json!({ "statistic": num(ks.statistic), "p_value": num(ks.p_value) });
                }
                if let Some(p) = &psi {
                    s["psi"] = num(p.value);
                }
                let drifted = ks.is_some_and(|k| k.p_value < t.alpha)
                    || psi.as_ref().is_some_and(|p| p.value >= t.psi);
                s["drift"] = json!(drifted);
            }
            signals.insert(key.clone(), s);
        }
        let agree = b.pairs.iter().filter(|(h, p)| h == p).count();
        let (review_rate, review_ci) = proportion(b.review, b.n);
        let (agreement, agreement_ci) = proportion(agree, b.pairs.len());
        out.push(json!({
            "batch": name,
            "n": b.n,
            "baseline": name == baseline,
            "review": b.review,
            "decided": b.decided,
            "review_rate": review_rate,
            "review_rate_ci95": review_ci,
            "human_policy": {
                "n": b.pairs.len(),
                "agree": agree,
                "agreement": agreement,
                "ci95": agreement_ci,
            },
            "drifted_signals": signals.iter()
                .filter(|(_, s)| s["drift"] == json!(true))
                .map(|(k, _)| k.clone()).collect::<Vec<_>>(),
            "signals": signals,
        }));
    }
    let series = json!({
        "batch": out.iter().map(|b| b["batch"].clone()).collect::<Vec<_>>(),
        "n": out.iter().map(|b| b["n"].clone()).collect::<Vec<_>>(),
        "review_rate": out.iter().map(|b| b["review_rate"].clone()).collect::<Vec<_>>(),
        "agreement": out.iter().map(|b| b["human_policy"]["agreement"].clone())
            .collect::<Vec<_>>(),
        "agreement_n": out.iter().map(|b| b["human_policy"]["n"].clone()).collect::<Vec<_>>(),
        "drifted_signals": out.iter().map(|b| json!(b["drifted_signals"].as_array().map_or(0, Vec::len)))
            .collect::<Vec<_>>(),
    });
    json!({
        "by": by,
        "baseline": baseline,
        "order": if by == SCAN_DATE { "chronological (UTC day of the first scan)" }
                 else { "by batch name" },
        "signals": keys,
        "drift_rule": format!(
            "drift when the KS p-value < {} or PSI >= {} (PSI: {} baseline-quantile bins, \
             shares floored at {}; < 0.1 stable, 0.1-0.25 moderate, >= 0.25 significant); \
             KS p-value as SciPy ks_2samp(method='asymp')",
            t.alpha, t.psi, t.bins, drift::PSI_EPSILON
        ),
        "review_rate_rule": "share of the batch's images whose latest decision is `review`",
        "agreement_rule": "images with both a human and a policy decision: share whose latest \
                           human status equals the latest policy status",
        "interval": "mean ± 1.96 s/√n (normal approximation); rates: Wilson 95 % interval",
        "batches": out,
        "series": series,
    })
}

fn f(v: &Value, digits: usize) -> String {
    v.as_f64()
        .map_or_else(|| "n/a".to_string(), |x| format!("{x:.digits$}"))
}

fn pct(v: &Value) -> String {
    v.as_f64()
        .map_or_else(|| "n/a".to_string(), |x| format!("{:.1} %", 100.0 * x))
}

/// One line per (batch, signal) as table cells: batch, signal, n, mean, ci, KS D, KS p, PSI,
/// drift.
fn signal_cells(r: &Value) -> Vec<[String; 9]> {
    let mut rows = Vec::new();
    for b in r["batches"].as_array().into_iter().flatten() {
        let name = b["batch"].as_str().unwrap_or("").to_string();
        for (key, s) in b["signals"].as_object().into_iter().flatten() {
            rows.push([
                name.clone(),
                key.clone(),
                s["n"].to_string(),
                f(&s["mean"], 4),
                format!("[{}, {}]", f(&s["ci95"][0], 4), f(&s["ci95"][1], 4)),
                f(&s["ks"]["statistic"], 3),
                s["ks"]["p_value"]
                    .as_f64()
                    .map_or_else(|| "n/a".to_string(), |p| format!("{p:.2e}")),
                f(&s["psi"], 3),
                match s["drift"].as_bool() {
                    Some(true) => "DRIFT".to_string(),
                    Some(false) => "ok".to_string(),
                    None => "baseline".to_string(),
                },
            ]);
        }
    }
    rows
}

/// A rate with its interval: `12.5 % [5.1, 20.0]`.
fn pct_ci(v: &Value, ci: &Value) -> String {
    match (v.as_f64(), ci[0].as_f64(), ci[1].as_f64()) {
        (Some(x), Some(lo), Some(hi)) => {
            format!("{:.1} % [{:.1}, {:.1}]", 100.0 * x, 100.0 * lo, 100.0 * hi)
        }
        _ => pct(v),
    }
}

fn batch_cells(r: &Value) -> Vec<[String; 6]> {
    r["batches"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|b| {
            [
                b["batch"].as_str().unwrap_or("").to_string(),
                b["n"].to_string(),
                format!(
                    "{} ({})",
                    pct_ci(&b["review_rate"], &b["review_rate_ci95"]),
                    b["review"]
                ),
                format!(
                    "{} of {}",
                    pct_ci(&b["human_policy"]["agreement"], &b["human_policy"]["ci95"]),
                    b["human_policy"]["n"]
                ),
                b["drifted_signals"]
                    .as_array()
                    .map_or(0, Vec::len)
                    .to_string(),
                if b["baseline"] == json!(true) {
                    "baseline".to_string()
                } else {
                    String::new()
                },
            ]
        })
        .collect()
}

const BATCH_HEAD: [&str; 6] = [
    "batch",
    "N",
    "review rate [95% CI] (k)",
    "human-policy agreement [95% CI]",
    "drifted signals",
    "",
];
const SIGNAL_HEAD: [&str; 9] = [
    "batch", "signal", "n", "mean", "95% CI", "KS D", "KS p", "PSI", "drift",
];

pub fn render_text(r: &Value) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "by {}; baseline {}; batches in {} order",
        r["by"],
        r["baseline"],
        r["order"].as_str().unwrap_or("")
    );
    let _ = writeln!(s, "{}", r["drift_rule"].as_str().unwrap_or(""));
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{:<20} {:>6} {:>26} {:>30} {:>8}",
        "batch", "N", "review rate [95% CI] (k)", "human-policy agreement", "drifted"
    );
    for c in batch_cells(r) {
        let _ = writeln!(
            s,
            "{:<20} {:>6} {:>26} {:>30} {:>8} {}",
            c[0], c[1], c[2], c[3], c[4], c[5]
        );
    }
    let _ = writeln!(s);
    for c in signal_cells(r) {
        let _ = writeln!(
            s,
            "{:<20} {:<20} {:>5} {:>12} {:>26} {:>6} {:>9} {:>6} {}",
            c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8]
        );
    }
    s
}

fn md_row(cells: &[String]) -> String {
    format!(
        "| {} |\n",
        cells
            .iter()
            .map(|c| c.replace('|', "\\|"))
            .collect::<Vec<_>>()
            .join(" | ")
    )
}

pub fn render_markdown(r: &Value) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Assay batch monitor\n");
    let _ = writeln!(
        s,
        "Batches by `{}`; baseline `{}`.\n",
        r["by"].as_str().unwrap_or(""),
        r["baseline"].as_str().unwrap_or("")
    );
    let _ = writeln!(s, "- Drift: {}", r["drift_rule"].as_str().unwrap_or(""));
    let _ = writeln!(
        s,
        "- Review rate: {}",
        r["review_rate_rule"].as_str().unwrap_or("")
    );
    let _ = writeln!(
        s,
        "- Agreement: {}",
        r["agreement_rule"].as_str().unwrap_or("")
    );
    let _ = writeln!(s, "- Interval: {}", r["interval"].as_str().unwrap_or(""));
    let _ = writeln!(s, "- Order: {}\n", r["order"].as_str().unwrap_or(""));
    let _ = writeln!(s, "## Batches: review rate and agreement over batches\n");
    s += &md_row(&BATCH_HEAD.map(String::from));
    s += &md_row(&BATCH_HEAD.map(|_| "---".to_string()));
    for c in batch_cells(r) {
        s += &md_row(&c);
    }
    let _ = writeln!(s, "\n## Signals\n");
    s += &md_row(&SIGNAL_HEAD.map(String::from));
    s += &md_row(&SIGNAL_HEAD.map(|_| "---".to_string()));
    for c in signal_cells(r) {
        s += &md_row(&c);
    }
    s
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const COLOURS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

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

/// Inline SVG: one density polyline per batch over 30 common bins of the pooled range.
pub fn histogram_svg(key: &str, batches: &BTreeMap<String, Batch>) -> String {
    const W: f64 = 360.0;
    const H: f64 = 140.0;
    const BINS: usize = 30;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{}\" \
         role=\"img\"><title>{}</title>",
        H + 20.0,
        esc(key)
    );
    let Some(h) = histograms(key, batches, BINS) else {
        s += "<text x=\"10\" y=\"20\">no values</text></svg>";
        return s;
    };
    let top = h.top();
    for (i, _, c) in &h.batches {
        let pts: Vec<String> = c
            .iter()
            .enumerate()
            .map(|(k, v)| {
                format!(
                    "{:.1},{:.1}",
                    (k as f64 + 0.5) / BINS as f64 * W,
                    H - v / top * (H - 10.0)
                )
            })
            .collect();
        let _ = write!(
            s,
            "<polyline fill=\"none\" stroke-width=\"1.5\" stroke=\"{}\" points=\"{}\"/>",
            COLOURS[i % COLOURS.len()],
            pts.join(" ")
        );
    }
    let _ = write!(
        s,
        "<line x1=\"0\" y1=\"{H}\" x2=\"{W}\" y2=\"{H}\" stroke=\"#888\"/>\
         <text x=\"0\" y=\"{}\" font-size=\"10\">{}</text>\
         <text x=\"{W}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{}</text></svg>",
        H + 14.0,
        esc(&format!("{:.4}", h.lo)),
        H + 14.0,
        esc(&format!("{:.4}", h.hi))
    );
    s
}

/// Inline SVG of the review rate and the human-policy agreement over the batches (in report
/// order), each with its Wilson interval as a vertical bar; missing values leave gaps.
pub fn series_svg(r: &Value) -> String {
    const W: f64 = 480.0;
    const H: f64 = 160.0;
    const PAD: f64 = 30.0;
    let batches = r["batches"].as_array().cloned().unwrap_or_default();
    let n = batches.len();
    let x = |i: usize| {
        if n <= 1 {
            PAD + (W - 2.0 * PAD) / 2.0
        } else {
            PAD + i as f64 * (W - 2.0 * PAD) / (n - 1) as f64
        }
    };
    let y = |v: f64| H - v.clamp(0.0, 1.0) * (H - 10.0);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{}\" role=\"img\">\
         <title>review rate and agreement over batches</title>\
         <line x1=\"{PAD}\" y1=\"{H}\" x2=\"{}\" y2=\"{H}\" stroke=\"#888\"/>\
         <text x=\"0\" y=\"{}\" font-size=\"10\">100%</text>\
         <text x=\"0\" y=\"{H}\" font-size=\"10\">0%</text>",
        H + 34.0,
        W - PAD,
        y(1.0) + 4.0
    );
    fn review(b: &Value) -> (&Value, &Value) {
        (&b["review_rate"], &b["review_rate_ci95"])
    }
    fn agreement(b: &Value) -> (&Value, &Value) {
        (&b["human_policy"]["agreement"], &b["human_policy"]["ci95"])
    }
    type Get = fn(&Value) -> (&Value, &Value);
    let series: [(&str, Get); 2] = [("#ff7f0e", review), ("#1f77b4", agreement)];
    for (colour, get) in series {
        let mut segment: Vec<String> = Vec::new();
        let mut lines = Vec::new();
        for (i, b) in batches.iter().enumerate() {
            let (v, ci) = get(b);
            match v.as_f64() {
                Some(v) => {
                    segment.push(format!("{:.1},{:.1}", x(i), y(v)));
                    if let (Some(lo), Some(hi)) = (ci[0].as_f64(), ci[1].as_f64()) {
                        let _ = write!(
                            s,
                            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{1:.1}\" y2=\"{2:.1}\" \
                             stroke=\"{colour}\" stroke-opacity=\"0.5\"/>",
                            x(i),
                            y(lo),
                            y(hi)
                        );
                    }
                    let _ = write!(
                        s,
                        "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{colour}\"/>",
                        x(i),
                        y(v)
                    );
                }
                None => lines.push(std::mem::take(&mut segment)),
            }
        }
        lines.push(segment);
        for l in lines.into_iter().filter(|l| l.len() > 1) {
            let _ = write!(
                s,
                "<polyline fill=\"none\" stroke-width=\"1.5\" stroke=\"{colour}\" points=\"{}\"/>",
                l.join(" ")
            );
        }
    }
    for (i, b) in batches.iter().enumerate() {
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
            x(i),
            H + 14.0,
            esc(b["batch"].as_str().unwrap_or(""))
        );
    }
    let _ = write!(
        s,
        "<text x=\"{PAD}\" y=\"{}\" font-size=\"10\" fill=\"#ff7f0e\">review rate</text>\
         <text x=\"{}\" y=\"{}\" font-size=\"10\" fill=\"#1f77b4\">human-policy agreement</text></svg>",
        H + 30.0,
        PAD + 90.0,
        H + 30.0
    );
    s
}

pub fn render_html(r: &Value, batches: &BTreeMap<String, Batch>, keys: &[String]) -> String {
    let mut s = String::from(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Assay batch monitor</title>\
         <style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}\
         td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}\
         td:first-child,td:nth-child(2){text-align:left}.drift{color:#b00;font-weight:bold}\
         .plots{display:flex;flex-wrap:wrap;gap:1em}</style></head><body>\n",
    );
    let _ = writeln!(
        s,
        "<h1>Assay batch monitor</h1><p>Batches by <code>{}</code>; baseline <code>{}</code>.</p>",
        esc(r["by"].as_str().unwrap_or("")),
        esc(r["baseline"].as_str().unwrap_or(""))
    );
    for k in [
        "drift_rule",
        "review_rate_rule",
        "agreement_rule",
        "interval",
    ] {
        let _ = writeln!(s, "<p>{}: {}</p>", k, esc(r[k].as_str().unwrap_or("")));
    }
    let table = |head: &[&str], rows: Vec<Vec<String>>| {
        let mut t = String::from("<table><tr>");
        for h in head {
            let _ = write!(t, "<th>{}</th>", esc(h));
        }
        t += "</tr>\n";
        for row in rows {
            t += "<tr>";
            for c in row {
                let class = if c == "DRIFT" { " class=\"drift\"" } else { "" };
                let _ = write!(t, "<td{class}>{}</td>", esc(&c));
            }
            t += "</tr>\n";
        }
        t + "</table>\n"
    };
    s += "<h2>Batches</h2>\n";
    s += &table(
        &BATCH_HEAD,
        batch_cells(r).into_iter().map(|c| c.to_vec()).collect(),
    );
    s += "<h2>Review rate and agreement over batches</h2>\n";
    let _ = writeln!(
        s,
        "<p>Batches in {} order; bars: Wilson 95 % intervals; gaps: no data.</p>{}",
        esc(r["order"].as_str().unwrap_or("report")),
        series_svg(r)
    );
    s += "<h2>Histograms</h2>\n<p>";
    for (i, name) in batches.keys().enumerate() {
        let _ = write!(
            s,
            "<span style=\"color:{}\">&#9632; {}</span> ",
            COLOURS[i % COLOURS.len()],
            esc(name)
        );
    }
    s += "</p><div class=\"plots\">\n";
    for key in keys {
        let _ = writeln!(
            s,
            "<figure><figcaption>{}</figcaption>{}</figure>",
            esc(key),
            histogram_svg(key, batches)
        );
    }
    s += "</div>\n<h2>Signals</h2>\n";
    s += &table(
        &SIGNAL_HEAD,
        signal_cells(r).into_iter().map(|c| c.to_vec()).collect(),
    );
    s += "</body></html>\n";
    s
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
        let b = &r["batches"];
        assert_eq!(b[0]["baseline"], json!(true));
        assert!(b[0]["signals"]["x"].get("drift").is_none());
        assert_eq!(b[1]["signals"]["x"]["drift"], json!(false));
        assert_eq!(b[2]["signals"]["x"]["drift"], json!(true));
        let d = b[2]["signals"]["x"]["ks"]["statistic"].as_f64().unwrap();
        assert!((d - 0.5).abs() <= 0.005, "{d}");
        assert_eq!(b[0]["review_rate"], json!(0.05));
        assert_eq!(b[1]["review_rate"], json!(0.25));
        assert_eq!(b[1]["human_policy"]["agreement"], json!(0.5));
        assert_eq!(b[0]["human_policy"]["agreement"], Value::Null);
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
        assert_eq!(
            r["order"],
            json!("chronological (UTC day of the first scan)")
        );
        assert_eq!(
            r["series"]["batch"],
            json!(["2025-12-31", "2026-11-30", "2026-12-01"])
        );
        assert_eq!(r["series"]["agreement"], json!([null, null, 0.5]));
        assert_eq!(r["series"]["review_rate"], json!([0.0, 0.0, 0.5]));
        let ci = &r["batches"][2]["human_policy"]["ci95"];
        let (lo, hi) = (ci[0].as_f64().unwrap(), ci[1].as_f64().unwrap());
        // statsmodels proportion_confint(1, 2, method="wilson") = (0.0945312, 0.9054688)
        assert!((lo - 0.094_531_2).abs() < 1e-6 && (hi - 0.905_468_8).abs() < 1e-6);
        assert_eq!(r["batches"][0]["human_policy"]["ci95"], Value::Null);
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
