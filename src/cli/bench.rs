//! `assay bench`: throughput benchmarks, each next to a baseline run in the same invocation.
//!
//! - `ingest`: a full scan (read, hash, decode, metadata, classical signals, hashes, store) into
//!   a fresh temporary database, on given folders (default: `../shared/fixtures` when present,
//!   and a generated corpus of 1024² JPEGs), next to `scripts/bench_ingest_baseline.py` (PIL +
//!   numpy + OpenCV + ImageHash) on the same folder when `--python` is given.
//! - `gui`: workbench frame time while scrolling a generated 10,000-image collection (see
//!   `gui::bench`).
//! - `catalog`: a synthetic million-row catalogue opened, sorted, filtered and searched (see
//!   `bench_catalog.rs`).
//! - `signals`: the classical signals on same-size images through the plain-Rust path and the
//!   burn tensor path (flex, and wgpu when an adapter exists), as ms per image.
//! - `faces`: MTCNN detection (pyramid, P/R/O-Net, NMS) on SIZE² images, images/s on burn flex
//!   and wgpu (`--wgpu`); the image is a fixture portrait resized to SIZE² when the fixtures
//!   exist (so R-Net and O-Net have real candidates), else a synthetic picture.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::{Context as _, bail};
use rayon::prelude::*;
use serde_json::json;

use crate::models::backend::{self, BackendChoice};
use crate::pipeline::{self, Progress, ScanOptions};
use crate::signals::{classical, tensor};

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub which: Which,
}

