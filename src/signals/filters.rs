//! Hard filters on image geometry: minimum size and maximum aspect ratio (configurable).

use serde::{Deserialize, Serialize};

/// Thresholds of the hard filters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FilterConfig {
    /// Shorter side must be at least this many pixels.
    pub min_side: u32,
    /// Long side / short side must be at most this.
    pub max_aspect: f64,
}

impl Default for FilterConfig {
    fn default() -> Self {
        Self {
            min_side: 256,
            max_aspect: 3.0,
        }
    }
}

impl FilterConfig {
    /// Producer string stored with the values, recording the thresholds used.
    pub fn producer(&self) -> String {
        format!(
            "{} min_side={} max_aspect={}",
            super::FILTERS,
            self.min_side,
            self.max_aspect
        )
    }

    /// `size_ok`: the shorter side reaches the minimum.
    pub fn size_ok(&self, width: u32, height: u32) -> bool {
        width.min(height) >= self.min_side
    }

    /// `aspect_ok`: the aspect ratio is within the maximum (zero-sized images fail).
    pub fn aspect_ok(&self, width: u32, height: u32) -> bool {
        let (lo, hi) = (width.min(height), width.max(height));
        lo > 0 && f64::from(hi) / f64::from(lo) <= self.max_aspect
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds() {
        let f = FilterConfig::default();
        assert!(f.size_ok(256, 1024));
        assert!(!f.size_ok(255, 1024));
        assert!(f.aspect_ok(300, 900));
        assert!(!f.aspect_ok(300, 901));
        assert!(!f.aspect_ok(0, 10));
        assert!(f.producer().contains("min_side=256"));
    }
}
