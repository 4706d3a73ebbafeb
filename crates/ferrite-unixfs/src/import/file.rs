//! Files: chunks into leaves, leaves into a balanced or trickle tree, as
//! boxo's `importer/balanced` and `importer/trickle` build them.
//!
//! Both layouts are built depth-first while reading, so memory stays at one
//! pending chunk plus at most `max_links` links per tree level.

use super::{ImportError, ImportOptions, Writer};
use crate::chunker::{Chunk, Chunker, BLOCK_SIZE_LIMIT};
use crate::pb::{DataType, UnixFsData};
use crate::BlockSink;
use bytes::Bytes;
use ferrite_ipld::dagpb::{PbLink, PbNode};
use ferrite_ipld::proto;
use ferrite_ipld::{codecs, Cid};
use std::io::{self, Read};

/// The result of importing one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Imported {
    /// The root CID.
    pub cid: Cid,
    /// Kubo's "Size": the root block plus every block below it (cumulative
    /// Tsize).
    pub size: u64,
    /// Bytes of file content.
    pub file_size: u64,
}

/// Imports a byte stream as a UnixFS file and returns its root.
///
/// `progress` is called with the number of bytes read so far after each
/// chunk. Blocks are written to `sink` children first, root last.
pub fn import_file<R: Read>(
    reader: R,
    opts: &ImportOptions,
    sink: &mut dyn BlockSink,
    progress: &mut dyn FnMut(u64),
) -> Result<Imported, ImportError> {
    let settings = opts.settings()?;
    let mut b = FileBuilder {
        chunks: opts.chunker.chunker(reader),
        next: None,
        peeked: false,
        w: Writer::new(sink, settings),
        read: 0,
        progress,
    };
    let root = if opts.trickle {
        b.trickle()?
    } else {
        b.balanced()?
    };
    Ok(Imported {
        cid: root.cid,
        size: root.tsize,
        file_size: root.file_size,
    })
}

/// A finished child: what its parent's link and blocksizes need.
struct Child {
    cid: Cid,
    /// Cumulative size (block + everything below).
    tsize: u64,
    /// File bytes under it.
    file_size: u64,
}

struct FileBuilder<'a, 'p, R> {
    chunks: Chunker<R>,
    /// One chunk of look-ahead, like boxo's `DagBuilderHelper.Done()`.
    next: Option<Chunk>,
    peeked: bool,
    w: Writer<'a>,
    read: u64,
    progress: &'p mut dyn FnMut(u64),
}

/// Appends a varint to a small stack buffer.
fn varint(out: &mut Vec<u8>, v: u64) {
    proto::put_varint(out, v);
}

impl<R: Read> FileBuilder<'_, '_, R> {
    /// Whether the input is exhausted.
    fn done(&mut self) -> io::Result<bool> {
        if !self.peeked {
            self.next = self.chunks.next_chunk()?;
            self.peeked = true;
            if let Some(c) = &self.next {
                self.read += c.len() as u64;
                (self.progress)(self.read);
            }
        }
        Ok(self.next.is_none())
    }

    /// The next chunk; only called after `done()` returned false.
    fn take(&mut self) -> io::Result<Chunk> {
        self.done()?;
        self.peeked = false;
        Ok(self.next.take().expect("take() after done() == false"))
    }

    /// A leaf from the next chunk: a raw block, or a dag-pb node whose
    /// UnixFS Data is `{Type: kind, Data: chunk, filesize: len}`.
    fn leaf(&mut self, kind: DataType) -> Result<Child, ImportError> {
        let chunk = self.take()?;
        let n = chunk.len() as u64;
        if chunk.len() > BLOCK_SIZE_LIMIT {
            return Err(ImportError::Io(io::Error::other(
                "object size limit exceeded",
            )));
        }
        let (codec, block) = if self.w.s.raw_leaves {
            (codecs::RAW, chunk.into_bytes())
        } else {
            (codecs::DAG_PB, Self::wrap_leaf(chunk, kind))
        };
        let tsize = block.len() as u64;
        let cid = self.w.put(codec, block)?;
        Ok(Child {
            cid,
            tsize,
            file_size: n,
        })
    }

    /// Encodes `PbNode{Data: UnixFs{Type, Data, filesize}}` around the chunk
    /// in place; equal to encoding it with `PbNode`/`UnixFsData`.
    fn wrap_leaf(chunk: Chunk, kind: DataType) -> Bytes {
        let n = chunk.len() as u64;
        let vn = proto::varint_len(n) as u64;
        // 08 kind | 12 vn data | 18 vn
        let inner = 2 + 1 + vn + n + 1 + vn;
        let mut prefix = Vec::with_capacity(16);
        prefix.push(0x0a);
        varint(&mut prefix, inner);
        prefix.extend_from_slice(&[0x08, kind as u8, 0x12]);
        varint(&mut prefix, n);
        let mut suffix = Vec::with_capacity(11);
        suffix.push(0x18);
        varint(&mut suffix, n);
        chunk.framed(&prefix, &suffix)
    }

    /// The leaf of an empty file (boxo `NewLeafNode(nil, TFile)`).
    fn empty_file(&mut self) -> Result<Child, ImportError> {
        let (codec, block) = if self.w.s.raw_leaves {
            (codecs::RAW, Bytes::new())
        } else {
            let mut d = UnixFsData::new(DataType::File);
            d.filesize = Some(0);
            let node = PbNode {
                links: Vec::new(),
                data: Some(d.encode()),
            };
            (codecs::DAG_PB, Bytes::from(node.encode()))
        };
        let tsize = block.len() as u64;
        let cid = self.w.put(codec, block)?;
        Ok(Child {
            cid,
            tsize,
            file_size: 0,
        })
    }