#[derive(Debug, clap::Subcommand)]
pub enum Which {
    /// Scan throughput (files/s) on folders, plus the generated corpus.
    Ingest {
        /// Folders to scan (default: $ASSAY_FIXTURES or ../shared/fixtures when present).
        dirs: Vec<PathBuf>,
        /// Also generate (once, cached) and scan N synthetic JPEGs of SIZE×SIZE.
        #[arg(long, default_value_t = 2000)]
        generate: usize,
        #[arg(long, default_value_t = 1024)]
        size: u32,
        /// Where the generated corpus is cached.
        #[arg(long, default_value = "target/bench-corpus")]
        corpus: PathBuf,
        /// Run the Python baseline script with this interpreter (e.g. python3) on each folder.
        #[arg(long)]
        python: Option<String>,
        /// Worker threads for both Assay and the baseline (default: all cores).
        #[arg(long)]
        jobs: Option<usize>,
        #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
        backend: BackendChoice,
    },
    /// Bradley–Terry fit + bootstrap on generated comparisons, next to `choix`
    /// (`scripts/bench_bt_choix.py`, same data) when `--python` is given.
    Bt {
        #[arg(long, default_value_t = 10_000)]
        items: usize,
        #[arg(long, default_value_t = 100_000)]
        comparisons: usize,
        #[arg(long, default_value_t = 1000)]
        bootstrap: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Interpreter for the choix baseline (e.g. python3); it stops after --max-seconds and
        /// projects the rest.
        #[arg(long)]
        python: Option<String>,
        #[arg(long, default_value_t = 300)]
        max_seconds: u64,
    },
    /// Preference-scorer training (`assay train`'s code path: cross-validation over the L2
    /// grid, refit on all pairs) on synthetic features: PAIRS Bradley–Terry pairs over ITEMS
    /// items with DIM-d Gaussian features and a random true weight vector.
    Train {
        #[arg(long, default_value_t = 10_000)]
        pairs: usize,
        #[arg(long, default_value_t = 768)]
        dim: usize,
        #[arg(long, default_value_t = 2000)]
        items: usize,
        #[arg(long, value_enum, default_value_t = crate::learn::HeadChoice::Linear)]
        head: crate::learn::HeadChoice,
        /// L2 strengths compared (comma-separated).
        #[arg(long, value_delimiter = ',', default_value = "0.001,0.01,0.1")]
        l2: Vec<f64>,
        #[arg(long, default_value_t = 5)]
        folds: usize,
        #[arg(long, default_value_t = 1)]
        repeats: usize,
        /// Full-batch epochs of the MLP head.
        #[arg(long, default_value_t = 200, alias = "max-epochs")]
        epochs: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
        backend: BackendChoice,
    },
    /// The preference-scorer flywheel on distortion sets made from the fixture photos:
    /// `assay train` and the scikit-learn baseline on the same simulated labels (learning
    /// curves), and active vs random pair scheduling (`bench_flywheel.rs`).
    Flywheel(super::bench_flywheel::FlywheelArgs),
    /// Fine-tuning the general aesthetic head on a simulated domain (tiny test CLIP, a head,
    /// a taste rotated by --angle, rater noise): held-out agreement vs label count for the
    /// general head, a head from scratch and the fine-tuned head (`pipeline::finetune_bench`).
    Finetune(super::train::BenchFinetuneArgs),
    /// Frame time of the workbench (UI thread) while scrolling a generated collection, and
    /// peak RSS.
    #[cfg(feature = "gui")]
    Gui {
        #[arg(long, default_value_t = 10_000)]
        images: usize,
        /// Frames per scroll pass (60 per second).
        #[arg(long, default_value_t = 600)]
        frames: usize,
        #[arg(long, default_value = "target/bench-corpus")]
        corpus: PathBuf,
    },
    /// A synthetic million-row catalogue: open, sort, `--where`, text search (`assay
    /// table`'s code and the workbench's frame times) and peak RSS (`bench_catalog.rs`).
    Catalog(super::bench_catalog::CatalogBenchArgs),
    /// FD + KID + PRDC on two seeded N × D Gaussian feature sets, single-thread and with the
    /// metric calls concurrent on all cores (`bench_dist.rs`).
    Dist {
        #[arg(long, default_value_t = 10_000)]
        n: usize,
        #[arg(long, default_value_t = 768)]
        d: usize,
        #[arg(long, default_value_t = 100)]
        kid_subsets: usize,
        #[arg(long, default_value_t = 1000)]
        kid_subset_size: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Run the Python baseline (`scripts/bench_dist_numpy.py`: pytorch-fid, torch-fidelity
        /// and prdc code paths) with this interpreter, single-thread and on all cores.
        #[arg(long)]
        python: Option<String>,
    },
    /// Classical signals per image: plain Rust vs burn tensors (flex, wgpu).
    Signals {
        /// Images per batch.
        #[arg(long, default_value_t = 8)]
        batch: usize,
        #[arg(long, default_value_t = 1024)]
        size: usize,
        /// Repetitions (after one warm-up).
        #[arg(long, default_value_t = 3)]
        reps: usize,
        /// Also time wgpu (lavapipe on machines without a GPU: slow cold start).
        #[arg(long)]
        wgpu: bool,
    },
    /// CLIP image towers with random weights: images/s on flex / wgpu next to PyTorch.
    Clip(super::bench_clip::ClipBenchArgs),
    /// A default `assay scan` (faces, CLIP when weights are found) next to `--no-faces` and
    /// the Python baseline: files/s, per-phase shares, peak RSS (`bench_scan.rs`).
    Scan(super::bench_scan::ScanBenchArgs),
    /// Fuzz the parsers of untrusted input (metadata, decoding, expressions, policies, label
    /// lines, .npy) with a seeded mutator over the fixtures; panics and crashes are findings.
    Fuzz(super::bench_fuzz::FuzzArgs),
    /// Cost of the catalogue's integrity check and backup on a generated catalogue.
    CatalogHealth {
        /// Images in the generated catalogue.
        #[arg(long, default_value_t = 100_000)]
        images: usize,
        /// Label events in it.
        #[arg(long, default_value_t = 200_000)]
        events: usize,
        /// Embedding dimension stored per image (0: none).
        #[arg(long, default_value_t = 768)]
        dim: usize,
        /// Where the catalogue is generated (kept for reruns).
        #[arg(long, default_value = "target/bench-catalog/assay.db")]
        db: PathBuf,
    },
    /// MTCNN face detection, images/s on burn flex (CPU) and wgpu.
    Faces {
        /// Images per detector call (same-size images share P-Net batches).
        #[arg(long, default_value_t = 4)]
        batch: usize,
        #[arg(long, default_value_t = 1024)]
        size: u32,
        /// Repetitions (after one warm-up).
        #[arg(long, default_value_t = 3)]
        reps: usize,
        /// Image to resize to SIZE² (default: the astronaut fixture portrait when present).
        #[arg(long)]
        image: Option<PathBuf>,
        /// Also time wgpu (lavapipe on machines without a GPU: slow).
        #[arg(long)]
        wgpu: bool,
        /// Skip the CPU (flex) run.
        #[arg(long)]
        no_cpu: bool,
    },
}

pub fn run(args: &BenchArgs) -> anyhow::Result<u8> {
    match &args.which {
        Which::Clip(a) => super::bench_clip::run(a),
        Which::Scan(a) => super::bench_scan::run(a),
        Which::Fuzz(a) => super::bench_fuzz::run(a),
        Which::CatalogHealth {
            images,
            events,
            dim,
            db,
        } => super::bench_health::run(*images, *events, *dim, db),
        #[cfg(feature = "gui")]
        Which::Gui {
            images,
            frames,
            corpus,
        } => {
            let r = crate::gui::bench::run(*images, corpus, *frames)?;
            println!("{}", serde_json::to_string_pretty(&r)?);
            Ok(0)
        }
        Which::Catalog(a) => super::bench_catalog::run(a),
        Which::Ingest {
            dirs,
            generate,
            size,
            corpus,
            python,
            jobs,
            backend,
        } => ingest(
            dirs,
            *generate,
            *size,
            corpus,
            python.as_deref(),
            *jobs,
            *backend,
        ),
        Which::Signals {
            batch,
            size,
            reps,
            wgpu,
        } => signals(*batch, *size, *reps, *wgpu),
        Which::Train {
            pairs,
            dim,
            items,
            head,
            l2,
            folds,
            repeats,
            epochs,
            seed,
            backend,
        } => {
            let opts = crate::learn::TrainOptions {
                head: *head,
                l2: l2.clone(),
                folds: *folds,
                repeats: *repeats,
                epochs: *epochs,
                seed: *seed,
                curve: false,
                ..crate::learn::TrainOptions::default()
            };
            train_bench(*pairs, *dim, *items, &opts, *backend)
        }
        Which::Flywheel(a) => super::bench_flywheel::run(a),
        Which::Finetune(a) => super::train::bench_finetune(a),
        Which::Faces {
            batch,
            size,
            reps,
            image,
            wgpu,
            no_cpu,
        } => faces_bench(*batch, *size, *reps, image.as_deref(), *wgpu, *no_cpu),
        Which::Dist {
            n,
            d,
            kid_subsets,
            kid_subset_size,
            seed,
            python,
        } => super::bench_dist::run(
            *n,
            *d,
            *kid_subsets,
            *kid_subset_size,
            *seed,
            python.as_deref(),
        ),
        Which::Bt {
            items,
            comparisons,
            bootstrap,
            seed,
            python,
            max_seconds,
        } => bt_bench(
            *items,
            *comparisons,
            *bootstrap,
            *seed,
            python.as_deref(),
            *max_seconds,
        ),
    }
}

/// Deterministic synthetic "photo": smooth gradients, discs and noise, so JPEG sizes and decode
/// costs are realistic.
pub fn synthetic_rgb(size: u32, seed: u64) -> image::RgbImage {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut rnd = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let cx = (rnd() % u64::from(size)) as f32;
    let cy = (rnd() % u64::from(size)) as f32;
    let r = (size / 4) as f32 + (rnd() % u64::from(size / 4).max(1)) as f32;
    let tint = [
        (rnd() % 200) as f32,
        (rnd() % 200) as f32,
        (rnd() % 200) as f32,
    ];
    let s = size as f32;
    image::RgbImage::from_fn(size, size, |x, y| {
        let (fx, fy) = (x as f32, y as f32);
        let inside = ((fx - cx).powi(2) + (fy - cy).powi(2)).sqrt() < r;
        let n = ((x.wrapping_mul(7919) ^ y.wrapping_mul(104_729)).wrapping_add(seed as u32) % 17)
            as f32;
        let base = [
            fx / s * 255.0,
            fy / s * 255.0,
            (fx + fy) / (2.0 * s) * 255.0,
        ];
        let px = |c: usize| {
            let v = if inside {
                tint[c] + 40.0
            } else {
                base[c] * 0.8
            } + n;
            v.clamp(0.0, 255.0) as u8
        };
        image::Rgb([px(0), px(1), px(2)])
    })
}

fn generate_corpus(dir: &Path, n: usize, size: u32) -> anyhow::Result<()> {
    let marker = dir.join(format!(".complete-{n}-{size}"));
    if marker.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    eprintln!(
        "generating {n} JPEGs of {size}×{size} in {} (cached)…",
        dir.display()
    );
    (0..n)
        .into_par_iter()
        .try_for_each(|i| -> anyhow::Result<()> {
            let img = synthetic_rgb(size, i as u64);
            let mut buf = Cursor::new(Vec::new());
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, 90).encode_image(&img)?;
            std::fs::write(dir.join(format!("img_{i:05}.jpg")), buf.into_inner())?;
            Ok(())
        })?;
    std::fs::write(&marker, b"")?;
    Ok(())
}

