//! The IPFS HTTP gateway (path and trustless), per ipfs/specs `src/http-gateways/`.

use axum::Router;
use ferrite_node::Node;

/// The gateway router.
pub fn router(node: Node) -> Router {
    Router::new().with_state(node)
}
