//! The team server: PostgreSQL schema `assay`, its versioned migrations, and the statements of
//! the sync protocol (the only PostgreSQL SQL of the crate). See the `team` module docs for the
//! protocol; every write is one transaction.

use std::sync::Arc;
use std::time::Duration;

use postgres::{Client, Config, Row};

use super::TeamError;
use super::conninfo::{ServerUrl, SslMode};

/// Server schema migrations, oldest first; `assay.meta.schema_version` is the number applied.
/// Never edit a released one: append.
pub const SERVER_MIGRATIONS: &[&str] = &[
    // 1: raters (with the revocation time), append-only label events and decisions numbered by
    // `seq` (the pull cursor), policies by hash, study settings, and the team's identity.
    r"
CREATE TABLE assay.meta (key text PRIMARY KEY, value text NOT NULL);
INSERT INTO assay.meta VALUES ('team_id', md5(random()::text || clock_timestamp()::text));
CREATE TABLE assay.raters (
    name       text PRIMARY KEY,
    added      timestamptz NOT NULL DEFAULT now(),
    revoked_at text                       -- RFC 3339 UTC; events from then on are refused and not pulled
);
CREATE TABLE assay.label_events (
    seq         bigserial PRIMARY KEY,    -- assigned under the push lock: committed rows form a prefix
    uid         text NOT NULL UNIQUE,     -- label_events.uid of the local catalogues
    time        text NOT NULL,
    rater       text NOT NULL,
    session     text NOT NULL,
    protocol    text NOT NULL,
    payload     text NOT NULL,            -- as stored by the pusher: items by its paths, and by content hash
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX label_events_rater ON assay.label_events (rater);
CREATE TABLE assay.decisions (
    seq         bigserial PRIMARY KEY,
    uid         text NOT NULL UNIQUE,     -- xxh3-128 of (image hash, status, rating, source, reason, detail, time)
    image_hash  text NOT NULL,            -- images are named by content hash
    status      text NOT NULL,
    rating      bigint,
    source      text NOT NULL,
    reason      text,
    detail      text,
    time        text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE assay.policies (
    hash          text PRIMARY KEY,
    name          text NOT NULL,
    toml          text NOT NULL,
    first_applied text NOT NULL
);
CREATE TABLE assay.studies (
    name               text PRIMARY KEY,
    settings           text NOT NULL,     -- JSON study settings
    target_replication integer NOT NULL DEFAULT 1,
    created            timestamptz NOT NULL DEFAULT now()
);
CREATE FUNCTION assay.append_only() RETURNS trigger LANGUAGE plpgsql AS
    $$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$;
CREATE TRIGGER label_events_append_only BEFORE UPDATE OR DELETE ON assay.label_events
    FOR EACH ROW EXECUTE FUNCTION assay.append_only();
CREATE TRIGGER decisions_append_only BEFORE UPDATE OR DELETE ON assay.decisions
    FOR EACH ROW EXECUTE FUNCTION assay.append_only();
",
];

/// Key of the advisory lock that serialises migrations.
const MIGRATION_LOCK: i64 = 0x6173_7361_7922;

/// An open connection to the team server.
pub struct Server {
    client: Client,
}

/// A label event as sent and received.
#[derive(Debug, Clone, PartialEq)]
pub struct WireEvent {
    pub seq: i64,
    pub uid: String,
    pub time: String,
    pub rater: String,
    pub session: String,
    pub protocol: String,
    pub payload: String,
}

/// A decision as sent and received (its image by content hash).
#[derive(Debug, Clone, PartialEq)]
pub struct WireDecision {
    pub seq: i64,
    pub uid: String,
    pub image_hash: String,
    pub status: String,
    pub rating: Option<i64>,
    pub source: String,
    pub reason: Option<String>,
    pub detail: Option<String>,
    pub time: String,
}

/// What one push added on the server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Pushed {
    pub events: u64,
    pub decisions: u64,
    pub policies: u64,
}

/// One rater as the server knows them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ServerRater {
    pub name: String,
    pub revoked_at: Option<String>,
    pub events: i64,
}

/// Server-wide counts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ServerCounts {
    pub schema_version: i64,
    pub events: i64,
    pub decisions: i64,
    pub policies: i64,
    pub studies: i64,
    pub raters: Vec<ServerRater>,
}

fn pg(e: postgres::Error) -> TeamError {
    TeamError::Server(describe(&e))
}

/// A PostgreSQL error in one line: the server's message when there is one.
pub fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(c) = src {
                s.push_str(": ");
                s.push_str(&c.to_string());
                src = c.source();
            }
            s
        }
    }
}

