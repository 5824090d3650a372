//! `assay repair DIR`: rebuild a damaged catalogue from every readable row and the newest
//! healthy backup (the damaged file is kept beside it); `--restore [FILE]` puts a backup in
//! place instead; `--list` shows the backups. See `store::health`.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::term::escape;
use super::{ListFormat, UsageError};
use crate::store::{Store, health};

#[derive(Debug, clap::Args)]
pub struct RepairArgs {
    /// Collection folder.
    pub dir: PathBuf,
    /// Database path (default DIR/.assay/assay.db).
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Put a backup in place of the catalogue (the newest, or `--from`); the current file is
    /// kept as `<db>.replaced-<time>`.
    #[arg(long, conflicts_with = "list")]
    pub restore: bool,
    /// The backup to restore (a file from `--list`).
    #[arg(long, requires = "restore")]
    pub from: Option<PathBuf>,
    /// List the backups (newest first) and check each.
    #[arg(long)]
    pub list: bool,
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
}

/// Runs `assay repair` (see the module docs).
pub fn run(a: &RepairArgs) -> anyhow::Result<u8> {
    let (db, _) = Store::locate(&a.dir, a.db.as_deref(), false);
    let backups = Store::list_backups(&db);
    if a.list {
        print_backups(&db, &backups, a.format)?;
        return Ok(0);
    }
    if a.restore {
        restore(a, &db, &backups)?;
        return Ok(0);
    }
    if !db.exists() && backups.is_empty() {
        return Err(UsageError(format!(
            "no catalogue at {} and no backups; nothing to repair",
            db.display()
        ))
        .into());
    }
    let Some(report) =
        health::repair(&db).with_context(|| format!("cannot repair {}", db.display()))?
    else {
        println!(
            "{} is healthy (quick_check ok); nothing to repair",
            escape(&db.display().to_string())
        );
        return Ok(0);
    };
    match a.format {
        ListFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        ListFormat::Text => print_repair(&report, &db, &a.dir),
    }
    Ok(0)
}

/// `--list`: every backup of `db` with its size and health (counts when healthy).
fn print_backups(db: &Path, backups: &[PathBuf], format: ListFormat) -> anyhow::Result<()> {
    let mut out = Vec::new();
    for b in backups {
        let size = std::fs::metadata(b).map_or(0, |m| m.len());
        let summary = Store::open_read_only(b).and_then(|s| {
            let bad = s.quick_check()?;
            Ok((
                bad.is_empty(),
                s.count("images")?,
                s.count("decisions")?,
                s.count("label_events")?,
            ))
        });
        out.push(match summary {
            Ok((ok, images, decisions, events)) => serde_json::json!({
                "path": b.display().to_string(), "bytes": size, "healthy": ok,
                "images": images, "decisions": decisions, "label_events": events,
            }),
            Err(e) => serde_json::json!({
                "path": b.display().to_string(), "bytes": size, "healthy": false,
                "error": e.to_string(),
            }),
        });
    }
    match format {
        ListFormat::Json => println!("{}", serde_json::to_string_pretty(&out)?),
        ListFormat::Text => {
            if out.is_empty() {
                println!(
                    "no backups of {} yet (a scan makes one before it writes)",
                    escape(&db.display().to_string())
                );
            }
            for b in &out {
                println!(
                    "{}  {} bytes  {}",
                    escape(b["path"].as_str().unwrap_or("")),
                    b["bytes"],
                    if b["healthy"] == true {
                        format!(
                            "{} images, {} decisions, {} label events",
                            b["images"], b["decisions"], b["label_events"]
                        )
                    } else {
                        format!(
                            "DAMAGED {}",
                            escape(b["error"].as_str().unwrap_or("(quick_check failed)"))
                        )
                    }
                );
            }
        }
    }
    Ok(())
}

/// `--restore [--from FILE]`: puts the chosen (or newest) backup in place of `db`.
fn restore(a: &RepairArgs, db: &Path, backups: &[PathBuf]) -> anyhow::Result<()> {
    let backup = if let Some(chosen) = &a.from {
        chosen.clone()
    } else {
        backups.first().cloned().ok_or_else(|| {
            UsageError(format!(
                "no backups of {} to restore (looked in {})",
                db.display(),
                Store::backups_dir(db).display()
            ))
        })?
    };
    let aside = health::restore(db, &backup)
        .with_context(|| format!("cannot restore {}", backup.display()))?;
    let restored = Store::open_read_only(db)?;
    let (events, decisions) = (
        restored.count("label_events")?,
        restored.count("decisions")?,
    );
    println!(
        "restored {} from {} ({decisions} decisions, {events} label events){}",
        escape(&db.display().to_string()),
        escape(&backup.display().to_string()),
        aside.map_or(String::new(), |p| format!(
            "; the previous file is kept as {}",
            escape(&p.display().to_string())
        ))
    );
    Ok(())
}

/// The text report of a repair of `db` in collection `dir`.
fn print_repair(report: &health::RepairReport, db: &Path, dir: &Path) {
    println!("repaired {}", escape(&db.display().to_string()));
    if let Some(why) = &report.unreadable {
        println!(
            "  the damaged file could not be read at all ({}); rebuilt from the backup",
            escape(why)
        );
    }
    for (t, r) in &report.tables {
        if r.salvaged + r.from_backup + r.unreadable_ranges == 0 {
            continue;
        }
        println!(
            "  {t:<13} {:>8} rows read, {:>6} only in the backup{}",
            r.salvaged,
            r.from_backup,
            if r.unreadable_ranges > 0 {
                format!(", {} unreadable stretch(es) skipped", r.unreadable_ranges)
            } else {
                String::new()
            }
        );
    }
    match &report.backup {
        Some(b) => println!(
            "  gaps filled from the backup {}",
            escape(&b.display().to_string())
        ),
        None => println!("  no healthy backup was available to fill gaps"),
    }
    if let Some(p) = &report.damaged_copy {
        println!(
            "  the damaged file is kept as {}",
            escape(&p.display().to_string())
        );
    }
    if report.rescan_needed {
        println!(
            "  signals and metadata will be recomputed: run `assay scan {}`",
            escape(&dir.display().to_string())
        );
    }
}
