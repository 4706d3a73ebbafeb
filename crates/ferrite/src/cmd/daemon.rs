//! `ferrite daemon`: the long-running node serving the RPC API and the gateway.

use ferrite_cluster::api::{self, BasicAuth};
use ferrite_cluster::{config, Cluster, ClusterOptions};
use ferrite_config::Config;
use ferrite_http::rpc::Api;
use ferrite_node::net::{NetConfig, Network};
use ferrite_node::Node;
use std::path::Path;
use std::time::Duration;

use crate::logging::LogControl;
use crate::sd_notify::{self, Notifier};
use ferrite_cluster::api::prometheus::ClusterSource;
use ferrite_http::metrics::{self, Metrics};
use std::sync::Arc;

/// Arguments of `daemon`.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  ferrite daemon --init\n  ferrite daemon --offline\n  \
                        ferrite daemon --cluster-bootstrap /ip4/10.0.0.1/tcp/9096/p2p/12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp"
)]
pub(crate) struct Args {
    /// Initialise the repo first if there is none.
    #[arg(long)]
    init: bool,
    /// Profiles for `--init`, comma separated.
    #[arg(long = "init-profile", value_delimiter = ',')]
    init_profile: Vec<String>,
    /// Join the cluster through this peer (a cluster multiaddr ending in
    /// /p2p/<id>); repeatable. Adds to Cluster.Bootstrap for this run.
    #[arg(long = "cluster-bootstrap", value_name = "MULTIADDR")]
    cluster_bootstrap: Vec<String>,
}

