//! `ferrite devnet --nodes N`: a private cluster on loopback in one
//! command — N daemons with a fresh swarm key and cluster secret, each in
//! its own repo under one folder, until Ctrl-C.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use ferrite_cluster::config::{self, ClusterSection};
use ferrite_config::Config;
use ferrite_node::Node;

/// Arguments of `devnet`.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  ferrite devnet\n  ferrite devnet --nodes 5 --dir /tmp/devnet")]
pub(crate) struct Args {
    /// Number of peers (3 survive the loss of one).
    #[arg(long, short = 'n', default_value_t = 3)]
    nodes: usize,
    /// Folder for the repos (created; reused when it holds a devnet).
    #[arg(long, default_value = "ferrite-devnet")]
    dir: PathBuf,
    /// First port; peer i uses base + 10·i … base + 10·i + 5.
    #[arg(long, default_value_t = 24000)]
    base_port: u16,
    /// Default replication factor of cluster pins.
    #[arg(long, default_value_t = 2)]
    replication: i32,
}

struct Ports {
    swarm: u16,
    api: u16,
    gateway: u16,
    cluster: u16,
    rest: u16,
    pinsvc: u16,
}

fn ports(base: u16, i: usize) -> Ports {
    let b = base + 10 * i as u16;
    Ports {
        swarm: b,
        api: b + 1,
        gateway: b + 2,
        cluster: b + 3,
        rest: b + 4,
        pinsvc: b + 5,
    }
}

/// Creates (or reuses) the repos, starts the daemons and waits for Ctrl-C.
pub(crate) fn run(a: Args) -> Result<()> {
    if a.nodes == 0 || a.nodes > 50 {
        bail!("--nodes must be between 1 and 50");
    }
    if a.base_port as usize + 10 * a.nodes > 65_000 {
        bail!("--base-port too high for {} nodes", a.nodes);
    }
    std::fs::create_dir_all(&a.dir).with_context(|| format!("creating {}", a.dir.display()))?;
    let dir = a.dir.canonicalize()?;
    let swarm_key = ferrite_p2p::SwarmKey::generate();
    let secret: [u8; 32] = rand::random();
    let mut first_ipfs = String::new();
    let mut first_cluster = String::new();
    for i in 0..a.nodes {
        let repo = dir.join(format!("node{i}"));
        if Node::is_initialized(&repo) {
            continue;
        }
        let p = ports(a.base_port, i);
        let mut cfg = Config::init(&["test"])?;
        let peer = cfg.peer_id()?;
        cfg.set(
            "Addresses.Swarm",
            serde_json::json!([format!("/ip4/127.0.0.1/tcp/{}", p.swarm)]),
        )?;
        cfg.set(
            "Addresses.API",
            serde_json::json!(format!("/ip4/127.0.0.1/tcp/{}", p.api)),
        )?;
        cfg.set(
            "Addresses.Gateway",
            serde_json::json!(format!("/ip4/127.0.0.1/tcp/{}", p.gateway)),
        )?;
        let mut s = ClusterSection::new(&secret, &format!("node{i}"));
        s.listen_multiaddress = vec![format!("/ip4/127.0.0.1/tcp/{}", p.cluster)];
        s.rest_api.http_listen_multiaddress = format!("/ip4/127.0.0.1/tcp/{}", p.rest);
        s.pin_svc_api.http_listen_multiaddress = format!("/ip4/127.0.0.1/tcp/{}", p.pinsvc);
        s.pin_svc_api.tokens = vec![config::to_hex(&rand::random::<[u8; 24]>())];
        s.replication_factor_min = a.replication.min(a.nodes as i32);
        s.replication_factor_max = a.replication.min(a.nodes as i32);
        if i == 0 {
            first_ipfs = format!("/ip4/127.0.0.1/tcp/{}/p2p/{peer}", p.swarm);
            first_cluster = format!("/ip4/127.0.0.1/tcp/{}/p2p/{peer}", p.cluster);
        } else {
            if first_cluster.is_empty() {
                bail!("{} holds a partial devnet; remove it", dir.display());
            }
            s.bootstrap = vec![first_cluster.clone()];
            cfg.set("Bootstrap", serde_json::json!([first_ipfs]))?;
        }
        cfg.set("Cluster", serde_json::to_value(&s)?)?;
        Node::init(&repo, &cfg)?;
        std::fs::write(repo.join("swarm.key"), swarm_key.to_file_contents())?;
    }
    let exe = std::env::current_exe()?;
    let mut children: Vec<Child> = Vec::new();
    let stop_all = |children: &mut Vec<Child>| {
        for c in children.iter() {
            // SAFETY: kill(2) only sends a signal, to our own child, which
            // has not been waited for yet, so its pid is not reused.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
        }
        for c in children.iter_mut() {
            let _ = c.wait();
        }
    };
    for i in 0..a.nodes {
        match start(&exe, &dir.join(format!("node{i}"))) {
            Ok(c) => children.push(c),
            Err(e) => {
                stop_all(&mut children);
                return Err(e.context(format!("node{i}")));
            }
        }
    }
    // The "try:" lines must work when printed: every peer a voter and
    // every peer's free space known, so a pin can be allocated at once.
    let rest: Vec<u16> = (0..a.nodes).map(|i| ports(a.base_port, i).rest).collect();
    if let Err(e) = wait_allocatable(&rest, Duration::from_secs(60)) {
        stop_all(&mut children);
        return Err(e);
    }
    println!();
    println!("ferrite devnet: {} peers in {}", a.nodes, dir.display());
    for i in 0..a.nodes {
        let p = ports(a.base_port, i);
        println!(
            "  node{i}: RPC API 127.0.0.1:{}  gateway http://127.0.0.1:{}  cluster REST http://127.0.0.1:{}  pinning service http://127.0.0.1:{}",
            p.api, p.gateway, p.rest, p.pinsvc
        );
    }
    let p0 = ports(a.base_port, 0);
    println!();
    println!("try:");
    println!("  export FERRITE_PATH={}/node0", dir.display());
    println!("  echo hello | ferrite add -Q          # add on node0");
    println!(
        "  ferrite cluster pin add <CID> --wait --host /ip4/127.0.0.1/tcp/{}",
        p0.rest
    );
    println!(
        "  ferrite cluster status <CID> --host /ip4/127.0.0.1/tcp/{}",
        p0.rest
    );
    println!(
        "  ferrite cluster peers ls --host /ip4/127.0.0.1/tcp/{}",
        p0.rest
    );
    println!(
        "logs: {}/node*/daemon.log; Ctrl-C stops every peer",
        dir.display()
    );
    wait_for_signal();
    println!("stopping…");
    stop_all(&mut children);
    Ok(())
}

