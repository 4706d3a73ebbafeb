//! `Gateway`: the HTTP gateway's behaviour.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::Result;
use crate::types::headers;
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
            extra: Map::new(),
        }
    }
}

impl Config {
    /// The `Gateway` section.
    pub fn gateway(&self) -> Result<GatewaySettings> {
        self.section("Gateway")
    }
}
