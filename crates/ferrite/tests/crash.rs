//! `kill -9` during `add` at many points: the repo must open, verify, and
//! keep everything that was reported added and pinned.

mod common;
use common::*;
use std::process::Stdio;
use std::time::Duration;

#[test]
fn kill_9_during_add_loses_nothing_acknowledged() {
    let env = Env::new();
    let kept = env.write("kept.txt", b"acknowledged before the crashes\n");
    let kept_cid = env.ok(&["add", "-Q", s(&kept)]).trim().to_string();

    let big = env.write("big.bin", &random_bytes(11, 48 << 20));
    let mut completed = 0;
    for (i, delay_ms) in [3u64, 15, 40, 80, 120, 200, 300, 450]
        .into_iter()
        .enumerate()
    {
        // Each round adds different content so earlier rounds' blocks can't mask losses.
        let data = random_bytes(100 + i as u64, 24 << 20);
        let f = env.write(&format!("round{i}.bin"), &data);
        let mut child = env
            .cmd(&["add", "-Q", s(&f), s(&big)])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL
        let out = child.wait_with_output().unwrap();
        if out.status.success() {
            completed += 1;
            let cid = String::from_utf8(out.stdout).unwrap().trim().to_string();
            // reported: must be pinned and complete
            assert!(env
                .ok(&["pin", "ls", "--type=recursive", "-q"])
                .contains(&cid));
        }
        assert_eq!(
            env.ok(&["repo", "verify"]).trim(),
            "verified repo integrity",
            "round {i}"
        );
        assert_eq!(
            env.ok(&["pin", "verify"]),
            "",
            "round {i}: every pin complete"
        );
        assert_eq!(
            env.ok(&["cat", &kept_cid]),
            "acknowledged before the crashes\n"
        );
    }
    // GC after all that leaves a consistent repo too.
    env.ok(&["repo", "gc", "-q"]);
    assert_eq!(
        env.ok(&["repo", "verify"]).trim(),
        "verified repo integrity"
    );
    assert_eq!(env.ok(&["pin", "verify"]), "");
    eprintln!("{completed} of 8 adds finished before their kill");
}
