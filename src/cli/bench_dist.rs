//! `assay bench dist`: FD + KID + PRDC (precision/recall k = 3, density/coverage k = 5) on two
//! seeded Gaussian feature sets of N × D (default 10,000 × 768; B is shifted by 0.1 in every
//! dimension and scaled by 1.1). The metrics themselves are single-threaded f64; the
//! "default threads" run computes the four metric calls concurrently on rayon's pool (all
//! cores), the single-thread run one after the other.

use std::time::Instant;

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

pub fn run(
    n: usize,
    d: usize,
    kid_subsets_n: usize,
    kid_size: usize,
    seed: u64,
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
    // Single thread: one after the other on this thread.
    let t = Instant::now();
    let mut single = serde_json::Map::new();
    for (name, f) in &jobs {
        let (name, s, v) = timed(name, f)?;
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
    let out = json!({
        "n": n, "d": d, "build": profile,
        "kid": {"subsets": kid_subsets_n, "subset_size": kid_size.min(n)},
        "generate_seconds": gen_s,
        "single_thread": {"total_seconds": single_total, "metrics": single},
        "default_threads": {"threads": threads, "total_seconds": parallel_total, "metrics": parallel,
            "note": "each metric is single-threaded; the four calls run concurrently"},
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(0)
}
