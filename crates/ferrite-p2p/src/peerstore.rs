//! A small file of known peers' addresses, so a restarted node can reach
//! its peers (and answer `FIND_NODE`/findpeer) before any lookup.
//!
//! The file is JSON: `{"version": 1, "peers": [{"id": "12D3…", "addrs":
//! ["/ip4/…"], "dht": true}]}`. It is written durably (temporary file,
//! fsync, rename, fsync of the directory), so a crash leaves either the old
//! or the new file.

use std::fs;
use std::io::{self, Write as _};
use std::path::Path;

use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use serde_json::{json, Value};

/// Most peers a peerstore file holds.
pub const MAX_PEERS: usize = 1000;

/// Most addresses kept per peer.
pub const MAX_ADDRS_PER_PEER: usize = 16;

/// A peer and its addresses (without `/p2p/` suffix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerAddrs {
    /// The peer.
    pub peer: PeerId,
    /// Its addresses.
    pub addrs: Vec<Multiaddr>,
    /// Whether it was in the DHT routing table (a DHT server); such peers
    /// go back into the routing table when loaded.
    pub dht: bool,
}

/// `addr` without a trailing `/p2p/<peer>`.
pub fn strip_p2p(addr: &Multiaddr) -> Multiaddr {
    let mut a = addr.clone();
    if matches!(a.iter().last(), Some(Protocol::P2p(_))) {
        a.pop();
    }
    a
}

/// Writes `peers` (at most [`MAX_PEERS`]) to `path` durably.
pub fn save_peers(path: &Path, peers: &[PeerAddrs]) -> io::Result<()> {
    let list: Vec<Value> = peers
        .iter()
        .take(MAX_PEERS)
        .map(|p| {
            json!({
                "id": p.peer.to_base58(),
                "addrs": p.addrs.iter().take(MAX_ADDRS_PER_PEER).map(|a| a.to_string()).collect::<Vec<_>>(),
                "dht": p.dht,
            })
        })
        .collect();
    let body = serde_json::to_vec_pretty(&json!({"version": 1, "peers": list}))
        .map_err(io::Error::other)?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "peerstore".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(&body)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        if let Ok(d) = fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Reads a peerstore file; a missing file is an empty list. Entries that
/// do not parse are skipped.
pub fn load_peers(path: &Path) -> io::Result<Vec<PeerAddrs>> {
    let body = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let v: Value =
        serde_json::from_slice(&body).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let mut out = Vec::new();
    for p in v["peers"].as_array().into_iter().flatten() {
        let Some(peer) = p["id"].as_str().and_then(|s| s.parse::<PeerId>().ok()) else {
            continue;
        };
        let addrs: Vec<Multiaddr> = p["addrs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str()?.parse::<Multiaddr>().ok())
            .map(|a| strip_p2p(&a))
            .take(MAX_ADDRS_PER_PEER)
            .collect();
        if addrs.is_empty() {
            continue;
        }
        out.push(PeerAddrs {
            peer,
            addrs,
            dht: p["dht"].as_bool().unwrap_or(false),
        });
        if out.len() >= MAX_PEERS {
            break;
        }
    }
    Ok(out)
}
