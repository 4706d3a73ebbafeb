//! [`Config`]: the whole document, its file, and what `ferrite config`
//! does with it (get, set, show, replace, validate). The typed getters
//! live with their sections.

use std::path::Path;
use std::time::Duration;
use std::{fmt, fs, io};

use libp2p_identity::Keypair;
use serde_json::{json, Value};

use crate::defaults::default_document;
use crate::error::{expected, invalid, type_name, ConfigError, Result};
use crate::file::write_atomic;
use crate::keys::{
    carry_over_secrets, check_not_secret, put, related_keys, remote_services_mut, split_key,
};
use crate::profile::resolve_profiles;
use crate::units::{parse_byte_size, parse_duration};
use crate::Identity;

/// File name of the configuration inside a repo.
pub const CONFIG_FILE_NAME: &str = "config";

/// How `ferrite config KEY VALUE` interprets VALUE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ValueMode {
    /// Store VALUE as a JSON string (the default).
    #[default]
    String,
    /// Parse VALUE as JSON (`--json`).
    Json,
    /// VALUE is `true` or `false` (`--bool`).
    Bool,
}

/// The repo configuration: a Kubo-shaped JSON document.
///
/// Cloning is cheap enough for configuration-sized documents. `Debug` prints
/// the [`show`](Config::show) form, without the private key.
#[derive(Clone, PartialEq)]
pub struct Config {
    /// Always a `Value::Object`.
    pub(crate) doc: Value,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Config").field(&self.show()).finish()
    }
}

impl Config {
    // ---- creation ---------------------------------------------------------

    /// A new configuration with a fresh Ed25519 identity and `profiles`
    /// applied in order (`ferrite init --profile a,b`). Entries may hold
    /// comma-separated names. Unknown names fail before a key is generated.
    pub fn init<S: AsRef<str>>(profiles: &[S]) -> Result<Config> {
        let names = resolve_profiles(profiles)?;
        let mut config = Config::with_identity(&Identity::generate());
        for p in names {
            config.run_profile(p)?;
        }
        Ok(config)
    }

    /// Like [`init`](Config::init) with a given keypair.
    pub fn init_with_keypair<S: AsRef<str>>(keypair: &Keypair, profiles: &[S]) -> Result<Config> {
        Config::init_with_identity(&Identity::from_keypair(keypair)?, profiles)
    }

    /// Like [`Config::init`] with a given identity (e.g. an imported RSA
    /// key, which libp2p can decode but not re-encode).
    pub fn init_with_identity<S: AsRef<str>>(
        identity: &Identity,
        profiles: &[S],
    ) -> Result<Config> {
        let names = resolve_profiles(profiles)?;
        let mut config = Config::with_identity(identity);
        for p in names {
            config.run_profile(p)?;
        }
        Ok(config)
    }

    /// The default configuration (no profiles) for `identity`.
    pub fn with_identity(identity: &Identity) -> Config {
        Config {
            doc: default_document(identity),
        }
    }

    /// Wraps a JSON document; it must be an object. Nothing else is checked
    /// (see [`validate`](Config::validate)).
    pub fn from_value(value: Value) -> Result<Config> {
        match value {
            Value::Object(_) => Ok(Config { doc: value }),
            other => Err(ConfigError::NotAnObject {
                what: "a config".into(),
                found: type_name(&other),
            }),
        }
    }

    /// Parses JSON text; `source` names it in errors (usually the path).
    pub fn from_json_str(text: &str, source: &Path) -> Result<Config> {
        let value = serde_json::from_str(text).map_err(|cause| ConfigError::Syntax {
            path: source.to_path_buf(),
            cause,
        })?;
        Config::from_value(value).map_err(|e| match e {
            ConfigError::NotAnObject { found, .. } => ConfigError::NotAnObject {
                what: format!("config file {}", source.display()),
                found,
            },
            other => other,
        })
    }

    // ---- files ------------------------------------------------------------

    /// Reads a config file. Errors name the file, and for bad JSON the line
    /// and column.
    pub fn load(path: impl AsRef<Path>) -> Result<Config> {
        let path = path.as_ref();
        Config::from_value(read_json_file(path)?).map_err(|e| match e {
            ConfigError::NotAnObject { found, .. } => ConfigError::NotAnObject {
                what: format!("config file {}", path.display()),
                found,
            },
            other => other,
        })
    }

