//! Errors shared by the distribution metrics ([`super::distribution`]) and the full-reference
//! fidelity metrics ([`super::fidelity`]).
//!
//! Written by hand (no `thiserror`) so that the type is `Clone + PartialEq` and can be compared in
//! tests.

use std::fmt;

/// Why a metric could not be computed.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricError {
    /// A buffer does not have the length its declared shape implies (or the shape overflows).
    ShapeMismatch {
        /// What was being built or checked, e.g. `"features"` or `"image"`.
        what: &'static str,
        /// Number of values the shape implies (`None` when `rows × cols` overflows `usize`).
        expected: Option<usize>,
        /// Number of values supplied.
        actual: usize,
    },
    /// Two feature sets (or two images) must have the same dimension but do not.
    DimensionMismatch {
        /// What differs, e.g. `"feature dimension"` or `"image size"`.
        what: &'static str,
        /// Description of the left operand's dimension.
        left: String,
        /// Description of the right operand's dimension.
        right: String,
    },
    /// A set has fewer samples than the metric needs.
    TooFewSamples {
        /// Which set or parameter, e.g. `"features a"` or `"KID subset"`.
        what: &'static str,
        /// Samples available.
        n: usize,
        /// Minimum required.
        min: usize,
    },
    /// An image is smaller than the metric's window allows.
    ImageTooSmall {
        /// Metric name, e.g. `"ssim"`.
        metric: &'static str,
        /// Image width in pixels.
        width: usize,
        /// Image height in pixels.
        height: usize,
        /// Human-readable rule, e.g. `"both sides >= 11"`.
        rule: &'static str,
    },
    /// A parameter is out of range (zero splits, `k = 0`, non-positive data range, …).
    InvalidParameter(String),
    /// The input contains NaN or an infinity.
    NonFinite {
        /// What was being checked.
        what: &'static str,
        /// Flat index of the first offending value.
        index: usize,
    },
    /// A numerical routine failed (e.g. the eigen solver did not converge).
    Numerical(String),
}

impl fmt::Display for MetricError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetricError::ShapeMismatch {
                what,
                expected: Some(e),
                actual,
            } => write!(f, "{what}: expected {e} values, got {actual}"),
            MetricError::ShapeMismatch {
                what,
                expected: None,
                actual,
            } => write!(
                f,
                "{what}: shape overflows usize ({actual} values supplied)"
            ),
            MetricError::DimensionMismatch { what, left, right } => {
                write!(f, "{what} mismatch: {left} vs {right}")
            }
            MetricError::TooFewSamples { what, n, min } => {
                write!(f, "{what}: {n} samples, at least {min} required")
            }
            MetricError::ImageTooSmall {
                metric,
                width,
                height,
                rule,
            } => write!(f, "{metric}: image {width}x{height} too small ({rule})"),
            MetricError::InvalidParameter(msg) => write!(f, "invalid parameter: {msg}"),
            MetricError::NonFinite { what, index } => {
                write!(f, "{what}: non-finite value at flat index {index}")
            }
            MetricError::Numerical(msg) => write!(f, "numerical failure: {msg}"),
        }
    }
}

impl std::error::Error for MetricError {}
