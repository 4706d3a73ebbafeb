//! Raft log storage and state machine, both in one redb file.
//!
//! Durability rules:
//! * log appends, truncation, purge, vote and snapshot installs commit with
//!   redb's default `Durability::Immediate` (fsync) before openraft is told
//!   they are done;
//! * state-machine applies and the committed index use `Durability::None`:
//!   each commit is still atomic (pins + applied id move together), and the
//!   next durable log write persists them. After a crash the state machine
//!   may be behind its log, which openraft repairs by re-applying.

// redb's error enum is 160 bytes; it only travels on failure paths, and
// boxing it everywhere would just obscure the `?` chains.
#![allow(clippy::result_large_err)]

use std::fmt::Debug;
use std::io::Cursor;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use ferrite_ipld::Cid;
use openraft::storage::{LogFlushed, RaftLogStorage, RaftStateMachine};
use openraft::{
    AnyError, Entry, EntryPayload, LogId, LogState, OptionalSend, RaftLogReader,
    RaftSnapshotBuilder, Snapshot, SnapshotMeta, StorageError, StorageIOError, StoredMembership,
    Vote,
};
use redb::{Database, Durability, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::pinset::{self, ClusterPin, PinStore, Response};
use crate::{NodeId, RaftPeer, TypeConfig};

/// Log entries by index, JSON-encoded `Entry<TypeConfig>`.
const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("raft_log");
/// Small records (vote, committed, purged, applied, membership, snapshot).
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("raft_meta");
/// The pinset: CID text -> JSON `ClusterPin`.
const PINS: TableDefinition<&str, &[u8]> = TableDefinition::new("pins");

const K_VOTE: &str = "vote";
const K_COMMITTED: &str = "committed";
const K_PURGED: &str = "last_purged";
const K_APPLIED: &str = "sm_applied";
const K_MEMBERSHIP: &str = "sm_membership";
const K_SNAP_META: &str = "snapshot_meta";
const K_SNAP_DATA: &str = "snapshot_data";

/// File name of the database inside the node directory.
pub const DB_FILE: &str = "raft.redb";

type StErr = StorageError<NodeId>;

fn read_err(e: impl ToString) -> StErr {
    StorageIOError::read(AnyError::error(e)).into()
}

fn write_err(e: impl ToString) -> StErr {
    StorageIOError::write(AnyError::error(e)).into()
}

/// Opens (creating if needed) `<dir>/raft.redb` with all tables present.
pub fn open_db(dir: &Path) -> Result<Database, redb::Error> {
    std::fs::create_dir_all(dir).map_err(redb::Error::Io)?;
    let db = Database::create(dir.join(DB_FILE))?;
    let tx = db.begin_write()?;
    tx.open_table(LOG)?;
    tx.open_table(META)?;
    tx.open_table(PINS)?;
    tx.commit()?;
    Ok(db)
}

/// Runs a write transaction on the blocking pool, so fsyncs do not stall the
/// async workers; the caller awaits it, which keeps log operations ordered.
async fn write_txn<T, F>(db: &Arc<Database>, durable: bool, f: F) -> Result<T, String>
where
    T: Send + 'static,
    F: FnOnce(&redb::WriteTransaction) -> Result<T, redb::Error> + Send + 'static,
{
    let db = db.clone();
    tokio::task::spawn_blocking(move || {
        let mut tx = db.begin_write().map_err(|e| e.to_string())?;
        if !durable {
            tx.set_durability(Durability::None);
        }
        let out = f(&tx).map_err(|e| e.to_string())?;
        tx.commit().map_err(|e| e.to_string())?;
        Ok(out)
    })
    .await
    .map_err(|e| e.to_string())?
}

fn get_meta<T: DeserializeOwned>(db: &Database, key: &str) -> Result<Option<T>, String> {
    let tx = db.begin_read().map_err(|e| e.to_string())?;
    let t = tx.open_table(META).map_err(|e| e.to_string())?;
    match t.get(key).map_err(|e| e.to_string())? {
        Some(v) => serde_json::from_slice(v.value())
            .map(Some)
            .map_err(|e| e.to_string()),
        None => Ok(None),
    }
}

fn put_meta<T: Serialize>(
    tx: &redb::WriteTransaction,
    key: &str,
    v: &T,
) -> Result<(), redb::Error> {
    // Only our own plain data types go through here; they always serialize.
    let bytes = serde_json::to_vec(v).expect("meta value serializes");
    tx.open_table(META)?.insert(key, bytes.as_slice())?;
    Ok(())
}

fn to_json<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("raft value serializes")
}

