//! `assay bench clip`: CLIP image-tower throughput with random weights (built-in ViT-B/32,
//! ViT-L/14, or the tiny test model), images/s per backend and batch size, next to
//! `scripts/bench_clip_torch.py` (open_clip, same shapes, random init) when `--python` is given.
//! Preprocessing is excluded on both sides (a fixed normalised tensor is fed); each repetition
//! perturbs the input so nothing is cached.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::Context as _;
use serde_json::json;

use crate::models::backend::{self, BackendChoice};
use crate::models::clip::{Clip, ClipConfig};

/// Arguments of `assay bench clip`.
#[derive(Debug, Clone, clap::Args)]
pub struct ClipBenchArgs {
    /// Architectures: ViT-B-32, ViT-B-16, ViT-L-14, ViT-L-14-336, or `tiny` (the test model's
    /// config from tests/data/clip_tiny/hf).
    #[arg(long, value_delimiter = ',', default_value = "ViT-B-32,ViT-L-14")]
    pub arch: Vec<String>,
    /// Batch sizes (ViT-L models use at most 8).
    #[arg(long, value_delimiter = ',', default_value = "1,16")]
    pub batch: Vec<usize>,
    /// Timed repetitions per batch size (after one warm-up).
    #[arg(long, default_value_t = 3)]
    pub reps: usize,
    /// Also time wgpu.
    #[arg(long)]
    pub wgpu: bool,
    /// Skip the CPU (flex) run.
    #[arg(long)]
    pub no_cpu: bool,
    /// Run the PyTorch baseline with this interpreter (e.g. /tmp/clip-venv/bin/python).
    #[arg(long)]
    pub python: Option<String>,
    /// Extra arguments for the baseline (e.g. "--cuda").
    #[arg(long, allow_hyphen_values = true)]
    pub python_args: Option<String>,
}

fn peak_rss_mb() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn config(arch: &str) -> anyhow::Result<ClipConfig> {
    if arch == "tiny" {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/clip_tiny/hf/config.json");
        let t = std::fs::read_to_string(&p).with_context(|| p.display().to_string())?;
        return Ok(ClipConfig::from_hf_json(&t)?);
    }
    ClipConfig::builtin(arch).with_context(|| format!("unknown architecture {arch}"))
}

pub fn run(a: &ClipBenchArgs) -> anyhow::Result<u8> {
    let mut backends = Vec::new();
    if !a.no_cpu {
        backends.push(("flex", BackendChoice::Flex));
    }
    if a.wgpu {
        backends.push(("wgpu", BackendChoice::Wgpu));
    }
    let mut results = Vec::new();
    for (label, choice) in backends {
        let sel = backend::select(choice)?;
        eprintln!("bench clip: {}", sel.describe());
        for arch in &a.arch {
            let cfg = config(arch)?;
            let t0 = Instant::now();
            let clip = Clip::random(&cfg, &sel.device, 1)?;
            let load_s = t0.elapsed().as_secs_f64();
            let s = cfg.vision.image_size;
            for &b in &a.batch {
                let b = if cfg.vision.tower.width >= 1024 {
                    b.min(8)
                } else {
                    b
                };
                let base: Vec<f32> = (0..b * 3 * s * s)
                    .map(|i| ((i * 2_654_435_761) % 1000) as f32 / 500.0 - 1.0)
                    .collect();
                let run = |k: usize| -> anyhow::Result<f64> {
                    let px: Vec<f32> = base.iter().map(|v| v + k as f32 * 1e-3).collect();
                    let t = Instant::now();
                    let e = clip.embed_pixels(px, b)?;
                    anyhow::ensure!(e.len() == b, "batch");
                    Ok(t.elapsed().as_secs_f64())
                };
                let warm = run(0)?;
                let mut times = Vec::new();
                for k in 1..=a.reps.max(1) {
                    times.push(run(k)?);
                }
                times.sort_by(f64::total_cmp);
                let med = times[times.len() / 2];
                let ips = b as f64 / med;
                eprintln!(
                    "  {arch} batch {b}: {ips:.2} images/s (median {:.1} ms/batch, warm-up {:.1} s)",
                    med * 1e3,
                    warm
                );
                results.push(json!({
                    "backend": label, "adapter": sel.describe(), "arch": arch, "batch": b,
                    "images_per_s": ips, "median_batch_ms": med * 1e3, "warmup_s": warm,
                    "build_s": load_s, "times_s": times,
                }));
            }
        }
    }
    let mut baseline = serde_json::Value::Null;
    if let Some(py) = &a.python {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bench_clip_torch.py");
        let mut cmd = Command::new(py);
        cmd.arg(&script)
            .arg("--arch")
            .arg(a.arch.join(","))
            .arg("--batch")
            .arg(
                a.batch
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
            )
            .arg("--reps")
            .arg(a.reps.to_string());
        if let Some(extra) = &a.python_args {
            cmd.args(extra.split_whitespace());
        }
        let out = cmd.output().with_context(|| format!("running {py}"))?;
        if out.status.success() {
            baseline = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
        } else {
            eprintln!("baseline failed: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
    // images/s ratio against the baseline's CPU fp32 rows, same arch and batch.
    if let Some(rows) = baseline.get("results").and_then(|r| r.as_array()) {
        for r in &mut results {
            let m = rows.iter().find(|b| {
                b["device"] == "cpu" && b["arch"] == r["arch"] && b["batch"] == r["batch"]
            });
            if let (Some(m), Some(ours)) = (m, r["images_per_s"].as_f64())
                && let Some(theirs) = m["images_per_s"].as_f64()
            {
                r["ratio_vs_torch_cpu"] = json!(ours / theirs);
            }
        }
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "assay": results, "torch": baseline, "peak_rss_mb": peak_rss_mb(),
        }))?
    );
    Ok(0)
}
