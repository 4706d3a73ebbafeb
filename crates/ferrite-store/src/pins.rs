//! The pinset: which DAGs the user wants kept.
//!
//! Stored in its own small redb file so the [`Blockstore`]
//! stays a pure block backend. Atomicity of "add and pin" comes from order:
//! blocks are committed durably first, the pin after; a crash in between
//! leaves unpinned blocks that the next GC collects, never a pin whose blocks
//! are missing.

use crate::dag::walk;
use crate::{Blockstore, Error, Result};
use ferrite_ipld::Cid;
use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

/// cid bytes → (mode, name)
const PINS: TableDefinition<&[u8], (u8, &str)> = TableDefinition::new("pins");

/// How a CID is pinned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PinMode {
    /// Only the block itself.
    Direct,
    /// The block and everything it links to.
    Recursive,
}

impl PinMode {
    fn to_u8(self) -> u8 {
        match self {
            PinMode::Direct => 1,
            PinMode::Recursive => 2,
        }
    }
    fn from_u8(v: u8) -> Self {
        if v == 1 {
            PinMode::Direct
        } else {
            PinMode::Recursive
        }
    }
    /// Kubo's name for the mode.
    pub fn as_str(self) -> &'static str {
        match self {
            PinMode::Direct => "direct",
            PinMode::Recursive => "recursive",
        }
    }
}

/// One stored pin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// The pinned root.
    pub cid: Cid,
    /// Direct or recursive.
    pub mode: PinMode,
    /// Optional user-given name (`pin add --name`).
    pub name: String,
}

/// How `pin ls` classifies a CID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinStatus {
    /// Pinned directly or recursively.
    Pinned(PinMode),
    /// Reached through the recursive pin of the given root.
    Indirect(Cid),
    /// Not pinned at all.
    NotPinned,
}

/// The persistent pinset.
pub struct Pins {
    db: Database,
}

/// What a pin of `mode` on `cid` needs stored: the block itself (direct)
/// or its whole DAG (recursive). `Error::NotFound` names the first block
/// missing.
pub fn check_complete(store: &dyn Blockstore, cid: &Cid, mode: PinMode) -> Result<()> {
    match mode {
        PinMode::Recursive => walk(store, cid, &mut |_, _| Ok(())),
        PinMode::Direct if store.has(cid)? => Ok(()),
        PinMode::Direct => Err(Error::NotFound(*cid)),
    }
}

impl Pins {
    /// Opens or creates the pinset at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let db = Database::create(path)?;
        let tx = db.begin_write()?;
        tx.open_table(PINS)?;
        tx.commit()?;
        Ok(Pins { db })
    }

    /// Stores pins in one transaction (replacing the mode of existing ones:
    /// recursive wins over direct, as in Kubo).
    pub fn insert(&self, pins: &[Pin]) -> Result<()> {
        let tx = self.db.begin_write()?;
        {
            let mut t = tx.open_table(PINS)?;
            for p in pins {
                let key = p.cid.to_bytes();
                let existing = t.get(key.as_slice())?.map(|v| v.value().0);
                let mode = match existing {
                    Some(2) => PinMode::Recursive,
                    _ => p.mode,
                };
                t.insert(key.as_slice(), (mode.to_u8(), p.name.as_str()))?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Removes a pin; returns its former mode.
    pub fn remove(&self, cid: &Cid) -> Result<Option<PinMode>> {
        let tx = self.db.begin_write()?;
        let old = {
            let mut t = tx.open_table(PINS)?;
            let key = cid.to_bytes();
            let old = t
                .remove(key.as_slice())?
                .map(|v| PinMode::from_u8(v.value().0));
            old
        };
        tx.commit()?;
        Ok(old)
    }

    /// The pin of exactly this CID.
    pub fn get(&self, cid: &Cid) -> Result<Option<Pin>> {
        let rt = self.db.begin_read()?;
        let t = rt.open_table(PINS)?;
        let key = cid.to_bytes();
        Ok(t.get(key.as_slice())?.map(|v| {
            let (m, name) = v.value();
            Pin {
                cid: *cid,
                mode: PinMode::from_u8(m),
                name: name.to_string(),
            }
        }))
    }

    /// Every pin, in CID byte order.
    pub fn list(&self) -> Result<Vec<Pin>> {
        let rt = self.db.begin_read()?;
        let t = rt.open_table(PINS)?;
        let mut out = Vec::with_capacity(t.len()? as usize);
        for row in t.iter()? {
            let (k, v) = row?;
            let cid = Cid::try_from(k.value())
                .map_err(|e| Error::Repo(format!("corrupt pin key: {e}")))?;
            let (m, name) = v.value();
            out.push(Pin {
                cid,
                mode: PinMode::from_u8(m),
                name: name.to_string(),
            });
        }
        Ok(out)
    }

    /// Number of pins.
    pub fn len(&self) -> Result<u64> {
        let rt = self.db.begin_read()?;
        Ok(rt.open_table(PINS)?.len()?)
    }

    /// Whether there are no pins.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Pins `cid` after checking that the whole DAG (recursive) or the block
    /// (direct) is stored locally.
    pub fn pin(&self, store: &dyn Blockstore, cid: &Cid, mode: PinMode, name: &str) -> Result<()> {
        check_complete(store, cid, mode)?;
        self.insert(&[Pin {
            cid: *cid,
            mode,
            name: name.to_string(),
        }])
    }

    /// Kubo's `pin rm`: removes a recursive pin (needs `recursive`) or a
    /// direct one; a CID that is only pinned indirectly is an error.
    pub fn unpin(&self, cid: &Cid, recursive: bool) -> Result<()> {
        match self.get(cid)? {
            Some(p) if p.mode == PinMode::Recursive && !recursive => {
                Err(Error::Pin(format!("{cid} is pinned recursively")))
            }
            Some(_) => {
                self.remove(cid)?;
                Ok(())
            }
            None => Err(Error::Pin("not pinned or pinned indirectly".into())),
        }
    }

    /// Classifies `cid`, searching recursive pins for indirect reachability.
    pub fn status(&self, store: &dyn Blockstore, cid: &Cid) -> Result<PinStatus> {
        if let Some(p) = self.get(cid)? {
            return Ok(PinStatus::Pinned(p.mode));
        }
        for p in self.list()? {
            if p.mode != PinMode::Recursive {
                continue;
            }
            let mut found = false;
            let r = walk(store, &p.cid, &mut |c, _| {
                if c.hash() == cid.hash() && c != &p.cid {
                    found = true;
                }
                Ok(())
            });
            // A damaged pinned DAG must not hide pins elsewhere.
            if r.is_ok() && found {
                return Ok(PinStatus::Indirect(p.cid));
            }
        }
        Ok(PinStatus::NotPinned)
    }

    /// Every CID reached by recursive pins other than their roots, i.e. the
    /// indirect pins (CIDs as their parents link them).
    pub fn indirect(&self, store: &dyn Blockstore) -> Result<BTreeMap<Cid, ()>> {
        let pins = self.list()?;
        let roots: HashSet<Cid> = pins
            .iter()
            .filter(|p| p.mode == PinMode::Recursive)
            .map(|p| p.cid)
            .collect();
        let mut out = BTreeMap::new();
        for root in &roots {
            walk(store, root, &mut |c, _| {
                if c != root && !roots.contains(c) {
                    out.insert(*c, ());
                }
                Ok(())
            })?;
        }
        Ok(out)
    }
}
