#!/usr/bin/env python3
"""Disk use against live data across add / unpin / gc cycles (issue 14, item 7).

    python3 bench/gc_reclaim.py [--cycles 12] [--mib 64] [--ferrite BIN ...]

Each cycle adds a file of --mib random MiB (pinned), unpins the file added two
cycles before every third cycle, and runs `repo gc`. After each cycle it reads
the blocks folder's size (packs + index) and `repo stat`'s LiveBytes (the
pack bytes of stored blocks; without that field, the sum of the pinned files'
sizes is used). Prints one line per binary: disk / live after the last cycle,
the largest ratio seen, and the median `repo gc` time. Several --ferrite
binaries run interleaved, cycle by cycle, each on its own fresh repo.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(binary, repo, *args):
    env = dict(os.environ, FERRITE_PATH=str(repo))
    return subprocess.run([binary, *args], env=env, check=True, capture_output=True, text=True).stdout


def folder_bytes(path):
    return sum(f.stat().st_size for f in Path(path).iterdir() if f.is_file())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cycles", type=int, default=12)
    ap.add_argument("--mib", type=int, default=64)
    ap.add_argument("--ferrite", action="append",
                    help="binary to measure (repeatable; default target/release/ferrite)")
    args = ap.parse_args()
    bins = args.ferrite or [str(ROOT / "target/release/ferrite")]
    work = Path(tempfile.mkdtemp(prefix="ferrite-gc-reclaim-"))
    state = {}
    for b in bins:
        repo = work / f"repo{len(state)}"
        run(b, repo, "init", "--profile", "test")
        state[b] = {"repo": repo, "cids": [], "sizes": {}, "ratios": [], "gc": []}
    for i in range(args.cycles):
        data = work / "f.bin"
        data.write_bytes(os.urandom(args.mib << 20))
        for b, s in state.items():
            cid = run(b, s["repo"], "add", "-Q", str(data)).strip()
            s["cids"].append(cid)
            s["sizes"][cid] = args.mib << 20
            if i % 3 == 1:
                gone = s["cids"][i - 1]
                run(b, s["repo"], "pin", "rm", gone)
                s["sizes"].pop(gone)
            t = time.monotonic()
            run(b, s["repo"], "repo", "gc", "-q")
            s["gc"].append(time.monotonic() - t)
            stat = run(b, s["repo"], "repo", "stat")
            live = next((int(l.split(":")[1]) for l in stat.splitlines() if l.startswith("LiveBytes:")),
                        sum(s["sizes"].values()))
            s["ratios"].append(folder_bytes(s["repo"] / "blocks") / live)
    data.unlink()
    print(f"# {args.cycles} cycles of {args.mib} MiB add / unpin one in three / gc "
          f"(load {os.getloadavg()[0]:.2f})")
    for b, s in state.items():
        print(f"{b}: disk/live after the last cycle {s['ratios'][-1]:.2f}x, "
              f"largest {max(s['ratios']):.2f}x; repo gc median {statistics.median(s['gc']):.2f} s "
              f"(min {min(s['gc']):.2f}, max {max(s['gc']):.2f})")
    subprocess.run(["rm", "-rf", str(work)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
