//! `assay bench gui`: frame time of the workbench while scrolling a generated collection of
//! N images (default 10,000), measured on the UI thread: the app's whole frame (`App::show`)
//! plus egui's tessellation, i.e. everything the UI thread does except the GPU submission.
//!
//! The app runs on a bare `egui::Context` at 1400×900 points, 60 frames per second paced with
//! sleeps, the pointer over the grid and a wheel step every frame. Two passes: "cold" while the
//! thumbnails are still being generated (the first open of a new batch) and "warm" once they
//! are all cached on disk (every later open). Peak RSS is the process's `VmHWM`.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use eframe::egui::{self, Event, MouseWheelUnit, Pos2, RawInput, Rect, TouchPhase, Vec2};
use rayon::prelude::*;
use serde_json::json;

use super::{App, AppOptions};
pub(super) use crate::memory::peak_rss_mb;
use crate::pipeline::{self, Progress, ScanOptions};

/// Writes `n` small, distinct JPEGs (160×120) under `dir` in folders of 500, once.
fn generate(dir: &Path, n: usize) -> anyhow::Result<()> {
    let marker = dir.join(format!(".complete-v2-{n}"));
    if marker.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    (0..n)
        .into_par_iter()
        .try_for_each(|i| -> anyhow::Result<()> {
            let sub = dir.join(format!("batch{:03}", i / 500));
            std::fs::create_dir_all(&sub)?;
            // (i mod 256, i / 256) differ for every i < 65,536: every file has its own content.
            let (a, b, c) = (i % 256, (i / 256) % 256, (i * 7919) % 256);
            let img = image::RgbImage::from_fn(160, 120, |x, y| {
                let r = ((x as usize * 3 + a) % 256) as u8;
                let g = ((y as usize * 2 + b) % 256) as u8;
                let bl = (((x + y) as usize + c) % 256) as u8;
                image::Rgb([r, g, bl])
            });
            img.save(sub.join(format!("img{i:05}.jpg")))?;
            Ok(())
        })?;
    std::fs::write(&marker, b"")?;
    Ok(())
}

pub(super) fn stats(mut ms: Vec<f64>) -> serde_json::Value {
    ms.sort_by(f64::total_cmp);
    let q = |p: f64| ms[((ms.len() - 1) as f64 * p).round() as usize];
    json!({
        "frames": ms.len(),
        "median_ms": q(0.5),
        "p99_ms": q(0.99),
        "max_ms": ms.last().copied().unwrap_or(0.0),
        "over_16ms": ms.iter().filter(|&&x| x > 16.7).count(),
    })
}

pub(super) struct Driver {
    pub ctx: egui::Context,
    pub app: App,
    pub screen: Rect,
    pub t0: Instant,
}

impl Driver {
    /// Runs one frame with `events`; returns its UI-thread time in ms.
    pub fn frame(&mut self, events: Vec<Event>) -> f64 {
        let input = RawInput {
            screen_rect: Some(self.screen),
            time: Some(self.t0.elapsed().as_secs_f64()),
            predicted_dt: 1.0 / 60.0,
            events,
            ..Default::default()
        };
        let start = Instant::now();
        let app = &mut self.app;
        let mut out = self.ctx.run_ui(input, |ui| app.show(ui));
        // No GPU here: texture uploads are the renderer's work, not the UI thread's.
        out.textures_delta.clear();
        let prims = self.ctx.tessellate(out.shapes, out.pixels_per_point);
        std::hint::black_box(prims);
        start.elapsed().as_secs_f64() * 1000.0
    }

    pub fn wheel(&self, dy: f32) -> Vec<Event> {
        vec![
            Event::PointerMoved(self.screen.center()),
            Event::MouseWheel {
                unit: MouseWheelUnit::Point,
                delta: Vec2::new(0.0, dy),
                phase: TouchPhase::Move,
                source: egui::MouseWheelSource::Unknown,
                modifiers: egui::Modifiers::NONE,
            },
        ]
    }

