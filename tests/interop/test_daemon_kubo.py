"""``ferrite daemon`` against a real Kubo v0.22: connect, fetch and serve UnixFS data over Bitswap, both
directions, in the open network and in a private network (``swarm.key``), with every identity key type.

Each ferrite node is a real ``ferrite daemon`` (``ferrite init --profile test``: loopback, random ports, no
bootstrap) in its own repo; it is driven through its RPC API (``$FERRITE_PATH/api``) and through the
``ferrite`` CLI, which talks to the running daemon. Kubo is the harness of ``kubo.py`` (one node without a
key and one with a key, for the module). Every fetch is checked on the bytes (sha256 of files, whole trees
for folders), never on exit codes alone.

1. Kubo adds an 8 MiB file and folders; ferrite connects to Kubo and fetches them (``cat``, ``get``,
   ``pin add`` + ``pin ls``, ``refs -r``, checked against Kubo's own blocks).
2. Ferrite adds a file and a folder (same CIDs as Kubo's); Kubo connects to ferrite and fetches both.
3. The same in a private network (one swarm.key in both repos), both directions.
4. A ferrite node with another key: no connection either way, no block crosses.
5. Ferrite nodes with Ed25519 (default), secp256k1 and RSA identities connect to Kubo and fetch a block:
   identities written into the repo config, and made by ``ferrite init --algorithm secp256k1|ecdsa`` and
   ``ferrite init --identity-file`` (a fresh Kubo repo's RSA key as raw protobuf bytes; a secp256k1 key in
   base64).

Needs ``target/release/ferrite`` (``$FERRITE_BIN``); skipped with the reason otherwise. Runs inside the
loopback-only network namespace of tests/interop/run.sh (checked before any daemon starts).
"""
from __future__ import annotations

import base64
import concurrent.futures
import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from kubo import (REPO_ROOT, Kubo, KuboError, assert_network_isolated, b58encode, decode_dag_pb,
                  _pb_fields)

FERRITE_BIN = Path(os.environ.get("FERRITE_BIN") or REPO_ROOT / "target" / "release" / "ferrite")
if not FERRITE_BIN.is_absolute():
    FERRITE_BIN = (REPO_ROOT / FERRITE_BIN).resolve()

pytestmark = pytest.mark.skipif(
    not FERRITE_BIN.exists(),
    reason=f"ferrite binary not found at {FERRITE_BIN} (cargo build --release -p ferrite, or set FERRITE_BIN)")

PNET_MISMATCH = "private network key mismatch or peer not in private network"
MiB = 1 << 20


# --------------------------------------------------------------------------------------------------
# A ferrite daemon in a child process
# --------------------------------------------------------------------------------------------------

