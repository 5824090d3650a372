//! Team mode (feature `team`): raters share label events, decisions, policies and rater names
//! through one PostgreSQL server, while every rater's local SQLite catalogue stays the working
//! copy (everything works offline; a sync brings the copies together).
//!
//! # Commands
//!
//! `assay team init DIR --server postgres://user@host:port/db` creates or upgrades the server
//! schema and links the collection; `join` links to an existing team schema; `sync` (also
//! `--every SECS`) pushes and pulls; `status` prints the link, cursors and server counts;
//! `revoke --rater NAME` revokes a rater. `assay label export` syncs first and `label import`
//! after, when the collection joined (a failed sync is reported and the command goes on); the
//! GUI's labeling view does not sync by itself yet ([`sync_if_joined`] is the hook). A
//! collection that never joined does nothing here.
//!
//! # Server schema (`server.rs`, schema `assay`, versioned by `assay.meta.schema_version`)
//!
//! `raters` (name, `revoked_at`), `label_events` and `decisions` (append-only by trigger, each
//! row numbered by a `bigserial seq`, unique `uid`), `policies` (by hash), `studies` (study
//! settings with a target replication), `meta` (`team_id`, `schema_version`). Images are named
//! by content hash (`images.hash`), so every rater may have their own copy of the folder, at
//! other paths.
//!
//! # Identity
//!
//! A label event is its `uid` (see `human`: explicit id or content id; the labeling view's
//! events carry one). A decision made here has no uid in SQLite: its identity is computed when
//! pushed — the xxh3-128 of (image content hash, status, rating, source, reason, detail, time);
//! a pulled decision is stored with that uid (`decisions.uid`, SQLite migration 10) and is never
//! pushed back, and a decision made here is recognised by its computed uid when it comes back.
//!
//! # Sync protocol ([`sync`])
//!
//! 1. Push: local events after the `pushed_event` cursor, local decisions after
//!    `pushed_decision`, every rater name and policy, in pages of [`PAGE`] rows, each one server
//!    transaction that first takes `LOCK … IN SHARE ROW EXCLUSIVE MODE` on the two event tables
//!    (pushes are serialised, so seqs commit in order and a puller's cursor never skips a row
//!    committed late) and inserts with `ON CONFLICT (uid) DO NOTHING`. Only after the server
//!    committed does the local cursor move: a kill in between re-sends rows the server ignores.
//!    A page holding a new event of a revoked rater is refused as a whole ([`TeamError::Revoked`]).
//! 2. Pull: rows after the `pulled_*` cursors (server seq) in pages, plus the rows kept pending.
//!    Each item's content hash is mapped to this copy's path (items, on-screen order and choice
//!    are rewritten; the payload is unchanged when the paths agree) and each decision's image
//!    hash to a local image id. Rows naming an image this copy lacks are not lost: their seqs go
//!    to `team_pending` and are fetched again at every sync (counted in `status`). A page is
//!    applied in one SQLite transaction with its cursor (`INSERT OR IGNORE` by uid), so a kill
//!    loses and doubles nothing. Events of a revoked rater made at or after the revocation time
//!    are never pulled.
//!
//! Pushing or pulling twice adds nothing. A server restart fails the sync in flight (nothing
//! half-written on either side); the next sync resumes from the cursors. `--every` reconnects
//! on each round.
//!
//! Replication is global: the pair scheduler counts the judgements of the stored events, and
//! after a sync those are everyone's, so a pair judged enough by teammates is not scheduled
//! again; `assay rank`/`agreement` and the labeling Results tab read everyone's events the same
//! way. Study settings on the server (`assay.studies`) are in the schema but not yet used.
//!
//! # Credentials and TLS
//!
//! See `conninfo.rs`: `PGPASSWORD` or the pgpass file, never the command line (a URL with a
//! password is refused) nor the catalogue (the URL is recorded without one). TLS by rustls, with
//! libpq's `sslmode` meanings: `prefer` (default) uses TLS when the server offers it, `require`
//! insists, `disable` never — neither checks the server's certificate (self-signed ones are
//! the rule on team servers), as libpq; `verify-ca`/`verify-full` check it against the webpki
//! roots and `PGSSLROOTCERT` (else `~/.postgresql/root.crt`), and its name against the host.
//! Revocation is a server-side flag set by `assay team revoke` (anyone with write access to the
//! schema may set it: access control is PostgreSQL's roles).

