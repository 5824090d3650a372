//! Per-image feature vectors for the preference scorer and their standardisation.
//!
//! Features are whatever the catalogue has: the numeric classical signals always, plus every
//! embedding model with stored vectors (one feature per dimension). `log1p` is applied to the
//! heavy-tailed sharpness signals (as `assay compare` does), then each feature is standardised
//! with the mean and population standard deviation over the collection's images. Missing values
//! (a signal not computed, an image without an embedding) are imputed with the mean, i.e. 0 after
//! standardisation. The statistics travel with the scorer, so scoring a new image later uses the
//! same transform.

use serde::{Deserialize, Serialize};

/// Keys whose values span orders of magnitude: `log1p` before standardising.
pub const LOG1P_KEYS: [&str; 2] = ["blur_laplacian_var", "tenengrad"];

/// The registry's numeric quality signals a scorer learns from, in registry order: every
/// `Number` signal except identity signals (hashes, duplicate groups), hard filters and learned
/// scores (a scorer never learns from its own output). Today: the nine classical signals, the
/// four face signals, and `aesthetic` and `clip_score` (present after `assay scan` with CLIP
/// weights, or `assay embed`).
pub fn signal_keys() -> Vec<&'static str> {
    use crate::signals::{Group, Kind, registry};
    registry()
        .iter()
        .filter(|d| {
            d.kind == Kind::Number
                && !matches!(
                    d.group,
                    Group::Identity | Group::HardFilter | Group::Learned
                )
        })
        .map(|d| d.key)
        .collect()
}

/// The raw features of a collection: one row per image.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeatureTable {
    /// Feature names (signal keys; embedding dimensions as `model[i]`).
    pub names: Vec<String>,
    /// Whether each feature is `log1p`-transformed before standardisation.
    pub log1p: Vec<bool>,
    /// Image names (relative paths), parallel to `rows`.
    pub items: Vec<String>,
    /// Raw values, `None` when missing.
    pub rows: Vec<Vec<Option<f64>>>,
}

impl FeatureTable {
    /// A table over `names`; `log1p` is set for [`LOG1P_KEYS`].
    pub fn new(names: Vec<String>) -> Self {
        let log1p = names
            .iter()
            .map(|n| LOG1P_KEYS.contains(&n.as_str()))
            .collect();
        Self {
            names,
            log1p,
            items: Vec::new(),
            rows: Vec::new(),
        }
    }

    /// Appends features (e.g. one embedding model's dimensions) to every row: `extra(item)`
    /// gives the values of an image, `None` when it has none (all imputed).
    pub fn extend(&mut self, names: Vec<String>, mut extra: impl FnMut(&str) -> Option<Vec<f64>>) {
        let k = names.len();
        self.log1p.extend(std::iter::repeat_n(false, k));
        self.names.extend(names);
        for (item, row) in self.items.iter().zip(self.rows.iter_mut()) {
            match extra(item) {
                Some(v) if v.len() == k => row.extend(v.into_iter().map(Some)),
                _ => row.extend(std::iter::repeat_n(None, k)),
            }
        }
    }
}

impl FeatureTable {
    /// Every row restricted to (and ordered by) `names`; features the table lacks are missing.
    pub fn rows_for(&self, names: &[String]) -> Vec<Vec<Option<f64>>> {
        let index: std::collections::HashMap<&str, usize> = self
            .names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i))
            .collect();
        let cols: Vec<Option<usize>> = names
            .iter()
            .map(|n| index.get(n.as_str()).copied())
            .collect();
        self.rows
            .iter()
            .map(|r| {
                cols.iter()
                    .map(|c| c.and_then(|c| r.get(c).copied().flatten()))
                    .collect()
            })
            .collect()
    }
}

/// Transform and standardisation statistics, stored with each scorer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standardizer {
    pub names: Vec<String>,
    pub log1p: Vec<bool>,
    pub mean: Vec<f64>,
    /// Population standard deviation; 1 for constant or entirely missing features (which then
    /// standardise to 0).
    pub std: Vec<f64>,
}

fn transform(x: Option<f64>, log1p: bool) -> Option<f64> {
    let v = x.filter(|v| v.is_finite())?;
    Some(if log1p { v.max(0.0).ln_1p() } else { v })
}

