//! `assay merge OUT DB...`: shard catalogues (`assay scan --shard I/N`) into one catalogue.
//!
//! Each shard is checked as any catalogue a reader opens (`Store::open_for_reading`: not empty,
//! a catalogue, not newer than this build) and must have this build's schema; it is then
//! `ATTACH`ed read-only and copied in one transaction per shard (SQLite cannot attach inside a
//! transaction), so a merge killed halfway is finished by running it again.
//!
//! - **Images** are matched by path (`path_raw`). A path new to the output gets all of the
//!   shard's versions of it; a path whose current version has the same content hash is *already
//!   present* (its rows below fill what the output lacks); a path whose current content differs
//!   (in the output or in an earlier shard of the same merge) is a *content conflict*: reported,
//!   nothing of it copied. New images get their ids in one pass over all shards, in path order
//!   after the output's largest id — the order of a single scan's discovery, so a merge into a
//!   new catalogue gives the ids (and `dup_group` values, the lowest id of a group) a single
//!   scan of the same folder would.
//! - **Rows by image** (`metadata`, `signals`, `embeddings`) are inserted where the output has
//!   none for that image (and key / model); a stored value that differs from the shard's is a
//!   *value conflict*, reported, the output's value kept. `dup_group` is left out of that check:
//!   groups within one shard are not the collection's, the caller recomputes them over the merged
//!   rows (`pipeline::shard::merge`).
//! - **Label events** by `uid`, **raters** by name, **policies** by hash, **decisions** and
//!   **scans** by their whole content: nothing is added twice. Scorers are not merged (a shard
//!   scan does not train).
//!
//! Columns are read from the schema (`PRAGMA table_info`), so a migration that adds a column
//! to these tables is merged without a change here. Merging the same shards again adds nothing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::params;
use serde::Serialize;

use super::{Error, Store};

/// Content conflicts and value conflicts listed in a report at most (all are counted).
const LISTED_CONFLICTS: usize = 200;

/// Why a merge did not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("{path} is the output catalogue itself; merge other catalogues into it")]
    SameFile { path: PathBuf },
    #[error("no such catalogue: {path}")]
    NotFound { path: PathBuf },
    #[error(
        "{path} has schema version {found}, the output has {expected}; open both with this \
         build first (e.g. `assay table`)"
    )]
    Schema {
        path: PathBuf,
        found: i64,
        expected: i64,
    },
    #[error("cannot merge {path}")]
    Shard {
        path: PathBuf,
        #[source]
        source: Error,
    },
    #[error(transparent)]
    Store(#[from] Error),
}

impl From<rusqlite::Error> for MergeError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Store(Error::Sql(e))
    }
}

/// What kind of disagreement a conflict is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictKind {
    /// The same path with different content (hash): the shard's rows of it were not copied.
    Content,
    /// The same image with a different stored value: the output's value was kept.
    Value,
}

/// One conflict of a merge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MergeConflict {
    /// The shard catalogue it came from.
    pub database: String,
    pub path: String,
    pub kind: ConflictKind,
    /// What differs: the two hashes, or the table and key.
    pub detail: String,
}

/// What one shard added to the output.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ShardMerged {
    pub database: String,
    /// Paths new to the output (with all their versions).
    pub images_added: u64,
    pub versions_added: u64,
    /// Paths whose content the output had already.
    pub images_present: u64,
    pub content_conflicts: u64,
    pub value_conflicts: u64,
    pub metadata: u64,
    pub signals: u64,
    pub embeddings: u64,
    pub decisions: u64,
    pub label_events: u64,
    pub raters: u64,
    pub policies: u64,
    pub scans: u64,
    /// Definitions of imported signals (`assay signals import`) new to the output; their values
    /// are `signals` rows and merge with them.
    pub external_signals: u64,
}

/// The result of [`Store::merge_catalogues`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct MergeReport {
    pub output: String,
    pub shards: Vec<ShardMerged>,
    /// Rows added over all shards (0: the merge changed nothing).
    pub rows_added: u64,
    pub conflicts_total: u64,
    /// The first conflicts (at most 200).
    pub conflicts: Vec<MergeConflict>,
}

