//! `config` through the CLI, and `repo verify` catching on-disk corruption.

mod common;
use common::*;

#[test]
fn config_get_set_show_replace_and_profiles() {
    let env = Env::new();
    assert_eq!(env.ok(&["config", "Bootstrap"]).trim(), "[]");
    assert_eq!(
        env.ok(&["config", "Addresses.API"]).trim(),
        "/ip4/127.0.0.1/tcp/0"
    );
    env.ok(&["config", "Datastore.StorageMax", "20GB"]);
    assert_eq!(env.ok(&["config", "Datastore.StorageMax"]).trim(), "20GB");
    env.ok(&["config", "--json", "Swarm.ConnMgr.HighWater", "300"]);
    assert_eq!(env.ok(&["config", "Swarm.ConnMgr.HighWater"]).trim(), "300");
    env.ok(&["config", "--bool", "Discovery.MDNS.Enabled", "false"]);
    assert_eq!(
        env.ok(&["config", "Discovery.MDNS.Enabled"]).trim(),
        "false"
    );
    env.fails(&["config", "No.Such.Key"]);
    assert!(env
        .ok(&["repo", "stat"])
        .contains("StorageMax: 20000000000"));

    let show = env.ok(&["config", "show"]);
    assert!(
        !show.contains("PrivKey\": \"C"),
        "show must hide the private key"
    );
    let v: serde_json::Value = serde_json::from_str(&show).unwrap();
    assert_eq!(v["Datastore"]["StorageMax"], "20GB");

    // replace with an edited copy keeps the identity
    let id = env.ok(&["config", "Identity.PeerID"]);
    let mut edited = v.clone();
    edited["Datastore"]["StorageMax"] = "30GB".into();
    edited["UnknownSection"] = serde_json::json!({"kept": true});
    let f = env.write(
        "new-config",
        serde_json::to_string(&edited).unwrap().as_bytes(),
    );
    env.ok(&["config", "replace", s(&f)]);
    assert_eq!(env.ok(&["config", "Identity.PeerID"]), id);
    assert_eq!(env.ok(&["config", "UnknownSection.kept"]).trim(), "true");
    let bad = env.write("bad-config", b"[1,2,3]");
    env.fails(&["config", "replace", s(&bad)]);

    // profiles change import defaults, and with them the CIDs
    let hello = env.write("hello", b"hello world");
    assert_eq!(
        env.ok(&["add", "-Q", s(&hello)]).trim(),
        "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD"
    );
    let diff = env.ok(&["config", "profile", "apply", "unixfs-v1-2025"]);
    assert!(diff.contains("+") && diff.contains("CidVersion"), "{diff}");
    assert_eq!(
        env.ok(&["add", "-Q", s(&hello)]).trim(),
        "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
    );
    assert!(env
        .fails(&["config", "profile", "apply", "nope"])
        .contains("test"));
}

