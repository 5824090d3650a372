//! `assay monitor DIR --by FIELD`: batch monitoring of one collection. Per batch (a table
//! column such as `model` or `tool`, or `folder` = first path component): N, each signal's
//! mean with a 95 % interval, KS and PSI against the baseline batch with a drift flag, the
//! review rate (share of images whose latest decision is `review`) and human-vs-policy
//! agreement on images that both decided. Text, JSON, Markdown or a self-contained HTML report
//! (inline SVG histograms). Decisions are read through `store` only.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use serde_json::{Value, json};

use super::UsageError;
use crate::ranking::drift;
use crate::store::{SignalValue, Store};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum MonitorFormat {
    Text,
    Json,
    Markdown,
    Html,
}

#[derive(Debug, clap::Args)]
pub struct MonitorArgs {
    /// Scanned collection folder.
    pub dir: PathBuf,
    /// Database path (default DIR/.assay/assay.db).
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Batch field: a column of `assay table --list-columns` (e.g. model, tool) or `folder`.
    #[arg(long)]
    pub by: String,
    /// Baseline batch (default: the first batch in sorted order).
    #[arg(long)]
    pub baseline: Option<String>,
    /// Signals to monitor, comma-separated (default: the classical numeric signals).
    #[arg(long, value_delimiter = ',')]
    pub signals: Vec<String>,
    /// PSI bins (baseline quantiles).
    #[arg(long, default_value_t = 10)]
    pub bins: usize,
    /// Drift when the KS p-value is below this ...
    #[arg(long, default_value_t = 0.01)]
    pub alpha: f64,
    /// ... or when PSI reaches this.
    #[arg(long, default_value_t = drift::PSI_SIGNIFICANT)]
    pub psi_threshold: f64,
    #[arg(long, value_enum, default_value_t = MonitorFormat::Text)]
    pub format: MonitorFormat,
    /// Write the report to this file instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// One batch's raw data.
#[derive(Debug, Default, Clone)]
pub struct Batch {
    pub n: usize,
    pub review: usize,
    pub decided: usize,
    /// Per signal, the finite values.
    pub values: BTreeMap<String, Vec<f64>>,
    /// (human status, policy status) pairs.
    pub pairs: Vec<(String, String)>,
}

pub fn run(args: &MonitorArgs) -> anyhow::Result<u8> {
    if args.by != "folder" && !crate::table::is_column(&args.by) {
        return Err(UsageError(format!(
            "unknown --by field '{}'; use `folder` or a column of `assay table --list-columns`",
            args.by
        ))
        .into());
    }
    let (path, _) = Store::locate(&args.dir, args.db.as_deref(), false);
    if !path.exists() {
        return Err(UsageError(format!(
            "no catalogue for {}; run `assay scan {}` first",
            args.dir.display(),
            args.dir.display()
        ))
        .into());
    }
    let store = Store::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
    let keys: Vec<String> = if args.signals.is_empty() {
        crate::signals::classical_feature_keys()
            .into_iter()
            .map(String::from)
            .collect()
    } else {
        args.signals.clone()
    };
    let batches = load_batches(&store, &args.by, &keys)?;
    let baseline = match &args.baseline {
        Some(b) if batches.contains_key(b) => b.clone(),
        Some(b) => {
            return Err(UsageError(format!(
                "no batch '{b}' for --by {}; batches: {}",
                args.by,
                batches.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
            .into());
        }
        None => batches
            .keys()
            .next()
            .cloned()
            .ok_or_else(|| UsageError(format!("no images in {}", args.dir.display())))?,
    };
    let opt = Thresholds {
        bins: args.bins,
        alpha: args.alpha,
        psi: args.psi_threshold,
    };
    let report = evaluate(&args.by, &baseline, &keys, &batches, &opt);
    let text = match args.format {
        MonitorFormat::Json => serde_json::to_string_pretty(&report)? + "\n",
        MonitorFormat::Text => render_text(&report),
        MonitorFormat::Markdown => render_markdown(&report),
        MonitorFormat::Html => render_html(&report, &batches, &keys),
    };
    match &args.out {
        Some(p) => {
            std::fs::write(p, text).with_context(|| format!("cannot write {}", p.display()))?;
            eprintln!("wrote {}", p.display());
        }
        None => print!("{text}"),
    }
    Ok(0)
}

/// Reads every current image's batch key, signals and decisions through the store.
pub fn load_batches(
    store: &Store,
    by: &str,
    keys: &[String],
) -> anyhow::Result<BTreeMap<String, Batch>> {
    let rows = store.image_rows(false)?;
    let pairs: BTreeMap<i64, (String, String)> = store
        .human_policy_statuses()?
        .into_iter()
        .map(|(id, h, p)| (id, (h, p)))
        .collect();
    let mut out: BTreeMap<String, Batch> = BTreeMap::new();
    for r in &rows {
        let k = if by == "folder" {
            r.path
                .split_once('/')
                .map_or(".", |(first, _)| first)
                .to_string()
        } else {
            match crate::table::value(r, by) {
                crate::selection::Value::Null => "(none)".to_string(),
                v => crate::table::to_csv(&v),
            }
        };
        let b = out.entry(k).or_default();
        b.n += 1;
        if let Some(s) = &r.status {
            if s != "none" {
                b.decided += 1;
            }
            if s == "review" {
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
        if let Some(p) = pairs.get(&r.id) {
            b.pairs.push(p.clone());
        }
    }
    Ok(out)
}

/// Drift thresholds.
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    pub bins: usize,
    pub alpha: f64,
    pub psi: f64,
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
        out.push(json!({
            "batch": name,
            "n": b.n,
            "baseline": name == baseline,
            "review": b.review,
            "decided": b.decided,
            "review_rate": if b.n > 0 { num(b.review as f64 / b.n as f64) } else { Value::Null },
            "human_policy": {
                "n": b.pairs.len(),
                "agree": agree,
                "agreement": if b.pairs.is_empty() { Value::Null }
                             else { num(agree as f64 / b.pairs.len() as f64) },
            },
            "drifted_signals": signals.iter()
                .filter(|(_, s)| s["drift"] == json!(true))
                .map(|(k, _)| k.clone()).collect::<Vec<_>>(),
            "signals": signals,
        }));
    }
    json!({
        "by": by,
        "baseline": baseline,
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
        "interval": "mean ± 1.96 s/√n (normal approximation)",
        "batches": out,
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

fn batch_cells(r: &Value) -> Vec<[String; 6]> {
    r["batches"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|b| {
            [
                b["batch"].as_str().unwrap_or("").to_string(),
                b["n"].to_string(),
                format!("{} ({})", pct(&b["review_rate"]), b["review"]),
                format!(
                    "{} of {}",
                    pct(&b["human_policy"]["agreement"]),
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
    "review rate",
    "human-policy agreement",
    "drifted signals",
    "",
];
const SIGNAL_HEAD: [&str; 9] = [
    "batch", "signal", "n", "mean", "95% CI", "KS D", "KS p", "PSI", "drift",
];

pub fn render_text(r: &Value) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "by {}; baseline {}", r["by"], r["baseline"]);
    let _ = writeln!(s, "{}", r["drift_rule"].as_str().unwrap_or(""));
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{:<20} {:>6} {:>14} {:>22} {:>8}",
        "batch", "N", "review rate", "human-policy", "drifted"
    );
    for c in batch_cells(r) {
        let _ = writeln!(
            s,
            "{:<20} {:>6} {:>14} {:>22} {:>8} {}",
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
    let _ = writeln!(s, "- Interval: {}\n", r["interval"].as_str().unwrap_or(""));
    let _ = writeln!(s, "## Batches\n");
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

/// Inline SVG: one density polyline per batch over 30 common bins of the pooled range.
pub fn histogram_svg(key: &str, batches: &BTreeMap<String, Batch>) -> String {
    const W: f64 = 360.0;
    const H: f64 = 140.0;
    const BINS: usize = 30;
    let all = batches
        .values()
        .flat_map(|b| b.values.get(key).into_iter().flatten().copied());
    let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{}\" \
         role=\"img\"><title>{}</title>",
        H + 20.0,
        esc(key)
    );
    if !lo.is_finite() {
        s += "<text x=\"10\" y=\"20\">no values</text></svg>";
        return s;
    }
    let width = if hi > lo { hi - lo } else { 1.0 };
    let shares: Vec<(usize, Vec<f64>)> = batches
        .values()
        .enumerate()
        .filter_map(|(i, b)| {
            let xs = b.values.get(key)?;
            let mut c = vec![0.0; BINS];
            for &x in xs {
                let k = (((x - lo) / width) * BINS as f64) as usize;
                c[k.min(BINS - 1)] += 1.0 / xs.len() as f64;
            }
            Some((i, c))
        })
        .collect();
    let top = shares
        .iter()
        .flat_map(|(_, c)| c.iter().copied())
        .fold(0.0f64, f64::max)
        .max(1e-12);
    for (i, c) in &shares {
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
        esc(&format!("{lo:.4}")),
        H + 14.0,
        esc(&format!("{hi:.4}"))
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
                .map(|(h, p)| (h.to_string(), p.to_string()))
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
        assert_eq!(html.matches("<polyline").count(), 3);
    }
}
