//! `Gateway`: the HTTP gateway's behaviour.

use crate::error::Result;
use crate::Config;

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

impl Config {
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
}