    /// An internal file node over `children` (links with empty names,
    /// Data = `{Type: File, filesize, blocksizes}`).
    fn commit(&mut self, children: Vec<Child>) -> Result<Child, ImportError> {
        let mut data = UnixFsData::new(DataType::File);
        data.blocksizes = children.iter().map(|c| c.file_size).collect();
        let file_size = data.blocksizes.iter().sum();
        data.filesize = Some(file_size);
        let mut below = 0;
        let links = children
            .into_iter()
            .map(|c| {
                below += c.tsize;
                PbLink {
                    cid: c.cid,
                    name: Some(String::new()),
                    tsize: Some(c.tsize),
                }
            })
            .collect();
        let block = PbNode {
            links,
            data: Some(data.encode()),
        }
        .encode();
        let tsize = block.len() as u64 + below;
        let cid = self.w.put(codecs::DAG_PB, Bytes::from(block))?;
        Ok(Child {
            cid,
            tsize,
            file_size,
        })
    }

    /// boxo `balanced.Layout`: a single chunk is its own root; otherwise
    /// the tree grows a level whenever the current root is full.
    fn balanced(&mut self) -> Result<Child, ImportError> {
        if self.done()? {
            return self.empty_file();
        }
        let mut root = self.leaf(DataType::File)?;
        let mut depth = 1;
        while !self.done()? {
            let mut children = Vec::with_capacity(self.w.s.max_links);
            children.push(root);
            self.fill_balanced(&mut children, depth)?;
            root = self.commit(children)?;
            depth += 1;
        }
        Ok(root)
    }

    /// boxo `fillNodeRec`: fill a node of `depth` with full subtrees.
    fn fill_balanced(&mut self, children: &mut Vec<Child>, depth: u32) -> Result<(), ImportError> {
        while children.len() < self.w.s.max_links && !self.done()? {
            let child = if depth == 1 {
                self.leaf(DataType::File)?
            } else {
                let mut sub = Vec::with_capacity(self.w.s.max_links);
                self.fill_balanced(&mut sub, depth - 1)?;
                self.commit(sub)?
            };
            children.push(child);
        }
        Ok(())
    }

    /// boxo `trickle.Layout`: the root always wraps the data, even a single
    /// chunk; leaves are UnixFS `Raw` nodes unless raw leaves are on.
    fn trickle(&mut self) -> Result<Child, ImportError> {
        let mut children = Vec::new();
        self.fill_trickle(&mut children, None)?;
        self.commit(children)
    }

    /// boxo `fillTrickleRec`: a layer of up to `max_links` leaves, then for
    /// depth 1, 2, … (below `max_depth`) up to four subtrees of that depth.
    fn fill_trickle(
        &mut self,
        children: &mut Vec<Child>,
        max_depth: Option<u32>,
    ) -> Result<(), ImportError> {
        const DEPTH_REPEAT: usize = 4;
        while children.len() < self.w.s.max_links && !self.done()? {
            let leaf = self.leaf(DataType::Raw)?;
            children.push(leaf);
        }
        let mut depth = 1;
        while max_depth.is_none_or(|m| depth < m) && !self.done()? {
            for _ in 0..DEPTH_REPEAT {
                if self.done()? {
                    break;
                }
                let mut sub = Vec::new();
                self.fill_trickle(&mut sub, Some(depth))?;
                let child = self.commit(sub)?;
                children.push(child);
            }
            depth += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cid_of(data: &[u8], opts: &ImportOptions) -> (Imported, HashMap<Cid, Bytes>) {
        let mut store = HashMap::new();
        let r = import_file(data, opts, &mut store, &mut |_| {}).unwrap();
        (r, store)
    }

    #[test]
    fn in_place_leaf_equals_pbnode_encoding() {
        for len in [0usize, 1, 127, 128, 300, 16384, 262144] {
            let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
            for kind in [DataType::File, DataType::Raw] {
                let fast = FileBuilder::<&[u8]>::wrap_leaf(Chunk::copy_from(&data), kind);
                let mut d = UnixFsData::new(kind);
                d.data = Some(data.clone());
                d.filesize = Some(len as u64);
                let slow = PbNode {
                    links: vec![],
                    data: Some(d.encode()),
                }
                .encode();
                assert_eq!(&fast[..], &slow[..], "len {len}");
            }
        }
    }

    #[test]
    fn empty_file_is_kubos_empty_node() {
        let (r, store) = cid_of(b"", &ImportOptions::default());
        assert_eq!(
            r.cid.to_string(),
            "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"
        );
        assert_eq!(r.size, 6);
        assert_eq!(store.len(), 1);
        let trickle = ImportOptions {
            trickle: true,
            ..Default::default()
        };
        assert_eq!(cid_of(b"", &trickle).0.cid, r.cid);
    }

    #[test]
    fn reader_errors_surface() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk on fire"))
            }
        }
        let e = import_file(
            Broken,
            &ImportOptions::default(),
            &mut HashMap::new(),
            &mut |_| {},
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "disk on fire");
    }

    #[test]
    fn progress_reports_cumulative_bytes() {
        let data = vec![7u8; 1000];
        let opts = ImportOptions {
            chunker: crate::chunker::ChunkerSpec::Size(300),
            ..Default::default()
        };
        let mut seen = Vec::new();
        import_file(&data[..], &opts, &mut HashMap::new(), &mut |n| seen.push(n)).unwrap();
        assert_eq!(seen, vec![300, 600, 900, 1000]);
    }
}