class FerriteDaemon:
    """One ferrite repo (``ferrite init --profile test``) and its ``ferrite daemon``.

    The daemon's stdout/stderr go to ``<base>/<name>.out`` / ``.err`` (outside the repo, kept after stop);
    :meth:`logs` gives their tails for assertion messages.
    """

    def __init__(self, base: Path, name: str):
        self.name = name
        self.repo = base / name
        self.out_path = base / f"{name}.out"
        self.err_path = base / f"{name}.err"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("FERRITE_")}
        self.env.update(FERRITE_PATH=str(self.repo), RUST_BACKTRACE="1")
        self.proc: subprocess.Popen | None = None
        self.returncode: int | None = None
        self.api_port: int | None = None
        self.peer_id: str | None = None
        self.public_key: str | None = None
        self.addrs: list[str] = []

    # -- repo --------------------------------------------------------------------------------------

    def cli(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        """``ferrite ARGS`` with FERRITE_PATH set (talks to the daemon when it runs)."""
        argv = [str(FERRITE_BIN), *map(str, args)]
        proc = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"[{self.name}] `{' '.join(argv[1:])}` exited {proc.returncode}\n"
                                 f"stdout: {proc.stdout[-2000:]}\nstderr: {proc.stderr[-3000:]}\n{self.logs()}")
        return proc

    def init(self, *args: str) -> "FerriteDaemon":
        self.cli("init", "--profile", "test", *args)
        return self

    def write_swarm_key(self, key: Path) -> None:
        shutil.copyfile(key, self.repo / "swarm.key")

    def set_identity(self, peer_id: str, priv_key_b64: str) -> None:
        """Replace the repo's Identity (before the daemon starts)."""
        cfg_path = self.repo / "config"
        cfg = json.loads(cfg_path.read_text())
        cfg["Identity"] = {"PeerID": peer_id, "PrivKey": priv_key_b64}
        cfg_path.write_text(json.dumps(cfg, indent=2))

    # -- daemon ------------------------------------------------------------------------------------

    def start(self, timeout: float = 20) -> "FerriteDaemon":
        assert_network_isolated()
        api_file = self.repo / "api"
        with open(self.out_path, "ab") as out, open(self.err_path, "ab") as err:
            self.proc = subprocess.Popen([str(FERRITE_BIN), "daemon"], env=self.env, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err)
        deadline = time.monotonic() + timeout
        last = None
        while True:
            if self.proc.poll() is not None:
                self.returncode = self.proc.returncode
                raise AssertionError(f"[{self.name}] ferrite daemon exited {self.returncode} at start\n"
                                     f"{self.logs()}")
            if api_file.exists():
                try:
                    ma = api_file.read_text().strip()
                    self.api_port = int(ma.rsplit("/tcp/", 1)[1].split("/")[0])
                    ident = self.rpc_json("id", timeout=5)
                    self.peer_id, self.public_key = ident["ID"], ident.get("PublicKey")
                    self.addrs = ident["Addresses"] or []
                    if any("/ip4/127.0.0.1/tcp/" in a for a in self.addrs):
                        return self
                    last = f"no TCP swarm address yet: {self.addrs}"
                except (OSError, ValueError, IndexError, AssertionError) as e:
                    last = e
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"[{self.name}] daemon not ready within {timeout}s "
                                     f"(api file: {api_file.exists()}, last error: {last!r})\n{self.logs()}")
            time.sleep(0.05)

    def stop(self, timeout: float = 15) -> int | None:
        """SIGTERM, wait, SIGKILL if it hangs. Returns the exit status (None if it never started)."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
                    with open(self.err_path, "a") as f:
                        f.write(f"\n[test harness: no exit {timeout}s after SIGTERM, killed]\n")
            self.returncode = self.proc.returncode
            self.proc = None
        return self.returncode

    def logs(self, lines: int = 40) -> str:
        out = []
        for p in (self.err_path, self.out_path):
            try:
                text = p.read_text(errors="replace").splitlines()
            except FileNotFoundError:
                continue
            out.append(f"--- {p.name} (tail) ---\n" + "\n".join(text[-lines:]))
        return "\n".join(out)

    # -- RPC API -----------------------------------------------------------------------------------

    def rpc(self, path: str, timeout: float = 60, **params) -> tuple[int, bytes]:
        """POST /api/v0/PATH?params -> (HTTP status, body). ``arg`` may be a list."""
        query = urllib.parse.urlencode([(k, v) for k, vs in params.items()
                                        for v in (vs if isinstance(vs, list) else [vs])])
        url = f"http://127.0.0.1:{self.api_port}/api/v0/{path}?{query}"
        req = urllib.request.Request(url, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def rpc_json(self, path: str, timeout: float = 60, **params) -> dict:
        status, body = self.rpc(path, timeout=timeout, **params)
        assert status == 200, f"[{self.name}] {path} {params}: HTTP {status} {body[:2000]!r}\n{self.logs()}"
        return json.loads(body)

    def p2p_addr(self) -> str:
        """The daemon's loopback TCP address with /p2p/ID (from /api/v0/id)."""
        return next(a for a in self.addrs if "/ip4/127.0.0.1/tcp/" in a and a.endswith(f"/p2p/{self.peer_id}"))

    def connect(self, multiaddr: str) -> dict:
        """POST swarm/connect; the JSON answer (asserts HTTP 200)."""
        return self.rpc_json("swarm/connect", arg=multiaddr)

    def peers(self) -> list[str]:
        return [p["Peer"] for p in self.rpc_json("swarm/peers").get("Peers") or []]


