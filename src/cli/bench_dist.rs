//! `assay bench dist`: FD + KID + PRDC (precision/recall k = 3, density/coverage k = 5) on two
//! seeded Gaussian feature sets of N × D (default 10,000 × 768; B is shifted by 0.1 in every
//! dimension and scaled by 1.1). The metrics are f64; KID spreads its subsets over rayon's
//! pool, FD and PRDC are single-threaded. The "default threads" run computes the four metric
//! calls concurrently on rayon's pool (all cores); the single-thread run does them one after
//! the other inside a one-thread pool.

use std::time::Instant;

use anyhow::Context as _;

use serde_json::json;

use crate::ranking::distribution::{Features, frechet_distance, kid, kid_subsets};
use crate::ranking::prdc::prdc;
use crate::ranking::rng::Rng;

fn gaussian(n: usize, d: usize, shift: f64, scale: f64, seed: u64) -> anyhow::Result<Features> {
    let mut rng = Rng::new(seed);
    let mut data = Vec::with_capacity(n * d);
    while data.len() < n * d {
        // Box–Muller.
        let u1 = rng.next_f64().max(f64::MIN_POSITIVE);
        let u2 = rng.next_f64();
        let r = (-2.0 * u1.ln()).sqrt();
        let t = std::f64::consts::TAU * u2;
        data.push(shift + scale * r * t.cos());
        if data.len() < n * d {
            data.push(shift + scale * r * t.sin());
        }
    }
    Ok(Features::new(n, d, data)?)
}

/// A named metric call.
type Job<'a> = (
    &'static str,
    Box<dyn Fn() -> anyhow::Result<serde_json::Value> + Sync + 'a>,
);

type Outcome = anyhow::Result<(&'static str, f64, serde_json::Value)>;

fn timed(name: &'static str, f: impl FnOnce() -> anyhow::Result<serde_json::Value>) -> Outcome {
    let t = Instant::now();
    let v = f()?;
    Ok((name, t.elapsed().as_secs_f64(), v))
}

/// Runs `scripts/bench_dist_numpy.py` with `python` (`threads` = 0: numpy's default pools).
fn baseline(
    python: &str,
    n: usize,
    d: usize,
    kid_subsets_n: usize,
    kid_size: usize,
    seed: u64,
    threads: usize,
) -> anyhow::Result<serde_json::Value> {
    let script = super::bench::baseline_script("bench_dist_numpy.py");
    let out = std::process::Command::new(python)
        .arg(&script)
        .args(["--n", &n.to_string(), "--d", &d.to_string()])
        .args(["--kid-subsets", &kid_subsets_n.to_string()])
        .args(["--kid-subset-size", &kid_size.to_string()])
        .args([
            "--seed",
            &seed.to_string(),
            "--threads",
            &threads.to_string(),
        ])
        .output()
        .with_context(|| format!("running {python} {}", script.display()))?;
    anyhow::ensure!(
        out.status.success(),
        "baseline failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).context("baseline output is not JSON")
}

/// `ours / theirs` total time (above 1: Assay is slower) and per metric.
fn ratios(ours: &serde_json::Value, theirs: &serde_json::Value) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    for key in ["fd", "kid", "prdc_k3", "prdc_k5"] {
        if let (Some(a), Some(b)) = (
            ours["metrics"][key]["seconds"].as_f64(),
            theirs["metrics"][key]["seconds"].as_f64(),
        ) {
            m.insert(key.to_string(), json!(a / b));
        }
    }
    if let (Some(a), Some(b)) = (
        ours["total_seconds"].as_f64(),
        theirs["total_seconds"].as_f64(),
    ) {
        m.insert("total".to_string(), json!(a / b));
    }
    serde_json::Value::Object(m)
}

pub fn run(
    n: usize,
    d: usize,
    kid_subsets_n: usize,
    kid_size: usize,
    seed: u64,
    python: Option<&str>,
) -> anyhow::Result<u8> {
    let t = Instant::now();
    let a = gaussian(n, d, 0.0, 1.0, seed)?;
    let b = gaussian(n, d, 0.1, 1.1, seed.wrapping_add(1))?;
    let gen_s = t.elapsed().as_secs_f64();
    let subsets = kid_subsets(n, n, kid_size.min(n), kid_subsets_n, seed)?;
    let jobs: Vec<Job<'_>> = vec![
        (
            "fd",
            Box::new(|| Ok(json!(frechet_distance(&a, &b)?.value))),
        ),
        (
            "kid",
            Box::new(|| {
                let k = kid(&a, &b, &subsets)?;
                Ok(json!({"mean": k.mean, "std": k.std}))
            }),
        ),
        (
            "prdc_k3",
            Box::new(|| {
                let p = prdc(&a, &b, 3)?;
                Ok(json!({"precision": p.precision, "recall": p.recall}))
            }),
        ),
        (
            "prdc_k5",
            Box::new(|| {
                let p = prdc(&a, &b, 5)?;
                Ok(json!({"density": p.density, "coverage": p.coverage}))
            }),
        ),
    ];
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    eprintln!("bench dist: {n} x {d} (two sets), {profile} build");
    // Single thread: one after the other inside a one-thread rayon pool (KID's subset loop
    // then runs sequentially too).
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let t = Instant::now();
    let mut single = serde_json::Map::new();
    for (name, f) in &jobs {
        let (name, s, v) = one.install(|| timed(name, f))?;
        eprintln!("  single {name}: {s:.2} s");
        single.insert(name.to_string(), json!({"seconds": s, "value": v}));
    }
    let single_total = t.elapsed().as_secs_f64();
    // Default threads: the metric calls concurrently on rayon's global pool.
    let threads = rayon::current_num_threads();
    let t = Instant::now();
    let results: Vec<Outcome> = {
        use rayon::prelude::*;
        jobs.par_iter().map(|(name, f)| timed(name, f)).collect()
    };
    let parallel_total = t.elapsed().as_secs_f64();
    let mut parallel = serde_json::Map::new();
    for r in results {
        let (name, s, _) = r?;
        parallel.insert(name.to_string(), json!({"seconds": s}));
    }
    let mut out = json!({
        "n": n, "d": d, "build": profile,
        "kid": {"subsets": kid_subsets_n, "subset_size": kid_size.min(n)},
        "generate_seconds": gen_s,
        "single_thread": {"total_seconds": single_total, "metrics": single},
        "default_threads": {"threads": threads, "total_seconds": parallel_total, "metrics": parallel,
            "note": "the four calls run concurrently; KID's subsets also use the pool"},
    });
    if let Some(py) = python {
        // Same shapes with the peers' code, one thread then numpy's default pools. Ratios are
        // Assay's seconds over the baseline's (below 1: Assay is faster).
        for (label, ours, threads) in [
            ("single_thread", "single_thread", 1),
            ("default_threads", "default_threads", 0),
        ] {
            eprintln!("  python baseline ({label})...");
            let b = baseline(py, n, d, kid_subsets_n, kid_size.min(n), seed, threads)?;
            for (key, m) in b["metrics"].as_object().into_iter().flatten() {
                eprintln!(
                    "  python {label} {key}: {:.2} s",
                    m["seconds"].as_f64().unwrap_or(f64::NAN)
                );
            }
            let mut r = ratios(&out[ours], &b);
            if threads == 0 {
                // Our four calls ran concurrently, the peers' one after another with all
                // cores each: only the wall-clock totals compare.
                r = json!({ "total": r["total"] });
            }
            out["ratio_vs_python"][label] = r;
            out["python"][label] = b;
        }
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(0)
}
