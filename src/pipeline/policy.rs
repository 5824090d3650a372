//! The selection use-cases that read the catalogue and policy files: `assay calibrate --signal`,
//! `assay calibrate --policy` (with `--write`, the policy file's `[bands]` are rewritten, comments
//! kept; only that file is ever written), `assay select` (a policy's decisions appended; human
//! decisions always win) and `assay select --best-of-n`. Typed options and the typed reports of
//! [`crate::selection::report`]; the front ends parse, load the label events and print.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::human::Event;
use crate::selection::evaluate::CalibrateOptions;
use crate::selection::plan::{self, Prepared};
use crate::selection::report::{
    self, BestOfNOptions, BestOfNReport, PolicyCalibrationReport, ReportError, SelectReport,
    SignalCalibrateOptions, SignalCalibration,
};
use crate::store::{self, Store};

/// Why a policy use-case failed.
#[derive(Debug, thiserror::Error)]
pub enum PolicyUseError {
    /// The policy file of `assay select` could not be read.
    #[error("cannot read {}", .0.display())]
    Read(PathBuf, #[source] std::io::Error),
    /// The policy file of `assay calibrate` could not be read.
    #[error("cannot read the policy {}", .0.display())]
    ReadPolicy(PathBuf, #[source] std::io::Error),
    /// The policy text is not a valid policy (the parser's message, and the file).
    #[error("{message} ({})", path.display())]
    Invalid { message: String, path: PathBuf },
    /// The calibrated thresholds cannot be written into the file's `[bands]`.
    #[error(
        "cannot rewrite the thresholds: write `accept = …` and `reject = …` on their own lines in a [bands] table ({})",
        .0.display()
    )]
    Unwritable(PathBuf),
    #[error("cannot write {}", .0.display())]
    Write(PathBuf, #[source] std::io::Error),
    #[error("cannot replace {}", .0.display())]
    Replace(PathBuf, #[source] std::io::Error),
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error(transparent)]
    Store(#[from] store::Error),
}

impl PolicyUseError {
    /// Something the user can fix by changing the arguments or the policy (exit 1 in the CLI).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Self::Invalid { .. } | Self::Unwritable(_) | Self::Report(_)
        )
    }
}

/// A policy file read and prepared.
#[derive(Debug, Clone)]
pub struct PolicyFile {
    pub path: PathBuf,
    pub text: String,
    pub prepared: Prepared,
}

impl PolicyFile {
    /// Reads and prepares the policy of `assay select`.
    pub fn read(path: &Path) -> Result<Self, PolicyUseError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| PolicyUseError::Read(path.to_path_buf(), e))?;
        Self::prepare(path, text)
    }

    /// Reads and prepares the policy of `assay calibrate --policy`.
    pub fn read_for_calibration(path: &Path) -> Result<Self, PolicyUseError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| PolicyUseError::ReadPolicy(path.to_path_buf(), e))?;
        Self::prepare(path, text)
    }

    fn prepare(path: &Path, text: String) -> Result<Self, PolicyUseError> {
        let prepared = plan::prepare(&text).map_err(|e| PolicyUseError::Invalid {
            message: e.to_string(),
            path: path.to_path_buf(),
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            text,
            prepared,
        })
    }
}

/// Calibrates a threshold on one signal from the catalogue's human decisions.
pub fn calibrate_signal(
    store: &Store,
    o: &SignalCalibrateOptions,
) -> Result<SignalCalibration, PolicyUseError> {
    let rows = store.image_rows(false)?;
    Ok(report::calibrate_signal(&rows, o)?)
}

/// Calibrates the policy's accept / reject bands on the catalogue's decisions and `events`;
/// with `write`, rewrites the policy file's `[bands]` with the result.
pub fn calibrate_policy(
    store: &Store,
    file: &PolicyFile,
    events: &[Event],
    o: &CalibrateOptions,
    write: bool,
) -> Result<PolicyCalibrationReport, PolicyUseError> {
    let rows = store.image_rows(false)?;
    let file_name = file.path.display().to_string();
    let r = report::calibrate_policy(&file.prepared, &rows, events, o, file_name, write)?;
    if write {
        write_bands(&file.path, &file.text, r.accept, r.reject)?;
    }
    Ok(r)
}

