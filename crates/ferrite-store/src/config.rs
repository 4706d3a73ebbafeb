//! Kubo-shaped JSON configuration and profiles.
//!
//! The repo's `config` file has the shape of Kubo's (go-ipfs) so settings move
//! between the two. [`Config`] keeps the whole document as a
//! [`serde_json::Value`] in file order: keys Ferrite does not know (pasted from
//! a Kubo config, or newer than this build) survive load → save untouched.
//! Typed getters ([`Config::import`], [`Config::datastore`],
//! [`Config::addresses`], [`Config::bootstrap`], [`Config::identity`], …) read
//! the parts Ferrite uses and apply Kubo's implicit defaults where a value is
//! missing or `null`; they return [`ConfigError::InvalidValue`] naming the key
//! when a value has the wrong shape.
//!
//! Loading only requires a JSON object, so a config with one bad value can
//! still be shown and repaired with `ferrite config KEY VALUE`; the daemon
//! calls [`Config::validate`] (or the getters) at start-up.
//!
//! Where Ferrite departs from Kubo, it is because Ferrite is private-network
//! first:
//! - `Bootstrap` starts empty; Kubo's public bootstrap list is only added by
//!   the `public` profile.
//! - No `"auto"` placeholders and `AutoConf.Enabled = false`: Ferrite never
//!   fetches network settings from a public service. `"auto"` in `Bootstrap`
//!   is rejected with an explanation.
//! - The `lowpower` profile selects `dhtclient` routing (Kubo's `autoclient`
//!   adds public HTTP routers).

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use ferrite_ipld::HashAlg;
use libp2p_identity::{Keypair, PeerId};
use serde_json::{json, Map, Value};

/// File name of the configuration inside a repo.
pub const CONFIG_FILE_NAME: &str = "config";

/// The default swarm listen addresses: Kubo's less WebTransport and
/// WebRTC Direct, which ferrite does not serve, so a fresh repo starts
/// without warnings. A Kubo config that lists them still starts: the daemon
/// warns about each address it cannot serve and listens on the rest.
pub const DEFAULT_SWARM_ADDRESSES: [&str; 4] = [
    "/ip4/0.0.0.0/tcp/4001",
    "/ip6/::/tcp/4001",
    "/ip4/0.0.0.0/udp/4001/quic-v1",
    "/ip6/::/udp/4001/quic-v1",
];
/// Default RPC API listen address.
pub const DEFAULT_API_ADDRESS: &str = "/ip4/127.0.0.1/tcp/5001";
/// Default HTTP gateway listen address.
pub const DEFAULT_GATEWAY_ADDRESS: &str = "/ip4/127.0.0.1/tcp/8080";

/// `Datastore.StorageMax` written at init and used when it is missing.
pub const DEFAULT_STORAGE_MAX: &str = "10GB";
/// `Datastore.StorageGCWatermark` (percent of StorageMax) at init.
pub const DEFAULT_STORAGE_GC_WATERMARK: u64 = 90;
/// `Datastore.GCPeriod` at init and when empty.
pub const DEFAULT_GC_PERIOD: &str = "1h";

/// Connection manager type when `Swarm.ConnMgr.Type` is unset.
pub const DEFAULT_CONN_MGR_TYPE: &str = "basic";
/// Connection manager low water mark when unset.
pub const DEFAULT_CONN_MGR_LOW_WATER: u64 = 32;
/// Connection manager high water mark when unset.
pub const DEFAULT_CONN_MGR_HIGH_WATER: u64 = 96;
/// Connection manager grace period when unset.
pub const DEFAULT_CONN_MGR_GRACE_PERIOD: Duration = Duration::from_secs(20);
/// How often the connection manager trims, when unset.
pub const DEFAULT_CONN_MGR_SILENCE_PERIOD: Duration = Duration::from_secs(10);

/// Reprovide interval when neither `Provide.DHT.Interval` nor
/// `Reprovider.Interval` is set (Kubo: 22h).
pub const DEFAULT_REPROVIDE_INTERVAL: Duration = Duration::from_secs(22 * 3600);
/// Provide strategy when unset.
pub const DEFAULT_PROVIDE_STRATEGY: &str = "all";
/// `Routing.Type` when unset.
pub const DEFAULT_ROUTING_TYPE: &str = "auto";
/// The `Routing.Type` values Kubo accepts.
pub const ROUTING_TYPES: [&str; 8] = [
    "auto",
    "autoclient",
    "dht",
    "dhtclient",
    "dhtserver",
    "none",
    "delegated",
    "custom",
];

/// Import default CID version (unixfs-v0-2015).
pub const DEFAULT_CID_VERSION: u64 = 0;
/// Import default chunker (256 KiB fixed-size chunks).
pub const DEFAULT_CHUNKER: &str = "size-262144";
/// Import default hash function.
pub const DEFAULT_HASH_FUNCTION: &str = "sha2-256";
/// Import default links per UnixFS file node.
pub const DEFAULT_FILE_MAX_LINKS: u64 = 174;
/// Import default links per basic directory node (0 = no limit).
pub const DEFAULT_DIRECTORY_MAX_LINKS: u64 = 0;
/// Import default HAMT fanout.
pub const DEFAULT_HAMT_MAX_FANOUT: u64 = 256;
/// Import default: directories bigger than this (estimated) become HAMTs.
pub const DEFAULT_HAMT_SIZE_THRESHOLD: u64 = 256 * 1024;
/// Import default HAMT size estimation (`links`, `block` or `disabled`).
pub const DEFAULT_HAMT_SIZE_ESTIMATION: &str = "links";
/// Import default DAG layout (`balanced` or `trickle`).
pub const DEFAULT_DAG_LAYOUT: &str = "balanced";
/// Import default nodes per write batch.
pub const DEFAULT_BATCH_MAX_NODES: u64 = 128;
/// Import default bytes per write batch.
pub const DEFAULT_BATCH_MAX_SIZE: u64 = 100 << 20;

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

// ---------------------------------------------------------------------------
// Errors

/// What can go wrong reading, changing or writing the configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// There is no config file at the path.
    #[error("no config file at {}: run 'ferrite init' first", path.display())]
    NotFound {
        /// The path that was tried.
        path: PathBuf,
    },
    /// Reading or writing the file failed.
    #[error("failed to {action} config file {}: {cause}", path.display())]
    Io {
        /// "read" or "write".
        action: &'static str,
        /// The config file.
        path: PathBuf,
        /// The underlying error.
        cause: io::Error,
    },
    /// The file is not valid JSON; the message carries line and column.
    #[error("config file {} is not valid JSON: {cause}", path.display())]
    Syntax {
        /// The config file.
        path: PathBuf,
        /// serde_json's error; `line()` and `column()` locate the problem.
        cause: serde_json::Error,
    },
    /// A document that must be a JSON object is something else.
    #[error("{what} must be a JSON object, not {found}")]
    NotAnObject {
        /// What was being read ("config file …", "replacement config").
        what: String,
        /// The JSON type found instead.
        found: &'static str,
    },
    /// A dotted key is malformed (empty, or with an empty part).
    #[error("invalid config key {key:?}")]
    InvalidKey {
        /// The key as given.
        key: String,
    },
    /// `config KEY` for a key that is not in the document.
    #[error("failed to get config value: key {key:?} not found")]
    KeyNotFound {
        /// The key as given.
        key: String,
    },
    /// A key walks through something that is not an object.
    #[error("config key {key:?}: {parent:?} is not a map")]
    NotAMap {
        /// The key as given.
        key: String,
        /// The prefix of the key whose value is not an object.
        parent: String,
    },
    /// A value has the wrong JSON type.
    #[error("{key}: expected {expected}, got {got}")]
    WrongType {
        /// The dotted key of the value.
        key: String,
        /// What the key holds, e.g. "a non-negative integer or null".
        expected: &'static str,
        /// A short description of what is there.
        got: String,
    },
    /// A value has the right type but an unusable content.
    #[error("{key}: {message}")]
    InvalidValue {
        /// The dotted key of the value.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// `config KEY VALUE` was refused; nothing was changed.
    #[error("failed to set config value: {cause}{}", if *json_hint { " (maybe use --json?)" } else { "" })]
    SetFailed {
        /// The key being set.
        key: String,
        /// Why.
        cause: Box<ConfigError>,
        /// A string was given where another JSON type belongs.
        json_hint: bool,
    },
    /// The key holds a secret that `config` does not show or change.
    #[error("{0}")]
    Protected(&'static str),
    /// A command-line value could not be parsed (`--json`, `--bool`).
    #[error("{0}")]
    BadInput(String),
    /// The node identity is missing, malformed or inconsistent.
    #[error("identity: {0}")]
    Identity(String),
    /// No profile has this name.
    #[error("{name} is not a profile; known profiles: {}", known.join(", "))]
    UnknownProfile {
        /// The name asked for.
        name: String,
        /// Every profile name.
        known: Vec<&'static str>,
    },
    /// A profile could not be applied.
    #[error("applying profile {name}: {message}")]
    Profile {
        /// The profile.
        name: &'static str,
        /// Why it failed.
        message: String,
    },
}

type Result<T, E = ConfigError> = std::result::Result<T, E>;

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::InvalidValue {
        key: key.to_owned(),
        message: message.into(),
    }
}