pub(crate) fn default_fixtures() -> Option<PathBuf> {
    let p = std::env::var_os("ASSAY_FIXTURES")
        .map_or_else(|| PathBuf::from("../shared/fixtures"), PathBuf::from);
    p.is_dir().then_some(p)
}

fn assay_scan(
    dir: &Path,
    jobs: Option<usize>,
    backend: BackendChoice,
) -> anyhow::Result<serde_json::Value> {
    let tmp = tempfile_dir()?;
    let mut opts = ScanOptions::new(dir);
    opts.db = Some(tmp.join("bench.db"));
    opts.jobs = jobs;
    opts.backend = backend;
    // Ingest and signals only: the CLIP runtime has its own benchmark (`assay bench clip`).
    opts.clip.enabled = false;
    let progress = Progress::default();
    let t = Instant::now();
    let s = pipeline::scan(&opts, &progress, &AtomicBool::new(false))?;
    let secs = t.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(json!({
        "files": s.found, "failed": s.failed, "seconds": secs,
        "files_per_s": s.found as f64 / secs, "backend": s.backend,
    }))
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let p = std::env::temp_dir().join(format!(
        "assay-bench-{}-{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos()
    ));
    std::fs::create_dir_all(&p)?;
    Ok(p)
}

/// A committed baseline script under `scripts/`: `$ASSAY_SCRIPTS/<name>` when that variable is
/// set, else `scripts/<name>` under the current directory when it exists (a checkout copied to
/// another machine), else the build's source tree.
pub(crate) fn baseline_script(name: &str) -> std::path::PathBuf {
    if let Some(dir) = std::env::var_os("ASSAY_SCRIPTS") {
        return Path::new(&dir).join(name);
    }
    let local = Path::new("scripts").join(name);
    if local.is_file() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(name)
}

