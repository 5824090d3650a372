//! Models run with burn on a run-time [`burn::tensor::Device`]: backend selection lives in
//! [`backend`]; [`mtcnn`] is the face detector. Models never touch the store.

pub mod backend;
pub mod mtcnn;
