//! Scale-out scoring: `assay scan DIR --shard I/N` on N processes (or machines), then `assay
//! merge OUT DB...`.
//!
//! A sharded scan discovers the whole folder, reads and hashes every file it has no current
//! row for (the hash needs the bytes, which a scan reads anyway), and stops at the hash for the
//! files of other shards ([`crate::catalog::shard`]: content hash mod N, 1-based `I`): they are
//! not decoded, not scored and leave no row, only a count (`other_shards` in the summary). Its
//! catalogue is `--db`, by default `<root>/.assay/shard-I-of-N.db`. Rescanning a shard re-reads
//! and re-hashes the other shards' files (they have no row to compare size and mtime with);
//! a stored file whose new content belongs to another shard is marked missing in this one.
//!
//! [`merge`] copies shard catalogues into one ([`Store::merge_catalogues`]: images by path,
//! conflicts reported, idempotent), then recomputes what no shard can know: `dup_group` over
//! the merged pHashes ([`super::update_duplicate_groups`], the step a single scan ends with,
//! at the shards' threshold) and the active preference scorer's `learned_preference`. Into a
//! new catalogue, the result is the catalogue a single scan of the folder gives (the
//! integration test `shard` compares every `assay table` column).
//!
//! # How far it goes
//!
//! Scoring is embarrassingly parallel: N machines give about N times one machine's images/s
//! (`assay bench scan` measures it; decoding and the models dominate, on CPU or GPU) until the
//! shared filesystem's read bandwidth is spent: every shard reads *every* file once to hash it,
//! so the folder is read N times in all — with 1 MB images and a 1 GB/s share, about 1000
//! files/s over all shards together, whatever N, so a few GPU machines already reach it. What
//! breaks next is the merge: one process writing one SQLite file (single writer: bulk
//! `INSERT … SELECT` from attached shards, minutes per million images, not measured here) and
//! its in-memory plan (a path and a few ids per image). Near duplicates across shards exist only
//! after the merge. Beyond that, the engine should hand each task a list of paths (sharding by
//! path, read once) instead of every task hashing the whole folder.

use std::path::PathBuf;

use serde::Serialize;

use super::{preference, scan_log, update_duplicate_groups};
use crate::signals;
use crate::store::{MergeError, MergeReport, Store};

/// What `assay merge` is asked to do.
#[derive(Debug, Clone)]
pub struct MergeOptions {
    /// The catalogue written (created when absent).
    pub output: PathBuf,
    /// The shard catalogues read.
    pub shards: Vec<PathBuf>,
    /// pHash distance of the recomputed duplicate groups; default: the shards' own (from the
    /// `dup_group` producer), else 5 as `assay scan`.
    pub dup_threshold: Option<u32>,
    /// Backups of a non-empty output kept (one is made before the merge writes).
    pub backups: usize,
}

/// What a merge did.
#[derive(Debug, Clone, Serialize)]
pub struct MergeSummary {
    #[serde(flatten)]
    pub merge: MergeReport,
    /// The threshold of the recomputed `dup_group`.
    pub dup_threshold: u32,
    pub near_duplicate_groups: u64,
    /// The active preference scorer rescored the merged collection (absent without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub learned: Option<preference::Refreshed>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub learned_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_error: Option<String>,
    /// Remarks (e.g. shards scanned with different duplicate thresholds).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Merges `opts.shards` into `opts.output` and recomputes the collection-wide signals.
pub fn merge(opts: &MergeOptions) -> Result<MergeSummary, MergeError> {
    let mut store = Store::open(&opts.output)?;
    let backup = scan_log::backup_before_scan(&store, opts.backups);
    let report = store.merge_catalogues(&opts.shards)?;
    let mut notes = Vec::new();
    let dup_threshold = match opts.dup_threshold {
        Some(t) => t,
        None => stored_threshold(&store, &mut notes)?,
    };
    let near_duplicate_groups = update_duplicate_groups(&mut store, dup_threshold)?;
    let (learned, learned_error) = match preference::refresh_active(&mut store) {
        Ok(r) => (r, None),
        Err(e) => (None, Some(e.to_string())),
    };
    Ok(MergeSummary {
        merge: report,
        dup_threshold,
        near_duplicate_groups,
        learned,
        learned_error,
        backup: backup.as_ref().ok().cloned().flatten(),
        backup_error: backup.err(),
        notes,
    })
}

/// The duplicate threshold the merged catalogues were scanned with (`threshold=N` in the
/// `dup_group` producer); 5 (`assay scan`'s default) when none or several are found.
fn stored_threshold(store: &Store, notes: &mut Vec<String>) -> Result<u32, MergeError> {
    let mut found: Vec<u32> = store
        .signal_producers("dup_group")?
        .values()
        .filter(|p| p.starts_with(signals::DEDUP))
        .filter_map(|p| p.split_once("threshold=")?.1.trim().parse().ok())
        .collect();
    found.sort_unstable();
    found.dedup();
    Ok(match found.as_slice() {
        [t] => *t,
        [] => 5,
        several => {
            notes.push(format!(
                "the catalogues were scanned with different duplicate thresholds ({several:?}); \
                 groups recomputed at 5 (pass --dup-threshold)"
            ));
            5
        }
    })
}
