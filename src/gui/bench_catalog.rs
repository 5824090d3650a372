//! The workbench part of `assay bench catalog` (`cli/bench_catalog.rs` builds the collection):
//! the real [`App`] on a bare `egui::Context` (as `assay bench gui`, 1400×900 points, 60
//! frames per second paced with sleeps), opened on the synthetic collection without a scan.
//! Frame time is the UI thread's: `App::show` plus tessellation.
//!
//! - open: frames until the rows are loaded and the first view is on screen;
//! - scroll: a wheel step of 150 points every frame;
//! - sort / where / search: the settings change as the toolbar and filter bar change them;
//!   frames from the change on, and the time until the new order is on screen;
//! - cull: P and → alternately, one key per frame (each P appends a decision).

use std::path::Path;
use std::time::{Duration, Instant};

use eframe::egui::{self, Event, Key, Modifiers, Pos2, Rect, Vec2};
use rayon::prelude::*;
use serde_json::{Value as Json, json};

use super::bench::{Driver, peak_rss_mb, stats};
use super::thumbs::{ThumbReq, make_thumb};
use super::{App, AppOptions, Collection, Settings};
use crate::memory::{reset_peak_rss, rss_mb};
use crate::store::synthetic::{BENCH_SEARCH as SEARCH, BENCH_SORT as SORT, BENCH_WHERE as WHERE};

/// Thumbnails of the real files, made once (the grid's thumbnail pipeline has its own
/// benchmark, `assay bench gui`; here scrolling reads cached ones).
fn cache_thumbnails(dir: &Path) -> anyhow::Result<usize> {
    let thumbs = dir.join(".assay/thumbs");
    let mut files = Vec::new();
    for b in std::fs::read_dir(dir.join("real"))? {
        for f in std::fs::read_dir(b?.path())? {
            files.push(f?.path());
        }
    }
    files.par_iter().try_for_each(|p| -> anyhow::Result<()> {
        let bytes = std::fs::read(p)?;
        let req = ThumbReq {
            id: 0,
            path: p.clone(),
            hash: Some(crate::catalog::content_hash(&bytes)),
        };
        make_thumb(&thumbs, &req, false).map_err(anyhow::Error::msg)?;
        Ok(())
    })?;
    Ok(files.len())
}

fn key(k: Key) -> Vec<Event> {
    [true, false]
        .into_iter()
        .map(|pressed| Event::Key {
            key: k,
            physical_key: None,
            pressed,
            repeat: false,
            modifiers: Modifiers::NONE,
        })
        .collect()
}

impl Driver {
    /// Paced frames (60 per second) with the events `input(k)` of frame `k`, until `done`
    /// holds of the open collection and at least `frames` ran (`limit_s` at most); frame times and when `done` first
    /// held (seconds after the first frame).
    fn run_until(
        &mut self,
        frames: usize,
        limit_s: f64,
        mut input: impl FnMut(usize) -> Vec<Event>,
        done: impl Fn(Option<&Collection>) -> bool,
    ) -> (Vec<f64>, Option<f64>) {
        let start = Instant::now();
        let mut times = Vec::with_capacity(frames);
        let mut at = None;
        let mut k = 0;
        while k < frames || at.is_none() {
            let ms = self.frame(input(k));
            times.push(ms);
            if at.is_none() && done(self.app.coll.as_ref()) {
                at = Some(start.elapsed().as_secs_f64());
            }
            k += 1;
            if start.elapsed().as_secs_f64() > limit_s {
                break;
            }
            let spent = Duration::from_secs_f64(ms / 1000.0);
            std::thread::sleep(Duration::from_micros(16_667).saturating_sub(spent));
        }
        (times, at)
    }
}

/// Rows loaded and their view on screen.
fn settled(coll: Option<&Collection>) -> bool {
    coll.is_some_and(|c| c.catalogue.loaded && c.view_settled())
}