/// Creates the log store and state machine over one shared database.
pub fn new_storage(db: Arc<Database>) -> (LogStore, StateMachine) {
    (
        LogStore { db: db.clone() },
        StateMachine { db, changes: None },
    )
}

/// What changed in the applied pinset, in apply order; the pin tracker
/// follows these instead of rescanning the whole state after each entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateChange {
    /// A pin was added or replaced.
    Pinned(ClusterPin),
    /// A pin was removed.
    Unpinned(Cid),
    /// The whole state was replaced (snapshot installed): read it again.
    Reset,
}

/// Like [`new_storage`], and every applied change is also sent to `changes`.
pub fn new_storage_with_changes(
    db: Arc<Database>,
    changes: tokio::sync::mpsc::UnboundedSender<StateChange>,
) -> (LogStore, StateMachine) {
    (
        LogStore { db: db.clone() },
        StateMachine {
            db,
            changes: Some(changes),
        },
    )
}

fn collect_changes(cmd: &pinset::Command, out: &mut Vec<StateChange>) {
    match cmd {
        pinset::Command::Pin(p) => out.push(StateChange::Pinned(p.clone())),
        pinset::Command::Unpin { cid } => out.push(StateChange::Unpinned(*cid)),
        pinset::Command::Batch(cmds) => cmds.iter().for_each(|c| collect_changes(c, out)),
    }
}

