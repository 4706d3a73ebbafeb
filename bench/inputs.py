"""Inputs and small helpers shared by the benchmarks (bench/add.py, bench/net.py)."""
from __future__ import annotations

import hashlib
import os
import random
from pathlib import Path

MiB = 1 << 20


def write_random_file(path: Path, size: int) -> None:
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 4 * MiB)
            f.write(os.urandom(n))
            left -= n


def write_small_files(folder: Path, count: int, seed: int = 1) -> int:
    rng = random.Random(seed)
    folder.mkdir(parents=True)
    total = 0
    for i in range(count):
        n = rng.randint(1024, 4096)
        (folder / f"file-{i:06d}.bin").write_bytes(os.urandom(n))
        total += n
    return total


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(4 * MiB):
            h.update(chunk)
    return h.hexdigest()


def fs_type(path: Path) -> str:
    best, kind = "", "?"
    real = str(path.resolve())
    with open("/proc/mounts") as f:
        for line in f:
            _, mnt, typ = line.split()[:3]
            if (real == mnt or real.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best):
                best, kind = mnt, typ
    return kind