/// libpq's `prefer` and `require`: the connection is encrypted, the server's certificate is
/// not checked (most team servers have a self-signed one); the handshake's signatures are.
#[derive(Debug)]
struct EncryptOnly(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The roots [`SslMode::VerifyFull`] trusts: the webpki roots and the root certificate file.
fn roots() -> Result<rustls::RootCertStore, TeamError> {
    use rustls::pki_types::{CertificateDer, pem::PemObject as _};
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(file) = super::conninfo::root_cert_file() {
        let bad = |e: &dyn std::fmt::Display| {
            TeamError::Server(format!(
                "root certificates {} (PGSSLROOTCERT): {e}",
                file.display()
            ))
        };
        for cert in CertificateDer::pem_file_iter(&file).map_err(|e| bad(&e))? {
            roots.add(cert.map_err(|e| bad(&e))?).map_err(|e| bad(&e))?;
        }
    }
    Ok(roots)
}

/// The TLS connector for `mode` (rustls with the ring provider).
fn tls(mode: SslMode) -> Result<tokio_postgres_rustls::MakeRustlsConnect, TeamError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TeamError::Server(format!("TLS setup: {e}")))?;
    let config = match mode {
        SslMode::VerifyFull => builder.with_root_certificates(roots()?),
        SslMode::Disable | SslMode::Prefer | SslMode::Require => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider))),
    }
    .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

impl Server {
    /// Connects (10 s timeout), TLS as `sslmode` says (never over a Unix socket).
    pub fn connect(url: &ServerUrl) -> Result<Self, TeamError> {
        let mut cfg = Config::new();
        cfg.user(&url.user)
            .dbname(&url.dbname)
            .port(url.port)
            .application_name("assay")
            .connect_timeout(Duration::from_secs(10));
        let socket = url.host.starts_with('/');
        if socket {
            cfg.host_path(&url.host);
        } else {
            cfg.host(&url.host);
        }
        if let Some(p) = url.password() {
            cfg.password(p);
        }
        cfg.ssl_mode(match url.sslmode {
            _ if socket => postgres::config::SslMode::Disable,
            SslMode::Disable => postgres::config::SslMode::Disable,
            SslMode::Prefer => postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyFull => postgres::config::SslMode::Require,
        });
        let client = cfg
            .connect(tls(url.sslmode)?)
            .map_err(|e| TeamError::Connect {
                server: url.display(),
                why: describe(&e),
            })?;
        Ok(Self { client })
    }

    /// The schema version on the server (0: no team schema).
    pub fn schema_version(&mut self) -> Result<i64, TeamError> {
        let exists: bool = self
            .client
            .query_one("SELECT to_regclass('assay.meta') IS NOT NULL", &[])
            .map_err(pg)?
            .get(0);
        if !exists {
            return Ok(0);
        }
        let v: Option<String> = self
            .client
            .query_opt(
                "SELECT value FROM assay.meta WHERE key = 'schema_version'",
                &[],
            )
            .map_err(pg)?
            .map(|r| r.get(0));
        Ok(v.and_then(|v| v.parse().ok()).unwrap_or(0))
    }

    /// Creates or upgrades the team schema (one transaction, under an advisory lock); returns
    /// the version before.
    pub fn migrate(&mut self) -> Result<i64, TeamError> {
        let known = SERVER_MIGRATIONS.len() as i64;
        let mut tx = self.client.transaction().map_err(pg)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .map_err(pg)?;
        tx.batch_execute("CREATE SCHEMA IF NOT EXISTS assay")
            .map_err(pg)?;
        let exists: bool = tx
            .query_one("SELECT to_regclass('assay.meta') IS NOT NULL", &[])
            .map_err(pg)?
            .get(0);
        let before: i64 = if exists {
            tx.query_opt(
                "SELECT value FROM assay.meta WHERE key = 'schema_version'",
                &[],
            )
            .map_err(pg)?
            .and_then(|r| r.get::<_, String>(0).parse().ok())
            .unwrap_or(0)
        } else {
            0
        };
        if before > known {
            return Err(TeamError::SchemaTooNew {
                found: before,
                known,
            });
        }
        for sql in &SERVER_MIGRATIONS[before as usize..] {
            tx.batch_execute(sql).map_err(pg)?;
        }
        tx.execute(
            "INSERT INTO assay.meta VALUES ('schema_version', $1)
             ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            &[&known.to_string()],
        )
        .map_err(pg)?;
        tx.commit().map_err(pg)?;
        Ok(before)
    }

    /// The team's identity (set when the schema was created).
    pub fn team_id(&mut self) -> Result<String, TeamError> {
        Ok(self
            .client
            .query_one("SELECT value FROM assay.meta WHERE key = 'team_id'", &[])
            .map_err(pg)?
            .get(0))
    }

