//! `assay bench scan`: a default `assay scan` (faces on; CLIP when weights are found) on folders,
//! next to `--no-faces` and next to the Python baseline (`scripts/bench_scan_baseline.py`: PIL +
//! OpenCV + ImageHash + the `mtcnn` package at the same detection resolution) in the same
//! invocation, so the ratios hold on a loaded machine.
//!
//! - Folders: the given ones, else `$ASSAY_FIXTURES` / `../shared/fixtures` and a generated
//!   corpus of `--n` (10,000) 1 MP JPEGs made at run time from the fixture images (random square
//!   crops of the photos and of the generated portraits, so many have faces; flips and
//!   exposure changes; 1024², quality 90), cached under `--corpus`.
//! - Each scan runs in a child process (this binary, `assay scan DIR --db TMP --format json`)
//!   with a fresh database, so its peak RSS (`VmHWM`, reported by the child) and time are the
//!   scan's own. Per-phase shares are the stages' busy time (decode, signals, faces, CLIP,
//!   write) over their sum: the stages overlap, so the shares say where the CPU time goes, and
//!   the slowest stage sets the pace.
//! - `--big` (default on) also generates a 99.9 MP PNG (10,000 × 9,990, an upscaled fixture
//!   photo) in a temporary folder and reports the scan's peak RSS with and without faces.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context as _, bail};
use rayon::prelude::*;
use serde_json::{Value, json};

use super::bench::baseline_script;
use crate::models::backend::BackendChoice;
use crate::ranking::rng::Rng;

#[derive(Debug, clap::Args)]
pub struct ScanBenchArgs {
    /// Folders to scan (default: the fixtures and the generated corpus).
    pub dirs: Vec<PathBuf>,
    /// Images in the generated corpus (0: none).
    #[arg(long, default_value_t = 10_000)]
    pub n: usize,
    /// Side of the generated square JPEGs (1024: 1 MP).
    #[arg(long, default_value_t = 1024)]
    pub size: u32,
    /// Where the generated corpus is cached.
    #[arg(long, default_value = "target/bench-corpus")]
    pub corpus: PathBuf,
    /// Run the Python baseline with this interpreter (environment:
    /// scripts/requirements-scan.txt) on each folder.
    #[arg(long)]
    pub python: Option<String>,
    /// Worker threads for Assay and worker processes for the baseline (default: all cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,
    /// Skip the 99.9 MP image.
    #[arg(long)]
    pub no_big: bool,
    /// Extra arguments for every `assay scan` (e.g. `--scan-arg=--no-clip`).
    #[arg(long = "scan-arg", allow_hyphen_values = true)]
    pub scan_args: Vec<String>,
}

pub fn run(args: &ScanBenchArgs) -> anyhow::Result<u8> {
    let fixtures = super::bench::default_fixtures();
    let mut targets = args.dirs.clone();
    if targets.is_empty() {
        if let Some(f) = &fixtures {
            targets.push(f.clone());
        }
        if args.n > 0 {
            let Some(f) = &fixtures else {
                bail!("the generated corpus is made from the fixtures: set ASSAY_FIXTURES");
            };
            let dir = args.corpus.join(format!("scan-{}x{}", args.n, args.size));
            generate_corpus(f, &dir, args.n, args.size)?;
            targets.push(dir);
        }
    }
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let mut results = Vec::new();
    for dir in &targets {
        eprintln!("scan (defaults) of {} …", dir.display());
        let faces = child_scan(dir, jobs, args.backend, &args.scan_args)?;
        eprintln!("scan --no-faces of {} …", dir.display());
        let mut extra = args.scan_args.clone();
        extra.push("--no-faces".into());
        let no_faces = child_scan(dir, jobs, args.backend, &extra)?;
        let baseline = match &args.python {
            Some(py) => {
                eprintln!("Python baseline on {} …", dir.display());
                Some(python_baseline(py, dir, jobs)?)
            }
            None => None,
        };
        let secs = |v: &Value| v["seconds"].as_f64();
        let ratio = |a: Option<f64>, b: Option<f64>| Some(a? / b?);
        results.push(json!({
            "dir": dir.display().to_string(),
            "assay": faces,
            "assay_no_faces": no_faces,
            "faces_time_ratio": ratio(secs(&faces), secs(&no_faces)),
            "python_baseline": baseline,
            "speedup_vs_python": baseline.as_ref().and_then(|b| ratio(b["seconds"].as_f64(), secs(&faces))),
            "speedup_vs_python_after_its_startup": baseline.as_ref().and_then(|b| ratio(
                faces["files_per_s"].as_f64(), b["files_per_s_after_startup"].as_f64()
            )),
        }));
    }
    let big = if args.no_big {
        None
    } else {
        Some(big_image(
            fixtures.as_deref(),
            jobs,
            args.backend,
            &args.scan_args,
        )?)
    };
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "bench": "scan",
            "build": if cfg!(debug_assertions) { "debug" } else { "release" },
            "cpus": std::thread::available_parallelism().map_or(1, usize::from),
            "jobs": jobs,
            "results": results,
            "big_image": big,
        }))?
    );
    Ok(0)
}

