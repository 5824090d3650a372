//! The one command table: every keyboard command of the workbench with its keys, the views it
//! applies in, its menu label and its line in the help overlay.
//!
//! Three places read it: the key handler (`keyboard.rs`) maps the frame's key presses to
//! [`Command`]s through [`fired`]; the menus (`panels/top_bar.rs`) take their labels and key text
//! from [`spec`]; the help overlay (`panels/help.rs`) lists [`help_rows`]. The README's key table
//! documents the same keys. The labeling trial's answer keys depend on the protocol and the number
//! of images shown, so `labeling::keyboard` matches them itself; they have rows here (without
//! [`Command`]) only for the help overlay, as do the mouse's wheel zoom and drag pan (`zoom.rs`).

use eframe::egui::{InputState, Key, Modifiers};

use super::ViewMode;

/// A command run by a key or a menu.
///
/// Declared in the order [`fired`] matches keys within one frame: `Ctrl+Z` matches a
/// `Ctrl+Shift+Z` press too (egui ignores an extra Shift), so redo is matched before undo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Command {
    /// Open the labeling view (study setup, trials, results).
    Labeling,
    Redo,
    Undo,
    /// Open the export dialog.
    Export,
    Pick,
    Reject,
    Unflag,
    Review,
    /// Set the rating (0 clears it).
    Rating(u8),
    /// Show / hide the help overlay.
    Help,
    /// Close the help overlay, else back to the grid.
    Escape,
    Grid,
    /// The detail view (Space in the detail view: back to the grid).
    Detail,
    Compare,
    Pareto,
    Monitor,
    /// Toggle fit / 100 % in the views with a zoom.
    Zoom,
    Faces,
    Inspector,
    Right,
    Left,
    Down,
    Up,
    Home,
    End,
    SelectAll,
    /// The selection-policy editor (menu only).
    Policy,
    /// The preference-scorer view (menu only).
    Scorers,
}

impl Command {
    /// The command that opens a view.
    pub fn for_view(mode: ViewMode) -> Command {
        match mode {
            ViewMode::Grid => Command::Grid,
            ViewMode::Detail => Command::Detail,
            ViewMode::Compare => Command::Compare,
            ViewMode::Label => Command::Labeling,
            ViewMode::Pareto => Command::Pareto,
            ViewMode::Policy => Command::Policy,
            ViewMode::Scorers => Command::Scorers,
            ViewMode::Monitor => Command::Monitor,
        }
    }
}

/// The modifiers a key needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mods {
    /// Ctrl (Cmd on macOS); the press is consumed.
    Command,
    /// Ctrl+Shift (Cmd+Shift on macOS); the press is consumed.
    CommandShift,
    /// Neither Ctrl nor Alt held; Shift does not matter.
    Plain,
    /// Shift held, neither Ctrl nor Alt.
    Shift,
    /// Neither Ctrl, Alt nor Shift held.
    NoShift,
}

/// A key with its modifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chord {
    pub key: Key,
    pub mods: Mods,
}

impl Chord {
    /// Whether the chord was pressed this frame (consuming it when it needs Ctrl).
    fn pressed(self, i: &mut InputState) -> bool {
        let plain = !i.modifiers.command && !i.modifiers.alt;
        match self.mods {
            Mods::Command => i.consume_key(Modifiers::COMMAND, self.key),
            Mods::CommandShift => i.consume_key(Modifiers::COMMAND | Modifiers::SHIFT, self.key),
            Mods::Plain => plain && i.key_pressed(self.key),
            Mods::Shift => plain && i.modifiers.shift && i.key_pressed(self.key),
            Mods::NoShift => plain && !i.modifiers.shift && i.key_pressed(self.key),
        }
    }

    /// How the chord is written in menus: `Ctrl+Shift+Z`, `Space`, `?`.
    pub fn text(self) -> String {
        let prefix = match self.mods {
            Mods::Command => "Ctrl+",
            Mods::CommandShift => "Ctrl+Shift+",
            Mods::Shift => "Shift+",
            Mods::Plain | Mods::NoShift => "",
        };
        let key = match self.key {
            Key::Questionmark => "?",
            k => k.name(),
        };
        format!("{prefix}{key}")
    }
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct Shortcut {
    /// What the keys run; `None` for rows that only document keys handled elsewhere.
    pub command: Option<Command>,
    /// The keys that run it (any of them); the first is the one menus show.
    pub chords: &'static [Chord],
    /// The views where the keys work.
    pub modes: &'static [ViewMode],
    /// The menu label; empty when the command is in no menu.
    pub label: &'static str,
    /// The keys as the help overlay writes them.
    pub keys: &'static str,
    /// What the help overlay says; empty when the row before already covers this one.
    pub help: &'static str,
}

impl Shortcut {
    /// The key text a menu shows: the first chord, or nothing.
    pub fn menu_key(&self) -> String {
        self.chords.first().map_or_else(String::new, |c| c.text())
    }