    /// Writes the config atomically and durably: a temporary file in the
    /// same folder is written and fsynced, renamed over `path`, and the
    /// folder is fsynced, so a crash leaves either the old or the new file.
    /// The file is created with mode 0600 (it holds the private key).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        write_atomic(path, self.to_json_string().as_bytes()).map_err(|cause| ConfigError::Io {
            action: "write",
            path: path.to_path_buf(),
            cause,
        })
    }

    /// The document as pretty JSON (two-space indent, file order), as saved.
    pub fn to_json_string(&self) -> String {
        serde_json::to_string_pretty(&self.doc).expect("a JSON value always serializes")
    }

    /// The whole document, private key included.
    pub fn as_value(&self) -> &Value {
        &self.doc
    }

    /// Consumes the config, returning the document.
    pub fn into_value(self) -> Value {
        self.doc
    }

    // ---- `ferrite config` -------------------------------------------------

    /// The document for `config show`: `Identity.PrivKey` removed, the
    /// values of `API.Authorizations` and the API keys of remote pinning
    /// services hidden, as Kubo does. [`replace`](Config::replace) puts these
    /// back, so `show | edit | replace` round-trips.
    pub fn show(&self) -> Value {
        let mut v = self.doc.clone();
        if let Some(id) = v.get_mut("Identity").and_then(Value::as_object_mut) {
            id.shift_remove("PrivKey");
        }
        if let Some(api) = v.get_mut("API").and_then(Value::as_object_mut) {
            if let Some(auth) = api.get_mut("Authorizations") {
                if auth.is_object() {
                    *auth = json!({});
                }
            }
        }
        for svc in remote_services_mut(&mut v) {
            if let Some(api) = svc.get_mut("API").and_then(Value::as_object_mut) {
                api.shift_remove("Key");
            }
        }
        v
    }

    /// `config KEY`: the value at a dotted key (`Swarm.ConnMgr.HighWater`).
    /// Refuses `Identity`, `Identity.PrivKey` and remote pinning credentials
    /// as Kubo does; internal code reads those through the typed getters.
    /// Print it with [`human_output`].
    pub fn get(&self, key: &str) -> Result<&Value> {
        check_not_secret(key)?;
        match self.lookup(key)? {
            Some(v) => Ok(v),
            None => Err(ConfigError::KeyNotFound {
                key: key.to_owned(),
            }),
        }
    }

    /// The value at a dotted key without `get`'s secret filter; `None` when
    /// the key is absent. For internal reads of settings without a typed
    /// getter.
    pub fn lookup(&self, key: &str) -> Result<Option<&Value>> {
        let parts = split_key(key)?;
        let mut cur = &self.doc;
        for (i, part) in parts.iter().enumerate() {
            match cur {
                Value::Object(m) => match m.get(*part) {
                    Some(v) => cur = v,
                    None => return Ok(None),
                },
                _ => {
                    return Err(ConfigError::NotAMap {
                        key: key.to_owned(),
                        parent: parts[..i].join("."),
                    })
                }
            }
        }
        Ok(Some(cur))
    }

    /// `config KEY VALUE`: stores `value` at a dotted key, creating missing
    /// (or `null`) parent objects. Values Ferrite reads are checked (a
    /// string where a number belongs is refused, with Kubo's "maybe use
    /// --json?" hint) and nothing changes on error. `Identity.PrivKey` and
    /// remote pinning credentials cannot be set; `Identity.PeerID` only to
    /// the peer ID of the stored key (Kubo's rule).
    pub fn set(&mut self, key: &str, value: Value) -> Result<()> {
        check_not_secret(key)?;
        split_key(key)?;
        if key.eq_ignore_ascii_case("Identity.PeerID") {
            return self.set_peer_id(&value);
        }
        let is_string = value.is_string();
        let wrap = |cause: ConfigError| ConfigError::SetFailed {
            key: key.to_owned(),
            json_hint: is_string && matches!(cause, ConfigError::WrongType { .. }),
            cause: Box::new(cause),
        };
        let before = self.doc.clone();
        put(&mut self.doc, key, value).map_err(&wrap)?;
        if let Err(e) = self.validate_touching(key) {
            self.doc = before;
            return Err(wrap(e));
        }
        Ok(())
    }

    /// Parses a command-line VALUE for [`set`](Config::set).
    pub fn parse_cli_value(raw: &str, mode: ValueMode) -> Result<Value> {
        match mode {
            ValueMode::String => Ok(Value::String(raw.to_owned())),
            ValueMode::Json => serde_json::from_str(raw)
                .map_err(|e| ConfigError::BadInput(format!("failed to unmarshal json. {e}"))),
            // Kubo treats anything but "true" as false; refusing typos is safer.
            ValueMode::Bool => match raw {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                other => Err(ConfigError::BadInput(format!(
                    "--bool expects true or false, got {other:?}"
                ))),
            },
        }
    }

    /// `config replace FILE`: replaces the whole document with `new`, which
    /// must be an object and must pass [`validate`](Config::validate).
    ///
    /// As in Kubo, the private key cannot be changed this way: the current
    /// `Identity.PrivKey` is kept (a file carrying a different one is
    /// refused) and `Identity.PeerID` is re-derived from it. Secrets hidden by
    /// [`show`](Config::show) — `API.Authorizations` and remote pinning API
    /// keys — are carried over when the file leaves them out or empty.
    pub fn replace(&mut self, new: Value) -> Result<()> {
        let mut new = match new {
            Value::Object(m) => m,
            other => {
                return Err(ConfigError::NotAnObject {
                    what: "a replacement config".into(),
                    found: type_name(&other),
                })
            }
        };
        let old_key = self.lookup("Identity.PrivKey")?.and_then(Value::as_str);
        let old_peer = self.lookup("Identity.PeerID")?.and_then(Value::as_str);
        let identity = new.entry("Identity").or_insert_with(|| json!({}));
        if identity.is_null() {
            *identity = json!({});
        }
        let Value::Object(identity) = identity else {
            return Err(ConfigError::NotAnObject {
                what: "Identity in the replacement config".into(),
                found: type_name(identity),
            });
        };
        match identity.get("PrivKey") {
            None | Some(Value::Null) => {}
            Some(Value::String(k)) if k.is_empty() || Some(k.as_str()) == old_key => {}
            Some(_) => {
                return Err(ConfigError::Protected(
                    "setting the private key with 'config replace' is not supported; \
                     remove Identity.PrivKey from the file",
                ))
            }
        }
        match old_key {
            Some(k) => {
                identity.insert("PrivKey".into(), Value::String(k.to_owned()));
            }
            None => {
                identity.shift_remove("PrivKey");
            }
        }
        // The peer ID follows the key; keep the old one if the key cannot be
        // decoded by this build (e.g. an RSA key).
        let derived = old_key.and_then(|k| {
            Identity {
                peer_id: String::new(),
                private_key: k.to_owned(),
            }
            .private_key_bytes()
            .ok()
            .and_then(|b| Keypair::from_protobuf_encoding(&b).ok())
            .map(|kp| kp.public().to_peer_id().to_base58())
        });
        if let Some(peer) = derived.as_deref().or(old_peer) {
            identity.insert("PeerID".into(), Value::String(peer.to_owned()));
        }

        let mut new = Value::Object(new);
        carry_over_secrets(&self.doc, &mut new);
        let candidate = Config { doc: new };
        candidate.validate()?;
        *self = candidate;
        Ok(())
    }
    // ---- validation -------------------------------------------------------

    /// Checks every value Ferrite reads (types, and ranges such as CID
    /// version 0/1, chunker syntax, known hash names, parseable sizes and
    /// durations). Returns the first problem.
    pub fn validate(&self) -> Result<()> {
        for (_, check) in CHECKS {
            check(self)?;
        }
        Ok(())
    }

    /// Runs the checks for the settings at, above or below `key`.
    fn validate_touching(&self, key: &str) -> Result<()> {
        for (path, check) in CHECKS {
            if related_keys(key, path) {
                check(self)?;
            }
        }
        Ok(())
    }
}