/// Starts one daemon and waits until it says it is ready.
fn start(exe: &Path, repo: &Path) -> Result<Child> {
    let log = std::fs::File::create(repo.join("daemon.log"))?;
    let mut child = Command::new(exe)
        .arg("daemon")
        .env("FERRITE_PATH", repo)
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()?;
    let out = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if line == "Daemon is ready" {
                let _ = tx.send(());
            }
        }
    });
    if rx.recv_timeout(Duration::from_secs(60)).is_err() {
        let _ = child.kill();
        bail!(
            "the daemon did not become ready; see {}",
            repo.join("daemon.log").display()
        );
    }
    Ok(child)
}

/// Waits until the cluster REST API of every peer (at these ports) shows
/// all peers as Raft voters with a valid `freespace` metric, which is what
/// allocation needs.
fn wait_allocatable(rest_ports: &[u16], timeout: Duration) -> Result<()> {
    use ferrite_cluster::api::wire;
    use ferrite_http::client::{Client, Method, Upload};
    let clients = rest_ports
        .iter()
        .map(|p| Ok(Client::new(([127, 0, 0, 1], *p).into())?.with_timeout(Duration::from_secs(2))))
        .collect::<std::io::Result<Vec<_>>>()?;
    fn get<T: serde::de::DeserializeOwned>(c: &Client, path: &str) -> Result<T, String> {
        let resp = c
            .send(Method::GET, path, Upload::Empty)
            .map_err(|e| e.to_string())?;
        let text = resp.body.text().map_err(|e| e.to_string())?;
        serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))
    }
    let n = rest_ports.len();
    let ready = |i: usize| -> Result<(), String> {
        let raft: wire::RaftStatus = get(&clients[i], "/raft")?;
        let voters = raft.voters.len();
        if voters < n {
            return Err(format!("{voters} of {n} peers in the cluster"));
        }
        let metrics: Vec<wire::Metric> = get(&clients[i], "/monitor/metrics/freespace")?;
        let valid = metrics.iter().filter(|m| m.valid).count();
        if valid < n {
            return Err(format!("free space known for {valid} of {n} peers"));
        }
        Ok(())
    };
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let not_ready = rest_ports
            .iter()
            .enumerate()
            .find_map(|(i, _)| ready(i).err().map(|e| format!("node{i}: {e}")));
        let Some(why) = not_ready else {
            return Ok(());
        };
        if std::time::Instant::now() >= deadline {
            bail!("the cluster did not form within {timeout:?} ({why})");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn wait_for_signal() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("signal handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    });
}
