//! Decisions (append-only) and the selection policies that produced them.

use std::collections::HashMap;

use rusqlite::{OptionalExtension as _, params};

use super::{Result, Store, now_utc};
use crate::domain::Status;

/// A decision to append.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDecision {
    pub image_id: i64,
    pub status: Status,
    pub rating: Option<i64>,
    /// `human`, or `policy:<name>@<hash prefix>`.
    pub source: String,
    pub reason: Option<String>,
    /// JSON evidence (score, rank, signal values).
    pub detail: Option<String>,
}

impl Store {
    /// Records a policy version (idempotent by hash) and returns its id.
    pub fn record_policy(&self, name: &str, hash: &str, toml: &str) -> Result<i64> {
        self.conn.execute(
            "INSERT OR IGNORE INTO policies (name, hash, toml, first_applied) VALUES (?1, ?2, ?3, ?4)",
            params![name, hash, toml, now_utc()],
        )?;
        Ok(self.conn.query_row(
            "SELECT id FROM policies WHERE hash = ?1",
            params![hash],
            |r| r.get(0),
        )?)
    }

    /// Source of the latest decision of every image that has one.
    pub fn latest_decision_sources(&self) -> Result<HashMap<i64, String>> {
        let mut stmt = self.conn.prepare(
            "SELECT d.image_id, d.source FROM decisions d
             WHERE d.id = (SELECT MAX(id) FROM decisions WHERE image_id = d.image_id)",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// For every image with both a human decision and a policy decision: the image id, the
    /// latest human status and the latest policy status (`assay monitor`'s agreement).
    pub fn human_policy_statuses(&self) -> Result<Vec<(i64, Status, Status)>> {
        let mut stmt = self.conn.prepare(
            "SELECT h.image_id, h.status, p.status FROM decisions h JOIN decisions p
                ON p.image_id = h.image_id
             WHERE h.id = (SELECT MAX(id) FROM decisions
                           WHERE image_id = h.image_id AND source = 'human')
               AND p.id = (SELECT MAX(id) FROM decisions
                           WHERE image_id = h.image_id AND source LIKE 'policy:%')
             ORDER BY h.image_id",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// Appends decisions in one transaction.
    pub fn append_decisions(&mut self, rows: &[NewDecision]) -> Result<()> {
        let now = now_utc();
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO decisions (image_id, status, rating, source, reason, detail, time)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for d in rows {
                stmt.execute(params![
                    d.image_id, d.status, d.rating, d.source, d.reason, d.detail, now
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The latest decision of an image: (status, source, reason).
    pub fn latest_decision(
        &self,
        image_id: i64,
    ) -> Result<Option<(Status, String, Option<String>)>> {
        Ok(self
            .conn
            .query_row(
                "SELECT status, source, reason FROM decisions WHERE image_id = ?1 ORDER BY id DESC LIMIT 1",
                params![image_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::Status;
    use crate::store::Store;

    #[test]
    fn human_policy_statuses_take_the_latest_of_each_source() {
        let mut s = Store::open_in_memory().unwrap();
        let rec = crate::store::new_image;
        let ids = s
            .write_ingest(&[rec("a.png"), rec("b.png"), rec("c.png")])
            .unwrap();
        s.append_decision(ids[0], Status::Review, None, "policy:p@1", None)
            .unwrap();
        s.append_decision(ids[0], Status::Rejected, None, "human", None)
            .unwrap();
        s.append_decision(ids[0], Status::Accepted, None, "policy:p@2", None)
            .unwrap();
        s.append_decision(ids[1], Status::Accepted, None, "human", None)
            .unwrap();
        s.append_decision(ids[2], Status::Accepted, None, "policy:p@1", None)
            .unwrap();
        assert_eq!(
            s.human_policy_statuses().unwrap(),
            vec![(ids[0], Status::Rejected, Status::Accepted)]
        );
    }
}
