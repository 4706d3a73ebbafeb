//! `ferrite swarm peers|connect|disconnect|addrs` (through the daemon: they
//! need the running network) and `ferrite swarm key gen|fingerprint` (local:
//! private-network keys).

use super::Target;
use crate::remote::{self, Client};
use anyhow::Context;
use clap::Subcommand;
use ferrite_p2p::SwarmKey;
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Kubo's error for network commands without a daemon.
pub(crate) const OFFLINE: &str =
    "this command must be run in online mode. Try running 'ferrite daemon' first";

/// The daemon, or the online-mode error.
pub(crate) fn online(t: &Target) -> anyhow::Result<&Client> {
    match t {
        Target::Remote(c) => Ok(c),
        Target::Local(_) => anyhow::bail!(OFFLINE),
    }
}

/// `swarm` subcommands.
#[derive(Subcommand)]
pub(crate) enum Command {
    /// List the peers with open connections.
    #[command(
        after_help = "Examples:\n  ferrite swarm peers\n  ferrite swarm peers --latency --direction"
    )]
    Peers {
        /// Show latency, direction and streams too.
        #[arg(short, long)]
        verbose: bool,
        /// Show each connection's streams.
        #[arg(long)]
        streams: bool,
        /// Show each peer's latency.
        #[arg(long)]
        latency: bool,
        /// Show each connection's direction (inbound/outbound).
        #[arg(long)]
        direction: bool,
    },
    /// Open connections to peers (multiaddrs ending in /p2p/<peer ID>).
    #[command(
        after_help = "Examples:\n  ferrite swarm connect /ip4/10.0.0.1/tcp/4001/p2p/12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp"
    )]
    Connect {
        /// The peers' addresses.
        #[arg(required = true)]
        addrs: Vec<String>,
    },
    /// Close connections to peers.
    #[command(
        after_help = "Examples:\n  ferrite swarm disconnect /ip4/10.0.0.1/tcp/4001/p2p/12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp"
    )]
    Disconnect {
        /// The peers' addresses.
        #[arg(required = true)]
        addrs: Vec<String>,
    },
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
    #[command(
        after_help = "Examples:\n  ferrite swarm addrs local\n  ferrite swarm addrs local --id"
    )]
    Local {
        /// Append /p2p/<our peer ID> to each address.
        #[arg(long)]
        id: bool,
    },
    /// The addresses this node listens on.
    #[command(after_help = "Examples:\n  ferrite swarm addrs listen")]
    Listen,
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

