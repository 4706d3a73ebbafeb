//! Splitting one fetch among several providers.
//!
//! A [`Session`] is bookkeeping beside [`Behaviour`]: it hands each wanted
//! CID to the least-loaded provider that has not yet said DONT_HAVE for it,
//! keeps a bounded number of wants outstanding per provider (so a fast
//! provider gets more work as it answers), and moves a want to another
//! provider on DONT_HAVE or when a provider leaves.

use std::collections::{HashMap, HashSet, VecDeque};

use libp2p::PeerId;

use crate::{Behaviour, Cid, Event};

/// A set of wants spread over a set of providers; see the module docs.
///
/// Drive it by calling [`Session::on_event`] with every [`Event`] the swarm
/// yields and [`Session::dispatch`] after changes.
#[derive(Debug)]
pub struct Session {
    providers: Vec<PeerId>,
    max_per_provider: usize,
    queue: VecDeque<Cid>,
    /// CID → provider it is currently asked from.
    assigned: HashMap<Cid, PeerId>,
    /// CID → providers that said DONT_HAVE.
    refused: HashMap<Cid, HashSet<PeerId>>,
    load: HashMap<PeerId, usize>,
    failed: Vec<Cid>,
}

/// What [`Session::on_event`] made of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionUpdate {
    /// The event is not about this session.
    Unrelated,
    /// A block of this session arrived (verified by the behaviour).
    Received(Cid),
    /// A want moved on (DONT_HAVE); call [`Session::dispatch`].
    Progress,
    /// Every provider said DONT_HAVE for this CID; it is given up.
    Failed(Cid),
}

impl Session {
    /// A session over `providers`, with at most `max_per_provider` wants
    /// outstanding at each (at least 1).
    pub fn new(providers: &[PeerId], max_per_provider: usize) -> Self {
        Session {
            providers: providers.to_vec(),
            max_per_provider: max_per_provider.max(1),
            queue: VecDeque::new(),
            assigned: HashMap::new(),
            refused: HashMap::new(),
            load: providers.iter().map(|p| (*p, 0)).collect(),
            failed: Vec::new(),
        }
    }

    /// Adds a provider (e.g. one found later through routing).
    pub fn add_provider(&mut self, peer: PeerId) {
        if !self.providers.contains(&peer) {
            self.providers.push(peer);
            self.load.insert(peer, 0);
        }
    }

    /// Drops a provider (e.g. disconnected); its wants go back to the queue.
    pub fn remove_provider(&mut self, peer: &PeerId) {
        self.providers.retain(|p| p != peer);
        self.load.remove(peer);
        let moved: Vec<Cid> = self
            .assigned
            .iter()
            .filter(|(_, p)| *p == peer)
            .map(|(c, _)| *c)
            .collect();
        for cid in moved {
            self.assigned.remove(&cid);
            self.queue.push_front(cid);
        }
    }

    /// Queues `cid`; [`Session::dispatch`] sends it.
    pub fn want(&mut self, cid: Cid) {
        if !self.assigned.contains_key(&cid) && !self.queue.contains(&cid) {
            self.queue.push_back(cid);
        }
    }

    /// True when nothing is queued or outstanding.
    pub fn is_done(&self) -> bool {
        self.queue.is_empty() && self.assigned.is_empty()
    }

    /// CIDs every provider refused.
    pub fn failed(&self) -> &[Cid] {
        &self.failed
    }

    /// Wants outstanding at each provider.
    pub fn load(&self) -> &HashMap<PeerId, usize> {
        &self.load
    }

    /// Sends queued wants to providers with room, least loaded first.
    pub fn dispatch(&mut self, bitswap: &mut Behaviour) {
        let mut skipped = VecDeque::new();
        while let Some(cid) = self.queue.pop_front() {
            let refused = self.refused.get(&cid);
            let best = self
                .providers
                .iter()
                .filter(|p| refused.is_none_or(|r| !r.contains(p)))
                .min_by_key(|p| self.load[*p])
                .copied();
            match best {
                Some(p) if self.load[&p] < self.max_per_provider => {
                    *self.load.get_mut(&p).expect("provider") += 1;
                    self.assigned.insert(cid, p);
                    bitswap.want(cid, &[p]);
                }
                // Every willing provider is busy: wait for answers.
                Some(_) => {
                    skipped.push_back(cid);
                    break;
                }
                // No provider left to ask (all refused, or none yet).
                None => skipped.push_back(cid),
            }
        }
        skipped.append(&mut self.queue);
        self.queue = skipped;
    }

    fn release(&mut self, cid: &Cid) -> Option<PeerId> {
        let p = self.assigned.remove(cid)?;
        if let Some(l) = self.load.get_mut(&p) {
            *l = l.saturating_sub(1);
        }
        Some(p)
    }

    /// Updates the session with a behaviour event.
    pub fn on_event(&mut self, bitswap: &mut Behaviour, event: &Event) -> SessionUpdate {
        match event {
            Event::BlockReceived { cid, .. } => {
                if self.release(cid).is_none() {
                    return SessionUpdate::Unrelated;
                }
                self.refused.remove(cid);
                self.dispatch(bitswap);
                SessionUpdate::Received(*cid)
            }
            Event::DontHave { cid, from } if self.assigned.get(cid) == Some(from) => {
                self.release(cid);
                let refused = self.refused.entry(*cid).or_default();
                refused.insert(*from);
                if self.providers.iter().all(|p| refused.contains(p)) {
                    self.refused.remove(cid);
                    bitswap.cancel(cid);
                    self.failed.push(*cid);
                    self.dispatch(bitswap);
                    return SessionUpdate::Failed(*cid);
                }
                self.queue.push_front(*cid);
                self.dispatch(bitswap);
                SessionUpdate::Progress
            }
            _ => SessionUpdate::Unrelated,
        }
    }
}