    /// Scrolls through the grid at 60 fps for at most `frames` frames; returns frame times.
    pub fn scroll(&mut self, dy: f32, frames: usize) -> Vec<f64> {
        let mut times = Vec::with_capacity(frames);
        for _ in 0..frames {
            let ev = self.wheel(dy);
            let ms = self.frame(ev);
            times.push(ms);
            let spent = Duration::from_secs_f64(ms / 1000.0);
            std::thread::sleep(Duration::from_micros(16_667).saturating_sub(spent));
        }
        times
    }
}

/// Runs the benchmark on a generated collection of `n` images cached under `corpus`.
pub fn run(n: usize, corpus: &Path, frames: usize) -> anyhow::Result<serde_json::Value> {
    let dir: PathBuf = corpus.join(format!("gui-{n}"));
    let t = Instant::now();
    generate(&dir, n)
        .with_context(|| format!("cannot generate the corpus in {}", dir.display()))?;
    let gen_s = t.elapsed().as_secs_f64();
    // Catalogue first (the scan has its own benchmark); the app then finds nothing to do.
    let t = Instant::now();
    let summary = pipeline::scan(
        &ScanOptions::new(&dir),
        &Progress::default(),
        &AtomicBool::new(false),
    )?;
    let scan_s = t.elapsed().as_secs_f64();
    // A cold start: no thumbnails on disk yet.
    let thumbs = dir.join(".assay/thumbs");
    let _ = std::fs::remove_dir_all(&thumbs);

    let ctx = egui::Context::default();
    let opts = AppOptions {
        dir: Some(dir.clone()),
        no_restore: true,
        ..Default::default()
    };
    let app = App::with_context(&ctx, None, opts);
    let mut d = Driver {
        ctx,
        app,
        screen: Rect::from_min_size(Pos2::ZERO, Vec2::new(1400.0, 900.0)),
        t0: Instant::now(),
    };
    let t = Instant::now();
    while !d
        .app
        .coll
        .as_ref()
        .is_some_and(|c| c.catalogue.loaded && !c.scanning() && c.catalogue.rows.len() >= n)
    {
        d.frame(Vec::new());
        std::thread::sleep(Duration::from_millis(5));
        anyhow::ensure!(
            t.elapsed() < Duration::from_secs(600),
            "the collection did not load"
        );
    }
    let open_s = t.elapsed().as_secs_f64();
    // Let the first screen of thumbnails arrive, as a user would see it.
    for _ in 0..60 {
        d.frame(Vec::new());
        std::thread::sleep(Duration::from_millis(16));
    }
    let cold = d.scroll(-150.0, frames);
    let cold_textures = d.app.coll.as_ref().map_or(0, |c| c.caches.textures.len());
    let scrolled = d
        .app
        .coll
        .as_ref()
        .map_or(0.0, super::Collection::grid_offset);
    // Wait for the background generation of every thumbnail.
    let t = Instant::now();
    while !d
        .app
        .coll
        .as_ref()
        .is_some_and(super::Collection::thumbs_settled)
    {
        d.frame(Vec::new());
        std::thread::sleep(Duration::from_millis(50));
        anyhow::ensure!(
            t.elapsed() < Duration::from_secs(1800),
            "thumbnails did not finish"
        );
    }
    let pregen_s = t.elapsed().as_secs_f64();
    let warm = d.scroll(150.0, frames);
    let cached = std::fs::read_dir(&thumbs).map_or(0, |r| r.count());
    Ok(json!({
        "images": n,
        "corpus": dir.display().to_string(),
        "generate_s": gen_s,
        "scan_s": scan_s,
        "scan_files_per_s": summary.files_per_second,
        "open_s": open_s,
        "cold_scroll": stats(cold),
        "textures_after_cold_scroll": cold_textures,
        "cold_scroll_distance_points": scrolled,
        "thumbnail_pregeneration_s": pregen_s,
        "thumbnails_cached": cached,
        "warm_scroll": stats(warm),
        "peak_rss_mb": peak_rss_mb(),
        "window_points": [1400, 900],
        "wheel_points_per_frame": 150,
    }))
}
