//! Assay: a local, GPU-native workbench for culling and evaluating text-to-image candidates.
//!
//! Flow (see ARCHITECTURE.md): [`catalog`] finds and decodes files, [`metadata`] parses
//! generation metadata, [`signals`] computes per-image quality signals (plain Rust on the CPU,
//! burn tensors on the GPU), [`pipeline`] runs scans as batched, cancellable jobs into the
//! [`store`] (SQLite, the only module with SQL), and the [`cli`] and `gui` front ends read it.
//! [`selection`] holds pure filter/sort logic; [`table`] the column model; [`learn`] fits the
//! local preference scorer from labels; `team` (feature `team`) syncs a collection's labels and
//! decisions with teammates through a shared PostgreSQL.

pub mod catalog;
pub mod cli;
pub mod domain;

pub mod export;
pub mod fuzz;
#[cfg(feature = "gui")]
pub mod gui;
pub mod human;
pub mod imaging;
pub mod learn;
pub mod memory;
pub mod metadata;
pub mod models;
pub mod monitor;
pub mod pipeline;
pub mod ranking;
pub mod selection;
pub mod signals;
pub mod store;
pub mod table;
#[cfg(feature = "team")]
pub mod team;
