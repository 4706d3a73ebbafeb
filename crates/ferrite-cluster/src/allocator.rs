//! Choosing which peers hold a pin (IPFS Cluster's "balanced" allocator).
//!
//! Peers are ordered by the `AllocateBy` keys: each `tag:<name>` key splits
//! the candidates into groups by that tag's value and takes from the groups
//! in turn (so replicas land in different groups, e.g. regions), and
//! `freespace` prefers the peers with the most free space.

use std::collections::BTreeMap;

use libp2p::PeerId;

use crate::node::ClusterError;

/// A healthy peer that can take pins, with the metrics allocation uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Cluster peer ID.
    pub peer: PeerId,
    /// Free bytes it reported.
    pub freespace: u64,
    /// Its tags (`Cluster.Tags`).
    pub tags: BTreeMap<String, String>,
}

/// What a pin asks for.
#[derive(Debug, Clone, Default)]
pub struct Request<'a> {
    /// Minimum replicas (-1 = everywhere).
    pub rmin: i32,
    /// Maximum replicas (-1 = everywhere).
    pub rmax: i32,
    /// Current allocations that are still healthy; kept if possible.
    pub current: &'a [PeerId],
    /// Peers the user asked for, preferred over the ordering.
    pub user_allocations: &'a [PeerId],
}

/// Picks the allocations for a pin. Returns an empty list for "every
/// peer" (-1 factors) and the current allocations when they still satisfy
/// `rmin`; errors when fewer than `rmin` peers are available.
pub fn allocate(
    req: &Request<'_>,
    candidates: &[Candidate],
    allocate_by: &[String],
) -> Result<Vec<PeerId>, ClusterError> {
    if req.rmin == -1 || req.rmax == -1 {
        return Ok(Vec::new());
    }
    let rmin = req.rmin.max(1) as usize;
    let rmax = (req.rmax.max(req.rmin)).max(1) as usize;
    let mut current: Vec<PeerId> = Vec::new();
    for p in req.current {
        if !current.contains(p) && candidates.iter().any(|c| &c.peer == p) {
            current.push(*p);
        }
    }
    if current.len() >= rmin {
        current.truncate(rmax);
        return Ok(current);
    }
    let mut order: Vec<PeerId> = Vec::new();
    for p in req.user_allocations {
        if candidates.iter().any(|c| &c.peer == p) && !order.contains(p) {
            order.push(*p);
        }
    }
    let rest: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| !order.contains(&c.peer))
        .collect();
    order.extend(sorted(rest, allocate_by));
    let available: Vec<PeerId> = order.into_iter().filter(|p| !current.contains(p)).collect();
    let need = rmin - current.len();
    let want = rmax - current.len();
    if available.len() < need {
        return Err(ClusterError::Invalid(format!(
            "not enough peers to allocate CID. Needed at least: {rmin}. Wanted at most: {rmax}. \
             Available candidates: {}",
            available.len() + current.len()
        )));
    }
    current.extend(available.into_iter().take(want));
    Ok(current)
}

fn sorted(mut cands: Vec<&Candidate>, keys: &[String]) -> Vec<PeerId> {
    let Some((key, rest)) = keys.split_first() else {
        return by_freespace(cands);
    };
    let Some(tag) = key.strip_prefix("tag:") else {
        // `freespace` (or an unknown metric): the final ordering.
        return by_freespace(cands);
    };
    let mut groups: BTreeMap<&str, Vec<&Candidate>> = BTreeMap::new();
    for c in cands.drain(..) {
        let v = c.tags.get(tag).map(String::as_str).unwrap_or("");
        groups.entry(v).or_default().push(c);
    }
    // Groups with the most total free space first, then take one from each in turn.
    let mut ordered: Vec<(u128, Vec<PeerId>)> = groups
        .into_values()
        .map(|g| {
            let total = g.iter().map(|c| c.freespace as u128).sum();
            (total, sorted(g, rest))
        })
        .collect();
    ordered.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let mut out = Vec::new();
    let mut round = 0;
    loop {
        let mut took = false;
        for (_, g) in &ordered {
            if let Some(p) = g.get(round) {
                out.push(*p);
                took = true;
            }
        }
        if !took {
            return out;
        }
        round += 1;
    }
}

