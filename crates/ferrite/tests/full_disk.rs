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
