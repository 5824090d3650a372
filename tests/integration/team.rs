//! Team mode against a real PostgreSQL: each test starts a throw-away cluster (initdb into a
//! temporary folder, `postgres` on a free port with its socket in that folder, trust auth).
//! Binaries: `$ASSAY_PG_BIN`, else the newest `/usr/lib/postgresql/*/bin`. Run as root, the
//! server runs as `$ASSAY_PG_USER` (default `postgres`) through `runuser`, since initdb refuses
//! root. Without PostgreSQL the tests print SKIPPED and pass, unless `ASSAY_REQUIRE_POSTGRES=1`
//! (CI), where they fail.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use assay::domain::Protocol;
use assay::human::{self, Event, Payload};
use assay::store::{NewLabelEvent, Store};
use assay::team;

use crate::common;

/// A running throw-away cluster; stopped (immediately) when dropped.
struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    run_as: Option<String>,
}

fn pg_bin() -> Option<PathBuf> {
    if let Some(b) = std::env::var_os("ASSAY_PG_BIN") {
        return Some(PathBuf::from(b));
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, b)| b)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Cluster {
    /// Starts a cluster, or returns `None` after printing SKIPPED (no PostgreSQL installed).
    fn start(test: &str) -> Option<Self> {
        let Some(bin) = pg_bin().filter(|b| b.join("initdb").exists()) else {
            if std::env::var("ASSAY_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                panic!(
                    "{test}: PostgreSQL not found (ASSAY_PG_BIN, /usr/lib/postgresql/*/bin) and ASSAY_REQUIRE_POSTGRES=1"
                );
            }
            eprintln!("SKIPPED {test}: PostgreSQL server binaries not found (set ASSAY_PG_BIN)");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let run_as =
            is_root().then(|| std::env::var("ASSAY_PG_USER").unwrap_or_else(|_| "postgres".into()));
        if let Some(user) = &run_as {
            let ok = Command::new("chown")
                .arg(user)
                .arg(dir.path())
                .status()
                .unwrap()
                .success();
            assert!(ok, "cannot give {} to {user}", dir.path().display());
        }
        let c = Self {
            dir,
            bin,
            port: free_port(),
            run_as,
        };
        let data = c.data();
        let o = c
            .cmd("initdb")
            .args([
                "-D",
                data.to_str().unwrap(),
                "--auth=trust",
                "-U",
                "assay",
                "-E",
                "UTF8",
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "initdb: {}", common::stderr(&o));
        c.pg_ctl(&["start", "-w"]);
        c.psql("postgres", "CREATE DATABASE team");
        Some(c)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Turns TLS on with a certificate for `localhost` and 127.0.0.1 signed by a throw-away CA
    /// (self-made, as on most team servers) and accepts TLS connections only (`hostssl`);
    /// returns the CA's certificate file.
    fn enable_tls(&self) -> PathBuf {
        let data = self.data();
        let (crt, key) = (data.join("server.crt"), data.join("server.key"));
        let (ca, ca_key) = (
            self.dir.path().join("ca.crt"),
            self.dir.path().join("ca.key"),
        );
        let (csr, ext) = (
            self.dir.path().join("server.csr"),
            self.dir.path().join("ext"),
        );
        std::fs::write(
            &ext,
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
        )
        .unwrap();
        let openssl = |args: &[&std::ffi::OsStr]| {
            let o = Command::new("openssl")
                .args(args)
                .output()
                .expect("openssl (the test makes the server's certificates with it)");
            assert!(
                o.status.success(),
                "openssl {args:?}: {}",
                common::stderr(&o)
            );
        };
        let s = |x: &'static str| std::ffi::OsStr::new(x);
        openssl(&[
            s("req"),
            s("-x509"),
            s("-newkey"),
            s("rsa:2048"),
            s("-nodes"),
            s("-days"),
            s("2"),
            s("-subj"),
            s("/CN=assay-test-ca"),
            s("-keyout"),
            ca_key.as_os_str(),
            s("-out"),
            ca.as_os_str(),
        ]);
        openssl(&[
            s("req"),
            s("-newkey"),
            s("rsa:2048"),
            s("-nodes"),
            s("-subj"),
            s("/CN=localhost"),
            s("-keyout"),
            key.as_os_str(),
            s("-out"),
            csr.as_os_str(),
        ]);
        openssl(&[
            s("x509"),
            s("-req"),
            s("-days"),
            s("2"),
            s("-in"),
            csr.as_os_str(),
            s("-CA"),
            ca.as_os_str(),
            s("-CAkey"),
            ca_key.as_os_str(),
            s("-CAcreateserial"),
            s("-extfile"),
            ext.as_os_str(),
            s("-out"),
            crt.as_os_str(),
        ]);
        if let Some(user) = &self.run_as {
            let ok = Command::new("chown")
                .arg(user)
                .arg(&crt)
                .arg(&key)
                .status()
                .unwrap()
                .success();
            assert!(ok);
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let conf = data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).unwrap();
        text.push_str("\nssl = on\n");
        std::fs::write(&conf, text).unwrap();
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\n",
        )
        .unwrap();
        self.pg_ctl(&["restart", "-w"]);
        ca
    }

    fn cmd(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(exe);
                c
            }
            None => Command::new(exe),
        }
    }

    fn pg_ctl(&self, action: &[&str]) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let o = self
            .cmd("pg_ctl")
            .args([
                "-D",
                self.data().to_str().unwrap(),
                "-o",
                &opts,
                "-m",
                "fast",
            ])
            .arg("-l")
            .arg(self.dir.path().join("log"))
            .args(action)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "pg_ctl {action:?}: {}{}",
            common::stdout(&o),
            common::stderr(&o)
        );
    }

    fn psql(&self, db: &str, sql: &str) -> String {
        let o = Command::new(self.bin.join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "assay",
                "-d",
                db,
            ])
            .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .output()
            .unwrap();
        assert!(o.status.success(), "psql {sql}: {}", common::stderr(&o));
        common::stdout(&o).trim().to_string()
    }

    fn url(&self) -> String {
        format!(
            "postgres://assay@127.0.0.1:{}/team?sslmode=prefer",
            self.port
        )
    }

    /// Rows in a server table.
    fn count(&self, table: &str) -> i64 {
        self.psql("team", &format!("SELECT COUNT(*) FROM assay.{table}"))
            .parse()
            .unwrap()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self
            .cmd("pg_ctl")
            .args([
                "-D",
                self.data().to_str().unwrap(),
                "-m",
                "immediate",
                "stop",
            ])
            .output();
    }
}

