"""Deterministic inputs for the add-CID interop tests (tests/interop/test_add_cids.py).

``build_corpus(root)`` writes every input under ``root`` and returns ``{name: Case}``. The same name always
gives the same bytes (pseudo-random content is SHAKE-128 of the case name), so a CID that differs between
two runs points at the code, not at the data.

Sizes are chosen around Kubo's defaults: chunks of 262144 bytes (size-262144), balanced layout with at most
174 links per node, and a folder switching to a HAMT when the sum over its entries of
len(name in UTF-8) + len(CID bytes) reaches 262144 (Kubo v0.22: 262143 stays a plain folder, 262144
shards; with CIDv0 links the CID is 34 bytes).
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

CHUNK = 262144
MAX_LINKS = 174
HAMT_THRESHOLD = 262144
CIDV0_LEN = 34


@dataclass
class Case:
    name: str
    path: Path
    is_dir: bool
    hidden: bool = False          # the folder has dot-files (Kubo's harness adds them, like `ipfs add -r -H`)
    single_chunk: bool = False    # a file that fits in one chunk (for the raw-leaves / CIDv1 known answers)
    notes: str = ""
    tags: set = field(default_factory=set)


def pseudo_random(label: str, n: int) -> bytes:
    """``n`` deterministic pseudo-random bytes for ``label``."""
    return hashlib.shake_128(b"ferrite-interop:" + label.encode()).digest(n)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def build_corpus(root: str | os.PathLike) -> dict[str, Case]:
    root = Path(root)
    files = root / "files"
    dirs = root / "dirs"
    cases: dict[str, Case] = {}

    def add_file(name: str, data: bytes, notes: str = "") -> None:
        p = files / name
        _write(p, data)
        cases[name] = Case(name, p, False, single_chunk=len(data) <= CHUNK, notes=notes)

    # -- files ------------------------------------------------------------------------------------
    for size in (0, 1, 11, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK):
        add_file(f"random-{size}", pseudo_random(f"random-{size}", size))
    add_file("hello-world", b"hello world\n", "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o")
    add_file("zeros-1MiB", bytes(1 << 20), "identical chunks (deduplicated blocks)")
    add_file(f"random-{MAX_LINKS}-chunks", pseudo_random("174c", MAX_LINKS * CHUNK), "root with exactly 174 leaves")
    add_file(f"random-{MAX_LINKS}-chunks-plus-1", pseudo_random("174c+1", MAX_LINKS * CHUNK + 1),
             "175 leaves: a second level appears")
    add_file("random-5MiB-plus-7", pseudo_random("5MiB+7", 5 * (1 << 20) + 7))
    add_file("text-lines", b"".join(b"line %d of some text\n" % i for i in range(20000)))

    # -- folders ----------------------------------------------------------------------------------
    def add_dir(name: str, entries: dict[str, bytes | None], *, hidden: bool = False, notes: str = "",
                links: dict[str, str] | None = None) -> Path:
        """entries: relative path -> bytes (a file) or None (an empty folder)."""
        base = dirs / name
        base.mkdir(parents=True, exist_ok=True)
        for rel, data in entries.items():
            p = base / rel
            if data is None:
                p.mkdir(parents=True, exist_ok=True)
            else:
                _write(p, data)
        for rel, target in (links or {}).items():
            (base / rel).parent.mkdir(parents=True, exist_ok=True)
            os.symlink(target, base / rel)
        cases[name] = Case(name, base, True, hidden=hidden, notes=notes)
        return base

    add_dir("empty-dir", {})
    add_dir("one-file", {"hello.txt": b"hello world\n"})
    add_dir("nested", {
        "a/b/c/d/deep.txt": b"deep\n",
        "a/b/empty-file": b"",
        "a/empty-dir": None,
        "a/b/c/empty-dir": None,
        "x/y/z": None,
        "top.bin": pseudo_random("nested-top", 3 * CHUNK + 5),
        "a/mid.bin": pseudo_random("nested-mid", 1000),
        "empty": b"",
    }, notes="nested folders with empty files and folders")
    add_dir("names", {
        "with space.txt": b"1",
        " leading space": b"2",
        "trailing space ": b"3",
        "héllo wörld.txt": b"4",              # NFC
        "he\u0301llo.txt": b"5",              # NFD: a different name
        "日本語のファイル名": b"6",
        "emoji 😀 🎉": b"7",
        "sub dir ünï/ñ file": b"8",
        "B": b"9", "a": b"10", "Z": b"11", "_": b"12", "~": b"13", "0": b"14",
        "punct !#$%&'()+,;=@[]^`{}": b"15",
        "tab\tname": b"16",
        "x" * 255: b"17",
        "ü" * 127: b"18",                     # 254 bytes of UTF-8
    }, notes="unicode, spaces, punctuation, byte-order sorting, 255-byte names")
    add_dir("hidden", {
        ".hidden-file": b"secret\n",
        ".hidden-dir/inside.txt": b"inside\n",
        ".hidden-dir/.deeper": b"deeper\n",
        "visible/.dotfile": b"dot\n",
        "visible/file.txt": b"visible\n",
        "plain.txt": b"plain\n",
    }, hidden=True, notes="dot-files at several depths")
    add_dir("symlinks", {"target.txt": b"target\n", "sub/file": b"f\n"},
            links={"link-to-file": "target.txt", "link-to-dir": "sub", "dangling": "does/not/exist",
                   "sub/up": "../target.txt", "absolute": "/etc/hostname"},
            notes="symlinks are stored as UnixFS symlinks, never followed")

    # HAMT: 10,000 entries with 30-character names (10,000 * (30 + 34) = 640,000 bytes > 262,144).
    add_dir("hamt-10000", {f"file-{i:025d}": str(i).encode() for i in range(10000)},
            notes="sharded (HAMT) folder, 10,000 entries")
    # Exactly at the threshold: 4096 entries * (30 + 34) = 262,144 -> Kubo v0.22 shards.
    add_dir("hamt-boundary-262144", {f"f{i:029d}": str(i).encode() for i in range(4096)},
            notes="estimated size 262144: sharded")
    # One byte below: the last name is 29 characters -> 262,143 -> a plain folder.
    ents = {f"f{i:029d}": str(i).encode() for i in range(4095)}
    ents[f"g{4095:028d}"] = b"4095"
    add_dir("hamt-boundary-262143", ents, notes="estimated size 262143: plain folder")
    # A sharded folder inside a plain one, plus unicode names in the shard.
    add_dir("hamt-nested", {**{f"shard/élément-{i:06d}-{'é' * 20}": pseudo_random(f"hn{i}", i % 300)
                               for i in range(3000)},
                            "readme.txt": b"a sharded folder lives in ./shard\n"},
            notes="HAMT inside a plain folder; 3000 entries with 57-byte names")
    add_dir("mixed", {
        "big.bin": pseudo_random("mixed-big", 2 * CHUNK + 17),
        "small.txt": b"small\n",
        "sub/also-big.bin": pseudo_random("mixed-big2", CHUNK + 1),
        "sub/empty": b"",
        "sub/sub2/hello": b"hello world\n",
    }, notes="multi-chunk files inside folders")
    return cases


def strip_hidden(src: Path, dst: Path) -> Path:
    """Copy folder ``src`` to ``dst`` without any dot-named entry, at any depth (what `add -r` without -H
    sees). Symlinks are copied as symlinks."""
    import shutil

    def ignore(_dir, names):
        return [n for n in names if n.startswith(".")]

    shutil.copytree(src, dst, symlinks=True, ignore=ignore)
    return dst
