//! `pin add/rm/ls/verify/update`.

use crate::{Error, IpfsPath, Node, Result};
use ferrite_ipld::Cid;
use ferrite_store::pins::check_complete;
use ferrite_store::{Blockstore, PinMode, PinStatus};

/// Which pins `pin ls` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinLsType {
    /// Direct pins.
    Direct,
    /// Recursive pins.
    Recursive,
    /// Blocks under recursive pins.
    Indirect,
    /// All of the above.
    All,
}

impl std::str::FromStr for PinLsType {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "direct" => PinLsType::Direct,
            "recursive" => PinLsType::Recursive,
            "indirect" => PinLsType::Indirect,
            "all" => PinLsType::All,
            _ => {
                return Err(Error::Invalid(format!(
                    "invalid type '{s}', must be one of {{direct, indirect, recursive, all}}"
                )))
            }
        })
    }
}

/// One `pin ls` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinLsEntry {
    /// The pinned CID.
    pub cid: Cid,
    /// `direct`, `recursive`, or `indirect through <root>`.
    pub kind: String,
    /// The pin's name, if any.
    pub name: String,
}

/// One `pin verify` result.
#[derive(Debug, Clone)]
pub struct PinVerify {
    /// The recursive pin's root.
    pub cid: Cid,
    /// Blocks that are missing or corrupt, with the reason.
    pub bad_nodes: Vec<(Cid, String)>,
}

impl Node {
    /// Resolves paths to CIDs for pinning.
    fn resolve_all(&self, paths: &[String]) -> Result<Vec<Cid>> {
        paths
            .iter()
            .map(|p| self.resolve(&IpfsPath::parse(p)?))
            .collect()
    }

    /// `pin add`: pins each path (recursively unless `recursive` is false).
    /// Online, missing blocks are fetched first; then all DAGs must be
    /// complete locally, and nothing is pinned if one is not.
    pub fn pin_add(&self, paths: &[String], recursive: bool, name: &str) -> Result<Vec<Cid>> {
        let cids = self.resolve_all(paths)?;
        let mode = if recursive {
            PinMode::Recursive
        } else {
            PinMode::Direct
        };
        for attempt in 1.. {
            // Fetched without the GC lock: content nobody has can keep the
            // fetch waiting for minutes, and GC (with every write queued
            // behind it) must not wait with it.
            self.fetch_for_pin(&cids, recursive)?;
            let _g = self.repo.write_guard();
            let complete = cids
                .iter()
                .try_for_each(|c| check_complete(self.repo.blocks(), c, mode));
            match complete {
                // A GC between the fetch and the lock took fetched blocks.
                Err(ferrite_store::Error::NotFound(_)) if self.net.is_some() && attempt < 3 => {
                    continue
                }
                other => other?,
            }
            let pins: Vec<_> = cids
                .iter()
                .map(|c| ferrite_store::Pin {
                    cid: *c,
                    mode,
                    name: name.to_string(),
                })
                .collect();
            self.repo.pins().insert(&pins)?;
            break;
        }
        self.announce(&cids);
        Ok(cids)
    }

    /// Brings the blocks a pin needs into the store (from the network when
    /// online).
    fn fetch_for_pin(&self, cids: &[Cid], recursive: bool) -> Result<()> {
        for cid in cids {
            if recursive {
                self.fetch_dag(cid, &mut |_| {})?;
            } else {
                self.block_get(cid)?;
                if let Some(n) = &self.net {
                    n.flush()?;
                }
            }
        }
        Ok(())
    }

    /// Announces new roots to the DHT in the background, when online.
    pub(crate) fn announce(&self, cids: &[Cid]) {
        if let Some(n) = &self.net {
            n.provide_later(cids.to_vec());
        }
    }

    /// `pin rm`.
    pub fn pin_rm(&self, paths: &[String], recursive: bool) -> Result<Vec<Cid>> {
        let cids = self.resolve_all(paths)?;
        for c in &cids {
            self.repo.pins().unpin(c, recursive).map_err(|e| match e {
                ferrite_store::Error::Pin(m) => Error::Pin(m),
                other => other.into(),
            })?;
        }
        Ok(cids)
    }

    /// `pin ls`: with `paths`, the pin status of each (an error if one is not
    /// pinned); without, every pin of `ty`.
    pub fn pin_ls(&self, paths: &[String], ty: PinLsType) -> Result<Vec<PinLsEntry>> {
        let pins = self.repo.pins();
        let blocks = self.repo.blocks();
        let mut out = Vec::new();
        if !paths.is_empty() {
            for p in paths {
                let cid = self.resolve(&IpfsPath::parse(p)?)?;
                let (kind, name) = match pins.status(blocks, &cid)? {
                    PinStatus::Pinned(m) => {
                        let name = pins.get(&cid)?.map(|p| p.name).unwrap_or_default();
                        (m.as_str().to_string(), name)
                    }
                    PinStatus::Indirect(root) => {
                        (format!("indirect through {root}"), String::new())
                    }
                    PinStatus::NotPinned => {
                        return Err(Error::Pin(format!("path '{p}' is not pinned")))
                    }
                };
                let wanted = match ty {
                    PinLsType::All => true,
                    PinLsType::Direct => kind == "direct",
                    PinLsType::Recursive => kind == "recursive",
                    PinLsType::Indirect => kind.starts_with("indirect"),
                };
                if !wanted {
                    return Err(Error::Pin(format!(
                        "path '{p}' is not pinned with type {}",
                        match ty {
                            PinLsType::Direct => "direct",
                            PinLsType::Recursive => "recursive",
                            _ => "indirect",
                        }
                    )));
                }
                out.push(PinLsEntry { cid, kind, name });
            }
            return Ok(out);
        }
        for p in pins.list()? {
            let want = matches!(
                (ty, p.mode),
                (PinLsType::All, _)
                    | (PinLsType::Direct, PinMode::Direct)
                    | (PinLsType::Recursive, PinMode::Recursive)
            );
            if want {
                out.push(PinLsEntry {
                    cid: p.cid,
                    kind: p.mode.as_str().to_string(),
                    name: p.name,
                });
            }
        }
        if matches!(ty, PinLsType::Indirect | PinLsType::All) {
            let direct: std::collections::HashSet<Cid> = out.iter().map(|e| e.cid).collect();
            for cid in pins.indirect(blocks)?.into_keys() {
                if !direct.contains(&cid) {
                    out.push(PinLsEntry {
                        cid,
                        kind: "indirect".into(),
                        name: String::new(),
                    });
                }
            }
        }
        Ok(out)
    }

