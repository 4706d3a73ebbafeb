//! `refs`, `refs/local`.

use super::Command;

/// The commands of this module.
pub(super) const COMMANDS: &[Command] = &[];
