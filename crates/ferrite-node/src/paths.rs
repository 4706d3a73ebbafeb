//! `/ipfs/CID/sub/path`, `CID/sub/path` and plain CIDs.

use crate::{Error, Result};
use ferrite_ipld::Cid;

/// A parsed IPFS path: a root CID and the rest, split into segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpfsPath {
    /// The root.
    pub root: Cid,
    /// Path segments below the root (never empty strings).
    pub segments: Vec<String>,
}

impl IpfsPath {
    /// Parses `/ipfs/CID[/p…]`, `ipfs/CID…` or `CID[/p…]`.
    pub fn parse(s: &str) -> Result<Self> {
        let t = s.trim();
        let rest = t
            .strip_prefix("/ipfs/")
            .or_else(|| t.strip_prefix("ipfs/"))
            .unwrap_or(t);
        if t.starts_with("/ipns/") {
            return Err(Error::Invalid(format!(
                "{s:?}: /ipns/ paths need IPNS, which this node does not resolve yet"
            )));
        }
        let mut parts = rest.split('/').filter(|p| !p.is_empty());
        let first = parts
            .next()
            .ok_or_else(|| Error::Invalid(format!("invalid path {s:?}: no cid")))?;
        let root = Cid::try_from(first).map_err(|e| {
            Error::Invalid(format!("invalid path {s:?}: {first:?} is not a cid: {e}"))
        })?;
        Ok(IpfsPath {
            root,
            segments: parts.map(str::to_string).collect(),
        })
    }

    /// The segments joined with `/`.
    pub fn sub_path(&self) -> String {
        self.segments.join("/")
    }
}

impl std::fmt::Display for IpfsPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "/ipfs/{}", self.root)?;
        for s in &self.segments {
            write!(f, "/{s}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_forms() {
        let c = "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o";
        for s in [
            c.to_string(),
            format!("/ipfs/{c}"),
            format!("{c}/"),
            format!("ipfs/{c}"),
        ] {
            let p = IpfsPath::parse(&s).unwrap();
            assert_eq!(p.root.to_string(), c);
            assert!(p.segments.is_empty());
        }
        let p = IpfsPath::parse(&format!("/ipfs/{c}/a//b c/")).unwrap();
        assert_eq!(p.segments, vec!["a", "b c"]);
        assert!(IpfsPath::parse("notacid").is_err());
        assert!(IpfsPath::parse("/ipfs/").is_err());
    }
}