/// Runs `assay scan DIR` in a child process on a fresh database; its JSON summary reduced to
/// the numbers of the benchmark.
fn child_scan(
    dir: &Path,
    jobs: usize,
    backend: BackendChoice,
    extra: &[String],
) -> anyhow::Result<Value> {
    let tmp = tempfile_dir("scan")?;
    let exe = std::env::current_exe().context("cannot find this executable")?;
    let backend = format!("{backend:?}").to_ascii_lowercase();
    let t = Instant::now();
    let out = Command::new(exe)
        .arg("scan")
        .arg(dir)
        .arg("--db")
        .arg(tmp.join("bench.db"))
        .args(["--format", "json", "-q", "--jobs", &jobs.to_string()])
        .args(["--backend", &backend])
        .args(extra)
        .output()
        .context("cannot run assay scan")?;
    let wall = t.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&tmp);
    // 2: some inputs failed (the fixtures hold broken files on purpose).
    if !matches!(out.status.code(), Some(0 | 2)) {
        bail!(
            "assay scan {} failed ({}): {}",
            dir.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let s: Value = serde_json::from_slice(&out.stdout).context("scan summary is not JSON")?;
    let stages = s["stages"].as_array().cloned().unwrap_or_default();
    let busy: f64 = stages.iter().filter_map(|x| x["busy_s"].as_f64()).sum();
    let phases: Vec<Value> = stages
        .iter()
        .map(|x| {
            let b = x["busy_s"].as_f64().unwrap_or(0.0);
            let done = x["done"].as_f64().unwrap_or(0.0);
            let workers = x["workers"].as_f64().unwrap_or(1.0);
            json!({
                "phase": x["name"], "busy_s": b,
                "share": if busy > 0.0 { b / busy } else { 0.0 },
                "files_per_s_when_busy": if b > 0.0 { done * workers / b } else { 0.0 },
            })
        })
        .collect();
    let files = s["found"].as_f64().unwrap_or(0.0);
    Ok(json!({
        "files": s["found"], "failed": s["failed"], "images_with_faces": s["images_with_faces"],
        "seconds": s["seconds"], "process_seconds": wall,
        "files_per_s": s["seconds"].as_f64().filter(|x| *x > 0.0).map(|x| files / x),
        "peak_rss_mb": s["peak_rss_mb"], "backend": s["backend"], "phases": phases,
        "clip": s.get("clip").map(|c| json!({"model": c["model_name"], "embedded": c["embedded"]})),
        "clip_skipped": s.get("clip_skipped").is_some(),
    }))
}

fn python_baseline(py: &str, dir: &Path, jobs: usize) -> anyhow::Result<Value> {
    let script = baseline_script("bench_scan_baseline.py");
    let out = Command::new(py)
        .arg(&script)
        .arg(dir)
        .args(["--jobs", &jobs.to_string(), "--format", "json"])
        .output()
        .with_context(|| format!("cannot run {py} {}", script.display()))?;
    if !out.status.success() {
        bail!(
            "baseline failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut v: Value = serde_json::from_slice(&out.stdout)?;
    if let Some(o) = v.as_object_mut() {
        o.remove("failures");
    }
    Ok(v)
}

fn tempfile_dir(what: &str) -> anyhow::Result<PathBuf> {
    let p = std::env::temp_dir().join(format!(
        "assay-bench-{what}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    std::fs::create_dir_all(&p)?;
    Ok(p)
}

/// The fixture images the corpus is made from: every decodable photo and generated image with a
/// short side of at least 256 px, as RGB.
fn sources(fixtures: &Path) -> anyhow::Result<Vec<(String, image::RgbImage)>> {
    let mut out = Vec::new();
    for sub in ["photos", "generated"] {
        let Ok(rd) = std::fs::read_dir(fixtures.join(sub)) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for p in paths {
            let Ok(bytes) = std::fs::read(&p) else {
                continue;
            };
            let Ok(d) = crate::catalog::decode::decode(&bytes, &Default::default()) else {
                continue;
            };
            if d.width.min(d.height) >= 256 {
                out.push((p.display().to_string(), d.image.to_rgb8()));
            }
        }
    }
    if out.is_empty() {
        bail!("no fixture images under {}", fixtures.display());
    }
    Ok(out)
}

/// `n` JPEGs of `size`² from the fixtures (cached: a marker file records a complete corpus).
pub fn generate_corpus(fixtures: &Path, dir: &Path, n: usize, size: u32) -> anyhow::Result<()> {
    let marker = dir.join(format!(".complete-{n}-{size}"));
    if marker.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let src = sources(fixtures)?;
    eprintln!(
        "generating {n} JPEGs of {size}×{size} from {} fixture images in {} (cached)…",
        src.len(),
        dir.display()
    );
    (0..n)
        .into_par_iter()
        .try_for_each(|i| -> anyhow::Result<()> {
            let mut rng = Rng::new(0x5ca7 ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let (_, img) = &src[i % src.len()];
            let (w, h) = img.dimensions();
            // A square crop of 75–100 % of the short side, anywhere.
            let side = ((0.75 + 0.25 * rng.next_f64()) * f64::from(w.min(h))) as u32;
            let x = rng.below((w - side + 1) as usize) as u32;
            let y = rng.below((h - side + 1) as usize) as u32;
            let crop = image::imageops::crop_imm(img, x, y, side, side).to_image();
            let mut out =
                image::imageops::resize(&crop, size, size, image::imageops::FilterType::Triangle);
            if rng.below(2) == 1 {
                image::imageops::flip_horizontal_in_place(&mut out);
            }
            let gain = 0.85 + 0.3 * rng.next_f64();
            for p in out.pixels_mut() {
                for c in &mut p.0 {
                    *c = (f64::from(*c) * gain).round().clamp(0.0, 255.0) as u8;
                }
            }
            let mut buf = Cursor::new(Vec::new());
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, 90).encode_image(&out)?;
            std::fs::write(dir.join(format!("img_{i:05}.jpg")), buf.into_inner())?;
            Ok(())
        })?;
    std::fs::write(&marker, b"")?;
    Ok(())
}

/// Peak RSS of a scan of one 99.9 MP PNG, with and without faces.
fn big_image(
    fixtures: Option<&Path>,
    jobs: usize,
    backend: BackendChoice,
    extra: &[String],
) -> anyhow::Result<Value> {
    let dir = tempfile_dir("big")?;
    let t = Instant::now();
    let path = dir.join("big.png");
    let bytes = write_big_png(fixtures, &path)?;
    let gen_s = t.elapsed().as_secs_f64();
    eprintln!(
        "scan of a 99.9 MP PNG ({:.0} MB, made in {gen_s:.0} s) …",
        bytes as f64 / 1e6
    );
    let faces = child_scan(&dir, jobs, backend, extra);
    let mut extra = extra.to_vec();
    extra.push("--no-faces".into());
    let no_faces = child_scan(&dir, jobs, backend, &extra);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(json!({
        "width": BIG_W, "height": BIG_H, "file_mb": bytes as f64 / 1e6,
        "assay": faces?, "assay_no_faces": no_faces?,
    }))
}

/// 10,000 × 9,990 = 99.9 MP, just under the default 100 MP limit.
pub const BIG_W: u32 = 10_000;
pub const BIG_H: u32 = 9_990;

/// Writes a 99.9 MP RGB PNG: a fixture portrait upscaled (so it has a face) with mild grain,
/// or a synthetic picture without fixtures. Returns the file size. (The 300 MB of pixels are
/// held here, in the benchmark's process, not in the measured scan.)
pub fn write_big_png(fixtures: Option<&Path>, path: &Path) -> anyhow::Result<u64> {
    use image::ImageEncoder as _;
    let src = fixtures
        .map(|f| f.join("photos/astronaut.png"))
        .filter(|p| p.is_file())
        .and_then(|p| std::fs::read(p).ok())
        .and_then(|b| crate::catalog::decode::decode(&b, &Default::default()).ok())
        .map_or_else(
            || super::bench::synthetic_rgb(512, 7),
            |d| d.image.to_rgb8(),
        );
    let (sw, sh) = (f64::from(src.width()), f64::from(src.height()));
    let row_len = BIG_W as usize * 3;
    let mut px = vec![0u8; row_len * BIG_H as usize];
    px.par_chunks_mut(row_len).enumerate().for_each(|(y, row)| {
        let y = y as u32;
        let fy = ((f64::from(y) + 0.5) * sh / f64::from(BIG_H) - 0.5).clamp(0.0, sh - 1.0);
        let (y0, ty) = (fy.floor() as u32, fy - fy.floor());
        let y1 = (y0 + 1).min(src.height() - 1);
        for x in 0..BIG_W {
            let fx = ((f64::from(x) + 0.5) * sw / f64::from(BIG_W) - 0.5).clamp(0.0, sw - 1.0);
            let (x0, tx) = (fx.floor() as u32, fx - fx.floor());
            let x1 = (x0 + 1).min(src.width() - 1);
            let grain = f64::from((x.wrapping_mul(7919) ^ y.wrapping_mul(104_729)) % 7) - 3.0;
            for c in 0..3 {
                let p = |xx: u32, yy: u32| f64::from(src.get_pixel(xx, yy)[c]);
                let v = (p(x0, y0) * (1.0 - tx) + p(x1, y0) * tx) * (1.0 - ty)
                    + (p(x0, y1) * (1.0 - tx) + p(x1, y1) * tx) * ty;
                row[x as usize * 3 + c] = (v + grain).round().clamp(0.0, 255.0) as u8;
            }
        }
    });
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    image::codecs::png::PngEncoder::new_with_quality(
        file,
        image::codecs::png::CompressionType::Fast,
        image::codecs::png::FilterType::Adaptive,
    )
    .write_image(&px, BIG_W, BIG_H, image::ExtendedColorType::Rgb8)?;
    Ok(std::fs::metadata(path)?.len())
}
