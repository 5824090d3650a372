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
/// weights, or `assay embed`). The judges' signals (`hps`, `pickscore` and their ranks) and the
/// hand signals (`hand_count`, `hand_defect`) are not features yet: adding them changes the
/// feature list of every scorer trained afterwards, with or without the checkpoints.
pub fn signal_keys() -> Vec<&'static str> {
    use crate::signals::hands::HANDS;
    use crate::signals::{Group, HPS, Kind, PICKSCORE, registry};
    registry()
        .iter()
        .filter(|d| {
            d.kind == Kind::Number
                && !matches!(
                    d.group,
                    Group::Identity | Group::HardFilter | Group::Learned
                )
                && ![HPS, PICKSCORE, HANDS].contains(&d.producer)
        })
        .map(|d| d.key)
        .collect()
}

/// One embedding model's vectors, parallel to [`FeatureTable::items`] (`None`: the image has
/// none). Kept as f32 vectors beside the signal rows: a 768-d model over 100,000 images is
/// 300 MB here, and would be four times that as optional f64 features.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Embedding {
    pub model: String,
    pub dim: usize,
    pub vectors: Vec<Option<Vec<f32>>>,
}

/// The raw features of a collection: one row per image.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeatureTable {
    /// Signal feature names (keys).
    pub names: Vec<String>,
    /// Whether each feature is `log1p`-transformed before standardisation.
    pub log1p: Vec<bool>,
    /// Image names (relative paths), parallel to `rows`.
    pub items: Vec<String>,
    /// Raw signal values, `None` when missing.
    pub rows: Vec<Vec<Option<f64>>>,
    /// Embeddings by model; their dimensions are addressed as `model[i]`.
    pub embeddings: Vec<Embedding>,
}

/// Where a named input comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Signal(usize),
    /// Embedding `e`, dimension `i`.
    Dim(usize, usize),
    Missing,
}

/// `model[i]` → (model, i).
pub fn parse_dim_name(name: &str) -> Option<(&str, usize)> {
    let (model, rest) = name.strip_suffix(']')?.rsplit_once('[')?;
    Some((model, rest.parse().ok()?))
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
            ..Self::default()
        }
    }

    /// Adds one embedding model: `vector(item)` gives an image's vector, `None` when it has
    /// none (vectors of another length count as none).
    pub fn add_embedding(
        &mut self,
        model: &str,
        dim: usize,
        mut vector: impl FnMut(&str) -> Option<Vec<f32>>,
    ) {
        let vectors = self
            .items
            .iter()
            .map(|item| vector(item).filter(|v| v.len() == dim))
            .collect();
        self.embeddings.push(Embedding {
            model: model.to_string(),
            dim,
            vectors,
        });
    }

    /// The embedding of `model`, if loaded.
    pub fn embedding(&self, model: &str) -> Option<&Embedding> {
        self.embeddings.iter().find(|e| e.model == model)
    }

    fn resolve(&self, names: &[String]) -> Vec<Source> {
        let index: std::collections::HashMap<&str, usize> = self
            .names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i))
            .collect();
        names
            .iter()
            .map(|n| {
                if let Some(&c) = index.get(n.as_str()) {
                    return Source::Signal(c);
                }
                parse_dim_name(n)
                    .and_then(|(m, i)| {
                        let e = self.embeddings.iter().position(|e| e.model == m)?;
                        (i < self.embeddings[e].dim).then_some(Source::Dim(e, i))
                    })
                    .unwrap_or(Source::Missing)
            })
            .collect()
    }

    /// Every row restricted to (and ordered by) `names`: signal keys, or embedding dimensions
    /// as `model[i]`; features the table lacks are missing.
    pub fn rows_for(&self, names: &[String]) -> Vec<Vec<Option<f64>>> {
        let cols = self.resolve(names);
        (0..self.items.len()).map(|r| self.pick(&cols, r)).collect()
    }

    fn pick(&self, cols: &[Source], r: usize) -> Vec<Option<f64>> {
        cols.iter()
            .map(|c| match *c {
                Source::Signal(c) => self.rows[r].get(c).copied().flatten(),
                Source::Dim(e, i) => self.embeddings[e].vectors[r]
                    .as_ref()
                    .and_then(|v| v.get(i))
                    .map(|&x| f64::from(x)),
                Source::Missing => None,
            })
            .collect()
    }
}