fn python_baseline(
    python: &str,
    dir: &Path,
    jobs: Option<usize>,
) -> anyhow::Result<serde_json::Value> {
    let script = baseline_script("bench_ingest_baseline.py");
    let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let out = Command::new(python)
        .arg(&script)
        .arg(dir)
        .args(["--jobs", &jobs.to_string(), "--format", "json"])
        .output()
        .with_context(|| format!("cannot run {python} {}", script.display()))?;
    if !out.status.success() {
        bail!(
            "baseline failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

fn ingest(
    dirs: &[PathBuf],
    generate: usize,
    size: u32,
    corpus: &Path,
    python: Option<&str>,
    jobs: Option<usize>,
    backend: BackendChoice,
) -> anyhow::Result<u8> {
    let mut targets: Vec<PathBuf> = dirs.to_vec();
    if targets.is_empty()
        && let Some(f) = default_fixtures()
    {
        targets.push(f);
    }
    if generate > 0 {
        let dir = corpus.join(format!("{generate}x{size}"));
        generate_corpus(&dir, generate, size)?;
        targets.push(dir);
    }
    let mut results = Vec::new();
    for dir in &targets {
        eprintln!("scanning {} …", dir.display());
        let ours = assay_scan(dir, jobs, backend)?;
        let baseline = match python {
            Some(py) => {
                eprintln!("baseline on {} …", dir.display());
                Some(python_baseline(py, dir, jobs)?)
            }
            None => None,
        };
        let ratio = baseline.as_ref().and_then(|b| {
            Some(ours.get("files_per_s")?.as_f64()? / b.get("files_per_s")?.as_f64()?)
        });
        results.push(json!({
            "dir": dir.display().to_string(), "assay": ours, "python_baseline": baseline,
            "speedup_vs_baseline": ratio,
        }));
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({ "bench": "ingest", "results": results }))?
    );
    Ok(0)
}

fn signals(batch: usize, size: usize, reps: usize, wgpu: bool) -> anyhow::Result<u8> {
    let imgs: Vec<image::RgbImage> = (0..batch)
        .map(|i| synthetic_rgb(size as u32, i as u64))
        .collect();
    let raw: Vec<&[u8]> = imgs.iter().map(|i| i.as_raw().as_slice()).collect();
    let time = |f: &dyn Fn()| {
        f(); // warm-up (shader compile, autotune)
        let t = Instant::now();
        for _ in 0..reps {
            f();
        }
        t.elapsed().as_secs_f64() * 1000.0 / (reps * batch) as f64
    };
    let plain_1 = time(&|| {
        for r in &raw {
            std::hint::black_box(classical::compute(r, size, size));
        }
    });
    let plain_par = time(&|| {
        raw.par_iter().for_each(|r| {
            std::hint::black_box(classical::compute(r, size, size));
        });
    });
    let flex = backend::select(BackendChoice::Flex)?;
    let flex_ms = time(&|| {
        std::hint::black_box(tensor::compute_batch(&flex.device, &raw, size, size));
    });
    let mut rows = vec![
        json!({"path": "plain Rust, 1 thread", "ms_per_image": plain_1, "ratio_vs_plain_1_thread": 1.0}),
        json!({"path": "plain Rust, all cores", "ms_per_image": plain_par, "ratio_vs_plain_1_thread": plain_1 / plain_par}),
        json!({"path": "burn flex (CPU)", "ms_per_image": flex_ms, "ratio_vs_plain_1_thread": plain_1 / flex_ms}),
    ];
    if wgpu {
        match backend::select(BackendChoice::Wgpu) {
            Ok(sel) => {
                let ms = time(&|| {
                    std::hint::black_box(tensor::compute_batch(&sel.device, &raw, size, size));
                });
                rows.push(json!({"path": sel.describe(), "ms_per_image": ms, "ratio_vs_plain_1_thread": plain_1 / ms}));
            }
            Err(e) => eprintln!("wgpu skipped: {e}"),
        }
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "bench": "signals", "batch": batch, "size": size, "reps": reps, "results": rows
        }))?
    );
    Ok(0)
}

