//! `config`, `config/show`, `config/replace`, `config/profile/apply`.

use super::ApiError;
use crate::command::{required, route, Command, Ctx, Emit, Encoding, Upload};
use ferrite_config::{human_output, Config, ValueMode};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::{self, Write};
use std::path::PathBuf;

/// The commands of this module.
pub(super) const COMMANDS: &[super::Route] = &[
    route::<Get>(),
    route::<Show>(),
    route::<Replace>(),
    route::<ProfileApply>(),
];

// Kubo answers every config failure, bad input too, with a 500.
use crate::command::fail as error;

/// Get or set a configuration value.
#[derive(clap::Args, Serialize, Deserialize)]
pub struct Get {
    /// The key (e.g. `Addresses.API`), then the value to set.
    #[arg(value_names = ["KEY", "VALUE"], num_args = 1..=2)]
    #[serde(rename = "arg", default)]
    pub args: Vec<String>,
    /// Parse VALUE as JSON.
    #[arg(long)]
    #[serde(default)]
    pub json: bool,
    /// Parse VALUE as a boolean.
    #[arg(long)]
    #[serde(default)]
    pub bool: bool,
}

/// `{"Key","Value"}`: the value read, or stored.
#[derive(Debug, Serialize, Deserialize)]
pub struct KeyValue {
    /// The key.
    #[serde(rename = "Key")]
    pub key: String,
    /// Its value.
    #[serde(rename = "Value")]
    pub value: Value,
}

impl Command for Get {
    const PATH: &'static str = "config";
    type Item = KeyValue;

    fn run(&self, ctx: &Ctx, emit: Emit<'_, KeyValue>) -> Result<(), ApiError> {
        required(&self.args, "key")?;
        let key = &self.args[0];
        let get = |cfg: &Config| -> Result<KeyValue, ApiError> {
            Ok(KeyValue {
                key: key.clone(),
                value: cfg.get(key).map_err(error)?.clone(),
            })
        };
        let node = ctx.node()?;
        let kv = match self.args.get(1) {
            None => get(&node.config())?,
            Some(raw) => {
                let mode = match (self.json, self.bool) {
                    (true, _) => ValueMode::Json,
                    (_, true) => ValueMode::Bool,
                    _ => ValueMode::String,
                };
                let parsed = Config::parse_cli_value(raw, mode).map_err(error)?;
                node.update_config(|cfg| {
                    cfg.set(key, parsed).map_err(error)?;
                    get(cfg)
                })?
            }
        };
        emit(kv)?;
        Ok(())
    }

    /// The value when reading; nothing when setting (as Kubo).
    fn text(&self, kv: &KeyValue, out: &mut dyn Write) -> io::Result<()> {
        if self.args.len() > 1 {
            return Ok(());
        }
        writeln!(out, "{}", human_output(&kv.value))
    }
}

/// Print the whole configuration (without the private key).
#[derive(clap::Args, Serialize, Deserialize)]
#[command(after_help = "Examples:\n  ferrite config show")]
pub struct Show {}

impl Command for Show {
    const PATH: &'static str = "config/show";
    type Item = Value;

    /// Without the private key, and with `API.Authorizations` hidden.
    fn run(&self, ctx: &Ctx, emit: Emit<'_, Value>) -> Result<(), ApiError> {
        emit(ctx.node()?.config().show())?;
        Ok(())
    }

    fn text(&self, v: &Value, out: &mut dyn Write) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, v)?;
        writeln!(out)
    }
}

/// Replace the configuration with a JSON file (`-` for stdin).
///
/// The identity's private key is kept (`config show` leaves it out, so an
/// edited copy of its output has none).
#[derive(clap::Args, Serialize, Deserialize)]
#[command(after_help = "Examples:\n  ferrite config replace new-config.json")]
pub struct Replace {
    /// The new configuration.
    #[serde(skip)]
    pub file: PathBuf,
}

impl Command for Replace {
    const PATH: &'static str = "config/replace";
    type Item = ();
    const FILES: Option<&'static str> = Some("file");

    fn upload(&self) -> Upload {
        let stdin = self.file.as_os_str() == "-";
        Upload::files(if stdin {
            &[]
        } else {
            std::slice::from_ref(&self.file)
        })
    }

    fn encoding(&self) -> Encoding {
        Encoding::Empty
    }

    fn run(&self, ctx: &Ctx, _emit: Emit<'_, ()>) -> Result<(), ApiError> {
        let mut new = None;
        ctx.each_file("file", |reader| {
            // Only the first file counts, as in Kubo.
            if new.is_none() {
                new = Some(
                    serde_json::from_reader::<_, Value>(io::BufReader::new(reader))
                        .map_err(|e| error(format!("failed to decode config: {e}")))?,
                );
            }
            Ok(())
        })?;
        let new = new.expect("each_file saw a file");
        Ok(ctx
            .node()?
            .update_config(|cfg| cfg.replace(new).map_err(ferrite_node::Error::from))?)
    }

    fn text(&self, _: &(), _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
}

/// Apply a profile and print what changed.
#[derive(clap::Args, Serialize, Deserialize)]
#[command(after_help = concat!(
    "Examples:\n",
    "  ferrite config profile apply server\n",
    "  ferrite config profile apply --dry-run lowpower",
))]
pub struct ProfileApply {
    /// The profile's name.
    #[arg(required = true, value_name = "NAME")]
    #[serde(rename = "arg", default)]
    pub name: Vec<String>,
    /// Print the change without saving it.
    #[arg(long = "dry-run")]
    #[serde(rename = "dry-run", default)]
    pub dry_run: bool,
}

/// `{"OldCfg","NewCfg"}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ProfileChange {
    /// The configuration before.
    #[serde(rename = "OldCfg")]
    pub old: Value,
    /// The configuration after.
    #[serde(rename = "NewCfg")]
    pub new: Value,
}

impl Command for ProfileApply {
    const PATH: &'static str = "config/profile/apply";
    type Item = ProfileChange;

    fn run(&self, ctx: &Ctx, emit: Emit<'_, ProfileChange>) -> Result<(), ApiError> {
        required(&self.name, "profile")?;
        let apply = |cfg: &mut Config| -> Result<ProfileChange, ApiError> {
            let change = cfg.apply_profile(&self.name[0]).map_err(error)?;
            Ok(ProfileChange {
                old: change.old,
                new: change.new,
            })
        };
        let node = ctx.node()?;
        let change = if self.dry_run {
            apply(&mut node.config())?
        } else {
            node.update_config(apply)?
        };
        emit(change)?;
        Ok(())
    }

    fn text(&self, c: &ProfileChange, out: &mut dyn Write) -> io::Result<()> {
        let old = serde_json::to_string_pretty(&c.old)?;
        let new = serde_json::to_string_pretty(&c.new)?;
        diff(&old, &new, out)
    }
}

/// A minimal unified-style diff of two JSON renderings, like Kubo prints
/// for `config profile apply`.
fn diff(old: &str, new: &str, out: &mut dyn Write) -> io::Result<()> {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    // longest common subsequence table; configs are a few hundred lines
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    writeln!(out, "--- old\n+++ new")?;
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            writeln!(out, "+{}", b[j])?;
            j += 1;
        } else {
            writeln!(out, "-{}", a[i])?;
            i += 1;
        }
    }
    Ok(())
}
