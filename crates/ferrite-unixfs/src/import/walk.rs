//! `ipfs add` over the file system: walking paths, the hidden-file rule,
//! symlinks, wrapping and the order of `added` lines
//! (kubo `core/commands/add.go` + `core/coreunix/add.go`, boxo `files`).
//!
//! Kubo reports each file and symlink as soon as it is imported (directory
//! entries in byte order of their names, depth first), then every directory
//! after its contents, and the root last. Without `wrap`, each top-level
//! argument is a separate import with its own root.

use super::dir::{DirEntry, DirTree};
use super::file::import_file;
use super::{ImportError, ImportOptions, Writer};
use crate::pb::{DataType, UnixFsData};
use crate::BlockSink;
use bytes::Bytes;
use ferrite_ipld::dagpb::PbNode;
use ferrite_ipld::{codecs, Cid};
use std::cell::Cell;
use std::ffi::OsStr;
use std::fs::{self, File, Metadata};
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// `ipfs add` flags on top of the [`ImportOptions`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddOptions {
    /// Block and DAG settings.
    pub import: ImportOptions,
    /// `-r`: directories are allowed (and walked).
    pub recursive: bool,
    /// `-H`: include files whose names start with a dot inside directories
    /// (top-level arguments are always added).
    pub hidden: bool,
    /// `-w`: put all inputs in one directory and return only that.
    pub wrap: bool,
    /// `--dereference-args`: follow symlinks given as arguments instead of
    /// adding them as symlink nodes.
    pub dereference_args: bool,
}

/// One thing to add.
pub enum AddInput<'r> {
    /// A path on the local file system; its name is its base name.
    Path(PathBuf),
    /// A byte stream (stdin). Without a name it is reported under its CID,
    /// and wrapped under its CID, like Kubo.
    Reader {
        /// `--stdin-name`.
        name: Option<String>,
        /// The data.
        reader: Box<dyn Read + 'r>,
    },
}

/// What `add` reports while it works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddEvent<'a> {
    /// An entry is done: Kubo's `added <cid> <name>` line (`Size` is the
    /// cumulative size).
    Added {
        /// Path as Kubo prints it (`dir/sub/file`; `""` for the wrapper).
        name: &'a str,
        /// Its CID.
        cid: &'a Cid,
        /// Its cumulative size.
        size: u64,
    },
    /// Bytes of the file `name` read so far.
    Progress {
        /// The file being read.
        name: &'a str,
        /// Bytes read so far.
        bytes: u64,
    },
}

/// A root produced by [`add`]: one per input, or the wrapper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddedRoot {
    /// The name it was reported under.
    pub name: String,
    /// Its CID.
    pub cid: Cid,
    /// Its cumulative size.
    pub size: u64,
}

/// Adds a single path (see [`add`]).
pub fn import_path(
    path: &Path,
    opts: &AddOptions,
    sink: &mut dyn BlockSink,
    on_event: &mut dyn FnMut(AddEvent<'_>),
) -> Result<AddedRoot, ImportError> {
    let mut roots = add(vec![AddInput::Path(path.to_owned())], opts, sink, on_event)?;
    Ok(roots.remove(0))
}

/// Adds files, folders and streams as `ipfs add` does, reporting entries
/// through `on_event` in Kubo's order. Returns one root per input, or only
/// the wrapping directory when `opts.wrap` is set.
pub fn add(
    inputs: Vec<AddInput<'_>>,
    opts: &AddOptions,
    sink: &mut dyn BlockSink,
    on_event: &mut dyn FnMut(AddEvent<'_>),
) -> Result<Vec<AddedRoot>, ImportError> {
    opts.import.settings()?; // fail before touching any input
    if inputs.is_empty() {
        return Err(ImportError::Unsupported("expected a file argument".into()));
    }
    let mut adder = Adder {
        opts,
        sink,
        on_event,
    };
    if opts.wrap {
        let mut tree = DirTree::new();
        for input in inputs {
            adder.add_into(input, &mut tree)?;
        }
        let root = adder.finish_tree(tree, "")?;
        return Ok(vec![root]);
    }
    let mut roots = Vec::new();
    for input in inputs {
        roots.push(adder.add_alone(input)?);
    }
    Ok(roots)
}

/// What a top-level path turned out to be.
enum Kind {
    Dir,
    Symlink,
    /// Regular files and, at the top level only, anything else readable
    /// (named pipes, devices), as Kubo opens arguments as plain files.
    File,
}

struct Adder<'o, 's, 'e> {
    opts: &'o AddOptions,
    sink: &'s mut dyn BlockSink,
    on_event: &'e mut dyn FnMut(AddEvent<'_>),
}

