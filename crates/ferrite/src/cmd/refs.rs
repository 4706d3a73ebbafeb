//! `ferrite refs [-r] [-u] [-e] [--format] PATH…` and `refs local` (defined
//! in [`ferrite_http::rpc::refs`]).

use super::{exec, Target};
use ferrite_http::rpc::refs;

/// Runs `refs`, or `refs local` when that is the only path.
pub(crate) fn run(t: &Target, a: refs::Refs) -> anyhow::Result<()> {
    if a.paths.len() == 1 && a.paths[0] == "local" {
        return exec(t, refs::Local {});
    }
    exec(t, a)
}