/// A linear projection of one embedding model onto its leading principal components (a
/// low-rank start from CLIP embeddings): `pc_k = (v − mean)·u_k`. Fitted on the collection's
/// vectors (no labels involved), stored with the scorer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Projection {
    pub model: String,
    pub dim: usize,
    pub mean: Vec<f64>,
    /// `rank × dim`, row-major, orthonormal rows.
    pub components: Vec<f64>,
    pub rank: usize,
}

/// Most vectors the principal components are estimated from (a seeded sample beyond that).
pub const PCA_SAMPLE: usize = 2048;

impl Projection {
    /// The leading `rank` principal components of `emb`'s vectors (a seeded sample of at most
    /// [`PCA_SAMPLE`]), by subspace iteration on the covariance (until no entry moves by 1e-13,
    /// at most 500 rounds); `None` with fewer than
    /// `rank + 2` vectors.
    pub fn fit(emb: &Embedding, rank: usize, seed: u64) -> Option<Self> {
        let d = emb.dim;
        let mut present: Vec<&Vec<f32>> = emb.vectors.iter().flatten().collect();
        let rank = rank.min(d);
        if rank == 0 || present.len() < rank + 2 {
            return None;
        }
        let mut rng = crate::ranking::rng::Rng::new(seed);
        if present.len() > PCA_SAMPLE {
            for i in 0..PCA_SAMPLE {
                let j = i + rng.below(present.len() - i);
                present.swap(i, j);
            }
            present.truncate(PCA_SAMPLE);
        }
        let n = present.len() as f64;
        let mut mean = vec![0.0; d];
        for v in &present {
            for (m, &x) in mean.iter_mut().zip(v.iter()) {
                *m += f64::from(x) / n;
            }
        }
        // Covariance (upper triangle accumulated, then mirrored).
        let mut cov = vec![0.0; d * d];
        let mut c = vec![0.0; d];
        for v in &present {
            for (ci, (&x, m)) in c.iter_mut().zip(v.iter().zip(&mean)) {
                *ci = f64::from(x) - m;
            }
            for i in 0..d {
                let ci = c[i] / n;
                if ci == 0.0 {
                    continue;
                }
                let row = &mut cov[i * d..(i + 1) * d];
                for (r, &cj) in row[i..].iter_mut().zip(&c[i..]) {
                    *r += ci * cj;
                }
            }
        }
        for i in 0..d {
            for j in 0..i {
                cov[i * d + j] = cov[j * d + i];
            }
        }
        // Subspace iteration with modified Gram–Schmidt, from a seeded start.
        let mut q: Vec<Vec<f64>> = (0..rank)
            .map(|_| (0..d).map(|_| rng.next_f64() - 0.5).collect())
            .collect();
        orthonormalise(&mut q);
        for _ in 0..500 {
            let mut z: Vec<Vec<f64>> = q
                .iter()
                .map(|u| {
                    (0..d)
                        .map(|i| {
                            cov[i * d..(i + 1) * d]
                                .iter()
                                .zip(u)
                                .map(|(a, b)| a * b)
                                .sum()
                        })
                        .collect()
                })
                .collect();
            orthonormalise(&mut z);
            // Largest change of any entry (signs aligned).
            let moved = q
                .iter()
                .zip(&z)
                .map(|(a, b)| {
                    let sign = a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>().signum();
                    a.iter()
                        .zip(b)
                        .map(|(x, y)| (x - sign * y).abs())
                        .fold(0.0f64, f64::max)
                })
                .fold(0.0f64, f64::max);
            q = z;
            if moved < 1e-13 {
                break;
            }
        }
        // A fixed sign: the largest entry of each component is positive.
        for u in &mut q {
            let big = u
                .iter()
                .copied()
                .fold(0.0f64, |m, x| if x.abs() > m.abs() { x } else { m });
            if big < 0.0 {
                u.iter_mut().for_each(|x| *x = -*x);
            }
        }
        Some(Self {
            model: emb.model.clone(),
            dim: d,
            mean,
            components: q.concat(),
            rank,
        })
    }

