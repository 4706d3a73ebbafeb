//! The Ferrite node: the one Rust API over the repo, the block store, pins,
//! UnixFS and the network. The CLI and the HTTP API are thin layers
//! over [`Node`]; nothing above this crate touches the store directly.
#![forbid(unsafe_code)]

mod add;
mod blocks;
mod dag;
mod error;
mod fetch;
mod files;
mod gateway;
pub mod net;
mod paths;
mod pinning;
mod refs;
mod repo;

pub use add::{AddEntry, AddEntryKind, AddOptions, AddSource, Added, FileProgress};
pub use blocks::{BlockPutOptions, BlockRm};
pub use dag::{CarInputs, DagImport, DagImportOptions};
pub use error::{Error, Result};
pub use files::LsEntry;
pub use gateway::{CarOptions, CarPlan, DagScope, EntityBytes, Resolved};
pub use paths::IpfsPath;
pub use pinning::{PinBatch, PinLsEntry, PinLsType, PinVerify};
pub use refs::RefsOptions;

pub use ferrite_ipld::Cid;
// What the layers above need of the store's types; the store itself is
// reached only through [`Node`].
pub use ferrite_store::repo::{default_path as default_repo_path, write_durably, REPO_VERSION};
pub use ferrite_store::{gc::GcReport, Pin, PinMode};

use ferrite_config::Config;
use ferrite_store::Blockstore;
use repo::Repo;
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// A Ferrite node over an open repo.
#[derive(Clone)]
pub struct Node {
    repo: Arc<Repo>,
    net: Option<net::Network>,
    /// The network whose received blocks (verified, not yet committed by
    /// its writer) reads may use: kept by [`Node::offline`], so that an
    /// offline read right after an online one sees what that one fetched.
    received: Option<net::Network>,
}

/// GC totals since the repo was opened ([`Node::gc_stats`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct GcStats {
    /// Completed runs.
    pub runs: u64,
    /// Time spent in them.
    pub seconds: f64,
    /// Blocks removed.
    pub removed_blocks: u64,
    /// Bytes given back to the file system by compaction.
    pub reclaimed_bytes: u64,
}

/// Repo statistics, as `repo stat` shows them.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RepoStat {
    /// Number of stored blocks.
    pub num_objects: u64,
    /// Bytes the repo's files take (packs, dead bytes included, plus indexes).
    pub repo_size: u64,
    /// Pack bytes of stored blocks.
    pub live_bytes: u64,
    /// Pack bytes of deleted blocks that GC has not reclaimed yet.
    pub dead_bytes: u64,
    /// Configured `Datastore.StorageMax` in bytes.
    pub storage_max: u64,
    /// The repo folder.
    pub repo_path: String,
    /// Repo format version, `ferrite-repo@N`.
    pub version: String,
}

impl Node {
    /// Opens the repo at `path` (taking its lock).
    pub fn open(path: &Path) -> Result<Self> {
        Ok(Node {
            repo: Arc::new(Repo::open(path)?),
            net: None,
            received: None,
        })
    }

    /// The same node with its network: block reads fetch what is missing
    /// through Bitswap, adds and pins are announced.
    pub fn with_network(&self, net: net::Network) -> Node {
        Node {
            repo: self.repo.clone(),
            net: Some(net.clone()),
            received: Some(net),
        }
    }

    /// The same node without the network (`--offline`, `Gateway.NoFetch`):
    /// reads see only local blocks (those already received included).
    pub fn offline(&self) -> Node {
        Node {
            repo: self.repo.clone(),
            net: None,
            received: self.received.clone(),
        }
    }

    /// The same node whose network fetches fail after `stall` without a
    /// block (the gateway's `Gateway.RetrievalTimeout`).
    pub fn with_stall_timeout(&self, stall: std::time::Duration) -> Node {
        Node {
            repo: self.repo.clone(),
            net: self.net.as_ref().map(|n| n.with_stall_timeout(stall)),
            received: self.received.clone(),
        }
    }

