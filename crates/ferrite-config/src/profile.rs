//! Profiles: named sets of changes applied by `ferrite init --profile` and
//! `ferrite config profile apply`.

use std::fmt;

use serde_json::{json, Value};

use crate::addresses::default_addresses;
use crate::bootstrap::PUBLIC_BOOTSTRAP_PEERS;
use crate::document::read_section;
use crate::error::{ConfigError, Result};
use crate::keys::{put, remove};
use crate::Config;

/// Private, local-only and otherwise not globally reachable ranges (IANA
/// special-purpose registries) that the `server` profile refuses to dial and
/// announce; the same list as Kubo's.
const SERVER_FILTERS: [&str; 19] = [
    "/ip4/10.0.0.0/ipcidr/8",
    "/ip4/100.64.0.0/ipcidr/10",
    "/ip4/127.0.0.0/ipcidr/8",
    "/ip4/169.254.0.0/ipcidr/16",
    "/ip4/172.16.0.0/ipcidr/12",
    "/ip4/192.0.0.0/ipcidr/24",
    "/ip4/192.0.2.0/ipcidr/24",
    "/ip4/192.168.0.0/ipcidr/16",
    "/ip4/198.18.0.0/ipcidr/15",
    "/ip4/198.51.100.0/ipcidr/24",
    "/ip4/203.0.113.0/ipcidr/24",
    "/ip4/240.0.0.0/ipcidr/4",
    "/ip6/::/ipcidr/3",
    "/ip6/::1/ipcidr/128",
    "/ip6/100::/ipcidr/64",
    "/ip6/2001:2::/ipcidr/48",
    "/ip6/2001:db8::/ipcidr/32",
    "/ip6/fc00::/ipcidr/7",
    "/ip6/fe80::/ipcidr/10",
];

/// What applying a profile changed, for `config profile apply` to print.
/// Both documents are [`Config::show`]-scrubbed (no private key).
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileChange {
    /// The configuration before.
    pub old: Value,
    /// The configuration after.
    pub new: Value,
}

/// A named set of configuration changes (`ferrite init --profile`,
/// `ferrite config profile apply`).
pub struct Profile {
    name: &'static str,
    description: &'static str,
    transform: fn(&mut Value) -> Result<(), String>,
}

impl Profile {
    /// The profile's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// A one-paragraph description for help output.
    pub fn description(&self) -> &'static str {
        self.description
    }
}

impl fmt::Debug for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Profile").field("name", &self.name).finish()
    }
}

impl Config {
    // ---- profiles ---------------------------------------------------------

    /// `config profile apply NAME`: applies a profile and returns the
    /// configuration before and after (scrubbed) for display. A result
    /// that breaks a check the configuration passed before (see
    /// [`Config::check_update`]) is refused and nothing changes.
    pub fn apply_profile(&mut self, name: &str) -> Result<ProfileChange> {
        let profile = find_profile(name)?;
        let old = self.show();
        let before = self.clone();
        self.run_profile(profile)?;
        if let Err(e) = self.check_update(&before) {
            *self = before;
            return Err(ConfigError::Profile {
                name: profile.name,
                message: e.to_string(),
            });
        }
        Ok(ProfileChange {
            old,
            new: self.show(),
        })
    }

    /// The configuration with a profile applied, leaving `self` unchanged
    /// (`config profile apply --dry-run`).
    pub fn with_profile(&self, name: &str) -> Result<Config> {
        let profile = find_profile(name)?;
        let mut c = self.clone();
        c.apply_profile(profile.name)?;
        Ok(c)
    }

    pub(crate) fn run_profile(&mut self, profile: &'static Profile) -> Result<()> {
        // Work on a copy so a profile failing half-way changes nothing.
        let mut doc = self.doc.clone();
        (profile.transform)(&mut doc).map_err(|message| ConfigError::Profile {
            name: profile.name,
            message,
        })?;
        self.doc = doc;
        Ok(())
    }
}

/// Every profile, in help order.
pub fn profiles() -> &'static [Profile] {
    PROFILES
}

/// The names of every profile.
pub fn profile_names() -> Vec<&'static str> {
    PROFILES.iter().map(|p| p.name).collect()
}

pub(crate) fn find_profile(name: &str) -> Result<&'static Profile> {
    PROFILES
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| ConfigError::UnknownProfile {
            name: name.to_owned(),
            known: profile_names(),
        })
}

pub(crate) fn resolve_profiles<S: AsRef<str>>(profiles: &[S]) -> Result<Vec<&'static Profile>> {
    profiles
        .iter()
        .flat_map(|s| s.as_ref().split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(find_profile)
        .collect()
}

