#!/usr/bin/env python3
"""Jepsen-style fault test of Ferrite's replicated pinset.

A 5-peer cluster in network namespaces (the network of partition.py, whose
helpers this script imports) runs a client workload of pin / unpin / status
while a nemesis injects faults, one at a time and healed before the next:
random partitions (a random subset of peers moved to a second bridge), kill -9
of a random peer (restarted afterwards) and pauses (SIGSTOP ... SIGCONT).

Every operation is recorded with its start and end times and its outcome:
ok (acknowledged), fail (definitely not applied: connection refused, 4xx) or
unknown (no answer in time, 5xx: it may or may not have taken effect, at any
time after it started). The history is written as JSON.

After the faults stop, the network is healed, every peer is restarted and the
cluster must converge; then the checker verifies:
 1. each CID's presence in the final pinset is explained by the history: it is
    the effect of the CID's last acknowledged op (absent if none), or the
    effect of one of its unknown ops (which may linearize at any later time);
    in particular every pin acknowledged and not followed by an acknowledged
    unpin (nor an unknown one) is in every peer's final pinset;
 2. no peer ever reports (sampled during the run, and at the end) a pin that
    was never submitted;
 3. every pin in the final pinset is `pinned` on at least its
    replication_factor_min peers within a bounded time;
 4. all peers' final pinsets are identical.

Usage (root, or wherever `unshare -n -m` works):
    python3 tests/cluster/faults.py [--duration SECONDS] [--seed N] [--history FILE]
FERRITE_BIN overrides target/release/ferrite (then target/debug/ferrite).
Exit 0 on success, 1 with the reason (and the daemons' log tails) on failure.
"""
import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import partition as P  # noqa: E402  (network, peers and REST helpers)

INNER_ENV = "FERRITE_FAULTS_INNER"
N = P.N
CLIENTS = 3
POOL_PER_CLIENT = 400
OP_TIMEOUT = 15.0
RMIN, RMAX = 2, 3

if not os.environ.get("FERRITE_BIN"):
    rel = os.path.join(P.ROOT, "target", "release", "ferrite")
    if os.path.exists(rel):
        P.BIN = rel


def log(msg):
    print(f"[faults {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class TestFailure(P.TestFailure):
    pass


class Peer(P.Peer):
    """partition.Peer with the daemon's default log filter plus the cluster's
    info lines, and kill -9 / pause."""

    def start(self):
        self.logf = open(self.logpath, "ab")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, "env", f"FERRITE_PATH={self.repo}", P.BIN, "daemon"],
            stdout=self.logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=P._die_with_parent,
        )

    def wait_ready(self, timeout=60):
        # Only this run's "Daemon is ready" counts (the log is appended to).
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise TestFailure(f"peer {self.i}: daemon exited with {self.proc.returncode}")
            with open(self.logpath, "rb") as f:
                f.seek(self._start_off)
                if b"Daemon is ready" in f.read():
                    return
            time.sleep(0.1)
        raise TestFailure(f"peer {self.i}: daemon not ready after {timeout}s")

    _start_off = 0

    def launch(self):
        self._start_off = os.path.getsize(self.logpath) if os.path.exists(self.logpath) else 0
        self.start()

    def signal(self, sig):
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def kill9(self):
        self.signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.logf.close()


P.Peer = Peer


# --------------------------------------------------------------------------- history

class History:
    def __init__(self, t0):
        self.t0 = t0
        self.lock = threading.Lock()
        self.ops = []
        self.submitted = set()  # every CID a pin was ever sent for

    def now(self):
        return round(time.monotonic() - self.t0, 3)

    def add(self, rec):
        with self.lock:
            self.ops.append(rec)


def outcome(status, body):
    if 200 <= status < 300:
        return "ok"
    if status == 0 and ("refused" in body.lower() or "failed to connect" in body.lower()):
        return "fail"  # never reached the peer
    if 400 <= status < 500:
        return "fail"
    if "not enough peers to allocate" in body:
        return "fail"  # refused before anything was submitted
    return "unknown"