#[test]
fn repo_verify_reports_a_corrupted_block() {
    let env = Env::new();
    let f = env.write("data.bin", &random_bytes(4, 100_000));
    let cid = env
        .ok(&["add", "-Q", "--raw-leaves", s(&f)])
        .trim()
        .to_string();
    // flip one byte in the middle of the pack file (inside the block data)
    let pack = std::fs::read_dir(env.repo().join("blocks"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "pack"))
        .unwrap();
    let mut bytes = std::fs::read(&pack).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(&pack, &bytes).unwrap();
    let o = env.run(&["repo", "verify"]);
    assert!(!o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("was corrupt"), "{out}");
    let o = env.run(&["pin", "verify"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains(&format!("{cid} broken")));
}

/// Issue 14, item 6: a config that cannot run is neither written (`config
/// replace`, `config KEY VALUE`, through a running daemon) nor started on.
#[test]
fn configs_that_cannot_run_are_refused() {
    let mut node = common::daemon::Node::new();
    let config_path = node.env.repo().join("config");
    let original = std::fs::read(&config_path).unwrap();
    let one_line = |err: &str, needle: &str| {
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains(needle), "{needle}: {err}");
    };

    // `{}` keeps the identity (as Kubo) but has no API address: refused.
    let empty = node.env.write("empty.json", b"{}");
    let err = node.env.fails(&["config", "replace", s(&empty)]);
    one_line(&err, "Addresses.API");
    // values that do not parse, or would leave no API address
    for args in [
        &["config", "Addresses.API", "5"][..],
        &["config", "--json", "Addresses.API", "[]"],
        &["config", "Addresses.Swarm", "/ip4/1.2.3.4/tcp/notaport"],
        &["config", "--json", "Swarm.ConnMgr.HighWater", "\"lots\""],
    ] {
        let err = node.env.fails(args);
        one_line(&err, args[args.len() - 2]);
    }
    assert_eq!(std::fs::read(&config_path).unwrap(), original);
    let id = node.id();

    // The daemon still restarts on the untouched file, same identity.
    node.stop();
    node.start();
    assert_eq!(node.id(), id);
    node.stop();

    // A config written behind ferrite's back without an API address: the
    // daemon says why and exits, rather than being "ready" for nobody.
    let mut doc: serde_json::Value = serde_json::from_slice(&original).unwrap();
    doc["Addresses"]["API"] = serde_json::json!([]);
    std::fs::write(&config_path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let mut child = node
        .env
        .cmd(&["daemon"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "the daemon did not refuse to start: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(!stdout.contains("Daemon is ready"), "{stdout}");
    assert!(stderr.starts_with("Error: "), "{stderr}");
    one_line(&stderr, "Addresses.API");
    assert!(!node.env.repo().join("api").exists());
    // The CLI works on the repo (not "locked") and can repair it.
    node.env
        .ok(&["config", "Addresses.API", "/ip4/127.0.0.1/tcp/0"]);
    node.start();
    assert_eq!(node.id(), id);
}

/// Add/unpin/gc cycles that leave a third of the data dead: the packs and
/// index stay within 1.25 × the live bytes, and `repo stat` adds up.
#[test]
fn gc_keeps_disk_use_close_to_live_data() {
    let env = Env::new();
    let blocks = env.repo().join("blocks");
    let files = |ext: &str| -> u64 {
        std::fs::read_dir(&blocks)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == ext))
            .map(|p| std::fs::metadata(p).unwrap().len())
            .sum()
    };
    let mut cids = Vec::new();
    for i in 0..12u64 {
        env.write("f.bin", &random_bytes(100 + i, 8 << 20));
        cids.push(env.ok(&["add", "-Q", "f.bin"]).trim().to_string());
        if i % 3 == 1 {
            env.ok(&["pin", "rm", &cids[i as usize - 1]]);
        }
        env.ok(&["repo", "gc", "-q"]);
        let stat = env.ok(&["repo", "stat"]);
        let field = |k: &str| -> u64 {
            stat.lines()
                .find_map(|l| l.strip_prefix(k)?.strip_prefix(':'))
                .unwrap_or_else(|| panic!("{k} in {stat}"))
                .trim()
                .parse()
                .unwrap()
        };
        let (live, dead) = (field("LiveBytes"), field("DeadBytes"));
        let (packs, index) = (files("pack"), files("redb"));
        assert_eq!(live + dead, packs, "cycle {i}: {stat}");
        let pins = std::fs::metadata(env.repo().join("pins.redb"))
            .unwrap()
            .len();
        assert_eq!(field("RepoSize"), packs + index + pins, "cycle {i}");
        assert!(
            (packs + index) as f64 <= 1.25 * live as f64 + (2 << 20) as f64,
            "cycle {i}: {packs} + {index} on disk for {live} live: {stat}"
        );
    }
    assert_eq!(
        env.ok(&["repo", "verify"]).trim(),
        "verified repo integrity"
    );
}