/// Runs the daemon until SIGINT, SIGTERM or `/api/v0/shutdown`.
/// With `offline` (the global `--offline`), no libp2p host is started: the
/// API and gateway serve local blocks only.
pub(crate) fn run(repo: &Path, a: Args, offline: bool) -> anyhow::Result<()> {
    crate::memory::tune_malloc();
    // The config's filter applies once the repo is open.
    let log = crate::logging::init();
    // Start-up lines in a fixed order, as Kubo prints them: who we are,
    // then the network, then the HTTP servers, then "Daemon is ready".
    println!("Initializing daemon...");
    println!("ferrite version: {}", env!("CARGO_PKG_VERSION"));
    println!("Repo path: {}", repo.display());
    if a.init && !Node::is_initialized(repo) {
        println!("initializing ferrite node at {}", repo.display());
        Node::init(repo, &Config::init(&a.init_profile)?)?;
    }
    let node = Node::open(repo)?;
    let cfg = node.config();
    // A config the daemon cannot run on (no API address, a bad identity, a
    // value that does not parse) stops it here, before "Daemon is ready"
    // is ever printed; `ferrite config` can still repair it.
    cfg.validate_runnable().map_err(|e| {
        anyhow::anyhow!("cannot start the daemon: config: {e}; repair it with 'ferrite config'")
    })?;
    log.apply_config(&cfg.logging()?.filter)?;
    ferrite_http::rpc::log::install(std::sync::Arc::new(log.clone()));
    let swarm_configured = !cfg.swarm_addresses()?.is_empty();
    let api_addrs = cfg.api_addresses()?;
    let gw_addrs = cfg.gateway_addresses()?;
    let gw_settings = cfg.gateway()?;
    // Read before the runtime starts so config errors stop the daemon early.
    let net_config = if offline {
        None
    } else {
        Some(NetConfig::from_node(&node)?)
    };
    let mut cluster_opts = ClusterOptions::from_node(&node)?;
    if !a.cluster_bootstrap.is_empty() {
        let Some(o) = cluster_opts.as_mut() else {
            anyhow::bail!(
                "--cluster-bootstrap: this repo has no cluster; run `ferrite cluster init --secret HEX` first"
            );
        };
        o.section
            .bootstrap
            .extend(a.cluster_bootstrap.iter().cloned());
        o.section.validate()?;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = rt.block_on(async move {
        let node = match net_config {
            None => node,
            Some(c) => {
                let net = Network::start(&node, c)?;
                if let Some(fp) = net.swarm_key_fingerprint() {
                    println!("Swarm is limited to private network of peers with the swarm key");
                    println!("Swarm key fingerprint: {fp}");
                }
                println!("PeerID: {}", net.peer_id());
                let listening = net.listening().await;
                for s in &listening.skipped {
                    eprintln!("Warning: not listening on {}: {}", s.addr, s.reason);
                }
                for a in &listening.addrs {
                    println!("Swarm listening on {a}");
                }
                if swarm_configured && listening.addrs.is_empty() {
                    let _ =
                        tokio::time::timeout(std::time::Duration::from_secs(10), net.shutdown())
                            .await;
                    anyhow::bail!(
                        "cannot start the daemon: none of the Addresses.Swarm addresses \
                         could be listened on"
                    );
                }
                node.with_network(net)
            }
        };
        let gateway_node = match (gw_settings.no_fetch, gw_settings.retrieval_timeout()) {
            (true, _) => node.offline(),
            (false, Some(stall)) => node.with_stall_timeout(stall),
            (false, None) => node.clone(),
        };
        let cluster = match cluster_opts {
            None => None,
            Some(o) => Some(start_cluster(node.clone(), o).await?),
        };
        let r = serve(
            repo,
            node,
            gateway_node,
            api_addrs,
            gw_addrs,
            cluster.as_ref(),
            &log,
        )
        .await;
        if let Some(c) = cluster {
            let _ = tokio::time::timeout(STOP_CLUSTER, c.shutdown()).await;
        }
        r
    });
    // Requests still blocked (a fetch nobody can answer) must not keep a
    // stopping daemon alive.
    rt.shutdown_timeout(STOP_RUNTIME);
    result
}

/// A stopping daemon waits at most this long for in-flight requests (an
/// upload that finishes in time is kept; one cut off was never
/// acknowledged, and the store drops its partial writes)...
const STOP_REQUESTS: Duration = Duration::from_secs(3);
/// ... for the network to save its peer store and close connections ...
const STOP_NETWORK: Duration = Duration::from_millis(2500);
/// ... for the cluster peer to leave ...
const STOP_CLUSTER: Duration = Duration::from_millis(2500);
/// ... and for blocked tasks: under 10 s in all, so a service manager's
/// stop never has to kill it.
const STOP_RUNTIME: Duration = Duration::from_secs(1);

/// The `STATUS=` line systemd shows, refreshed this often.
const STATUS_EVERY: Duration = Duration::from_secs(15);

/// Starts the cluster peer and says where it listens.
async fn start_cluster(node: Node, o: ClusterOptions) -> anyhow::Result<Cluster> {
    if node.network().is_none() {
        tracing::warn!("cluster peer on an offline node: pins can only use local blocks");
    }
    let c = Cluster::start(node, o)
        .await
        .map_err(|e| anyhow::anyhow!("cannot start the cluster peer: {e}"))?;
    let id = c.id().await;
    println!("Cluster peer ID: {}", id.id);
    for a in &id.addresses {
        println!("Cluster listening on {a}");
    }
    Ok(c)
}

/// The cluster's HTTP APIs (REST 9094 and Pinning Service 9097), as
/// (what, address, router) triples.
fn cluster_routers(c: &Cluster) -> Vec<(&'static str, String, axum::Router)> {
    let s = c.settings();
    let addr = |configured: &str, default: &str| match configured {
        "" => Some(default.to_string()),
        "off" => None,
        a => Some(a.to_string()),
    };
    let mut out = Vec::new();
    if let Some(a) = addr(
        &s.rest_api.http_listen_multiaddress,
        config::DEFAULT_REST_API,
    ) {
        let auth = s
            .rest_api
            .basic_auth_credentials
            .iter()
            .next()
            .map(|(u, p)| BasicAuth {
                user: u.clone(),
                password: p.clone(),
            });
        out.push(("Cluster REST API", a, api::rest::router(c.clone(), auth)));
    }
    if let Some(a) = addr(
        &s.pin_svc_api.http_listen_multiaddress,
        config::DEFAULT_PINSVC_API,
    ) {
        let tokens = s.pin_svc_api.tokens.clone();
        out.push((
            "Pinning Service API",
            a,
            api::pinsvc::router(c.clone(), tokens),
        ));
    }
    out
}

async fn serve(
    repo: &Path,
    node: Node,
    gateway_node: Node,
    api_addrs: Vec<String>,
    gw_addrs: Vec<String>,
    cluster: Option<&Cluster>,
    log: &LogControl,
) -> anyhow::Result<()> {
    // Handlers first: a signal that arrives once "Daemon is ready" is out
    // must stop the daemon cleanly (removing the api file), not kill it.
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    let (stop_tx, mut stop_rx) = tokio::sync::mpsc::channel::<()>(1);
    let metrics = Metrics::new(node.clone());
    if let Some(c) = cluster {
        metrics.add_source(std::sync::Arc::new(ClusterSource(c.clone())));
    }
    let (done_tx, done_rx) = tokio::sync::watch::channel(false);
    let mut servers = Vec::new();
    for (what, ma, router) in cluster.map(cluster_routers).unwrap_or_default() {
        let (listener, bound) = bind(&ma, what).await?;
        println!("{what} listening on {bound}");
        servers.push(spawn_server(listener, router, &done_rx));
    }
    // The first API and gateway listener: (multiaddr, URL).
    let mut api = None;
    for ma in &api_addrs {
        let (listener, bound) = bind(ma, "Addresses.API").await?;
        println!("RPC API server listening on {bound}");
        if api.is_none() {
            api = Some((bound, http_url(&listener)?));
        }
        let router = ferrite_http::rpc::router(Api {
            node: node.clone(),
            shutdown: stop_tx.clone(),
        })
        .merge(
            axum::Router::new()
                .route(metrics::PATH, axum::routing::get(metrics::serve))
                .with_state(metrics.clone()),
        );
        let router = tracked(router, &metrics, "api");
        servers.push(spawn_server(listener, router, &done_rx));
    }
    let mut gateway_url = None;
    for ma in &gw_addrs {
        let (listener, bound) = bind(ma, "Addresses.Gateway").await?;
        println!("Gateway server listening on {bound}");
        if gateway_url.is_none() {
            gateway_url = Some(http_url(&listener)?);
        }
        let router = tracked(
            ferrite_http::gateway::router(gateway_node.clone()),
            &metrics,
            "gateway",
        );
        servers.push(spawn_server(listener, router, &done_rx));
    }
    // `$FERRITE_PATH/api` tells CLI commands where the running daemon is
    // (a multiaddr, as Kubo's); `$FERRITE_PATH/gateway` has the gateway's
    // URL, for scripts when the ports are random (`--profile test`).
    let api_path = repo.join("api");
    let gateway_path = repo.join("gateway");
    if let Some((ma, url)) = &api {
        ferrite_node::write_durably(&api_path, ma.as_bytes())?;
        println!("RPC API: {url}/api/v0");
    }
    if let Some(url) = &gateway_url {
        ferrite_node::write_durably(&gateway_path, url.as_bytes())?;
        println!("Gateway: {url}/ipfs/<cid>");
    }
    println!("Daemon is ready");
    let notifier = Notifier::from_env().map(std::sync::Arc::new);
    if let Some(n) = &notifier {
        n.notify(&format!(
            "READY=1\nMAINPID={}\nSTATUS={}",
            std::process::id(),
            status_line(&node).await
        ));
        tokio::spawn(report_status(n.clone(), node.clone()));
        if let Some(every) = sd_notify::watchdog_interval() {
            tokio::spawn(feed_watchdog(n.clone(), node.clone(), every));
        }
    }
    tokio::spawn(crate::memory::release_free_memory());
    loop {
        tokio::select! {
            _ = int.recv() => println!("\nReceived interrupt signal, shutting down..."),
            _ = term.recv() => println!("Received terminate signal, shutting down..."),
            _ = stop_rx.recv() => println!("Received shutdown request, shutting down..."),
            _ = hup.recv() => {
                if let Some(n) = &notifier {
                    n.notify(&format!("RELOADING=1\nMONOTONIC_USEC={}", monotonic_usec()));
                }
                reload(&node, log);
                if let Some(n) = &notifier {
                    n.notify(&format!("READY=1\nSTATUS={}", status_line(&node).await));
                }
                continue;
            }
        }
        break;
    }
    if let Some(n) = &notifier {
        n.notify("STOPPING=1\nSTATUS=Shutting down");
    }
    let _ = std::fs::remove_file(&api_path);
    let _ = std::fs::remove_file(&gateway_path);
    let _ = done_tx.send(true);
    let requests_done = tokio::time::Instant::now() + STOP_REQUESTS;
    for s in servers {
        // Give in-flight requests a moment, but never hang on a stuck client.
        let _ = tokio::time::timeout_at(requests_done, s).await;
    }
    if let Some(net) = node.network() {
        let _ = tokio::time::timeout(STOP_NETWORK, net.shutdown()).await;
    }
    Ok(())
}

/// SIGHUP: reads the config file again and applies what can change while
/// running: the log filter, `Bootstrap`, and every setting read per
/// request (`API.Authorizations`, `API.HTTPHeaders`). A file that does not
/// pass the checks is refused whole, and the daemon runs on unchanged.
fn reload(node: &Node, log: &LogControl) {
    let cfg = match node.reload_config() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("reload (SIGHUP): config refused, nothing changed: {e}");
            return;
        }
    };
    let filter = cfg
        .logging()
        .map_err(anyhow::Error::from)
        .and_then(|l| log.apply_config(&l.filter));
    let bootstrap = node.network().map(|n| n.reload_bootstrap(&cfg));
    match filter {
        Ok(Some(f)) => tracing::info!("reload (SIGHUP): config read again; log filter {f:?}"),
        Ok(None) => {
            tracing::info!("reload (SIGHUP): config read again; FERRITE_LOG keeps the log filter")
        }
        Err(e) => tracing::error!("reload (SIGHUP): log filter unchanged: {e}"),
    }
    if let Some(Err(e)) = bootstrap {
        tracing::error!("reload (SIGHUP): Bootstrap unchanged: {e}");
    }
}

