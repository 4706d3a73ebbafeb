#!/usr/bin/env python3
"""The newcomer's path: runs README.md's commands as written, so they cannot drift.

1. "Two commands on a fresh machine": the main command (`cargo run --release -- daemon --init`) with a
   fresh HOME, no FERRITE_PATH, the default profile and default ports; its start-up lines in order and
   without warnings; then the next steps block (add through the daemon, curl the API on 5001 and the
   gateway on 8080). The test command must be the one .ci/run runs.
2. "Quickstart": every line in order, with a fresh HOME, in the checkout (it writes hello.txt, out/ and
   dag.car there and removes them after; it refuses to start if they exist).
3. "A private network in two commands per node": the first node's block in a namespace at 10.0.0.1, the
   other node's block in one at 10.0.0.2 (a veth pair), then `add` on one and `cat` on the other.
4. Every profile of `ferrite config profile ls` (but `public`, which only adds the public bootstrap
   list): `ferrite init --profile P` then `ferrite daemon` starts, with no warning, and stops.

README conventions this relies on: shell blocks are ```sh fences; `  # => TEXT` after a command means
its output must contain TEXT; `<root CID>` is the root CID of the latest `add` (its last `added` line),
`<first node's PeerID>` the PeerID the first node's daemon printed; any other `<…>` in a command fails
the test (add it here first). A line running `… daemon …` starts a daemon in the background and waits
for `Daemon is ready`.

Network: the script re-executes itself under `unshare -n -m --propagation private`: it sees only `lo`
(which it brings up) and namespaces it makes itself, so nothing it starts can reach another machine.

Usage: python3 tests/readme/check.py  (root, or wherever `unshare -n -m` works; builds with cargo)
Last line: `readme: N passed, 0 failed`, exit 0; otherwise the failure and the daemons' output, exit 1.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INNER_ENV = "FERRITE_README_INNER"
PLACEHOLDER = re.compile(r"<[A-Za-z][^<>]*>")
# A comment after a command: two or more spaces, then '#'.
COMMENT = re.compile(r"\s{2,}#\s?")
READY_TIMEOUT = 600  # `cargo run` may compile first


class Failure(Exception):
    pass


def log(msg):
    print(f"[readme {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ------------------------------------------------------------------------------------------ README

def section_blocks(readme, title):
    """The ```sh blocks under the heading `title` (up to the next heading), each a list of lines."""
    lines = readme.splitlines()
    start = None
    for i, l in enumerate(lines):
        m = re.match(r"^#+ (.*)$", l)
        if m and m.group(1).strip() == title:
            start = i + 1
            break
    if start is None:
        raise Failure(f"README has no section {title!r}")
    blocks, cur, in_block = [], None, False
    for l in lines[start:]:
        if re.match(r"^#+ ", l) and not in_block:
            break  # the next section or subsection
        if l.startswith("```"):
            if in_block:
                blocks.append(cur)
                in_block = False
            elif l.strip() == "```sh":
                cur, in_block = [], True
            continue
        if in_block:
            cur.append(l)
    if not blocks:
        raise Failure(f"README section {title!r} has no sh block")
    return blocks


def parse_line(line):
    """(command, expected output or None); (None, None) for a comment or blank line."""
    if not line.strip() or line.lstrip().startswith("#"):
        return None, None
    parts = COMMENT.split(line, maxsplit=1)
    cmd = parts[0].strip()
    expect = None
    if len(parts) == 2 and parts[1].startswith("=> "):
        expect = parts[1][3:].strip()
    return cmd, expect


def substitute(cmd, values):
    def one(m):
        if m.group(0) not in values:
            raise Failure(f"README command {cmd!r}: no value for placeholder {m.group(0)}")
        return values[m.group(0)]

    return PLACEHOLDER.sub(one, cmd)


# ------------------------------------------------------------------------------------------ shell

