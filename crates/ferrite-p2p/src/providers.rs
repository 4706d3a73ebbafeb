//! A Kademlia record store whose provider records live in a redb database.
//!
//! [`ProviderStore`] implements [`RecordStore`] for `kad::Behaviour`:
//!
//! * Provider records received from other peers (`ADD_PROVIDER`) are kept
//!   in a redb file with their expiry (48 h, kad's provider record TTL), so
//!   they survive a restart. Expired records are never returned, and are
//!   deleted at open and by a periodic sweep ([`ProviderStore::maintain`],
//!   which the host calls about once a second). There is no 1024-key cap:
//!   limits are [`ProviderStoreConfig`] and default to millions.
//! * Writes are buffered in memory and committed in batches with
//!   `Durability::Eventual`, so the swarm's poll path never waits for an
//!   fsync. A crash can lose the last seconds of received records; their
//!   owners re-announce them anyway. Dropping the store commits durably.
//! * Our own content needs no records: a caller-supplied predicate
//!   ([`LocalProviders`]) says whether we provide a key, and then
//!   `providers()` lists the local peer first, without addresses, which
//!   kad fills in with our listen and external addresses when it answers a
//!   `GET_PROVIDERS`. Records for the local peer that kad itself adds
//!   (`start_providing`) are kept in memory only.
//! * Plain value records (`PUT_VALUE`) stay in memory (a kad `MemoryStore`).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use libp2p::kad::store::{self, MemoryStore, MemoryStoreConfig, RecordStore};
use libp2p::kad::{ProviderRecord, Record, RecordKey};
use libp2p::{Multiaddr, PeerId};
use redb::backends::InMemoryBackend;
use redb::{
    Database, Durability, ReadableTable, ReadableTableMetadata, TableDefinition, WriteTransaction,
};

/// Provider records: `len(key) u16 BE ‖ key ‖ provider peer id` →
/// `expiry (unix ms) u64 BE ‖ n u16 ‖ n × (len u16 ‖ multiaddr)`.
const PROVIDERS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("providers");
/// Expiry index: `expiry (unix ms) u64 BE ‖ provider key` → ().
const EXPIRY: TableDefinition<&[u8], ()> = TableDefinition::new("provider_expiry");

/// The predicate "do we provide this key?" (the key is a multihash's bytes).
pub type LocalProviderFn = Arc<dyn Fn(&RecordKey) -> bool + Send + Sync>;

/// Wraps a [`LocalProviderFn`] so configs holding it stay `Debug` and `Clone`.
///
/// It is called on the swarm's task for every `GET_PROVIDERS` the node
/// answers (and every local `get_providers`), so it must be quick, e.g. a
/// blockstore `has` or a pin-set lookup.
#[derive(Clone)]
pub struct LocalProviders(pub LocalProviderFn);

impl LocalProviders {
    /// Wraps a predicate.
    pub fn new(f: impl Fn(&RecordKey) -> bool + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    /// Whether the local node provides `key`.
    pub fn provides(&self, key: &RecordKey) -> bool {
        (self.0)(key)
    }
}

impl fmt::Debug for LocalProviders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LocalProviders(..)")
    }
}

/// Limits and timings of a [`ProviderStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderStoreConfig {
    /// Most provider records (of other peers) kept; further ones are
    /// refused until expired ones are swept.
    pub max_records: u64,
    /// Most providers kept per key; a new one replaces the record that
    /// expires first.
    pub max_providers_per_key: usize,
    /// Most value records (`PUT_VALUE`, kept in memory).
    pub max_value_records: usize,
    /// Largest value record, in bytes.
    pub max_value_bytes: usize,
    /// Most bytes of value records kept in all (records × size alone
    /// allowed a gigabyte of memory to anyone who can send `PUT_VALUE`).
    pub max_value_total_bytes: usize,
    /// Buffered writes are committed once this many are pending (and at
    /// every [`ProviderStore::maintain`]).
    pub flush_threshold: usize,
    /// How often [`ProviderStore::maintain`] deletes expired records.
    pub sweep_interval: Duration,
}