/// Runs a `swarm` subcommand: `key` here, the others through the daemon
/// (`target` finds it).
pub(crate) fn run(
    repo: &Path,
    target: &dyn Fn() -> anyhow::Result<Target>,
    c: Command,
) -> anyhow::Result<()> {
    if let Command::Key(k) = c {
        return key(repo, k);
    }
    let t = target()?;
    let client = online(&t)?;
    let mut out = std::io::stdout().lock();
    match c {
        // {"Peers":[{"Addr","Peer","Latency","Muxer","Direction","Streams"}]} (Peers may be null)
        Command::Peers {
            verbose,
            streams,
            latency,
            direction,
        } => {
            let v = client
                .request("swarm/peers")
                .flag("verbose", verbose)
                .flag("streams", streams)
                .flag("latency", latency)
                .flag("direction", direction)
                .json()?;
            print_peers(&mut out, &v)?;
        }
        // {"Strings":["connect <peer> success"]}
        Command::Connect { addrs } => {
            let v = client.request("swarm/connect").args(&addrs).json()?;
            print_strings(&mut out, &v)?;
        }
        // {"Strings":["disconnect <peer> success"]}
        Command::Disconnect { addrs } => {
            let v = client.request("swarm/disconnect").args(&addrs).json()?;
            print_strings(&mut out, &v)?;
        }
        // {"Addrs":{"<peer>":["ma",…]}}
        Command::Addrs(AddrsArgs { sub: None }) => {
            let v = client.request("swarm/addrs").json()?;
            print_addrs(&mut out, &v)?;
        }
        // {"Strings":[…]}
        Command::Addrs(AddrsArgs {
            sub: Some(AddrsSub::Local { id }),
        }) => {
            let v = client.request("swarm/addrs/local").flag("id", id).json()?;
            print_strings(&mut out, &v)?;
        }
        Command::Addrs(AddrsArgs {
            sub: Some(AddrsSub::Listen),
        }) => {
            let v = client.request("swarm/addrs/listen").json()?;
            print_strings(&mut out, &v)?;
        }
        Command::Key(_) => {}
    }
    Ok(())
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

fn print_strings(out: &mut impl Write, v: &Value) -> std::io::Result<()> {
    for s in v["Strings"].as_array().into_iter().flatten() {
        writeln!(out, "{}", s.as_str().unwrap_or_default())?;
    }
    Ok(())
}

/// Kubo's text for `swarm peers`: `<addr>/p2p/<peer>`, then latency and
/// direction when the daemon filled them in, then one line per stream.
fn print_peers(out: &mut impl Write, v: &Value) -> std::io::Result<()> {
    for p in v["Peers"].as_array().into_iter().flatten() {
        write!(
            out,
            "{}/p2p/{}",
            remote::str_field(p, "Addr"),
            remote::str_field(p, "Peer")
        )?;
        let latency = remote::str_field(p, "Latency");
        if !latency.is_empty() {
            write!(out, " {latency}")?;
        }
        match p["Direction"].as_u64() {
            Some(1) => write!(out, " inbound")?,
            Some(2) => write!(out, " outbound")?,
            _ => {}
        }
        writeln!(out)?;
        for s in p["Streams"].as_array().into_iter().flatten() {
            let proto = remote::str_field(s, "Protocol");
            let proto = if proto.is_empty() {
                "<no protocol name>"
            } else {
                proto
            };
            writeln!(out, "  {proto}")?;
        }
    }
    Ok(())
}

/// Kubo's text for `swarm addrs`: peers sorted, `<peer> (<n>)` then the
/// addresses tab-indented.
fn print_addrs(out: &mut impl Write, v: &Value) -> std::io::Result<()> {
    let Some(map) = v["Addrs"].as_object() else {
        return Ok(());
    };
    let mut peers: Vec<&String> = map.keys().collect();
    peers.sort();
    for p in peers {
        let addrs: Vec<&str> = map[p]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        writeln!(out, "{p} ({})", addrs.len())?;
        for a in addrs {
            writeln!(out, "\t{a}")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(f: impl Fn(&mut Vec<u8>, &Value) -> std::io::Result<()>, json: &str) -> String {
        let mut out = Vec::new();
        f(&mut out, &serde_json::from_str(json).unwrap()).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn peers_text() {
        let j = r#"{"Peers":[
            {"Addr":"/ip4/10.0.0.2/tcp/4001","Peer":"12D3A","Latency":"","Muxer":"","Direction":0,"Streams":null},
            {"Addr":"/ip4/10.0.0.3/udp/4001/quic-v1","Peer":"12D3B","Latency":"1.5ms","Muxer":"","Direction":2,
             "Streams":[{"Protocol":"/ipfs/bitswap/1.2.0"},{"Protocol":""}]}]}"#;
        assert_eq!(
            text(print_peers, j),
            "/ip4/10.0.0.2/tcp/4001/p2p/12D3A\n\
             /ip4/10.0.0.3/udp/4001/quic-v1/p2p/12D3B 1.5ms outbound\n  /ipfs/bitswap/1.2.0\n  <no protocol name>\n"
        );
        assert_eq!(text(print_peers, r#"{"Peers":null}"#), "");
    }

    #[test]
    fn strings_text() {
        assert_eq!(
            text(
                print_strings,
                r#"{"Strings":["connect 12D3A success","connect 12D3B success"]}"#
            ),
            "connect 12D3A success\nconnect 12D3B success\n"
        );
        assert_eq!(text(print_strings, r#"{"Strings":null}"#), "");
    }

    #[test]
    fn addrs_text_sorted() {
        let j = r#"{"Addrs":{"12D3B":["/ip4/10.0.0.3/tcp/4001"],"12D3A":["/ip4/10.0.0.2/tcp/4001","/ip6/::1/tcp/4001"]}}"#;
        assert_eq!(
            text(print_addrs, j),
            "12D3A (2)\n\t/ip4/10.0.0.2/tcp/4001\n\t/ip6/::1/tcp/4001\n12D3B (1)\n\t/ip4/10.0.0.3/tcp/4001\n"
        );
    }
}
