//! Lists commands. (Being written.)

use crate::table::Command;

pub(crate) const COMMANDS: &[Command] = &[];