impl Default for ProviderStoreConfig {
    fn default() -> Self {
        Self {
            max_records: 20_000_000,
            max_providers_per_key: 100,
            max_value_records: 16 * 1024,
            max_value_bytes: 65 * 1024,
            max_value_total_bytes: 64 << 20,
            flush_threshold: 4096,
            sweep_interval: Duration::from_secs(3600),
        }
    }
}

/// Why a provider database could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("provider store: {0}")]
pub struct ProviderStoreError(Box<redb::Error>);

fn db_err<E: Into<redb::Error>>(e: E) -> ProviderStoreError {
    ProviderStoreError(Box::new(e.into()))
}

/// One stored provider record (without key and peer, which are in the
/// database key).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    /// Unix milliseconds; `u64::MAX` for never.
    expires: u64,
    addrs: Vec<Multiaddr>,
}

impl Entry {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(10 + self.addrs.len() * 24);
        out.extend_from_slice(&self.expires.to_be_bytes());
        let addrs: Vec<Vec<u8>> = self
            .addrs
            .iter()
            .map(|a| a.to_vec())
            .filter(|a| a.len() <= u16::MAX as usize)
            .take(u16::MAX as usize)
            .collect();
        out.extend_from_slice(&(addrs.len() as u16).to_be_bytes());
        for a in addrs {
            out.extend_from_slice(&(a.len() as u16).to_be_bytes());
            out.extend_from_slice(&a);
        }
        out
    }

    fn decode(mut b: &[u8]) -> Option<Self> {
        let expires = u64::from_be_bytes(b.get(..8)?.try_into().ok()?);
        let n = u16::from_be_bytes(b.get(8..10)?.try_into().ok()?);
        b = &b[10..];
        let mut addrs = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let len = u16::from_be_bytes(b.get(..2)?.try_into().ok()?) as usize;
            let a = b.get(2..2 + len)?;
            if let Ok(a) = Multiaddr::try_from(a.to_vec()) {
                addrs.push(a);
            }
            b = &b[2 + len..];
        }
        Some(Self { expires, addrs })
    }
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis().min(u64::MAX as u128 - 1) as u64)
        .unwrap_or(0)
}

fn now_ms() -> u64 {
    unix_ms(SystemTime::now())
}

/// kad's monotonic expiry → unix milliseconds.
fn expiry_to_ms(expires: Option<Instant>) -> u64 {
    match expires {
        None => u64::MAX,
        Some(at) => {
            let now = Instant::now();
            let sys = SystemTime::now();
            let t = if at >= now {
                sys.checked_add(at - now)
            } else {
                sys.checked_sub(now - at)
            };
            t.map(unix_ms).unwrap_or(u64::MAX - 1)
        }
    }
}

/// Unix milliseconds → kad's monotonic expiry.
fn ms_to_expiry(ms: u64) -> Option<Instant> {
    if ms == u64::MAX {
        return None;
    }
    let now = now_ms();
    let inow = Instant::now();
    if ms >= now {
        inow.checked_add(Duration::from_millis(ms - now))
    } else {
        Some(
            inow.checked_sub(Duration::from_millis(now - ms))
                .unwrap_or(inow),
        )
    }
}

/// `len(key) u16 BE ‖ key`: every provider of `key` is stored under it.
fn key_prefix(key: &RecordKey) -> Option<Vec<u8>> {
    let k = key.as_ref();
    let len = u16::try_from(k.len()).ok()?;
    let mut out = Vec::with_capacity(2 + k.len() + 40);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(k);
    Some(out)
}

fn db_key(key: &RecordKey, peer: &PeerId) -> Option<Vec<u8>> {
    let mut out = key_prefix(key)?;
    out.extend_from_slice(&peer.to_bytes());
    Some(out)
}