impl Standardizer {
    /// Mean and population std of each transformed feature over the finite, present values.
    pub fn fit(table: &FeatureTable) -> Self {
        let d = table.names.len();
        let mut sum = vec![0.0; d];
        let mut count = vec![0usize; d];
        for row in &table.rows {
            for (j, x) in row.iter().enumerate().take(d) {
                if let Some(v) = transform(*x, table.log1p[j]) {
                    sum[j] += v;
                    count[j] += 1;
                }
            }
        }
        let mean: Vec<f64> = sum
            .iter()
            .zip(&count)
            .map(|(s, &c)| if c > 0 { s / c as f64 } else { 0.0 })
            .collect();
        let mut sq = vec![0.0; d];
        for row in &table.rows {
            for (j, x) in row.iter().enumerate().take(d) {
                if let Some(v) = transform(*x, table.log1p[j]) {
                    sq[j] += (v - mean[j]).powi(2);
                }
            }
        }
        let std = sq
            .iter()
            .zip(&count)
            .map(|(s, &c)| {
                let sd = if c > 0 { (s / c as f64).sqrt() } else { 0.0 };
                if sd > 1e-12 { sd } else { 1.0 }
            })
            .collect();
        Self {
            names: table.names.clone(),
            log1p: table.log1p.clone(),
            mean,
            std,
        }
    }

    /// Standardised vector of one image; missing or non-finite values become 0 (the mean).
    /// A row shorter than the feature list counts its absent tail as missing.
    pub fn apply(&self, raw: &[Option<f64>]) -> Vec<f64> {
        (0..self.names.len())
            .map(|j| {
                transform(raw.get(j).copied().flatten(), self.log1p[j])
                    .map_or(0.0, |v| (v - self.mean[j]) / self.std[j])
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standardises_with_log1p_and_imputes_the_mean() {
        let mut t = FeatureTable::new(vec!["tenengrad".into(), "luminance_mean".into()]);
        assert_eq!(t.log1p, vec![true, false]);
        t.items = vec!["a".into(), "b".into(), "c".into()];
        t.rows = vec![
            vec![Some(0.0), Some(10.0)],
            vec![Some(std::f64::consts::E - 1.0), Some(20.0)],
            vec![None, Some(f64::NAN)],
        ];
        let s = Standardizer::fit(&t);
        // tenengrad: log1p gives 0 and 1 → mean 0.5, std 0.5; luminance: 10, 20 → 15, 5.
        assert!((s.mean[0] - 0.5).abs() < 1e-12 && (s.std[0] - 0.5).abs() < 1e-12);
        assert!((s.mean[1] - 15.0).abs() < 1e-12 && (s.std[1] - 5.0).abs() < 1e-12);
        let z: Vec<Vec<f64>> = t.rows.iter().map(|r| s.apply(r)).collect();
        assert!((z[0][0] + 1.0).abs() < 1e-12 && (z[1][0] - 1.0).abs() < 1e-12);
        assert_eq!(
            z[2],
            vec![0.0, 0.0],
            "missing and NaN are imputed with the mean"
        );
        assert_eq!(s.apply(&[Some(0.0)]).len(), 2, "short rows are padded");
    }

    #[test]
    fn features_are_the_numeric_quality_signals() {
        let keys = signal_keys();
        for k in crate::signals::classical_feature_keys() {
            assert!(keys.contains(&k), "{k}");
        }
        assert!(keys.contains(&"face_defect"));
        for k in [
            "learned_preference",
            "dup_group",
            "blank",
            "size_ok",
            "phash",
            "face_boxes",
        ] {
            assert!(!keys.contains(&k), "{k} is not a feature");
        }
    }

    #[test]
    fn constant_and_absent_features_standardise_to_zero() {
        let mut t = FeatureTable::new(vec!["c".into(), "none".into()]);
        t.items = vec!["a".into(), "b".into()];
        t.rows = vec![vec![Some(3.0), None], vec![Some(3.0), None]];
        let s = Standardizer::fit(&t);
        assert_eq!(s.std, vec![1.0, 1.0]);
        assert_eq!(s.apply(&t.rows[0]), vec![0.0, 0.0]);
        t.extend(vec!["e[0]".into(), "e[1]".into()], |item| {
            (item == "a").then(|| vec![1.0, 2.0])
        });
        assert_eq!(t.rows[0], vec![Some(3.0), None, Some(1.0), Some(2.0)]);
        assert_eq!(t.rows[1], vec![Some(3.0), None, None, None]);
        assert_eq!(t.log1p.len(), 4);
        let picked = t.rows_for(&["e[1]".into(), "gone".into(), "c".into()]);
        assert_eq!(picked[0], vec![Some(2.0), None, Some(3.0)]);
    }
}