pub mod conninfo;
pub mod server;

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::human::{Payload, attention};
use crate::store::{
    LocalDecision, NewLabelEvent, PendingKind, PullPage, PulledDecision, Store, TeamLink,
};
pub use conninfo::{ServerUrl, SslMode};
pub use server::{Pushed, Server, ServerCounts, WireDecision, WireEvent};

/// Rows per push transaction and per pulled page.
pub const PAGE: usize = 5000;

/// Errors of team mode.
#[derive(Debug, thiserror::Error)]
pub enum TeamError {
    #[error(
        "the server URL contains a password; give it in PGPASSWORD or a pgpass file \
         (PGPASSFILE, else ~/.pgpass) instead, never on the command line"
    )]
    PasswordInUrl,
    #[error("bad server URL: {0}")]
    BadUrl(String),
    #[error("this collection has not joined a team; run `assay team init|join DIR --server URL`")]
    NotJoined,
    #[error("cannot connect to the team server {server}: {why}")]
    Connect { server: String, why: String },
    #[error("team server: {0}")]
    Server(String),
    #[error(
        "the team server has no Assay team schema; run `assay team init DIR --server URL` first"
    )]
    NoSchema,
    #[error(
        "the team server's schema has version {found}, newer than this build knows ({known}); \
         upgrade Assay"
    )]
    SchemaTooNew { found: i64, known: i64 },
    #[error(
        "the server at this URL is another team (id {found}) than the one this collection \
         joined ({joined}); run `assay team join` to switch"
    )]
    OtherTeam { found: String, joined: String },
    #[error(
        "push refused: rater(s) {} were revoked on the team server; their new label events \
         are not accepted (nothing was pushed from this page)",
        .0.join(", ")
    )]
    Revoked(Vec<String>),
    #[error(transparent)]
    Store(#[from] crate::store::Error),
}

/// The result of `team init|join`.
#[derive(Debug, Clone, Serialize)]
pub struct JoinReport {
    pub server: String,
    pub team_id: String,
    /// Server schema version before and after.
    pub schema_before: i64,
    pub schema_version: i64,
}

/// What one sync did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncReport {
    pub server: String,
    /// Rows sent and rows the server did not have yet.
    pub sent_events: u64,
    pub sent_decisions: u64,
    pub pushed: Pushed,
    /// Rows received and rows stored that were not stored yet.
    pub received_events: u64,
    pub received_decisions: u64,
    pub pulled_events: u64,
    pub pulled_decisions: u64,
    /// Server rows kept for images this copy lacks.
    pub pending_events: i64,
    pub pending_decisions: i64,
    pub seconds: f64,
}

/// `team status`: the local link and, when the server answers, its counts.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub link: TeamLink,
    pub local_events: i64,
    pub local_decisions: i64,
    pub server: Option<ServerCounts>,
    /// Why the server did not answer (offline is fine: the catalogue still works).
    pub server_error: Option<String>,
}

/// The result of `team revoke`.
#[derive(Debug, Clone, Serialize)]
pub struct RevokeReport {
    pub rater: String,
    pub revoked_at: String,
}

/// Creates or upgrades the team schema on the server and links the collection to it.
pub fn init(store: &mut Store, url: &str) -> Result<JoinReport, TeamError> {
    link(store, url, true)
}

/// Links the collection to an existing team schema (upgraded when older than this build's).
pub fn join(store: &mut Store, url: &str) -> Result<JoinReport, TeamError> {
    link(store, url, false)
}

