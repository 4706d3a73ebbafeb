//! `bootstrap` (= `bootstrap/list`), `bootstrap/add[/default]`,
//! `bootstrap/rm[/all]`: the repo's `Bootstrap` list, edited through the
//! repo's config setter (durable; the daemon dials the new list at its next
//! start, as Kubo does). Every answer is `{"Peers":[…]}`.

use super::{blocking, json, ApiError, Command, Reply, Req};
use ferrite_node::bootstrap;
use ferrite_node::config::{Config, ConfigError};
use ferrite_node::Node;

/// The `bootstrap` commands.
pub(super) const COMMANDS: &[Command] = &[
    ("bootstrap", |n, r| Box::pin(list(n, r))),
    ("bootstrap/list", |n, r| Box::pin(list(n, r))),
    ("bootstrap/add", |n, r| Box::pin(add(n, r))),
    ("bootstrap/add/default", |n, r| Box::pin(add_default(n, r))),
    ("bootstrap/rm", |n, r| Box::pin(rm(n, r))),
    ("bootstrap/rm/all", |n, r| Box::pin(rm_all(n, r))),
];

fn error(e: ConfigError) -> ApiError {
    match e {
        ConfigError::BadInput(m) => ApiError::client(m),
        e => ApiError::internal(e.to_string()),
    }
}

/// Applies `edit` to the configuration and saves it; answers `{"Peers"}`.
async fn edit<F>(node: Node, edit: F) -> Reply
where
    F: FnOnce(&mut Config) -> Result<Vec<String>, ConfigError> + Send + 'static,
{
    let peers = blocking(move || node.update_config(|cfg| edit(cfg).map_err(error))).await?;
    Ok(json(&serde_json::json!({ "Peers": peers })))
}

/// `/api/v0/bootstrap[/list]` → `{"Peers":[…]}`.
pub(super) async fn list(node: Node, _req: Req) -> Reply {
    let peers = bootstrap::list(&node.config()).map_err(error)?;
    Ok(json(&serde_json::json!({ "Peers": peers })))
}

/// `/api/v0/bootstrap/add?arg=MA…[&default=true]` → `{"Peers":[added…]}`.
pub(super) async fn add(node: Node, req: Req) -> Reply {
    let mut peers = req.args.clone();
    if req.bool("default", false)? {
        peers.extend(bootstrap::defaults());
    }
    edit(node, move |cfg| bootstrap::add(cfg, &peers)).await
}

/// `/api/v0/bootstrap/add/default` → `{"Peers":[added…]}`.
pub(super) async fn add_default(node: Node, _req: Req) -> Reply {
    edit(node, |cfg| bootstrap::add(cfg, &bootstrap::defaults())).await
}

/// `/api/v0/bootstrap/rm?arg=MA…[&all=true]` → `{"Peers":[removed…]}`.
pub(super) async fn rm(node: Node, req: Req) -> Reply {
    if req.bool("all", false)? {
        return rm_all(node, req).await;
    }
    let peers = req.args.clone();
    edit(node, move |cfg| bootstrap::remove(cfg, &peers)).await
}

/// `/api/v0/bootstrap/rm/all` → `{"Peers":[removed…]}`.
pub(super) async fn rm_all(node: Node, _req: Req) -> Reply {
    edit(node, bootstrap::remove_all).await
}
