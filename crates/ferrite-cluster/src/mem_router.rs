//! An in-process "network" for tests (the `test-util` feature): routes
//! Raft RPCs straight to registered [`ClusterNode`]s, and can kill nodes or
//! partition them.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::network::{RpcFuture, RpcRequest, Transport, TransportError};
use crate::node::ClusterNode;
use crate::NodeId;

#[derive(Default)]
struct RouterState {
    nodes: HashMap<NodeId, ClusterNode>,
    dead: HashSet<NodeId>,
    /// Ordered pairs (from, to) whose messages are dropped.
    blocked: HashSet<(NodeId, NodeId)>,
}

/// Routes RPCs between registered [`ClusterNode`]s in this process.
#[derive(Clone)]
pub struct MemRouter {
    state: Arc<Mutex<RouterState>>,
    wire: bool,
}

impl Default for MemRouter {
    fn default() -> Self {
        Self::new()
    }
}

impl MemRouter {
    /// A router that round-trips every request and response through JSON, so
    /// tests exercise the same serialization a real transport needs.
    pub fn new() -> Self {
        MemRouter {
            state: Arc::default(),
            wire: true,
        }
    }

    /// Like [`MemRouter::new`] but passes values directly (no JSON cost).
    pub fn without_wire_format() -> Self {
        MemRouter {
            state: Arc::default(),
            wire: false,
        }
    }

    /// The transport for node `from`; messages it sends are subject to
    /// partitions involving `from`.
    pub fn transport(&self, from: NodeId) -> Arc<dyn Transport> {
        Arc::new(MemTransport {
            from,
            router: self.clone(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RouterState> {
        // A panicking test thread must not cascade into every other node.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes `node` reachable (also revives a killed id).
    pub fn register(&self, node: ClusterNode) {
        let mut st = self.lock();
        st.dead.remove(&node.id());
        st.nodes.insert(node.id(), node);
    }

    /// Drops the router's handle of `id` and blackholes it in both directions.
    pub fn kill(&self, id: NodeId) {
        let mut st = self.lock();
        st.nodes.remove(&id);
        st.dead.insert(id);
    }

    /// Splits the nodes into groups; messages between different groups are
    /// dropped. Nodes not listed can talk to everyone.
    pub fn partition(&self, groups: &[&[NodeId]]) {
        let mut st = self.lock();
        st.blocked.clear();
        for (i, a) in groups.iter().enumerate() {
            for (j, b) in groups.iter().enumerate() {
                if i != j {
                    for &x in a.iter() {
                        for &y in b.iter() {
                            st.blocked.insert((x, y));
                        }
                    }
                }
            }
        }
    }

    /// Removes all partitions.
    pub fn heal(&self) {
        self.lock().blocked.clear();
    }

    fn route(&self, from: NodeId, to: NodeId) -> Result<ClusterNode, TransportError> {
        let st = self.lock();
        if st.dead.contains(&from) || st.dead.contains(&to) || st.blocked.contains(&(from, to)) {
            return Err(TransportError::Unreachable(to, "blocked".into()));
        }
        st.nodes
            .get(&to)
            .cloned()
            .ok_or_else(|| TransportError::Unreachable(to, "not registered".into()))
    }
}

struct MemTransport {
    from: NodeId,
    router: MemRouter,
}

fn roundtrip<T: Serialize + serde::de::DeserializeOwned>(v: T) -> Result<T, TransportError> {
    let bytes = serde_json::to_vec(&v).map_err(|e| TransportError::Other(e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| TransportError::Other(e.to_string()))
}

impl Transport for MemTransport {
    fn call<'a>(&'a self, target: NodeId, _addr: &'a str, req: RpcRequest) -> RpcFuture<'a> {
        Box::pin(async move {
            let node = self.router.route(self.from, target)?;
            let req = if self.router.wire {
                roundtrip(req)?
            } else {
                req
            };
            let resp = node.handle_rpc(req).await;
            // The partition may have appeared while the call was in flight.
            self.router.route(target, self.from)?;
            if self.router.wire {
                roundtrip(resp)
            } else {
                Ok(resp)
            }
        })
    }
}
