//! Explicit response formats: raw blocks, CAR streams (trustless gateway),
//! tar archives and blocks of a given codec.

use super::files::{base, disposition, node_err, not_modified, parse_range, RangeReq};
use super::request::{codec_format, codec_media_type, GwRequest};
use super::{etag_matches, Gateway, GwError};
use crate::body::blocking_stream;
use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use ferrite_ipld::codecs;
use ferrite_node::{CarOptions, IpfsPath, Node};
use ferrite_unixfs::export::{self, EntryKind};

/// `Content-Location` with `?format=` when the format came from `Accept`,
/// so caches keep the variants apart.
fn content_location(
    req: &GwRequest,
    b: axum::http::response::Builder,
) -> axum::http::response::Builder {
    if !req.format_from_accept {
        return b;
    }
    let mut loc = format!("{}?", req.raw_path);
    if let Some(q) = &req.query {
        loc.push_str(q);
        loc.push('&');
    }
    loc.push_str("format=");
    loc.push_str(req.format.param());
    match HeaderValue::from_str(&loc) {
        Ok(v) => b.header(header::CONTENT_LOCATION, v),
        Err(_) => b,
    }
}

/// `application/vnd.ipld.raw`: the block the path ends at.
pub(super) fn raw(gw: &Gateway, req: &GwRequest) -> Result<Response, GwError> {
    let node = &gw.node;
    let resolved = gw.resolve(&req.path)?;
    let cid = resolved.cid;
    let etag = format!("\"{cid}.raw\"");
    let b = content_location(req, base(req, Some(&resolved.roots)));
    if etag_matches(req.header("if-none-match"), &etag) {
        return Ok(not_modified(b, &etag));
    }
    let data = node.block_get(&cid)?;
    let name = format!("{cid}.bin");
    let mut b = b
        .header(header::ETAG, etag)
        .header(header::CONTENT_TYPE, "application/vnd.ipld.raw")
        .header("X-Content-Type-Options", "nosniff")
        .header(header::ACCEPT_RANGES, "bytes")
        .header(
            header::CONTENT_DISPOSITION,
            disposition(req, Some(&name)).expect("a default name"),
        );
    let size = data.len() as u64;
    let body = match parse_range(req.header("range"), size) {
        RangeReq::Unsatisfiable => {
            return Ok(b
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(header::CONTENT_RANGE, format!("bytes */{size}"))
                .body(Body::empty())
                .expect("valid response"))
        }
        RangeReq::One(s, e) => {
            b = b
                .status(StatusCode::PARTIAL_CONTENT)
                .header(header::CONTENT_RANGE, format!("bytes {s}-{e}/{size}"));
            data.slice(s as usize..=e as usize)
        }
        RangeReq::Full => data,
    };
    Ok(b.header(header::CONTENT_LENGTH, body.len())
        .body(if req.head {
            Body::empty()
        } else {
            Body::from(body)
        })
        .expect("valid response"))
}

/// FNV-1a, 64 bits: a stable hash for `ETag`s (the same request gets the
/// same tag across restarts and versions).
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for &b in p.iter().chain(&[0u8]) {
            h ^= b as u64;
            h = h.wrapping_mul(0x100_0000_01b3);
        }
    }
    h
}

/// The CAR `ETag`: weak (the bytes depend on the implementation), from the
/// root, the path and every option that changes the blocks sent.
fn car_etag(req: &GwRequest, opts: &CarOptions) -> String {
    let eb = opts
        .entity_bytes
        .map(|e| format!("{}:{}", e.from, e.to.map_or("*".into(), |t| t.to_string())))
        .unwrap_or_default();
    let path = req.path.to_string();
    let h = fnv1a(&[
        path.as_bytes(),
        opts.scope.as_str().as_bytes(),
        eb.as_bytes(),
        if opts.dups { b"y" } else { b"n" },
        req.car_order.as_bytes(),
    ]);
    format!("W/\"{}.car.{h:x}\"", req.path.root)
}

