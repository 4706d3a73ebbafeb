//! `add`: import through the UnixFS importer into the store, then pin.
//!
//! Order is what makes it crash-safe: all blocks are committed (fsynced) in
//! one batch, then the roots are pinned, and only then does the caller print
//! `added` lines. The whole add holds the repo's write guard, so a GC cannot
//! run between the block commit and the pin.

use crate::{Error, Node, Result};
use bytes::Bytes;
use ferrite_ipld::Cid;
use ferrite_store::{BlockWriter, Blockstore, Pin, PinMode};
use ferrite_unixfs::import::{
    self, AddEvent, AddInput, HamtSizeEstimation, ImportError, ImportOptions,
};
use ferrite_unixfs::BlockSink;
use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;

/// What to add.
pub enum AddSource {
    /// Files and folders on the local file system.
    Paths(Vec<PathBuf>),
    /// A byte stream (stdin, an HTTP body), named or reported under its CID.
    Reader {
        /// The data.
        reader: Box<dyn Read + Send>,
        /// `--stdin-name`.
        name: Option<String>,
    },
}

/// Options of `add` on top of the importer's.
#[derive(Debug, Clone, Default)]
pub struct AddOptions {
    /// Block and DAG settings (start from [`Node::import_defaults`]).
    pub import: ImportOptions,
    /// `-r`.
    pub recursive: bool,
    /// `-H`.
    pub hidden: bool,
    /// `-w`.
    pub wrap: bool,
    /// `-n`: hash only, store nothing.
    pub only_hash: bool,
    /// Pin the roots.
    pub pin: bool,
    /// Name for the pins.
    pub pin_name: String,
}

/// One `added <cid> <name>` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Added {
    /// The path as Kubo prints it.
    pub name: String,
    /// Its CID.
    pub cid: Cid,
    /// Its cumulative size.
    pub size: u64,
}

struct StoreSink<'a>(Box<dyn BlockWriter + 'a>);

impl BlockSink for StoreSink<'_> {
    fn put(&mut self, cid: &Cid, data: Bytes) -> std::io::Result<()> {
        Ok(self.0.put(cid, &data)?)
    }
}

/// `--only-hash`: blocks are made and hashed, then dropped.
struct NullSink;

impl BlockSink for NullSink {
    fn put(&mut self, _: &Cid, _: Bytes) -> std::io::Result<()> {
        Ok(())
    }
}

impl From<ImportError> for Error {
    fn from(e: ImportError) -> Self {
        match e {
            ImportError::Io(io) => Error::Io(io),
            other => Error::Invalid(other.to_string()),
        }
    }
}

impl Node {
    /// Import settings from the repo's `Import.*` config (Kubo's defaults
    /// where unset).
    pub fn import_defaults(&self) -> Result<ImportOptions> {
        let cfg = self.repo.config();
        let s = cfg.import().map_err(|e| Error::Invalid(e.to_string()))?;
        let mut o = ImportOptions::default();
        if s.hamt_size_estimation.as_deref() == Some("block") {
            o = ImportOptions::unixfs_v1_2025();
            o.cid_version = None;
            o.raw_leaves = None;
        }
        if let Some(v) = s.cid_version {
            o.cid_version = Some(v as u8);
        }
        if let Some(r) = s.raw_leaves {
            o.raw_leaves = Some(r);
        }
        if let Some(c) = &s.chunker {
            o.chunker = c
                .parse()
                .map_err(|e| Error::Invalid(format!("Import.UnixFSChunker: {e}")))?;
        }
        if let Some(h) = s.hash_function {
            o.hash = h;
        }
        if let Some(n) = s.file_max_links {
            o.max_links = n as usize;
        }
        if let Some(n) = s.directory_max_links {
            o.dir_max_links = n as usize;
        }
        if let Some(n) = s.hamt_max_fanout {
            o.hamt_fanout = n;
        }
        if let Some(n) = s.hamt_size_threshold {
            o.hamt_threshold = n as usize;
        }
        match s.hamt_size_estimation.as_deref() {
            Some("links") => o.hamt_estimation = HamtSizeEstimation::Links,
            Some("disabled") => o.hamt_estimation = HamtSizeEstimation::Disabled,
            _ => {}
        }
        if s.dag_layout.as_deref() == Some("trickle") {
            o.trickle = true;
        }
        Ok(o)
    }

    /// Adds files, folders or a stream. Returns every `added` entry in
    /// Kubo's order (the last is the final root); `progress` gets byte deltas.
    pub fn add(
        &self,
        source: AddSource,
        opts: &AddOptions,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Vec<Added>> {
        let inputs: Vec<AddInput<'_>> = match source {
            AddSource::Paths(paths) => paths.into_iter().map(AddInput::Path).collect(),
            AddSource::Reader { reader, name } => vec![AddInput::Reader { name, reader }],
        };
        let uopts = import::AddOptions {
            import: opts.import.clone(),
            recursive: opts.recursive,
            hidden: opts.hidden,
            wrap: opts.wrap,
            dereference_args: false,
        };
        let mut added = Vec::new();
        let mut seen_bytes: HashMap<String, u64> = HashMap::new();
        let mut on_event = |ev: AddEvent<'_>| match ev {
            AddEvent::Added { name, cid, size } => added.push(Added {
                name: name.to_string(),
                cid: *cid,
                size,
            }),
            AddEvent::Progress { name, bytes } => {
                let last = seen_bytes.entry(name.to_string()).or_insert(0);
                progress(bytes.saturating_sub(*last));
                *last = bytes;
            }
        };
        if opts.only_hash {
            import::add(inputs, &uopts, &mut NullSink, &mut on_event)?;
            return Ok(added);
        }
        let _guard = self.repo.write_guard();
        let mut sink = StoreSink(self.repo.blocks().writer()?);
        let roots = import::add(inputs, &uopts, &mut sink, &mut on_event)?;
        sink.0.commit()?;
        if opts.pin {
            let pins: Vec<Pin> = roots
                .iter()
                .map(|r| Pin {
                    cid: r.cid,
                    mode: PinMode::Recursive,
                    name: opts.pin_name.clone(),
                })
                .collect();
            self.repo.pins().insert(&pins)?;
        }
        Ok(added)
    }
}