/// Splits a database key into record key and peer.
fn split_db_key(k: &[u8]) -> Option<(RecordKey, PeerId)> {
    let len = u16::from_be_bytes(k.get(..2)?.try_into().ok()?) as usize;
    let key = k.get(2..2 + len)?;
    let peer = PeerId::from_bytes(k.get(2 + len..)?).ok()?;
    Some((RecordKey::new(&key), peer))
}

fn expiry_key(expires: u64, db_key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + db_key.len());
    out.extend_from_slice(&expires.to_be_bytes());
    out.extend_from_slice(db_key);
    out
}

/// Kademlia record store with persistent provider records; see the
/// [module documentation](self).
pub struct ProviderStore {
    local_id: PeerId,
    config: ProviderStoreConfig,
    db: Database,
    /// Writes not yet committed: `Some` = upsert, `None` = delete.
    pending: BTreeMap<Vec<u8>, Option<Entry>>,
    /// Records in the database plus pending inserts (expired ones count
    /// until swept).
    count: u64,
    /// Provider records for the local peer added by kad (`start_providing`).
    local: HashMap<RecordKey, ProviderRecord>,
    local_provider: Option<LocalProviders>,
    values: MemoryStore,
    /// Bytes of the values in `values`.
    value_bytes: usize,
    last_sweep: Instant,
    /// A sweep stopped at its batch limit; continue at the next `maintain`.
    sweep_more: bool,
}

/// Expired records deleted per sweep transaction.
const SWEEP_BATCH: usize = 20_000;

impl ProviderStore {
    /// Opens (or creates) the provider database at `path`, deleting expired
    /// records.
    pub fn open(
        path: impl AsRef<Path>,
        local_id: PeerId,
        config: ProviderStoreConfig,
    ) -> Result<Self, ProviderStoreError> {
        let db = Database::create(path.as_ref()).map_err(db_err)?;
        Self::with_db(db, local_id, config)
    }

    /// A store whose provider records live in memory only (tests,
    /// throw-away nodes). Same code paths as [`ProviderStore::open`].
    pub fn in_memory(local_id: PeerId) -> Self {
        Self::in_memory_with_config(local_id, ProviderStoreConfig::default())
    }

    /// [`ProviderStore::in_memory`] with explicit limits.
    pub fn in_memory_with_config(local_id: PeerId, config: ProviderStoreConfig) -> Self {
        let db = Database::builder()
            .create_with_backend(InMemoryBackend::new())
            .expect("in-memory redb database");
        Self::with_db(db, local_id, config).expect("in-memory redb database")
    }

    fn with_db(
        db: Database,
        local_id: PeerId,
        config: ProviderStoreConfig,
    ) -> Result<Self, ProviderStoreError> {
        let tx = db.begin_write().map_err(db_err)?;
        let count = {
            let t = tx.open_table(PROVIDERS).map_err(db_err)?;
            tx.open_table(EXPIRY).map_err(db_err)?;
            t.len().map_err(db_err)?
        };
        tx.commit().map_err(db_err)?;
        let values = MemoryStore::with_config(
            local_id,
            MemoryStoreConfig {
                max_records: config.max_value_records,
                max_value_bytes: config.max_value_bytes,
                max_providers_per_key: 1,
                max_provided_keys: 1,
            },
        );
        let mut store = Self {
            local_id,
            config,
            db,
            pending: BTreeMap::new(),
            count,
            local: HashMap::new(),
            local_provider: None,
            values,
            value_bytes: 0,
            last_sweep: Instant::now(),
            sweep_more: false,
        };
        loop {
            let (removed, more) = store.sweep_once(now_ms())?;
            if removed > 0 {
                tracing::debug!(removed, "provider store: expired records deleted at open");
            }
            if !more {
                break;
            }
        }
        Ok(store)
    }

    /// Sets the "do we provide this key?" predicate; see [`LocalProviders`].
    pub fn set_local_provider(&mut self, local: Option<LocalProviders>) {
        self.local_provider = local;
    }

    /// The local peer's ID.
    pub fn local_peer_id(&self) -> PeerId {
        self.local_id
    }

    /// Number of stored provider records of other peers (expired ones
    /// count until swept).
    pub fn provider_record_count(&self) -> u64 {
        self.count
    }