impl Config {
    // ---- typed access helpers --------------------------------------------

    pub(crate) fn node(&self, key: &str) -> Result<Option<&Value>> {
        value_at(&self.doc, key)
    }

    pub(crate) fn opt_string(&self, key: &str) -> Result<Option<String>> {
        match self.node(key)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(expected(key, "a string or null", other)),
        }
    }

    pub(crate) fn opt_u64(&self, key: &str) -> Result<Option<u64>> {
        match self.node(key)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
            Some(other) => Err(expected(key, "a non-negative integer or null", other)),
        }
    }

    pub(crate) fn opt_bool(&self, key: &str) -> Result<Option<bool>> {
        match self.node(key)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(expected(key, "true, false or null", other)),
        }
    }

    pub(crate) fn string_list(&self, key: &str) -> Result<Vec<String>> {
        string_list_at(&self.doc, key)
    }

    /// Kubo's `Strings`: one string or a list ("" and `null` are empty).
    pub(crate) fn strings(&self, key: &str) -> Result<Vec<String>> {
        match self.node(key)? {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::String(s)) if s.is_empty() => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(vec![s.clone()]),
            Some(v @ Value::Array(_)) => string_array(key, v),
            Some(other) => Err(expected(
                key,
                "a string, an array of strings or null",
                other,
            )),
        }
    }

    /// Kubo's `OptionalDuration`: a Go duration string; null, "" and
    /// "default" mean unset.
    pub(crate) fn opt_duration(&self, key: &str) -> Result<Option<Duration>> {
        match self.node(key)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() || s == "default" || s == "null" => Ok(None),
            Some(Value::String(s)) => parse_duration(s).map(Some).map_err(|e| invalid(key, e)),
            Some(other) => Err(expected(
                key,
                "a duration string such as \"1m30s\" or null",
                other,
            )),
        }
    }

    /// Kubo's `OptionalBytes`: "256KiB"-style string or a number.
    pub(crate) fn opt_byte_size(&self, key: &str) -> Result<Option<u64>> {
        match self.node(key)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => parse_byte_size(s).map(Some).map_err(|e| invalid(key, e)),
            Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
            Some(other) => Err(expected(
                key,
                "a size such as \"256KiB\", a number, or null",
                other,
            )),
        }
    }

    /// `map[string][]string` as ordered pairs.
    pub(crate) fn headers(&self, key: &str) -> Result<Vec<(String, Vec<String>)>> {
        match self.node(key)? {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Object(m)) => m
                .iter()
                .map(|(name, v)| Ok((name.clone(), string_array(&format!("{key}.{name}"), v)?)))
                .collect(),
            Some(other) => Err(expected(key, "an object of header lists", other)),
        }
    }
}

