//! `ferrite daemon`: the long-running node serving the RPC API and the gateway.

use ferrite_http::rpc::Api;
use ferrite_node::net::{NetConfig, Network};
use ferrite_node::Node;
use ferrite_store::config::Config;
use ferrite_store::Repo;
use std::path::Path;

/// Arguments of `daemon`.
#[derive(clap::Args)]
pub struct Args {
    /// Initialise the repo first if there is none.
    #[arg(long)]
    init: bool,
    /// Profiles for `--init`, comma separated.
    #[arg(long = "init-profile", value_delimiter = ',')]
    init_profile: Vec<String>,
}

/// Runs the daemon until SIGINT, SIGTERM or `/api/v0/shutdown`.
/// With `offline` (the global `--offline`), no libp2p host is started: the
/// API and gateway serve local blocks only.
pub fn run(repo: &Path, a: Args, offline: bool) -> anyhow::Result<()> {
    // glibc gives every thread that allocates its own arena; a long-running
    // daemon whose tasks hop between threads then keeps several half-empty
    // heaps. Two arenas keep idle memory low (about 2.5 MiB less with ten
    // peers) at no measurable cost on transfers.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FERRITE_LOG")
                .unwrap_or_else(|_| "warn,libp2p_kad=error".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    if a.init && !Repo::is_initialized(repo) {
        println!("initializing ferrite node at {}", repo.display());
        Repo::init(repo, &Config::init(&a.init_profile)?)?;
    }
    let node = Node::open(repo)?;
    let cfg = node.repo().config();
    let api_addrs = cfg.api_addresses()?;
    let gw_addrs = cfg.gateway_addresses()?;
    let no_fetch = cfg.gateway()?.no_fetch;
    // Read before the runtime starts so config errors stop the daemon early.
    let net_config = if offline {
        None
    } else {
        Some(NetConfig::from_repo(node.repo())?)
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = rt.block_on(async move {
        let node = match net_config {
            None => node,
            Some(c) => {
                let net = Network::start(node.repo_arc(), c)?;
                println!("PeerID: {}", net.peer_id());
                if let Some(fp) = net.swarm_key_fingerprint() {
                    println!("Swarm is limited to private network of peers with the swarm key");
                    println!("Swarm key fingerprint: {fp}");
                }
                node.with_network(net)
            }
        };
        let gateway_node = if no_fetch {
            node.offline()
        } else {
            node.clone()
        };
        serve(repo, node, gateway_node, api_addrs, gw_addrs).await
    });
    // Requests still blocked (a fetch nobody can answer) must not keep a
    // stopping daemon alive.
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    result
}

async fn serve(
    repo: &Path,
    node: Node,
    gateway_node: Node,
    api_addrs: Vec<String>,
    gw_addrs: Vec<String>,
) -> anyhow::Result<()> {
    println!("Initializing daemon...");
    println!("ferrite version: {}", env!("CARGO_PKG_VERSION"));
    println!("Repo path: {}", repo.display());
    let (stop_tx, mut stop_rx) = tokio::sync::mpsc::channel::<()>(1);
    let (done_tx, done_rx) = tokio::sync::watch::channel(false);
    let mut servers = Vec::new();
    let mut api_file = None;
    for ma in &api_addrs {
        let listener = tokio::net::TcpListener::bind(
            ferrite_http::addr::to_socket(ma).map_err(anyhow::Error::msg)?,
        )
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {ma} (Addresses.API): {e}"))?;
        let bound = ferrite_http::addr::from_socket(&listener.local_addr()?);
        println!("RPC API server listening on {bound}");
        api_file.get_or_insert(bound);
        let router = ferrite_http::rpc::router(Api {
            node: node.clone(),
            shutdown: stop_tx.clone(),
        });
        let mut rx = done_rx.clone();
        servers.push(tokio::spawn(ferrite_http::serve(
            listener,
            router,
            async move {
                let _ = rx.wait_for(|d| *d).await;
            },
        )));
    }
    for ma in &gw_addrs {
        let listener = tokio::net::TcpListener::bind(
            ferrite_http::addr::to_socket(ma).map_err(anyhow::Error::msg)?,
        )
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {ma} (Addresses.Gateway): {e}"))?;
        println!(
            "Gateway server listening on {}",
            ferrite_http::addr::from_socket(&listener.local_addr()?)
        );
        let router = ferrite_http::gateway::router(gateway_node.clone());
        let mut rx = done_rx.clone();
        servers.push(tokio::spawn(ferrite_http::serve(
            listener,
            router,
            async move {
                let _ = rx.wait_for(|d| *d).await;
            },
        )));
    }
    // `$FERRITE_PATH/api` tells CLI commands where the running daemon is.
    let api_path = repo.join("api");
    if let Some(ma) = &api_file {
        ferrite_store::repo::write_durably(&api_path, ma.as_bytes())?;
    }
    println!("Daemon is ready");
    tokio::spawn(release_free_memory());
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => println!("\nReceived interrupt signal, shutting down..."),
        _ = term.recv() => println!("Received terminate signal, shutting down..."),
        _ = stop_rx.recv() => println!("Received shutdown request, shutting down..."),
    }
    let _ = std::fs::remove_file(&api_path);
    let _ = done_tx.send(true);
    for s in servers {
        // Give in-flight requests a moment, but never hang on a stuck client.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), s).await;
    }
    if let Some(net) = node.network() {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), net.shutdown()).await;
    }
    Ok(())
}

/// Gives memory freed after start-up and after bursts (a large transfer,
/// a big listing) back to the system, so an idle daemon stays small.
/// glibc only returns the top of its heaps on its own.
async fn release_free_memory() {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(10));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // The first tick is immediate: right after start-up.
        tick.tick().await;
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        unsafe {
            libc::malloc_trim(0);
        }
    }
}
