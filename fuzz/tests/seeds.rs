//! Runs every fuzz target over its committed seeds and regressions on
//! stable Rust, so a regression shows up in plain `cargo test`:
//! `cargo test --manifest-path fuzz/Cargo.toml`.

use std::path::Path;

#[test]
fn seeds_and_regressions_pass() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut total = 0;
    for (name, f) in ferrite_fuzz::TARGETS {
        let seeds = ferrite_fuzz::input_files(&root.join("seeds").join(name));
        assert!(!seeds.is_empty(), "target {name} has no seeds");
        let regressions = ferrite_fuzz::input_files(&root.join("regressions").join(name));
        for file in seeds.iter().chain(&regressions) {
            let data = std::fs::read(file).unwrap();
            let run = std::panic::catch_unwind(|| f(&data));
            assert!(run.is_ok(), "{name}: {} fails", file.display());
            total += 1;
        }
    }
    eprintln!("{total} inputs passed");
}

#[test]
fn every_target_has_a_binary() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (name, _) in ferrite_fuzz::TARGETS {
        let bin = root.join("fuzz_targets").join(format!("{name}.rs"));
        assert!(bin.is_file(), "{} is missing", bin.display());
    }
}