    /// Gives the row a menu label.
    const fn menu(self, label: &'static str) -> Self {
        Shortcut { label, ..self }
    }
}

const fn plain(key: Key) -> Chord {
    Chord {
        key,
        mods: Mods::Plain,
    }
}

const fn with(mods: Mods, key: Key) -> Chord {
    Chord { key, mods }
}

/// A row for a command.
const fn cmd(
    command: Command,
    chords: &'static [Chord],
    modes: &'static [ViewMode],
    keys: &'static str,
    help: &'static str,
) -> Shortcut {
    Shortcut {
        command: Some(command),
        chords,
        modes,
        label: "",
        keys,
        help,
    }
}

/// A help-only row for keys handled elsewhere.
const fn note(modes: &'static [ViewMode], keys: &'static str, help: &'static str) -> Shortcut {
    Shortcut {
        command: None,
        chords: &[],
        modes,
        label: "",
        keys,
        help,
    }
}

use ViewMode::{Compare, Detail, Grid, Label, Monitor, Pareto, Policy, Scorers};

/// Every view.
const EVERYWHERE: &[ViewMode] = &[
    Grid, Detail, Compare, Label, Pareto, Policy, Scorers, Monitor,
];
/// Every view but labeling, which has its own keys.
const NOT_LABEL: &[ViewMode] = &[Grid, Detail, Compare, Pareto, Policy, Scorers, Monitor];
/// The views with a zoom (and the panels, where it changes the next view's zoom).
const NOT_GRID: &[ViewMode] = &[Detail, Compare, Pareto, Policy, Scorers, Monitor];
/// Where the cursor moves (compare uses the arrows to choose the focused image).
const NOT_COMPARE: &[ViewMode] = &[Grid, Detail, Pareto, Policy, Scorers, Monitor];
const ONLY_GRID: &[ViewMode] = &[Grid];
const ZOOMED: &[ViewMode] = &[Detail, Compare];
const LABELING: &[ViewMode] = &[Label];
/// Menu-only commands.
const NO_KEYS: &[ViewMode] = &[];

use Command as C;

/// The table, in the help overlay's order.
pub const TABLE: &[Shortcut] = &[
    cmd(C::Pick, &[plain(Key::P)], NOT_LABEL, "P", "pick (accept)"),
    cmd(C::Reject, &[plain(Key::X)], NOT_LABEL, "X", "reject"),
    cmd(C::Unflag, &[plain(Key::U)], NOT_LABEL, "U", "unflag"),
    cmd(
        C::Review,
        &[with(Mods::Shift, Key::R)],
        NOT_LABEL,
        "Shift+R",
        "send to review",
    ),
    cmd(
        C::Rating(0),
        &[plain(Key::Num0)],
        NOT_LABEL,
        "0–5",
        "rating (0 clears)",
    ),
    cmd(C::Rating(1), &[plain(Key::Num1)], NOT_LABEL, "1", ""),
    cmd(C::Rating(2), &[plain(Key::Num2)], NOT_LABEL, "2", ""),
    cmd(C::Rating(3), &[plain(Key::Num3)], NOT_LABEL, "3", ""),
    cmd(C::Rating(4), &[plain(Key::Num4)], NOT_LABEL, "4", ""),
    cmd(C::Rating(5), &[plain(Key::Num5)], NOT_LABEL, "5", ""),
    cmd(
        C::Right,
        &[plain(Key::ArrowRight)],
        NOT_LABEL,
        "arrows",
        "move (Shift extends the selection)",
    ),
    cmd(C::Left, &[plain(Key::ArrowLeft)], NOT_LABEL, "Left", ""),
    cmd(C::Down, &[plain(Key::ArrowDown)], ONLY_GRID, "Down", ""),
    cmd(C::Up, &[plain(Key::ArrowUp)], ONLY_GRID, "Up", ""),
    cmd(
        C::Home,
        &[plain(Key::Home)],
        NOT_COMPARE,
        "Home / End",
        "first / last",
    ),
    cmd(C::End, &[plain(Key::End)], NOT_COMPARE, "End", ""),
    cmd(
        C::SelectAll,
        &[with(Mods::Command, Key::A)],
        NOT_LABEL,
        "Ctrl+A",
        "select all shown",
    ),
    cmd(
        C::Detail,
        &[plain(Key::Space), plain(Key::Enter), plain(Key::E)],
        NOT_LABEL,
        "Space / Enter / E",
        "detail view (Space again: back)",
    )
    .menu("Detail"),
    cmd(
        C::Compare,
        &[plain(Key::C)],
        NOT_LABEL,
        "C",
        "compare the selection (2–4)",
    )
    .menu("Compare"),
    cmd(
        C::Pareto,
        &[plain(Key::V)],
        NOT_LABEL,
        "V",
        "Pareto view: scatter of two signals, front, box select",
    )
    .menu("Pareto"),
    cmd(
        C::Monitor,
        &[plain(Key::M)],
        NOT_LABEL,
        "M",
        "batch monitor: drift, review rate and agreement per batch",
    )
    .menu("Batch monitor"),
    cmd(
        C::Grid,
        &[plain(Key::G)],
        NOT_LABEL,
        "G / Esc",
        "back to the grid",
    )
    .menu("Grid"),
    cmd(C::Escape, &[plain(Key::Escape)], NOT_LABEL, "Esc", ""),
    cmd(
        C::Zoom,
        &[with(Mods::NoShift, Key::Z)],
        NOT_GRID,
        "Z",
        "toggle fit / 100 % (detail, compare)",
    ),
    note(ZOOMED, "wheel, drag", "zoom, pan (detail, compare)"),
    cmd(
        C::Inspector,
        &[plain(Key::I)],
        NOT_LABEL,
        "I",
        "show / hide the inspector",
    )
    .menu("Inspector"),
    cmd(
        C::Faces,
        &[plain(Key::F)],
        NOT_LABEL,
        "F",
        "face boxes and landmarks (detail, compare)",
    ),
    cmd(
        C::Undo,
        &[with(Mods::Command, Key::Z)],
        NOT_LABEL,
        "Ctrl+Z / Ctrl+Shift+Z",
        "undo / redo",
    )
    .menu("Undo"),
    cmd(
        C::Redo,
        &[
            with(Mods::CommandShift, Key::Z),
            with(Mods::Command, Key::Y),
        ],
        NOT_LABEL,
        "Ctrl+Shift+Z",
        "",
    )
    .menu("Redo"),
    cmd(
        C::Export,
        &[with(Mods::CommandShift, Key::E)],
        NOT_LABEL,
        "Ctrl+Shift+E",
        "export…",
    )
    .menu("Export…"),
    cmd(
        C::Help,
        &[plain(Key::Questionmark), plain(Key::F1)],
        NOT_LABEL,
        "? / F1",
        "this help",
    )
    .menu("Keyboard shortcuts"),
    cmd(
        C::Labeling,
        &[with(Mods::Command, Key::L)],
        EVERYWHERE,
        "Ctrl+L",
        "labeling: study setup, trials, results",
    )
    .menu("Labeling"),
    note(
        LABELING,
        "Left / A, Right / L",
        "labeling: prefer the left / right image",
    ),
    note(LABELING, "Down, B", "labeling: tie or can't tell, both bad"),
    note(
        LABELING,
        "1–9",
        "labeling: Likert rating, best-of-N choice, dimension ratings",
    ),
    cmd(C::Policy, &[], NO_KEYS, "", "").menu("Selection policy"),
    cmd(C::Scorers, &[], NO_KEYS, "", "").menu("Preference scorer"),
];

/// The table's row of a command.
pub fn spec(command: Command) -> &'static Shortcut {
    TABLE
        .iter()
        .find(|s| s.command == Some(command))
        .expect("every command has a row in the shortcut table")
}

