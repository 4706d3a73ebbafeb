//! [`Config`]: the whole document, its file, what `ferrite config` does
//! with it (get, set, show, replace, validate), and reading and writing its
//! sections as serde structs. The structs and their getters live in the
//! section modules; Kubo's value types in `types`.

use std::path::Path;
use std::{fmt, fs, io};

use libp2p_identity::Keypair;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Map, Value};
use serde_path_to_error::Segment;

use crate::defaults::default_document;
use crate::error::{describe, invalid, type_name, ConfigError, Result};
use crate::file::write_atomic;
use crate::keys::{
    carry_over_secrets, check_not_secret, put, related_keys, remote_services_mut, split_key,
};
use crate::profile::resolve_profiles;
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
        let before = self.clone();
        put(&mut self.doc, key, value).map_err(&wrap)?;
        if let Err(e) = self
            .validate_touching(key)
            .and_then(|()| self.check_update(&before))
        {
            *self = before;
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
    /// must be an object and must pass
    /// [`validate_runnable`](Config::validate_runnable): a daemon must be
    /// able to start on it (so `{}` is refused: it has no `Addresses.API`).
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
        candidate.validate_runnable()?;
        *self = candidate;
        Ok(())
    }
    // ---- validation -------------------------------------------------------

    /// Checks every value Ferrite reads (types, and ranges such as CID
    /// version 0/1, chunker syntax, known hash names, parseable sizes and
    /// durations), that `Identity.PrivKey` decodes and `Identity.PeerID` is
    /// its peer ID, that the `Addresses` are multiaddrs and the API and
    /// gateway ones HTTP listen addresses. Returns the first problem, its
    /// message naming the key.
    pub fn validate(&self) -> Result<()> {
        for (_, check) in CHECKS {
            check(self)?;
        }
        Ok(())
    }

    /// [`validate`](Config::validate), plus what a daemon needs to be
    /// usable: at least one `Addresses.API` address (see
    /// [`Addresses`](crate::Addresses) for why Ferrite, unlike Kubo, does
    /// not start without one). `ferrite daemon` refuses to start on a
    /// config that fails this, and `config replace` to write one.
    pub fn validate_runnable(&self) -> Result<()> {
        self.validate()?;
        for (_, check) in RUN_CHECKS {
            check(self)?;
        }
        Ok(())
    }

    /// Refuses an edit that breaks something: the first check of
    /// [`validate_runnable`](Config::validate_runnable) that `before`
    /// passes and `self` fails. Problems `before` already had are not
    /// reported, so a config loaded with one bad value can still be
    /// repaired key by key. `set`, profile application and every config
    /// write of a node (`Node::update_config`) run this.
    pub fn check_update(&self, before: &Config) -> Result<()> {
        for (_, check) in CHECKS.iter().chain(RUN_CHECKS) {
            if let Err(e) = check(self) {
                let late = e
                    .key()
                    .is_some_and(|k| LATE_KEYS.iter().any(|l| related_keys(k, l)));
                if !late && check(before).is_ok() {
                    return Err(e);
                }
            }
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
    // ---- sections ---------------------------------------------------------

    /// The section (or value) at a dotted key, deserialized into its serde
    /// struct: `Config::section::<SwarmSettings>("Swarm")`. `null` values
    /// count as missing, and a missing or `null` section is `T::default()`,
    /// so the struct's `#[serde(default)]` supplies Kubo's implicit
    /// defaults. Errors name the full key (`Swarm.ConnMgr.HighWater: …`).
    pub fn section<T: DeserializeOwned + Default>(&self, key: &str) -> Result<T> {
        read_section(&self.doc, key)
    }

    /// Writes a section struct back at a dotted key. Only the values that
    /// differ from what [`section`](Config::section) reads now are written,
    /// so keys the struct does not change — unknown ones, `null`s, sizes
    /// written as `"10GB"` — stay as and where they are. Like
    /// [`set`](Config::set), the result is checked and nothing changes on
    /// error.
    pub fn set_section<T: Serialize + DeserializeOwned + Default>(
        &mut self,
        key: &str,
        section: &T,
    ) -> Result<()> {
        let before = self.doc.clone();
        let result =
            write_section(&mut self.doc, key, section).and_then(|()| self.validate_touching(key));
        if result.is_err() {
            self.doc = before;
        }
        result
    }
}

/// Reads the value at a dotted key into `T` (see [`Config::section`]).
pub(crate) fn read_section<T: DeserializeOwned + Default>(doc: &Value, key: &str) -> Result<T> {
    let Some(value) = value_at(doc, key)? else {
        return Ok(T::default());
    };
    let mut value = value.clone();
    strip_nulls(&mut value);
    if value.is_null() {
        return Ok(T::default());
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let mut key = key.to_owned();
        for segment in e.path() {
            match segment {
                Segment::Seq { index } => key += &format!("[{index}]"),
                Segment::Map { key: k } => key += &format!(".{k}"),
                Segment::Enum { .. } | Segment::Unknown => {}
            }
        }
        // serde words type errors "invalid type: string \"x\", expected u64".
        let message = e.into_inner().to_string();
        match message
            .strip_prefix("invalid type: ")
            .and_then(|m| m.split_once(", expected "))
        {
            Some((got, expected)) => ConfigError::WrongType {
                key,
                expected: match expected {
                    "u64" | "u32" => "a non-negative integer".into(),
                    "a sequence" => "an array".into(),
                    other => other.into(),
                },
                got: got.into(),
            },
            None => invalid(&key, message),
        }
    })
}

