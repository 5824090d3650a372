//! A fuzz harness that runs on stable Rust: every parser of untrusted input is fed inputs made
//! by a seeded mutator from real seeds (the shared fixtures, the metadata samples, built-in
//! texts), and any panic is caught (`catch_unwind`) and reported with the input that caused it.
//!
//! - **Targets** ([`targets`](mod@targets)): `metadata` (every carrier parser, container facts, stealth),
//!   `decode` (format sniffing, header probe, pixel-limited decoding, JPEG completeness),
//!   `expr` (the `--where` / gate / filter-box language), `policy` (TOML policy → validated
//!   plan), `labels` (JSON-lines label events) and `npy` (`.npy` and CSV feature matrices).
//! - **Mutator** ([`mutate`]): 1–4 of byte flips, interesting bytes, truncation, splices from
//!   another seed, duplicated or inserted runs, length-field inflation (big- and little-endian
//!   32-bit fields, PNG chunk lengths), deep nesting (`(`, `not (`, `[`, `{`) and dictionary
//!   tokens for the text targets. Case `i` of a run with seed `s` is a pure function of
//!   `(target, s, i)`, so every finding replays exactly (`--seed S --from I --cases 1`).
//! - **Runs**: [`run_cases`] in-process (the integration test: a few thousand cases), and
//!   `assay bench fuzz --seconds N [--target T]`, which runs chunks of cases in child processes
//!   so that a crash the process cannot catch (a stack overflow, an allocation failure) is
//!   isolated by bisection to the one case, saved, and reported.

pub mod targets;

use std::time::{Duration, Instant};

use crate::ranking::rng::Rng;
pub use targets::{Seeds, Target, targets};

/// One fuzz input that broke a target.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Finding {
    pub target: String,
    pub seed: u64,
    /// Case number: with `seed`, it regenerates `input`.
    pub case: u64,
    /// The panic message, "crashed: …" for a process crash, or "slow: …".
    pub message: String,
    pub input_len: usize,
    /// Hex of the first bytes (the whole input is saved by `assay bench fuzz --out`).
    pub input_head: String,
}

/// Executions and findings of one target.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct TargetReport {
    pub target: String,
    pub executions: u64,
    pub findings: Vec<Finding>,
    pub seconds: f64,
    /// The slowest case (ms) and its number.
    pub slowest_ms: f64,
    pub slowest_case: u64,
}

/// Cases that take longer than this are reported as findings (a parser must stay fast on any
/// input).
pub const SLOW_CASE: Duration = Duration::from_secs(2);

fn rng_for(target: &str, seed: u64, case: u64) -> Rng {
    let t = xxhash_rust::xxh3::xxh3_64(target.as_bytes());
    Rng::new(seed ^ t.rotate_left(17) ^ case.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Interesting 32-bit values for length fields.
const BIG: &[u32] = &[
    0,
    1,
    0x7F,
    0xFF,
    0xFFFF,
    0x10000,
    0x7FFF_FFFF,
    0x8000_0000,
    0xFFFF_FFFE,
    0xFFFF_FFFF,
];

/// Tokens spliced into text inputs.
const DICT: &[&str] = &[
    "(",
    ")",
    "not ",
    " and ",
    " or ",
    " is null",
    " is not null",
    "'",
    "\"",
    "\\",
    "~",
    "<=",
    "!=",
    "1e308",
    "-1e308",
    "NaN",
    "inf",
    "-0",
    "0x10",
    "\u{0}",
    "\u{1b}[2J",
    "\u{feff}",
    "\u{202e}",
    "é",
    "𝕏",
    "\n",
    "\r\n",
    "\t",
    "[",
    "]",
    "{",
    "}",
    "[[gates]]",
    "[bands]",
    "when = ",
    "= ",
    "\"\"\"",
    ",",
    ":",
    "null",
    "true",
    "1e999",
    "[1,",
    "{\"a\":",
    "#",
];

/// Deep-nesting openers (and their closers) for the text targets.
const NEST: &[(&str, &str)] = &[
    ("(", ")"),
    ("not (", ")"),
    ("not ", ""),
    ("[", "]"),
    ("{\"a\":", "}"),
    ("a = [", "]"),
    ("a = {b = ", "}"),
];

fn pick<'a, T>(rng: &mut Rng, v: &'a [T]) -> Option<&'a T> {
    v.get(rng.below(v.len()))
}