/// The value at a dotted key of a typed setting; missing or `null` parents
/// give `None`, other non-objects an error naming them.
pub(crate) fn value_at<'a>(doc: &'a Value, key: &str) -> Result<Option<&'a Value>> {
    let mut cur = doc;
    let parts: Vec<&str> = key.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        match cur {
            Value::Object(m) => match m.get(*part) {
                Some(v) => cur = v,
                None => return Ok(None),
            },
            Value::Null => return Ok(None),
            other => return Err(expected(&parts[..i].join("."), "an object", other)),
        }
    }
    Ok(Some(cur))
}

/// A list of strings; missing or `null` is empty.
pub(crate) fn string_list_at(doc: &Value, key: &str) -> Result<Vec<String>> {
    match value_at(doc, key)? {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(v) => string_array(key, v),
    }
}

pub(crate) fn string_array(key: &str, v: &Value) -> Result<Vec<String>> {
    let Value::Array(items) = v else {
        return Err(expected(key, "an array of strings", v));
    };
    items
        .iter()
        .map(|item| match item {
            Value::String(s) => Ok(s.clone()),
            other => Err(expected(key, "an array of strings", other)),
        })
        .collect()
}

/// One check per group of settings Ferrite reads: (key prefix, check).
/// `set` runs the checks related to the key it changed.
type Check = fn(&Config) -> Result<()>;
const CHECKS: &[(&str, Check)] = &[
    ("Identity", |c| c.identity().map(drop)),
    ("Addresses", |c| c.addresses().map(drop)),
    ("Bootstrap", |c| c.bootstrap().map(drop)),
    ("Discovery.MDNS.Enabled", |c| c.mdns_enabled().map(drop)),
    ("Swarm.AddrFilters", |c| c.swarm().map(drop)),
    ("Swarm.DisableNatPortMap", |c| c.swarm().map(drop)),
    ("Swarm.ConnMgr", |c| c.swarm().map(drop)),
    ("Routing.Type", |c| c.routing_type().map(drop)),
    ("Provide", |c| c.reprovider().map(drop)),
    ("Reprovider", |c| c.reprovider().map(drop)),
    ("Import", |c| c.import().map(drop)),
    ("Datastore.StorageMax", |c| c.datastore().map(drop)),
    ("Datastore.StorageGCWatermark", |c| c.datastore().map(drop)),
    ("Datastore.GCPeriod", |c| c.datastore().map(drop)),
    ("API.HTTPHeaders", |c| c.api_http_headers().map(drop)),
    ("Gateway.HTTPHeaders", |c| c.gateway().map(drop)),
    ("Gateway.RootRedirect", |c| c.gateway().map(drop)),
    ("Gateway.NoFetch", |c| c.gateway().map(drop)),
    ("Gateway.NoDNSLink", |c| c.gateway().map(drop)),
    ("Gateway.DeserializedResponses", |c| c.gateway().map(drop)),
    ("Peering.Peers", |c| c.peering_peers().map(drop)),
];

/// How `config KEY` prints a value: strings raw (without surrounding
/// newlines), everything else as pretty JSON — Kubo's `HumanOutput`.
pub fn human_output(value: &Value) -> String {
    match value {
        Value::String(s) => s.trim_matches('\n').to_owned(),
        other => serde_json::to_string_pretty(other).expect("a JSON value always serializes"),
    }
}

/// Reads and parses a JSON file (for `load` and `config replace FILE`);
/// errors name the file and, for bad JSON, the line and column.
pub fn read_json_file(path: impl AsRef<Path>) -> Result<Value> {
    let path = path.as_ref();
    let bytes = fs::read(path).map_err(|cause| {
        if cause.kind() == io::ErrorKind::NotFound {
            ConfigError::NotFound {
                path: path.to_path_buf(),
            }
        } else {
            ConfigError::Io {
                action: "read",
                path: path.to_path_buf(),
                cause,
            }
        }
    })?;
    serde_json::from_slice(&bytes).map_err(|cause| ConfigError::Syntax {
        path: path.to_path_buf(),
        cause,
    })
}
