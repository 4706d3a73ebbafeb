//! Deserialized responses: UnixFS files (with `Range`), folders (redirect,
//! `index.html`, listing) and non-UnixFS blocks as their own media type.

use super::request::{codec_format, codec_media_type, GwRequest};
use super::{etag_matches, listing, set_header, sniff, Gateway, GwError, IMMUTABLE};
use crate::body::blocking_stream;
use axum::body::Body;
use axum::http::response::Builder;
use axum::http::{header, StatusCode};
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use ferrite_ipld::{codecs, Cid};
use ferrite_node::{Node, Resolved};
use ferrite_unixfs::export::{self, EntryKind, FileReader};
use ferrite_unixfs::BlockSource;
use std::io::Read;
use std::sync::Arc;

/// Files up to this size are read whole in the request's blocking task and
/// sent as one buffer; larger ones stream.
const SMALL_FILE: u64 = 1 << 20;

type Src = Arc<dyn BlockSource + Send + Sync>;

/// Headers every successful `/ipfs/` response carries.
pub(super) fn base(req: &GwRequest, roots: Option<&[Cid]>) -> Builder {
    let mut b = Response::builder().header(header::CACHE_CONTROL, IMMUTABLE);
    b = set_header(b, "X-Ipfs-Path", &req.raw_path);
    if let Some(roots) = roots {
        let list: Vec<String> = roots.iter().map(Cid::to_string).collect();
        b = b.header("X-Ipfs-Roots", list.join(","));
    }
    b
}

/// A 304 for a matching `If-None-Match`.
pub(super) fn not_modified(b: Builder, etag: &str) -> Response {
    b.status(StatusCode::NOT_MODIFIED)
        .header(header::ETAG, etag)
        .body(Body::empty())
        .expect("valid response")
}

/// Serves the deserialized form of the content path.
pub(super) fn serve(gw: &Gateway, req: &GwRequest) -> Result<Response, GwError> {
    let node = &gw.node;
    let resolved = gw.resolve(&req.path)?;
    let cid = resolved.cid;
    let src = node.block_source();
    match cid.codec() {
        codecs::RAW | codecs::DAG_PB => {}
        c => {
            if let (Some(media), Some(fmt)) = (codec_media_type(c), codec_format(c)) {
                return block_as(node, req, &resolved, media, fmt);
            }
            return Err(GwError::new(
                StatusCode::NOT_IMPLEMENTED,
                format!("no deserialized response for {cid} (codec 0x{c:x}); use ?format=raw or ?format=car"),
            ));
        }
    }
    let entry = export::stat(&src, &cid).map_err(node_err)?;
    match entry.kind {
        EntryKind::File | EntryKind::Raw => {
            let name = req.filename.as_deref().or(req.last_segment());
            file(req, &resolved, src, cid, entry.size, name)
        }
        EntryKind::Directory | EntryKind::HamtDirectory => directory(req, &resolved, src, cid),
        EntryKind::Symlink => {
            let target = Bytes::from(entry.target.unwrap_or_default());
            let etag = format!("\"{cid}\"");
            let b = base(req, Some(&resolved.roots));
            if etag_matches(req.header("if-none-match"), &etag) {
                return Ok(not_modified(b, &etag));
            }
            Ok(b.header(header::ETAG, etag)
                .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
                .header(header::CONTENT_LENGTH, target.len())
                .body(if req.head { Body::empty() } else { Body::from(target) })
                .expect("valid response"))
        }
        EntryKind::Other { codec } => Err(GwError::new(
            StatusCode::NOT_IMPLEMENTED,
            format!("{cid} is dag-pb without UnixFS data (codec 0x{codec:x}); use ?format=raw or ?format=car"),
        )),
    }
}

/// Exporter errors in node terms (so a missing block is a 404).
pub(super) fn node_err(e: export::ExportError) -> GwError {
    GwError::from(ferrite_node::Error::from(e))
}