fn expected(key: &str, what: &'static str, got: &Value) -> ConfigError {
    ConfigError::WrongType {
        key: key.to_owned(),
        expected: what,
        got: describe(got),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A short description of a value for error messages.
fn describe(v: &Value) -> String {
    match v {
        Value::String(s) if s.chars().count() <= 60 => format!("the string {s:?}"),
        Value::Number(n) => format!("the number {n}"),
        Value::Bool(b) => format!("{b}"),
        other => type_name(other).to_owned(),
    }
}

// ---------------------------------------------------------------------------
// Identity

/// The node's identity as stored in `Identity`: the peer ID and the private
/// key, base64 of the libp2p protobuf encoding (as Kubo stores it).
///
/// `Debug` never prints the private key.
#[derive(Clone, PartialEq, Eq)]
pub struct Identity {
    /// Base58 peer ID (`12D3KooW…` for Ed25519 keys).
    pub peer_id: String,
    /// Base64 (standard, padded) protobuf-encoded private key.
    pub private_key: String,
}

impl Identity {
    /// A fresh Ed25519 identity.
    pub fn generate() -> Identity {
        Identity::from_keypair(&Keypair::generate_ed25519())
            .expect("an Ed25519 keypair always has a protobuf encoding")
    }

    /// The identity of an existing keypair.
    pub fn from_keypair(keypair: &Keypair) -> Result<Identity> {
        let encoded = keypair
            .to_protobuf_encoding()
            .map_err(|e| ConfigError::Identity(format!("cannot encode private key: {e}")))?;
        Ok(Identity {
            peer_id: keypair.public().to_peer_id().to_base58(),
            private_key: base64::engine::general_purpose::STANDARD.encode(encoded),
        })
    }

    /// The protobuf-encoded private key (base64-decoded `Identity.PrivKey`).
    pub fn private_key_bytes(&self) -> Result<Vec<u8>> {
        base64::engine::general_purpose::STANDARD
            .decode(self.private_key.trim())
            .map_err(|e| {
                ConfigError::Identity(format!("Identity.PrivKey is not valid base64: {e}"))
            })
    }

    /// Decodes the private key and checks that `Identity.PeerID` belongs to
    /// it; the node must not start under a peer ID it cannot prove.
    pub fn keypair(&self) -> Result<Keypair> {
        let keypair = Keypair::from_protobuf_encoding(&self.private_key_bytes()?)
            .map_err(|e| ConfigError::Identity(format!("cannot decode Identity.PrivKey: {e}")))?;
        let derived = keypair.public().to_peer_id();
        let stored = PeerId::from_str(&self.peer_id).map_err(|e| {
            ConfigError::Identity(format!(
                "Identity.PeerID {:?} is not a peer ID: {e}",
                self.peer_id
            ))
        })?;
        if stored != derived {
            return Err(ConfigError::Identity(format!(
                "Identity.PeerID {} does not match the private key, whose peer ID is {derived}",
                self.peer_id
            )));
        }
        Ok(keypair)
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("peer_id", &self.peer_id)
            .field("private_key", &"<redacted>")
            .finish()
    }
}

// ---------------------------------------------------------------------------
// Typed views

/// `Addresses`: where the node listens and what it announces.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Addresses {
    /// `Addresses.Swarm`: libp2p listen multiaddrs.
    pub swarm: Vec<String>,
    /// `Addresses.Announce`: if non-empty, replaces the detected addresses.
    pub announce: Vec<String>,
    /// `Addresses.AppendAnnounce`: added to the detected addresses.
    pub append_announce: Vec<String>,
    /// `Addresses.NoAnnounce`: addresses or `ipcidr` ranges never announced.
    pub no_announce: Vec<String>,
    /// `Addresses.API`: RPC API listen multiaddrs (a string or a list).
    pub api: Vec<String>,
    /// `Addresses.Gateway`: gateway listen multiaddrs (a string or a list).
    pub gateway: Vec<String>,
}

/// `Swarm.ConnMgr` with defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnMgrSettings {
    /// `Type`: `basic` (default) or `none`.
    pub kind: String,
    /// `LowWater`: trim down to this many connections.
    pub low_water: u64,
    /// `HighWater`: start trimming above this many connections.
    pub high_water: u64,
    /// `GracePeriod`: new connections are safe from trimming this long.
    pub grace_period: Duration,
    /// `SilencePeriod`: minimum time between trims.
    pub silence_period: Duration,
}

/// The `Swarm` settings Ferrite uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmSettings {
    /// `Swarm.AddrFilters`: multiaddr ranges never dialled or accepted.
    pub addr_filters: Vec<String>,
    /// `Swarm.DisableNatPortMap`: no UPnP/NAT-PMP port mapping.
    pub disable_nat_port_map: bool,
    /// `Swarm.ConnMgr`.
    pub conn_mgr: ConnMgrSettings,
}

/// Reproviding settings, read from Kubo's `Provide.*` and, when those are
/// unset, from the older `Reprovider.*` keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReproviderSettings {
    /// `Provide.Enabled` (default true): announce content at all.
    pub enabled: bool,
    /// `Provide.DHT.Interval` / `Reprovider.Interval`; zero disables
    /// periodic reproviding.
    pub interval: Duration,
    /// `Provide.Strategy` / `Reprovider.Strategy`, e.g. `all`, `pinned`,
    /// `roots`, `pinned+mfs`.
    pub strategy: String,
}

/// `Datastore` limits that drive garbage collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatastoreSettings {
    /// `Datastore.StorageMax` in bytes ("10GB" = 10 000 000 000).
    pub storage_max: u64,
    /// `Datastore.StorageGCWatermark`: percent of `storage_max` at which
    /// automatic GC runs.
    pub storage_gc_watermark: u64,
    /// `Datastore.GCPeriod`: how often automatic GC checks.
    pub gc_period: Duration,
}

impl DatastoreSettings {
    /// The repo size in bytes at which automatic GC starts
    /// (`storage_max × storage_gc_watermark / 100`).
    pub fn gc_threshold(&self) -> u64 {
        let t = u128::from(self.storage_max) * u128::from(self.storage_gc_watermark) / 100;
        u64::try_from(t).unwrap_or(u64::MAX)
    }
}

/// `Import.*`: defaults for `add` and other importers. `None` means "not set
/// in the config"; Kubo treats explicitly set values and implicit defaults
/// differently (e.g. an explicit CID version 1 implies raw leaves unless
/// raw leaves are set too), so both are kept apart. The `effective_*`
/// methods apply the defaults (the `unixfs-v0-2015` values).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImportSettings {
    /// `Import.CidVersion` (0 or 1).
    pub cid_version: Option<u64>,
    /// `Import.UnixFSRawLeaves`.
    pub raw_leaves: Option<bool>,
    /// `Import.UnixFSChunker`: `size-N`, `rabin-MIN-AVG-MAX` or `buzhash`.
    pub chunker: Option<String>,
    /// `Import.HashFunction` (names as on `--hash`, case-insensitive in the
    /// file).
    pub hash_function: Option<HashAlg>,
    /// `Import.UnixFSFileMaxLinks` (> 0).
    pub file_max_links: Option<u64>,
    /// `Import.UnixFSDirectoryMaxLinks` (0 = no limit).
    pub directory_max_links: Option<u64>,
    /// `Import.UnixFSHAMTDirectoryMaxFanout` (power of two, 8..=1024).
    pub hamt_max_fanout: Option<u64>,
    /// `Import.UnixFSHAMTDirectorySizeThreshold` in bytes.
    pub hamt_size_threshold: Option<u64>,
    /// `Import.UnixFSHAMTDirectorySizeEstimation`: `links`, `block` or
    /// `disabled`.
    pub hamt_size_estimation: Option<String>,
    /// `Import.UnixFSDAGLayout`: `balanced` or `trickle`.
    pub dag_layout: Option<String>,
    /// `Import.BatchMaxNodes` (> 0).
    pub batch_max_nodes: Option<u64>,
    /// `Import.BatchMaxSize` in bytes (> 0).
    pub batch_max_size: Option<u64>,
}

impl ImportSettings {
    /// The hash function to use.
    pub fn effective_hash(&self) -> HashAlg {
        self.hash_function.unwrap_or_default()
    }

    /// The CID version to use: the configured one, except that a hash other
    /// than sha2-256 needs CIDv1 (as Kubo's CID builder decides).
    pub fn effective_cid_version(&self) -> u64 {
        if self.effective_hash() != HashAlg::Sha2_256 {
            return 1;
        }
        self.cid_version.unwrap_or(DEFAULT_CID_VERSION)
    }

