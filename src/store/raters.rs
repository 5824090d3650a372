//! Raters (`raters`: one row per name, created when a rater first labels) and labeling
//! sessions (a session id is recorded on every label event; a session's summary is derived
//! from its events, so it needs no table of its own).

use rusqlite::params;

use super::{Result, Store};
use crate::domain::Protocol;

/// One labeling session, summarised from its events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSummary {
    pub session: String,
    pub rater: String,
    pub protocol: Protocol,
    pub events: usize,
    pub first: String,
    pub last: String,
}

impl Store {
    /// Adds a rater by name (nothing happens when the name exists).
    pub fn upsert_rater(&mut self, name: &str) -> Result<()> {
        self.conn.execute(
            "INSERT OR IGNORE INTO raters (name) VALUES (?1)",
            params![name],
        )?;
        Ok(())
    }

    /// Every rater known to the collection: those in `raters` and those named by label
    /// events (e.g. imported ones), sorted.
    pub fn raters(&self) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare(
            "SELECT name FROM raters UNION SELECT DISTINCT rater FROM label_events ORDER BY 1",
        )?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// Labeling sessions, oldest first.
    pub fn label_sessions(&self) -> Result<Vec<SessionSummary>> {
        let mut stmt = self.conn.prepare(
            "SELECT session, rater, protocol, COUNT(*), MIN(time), MAX(time) FROM label_events
             GROUP BY session, rater, protocol ORDER BY MIN(id)",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(SessionSummary {
                session: r.get(0)?,
                rater: r.get(1)?,
                protocol: r.get(2)?,
                events: r.get::<_, i64>(3)? as usize,
                first: r.get(4)?,
                last: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use crate::store::{NewLabelEvent, Store};

    #[test]
    fn raters_and_sessions() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("a.db")).unwrap();
        s.upsert_rater("bea").unwrap();
        s.upsert_rater("bea").unwrap();
        let ev = |uid: &str, rater: &str, session: &str| NewLabelEvent {
            uid: uid.into(),
            time: Some(format!("2026-01-01T00:00:0{uid}.000Z")),
            rater: rater.into(),
            session: session.into(),
            protocol: crate::domain::Protocol::Pairwise,
            payload: "{}".into(),
        };
        s.append_label_events(&[
            ev("1", "al", "s1"),
            ev("2", "al", "s1"),
            ev("3", "bea", "s2"),
        ])
        .unwrap();
        assert_eq!(s.raters().unwrap(), vec!["al", "bea"]);
        let sessions = s.label_sessions().unwrap();
        assert_eq!(sessions.len(), 2);
        assert_eq!(sessions[0].session, "s1");
        assert_eq!(sessions[0].events, 2);
        assert_eq!(sessions[0].first, "2026-01-01T00:00:01.000Z");
        assert_eq!(sessions[1].rater, "bea");
    }
}
