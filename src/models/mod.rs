//! Models run with burn on a run-time [`burn::tensor::Device`]: backend selection lives in
//! [`backend`]. Models never touch the store.

pub mod backend;
pub mod clip;