/// Items to label: (path, content hash).
type Items = Vec<(String, String)>;

/// The fixtures scanned once into `tmp/base.db`: (folder, database, items).
fn scanned(tmp: &Path, test: &str) -> Option<(PathBuf, PathBuf, Items)> {
    let fixtures = common::fixtures_dir(test)?;
    let db = tmp.join("base.db");
    let (code, _) = common::scan_json(&fixtures, &db, &[]);
    assert!(code == 0 || code == 2, "scan exit {code}");
    let store = Store::open(&db).unwrap();
    let mut items: Vec<(String, String)> = store.path_hashes().unwrap().into_iter().collect();
    items.sort();
    Some((fixtures, db, items))
}

/// A copy of the scanned catalogue for one rater.
fn copy_db(base: &Path, to: &Path) -> PathBuf {
    std::fs::copy(base, to).unwrap();
    to.to_path_buf()
}

/// A small deterministic generator (xorshift).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Rater `rater`'s `k`-th pairwise judgement over the first `pool` items: the lower index
/// usually wins (so raters agree beyond chance), sometimes not.
fn pairwise(rater: &str, k: usize, items: &[(String, String)], rng: &mut Rng) -> NewLabelEvent {
    let pool = items.len().min(12);
    let a = rng.below(pool);
    let b = (a + 1 + rng.below(pool - 1)) % pool;
    let (lo, hi) = (a.min(b), a.max(b));
    let winner = if rng.below(10) < 8 { lo } else { hi };
    let payload = Payload {
        criterion: Default::default(),
        items: vec![items[a].0.clone(), items[b].0.clone()],
        hashes: vec![items[a].1.clone(), items[b].1.clone()],
        order: vec![items[a].0.clone(), items[b].0.clone()],
        choice: Some(items[winner].0.clone()),
        rating: None,
        ratings: None,
        response_ms: Some(500 + k as u64),
        attention_check: false,
    };
    let session = format!("{rater}@s");
    let time = format!(
        "2026-01-01T00:{:02}:{:02}.{:03}Z",
        k / 3600 % 60,
        k / 60 % 60,
        k % 1000
    );
    NewLabelEvent {
        uid: human::event_uid(Protocol::Pairwise, rater, &session, Some(&time), &payload),
        time: Some(time),
        rater: rater.into(),
        session,
        protocol: Protocol::Pairwise,
        payload: serde_json::to_string(&payload).unwrap(),
    }
}

