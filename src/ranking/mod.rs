//! Pure statistics (no I/O): human-evaluation statistics (Bradley–Terry with bootstrap
//! intervals, Elo, Cohen/Fleiss κ, Krippendorff α, Spearman/Kendall, pairwise accuracy),
//! distribution metrics between batches (Fréchet distance, KID,
//! precision/recall/density/coverage, Inception Score) and full-reference fidelity metrics
//! (PSNR, SSIM, MS-SSIM). Each function states the peer implementation whose convention it
//! follows (`../shared/docs/metrics-reference.md` §4 and §7) and is checked against reference
//! vectors from `scripts/gen_distribution_refs.py` and `scripts/gen_ranking_refs.py`.

pub mod agreement;
pub mod bt;
pub mod correlation;
mod dist_linalg;
pub mod distribution;
pub mod drift;
pub mod elo;
pub mod error;
pub mod fidelity;
pub mod metric_error;
pub mod prdc;
pub mod rng;
