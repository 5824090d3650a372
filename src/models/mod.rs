//! Models run with burn on a run-time [`burn::tensor::Device`]: backend selection lives in
//! [`backend`]; [`mtcnn`] is the face detector; [`clip`] the CLIP towers, aesthetic heads and
//! weight discovery. Models never touch the store.

pub mod backend;
pub mod clip;
pub mod graph;
pub mod hands;
pub mod mtcnn;
