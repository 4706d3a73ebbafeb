//! `ferrite shutdown` and `ferrite log` (`id` and `version` are defined in
//! [`ferrite_http::rpc::misc`], `log level|ls` in [`ferrite_http::rpc::log`]).

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

/// `log` subcommands (defined in [`ferrite_http::rpc::log`]; they need the
/// daemon).
#[derive(clap::Subcommand)]
pub(crate) enum LogCommand {
    /// Change a subsystem's log level until the next restart or reload.
    Level(ferrite_http::rpc::log::Level),
    /// List the logging subsystems.
    Ls(ferrite_http::rpc::log::Ls),
}

/// Runs a `log` subcommand.
pub(crate) fn run_log(t: &Target, c: LogCommand) -> anyhow::Result<()> {
    match c {
        LogCommand::Level(c) => super::exec(t, c),
        LogCommand::Ls(c) => super::exec(t, c),
    }
}
