#!/usr/bin/env bash
# CI entry point of the real-client tests: Kubo's own client libraries, unchanged, against `ferrite daemon`.
#
#   tests/clients/run.sh            # JS (node --test *.test.mjs) then Python (pytest test_aioipfs.py)
#   tests/clients/run.sh js         # only the JS tests;  `py` for only the Python ones
#
# Environment:
#   FERRITE_BIN   the ferrite binary (default <repo>/target/release/ferrite); this script builds nothing.
#   CLIENTS_VENV  the Python venv (default <repo>/.venv-clients); scripts/setup-clients.sh (run first,
#                 idempotent) creates it and tests/clients/node_modules.
#   CLIENTS_KEEP=1  keep the temporary repo and daemon logs (their path is printed).
#
# What it does, all inside a fresh network namespace that only has `lo` (unshare -n; `unshare -rn` when
# not root), so no client can reach any network even if one were misconfigured:
#   1. `ferrite init --profile test` in a temporary repo (API and gateway on 127.0.0.1, port 0);
#   2. seeds the fixtures with `ferrite add` (lib/seed.mjs; fails unless the CIDs are Kubo's);
#   3. starts `ferrite daemon`, waits for `Daemon is ready`, reads the API and gateway addresses it prints;
#   4. for the JS side, a second repo made a single-peer cluster (`ferrite cluster init --new-secret`,
#      cluster, REST and pinning-service listeners on 127.0.0.1 port 0) and its `ferrite daemon`, whose
#      `Cluster REST API listening on` line gives CLUSTER_API_URL (for ipfs-cluster.test.mjs);
#   5. runs the tests, with FERRITE_API_URL, FERRITE_GATEWAY_URL, FERRITE_API_MADDR, FERRITE_PEER_ID,
#      FERRITE_VERSION, CLUSTER_API_URL, CLUSTER_RPC_URL and CLUSTER_PEER_ID set;
#   6. stops the daemons with SIGTERM (and fails if one does not exit cleanly within 20 s).
# Exits non-zero when any test fails, when no test ran, or when the daemon misbehaves. Its last line is
# `clients: N passed, M failed`.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DIR=$ROOT/tests/clients
export FERRITE_BIN=${FERRITE_BIN:-$ROOT/target/release/ferrite}
case "$FERRITE_BIN" in /*) ;; *) FERRITE_BIN=$PWD/$FERRITE_BIN ;; esac
export CLIENTS_VENV=${CLIENTS_VENV:-$ROOT/.venv-clients}

log() { echo "clients: $*" >&2; }

# ---------------------------------------------------------------------------------------------------
# Outside the namespace: install the clients, then re-run this script inside a private network namespace.
if [ -z "${FERRITE_CLIENTS_IN_NETNS:-}" ]; then
  [ -x "$FERRITE_BIN" ] || { log "FERRITE_BIN=$FERRITE_BIN not found (cargo build --release -p ferrite)"; exit 1; }
  "$ROOT/scripts/setup-clients.sh"
  if unshare -n true 2>/dev/null; then NETNS=(unshare -n)
  elif unshare -rn true 2>/dev/null; then NETNS=(unshare -rn)
  else log "cannot create a network namespace (need root or unprivileged user namespaces)"; exit 1
  fi
  export FERRITE_CLIENTS_IN_NETNS=1
  exec "${NETNS[@]}" sh -c 'ip link set lo up && exec "$@"' netns "$0" "$@"
fi

# ---------------------------------------------------------------------------------------------------
# Inside the namespace.
want_js=1 want_py=1
if [ $# -gt 0 ]; then
  want_js=0 want_py=0
  for a in "$@"; do
    case "$a" in js) want_js=1 ;; py) want_py=1 ;; *) log "unknown argument '$a' (js | py)"; exit 2 ;; esac
  done
fi

# Refuse to run with any interface but lo: the whole point is that nothing can leave the machine.
if ip -o link show | awk -F': ' '{print $2}' | grep -qv '^lo$'; then
  log "not in a loopback-only network namespace: $(ip -o link show | awk -F': ' '{print $2}' | tr '\n' ' ')"
  exit 1
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ferrite-clients.XXXXXX")
export FERRITE_PATH=$TMP/repo
DAEMON_PID= CLUSTER_PID=
# stop_pid PID WHAT: SIGTERM, then wait up to 20 s for a clean exit (status 0). Says why when it is not.
stop_pid() {
  local pid=$1 what=$2 rc=0
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    log "$what did not exit within 20 s of SIGTERM; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    return 1
  fi
  wait "$pid" || rc=$?
  [ "$rc" = 0 ] || { log "$what exited with status $rc after SIGTERM"; return 1; }
}
stop_daemon() {
  local pid=$DAEMON_PID
  DAEMON_PID=
  stop_pid "$pid" daemon
}
stop_cluster() {
  local pid=$CLUSTER_PID
  CLUSTER_PID=
  stop_pid "$pid" "cluster daemon"
}
cleanup() {
  stop_daemon || true
  stop_cluster || true
  if [ -n "${CLIENTS_KEEP:-}" ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

"$FERRITE_BIN" init --profile test >"$TMP/init.log" 2>&1 || { cat "$TMP/init.log" >&2; exit 1; }
# What `id` and `version` must answer: the peer id init printed, the version the binary reports.
FERRITE_PEER_ID=$(sed -n 's/^peer identity: //p' "$TMP/init.log")
FERRITE_VERSION=$("$FERRITE_BIN" --version | awk '{print $NF}')
[ -n "$FERRITE_PEER_ID" ] && [ -n "$FERRITE_VERSION" ] || { log "cannot read the peer id / version"; cat "$TMP/init.log" >&2; exit 1; }
export FERRITE_PEER_ID FERRITE_VERSION
node "$DIR/lib/seed.mjs" "$FERRITE_BIN" "$TMP/seed"

# wait_ready PID OUT ERR WHAT: waits (30 s) for `Daemon is ready` in OUT; fails when the process exits first.
wait_ready() {
  local pid=$1 out=$2 err=$3 what=$4
  for _ in $(seq 300); do
    grep -q '^Daemon is ready' "$out" && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      log "$what exited before it was ready:"; cat "$out" "$err" >&2; return 1
    fi
    sleep 0.1
  done
  log "$what not ready after 30 s:"; cat "$out" "$err" >&2; return 1
}

# Offline: these suites drive the RPC API and the gateway, not the network; a block that is not in the
# repo must fail at once instead of being looked for on the network (which is network.rs's job).
"$FERRITE_BIN" daemon --offline >"$TMP/daemon.out" 2>"$TMP/daemon.err" &
DAEMON_PID=$!
wait_ready "$DAEMON_PID" "$TMP/daemon.out" "$TMP/daemon.err" daemon || { DAEMON_PID=; exit 1; }

# /ip4/127.0.0.1/tcp/PORT -> http://127.0.0.1:PORT
maddr_url() { sed -n 's#^/ip4/\([0-9.]*\)/tcp/\([0-9]*\)$#http://\1:\2#p'; }
api_maddr=$(sed -n 's/^RPC API server listening on //p' "$TMP/daemon.out" | head -1)
gw_maddr=$(sed -n 's/^Gateway server listening on //p' "$TMP/daemon.out" | head -1)
export FERRITE_API_MADDR=$api_maddr
FERRITE_API_URL=$(echo "$api_maddr" | maddr_url)
FERRITE_GATEWAY_URL=$(echo "$gw_maddr" | maddr_url)
export FERRITE_API_URL FERRITE_GATEWAY_URL
[ -n "$FERRITE_API_URL" ] && [ -n "$FERRITE_GATEWAY_URL" ] \
  || { log "cannot read the API/gateway addresses from the daemon's output:"; cat "$TMP/daemon.out" >&2; exit 1; }
[ "$(cat "$FERRITE_PATH/api")" = "$api_maddr" ] || { log "\$FERRITE_PATH/api does not hold $api_maddr"; exit 1; }
log "daemon ready: API $FERRITE_API_URL, gateway $FERRITE_GATEWAY_URL"

# The cluster REST API (ipfs-cluster.test.mjs): a second repo, made a single-peer cluster. Online, so the
# cluster runs as it does in production (the namespace has only lo, and the test profile has no bootstrap
# peers and no mDNS).
if [ "$want_js" = 1 ]; then
  CREPO=$TMP/cluster-repo
  FERRITE_PATH=$CREPO "$FERRITE_BIN" init --profile test >"$TMP/cluster-init.log" 2>&1 \
    && FERRITE_PATH=$CREPO "$FERRITE_BIN" cluster init --new-secret --peer-name clients-cluster \
      --listen /ip4/127.0.0.1/tcp/0 --rest-api /ip4/127.0.0.1/tcp/0 --pinsvc-api /ip4/127.0.0.1/tcp/0 \
      >>"$TMP/cluster-init.log" 2>&1 \
    || { log "cannot set up the cluster repo:"; cat "$TMP/cluster-init.log" >&2; exit 1; }
  FERRITE_PATH=$CREPO "$FERRITE_BIN" daemon >"$TMP/cluster.out" 2>"$TMP/cluster.err" &
  CLUSTER_PID=$!
  wait_ready "$CLUSTER_PID" "$TMP/cluster.out" "$TMP/cluster.err" "cluster daemon" || { CLUSTER_PID=; exit 1; }
  CLUSTER_API_URL=$(sed -n 's/^Cluster REST API listening on //p' "$TMP/cluster.out" | head -1 | maddr_url)
  CLUSTER_RPC_URL=$(sed -n 's/^RPC API server listening on //p' "$TMP/cluster.out" | head -1 | maddr_url)
  CLUSTER_PEER_ID=$(sed -n 's/^Cluster peer ID: //p' "$TMP/cluster.out" | head -1)
  PINSVC_URL=$(sed -n 's/^Pinning Service API listening on //p' "$TMP/cluster.out" | head -1 | maddr_url)
  PINSVC_TOKEN=$(sed -n 's/^pinning service token: //p' "$TMP/cluster-init.log" | head -1)
  [ -n "$PINSVC_URL" ] && [ -n "$PINSVC_TOKEN" ] \
    || { log "cannot read the pinning service address / token:"; cat "$TMP/cluster.out" "$TMP/cluster-init.log" >&2; exit 1; }
  export PINSVC_URL PINSVC_TOKEN
  [ -n "$CLUSTER_API_URL" ] && [ -n "$CLUSTER_RPC_URL" ] && [ -n "$CLUSTER_PEER_ID" ] \
    || { log "cannot read the cluster REST API / RPC API / peer id from the cluster daemon's output:"; cat "$TMP/cluster.out" >&2; exit 1; }
  export CLUSTER_API_URL CLUSTER_RPC_URL CLUSTER_PEER_ID
  log "cluster ready: REST API $CLUSTER_API_URL, RPC API $CLUSTER_RPC_URL, peer $CLUSTER_PEER_ID"
fi

passed=0 failed=0 rc=0

if [ "$want_js" = 1 ]; then
  tap=$TMP/node.tap
  shopt -s nullglob
  js_files=("$DIR"/*.test.mjs)
  shopt -u nullglob
  [ ${#js_files[@]} -gt 0 ] || { log "no tests/clients/*.test.mjs"; exit 1; }
  # One file at a time: they share the daemon (pins). Human-readable report on stdout, TAP for counting.
  nrc=0
  node --test --test-concurrency=1 --test-timeout=120000 \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$tap" \
    "${js_files[@]}" || nrc=$?
  p=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$tap" 2>/dev/null | tail -1)
  f=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$tap" 2>/dev/null | tail -1)
  c=$(sed -n 's/^# cancelled \([0-9]*\)$/\1/p' "$tap" 2>/dev/null | tail -1)
  f=$(( ${f:-0} + ${c:-0} ))
  # A crash outside any test (say, a module that does not load) still counts as a failure.
  if [ "$nrc" != 0 ]; then rc=1; [ "$f" != 0 ] || f=1; fi
  passed=$((passed + ${p:-0})) failed=$((failed + f))
  log "node: ${p:-0} passed, $f failed"
fi

if [ "$want_py" = 1 ]; then
  junit=$TMP/pytest.xml
  prc=0
  (cd "$DIR" && "$CLIENTS_VENV/bin/python" -m pytest test_aioipfs.py -p no:cacheprovider -rfE \
    --junitxml="$junit" -o junit_family=xunit2) || prc=$?
  read -r p f < <("$CLIENTS_VENV/bin/python" - "$junit" <<'EOF'
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except (OSError, ET.ParseError):
    print(0, 1); sys.exit()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
n = {k: sum(int(s.get(k, 0)) for s in suites) for k in ("tests", "failures", "errors", "skipped")}
print(n["tests"] - n["failures"] - n["errors"] - n["skipped"], n["failures"] + n["errors"])
EOF
)
  if [ "$prc" != 0 ]; then rc=1; [ "$f" != 0 ] || f=1; fi
  passed=$((passed + p)) failed=$((failed + f))
  log "pytest: $p passed, $f failed"
fi

stop_daemon || { log "the daemon did not stop cleanly"; cat "$TMP/daemon.err" >&2; rc=1; }
if [ -n "$CLUSTER_PID" ]; then
  stop_cluster || { log "the cluster daemon did not stop cleanly"; cat "$TMP/cluster.err" >&2; rc=1; }
fi
if [ "$passed" = 0 ]; then log "no test passed"; rc=1; fi
[ "$failed" = 0 ] || rc=1
if [ "$rc" != 0 ] && [ -s "$TMP/daemon.err" ]; then log "daemon stderr (last 30 lines):"; tail -30 "$TMP/daemon.err" >&2; fi
if [ "$rc" != 0 ] && [ -s "$TMP/cluster.err" ]; then log "cluster daemon stderr (last 30 lines):"; tail -30 "$TMP/cluster.err" >&2; fi
echo "clients: $passed passed, $failed failed"
exit "$rc"
