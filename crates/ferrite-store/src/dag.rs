//! Walking DAGs stored in a [`Blockstore`].

use crate::{Blockstore, Error, Result};
use bytes::Bytes;
use ferrite_ipld::{codecs, Cid};
use std::collections::HashSet;

/// Visits every block of the DAG under `root` once (depth first, parents
/// before children), calling `f(cid, bytes)`. Errors with
/// [`Error::NotFound`] on the first missing block.
pub fn walk(
    store: &dyn Blockstore,
    root: &Cid,
    f: &mut dyn FnMut(&Cid, &Bytes) -> Result<()>,
) -> Result<()> {
    let mut seen: HashSet<Cid> = HashSet::new();
    let mut stack = vec![*root];
    while let Some(cid) = stack.pop() {
        if !seen.insert(cid) {
            continue;
        }
        let data = store.get(&cid)?.ok_or(Error::NotFound(cid))?;
        f(&cid, &data)?;
        if cid.codec() != codecs::RAW {
            let links = ferrite_ipld::codec::links(&cid, &data)?;
            // reversed so the first link is visited first
            stack.extend(links.into_iter().rev());
        }
    }
    Ok(())
}
