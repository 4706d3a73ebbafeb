//! `API`: the RPC API's response headers.

use crate::error::Result;
use crate::Config;

impl Config {
    /// `API.HTTPHeaders`: headers added to RPC API responses.
    pub fn api_http_headers(&self) -> Result<Vec<(String, Vec<String>)>> {
        self.headers("API.HTTPHeaders")
    }
}
