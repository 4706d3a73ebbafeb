//! Turning an HTTP request into a content path and a response format.

use super::GwError;
use axum::extract::Request;
use axum::http::{header, HeaderMap, Method};
use ferrite_ipld::{codecs, Cid};
use ferrite_node::{CarOptions, DagScope, EntityBytes, IpfsPath};
use percent_encoding::percent_decode_str;

/// The response format asked for with `?format=` or `Accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    /// Deserialized: UnixFS files and folders, other codecs as their block.
    Default,
    /// `application/vnd.ipld.raw`.
    Raw,
    /// `application/vnd.ipld.car` with its options.
    Car(CarOptions),
    /// `application/x-tar`.
    Tar,
    /// A block of this codec as is (`dag-json`, `dag-cbor`, `json`, `cbor`).
    Codec(u64),
    /// `application/vnd.ipfs.ipns-record`.
    IpnsRecord,
}

impl Format {
    /// The `?format=` value that names this format.
    pub(super) fn param(self) -> &'static str {
        match self {
            Format::Default => "",
            Format::Raw => "raw",
            Format::Car(_) => "car",
            Format::Tar => "tar",
            Format::Codec(c) => codec_format(c).unwrap_or(""),
            Format::IpnsRecord => "ipns-record",
        }
    }
}

/// `?format=` name and media type of the codecs served as is.
const CODEC_FORMATS: &[(u64, &str, &str)] = &[
    (
        codecs::DAG_JSON,
        "dag-json",
        "application/vnd.ipld.dag-json",
    ),
    (
        codecs::DAG_CBOR,
        "dag-cbor",
        "application/vnd.ipld.dag-cbor",
    ),
    (codecs::JSON, "json", "application/json"),
    (codecs::CBOR, "cbor", "application/cbor"),
];

/// The `?format=` name of a codec served as is.
pub(super) fn codec_format(codec: u64) -> Option<&'static str> {
    CODEC_FORMATS.iter().find(|c| c.0 == codec).map(|c| c.1)
}

/// The media type of a codec served as is.
pub(super) fn codec_media_type(codec: u64) -> Option<&'static str> {
    CODEC_FORMATS.iter().find(|c| c.0 == codec).map(|c| c.2)
}

/// A parsed gateway request.
#[derive(Debug, Clone)]
pub(super) struct GwRequest {
    /// HEAD: headers only.
    pub head: bool,
    /// The content path, segments percent-decoded.
    pub path: IpfsPath,
    /// The URL path as sent (still percent-encoded), for `X-Ipfs-Path` and
    /// redirects.
    pub raw_path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// The URL path ends in `/`.
    pub trailing_slash: bool,
    /// The negotiated format.
    pub format: Format,
    /// The format came from `Accept` only (so `Content-Location` is due).
    pub format_from_accept: bool,
    /// `?filename=`.
    pub filename: Option<String>,
    /// `?download=true`.
    pub download: bool,
    /// The request headers.
    pub headers: HeaderMap,
    /// `Cache-Control: only-if-cached`.
    pub only_if_cached: bool,
    /// The CAR `order` to announce.
    pub car_order: &'static str,
}