/// Raft log, vote and committed index (openraft `RaftLogStorage`). Cloning
/// shares the database; clones serve as log readers for replication.
#[derive(Clone)]
pub struct LogStore {
    db: Arc<Database>,
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StErr> {
        let bounds: (Bound<u64>, Bound<u64>) =
            (range.start_bound().cloned(), range.end_bound().cloned());
        let tx = self.db.begin_read().map_err(read_err)?;
        let t = tx.open_table(LOG).map_err(read_err)?;
        let mut out = Vec::new();
        for item in t.range(bounds).map_err(read_err)? {
            let (_, v) = item.map_err(read_err)?;
            out.push(serde_json::from_slice(v.value()).map_err(read_err)?);
        }
        Ok(out)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StErr> {
        let purged: Option<LogId<NodeId>> = get_meta(&self.db, K_PURGED).map_err(read_err)?;
        let tx = self.db.begin_read().map_err(read_err)?;
        let t = tx.open_table(LOG).map_err(read_err)?;
        let last = match t.last().map_err(read_err)? {
            Some((_, v)) => {
                let e: Entry<TypeConfig> = serde_json::from_slice(v.value()).map_err(read_err)?;
                Some(e.log_id)
            }
            None => purged,
        };
        Ok(LogState {
            last_purged_log_id: purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StErr> {
        let vote = *vote;
        write_txn(&self.db, true, move |tx| put_meta(tx, K_VOTE, &vote))
            .await
            .map_err(|e| StorageIOError::write_vote(AnyError::error(e)).into())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StErr> {
        get_meta(&self.db, K_VOTE).map_err(|e| StorageIOError::read_vote(AnyError::error(e)).into())
    }

    async fn save_committed(&mut self, committed: Option<LogId<NodeId>>) -> Result<(), StErr> {
        // A hint for faster restart only: losing it is safe, so no fsync.
        write_txn(&self.db, false, move |tx| {
            put_meta(tx, K_COMMITTED, &committed)
        })
        .await
        .map_err(write_err)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<NodeId>>, StErr> {
        Ok(get_meta::<Option<LogId<NodeId>>>(&self.db, K_COMMITTED)
            .map_err(read_err)?
            .flatten())
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<(), StErr>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        // Encode on this task, then one fsynced transaction for the whole batch.
        let rows: Vec<(u64, Vec<u8>)> = entries
            .into_iter()
            .map(|e| (e.log_id.index, to_json(&e)))
            .collect();
        let res = write_txn(&self.db, true, move |tx| {
            let mut t = tx.open_table(LOG)?;
            for (i, b) in &rows {
                t.insert(*i, b.as_slice())?;
            }
            Ok(())
        })
        .await;
        match res {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(std::io::Error::other(e.clone())));
                Err(StorageIOError::write_logs(AnyError::error(e)).into())
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), StErr> {
        write_txn(&self.db, true, move |tx| {
            let mut t = tx.open_table(LOG)?;
            t.retain_in(log_id.index.., |_, _| false)?;
            Ok(())
        })
        .await
        .map_err(write_err)
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), StErr> {
        write_txn(&self.db, true, move |tx| {
            put_meta(tx, K_PURGED, &log_id)?;
            let mut t = tx.open_table(LOG)?;
            t.retain_in(..=log_id.index, |_, _| false)?;
            Ok(())
        })
        .await
        .map_err(write_err)
    }
}

impl PinStore for redb::Table<'_, &'static str, &'static [u8]> {
    type Error = redb::Error;

    fn put(&mut self, pin: &ClusterPin) -> Result<bool, redb::Error> {
        let v = to_json(pin);
        // Keyed by the CID text, as before CIDs were typed.
        Ok(self
            .insert(pin.cid.to_string().as_str(), v.as_slice())?
            .is_some())
    }

    fn remove(&mut self, cid: &Cid) -> Result<bool, redb::Error> {
        Ok(redb::Table::remove(self, cid.to_string().as_str())?.is_some())
    }
}

/// The applied state: pinset, last applied log id and membership.
pub struct StateMachine {
    db: Arc<Database>,
    changes: Option<tokio::sync::mpsc::UnboundedSender<StateChange>>,
}

/// Builds snapshots from a consistent redb read transaction.
pub struct SnapshotBuilder {
    db: Arc<Database>,
}

type Applied = (Option<LogId<NodeId>>, StoredMembership<NodeId, RaftPeer>);

fn read_applied(db: &Database) -> Result<Applied, String> {
    let applied = get_meta::<Option<LogId<NodeId>>>(db, K_APPLIED)?.flatten();
    let membership = get_meta(db, K_MEMBERSHIP)?.unwrap_or_default();
    Ok((applied, membership))
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StErr> {
        let db = self.db.clone();
        let (meta, data) = tokio::task::spawn_blocking(move || -> Result<_, String> {
            // One read transaction: pins, applied id and membership agree.
            let tx = db.begin_read().map_err(|e| e.to_string())?;
            let m = tx.open_table(META).map_err(|e| e.to_string())?;
            let get = |k: &str| -> Result<Option<Vec<u8>>, String> {
                Ok(m.get(k)
                    .map_err(|e| e.to_string())?
                    .map(|v| v.value().to_vec()))
            };
            let applied: Option<LogId<NodeId>> = match get(K_APPLIED)? {
                Some(b) => serde_json::from_slice(&b).map_err(|e| e.to_string())?,
                None => None,
            };
            let membership: StoredMembership<NodeId, RaftPeer> = match get(K_MEMBERSHIP)? {
                Some(b) => serde_json::from_slice(&b).map_err(|e| e.to_string())?,
                None => Default::default(),
            };
            // The stored values are already JSON pins: splice them into an
            // array instead of decoding and re-encoding each one.
            let t = tx.open_table(PINS).map_err(|e| e.to_string())?;
            let mut data = Vec::with_capacity(64 + t.len().unwrap_or(0) as usize * 128);
            data.push(b'[');
            for (i, item) in t.iter().map_err(|e| e.to_string())?.enumerate() {
                let (_, v) = item.map_err(|e| e.to_string())?;
                if i > 0 {
                    data.push(b',');
                }
                data.extend_from_slice(v.value());
            }
            data.push(b']');
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let snapshot_id = match applied {
                Some(l) => format!("{}-{}-{nanos}", l.leader_id, l.index),
                None => format!("none-{nanos}"),
            };
            let meta = SnapshotMeta {
                last_log_id: applied,
                last_membership: membership,
                snapshot_id,
            };
            Ok((meta, data))
        })
        .await
        .map_err(read_err)?
        .map_err(read_err)?;

        // Keep the latest snapshot so it can be served to lagging peers,
        // also after a restart.
        let (m, d) = (meta.clone(), data.clone());
        write_txn(&self.db, false, move |tx| {
            put_meta(tx, K_SNAP_META, &m)?;
            tx.open_table(META)?.insert(K_SNAP_DATA, d.as_slice())?;
            Ok(())
        })
        .await
        .map_err(write_err)?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<Applied, StErr> {
        read_applied(&self.db).map_err(read_err)
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Response>, StErr>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<Entry<TypeConfig>> = entries.into_iter().collect();
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let mut changes = Vec::new();
        if self.changes.is_some() {
            for e in &entries {
                if let EntryPayload::Normal(cmd) = &e.payload {
                    collect_changes(cmd, &mut changes);
                }
            }
        }
        // Everything openraft hands us in one call becomes one atomic commit.
        let out = write_txn(&self.db, false, move |tx| {
            let mut out = Vec::with_capacity(entries.len());
            let mut last = None;
            let mut membership = None;
            {
                let mut pins = tx.open_table(PINS)?;
                for e in entries {
                    last = Some(e.log_id);
                    match e.payload {
                        EntryPayload::Blank => out.push(Response::None),
                        EntryPayload::Normal(cmd) => out.push(pinset::apply(&mut pins, &cmd)?),
                        EntryPayload::Membership(m) => {
                            membership = Some(StoredMembership::new(Some(e.log_id), m));
                            out.push(Response::None);
                        }
                    }
                }
            }
            put_meta(tx, K_APPLIED, &last)?;
            if let Some(m) = membership {
                put_meta(tx, K_MEMBERSHIP, &m)?;
            }
            Ok(out)
        })
        .await
        .map_err(write_err)?;
        if let Some(tx) = &self.changes {
            for c in changes {
                let _ = tx.send(c);
            }
        }
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SnapshotBuilder {
            db: self.db.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StErr> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, RaftPeer>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StErr> {
        let data = snapshot.into_inner();
        let pins: Vec<ClusterPin> = serde_json::from_slice(&data).map_err(read_err)?;
        let meta = meta.clone();
        // Durable: openraft may purge the log right after an install.
        write_txn(&self.db, true, move |tx| {
            tx.delete_table(PINS)?;
            {
                let mut t = tx.open_table(PINS)?;
                for p in &pins {
                    t.put(p)?;
                }
            }
            put_meta(tx, K_APPLIED, &meta.last_log_id)?;
            put_meta(tx, K_MEMBERSHIP, &meta.last_membership)?;
            put_meta(tx, K_SNAP_META, &meta)?;
            tx.open_table(META)?.insert(K_SNAP_DATA, data.as_slice())?;
            Ok(())
        })
        .await
        .map_err(write_err)?;
        if let Some(tx) = &self.changes {
            let _ = tx.send(StateChange::Reset);
        }
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StErr> {
        let Some(meta) =
            get_meta::<SnapshotMeta<NodeId, RaftPeer>>(&self.db, K_SNAP_META).map_err(read_err)?
        else {
            return Ok(None);
        };
        let tx = self.db.begin_read().map_err(read_err)?;
        let t = tx.open_table(META).map_err(read_err)?;
        let data = t
            .get(K_SNAP_DATA)
            .map_err(read_err)?
            .map(|v| v.value().to_vec())
            .unwrap_or_default();
        Ok(Some(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        }))
    }
}

/// Read-only access to the applied pinset (local, possibly stale reads).
#[derive(Clone)]
pub struct PinsetReader {
    db: Arc<Database>,
}

impl PinsetReader {
    /// Reader over the given database.
    pub fn new(db: Arc<Database>) -> Self {
        PinsetReader { db }
    }

    /// The pin for `cid`, if present.
    pub fn get(&self, cid: &Cid) -> Result<Option<ClusterPin>, String> {
        let tx = self.db.begin_read().map_err(|e| e.to_string())?;
        let t = tx.open_table(PINS).map_err(|e| e.to_string())?;
        match t.get(cid.to_string().as_str()).map_err(|e| e.to_string())? {
            Some(v) => serde_json::from_slice(v.value())
                .map(Some)
                .map_err(|e| e.to_string()),
            None => Ok(None),
        }
    }

    /// All pins, ordered by CID text.
    pub fn list(&self) -> Result<Vec<ClusterPin>, String> {
        let tx = self.db.begin_read().map_err(|e| e.to_string())?;
        let t = tx.open_table(PINS).map_err(|e| e.to_string())?;
        let mut out = Vec::with_capacity(t.len().unwrap_or(0) as usize);
        for item in t.iter().map_err(|e| e.to_string())? {
            let (_, v) = item.map_err(|e| e.to_string())?;
            out.push(serde_json::from_slice(v.value()).map_err(|e| e.to_string())?);
        }
        Ok(out)
    }

    /// Number of pins.
    pub fn count(&self) -> Result<u64, String> {
        let tx = self.db.begin_read().map_err(|e| e.to_string())?;
        let t = tx.open_table(PINS).map_err(|e| e.to_string())?;
        t.len().map_err(|e| e.to_string())
    }

    /// Last applied log id and membership as persisted.
    pub fn applied(&self) -> Result<Applied, String> {
        read_applied(&self.db)
    }

    /// Forces everything committed so far to disk (used on shutdown so that
    /// non-durable state-machine commits survive a clean restart).
    pub fn flush(&self) -> Result<(), String> {
        let tx = self.db.begin_write().map_err(|e| e.to_string())?;
        tx.commit().map_err(|e| e.to_string())
    }
}
