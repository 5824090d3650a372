//! `assay team init|join|sync|status|revoke DIR`: team mode (see `team` for the protocol).
//! The server URL never carries a password (PGPASSWORD or a pgpass file does).

use std::path::PathBuf;

use super::label::{open_catalogue, open_catalogue_read_only};
use super::{EXIT_PARTIAL, ListFormat, UsageError};
use crate::team::{self, TeamError};

#[derive(Debug, clap::Args)]
pub struct TeamArgs {
    #[command(subcommand)]
    pub action: TeamAction,
}

#[derive(Debug, clap::Subcommand)]
pub enum TeamAction {
    /// Create (or upgrade) the team schema on the server and link the collection to it.
    Init(LinkArgs),
    /// Link the collection to an existing team schema.
    Join(LinkArgs),
    /// Push this collection's new label events, decisions, policies and raters; pull the team's.
    Sync(SyncArgs),
    /// The link, sync cursors, rows waiting for images this copy lacks, and the server's counts.
    Status(DirArgs),
    /// Revoke a rater: their new events are refused and no longer pulled.
    Revoke(RevokeArgs),
}

#[derive(Debug, clap::Args)]
pub struct DirArgs {
    /// Collection folder (scanned).
    pub dir: PathBuf,
    /// Database path (default DIR/.assay/assay.db).
    #[arg(long)]
    pub db: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
}

#[derive(Debug, clap::Args)]
pub struct LinkArgs {
    #[command(flatten)]
    pub target: DirArgs,
    /// postgres://user@host:port/database[?sslmode=disable|prefer|require] (no password).
    #[arg(long)]
    pub server: String,
}

#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    #[command(flatten)]
    pub target: DirArgs,
    /// Sync again every SECS seconds until interrupted (a failed round is reported and retried).
    #[arg(long)]
    pub every: Option<u64>,
}

#[derive(Debug, clap::Args)]
pub struct RevokeArgs {
    #[command(flatten)]
    pub target: DirArgs,
    #[arg(long)]
    pub rater: String,
}

pub fn run(args: &TeamArgs) -> anyhow::Result<u8> {
    match &args.action {
        TeamAction::Init(a) => link(a, true),
        TeamAction::Join(a) => link(a, false),
        TeamAction::Sync(a) => sync(a),
        TeamAction::Status(a) => status(a),
        TeamAction::Revoke(a) => revoke(a),
    }
}

/// Usage errors (bad URL, password on the command line, not joined) exit 1.
fn usage(e: TeamError) -> anyhow::Error {
    match e {
        TeamError::PasswordInUrl | TeamError::BadUrl(_) | TeamError::NotJoined => {
            UsageError(e.to_string()).into()
        }
        e => e.into(),
    }
}

fn print<T: serde::Serialize>(format: ListFormat, value: &T, text: &str) -> anyhow::Result<()> {
    match format {
        ListFormat::Json => println!("{}", serde_json::to_string(value)?),
        ListFormat::Text => println!("{text}"),
    }
    Ok(())
}

fn link(a: &LinkArgs, create: bool) -> anyhow::Result<u8> {
    // Refuse a password before touching anything.
    team::ServerUrl::parse(&a.server).map_err(usage)?;
    let mut store = open_catalogue(&a.target.dir, a.target.db.as_deref())?;
    let r = if create {
        team::init(&mut store, &a.server)
    } else {
        team::join(&mut store, &a.server)
    }
    .map_err(usage)?;
    let text = format!(
        "linked to team {} at {} (server schema version {}, was {})",
        r.team_id, r.server, r.schema_version, r.schema_before
    );
    print(a.target.format, &r, &text)?;
    Ok(0)
}

fn sync_text(r: &team::SyncReport) -> String {
    format!(
        "pushed {} new of {} events, {} new of {} decisions; pulled {} new of {} events, {} new \
         of {} decisions; waiting for images not here: {} events, {} decisions ({:.2} s)",
        r.pushed.events,
        r.sent_events,
        r.pushed.decisions,
        r.sent_decisions,
        r.pulled_events,
        r.received_events,
        r.pulled_decisions,
        r.received_decisions,
        r.pending_events,
        r.pending_decisions,
        r.seconds
    )
}