/// One image row of a shard, as the plan needs it.
struct ShardImage {
    id: i64,
    path_raw: Vec<u8>,
    path: String,
    version: i64,
    current: bool,
    hash: Option<String>,
}

/// The output id of every shard image that is copied or already present.
#[derive(Default)]
struct Plan {
    /// Per shard: (shard id, output id, whether the row is new).
    maps: Vec<Vec<(i64, i64, bool)>>,
    /// Per shard: paths present / new, and the content conflicts.
    present: Vec<u64>,
    added: Vec<u64>,
    conflicts: Vec<Vec<MergeConflict>>,
}

impl Store {
    /// Merges the catalogues `shards` into this one (see the module docs); returns what each
    /// added and the conflicts.
    pub fn merge_catalogues(&mut self, shards: &[PathBuf]) -> Result<MergeReport, MergeError> {
        let expected = self.schema_version()?;
        let mut images = Vec::with_capacity(shards.len());
        for path in shards {
            images.push(self.shard_images(path, expected)?);
        }
        let plan = self.plan(shards, &images)?;
        let mut report = MergeReport {
            output: self.path.display().to_string(),
            ..MergeReport::default()
        };
        for (i, path) in shards.iter().enumerate() {
            report.conflicts_total += plan.conflicts[i].len() as u64;
            for c in &plan.conflicts[i] {
                if report.conflicts.len() < LISTED_CONFLICTS {
                    report.conflicts.push(c.clone());
                }
            }
            let mut merged = self.merge_one(path, &plan.maps[i], &mut report)?;
            merged.images_present = plan.present[i];
            merged.images_added = plan.added[i];
            merged.content_conflicts = plan.conflicts[i].len() as u64;
            report.rows_added += merged.versions_added
                + merged.metadata
                + merged.signals
                + merged.embeddings
                + merged.decisions
                + merged.label_events
                + merged.raters
                + merged.policies
                + merged.scans
                + merged.external_signals;
            report.shards.push(merged);
        }
        Ok(report)
    }

