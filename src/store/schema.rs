//! Versioned schema migrations. Migration `n` moves the database from `user_version = n` to
//! `n + 1`; they run in one transaction each, in order, when a store is opened.
//!
//! # Data model
//!
//! `images` (one row per *version* of a path: `path`, exact `path_raw` bytes for non-UTF-8 names,
//! `version`, `current`, size, mtime, xxh3 `hash`, width/height after orientation, format, frames,
//! orientation, `error`, `missing`, `signals_version`, `first_seen` / `last_seen` scan times — a
//! new version gets its own `first_seen`, an unchanged or same-hash rescan keeps it;
//! `ImageRow.first_seen` carries it to `monitor`'s `scan_date` batches, so no migration was
//! needed), `metadata` (tool, positive, negative, seed, steps, sampler, cfg, model, generation
//! size, `raw_json`, `warnings_json`), `signals` (image id, key, numeric `value` or `text`,
//! `producer`), `embeddings`, `label_events` and `decisions` (append-only: UPDATE/DELETE raise),
//! `scorers`, `raters`, `scans` (one row per scan with its JSON summary). Migration 2 adds
//! `label_events.uid` (unique content id: importing the same event twice adds nothing). `raters`
//! holds one row per rater name (added when a rater starts a session; `Store::raters` also lists
//! names only found in events). A *session* is one rater's run of a study: its id (`<rater>@<start
//! time>#<4 hex>`) is on every event, and `Store::label_sessions` summarises sessions from the
//! events, so no table is needed. Migration 3 adds `policies` (each applied policy's TOML, by hash)
//! and `decisions.detail` (the evidence of a policy decision). Migration 5 adds `metadata.parser`
//! (the interpreter that read the fields) and `metadata.extra_json` (further sampler passes,
//! character prompts, settings without a column); `assay table` derives `missing_fields` from the
//! row. Migration 4 allows at most one active scorer (partial unique index) and adds `scorer_log`
//! (append-only: scorer, previous active scorer, action `train`/`activate`/`rollback`, time).
//! Migration 7 gives every label event an id (`legacy:<row id>:<time>` for rows stored without one;
//! the append-only trigger is dropped and restored around the backfill) and requires one on insert.
//! A `scorers` row holds `kind = preference`, a per-kind `version`, `params` (JSON
//! `assay-preference/2`, `/1` still read, `/3` for fine-tuned aesthetic heads with L2-normalised
//! embedding inputs: head, feature names, `log1p` flags, embedding
//! projections, means and stds, layer weights — scoring needs no burn), `training` (events by
//! protocol, raters, time range, options, device) and `metrics` (the report of `assay train`).
//! Migration 5 adds `signals_key_text` (a partial index of text signal values by key; the bulk
//! read no longer uses it: `Store::image_rows` scans `signals` in id ranges, see `store/rows.rs`;
//! raw metadata is not part of that read, `Store::load_raw` adds it). `PRAGMA user_version` is the
//! schema version;
//! migrations run in order, one transaction each.
//!
//! - Incremental rescan: a current row whose size, mtime and `signals_version` match is skipped.
//!   Otherwise the file is re-read: same hash → updated in place; different hash → the old row gets
//!   `current = 0` (its signals stay attached to it, i.e. invalidated for the path) and a new row
//!   with `version + 1` is inserted. Paths gone from disk get `missing = 1`; nothing is deleted.
//! - Seeds are `u64` in generators but SQLite integers are `i64`: seeds above `i64::MAX` are stored
//!   as decimal text (SQLite's dynamic typing); `assay table` prints them as exact integers.
//! - Location: `--db` wins; else `<root>/.assay/assay.db`; when that folder cannot be created (a
//!   read-only collection) the scan uses `$XDG_DATA_HOME/assay/collections/<xxh3 of the canonical
//!   root>/assay.db` and says so, and `table`/`open` look there when `<root>/.assay/` has none
//!   (`Store::locate`).
//! - Durability: WAL + `synchronous=NORMAL`; each batch is one transaction, so a kill loses at most
//!   the batch in flight (tested with SIGKILL).
//! - Integrity (`store/health.rs`): `Store::open` (writers) refuses a 0-byte file, a non-SQLite
//!   file, an unwritable catalogue (with the reason) and a damaged one (`PRAGMA quick_check` before
//!   the first write, skipped only when the files are exactly as Assay's last writer left them
//!   (`<db>.checked` stamp: sizes and times of the database and `-wal`) and checked within a day;
//!   writers open together in one process share one check: `store/check_schedule.rs`); readers use
//!   `Store::open_for_reading` (read-only, `immutable` when a WAL catalogue sits on read-only media
//!   with nothing unmerged). Each scan first copies a non-empty catalogue with the online backup
//!   API to `<db>.backups/` (3 kept); `assay repair` salvages readable rows table by table and
//!   fills gaps from the newest healthy backup.
//! - Versions (migration 6, `store/versions.rs`): `images.pixel_hash` (xxh3-128 of the decoded
//!   pixels). A new version with the same pixels gets copies of the previous version's decisions in
//!   the ingest transaction; otherwise `ImageRow.earlier_decision` ("accepted on version 1") is
//!   shown by `table` and the GUI until someone decides again.
//! - Imported signals (migration 9, `store/external.rs`): `external_signals` holds one row per
//!   signal imported by `assay signals import` — `key` (primary key), `label`, `direction`
//!   (`higher`/`lower`), the judge's `producer` and `version`, the score `file` as named, its
//!   xxh3-128 `file_hash`, `imported_at`, and the counts of the import (`rows` read, `matched`,
//!   `unmatched`, `invalid`, `images` that received a value). The values are ordinary `signals`
//!   rows with producer `ext:<producer>@<version>`; a re-import replaces the key's `ext:` values
//!   and its row in one transaction. A rescan that rewrites an image's signals (same content)
//!   keeps its `ext:` values; a new version of a file (new content) has none until the next
//!   import. Opening a catalogue registers these definitions in the signal registry
//!   (`signals::imported`).
//! - Team mode (migration 10, `store/team.rs`): `team` (one row: the server URL without
//!   password, the team's id, push/pull cursors, last sync), `team_pending` (server rows naming
//!   images this copy lacks, retried each sync) and `decisions.uid` (the server identity of a
//!   decision pulled from a teammate; NULL for decisions made here, whose identity is computed
//!   when pushed).
//! - Signal cache (migration 11, `store/signal_cache.rs`): `signals_state` holds one random
//!   `token` that triggers replace on every insert, update and delete of a `signals` row; the
//!   row-major copy of the signals written beside the catalogue (`<db>.signals-cache`) records
//!   the token it was built at and is read only while the token is the same.

