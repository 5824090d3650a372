//! Team mode's local side (migration 10): the link to a team's PostgreSQL, the sync cursors,
//! the rows a sync pushes, and the one transaction that applies a pulled page. The server side
//! and the protocol are in `team` (feature `team`); nothing here talks to a network.
//!
//! Cursors: `pushed_event` / `pushed_decision` are the highest local row ids the server has
//! acknowledged (set after the server committed, so a kill in between re-sends rows the server
//! ignores by uid); `pulled_event` / `pulled_decision` are the highest server `seq` applied, and
//! move in the same SQLite transaction as the rows they cover (a kill loses or doubles nothing).

use std::collections::HashMap;

use rusqlite::{OptionalExtension as _, TransactionBehavior, params};

use super::{NewLabelEvent, Result, Store, now_utc};
use crate::domain::Status;

/// The link of a collection to a team server, as recorded by `assay team init|join`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TeamLink {
    /// `postgres://user@host:port/db` (never a password).
    pub server: String,
    pub team_id: String,
    pub joined: String,
    pub pushed_event: i64,
    pub pushed_decision: i64,
    pub pulled_event: i64,
    pub pulled_decision: i64,
    pub last_sync: Option<String>,
    /// Pulled rows waiting for images this copy lacks: (events, decisions).
    pub pending_events: i64,
    pub pending_decisions: i64,
}

/// A decision made in this collection, with its image's content hash, as a sync pushes it.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalDecision {
    pub id: i64,
    pub image_hash: String,
    pub status: String,
    pub rating: Option<i64>,
    pub source: String,
    pub reason: Option<String>,
    pub detail: Option<String>,
    pub time: String,
}

/// A decision pulled from the server, its image resolved to a local id.
#[derive(Debug, Clone, PartialEq)]
pub struct PulledDecision {
    pub uid: String,
    pub image_id: i64,
    pub status: Status,
    pub rating: Option<i64>,
    pub source: String,
    pub reason: Option<String>,
    pub detail: Option<String>,
    pub time: String,
}

/// A stored selection policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRow {
    pub name: String,
    pub hash: String,
    pub toml: String,
    pub first_applied: String,
}

/// What kind of server row waits in `team_pending`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PendingKind {
    Event,
    Decision,
}

impl PendingKind {
    fn as_str(self) -> &'static str {
        match self {
            PendingKind::Event => "event",
            PendingKind::Decision => "decision",
        }
    }
}

/// One pulled page, applied in one transaction by [`Store::apply_team_pull`].
#[derive(Debug, Clone, Default)]
pub struct PullPage {
    pub events: Vec<NewLabelEvent>,
    pub decisions: Vec<PulledDecision>,
    pub raters: Vec<String>,
    pub policies: Vec<PolicyRow>,
    /// Server rows that name images this copy lacks (kept for the next sync).
    pub pending: Vec<(PendingKind, i64)>,
    /// Pending rows resolved by this page (removed from `team_pending`).
    pub resolved: Vec<(PendingKind, i64)>,
    /// New cursors (the highest server seq this page covers).
    pub pulled_event: i64,
    pub pulled_decision: i64,
}

/// What applying a page added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PullApplied {
    pub events: u64,
    pub decisions: u64,
}

impl Store {
    /// The collection's team link, if it joined one.
    pub fn team_link(&self) -> Result<Option<TeamLink>> {
        let link = self
            .conn
            .query_row(
                "SELECT server, team_id, joined, pushed_event, pushed_decision, pulled_event,
                        pulled_decision, last_sync,
                        (SELECT COUNT(*) FROM team_pending WHERE kind = 'event'),
                        (SELECT COUNT(*) FROM team_pending WHERE kind = 'decision')
                 FROM team WHERE id = 1",
                [],
                |r| {
                    Ok(TeamLink {
                        server: r.get(0)?,
                        team_id: r.get(1)?,
                        joined: r.get(2)?,
                        pushed_event: r.get(3)?,
                        pushed_decision: r.get(4)?,
                        pulled_event: r.get(5)?,
                        pulled_decision: r.get(6)?,
                        last_sync: r.get(7)?,
                        pending_events: r.get(8)?,
                        pending_decisions: r.get(9)?,
                    })
                },
            )
            .optional()?;
        Ok(link)
    }

