//! Membership: the peers' address records in the Raft membership,
//! founding or joining a cluster, `/id`, `/peers`, removing a peer, and
//! keeping the members' IPFS hosts connected.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures::future::join_all;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};

use super::rpc::{PeerRequest, PeerResponse};
use super::{node_id, Cluster, PEER_QUERY_TIMEOUT, VERSION};
use crate::node::ClusterError;
use crate::types::PeerInfo;

/// A membership address record: the peer's multiaddrs with `/p2p/<id>`,
/// space separated.
pub(super) fn parse_node_addr(addr: &str) -> Option<(PeerId, Vec<Multiaddr>)> {
    let mut peer = None;
    let mut addrs = Vec::new();
    for a in addr.split_whitespace() {
        let mut ma: Multiaddr = a.parse().ok()?;
        if let Some(Protocol::P2p(p)) = ma.pop() {
            peer = Some(p);
            addrs.push(ma);
        }
    }
    Some((peer?, addrs))
}

/// The peer ID in a membership address record.
pub fn peer_of(addr: &str) -> Option<PeerId> {
    parse_node_addr(addr).map(|(p, _)| p)
}

pub(super) fn with_p2p(addrs: &[Multiaddr], peer: &PeerId) -> Vec<String> {
    addrs
        .iter()
        .map(|a| a.clone().with(Protocol::P2p(*peer)).to_string())
        .collect()
}

impl Cluster {
    /// This peer's membership address record.
    async fn own_addr(&self) -> String {
        with_p2p(&self.inner.host.listen_addrs().await, &self.inner.peer).join(" ")
    }

    pub(super) async fn bootstrap(&self) -> Result<(), ClusterError> {
        let m = self.inner.raft.metrics();
        // The metrics may not show the state loaded from disk yet: calling
        // `initialize` on a restarted member would make openraft log an
        // ERROR ("Can not initialize"), so ask the Raft core as well.
        if !m.nodes.is_empty()
            || m.last_log_index.is_some()
            || self.inner.raft.is_initialized().await?
        {
            return Ok(()); // restarted member: Raft resumes from disk
        }
        let addr = self.own_addr().await;
        if self.inner.section.bootstrap.is_empty() {
            let mut members = BTreeMap::new();
            members.insert(node_id(&self.inner.peer), crate::RaftPeer { addr });
            self.inner.raft.initialize(members).await?;
            // Return a formed cluster: right after `initialize` the metrics
            // may not list the membership yet, and /peers would be empty.
            self.inner
                .raft
                .wait_for_leader(Duration::from_secs(10))
                .await?;
            return Ok(());
        }
        let bootstrap = self.inner.section.bootstrap_addrs()?;
        let me = self.clone();
        let task = tokio::spawn(async move { me.join_loop(bootstrap, addr).await });
        self.lock_tasks().push(task);
        Ok(())
    }

    async fn join_loop(self, bootstrap: Vec<Multiaddr>, addr: String) {
        let mut delay = Duration::from_millis(200);
        loop {
            for b in &bootstrap {
                match self.try_join(b.clone(), &addr).await {
                    Ok(()) => {
                        tracing::info!("joined the cluster through {b}");
                        return;
                    }
                    Err(e) => tracing::warn!("cannot join the cluster through {b}: {e}"),
                }
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(10));
        }
    }

    async fn try_join(&self, bootstrap: Multiaddr, addr: &str) -> Result<(), ClusterError> {
        let target = self.inner.host.connect(bootstrap).await?;
        match self
            .ask(
                target,
                Vec::new(),
                &PeerRequest::Join { addr: addr.into() },
                Duration::from_secs(60),
            )
            .await?
        {
            PeerResponse::Ok => Ok(()),
            PeerResponse::Error(e) => Err(ClusterError::Raft(e)),
            other => Err(ClusterError::Raft(format!("unexpected reply {other:?}"))),
        }
    }