fn faces_bench(
    batch: usize,
    size: u32,
    reps: usize,
    image: Option<&Path>,
    wgpu: bool,
    no_cpu: bool,
) -> anyhow::Result<u8> {
    use crate::models::mtcnn::{Mtcnn, RgbImage};
    let source = image
        .map(Path::to_path_buf)
        .or_else(|| default_fixtures().map(|d| d.join("photos/astronaut.png")))
        .filter(|p| p.is_file());
    let (label, base) = match &source {
        Some(p) => {
            let (rgb, w, h) = super::faces::load_rgb(p)?;
            let img = image::RgbImage::from_raw(w as u32, h as u32, rgb)
                .context("decoded image has the wrong size")?;
            (
                p.display().to_string(),
                image::imageops::resize(&img, size, size, image::imageops::FilterType::Triangle),
            )
        }
        None => ("synthetic".to_string(), synthetic_rgb(size, 1)),
    };
    // Slightly different images per slot (brightness offsets) so no result can be cached.
    let imgs: Vec<image::RgbImage> = (0..batch.max(1))
        .map(|i| {
            let mut im = base.clone();
            for p in im.pixels_mut() {
                for c in &mut p.0 {
                    *c = c.saturating_add(i as u8);
                }
            }
            im
        })
        .collect();
    let views: Vec<RgbImage<'_>> = imgs
        .iter()
        .map(|i| RgbImage {
            data: i.as_raw(),
            width: size as usize,
            height: size as usize,
        })
        .collect();
    let mut rows = Vec::new();
    let mut run_on = |sel: backend::Selected| -> anyhow::Result<()> {
        let det = Mtcnn::new(&sel.device)?;
        let t0 = Instant::now();
        let warm = det.detect_batch(&views)?; // warm-up (shader compile, autotune)
        let warm_s = t0.elapsed().as_secs_f64();
        let t = Instant::now();
        for _ in 0..reps {
            std::hint::black_box(det.detect_batch(&views)?);
        }
        let secs = t.elapsed().as_secs_f64();
        let n = (reps * views.len()) as f64;
        rows.push(json!({
            "device": sel.describe(),
            "images_per_second": n / secs,
            "ms_per_image": secs * 1000.0 / n,
            "first_call_s": warm_s,
            "faces_per_image": warm.first().map_or(0, |d| d.faces.len()),
            "pnet_candidates": warm.first().map_or(0, |d| d.stage_counts[0]),
        }));
        Ok(())
    };
    if !no_cpu {
        run_on(backend::select(BackendChoice::Cpu)?)?;
    }
    if wgpu {
        match backend::select(BackendChoice::Wgpu) {
            Ok(sel) => run_on(sel)?,
            Err(e) => eprintln!("wgpu skipped: {e}"),
        }
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "bench": "faces", "image": label, "size": size, "batch": batch, "reps": reps,
            "results": rows
        }))?
    );
    Ok(0)
}

