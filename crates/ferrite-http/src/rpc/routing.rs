//! `routing findprovs|findpeer|provide` (and the older `dht` names): Kubo's
//! routing events over the running network's DHT.

use crate::command::{
    fail, nullable, required, route, route_at, Command, Ctx, Emit, Encoding, Needs,
};
use crate::rpc::ApiError;
use ferrite_node::IpfsPath;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::HashSet;
use std::io::{self, Write};

/// Kubo's routing event types (`routing.QueryEventType`).
const FINAL_PEER: u8 = 2;
const PROVIDER: u8 = 4;

/// The `routing` commands.
pub(super) const COMMANDS: &[super::Route] = &[
    route::<Findprovs>(),
    route::<Findpeer>(),
    route::<Provide>(),
    route_at::<Findprovs>("dht/findprovs"),
    route_at::<Findpeer>("dht/findpeer"),
    route_at::<Provide>("dht/provide"),
];

/// Kubo's `routing.QueryEvent`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Event {
    /// Extra text.
    #[serde(rename = "Extra", default)]
    pub extra: String,
    /// The peer the event is about (query events).
    #[serde(rename = "ID", default)]
    pub id: String,
    /// The peers found.
    #[serde(rename = "Responses", default, deserialize_with = "nullable")]
    pub responses: Vec<PeerInfo>,
    /// The event type: 2 final peer, 4 provider.
    #[serde(rename = "Type")]
    pub kind: u8,
}

/// A peer and its addresses.
#[derive(Debug, Serialize, Deserialize)]
pub struct PeerInfo {
    /// The peer ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Its addresses.
    #[serde(rename = "Addrs", default, deserialize_with = "nullable")]
    pub addrs: Vec<String>,
}

fn event(kind: u8, peer: impl ToString, addrs: &[ferrite_node::net::Multiaddr]) -> Event {
    Event {
        extra: String::new(),
        id: String::new(),
        responses: vec![PeerInfo {
            id: peer.to_string(),
            addrs: addrs.iter().map(|a| a.to_string()).collect(),
        }],
        kind,
    }
}

/// Find peers that can provide a CID.
#[derive(clap::Args, Serialize, Deserialize)]
#[command(after_help = concat!(
    "Examples:\n",
    "  ferrite routing findprovs QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o\n",
    "  ferrite routing findprovs -n 5 -v bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
))]
pub struct Findprovs {
    /// The CID.
    #[arg(required = true, value_name = "CID")]
    #[serde(rename = "arg", default)]
    pub key: Vec<String>,
    /// How many providers to find.
    #[arg(short = 'n', long = "num-providers", default_value_t = 20)]
    #[serde(rename = "num-providers", default = "twenty")]
    pub num_providers: u64,
    /// Print each provider's addresses too.
    #[arg(short, long)]
    #[serde(default)]
    pub verbose: bool,
    /// Providers already printed (each is printed once).
    #[arg(skip)]
    #[serde(skip)]
    printed: RefCell<HashSet<String>>,
}

fn twenty() -> u64 {
    20
}

impl Command for Findprovs {
    const PATH: &'static str = "routing/findprovs";
    type Item = Event;
    const NEEDS: Needs = Needs::Network;

    fn encoding(&self) -> Encoding {
        Encoding::Stream
    }

    fn run(&self, ctx: &Ctx, emit: Emit<'_, Event>) -> Result<(), ApiError> {
        let net = ctx.net()?;
        required(&self.key, "key")?;
        let path = IpfsPath::parse(&self.key[0]).map_err(|e| ApiError::client(e.to_string()))?;
        if self.num_providers == 0 {
            return Err(ApiError::client(
                "number of providers must be greater than 0",
            ));
        }
        let mut rx = net
            .find_providers(path.root, self.num_providers as usize)
            .map_err(fail)?;
        while let Some(p) = ctx.wait(rx.recv())? {
            emit(event(PROVIDER, p.peer, &p.addrs))?;
        }
        Ok(())
    }

    /// Each provider's peer ID once (`-v`: `provider: <id>` and its
    /// addresses tab-indented, as Kubo prints them).
    fn text(&self, e: &Event, out: &mut dyn Write) -> io::Result<()> {
        if e.kind != PROVIDER {
            return Ok(());
        }
        for r in &e.responses {
            if r.id.is_empty() || !self.printed.borrow_mut().insert(r.id.clone()) {
                continue;
            }
            if self.verbose {
                writeln!(out, "provider: {}", r.id)?;
                for a in &r.addrs {
                    writeln!(out, "\t{a}")?;
                }
            } else {
                writeln!(out, "{}", r.id)?;
            }
        }
        Ok(())
    }
}

/// Find the addresses of a peer.
#[derive(clap::Args, Serialize, Deserialize)]
#[command(
    after_help = "Examples:\n  ferrite routing findpeer 12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp"
)]
pub struct Findpeer {
    /// The peer ID.
    #[arg(required = true, value_name = "PEER")]
    #[serde(rename = "arg", default)]
    pub peer: Vec<String>,
}

