//! `ferrite cid format|base32|bases|codecs|hashes` (defined in
//! [`ferrite_http::rpc::cid`]; they run in-process, needing no repo).

use super::{exec, Target};
use clap::Subcommand;
use ferrite_http::rpc::cid;

/// `cid` subcommands.
#[derive(Subcommand)]
pub(crate) enum Command {
    /// Format and convert CIDs.
    Format(cid::Format),
    /// Convert CIDs to base32 CIDv1.
    Base32(cid::Base32),
    /// List multibase encodings.
    Bases(cid::Bases),
    /// List IPLD codecs.
    Codecs(cid::Codecs),
    /// List supported hash functions.
    Hashes(cid::Hashes),
}

/// Runs a `cid` subcommand.
pub(crate) fn run(t: &Target, c: Command) -> anyhow::Result<()> {
    match c {
        Command::Format(c) => exec(t, c),
        Command::Base32(c) => exec(t, c),
        Command::Bases(c) => exec(t, c),
        Command::Codecs(c) => exec(t, c),
        Command::Hashes(c) => exec(t, c),
    }
}