    /// Commits buffered writes (without fsync). Called by
    /// [`ProviderStore::maintain`] and whenever enough writes are pending.
    pub fn flush(&mut self) -> Result<(), ProviderStoreError> {
        self.commit(Durability::Eventual)
    }

    /// Commits buffered writes and waits until they are on disk.
    pub fn sync(&mut self) -> Result<(), ProviderStoreError> {
        self.commit(Durability::Immediate)
    }

    fn commit(&mut self, durability: Durability) -> Result<(), ProviderStoreError> {
        let mut tx = self.db.begin_write().map_err(db_err)?;
        tx.set_durability(durability);
        if !self.pending.is_empty() {
            Self::apply(&tx, &self.pending)?;
        }
        tx.commit().map_err(db_err)?;
        self.pending.clear();
        Ok(())
    }

    fn apply(
        tx: &WriteTransaction,
        pending: &BTreeMap<Vec<u8>, Option<Entry>>,
    ) -> Result<(), ProviderStoreError> {
        let mut providers = tx.open_table(PROVIDERS).map_err(db_err)?;
        let mut expiry = tx.open_table(EXPIRY).map_err(db_err)?;
        for (k, op) in pending {
            let old = providers
                .get(k.as_slice())
                .map_err(db_err)?
                .and_then(|v| Entry::decode(v.value()));
            if let Some(old) = old {
                expiry
                    .remove(expiry_key(old.expires, k).as_slice())
                    .map_err(db_err)?;
            }
            match op {
                Some(e) => {
                    providers
                        .insert(k.as_slice(), e.encode().as_slice())
                        .map_err(db_err)?;
                    expiry
                        .insert(expiry_key(e.expires, k).as_slice(), ())
                        .map_err(db_err)?;
                }
                None => {
                    providers.remove(k.as_slice()).map_err(db_err)?;
                }
            }
        }
        Ok(())
    }

    /// Periodic upkeep: commits buffered writes and, every
    /// `sweep_interval`, deletes expired records (in bounded batches).
    pub fn maintain(&mut self) {
        if !self.pending.is_empty() {
            if let Err(e) = self.flush() {
                tracing::warn!("{e}");
                self.limit_pending();
            }
        }
        if self.sweep_more || self.last_sweep.elapsed() >= self.config.sweep_interval {
            match self.sweep_once(now_ms()) {
                Ok((removed, more)) => {
                    if removed > 0 {
                        tracing::debug!(removed, "provider store: expired records deleted");
                    }
                    self.sweep_more = more;
                }
                Err(e) => {
                    tracing::warn!("{e}");
                    self.sweep_more = false;
                }
            }
            self.last_sweep = Instant::now();
        }
    }

    /// Deletes all records that expired before `now`; returns how many.
    pub fn sweep_expired(&mut self) -> Result<usize, ProviderStoreError> {
        let mut total = 0;
        loop {
            let (removed, more) = self.sweep_once(now_ms())?;
            total += removed;
            if !more {
                return Ok(total);
            }
        }
    }

    /// Deletes up to [`SWEEP_BATCH`] records expired before `now_ms`;
    /// returns (deleted, whether more may remain).
    fn sweep_once(&mut self, now_ms: u64) -> Result<(usize, bool), ProviderStoreError> {
        let mut tx = self.db.begin_write().map_err(db_err)?;
        tx.set_durability(Durability::Eventual);
        if !self.pending.is_empty() {
            Self::apply(&tx, &self.pending)?;
        }
        let (removed, more) = {
            let mut providers = tx.open_table(PROVIDERS).map_err(db_err)?;
            let mut expiry = tx.open_table(EXPIRY).map_err(db_err)?;
            let end = now_ms.to_be_bytes();
            let mut victims = Vec::new();
            for item in expiry.range(..end.as_slice()).map_err(db_err)? {
                let (k, _) = item.map_err(db_err)?;
                victims.push(k.value().to_vec());
                if victims.len() >= SWEEP_BATCH {
                    break;
                }
            }
            for v in &victims {
                expiry.remove(v.as_slice()).map_err(db_err)?;
                providers.remove(&v[8..]).map_err(db_err)?;
            }
            (victims.len(), victims.len() >= SWEEP_BATCH)
        };
        tx.commit().map_err(db_err)?;
        self.pending.clear();
        self.count = self.count.saturating_sub(removed as u64);
        Ok((removed, more))
    }

