//! API access control, in the order Kubo applies it:
//!
//! 1. `API.Authorizations` (Kubo ≥ 0.25): when any entry exists, the
//!    `Authorization` header must equal one entry's secret (`bearer:T` →
//!    `Bearer T`, `basic:u:p` → `Basic base64(u:p)`) and the path must start
//!    with one of that entry's `AllowedPaths`; `/api/v0/version` is always
//!    allowed. Otherwise 403 with Kubo's "Kubo RPC Access Denied" text.
//! 2. CORS as go-ipfs-cmds configures rs/cors: allowed origins are
//!    `API.HTTPHeaders["Access-Control-Allow-Origin"]` plus the API's own
//!    origin on loopback names and IPFS Companion; preflights (`OPTIONS` with
//!    `Access-Control-Request-Method`) are answered here with 204.
//! 3. Methods: other `OPTIONS` get 204 with `Allow`; anything but POST 405.
//! 4. CSRF checks: an `Origin` or `Referer` that is not allowed, or a POST
//!    from a browser (`User-Agent: Mozilla…`) carrying neither → 403
//!    `403 - Forbidden`. Requests without them (curl, CLIs) pass.
//! 5. The other `API.HTTPHeaders` are added to responses.
//!
//! The configuration is read per request, so changes apply without a
//! restart. The listener itself is loopback unless `Addresses.API` says
//! otherwise.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use ferrite_config::Config;
use ferrite_node::Node;

/// Kubo's body for requests refused by `API.Authorizations`.
pub const AUTH_DENIED: &str = "Kubo RPC Access Denied: Please provide a valid authorization token as defined in the API.Authorizations configuration.";

const ACAO: &str = "Access-Control-Allow-Origin";
const ACAM: &str = "Access-Control-Allow-Methods";
const ACAC: &str = "Access-Control-Allow-Credentials";
/// go-ipfs-cmds exposes its streaming headers to browsers.
const EXPOSED: &str = "X-Stream-Output, X-Chunked-Output, X-Content-Length";
/// Request headers a preflight may ask for (go-ipfs-cmds' list).
const ALLOWED_REQUEST_HEADERS: [&str; 4] = ["origin", "accept", "content-type", "x-requested-with"];
/// Origins Kubo always allows (`<port>` is the API's port).
const LOCAL_ORIGINS: [&str; 6] = [
    "http://127.0.0.1:<port>",
    "https://127.0.0.1:<port>",
    "http://[::1]:<port>",
    "https://[::1]:<port>",
    "http://localhost:<port>",
    "https://localhost:<port>",
];
/// IPFS Companion (stable and beta).
const COMPANION_ORIGINS: [&str; 2] = [
    "chrome-extension://nibjojkomfdiaoajekhjakgkdhaomnch",
    "chrome-extension://hjoieblefckbooibpepigmacodalfndh",
];

/// Converts an `AuthSecret` to the `Authorization` value it stands for, as
/// Kubo's `ConvertAuthSecret`: no type means bearer, an unknown type
/// matches nothing (`None`).
pub fn auth_header_for_secret(secret: &str) -> Option<String> {
    if secret.is_empty() {
        return None;
    }
    let Some((kind, value)) = secret.split_once(':') else {
        return Some(format!("Bearer {secret}"));
    };
    match kind {
        "basic" if value.contains(':') => {
            use base64::Engine;
            Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(value)
            ))
        }
        // Already base64.
        "basic" => Some(format!("Basic {value}")),
        "bearer" => Some(format!("Bearer {value}")),
        _ => None,
    }
}

/// One `API.Authorizations` entry.
struct AuthScope {
    header: Option<String>,
    allowed_paths: Vec<String>,
}

/// The access rules of one request, read from the configuration.
struct Policy {
    /// `None`: authorization is off.
    auth: Option<Vec<AuthScope>>,
    /// Exact origins, or `*` for all.
    origins: Vec<String>,
    /// Upper-case methods CORS allows.
    methods: Vec<String>,
    credentials: bool,
    /// Headers added to command responses.
    headers: Vec<(String, Vec<String>)>,
}