    /// Whether leaves are raw blocks: the configured value, else true exactly
    /// when the effective CID version is 1 (Kubo's rule).
    pub fn effective_raw_leaves(&self) -> bool {
        self.raw_leaves
            .unwrap_or_else(|| self.effective_cid_version() >= 1)
    }

    /// The chunker string to use.
    pub fn effective_chunker(&self) -> &str {
        self.chunker.as_deref().unwrap_or(DEFAULT_CHUNKER)
    }

    /// Maximum links per UnixFS file node.
    pub fn effective_file_max_links(&self) -> u64 {
        self.file_max_links.unwrap_or(DEFAULT_FILE_MAX_LINKS)
    }

    /// Maximum links per basic directory node (0 = no limit).
    pub fn effective_directory_max_links(&self) -> u64 {
        self.directory_max_links
            .unwrap_or(DEFAULT_DIRECTORY_MAX_LINKS)
    }

    /// HAMT fanout.
    pub fn effective_hamt_max_fanout(&self) -> u64 {
        self.hamt_max_fanout.unwrap_or(DEFAULT_HAMT_MAX_FANOUT)
    }

    /// Directory size (bytes, estimated) above which a HAMT is built.
    pub fn effective_hamt_size_threshold(&self) -> u64 {
        self.hamt_size_threshold
            .unwrap_or(DEFAULT_HAMT_SIZE_THRESHOLD)
    }

    /// How directory size is estimated: `links`, `block` or `disabled`.
    pub fn effective_hamt_size_estimation(&self) -> &str {
        self.hamt_size_estimation
            .as_deref()
            .unwrap_or(DEFAULT_HAMT_SIZE_ESTIMATION)
    }

    /// DAG layout: `balanced` or `trickle`.
    pub fn effective_dag_layout(&self) -> &str {
        self.dag_layout.as_deref().unwrap_or(DEFAULT_DAG_LAYOUT)
    }
}

/// The `Gateway` settings Ferrite uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewaySettings {
    /// `Gateway.HTTPHeaders`: extra response headers.
    pub http_headers: Vec<(String, Vec<String>)>,
    /// `Gateway.RootRedirect`: where `/` redirects ("" = nowhere).
    pub root_redirect: String,
    /// `Gateway.NoFetch`: serve only local blocks.
    pub no_fetch: bool,
    /// `Gateway.NoDNSLink`: ignore DNSLink on Host headers.
    pub no_dns_link: bool,
    /// `Gateway.DeserializedResponses` (default true): serve files and
    /// directories, not only verifiable raw/CAR responses.
    pub deserialized_responses: bool,
}

/// One `Peering.Peers` entry: a peer kept connected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeeringPeer {
    /// `ID`: the peer ID.
    pub id: String,
    /// `Addrs`: its multiaddrs (may be empty: found through routing).
    pub addrs: Vec<String>,
}

// ---------------------------------------------------------------------------
// Config

/// How `ferrite config KEY VALUE` interprets VALUE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ValueMode {
    /// Store VALUE as a JSON string (the default).
    #[default]
    String,
    /// Parse VALUE as JSON (`--json`).
    Json,
    /// VALUE is `true` or `false` (`--bool`).
    Bool,
}

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

/// The repo configuration: a Kubo-shaped JSON document.
///
/// Cloning is cheap enough for configuration-sized documents. `Debug` prints
/// the [`show`](Config::show) form, without the private key.
#[derive(Clone, PartialEq)]
pub struct Config {
    /// Always a `Value::Object`.
    doc: Value,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Config").field(&self.show()).finish()
    }
}

impl Config {
    // ---- creation ---------------------------------------------------------

    /// A new configuration with a fresh Ed25519 identity and `profiles`
    /// applied in order (`ferrite init --profile a,b`). Entries may hold
    /// comma-separated names. Unknown names fail before a key is generated.
    pub fn init<S: AsRef<str>>(profiles: &[S]) -> Result<Config> {
        let names = resolve_profiles(profiles)?;
        let mut config = Config::with_identity(&Identity::generate());
        for p in names {
            config.run_profile(p)?;
        }
        Ok(config)
    }

    /// Like [`init`](Config::init) with a given keypair.
    pub fn init_with_keypair<S: AsRef<str>>(keypair: &Keypair, profiles: &[S]) -> Result<Config> {
        Config::init_with_identity(&Identity::from_keypair(keypair)?, profiles)
    }

    /// Like [`Config::init`] with a given identity (e.g. an imported RSA
    /// key, which libp2p can decode but not re-encode).
    pub fn init_with_identity<S: AsRef<str>>(
        identity: &Identity,
        profiles: &[S],
    ) -> Result<Config> {
        let names = resolve_profiles(profiles)?;
        let mut config = Config::with_identity(identity);
        for p in names {
            config.run_profile(p)?;
        }
        Ok(config)
    }

    /// The default configuration (no profiles) for `identity`.
    pub fn with_identity(identity: &Identity) -> Config {
        Config {
            doc: default_document(identity),
        }
    }

    /// Wraps a JSON document; it must be an object. Nothing else is checked
    /// (see [`validate`](Config::validate)).
    pub fn from_value(value: Value) -> Result<Config> {
        match value {
            Value::Object(_) => Ok(Config { doc: value }),
            other => Err(ConfigError::NotAnObject {
                what: "a config".into(),
                found: type_name(&other),
            }),
        }
    }

    /// Parses JSON text; `source` names it in errors (usually the path).
    pub fn from_json_str(text: &str, source: &Path) -> Result<Config> {
        let value = serde_json::from_str(text).map_err(|cause| ConfigError::Syntax {
            path: source.to_path_buf(),
            cause,
        })?;
        Config::from_value(value).map_err(|e| match e {
            ConfigError::NotAnObject { found, .. } => ConfigError::NotAnObject {
                what: format!("config file {}", source.display()),
                found,
            },
            other => other,
        })
    }

    // ---- files ------------------------------------------------------------

    /// Reads a config file. Errors name the file, and for bad JSON the line
    /// and column.
    pub fn load(path: impl AsRef<Path>) -> Result<Config> {
        let path = path.as_ref();
        Config::from_value(read_json_file(path)?).map_err(|e| match e {
            ConfigError::NotAnObject { found, .. } => ConfigError::NotAnObject {
                what: format!("config file {}", path.display()),
                found,
            },
            other => other,
        })
    }