    /// Output feature names, `model:pc<k>` (1-based).
    pub fn names(&self) -> Vec<String> {
        (1..=self.rank)
            .map(|k| format!("{}:pc{k}", self.model))
            .collect()
    }

    /// The projected values of one vector (`None` for a missing or mis-sized vector).
    pub fn apply(&self, v: Option<&[f32]>) -> Vec<Option<f64>> {
        match v.filter(|v| v.len() == self.dim) {
            Some(v) => self
                .components
                .chunks(self.dim.max(1))
                .take(self.rank)
                .map(|u| {
                    Some(
                        u.iter()
                            .zip(v.iter().zip(&self.mean))
                            .map(|(a, (&x, m))| a * (f64::from(x) - m))
                            .sum(),
                    )
                })
                .collect(),
            None => vec![None; self.rank],
        }
    }

    /// Well-formed: the shapes agree.
    pub fn valid(&self) -> bool {
        self.mean.len() == self.dim && self.components.len() == self.rank * self.dim
    }
}

fn orthonormalise(v: &mut [Vec<f64>]) {
    for i in 0..v.len() {
        for j in 0..i {
            let (a, b) = v.split_at_mut(i);
            let p: f64 = a[j].iter().zip(&b[0]).map(|(x, y)| x * y).sum();
            for (x, y) in b[0].iter_mut().zip(&a[j]) {
                *x -= p * y;
            }
        }
        let n = v[i].iter().map(|x| x * x).sum::<f64>().sqrt();
        if n > 1e-300 {
            v[i].iter_mut().for_each(|x| *x /= n);
        }
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
    /// Mean and population std of each transformed signal feature of `table`.
    pub fn fit(table: &FeatureTable) -> Self {
        Self::fit_rows(&table.names, &table.log1p, &table.rows)
    }

    /// Mean and population std of each transformed feature over the finite, present values of
    /// `rows` (in `names` order).
    pub fn fit_rows(names: &[String], log1p: &[bool], rows: &[Vec<Option<f64>>]) -> Self {
        let d = names.len();
        let mut sum = vec![0.0; d];
        let mut count = vec![0usize; d];
        for row in rows {
            for (j, x) in row.iter().enumerate().take(d) {
                if let Some(v) = transform(*x, log1p[j]) {
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
        for row in rows {
            for (j, x) in row.iter().enumerate().take(d) {
                if let Some(v) = transform(*x, log1p[j]) {
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
            names: names.to_vec(),
            log1p: log1p.to_vec(),
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
            "hand_count",
            "hand_defect",
        ] {
            assert!(!keys.contains(&k), "{k} is not a feature");
        }
    }

    #[test]
    fn imported_signals_are_features() {
        use crate::signals::{Direction, imported};
        imported::register(&[imported::ImportedDef {
            key: "features_test_judge".into(),
            label: "Judge".into(),
            direction: Direction::HigherIsBetter,
            producer: imported::producer("judge", "1"),
            description: String::new(),
        }]);
        assert!(signal_keys().contains(&"features_test_judge"));
    }

    #[test]
    fn constant_and_absent_features_standardise_to_zero() {
        let mut t = FeatureTable::new(vec!["c".into(), "none".into()]);
        t.items = vec!["a".into(), "b".into()];
        t.rows = vec![vec![Some(3.0), None], vec![Some(3.0), None]];
        let s = Standardizer::fit(&t);
        assert_eq!(s.std, vec![1.0, 1.0]);
        assert_eq!(s.apply(&t.rows[0]), vec![0.0, 0.0]);
        t.add_embedding("e", 2, |item| (item == "a").then(|| vec![1.0, 2.0]));
        t.add_embedding("short", 3, |_| Some(vec![1.0]));
        assert_eq!(t.embeddings[0].vectors, vec![Some(vec![1.0, 2.0]), None]);
        assert_eq!(
            t.embeddings[1].vectors,
            vec![None, None],
            "wrong length = none"
        );
        assert_eq!(
            parse_dim_name("clip:ViT-L-14[12]"),
            Some(("clip:ViT-L-14", 12))
        );
        assert_eq!(parse_dim_name("blur"), None);
        let picked = t.rows_for(&["e[1]".into(), "gone".into(), "c".into(), "e[7]".into()]);
        assert_eq!(picked[0], vec![Some(2.0), None, Some(3.0), None]);
        assert_eq!(picked[1], vec![None, None, Some(3.0), None]);
    }

    #[test]
    fn projection_finds_the_leading_directions() {
        // 3-d vectors spread mostly along (1, 1, 0)/√2, a little along z, none along (1, −1, 0).
        let mut rng = crate::ranking::rng::Rng::new(5);
        let mut t = FeatureTable::new(vec![]);
        t.items = (0..300).map(|i| format!("i{i}")).collect();
        let vecs: Vec<Vec<f32>> = (0..300)
            .map(|_| {
                let a = (rng.next_f64() - 0.5) * 10.0;
                let z = (rng.next_f64() - 0.5) * 2.0;
                vec![(a + 1.0) as f32, (a + 1.0) as f32, (z + 3.0) as f32]
            })
            .collect();
        let mut k = 0;
        t.add_embedding("m", 3, |_| {
            k += 1;
            Some(vecs[k - 1].clone())
        });
        let p = Projection::fit(&t.embeddings[0], 2, 1).unwrap();
        assert!(p.valid());
        // The sample covariance, computed here directly.
        let n = vecs.len() as f64;
        let mean: Vec<f64> = (0..3)
            .map(|j| vecs.iter().map(|v| f64::from(v[j])).sum::<f64>() / n)
            .collect();
        let cov = |i: usize, j: usize| {
            vecs.iter()
                .map(|v| (f64::from(v[i]) - mean[i]) * (f64::from(v[j]) - mean[j]))
                .sum::<f64>()
                / n
        };
        let c: Vec<Vec<f64>> = (0..3)
            .map(|i| (0..3).map(|j| cov(i, j)).collect())
            .collect();
        let rayleigh = |u: &[f64]| -> (f64, f64) {
            let cu: Vec<f64> = (0..3)
                .map(|i| (0..3).map(|j| c[i][j] * u[j]).sum())
                .collect();
            let l: f64 = cu.iter().zip(u).map(|(a, b)| a * b).sum();
            let resid = cu
                .iter()
                .zip(u)
                .map(|(a, b)| (a - l * b).powi(2))
                .sum::<f64>()
                .sqrt();
            (l, resid)
        };
        let (u1, u2) = (&p.components[0..3], &p.components[3..6]);
        let ((l1, r1), (l2, r2)) = (rayleigh(u1), rayleigh(u2));
        assert!(r1 < 1e-8 * l1 && r2 < 1e-8 * l1, "eigenvectors: {r1} {r2}");
        assert!(l1 > l2, "ordered by variance");
        let dot: f64 = u1.iter().zip(u2).map(|(a, b)| a * b).sum();
        assert!(dot.abs() < 1e-12, "orthogonal");
        // The third direction carries less variance than the two kept.
        let u3 = [
            u1[1] * u2[2] - u1[2] * u2[1],
            u1[2] * u2[0] - u1[0] * u2[2],
            u1[0] * u2[1] - u1[1] * u2[0],
        ];
        assert!(rayleigh(&u3).0 < l2);
        // Roughly the generating directions: (1, 1, 0)/√2, then z.
        let h = std::f64::consts::FRAC_1_SQRT_2;
        assert!(
            (u1[0] - h).abs() < 0.02 && (u1[1] - h).abs() < 0.02,
            "{u1:?}"
        );
        assert!((u2[2] - 1.0).abs() < 0.02, "{u2:?}");
        assert_eq!(p.names(), vec!["m:pc1", "m:pc2"]);
        // Projection centres and rotates: the mean vector maps to 0.
        let mean32: Vec<f32> = p.mean.iter().map(|&m| m as f32).collect();
        let z = p.apply(Some(&mean32));
        assert!(z.iter().all(|v| v.unwrap().abs() < 1e-5), "{z:?}");
        assert_eq!(p.apply(None), vec![None, None]);
        assert_eq!(p.apply(Some(&[1.0])), vec![None, None], "wrong length");
        // Too few vectors for the rank: none.
        let small = Embedding {
            model: "m".into(),
            dim: 3,
            vectors: vec![Some(vec![1.0, 2.0, 3.0]); 2],
        };
        assert!(Projection::fit(&small, 2, 1).is_none());
    }
}
