//! Pure statistics (no I/O): distribution metrics between batches (Fréchet distance, KID,
//! precision/recall/density/coverage, Inception Score) and full-reference fidelity metrics
//! (PSNR, SSIM, MS-SSIM). Each function states the peer implementation whose convention it
//! follows (`../shared/docs/metrics-reference.md` §4) and is checked against reference vectors
//! from `scripts/gen_distribution_refs.py`.

mod dist_linalg;
pub mod distribution;
pub mod fidelity;
pub mod metric_error;
pub mod prdc;
