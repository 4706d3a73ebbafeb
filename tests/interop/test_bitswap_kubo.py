"""Bitswap with a real Kubo, both directions: Ferrite fetches a UnixFS file Kubo added, and Kubo fetches
one Ferrite serves; bytes are compared (crates/ferrite-bitswap/interop/kubo_bitswap.py does the work).

Needs ``target/release/examples/bitswap_probe`` (``cargo build --release -p ferrite-bitswap --example
bitswap_probe``; scripts/test.sh builds it); skipped with the reason otherwise. Runs inside the network
namespace that tests/interop/run.sh creates.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = ROOT / "target" / "release" / "examples" / "bitswap_probe"
SCRIPT = ROOT / "crates" / "ferrite-bitswap" / "interop" / "kubo_bitswap.py"

pytestmark = pytest.mark.skipif(
    not PROBE.exists(),
    reason=f"{PROBE} missing (cargo build --release -p ferrite-bitswap --example bitswap_probe)")


def test_bitswap_both_directions_with_kubo():
    r = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}"
