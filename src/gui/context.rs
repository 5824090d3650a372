//! What a central view is given instead of the whole [`App`](super::App): the open collection,
//! where background jobs report and where commands go. A view's own state (the grid's filters,
//! the Pareto axes, the policy editor, the scorers) is a separate argument, so a view reaches
//! nothing else of the app: the grid cannot touch the policy editor, nor the editor the filters.

use super::jobs::Outbox;
use super::{Cmd, Collection};

/// The parts of the app every central view may use (borrowed from disjoint `App` fields).
pub struct ViewCtx<'a> {
    /// The open collection (views are shown only while one is open).
    pub coll: &'a mut Collection,
    /// Where background jobs a view starts report (plans, evidence, scorer versions).
    pub out: &'a Outbox,
    /// Commands for `App::apply`, run after the frame's UI.
    pub cmds: &'a mut Vec<Cmd>,
}

impl ViewCtx<'_> {
    /// Queues a command.
    pub fn push(&mut self, c: Cmd) {
        self.cmds.push(c);
    }
}
