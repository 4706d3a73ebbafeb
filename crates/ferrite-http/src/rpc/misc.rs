//! `version` and `id` (`shutdown` is handled by the dispatcher).

use crate::command::{fail, route, Command, Ctx, Emit, Needs};
use crate::rpc::ApiError;
use serde::{Deserialize, Serialize};
use std::io::{self, Write};

/// `version` and `id`.
pub(super) const COMMANDS: &[super::Route] = &[route::<Version>(), route::<Id>()];

/// Show version information.
#[derive(clap::Args, Serialize, Deserialize)]
#[command(
    after_help = "Examples:\n  ferrite version\n  ferrite version -n\n  ferrite version --all"
)]
pub struct Version {
    /// Only print the version number.
    #[arg(short = 'n', long)]
    #[serde(default)]
    pub number: bool,
    /// Print all version details.
    #[arg(long)]
    #[serde(default)]
    pub all: bool,
}

/// Kubo's `VersionOutput`.
#[derive(Debug, Serialize, Deserialize)]
pub struct VersionInfo {
    /// Ferrite's version.
    #[serde(rename = "Version")]
    pub version: String,
    /// The commit (empty).
    #[serde(rename = "Commit", default)]
    pub commit: String,
    /// The repo format version.
    #[serde(rename = "Repo")]
    pub repo: String,
    /// `<arch>/<os>`.
    #[serde(rename = "System")]
    pub system: String,
    /// Go's version in Kubo; empty here.
    #[serde(rename = "Golang", default)]
    pub golang: String,
}

impl Command for Version {
    const PATH: &'static str = "version";
    type Item = VersionInfo;
    const NEEDS: Needs = Needs::Nothing;

    fn run(&self, _ctx: &Ctx, emit: Emit<'_, VersionInfo>) -> Result<(), ApiError> {
        emit(VersionInfo {
            version: env!("CARGO_PKG_VERSION").into(),
            commit: String::new(),
            repo: ferrite_node::REPO_VERSION.to_string(),
            system: format!("{}/{}", std::env::consts::ARCH, std::env::consts::OS),
            golang: String::new(),
        })?;
        Ok(())
    }

    fn text(&self, v: &VersionInfo, out: &mut dyn Write) -> io::Result<()> {
        if self.number {
            writeln!(out, "{}", v.version)
        } else if self.all {
            writeln!(out, "ferrite version: {}", v.version)?;
            writeln!(out, "Repo version: {}", v.repo)?;
            writeln!(out, "System version: {}", v.system)
        } else {
            writeln!(out, "ferrite version {}", v.version)
        }
    }
}

/// Show the node's identity (or, given a peer ID, what routing knows of it).
#[derive(clap::Args, Serialize, Deserialize)]
#[command(after_help = concat!(
    "Examples:\n",
    "  ferrite id\n",
    "  ferrite --api /ip4/127.0.0.1/tcp/5001 id",
))]
pub struct Id {
    /// Another peer to show.
    #[arg(value_name = "PEER")]
    #[serde(rename = "arg", default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    /// Print with this format: `<id>`, `<aver>`, `<pubkey>`, `<addrs>` and
    /// `<protocols>` are replaced.
    #[arg(short, long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// The peer ID's encoding: b58mh, or a multibase for a CIDv1 (base36).
    #[arg(long = "peerid-base", default_value = "b58mh")]
    #[serde(rename = "peerid-base", default = "b58mh")]
    pub peerid_base: String,
}

fn b58mh() -> String {
    "b58mh".into()
}

/// `id`'s answer: Kubo's `IdOutput`, or with `format` one string.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IdAnswer {
    /// The identity.
    Info(IdOutput),
    /// The `format` filled in.
    Formatted(String),
}

/// Kubo's `IdOutput`.
#[derive(Debug, Serialize, Deserialize)]
pub struct IdOutput {
    /// The peer ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// The public key, protobuf in base64.
    #[serde(rename = "PublicKey")]
    pub public_key: String,
    /// Announced addresses with `/p2p/<id>` (none offline).
    #[serde(
        rename = "Addresses",
        default,
        deserialize_with = "crate::command::nullable"
    )]
    pub addresses: Vec<String>,
    /// `ferrite/<version>`.
    #[serde(rename = "AgentVersion")]
    pub agent_version: String,
    /// The protocols spoken (none offline).
    #[serde(
        rename = "Protocols",
        default,
        deserialize_with = "crate::command::nullable"
    )]
    pub protocols: Vec<String>,
}

