//! `dag get/put/resolve/stat/import/export`.

use crate::{Error, Node, Result};
use bytes::Bytes;
use ferrite_ipld::car::{CarReader, CarWriter};
use ferrite_ipld::dag::{self, DagPath, PutOptions};
use ferrite_ipld::Cid;
use ferrite_store::blockstore::put_verified;
use ferrite_store::{Blockstore, Pin, PinMode};
use std::collections::HashSet;
use std::io::{Read, Write};

/// Totals of `dag stat`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DagStat {
    /// Per root: (cid, unique blocks, bytes).
    pub dags: Vec<(Cid, u64, u64)>,
    /// Bytes over all roots, each block counted once.
    pub total_size: u64,
    /// Blocks over all roots, each counted once.
    pub unique_blocks: u64,
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
    fn loader(&self) -> impl FnMut(&Cid) -> ferrite_ipld::Result<Option<Bytes>> + '_ {
        move |c: &Cid| {
            self.repo
                .blocks()
                .get(c)
                .map_err(|e| ferrite_ipld::Error::Io(e.into()))
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

    /// `dag stat`: block count and size of each DAG and of their union.
    pub fn dag_stat(&self, paths: &[String]) -> Result<DagStat> {
        let mut stat = DagStat::default();
        let mut all: HashSet<Cid> = HashSet::new();
        for p in paths {
            let (root, rest) = self.dag_resolve(p)?;
            if !rest.is_empty() {
                return Err(Error::Invalid(format!("{p}: path does not end in a block")));
            }
            let (mut n, mut size) = (0, 0);
            self.fetch_dag(&root, &mut |_| {})?;
            ferrite_store::dag::walk(self.repo.blocks(), &root, &mut |c, data| {
                n += 1;
                size += data.len() as u64;
                if all.insert(*c) {
                    stat.unique_blocks += 1;
                    stat.total_size += data.len() as u64;
                }
                Ok(())
            })?;
            stat.dags.push((root, n, size));
        }
        Ok(stat)
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
    /// one batch and pins the roots (`pin_roots`). A truncated or corrupt
    /// CAR stores nothing.
    pub fn dag_import(
        &self,
        inputs: Vec<Box<dyn Read + '_>>,
        pin_roots: bool,
    ) -> Result<DagImport> {
        let mut report = DagImport::default();
        let mut roots = Vec::new();
        let _g = self.repo.write_guard();
        let mut w = self.repo.blocks().writer()?;
        for input in inputs {
            let mut car = CarReader::new(input)?;
            roots.extend_from_slice(car.roots());
            while let Some((cid, data)) = car.next_block()? {
                report.blocks += 1;
                report.bytes += data.len() as u64;
                w.put(&cid, &data)?;
            }
        }
        w.commit()?;
        for root in roots {
            let outcome = if pin_roots {
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
