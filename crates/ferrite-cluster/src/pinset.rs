//! The replicated state: a pinset with IPFS Cluster semantics.
//!
//! Everything here must be deterministic: every peer applies the same log and
//! must end with byte-identical state, so nothing reads clocks or randomness
//! at apply time (timestamps travel inside the command).

use std::collections::BTreeMap;

use ferrite_ipld::Cid;
use libp2p::PeerId;
use serde::{Deserialize, Serialize};

/// How a CID is pinned on the peers it is allocated to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PinMode {
    /// Pin the root and everything reachable from it.
    #[default]
    Recursive,
    /// Pin only the root block.
    Direct,
}

/// One entry of the shared pinset, field names follow IPFS Cluster's JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterPin {
    /// The pinned CID (its text form in JSON and in the Raft log).
    #[serde(with = "crate::text")]
    pub cid: Cid,
    /// Human readable name.
    #[serde(default)]
    pub name: String,
    /// Recursive or direct pin.
    #[serde(default)]
    pub mode: PinMode,
    /// Minimum number of peers that must hold the pin (-1 = every peer).
    #[serde(rename = "replication_factor_min", default = "everywhere")]
    pub replication_min: i32,
    /// Maximum number of peers that should hold the pin (-1 = every peer).
    #[serde(rename = "replication_factor_max", default = "everywhere")]
    pub replication_max: i32,
    /// Cluster peer IDs this pin is allocated to (empty with -1 factors =
    /// everyone); base58 text in JSON and in the Raft log.
    #[serde(default, with = "crate::text::seq")]
    pub allocations: Vec<PeerId>,
    /// Unix seconds after which the pin may be removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_at: Option<u64>,
    /// Free-form user metadata.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Unix seconds when the pin was submitted (set by the submitter, not at apply).
    #[serde(default)]
    pub timestamp: u64,
}

fn everywhere() -> i32 {
    -1
}

impl ClusterPin {
    /// A recursive pin replicated everywhere, with empty name and metadata.
    pub fn new(cid: Cid) -> Self {
        ClusterPin {
            cid,
            name: String::new(),
            mode: PinMode::Recursive,
            replication_min: -1,
            replication_max: -1,
            allocations: Vec::new(),
            expire_at: None,
            metadata: BTreeMap::new(),
            timestamp: 0,
        }
    }
}

/// A state-machine command; one Raft log entry carries exactly one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// Insert or replace the pin for `pin.cid`.
    Pin(ClusterPin),
    /// Remove the pin for `cid` (a no-op if absent).
    Unpin {
        /// The CID of the pin to remove.
        #[serde(with = "crate::text")]
        cid: Cid,
    },
    /// Several commands applied in order in one log entry (throughput: one
    /// fsync and one round of replication for many pins).
    Batch(Vec<Command>),
}

/// Result of applying one [`Command`] (or a non-command log entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    /// A pin was stored; `replaced` says whether one existed before.
    Pinned {
        /// The CID.
        #[serde(with = "crate::text")]
        cid: Cid,
        /// True when an existing pin was overwritten.
        replaced: bool,
    },
    /// An unpin was applied; `existed` says whether there was anything to remove.
    Unpinned {
        /// The CID.
        #[serde(with = "crate::text")]
        cid: Cid,
        /// True when a pin was actually removed.
        existed: bool,
    },
    /// One response per command of a [`Command::Batch`], in order.
    Batch(Vec<Response>),
    /// Blank or membership entries carry no command.
    None,
}

/// Minimal mutable view of a pinset so the same apply logic works over the
/// in-memory map (tests, snapshots) and over the redb table (the real store).
pub trait PinStore {
    /// Error raised by the backing store.
    type Error;
    /// Insert or replace; returns whether a pin existed before.
    fn put(&mut self, pin: &ClusterPin) -> Result<bool, Self::Error>;
    /// Remove; returns whether a pin existed.
    fn remove(&mut self, cid: &Cid) -> Result<bool, Self::Error>;
}

impl PinStore for BTreeMap<Cid, ClusterPin> {
    type Error = std::convert::Infallible;

