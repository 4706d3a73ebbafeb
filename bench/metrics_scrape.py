#!/usr/bin/env python3
"""What a Prometheus scrape costs with many pins (issue 17: "≤ 1 ms with 100,000 pins").

    python3 bench/metrics_scrape.py [--pins 100000] [--scrapes 200] [--ferrite BIN]

Makes a `--profile test` repo that is also a one-peer cluster, imports a CAR of --pins tiny raw
blocks that are all roots (so `dag import` pins each: --pins local pins), starts the daemon on
loopback and times --scrapes GETs of /debug/metrics/prometheus over one kept-alive connection
(the HTTP round trip included). Prints median, p90 and max in ms, and the same for
`POST /api/v0/version`: the floor of a round trip to the same server.
"""
import argparse
import hashlib
import http.client
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def car_of_roots(n):
    """A CARv1 whose n raw blocks (b"pin-<i>") are all roots."""
    cids, blocks = [], []
    for i in range(n):
        data = f"pin-{i}".encode()
        cid = bytes([0x01, 0x55, 0x12, 0x20]) + hashlib.sha256(data).digest()
        cids.append(cid)
        blocks.append(varint(len(cid) + len(data)) + cid + data)
    # dag-cbor {"roots": [tag 42 (0x00 ‖ cid) …], "version": 1}
    header = bytearray(b"\xa2\x65roots\x9a" + n.to_bytes(4, "big"))
    for cid in cids:
        header += b"\xd8\x2a\x58" + bytes([len(cid) + 1]) + b"\x00" + cid
    header += b"\x67version\x01"
    return varint(len(header)) + bytes(header) + b"".join(blocks)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pins", type=int, default=100_000)
    ap.add_argument("--scrapes", type=int, default=200)
    ap.add_argument("--ferrite", default=str(ROOT / "target" / "release" / "ferrite"))
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ferrite-scrape-") as tmp:
        env = dict(os.environ, FERRITE_PATH=f"{tmp}/repo")
        run = lambda *args: subprocess.run([a.ferrite, *args], env=env, check=True, capture_output=True)
        run("init", "--profile", "test")
        run("cluster", "init", "--new-secret", "--listen", "/ip4/127.0.0.1/tcp/0",
            "--rest-api", "/ip4/127.0.0.1/tcp/0", "--pinsvc-api", "/ip4/127.0.0.1/tcp/0")
        car = Path(tmp) / "roots.car"
        car.write_bytes(car_of_roots(a.pins))
        t = time.monotonic()
        run("dag", "import", str(car))
        print(f"imported and pinned {a.pins} roots in {time.monotonic() - t:.1f} s")
        d = subprocess.Popen([a.ferrite, "daemon"], env=env, stdout=subprocess.PIPE, text=True)
        try:
            for line in d.stdout:
                if line.strip() == "Daemon is ready":
                    break
            ma = (Path(tmp) / "repo" / "api").read_text().split("/")
            conn = http.client.HTTPConnection(ma[2], int(ma[4]), timeout=30)

            def timed(method, path):
                out = []
                for _ in range(a.scrapes):
                    t = time.perf_counter()
                    conn.request(method, path)
                    body = conn.getresponse().read()
                    out.append((time.perf_counter() - t) * 1e3)
                return out, body

            scrape, body = timed("GET", "/debug/metrics/prometheus")
            pins = [l for l in body.decode().splitlines() if l.startswith("ferrite_pins ")]
            floor, _ = timed("POST", "/api/v0/version")

            def fmt(xs):
                xs = sorted(xs)
                return (f"median {statistics.median(xs):.2f} ms, p90 {xs[int(len(xs) * 0.9)]:.2f} ms, "
                        f"max {xs[-1]:.2f} ms")

            print(f"scrape ({pins[0] if pins else 'no ferrite_pins'}; {len(body)} bytes): {fmt(scrape)}")
            print(f"round-trip floor (POST /api/v0/version): {fmt(floor)}")
        finally:
            d.terminate()
            d.wait(timeout=20)


if __name__ == "__main__":
    main()
