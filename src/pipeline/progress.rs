//! Progress shared between a running job and whoever watches it (CLI bar, GUI status bar).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

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
}

impl Progress {
    pub fn set_phase(&self, phase: &str) {
        if let Ok(mut p) = self.phase.lock() {
            phase.clone_into(&mut p);
        }
    }
    /// Starts a new counted phase (e.g. embedding after the scan): counters back to zero,
    /// `total` items, rate and ETA measured from now.
    pub fn start_phase(&self, phase: &str, total: u64) {
        self.set_phase(phase);
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
        }
    }
}

impl Snapshot {
    /// One status line: `phase [=====>    ] 120/2000 6% 45.2/s ETA 41s (3 failed)`.
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
        format!(
            "{} [{bar}] {}/{} {:.0}% {:.1}/s ETA {eta}{failed}",
            self.phase,
            self.done,
            self.total,
            frac * 100.0,
            self.rate
        )
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
}
