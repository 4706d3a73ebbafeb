//! Messages between cluster peers over the cluster host: the Raft RPCs
//! (the [`Transport`] openraft uses), joins, status and recover queries,
//! and metrics.

use std::time::Duration;

use ferrite_ipld::Cid;
use libp2p::{Multiaddr, PeerId};
use serde::{Deserialize, Serialize};

use super::membership::{parse_node_addr, peer_of};
use super::{node_id, Cluster, RAFT_RPC_TIMEOUT};
use crate::host::{ClusterHost, Inbound};
use crate::network::{RpcFuture, RpcRequest, RpcResponse, Transport, TransportError};
use crate::node::ClusterError;
use crate::types::{Metric, PeerInfo, PinInfo};
use crate::NodeId;

/// Messages between cluster peers (JSON inside the host's frames).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum PeerRequest {
    Raft(RpcRequest),
    /// Add the sender as a voter (asked of any member; forwarded to the leader).
    Join {
        addr: String,
    },
    Id,
    /// Local statuses of these CIDs (`None`: all).
    Status {
        #[serde(default, with = "crate::text::opt_seq")]
        cids: Option<Vec<Cid>>,
    },
    /// Recover this CID locally (`None`: every CID in error).
    Recover {
        #[serde(default, with = "crate::text::opt")]
        cid: Option<Cid>,
    },
    Metrics(Vec<Metric>),
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum PeerResponse {
    Raft(RpcResponse),
    Id(PeerInfo),
    Status(Vec<PinInfo>),
    Ok,
    Error(String),
}

/// openraft's transport over the cluster host.
///
/// A peer that stops answering is logged once by the host (see
/// [`ClusterHost::call`]); openraft's own per-RPC errors are filtered out by
/// the daemon's default log filter.
pub(super) struct HostTransport {
    pub(super) host: ClusterHost,
}

impl Transport for HostTransport {
    fn call<'a>(&'a self, target: NodeId, addr: &'a str, req: RpcRequest) -> RpcFuture<'a> {
        Box::pin(async move {
            let (peer, addrs) = parse_node_addr(addr)
                .ok_or_else(|| TransportError::Other(format!("bad peer address {addr:?}")))?;
            let body = serde_json::to_vec(&PeerRequest::Raft(req))
                .map_err(|e| TransportError::Other(e.to_string()))?;
            let reply = self
                .host
                .call(peer, addrs, body, RAFT_RPC_TIMEOUT)
                .await
                .map_err(|e| match e {
                    TransportError::Unreachable(_, m) => TransportError::Unreachable(target, m),
                    TransportError::Timeout(_) => TransportError::Timeout(target),
                    other => other,
                })?;
            match serde_json::from_slice(&reply) {
                Ok(PeerResponse::Raft(r)) => Ok(r),
                Ok(PeerResponse::Error(e)) => Ok(RpcResponse::Error(e)),
                Ok(other) => Err(TransportError::Other(format!("unexpected reply {other:?}"))),
                Err(e) => Err(TransportError::Other(format!("bad reply: {e}"))),
            }
        })
    }
}

impl Cluster {
    pub(super) async fn ask(
        &self,
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        req: &PeerRequest,
        timeout: Duration,
    ) -> Result<PeerResponse, ClusterError> {
        let body = serde_json::to_vec(req).map_err(|e| ClusterError::Raft(e.to_string()))?;
        let reply = self.inner.host.call(peer, addrs, body, timeout).await?;
        serde_json::from_slice(&reply).map_err(|e| ClusterError::Raft(format!("bad reply: {e}")))
    }

    pub(super) async fn serve_inbound(self, mut inbound: tokio::sync::mpsc::Receiver<Inbound>) {
        while let Some(req) = inbound.recv().await {
            let me = self.clone();
            tokio::spawn(async move {
                let resp = match serde_json::from_slice::<PeerRequest>(&req.request) {
                    Ok(r) => me.handle(req.from, r).await,
                    Err(e) => PeerResponse::Error(format!("bad request: {e}")),
                };
                let bytes = serde_json::to_vec(&resp).unwrap_or_default();
                let _ = req.reply.send(bytes);
            });
        }
    }

    async fn handle(&self, from: PeerId, req: PeerRequest) -> PeerResponse {
        self.inner.host.heard_from(&from);
        match req {
            PeerRequest::Raft(r) => PeerResponse::Raft(self.inner.raft.handle_rpc(r).await),
            PeerRequest::Join { addr } => {
                // The record must name the peer that asked: the PSK only
                // proves membership, not which member it is.
                if peer_of(&addr) != Some(from) {
                    return PeerResponse::Error("join address does not match the peer".into());
                }
                let id = node_id(&from);
                if self.inner.raft.metrics().voters.contains(&id) {
                    return PeerResponse::Ok;
                }
                match self.inner.raft.add_voter(id, addr).await {
                    Ok(()) => PeerResponse::Ok,
                    Err(e) => PeerResponse::Error(e.to_string()),
                }
            }
            PeerRequest::Id => PeerResponse::Id(self.id().await),
            PeerRequest::Status { cids } => PeerResponse::Status(match cids {
                Some(c) => c.iter().map(|c| self.inner.tracker.status(c)).collect(),
                None => self.inner.tracker.status_all(),
            }),
            PeerRequest::Recover { cid } => PeerResponse::Status(match cid {
                Some(c) => vec![self.inner.tracker.recover(&c)],
                None => self.inner.tracker.recover_all(),
            }),
            PeerRequest::Metrics(ms) => {
                // Only a peer's own metrics are accepted from it.
                self.store_metrics(ms.into_iter().filter(|m| m.peer == from).collect());
                PeerResponse::Ok
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CID: &str = "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn";

    #[test]
    fn status_and_recover_carry_cid_text() {
        let cid: Cid = CID.parse().unwrap();
        for (req, text) in [
            (
                PeerRequest::Status {
                    cids: Some(vec![cid]),
                },
                format!(r#"{{"status":{{"cids":["{CID}"]}}}}"#),
            ),
            (
                PeerRequest::Status { cids: None },
                r#"{"status":{"cids":null}}"#.to_string(),
            ),
            (
                PeerRequest::Recover { cid: Some(cid) },
                format!(r#"{{"recover":{{"cid":"{CID}"}}}}"#),
            ),
            (
                PeerRequest::Recover { cid: None },
                r#"{"recover":{"cid":null}}"#.to_string(),
            ),
        ] {
            assert_eq!(serde_json::to_string(&req).unwrap(), text);
            let back: PeerRequest = serde_json::from_str(&text).unwrap();
            assert_eq!(serde_json::to_string(&back).unwrap(), text);
        }
    }
}