/// The protocols a running node speaks.
const PROTOCOLS: &[&str] = &[
    "/ipfs/bitswap",
    "/ipfs/bitswap/1.0.0",
    "/ipfs/bitswap/1.1.0",
    "/ipfs/bitswap/1.2.0",
    "/ipfs/id/1.0.0",
    "/ipfs/kad/1.0.0",
    "/ipfs/ping/1.0.0",
];

impl Command for Id {
    const PATH: &'static str = "id";
    type Item = IdAnswer;

    fn run(&self, ctx: &Ctx, emit: Emit<'_, IdAnswer>) -> Result<(), ApiError> {
        let cfg = ctx.node()?.config();
        let id = cfg.peer_id().map_err(fail)?;
        let out = match self.peer.as_deref().filter(|p| *p != id) {
            Some(other) => other_peer(ctx, other)?,
            None => {
                // Online: the announced addresses, each with our /p2p/ part.
                let (addresses, protocols) = match ctx.node()?.network() {
                    Some(net) => {
                        let (_, announced) = ctx.wait(net.listen_addrs())?.map_err(fail)?;
                        (
                            announced.iter().map(|a| format!("{a}/p2p/{id}")).collect(),
                            PROTOCOLS.iter().map(|p| p.to_string()).collect(),
                        )
                    }
                    None => (Vec::new(), Vec::new()),
                };
                use base64::Engine;
                let public_key = cfg
                    .keypair()
                    .map(|k| {
                        base64::engine::general_purpose::STANDARD
                            .encode(k.public().encode_protobuf())
                    })
                    .unwrap_or_default();
                IdOutput {
                    id: match self.peerid_base.as_str() {
                        "b58mh" | "" => id.clone(),
                        base => peer_id_in_base(&id, base)?,
                    },
                    public_key,
                    addresses,
                    agent_version: format!("ferrite/{}", env!("CARGO_PKG_VERSION")),
                    protocols,
                }
            }
        };
        emit(match &self.format {
            // Kubo's `--format` placeholders; the answer is one JSON string.
            Some(f) => IdAnswer::Formatted(
                f.replace("<id>", &out.id)
                    .replace("<aver>", &out.agent_version)
                    .replace("<pubkey>", &out.public_key)
                    .replace("<addrs>", &out.addresses.join("\n"))
                    .replace("<protocols>", &out.protocols.join("\n"))
                    .replace("\\n", "\n")
                    .replace("\\t", "\t"),
            ),
            None => IdAnswer::Info(out),
        })?;
        Ok(())
    }

    fn text(&self, item: &IdAnswer, out: &mut dyn Write) -> io::Result<()> {
        match item {
            IdAnswer::Formatted(s) => write!(out, "{s}"),
            IdAnswer::Info(v) => {
                // Kubo prints `id` as tab-indented JSON.
                let mut ser = serde_json::Serializer::with_formatter(
                    &mut *out,
                    serde_json::ser::PrettyFormatter::with_indent(b"\t"),
                );
                v.serialize(&mut ser)?;
                writeln!(out)
            }
        }
    }
}

/// `id PEER`: what routing knows of another peer.
fn other_peer(ctx: &Ctx, other: &str) -> Result<IdOutput, ApiError> {
    let net = ctx.net()?;
    let peer: ferrite_node::net::PeerId = other
        .parse()
        .map_err(|e| ApiError::client(format!("invalid peer ID {other:?}: {e}")))?;
    let addrs = ctx.wait(net.find_peer(peer))?.map_err(fail)?;
    Ok(IdOutput {
        id: peer.to_string(),
        public_key: String::new(),
        addresses: addrs.iter().map(|a| format!("{a}/p2p/{peer}")).collect(),
        agent_version: String::new(),
        protocols: Vec::new(),
    })
}

/// A peer ID as a CIDv1 (`libp2p-key`) in `base` (`peerid-base=base36`).
fn peer_id_in_base(id: &str, base: &str) -> Result<String, ApiError> {
    use ferrite_ipld::cidfmt;
    let b = cidfmt::multibase_from_name(base).map_err(fail)?;
    let bytes = ferrite_ipld::multibase::Base::Base58Btc
        .decode(id)
        .map_err(|e| fail(format!("invalid peer ID {id:?}: {e}")))?;
    let mh = ferrite_ipld::Multihash::from_bytes(&bytes)
        .map_err(|e| fail(format!("invalid peer ID {id:?}: {e}")))?;
    let cid = ferrite_ipld::Cid::new_v1(ferrite_ipld::codecs::LIBP2P_KEY, mh);
    cidfmt::encode_cid(&cid, b).map_err(fail)
}