    /// Records the link to a team server. Joining another team (another `team_id`) starts the
    /// cursors again; joining the same one again keeps them (the URL may change).
    pub fn set_team_link(&mut self, server: &str, team_id: &str) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let same: Option<String> = tx
            .query_row("SELECT team_id FROM team WHERE id = 1", [], |r| r.get(0))
            .optional()?;
        if same.as_deref() == Some(team_id) {
            tx.execute("UPDATE team SET server = ?1 WHERE id = 1", params![server])?;
        } else {
            tx.execute("DELETE FROM team_pending", [])?;
            tx.execute(
                "INSERT OR REPLACE INTO team (id, server, team_id, joined) VALUES (1, ?1, ?2, ?3)",
                params![server, team_id, now_utc()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Label events stored after local id `after`, oldest first, at most `limit`.
    pub fn label_events_after(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<super::LabelEventRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, uid, time, rater, session, protocol, payload FROM label_events
             WHERE id > ?1 ORDER BY id LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![after, limit as i64], super::LabelEventRow::from_row)?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// Decisions made here (not pulled) after local id `after` whose image has a content
    /// hash, oldest first, at most `limit`; and the highest id looked at (decisions of images
    /// without a hash cannot be named on a server and are passed over).
    pub fn local_decisions_after(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<(Vec<LocalDecision>, i64)> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT d.id, i.hash, d.status, d.rating, d.source, d.reason, d.detail, d.time
             FROM decisions d JOIN images i ON i.id = d.image_id
             WHERE d.id > ?1 AND d.uid IS NULL ORDER BY d.id LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![after, limit as i64], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Option<String>>(1)?,
                LocalDecision {
                    id: r.get(0)?,
                    image_hash: String::new(),
                    status: r.get(2)?,
                    rating: r.get(3)?,
                    source: r.get(4)?,
                    reason: r.get(5)?,
                    detail: r.get(6)?,
                    time: r.get(7)?,
                },
            ))
        })?;
        let mut out = Vec::new();
        let mut last = after;
        for row in rows {
            let (id, hash, mut d) = row?;
            last = last.max(id);
            if let Some(h) = hash {
                d.image_hash = h;
                out.push(d);
            }
        }
        Ok((out, last))
    }

    /// Every stored policy.
    pub fn policies(&self) -> Result<Vec<PolicyRow>> {
        let mut stmt = self
            .conn
            .prepare("SELECT name, hash, toml, first_applied FROM policies ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            Ok(PolicyRow {
                name: r.get(0)?,
                hash: r.get(1)?,
                toml: r.get(2)?,
                first_applied: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// Current images by content hash: hash → (id, path).
    pub fn images_by_hash(&self) -> Result<HashMap<String, (i64, String)>> {
        let mut stmt = self.conn.prepare(
            "SELECT hash, id, path FROM images WHERE current = 1 AND hash IS NOT NULL ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// Server seqs of the rows of `kind` waiting for images this copy lacks.
    pub fn team_pending(&self, kind: PendingKind) -> Result<Vec<i64>> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq FROM team_pending WHERE kind = ?1 ORDER BY seq")?;
        let rows = stmt.query_map(params![kind.as_str()], |r| r.get(0))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// Moves the push cursors forward (after the server committed the rows up to them).
    pub fn set_team_pushed(&mut self, event: i64, decision: i64) -> Result<()> {
        self.conn.execute(
            "UPDATE team SET pushed_event = MAX(pushed_event, ?1),
                             pushed_decision = MAX(pushed_decision, ?2) WHERE id = 1",
            params![event, decision],
        )?;
        Ok(())
    }

    /// Applies one pulled page in one transaction: events (by uid) and decisions (by uid) not
    /// stored yet, raters, policies, pending rows, the pull cursors and the sync time. When
    /// everything stored before was already pushed, the push cursor moves past the pulled
    /// events too, so they are not sent back.
    pub fn apply_team_pull(&mut self, page: &PullPage) -> Result<PullApplied> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let max_id = |tx: &rusqlite::Transaction| -> rusqlite::Result<i64> {
            tx.query_row("SELECT COALESCE(MAX(id), 0) FROM label_events", [], |r| {
                r.get(0)
            })
        };
        let caught_up: bool = tx.query_row(
            "SELECT pushed_event >= (SELECT COALESCE(MAX(id), 0) FROM label_events)
             FROM team WHERE id = 1",
            [],
            |r| r.get(0),
        )?;
        let mut applied = PullApplied::default();
        {
            let mut ev = tx.prepare_cached(
                "INSERT OR IGNORE INTO label_events (uid, time, rater, session, protocol, payload)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for e in &page.events {
                let time = e.time.clone().unwrap_or_else(now_utc);
                applied.events += ev.execute(params![
                    e.uid, time, e.rater, e.session, e.protocol, e.payload
                ])? as u64;
            }
            let mut dec = tx.prepare_cached(
                "INSERT OR IGNORE INTO decisions
                    (image_id, status, rating, source, reason, detail, time, uid)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            for d in &page.decisions {
                applied.decisions += dec.execute(params![
                    d.image_id, d.status, d.rating, d.source, d.reason, d.detail, d.time, d.uid
                ])? as u64;
            }
            let mut rater = tx.prepare_cached("INSERT OR IGNORE INTO raters (name) VALUES (?1)")?;
            for r in &page.raters {
                rater.execute(params![r])?;
            }
            let mut pol = tx.prepare_cached(
                "INSERT OR IGNORE INTO policies (name, hash, toml, first_applied)
                 VALUES (?1, ?2, ?3, ?4)",
            )?;
            for p in &page.policies {
                pol.execute(params![p.name, p.hash, p.toml, p.first_applied])?;
            }
            let mut add = tx
                .prepare_cached("INSERT OR IGNORE INTO team_pending (kind, seq) VALUES (?1, ?2)")?;
            for (kind, seq) in &page.pending {
                add.execute(params![kind.as_str(), seq])?;
            }
            let mut done =
                tx.prepare_cached("DELETE FROM team_pending WHERE kind = ?1 AND seq = ?2")?;
            for (kind, seq) in &page.resolved {
                done.execute(params![kind.as_str(), seq])?;
            }
        }
        let pushed = if caught_up { max_id(&tx)? } else { 0 };
        tx.execute(
            "UPDATE team SET pulled_event = MAX(pulled_event, ?1),
                             pulled_decision = MAX(pulled_decision, ?2),
                             pushed_event = MAX(pushed_event, ?3),
                             last_sync = ?4 WHERE id = 1",
            params![page.pulled_event, page.pulled_decision, pushed, now_utc()],
        )?;
        tx.commit()?;
        Ok(applied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Protocol;

    fn event(uid: &str) -> NewLabelEvent {
        NewLabelEvent {
            uid: uid.into(),
            time: Some("2026-01-01T00:00:00.000Z".into()),
            rater: "al".into(),
            session: "s".into(),
            protocol: Protocol::Pairwise,
            payload: "{}".into(),
        }
    }

    #[test]
    fn a_pulled_page_applies_once_and_moves_the_cursors() {
        let mut s = Store::open_in_memory().unwrap();
        assert!(s.team_link().unwrap().is_none());
        s.set_team_link("postgres://u@h:5432/d", "t1").unwrap();
        s.append_label_events(&[event("mine")]).unwrap();
        s.set_team_pushed(1, 0).unwrap();
        let page = PullPage {
            events: vec![event("theirs"), event("mine")],
            raters: vec!["bo".into()],
            pending: vec![(PendingKind::Event, 7)],
            pulled_event: 9,
            ..Default::default()
        };
        assert_eq!(s.apply_team_pull(&page).unwrap().events, 1);
        assert_eq!(s.apply_team_pull(&page).unwrap().events, 0);
        let link = s.team_link().unwrap().unwrap();
        assert_eq!((link.pulled_event, link.pushed_event), (9, 2));
        assert_eq!(link.pending_events, 1);
        assert_eq!(s.team_pending(PendingKind::Event).unwrap(), vec![7]);
        assert!(s.raters().unwrap().contains(&"bo".to_string()));
        // The same team again keeps the cursors; another team starts them again.
        s.set_team_link("postgres://u@h2:5432/d", "t1").unwrap();
        assert_eq!(s.team_link().unwrap().unwrap().pulled_event, 9);
        s.set_team_link("postgres://u@h2:5432/d", "t2").unwrap();
        let link = s.team_link().unwrap().unwrap();
        assert_eq!((link.pulled_event, link.pending_events), (0, 0));
    }
}
