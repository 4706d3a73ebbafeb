//! `log level` and `log ls`: the running daemon's log filter, changed
//! without a restart as Kubo's `ipfs log level` does.
//!
//! The filter belongs to the process (the binary installs the tracing
//! subscriber), so the daemon hands its [`LogControl`] to [`install`] at
//! start; without one (no daemon in this process) the commands fail.

use crate::command::{fail, Command, Ctx, Emit, Needs};
use crate::rpc::swarm::Strings;
use crate::rpc::ApiError;
use serde::{Deserialize, Serialize};
use std::io::{self, Write};
use std::sync::{Arc, OnceLock};

/// `log level`, `log ls`.
pub(super) const COMMANDS: &[super::Route] = &[
    crate::command::route::<Level>(),
    crate::command::route::<Ls>(),
];

/// The process's log filter, as the daemon exposes it.
pub trait LogControl: Send + Sync {
    /// Sets `subsystem` (a module path such as `ferrite_p2p`; `all` or `*`
    /// for every one) to `level`; returns the whole filter now in force.
    fn set_level(&self, subsystem: &str, level: &str) -> Result<String, String>;
    /// The subsystems worth naming.
    fn subsystems(&self) -> Vec<String>;
}

static CONTROL: OnceLock<Arc<dyn LogControl>> = OnceLock::new();

/// Makes `control` the one `log` commands use (once per process).
pub fn install(control: Arc<dyn LogControl>) {
    let _ = CONTROL.set(control);
}

fn control() -> Result<&'static Arc<dyn LogControl>, ApiError> {
    CONTROL
        .get()
        .ok_or_else(|| fail("log levels can only be changed in a running daemon"))
}

/// Kubo's level names; `dpanic`, `panic` and `fatal` are errors here.
fn level_name(level: &str) -> Result<&'static str, ApiError> {
    Ok(match level.to_ascii_lowercase().as_str() {
        "trace" => "trace",
        "debug" => "debug",
        "info" => "info",
        "warn" | "warning" => "warn",
        "error" | "dpanic" | "panic" | "fatal" => "error",
        "off" => "off",
        _ => {
            return Err(ApiError::client(format!(
                "unknown log level {level:?}: use debug, info, warn, error (or trace, off)"
            )))
        }
    })
}

/// Change the log level of a subsystem (`all` for every one) in the running
/// daemon, until the next restart or SIGHUP (which applies `Logging.Filter`).
#[derive(clap::Args, Serialize, Deserialize)]
#[command(after_help = concat!(
    "Examples:\n",
    "  ferrite log level ferrite_p2p debug\n",
    "  ferrite log level all info",
))]
pub struct Level {
    /// SUBSYSTEM LEVEL: a subsystem from `log ls` (or `all`), and one of
    /// debug, info, warn, error.
    #[arg(required = true, num_args = 2, value_names = ["SUBSYSTEM", "LEVEL"])]
    #[serde(rename = "arg", default)]
    pub args: Vec<String>,
}

/// Kubo's `MessageOutput`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Message {
    /// What changed.
    #[serde(rename = "Message")]
    pub message: String,
}

impl Command for Level {
    const PATH: &'static str = "log/level";
    type Item = Message;
    const NEEDS: Needs = Needs::Network;

    fn run(&self, _ctx: &Ctx, emit: Emit<'_, Message>) -> Result<(), ApiError> {
        let [subsystem, level] = self.args.as_slice() else {
            return Err(ApiError::client(
                "log level takes two arguments: SUBSYSTEM LEVEL",
            ));
        };
        let level = level_name(level)?;
        control()?
            .set_level(subsystem, level)
            .map_err(ApiError::client)?;
        let name = if subsystem == "*" { "all" } else { subsystem };
        emit(Message {
            message: format!("Changed log level of '{name}' to '{level}'\n"),
        })?;
        Ok(())
    }

    fn text(&self, m: &Message, out: &mut dyn Write) -> io::Result<()> {
        write!(out, "{}", m.message)
    }
}

/// List the logging subsystems.
#[derive(clap::Args, Serialize, Deserialize)]
#[command(after_help = "Examples:\n  ferrite log ls")]
pub struct Ls {}

impl Command for Ls {
    const PATH: &'static str = "log/ls";
    type Item = Strings;
    const NEEDS: Needs = Needs::Network;

    fn run(&self, _ctx: &Ctx, emit: Emit<'_, Strings>) -> Result<(), ApiError> {
        emit(Strings {
            strings: control()?.subsystems(),
        })?;
        Ok(())
    }

    fn text(&self, s: &Strings, out: &mut dyn Write) -> io::Result<()> {
        crate::rpc::swarm::lines(s, out)
    }
}
