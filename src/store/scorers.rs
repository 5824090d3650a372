//! Versioned preference scorers (`scorers`), their append-only activation log (`scorer_log`)
//! and the inputs and outputs of scoring: current image ids, and the signal values a scorer
//! writes. Activating a scorer and replacing its signal values is one transaction, so the
//! stored `learned_preference` values always belong to the active scorer.

use std::collections::HashMap;

use rusqlite::{OptionalExtension as _, params};

use super::{Result, SignalRow, Store, now_utc};

/// A scorer to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewScorer {
    /// Family of scorer (`preference`); versions count up within a kind.
    pub kind: String,
    /// Parameters (JSON: head, feature list, standardisation, weights).
    pub params: Vec<u8>,
    /// JSON summary of the training data (events, raters, time range, options).
    pub training: String,
    /// JSON metrics (held-out accuracy, correlations, learning curve).
    pub metrics: String,
}

/// A stored scorer.
#[derive(Debug, Clone, PartialEq)]
pub struct ScorerRow {
    pub id: i64,
    pub kind: String,
    pub version: i64,
    pub params: Vec<u8>,
    pub training: Option<String>,
    pub metrics: Option<String>,
    pub active: bool,
    pub created: String,
}

/// One entry of the activation log.
#[derive(Debug, Clone, PartialEq)]
pub struct ScorerLogRow {
    pub id: i64,
    pub scorer_id: i64,
    /// The scorer that was active before, if any.
    pub previous: Option<i64>,
    /// `train`, `activate` or `rollback`.
    pub action: String,
    pub time: String,
}

fn replace_values(
    tx: &rusqlite::Transaction<'_>,
    signal_key: &str,
    values: &[(i64, SignalRow)],
) -> Result<()> {
    tx.execute("DELETE FROM signals WHERE key = ?1", params![signal_key])?;
    let mut stmt = tx.prepare_cached(
        "INSERT INTO signals (image_id, key, value, text, producer) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (image, s) in values {
        stmt.execute(params![image, s.key, s.value, s.text, s.producer])?;
    }
    Ok(())
}

fn scorer_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ScorerRow> {
    Ok(ScorerRow {
        id: r.get(0)?,
        kind: r.get(1)?,
        version: r.get(2)?,
        params: r.get::<_, Option<Vec<u8>>>(3)?.unwrap_or_default(),
        training: r.get(4)?,
        metrics: r.get(5)?,
        active: r.get::<_, i64>(6)? != 0,
        created: r.get(7)?,
    })
}

const SCORER_COLUMNS: &str = "id, kind, version, params, training, metrics, active, created";

