//! `dag` and `cid` commands end to end, and CAR files that must be refused.

mod common;
use common::*;

#[test]
fn dag_export_import_round_trip_between_repos() {
    let a = Env::new();
    a.write("t/x.txt", &random_bytes(1, 600_000));
    a.write("t/y/z.txt", b"zzz\n");
    // 600,000 bytes = 3 chunks + 1 file node; z.txt, y/ and t/ make 7 blocks
    let root = last_cid(&a.ok(&["add", "-r", "t"]));
    let car = a.cmd(&["dag", "export", &root]).output().unwrap();
    assert!(car.status.success());
    let car_path = a.write("t.car", &car.stdout);

    let b = Env::new();
    let out = b.ok(&["dag", "import", "--stats", s(&car_path)]);
    assert!(
        out.contains(&format!("Pinned root\t{root}\tsuccess")),
        "{out}"
    );
    assert!(out.contains("Imported 7 blocks"), "{out}");
    assert_eq!(b.ok(&["cat", &format!("{root}/y/z.txt")]), "zzz\n");
    let stat = b.ok(&["dag", "stat", &root]);
    assert!(stat.contains("Unique Blocks: 7"), "{stat}");
    // exporting again gives the same bytes
    let again = b.cmd(&["dag", "export", &root]).output().unwrap();
    assert_eq!(again.stdout, car.stdout);
}

#[test]
fn corrupt_and_truncated_cars_store_and_pin_nothing() {
    let a = Env::new();
    a.write("f.bin", &random_bytes(2, 300_000));
    let root = a.ok(&["add", "-Q", s(&a.path("f.bin"))]).trim().to_string();
    let car = a.cmd(&["dag", "export", &root]).output().unwrap().stdout;

    let b = Env::new();
    let truncated = b.write("trunc.car", &car[..car.len() - 1000]);
    let err = b.fails(&["dag", "import", s(&truncated)]);
    assert!(err.to_lowercase().contains("car"), "{err}");
    let mut flipped = car.clone();
    let n = flipped.len();
    flipped[n - 10] ^= 0xff; // inside the last block's data
    let bad = b.write("bad.car", &flipped);
    let err = b.fails(&["dag", "import", s(&bad)]);
    assert!(
        err.contains("does not match") || err.contains("mismatch"),
        "{err}"
    );
    let garbage = b.write("garbage.car", b"definitely not a car file");
    b.fails(&["dag", "import", s(&garbage)]);
    assert_eq!(b.ok(&["pin", "ls"]), "");
    assert!(b.ok(&["repo", "stat"]).contains("NumObjects: 0"));
}

#[test]
fn dag_put_get_resolve_and_cid_commands() {
    let env = Env::new();
    let cid = env
        .ok_stdin(&["dag", "put"], br#"{"hello":"world","n":[1,2]}"#)
        .trim()
        .to_string();
    assert!(cid.starts_with("bafyrei"), "dag-cbor CIDv1: {cid}");
    assert_eq!(
        env.ok(&["dag", "get", &cid]),
        r#"{"hello":"world","n":[1,2]}"#
    );
    assert_eq!(env.ok(&["dag", "get", &format!("{cid}/n/1")]), "2");
    env.fails(&["dag", "get", &format!("{cid}/nope")]);
    let f = env.write("h", b"hello world\n");
    let file = env.ok(&["add", "-Q", "-w", s(&f)]).trim().to_string();
    assert_eq!(
        env.ok(&["dag", "resolve", &format!("/ipfs/{file}/h")])
            .trim(),
        "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"
    );
    assert_eq!(
        env.ok(&[
            "cid",
            "base32",
            "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"
        ])
        .trim(),
        "bafybeicg2rebjoofv4kbyovkw7af3rpiitvnl6i7ckcywaq6xjcxnc2mby"
    );
    assert_eq!(
        env.ok(&[
            "cid",
            "format",
            "-f",
            "%P",
            "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"
        ])
        .trim(),
        "cidv0-dag-pb-sha2-256-32"
    );
    let o = env.run(&["cid", "format", "notacid"]);
    assert!(!o.status.success());
    // refs
    let refs = env.ok(&["refs", &file]);
    assert_eq!(
        refs.trim(),
        "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"
    );
    let local = env.ok(&["refs", "local"]);
    assert!(local.lines().count() >= 3, "{local}");
}

#[test]
fn progress_bar_only_on_a_terminal() {
    let env = Env::new();
    let f = env.write("big", &random_bytes(5, 8 << 20));
    // not a terminal: stderr stays empty
    let o = env.run(&["add", "-Q", s(&f)]);
    assert!(
        o.status.success() && o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // a pseudo-terminal via util-linux `script`, when available
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipping the terminal half: no `script` command");
        return;
    }
    let cmd = format!(
        "FERRITE_PATH={} {} add --progress {}",
        s(&env.repo()),
        env!("CARGO_BIN_EXE_ferrite"),
        s(&f)
    );
    let o = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .output()
        .unwrap();
    let all = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{all}");
    assert!(all.contains("added "), "{all}");
}
