//! End-to-end tests of the `ferrite` binary: Kubo's CIDs and outputs,
//! read-back, pins, GC, blocks, and clean errors on bad input.

mod common;
use common::*;

#[test]
fn add_matches_kubo_vectors() {
    let env = Env::new();
    let cases: &[(&[u8], &[&str], &str)] = &[
        (
            b"hello world\n",
            &[],
            "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o",
        ),
        (
            b"hello world",
            &[],
            "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD",
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
            &[],
            "QmVr26fY1tKyspEJBniVhqxQeEjhF78XerGiqWAwraVLQH",
        ),
        (
            b"Hello Worlds!\n",
            &["--chunker=size-64"],
            "QmVr26fY1tKyspEJBniVhqxQeEjhF78XerGiqWAwraVLQH",
        ),
        (
            b"Hello Worlds!\n",
            &["--chunker=rabin"],
            "QmVr26fY1tKyspEJBniVhqxQeEjhF78XerGiqWAwraVLQH",
        ),
        (
            b"Hello Worlds!\n",
            &["--chunker=buzhash"],
            "QmVr26fY1tKyspEJBniVhqxQeEjhF78XerGiqWAwraVLQH",
        ),
        (
            b"Hello Worlds!\n",
            &["--trickle"],
            "QmUkUQgxXeggyaD5Ckv8ZqfW8wHBX6cYyeiyqvVZYzq5Bi",
        ),
        (
            b"IPFS\n",
            &[],
            "QmdFyxZXsFiP4csgfM5uPu99AvFiKH62CSPDw5TP92nr7w",
        ),
        (b"", &[], "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"),
    ];
    for (i, (data, flags, want)) in cases.iter().enumerate() {
        let f = env.write(&format!("in{i}"), data);
        let mut args = vec!["add", "-Q"];
        args.extend_from_slice(flags);
        args.push(s(&f));
        assert_eq!(
            env.ok(&args).trim(),
            *want,
            "add {flags:?} of {:?}",
            String::from_utf8_lossy(data)
        );
    }
}

#[test]
fn add_folder_matches_kubo_and_prints_kubo_lines() {
    let env = Env::new();
    env.write("planets/mars.txt", b"Hello Mars!\n");
    env.write("planets/venus.txt", b"Hello Venus!\n");
    env.write("planets/.hidden", b"secret\n");
    let out = env.ok(&["add", "-r", "planets"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].ends_with(" planets/mars.txt"), "{out}");
    assert!(lines[1].ends_with(" planets/venus.txt"), "{out}");
    assert_eq!(
        lines[2],
        "added QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY planets"
    );
    assert_eq!(
        env.ok(&["add", "-r", "-Q", "--raw-leaves", "planets"])
            .trim(),
        "QmfWfQfKCY5Ukv9peBbxM5vqWM9BzmqUSXvdCgjT2wsiBT"
    );
    assert_eq!(
        env.ok(&["add", "-r", "-Q", "--cid-version=1", "planets"])
            .trim(),
        "bafybeih7e5dmkyk25up5vxug4q3hrg2fxbzf23dfrac2fns5h7z4aa7ioi"
    );
    // hidden files change the folder only with --hidden
    assert_ne!(
        env.ok(&["add", "-r", "-Q", "--hidden", "planets"]).trim(),
        "QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY"
    );
    std::fs::create_dir_all(env.path("empty")).unwrap();
    assert_eq!(
        env.ok(&["add", "-r", "-Q", "empty"]).trim(),
        "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn"
    );
}

#[test]
fn stdin_wrap_only_hash_and_quiet_modes() {
    let env = Env::new();
    let out = env.ok_stdin(&["add"], b"hello world\n");
    assert_eq!(
        out.trim(),
        "added QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"
    );
    let f = env.write("hello.txt", b"hello world\n");
    let out = env.ok(&["add", "-w", s(&f)]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "added QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o hello.txt"
    );
    let wrapper = lines[1].split_whitespace().nth(1).unwrap().to_string();
    assert_eq!(
        env.ok(&["cat", &format!("/ipfs/{wrapper}/hello.txt")]),
        "hello world\n"
    );

    // only-hash writes nothing
    let g = env.write("other.txt", b"not stored\n");
    let cid = env.ok(&["add", "-n", "-Q", s(&g)]).trim().to_string();
    let err = env.fails(&["cat", &cid]);
    assert!(err.contains("not found"), "{err}");
    assert_eq!(
        env.ok(&["add", "-q", s(&f)]).trim(),
        "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"
    );
}

#[test]
fn cat_get_ls_read_back_what_add_wrote() {
    let env = Env::new();
    let big = random_bytes(7, 262144 * 3 + 1000);
    env.write("tree/big.bin", &big);
    env.write("tree/sub dir/ünïcode name.txt", b"unicode\n");
    env.write("tree/empty.txt", b"");
    std::fs::create_dir_all(env.path("tree/emptydir")).unwrap();
    let root = last_cid(&env.ok(&["add", "-r", "tree"]));

    let cat = env
        .cmd(&["cat", &format!("{root}/big.bin")])
        .output()
        .unwrap();
    assert!(cat.status.success());
    assert_eq!(cat.stdout, big);
    let part = env
        .cmd(&[
            "cat",
            "-o",
            "262100",
            "-l",
            "100",
            &format!("{root}/big.bin"),
        ])
        .output()
        .unwrap();
    assert_eq!(part.stdout, &big[262100..262200]);
    assert_eq!(
        env.ok(&["cat", &format!("/ipfs/{root}/sub dir/ünïcode name.txt")]),
        "unicode\n"
    );

    let ls = env.ok(&["ls", &root]);
    assert!(
        ls.contains(" big.bin\n") && ls.contains(" emptydir/\n") && ls.contains(" sub dir/\n"),
        "{ls}"
    );

    let out = env.path("out");
    env.ok(&["get", &root, "-o", s(&out)]);
    assert_eq!(std::fs::read(out.join("big.bin")).unwrap(), big);
    assert_eq!(
        std::fs::read(out.join("sub dir/ünïcode name.txt")).unwrap(),
        b"unicode\n"
    );
    assert!(out.join("emptydir").is_dir());
    assert_eq!(std::fs::read(out.join("empty.txt")).unwrap(), b"");
    // the round trip gives the same root
    assert_eq!(env.ok(&["add", "-r", "-Q", s(&out)]).trim(), root);

    let tar = env.path("out.tar");
    env.ok(&["get", "-a", &root, "-o", s(&tar)]);
    let list = std::process::Command::new("tar")
        .arg("tf")
        .arg(&tar)
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(list.contains("big.bin"), "{list}");
}

