//! Request parsing and errors in go-ipfs-cmds style.

use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;

/// An API error: `{"Message","Code","Type":"error"}` with Kubo's status.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// go-ipfs-cmds error code: 0 normal, 1 client, 2 implementation,
    /// 3 rate limited, 4 forbidden.
    pub code: u8,
    /// The message.
    pub message: String,
}

impl ApiError {
    /// A bad request (Code 1, 400).
    pub fn client(msg: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: 1,
            message: msg.into(),
        }
    }
    /// A failed command (Code 0, 500), as Kubo reports most errors.
    pub fn internal(msg: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: 0,
            message: msg.into(),
        }
    }
    /// Forbidden (Code 4, 403).
    pub fn forbidden(msg: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::FORBIDDEN,
            code: 4,
            message: msg.into(),
        }
    }
}

impl From<ferrite_node::Error> for ApiError {
    fn from(e: ferrite_node::Error) -> Self {
        match &e {
            ferrite_node::Error::Invalid(_) => ApiError::client(e.to_string()),
            _ => ApiError::internal(e.to_string()),
        }
    }
}

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> Self {
        ApiError::internal(e.to_string())
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

/// The JSON body of an error (go-ipfs-cmds' `cmds.Error`), which clients
/// decode.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct ErrorBody {
    /// The message.
    #[serde(rename = "Message")]
    pub message: String,
    /// [`ApiError::code`].
    #[serde(rename = "Code")]
    pub code: u8,
    /// Always `error`.
    #[serde(rename = "Type")]
    pub kind: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            message: self.message,
            code: self.code,
            kind: "error".into(),
        };
        let mut s = serde_json::to_vec(&body).expect("json");
        s.push(b'\n');
        Response::builder()
            .status(self.status)
            .header("Content-Type", "application/json")
            .body(Body::from(s))
            .expect("valid response")
    }
}

/// A parsed command request: positional `arg`s, options, and the body.
pub struct Req {
    /// Positional arguments, in order.
    pub args: Vec<String>,
    /// Options by name (repeatable).
    pub opts: HashMap<String, Vec<String>>,
    /// The request (for bodies: multipart uploads).
    pub request: Request,
}

impl Req {
    /// Splits the query into args and options.
    pub fn from_request(request: Request) -> Result<Self, ApiError> {
        let query = request.uri().query().unwrap_or("");
        let pairs: Vec<(String, String)> = serde_urlencoded_pairs(query)?;
        let mut args = Vec::new();
        let mut opts: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in pairs {
            if k == "arg" {
                args.push(v);
            } else {
                opts.entry(k).or_default().push(v);
            }
        }
        Ok(Req {
            args,
            opts,
            request,
        })
    }

    /// The `i`th argument, or Kubo's error naming it.
    pub fn arg(&self, i: usize, name: &str) -> Result<&str, ApiError> {
        self.args
            .get(i)
            .map(String::as_str)
            .ok_or_else(|| ApiError::client(format!("argument \"{name}\" is required")))
    }

    /// An option's last value.
    pub fn opt(&self, name: &str) -> Option<&str> {
        self.opts
            .get(name)
            .and_then(|v| v.last())
            .map(String::as_str)
    }

    /// A boolean option: absent → `default`; bare or `true/1` → true.
    pub fn bool(&self, name: &str, default: bool) -> Result<bool, ApiError> {
        let Some(v) = self.opt(name) else {
            return Ok(default);
        };
        match crate::command::query::kubo_bool(v) {
            Some(b) => Ok(b),
            None => Err(ApiError::client(format!(
                "could not convert value \"{v}\" to type bool (for option \"-{name}\")"
            ))),
        }
    }

    /// An unsigned integer option.
    pub fn u64(&self, name: &str) -> Result<Option<u64>, ApiError> {
        self.opt(name)
            .map(|v| {
                v.parse().map_err(|_| {
                    ApiError::client(format!(
                        "could not convert value \"{v}\" to type uint64 (for option \"-{name}\")"
                    ))
                })
            })
            .transpose()
    }

    /// A signed integer option.
    pub fn i64(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.opt(name)
            .map(|v| {
                v.parse().map_err(|_| {
                    ApiError::client(format!(
                        "could not convert value \"{v}\" to type int (for option \"-{name}\")"
                    ))
                })
            })
            .transpose()
    }
}

fn serde_urlencoded_pairs(q: &str) -> Result<Vec<(String, String)>, ApiError> {
    let mut out = Vec::new();
    for part in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let dec = |s: &str| {
            percent_encoding::percent_decode_str(&s.replace('+', " "))
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| ApiError::client(format!("invalid utf-8 in query parameter {s:?}")))
        };
        out.push((dec(k)?, dec(v)?));
    }
    Ok(out)
}
