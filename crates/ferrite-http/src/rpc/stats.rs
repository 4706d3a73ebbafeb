//! `stats bw`, `stats bitswap` (= `bitswap stat`) and `bitswap wantlist`:
//! counters of the running network.

use crate::command::{fail, nullable, route, route_at, Command, Ctx, Emit, Link, Needs};
use crate::rpc::ApiError;
use serde::{Deserialize, Serialize};
use std::io::{self, Write};

/// The `stats` and `bitswap` commands.
pub(super) const COMMANDS: &[super::Route] = &[
    route::<Bw>(),
    route_at::<Bitswap>("stats/bitswap"),
    route::<Bitswap>(),
    route::<Wantlist>(),
];

/// Boxo's `HasBlockBufferSize`: the "provides buffer" capacity Kubo prints.
const PROVIDE_BUFFER: u64 = 256;

/// Bandwidth totals and rates.
#[derive(clap::Args, Serialize, Deserialize)]
#[command(after_help = concat!(
    "Examples:\n",
    "  ferrite stats bw\n",
    "  ferrite stats bw --proto /ipfs/bitswap/1.2.0\n",
    "  ferrite stats bw -p 12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp",
))]
pub struct Bw {
    /// Only this peer's traffic.
    #[arg(short, long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    /// Only this protocol's traffic.
    #[arg(short = 't', long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proto: Option<String>,
}

/// Kubo's `metrics.Stats`: transport traffic (see `ferrite_node::net::Bandwidth`).
#[derive(Debug, Serialize, Deserialize)]
pub struct BwStats {
    /// Bytes received.
    #[serde(rename = "TotalIn")]
    pub total_in: u64,
    /// Bytes sent.
    #[serde(rename = "TotalOut")]
    pub total_out: u64,
    /// Bytes per second received.
    #[serde(rename = "RateIn")]
    pub rate_in: f64,
    /// Bytes per second sent.
    #[serde(rename = "RateOut")]
    pub rate_out: f64,
}

impl Command for Bw {
    const PATH: &'static str = "stats/bw";
    type Item = BwStats;
    const NEEDS: Needs = Needs::Network;

    fn run(&self, ctx: &Ctx, emit: Emit<'_, BwStats>) -> Result<(), ApiError> {
        let bw = ctx.net()?.bandwidth();
        emit(BwStats {
            total_in: bw.total_in,
            total_out: bw.total_out,
            rate_in: bw.rate_in,
            rate_out: bw.rate_out,
        })?;
        Ok(())
    }

    fn text(&self, s: &BwStats, out: &mut dyn Write) -> io::Result<()> {
        // Go's uint64(float) truncates; negative or NaN rates print as 0.
        let rate = |r: f64| humanize_bytes(r.max(0.0) as u64);
        writeln!(out, "Bandwidth")?;
        writeln!(out, "TotalIn: {}", humanize_bytes(s.total_in))?;
        writeln!(out, "TotalOut: {}", humanize_bytes(s.total_out))?;
        writeln!(out, "RateIn: {}/s", rate(s.rate_in))?;
        writeln!(out, "RateOut: {}/s", rate(s.rate_out))
    }
}

/// Bitswap counters, wantlist and partners (its examples are on the CLI's
/// two names for it).
#[derive(clap::Args, Serialize, Deserialize)]
pub struct Bitswap {
    /// List the partners too.
    #[arg(short, long)]
    #[serde(default)]
    pub verbose: bool,
    /// Print sizes in human units.
    #[arg(long)]
    #[serde(default)]
    pub human: bool,
}

/// Kubo's bitswap `Stat`.
#[derive(Debug, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct BitswapStat {
    #[serde(rename = "ProvideBufLen")]
    pub provide_buf_len: u64,
    #[serde(rename = "Wantlist", default, deserialize_with = "nullable")]
    pub wantlist: Vec<Link>,
    #[serde(rename = "Peers", default, deserialize_with = "nullable")]
    pub peers: Vec<String>,
    #[serde(rename = "BlocksReceived")]
    pub blocks_received: u64,
    #[serde(rename = "DataReceived")]
    pub data_received: u64,
    #[serde(rename = "BlocksSent")]
    pub blocks_sent: u64,
    #[serde(rename = "DataSent")]
    pub data_sent: u64,
    #[serde(rename = "DupBlksReceived")]
    pub dup_blks_received: u64,
    #[serde(rename = "DupDataReceived")]
    pub dup_data_received: u64,
    #[serde(rename = "MessagesReceived")]
    pub messages_received: u64,
}

fn links(ctx: &Ctx, cids: &[ferrite_node::Cid]) -> Vec<Link> {
    cids.iter()
        .map(|c| Link {
            cid: ctx.cids.encode(c),
        })
        .collect()
}

impl Command for Bitswap {
    const PATH: &'static str = "bitswap/stat";
    type Item = BitswapStat;
    const NEEDS: Needs = Needs::Network;

