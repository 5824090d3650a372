//! Resident memory of this process (Linux `/proc/self/status`), for scan summaries and the
//! benchmarks; `None` where it cannot be read.

/// Peak resident memory so far (`VmHWM`), in MiB.
pub fn peak_rss_mb() -> Option<f64> {
    proc_status_mb("VmHWM:")
}

/// Current resident memory (`VmRSS`), in MiB.
pub fn rss_mb() -> Option<f64> {
    proc_status_mb("VmRSS:")
}

fn proc_status_mb(field: &str) -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Resets the peak to the current resident memory (Linux ≥ 4.0); whether it worked.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", b"5").is_ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn peak_is_at_least_current_where_readable() {
        if let (Some(peak), Some(now)) = (super::peak_rss_mb(), super::rss_mb()) {
            assert!(peak + 1.0 >= now && now > 0.0, "peak {peak}, now {now}");
        }
    }
}
