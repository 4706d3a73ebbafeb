//! `ferrite cluster …`: set up the cluster peer (`init`) and drive a running
//! cluster through its REST API, the way `ipfs-cluster-ctl` does.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use ferrite_cluster::api::rest::{expire_at, pin_options_query};
use ferrite_cluster::api::wire;
use ferrite_cluster::config::{self, ClusterSection};
use ferrite_cluster::types::{parse_peer_id, PinOptions, TrackerStatus};
use ferrite_cluster::PinMode;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::remote::Multipart;
use ferrite_http::client::{self as http, Upload};

/// `ferrite cluster` subcommands.
#[derive(clap::Subcommand)]
pub(crate) enum Command {
    /// Make this repo a cluster peer: writes the `Cluster` config section.
    #[command(after_help = concat!(
        "Examples:\n",
        "  ferrite cluster init --new-secret --peer-name node1\n",
        "  ferrite cluster init --secret 9a420ec947512b8836d8eb46e1c56fdb746ab8a78015b9821e6b46b38344038f --bootstrap /ip4/10.0.0.1/tcp/9096/p2p/12D3KooWHk4d8vbtoJ2Ax5ygxU4YgD9yJmjTjuEF5xXf7rUxJu3W",
    ))]
    Init(InitArgs),
    /// Show this cluster peer.
    #[command(after_help = concat!(
        "Examples:\n",
        "  ferrite cluster id\n",
        "  ferrite cluster id --host /ip4/10.0.0.2/tcp/9094 --enc json",
    ))]
    Id(Ctl),
    /// Cluster members.
    #[command(subcommand)]
    Peers(PeersCommand),
    /// Pin, unpin and list the cluster pinset.
    #[command(subcommand)]
    Pin(PinCommand),
    /// Status of CIDs on every peer.
    #[command(after_help = concat!(
        "Examples:\n",
        "  ferrite cluster status\n",
        "  ferrite cluster status QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o\n",
        "  ferrite cluster status --filter pin_error,queued",
    ))]
    Status(StatusArgs),
    /// Retry failed pins and unpins.
    #[command(after_help = concat!(
        "Examples:\n",
        "  ferrite cluster recover\n",
        "  ferrite cluster recover --local QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o",
    ))]
    Recover(RecoverArgs),
    /// Add files on this peer and pin them cluster-wide.
    #[command(after_help = concat!(
        "Examples:\n",
        "  ferrite cluster add hello.txt\n",
        "  ferrite cluster add -r --rmin 2 --rmax 3 --name site my-folder",
    ))]
    Add(AddArgs),
}

/// Arguments of `cluster init`.
#[derive(clap::Args)]
pub(crate) struct InitArgs {
    /// Generate a new 32-byte cluster secret (first peer of a new cluster).
    #[arg(long, conflicts_with = "secret")]
    new_secret: bool,
    /// The cluster's secret, 64 hex digits (every other peer).
    #[arg(
        long,
        value_name = "HEX",
        env = "CLUSTER_SECRET",
        hide_env_values = true
    )]
    secret: Option<String>,
    /// Human-readable name of this peer (default: the host name).
    #[arg(long)]
    peer_name: Option<String>,
    /// Cluster listen address(es) (default /ip4/0.0.0.0/tcp/9096).
    #[arg(long = "listen", value_name = "MULTIADDR")]
    listen: Vec<String>,
    /// Peers to join through (cluster multiaddrs ending in /p2p/<id>).
    #[arg(long = "bootstrap", value_name = "MULTIADDR")]
    bootstrap: Vec<String>,
    /// REST API address (default /ip4/127.0.0.1/tcp/9094, "off" disables).
    #[arg(long, value_name = "MULTIADDR")]
    rest_api: Option<String>,
    /// Pinning Service API address (default /ip4/127.0.0.1/tcp/9097, "off" disables).
    #[arg(long, value_name = "MULTIADDR")]
    pinsvc_api: Option<String>,
    /// Default minimum replication (-1 = every peer).
    #[arg(long, allow_hyphen_values = true)]
    replication_min: Option<i32>,
    /// Default maximum replication (-1 = every peer).
    #[arg(long, allow_hyphen_values = true)]
    replication_max: Option<i32>,
    /// Replace an existing `Cluster` section.
    #[arg(long, short)]
    force: bool,
}

