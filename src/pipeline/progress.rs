//! Progress shared between a running job and whoever watches it (CLI bar, GUI status bar).
//!
//! Besides the job's counters, a pipelined job reports its *stages* (decode, signals, faces,
//! CLIP, write): items each finished and the time its workers spent working (not waiting for
//! input or for room downstream). A stage's rate is what it would sustain if never starved,
//! `done / (busy / workers)`; the slowest stage is the one with the lowest rate, i.e. the one
//! that sets the pace (items/s of the whole job ≈ its rate once the pipeline is full).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Counters of one job; cheap to update from worker threads.
#[derive(Debug)]
pub struct Progress {
    started: Instant,
    /// Start of the current counted phase (rate and ETA are per phase).
    phase_started: Mutex<Instant>,
    total: AtomicU64,
    done: AtomicU64,
    failed: AtomicU64,
    finished: AtomicBool,
    phase: Mutex<String>,
    stages: Mutex<Vec<StageSnapshot>>,
}

/// One stage of a pipelined job.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StageSnapshot {
    pub name: String,
    /// Threads working in the stage.
    pub workers: usize,
    /// Items finished.
    pub done: u64,
    /// Seconds its workers spent working, summed over workers.
    pub busy_s: f64,
}

impl StageSnapshot {
    /// Items per second the stage sustains when it never waits: `done / (busy_s / workers)`.
    pub fn rate(&self) -> Option<f64> {
        (self.busy_s > 0.0 && self.done > 0)
            .then(|| self.done as f64 * self.workers.max(1) as f64 / self.busy_s)
    }
}

impl Default for Progress {
    fn default() -> Self {
        let now = Instant::now();
        Self {
            started: now,
            phase_started: Mutex::new(now),
            total: AtomicU64::new(0),
            done: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            finished: AtomicBool::new(false),
            phase: Mutex::new(String::new()),
            stages: Mutex::new(Vec::new()),
        }
    }
}

/// A consistent reading of a [`Progress`].
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub phase: String,
    pub total: u64,
    pub done: u64,
    pub failed: u64,
    /// Seconds since the job started.
    pub elapsed_s: f64,
    /// Items per second since the current phase started (the job, for one-phase jobs).
    pub rate: f64,
    /// Estimated seconds left, when a rate is known.
    pub eta_s: Option<f64>,
    pub finished: bool,
    /// The stages of a pipelined job (empty for one-phase jobs).
    pub stages: Vec<StageSnapshot>,
}

impl Progress {
    pub fn set_phase(&self, phase: &str) {
        if let Ok(mut p) = self.phase.lock() {
            phase.clone_into(&mut p);
        }
    }
    /// Starts a new counted phase (e.g. embedding after the scan): counters back to zero,
    /// `total` items, rate and ETA measured from now, no stages.
    pub fn start_phase(&self, phase: &str, total: u64) {
        self.set_phase(phase);
        if let Ok(mut s) = self.stages.lock() {
            s.clear();
        }
        if let Ok(mut t) = self.phase_started.lock() {
            *t = Instant::now();
        }
        self.done.store(0, Ordering::Relaxed);
        self.failed.store(0, Ordering::Relaxed);
        self.total.store(total, Ordering::Relaxed);
    }
    pub fn set_total(&self, n: u64) {
        self.total.store(n, Ordering::Relaxed);
    }
    pub fn advance(&self, n: u64, failed: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
        self.failed.fetch_add(failed, Ordering::Relaxed);
    }
    pub fn finish(&self) {
        self.finished.store(true, Ordering::Relaxed);
    }
    /// Declares the stages of a pipelined job (name, worker threads), replacing earlier ones;
    /// [`Progress::stage_done`] refers to them by index.
    pub fn set_stages(&self, stages: &[(&str, usize)]) {
        if let Ok(mut s) = self.stages.lock() {
            *s = stages
                .iter()
                .map(|(name, workers)| StageSnapshot {
                    name: (*name).to_string(),
                    workers: *workers,
                    done: 0,
                    busy_s: 0.0,
                })
                .collect();
        }
    }
    /// Stage `index` finished `n` items after working `busy` on them.
    pub fn stage_done(&self, index: usize, n: u64, busy: Duration) {
        if let Ok(mut s) = self.stages.lock()
            && let Some(st) = s.get_mut(index)
        {
            st.done += n;
            st.busy_s += busy.as_secs_f64();
        }
    }
    pub fn snapshot(&self) -> Snapshot {
        let elapsed_s = self.started.elapsed().as_secs_f64();
        let phase_s = self
            .phase_started
            .lock()
            .map_or(elapsed_s, |t| t.elapsed().as_secs_f64());
        let total = self.total.load(Ordering::Relaxed);
        let done = self.done.load(Ordering::Relaxed);
        let rate = if phase_s > 0.0 {
            done as f64 / phase_s
        } else {
            0.0
        };
        let eta_s = (rate > 0.0).then(|| total.saturating_sub(done) as f64 / rate);
        Snapshot {
            phase: self.phase.lock().map(|p| p.clone()).unwrap_or_default(),
            total,
            done,
            failed: self.failed.load(Ordering::Relaxed),
            elapsed_s,
            rate,
            eta_s,
            finished: self.finished.load(Ordering::Relaxed),
            stages: self.stages.lock().map(|s| s.clone()).unwrap_or_default(),
        }
    }
}