fn bt_bench(
    items: usize,
    comparisons: usize,
    rounds: usize,
    seed: u64,
    python: Option<&str>,
    max_seconds: u64,
) -> anyhow::Result<u8> {
    use crate::ranking::bt::{self, BtOptions, Outcome};
    let data = bt::bench_inputs(items, comparisons, seed);
    // Same checksum as scripts/bench_bt_choix.py prints, proving both sides fit the same data.
    let checksum = data.iter().fold(0u64, |acc, c| {
        acc.wrapping_mul(1_000_003)
            .wrapping_add(c.a as u64 * 31 + c.b as u64 * 7 + u64::from(c.outcome == Outcome::AWins))
    });
    let opts = BtOptions {
        alpha: 0.01,
        ..BtOptions::default()
    };
    let t = Instant::now();
    let fit = bt::fit(items, &data, &opts)?;
    let fit_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let ci = bt::bootstrap(items, &data, &opts, rounds, seed)?;
    let boot_s = t.elapsed().as_secs_f64();
    let ours = json!({
        "fit_s": fit_s, "iterations": fit.iterations, "bootstrap_s": boot_s, "rounds": rounds,
        "failed_rounds": ci.failed_rounds, "checksum": checksum,
    });
    let baseline = match python {
        Some(py) => {
            let script = baseline_script("bench_bt_choix.py");
            eprintln!("choix baseline (stops after {max_seconds}s and projects)…");
            let out = Command::new(py)
                .arg(&script)
                .args([
                    "--items",
                    &items.to_string(),
                    "--comparisons",
                    &comparisons.to_string(),
                    "--bootstrap",
                    &rounds.to_string(),
                    "--seed",
                    &seed.to_string(),
                    "--max-seconds",
                    &max_seconds.to_string(),
                ])
                .output()
                .with_context(|| format!("cannot run {py} {}", script.display()))?;
            if !out.status.success() {
                bail!(
                    "choix baseline failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            Some(serde_json::from_slice::<serde_json::Value>(&out.stdout)?)
        }
        None => None,
    };
    let speedup = baseline.as_ref().and_then(|b| {
        Some(json!({
            "fit": b.get("fit_s")?.as_f64()? / fit_s,
            "bootstrap": b.get("bootstrap_s_projected").or_else(|| b.get("bootstrap_s"))?.as_f64()? / boot_s,
        }))
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "bench": "bt", "items": items, "comparisons": comparisons, "alpha": 0.01,
            "assay": ours, "choix": baseline, "speedup_vs_choix": speedup,
        }))?
    );
    Ok(0)
}

