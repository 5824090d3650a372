//! The report's outputs pinned byte for byte: JSON (`assay monitor --format json`), text,
//! Markdown, HTML and the series SVG of a synthetic batch set, against the files in `golden/`.
//! Those were captured from the report as it was built before it had types (a
//! `serde_json::Value`), so the key order, the missing keys, the `null`s and the number
//! formatting of the typed report are the ones the JSON always had. After an intended change
//! of the output, `ASSAY_BLESS_MONITOR=1 cargo test --lib monitor::golden` rewrites them.

use std::collections::BTreeMap;

use super::*;

/// A synthetic batch set that reaches every branch of the report: a baseline, an agreeing and
/// a shifted batch, an empty batch (null rates), a signal without values (no mean, KS or PSI),
/// a single value, an overflowing mean (not finite: `null`) and names that need quoting or
/// escaping.
fn golden_batches() -> (Vec<String>, BTreeMap<String, Batch>) {
    let s = |h: &str, p: &str| -> (Status, Status) { (h.parse().unwrap(), p.parse().unwrap()) };
    let base: Vec<f64> = (0..60).map(|i| f64::from(i) / 60.0).collect();
    let same: Vec<f64> = (0..50).map(|i| (f64::from(i) + 0.3) / 50.0).collect();
    let shifted: Vec<f64> = base.iter().map(|x| 0.7 * x + 0.45).collect();
    let ys: Vec<f64> = (0..40).map(|i| f64::from(i % 7) * 1.5 - 2.0).collect();
    let mk = |(n, review, decided): (usize, usize, usize),
              vals: Vec<(&str, Vec<f64>)>,
              pairs: Vec<(Status, Status)>| Batch {
        n,
        review,
        decided,
        values: vals.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        pairs,
    };
    let batches = BTreeMap::from([
        (
            "a".to_string(),
            mk(
                (60, 6, 30),
                vec![("x", base), ("y", ys.clone())],
                vec![
                    s("accepted", "accepted"),
                    s("rejected", "review"),
                    s("review", "review"),
                ],
            ),
        ),
        (
            "b".to_string(),
            mk(
                (50, 0, 5),
                vec![("x", same)],
                vec![s("accepted", "accepted")],
            ),
        ),
        (
            "c|<&>\"q".to_string(),
            mk(
                (60, 60, 60),
                vec![("x", shifted), ("y", vec![3.25])],
                vec![s("rejected", "accepted"), s("accepted", "rejected")],
            ),
        ),
        ("d".to_string(), Batch::default()),
        (
            "e".to_string(),
            mk(
                (3, 1, 2),
                vec![("x", vec![1e308, 1e308, 1e308]), ("y", ys[..9].to_vec())],
                vec![],
            ),
        ),
    ]);
    let keys = vec!["y".to_string(), "x".to_string(), "w".to_string()];
    (keys, batches)
}

/// (case, by, baseline, thresholds, [json, text, markdown, html, svg] as captured).
type Case = (
    &'static str,
    &'static str,
    &'static str,
    Thresholds,
    [&'static str; 5],
);

fn cases() -> [Case; 3] {
    let custom = Thresholds {
        bins: 5,
        alpha: 0.05,
        psi: 0.2,
    };
    [
        (
            "custom",
            "mo\"del",
            "a",
            custom,
            [
                include_str!("golden/custom.json"),
                include_str!("golden/custom.txt"),
                include_str!("golden/custom.md"),
                include_str!("golden/custom.html"),
                include_str!("golden/custom.svg"),
            ],
        ),
        (
            "scan",
            SCAN_DATE,
            "c|<&>\"q",
            Thresholds::default(),
            [
                include_str!("golden/scan.json"),
                include_str!("golden/scan.txt"),
                include_str!("golden/scan.md"),
                include_str!("golden/scan.html"),
                include_str!("golden/scan.svg"),
            ],
        ),
        (
            "empty-base",
            FOLDER,
            "d",
            Thresholds::default(),
            [
                include_str!("golden/empty-base.json"),
                include_str!("golden/empty-base.txt"),
                include_str!("golden/empty-base.md"),
                include_str!("golden/empty-base.html"),
                include_str!("golden/empty-base.svg"),
            ],
        ),
    ]
}

#[test]
fn typed_report_renders_exactly_as_captured() {
    const EXT: [&str; 5] = ["json", "txt", "md", "html", "svg"];
    let (keys, batches) = golden_batches();
    let bless = std::env::var_os("ASSAY_BLESS_MONITOR").is_some();
    for (case, by, baseline, t, expected) in cases() {
        let r = evaluate(by, baseline, &keys, &batches, &t);
        // As `assay monitor --format json` prints it.
        let json = serde_json::to_string_pretty(&r).unwrap() + "\n";
        // Through a `Value` (sorted keys): the typed field order is the sorted order.
        let value = serde_json::to_value(&r).unwrap();
        assert_eq!(serde_json::to_string_pretty(&value).unwrap() + "\n", json);
        let got = [
            json,
            render_text(&r),
            render_markdown(&r),
            render_html(&r, &batches, &keys),
            series_svg(&r),
        ];
        for ((ext, got), want) in EXT.iter().zip(&got).zip(expected) {
            if bless {
                let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/monitor/golden");
                std::fs::write(format!("{dir}/{case}.{ext}"), got).unwrap();
            } else {
                assert_eq!(got, want, "{case}.{ext}");
            }
        }
    }
}
