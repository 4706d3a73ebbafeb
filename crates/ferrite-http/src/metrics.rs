//! Prometheus metrics at `GET /debug/metrics/prometheus` on the API port
//! (Kubo's path), in the OpenMetrics text format of `prometheus-client`.
//!
//! Two kinds of figures:
//! - Counted as they happen: HTTP requests of the RPC API and the gateway,
//!   by endpoint and status, with latency histograms ([`Metrics::track`]).
//!   Endpoints are the command table's paths (or `ipfs`/`ipns` on the
//!   gateway), so a client cannot grow the label set.
//! - Read at scrape time from what the node already keeps (store, pins,
//!   GC, Bitswap, bandwidth, the process) and from extra [`Source`]s (the
//!   cluster registers one): a scrape never walks the pinset or the store.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ferrite_node::Node;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Kubo's path for the scrape.
pub const PATH: &str = "/debug/metrics/prometheus";

/// Whether a sample only grows (a counter) or goes up and down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only grows; the name is given without `_total`, which is appended.
    Counter,
    /// Goes up and down.
    Gauge,
}

/// One figure read at scrape time.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The metric's name (counters without `_total`).
    pub name: &'static str,
    /// Its `# HELP` text.
    pub help: &'static str,
    /// Counter or gauge.
    pub kind: Kind,
    /// Label pairs (empty for most).
    pub labels: Vec<(&'static str, String)>,
    /// The value.
    pub value: f64,
}

impl Sample {
    /// A gauge without labels.
    pub fn gauge(name: &'static str, help: &'static str, value: f64) -> Sample {
        Sample {
            name,
            help,
            kind: Kind::Gauge,
            labels: Vec::new(),
            value,
        }
    }

    /// A counter without labels (`name` without `_total`).
    pub fn counter(name: &'static str, help: &'static str, value: f64) -> Sample {
        Sample {
            name,
            help,
            kind: Kind::Counter,
            labels: Vec::new(),
            value,
        }
    }

    /// The same with one more label.
    pub fn label(mut self, key: &'static str, value: impl Into<String>) -> Sample {
        self.labels.push((key, value.into()));
        self
    }
}

/// Figures another part of the daemon reports at each scrape.
pub trait Source: Send + Sync + 'static {
    /// The current samples; keep it cheap (a scrape should cost ~1 ms).
    fn samples(&self) -> Pin<Box<dyn Future<Output = Vec<Sample>> + Send + '_>>;
}