/// Applies 1–4 random mutations to `input` (`others`: material for splices). `text` enables
/// the nesting and dictionary mutations. The result is capped at `max_len` bytes.
pub fn mutate(
    rng: &mut Rng,
    input: &[u8],
    others: &[Vec<u8>],
    text: bool,
    max_len: usize,
) -> Vec<u8> {
    let mut b = input.to_vec();
    let n_ops = 1 + rng.below(4);
    for _ in 0..n_ops {
        let kinds = if text { 11 } else { 9 };
        match rng.below(kinds) {
            // Bit flips.
            0 => {
                for _ in 0..=rng.below(8) {
                    if b.is_empty() {
                        break;
                    }
                    let i = rng.below(b.len());
                    b[i] ^= 1 << rng.below(8);
                }
            }
            // Interesting bytes.
            1 => {
                if !b.is_empty() {
                    let i = rng.below(b.len());
                    b[i] = *pick(rng, &[0u8, 0xFF, 0x7F, 0x80, b'0', b'\n']).unwrap_or(&0);
                }
            }
            // Truncation.
            2 => {
                let keep = rng.below(b.len() + 1);
                b.truncate(keep);
            }
            // Splice a chunk of another seed in (overwrite or insert).
            3 => {
                if let Some(o) = pick(rng, others).filter(|o| !o.is_empty()) {
                    let start = rng.below(o.len());
                    let len = 1 + rng.below((o.len() - start).min(4096));
                    let chunk = &o[start..start + len];
                    let at = rng.below(b.len() + 1);
                    if rng.below(2) == 0 {
                        let end = (at + len).min(b.len());
                        b.splice(at..end, chunk.iter().copied());
                    } else {
                        b.splice(at..at, chunk.iter().copied());
                    }
                }
            }
            // Duplicate a run (repeated chunks, loops in chained structures).
            4 => {
                if !b.is_empty() {
                    let start = rng.below(b.len());
                    let len = 1 + rng.below((b.len() - start).min(256));
                    let chunk = b[start..start + len].to_vec();
                    let times = 1 + rng.below(64);
                    let at = rng.below(b.len() + 1);
                    let rep: Vec<u8> = chunk.iter().copied().cycle().take(len * times).collect();
                    b.splice(at..at, rep);
                }
            }
            // Random bytes inserted.
            5 => {
                let n = 1 + rng.below(32);
                let at = rng.below(b.len() + 1);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
                b.splice(at..at, bytes);
            }
            // Length-field inflation: a 32-bit field anywhere, in either byte order.
            6 => {
                if b.len() >= 4 {
                    let at = rng.below(b.len() - 3);
                    let v = *pick(rng, BIG).unwrap_or(&0xFFFF_FFFF);
                    let bytes = if rng.below(2) == 0 {
                        v.to_be_bytes()
                    } else {
                        v.to_le_bytes()
                    };
                    b[at..at + 4].copy_from_slice(&bytes);
                }
            }
            // PNG chunk lengths (the structure the fixtures use most).
            7 => {
                let offs = png_length_fields(&b);
                if let Some(&at) = pick(rng, &offs) {
                    let v = *pick(rng, BIG).unwrap_or(&0xFFFF_FFFF);
                    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
                }
            }
            // Small arithmetic on a byte (off-by-one lengths).
            8 => {
                if !b.is_empty() {
                    let i = rng.below(b.len());
                    let d = [1u8, 2, 4, 16, 255, 254][rng.below(6)];
                    b[i] = b[i].wrapping_add(d);
                }
            }
            // Deep nesting.
            9 => {
                let (open, close) = *pick(rng, NEST).unwrap_or(&("(", ")"));
                let depth = [10, 100, 1_000, 20_000][rng.below(4)];
                let at = rng.below(b.len() + 1);
                let mut inner = open.repeat(depth).into_bytes();
                inner.extend_from_slice(b.get(at..).unwrap_or_default());
                inner.extend_from_slice(close.repeat(depth).as_bytes());
                b.truncate(at);
                b.extend(inner);
            }
            // Dictionary tokens.
            _ => {
                let tok = pick(rng, DICT).copied().unwrap_or("(");
                let at = rng.below(b.len() + 1);
                b.splice(at..at, tok.bytes());
            }
        }
        b.truncate(max_len);
    }
    b
}

/// Offsets of the length fields of the PNG chunks in `b` (none when it is not a PNG).
fn png_length_fields(b: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    if !b.starts_with(b"\x89PNG\r\n\x1a\n") {
        return out;
    }
    let mut pos = 8usize;
    while pos + 8 <= b.len() && out.len() < 64 {
        out.push(pos);
        let len = u32::from_be_bytes([b[pos], b[pos + 1], b[pos + 2], b[pos + 3]]) as usize;
        match pos.checked_add(12).and_then(|p| p.checked_add(len)) {
            Some(next) if next > pos => pos = next,
            _ => break,
        }
    }
    out
}

/// Generates case `case` of `target` for `seed`: a mutated seed input (every 16th case an
/// unmutated seed, so the seeds themselves are run too).
pub fn case_input(target: &Target, seeds: &[Vec<u8>], seed: u64, case: u64) -> Vec<u8> {
    let mut rng = rng_for(target.name, seed, case);
    let Some(base) = pick(&mut rng, seeds) else {
        return Vec::new();
    };
    if case.is_multiple_of(16) {
        return base.clone();
    }
    mutate(&mut rng, base, seeds, target.text, target.max_len)
}