@pytest.fixture(scope="module")
def workdir():
    """A module-private folder (on tmpfs when there is one): ferrite repos, daemon logs, data."""
    shm = Path("/dev/shm")
    parent = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
    d = Path(tempfile.mkdtemp(prefix="interop-daemon-", dir=parent))
    yield d
    if os.environ.get("INTEROP_KEEP"):  # keep repos and daemon/Kubo logs for a post-mortem
        print(f"\ninterop: kept {d}")
    else:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def daemons(workdir, request):
    """``make(name, swarm_key=None, identity=None, init_args=()) -> started FerriteDaemon``; all stopped
    at the end of the test, failed or not."""
    started: list[FerriteDaemon] = []
    base = workdir / request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
    base.mkdir()

    def make(name: str, *, swarm_key: Path | None = None, identity: tuple[str, str] | None = None,
             init_args: tuple[str, ...] = ()) -> FerriteDaemon:
        d = FerriteDaemon(base, name)
        started.append(d)
        d.init(*init_args)
        if swarm_key:
            d.write_swarm_key(swarm_key)
        if identity:
            d.set_identity(*identity)
        return d.start()

    yield make
    for d in started:
        d.stop()


# --------------------------------------------------------------------------------------------------
# Data and Kubo nodes
# --------------------------------------------------------------------------------------------------

def write_key(path: Path) -> Path:
    """A swarm.key in ipfs-swarm-key-gen's form."""
    path.write_text(f"/key/swarm/psk/1.0.0/\n/base16/\n{secrets.token_hex(32)}\n")
    return path


def make_tree(root: Path) -> Path:
    """A folder: small and empty files, multi-chunk files (> 256 KiB), a unicode name, nested folders."""
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "a.txt").write_bytes(b"hello from " + root.name.encode() + b"\n")
    (root / "empty").write_bytes(b"")
    (root / "b.bin").write_bytes(os.urandom(600 * 1024))          # 3 chunks
    (root / "sub" / "c.bin").write_bytes(os.urandom(MiB + 1))     # 5 chunks, last one 1 byte
    (root / "sub" / "ü name.txt").write_bytes(os.urandom(1000))
    (root / "sub" / "deeper" / "d.bin").write_bytes(os.urandom(262144))  # exactly one chunk
    return root


def tree_digest(root: Path) -> dict[str, str]:
    """relative path -> "dir" or sha256 of the file, for every entry under root."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        for d in dirnames:
            out[str(rel / d)] = "dir"
        for f in filenames:
            p = Path(dirpath) / f
            assert not p.is_symlink(), p
            out[str(rel / f)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def file_sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def kubo_refs(kubo: Kubo, cid: str) -> list[str]:
    """What ``ipfs refs -r CID`` prints, from Kubo's own blocks: every link, depth first, in link order."""
    out = []

    def walk(c):
        for link in decode_dag_pb(kubo.block(c))["links"]:
            out.append(link["cid"])
            walk(link["cid"])

    walk(cid)
    return out


@pytest.fixture(scope="module")
def kubo_open(workdir):
    with Kubo(workdir / "kubo-open", sync=False) as k:
        yield k


@pytest.fixture(scope="module")
def pnet_keys(workdir):
    return {"shared": write_key(workdir / "shared.key"), "other": write_key(workdir / "other.key")}


@pytest.fixture(scope="module")
def kubo_pnet(workdir, pnet_keys):
    with Kubo(workdir / "kubo-pnet", swarm_key=pnet_keys["shared"], sync=False) as k:
        yield k


