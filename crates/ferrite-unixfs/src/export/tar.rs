//! Streaming a UnixFS tree as a tar archive, like `ipfs get -a`.
//!
//! Headers follow what Go's `archive/tar` writes for boxo's `TarWriter`:
//! USTAR when every field fits (long ASCII paths split into prefix and
//! name), otherwise a PAX extended header carrying `path`, `linkpath`,
//! `size` or `mtime`. Entries are named `<name>/<sub/path>` without a
//! trailing slash on folders; modes default to 0644 (files), 0755 (folders)
//! and 0777 (symlinks); a missing mtime becomes the current time, as Kubo
//! does. Owner ids are 0 and names empty.

use super::dir::DirIter;
use super::file::FileReader;
use super::node::load_node;
use super::resolve::Mtime;
use super::write::{check_name, classify, meta_of, Item};
use super::{ExportError, Result, MAX_DEPTH};
use crate::BlockSource;
use ferrite_ipld::Cid;
use std::io::Write;
use std::time::SystemTime;

const BLOCK: usize = 512;
/// Largest value of an 11-digit octal field (size, mtime).
const MAX_OCTAL_11: u64 = 0o777_7777_7777;

/// Writes the UnixFS node `cid` as a tar archive to `out`, its root entry
/// named `name` (a file, symlink or folder; a folder's tree follows under
/// `name/`). Streams: one block in memory at a time. Returns the number of
/// file bytes archived; `progress` is called with each write's byte count.
///
/// `name` and every entry name must be single safe path components (no
/// `/`, `..`, `.`, NUL, not empty), so the archive cannot extract outside
/// its root; violations fail with [`ExportError::UnsafeName`]. The archive
/// ends with the two zero blocks; `out` is flushed but not closed.
pub fn write_tar<S: BlockSource + ?Sized, W: Write>(
    src: &S,
    cid: &Cid,
    name: &str,
    mut out: W,
    mut progress: impl FnMut(u64),
) -> Result<u64> {
    check_name(name, cid)?;
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let mut total = 0u64;
    // (archive path, directory CID, remaining entries)
    let mut stack: Vec<(String, Cid, DirIter<&S>)> = Vec::new();
    let mut pending = Some((name.to_string(), *cid));
    loop {
        let (path, cid) = match pending.take() {
            Some(p) => p,
            None => {
                let Some((dir_path, dir_cid, entries)) = stack.last_mut() else {
                    break;
                };
                match entries.next() {
                    None => {
                        stack.pop();
                        continue;
                    }
                    Some(entry) => {
                        let entry = entry?;
                        check_name(&entry.name, dir_cid)?;
                        (format!("{dir_path}/{}", entry.name), entry.cid)
                    }
                }
            }
        };
        let node = load_node(src, &cid)?;
        let (mode, mtime) = meta_of(&node);
        let mtime = mtime.map_or(now, |Mtime { secs, .. }| secs);
        match classify(&cid, node)? {
            Item::File(node) => {
                let mut reader = FileReader::from_node(src, &cid, node, 0, None)?;
                let size = reader.size();
                let h = Header {
                    path: &path,
                    kind: b'0',
                    size,
                    mode: mode.map_or(0o644, |m| m & 0o7777),
                    mtime,
                    link: "",
                };
                write_header(&mut out, &h)?;
                let n = reader.copy_to(&mut out, &mut progress)?;
                if n != size {
                    return Err(ExportError::malformed(
                        &cid,
                        format!("file yielded {n} bytes, {size} announced"),
                    ));
                }
                pad(&mut out, size)?;
                total += n;
            }
            Item::Symlink(target) => {
                let target = String::from_utf8_lossy(&target).into_owned();
                if target.contains('\0') {
                    return Err(ExportError::malformed(&cid, "symlink target contains NUL"));
                }
                let h = Header {
                    path: &path,
                    kind: b'2',
                    size: 0,
                    mode: mode.map_or(0o777, |m| m & 0o7777),
                    mtime,
                    link: &target,
                };
                write_header(&mut out, &h)?;
            }
            Item::Dir(node) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(ExportError::TooDeep(cid));
                }
                let h = Header {
                    path: &path,
                    kind: b'5',
                    size: 0,
                    mode: mode.map_or(0o755, |m| m & 0o7777),
                    mtime,
                    link: "",
                };
                write_header(&mut out, &h)?;
                let entries = DirIter::from_node(src, &cid, node, false)?;
                stack.push((path, cid, entries));
            }
        }
    }
    out.write_all(&[0u8; 2 * BLOCK])?;
    out.flush()?;
    Ok(total)
}

/// The fields of one archive entry.
struct Header<'a> {
    path: &'a str,
    /// Typeflag: `0` file, `2` symlink, `5` folder.
    kind: u8,
    size: u64,
    mode: u32,
    mtime: i64,
    link: &'a str,
}

/// Splits a long ASCII path into USTAR's prefix (≤ 155) and name (≤ 100)
/// at a `/`, as Go's `splitUSTARPath` does; `None` if it cannot be split.
fn split_ustar(path: &str) -> Option<(&str, &str)> {
    let limit = path.len().min(156);
    let mut cut = limit;
    if limit == path.len() && path.ends_with('/') {
        cut -= 1;
    }
    let i = path[..cut].rfind('/')?;
    let (prefix, name) = (&path[..i], &path[i + 1..]);
    if i == 0 || name.is_empty() || name.len() > 100 || prefix.len() > 155 {
        return None;
    }
    Some((prefix, name))
}