    /// The running network, if the node is online.
    pub fn network(&self) -> Option<&net::Network> {
        self.net.as_ref()
    }

    /// Creates a repo at `path` with this configuration (fails if one is
    /// there).
    pub fn init(path: &Path, config: &Config) -> Result<()> {
        Repo::init(path, config)
    }

    /// Whether `path` holds a repo.
    pub fn is_initialized(path: &Path) -> bool {
        ferrite_store::Repo::is_initialized(path)
    }

    /// The repo's folder.
    pub fn repo_path(&self) -> &Path {
        self.repo.path()
    }

    /// A copy of the configuration.
    pub fn config(&self) -> Config {
        self.repo.config()
    }

    /// Reads the config file again, for a daemon told to reload (SIGHUP):
    /// settings read per request (`API.Authorizations`, `Gateway`
    /// headers, …) follow it from then on; a file that breaks a check the
    /// running configuration passes is refused and nothing changes.
    pub fn reload_config(&self) -> Result<Config> {
        self.repo.reload_config()
    }

    /// Edits the configuration and saves it durably, one edit at a time;
    /// when `f` fails nothing changes. An edit that breaks a check the
    /// configuration passed before ([`Config::check_update`]: a bad value,
    /// an identity that does not match, no API address) is refused and
    /// nothing is written, whoever makes it.
    pub fn update_config<T, E: From<Error>>(
        &self,
        f: impl FnOnce(&mut Config) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        self.repo
            .update_config(|cfg| {
                let before = cfg.clone();
                let out = f(cfg)?;
                cfg.check_update(&before)
                    .map_err(|e| E::from(Error::from(e)))?;
                Ok(out)
            })
            .map_err(|e| E::from(Error::from(e)))?
    }

    /// `repo stat`.
    pub fn repo_stat(&self) -> Result<RepoStat> {
        let s = self.repo.blocks().stat()?;
        Ok(RepoStat {
            num_objects: s.blocks,
            repo_size: s.disk_bytes + dir_size(&self.repo.path().join("pins.redb")),
            live_bytes: s.block_bytes,
            dead_bytes: s.dead_bytes,
            storage_max: self.repo.config().storage_max().unwrap_or(10_000_000_000),
            repo_path: self.repo.path().display().to_string(),
            version: format!("ferrite-repo@{}", ferrite_store::repo::REPO_VERSION),
        })
    }

    /// `repo verify`: rehashes every block; returns the multihashes of the
    /// corrupt ones (as CIDv1 raw, the way Kubo names bare multihashes).
    pub fn repo_verify(&self, progress: &mut dyn FnMut(u64)) -> Result<Vec<Cid>> {
        Ok(self
            .repo
            .blocks()
            .verify_all(progress)?
            .into_iter()
            .map(|mh| Cid::new_v1(ferrite_ipld::codecs::RAW, mh))
            .collect())
    }

    /// `repo gc`: removes every block no pin reaches. Waits for running adds.
    pub fn gc(&self) -> Result<GcReport> {
        let _g = self.repo.gc_guard();
        let start = std::time::Instant::now();
        let report = ferrite_store::gc::collect(self.repo.blocks(), self.repo.pins(), &[])?;
        let c = &self.repo.gc;
        c.runs.fetch_add(1, Relaxed);
        c.micros
            .fetch_add(start.elapsed().as_micros() as u64, Relaxed);
        c.removed_blocks
            .fetch_add(report.removed.len() as u64, Relaxed);
        c.reclaimed_bytes.fetch_add(report.reclaimed_bytes, Relaxed);
        Ok(report)
    }

    /// GC runs since the repo was opened, and what they did.
    pub fn gc_stats(&self) -> GcStats {
        let c = &self.repo.gc;
        GcStats {
            runs: c.runs.load(Relaxed),
            seconds: c.micros.load(Relaxed) as f64 / 1e6,
            removed_blocks: c.removed_blocks.load(Relaxed),
            reclaimed_bytes: c.reclaimed_bytes.load(Relaxed),
        }
    }
}

fn dir_size(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}
