//! `ferrite shutdown` (`id` and `version` are defined in
//! [`ferrite_http::rpc::misc`]).

use super::Target;

/// Runs `shutdown`: asks the daemon to stop.
pub(crate) fn shutdown(t: &Target) -> anyhow::Result<()> {
    match t {
        Target::Remote(c) => {
            c.request("shutdown").send()?;
            Ok(())
        }
        Target::Local(_) => anyhow::bail!(ferrite_http::command::OFFLINE),
    }
}
