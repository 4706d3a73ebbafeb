//! Writing a UnixFS tree to the local filesystem, like `ipfs get -o OUT`.

use super::dir::DirIter;
use super::file::FileReader;
use super::node::{codec_label, load_node, Node};
use super::resolve::Mtime;
use super::{ExportError, Result, MAX_DEPTH};
use crate::pb::DataType;
use crate::BlockSource;
use ferrite_ipld::Cid;
use std::fs;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// What a node becomes on output.
pub(crate) enum Item {
    /// A file (raw block, UnixFS file or legacy metadata wrapper), with
    /// its decoded root.
    File(Node),
    /// A symlink with its target bytes.
    Symlink(Vec<u8>),
    /// A directory, with the decoded node to list.
    Dir(Node),
}

/// Sorts a decoded node into file, symlink or directory; anything else is
/// not UnixFS and cannot be exported.
pub(crate) fn classify(cid: &Cid, node: Node) -> Result<Item> {
    match node {
        Node::Raw(_) => Ok(Item::File(node)),
        Node::UnixFs { ref meta, .. } => match meta.kind {
            DataType::File | DataType::Raw | DataType::Metadata => Ok(Item::File(node)),
            DataType::Symlink => Ok(Item::Symlink(
                meta.data.as_deref().unwrap_or_default().to_vec(),
            )),
            DataType::Directory | DataType::HamtShard => Ok(Item::Dir(node)),
        },
        Node::PlainPb { reason, .. } => Err(ExportError::not_unixfs(cid, reason)),
        Node::Other { codec, .. } => Err(ExportError::not_unixfs(cid, codec_label(codec))),
    }
}

/// UnixFS mode and mtime of a decoded node.
pub(crate) fn meta_of(node: &Node) -> (Option<u32>, Option<Mtime>) {
    match node {
        Node::UnixFs { meta, .. } => (
            meta.mode,
            meta.mtime.map(|(secs, nanos)| Mtime { secs, nanos }),
        ),
        _ => (None, None),
    }
}

/// Refuses entry names from a DAG that could land outside the folder being
/// written: empty, `.`, `..`, or containing `/` or NUL.
pub(crate) fn check_name(name: &str, dir: &Cid) -> Result<()> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
        return Err(ExportError::UnsafeName {
            name: name.into(),
            cid: *dir,
        });
    }
    Ok(())
}

/// One directory being written: its path and remaining entries.
struct Level<'a, S: BlockSource + ?Sized> {
    path: PathBuf,
    cid: Cid,
    entries: DirIter<&'a S>,
    mode: Option<u32>,
    mtime: Option<Mtime>,
}

/// Writes the UnixFS node `cid` at `out`, as `ipfs get -o OUT` extracts it:
/// a file becomes the file `out`, a symlink the symlink `out`, a directory
/// (plain or HAMT) the folder `out` with its whole tree (merged into `out`
/// if that folder exists). Returns the number of file bytes written;
/// `progress` is called with the size of each write.
///
/// An existing file, symlink or empty folder in the way of a file or
/// symlink is replaced, as Kubo does. Putting a file *inside* an existing
/// folder under its own name is the caller's choice of `out`.
///
/// Safety with untrusted DAGs: entry names with `/`, `..`, `.`, NUL or
/// nothing are refused ([`ExportError::UnsafeName`]); symlinks are created
/// as stored but never followed: a folder is never written through an
/// existing symlink. Stored modes are applied without setuid/setgid bits;
/// stored mtimes are applied to files and folders.
pub fn write_to_path<S: BlockSource + ?Sized>(
    src: &S,
    cid: &Cid,
    out: &Path,
    mut progress: impl FnMut(u64),
) -> Result<u64> {
    let node = load_node(src, cid)?;
    let (mode, mtime) = meta_of(&node);
    let mut total = 0u64;
    let root_dir = match classify(cid, node)? {
        Item::File(node) => return write_file(src, cid, node, out, &mut progress),
        Item::Symlink(target) => return write_symlink(&target, out).map(|_| 0),
        Item::Dir(node) => node,
    };
    make_dir(out, true)?;
    let mut stack = vec![Level {
        path: out.to_path_buf(),
        cid: *cid,
        entries: DirIter::from_node(src, cid, root_dir, false)?,
        mode,
        mtime,
    }];
    while let Some(top) = stack.last_mut() {
        let Some(entry) = top.entries.next() else {
            // after the children, so a read-only mode cannot block them
            let done = stack.pop().expect("non-empty");
            apply_meta(&done.path, done.mode, done.mtime, true)?;
            continue;
        };
        let entry = entry?;
        check_name(&entry.name, &top.cid)?;
        let path = top.path.join(&entry.name);
        let node = load_node(src, &entry.cid)?;
        let (mode, mtime) = meta_of(&node);
        match classify(&entry.cid, node)? {
            Item::File(node) => total += write_file(src, &entry.cid, node, &path, &mut progress)?,
            Item::Symlink(target) => write_symlink(&target, &path)?,
            Item::Dir(node) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(ExportError::TooDeep(*cid));
                }
                make_dir(&path, false)?;
                stack.push(Level {
                    path,
                    cid: entry.cid,
                    entries: DirIter::from_node(src, &entry.cid, node, false)?,
                    mode,
                    mtime,
                });
            }
        }
    }
    Ok(total)
}

