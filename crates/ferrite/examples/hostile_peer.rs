//! A hostile peer for trying a running node by hand (issue 14); the same
//! attacks run in `tests/hostile.rs`. Loopback targets only — run the node
//! with `--profile test`, ideally inside `unshare -n`.
//!
//! ```text
//! hostile_peer ATTACK /ip4/127.0.0.1/tcp/N/p2p/PEER [SECONDS] [ROOT-CID]
//!   oversized    frames claiming > 4 MiB, a real 5 MiB one, unfinished 4 MiB ones
//!   wantlist     100,000 wants per round in frames under the limit
//!   badblocks    unsolicited and forged blocks (prints a CID: cat it on the node)
//!   slowreader   want every block of ROOT-CID, never read the answers
//!   streamflood  hundreds of bitswap streams per connection
//!   churn        500 connections opened and closed
//!   dhtspam      PUT_VALUE and ADD_PROVIDER records
//!   fetch        an honest fetch of ROOT-CID, timed
//! ```

#[path = "../tests/hostile_support/mod.rs"]
mod hostile_support;

use hostile_support as h;
use std::time::Duration;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: hostile_peer ATTACK MULTIADDR [SECONDS] [ROOT-CID]");
        std::process::exit(2);
    }
    let t = h::Target::parse(&args[1]).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    let dur = Duration::from_secs(args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10));
    let root = || -> ferrite_ipld::cid::Cid {
        let s = args.get(3).expect("this attack needs ROOT-CID");
        ferrite_ipld::parse_cid(s).expect("cid")
    };
    let out = match args[0].as_str() {
        "oversized" => h::oversized(&t, 64, dur).await,
        "wantlist" => h::wantlist(&t, dur).await,
        "badblocks" => {
            let data = bytes::Bytes::from(h::random_bytes(1000));
            let cid = h::raw_cid(&data);
            println!("cat {cid} on the node now");
            h::badblocks(&t, cid, data, dur).await
        }
        "slowreader" => {
            let (_, cids) = h::fetch(&t, root()).await.expect("fetch");
            h::slowreader(&t, cids, 24, dur).await
        }
        "streamflood" => h::streamflood(&t, 4, 300, dur).await,
        "churn" => h::churn(&t, 500, 16, dur.max(Duration::from_secs(30))).await,
        "dhtspam" => h::dhtspam(&t, 32, dur).await,
        "fetch" => match h::fetch(&t, root()).await {
            Ok((d, cids)) => format!("fetched {} blocks in {d:?}", cids.len()),
            Err(e) => format!("fetch failed: {e}"),
        },
        a => {
            eprintln!("unknown attack {a}");
            std::process::exit(2)
        }
    };
    println!("{out}");
}