    /// Pushes rows in one transaction under the push lock. Refused as a whole when an event
    /// not on the server yet belongs to a revoked rater.
    pub fn push(
        &mut self,
        raters: &[String],
        events: &[WireEvent],
        decisions: &[WireDecision],
        policies: &[crate::store::PolicyRow],
    ) -> Result<Pushed, TeamError> {
        let mut tx = self.client.transaction().map_err(pg)?;
        tx.batch_execute(
            "LOCK TABLE assay.label_events, assay.decisions IN SHARE ROW EXCLUSIVE MODE",
        )
        .map_err(pg)?;
        let col = |f: fn(&WireEvent) -> &String| events.iter().map(f).collect::<Vec<_>>();
        let (uids, ev_raters) = (col(|e| &e.uid), col(|e| &e.rater));
        let revoked: Vec<String> = tx
            .query(
                "SELECT DISTINCT u.rater FROM unnest($1::text[], $2::text[]) AS u(uid, rater)
                 JOIN assay.raters r ON r.name = u.rater
                 WHERE r.revoked_at IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM assay.label_events e WHERE e.uid = u.uid)
                 ORDER BY 1",
                &[&uids, &ev_raters],
            )
            .map_err(pg)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if !revoked.is_empty() {
            return Err(TeamError::Revoked(revoked));
        }
        tx.execute(
            "INSERT INTO assay.raters (name) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING",
            &[&raters],
        )
        .map_err(pg)?;
        let events = tx
            .execute(
                "INSERT INTO assay.label_events (uid, time, rater, session, protocol, payload)
                 SELECT uid, time, rater, session, protocol, payload
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
                      WITH ORDINALITY AS u(uid, time, rater, session, protocol, payload, n)
                 ORDER BY n ON CONFLICT (uid) DO NOTHING",
                &[
                    &uids,
                    &col(|e| &e.time),
                    &ev_raters,
                    &col(|e| &e.session),
                    &col(|e| &e.protocol),
                    &col(|e| &e.payload),
                ],
            )
            .map_err(pg)?;
        let pushed = Pushed {
            events,
            decisions: push_decisions(&mut tx, decisions)?,
            policies: push_policies(&mut tx, policies)?,
        };
        tx.commit().map_err(pg)?;
        Ok(pushed)
    }

    /// Label events after server seq `after` (at most `limit`), leaving out those a revoked
    /// rater made from their revocation on.
    pub fn pull_events(&mut self, after: i64, limit: i64) -> Result<Vec<WireEvent>, TeamError> {
        let rows = self
            .client
            .query(
                &format!("{EVENTS} WHERE e.seq > $1 AND {NOT_REVOKED} ORDER BY e.seq LIMIT $2"),
                &[&after, &limit],
            )
            .map_err(pg)?;
        Ok(rows.iter().map(wire_event).collect())
    }

    /// Label events with these seqs (pending rows retried).
    pub fn events_by_seq(&mut self, seqs: &[i64]) -> Result<Vec<WireEvent>, TeamError> {
        let rows = self
            .client
            .query(
                &format!("{EVENTS} WHERE e.seq = ANY($1) AND {NOT_REVOKED} ORDER BY e.seq"),
                &[&seqs],
            )
            .map_err(pg)?;
        Ok(rows.iter().map(wire_event).collect())
    }

    /// Decisions after server seq `after` (at most `limit`).
    pub fn pull_decisions(
        &mut self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<WireDecision>, TeamError> {
        let rows = self
            .client
            .query(
                &format!("{DECISIONS} WHERE seq > $1 ORDER BY seq LIMIT $2"),
                &[&after, &limit],
            )
            .map_err(pg)?;
        Ok(rows.iter().map(wire_decision).collect())
    }

    /// Decisions with these seqs (pending rows retried).
    pub fn decisions_by_seq(&mut self, seqs: &[i64]) -> Result<Vec<WireDecision>, TeamError> {
        let rows = self
            .client
            .query(
                &format!("{DECISIONS} WHERE seq = ANY($1) ORDER BY seq"),
                &[&seqs],
            )
            .map_err(pg)?;
        Ok(rows.iter().map(wire_decision).collect())
    }

    /// Every rater name and policy on the server.
    pub fn pull_shared(
        &mut self,
    ) -> Result<(Vec<String>, Vec<crate::store::PolicyRow>), TeamError> {
        let raters = self
            .client
            .query("SELECT name FROM assay.raters ORDER BY name", &[])
            .map_err(pg)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let policies = self
            .client
            .query(
                "SELECT name, hash, toml, first_applied FROM assay.policies ORDER BY first_applied",
                &[],
            )
            .map_err(pg)?
            .iter()
            .map(|r| crate::store::PolicyRow {
                name: r.get(0),
                hash: r.get(1),
                toml: r.get(2),
                first_applied: r.get(3),
            })
            .collect();
        Ok((raters, policies))
    }

    /// Revokes a rater from `time` on (kept when already revoked); returns the revocation time.
    pub fn revoke(&mut self, rater: &str, time: &str) -> Result<String, TeamError> {
        Ok(self
            .client
            .query_one(
                "INSERT INTO assay.raters (name, revoked_at) VALUES ($1, $2)
                 ON CONFLICT (name) DO UPDATE
                     SET revoked_at = COALESCE(assay.raters.revoked_at, EXCLUDED.revoked_at)
                 RETURNING revoked_at",
                &[&rater, &time],
            )
            .map_err(pg)?
            .get(0))
    }

    /// Counts for `assay team status`.
    pub fn counts(&mut self) -> Result<ServerCounts, TeamError> {
        let schema_version = self.schema_version()?;
        let one = |c: &mut Client, sql: &str| -> Result<i64, TeamError> {
            Ok(c.query_one(sql, &[]).map_err(pg)?.get(0))
        };
        let c = &mut self.client;
        let raters = c
            .query(
                "SELECT r.name, r.revoked_at,
                        (SELECT COUNT(*) FROM assay.label_events e WHERE e.rater = r.name)
                 FROM assay.raters r ORDER BY r.name",
                &[],
            )
            .map_err(pg)?
            .iter()
            .map(|r| ServerRater {
                name: r.get(0),
                revoked_at: r.get(1),
                events: r.get(2),
            })
            .collect();
        Ok(ServerCounts {
            schema_version,
            events: one(c, "SELECT COUNT(*) FROM assay.label_events")?,
            decisions: one(c, "SELECT COUNT(*) FROM assay.decisions")?,
            policies: one(c, "SELECT COUNT(*) FROM assay.policies")?,
            studies: one(c, "SELECT COUNT(*) FROM assay.studies")?,
            raters,
        })
    }
}

