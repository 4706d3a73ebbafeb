//! `ferrite stats bw|bitswap` and `ferrite bitswap stat|wantlist`, through
//! the daemon: they report on the running network.

use super::swarm::online;
use super::Target;
use crate::remote::{self, Client};
use clap::Subcommand;
use serde_json::Value;
use std::io::Write;

/// Boxo's `HasBlockBufferSize`: the "provides buffer" capacity Kubo prints.
const PROVIDE_BUFFER: u64 = 256;

/// `stats` subcommands.
#[derive(Subcommand)]
pub(crate) enum Command {
    /// Bandwidth totals and rates.
    #[command(after_help = concat!(
        "Examples:\n",
        "  ferrite stats bw\n",
        "  ferrite stats bw --proto /ipfs/bitswap/1.2.0\n",
        "  ferrite stats bw -p 12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp",
    ))]
    Bw {
        /// Only this peer's traffic.
        #[arg(short, long)]
        peer: Option<String>,
        /// Only this protocol's traffic.
        #[arg(short = 't', long)]
        proto: Option<String>,
    },
    /// Bitswap counters, wantlist and partners.
    #[command(after_help = concat!(
        "Examples:\n",
        "  ferrite stats bitswap\n",
        "  ferrite stats bitswap -v --human",
    ))]
    Bitswap(BitswapStatArgs),
}

/// `bitswap` subcommands.
#[derive(Subcommand)]
pub(crate) enum BitswapCommand {
    /// Bitswap counters, wantlist and partners.
    #[command(after_help = concat!(
        "Examples:\n",
        "  ferrite bitswap stat\n",
        "  ferrite bitswap stat -v --human",
    ))]
    Stat(BitswapStatArgs),
    /// The blocks this node (or `--peer`) wants.
    #[command(after_help = concat!(
        "Examples:\n",
        "  ferrite bitswap wantlist\n",
        "  ferrite bitswap wantlist -p 12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp",
    ))]
    Wantlist {
        /// Show this peer's wantlist instead.
        #[arg(short, long)]
        peer: Option<String>,
    },
}

/// Options of `stats bitswap` / `bitswap stat`.
#[derive(clap::Args)]
pub(crate) struct BitswapStatArgs {
    /// List the partners too.
    #[arg(short, long)]
    verbose: bool,
    /// Print sizes in human units.
    #[arg(long)]
    human: bool,
}

/// Runs a `stats` subcommand through the daemon.
pub(crate) fn run(t: &Target, c: Command) -> anyhow::Result<()> {
    let client = online(t)?;
    let mut out = std::io::stdout().lock();
    match c {
        // {"TotalIn","TotalOut","RateIn","RateOut"}
        Command::Bw { peer, proto } => {
            let v = client
                .request("stats/bw")
                .opt_some("peer", peer)
                .opt_some("proto", proto)
                .json()?;
            print_bw(&mut out, &v)?;
        }
        Command::Bitswap(a) => bitswap_stat(client, &mut out, "stats/bitswap", a)?,
    }
    Ok(())
}

/// Runs a `bitswap` subcommand through the daemon.
pub(crate) fn run_bitswap(t: &Target, c: BitswapCommand) -> anyhow::Result<()> {
    let client = online(t)?;
    let mut out = std::io::stdout().lock();
    match c {
        BitswapCommand::Stat(a) => bitswap_stat(client, &mut out, "bitswap/stat", a)?,
        // {"Keys":[{"/":cid}]}
        BitswapCommand::Wantlist { peer } => {
            let v = client
                .request("bitswap/wantlist")
                .opt_some("peer", peer)
                .json()?;
            for k in v["Keys"].as_array().into_iter().flatten() {
                writeln!(out, "{}", remote::cid_str(k))?;
            }
        }
    }
    Ok(())
}

/// `{"Wantlist":[{"/":cid}],"Peers":[…],"BlocksReceived",…}`
fn bitswap_stat(
    c: &Client,
    out: &mut impl Write,
    cmd: &str,
    a: BitswapStatArgs,
) -> anyhow::Result<()> {
    let v = c
        .request(cmd)
        .flag("verbose", a.verbose)
        .flag("human", a.human)
        .json()?;
    print_bitswap(out, &v, a.verbose, a.human)?;
    Ok(())
}

/// go-humanize's `Bytes`: SI units, one decimal below 10.
pub(crate) fn humanize_bytes(n: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    if n < 10 {
        return format!("{n} B");
    }
    let e = ((n as f64).ln() / 1000f64.ln()).floor();
    let unit = UNITS[(e as usize).min(UNITS.len() - 1)];
    let val = (n as f64 / 1000f64.powf(e) * 10.0 + 0.5).floor() / 10.0;
    if val < 10.0 {
        format!("{val:.1} {unit}")
    } else {
        format!("{val:.0} {unit}")
    }
}

