//! A full disk mid-add: a one-line error, no panic, nothing pinned, and a
//! repo that still verifies. Needs a private mount namespace (root); skipped
//! with a message otherwise.

mod common;
use common::*;

#[test]
fn full_disk_during_add_is_a_clean_error() {
    let env = Env::new();
    let big = env.write("big.bin", &random_bytes(9, 40 << 20));
    let mnt = env.path("small");
    std::fs::create_dir_all(&mnt).unwrap();
    let bin = env!("CARGO_BIN_EXE_ferrite");
    let script = format!(
        "set -e; mount -t tmpfs -o size=16m none {m}; \
         export FERRITE_PATH={m}/repo; {bin} init --profile test >/dev/null 2>&1; \
         {bin} add {big} 2>{out}/add.err && exit 90 || true; \
         {bin} repo verify > {out}/verify.out 2>&1; \
         {bin} pin ls > {out}/pins.out 2>&1",
        m = s(&mnt),
        big = s(&big),
        out = s(env.dir.path()),
    );
    let o = std::process::Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .output();
    let o = match o {
        Ok(o) if o.status.success() => o,
        Ok(o) if o.status.code() == Some(90) => panic!("add of 40 MiB into 16 MiB succeeded?"),
        other => {
            eprintln!("skipping: cannot mount a small tmpfs here: {other:?}");
            return;
        }
    };
    let err = std::fs::read_to_string(env.path("add.err")).unwrap();
    assert!(
        err.starts_with("Error: ") && err.lines().count() == 1,
        "{err}"
    );
    assert!(err.contains("No space left on device"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let verify = std::fs::read_to_string(env.path("verify.out")).unwrap();
    assert_eq!(verify.trim(), "verified repo integrity", "{o:?}");
    assert_eq!(std::fs::read_to_string(env.path("pins.out")).unwrap(), "");
}

/// A daemon that hit a full disk recovers as soon as space returns: the
/// failed add leaves no bytes behind in the packs, and a later add through
/// the same daemon (no restart) succeeds once a filler file is removed.
#[test]
fn daemon_recovers_from_a_full_disk_without_a_restart() {
    let env = Env::new();
    let small = env.write("small.bin", &random_bytes(1, 300 << 10));
    let big = env.write("big.bin", &random_bytes(2, 40 << 20));
    let later = env.write("later.bin", &random_bytes(3, 8 << 20));
    let mnt = env.path("small");
    std::fs::create_dir_all(&mnt).unwrap();
    let bin = env!("CARGO_BIN_EXE_ferrite");
    // Exit codes: 90 the big add succeeded, 91 the daemon never got ready.
    let script = format!(
        "mount -t tmpfs -o size=16m none {m} || exit 1; ip link set lo up || exit 1; \
         export FERRITE_PATH={m}/repo; {bin} init --profile test >/dev/null 2>&1 || exit 1; \
         {bin} daemon --offline >{out}/daemon.out 2>{out}/daemon.err & D=$!; \
         for i in $(seq 300); do grep -q 'Daemon is ready' {out}/daemon.out && break; sleep 0.1; done; \
         grep -q 'Daemon is ready' {out}/daemon.out || {{ kill $D; exit 91; }}; \
         packs() {{ cat {m}/repo/blocks/*.pack | wc -c; }}; \
         {bin} add -Q {small} >{out}/small.out 2>&1; \
         head -c 6M /dev/urandom >{m}/filler; \
         before=$(packs); \
         if {bin} add -Q {big} 2>{out}/add.err; then kill $D; exit 90; fi; \
         echo $before $(packs) >{out}/sizes; \
         rm {m}/filler; \
         {bin} add -Q {later} >{out}/later.out 2>&1; \
         {bin} repo verify >{out}/verify.out 2>&1; \
         {bin} pin ls --type=recursive >{out}/pins.out 2>&1; \
         kill $D; wait $D; exit 0",
        m = s(&mnt),
        out = s(env.dir.path()),
        small = s(&small),
        big = s(&big),
        later = s(&later),
    );
    let o = std::process::Command::new("unshare")
        .args(["-m", "-n", "--propagation", "private", "sh", "-c", &script])
        .output();
    let o = match o {
        Ok(o) if o.status.success() => o,
        Ok(o) if o.status.code() == Some(90) => panic!("add of 40 MiB into 16 MiB succeeded?"),
        Ok(o) if o.status.code() == Some(91) => panic!(
            "daemon not ready: {}",
            std::fs::read_to_string(env.path("daemon.err")).unwrap_or_default()
        ),
        other => {
            eprintln!("skipping: cannot mount a small tmpfs here: {other:?}");
            return;
        }
    };
    let read = |n: &str| std::fs::read_to_string(env.path(n)).unwrap_or_default();
    let err = read("add.err");
    assert!(
        err.starts_with("Error: ") && err.lines().count() == 1,
        "{err}"
    );
    assert!(err.contains("No space left on device"), "{err}");
    let sizes: Vec<u64> = read("sizes")
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(sizes[0], sizes[1], "pack bytes before/after the failed add");
    let small_cid = read("small.out").trim().to_string();
    let later_cid = read("later.out").trim().to_string();
    assert!(
        later_cid.starts_with("Qm"),
        "add after freeing space: {later_cid} {o:?}"
    );
    assert_eq!(read("verify.out").trim(), "verified repo integrity");
    let pins = read("pins.out");
    assert!(
        pins.contains(&small_cid) && pins.contains(&later_cid),
        "{pins}"
    );
}