impl Snapshot {
    /// The stage with the lowest rate (that has a rate), the one that sets the pace.
    pub fn slowest(&self) -> Option<&StageSnapshot> {
        self.stages
            .iter()
            .filter_map(|s| s.rate().map(|r| (s, r)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(s, _)| s)
    }

    /// `decode 120/s · faces 38/s · write 2.1k/s · slowest: faces` (empty without stage rates).
    pub fn stages_line(&self) -> String {
        let parts: Vec<String> = self
            .stages
            .iter()
            .filter_map(|s| s.rate().map(|r| format!("{} {}/s", s.name, format_rate(r))))
            .collect();
        if parts.is_empty() {
            return String::new();
        }
        let slowest = self
            .slowest()
            .filter(|_| parts.len() > 1)
            .map_or(String::new(), |s| format!(" · slowest: {}", s.name));
        format!("{}{slowest}", parts.join(" · "))
    }

    /// One status line: `phase [=====>    ] 120/2000 6% 45.2/s ETA 41s | decode 60/s · faces
    /// 48/s · write 2.1k/s · slowest: faces (3 failed)`.
    pub fn line(&self, width: usize) -> String {
        let frac = if self.total > 0 {
            (self.done as f64 / self.total as f64).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let filled = ((frac * width as f64).round() as usize).min(width);
        let mut bar = "=".repeat(filled);
        if filled < width {
            bar.push('>');
            bar.push_str(&" ".repeat(width - filled - 1));
        }
        let eta = self.eta_s.map_or_else(|| "–".to_string(), format_secs);
        let failed = if self.failed > 0 {
            format!(" ({} failed)", self.failed)
        } else {
            String::new()
        };
        let stages = self.stages_line();
        let stages = if stages.is_empty() {
            stages
        } else {
            format!(" | {stages}")
        };
        format!(
            "{} [{bar}] {}/{} {:.0}% {:.1}/s ETA {eta}{stages}{failed}",
            self.phase,
            self.done,
            self.total,
            frac * 100.0,
            self.rate
        )
    }
}

/// `38` → `38`, `2140.5` → `2.1k`, `7.25` → `7.2`.
pub fn format_rate(r: f64) -> String {
    if r >= 1000.0 {
        format!("{:.1}k", r / 1000.0)
    } else if r >= 10.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

/// `75` → `1m15s`.
pub fn format_secs(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_and_line() {
        let p = Progress::default();
        p.set_phase("scan");
        p.set_total(10);
        p.advance(5, 1);
        let s = p.snapshot();
        assert_eq!((s.total, s.done, s.failed), (10, 5, 1));
        let line = s.line(10);
        assert!(line.starts_with("scan [=====>    ] 5/10 50%"), "{line}");
        assert!(line.ends_with("(1 failed)"));
        assert_eq!(format_secs(75.0), "1m15s");
        std::thread::sleep(std::time::Duration::from_millis(5));
        p.start_phase("clip embed", 4);
        let t = p.snapshot();
        assert_eq!(
            (t.phase.as_str(), t.total, t.done, t.failed),
            ("clip embed", 4, 0, 0)
        );
        assert!(t.elapsed_s >= s.elapsed_s, "job time keeps running");
        assert_eq!(t.eta_s, None, "no rate yet in the new phase");
        assert_eq!(format_secs(3700.0), "1h01m");
    }

    #[test]
    fn stages_rates_and_the_slowest() {
        let p = Progress::default();
        p.set_phase("scan");
        p.set_total(10);
        assert_eq!(p.snapshot().stages_line(), "");
        p.set_stages(&[("decode", 2), ("faces", 1), ("write", 1)]);
        // Two decoders, 1 s of work each for 10 items: 10/s; faces 10 items in 2 s: 5/s.
        p.stage_done(0, 10, Duration::from_secs(2));
        p.stage_done(1, 4, Duration::from_millis(800));
        p.stage_done(1, 6, Duration::from_millis(1200));
        p.stage_done(2, 10, Duration::from_millis(4));
        p.advance(10, 1);
        let s = p.snapshot();
        assert_eq!(s.stages.len(), 3);
        assert!((s.stages[0].rate().unwrap() - 10.0).abs() < 1e-9);
        assert!((s.stages[1].rate().unwrap() - 5.0).abs() < 1e-9);
        assert_eq!(s.slowest().map(|x| x.name.as_str()), Some("faces"));
        assert_eq!(
            s.stages_line(),
            "decode 10/s · faces 5.0/s · write 2.5k/s · slowest: faces"
        );
        let line = s.line(10);
        assert!(
            line.ends_with(
                "| decode 10/s · faces 5.0/s · write 2.5k/s · slowest: faces (1 failed)"
            ),
            "{line}"
        );
        p.set_stages(&[("clip", 1)]);
        assert_eq!(p.snapshot().slowest(), None, "no rate before work");
    }
}
