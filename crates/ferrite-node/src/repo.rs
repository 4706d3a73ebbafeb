//! The open repo as the node sees it: the store's [`ferrite_store::Repo`]
//! (blocks, pins, locks) plus the config file, which the store does not
//! interpret.

use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use ferrite_config::Config;
use ferrite_store::{PackStore, Pins};

use crate::Result;

/// An open repo with its configuration. Holding it holds the repo lock.
pub(crate) struct Repo {
    store: ferrite_store::Repo,
    config: RwLock<Config>,
    /// What GC has done since the repo was opened.
    pub(crate) gc: GcCounters,
}

/// Totals of the GC runs since the repo was opened (for metrics).
#[derive(Debug, Default)]
pub(crate) struct GcCounters {
    pub runs: AtomicU64,
    pub micros: AtomicU64,
    pub removed_blocks: AtomicU64,
    pub reclaimed_bytes: AtomicU64,
}

impl Repo {
    /// Creates a repo at `path` with `config` (fails if one is there).
    pub(crate) fn init(path: &Path, config: &Config) -> Result<()> {
        ferrite_store::Repo::init(path, |file| config.save(file).map_err(|e| e.to_string()))?;
        Ok(())
    }

    /// Opens the repo at `path`, taking its lock, and reads its config.
    pub(crate) fn open(path: &Path) -> Result<Repo> {
        let (store, config) =
            ferrite_store::Repo::open(path, |file| Config::load(file).map_err(|e| e.to_string()))?;
        Ok(Repo {
            store,
            config: RwLock::new(config),
            gc: GcCounters::default(),
        })
    }

    /// The repo's folder.
    pub(crate) fn path(&self) -> &Path {
        self.store.path()
    }

    /// The block store.
    pub(crate) fn blocks(&self) -> &PackStore {
        self.store.blocks()
    }

    /// The pinset.
    pub(crate) fn pins(&self) -> &Pins {
        self.store.pins()
    }

    /// See [`ferrite_store::Repo::write_guard`].
    pub(crate) fn write_guard(&self) -> RwLockReadGuard<'_, ()> {
        self.store.write_guard()
    }

    /// See [`ferrite_store::Repo::gc_guard`].
    pub(crate) fn gc_guard(&self) -> RwLockWriteGuard<'_, ()> {
        self.store.gc_guard()
    }

    /// A copy of the current configuration.
    pub(crate) fn config(&self) -> Config {
        self.config.read().unwrap().clone()
    }

    /// Reads the config file again (edited by hand while the daemon runs)
    /// and makes it the current configuration, unless it breaks a check
    /// the current one passes; then nothing changes.
    pub(crate) fn reload_config(&self) -> Result<Config> {
        let mut current = self.config.write().unwrap();
        let fresh = Config::load(self.store.config_path())?;
        fresh.check_update(&current)?;
        *current = fresh.clone();
        Ok(fresh)
    }

    /// Edits the configuration and saves it durably, one edit at a time (so
    /// two concurrent edits cannot lose one). When `f` fails, nothing
    /// changes and its error is the inner result.
    pub(crate) fn update_config<T, E>(
        &self,
        f: impl FnOnce(&mut Config) -> std::result::Result<T, E>,
    ) -> ferrite_store::Result<std::result::Result<T, E>> {
        let mut current = self.config.write().unwrap();
        let mut edited = current.clone();
        let out = match f(&mut edited) {
            Ok(v) => v,
            Err(e) => return Ok(Err(e)),
        };
        edited
            .save(self.store.config_path())
            .map_err(|e| ferrite_store::Error::Repo(e.to_string()))?;
        *current = edited;
        Ok(Ok(out))
    }
}
