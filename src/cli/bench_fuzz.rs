//! `assay bench fuzz --seconds N [--target T]`: long fuzz runs of [`crate::fuzz`] targets.
//!
//! Cases run in child processes (`--worker`), a chunk of time at a time; each child streams
//! JSON lines into a journal file: a checkpoint every 1,000 cases, each panic as it is caught,
//! and its totals at the end. When a child dies instead (a stack overflow, an allocation
//! failure, a hang past the time limit), the cases after its last checkpoint are bisected in
//! further children down to the one input that kills the process, which is then reported like
//! a panic. Every finding's input is written to `--out` (`<target>-<seed>-<case>.bin`) and
//! replays with `--target T --seed S --from CASE --cases 1 --worker`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::json;

use crate::fuzz::{self, Finding, Seeds, TargetReport};

#[derive(Debug, Clone, clap::Args)]
pub struct FuzzArgs {
    /// Total wall-clock budget in seconds, shared by the targets.
    #[arg(long, default_value_t = 60.0)]
    pub seconds: f64,
    /// Stop each target after this many cases (instead of the time budget alone).
    #[arg(long)]
    pub cases: Option<u64>,
    /// Only this target (metadata, decode, expr, policy, labels, npy).
    #[arg(long)]
    pub target: Option<String>,
    /// Run seed: with a case number it regenerates the input exactly.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// First case number.
    #[arg(long, default_value_t = 0)]
    pub from: u64,
    /// Folders of seed files (default: $ASSAY_FIXTURES and the metadata samples beside it).
    #[arg(long)]
    pub fixtures: Vec<PathBuf>,
    /// Where the inputs of findings are written.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Targets fuzzed at the same time (child processes).
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    #[arg(long, value_enum, default_value_t = super::ListFormat::Text)]
    pub format: super::ListFormat,
    /// Internal: run cases in this process and write the journal to `--journal`.
    #[arg(long, hide = true)]
    pub worker: bool,
    #[arg(long, hide = true)]
    pub journal: Option<PathBuf>,
}

/// Longest time one child runs before the parent starts the next (checkpoints keep bisection
/// short when it dies).
const CHUNK_SECONDS: f64 = 20.0;
const CHECKPOINT_EVERY: u64 = 1000;

fn seed_dirs(a: &FuzzArgs) -> Vec<PathBuf> {
    if a.fixtures.is_empty() {
        Seeds::default_dirs()
    } else {
        a.fixtures.clone()
    }
}

fn find_target(name: &str) -> anyhow::Result<fuzz::Target> {
    fuzz::targets()
        .into_iter()
        .find(|t| t.name == name)
        .ok_or_else(|| {
            let names: Vec<&str> = fuzz::targets().iter().map(|t| t.name).collect();
            super::UsageError(format!(
                "unknown fuzz target '{name}'; targets: {}",
                names.join(", ")
            ))
            .into()
        })
}

/// The child: runs cases and journals them.
fn worker(a: &FuzzArgs) -> anyhow::Result<u8> {
    let name = a.target.as_deref().context("--worker needs --target")?;
    let target = find_target(name)?;
    let journal = a.journal.as_deref().context("--worker needs --journal")?;
    let mut j = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(journal)
        .with_context(|| format!("cannot write {}", journal.display()))?;
    let seeds = (target.seeds)(&Seeds::load(&seed_dirs(a)));
    let deadline = Instant::now() + Duration::from_secs_f64(a.seconds.max(0.0));
    let count = a.cases.unwrap_or(u64::MAX);
    let mut total = TargetReport {
        target: target.name.to_string(),
        ..Default::default()
    };
    let mut from = a.from;
    let start = Instant::now();
    while total.executions < count && Instant::now() < deadline {
        let n = CHECKPOINT_EVERY.min(count - total.executions);
        let rep = fuzz::run_cases(&target, &seeds, a.seed, from, n, || {
            Instant::now() >= deadline
        });
        for f in &rep.findings {
            writeln!(j, "{}", json!({ "finding": f }))?;
        }
        if rep.slowest_ms > total.slowest_ms {
            total.slowest_ms = rep.slowest_ms;
            total.slowest_case = rep.slowest_case;
        }
        total.executions += rep.executions;
        total.findings.extend(rep.findings);
        from += rep.executions;
        writeln!(j, "{}", json!({ "checkpoint": from }))?;
        if rep.executions < n {
            break;
        }
    }
    total.seconds = start.elapsed().as_secs_f64();
    writeln!(j, "{}", json!({ "report": total }))?;
    Ok(0)
}

/// What one child run told us.
struct ChildRun {
    /// The final report, when the child finished.
    report: Option<TargetReport>,
    /// Findings journaled before it died.
    findings: Vec<Finding>,
    /// First case not known to be done.
    checkpoint: u64,
    /// How the child ended when it did not finish.
    crash: Option<String>,
}

