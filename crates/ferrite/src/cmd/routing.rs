//! `ferrite routing findprovs|findpeer|provide` (also as the older `dht`
//! names), through the daemon: they need the running network.

use super::swarm::online;
use super::Target;
use crate::remote::{self, Client};
use clap::Subcommand;
use serde_json::Value;
use std::io::Write;

/// Kubo's routing event types (`routing.QueryEventType`).
const FINAL_PEER: u64 = 2;
const PROVIDER: u64 = 4;

/// `routing` subcommands.
#[derive(Subcommand)]
pub(crate) enum Command {
    /// Find peers that can provide a CID.
    #[command(after_help = concat!(
        "Examples:\n",
        "  ferrite routing findprovs QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o\n",
        "  ferrite routing findprovs -n 5 -v bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
    ))]
    Findprovs {
        /// The CID.
        cid: String,
        /// How many providers to find.
        #[arg(short = 'n', long = "num-providers", default_value_t = 20)]
        num_providers: u64,
        /// Print each provider's addresses too.
        #[arg(short, long)]
        verbose: bool,
    },
    /// Find the addresses of a peer.
    #[command(
        after_help = "Examples:\n  ferrite routing findpeer 12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp"
    )]
    Findpeer {
        /// The peer ID.
        peer: String,
    },
    /// Announce to the network that this node provides CIDs.
    #[command(after_help = concat!(
        "Examples:\n",
        "  ferrite routing provide QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o\n",
        "  ferrite routing provide -r bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
    ))]
    Provide {
        /// The CIDs (blocks this node has).
        #[arg(required = true)]
        cids: Vec<String>,
        /// Also provide every block below them.
        #[arg(short, long)]
        recursive: bool,
    },
}

/// Runs a `routing` (or `dht`) subcommand through the daemon.
pub(crate) fn run(t: &Target, c: Command) -> anyhow::Result<()> {
    let client = online(t)?;
    run_remote(client, c)
}

fn run_remote(c: &Client, cmd: Command) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match cmd {
        // NDJSON of {"Extra":"","ID":"","Responses":[{"Addrs":[…],"ID":"…"}],"Type":4}
        Command::Findprovs {
            cid,
            num_providers,
            verbose,
        } => {
            let mut seen = Vec::new();
            c.request("routing/findprovs")
                .arg(&cid)
                .opt("num-providers", num_providers)
                .stream(|v| {
                    print_provider(&mut out, &v, verbose, &mut seen)?;
                    Ok(())
                })?;
        }
        // {"Responses":[{"ID","Addrs"}],"Type":2} (one object or a stream)
        Command::Findpeer { peer } => {
            c.request("routing/findpeer").arg(&peer).stream(|v| {
                print_peer(&mut out, &v)?;
                Ok(())
            })?;
        }
        // a (possibly empty) stream of events; nothing is printed
        Command::Provide { cids, recursive } => {
            c.request("routing/provide")
                .args(&cids)
                .flag("recursive", recursive)
                .stream(|_| Ok(()))?;
        }
    }
    out.flush()?;
    Ok(())
}

fn responses(v: &Value) -> impl Iterator<Item = &Value> {
    v["Responses"].as_array().into_iter().flatten()
}

/// A provider event: its peer ID once (`-v`: `provider: <id>` and its
/// addresses tab-indented, as Kubo prints them).
fn print_provider(
    out: &mut impl Write,
    v: &Value,
    verbose: bool,
    seen: &mut Vec<String>,
) -> std::io::Result<()> {
    if v["Type"].as_u64() != Some(PROVIDER) {
        return Ok(());
    }
    for r in responses(v) {
        let id = remote::str_field(r, "ID");
        if id.is_empty() || seen.iter().any(|s| s == id) {
            continue;
        }
        seen.push(id.to_string());
        if verbose {
            writeln!(out, "provider: {id}")?;
            for a in r["Addrs"].as_array().into_iter().flatten() {
                writeln!(out, "\t{}", a.as_str().unwrap_or_default())?;
            }
        } else {
            writeln!(out, "{id}")?;
        }
    }
    Ok(())
}

/// A final-peer event: the peer's addresses, one per line.
fn print_peer(out: &mut impl Write, v: &Value) -> std::io::Result<()> {
    if v["Type"].as_u64() != Some(FINAL_PEER) {
        return Ok(());
    }
    for r in responses(v) {
        for a in r["Addrs"].as_array().into_iter().flatten() {
            writeln!(out, "{}", a.as_str().unwrap_or_default())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_once_per_line() {
        let events = [
            r#"{"Extra":"","ID":"","Responses":[{"Addrs":["/ip4/10.0.0.2/tcp/4001"],"ID":"12D3A"}],"Type":4}"#,
            r#"{"Extra":"","ID":"12D3X","Responses":null,"Type":0}"#,
            r#"{"Extra":"","ID":"","Responses":[{"Addrs":[],"ID":"12D3B"}],"Type":4}"#,
            r#"{"Extra":"","ID":"","Responses":[{"Addrs":[],"ID":"12D3A"}],"Type":4}"#,
        ];
        let (mut out, mut seen) = (Vec::new(), Vec::new());
        for e in events {
            print_provider(
                &mut out,
                &serde_json::from_str(e).unwrap(),
                false,
                &mut seen,
            )
            .unwrap();
        }
        assert_eq!(String::from_utf8(out).unwrap(), "12D3A\n12D3B\n");
        let (mut out, mut seen) = (Vec::new(), Vec::new());
        print_provider(
            &mut out,
            &serde_json::from_str(events[0]).unwrap(),
            true,
            &mut seen,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "provider: 12D3A\n\t/ip4/10.0.0.2/tcp/4001\n"
        );
    }

    #[test]
    fn findpeer_addresses() {
        let v = serde_json::from_str(
            r#"{"Extra":"","ID":"","Responses":[{"ID":"12D3A","Addrs":["/ip4/10.0.0.2/tcp/4001","/ip4/10.0.0.2/udp/4001/quic-v1"]}],"Type":2}"#,
        )
        .unwrap();
        let mut out = Vec::new();
        print_peer(&mut out, &v).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "/ip4/10.0.0.2/tcp/4001\n/ip4/10.0.0.2/udp/4001/quic-v1\n"
        );
    }
}
