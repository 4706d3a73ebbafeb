//! The on-disk repository at `$FERRITE_PATH` (default `~/.ferrite`).
//!
//! ```text
//! config       Kubo-shaped JSON configuration (identity, addresses, import …)
//! version      repo format version
//! repo.lock    held (flock) by the one process that has the repo open
//! blocks/      the PackStore: *.pack data files and index.redb
//! pins.redb    the pinset
//! ```

use crate::{Error, PackStore, Pins, Result};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The config file inside a repo (`ferrite_config::CONFIG_FILE_NAME`). The
/// store does not read it; its presence marks an initialised repo.
const CONFIG_FILE: &str = "config";

/// The repo format this build reads and writes.
pub const REPO_VERSION: u32 = 1;

/// The default repo path: `$FERRITE_PATH`, else `~/.ferrite`.
pub fn default_path() -> PathBuf {
    if let Some(p) = std::env::var_os("FERRITE_PATH").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| ".".into());
    home.join(".ferrite")
}

/// An open repository. Holding it holds the repo lock.
pub struct Repo {
    path: PathBuf,
    blocks: PackStore,
    pins: Pins,
    gc_lock: RwLock<()>,
    _lock: File,
}

impl Repo {
    /// Whether `path` holds an initialised repo.
    pub fn is_initialized(path: &Path) -> bool {
        path.join(CONFIG_FILE).is_file()
    }

    /// Creates a repo at `path`. Fails if one exists there. `write_config`
    /// writes the config file (it gets the file's path) while the repo lock
    /// is held, before the store is created.
    pub fn init(
        path: &Path,
        write_config: impl FnOnce(&Path) -> std::result::Result<(), String>,
    ) -> Result<()> {
        if Self::is_initialized(path) {
            return Err(Error::Repo(format!(
                "ferrite configuration file already exists at {}: reinitializing would overwrite your keys",
                path.display()
            )));
        }
        fs::create_dir_all(path)
            .map_err(|e| Error::Repo(format!("cannot create repo at {}: {e}", path.display())))?;
        let _lock = lock(path)?;
        write_config(&path.join(CONFIG_FILE)).map_err(Error::Repo)?;
        PackStore::open(&path.join("blocks"))?;
        Pins::open(&path.join("pins.redb"))?;
        // The version file goes last: its presence marks a complete init.
        write_durably(
            &path.join("version"),
            format!("{REPO_VERSION}\n").as_bytes(),
        )?;
        Ok(())
    }

    /// Opens the repo at `path`, taking its lock. `read_config` reads the
    /// config file (it gets the file's path) once the lock is held and the
    /// version checked, before the store is opened; its result is returned
    /// beside the repo.
    pub fn open<C>(
        path: &Path,
        read_config: impl FnOnce(&Path) -> std::result::Result<C, String>,
    ) -> Result<(Self, C)> {
        if !Self::is_initialized(path) {
            return Err(Error::Repo(format!(
                "no ferrite repo found in {}.\nplease run: 'ferrite init'",
                path.display()
            )));
        }
        let lock = lock(path)?;
        let version = fs::read_to_string(path.join("version")).map_err(|_| {
            Error::Repo(format!(
                "repo at {} is incomplete (no version file): was 'ferrite init' interrupted?",
                path.display()
            ))
        })?;
        match version.trim().parse::<u32>() {
            Ok(REPO_VERSION) => {}
            _ => {
                return Err(Error::Repo(format!(
                    "repo at {} has version {:?}, this ferrite reads version {REPO_VERSION}",
                    path.display(),
                    version.trim()
                )))
            }
        }
        let config = read_config(&path.join(CONFIG_FILE)).map_err(Error::Repo)?;
        let repo = Repo {
            path: path.to_path_buf(),
            blocks: PackStore::open(&path.join("blocks"))?,
            pins: Pins::open(&path.join("pins.redb"))?,
            gc_lock: RwLock::new(()),
            _lock: lock,
        };
        Ok((repo, config))
    }

    /// The repo's folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The block store.
    pub fn blocks(&self) -> &PackStore {
        &self.blocks
    }

    /// The pinset.
    pub fn pins(&self) -> &Pins {
        &self.pins
    }

    /// The config file's path.
    pub fn config_path(&self) -> PathBuf {
        self.path.join(CONFIG_FILE)
    }

    /// Held by every operation that writes blocks and then pins them, so GC
    /// cannot sweep blocks between the two steps.
    pub fn write_guard(&self) -> RwLockReadGuard<'_, ()> {
        self.gc_lock.read().unwrap()
    }

    /// Held by GC: waits for running adds, blocks new ones.
    pub fn gc_guard(&self) -> RwLockWriteGuard<'_, ()> {
        self.gc_lock.write().unwrap()
    }
}

fn lock(path: &Path) -> Result<File> {
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path.join("repo.lock"))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Locked(format!(
            "someone else has the lock on the repo at {} (is a ferrite daemon or another ferrite command running?)",
            path.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
    }
}

/// Writes a small file so that it is either fully there or not at all.
pub fn write_durably(path: &Path, data: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}