/// Writes the header of one entry, preceded by a PAX header when a field
/// does not fit USTAR.
fn write_header<W: Write>(out: &mut W, h: &Header) -> std::io::Result<()> {
    let mut pax: Vec<(&str, String)> = Vec::new();
    let (prefix, name) = if h.path.len() <= 100 && h.path.is_ascii() {
        ("", h.path)
    } else if let Some(split) = h.path.is_ascii().then(|| split_ustar(h.path)).flatten() {
        split
    } else {
        pax.push(("path", h.path.to_string()));
        ("", "")
    };
    let link_fits = h.link.len() <= 100 && h.link.is_ascii();
    if !link_fits {
        pax.push(("linkpath", h.link.to_string()));
    }
    if h.size > MAX_OCTAL_11 {
        pax.push(("size", h.size.to_string()));
    }
    let mtime_fits = (0..=MAX_OCTAL_11 as i64).contains(&h.mtime);
    if !mtime_fits {
        pax.push(("mtime", h.mtime.to_string()));
    }
    let clamped_mtime = h.mtime.clamp(0, MAX_OCTAL_11 as i64) as u64;

    if !pax.is_empty() {
        let mut records = Vec::new();
        for (k, v) in &pax {
            records.extend_from_slice(pax_record(k, v).as_bytes());
        }
        let base = h.path.rsplit('/').next().unwrap_or_default();
        let pax_name = format!("PaxHeaders.0/{}", ascii_prefix(base, 87));
        let mut x = ustar_header(
            &pax_name,
            "",
            b'x',
            records.len() as u64,
            0o644,
            clamped_mtime,
        );
        x.set_cksum();
        out.write_all(x.as_bytes())?;
        out.write_all(&records)?;
        pad(out, records.len() as u64)?;
    }

    let (fallback_name, fallback_link);
    let name = if name.is_empty() {
        fallback_name = ascii_prefix(h.path, 100);
        fallback_name.as_str()
    } else {
        name
    };
    let link = if link_fits {
        h.link
    } else {
        fallback_link = ascii_prefix(h.link, 100);
        fallback_link.as_str()
    };
    let size = if h.size > MAX_OCTAL_11 { 0 } else { h.size };
    let mut hd = ustar_header(name, link, h.kind, size, h.mode, clamped_mtime);
    if !prefix.is_empty() {
        let u = hd.as_ustar_mut().expect("ustar header");
        u.prefix[..prefix.len()].copy_from_slice(prefix.as_bytes());
    }
    hd.set_cksum();
    out.write_all(hd.as_bytes())
}

/// A USTAR header with the numeric fields set; checksum left to the caller.
fn ustar_header(
    name: &str,
    link: &str,
    kind: u8,
    size: u64,
    mode: u32,
    mtime: u64,
) -> ::tar::Header {
    let mut hd = ::tar::Header::new_ustar();
    {
        let u = hd.as_ustar_mut().expect("ustar header");
        u.name[..name.len()].copy_from_slice(name.as_bytes());
        u.linkname[..link.len()].copy_from_slice(link.as_bytes());
    }
    hd.set_entry_type(::tar::EntryType::new(kind));
    hd.set_mode(mode);
    hd.set_uid(0);
    hd.set_gid(0);
    hd.set_size(size);
    hd.set_mtime(mtime);
    // USTAR device fields always exist, so these cannot fail
    let _ = hd.set_device_major(0);
    let _ = hd.set_device_minor(0);
    hd
}

/// The ASCII characters of `s`, at most `max` of them (fallback names in
/// headers whose real value travels in PAX records).
fn ascii_prefix(s: &str, max: usize) -> String {
    s.chars().filter(char::is_ascii).take(max).collect()
}

/// One PAX record: `"<len> <key>=<value>\n"`, where `len` counts itself.
fn pax_record(key: &str, value: &str) -> String {
    let base = key.len() + value.len() + 3;
    let mut len = base + 1;
    while base + len.to_string().len() != len {
        len = base + len.to_string().len();
    }
    format!("{len} {key}={value}\n")
}

/// Zero padding after `size` bytes of entry data, up to the next block.
fn pad<W: Write + ?Sized>(out: &mut W, size: u64) -> std::io::Result<()> {
    let rem = (size % BLOCK as u64) as usize;
    if rem != 0 {
        out.write_all(&[0u8; BLOCK][..BLOCK - rem])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_length_counts_itself() {
        for v in ["", "a", &"x".repeat(90), &"y".repeat(95), &"z".repeat(995)] {
            let r = pax_record("path", v);
            let (n, _) = r.split_once(' ').unwrap();
            assert_eq!(n.parse::<usize>().unwrap(), r.len(), "{r:?}");
        }
    }

    #[test]
    fn ustar_split_matches_go_rules() {
        let long = format!("{}/{}", "d".repeat(120), "f".repeat(50));
        assert_eq!(split_ustar(&long), Some((&long[..120], &long[121..])));
        // name part longer than 100 cannot be split
        assert_eq!(split_ustar(&format!("a/{}", "f".repeat(101))), None);
        // leading slash only
        assert_eq!(split_ustar(&format!("/{}", "f".repeat(101))), None);
        // prefix longer than 155
        assert_eq!(split_ustar(&format!("{}/f", "d".repeat(156))), None);
    }
}