def client(k, peers, pool, hist, stop, rng):
    pinned = []  # CIDs this client pinned (ok or unknown), candidates for unpin
    fresh = list(pool)
    while not stop.is_set():
        r = rng.random()
        peer = rng.choice(peers)
        if r < 0.6 and fresh:
            cid = fresh.pop()
            op, method, path = "pin", "POST", f"/pins/{cid}?replication-min={RMIN}&replication-max={RMAX}"
            with hist.lock:
                hist.submitted.add(cid)
        elif r < 0.85 and pinned:
            cid = rng.choice(pinned)
            op, method, path = "unpin", "DELETE", f"/pins/{cid}"
        elif pinned:
            cid = rng.choice(pinned)
            op, method, path = "status", "GET", f"/pins/{cid}"
        else:
            time.sleep(0.1)
            continue
        start = hist.now()
        status, body = P.api(peer, method, path, OP_TIMEOUT)
        end = hist.now()
        res = outcome(status, body)
        if op == "status":
            res = "ok" if status == 200 else "fail"
        hist.add({"client": k, "op": op, "cid": cid, "peer": peer.i, "start": start, "end": end,
                  "outcome": res, "status": status, "body": body.strip()[:160]})
        if op == "pin" and res != "fail" and cid not in pinned:
            pinned.append(cid)
        time.sleep(rng.uniform(0.05, 0.3))


def sampler(peers, hist, stop, rng, bad):
    """Property 2 during the run: a sampled peer's pinset holds only submitted CIDs."""
    while not stop.wait(2.0):
        p = rng.choice(peers)
        if p.proc.poll() is not None:
            continue
        with hist.lock:
            submitted = set(hist.submitted)
        a = P.allocations(p, 5)
        if a is None:
            continue
        extra = set(a) - submitted
        if extra:
            bad.append((hist.now(), p.i, sorted(extra)))


# --------------------------------------------------------------------------- nemesis

def nemesis(peers, hist, stop, rng, faults):
    """One fault at a time, always healed before the next."""
    while not stop.wait(rng.uniform(2.0, 5.0)):
        kind = rng.choice(["partition", "kill", "pause"])
        hold = rng.uniform(3.0, 10.0)
        t = hist.now()
        if kind == "partition":
            side = rng.sample(range(N), rng.randint(1, N - 1))
            P.move_ports(side, "br1")
            P._isolated.update(side)
            desc = f"partition {sorted(side)} | {sorted(set(range(N)) - set(side))}"
            stop.wait(hold)
            P.move_ports(side, "br0")
            P._isolated.clear()
        elif kind == "kill":
            victim = peers[rng.randrange(N)]
            desc = f"kill -9 peer {victim.i}"
            victim.kill9()
            stop.wait(hold)
            victim.launch()
            try:
                victim.wait_ready()
            except P.TestFailure as e:
                log(f"restarting peer {victim.i}: {e}")
        else:
            victim = peers[rng.randrange(N)]
            desc = f"pause peer {victim.i}"
            victim.signal(signal.SIGSTOP)
            stop.wait(hold)
            victim.signal(signal.SIGCONT)
        faults.append({"kind": kind, "desc": desc, "start": t, "end": hist.now()})
        log(f"fault {len(faults)}: {desc} for {hist.now() - t:.1f}s (healed)")


# --------------------------------------------------------------------------- checks

def allowed_states(ops):
    """Set of allowed final states (True = present) for one CID's ops, which
    its client issued one after another."""
    effect = {"pin": True, "unpin": False}
    writes = [o for o in ops if o["op"] in effect]
    last_ok = None
    for o in writes:
        if o["outcome"] == "ok":
            last_ok = o
    allowed = {effect[last_ok["op"]] if last_ok else False}
    # an unknown op may take effect at any time after it started
    for o in writes:
        if o["outcome"] == "unknown":
            allowed.add(effect[o["op"]])
    return allowed


