//! The IPFS Pinning Service API 1.0 (ipfs/pinning-services-api-spec) over
//! the cluster pinset, so `ipfs pin remote` can use a Ferrite cluster.
//!
//! As in IPFS Cluster, a pin's `requestid` is its CID: the pinset has one
//! entry per CID, so a request is found again without another index. The
//! request's `name` is the pin's name and `meta` its metadata; `origins` are
//! accepted but not kept (the cluster fetches through its own IPFS nodes).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use ferrite_ipld::Cid;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{comma_list, ct_eq};
use crate::cluster::Cluster;
use crate::node::ClusterError;
use crate::pinset::ClusterPin;
use crate::time::{parse_rfc3339_ms, rfc3339_ms};
use crate::types::{GlobalPinInfo, PinOptions, TrackerStatus};

/// Most CIDs a `cid=` filter may list (the spec's limit).
pub const MAX_CID_FILTER: usize = 10;
/// Largest `limit`.
pub const MAX_LIMIT: usize = 1000;
/// Most delegates a PinStatus may name.
const MAX_DELEGATES: usize = 20;

/// A Pinning Service API error: `{"error":{"reason","details"}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PsError {
    /// HTTP status.
    pub status: StatusCode,
    /// Machine-readable reason (`BAD_REQUEST`, `NOT_FOUND`, ...).
    pub reason: &'static str,
    /// Human-readable details.
    pub details: String,
}

impl PsError {
    /// 400 `BAD_REQUEST`.
    pub fn bad_request(details: impl Into<String>) -> Self {
        PsError {
            status: StatusCode::BAD_REQUEST,
            reason: "BAD_REQUEST",
            details: details.into(),
        }
    }

    /// 404 `NOT_FOUND`.
    pub fn not_found(details: impl Into<String>) -> Self {
        PsError {
            status: StatusCode::NOT_FOUND,
            reason: "NOT_FOUND",
            details: details.into(),
        }
    }

    /// 401 `UNAUTHORIZED`.
    pub fn unauthorized(details: impl Into<String>) -> Self {
        PsError {
            status: StatusCode::UNAUTHORIZED,
            reason: "UNAUTHORIZED",
            details: details.into(),
        }
    }
}

impl From<ClusterError> for PsError {
    fn from(e: ClusterError) -> Self {
        match e {
            ClusterError::Invalid(m) => PsError::bad_request(m),
            ClusterError::NotFound(m) => PsError::not_found(m),
            other => PsError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                reason: "INTERNAL_SERVER_ERROR",
                details: other.to_string(),
            },
        }
    }
}

impl IntoResponse for PsError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"reason": self.reason, "details": self.details}});
        (self.status, ferrite_http::rpc::json(&body)).into_response()
    }
}

type Reply = Result<Response, PsError>;

/// Whether an `Authorization` header carries one of `tokens` as a bearer
/// token. No tokens = nobody gets in.
pub fn check_bearer(header: Option<&str>, tokens: &[String]) -> bool {
    let Some((scheme, token)) = header.and_then(|h| h.trim().split_once(' ')) else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return false;
    }
    let token = token.trim();
    !token.is_empty()
        && tokens
            .iter()
            .fold(false, |ok, t| ok | ct_eq(t.as_bytes(), token.as_bytes()))
}

/// The Pinning Service API router; every request needs one of `tokens`.
pub fn router(cluster: Cluster, tokens: Vec<String>) -> Router {
    routes()
        .with_state(cluster)
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(tokens),
            bearer_auth,
        ))
}

/// The route table, apart so tests can check it builds without a cluster.
fn routes() -> Router<Cluster> {
    Router::new()
        .route("/pins", get(list).post(add))
        .route(
            "/pins/{requestid}",
            get(get_one).post(replace).delete(remove),
        )
        .fallback(|| async { PsError::not_found("no such endpoint") })
}