/// HTTP label set: which server, which endpoint, which status.
type RequestLabels = [(&'static str, String); 3];
type LatencyLabels = [(&'static str, String); 2];

/// The daemon's metrics: request counters plus the sources read at scrape
/// time.
pub struct Metrics {
    requests: Family<RequestLabels, Counter>,
    latency: Family<LatencyLabels, Histogram>,
    node: Node,
    sources: Mutex<Vec<Arc<dyn Source>>>,
    started: f64,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// Encodes the samples of the current scrape.
#[derive(Debug)]
struct Scraped(Vec<Sample>);

impl prometheus_client::collector::Collector for Scraped {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let samples = &self.0;
        let mut i = 0;
        while i < samples.len() {
            // Samples of one name are adjacent: one descriptor for them.
            let first = &samples[i];
            let end = samples[i..]
                .iter()
                .position(|s| s.name != first.name)
                .map_or(samples.len(), |n| i + n);
            let metric_type = match first.kind {
                Kind::Counter => ConstCounter::new(0.0f64).metric_type(),
                Kind::Gauge => ConstGauge::new(0.0f64).metric_type(),
            };
            let mut family =
                encoder.encode_descriptor(first.name, first.help, None, metric_type)?;
            if end == i + 1 && first.labels.is_empty() {
                match first.kind {
                    Kind::Counter => ConstCounter::new(first.value).encode(family)?,
                    Kind::Gauge => ConstGauge::new(first.value).encode(family)?,
                }
                i = end;
                continue;
            }
            for s in &samples[i..end] {
                let labels: Vec<(&str, &str)> =
                    s.labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let enc = family.encode_family(&labels)?;
                match s.kind {
                    Kind::Counter => ConstCounter::new(s.value).encode(enc)?,
                    Kind::Gauge => ConstGauge::new(s.value).encode(enc)?,
                }
            }
            i = end;
        }
        Ok(())
    }
}

impl Metrics {
    /// Metrics of `node` (and, once added, of each [`Source`]).
    pub fn new(node: Node) -> Arc<Metrics> {
        Arc::new(Metrics {
            requests: Family::default(),
            latency: Family::new_with_constructor(|| {
                // 0.5 ms to ~16 s.
                Histogram::new(exponential_buckets(0.0005, 2.0, 16))
            }),
            node,
            sources: Mutex::new(Vec::new()),
            started: unix_now(),
        })
    }

    /// Adds figures read at each scrape (the cluster's).
    pub fn add_source(&self, source: Arc<dyn Source>) {
        self.sources.lock().unwrap().push(source);
    }

    /// Counts one answered request.
    pub fn record(&self, server: &'static str, endpoint: String, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&[
                ("server", server.to_string()),
                ("endpoint", endpoint.clone()),
                ("code", status.to_string()),
            ])
            .inc();
        self.latency
            .get_or_create(&[("server", server.to_string()), ("endpoint", endpoint)])
            .observe(seconds);
    }

    /// The text of one scrape.
    pub async fn render(&self) -> String {
        let mut samples = node_samples(&self.node).await;
        samples.extend(process_samples(self.started));
        let sources: Vec<_> = self.sources.lock().unwrap().clone();
        for s in sources {
            samples.extend(s.samples().await);
        }
        // Stable order keeps one descriptor per name.
        samples.sort_by(|a, b| a.name.cmp(b.name));
        // A registry per scrape: the families share their counters, and the
        // samples belong to this scrape alone (no state between scrapes).
        let mut registry = Registry::default();
        registry.register(
            "ferrite_http_requests",
            "HTTP requests answered, by server (api, gateway), endpoint and status code",
            self.requests.clone(),
        );
        registry.register(
            "ferrite_http_request_duration_seconds",
            "Time to the response head, by server and endpoint",
            self.latency.clone(),
        );
        registry.register_collector(Box::new(Scraped(samples)));
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry)
            .expect("writing to a String cannot fail");
        out
    }

    /// Middleware counting `server`'s requests (layer it over a router).
    pub async fn track(
        State((metrics, server)): State<(Arc<Metrics>, &'static str)>,
        req: Request,
        next: Next,
    ) -> Response {
        let endpoint = endpoint(server, req.uri().path());
        let start = Instant::now();
        let resp = next.run(req).await;
        metrics.record(
            server,
            endpoint,
            resp.status().as_u16(),
            start.elapsed().as_secs_f64(),
        );
        resp
    }
}

/// `GET /debug/metrics/prometheus`.
pub async fn serve(State(metrics): State<Arc<Metrics>>) -> Response {
    let body = metrics.render().await;
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// The endpoint label of a request path: a known command, `ipfs`/`ipns`
/// on the gateway, else `other` (unknown paths must not add label values).
fn endpoint(server: &str, path: &str) -> String {
    if path == PATH {
        return "metrics".into();
    }
    if server == "api" {
        if let Some(cmd) = path.strip_prefix("/api/v0/") {
            let cmd = cmd.trim_end_matches('/');
            if cmd == "shutdown" || crate::rpc::commands().any(|(p, _)| *p == cmd) {
                return cmd.to_string();
            }
        }
        return "other".into();
    }
    match path.split('/').nth(1) {
        Some("ipfs") => "ipfs".into(),
        Some("ipns") => "ipns".into(),
        _ => "other".into(),
    }
}

/// Store, pins, GC, and with a network: peers, bandwidth, Bitswap.
async fn node_samples(node: &Node) -> Vec<Sample> {
    let mut out = Vec::new();
    let store = {
        let node = node.clone();
        tokio::task::spawn_blocking(move || (node.repo_stat(), node.pin_count()))
            .await
            .ok()
    };
    if let Some((stat, pins)) = store {
        if let Ok(s) = stat {
            out.extend([
                Sample::gauge(
                    "ferrite_repo_blocks",
                    "Blocks in the store",
                    s.num_objects as f64,
                ),
                Sample::gauge(
                    "ferrite_repo_size_bytes",
                    "Bytes the repo's files take",
                    s.repo_size as f64,
                ),
                Sample::gauge(
                    "ferrite_repo_live_bytes",
                    "Pack bytes of stored blocks",
                    s.live_bytes as f64,
                ),
                Sample::gauge(
                    "ferrite_repo_dead_bytes",
                    "Pack bytes of deleted blocks not reclaimed yet",
                    s.dead_bytes as f64,
                ),
                Sample::gauge(
                    "ferrite_repo_storage_max_bytes",
                    "Datastore.StorageMax",
                    s.storage_max as f64,
                ),
            ]);
        }
        if let Ok(p) = pins {
            out.push(Sample::gauge(
                "ferrite_pins",
                "Local pins, direct and recursive",
                p as f64,
            ));
        }
    }
    let gc = node.gc_stats();
    out.extend([
        Sample::counter("ferrite_gc_runs", "GC runs since start", gc.runs as f64),
        Sample::counter(
            "ferrite_gc_seconds",
            "Time spent in GC since start",
            gc.seconds,
        ),
        Sample::counter(
            "ferrite_gc_removed_blocks",
            "Blocks GC removed since start",
            gc.removed_blocks as f64,
        ),
        Sample::counter(
            "ferrite_gc_reclaimed_bytes",
            "Bytes GC gave back to the file system since start",
            gc.reclaimed_bytes as f64,
        ),
    ]);
    let Some(net) = node.network() else {
        return out;
    };
    let (bytes_in, bytes_out) = net.bandwidth_totals();
    out.push(
        Sample::counter(
            "ferrite_network_bytes",
            "libp2p traffic since start",
            bytes_in as f64,
        )
        .label("direction", "in"),
    );
    out.push(
        Sample::counter(
            "ferrite_network_bytes",
            "libp2p traffic since start",
            bytes_out as f64,
        )
        .label("direction", "out"),
    );
    if let Ok(peers) = net.peers().await {
        out.push(Sample::gauge(
            "ferrite_peers",
            "Connected peers",
            peers.len() as f64,
        ));
        // One (first) connection per peer, by transport and direction.
        let mut by: std::collections::BTreeMap<(&str, &str), usize> = Default::default();
        for p in &peers {
            let quic = p.addr.to_string().contains("/quic");
            let transport = if quic { "quic" } else { "tcp" };
            let direction = if p.outbound { "outbound" } else { "inbound" };
            *by.entry((transport, direction)).or_default() += 1;
        }
        for ((transport, direction), n) in by {
            out.push(
                Sample::gauge(
                    "ferrite_connections",
                    "Connected peers by transport and direction",
                    n as f64,
                )
                .label("transport", transport)
                .label("direction", direction),
            );
        }
    }
    let d = net.dht_stats();
    out.extend([
        Sample::counter(
            "ferrite_dht_provide_keys_queued",
            "Keys handed to the DHT to announce",
            d.provide_keys_queued as f64,
        ),
        Sample::counter(
            "ferrite_dht_provide_keys_done",
            "Keys announced to at least one peer",
            d.provide_keys_done as f64,
        ),
        Sample::counter(
            "ferrite_dht_provide_keys_failed",
            "Keys no peer to announce to was found for",
            d.provide_keys_failed as f64,
        ),
        Sample::counter(
            "ferrite_dht_provide_lookups",
            "Closest-peer lookups run for announcements",
            d.provide_lookups as f64,
        ),
        Sample::counter(
            "ferrite_dht_lookups",
            "Lookups run for findprovs and findpeer",
            d.lookups as f64,
        ),
        Sample::counter(
            "ferrite_dht_reprovide_runs",
            "Completed reprovide cycles",
            d.reprovide_runs as f64,
        ),
        Sample::gauge(
            "ferrite_dht_reprovide_last_duration_seconds",
            "How long the last reprovide cycle took",
            d.reprovide_last_seconds,
        ),
    ]);
    if let Ok(b) = net.bitswap_stats().await {
        out.extend([
            Sample::counter(
                "ferrite_bitswap_blocks_received",
                "Blocks received over Bitswap",
                b.blocks_received as f64,
            ),
            Sample::counter(
                "ferrite_bitswap_data_received_bytes",
                "Block bytes received over Bitswap",
                b.data_received as f64,
            ),
            Sample::counter(
                "ferrite_bitswap_dup_blocks_received",
                "Blocks received that were already here or no longer wanted",
                b.dup_blks_received as f64,
            ),
            Sample::counter(
                "ferrite_bitswap_dup_data_received_bytes",
                "Bytes of duplicate blocks",
                b.dup_data_received as f64,
            ),
            Sample::counter(
                "ferrite_bitswap_blocks_sent",
                "Blocks sent over Bitswap",
                b.blocks_sent as f64,
            ),
            Sample::counter(
                "ferrite_bitswap_data_sent_bytes",
                "Block bytes sent over Bitswap",
                b.data_sent as f64,
            ),
            Sample::counter(
                "ferrite_bitswap_messages_received",
                "Bitswap messages received",
                b.messages_received as f64,
            ),
            Sample::gauge(
                "ferrite_bitswap_wantlist_size",
                "Blocks this node wants now",
                b.wantlist.len() as f64,
            ),
            Sample::gauge(
                "ferrite_bitswap_partners",
                "Peers speaking Bitswap with this node",
                b.peers.len() as f64,
            ),
        ]);
    }
    out
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The standard `process_*` metrics, from /proc (Linux).
fn process_samples(started: f64) -> Vec<Sample> {
    let mut out = vec![Sample::gauge(
        "process_start_time_seconds",
        "Start time of the process since the Unix epoch",
        started,
    )];
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        let kib = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
                .map(|v| v * 1024.0)
        };
        if let Some(v) = kib("VmSize:") {
            out.push(Sample::gauge(
                "process_virtual_memory_bytes",
                "Virtual memory size",
                v,
            ));
        }
        if let Some(v) = kib("VmRSS:") {
            out.push(Sample::gauge(
                "process_resident_memory_bytes",
                "Resident memory size",
                v,
            ));
        }
    }
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        // After the command name (which may hold spaces), utime and stime
        // are the 12th and 13th fields, in USER_HZ ticks (100 per second
        // on Linux, fixed by its ABI).
        if let Some((_, rest)) = stat.rsplit_once(") ") {
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
            out.push(Sample::counter(
                "process_cpu_seconds",
                "User and system CPU time spent",
                (ticks(11) + ticks(12)) / 100.0,
            ));
        }
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        out.push(Sample::gauge(
            "process_open_fds",
            "Open file descriptors",
            fds.count() as f64,
        ));
    }
    if let Ok(limits) = std::fs::read_to_string("/proc/self/limits") {
        let soft = limits
            .lines()
            .find_map(|l| l.strip_prefix("Max open files"))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok());
        if let Some(v) = soft {
            out.push(Sample::gauge(
                "process_max_fds",
                "Maximum open file descriptors",
                v,
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_bounded() {
        assert_eq!(endpoint("api", "/api/v0/add"), "add");
        assert_eq!(endpoint("api", "/api/v0/swarm/peers/"), "swarm/peers");
        assert_eq!(endpoint("api", "/api/v0/no/such/thing"), "other");
        assert_eq!(endpoint("api", PATH), "metrics");
        assert_eq!(endpoint("gateway", "/ipfs/bafy/x"), "ipfs");
        assert_eq!(endpoint("gateway", "/ipns/example.com"), "ipns");
        assert_eq!(endpoint("gateway", "/random"), "other");
    }

    #[test]
    fn samples_encode_as_openmetrics() {
        let scraped = vec![
            Sample::counter("x_bytes", "help x", 3.0).label("direction", "in"),
            Sample::counter("x_bytes", "help x", 4.0).label("direction", "out"),
            Sample::gauge("y", "help y", 1.5),
        ];
        let mut r = Registry::default();
        r.register_collector(Box::new(Scraped(scraped)));
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &r).unwrap();
        assert!(out.contains("# TYPE x_bytes counter"), "{out}");
        assert!(out.contains("x_bytes_total{direction=\"in\"} 3.0"), "{out}");
        assert!(
            out.contains("x_bytes_total{direction=\"out\"} 4.0"),
            "{out}"
        );
        assert!(
            out.contains("# HELP y help y\n# TYPE y gauge\ny 1.5"),
            "{out}"
        );
        assert_eq!(out.matches("# TYPE x_bytes").count(), 1, "{out}");
    }
}