impl GwRequest {
    /// Parses `/ipfs/{cid}[/path]` and negotiates the format.
    pub(super) fn parse(req: &Request) -> Result<Self, GwError> {
        let uri = req.uri();
        let raw_path = uri.path().to_string();
        let rest = raw_path.strip_prefix("/ipfs/").unwrap_or_default();
        let mut segments = Vec::new();
        let mut parts = rest.split('/');
        let cid_str = decode(parts.next().unwrap_or_default())?;
        let root = Cid::try_from(cid_str.as_str()).map_err(|e| {
            GwError::bad_request(format!(
                "invalid path {raw_path:?}: {cid_str:?} is not a CID: {e}"
            ))
        })?;
        for p in parts.filter(|p| !p.is_empty()) {
            segments.push(decode(p)?);
        }
        let query = uri.query().map(str::to_string);
        let params: Vec<(String, String)> = query
            .as_deref()
            .map(|q| {
                q.split('&')
                    .filter(|kv| !kv.is_empty())
                    .map(|kv| {
                        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                        (decode_query(k), decode_query(v))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let params = Params(params);
        let param = |name: &str| params.get(name);
        let headers = req.headers().clone();
        let (format, format_from_accept) = negotiate(&headers, &params)?;
        // `/ipfs/cid` without a slash must not become a service worker's
        // scope: it would cover every CID on the gateway
        if headers.get("service-worker").is_some_and(|v| v == "script")
            && segments.is_empty()
            && !raw_path.ends_with('/')
        {
            return Err(GwError::bad_request(
                "navigator.serviceWorker: registration is not allowed for this scope",
            ));
        }
        let only_if_cached = headers
            .get_all(header::CACHE_CONTROL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.split(',').any(|d| d.trim() == "only-if-cached"));
        Ok(GwRequest {
            head: req.method() == Method::HEAD,
            path: IpfsPath { root, segments },
            trailing_slash: raw_path.ends_with('/'),
            raw_path,
            query,
            format,
            format_from_accept,
            filename: param("filename").map(str::to_string),
            download: param("download") == Some("true"),
            car_order: car_order(&headers, param("car-order")),
            headers,
            only_if_cached,
        })
    }

    /// A request header as text.
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The last path segment (the file or folder name), if any.
    pub(super) fn last_segment(&self) -> Option<&str> {
        self.path.segments.last().map(String::as_str)
    }
}

/// Decoded query parameters, in order.
struct Params(Vec<(String, String)>);

impl Params {
    /// The first value of `name`.
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn decode(s: &str) -> Result<String, GwError> {
    percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| GwError::bad_request(format!("path segment {s:?} is not UTF-8")))
}

fn decode_query(s: &str) -> String {
    let s = s.replace('+', " ");
    percent_decode_str(&s).decode_utf8_lossy().into_owned()
}

/// Picks the format: `?format=` wins over `Accept` (IPIP-523); CAR options
/// come from the `Accept` entry and `car-*` / `dag-scope` / `entity-bytes`
/// query parameters (the query wins).
fn negotiate(headers: &HeaderMap, params: &Params) -> Result<(Format, bool), GwError> {
    let from_param = match params.get("format") {
        None | Some("") => None,
        Some(f) => Some(match f {
            "raw" => Kind::Raw,
            "car" => Kind::Car,
            "tar" => Kind::Tar,
            "ipns-record" => Kind::IpnsRecord,
            other => match CODEC_FORMATS.iter().find(|c| c.1 == other) {
                Some(c) => Kind::Codec(c.0),
                None => {
                    return Err(GwError::bad_request(format!(
                        "unsupported format {other:?}: use raw, car, tar, dag-json, dag-cbor, json, cbor"
                    )))
                }
            },
        }),
    };
    let accept = accepted(headers)?;
    let (kind, car_params, from_accept) = match (from_param, accept) {
        (Some(k), Some((ak, params))) if k == ak => (k, params, false),
        (Some(k), _) => (k, Vec::new(), false),
        (None, Some((k, params))) => (k, params, true),
        (None, None) => (Kind::Default, Vec::new(), false),
    };
    let format = match kind {
        Kind::Default => Format::Default,
        Kind::Raw => Format::Raw,
        Kind::Tar => Format::Tar,
        Kind::IpnsRecord => Format::IpnsRecord,
        Kind::Codec(c) => Format::Codec(c),
        Kind::Car => Format::Car(car_options(&car_params, params)?),
    };
    Ok((format, from_accept))
}

/// Media type parameters, names lowercased, in order.
type MediaParams = Vec<(String, String)>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Default,
    Raw,
    Car,
    Tar,
    IpnsRecord,
    Codec(u64),
}

/// The first media type in `Accept` (by `q`, then order) that asks for a
/// special format, with its parameters. Generic types (`text/html`, `*/*`)
/// mean the default response. A CAR entry with parameters we cannot honour
/// is skipped for the next one; if nothing remains it is a 406.
fn accepted(headers: &HeaderMap) -> Result<Option<(Kind, MediaParams)>, GwError> {
    // (q, position, media type, parameters)
    let mut entries: Vec<(f32, usize, String, MediaParams)> = Vec::new();
    for v in headers.get_all(header::ACCEPT).iter() {
        let Ok(v) = v.to_str() else { continue };
        for item in v.split(',') {
            let mut parts = item.split(';');
            let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            if media.is_empty() {
                continue;
            }
            let mut q = 1.0f32;
            let mut params = Vec::new();
            for p in parts {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                let (k, v) = (
                    k.trim().to_ascii_lowercase(),
                    v.trim().trim_matches('"').to_string(),
                );
                if k == "q" {
                    q = v.parse().unwrap_or(0.0);
                } else {
                    params.push((k, v));
                }
            }
            if q > 0.0 {
                let n = entries.len();
                entries.push((q, n, media, params));
            }
        }
    }
    // by q, then concrete types before wildcards (RFC 9110 §12.5.1), then
    // the client's order
    let wild = |m: &str| m.ends_with("/*");
    entries.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then(wild(&a.2).cmp(&wild(&b.2)))
            .then(a.1.cmp(&b.1))
    });
    let mut rejected_car = None;
    for (_, _, media, params) in entries {
        let kind = match media.as_str() {
            "application/vnd.ipld.raw" => Kind::Raw,
            "application/vnd.ipld.car" => {
                if let Err(e) = car_params_ok(&params) {
                    rejected_car.get_or_insert(e);
                    continue;
                }
                Kind::Car
            }
            "application/x-tar" => Kind::Tar,
            "application/vnd.ipfs.ipns-record" => Kind::IpnsRecord,
            m => match CODEC_FORMATS.iter().find(|c| c.2 == m) {
                Some(c) => Kind::Codec(c.0),
                None if m.starts_with("application/vnd.ipld.") || m.starts_with("application/vnd.ipfs.") => {
                    return Err(GwError::not_acceptable(format!(
                        "unsupported response type {m}: this gateway serves application/vnd.ipld.raw, application/vnd.ipld.car, application/x-tar and deserialized responses"
                    )))
                }
                // text/html, */*, image/* …: the default response
                None => return Ok(None),
            },
        };
        return Ok(Some((kind, params)));
    }
    match rejected_car {
        Some(e) => Err(e),
        None => Ok(None),
    }
}

/// Whether the CAR parameters of an `Accept` entry can be honoured.
fn car_params_ok(params: &[(String, String)]) -> Result<(), GwError> {
    for (k, v) in params {
        let ok = match k.as_str() {
            "version" => v == "1",
            "order" => v == "dfs" || v == "unk" || v.is_empty(),
            "dups" => v == "y" || v == "n" || v.is_empty(),
            _ => true,
        };
        if !ok {
            return Err(GwError::not_acceptable(format!(
                "unsupported application/vnd.ipld.car parameter {k}={v}: only version=1, order=dfs|unk, dups=y|n"
            )));
        }
    }
    Ok(())
}

/// CAR options from the `Accept` parameters and the query (which wins; bad
/// query values are 400s).
fn car_options(accept: &[(String, String)], params: &Params) -> Result<CarOptions, GwError> {
    let param = |k: &str| params.get(k);
    let from_accept = |k: &str| accept.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
    let mut opts = CarOptions::default();
    if let Some(v) = param("car-version") {
        if v != "1" {
            return Err(GwError::bad_request(format!(
                "unsupported car-version {v:?}: only version 1"
            )));
        }
    }
    if let Some(o) = param("car-order") {
        if o != "dfs" && o != "unk" {
            return Err(GwError::bad_request(format!(
                "unsupported car-order {o:?}: dfs or unk"
            )));
        }
    }
    opts.dups = match param("car-dups").or_else(|| from_accept("dups")) {
        None | Some("") | Some("n") => false,
        Some("y") => true,
        Some(d) => {
            return Err(GwError::bad_request(format!(
                "unsupported car-dups {d:?}: y or n"
            )))
        }
    };
    opts.scope = match param("dag-scope") {
        None => DagScope::All,
        Some("block") => DagScope::Block,
        Some("entity") => DagScope::Entity,
        Some("all") => DagScope::All,
        Some(s) => {
            return Err(GwError::bad_request(format!(
                "invalid dag-scope {s:?}: block, entity or all"
            )))
        }
    };
    if let Some(eb) = param("entity-bytes") {
        opts.entity_bytes =
            Some(EntityBytes::parse(eb).map_err(|e| GwError::bad_request(e.to_string()))?);
    }
    Ok(opts)
}

/// The CAR `order` to announce: what the client asked for (`unk` is
/// honoured trivially by sending depth-first blocks), else `dfs`.
fn car_order(headers: &HeaderMap, query_order: Option<&str>) -> &'static str {
    if let Some(o) = query_order {
        return if o == "unk" { "unk" } else { "dfs" };
    }
    let asked_unk = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find(|i| i.trim().starts_with("application/vnd.ipld.car"))
        .is_some_and(|i| {
            i.split(';')
                .any(|p| p.trim().replace(' ', "") == "order=unk")
        });
    if asked_unk {
        "unk"
    } else {
        "dfs"
    }
}
