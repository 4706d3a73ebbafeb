//! Leader duties: removing expired pins and re-allocating the pins of
//! peers that are down or gone.

use std::collections::BTreeSet;
use std::time::Duration;

use libp2p::PeerId;

use super::Cluster;
use crate::allocator;
use crate::node::ClusterError;
use crate::pinset::{ClusterPin, Command};
use crate::types::now_ns;

impl Cluster {
    /// On the leader: removes expired pins and moves pins away from peers
    /// that have been down longer than `ReallocateAfter` (or left).
    pub(super) async fn leader_duties(self) {
        let period = self.inner.ping_interval.max(Duration::from_millis(200));
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let m = self.inner.raft.metrics();
            if m.leader != Some(m.id) {
                continue;
            }
            if let Err(e) = self.leader_round().await {
                tracing::warn!("cluster maintenance: {e}");
            }
        }
    }

    async fn leader_round(&self) -> Result<(), ClusterError> {
        let pins = self.inner.raft.pins().await?;
        let now = now_ns();
        let now_s = now / 1_000_000_000;
        let members: BTreeSet<PeerId> = self.members().into_iter().map(|(p, _)| p).collect();
        let mut cmds = Vec::new();
        let mut candidates = None;
        for pin in pins {
            if pin.expire_at.is_some_and(|t| t <= now_s) {
                cmds.push(Command::Unpin { cid: pin.cid });
                continue;
            }
            if pin.allocations.is_empty() {
                continue;
            }
            let lost = pin.allocations.iter().any(|p| {
                !members.contains(p) || self.down_for(p, now) >= self.inner.reallocate_after
            });
            if !lost {
                continue;
            }
            let cands = candidates.get_or_insert_with(|| self.candidates());
            let keep: Vec<PeerId> = pin
                .allocations
                .iter()
                .filter(|p| cands.iter().any(|c| &c.peer == *p))
                .copied()
                .collect();
            let req = allocator::Request {
                rmin: pin.replication_min,
                rmax: pin.replication_max,
                current: &keep,
                user_allocations: &[],
            };
            match allocator::allocate(&req, cands, &self.inner.allocate_by) {
                Ok(a) if a != pin.allocations => {
                    tracing::info!(cid = %pin.cid, "re-allocating to {a:?}");
                    cmds.push(Command::Pin(ClusterPin {
                        allocations: a,
                        ..pin
                    }));
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(cid = %pin.cid, "cannot re-allocate: {e}"),
            }
        }
        for chunk in cmds.chunks(500) {
            self.inner
                .raft
                .submit(Command::Batch(chunk.to_vec()))
                .await?;
        }
        Ok(())
    }
}