/// Options shared by the commands that talk to the REST API.
#[derive(clap::Args, Clone)]
pub(crate) struct Ctl {
    /// REST API of the cluster peer (default: this repo's Cluster.RestAPI, else 127.0.0.1:9094).
    #[arg(long, value_name = "MULTIADDR")]
    host: Option<String>,
    /// `user:password` for a REST API with basic auth.
    #[arg(
        long,
        value_name = "USER:PASSWORD",
        env = "CLUSTER_BASIC_AUTH",
        hide_env_values = true
    )]
    basic_auth: Option<String>,
    /// Output encoding: text or json.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    enc: String,
}

/// `cluster peers` subcommands.
#[derive(clap::Subcommand)]
pub(crate) enum PeersCommand {
    /// List every member with its addresses.
    #[command(after_help = concat!(
        "Examples:\n",
        "  ferrite cluster peers ls\n",
        "  ferrite cluster peers ls --enc json",
    ))]
    Ls(Ctl),
    /// Remove a member from the cluster.
    #[command(
        after_help = "Examples:\n  ferrite cluster peers rm 12D3KooWHk4d8vbtoJ2Ax5ygxU4YgD9yJmjTjuEF5xXf7rUxJu3W"
    )]
    Rm {
        /// Cluster peer ID.
        peer: String,
        #[command(flatten)]
        ctl: Ctl,
    },
}

/// Options of `cluster pin add` and `cluster add`.
#[derive(clap::Args, Clone)]
pub(crate) struct PinOpts {
    /// Minimum number of peers holding it (-1 = all).
    #[arg(long = "rmin", alias = "replication-min", allow_hyphen_values = true)]
    rmin: Option<i32>,
    /// Maximum number of peers holding it (-1 = all).
    #[arg(long = "rmax", alias = "replication-max", allow_hyphen_values = true)]
    rmax: Option<i32>,
    /// Pin name.
    #[arg(long, short = 'n')]
    name: Option<String>,
    /// recursive or direct.
    #[arg(long, value_parser = ["recursive", "direct"])]
    mode: Option<String>,
    /// Remove the pin after this long (e.g. 1h, 30m, 90s).
    #[arg(long, value_name = "DURATION")]
    expire_in: Option<String>,
    /// Peers to allocate to first (comma separated cluster peer IDs).
    #[arg(long, value_name = "PEERS")]
    allocations: Option<String>,
    /// Metadata key=value (repeatable).
    #[arg(long, value_name = "KEY=VALUE")]
    metadata: Vec<String>,
    /// Wait until the pin is pinned on all its allocations.
    #[arg(long, short = 'w')]
    wait: bool,
    /// How long --wait waits.
    #[arg(long, default_value = "5m", value_name = "DURATION")]
    wait_timeout: String,
}