    fn limit_pending(&mut self) {
        if self.pending.len() > 1_000_000 {
            tracing::warn!(
                dropped = self.pending.len(),
                "provider store: cannot write, dropping buffered records"
            );
            self.pending.clear();
        }
    }

    /// All providers of `key` (database merged with buffered writes),
    /// expired ones included.
    fn remote_providers(&self, key: &RecordKey) -> Vec<(PeerId, Entry)> {
        let Some(prefix) = key_prefix(key) else {
            return Vec::new();
        };
        let mut found: BTreeMap<Vec<u8>, Entry> = BTreeMap::new();
        let mut read = || -> Result<(), ProviderStoreError> {
            let tx = self.db.begin_read().map_err(db_err)?;
            let t = tx.open_table(PROVIDERS).map_err(db_err)?;
            for item in t.range(prefix.as_slice()..).map_err(db_err)? {
                let (k, v) = item.map_err(db_err)?;
                let k = k.value();
                if !k.starts_with(&prefix) {
                    break;
                }
                if let Some(e) = Entry::decode(v.value()) {
                    found.insert(k.to_vec(), e);
                }
            }
            Ok(())
        };
        if let Err(e) = read() {
            tracing::warn!("provider store: read failed: {e}");
        }
        for (k, op) in self.pending.range(prefix.clone()..) {
            if !k.starts_with(&prefix) {
                break;
            }
            match op {
                Some(e) => {
                    found.insert(k.clone(), e.clone());
                }
                None => {
                    found.remove(k);
                }
            }
        }
        found
            .into_iter()
            .filter_map(|(k, e)| Some((PeerId::from_bytes(&k[prefix.len()..]).ok()?, e)))
            .collect()
    }

    fn after_write(&mut self) {
        if self.pending.len() >= self.config.flush_threshold {
            if let Err(e) = self.flush() {
                tracing::warn!("{e}");
                self.limit_pending();
            }
        }
    }

    /// Every non-expired provider record in the database, for inspection
    /// and tests (reads the whole table).
    pub fn all_provider_records(&self) -> Vec<ProviderRecord> {
        let now = now_ms();
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (k, op) in &self.pending {
            seen.insert(k.clone());
            if let (Some(e), Some((key, peer))) = (op, split_db_key(k)) {
                if e.expires > now {
                    out.push(to_record(key, peer, e.clone()));
                }
            }
        }
        let mut read = || -> Result<(), ProviderStoreError> {
            let tx = self.db.begin_read().map_err(db_err)?;
            let t = tx.open_table(PROVIDERS).map_err(db_err)?;
            for item in t.iter().map_err(db_err)? {
                let (k, v) = item.map_err(db_err)?;
                if seen.contains(k.value()) {
                    continue;
                }
                if let (Some(e), Some((key, peer))) =
                    (Entry::decode(v.value()), split_db_key(k.value()))
                {
                    if e.expires > now {
                        out.push(to_record(key, peer, e));
                    }
                }
            }
            Ok(())
        };
        if let Err(e) = read() {
            tracing::warn!("provider store: read failed: {e}");
        }
        out
    }
}

fn to_record(key: RecordKey, provider: PeerId, e: Entry) -> ProviderRecord {
    ProviderRecord {
        key,
        provider,
        expires: ms_to_expiry(e.expires),
        addresses: e.addrs,
    }
}

impl Drop for ProviderStore {
    fn drop(&mut self) {
        if let Err(e) = self.sync() {
            tracing::warn!("provider store: final commit failed: {e}");
        }
    }
}