const EVENTS: &str = "SELECT e.seq, e.uid, e.time, e.rater, e.session, e.protocol, e.payload FROM assay.label_events e";
const NOT_REVOKED: &str = "NOT EXISTS (SELECT 1 FROM assay.raters r WHERE r.name = e.rater
     AND r.revoked_at IS NOT NULL AND e.time >= r.revoked_at)";
const DECISIONS: &str = "SELECT seq, uid, image_hash, status, rating, source, reason, detail, time
     FROM assay.decisions";

fn wire_event(r: &Row) -> WireEvent {
    WireEvent {
        seq: r.get(0),
        uid: r.get(1),
        time: r.get(2),
        rater: r.get(3),
        session: r.get(4),
        protocol: r.get(5),
        payload: r.get(6),
    }
}

fn wire_decision(r: &Row) -> WireDecision {
    WireDecision {
        seq: r.get(0),
        uid: r.get(1),
        image_hash: r.get(2),
        status: r.get(3),
        rating: r.get(4),
        source: r.get(5),
        reason: r.get(6),
        detail: r.get(7),
        time: r.get(8),
    }
}

fn push_decisions(
    tx: &mut postgres::Transaction,
    decisions: &[WireDecision],
) -> Result<u64, TeamError> {
    let s = |f: fn(&WireDecision) -> &String| decisions.iter().map(f).collect::<Vec<_>>();
    let o = |f: fn(&WireDecision) -> Option<&String>| decisions.iter().map(f).collect::<Vec<_>>();
    let ratings: Vec<Option<i64>> = decisions.iter().map(|d| d.rating).collect();
    tx.execute(
        "INSERT INTO assay.decisions (uid, image_hash, status, rating, source, reason, detail, time)
         SELECT uid, image_hash, status, rating, source, reason, detail, time
         FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::text[], $6::text[],
                     $7::text[], $8::text[])
              WITH ORDINALITY AS u(uid, image_hash, status, rating, source, reason, detail, time, n)
         ORDER BY n ON CONFLICT (uid) DO NOTHING",
        &[
            &s(|d| &d.uid),
            &s(|d| &d.image_hash),
            &s(|d| &d.status),
            &ratings,
            &s(|d| &d.source),
            &o(|d| d.reason.as_ref()),
            &o(|d| d.detail.as_ref()),
            &s(|d| &d.time),
        ],
    )
    .map_err(pg)
}

fn push_policies(
    tx: &mut postgres::Transaction,
    policies: &[crate::store::PolicyRow],
) -> Result<u64, TeamError> {
    let s = |f: fn(&crate::store::PolicyRow) -> &String| policies.iter().map(f).collect::<Vec<_>>();
    tx.execute(
        "INSERT INTO assay.policies (hash, name, toml, first_applied)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
         ON CONFLICT (hash) DO NOTHING",
        &[
            &s(|p| &p.hash),
            &s(|p| &p.name),
            &s(|p| &p.toml),
            &s(|p| &p.first_applied),
        ],
    )
    .map_err(pg)
}
