//! `assay label import|export DIR --file F.jsonl`: share raters' label events between machines.
//! Import validates each line against the collection, reports bad lines by number and skips only
//! them; importing the same events twice adds nothing, while repeated identical lines of one
//! file are all kept (see `human` on event identity). Export writes each event's id.

use std::io::{BufRead as _, Write as _};
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

/// Opens the catalogue of `dir`, or says how to make one.
pub fn open_catalogue(dir: &Path, db: Option<&Path>) -> anyhow::Result<Store> {
    let (path, _) = Store::locate(dir, db, false);
    if !path.exists() {
        return Err(UsageError(format!(
            "no catalogue at {}; run `assay scan {}` first",
            path.display(),
            dir.display()
        ))
        .into());
    }
    Store::open(&path).with_context(|| format!("cannot open {}", path.display()))
}

pub fn run(args: &LabelArgs) -> anyhow::Result<u8> {
    match &args.action {
        LabelAction::Import(a) => import(a),
        LabelAction::Export(a) => export(a),
    }
}

fn import(a: &LabelFileArgs) -> anyhow::Result<u8> {
    let mut store = open_catalogue(&a.dir, a.db.as_deref())?;
    let paths = store.path_hashes()?;
    let file = std::fs::File::open(&a.file)
        .with_context(|| format!("cannot open {}", a.file.display()))?;
    let mut events = Vec::new();
    let mut occurrences = human::Occurrences::default();
    let mut rejected = 0u64;
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {}", a.file.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        match human::parse_line(&line, &paths) {
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
            Err(reason) => {
                rejected += 1;
                eprintln!("line {}: {reason}", i + 1);
            }
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
    let store = open_catalogue(&a.dir, a.db.as_deref())?;
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
        let line = human::export_line(
            e.uid.as_deref(),
            &e.time,
            &e.rater,
            &e.session,
            &e.protocol,
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
