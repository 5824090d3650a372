//! The labeling results: Bradley–Terry ranking with 95 % bootstrap interval bars, agreement
//! per protocol and criterion with the reading guide, and the per-rater panel. The report is
//! computed by the statistics thread (`labeling_jobs::StatsWorker`); this file only draws it.

use eframe::egui::{self, Color32, RichText, Sense, Stroke, Vec2};

use super::Collection;
use super::theme;
use crate::human::report::{Ranking, Report, reading};

/// The results tab.
pub fn results_ui(c: &mut Collection, ui: &mut egui::Ui) {
    let l = &mut c.label;
    if !l.loaded {
        ui.spinner();
        return;
    }
    l.request_report();
    ui.horizontal(|ui| {
        ui.label("Attention threshold");
        let t = ui.add(
            egui::Slider::new(&mut l.threshold, 0.0..=1.0)
                .custom_formatter(|v, _| format!("{:.0} %", v * 100.0)),
        );
        let inc = ui.checkbox(
            &mut l.include_unreliable,
            "include raters below the threshold",
        );
        if t.changed() || inc.changed() {
            l.invalidate_report();
        }
        if !l.report_current() {
            ui.spinner();
            ui.weak("computing…");
        }
    });
    let Some(rep) = l.report.clone() else {
        return;
    };
    egui::ScrollArea::vertical().show(ui, |ui| {
        if rep.events_used == 0 {
            ui.label("No labels yet: start a session in the study setup.");
        }
        if !rep.excluded.is_empty() {
            ui.colored_label(
                theme::LEFT_OUT,
                format!(
                    "Left out of the statistics (attention pass rate below the threshold; kept in the store): {}",
                    rep.excluded.join(", ")
                ),
            );
        }
        for r in &rep.rankings {
            ranking_ui(ui, r);
        }
        agreement_ui(ui, &rep);
        raters_ui(ui, &rep);
    });
}

fn ranking_ui(ui: &mut egui::Ui, r: &Ranking) {
    ui.add_space(8.0);
    ui.label(
        RichText::new(format!(
            "Ranking · {} · {} comparisons (Bradley–Terry, 95 % bootstrap intervals)",
            r.criterion, r.comparisons
        ))
        .strong(),
    );
    let rows = match &r.rows {
        Ok(rows) => rows,
        Err(e) => {
            ui.label(format!("no ranking: {e}"));
            return;
        }
    };
    let lo = rows.iter().map(|x| x.low).fold(f64::INFINITY, f64::min);
    let hi = rows
        .iter()
        .map(|x| x.high)
        .fold(f64::NEG_INFINITY, f64::max);
    let span = (hi - lo).max(1e-9);
    egui::Grid::new(("ranking", &r.criterion))
        .striped(true)
        .num_columns(5)
        .show(ui, |ui| {
            for h in ["#", "item", "θ", "95 % interval", "n"] {
                ui.label(RichText::new(h).weak());
            }
            ui.end_row();
            for (k, row) in rows.iter().enumerate() {
                ui.label(format!("{}", k + 1));
                ui.label(&row.item);
                ui.monospace(format!("{:+.2}", row.theta));
                let (rect, _) = ui.allocate_exact_size(Vec2::new(220.0, 14.0), Sense::hover());
                let x = |v: f64| rect.left() + ((v - lo) / span) as f32 * rect.width();
                let p = ui.painter();
                p.line_segment(
                    [
                        egui::pos2(rect.left(), rect.center().y),
                        egui::pos2(rect.right(), rect.center().y),
                    ],
                    Stroke::new(1.0, theme::INTERVAL_AXIS),
                );
                p.line_segment(
                    [
                        egui::pos2(x(row.low), rect.center().y),
                        egui::pos2(x(row.high), rect.center().y),
                    ],
                    Stroke::new(4.0, theme::INTERVAL),
                );
                p.circle_filled(
                    egui::pos2(x(row.theta), rect.center().y),
                    4.0,
                    Color32::WHITE,
                );
                ui.label(format!("{}", row.comparisons));
                ui.end_row();
            }
        });
}

fn agreement_ui(ui: &mut egui::Ui, rep: &Report) {
    ui.add_space(12.0);
    ui.label(RichText::new("Agreement").strong());
    ui.weak("Krippendorff's α: ≥ 0.8 reliable · 0.667–0.8 tentative conclusions only · < 0.667 unreliable");
    if rep.agreement.is_empty() {
        ui.label("no pairwise, Likert or multi-dimensional labels yet");
        return;
    }
    egui::Grid::new("agreement")
        .striped(true)
        .num_columns(5)
        .show(ui, |ui| {
            for h in [
                "protocol",
                "criterion",
                "raters · units",
                "Krippendorff α",
                "Fleiss κ",
            ] {
                ui.label(RichText::new(h).weak());
            }
            ui.end_row();
            for a in &rep.agreement {
                ui.label(a.protocol.as_str());
                ui.label(a.criterion.as_str());
                ui.label(format!("{} · {}", a.raters, a.units));
                ui.vertical(|ui| {
                    for (level, v) in &a.alphas {
                        match v {
                            Ok(x) => ui.label(format!("{level}: {x:.3}, {}", reading(*x))),
                            Err(e) => ui.weak(format!("{level}: {e}")),
                        };
                    }
                });
                match &a.fleiss {
                    Ok((k, n)) => ui.label(format!("{k:.3} over {n} units")),
                    Err(e) => ui.weak(e.as_str()),
                };
                ui.end_row();
            }
        });
}

fn raters_ui(ui: &mut egui::Ui, rep: &Report) {
    ui.add_space(12.0);
    ui.label(RichText::new("Raters").strong());
    egui::Grid::new("raters")
        .striped(true)
        .num_columns(7)
        .show(ui, |ui| {
            for h in [
                "rater",
                "judgements",
                "sessions",
                "median time",
                "attention checks",
                "agrees with majority",
                "",
            ] {
                ui.label(RichText::new(h).weak());
            }
            ui.end_row();
            for r in &rep.raters {
                ui.label(&r.rater);
                ui.label(format!("{}", r.judgements));
                ui.label(format!("{}", r.sessions));
                ui.label(
                    r.median_response_ms
                        .map_or("–".into(), |ms| format!("{:.1} s", ms as f64 / 1000.0)),
                );
                ui.label(match r.checks.rate() {
                    Some(p) => format!(
                        "{}/{} passed ({:.0} %)",
                        r.checks.passed,
                        r.checks.checks,
                        p * 100.0
                    ),
                    None => "none".into(),
                });
                ui.label(match r.majority {
                    Some((a, n)) if n > 0 => {
                        format!("{a}/{n} ({:.0} %)", 100.0 * a as f64 / n as f64)
                    }
                    _ => "–".into(),
                });
                if r.unreliable {
                    ui.colored_label(theme::LEFT_OUT, "below threshold");
                } else {
                    ui.label("");
                }
                ui.end_row();
            }
        });
}
