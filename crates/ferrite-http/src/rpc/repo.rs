//! `repo gc|stat|verify|version`.

use crate::command::{route, Command, Ctx, Emit, Encoding, Link};
use crate::rpc::ApiError;
use ferrite_node::Cid;
use serde::{Deserialize, Serialize};
use std::io::{self, Write};

/// The commands of this module.
pub(super) const COMMANDS: &[super::Route] = &[
    route::<Gc>(),
    route::<Stat>(),
    route::<Verify>(),
    route::<Version>(),
];

/// Remove every block that no pin reaches.
#[derive(clap::Args, Serialize, Deserialize)]
#[command(after_help = "Examples:\n  ferrite repo gc\n  ferrite repo gc -q")]
pub struct Gc {
    /// Only print errors.
    #[arg(short, long)]
    #[serde(default)]
    pub quiet: bool,
    /// Send nothing back.
    #[arg(skip)]
    #[serde(default, skip_serializing)]
    pub silent: bool,
    /// Report a failed collection as an `{"Error"}` object.
    #[arg(skip)]
    #[serde(rename = "stream-errors", default, skip_serializing)]
    pub stream_errors: bool,
}

/// One removed block, `{"Key":{"/":cid}}`, or `{"Error"}` (Kubo's `GcResult`;
/// blocks are named as CIDv1 raw, as Kubo names bare multihashes).
#[derive(Debug, Serialize, Deserialize)]
pub struct GcResult {
    /// The removed block.
    #[serde(rename = "Key", default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Link>,
    /// What went wrong.
    #[serde(rename = "Error", default, skip_serializing_if = "String::is_empty")]
    pub error: String,
}

impl Command for Gc {
    const PATH: &'static str = "repo/gc";
    type Item = GcResult;

    fn encoding(&self) -> Encoding {
        Encoding::Stream
    }

    fn run(&self, ctx: &Ctx, emit: Emit<'_, GcResult>) -> Result<(), ApiError> {
        let report = match ctx.node()?.gc() {
            Ok(r) => r,
            Err(e) if self.stream_errors => {
                emit(GcResult {
                    key: None,
                    error: e.to_string(),
                })?;
                return Err(ApiError::internal("encountered errors during gc run"));
            }
            Err(e) => return Err(e.into()),
        };
        if self.silent {
            return Ok(());
        }
        for mh in report.removed {
            let cid = Cid::new_v1(ferrite_ipld::codecs::RAW, mh);
            emit(GcResult {
                key: Some(Link {
                    cid: ctx.cids.encode(&cid),
                }),
                error: String::new(),
            })?;
        }
        Ok(())
    }

    fn text(&self, item: &GcResult, out: &mut dyn Write) -> io::Result<()> {
        if !item.error.is_empty() {
            return Err(io::Error::other(item.error.clone()));
        }
        match &item.key {
            Some(k) if !self.quiet => writeln!(out, "removed {}", k.cid),
            _ => Ok(()),
        }
    }
}

/// Show repo statistics.
#[derive(clap::Args, Serialize, Deserialize)]
#[command(after_help = "Examples:\n  ferrite repo stat -H\n  ferrite repo stat -s")]
pub struct Stat {
    /// Only report RepoSize and StorageMax.
    #[arg(short = 's', long = "size-only")]
    #[serde(rename = "size-only", default)]
    pub size_only: bool,
    /// Print sizes in human-readable units.
    #[arg(short = 'H', long)]
    #[serde(default)]
    pub human: bool,
}

/// Kubo's `repo stat` answer; with `size-only` the fields after
/// `StorageMax` are zero values.
#[derive(Debug, Serialize, Deserialize)]
pub struct RepoStat {
    /// Bytes the repo takes.
    #[serde(rename = "RepoSize")]
    pub repo_size: u64,
    /// `Datastore.StorageMax` in bytes.
    #[serde(rename = "StorageMax")]
    pub storage_max: u64,
    /// Blocks stored.
    #[serde(rename = "NumObjects")]
    pub num_objects: u64,
    /// Where the repo is.
    #[serde(rename = "RepoPath")]
    pub repo_path: String,
    /// `fs-repo@<n>`.
    #[serde(rename = "Version")]
    pub version: String,
    /// Ferrite's: pack bytes of stored blocks.
    #[serde(rename = "LiveBytes", default)]
    pub live_bytes: u64,
    /// Ferrite's: pack bytes of deleted blocks not reclaimed yet (they
    /// count in `RepoSize`).
    #[serde(rename = "DeadBytes", default)]
    pub dead_bytes: u64,
}

impl Command for Stat {
    const PATH: &'static str = "repo/stat";
    type Item = RepoStat;