impl fmt::Debug for ProviderStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderStore")
            .field("local_id", &self.local_id)
            .field("count", &self.count)
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

type ProvidedMap<'a> = std::collections::hash_map::Values<'a, RecordKey, ProviderRecord>;

impl RecordStore for ProviderStore {
    type RecordsIter<'a> = <MemoryStore as RecordStore>::RecordsIter<'a>;
    type ProvidedIter<'a> =
        std::iter::Map<ProvidedMap<'a>, fn(&'a ProviderRecord) -> Cow<'a, ProviderRecord>>;

    fn get(&self, k: &RecordKey) -> Option<Cow<'_, Record>> {
        self.values.get(k)
    }

    /// Keeps only the record kinds the IPFS DHT validates, `/pk/` and
    /// `/ipns/` (Kubo's validators refuse every other namespace), within
    /// [`ProviderStoreConfig::max_value_total_bytes`].
    fn put(&mut self, r: Record) -> store::Result<()> {
        let key = r.key.as_ref();
        if !(key.starts_with(b"/pk/") || key.starts_with(b"/ipns/")) {
            // kad's store errors have no "invalid key"; it only logs them.
            return Err(store::Error::ValueTooLarge);
        }
        let old = self.values.get(&r.key).map_or(0, |o| o.value.len());
        let total = self.value_bytes - old + r.value.len();
        if total > self.config.max_value_total_bytes {
            return Err(store::Error::MaxRecords);
        }
        self.values.put(r)?;
        self.value_bytes = total;
        Ok(())
    }

    fn remove(&mut self, k: &RecordKey) {
        let old = self.values.get(k).map_or(0, |o| o.value.len());
        self.value_bytes -= old;
        self.values.remove(k)
    }

    fn records(&self) -> Self::RecordsIter<'_> {
        self.values.records()
    }

    fn add_provider(&mut self, record: ProviderRecord) -> store::Result<()> {
        if record.provider == self.local_id {
            if !self.local.contains_key(&record.key) && self.local.len() >= 1_000_000 {
                return Err(store::Error::MaxProvidedKeys);
            }
            self.local.insert(record.key.clone(), record);
            return Ok(());
        }
        let Some(k) = db_key(&record.key, &record.provider) else {
            return Err(store::Error::ValueTooLarge);
        };
        // kad appends `/p2p/<provider>` to received addresses; store them
        // without it.
        let entry = Entry {
            expires: expiry_to_ms(record.expires),
            addrs: record
                .addresses
                .iter()
                .map(crate::peerstore::strip_p2p)
                .collect(),
        };
        let existing = self.remote_providers(&record.key);
        if !existing.iter().any(|(p, _)| *p == record.provider) {
            if existing.len() >= self.config.max_providers_per_key {
                // Replace the record that expires first.
                if let Some((victim, _)) = existing.iter().min_by_key(|(_, e)| e.expires) {
                    if let Some(vk) = db_key(&record.key, victim) {
                        self.pending.insert(vk, None);
                        self.count = self.count.saturating_sub(1);
                    }
                }
            } else if self.count >= self.config.max_records {
                return Err(store::Error::MaxRecords);
            }
            self.count += 1;
        }
        self.pending.insert(k, Some(entry));
        self.after_write();
        Ok(())
    }

    fn providers(&self, key: &RecordKey) -> Vec<ProviderRecord> {
        let mut out = Vec::new();
        if let Some(local) = self.local.get(key) {
            out.push(local.clone());
        } else if self
            .local_provider
            .as_ref()
            .is_some_and(|l| l.provides(key))
        {
            // No addresses: kad fills in our current ones when answering.
            out.push(ProviderRecord {
                key: key.clone(),
                provider: self.local_id,
                expires: None,
                addresses: Vec::new(),
            });
        }
        let now = now_ms();
        out.extend(
            self.remote_providers(key)
                .into_iter()
                .filter(|(_, e)| e.expires > now)
                .map(|(p, e)| to_record(key.clone(), p, e)),
        );
        out
    }

    fn provided(&self) -> Self::ProvidedIter<'_> {
        self.local.values().map(Cow::Borrowed)
    }

    fn remove_provider(&mut self, k: &RecordKey, p: &PeerId) {
        if *p == self.local_id {
            self.local.remove(k);
            return;
        }
        if self.remote_providers(k).iter().any(|(q, _)| q == p) {
            if let Some(dk) = db_key(k, p) {
                self.pending.insert(dk, None);
                self.count = self.count.saturating_sub(1);
                self.after_write();
            }
        }
    }
}