/// `n` events of one rater.
fn events(rater: &str, n: usize, items: &[(String, String)], seed: u64) -> Vec<NewLabelEvent> {
    let mut rng = Rng(seed | 1);
    (0..n)
        .map(|k| pairwise(rater, k, items, &mut rng))
        .collect()
}

fn uids(store: &Store) -> Vec<String> {
    store
        .label_events()
        .unwrap()
        .into_iter()
        .map(|e| e.uid.unwrap())
        .collect()
}

/// The agreement statistics of a catalogue's events (in uid order: the statistic does not
/// depend on the order, the float sums should not either).
fn agreement(store: &Store) -> Vec<human::report::AgreementRow> {
    let mut rows = store.label_events().unwrap();
    rows.sort_by(|a, b| a.uid.cmp(&b.uid));
    let events: Vec<Event> = rows
        .into_iter()
        .map(|e| Event {
            rater: e.rater,
            protocol: e.protocol.parse().unwrap(),
            payload: serde_json::from_str(&e.payload).unwrap(),
        })
        .collect();
    human::report::agreement(&events)
}

fn assert_no_duplicates(all: &[String]) {
    let set: BTreeSet<&String> = all.iter().collect();
    assert_eq!(set.len(), all.len(), "duplicated events");
}

#[test]
fn three_raters_label_concurrently_through_the_server() {
    let Some(pg) = Cluster::start("three_raters_label_concurrently_through_the_server") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let Some((_, base, items)) = scanned(tmp.path(), "three_raters") else {
        return;
    };
    let raters = ["ana", "ben", "cai"];
    let mut dbs = Vec::new();
    for (i, r) in raters.iter().enumerate() {
        let db = copy_db(&base, &tmp.path().join(format!("{r}.db")));
        let mut s = Store::open(&db).unwrap();
        let link = if i == 0 {
            team::init(&mut s, &pg.url())
        } else {
            team::join(&mut s, &pg.url())
        };
        link.unwrap();
        dbs.push(db);
    }
    let planned: Vec<Vec<NewLabelEvent>> = raters
        .iter()
        .enumerate()
        .map(|(i, r)| events(r, 1000, &items, 7 + i as u64))
        .collect();
    let done = Arc::new(Barrier::new(raters.len()));
    let started = Instant::now();
    let handles: Vec<_> = dbs
        .iter()
        .zip(planned.clone())
        .map(|(db, mine)| {
            let (db, done) = (db.clone(), done.clone());
            std::thread::Builder::new()
                .name("rater".into())
                .spawn(move || {
                    let mut s = Store::open(&db).unwrap();
                    for (k, chunk) in mine.chunks(25).enumerate() {
                        // Labeling: one event at a time, a sync every 100 events.
                        for e in chunk {
                            s.append_label_events(std::slice::from_ref(e)).unwrap();
                        }
                        if k % 4 == 3 {
                            team::sync(&mut s).unwrap();
                        }
                    }
                    team::sync(&mut s).unwrap();
                    done.wait();
                    team::sync(&mut s).unwrap()
                })
                .unwrap()
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    eprintln!(
        "3 raters x 1000 events, syncing every 100: {:.2} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(pg.count("label_events"), 3000);
    let all: Vec<NewLabelEvent> = planned.concat();
    let expected: BTreeSet<String> = all.iter().map(|e| e.uid.clone()).collect();
    assert_eq!(expected.len(), 3000);
    // The single-database import of the same events.
    let single_db = copy_db(&base, &tmp.path().join("single.db"));
    let mut single = Store::open(&single_db).unwrap();
    single.append_label_events(&all).unwrap();
    let reference = agreement(&single);
    assert_eq!(reference.len(), 1, "{reference:?}");
    assert_eq!(reference[0].raters, 3);
    assert!(
        reference[0].alphas.iter().all(|(_, a)| a.is_ok()),
        "{reference:?}"
    );
    for db in &dbs {
        let s = Store::open(db).unwrap();
        let got = uids(&s);
        assert_no_duplicates(&got);
        assert_eq!(
            got.iter().cloned().collect::<BTreeSet<_>>(),
            expected,
            "lost events"
        );
        assert_eq!(agreement(&s), reference);
    }
    // A fourth copy pulls everything at once: the time of a 3,000-event sync.
    let mut late = Store::open(&copy_db(&base, &tmp.path().join("late.db"))).unwrap();
    team::join(&mut late, &pg.url()).unwrap();
    let r = team::sync(&mut late).unwrap();
    eprintln!("a new member pulls 3000 events: {:.3} s", r.seconds);
    assert_eq!((r.pulled_events, uids(&late).len()), (3000, 3000));
    let again = team::sync(&mut late).unwrap();
    assert_eq!((again.pulled_events, again.pushed.events), (0, 0));
    assert_eq!(pg.count("label_events"), 3000);
}

#[test]
fn an_offline_rater_syncs_later_and_rows_for_absent_images_wait() {
    let Some(pg) = Cluster::start("an_offline_rater_syncs_later") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let Some((_, base, items)) = scanned(tmp.path(), "offline_rater") else {
        return;
    };
    let mut a = Store::open(&copy_db(&base, &tmp.path().join("a.db"))).unwrap();
    let mut b = Store::open(&copy_db(&base, &tmp.path().join("b.db"))).unwrap();
    team::init(&mut a, &pg.url()).unwrap();
    team::join(&mut b, &pg.url()).unwrap();
    // b works offline: labels, decides, applies a policy; a labels and syncs meanwhile.
    b.append_label_events(&events("bo", 200, &items, 3))
        .unwrap();
    let image = b.images_by_hash().unwrap()[&items[0].1].0;
    b.append_decision(
        image,
        assay::domain::Status::Accepted,
        Some(4),
        "human",
        None,
    )
    .unwrap();
    b.record_policy("strict", "p1hash", "[accept]\n").unwrap();
    // An event naming an image that a's copy does not have.
    let mut stranger = events("bo", 1, &items, 99).remove(0);
    stranger.uid = "stranger".into();
    let mut p: Payload = serde_json::from_str(&stranger.payload).unwrap();
    p.hashes[0] = "0123456789abcdef".into();
    stranger.payload = serde_json::to_string(&p).unwrap();
    b.append_label_events(&[stranger]).unwrap();
    a.append_label_events(&events("al", 100, &items, 5))
        .unwrap();
    team::sync(&mut a).unwrap();
    assert_eq!(pg.count("label_events"), 100);
    let r = team::sync(&mut b).unwrap();
    assert_eq!((r.pushed.events, r.pulled_events), (201, 100));
    assert_eq!((r.pushed.decisions, r.pushed.policies), (1, 1));
    let r = team::sync(&mut a).unwrap();
    assert_eq!(r.pulled_events, 200);
    assert_eq!(r.pulled_decisions, 1);
    assert_eq!(r.pending_events, 1, "kept for an image this copy lacks");
    assert_eq!(
        a.latest_decision(image).unwrap().unwrap().0,
        assay::domain::Status::Accepted
    );
    assert_eq!(a.policies().unwrap().len(), 1);
    // Nothing doubles on either side, however often they sync; the waiting row stays counted.
    for s in [&mut a, &mut b] {
        let r = team::sync(s).unwrap();
        assert_eq!(
            (r.pushed.events, r.pulled_events, r.pulled_decisions),
            (0, 0, 0)
        );
    }
    assert_eq!(
        (
            a.count("label_events").unwrap(),
            b.count("label_events").unwrap()
        ),
        (300, 301)
    );
    assert_eq!(a.count("decisions").unwrap(), 1);
    assert_eq!(
        b.count("decisions").unwrap(),
        1,
        "b's own decision is not pulled back"
    );
    assert_eq!(pg.count("label_events"), 301);
    assert_eq!(pg.count("decisions"), 1);
    assert_eq!(a.team_link().unwrap().unwrap().pending_events, 1);
}

/// Runs `assay team sync` on `db` and kills it after `after`; returns whether it had finished.
fn killed_sync(dir: &Path, db: &Path, after: Duration) -> bool {
    let mut child = common::assay()
        .args([
            "team",
            "sync",
            dir.to_str().unwrap(),
            "--db",
            db.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(after);
    let finished = child.try_wait().unwrap().is_some();
    let _ = child.kill();
    let _ = child.wait();
    finished
}

#[test]
fn a_killed_sync_loses_and_doubles_nothing() {
    let Some(pg) = Cluster::start("a_killed_sync_loses_and_doubles_nothing") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let Some((dir, base, items)) = scanned(tmp.path(), "killed_sync") else {
        return;
    };
    let (a_db, b_db) = (
        copy_db(&base, &tmp.path().join("a.db")),
        copy_db(&base, &tmp.path().join("b.db")),
    );
    let url = pg.url();
    for (db, verb) in [(&a_db, "init"), (&b_db, "join")] {
        let o = common::run(&[
            "team",
            verb,
            dir.to_str().unwrap(),
            "--db",
            db.to_str().unwrap(),
            "--server",
            url.as_str(),
        ]);
        assert!(o.status.success(), "{}", common::stderr(&o));
    }
    let n = 30_000;
    Store::open(&a_db)
        .unwrap()
        .append_label_events(&events("al", n, &items, 11))
        .unwrap();
    // Kill the pushing and then the pulling process at various points.
    for (db, ms) in [
        (&a_db, 150),
        (&a_db, 400),
        (&a_db, 900),
        (&b_db, 200),
        (&b_db, 600),
    ] {
        killed_sync(&dir, db, Duration::from_millis(ms));
        let server = pg.count("label_events");
        assert!(server <= n as i64);
    }
    for db in [&a_db, &b_db] {
        let o = common::run(&[
            "team",
            "sync",
            dir.to_str().unwrap(),
            "--db",
            db.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", common::stderr(&o));
    }
    assert_eq!(pg.count("label_events"), n as i64);
    for db in [&a_db, &b_db] {
        let s = Store::open(db).unwrap();
        let got = uids(&s);
        assert_eq!(got.len(), n);
        assert_no_duplicates(&got);
    }
    let o = common::run(&[
        "team",
        "status",
        dir.to_str().unwrap(),
        "--db",
        b_db.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert!(
        common::stdout(&o).contains(&format!("al: {n} events")),
        "{}",
        common::stdout(&o)
    );
}

#[test]
fn a_server_restart_during_sync_is_survived() {
    let Some(pg) = Cluster::start("a_server_restart_during_sync_is_survived") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let Some((_, base, items)) = scanned(tmp.path(), "server_restart") else {
        return;
    };
    let a_db = copy_db(&base, &tmp.path().join("a.db"));
    let mut a = Store::open(&a_db).unwrap();
    let mut b = Store::open(&copy_db(&base, &tmp.path().join("b.db"))).unwrap();
    team::init(&mut a, &pg.url()).unwrap();
    team::join(&mut b, &pg.url()).unwrap();
    a.append_label_events(&events("al", 500, &items, 1))
        .unwrap();
    team::sync(&mut a).unwrap();
    // Restart between syncs: the next sync reconnects.
    pg.pg_ctl(&["restart", "-w"]);
    b.append_label_events(&events("bo", 300, &items, 2))
        .unwrap();
    team::sync(&mut b).unwrap();
    // Restart while a large sync runs: it may fail, the next one completes exactly.
    let n = 40_000;
    a.append_label_events(&events("al2", n, &items, 3)).unwrap();
    drop(a);
    let worker = std::thread::Builder::new()
        .name("sync".into())
        .spawn(move || {
            let mut a = Store::open(&a_db).unwrap();
            let first = team::sync(&mut a).map(|_| ()).map_err(|e| e.to_string());
            (a, first)
        })
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    pg.pg_ctl(&["restart", "-w"]);
    let (mut a, first) = worker.join().unwrap();
    eprintln!("sync across a restart: {first:?}");
    let mut failures = 0;
    while let Err(e) = team::sync(&mut a) {
        failures += 1;
        assert!(failures < 10, "sync keeps failing after the restart: {e}");
        std::thread::sleep(Duration::from_millis(200));
    }
    team::sync(&mut b).unwrap();
    let total = 500 + 300 + n;
    assert_eq!(pg.count("label_events"), total as i64);
    for s in [&a, &b] {
        let got = uids(s);
        assert_eq!(got.len(), total);
        assert_no_duplicates(&got);
    }
}

#[test]
fn a_revoked_rater_cannot_push_and_is_not_pulled() {
    let Some(pg) = Cluster::start("a_revoked_rater_cannot_push_and_is_not_pulled") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let Some((dir, base, items)) = scanned(tmp.path(), "revoked_rater") else {
        return;
    };
    let a_db = copy_db(&base, &tmp.path().join("a.db"));
    let mut a = Store::open(&a_db).unwrap();
    let mut c = Store::open(&copy_db(&base, &tmp.path().join("c.db"))).unwrap();
    // A password on the command line is refused before anything happens.
    let o = common::run(&[
        "team",
        "init",
        dir.to_str().unwrap(),
        "--db",
        a_db.to_str().unwrap(),
        "--server",
        "postgres://assay:hunter2@127.0.0.1:1/team",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        common::stderr(&o).contains("PGPASSWORD"),
        "{}",
        common::stderr(&o)
    );
    assert!(!common::stderr(&o).contains("hunter2"));
    team::init(&mut a, &pg.url()).unwrap();
    team::join(&mut c, &pg.url()).unwrap();
    let cs = events("cy", 15, &items, 9);
    c.append_label_events(&cs[..10]).unwrap();
    team::sync(&mut c).unwrap();
    let o = common::run(&[
        "team",
        "revoke",
        dir.to_str().unwrap(),
        "--db",
        a_db.to_str().unwrap(),
        "--rater",
        "cy",
    ]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    // Events made after the revocation.
    let later: Vec<NewLabelEvent> = cs[10..]
        .iter()
        .map(|e| NewLabelEvent {
            time: Some("2999-01-01T00:00:00.000Z".into()),
            ..e.clone()
        })
        .collect();
    c.append_label_events(&later).unwrap();
    let e = team::sync(&mut c).unwrap_err();
    assert!(matches!(e, team::TeamError::Revoked(_)), "{e}");
    assert!(
        e.to_string().contains("cy") && e.to_string().contains("revoked"),
        "{e}"
    );
    assert_eq!(pg.count("label_events"), 10);
    // Written to the server behind Assay's back: still not pulled.
    pg.psql(
        "team",
        "INSERT INTO assay.label_events (uid, time, rater, session, protocol, payload)
         SELECT 'sneaked', '2999-01-02T00:00:00.000Z', rater, session, protocol, payload
         FROM assay.label_events LIMIT 1",
    );
    let r = team::sync(&mut a).unwrap();
    assert_eq!(r.pulled_events, 10);
    assert_eq!(a.count("label_events").unwrap(), 10);
    assert!(!uids(&a).contains(&"sneaked".to_string()));
}

/// `assay team join|init` with `sslmode` and extra environment: (exit code, stderr).
fn link(
    pg: &Cluster,
    verb: &str,
    db: &Path,
    sslmode: &str,
    env: &[(&str, &Path)],
) -> (i32, String) {
    let dir = db.parent().unwrap();
    let url = format!(
        "postgres://assay@127.0.0.1:{}/team?sslmode={sslmode}",
        pg.port
    );
    let mut c = common::assay();
    c.args(["team", verb])
        .arg(dir)
        .arg("--db")
        .arg(db)
        .args(["--server", &url])
        .env("HOME", dir)
        .env_remove("PGSSLROOTCERT")
        .env_remove("PGSSLMODE");
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    (o.status.code().unwrap_or(-1), common::stderr(&o))
}

/// A server that offers TLS with a certificate from a self-made CA and refuses plain
/// connections: `prefer` (the default) and `require` connect encrypted without checking the
/// certificate (libpq's meanings), `disable` is refused by the server, `verify-full` fails on
/// the unknown issuer and connects once the CA is trusted through `PGSSLROOTCERT`.
#[test]
fn tls_is_used_when_the_server_offers_it() {
    let Some(pg) = Cluster::start("tls_is_used_when_the_server_offers_it") else {
        return;
    };
    let ca = pg.enable_tls();
    let tmp = tempfile::tempdir().unwrap();
    let db = |name: &str| {
        let d = tmp.path().join(name);
        std::fs::create_dir(&d).unwrap();
        let db = d.join("assay.db");
        drop(Store::open(&db).unwrap()); // an empty catalogue
        db
    };
    let (code, err) = link(&pg, "init", &db("prefer"), "prefer", &[]);
    assert_eq!(code, 0, "{err}");
    let (code, err) = link(&pg, "join", &db("require"), "require", &[]);
    assert_eq!(code, 0, "{err}");
    let (code, err) = link(&pg, "join", &db("disable"), "disable", &[]);
    assert_ne!(
        code, 0,
        "plain connections are refused by pg_hba.conf: {err}"
    );
    let (code, err) = link(&pg, "join", &db("unknown"), "verify-full", &[]);
    assert_ne!(code, 0);
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    let (code, err) = link(
        &pg,
        "join",
        &db("trusted"),
        "verify-ca",
        &[("PGSSLROOTCERT", ca.as_path())],
    );
    assert_eq!(code, 0, "{err}");
    let (code, err) = link(
        &pg,
        "join",
        &db("missing-roots"),
        "verify-full",
        &[("PGSSLROOTCERT", tmp.path().join("none.crt").as_path())],
    );
    assert_ne!(code, 0);
    assert!(err.contains("PGSSLROOTCERT"), "{err}");
}