/// Kubo's name for an argument: Go's `path.Base(filepath.Clean(arg))`,
/// except that a bare `.` is first replaced by the current directory with
/// its symlinks resolved (go-ipfs-cmds `appendFile`). Returns the path to
/// read and the name.
fn arg_name(path: &Path) -> Result<(PathBuf, String), ImportError> {
    if path.as_os_str() == "." {
        let cwd = fs::canonicalize(path).map_err(|e| io_err("resolve", path, e))?;
        let name = match cwd.file_name() {
            Some(n) => utf8_name(n, &cwd)?,
            None => "/".to_owned(),
        };
        return Ok((cwd, name));
    }
    let name = match path.components().next_back() {
        Some(Component::Normal(n)) => utf8_name(n, path)?,
        Some(Component::ParentDir) => "..".to_owned(),
        Some(Component::CurDir) | None => ".".to_owned(),
        Some(Component::RootDir) | Some(Component::Prefix(_)) => "/".to_owned(),
    };
    Ok((path.to_owned(), name))
}

fn utf8_name(name: &OsStr, path: &Path) -> Result<String, ImportError> {
    name.to_str().map(str::to_owned).ok_or_else(|| {
        ImportError::Unsupported(format!(
            "{}: file names must be valid UTF-8",
            path.display()
        ))
    })
}

fn io_err(op: &'static str, path: &Path, source: std::io::Error) -> ImportError {
    ImportError::Path {
        op,
        path: path.to_owned(),
        source,
    }
}

/// Go's `path.Join` for the two-part case Kubo uses.
fn join(prefix: &str, name: &str) -> String {
    if name.is_empty() {
        prefix.to_owned()
    } else if prefix.is_empty() || prefix == "." {
        name.to_owned()
    } else {
        format!("{prefix}/{name}")
    }
}