/// `cluster pin` subcommands.
#[derive(clap::Subcommand)]
pub(crate) enum PinCommand {
    /// Pin a CID in the cluster.
    #[command(after_help = concat!(
        "Examples:\n",
        "  ferrite cluster pin add QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o\n",
        "  ferrite cluster pin add --rmin 2 --rmax 3 --name backups bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi\n",
        "  ferrite cluster pin add -w --expire-in 24h QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o",
    ))]
    Add {
        /// CID (or /ipfs/ path) to pin.
        cid: String,
        #[command(flatten)]
        opts: PinOpts,
        #[command(flatten)]
        ctl: Ctl,
    },
    /// Unpin a CID from the cluster.
    #[command(after_help = concat!(
        "Examples:\n",
        "  ferrite cluster pin rm QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o\n",
        "  ferrite cluster pin rm -w bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
    ))]
    Rm {
        /// CID to unpin.
        cid: String,
        /// Wait until every peer has unpinned it.
        #[arg(long, short = 'w')]
        wait: bool,
        /// How long --wait waits.
        #[arg(long, default_value = "5m", value_name = "DURATION")]
        wait_timeout: String,
        #[command(flatten)]
        ctl: Ctl,
    },
    /// List the pinset (allocations, replication, names).
    #[command(after_help = concat!(
        "Examples:\n",
        "  ferrite cluster pin ls\n",
        "  ferrite cluster pin ls QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o",
    ))]
    Ls {
        /// Only this CID.
        cid: Option<String>,
        #[command(flatten)]
        ctl: Ctl,
    },
}

/// Arguments of `cluster status`.
#[derive(clap::Args)]
pub(crate) struct StatusArgs {
    /// Only this CID.
    cid: Option<String>,
    /// Only this peer's view.
    #[arg(long)]
    local: bool,
    /// Only CIDs with one of these statuses on some peer (comma separated,
    /// e.g. pin_error,queued).
    #[arg(long)]
    filter: Option<String>,
    #[command(flatten)]
    ctl: Ctl,
}

/// Arguments of `cluster recover`.
#[derive(clap::Args)]
pub(crate) struct RecoverArgs {
    /// Only this CID (default: every CID in an error state).
    cid: Option<String>,
    /// Only on this peer.
    #[arg(long)]
    local: bool,
    #[command(flatten)]
    ctl: Ctl,
}

/// Arguments of `cluster add`.
#[derive(clap::Args)]
pub(crate) struct AddArgs {
    /// Files or folders to add.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Add folders recursively.
    #[arg(long, short = 'r')]
    recursive: bool,
    /// Wrap the files in a folder.
    #[arg(long, short = 'w')]
    wrap_with_directory: bool,
    /// CID version.
    #[arg(long)]
    cid_version: Option<u8>,
    /// Raw leaves.
    #[arg(long)]
    raw_leaves: Option<bool>,
    /// Print only the final CID.
    #[arg(long, short = 'Q')]
    quieter: bool,
    #[command(flatten)]
    opts: PinOpts,
    #[command(flatten)]
    ctl: Ctl,
}

