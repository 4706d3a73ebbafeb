//! `pin add|rm|ls|verify|update`.

use crate::command::{parse_bool, required, route, yes, Command, Ctx, Emit, Encoding};
use crate::rpc::ApiError;
use ferrite_node::PinLsType;
use serde::{Deserialize, Serialize};
use std::io::{self, Write};

/// The commands of this module.
pub(super) const COMMANDS: &[super::Route] = &[
    route::<Add>(),
    route::<Rm>(),
    route::<Ls>(),
    route::<Verify>(),
    route::<Update>(),
];

/// Pin objects (and by default everything below them).
#[derive(clap::Args, Serialize, Deserialize)]
#[command(after_help = concat!(
    "Examples:\n",
    "  ferrite pin add QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o\n",
    "  ferrite pin add --recursive=false --name hello bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e",
))]
pub struct Add {
    /// Paths (/ipfs/CID/… or CIDs) to pin.
    #[arg(required = true, value_name = "PATHS")]
    #[serde(rename = "arg", default)]
    pub paths: Vec<String>,
    /// Pin recursively (`--recursive=false` for a direct pin).
    #[arg(short, long, default_value = "true", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = parse_bool)]
    #[serde(default = "yes")]
    pub recursive: bool,
    /// A name for the pin.
    #[arg(long, default_value = "")]
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Show progress (accepted for compatibility; pins are local here).
    #[arg(long)]
    #[serde(default)]
    pub progress: bool,
}

/// `{"Pins":[…]}`, Kubo's `PinOutput` (`Progress` objects come first in a
/// stream with `progress`).
#[derive(Debug, Serialize, Deserialize)]
pub struct Pins {
    /// The pinned or unpinned CIDs.
    #[serde(rename = "Pins", default)]
    pub pins: Vec<String>,
    /// Blocks fetched so far, in a progress object.
    #[serde(rename = "Progress", default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<u64>,
}

impl Command for Add {
    const PATH: &'static str = "pin/add";
    type Item = Pins;

    fn encoding(&self) -> Encoding {
        Encoding::stream_if(self.progress)
    }

    fn run(&self, ctx: &Ctx, emit: Emit<'_, Pins>) -> Result<(), ApiError> {
        required(&self.paths, "ipfs-path")?;
        let cids = ctx
            .node()?
            .pin_add(&self.paths, self.recursive, &self.name)?;
        emit(Pins {
            pins: cids.iter().map(|c| ctx.cids.encode(c)).collect(),
            progress: None,
        })?;
        Ok(())
    }

    fn text(&self, item: &Pins, out: &mut dyn Write) -> io::Result<()> {
        let how = if self.recursive {
            "recursively"
        } else {
            "directly"
        };
        for cid in &item.pins {
            writeln!(out, "pinned {cid} {how}")?;
        }
        Ok(())
    }
}

/// Remove pins.
#[derive(clap::Args, Serialize, Deserialize)]
#[command(after_help = concat!(
    "Examples:\n",
    "  ferrite pin rm QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o\n",
    "  ferrite pin rm --recursive=false bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e",
))]
pub struct Rm {
    /// Paths to unpin.
    #[arg(required = true, value_name = "PATHS")]
    #[serde(rename = "arg", default)]
    pub paths: Vec<String>,
    /// Unpin recursive pins (`--recursive=false` only removes direct pins).
    #[arg(short, long, default_value = "true", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = parse_bool)]
    #[serde(default = "yes")]
    pub recursive: bool,
}

impl Command for Rm {
    const PATH: &'static str = "pin/rm";
    type Item = Pins;

    fn run(&self, ctx: &Ctx, emit: Emit<'_, Pins>) -> Result<(), ApiError> {
        required(&self.paths, "ipfs-path")?;
        let cids = ctx.node()?.pin_rm(&self.paths, self.recursive)?;
        emit(Pins {
            pins: cids.iter().map(|c| ctx.cids.encode(c)).collect(),
            progress: None,
        })?;
        Ok(())
    }

    fn text(&self, item: &Pins, out: &mut dyn Write) -> io::Result<()> {
        for cid in &item.pins {
            writeln!(out, "unpinned {cid}")?;
        }
        Ok(())
    }
}

