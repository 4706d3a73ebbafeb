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
    self, AddEvent, AddInput, DirEntry, DirTree, HamtSizeEstimation, ImportError, ImportOptions,
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
        self.import_and_pin(opts, |sink| {
            let roots = import::add(inputs, &uopts, sink, &mut on_event)?;
            Ok(roots.into_iter().map(|r| r.cid).collect())
        })?;
        Ok(added)
    }
}

/// One entry of a streamed upload (an HTTP multipart part), in the order it
/// arrives. Folders may be announced by a [`AddEntryKind::Dir`] entry or be
/// implied by their contents' paths, as go-ipfs-cmds clients send them.
pub struct AddEntry {
    /// Slash-separated relative path (`""` for an unnamed top-level file,
    /// which is then reported under its CID, like stdin).
    pub path: String,
    /// What it is.
    pub kind: AddEntryKind,
}

/// The kind of an [`AddEntry`].
pub enum AddEntryKind {
    /// A folder.
    Dir,
    /// A file, read to its end before the next entry is asked for.
    File(Box<dyn Read + Send>),
    /// A symbolic link to the target.
    Symlink(String),
}

/// Progress of one file of [`Node::add_entries`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileProgress<'a> {
    /// The file's name as `added` reports it.
    pub name: &'a str,
    /// Bytes read so far.
    pub bytes: u64,
    /// Whether the file has been read to its end (`bytes` is its size).
    pub done: bool,
}

/// Go's `path.Clean("/" + p)` split into components: empty and `.` parts
/// dropped, `..` climbing but never above the root.
fn clean_components(p: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

/// The top-level entry an upload is currently inside (without wrapping,
/// each top-level entry is a separate import with its own root, as Kubo's
/// `add` iterates over the request's top-level files).
enum Top {
    /// A folder being filled; `name` may be `""` (a folder part named `/`
    /// takes every following part).
    Dir { name: String, tree: DirTree },
    /// A file or symlink: parts below its name are skipped, as boxo does.
    Leaf { name: String },
}

/// Imports [`AddEntry`]s into a sink, collecting `added` rows and roots.
struct EntryImporter<'a> {
    opts: &'a ImportOptions,
    sink: &'a mut dyn BlockSink,
    progress: &'a mut dyn FnMut(FileProgress<'_>),
    added: Vec<Added>,
    roots: Vec<Cid>,
}

impl EntryImporter<'_> {
    /// Imports a file or symlink; `display` is its reported name.
    fn leaf(&mut self, kind: AddEntryKind, display: &str) -> Result<Option<DirEntry>> {
        match kind {
            AddEntryKind::Dir => Ok(None),
            AddEntryKind::File(reader) => {
                let progress = &mut *self.progress;
                let r = import::import_file(reader, self.opts, self.sink, &mut |bytes| {
                    progress(FileProgress {
                        name: display,
                        bytes,
                        done: false,
                    })
                })?;
                (self.progress)(FileProgress {
                    name: display,
                    bytes: r.file_size,
                    done: true,
                });
                Ok(Some(DirEntry {
                    cid: r.cid,
                    tsize: r.size,
                }))
            }
            AddEntryKind::Symlink(target) => Ok(Some(import::import_symlink(
                target.as_bytes(),
                self.opts,
                self.sink,
            )?)),
        }
    }

    /// An entry at `rel` inside a folder tree reported under `prefix`.
    fn put_in_tree(
        &mut self,
        tree: &mut DirTree,
        prefix: &str,
        rel: &str,
        kind: AddEntryKind,
    ) -> Result<()> {
        if let AddEntryKind::Dir = kind {
            tree.mkdir(rel)?;
            return Ok(());
        }
        let display = join(prefix, rel);
        if let Some(e) = self.leaf(kind, &display)? {
            tree.put(rel, e)?;
            self.report(display, e);
        }
        Ok(())
    }

    fn report(&mut self, name: String, e: DirEntry) {
        self.added.push(Added {
            name,
            cid: e.cid,
            size: e.tsize,
        });
    }

    /// Builds a folder tree, reporting its folders (root last) under `name`.
    fn finish_tree(&mut self, tree: DirTree, name: &str) -> Result<()> {
        let added = &mut self.added;
        let built = tree.finish(self.opts, self.sink, &mut |path, cid, size| {
            added.push(Added {
                name: join(name, path),
                cid: *cid,
                size,
            })
        })?;
        self.roots.push(built.cid);
        Ok(())
    }

    fn finish_top(&mut self, top: Option<Top>) -> Result<()> {
        if let Some(Top::Dir { name, tree }) = top {
            self.finish_tree(tree, &name)?;
        }
        Ok(())
    }
}

