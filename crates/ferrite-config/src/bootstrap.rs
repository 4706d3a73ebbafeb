//! The `Bootstrap` list: the peers a node dials at start, edited by
//! `ferrite bootstrap add|rm` and `ferrite init --bootstrap`, locally and
//! through the RPC API alike (the same rules and messages both ways).
//!
//! As in Kubo, every entry must be a multiaddr with a transport that ends in
//! `/p2p/<peer ID>`; `add` puts the new entries first and never stores one
//! twice; `rm` removes equal multiaddrs (`/ipfs/…` and `/p2p/…` are the
//! same), and a bare `/p2p/<peer ID>` removes every address of that peer.

use multiaddr::{Multiaddr, Protocol};
use serde_json::Value;

use crate::error::{invalid, ConfigError, Result};
use crate::Config;

/// Kubo's public bootstrap peers; only the `public` profile uses them.
pub const PUBLIC_BOOTSTRAP_PEERS: [&str; 7] = [
    "/dnsaddr/bootstrap.libp2p.io/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN",
    "/dnsaddr/bootstrap.libp2p.io/p2p/QmQCU2EcMqAqQPR2i9bChDtGNJchTbq5TbXJJ16u19uLTa",
    "/dnsaddr/bootstrap.libp2p.io/p2p/QmbLHAnMoJPWSCR5Zhtx6BHJX9KiKNN6tpvbUcqanj75Nb",
    "/dnsaddr/bootstrap.libp2p.io/p2p/QmcZf59bWwK5XFi76CZX8cbJ4BhTzzA3gU1ZjYZcYW3dwt",
    "/dnsaddr/va1.bootstrap.libp2p.io/p2p/12D3KooWKnDdG3iXw9eTFijk3EWSunZcFi54Zka4wmtqtt6rPxc8",
    "/ip4/104.131.131.82/tcp/4001/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ",
    "/ip4/104.131.131.82/udp/4001/quic-v1/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ",
];

const KEY: &str = "Bootstrap";

fn bad(msg: String) -> ConfigError {
    ConfigError::BadInput(msg)
}

/// Parses a bootstrap address: a multiaddr with a transport part, ending in
/// `/p2p/<peer ID>`. The error is Kubo's `invalid bootstrap address: …`.
pub fn parse(addr: &str) -> Result<Multiaddr> {
    let ma: Multiaddr = addr
        .parse()
        .map_err(|e| bad(format!("invalid bootstrap address: {addr}: {e}")))?;
    match ma.iter().last() {
        Some(Protocol::P2p(_)) => {}
        _ => {
            return Err(bad(format!(
                "invalid bootstrap address: {addr}: it must end in /p2p/<peer ID>"
            )))
        }
    }
    if ma.iter().count() < 2 {
        return Err(bad(format!(
            "invalid bootstrap address: {addr}: no transport before /p2p/<peer ID>"
        )));
    }
    Ok(ma)
}

/// Checks every address of a list (see [`parse`]).
pub fn validate<S: AsRef<str>>(addrs: &[S]) -> Result<()> {
    addrs.iter().try_for_each(|a| parse(a.as_ref()).map(drop))
}