/// Runs the workbench measurements on the collection in `dir` (`rows` rows).
pub fn run(dir: &Path, rows: usize, frames: usize) -> anyhow::Result<Json> {
    let t = Instant::now();
    let thumbs = cache_thumbnails(dir)?;
    let thumbs_s = t.elapsed().as_secs_f64();
    reset_peak_rss();
    let ctx = egui::Context::default();
    let opts = AppOptions {
        dir: Some(dir.to_path_buf()),
        no_restore: true,
        no_scan: true,
        ..Default::default()
    };
    let t = Instant::now();
    let app = App::with_context(&ctx, None, opts);
    let mut d = Driver {
        ctx,
        app,
        screen: Rect::from_min_size(Pos2::ZERO, Vec2::new(1400.0, 900.0)),
        t0: Instant::now(),
    };
    let (open_frames, _) = d.run_until(1, 600.0, |_| Vec::new(), settled);
    let open_s = t.elapsed().as_secs_f64();
    let loaded = d.app.coll.as_ref().map_or(0, |c| c.catalogue.rows.len());
    anyhow::ensure!(
        loaded == rows,
        "the workbench shows {loaded} rows, not {rows}"
    );
    let rss_open = rss_mb();
    // The first screen of thumbnails.
    d.run_until(30, 10.0, |_| Vec::new(), |_| true);
    let mut out = serde_json::Map::new();
    out.insert("thumbnails_cached".into(), json!(thumbs));
    out.insert("thumbnails_s".into(), json!(thumbs_s));
    out.insert("open_s".into(), json!(open_s));
    out.insert("open_frames".into(), stats(open_frames));
    out.insert("rss_after_open_mb".into(), json!(rss_open));
    let wheel = d.wheel(-150.0);
    let (scroll, _) = d.run_until(frames, 60.0, |_| wheel.clone(), |_| true);
    let offset = d
        .app
        .coll
        .as_ref()
        .map_or(0.0, super::Collection::grid_offset);
    out.insert(
        "scroll".into(),
        json!({"frames": stats(scroll), "distance_points": offset}),
    );

    type Change = Box<dyn Fn(&mut Settings)>;
    let changes: [(&str, Change); 3] = [
        (
            "sort",
            Box::new(|s: &mut Settings| {
                s.sort.column = SORT.to_string();
                s.sort.descending = true;
            }),
        ),
        (
            "where",
            Box::new(|s: &mut Settings| s.filters.expr = WHERE.to_string()),
        ),
        (
            "search",
            Box::new(|s: &mut Settings| {
                s.filters.expr.clear();
                s.filters.search = SEARCH.to_string();
            }),
        ),
    ];
    for (name, change) in changes {
        change(&mut d.app.settings);
        if let Some(c) = d.app.coll.as_mut() {
            c.view.dirty = true;
        }
        let (times, at) = d.run_until(frames, 60.0, |_| Vec::new(), settled);
        let c = d.app.coll.as_ref();
        out.insert(
            name.into(),
            json!({
                "view_s": at,
                "computed_s": c.map(|c| c.view.seconds),
                "shown": c.map(|c| c.view.order.len()),
                "frames": stats(times),
            }),
        );
    }
    // Culling the search result: P, →, P, → … (a flag never re-sorts a million rows).
    let (times, _) = d.run_until(
        frames,
        60.0,
        |k| {
            if k % 2 == 0 {
                key(Key::P)
            } else {
                key(Key::ArrowRight)
            }
        },
        |_| true,
    );
    let (_, committed) = d.run_until(
        1,
        60.0,
        |_| Vec::new(),
        |c| c.is_some_and(|c| c.pending_writes() == 0),
    );
    out.insert(
        "cull".into(),
        json!({"frames": stats(times), "decisions_committed_after_s": committed}),
    );
    out.insert("peak_rss_mb".into(), json!(peak_rss_mb()));
    out.insert("window_points".into(), json!([1400, 900]));
    Ok(Json::Object(out))
}
