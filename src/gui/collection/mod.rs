//! The parts of a [`Collection`](super::Collection), one job each: what was loaded on demand
//! and is kept for the next frames (`caches.rs`) and the scan and export jobs (`jobs.rs`).

mod caches;
mod jobs;

pub use caches::Caches;
pub use jobs::Jobs;