fn link(store: &mut Store, url: &str, create: bool) -> Result<JoinReport, TeamError> {
    let url = ServerUrl::parse(url)?;
    let mut server = Server::connect(&url)?;
    let found = server.schema_version()?;
    if found == 0 && !create {
        return Err(TeamError::NoSchema);
    }
    let schema_before = server.migrate()?;
    let team_id = server.team_id()?;
    store.set_team_link(&url.display(), &team_id)?;
    Ok(JoinReport {
        server: url.display(),
        team_id,
        schema_before,
        schema_version: server.schema_version()?,
    })
}

/// Connects to the linked team's server and checks that it is the same team.
fn connect_linked(store: &Store) -> Result<(TeamLink, Server), TeamError> {
    let link = store.team_link()?.ok_or(TeamError::NotJoined)?;
    let url = ServerUrl::parse(&link.server)?;
    let mut server = Server::connect(&url)?;
    let known = server::SERVER_MIGRATIONS.len() as i64;
    match server.schema_version()? {
        0 => return Err(TeamError::NoSchema),
        v if v > known => return Err(TeamError::SchemaTooNew { found: v, known }),
        v if v < known => {
            server.migrate()?;
        }
        _ => {}
    }
    let found = server.team_id()?;
    if found != link.team_id {
        return Err(TeamError::OtherTeam {
            found,
            joined: link.team_id,
        });
    }
    Ok((link, server))
}