    /// How many pins (direct and recursive) the repo holds; cheap.
    pub fn pin_count(&self) -> Result<u64> {
        Ok(self.repo.pins().len()?)
    }

    /// `pin verify`: walks every recursive pin (direct pins are not verified,
    /// as in Kubo), checking that each block is present and hashes to its CID.
    pub fn pin_verify(&self) -> Result<Vec<PinVerify>> {
        let blocks = self.repo.blocks();
        let mut out = Vec::new();
        for p in self.repo.pins().list()? {
            if p.mode != PinMode::Recursive {
                continue;
            }
            let mut bad = Vec::new();
            let mut stack = vec![p.cid];
            let mut seen = std::collections::HashSet::new();
            while let Some(c) = stack.pop() {
                if !seen.insert(c) {
                    continue;
                }
                match blocks.get(&c)? {
                    None => bad.push((c, "merkledag: not found".to_string())),
                    Some(data) => {
                        if !ferrite_ipld::verify(&c, &data).unwrap_or(false) {
                            bad.push((c, "data does not match its hash".to_string()));
                        } else {
                            match ferrite_ipld::codec::links(&c, &data) {
                                Ok(l) => stack.extend(l),
                                Err(e) => bad.push((c, e.to_string())),
                            }
                        }
                    }
                }
            }
            out.push(PinVerify {
                cid: p.cid,
                bad_nodes: bad,
            });
        }
        Ok(out)
    }

    /// `pin update FROM TO`: pins TO recursively and (with `unpin`) drops FROM.
    pub fn pin_update(&self, from: &str, to: &str, unpin: bool) -> Result<(Cid, Cid)> {
        let from = self.resolve(&IpfsPath::parse(from)?)?;
        let to = self.resolve(&IpfsPath::parse(to)?)?;
        match self.repo.pins().get(&from)? {
            Some(p) if p.mode == PinMode::Recursive => {}
            _ => {
                return Err(Error::Pin(
                    "'from' cid was not recursively pinned already".into(),
                ))
            }
        }
        let _g = self.repo.write_guard();
        let name = self
            .repo
            .pins()
            .get(&from)?
            .map(|p| p.name)
            .unwrap_or_default();
        self.repo
            .pins()
            .pin(self.repo.blocks(), &to, PinMode::Recursive, &name)?;
        if unpin && from != to {
            self.repo.pins().remove(&from)?;
        }
        Ok((from, to))
    }
}

/// Checks and pin writes that GC waits for: blocks a batch finds complete
/// stay until the pins it writes are in. Made by [`Node::pin_batch`].
pub struct PinBatch<'a> {
    node: &'a Node,
    _gc: std::sync::RwLockReadGuard<'a, ()>,
}

impl PinBatch<'_> {
    /// The pin on `cid`, if any.
    pub fn get(&self, cid: &Cid) -> Result<Option<ferrite_store::Pin>> {
        Ok(self.node.repo.pins().get(cid)?)
    }

    /// The first block of `cid` (with `recursive`, of its whole DAG) that
    /// is not stored locally; `None` when it is complete.
    pub fn missing(&self, cid: &Cid, recursive: bool) -> Result<Option<Cid>> {
        let mode = if recursive {
            PinMode::Recursive
        } else {
            PinMode::Direct
        };
        match check_complete(self.node.repo.blocks(), cid, mode) {
            Ok(()) => Ok(None),
            Err(ferrite_store::Error::NotFound(c)) => Ok(Some(c)),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes `pins` in one commit (replacing pins on the same CIDs).
    pub fn insert(&self, pins: &[ferrite_store::Pin]) -> Result<()> {
        Ok(self.node.repo.pins().insert(pins)?)
    }
}

impl Node {
    /// Runs `f` with GC held off, for pinning many CIDs at once (the
    /// cluster's pin tracker): check with [`PinBatch::missing`], then
    /// [`PinBatch::insert`]; what was found complete cannot be collected in
    /// between.
    pub fn pin_batch<T>(&self, f: impl FnOnce(&PinBatch<'_>) -> T) -> T {
        let batch = PinBatch {
            node: self,
            _gc: self.repo.write_guard(),
        };
        f(&batch)
    }

    /// The pin on `cid`, if any.
    pub fn pin_get(&self, cid: &Cid) -> Result<Option<ferrite_store::Pin>> {
        Ok(self.repo.pins().get(cid)?)
    }

    /// Removes the pin on `cid` whatever its mode; returns the mode it had.
    pub fn pin_remove(&self, cid: &Cid) -> Result<Option<PinMode>> {
        Ok(self.repo.pins().remove(cid)?)
    }
}