/// Runs a `cluster` subcommand; `repo` supplies defaults (the REST address).
pub(crate) fn run(repo: &Path, c: Command) -> Result<()> {
    match c {
        Command::Init(a) => init(repo, a),
        Command::Id(ctl) => {
            let id: wire::Id = Api::new(repo, &ctl)?.get("/id")?;
            match ctl.json() {
                true => println!("{}", serde_json::to_string_pretty(&id)?),
                false => print_peer(&id, &mut io::stdout().lock())?,
            }
            Ok(())
        }
        Command::Peers(PeersCommand::Ls(ctl)) => {
            let api = Api::new(repo, &ctl)?;
            api.stream("GET", "/peers", Upload::Empty, |id| {
                ctl.show(&id, print_peer)
            })
        }
        Command::Peers(PeersCommand::Rm { peer, ctl }) => {
            Api::new(repo, &ctl)?.send("DELETE", &format!("/peers/{peer}"), Upload::Empty)?;
            println!("removed {peer}");
            Ok(())
        }
        Command::Pin(PinCommand::Add { cid, opts, ctl }) => {
            let api = Api::new(repo, &ctl)?;
            let q = query(&pin_options_query(&opts.options()?));
            let pin: wire::Pin = api.call("POST", &format!("/pins/{}?{q}", enc_path(&cid)))?;
            let cid = pin.cid.to_string();
            if opts.wait {
                wait_for(&api, &cid, &opts.wait_timeout, true)?;
            }
            show_status(&api, &cid, &ctl)
        }
        Command::Pin(PinCommand::Rm {
            cid,
            wait,
            wait_timeout,
            ctl,
        }) => {
            let api = Api::new(repo, &ctl)?;
            let pin: wire::Pin = api.call("DELETE", &format!("/pins/{}", enc_path(&cid)))?;
            let cid = pin.cid.to_string();
            if wait {
                wait_for(&api, &cid, &wait_timeout, false)?;
            }
            show_status(&api, &cid, &ctl)
        }
        Command::Pin(PinCommand::Ls { cid, ctl }) => {
            let api = Api::new(repo, &ctl)?;
            match cid {
                Some(c) => ctl.show(
                    &api.get(&format!("/allocations/{}", enc_path(&c)))?,
                    print_pin,
                ),
                None => api.stream("GET", "/allocations", Upload::Empty, |p| {
                    ctl.show(&p, print_pin)
                }),
            }
        }
        Command::Status(a) => {
            let api = Api::new(repo, &a.ctl)?;
            let show = |g: wire::GlobalPinInfo| a.ctl.show(&g, print_status);
            match a.cid {
                Some(c) => show(api.get(&format!("/pins/{}?local={}", enc_path(&c), a.local))?),
                None => {
                    let mut q = vec![("local".to_string(), a.local.to_string())];
                    q.extend(a.filter.map(|f| ("filter".to_string(), f)));
                    api.stream("GET", &format!("/pins?{}", query(&q)), Upload::Empty, show)
                }
            }
        }
        Command::Recover(a) => {
            let api = Api::new(repo, &a.ctl)?;
            let show = |g: wire::GlobalPinInfo| a.ctl.show(&g, print_status);
            let local = format!("local={}", a.local);
            match a.cid {
                Some(c) => {
                    show(api.call("POST", &format!("/pins/{}/recover?{local}", enc_path(&c)))?)
                }
                None => api.stream(
                    "POST",
                    &format!("/pins/recover?{local}"),
                    Upload::Empty,
                    show,
                ),
            }
        }
        Command::Add(a) => add(repo, a),
    }
}

/// Writes an answer as text.
type Encoder<T> = fn(&T, &mut dyn Write) -> io::Result<()>;

impl Ctl {
    fn json(&self) -> bool {
        self.enc == "json"
    }

    /// Prints one answer: a JSON line with `--enc json`, else `text`'s
    /// lines (a closed stdout is an error, which ends a listing quietly).
    fn show<T: Serialize>(&self, v: &T, text: Encoder<T>) -> Result<()> {
        let mut out = io::stdout().lock();
        match self.json() {
            true => writeln!(out, "{}", serde_json::to_string(v)?)?,
            false => text(v, &mut out)?,
        }
        Ok(())
    }
}

impl PinOpts {
    /// The options as the REST API takes them; `--expire-in` becomes a
    /// time, as `ipfs-cluster-ctl` sends it.
    fn options(&self) -> Result<PinOptions> {
        let expire_at = match &self.expire_in {
            Some(d) => {
                let d = config::parse_duration(d).map_err(|e| anyhow!("--expire-in: {e}"))?;
                let now = ferrite_cluster::types::now_ms() / 1000;
                Some(expire_at(now, d))
            }
            None => None,
        };
        let mut metadata = BTreeMap::new();
        for kv in &self.metadata {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| anyhow!("--metadata {kv:?}: expected KEY=VALUE"))?;
            metadata.insert(k.to_string(), v.to_string());
        }
        Ok(PinOptions {
            name: self.name.clone().unwrap_or_default(),
            mode: match self.mode.as_deref() {
                Some("direct") => PinMode::Direct,
                _ => PinMode::Recursive,
            },
            replication_min: self.rmin,
            replication_max: self.rmax,
            user_allocations: self
                .allocations
                .iter()
                .flat_map(|a| a.split(','))
                .filter(|p| !p.trim().is_empty())
                .map(|p| parse_peer_id(p).map_err(|e| anyhow!("--allocations: {e}")))
                .collect::<Result<_>>()?,
            expire_at,
            metadata,
        })
    }
}

