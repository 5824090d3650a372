//! Signals imported from outside judges (`assay signals import`): scores computed elsewhere
//! (VQAScore, HPSv3, Q-Align, an in-house model) join the registry as [`Group::Imported`]
//! number signals, so that tables, filters, sorting, policies, the Pareto view, the learned
//! scorer and exports use them like any built-in signal.
//!
//! The catalogue keeps each imported signal's definition and provenance (`external_signals`,
//! see `store::schema`); opening a catalogue registers its definitions here ([`register`]), and
//! [`super::registry`] / [`super::get`] return the built-in signals followed by every signal
//! registered in this process (a later definition of the same key replaces the earlier one; a
//! built-in key is never replaced). Values are stored in `signals` with the producer
//! `ext:<producer>@<version>` ([`producer`]). The registry is process-wide and only grows:
//! consumers stay pure (no I/O), they read definitions, never the catalogue.

use std::collections::BTreeSet;
use std::sync::{Mutex, RwLock};

use super::{Direction, Group, Kind, REGISTRY, SignalDef};

/// Prefix of the producer of every imported value.
pub const PRODUCER_PREFIX: &str = "ext:";

/// The stored producer of an imported signal: `ext:<producer>@<version>`.
pub fn producer(name: &str, version: &str) -> String {
    format!("{PRODUCER_PREFIX}{name}@{version}")
}

/// The direction's word in files and flags: `higher`, `lower` or `neutral`.
pub fn direction_word(d: Direction) -> &'static str {
    match d {
        Direction::HigherIsBetter => "higher",
        Direction::LowerIsBetter => "lower",
        Direction::Neutral => "neutral",
    }
}

/// The direction named by [`direction_word`]'s word.
pub fn parse_direction(word: &str) -> Option<Direction> {
    match word {
        "higher" => Some(Direction::HigherIsBetter),
        "lower" => Some(Direction::LowerIsBetter),
        "neutral" => Some(Direction::Neutral),
        _ => None,
    }
}

/// Why a name cannot be an imported signal's key (`None`: it can). Keys are what `--where`
/// and `--sort` read as a column name: ASCII letters, digits and `_`, starting with a letter,
/// at most 64 characters; built-in signal keys are refused.
pub fn key_problem(key: &str) -> Option<String> {
    if super::is_builtin(key) {
        return Some(format!(
            "`{key}` is a built-in signal; an import cannot replace it (choose another --name)"
        ));
    }
    let ok_chars = key
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    let first_letter = key.chars().next().is_some_and(|c| c.is_ascii_lowercase());
    if key.is_empty() || key.len() > 64 || !ok_chars || !first_letter {
        return Some(format!(
            "`{key}` is not a valid signal key: use lower-case letters, digits and `_`, \
             starting with a letter (at most 64 characters)"
        ));
    }
    None
}

/// The definition of one imported signal, as the catalogue records it.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedDef {
    pub key: String,
    pub label: String,
    pub direction: Direction,
    /// The stored producer, `ext:<producer>@<version>`.
    pub producer: String,
    pub description: String,
}

/// Built-in signals followed by the registered imports (`None` until one is registered).
static COMBINED: RwLock<Option<&'static [SignalDef]>> = RwLock::new(None);
/// The texts of registered definitions, leaked once each (definitions are few).
static TEXTS: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());

/// The registry with imports, once any was registered.
pub(super) fn current() -> Option<&'static [SignalDef]> {
    *COMBINED.read().ok()?
}

fn leak(s: &str) -> &'static str {
    let Ok(mut texts) = TEXTS.lock() else {
        return Box::leak(s.to_string().into_boxed_str());
    };
    if let Some(t) = texts.get(s) {
        return t;
    }
    let t: &'static str = Box::leak(s.to_string().into_boxed_str());
    texts.insert(t);
    t
}

/// The registry entry of an imported definition.
fn signal_def(d: &ImportedDef) -> SignalDef {
    SignalDef {
        key: leak(&d.key),
        label: leak(&d.label),
        unit: "score",
        direction: d.direction,
        range: (None, None),
        group: Group::Imported,
        kind: Kind::Number,
        producer: leak(&d.producer),
        description: leak(&d.description),
    }
}

/// Adds (or updates) imported definitions in the process-wide registry. Built-in keys are
/// skipped. Registering what is already registered changes nothing.
pub fn register(defs: &[ImportedDef]) {
    if defs.is_empty() {
        return;
    }
    let Ok(mut slot) = COMBINED.write() else {
        return;
    };
    let before: &'static [SignalDef] = slot.unwrap_or(REGISTRY);
    let mut all = before.to_vec();
    for d in defs.iter().filter(|d| !super::is_builtin(&d.key)) {
        let def = signal_def(d);
        match all.iter_mut().find(|x| x.key == def.key) {
            Some(x) => *x = def,
            None => all.push(def),
        }
    }
    if all.as_slice() != before {
        *slot = Some(Box::leak(all.into_boxed_slice()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imported_definitions_join_the_registry_after_the_built_in_ones() {
        let def = ImportedDef {
            key: "unit_test_judge".into(),
            label: "Unit-test judge".into(),
            direction: Direction::LowerIsBetter,
            producer: producer("judge", "2"),
            description: "test".into(),
        };
        register(std::slice::from_ref(&def));
        register(std::slice::from_ref(&def));
        let reg = super::super::registry();
        assert_eq!(&reg[..REGISTRY.len()], REGISTRY);
        let d = super::super::get("unit_test_judge").unwrap();
        assert_eq!(d.group, Group::Imported);
        assert_eq!(d.kind, Kind::Number);
        assert_eq!(d.direction, Direction::LowerIsBetter);
        assert_eq!(d.producer, "ext:judge@2");
        assert_eq!(reg.iter().filter(|d| d.key == "unit_test_judge").count(), 1);
        // A built-in key is never replaced.
        register(&[ImportedDef {
            key: "aesthetic".into(),
            ..def
        }]);
        assert_eq!(
            super::super::get("aesthetic").unwrap().group,
            Group::Aesthetic
        );
    }

    #[test]
    fn keys_must_be_column_names_and_not_built_in() {
        assert!(key_problem("vqascore").is_none());
        assert!(key_problem("hps_v3").is_none());
        assert!(key_problem("aesthetic").unwrap().contains("built-in"));
        for bad in ["", "3d", "has space", "Upper", "a-b", &"x".repeat(65)] {
            assert!(key_problem(bad).is_some(), "{bad}");
        }
        assert_eq!(parse_direction("lower"), Some(Direction::LowerIsBetter));
        assert_eq!(direction_word(Direction::HigherIsBetter), "higher");
        assert_eq!(parse_direction("up"), None);
    }
}