/// Synthetic training data for the scorer benchmark: standard-normal features, a random unit
/// true direction scaled so that score differences have a spread of about 2 logits, outcomes
/// drawn from the Bradley–Terry probability. Returns the features, the labels and the true
/// scores.
pub fn train_bench_inputs(
    pairs: usize,
    dim: usize,
    items: usize,
    seed: u64,
) -> (crate::learn::FeatureTable, crate::learn::Labels, Vec<f64>) {
    use crate::learn::{FeatureTable, LabeledPair, Labels};
    use crate::ranking::rng::Rng;
    let mut rng = Rng::new(seed);
    let mut normal = move || {
        // Box–Muller.
        let u = rng.next_f64().max(f64::MIN_POSITIVE);
        let v = rng.next_f64();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    };
    let mut w: Vec<f64> = (0..dim).map(|_| normal()).collect();
    let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-12);
    for x in &mut w {
        *x *= 1.5 / norm;
    }
    let mut table = FeatureTable::new((0..dim).map(|j| format!("f{j}")).collect());
    let mut truth = Vec::with_capacity(items);
    for i in 0..items {
        let row: Vec<f64> = (0..dim).map(|_| normal()).collect();
        truth.push(row.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>());
        table.items.push(format!("i{i:06}"));
        table.rows.push(row.into_iter().map(Some).collect());
    }
    let mut rng = Rng::new(seed ^ 0xbeef);
    let mut out = Vec::with_capacity(pairs);
    while out.len() < pairs && items > 1 {
        let (a, b) = (rng.below(items), rng.below(items));
        if a == b {
            continue;
        }
        let p = 1.0 / (1.0 + (truth[b] - truth[a]).exp());
        let target = if rng.next_f64() < p { 1.0 } else { 0.0 };
        out.push(LabeledPair {
            a,
            b,
            target,
            event: out.len(),
        });
    }
    let labels = Labels {
        items: table.items.clone(),
        pairs: out,
        likert: Vec::new(),
    };
    (table, labels, truth)
}

fn train_bench(
    pairs: usize,
    dim: usize,
    items: usize,
    opts: &crate::learn::TrainOptions,
    choice: BackendChoice,
) -> anyhow::Result<u8> {
    use crate::learn;
    let t = Instant::now();
    let (table, labels, truth) = train_bench_inputs(pairs, dim, items, opts.seed);
    let gen_s = t.elapsed().as_secs_f64();
    let selected = backend::select(choice)?;
    // How often the labels agree with the true scores: what a perfect scorer would get.
    let agree = labels
        .pairs
        .iter()
        .filter(|p| (p.target > 0.5) == (truth[p.a] > truth[p.b]))
        .count() as f64
        / labels.pairs.len().max(1) as f64;
    let t = Instant::now();
    let trained = learn::train(&table, &labels, opts, &selected.device)?;
    let train_s = t.elapsed().as_secs_f64();
    let r = &trained.report;
    let fits = r.candidates.len() * opts.folds * opts.repeats + 1;
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "bench": "train", "pairs": pairs, "dim": dim, "items": items, "head": opts.head,
            "l2": opts.l2, "folds": opts.folds, "repeats": opts.repeats,
            "device": selected.describe(), "build": if cfg!(debug_assertions) { "debug" } else { "release" },
            "generate_s": gen_s, "train_s": train_s, "fits": fits, "s_per_fit": train_s / fits as f64,
            "chosen": r.chosen, "final_fit": r.fit,
            "training_pairs": r.split.training_pairs,
            "cv_accuracy": r.estimate.as_ref().map(|a| a.accuracy),
            "labels_agreeing_with_the_true_scores": agree,
        }))?
    );
    Ok(0)
}