    /// Keeps this node's IPFS host connected to the other peers' IPFS
    /// hosts (what IPFS Cluster's `ConnectSwarms` does), so Bitswap finds
    /// cluster content at once instead of through a DHT search.
    pub(super) async fn connect_swarms(self) {
        let Some(net) = self.inner.ipfs.network().cloned() else {
            return;
        };
        let mut delay = Duration::from_secs(1);
        loop {
            tokio::time::sleep(delay).await;
            delay = Duration::from_secs(30);
            let connected: BTreeSet<String> = match net.peers().await {
                Ok(p) => p.into_iter().map(|p| p.peer.to_string()).collect(),
                Err(_) => continue,
            };
            for info in self.peers().await {
                if info.id == self.inner.peer
                    || !info.error.is_empty()
                    || connected.contains(&info.ipfs_id)
                {
                    continue;
                }
                for a in &info.ipfs_addresses {
                    let Ok(ma) = a.parse::<Multiaddr>() else {
                        continue;
                    };
                    match net.connect(ma).await {
                        Ok(_) => break,
                        Err(e) => tracing::debug!("ipfs connect to {a}: {e}"),
                    }
                }
            }
        }
    }

    /// Members with their addresses, from the Raft membership.
    pub(super) fn members(&self) -> Vec<(PeerId, Vec<Multiaddr>)> {
        self.inner
            .raft
            .metrics()
            .nodes
            .values()
            .filter_map(|n| parse_node_addr(&n.addr))
            .collect()
    }

    /// `/id`: this peer.
    pub async fn id(&self) -> PeerInfo {
        let members = self.members();
        PeerInfo {
            id: self.inner.peer,
            addresses: with_p2p(&self.inner.host.listen_addrs().await, &self.inner.peer),
            cluster_peers: members.iter().map(|(p, _)| *p).collect(),
            cluster_peers_addresses: members.iter().flat_map(|(p, a)| with_p2p(a, p)).collect(),
            version: VERSION.into(),
            peername: self.inner.local.peername.clone(),
            ipfs_id: self.inner.local.ipfs_peer_id.clone(),
            ipfs_addresses: self.inner.local.ipfs_addresses.clone(),
            error: String::new(),
        }
    }

    /// `/peers`: every member, asked over the cluster host (unreachable ones
    /// carry `error`).
    pub async fn peers(&self) -> Vec<PeerInfo> {
        let asks = self.members().into_iter().map(|(p, addrs)| async move {
            if p == self.inner.peer {
                return self.id().await;
            }
            match self
                .ask(p, addrs, &PeerRequest::Id, PEER_QUERY_TIMEOUT)
                .await
            {
                Ok(PeerResponse::Id(info)) => info,
                Ok(other) => PeerInfo::unreachable(p, format!("unexpected reply {other:?}")),
                Err(e) => PeerInfo::unreachable(p, e.to_string()),
            }
        });
        join_all(asks).await
    }

    /// `DELETE /peers/{id}`: removes a member from the cluster; its pins
    /// are re-allocated by the leader.
    pub async fn peer_rm(&self, peer: PeerId) -> Result<(), ClusterError> {
        let id = node_id(&peer);
        if !self.inner.raft.metrics().nodes.contains_key(&id) {
            return Err(ClusterError::NotFound(format!(
                "{peer} is not a cluster peer"
            )));
        }
        self.inner.raft.remove_peer(id).await
    }

    /// Fails at once on a peer that is not (yet) in a cluster, instead of
    /// letting a write wait out the submit timeout.
    pub(super) fn ensure_member(&self) -> Result<(), ClusterError> {
        if self.inner.raft.metrics().nodes.is_empty() {
            return Err(ClusterError::Raft(
                "this peer is not a cluster member yet: it is still trying to join through \
                 Cluster.Bootstrap (see the daemon log)"
                    .into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_addr_records_round_trip() {
        let p = PeerId::random();
        let addrs: Vec<Multiaddr> = vec![
            "/ip4/127.0.0.1/tcp/9096".parse().unwrap(),
            "/ip4/10.0.0.1/tcp/9096".parse().unwrap(),
        ];
        let rec = with_p2p(&addrs, &p).join(" ");
        let (peer, back) = parse_node_addr(&rec).unwrap();
        assert_eq!(peer, p);
        assert_eq!(back, addrs);
        assert_eq!(peer_of(&rec), Some(p));
        assert!(parse_node_addr("nonsense").is_none());
    }
}
