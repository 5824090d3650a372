//! `assay bench clip`: CLIP image-tower throughput with random weights (built-in ViT-B/32,
//! ViT-L/14, or the tiny test model), images/s per backend and batch size, next to
//! `scripts/bench_clip_torch.py` (open_clip, same shapes, random init) when `--python` is given.
//! Preprocessing is excluded on both sides (a fixed normalised tensor is fed); each repetition
//! perturbs the input so nothing is cached.
//!
//! # Measured
//!
//! - `assay bench clip` times the image towers with random weights next to
//!   `scripts/bench_clip_torch.py` (open_clip, same shapes, `--python PY [--python-args --cuda]` in
//!   the same invocation; ratios against every baseline row, `ratio_vs_torch_<device>_<dtype>`);
//!   later backends' outputs are compared with the first's (`max_rel_diff_vs_first_backend`);
//!   `--f16` runs wgpu in half precision. Measured (images/s, ratio to PyTorch in the same run):
//!   - This machine (2 cores with AVX-512, idle, release, flex vs PyTorch 2.15 CPU fp32, three
//!     runs): ViT-B/32 batch 1 7.5–8.9 (0.84–0.97×), batch 16 17.1–18.6 (1.00–1.14×); ViT-L/14
//!     batch 1 0.67–0.80 (0.69–0.84×), batch 8 0.99–1.02 (1.15–1.23×). Peak RSS 1.78 GB against
//!     2.78 GB. Batch 1 is bound by the matrix products (oneDNN's kernels are faster per core).
//!   - A lent NVIDIA H200 machine (16 Xeon cores; before `x86-v4`): flex ViT-B/32 14.0 / 47.5
//!     (batch 1 / 16; 0.34× / 0.61× PyTorch's 16-thread CPU), ViT-L/14 1.44 / 3.51 (0.29× / 0.57×;
//!     the batch split tripled batch throughput there, from 16.0 and 1.11). wgpu (Vulkan, WGSL
//!     kernels, f32): ViT-B/32 68.8 / 396, ViT-L/14 15.3 / 52.4, that is 0.15–0.23× PyTorch CUDA
//!     eager fp32 (326 / 2614, 102 / 231) and 0.06–0.28× fp16 (248 / 4726, 170 / 888); wgpu
//!     embeddings within 1.9e-6 relative of flex's for ViT-L/14. `--f16` on wgpu was no faster (486
//!     images/s for ViT-B/32 batch 16, 51 for ViT-L/14 batch 8). burn's `vulkan` feature (SPIR-V
//!     kernels) was 0.9–1.5× as fast on the H200 (ViT-L/14 23.3 / 65.3) but crashes (SIGSEGV) on
//!     lavapipe, so it is not enabled. GPU memory (nvidia-smi, whole process): wgpu 5.2 GB, PyTorch
//!     5.3 GB.

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
    /// Run the wgpu pass in half precision (the device's default float type set to f16 before
    /// any tensor exists): a comparison with PyTorch's CUDA fp16 rows. Scans use f32.
    #[arg(long, requires = "wgpu")]
    pub f16: bool,
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

fn config(arch: &str) -> anyhow::Result<ClipConfig> {
    if arch == "tiny" {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/clip_tiny/hf/config.json");
        let t = std::fs::read_to_string(&p).with_context(|| p.display().to_string())?;
        return Ok(ClipConfig::from_hf_json(&t)?);
    }
    ClipConfig::builtin(arch).with_context(|| format!("unknown architecture {arch}"))
}

/// Runs `assay bench clip` and prints its JSON (see the module docs).
pub fn run(a: &ClipBenchArgs) -> anyhow::Result<u8> {
    let mut backends = Vec::new();
    if !a.no_cpu {
        backends.push(("flex", BackendChoice::Flex));
    }
    if a.wgpu {
        backends.push(("wgpu", BackendChoice::Wgpu));
    }
    let mut results = Vec::new();
    // Warm-up embeddings of the first backend per (arch, batch): the later backends' warm-up
    // outputs (same seed, same input) are compared with them, so a fast wrong result shows.
    let mut reference: Reference = std::collections::HashMap::new();
    for (label, choice) in backends {
        let sel = backend::select(choice)?;
        let label = if a.f16 && label == "wgpu" {
            let mut device = sel.device.clone();
            device
                .configure(burn::tensor::FloatDType::F16)
                .map_err(|e| anyhow::anyhow!("wgpu in f16: {e:?}"))?;
            "wgpu-f16"
        } else {
            label
        };
        eprintln!("bench clip: {} ({label})", sel.describe());
        for arch in &a.arch {
            let cfg = config(arch)?;
            let t0 = Instant::now();
            let clip = Clip::random(&cfg, &sel.device, 1)?;
            let tower = Tower {
                label,
                sel: &sel,
                arch,
                load_s: t0.elapsed().as_secs_f64(),
                dtype: format!("{:?}", clip.model.vision.proj.dtype()).to_lowercase(),
                clip,
                cfg,
            };
            for &b in &a.batch {
                results.push(tower.time_batch(b, a.reps, &mut reference)?);
            }
        }
    }
    let baseline = match &a.python {
        Some(py) => torch_baseline(a, py)?,
        None => serde_json::Value::Null,
    };
    add_ratios(&mut results, &baseline);
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "assay": results, "torch": baseline, "peak_rss_mb": crate::memory::peak_rss_mb(),
        }))?
    );
    Ok(0)
}

/// The first backend's warm-up embeddings per (arch, batch).
type Reference = std::collections::HashMap<(String, usize), Vec<Vec<f32>>>;