def kubo_sees(kubo: Kubo, peer_id: str, timeout: float = 5) -> bool:
    """Whether ``peer_id`` is (or, within ``timeout``, becomes) one of Kubo's peers.

    The dialer's side of a libp2p connection is up one round trip before the listener's: Noise XX ends
    with the dialer's message, so ``swarm/connect`` may answer before Kubo has registered the connection.
    """
    deadline = time.monotonic() + timeout
    while peer_id not in kubo.peers():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def ferrite_sees(f: "FerriteDaemon", peer_id: str, timeout: float = 5) -> bool:
    """The same for a ferrite daemon's ``swarm/peers``."""
    deadline = time.monotonic() + timeout
    while peer_id not in f.peers():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def kubo_fetch(kubo: Kubo, cid: str, dest: Path, timeout: float = 60) -> None:
    """Kubo.get with a bounded wait (a fetch that never completes fails the test instead of hanging it)."""
    kubo.call("get", timeout=timeout, cid=cid, dest=str(dest))


# --------------------------------------------------------------------------------------------------
# 1. Kubo adds, ferrite fetches
# --------------------------------------------------------------------------------------------------

def test_ferrite_fetches_file_and_folders_from_kubo(kubo_open, daemons, tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(8 * MiB))
    tree = make_tree(tmp_path / "tree")
    tree2 = make_tree(tmp_path / "tree2")
    big_cid, tree_cid, tree2_cid = kubo_open.add(big), kubo_open.add(tree), kubo_open.add(tree2)

    f = daemons("fetcher")
    ans = f.connect(kubo_open.p2p_addr())
    assert ans == {"Strings": [f"connect {kubo_open.peer_id} success"]}, ans
    assert ferrite_sees(f, kubo_open.peer_id)
    assert kubo_sees(kubo_open, f.peer_id)

    # cat: the 8 MiB file, byte for byte (CLI through the daemon).
    r = subprocess.run([str(FERRITE_BIN), "cat", big_cid], env=f.env, capture_output=True, timeout=120)
    assert r.returncode == 0, f"cat exited {r.returncode}: {r.stderr[-2000:]!r}\n{f.logs()}"
    assert len(r.stdout) == 8 * MiB and sha(r.stdout) == file_sha(big)

    # get: the folder, identical tree.
    out = tmp_path / "got-tree"
    f.cli("get", tree_cid, "-o", out)
    assert tree_digest(out) == tree_digest(tree)

    # ls: the folder's links, as in Kubo's root block.
    links = decode_dag_pb(kubo_open.block(tree_cid))["links"]
    obj = f.rpc_json("ls", arg=tree_cid)["Objects"][0]
    assert [(l["Name"], l["Hash"]) for l in obj["Links"]] == [(l["name"], l["cid"]) for l in links], obj
    types = {l["Name"]: l["Type"] for l in obj["Links"]}
    assert types["sub"] == 1 and types["b.bin"] == 2, types  # Kubo's codes: 1 directory, 2 file
    assert {l["Name"]: l["Size"] for l in obj["Links"] if l["Type"] == 2} == {
        p.name: p.stat().st_size for p in tree.iterdir() if p.is_file()}

    # pin add of another folder fetches all of it; pin ls shows it as recursive.
    f.cli("pin", "add", tree2_cid)
    pins = f.cli("pin", "ls", "--type", "recursive").stdout
    assert any(line.split()[:2] == [tree2_cid, "recursive"] for line in pins.splitlines()), pins
    # refs -r: every link of the DAG, as Kubo's blocks give them; offline, so pin add fetched them all.
    expected = kubo_refs(kubo_open, tree2_cid)
    assert len(expected) >= 12
    status, body = f.rpc("refs", arg=tree2_cid, recursive="true", offline="true")
    assert status == 200, body
    got = [json.loads(line)["Ref"] for line in body.decode().splitlines() if line.strip()]
    assert sorted(got) == sorted(expected)
    assert got == expected, "refs -r order differs from Kubo's (depth first, in link order)"
    cli_refs = f.cli("refs", "-r", tree2_cid).stdout.split()
    assert cli_refs == got
    # and the pinned folder reads back whole from local blocks.
    out2 = tmp_path / "got-tree2"
    f.cli("get", tree2_cid, "-o", out2)
    assert tree_digest(out2) == tree_digest(tree2)

    # A clean shutdown.
    assert f.stop() == 0, f.logs()