impl Policy {
    fn from_config(cfg: &Config, port: &str) -> Policy {
        let api_headers = cfg.api_http_headers().unwrap_or_default();
        let find = |name: &str| {
            api_headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let mut origins = find(ACAO).unwrap_or_default();
        origins.extend(LOCAL_ORIGINS.iter().map(|o| o.to_string()));
        origins.extend(COMPANION_ORIGINS.iter().map(|o| o.to_string()));
        for o in &mut origins {
            *o = o.replace("<port>", port);
        }
        let methods = find(ACAM)
            .unwrap_or_else(|| vec!["POST".into()])
            .into_iter()
            .map(|m| m.to_ascii_uppercase())
            .collect();
        let credentials = find(ACAC)
            .and_then(|v| v.last().cloned())
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let headers = api_headers
            .iter()
            .filter(|(k, _)| ![ACAO, ACAM, ACAC].iter().any(|h| h.eq_ignore_ascii_case(k)))
            .cloned()
            .collect();
        Policy {
            auth: auth_scopes(cfg),
            origins,
            methods,
            credentials,
            headers,
        }
    }

    /// go-ipfs-cmds' exact match (or `*`), used for the CSRF checks.
    fn origin_listed(&self, origin: &str) -> bool {
        self.origins.iter().any(|o| o == "*" || o == origin)
    }

    /// rs/cors' match: case-insensitive, one `*` wildcard per entry.
    fn cors_origin_allowed(&self, origin: &str) -> bool {
        let origin = origin.to_ascii_lowercase();
        self.origins.iter().any(|o| {
            let o = o.to_ascii_lowercase();
            match o.split_once('*') {
                _ if o == "*" => true,
                Some((pre, suf)) => {
                    origin.len() >= pre.len() + suf.len()
                        && origin.starts_with(pre)
                        && origin.ends_with(suf)
                }
                None => o == origin,
            }
        })
    }

    fn all_origins(&self) -> bool {
        self.origins.iter().any(|o| o == "*")
    }

    fn method_allowed(&self, m: &str) -> bool {
        let m = m.to_ascii_uppercase();
        !self.methods.is_empty() && (m == "OPTIONS" || self.methods.contains(&m))
    }

    /// The `Access-Control-Allow-Origin` value rs/cors would send.
    fn acao_value(&self, origin: &str) -> String {
        if self.all_origins() && !self.credentials {
            "*".into()
        } else {
            origin.to_string()
        }
    }
}

/// `API.Authorizations`: `None` when absent or empty (auth off).
fn auth_scopes(cfg: &Config) -> Option<Vec<AuthScope>> {
    let map = cfg.lookup("API.Authorizations").ok()??.as_object()?;
    if map.is_empty() {
        return None;
    }
    Some(
        map.values()
            .map(|scope| AuthScope {
                header: scope
                    .get("AuthSecret")
                    .and_then(|s| s.as_str())
                    .and_then(auth_header_for_secret),
                allowed_paths: scope
                    .get("AllowedPaths")
                    .and_then(|p| p.as_array())
                    .map(|a| {
                        a.iter()
                            .filter_map(|p| p.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect(),
    )
}

fn text(status: StatusCode, msg: &str) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .header("X-Content-Type-Options", "nosniff")
        .body(Body::from(format!("{msg}\n")))
        .expect("valid response")
}

fn header_str<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// `scheme://host[:port]` of a Referer, as Go's `url.Parse` splits it.
fn referer_origin(referer: &str) -> String {
    let (scheme, rest) = referer.split_once("://").unwrap_or(("", ""));
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    format!("{scheme}://{host}")
}

/// The API's port as the client addressed it. A browser always sends the
/// target's `Host`, so a page can only match the loopback origins when it
/// is served from this very port (same origin).
fn request_port(h: &HeaderMap) -> String {
    let host = header_str(h, "host");
    match host.rsplit_once(':') {
        Some((_, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.to_string(),
        _ => "80".into(),
    }
}

/// The access-control middleware; see the module docs.
pub async fn check(State(node): State<Node>, req: Request, next: Next) -> Response {
    let policy = Policy::from_config(&node.config(), &request_port(req.headers()));
    let h = req.headers();
    let path = req.uri().path();

    if let Some(scopes) = &policy.auth {
        let given = header_str(h, "authorization");
        let ok = scopes
            .iter()
            .filter(|s| s.header.as_deref() == Some(given) && !given.is_empty())
            .any(|s| {
                path == "/api/v0/version" || s.allowed_paths.iter().any(|p| path.starts_with(p))
            });
        if !ok {
            return text(StatusCode::FORBIDDEN, AUTH_DENIED);
        }
    }

    let origin = header_str(h, "origin").to_string();
    if req.method() == Method::OPTIONS && h.contains_key("access-control-request-method") {
        return preflight(&policy, h, &origin);
    }

    let mut cors = HeaderMap::new();
    cors.append(header::VARY, HeaderValue::from_static("Origin"));
    if !origin.is_empty()
        && req.method() != Method::OPTIONS
        && policy.cors_origin_allowed(&origin)
        && policy.method_allowed(req.method().as_str())
    {
        if let Ok(v) = HeaderValue::from_str(&policy.acao_value(&origin)) {
            cors.insert(ACAO, v);
        }
        if policy.credentials {
            cors.insert(ACAC, HeaderValue::from_static("true"));
        }
    }

    let mut resp = if req.method() == Method::OPTIONS {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NO_CONTENT;
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("OPTIONS, POST"));
        r
    } else if req.method() != Method::POST {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "405 - Method Not Allowed");
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("OPTIONS, POST"));
        r
    } else if !csrf_ok(&policy, h) {
        tracing::warn!("API blocked request to {path} (possible CSRF)");
        text(StatusCode::FORBIDDEN, "403 - Forbidden")
    } else {
        let mut r = next.run(req).await;
        let rh = r.headers_mut();
        for (k, vals) in &policy.headers {
            let Ok(name) = HeaderName::try_from(k.as_str()) else {
                continue;
            };
            rh.remove(&name);
            for v in vals {
                if let Ok(v) = HeaderValue::from_str(v) {
                    rh.append(name.clone(), v);
                }
            }
        }
        if r.status() == StatusCode::OK {
            let rh = r.headers_mut();
            rh.insert(
                "Access-Control-Allow-Headers",
                HeaderValue::from_static(EXPOSED),
            );
            rh.insert(
                "Access-Control-Expose-Headers",
                HeaderValue::from_static(EXPOSED),
            );
        }
        r
    };
    for (k, v) in cors.iter() {
        resp.headers_mut().append(k.clone(), v.clone());
    }
    resp
}

/// go-ipfs-cmds' `allowOrigin`, `allowReferer` and `allowUserAgent`.
fn csrf_ok(p: &Policy, h: &HeaderMap) -> bool {
    let origin = header_str(h, "origin");
    let referer = header_str(h, "referer");
    if !origin.is_empty() && !p.origin_listed(origin) {
        return false;
    }
    if !referer.is_empty() && !p.origin_listed(&referer_origin(referer)) {
        return false;
    }
    if origin.is_empty() && referer.is_empty() {
        // A browser POST always carries one of them; one without is
        // suspicious (except Electron's fetch).
        let ua = header_str(h, "user-agent");
        if ua.starts_with("Mozilla") && !ua.contains("Electron") {
            return false;
        }
    }
    true
}

/// rs/cors' preflight answer: 204, with the grant headers only when the
/// origin, method and requested headers are all allowed.
fn preflight(p: &Policy, h: &HeaderMap, origin: &str) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::NO_CONTENT;
    let rh = r.headers_mut();
    for v in [
        "Origin",
        "Access-Control-Request-Method",
        "Access-Control-Request-Headers",
    ] {
        rh.append(header::VARY, HeaderValue::from_static(v));
    }
    let method = header_str(h, "access-control-request-method");
    let req_headers = header_str(h, "access-control-request-headers");
    let headers_ok = req_headers
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .all(|s| ALLOWED_REQUEST_HEADERS.contains(&s.as_str()));
    if origin.is_empty()
        || !p.cors_origin_allowed(origin)
        || !p.method_allowed(method)
        || !headers_ok
    {
        return r;
    }
    if let Ok(v) = HeaderValue::from_str(&p.acao_value(origin)) {
        rh.insert(ACAO, v);
    }
    if let Ok(v) = HeaderValue::from_str(&method.to_ascii_uppercase()) {
        rh.insert(ACAM, v);
    }
    if !req_headers.trim().is_empty() {
        if let Ok(v) = HeaderValue::from_str(req_headers) {
            rh.insert("Access-Control-Allow-Headers", v);
        }
    }
    if p.credentials {
        rh.insert(ACAC, HeaderValue::from_static("true"));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_secrets_as_kubo_converts_them() {
        let h = |s: &str| auth_header_for_secret(s);
        assert_eq!(h("tok").as_deref(), Some("Bearer tok"));
        assert_eq!(h("bearer:tok").as_deref(), Some("Bearer tok"));
        assert_eq!(h("basic:user:pass").as_deref(), Some("Basic dXNlcjpwYXNz"));
        assert_eq!(
            h("basic:dXNlcjpwYXNz").as_deref(),
            Some("Basic dXNlcjpwYXNz")
        );
        assert_eq!(h("digest:x"), None);
        assert_eq!(h(""), None);
    }

    #[test]
    fn referer_origins() {
        assert_eq!(referer_origin("http://a.b:5/x?y#z"), "http://a.b:5");
        assert_eq!(referer_origin("https://[::1]:5001"), "https://[::1]:5001");
        assert_eq!(referer_origin("nonsense"), "://");
    }
}
