//! The report's renderers: aligned text, Markdown and a self-contained HTML page with inline
//! SVG plots (`assay monitor --format text|markdown|html` and the GUI's "Export report"). They
//! read the typed [`MonitorReport`]; numbers that are missing or not finite print as `n/a`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::report::{BatchReport, MonitorReport, ends, finite};
use super::{Batch, histograms};

/// `v` with `digits` decimals (`n/a` when missing or not finite).
fn f(v: Option<f64>, digits: usize) -> String {
    finite(v).map_or_else(|| "n/a".to_string(), |x| format!("{x:.digits$}"))
}

/// A rate in percent: `12.5 %` (`n/a` when missing or not finite).
fn pct(v: Option<f64>) -> String {
    finite(v).map_or_else(|| "n/a".to_string(), |x| format!("{:.1} %", 100.0 * x))
}

/// One line per (batch, signal) as table cells: batch, signal, n, mean, ci, KS D, KS p, PSI,
/// drift.
fn signal_cells(r: &MonitorReport) -> Vec<[String; 9]> {
    let mut rows = Vec::new();
    for b in &r.batches {
        for (key, s) in &b.signals {
            let [lo, hi] = ends(s.ci95);
            rows.push([
                b.batch.clone(),
                key.clone(),
                s.n.to_string(),
                f(s.mean, 4),
                format!("[{}, {}]", f(lo, 4), f(hi, 4)),
                f(s.ks.map(|k| k.statistic), 3),
                finite(s.ks.map(|k| k.p_value))
                    .map_or_else(|| "n/a".to_string(), |p| format!("{p:.2e}")),
                f(s.psi, 3),
                match s.drift {
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
fn pct_ci(v: Option<f64>, ci: Option<[f64; 2]>) -> String {
    match (finite(v), ends(ci)) {
        (Some(x), [Some(lo), Some(hi)]) => {
            format!("{:.1} % [{:.1}, {:.1}]", 100.0 * x, 100.0 * lo, 100.0 * hi)
        }
        _ => pct(v),
    }
}

/// One line per batch as table cells: batch, N, review rate, agreement, drifted signals,
/// `baseline`.
fn batch_cells(r: &MonitorReport) -> Vec<[String; 6]> {
    r.batches
        .iter()
        .map(|b| {
            let hp = &b.human_policy;
            [
                b.batch.clone(),
                b.n.to_string(),
                format!(
                    "{} ({})",
                    pct_ci(b.review_rate, b.review_rate_ci95),
                    b.review
                ),
                format!("{} of {}", pct_ci(hp.agreement, hp.ci95), hp.n),
                b.drifted_signals.len().to_string(),
                if b.baseline {
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

/// `s` as a JSON string literal (quoted and escaped), as the text report names `by` and the
/// baseline.
fn quoted(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// The aligned text report (`--format text`).
pub fn render_text(r: &MonitorReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "by {}; baseline {}; batches in {} order",
        quoted(&r.by),
        quoted(&r.baseline),
        r.order
    );
    let _ = writeln!(s, "{}", r.drift_rule);
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

/// One Markdown table row (`|` in a cell escaped).
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

/// The Markdown report (`--format markdown`).
pub fn render_markdown(r: &MonitorReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Assay batch monitor\n");
    let _ = writeln!(s, "Batches by `{}`; baseline `{}`.\n", r.by, r.baseline);
    let _ = writeln!(s, "- Drift: {}", r.drift_rule);
    let _ = writeln!(s, "- Review rate: {}", r.review_rate_rule);
    let _ = writeln!(s, "- Agreement: {}", r.agreement_rule);
    let _ = writeln!(s, "- Interval: {}", r.interval);
    let _ = writeln!(s, "- Order: {}\n", r.order);
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
pub fn series_svg(r: &MonitorReport) -> String {
    const W: f64 = 480.0;
    const H: f64 = 160.0;
    const PAD: f64 = 30.0;
    let batches = &r.batches;
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
    fn review(b: &BatchReport) -> (Option<f64>, Option<[f64; 2]>) {
        (b.review_rate, b.review_rate_ci95)
    }
    fn agreement(b: &BatchReport) -> (Option<f64>, Option<[f64; 2]>) {
        (b.human_policy.agreement, b.human_policy.ci95)
    }
    type Get = fn(&BatchReport) -> (Option<f64>, Option<[f64; 2]>);
    let series: [(&str, Get); 2] = [("#ff7f0e", review), ("#1f77b4", agreement)];
    for (colour, get) in series {
        let mut segment: Vec<String> = Vec::new();
        let mut lines = Vec::new();
        for (i, b) in batches.iter().enumerate() {
            let (v, ci) = get(b);
            match finite(v) {
                Some(v) => {
                    segment.push(format!("{:.1},{:.1}", x(i), y(v)));
                    if let [Some(lo), Some(hi)] = ends(ci) {
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
            esc(&b.batch)
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

/// The self-contained HTML report (`--format html`, the GUI's "Export report"): the rules, the
/// batch table, the rates over batches, per-signal histograms of `batches` and the signal
/// table.
pub fn render_html(
    r: &MonitorReport,
    batches: &BTreeMap<String, Batch>,
    keys: &[String],
) -> String {
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
        esc(&r.by),
        esc(&r.baseline)
    );
    for (k, rule) in [
        ("drift_rule", r.drift_rule.as_str()),
        ("review_rate_rule", r.review_rate_rule),
        ("agreement_rule", r.agreement_rule),
        ("interval", r.interval),
    ] {
        let _ = writeln!(s, "<p>{}: {}</p>", k, esc(rule));
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
        esc(r.order),
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
