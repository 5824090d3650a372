//! The key handler: the frame's key presses become [`Command`]s through the shortcut table
//! (`shortcuts.rs`), and each command becomes a [`Cmd`] or a change of a panel setting.
//! Lightroom habits; nothing runs while a text field has focus.

use crate::domain::Status;
use eframe::egui;

use super::shortcuts::{self, Command, Fired};
use super::{App, Cmd, ViewMode, labeling, panels};

impl App {
    /// Keyboard shortcuts, unless a text field has focus. Commands run in the handler's
    /// historical order (culling before view changes before moves).
    pub(super) fn keyboard(&mut self, ctx: &egui::Context) {
        if ctx.egui_wants_keyboard_input() || self.coll.is_none() {
            return;
        }
        let mode = self.mode;
        let (fired, shift, ppp) = ctx.input_mut(|i| {
            (
                shortcuts::fired(i, mode),
                i.modifiers.shift,
                i.pixels_per_point,
            )
        });
        let has = |c: Command| fired.has(c);
        if has(Command::Labeling) {
            self.push(Cmd::ShowLabel);
        }
        if mode == ViewMode::Label {
            if let Some(c) = self.coll.as_mut() {
                labeling::keyboard(c, &mut self.cmds, ctx);
            }
            return;
        }
        let mut cmds = Vec::new();
        self.edit_keys(&fired, &mut cmds);
        self.view_keys(&fired, ppp, &mut cmds);
        self.move_keys(&fired, shift, &mut cmds);
        if has(Command::SelectAll)
            && let Some(c) = self.coll.as_mut()
        {
            c.grid.sel.selected = c.view.ids.iter().copied().collect();
        }
        self.cmds.extend(cmds);
    }

    /// Undo / redo, export, flags and ratings.
    fn edit_keys(&mut self, fired: &Fired, cmds: &mut Vec<Cmd>) {
        let has = |c: Command| fired.has(c);
        if has(Command::Redo) {
            cmds.push(Cmd::Redo);
        } else if has(Command::Undo) {
            cmds.push(Cmd::Undo);
        }
        if has(Command::Export) {
            self.export_dialog = Some(panels::ExportDialog::default());
        }
        for (c, status) in [
            (Command::Pick, Status::Accepted),
            (Command::Reject, Status::Rejected),
            (Command::Unflag, Status::None),
            (Command::Review, Status::Review),
        ] {
            if has(c) {
                cmds.push(Cmd::SetStatus(status));
            }
        }
        for n in 0..=5u8 {
            if has(Command::Rating(n)) {
                cmds.push(Cmd::SetRating(if n == 0 {
                    None
                } else {
                    Some(i64::from(n))
                }));
            }
        }
    }

    /// Help, Esc, the view keys, zoom and the panel toggles.
    fn view_keys(&mut self, fired: &Fired, ppp: f32, cmds: &mut Vec<Cmd>) {
        let has = |c: Command| fired.has(c);
        if has(Command::Help) {
            self.show_help = !self.show_help;
        }
        if has(Command::Escape) {
            if self.show_help {
                self.show_help = false;
            } else {
                cmds.push(Cmd::ShowGrid);
            }
        }
        if has(Command::Grid) {
            cmds.push(Cmd::ShowGrid);
        }
        if has(Command::Detail) {
            let space = fired.key(Command::Detail) == Some(egui::Key::Space);
            cmds.push(if self.mode == ViewMode::Detail && space {
                Cmd::ShowGrid
            } else {
                Cmd::ShowDetail(None)
            });
        }
        for (c, cmd) in [
            (Command::Compare, Cmd::ShowCompare),
            (Command::Pareto, Cmd::ShowPareto),
            (Command::Monitor, Cmd::ShowMonitor),
        ] {
            if has(c) {
                cmds.push(cmd);
            }
        }
        if has(Command::Zoom)
            && let Some(c) = self.coll.as_mut()
        {
            c.grid.zoom.toggle_actual(ppp);
        }
        if has(Command::Faces) {
            self.settings.show_faces = !self.settings.show_faces;
        }
        if has(Command::Inspector) {
            self.settings.show_inspector = !self.settings.show_inspector;
        }
    }

    /// Arrows, Home and End: in compare the arrows choose the focused image; elsewhere they
    /// move the cursor (Shift extends the selection), up and down by a grid row.
    fn move_keys(&self, fired: &Fired, shift: bool, cmds: &mut Vec<Cmd>) {
        let has = |c: Command| fired.has(c);
        if self.mode == ViewMode::Compare {
            if has(Command::Left) {
                cmds.push(Cmd::FocusCompare(self.compare_focus().saturating_sub(1)));
            }
            if has(Command::Right) {
                cmds.push(Cmd::FocusCompare(self.compare_focus() + 1));
            }
            return;
        }
        let cols = self.grid_columns() as isize;
        for (c, cmd) in [
            (Command::Right, Cmd::Step(1, shift)),
            (Command::Left, Cmd::Step(-1, shift)),
            (Command::Down, Cmd::Step(cols, shift)),
            (Command::Up, Cmd::Step(-cols, shift)),
            (Command::Home, Cmd::Home(shift)),
            (Command::End, Cmd::End(shift)),
        ] {
            if has(c) {
                cmds.push(cmd);
            }
        }
    }
}