fn init(repo: &Path, a: InitArgs) -> Result<()> {
    let node = ferrite_node::Node::open(repo).context(
        "cluster init needs an initialized repo that no daemon holds (run `ferrite init`, stop the daemon)",
    )?;
    let mut cfg = node.config();
    if !a.force && ClusterSection::from_config(&cfg)?.is_some() {
        bail!("this repo already has a Cluster section; use --force to replace it");
    }
    let secret: [u8; 32] = match (&a.secret, a.new_secret) {
        (Some(s), _) => config::parse_secret(s).map_err(|e| anyhow!("--secret: {e}"))?,
        (None, true) => rand::random(),
        (None, false) => bail!(
            "give the cluster secret: --new-secret for a new cluster, or --secret HEX to join one"
        ),
    };
    let name = a.peer_name.unwrap_or_else(hostname);
    let mut s = ClusterSection::new(&secret, &name);
    if !a.listen.is_empty() {
        s.listen_multiaddress = a.listen;
    }
    s.bootstrap = a.bootstrap;
    if let Some(v) = a.replication_min {
        s.replication_factor_min = v;
    }
    if let Some(v) = a.replication_max {
        s.replication_factor_max = v;
    }
    if let Some(v) = a.rest_api {
        s.rest_api.http_listen_multiaddress = v;
    }
    if let Some(v) = a.pinsvc_api {
        s.pin_svc_api.http_listen_multiaddress = v;
    }
    s.pin_svc_api.tokens = vec![config::to_hex(&rand::random::<[u8; 24]>())];
    s.validate()?;
    cfg.set("Cluster", serde_json::to_value(&s)?)?;
    super::save_config(&node, cfg)?;
    println!(
        "cluster peer configured in {}",
        repo.join("config").display()
    );
    println!("cluster secret: {}", s.secret);
    println!("pinning service token: {}", s.pin_svc_api.tokens[0]);
    if a.new_secret {
        println!("other peers join with: ferrite cluster init --secret {} --bootstrap <this peer's cluster address>", s.secret);
    }
    Ok(())
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "ferrite".into())
}

fn add(repo: &Path, a: AddArgs) -> Result<()> {
    let api = Api::new(repo, &a.ctl)?;
    let mut m = Multipart::new();
    for p in &a.paths {
        if p.is_dir() && !a.recursive {
            bail!("{} is a directory, use -r to add directories", p.display());
        }
        m.add_path(p, false)?;
    }
    let mut q = pin_options_query(&a.opts.options()?);
    q.push(("stream-channels".into(), "true".into()));
    q.push((
        "wrap-with-directory".into(),
        a.wrap_with_directory.to_string(),
    ));
    q.extend(a.cid_version.map(|v| ("cid-version".into(), v.to_string())));
    q.extend(a.raw_leaves.map(|v| ("raw-leaves".into(), v.to_string())));
    let ct = format!("multipart/form-data; boundary={}", m.boundary());
    let mut last = None;
    let body = Upload::Stream(ct, Box::new(move |w| m.write_to(w)));
    api.stream(
        "POST",
        &format!("/add?{}", query(&q)),
        body,
        |v: wire::Added| {
            if a.ctl.json() {
                println!("{}", serde_json::to_string(&v)?);
            } else if !a.quieter {
                println!("added {} {}", v.cid, v.name);
            }
            last = Some(v.cid);
            Ok(())
        },
    )?;
    let root = last.ok_or_else(|| anyhow!("the cluster peer added nothing"))?;
    if a.quieter && !a.ctl.json() {
        println!("{root}");
    }
    if a.opts.wait {
        wait_for(&api, &root, &a.opts.wait_timeout, true)?;
    }
    Ok(())
}

