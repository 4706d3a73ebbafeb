//! Helpers for CLI tests: a fresh repo per test and a runner for the binary.
#![allow(dead_code, clippy::new_without_default)]

pub(crate) mod daemon;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A temporary repo with the `test` profile.
pub(crate) struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    /// Creates and initialises a repo with `init --profile test`.
    pub(crate) fn new() -> Self {
        let env = Env {
            dir: tempfile::tempdir().unwrap(),
        };
        env.ok(&["init", "--profile", "test"]);
        env
    }

    /// The repo path.
    pub(crate) fn repo(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    /// A scratch path inside the test's folder.
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A command for the ferrite binary against this repo.
    pub(crate) fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ferrite"));
        c.args(args)
            .env("FERRITE_PATH", self.repo())
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        c
    }

    /// Runs and returns the output, whatever the exit status.
    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Runs, asserts success, returns stdout.
    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "ferrite {args:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// Runs, asserts failure with a one-line `Error: …` and no panic; returns stderr.
    pub(crate) fn fails(&self, args: &[&str]) -> String {
        let o = self.run(args);
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert!(!o.status.success(), "ferrite {args:?} should fail");
        assert!(
            !err.contains("panicked"),
            "ferrite {args:?} panicked: {err}"
        );
        assert!(err.starts_with("Error: "), "ferrite {args:?}: {err}");
        err
    }

    /// Runs with `input` on stdin, asserts success, returns stdout.
    pub(crate) fn ok_stdin(&self, args: &[&str], input: &[u8]) -> String {
        use std::io::Write;
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        let o = child.wait_with_output().unwrap();
        assert!(
            o.status.success(),
            "ferrite {args:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// Writes a file under the test folder.
    pub(crate) fn write(&self, rel: &str, data: &[u8]) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, data).unwrap();
        p
    }
}

/// Deterministic pseudo-random bytes (xorshift64*), so tests are repeatable.
pub(crate) fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        out.extend_from_slice(&s.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// The last whitespace-separated word of the last line (the root CID of `add`).
pub(crate) fn last_cid(out: &str) -> String {
    out.lines()
        .last()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string()
}

/// Path as &str.
pub(crate) fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}
