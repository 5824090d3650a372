//! `assay bench catalog`: a million-row catalogue (`--rows`) opened, sorted, filtered and
//! searched, by `assay table`'s code and in the workbench (frame times), with peak RSS.
//!
//! The collection is built once under `--corpus` (default `$TMPDIR/assay-bench`) and reused:
//! `--templates` real JPEGs (320×240, varied content) scanned by `assay scan` (faces on, no
//! CLIP), then `Store::synthesize` copies them in SQL up to `--rows` current images (jittered
//! signals, generated prompts and metadata, decisions; `store/synthetic.rs`), each copy folder
//! a symbolic link to the templates, so every row names a real file and thumbnails work. The
//! folder must not be scanned again (a scan sees each linked folder once and marks the copies
//! missing); a reused collection is checked and rebuilt when it does not hold `--rows` rows.
//!
//! Measured (each phase's peak RSS is reset through `/proc/self/clear_refs` where allowed):
//! - `open`: `Store::open` + `image_rows` (every row with metadata, decision, signals), first
//!   without the signal cache (`store/signal_cache.rs`: the signals come from SQLite and the
//!   read writes the cache), then with it, as every later open of an unchanged catalogue; the
//!   workbench part opens with the cache.
//! - `table sort` / `table where` / `table search`: `assay table`'s row selection
//!   (`cli::table::select`) on the loaded rows: sort by a signal, a two-signal `--where`, and
//!   `prompt ~ 'portrait'`; then the whole `assay table` command (open, read, select, write
//!   CSV to a sink) for the same three.
//! - The workbench (`gui::bench_catalog`): open to the first usable grid, frame times while
//!   scrolling, after a sort / filter / search change (with the time until the new order is
//!   shown), while culling with P and arrows, and its peak RSS.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::Context as _;
use rayon::prelude::*;
use serde_json::{Value as Json, json};

use super::table::{TableArgs, TableFormat};
use crate::pipeline::{self, Progress, ScanOptions};
use crate::selection::Expr;
use crate::store::Store;
use crate::store::synthetic::Synthesis;
use crate::table::Col;

