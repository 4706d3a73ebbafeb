//! `Gateway`: the HTTP gateway's behaviour.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::Result;
use crate::types::{headers, opt_duration, ser_opt_duration};
use crate::Config;

/// The `Gateway` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct GatewaySettings {
    /// `Gateway.HTTPHeaders`: extra response headers.
    #[serde(rename = "HTTPHeaders", with = "headers")]
    pub http_headers: Vec<(String, Vec<String>)>,
    /// `Gateway.RootRedirect`: where `/` redirects ("" = nowhere).
    pub root_redirect: String,
    /// `Gateway.NoFetch`: serve only local blocks.
    pub no_fetch: bool,
    /// `Gateway.NoDNSLink`: ignore DNSLink on Host headers.
    #[serde(rename = "NoDNSLink")]
    pub no_dns_link: bool,
    /// `Gateway.DeserializedResponses` (default true): serve files and
    /// directories, not only verifiable raw/CAR responses.
    pub deserialized_responses: bool,
    /// `Gateway.RetrievalTimeout`: how long a request may wait for the next
    /// block from the network before it fails with 504 (unset: 30 s, as
    /// Kubo).
    #[serde(
        deserialize_with = "opt_duration",
        serialize_with = "ser_opt_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub retrieval_timeout: Option<Duration>,
    /// Keys Ferrite does not read, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        GatewaySettings {
            http_headers: Vec::new(),
            root_redirect: String::new(),
            no_fetch: false,
            no_dns_link: false,
            deserialized_responses: true,
            retrieval_timeout: None,
            extra: Map::new(),
        }
    }
}

/// `Gateway.RetrievalTimeout` when unset.
pub const DEFAULT_RETRIEVAL_TIMEOUT: Duration = Duration::from_secs(30);

impl GatewaySettings {
    /// `RetrievalTimeout`, or its default; zero means no limit of its own
    /// (the node's fetch stall timeout still applies).
    pub fn retrieval_timeout(&self) -> Option<Duration> {
        match self.retrieval_timeout.unwrap_or(DEFAULT_RETRIEVAL_TIMEOUT) {
            d if d.is_zero() => None,
            d => Some(d),
        }
    }
}

impl Config {
    /// The `Gateway` section.
    pub fn gateway(&self) -> Result<GatewaySettings> {
        self.section("Gateway")
    }
}
