//! Ferrite's configuration file: the Kubo-shaped JSON `config` of a repo.
//!
//! The repo's `config` file has the shape of Kubo's (go-ipfs) so settings move
//! between the two. [`Config`] keeps the whole document as an ordered
//! [`serde_json::Value`], so `config show`, `config KEY VALUE` on any key and
//! load → save keep every key, in file order, including keys Ferrite does not
//! know (pasted from a Kubo config, or newer than this build).
//!
//! Each section Ferrite reads is a serde struct in its own module, with
//! Kubo's field names, Kubo's implicit defaults through `#[serde(default)]`,
//! and a `#[serde(flatten)] extra` map holding the keys Ferrite does not
//! read. [`Config::section`] deserializes a section out of the document:
//! `null` values count as missing, and an error names the full key path
//! (`Swarm.ConnMgr.HighWater: expected a non-negative integer, got …`) as
//! [`ConfigError::WrongType`] or [`ConfigError::InvalidValue`]. The getters
//! ([`Config::swarm`], [`Config::datastore`], [`Config::import`],
//! [`Config::addresses`], [`Config::gateway`], …) are that call plus, where
//! Kubo has them, range checks or the merging of two sections
//! ([`Config::reprovider`] reads `Provide` and the older `Reprovider`).
//! [`Config::set_section`] writes a struct back, changing only the values
//! that differ from what the document reads as, so everything else stays as
//! and where it was. Kubo's value types (one string or a list, header maps,
//! Go durations, byte sizes) are serde adapters over [`units`], the one
//! parser each for Go durations and byte sizes.
//!
//! Loading only requires a JSON object, so a config with one bad value can
//! still be shown and repaired with `ferrite config KEY VALUE`. Writes
//! refuse new breakage: `set` checks the sections the key touches, and
//! `set`, profile application and every node config write refuse an edit
//! that makes a check fail that passed before ([`Config::check_update`]);
//! `config replace` requires the whole new document to pass
//! [`Config::validate_runnable`]. [`Config::validate`] checks every value
//! Ferrite reads, that the identity's key matches its peer ID and that the
//! addresses parse; [`Config::validate_runnable`] adds what the daemon
//! needs, an `Addresses.API` address, and `ferrite daemon` refuses to start
//! without it. (Kubo starts without an API address and writes no `api`
//! file; Ferrite's CLI finds a running daemon only through that file, so
//! such a daemon could not be reached, not even by `ferrite shutdown`.)
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
//!
//! The section modules are [`identity`], [`addresses`], [`bootstrap`],
//! [`datastore`], [`swarm`], [`routing`], [`provide`], [`import`],
//! [`gateway`], [`api`], [`discovery`], [`peering`] and [`logging`]; [`profile`] holds
//! the profiles, which edit the document key by key as Kubo's do.
#![forbid(unsafe_code)]

pub mod addresses;
pub mod api;
pub mod bootstrap;
pub mod datastore;
mod defaults;
pub mod discovery;
mod document;
mod error;
mod file;
pub mod gateway;
pub mod identity;
pub mod import;
mod keys;
pub mod logging;
pub mod peering;
pub mod profile;
pub mod provide;
pub mod routing;
pub mod swarm;
mod types;
pub mod units;

pub use addresses::Addresses;
pub use api::ApiSettings;
pub use datastore::DatastoreSettings;
pub use discovery::Mdns;
pub use document::{human_output, read_json_file, Config, ValueMode, CONFIG_FILE_NAME};
pub use error::ConfigError;
pub use gateway::GatewaySettings;
pub use identity::Identity;
pub use import::ImportSettings;
pub use logging::{check_log_filter, Logging};
pub use peering::PeeringPeer;
pub use profile::{profile_names, profiles, Profile, ProfileChange};
pub use provide::{Provide, ProvideDht, Reprovider, ReproviderSettings};
pub use routing::Routing;
pub use swarm::{ConnMgrSettings, NetworkTransports, ResourceMgr, SwarmSettings, Transports};
pub use units::{parse_byte_size, parse_duration};
