//! `dag get/put/resolve/stat/import/export`.

use crate::{Error, Node, Result};
use bytes::Bytes;
use ferrite_ipld::car::{CarReader, CarWriter};
use ferrite_ipld::dag::{self, DagPath, PutOptions};
use ferrite_ipld::Cid;
use ferrite_store::blockstore::put_verified;
use ferrite_store::{Blockstore, Pin, PinMode};
use std::io::{Read, Write};

/// Options of `dag import`.
#[derive(Debug, Clone, Copy)]
pub struct DagImportOptions {
    /// Pin each root named in a CAR header (recursively) when its DAG is
    /// complete (Kubo's `--pin-roots`, default true).
    pub pin_roots: bool,
    /// Accept blocks over [`ferrite_ipld::MAX_BLOCK_SIZE`].
    pub allow_big_block: bool,
}

impl Default for DagImportOptions {
    fn default() -> Self {
        DagImportOptions {
            pin_roots: true,
            allow_big_block: false,
        }
    }
}

/// The CAR streams of one `dag import`, taken one after the other (each is
/// read to its end before the next is asked for, so they may share one
/// underlying stream, such as a multipart body).
pub trait CarInputs {
    /// The next CAR stream, or `None` after the last.
    fn next_input(&mut self) -> Result<Option<Box<dyn Read + '_>>>;
}

impl<R: Read> CarInputs for std::vec::IntoIter<R> {
    fn next_input(&mut self) -> Result<Option<Box<dyn Read + '_>>> {
        Ok(self.next().map(|r| Box::new(r) as Box<dyn Read>))
    }
}

/// What `dag import` did.
#[derive(Debug, Clone, Default)]
pub struct DagImport {
    /// The roots named in the CAR header, with the pin outcome.
    pub roots: Vec<(Cid, std::result::Result<(), String>)>,
    /// Blocks read.
    pub blocks: u64,
    /// Bytes of block data read.
    pub bytes: u64,
}

impl Node {
    /// Blocks for path walks: local ones, and online the rest from the
    /// network (fetched blocks are stored like any other).
    fn loader(&self) -> impl FnMut(&Cid) -> ferrite_ipld::Result<Option<Bytes>> + '_ {
        let source = self.source();
        move |c: &Cid| {
            use ferrite_unixfs::BlockSource;
            source.get(c).map_err(ferrite_ipld::Error::Io)
        }
    }

    /// `dag get PATH`: the node (or the value at the path inside it),
    /// encoded with `output_codec`.
    pub fn dag_get(&self, path: &str, output_codec: u64) -> Result<Vec<u8>> {
        let path = DagPath::parse(path)?;
        let ipld = dag::get(&path, self.loader())?;
        Ok(dag::to_output(&ipld, output_codec)?)
    }

    /// `dag resolve PATH`: the CID the path ends in and what is left of it.
    pub fn dag_resolve(&self, path: &str) -> Result<(Cid, String)> {
        let path = DagPath::parse(path)?;
        let r = dag::resolve(&path, self.loader())?;
        Ok((r.cid, r.remainder.join("/")))
    }

    /// `dag put`: encodes `input` and stores it; optionally pins it.
    pub fn dag_put(&self, input: &[u8], opts: &PutOptions, pin: bool) -> Result<Cid> {
        let (cid, bytes) = dag::put(input, opts)?;
        let _g = self.repo.write_guard();
        let mut w = self.repo.blocks().writer()?;
        put_verified(w.as_mut(), &cid, &bytes)?;
        w.commit()?;
        if pin {
            self.repo
                .pins()
                .pin(self.repo.blocks(), &cid, PinMode::Recursive, "")?;
        }
        Ok(cid)
    }

    /// Calls `f` with each block of the DAG under `root`, each once. Online,
    /// missing blocks are fetched first; an error from `f` stops the walk
    /// and is returned.
    pub fn dag_walk(
        &self,
        root: &Cid,
        f: &mut dyn FnMut(&Cid, &[u8]) -> std::io::Result<()>,
    ) -> Result<()> {
        self.fetch_dag(root, &mut |_| {})?;
        ferrite_store::dag::walk(self.repo.blocks(), root, &mut |c, data| {
            f(c, data).map_err(ferrite_store::Error::Io)
        })?;
        Ok(())
    }

    /// `dag export`: writes the DAG under `root` as a CARv1 stream
    /// (depth-first, each block once). Returns bytes written.
    pub fn dag_export(&self, root: &Cid, out: &mut dyn Write) -> Result<u64> {
        self.fetch_dag(root, &mut |_| {})?;
        let mut car = CarWriter::new(out, &[*root])?;
        ferrite_store::dag::walk(self.repo.blocks(), root, &mut |c, data| {
            car.write_block(c, data)
                .map_err(|e| ferrite_store::Error::Io(std::io::Error::other(e)))
        })?;
        let n = car.bytes_written();
        car.finish()?;
        Ok(n)
    }

    /// `dag import`: reads CAR streams, verifying every block, stores them in
    /// one batch and pins the roots whose DAG is complete (with
    /// `pin_roots`). A truncated or corrupt CAR, or a block over the size
    /// limit, stores nothing. GC waits until the roots are pinned.
    pub fn dag_import(
        &self,
        inputs: &mut dyn CarInputs,
        opts: DagImportOptions,
    ) -> Result<DagImport> {
        let mut report = DagImport::default();
        let mut roots: Vec<Cid> = Vec::new();
        let _g = self.repo.write_guard();
        let mut w = self.repo.blocks().writer()?;
        while let Some(input) = inputs.next_input()? {
            let failed = |e: &dyn std::fmt::Display| Error::Invalid(format!("import failed: {e}"));
            let mut car = CarReader::new(input).map_err(|e| failed(&e))?;
            for r in car.roots() {
                if !roots.contains(r) {
                    roots.push(*r);
                }
            }
            let mut previous: Option<Cid> = None;
            loop {
                let (cid, data) = match car.next_block() {
                    Ok(Some(b)) => b,
                    Ok(None) => break,
                    Err(e) => {
                        return Err(Error::Invalid(match previous {
                            Some(p) => {
                                format!("import failed after block {:?}: {e}", p.to_string())
                            }
                            None => format!("import failed: {e}"),
                        }))
                    }
                };
                ferrite_ipld::check_block_size(data.len(), opts.allow_big_block).map_err(|e| {
                    Error::Invalid(format!("import failed at block {:?}: {e}", cid.to_string()))
                })?;
                report.blocks += 1;
                report.bytes += data.len() as u64;
                w.put(&cid, &data)?;
                previous = Some(cid);
            }
        }
        w.commit()?;
        for root in roots {
            let outcome = if opts.pin_roots {
                match ferrite_store::dag::walk(self.repo.blocks(), &root, &mut |_, _| Ok(())) {
                    Ok(()) => {
                        self.repo.pins().insert(&[Pin {
                            cid: root,
                            mode: PinMode::Recursive,
                            name: String::new(),
                        }])?;
                        Ok(())
                    }
                    Err(e) => Err(e.to_string()),
                }
            } else {
                Ok(())
            };
            report.roots.push((root, outcome));
        }
        Ok(report)
    }
}
