#!/usr/bin/env python3
"""Network-partition test of Ferrite's replicated pinset (Raft).

A 5-peer cluster on a private bridge is split 2|3: the minority {0,1} must not
commit a pin, the majority {2,3,4} must (electing a new leader if it has to);
after healing, every peer's pinset (GET /allocations) must be identical, hold
the majority's pin and not the minority's.

Network: the script re-executes itself under `unshare -n -m --propagation
private`, so every interface, bridge and namespace it creates lives in a fresh
network namespace (and /run/netns is a private tmpfs) that disappears with the
process; the host network is never touched. Inside, bridges br0 (10.77.0.254/24,
the driver's side) and br1 connect five namespaces fcl-p0..fcl-p4 through veth
pairs vpN <-> eth0 (10.77.0.N+1/24). Partitioning moves vp0 and vp1 to br1;
healing moves them back.

Usage (root, or wherever `unshare -n -m` works):
    python3 tests/cluster/partition.py      # FERRITE_BIN overrides target/debug/ferrite
Exit 0 on success, 1 with the reason and the daemons' log tails on failure.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import ctypes

N = 5
MINORITY = (0, 1)
MAJORITY = (2, 3, 4)
SUBNET = "10.77.0"
DRIVER_IP = f"{SUBNET}.254"
REST_PORT = 9094
CLUSTER_PORT = 9096
INNER_ENV = "FERRITE_PARTITION_INNER"

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("FERRITE_BIN") or os.path.join(ROOT, "target", "debug", "ferrite")


class TestFailure(Exception):
    pass


def _die_with_parent():
    """preexec_fn: the daemon gets SIGKILL if this driver dies (survives exec)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def log(msg):
    print(f"[partition {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def ip_of(i):
    return f"{SUBNET}.{i + 1}"


def ns_of(i):
    return f"fcl-p{i}"


def sh(*args, check=True, env=None, timeout=60):
    r = subprocess.run(list(args), capture_output=True, text=True, env=env, timeout=timeout)
    if check and r.returncode != 0:
        raise TestFailure(f"command failed ({r.returncode}): {' '.join(args)}\n{r.stdout}{r.stderr}")
    return r.stdout


# --------------------------------------------------------------------------- network

def setup_network():
    # ip netns add bind-mounts files under /run/netns: keep them in a private tmpfs.
    os.makedirs("/run/netns", exist_ok=True)
    sh("mount", "-t", "tmpfs", "tmpfs-fcl", "/run/netns")
    sh("ip", "link", "set", "lo", "up")
    for br in ("br0", "br1"):
        sh("ip", "link", "add", br, "type", "bridge")
        sh("ip", "link", "set", br, "up")
    sh("ip", "addr", "add", f"{DRIVER_IP}/24", "dev", "br0")
    for i in range(N):
        ns = ns_of(i)
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", f"vp{i}", "type", "veth", "peer", "name", f"vq{i}")
        sh("ip", "link", "set", f"vp{i}", "master", "br0")
        sh("ip", "link", "set", f"vp{i}", "up")
        sh("ip", "link", "set", f"vq{i}", "netns", ns)
        sh("ip", "-n", ns, "link", "set", f"vq{i}", "name", "eth0")
        sh("ip", "-n", ns, "addr", "add", f"{ip_of(i)}/24", "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")


def move_ports(peers, bridge):
    for i in peers:
        sh("ip", "link", "set", f"vp{i}", "master", bridge)


def teardown_network():
    for i in range(N):
        subprocess.run(["ip", "netns", "del", ns_of(i)], capture_output=True)


# --------------------------------------------------------------------------- peers

class Peer:
    def __init__(self, i, base):
        self.i = i
        self.ns = ns_of(i)
        self.ip = ip_of(i)
        self.repo = os.path.join(base, f"p{i}")
        self.logpath = os.path.join(base, f"p{i}.log")
        self.proc = None
        self.logf = None
        self.peer_id = None

    def env(self):
        e = dict(os.environ)
        e["FERRITE_PATH"] = self.repo
        return e

    def cli(self, *args, timeout=60):
        """Runs the CLI on this repo (outside the namespace: no daemon needed)."""
        return sh(BIN, *args, env=self.env(), timeout=timeout)

    def start(self):
        self.logf = open(self.logpath, "ab")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, "env", f"FERRITE_PATH={self.repo}",
             # joins and leader changes in the log, for the failure report
             "FERRITE_LOG=warn,libp2p_kad=error,openraft=error,ferrite_cluster=info", BIN, "daemon"],
            stdout=self.logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=_die_with_parent,
        )

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise TestFailure(f"peer {self.i}: daemon exited with {self.proc.returncode}")
            with open(self.logpath, "rb") as f:
                if b"Daemon is ready" in f.read():
                    return
            time.sleep(0.1)
        raise TestFailure(f"peer {self.i}: daemon not ready after {timeout}s")

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=10)
        if self.logf:
            self.logf.close()

    def tail(self, lines=40):
        """The log's last `lines` distinct messages; repeats of a message (timestamps
        aside) are counted, not printed, so a flood of retries cannot hide the cause."""
        try:
            with open(self.logpath, "rb") as f:
                data = f.read().decode("utf-8", "replace").splitlines()
        except OSError as e:
            return f"(no log: {e})"
        out, counts = [], {}
        for line in data:
            key = line.split(" ", 1)[1] if line[:4].isdigit() and " " in line else line
            if key in counts:
                counts[key] += 1
                continue
            counts[key] = 1
            out.append((key, line))
        shown = out[-lines:]
        return "\n".join(l + (f"  [x{counts[k]}]" if counts[k] > 1 else "") for k, l in shown)