/// Polls the status until every allocation reports `pinned` (or, for an
/// unpin, no peer reports pinned/pinning/unpinning any more).
fn wait_for(api: &Api, cid: &str, timeout: &str, pinned: bool) -> Result<()> {
    let timeout = config::parse_duration(timeout).map_err(|e| anyhow!("--wait-timeout: {e}"))?;
    let deadline = Instant::now() + timeout;
    let mut delay = Duration::from_millis(50);
    loop {
        let g: wire::GlobalPinInfo = api.get(&format!("/pins/{cid}"))?;
        let done = if pinned {
            let relevant: Vec<&wire::PinInfo> = g
                .peer_map
                .iter()
                .filter(|(k, _)| g.allocations.is_empty() || g.allocations.contains(k))
                .map(|(_, v)| v)
                .collect();
            if let Some(e) = relevant
                .iter()
                .find(|p| p.status == TrackerStatus::PinError)
            {
                if Instant::now() > deadline {
                    bail!("pin_error: {}", e.error);
                }
            }
            !relevant.is_empty() && relevant.iter().all(|p| p.status == TrackerStatus::Pinned)
        } else {
            g.peer_map.values().all(|p| {
                matches!(
                    p.status,
                    TrackerStatus::Unpinned | TrackerStatus::Remote | TrackerStatus::ClusterError
                )
            })
        };
        if done {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "timed out after {:?} waiting for {cid} to be {}",
                timeout,
                if pinned { "pinned" } else { "unpinned" }
            );
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(500));
    }
}

fn show_status(api: &Api, cid: &str, ctl: &Ctl) -> Result<()> {
    ctl.show(&api.get(&format!("/pins/{cid}"))?, print_status)
}

fn print_peer(v: &wire::Id, out: &mut dyn Write) -> io::Result<()> {
    if !v.error.is_empty() {
        return writeln!(out, "{} | ERROR: {}", v.id, v.error);
    }
    let others = v.cluster_peers.len().saturating_sub(1);
    writeln!(out, "{} | {} | Sees {others} other peers", v.id, v.peername)?;
    writeln!(out, "  > Addresses:")?;
    for a in &v.addresses {
        writeln!(out, "    - {a}")?;
    }
    writeln!(out, "  > IPFS: {}", v.ipfs.id)?;
    for a in &v.ipfs.addresses {
        writeln!(out, "    - {a}")?;
    }
    Ok(())
}

fn print_pin(v: &wire::Pin, out: &mut dyn Write) -> io::Result<()> {
    let allocs = match v.allocations.is_empty() {
        true => "[everywhere]".to_string(),
        false => {
            let peers: Vec<String> = v.allocations.iter().map(|p| p.to_string()).collect();
            format!("[{}]", peers.join(" "))
        }
    };
    let repl = match v.replication_factor_min {
        -1 => "Repl. Factor: -1".to_string(),
        min => format!("Repl. Factor: {min}--{}", v.replication_factor_max),
    };
    let exp = match v.expire_at.as_str() {
        "" | wire::NEVER => "∞",
        t => t,
    };
    let meta = match v.metadata.as_ref().is_some_and(|m| !m.is_empty()) {
        true => "yes",
        false => "no",
    };
    let mode = match v.mode {
        PinMode::Direct => "Direct",
        PinMode::Recursive => "Recursive",
    };
    writeln!(
        out,
        "{} | {} | PIN | {repl} | Allocations: {allocs} | {mode} | Metadata: {meta} | Exp: {exp} | Added: {}",
        v.cid, v.name, v.timestamp
    )
}