/// Creates a folder, or accepts an existing real one; never a symlink.
fn make_dir(path: &Path, root: bool) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "cannot create folder {}: something else is there",
                path.display()
            ),
        )
        .into()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if root {
                fs::create_dir_all(path)?
            } else {
                fs::create_dir(path)?
            }
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Removes what is at `path` (file, symlink or empty folder) so a new file
/// or symlink can take its place without following an old symlink.
fn clear(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn write_file<S: BlockSource + ?Sized>(
    src: &S,
    cid: &Cid,
    node: Node,
    path: &Path,
    progress: &mut impl FnMut(u64),
) -> Result<u64> {
    let mut reader = FileReader::from_node(src, cid, node, 0, None)?;
    clear(path)?;
    // create_new: O_EXCL never follows a symlink planted at the last moment
    let file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    // leaves are usually ≥ 256 KiB and bypass the buffer; it only helps
    // files cut into tiny chunks
    let mut w = BufWriter::with_capacity(256 * 1024, file);
    let n = reader.copy_to(&mut w, progress)?;
    let file = w.into_inner().map_err(|e| e.into_error())?;
    if let Some(t) = reader.mtime().and_then(system_time) {
        file.set_modified(t)?;
    }
    drop(file);
    apply_meta(path, reader.mode(), None, false)?;
    Ok(n)
}

#[cfg(unix)]
fn write_symlink(target: &[u8], path: &Path) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    clear(path)?;
    std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(target), path)?;
    Ok(())
}

#[cfg(not(unix))]
fn write_symlink(_target: &[u8], path: &Path) -> Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        format!(
            "cannot create symlink {}: not supported here",
            path.display()
        ),
    )
    .into())
}

/// Applies stored permission bits (minus setuid/setgid, which an untrusted
/// DAG should not grant) and, for folders, the stored mtime.
fn apply_meta(path: &Path, mode: Option<u32>, mtime: Option<Mtime>, dir: bool) -> Result<()> {
    if dir {
        if let Some(t) = mtime.and_then(system_time) {
            fs::File::open(path)?.set_modified(t)?;
        }
    }
    #[cfg(unix)]
    if let Some(m) = mode {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(m & 0o1777))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    Ok(())
}

/// A UnixFS mtime as a `SystemTime`, if representable.
pub(crate) fn system_time(t: Mtime) -> Option<SystemTime> {
    let nanos = Duration::from_nanos(t.nanos as u64);
    if t.secs >= 0 {
        SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(t.secs as u64) + nanos)
    } else {
        SystemTime::UNIX_EPOCH
            .checked_sub(Duration::from_secs(t.secs.unsigned_abs()))?
            .checked_add(nanos)
    }
}
