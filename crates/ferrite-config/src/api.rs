//! `API`: the RPC API's response headers.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::Result;
use crate::types::headers;
use crate::Config;

/// The `API` section.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ApiSettings {
    /// `API.HTTPHeaders`: headers added to RPC API responses.
    #[serde(rename = "HTTPHeaders", with = "headers")]
    pub http_headers: Vec<(String, Vec<String>)>,
    /// Keys Ferrite does not read here (`Authorizations` is read by the
    /// RPC server), kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Config {
    /// `API.HTTPHeaders`: headers added to RPC API responses.
    pub fn api_http_headers(&self) -> Result<Vec<(String, Vec<String>)>> {
        Ok(self.section::<ApiSettings>("API")?.http_headers)
    }
}
