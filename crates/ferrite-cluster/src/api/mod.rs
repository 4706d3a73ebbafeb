//! The cluster's HTTP APIs, both axum routers over [`crate::cluster::Cluster`]:
//!
//! * [`rest`]: IPFS Cluster's REST API (`/id`, `/pins`, `/add`, ...), with
//!   optional HTTP basic auth;
//! * [`pinsvc`]: the IPFS Pinning Service API 1.0 (`ipfs pin remote`), with
//!   bearer tokens;
//! * [`wire`]: the REST API's JSON shapes, which `ferrite cluster` decodes.
//!
//! Conversions to the wire shapes and request parsing are pure functions so
//! they are tested without a running cluster.

mod add;
pub mod pinsvc;
pub mod prometheus;
mod query;
pub mod rest;
pub mod wire;

use axum::http::StatusCode;

use crate::node::ClusterError;

/// REST API credentials (`None` for the router = open API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasicAuth {
    /// User name.
    pub user: String,
    /// Password.
    pub password: String,
}

impl BasicAuth {
    /// Whether an `Authorization` header value carries these credentials.
    pub fn check(&self, header: Option<&str>) -> bool {
        let Some(v) = header else { return false };
        let Some((scheme, b64)) = v.trim().split_once(' ') else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case("basic") {
            return false;
        }
        use base64::Engine as _;
        let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64.trim()) else {
            return false;
        };
        let Some(colon) = raw.iter().position(|&c| c == b':') else {
            return false;
        };
        let (u, p) = (&raw[..colon], &raw[colon + 1..]);
        // Both compared in full, so timing does not tell which one was wrong.
        ct_eq(u, self.user.as_bytes()) & ct_eq(p, self.password.as_bytes())
    }
}

/// Constant-time (for equal lengths) byte comparison of secrets.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The HTTP status of a facade error.
pub fn error_status(e: &ClusterError) -> StatusCode {
    match e {
        ClusterError::Invalid(_) => StatusCode::BAD_REQUEST,
        ClusterError::NotFound(_) => StatusCode::NOT_FOUND,
        ClusterError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Unix seconds now.
pub(crate) fn now_secs() -> u64 {
    crate::types::now_ns() / 1_000_000_000
}

/// Splits a comma list, dropping empty items.
pub(crate) fn comma_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Serves `router` on an ephemeral 127.0.0.1 port for tests; returns its
/// base URL.
#[cfg(test)]
pub(crate) async fn serve_for_test(router: axum::Router) -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, router).await.unwrap() });
    format!("http://{addr}")
}

/// A blocking GET for tests: (status, `WWW-Authenticate`, body).
#[cfg(test)]
pub(crate) fn get_for_test(url: &str, auth: Option<&str>) -> (u16, Option<String>, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut req = agent.get(url);
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    let mut r = req.call().unwrap();
    let www = r
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    (
        r.status().as_u16(),
        www,
        r.body_mut().read_to_string().unwrap(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_checks_header() {
        let a = BasicAuth {
            user: "user".into(),
            password: "pass".into(),
        };
        assert!(a.check(Some("Basic dXNlcjpwYXNz")));
        assert!(a.check(Some("basic dXNlcjpwYXNz")));
        assert!(!a.check(None));
        assert!(!a.check(Some("Basic dXNlcjpwYXN4"))); // user:pasx
        assert!(!a.check(Some("Bearer dXNlcjpwYXNz")));
        assert!(!a.check(Some("Basic !!!")));
        assert!(!a.check(Some("Basic dXNlcnBhc3M="))); // no colon
        let colon = BasicAuth {
            user: "u".into(),
            password: "p:w".into(),
        };
        assert!(colon.check(Some("Basic dTpwOnc="))); // u:p:w
    }

    #[test]
    fn base64_and_errors() {
        assert_eq!(
            error_status(&ClusterError::Invalid("x".into())),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            error_status(&ClusterError::NotFound("x".into())),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            error_status(&ClusterError::Shutdown),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(comma_list(" a,,b ,"), vec!["a", "b"]);
    }
}