# --------------------------------------------------------------------------------------------------
# 2. Ferrite adds, Kubo fetches
# --------------------------------------------------------------------------------------------------

def test_kubo_fetches_file_and_folder_from_ferrite(kubo_open, daemons, tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * MiB + 12345))
    tree = make_tree(tmp_path / "tree")

    f = daemons("server")
    big_cid = f.cli("add", "-Q", big).stdout.strip()
    tree_cid = f.cli("add", "-r", "-Q", tree).stdout.strip()
    # Same CIDs as Kubo's defaults (Kubo only hashes here: it must fetch the blocks from ferrite).
    assert big_cid == kubo_open.hash(big)
    assert tree_cid == kubo_open.hash(tree)

    kubo_open.connect(f.p2p_addr())
    assert kubo_sees(kubo_open, f.peer_id)
    assert ferrite_sees(f, kubo_open.peer_id)

    kubo_fetch(kubo_open, big_cid, tmp_path / "kubo-big")
    assert file_sha(tmp_path / "kubo-big") == file_sha(big)
    kubo_fetch(kubo_open, tree_cid, tmp_path / "kubo-tree")
    assert tree_digest(tmp_path / "kubo-tree") == tree_digest(tree)

    # Bitswap the other way on the connection Kubo opened.
    small = tmp_path / "small.bin"
    small.write_bytes(os.urandom(70000))
    status, body = f.rpc("cat", arg=kubo_open.add(small), timeout=30)
    assert status == 200 and sha(body) == file_sha(small), (status, body[:300])


# --------------------------------------------------------------------------------------------------
# 3. Private network, shared key, both directions
# --------------------------------------------------------------------------------------------------