fn f64_field(v: &Value, k: &str) -> f64 {
    v.get(k).and_then(Value::as_f64).unwrap_or_default()
}

/// Kubo's text for `stats bw`.
fn print_bw(out: &mut impl Write, v: &Value) -> std::io::Result<()> {
    // Go's uint64(float) truncates; negative or NaN rates print as 0.
    let h = |k: &str| humanize_bytes(f64_field(v, k).max(0.0) as u64);
    writeln!(out, "Bandwidth")?;
    writeln!(out, "TotalIn: {}", h("TotalIn"))?;
    writeln!(out, "TotalOut: {}", h("TotalOut"))?;
    writeln!(out, "RateIn: {}/s", h("RateIn"))?;
    writeln!(out, "RateOut: {}/s", h("RateOut"))
}

/// Kubo's text for `stats bitswap` / `bitswap stat`.
fn print_bitswap(
    out: &mut impl Write,
    v: &Value,
    verbose: bool,
    human: bool,
) -> std::io::Result<()> {
    let n = |k: &str| remote::u64_field(v, k);
    let size = |k: &str| {
        if human {
            humanize_bytes(n(k))
        } else {
            n(k).to_string()
        }
    };
    let list = |k: &str| v[k].as_array().map(Vec::as_slice).unwrap_or_default();
    writeln!(out, "bitswap status")?;
    writeln!(
        out,
        "\tprovides buffer: {} / {PROVIDE_BUFFER}",
        n("ProvideBufLen")
    )?;
    writeln!(out, "\tblocks received: {}", n("BlocksReceived"))?;
    writeln!(out, "\tblocks sent: {}", n("BlocksSent"))?;
    writeln!(out, "\tdata received: {}", size("DataReceived"))?;
    writeln!(out, "\tdata sent: {}", size("DataSent"))?;
    writeln!(out, "\tdup blocks received: {}", n("DupBlksReceived"))?;
    writeln!(out, "\tdup data received: {}", size("DupDataReceived"))?;
    let wants = list("Wantlist");
    writeln!(out, "\twantlist [{} keys]", wants.len())?;
    for k in wants {
        writeln!(out, "\t\t{}", remote::cid_str(k))?;
    }
    let peers = list("Peers");
    writeln!(out, "\tpartners [{}]", peers.len())?;
    if verbose {
        for p in peers {
            writeln!(out, "\t\t{}", p.as_str().unwrap_or_default())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humanize_like_go_humanize() {
        for (n, s) in [
            (0, "0 B"),
            (9, "9 B"),
            (10, "10 B"),
            (999, "999 B"),
            (1000, "1.0 kB"),
            (1234, "1.2 kB"),
            (9960, "10 kB"),
            (82_854_982, "83 MB"),
            (1_000_000, "1.0 MB"),
            (5_500_000_000, "5.5 GB"),
        ] {
            assert_eq!(humanize_bytes(n), s, "{n}");
        }
    }

    #[test]
    fn bw_text() {
        let v =
            serde_json::from_str(r#"{"TotalIn":1234,"TotalOut":5,"RateIn":2048.7,"RateOut":0.0}"#)
                .unwrap();
        let mut out = Vec::new();
        print_bw(&mut out, &v).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Bandwidth\nTotalIn: 1.2 kB\nTotalOut: 5 B\nRateIn: 2.0 kB/s\nRateOut: 0 B/s\n"
        );
    }

    const STAT: &str = r#"{"Wantlist":[{"/":"bafkqaaa"}],"Peers":["12D3A","12D3B"],
        "BlocksReceived":3,"BlocksSent":4,"DataReceived":12345,"DataSent":6,
        "DupBlksReceived":1,"DupDataReceived":7,"MessagesReceived":9,"ProvideBufLen":0}"#;

    #[test]
    fn bitswap_text() {
        let v = serde_json::from_str(STAT).unwrap();
        let mut out = Vec::new();
        print_bitswap(&mut out, &v, false, false).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "bitswap status\n\tprovides buffer: 0 / 256\n\tblocks received: 3\n\tblocks sent: 4\n\
             \tdata received: 12345\n\tdata sent: 6\n\tdup blocks received: 1\n\tdup data received: 7\n\
             \twantlist [1 keys]\n\t\tbafkqaaa\n\tpartners [2]\n"
        );
        let mut out = Vec::new();
        print_bitswap(&mut out, &v, true, true).unwrap();
        let s = String::from_utf8(out).unwrap();
        assert!(s.contains("\tdata received: 12 kB\n"), "{s}");
        assert!(s.ends_with("\tpartners [2]\n\t\t12D3A\n\t\t12D3B\n"), "{s}");
    }
}
