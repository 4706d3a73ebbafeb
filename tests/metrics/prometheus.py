#!/usr/bin/env python3
"""A real Prometheus (the Debian package) scrapes a 3-peer ferrite devnet.

`ferrite devnet --nodes 3` runs three daemons with a swarm key and a cluster on loopback. A file is
added on peer 0, read on peer 1 (Bitswap) and pinned cluster-wide; Prometheus scrapes every API port's
`/debug/metrics/prometheus` each second. Then one PromQL query per metric family must return data for
all three targets, and a few must make sense (one Raft leader, peers connected, blocks moved).

Runs inside `unshare -n` (only `lo`, which it brings up): nothing leaves the machine.
Usage: python3 tests/metrics/prometheus.py   (FERRITE_BIN overrides target/release/ferrite)
Needs `prometheus` on PATH (Debian: apt-get install prometheus).
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("FERRITE_BIN", os.path.join(ROOT, "target", "release", "ferrite"))
INNER = "FERRITE_PROMETHEUS_INNER"
NODES = 3

# One query per family; each must give one series per peer (at least).
FAMILIES = [
    "ferrite_repo_blocks", "ferrite_repo_size_bytes", "ferrite_repo_live_bytes", "ferrite_repo_dead_bytes",
    "ferrite_pins", "ferrite_gc_runs_total", "ferrite_gc_seconds_total", "ferrite_peers",
    "ferrite_network_bytes_total", "ferrite_connections", "ferrite_dht_provide_keys_queued_total",
    "ferrite_dht_provide_keys_done_total", "ferrite_dht_provide_lookups_total", "ferrite_dht_lookups_total",
    "ferrite_dht_reprovide_runs_total", "ferrite_dht_reprovide_last_duration_seconds",
    "ferrite_bitswap_blocks_received_total", "ferrite_bitswap_blocks_sent_total",
    "ferrite_bitswap_data_received_bytes_total", "ferrite_bitswap_dup_blocks_received_total",
    "ferrite_bitswap_wantlist_size", "ferrite_bitswap_partners", "ferrite_http_requests_total",
    "ferrite_http_request_duration_seconds_bucket", "process_resident_memory_bytes", "process_cpu_seconds_total",
    "process_open_fds", "process_max_fds", "process_start_time_seconds", "ipfscluster_pins", "ipfscluster_peers",
    "ipfscluster_pins_pin_queued", "ipfscluster_pins_pinning", "ipfscluster_pins_pin_error",
    "ipfscluster_tracker_pins", "ipfscluster_raft_leader", "ipfscluster_raft_term",
    "ipfscluster_raft_last_log_index", "ipfscluster_raft_applied_index",
]


def log(msg):
    print(f"[prometheus {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def fail(msg):
    log(f"FAIL: {msg}")
    sys.exit(1)


def wait(what, timeout, f):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            v = f()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 (the last error is reported)
            last = e
        time.sleep(0.5)
    fail(f"timed out waiting for {what} (last error: {last})")


def api_hostport(repo):
    ma = open(os.path.join(repo, "api")).read().strip().split("/")
    return f"{ma[2]}:{ma[4]}"


def ferrite(repo, *args, stdin=None):
    env = dict(os.environ, FERRITE_PATH=repo)
    out = subprocess.run([BIN, *args], env=env, input=stdin, capture_output=True, timeout=120)
    if out.returncode != 0:
        fail(f"ferrite {' '.join(args)}: {out.stderr.decode(errors='replace')}")
    return out.stdout


def query(port, promql):
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=10) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise RuntimeError(body)
    return body["data"]["result"]


def main():
    prom = shutil.which("prometheus")
    if not prom:
        fail("prometheus is not installed (Debian: apt-get install prometheus)")
    if not os.path.exists(BIN):
        fail(f"{BIN} does not exist (cargo build --release -p ferrite)")
    tmp = tempfile.mkdtemp(prefix="ferrite-prometheus-")
    procs = []
    try:
        devnet_dir = os.path.join(tmp, "devnet")
        devnet_log = open(os.path.join(tmp, "devnet.log"), "w")
        devnet = subprocess.Popen([BIN, "devnet", "--nodes", str(NODES), "--dir", devnet_dir],
                                  stdout=devnet_log, stderr=subprocess.STDOUT, start_new_session=True)
        procs.append(devnet)
        repos = [os.path.join(devnet_dir, f"node{i}") for i in range(NODES)]
        wait("the devnet", 120, lambda: "try:" in open(devnet_log.name).read()
             and all(os.path.exists(os.path.join(r, "api")) for r in repos))
        targets = [api_hostport(r) for r in repos]
        log(f"devnet up, API ports {targets}")

        # Some traffic: add on 0, read on 1 (Bitswap), pin cluster-wide, a GC.
        data = os.urandom(2 << 20)
        cid = ferrite(repos[0], "add", "-Q", stdin=data).decode().strip()
        if ferrite(repos[1], "cat", cid) != data:
            fail("peer 1 read different bytes")
        ferrite(repos[0], "repo", "gc")
        cfg = json.load(open(os.path.join(repos[0], "config")))
        rest = cfg["Cluster"]["RestAPI"]["HTTPListenMultiaddress"]
        ferrite(repos[0], "cluster", "pin", "add", cid, "--host", rest)

        port = 29090
        conf = os.path.join(tmp, "prometheus.yml")
        with open(conf, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: ferrite\n"
                    "    metrics_path: /debug/metrics/prometheus\n"
                    f"    static_configs:\n      - targets: {json.dumps(targets)}\n")
        prom_log = open(os.path.join(tmp, "prometheus.log"), "w")
        p = subprocess.Popen([prom, f"--config.file={conf}", f"--storage.tsdb.path={tmp}/tsdb",
                              f"--web.listen-address=127.0.0.1:{port}"],
                             stdout=prom_log, stderr=subprocess.STDOUT, start_new_session=True)
        procs.append(p)
        wait("three targets up", 60,
             lambda: len([r for r in query(port, "up") if r["value"][1] == "1"]) == NODES)
        log("Prometheus scrapes all three peers")
        time.sleep(3)

        missing = []
        for fam in FAMILIES:
            instances = {r["metric"].get("instance") for r in query(port, fam)}
            if len(instances) < NODES:
                missing.append(f"{fam}: {sorted(i for i in instances if i)}")
        if missing:
            fail("families without data for every peer:\n  " + "\n  ".join(missing))

        def scalar(promql):
            r = query(port, promql)
            return float(r[0]["value"][1]) if r else None

        checks = {
            "one Raft leader": ("sum(ipfscluster_raft_leader)", lambda v: v == 1),
            "every peer sees 3 cluster peers": ("min(ipfscluster_peers)", lambda v: v == NODES),
            "every peer is connected to the others": ("min(ferrite_peers)", lambda v: v >= NODES - 1),
            "a block moved over Bitswap": ("sum(ferrite_bitswap_blocks_received_total)", lambda v: v >= 1),
            "one cluster pin": ("max(ipfscluster_pins)", lambda v: v == 1),
            "a GC ran": ("sum(ferrite_gc_runs_total)", lambda v: v >= 1),
            "the add was announced": ("sum(ferrite_dht_provide_keys_queued_total)", lambda v: v >= 1),
            "connections counted": ("sum(ferrite_connections)", lambda v: v >= NODES * (NODES - 1)),
            "API requests counted": ('sum(ferrite_http_requests_total{server="api",endpoint="add"})',
                                     lambda v: v >= 1),
        }
        for what, (promql, ok) in checks.items():
            v = wait(what, 20, lambda: (lambda x: x if x is not None and ok(x) else None)(scalar(promql)))
            log(f"{what}: {promql} = {v}")
        log(f"PASS: {len(FAMILIES)} families on {NODES} peers")
    finally:
        for p in reversed(procs):
            try:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(timeout=20)
            except Exception:  # noqa: BLE001
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if os.environ.get(INNER) != "1":
        # Only `lo`: nothing the devnet or Prometheus does can leave the machine.
        cmd = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", sys.executable,
               os.path.abspath(__file__)]
        sys.exit(subprocess.run(cmd, env=dict(os.environ, **{INNER: "1"})).returncode)
    main()