/// `STATUS=`: peers and pins.
async fn status_line(node: &Node) -> String {
    let peers = match node.network() {
        Some(net) => net.peers().await.map(|p| p.len()).unwrap_or(0).to_string(),
        None => "offline, 0".into(),
    };
    let pins = {
        let node = node.clone();
        tokio::task::spawn_blocking(move || node.pin_count())
            .await
            .ok()
            .and_then(Result::ok)
    };
    match pins {
        Some(p) => format!("{peers} peers, {p} pins"),
        None => format!("{peers} peers"),
    }
}

async fn report_status(n: std::sync::Arc<Notifier>, node: Node) {
    let mut tick = tokio::time::interval(STATUS_EVERY);
    tick.tick().await;
    loop {
        tick.tick().await;
        n.notify(&format!("STATUS={}", status_line(&node).await));
    }
}

/// `WATCHDOG=1` every `every` (half of systemd's `WatchdogSec`), but only
/// while the store answers within it: a daemon whose store is wedged stops
/// feeding the watchdog and systemd restarts it.
async fn feed_watchdog(n: std::sync::Arc<Notifier>, node: Node, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let probe = {
            let node = node.clone();
            tokio::task::spawn_blocking(move || node.pin_count())
        };
        match tokio::time::timeout(every, probe).await {
            Ok(Ok(Ok(_))) => n.notify("WATCHDOG=1"),
            Ok(Ok(Err(e))) => tracing::warn!("watchdog: the store failed a read: {e}"),
            _ => tracing::warn!("watchdog: the store did not answer within {every:?}"),
        }
    }
}