#[test]
fn pins_gc_and_repo_commands() {
    let env = Env::new();
    let a = env.write("a.txt", b"kept\n");
    let b = env.write("b.txt", b"collected\n");
    let ca = env.ok(&["add", "-Q", s(&a)]).trim().to_string();
    let cb = env
        .ok(&["add", "-Q", "--pin=false", s(&b)])
        .trim()
        .to_string();
    let ls = env.ok(&["pin", "ls", "--type=recursive"]);
    assert!(
        ls.contains(&format!("{ca} recursive")) && !ls.contains(&cb),
        "{ls}"
    );
    let gc = env.ok(&["repo", "gc"]);
    assert!(
        gc.lines().count() >= 1 && gc.starts_with("removed "),
        "{gc}"
    );
    assert_eq!(env.ok(&["cat", &ca]), "kept\n");
    env.fails(&["cat", &cb]);

    env.ok(&["pin", "rm", &ca]);
    assert!(env.fails(&["pin", "rm", &ca]).contains("not pinned"));
    env.ok(&["repo", "gc"]);
    env.fails(&["cat", &ca]);

    let stat = env.ok(&["repo", "stat"]);
    assert!(stat.contains("NumObjects: 0"), "{stat}");
    assert_eq!(
        env.ok(&["repo", "verify"]).trim(),
        "verified repo integrity"
    );

    // direct, update and indirect
    env.write("d/x.txt", b"x\n");
    let root = last_cid(&env.ok(&["add", "-r", "d"]));
    let x = env
        .ok(&["add", "-n", "-Q", s(&env.path("d/x.txt"))])
        .trim()
        .to_string();
    let st = env.ok(&["pin", "ls", &x]);
    assert_eq!(st.trim(), format!("{x} indirect through {root}"));
    env.write("e/y.txt", b"y\n");
    let root2 = last_cid(&env.ok(&["add", "-r", "--pin=false", "e"]));
    assert_eq!(
        env.ok(&["pin", "update", &root, &root2]).trim(),
        format!("updated {root} to {root2}")
    );
    assert!(env
        .ok(&["pin", "ls", "-q", "--type=recursive"])
        .contains(&root2));
    assert_eq!(env.ok(&["pin", "verify"]), "");
}

#[test]
fn block_commands() {
    let env = Env::new();
    let out = env.ok_stdin(&["block", "put"], b"hello world");
    assert_eq!(
        out.trim(),
        "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
    );
    let stat = env.ok(&["block", "stat", out.trim()]);
    assert_eq!(stat, format!("Key: {}\nSize: 11\n", out.trim()));
    assert_eq!(env.ok(&["block", "get", out.trim()]), "hello world");
    assert_eq!(
        env.ok(&["block", "rm", out.trim()]).trim(),
        format!("removed {}", out.trim())
    );
    env.fails(&["block", "get", out.trim()]);
    // blocks claiming a codec must decode
    let f = env.write("junk", b"\xff\xff not protobuf");
    env.fails(&["block", "put", "--cid-codec=dag-pb", s(&f)]);
}

#[test]
fn bad_input_gives_one_line_errors() {
    let env = Env::new();
    assert!(env
        .fails(&["add", "does-not-exist"])
        .contains("does-not-exist"));
    std::fs::create_dir_all(env.path("adir")).unwrap();
    assert!(env.fails(&["add", "adir"]).contains("-r"));
    assert!(env.fails(&["cat", "notacid"]).contains("notacid"));
    let f = env.write("h.txt", b"hello world\n");
    let c = env.ok(&["add", "-Q", "-w", s(&f)]).trim().to_string();
    assert!(env
        .fails(&["cat", &format!("{c}/nope")])
        .contains("no link named"));
    assert!(env.fails(&["cat", &c]).contains("directory"));
    assert!(env.fails(&["add", "--chunker=size-0", s(&f)]).len() > 7);
    assert!(env.fails(&["add", "--hash=md5", s(&f)]).contains("md5"));
    assert!(env
        .fails(&["block", "stat", "QmNotValid"])
        .contains("QmNotValid"));
    // no repo
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_ferrite"))
        .args(["repo", "stat"])
        .env("FERRITE_PATH", env.path("nowhere"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stderr).contains("ferrite init"));
    // init twice
    assert!(env.fails(&["init"]).contains("already exists"));
}

#[test]
fn second_process_gets_a_clear_lock_error() {
    use std::io::Write;
    let env = Env::new();
    // An add reading stdin holds the repo until its input ends.
    let mut child = env
        .cmd(&["add", "-Q"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"held\n").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let err = env.fails(&["repo", "stat"]);
    assert!(err.contains("lock") && err.lines().count() == 1, "{err}");
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    // and once it is done the repo is free again
    env.ok(&["repo", "stat"]);
}