class Shell:
    """Runs README lines one by one like a terminal would: the environment (export) carries over."""

    def __init__(self, name, env, cwd, logdir, netns=None):
        self.name = name
        self.logdir = logdir
        self.env = env
        self.cwd = cwd
        self.netns = netns
        self.daemons = []
        os.makedirs(cwd, exist_ok=True)

    def argv(self, script):
        base = ["bash", "-c", script]
        return (["ip", "netns", "exec", self.netns] + base) if self.netns else base

    def run(self, cmd, expect=None, timeout=900, retry_for=0):
        envfile = os.path.join(self.logdir, f"{self.name}.env".replace(" ", "-"))
        script = f"set -eo pipefail\n{cmd}\nenv -0 > {envfile}\n"
        deadline = time.time() + retry_for
        while True:
            r = subprocess.run(self.argv(script), cwd=self.cwd, env=self.env, capture_output=True,
                               text=True, timeout=timeout)
            ok = r.returncode == 0 and (expect is None or expect in r.stdout)
            if ok or time.time() >= deadline:
                break
            time.sleep(0.5)
        if r.returncode != 0:
            raise Failure(f"[{self.name}] `{cmd}` exited {r.returncode}:\n{r.stdout[-3000:]}{r.stderr[-3000:]}")
        if expect is not None and expect not in r.stdout:
            raise Failure(f"[{self.name}] `{cmd}`: output lacks {expect!r}:\n{r.stdout[-3000:]}")
        with open(envfile, "rb") as f:
            entries = f.read().split(b"\0")
        os.unlink(envfile)
        self.env = dict(e.decode().split("=", 1) for e in entries if b"=" in e)
        log(f"[{self.name}] ok: {cmd}")
        return r.stdout, r.stderr

    def start_daemon(self, cmd, expect=None):
        stem = os.path.join(self.logdir, f"{self.name}-daemon{len(self.daemons)}".replace(" ", "-"))
        out, err = stem + ".out", stem + ".err"
        with open(out, "w") as o, open(err, "w") as e:
            proc = subprocess.Popen(self.argv(f"exec {cmd}"), cwd=self.cwd, env=self.env,
                                    stdout=o, stderr=e, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
        d = Daemon(f"{self.name} `{cmd}`", proc, out, err)
        self.daemons.append(d)
        d.wait_ready()
        if expect is not None and expect not in d.stdout():
            raise Failure(f"{d.name}: output lacks {expect!r}:\n{d.stdout()}")
        log(f"[{self.name}] ready: {cmd}")
        return d

    def run_block(self, block, values):
        for line in block:
            cmd, expect = parse_line(line)
            if cmd is None:
                continue
            cmd = substitute(cmd, values)
            if re.search(r"(^|\s)daemon(\s|$)", cmd):
                self.start_daemon(cmd, expect)
                continue
            stdout, _ = self.run(cmd, expect, retry_for=15 if "swarm peers" in cmd else 0)
            added = re.findall(r"^added (\S+) ", stdout, re.M)
            if added:
                values["<root CID>"] = added[-1]

    def stop(self):
        for d in self.daemons:
            d.stop()
        self.daemons = []


class Daemon:
    def __init__(self, name, proc, out, err):
        self.name, self.proc, self.out, self.err = name, proc, out, err

    def stdout(self):
        with open(self.out) as f:
            return f.read()

    def stderr(self):
        with open(self.err) as f:
            return f.read()

    def wait_ready(self):
        deadline = time.time() + READY_TIMEOUT
        while time.time() < deadline:
            if "Daemon is ready" in self.stdout():
                return
            if self.proc.poll() is not None:
                raise Failure(f"{self.name} exited {self.proc.returncode}:\n{self.stdout()}{self.stderr()[-4000:]}")
            time.sleep(0.2)
        raise Failure(f"{self.name}: not ready in {READY_TIMEOUT} s:\n{self.stdout()}{self.stderr()[-4000:]}")

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                raise Failure(f"{self.name} did not stop within 20 s of SIGINT")
        if self.proc.returncode != 0:
            raise Failure(f"{self.name} exited {self.proc.returncode} on SIGINT:\n{self.stderr()[-4000:]}")


def fresh_env(home, path_extra=None):
    """The environment of a new user: a fresh HOME, no FERRITE_* variables; cargo and rustup keep
    their own homes (they are where this machine installed them, not the new user's)."""
    real_home = os.path.expanduser("~")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRITE_") and k != INNER_ENV}
    env.setdefault("CARGO_HOME", os.path.join(real_home, ".cargo"))
    env.setdefault("RUSTUP_HOME", os.path.join(real_home, ".rustup"))
    env["HOME"] = home
    if path_extra:
        env["PATH"] = path_extra + os.pathsep + env["PATH"]
    os.makedirs(home, exist_ok=True)
    return env


# ------------------------------------------------------------------------------------------ parts

def check_fresh_machine(readme, tmp):
    blocks = section_blocks(readme, "Two commands on a fresh machine")
    if len(blocks) != 3:
        raise Failure(f"'Two commands on a fresh machine' should have 3 sh blocks, has {len(blocks)}")
    main, next_steps, tests = blocks
    main_cmds = [c for c, _ in map(parse_line, main) if c]
    test_cmds = [c for c, _ in map(parse_line, tests) if c]
    if len(main_cmds) != 1 or len(test_cmds) != 1:
        raise Failure(f"one main command and one test command expected: {main_cmds} / {test_cmds}")
    with open(os.path.join(ROOT, ".ci", "run")) as f:
        ci = f.read()
    if not re.search(rf"^{re.escape(test_cmds[0])}\s*$", ci, re.M):
        raise Failure(f".ci/run does not run the README's test command {test_cmds[0]!r}")

    home = os.path.join(tmp, "newcomer")
    sh = Shell("fresh machine", fresh_env(home), ROOT, tmp)
    try:
        d = sh.start_daemon(main_cmds[0])
        out, err = d.stdout().splitlines(), d.stderr()
        repo = os.path.join(home, ".ferrite")
        # The start-up lines a user reads, in this order (Kubo's), and nothing alarming on stderr.
        order = ["Initializing daemon...", "ferrite version: ", f"Repo path: {repo}",
                 f"initializing ferrite node at {repo}", "PeerID: 12D3KooW",
                 "Swarm listening on /ip4/127.0.0.1/tcp/4001",
                 "RPC API server listening on /ip4/127.0.0.1/tcp/5001",
                 "Gateway server listening on /ip4/127.0.0.1/tcp/8080",
                 "RPC API: http://127.0.0.1:5001/api/v0", "Gateway: http://127.0.0.1:8080/ipfs/",
                 "Daemon is ready"]
        if not out or out[0] != order[0]:
            raise Failure(f"the daemon's first line is not {order[0]!r}:\n{d.stdout()}")
        pos = 0
        for want in order:
            found = next((i for i in range(pos, len(out)) if out[i].startswith(want)), None)
            if found is None:
                raise Failure(f"daemon output lacks {want!r} (in this order):\n{d.stdout()}")
            pos = found + 1
        if not any(re.match(r"Swarm listening on /ip4/127\.0\.0\.1/udp/4001/quic-v1$", l) for l in out):
            raise Failure(f"the default config does not listen on QUIC:\n{d.stdout()}")
        bad = [l for l in err.splitlines() if re.search(r"warn|error", l, re.I)]
        if bad:
            raise Failure("a fresh default repo starts with warnings or errors:\n" + "\n".join(bad))
        with open(os.path.join(repo, "gateway")) as f:
            if f.read().strip() != "http://127.0.0.1:8080":
                raise Failure("$FERRITE_PATH/gateway does not hold the gateway URL")
        values = {}
        sh.run_block(next_steps, values)
        if "<root CID>" not in values:
            raise Failure("the next steps block added nothing")
        sh.stop()
        if os.path.exists(os.path.join(repo, "api")):
            raise Failure("the api file outlived the daemon")
    finally:
        for dd in sh.daemons:
            dd.proc.kill()
    return 1


def check_quickstart(readme, tmp):
    (block,) = section_blocks(readme, "Quickstart")
    made = ["hello.txt", "out", "dag.car"]
    there = [m for m in made if os.path.exists(os.path.join(ROOT, m))]
    if there:
        raise Failure(f"the Quickstart writes {there} in the checkout, which exist already: move them")
    sh = Shell("quickstart", fresh_env(os.path.join(tmp, "quickstart")), ROOT, tmp)
    try:
        sh.run_block(block, {})
        if not os.path.isfile(os.path.join(ROOT, "out", "Cargo.toml")):
            raise Failure("`ferrite get <root CID> -o out/` did not write out/Cargo.toml")
    finally:
        sh.stop()
        for m in made:
            p = os.path.join(ROOT, m)
            if os.path.isdir(p):
                shutil.rmtree(p)
            elif os.path.exists(p):
                os.unlink(p)
    return 1


def sh_ok(*args):
    r = subprocess.run(list(args), capture_output=True, text=True)
    if r.returncode != 0:
        raise Failure(f"{' '.join(args)}: {r.stderr}")


def check_private_network(readme, tmp):
    first, other = section_blocks(readme, "A private network in two commands per node")
    # Two machines: namespaces joined by a veth pair, at the README's addresses.
    os.makedirs("/run/netns", exist_ok=True)
    sh_ok("mount", "-t", "tmpfs", "tmpfs-readme", "/run/netns")
    sh_ok("ip", "netns", "add", "fr-a")
    sh_ok("ip", "netns", "add", "fr-b")
    sh_ok("ip", "link", "add", "fra", "netns", "fr-a", "type", "veth", "peer", "name", "frb", "netns", "fr-b")
    for ns, dev, ip in (("fr-a", "fra", "10.0.0.1"), ("fr-b", "frb", "10.0.0.2")):
        sh_ok("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", dev)
        sh_ok("ip", "-n", ns, "link", "set", dev, "up")
        sh_ok("ip", "-n", ns, "link", "set", "lo", "up")
    bin_dir = os.path.join(ROOT, "target", "release")
    a = Shell("first node", fresh_env(os.path.join(tmp, "node-a"), bin_dir), os.path.join(tmp, "node-a"), tmp, "fr-a")
    b = Shell("other node", fresh_env(os.path.join(tmp, "node-b"), bin_dir), os.path.join(tmp, "node-b"), tmp, "fr-b")
    try:
        values = {}
        a.run_block(first, values)
        m = re.search(r"^PeerID: (\S+)$", a.daemons[-1].stdout(), re.M)
        if not m:
            raise Failure("the first node's daemon printed no PeerID")
        values["<first node's PeerID>"] = m.group(1)
        shutil.copy(os.path.join(a.cwd, "swarm.key"), os.path.join(b.cwd, "swarm.key"))
        b.run_block(other, values)
        # "Then `ferrite add` on one node and `ferrite cat` … on any other fetches the blocks."
        data = os.urandom(3 << 20).hex()
        with open(os.path.join(a.cwd, "data.txt"), "w") as f:
            f.write(data)
        cid = a.run("ferrite add -Q data.txt")[0].strip()
        got = b.run(f"ferrite cat {cid}", timeout=120)[0]
        if got != data:
            raise Failure(f"`ferrite cat {cid}` on the other node returned {len(got)} bytes, not the file")
        a.stop()
        b.stop()
    finally:
        for d in a.daemons + b.daemons:
            d.proc.kill()
        subprocess.run(["ip", "netns", "del", "fr-a"], capture_output=True)
        subprocess.run(["ip", "netns", "del", "fr-b"], capture_output=True)
    return 1


def check_profiles(tmp):
    bin_path = os.path.join(ROOT, "target", "release", "ferrite")
    ls = subprocess.run([bin_path, "config", "profile", "ls"], capture_output=True, text=True, check=True)
    # "name:" lines, each followed by an indented description
    names = [l[:-1] for l in ls.stdout.splitlines() if l.endswith(":") and not l.startswith(" ")]
    if "default-networking" not in names or "test" not in names:
        raise Failure(f"unexpected `config profile ls` output:\n{ls.stdout}")
    count = 0
    for name in names:
        if name == "public":
            continue  # only adds the public bootstrap peers, which no test may dial
        home = os.path.join(tmp, f"profile-{name}")
        env = fresh_env(home, os.path.dirname(bin_path))
        sh = Shell(f"profile {name}", env, home, tmp)
        try:
            sh.run(f"ferrite init --profile {name}")
            d = sh.start_daemon("ferrite daemon")
            bad = [l for l in d.stderr().splitlines() if re.search(r"warn|error", l, re.I)]
            if bad:
                raise Failure(f"profile {name}: the daemon warns:\n" + "\n".join(bad))
            if "Swarm listening on " not in d.stdout():
                raise Failure(f"profile {name}: the swarm listens nowhere:\n{d.stdout()}")
            sh.run("ferrite id", expect='"ID"')
            sh.stop()
        finally:
            for dd in sh.daemons:
                dd.proc.kill()
        count += 1
    log(f"{count} profiles start")
    return count


# ------------------------------------------------------------------------------------------ main

def main():
    if os.environ.get(INNER_ENV) != "1":
        env = dict(os.environ, **{INNER_ENV: "1"})
        for cmd in (["unshare", "-n", "-m", "--propagation", "private"],):
            if subprocess.run(cmd + ["true"], capture_output=True).returncode == 0:
                os.execvpe(cmd[0], cmd + [sys.executable, os.path.abspath(__file__)] + sys.argv[1:], env)
        print("readme: cannot create a network namespace (needs root)", file=sys.stderr)
        return 1
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    if any(l.split(": ")[1] != "lo" for l in links.splitlines()):
        print("readme: refusing to run with an interface other than lo", file=sys.stderr)
        return 1
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    tmp = tempfile.mkdtemp(prefix="ferrite-readme-")
    passed = 0
    parts = [("fresh machine", lambda: check_fresh_machine(readme, tmp)),
             ("quickstart", lambda: check_quickstart(readme, tmp)),
             ("private network", lambda: check_private_network(readme, tmp)),
             ("profiles", lambda: check_profiles(tmp))]
    only = sys.argv[1:]
    try:
        for name, part in parts:
            if only and name.split()[0] not in only:
                continue
            log(f"--- {name}")
            passed += part()
    except Failure as e:
        print(f"readme: FAILED: {e}", flush=True)
        print(f"readme: {passed} passed, 1 failed")
        return 1
    finally:
        if os.environ.get("README_KEEP") != "1":
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"readme: {passed} passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