impl Store {
    /// Records a new (inactive) scorer; its version is one more than the highest of its kind.
    /// Returns `(id, version)`.
    pub fn insert_scorer(&mut self, s: &NewScorer) -> Result<(i64, i64)> {
        let tx = self.conn.transaction()?;
        let version: i64 = tx.query_row(
            "SELECT COALESCE(MAX(version), 0) + 1 FROM scorers WHERE kind = ?1",
            params![s.kind],
            |r| r.get(0),
        )?;
        tx.execute(
            "INSERT INTO scorers (kind, version, params, training, metrics, active, created)
             VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)",
            params![s.kind, version, s.params, s.training, s.metrics, now_utc()],
        )?;
        let id = tx.last_insert_rowid();
        tx.commit()?;
        Ok((id, version))
    }

    /// Every scorer, oldest first.
    pub fn scorers(&self) -> Result<Vec<ScorerRow>> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {SCORER_COLUMNS} FROM scorers ORDER BY id"))?;
        let rows = stmt.query_map([], scorer_from_row)?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// One scorer by id.
    pub fn scorer(&self, id: i64) -> Result<Option<ScorerRow>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {SCORER_COLUMNS} FROM scorers WHERE id = ?1"),
                params![id],
                scorer_from_row,
            )
            .optional()?)
    }

    /// The active scorer, if any.
    pub fn active_scorer(&self) -> Result<Option<ScorerRow>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {SCORER_COLUMNS} FROM scorers WHERE active = 1"),
                [],
                scorer_from_row,
            )
            .optional()?)
    }

    /// Makes scorer `id` the only active one, logs the switch (`action`: train / activate /
    /// rollback) and replaces every stored value of `signal_key` with `values` — all in one
    /// transaction. Values of images not in `values` are removed, so no image keeps a value
    /// from the previous scorer.
    pub fn activate_scorer(
        &mut self,
        id: i64,
        action: &str,
        signal_key: &str,
        values: &[(i64, SignalRow)],
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        let previous: Option<i64> = tx
            .query_row("SELECT id FROM scorers WHERE active = 1", [], |r| r.get(0))
            .optional()?;
        tx.execute("UPDATE scorers SET active = 0 WHERE active = 1", [])?;
        let n = tx.execute("UPDATE scorers SET active = 1 WHERE id = ?1", params![id])?;
        if n == 0 {
            return Err(rusqlite::Error::QueryReturnedNoRows.into());
        }
        tx.execute(
            "INSERT INTO scorer_log (scorer_id, previous, action, time) VALUES (?1, ?2, ?3, ?4)",
            params![id, previous, action, now_utc()],
        )?;
        replace_values(&tx, signal_key, values)?;
        tx.commit()?;
        Ok(())
    }

    /// Replaces every stored value of `signal_key` with `values` in one transaction, without
    /// switching scorers or logging (refreshing the active scorer's values after a scan).
    pub fn replace_signal_values(
        &mut self,
        signal_key: &str,
        values: &[(i64, SignalRow)],
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        replace_values(&tx, signal_key, values)?;
        tx.commit()?;
        Ok(())
    }

    /// The activation log, oldest first.
    pub fn scorer_log(&self) -> Result<Vec<ScorerLogRow>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, scorer_id, previous, action, time FROM scorer_log ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            Ok(ScorerLogRow {
                id: r.get(0)?,
                scorer_id: r.get(1)?,
                previous: r.get(2)?,
                action: r.get(3)?,
                time: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// Current, present images: relative path → image id (to write per-image signals).
    pub fn path_ids(&self) -> Result<HashMap<String, i64>> {
        let mut stmt = self
            .conn
            .prepare("SELECT path, id FROM images WHERE current = 1 AND missing = 0")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scorer(kind: &str) -> NewScorer {
        NewScorer {
            kind: kind.into(),
            params: b"{}".to_vec(),
            training: "{}".into(),
            metrics: "{}".into(),
        }
    }

    fn sig(v: f64, producer: &str) -> SignalRow {
        SignalRow {
            key: "learned_preference".into(),
            value: Some(v),
            text: None,
            producer: producer.into(),
        }
    }

    #[test]
    fn versions_count_up_and_one_scorer_is_active() {
        let mut s = Store::open_in_memory().unwrap();
        let ids = s.write_ingest(&[crate::store::new_image("a.png")]).unwrap();
        let (a, va) = s.insert_scorer(&scorer("preference")).unwrap();
        let (b, vb) = s.insert_scorer(&scorer("preference")).unwrap();
        let (_, vo) = s.insert_scorer(&scorer("other")).unwrap();
        assert_eq!((va, vb, vo), (1, 2, 1));
        assert!(s.active_scorer().unwrap().is_none());

        s.activate_scorer(
            a,
            "train",
            "learned_preference",
            &[(ids[0], sig(1.0, "p@1"))],
        )
        .unwrap();
        s.activate_scorer(
            b,
            "train",
            "learned_preference",
            &[(ids[0], sig(2.0, "p@2"))],
        )
        .unwrap();
        assert_eq!(s.active_scorer().unwrap().unwrap().id, b);
        assert_eq!(s.signals_of(ids[0]).unwrap(), vec![sig(2.0, "p@2")]);
        s.activate_scorer(a, "rollback", "learned_preference", &[])
            .unwrap();
        assert_eq!(s.active_scorer().unwrap().unwrap().id, a);
        assert_eq!(s.scorers().unwrap().iter().filter(|r| r.active).count(), 1);
        assert!(s.signals_of(ids[0]).unwrap().is_empty(), "old values gone");
        let log = s.scorer_log().unwrap();
        let summary: Vec<_> = log
            .iter()
            .map(|l| (l.scorer_id, l.previous, l.action.as_str()))
            .collect();
        assert_eq!(
            summary,
            vec![
                (a, None, "train"),
                (b, Some(a), "train"),
                (a, Some(b), "rollback")
            ]
        );
        // A missing scorer changes nothing.
        assert!(
            s.activate_scorer(999, "activate", "learned_preference", &[])
                .is_err()
        );
        assert_eq!(s.active_scorer().unwrap().unwrap().id, a);
        assert_eq!(s.scorer_log().unwrap().len(), 3);
        // The log is append-only; two active rows are refused by the schema.
        assert!(s.conn.execute("DELETE FROM scorer_log", []).is_err());
        assert!(s.conn.execute("UPDATE scorers SET active = 1", []).is_err());
    }
}
