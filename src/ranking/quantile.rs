//! The one percentile of sorted data every interval and bin edge uses: NumPy's default
//! (`method="linear"`, including its `_lerp`, which interpolates from the upper end when the
//! fraction is at least ½), so values equal `numpy.percentile(x, 100·q)` bit for bit.

/// `numpy.percentile(x, 100·q)` on sorted `x`; `None` when `x` is empty. `q` is clamped to
/// [0, 1].
pub fn percentile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let virt = last as f64 * q.clamp(0.0, 1.0);
    let lo = (virt.floor().max(0.0) as usize).min(last);
    let hi = (lo + 1).min(last);
    let t = virt - virt.floor();
    let (a, b) = (*sorted.get(lo)?, *sorted.get(hi)?);
    let d = b - a;
    Some(if t >= 0.5 {
        b - d * (1.0 - t)
    } else {
        a + d * t
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_interpolates() {
        assert_eq!(percentile_sorted(&[1.0, 2.0, 3.0], 0.5), Some(2.0));
        assert_eq!(percentile_sorted(&[0.0, 10.0], 0.25), Some(2.5));
        assert_eq!(percentile_sorted(&[], 0.5), None);
    }
}