    fn run(&self, ctx: &Ctx, emit: Emit<'_, BitswapStat>) -> Result<(), ApiError> {
        let s = ctx.wait(ctx.net()?.bitswap_stats())?.map_err(fail)?;
        emit(BitswapStat {
            provide_buf_len: 0,
            wantlist: links(ctx, &s.wantlist),
            peers: s.peers.iter().map(|p| p.to_string()).collect(),
            blocks_received: s.blocks_received,
            data_received: s.data_received,
            blocks_sent: s.blocks_sent,
            data_sent: s.data_sent,
            dup_blks_received: s.dup_blks_received,
            dup_data_received: s.dup_data_received,
            messages_received: s.messages_received,
        })?;
        Ok(())
    }

    fn text(&self, s: &BitswapStat, out: &mut dyn Write) -> io::Result<()> {
        let size = |n: u64| {
            if self.human {
                humanize_bytes(n)
            } else {
                n.to_string()
            }
        };
        writeln!(out, "bitswap status")?;
        writeln!(
            out,
            "\tprovides buffer: {} / {PROVIDE_BUFFER}",
            s.provide_buf_len
        )?;
        writeln!(out, "\tblocks received: {}", s.blocks_received)?;
        writeln!(out, "\tblocks sent: {}", s.blocks_sent)?;
        writeln!(out, "\tdata received: {}", size(s.data_received))?;
        writeln!(out, "\tdata sent: {}", size(s.data_sent))?;
        writeln!(out, "\tdup blocks received: {}", s.dup_blks_received)?;
        writeln!(out, "\tdup data received: {}", size(s.dup_data_received))?;
        writeln!(out, "\twantlist [{} keys]", s.wantlist.len())?;
        for k in &s.wantlist {
            writeln!(out, "\t\t{}", k.cid)?;
        }
        writeln!(out, "\tpartners [{}]", s.peers.len())?;
        if self.verbose {
            for p in &s.peers {
                writeln!(out, "\t\t{p}")?;
            }
        }
        Ok(())
    }
}

/// The blocks this node (or `--peer`) wants.
#[derive(clap::Args, Serialize, Deserialize)]
#[command(after_help = concat!(
    "Examples:\n",
    "  ferrite bitswap wantlist\n",
    "  ferrite bitswap wantlist -p 12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp",
))]
pub struct Wantlist {
    /// Show this peer's wantlist instead.
    #[arg(short, long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
}

/// `{"Keys":[{"/":cid}]}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Keys {
    /// The wanted blocks.
    #[serde(rename = "Keys", default, deserialize_with = "nullable")]
    pub keys: Vec<Link>,
}

impl Command for Wantlist {
    const PATH: &'static str = "bitswap/wantlist";
    type Item = Keys;
    const NEEDS: Needs = Needs::Network;

    fn run(&self, ctx: &Ctx, emit: Emit<'_, Keys>) -> Result<(), ApiError> {
        let s = ctx.wait(ctx.net()?.bitswap_stats())?.map_err(fail)?;
        emit(Keys {
            keys: links(ctx, &s.wantlist),
        })?;
        Ok(())
    }

    fn text(&self, k: &Keys, out: &mut dyn Write) -> io::Result<()> {
        k.keys.iter().try_for_each(|l| writeln!(out, "{}", l.cid))
    }
}

/// go-humanize's `Bytes`: SI units, one decimal below 10.
pub fn humanize_bytes(n: u64) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::text_of as text;

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
        let bw = Bw {
            peer: None,
            proto: None,
        };
        assert_eq!(
            text(
                &bw,
                r#"{"TotalIn":1234,"TotalOut":5,"RateIn":2048.7,"RateOut":0.0}"#
            ),
            "Bandwidth\nTotalIn: 1.2 kB\nTotalOut: 5 B\nRateIn: 2.0 kB/s\nRateOut: 0 B/s\n"
        );
    }

    const STAT: &str = r#"{"Wantlist":[{"/":"bafkqaaa"}],"Peers":["12D3A","12D3B"],
        "BlocksReceived":3,"BlocksSent":4,"DataReceived":12345,"DataSent":6,
        "DupBlksReceived":1,"DupDataReceived":7,"MessagesReceived":9,"ProvideBufLen":0}"#;

    #[test]
    fn bitswap_text() {
        let plain = Bitswap {
            verbose: false,
            human: false,
        };
        assert_eq!(
            text(&plain, STAT),
            "bitswap status\n\tprovides buffer: 0 / 256\n\tblocks received: 3\n\tblocks sent: 4\n\
             \tdata received: 12345\n\tdata sent: 6\n\tdup blocks received: 1\n\tdup data received: 7\n\
             \twantlist [1 keys]\n\t\tbafkqaaa\n\tpartners [2]\n"
        );
        let s = text(
            &Bitswap {
                verbose: true,
                human: true,
            },
            STAT,
        );
        assert!(s.contains("\tdata received: 12 kB\n"), "{s}");
        assert!(s.ends_with("\tpartners [2]\n\t\t12D3A\n\t\t12D3B\n"), "{s}");
    }

    #[test]
    fn a_renamed_field_does_not_decode() {
        let renamed = STAT.replace("BlocksSent", "BlocksSnt");
        assert!(serde_json::from_str::<BitswapStat>(&renamed).is_err());
    }
}
