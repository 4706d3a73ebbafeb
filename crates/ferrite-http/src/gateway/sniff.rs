//! Content types of files: from the name's extension, else sniffed from the
//! first 512 bytes (a subset of the WHATWG MIME sniffing rules, as Go's
//! `http.DetectContentType` applies them).

/// The type for a file name's extension, if it has a known one. Text types
/// get `charset=utf-8`, as browsers otherwise guess.
pub(super) fn by_extension(name: &str) -> Option<String> {
    let ext = name.rsplit_once('.')?.1;
    if ext.is_empty() {
        return None;
    }
    let m = mime_guess::from_ext(ext).first_raw()?;
    Some(if m.starts_with("text/") || m == "application/javascript" {
        format!("{m}; charset=utf-8")
    } else {
        m.to_string()
    })
}

/// Sniffs the type from the first bytes of a file.
pub(super) fn sniff(data: &[u8]) -> &'static str {
    let data = &data[..data.len().min(512)];
    const MAGIC: &[(&[u8], &str)] = &[
        (b"%PDF-", "application/pdf"),
        (b"%!PS-Adobe-", "application/postscript"),
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"BM", "image/bmp"),
        (b"\x00\x00\x01\x00", "image/x-icon"),
        (b"PK\x03\x04", "application/zip"),
        (b"\x1f\x8b\x08", "application/x-gzip"),
        (b"Rar!\x1a\x07", "application/x-rar-compressed"),
        (b"OggS\x00", "application/ogg"),
        (b"ID3", "audio/mpeg"),
        (b"fLaC", "audio/flac"),
        (b"\x1a\x45\xdf\xa3", "video/webm"),
        (b"\x00asm", "application/wasm"),
        (b"wOFF", "font/woff"),
        (b"wOF2", "font/woff2"),
    ];
    for (magic, t) in MAGIC {
        if data.starts_with(magic) {
            return t;
        }
    }
    if data.len() >= 12 && &data[..4] == b"RIFF" {
        match &data[8..12] {
            b"WEBP" => return "image/webp",
            b"WAVE" => return "audio/wave",
            b"AVI " => return "video/avi",
            _ => {}
        }
    }
    if data.len() >= 12 && &data[4..8] == b"ftyp" {
        return "video/mp4";
    }
    // markup: skip leading whitespace, compare case-insensitively
    let start = data
        .iter()
        .position(|b| !matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' '))
        .unwrap_or(data.len());
    let text = &data[start..];
    let starts = |p: &[u8]| text.len() >= p.len() && text[..p.len()].eq_ignore_ascii_case(p);
    for tag in [
        &b"<!DOCTYPE HTML"[..],
        b"<HTML",
        b"<HEAD",
        b"<SCRIPT",
        b"<IFRAME",
        b"<H1",
        b"<DIV",
        b"<FONT",
        b"<TABLE",
        b"<A",
        b"<STYLE",
        b"<TITLE",
        b"<B",
        b"<BODY",
        b"<BR",
        b"<P",
        b"<!--",
    ] {
        // the tag must end (space or `>`)
        if starts(tag) && (tag == b"<!--" || matches!(text.get(tag.len()), Some(b' ' | b'>'))) {
            return "text/html; charset=utf-8";
        }
    }
    if starts(b"<svg") {
        return "image/svg+xml";
    }
    if starts(b"<?xml") {
        let window = String::from_utf8_lossy(text);
        return if window.contains("<svg") {
            "image/svg+xml"
        } else {
            "text/xml; charset=utf-8"
        };
    }
    // no binary control bytes: text
    let binary = data
        .iter()
        .any(|&b| matches!(b, 0x00..=0x08 | 0x0b | 0x0e..=0x1a | 0x1c..=0x1f));
    if binary {
        "application/octet-stream"
    } else {
        "text/plain; charset=utf-8"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_common_types() {
        assert_eq!(sniff(b""), "text/plain; charset=utf-8");
        assert_eq!(sniff(b"hello world\n"), "text/plain; charset=utf-8");
        assert_eq!(sniff(b"  <!doctype html><p>x"), "text/html; charset=utf-8");
        assert_eq!(sniff(b"<html>"), "text/html; charset=utf-8");
        assert_eq!(sniff(b"<svg xmlns=\"\"></svg>"), "image/svg+xml");
        assert_eq!(sniff(b"<?xml version=\"1.0\"?><svg/>"), "image/svg+xml");
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), "image/png");
        assert_eq!(sniff(b"%PDF-1.4"), "application/pdf");
        assert_eq!(sniff(&[0, 1, 2, 3, 200]), "application/octet-stream");
        assert_eq!(
            by_extension("a.txt").as_deref(),
            Some("text/plain; charset=utf-8")
        );
        assert_eq!(by_extension("x.png").as_deref(), Some("image/png"));
        assert_eq!(by_extension("noext"), None);
        assert_eq!(by_extension("weird.zzzzqq"), None);
    }
}
