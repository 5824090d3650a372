//! Models run with burn on a run-time [`burn::tensor::Device`]: backend selection lives in
//! [`backend`]; [`mtcnn`] is the face detector; [`clip`] the CLIP towers, aesthetic heads and
//! weight discovery; [`graph`] runs op graphs exported from TFLite models (conversion script,
//! safetensors with the op list in its metadata: reusable for further TFLite models) and
//! [`hands`] is MediaPipe's hand pipeline on it. Models never touch the store.

pub mod backend;
pub mod clip;
pub mod graph;
pub mod hands;
pub mod mtcnn;
