//! A small connection manager: trims the oldest unprotected connections when
//! there are more than `high_water`, down to `low_water`.

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use libp2p::swarm::ConnectionId;
use libp2p::PeerId;

use crate::config::ConnMgrConfig;

/// Tracks open connections and decides which to close.
#[derive(Debug)]
pub struct ConnManager {
    config: ConnMgrConfig,
    // Keyed by (opened, id) so iteration is oldest first.
    conns: BTreeMap<(Instant, ConnectionId), PeerId>,
    protected: HashSet<PeerId>,
}

impl ConnManager {
    /// A manager with the given limits.
    pub fn new(config: ConnMgrConfig) -> Self {
        Self {
            config,
            conns: BTreeMap::new(),
            protected: HashSet::new(),
        }
    }

    /// The limits in force.
    pub fn config(&self) -> &ConnMgrConfig {
        &self.config
    }

    /// Records a new connection.
    pub fn opened(&mut self, id: ConnectionId, peer: PeerId, at: Instant) {
        self.conns.insert((at, id), peer);
    }

    /// Forgets a closed connection.
    pub fn closed(&mut self, id: ConnectionId) {
        self.conns.retain(|(_, c), _| *c != id);
    }

    /// Number of tracked connections.
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    /// Whether no connection is tracked.
    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// Never trim connections to `peer`.
    pub fn protect(&mut self, peer: PeerId) {
        self.protected.insert(peer);
    }

    /// Lets connections to `peer` be trimmed again.
    pub fn unprotect(&mut self, peer: &PeerId) {
        self.protected.remove(peer);
    }

    /// Whether `peer` is protected.
    pub fn is_protected(&self, peer: &PeerId) -> bool {
        self.protected.contains(peer)
    }

    /// Connections to close now: nothing unless there are more than
    /// `high_water`; then the oldest unprotected ones past their grace
    /// period, until `low_water` would remain.
    pub fn to_trim(&self, now: Instant) -> Vec<ConnectionId> {
        if self.conns.len() <= self.config.high_water {
            return Vec::new();
        }
        let excess = self.conns.len() - self.config.low_water;
        self.conns
            .iter()
            .filter(|((opened, _), peer)| {
                !self.protected.contains(peer)
                    && now.saturating_duration_since(*opened) >= self.config.grace_period
            })
            .map(|((_, id), _)| *id)
            .take(excess)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn mgr(low: usize, high: usize, grace: u64) -> ConnManager {
        ConnManager::new(ConnMgrConfig {
            low_water: low,
            high_water: high,
            grace_period: Duration::from_secs(grace),
            check_interval: Duration::from_secs(1),
        })
    }

    #[test]
    fn nothing_at_or_below_high_water() {
        let mut m = mgr(1, 3, 0);
        let t0 = Instant::now();
        for i in 0..3 {
            m.opened(ConnectionId::new_unchecked(i), PeerId::random(), t0);
        }
        assert!(m.to_trim(t0 + Duration::from_secs(100)).is_empty());
    }

    #[test]
    fn trims_oldest_down_to_low_water_skipping_protected_and_young() {
        let mut m = mgr(2, 4, 10);
        let t0 = Instant::now();
        let peers: Vec<PeerId> = (0..6).map(|_| PeerId::random()).collect();
        for (i, p) in peers.iter().enumerate() {
            m.opened(
                ConnectionId::new_unchecked(i),
                *p,
                t0 + Duration::from_secs(i as u64),
            );
        }
        m.protect(peers[0]);
        let now = t0 + Duration::from_secs(14);
        // Eligible (age >= 10 s, unprotected): 1, 2, 3, 4. Need 6 - 2 = 4 closures.
        assert_eq!(
            m.to_trim(now),
            (1..5).map(ConnectionId::new_unchecked).collect::<Vec<_>>()
        );
        // Earlier, only 1..=3 are past the grace period.
        assert_eq!(m.to_trim(t0 + Duration::from_secs(13)).len(), 3);
        // Inside the grace period of everyone: nothing.
        assert!(m.to_trim(t0 + Duration::from_secs(5)).is_empty());
        m.closed(ConnectionId::new_unchecked(1));
        m.closed(ConnectionId::new_unchecked(2));
        assert_eq!(m.len(), 4);
        assert!(m.to_trim(now).is_empty());
    }
}
