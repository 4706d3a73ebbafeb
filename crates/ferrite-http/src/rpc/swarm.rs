//! `swarm peers|connect|disconnect|addrs[/local|/listen]`: the libp2p
//! host's connections.

use crate::command::{fail, nullable, required, route, Command, Ctx, Emit, Needs};
use crate::rpc::ApiError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{self, Write};

/// The `swarm` commands.
pub(super) const COMMANDS: &[super::Route] = &[
    route::<Peers>(),
    route::<Connect>(),
    route::<Disconnect>(),
    route::<Addrs>(),
    route::<AddrsLocal>(),
    route::<AddrsListen>(),
];

fn parse_addr(s: &str) -> Result<ferrite_node::net::Multiaddr, ApiError> {
    s.parse()
        .map_err(|e| ApiError::client(format!("invalid multiaddr {s:?}: {e}")))
}

/// List the peers with open connections.
#[derive(clap::Args, Serialize, Deserialize)]
#[command(
    after_help = "Examples:\n  ferrite swarm peers\n  ferrite swarm peers --latency --direction"
)]
pub struct Peers {
    /// Show latency, direction and streams too.
    #[arg(short, long)]
    #[serde(default)]
    pub verbose: bool,
    /// Show each connection's streams.
    #[arg(long)]
    #[serde(default)]
    pub streams: bool,
    /// Show each peer's latency.
    #[arg(long)]
    #[serde(default)]
    pub latency: bool,
    /// Show each connection's direction (inbound/outbound).
    #[arg(long)]
    #[serde(default)]
    pub direction: bool,
}

/// `{"Peers":[…]}` (`null` when there are none, as Kubo sends it).
#[derive(Debug, Serialize, Deserialize)]
pub struct PeerList {
    /// The connections.
    #[serde(rename = "Peers", default)]
    pub peers: Option<Vec<SwarmPeer>>,
}

/// One connection (Kubo's `connInfo`); the optional fields only when asked.
#[derive(Debug, Serialize, Deserialize)]
pub struct SwarmPeer {
    /// The remote address.
    #[serde(rename = "Addr")]
    pub addr: String,
    /// The remote peer ID.
    #[serde(rename = "Peer")]
    pub peer: String,
    /// Round-trip time, Go's duration text.
    #[serde(rename = "Latency", default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<String>,
    /// 1 inbound, 2 outbound.
    #[serde(rename = "Direction", default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<u8>,
    /// Open streams.
    #[serde(rename = "Streams", default, skip_serializing_if = "Option::is_none")]
    pub streams: Option<Vec<Stream>>,
}

/// One stream of a connection.
#[derive(Debug, Serialize, Deserialize)]
pub struct Stream {
    /// Its protocol (empty if not negotiated).
    #[serde(rename = "Protocol", default)]
    pub protocol: String,
}

impl Command for Peers {
    const PATH: &'static str = "swarm/peers";
    type Item = PeerList;
    const NEEDS: Needs = Needs::Network;

    fn run(&self, ctx: &Ctx, emit: Emit<'_, PeerList>) -> Result<(), ApiError> {
        let latency = self.verbose || self.latency;
        let direction = self.verbose || self.direction;
        let peers: Vec<SwarmPeer> = ctx
            .wait(ctx.net()?.peers())?
            .map_err(fail)?
            .into_iter()
            .map(|p| SwarmPeer {
                addr: p.addr.to_string(),
                peer: p.peer.to_string(),
                latency: latency.then(|| p.latency.map(|d| format!("{d:?}")).unwrap_or_default()),
                direction: direction.then_some(if p.outbound { 2 } else { 1 }),
                streams: None,
            })
            .collect();
        emit(PeerList {
            peers: (!peers.is_empty()).then_some(peers),
        })?;
        Ok(())
    }

    /// Kubo's text: `<addr>/p2p/<peer>`, then latency and direction when
    /// filled in, then one line per stream.
    fn text(&self, list: &PeerList, out: &mut dyn Write) -> io::Result<()> {
        for p in list.peers.iter().flatten() {
            write!(out, "{}/p2p/{}", p.addr, p.peer)?;
            if let Some(l) = p.latency.as_deref().filter(|l| !l.is_empty()) {
                write!(out, " {l}")?;
            }
            match p.direction {
                Some(1) => write!(out, " inbound")?,
                Some(2) => write!(out, " outbound")?,
                _ => {}
            }
            writeln!(out)?;
            for s in p.streams.iter().flatten() {
                let proto = match s.protocol.as_str() {
                    "" => "<no protocol name>",
                    p => p,
                };
                writeln!(out, "  {proto}")?;
            }
        }
        Ok(())
    }
}