/// Every migration, oldest first. Never edit a released migration: append a new one.
pub const MIGRATIONS: &[&str] = &[
    // 1: the data model in this module's docs.
    r"
CREATE TABLE images (
    id          INTEGER PRIMARY KEY,
    path        TEXT    NOT NULL,           -- relative to the collection root, '/' separated (lossy for non-UTF-8 names)
    path_raw    BLOB    NOT NULL,           -- exact OS bytes of the relative path
    version     INTEGER NOT NULL DEFAULT 1, -- bumped when the content hash of the same path changes
    current     INTEGER NOT NULL DEFAULT 1, -- 1 for the live version of a path
    size        INTEGER,
    mtime_ns    INTEGER,
    hash        TEXT,                       -- xxh3-128 of the file bytes, hex
    width       INTEGER,
    height      INTEGER,
    format      TEXT,
    frames      INTEGER,
    orientation INTEGER,
    error       TEXT,                       -- why the file could not be read or decoded (NULL = fine)
    missing     INTEGER NOT NULL DEFAULT 0, -- 1 when the file disappeared; the row is kept
    signals_version INTEGER,                -- pipeline signal-set version fully computed for this row
    first_seen  TEXT    NOT NULL,
    last_seen   TEXT    NOT NULL
);
CREATE UNIQUE INDEX images_path_version ON images(path_raw, version);
CREATE INDEX images_current ON images(current, path);

CREATE TABLE metadata (
    image_id        INTEGER PRIMARY KEY REFERENCES images(id),
    tool            TEXT,
    positive        TEXT,
    negative        TEXT,
    seed,                                   -- no affinity: i64 as INTEGER, larger seeds as TEXT
    steps           INTEGER,
    sampler         TEXT,
    cfg             REAL,
    model           TEXT,
    gen_width       INTEGER,
    gen_height      INTEGER,
    raw_json        TEXT NOT NULL,          -- every raw carrier, always kept (capped)
    warnings_json   TEXT NOT NULL
);
CREATE INDEX metadata_positive ON metadata(positive);

CREATE TABLE signals (
    image_id  INTEGER NOT NULL REFERENCES images(id),
    key       TEXT    NOT NULL,
    value     REAL,                          -- numeric signals
    text      TEXT,                          -- hashes and other text-valued signals
    producer  TEXT    NOT NULL,              -- producer key + version, e.g. classical@1
    PRIMARY KEY (image_id, key)
) WITHOUT ROWID;
CREATE INDEX signals_key_value ON signals(key, value);

CREATE TABLE embeddings (
    image_id  INTEGER NOT NULL REFERENCES images(id),
    model_key TEXT    NOT NULL,
    dim       INTEGER NOT NULL,
    vector    BLOB    NOT NULL,              -- little-endian f32
    PRIMARY KEY (image_id, model_key)
) WITHOUT ROWID;

CREATE TABLE label_events (
    id        INTEGER PRIMARY KEY,
    time      TEXT NOT NULL,
    rater     TEXT NOT NULL,
    session   TEXT NOT NULL,
    protocol  TEXT NOT NULL,
    payload   TEXT NOT NULL                  -- JSON: items shown, order, answer, response time, attention flag
);
CREATE TRIGGER label_events_no_update BEFORE UPDATE ON label_events
    BEGIN SELECT RAISE(ABORT, 'label_events is append-only'); END;
CREATE TRIGGER label_events_no_delete BEFORE DELETE ON label_events
    BEGIN SELECT RAISE(ABORT, 'label_events is append-only'); END;

CREATE TABLE decisions (
    id        INTEGER PRIMARY KEY,
    image_id  INTEGER NOT NULL REFERENCES images(id),
    status    TEXT NOT NULL CHECK (status IN ('accepted', 'rejected', 'review', 'none')),
    rating    INTEGER,
    source    TEXT NOT NULL,                 -- 'human' or a policy version
    reason    TEXT,
    time      TEXT NOT NULL
);
CREATE INDEX decisions_image ON decisions(image_id, id);
CREATE TRIGGER decisions_no_update BEFORE UPDATE ON decisions
    BEGIN SELECT RAISE(ABORT, 'decisions is append-only'); END;
CREATE TRIGGER decisions_no_delete BEFORE DELETE ON decisions
    BEGIN SELECT RAISE(ABORT, 'decisions is append-only'); END;

CREATE TABLE scorers (
    id        INTEGER PRIMARY KEY,
    kind      TEXT NOT NULL,
    version   INTEGER NOT NULL,
    params    BLOB,
    training  TEXT,
    metrics   TEXT,
    active    INTEGER NOT NULL DEFAULT 0,
    created   TEXT NOT NULL
);

CREATE TABLE raters (
    id        INTEGER PRIMARY KEY,
    name      TEXT NOT NULL UNIQUE,
    attention TEXT
);

CREATE TABLE scans (
    id        INTEGER PRIMARY KEY,
    started   TEXT NOT NULL,
    finished  TEXT,
    status    TEXT NOT NULL,                 -- running / done / cancelled / failed
    summary   TEXT                           -- JSON counts
);
",
    // 2: label events carry a content id so that importing the same event twice adds nothing.
    r"
ALTER TABLE label_events ADD COLUMN uid TEXT;
CREATE UNIQUE INDEX label_events_uid ON label_events(uid);
CREATE INDEX label_events_protocol ON label_events(protocol);
",
    // 3: applied selection policies are versioned; decisions keep their evidence.
    r"
CREATE TABLE policies (
    id        INTEGER PRIMARY KEY,
    name      TEXT NOT NULL,
    hash      TEXT NOT NULL UNIQUE,          -- xxh3-128 of the TOML text
    toml      TEXT NOT NULL,
    first_applied TEXT NOT NULL
);
ALTER TABLE decisions ADD COLUMN detail TEXT;  -- JSON: score, rank, the signal vector used
",
    // 4: at most one active scorer, and an append-only log of activations and rollbacks.
    r"
CREATE UNIQUE INDEX scorers_one_active ON scorers(active) WHERE active = 1;
CREATE TABLE scorer_log (
    id        INTEGER PRIMARY KEY,
    scorer_id INTEGER NOT NULL REFERENCES scorers(id),
    previous  INTEGER REFERENCES scorers(id),  -- the scorer active before (NULL = none)
    action    TEXT NOT NULL,                   -- train / activate / rollback
    time      TEXT NOT NULL
);
CREATE TRIGGER scorer_log_no_update BEFORE UPDATE ON scorer_log
    BEGIN SELECT RAISE(ABORT, 'scorer_log is append-only'); END;
CREATE TRIGGER scorer_log_no_delete BEFORE DELETE ON scorer_log
    BEGIN SELECT RAISE(ABORT, 'scorer_log is append-only'); END;
",
    // 5: metadata says which parser read it and keeps the fields without a column.
    r"
ALTER TABLE metadata ADD COLUMN parser TEXT;      -- interpreter that read the fields (NULL = none, or scanned before 5)
ALTER TABLE metadata ADD COLUMN extra_json TEXT;  -- JSON [[key, value], ...]: further sampler passes, character prompts, ...
",
    // 6 (issue 17, hardening): the hash of the decoded pixels, so decisions carry over to a
    // new version of a file whose pixels did not change; scans may also end `interrupted`.
    r"
ALTER TABLE images ADD COLUMN pixel_hash TEXT;  -- xxh3-128 of the decoded pixels (NULL: not decoded)
",
    // 7: every label event has an id, so that an export (which writes each event's id) imports
    // back onto itself. Events stored without one (possible only in databases written before
    // migration 2 or by other tools) get `legacy:<row id>:<time>`, unique in the database, and
    // new events must carry one. No event is removed or changed otherwise; the append-only
    // triggers are dropped for the backfill and restored in the same transaction.
    r"
DROP TRIGGER label_events_no_update;
UPDATE label_events SET uid = 'legacy:' || id || ':' || time WHERE uid IS NULL;
CREATE TRIGGER label_events_no_update BEFORE UPDATE ON label_events
    BEGIN SELECT RAISE(ABORT, 'label_events is append-only'); END;
CREATE TRIGGER label_events_uid_required BEFORE INSERT ON label_events
    WHEN NEW.uid IS NULL
    BEGIN SELECT RAISE(ABORT, 'label_events.uid is required'); END;
",
    // 8: million-row catalogue reads (`store/rows.rs`): text signal values (hashes, face
    // boxes) by key from an index alone, as `signals_key_value` serves the numbers.
    r"
CREATE INDEX signals_key_text ON signals(key, value, text) WHERE text IS NOT NULL;
",
    // 9 (issue 21): signals imported from outside judges, with their provenance; their values
    // are `signals` rows with producer `ext:<producer>@<version>` (see `store/external.rs`).
    r"
CREATE TABLE external_signals (
    key         TEXT PRIMARY KEY,
    label       TEXT NOT NULL,
    direction   TEXT NOT NULL CHECK (direction IN ('higher', 'lower', 'neutral')),
    producer    TEXT NOT NULL,               -- the judge's name
    version     TEXT NOT NULL,               -- the judge's version
    file        TEXT NOT NULL,               -- the score file as named on the command line
    file_hash   TEXT NOT NULL,               -- xxh3-128 of the score file's bytes, hex
    imported_at TEXT NOT NULL,
    rows        INTEGER NOT NULL,            -- data rows read
    matched     INTEGER NOT NULL,            -- rows naming a current image
    unmatched   INTEGER NOT NULL,            -- rows naming no current image
    invalid     INTEGER NOT NULL,            -- unreadable, not a finite number, duplicate key
    images      INTEGER NOT NULL             -- images that received a value
);
",
    // 10 (issue 22, team mode; see `store/team.rs`): the link to a team's PostgreSQL (URL
    // without password) and the sync cursors, the server rows waiting for images this copy
    // lacks, and the server identity of decisions pulled from teammates.
    r"
CREATE TABLE team (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    server          TEXT NOT NULL,             -- postgres://user@host:port/db (never a password)
    team_id         TEXT NOT NULL,             -- the server schema's identity (assay.meta)
    joined          TEXT NOT NULL,
    pushed_event    INTEGER NOT NULL DEFAULT 0, -- local label_events.id pushed up to
    pushed_decision INTEGER NOT NULL DEFAULT 0, -- local decisions.id pushed up to
    pulled_event    INTEGER NOT NULL DEFAULT 0, -- server label_events.seq pulled up to
    pulled_decision INTEGER NOT NULL DEFAULT 0, -- server decisions.seq pulled up to
    last_sync       TEXT
);
CREATE TABLE team_pending (
    kind  TEXT NOT NULL CHECK (kind IN ('event', 'decision')),
    seq   INTEGER NOT NULL,                    -- server seq of a row naming an image absent here
    PRIMARY KEY (kind, seq)
) WITHOUT ROWID;
ALTER TABLE decisions ADD COLUMN uid TEXT;     -- server identity of a pulled decision (NULL: made here)
CREATE UNIQUE INDEX decisions_uid ON decisions(uid);
",
    // 11 (issue 15): a token that changes with every write of `signals`, whoever the writer,
    // so the row-major signal cache beside the catalogue (`store/signal_cache.rs`) is read
    // only while it holds exactly the stored values.
    r"
CREATE TABLE signals_state (token INTEGER NOT NULL);
INSERT INTO signals_state VALUES (random());
CREATE TRIGGER signals_state_insert AFTER INSERT ON signals
    BEGIN UPDATE signals_state SET token = random(); END;
CREATE TRIGGER signals_state_update AFTER UPDATE ON signals
    BEGIN UPDATE signals_state SET token = random(); END;
CREATE TRIGGER signals_state_delete AFTER DELETE ON signals
    BEGIN UPDATE signals_state SET token = random(); END;
",
];