static PROFILES: &[Profile] = &[
    Profile {
        name: "test",
        description: "Reduces external interference: listens on 127.0.0.1 with random ports, \
                      no bootstrap peers, no mDNS, no NAT port mapping. For tests.",
        transform: profile_test,
    },
    Profile {
        name: "default-networking",
        description: "Restores the default addresses, mDNS and NAT port mapping \
                      (the inverse of 'test'). Bootstrap is left as it is.",
        transform: profile_default_networking,
    },
    Profile {
        name: "server",
        description: "Disables local host discovery and refuses private and local \
                      address ranges; for machines with public IP addresses.",
        transform: profile_server,
    },
    Profile {
        name: "local-discovery",
        description: "Undoes 'server': removes its address filters and enables mDNS \
                      and NAT port mapping.",
        transform: profile_local_discovery,
    },
    Profile {
        name: "lowpower",
        description: "Reduces daemon overhead: DHT client only, no AutoNAT or relay \
                      service, 20-40 connections, no reproviding. Content discovery \
                      may be slower.",
        transform: profile_lowpower,
    },
    Profile {
        name: "public",
        description: "Joins the public IPFS network: adds Kubo's public bootstrap peers.",
        transform: profile_public,
    },
    Profile {
        name: "randomports",
        description: "Uses a random free port for the swarm (TCP, IPv4 and IPv6).",
        transform: profile_randomports,
    },
    Profile {
        name: "unixfs-v0-2015",
        description: "Legacy UnixFS import settings (the implicit default): CIDv0, \
                      no raw leaves, sha2-256, 256 KiB chunks, 174 links per node, \
                      link-based HAMT size estimation. Alias: legacy-cid-v0.",
        transform: profile_unixfs_v0_2015,
    },
    Profile {
        name: "legacy-cid-v0",
        description: "Alias for unixfs-v0-2015.",
        transform: profile_unixfs_v0_2015,
    },
    Profile {
        name: "unixfs-v1-2025",
        description: "UnixFS import settings for CID determinism across \
                      implementations (IPIP-499): CIDv1, raw leaves, sha2-256, 1 MiB \
                      chunks, 1024 links per file node, fanout 256, block-based HAMT \
                      size estimation.",
        transform: profile_unixfs_v1_2025,
    },
];

type ProfileResult = Result<(), String>;