impl Adder<'_, '_, '_> {
    fn emit_added(&mut self, name: &str, cid: &Cid, size: u64) {
        (self.on_event)(AddEvent::Added { name, cid, size });
    }

    fn top_kind(&self, path: &Path) -> Result<Kind, ImportError> {
        let mut meta = fs::symlink_metadata(path).map_err(|e| io_err("lstat", path, e))?;
        if meta.file_type().is_symlink() {
            if !self.opts.dereference_args {
                return Ok(Kind::Symlink);
            }
            meta = fs::metadata(path).map_err(|e| io_err("stat", path, e))?;
        }
        if meta.is_dir() {
            if !self.opts.recursive {
                return Err(ImportError::Unsupported(format!(
                    "{} is a directory, use the '-r' flag to specify directories",
                    path.display()
                )));
            }
            return Ok(Kind::Dir);
        }
        Ok(Kind::File)
    }

    /// One input on its own (no wrapping): its own root and `added` lines.
    fn add_alone(&mut self, input: AddInput<'_>) -> Result<AddedRoot, ImportError> {
        match input {
            AddInput::Reader { name, reader } => {
                let e = self.add_reader(reader, name.as_deref())?;
                let name = name.unwrap_or_else(|| e.cid.to_string());
                self.emit_added(&name, &e.cid, e.tsize);
                Ok(AddedRoot {
                    name,
                    cid: e.cid,
                    size: e.tsize,
                })
            }
            AddInput::Path(path) => {
                let (path, name) = arg_name(&path)?;
                let e = match self.top_kind(&path)? {
                    Kind::Dir => {
                        let mut tree = DirTree::new();
                        self.walk(&path, "", &name, &mut tree)?;
                        return self.finish_tree(tree, &name);
                    }
                    Kind::Symlink => self.add_symlink(&path)?,
                    Kind::File => self.add_file(&path, &name)?,
                };
                self.emit_added(&name, &e.cid, e.tsize);
                Ok(AddedRoot {
                    name,
                    cid: e.cid,
                    size: e.tsize,
                })
            }
        }
    }

    /// One input into the wrapping directory.
    fn add_into(&mut self, input: AddInput<'_>, tree: &mut DirTree) -> Result<(), ImportError> {
        match input {
            AddInput::Reader { name, reader } => {
                let e = self.add_reader(reader, name.as_deref())?;
                let name = name.unwrap_or_else(|| e.cid.to_string());
                tree.put(&name, e)?;
                self.emit_added(&name, &e.cid, e.tsize);
            }
            AddInput::Path(path) => {
                let (path, name) = arg_name(&path)?;
                let e = match self.top_kind(&path)? {
                    Kind::Dir => {
                        tree.mkdir(&name)?;
                        return self.walk(&path, &name, &name, tree);
                    }
                    Kind::Symlink => self.add_symlink(&path)?,
                    Kind::File => self.add_file(&path, &name)?,
                };
                tree.put(&name, e)?;
                self.emit_added(&name, &e.cid, e.tsize);
            }
        }
        Ok(())
    }

    /// Builds the directories of `tree`, reporting them under `root_name`.
    fn finish_tree(&mut self, tree: DirTree, root_name: &str) -> Result<AddedRoot, ImportError> {
        let on_event = &mut *self.on_event;
        let built = tree.finish(&self.opts.import, self.sink, &mut |path, cid, size| {
            let name = join(root_name, path);
            on_event(AddEvent::Added {
                name: &name,
                cid,
                size,
            });
        })?;
        Ok(AddedRoot {
            name: root_name.to_owned(),
            cid: built.cid,
            size: built.size,
        })
    }

    /// Walks directory `dir` (at `tree_path` in the tree, reported as
    /// `display`): entries in byte order, hidden ones skipped unless asked.
    fn walk(
        &mut self,
        dir: &Path,
        tree_path: &str,
        display: &str,
        tree: &mut DirTree,
    ) -> Result<(), ImportError> {
        let mut entries = Vec::new();
        for entry in fs::read_dir(dir).map_err(|e| io_err("open", dir, e))? {
            let entry = entry.map_err(|e| io_err("readdir", dir, e))?;
            entries.push(entry.file_name());
        }
        entries.sort_by(|a, b| a.as_encoded_bytes().cmp(b.as_encoded_bytes()));
        for os_name in entries {
            if !self.opts.hidden && os_name.as_encoded_bytes().first() == Some(&b'.') {
                continue;
            }
            let path = dir.join(&os_name);
            let name = utf8_name(&os_name, &path)?;
            let meta = fs::symlink_metadata(&path).map_err(|e| io_err("lstat", &path, e))?;
            let child_tree = join(tree_path, &name);
            let child_display = join(display, &name);
            let ft = meta.file_type();
            let e = if ft.is_dir() {
                tree.mkdir(&child_tree)?;
                self.walk(&path, &child_tree, &child_display, tree)?;
                continue;
            } else if ft.is_symlink() {
                self.add_symlink(&path)?
            } else if ft.is_file() {
                self.add_file(&path, &child_display)?
            } else {
                return Err(ImportError::Unsupported(format!(
                    "unrecognized file type for {}: {}",
                    path.display(),
                    go_mode_string(&meta)
                )));
            };
            tree.put(&child_tree, e)?;
            self.emit_added(&child_display, &e.cid, e.tsize);
        }
        Ok(())
    }

    fn add_file(&mut self, path: &Path, display: &str) -> Result<DirEntry, ImportError> {
        let file = File::open(path).map_err(|e| io_err("open", path, e))?;
        let on_event = &mut *self.on_event;
        let read_failed = Cell::new(false);
        let reader = NoteReadError {
            inner: file,
            failed: &read_failed,
        };
        let r = import_file(reader, &self.opts.import, self.sink, &mut |bytes| {
            on_event(AddEvent::Progress {
                name: display,
                bytes,
            })
        })
        .map_err(|e| match e {
            // Name the file only for its own read errors, not the store's.
            ImportError::Io(source) if read_failed.get() => io_err("read", path, source),
            other => other,
        })?;
        Ok(DirEntry {
            cid: r.cid,
            tsize: r.size,
        })
    }

    fn add_reader(
        &mut self,
        reader: Box<dyn Read + '_>,
        name: Option<&str>,
    ) -> Result<DirEntry, ImportError> {
        let on_event = &mut *self.on_event;
        let display = name.unwrap_or("");
        let r = import_file(reader, &self.opts.import, self.sink, &mut |bytes| {
            on_event(AddEvent::Progress {
                name: display,
                bytes,
            })
        })?;
        Ok(DirEntry {
            cid: r.cid,
            tsize: r.size,
        })
    }

    /// A UnixFS Symlink node for the link at `path`.
    fn add_symlink(&mut self, path: &Path) -> Result<DirEntry, ImportError> {
        let target = fs::read_link(path).map_err(|e| io_err("readlink", path, e))?;
        import_symlink(
            &target.into_os_string().into_encoded_bytes(),
            &self.opts.import,
            self.sink,
        )
    }
}

