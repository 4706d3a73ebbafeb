//! `Import`: defaults for `add` and the other importers.

use ferrite_ipld::HashAlg;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{invalid, Result};
use crate::types::{hash_name, opt_byte_size, ser_opt_byte_size};
use crate::Config;

/// Import default CID version (unixfs-v0-2015).
pub const DEFAULT_CID_VERSION: u64 = 0;
/// Import default chunker (256 KiB fixed-size chunks).
pub const DEFAULT_CHUNKER: &str = "size-262144";
/// Import default hash function.
pub const DEFAULT_HASH_FUNCTION: &str = "sha2-256";
/// Import default links per UnixFS file node.
pub const DEFAULT_FILE_MAX_LINKS: u64 = 174;
/// Import default links per basic directory node (0 = no limit).
pub const DEFAULT_DIRECTORY_MAX_LINKS: u64 = 0;
/// Import default HAMT fanout.
pub const DEFAULT_HAMT_MAX_FANOUT: u64 = 256;
/// Import default: directories bigger than this (estimated) become HAMTs.
pub const DEFAULT_HAMT_SIZE_THRESHOLD: u64 = 256 * 1024;
/// Import default HAMT size estimation (`links`, `block` or `disabled`).
pub const DEFAULT_HAMT_SIZE_ESTIMATION: &str = "links";
/// Import default DAG layout (`balanced` or `trickle`).
pub const DEFAULT_DAG_LAYOUT: &str = "balanced";
/// Import default nodes per write batch.
pub const DEFAULT_BATCH_MAX_NODES: u64 = 128;
/// Import default bytes per write batch.
pub const DEFAULT_BATCH_MAX_SIZE: u64 = 100 << 20;

/// The `Import` section: defaults for `add` and other importers. `None`
/// means "not set in the config"; Kubo treats explicitly set values and
/// implicit defaults differently (e.g. an explicit CID version 1 implies raw
/// leaves unless raw leaves are set too), so both are kept apart. The
/// `effective_*` methods apply the defaults (the `unixfs-v0-2015` values).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ImportSettings {
    /// `Import.CidVersion` (0 or 1).
    pub cid_version: Option<u64>,
    /// `Import.UnixFSRawLeaves`.
    #[serde(rename = "UnixFSRawLeaves")]
    pub raw_leaves: Option<bool>,
    /// `Import.UnixFSChunker`: `size-N`, `rabin-MIN-AVG-MAX` or `buzhash`.
    #[serde(rename = "UnixFSChunker")]
    pub chunker: Option<String>,
    /// `Import.HashFunction` (names as on `--hash`, case-insensitive in the
    /// file).
    #[serde(with = "hash_name")]
    pub hash_function: Option<HashAlg>,
    /// `Import.UnixFSFileMaxLinks` (> 0).
    #[serde(rename = "UnixFSFileMaxLinks")]
    pub file_max_links: Option<u64>,
    /// `Import.UnixFSDirectoryMaxLinks` (0 = no limit).
    #[serde(rename = "UnixFSDirectoryMaxLinks")]
    pub directory_max_links: Option<u64>,
    /// `Import.UnixFSHAMTDirectoryMaxFanout` (power of two, 8..=1024).
    #[serde(rename = "UnixFSHAMTDirectoryMaxFanout")]
    pub hamt_max_fanout: Option<u64>,
    /// `Import.UnixFSHAMTDirectorySizeThreshold` in bytes.
    #[serde(
        rename = "UnixFSHAMTDirectorySizeThreshold",
        deserialize_with = "opt_byte_size",
        serialize_with = "ser_opt_byte_size"
    )]
    pub hamt_size_threshold: Option<u64>,
    /// `Import.UnixFSHAMTDirectorySizeEstimation`: `links`, `block` or
    /// `disabled`.
    #[serde(rename = "UnixFSHAMTDirectorySizeEstimation")]
    pub hamt_size_estimation: Option<String>,
    /// `Import.UnixFSDAGLayout`: `balanced` or `trickle`.
    #[serde(rename = "UnixFSDAGLayout")]
    pub dag_layout: Option<String>,
    /// `Import.BatchMaxNodes` (> 0).
    pub batch_max_nodes: Option<u64>,
    /// `Import.BatchMaxSize` in bytes (> 0).
    pub batch_max_size: Option<u64>,
    /// Keys Ferrite does not read, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ImportSettings {
    /// The hash function to use.
    pub fn effective_hash(&self) -> HashAlg {
        self.hash_function.unwrap_or_default()
    }

    /// The CID version to use: the configured one, except that a hash other
    /// than sha2-256 needs CIDv1 (as Kubo's CID builder decides).
    pub fn effective_cid_version(&self) -> u64 {
        if self.effective_hash() != HashAlg::Sha2_256 {
            return 1;
        }
        self.cid_version.unwrap_or(DEFAULT_CID_VERSION)
    }

    /// Whether leaves are raw blocks: the configured value, else true exactly
    /// when the effective CID version is 1 (Kubo's rule).
    pub fn effective_raw_leaves(&self) -> bool {
        self.raw_leaves
            .unwrap_or_else(|| self.effective_cid_version() >= 1)
    }

    /// The chunker string to use.
    pub fn effective_chunker(&self) -> &str {
        self.chunker.as_deref().unwrap_or(DEFAULT_CHUNKER)
    }

    /// Maximum links per UnixFS file node.
    pub fn effective_file_max_links(&self) -> u64 {
        self.file_max_links.unwrap_or(DEFAULT_FILE_MAX_LINKS)
    }

    /// Maximum links per basic directory node (0 = no limit).
    pub fn effective_directory_max_links(&self) -> u64 {
        self.directory_max_links
            .unwrap_or(DEFAULT_DIRECTORY_MAX_LINKS)
    }

    /// HAMT fanout.
    pub fn effective_hamt_max_fanout(&self) -> u64 {
        self.hamt_max_fanout.unwrap_or(DEFAULT_HAMT_MAX_FANOUT)
    }

    /// Directory size (bytes, estimated) above which a HAMT is built.
    pub fn effective_hamt_size_threshold(&self) -> u64 {
        self.hamt_size_threshold
            .unwrap_or(DEFAULT_HAMT_SIZE_THRESHOLD)
    }

    /// How directory size is estimated: `links`, `block` or `disabled`.
    pub fn effective_hamt_size_estimation(&self) -> &str {
        self.hamt_size_estimation
            .as_deref()
            .unwrap_or(DEFAULT_HAMT_SIZE_ESTIMATION)
    }

    /// DAG layout: `balanced` or `trickle`.
    pub fn effective_dag_layout(&self) -> &str {
        self.dag_layout.as_deref().unwrap_or(DEFAULT_DAG_LAYOUT)
    }
}