    /// Writes the config atomically and durably: a temporary file in the
    /// same folder is written and fsynced, renamed over `path`, and the
    /// folder is fsynced, so a crash leaves either the old or the new file.
    /// The file is created with mode 0600 (it holds the private key).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        write_atomic(path, self.to_json_string().as_bytes()).map_err(|cause| ConfigError::Io {
            action: "write",
            path: path.to_path_buf(),
            cause,
        })
    }

    /// The document as pretty JSON (two-space indent, file order), as saved.
    pub fn to_json_string(&self) -> String {
        serde_json::to_string_pretty(&self.doc).expect("a JSON value always serializes")
    }

    /// The whole document, private key included.
    pub fn as_value(&self) -> &Value {
        &self.doc
    }

    /// Consumes the config, returning the document.
    pub fn into_value(self) -> Value {
        self.doc
    }

    // ---- `ferrite config` -------------------------------------------------

    /// The document for `config show`: `Identity.PrivKey` removed, the
    /// values of `API.Authorizations` and the API keys of remote pinning
    /// services hidden, as Kubo does. [`replace`](Config::replace) puts these
    /// back, so `show | edit | replace` round-trips.
    pub fn show(&self) -> Value {
        let mut v = self.doc.clone();
        if let Some(id) = v.get_mut("Identity").and_then(Value::as_object_mut) {
            id.shift_remove("PrivKey");
        }
        if let Some(api) = v.get_mut("API").and_then(Value::as_object_mut) {
            if let Some(auth) = api.get_mut("Authorizations") {
                if auth.is_object() {
                    *auth = json!({});
                }
            }
        }
        for svc in remote_services_mut(&mut v) {
            if let Some(api) = svc.get_mut("API").and_then(Value::as_object_mut) {
                api.shift_remove("Key");
            }
        }
        v
    }

    /// `config KEY`: the value at a dotted key (`Swarm.ConnMgr.HighWater`).
    /// Refuses `Identity`, `Identity.PrivKey` and remote pinning credentials
    /// as Kubo does; internal code reads those through the typed getters.
    /// Print it with [`human_output`].
    pub fn get(&self, key: &str) -> Result<&Value> {
        check_not_secret(key)?;
        match self.lookup(key)? {
            Some(v) => Ok(v),
            None => Err(ConfigError::KeyNotFound {
                key: key.to_owned(),
            }),
        }
    }

    /// The value at a dotted key without `get`'s secret filter; `None` when
    /// the key is absent. For internal reads of settings without a typed
    /// getter.
    pub fn lookup(&self, key: &str) -> Result<Option<&Value>> {
        let parts = split_key(key)?;
        let mut cur = &self.doc;
        for (i, part) in parts.iter().enumerate() {
            match cur {
                Value::Object(m) => match m.get(*part) {
                    Some(v) => cur = v,
                    None => return Ok(None),
                },
                _ => {
                    return Err(ConfigError::NotAMap {
                        key: key.to_owned(),
                        parent: parts[..i].join("."),
                    })
                }
            }
        }
        Ok(Some(cur))
    }

    /// `config KEY VALUE`: stores `value` at a dotted key, creating missing
    /// (or `null`) parent objects. Values Ferrite reads are checked (a
    /// string where a number belongs is refused, with Kubo's "maybe use
    /// --json?" hint) and nothing changes on error. `Identity.PrivKey` and
    /// remote pinning credentials cannot be set; `Identity.PeerID` only to
    /// the peer ID of the stored key (Kubo's rule).
    pub fn set(&mut self, key: &str, value: Value) -> Result<()> {
        check_not_secret(key)?;
        split_key(key)?;
        if key.eq_ignore_ascii_case("Identity.PeerID") {
            return self.set_peer_id(&value);
        }
        let is_string = value.is_string();
        let wrap = |cause: ConfigError| ConfigError::SetFailed {
            key: key.to_owned(),
            json_hint: is_string && matches!(cause, ConfigError::WrongType { .. }),
            cause: Box::new(cause),
        };
        let before = self.doc.clone();
        put(&mut self.doc, key, value).map_err(&wrap)?;
        if let Err(e) = self.validate_touching(key) {
            self.doc = before;
            return Err(wrap(e));
        }
        Ok(())
    }

    /// Parses a command-line VALUE for [`set`](Config::set).
    pub fn parse_cli_value(raw: &str, mode: ValueMode) -> Result<Value> {
        match mode {
            ValueMode::String => Ok(Value::String(raw.to_owned())),
            ValueMode::Json => serde_json::from_str(raw)
                .map_err(|e| ConfigError::BadInput(format!("failed to unmarshal json. {e}"))),
            // Kubo treats anything but "true" as false; refusing typos is safer.
            ValueMode::Bool => match raw {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                other => Err(ConfigError::BadInput(format!(
                    "--bool expects true or false, got {other:?}"
                ))),
            },
        }
    }

    /// `config replace FILE`: replaces the whole document with `new`, which
    /// must be an object and must pass [`validate`](Config::validate).
    ///
    /// As in Kubo, the private key cannot be changed this way: the current
    /// `Identity.PrivKey` is kept (a file carrying a different one is
    /// refused) and `Identity.PeerID` is re-derived from it. Secrets hidden by
    /// [`show`](Config::show) — `API.Authorizations` and remote pinning API
    /// keys — are carried over when the file leaves them out or empty.
    pub fn replace(&mut self, new: Value) -> Result<()> {
        let mut new = match new {
            Value::Object(m) => m,
            other => {
                return Err(ConfigError::NotAnObject {
                    what: "a replacement config".into(),
                    found: type_name(&other),
                })
            }
        };
        let old_key = self.lookup("Identity.PrivKey")?.and_then(Value::as_str);
        let old_peer = self.lookup("Identity.PeerID")?.and_then(Value::as_str);
        let identity = new.entry("Identity").or_insert_with(|| json!({}));
        if identity.is_null() {
            *identity = json!({});
        }
        let Value::Object(identity) = identity else {
            return Err(ConfigError::NotAnObject {
                what: "Identity in the replacement config".into(),
                found: type_name(identity),
            });
        };
        match identity.get("PrivKey") {
            None | Some(Value::Null) => {}
            Some(Value::String(k)) if k.is_empty() || Some(k.as_str()) == old_key => {}
            Some(_) => {
                return Err(ConfigError::Protected(
                    "setting the private key with 'config replace' is not supported; \
                     remove Identity.PrivKey from the file",
                ))
            }
        }
        match old_key {
            Some(k) => {
                identity.insert("PrivKey".into(), Value::String(k.to_owned()));
            }
            None => {
                identity.shift_remove("PrivKey");
            }
        }
        // The peer ID follows the key; keep the old one if the key cannot be
        // decoded by this build (e.g. an RSA key).
        let derived = old_key.and_then(|k| {
            Identity {
                peer_id: String::new(),
                private_key: k.to_owned(),
            }
            .private_key_bytes()
            .ok()
            .and_then(|b| Keypair::from_protobuf_encoding(&b).ok())
            .map(|kp| kp.public().to_peer_id().to_base58())
        });
        if let Some(peer) = derived.as_deref().or(old_peer) {
            identity.insert("PeerID".into(), Value::String(peer.to_owned()));
        }

        let mut new = Value::Object(new);
        carry_over_secrets(&self.doc, &mut new);
        let candidate = Config { doc: new };
        candidate.validate()?;
        *self = candidate;
        Ok(())
    }

    // ---- profiles ---------------------------------------------------------

    /// `config profile apply NAME`: applies a profile and returns the
    /// configuration before and after (scrubbed) for display.
    pub fn apply_profile(&mut self, name: &str) -> Result<ProfileChange> {
        let profile = find_profile(name)?;
        let old = self.show();
        self.run_profile(profile)?;
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
        c.run_profile(profile)?;
        Ok(c)
    }

    fn run_profile(&mut self, profile: &'static Profile) -> Result<()> {
        // Work on a copy so a profile failing half-way changes nothing.
        let mut doc = self.doc.clone();
        (profile.transform)(&mut doc).map_err(|message| ConfigError::Profile {
            name: profile.name,
            message,
        })?;
        self.doc = doc;
        Ok(())
    }

    // ---- validation -------------------------------------------------------

    /// Checks every value Ferrite reads (types, and ranges such as CID
    /// version 0/1, chunker syntax, known hash names, parseable sizes and
    /// durations). Returns the first problem.
    pub fn validate(&self) -> Result<()> {
        for (_, check) in CHECKS {
            check(self)?;
        }
        Ok(())
    }

    /// Runs the checks for the settings at, above or below `key`.
    fn validate_touching(&self, key: &str) -> Result<()> {
        for (path, check) in CHECKS {
            if related_keys(key, path) {
                check(self)?;
            }
        }
        Ok(())
    }

    fn set_peer_id(&mut self, value: &Value) -> Result<()> {
        let refuse = || {
            ConfigError::Protected(
                "cannot set Identity.PeerID to a value that does not match the node's private key",
            )
        };
        let candidate = value.as_str().ok_or_else(refuse)?;
        let candidate = PeerId::from_str(candidate).map_err(|_| refuse())?;
        let own = self.identity()?.keypair()?.public().to_peer_id();
        if candidate != own {
            return Err(refuse());
        }
        put(
            &mut self.doc,
            "Identity.PeerID",
            Value::String(own.to_base58()),
        )
    }

    // ---- typed getters ----------------------------------------------------

    /// `Identity`: peer ID and base64 private key (both required). The
    /// private key must be valid base64; [`Identity::keypair`] decodes it.
    pub fn identity(&self) -> Result<Identity> {
        let peer_id = self
            .opt_string("Identity.PeerID")?
            .ok_or_else(|| ConfigError::Identity("Identity.PeerID is missing".into()))?;
        let private_key = self
            .opt_string("Identity.PrivKey")?
            .ok_or_else(|| ConfigError::Identity("Identity.PrivKey is missing".into()))?;
        let identity = Identity {
            peer_id,
            private_key,
        };
        identity.private_key_bytes()?;
        Ok(identity)
    }

    /// `Identity.PeerID`.
    pub fn peer_id(&self) -> Result<String> {
        Ok(self.identity()?.peer_id)
    }

    /// The protobuf-encoded private key from `Identity.PrivKey`.
    pub fn private_key_bytes(&self) -> Result<Vec<u8>> {
        self.identity()?.private_key_bytes()
    }

    /// The node keypair, checked against `Identity.PeerID`.
    pub fn keypair(&self) -> Result<Keypair> {
        self.identity()?.keypair()
    }

    /// `Addresses.*`. Missing lists are empty.
    pub fn addresses(&self) -> Result<Addresses> {
        Ok(Addresses {
            swarm: self.string_list("Addresses.Swarm")?,
            announce: self.string_list("Addresses.Announce")?,
            append_announce: self.string_list("Addresses.AppendAnnounce")?,
            no_announce: self.string_list("Addresses.NoAnnounce")?,
            api: self.strings("Addresses.API")?,
            gateway: self.strings("Addresses.Gateway")?,
        })
    }

    /// `Addresses.Swarm`.
    pub fn swarm_addresses(&self) -> Result<Vec<String>> {
        self.string_list("Addresses.Swarm")
    }

    /// `Addresses.API`.
    pub fn api_addresses(&self) -> Result<Vec<String>> {
        self.strings("Addresses.API")
    }

    /// `Addresses.Gateway`.
    pub fn gateway_addresses(&self) -> Result<Vec<String>> {
        self.strings("Addresses.Gateway")
    }

    /// `Bootstrap`: peer multiaddrs to dial at start. Kubo's `"auto"`
    /// placeholder is refused: Ferrite does not fetch peer lists from
    /// public services.
    pub fn bootstrap(&self) -> Result<Vec<String>> {
        let list = self.string_list("Bootstrap")?;
        if list.iter().any(|a| a == "auto") {
            return Err(invalid(
                "Bootstrap",
                "\"auto\" (Kubo's AutoConf placeholder) is not supported: list the peers \
                 explicitly, or apply the 'public' profile for the public IPFS network",
            ));
        }
        Ok(list)
    }

    /// `Discovery.MDNS.Enabled` (false when missing, as in Kubo; init
    /// writes true).
    pub fn mdns_enabled(&self) -> Result<bool> {
        Ok(self.opt_bool("Discovery.MDNS.Enabled")?.unwrap_or(false))
    }

    /// `Swarm.AddrFilters`, `Swarm.DisableNatPortMap` and `Swarm.ConnMgr`.
    pub fn swarm(&self) -> Result<SwarmSettings> {
        Ok(SwarmSettings {
            addr_filters: self.string_list("Swarm.AddrFilters")?,
            disable_nat_port_map: self.opt_bool("Swarm.DisableNatPortMap")?.unwrap_or(false),
            conn_mgr: ConnMgrSettings {
                kind: self
                    .opt_string("Swarm.ConnMgr.Type")?
                    .unwrap_or_else(|| DEFAULT_CONN_MGR_TYPE.into()),
                low_water: self
                    .opt_u64("Swarm.ConnMgr.LowWater")?
                    .unwrap_or(DEFAULT_CONN_MGR_LOW_WATER),
                high_water: self
                    .opt_u64("Swarm.ConnMgr.HighWater")?
                    .unwrap_or(DEFAULT_CONN_MGR_HIGH_WATER),
                grace_period: self
                    .opt_duration("Swarm.ConnMgr.GracePeriod")?
                    .unwrap_or(DEFAULT_CONN_MGR_GRACE_PERIOD),
                silence_period: self
                    .opt_duration("Swarm.ConnMgr.SilencePeriod")?
                    .unwrap_or(DEFAULT_CONN_MGR_SILENCE_PERIOD),
            },
        })
    }

    /// `Routing.Type` (default `auto`); one of [`ROUTING_TYPES`].
    pub fn routing_type(&self) -> Result<String> {
        match self.opt_string("Routing.Type")? {
            None => Ok(DEFAULT_ROUTING_TYPE.into()),
            Some(t) if ROUTING_TYPES.contains(&t.as_str()) => Ok(t),
            Some(t) => Err(invalid(
                "Routing.Type",
                format!(
                    "unknown routing type {t:?} (expected one of {})",
                    ROUTING_TYPES.join(", ")
                ),
            )),
        }
    }

    /// Reproviding: `Provide.*` first, then the deprecated `Reprovider.*`.
    pub fn reprovider(&self) -> Result<ReproviderSettings> {
        let interval = match self.opt_duration("Provide.DHT.Interval")? {
            Some(d) => d,
            None => self
                .opt_duration("Reprovider.Interval")?
                .unwrap_or(DEFAULT_REPROVIDE_INTERVAL),
        };
        let strategy = match self.opt_string("Provide.Strategy")? {
            Some(s) => s,
            None => self.opt_string("Reprovider.Strategy")?.unwrap_or_default(),
        };
        let strategy = if strategy.is_empty() {
            DEFAULT_PROVIDE_STRATEGY.to_owned()
        } else {
            strategy
        };
        Ok(ReproviderSettings {
            enabled: self.opt_bool("Provide.Enabled")?.unwrap_or(true),
            interval,
            strategy,
        })
    }

    /// `Import.*`, checked as Kubo checks them.
    pub fn import(&self) -> Result<ImportSettings> {
        let s = ImportSettings {
            cid_version: self.opt_u64("Import.CidVersion")?,
            raw_leaves: self.opt_bool("Import.UnixFSRawLeaves")?,
            chunker: self.opt_string("Import.UnixFSChunker")?,
            hash_function: self
                .opt_string("Import.HashFunction")?
                .map(|h| {
                    HashAlg::from_name(&h.to_ascii_lowercase())
                        .map_err(|e| invalid("Import.HashFunction", e.to_string()))
                })
                .transpose()?,
            file_max_links: self.opt_u64("Import.UnixFSFileMaxLinks")?,
            directory_max_links: self.opt_u64("Import.UnixFSDirectoryMaxLinks")?,
            hamt_max_fanout: self.opt_u64("Import.UnixFSHAMTDirectoryMaxFanout")?,
            hamt_size_threshold: self.opt_byte_size("Import.UnixFSHAMTDirectorySizeThreshold")?,
            hamt_size_estimation: self.opt_string("Import.UnixFSHAMTDirectorySizeEstimation")?,
            dag_layout: self.opt_string("Import.UnixFSDAGLayout")?,
            batch_max_nodes: self.opt_u64("Import.BatchMaxNodes")?,
            batch_max_size: self.opt_u64("Import.BatchMaxSize")?,
        };
        if let Some(v) = s.cid_version {
            if v > 1 {
                return Err(invalid(
                    "Import.CidVersion",
                    format!("must be 0 or 1, got {v}"),
                ));
            }
        }
        if s.file_max_links == Some(0) {
            return Err(invalid(
                "Import.UnixFSFileMaxLinks",
                "must be positive, got 0",
            ));
        }
        if let Some(f) = s.hamt_max_fanout {
            if !(8..=1024).contains(&f) || !f.is_power_of_two() {
                return Err(invalid(
                    "Import.UnixFSHAMTDirectoryMaxFanout",
                    format!("must be a power of 2, between 8 and 1024 (got {f})"),
                ));
            }
        }
        if let Some(c) = &s.chunker {
            if !valid_chunker(c) {
                return Err(invalid(
                    "Import.UnixFSChunker",
                    format!(
                        "invalid format {c:?} (expected \"size-<bytes>\", \
                         \"rabin-<min>-<avg>-<max>\", or \"buzhash\")"
                    ),
                ));
            }
        }
        if let Some(e) = &s.hamt_size_estimation {
            if !["links", "block", "disabled"].contains(&e.as_str()) {
                return Err(invalid(
                    "Import.UnixFSHAMTDirectorySizeEstimation",
                    format!("must be \"links\", \"block\", or \"disabled\", got {e:?}"),
                ));
            }
        }
        if let Some(l) = &s.dag_layout {
            if !["balanced", "trickle"].contains(&l.as_str()) {
                return Err(invalid(
                    "Import.UnixFSDAGLayout",
                    format!("must be \"balanced\" or \"trickle\", got {l:?}"),
                ));
            }
        }
        if s.batch_max_nodes == Some(0) {
            return Err(invalid("Import.BatchMaxNodes", "must be positive, got 0"));
        }
        if s.batch_max_size == Some(0) {
            return Err(invalid("Import.BatchMaxSize", "must be positive, got 0"));
        }
        Ok(s)
    }

    /// `Datastore.StorageMax`, `StorageGCWatermark` and `GCPeriod`, with
    /// Kubo's defaults for empty or missing values.
    pub fn datastore(&self) -> Result<DatastoreSettings> {
        let storage_max = match self.opt_string("Datastore.StorageMax")? {
            Some(s) if !s.trim().is_empty() => {
                parse_byte_size(&s).map_err(|e| invalid("Datastore.StorageMax", e))?
            }
            _ => parse_byte_size(DEFAULT_STORAGE_MAX).expect("the default parses"),
        };
        let gc_period = match self.opt_string("Datastore.GCPeriod")? {
            Some(s) if !s.trim().is_empty() => {
                parse_duration(&s).map_err(|e| invalid("Datastore.GCPeriod", e))?
            }
            _ => parse_duration(DEFAULT_GC_PERIOD).expect("the default parses"),
        };
        Ok(DatastoreSettings {
            storage_max,
            storage_gc_watermark: self
                .opt_u64("Datastore.StorageGCWatermark")?
                .unwrap_or(DEFAULT_STORAGE_GC_WATERMARK),
            gc_period,
        })
    }

    /// `Datastore.StorageMax` in bytes.
    pub fn storage_max(&self) -> Result<u64> {
        Ok(self.datastore()?.storage_max)
    }

    /// `API.HTTPHeaders`: headers added to RPC API responses.
    pub fn api_http_headers(&self) -> Result<Vec<(String, Vec<String>)>> {
        self.headers("API.HTTPHeaders")
    }

    /// The `Gateway` settings Ferrite uses.
    pub fn gateway(&self) -> Result<GatewaySettings> {
        Ok(GatewaySettings {
            http_headers: self.headers("Gateway.HTTPHeaders")?,
            root_redirect: self.opt_string("Gateway.RootRedirect")?.unwrap_or_default(),
            no_fetch: self.opt_bool("Gateway.NoFetch")?.unwrap_or(false),
            no_dns_link: self.opt_bool("Gateway.NoDNSLink")?.unwrap_or(false),
            deserialized_responses: self
                .opt_bool("Gateway.DeserializedResponses")?
                .unwrap_or(true),
        })
    }

    /// `Peering.Peers`: peers to stay connected to (Kubo's AddrInfo shape,
    /// `{"ID": …, "Addrs": […]}`).
    pub fn peering_peers(&self) -> Result<Vec<PeeringPeer>> {
        const KEY: &str = "Peering.Peers";
        let items = match self.node(KEY)? {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::Array(a)) => a,
            Some(other) => return Err(expected(KEY, "an array or null", other)),
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let key = format!("{KEY}[{i}]");
                let id = match item.get("ID") {
                    Some(Value::String(s)) => s.clone(),
                    _ => return Err(invalid(&key, "expected an object with a string \"ID\"")),
                };
                let addrs = match item.get("Addrs") {
                    None | Some(Value::Null) => Vec::new(),
                    Some(v) => string_array(&format!("{key}.Addrs"), v)?,
                };
                Ok(PeeringPeer { id, addrs })
            })
            .collect()
    }

    // ---- typed access helpers --------------------------------------------

    fn node(&self, key: &str) -> Result<Option<&Value>> {
        value_at(&self.doc, key)
    }

    fn opt_string(&self, key: &str) -> Result<Option<String>> {
        match self.node(key)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(expected(key, "a string or null", other)),
        }
    }

    fn opt_u64(&self, key: &str) -> Result<Option<u64>> {
        match self.node(key)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
            Some(other) => Err(expected(key, "a non-negative integer or null", other)),
        }
    }

    fn opt_bool(&self, key: &str) -> Result<Option<bool>> {
        match self.node(key)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(expected(key, "true, false or null", other)),
        }
    }

    fn string_list(&self, key: &str) -> Result<Vec<String>> {
        string_list_at(&self.doc, key)
    }

    /// Kubo's `Strings`: one string or a list ("" and `null` are empty).
    fn strings(&self, key: &str) -> Result<Vec<String>> {
        match self.node(key)? {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::String(s)) if s.is_empty() => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(vec![s.clone()]),
            Some(v @ Value::Array(_)) => string_array(key, v),
            Some(other) => Err(expected(
                key,
                "a string, an array of strings or null",
                other,
            )),
        }
    }

    /// Kubo's `OptionalDuration`: a Go duration string; null, "" and
    /// "default" mean unset.
    fn opt_duration(&self, key: &str) -> Result<Option<Duration>> {
        match self.node(key)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() || s == "default" || s == "null" => Ok(None),
            Some(Value::String(s)) => parse_duration(s).map(Some).map_err(|e| invalid(key, e)),
            Some(other) => Err(expected(
                key,
                "a duration string such as \"1m30s\" or null",
                other,
            )),
        }
    }

    /// Kubo's `OptionalBytes`: "256KiB"-style string or a number.
    fn opt_byte_size(&self, key: &str) -> Result<Option<u64>> {
        match self.node(key)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => parse_byte_size(s).map(Some).map_err(|e| invalid(key, e)),
            Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
            Some(other) => Err(expected(
                key,
                "a size such as \"256KiB\", a number, or null",
                other,
            )),
        }
    }

    /// `map[string][]string` as ordered pairs.
    fn headers(&self, key: &str) -> Result<Vec<(String, Vec<String>)>> {
        match self.node(key)? {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Object(m)) => m
                .iter()
                .map(|(name, v)| Ok((name.clone(), string_array(&format!("{key}.{name}"), v)?)))
                .collect(),
            Some(other) => Err(expected(key, "an object of header lists", other)),
        }
    }
}