/// The help overlay's lines: (keys, what they do).
pub fn help_rows() -> impl Iterator<Item = (&'static str, &'static str)> {
    TABLE
        .iter()
        .filter(|s| !s.help.is_empty())
        .map(|s| (s.keys, s.help))
}

/// The commands whose keys were pressed this frame, each with the chord that ran it.
#[derive(Debug, Default)]
pub struct Fired(Vec<(Command, Chord)>);

impl Fired {
    /// Whether the command's keys were pressed.
    pub fn has(&self, c: Command) -> bool {
        self.0.iter().any(|(x, _)| *x == c)
    }

    /// The key that ran the command (the table's first pressed one).
    pub fn key(&self, c: Command) -> Option<Key> {
        self.0.iter().find(|(x, _)| *x == c).map(|(_, ch)| ch.key)
    }
}

/// Matches the frame's key presses against the table's rows for a view, in [`Command`] order
/// (keys that need Ctrl are consumed).
pub fn fired(i: &mut InputState, mode: ViewMode) -> Fired {
    let mut rows: Vec<(Command, &Shortcut)> = TABLE
        .iter()
        .filter(|s| s.modes.contains(&mode))
        .filter_map(|s| s.command.map(|c| (c, s)))
        .collect();
    rows.sort_by_key(|(c, _)| *c);
    Fired(
        rows.into_iter()
            .filter_map(|(c, s)| s.chords.iter().find(|ch| ch.pressed(i)).map(|ch| (c, *ch)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The help overlay's lines before the table existed, verbatim.
    const HELP_BEFORE: &[(&str, &str)] = &[
        ("P", "pick (accept)"),
        ("X", "reject"),
        ("U", "unflag"),
        ("Shift+R", "send to review"),
        ("0–5", "rating (0 clears)"),
        ("arrows", "move (Shift extends the selection)"),
        ("Home / End", "first / last"),
        ("Ctrl+A", "select all shown"),
        ("Space / Enter / E", "detail view (Space again: back)"),
        ("C", "compare the selection (2–4)"),
        (
            "V",
            "Pareto view: scatter of two signals, front, box select",
        ),
        (
            "M",
            "batch monitor: drift, review rate and agreement per batch",
        ),
        ("G / Esc", "back to the grid"),
        ("Z", "toggle fit / 100 % (detail, compare)"),
        ("wheel, drag", "zoom, pan (detail, compare)"),
        ("I", "show / hide the inspector"),
        ("F", "face boxes and landmarks (detail, compare)"),
        ("Ctrl+Z / Ctrl+Shift+Z", "undo / redo"),
        ("Ctrl+Shift+E", "export…"),
        ("? / F1", "this help"),
        ("Ctrl+L", "labeling: study setup, trials, results"),
        (
            "Left / A, Right / L",
            "labeling: prefer the left / right image",
        ),
        ("Down, B", "labeling: tie or can't tell, both bad"),
        (
            "1–9",
            "labeling: Likert rating, best-of-N choice, dimension ratings",
        ),
    ];

    #[test]
    fn help_overlay_is_unchanged() {
        let rows: Vec<_> = help_rows().collect();
        assert_eq!(rows, HELP_BEFORE);
    }

    #[test]
    fn menus_show_the_same_labels_and_keys() {
        let view: Vec<(String, String)> = ViewMode::ALL
            .into_iter()
            .map(|m| {
                let s = spec(Command::for_view(m));
                (s.label.to_string(), s.menu_key())
            })
            .collect();
        let expect = [
            ("Grid", "G"),
            ("Detail", "Space"),
            ("Compare", "C"),
            ("Labeling", "Ctrl+L"),
            ("Pareto", "V"),
            ("Selection policy", ""),
            ("Preference scorer", ""),
            ("Batch monitor", "M"),
        ];
        let expect: Vec<(String, String)> = expect
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(view, expect);
        assert_eq!(spec(Command::Undo).menu_key(), "Ctrl+Z");
        assert_eq!(spec(Command::Redo).menu_key(), "Ctrl+Shift+Z");
        assert_eq!(spec(Command::Help).menu_key(), "?");
        assert_eq!(spec(Command::Inspector).menu_key(), "I");
    }

    /// No key runs two commands in the same view.
    #[test]
    fn no_chord_is_bound_twice_in_a_view() {
        for mode in EVERYWHERE {
            let mut seen = Vec::new();
            for s in TABLE.iter().filter(|s| s.modes.contains(mode)) {
                for ch in s.chords {
                    assert!(
                        !seen.contains(ch),
                        "{} is bound twice in {mode:?}",
                        ch.text()
                    );
                    seen.push(*ch);
                }
            }
        }
    }

    /// Every command has exactly one row.
    #[test]
    fn commands_have_one_row() {
        let mut cmds: Vec<Command> = TABLE.iter().filter_map(|s| s.command).collect();
        let n = cmds.len();
        cmds.sort();
        cmds.dedup();
        assert_eq!(cmds.len(), n);
    }
}
