//! What can go wrong reading, changing or writing the configuration, and
//! the helpers that word value errors the same way everywhere.

use std::io;
use std::path::PathBuf;

use serde_json::Value;

/// What can go wrong reading, changing or writing the configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// There is no config file at the path.
    #[error("no config file at {}: run 'ferrite init' first", path.display())]
    NotFound {
        /// The path that was tried.
        path: PathBuf,
    },
    /// Reading or writing the file failed.
    #[error("failed to {action} config file {}: {cause}", path.display())]
    Io {
        /// "read" or "write".
        action: &'static str,
        /// The config file.
        path: PathBuf,
        /// The underlying error.
        cause: io::Error,
    },
    /// The file is not valid JSON; the message carries line and column.
    #[error("config file {} is not valid JSON: {cause}", path.display())]
    Syntax {
        /// The config file.
        path: PathBuf,
        /// serde_json's error; `line()` and `column()` locate the problem.
        cause: serde_json::Error,
    },
    /// A document that must be a JSON object is something else.
    #[error("{what} must be a JSON object, not {found}")]
    NotAnObject {
        /// What was being read ("config file …", "replacement config").
        what: String,
        /// The JSON type found instead.
        found: &'static str,
    },
    /// A dotted key is malformed (empty, or with an empty part).
    #[error("invalid config key {key:?}")]
    InvalidKey {
        /// The key as given.
        key: String,
    },
    /// `config KEY` for a key that is not in the document.
    #[error("failed to get config value: key {key:?} not found")]
    KeyNotFound {
        /// The key as given.
        key: String,
    },
    /// A key walks through something that is not an object.
    #[error("config key {key:?}: {parent:?} is not a map")]
    NotAMap {
        /// The key as given.
        key: String,
        /// The prefix of the key whose value is not an object.
        parent: String,
    },
    /// A value has the wrong JSON type.
    #[error("{key}: expected {expected}, got {got}")]
    WrongType {
        /// The dotted key of the value.
        key: String,
        /// What the key holds, e.g. "a non-negative integer".
        expected: String,
        /// A short description of what is there.
        got: String,
    },
    /// A value has the right type but an unusable content.
    #[error("{key}: {message}")]
    InvalidValue {
        /// The dotted key of the value.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// `config KEY VALUE` was refused; nothing was changed.
    #[error("failed to set config value: {cause}{}", if *json_hint { " (maybe use --json?)" } else { "" })]
    SetFailed {
        /// The key being set.
        key: String,
        /// Why.
        cause: Box<ConfigError>,
        /// A string was given where another JSON type belongs.
        json_hint: bool,
    },
    /// The key holds a secret that `config` does not show or change.
    #[error("{0}")]
    Protected(&'static str),
    /// A command-line value could not be parsed (`--json`, `--bool`).
    #[error("{0}")]
    BadInput(String),
    /// The node identity is missing, malformed or inconsistent.
    #[error("identity: {0}")]
    Identity(String),
    /// No profile has this name.
    #[error("{name} is not a profile; known profiles: {}", known.join(", "))]
    UnknownProfile {
        /// The name asked for.
        name: String,
        /// Every profile name.
        known: Vec<&'static str>,
    },
    /// A profile could not be applied.
    #[error("applying profile {name}: {message}")]
    Profile {
        /// The profile.
        name: &'static str,
        /// Why it failed.
        message: String,
    },
}

impl ConfigError {
    /// The dotted key of a value error.
    pub(crate) fn key(&self) -> Option<&str> {
        match self {
            ConfigError::WrongType { key, .. } | ConfigError::InvalidValue { key, .. } => Some(key),
            _ => None,
        }
    }
}

/// Result with [`ConfigError`].
pub(crate) type Result<T, E = ConfigError> = std::result::Result<T, E>;

pub(crate) fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::InvalidValue {
        key: key.to_owned(),
        message: message.into(),
    }
}

pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A short description of a value for error messages.
pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::String(s) if s.chars().count() <= 60 => format!("the string {s:?}"),
        Value::Number(n) => format!("the number {n}"),
        Value::Bool(b) => format!("{b}"),
        other => type_name(other).to_owned(),
    }
}
