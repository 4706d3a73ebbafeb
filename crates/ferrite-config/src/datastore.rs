//! `Datastore`: the limits that drive garbage collection.

use std::time::Duration;

use crate::error::{invalid, Result};
use crate::units::{parse_byte_size, parse_duration};
use crate::Config;

/// `Datastore.StorageMax` written at init and used when it is missing.
pub const DEFAULT_STORAGE_MAX: &str = "10GB";
/// `Datastore.StorageGCWatermark` (percent of StorageMax) at init.
pub const DEFAULT_STORAGE_GC_WATERMARK: u64 = 90;
/// `Datastore.GCPeriod` at init and when empty.
pub const DEFAULT_GC_PERIOD: &str = "1h";

/// `Datastore` limits that drive garbage collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatastoreSettings {
    /// `Datastore.StorageMax` in bytes ("10GB" = 10 000 000 000).
    pub storage_max: u64,
    /// `Datastore.StorageGCWatermark`: percent of `storage_max` at which
    /// automatic GC runs.
    pub storage_gc_watermark: u64,
    /// `Datastore.GCPeriod`: how often automatic GC checks.
    pub gc_period: Duration,
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
    /// `Datastore.StorageMax`, `StorageGCWatermark` and `GCPeriod`, with
    /// Kubo's defaults for empty or missing values.
    pub fn datastore(&self) -> Result<DatastoreSettings> {
        let storage_max = match self.opt_string("Datastore.StorageMax")? {
            Some(s) if !s.trim().is_empty() => {
                parse_byte_size(&s).map_err(|e| invalid("Datastore.StorageMax", e))?
            }
            _ => parse_byte_size(DEFAULT_STORAGE_MAX).expect("the default parses"),
        };
        let gc_period = match self.opt_string("Datastore.GCPeriod")? {
            Some(s) if !s.trim().is_empty() => {
                parse_duration(&s).map_err(|e| invalid("Datastore.GCPeriod", e))?
            }
            _ => parse_duration(DEFAULT_GC_PERIOD).expect("the default parses"),
        };
        Ok(DatastoreSettings {
            storage_max,
            storage_gc_watermark: self
                .opt_u64("Datastore.StorageGCWatermark")?
                .unwrap_or(DEFAULT_STORAGE_GC_WATERMARK),
            gc_period,
        })
    }

    /// `Datastore.StorageMax` in bytes.
    pub fn storage_max(&self) -> Result<u64> {
        Ok(self.datastore()?.storage_max)
    }
}