thread_local! {
    /// Set while a fuzz case runs on this thread: its panic message is recorded, not printed.
    static IN_CASE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static PANIC_MESSAGE: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Installs (once) a panic hook that records the message and location of panics inside fuzz
/// cases and hands every other panic to the hook that was there before.
fn install_quiet_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_CASE.with(std::cell::Cell::get) {
                previous(info);
                return;
            }
            let payload = info.payload();
            let msg = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_string()))
                .unwrap_or_else(|| "panic".to_string());
            let at = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()))
                .unwrap_or_default();
            PANIC_MESSAGE.with(|m| *m.borrow_mut() = Some(format!("{msg}{at}")));
        }));
    });
}

/// Runs `f`, returning the panic message (with its location) if it panicked.
fn catch(f: impl FnOnce()) -> Option<String> {
    install_quiet_hook();
    IN_CASE.with(|c| c.set(true));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    IN_CASE.with(|c| c.set(false));
    match r {
        Ok(()) => None,
        Err(payload) => {
            let recorded = PANIC_MESSAGE.with(|m| m.borrow_mut().take());
            Some(recorded.unwrap_or_else(|| {
                payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_string()))
                    .unwrap_or_else(|| "panic".to_string())
            }))
        }
    }
}

fn hex_head(b: &[u8]) -> String {
    b.iter().take(48).map(|x| format!("{x:02x}")).collect()
}

/// Runs cases `from..from + count` of `target` in this process (panics caught). `stop` is
/// asked between cases (a time budget).
pub fn run_cases(
    target: &Target,
    seeds: &[Vec<u8>],
    seed: u64,
    from: u64,
    count: u64,
    mut stop: impl FnMut() -> bool,
) -> TargetReport {
    let start = Instant::now();
    let mut rep = TargetReport {
        target: target.name.to_string(),
        ..Default::default()
    };
    for case in from..from.saturating_add(count) {
        if stop() {
            break;
        }
        let input = case_input(target, seeds, seed, case);
        let t0 = Instant::now();
        let panicked = catch(|| (target.run)(&input));
        let took = t0.elapsed();
        rep.executions += 1;
        let ms = took.as_secs_f64() * 1e3;
        if ms > rep.slowest_ms {
            rep.slowest_ms = ms;
            rep.slowest_case = case;
        }
        let message = match panicked {
            Some(m) => Some(m),
            None if took > SLOW_CASE => Some(format!("slow: {ms:.0} ms for one input")),
            None => None,
        };
        if let Some(message) = message {
            rep.findings.push(Finding {
                target: target.name.to_string(),
                seed,
                case,
                message,
                input_len: input.len(),
                input_head: hex_head(&input),
            });
        }
    }
    rep.seconds = start.elapsed().as_secs_f64();
    rep
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases_replay_exactly_and_mutations_stay_bounded() {
        let seeds = vec![b"blur < 3 and tool = 'x'".to_vec(), b"(a > 1)".to_vec()];
        let t = targets()
            .into_iter()
            .find(|t| t.name == "expr")
            .expect("expr target");
        for case in 0..200 {
            let a = case_input(&t, &seeds, 7, case);
            let b = case_input(&t, &seeds, 7, case);
            assert_eq!(a, b, "case {case} is deterministic");
            assert!(a.len() <= t.max_len);
        }
        assert_ne!(
            (0..50)
                .map(|c| case_input(&t, &seeds, 7, c))
                .collect::<Vec<_>>(),
            (0..50)
                .map(|c| case_input(&t, &seeds, 8, c))
                .collect::<Vec<_>>(),
            "another seed, other cases"
        );
    }

    #[test]
    fn panics_are_caught_and_reported_with_the_case() {
        fn boom(b: &[u8]) {
            assert!(b.len() != 3, "three bytes");
        }
        let t = Target {
            name: "test",
            text: false,
            max_len: 8,
            run: boom,
            seeds: |_| Vec::new(),
        };
        let seeds = vec![vec![1u8, 2, 3], vec![1u8, 2, 3, 4]];
        let rep = run_cases(&t, &seeds, 1, 0, 64, || false);
        assert_eq!(rep.executions, 64);
        assert!(!rep.findings.is_empty());
        assert!(
            rep.findings
                .iter()
                .all(|f| f.input_len == 3 && f.message.contains("three bytes")),
            "{:?}",
            rep.findings
        );
        let f = &rep.findings[0];
        assert_eq!(case_input(&t, &seeds, f.seed, f.case).len(), 3, "replays");
    }

    #[test]
    fn png_length_fields_are_found() {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        for (kind, data) in [(b"IHDR", vec![0u8; 13]), (b"IEND", vec![])] {
            png.extend((data.len() as u32).to_be_bytes());
            png.extend(kind);
            png.extend(&data);
            png.extend([0u8; 4]);
        }
        assert_eq!(png_length_fields(&png), vec![8, 33]);
        assert!(png_length_fields(b"not a png").is_empty());
    }
}