/// Entry points for the fuzz targets in `fuzz/` (not a stable API): the
/// provider store's own encodings of what it keeps on disk, which a damaged
/// or foreign database hands back as arbitrary bytes.
#[doc(hidden)]
pub mod fuzzing {
    use super::{db_key, split_db_key, Entry};
    use libp2p::kad::RecordKey;
    use libp2p::{Multiaddr, PeerId};

    /// Decodes a stored provider entry: its expiry (unix ms) and addresses.
    pub fn decode_entry(b: &[u8]) -> Option<(u64, Vec<Multiaddr>)> {
        Entry::decode(b).map(|e| (e.expires, e.addrs))
    }

    /// Encodes a provider entry as the store writes it.
    pub fn encode_entry(expires: u64, addrs: Vec<Multiaddr>) -> Vec<u8> {
        Entry { expires, addrs }.encode()
    }

    /// Splits a database key into record key bytes and provider.
    pub fn split_key(k: &[u8]) -> Option<(Vec<u8>, PeerId)> {
        split_db_key(k).map(|(key, peer)| (key.to_vec(), peer))
    }

    /// The database key of a record key and provider.
    pub fn join_key(key: &[u8], peer: &PeerId) -> Option<Vec<u8>> {
        db_key(&RecordKey::new(&key), peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_roundtrip() {
        let e = Entry {
            expires: 12345,
            addrs: vec!["/ip4/127.0.0.1/tcp/4001".parse().unwrap()],
        };
        assert_eq!(Entry::decode(&e.encode()), Some(e));
    }

    /// Found by the hostile-peer test: any key was kept, up to 16,384
    /// records of 65 KiB each in memory.
    #[test]
    fn value_records_are_ipns_and_pk_only_within_a_byte_budget() {
        let config = ProviderStoreConfig {
            max_value_total_bytes: 10_000,
            ..ProviderStoreConfig::default()
        };
        let mut s = ProviderStore::in_memory_with_config(PeerId::random(), config);
        let rec = |k: &str, n: usize| Record::new(k.as_bytes().to_vec(), vec![1u8; n]);
        assert!(s.put(rec("/spam/1", 10)).is_err());
        assert!(s.get(&RecordKey::new(&"/spam/1")).is_none());
        s.put(rec("/pk/a", 4_000)).unwrap();
        s.put(rec("/ipns/b", 4_000)).unwrap();
        assert!(
            s.put(rec("/ipns/c", 4_000)).is_err(),
            "over the byte budget"
        );
        // replacing a record counts only the difference
        s.put(rec("/ipns/b", 6_000)).unwrap();
        s.remove(&RecordKey::new(&"/pk/a"));
        s.put(rec("/ipns/c", 4_000)).unwrap();
        assert_eq!(s.records().count(), 2);
    }

    #[test]
    fn db_key_roundtrip() {
        let key = RecordKey::new(&[1u8, 2, 3]);
        let peer = PeerId::random();
        let k = db_key(&key, &peer).unwrap();
        assert_eq!(split_db_key(&k), Some((key, peer)));
    }

    #[test]
    fn expiry_conversion_is_close() {
        let at = Instant::now() + Duration::from_secs(3600);
        let back = ms_to_expiry(expiry_to_ms(Some(at))).unwrap();
        let diff = if back > at { back - at } else { at - back };
        assert!(diff < Duration::from_millis(50));
        assert_eq!(ms_to_expiry(expiry_to_ms(None)), None);
    }
}
