//! `assay label import|export DIR --file F.jsonl`: share raters' label events between machines.
//! Import validates each line against the collection, reports bad lines by number and skips only
//! them; importing the same events twice adds nothing, while repeated identical lines of one
//! file are all kept (see `human` on event identity). Export writes each event's id. In a
//! collection that joined a team (`assay team`), export first syncs and import syncs after (a
//! failed sync is reported on stderr and the command goes on offline).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::{EXIT_PARTIAL, UsageError};
use crate::human;
use crate::store::{NewLabelEvent, Store};

#[derive(Debug, clap::Args)]
pub struct LabelArgs {
    #[command(subcommand)]
    pub action: LabelAction,
}

#[derive(Debug, clap::Subcommand)]
pub enum LabelAction {
    /// Append the events of a JSON-lines file (idempotent).
    Import(LabelFileArgs),
    /// Write every event as JSON lines (`--file -` for stdout).
    Export(LabelFileArgs),
}

#[derive(Debug, clap::Args)]
pub struct LabelFileArgs {
    /// Collection folder (scanned).
    pub dir: PathBuf,
    #[arg(long)]
    pub file: PathBuf,
    /// Database path (default DIR/.assay/assay.db).
    #[arg(long)]
    pub db: Option<PathBuf>,
}

/// The catalogue file of `dir` (or `db`), which must exist; otherwise says how to make one.
fn existing_catalogue(dir: &Path, db: Option<&Path>) -> anyhow::Result<PathBuf> {
    let (path, _) = Store::locate(dir, db, false);
    if !path.exists() {
        return Err(UsageError(format!(
            "no catalogue at {}; run `assay scan {}` first",
            path.display(),
            dir.display()
        ))
        .into());
    }
    Ok(path)
}

/// Opens the catalogue of `dir` for writing, or says how to make one.
pub fn open_catalogue(dir: &Path, db: Option<&Path>) -> anyhow::Result<Store> {
    let path = existing_catalogue(dir, db)?;
    Store::open(&path).with_context(|| format!("cannot open {}", path.display()))
}

/// Opens the catalogue of `dir` for a command that only reads (works on read-only media).
pub fn open_catalogue_read_only(dir: &Path, db: Option<&Path>) -> anyhow::Result<Store> {
    let path = existing_catalogue(dir, db)?;
    Store::open_for_reading(&path).with_context(|| format!("cannot open {}", path.display()))
}

pub fn run(args: &LabelArgs) -> anyhow::Result<u8> {
    match &args.action {
        LabelAction::Import(a) => {
            let code = import(a)?;
            #[cfg(feature = "team")]
            super::team::sync_if_joined(&a.dir, a.db.as_deref());
            Ok(code)
        }
        LabelAction::Export(a) => {
            #[cfg(feature = "team")]
            super::team::sync_if_joined(&a.dir, a.db.as_deref());
            export(a)
        }
    }
}

/// Longest line read from a label file; longer lines are reported and skipped unread.
const MAX_LINE_BYTES: usize = 1 << 20;

/// Reads the next line (without its `\n` / `\r\n`) into `buf`, keeping at most
/// `MAX_LINE_BYTES + 1` bytes of it. Returns the line's full length, or `None` at the end.
fn next_line(r: &mut impl std::io::BufRead, buf: &mut Vec<u8>) -> std::io::Result<Option<usize>> {
    buf.clear();
    let mut total = 0usize;
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            return Ok((total > 0).then_some(total));
        }
        let (part, found) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (&chunk[..i], true),
            None => (chunk, false),
        };
        let room = (MAX_LINE_BYTES + 1).saturating_sub(buf.len());
        buf.extend_from_slice(&part[..part.len().min(room)]);
        total += part.len();
        let used = part.len() + usize::from(found);
        r.consume(used);
        if found {
            if buf.last() == Some(&b'\r') && total <= MAX_LINE_BYTES {
                buf.pop();
            }
            return Ok(Some(total.max(1)));
        }
    }
}

fn import(a: &LabelFileArgs) -> anyhow::Result<u8> {
    use super::term::escape;
    let mut store = open_catalogue(&a.dir, a.db.as_deref())?;
    let paths = store.path_hashes()?;
    let aliases = store.hash_aliases()?;
    let file = std::fs::File::open(&a.file)
        .with_context(|| format!("cannot open {}", a.file.display()))?;
    let mut reader = std::io::BufReader::new(file);
    let mut events = Vec::new();
    let mut occurrences = human::Occurrences::default();
    let mut rejected = 0u64;
    let mut buf = Vec::new();
    let mut n = 0usize;
    let mut reject = |n: usize, why: &str| {
        rejected += 1;
        eprintln!("line {n}: {}", escape(why));
    };
    while let Some(len) = next_line(&mut reader, &mut buf)
        .with_context(|| format!("cannot read {}", a.file.display()))?
    {
        n += 1;
        if len > MAX_LINE_BYTES {
            reject(
                n,
                &format!("{len} bytes long (at most {MAX_LINE_BYTES}); skipped"),
            );
            continue;
        }
        let mut bytes = buf.as_slice();
        // A UTF-8 byte-order mark (Windows editors) before the first line.
        if n == 1 {
            bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        }
        let line = match std::str::from_utf8(bytes) {
            Ok(l) => l,
            Err(e) => {
                reject(
                    n,
                    &format!("not valid UTF-8 (byte {} of the line)", e.valid_up_to() + 1),
                );
                continue;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        match human::parse_line_aliased(line, &paths, &aliases) {
            Ok(mut v) => {
                let k = occurrences.identify(&mut v);
                if let Some(old) = human::legacy_uid(&v, k)
                    && store.label_event_time(&old)? == v.time
                {
                    v.uid = old; // exported before events carried their id: the same event
                }
                events.push(NewLabelEvent {
                    uid: v.uid,
                    time: v.time,
                    rater: v.rater,
                    session: v.session,
                    protocol: v.protocol,
                    payload: serde_json::to_string(&v.payload)?,
                });
            }
            Err(reason) => reject(n, &reason),
        }
    }
    let inserted = store.append_label_events(&events)?;
    let new = inserted.iter().filter(|b| **b).count();
    println!(
        "imported {new} events, {} already present, {rejected} lines rejected ({})",
        inserted.len() - new,
        a.file.display()
    );
    Ok(if rejected > 0 { EXIT_PARTIAL } else { 0 })
}

fn export(a: &LabelFileArgs) -> anyhow::Result<u8> {
    let store = open_catalogue_read_only(&a.dir, a.db.as_deref())?;
    let mut out: Box<dyn std::io::Write> = if a.file.as_os_str() == "-" {
        Box::new(std::io::BufWriter::new(std::io::stdout().lock()))
    } else {
        Box::new(std::io::BufWriter::new(
            std::fs::File::create(&a.file)
                .with_context(|| format!("cannot create {}", a.file.display()))?,
        ))
    };
    let mut n = 0;
    for e in store.label_events()? {
        let payload: human::Payload = serde_json::from_str(&e.payload)
            .with_context(|| format!("label event {} has an unreadable payload", e.id))?;
        let protocol = e
            .protocol
            .parse()
            .with_context(|| format!("label event {} has an unreadable protocol", e.id))?;
        let line = human::export_line(
            e.uid.as_deref(),
            &e.time,
            &e.rater,
            &e.session,
            protocol,
            &payload,
        );
        serde_json::to_writer(&mut out, &line)?;
        writeln!(out)?;
        n += 1;
    }
    out.flush()?;
    if a.file.as_os_str() != "-" {
        eprintln!("exported {n} events to {}", a.file.display());
    }
    Ok(0)
}
