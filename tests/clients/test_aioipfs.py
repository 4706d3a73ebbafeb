"""aioipfs (the asyncio Python client for Kubo's RPC API), unchanged, against ``ferrite daemon``.

Covers add (bytes, a file, a folder), cat, ls and pin add/ls/rm. Expected CIDs come from a real Kubo
(vectors.json); run.sh has seeded the repo with the same fixtures through the CLI.
"""
from __future__ import annotations

import os

import aioipfs
import pytest

from conftest import HERE, V, big_bytes

HELLO = V["hello"]
PLANETS = V["planets"]
MARS = PLANETS["files"]["mars.txt"]
VENUS = PLANETS["files"]["venus.txt"]


async def _collect(agen) -> list:
    return [x async for x in agen]


def test_version(ipfs):
    v = ipfs(lambda c: c.core.version())
    assert v["Version"] == os.environ["FERRITE_VERSION"]


def test_id(ipfs):
    info = ipfs(lambda c: c.core.id())
    assert info["ID"] == os.environ["FERRITE_PEER_ID"]
    assert isinstance(info["Addresses"], list)


def test_add_bytes_gives_kubo_cid(ipfs):
    r = ipfs(lambda c: c.core.add_bytes(HELLO["text"].encode()))
    assert r["Hash"] == HELLO["cid"]
    assert int(r["Size"]) == len(HELLO["block_hex"]) // 2


def test_add_bytes_cid_version_1(ipfs):
    r = ipfs(lambda c: c.core.add_bytes(HELLO["text"].encode(), cid_version=1))
    assert r["Hash"] == HELLO["raw_cid"]


def test_add_file_from_disk(ipfs, tmp_path):
    f = tmp_path / "hello.txt"
    f.write_text(HELLO["text"])
    out = ipfs(lambda c: _collect(c.core.add(str(f))))
    assert [(e["Name"], e["Hash"]) for e in out] == [("hello.txt", HELLO["cid"])]


def test_add_folder_recursive(ipfs):
    out = ipfs(lambda c: _collect(c.core.add(str(HERE / PLANETS["dir"]), recursive=True)))
    got = {e["Name"]: e["Hash"] for e in out}
    assert got == {
        "planets/mars.txt": MARS["cid"],
        "planets/venus.txt": VENUS["cid"],
        "planets": PLANETS["cid"],
    }
    assert out[-1]["Name"] == "planets"


def test_add_multi_block_file_and_cat_back(ipfs, tmp_path):
    f = tmp_path / "big.bin"
    f.write_bytes(big_bytes())
    out = ipfs(lambda c: _collect(c.core.add(str(f))))
    assert out[-1]["Hash"] == V["big"]["cid"]
    assert ipfs(lambda c: c.core.cat(V["big"]["cid"])) == big_bytes()


def test_add_random_then_cat_returns_same_bytes(ipfs):
    data = os.urandom(700_000)  # three chunks of fresh content
    r = ipfs(lambda c: c.core.add_bytes(data, pin=False))
    assert ipfs(lambda c: c.core.cat(r["Hash"])) == data


def test_cat_paths(ipfs):
    assert ipfs(lambda c: c.core.cat(HELLO["cid"])) == HELLO["text"].encode()
    assert ipfs(lambda c: c.core.cat(f"/ipfs/{PLANETS['cid']}/mars.txt")) == MARS["text"].encode()
    assert ipfs(lambda c: c.core.cat(f"{PLANETS['cid']}/venus.txt")) == VENUS["text"].encode()


def test_cat_in_hamt_folder(ipfs):
    sample = V["hamt"]["sample"]
    assert ipfs(lambda c: c.core.cat(f"{V['hamt']['cid']}/{sample['name']}")) == sample["text"].encode()


def test_cat_offset_length(ipfs):
    got = ipfs(lambda c: c.core.cat(V["big"]["cid"], offset=500_000, length=70_000))
    assert got == big_bytes()[500_000:570_000]


def test_cat_missing_path_raises_daemon_message(ipfs):
    with pytest.raises(aioipfs.APIError) as ei:
        ipfs(lambda c: c.core.cat(f"{PLANETS['cid']}/pluto.txt"))
    assert ei.value.message == f'no link named "pluto.txt" under {PLANETS["cid"]}'


def test_get_folder_extracts_files(ipfs, tmp_path):
    ipfs(lambda c: c.core.get(PLANETS["cid"], dstdir=str(tmp_path)))
    root = tmp_path / PLANETS["cid"]
    assert sorted(p.name for p in root.iterdir()) == ["mars.txt", "venus.txt"]
    assert (root / "mars.txt").read_text() == MARS["text"]
    assert (root / "venus.txt").read_text() == VENUS["text"]


def test_ls_folder(ipfs):
    r = ipfs(lambda c: c.core.ls(PLANETS["cid"]))
    [obj] = r["Objects"]
    assert obj["Hash"] == PLANETS["cid"]
    assert [(l["Name"], l["Hash"], l["Size"], l["Type"]) for l in obj["Links"]] == [
        ("mars.txt", MARS["cid"], len(MARS["text"]), 2),
        ("venus.txt", VENUS["cid"], len(VENUS["text"]), 2),
    ]


def test_pin_add_ls_rm(ipfs):
    data = os.urandom(4096)
    cid = ipfs(lambda c: c.core.add_bytes(data, pin=False))["Hash"]

    # Not pinned yet: Kubo answers pin ls with an error.
    with pytest.raises(aioipfs.APIError) as ei:
        ipfs(lambda c: c.pin.ls(path=cid))
    assert "is not pinned" in ei.value.message

    added = ipfs(lambda c: _collect(c.pin.add(cid)))
    assert added[-1] == {"Pins": [cid]}, added  # earlier items, if any, are {"Progress": n}

    ls = ipfs(lambda c: c.pin.ls(path=cid))
    assert list(ls["Keys"]) == [cid] and ls["Keys"][cid]["Type"] == "recursive", ls

    recursive = ipfs(lambda c: c.pin.ls(pintype="recursive"))
    assert cid in recursive["Keys"] and PLANETS["cid"] in recursive["Keys"]

    assert ipfs(lambda c: c.pin.rm(cid)) == {"Pins": [cid]}
    with pytest.raises(aioipfs.APIError):
        ipfs(lambda c: c.pin.ls(path=cid))


def test_pin_rm_not_pinned_raises(ipfs):
    with pytest.raises(aioipfs.NotPinnedError):
        # Only pinned indirectly, through the planets folder (the JS pin test pins and unpins it first).
        ipfs(lambda c: c.pin.rm(MARS["cid"]))