    fn put(&mut self, pin: &ClusterPin) -> Result<bool, Self::Error> {
        Ok(self.insert(pin.cid, pin.clone()).is_some())
    }

    fn remove(&mut self, cid: &Cid) -> Result<bool, Self::Error> {
        Ok(BTreeMap::remove(self, cid).is_some())
    }
}

/// Applies `cmd` to `store`. Deterministic: the result depends only on the
/// command and the prior contents.
pub fn apply<S: PinStore>(store: &mut S, cmd: &Command) -> Result<Response, S::Error> {
    Ok(match cmd {
        Command::Pin(pin) => Response::Pinned {
            cid: pin.cid,
            replaced: store.put(pin)?,
        },
        Command::Unpin { cid } => Response::Unpinned {
            cid: *cid,
            existed: store.remove(cid)?,
        },
        Command::Batch(cmds) => {
            let mut out = Vec::with_capacity(cmds.len());
            for c in cmds {
                out.push(apply(store, c)?);
            }
            Response::Batch(out)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CID: &str = "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn";

    fn cid() -> Cid {
        CID.parse().unwrap()
    }

    #[test]
    fn apply_is_insert_replace_remove() {
        let mut m = BTreeMap::new();
        let p = ClusterPin::new(cid());
        assert_eq!(
            apply(&mut m, &Command::Pin(p.clone())).unwrap(),
            Response::Pinned {
                cid: cid(),
                replaced: false
            }
        );
        let batch = Command::Batch(vec![
            Command::Pin(p.clone()),
            Command::Unpin { cid: cid() },
            Command::Unpin { cid: cid() },
        ]);
        let Response::Batch(r) = apply(&mut m, &batch).unwrap() else {
            panic!("batch response expected")
        };
        assert_eq!(
            r[0],
            Response::Pinned {
                cid: cid(),
                replaced: true
            }
        );
        assert_eq!(
            r[1],
            Response::Unpinned {
                cid: cid(),
                existed: true
            }
        );
        assert_eq!(
            r[2],
            Response::Unpinned {
                cid: cid(),
                existed: false
            }
        );
        assert!(m.is_empty());
    }

    #[test]
    fn json_uses_cluster_field_names() {
        let mut p = ClusterPin::new(cid());
        p.mode = PinMode::Direct;
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["replication_factor_min"], -1);
        assert_eq!(v["mode"], "direct");
        assert_eq!(v["cid"], CID);
        let back: ClusterPin =
            serde_json::from_str(&format!(r#"{{"cid":"{CID}","mode":"direct"}}"#)).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn log_entries_keep_cid_text() {
        // The form Raft logs had when CIDs were strings still reads.
        let old = format!(r#"{{"batch":[{{"unpin":{{"cid":"{CID}"}}}}]}}"#);
        let cmd: Command = serde_json::from_str(&old).unwrap();
        assert_eq!(cmd, Command::Batch(vec![Command::Unpin { cid: cid() }]));
        assert_eq!(serde_json::to_string(&cmd).unwrap(), old);
        let bad = serde_json::from_str::<Command>(r#"{"unpin":{"cid":"nope"}}"#).unwrap_err();
        assert!(bad.to_string().contains("\"nope\""), "{bad}");
    }

    #[test]
    fn log_entries_keep_peer_id_text() {
        // Allocations were base58 strings; they still are.
        const PEER: &str = "12D3KooWHk4d8vbtoJ2Ax5ygxU4YgD9yJmjTjuEF5xXf7rUxJu3W";
        let mut p = ClusterPin::new(cid());
        p.allocations = vec![PEER.parse().unwrap()];
        let v = serde_json::to_value(Command::Pin(p.clone())).unwrap();
        assert_eq!(v["pin"]["allocations"], serde_json::json!([PEER]));
        let back: Command = serde_json::from_value(v).unwrap();
        assert_eq!(back, Command::Pin(p));
        let bad = format!(r#"{{"cid":"{CID}","allocations":["peer-1"]}}"#);
        let e = serde_json::from_str::<ClusterPin>(&bad).unwrap_err();
        assert!(e.to_string().contains("\"peer-1\""), "{e}");
    }
}
