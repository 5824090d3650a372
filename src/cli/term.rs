//! Terminal safety for human-readable output: control characters in file names, prompts and
//! reasons are shown escaped (a name with `ESC [2J` must not clear the screen), and a closed
//! stdout (`assay … | head`) ends the command quietly instead of panicking.
//!
//! Machine formats (CSV, JSON, JSON lines) written to a pipe or a file stay byte-exact; JSON
//! escapes control characters itself, and CSV shown on a terminal is escaped like text.

use std::borrow::Cow;

/// Whether `c` must not reach a terminal raw: C0 controls (tab and newline included: one value
/// stays on one line), DEL, C1 controls (U+0080–U+009F, e.g. the 8-bit CSI U+009B), and the
/// bidirectional overrides and isolates that reorder what is shown (U+202A–U+202E,
/// U+2066–U+2069).
fn is_unsafe(c: char) -> bool {
    let u = u32::from(c);
    u < 0x20
        || (0x7f..=0x9f).contains(&u)
        || (0x202a..=0x202e).contains(&u)
        || (0x2066..=0x2069).contains(&u)
}

/// `s` with every unsafe character written as an escape (`\x1b`, `\n`, `\u{202e}`); borrowed
/// when there is none.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe(c) && u32::from(c) < 0x80 => {
                out.push_str(&format!("\\x{:02x}", u32::from(c)));
            }
            c if is_unsafe(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Whether a panic message is the standard library's "failed printing to stdout: Broken pipe"
/// (`println!` on a closed pipe) or the same for stderr.
fn is_broken_pipe_panic(msg: &str) -> bool {
    (msg.starts_with("failed printing to stdout") || msg.starts_with("failed printing to stderr"))
        && (msg.contains("Broken pipe") || msg.contains("os error 32"))
}

/// Makes a `println!` into a closed pipe end the process quietly with exit code 0, as a write
/// error into a closed pipe does through [`super::run`] (ripgrep's convention). Any other panic
/// goes to the previous hook.
pub fn exit_quietly_on_broken_pipe() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if is_broken_pipe_panic(msg) {
            std::process::exit(0);
        }
        previous(info);
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert!(matches!(escape("plain/path ü.png"), Cow::Borrowed(_)));
        assert_eq!(escape("a\x1b[2Jb.png"), "a\\x1b[2Jb.png");
        assert_eq!(escape("x\ny\tz\r"), "x\\ny\\tz\\r");
        assert_eq!(escape("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(escape("abc\u{202e}gnp.exe"), "abc\\u{202e}gnp.exe");
        assert_eq!(escape("del\x7f"), "del\\x7f");
    }

    #[test]
    fn broken_pipe_messages() {
        assert!(is_broken_pipe_panic(
            "failed printing to stdout: Broken pipe (os error 32)"
        ));
        assert!(!is_broken_pipe_panic("index out of bounds"));
        assert!(!is_broken_pipe_panic(
            "failed printing to stdout: No space left on device (os error 28)"
        ));
    }
}