/// The value at a dotted key of a typed setting; missing or `null` parents
/// give `None`, other non-objects an error naming them.
fn value_at<'a>(doc: &'a Value, key: &str) -> Result<Option<&'a Value>> {
    let mut cur = doc;
    let parts: Vec<&str> = key.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        match cur {
            Value::Object(m) => match m.get(*part) {
                Some(v) => cur = v,
                None => return Ok(None),
            },
            Value::Null => return Ok(None),
            other => return Err(expected(&parts[..i].join("."), "an object", other)),
        }
    }
    Ok(Some(cur))
}

/// A list of strings; missing or `null` is empty.
fn string_list_at(doc: &Value, key: &str) -> Result<Vec<String>> {
    match value_at(doc, key)? {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(v) => string_array(key, v),
    }
}

fn string_array(key: &str, v: &Value) -> Result<Vec<String>> {
    let Value::Array(items) = v else {
        return Err(expected(key, "an array of strings", v));
    };
    items
        .iter()
        .map(|item| match item {
            Value::String(s) => Ok(s.clone()),
            other => Err(expected(key, "an array of strings", other)),
        })
        .collect()
}

/// One check per group of settings Ferrite reads: (key prefix, check).
/// `set` runs the checks related to the key it changed.
type Check = fn(&Config) -> Result<()>;
const CHECKS: &[(&str, Check)] = &[
    ("Identity", |c| c.identity().map(drop)),
    ("Addresses", |c| c.addresses().map(drop)),
    ("Bootstrap", |c| c.bootstrap().map(drop)),
    ("Discovery.MDNS.Enabled", |c| c.mdns_enabled().map(drop)),
    ("Swarm.AddrFilters", |c| c.swarm().map(drop)),
    ("Swarm.DisableNatPortMap", |c| c.swarm().map(drop)),
    ("Swarm.ConnMgr", |c| c.swarm().map(drop)),
    ("Routing.Type", |c| c.routing_type().map(drop)),
    ("Provide", |c| c.reprovider().map(drop)),
    ("Reprovider", |c| c.reprovider().map(drop)),
    ("Import", |c| c.import().map(drop)),
    ("Datastore.StorageMax", |c| c.datastore().map(drop)),
    ("Datastore.StorageGCWatermark", |c| c.datastore().map(drop)),
    ("Datastore.GCPeriod", |c| c.datastore().map(drop)),
    ("API.HTTPHeaders", |c| c.api_http_headers().map(drop)),
    ("Gateway.HTTPHeaders", |c| c.gateway().map(drop)),
    ("Gateway.RootRedirect", |c| c.gateway().map(drop)),
    ("Gateway.NoFetch", |c| c.gateway().map(drop)),
    ("Gateway.NoDNSLink", |c| c.gateway().map(drop)),
    ("Gateway.DeserializedResponses", |c| c.gateway().map(drop)),
    ("Peering.Peers", |c| c.peering_peers().map(drop)),
];