    fn run(&self, ctx: &Ctx, emit: Emit<'_, RepoStat>) -> Result<(), ApiError> {
        let s = ctx.node()?.repo_stat()?;
        let full = !self.size_only;
        emit(RepoStat {
            repo_size: s.repo_size,
            storage_max: s.storage_max,
            num_objects: if full { s.num_objects } else { 0 },
            repo_path: if full { s.repo_path } else { String::new() },
            version: if full { s.version } else { String::new() },
            live_bytes: if full { s.live_bytes } else { 0 },
            dead_bytes: if full { s.dead_bytes } else { 0 },
        })?;
        Ok(())
    }

    fn text(&self, s: &RepoStat, out: &mut dyn Write) -> io::Result<()> {
        let size = |n: u64| {
            if self.human {
                human_bytes(n)
            } else {
                n.to_string()
            }
        };
        if !self.size_only {
            writeln!(out, "NumObjects: {}", s.num_objects)?;
        }
        writeln!(out, "RepoSize:   {}", size(s.repo_size))?;
        writeln!(out, "StorageMax: {}", size(s.storage_max))?;
        if !self.size_only {
            writeln!(out, "RepoPath:   {}", s.repo_path)?;
            writeln!(out, "Version:    {}", s.version)?;
            writeln!(out, "LiveBytes:  {}", size(s.live_bytes))?;
            writeln!(out, "DeadBytes:  {}", size(s.dead_bytes))?;
        }
        Ok(())
    }
}

/// `1.5 GiB`-style sizes (`repo stat -H`).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.2} {}", UNITS[unit])
}

/// Re-hash every block and report the corrupt ones.
#[derive(clap::Args, Serialize, Deserialize)]
#[command(after_help = "Examples:\n  ferrite repo verify")]
pub struct Verify {}

/// Kubo's `VerifyProgress`: `{"Msg":"","Progress":n}` as blocks are
/// checked, `{"Msg":"block <cid> was corrupt (…)"}` per bad one, then
/// `{"Msg":"verify complete, all blocks validated."}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct VerifyProgress {
    /// A message, empty on progress objects.
    #[serde(rename = "Msg")]
    pub msg: String,
    /// Blocks checked so far.
    #[serde(rename = "Progress", default)]
    pub progress: u64,
}

/// The last message of a clean `repo verify`.
const VERIFIED: &str = "verify complete, all blocks validated.";

impl Command for Verify {
    const PATH: &'static str = "repo/verify";
    type Item = VerifyProgress;

    fn encoding(&self) -> Encoding {
        Encoding::Stream
    }

    fn run(&self, ctx: &Ctx, emit: Emit<'_, VerifyProgress>) -> Result<(), ApiError> {
        let mut failed: Option<io::Error> = None;
        let bad = ctx.node()?.repo_verify(&mut |n| {
            if failed.is_none() {
                let p = VerifyProgress {
                    msg: String::new(),
                    progress: n,
                };
                if let Err(e) = emit(p) {
                    failed = Some(e);
                }
            }
        })?;
        if let Some(e) = failed {
            return Err(e.into());
        }
        for c in &bad {
            emit(VerifyProgress {
                msg: format!(
                    "block {} was corrupt (data does not match its hash)",
                    ctx.cids.encode(c)
                ),
                progress: 0,
            })?;
        }
        if !bad.is_empty() {
            return Err(ApiError::internal(format!(
                "verify complete, {} blocks corrupt",
                bad.len()
            )));
        }
        emit(VerifyProgress {
            msg: VERIFIED.into(),
            progress: 0,
        })?;
        Ok(())
    }

    fn progress(&self, item: &VerifyProgress) -> Option<(&'static str, u64)> {
        item.msg
            .is_empty()
            .then_some(("verifying blocks", item.progress))
    }

    fn text(&self, item: &VerifyProgress, out: &mut dyn Write) -> io::Result<()> {
        if item.msg == VERIFIED {
            writeln!(out, "verified repo integrity")
        } else {
            writeln!(out, "{}", item.msg)
        }
    }
}

/// Show the repo's version.
#[derive(clap::Args, Serialize, Deserialize)]
#[command(after_help = "Examples:\n  ferrite repo version\n  ferrite repo version -q")]
pub struct Version {
    /// Only print the number.
    #[arg(short, long)]
    #[serde(default)]
    pub quiet: bool,
}

/// `{"Version":"<n>"}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct RepoVersion {
    /// The repo format version.
    #[serde(rename = "Version")]
    pub version: String,
}

impl Command for Version {
    const PATH: &'static str = "repo/version";
    type Item = RepoVersion;

    fn run(&self, _ctx: &Ctx, emit: Emit<'_, RepoVersion>) -> Result<(), ApiError> {
        emit(RepoVersion {
            version: ferrite_node::REPO_VERSION.to_string(),
        })?;
        Ok(())
    }

    fn text(&self, item: &RepoVersion, out: &mut dyn Write) -> io::Result<()> {
        if self.quiet {
            writeln!(out, "{}", item.version)
        } else {
            writeln!(out, "fs-repo@{}", item.version)
        }
    }
}
