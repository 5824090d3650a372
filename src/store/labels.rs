//! Label events (append-only) and the item lookups that importing them needs.

use std::collections::HashMap;

use crate::domain::Protocol;
use rusqlite::params;

use super::{Result, Store, now_utc};

/// A label event to append. `uid` identifies its content: an event whose `uid` is already
/// stored is skipped, which makes imports idempotent.
#[derive(Debug, Clone, PartialEq)]
pub struct NewLabelEvent {
    pub uid: String,
    /// RFC 3339; `None` = now.
    pub time: Option<String>,
    pub rater: String,
    pub session: String,
    pub protocol: Protocol,
    /// JSON: items shown, order, answer, criterion, response time, attention-check flag.
    pub payload: String,
}

/// A stored label event.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelEventRow {
    pub id: i64,
    pub uid: Option<String>,
    pub time: String,
    pub rater: String,
    pub session: String,
    /// As stored: parsed (and an unknown spelling reported per event) where it is used.
    pub protocol: String,
    pub payload: String,
}

impl LabelEventRow {
    /// The row of `SELECT id, uid, time, rater, session, protocol, payload FROM label_events`.
    pub(super) fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get(0)?,
            uid: r.get(1)?,
            time: r.get(2)?,
            rater: r.get(3)?,
            session: r.get(4)?,
            protocol: r.get(5)?,
            payload: r.get(6)?,
        })
    }
}

impl Store {
    /// Appends events in one transaction; returns, per event, whether it was new.
    pub fn append_label_events(&mut self, events: &[NewLabelEvent]) -> Result<Vec<bool>> {
        let now = now_utc();
        let tx = self.conn.transaction()?;
        let mut inserted = Vec::with_capacity(events.len());
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR IGNORE INTO label_events (uid, time, rater, session, protocol, payload)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for e in events {
                let n = stmt.execute(params![
                    e.uid,
                    e.time.as_deref().unwrap_or(&now),
                    e.rater,
                    e.session,
                    e.protocol,
                    e.payload
                ])?;
                inserted.push(n > 0);
            }
        }
        tx.commit()?;
        Ok(inserted)
    }

    /// Every label event, oldest first.
    pub fn label_events(&self) -> Result<Vec<LabelEventRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, uid, time, rater, session, protocol, payload FROM label_events ORDER BY id",
        )?;
        let rows = stmt.query_map([], LabelEventRow::from_row)?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// The stored time of the event with this uid, if there is one.
    pub fn label_event_time(&self, uid: &str) -> Result<Option<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT time FROM label_events WHERE uid = ?1")?;
        let mut rows = stmt.query(params![uid])?;
        Ok(match rows.next()? {
            Some(r) => Some(r.get(0)?),
            None => None,
        })
    }

    /// Current, present images: relative path → content hash (for naming label items).
    pub fn path_hashes(&self) -> Result<HashMap<String, String>> {
        let mut stmt = self.conn.prepare(
            "SELECT path, hash FROM images WHERE current = 1 AND missing = 0 AND hash IS NOT NULL",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }
}