def make_pool(peers, base, count):
    """`count` small random files added (not pinned) to every repo before the
    daemons start: every peer holds every block, so pinning needs no Bitswap."""
    d = os.path.join(base, "data")
    os.makedirs(d)
    files = []
    for k in range(count):
        path = os.path.join(d, f"f{k:05d}")
        with open(path, "wb") as f:
            f.write(os.urandom(512) + f"faults {k} {time.time_ns()}".encode())
        files.append(path)
    cids = None
    for p in peers:
        out = p.cli("add", "-Q", "--pin=false", *files, timeout=600)
        got = [l.strip() for l in out.splitlines() if l.strip()]
        if len(got) != count:
            # -Q prints the last root only for several files on some versions
            out = p.cli("add", "--pin=false", *files, timeout=600)
            got = [l.split()[1] for l in out.splitlines() if l.startswith("added ")]
        if cids is None:
            cids = got
        elif got != cids:
            raise TestFailure("the same files gave different CIDs on different peers")
    if len(cids) != count:
        raise TestFailure(f"added {count} files, got {len(cids)} CIDs")
    return cids


def run(base, duration, seed, history_path):
    rng = random.Random(seed)
    P.setup_network()
    peers = P.setup_peers(base)
    run.peers = peers
    t = time.monotonic()
    per_client = max(POOL_PER_CLIENT, int(duration * 2.5))  # ~2 pins/s per client
    pool = make_pool(peers, base, CLIENTS * per_client)
    log(f"{len(pool)} CIDs in every repo ({time.monotonic() - t:.1f}s)")
    try:
        peers[0].launch()
        peers[0].wait_ready()
        for p in peers[1:]:
            p.launch()
        for p in peers[1:]:
            p.wait_ready()

        def all_members():
            for p in peers:
                ok, detail = P.peers_ok(p)
                if not ok:
                    return False, f"peer {p.i}: {detail}"
            return True, ""
        dt = P.wait_until("all 5 peers see 5 healthy members", all_members, 90, 0.5)
        log(f"cluster formed ({dt:.1f}s); running {duration}s of faults with seed {seed}")

        hist = History(time.monotonic())
        stop = threading.Event()
        faults, bad_samples = [], []
        threads = [threading.Thread(target=client, args=(
            k, peers, pool[k * per_client:(k + 1) * per_client], hist, stop,
            random.Random(rng.random()))) for k in range(CLIENTS)]
        threads.append(threading.Thread(target=sampler, args=(
            peers, hist, stop, random.Random(rng.random()), bad_samples)))
        nem = threading.Thread(target=nemesis, args=(
            peers, hist, stop, random.Random(rng.random()), faults))
        for x in threads + [nem]:
            x.daemon = True  # a failure (or SIGTERM) in the main thread ends the run
            x.start()
        try:
            time.sleep(duration)
        finally:
            stop.set()
        nem.join()
        for x in threads:
            x.join()
        t_faults_end = hist.now()
        log(f"faults stopped at {t_faults_end:.0f}s; {len(hist.ops)} ops, {len(faults)} faults")

        # heal everything (the nemesis always heals; make sure), restart all
        P.move_ports(range(N), "br0")
        P._isolated.clear()
        for p in peers:
            p.signal(signal.SIGCONT)
        t_restart = time.monotonic()
        for p in peers:
            p.stop()
        for p in peers:
            p.launch()
        for p in peers:
            p.wait_ready()

        last = {}

        def converged():
            views = {}
            for p in peers:
                a = P.allocations(p, 5)
                if a is None:
                    return False, f"peer {p.i}: /allocations failed"
                views[p.i] = a
            last.clear()
            last.update(views)
            for i, a in views.items():
                if a != views[0]:
                    diff = sorted(set(a) ^ set(views[0]))[:5] or "same CIDs, different fields"
                    return False, f"peer {i} differs from peer 0: {diff}"
            return all_members()
        try:
            P.wait_until("all 5 pinsets identical after healing", converged, 120, 0.5)
        except P.TestFailure as e:
            raise TestFailure(f"property 4 (identical pinsets): {e}")
        t_conv = time.monotonic() - t_restart
        final = last[0]
        log(f"converged {t_conv:.1f}s after the restart: {len(final)} pins on every peer")

        with open(history_path, "w") as f:
            json.dump({"seed": seed, "duration": duration, "ops": hist.ops, "faults": faults},
                      f, indent=0)

        problems = []
        # 2. never-submitted pins
        for when, i, extra in bad_samples:
            problems.append(f"property 2: at {when}s peer {i} reported never-submitted pins {extra[:5]}")
        extra = set(final) - hist.submitted
        if extra:
            problems.append(f"property 2: final pinset has never-submitted pins {sorted(extra)[:5]}")
        # 1. history explains the final pinset
        by_cid = {}
        for o in hist.ops:
            by_cid.setdefault(o["cid"], []).append(o)
        lost = 0
        for cid, ops in by_cid.items():
            ops.sort(key=lambda o: o["start"])
            present = cid in final
            if present not in allowed_states(ops):
                lost += 1
                if lost <= 5:
                    problems.append(f"property 1: {cid} is {'present' if present else 'absent'}, "
                                    f"not allowed by its history {json.dumps(ops)}")
        if lost > 5:
            problems.append(f"property 1: {lost} CIDs in all")

        # 3. replication reaches the minimum
        t3 = time.monotonic()

        def replicated():
            status, body = P.api(peers[rng.randrange(N)], "GET", "/pins", 30)
            if status != 200:
                return False, f"GET /pins: HTTP {status}"
            infos = {g["cid"]: g for g in P.ndjson(body)}
            short = []
            for cid, pin in final.items():
                want = pin.get("replication_factor_min", RMIN)
                want = N if want == -1 else want
                g = infos.get(cid)
                got = sum(1 for x in (g or {}).get("peer_map", {}).values()
                          if x.get("status") == "pinned")
                if got < want:
                    short.append((cid, got, want))
            if short:
                return False, f"{len(short)} pins under their minimum, e.g. {short[:3]}"
            return True, ""
        try:
            dt_rep = P.wait_until("every pin pinned on >= its replication_factor_min peers",
                                  replicated, 180, 1.0)
        except P.TestFailure as e:
            problems.append(f"property 3: {e}")
            dt_rep = time.monotonic() - t3

        counts = {}
        for o in hist.ops:
            counts.setdefault(o["op"], {}).setdefault(o["outcome"], 0)
            counts[o["op"]][o["outcome"]] += 1
        kinds = {}
        for f in faults:
            kinds[f["kind"]] = kinds.get(f["kind"], 0) + 1
        log(f"SUMMARY seed={seed} duration={duration}s ops={len(hist.ops)} {json.dumps(counts)}; "
            f"faults={len(faults)} {json.dumps(kinds)}; final pins={len(final)}; "
            f"convergence {t_conv:.1f}s after restart; replication >= min {dt_rep:.1f}s later; "
            f"history {history_path}")
        if problems:
            raise TestFailure("\n".join(problems))
    finally:
        for p in peers:
            p.signal(signal.SIGCONT)
            p.stop()