/// `{"Strings":[…]}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Strings {
    /// One line each.
    #[serde(rename = "Strings", default, deserialize_with = "nullable")]
    pub strings: Vec<String>,
}

/// One line per string.
pub(crate) fn lines(s: &Strings, out: &mut dyn Write) -> io::Result<()> {
    s.strings.iter().try_for_each(|l| writeln!(out, "{l}"))
}

/// Open connections to peers (multiaddrs ending in /p2p/<peer ID>).
#[derive(clap::Args, Serialize, Deserialize)]
#[command(
    after_help = "Examples:\n  ferrite swarm connect /ip4/10.0.0.1/tcp/4001/p2p/12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp"
)]
pub struct Connect {
    /// The peers' addresses.
    #[arg(required = true)]
    #[serde(rename = "arg", default)]
    pub addrs: Vec<String>,
}

impl Command for Connect {
    const PATH: &'static str = "swarm/connect";
    type Item = Strings;
    const NEEDS: Needs = Needs::Network;

    fn run(&self, ctx: &Ctx, emit: Emit<'_, Strings>) -> Result<(), ApiError> {
        let net = ctx.net()?;
        required(&self.addrs, "address")?;
        let mut strings = Vec::new();
        for a in &self.addrs {
            let peer = ctx
                .wait(net.connect(parse_addr(a)?))?
                .map_err(|e| fail(format!("connect {a} {e}")))?;
            strings.push(format!("connect {peer} success"));
        }
        emit(Strings { strings })?;
        Ok(())
    }

    fn text(&self, s: &Strings, out: &mut dyn Write) -> io::Result<()> {
        lines(s, out)
    }
}

/// Close connections to peers.
#[derive(clap::Args, Serialize, Deserialize)]
#[command(
    after_help = "Examples:\n  ferrite swarm disconnect /ip4/10.0.0.1/tcp/4001/p2p/12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp"
)]
pub struct Disconnect {
    /// The peers' addresses.
    #[arg(required = true)]
    #[serde(rename = "arg", default)]
    pub addrs: Vec<String>,
}

impl Command for Disconnect {
    const PATH: &'static str = "swarm/disconnect";
    type Item = Strings;
    const NEEDS: Needs = Needs::Network;

    fn run(&self, ctx: &Ctx, emit: Emit<'_, Strings>) -> Result<(), ApiError> {
        let net = ctx.net()?;
        required(&self.addrs, "address")?;
        let mut strings = Vec::new();
        for a in &self.addrs {
            strings.push(match ctx.wait(net.disconnect(parse_addr(a)?))? {
                Ok(peer) => format!("disconnect {peer} success"),
                Err(e) => format!("disconnect {a} failure: {e}"),
            });
        }
        emit(Strings { strings })?;
        Ok(())
    }

    fn text(&self, s: &Strings, out: &mut dyn Write) -> io::Result<()> {
        lines(s, out)
    }
}

/// List the known addresses of peers.
#[derive(clap::Args, Serialize, Deserialize)]
pub struct Addrs {}

/// `{"Addrs":{"<peer>":["ma",…]}}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct AddrMap {
    /// Each peer's addresses.
    #[serde(rename = "Addrs", default, deserialize_with = "nullable")]
    pub addrs: BTreeMap<String, Vec<String>>,
}

impl Command for Addrs {
    const PATH: &'static str = "swarm/addrs";
    type Item = AddrMap;
    const NEEDS: Needs = Needs::Network;

    fn run(&self, ctx: &Ctx, emit: Emit<'_, AddrMap>) -> Result<(), ApiError> {
        let addrs = ctx
            .wait(ctx.net()?.known_addrs())?
            .map_err(fail)?
            .into_iter()
            .map(|(p, a)| (p.to_string(), a.iter().map(|m| m.to_string()).collect()))
            .collect();
        emit(AddrMap { addrs })?;
        Ok(())
    }

