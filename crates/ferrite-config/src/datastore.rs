//! `Datastore`: the limits that drive garbage collection.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::Result;
use crate::types::{byte_size_or, duration_or, ser_byte_size, ser_duration};
use crate::units::{parse_byte_size, parse_duration};
use crate::Config;

/// `Datastore.StorageMax` written at init and used when it is missing.
pub const DEFAULT_STORAGE_MAX: &str = "10GB";
/// `Datastore.StorageGCWatermark` (percent of StorageMax) at init.
pub const DEFAULT_STORAGE_GC_WATERMARK: u64 = 90;
/// `Datastore.GCPeriod` at init and when empty.
pub const DEFAULT_GC_PERIOD: &str = "1h";

/// The `Datastore` section: the limits that drive garbage collection.
/// Missing, `null` or empty values take Kubo's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DatastoreSettings {
    /// `Datastore.StorageMax` in bytes ("10GB" = 10 000 000 000).
    #[serde(
        deserialize_with = "byte_size_or::<_, 10_000_000_000>",
        serialize_with = "ser_byte_size"
    )]
    pub storage_max: u64,
    /// `Datastore.StorageGCWatermark`: percent of `storage_max` at which
    /// automatic GC runs.
    #[serde(rename = "StorageGCWatermark")]
    pub storage_gc_watermark: u64,
    /// `Datastore.GCPeriod`: how often automatic GC checks.
    #[serde(
        rename = "GCPeriod",
        deserialize_with = "duration_or::<_, 3600>",
        serialize_with = "ser_duration"
    )]
    pub gc_period: Duration,
    /// Keys Ferrite does not read (`Spec`, `HashOnRead`, …), kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for DatastoreSettings {
    fn default() -> Self {
        DatastoreSettings {
            storage_max: parse_byte_size(DEFAULT_STORAGE_MAX).expect("the default parses"),
            storage_gc_watermark: DEFAULT_STORAGE_GC_WATERMARK,
            gc_period: parse_duration(DEFAULT_GC_PERIOD).expect("the default parses"),
            extra: Map::new(),
        }
    }
}

impl DatastoreSettings {
    /// The repo size in bytes at which automatic GC starts
    /// (`storage_max × storage_gc_watermark / 100`).
    pub fn gc_threshold(&self) -> u64 {
        let t = u128::from(self.storage_max) * u128::from(self.storage_gc_watermark) / 100;
        u64::try_from(t).unwrap_or(u64::MAX)
    }
}

impl Config {
    /// The `Datastore` section.
    pub fn datastore(&self) -> Result<DatastoreSettings> {
        self.section("Datastore")
    }

    /// `Datastore.StorageMax` in bytes.
    pub fn storage_max(&self) -> Result<u64> {
        Ok(self.datastore()?.storage_max)
    }
}
