//! `get`, `ls` (and `cat`, now in misc).

use super::Command;

/// The commands of this module.
pub(super) const COMMANDS: &[Command] = &[];