/// Stores a UnixFS Symlink node (`Data = {Type: Symlink, Data: target}`)
/// with the CID rules of the rest of the import (CID version, hash,
/// inlining).
pub fn import_symlink(
    target: &[u8],
    opts: &ImportOptions,
    sink: &mut dyn BlockSink,
) -> Result<DirEntry, ImportError> {
    let mut data = UnixFsData::new(DataType::Symlink);
    data.data = Some(target.to_vec());
    let block = PbNode {
        links: Vec::new(),
        data: Some(data.encode()),
    }
    .encode();
    let tsize = block.len() as u64;
    let mut w = Writer::new(sink, opts.settings()?);
    let cid = w.put(codecs::DAG_PB, Bytes::from(block))?;
    Ok(DirEntry { cid, tsize })
}

/// A reader that remembers whether it failed, to tell read errors from
/// sink errors.
struct NoteReadError<'a, R> {
    inner: R,
    failed: &'a Cell<bool>,
}

impl<R: Read> Read for NoteReadError<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf).inspect_err(|_| self.failed.set(true))
    }
}

/// Go's `os.FileMode.String()` for the file types `ipfs add` refuses,
/// e.g. `prw-r--r--` for a named pipe (it appears in Kubo's error).
fn go_mode_string(meta: &Metadata) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{FileTypeExt, PermissionsExt};
        let ft = meta.file_type();
        let mode = meta.permissions().mode();
        let mut s = String::new();
        if ft.is_block_device() || ft.is_char_device() {
            s.push('D');
        }
        if ft.is_fifo() {
            s.push('p');
        }
        if ft.is_socket() {
            s.push('S');
        }
        if mode & 0o4000 != 0 {
            s.push('u');
        }
        if mode & 0o2000 != 0 {
            s.push('g');
        }
        if ft.is_char_device() {
            s.push('c');
        }
        if mode & 0o1000 != 0 {
            s.push('t');
        }
        if s.is_empty() {
            s.push('?');
        }
        for (i, c) in "rwxrwxrwx".chars().enumerate() {
            s.push(if mode & (1 << (8 - i)) != 0 { c } else { '-' });
        }
        s
    }
    #[cfg(not(unix))]
    {
        format!("{:?}", meta.file_type())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argument_names_follow_go_path_base() {
        let name = |p: &str| arg_name(Path::new(p)).unwrap().1;
        assert_eq!(name("a/b/"), "b");
        assert_eq!(name("a/b/."), "b");
        assert_eq!(name("a/.."), "..");
        assert_eq!(name("/"), "/");
        assert_eq!(name("./"), ".");
        let cwd = std::env::current_dir().unwrap().canonicalize().unwrap();
        let (path, n) = arg_name(Path::new(".")).unwrap();
        assert_eq!(path, cwd);
        assert_eq!(n, cwd.file_name().unwrap().to_str().unwrap());
    }

    #[test]
    fn joins_like_go() {
        assert_eq!(join("", "a"), "a");
        assert_eq!(join("d", ""), "d");
        assert_eq!(join(".", "a"), "a");
        assert_eq!(join("d", "a"), "d/a");
    }
}