fn sync(a: &SyncArgs) -> anyhow::Result<u8> {
    let mut store = open_catalogue(&a.target.dir, a.target.db.as_deref())?;
    let Some(every) = a.every else {
        let r = team::sync(&mut store).map_err(usage)?;
        print(a.target.format, &r, &sync_text(&r))?;
        return Ok(0);
    };
    loop {
        match team::sync(&mut store) {
            Ok(r) => print(a.target.format, &r, &sync_text(&r))?,
            Err(e @ (TeamError::NotJoined | TeamError::Revoked(_))) => return Err(usage(e)),
            Err(e) => eprintln!("sync failed (retried in {every} s): {e}"),
        }
        std::thread::sleep(std::time::Duration::from_secs(every.max(1)));
    }
}

/// Syncs a collection that joined a team (for `assay label`); says on stderr what happened and
/// never fails the caller: offline, the local catalogue is the working copy. A catalogue that
/// never joined (or cannot be read) is left untouched: no write, no upgrade.
pub fn sync_if_joined(dir: &std::path::Path, db: Option<&std::path::Path>) {
    let joined = open_catalogue_read_only(dir, db)
        .ok()
        .and_then(|s| s.team_link().ok().flatten())
        .is_some();
    if !joined {
        return;
    }
    let result = open_catalogue(dir, db)
        .map_err(|e| format!("{e:#}"))
        .and_then(|mut s| team::sync(&mut s).map_err(|e| e.to_string()));
    match result {
        Ok(r) => eprintln!("team sync: {}", sync_text(&r)),
        Err(e) => eprintln!("team sync failed (working offline): {e}"),
    }
}

fn status(a: &DirArgs) -> anyhow::Result<u8> {
    let store = open_catalogue_read_only(&a.dir, a.db.as_deref())?;
    let r = team::status(&store).map_err(usage)?;
    let l = &r.link;
    let mut text = format!(
        "server {} (team {})\njoined {}, last sync {}\nlocal: {} events, {} decisions; pushed up \
         to event {} / decision {}; pulled up to server event {} / decision {}\nwaiting for \
         images not here: {} events, {} decisions",
        l.server,
        l.team_id,
        l.joined,
        l.last_sync.as_deref().unwrap_or("never"),
        r.local_events,
        r.local_decisions,
        l.pushed_event,
        l.pushed_decision,
        l.pulled_event,
        l.pulled_decision,
        l.pending_events,
        l.pending_decisions
    );
    match (&r.server, &r.server_error) {
        (Some(c), _) => {
            text.push_str(&format!(
                "\nserver (schema {}): {} events, {} decisions, {} policies, {} studies",
                c.schema_version, c.events, c.decisions, c.policies, c.studies
            ));
            for rater in &c.raters {
                let revoked = rater
                    .revoked_at
                    .as_ref()
                    .map(|t| format!(" (revoked {t})"))
                    .unwrap_or_default();
                text.push_str(&format!(
                    "\n  {}: {} events{revoked}",
                    rater.name, rater.events
                ));
            }
        }
        (None, Some(e)) => text.push_str(&format!("\nserver not reachable: {e}")),
        (None, None) => {}
    }
    print(a.format, &r, &text)?;
    Ok(if r.server.is_some() { 0 } else { EXIT_PARTIAL })
}

fn revoke(a: &RevokeArgs) -> anyhow::Result<u8> {
    let store = open_catalogue_read_only(&a.target.dir, a.target.db.as_deref())?;
    let r = team::revoke(&store, &a.rater).map_err(usage)?;
    let text = format!("revoked {} from {}", r.rater, r.revoked_at);
    print(a.target.format, &r, &text)?;
    Ok(0)
}
