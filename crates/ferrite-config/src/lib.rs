//! Ferrite's configuration file: the Kubo-shaped JSON `config` of a repo.
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
//!
//! Each section Ferrite reads has a module ([`identity`], [`addresses`],
//! [`bootstrap`], [`datastore`], [`swarm`], [`routing`], [`provide`],
//! [`import`], [`gateway`], [`api`], [`discovery`], [`peering`]) holding its
//! typed view, defaults and getter; [`profile`] holds the profiles and
//! [`units`] the one parser each for Go durations and byte sizes.
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
pub mod peering;
pub mod profile;
pub mod provide;
pub mod routing;
pub mod swarm;
pub mod units;

pub use addresses::Addresses;
pub use datastore::DatastoreSettings;
pub use document::{human_output, read_json_file, Config, ValueMode, CONFIG_FILE_NAME};
pub use error::ConfigError;
pub use gateway::GatewaySettings;
pub use identity::Identity;
pub use import::ImportSettings;
pub use peering::PeeringPeer;
pub use profile::{profile_names, profiles, Profile, ProfileChange};
pub use provide::ReproviderSettings;
pub use swarm::{ConnMgrSettings, SwarmSettings};
pub use units::{parse_byte_size, parse_duration};