/// Whether one dotted key is the other or lies inside it.
fn related_keys(a: &str, b: &str) -> bool {
    let inside =
        |x: &str, y: &str| x.len() > y.len() && x.starts_with(y) && x.as_bytes()[y.len()] == b'.';
    a == b || inside(a, b) || inside(b, a)
}

/// How `config KEY` prints a value: strings raw (without surrounding
/// newlines), everything else as pretty JSON — Kubo's `HumanOutput`.
pub fn human_output(value: &Value) -> String {
    match value {
        Value::String(s) => s.trim_matches('\n').to_owned(),
        other => serde_json::to_string_pretty(other).expect("a JSON value always serializes"),
    }
}

/// Reads and parses a JSON file (for `load` and `config replace FILE`);
/// errors name the file and, for bad JSON, the line and column.
pub fn read_json_file(path: impl AsRef<Path>) -> Result<Value> {
    let path = path.as_ref();
    let bytes = fs::read(path).map_err(|cause| {
        if cause.kind() == io::ErrorKind::NotFound {
            ConfigError::NotFound {
                path: path.to_path_buf(),
            }
        } else {
            ConfigError::Io {
                action: "read",
                path: path.to_path_buf(),
                cause,
            }
        }
    })?;
    serde_json::from_slice(&bytes).map_err(|cause| ConfigError::Syntax {
        path: path.to_path_buf(),
        cause,
    })
}

// ---------------------------------------------------------------------------
// Key paths

fn split_key(key: &str) -> Result<Vec<&str>> {
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(ConfigError::InvalidKey {
            key: key.to_owned(),
        });
    }
    Ok(parts)
}

/// Kubo refuses to show or change these through `config`.
fn check_not_secret(key: &str) -> Result<()> {
    let lower = key.to_ascii_lowercase();
    if lower == "identity" || lower == "identity.privkey" {
        return Err(ConfigError::Protected(
            "cannot show or change private key through API",
        ));
    }
    // Kubo's glob: any key that is a prefix of Pinning.RemoteServices.*.API.Key.
    const GLOB: [&str; 5] = ["pinning", "remoteservices", "*", "api", "key"];
    if lower
        .split('.')
        .zip(GLOB)
        .all(|(part, pat)| pat == "*" || part == pat)
    {
        return Err(ConfigError::Protected(
            "cannot show or change pinning services credentials",
        ));
    }
    Ok(())
}

