//! Ferrite's repository: the crash-safe block store, pins and garbage
//! collection. The config file is `ferrite-config`'s; the repo only knows
//! where it lives.
//!
//! - [`Blockstore`]: the storage trait; [`PackStore`] is the default backend.
//! - [`Pins`]: the persistent pinset; [`gc`]: mark and sweep.
//! - [`Repo`]: the on-disk repo (`$FERRITE_PATH`): lock, version, store and
//!   pins, plus the GC lock that keeps GC and adds apart.

pub mod blockstore;
pub mod dag;
mod error;
pub mod gc;
pub mod packstore;
pub mod pins;
pub mod repo;

pub use blockstore::{BlockWriter, Blockstore, StoreStat};
pub use error::{Error, Result};
pub use packstore::PackStore;
pub use pins::{Pin, PinMode, PinStatus, Pins};
pub use repo::Repo;