# --------------------------------------------------------------------------- REST client

_isolated = set()  # peers the driver cannot reach directly (on br1)
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def api(peer, method, path, timeout=15.0):
    """One REST call to `peer`; returns (status, body text). status 0 = no answer.

    Peers on br0 are reached from the driver over 10.77.0.X; isolated ones from
    inside their own namespace with curl (127.0.0.1)."""
    if peer.i in _isolated:
        return _api_ns(peer, method, path, timeout)
    url = f"http://{peer.ip}:{REST_PORT}{path}"
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    try:
        with _opener.open(req, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as e:
        return 0, str(e)


def _api_ns(peer, method, path, timeout):
    url = f"http://127.0.0.1:{REST_PORT}{path}"
    args = ["ip", "netns", "exec", peer.ns, "curl", "-sS", "--noproxy", "*",
            "-m", str(timeout), "-X", method, "-o", "-", "-w", "\n%{http_code}", url]
    try:
        r = subprocess.run(args, capture_output=True, text=True, timeout=timeout + 10)
    except subprocess.TimeoutExpired:
        return 0, "curl did not finish"
    out = r.stdout
    body, _, code = out.rpartition("\n")
    try:
        status = int(code.strip())
    except ValueError:
        status = 0
    if status == 0:
        body = (body + r.stderr).strip()
    return status, body


def ndjson(text):
    return [json.loads(l) for l in text.splitlines() if l.strip()]


def allocations(peer, timeout=10.0):
    """The peer's pinset as {cid: pin}, or None when it does not answer."""
    status, body = api(peer, "GET", "/allocations", timeout)
    if status != 200:
        return None
    try:
        return {p["cid"]: p for p in ndjson(body)}
    except (ValueError, KeyError, TypeError):
        return None


def peers_ok(peer):
    status, body = api(peer, "GET", "/peers", 12.0)
    if status != 200:
        return False, f"HTTP {status}: {body[:200]}"
    try:
        infos = ndjson(body)
    except ValueError as e:
        return False, f"bad NDJSON: {e}"
    errs = [f"{p.get('id')}: {p.get('error')}" for p in infos if p.get("error")]
    if len(infos) != N or errs:
        return False, f"{len(infos)} members, errors {errs}"
    return True, ""


def pin(peer, cid, timeout=25.0):
    return api(peer, "POST", f"/pins/{cid}?replication-min=-1&replication-max=-1", timeout)


def wait_until(desc, fn, timeout, interval=0.25):
    """Polls fn() -> (ok, detail) until ok; returns the seconds it took."""
    start = time.monotonic()
    detail = ""
    while True:
        ok, detail = fn()
        if ok:
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise TestFailure(f"{desc}: not true after {timeout}s ({detail})")
        time.sleep(interval)


# --------------------------------------------------------------------------- test

def make_cids(peer, base, count):
    cids = []
    for k in range(count):
        path = os.path.join(base, f"data{k}")
        with open(path, "wb") as f:
            f.write(os.urandom(4096) + f"partition-test {k} {time.time_ns()}".encode())
        cid = peer.cli("add", "-n", "-Q", path).strip()
        if not cid:
            raise TestFailure(f"`ferrite add -n -Q` printed no CID for {path}")
        cids.append(cid)
    return cids


def setup_peers(base):
    peers = [Peer(i, base) for i in range(N)]
    secret = None
    for p in peers:
        p.cli("init", "--profile", "test")
        p.cli("config", "Addresses.Swarm", "--json", json.dumps([f"/ip4/{p.ip}/tcp/4001"]))
        p.cli("config", "Addresses.API", "/ip4/127.0.0.1/tcp/5001")
        p.cli("config", "Addresses.Gateway", "/ip4/127.0.0.1/tcp/8080")
        p.peer_id = p.cli("config", "Identity.PeerID").strip().strip('"')
        common = ["--listen", f"/ip4/{p.ip}/tcp/{CLUSTER_PORT}",
                  "--rest-api", f"/ip4/0.0.0.0/tcp/{REST_PORT}", "--pinsvc-api", "off",
                  "--peer-name", f"p{p.i}"]
        if p.i == 0:
            out = p.cli("cluster", "init", "--new-secret", *common)
            for line in out.splitlines():
                if line.startswith("cluster secret:"):
                    secret = line.split(":", 1)[1].strip()
            if not secret:
                raise TestFailure(f"no 'cluster secret:' line in cluster init output:\n{out}")
        else:
            boot = f"/ip4/{peers[0].ip}/tcp/{CLUSTER_PORT}/p2p/{peers[0].peer_id}"
            p.cli("cluster", "init", "--secret", secret, "--bootstrap", boot, *common)
        p.cli("config", "Cluster.MonitorPingInterval", "1s")
    return peers


def run(base):
    setup_network()
    peers = setup_peers(base)
    cids = make_cids(peers[0], base, 7)
    initial, minority_cid, majority_cid = cids[:5], cids[5], cids[6]
    log(f"initial pins {initial}; minority pin {minority_cid}; majority pin {majority_cid}")

    try:
        t = time.monotonic()
        peers[0].start()
        peers[0].wait_ready()
        for p in peers[1:]:
            p.start()
        for p in peers[1:]:
            p.wait_ready()
        log(f"5 daemons ready in {time.monotonic() - t:.1f}s")

        # 1. a healthy 5-member cluster replicates pins everywhere
        def all_members():
            for p in peers:
                ok, detail = peers_ok(p)
                if not ok:
                    return False, f"peer {p.i}: {detail}"
            return True, ""
        dt = wait_until("all 5 peers see 5 members without errors", all_members, 60, 0.5)
        log(f"cluster formed: every peer lists 5 members ({dt:.1f}s)")

        for cid in initial:
            status, body = pin(peers[3], cid, 20)
            if status != 200:
                raise TestFailure(f"pin {cid} through peer 3 before the partition: HTTP {status}: {body}")

        def everyone_has(want, who):
            def check():
                for p in who:
                    a = allocations(p)
                    if a is None:
                        return False, f"peer {p.i}: /allocations failed"
                    missing = [c for c in want if c not in a]
                    if missing:
                        return False, f"peer {p.i} lacks {missing}"
                return True, ""
            return check
        dt = wait_until("5 pins on every peer", everyone_has(initial, peers), 10)
        log(f"5 pins committed through peer 3 are on all 5 peers ({dt:.1f}s)")

        # 2. partition {0,1} | {2,3,4}
        move_ports(MINORITY, "br1")
        _isolated.update(MINORITY)
        t_part = time.monotonic()
        log("partitioned: {0,1} on br1 | {2,3,4} on br0")

        results = {}

        def minority_pin():
            t0 = time.monotonic()
            results["minority"] = pin(peers[0], minority_cid, 25) + (time.monotonic() - t0,)

        def majority_first():
            # one POST sent right after the partition, waited for as a client would
            t0 = time.monotonic()
            results["first"] = pin(peers[3], majority_cid, 25) + (time.monotonic() - t0,)

        def majority_pin():
            # fresh POSTs with a short client timeout until one commits: the time of the
            # first success measures election + commit as clients see it (pin is idempotent)
            attempts = []
            while True:
                t0 = time.monotonic()
                status, body = pin(peers[3], majority_cid, 1.0)
                attempts.append((status, body[:120], round(time.monotonic() - t0, 2)))
                if status == 200 or time.monotonic() - t_part > 15:
                    break
                time.sleep(0.1)
            results["majority"] = (status, attempts, time.monotonic() - t_part)

        th = [threading.Thread(target=f) for f in (minority_pin, majority_first, majority_pin)]
        for x in th:
            x.start()
        for x in th:
            x.join()

        m_status, m_attempts, t_commit = results["majority"]
        if m_status != 200:
            raise TestFailure(f"the majority {{2,3,4}} could not commit a pin within 15s of the "
                              f"partition; attempts (status, body, seconds): {m_attempts}")
        log(f"majority pin committed through peer 3 {t_commit:.2f}s after the partition "
            f"({len(m_attempts)} POSTs with a 1s client timeout)")
        f_status, f_body, f_time = results["first"]
        log(f"the POST sent at the partition returned HTTP {f_status} after {f_time:.2f}s")
        if f_status != 200:
            msg = (f"a pin POSTed to majority peer 3 right at the partition failed (HTTP {f_status} "
                   f"after {f_time:.1f}s: {f_body.strip()[:160]}) although the majority committed "
                   f"{t_commit:.1f}s after the partition: the write was stuck on the old leader")
            raise TestFailure(msg)

        n_status, n_body, n_time = results["minority"]
        if 200 <= n_status < 300:
            raise TestFailure(f"the minority {{0,1}} accepted a pin during the partition: "
                              f"HTTP {n_status} after {n_time:.1f}s: {n_body}")
        if n_status == 0:
            raise TestFailure(f"the minority's pin got no answer within 25s (the submit timeout is "
                              f"10s): {n_body}")
        log(f"minority pin through peer 0 refused: HTTP {n_status} after {n_time:.1f}s: "
            f"{n_body.strip()[:160]}")

        dt = wait_until("majority pin on peers 2,3,4",
                        everyone_has([majority_cid], [peers[i] for i in MAJORITY]), 10)
        log(f"majority pin visible on 2,3,4 ({dt:.1f}s)")
        for p in peers:
            a = allocations(p)
            if a is None:
                raise TestFailure(f"peer {p.i}: /allocations failed during the partition")
            if minority_cid in a:
                raise TestFailure(f"peer {p.i} has the minority's pin {minority_cid} during the "
                                  f"partition (a minority committed): {a[minority_cid]}")
            if p.i in MINORITY and majority_cid in a:
                raise TestFailure(f"peer {p.i} (minority) has the majority's pin during the partition")
        log("during the partition no peer has the minority's pin; 0,1 don't have the majority's")

        # 3. heal: everyone converges on the majority's history
        move_ports(MINORITY, "br0")
        _isolated.clear()
        t_heal = time.monotonic()
        log("healed: all 5 on br0")

        last = {}

        def converged():
            views = {}
            for p in peers:
                a = allocations(p, 5)
                if a is None:
                    return False, f"peer {p.i}: /allocations failed"
                views[p.i] = a
            last.clear()
            last.update(views)
            ref = views[0]
            for i, a in views.items():
                if a != ref:
                    diff = sorted(set(a) ^ set(ref)) or "same CIDs, different fields"
                    return False, f"peer {i} differs from peer 0: {diff}"
            want = set(initial) | {majority_cid}
            if not want <= set(ref):
                return False, f"missing {sorted(want - set(ref))}"
            return True, ""
        try:
            dt_conv = wait_until("all 5 pinsets identical after healing", converged, 30, 0.5)
        except TestFailure as e:
            raise TestFailure(f"{e}\npinsets: " + json.dumps(
                {i: sorted(a) for i, a in last.items()}, indent=1))
        if minority_cid in last[0]:
            raise TestFailure(
                f"POSSIBLE PRODUCT BUG: the pin refused by the minority during the partition "
                f"({minority_cid}) is in the converged pinset of all 5 peers after healing: "
                f"{last[0][minority_cid]}. Raft must discard a minority leader's uncommitted "
                f"entries (and a refused request must not be retried after the error)")
        extra = set(last[0]) - set(initial) - {majority_cid}
        if extra:
            raise TestFailure(f"unexpected pins after healing: {sorted(extra)}")
        log(f"all 5 pinsets identical {dt_conv:.1f}s after healing "
            f"({len(last[0])} pins: the 5 initial + the majority's, not the minority's)")
        dt_peers = wait_until("all 5 peers see 5 members after healing", all_members, 30, 0.5)
        log(f"all 5 peers list 5 healthy members again ({time.monotonic() - t_heal:.1f}s after healing)")
        # still the same, and still without the minority's pin, once things have settled
        ref = last[0]
        ok, detail = converged()
        if not ok or last[0] != ref:
            raise TestFailure(f"pinsets changed after converging: {detail}; "
                              f"now {json.dumps({i: sorted(a) for i, a in last.items()})}")

        log(f"TIMINGS: majority commit after partition (election included) {t_commit:.2f}s; "
            f"minority refusal {n_time:.2f}s; pinset convergence after healing {dt_conv:.2f}s")
        del dt_peers
        return peers
    except BaseException:
        run.peers = peers
        raise
    finally:
        for p in peers:
            p.stop()


def _on_sigterm(signum, frame):
    raise TestFailure(f"interrupted by signal {signum}")


def inner():
    signal.signal(signal.SIGTERM, _on_sigterm)
    if not os.path.exists(BIN):
        print(f"partition: ferrite binary not found at {BIN} (cargo build -p ferrite, or set FERRITE_BIN)",
              file=sys.stderr)
        return 1
    if shutil.which("curl") is None:
        print("partition: curl is needed (to query isolated peers from their namespace)", file=sys.stderr)
        return 1
    base = tempfile.mkdtemp(prefix="ferrite-partition-")
    start = time.monotonic()
    keep = os.environ.get("FERRITE_PARTITION_KEEP") == "1"
    try:
        run(base)
        if keep:
            log(f"logs kept in {base}")
            base = None
        log(f"PASS in {time.monotonic() - start:.1f}s")
        return 0
    except (TestFailure, subprocess.TimeoutExpired) as e:
        report_failure("partition", e, getattr(run, "peers", []), base)
        base = None
        return 1
    finally:
        teardown_network()
        if base:
            shutil.rmtree(base, ignore_errors=True)


def report_failure(name, e, peers, base):
    """Prints why a run failed and every peer's log tail, then the reason
    again, last: CI shows the end of the output."""
    print(f"\n{name}: FAIL: {e}\n", file=sys.stderr, flush=True)
    for p in peers:
        print(f"----- peer {p.i} ({p.ip}, {p.peer_id}) log tail: {p.logpath}", file=sys.stderr)
        print(p.tail(), file=sys.stderr)
    print(f"(logs kept in {base})", file=sys.stderr)
    first = (str(e).splitlines() or [repr(e)])[0]
    print(f"{name}: FAIL: {first}", file=sys.stderr, flush=True)


def run_in_namespace(name, script, args, inner_env):
    """Runs `script args` again in a network and mount namespace of its own
    (`unshare -n -m`), with `inner_env` set, and exits with its status."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        print(f"{name}: needs unshare (util-linux) and ip (iproute2)", file=sys.stderr)
        sys.exit(1)
    env = dict(os.environ, **{inner_env: "1"})
    cmd = ["unshare", "-n", "-m", "--propagation", "private", sys.executable,
           os.path.abspath(script)] + args
    child = subprocess.Popen(cmd, env=env)
    signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM))
    try:
        child.wait()
    except KeyboardInterrupt:
        child.send_signal(signal.SIGTERM)
        child.wait()
        sys.exit(130)
    if child.returncode not in (0, 1):
        print(f"{name}: inner run exited with {child.returncode} (root or unshare -n -m needed)",
              file=sys.stderr)
        sys.exit(1)
    sys.exit(child.returncode)


def main():
    if os.environ.get(INNER_ENV) == "1":
        sys.exit(inner())
    run_in_namespace("partition", __file__, [], INNER_ENV)


if __name__ == "__main__":
    main()