/// Go's `path.Join` of a prefix and a relative path.
fn join(prefix: &str, rel: &str) -> String {
    match (prefix.is_empty(), rel.is_empty()) {
        (true, _) => rel.to_owned(),
        (false, true) => prefix.to_owned(),
        (false, false) => format!("{prefix}/{rel}"),
    }
}

impl Node {
    /// Adds a stream of entries as they arrive (an HTTP multipart upload),
    /// with the semantics of Kubo's `add` over its RPC API: each top-level
    /// entry is imported on its own (unless `opts.wrap`), folders are built
    /// after their contents, and `added` rows come in Kubo's order.
    ///
    /// Crash-safety is [`Node::add`]'s: blocks are committed, then roots
    /// pinned, then the rows returned; an error from `entries` (a client that
    /// went away) leaves nothing committed or pinned. `opts.recursive` and
    /// `opts.hidden` do not apply: the sender already chose what to send.
    pub fn add_entries(
        &self,
        entries: &mut dyn Iterator<Item = Result<AddEntry>>,
        opts: &AddOptions,
        progress: &mut dyn FnMut(FileProgress<'_>),
    ) -> Result<Vec<Added>> {
        opts.import.validate()?;
        let mut added = Vec::new();
        self.import_and_pin(opts, |sink| {
            let (rows, roots) = self.import_entries(entries, opts, sink, progress)?;
            added = rows;
            Ok(roots)
        })?;
        Ok(added)
    }

    /// Runs `import` into the store (or, with `only_hash`, into nothing)
    /// and pins the roots it returns. The order is what makes adds
    /// crash-safe: every block is committed (fsynced) before any pin, and the
    /// repo's write guard keeps GC out from the first block to the pin.
    fn import_and_pin(
        &self,
        opts: &AddOptions,
        import: impl FnOnce(&mut dyn BlockSink) -> Result<Vec<Cid>>,
    ) -> Result<()> {
        if opts.only_hash {
            import(&mut NullSink)?;
            return Ok(());
        }
        let _guard = self.repo.write_guard();
        let mut sink = StoreSink(self.repo.blocks().writer()?);
        let roots = import(&mut sink)?;
        sink.0.commit()?;
        if opts.pin {
            let pins: Vec<Pin> = roots
                .into_iter()
                .map(|cid| Pin {
                    cid,
                    mode: PinMode::Recursive,
                    name: opts.pin_name.clone(),
                })
                .collect();
            let roots: Vec<Cid> = pins.iter().map(|p| p.cid).collect();
            self.repo.pins().insert(&pins)?;
            self.announce(&roots);
        } else {
            self.announce(&roots);
        }
        Ok(())
    }

    fn import_entries(
        &self,
        entries: &mut dyn Iterator<Item = Result<AddEntry>>,
        opts: &AddOptions,
        sink: &mut dyn BlockSink,
        progress: &mut dyn FnMut(FileProgress<'_>),
    ) -> Result<(Vec<Added>, Vec<Cid>)> {
        let mut imp = EntryImporter {
            opts: &opts.import,
            sink,
            progress,
            added: Vec::new(),
            roots: Vec::new(),
        };
        let mut seen = false;
        if opts.wrap {
            // Kubo wraps the whole request as one folder named "".
            let mut tree = DirTree::new();
            for entry in entries {
                let AddEntry { path, kind } = entry?;
                seen = true;
                let comps = clean_components(&path);
                if comps.is_empty() {
                    // An unnamed file goes in under its CID, as Kubo's MFS
                    // adder names it.
                    if let Some(e) = imp.leaf(kind, "")? {
                        let name = e.cid.to_string();
                        tree.put(&name, e)?;
                        imp.report(name, e);
                    }
                    continue;
                }
                imp.put_in_tree(&mut tree, "", &comps.join("/"), kind)?;
            }
            if !seen {
                return Err(Error::Invalid("expected a file argument".into()));
            }
            imp.finish_tree(tree, "")?;
            return Ok((imp.added, imp.roots));
        }
        let mut top: Option<Top> = None;
        for entry in entries {
            let AddEntry { path, kind } = entry?;
            seen = true;
            let comps = clean_components(&path);
            match &mut top {
                Some(Top::Dir { name, tree }) if name.is_empty() || is_under(&comps, name) => {
                    let skip = usize::from(!name.is_empty());
                    if comps.len() > skip {
                        let rel = comps[skip..].join("/");
                        let prefix = name.clone();
                        imp.put_in_tree(tree, &prefix, &rel, kind)?;
                    }
                    continue;
                }
                Some(Top::Leaf { name }) if is_under(&comps, name) => {
                    // boxo skips parts below a file; their bytes are drained
                    // so the stream can go on.
                    if let AddEntryKind::File(mut r) = kind {
                        std::io::copy(&mut r, &mut std::io::sink())?;
                    }
                    continue;
                }
                _ => {}
            }
            imp.finish_top(top.take())?;
            let name = comps.first().copied().unwrap_or("").to_owned();
            if comps.len() > 1 {
                // A path below a folder that was never announced.
                let mut tree = DirTree::new();
                imp.put_in_tree(&mut tree, &name, &comps[1..].join("/"), kind)?;
                top = Some(Top::Dir { name, tree });
                continue;
            }
            match kind {
                AddEntryKind::Dir => {
                    top = Some(Top::Dir {
                        name,
                        tree: DirTree::new(),
                    })
                }
                kind => {
                    if let Some(e) = imp.leaf(kind, &name)? {
                        let shown = if name.is_empty() {
                            e.cid.to_string()
                        } else {
                            name.clone()
                        };
                        imp.report(shown, e);
                        imp.roots.push(e.cid);
                    }
                    top = Some(Top::Leaf { name });
                }
            }
        }
        if !seen {
            return Err(Error::Invalid("expected a file argument".into()));
        }
        imp.finish_top(top)?;
        Ok((imp.added, imp.roots))
    }
}

/// Whether `comps` names something strictly below the top-level `name`.
fn is_under(comps: &[&str], name: &str) -> bool {
    comps.len() > 1 && comps[0] == name
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrite_config::Config;

    fn node() -> (tempfile::TempDir, Node) {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        Repo::init(&repo, &Config::init(&["test"]).unwrap()).unwrap();
        let node = Node::open(&repo).unwrap();
        (dir, node)
    }

    fn file(path: &str, data: &'static [u8]) -> Result<AddEntry> {
        Ok(AddEntry {
            path: path.into(),
            kind: AddEntryKind::File(Box::new(data)),
        })
    }

    fn dir(path: &str) -> Result<AddEntry> {
        Ok(AddEntry {
            path: path.into(),
            kind: AddEntryKind::Dir,
        })
    }

    fn opts(node: &Node) -> AddOptions {
        AddOptions {
            import: node.import_defaults().unwrap(),
            pin: true,
            ..Default::default()
        }
    }

    use crate::repo::Repo;

    #[test]
    fn entries_follow_boxo_part_rules() {
        let (tmp, node) = node();
        let entries = vec![
            file("a/x", b"x\n"),
            file("/a//y", b"y\n"),
            file("b", b"b\n"),
            file("b/ignored", b"under a file\n"),
            dir("c"),
            file("c/../c/w", b"w\n"),
        ];
        let mut seen = Vec::new();
        let added = node
            .add_entries(&mut entries.into_iter(), &opts(&node), &mut |p| {
                if p.done {
                    seen.push((p.name.to_owned(), p.bytes));
                }
            })
            .unwrap();
        let names: Vec<&str> = added.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["a/x", "a/y", "a", "b", "c/w", "c"]);
        assert_eq!(seen[0], ("a/x".to_owned(), 2));
        assert_eq!(seen.len(), 4, "the skipped part is drained, not imported");
        // "a" is the folder `add -r` makes of the same files.
        let disk = tmp.path().join("a");
        std::fs::create_dir(&disk).unwrap();
        std::fs::write(disk.join("x"), b"x\n").unwrap();
        std::fs::write(disk.join("y"), b"y\n").unwrap();
        let mut o = opts(&node);
        o.recursive = true;
        o.only_hash = true;
        let cli = node
            .add(AddSource::Paths(vec![disk]), &o, &mut |_| {})
            .unwrap();
        assert_eq!(cli.last().unwrap().cid, added[2].cid);
        let pins = node.pin_ls(&[], crate::PinLsType::Recursive).unwrap();
        assert_eq!(pins.len(), 3);
    }

    #[test]
    fn wrapped_unnamed_file_is_named_by_its_cid() {
        let (_tmp, node) = node();
        let mut o = opts(&node);
        o.wrap = true;
        let added = node
            .add_entries(&mut vec![file("", b"stdin")].into_iter(), &o, &mut |_| {})
            .unwrap();
        assert_eq!(added.len(), 2);
        assert_eq!(added[0].name, added[0].cid.to_string());
        assert_eq!(added[1].name, "");
        let empty: Vec<Result<AddEntry>> = Vec::new();
        assert!(node
            .add_entries(&mut empty.into_iter(), &o, &mut |_| {})
            .is_err());
    }

    #[test]
    fn a_failing_stream_commits_and_pins_nothing() {
        let (_tmp, node) = node();
        let entries = vec![
            dir("d"),
            file("d/ok", b"fine\n"),
            Err(Error::Io(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "client went away",
            ))),
        ];
        let r = node.add_entries(&mut entries.into_iter(), &opts(&node), &mut |_| {});
        assert!(r.is_err());
        assert!(node.pin_ls(&[], crate::PinLsType::All).unwrap().is_empty());
        assert_eq!(node.repo_stat().unwrap().num_objects, 0);
    }
}