/// List pins.
#[derive(clap::Args, Serialize, Deserialize)]
#[command(after_help = concat!(
    "Examples:\n",
    "  ferrite pin ls --type recursive\n",
    "  ferrite pin ls -q -t direct\n",
    "  ferrite pin ls -n QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o",
))]
pub struct Ls {
    /// Only these paths.
    #[arg(value_name = "PATHS")]
    #[serde(rename = "arg", default)]
    pub paths: Vec<String>,
    /// direct, indirect, recursive or all.
    #[arg(short = 't', long = "type", default_value = "all")]
    #[serde(rename = "type", default = "all")]
    pub ty: String,
    /// Only print CIDs.
    #[arg(short, long)]
    #[serde(default)]
    pub quiet: bool,
    /// Print pin names too.
    #[arg(short = 'n', long)]
    #[serde(default)]
    pub names: bool,
    /// Send pins as they are found, one object each.
    #[arg(short, long)]
    #[serde(default)]
    pub stream: bool,
}

fn all() -> String {
    "all".into()
}

/// A `pin ls` answer: one object per pin when streamed (Kubo's
/// `PinLsOutputWrapper`), else one `{"Keys":{…}}`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PinLsItem {
    /// One pin.
    Pin(PinLsEntry),
    /// Every pin, by CID.
    Keys {
        /// CID → type and name.
        #[serde(rename = "Keys")]
        keys: serde_json::Map<String, serde_json::Value>,
    },
}

/// One streamed `pin ls` row.
#[derive(Debug, Serialize, Deserialize)]
pub struct PinLsEntry {
    /// The pinned CID.
    #[serde(rename = "Cid")]
    pub cid: String,
    /// Its name (`omitempty`, only with `names`).
    #[serde(rename = "Name", default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// `direct`, `recursive` or `indirect through <root>`.
    #[serde(rename = "Type")]
    pub ty: String,
}

impl Command for Ls {
    const PATH: &'static str = "pin/ls";
    type Item = PinLsItem;

    fn encoding(&self) -> Encoding {
        Encoding::stream_if(self.stream)
    }

    fn run(&self, ctx: &Ctx, emit: Emit<'_, PinLsItem>) -> Result<(), ApiError> {
        let ty: PinLsType = self.ty.parse()?;
        let entries = ctx.node()?.pin_ls(&self.paths, ty)?;
        let name = |n: &str| {
            if self.names {
                n.to_owned()
            } else {
                String::new()
            }
        };
        if self.stream {
            for e in entries {
                emit(PinLsItem::Pin(PinLsEntry {
                    cid: ctx.cids.encode(&e.cid),
                    name: name(&e.name),
                    ty: e.kind,
                }))?;
            }
            return Ok(());
        }
        let keys = entries
            .iter()
            .map(|e| {
                let v = serde_json::json!({ "Type": e.kind, "Name": name(&e.name) });
                (ctx.cids.encode(&e.cid), v)
            })
            .collect();
        emit(PinLsItem::Keys { keys })?;
        Ok(())
    }

    fn text(&self, item: &PinLsItem, out: &mut dyn Write) -> io::Result<()> {
        let mut line = |cid: &str, ty: &str, name: &str| {
            if self.quiet {
                writeln!(out, "{cid}")
            } else if self.names && !name.is_empty() {
                writeln!(out, "{cid} {ty} {name}")
            } else {
                writeln!(out, "{cid} {ty}")
            }
        };
        match item {
            PinLsItem::Pin(p) => line(&p.cid, &p.ty, &p.name),
            PinLsItem::Keys { keys } => {
                for (cid, v) in keys {
                    let field = |k: &str| v.get(k).and_then(|s| s.as_str()).unwrap_or("");
                    line(cid, field("Type"), field("Name"))?;
                }
                Ok(())
            }
        }
    }
}

/// Check that every recursive pin's DAG is complete and intact.
#[derive(clap::Args, Serialize, Deserialize)]
#[command(after_help = concat!(
    "Examples:\n",
    "  ferrite pin verify\n",
    "  ferrite pin verify -q",
))]
pub struct Verify {
    /// Also print pins that are fine.
    #[arg(long)]
    #[serde(default)]
    pub verbose: bool,
    /// Only print the CIDs of broken pins.
    #[arg(short, long)]
    #[serde(default)]
    pub quiet: bool,
}

