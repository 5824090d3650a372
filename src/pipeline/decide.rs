//! `assay decide` as a use-case: human decisions recorded headlessly through the same
//! append-only log the GUI uses, for files named relative to the collection (or by paths
//! inside it).

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::domain::Status;
use crate::store::{self, NewDecision, Store};

/// What to record.
#[derive(Debug, Clone, PartialEq)]
pub struct DecideOptions {
    /// The collection's root.
    pub dir: PathBuf,
    pub status: Status,
    /// 0–5 stars.
    pub rating: Option<i64>,
    /// Files, relative to `dir` (or paths inside it).
    pub paths: Vec<PathBuf>,
}

/// What was recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decided {
    /// Decisions appended.
    pub recorded: usize,
    pub status: Status,
    /// Named files that are not in the catalogue (relative paths), in the order given.
    pub unknown: Vec<String>,
}

/// The catalogue path of `p`: relative to `root` when it is a path inside it, else as given.
fn relative(root: &Path, p: &Path) -> String {
    let rel = match p.canonicalize() {
        Ok(abs) if abs.starts_with(root) => abs
            .strip_prefix(root)
            .map(Path::to_path_buf)
            .unwrap_or_default(),
        _ => p.to_path_buf(),
    };
    rel.to_string_lossy().replace('\\', "/")
}

/// Appends one human decision per named file that is in the catalogue.
pub fn decide(store: &mut Store, o: &DecideOptions) -> Result<Decided, store::Error> {
    let root = o.dir.canonicalize().unwrap_or_else(|_| o.dir.clone());
    let mut rows = Vec::new();
    let mut unknown = Vec::new();
    for p in &o.paths {
        let rel = relative(&root, p);
        match store.image_id(&rel)? {
            Some(id) => rows.push(NewDecision {
                image_id: id,
                status: o.status,
                rating: o.rating,
                source: "human".to_string(),
                reason: None,
                detail: None,
            }),
            None => unknown.push(rel),
        }
    }
    store.append_decisions(&rows)?;
    Ok(Decided {
        recorded: rows.len(),
        status: o.status,
        unknown,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decide_records_known_files_and_lists_unknown_ones() {
        let mut s = Store::open_in_memory().unwrap();
        s.write_ingest(&[store::new_image("a.png"), store::new_image("b.png")])
            .unwrap();
        let o = DecideOptions {
            dir: PathBuf::from("/nonexistent-collection"),
            status: Status::Accepted,
            rating: Some(4),
            paths: vec!["a.png".into(), "zz.png".into()],
        };
        let d = decide(&mut s, &o).unwrap();
        assert_eq!(d.recorded, 1);
        assert_eq!(d.unknown, vec!["zz.png".to_string()]);
        assert_eq!(s.latest_decision_sources().unwrap().len(), 1);
    }
}
