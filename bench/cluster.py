#!/usr/bin/env python3
"""Cluster benchmark: three `ferrite daemon` cluster peers on loopback, driven through the REST API.

    python3 bench/cluster.py                 # full run: 10,000 pins, 100,000-pin listing, 10,000-pin catch-up
    python3 bench/cluster.py --quick         # CI smoke: 300 pins, 3,000-pin listing, 300-pin catch-up
    python3 bench/cluster.py --tests pins --pins 2000

Needs a ferrite binary in $FERRITE_BIN (default target/release/ferrite). The script re-executes itself in a
fresh network namespace holding only ``lo`` (``unshare -n``), so nothing can leave the machine.

Set-up (untimed): three repos made with ``ferrite init --profile test`` and ``ferrite cluster init``
(peer A ``--new-secret``, B and C ``--secret`` of A and ``--bootstrap`` A's cluster address), the cluster and
REST API on 127.0.0.1, Cluster.MonitorPingInterval 1s. Waits until A's ``GET /peers`` lists three peers
without errors and ``GET /monitor/metrics/freespace`` has a metric from each.

Tests (--tests, default all):
  pins      --pins small files (1 KiB, distinct) are added on A with ``ferrite add -r`` (untimed). Then
            ``POST /pins/{cid}?replication-min=2&replication-max=2`` for each, from --clients threads
            (keep-alive connections spread over the three REST APIs). Timed from the first request until
            the peers' ``GET /pins?local=true`` together report 2 x pins CIDs ``pinned`` (polled every
            0.5 s): the end-to-end pins/s (target: 10,000 pins pinned in <= 60 s, >= 170 pins/s). The
            submission rate alone is printed too.
  list      the pinset is filled to --list pins (the same folder of tiny files is added on every peer, so
            pins with replication -1 are satisfied locally), then ``GET /allocations`` (the whole pinset,
            NDJSON) is read in full from A, counting lines without decoding them (the first line is
            checked): seconds, best of 3 (target: 100,000 pins in <= 2 s). Also timed (decoded):
            ``GET /pins?local=true`` on A.
  catchup   C is stopped (SIGTERM); --catchup pins (replication -1, content present on C) are made through
            A and B; C is started again. Timed from C's start until C's ``GET /raft`` (ferrite's consensus
            status) shows it applied the leader's last entry and its tracker counts every new pin pinned
            (polled every 0.1 s; checked afterwards with ``GET /pins?local=true``). Target: 10,000 in <= 30 s.

Results go to stdout as a table; --json FILE writes them as JSON too.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests" / "interop"))

from kubo import assert_network_isolated, reexec_in_private_netns  # noqa: E402


class BenchError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Peer:
    """One `ferrite daemon` with a cluster peer; REST API on 127.0.0.1."""

    def __init__(self, binary: Path, base: Path, name: str):
        self.binary = binary
        self.name = name
        self.repo = base / name
        self.env = dict(os.environ, FERRITE_PATH=str(self.repo))
        self.env.pop("FERRITE_API", None)
        self.proc: subprocess.Popen | None = None
        self.rest_port = free_port()
        self.cluster_port = free_port()
        self.cluster_addr = ""
        self._local = threading.local()

    def run(self, *args: str, timeout: float = 1800) -> str:
        r = subprocess.run([str(self.binary), *args], env=self.env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        if r.returncode != 0:
            raise BenchError(f"{self.name}: ferrite {' '.join(args)}: {r.stderr.decode()[-1500:]}")
        return r.stdout.decode()

    def init(self, secret: str | None, bootstrap: str | None) -> str:
        self.run("init", "--profile", "test")
        args = ["cluster", "init", "--peer-name", self.name,
                "--listen", f"/ip4/127.0.0.1/tcp/{self.cluster_port}",
                "--rest-api", f"/ip4/127.0.0.1/tcp/{self.rest_port}", "--pinsvc-api", "off"]
        args += ["--secret", secret] if secret else ["--new-secret"]
        if bootstrap:
            args += ["--bootstrap", bootstrap]
        out = self.run(*args)
        self.run("config", "Cluster.MonitorPingInterval", "1s")
        m = re.search(r"cluster secret: ([0-9a-f]{64})", out)
        if not m:
            raise BenchError(f"no secret in `cluster init` output: {out}")
        return m.group(1)

    def start(self, timeout: float = 60) -> float:
        self._logf = open(self.repo / "daemon.log", "ab")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen([str(self.binary), "daemon"], env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=self._logf, text=True)
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.strip()
            if line.startswith("Cluster listening on ") and "/127.0.0.1/" in line:
                self.cluster_addr = line.split(" on ", 1)[1]
            if line == "Daemon is ready":
                break
            if time.monotonic() > deadline:
                raise BenchError(f"{self.name}: daemon not ready in {timeout}s")
        else:
            raise BenchError(f"{self.name}: daemon exited: {self.log_tail()}")
        threading.Thread(target=self._drain, daemon=True).start()
        return time.perf_counter() - t0

    def _drain(self) -> None:
        assert self.proc and self.proc.stdout
        for _ in self.proc.stdout:
            pass

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log_tail(self, n: int = 15) -> str:
        try:
            return " | ".join((self.repo / "daemon.log").read_text(errors="replace").splitlines()[-n:])
        except FileNotFoundError:
            return "(no log)"

    # -- REST API ---------------------------------------------------------------------------------

    def conn(self) -> http.client.HTTPConnection:
        c = getattr(self._local, "c", None)
        if c is None:
            c = http.client.HTTPConnection("127.0.0.1", self.rest_port, timeout=300)
            self._local.c = c
        return c

    def request(self, method: str, path: str) -> bytes:
        for attempt in range(2):
            c = self.conn()
            try:
                c.request(method, path)
                r = c.getresponse()
                body = r.read()
                if r.status >= 400:
                    raise BenchError(f"{self.name}: {method} {path}: HTTP {r.status} {body[:300]!r}")
                return body
            except (http.client.HTTPException, OSError):
                c.close()
                self._local.c = None
                if attempt == 1:
                    raise
        raise AssertionError

    def ndjson(self, path: str) -> list[dict]:
        body = self.request("GET", path).decode()
        if body.lstrip().startswith("["):
            return json.loads(body)
        return [json.loads(l) for l in body.splitlines() if l.strip()]

    def count_lines(self, path: str) -> tuple[int, bytes]:
        """Reads a whole NDJSON answer without decoding it (what the server streams is what is timed);
        returns the line count and the first line, which the caller checks."""
        c = self.conn()
        c.request("GET", path)
        r = c.getresponse()
        if r.status >= 400:
            raise BenchError(f"{self.name}: GET {path}: HTTP {r.status}")
        n, first, tail = 0, b"", b""
        while True:
            chunk = r.read(1 << 20)
            if not chunk:
                break
            if not first:
                first = (tail + chunk).split(b"\n", 1)[0]
            n += chunk.count(b"\n")
            tail = chunk[-1:]
        return n, first

    def local_pinned(self) -> int:
        return sum(1 for g in self.ndjson("/pins?local=true")
                   for p in (g.get("peer_map") or {}).values() if p.get("status") == "pinned")


def make_files(folder: Path, count: int, tag: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"f{i:07d}").write_bytes(f"{tag}-{i}-".encode() * 40)


def added_cids(out: str) -> list[str]:
    cids = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "added" and "/" in parts[2]:
            cids.append(parts[1])
    return cids


class Bench:
    def __init__(self, args):
        self.args = args
        self.work = Path(tempfile.mkdtemp(prefix="ferrite-cluster-bench-"))
        self.peers: list[Peer] = []
        self.rows: list[tuple[str, str, str, str]] = []
        self.failed = False

    def setup(self) -> None:
        binary = self.args.binary
        a, b, c = (Peer(binary, self.work, n) for n in ("a", "b", "c"))
        secret = a.init(None, None)
        a.start()
        for p in (b, c):
            p.init(secret, a.cluster_addr)
            p.start()
        self.peers = [a, b, c]
        deadline = time.monotonic() + 60
        while True:
            peers = a.ndjson("/peers")
            metrics = json.loads(a.request("GET", "/monitor/metrics/freespace"))
            if len(peers) == 3 and all(not p.get("error") for p in peers) and len(metrics) == 3:
                return
            if time.monotonic() > deadline:
                raise BenchError(f"cluster did not form: peers={peers} metrics={metrics}")
            time.sleep(0.5)

    def row(self, what: str, value: str, target: str, ok: bool | None) -> None:
        self.rows.append((what, value, target, "yes" if ok else ("no" if ok is not None else "")))
        if ok is False:
            self.failed = True
        print(f"  {what}: {value} (target {target})", flush=True)

    def submit(self, cids: list[str], query: str, peers: list[Peer]) -> float:
        t0 = time.perf_counter()

        def one(i: int) -> None:
            peers[i % len(peers)].request("POST", f"/pins/{cids[i]}?{query}")

        with concurrent.futures.ThreadPoolExecutor(self.args.clients) as ex:
            for f in concurrent.futures.as_completed([ex.submit(one, i) for i in range(len(cids))]):
                f.result()
        return time.perf_counter() - t0

    def test_pins(self) -> None:
        n = self.args.pins
        a = self.peers[0]
        folder = self.work / "pins-input"
        make_files(folder, n, "pins")
        cids = added_cids(a.run("add", "-r", "--pin=false", str(folder)))
        if len(cids) != n:
            raise BenchError(f"added {len(cids)} files, expected {n}")
        t0 = time.perf_counter()
        submit_s = self.submit(cids, "replication-min=2&replication-max=2", self.peers)
        want = 2 * n
        deadline = time.monotonic() + self.args.timeout
        while True:
            got = sum(p.local_pinned() for p in self.peers)
            if got >= want:
                break
            if time.monotonic() > deadline:
                self.row(f"{n} pins (replication 2) pinned", f"only {got}/{want} after {self.args.timeout}s",
                         "<= 60 s for 10,000", False)
                return
            time.sleep(0.5)
        total = time.perf_counter() - t0
        self.row(f"{n} pins submitted through 3 REST APIs ({self.args.clients} clients)",
                 f"{submit_s:.2f} s ({n / submit_s:,.0f} pins/s)", "-", None)
        self.row(f"{n} pins (replication 2) pinned on their 2 peers, end to end",
                 f"{total:.2f} s ({n / total:,.0f} pins/s)", ">= 170 pins/s", n / total >= 170)

    def test_list(self) -> None:
        n = self.args.list
        a = self.peers[0]
        have = len(a.ndjson("/allocations"))
        extra = max(0, n - have)
        if extra:
            folder = self.work / "list-input"
            make_files(folder, extra, "list")
            cids = []
            for p in self.peers:
                cids = added_cids(p.run("add", "-r", str(folder)))
            t = self.submit(cids, "replication-min=-1&replication-max=-1", self.peers)
            print(f"  (filled the pinset with {extra} pins in {t:.1f} s)", flush=True)
        times = []
        count = 0
        for _ in range(3):
            t0 = time.perf_counter()
            count, first = a.count_lines("/allocations")
            times.append(time.perf_counter() - t0)
            if "cid" not in json.loads(first):
                raise BenchError(f"GET /allocations: unexpected line {first[:200]!r}")
        best = min(times)
        self.row(f"GET /allocations, {count} pins (best of 3)", f"{best:.2f} s", "<= 2 s for 100,000",
                 best <= 2 * max(1, count / 100_000) if count >= n else False)
        t0 = time.perf_counter()
        local = len(a.ndjson("/pins?local=true"))
        self.row(f"GET /pins?local=true, {local} CIDs", f"{time.perf_counter() - t0:.2f} s", "-", None)

    def test_catchup(self) -> None:
        n = self.args.catchup
        a, c = self.peers[0], self.peers[2]
        folder = self.work / "catchup-input"
        make_files(folder, n, "catchup")
        cids = []
        for p in self.peers:
            cids = added_cids(p.run("add", "-r", "--pin=false", str(folder)))
        pinned_before = json.loads(c.request("GET", "/raft"))["tracker"].get("pinned", 0)
        c.stop()
        t = self.submit(cids, "replication-min=-1&replication-max=-1", self.peers[:2])
        target = json.loads(a.request("GET", "/raft"))["last_log_index"]
        print(f"  ({n} pins made while C was down, {t:.1f} s; leader's log at {target})", flush=True)
        t0 = time.perf_counter()
        c.start()
        state_s = None
        deadline = time.monotonic() + self.args.timeout
        while True:
            r = json.loads(c.request("GET", "/raft"))
            if state_s is None and (r.get("last_applied") or 0) >= target:
                state_s = time.perf_counter() - t0
            if state_s is not None and r["tracker"].get("pinned", 0) >= pinned_before + n:
                break
            if time.monotonic() > deadline:
                self.row(f"catch-up of {n} pins", f"not done after {self.args.timeout}s: {r}", "<= 30 s", False)
                return
            time.sleep(0.1)
        done = time.perf_counter() - t0
        pinned = set(g["cid"] for g in c.ndjson("/pins?local=true")
                     for p in (g.get("peer_map") or {}).values() if p.get("status") == "pinned")
        missing = [x for x in cids if x not in pinned]
        if missing:
            raise BenchError(f"C reports {len(missing)} of the new pins not pinned, e.g. {missing[:3]}")
        self.row(f"restarted peer: applied every entry made while it was down ({n} pins)",
                 f"{state_s:.2f} s", "-", None)
        self.row(f"restarted peer: all {n} new pins pinned (from daemon start)", f"{done:.2f} s",
                 "<= 30 s for 10,000", done <= 30)

    def main(self) -> int:
        try:
            print(f"ferrite cluster benchmark in {self.work} (load average {os.getloadavg()[0]:.2f})",
                  flush=True)
            self.setup()
            for t in self.args.tests:
                print(f"[{t}]", flush=True)
                getattr(self, f"test_{t}")()
        except BenchError as e:
            print(f"FAILED: {e}", flush=True)
            for p in self.peers:
                print(f"  {p.name} log: {p.log_tail()}")
            self.failed = True
        finally:
            for p in self.peers:
                p.stop()
            if not self.args.keep:
                shutil.rmtree(self.work, ignore_errors=True)
        print()
        print("| measurement | ferrite | target | met |")
        print("|---|---|---|---|")
        for r in self.rows:
            print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} |")
        if self.args.json:
            Path(self.args.json).write_text(json.dumps(self.rows, indent=1))
        return 1 if self.failed else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="CI smoke sizes")
    ap.add_argument("--pins", type=int, default=10_000)
    ap.add_argument("--list", type=int, default=100_000)
    ap.add_argument("--catchup", type=int, default=10_000)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--tests", default="pins,list,catchup")
    ap.add_argument("--json")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    args = ap.parse_args()
    args.tests = [t for t in args.tests.split(",") if t]
    if args.quick:
        args.pins, args.list, args.catchup = 300, 3_000, 300
    args.binary = Path(os.environ.get("FERRITE_BIN", ROOT / "target" / "release" / "ferrite")).resolve()
    if not args.binary.exists():
        print(f"no ferrite binary at {args.binary}; cargo build --release -p ferrite", file=sys.stderr)
        return 2
    reexec_in_private_netns()
    assert_network_isolated()
    return Bench(args).main()


if __name__ == "__main__":
    sys.exit(main())
