#!/usr/bin/env python3
"""Daemon start-up: time from launching `ferrite daemon --init` (default profile, fresh repo) and then
`ferrite daemon` on that repo to its `Daemon is ready` line, 10 runs each.

The default profile listens on 4001/5001/8080, so run it in a namespace of its own:
    unshare -n sh -c 'ip link set lo up && python3 bench/startup.py target/release/ferrite'
"""
import os, subprocess, time, tempfile, statistics, sys, shutil
BIN = sys.argv[1] if len(sys.argv) > 1 else "target/release/ferrite"
times_init, times_restart = [], []
for i in range(10):
    d = tempfile.mkdtemp()
    env = dict(os.environ, FERRITE_PATH=os.path.join(d, "repo"))
    for args, acc in ((["daemon", "--init"], times_init), (["daemon"], times_restart)):
        t0 = time.monotonic()
        p = subprocess.Popen([BIN] + args, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        for line in p.stdout:
            if line.strip() == "Daemon is ready":
                acc.append(time.monotonic() - t0); break
        p.send_signal(2); p.wait(20)
    shutil.rmtree(d)
for name, v in (("fresh repo: daemon --init", times_init), ("restart: daemon", times_restart)):
    v.sort()
    print(f"{name}: median {statistics.median(v)*1000:.0f} ms, min {v[0]*1000:.0f}, max {v[-1]*1000:.0f} (n={len(v)})")
print("load:", open("/proc/loadavg").read().split()[:3])
