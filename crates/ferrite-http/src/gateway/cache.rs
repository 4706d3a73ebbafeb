//! A bounded cache of resolved content paths.
//!
//! `/ipfs/` paths are immutable, so what `/ipfs/<cid>/a/b` resolves to never
//! changes: caching it is always correct. It matters for speed: resolving
//! decodes every folder on the way, and a folder of thousands of entries
//! costs far more to decode than the small file it leads to. (If GC later
//! removes the blocks, reading the terminal block still fails with a 404.)
//!
//! Two generations approximate an LRU without per-hit bookkeeping: hits in
//! the old generation move to the young one, and when the young one is full
//! it becomes the old one (dropping the previous old one).

use ferrite_ipld::Cid;
use ferrite_node::{IpfsPath, Resolved};
use std::collections::HashMap;
use std::sync::Mutex;

/// Resolved paths, at most about `2 × half` of them.
pub(super) struct ResolveCache {
    half: usize,
    inner: Mutex<Gens>,
}

/// Root and segments: `IpfsPath`'s parts, hashable.
type Key = (Cid, Vec<String>);

#[derive(Default)]
struct Gens {
    young: HashMap<Key, Resolved>,
    old: HashMap<Key, Resolved>,
}

impl ResolveCache {
    /// A cache holding up to about `capacity` paths.
    pub(super) fn new(capacity: usize) -> Self {
        ResolveCache {
            half: (capacity / 2).max(1),
            inner: Mutex::new(Gens::default()),
        }
    }

    /// A cached resolution of `path`.
    pub(super) fn get(&self, path: &IpfsPath) -> Option<Resolved> {
        let key = (path.root, path.segments.clone());
        let mut g = self.inner.lock().expect("not poisoned");
        if let Some(r) = g.young.get(&key) {
            return Some(r.clone());
        }
        let r = g.old.remove(&key)?;
        self.insert_locked(&mut g, key, r.clone());
        Some(r)
    }

    /// Remembers a resolution.
    pub(super) fn insert(&self, path: &IpfsPath, resolved: Resolved) {
        let mut g = self.inner.lock().expect("not poisoned");
        self.insert_locked(&mut g, (path.root, path.segments.clone()), resolved);
    }

    fn insert_locked(&self, g: &mut Gens, key: Key, resolved: Resolved) {
        if g.young.len() >= self.half {
            g.old = std::mem::take(&mut g.young);
        }
        g.young.insert(key, resolved);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_recent_entries_within_bounds() {
        let cid: Cid = "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"
            .parse()
            .unwrap();
        let p = |i: usize| IpfsPath {
            root: cid,
            segments: vec![format!("f{i}")],
        };
        let r = Resolved {
            cid,
            roots: vec![cid, cid],
            remainder: Vec::new(),
        };
        let c = ResolveCache::new(10);
        for i in 0..100 {
            c.insert(&p(i), r.clone());
            // a hot entry survives generation changes
            assert!(c.get(&p(0)).is_some(), "lost hot entry at {i}");
        }
        assert!(c.get(&p(99)).is_some());
        assert!(c.get(&p(50)).is_none());
        let g = c.inner.lock().unwrap();
        assert!(g.young.len() + g.old.len() <= 10);
    }
}