    /// Kubo's text: peers sorted, `<peer> (<n>)`, then the addresses
    /// tab-indented.
    fn text(&self, m: &AddrMap, out: &mut dyn Write) -> io::Result<()> {
        for (p, addrs) in &m.addrs {
            writeln!(out, "{p} ({})", addrs.len())?;
            for a in addrs {
                writeln!(out, "\t{a}")?;
            }
        }
        Ok(())
    }
}

/// The addresses this node announces.
#[derive(clap::Args, Serialize, Deserialize)]
#[command(after_help = "Examples:\n  ferrite swarm addrs local\n  ferrite swarm addrs local --id")]
pub struct AddrsLocal {
    /// Append /p2p/<our peer ID> to each address.
    #[arg(long)]
    #[serde(default)]
    pub id: bool,
}

impl Command for AddrsLocal {
    const PATH: &'static str = "swarm/addrs/local";
    type Item = Strings;
    const NEEDS: Needs = Needs::Network;

    fn run(&self, ctx: &Ctx, emit: Emit<'_, Strings>) -> Result<(), ApiError> {
        let net = ctx.net()?;
        let (_, announced) = ctx.wait(net.listen_addrs())?.map_err(fail)?;
        let id = net.peer_id();
        let strings = announced
            .iter()
            .map(|a| match self.id {
                true => format!("{a}/p2p/{id}"),
                false => a.to_string(),
            })
            .collect();
        emit(Strings { strings })?;
        Ok(())
    }

    fn text(&self, s: &Strings, out: &mut dyn Write) -> io::Result<()> {
        lines(s, out)
    }
}

/// The addresses this node listens on.
#[derive(clap::Args, Serialize, Deserialize)]
#[command(after_help = "Examples:\n  ferrite swarm addrs listen")]
pub struct AddrsListen {}

impl Command for AddrsListen {
    const PATH: &'static str = "swarm/addrs/listen";
    type Item = Strings;
    const NEEDS: Needs = Needs::Network;

    fn run(&self, ctx: &Ctx, emit: Emit<'_, Strings>) -> Result<(), ApiError> {
        let (listen, _) = ctx.wait(ctx.net()?.listen_addrs())?.map_err(fail)?;
        emit(Strings {
            strings: listen.iter().map(|a| a.to_string()).collect(),
        })?;
        Ok(())
    }

    fn text(&self, s: &Strings, out: &mut dyn Write) -> io::Result<()> {
        lines(s, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::text_of as text;

    #[test]
    fn peers_text() {
        let p = Peers {
            verbose: false,
            streams: false,
            latency: false,
            direction: false,
        };
        let j = r#"{"Peers":[
            {"Addr":"/ip4/10.0.0.2/tcp/4001","Peer":"12D3A","Latency":"","Muxer":"","Direction":0,"Streams":null},
            {"Addr":"/ip4/10.0.0.3/udp/4001/quic-v1","Peer":"12D3B","Latency":"1.5ms","Muxer":"","Direction":2,
             "Streams":[{"Protocol":"/ipfs/bitswap/1.2.0"},{"Protocol":""}]}]}"#;
        assert_eq!(
            text(&p, j),
            "/ip4/10.0.0.2/tcp/4001/p2p/12D3A\n\
             /ip4/10.0.0.3/udp/4001/quic-v1/p2p/12D3B 1.5ms outbound\n  /ipfs/bitswap/1.2.0\n  <no protocol name>\n"
        );
        assert_eq!(text(&p, r#"{"Peers":null}"#), "");
    }

    #[test]
    fn strings_text() {
        let c = Connect { addrs: vec![] };
        assert_eq!(
            text(
                &c,
                r#"{"Strings":["connect 12D3A success","connect 12D3B success"]}"#
            ),
            "connect 12D3A success\nconnect 12D3B success\n"
        );
        assert_eq!(text(&c, r#"{"Strings":null}"#), "");
    }

    #[test]
    fn addrs_text_sorted() {
        let j = r#"{"Addrs":{"12D3B":["/ip4/10.0.0.3/tcp/4001"],"12D3A":["/ip4/10.0.0.2/tcp/4001","/ip6/::1/tcp/4001"]}}"#;
        assert_eq!(
            text(&Addrs {}, j),
            "12D3A (2)\n\t/ip4/10.0.0.2/tcp/4001\n\t/ip6/::1/tcp/4001\n12D3B (1)\n\t/ip4/10.0.0.3/tcp/4001\n"
        );
    }
}