/// `CLOCK_MONOTONIC` in microseconds, which `RELOADING=1` carries.
fn monotonic_usec() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1_000
}

/// `router` with its requests counted as `server`'s.
fn tracked(router: axum::Router, metrics: &Arc<Metrics>, server: &'static str) -> axum::Router {
    router.layer(axum::middleware::from_fn_with_state(
        (metrics.clone(), server),
        Metrics::track,
    ))
}

/// Binds a `/ip4|ip6/…/tcp/…` multiaddr; `what` names the setting in errors.
/// Returns the listener and the address it got (port 0 resolved).
async fn bind(ma: &str, what: &str) -> anyhow::Result<(tokio::net::TcpListener, String)> {
    let listener = tokio::net::TcpListener::bind(
        ferrite_http::addr::to_socket(ma).map_err(anyhow::Error::msg)?,
    )
    .await
    .map_err(|e| anyhow::anyhow!("cannot listen on {ma} ({what}): {e}"))?;
    let bound = ferrite_http::addr::from_socket(&listener.local_addr()?);
    Ok((listener, bound))
}

/// `http://host:port` of a bound listener, for people to paste.
fn http_url(listener: &tokio::net::TcpListener) -> anyhow::Result<String> {
    Ok(format!(
        "http://{}",
        ferrite_http::addr::dialable(listener.local_addr()?)
    ))
}

/// Serves `router` until `done` turns true.
fn spawn_server(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    done: &tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<std::io::Result<()>> {
    let mut rx = done.clone();
    tokio::spawn(ferrite_http::serve(listener, router, async move {
        let _ = rx.wait_for(|d| *d).await;
    }))
}