fn spawn_child(
    a: &FuzzArgs,
    target: &str,
    from: u64,
    cases: Option<u64>,
    seconds: f64,
    dir: &Path,
) -> anyhow::Result<ChildRun> {
    let journal = dir.join(format!("{target}-{from}-{}.jsonl", std::process::id()));
    let errlog = dir.join(format!("{target}-{from}.stderr"));
    let _ = std::fs::remove_file(&journal);
    let exe = std::env::current_exe().context("cannot find the assay executable")?;
    let mut cmd = Command::new(exe);
    cmd.args(["bench", "fuzz", "--worker", "--target", target])
        .args(["--seed", &a.seed.to_string(), "--from", &from.to_string()])
        .args(["--seconds", &seconds.to_string()])
        .arg("--journal")
        .arg(&journal)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&errlog)?);
    if let Some(n) = cases {
        cmd.args(["--cases", &n.to_string()]);
    }
    for f in &a.fixtures {
        cmd.arg("--fixtures").arg(f);
    }
    let mut child = cmd.spawn().context("cannot start a fuzz worker")?;
    // A hang is a finding too: the child gets its time plus a generous margin.
    let limit = Duration::from_secs_f64(seconds + 30.0 + fuzz::SLOW_CASE.as_secs_f64() * 5.0);
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break Some(s);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let text = std::fs::read_to_string(&journal).unwrap_or_default();
    let _ = std::fs::remove_file(&journal);
    let stderr = std::fs::read_to_string(&errlog).unwrap_or_default();
    let _ = std::fs::remove_file(&errlog);
    let mut run = ChildRun {
        report: None,
        findings: Vec::new(),
        checkpoint: from,
        crash: None,
    };
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if let Some(c) = v.get("checkpoint").and_then(serde_json::Value::as_u64) {
            run.checkpoint = c;
        } else if let Some(f) = v.get("finding") {
            if let Ok(f) = serde_json::from_value::<Finding>(f.clone()) {
                run.findings.push(f);
            }
        } else if let Some(r) = v.get("report") {
            run.report = serde_json::from_value(r.clone()).ok();
        }
    }
    if run.report.is_none() {
        let why = match status {
            None => format!("hang: no result after {:.0} s", limit.as_secs_f64()),
            Some(s) => {
                let last = stderr
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("")
                    .to_string();
                format!("crashed ({s}): {last}")
            }
        };
        run.crash = Some(why);
    }
    Ok(run)
}

/// Narrows a child crash in `[lo, hi)` down to one case by running halves in children.
fn bisect(
    a: &FuzzArgs,
    target: &str,
    lo: u64,
    hi: u64,
    dir: &Path,
    found: &mut Vec<Finding>,
) -> anyhow::Result<Option<(u64, String)>> {
    if hi <= lo {
        return Ok(None);
    }
    if hi - lo == 1 {
        let r = spawn_child(a, target, lo, Some(1), 3600.0, dir)?;
        return Ok(r.crash.map(|c| (lo, c)));
    }
    let mid = lo + (hi - lo) / 2;
    for (x, y) in [(lo, mid), (mid, hi)] {
        let r = spawn_child(a, target, x, Some(y - x), 3600.0, dir)?;
        found.extend(r.findings);
        if r.crash.is_some() {
            return bisect(a, target, x, y, dir, found);
        }
    }
    Ok(None)
}

/// Fuzzes one target for `seconds` (or `--cases`), in children.
fn fuzz_target(
    a: &FuzzArgs,
    target: &str,
    seconds: f64,
    dir: &Path,
) -> anyhow::Result<TargetReport> {
    let mut rep = TargetReport {
        target: target.to_string(),
        ..Default::default()
    };
    let start = Instant::now();
    let mut case = a.from;
    let end_case = a.cases.map(|n| a.from.saturating_add(n));
    loop {
        let left = seconds - start.elapsed().as_secs_f64();
        if end_case.map_or(left <= 0.0, |e| case >= e) {
            break;
        }
        let chunk_s = if end_case.is_some() {
            3600.0
        } else {
            left.min(CHUNK_SECONDS)
        };
        let cases = end_case.map(|e| e - case);
        let r = spawn_child(a, target, case, cases, chunk_s, dir)?;
        rep.findings.extend(r.findings.iter().cloned());
        if let Some(done) = &r.report {
            rep.executions += done.executions;
            if done.slowest_ms > rep.slowest_ms {
                rep.slowest_ms = done.slowest_ms;
                rep.slowest_case = done.slowest_case;
            }
            case += done.executions;
            if done.executions == 0 {
                break;
            }
            continue;
        }
        // Died: everything before the checkpoint ran; bisect the rest of that stretch.
        rep.executions += r.checkpoint - case;
        let lo = r.checkpoint;
        let hi = lo + CHECKPOINT_EVERY;
        let mut during = Vec::new();
        let crash = bisect(a, target, lo, hi, dir, &mut during)?;
        let known: std::collections::HashSet<u64> = rep.findings.iter().map(|f| f.case).collect();
        rep.findings
            .extend(during.into_iter().filter(|f| !known.contains(&f.case)));
        match crash {
            Some((c, why)) => {
                let t = find_target(target)?;
                let seeds = (t.seeds)(&Seeds::load(&seed_dirs(a)));
                let input = fuzz::case_input(&t, &seeds, a.seed, c);
                rep.findings.push(Finding {
                    target: target.to_string(),
                    seed: a.seed,
                    case: c,
                    message: why,
                    input_len: input.len(),
                    input_head: input.iter().take(48).map(|x| format!("{x:02x}")).collect(),
                });
                rep.executions += c + 1 - lo;
                case = c + 1;
            }
            None => {
                // Not reproducible alone (e.g. memory pressure from the machine): note it.
                rep.findings.push(Finding {
                    target: target.to_string(),
                    seed: a.seed,
                    case: lo,
                    message: format!(
                        "{} (not reproduced case by case in {lo}..{hi})",
                        r.crash.unwrap_or_default()
                    ),
                    input_len: 0,
                    input_head: String::new(),
                });
                rep.executions += hi - lo;
                case = hi;
            }
        }
    }
    rep.seconds = start.elapsed().as_secs_f64();
    Ok(rep)
}