async fn bearer_auth(State(tokens): State<Arc<Vec<String>>>, req: Request, next: Next) -> Response {
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if check_bearer(header, &tokens) {
        next.run(req).await
    } else {
        PsError::unauthorized("missing or invalid access token").into_response()
    }
}

/// The `Pin` object of a request body.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PinRequest {
    /// CID to pin.
    pub cid: String,
    /// Optional name.
    #[serde(default)]
    pub name: Option<String>,
    /// Multiaddrs of providers (accepted, not kept; `null` = none).
    #[serde(default)]
    pub origins: Option<Vec<String>>,
    /// Free-form metadata (`null` = none).
    #[serde(default)]
    pub meta: Option<BTreeMap<String, String>>,
}

impl PinRequest {
    /// Parses and checks a request body.
    pub fn parse(body: &[u8]) -> Result<PinRequest, PsError> {
        let r: PinRequest = serde_json::from_slice(body)
            .map_err(|e| PsError::bad_request(format!("invalid pin object: {e}")))?;
        if r.cid.trim().is_empty() {
            return Err(PsError::bad_request("cid is required"));
        }
        if r.name.as_ref().is_some_and(|n| n.chars().count() > 255) {
            return Err(PsError::bad_request("name is longer than 255 characters"));
        }
        if r.origins.as_ref().is_some_and(|o| o.len() > MAX_DELEGATES) {
            return Err(PsError::bad_request("too many origins (max 20)"));
        }
        Ok(r)
    }

    /// The cluster pin options of this request.
    pub fn options(&self) -> PinOptions {
        PinOptions {
            name: self.name.clone().unwrap_or_default(),
            metadata: self.meta.clone().unwrap_or_default(),
            ..Default::default()
        }
    }
}

/// The four states of the Pinning Service API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PsStatus {
    /// Waiting.
    Queued,
    /// In progress.
    Pinning,
    /// Done.
    Pinned,
    /// Failed.
    Failed,
}

impl PsStatus {
    /// Its name in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            PsStatus::Queued => "queued",
            PsStatus::Pinning => "pinning",
            PsStatus::Pinned => "pinned",
            PsStatus::Failed => "failed",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Option<PsStatus> {
        [
            PsStatus::Queued,
            PsStatus::Pinning,
            PsStatus::Pinned,
            PsStatus::Failed,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }

    /// The status of a pin over its allocations (every peer when it has
    /// none): pinned anywhere wins, then pinning, then failed, else queued.
    pub fn of(g: &GlobalPinInfo) -> PsStatus {
        let relevant: Vec<TrackerStatus> = g
            .peer_map
            .iter()
            .filter(|(p, _)| g.allocations.is_empty() || g.allocations.contains(p))
            .map(|(_, i)| i.status)
            .collect();
        if relevant.contains(&TrackerStatus::Pinned) {
            PsStatus::Pinned
        } else if relevant.contains(&TrackerStatus::Pinning) {
            PsStatus::Pinning
        } else if relevant.iter().any(|s| s.is_error()) {
            PsStatus::Failed
        } else {
            PsStatus::Queued
        }
    }
}

/// One pin as the Pinning Service API lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// CID text (also the request ID).
    pub cid: String,
    /// Name.
    pub name: String,
    /// Metadata.
    pub meta: BTreeMap<String, String>,
    /// Creation time, Unix milliseconds.
    pub created_ms: u64,
    /// State.
    pub status: PsStatus,
}

impl Row {
    /// A row from a cluster status.
    pub fn from_global(g: &GlobalPinInfo) -> Row {
        Row {
            cid: g.cid.to_string(),
            name: g.name.clone(),
            meta: g.metadata.clone(),
            created_ms: g.created * 1000,
            status: PsStatus::of(g),
        }
    }

    /// A row from a committed pin whose state is already known.
    pub fn from_pin(p: &ClusterPin, status: PsStatus) -> Row {
        Row {
            cid: p.cid.to_string(),
            name: p.name.clone(),
            meta: p.metadata.clone(),
            created_ms: p.timestamp * 1000,
            status,
        }
    }

