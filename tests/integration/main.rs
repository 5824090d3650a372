//! Integration tests: one binary (every test target links burn + wgpu again). They drive the
//! real `assay` binary on the shared fixtures, the shipped demo and generated corpora.
//!
//! # What they cover
//!
//! Unit tests beside the code; one integration binary (`tests/integration/`) drives the real
//! `assay` binary on `../shared/fixtures` (positive prompt per MANIFEST row), the demo (every
//! signal shows its defect), a generated corpus of broken files, incremental rescans, a SIGKILL
//! mid-scan, and tensor-vs-plain parity on flex and wgpu. Reference vectors come from committed
//! scripts with pinned peer versions. Benchmarks are `assay bench` subcommands, never timed tests.

// Test code: a panic is a failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// End-to-end scenarios (scan → label → train → GUI) read top to bottom as one story each; the
// 150-line cap applies to the library and the binary.
#![allow(clippy::too_many_lines)]

mod bad_input;
mod calibrate_policy;
#[cfg(feature = "gui")]
mod catalog_gui;
mod clip;
mod common;
mod compare;
mod demo;
mod export;
mod faces;
mod fixtures_scan;
mod fuzz;
#[cfg(feature = "gui")]
mod gui;
mod hands;
mod hardening_catalogue;
mod hardening_cli;
mod hardening_export;
#[cfg(feature = "gui")]
mod hardening_gui;
mod incremental;
mod judges;
mod kill;
#[cfg(feature = "gui")]
mod labeling_gui;
mod labels;
mod learn;
mod memory;
mod monitor;
#[cfg(feature = "gui")]
mod monitor_gui;
mod parquet;
mod score_import;
mod select;
mod shard;
#[cfg(feature = "team")]
mod team;
mod tensor_parity;