/// Sets a dotted key, creating missing or `null` parents (Kubo's MapSetKV).
fn put(doc: &mut Value, key: &str, value: Value) -> Result<()> {
    let parts = split_key(key)?;
    let (last, parents) = parts.split_last().expect("split yields at least one part");
    let mut cur = doc;
    for (i, part) in parents.iter().enumerate() {
        let Value::Object(m) = cur else {
            return Err(ConfigError::NotAMap {
                key: key.to_owned(),
                parent: parts[..i].join("."),
            });
        };
        let slot = m.entry(*part).or_insert(Value::Null);
        if slot.is_null() {
            *slot = Value::Object(Map::new());
        }
        cur = slot;
    }
    match cur {
        Value::Object(m) => {
            m.insert((*last).to_owned(), value);
            Ok(())
        }
        _ => Err(ConfigError::NotAMap {
            key: key.to_owned(),
            parent: parents.join("."),
        }),
    }
}

/// Removes a dotted key if present, keeping the order of the rest.
fn remove(doc: &mut Value, key: &str) {
    let parts: Vec<&str> = key.split('.').collect();
    let (last, parents) = parts.split_last().expect("split yields at least one part");
    let mut cur = doc;
    for part in parents {
        match cur.get_mut(*part) {
            Some(v) => cur = v,
            None => return,
        }
    }
    if let Value::Object(m) = cur {
        m.shift_remove(*last);
    }
}

/// Every object under `Pinning.RemoteServices`.
fn remote_services_mut(doc: &mut Value) -> impl Iterator<Item = &mut Map<String, Value>> {
    doc.get_mut("Pinning")
        .and_then(|p| p.get_mut("RemoteServices"))
        .and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(|m| m.values_mut())
        .filter_map(Value::as_object_mut)
}

/// Puts back the secrets `show` hides when a replacement leaves them out.
fn carry_over_secrets(old: &Value, new: &mut Value) {
    let old_auth = old.get("API").and_then(|a| a.get("Authorizations"));
    if let Some(old_auth) = old_auth.filter(|a| a.as_object().is_some_and(|m| !m.is_empty())) {
        let new_auth = new.get("API").and_then(|a| a.get("Authorizations"));
        let missing = match new_auth {
            None | Some(Value::Null) => true,
            Some(Value::Object(m)) => m.is_empty(),
            Some(_) => false,
        };
        if missing && new.get("API").is_none_or(|a| a.is_object() || a.is_null()) {
            // Cannot fail: API is absent, null or an object.
            let _ = put(new, "API.Authorizations", old_auth.clone());
        }
    }
    let old_services = old
        .get("Pinning")
        .and_then(|p| p.get("RemoteServices"))
        .and_then(Value::as_object);
    let Some(old_services) = old_services else {
        return;
    };
    let Some(new_services) = new
        .get_mut("Pinning")
        .and_then(|p| p.get_mut("RemoteServices"))
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for (name, svc) in new_services.iter_mut() {
        let Some(old_key) = old_services
            .get(name)
            .and_then(|s| s.get("API"))
            .and_then(|a| a.get("Key"))
        else {
            continue;
        };
        if let Some(api) = svc.get_mut("API").and_then(Value::as_object_mut) {
            let has_key = api
                .get("Key")
                .and_then(Value::as_str)
                .is_some_and(|k| !k.is_empty());
            if !has_key {
                api.insert("Key".into(), old_key.clone());
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Default document

fn default_addresses() -> Value {
    json!({
        "Swarm": DEFAULT_SWARM_ADDRESSES,
        "Announce": [],
        "AppendAnnounce": [],
        "NoAnnounce": [],
        "API": DEFAULT_API_ADDRESS,
        "Gateway": DEFAULT_GATEWAY_ADDRESS,
    })
}

/// The init document, in the order Kubo's `ipfs init` writes it; values Kubo
/// leaves to implicit defaults are `null` or absent here too.
fn default_document(identity: &Identity) -> Value {
    let mut doc = Map::new();
    let mut add = |k: &str, v: Value| {
        doc.insert(k.to_owned(), v);
    };
    add(
        "Identity",
        json!({ "PeerID": identity.peer_id, "PrivKey": identity.private_key }),
    );
    add(
        "Datastore",
        json!({
            "StorageMax": DEFAULT_STORAGE_MAX,
            "StorageGCWatermark": DEFAULT_STORAGE_GC_WATERMARK,
            "GCPeriod": DEFAULT_GC_PERIOD,
            "HashOnRead": false,
            "BloomFilterSize": 0,
            "BlockKeyCacheSize": null,
        }),
    );
    add("Addresses", default_addresses());
    add(
        "Mounts",
        json!({
            "IPFS": "/ipfs", "IPNS": "/ipns", "MFS": "/mfs",
            "FuseAllowOther": null, "StoreMtime": null, "StoreMode": null,
        }),
    );
    add("Discovery", json!({ "MDNS": { "Enabled": true } }));
    // Kubo writes ["auto"] here (public delegated routers); Ferrite does not.
    add("Routing", json!({ "DelegatedRouters": [] }));
    add(
        "Ipns",
        json!({
            "RepublishPeriod": "",
            "RecordLifetime": "",
            "ResolveCacheSize": 128,
            "DelegatedPublishers": [],
        }),
    );
    // Private network first: no bootstrap peers until the user adds some.
    add("Bootstrap", json!([]));
    add(
        "Gateway",
        json!({
            "HTTPHeaders": {},
            "RootRedirect": "",
            "NoFetch": false,
            "NoDNSLink": false,
            "DeserializedResponses": null,
            "AllowCodecConversion": null,
            "DisableHTMLErrors": null,
            "PublicGateways": null,
            "ExposeRoutingAPI": null,
        }),
    );
    add("API", json!({ "HTTPHeaders": {} }));
    add(
        "Swarm",
        json!({
            "AddrFilters": null,
            "DisableBandwidthMetrics": false,
            "DisableNatPortMap": false,
            "RelayClient": {},
            "RelayService": {},
            "Transports": { "Network": {}, "Security": {}, "Multiplexers": {} },
            "ConnMgr": {},
            "ResourceMgr": {},
        }),
    );
    add("AutoNAT", json!({}));
    add("AutoTLS", json!({}));
    add("Pubsub", json!({ "Router": "", "DisableSigning": false }));
    add("Peering", json!({ "Peers": null }));
    add("DNS", json!({ "Resolvers": {} }));
    add("Migration", json!({}));
    // Nothing is left to AutoConf ("auto"), so keep it from contacting its
    // public endpoint if this config is ever used by Kubo.
    add("AutoConf", json!({ "Enabled": false }));
    add("Provide", json!({ "DHT": {} }));
    add("Provider", json!({}));
    add("Reprovider", json!({}));
    add("HTTPRetrieval", json!({}));
    add(
        "Experimental",
        json!({
            "FilestoreEnabled": false,
            "UrlstoreEnabled": false,
            "Libp2pStreamMounting": false,
            "P2pHttpProxy": false,
            "OptimisticProvide": false,
            "OptimisticProvideJobsPoolSize": 0,
        }),
    );
    add("Plugins", json!({ "Plugins": null }));
    add("Pinning", json!({ "RemoteServices": {} }));
    add(
        "Import",
        json!({
            "CidVersion": null,
            "UnixFSRawLeaves": null,
            "UnixFSChunker": null,
            "HashFunction": null,
            "UnixFSFileMaxLinks": null,
            "UnixFSDirectoryMaxLinks": null,
            "UnixFSHAMTDirectoryMaxFanout": null,
            "UnixFSHAMTDirectorySizeThreshold": null,
            "UnixFSHAMTDirectorySizeEstimation": null,
            "UnixFSDAGLayout": null,
            "BatchMaxNodes": null,
            "BatchMaxSize": null,
        }),
    );
    add("Version", json!({}));
    add("Internal", json!({}));
    add("Bitswap", json!({}));
    Value::Object(doc)
}

// ---------------------------------------------------------------------------
// Profiles

/// Every profile, in help order.
pub fn profiles() -> &'static [Profile] {
    PROFILES
}

/// The names of every profile.
pub fn profile_names() -> Vec<&'static str> {
    PROFILES.iter().map(|p| p.name).collect()
}

fn find_profile(name: &str) -> Result<&'static Profile> {
    PROFILES
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| ConfigError::UnknownProfile {
            name: name.to_owned(),
            known: profile_names(),
        })
}