    /// The PinStatus JSON.
    pub fn to_json(&self, delegates: &[String]) -> Value {
        json!({
            "requestid": self.cid,
            "status": self.status.as_str(),
            "created": rfc3339_ms(self.created_ms),
            "pin": {"cid": self.cid, "name": self.name, "origins": [], "meta": self.meta},
            "delegates": delegates,
            "info": {},
        })
    }
}

/// How `name=` matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TextMatch {
    /// Case-sensitive, whole name (the default).
    #[default]
    Exact,
    /// Case-insensitive, whole name.
    IExact,
    /// Case-sensitive substring.
    Partial,
    /// Case-insensitive substring.
    IPartial,
}

impl TextMatch {
    /// Whether `name` matches `want`.
    pub fn matches(self, want: &str, name: &str) -> bool {
        match self {
            TextMatch::Exact => name == want,
            TextMatch::IExact => name.to_lowercase() == want.to_lowercase(),
            TextMatch::Partial => name.contains(want),
            TextMatch::IPartial => name.to_lowercase().contains(&want.to_lowercase()),
        }
    }
}

/// The filters of `GET /pins`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// Only these CIDs (empty = any).
    pub cids: Vec<String>,
    /// Name filter.
    pub name: Option<String>,
    /// How `name` matches.
    pub text_match: TextMatch,
    /// Wanted states (default: pinned).
    pub status: Vec<PsStatus>,
    /// Created strictly before (Unix ms).
    pub before: Option<i64>,
    /// Created strictly after (Unix ms).
    pub after: Option<i64>,
    /// Most results.
    pub limit: usize,
    /// Every key/value here must be in the pin's metadata.
    pub meta: BTreeMap<String, String>,
}

impl ListQuery {
    /// Parses the query string pairs.
    pub fn parse(q: &[(String, String)]) -> Result<ListQuery, PsError> {
        let all = |name: &str| -> Vec<String> {
            q.iter()
                .filter(|(k, _)| k == name)
                .flat_map(|(_, v)| comma_list(v))
                .collect()
        };
        let last = |name: &str| -> Option<&str> {
            q.iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.is_empty())
        };
        let cids = all("cid");
        if cids.len() > MAX_CID_FILTER {
            return Err(PsError::bad_request(format!(
                "at most {MAX_CID_FILTER} CIDs may be listed"
            )));
        }
        let text_match = match last("match").unwrap_or("exact") {
            "exact" => TextMatch::Exact,
            "iexact" => TextMatch::IExact,
            "partial" => TextMatch::Partial,
            "ipartial" => TextMatch::IPartial,
            m => return Err(PsError::bad_request(format!("invalid match {m:?}"))),
        };
        let mut status = Vec::new();
        for s in all("status") {
            let st = PsStatus::parse(&s)
                .ok_or_else(|| PsError::bad_request(format!("invalid status {s:?}")))?;
            if !status.contains(&st) {
                status.push(st);
            }
        }
        if status.is_empty() {
            status.push(PsStatus::Pinned);
        }
        let time = |name: &str| -> Result<Option<i64>, PsError> {
            last(name)
                .map(|v| {
                    parse_rfc3339_ms(v)
                        .ok_or_else(|| PsError::bad_request(format!("{name}: invalid time {v:?}")))
                })
                .transpose()
        };
        let limit = match last("limit") {
            None => 10,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    return Err(PsError::bad_request(format!(
                        "limit must be between 1 and {MAX_LIMIT}"
                    )))
                }
            },
        };
        let meta = match last("meta") {
            None => BTreeMap::new(),
            Some(m) => {
                serde_json::from_str(m).map_err(|e| PsError::bad_request(format!("meta: {e}")))?
            }
        };
        Ok(ListQuery {
            cids,
            name: last("name").map(str::to_owned),
            text_match,
            status,
            before: time("before")?,
            after: time("after")?,
            limit,
            meta,
        })
    }

    /// Whether a row passes every filter.
    pub fn matches(&self, r: &Row) -> bool {
        let created = r.created_ms as i64;
        (self.cids.is_empty() || self.cids.contains(&r.cid))
            && self
                .name
                .as_ref()
                .is_none_or(|n| self.text_match.matches(n, &r.name))
            && self.status.contains(&r.status)
            && self.before.is_none_or(|b| created < b)
            && self.after.is_none_or(|a| created > a)
            && self.meta.iter().all(|(k, v)| r.meta.get(k) == Some(v))
    }

    /// `{"count","results"}`: count of every match, results newest first
    /// up to `limit`.
    pub fn apply(&self, rows: Vec<Row>) -> (usize, Vec<Row>) {
        let mut hits: Vec<Row> = rows.into_iter().filter(|r| self.matches(r)).collect();
        hits.sort_by(|a, b| b.created_ms.cmp(&a.created_ms).then(a.cid.cmp(&b.cid)));
        let count = hits.len();
        hits.truncate(self.limit);
        (count, hits)
    }
}

