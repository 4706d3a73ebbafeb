//! What the REST API's handlers share: the error body and query parsing
//! (also used by `/add`, which lives in its own module).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{comma_list, error_status};
use crate::node::ClusterError;
use crate::pinset::PinMode;
use crate::time::parse_rfc3339_ms;
use crate::types::{parse_peer_id, PinOptions};

/// A REST API error: `{"code","message"}` with `code` as the HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestError {
    /// HTTP status (also the body's `code`).
    pub status: StatusCode,
    /// Human-readable message.
    pub message: String,
}

impl RestError {
    /// A 400 error.
    pub fn bad_request(msg: impl Into<String>) -> Self {
        RestError {
            status: StatusCode::BAD_REQUEST,
            message: msg.into(),
        }
    }

    /// A 404 error.
    pub fn not_found(msg: impl Into<String>) -> Self {
        RestError {
            status: StatusCode::NOT_FOUND,
            message: msg.into(),
        }
    }

    /// A 500 error.
    pub fn internal(msg: impl Into<String>) -> Self {
        RestError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: msg.into(),
        }
    }
}

impl From<ClusterError> for RestError {
    fn from(e: ClusterError) -> Self {
        RestError {
            status: error_status(&e),
            message: e.to_string(),
        }
    }
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        let body = json!({"code": self.status.as_u16(), "message": self.message});
        (self.status, ferrite_http::rpc::json(&body)).into_response()
    }
}

/// The last value of parameter `name`.
pub fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A boolean parameter (`true/false/1/0`, bare = true).
pub fn bool_param(q: &[(String, String)], name: &str, default: bool) -> Result<bool, RestError> {
    match param(q, name) {
        None => Ok(default),
        Some("" | "true" | "1" | "True" | "TRUE") => Ok(true),
        Some("false" | "0" | "False" | "FALSE") => Ok(false),
        Some(v) => Err(RestError::bad_request(format!(
            "parameter {name}: invalid boolean {v:?}"
        ))),
    }
}

/// Pin options from a query (`POST /pins/{cid}`, `POST /add`), with IPFS
/// Cluster's parameter names. `now` (Unix seconds) anchors `expire-in`.
/// `shard-size`, `origins`, `pin-update` are accepted and ignored.
pub fn parse_pin_options(q: &[(String, String)], now: u64) -> Result<PinOptions, RestError> {
    let mut o = PinOptions::default();
    let int = |name: &str| -> Result<Option<i32>, RestError> {
        param(q, name)
            .filter(|v| !v.is_empty())
            .map(|v| {
                v.parse::<i32>()
                    .map_err(|_| RestError::bad_request(format!("parameter {name}: invalid {v:?}")))
            })
            .transpose()
    };
    if let Some(n) = param(q, "name") {
        o.name = n.to_owned();
    }
    o.mode = match param(q, "mode").unwrap_or("") {
        "" | "recursive" => PinMode::Recursive,
        "direct" => PinMode::Direct,
        m => return Err(RestError::bad_request(format!("invalid pin mode {m:?}"))),
    };
    if let Some(f) = int("replication")? {
        o.replication_min = Some(f);
        o.replication_max = Some(f);
    }
    if let Some(f) = int("replication-min")? {
        o.replication_min = Some(f);
    }
    if let Some(f) = int("replication-max")? {
        o.replication_max = Some(f);
    }
    if let Some(u) = param(q, "user-allocations") {
        o.user_allocations = comma_list(u)
            .iter()
            .map(|p| parse_peer_id(p))
            .collect::<Result<_, _>>()
            .map_err(|e| RestError::bad_request(format!("user-allocations: {e}")))?;
    }
    if let Some(at) = param(q, "expire-at").filter(|v| !v.is_empty()) {
        let ms = parse_rfc3339_ms(at)
            .ok_or_else(|| RestError::bad_request(format!("expire-at: invalid time {at:?}")))?;
        // Go's zero time (and anything before 1970) means "never".
        if ms > 0 {
            o.expire_at = Some((ms as u64).div_ceil(1000));
        }
    }
    if let Some(d) = param(q, "expire-in").filter(|v| !v.is_empty()) {
        let d = ferrite_config::parse_duration(d)
            .map_err(|_| RestError::bad_request(format!("expire-in: invalid duration {d:?}")))?;
        if !d.is_zero() {
            o.expire_at = Some(expire_at(now, d));
        }
    }
    for (k, v) in q {
        if let Some(key) = k.strip_prefix("meta-") {
            if !key.is_empty() {
                o.metadata.insert(key.to_owned(), v.clone());
            }
        }
    }
    Ok(o)
}

/// When a pin made at `now` (Unix seconds) for `d` expires, rounded up to
/// the second.
pub fn expire_at(now: u64, d: std::time::Duration) -> u64 {
    now + d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// `o` as the query [`parse_pin_options`] reads (IPFS Cluster's
/// `PinOptions.ToQuery`): what `ferrite cluster pin add` and `add` send.
pub fn pin_options_query(o: &PinOptions) -> Vec<(String, String)> {
    let mode = match o.mode {
        PinMode::Recursive => "recursive",
        PinMode::Direct => "direct",
    };
    let mut q = vec![("mode".to_owned(), mode.to_owned())];
    let mut push = |k: &str, v: String| q.push((k.to_owned(), v));
    if !o.name.is_empty() {
        push("name", o.name.clone());
    }
    if let Some(v) = o.replication_min {
        push("replication-min", v.to_string());
    }
    if let Some(v) = o.replication_max {
        push("replication-max", v.to_string());
    }
    if !o.user_allocations.is_empty() {
        let peers: Vec<String> = o.user_allocations.iter().map(|p| p.to_string()).collect();
        push("user-allocations", peers.join(","));
    }
    if let Some(at) = o.expire_at {
        push("expire-at", crate::time::rfc3339_secs(at));
    }
    for (k, v) in &o.metadata {
        push(&format!("meta-{k}"), v.clone());
    }
    q
}