/// Profile edits go through here; they only fail when the user's document
/// has a non-object where an object belongs.
fn set_all(doc: &mut Value, entries: &[(&str, Value)]) -> ProfileResult {
    for (key, value) in entries {
        put(doc, key, value.clone()).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn list_at(doc: &Value, key: &str) -> Result<Vec<String>, String> {
    read_section(doc, key).map_err(|e| e.to_string())
}

fn profile_test(doc: &mut Value) -> ProfileResult {
    set_all(
        doc,
        &[
            ("Addresses.API", json!("/ip4/127.0.0.1/tcp/0")),
            ("Addresses.Gateway", json!("/ip4/127.0.0.1/tcp/0")),
            (
                "Addresses.Swarm",
                json!(["/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"]),
            ),
            ("Swarm.DisableNatPortMap", json!(true)),
            ("Routing.LoopbackAddressesOnLanDHT", json!(true)),
            ("Bootstrap", json!([])),
            ("Discovery.MDNS.Enabled", json!(false)),
            ("AutoTLS.Enabled", json!(false)),
            ("AutoConf.Enabled", json!(false)),
            ("DNS.Resolvers", json!({})),
            ("Routing.DelegatedRouters", json!([])),
            ("Ipns.DelegatedPublishers", json!([])),
        ],
    )
}

fn profile_default_networking(doc: &mut Value) -> ProfileResult {
    let Value::Object(defaults) = default_addresses() else {
        unreachable!("default_addresses is an object")
    };
    for (k, v) in defaults {
        put(doc, &format!("Addresses.{k}"), v).map_err(|e| e.to_string())?;
    }
    // Kubo resets Bootstrap to "auto" here. Ferrite's default is empty, which
    // is what 'test' leaves, and wiping a private network's peers would hurt.
    set_all(
        doc,
        &[
            ("Swarm.DisableNatPortMap", json!(false)),
            ("Discovery.MDNS.Enabled", json!(true)),
        ],
    )?;
    remove(doc, "AutoTLS.Enabled");
    remove(doc, "Routing.LoopbackAddressesOnLanDHT");
    Ok(())
}

fn profile_server(doc: &mut Value) -> ProfileResult {
    for key in ["Addresses.NoAnnounce", "Swarm.AddrFilters"] {
        let mut list = list_at(doc, key)?;
        for f in SERVER_FILTERS {
            if !list.iter().any(|x| x == f) {
                list.push(f.to_owned());
            }
        }
        set_all(doc, &[(key, json!(list))])?;
    }
    set_all(
        doc,
        &[
            ("Discovery.MDNS.Enabled", json!(false)),
            ("Swarm.DisableNatPortMap", json!(true)),
        ],
    )
}

fn profile_local_discovery(doc: &mut Value) -> ProfileResult {
    for key in ["Addresses.NoAnnounce", "Swarm.AddrFilters"] {
        let mut list = list_at(doc, key)?;
        list.retain(|x| !SERVER_FILTERS.contains(&x.as_str()));
        set_all(doc, &[(key, json!(list))])?;
    }
    set_all(
        doc,
        &[
            ("Discovery.MDNS.Enabled", json!(true)),
            ("Swarm.DisableNatPortMap", json!(false)),
        ],
    )
}

fn profile_lowpower(doc: &mut Value) -> ProfileResult {
    // Kubo now uses "autoclient", which adds public HTTP routers; the DHT
    // client alone suits a private network.
    set_all(
        doc,
        &[
            ("Routing.Type", json!("dhtclient")),
            ("AutoNAT.ServiceMode", json!("disabled")),
            ("Swarm.RelayService.Enabled", json!(false)),
            ("Reprovider.Interval", json!("0s")),
            ("Swarm.ConnMgr.Type", json!("basic")),
            ("Swarm.ConnMgr.LowWater", json!(20)),
            ("Swarm.ConnMgr.HighWater", json!(40)),
            ("Swarm.ConnMgr.GracePeriod", json!("1m0s")),
        ],
    )?;
    // Provide.DHT.Interval wins over Reprovider.Interval; if the user set it,
    // turn that off as well or reproviding would stay on.
    let provide_interval = doc
        .get("Provide")
        .and_then(|p| p.get("DHT"))
        .and_then(|d| d.get("Interval"));
    if provide_interval.is_some_and(|v| !v.is_null()) {
        set_all(doc, &[("Provide.DHT.Interval", json!("0s"))])?;
    }
    Ok(())
}

fn profile_public(doc: &mut Value) -> ProfileResult {
    let mut list = list_at(doc, "Bootstrap")?;
    list.retain(|a| a != "auto");
    for peer in PUBLIC_BOOTSTRAP_PEERS {
        if !list.iter().any(|x| x == peer) {
            list.push(peer.to_owned());
        }
    }
    set_all(doc, &[("Bootstrap", json!(list))])
}

fn profile_randomports(doc: &mut Value) -> ProfileResult {
    // Ask the OS for a free port, as Kubo does; it may be taken again by the
    // time the daemon starts, which is acceptable for this profile.
    let listener = std::net::TcpListener::bind("[::]:0")
        .or_else(|_| std::net::TcpListener::bind("0.0.0.0:0"))
        .map_err(|e| format!("cannot find a free port: {e}"))?;
    let port = listener
        .local_addr()
        .map_err(|e| format!("cannot find a free port: {e}"))?
        .port();
    set_all(
        doc,
        &[(
            "Addresses.Swarm",
            json!([
                format!("/ip4/0.0.0.0/tcp/{port}"),
                format!("/ip6/::/tcp/{port}")
            ]),
        )],
    )
}

fn profile_unixfs_v0_2015(doc: &mut Value) -> ProfileResult {
    set_all(
        doc,
        &[
            ("Import.CidVersion", json!(0)),
            ("Import.UnixFSRawLeaves", json!(false)),
            ("Import.UnixFSChunker", json!("size-262144")),
            ("Import.HashFunction", json!("sha2-256")),
            ("Import.UnixFSFileMaxLinks", json!(174)),
            ("Import.UnixFSDirectoryMaxLinks", json!(0)),
            ("Import.UnixFSHAMTDirectoryMaxFanout", json!(256)),
            ("Import.UnixFSHAMTDirectorySizeThreshold", json!("256KiB")),
            ("Import.UnixFSHAMTDirectorySizeEstimation", json!("links")),
            ("Import.UnixFSDAGLayout", json!("balanced")),
        ],
    )
}

fn profile_unixfs_v1_2025(doc: &mut Value) -> ProfileResult {
    set_all(
        doc,
        &[
            ("Import.CidVersion", json!(1)),
            ("Import.UnixFSRawLeaves", json!(true)),
            ("Import.UnixFSChunker", json!("size-1048576")),
            ("Import.HashFunction", json!("sha2-256")),
            ("Import.UnixFSFileMaxLinks", json!(1024)),
            ("Import.UnixFSDirectoryMaxLinks", json!(0)),
            ("Import.UnixFSHAMTDirectoryMaxFanout", json!(256)),
            ("Import.UnixFSHAMTDirectorySizeThreshold", json!("256KiB")),
            ("Import.UnixFSHAMTDirectorySizeEstimation", json!("block")),
            ("Import.UnixFSDAGLayout", json!("balanced")),
        ],
    )
}