/// Writes the input of each finding into `out`.
fn save_inputs(a: &FuzzArgs, findings: &[Finding], out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let dirs = seed_dirs(a);
    let loaded = Seeds::load(&dirs);
    let mut paths = Vec::new();
    for f in findings {
        let t = find_target(&f.target)?;
        let seeds = (t.seeds)(&loaded);
        let input = fuzz::case_input(&t, &seeds, f.seed, f.case);
        let p = out.join(format!("{}-{}-{}.bin", f.target, f.seed, f.case));
        std::fs::write(&p, input)?;
        paths.push(p);
    }
    Ok(paths)
}

pub fn run(a: &FuzzArgs) -> anyhow::Result<u8> {
    if a.worker {
        return worker(a);
    }
    let names: Vec<String> = match &a.target {
        Some(t) => vec![find_target(t)?.name.to_string()],
        None => fuzz::targets().iter().map(|t| t.name.to_string()).collect(),
    };
    if a.seconds.is_nan() || (a.seconds <= 0.0 && a.cases.is_none()) {
        bail!("--seconds must be positive (or give --cases)");
    }
    let jobs = a.jobs.max(1).min(names.len());
    let per_target = a.seconds * jobs as f64 / names.len() as f64;
    let dir = std::env::temp_dir().join(format!("assay-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let dirs = seed_dirs(a);
    eprintln!(
        "fuzzing {} for {:.0} s each ({} at a time; seeds from {})",
        names.join(", "),
        per_target,
        jobs,
        if dirs.is_empty() {
            "built-in inputs only".to_string()
        } else {
            dirs.iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    let start = Instant::now();
    let results: Vec<anyhow::Result<TargetReport>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..jobs)
            .map(|k| {
                let mine: Vec<&String> = names.iter().skip(k).step_by(jobs).collect();
                let dir = &dir;
                s.spawn(move || {
                    mine.into_iter()
                        .map(|t| {
                            let r = fuzz_target(a, t, per_target, dir);
                            if let Ok(r) = &r {
                                eprintln!(
                                    "  {:<9} {:>10} cases in {:>6.1} s ({:>8.0}/s), {} findings",
                                    r.target,
                                    r.executions,
                                    r.seconds,
                                    r.executions as f64 / r.seconds.max(1e-9),
                                    r.findings.len()
                                );
                            }
                            r
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let _ = std::fs::remove_dir_all(&dir);
    let mut reports = Vec::new();
    for r in results {
        reports.push(r?);
    }
    reports.sort_by_key(|r| names.iter().position(|n| *n == r.target));
    let findings: Vec<Finding> = reports.iter().flat_map(|r| r.findings.clone()).collect();
    let out = a.out.clone().unwrap_or_else(fuzz::targets::default_out);
    let saved = if findings.is_empty() {
        Vec::new()
    } else {
        save_inputs(a, &findings, &out)?
    };
    let total: u64 = reports.iter().map(|r| r.executions).sum();
    let seconds = start.elapsed().as_secs_f64();
    match a.format {
        super::ListFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "seed": a.seed, "executions": total, "seconds": seconds,
                "targets": reports, "saved": saved,
            }))?
        ),
        super::ListFormat::Text => {
            println!(
                "{total} cases in {seconds:.1} s ({:.0}/s), seed {}, {} findings",
                total as f64 / seconds.max(1e-9),
                a.seed,
                findings.len()
            );
            for r in &reports {
                println!(
                    "  {:<9} {:>10} cases  {:>3} findings  slowest case {:.1} ms (#{})",
                    r.target,
                    r.executions,
                    r.findings.len(),
                    r.slowest_ms,
                    r.slowest_case
                );
            }
            for (f, p) in findings.iter().zip(&saved) {
                println!(
                    "  finding: {} case {} ({} bytes, saved as {}): {}",
                    f.target,
                    f.case,
                    f.input_len,
                    p.display(),
                    super::term::escape(&f.message)
                );
            }
        }
    }
    Ok(if findings.is_empty() {
        0
    } else {
        super::EXIT_PARTIAL
    })
}
