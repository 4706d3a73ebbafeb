#!/usr/bin/env bash
# Install the real Kubo clients that tests/clients/ drives against `ferrite daemon`. Idempotent: a no-op
# when everything is already installed at the pinned versions.
#
#   scripts/setup-clients.sh
#
# What it installs, from the package registries only, with their ordinary clients:
#   tests/clients/node_modules   `npm ci --ignore-scripts` from the committed tests/clients/package.json and
#                                package-lock.json: kubo-rpc-client, @helia/verified-fetch (+ helia,
#                                @helia/http, @ipld/car, multiformats, which the gateway test configures
#                                and verifies with). --ignore-scripts: no install script runs, so nothing
#                                can download a prebuilt binary (none is needed: the optional WebRTC
#                                native module of libp2p is never loaded by these tests).
#   <repo>/.venv-clients          a Python venv with tests/clients/requirements.txt (aioipfs + pytest,
#                                every dependency pinned).
#
# Needs: node >= 20.18.1 with npm (undici 7, pinned through package.json "overrides", needs it; the
# newest undici needs Node 22 and does not even load on Node 20), python3 >= 3.10 with venv.
# Environment: CLIENTS_VENV (default <repo>/.venv-clients), PYTHON (default python3).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=$ROOT/tests/clients
VENV=${CLIENTS_VENV:-$ROOT/.venv-clients}
PYTHON=${PYTHON:-python3}

log() { echo "setup-clients: $*" >&2; }

# --- Node side ----------------------------------------------------------------------------------------
command -v node >/dev/null && command -v npm >/dev/null || { log "need node and npm (Node >= 20.18.1)"; exit 1; }
node -e '
  const [a, b, c] = process.versions.node.split(".").map(Number)
  process.exit(a > 20 || (a === 20 && (b > 18 || (b === 18 && c >= 1))) ? 0 : 1)
' || { log "need Node >= 20.18.1, this is $(node --version)"; exit 1; }

# A stamp in node_modules records the lock file it was installed from.
lock_sum=$(sha256sum "$DIR/package-lock.json" "$DIR/package.json" | sha256sum | cut -d' ' -f1)
stamp=$DIR/node_modules/.ferrite-installed
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$lock_sum" ]; then
  log "tests/clients/node_modules is up to date"
else
  log "installing tests/clients/node_modules (npm ci --ignore-scripts; about 400 MB)"
  (cd "$DIR" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  echo "$lock_sum" > "$stamp"
fi

# --- Python side --------------------------------------------------------------------------------------
req_sum=$(sha256sum "$DIR/requirements.txt" | cut -d' ' -f1)
pystamp=$VENV/.ferrite-installed
if [ -x "$VENV/bin/python" ] && [ -f "$pystamp" ] && [ "$(cat "$pystamp")" = "$req_sum" ]; then
  log "$VENV is up to date"
else
  "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' \
    || { log "need python3 >= 3.10 (set PYTHON=...)"; exit 1; }
  [ -x "$VENV/bin/python" ] || { log "creating $VENV"; "$PYTHON" -m venv "$VENV"; }
  log "installing tests/clients/requirements.txt into $VENV"
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$DIR/requirements.txt"
  echo "$req_sum" > "$pystamp"
fi
log "done"