    /// The image rows of the shard at `path`, after checking it as a reader would.
    fn shard_images(&self, path: &Path, expected: i64) -> Result<Vec<ShardImage>, MergeError> {
        if !path.is_file() {
            return Err(MergeError::NotFound {
                path: path.to_path_buf(),
            });
        }
        let same = |a: &Path, b: &Path| a.canonicalize().ok() == b.canonicalize().ok();
        if same(path, &self.path) {
            return Err(MergeError::SameFile {
                path: path.to_path_buf(),
            });
        }
        let wrap = |source| MergeError::Shard {
            path: path.to_path_buf(),
            source,
        };
        let shard = Self::open_for_reading(path).map_err(wrap)?;
        let found = shard.schema_version().map_err(wrap)?;
        if found != expected {
            return Err(MergeError::Schema {
                path: path.to_path_buf(),
                found,
                expected,
            });
        }
        let mut stmt = shard
            .conn
            .prepare("SELECT id, path_raw, path, version, current, hash FROM images")?;
        let rows = stmt.query_map([], |r| {
            Ok(ShardImage {
                id: r.get(0)?,
                path_raw: r.get(1)?,
                path: r.get(2)?,
                version: r.get(3)?,
                current: r.get::<_, i64>(4)? != 0,
                hash: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Matches every shard's paths against the output and the shards before it, and gives the
    /// new image rows their output ids in path order.
    fn plan(&self, shards: &[PathBuf], images: &[Vec<ShardImage>]) -> Result<Plan, MergeError> {
        // The output's current row of each path: (id, hash).
        let mut owner: HashMap<Vec<u8>, (Option<i64>, Option<String>)> = HashMap::new();
        {
            let mut stmt = self
                .conn
                .prepare("SELECT path_raw, id, hash FROM images WHERE current = 1")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            for row in rows {
                let (raw, id, hash): (Vec<u8>, i64, Option<String>) = row?;
                owner.insert(raw, (Some(id), hash));
            }
        }
        let mut plan = Plan::default();
        // New rows over all shards: (path, version, shard, shard id); version -1 marks a path
        // already present in an earlier shard of this merge.
        let mut fresh: Vec<(&[u8], i64, usize, i64)> = Vec::new();
        // Paths first claimed by a shard of this merge: (shard, shard id of its current row).
        let mut claimed: HashMap<&[u8], (usize, i64)> = HashMap::new();
        for (s, rows) in images.iter().enumerate() {
            plan.maps.push(Vec::new());
            plan.present.push(0);
            plan.added.push(0);
            plan.conflicts.push(Vec::new());
            let database = shards[s].display().to_string();
            for cur in current_rows(rows) {
                let key = cur.path_raw.as_slice();
                let earlier = owner.get(key).map(|(id, h)| (*id, h.clone()));
                let Some((out_id, out_hash)) = earlier else {
                    owner.insert(cur.path_raw.clone(), (None, cur.hash.clone()));
                    claimed.insert(key, (s, cur.id));
                    plan.added[s] += 1;
                    for r in rows.iter().filter(|r| r.path_raw == cur.path_raw) {
                        fresh.push((&r.path_raw, r.version, s, r.id));
                    }
                    continue;
                };
                if out_hash != cur.hash {
                    plan.conflicts[s].push(MergeConflict {
                        database: database.clone(),
                        path: cur.path.clone(),
                        kind: ConflictKind::Content,
                        detail: format!(
                            "content {} here, {} in the output",
                            cur.hash.as_deref().unwrap_or("unread"),
                            out_hash.as_deref().unwrap_or("unread")
                        ),
                    });
                    continue;
                }
                plan.present[s] += 1;
                match out_id {
                    Some(id) => plan.maps[s].push((cur.id, id, false)),
                    // Present in an earlier shard of this merge: mapped once its id is known.
                    None => fresh.push((key, -1, s, cur.id)),
                }
            }
        }
        let base: i64 =
            self.conn
                .query_row("SELECT COALESCE(MAX(id), 0) FROM images", [], |r| r.get(0))?;
        fresh.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        let mut next = base;
        // Output id of each (shard, shard id) copied, to map later shards' present rows.
        let mut out_of: HashMap<(usize, i64), i64> = HashMap::new();
        for &(_, _, s, id) in fresh.iter().filter(|f| f.1 >= 0) {
            next += 1;
            out_of.insert((s, id), next);
            plan.maps[s].push((id, next, true));
        }
        for &(key, _, s, id) in fresh.iter().filter(|f| f.1 < 0) {
            if let Some(out) = claimed.get(key).and_then(|c| out_of.get(c)) {
                plan.maps[s].push((id, *out, false));
            }
        }
        Ok(plan)
    }

    /// Copies one shard by the plan's id map in one transaction.
    fn merge_one(
        &mut self,
        path: &Path,
        map: &[(i64, i64, bool)],
        report: &mut MergeReport,
    ) -> Result<ShardMerged, MergeError> {
        let database = path.display().to_string();
        self.conn.execute(
            "ATTACH DATABASE ?1 AS shard",
            params![super::health::file_uri(path, "mode=ro")],
        )?;
        let result = self.copy_attached(&database, map, report);
        let detached = self.conn.execute_batch("DETACH DATABASE shard");
        let merged = result?;
        detached?;
        Ok(merged)
    }

    /// The copy of the attached `shard` (one transaction).
    fn copy_attached(
        &mut self,
        database: &str,
        map: &[(i64, i64, bool)],
        report: &mut MergeReport,
    ) -> Result<ShardMerged, MergeError> {
        let tx = self.conn.transaction()?;
        tx.execute_batch(
            "DROP TABLE IF EXISTS temp.merge_map;
             CREATE TEMP TABLE merge_map (old INTEGER PRIMARY KEY, new INTEGER NOT NULL, fresh INTEGER NOT NULL);",
        )?;
        {
            let mut stmt = tx.prepare("INSERT INTO temp.merge_map VALUES (?1, ?2, ?3)")?;
            for (old, new, fresh) in map {
                stmt.execute(params![old, new, fresh])?;
            }
        }
        let mut m = ShardMerged {
            database: database.to_string(),
            ..ShardMerged::default()
        };
        let cols = |t: &str| columns(&tx, t);
        let images = cols("images")?;
        let rest = without(&images, &["id"]);
        m.versions_added = exec(
            &tx,
            &format!(
                "INSERT INTO main.images (id, {c}) SELECT m.new, {s} FROM shard.images x
                 JOIN temp.merge_map m ON m.old = x.id WHERE m.fresh = 1 ORDER BY m.new",
                c = rest.join(", "),
                s = prefixed("x", &rest)
            ),
        )?;
        for (table, key, counter) in [
            ("metadata", &[][..], &mut m.metadata),
            ("signals", &["key"][..], &mut m.signals),
            ("embeddings", &["model_key"][..], &mut m.embeddings),
        ] {
            let all = cols(table)?;
            let conflicts = value_conflicts(&tx, table, key, &all)?;
            m.value_conflicts += conflicts.len() as u64;
            for (path, what) in conflicts {
                report.conflicts_total += 1;
                if report.conflicts.len() < LISTED_CONFLICTS {
                    report.conflicts.push(MergeConflict {
                        database: database.to_string(),
                        path,
                        kind: ConflictKind::Value,
                        detail: what,
                    });
                }
            }
            let rest = without(&all, &["image_id"]);
            *counter = exec(
                &tx,
                &format!(
                    "INSERT OR IGNORE INTO main.{table} (image_id, {c}) SELECT m.new, {s}
                     FROM shard.{table} x JOIN temp.merge_map m ON m.old = x.image_id",
                    c = rest.join(", "),
                    s = prefixed("x", &rest)
                ),
            )?;
        }
        m.decisions = copy_decisions(&tx)?;
        m.label_events = copy_unique(&tx, "label_events", &cols("label_events")?)?;
        m.raters = copy_unique(&tx, "raters", &cols("raters")?)?;
        m.policies = copy_unique(&tx, "policies", &cols("policies")?)?;
        m.scans = copy_new_content(&tx, "scans", &cols("scans")?)?;
        m.external_signals = copy_unique(&tx, "external_signals", &cols("external_signals")?)?;
        tx.execute_batch("DROP TABLE temp.merge_map")?;
        tx.commit()?;
        Ok(m)
    }
}

/// The current row of each path of a shard (the highest version when none is marked
/// current), in path order.
fn current_rows(rows: &[ShardImage]) -> Vec<&ShardImage> {
    let mut best: HashMap<&[u8], &ShardImage> = HashMap::new();
    for r in rows {
        let e = best.entry(r.path_raw.as_slice()).or_insert(r);
        if (r.current, r.version) > (e.current, e.version) {
            *e = r;
        }
    }
    let mut v: Vec<&ShardImage> = best.into_values().collect();
    v.sort_by(|a, b| a.path_raw.cmp(&b.path_raw));
    v
}

/// The column names of `main.table`.
fn columns(conn: &rusqlite::Connection, table: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(&format!("PRAGMA main.table_info({table})"))?;
    let names = stmt.query_map([], |r| r.get::<_, String>(1))?;
    names.collect()
}

fn without(cols: &[String], skip: &[&str]) -> Vec<String> {
    cols.iter()
        .filter(|c| !skip.contains(&c.as_str()))
        .cloned()
        .collect()
}

/// `alias.a, alias.b, …`.
fn prefixed(alias: &str, cols: &[String]) -> String {
    cols.iter()
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `o.a IS x.a AND o.b IS x.b …` over `cols`.
fn same(cols: &[String]) -> String {
    cols.iter()
        .map(|c| format!("o.{c} IS x.{c}"))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// Runs one statement; the rows it changed.
fn exec(conn: &rusqlite::Connection, sql: &str) -> rusqlite::Result<u64> {
    Ok(conn.execute(sql, [])? as u64)
}

/// Images already in the output whose row in `table` (matched by image and `key`) differs
/// from the shard's: (path, what). `dup_group` is not compared (recomputed after a merge).
fn value_conflicts(
    conn: &rusqlite::Connection,
    table: &str,
    key: &[&str],
    cols: &[String],
) -> rusqlite::Result<Vec<(String, String)>> {
    let mut skip = vec!["image_id"];
    skip.extend_from_slice(key);
    let compared = without(cols, &skip);
    let on: String = key.iter().map(|k| format!(" AND o.{k} = x.{k}")).collect();
    let label = match key.first() {
        Some(k) => format!("'{table}.' || x.{k}"),
        None => format!("'{table}'"),
    };
    let not_dup = if table == "signals" {
        " AND x.key <> 'dup_group'"
    } else {
        ""
    };
    let sql = format!(
        "SELECT i.path, {label} FROM shard.{table} x
         JOIN temp.merge_map m ON m.old = x.image_id AND m.fresh = 0
         JOIN main.{table} o ON o.image_id = m.new{on}
         JOIN main.images i ON i.id = m.new
         WHERE NOT ({same}){not_dup} ORDER BY i.path",
        same = same(&compared)
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// Decisions of the copied images not stored with the same content for the same image.
fn copy_decisions(conn: &rusqlite::Connection) -> rusqlite::Result<u64> {
    let rest = without(&columns(conn, "decisions")?, &["id", "image_id"]);
    exec(
        conn,
        &format!(
            "INSERT INTO main.decisions (image_id, {c}) SELECT m.new, {s}
             FROM shard.decisions x JOIN temp.merge_map m ON m.old = x.image_id
             WHERE NOT EXISTS (SELECT 1 FROM main.decisions o
                               WHERE o.image_id = m.new AND {same})
             ORDER BY x.id",
            c = rest.join(", "),
            s = prefixed("x", &rest),
            same = same(&rest)
        ),
    )
}

/// Rows of a table with a unique key besides `id` (uid, name, hash, an imported signal's key):
/// the ones not stored yet (the output's row wins), in the shard's order.
fn copy_unique(conn: &rusqlite::Connection, table: &str, cols: &[String]) -> rusqlite::Result<u64> {
    let rest = without(cols, &["id"]);
    let order = if rest.len() < cols.len() { "x.id" } else { "1" };
    exec(
        conn,
        &format!(
            "INSERT OR IGNORE INTO main.{table} ({c}) SELECT {s} FROM shard.{table} x ORDER BY {order}",
            c = rest.join(", "),
            s = prefixed("x", &rest)
        ),
    )
}

/// Rows of a table without a unique key (scans): those whose content is not stored yet.
fn copy_new_content(
    conn: &rusqlite::Connection,
    table: &str,
    cols: &[String],
) -> rusqlite::Result<u64> {
    let rest = without(cols, &["id"]);
    exec(
        conn,
        &format!(
            "INSERT INTO main.{table} ({c}) SELECT {s} FROM shard.{table} x
             WHERE NOT EXISTS (SELECT 1 FROM main.{table} o WHERE {same}) ORDER BY x.id",
            c = rest.join(", "),
            s = prefixed("x", &rest),
            same = same(&rest)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Status;
    use crate::store::{ImageFacts, IngestRecord, NewDecision, NewLabelEvent, SignalRow, Upsert};

    /// A catalogue at `path` with one current image per `(path, hash, blur)`, an embedding
    /// each, and a label event `uid`.
    fn catalogue(path: &Path, images: &[(&str, &str, f64)], uid: &str) -> Store {
        let mut s = Store::open(path).unwrap();
        let records: Vec<IngestRecord> = images
            .iter()
            .map(|(p, h, blur)| IngestRecord {
                upsert: Upsert::New,
                facts: ImageFacts {
                    path: (*p).to_string(),
                    path_raw: p.as_bytes().to_vec(),
                    size: 1,
                    mtime_ns: 1,
                    hash: Some((*h).to_string()),
                    ..ImageFacts::default()
                },
                metadata: None,
                signals: vec![SignalRow {
                    key: "blur_laplacian_var".into(),
                    value: Some(*blur),
                    text: None,
                    producer: "classical@1".into(),
                }],
                signals_version: Some(1),
                embedding: Some(("m".into(), vec![*blur as f32, 1.0])),
            })
            .collect();
        s.write_ingest(&records).unwrap();
        s.append_label_events(&[NewLabelEvent {
            uid: uid.into(),
            time: Some("2026-01-01T00:00:00.000Z".into()),
            rater: "ann".into(),
            session: "ann@1".into(),
            protocol: crate::domain::Protocol::Pairwise,
            payload: "{}".into(),
        }])
        .unwrap();
        s
    }

    fn ids_by_path(s: &Store) -> Vec<(i64, String)> {
        let mut st = s
            .conn
            .prepare("SELECT id, path FROM images ORDER BY id")
            .unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn merges_in_path_order_once_and_reports_conflicts() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.db");
        let b = dir.path().join("b.db");
        let mut sa = catalogue(&a, &[("b.png", "02", 2.0), ("d.png", "04", 4.0)], "e1");
        let id = ids_by_path(&sa)[0].0;
        sa.append_decisions(&[NewDecision {
            image_id: id,
            status: Status::Accepted,
            rating: Some(4),
            source: "human".into(),
            reason: None,
            detail: None,
        }])
        .unwrap();
        sa.conn
            .execute(
                "INSERT INTO external_signals VALUES ('merge_test_judge', 'Judge', 'higher',
                 'judge', '1', 's.csv', '00', 't', 1, 1, 0, 0, 1)",
                [],
            )
            .unwrap();
        drop(sa);
        // b: a.png and c.png are new, d.png has other content, b.png the same content with
        // another blur value (a value conflict); the label event is shared.
        let sb = catalogue(
            &b,
            &[
                ("a.png", "01", 1.0),
                ("b.png", "02", 9.0),
                ("c.png", "03", 3.0),
                ("d.png", "99", 4.0),
            ],
            "e1",
        );
        drop(sb);
        let mut out = Store::open(&dir.path().join("out.db")).unwrap();
        let r = out.merge_catalogues(&[a.clone(), b.clone()]).unwrap();
        let paths: Vec<String> = ids_by_path(&out).into_iter().map(|x| x.1).collect();
        assert_eq!(
            paths,
            ["a.png", "b.png", "c.png", "d.png"],
            "ids in path order"
        );
        assert_eq!(r.shards[0].images_added, 2);
        assert_eq!(r.shards[1].images_added, 2);
        assert_eq!(r.shards[1].images_present, 1);
        assert_eq!(r.shards[1].content_conflicts, 1);
        assert_eq!(
            r.shards[1].value_conflicts, 2,
            "the blur signal and the embedding"
        );
        assert_eq!(r.conflicts_total, 3);
        assert_eq!(r.conflicts[0].kind, ConflictKind::Content);
        assert_eq!(r.conflicts[0].path, "d.png");
        assert_eq!(r.shards[0].decisions, 1);
        assert_eq!((r.shards[0].label_events, r.shards[1].label_events), (1, 0));
        assert_eq!(out.count("embeddings").unwrap(), 4);
        assert_eq!(
            r.shards[0].external_signals, 1,
            "the imported signal's definition"
        );
        assert_eq!(out.count("external_signals").unwrap(), 1);
        // The output's values are kept.
        let blur: f64 = out
            .conn
            .query_row(
                "SELECT value FROM signals s JOIN images i ON i.id = s.image_id
                 WHERE i.path = 'b.png' AND s.key = 'blur_laplacian_var'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(blur, 2.0);
        // Again: nothing added, the same conflicts.
        let again = out.merge_catalogues(&[a.clone(), b]).unwrap();
        assert_eq!(again.rows_added, 0);
        assert_eq!(again.conflicts_total, 3);
        assert!(matches!(
            out.merge_catalogues(&[dir.path().join("out.db")]),
            Err(MergeError::SameFile { .. })
        ));
        assert!(matches!(
            out.merge_catalogues(&[dir.path().join("none.db")]),
            Err(MergeError::NotFound { .. })
        ));
    }
}
