//! `ferrite swarm peers|connect|disconnect|addrs` (defined in
//! [`ferrite_http::rpc::swarm`]; they need the daemon) and `ferrite swarm
//! key gen|fingerprint` (local: private-network keys).

use super::{exec, Target};
use anyhow::Context;
use clap::Subcommand;
use ferrite_http::rpc::swarm;
use ferrite_p2p::SwarmKey;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Kubo's error for network commands without a daemon.
pub(crate) const OFFLINE: &str =
    "this command must be run in online mode. Try running 'ferrite daemon' first";

/// `swarm` subcommands.
#[derive(Subcommand)]
pub(crate) enum Command {
    /// List the peers with open connections.
    Peers(swarm::Peers),
    /// Open connections to peers (multiaddrs ending in /p2p/<peer ID>).
    Connect(swarm::Connect),
    /// Close connections to peers.
    Disconnect(swarm::Disconnect),
    /// List the known addresses of peers (`local`: ours, `listen`: where we listen).
    #[command(
        after_help = "Examples:\n  ferrite swarm addrs\n  ferrite swarm addrs local --id\n  ferrite swarm addrs listen"
    )]
    Addrs(AddrsArgs),
    /// Private-network keys (swarm.key).
    #[command(subcommand)]
    Key(KeyCommand),
}

/// Arguments of `swarm addrs`.
#[derive(clap::Args)]
pub(crate) struct AddrsArgs {
    #[command(subcommand)]
    sub: Option<AddrsSub>,
}

#[derive(Subcommand)]
enum AddrsSub {
    /// The addresses this node announces.
    Local(swarm::AddrsLocal),
    /// The addresses this node listens on.
    Listen(swarm::AddrsListen),
}

/// `swarm key` subcommands: local, no daemon needed.
#[derive(Subcommand)]
pub(crate) enum KeyCommand {
    /// Generate a new private-network key in ipfs-swarm-key-gen's format.
    #[command(
        after_help = "Examples:\n  ferrite swarm key gen -o swarm.key\n  ferrite swarm key gen"
    )]
    Gen {
        /// Write the key to this file (mode 0600, never overwriting) instead
        /// of printing it.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Print a swarm key's fingerprint (as the daemon logs it at start), to
    /// check that nodes share the same key without showing it.
    #[command(
        after_help = "Examples:\n  ferrite swarm key fingerprint\n  ferrite swarm key fingerprint swarm.key"
    )]
    Fingerprint {
        /// The key file (default: the repo's swarm.key).
        file: Option<PathBuf>,
    },
}

/// Runs a `swarm` subcommand: `key` here, the others where `target` says.
pub(crate) fn run(
    repo: &Path,
    target: &dyn Fn() -> anyhow::Result<Target>,
    c: Command,
) -> anyhow::Result<()> {
    match c {
        Command::Key(k) => key(repo, k),
        Command::Peers(c) => exec(&target()?, c),
        Command::Connect(c) => exec(&target()?, c),
        Command::Disconnect(c) => exec(&target()?, c),
        Command::Addrs(AddrsArgs { sub: None }) => exec(&target()?, swarm::Addrs {}),
        Command::Addrs(AddrsArgs {
            sub: Some(AddrsSub::Local(c)),
        }) => exec(&target()?, c),
        Command::Addrs(AddrsArgs {
            sub: Some(AddrsSub::Listen(c)),
        }) => exec(&target()?, c),
    }
}

/// Runs `swarm key gen|fingerprint` (never through the daemon).
pub(crate) fn key(repo: &Path, c: KeyCommand) -> anyhow::Result<()> {
    match c {
        KeyCommand::Gen { output } => {
            let text = format!("{}\n", SwarmKey::generate().to_file_contents());
            match output {
                None => std::io::stdout().lock().write_all(text.as_bytes())?,
                Some(path) => write_secret(&path, text.as_bytes(), false)?,
            }
        }
        KeyCommand::Fingerprint { file } => {
            let path = file.unwrap_or_else(|| repo.join("swarm.key"));
            if !path.exists() && path == repo.join("swarm.key") {
                anyhow::bail!(
                    "no swarm key at {}: the node is not in a private network",
                    path.display()
                );
            }
            println!("{}", read_key(&path)?.fingerprint());
        }
    }
    Ok(())
}

/// Reads and checks a swarm key file; errors name the file.
pub(crate) fn read_key(path: &Path) -> anyhow::Result<SwarmKey> {
    let data =
        std::fs::read(path).with_context(|| format!("cannot read swarm key {}", path.display()))?;
    SwarmKey::parse(&data).with_context(|| format!("invalid swarm key file {}", path.display()))
}

/// Writes a secret durably with mode 0600 from the start (no moment where
/// others could read it): a temporary file, fsync, rename, fsync of the
/// folder. With `replace` false an existing file is refused.
pub(crate) fn write_secret(path: &Path, data: &[u8], replace: bool) -> anyhow::Result<()> {
    use std::fs::{self, File, OpenOptions};
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    if !replace && fs::symlink_metadata(path).is_ok() {
        anyhow::bail!("{} already exists: not overwriting it", path.display());
    }
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(name);
    let write = || -> std::io::Result<()> {
        let mut o = OpenOptions::new();
        o.write(true).create_new(true);
        #[cfg(unix)]
        o.mode(0o600);
        let mut f = o.open(&tmp)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(fs::Permissions::from_mode(0o600))?;
        }
        f.write_all(data)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        File::open(dir)?.sync_all()
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        anyhow::anyhow!("cannot write {}: {e}", path.display())
    })
}