/// Rewrites `[bands]` and checks that the file now says what was calibrated.
pub fn write_bands(
    path: &Path,
    text: &str,
    accept: f64,
    reject: f64,
) -> Result<(), PolicyUseError> {
    let new = plan::set_bands(text, accept, reject);
    let ok = plan::prepare(&new).is_ok_and(|p| {
        (p.policy.bands.accept - accept).abs() < 1e-12
            && (p.policy.bands.reject - reject).abs() < 1e-12
    });
    if !ok {
        return Err(PolicyUseError::Unwritable(path.to_path_buf()));
    }
    // Write next to the real file (a symlinked policy stays a symlink), keep its permissions,
    // and replace it atomically; a failed replace leaves no temporary file behind.
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let tmp = target.with_extension("toml.assay-tmp");
    std::fs::write(&tmp, new).map_err(|e| PolicyUseError::Write(tmp.clone(), e))?;
    if let Ok(meta) = std::fs::metadata(&target) {
        std::fs::set_permissions(&tmp, meta.permissions()).ok();
    }
    if let Err(e) = std::fs::rename(&tmp, &target) {
        std::fs::remove_file(&tmp).ok();
        return Err(PolicyUseError::Replace(target, e));
    }
    Ok(())
}

/// Applies the policy: one decision per image whose latest decision is not a human's, appended
/// with the policy text versioned (nothing is written with `dry_run`).
pub fn select(
    store: &mut Store,
    file: &PolicyFile,
    dry_run: bool,
) -> Result<SelectReport, PolicyUseError> {
    let p = &file.prepared;
    let rows = store.image_rows(false)?;
    let human: HashSet<i64> = store
        .latest_decision_sources()?
        .into_iter()
        .filter(|(_, s)| s == "human")
        .map(|(id, _)| id)
        .collect();
    let plan = plan::plan(p, &rows, &human).map_err(|e| ReportError::Policy(e.to_string()))?;
    if !dry_run {
        store.record_policy(&p.policy.name, &p.hash, &file.text)?;
        store.append_decisions(&plan.decisions)?;
    }
    Ok(SelectReport::of(p, &plan, human.len(), !dry_run))
}

/// The policy's best-of-N curves and selector efficiency on the catalogue and `events`.
pub fn best_of_n(
    store: &Store,
    file: &PolicyFile,
    events: &[Event],
    o: &BestOfNOptions,
) -> Result<BestOfNReport, PolicyUseError> {
    let rows = store.image_rows(false)?;
    Ok(report::best_of_n(&file.prepared, &rows, events, o)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Status;

    #[test]
    fn select_dry_run_counts_and_writes_nothing() {
        let mut s = Store::open_in_memory().unwrap();
        let recs: Vec<_> = (0..3)
            .map(|i| crate::store::new_image(&format!("i{i}.png")))
            .collect();
        s.write_ingest(&recs).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(&path, include_str!("../../assets/policies/example.toml")).unwrap();
        let file = PolicyFile::read(&path).unwrap();
        let r = select(&mut s, &file, true).unwrap();
        assert!(!r.written);
        assert_eq!(r.kept_human_decisions, 0);
        let total: u64 = r.counts.values().sum();
        assert_eq!(total, 3, "{r:?}");
        assert!(s.latest_decision_sources().unwrap().is_empty());
        let r = select(&mut s, &file, false).unwrap();
        assert!(r.written);
        assert_eq!(s.latest_decision_sources().unwrap().len(), 3);
        assert_eq!(
            r.count(Status::Accepted) + r.count(Status::Review) + r.count(Status::Rejected),
            3
        );
        let missing = PolicyFile::read(&dir.path().join("none.toml")).unwrap_err();
        assert!(!missing.is_usage());
        assert!(missing.to_string().starts_with("cannot read "));
    }
}