/// `application/vnd.ipld.car`: the blocks of the path, then of the terminal
/// entity per `dag-scope` / `entity-bytes`, depth first, streamed.
pub(super) fn car(node: &Node, req: &GwRequest, opts: CarOptions) -> Result<Response, GwError> {
    let etag = car_etag(req, &opts);
    let single = req.path.segments.is_empty().then_some([req.path.root]);
    let b = content_location(req, base(req, single.as_ref().map(|r| &r[..])));
    if etag_matches(req.header("if-none-match"), &etag) {
        return Ok(not_modified(b, &etag));
    }
    // resolved before the 200: a missing path or root block is a 404
    let plan = node.car_plan(&req.path, &opts)?;
    let mut name = req.path.root.to_string();
    if let Some(last) = req.last_segment() {
        name.push('_');
        name.push_str(last);
    }
    name.push_str(".car");
    let ctype = format!(
        "application/vnd.ipld.car; version=1; order={}; dups={}",
        req.car_order,
        if opts.dups { "y" } else { "n" }
    );
    let b = b
        .header(header::ETAG, etag)
        .header(header::CONTENT_TYPE, ctype)
        .header("X-Content-Type-Options", "nosniff")
        .header(header::ACCEPT_RANGES, "none")
        .header(
            header::CONTENT_DISPOSITION,
            disposition(req, Some(&name)).expect("a default name"),
        )
        .header(header::TRAILER, "X-Stream-Error");
    if req.head {
        return Ok(b.body(super::unsized_empty()).expect("valid response"));
    }
    let node = node.clone();
    let body = blocking_stream(move |w| node.write_car(&plan, &opts, w).map(|_| ()));
    Ok(b.body(body).expect("valid response"))
}

/// `application/x-tar`: the file or folder as a tar stream (406 for
/// anything that is not UnixFS).
pub(super) fn tar(gw: &Gateway, req: &GwRequest) -> Result<Response, GwError> {
    let node = &gw.node;
    let resolved = gw.resolve(&req.path)?;
    let cid = resolved.cid;
    let etag = format!("W/\"{cid}.x-tar\"");
    let b = content_location(req, base(req, Some(&resolved.roots)));
    if etag_matches(req.header("if-none-match"), &etag) {
        return Ok(not_modified(b, &etag));
    }
    let entry = export::stat(&node.block_source(), &cid).map_err(node_err)?;
    if let EntryKind::Other { codec } = entry.kind {
        return Err(GwError::not_acceptable(format!(
            "{cid} (codec 0x{codec:x}) is not UnixFS: it has no tar form; use ?format=car"
        )));
    }
    let name = req
        .last_segment()
        .map(str::to_string)
        .unwrap_or_else(|| cid.to_string());
    let b = b
        .header(header::ETAG, etag)
        .header(header::CONTENT_TYPE, "application/x-tar")
        .header("X-Content-Type-Options", "nosniff")
        .header(
            header::CONTENT_DISPOSITION,
            disposition(req, Some(&format!("{name}.tar"))).expect("a default name"),
        )
        .header(header::TRAILER, "X-Stream-Error");
    if req.head {
        return Ok(b.body(super::unsized_empty()).expect("valid response"));
    }
    let node = node.clone();
    let path = IpfsPath {
        root: cid,
        segments: Vec::new(),
    };
    let body = blocking_stream(move |w| node.get_tar(&path, &name, w, &mut |_| {}));
    Ok(b.body(body).expect("valid response"))
}

/// `dag-json`, `dag-cbor`, `json`, `cbor`: the block when its codec is the
/// one asked for; no cross-codec conversion, so anything else is a 406
/// (IPIP-524).
pub(super) fn codec(gw: &Gateway, req: &GwRequest, codec: u64) -> Result<Response, GwError> {
    let node = &gw.node;
    let resolved = gw.resolve(&req.path)?;
    let have = resolved.cid.codec();
    let (Some(media), Some(fmt)) = (codec_media_type(codec), codec_format(codec)) else {
        return Err(GwError::not_acceptable("unsupported codec"));
    };
    if have != codec
        && matches!(codec, codecs::JSON | codecs::CBOR)
        && matches!(have, codecs::DAG_PB | codecs::RAW)
    {
        // generic JSON/CBOR clients (`Accept: application/json, */*`) get
        // UnixFS content deserialized, as boxo serves it
        return super::files::serve(gw, req);
    }
    if have != codec {
        let have_name = ferrite_ipld::codec::codec_name(have).unwrap_or("unknown");
        return Err(GwError::not_acceptable(format!(
            "{} is {have_name}, not {fmt}: this gateway does not convert between codecs; fetch ?format=raw and convert it yourself",
            resolved.cid
        )));
    }
    let mut r = super::files::block_as(node, req, &resolved, media, fmt)?;
    if req.format_from_accept {
        let loc = content_location(req, Response::builder());
        if let Some(v) = loc
            .headers_ref()
            .and_then(|h| h.get(header::CONTENT_LOCATION))
        {
            r.headers_mut().insert(header::CONTENT_LOCATION, v.clone());
        }
    }
    Ok(r)
}
