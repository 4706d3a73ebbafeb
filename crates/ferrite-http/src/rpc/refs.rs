//! `refs` and `refs/local`: NDJSON `{"Ref","Err"}` lines, streamed as the
//! DAG is walked.

use crate::command::{required, route, Command, Ctx, Emit, Encoding};
use crate::rpc::ApiError;
use ferrite_node::{IpfsPath, RefsOptions};
use serde::{Deserialize, Serialize};
use std::io::{self, Write};

/// The commands of this module.
pub(super) const COMMANDS: &[super::Route] = &[route::<Refs>(), route::<Local>()];

/// List the links (references) of a DAG.
#[derive(clap::Args, Serialize, Deserialize)]
#[command(after_help = concat!(
    "Examples:\n",
    "  ferrite refs bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi\n",
    "  ferrite refs -r -u bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi\n",
    "  ferrite refs local",
))]
pub struct Refs {
    /// Paths to list the links of; `local` lists every stored block.
    #[arg(required = true)]
    #[serde(rename = "arg", default)]
    pub paths: Vec<String>,
    /// Recursively list links of child nodes.
    #[arg(short, long)]
    #[serde(default)]
    pub recursive: bool,
    /// Omit duplicate refs.
    #[arg(short, long)]
    #[serde(default)]
    pub unique: bool,
    /// Print edges as `<src> -> <dst>`.
    #[arg(short, long)]
    #[serde(default)]
    pub edges: bool,
    /// Output format: `<src>`, `<dst>` and `<linkname>` are replaced.
    #[arg(long, default_value = "<dst>")]
    #[serde(default = "dst")]
    pub format: String,
    /// With --recursive, only this deep (-1: unlimited).
    #[arg(long = "max-depth", default_value_t = -1, allow_hyphen_values = true)]
    #[serde(rename = "max-depth", default = "unlimited")]
    pub max_depth: i64,
}

fn dst() -> String {
    "<dst>".into()
}

fn unlimited() -> i64 {
    -1
}

/// One ref, or (`Err` set) why the walk stopped.
#[derive(Debug, Serialize, Deserialize)]
pub struct RefLine {
    /// The formatted ref.
    #[serde(rename = "Ref")]
    pub r#ref: String,
    /// The walk's error.
    #[serde(rename = "Err", default)]
    pub err: String,
}

fn line(item: &RefLine, out: &mut dyn Write) -> io::Result<()> {
    if !item.err.is_empty() {
        return Err(io::Error::other(item.err.clone()));
    }
    writeln!(out, "{}", item.r#ref)
}

impl Command for Refs {
    const PATH: &'static str = "refs";
    type Item = RefLine;

    fn encoding(&self) -> Encoding {
        Encoding::Stream
    }

    /// Paths are resolved before streaming (a bad one is a plain error); an
    /// error during the walk is a `{"Ref":"","Err":…}` line, as in Kubo.
    fn run(&self, ctx: &Ctx, emit: Emit<'_, RefLine>) -> Result<(), ApiError> {
        required(&self.paths, "ipfs-path")?;
        let node = ctx.node()?;
        let format = match (self.edges, self.format.as_str()) {
            (true, "<dst>") => "<src> -> <dst>",
            (true, _) => {
                return Err(ApiError::internal(
                    "using format argument with edges is not allowed",
                ))
            }
            (false, f) => f,
        };
        for p in &self.paths {
            let p = IpfsPath::parse(p).map_err(|e| ApiError::internal(e.to_string()))?;
            node.resolve(&p)?;
        }
        // Kubo: without -r only the direct refs are written.
        let max_depth = if self.recursive { self.max_depth } else { 1 };
        let opts = RefsOptions {
            recursive: max_depth != 1,
            unique: self.unique,
            max_depth: (max_depth >= 0).then_some(max_depth),
        };
        let mut failed = None;
        let walked = node.refs(&self.paths, &opts, &mut |r| {
            let text = format
                .replace("<src>", &ctx.cids.encode(&r.src))
                .replace("<dst>", &ctx.cids.encode(&r.dst))
                .replace("<linkname>", &r.name);
            emit(RefLine {
                r#ref: text,
                err: String::new(),
            })
            .map_err(|e| {
                let msg = e.to_string();
                failed = Some(e);
                ferrite_node::Error::Invalid(msg)
            })
        });
        if let Some(e) = failed {
            return Err(e.into());
        }
        if let Err(e) = walked {
            emit(RefLine {
                r#ref: String::new(),
                err: e.to_string(),
            })?;
        }
        Ok(())
    }

    fn text(&self, item: &RefLine, out: &mut dyn Write) -> io::Result<()> {
        line(item, out)
    }
}

/// List every block in the repo.
#[derive(clap::Args, Serialize, Deserialize)]
pub struct Local {}

impl Command for Local {
    const PATH: &'static str = "refs/local";
    type Item = RefLine;

    fn encoding(&self) -> Encoding {
        Encoding::Stream
    }

    /// Every stored block as CIDv1 raw (the store keeps multihashes, not
    /// codecs).
    fn run(&self, ctx: &Ctx, emit: Emit<'_, RefLine>) -> Result<(), ApiError> {
        let mut failed = None;
        ctx.node()?.refs_local(&mut |c| {
            let r = emit(RefLine {
                r#ref: ctx.cids.encode(&c),
                err: String::new(),
            });
            match r {
                Ok(()) => true,
                Err(e) => {
                    failed = Some(e);
                    false
                }
            }
        })?;
        match failed {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }

    fn text(&self, item: &RefLine, out: &mut dyn Write) -> io::Result<()> {
        line(item, out)
    }
}