/// Writes `section` at `key`, changing only what differs from the current
/// reading of it (see [`Config::set_section`]).
pub(crate) fn write_section<T: Serialize + DeserializeOwned + Default>(
    doc: &mut Value,
    key: &str,
    section: &T,
) -> Result<()> {
    let to_value = |t: &T| serde_json::to_value(t).expect("section structs serialize to JSON");
    let old = to_value(&read_section::<T>(doc, key).unwrap_or_default());
    let new = to_value(section);
    if old == new {
        return Ok(());
    }
    if value_at(doc, key)?.is_none_or(Value::is_null) {
        put(doc, key, Value::Object(Map::new()))?;
    }
    let mut target = doc;
    for part in key.split('.') {
        target = target.get_mut(part).expect("put created the key");
    }
    patch(target, &old, &new);
    Ok(())
}

/// Makes `target` read as `new` where `new` differs from `old` (what
/// `target` read as), leaving everything else in place.
fn patch(target: &mut Value, old: &Value, new: &Value) {
    match (&mut *target, old, new) {
        (Value::Object(t), Value::Object(o), Value::Object(n)) => {
            for (k, nv) in n {
                let ov = o.get(k).unwrap_or(&Value::Null);
                if ov == nv {
                    continue;
                }
                match t.get_mut(k) {
                    Some(tv) => patch(tv, ov, nv),
                    None => {
                        t.insert(k.clone(), nv.clone());
                    }
                }
            }
            t.retain(|k, _| n.contains_key(k) || !o.contains_key(k));
        }
        _ => *target = new.clone(),
    }
}

/// Removes `null` object values, so they read as missing.
fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, v| !v.is_null());
            m.values_mut().for_each(strip_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// The value at a dotted key of a section; missing or `null` parents give
/// `None`, other non-objects an error naming them.
fn value_at<'a>(doc: &'a Value, key: &str) -> Result<Option<&'a Value>> {
    let mut cur = doc;
    let parts: Vec<&str> = key.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        match cur {
            Value::Object(m) => match m.get(*part) {
                Some(v) => cur = v,
                None => return Ok(None),
            },
            Value::Null => return Ok(None),
            other => {
                return Err(ConfigError::WrongType {
                    key: parts[..i].join("."),
                    expected: "an object".into(),
                    got: describe(other),
                })
            }
        }
    }
    Ok(Some(cur))
}