/// A block of a codec with its own media type (dag-json, dag-cbor, json,
/// cbor), sent as is.
pub(super) fn block_as(
    node: &Node,
    req: &GwRequest,
    resolved: &Resolved,
    media: &str,
    fmt: &str,
) -> Result<Response, GwError> {
    let cid = resolved.cid;
    let etag = format!("\"{cid}.{fmt}\"");
    let b = base(req, Some(&resolved.roots));
    if etag_matches(req.header("if-none-match"), &etag) {
        return Ok(not_modified(b, &etag));
    }
    let data = node.block_get(&cid)?;
    let mut b = b
        .header(header::ETAG, etag)
        .header(header::CONTENT_TYPE, media)
        .header(header::CONTENT_LENGTH, data.len());
    if let Some(d) = disposition(req, None) {
        b = b.header(header::CONTENT_DISPOSITION, d);
    }
    Ok(b.body(if req.head {
        Body::empty()
    } else {
        Body::from(data)
    })
    .expect("valid response"))
}

fn directory(
    req: &GwRequest,
    resolved: &Resolved,
    src: Src,
    cid: Cid,
) -> Result<Response, GwError> {
    let b = base(req, Some(&resolved.roots));
    if !req.trailing_slash {
        // relative links in the folder need the slash (path-gateway: 301)
        let mut loc = format!("{}/", req.raw_path);
        if let Some(q) = &req.query {
            loc.push('?');
            loc.push_str(q);
        }
        return Ok(set_header(b, "Location", &loc)
            .status(StatusCode::MOVED_PERMANENTLY)
            .body(Body::empty())
            .expect("valid response"));
    }
    match export::resolve(&src, &cid, "index.html") {
        Ok(index) => {
            let entry = export::stat(&src, &index).map_err(node_err)?;
            if entry.kind.is_file() {
                return file(req, resolved, src, index, entry.size, Some("index.html"));
            }
        }
        Err(export::ExportError::NoLink { .. }) => {}
        Err(e) => return Err(node_err(e)),
    }
    let etag = listing::etag(&cid);
    if etag_matches(req.header("if-none-match"), &etag) {
        return Ok(not_modified(b, &etag));
    }
    let b = b
        .header(header::ETAG, etag)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8");
    if req.head {
        return Ok(b.body(super::unsized_empty()).expect("valid response"));
    }
    let mut entries = export::ls_iter(src, &cid, false)
        .map_err(node_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(node_err)?;
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let html = listing::render(req, &cid, &entries);
    Ok(b.header(header::CONTENT_LENGTH, html.len())
        .body(Body::from(html))
        .expect("valid response"))
}

/// A requested byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RangeReq {
    /// No (usable) `Range`: the whole representation.
    Full,
    /// One satisfiable range, inclusive.
    One(u64, u64),
    /// No byte of the range is in the representation: 416.
    Unsatisfiable,
}

/// Parses a `Range` header against a representation of `size` bytes.
/// Malformed headers and multiple ranges are ignored (a server may always
/// answer 200 with everything, RFC 9110 §14.2).
pub(super) fn parse_range(h: Option<&str>, size: u64) -> RangeReq {
    let Some(spec) = h.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeReq::Full;
    };
    if spec.contains(',') {
        return RangeReq::Full;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeReq::Full;
    };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        // suffix: the last n bytes
        return match b.parse::<u64>() {
            Ok(0) => RangeReq::Unsatisfiable,
            Ok(_) if size == 0 => RangeReq::Unsatisfiable,
            Ok(n) => RangeReq::One(size - n.min(size), size - 1),
            Err(_) => RangeReq::Full,
        };
    }
    let Ok(start) = a.parse::<u64>() else {
        return RangeReq::Full;
    };
    let end = if b.is_empty() {
        u64::MAX
    } else {
        match b.parse::<u64>() {
            Ok(e) if e >= start => e,
            _ => return RangeReq::Full,
        }
    };
    if start >= size {
        return RangeReq::Unsatisfiable;
    }
    RangeReq::One(start, end.min(size - 1))
}