def inner(args):
    signal.signal(signal.SIGTERM, P._on_sigterm)
    if not os.path.exists(P.BIN):
        print(f"faults: ferrite binary not found at {P.BIN}", file=sys.stderr)
        return 1
    if shutil.which("curl") is None:
        print("faults: curl is needed", file=sys.stderr)
        return 1
    base = tempfile.mkdtemp(prefix="ferrite-faults-")
    history = args.history or os.path.join(base, "history.json")
    start = time.monotonic()
    try:
        run(base, args.duration, args.seed, history)
        log(f"PASS in {time.monotonic() - start:.1f}s")
        if args.history or os.environ.get("FERRITE_FAULTS_KEEP") == "1":
            log(f"logs kept in {base}")
            base = None
        return 0
    except (P.TestFailure, subprocess.TimeoutExpired) as e:
        P.report_failure(f"faults (seed {args.seed})", e, getattr(run, "peers", []), base)
        base = None
        return 1
    finally:
        P.teardown_network()
        if base:
            shutil.rmtree(base, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=float, default=60, help="seconds of faults (default 60)")
    ap.add_argument("--seed", type=int, default=None, help="random seed (default: random, printed)")
    ap.add_argument("--history", help="write the JSON history here (default: in the temp dir)")
    args = ap.parse_args()
    if args.seed is None:
        args.seed = random.randrange(1 << 30)
    if os.environ.get(INNER_ENV) == "1":
        sys.exit(inner(args))
    args_inner = ["--duration", str(args.duration), "--seed", str(args.seed)]
    if args.history:
        args_inner += ["--history", os.path.abspath(args.history)]
    P.run_in_namespace("faults", __file__, args_inner, INNER_ENV)


if __name__ == "__main__":
    main()
