//! Pure statistics (no I/O): human-evaluation statistics (Bradley–Terry with bootstrap
//! intervals, Elo, Cohen/Fleiss κ, Krippendorff α, Spearman/Kendall, pairwise accuracy),
//! distribution metrics between batches (Fréchet distance, KID,
//! precision/recall/density/coverage, Inception Score) and full-reference fidelity metrics
//! (PSNR, SSIM, MS-SSIM). Each function states the peer implementation whose convention it
//! follows (`../shared/docs/metrics-reference.md` §4 and §7) and is checked against reference
//! vectors from `scripts/gen_distribution_refs.py` and `scripts/gen_ranking_refs.py`.
//!
//! # Scope
//!
//! Bradley–Terry MM (ties as half wins, choix-style prior, existence check) with bootstrap
//! intervals, FastChat Elo, Cohen/Fleiss κ, Krippendorff α (4 levels, missing data), Spearman,
//! Kendall τ-b (O(n log n)), pairwise accuracy — checked against `scripts/gen_ranking_refs.py`
//! (choix, scikit-learn, statsmodels, krippendorff, SciPy); Fréchet distance (symmetric eigen
//! formulation), KID (torch-fidelity estimator, explicit subsets),
//! precision/recall/density/coverage (prdc 0.2), Inception Score, PSNR, SSIM (skimage conventions),
//! MS-SSIM (torchmetrics); pure f64, checked against `scripts/gen_distribution_refs.py`. Drift
//! (`drift.rs`): two-sample KS with SciPy's `ks_2samp(method='asymp')` p-value (`kstwo.sf` by
//! SciPy's branches: Ruben–Gambino, Birnbaum–Tingey tail, exact Durbin matrix; Stephens-corrected
//! limit only for n·D ≥ 100), PSI on the baseline's quantile bins (shares floored at 1e-4; 0.1 /
//! 0.25 reading), mean with a normal 95 % interval; checked against `scripts/gen_drift_refs.py`
//! (SciPy 1.17.1). Used by `assay rank`/`assay agreement` (human evaluation) and `assay
//! compare`/`assay fidelity` (batch evaluation); `ranking::drift` is used by `monitor` (`assay
//! monitor` and the GUI's batch monitor); the labeling GUI uses the agreement statistics

pub mod agreement;
pub mod bt;
pub mod compare;
pub mod correlation;
mod dist_linalg;
pub mod distribution;
pub mod drift;
pub mod elo;
pub mod error;
pub mod fidelity;
pub mod metric_error;
pub mod prdc;
pub mod quantile;
pub mod rng;