def test_private_network_shared_key_both_directions(kubo_pnet, pnet_keys, daemons, tmp_path):
    f = daemons("pnet-member", swarm_key=pnet_keys["shared"])
    # QUIC is off in a private network: only TCP addresses.
    assert f.addrs and all("/tcp/" in a and "/quic" not in a for a in f.addrs), f.addrs

    # Kubo -> ferrite
    kfile = tmp_path / "from-kubo.bin"
    kfile.write_bytes(os.urandom(2 * MiB + 7))
    ktree = make_tree(tmp_path / "ktree")
    kfile_cid, ktree_cid = kubo_pnet.add(kfile), kubo_pnet.add(ktree)
    ans = f.connect(kubo_pnet.p2p_addr())
    assert ans == {"Strings": [f"connect {kubo_pnet.peer_id} success"]}, ans
    assert kubo_sees(kubo_pnet, f.peer_id)
    status, body = f.rpc("cat", arg=kfile_cid, timeout=60)
    assert status == 200, body[:2000]
    assert sha(body) == file_sha(kfile)
    f.cli("get", ktree_cid, "-o", tmp_path / "f-got")
    assert tree_digest(tmp_path / "f-got") == tree_digest(ktree)

    # ferrite -> Kubo, on a connection Kubo opens this time.
    f.rpc_json("swarm/disconnect", arg=kubo_pnet.p2p_addr())
    deadline = time.monotonic() + 5
    while (f.peers() or f.peer_id in kubo_pnet.peers()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert f.peers() == [] and f.peer_id not in kubo_pnet.peers(), "swarm/disconnect left a connection"
    ffile = tmp_path / "from-ferrite.bin"
    ffile.write_bytes(os.urandom(2 * MiB + 11))
    ftree = make_tree(tmp_path / "ftree")
    ffile_cid = f.cli("add", "-Q", ffile).stdout.strip()
    ftree_cid = f.cli("add", "-r", "-Q", ftree).stdout.strip()
    kubo_pnet.connect(f.p2p_addr())
    assert kubo_sees(kubo_pnet, f.peer_id)
    assert ferrite_sees(f, kubo_pnet.peer_id)
    kubo_fetch(kubo_pnet, ffile_cid, tmp_path / "k-file")
    assert file_sha(tmp_path / "k-file") == file_sha(ffile)
    kubo_fetch(kubo_pnet, ftree_cid, tmp_path / "k-tree")
    assert tree_digest(tmp_path / "k-tree") == tree_digest(ftree)


# --------------------------------------------------------------------------------------------------
# 4. Private network, another key: nothing connects, nothing crosses
# --------------------------------------------------------------------------------------------------

def test_private_network_other_key_is_kept_out(kubo_pnet, pnet_keys, daemons, tmp_path):
    secret = tmp_path / "secret.bin"
    secret.write_bytes(os.urandom(300 * 1024))
    cid = kubo_pnet.add(secret)

    f = daemons("outsider", swarm_key=pnet_keys["other"])
    # Both dials at once: a handshake under the wrong key may only fail at a 15 s handshake timeout (the
    # garbage the other side decrypts can look like the start of a long multistream message), each way.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        dial = pool.submit(f.rpc, "swarm/connect", arg=kubo_pnet.p2p_addr(), timeout=60)
        with pytest.raises(KuboError) as kubo_dial:  # Kubo -> ferrite
            kubo_pnet.call("connect", timeout=60, addr=f.p2p_addr())
        status, body = dial.result()  # ferrite -> Kubo
    assert status == 500, body
    msg = json.loads(body)["Message"]
    assert PNET_MISMATCH in msg, msg

    assert f.peers() == []
    assert f.peer_id not in kubo_pnet.peers()
    # ferrite logs both failed handshakes as a key mismatch; the inbound one may only give up at the 15 s
    # handshake timeout (Kubo does not always close its side at once).
    def both_logged(seconds):
        deadline = time.monotonic() + seconds
        while True:
            err = f.err_path.read_text(errors="replace")
            mismatches = [line for line in err.splitlines() if PNET_MISMATCH in line]
            both = any("(outgoing" in m for m in mismatches) and any("(incoming" in m for m in mismatches)
            if both or time.monotonic() > deadline:
                return both
            time.sleep(0.1)

    kubo_errors = [str(kubo_dial.value).splitlines()[0]]
    if not both_logged(20):
        # Once, on a loaded CI machine, Kubo's dial failed without ferrite seeing an inbound connection at
        # all (nothing to log). Kubo dials once more; ferrite must then log the inbound mismatch.
        with pytest.raises(KuboError) as again:
            kubo_pnet.call("connect", timeout=60, addr=f.p2p_addr())
        kubo_errors.append(str(again.value).splitlines()[0])
        assert both_logged(20), "\n".join(["Kubo's dials: " + " | ".join(kubo_errors), f.logs()])

    # No block crossed.
    status, body = f.rpc("cat", arg=cid, offline="true", timeout=10)
    assert status == 500, body[:200]
    status, body = f.rpc("block/stat", arg=cid, offline="true", timeout=10)
    assert status != 200, body[:200]


# --------------------------------------------------------------------------------------------------
# 5. Identities: Ed25519, secp256k1, RSA (and the init flags that make them)
# --------------------------------------------------------------------------------------------------

# secp256k1, just enough to derive a public key (test keys only: not constant time).
_P = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F
_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_G = (0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798,
      0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8)


def _ec_add(a, b):
    if a is None:
        return b
    if b is None:
        return a
    if a[0] == b[0] and (a[1] + b[1]) % _P == 0:
        return None
    if a == b:
        lam = 3 * a[0] * a[0] * pow(2 * a[1], -1, _P) % _P
    else:
        lam = (b[1] - a[1]) * pow(b[0] - a[0], -1, _P) % _P
    x = (lam * lam - a[0] - b[0]) % _P
    return x, (lam * (a[0] - x) - a[1]) % _P


def secp256k1_identity() -> tuple[str, str]:
    """(peer ID, base64 libp2p private key protobuf) of a fresh secp256k1 key."""
    d = secrets.randbelow(_N - 1) + 1
    point, acc, k = _G, None, d
    while k:
        if k & 1:
            acc = _ec_add(acc, point)
        point, k = _ec_add(point, point), k >> 1
    pub = bytes([2 + (acc[1] & 1)]) + acc[0].to_bytes(32, "big")
    priv_pb = b"\x08\x02\x12\x20" + d.to_bytes(32, "big")
    pub_pb = b"\x08\x02\x12\x21" + pub                       # 37 bytes: identity multihash
    peer_id = b58encode(b"\x00" + bytes([len(pub_pb)]) + pub_pb)
    assert peer_id.startswith("16Uiu2"), peer_id
    return peer_id, base64.b64encode(priv_pb).decode()


@pytest.fixture(scope="module")
def rsa_identity(workdir) -> dict:
    """A fresh Kubo repo's identity (2048-bit RSA, made by Go): {"PeerID": "Qm…", "PrivKey": base64}."""
    with Kubo(workdir / "kubo-rsa-identity", sync=False) as k:
        return k.identity()


KEY_TYPES = {0: "RSA", 1: "Ed25519", 2: "Secp256k1", 3: "ECDSA"}


def public_key_type(public_key_b64: str) -> str:
    """The KeyType of a libp2p PublicKey protobuf (base64, as /api/v0/id gives it)."""
    fields = {f: v for f, _, v in _pb_fields(base64.b64decode(public_key_b64))}
    return KEY_TYPES[fields.get(1, 0)]


IDENTITY_CASES = {
    # name: (how the repo gets its key, expected key type, expected peer ID prefix)
    "ed25519-default": ("default", "Ed25519", "12D3KooW"),
    "secp256k1-config": ("config-secp256k1", "Secp256k1", "16Uiu2"),
    "rsa-config": ("config-rsa", "RSA", "Qm"),
    "secp256k1-init-algorithm": ("--algorithm secp256k1", "Secp256k1", "16Uiu2"),
    "ecdsa-init-algorithm": ("--algorithm ecdsa", "ECDSA", "Qm"),
    "secp256k1-init-identity-file-base64": ("--identity-file base64", "Secp256k1", "16Uiu2"),
    "rsa-init-identity-file": ("--identity-file", "RSA", "Qm"),  # raw bytes of Kubo's key
}


@pytest.mark.parametrize("case", list(IDENTITY_CASES))
def test_identity_key_types_connect_and_fetch(case, kubo_open, rsa_identity, daemons, tmp_path):
    how, key_type, prefix = IDENTITY_CASES[case]
    identity, init_args, want_id = None, (), None
    if how == "config-secp256k1":
        identity = secp256k1_identity()
        want_id = identity[0]
    elif how == "config-rsa":
        identity = (rsa_identity["PeerID"], rsa_identity["PrivKey"])
        want_id = identity[0]
    elif how.startswith("--algorithm"):
        init_args = tuple(how.split())
    elif how == "--identity-file base64":
        want_id, priv_b64 = secp256k1_identity()
        keyfile = tmp_path / "secp256k1.key"
        keyfile.write_text(priv_b64 + "\n")
        init_args = ("--identity-file", str(keyfile))
    elif how == "--identity-file":
        keyfile = tmp_path / "rsa.key"
        keyfile.write_bytes(base64.b64decode(rsa_identity["PrivKey"]))
        init_args = ("--identity-file", str(keyfile))
        want_id = rsa_identity["PeerID"]

    data = f"{case}: ".encode() + os.urandom(4096)
    src = tmp_path / "block.bin"
    src.write_bytes(data)
    cid = kubo_open.add(src)

    f = daemons(case, identity=identity, init_args=init_args)
    assert f.peer_id.startswith(prefix), f.peer_id
    if want_id:
        assert f.peer_id == want_id
    assert public_key_type(f.public_key) == key_type
    assert f.connect(kubo_open.p2p_addr()) == {"Strings": [f"connect {kubo_open.peer_id} success"]}
    # Kubo authenticated the connection with this identity (Noise checks the key against the peer ID).
    assert kubo_sees(kubo_open, f.peer_id)
    status, body = f.rpc("cat", arg=cid, timeout=30)
    assert status == 200 and body == data, (status, body[:300], f.logs())