/// Delegates: this peer's IPFS swarm addresses, each ending in
/// `/p2p/<ipfs peer id>` (at least that bare address).
pub fn delegates(ipfs_id: &str, addrs: &[String]) -> Vec<String> {
    let mut out: Vec<String> = addrs
        .iter()
        .map(|a| {
            if a.contains("/p2p/") || ipfs_id.is_empty() {
                a.clone()
            } else {
                format!("{a}/p2p/{ipfs_id}")
            }
        })
        .take(MAX_DELEGATES)
        .collect();
    if out.is_empty() && !ipfs_id.is_empty() {
        out.push(format!("/p2p/{ipfs_id}"));
    }
    out
}

async fn our_delegates(c: &Cluster) -> Vec<String> {
    let id = c.id().await;
    delegates(&id.ipfs_id, &id.ipfs_addresses)
}

fn accepted(v: &Value) -> Response {
    (StatusCode::ACCEPTED, ferrite_http::rpc::json(v)).into_response()
}

/// The state right after a pin was committed: what the peers say, or
/// `queued` when they cannot say yet.
async fn fresh_row(c: &Cluster, pin: &ClusterPin) -> Row {
    match c.status(&pin.cid.to_string(), false).await {
        Ok(g) => Row::from_pin(pin, PsStatus::of(&g)),
        Err(_) => Row::from_pin(pin, PsStatus::Queued),
    }
}

async fn list(State(c): State<Cluster>, Query(q): Query<Vec<(String, String)>>) -> Reply {
    let lq = ListQuery::parse(&q)?;
    // Requests are the pinset's entries (a status may also exist for a CID
    // being unpinned); their state comes from the peers.
    let pins: Vec<ClusterPin> = c
        .allocations()
        .await?
        .into_iter()
        .filter(|p| lq.cids.is_empty() || lq.cids.contains(&p.cid.to_string()))
        .collect();
    let cids: Vec<String> = pins.iter().map(|p| p.cid.to_string()).collect();
    let states: HashMap<Cid, PsStatus> = if pins.is_empty() {
        HashMap::new()
    } else {
        c.status_all(false, &[], &cids)
            .await?
            .iter()
            .map(|g| (g.cid, PsStatus::of(g)))
            .collect()
    };
    let rows = pins
        .iter()
        .map(|p| {
            let st = states.get(&p.cid).copied().unwrap_or(PsStatus::Queued);
            Row::from_pin(p, st)
        })
        .collect();
    let (count, hits) = lq.apply(rows);
    let d = our_delegates(&c).await;
    let results: Vec<Value> = hits.iter().map(|r| r.to_json(&d)).collect();
    Ok(ferrite_http::rpc::json(
        &json!({"count": count, "results": results}),
    ))
}

async fn add(State(c): State<Cluster>, body: Bytes) -> Reply {
    let req = PinRequest::parse(&body)?;
    let pin = c.pin(req.cid.trim(), req.options()).await?;
    let row = fresh_row(&c, &pin).await;
    Ok(accepted(&row.to_json(&our_delegates(&c).await)))
}

