//! The HTML listing of a folder without `index.html`.
//!
//! Sizes are the links' Tsize (the DAG size), so a listing reads only the
//! folder's own blocks (every shard of a HAMT folder) and never its children:
//! the spec asks that listings stay fast for folders of any size. Every name
//! is escaped for HTML and percent-encoded in links.

use super::request::GwRequest;
use ferrite_ipld::Cid;
use ferrite_unixfs::export::DirEntry;
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use std::fmt::Write;

/// Changes whenever the generated HTML does, so caches holding an old
/// listing see a new `ETag`.
const TEMPLATE_REVISION: &str = "1";

/// Characters escaped in a path segment of a link (RFC 3986 `pchar` minus
/// what browsers would misread).
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'/')
    .add(b'\\')
    .add(b'\'')
    .add(b'^')
    .add(b'|')
    .add(b'[')
    .add(b']');

/// The `ETag` of a generated listing: the folder CID and the generator's
/// version (path-gateway: `"DirIndex-<version>_CID-<cid>"`).
pub(super) fn etag(cid: &Cid) -> String {
    format!(
        "\"DirIndex-ferrite{}.{TEMPLATE_REVISION}_CID-{cid}\"",
        env!("CARGO_PKG_VERSION")
    )
}

/// Escapes text for HTML content and attribute values.
pub(super) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Human-readable size (SI units, like Kubo's listing).
fn human(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    format!("{v:.1} {}", UNITS[u])
}

/// Renders the listing of folder `cid` at the request's path.
pub(super) fn render(req: &GwRequest, cid: &Cid, entries: &[DirEntry]) -> String {
    let path = req.path.to_string();
    let total: u64 = entries.iter().map(|e| e.size).sum();
    let mut h = String::with_capacity(512 + entries.len() * 256);
    let title = escape(&path);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}/</title>\n<style>\
         body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}\
         table{{border-collapse:collapse;width:100%}}\
         td,th{{padding:.3em .6em;border-bottom:1px solid #ddd;text-align:left}}\
         td.size{{text-align:right;white-space:nowrap}}\
         .cid{{font-family:monospace;font-size:.85em;color:#666}}\
         </style>\n</head>\n<body>\n<h1>Index of {title}/</h1>\n\
         <p class=\"cid\"><a href=\"/ipfs/{cid}/\">{cid}</a> · {} entries · {} \
         · <a href=\"/ipfs/{cid}?format=car\">CAR</a></p>\n\
         <table>\n<thead><tr><th>Name</th><th>CID</th><th class=\"size\">Size</th></tr></thead>\n<tbody>\n",
        entries.len(),
        human(total),
    );
    if !req.path.segments.is_empty() {
        h.push_str("<tr><td><a href=\"../\">..</a></td><td></td><td></td></tr>\n");
    }
    for e in entries {
        let href: String = utf8_percent_encode(&e.name, SEGMENT).collect();
        let _ = writeln!(
            h,
            "<tr><td><a href=\"./{}\">{}</a></td><td class=\"cid\"><a href=\"/ipfs/{c}\">{c}</a></td><td class=\"size\" title=\"{} bytes\">{}</td></tr>",
            escape(&href),
            escape(&e.name),
            e.size,
            human(e.size),
            c = e.cid,
        );
    }
    h.push_str("</tbody>\n</table>\n</body>\n</html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_sizes() {
        assert_eq!(
            escape("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
        assert_eq!(human(999), "999 B");
        assert_eq!(human(1500), "1.5 kB");
        assert_eq!(human(2_500_000), "2.5 MB");
    }
}