fn print_status(v: &wire::GlobalPinInfo, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "{} | {}:", v.cid, v.name)?;
    for (peer, p) in &v.peer_map {
        let name = match p.peername.as_str() {
            "" => peer.to_string(),
            n => n.to_string(),
        };
        let status = p.status.as_str().to_uppercase();
        write!(
            out,
            "    > {name:<16} : {status} | {} | Attempts: {}",
            p.timestamp, p.attempt_count
        )?;
        if !p.error.is_empty() {
            write!(out, " | Error: {}", p.error)?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// Percent-encodes a query value or path segment (`%20` for a space, which
/// is right in paths too, unlike `remote::query_escape`'s `+`).
fn enc_query(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, crate::remote::QUERY).to_string()
}

/// A query string of `pairs`.
fn query(pairs: &[(String, String)]) -> String {
    let pairs = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc_query(k), enc_query(v)));
    pairs.collect::<Vec<_>>().join("&")
}

/// A CID or `/ipfs/…` path as a URL path segment (slashes kept).
fn enc_path(s: &str) -> String {
    s.trim_start_matches('/')
        .split('/')
        .map(enc_query)
        .collect::<Vec<_>>()
        .join("/")
}

/// A small client of the cluster REST API; answers decode into
/// [`wire`]'s types.
struct Api {
    base: String,
    http: http::Client,
}

impl Api {
    fn new(repo: &Path, ctl: &Ctl) -> Result<Api> {
        let ma = match &ctl.host {
            Some(h) => h.clone(),
            None => rest_addr_of(repo),
        };
        let addr = ferrite_http::addr::dialable(
            ferrite_http::addr::to_socket(&ma).map_err(|e| anyhow!("--host {ma}: {e}"))?,
        );
        let mut http = http::Client::new(addr)?;
        if let Some(ua) = &ctl.basic_auth {
            use base64::Engine as _;
            let b64 = base64::engine::general_purpose::STANDARD.encode(ua.as_bytes());
            http = http.with_header("authorization", &format!("Basic {b64}"))?;
        }
        Ok(Api {
            base: format!("http://{addr}"),
            http,
        })
    }

    /// Sends; an error status becomes its `{"code","message"}` message.
    fn send(&self, method: &str, path: &str, body: Upload) -> Result<http::ResponseBody> {
        let method = http::Method::from_bytes(method.as_bytes())?;
        let resp = self.http.send(method, path, body).map_err(|e| match e {
            http::ClientError::Source(e) => anyhow!(e),
            e => anyhow!("cannot reach the cluster REST API at {}: {e}", self.base),
        })?;
        let status = resp.status.as_u16();
        if status >= 400 {
            let text = resp.body.text().unwrap_or_default();
            let msg = match serde_json::from_str::<wire::Error>(&text) {
                Ok(e) => e.message,
                Err(_) => text.trim().to_string(),
            };
            bail!("{status}: {msg}");
        }
        Ok(resp.body)
    }

    fn call<T: DeserializeOwned>(&self, method: &str, path: &str) -> Result<T> {
        let text = self.send(method, path, Upload::Empty)?.text()?;
        serde_json::from_str(&text).map_err(|e| anyhow!("bad answer from the cluster: {e}"))
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.call("GET", path)
    }

    /// Sends and feeds each value of the NDJSON answer to `f`.
    fn stream<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Upload,
        mut f: impl FnMut(T) -> Result<()>,
    ) -> Result<()> {
        for line in BufReader::new(self.send(method, path, body)?).lines() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str(&line) {
                Ok(v) => f(v)?,
                Err(e) => match serde_json::from_str::<wire::Error>(&line) {
                    Ok(err) => bail!("{}", err.message),
                    Err(_) => bail!("bad answer from the cluster: {e}"),
                },
            }
        }
        Ok(())
    }
}

/// The REST API address from this repo's config, or the default.
fn rest_addr_of(repo: &Path) -> String {
    let read = || -> Option<String> {
        let cfg = ferrite_config::Config::load(repo.join("config")).ok()?;
        let s = ClusterSection::from_config(&cfg).ok()??;
        match s.rest_api.http_listen_multiaddress.as_str() {
            "" | "off" => None,
            a => Some(a.to_string()),
        }
    };
    read().unwrap_or_else(|| config::DEFAULT_REST_API.to_string())
}