async fn get_one(State(c): State<Cluster>, Path(id): Path<String>) -> Reply {
    let Some(pin) = c.allocation(&id)? else {
        return Err(PsError::not_found(format!("no pin request {id}")));
    };
    let g = c.status(&id, false).await?;
    let row = Row::from_pin(&pin, PsStatus::of(&g));
    Ok(ferrite_http::rpc::json(
        &row.to_json(&our_delegates(&c).await),
    ))
}

async fn replace(State(c): State<Cluster>, Path(id): Path<String>, body: Bytes) -> Reply {
    let req = PinRequest::parse(&body)?;
    if c.allocation(&id)?.is_none() {
        return Err(PsError::not_found(format!("no pin request {id}")));
    }
    let pin = c.pin(req.cid.trim(), req.options()).await?;
    if pin.cid.to_string() != id {
        match c.unpin(&id).await {
            Ok(_) | Err(ClusterError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let row = fresh_row(&c, &pin).await;
    Ok(accepted(&row.to_json(&our_delegates(&c).await)))
}

async fn remove(State(c): State<Cluster>, Path(id): Path<String>) -> Reply {
    c.unpin(&id).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{test_peer, PinInfo};

    const CID: &str = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";

    fn info(peer: &str, status: TrackerStatus) -> PinInfo {
        PinInfo {
            cid: CID.parse().unwrap(),
            peer: test_peer(peer),
            peername: peer.into(),
            ipfs_peer_id: String::new(),
            ipfs_peer_addresses: vec![],
            status,
            timestamp_ms: 0,
            error: String::new(),
            attempt_count: 0,
        }
    }

    fn global(allocs: &[&str], peers: &[(&str, TrackerStatus)]) -> GlobalPinInfo {
        GlobalPinInfo {
            cid: CID.parse().unwrap(),
            name: "n".into(),
            allocations: allocs.iter().map(|s| test_peer(s)).collect(),
            metadata: BTreeMap::new(),
            created: 1_714_564_800,
            peer_map: peers
                .iter()
                .map(|(p, s)| (test_peer(p), info(p, *s)))
                .collect(),
        }
    }

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn row(cid: &str, name: &str, created_ms: u64, status: PsStatus) -> Row {
        Row {
            cid: cid.into(),
            name: name.into(),
            meta: BTreeMap::new(),
            created_ms,
            status,
        }
    }

    #[test]
    fn bearer_tokens() {
        let t = vec!["secret".to_string(), "other".to_string()];
        assert!(check_bearer(Some("Bearer secret"), &t));
        assert!(check_bearer(Some("bearer other"), &t));
        assert!(!check_bearer(Some("Bearer nope"), &t));
        assert!(!check_bearer(Some("Basic secret"), &t));
        assert!(!check_bearer(Some("Bearer "), &t));
        assert!(!check_bearer(None, &t));
        assert!(!check_bearer(Some("Bearer secret"), &[]));
    }

    #[test]
    fn status_mapping_over_allocations() {
        use TrackerStatus::*;
        assert_eq!(
            PsStatus::of(&global(&[], &[("a", Pinning), ("b", Pinned)])),
            PsStatus::Pinned
        );
        assert_eq!(
            PsStatus::of(&global(&[], &[("a", PinError), ("b", Pinning)])),
            PsStatus::Pinning
        );
        assert_eq!(
            PsStatus::of(&global(&[], &[("a", PinError), ("b", PinQueued)])),
            PsStatus::Failed
        );
        assert_eq!(
            PsStatus::of(&global(&[], &[("a", PinQueued)])),
            PsStatus::Queued
        );
        // Peer "b" is not allocated: its status does not count.
        assert_eq!(
            PsStatus::of(&global(&["a"], &[("a", PinQueued), ("b", Pinned)])),
            PsStatus::Queued
        );
        assert_eq!(PsStatus::of(&global(&[], &[])), PsStatus::Queued);
    }

    #[test]
    fn pin_status_json() {
        let mut r = Row::from_global(&global(&[], &[("a", TrackerStatus::Pinned)]));
        r.cid = "bafy".into(); // a short request ID to check
        r.meta.insert("k".into(), "v".into());
        let v = r.to_json(&["/ip4/127.0.0.1/tcp/4001/p2p/12D3i".into()]);
        assert_eq!(v["requestid"], "bafy");
        assert_eq!(v["status"], "pinned");
        assert_eq!(v["created"], "2024-05-01T12:00:00.000Z");
        assert_eq!(v["pin"]["cid"], "bafy");
        assert_eq!(v["pin"]["name"], "n");
        assert_eq!(v["pin"]["meta"]["k"], "v");
        assert_eq!(v["pin"]["origins"], json!([]));
        assert_eq!(v["delegates"][0], "/ip4/127.0.0.1/tcp/4001/p2p/12D3i");
        assert_eq!(v["info"], json!({}));
    }

    #[test]
    fn delegates_carry_peer_id() {
        let d = delegates(
            "12D3i",
            &[
                "/ip4/127.0.0.1/tcp/4001".into(),
                "/ip4/10.0.0.1/tcp/4001/p2p/12D3i".into(),
            ],
        );
        assert_eq!(
            d,
            vec![
                "/ip4/127.0.0.1/tcp/4001/p2p/12D3i",
                "/ip4/10.0.0.1/tcp/4001/p2p/12D3i"
            ]
        );
        assert_eq!(delegates("12D3i", &[]), vec!["/p2p/12D3i"]);
    }

    #[test]
    fn pin_request_parsing() {
        let r = PinRequest::parse(br#"{"cid":"bafy","name":"x","meta":{"a":"b"}}"#).unwrap();
        let o = r.options();
        assert_eq!(o.name, "x");
        assert_eq!(o.metadata.get("a").map(String::as_str), Some("b"));
        assert!(PinRequest::parse(br#"{"cid":"bafy","origins":["/ip4/1.2.3.4/tcp/1"]}"#).is_ok());
        let r = PinRequest::parse(br#"{"cid":"bafy","origins":null,"meta":null}"#).unwrap();
        assert!(r.options().metadata.is_empty());
        for bad in [
            &br#"{}"#[..],
            br#"{"cid":""}"#,
            b"nope",
            br#"{"cid":"x","meta":{"a":1}}"#,
        ] {
            let e = PinRequest::parse(bad).unwrap_err();
            assert_eq!(e.reason, "BAD_REQUEST");
        }
        let long = format!(r#"{{"cid":"x","name":"{}"}}"#, "n".repeat(256));
        assert!(PinRequest::parse(long.as_bytes()).is_err());
    }

    #[test]
    fn list_query_defaults_and_errors() {
        let d = ListQuery::parse(&[]).unwrap();
        assert_eq!(d.status, vec![PsStatus::Pinned]);
        assert_eq!(d.limit, 10);
        assert_eq!(d.text_match, TextMatch::Exact);
        let l = ListQuery::parse(&q(&[
            ("status", "queued,pinning"),
            ("status", "failed"),
            ("cid", "a,b"),
            ("limit", "1000"),
            ("match", "ipartial"),
            ("name", "Foo"),
            ("meta", r#"{"k":"v"}"#),
            ("before", "2024-05-01T12:00:00Z"),
        ]))
        .unwrap();
        assert_eq!(
            l.status,
            vec![PsStatus::Queued, PsStatus::Pinning, PsStatus::Failed]
        );
        assert_eq!(l.cids, vec!["a", "b"]);
        assert_eq!(l.limit, 1000);
        assert_eq!(l.before, Some(1_714_564_800_000));
        assert_eq!(l.meta.get("k").map(String::as_str), Some("v"));
        let eleven = (0..11).map(|i| i.to_string()).collect::<Vec<_>>().join(",");
        for bad in [
            ("limit", "0"),
            ("limit", "1001"),
            ("status", "done"),
            ("match", "fuzzy"),
            ("meta", "[1]"),
            ("after", "yesterday"),
            ("cid", eleven.as_str()),
        ] {
            assert!(ListQuery::parse(&q(&[bad])).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn name_match_modes() {
        assert!(TextMatch::Exact.matches("Foo", "Foo"));
        assert!(!TextMatch::Exact.matches("Foo", "foo"));
        assert!(TextMatch::IExact.matches("Foo", "fOO"));
        assert!(!TextMatch::IExact.matches("Foo", "fOOd"));
        assert!(TextMatch::Partial.matches("oo", "Food"));
        assert!(!TextMatch::Partial.matches("OO", "Food"));
        assert!(TextMatch::IPartial.matches("OO", "Food"));
    }

    #[test]
    fn list_filters_sort_and_limit() {
        let mut rows = vec![
            row("a", "alpha", 1_000, PsStatus::Pinned),
            row("b", "beta", 3_000, PsStatus::Pinned),
            row("c", "gamma", 2_000, PsStatus::Queued),
            row("d", "Alphabet", 4_000, PsStatus::Pinned),
        ];
        rows[0].meta.insert("app".into(), "x".into());
        let lq = |pairs: &[(&str, &str)]| ListQuery::parse(&q(pairs)).unwrap();

        let (n, hits) = lq(&[]).apply(rows.clone());
        assert_eq!(n, 3);
        let cids: Vec<&str> = hits.iter().map(|r| r.cid.as_str()).collect();
        assert_eq!(cids, vec!["d", "b", "a"]);

        let (n, hits) = lq(&[("limit", "1")]).apply(rows.clone());
        assert_eq!((n, hits.len(), hits[0].cid.as_str()), (3, 1, "d"));

        let (n, _) = lq(&[("status", "queued,pinned")]).apply(rows.clone());
        assert_eq!(n, 4);
        let (_, hits) = lq(&[("name", "alph"), ("match", "ipartial")]).apply(rows.clone());
        assert_eq!(hits.len(), 2);
        let (_, hits) = lq(&[("name", "alpha")]).apply(rows.clone());
        assert_eq!(hits.len(), 1);
        let (_, hits) = lq(&[("cid", "a,c"), ("status", "queued")]).apply(rows.clone());
        assert_eq!(hits[0].cid, "c");
        let (_, hits) = lq(&[("meta", r#"{"app":"x"}"#)]).apply(rows.clone());
        assert_eq!(hits.len(), 1);
        let (_, hits) = lq(&[
            ("after", "1970-01-01T00:00:01Z"),
            ("before", "1970-01-01T00:00:04Z"),
        ])
        .apply(rows.clone());
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].cid, "b");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bearer_layer() {
        let r = Router::new().route("/pins", get(|| async { "ok" })).layer(
            axum::middleware::from_fn_with_state(Arc::new(vec!["tok".to_string()]), bearer_auth),
        );
        let base = super::super::serve_for_test(r).await;
        let (ok, bad) = tokio::task::spawn_blocking(move || {
            let url = format!("{base}/pins");
            (
                super::super::get_for_test(&url, Some("Bearer tok")),
                super::super::get_for_test(&url, Some("Bearer nope")),
            )
        })
        .await
        .unwrap();
        assert_eq!(ok.0, 200);
        assert_eq!(bad.0, 401);
        let v: Value = serde_json::from_str(&bad.2).unwrap();
        assert_eq!(v["error"]["reason"], "UNAUTHORIZED");
    }

    #[test]
    fn route_table_builds() {
        let _ = routes();
    }

    #[test]
    fn errors_have_reason() {
        let e = PsError::from(ClusterError::NotFound("x".into()));
        assert_eq!((e.status, e.reason), (StatusCode::NOT_FOUND, "NOT_FOUND"));
        let e = PsError::from(ClusterError::Shutdown);
        assert_eq!(e.reason, "INTERNAL_SERVER_ERROR");
    }
}