fn by_freespace(mut cands: Vec<&Candidate>) -> Vec<PeerId> {
    // Ties go by peer ID (for real keys, the order of their base58 texts).
    cands.sort_by(|a, b| b.freespace.cmp(&a.freespace).then(a.peer.cmp(&b.peer)));
    cands.into_iter().map(|c| c.peer).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{test_peer as id, test_peer_name};

    /// [`super::allocate`] with the peers named.
    fn allocate(
        req: &Request<'_>,
        candidates: &[Candidate],
        allocate_by: &[String],
    ) -> Result<Vec<String>, ClusterError> {
        let peers = super::allocate(req, candidates, allocate_by)?;
        Ok(peers.iter().map(test_peer_name).collect())
    }

    fn cand(peer: &str, free: u64, group: &str) -> Candidate {
        let mut tags = BTreeMap::new();
        if !group.is_empty() {
            tags.insert("group".to_string(), group.to_string());
        }
        Candidate {
            peer: id(peer),
            freespace: free,
            tags,
        }
    }

    fn req(rmin: i32, rmax: i32) -> Request<'static> {
        Request {
            rmin,
            rmax,
            ..Default::default()
        }
    }

    #[test]
    fn everywhere_is_empty() {
        let c = [cand("a", 1, "")];
        assert!(allocate(&req(-1, -1), &c, &[]).unwrap().is_empty());
    }

    #[test]
    fn most_free_space_first() {
        let c = [cand("a", 10, ""), cand("b", 30, ""), cand("c", 20, "")];
        let by = ["freespace".to_string()];
        assert_eq!(allocate(&req(2, 2), &c, &by).unwrap(), ["b", "c"]);
        assert_eq!(allocate(&req(1, 3), &c, &by).unwrap(), ["b", "c", "a"]);
    }

    #[test]
    fn too_few_peers_is_an_error_with_the_numbers() {
        let c = [cand("a", 10, "")];
        let e = allocate(&req(2, 3), &c, &[]).unwrap_err().to_string();
        assert!(e.contains("Needed at least: 2"), "{e}");
        assert!(e.contains("Available candidates: 1"), "{e}");
    }

    #[test]
    fn keeps_healthy_current_allocations_and_replaces_lost_ones() {
        let c = [cand("a", 10, ""), cand("b", 30, ""), cand("c", 20, "")];
        let cur = [id("a")];
        let r = Request {
            rmin: 1,
            rmax: 2,
            current: &cur,
            ..Default::default()
        };
        // Enough: unchanged.
        assert_eq!(allocate(&r, &c, &[]).unwrap(), ["a"]);
        // "d" is gone: "a" stays, the best other peer joins.
        let cur = [id("d"), id("a")];
        let r = Request {
            rmin: 2,
            rmax: 2,
            current: &cur,
            ..Default::default()
        };
        assert_eq!(allocate(&r, &c, &[]).unwrap(), ["a", "b"]);
    }

    #[test]
    fn user_allocations_come_first() {
        let c = [cand("a", 10, ""), cand("b", 30, "")];
        let ua = [id("a")];
        let r = Request {
            rmin: 1,
            rmax: 1,
            user_allocations: &ua,
            ..Default::default()
        };
        assert_eq!(allocate(&r, &c, &[]).unwrap(), ["a"]);
    }

    #[test]
    fn tags_spread_replicas_across_groups() {
        let c = [
            cand("eu1", 100, "eu"),
            cand("eu2", 90, "eu"),
            cand("us1", 10, "us"),
            cand("us2", 5, "us"),
        ];
        let by = ["tag:group".to_string(), "freespace".to_string()];
        assert_eq!(allocate(&req(2, 2), &c, &by).unwrap(), ["eu1", "us1"]);
        assert_eq!(
            allocate(&req(4, 4), &c, &by).unwrap(),
            ["eu1", "us1", "eu2", "us2"]
        );
    }
}