/// One check per group of settings Ferrite reads: (key prefix, check).
/// `set` runs the checks related to the key it changed.
type Check = fn(&Config) -> Result<()>;
const CHECKS: &[(&str, Check)] = &[
    ("Identity", |c| c.keypair().map(drop)),
    ("Addresses", |c| c.checked_addresses().map(drop)),
    ("Bootstrap", |c| c.bootstrap().map(drop)),
    ("Discovery.MDNS.Enabled", |c| c.mdns_enabled().map(drop)),
    ("Swarm.AddrFilters", |c| c.swarm().map(drop)),
    ("Swarm.DisableNatPortMap", |c| c.swarm().map(drop)),
    ("Swarm.ConnMgr", |c| c.swarm().map(drop)),
    ("Swarm.Transports.Network", |c| c.swarm().map(drop)),
    // Swarm.ResourceMgr is read with the rest of Swarm but, as before, only
    // refused when the daemon starts (and by other Swarm keys' checks).
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
    ("Logging", |c| c.logging().map(drop)),
];

/// Settings whose bad values edits may still write: they are refused only
/// when the daemon starts (as `Swarm.ResourceMgr` always was).
const LATE_KEYS: &[&str] = &["Swarm.ResourceMgr"];

/// What a daemon needs beyond [`CHECKS`] (see [`Config::validate_runnable`]).
const RUN_CHECKS: &[(&str, Check)] = &[("Addresses.API", |c| c.check_api_present())];

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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{DatastoreSettings, GatewaySettings, SwarmSettings};

    fn with(edit: impl FnOnce(&mut Value)) -> Config {
        let mut doc = Config::with_identity(&Identity::generate()).into_value();
        edit(&mut doc);
        Config::from_value(doc).unwrap()
    }

    #[test]
    fn unknown_keys_survive_load_modify_save() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        let c = with(|d| {
            d["Swarm"]["ConnMgr"] = json!({"MyHint": "keep", "GracePeriod": null, "LowWater": 10});
            d["Swarm"]["FutureKey"] = json!({"b": null, "a": [1, null]});
            d["Datastore"]["StorageMax"] = json!("20GB");
        });
        let original = c.as_value().clone();
        c.save(&path).unwrap();
        let mut c = Config::load(&path).unwrap();
        let mut swarm: SwarmSettings = c.section("Swarm").unwrap();
        assert_eq!(swarm.extra["FutureKey"], json!({"a": [1, null]}));
        assert_eq!(swarm.conn_mgr.extra["MyHint"], json!("keep"));
        swarm.conn_mgr.high_water = 200;
        c.set_section("Swarm", &swarm).unwrap();
        let mut ds: DatastoreSettings = c.section("Datastore").unwrap();
        ds.storage_gc_watermark = 80;
        c.set_section("Datastore", &ds).unwrap();
        c.save(&path).unwrap();

        // The file first written with exactly the two changes: every other
        // key, null and "20GB" as and where it was (compared as text, so
        // key order counts).
        let mut expected = original;
        expected["Swarm"]["ConnMgr"]["HighWater"] = json!(200);
        expected["Datastore"]["StorageGCWatermark"] = json!(80);
        let after = Config::load(&path).unwrap();
        assert_eq!(
            after.to_json_string(),
            Config::from_value(expected).unwrap().to_json_string()
        );
    }

    #[test]
    fn set_section_writes_a_missing_section_sparsely() {
        let mut c = with(|d| {
            d.as_object_mut().unwrap().shift_remove("Gateway");
        });
        let g = GatewaySettings {
            no_fetch: true,
            ..c.gateway().unwrap()
        };
        c.set_section("Gateway", &g).unwrap();
        assert_eq!(c.as_value()["Gateway"], json!({"NoFetch": true}));
        // A value `validate` refuses is not written.
        let before = c.clone();
        c.set_section("Bootstrap", &vec!["auto".to_string()])
            .unwrap_err();
        assert_eq!(c, before);
    }

    #[test]
    fn null_reads_as_missing() {
        let c = with(|d| {
            d["Swarm"] = json!({"AddrFilters": null, "ConnMgr": {"Type": null,
                "LowWater": null, "HighWater": null, "GracePeriod": null, "SilencePeriod": null}});
            d["Datastore"] =
                json!({"StorageMax": null, "StorageGCWatermark": null, "GCPeriod": null});
            d["Gateway"] = json!({"DeserializedResponses": null, "HTTPHeaders": null});
            d["Addresses"] = json!({"API": null, "Swarm": null});
            d["Routing"] = json!({"Type": null});
            d["Bootstrap"] = Value::Null;
            d["Import"] = Value::Null;
        });
        let swarm = c.swarm().unwrap();
        assert_eq!(swarm, SwarmSettings::default());
        assert_eq!(swarm.conn_mgr.high_water, 96);
        assert_eq!(swarm.conn_mgr.grace_period, Duration::from_secs(20));
        assert_eq!(c.datastore().unwrap(), DatastoreSettings::default());
        assert_eq!(c.datastore().unwrap().storage_max, 10_000_000_000);
        assert!(c.gateway().unwrap().deserialized_responses);
        assert!(c.addresses().unwrap().api.is_empty());
        assert_eq!(c.routing_type().unwrap(), "auto");
        assert!(c.bootstrap().unwrap().is_empty());
        assert_eq!(c.import().unwrap(), Default::default());
        c.validate().unwrap();
    }

    #[test]
    fn wrong_types_name_their_key_path() {
        let msg = |edit: fn(&mut Value)| with(edit).validate().unwrap_err().to_string();
        assert_eq!(
            msg(|d| d["Swarm"]["ConnMgr"]["HighWater"] = json!("lots")),
            "Swarm.ConnMgr.HighWater: expected a non-negative integer, got string \"lots\""
        );
        assert_eq!(
            msg(|d| d["Peering"]["Peers"] = json!([{"ID": "a"}, {"ID": "b", "Addrs": [1]}])),
            "Peering.Peers[1].Addrs[0]: expected a string, got integer `1`"
        );
        assert_eq!(
            msg(|d| d["Gateway"]["HTTPHeaders"] = json!({"X-A": "b"})),
            "Gateway.HTTPHeaders.X-A: expected an array, got string \"b\""
        );
        assert_eq!(
            msg(|d| d["Swarm"]["ConnMgr"] = json!(5)),
            "Swarm.ConnMgr: expected struct ConnMgrSettings, got integer `5`"
        );
        assert_eq!(
            msg(|d| d["Datastore"]["GCPeriod"] = json!("1 day")),
            "Datastore.GCPeriod: invalid duration \"1 day\": unknown unit \" day\""
        );
        let err = with(|d| d["Swarm"] = json!([])).swarm().unwrap_err();
        assert!(matches!(err, ConfigError::WrongType { ref key, .. } if key == "Swarm"));
    }

    #[test]
    fn durations_and_sizes_write_back_readably() {
        let mut c = with(|_| {});
        let mut s = c.swarm().unwrap();
        s.conn_mgr.grace_period = Duration::from_millis(90_500);
        s.conn_mgr.silence_period = Duration::from_secs(3600);
        s.resource_mgr.max_memory = Some(1 << 30);
        c.set_section("Swarm", &s).unwrap();
        let v = &c.as_value()["Swarm"];
        assert_eq!(v["ConnMgr"]["GracePeriod"], json!("1m30.5s"));
        assert_eq!(v["ConnMgr"]["SilencePeriod"], json!("1h0m0s"));
        assert_eq!(v["ResourceMgr"]["MaxMemory"], json!("1073741824"));
        assert_eq!(c.swarm().unwrap(), s);
    }
}