fn resolve_profiles<S: AsRef<str>>(profiles: &[S]) -> Result<Vec<&'static Profile>> {
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
    string_list_at(doc, key).map_err(|e| e.to_string())
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

// ---------------------------------------------------------------------------
// Value parsers

/// Kubo's chunker syntax check: `buzhash`, `size-N` (N > 0) or
/// `rabin-MIN-AVG-MAX` with MIN ≤ AVG ≤ MAX.
fn valid_chunker(s: &str) -> bool {
    if s == "buzhash" {
        return true;
    }
    if let Some(n) = s.strip_prefix("size-") {
        return !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
            && n.parse::<u64>().is_ok_and(|n| n > 0);
    }
    if let Some(rest) = s.strip_prefix("rabin-") {
        let nums: Vec<_> = rest.split('-').map(|p| p.parse::<u64>()).collect();
        return match nums.as_slice() {
            [Ok(min), Ok(avg), Ok(max)] => min <= avg && avg <= max,
            _ => false,
        };
    }
    false
}

/// Parses a human byte size as Kubo does (go-humanize `ParseBytes`): a
/// number (commas and a fraction allowed), optional space, and a
/// case-insensitive unit. SI units are powers of 1000 (`10GB` = 10¹⁰), IEC
/// units powers of 1024 (`256KiB` = 262 144); a bare number is bytes.
pub fn parse_byte_size(s: &str) -> Result<u64, String> {
    let digits_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
        .unwrap_or(s.len());
    let number = s[..digits_end].replace(',', "");
    let unit = s[digits_end..].trim().to_ascii_lowercase();
    let multiplier: u64 = match unit.as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "ki" | "kib" => 1 << 10,
        "m" | "mb" => 1000_u64.pow(2),
        "mi" | "mib" => 1 << 20,
        "g" | "gb" => 1000_u64.pow(3),
        "gi" | "gib" => 1 << 30,
        "t" | "tb" => 1000_u64.pow(4),
        "ti" | "tib" => 1 << 40,
        "p" | "pb" => 1000_u64.pow(5),
        "pi" | "pib" => 1 << 50,
        "e" | "eb" => 1000_u64.pow(6),
        "ei" | "eib" => 1 << 60,
        _ => return Err(format!("invalid size {s:?}: unknown unit {unit:?}")),
    };
    let bad = || format!("invalid size {s:?}: expected a number and a unit such as \"10GB\"");
    if number.is_empty() {
        return Err(bad());
    }
    let too_large = || format!("invalid size {s:?}: too large");
    if let Ok(n) = number.parse::<u64>() {
        return n.checked_mul(multiplier).ok_or_else(too_large);
    }
    // Fractions ("1.5GB") go through floating point, as in go-humanize.
    let f: f64 = number.parse().map_err(|_| bad())?;
    let bytes = f * multiplier as f64;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(too_large());
    }
    Ok(bytes as u64)
}

/// Parses a Go duration string (`time.ParseDuration`), as used by Kubo's
/// config: a sequence of decimal numbers with units `ns`, `us`/`µs`, `ms`,
/// `s`, `m`, `h` (`"1h30m"`, `"1.5s"`, `"1m0s"`); `"0"` alone is zero.
/// Negative durations are refused.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = |why: &str| format!("invalid duration {s:?}: {why}");
    let mut rest = s.strip_prefix('+').unwrap_or(s);
    if rest.starts_with('-') {
        return Err(bad("negative durations are not allowed"));
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(bad("empty"));
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (int_part, after) = rest.split_at(int_end);
        let (frac_part, after) = match after.strip_prefix('.') {
            Some(a) => {
                let end = a.find(|c: char| !c.is_ascii_digit()).unwrap_or(a.len());
                a.split_at(end)
            }
            None => ("", after),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(bad("expected a number"));
        }
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_end);
        let unit_ns: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(bad("missing unit")),
            other => return Err(bad(&format!("unknown unit {other:?}"))),
        };
        let int: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| bad("number too large"))?
        };
        total = int
            .checked_mul(unit_ns)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| bad("too large"))?;
        if !frac_part.is_empty() {
            // Nanosecond precision is all a Duration keeps.
            let digits = &frac_part[..frac_part.len().min(18)];
            let scale = 10u128.pow(digits.len() as u32);
            let frac: u128 = digits.parse().map_err(|_| bad("bad fraction"))?;
            total = total
                .checked_add(frac * unit_ns / scale)
                .ok_or_else(|| bad("too large"))?;
        }
        rest = after;
    }
    // Go durations are int64 nanoseconds.
    if total > i64::MAX as u128 {
        return Err(bad("too large"));
    }
    Ok(Duration::from_nanos(total as u64))
}

// ---------------------------------------------------------------------------
// Durable writes

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `data` to `path` through a synced temporary file in the same folder
/// and a rename, then syncs the folder so the rename itself is durable.
fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the config path has no file name",
        )
    })?;
    fs::create_dir_all(dir)?;
    let (tmp_path, mut file) = create_temp(dir, &name.to_string_lossy())?;
    let result = (|| {
        file.write_all(data)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp_path, path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        // Best effort: after a successful rename the temp name is gone anyway.
        let _ = fs::remove_file(&tmp_path);
    }
    result
}

fn create_temp(dir: &Path, name: &str) -> io::Result<(PathBuf, File)> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut attempt = 0;
    loop {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".{name}.tmp-{}-{nanos}-{n}", std::process::id()));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        match options.open(&tmp) {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 100 => attempt += 1,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    // Folders cannot be opened for syncing on this platform; the rename is
    // as durable as the file system makes it.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes_follow_go_humanize() {
        assert_eq!(parse_byte_size("10GB"), Ok(10_000_000_000));
        assert_eq!(parse_byte_size("10gb"), Ok(10_000_000_000));
        assert_eq!(parse_byte_size("10 GiB"), Ok(10 << 30));
        assert_eq!(parse_byte_size("256KiB"), Ok(262_144));
        assert_eq!(parse_byte_size("1.5MB"), Ok(1_500_000));
        assert_eq!(parse_byte_size("1,000"), Ok(1000));
        assert_eq!(parse_byte_size("42"), Ok(42));
        assert_eq!(parse_byte_size("42 B"), Ok(42));
        assert_eq!(parse_byte_size("5k"), Ok(5000));
        assert_eq!(parse_byte_size("2gi"), Ok(2 << 30));
        assert!(parse_byte_size("").is_err());
        assert!(parse_byte_size("GB").is_err());
        assert!(parse_byte_size("-1GB").is_err());
        assert!(parse_byte_size("10 furlongs").is_err());
        assert!(parse_byte_size("100000EB").is_err());
    }

    #[test]
    fn durations_follow_go() {
        let d = |s| parse_duration(s);
        assert_eq!(d("0"), Ok(Duration::ZERO));
        assert_eq!(d("0s"), Ok(Duration::ZERO));
        assert_eq!(d("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(d("1m0s"), Ok(Duration::from_secs(60)));
        assert_eq!(d("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(d("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(d(".5s"), Ok(Duration::from_millis(500)));
        assert_eq!(d("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(d("2us"), Ok(Duration::from_micros(2)));
        assert_eq!(d("2µs"), Ok(Duration::from_micros(2)));
        assert_eq!(d("22h"), Ok(DEFAULT_REPROVIDE_INTERVAL));
        assert!(d("").is_err());
        assert!(d("10").is_err());
        assert!(d("1d").is_err());
        assert!(d("-1s").is_err());
        assert!(d("s").is_err());
        assert!(d("3000000h").is_err());
    }

    #[test]
    fn chunker_syntax() {
        for ok in [
            "size-262144",
            "size-1",
            "rabin-10-20-30",
            "rabin-1-1-1",
            "buzhash",
        ] {
            assert!(valid_chunker(ok), "{ok}");
        }
        for bad in [
            "size-",
            "size-0",
            "size--1",
            "size-x",
            "rabin-3-2-1",
            "rabin-1-2",
            "foo",
        ] {
            assert!(!valid_chunker(bad), "{bad}");
        }
    }

    #[test]
    fn key_relations() {
        assert!(related_keys("Import", "Import"));
        assert!(related_keys("Import.CidVersion", "Import"));
        assert!(related_keys("Swarm", "Swarm.ConnMgr"));
        assert!(!related_keys("Swarm.ConnMgrX", "Swarm.ConnMgr"));
        assert!(!related_keys("Gateway", "API.HTTPHeaders"));
    }

    #[test]
    fn secret_keys() {
        assert!(check_not_secret("Identity").is_err());
        assert!(check_not_secret("identity.privkey").is_err());
        assert!(check_not_secret("Identity.PeerID").is_ok());
        assert!(check_not_secret("Pinning").is_err());
        assert!(check_not_secret("Pinning.RemoteServices.foo.API.Key").is_err());
        assert!(check_not_secret("Pinning.RemoteServices.foo.Policies").is_ok());
        assert!(check_not_secret("Addresses").is_ok());
    }
}