#[derive(Debug, clap::Args)]
pub struct CatalogBenchArgs {
    /// Current images in the synthetic collection.
    #[arg(long, default_value_t = 1_000_000)]
    pub rows: usize,
    /// Real JPEG files the rows point at.
    #[arg(long, default_value_t = 2000)]
    pub templates: usize,
    /// Where the collection is built and reused (default: $TMPDIR/assay-bench).
    #[arg(long)]
    pub corpus: Option<PathBuf>,
    /// Frames per workbench measurement (60 per second).
    #[arg(long, default_value_t = 300)]
    pub frames: usize,
    /// Skip the workbench part.
    #[arg(long)]
    pub no_gui: bool,
    /// Only the workbench part, as JSON (the benchmark runs it in a child process of its own,
    /// so that its peak RSS is not the store part's).
    #[arg(long, hide = true)]
    pub gui_only: bool,
    #[arg(long, value_enum, default_value_t = OutFormat::Table)]
    pub format: OutFormat,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum OutFormat {
    Table,
    Json,
}

/// The `--where` filter and text search measured (also by the workbench part).
use crate::memory::{peak_rss_mb, reset_peak_rss, rss_mb};
pub use crate::store::synthetic::{
    BENCH_SEARCH as SEARCH, BENCH_SORT as SORT, BENCH_WHERE as WHERE,
};

/// Writes `n` varied 320×240 JPEGs under `dir/real/bNNN/` (blur, noise, exposure and colour
/// differ, so the signals spread as in real batches).
fn generate_templates(dir: &Path, n: usize) -> anyhow::Result<()> {
    (0..n)
        .into_par_iter()
        .try_for_each(|i| -> anyhow::Result<()> {
            let sub = dir.join(format!("real/b{:03}", i / 500));
            std::fs::create_dir_all(&sub)?;
            let f = 0.02 + (i % 7) as f32 * 0.015;
            let tint = [(i * 37) % 256, (i * 91) % 256, (i * 53) % 256];
            let noise = (i % 5) as f32 * 9.0;
            let gain = 0.55 + (i % 9) as f32 * 0.1;
            let img = image::RgbImage::from_fn(320, 240, |x, y| {
                let h = (x.wrapping_mul(73_856_093) ^ y.wrapping_mul(19_349_663) ^ (i as u32))
                    .wrapping_mul(2_654_435_761)
                    >> 24;
                let n = (h as f32 / 255.0 - 0.5) * noise;
                let wave = ((x as f32 * f).sin() * (y as f32 * f * 0.7).cos() + 1.0) * 60.0;
                let px =
                    |c: usize| ((wave + tint[c] as f32 * 0.5 + n) * gain).clamp(0.0, 255.0) as u8;
                image::Rgb([px(0), px(1), px(2)])
            });
            let img = if i % 4 == 0 {
                image::imageops::blur(&img, 1.0 + (i % 3) as f32)
            } else {
                img
            };
            img.save(sub.join(format!("img{i:05}.jpg")))?;
            Ok(())
        })
}

/// The synthetic collection of `rows` rows on `templates` files: built, or reused when a
/// previous build is complete and intact. Returns its folder and what building took.
pub fn prepare(corpus: &Path, rows: usize, templates: usize) -> anyhow::Result<(PathBuf, Json)> {
    let dir = corpus.join(format!("catalog-{rows}-t{templates}"));
    let db = Store::default_path(&dir);
    let marker = dir.join(".assay-bench-complete");
    if marker.exists() && db.exists() {
        let s = Store::open(&db)?;
        let n = s.image_rows_count()?;
        if n == rows {
            return Ok((dir, json!({"reused": true})));
        }
        eprintln!(
            "{}: {n} current rows, not {rows}; rebuilding",
            dir.display()
        );
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("cannot remove {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir)?;
    let t = Instant::now();
    generate_templates(&dir, templates)?;
    let gen_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    eprintln!("scanning {templates} templates…");
    let mut opts = ScanOptions::new(&dir);
    opts.clip.enabled = false;
    pipeline::scan(&opts, &Progress::default(), &AtomicBool::new(false))?;
    let scan_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut store = Store::open(&db)?;
    let spec = Synthesis {
        rows,
        template_prefix: "real/".into(),
        copy_prefix: "copies/c".into(),
        jitter: 0.25,
    };
    let made = store.synthesize(&spec, |done, total| {
        eprint!("\rsynthesizing {done}/{total} rows");
    })?;
    eprintln!();
    drop(store);
    let synth_s = t.elapsed().as_secs_f64();
    std::fs::create_dir_all(dir.join("copies"))?;
    for c in 0..made.folders {
        #[cfg(unix)]
        std::os::unix::fs::symlink("../real", dir.join(format!("copies/c{c:05}")))?;
    }
    std::fs::write(&marker, format!("{rows}\n"))?;
    let db_mb = std::fs::metadata(&db).map_or(0.0, |m| m.len() as f64 / 1e6);
    Ok((
        dir,
        json!({
            "reused": false,
            "generate_templates_s": gen_s,
            "scan_templates_s": scan_s,
            "synthesize_s": synth_s,
            "synthesized_rows": made.added,
            "rows_per_s": made.added as f64 / synth_s.max(1e-9),
            "database_mb": db_mb,
        }),
    ))
}

fn table_args(dir: &Path, sort: Option<&str>, filter: Option<&str>, columns: &str) -> TableArgs {
    TableArgs {
        dir: dir.to_path_buf(),
        db: None,
        format: TableFormat::Csv,
        sort: sort.map(str::to_string),
        filter: filter.map(str::to_string),
        columns: Some(columns.to_string()),
        include_missing: false,
        out: None,
        list_columns: false,
    }
}

/// Seconds of `f`, and its result.
fn timed<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let t = Instant::now();
    let r = f();
    (t.elapsed().as_secs_f64(), r)
}

pub fn run(args: &CatalogBenchArgs) -> anyhow::Result<u8> {
    let corpus = args
        .corpus
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("assay-bench"));
    let (dir, build) = prepare(&corpus, args.rows, args.templates)?;
    #[cfg(feature = "gui")]
    if args.gui_only {
        reset_peak_rss();
        let g = crate::gui::bench_catalog::run(&dir, args.rows, args.frames)?;
        println!("{}", serde_json::to_string(&g)?);
        return Ok(0);
    }
    let db = Store::default_path(&dir);
    let mut report = serde_json::Map::new();
    report.insert("collection".into(), json!(dir.display().to_string()));
    report.insert("rows".into(), json!(args.rows));
    report.insert("templates".into(), json!(args.templates));
    report.insert("build".into(), build);
    report.insert(
        "threads".into(),
        json!(std::thread::available_parallelism().map_or(1, |n| n.get())),
    );

    // The store and `assay table`'s selection.
    let peak_reset = reset_peak_rss();
    let rss0 = rss_mb();
    // Cold: no signal cache (the read goes through SQLite and writes one), then warm.
    let cache = crate::store::signal_cache::path_for(&db);
    let _ = std::fs::remove_file(&cache);
    let t = Instant::now();
    let store = Store::open(&db)?;
    let (rows, read_cold) = store.image_rows_timed::<crate::store::ImageRow>(false)?;
    let open_cold_s = t.elapsed().as_secs_f64();
    drop((store, rows));
    let cache_mb = std::fs::metadata(&cache).map_or(0.0, |m| m.len() as f64 / 1e6);
    let t = Instant::now();
    let store = Store::open(&db)?;
    let open_only_s = t.elapsed().as_secs_f64();
    let (rows, read) = store.image_rows_timed::<crate::store::ImageRow>(false)?;
    let open_s = t.elapsed().as_secs_f64();
    drop(store);
    let rss_rows = rss_mb();
    let sort = [Col::of(SORT)];
    let filter = Expr::parse(WHERE)?.bind(&mut |n: &str| Col::of(n));
    let search = Expr::parse(&format!("prompt ~ '{SEARCH}'"))?.bind(&mut |n: &str| Col::of(n));
    let (sort_s, sorted) = timed(|| super::table::select(&rows, None, &sort, &[true]));
    let (where_s, filtered) = timed(|| super::table::select(&rows, Some(&filter), &[], &[]));
    let (search_s, found) = timed(|| super::table::select(&rows, Some(&search), &[], &[]));
    let n_rows = rows.len();
    drop(rows);
    report.insert(
        "store".into(),
        json!({
            "open_s": open_s,
            "store_open_s": open_only_s,
            "read": read,
            "open_cold_s": open_cold_s,
            "read_cold": read_cold,
            "signal_cache_mb": cache_mb,
            "rows_loaded": n_rows,
            "rss_before_mb": rss0,
            "rss_with_rows_mb": rss_rows,
            "sort_s": sort_s,
            "sorted": sorted.len(),
            "where_s": where_s,
            "where_matches": filtered.len(),
            "search_s": search_s,
            "search_matches": found.len(),
            "peak_rss_mb": peak_rss_mb(),
            "peak_rss_reset": peak_reset,
        }),
    );
    let cols = format!("path,{SORT},colorfulness");
    let mut cli = serde_json::Map::new();
    for (name, a) in [
        (
            "sort",
            table_args(&dir, Some(&format!("{SORT}:desc")), None, &cols),
        ),
        ("where", table_args(&dir, None, Some(WHERE), &cols)),
        (
            "search",
            table_args(&dir, None, Some(&format!("prompt ~ '{SEARCH}'")), &cols),
        ),
    ] {
        reset_peak_rss();
        let mut sink = std::io::sink();
        let (s, r) = timed(|| super::table::run_to(&a, &mut sink));
        r?;
        cli.insert(
            name.into(),
            json!({"seconds": s, "peak_rss_mb": peak_rss_mb()}),
        );
    }
    report.insert("assay_table".into(), Json::Object(cli));

    #[cfg(feature = "gui")]
    if !args.no_gui {
        report.insert("workbench".into(), workbench_in_child(args, &corpus)?);
    }
    let report = Json::Object(report);
    match args.format {
        OutFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        OutFormat::Table => print_table(&report),
    }
    Ok(0)
}

/// The workbench part in a fresh process (`--gui-only`): its peak RSS is the workbench's
/// alone, not the heap the store part left behind.
#[cfg(feature = "gui")]
fn workbench_in_child(args: &CatalogBenchArgs, corpus: &Path) -> anyhow::Result<Json> {
    let out = std::process::Command::new(std::env::current_exe()?)
        .args(["bench", "catalog", "--gui-only", "--corpus"])
        .arg(corpus)
        .args(["--rows", &args.rows.to_string()])
        .args(["--templates", &args.templates.to_string()])
        .args(["--frames", &args.frames.to_string()])
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("cannot run the workbench part")?;
    anyhow::ensure!(
        out.status.success(),
        "the workbench part failed ({})",
        out.status
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or_default();
    serde_json::from_str(last).context("the workbench part printed no JSON")
}

/// The store read's lines of [`print_table`]: cold, warm and the warm read's parts.
fn print_store_read(st: &Json, line: &dyn Fn(&str, String, &str, &str)) {
    let s = |v: &Json| v.as_f64().map_or("-".to_string(), |x| format!("{x:.2} s"));
    let mb = |v: &Json| v.as_f64().map_or("-".to_string(), |x| format!("{x:.0} MB"));
    line(
        "store: open + read every row, no signal cache",
        s(&st["open_cold_s"]),
        "",
        "",
    );
    line(
        &format!(
            "  signals {} (writing a {} cache)",
            s(&st["read_cold"]["signals_s"]),
            mb(&st["signal_cache_mb"])
        ),
        String::new(),
        "",
        "",
    );
    let cached = if st["read"]["signals_cached"] == json!(true) {
        "from the cache"
    } else {
        "cache NOT used"
    };
    line(
        &format!("store: open + read every row, signals {cached}"),
        s(&st["open_s"]),
        "",
        "",
    );
    let rd = &st["read"];
    line(
        &format!(
            "  open {} + images {} + metadata {}",
            s(&st["store_open_s"]),
            s(&rd["images_s"]),
            s(&rd["metadata_s"])
        ),
        String::new(),
        "",
        "",
    );
    line(
        &format!(
            "  + decisions {} + signals {} + earlier {}",
            s(&rd["decisions_s"]),
            s(&rd["signals_s"]),
            s(&rd["earlier_decisions_s"])
        ),
        String::new(),
        "",
        "",
    );
}

fn print_table(r: &Json) {
    let f = |v: &Json| v.as_f64();
    let ms = |v: &Json| f(v).map_or("-".to_string(), |x| format!("{:.0} ms", x * 1000.0));
    let s = |v: &Json| f(v).map_or("-".to_string(), |x| format!("{x:.2} s"));
    let mb = |v: &Json| f(v).map_or("-".to_string(), |x| format!("{x:.0} MB"));
    let ok = |v: Option<f64>, limit: f64| match v {
        Some(x) if x <= limit => "yes",
        Some(_) => "NO",
        None => "-",
    };
    println!(
        "assay bench catalog: {} rows on {} files ({}), {} threads",
        r["rows"], r["templates"], r["collection"], r["threads"]
    );
    let b = &r["build"];
    if b["reused"] == json!(false) {
        println!(
            "built: templates {} + scan {} + synthesize {} ({:.0} rows/s), database {}",
            s(&b["generate_templates_s"]),
            s(&b["scan_templates_s"]),
            s(&b["synthesize_s"]),
            f(&b["rows_per_s"]).unwrap_or(0.0),
            mb(&b["database_mb"])
        );
    } else {
        println!("reused the collection built earlier");
    }
    println!(
        "{:<46} {:>12} {:>10} {:>4}",
        "measure", "value", "target", "ok"
    );
    let line = |name: &str, v: String, target: &str, good: &str| {
        println!("{name:<46} {v:>12} {target:>10} {good:>4}");
    };
    let st = &r["store"];
    print_store_read(st, &line);
    line(
        &format!("store: sort by {SORT}"),
        ms(&st["sort_s"]),
        "200 ms",
        ok(f(&st["sort_s"]), 0.2),
    );
    line(
        &format!("store: --where ({} matches)", st["where_matches"]),
        ms(&st["where_s"]),
        "200 ms",
        ok(f(&st["where_s"]), 0.2),
    );
    line(
        &format!(
            "store: prompt ~ '{SEARCH}' ({} matches)",
            st["search_matches"]
        ),
        ms(&st["search_s"]),
        "200 ms",
        ok(f(&st["search_s"]), 0.2),
    );
    line(
        "store: RSS with the rows",
        mb(&st["rss_with_rows_mb"]),
        "",
        "",
    );
    for k in ["sort", "where", "search"] {
        let t = &r["assay_table"][k];
        line(
            &format!("assay table --{k} (whole command, CSV)"),
            s(&t["seconds"]),
            "",
            "",
        );
    }
    let w = &r["workbench"];
    if w.is_null() {
        return;
    }
    line(
        "workbench: open to first usable grid",
        s(&w["open_s"]),
        "3 s",
        ok(f(&w["open_s"]), 3.0),
    );
    for (k, label) in [
        ("scroll", "scrolling"),
        ("sort", "sort change"),
        ("where", "--where filter change"),
        ("search", "search change"),
        ("cull", "culling (P, arrows)"),
    ] {
        let m = &w[k];
        if m.is_null() {
            continue;
        }
        if let Some(t) = f(&m["view_s"]) {
            line(
                &format!("workbench: {label}: new order shown after"),
                format!("{:.0} ms", t * 1000.0),
                "200 ms",
                ok(Some(t), 0.2),
            );
        }
        let fr = &m["frames"];
        line(
            &format!("workbench: {label}: frame median"),
            format!("{:.2} ms", f(&fr["median_ms"]).unwrap_or(0.0)),
            "",
            "",
        );
        line(
            &format!("workbench: {label}: frame p99 (max)"),
            format!(
                "{:.2} ({:.0}) ms",
                f(&fr["p99_ms"]).unwrap_or(0.0),
                f(&fr["max_ms"]).unwrap_or(0.0)
            ),
            "16 ms",
            ok(f(&fr["p99_ms"]).map(|x| x / 1000.0), 0.016),
        );
    }
    line(
        "workbench: peak RSS",
        mb(&w["peak_rss_mb"]),
        "2048 MB",
        ok(f(&w["peak_rss_mb"]), 2048.0),
    );
}
