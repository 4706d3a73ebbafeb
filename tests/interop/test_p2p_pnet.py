"""Private networks against a real Kubo: ferrite-p2p's host (the ``p2p_probe`` example) and Kubo v0.22
connect when they share a ``swarm.key``, in both directions, and fail, reported as a key mismatch, when the
keys differ.

The probe is built with ``cargo build --release -p ferrite-p2p --example p2p_probe``
(``$P2P_PROBE_BIN``, default ``target/release/examples/p2p_probe``); without it these tests are skipped.
"""
from __future__ import annotations

import json
import os
import secrets
import selectors
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from kubo import REPO_ROOT, Kubo, KuboError

PROBE = Path(os.environ.get("P2P_PROBE_BIN") or REPO_ROOT / "target" / "release" / "examples" / "p2p_probe")

pytestmark = pytest.mark.skipif(
    not PROBE.exists(),
    reason=f"{PROBE} missing (cargo build --release -p ferrite-p2p --example p2p_probe)")


def write_key(path: Path, crlf: bool = False) -> Path:
    """A swarm.key in ipfs-swarm-key-gen's form (optionally with Windows line ends)."""
    nl = "\r\n" if crlf else "\n"
    path.write_bytes(f"/key/swarm/psk/1.0.0/{nl}/base16/{nl}{secrets.token_hex(32)}{nl}".encode())
    return path


class Probe:
    """The p2p_probe example in a child process; reads its JSON lines."""

    def __init__(self, *args: str):
        self.proc = subprocess.Popen([str(PROBE), "--secs", "60", *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.proc.stdout, selectors.EVENT_READ)
        self.buf = b""
        self.events: list[dict] = []
        listening = self.wait(lambda e: "listening" in e, 20)
        self.id, self.addr = listening["id"], listening["listening"]

    def wait(self, pred, timeout: float) -> dict | None:
        """The first event (seen before or arriving within ``timeout``) matching ``pred``, else None."""
        for e in self.events:
            if pred(e):
                return e
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                e = json.loads(line)
                self.events.append(e)
                if pred(e):
                    return e
            left = deadline - time.monotonic()
            if left <= 0 or not self.sel.select(left):
                if time.monotonic() >= deadline:
                    return None
                continue
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                return None
            self.buf += chunk

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()  # the probe exits when its stdin closes
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")
    return {"kubo": write_key(d / "kubo.key"), "other": write_key(d / "other.key"), "dir": d}


@pytest.fixture(scope="module")
def private_kubo(keys, tmp_path_factory):
    base = tmp_path_factory.mktemp("kubo-pnet")
    try:
        with Kubo(base / "repo", swarm_key=keys["kubo"], sync=False) as node:
            yield node
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def probe_factory():
    probes: list[Probe] = []

    def make(*args: str) -> Probe:
        p = Probe(*args)
        probes.append(p)
        return p

    yield make
    for p in probes:
        p.close()


def kubo_addr(kubo: Kubo) -> str:
    tcp = next(a for a in kubo.addrs if "/tcp/" in a and "127.0.0.1" in a)
    return f"{tcp}/p2p/{kubo.peer_id}"


def test_probe_dials_kubo_with_the_same_key(private_kubo, keys, probe_factory):
    # The harness's Kubo has an RSA identity (Qm…), so this also covers Noise with an RSA peer.
    probe = probe_factory("--swarm-key", str(keys["kubo"]), "--dial", kubo_addr(private_kubo))
    ev = probe.wait(lambda e: "connected" in e or "error" in e, 30)
    assert ev and ev.get("connected") == private_kubo.peer_id, probe.events
    ident = probe.wait(lambda e: e.get("identified") == private_kubo.peer_id, 20)
    assert ident and "kubo" in ident["agent"], probe.events
    assert probe.wait(lambda e: e.get("ping") == private_kubo.peer_id, 20), probe.events
    assert probe.id in private_kubo.peers()


def test_kubo_dials_probe_with_the_same_key_in_crlf_form(private_kubo, keys, probe_factory):
    # The same key, rewritten with \r\n line ends: the probe must read it as Kubo does.
    crlf = keys["dir"] / "kubo-crlf.key"
    crlf.write_bytes(keys["kubo"].read_bytes().replace(b"\n", b"\r\n"))
    probe = probe_factory("--swarm-key", str(crlf))
    private_kubo.connect(f"{probe.addr}/p2p/{probe.id}")
    ev = probe.wait(lambda e: e.get("connected") == private_kubo.peer_id, 20)
    assert ev and ev["endpoint"] == "listener", probe.events
    assert probe.id in private_kubo.peers()


def test_probe_with_another_key_cannot_dial_kubo(private_kubo, keys, probe_factory):
    probe = probe_factory("--swarm-key", str(keys["other"]), "--dial", kubo_addr(private_kubo))
    ev = probe.wait(lambda e: "connected" in e or e.get("direction") == "outgoing", 40)
    assert ev and "error" in ev, probe.events
    assert ev["pnet_mismatch"] is True, ev
    assert probe.id not in private_kubo.peers()


def test_kubo_cannot_dial_probe_with_another_key(private_kubo, keys, probe_factory):
    probe = probe_factory("--swarm-key", str(keys["other"]))
    with pytest.raises(KuboError):
        private_kubo.call("connect", timeout=60, addr=f"{probe.addr}/p2p/{probe.id}")
    ev = probe.wait(lambda e: "connected" in e or e.get("direction") == "incoming", 20)
    assert ev and "error" in ev and ev["pnet_mismatch"] is True, probe.events


def test_probe_without_key_cannot_dial_private_kubo(private_kubo, probe_factory):
    probe = probe_factory("--dial", kubo_addr(private_kubo))
    ev = probe.wait(lambda e: "connected" in e or e.get("direction") == "outgoing", 40)
    assert ev and "error" in ev, probe.events
    assert probe.id not in private_kubo.peers()
