//! `config`, `config/show`, `config/replace`, `config/profile/apply`.

use super::block::file_parts;
use super::{blocking, json, ApiError, Command, Reply, Req};
use axum::body::Body;
use axum::response::Response;
use ferrite_node::config::{Config, ValueMode};
use ferrite_node::Node;

/// The commands of this module.
pub(super) const COMMANDS: &[Command] = &[
    ("config", |n, r| Box::pin(config(n, r))),
    ("config/show", |n, r| Box::pin(show(n, r))),
    ("config/replace", |n, r| Box::pin(replace(n, r))),
    ("config/profile/apply", |n, r| Box::pin(profile_apply(n, r))),
];

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(e.to_string())
}

/// `/api/v0/config?arg=KEY[&arg=VALUE][&bool][&json]` → `{"Key","Value"}`
/// (after setting, the stored value).
pub(super) async fn config(node: Node, req: Req) -> Reply {
    let key = req.arg(0, "key")?.to_string();
    let value = req.args.get(1).cloned();
    let mode = if req.bool("json", false)? {
        ValueMode::Json
    } else if req.bool("bool", false)? {
        ValueMode::Bool
    } else {
        ValueMode::String
    };
    let v = blocking(move || {
        let get = |cfg: &Config| -> Result<serde_json::Value, ApiError> {
            let v = cfg.get(&key).map_err(internal)?.clone();
            Ok(serde_json::json!({"Key": key, "Value": v}))
        };
        match value {
            None => get(&node.config()),
            Some(raw) => node.update_config(|cfg| {
                // Kubo's --bool stores `value == "true"`.
                let parsed = match mode {
                    ValueMode::Bool => serde_json::Value::Bool(raw == "true"),
                    m => Config::parse_cli_value(&raw, m).map_err(internal)?,
                };
                cfg.set(&key, parsed).map_err(internal)?;
                get(cfg)
            }),
        }
    })
    .await?;
    Ok(json(&v))
}

/// `/api/v0/config/show` → the whole configuration without the private key
/// (and with `API.Authorizations` hidden).
pub(super) async fn show(node: Node, _req: Req) -> Reply {
    Ok(json(&node.config().show()))
}

/// `/api/v0/config/replace` (multipart, one JSON file) → empty 200.
pub(super) async fn replace(node: Node, req: Req) -> Reply {
    let parts = file_parts(req.request, "file").await?;
    let v: serde_json::Value = serde_json::from_slice(&parts[0])
        .map_err(|e| ApiError::internal(format!("failed to decode config: {e}")))?;
    blocking(move || node.update_config(|cfg| cfg.replace(v).map_err(internal))).await?;
    Ok(Response::new(Body::empty()))
}

/// `/api/v0/config/profile/apply?arg=NAME[&dry-run]` → `{"OldCfg","NewCfg"}`.
pub(super) async fn profile_apply(node: Node, req: Req) -> Reply {
    let name = req.arg(0, "profile")?.to_string();
    let dry_run = req.bool("dry-run", false)?;
    let v = blocking(move || {
        let apply = |cfg: &mut Config| -> Result<serde_json::Value, ApiError> {
            let change = cfg.apply_profile(&name).map_err(internal)?;
            Ok(serde_json::json!({"OldCfg": change.old, "NewCfg": change.new}))
        };
        if dry_run {
            apply(&mut node.config())
        } else {
            node.update_config(apply)
        }
    })
    .await?;
    Ok(json(&v))
}
