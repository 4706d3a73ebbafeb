//! The daemon's log: a tracing subscriber whose filter can change while it
//! runs (SIGHUP after editing `Logging.Filter`).
//!
//! The filter is `FERRITE_LOG` when set (any `EnvFilter` directive; it
//! then wins over the config, also on reload), else the config's
//! `Logging.Filter`, else [`DEFAULT_FILTER`]. `FERRITE_LOG_FORMAT=json`
//! writes one JSON object per line (for journald or a log shipper).

use std::sync::{Arc, Mutex};

use tracing_subscriber::filter::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::reload;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

/// Warnings, without the DHT's and openraft's per-request errors.
pub(crate) const DEFAULT_FILTER: &str = "warn,libp2p_kad=error,openraft=error";

/// The subsystems `log ls` names: Ferrite's crates and the libraries whose
/// logs help most.
const SUBSYSTEMS: &[&str] = &[
    "ferrite",
    "ferrite_bitswap",
    "ferrite_cluster",
    "ferrite_config",
    "ferrite_http",
    "ferrite_ipld",
    "ferrite_node",
    "ferrite_p2p",
    "ferrite_store",
    "ferrite_unixfs",
    "libp2p_kad",
    "libp2p_swarm",
    "libp2p_tcp",
    "libp2p_noise",
    "libp2p_yamux",
    "openraft",
];

/// Changes the running daemon's filter.
#[derive(Clone)]
pub(crate) struct LogControl {
    handle: Option<reload::Handle<EnvFilter, Registry>>,
    /// `FERRITE_LOG`: the config does not change the filter then.
    from_env: bool,
    /// The filter in force, as text (what `log level` edits).
    current: Arc<Mutex<String>>,
}

impl ferrite_http::rpc::log::LogControl for LogControl {
    fn set_level(&self, subsystem: &str, level: &str) -> Result<String, String> {
        let mut current = self.current.lock().unwrap();
        let mut directives: Vec<String> = if matches!(subsystem, "all" | "*") {
            Vec::new()
        } else {
            ferrite_config::check_log_filter(&format!("{subsystem}={level}"))?;
            current
                .split(',')
                .map(str::trim)
                .filter(|d| {
                    !d.is_empty() && d.split_once('=').is_none_or(|(t, _)| t.trim() != subsystem)
                })
                .map(str::to_string)
                .collect()
        };
        directives.push(if matches!(subsystem, "all" | "*") {
            level.to_string()
        } else {
            format!("{subsystem}={level}")
        });
        let text = directives.join(",");
        self.reload(&text)?;
        *current = text.clone();
        Ok(text)
    }

    fn subsystems(&self) -> Vec<String> {
        SUBSYSTEMS.iter().map(|s| s.to_string()).collect()
    }
}

impl LogControl {
    /// Applies the config's `Logging.Filter` (empty: the default) unless
    /// `FERRITE_LOG` is set. Returns the filter now in force, or `None`
    /// when `FERRITE_LOG` rules.
    pub(crate) fn apply_config(&self, filter: &str) -> anyhow::Result<Option<String>> {
        if self.from_env {
            return Ok(None);
        }
        let text = effective(filter);
        self.reload(&text)
            .map_err(|e| anyhow::anyhow!("Logging.Filter: {e}"))?;
        *self.current.lock().unwrap() = text.clone();
        Ok(Some(text))
    }

    fn reload(&self, text: &str) -> Result<(), String> {
        let parsed = EnvFilter::try_new(text).map_err(|e| format!("{text:?}: {e}"))?;
        match &self.handle {
            Some(h) => h
                .reload(parsed)
                .map_err(|e| format!("cannot change the log filter: {e}")),
            None => Ok(()),
        }
    }
}

fn effective(config_filter: &str) -> String {
    match config_filter.trim() {
        "" => DEFAULT_FILTER.to_string(),
        f => f.to_string(),
    }
}

/// Installs the daemon's subscriber (stderr) with `FERRITE_LOG`, else the
/// default filter; [`LogControl::apply_config`] applies the config's once
/// the repo is open.
pub(crate) fn init() -> LogControl {
    let env = std::env::var("FERRITE_LOG")
        .ok()
        .filter(|v| EnvFilter::try_new(v).is_ok());
    let from_env = env.is_some();
    let text = env.unwrap_or_else(|| DEFAULT_FILTER.to_string());
    let filter = EnvFilter::new(&text);
    let (filter, handle) = reload::Layer::new(filter);
    let json = std::env::var("FERRITE_LOG_FORMAT").is_ok_and(|v| v == "json");
    let ansi = !json && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let fmt = if json {
        fmt.json().boxed()
    } else {
        fmt.boxed()
    };
    // openraft's network noise is dropped unless FERRITE_LOG asks for
    // everything explicitly.
    let quiet_raft = !from_env;
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(
            fmt.with_filter(tracing_subscriber::filter::filter_fn(move |m| {
                !(quiet_raft && openraft_network_noise(m))
            })),
        )
        .try_init()
        .is_ok();
    LogControl {
        handle: installed.then_some(handle),
        from_env,
        current: Arc::new(Mutex::new(text)),
    }
}

/// openraft logs every failed RPC at ERROR: one per heartbeat (every
/// 0.5 s) while a peer is down, one per vote request to it, and one per
/// in-flight RPC when this peer shuts down. The cluster transport logs a
/// peer becoming unreachable (WARN) and reachable again (INFO) instead.
/// These events are recognized by their target and fields: replication's
/// `RPCError` carries `err`, the core's network failures carry `target`.
/// Also dropped: a membership change's "first/second step error" (e.g.
/// "already undergoing a configuration change" when peers join at once),
/// which openraft returns to the caller as well: the joining peer retries.
fn openraft_network_noise(m: &tracing::Metadata<'_>) -> bool {
    let has = |name: &str| m.fields().field(name).is_some();
    m.is_event()
        && match m.target() {
            "openraft::replication" => has("err"),
            "openraft::core::raft_core" => has("target"),
            "openraft::raft::impl_raft_blocking_write" => *m.level() == tracing::Level::ERROR,
            _ => false,
        }
}