impl Config {
    /// The `Import` section, checked as Kubo checks it.
    pub fn import(&self) -> Result<ImportSettings> {
        let s: ImportSettings = self.section("Import")?;
        if let Some(v) = s.cid_version {
            if v > 1 {
                return Err(invalid(
                    "Import.CidVersion",
                    format!("must be 0 or 1, got {v}"),
                ));
            }
        }
        if s.file_max_links == Some(0) {
            return Err(invalid(
                "Import.UnixFSFileMaxLinks",
                "must be positive, got 0",
            ));
        }
        if let Some(f) = s.hamt_max_fanout {
            if !(8..=1024).contains(&f) || !f.is_power_of_two() {
                return Err(invalid(
                    "Import.UnixFSHAMTDirectoryMaxFanout",
                    format!("must be a power of 2, between 8 and 1024 (got {f})"),
                ));
            }
        }
        if let Some(c) = &s.chunker {
            if !valid_chunker(c) {
                return Err(invalid(
                    "Import.UnixFSChunker",
                    format!(
                        "invalid format {c:?} (expected \"size-<bytes>\", \
                         \"rabin-<min>-<avg>-<max>\", or \"buzhash\")"
                    ),
                ));
            }
        }
        if let Some(e) = &s.hamt_size_estimation {
            if !["links", "block", "disabled"].contains(&e.as_str()) {
                return Err(invalid(
                    "Import.UnixFSHAMTDirectorySizeEstimation",
                    format!("must be \"links\", \"block\", or \"disabled\", got {e:?}"),
                ));
            }
        }
        if let Some(l) = &s.dag_layout {
            if !["balanced", "trickle"].contains(&l.as_str()) {
                return Err(invalid(
                    "Import.UnixFSDAGLayout",
                    format!("must be \"balanced\" or \"trickle\", got {l:?}"),
                ));
            }
        }
        if s.batch_max_nodes == Some(0) {
            return Err(invalid("Import.BatchMaxNodes", "must be positive, got 0"));
        }
        if s.batch_max_size == Some(0) {
            return Err(invalid("Import.BatchMaxSize", "must be positive, got 0"));
        }
        Ok(s)
    }
}

/// Kubo's chunker syntax check: `buzhash`, `size-N` (N > 0) or
/// `rabin-MIN-AVG-MAX` with MIN ≤ AVG ≤ MAX.
fn valid_chunker(s: &str) -> bool {
    if s == "buzhash" {
        return true;
    }
    if let Some(n) = s.strip_prefix("size-") {
        return !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
            && n.parse::<u64>().is_ok_and(|n| n > 0);
    }
    if let Some(rest) = s.strip_prefix("rabin-") {
        let nums: Vec<_> = rest.split('-').map(|p| p.parse::<u64>()).collect();
        return match nums.as_slice() {
            [Ok(min), Ok(avg), Ok(max)] => min <= avg && avg <= max,
            _ => false,
        };
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn chunker_syntax() {
        for ok in [
            "size-262144",
            "size-1",
            "rabin-10-20-30",
            "rabin-1-1-1",
            "buzhash",
        ] {
            assert!(valid_chunker(ok), "{ok}");
        }
        for bad in [
            "size-",
            "size-0",
            "size--1",
            "size-x",
            "rabin-3-2-1",
            "rabin-1-2",
            "foo",
        ] {
            assert!(!valid_chunker(bad), "{bad}");
        }
    }
}
