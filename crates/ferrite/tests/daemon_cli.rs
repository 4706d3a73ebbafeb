//! The CLI against a running daemon: every command goes through the RPC API
//! and prints exactly what the same command prints on a repo of its own.
//!
//! Each test runs a daemon on one repo and a second, daemon-less repo, runs
//! the same commands in both (same inputs at the same relative paths) and
//! compares stdout, stderr and the exit status. The daemon's repo is locked
//! by the daemon, so a command there that did not go through the API would
//! fail with a lock error instead of matching. The daemons run `--offline`
//! (a missing block is "not found", as in the local repo); network fetching
//! is tested in `network.rs`.

mod common;
use common::*;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

/// A `ferrite daemon` on its own repo, killed when dropped.
struct Daemon {
    env: Env,
    child: Child,
}

impl Daemon {
    /// Starts the daemon and waits for `Daemon is ready` and the api file.
    fn start() -> Daemon {
        let env = Env::new();
        let mut child = env
            // Offline: these tests compare the API with a repo of its own,
            // where a missing block is an immediate "not found".
            .cmd(&["daemon", "--offline"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        // Keep draining stdout so the daemon's last words never hit a closed pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line == "Daemon is ready" {
                    let _ = tx.send(());
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(30))
            .expect("daemon did not become ready");
        assert!(env.repo().join("api").exists(), "no api file");
        Daemon { env, child }
    }

    /// The API multiaddr from the api file.
    fn api(&self) -> String {
        std::fs::read_to_string(self.env.repo().join("api"))
            .unwrap()
            .trim()
            .to_string()
    }

    /// Waits (up to 20 s) for the daemon process to exit.
    fn wait_exit(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.child.try_wait().unwrap().is_some() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A daemon-backed repo and a local one, fed the same files.
struct Pair {
    daemon: Daemon,
    local: Env,
}

impl Pair {
    fn new() -> Pair {
        Pair {
            daemon: Daemon::start(),
            local: Env::new(),
        }
    }

    fn envs(&self) -> [&Env; 2] {
        [&self.daemon.env, &self.local]
    }

    /// Writes the same file under both test folders.
    fn write(&self, rel: &str, data: &[u8]) {
        for e in self.envs() {
            e.write(rel, data);
        }
    }

    fn mkdir(&self, rel: &str) {
        for e in self.envs() {
            std::fs::create_dir_all(e.path(rel)).unwrap();
        }
    }

    fn run_both(&self, args: &[&str], stdin: Option<&[u8]>) -> (Output, Output) {
        let run = |e: &Env| {
            use std::io::Write;
            let mut child = e
                .cmd(args)
                .stdin(if stdin.is_some() {
                    Stdio::piped()
                } else {
                    Stdio::null()
                })
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            if let Some(input) = stdin {
                child.stdin.take().unwrap().write_all(input).unwrap();
            }
            child.wait_with_output().unwrap()
        };
        (run(&self.daemon.env), run(&self.local))
    }

    /// Runs in both, asserts identical output, status and stderr; returns
    /// the daemon side's output.
    fn same_in(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let (d, l) = self.run_both(args, stdin);
        let text = |b: &[u8]| String::from_utf8_lossy(b).to_string();
        assert_eq!(
            d.status.success(),
            l.status.success(),
            "ferrite {args:?}: daemon {:?} ({}) vs local {:?} ({})",
            d.status,
            text(&d.stderr),
            l.status,
            text(&l.stderr)
        );
        assert_eq!(
            text(&d.stderr),
            text(&l.stderr),
            "ferrite {args:?}: stderr differs"
        );
        assert!(
            d.stdout == l.stdout,
            "ferrite {args:?}: stdout differs:\ndaemon:\n{}\nlocal:\n{}",
            text(&d.stdout),
            text(&l.stdout)
        );
        assert!(!text(&d.stderr).contains("panicked"), "{args:?} panicked");
        d
    }

    /// Same output both ways, and success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        self.ok_in(args, None)
    }

    /// Same output both ways with `input` on stdin, and success.
    fn ok_stdin(&self, args: &[&str], input: &[u8]) -> String {
        self.ok_in(args, Some(input))
    }

    fn ok_in(&self, args: &[&str], input: Option<&[u8]>) -> String {
        String::from_utf8(self.ok_bytes_in(args, input)).unwrap()
    }

    /// Same binary output both ways, and success.
    fn ok_bytes(&self, args: &[&str]) -> Vec<u8> {
        self.ok_bytes_in(args, None)
    }

    fn ok_bytes_in(&self, args: &[&str], input: Option<&[u8]>) -> Vec<u8> {
        let o = self.same_in(args, input);
        assert!(
            o.status.success(),
            "ferrite {args:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        o.stdout
    }

    /// Same one-line `Error: …` both ways; returns it.
    fn fails(&self, args: &[&str]) -> String {
        let o = self.same_in(args, None);
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert!(!o.status.success(), "ferrite {args:?} should fail");
        assert!(
            err.starts_with("Error: ") && err.lines().count() == 1,
            "ferrite {args:?}: {err}"
        );
        err
    }
}

#[test]
fn add_matches_kubo_vectors_through_the_daemon() {
    let p = Pair::new();
    let cases: &[(&[u8], &[&str], &str)] = &[
        (
            b"hello world\n",
            &[],
            "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o",
        ),
        (
            b"hello world",
            &["--cid-version=1"],
            "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e",
        ),
        (
            b"hello world",
            &["--cid-version=1", "--raw-leaves=false"],
            "bafybeihykld7uyxzogax6vgyvag42y7464eywpf55gxi5qpoisibh3c5wa",
        ),
        (
            b"Hello Worlds!\n",
            &["--chunker=size-64"],
            "QmVr26fY1tKyspEJBniVhqxQeEjhF78XerGiqWAwraVLQH",
        ),
        (
            b"Hello Worlds!\n",
            &["--trickle"],
            "QmUkUQgxXeggyaD5Ckv8ZqfW8wHBX6cYyeiyqvVZYzq5Bi",
        ),
        (b"", &[], "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"),
    ];
    for (i, (data, flags, want)) in cases.iter().enumerate() {
        let name = format!("in{i}");
        p.write(&name, data);
        let mut args = vec!["add", "-Q"];
        args.extend_from_slice(flags);
        args.push(&name);
        assert_eq!(p.ok(&args).trim(), *want, "add {flags:?}");
    }
    // a multi-chunk file, and every output mode
    p.write("big.bin", &random_bytes(3, 262144 * 4 + 17));
    p.ok(&["add", "big.bin"]);
    p.ok(&["add", "-q", "--raw-leaves", "big.bin"]);
    p.ok(&["add", "--silent", "in0"]);
    p.ok(&["add", "--progress=true", "big.bin"]);
    // a large upload streams while progress objects stream back
    p.write("huge.bin", &random_bytes(5, 24 << 20));
    p.ok(&["add", "--progress=true", "--chunker=size-65536", "huge.bin"]);
    p.ok(&["add", "--pin-name=mine", "in0"]);
}

#[test]
fn add_folders_stdin_wrap_and_only_hash_through_the_daemon() {
    let p = Pair::new();
    p.write("planets/mars.txt", b"Hello Mars!\n");
    p.write("planets/venus.txt", b"Hello Venus!\n");
    p.write("planets/.hidden", b"secret\n");
    let out = p.ok(&["add", "-r", "planets"]);
    assert!(
        out.ends_with("added QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY planets\n"),
        "{out}"
    );
    assert_eq!(out.lines().count(), 3, "{out}");
    p.ok(&["add", "-r", "--hidden", "planets"]);
    p.ok(&["add", "-r", "-Q", "--cid-version=1", "planets"]);
    p.mkdir("empty");
    assert_eq!(
        p.ok(&["add", "-r", "-Q", "empty"]).trim(),
        "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn"
    );
    p.write("tree/sub dir/ünïcode name.txt", b"unicode\n");
    p.write("tree/a+b%c.txt", b"escaped\n");
    p.mkdir("tree/emptydir");
    #[cfg(unix)]
    for e in p.envs() {
        std::os::unix::fs::symlink("sub dir", e.path("tree/link")).unwrap();
    }
    p.ok(&["add", "-r", "tree"]);
    p.ok(&["add", "-r", "-w", "tree", "planets"]);

    assert_eq!(
        p.ok_stdin(&["add"], b"hello world\n").trim(),
        "added QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"
    );
    p.ok_stdin(&["add", "--stdin-name=named.txt", "-w"], b"named\n");
    p.write("hello.txt", b"hello world\n");
    p.ok(&["add", "-w", "hello.txt"]);
    p.write("other.txt", b"not stored\n");
    let cid = p.ok(&["add", "-n", "-Q", "other.txt"]);
    assert!(p.fails(&["cat", cid.trim()]).contains("not found"));
}

#[test]
fn cat_get_ls_through_the_daemon() {
    let p = Pair::new();
    let big = random_bytes(7, 262144 * 3 + 1000);
    p.write("tree/big.bin", &big);
    p.write("tree/sub dir/ünïcode name.txt", b"unicode\n");
    p.write("tree/empty.txt", b"");
    p.mkdir("tree/emptydir");
    let root = last_cid(&p.ok(&["add", "-r", "tree"]));

    assert_eq!(p.ok_bytes(&["cat", &format!("{root}/big.bin")]), big);
    p.ok_bytes(&[
        "cat",
        "-o",
        "262100",
        "-l",
        "100",
        &format!("{root}/big.bin"),
    ]);
    p.ok(&[
        "cat",
        "-o",
        "3",
        &format!("/ipfs/{root}/sub dir/ünïcode name.txt"),
        &format!("{root}/empty.txt"),
        &format!("{root}/sub dir/ünïcode name.txt"),
    ]);
    p.ok(&["ls", &root]);
    p.ok(&[
        "ls",
        "-v",
        "--size=false",
        &root,
        &format!("{root}/sub dir"),
    ]);

    p.ok(&["get", &root, "-o", "out"]);
    let d = p.daemon.env.path("out");
    assert_eq!(std::fs::read(d.join("big.bin")).unwrap(), big);
    assert_eq!(
        std::fs::read(d.join("sub dir/ünïcode name.txt")).unwrap(),
        b"unicode\n"
    );
    assert!(d.join("emptydir").is_dir());
    assert_eq!(std::fs::read(d.join("empty.txt")).unwrap(), b"");
    assert_eq!(
        p.daemon.env.ok(&["add", "-r", "-Q", "out"]).trim(),
        root,
        "the extracted tree adds back to the same root"
    );
    // a single file, default name, and a tar
    p.ok(&["get", &format!("{root}/big.bin"), "-o", "one.bin"]);
    assert_eq!(std::fs::read(p.daemon.env.path("one.bin")).unwrap(), big);
    p.ok(&["get", &format!("/ipfs/{root}/sub dir")]);
    assert!(p.daemon.env.path("sub dir/ünïcode name.txt").is_file());
    p.ok(&["get", "-a", &root, "-o", "out.tar"]);
    // Entries without an mtime get the current time (as in Kubo), so the
    // two tars may differ there if a second boundary falls between them.
    assert_eq!(
        tar_without_mtimes(&p.daemon.env.path("out.tar")),
        tar_without_mtimes(&p.local.path("out.tar")),
        "get -a writes the same tar"
    );
}

/// A tar file's bytes with every header's mtime field blanked (and its
/// checksum with it).
fn tar_without_mtimes(path: &std::path::Path) -> Vec<u8> {
    let mut bytes = std::fs::read(path).unwrap();
    let mut ar = tar::Archive::new(std::io::Cursor::new(bytes.clone()));
    let offsets: Vec<u64> = ar
        .entries()
        .unwrap()
        .map(|e| e.unwrap().raw_header_position())
        .collect();
    assert!(!offsets.is_empty(), "an empty tar");
    for off in offsets {
        let h = off as usize;
        // ustar: mtime at 136..148, checksum at 148..156.
        bytes[h + 136..h + 156].fill(b' ');
    }
    bytes
}

#[test]
fn a_failure_mid_stream_is_an_error() {
    let p = Pair::new();
    p.write("big.bin", &random_bytes(11, 262144 * 3 + 5));
    let root = p.ok(&["add", "-Q", "--pin=false", "big.bin"]);
    let root = root.trim();
    let leaves = p.ok(&["refs", root]);
    let third = leaves.lines().nth(2).unwrap();
    p.ok(&["block", "rm", third]);
    // The first chunks went out before the missing block was noticed: the
    // daemon reports it in the X-Stream-Error trailer.
    let (d, _) = p.run_both(&["cat", root], None);
    assert!(
        !d.stdout.is_empty() && d.stdout.len() < 262144 * 3,
        "some bytes, then the error"
    );
    let err = p.fails(&["cat", root]);
    assert!(err.contains("not found"), "{err}");
}

/// `get` and `dag export` through the daemon stop at a missing block with
/// the same one-line error as offline, naming the block.
#[test]
fn get_and_export_fail_at_a_missing_block() {
    let p = Pair::new();
    p.mkdir("d");
    p.write("d/big.bin", &random_bytes(12, 262144 * 3 + 5));
    let file = p.ok(&["add", "-Q", "--pin=false", "d/big.bin"]);
    let root = p.ok(&["add", "-Q", "-r", "--pin=false", "d"]);
    let leaves = p.ok(&["refs", file.trim()]);
    let gap = leaves.lines().nth(1).unwrap();
    p.ok(&["block", "rm", gap]);
    // get says where it saves first
    let o = p.same_in(&["get", root.trim(), "-o", "out"], None);
    let err = String::from_utf8_lossy(&o.stderr);
    let last = err.lines().last().unwrap();
    assert!(!o.status.success());
    assert!(last.starts_with("Error: ") && last.contains(gap), "{err}");
    // and leaves nothing behind: no partial folder, file or archive
    let o = p.same_in(&["get", file.trim(), "-o", "one.bin"], None);
    assert!(!o.status.success());
    let o = p.same_in(&["get", "-a", root.trim(), "-o", "out.tar"], None);
    assert!(!o.status.success());
    for env in [&p.daemon.env, &p.local] {
        let left: Vec<String> = std::fs::read_dir(env.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("out") || n.starts_with("one") || n.contains("partial"))
            .collect();
        assert!(left.is_empty(), "a failed get left {left:?}");
    }
    let err = p.fails(&["dag", "export", root.trim()]);
    assert!(err.contains(gap), "{err}");
}

#[test]
fn pins_gc_and_repo_through_the_daemon() {
    let p = Pair::new();
    p.write("a.txt", b"kept\n");
    p.write("b.txt", b"collected\n");
    let ca = p.ok(&["add", "-Q", "a.txt"]).trim().to_string();
    let cb = p
        .ok(&["add", "-Q", "--pin=false", "b.txt"])
        .trim()
        .to_string();
    p.ok(&["pin", "ls", "--type=recursive"]);
    p.ok(&["pin", "ls"]);
    let gc = p.ok(&["repo", "gc"]);
    assert!(gc.starts_with("removed "), "{gc}");
    p.fails(&["cat", &cb]);
    assert_eq!(p.ok(&["pin", "rm", &ca]).trim(), format!("unpinned {ca}"));
    assert!(p.fails(&["pin", "rm", &ca]).contains("not pinned"));
    p.ok(&["repo", "gc", "-q"]);
    // RepoPath differs (two repos); the rest is the same
    let strip = |s: &str| {
        s.lines()
            .filter(|l| !l.starts_with("RepoPath:") && !l.starts_with("RepoSize:"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let d = p.daemon.env.ok(&["repo", "stat"]);
    assert_eq!(strip(&d), strip(&p.local.ok(&["repo", "stat"])));
    assert!(d.contains("NumObjects: 0"), "{d}");
    let d = p.daemon.env.ok(&["repo", "stat", "-s", "-H"]);
    assert!(
        d.starts_with("RepoSize:   ") && d.contains("StorageMax: 9.31 GiB"),
        "{d}"
    );
    assert_eq!(p.ok(&["repo", "verify"]).trim(), "verified repo integrity");

    p.write("d/x.txt", b"x\n");
    let root = last_cid(&p.ok(&["add", "-r", "d"]));
    let x = p.ok(&["add", "-n", "-Q", "d/x.txt"]).trim().to_string();
    assert_eq!(
        p.ok(&["pin", "ls", &x]).trim(),
        format!("{x} indirect through {root}")
    );
    p.ok(&["pin", "add", "--recursive=false", &x]);
    p.ok(&["pin", "ls", "--type=direct", "-q"]);
    p.write("e/y.txt", b"y\n");
    let root2 = last_cid(&p.ok(&["add", "-r", "--pin=false", "e"]));
    assert_eq!(
        p.ok(&["pin", "update", &root, &root2]).trim(),
        format!("updated {root} to {root2}")
    );
    p.ok(&["pin", "add", "--name=named", &root]);
    p.ok(&["pin", "ls", "--names"]);
    assert_eq!(p.ok(&["pin", "verify"]), "");
    p.ok(&["pin", "verify", "--verbose"]);
}

#[test]
fn blocks_and_dags_through_the_daemon() {
    let p = Pair::new();
    let cid = p.ok_stdin(&["block", "put"], b"hello world");
    let cid = cid.trim();
    assert_eq!(
        cid,
        "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
    );
    assert_eq!(
        p.ok(&["block", "stat", cid]),
        format!("Key: {cid}\nSize: 11\n")
    );
    assert_eq!(p.ok(&["block", "get", cid]), "hello world");
    p.write("b1", b"one");
    p.write("b2", b"two");
    p.ok(&["block", "put", "--mhtype=sha2-512", "--pin", "b1", "b2"]);
    assert_eq!(p.ok(&["block", "rm", cid]).trim(), format!("removed {cid}"));
    p.fails(&["block", "get", cid]);
    p.fails(&["block", "stat", "QmNotValid"]);
    p.write("junk", b"\xff\xff not protobuf");
    p.fails(&["block", "put", "--cid-codec=dag-pb", "junk"]);

    let node = p.ok_stdin(&["dag", "put"], br#"{"a": 1, "b": [1, 2], "c": "x"}"#);
    let node = node.trim();
    p.ok(&["dag", "get", node]);
    p.ok(&["dag", "get", &format!("{node}/b/1")]);
    p.ok_bytes(&["dag", "get", "--output-codec=dag-cbor", node]);
    p.ok(&["dag", "resolve", &format!("{node}/b")]);
    p.write(
        "n.json",
        format!(r#"{{"link": {{"/": "{node}"}}}}"#).as_bytes(),
    );
    p.ok(&["dag", "put", "--pin", "--store-codec=dag-json", "n.json"]);

    p.write("planets/mars.txt", b"Hello Mars!\n");
    p.write("planets/venus.txt", b"Hello Venus!\n");
    let root = last_cid(&p.ok(&["add", "-r", "planets"]));
    p.ok(&["dag", "stat", &root, node]);
    let car = p.ok_bytes(&["dag", "export", &root]);
    assert!(!car.is_empty());
    for e in p.envs() {
        std::fs::write(e.path("p.car"), &car).unwrap();
    }
    p.ok(&["pin", "rm", &root]);
    p.ok(&["repo", "gc", "-q"]);
    p.ok(&["dag", "import", "--stats", "p.car"]);
    p.ok_stdin(&["dag", "import", "--pin-roots=false"], &car);
    assert!(p.ok(&["pin", "ls", "-q"]).contains(&root));
}

#[test]
fn refs_and_config_through_the_daemon() {
    let p = Pair::new();
    p.write("t/a/x.txt", b"x\n");
    p.write("t/a/y.txt", b"y\n");
    p.write("t/b.txt", b"x\n");
    let root = last_cid(&p.ok(&["add", "-r", "t"]));
    p.ok(&["refs", &root]);
    p.ok(&["refs", "-r", &root]);
    p.ok(&["refs", "-r", "-u", &root]);
    p.ok(&["refs", "-r", "-e", &root]);
    p.ok(&["refs", "-r", "--format=<src> <linkname> <dst>", &root]);
    p.ok(&["refs", "--max-depth=1", &root]);
    p.ok(&["refs", "local"]);
    p.fails(&["refs", "-e", "--format=<dst>!", &root]);

    assert_eq!(p.ok(&["config", "Bootstrap"]).trim(), "[]");
    p.ok(&["config", "Addresses.API"]);
    p.ok(&["config", "Datastore.StorageMax", "20GB"]);
    assert_eq!(p.ok(&["config", "Datastore.StorageMax"]).trim(), "20GB");
    p.ok(&["config", "--json", "Swarm.ConnMgr.HighWater", "300"]);
    p.ok(&["config", "--bool", "Discovery.MDNS.Enabled", "false"]);
    p.ok(&["config", "Discovery"]);
    p.fails(&["config", "No.Such.Key"]);
    // identities differ between the two repos; the rest must not
    let show = |e: &Env| {
        let mut v: serde_json::Value = serde_json::from_str(&e.ok(&["config", "show"])).unwrap();
        v["Identity"] = serde_json::Value::Null;
        v
    };
    assert_eq!(show(&p.daemon.env), show(&p.local));
    let mut edited = show(&p.daemon.env);
    edited.as_object_mut().unwrap().remove("Identity");
    edited["Datastore"]["StorageMax"] = "30GB".into();
    p.write(
        "new-config",
        serde_json::to_string(&edited).unwrap().as_bytes(),
    );
    p.ok(&["config", "replace", "new-config"]);
    assert_eq!(p.ok(&["config", "Datastore.StorageMax"]).trim(), "30GB");
    p.write("bad-config", b"[1,2,3]");
    p.fails(&["config", "replace", "bad-config"]);
    p.ok(&["config", "profile", "apply", "--dry-run", "lowpower"]);
    p.ok(&["config", "profile", "apply", "unixfs-v1-2025"]);
    p.write("hello", b"hello world");
    p.ok(&["add", "-Q", "hello"]);
    p.ok(&["config", "profile", "ls"]);
}

#[test]
fn errors_are_one_line_and_match_local() {
    let p = Pair::new();
    assert!(p
        .fails(&["add", "does-not-exist"])
        .contains("does-not-exist"));
    p.mkdir("adir");
    assert!(p.fails(&["add", "adir"]).contains("-r"));
    assert!(p.fails(&["cat", "notacid"]).contains("notacid"));
    p.write("h.txt", b"hello world\n");
    let c = p.ok(&["add", "-Q", "-w", "h.txt"]).trim().to_string();
    assert!(p
        .fails(&["cat", &format!("{c}/nope")])
        .contains("no link named"));
    assert!(p.fails(&["cat", &c]).contains("directory"));
    p.fails(&["add", "--chunker=size-0", "h.txt"]);
    assert!(p.fails(&["add", "--hash=md5", "h.txt"]).contains("md5"));
    p.fails(&["ls", "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"]);
    p.fails(&["get", "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"]);
    p.fails(&["pin", "ls", "--type=bogus"]);
    p.fails(&[
        "dag",
        "get",
        "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH",
    ]);
}

#[test]
fn api_flag_id_and_shutdown() {
    let mut d = Daemon::start();
    let api = d.api();
    let elsewhere = Env::new();
    let via_flag = elsewhere.ok(&["--api", &api, "id"]);
    let own = d.env.ok(&["id"]);
    assert_eq!(
        via_flag, own,
        "--api reaches the daemon, not the local repo"
    );
    assert!(own.contains(&format!("\"ID\": \"{}", "12D3KooW")), "{own}");
    assert_eq!(
        elsewhere.ok(&["--api", &api, "config", "Identity.PeerID"]),
        d.env.ok(&["config", "Identity.PeerID"])
    );
    // --api to a dead address fails clearly
    let err = elsewhere.fails(&["--api", "/ip4/127.0.0.1/tcp/1", "repo", "stat"]);
    assert!(err.contains("cannot connect"), "{err}");
    assert!(elsewhere
        .fails(&["shutdown"])
        .contains("try running 'ferrite daemon'"));

    assert_eq!(d.env.ok(&["shutdown"]), "");
    assert!(d.wait_exit(), "the daemon did not stop");
    assert!(!d.env.repo().join("api").exists(), "api file left behind");
    // the repo is free again, and offline `id` is the same identity
    assert_eq!(d.env.ok(&["id"]), own);
    d.env.ok(&["repo", "stat"]);
}

/// A port nothing listens on.
fn dead_multiaddr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("/ip4/127.0.0.1/tcp/{port}")
}

#[test]
fn stale_api_file_is_ignored_when_the_repo_is_free() {
    use std::io::Write;
    let env = Env::new();
    let api = env.repo().join("api");
    std::fs::write(&api, dead_multiaddr()).unwrap();
    env.write("h.txt", b"hello world\n");
    assert_eq!(
        env.ok(&["add", "-Q", "h.txt"]).trim(),
        "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"
    );
    assert!(api.exists(), "like Kubo, nothing is deleted");

    // with the repo locked by another process, the error says what is wrong
    let mut holder = env
        .cmd(&["add", "-Q"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = holder.stdin.take().unwrap();
    stdin.write_all(b"held\n").unwrap();
    wait_locked(&env.repo());
    let err = env.fails(&["repo", "stat"]);
    assert!(
        err.contains("cannot connect") && err.contains("locked") && err.lines().count() == 1,
        "{err}"
    );
    drop(stdin);
    assert!(holder.wait_with_output().unwrap().status.success());
    env.ok(&["repo", "stat"]);
}

/// Waits until some process holds the repo lock.
fn wait_locked(repo: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(f) = std::fs::OpenOptions::new()
            .write(true)
            .open(repo.join("repo.lock"))
        {
            if f.try_lock().is_err() {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("the repo never got locked");
}
