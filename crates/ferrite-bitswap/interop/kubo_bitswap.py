#!/usr/bin/env python3
"""Bitswap interop between Ferrite's bitswap_probe and a real Kubo (v0.22, tests/interop harness).

    cargo build --release -p ferrite-bitswap --examples
    unshare -n sh -c 'ip link set lo up && exec .venv-kubo/bin/python crates/ferrite-bitswap/interop/kubo_bitswap.py'

Loopback only: the harness refuses to run outside a network namespace that has only `lo`.
1. Kubo adds a 4-chunk file (CIDv0, dag-pb root + 4 leaves); the probe fetches the whole DAG from Kubo.
2. The probe serves a file (UnixFS, Kubo's defaults); Kubo connects to it and `get`s it over Bitswap.
INTEROP_MIB=N uses N MiB files (throughput figures).
"""
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests" / "interop"))
from kubo import Kubo, assert_network_isolated  # noqa: E402

PROBE = ROOT / "target" / "release" / "examples" / "bitswap_probe"


def main() -> int:
    assert_network_isolated()
    tmp = Path(tempfile.mkdtemp(prefix="bitswap-interop-"))
    # INTEROP_MIB=N fetches an N MiB file instead (a throughput figure).
    mib = int(os.environ.get("INTEROP_MIB", "0"))
    data = os.urandom(mib << 20 if mib else 4 * 262144 - 100)
    (tmp / "f").write_bytes(data)
    with Kubo(tmp / "repo", sync=False) as kubo:
        cid = kubo.add(tmp / "f")
        addr = f"{kubo.addrs[0]}/p2p/{kubo.peer_id}"
        print(f"[1] Kubo added {cid}; probe fetches it from {addr}")
        out = subprocess.run([str(PROBE), "fetch", addr, cid], capture_output=True, text=True, timeout=300)
        lines = (out.stdout + out.stderr).splitlines()
        print("\n".join(lines if len(lines) < 12 else lines[:3] + ["..."] + lines[-3:]))
        assert out.returncode == 0, "probe fetch failed"
        assert mib or "fetched 5 blocks" in out.stdout, "expected root + 4 leaves"

        served = os.urandom(mib << 20 if mib else 200_000)
        (tmp / "served").write_bytes(served)
        probe = subprocess.Popen([str(PROBE), "serve", str(tmp / "served")], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True)
        line = probe.stdout.readline().split()
        assert line[0] == "ready", line
        paddr, pcid = line[1], line[2]
        print(f"[2] probe serves {pcid} at {paddr}; Kubo fetches it")
        kubo.connect(paddr)
        secs = kubo.get(pcid, tmp / "fetched")
        probe.stdin.close()
        rest = probe.stdout.read()
        probe.wait(timeout=30)
        print("\n".join(rest.splitlines()[-3:]))
        assert (tmp / "fetched").read_bytes() == served, "Kubo got different bytes"
        print(f"Kubo fetched {len(served)} bytes from the probe in {secs:.2f} s"
              f" ({len(served) / secs / 2**20:.1f} MiB/s)")
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
