//! `Logging`: the daemon's log filter (a Ferrite key; Kubo reads its level
//! from `GOLOG_LOG_LEVEL`). It lives in the config so that an operator can
//! change it in a running service: edit it, then `systemctl reload`
//! (SIGHUP) or `ferrite log level`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{ConfigError, Result};
use crate::Config;

/// The levels a directive may name, quietest last.
pub const LEVELS: &[&str] = &["trace", "debug", "info", "warn", "error", "off"];

/// `Logging`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Logging {
    /// `Filter`: comma-separated directives, each a level (`info`) or
    /// `target=level` (`ferrite_p2p=debug`); empty means the built-in
    /// default (warnings). `FERRITE_LOG`, when set, wins over it.
    pub filter: String,
    /// Keys Ferrite does not read, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Config {
    /// `Logging`, its filter checked with [`check_log_filter`].
    pub fn logging(&self) -> Result<Logging> {
        let l: Logging = self.section("Logging")?;
        check_log_filter(&l.filter).map_err(|message| ConfigError::InvalidValue {
            key: "Logging.Filter".into(),
            message,
        })?;
        Ok(l)
    }
}

/// Checks a filter of `level` and `target=level` directives (the subset of
/// tracing's `EnvFilter` syntax the config accepts: no span or field
/// filters), so that a typo is refused when it is written, not found when
/// the daemon reloads.
pub fn check_log_filter(filter: &str) -> std::result::Result<(), String> {
    for d in filter.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let (target, level) = match d.split_once('=') {
            Some((t, l)) => (Some(t.trim()), l.trim()),
            None => (None, d),
        };
        if !LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
            return Err(format!(
                "{d:?}: unknown level {level:?} (one of {})",
                LEVELS.join(", ")
            ));
        }
        if let Some(t) = target {
            let ok = !t.is_empty()
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '-'));
            if !ok {
                return Err(format!(
                    "{d:?}: a target is a module path such as ferrite_p2p or libp2p_kad"
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_log_filter;

    #[test]
    fn filters() {
        for ok in [
            "",
            "info",
            "warn,ferrite_p2p=debug",
            " ferrite_node::net = TRACE , error",
        ] {
            assert_eq!(check_log_filter(ok), Ok(()), "{ok}");
        }
        for bad in [
            "loud",
            "ferrite_p2p=loud",
            "=debug",
            "a b=info",
            "x[span]=debug",
        ] {
            assert!(check_log_filter(bad).is_err(), "{bad}");
        }
    }
}