/// One verified pin: `{"Cid","Ok"[,"BadNodes":[{"Cid","Err"}]]}` (Kubo's
/// `PinVerifyRes`; `Ok` and `BadNodes` are `omitempty`).
#[derive(Debug, Serialize, Deserialize)]
pub struct PinStatus {
    /// The recursive pin's root.
    #[serde(rename = "Cid")]
    pub cid: String,
    /// Whether the DAG is complete and intact.
    #[serde(rename = "Ok", default, skip_serializing_if = "std::ops::Not::not")]
    pub ok: bool,
    /// The missing or corrupt blocks (not with `quiet`).
    #[serde(rename = "BadNodes", default, skip_serializing_if = "Vec::is_empty")]
    pub bad_nodes: Vec<BadNode>,
}

/// A missing or corrupt block under a pin.
#[derive(Debug, Serialize, Deserialize)]
pub struct BadNode {
    /// The block.
    #[serde(rename = "Cid")]
    pub cid: String,
    /// What is wrong with it.
    #[serde(rename = "Err")]
    pub err: String,
}

impl Command for Verify {
    const PATH: &'static str = "pin/verify";
    type Item = PinStatus;

    fn encoding(&self) -> Encoding {
        Encoding::Stream
    }

    fn run(&self, ctx: &Ctx, emit: Emit<'_, PinStatus>) -> Result<(), ApiError> {
        if self.verbose && self.quiet {
            return Err(ApiError::client(
                "the --verbose and --quiet options can not be used at the same time",
            ));
        }
        for p in ctx.node()?.pin_verify()? {
            let ok = p.bad_nodes.is_empty();
            if ok && !self.verbose {
                continue;
            }
            let bad_nodes = if self.quiet {
                Vec::new()
            } else {
                p.bad_nodes
                    .iter()
                    .map(|(c, e)| BadNode {
                        cid: ctx.cids.encode(c),
                        err: e.clone(),
                    })
                    .collect()
            };
            emit(PinStatus {
                cid: ctx.cids.encode(&p.cid),
                ok,
                bad_nodes,
            })?;
        }
        Ok(())
    }

    fn text(&self, item: &PinStatus, out: &mut dyn Write) -> io::Result<()> {
        if item.ok {
            if self.verbose && !self.quiet {
                writeln!(out, "{} ok", item.cid)?;
            }
            return Ok(());
        }
        if self.quiet {
            return writeln!(out, "{}", item.cid);
        }
        writeln!(out, "{} broken", item.cid)?;
        for b in &item.bad_nodes {
            writeln!(out, "  {}: {}", b.cid, b.err)?;
        }
        Ok(())
    }

    fn failed(&self, item: &PinStatus) -> bool {
        !item.ok
    }

    fn failure(&self, n: usize) -> String {
        format!("{n} pin(s) failed verification")
    }
}

/// Replace a recursive pin with another, efficiently.
#[derive(clap::Args, Serialize, Deserialize)]
#[command(after_help = concat!(
    "Examples:\n",
    "  ferrite pin update QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi\n",
    "  ferrite pin update --unpin=false QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
))]
pub struct Update {
    /// The pinned path, then the path to pin instead.
    #[arg(required = true, num_args = 2, value_names = ["FROM", "TO"])]
    #[serde(rename = "arg", default)]
    pub paths: Vec<String>,
    /// Remove the old pin.
    #[arg(long, default_value = "true", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = parse_bool)]
    #[serde(default = "yes")]
    pub unpin: bool,
}

impl Command for Update {
    const PATH: &'static str = "pin/update";
    type Item = Pins;

    fn run(&self, ctx: &Ctx, emit: Emit<'_, Pins>) -> Result<(), ApiError> {
        let (Some(from), Some(to)) = (self.paths.first(), self.paths.get(1)) else {
            let name = if self.paths.is_empty() {
                "from-path"
            } else {
                "to-path"
            };
            return Err(ApiError::client(format!("argument \"{name}\" is required")));
        };
        let (f, t) = ctx.node()?.pin_update(from, to, self.unpin)?;
        emit(Pins {
            pins: vec![ctx.cids.encode(&f), ctx.cids.encode(&t)],
            progress: None,
        })?;
        Ok(())
    }

    fn text(&self, item: &Pins, out: &mut dyn Write) -> io::Result<()> {
        match item.pins.as_slice() {
            [f, t] => writeln!(out, "updated {f} to {t}"),
            other => Err(io::Error::other(format!(
                "unexpected answer from the daemon: {other:?}"
            ))),
        }
    }
}