/// What RFC 8187 `ext-value`s must percent-encode (all but `attr-char`).
const ATTR_CHAR: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `Content-Disposition` from `?filename=` / `?download=true`, or the
/// default for attachments (`attachment` with `default_name`).
pub(super) fn disposition(req: &GwRequest, default_name: Option<&str>) -> Option<String> {
    let kind = if req.download || (default_name.is_some() && req.filename.is_none()) {
        "attachment"
    } else {
        "inline"
    };
    let name = req.filename.as_deref().or(default_name)?;
    if name.is_ascii() && !name.contains(['"', '\\']) && !name.chars().any(|c| c.is_ascii_control())
    {
        return Some(format!("{kind}; filename=\"{name}\""));
    }
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let utf8 = percent_encoding::utf8_percent_encode(name, ATTR_CHAR);
    Some(format!(
        "{kind}; filename=\"{ascii}\"; filename*=UTF-8''{utf8}"
    ))
}

/// Serves a UnixFS file (or raw block) of `size` bytes.
fn file(
    req: &GwRequest,
    resolved: &Resolved,
    src: Src,
    cid: Cid,
    size: u64,
    name: Option<&str>,
) -> Result<Response, GwError> {
    let etag = format!("\"{cid}\"");
    let b = base(req, Some(&resolved.roots));
    if etag_matches(req.header("if-none-match"), &etag) {
        return Ok(not_modified(b, &etag));
    }
    let mut b = b
        .header(header::ETAG, &etag)
        .header(header::ACCEPT_RANGES, "bytes");
    if req.filename.is_some() || req.download {
        if let Some(d) = disposition(req, None) {
            b = b.header(header::CONTENT_DISPOSITION, d);
        }
    }
    let by_name = name.and_then(sniff::by_extension);
    let range = parse_range(req.header("range"), size);
    if range == RangeReq::Unsatisfiable {
        return Ok(b
            .status(StatusCode::RANGE_NOT_SATISFIABLE)
            .header(header::CONTENT_RANGE, format!("bytes */{size}"))
            .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(Body::from(format!(
                "416 Range Not Satisfiable: {size} bytes\n"
            )))
            .expect("valid response"));
    }
    let (start, len) = match range {
        RangeReq::One(s, e) => {
            b = b
                .status(StatusCode::PARTIAL_CONTENT)
                .header(header::CONTENT_RANGE, format!("bytes {s}-{e}/{size}"));
            (s, e - s + 1)
        }
        _ => (0, size),
    };
    b = b.header(header::CONTENT_LENGTH, len);
    if size <= SMALL_FILE && !req.head {
        let all = read_all(&src, &cid)?;
        let ctype = by_name.unwrap_or_else(|| sniff::sniff(&all).to_string());
        let body = all.slice(start as usize..(start + len) as usize);
        return Ok(b
            .header(header::CONTENT_TYPE, ctype)
            .body(Body::from(body))
            .expect("valid response"));
    }
    let ctype = match by_name {
        Some(t) => t,
        None => {
            let mut head = Vec::with_capacity(512);
            FileReader::with_range(src.clone(), &cid, 0, Some(512))
                .map_err(node_err)?
                .read_to_end(&mut head)
                .map_err(|e| GwError::from(ferrite_node::Error::Io(e)))?;
            sniff::sniff(&head).to_string()
        }
    };
    let b = b.header(header::CONTENT_TYPE, ctype);
    if req.head {
        return Ok(b.body(super::unsized_empty()).expect("valid response"));
    }
    // opened here so a missing root fails before the 200 goes out
    let mut reader = FileReader::with_range(src, &cid, start, Some(len)).map_err(node_err)?;
    let body = blocking_stream(move |w| {
        while let Some(chunk) = reader.next_chunk()? {
            w.write_bytes(chunk)?;
        }
        Ok::<_, export::ExportError>(())
    });
    Ok(b.body(body).expect("valid response"))
}

/// A small file's bytes: a one-chunk file without copying.
fn read_all(src: &Src, cid: &Cid) -> Result<Bytes, GwError> {
    let mut r = FileReader::new(src.clone(), cid).map_err(node_err)?;
    let Some(first) = r.next_chunk().map_err(node_err)? else {
        return Ok(Bytes::new());
    };
    if r.remaining() == 0 {
        return Ok(first);
    }
    let mut all = BytesMut::with_capacity(r.size() as usize);
    all.extend_from_slice(&first);
    while let Some(c) = r.next_chunk().map_err(node_err)? {
        all.extend_from_slice(&c);
    }
    Ok(all.freeze())
}