/// Kubo's default bootstrap peers (the public IPFS network): what
/// `bootstrap add --default` adds.
pub fn defaults() -> Vec<String> {
    PUBLIC_BOOTSTRAP_PEERS
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// The `Bootstrap` list as stored (missing or `null` is empty).
pub fn list(cfg: &Config) -> Result<Vec<String>> {
    cfg.section(KEY)
}

fn store(cfg: &mut Config, list: Vec<String>) -> Result<()> {
    cfg.set(KEY, Value::from(list))
}

/// Adds `peers` (validated, duplicates dropped) in front of the current list
/// and returns them, as Kubo's `bootstrap add` does (even those that were
/// already listed: they move to the front).
pub fn add<S: AsRef<str>>(cfg: &mut Config, peers: &[S]) -> Result<Vec<String>> {
    if peers.is_empty() {
        return Err(bad("no bootstrap peers to add".into()));
    }
    validate(peers)?;
    let mut added: Vec<String> = Vec::new();
    for p in peers {
        let p = p.as_ref();
        if !added.iter().any(|a| a == p) {
            added.push(p.to_owned());
        }
    }
    let mut all = added.clone();
    for p in list(cfg)? {
        if !all.contains(&p) {
            all.push(p);
        }
    }
    store(cfg, all)?;
    Ok(added)
}

/// Removes `peers` from the list and returns what was removed, in list
/// order. An address removes the entries equal to it; a bare
/// `/p2p/<peer ID>` removes every entry of that peer.
pub fn remove<S: AsRef<str>>(cfg: &mut Config, peers: &[S]) -> Result<Vec<String>> {
    if peers.is_empty() {
        return Err(bad("no bootstrap peers to remove".into()));
    }
    let targets = peers
        .iter()
        .map(|p| parse_removal(p.as_ref()))
        .collect::<Result<Vec<_>>>()?;
    let (mut keep, mut removed) = (Vec::new(), Vec::new());
    for entry in list(cfg)? {
        let parsed: Option<Multiaddr> = entry.parse().ok();
        let hit = targets.iter().any(|t| match (t, &parsed) {
            (Removal::Peer(id), Some(ma)) => peer_of(ma).as_ref() == Some(id),
            (Removal::Addr(t), Some(ma)) => t == ma,
            (Removal::Addr(t), None) => t.to_string() == entry,
            (Removal::Peer(_), None) => false,
        });
        if hit {
            removed.push(entry);
        } else {
            keep.push(entry);
        }
    }
    if !removed.is_empty() {
        store(cfg, keep)?;
    }
    Ok(removed)
}

/// Empties the list; returns what it held.
pub fn remove_all(cfg: &mut Config) -> Result<Vec<String>> {
    let old = list(cfg)?;
    store(cfg, Vec::new())?;
    Ok(old)
}

/// Replaces the list with exactly `peers` (validated, duplicates dropped):
/// `ferrite init --bootstrap`.
pub fn set<S: AsRef<str>>(cfg: &mut Config, peers: &[S]) -> Result<()> {
    validate(peers)?;
    let mut all: Vec<String> = Vec::new();
    for p in peers {
        if !all.iter().any(|a| a == p.as_ref()) {
            all.push(p.as_ref().to_owned());
        }
    }
    store(cfg, all)
}

enum Removal {
    Peer(String),
    Addr(Multiaddr),
}

fn parse_removal(addr: &str) -> Result<Removal> {
    let ma: Multiaddr = addr
        .parse()
        .map_err(|e| bad(format!("invalid bootstrap address: {addr}: {e}")))?;
    match (ma.iter().count(), ma.iter().last()) {
        (1, Some(Protocol::P2p(id))) => Ok(Removal::Peer(id.to_string())),
        (_, Some(Protocol::P2p(_))) => Ok(Removal::Addr(ma)),
        _ => Err(bad(format!(
            "invalid bootstrap address: {addr}: it must end in /p2p/<peer ID>"
        ))),
    }
}

fn peer_of(ma: &Multiaddr) -> Option<String> {
    match ma.iter().last() {
        Some(Protocol::P2p(id)) => Some(id.to_string()),
        _ => None,
    }
}

impl Config {
    /// `Bootstrap`: peer multiaddrs to dial at start. Kubo's `"auto"`
    /// placeholder is refused: Ferrite does not fetch peer lists from
    /// public services.
    pub fn bootstrap(&self) -> Result<Vec<String>> {
        let list = list(self)?;
        if list.iter().any(|a| a == "auto") {
            return Err(invalid(
                "Bootstrap",
                "\"auto\" (Kubo's AutoConf placeholder) is not supported: list the peers \
                 explicitly, or apply the 'public' profile for the public IPFS network",
            ));
        }
        Ok(list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str =
        "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWLyp7V7DCnFMHYt5r7tRUmaE1NyuxXZz8ZFrUWYgUhg5W";
    const A_UDP: &str =
        "/ip4/127.0.0.1/udp/4001/quic-v1/p2p/12D3KooWLyp7V7DCnFMHYt5r7tRUmaE1NyuxXZz8ZFrUWYgUhg5W";
    const B: &str = "/ip4/127.0.0.2/tcp/4001/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN";

    fn cfg() -> Config {
        Config::init(&["test"]).unwrap()
    }

    #[test]
    fn parse_requires_transport_and_peer() {
        parse(A).unwrap();
        parse(B).unwrap();
        for bad in [
            "/ip4/127.0.0.1/tcp/4001",
            "/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN",
            "not-a-multiaddr",
            "/ip4/127.0.0.1/tcp/4001/p2p/notapeer",
        ] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(e.starts_with("invalid bootstrap address: "), "{e}");
        }
    }

    #[test]
    fn add_puts_new_first_without_duplicates() {
        let mut c = cfg();
        set(&mut c, &[B]).unwrap();
        assert_eq!(add(&mut c, &[A, A]).unwrap(), [A]);
        assert_eq!(list(&c).unwrap(), [A, B]);
        assert_eq!(add(&mut c, &[B]).unwrap(), [B]);
        assert_eq!(list(&c).unwrap(), [B, A]);
        assert!(add(&mut c, &["/ip4/1.2.3.4/tcp/1"]).is_err());
        assert_eq!(list(&c).unwrap(), [B, A]);
        assert!(add::<&str>(&mut c, &[]).is_err());
    }

    #[test]
    fn remove_by_address_or_peer() {
        let mut c = cfg();
        set(&mut c, &[A, A_UDP, B]).unwrap();
        let a_ipfs = A.replace("/p2p/", "/ipfs/");
        assert_eq!(remove(&mut c, &[a_ipfs]).unwrap(), [A]);
        assert_eq!(list(&c).unwrap(), [A_UDP, B]);
        set(&mut c, &[A, A_UDP, B]).unwrap();
        let peer = format!("/p2p/{}", A.rsplit('/').next().unwrap());
        assert_eq!(remove(&mut c, &[peer]).unwrap(), [A, A_UDP]);
        assert_eq!(list(&c).unwrap(), [B]);
        assert!(remove(&mut c, &[A]).unwrap().is_empty());
        assert_eq!(remove_all(&mut c).unwrap(), [B]);
        assert!(list(&c).unwrap().is_empty());
    }

    #[test]
    fn defaults_are_valid() {
        validate(&defaults()).unwrap();
    }
}
