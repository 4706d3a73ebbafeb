//! Reads an HTTP/1.1 answer the way a plain client (curl, a browser) sees
//! it: whether the body arrived whole, not just the bytes.
#![allow(dead_code)]

use std::io::Read;
use std::net::TcpStream;

/// An answer read until the server closed the connection.
#[derive(Debug)]
pub(crate) struct Raw {
    /// Status line and headers, names as sent.
    pub head: String,
    /// The body bytes received (de-chunked).
    pub body: Vec<u8>,
    /// Whether the body was complete: chunked with its terminating chunk,
    /// or all of `Content-Length`.
    pub complete: bool,
    /// The trailer section, when there was one.
    pub trailers: String,
}

impl Raw {
    pub(crate) fn status(&self) -> u16 {
        self.head.split(' ').nth(1).unwrap().parse().unwrap()
    }
}

/// Reads `s` to its end (send `Connection: close`) and parses the answer.
pub(crate) fn read_raw(mut s: TcpStream) -> Raw {
    let mut all = Vec::new();
    // An aborted answer may end with a reset rather than a clean close.
    let _ = s.read_to_end(&mut all);
    let split = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no complete head")
        + 4;
    let head = String::from_utf8_lossy(&all[..split]).into_owned();
    let mut rest = &all[split..];
    let lower = head.to_ascii_lowercase();
    let mut body = Vec::new();
    if lower.contains("transfer-encoding: chunked") {
        while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
            let size_line = std::str::from_utf8(&rest[..eol]).unwrap();
            let n = usize::from_str_radix(size_line.split(';').next().unwrap().trim(), 16)
                .unwrap_or_else(|_| panic!("bad chunk size {size_line:?}"));
            rest = &rest[eol + 2..];
            if n == 0 {
                // The trailer section, then the empty line that ends it.
                let trailers = String::from_utf8_lossy(rest).into_owned();
                let complete = trailers == "\r\n" || trailers.ends_with("\r\n\r\n");
                return Raw {
                    head,
                    body,
                    complete,
                    trailers,
                };
            }
            if rest.len() < n + 2 {
                body.extend_from_slice(&rest[..n.min(rest.len())]);
                break;
            }
            body.extend_from_slice(&rest[..n]);
            rest = &rest[n + 2..];
        }
        Raw {
            head,
            body,
            complete: false,
            trailers: String::new(),
        }
    } else {
        let len: Option<usize> = lower
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map(|v| v.trim().parse().unwrap());
        body.extend_from_slice(rest);
        Raw {
            complete: len.is_none_or(|n| n == body.len()),
            head,
            body,
            trailers: String::new(),
        }
    }
}