impl Command for Findpeer {
    const PATH: &'static str = "routing/findpeer";
    type Item = Event;
    const NEEDS: Needs = Needs::Network;

    fn run(&self, ctx: &Ctx, emit: Emit<'_, Event>) -> Result<(), ApiError> {
        let net = ctx.net()?;
        required(&self.peer, "peerID")?;
        let s = &self.peer[0];
        let peer: ferrite_node::net::PeerId = s
            .parse()
            .map_err(|e| ApiError::client(format!("invalid peer ID {s:?}: {e}")))?;
        if peer == net.peer_id() {
            return Err(ApiError::internal("cannot look up self"));
        }
        let addrs = ctx.wait(net.find_peer(peer))?.map_err(fail)?;
        emit(event(FINAL_PEER, peer, &addrs))?;
        Ok(())
    }

    /// The peer's addresses, one per line.
    fn text(&self, e: &Event, out: &mut dyn Write) -> io::Result<()> {
        if e.kind != FINAL_PEER {
            return Ok(());
        }
        for r in &e.responses {
            r.addrs.iter().try_for_each(|a| writeln!(out, "{a}"))?;
        }
        Ok(())
    }
}

/// Announce to the network that this node provides CIDs.
#[derive(clap::Args, Serialize, Deserialize)]
#[command(after_help = concat!(
    "Examples:\n",
    "  ferrite routing provide QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o\n",
    "  ferrite routing provide -r bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
))]
pub struct Provide {
    /// The CIDs (blocks this node has).
    #[arg(required = true)]
    #[serde(rename = "arg", default)]
    pub cids: Vec<String>,
    /// Also provide every block below them.
    #[arg(short, long)]
    #[serde(default)]
    pub recursive: bool,
}

impl Command for Provide {
    const PATH: &'static str = "routing/provide";
    type Item = Event;
    const NEEDS: Needs = Needs::Network;

    fn encoding(&self) -> Encoding {
        Encoding::Stream
    }

    /// Announces the CIDs (with `recursive`, every block below them) and
    /// answers (an empty stream) once the records are sent.
    fn run(&self, ctx: &Ctx, _emit: Emit<'_, Event>) -> Result<(), ApiError> {
        let net = ctx.net()?;
        let node = ctx.node()?;
        required(&self.cids, "key")?;
        let mut cids = Vec::new();
        for a in &self.cids {
            let cid = ferrite_ipld::parse_cid(a).map_err(|e| ApiError::client(e.to_string()))?;
            if !node.has_block(&cid)? {
                return Err(ApiError::internal(format!(
                    "block {cid} not found locally, cannot provide"
                )));
            }
            cids.push(cid);
        }
        if self.recursive {
            let opts = ferrite_node::RefsOptions {
                recursive: true,
                unique: true,
                max_depth: None,
            };
            let mut below = Vec::new();
            node.offline().refs(&self.cids, &opts, &mut |r| {
                below.push(r.dst);
                Ok(())
            })?;
            cids.extend(below);
        }
        ctx.wait(net.provide(cids))?.map_err(fail)?;
        Ok(())
    }

    fn text(&self, _e: &Event, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::text_of as text;

    fn findprovs(verbose: bool) -> Findprovs {
        Findprovs {
            key: vec![],
            num_providers: 20,
            verbose,
            printed: RefCell::default(),
        }
    }

    #[test]
    fn providers_once_per_line() {
        let events = [
            r#"{"Extra":"","ID":"","Responses":[{"Addrs":["/ip4/10.0.0.2/tcp/4001"],"ID":"12D3A"}],"Type":4}"#,
            r#"{"Extra":"","ID":"12D3X","Responses":null,"Type":0}"#,
            r#"{"Extra":"","ID":"","Responses":[{"Addrs":[],"ID":"12D3B"}],"Type":4}"#,
            r#"{"Extra":"","ID":"","Responses":[{"Addrs":[],"ID":"12D3A"}],"Type":4}"#,
        ];
        let c = findprovs(false);
        let all: String = events.iter().map(|e| text(&c, e)).collect();
        assert_eq!(all, "12D3A\n12D3B\n");
        assert_eq!(
            text(&findprovs(true), events[0]),
            "provider: 12D3A\n\t/ip4/10.0.0.2/tcp/4001\n"
        );
    }

    #[test]
    fn findpeer_addresses() {
        let c = Findpeer { peer: vec![] };
        assert_eq!(
            text(
                &c,
                r#"{"Extra":"","ID":"","Responses":[{"ID":"12D3A","Addrs":["/ip4/10.0.0.2/tcp/4001","/ip4/10.0.0.2/udp/4001/quic-v1"]}],"Type":2}"#
            ),
            "/ip4/10.0.0.2/tcp/4001\n/ip4/10.0.0.2/udp/4001/quic-v1\n"
        );
    }
}