/// Pushes this collection's new rows and pulls everyone else's (see the module docs).
pub fn sync(store: &mut Store) -> Result<SyncReport, TeamError> {
    let started = std::time::Instant::now();
    let (link, mut server) = connect_linked(store)?;
    let mut report = SyncReport {
        server: link.server.clone(),
        ..Default::default()
    };
    push(store, &mut server, &link, &mut report)?;
    pull(store, &mut server, &mut report)?;
    let after = store.team_link()?.ok_or(TeamError::NotJoined)?;
    report.pending_events = after.pending_events;
    report.pending_decisions = after.pending_decisions;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Syncs when the collection joined a team; `None` when it did not (nothing happens then).
pub fn sync_if_joined(store: &mut Store) -> Option<Result<SyncReport, TeamError>> {
    match store.team_link() {
        Ok(None) => None,
        Ok(Some(_)) => Some(sync(store)),
        Err(e) => Some(Err(e.into())),
    }
}

fn push(
    store: &mut Store,
    server: &mut Server,
    link: &TeamLink,
    report: &mut SyncReport,
) -> Result<(), TeamError> {
    let raters = store.raters()?;
    let policies = store.policies()?;
    let (mut ev_cursor, mut dec_cursor) = (link.pushed_event, link.pushed_decision);
    let mut first = true;
    loop {
        let events = store.label_events_after(ev_cursor, PAGE)?;
        let (decisions, dec_last) = store.local_decisions_after(dec_cursor, PAGE)?;
        if !first && events.is_empty() && dec_last == dec_cursor {
            return Ok(());
        }
        let wire_events: Vec<WireEvent> = events
            .iter()
            .map(|e| WireEvent {
                seq: 0,
                uid: e
                    .uid
                    .clone()
                    .unwrap_or_else(|| format!("legacy:{}:{}", e.id, e.time)),
                time: e.time.clone(),
                rater: e.rater.clone(),
                session: e.session.clone(),
                protocol: e.protocol.clone(),
                payload: e.payload.clone(),
            })
            .collect();
        let wire_decisions: Vec<WireDecision> = decisions.iter().map(wire_decision).collect();
        let (r, p): (&[String], &[_]) = if first {
            (&raters, &policies)
        } else {
            (&[], &[])
        };
        let pushed = server.push(r, &wire_events, &wire_decisions, p)?;
        report.sent_events += wire_events.len() as u64;
        report.sent_decisions += wire_decisions.len() as u64;
        report.pushed.events += pushed.events;
        report.pushed.decisions += pushed.decisions;
        report.pushed.policies += pushed.policies;
        ev_cursor = events.last().map_or(ev_cursor, |e| e.id);
        dec_cursor = dec_last;
        store.set_team_pushed(ev_cursor, dec_cursor)?;
        first = false;
        if events.len() < PAGE && decisions.len() < PAGE {
            return Ok(());
        }
    }
}

/// The identity of a decision made here (see the module docs).
pub fn decision_uid(d: &LocalDecision) -> String {
    let canonical = serde_json::to_string(&(
        &d.image_hash,
        &d.status,
        d.rating,
        &d.source,
        &d.reason,
        &d.detail,
        &d.time,
    ))
    .unwrap_or_default();
    format!(
        "d:{:032x}",
        xxhash_rust::xxh3::xxh3_128(canonical.as_bytes())
    )
}

fn wire_decision(d: &LocalDecision) -> WireDecision {
    WireDecision {
        seq: 0,
        uid: decision_uid(d),
        image_hash: d.image_hash.clone(),
        status: d.status.clone(),
        rating: d.rating,
        source: d.source.clone(),
        reason: d.reason.clone(),
        detail: d.detail.clone(),
        time: d.time.clone(),
    }
}

fn pull(store: &mut Store, server: &mut Server, report: &mut SyncReport) -> Result<(), TeamError> {
    let images = store.images_by_hash()?;
    // Decisions made here come back from the server under their computed uid: not again.
    let mine: HashSet<String> = store
        .local_decisions_after(0, i64::MAX as usize)?
        .0
        .iter()
        .map(decision_uid)
        .collect();
    let (raters, policies) = server.pull_shared()?;
    // Rows kept pending by earlier syncs first.
    let pending_ev = store.team_pending(PendingKind::Event)?;
    let pending_dec = store.team_pending(PendingKind::Decision)?;
    let retried_ev = server.events_by_seq(&pending_ev)?;
    let retried_dec = server.decisions_by_seq(&pending_dec)?;
    let mut page = PullPage {
        raters,
        policies,
        ..Default::default()
    };
    localize_page(&mut page, &retried_ev, &retried_dec, &images, &mine);
    // Pending rows that are gone from the answer (a revoked rater's) are dropped too.
    page.resolved
        .extend(pending_ev.iter().map(|&s| (PendingKind::Event, s)));
    page.resolved
        .extend(pending_dec.iter().map(|&s| (PendingKind::Decision, s)));
    page.resolved.retain(|r| !page.pending.contains(r));
    report.received_events += retried_ev.len() as u64;
    report.received_decisions += retried_dec.len() as u64;
    loop {
        let link = store.team_link()?.ok_or(TeamError::NotJoined)?;
        let events = server.pull_events(link.pulled_event, PAGE as i64)?;
        let decisions = server.pull_decisions(link.pulled_decision, PAGE as i64)?;
        page.pulled_event = events.last().map_or(link.pulled_event, |e| e.seq);
        page.pulled_decision = decisions.last().map_or(link.pulled_decision, |d| d.seq);
        localize_page(&mut page, &events, &decisions, &images, &mine);
        report.received_events += events.len() as u64;
        report.received_decisions += decisions.len() as u64;
        let applied = store.apply_team_pull(&page)?;
        report.pulled_events += applied.events;
        report.pulled_decisions += applied.decisions;
        if events.len() < PAGE && decisions.len() < PAGE {
            return Ok(());
        }
        page = PullPage::default();
    }
}

/// Adds pulled rows to `page`: those whose images this copy has, translated; the others as
/// pending (rows of a protocol this build does not know wait too); decisions in `mine` (made
/// here) are left out.
fn localize_page(
    page: &mut PullPage,
    events: &[WireEvent],
    decisions: &[WireDecision],
    images: &HashMap<String, (i64, String)>,
    mine: &HashSet<String>,
) {
    for e in events {
        match (e.protocol.parse(), localize_payload(&e.payload, images)) {
            (Ok(protocol), Some(payload)) => {
                page.events.push(NewLabelEvent {
                    uid: e.uid.clone(),
                    time: Some(e.time.clone()),
                    rater: e.rater.clone(),
                    session: e.session.clone(),
                    protocol,
                    payload,
                });
            }
            _ => page.pending.push((PendingKind::Event, e.seq)),
        }
    }
    for d in decisions.iter().filter(|d| !mine.contains(&d.uid)) {
        let (Some((id, _)), Ok(status)) = (images.get(&d.image_hash), d.status.parse()) else {
            page.pending.push((PendingKind::Decision, d.seq));
            continue;
        };
        page.decisions.push(PulledDecision {
            uid: d.uid.clone(),
            image_id: *id,
            status,
            rating: d.rating,
            source: d.source.clone(),
            reason: d.reason.clone(),
            detail: d.detail.clone(),
            time: d.time.clone(),
        });
    }
}

/// A pulled payload with its items named by this copy's paths (found by content hash); the
/// payload text unchanged when the paths agree; `None` when an item's image is not here.
pub fn localize_payload(payload: &str, images: &HashMap<String, (i64, String)>) -> Option<String> {
    let Ok(mut p) = serde_json::from_str::<Payload>(payload) else {
        return Some(payload.to_string()); // kept as stored; statistics report it
    };
    let mut renamed: HashMap<String, String> = HashMap::new();
    for (item, hash) in p.items.iter().zip(&p.hashes) {
        let local = match attention::degraded_base(hash) {
            Some(base) => attention::degraded_name(&images.get(base)?.1),
            None => images.get(hash.as_str())?.1.clone(),
        };
        renamed.insert(item.clone(), local);
    }
    if renamed.iter().all(|(a, b)| a == b) {
        return Some(payload.to_string());
    }
    let rename = |s: &mut String| {
        if let Some(n) = renamed.get(s.as_str()) {
            s.clone_from(n);
        }
    };
    p.items.iter_mut().for_each(rename);
    p.order.iter_mut().for_each(rename);
    if let Some(c) = p.choice.as_mut() {
        rename(c);
    }
    serde_json::to_string(&p).ok()
}

/// The link, local counts and (when reachable) the server's counts.
pub fn status(store: &Store) -> Result<StatusReport, TeamError> {
    let link = store.team_link()?.ok_or(TeamError::NotJoined)?;
    let (server, server_error) = match connect_linked(store).and_then(|(_, mut s)| s.counts()) {
        Ok(c) => (Some(c), None),
        Err(e) => (None, Some(e.to_string())),
    };
    Ok(StatusReport {
        link,
        local_events: store.count("label_events")?,
        local_decisions: store.count("decisions")?,
        server,
        server_error,
    })
}

/// Revokes a rater on the team server from now on.
pub fn revoke(store: &Store, rater: &str) -> Result<RevokeReport, TeamError> {
    let (_, mut server) = connect_linked(store)?;
    let revoked_at = server.revoke(rater, &crate::store::now_utc())?;
    Ok(RevokeReport {
        rater: rater.to_string(),
        revoked_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_renamed_by_content_hash() {
        let p = Payload {
            criterion: Default::default(),
            items: vec!["x/a.png".into(), attention::degraded_name("x/b.png")],
            hashes: vec!["ha".into(), attention::degraded_name("hb")],
            order: vec![attention::degraded_name("x/b.png"), "x/a.png".into()],
            choice: Some("x/a.png".into()),
            rating: None,
            ratings: None,
            response_ms: Some(5),
            attention_check: true,
        };
        let text = serde_json::to_string(&p).unwrap();
        let mut images = HashMap::new();
        images.insert("ha".to_string(), (1, "a.png".to_string()));
        assert_eq!(localize_payload(&text, &images), None, "hb is not here");
        images.insert("hb".to_string(), (2, "b.png".to_string()));
        let local: Payload =
            serde_json::from_str(&localize_payload(&text, &images).unwrap()).unwrap();
        assert_eq!(local.items, vec!["a.png", "b.png#degraded"]);
        assert_eq!(local.order, vec!["b.png#degraded", "a.png"]);
        assert_eq!(local.choice.as_deref(), Some("a.png"));
        assert_eq!(local.hashes, p.hashes);
        images.insert("ha".to_string(), (1, "x/a.png".to_string()));
        images.insert("hb".to_string(), (2, "x/b.png".to_string()));
        assert_eq!(localize_payload(&text, &images).as_deref(), Some(&*text));
    }
}