/// One architecture's random-weight tower on one backend.
struct Tower<'a> {
    /// The backend's name in the results (`flex`, `wgpu`, `wgpu-f16`).
    label: &'static str,
    sel: &'a backend::Selected,
    arch: &'a str,
    /// Seconds to build the model.
    load_s: f64,
    dtype: String,
    clip: Clip,
    cfg: ClipConfig,
}

impl Tower<'_> {
    /// Times batch size `b` (at most 8 for towers 1024 wide): one warm-up, then `reps` runs on
    /// perturbed inputs; compares the warm-up output with `reference`. Returns the result row.
    fn time_batch(
        &self,
        b: usize,
        reps: usize,
        reference: &mut Reference,
    ) -> anyhow::Result<serde_json::Value> {
        let (arch, dtype) = (self.arch, &self.dtype);
        let s = self.cfg.vision.image_size;
        let b = if self.cfg.vision.tower.width >= 1024 {
            b.min(8)
        } else {
            b
        };
        let base: Vec<f32> = (0..b * 3 * s * s)
            .map(|i| ((i * 2_654_435_761) % 1000) as f32 / 500.0 - 1.0)
            .collect();
        let run = |k: usize| -> anyhow::Result<(f64, Vec<Vec<f32>>)> {
            let px: Vec<f32> = base.iter().map(|v| v + k as f32 * 1e-3).collect();
            let t = Instant::now();
            let e = self.clip.embed_pixels(px, b)?;
            anyhow::ensure!(e.len() == b, "batch");
            Ok((t.elapsed().as_secs_f64(), e))
        };
        let (warm, first) = run(0)?;
        let mut times = Vec::new();
        for k in 1..=reps.max(1) {
            times.push(run(k)?.0);
        }
        // Largest relative L2 difference of a row from the first backend's row.
        let agreement = match reference.get(&(arch.to_string(), b)) {
            None => {
                reference.insert((arch.to_string(), b), first);
                serde_json::Value::Null
            }
            Some(want) => {
                let worst = max_relative_difference(want, &first);
                eprintln!(
                    "  {arch} batch {b}: max relative difference from the first backend {worst:.2e}"
                );
                json!(worst)
            }
        };
        times.sort_by(f64::total_cmp);
        let med = times[times.len() / 2];
        let ips = b as f64 / med;
        eprintln!(
            "  {arch} {dtype} batch {b}: {ips:.2} images/s (median {:.1} ms/batch, warm-up {:.1} s)",
            med * 1e3,
            warm
        );
        Ok(json!({
            "backend": self.label, "adapter": self.sel.describe(), "arch": arch, "batch": b,
            "dtype": dtype, "images_per_s": ips, "median_batch_ms": med * 1e3, "warmup_s": warm,
            "build_s": self.load_s, "times_s": times, "max_rel_diff_vs_first_backend": agreement,
        }))
    }
}

/// The largest relative L2 difference of a row of `got` from the same row of `want`.
fn max_relative_difference(want: &[Vec<f32>], got: &[Vec<f32>]) -> f64 {
    want.iter()
        .zip(got)
        .map(|(w, g)| {
            let d: f64 = w.iter().zip(g).map(|(x, y)| f64::from(x - y).powi(2)).sum();
            let n: f64 = w.iter().map(|x| f64::from(*x).powi(2)).sum();
            (d / n.max(f64::MIN_POSITIVE)).sqrt()
        })
        .fold(0.0, f64::max)
}

/// Runs `scripts/bench_clip_torch.py` with interpreter `py` on the same shapes: its JSON, or
/// null when it failed.
fn torch_baseline(a: &ClipBenchArgs, py: &str) -> anyhow::Result<serde_json::Value> {
    let script = super::bench::baseline_script("bench_clip_torch.py");
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
    // The baseline's progress and errors go straight to our stderr.
    cmd.stderr(std::process::Stdio::inherit());
    let out = cmd.output().with_context(|| format!("running {py}"))?;
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null))
    } else {
        eprintln!("baseline failed ({})", out.status);
        Ok(serde_json::Value::Null)
    }
}

/// Adds to each result its images/s ratio against every baseline row of the same arch and
/// batch, keyed by the baseline's device and dtype (`ratio_vs_torch_cpu_float32`,
/// `ratio_vs_torch_cuda_float16`…).
fn add_ratios(results: &mut [serde_json::Value], baseline: &serde_json::Value) {
    let Some(rows) = baseline.get("results").and_then(|r| r.as_array()) else {
        return;
    };
    for r in results {
        let Some(ours) = r["images_per_s"].as_f64() else {
            continue;
        };
        let mut ratios = Vec::new();
        for m in rows
            .iter()
            .filter(|b| b["arch"] == r["arch"] && b["batch"] == r["batch"])
        {
            if let (Some(theirs), Some(dev), Some(dt)) = (
                m["images_per_s"].as_f64(),
                m["device"].as_str(),
                m["dtype"].as_str(),
            ) {
                let ratio = ours / theirs;
                eprintln!(
                    "  {} {} batch {} on {}: {ratio:.2}x torch {dev} {dt}",
                    r["arch"].as_str().unwrap_or("?"),
                    r["backend"].as_str().unwrap_or("?"),
                    r["batch"],
                    r["adapter"].as_str().unwrap_or("?"),
                );
                ratios.push((format!("ratio_vs_torch_{dev}_{dt}"), ratio));
            }
        }
        for (k, v) in ratios {
            r[k] = json!(v);
        }
    }
}
